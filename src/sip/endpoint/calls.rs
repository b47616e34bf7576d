//! The call side of the endpoint: INVITE dialogs as a UAS.
//!
//! A new INVITE gets `100 Trying` at once and becomes an
//! [`Action::Incoming`]; the call layer decides (flow lookup, SDP, RTP port)
//! and answers with [`Endpoint::answer`] or [`Endpoint::reject`]. From then
//! on every in-dialog request is turned into a [`CallEvent`] for that call,
//! and [`Endpoint::hangup`] sends our BYE. Timers (2xx retransmission, ACK
//! timeout, BYE retransmission) run on the same `now` as the rest.

use super::{Action, Endpoint, Peer};
use crate::sip::dialog::{CallHandle, Dialog, DialogState, strip_tag};
use crate::sip::message::{self, Message, Method};
use crate::sip::transaction::{ClientEvent, TransactionKey};
use bytes::Bytes;
use std::cmp::Reverse;
use std::net::SocketAddr;
use std::time::Instant;

/// A new call for the call layer to decide on.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingCall {
    pub handle: CallHandle,
    pub call_id: String,
    /// Request-URI user: the number dialled (`hotline`, `100`).
    pub dialled: String,
    /// The caller's number or user as in From (unnormalised).
    pub caller: String,
    pub caller_display: Option<String>,
    /// The SDP offer, if the INVITE carried one.
    pub offer: Option<Bytes>,
    pub peer: Peer,
    pub user_agent: Option<String>,
}

/// Something that happened in a call's dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// The caller ACKed our 2xx: media may flow both ways.
    Confirmed,
    /// The caller gave up before we answered (CANCEL).
    Cancelled,
    /// The caller hung up (BYE).
    HungUp,
    /// INFO in the dialog (DTMF relay and friends).
    Info { content_type: String, body: Bytes },
    /// re-INVITE (hold, resume, new address): answer with
    /// [`Endpoint::answer`] again.
    Reoffer { offer: Option<Bytes> },
    /// Our 2xx was never ACKed (64*T1): the dialog is being torn down.
    AckTimeout,
    /// The dialog is over (our BYE was answered or timed out, or the call
    /// was rejected). The last event of every call.
    Ended,
}

impl Endpoint {
    pub(super) fn next_call_handle(&mut self) -> CallHandle {
        self.next_call += 1;
        self.next_call
    }

    /// Calls (dialogs) the endpoint is tracking.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// A new INVITE that passed the generic checks.
    pub(super) fn start_call(
        &mut self,
        msg: &Message,
        key: TransactionKey,
        from: Peer,
        now: Instant,
    ) -> Vec<Action> {
        let (Ok(from_hdr), Ok(to_hdr), Ok(call_id), Ok(cseq)) = (
            msg.from_header(),
            msg.to_header(),
            msg.call_id(),
            msg.cseq(),
        ) else {
            return Vec::new();
        };
        let handle = self.next_call_handle();
        let local_tag = format!("{:016x}", self.next_random());
        let remote_target = match msg.contacts() {
            Ok(message::Contacts::List(list)) => list
                .first()
                .map(|c| c.uri.as_str().to_string())
                .unwrap_or_else(|| from_hdr.uri.as_str().to_string()),
            _ => from_hdr.uri.as_str().to_string(),
        };
        let caller = from_hdr
            .uri
            .user
            .as_deref()
            .unwrap_or(&from_hdr.uri.host)
            .to_string();
        let dialled = msg
            .request_uri()
            .and_then(|u| message::Uri::parse(u).ok())
            .and_then(|u| u.user.map(|user| user.to_string()))
            .unwrap_or_default();
        let dialog = Dialog {
            handle,
            state: DialogState::Early,
            call_id: call_id.to_string(),
            local_tag: local_tag.clone(),
            remote_tag: from_hdr.tag().unwrap_or("").to_string(),
            remote_uri: strip_tag(msg.header("From").unwrap_or("")),
            local_uri: strip_tag(msg.header("To").unwrap_or("")),
            remote_target,
            route_set: msg
                .header_list("Record-Route")
                .into_iter()
                .map(str::to_string)
                .collect(),
            peer: from,
            local_addr: None,
            local_cseq: 0,
            remote_cseq: cseq.seq,
            invite_key: Some(key.clone()),
            pending_request: Some(msg.clone()),
            reinvite_key: None,
            pending_ack: None,
            bye_key: None,
        };
        let _ = to_hdr;
        self.dialog_index
            .insert((dialog.call_id.clone(), local_tag), handle);
        self.invite_index.insert(key.clone(), handle);
        self.calls.insert(handle, dialog);

        let mut actions = Vec::new();
        // 100 Trying stops the caller's INVITE retransmissions while the
        // call layer sets up media (RFC 3261 §8.2.6.1): no To tag.
        let trying = message::response(msg, 100, "Trying").build();
        if let Some(bytes) = self
            .transactions
            .respond(&key, 100, Bytes::from(trying), now)
        {
            actions.push(Action::Send {
                to: super::response_peer(msg, from),
                bytes,
            });
        }
        let offer = (!msg.body().is_empty()).then(|| Bytes::copy_from_slice(msg.body()));
        actions.push(Action::Incoming(IncomingCall {
            handle,
            call_id: call_id.to_string(),
            dialled,
            caller,
            caller_display: from_hdr.display_name.as_deref().map(str::to_string),
            offer,
            peer: from,
            user_agent: msg.header("User-Agent").map(str::to_string),
        }));
        actions
    }

