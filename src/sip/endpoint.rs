//! The SIP endpoint: the sans-IO core that turns received bytes into
//! responses and registrar updates.
//!
//! It glues the message layer, the server transactions, digest
//! authentication, the auth throttle and the registrar. Like the cores it is
//! made of, it never reads a clock or touches a socket: every input carries
//! `now` (monotonic, for transaction timers) and `now_ms` (wall clock, for
//! binding expiry, which must survive restarts), and every output is an
//! [`Action`] the tokio shell carries out. That is what lets tests drive
//! thousands of registrations through it faster than real time.

use super::Transport;
use super::digest::{
    Algorithm, Challenge, Credentials, DigestError, NonceManager, NonceStatus, verify,
};
use super::message::{
    self, Contacts, Limits, Message, Method, Rejection, ResponseBuilder, Salvaged,
};
use super::registrar::{
    Binding, BindingChange, ContactInput, ContactsInput, RegisterOutcome, RegisterRequest,
    Registrar, RegistrarConfig,
};
use super::throttle::AuthThrottle;
use super::transaction::{ServerEvent, ServerLookup, ServerTransactions, Timers, TransactionKey};
use crate::mask::mask_phone;
use crate::sip::dialog::{CallHandle, Dialog};
use crate::sip::transaction::ClientTransactions;
use crate::store::SipCredentials;
use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod calls;
mod outgoing;
use calls::ClientRef;
pub use calls::{CallEvent, IncomingCall};
pub use outgoing::OutgoingCall;

/// Methods this server implements, advertised in `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, REFER, NOTIFY";
/// Bodies this server understands, advertised in `Accept`.
pub const ACCEPT: &str = "application/sdp, application/dtmf-relay";

/// Identifies one TCP connection in the shell, so a response goes back over
/// the flow its request came on (RFC 3261 §18.2.2).
pub type ConnId = u64;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: Transport,
    /// The TCP connection, `None` for UDP.
    pub conn: Option<ConnId>,
}

/// What the shell must do after an input.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send bytes to `to` (over `to.conn` when it is a TCP flow).
    Send { to: Peer, bytes: Bytes },
    /// Persist a registrar change so a restart keeps operators registered.
    Persist(BindingChange),
    /// Close a TCP connection (after a framing error).
    Close(ConnId),
    /// A new call for the call layer (which answers or rejects it).
    Incoming(IncomingCall),
    /// Something happened in a call's dialog.
    Call(CallHandle, CallEvent),
}

/// Tunables of the endpoint, taken from the `[sip]` config section.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub realm: String,
    pub user_agent: String,
    pub limits: Limits,
    pub registrar: RegistrarConfig,
    pub nonce_secret: [u8; 32],
    pub nonce_lifetime_s: u64,
    pub auth_fail_limit: u32,
    pub auth_fail_window: Duration,
    pub auth_block: Duration,
    pub timers: Timers,
    /// New INVITEs beyond this many calls get 503 (overload brake).
    pub max_calls: usize,
}

/// Counters for `/metrics` and the logs: what was dropped is never silent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub dropped_malformed: u64,
    pub dropped_throttled: u64,
    pub answered_400: u64,
    pub retransmissions_absorbed: u64,
    pub registrations: u64,
    pub auth_failures: u64,
    /// INVITEs refused with 503 because `max_calls` were up.
    pub calls_refused_overload: u64,
}

/// The SIP endpoint core. See the module documentation.
pub struct Endpoint {
    config: EndpointConfig,
    transactions: ServerTransactions,
    registrar: Registrar,
    nonces: NonceManager,
    throttle: AuthThrottle,
    agents: HashMap<String, SipCredentials>,
    /// Feeds nonces and To tags; seeded by the shell, so tests are
    /// deterministic and production is unpredictable.
    rng_state: u64,
    stats: Stats,
    // Calls (UAS dialogs), see `calls.rs`.
    calls: HashMap<CallHandle, Dialog>,
    /// (Call-ID, our tag) → call.
    dialog_index: HashMap<(String, String), CallHandle>,
    /// INVITE server transactions still without a final answer (CANCEL).
    invite_index: HashMap<TransactionKey, CallHandle>,
    client: ClientTransactions,
    /// (branch, CSeq method) of our requests → what they are for.
    client_index: HashMap<(String, String), ClientRef>,
    /// Calls we placed (agent legs); `max_calls` only limits the others.
    outgoing_calls: usize,
    /// TCP connection each registered phone's REGISTER came over: the only
    /// way to reach a TCP phone, since the shell opens no connections.
    tcp_flows: HashMap<SocketAddr, ConnId>,
    call_timers: BinaryHeap<Reverse<(Instant, CallHandle)>>,
    next_call: CallHandle,
    /// Set by the shell while media pacing suffers (CPU starvation): new
    /// calls are refused with 503 until it recovers.
    overloaded: bool,
}

/// The default challenge for unknown logins: the same as for a default
/// agent, so a 401 does not reveal whether a login exists.
const DEFAULT_ALGORITHMS: [Algorithm; 1] = [Algorithm::Md5];

