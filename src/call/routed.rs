//! The routed part of a call: from the IVR's hand-over to a queue, through
//! the agent's phones ringing, to the bridge, transfers and the end.
//!
//! Routing (the ACD engine behind [`crate::routing::Routing`]) decides who
//! rings and when; this module carries its orders out on SIP and media and
//! reports back what the phones did. The caller's dialog and the agent's
//! legs live in the same task, so every decision about one call is made in
//! one place, in order.

use super::announce::position_prompts;
use super::caller_id::{call_info, display_name};
use super::ringing::{AgentRing, RingEnd};
use super::{Call, Callback, Stage};
use crate::acd::{AcdError, AgentState, OverflowTarget, RoutingReason};
use crate::ivr::interpreter::RouteTarget;
use crate::ivr::model::{AgentTarget, PERSONAL_AREAS};
use crate::media::bridge::link;
use crate::media::recorder::Recorder;
use crate::media::sdp::{LocalMedia, SessionDescription, accept_answer, build_answer, build_offer};
use crate::media::session::{MediaConfig, MediaSession};
use crate::routing::{CallControl, CallOrder, LiveCallState, TransferTarget};
use crate::sip::dialog::CallHandle;
use crate::sip::endpoint::{CallEvent, OutgoingCall, Peer};
use crate::sip::message::Uri;
use crate::sip::transport::unix_ms;
use crate::store::{InquiryStatus, InquiryUpdate};
use std::net::SocketAddr;
use std::time::Instant;

/// The agent side of a call: the phones being rung, then the one that
/// answered, with its own RTP session.
pub(super) struct AgentSide {
    pub ring: AgentRing,
    pub reason: RoutingReason,
    pub media: MediaSession,
    pub local_media: LocalMedia,
}

impl AgentSide {
    fn login(&self) -> &str {
        &self.ring.agent
    }
}

impl super::CallContext {
    /// The media settings of a leg whose phone answered our offer with
    /// `answer`; `None` when the SDP is unusable.
    fn answered_media(&self, answer: &[u8]) -> Option<MediaConfig> {
        let sdp = SessionDescription::parse(std::str::from_utf8(answer).ok()?).ok()?;
        let accepted = accept_answer(&sdp).ok()?;
        Some(MediaConfig {
            inactivity_timeout: Some(self.inactivity),
            pacing: Some(self.pacing.clone()),
            ..MediaConfig::from_answer(&accepted)
        })
    }
}

/// Why a transfer could not be made, as a SIP status for the REFER's NOTIFY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TransferRefused(u16);