    /// Final answer to the INVITE (or pending re-INVITE) of `call`:
    /// `sdp` is our answer. `local` is our SIP address as the caller reaches
    /// it, for the Contact header.
    pub fn answer(
        &mut self,
        call: CallHandle,
        sdp: &str,
        local: SocketAddr,
        now: Instant,
    ) -> Vec<Action> {
        let user_agent = self.config.user_agent.clone();
        let timers = self.config.timers;
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        let Some(request) = dialog.pending_request.take() else {
            return Vec::new();
        };
        let key = match (dialog.invite_key.take(), dialog.reinvite_key.take()) {
            (Some(k), _) | (None, Some(k)) => k,
            (None, None) => return Vec::new(),
        };
        dialog.local_addr = Some(local);
        let user = request
            .request_uri()
            .and_then(|u| message::Uri::parse(u).ok())
            .and_then(|u| u.user.map(|user| user.to_string()))
            .unwrap_or_else(|| "hotline".to_string());
        let transport = if dialog.peer.transport.is_reliable() {
            ";transport=tcp"
        } else {
            ""
        };
        let response = Bytes::from(
            message::response(&request, 200, "OK")
                .to_tag(&dialog.local_tag)
                .header("Contact", &format!("<sip:{user}@{local}{transport}>"))
                .header("Allow", super::ALLOW)
                .header("Supported", "")
                .header("Server", &user_agent)
                .body("application/sdp", sdp.as_bytes())
                .build(),
        );
        if dialog.state == DialogState::Early {
            dialog.state = DialogState::Answered;
        }
        dialog.await_ack(response.clone(), &timers, now);
        let next = dialog.pending_ack.as_ref().map(|p| p.next_at);
        let to = super::response_peer(&request, dialog.peer);
        self.invite_index.remove(&key);
        if let Some(at) = next {
            self.call_timers.push(Reverse((at, call)));
        }
        match self.transactions.respond(&key, 200, response, now) {
            Some(bytes) => vec![Action::Send { to, bytes }],
            None => Vec::new(),
        }
    }

    /// Refuses the call's INVITE (404 no such number, 488 no common codec,
    /// 503 out of ports...). The call ends.
    pub fn reject(
        &mut self,
        call: CallHandle,
        status: u16,
        reason: &str,
        now: Instant,
    ) -> Vec<Action> {
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        let (Some(request), Some(key)) = (dialog.pending_request.take(), dialog.invite_key.take())
        else {
            // A re-INVITE we cannot take: refuse it, the call goes on.
            if let (Some(request), Some(key)) =
                (dialog.pending_request.take(), dialog.reinvite_key.take())
            {
                let tag = dialog.local_tag.clone();
                let to = super::response_peer(&request, dialog.peer);
                let bytes = Bytes::from(
                    message::response(&request, status, reason)
                        .to_tag(&tag)
                        .build(),
                );
                return self
                    .transactions
                    .respond(&key, status, bytes, now)
                    .map(|bytes| vec![Action::Send { to, bytes }])
                    .unwrap_or_default();
            }
            return Vec::new();
        };
        let tag = dialog.local_tag.clone();
        let to = super::response_peer(&request, dialog.peer);
        let bytes = Bytes::from(
            message::response(&request, status, reason)
                .to_tag(&tag)
                .header("Server", &self.config.user_agent)
                .build(),
        );
        self.invite_index.remove(&key);
        let mut actions: Vec<Action> = self
            .transactions
            .respond(&key, status, bytes, now)
            .map(|bytes| Action::Send { to, bytes })
            .into_iter()
            .collect();
        actions.extend(self.end_call(call));
        actions
    }

