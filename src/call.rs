//! One call's orchestration: the only place SIP, media, the IVR and the
//! store meet (ARCHITECTURE §2).
//!
//! The SIP endpoint reports a new INVITE; [`run_calls`] starts one task per
//! call. The task picks the flow by the dialled number, negotiates SDP,
//! binds an RTP port, opens the inquiry and answers; then it feeds the IVR
//! interpreter with keys (RFC 4733, in-band, SIP INFO), prompt ends and
//! timers, and carries out what the interpreter asks: play, stop, route,
//! hang up. Every change of the inquiry is written when it happens, so a
//! crash loses nothing but the last moments of an unfinished call.

mod announce;
mod caller_id;
mod feature_code;
mod overload;
mod ringing;
mod routed;

pub use overload::{OverloadDetector, watch_pacing};

use crate::acd::{AgentRequest, CallId};
use crate::config::DepartmentConfig;
use crate::ivr::Script;
use crate::ivr::interpreter::{Input, Outcome, Output, RouteTarget, Session, TimerId};
use crate::ivr::registry::ScriptRegistry;
use crate::media::bridge::Bridge;
use crate::media::dtmf::parse_info_body;
use crate::media::ports::RtpPortPool;
use crate::media::prompts::PromptCache;
use crate::media::recorder::Recording;
use crate::media::sdp::{LocalMedia, SessionDescription, build_answer};
use crate::media::session::{MediaConfig, MediaEvent, MediaSession, PlaybackId, SharedPacing};
use crate::phone;
use crate::routing::{CallOrder, LiveCall, LiveCalls, Routing};
use crate::sip::dialog::CallHandle;
use crate::sip::endpoint::{CallEvent, IncomingCall, Peer};
use crate::sip::transport::{CallSignal, SipShell, unix_ms};
use crate::store::ids::new_id;
use crate::store::{
    Channel, InquiryStatus, InquiryUpdate, InquiryWrite, InquiryWriter, NewInquiry, Store,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Finds the flow for a dialled number; the IVR registry implements it
/// (with hot reload), tests may use a fixed map.
pub trait FlowLookup: Send + Sync {
    fn lookup(&self, number: &str) -> Option<Arc<Script>>;
}

impl FlowLookup for ScriptRegistry {
    fn lookup(&self, number: &str) -> Option<Arc<Script>> {
        ScriptRegistry::lookup(self, number)
    }
}

/// Everything a call task needs, shared by all calls.
pub struct CallContext {
    pub shell: Arc<SipShell>,
    pub flows: Arc<dyn FlowLookup>,
    pub prompts: Arc<PromptCache>,
    pub calendar: crate::ivr::calendar::LiveCalendar,
    pub ports: Arc<RtpPortPool>,
    /// Address RTP sockets bind to (the SIP listen IP, often 0.0.0.0).
    pub media_bind_ip: IpAddr,
    /// The SIP listen address: its IP if specific, and its port.
    pub sip_listen: SocketAddr,
    /// An address to advertise instead of the one routing picks (public IP
    /// behind NAT), from `sip.domain` when it is an IP.
    pub advertised_ip: Option<IpAddr>,
    pub inquiries: InquiryWriter,
    /// A call with no RTP for this long is dead and is hung up.
    pub inactivity: Duration,
    /// Every call's media reports its tick lateness here.
    pub pacing: SharedPacing,
    /// The routing engine: queues, agents, who rings next.
    pub routing: Routing,
    /// Calls in progress, for the live view and API transfers.
    pub live: LiveCalls,
    /// Client lookups (personal managers, open inquiries) at queue entry.
    pub store: Store,
    /// Where bridged calls are recorded; `None` when recording is off.
    pub recordings: Option<PathBuf>,
    /// Base URL of the HTTP API, for the `Call-Info` screen pop.
    pub http_base: String,
    /// SIP domain of agents' addresses (`sip:login@realm` in To).
    pub realm: String,
    /// Queues a REFER or the API may transfer to, by name.
    pub queue_names: Arc<[String]>,
    /// Departments reachable by number for transfers of "other" callers.
    pub departments: Arc<[DepartmentConfig]>,
    /// Which task owns each dialog.
    pub dialogs: Dialogs,
    /// Calls offered and in progress, for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Routes each dialog's events to the task that owns it. A caller's call
/// and the agent legs it places share one task, so one map keyed by
/// dialog handle serves both; a leg is entered under the endpoint lock
/// in the same step that creates it, so no response can outrun it.
#[derive(Debug, Clone, Default)]
pub struct Dialogs(Arc<Mutex<HashMap<CallHandle, DialogEvents>>>);

/// The owning task's inbox: events tagged with the dialog they are about.
pub type DialogEvents = mpsc::UnboundedSender<(CallHandle, CallEvent)>;

impl Dialogs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallHandle, DialogEvents>> {
        // Every change is a single insert/remove: a poisoned map is intact.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, handle: CallHandle, owner: DialogEvents) {
        self.lock().insert(handle, owner);
    }

    fn deliver(&self, handle: CallHandle, event: CallEvent) {
        let ended = event == CallEvent::Ended;
        let mut map = self.lock();
        if let Some(owner) = map.get(&handle) {
            // The owner may have finished already: nobody left to tell.
            let _ = owner.send((handle, event));
        }
        if ended {
            map.remove(&handle);
        }
    }
}

/// Starts a task per incoming call and hands every dialog event to the
/// task that owns the dialog. On stop, hangs up every caller and returns
/// once their calls have ended.
pub async fn run_calls(
    ctx: Arc<CallContext>,
    mut signals: mpsc::UnboundedReceiver<CallSignal>,
    mut stop: watch::Receiver<bool>,
) {
    let mut callers: HashSet<CallHandle> = HashSet::new();
    let mut stopping = false;
    loop {
        let signal = tokio::select! {
            signal = signals.recv() => signal,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                // Hang up every call: its inquiry is finalised by its task,
                // which also ends its agent legs.
                for &handle in &callers {
                    ctx.shell.with_endpoint(|e| e.hangup(handle, Instant::now()));
                }
                if callers.is_empty() {
                    return;
                }
                continue;
            }
        };
        let Some(signal) = signal else { return };
        match signal {
            CallSignal::Incoming(incoming) => {
                if stopping {
                    let handle = incoming.handle;
                    ctx.shell.with_endpoint(|e| {
                        e.reject(handle, 503, "Service Unavailable", Instant::now())
                    });
                    continue;
                }
                let (tx, rx) = mpsc::unbounded_channel();
                ctx.dialogs.insert(incoming.handle, tx.clone());
                callers.insert(incoming.handle);
                ctx.metrics.call_started();
                match AgentRequest::from_feature_code(&incoming.dialled) {
                    Some(request) => {
                        tokio::spawn(feature_code::run(ctx.clone(), incoming, request, rx))
                    }
                    None => tokio::spawn(run_call(ctx.clone(), incoming, tx, rx)),
                };
            }
            CallSignal::Event(handle, event) => {
                let caller_ended = event == CallEvent::Ended && callers.remove(&handle);
                ctx.dialogs.deliver(handle, event);
                if caller_ended {
                    ctx.metrics.call_ended();
                    if stopping && callers.is_empty() {
                        return;
                    }
                }
            }
        }
    }
}