impl Call {
    /// The IVR asked for a queue (or a manager): look the client up and
    /// hand the call to routing.
    pub(super) async fn enter_queue(&mut self, target: RouteTarget) {
        if self.caller_gone {
            return;
        }
        let (queue, category, topic, priority, agent) = match target {
            RouteTarget::Queue {
                queue,
                category,
                topic,
                priority,
            } => (queue, category, topic, priority, None),
            RouteTarget::Agent {
                agent,
                fallback_queue,
                category,
                topic,
            } => (fallback_queue, category, topic, 0, Some(agent)),
        };
        let store = &self.ctx.store;
        // The inquiry writer created the client by the caller's number when
        // the call began; the IVR took long enough for that to be written.
        let client_id = match store.get_inquiry(&self.inquiry_id).await {
            Ok(inquiry) => inquiry.and_then(|i| i.client_id),
            Err(e) => {
                tracing::warn!(error = %e, "client lookup failed: routing as an unknown caller");
                None
            }
        };
        let area = match &agent {
            Some(AgentTarget::Personal(area)) => Some(area.clone()),
            _ => PERSONAL_AREAS
                .contains(&queue.as_str())
                .then(|| queue.clone()),
        };
        let personal_manager = match (&agent, &client_id, &area) {
            (Some(AgentTarget::Login(login)), _, _) => Some(login.clone()),
            (_, Some(client), Some(area)) => store
                .personal_manager(client, area)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "personal manager lookup failed");
                    None
                }),
            _ => None,
        };
        let has_open_inquiry = match &client_id {
            Some(client) => store
                .has_open_inquiry(client, &self.inquiry_id)
                .await
                .unwrap_or(false),
            None => false,
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
        self.ctx.live.update(self.call_id, |c| {
            c.queue = Some(queue.clone());
            c.state = LiveCallState::Waiting;
            c.since_ms = unix_ms();
        });
        self.queue = Some(queue.clone());
        self.client_id = client_id.clone();
        self.ctx.routing.call_entered(
            crate::acd::IncomingCall {
                call: self.call_id,
                queue,
                priority: priority.clamp(0, i32::from(u8::MAX)) as u8,
                client_id,
                has_open_inquiry,
                personal_manager,
            },
            self.orders.clone(),
        );
    }

    /// A key while waiting: `1` asks for a callback that keeps the place.
    pub(super) fn waiting_key(&mut self, key: char) {
        if key != '1' || self.callback != Callback::None || self.queue.is_none() {
            return;
        }
        if self.agent.is_some() {
            // An agent's phone is already ringing: the call is about to be
            // answered, a callback would only lose it.
            return;
        }
        tracing::info!(call = self.handle, inquiry = %self.inquiry_id, "callback requested while waiting");
        self.ctx.routing.callback_requested(self.call_id);
        self.callback = Callback::Requested;
        self.update(InquiryUpdate {
            status: Some(InquiryStatus::CallbackRequested),
            ..InquiryUpdate::default()
        });
        self.media.stop();
        self.hold_prompts.clear();
        self.play_hold_prompts(&["queue_callback_accepted"]);
    }

    /// Carries out one of routing's orders.
    pub(super) async fn order(&mut self, order: CallOrder) {
        match order {
            CallOrder::Ring { agent, reason, .. } => self.ring_agent(agent, reason).await,
            CallOrder::CallbackDue { agent, reason, .. } => {
                // The agent is called first; when they answer, routing
                // sends Bridge and the client is dialled (`dial_back`).
                tracing::info!(call = self.handle, inquiry = %self.inquiry_id, agent = %agent, "callback due: ringing the agent first");
                self.ring_agent(agent, reason).await;
            }
            CallOrder::CancelRing { agent } | CallOrder::DropAgentLeg { agent } => {
                if self.agent.as_ref().is_some_and(|a| a.login() == agent) {
                    self.drop_agent_side();
                    self.ctx.live.update(self.call_id, |c| {
                        c.agent = None;
                        c.state = LiveCallState::Waiting;
                    });
                }
            }
            CallOrder::Bridge { agent } => self.bridge(agent).await,
            CallOrder::AnnouncePosition {
                position,
                estimated_wait,
            } => {
                if self.stage == Stage::Waiting
                    && self.callback == Callback::None
                    && self.agent.is_none()
                {
                    let ids = position_prompts(self.ivr.language(), position, estimated_wait, true);
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    self.play_hold_prompts(&ids);
                }
            }
            CallOrder::Overflow { to } => match to {
                OverflowTarget::Queue(queue) => {
                    tracing::info!(call = self.handle, queue = %queue, "overflow to another queue");
                    self.update(InquiryUpdate {
                        queue: Some(queue.clone()),
                        ..InquiryUpdate::default()
                    });
                    self.ctx
                        .live
                        .update(self.call_id, |c| c.queue = Some(queue.clone()));
                    self.queue = Some(queue);
                }
                OverflowTarget::Callback => {
                    if self.callback == Callback::None && !self.caller_gone {
                        self.callback = Callback::Requested;
                        self.update(InquiryUpdate {
                            status: Some(InquiryStatus::CallbackRequested),
                            ..InquiryUpdate::default()
                        });
                        self.media.stop();
                        self.hold_prompts.clear();
                        self.play_hold_prompts(&["queue_callback_accepted"]);
                    }
                }
            },
            CallOrder::Abandoned { .. } => {}
        }
    }

    /// Offers the call to `agent` on every phone they have registered.
    async fn ring_agent(&mut self, agent: String, reason: RoutingReason) {
        // A callback request is rung even while its confirmation call is
        // still being torn down (stage `Ending`): the place was kept.
        let callback_due = self.callback == Callback::Requested;
        if !callback_due && (self.caller_gone || self.stage != Stage::Waiting) {
            self.ctx.routing.agent_declined(self.call_id, &agent);
            return;
        }
        // A new offer replaces an old one (routing moved on).
        self.drop_agent_side();
        let targets = self.ctx.shell.endpoint().agent_targets(&agent, unix_ms());
        let Some((_, first_peer)) = targets.first() else {
            tracing::info!(agent = %agent, "agent has no registered phone: next agent");
            self.ctx.routing.agent_no_answer(self.call_id, &agent);
            return;
        };
        let local_ip = self.ctx.local_ip_toward(first_peer.addr.ip());
        let media = match self.bind_offer_media(self.agent_media_events.clone()).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "no RTP port for an agent leg");
                self.ctx.routing.agent_no_answer(self.call_id, &agent);
                return;
            }
        };
        let local_media = super::new_local_media(local_ip, &media);
        let offer = bytes::Bytes::from(build_offer(&local_media));
        let display = display_name(self.ivr.category(), self.ivr.topic());
        let info = call_info(&self.ctx.http_base, &self.inquiry_id);
        let local_sip = SocketAddr::new(local_ip, self.ctx.sip_listen.port());
        let mut legs = Vec::with_capacity(targets.len());
        for (contact, peer) in targets {
            let outgoing = OutgoingCall {
                request_uri: contact,
                to: format!("sip:{agent}@{}", self.ctx.realm),
                from_user: self.caller.clone(),
                from_display: display.clone(),
                extra_headers: vec![("Call-Info".to_string(), info.clone())],
                offer: offer.clone(),
                local: local_sip,
            };
            legs.push(self.place_leg(outgoing, peer));
        }
        tracing::info!(call = self.handle, agent = %agent, phones = legs.len(), reason = reason.as_str(), "ringing agent");
        self.ctx.live.update(self.call_id, |c| {
            c.agent = Some(agent.clone());
            c.routing_reason = Some(reason.as_str());
            c.state = LiveCallState::Ringing;
        });
        self.agent = Some(AgentSide {
            ring: AgentRing::new(agent, legs),
            reason,
            media,
            local_media,
        });
    }

    /// An RTP session for a leg we call: bound before the answer, its port
    /// goes in our offer; `events` says which side's events they are.
    async fn bind_offer_media(
        &self,
        events: tokio::sync::mpsc::UnboundedSender<crate::media::session::MediaEvent>,
    ) -> Result<MediaSession, crate::media::session::MediaError> {
        MediaSession::bind(
            &self.ctx.ports,
            self.ctx.media_bind_ip,
            MediaConfig {
                pacing: Some(self.ctx.pacing.clone()),
                ..MediaConfig::awaiting_answer()
            },
            events,
        )
        .await
    }

    /// Sends the INVITE of a leg this task owns. The leg is entered in
    /// the dialog map under the endpoint lock, before any response to it
    /// can be handled.
    fn place_leg(&self, outgoing: OutgoingCall, peer: Peer) -> CallHandle {
        let dialogs = &self.ctx.dialogs;
        let owner = self.dialog_owner.clone();
        let mut placed = 0;
        self.ctx.shell.with_endpoint(|e| {
            let (leg, actions) = e.place_call(outgoing, peer, Instant::now());
            dialogs.insert(leg, owner);
            placed = leg;
            actions
        });
        placed
    }

    /// An event on one of the agent legs.
    pub(super) async fn leg_event(&mut self, leg: CallHandle, event: CallEvent) {
        let Some(agent) = self.agent.as_mut().filter(|a| a.ring.has_leg(leg)) else {
            // A leg we already let go of (cancelled, replaced): only a late
            // answer needs action — hang it up so that phone stops.
            if matches!(event, CallEvent::Answered { .. }) {
                self.ctx
                    .shell
                    .with_endpoint(|e| e.hangup(leg, Instant::now()));
            }
            return;
        };
        match event {
            CallEvent::Answered { answer } => {
                let Some((RingEnd::Answered(_), others)) = agent.ring.on_answer(leg) else {
                    // Another of the agent's phones answered first.
                    self.ctx
                        .shell
                        .with_endpoint(|e| e.hangup(leg, Instant::now()));
                    return;
                };
                for other in others {
                    self.ctx
                        .shell
                        .with_endpoint(|e| e.cancel(other, Instant::now()));
                }
                let Some(config) = self.ctx.answered_media(&answer) else {
                    tracing::warn!(
                        call = self.handle,
                        "agent phone answered with unusable SDP: hanging up that leg"
                    );
                    let login = agent.login().to_string();
                    self.drop_agent_side();
                    self.ctx.routing.agent_declined(self.call_id, &login);
                    return;
                };
                agent.media.update(config);
                let login = agent.login().to_string();
                self.ctx.routing.agent_answered(self.call_id, &login);
            }
            CallEvent::Rejected { status } => {
                if let Some(end) = agent.ring.on_failure(leg, status) {
                    let login = agent.login().to_string();
                    self.drop_agent_side();
                    match end {
                        RingEnd::Declined => self.ctx.routing.agent_declined(self.call_id, &login),
                        _ => self.ctx.routing.agent_no_answer(self.call_id, &login),
                    }
                }
            }
            CallEvent::HungUp | CallEvent::AckTimeout => {
                if agent.ring.answered() == Some(leg) {
                    self.agent_left();
                }
            }
            CallEvent::Info { content_type, body } => {
                if let Some(key) = crate::media::dtmf::parse_info_body(&content_type, &body) {
                    self.media.send_dtmf(key);
                }
            }
            CallEvent::Reoffer { offer } => self.agent_reoffer(leg, offer),
            CallEvent::Refer { target, .. } => {
                let refused = match self.refer_target(&target).await {
                    Some(t) => self.transfer(t, Some(leg)).await.err(),
                    None => Some(TransferRefused(404)),
                };
                tracing::info!(call = self.handle, target = %target, refused = ?refused, "REFER from the agent");
                if let Some(TransferRefused(status)) = refused {
                    self.ctx
                        .shell
                        .with_endpoint(|e| e.refer_outcome(leg, status, Instant::now()));
                }
            }
            CallEvent::Progress { .. }
            | CallEvent::Confirmed
            | CallEvent::Cancelled
            | CallEvent::Ended => {}
        }
    }

    /// Routing confirmed the agent who answered: connect the audio (for a
    /// callback request: now dial the client).
    async fn bridge(&mut self, login: String) {
        let answered = self
            .agent
            .as_ref()
            .filter(|a| a.login() == login)
            .and_then(|a| a.ring.answered());
        if answered.is_some() && self.callback == Callback::Requested {
            self.dial_back().await;
            return;
        }
        if answered.is_none() || self.caller_gone {
            // The agent's leg died between answer and bridge, or the
            // caller left: hand the call back rather than leave it hanging.
            tracing::info!(call = self.handle, agent = %login, "bridge without a live agent leg");
            self.drop_agent_side();
            if self.caller_gone {
                self.ctx.routing.call_ended(self.call_id);
            } else if let Some(queue) = self.queue.clone() {
                let routing = self.ctx.routing.clone();
                let (call, orders) = (self.call_id, self.orders.clone());
                tokio::spawn(async move {
                    let _ = routing.transfer_to_queue(call, &queue, orders).await;
                });
            }
            return;
        }
        self.connect();
    }

    /// Links the caller's and the agent's audio (recording it when
    /// enabled) and writes who answered, why and when.
    fn connect(&mut self) {
        let Some(agent) = self.agent.as_ref() else {
            return;
        };
        let login = agent.login().to_string();
        let now = Instant::now();
        let now_ms = unix_ms();
        self.hold_prompts.clear();
        self.media.stop();
        agent.media.stop();
        let recorder = self.ctx.recordings.as_ref().and_then(|dir| {
            Recorder::create(dir, &self.inquiry_id, now_ms)
                .map_err(|e| tracing::error!(error = %e, "cannot create a recording: bridging without it"))
                .ok()
        });
        let bridge = link(&self.media, &agent.media, recorder);
        let reason = agent.reason;
        let recording = bridge.recording_path().and_then(|p| {
            self.ctx
                .recordings
                .as_ref()
                .and_then(|dir| p.strip_prefix(dir).ok())
                .map(|rel| rel.to_string_lossy().into_owned())
        });
        self.bridge = Some(bridge);
        if let Some(since) = self.waiting_since.take() {
            self.waited += now.saturating_duration_since(since);
        }
        self.stage = Stage::Talking;
        self.talking_since = Some(now);
        let first_answer = self.answered_by_agent_ms.is_none();
        self.answered_by_agent_ms.get_or_insert(now_ms);
        tracing::info!(call = self.handle, inquiry = %self.inquiry_id, agent = %login, reason = reason.as_str(), "caller and agent connected");
        self.update(InquiryUpdate {
            status: Some(InquiryStatus::InProgress),
            agent: Some(login.clone()),
            routing_reason: Some(reason.as_str().to_string()),
            answered_at_ms: first_answer.then_some(now_ms),
            wait_ms: Some(self.waited.as_millis() as i64),
            recording,
            ..InquiryUpdate::default()
        });
        self.ctx.live.update(self.call_id, |c| {
            c.agent = Some(login.clone());
            c.state = LiveCallState::Talking;
            c.since_ms = now_ms;
        });
        self.remember_personal_manager(login);
    }

    /// A callback request's agent answered: call the client back at the
    /// address their call came from, while the agent hears hold music.
    /// The client's leg becomes the call's caller side.
    async fn dial_back(&mut self) {
        let Some(agent) = self.agent.as_ref() else {
            return;
        };
        let peer = self.caller_peer;
        let local_ip = self.ctx.local_ip_toward(peer.addr.ip());
        let media = match self
            .bind_offer_media(self.caller_media_events.clone())
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "no RTP port to call the client back");
                self.callback_failed();
                return;
            }
        };
        if let Ok(moh) = self.ctx.prompts.moh() {
            agent.media.play_loop_prompt(0, &moh);
        }
        let local_media = super::new_local_media(local_ip, &media);
        let uri = format!("sip:{}@{}", self.caller_user, peer.addr);
        let outgoing = OutgoingCall {
            request_uri: uri.clone(),
            to: uri,
            from_user: self.dialled.clone(),
            from_display: None,
            extra_headers: Vec::new(),
            offer: bytes::Bytes::from(build_offer(&local_media)),
            local: SocketAddr::new(local_ip, self.ctx.sip_listen.port()),
        };
        let leg = self.place_leg(outgoing, peer);
        tracing::info!(call = self.handle, leg, inquiry = %self.inquiry_id, "calling the client back");
        if !self.caller_gone {
            // Still on the confirmation: that call ends now, the new one
            // takes its place.
            let old_leg = self.handle;
            self.ctx
                .shell
                .with_endpoint(|e| e.hangup(old_leg, Instant::now()));
        }
        let old = std::mem::replace(&mut self.media, media);
        tokio::spawn(old.close());
        self.local_media = local_media;
        self.handle = leg;
        self.callback = Callback::Dialling;
        self.caller_gone = false;
        self.left_routing = false;
    }

    /// The client answered the callback: connect them to the agent.
    pub(super) fn client_answered(&mut self, answer: &[u8]) {
        let Some(config) = self.ctx.answered_media(answer) else {
            tracing::warn!(
                call = self.handle,
                "the client answered the callback with unusable SDP"
            );
            let leg = self.handle;
            self.ctx
                .shell
                .with_endpoint(|e| e.hangup(leg, Instant::now()));
            self.callback_failed();
            return;
        };
        self.media.update(config);
        self.callback = Callback::Connected;
        tracing::info!(call = self.handle, inquiry = %self.inquiry_id, "client called back and connected");
        self.connect();
    }

    /// The client did not take the callback: the agent is released and the
    /// request stays on the inquiry (status `callback_requested`) for a
    /// manager to return by hand.
    pub(super) fn callback_failed(&mut self) {
        tracing::info!(call = self.handle, inquiry = %self.inquiry_id, "callback not answered by the client");
        self.callback = Callback::Failed;
        self.caller_gone = true;
        self.drop_agent_side();
        if !self.left_routing {
            self.left_routing = true;
            self.ctx.routing.call_ended(self.call_id);
        }
    }

    /// A personal manager who handles a client's call in their area
    /// becomes that client's manager when the client has none (ARCHITECTURE
    /// §5). Off the call's path: a slow database must not delay audio.
    fn remember_personal_manager(&self, login: String) {
        let (Some(client), Some(area)) = (self.client_id.clone(), self.queue.clone()) else {
            return;
        };
        if !PERSONAL_AREAS.contains(&area.as_str()) {
            return;
        }
        let store = self.ctx.store.clone();
        tokio::spawn(async move {
            let role_fits = match store.get_agent(&login).await {
                Ok(Some(agent)) => matches!(
                    (agent.role.as_str(), area.as_str()),
                    ("admission_manager", "admission") | ("education_manager", "education")
                ),
                _ => false,
            };
            if !role_fits {
                return;
            }
            if let Ok(None) = store.personal_manager(&client, &area).await
                && let Err(e) = store
                    .set_personal_manager(&client, &area, Some(&login), &login)
                    .await
            {
                tracing::warn!(error = %e, "cannot record the personal manager");
            }
        });
    }

    /// The agent put the caller on hold (or took them off it).
    fn agent_reoffer(&mut self, leg: CallHandle, offer: Option<bytes::Bytes>) {
        let Some(agent) = self.agent.as_mut() else {
            return;
        };
        let sdp = offer
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| SessionDescription::parse(t).ok());
        let Some(sdp) = sdp else {
            // No (usable) offer: answer with what we have.
            let body = build_offer(&agent.local_media);
            let local = self.local_sip;
            self.ctx
                .shell
                .with_endpoint(|e| e.answer(leg, &body, local, Instant::now()));
            return;
        };
        match sdp.negotiate() {
            Ok(answer) => {
                let on_hold = answer.remote_on_hold();
                agent.media.update(MediaConfig {
                    inactivity_timeout: (!on_hold).then_some(self.ctx.inactivity),
                    pacing: Some(self.ctx.pacing.clone()),
                    ..MediaConfig::from_answer(&answer)
                });
                agent.local_media.session_version += 1;
                let body = build_answer(&sdp, &answer, &agent.local_media);
                let local = self.local_sip;
                self.ctx
                    .shell
                    .with_endpoint(|e| e.answer(leg, &body, local, Instant::now()));
                if self.stage == Stage::Talking {
                    if on_hold {
                        tracing::info!(call = self.handle, "agent holds: music for the caller");
                        if let Ok(moh) = self.ctx.prompts.moh() {
                            let id = self.playback_id();
                            self.media.play_loop_prompt(id, &moh);
                        }
                    } else {
                        // Back from hold: relayed audio again.
                        self.media.stop();
                    }
                }
            }
            Err(e) => {
                let status = e.sip_status();
                self.ctx.shell.with_endpoint(|e| {
                    e.reject(leg, status, "Not Acceptable Here", Instant::now())
                });
            }
        }
    }

    /// The agent hung up (or their leg died): the call is over for the
    /// caller too — a contact centre never leaves a caller on a dead line.
    fn agent_left(&mut self) {
        if self.stage != Stage::Talking {
            // Answered but not yet bridged: routing sends the bridge order,
            // which finds no live leg and puts the caller back in line.
            if let Some(agent) = self.agent.as_mut() {
                agent.ring = AgentRing::new(agent.ring.agent.clone(), Vec::new());
            }
            return;
        }
        tracing::info!(call = self.handle, inquiry = %self.inquiry_id, "agent hung up: ending the call");
        self.drop_agent_side();
        self.hang_up();
    }

    pub(super) fn agent_media_dead(&mut self) {
        if self.stage == Stage::Talking {
            tracing::info!(call = self.handle, "no RTP from the agent: ending the call");
            if let Some(leg) = self.agent.as_ref().and_then(|a| a.ring.answered()) {
                self.ctx
                    .shell
                    .with_endpoint(|e| e.hangup(leg, Instant::now()));
            }
            self.agent_left();
        }
    }

    /// An order from the API: transfer or hang up.
    pub(super) async fn control(&mut self, control: CallControl) {
        match control {
            CallControl::Hangup => {
                tracing::info!(call = self.handle, "hung up through the API");
                self.caller_left();
                self.hang_up();
            }
            CallControl::Transfer(target) => {
                if let Err(TransferRefused(status)) = self.transfer(target, None).await {
                    tracing::info!(call = self.handle, status, "API transfer refused");
                }
            }
        }
    }

    /// What a REFER's `Refer-To` names: a queue (`sip:admission@...`), a
    /// department number from the config, or an agent's login.
    async fn refer_target(&self, refer_to: &str) -> Option<TransferTarget> {
        let trimmed = refer_to.trim().trim_start_matches('<');
        let trimmed = trimmed.split('>').next().unwrap_or(trimmed);
        let user = Uri::parse(trimmed).ok()?.user?.to_string();
        if self.ctx.queue_names.contains(&user) {
            return Some(TransferTarget::Queue(user));
        }
        if self.ctx.departments.iter().any(|d| d.number == user) {
            return Some(TransferTarget::Department(user));
        }
        match self.ctx.store.get_agent(&user).await {
            Ok(Some(_)) => Some(TransferTarget::Agent(user)),
            _ => None,
        }
    }

    /// Blind transfer: the current agent is let go, the caller hears
    /// "transferring" then music, and routing offers the call anew. One
    /// inquiry throughout; each leg shows in its event timeline. A REFER's
    /// leg (`referred_on`) hears the NOTIFY before it is released.
    async fn transfer(
        &mut self,
        target: TransferTarget,
        referred_on: Option<CallHandle>,
    ) -> Result<(), TransferRefused> {
        if self.caller_gone || self.queue.is_none() {
            return Err(TransferRefused(481));
        }
        let (queue, login, department) = match target {
            TransferTarget::Queue(q) => (Some(q), None, false),
            TransferTarget::Agent(l) => (None, Some(l), false),
            TransferTarget::Department(number) => {
                let dept = self
                    .ctx
                    .departments
                    .iter()
                    .find(|d| d.number == number)
                    .ok_or(TransferRefused(404))?;
                (dept.queue.clone(), dept.login.clone(), true)
            }
        };
        let routing = self.ctx.routing.clone();
        let result = match (&queue, &login) {
            (Some(q), _) => {
                routing
                    .transfer_to_queue(self.call_id, q, self.orders.clone())
                    .await
            }
            (None, Some(l)) => {
                routing
                    .transfer_to_agent(self.call_id, l, self.orders.clone())
                    .await
            }
            (None, None) => return Err(TransferRefused(404)),
        };
        if let Err(e) = result {
            return Err(TransferRefused(match e {
                AcdError::UnknownQueue(_) | AcdError::UnknownAgent(_) => 404,
                AcdError::AgentUnavailable(_) => 486,
                _ => 503,
            }));
        }
        tracing::info!(call = self.handle, inquiry = %self.inquiry_id, queue = ?queue, agent = ?login, "call transferred");
        if let Some(leg) = referred_on {
            self.ctx
                .shell
                .with_endpoint(|e| e.refer_outcome(leg, 200, Instant::now()));
        }
        self.stage_end_of_talk();
        self.drop_agent_side();
        self.transfers += 1;
        self.to_department = department;
        self.stage = Stage::Waiting;
        self.waiting_since = Some(Instant::now());
        if let Some(q) = &queue {
            self.queue = Some(q.clone());
        }
        self.update(InquiryUpdate {
            status: Some(InquiryStatus::Waiting),
            queue: queue.clone(),
            transfers: Some(self.transfers),
            ..InquiryUpdate::default()
        });
        self.ctx.live.update(self.call_id, |c| {
            c.agent = None;
            c.state = LiveCallState::Waiting;
            c.since_ms = unix_ms();
            if let Some(q) = &queue {
                c.queue = Some(q.clone());
            }
        });
        self.media.stop();
        self.hold_prompts.clear();
        self.play_hold_prompts(&["transfer"]);
        Ok(())
    }

    /// Adds the time talked so far, when talking.
    pub(super) fn stage_end_of_talk(&mut self) {
        if let Some(since) = self.talking_since.take() {
            self.talked += since.elapsed();
        }
    }

    /// Lets go of the agent side: unlinks the audio (keeping the
    /// recording for finalisation), ends every leg, frees the RTP port.
    pub(super) fn drop_agent_side(&mut self) {
        if let Some(bridge) = self.bridge.take()
            && let Some(recording) = bridge.unlink()
        {
            self.recordings.push(recording);
        }
        let Some(agent) = self.agent.take() else {
            return;
        };
        let now = Instant::now();
        for &leg in agent.ring.ringing() {
            self.ctx.shell.with_endpoint(|e| e.cancel(leg, now));
        }
        if let Some(leg) = agent.ring.answered() {
            self.ctx.shell.with_endpoint(|e| e.hangup(leg, now));
        }
        tokio::spawn(agent.media.close());
    }

    /// Tells routing the caller is gone, once: a waiting caller abandoned
    /// (unless their callback request keeps the place), a talking call ended.
    pub(super) fn leave_routing(&mut self) {
        if self.queue.is_none() || self.left_routing {
            return;
        }
        self.left_routing = true;
        match self.stage {
            Stage::Talking => {
                self.drop_agent_side();
                self.ctx.routing.call_ended(self.call_id);
            }
            _ if self.callback == Callback::Requested && self.agent.is_none() => {
                // The place in the queue is kept for the callback; the
                // agent side, if any was ringing, is let go.
                self.drop_agent_side();
            }
            _ => {
                self.drop_agent_side();
                self.ctx.routing.caller_hung_up(self.call_id);
            }
        }
    }
}

/// `AgentState` names what the feature-code confirmation says.
pub(super) fn state_prompt(state: Result<AgentState, AcdError>) -> &'static str {
    match state {
        Ok(AgentState::Available) => "agent_available",
        Ok(AgentState::Paused) => "agent_paused",
        _ => "agent_refused",
    }
}