    /// Ends the call from our side: BYE when answered, 480 when not yet.
    pub fn hangup(&mut self, call: CallHandle, now: Instant) -> Vec<Action> {
        let Some(dialog) = self.calls.get(&call) else {
            return Vec::new();
        };
        match dialog.state {
            DialogState::Early => self.reject(call, 480, "Temporarily Unavailable", now),
            DialogState::Answered | DialogState::Confirmed => self.send_bye(call, now),
            DialogState::Terminating | DialogState::Terminated => Vec::new(),
        }
    }

    fn send_bye(&mut self, call: CallHandle, now: Instant) -> Vec<Action> {
        let branch = format!("z9hG4bK{:016x}", self.next_random());
        let user_agent = self.config.user_agent.clone();
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        dialog.pending_ack = None;
        dialog.state = DialogState::Terminating;
        let peer = dialog.peer;
        let (key, bytes) = dialog.bye(&branch, &user_agent);
        dialog.bye_key = Some(key.clone());
        self.client_index.insert(key.branch.clone(), call);
        let bytes = self
            .client
            .send_request(key, false, peer.transport.is_reliable(), bytes, now);
        vec![Action::Send { to: peer, bytes }]
    }

    /// Forgets a call and tells the call layer it is over.
    fn end_call(&mut self, call: CallHandle) -> Vec<Action> {
        let Some(mut dialog) = self.calls.remove(&call) else {
            return Vec::new();
        };
        dialog.state = DialogState::Terminated;
        self.dialog_index
            .remove(&(dialog.call_id.clone(), dialog.local_tag.clone()));
        if let Some(key) = dialog.invite_key.take() {
            self.invite_index.remove(&key);
        }
        if let Some(key) = dialog.bye_key.take() {
            self.client_index.remove(&key.branch);
        }
        vec![Action::Call(call, CallEvent::Ended)]
    }