/// Our IP as the caller reaches it: the listen IP when specific, else the
/// address the kernel routes toward the caller from (no packet is sent).
fn local_ip_toward(peer: IpAddr, listen: IpAddr) -> IpAddr {
    if !listen.is_unspecified() {
        return listen;
    }
    let unspecified: IpAddr = if peer.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u16; 8])
    };
    std::net::UdpSocket::bind((unspecified, 0))
        .and_then(|s| {
            s.connect((peer, 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(peer)
}

/// Where a call is, seen from the call layer.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    /// The IVR is talking to the caller.
    Ivr,
    /// In a queue: hold music and announcements while routing finds an
    /// agent (whose phones may be ringing, see `Call::agent`).
    Waiting,
    /// Caller and agent are bridged.
    Talking,
    /// Hanging up after the last word.
    Ending,
}

/// A callback request's progress: the caller pressed `1` while waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callback {
    None,
    /// Confirmed to the caller, who is hung up after the confirmation;
    /// routing keeps the place in the queue.
    Requested,
    /// An agent took it; the client's phone is being called.
    Dialling,
    /// The client answered and talks to the agent.
    Connected,
    /// The client did not answer; the request stays for a manager.
    Failed,
}

/// A negotiated call with its media running, before the IVR starts.
struct Accepted {
    media: MediaSession,
    media_events: mpsc::UnboundedReceiver<MediaEvent>,
    /// For a later session on the caller's side (a callback's new leg).
    media_sender: mpsc::UnboundedSender<MediaEvent>,
    offer: SessionDescription,
    local_media: LocalMedia,
    local_sip: SocketAddr,
}

/// Negotiates the caller's offer, binds an RTP port and answers 200 OK.
/// On failure the INVITE has been rejected with the status that fits.
async fn accept(ctx: &CallContext, incoming: &IncomingCall) -> Option<Accepted> {
    let handle = incoming.handle;
    let reject = |status: u16, reason: &'static str| {
        ctx.shell
            .with_endpoint(|e| e.reject(handle, status, reason, Instant::now()));
    };
    let caller_masked = crate::mask::mask_phone(&incoming.caller);
    // We need the caller's offer: an INVITE without SDP (offer in the ACK)
    // is rare for phones and not supported.
    let Some(offer_text) = incoming
        .offer
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
    else {
        reject(488, "Not Acceptable Here");
        return None;
    };
    let offer = match SessionDescription::parse(offer_text) {
        Ok(o) => o,
        Err(e) => {
            tracing::info!(error = %e, caller = %caller_masked, "bad SDP offer");
            reject(e.sip_status(), "Bad SDP");
            return None;
        }
    };
    let answer = match offer.negotiate() {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(error = %e, caller = %caller_masked, "SDP negotiation failed");
            reject(e.sip_status(), "Not Acceptable Here");
            return None;
        }
    };
    let local_ip = ctx.local_ip_toward(incoming.peer.addr.ip());
    let (media_tx, media_events) = mpsc::unbounded_channel();
    let media_config = MediaConfig {
        inactivity_timeout: Some(ctx.inactivity),
        pacing: Some(ctx.pacing.clone()),
        ..MediaConfig::from_answer(&answer)
    };
    let media_sender = media_tx.clone();
    let media =
        match MediaSession::bind(&ctx.ports, ctx.media_bind_ip, media_config, media_tx).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "no RTP port for a call: 503");
                reject(503, "Service Unavailable");
                return None;
            }
        };
    let local_media = new_local_media(local_ip, &media);
    let body = build_answer(&offer, &answer, &local_media);
    let local_sip = SocketAddr::new(local_ip, ctx.sip_listen.port());
    ctx.shell
        .with_endpoint(|e| e.answer(handle, &body, local_sip, Instant::now()));
    Some(Accepted {
        media,
        media_events,
        media_sender,
        offer,
        local_media,
        local_sip,
    })
}