impl Endpoint {
    pub fn new(config: EndpointConfig, rng_seed: u64) -> Self {
        let throttle = AuthThrottle::new(
            config.auth_fail_limit,
            config.auth_fail_window,
            config.auth_block,
            65_536,
        );
        Endpoint {
            transactions: ServerTransactions::new(config.timers),
            registrar: Registrar::new(config.registrar),
            nonces: NonceManager::new(config.nonce_secret, config.nonce_lifetime_s),
            throttle,
            agents: HashMap::new(),
            rng_state: rng_seed | 1,
            stats: Stats::default(),
            calls: HashMap::new(),
            dialog_index: HashMap::new(),
            invite_index: HashMap::new(),
            client: ClientTransactions::new(config.timers),
            client_index: HashMap::new(),
            outgoing_calls: 0,
            tcp_flows: HashMap::new(),
            call_timers: BinaryHeap::new(),
            next_call: 0,
            overloaded: false,
            config,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// The shell's overload signal (see `crate::call::watch_pacing`).
    pub fn set_overloaded(&mut self, overloaded: bool) {
        self.overloaded = overloaded;
    }

    /// Adds or replaces an agent's credentials (start-up, API change).
    pub fn upsert_agent(&mut self, credentials: SipCredentials) {
        self.agents.insert(credentials.login.clone(), credentials);
    }

    /// Forgets an agent and unregisters its phones.
    pub fn remove_agent(&mut self, login: &str) -> Vec<Action> {
        self.agents.remove(login);
        self.registrar
            .remove_login(login)
            .into_iter()
            .map(Action::Persist)
            .collect()
    }

    /// Restores bindings saved before a restart.
    pub fn restore_bindings(&mut self, bindings: Vec<Binding>, now_ms: i64) {
        self.registrar.restore(bindings, now_ms);
    }

    /// The earliest moment [`Endpoint::handle_timeout`] has work to do.
    pub fn poll_timeout(&self, now: Instant, now_ms: i64) -> Option<Instant> {
        let tx = [self.transactions.poll_timeout(), self.call_poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let expiry = self.registrar.next_expiry_ms().map(|at_ms| {
            let wait = u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0);
            now + Duration::from_millis(wait)
        });
        match (tx, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires due transaction timers and expires bindings.
    pub fn handle_timeout(&mut self, now: Instant, now_ms: i64) -> Vec<Action> {
        let mut actions = self.call_timeouts(now);
        for (key, event) in self.transactions.handle_timeout(now) {
            match event {
                ServerEvent::Transmit(bytes) => {
                    // Only unreliable transports retransmit, and the key
                    // remembers where the request came from.
                    if let Some(peer) = peer_from_key(&key) {
                        actions.push(Action::Send { to: peer, bytes });
                    }
                }
                ServerEvent::Timeout => {
                    tracing::debug!(branch = %key.branch, "server transaction timed out waiting for ACK");
                }
                ServerEvent::Terminated => {}
            }
        }
        for gone in self.registrar.expire(now_ms) {
            tracing::info!(login = %gone.login, contact = %mask_phone(&gone.contact), "registration expired");
            actions.push(Action::Persist(BindingChange::Remove {
                login: gone.login,
                contact: gone.contact,
            }));
        }
        actions
    }

    /// A TCP connection sent bytes that cannot be framed: answer 400 when
    /// enough of a request is readable, then close the connection.
    pub fn on_framing_error(&mut self, bytes: &[u8], from: Peer) -> Vec<Action> {
        self.stats.dropped_malformed += 1;
        let mut actions = Vec::new();
        if let Some(salvaged) = message::salvage_for_response(bytes) {
            self.stats.answered_400 += 1;
            let response = message::response_from_salvage(&salvaged, 400, "Bad Request").build();
            actions.push(Action::Send {
                to: from,
                bytes: Bytes::from(response),
            });
        }
        if let Some(conn) = from.conn {
            actions.push(Action::Close(conn));
        }
        actions
    }

    /// One whole message (a UDP datagram or a framed TCP message) arrived.
    pub fn on_message(
        &mut self,
        bytes: Bytes,
        from: Peer,
        now: Instant,
        now_ms: i64,
    ) -> Vec<Action> {
        self.stats.received += 1;
        if self.throttle.is_blocked(from.addr.ip(), now) {
            self.stats.dropped_throttled += 1;
            return Vec::new();
        }
        let msg = match Message::parse(bytes.clone(), &self.config.limits) {
            Ok(msg) => msg,
            Err(err) => {
                tracing::debug!(%err, source = %from.addr, "malformed SIP message");
                return self.reject_unparsable(&bytes, from);
            }
        };
        if !msg.is_request() {
            // Responses belong to our client transactions (BYE); an
            // unmatched one is dropped (RFC 3261 §18.1.2).
            return self.on_response(&msg, now);
        }
        if let Err(rejection) = msg.validate_request() {
            tracing::debug!(status = rejection.status, reason = %rejection.reason, source = %from.addr, "invalid request");
            return self.reject_invalid(&msg, from, &rejection);
        }
        let Some(method) = msg.method().cloned() else {
            return Vec::new();
        };
        if method == Method::Ack {
            // An ACK for a 2xx belongs to a dialog (none yet); an ACK for a
            // non-2xx is absorbed by its INVITE transaction.
            if let Some(key) = transaction_key(&msg, from)
                && self
                    .transactions
                    .on_request(key, false, true, from.transport.is_reliable(), now)
                    == ServerLookup::AckForFinal
            {
                return Vec::new();
            }
            return self.on_ack(&msg);
        }
        let Some(key) = transaction_key(&msg, from) else {
            return Vec::new();
        };
        let is_invite = method == Method::Invite;
        match self.transactions.on_request(
            key.clone(),
            is_invite,
            false,
            from.transport.is_reliable(),
            now,
        ) {
            ServerLookup::New => {}
            ServerLookup::Retransmission(last) => {
                self.stats.retransmissions_absorbed += 1;
                let to = response_peer(&msg, from);
                return last
                    .map(|bytes| vec![Action::Send { to, bytes }])
                    .unwrap_or_default();
            }
            ServerLookup::AckForFinal => return Vec::new(),
        }
        let mut actions = Vec::new();
        let Some((status, response)) =
            self.handle_request(&msg, &method, &key, from, now, now_ms, &mut actions)
        else {
            return actions;
        };
        let response = Bytes::from(response);
        if let Some(bytes) = self.transactions.respond(&key, status, response, now) {
            actions.insert(
                0,
                Action::Send {
                    to: response_peer(&msg, from),
                    bytes,
                },
            );
        }
        actions
    }

    /// Dispatches a valid new request; returns the final response.
    /// Dispatches a valid new request. Returns the final response to send
    /// through its transaction, or None when it is answered later (a new
    /// call, a re-INVITE) or not at all.
    #[allow(clippy::too_many_arguments)]
    fn handle_request(
        &mut self,
        msg: &Message,
        method: &Method,
        key: &TransactionKey,
        from: Peer,
        now: Instant,
        now_ms: i64,
        actions: &mut Vec<Action>,
    ) -> Option<(u16, Vec<u8>)> {
        if let Some(scheme_error) = unsupported_request_uri(msg) {
            return Some((416, self.respond(msg, 416, scheme_error).build()));
        }
        if let Some(unsupported) = unsupported_require(msg, method) {
            return Some((
                420,
                self.respond(msg, 420, "Bad Extension")
                    .header("Unsupported", &unsupported)
                    .build(),
            ));
        }
        if let Method::Extension(_) = method {
            return Some((
                501,
                self.respond(msg, 501, "Not Implemented")
                    .header("Allow", ALLOW)
                    .build(),
            ));
        }
        if *method == Method::Cancel {
            return Some(self.on_cancel(msg, key, now, actions));
        }
        if has_to_tag(msg) {
            return self.in_dialog(msg, method, key, now, actions);
        }
        match method {
            Method::Options => Some((
                200,
                self.respond(msg, 200, "OK")
                    .header("Allow", ALLOW)
                    .header("Accept", ACCEPT)
                    .header("Accept-Language", "ru, en")
                    .header("Supported", "")
                    .build(),
            )),
            Method::Register => Some(self.handle_register(msg, from, now, now_ms, actions)),
            // Requests that only make sense inside a dialog.
            Method::Bye | Method::Info | Method::Update | Method::Prack | Method::Refer => Some((
                481,
                self.respond(msg, 481, "Call/Transaction Does Not Exist")
                    .build(),
            )),
            Method::Invite => {
                if !msg.body().is_empty() && !content_type_is_sdp(msg) {
                    // RFC 3261 §21.4.13: we only understand SDP offers.
                    Some((
                        415,
                        self.respond(msg, 415, "Unsupported Media Type")
                            .header("Accept", "application/sdp")
                            .build(),
                    ))
                } else if !accepts_sdp(msg) {
                    // The answer would be SDP, which the caller refuses (§21.4.7).
                    Some((406, self.respond(msg, 406, "Not Acceptable").build()))
                } else if self.overloaded
                    || self.calls.len().saturating_sub(self.outgoing_calls) >= self.config.max_calls
                {
                    // Overload: refuse before any port, task or inquiry is
                    // spent, so the calls already up keep their audio. The
                    // caller's phone (or a proxy) retries later.
                    self.stats.calls_refused_overload += 1;
                    Some((
                        503,
                        self.respond(msg, 503, "Service Unavailable")
                            .header("Retry-After", "5")
                            .build(),
                    ))
                } else {
                    actions.extend(self.start_call(msg, key.clone(), from, now));
                    None
                }
            }
            _ => Some((
                405,
                self.respond(msg, 405, "Method Not Allowed")
                    .header("Allow", ALLOW)
                    .build(),
            )),
        }
    }

    fn handle_register(
        &mut self,
        msg: &Message,
        from: Peer,
        now: Instant,
        now_ms: i64,
        actions: &mut Vec<Action>,
    ) -> (u16, Vec<u8>) {
        let login = match msg.to_header() {
            Ok(to) => to.uri.user.map(String::from).unwrap_or_default(),
            Err(_) => String::new(),
        };
        if login.is_empty() {
            return (400, self.respond(msg, 400, "Missing user in To").build());
        }
        let agent = self.agents.get(&login).cloned();
        let algorithms: Vec<Algorithm> = agent
            .as_ref()
            .map(|a| a.digest_algorithms.clone())
            .filter(|list| !list.is_empty())
            .unwrap_or_else(|| DEFAULT_ALGORITHMS.to_vec());

        let Some(credentials) = self.our_credentials(msg) else {
            return self.challenge(msg, &algorithms, false, now_ms);
        };
        let credentials = match credentials {
            Ok(c) => c,
            Err(reason) => return (400, self.respond(msg, 400, reason).build()),
        };
        if !algorithms.contains(&credentials.algorithm) {
            // An algorithm we did not offer this login: challenge again.
            return self.challenge(msg, &algorithms, false, now_ms);
        }
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let nonce_status = self.nonces.check(&credentials.nonce, now_s);
        if nonce_status == NonceStatus::Invalid {
            return self.challenge(msg, &algorithms, false, now_ms);
        }
        let method = msg.method().map(Method::as_str).unwrap_or("REGISTER");
        let authenticated = agent.as_ref().is_some_and(|agent| {
            credentials.username == agent.login
                && verify(&credentials, method, agent.ha1(credentials.algorithm))
        });
        if !authenticated {
            self.stats.auth_failures += 1;
            // The same 403 for an unknown login and a wrong password, so
            // logins cannot be enumerated.
            tracing::info!(login = %mask_phone(&login), source = %from.addr, "authentication failed");
            if self.throttle.record_failure(from.addr.ip(), now) {
                tracing::warn!(
                    source = %from.addr.ip(),
                    block_s = self.config.auth_block.as_secs(),
                    "too many failed authentications: ignoring this source"
                );
            }
            return (403, self.respond(msg, 403, "Forbidden").build());
        }
        if nonce_status == NonceStatus::Stale {
            // Right password, old nonce: the phone retries silently
            // (RFC 2617 §3.2.1) instead of asking its user again.
            return self.challenge(msg, &algorithms, true, now_ms);
        }
        let Some(agent) = agent else {
            return (403, self.respond(msg, 403, "Forbidden").build());
        };
        self.register_authenticated(msg, &agent, from, now, now_ms, actions)
    }

    fn register_authenticated(
        &mut self,
        msg: &Message,
        agent: &SipCredentials,
        from: Peer,
        now: Instant,
        now_ms: i64,
        actions: &mut Vec<Action>,
    ) -> (u16, Vec<u8>) {
        let contacts = match msg.contacts() {
            Ok(Contacts::None) => ContactsInput::None,
            Ok(Contacts::Star) => ContactsInput::Star,
            Ok(Contacts::List(list)) => ContactsInput::List(
                list.iter()
                    .map(|c| ContactInput {
                        uri: c.uri.as_str().to_string(),
                        expires_param: c.expires(),
                        q: c.q(),
                    })
                    .collect(),
            ),
            Err(_) => return (400, self.respond(msg, 400, "Bad Contact").build()),
        };
        let expires_header = match msg.expires() {
            Ok(e) => e,
            Err(_) => return (400, self.respond(msg, 400, "Bad Expires").build()),
        };
        let (call_id, cseq) = match (msg.call_id(), msg.cseq()) {
            (Ok(call_id), Ok(cseq)) => (call_id.to_string(), cseq.seq),
            _ => return (400, self.respond(msg, 400, "Bad Request").build()),
        };
        let behind_nat = agent.nat || via_shows_nat(msg, from);
        let request = RegisterRequest {
            login: agent.login.clone(),
            contacts,
            expires_header,
            call_id,
            cseq,
            source: from.addr,
            transport: from.transport,
            nat: behind_nat,
            user_agent: msg.header("User-Agent").map(str::to_string),
            now_ms,
        };
        match self.registrar.register(request) {
            RegisterOutcome::Ok { current, changes } => {
                self.stats.registrations += 1;
                if let Some(conn) = from.conn {
                    self.tcp_flows.insert(from.addr, conn);
                }
                self.throttle.record_success(from.addr.ip(), now);
                for change in changes {
                    if let BindingChange::Upsert(b) = &change {
                        tracing::info!(login = %b.login, contact = %mask_phone(&b.contact), nat = b.nat, "registered");
                    }
                    actions.push(Action::Persist(change));
                }
                let mut response = self.respond(msg, 200, "OK");
                for binding in &current {
                    let left_s = (binding.expires_at_ms - now_ms).max(0) / 1000;
                    response = response.header(
                        "Contact",
                        &format!("<{}>;expires={left_s}", binding.contact),
                    );
                }
                (200, response.build())
            }
            RegisterOutcome::IntervalTooBrief { min_expires } => (
                423,
                self.respond(msg, 423, "Interval Too Brief")
                    .header("Min-Expires", &min_expires.to_string())
                    .build(),
            ),
            RegisterOutcome::BadRequest(reason) => (400, self.respond(msg, 400, reason).build()),
            RegisterOutcome::OutOfOrder => (
                500,
                self.respond(msg, 500, "Out Of Order Request")
                    .header("Retry-After", "1")
                    .build(),
            ),
            RegisterOutcome::TooManyBindings => (
                403,
                self.respond(msg, 403, "Too Many Registrations").build(),
            ),
        }
    }

    /// The first Authorization header for our realm, parsed. `None` when
    /// the phone sent none for us (it gets a challenge).
    fn our_credentials(&self, msg: &Message) -> Option<Result<Credentials, &'static str>> {
        for value in msg.headers("Authorization") {
            match Credentials::parse(value) {
                Ok(c) if c.realm == self.config.realm => return Some(Ok(c)),
                Ok(_) => continue,
                // A scheme other than Digest (RFC 4475 regaut01) is not for
                // us: challenge as if it were absent.
                Err(DigestError::NotDigest) => continue,
                Err(_) => return Some(Err("Malformed Authorization")),
            }
        }
        None
    }

    fn challenge(
        &mut self,
        msg: &Message,
        algorithms: &[Algorithm],
        stale: bool,
        now_ms: i64,
    ) -> (u16, Vec<u8>) {
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let mut response = self.respond(msg, 401, "Unauthorized");
        for &algorithm in algorithms {
            let random = self.next_random().to_be_bytes();
            let challenge = Challenge {
                realm: self.config.realm.clone(),
                nonce: self.nonces.issue(now_s, random),
                opaque: None,
                algorithm,
                stale,
            };
            response = response.header("WWW-Authenticate", &challenge.header_value());
        }
        (401, response.build())
    }

    /// A response with our To tag and Server header.
    fn respond(&mut self, msg: &Message, status: u16, reason: &str) -> ResponseBuilder {
        let tag = format!("{:016x}", self.next_random());
        message::response(msg, status, reason)
            .to_tag(&tag)
            .header("Server", &self.config.user_agent)
    }

    fn reject_unparsable(&mut self, bytes: &[u8], from: Peer) -> Vec<Action> {
        self.stats.dropped_malformed += 1;
        match message::salvage_for_response(bytes) {
            Some(salvaged) => {
                self.stats.answered_400 += 1;
                let response = message::response_from_salvage(&salvaged, 400, "Bad Request")
                    .header("Server", &self.config.user_agent)
                    .build();
                vec![Action::Send {
                    to: salvage_peer(&salvaged, from),
                    bytes: Bytes::from(response),
                }]
            }
            None => Vec::new(),
        }
    }

    fn reject_invalid(&mut self, msg: &Message, from: Peer, rejection: &Rejection) -> Vec<Action> {
        if msg.method() == Some(&Method::Ack) {
            return Vec::new(); // never answer an ACK (RFC 3261 §17.2.1)
        }
        if msg.headers("Via").next().is_none() {
            // A response is routed by its Via (RFC 3261 §18.2.2): without
            // one there is nowhere to send it. A Via that is present but
            // malformed still names the hop, and the 400 goes to the source.
            self.stats.dropped_malformed += 1;
            return Vec::new();
        }
        if rejection.status == 400 {
            self.stats.answered_400 += 1;
        }
        let mut response = self.respond(msg, rejection.status, &rejection.reason);
        if rejection.status == 505 {
            response = response.header("Allow", ALLOW);
        }
        vec![Action::Send {
            to: response_peer(msg, from),
            bytes: Bytes::from(response.build()),
        }]
    }

    /// xorshift64*: cheap, and unpredictable enough for tags and nonce
    /// salt when seeded from the OS (nonces are authenticated by HMAC).
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// RFC 3261 §17.2.3 matching key, or the RFC 2543 fallback for a request
/// whose branch lacks the magic cookie. The source address is folded into
/// `sent_by` so timers know where to retransmit.
fn transaction_key(msg: &Message, from: Peer) -> Option<TransactionKey> {
    let via = msg.top_via().ok()?;
    let cseq = msg.cseq().ok()?;
    let method = match cseq.method {
        Method::Ack => Method::Invite,
        other => other,
    };
    let branch = match via.branch() {
        Some(b) if b.starts_with("z9hG4bK") => b.to_string(),
        _ => {
            let from_tag = msg
                .from_header()
                .ok()
                .and_then(|f| f.tag().map(str::to_string))
                .unwrap_or_default();
            format!("2543:{}:{}:{}", msg.call_id().ok()?, cseq.seq, from_tag)
        }
    };
    Some(TransactionKey {
        branch,
        sent_by: format!(
            "{}|{}|{}|{}",
            from.transport,
            from.addr,
            from.conn.unwrap_or(0),
            via.host
        ),
        method: method.as_str().to_string(),
    })
}

/// Recovers the peer a transaction key was made for (see `transaction_key`).
fn peer_from_key(key: &TransactionKey) -> Option<Peer> {
    let mut parts = key.sent_by.split('|');
    let transport = match parts.next()? {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        _ => return None,
    };
    let addr = parts.next()?.parse().ok()?;
    let conn: u64 = parts.next()?.parse().ok()?;
    Some(Peer {
        addr,
        transport,
        conn: (transport == Transport::Tcp).then_some(conn),
    })
}

/// Where a response goes (RFC 3261 §18.2.2, RFC 3581): over TCP back on the
/// same connection; over UDP to the source address when the client asked
/// for `rport` or is behind NAT, else to the source IP and the Via port.
fn response_peer(msg: &Message, from: Peer) -> Peer {
    if from.transport.is_reliable() {
        return from;
    }
    match msg.top_via() {
        Ok(via)
            if via.rport().is_none()
                && via.host.parse::<std::net::IpAddr>().ok() == Some(from.addr.ip()) =>
        {
            Peer {
                addr: SocketAddr::new(from.addr.ip(), via.sent_by_port()),
                ..from
            }
        }
        _ => from,
    }
}

fn salvage_peer(_salvaged: &Salvaged, from: Peer) -> Peer {
    from
}

/// NAT shows when the REGISTER's source differs from what its Via claims.
fn via_shows_nat(msg: &Message, from: Peer) -> bool {
    match msg.top_via() {
        Ok(via) => {
            let same_ip = via.host.parse::<std::net::IpAddr>().ok() == Some(from.addr.ip());
            !same_ip || via.sent_by_port() != from.addr.port()
        }
        Err(_) => true,
    }
}

/// Media type of the body, without parameters, lower-cased.
fn content_type(msg: &Message) -> Option<String> {
    msg.header("Content-Type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

fn content_type_is_sdp(msg: &Message) -> bool {
    content_type(msg).as_deref() == Some("application/sdp")
}

/// No Accept header means `application/sdp` (RFC 3261 §20.1).
fn accepts_sdp(msg: &Message) -> bool {
    let accepted = msg.header_list("Accept");
    accepted.is_empty()
        || accepted.iter().any(|range| {
            let range = range.split(';').next().unwrap_or("").trim();
            ["application/sdp", "application/*", "*/*"]
                .iter()
                .any(|ok| range.eq_ignore_ascii_case(ok))
        })
}

fn has_to_tag(msg: &Message) -> bool {
    msg.to_header().is_ok_and(|to| to.tag().is_some())
}

/// 416 for a Request-URI scheme we cannot serve (RFC 3261 §8.2.2.1).
fn unsupported_request_uri(msg: &Message) -> Option<&'static str> {
    let uri = msg.request_uri()?;
    let scheme = uri.split(':').next().unwrap_or("");
    if scheme.eq_ignore_ascii_case("sip")
        || scheme.eq_ignore_ascii_case("sips")
        || scheme.eq_ignore_ascii_case("tel")
    {
        None
    } else {
        Some("Unsupported URI Scheme")
    }
}

/// The option tags of `Require` we do not support (we support none yet);
/// ACK and CANCEL are exempt (RFC 3261 §8.2.2.3).
fn unsupported_require(msg: &Message, method: &Method) -> Option<String> {
    if matches!(method, Method::Ack | Method::Cancel) {
        return None;
    }
    let tags = msg.header_list("Require");
    if tags.is_empty() {
        None
    } else {
        Some(tags.join(", "))
    }
}

#[cfg(test)]
mod tests {
    //! The endpoint driven without sockets or clocks: virtual time makes
    //! nonce staleness, retransmission and expiry testable in microseconds.
    use super::*;
    use crate::sip::digest::ha1;

    pub(super) const REALM: &str = "hotline";
    pub(super) const T0_MS: i64 = 1_800_000_000_000;

    pub(super) fn config() -> EndpointConfig {
        EndpointConfig {
            realm: REALM.into(),
            user_agent: "hotline-test".into(),
            limits: Limits::default(),
            registrar: RegistrarConfig {
                min_expires: 60,
                max_expires: 3600,
                default_expires: 3600,
                max_bindings_per_login: 10,
            },
            nonce_secret: [7; 32],
            nonce_lifetime_s: 300,
            auth_fail_limit: 10,
            auth_fail_window: Duration::from_secs(60),
            auth_block: Duration::from_secs(300),
            timers: Timers::default(),
            max_calls: 1000,
        }
    }

    pub(super) fn endpoint_with(logins: &[&str]) -> Endpoint {
        let mut e = Endpoint::new(config(), 42);
        for login in logins {
            e.upsert_agent(SipCredentials {
                login: login.to_string(),
                digest_algorithms: vec![Algorithm::Md5],
                ha1_md5: ha1(Algorithm::Md5, login, REALM, &format!("pw-{login}")),
                ha1_sha256: ha1(Algorithm::Sha256, login, REALM, &format!("pw-{login}")),
                nat: false,
            });
        }
        e
    }

    pub(super) fn peer(port: u16) -> Peer {
        Peer {
            addr: SocketAddr::from(([10, 1, (port >> 8) as u8, port as u8], port)),
            transport: Transport::Udp,
            conn: None,
        }
    }

    pub(super) fn register(
        login: &str,
        from: Peer,
        cseq: u32,
        branch: &str,
        auth: Option<&str>,
    ) -> Bytes {
        let mut s = format!(
            "REGISTER sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:{login}@{REALM}>;tag=f{login}\r\nTo: <sip:{login}@{REALM}>\r\nCall-ID: reg-{login}-{port}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{login}@{addr}>\r\nExpires: 120\r\n",
            addr = from.addr,
            port = from.addr.port()
        );
        if let Some(a) = auth {
            s.push_str(&format!("Authorization: {a}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        Bytes::from(s)
    }

    pub(super) fn sent(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { bytes, .. } => Some(String::from_utf8_lossy(bytes).to_string()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn status(response: &str) -> u16 {
        response[8..11].parse().unwrap()
    }

    pub(super) fn nonce_of(response: &str) -> String {
        let start = response.find("nonce=\"").unwrap() + 7;
        let end = response[start..].find('"').unwrap();
        response[start..start + end].to_string()
    }

    pub(super) fn answer(login: &str, password: &str, nonce: &str) -> String {
        let uri = format!("sip:{REALM}");
        let creds = Credentials {
            username: login.into(),
            realm: REALM.into(),
            nonce: nonce.into(),
            uri: uri.clone(),
            response: String::new(),
            algorithm: Algorithm::Md5,
            qop: Some("auth".into()),
            nc: Some("00000001".into()),
            cnonce: Some("abc".into()),
            opaque: None,
        };
        let h1 = ha1(Algorithm::Md5, login, REALM, password);
        let response = super::super::digest::expected_response(&creds, "REGISTER", &h1);
        format!(
            "Digest username=\"{login}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\""
        )
    }

    #[test]
    fn thousand_phones_register_in_virtual_time_and_expire() {
        let logins: Vec<String> = (0..1000).map(|i| format!("{}", 3000 + i)).collect();
        let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
        let mut e = endpoint_with(&refs);
        let t0 = Instant::now();
        for (i, login) in logins.iter().enumerate() {
            let from = peer(20_000 + i as u16);
            let challenge = sent(&e.on_message(
                register(login, from, 1, &format!("a{i}"), None),
                from,
                t0,
                T0_MS,
            ));
            assert_eq!(status(&challenge[0]), 401);
            let auth = answer(login, &format!("pw-{login}"), &nonce_of(&challenge[0]));
            let actions = e.on_message(
                register(login, from, 2, &format!("b{i}"), Some(&auth)),
                from,
                t0,
                T0_MS,
            );
            assert_eq!(status(&sent(&actions)[0]), 200);
            assert!(
                actions
                    .iter()
                    .any(|a| matches!(a, Action::Persist(BindingChange::Upsert(_))))
            );
        }
        assert_eq!(e.registrar().registered_logins().count(), 1000);
        // Two minutes later (Expires: 120) every binding is gone and each
        // removal is handed to the store.
        let later_ms = T0_MS + 121_000;
        let removed = e
            .handle_timeout(t0 + Duration::from_secs(121), later_ms)
            .into_iter()
            .filter(|a| matches!(a, Action::Persist(BindingChange::Remove { .. })))
            .count();
        assert_eq!(removed, 1000);
        assert!(e.registrar().lookup("3000", later_ms).is_empty());
    }

    #[test]
    fn right_password_with_old_nonce_gets_stale_challenge() {
        let mut e = endpoint_with(&["1001"]);
        let from = peer(5060);
        let t0 = Instant::now();
        let challenge = sent(&e.on_message(register("1001", from, 1, "s1", None), from, t0, T0_MS));
        let nonce = nonce_of(&challenge[0]);
        // Ten minutes later the nonce has outlived its 300 s.
        let later = T0_MS + 600_000;
        let auth = answer("1001", "pw-1001", &nonce);
        let stale = sent(&e.on_message(
            register("1001", from, 2, "s2", Some(&auth)),
            from,
            t0,
            later,
        ));
        assert_eq!(status(&stale[0]), 401);
        assert!(stale[0].contains("stale=true"), "{}", stale[0]);
        // A wrong password with the same old nonce is a plain 403.
        let bad = answer("1001", "wrong", &nonce);
        let refused =
            sent(&e.on_message(register("1001", from, 3, "s3", Some(&bad)), from, t0, later));
        assert_eq!(status(&refused[0]), 403);
    }

    #[test]
    fn request_retransmissions_are_absorbed_until_the_transaction_ends() {
        let mut e = endpoint_with(&[]);
        let from = peer(5070);
        let t0 = Instant::now();
        let options = Bytes::from_static(b"OPTIONS sip:hotline SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.19.206:5070;branch=z9hG4bKopt\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:hotline@b>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        let first = sent(&e.on_message(options.clone(), from, t0, T0_MS));
        let again = sent(&e.on_message(options.clone(), from, t0 + Duration::from_secs(1), T0_MS));
        assert_eq!(first, again, "same bytes, same To tag");
        assert_eq!(e.stats().retransmissions_absorbed, 1);
        // After Timer J (64*T1 = 32 s) the transaction is gone and the same
        // request is new again (a new To tag proves it was processed anew).
        e.handle_timeout(t0 + Duration::from_secs(40), T0_MS);
        let fresh = sent(&e.on_message(options, from, t0 + Duration::from_secs(41), T0_MS));
        assert_ne!(first, fresh);
    }

    #[test]
    fn throttle_blocks_after_ten_failures_and_lifts_later() {
        let mut e = endpoint_with(&["1001"]);
        let from = peer(6000);
        let t0 = Instant::now();
        for i in 0..10 {
            let challenge = sent(&e.on_message(
                register("1001", from, 2 * i + 1, &format!("c{i}"), None),
                from,
                t0,
                T0_MS,
            ));
            let auth = answer("1001", "bad", &nonce_of(&challenge[0]));
            let r = sent(&e.on_message(
                register("1001", from, 2 * i + 2, &format!("d{i}"), Some(&auth)),
                from,
                t0,
                T0_MS,
            ));
            assert_eq!(status(&r[0]), 403);
        }
        assert!(
            e.on_message(
                register("1001", from, 100, "blocked", None),
                from,
                t0,
                T0_MS
            )
            .is_empty()
        );
        // Another source is not affected.
        let other = peer(6001);
        assert_eq!(
            sent(&e.on_message(register("1001", other, 1, "o", None), other, t0, T0_MS)).len(),
            1
        );
        // Six minutes later the block has lifted.
        let later = t0 + Duration::from_secs(360);
        assert_eq!(
            sent(&e.on_message(
                register("1001", from, 101, "free", None),
                from,
                later,
                T0_MS
            ))
            .len(),
            1
        );
    }

    pub(super) fn invite(branch: &str, call_id: &str) -> Bytes {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.1.0.9\r\ns=-\r\nc=IN IP4 10.1.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        Bytes::from(format!(
            "INVITE sip:hotline@hotline SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.9:5060;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: \"Caller\" <sip:79161234567@10.1.0.9>;tag=caller\r\nTo: <sip:hotline@hotline>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:79161234567@10.1.0.9:5060>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ))
    }

    pub(super) fn in_dialog(
        method: &str,
        branch: &str,
        call_id: &str,
        to_tag: &str,
        cseq: u32,
    ) -> Bytes {
        Bytes::from(format!(
            "{method} sip:hotline@hotline SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.9:5060;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:79161234567@10.1.0.9>;tag=caller\r\nTo: <sip:hotline@hotline>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    pub(super) fn caller() -> Peer {
        Peer {
            addr: "10.1.0.9:5060".parse().unwrap(),
            transport: Transport::Udp,
            conn: None,
        }
    }

    pub(super) fn call_events(actions: &[Action]) -> Vec<CallEvent> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Call(_, e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn to_tag_of(response: &str) -> String {
        let to = response.lines().find(|l| l.starts_with("To:")).unwrap();
        to.split("tag=").nth(1).unwrap().trim().to_string()
    }

    /// INVITE → 100 + Incoming; answer → 200 retransmitted at T1, 2*T1
    /// until the ACK; BYE → 200, HungUp, Ended.
    #[test]
    fn invite_answer_retransmit_until_ack_then_bye() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let actions = e.on_message(invite("i1", "c1"), caller(), t0, T0_MS);
        assert_eq!(status(&sent(&actions)[0]), 100);
        let Some(Action::Incoming(call)) =
            actions.iter().find(|a| matches!(a, Action::Incoming(_)))
        else {
            panic!("no Incoming")
        };
        assert_eq!(call.dialled, "hotline");
        assert_eq!(call.caller, "79161234567");
        let handle = call.handle;
        let ok = sent(&e.answer(handle, "v=0\r\n", "10.0.0.1:5060".parse().unwrap(), t0));
        assert_eq!(status(&ok[0]), 200);
        assert!(
            ok[0].contains("Contact: <sip:hotline@10.0.0.1:5060>"),
            "{}",
            ok[0]
        );
        assert!(ok[0].contains("application/sdp"));
        let tag = to_tag_of(&ok[0]);
        // No ACK: the 2xx goes again at 500 ms and at 1.5 s (500 + 1000).
        let again = sent(&e.handle_timeout(t0 + Duration::from_millis(500), T0_MS));
        assert_eq!(again, ok);
        assert!(sent(&e.handle_timeout(t0 + Duration::from_millis(1000), T0_MS)).is_empty());
        assert_eq!(
            sent(&e.handle_timeout(t0 + Duration::from_millis(1500), T0_MS)),
            ok
        );
        // The ACK confirms and stops the retransmissions.
        let ack = e.on_message(
            in_dialog("ACK", "a1", "c1", &tag, 1),
            caller(),
            t0 + Duration::from_secs(2),
            T0_MS,
        );
        assert_eq!(call_events(&ack), [CallEvent::Confirmed]);
        assert!(sent(&e.handle_timeout(t0 + Duration::from_secs(10), T0_MS)).is_empty());
        // The caller hangs up.
        let bye = e.on_message(
            in_dialog("BYE", "b1", "c1", &tag, 2),
            caller(),
            t0 + Duration::from_secs(20),
            T0_MS,
        );
        assert_eq!(status(&sent(&bye)[0]), 200);
        assert_eq!(call_events(&bye), [CallEvent::HungUp, CallEvent::Ended]);
        assert_eq!(e.call_count(), 0);
        // A BYE for the finished dialog is 481.
        let late = e.on_message(
            in_dialog("BYE", "b2", "c1", &tag, 3),
            caller(),
            t0 + Duration::from_secs(21),
            T0_MS,
        );
        assert_eq!(status(&sent(&late)[0]), 481);
    }

    #[test]
    fn cancel_before_answer_gives_487_and_ends_the_call() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        e.on_message(invite("i2", "c2"), caller(), t0, T0_MS);
        let cancel = Bytes::from(
            String::from_utf8_lossy(&invite("i2", "c2"))
                .replacen("INVITE sip", "CANCEL sip", 1)
                .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"),
        );
        let actions = e.on_message(cancel, caller(), t0, T0_MS);
        let statuses: Vec<u16> = sent(&actions).iter().map(|r| status(r)).collect();
        assert!(
            statuses.contains(&200) && statuses.contains(&487),
            "{statuses:?}"
        );
        assert_eq!(
            call_events(&actions),
            [CallEvent::Cancelled, CallEvent::Ended]
        );
        assert_eq!(e.call_count(), 0);
    }

    #[test]
    fn our_bye_is_retransmitted_and_ends_on_its_200() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let actions = e.on_message(invite("i3", "c3"), caller(), t0, T0_MS);
        let Some(Action::Incoming(call)) = actions
            .into_iter()
            .find(|a| matches!(a, Action::Incoming(_)))
        else {
            panic!()
        };
        let ok = sent(&e.answer(call.handle, "v=0\r\n", "10.0.0.1:5060".parse().unwrap(), t0));
        let tag = to_tag_of(&ok[0]);
        e.on_message(in_dialog("ACK", "a3", "c3", &tag, 1), caller(), t0, T0_MS);
        let bye = sent(&e.hangup(call.handle, t0));
        assert!(
            bye[0].starts_with("BYE sip:79161234567@10.1.0.9:5060 SIP/2.0"),
            "{}",
            bye[0]
        );
        assert!(
            bye[0].contains(&format!("From: <sip:hotline@hotline>;tag={tag}")),
            "{}",
            bye[0]
        );
        assert!(
            bye[0].contains("To: \"Caller\" <sip:79161234567@10.1.0.9>;tag=caller"),
            "{}",
            bye[0]
        );
        // Unanswered, it goes again after T1.
        assert_eq!(
            sent(&e.handle_timeout(t0 + Duration::from_millis(500), T0_MS)),
            bye
        );
        let branch = bye[0]
            .split("branch=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let response = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch};rport\r\nFrom: <sip:hotline@hotline>;tag={tag}\r\nTo: <sip:79161234567@10.1.0.9>;tag=caller\r\nCall-ID: c3\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        );
        let done = e.on_message(
            Bytes::from(response),
            caller(),
            t0 + Duration::from_secs(1),
            T0_MS,
        );
        assert_eq!(call_events(&done), [CallEvent::Ended]);
        assert_eq!(e.call_count(), 0);
    }

    #[test]
    fn missing_ack_tears_the_call_down_after_64_t1() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let actions = e.on_message(invite("i4", "c4"), caller(), t0, T0_MS);
        let Some(Action::Incoming(call)) = actions
            .into_iter()
            .find(|a| matches!(a, Action::Incoming(_)))
        else {
            panic!()
        };
        e.answer(call.handle, "v=0\r\n", "10.0.0.1:5060".parse().unwrap(), t0);
        let mut events = Vec::new();
        let mut byes = 0;
        let mut t = t0;
        while t < t0 + Duration::from_secs(80) {
            t += Duration::from_millis(250);
            let actions = e.handle_timeout(t, T0_MS);
            byes += sent(&actions)
                .iter()
                .filter(|m| m.starts_with("BYE "))
                .count();
            events.extend(call_events(&actions));
        }
        assert_eq!(events.first(), Some(&CallEvent::AckTimeout));
        assert_eq!(
            events.last(),
            Some(&CallEvent::Ended),
            "BYE timed out too: {events:?}"
        );
        assert!(byes >= 1);
        assert_eq!(e.call_count(), 0);
    }

    #[test]
    fn thousand_simultaneous_calls_all_end_exactly_once() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let mut ended = std::collections::HashMap::new();
        let mut tags = Vec::new();
        for i in 0..1000 {
            let actions = e.on_message(
                invite(&format!("m{i}"), &format!("call{i}")),
                caller(),
                t0,
                T0_MS,
            );
            let Some(Action::Incoming(call)) = actions
                .into_iter()
                .find(|a| matches!(a, Action::Incoming(_)))
            else {
                panic!()
            };
            let ok = sent(&e.answer(call.handle, "v=0\r\n", "10.0.0.1:5060".parse().unwrap(), t0));
            tags.push((call.handle, to_tag_of(&ok[0])));
        }
        for (i, (handle, tag)) in tags.iter().enumerate() {
            let call_id = format!("call{i}");
            e.on_message(
                in_dialog("ACK", &format!("a{i}"), &call_id, tag, 1),
                caller(),
                t0,
                T0_MS,
            );
            // Half hang up themselves, the other half are hung up by us and
            // never answer our BYE.
            let actions = if i % 2 == 0 {
                e.on_message(
                    in_dialog("BYE", &format!("b{i}"), &call_id, tag, 2),
                    caller(),
                    t0,
                    T0_MS,
                )
            } else {
                e.hangup(*handle, t0)
            };
            for ev in call_events(&actions) {
                if ev == CallEvent::Ended {
                    *ended.entry(*handle).or_insert(0) += 1;
                }
            }
        }
        let actions = e.handle_timeout(t0 + Duration::from_secs(40), T0_MS);
        for a in &actions {
            if let Action::Call(h, CallEvent::Ended) = a {
                *ended.entry(*h).or_insert(0) += 1;
            }
        }
        assert_eq!(ended.len(), 1000);
        assert!(ended.values().all(|&n| n == 1));
        assert_eq!(e.call_count(), 0);
    }

    #[test]
    fn invites_beyond_max_calls_get_503_with_retry_after() {
        let mut e = Endpoint::new(
            EndpointConfig {
                max_calls: 2,
                ..config()
            },
            9,
        );
        let t0 = Instant::now();
        for i in 0..2 {
            let actions = e.on_message(
                invite(&format!("o{i}"), &format!("ov{i}")),
                caller(),
                t0,
                T0_MS,
            );
            assert!(actions.iter().any(|a| matches!(a, Action::Incoming(_))));
        }
        let refused = e.on_message(invite("o3", "ov3"), caller(), t0, T0_MS);
        let responses = sent(&refused);
        assert_eq!(status(&responses[0]), 503);
        assert!(responses[0].contains("Retry-After: 5"));
        assert!(!refused.iter().any(|a| matches!(a, Action::Incoming(_))));
        assert_eq!(e.stats().calls_refused_overload, 1);
        assert_eq!(e.call_count(), 2);
    }

    #[test]
    fn overload_signal_refuses_new_calls_until_it_clears() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        e.set_overloaded(true);
        let refused = sent(&e.on_message(invite("p1", "pv1"), caller(), t0, T0_MS));
        assert_eq!(status(&refused[0]), 503);
        e.set_overloaded(false);
        let taken = e.on_message(invite("p2", "pv2"), caller(), t0, T0_MS);
        assert!(taken.iter().any(|a| matches!(a, Action::Incoming(_))));
    }
}