    /// A request with a To tag: it belongs to a dialog, ours or none.
    /// Returns the final response to send through the transaction, or None
    /// when the call layer answers later (re-INVITE).
    pub(super) fn in_dialog(
        &mut self,
        msg: &Message,
        method: &Method,
        key: &TransactionKey,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> Option<(u16, Vec<u8>)> {
        let Some(call) = self.dialog_of(msg) else {
            return Some((
                481,
                self.respond(msg, 481, "Call/Transaction Does Not Exist")
                    .build(),
            ));
        };
        let dialog = self.calls.get_mut(&call)?;
        let tag = dialog.local_tag.clone();
        if let Ok(cseq) = msg.cseq() {
            dialog.remote_cseq = dialog.remote_cseq.max(cseq.seq);
        }
        let ok = |this: &mut Endpoint| {
            Some((
                200,
                message::response(msg, 200, "OK")
                    .to_tag(&tag)
                    .header("Server", &this.config.user_agent)
                    .build(),
            ))
        };
        match method {
            Method::Bye => {
                dialog.state = DialogState::Terminated;
                actions.push(Action::Call(call, CallEvent::HungUp));
                // A re-INVITE still open is over with the dialog.
                let pending = dialog
                    .reinvite_key
                    .take()
                    .zip(dialog.pending_request.take());
                if let Some((rkey, request)) = pending {
                    let bytes = Bytes::from(
                        message::response(&request, 487, "Request Terminated")
                            .to_tag(&tag)
                            .build(),
                    );
                    let _ = self.transactions.respond(&rkey, 487, bytes, now);
                }
                let response = ok(self);
                actions.extend(self.end_call(call));
                response
            }
            Method::Info => {
                actions.push(Action::Call(
                    call,
                    CallEvent::Info {
                        content_type: msg.header("Content-Type").unwrap_or("").to_string(),
                        body: Bytes::copy_from_slice(msg.body()),
                    },
                ));
                ok(self)
            }
            Method::Invite => {
                if dialog.reinvite_key.is_some() || dialog.invite_key.is_some() {
                    // RFC 3261 §14.2: one INVITE at a time.
                    return Some((
                        491,
                        message::response(msg, 491, "Request Pending")
                            .to_tag(&tag)
                            .build(),
                    ));
                }
                dialog.reinvite_key = Some(key.clone());
                dialog.pending_request = Some(msg.clone());
                if let Ok(message::Contacts::List(list)) = msg.contacts()
                    && let Some(contact) = list.first()
                {
                    dialog.remote_target = contact.uri.as_str().to_string();
                }
                let offer = (!msg.body().is_empty()).then(|| Bytes::copy_from_slice(msg.body()));
                actions.push(Action::Call(call, CallEvent::Reoffer { offer }));
                None
            }
            Method::Options | Method::Update | Method::Notify => ok(self),
            _ => Some((
                405,
                message::response(msg, 405, "Method Not Allowed")
                    .to_tag(&tag)
                    .header("Allow", super::ALLOW)
                    .build(),
            )),
        }
    }

    /// The call a request or ACK belongs to, by Call-ID and our tag.
    fn dialog_of(&self, msg: &Message) -> Option<CallHandle> {
        let call_id = msg.call_id().ok()?;
        let to = msg.to_header().ok()?;
        let tag = to.tag()?;
        self.dialog_index
            .get(&(call_id.to_string(), tag.to_string()))
            .copied()
    }

    /// An ACK: for our 2xx it confirms the dialog.
    pub(super) fn on_ack(&mut self, msg: &Message) -> Vec<Action> {
        let Some(call) = self.dialog_of(msg) else {
            return Vec::new();
        };
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        if dialog.pending_ack.take().is_some() && dialog.state == DialogState::Answered {
            dialog.state = DialogState::Confirmed;
            return vec![Action::Call(call, CallEvent::Confirmed)];
        }
        Vec::new()
    }

    /// CANCEL: matches the INVITE server transaction with the same branch.
    pub(super) fn on_cancel(
        &mut self,
        msg: &Message,
        key: &TransactionKey,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> (u16, Vec<u8>) {
        let invite_key = TransactionKey {
            method: "INVITE".to_string(),
            ..key.clone()
        };
        let Some(&call) = self.invite_index.get(&invite_key) else {
            return (
                481,
                self.respond(msg, 481, "Call/Transaction Does Not Exist")
                    .build(),
            );
        };
        let tag = self
            .calls
            .get(&call)
            .map(|d| d.local_tag.clone())
            .unwrap_or_default();
        actions.push(Action::Call(call, CallEvent::Cancelled));
        actions.extend(self.reject(call, 487, "Request Terminated", now));
        (200, message::response(msg, 200, "OK").to_tag(&tag).build())
    }

    /// A response: ours only come from client transactions (our BYEs).
    pub(super) fn on_response(&mut self, msg: &Message, now: Instant) -> Vec<Action> {
        let (Ok(via), Ok(cseq), Some(status)) = (msg.top_via(), msg.cseq(), msg.status()) else {
            return Vec::new();
        };
        let Some(branch) = via.branch() else {
            return Vec::new();
        };
        let Some(&call) = self.client_index.get(branch) else {
            return Vec::new();
        };
        let Some(key) = self.calls.get(&call).and_then(|d| d.bye_key.clone()) else {
            return Vec::new();
        };
        if key.method != cseq.method.as_str() {
            return Vec::new();
        }
        let mut actions = Vec::new();
        for event in self.client.on_response(&key, status, None, now) {
            if let ClientEvent::Response(code) = event
                && code >= 200
            {
                actions.extend(self.end_call(call));
            }
        }
        actions
    }

    /// Call timers: 2xx retransmission, ACK timeout, BYE transactions.
    pub(super) fn call_timeouts(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(Reverse((at, call))) = self.call_timers.peek().copied() {
            if at > now {
                break;
            }
            self.call_timers.pop();
            let Some(dialog) = self.calls.get_mut(&call) else {
                continue;
            };
            let Some(pending) = dialog.pending_ack.as_mut() else {
                continue;
            };
            if pending.next_at != at {
                continue; // a stale entry: the timer moved
            }
            if now >= pending.give_up_at {
                dialog.pending_ack = None;
                actions.push(Action::Call(call, CallEvent::AckTimeout));
                actions.extend(self.send_bye(call, now));
                continue;
            }
            if !dialog.peer.transport.is_reliable() {
                actions.push(Action::Send {
                    to: dialog.peer,
                    bytes: pending.response.clone(),
                });
            }
            pending.interval = (pending.interval * 2).min(self.config.timers.t2);
            pending.next_at = (now + pending.interval).min(pending.give_up_at);
            let next = pending.next_at;
            self.call_timers.push(Reverse((next, call)));
        }
        for (key, event) in self.client.handle_timeout(now) {
            let Some(&call) = self.client_index.get(&key.branch) else {
                continue;
            };
            match event {
                ClientEvent::Transmit(bytes) => {
                    if let Some(d) = self.calls.get(&call) {
                        actions.push(Action::Send { to: d.peer, bytes });
                    }
                }
                ClientEvent::Timeout | ClientEvent::Terminated => {
                    actions.extend(self.end_call(call));
                }
                ClientEvent::Response(_) => {}
            }
        }
        actions
    }

    pub(super) fn call_poll_timeout(&self) -> Option<Instant> {
        let calls = self.call_timers.peek().map(|Reverse((at, _))| *at);
        let client = self.client.poll_timeout();
        match (calls, client) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