/// What our SDP says about `media`, reached at `ip`: a fresh session id,
/// version 1 (re-offers bump it).
fn new_local_media(ip: IpAddr, media: &MediaSession) -> LocalMedia {
    LocalMedia {
        addr: SocketAddr::new(ip, media.local_addr().port()),
        session_id: rand::random::<u32>() as u64,
        session_version: 1,
    }
}

impl CallContext {
    /// Our IP as a peer at `peer` reaches us.
    fn local_ip_toward(&self, peer: IpAddr) -> IpAddr {
        self.advertised_ip
            .unwrap_or_else(|| local_ip_toward(peer, self.sip_listen.ip()))
    }
}

struct Call {
    ctx: Arc<CallContext>,
    handle: CallHandle,
    /// The caller's call as routing knows it.
    call_id: CallId,
    inquiry_id: String,
    /// Normalised number (or the From user when it is not a number).
    caller: String,
    ivr: Session,
    media: MediaSession,
    offer_session: SessionDescription,
    local_media: LocalMedia,
    /// The playback the IVR waits for (others finishing are ignored).
    current_playback: Option<PlaybackId>,
    next_playback: PlaybackId,
    timers: BTreeMap<TimerId, Instant>,
    stage: Stage,
    /// Prompts queued while waiting; hold music resumes after the last.
    hold_prompts: Vec<PlaybackId>,
    started: Instant,
    local_sip: SocketAddr,
    /// Routing's orders for this call arrive here.
    orders: mpsc::UnboundedSender<CallOrder>,
    /// Agent-leg media events (a dead agent stream) arrive here.
    agent_media_events: mpsc::UnboundedSender<MediaEvent>,
    /// The agent being offered the call, or talking.
    agent: Option<routed::AgentSide>,
    bridge: Option<Bridge>,
    /// Recordings of earlier legs (after a transfer), finalised at the end.
    recordings: Vec<Recording>,
    queue: Option<String>,
    client_id: Option<String>,
    /// The IVR's routing request, acted on by the task loop (store lookups
    /// need an `.await`, which the IVR's output handling does not have).
    pending_route: Option<RouteTarget>,
    waiting_since: Option<Instant>,
    waited: Duration,
    talking_since: Option<Instant>,
    talked: Duration,
    answered_by_agent_ms: Option<i64>,
    transfers: i64,
    /// The last transfer went to a department number (outside the
    /// contact centre's own queues).
    to_department: bool,
    callback: Callback,
    caller_gone: bool,
    /// Routing has been told the caller left (sent once).
    left_routing: bool,
    /// This task's inbox, for the agent legs it places.
    dialog_owner: DialogEvents,
    /// Where the caller's call came from and who they are, to call them
    /// back (a callback request) at the same address.
    caller_peer: Peer,
    caller_user: String,
    dialled: String,
    caller_media_events: mpsc::UnboundedSender<MediaEvent>,
}

