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
mod overload;
mod ringing;

pub use overload::{OverloadDetector, watch_pacing};

use crate::ivr::interpreter::{Input, Outcome, Output, RouteTarget, Session, TimerId};
use crate::ivr::registry::ScriptRegistry;
use crate::ivr::{Calendar, Script};
use crate::media::dtmf::parse_info_body;
use crate::media::ports::RtpPortPool;
use crate::media::prompts::PromptCache;
use crate::media::sdp::{LocalMedia, SessionDescription, build_answer};
use crate::media::session::{MediaConfig, MediaEvent, MediaSession, PlaybackId, SharedPacing};
use crate::phone;
use crate::sip::dialog::CallHandle;
use crate::sip::endpoint::{CallEvent, IncomingCall};
use crate::sip::transport::{CallSignal, SipShell, unix_ms};
use crate::store::ids::new_id;
use crate::store::{
    Channel, InquiryStatus, InquiryUpdate, InquiryWrite, InquiryWriter, NewInquiry,
};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
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
    pub calendar: Calendar,
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
}

pub async fn run_calls(
    ctx: Arc<CallContext>,
    mut signals: mpsc::UnboundedReceiver<CallSignal>,
    mut stop: watch::Receiver<bool>,
) {
    let mut calls: HashMap<CallHandle, mpsc::UnboundedSender<CallEvent>> = HashMap::new();
    let mut stopping = false;
    loop {
        let signal = tokio::select! {
            signal = signals.recv() => signal,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                // Hang up every call: its inquiry is finalised by its task.
                for &handle in calls.keys() {
                    ctx.shell.with_endpoint(|e| e.hangup(handle, Instant::now()));
                }
                if calls.is_empty() {
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
                calls.insert(incoming.handle, tx);
                tokio::spawn(run_call(ctx.clone(), incoming, rx));
            }
            CallSignal::Event(handle, event) => {
                let ended = event == CallEvent::Ended;
                if let Some(tx) = calls.get(&handle) {
                    let _ = tx.send(event);
                }
                if ended {
                    calls.remove(&handle);
                    if stopping && calls.is_empty() {
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
    /// Routed to a queue: hold message, then music (agents arrive with the
    /// routing issue).
    Waiting { queue: String, since: Instant },
    /// Hanging up after the IVR's last word.
    Ending,
}

struct Call {
    ctx: Arc<CallContext>,
    handle: CallHandle,
    inquiry_id: String,
    ivr: Session,
    media: MediaSession,
    offer_session: SessionDescription,
    local_media: LocalMedia,
    /// The playback the IVR waits for (others finishing are ignored).
    current_playback: Option<PlaybackId>,
    next_playback: PlaybackId,
    timers: BTreeMap<TimerId, Instant>,
    stage: Stage,
    hold_prompt: Option<PlaybackId>,
    started: Instant,
    answered_ms: i64,
    local_sip: SocketAddr,
}

async fn run_call(
    ctx: Arc<CallContext>,
    incoming: IncomingCall,
    mut events: mpsc::UnboundedReceiver<CallEvent>,
) {
    let handle = incoming.handle;
    let reject = |status: u16, reason: &'static str| {
        ctx.shell
            .with_endpoint(|e| e.reject(handle, status, reason, Instant::now()));
    };
    let caller_masked = crate::mask::mask_phone(&incoming.caller);
    let Some(script) = ctx.flows.lookup(&incoming.dialled) else {
        tracing::info!(dialled = %incoming.dialled, caller = %caller_masked, "no flow for this number: 404");
        return reject(404, "Not Found");
    };
    // We need the caller's offer: an INVITE without SDP (offer in the ACK)
    // is rare for phones and not supported.
    let Some(offer_text) = incoming
        .offer
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
    else {
        return reject(488, "Not Acceptable Here");
    };
    let offer = match SessionDescription::parse(offer_text) {
        Ok(o) => o,
        Err(e) => {
            tracing::info!(error = %e, caller = %caller_masked, "bad SDP offer");
            return reject(e.sip_status(), "Bad SDP");
        }
    };
    let answer = match offer.negotiate() {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(error = %e, caller = %caller_masked, "SDP negotiation failed");
            return reject(e.sip_status(), "Not Acceptable Here");
        }
    };
    let local_ip = ctx
        .advertised_ip
        .unwrap_or_else(|| local_ip_toward(incoming.peer.addr.ip(), ctx.sip_listen.ip()));
    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let media_config = MediaConfig {
        inactivity_timeout: Some(ctx.inactivity),
        pacing: Some(ctx.pacing.clone()),
        ..MediaConfig::from_answer(&answer)
    };
    let media =
        match MediaSession::bind(&ctx.ports, ctx.media_bind_ip, media_config, media_tx).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "no RTP port for a call: 503");
                return reject(503, "Service Unavailable");
            }
        };
    let local_media = LocalMedia {
        addr: SocketAddr::new(local_ip, media.local_addr().port()),
        session_id: rand::random::<u32>() as u64,
        session_version: 1,
    };
    let body = build_answer(&offer, &answer, &local_media);

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

    let local_sip = SocketAddr::new(local_ip, ctx.sip_listen.port());
    ctx.shell
        .with_endpoint(|e| e.answer(handle, &body, local_sip, Instant::now()));

    let calendar_now = ctx.calendar.local_time(now_ms / 1000);
    let ivr = Session::new(script, calendar_now, &ctx.calendar);
    let mut call = Call {
        ctx: ctx.clone(),
        handle,
        inquiry_id,
        ivr,
        media,
        offer_session: offer,
        local_media,
        current_playback: None,
        next_playback: 0,
        timers: BTreeMap::new(),
        stage: Stage::Ivr,
        hold_prompt: None,
        started: Instant::now(),
        answered_ms: now_ms,
        local_sip,
    };
    call.feed(Input::Start);

    let mut caller_gone = false;
    loop {
        let deadline = call.timers.values().min().copied();
        tokio::select! {
            event = events.recv() => match event {
                None | Some(CallEvent::Ended) => break,
                Some(CallEvent::HungUp) | Some(CallEvent::Cancelled) | Some(CallEvent::AckTimeout) => {
                    caller_gone = true;
                    call.caller_left();
                }
                Some(CallEvent::Info { content_type, body }) => {
                    if let Some(key) = parse_info_body(&content_type, &body) {
                        call.key(key);
                    }
                }
                Some(CallEvent::Reoffer { offer }) => call.reoffer(offer),
                Some(CallEvent::Confirmed) => {}
                // Agent-leg events (outgoing calls) and transfers: routing
                // (issue 5) handles them; an IVR call ignores them.
                Some(CallEvent::Progress { .. } | CallEvent::Answered { .. } | CallEvent::Rejected { .. } | CallEvent::Refer { .. }) => {}
            },
            media_event = media_rx.recv() => match media_event {
                Some(MediaEvent::Digit(key)) => call.key(key),
                Some(MediaEvent::PlaybackFinished(id)) => call.playback_finished(id),
                Some(MediaEvent::Inactive) => {
                    tracing::info!(call = handle, "no RTP from the caller: hanging up");
                    call.caller_left();
                    call.hang_up();
                }
                None => {}
            },
            _ = sleep_until_opt(deadline) => call.fire_timers(),
        }
    }
    if !caller_gone && call.ivr.outcome().is_none() {
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
            // Keys while waiting (callback, position) come with routing.
            Stage::Waiting { .. } | Stage::Ending => {}
        }
    }

    fn playback_finished(&mut self, id: PlaybackId) {
        if self.hold_prompt == Some(id) {
            // "Please hold" is over: music until an agent (or hang-up).
            self.hold_prompt = None;
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
            return;
        }
        if self.current_playback == Some(id) {
            self.current_playback = None;
            self.feed(Input::PromptFinished);
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

    /// The IVR handed the call to a queue. Until agents can answer
    /// (the routing issue), the caller hears "please hold" and music.
    fn route(&mut self, target: RouteTarget) {
        let (queue, category, topic) = match target {
            RouteTarget::Queue {
                queue,
                category,
                topic,
                ..
            } => (queue, category, topic),
            RouteTarget::Agent {
                fallback_queue,
                category,
                topic,
                ..
            } => (fallback_queue, category, topic),
        };
        tracing::info!(call = self.handle, inquiry = %self.inquiry_id, queue = %queue, "caller waiting in queue");
        self.update(InquiryUpdate {
            status: Some(InquiryStatus::Waiting),
            queue: Some(queue.clone()),
            category,
            topic,
            ivr_path: Some(self.ivr.ivr_path().to_string()),
            ..InquiryUpdate::default()
        });
        self.stage = Stage::Waiting {
            queue,
            since: Instant::now(),
        };
        self.current_playback = None;
        self.timers.clear();
        match self.ctx.prompts.get(self.ivr.language(), "please_hold") {
            Ok(p) => {
                let id = self.playback_id();
                self.hold_prompt = Some(id);
                self.media.play_prompt(id, &p);
            }
            Err(_) => {
                self.hold_prompt = Some(0);
                self.playback_finished(0);
            }
        }
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
    }

    fn hang_up(&mut self) {
        self.stage = Stage::Ending;
        let handle = self.handle;
        self.ctx
            .shell
            .with_endpoint(|e| e.hangup(handle, Instant::now()));
    }

    fn update(&self, update: InquiryUpdate) {
        self.ctx.inquiries.send(InquiryWrite::Update {
            id: self.inquiry_id.clone(),
            update,
            at_ms: unix_ms(),
        });
    }

    /// The call is over: the inquiry gets its final status and times.
    async fn finish(self) {
        let ended_ms = unix_ms();
        let status = match (&self.stage, self.ivr.outcome()) {
            // Waiting in a queue when the caller left: nobody answered.
            (Stage::Waiting { .. }, _) => InquiryStatus::Abandoned,
            (_, Some(Outcome::Routed(_))) => InquiryStatus::Abandoned,
            (_, Some(Outcome::Callback { .. })) => InquiryStatus::CallbackRequested,
            (_, Some(Outcome::ResolvedInIvr { .. })) => InquiryStatus::ResolvedInIvr,
            (_, Some(Outcome::CallerHungUp { .. } | Outcome::GaveUp { .. }) | None) => {
                InquiryStatus::Abandoned
            }
        };
        let wait_ms = match &self.stage {
            Stage::Waiting { since, .. } => Some(since.elapsed().as_millis() as i64),
            _ => None,
        };
        self.update(InquiryUpdate {
            status: Some(status),
            ended_at_ms: Some(ended_ms),
            wait_ms,
            ivr_path: Some(self.ivr.ivr_path().to_string()),
            ..InquiryUpdate::default()
        });
        tracing::info!(
            call = self.handle,
            inquiry = %self.inquiry_id,
            status = ?status,
            seconds = self.started.elapsed().as_secs(),
            answered_ms = self.answered_ms,
            "call ended"
        );
        self.media.close().await;
    }
}