async fn run_call(
    ctx: Arc<CallContext>,
    incoming: IncomingCall,
    dialog_owner: DialogEvents,
    mut events: mpsc::UnboundedReceiver<(CallHandle, CallEvent)>,
) {
    let handle = incoming.handle;
    let caller_masked = crate::mask::mask_phone(&incoming.caller);
    let Some(script) = ctx.flows.lookup(&incoming.dialled) else {
        tracing::info!(dialled = %incoming.dialled, caller = %caller_masked, "no flow for this number: 404");
        ctx.shell
            .with_endpoint(|e| e.reject(handle, 404, "Not Found", Instant::now()));
        return;
    };
    let Some(accepted) = accept(&ctx, &incoming).await else {
        return;
    };
    let Accepted {
        media,
        media_events: mut media_rx,
        media_sender,
        offer,
        local_media,
        local_sip,
    } = accepted;

    // The inquiry exists from the first moment the call is answered.
    let now_ms = unix_ms();
    let inquiry_id = new_id(now_ms, &mut rand::thread_rng());
    let from = phone::normalize(&incoming.caller).unwrap_or_else(|| incoming.caller.clone());
    ctx.inquiries.send(InquiryWrite::Create {
        id: inquiry_id.clone(),
        inquiry: NewInquiry {
            channel: Channel::Phone,
            from: from.clone(),
            client_id: None,
            status: InquiryStatus::InIvr,
            call_id: Some(incoming.call_id.clone()),
            language: Some(script.flow.language.clone()),
            created_at_ms: now_ms,
        },
        phone_for_client: phone::normalize(&incoming.caller),
    });
    tracing::info!(call = handle, inquiry = %inquiry_id, caller = %caller_masked, flow = %script.flow.name, "call answered");

    let call_id = CallId(handle);
    let (control_tx, mut control_rx) = mpsc::unbounded_channel();
    let mut live = LiveCall::new(&from, now_ms, control_tx);
    live.inquiry_id = Some(inquiry_id.clone());
    ctx.live.insert(call_id, live);
    let (orders_tx, mut orders_rx) = mpsc::unbounded_channel();
    let (agent_media_tx, mut agent_media_rx) = mpsc::unbounded_channel();

    let calendar = ctx.calendar.get();
    let calendar_now = calendar.local_time(now_ms / 1000);
    let ivr = Session::new(script, calendar_now, &calendar);
    let mut call = Call {
        ctx: ctx.clone(),
        handle,
        call_id,
        inquiry_id,
        caller: from,
        ivr,
        media,
        offer_session: offer,
        local_media,
        current_playback: None,
        next_playback: 0,
        timers: BTreeMap::new(),
        stage: Stage::Ivr,
        hold_prompts: Vec::new(),
        started: Instant::now(),
        local_sip,
        orders: orders_tx,
        agent_media_events: agent_media_tx,
        agent: None,
        bridge: None,
        recordings: Vec::new(),
        queue: None,
        client_id: None,
        pending_route: None,
        waiting_since: None,
        waited: Duration::ZERO,
        talking_since: None,
        talked: Duration::ZERO,
        answered_by_agent_ms: None,
        transfers: 0,
        to_department: false,
        callback: Callback::None,
        caller_gone: false,
        left_routing: false,
        dialog_owner,
        caller_peer: incoming.peer,
        caller_user: incoming.caller.clone(),
        dialled: incoming.dialled.clone(),
        caller_media_events: media_sender,
    };
    call.feed(Input::Start);

    loop {
        if let Some(target) = call.pending_route.take() {
            call.enter_queue(target).await;
        }
        let deadline = call.timers.values().min().copied();
        tokio::select! {
            event = events.recv() => match event {
                None => break,
                Some((h, event)) if h == call.handle => {
                    if call.caller_event(event) {
                        break;
                    }
                }
                Some((leg, event)) => call.leg_event(leg, event).await,
            },
            Some(order) = orders_rx.recv() => call.order(order).await,
            Some(control) = control_rx.recv() => call.control(control).await,
            media_event = media_rx.recv() => match media_event {
                Some(MediaEvent::Digit(key)) => call.key(key),
                Some(MediaEvent::PlaybackFinished(id)) => call.playback_finished(id),
                Some(MediaEvent::Inactive) if !call.caller_gone => {
                    tracing::info!(call = handle, "no RTP from the caller: hanging up");
                    call.caller_left();
                    call.hang_up();
                }
                Some(MediaEvent::Inactive) | None => {}
            },
            Some(agent_event) = agent_media_rx.recv() => {
                if agent_event == MediaEvent::Inactive {
                    call.agent_media_dead();
                }
            }
            _ = sleep_until_opt(deadline) => call.fire_timers(),
        }
    }
    if !call.caller_gone && call.ivr.outcome().is_none() {
        call.caller_left();
    }
    call.finish().await;
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Call {
    fn feed(&mut self, input: Input) {
        let outputs = self.ivr.handle(input, Instant::now());
        self.apply(outputs);
    }

    fn key(&mut self, key: char) {
        match self.stage {
            Stage::Ivr => self.feed(Input::Digit(key)),
            Stage::Waiting => self.waiting_key(key),
            // Talking: the bridge passes keys to the agent by itself.
            Stage::Talking | Stage::Ending => {}
        }
    }

    fn playback_finished(&mut self, id: PlaybackId) {
        if let Some(at) = self.hold_prompts.iter().position(|&p| p == id) {
            self.hold_prompts.drain(..=at);
            if self.hold_prompts.is_empty() {
                self.after_hold_prompts();
            }
            return;
        }
        if self.current_playback == Some(id) {
            self.current_playback = None;
            self.feed(Input::PromptFinished);
        }
    }

    /// Plays `ids` to a waiting caller, back to back, before the hold music
    /// resumes. A missing prompt is skipped (logged), never a stall.
    fn play_hold_prompts(&mut self, ids: &[&str]) {
        let language = self.ivr.language().to_string();
        for id in ids {
            match self.ctx.prompts.get(&language, id) {
                Ok(p) => {
                    let playback = self.playback_id();
                    self.hold_prompts.push(playback);
                    self.media.play_prompt(playback, &p);
                }
                Err(e) => tracing::warn!(error = %e, prompt = %id, "prompt unavailable"),
            }
        }
        if self.hold_prompts.is_empty() {
            self.after_hold_prompts();
        }
    }

    /// The announcements are over: music while waiting, or the end of a
    /// call whose callback request was just confirmed.
    fn after_hold_prompts(&mut self) {
        if self.callback == Callback::Requested {
            self.hang_up();
            return;
        }
        if self.stage != Stage::Waiting {
            return;
        }
        match self.ctx.prompts.moh() {
            Ok(moh) => {
                let id = self.playback_id();
                self.media.play_loop_prompt(id, &moh);
            }
            Err(e) => {
                tracing::warn!(error = %e, "no hold music: silence");
                self.media.silence();
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<TimerId> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.timers.remove(&id);
            self.feed(Input::TimerFired(id));
        }
    }

    fn playback_id(&mut self) -> PlaybackId {
        self.next_playback += 1;
        self.next_playback
    }

    fn apply(&mut self, outputs: Vec<Output>) {
        // A missing prompt must not stall the caller: treat it as played.
        let mut finished_now = false;
        for output in outputs {
            match output {
                Output::Play { prompt, language } => match self.ctx.prompts.get(&language, &prompt)
                {
                    Ok(p) => {
                        let id = self.playback_id();
                        self.current_playback = Some(id);
                        self.media.play_prompt(id, &p);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, prompt = %prompt, language = %language, "prompt unavailable");
                        finished_now = true;
                    }
                },
                Output::StopPlayback => {
                    self.current_playback = None;
                    self.media.stop();
                }
                Output::StartTimer { id, after } => {
                    self.timers.insert(id, Instant::now() + after);
                }
                Output::CancelTimer(id) => {
                    self.timers.remove(&id);
                }
                Output::PathChanged => self.write_path(),
                Output::Route(target) => self.route(target),
                Output::Callback { category, topic } => {
                    self.update(InquiryUpdate {
                        status: Some(InquiryStatus::CallbackRequested),
                        category,
                        topic,
                        ..InquiryUpdate::default()
                    });
                }
                Output::Hangup { category, topic } => {
                    self.update(InquiryUpdate {
                        category,
                        topic,
                        ..InquiryUpdate::default()
                    });
                    self.hang_up();
                }
            }
        }
        if finished_now {
            self.current_playback = None;
            self.feed(Input::PromptFinished);
        }
    }

    fn write_path(&self) {
        self.update(InquiryUpdate {
            ivr_path: Some(self.ivr.ivr_path().to_string()),
            category: self.ivr.category().map(str::to_string),
            topic: self.ivr.topic().map(str::to_string),
            language: Some(self.ivr.language().to_string()),
            ..InquiryUpdate::default()
        });
    }

    /// The IVR handed the call to routing: the task loop enters the queue
    /// (it needs the store), the caller hears "please hold" meanwhile.
    fn route(&mut self, target: RouteTarget) {
        self.current_playback = None;
        self.timers.clear();
        self.stage = Stage::Waiting;
        self.waiting_since = Some(Instant::now());
        self.pending_route = Some(target);
        self.play_hold_prompts(&["please_hold"]);
    }

    fn reoffer(&mut self, offer: Option<bytes::Bytes>) {
        let parsed = offer
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(SessionDescription::parse);
        let handle = self.handle;
        let negotiated = match parsed {
            // A re-INVITE without SDP asks for our offer again: repeat ours.
            None => Ok(None),
            Some(Ok(sdp)) => sdp.negotiate().map(|a| Some((sdp, a))),
            Some(Err(e)) => Err(e),
        };
        match negotiated {
            Ok(Some((sdp, answer))) => {
                self.media.update(MediaConfig {
                    inactivity_timeout: (!answer.remote_on_hold()).then_some(self.ctx.inactivity),
                    pacing: Some(self.ctx.pacing.clone()),
                    ..MediaConfig::from_answer(&answer)
                });
                self.local_media.session_version += 1;
                let body = build_answer(&sdp, &answer, &self.local_media);
                self.offer_session = sdp;
                let local = self.local_sip;
                self.ctx
                    .shell
                    .with_endpoint(|e| e.answer(handle, &body, local, Instant::now()));
            }
            Ok(None) => {
                let body = match self.offer_session.negotiate() {
                    Ok(a) => build_answer(&self.offer_session, &a, &self.local_media),
                    Err(_) => String::new(),
                };
                let local = self.local_sip;
                self.ctx
                    .shell
                    .with_endpoint(|e| e.answer(handle, &body, local, Instant::now()));
            }
            Err(e) => {
                let status = e.sip_status();
                self.ctx.shell.with_endpoint(|e| {
                    e.reject(handle, status, "Not Acceptable Here", Instant::now())
                });
            }
        }
    }

    /// The caller is gone (BYE, CANCEL, dead media): the IVR records where.
    fn caller_left(&mut self) {
        self.caller_gone = true;
        if self.ivr.outcome().is_none() {
            let outputs = self.ivr.handle(Input::Hangup, Instant::now());
            // Only bookkeeping outputs matter now; nothing is played.
            for output in outputs {
                if output == Output::PathChanged {
                    self.write_path();
                }
            }
        }
        self.timers.clear();
        self.leave_routing();
    }

    fn hang_up(&mut self) {
        self.stage_end_of_talk();
        self.stage = Stage::Ending;
        let handle = self.handle;
        self.ctx
            .shell
            .with_endpoint(|e| e.hangup(handle, Instant::now()));
    }

    /// An event of the caller's own dialog; `true` when the call is over.
    fn caller_event(&mut self, event: CallEvent) -> bool {
        match event {
            CallEvent::Ended => {
                if self.callback == Callback::Requested {
                    // Confirmed and hung up: the task stays to call back,
                    // still in line.
                    self.caller_gone = true;
                    self.stage = Stage::Waiting;
                    self.leave_routing();
                    return false;
                }
                return true;
            }
            CallEvent::Answered { answer } if self.callback == Callback::Dialling => {
                self.client_answered(&answer);
            }
            CallEvent::Rejected { .. } if self.callback == Callback::Dialling => {
                self.callback_failed();
            }
            CallEvent::HungUp | CallEvent::Cancelled | CallEvent::AckTimeout => {
                self.caller_left();
            }
            CallEvent::Info { content_type, body } => {
                if let Some(key) = parse_info_body(&content_type, &body) {
                    if self.stage == Stage::Talking {
                        // SIP INFO keys are not in the RTP the bridge relays.
                        if let Some(agent) = &self.agent {
                            agent.media.send_dtmf(key);
                        }
                    } else {
                        self.key(key);
                    }
                }
            }
            CallEvent::Reoffer { offer } => self.reoffer(offer),
            CallEvent::Confirmed
            | CallEvent::Progress { .. }
            | CallEvent::Answered { .. }
            | CallEvent::Rejected { .. } => {}
            CallEvent::Refer { .. } => {
                // A caller may not transfer the contact centre's call.
                let handle = self.handle;
                self.ctx
                    .shell
                    .with_endpoint(|e| e.refer_outcome(handle, 603, Instant::now()));
            }
        }
        false
    }

    fn update(&self, update: InquiryUpdate) {
        self.ctx.inquiries.send(InquiryWrite::Update {
            id: self.inquiry_id.clone(),
            update,
            at_ms: unix_ms(),
        });
    }

    /// The call is over: the inquiry gets its final status and times, the
    /// agent leg and the recording are closed.
    async fn finish(mut self) {
        self.leave_routing();
        self.stage_end_of_talk();
        let ended_ms = unix_ms();
        let talked = !self.talked.is_zero() || self.answered_by_agent_ms.is_some();
        let status = if talked {
            if self.to_department {
                InquiryStatus::Transferred
            } else {
                InquiryStatus::Resolved
            }
        } else if matches!(
            self.callback,
            Callback::Requested | Callback::Dialling | Callback::Failed
        ) {
            InquiryStatus::CallbackRequested
        } else {
            match (&self.stage, self.ivr.outcome()) {
                // Waiting in a queue when the caller left: nobody answered.
                (Stage::Waiting, _) => InquiryStatus::Abandoned,
                (_, Some(Outcome::Routed(_))) => InquiryStatus::Abandoned,
                (_, Some(Outcome::Callback { .. })) => InquiryStatus::CallbackRequested,
                (_, Some(Outcome::ResolvedInIvr { .. })) => InquiryStatus::ResolvedInIvr,
                (_, Some(Outcome::CallerHungUp { .. } | Outcome::GaveUp { .. }) | None) => {
                    InquiryStatus::Abandoned
                }
            }
        };
        if let Some(since) = self.waiting_since.take() {
            self.waited += since.elapsed();
        }
        let routed = self.queue.is_some();
        self.update(InquiryUpdate {
            status: Some(status),
            ended_at_ms: Some(ended_ms),
            wait_ms: routed.then_some(self.waited.as_millis() as i64),
            talk_ms: talked.then_some(self.talked.as_millis() as i64),
            ivr_path: Some(self.ivr.ivr_path().to_string()),
            ..InquiryUpdate::default()
        });
        self.ctx.live.remove(self.call_id);
        tracing::info!(
            call = self.handle,
            inquiry = %self.inquiry_id,
            status = ?status,
            seconds = self.started.elapsed().as_secs(),
            "call ended"
        );
        self.drop_agent_side();
        let recordings = std::mem::take(&mut self.recordings);
        self.media.close().await;
        for recording in recordings {
            if let Err(e) = recording.finished().await {
                tracing::error!(error = %e, inquiry = %self.inquiry_id, "recording could not be finalised");
            }
        }
    }
}
