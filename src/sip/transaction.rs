//! RFC 3261 §17 transactions (with the RFC 6026 `Accepted` state for INVITE
//! 2xx), sans-IO: requests, responses and `now` go in, bytes to (re)send and
//! events for the transaction user (TU) come out.
//!
//! Each table keeps one timer queue (a binary heap of `(deadline, arm, id,
//! slot)` with lazy invalidation), so thousands of transactions cost
//! O(log n) per timer and `poll_timeout` is O(1). A transaction has at most
//! two armed timers: a *retransmit* timer (A, E, G) and a *lifetime* timer
//! (B, D, F, H, I, J, K, L, M). Re-arming or disarming a slot just replaces
//! the slot's `(deadline, arm)`; heap entries that no longer match are
//! skipped when they reach the top.
//!
//! Over a reliable transport (TCP) no retransmission timer is armed and the
//! wait timers D, I, J, K are zero, so the transaction terminates at the
//! next `handle_timeout(now)`. Every termination is reported as an event from
//! `handle_timeout`, so the TU has one place to clean up.
//!
//! Matching (§17.1.3 / §17.2.3) is the caller's job: it builds the
//! [`TransactionKey`] from the top Via branch and sent-by and the CSeq method.
//! Only RFC 3261 branches (`z9hG4bK…`) can be matched this way; RFC 2543
//! matching is not supported.

use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// RFC 3261 timer base values (§17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J, L, M.
    fn t1_x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Timer D for an unreliable transport: "> 32 s" (§17.1.1.2).
const TIMER_D: Duration = Duration::from_secs(32);

/// Identifies a transaction (§17.2.3): top Via branch, Via sent-by
/// (host lower-cased, port included) and the CSeq method. An ACK belongs to
/// the INVITE transaction (build its key with [`TransactionKey::new`], which
/// maps `ACK` to `INVITE`); a CANCEL is a transaction of its own.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TransactionKey {
    pub branch: String,
    pub sent_by: String,
    pub method: String,
}

impl TransactionKey {
    /// A key whose method is `INVITE` when `method` is `ACK`.
    pub fn new(branch: impl Into<String>, sent_by: impl Into<String>, method: &str) -> Self {
        let method = if method == "ACK" { "INVITE" } else { method };
        TransactionKey {
            branch: branch.into(),
            sent_by: sent_by.into(),
            method: method.to_string(),
        }
    }
}

/// Something a server transaction asks of the shell or the TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// (Re)send this response (Timer G).
    Transmit(Bytes),
    /// Timer H fired: the final non-2xx response was never acknowledged.
    /// Always followed by `Terminated`.
    Timeout,
    /// The transaction is gone from the table.
    Terminated,
}

/// What [`ServerTransactions::on_request`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLookup {
    /// The TU must handle the request. For a non-ACK request the table has
    /// created its transaction. For an ACK no transaction is created: it is
    /// the ACK of a 2xx (a dialog matter) or of an unknown transaction.
    New,
    /// A retransmission, absorbed: resend this last response, or nothing
    /// if the TU has not answered yet.
    Retransmission(Option<Bytes>),
    /// An ACK absorbed by an INVITE server transaction that sent a final non-2xx.
    AckForFinal,
}

/// Something a client transaction tells the shell or the TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Send these bytes (a request retransmission, or the ACK of a non-2xx).
    Transmit(Bytes),
    /// Pass this response status to the TU. Retransmissions of a non-2xx
    /// final are absorbed; every 2xx of an INVITE is passed (the TU ACKs each).
    Response(u16),
    /// Timer B/F fired without a final response: the TU treats it as 408.
    /// Always followed by `Terminated`.
    Timeout,
    /// The transaction is gone from the table.
    Terminated,
}

/// Which of a transaction's two timers a heap entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    /// A, E or G.
    Retransmit,
    /// B, D, F, H, I, J, K, L or M.
    Lifetime,
}

/// One armed timer: its deadline and the unique number of this arming.
type Armed = (Instant, u64);

struct Entry<S> {
    key: TransactionKey,
    retransmit: Option<Armed>,
    lifetime: Option<Armed>,
    state: S,
}

/// The transaction map plus its timer heap, shared by the client and server tables.
struct Table<S> {
    by_key: HashMap<TransactionKey, u64>,
    entries: HashMap<u64, Entry<S>>,
    heap: BinaryHeap<Reverse<(Instant, u64, u64, Slot)>>,
    next_id: u64,
    next_arm: u64,
}

impl<S> Table<S> {
    fn new() -> Self {
        Table {
            by_key: HashMap::new(),
            entries: HashMap::new(),
            heap: BinaryHeap::new(),
            next_id: 0,
            next_arm: 0,
        }
    }

    /// Adds a transaction, replacing (silently) any with the same key.
    fn insert(&mut self, key: TransactionKey, state: S) -> u64 {
        if let Some(old) = self.by_key.remove(&key) {
            self.entries.remove(&old);
        }
        self.next_id += 1;
        let id = self.next_id;
        self.by_key.insert(key.clone(), id);
        self.entries.insert(
            id,
            Entry {
                key,
                retransmit: None,
                lifetime: None,
                state,
            },
        );
        id
    }

    /// Drops a transaction without events; whether it existed.
    fn terminate(&mut self, key: &TransactionKey) -> bool {
        let existed = self.id_of(key).and_then(|id| self.remove(id)).is_some();
        self.prune_top();
        existed
    }

    fn id_of(&self, key: &TransactionKey) -> Option<u64> {
        self.by_key.get(key).copied()
    }

    fn remove(&mut self, id: u64) -> Option<Entry<S>> {
        let entry = self.entries.remove(&id)?;
        self.by_key.remove(&entry.key);
        Some(entry)
    }

    fn arm(&mut self, id: u64, slot: Slot, at: Instant) {
        self.next_arm += 1;
        let arm = self.next_arm;
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let armed = Some((at, arm));
        match slot {
            Slot::Retransmit => entry.retransmit = armed,
            Slot::Lifetime => entry.lifetime = armed,
        }
        self.heap.push(Reverse((at, arm, id, slot)));
    }

    fn disarm(entry: &mut Entry<S>, slot: Slot) {
        match slot {
            Slot::Retransmit => entry.retransmit = None,
            Slot::Lifetime => entry.lifetime = None,
        }
    }

    fn is_live(&self, at: Instant, arm: u64, id: u64, slot: Slot) -> bool {
        self.entries.get(&id).is_some_and(|entry| {
            let armed = match slot {
                Slot::Retransmit => entry.retransmit,
                Slot::Lifetime => entry.lifetime,
            };
            armed == Some((at, arm))
        })
    }

    /// Pops the next live timer due at `now`, disarming it.
    fn pop_due(&mut self, now: Instant) -> Option<(u64, Slot, Instant)> {
        while let Some(&Reverse((at, arm, id, slot))) = self.heap.peek() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if self.is_live(at, arm, id, slot) {
                if let Some(entry) = self.entries.get_mut(&id) {
                    Self::disarm(entry, slot);
                }
                return Some((id, slot, at));
            }
        }
        None
    }

    /// Drops invalidated entries from the top so `poll_timeout` is exact.
    fn prune_top(&mut self) {
        while let Some(&Reverse((at, arm, id, slot))) = self.heap.peek() {
            if self.is_live(at, arm, id, slot) {
                return;
            }
            self.heap.pop();
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }
}

/// `from + by`, saturating instead of panicking on absurd configured timers.
fn later(from: Instant, by: Duration) -> Instant {
    from.checked_add(by).unwrap_or(from)
}

fn is_provisional(status: u16) -> bool {
    status < 200
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

// ---------------------------------------------------------------- server

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    /// Non-INVITE, no response yet.
    Trying,
    /// A provisional was sent (INVITE starts here).
    Proceeding,
    /// A final was sent (non-2xx for INVITE); absorbing retransmissions.
    Completed,
    /// INVITE: the ACK for the non-2xx arrived (Timer I).
    Confirmed,
    /// INVITE: a 2xx was sent (RFC 6026, Timer L).
    Accepted,
}

struct ServerTxn {
    invite: bool,
    reliable: bool,
    state: ServerState,
    last_response: Option<Bytes>,
    /// Current Timer G interval.
    interval: Duration,
}

/// All server transactions of an endpoint: the table plus its timer queue.
pub struct ServerTransactions {
    timers: Timers,
    table: Table<ServerTxn>,
}

impl ServerTransactions {
    pub fn new(timers: Timers) -> Self {
        ServerTransactions {
            timers,
            table: Table::new(),
        }
    }

    /// A request arrived. `New` → the table created the transaction (Trying
    /// for non-INVITE, Proceeding for INVITE) and the TU must handle the
    /// request. The TU should send 100 Trying for an INVITE it will not
    /// answer within 200 ms (§17.2.1).
    ///
    /// A non-INVITE transaction the TU never answers is dropped after 64*T1
    /// (the client gave up by then), so a TU bug cannot leak entries.
    pub fn on_request(
        &mut self,
        key: TransactionKey,
        is_invite: bool,
        is_ack: bool,
        reliable: bool,
        now: Instant,
    ) -> ServerLookup {
        let key = if is_ack && key.method == "ACK" {
            TransactionKey {
                method: "INVITE".to_string(),
                ..key
            }
        } else {
            key
        };
        let result = match self.table.id_of(&key) {
            Some(id) if is_ack => self.on_ack(id, now),
            Some(id) => {
                let last = self
                    .table
                    .entries
                    .get(&id)
                    .and_then(|entry| match entry.state.state {
                        ServerState::Confirmed => None,
                        _ => entry.state.last_response.clone(),
                    });
                ServerLookup::Retransmission(last)
            }
            None if is_ack => ServerLookup::New,
            None => {
                let state = if is_invite {
                    ServerState::Proceeding
                } else {
                    ServerState::Trying
                };
                let txn = ServerTxn {
                    invite: is_invite,
                    reliable,
                    state,
                    last_response: None,
                    interval: self.timers.t1,
                };
                let id = self.table.insert(key, txn);
                if !is_invite {
                    self.table
                        .arm(id, Slot::Lifetime, later(now, self.timers.t1_x64()));
                }
                ServerLookup::New
            }
        };
        self.table.prune_top();
        result
    }

    fn on_ack(&mut self, id: u64, now: Instant) -> ServerLookup {
        let Some(entry) = self.table.entries.get_mut(&id) else {
            return ServerLookup::New;
        };
        match entry.state.state {
            ServerState::Completed if entry.state.invite => {
                entry.state.state = ServerState::Confirmed;
                entry.retransmit = None;
                let wait = if entry.state.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                self.table.arm(id, Slot::Lifetime, later(now, wait));
                ServerLookup::AckForFinal
            }
            ServerState::Confirmed => ServerLookup::AckForFinal,
            // RFC 6026 §7.1: an ACK matching an Accepted transaction goes to the TU.
            ServerState::Accepted => ServerLookup::New,
            // An ACK before any final response means nothing: absorb it.
            _ => ServerLookup::Retransmission(None),
        }
    }

    /// The TU responds. Returns the bytes to transmit now (None if the
    /// transaction is unknown, terminated, or in a state that discards the
    /// response per §17.2).
    pub fn respond(
        &mut self,
        key: &TransactionKey,
        status: u16,
        response: Bytes,
        now: Instant,
    ) -> Option<Bytes> {
        let id = self.table.id_of(key)?;
        let timers = self.timers;
        let entry = self.table.entries.get_mut(&id)?;
        let txn = &mut entry.state;
        let mut arm_retransmit = None;
        let mut arm_lifetime = None;
        let send = match (txn.invite, txn.state) {
            (false, ServerState::Trying | ServerState::Proceeding) => {
                if !is_provisional(status) {
                    txn.state = ServerState::Completed;
                    // Timer J
                    arm_lifetime = Some(if txn.reliable {
                        Duration::ZERO
                    } else {
                        timers.t1_x64()
                    });
                } else {
                    txn.state = ServerState::Proceeding;
                }
                true
            }
            (true, ServerState::Proceeding) => {
                if is_success(status) {
                    txn.state = ServerState::Accepted;
                    arm_lifetime = Some(timers.t1_x64()); // Timer L
                } else if !is_provisional(status) {
                    txn.state = ServerState::Completed;
                    if !txn.reliable {
                        txn.interval = timers.t1;
                        arm_retransmit = Some(timers.t1); // Timer G
                    }
                    arm_lifetime = Some(timers.t1_x64()); // Timer H
                }
                true
            }
            // RFC 6026 §8.5: 2xx retransmissions from the TU pass through.
            (true, ServerState::Accepted) => is_success(status),
            _ => false,
        };
        if !send {
            return None;
        }
        txn.last_response = Some(response.clone());
        if let Some(after) = arm_retransmit {
            self.table.arm(id, Slot::Retransmit, later(now, after));
        }
        if let Some(after) = arm_lifetime {
            self.table.arm(id, Slot::Lifetime, later(now, after));
        }
        self.table.prune_top();
        Some(response)
    }

    /// Drops a transaction without events (e.g. the TU abandons an INVITE
    /// it will never answer). Returns whether it existed.
    pub fn terminate(&mut self, key: &TransactionKey) -> bool {
        self.table.terminate(key)
    }

    /// The earliest deadline; call `handle_timeout` then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.poll_timeout()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<(TransactionKey, ServerEvent)> {
        let mut events = Vec::new();
        while let Some((id, slot, deadline)) = self.table.pop_due(now) {
            match slot {
                Slot::Retransmit => {
                    let t2 = self.timers.t2;
                    let Some(entry) = self.table.entries.get_mut(&id) else {
                        continue;
                    };
                    // Timer G: only INVITE Completed arms it.
                    if let Some(response) = entry.state.last_response.clone() {
                        events.push((entry.key.clone(), ServerEvent::Transmit(response)));
                    }
                    entry.state.interval = entry.state.interval.saturating_mul(2).min(t2);
                    let next = later(deadline, entry.state.interval);
                    self.table.arm(id, Slot::Retransmit, next);
                }
                Slot::Lifetime => {
                    let Some(entry) = self.table.remove(id) else {
                        continue;
                    };
                    if entry.state.invite && entry.state.state == ServerState::Completed {
                        events.push((entry.key.clone(), ServerEvent::Timeout)); // Timer H
                    }
                    events.push((entry.key, ServerEvent::Terminated));
                }
            }
        }
        self.table.prune_top();
        events
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.table.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.entries.is_empty()
    }
}

// ---------------------------------------------------------------- client

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    /// INVITE sent, nothing received.
    Calling,
    /// Non-INVITE sent, nothing received.
    Trying,
    /// A provisional arrived.
    Proceeding,
    /// A final (non-2xx for INVITE) arrived; absorbing retransmissions.
    Completed,
    /// INVITE: a 2xx arrived (RFC 6026, Timer M).
    Accepted,
}

struct ClientTxn {
    invite: bool,
    reliable: bool,
    state: ClientState,
    request: Bytes,
    ack: Option<Bytes>,
    /// Current Timer A/E interval.
    interval: Duration,
}

/// All client transactions of an endpoint: the table plus its timer queue.
pub struct ClientTransactions {
    timers: Timers,
    table: Table<ClientTxn>,
}

impl ClientTransactions {
    pub fn new(timers: Timers) -> Self {
        ClientTransactions {
            timers,
            table: Table::new(),
        }
    }

    /// Starts a transaction and returns the request to send now. Timer A
    /// (INVITE) or E (non-INVITE) is armed when the transport is
    /// unreliable; Timer B/F (64*T1) always. A key already in use replaces
    /// the old transaction (branches must be unique, RFC 3261 §8.1.1.7).
    pub fn send_request(
        &mut self,
        key: TransactionKey,
        is_invite: bool,
        reliable: bool,
        request: Bytes,
        now: Instant,
    ) -> Bytes {
        let state = if is_invite {
            ClientState::Calling
        } else {
            ClientState::Trying
        };
        let txn = ClientTxn {
            invite: is_invite,
            reliable,
            state,
            request: request.clone(),
            ack: None,
            interval: self.timers.t1,
        };
        let id = self.table.insert(key, txn);
        if !reliable {
            self.table
                .arm(id, Slot::Retransmit, later(now, self.timers.t1));
        }
        self.table
            .arm(id, Slot::Lifetime, later(now, self.timers.t1_x64()));
        self.table.prune_top();
        request
    }

    /// A response matched `key` (by branch + CSeq method, §17.1.3). `ack`
    /// is the ACK to send for a non-2xx final of an INVITE (built by the TU);
    /// the transaction resends it whenever the final is retransmitted and
    /// keeps absorbing them for Timer D (32 s unreliable, 0 reliable).
    /// A response for an unknown transaction yields no events.
    pub fn on_response(
        &mut self,
        key: &TransactionKey,
        status: u16,
        ack: Option<Bytes>,
        now: Instant,
    ) -> Vec<ClientEvent> {
        let Some(id) = self.table.id_of(key) else {
            return Vec::new();
        };
        let timers = self.timers;
        let Some(entry) = self.table.entries.get_mut(&id) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        let mut arm_lifetime = None;
        let txn = &mut entry.state;
        match (txn.invite, txn.state) {
            (true, ClientState::Calling | ClientState::Proceeding) => {
                // Any response stops Timer A; only Calling has Timer B.
                entry.retransmit = None;
                if is_provisional(status) {
                    txn.state = ClientState::Proceeding;
                    entry.lifetime = None;
                } else if is_success(status) {
                    txn.state = ClientState::Accepted;
                    arm_lifetime = Some(timers.t1_x64()); // Timer M
                } else {
                    txn.state = ClientState::Completed;
                    txn.ack = ack;
                    if let Some(ack) = &txn.ack {
                        events.push(ClientEvent::Transmit(ack.clone()));
                    }
                    arm_lifetime = Some(if txn.reliable {
                        Duration::ZERO
                    } else {
                        TIMER_D
                    });
                }
                events.push(ClientEvent::Response(status));
            }
            (true, ClientState::Accepted) if is_success(status) => {
                events.push(ClientEvent::Response(status));
            }
            (true, ClientState::Completed) if !is_provisional(status) && !is_success(status) => {
                if let Some(ack) = &txn.ack {
                    events.push(ClientEvent::Transmit(ack.clone()));
                }
            }
            (false, ClientState::Trying | ClientState::Proceeding) => {
                if is_provisional(status) {
                    // Timer E keeps running; it switches to T2 spacing when it fires.
                    txn.state = ClientState::Proceeding;
                } else {
                    txn.state = ClientState::Completed;
                    entry.retransmit = None;
                    // Timer K
                    arm_lifetime = Some(if txn.reliable {
                        Duration::ZERO
                    } else {
                        timers.t4
                    });
                }
                events.push(ClientEvent::Response(status));
            }
            _ => {}
        }
        if let Some(after) = arm_lifetime {
            self.table.arm(id, Slot::Lifetime, later(now, after));
        }
        self.table.prune_top();
        events
    }

    /// Drops a transaction without events (e.g. the TU gives up on an
    /// INVITE stuck in Proceeding after its CANCEL went unanswered, §9.1).
    pub fn terminate(&mut self, key: &TransactionKey) -> bool {
        self.table.terminate(key)
    }

    /// The earliest deadline; call `handle_timeout` then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.poll_timeout()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<(TransactionKey, ClientEvent)> {
        let mut events = Vec::new();
        while let Some((id, slot, deadline)) = self.table.pop_due(now) {
            match slot {
                Slot::Retransmit => {
                    let t2 = self.timers.t2;
                    let Some(entry) = self.table.entries.get_mut(&id) else {
                        continue;
                    };
                    let txn = &mut entry.state;
                    events.push((
                        entry.key.clone(),
                        ClientEvent::Transmit(txn.request.clone()),
                    ));
                    txn.interval = match (txn.invite, txn.state) {
                        // Timer A doubles without a cap (§17.1.1.2).
                        (true, _) => txn.interval.saturating_mul(2),
                        // Timer E in Proceeding: T2 (§17.1.2.2).
                        (false, ClientState::Proceeding) => t2,
                        (false, _) => txn.interval.saturating_mul(2).min(t2),
                    };
                    let next = later(deadline, txn.interval);
                    self.table.arm(id, Slot::Retransmit, next);
                }
                Slot::Lifetime => {
                    let Some(entry) = self.table.remove(id) else {
                        continue;
                    };
                    let timed_out = matches!(
                        entry.state.state,
                        ClientState::Calling | ClientState::Trying | ClientState::Proceeding
                    );
                    if timed_out {
                        events.push((entry.key.clone(), ClientEvent::Timeout)); // Timer B / F
                    }
                    events.push((entry.key, ClientEvent::Terminated));
                }
            }
        }
        self.table.prune_top();
        events
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.table.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn key(branch: &str, method: &str) -> TransactionKey {
        TransactionKey::new(format!("z9hG4bK{branch}"), "192.0.2.1:5060", method)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Fires every timer up to `until`, recording `(offset from t0, event)`.
    fn run_server(
        table: &mut ServerTransactions,
        t0: Instant,
        until: Instant,
    ) -> Vec<(Duration, ServerEvent)> {
        let mut seen = Vec::new();
        while let Some(at) = table.poll_timeout().filter(|at| *at <= until) {
            for (_, event) in table.handle_timeout(at) {
                seen.push((at - t0, event));
            }
        }
        seen
    }

    fn run_client(
        table: &mut ClientTransactions,
        t0: Instant,
        until: Instant,
    ) -> Vec<(Duration, ClientEvent)> {
        let mut seen = Vec::new();
        while let Some(at) = table.poll_timeout().filter(|at| *at <= until) {
            for (_, event) in table.handle_timeout(at) {
                seen.push((at - t0, event));
            }
        }
        seen
    }

    fn times<E>(events: &[(Duration, E)], pick: impl Fn(&E) -> bool) -> Vec<u64> {
        events
            .iter()
            .filter(|(_, e)| pick(e))
            .map(|(at, _)| at.as_millis() as u64)
            .collect()
    }

    #[test]
    fn ack_key_belongs_to_the_invite_and_cancel_is_separate() {
        assert_eq!(key("1", "ACK"), key("1", "INVITE"));
        assert_ne!(key("1", "CANCEL"), key("1", "INVITE"));
    }

    #[test]
    fn non_invite_server_absorbs_retransmissions_then_forgets_after_64_t1() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("a", "REGISTER");
        assert_eq!(
            table.on_request(k.clone(), false, false, false, t0),
            ServerLookup::New
        );
        assert_eq!(
            table.on_request(k.clone(), false, false, false, t0 + ms(400)),
            ServerLookup::Retransmission(None)
        );
        let trying = Bytes::from_static(b"SIP/2.0 100 Trying");
        assert_eq!(
            table.respond(&k, 100, trying.clone(), t0 + ms(450)),
            Some(trying.clone())
        );
        assert_eq!(
            table.on_request(k.clone(), false, false, false, t0 + ms(500)),
            ServerLookup::Retransmission(Some(trying))
        );
        let ok = Bytes::from_static(b"SIP/2.0 200 OK");
        assert_eq!(
            table.respond(&k, 200, ok.clone(), t0 + ms(1000)),
            Some(ok.clone())
        );
        assert_eq!(
            table.respond(&k, 500, Bytes::from_static(b"late"), t0 + ms(1100)),
            None,
            "second final discarded"
        );
        assert_eq!(
            table.on_request(k.clone(), false, false, false, t0 + ms(2000)),
            ServerLookup::Retransmission(Some(ok))
        );
        // Timer J = 64*T1 = 32 s after the final.
        assert_eq!(table.poll_timeout(), Some(t0 + ms(33_000)));
        assert!(run_server(&mut table, t0, t0 + ms(32_999)).is_empty());
        assert_eq!(
            run_server(&mut table, t0, t0 + ms(33_000)),
            vec![(ms(33_000), ServerEvent::Terminated)]
        );
        assert_eq!(table.len(), 0);
        assert_eq!(table.poll_timeout(), None);
        assert_eq!(table.respond(&k, 200, Bytes::new(), t0 + ms(33_001)), None);
    }

    #[test]
    fn reliable_non_invite_server_terminates_at_once() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("b", "OPTIONS");
        assert_eq!(
            table.on_request(k.clone(), false, false, true, t0),
            ServerLookup::New
        );
        assert!(
            table
                .respond(&k, 200, Bytes::from_static(b"200"), t0 + ms(5))
                .is_some()
        );
        assert_eq!(table.poll_timeout(), Some(t0 + ms(5)));
        assert_eq!(
            table.handle_timeout(t0 + ms(5)),
            vec![(k, ServerEvent::Terminated)]
        );
        assert!(table.is_empty());
    }

    #[test]
    fn unanswered_non_invite_server_is_dropped_after_64_t1() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        table.on_request(key("c", "MESSAGE"), false, false, false, t0);
        assert_eq!(
            run_server(&mut table, t0, t0 + ms(40_000)),
            vec![(ms(32_000), ServerEvent::Terminated)]
        );
        assert!(table.is_empty());
    }

    #[test]
    fn invite_server_non_2xx_retransmits_on_timer_g_until_timer_h() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("d", "INVITE");
        assert_eq!(
            table.on_request(k.clone(), true, false, false, t0),
            ServerLookup::New
        );
        assert_eq!(table.poll_timeout(), None, "Proceeding has no timer");
        let busy = Bytes::from_static(b"SIP/2.0 486 Busy Here");
        assert_eq!(table.respond(&k, 486, busy.clone(), t0), Some(busy.clone()));
        let events = run_server(&mut table, t0, t0 + ms(60_000));
        // Intervals 0.5, 1, 2, 4, 4, 4 … s.
        assert_eq!(
            times(&events, |e| *e == ServerEvent::Transmit(busy.clone())),
            vec![
                500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
            ]
        );
        assert_eq!(times(&events, |e| *e == ServerEvent::Timeout), vec![32_000]);
        assert_eq!(events.last(), Some(&(ms(32_000), ServerEvent::Terminated)));
        assert!(table.is_empty());
    }

    #[test]
    fn ack_stops_timer_g_and_confirmed_lasts_t4() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("e", "INVITE");
        table.on_request(k.clone(), true, false, false, t0);
        let busy = Bytes::from_static(b"486");
        table.respond(&k, 486, busy.clone(), t0);
        let before_ack = run_server(&mut table, t0, t0 + ms(2000));
        assert_eq!(
            times(&before_ack, |e| matches!(e, ServerEvent::Transmit(_))),
            vec![500, 1500]
        );
        // A retransmitted INVITE gets the final again.
        assert_eq!(
            table.on_request(k.clone(), true, false, false, t0 + ms(2000)),
            ServerLookup::Retransmission(Some(busy))
        );
        let ack = key("e", "ACK");
        assert_eq!(
            table.on_request(ack.clone(), false, true, false, t0 + ms(2100)),
            ServerLookup::AckForFinal
        );
        assert_eq!(
            table.on_request(ack, false, true, false, t0 + ms(2200)),
            ServerLookup::AckForFinal
        );
        assert_eq!(
            table.on_request(k, true, false, false, t0 + ms(2300)),
            ServerLookup::Retransmission(None),
            "Confirmed absorbs silently"
        );
        // Timer I = T4 = 5 s after the ACK; nothing retransmitted meanwhile, no Timeout.
        let after = run_server(&mut table, t0, t0 + ms(60_000));
        assert_eq!(after, vec![(ms(7100), ServerEvent::Terminated)]);
        assert!(table.is_empty());
    }

    #[test]
    fn reliable_invite_server_has_no_timer_g_and_zero_timer_i() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("f", "INVITE");
        table.on_request(k.clone(), true, false, true, t0);
        table.respond(&k, 404, Bytes::from_static(b"404"), t0);
        assert_eq!(table.poll_timeout(), Some(t0 + ms(32_000)), "only Timer H");
        assert_eq!(
            table.on_request(k.clone(), false, true, true, t0 + ms(10)),
            ServerLookup::AckForFinal
        );
        assert_eq!(
            table.handle_timeout(t0 + ms(10)),
            vec![(k, ServerEvent::Terminated)]
        );
    }

    #[test]
    fn invite_server_2xx_is_resent_on_invite_retransmission_until_timer_l() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("g", "INVITE");
        table.on_request(k.clone(), true, false, false, t0);
        let ringing = Bytes::from_static(b"180");
        assert_eq!(
            table.respond(&k, 180, ringing.clone(), t0),
            Some(ringing.clone())
        );
        assert_eq!(
            table.on_request(k.clone(), true, false, false, t0 + ms(100)),
            ServerLookup::Retransmission(Some(ringing))
        );
        let ok = Bytes::from_static(b"200");
        assert_eq!(
            table.respond(&k, 200, ok.clone(), t0 + ms(1000)),
            Some(ok.clone())
        );
        assert_eq!(
            table.on_request(k.clone(), true, false, false, t0 + ms(1500)),
            ServerLookup::Retransmission(Some(ok.clone()))
        );
        // The TU's own 2xx retransmissions pass through; a late non-2xx does not.
        assert_eq!(table.respond(&k, 200, ok.clone(), t0 + ms(1500)), Some(ok));
        assert_eq!(
            table.respond(&k, 500, Bytes::from_static(b"500"), t0 + ms(1600)),
            None
        );
        // An ACK matching the INVITE (2xx ACKs normally have their own branch) goes to the TU.
        assert_eq!(
            table.on_request(key("g", "ACK"), false, true, false, t0 + ms(1700)),
            ServerLookup::New
        );
        assert_eq!(
            run_server(&mut table, t0, t0 + ms(60_000)),
            vec![(ms(33_000), ServerEvent::Terminated)]
        );
    }

    #[test]
    fn stray_ack_creates_nothing_and_terminate_drops_silently() {
        let mut table = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        assert_eq!(
            table.on_request(key("h", "ACK"), false, true, false, t0),
            ServerLookup::New
        );
        assert!(table.is_empty());
        let k = key("h2", "INVITE");
        table.on_request(k.clone(), true, false, false, t0);
        assert!(table.terminate(&k));
        assert!(!table.terminate(&k));
        assert!(table.is_empty());
    }

    #[test]
    fn non_invite_client_timer_e_doubles_to_t2_and_timer_f_times_out() {
        let mut table = ClientTransactions::new(Timers::default());
        let t0 = Instant::now();
        let request = Bytes::from_static(b"OPTIONS sip:agent SIP/2.0");
        let k = key("i", "OPTIONS");
        assert_eq!(
            table.send_request(k.clone(), false, false, request.clone(), t0),
            request
        );
        let events = run_client(&mut table, t0, t0 + ms(60_000));
        assert_eq!(
            times(&events, |e| *e == ClientEvent::Transmit(request.clone())),
            vec![
                500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
            ]
        );
        assert_eq!(
            events[events.len() - 2..],
            [
                (ms(32_000), ClientEvent::Timeout),
                (ms(32_000), ClientEvent::Terminated)
            ]
        );
        assert!(table.is_empty());
    }

    #[test]
    fn non_invite_client_provisional_switches_to_t2_spacing() {
        let mut table = ClientTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("j", "BYE");
        table.send_request(k.clone(), false, false, Bytes::from_static(b"BYE"), t0);
        let first = run_client(&mut table, t0, t0 + ms(700));
        assert_eq!(
            times(&first, |e| matches!(e, ClientEvent::Transmit(_))),
            vec![500]
        );
        assert_eq!(
            table.on_response(&k, 100, None, t0 + ms(700)),
            vec![ClientEvent::Response(100)]
        );
        let proceeding = run_client(&mut table, t0, t0 + ms(10_000));
        assert_eq!(
            times(&proceeding, |e| matches!(e, ClientEvent::Transmit(_))),
            vec![1500, 5500, 9500]
        );
        assert_eq!(
            table.on_response(&k, 200, None, t0 + ms(10_000)),
            vec![ClientEvent::Response(200)]
        );
        assert!(
            table.on_response(&k, 200, None, t0 + ms(10_100)).is_empty(),
            "retransmitted final absorbed"
        );
        // Timer K = T4, no more retransmissions.
        assert_eq!(
            run_client(&mut table, t0, t0 + ms(60_000)),
            vec![(ms(15_000), ClientEvent::Terminated)]
        );
    }

    #[test]
    fn reliable_client_does_not_retransmit() {
        let mut table = ClientTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("k", "INVITE");
        table.send_request(k.clone(), true, true, Bytes::from_static(b"INVITE"), t0);
        assert_eq!(
            run_client(&mut table, t0, t0 + ms(60_000)),
            vec![
                (ms(32_000), ClientEvent::Timeout),
                (ms(32_000), ClientEvent::Terminated)
            ]
        );
    }

    #[test]
    fn invite_client_timer_a_doubles_until_timer_b() {
        let mut table = ClientTransactions::new(Timers::default());
        let t0 = Instant::now();
        table.send_request(
            key("l", "INVITE"),
            true,
            false,
            Bytes::from_static(b"INVITE"),
            t0,
        );
        let events = run_client(&mut table, t0, t0 + ms(60_000));
        assert_eq!(
            times(&events, |e| matches!(e, ClientEvent::Transmit(_))),
            vec![500, 1500, 3500, 7500, 15_500, 31_500]
        );
        assert_eq!(times(&events, |e| *e == ClientEvent::Timeout), vec![32_000]);
        assert!(table.is_empty());
    }

    #[test]
    fn invite_client_non_2xx_is_passed_up_once_and_acked_on_every_retransmission() {
        let mut table = ClientTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("m", "INVITE");
        table.send_request(k.clone(), true, false, Bytes::from_static(b"INVITE"), t0);
        let ack = Bytes::from_static(b"ACK");
        assert_eq!(
            table.on_response(&k, 486, Some(ack.clone()), t0 + ms(300)),
            vec![
                ClientEvent::Transmit(ack.clone()),
                ClientEvent::Response(486)
            ]
        );
        assert_eq!(
            table.on_response(&k, 486, Some(ack.clone()), t0 + ms(900)),
            vec![ClientEvent::Transmit(ack.clone())]
        );
        assert!(table.on_response(&k, 180, None, t0 + ms(950)).is_empty());
        // No Timer A any more; Timer D = 32 s.
        assert_eq!(
            run_client(&mut table, t0, t0 + ms(60_000)),
            vec![(ms(32_300), ClientEvent::Terminated)]
        );
        assert!(
            table
                .on_response(&k, 486, Some(ack), t0 + ms(60_000))
                .is_empty()
        );
    }

    #[test]
    fn invite_client_proceeding_stops_timers_and_every_2xx_reaches_the_tu() {
        let mut table = ClientTransactions::new(Timers::default());
        let t0 = Instant::now();
        let k = key("n", "INVITE");
        table.send_request(k.clone(), true, false, Bytes::from_static(b"INVITE"), t0);
        assert_eq!(
            table.on_response(&k, 180, None, t0 + ms(200)),
            vec![ClientEvent::Response(180)]
        );
        assert_eq!(table.poll_timeout(), None, "no Timer A or B in Proceeding");
        assert_eq!(
            table.on_response(&k, 200, None, t0 + ms(60_000)),
            vec![ClientEvent::Response(200)]
        );
        assert_eq!(
            table.on_response(&k, 200, None, t0 + ms(60_500)),
            vec![ClientEvent::Response(200)]
        );
        assert!(table.on_response(&k, 486, None, t0 + ms(60_600)).is_empty());
        assert_eq!(
            run_client(&mut table, t0, t0 + ms(200_000)),
            vec![(ms(92_000), ClientEvent::Terminated)]
        );
    }

    #[test]
    fn unknown_response_is_ignored() {
        let mut table = ClientTransactions::new(Timers::default());
        assert!(
            table
                .on_response(&key("x", "INVITE"), 200, None, Instant::now())
                .is_empty()
        );
    }

    /// 10 000 server and 10 000 client transactions with random transports,
    /// responses, retransmissions and ACKs: every one terminates exactly once
    /// and both tables end empty.
    #[test]
    fn ten_thousand_random_transactions_all_terminate() {
        const N: usize = 10_000;
        let mut rng = StdRng::seed_from_u64(0x5EED);
        let t0 = Instant::now();

        enum Action {
            ServerRequest { invite: bool, reliable: bool },
            ServerRespond(u16),
            ServerAck { reliable: bool },
            ClientSend { invite: bool, reliable: bool },
            ClientResponse(u16),
        }
        let mut server_actions: Vec<(u64, usize, Action)> = Vec::new();
        let mut client_actions: Vec<(u64, usize, Action)> = Vec::new();
        for i in 0..N {
            let invite = rng.gen_bool(0.5);
            let reliable = rng.gen_bool(0.3);
            let start = rng.gen_range(0..10_000u64);
            server_actions.push((start, i, Action::ServerRequest { invite, reliable }));
            let mut t = start;
            if rng.gen_bool(0.5) {
                t += rng.gen_range(0..2000);
                server_actions.push((t, i, Action::ServerRespond(180)));
            }
            if !reliable {
                for _ in 0..rng.gen_range(0..3) {
                    server_actions.push((
                        t + rng.gen_range(0..3000),
                        i,
                        Action::ServerRequest { invite, reliable },
                    ));
                }
            }
            t += rng.gen_range(0..5000);
            let status = if rng.gen_bool(0.5) { 200 } else { 486 };
            server_actions.push((t, i, Action::ServerRespond(status)));
            if invite && status != 200 && rng.gen_bool(0.8) {
                server_actions.push((
                    t + rng.gen_range(0..40_000),
                    i,
                    Action::ServerAck { reliable },
                ));
            }

            let invite = rng.gen_bool(0.5);
            let reliable = rng.gen_bool(0.3);
            let start = rng.gen_range(0..10_000u64);
            client_actions.push((start, i, Action::ClientSend { invite, reliable }));
            match rng.gen_range(0..3) {
                0 => {} // no answer: Timer B/F
                1 => {
                    let t = start + rng.gen_range(0..40_000);
                    client_actions.push((
                        t,
                        i,
                        Action::ClientResponse(if rng.gen_bool(0.5) { 200 } else { 404 }),
                    ));
                }
                _ => {
                    let t = start + rng.gen_range(0..3000);
                    client_actions.push((t, i, Action::ClientResponse(100)));
                    let t = t + rng.gen_range(0..40_000);
                    let status = if rng.gen_bool(0.5) { 200 } else { 603 };
                    client_actions.push((t, i, Action::ClientResponse(status)));
                    client_actions.push((
                        t + rng.gen_range(0..5000),
                        i,
                        Action::ClientResponse(status),
                    ));
                }
            }
        }
        server_actions.sort_by_key(|(at, i, _)| (*at, *i));
        client_actions.sort_by_key(|(at, i, _)| (*at, *i));

        let server_key = |i: usize, invite: bool| {
            key(&format!("s{i}"), if invite { "INVITE" } else { "MESSAGE" })
        };
        let mut server = ServerTransactions::new(Timers::default());
        let mut server_invite = vec![false; N];
        let mut server_done = vec![0u32; N];
        let index_of = |k: &TransactionKey| k.branch["z9hG4bKs".len()..].parse::<usize>().unwrap();
        let drain_server =
            |server: &mut ServerTransactions, until: Instant, done: &mut Vec<u32>| {
                while let Some(at) = server.poll_timeout().filter(|at| *at <= until) {
                    for (k, event) in server.handle_timeout(at) {
                        if event == ServerEvent::Terminated {
                            done[index_of(&k)] += 1;
                        }
                    }
                }
            };
        for (at, i, action) in server_actions {
            let now = t0 + ms(at);
            drain_server(&mut server, now, &mut server_done);
            match action {
                Action::ServerRequest { invite, reliable } => {
                    server_invite[i] = invite;
                    let lookup =
                        server.on_request(server_key(i, invite), invite, false, reliable, now);
                    assert!(
                        server_done[i] == 0 || lookup != ServerLookup::New,
                        "retransmission recreated {i}"
                    );
                }
                Action::ServerRespond(status) => {
                    server.respond(
                        &server_key(i, server_invite[i]),
                        status,
                        Bytes::from_static(b"r"),
                        now,
                    );
                }
                Action::ServerAck { reliable } => {
                    server.on_request(key(&format!("s{i}"), "ACK"), false, true, reliable, now);
                }
                _ => unreachable!(),
            }
        }
        drain_server(&mut server, t0 + ms(1_000_000), &mut server_done);
        assert!(
            server.is_empty(),
            "{} server transactions left",
            server.len()
        );
        assert_eq!(server.poll_timeout(), None);
        assert!(server_done.iter().all(|&n| n == 1));

        let mut client = ClientTransactions::new(Timers::default());
        let mut client_invite = vec![false; N];
        let mut client_done = vec![0u32; N];
        let client_key = |i: usize, invite: bool| {
            key(&format!("c{i}"), if invite { "INVITE" } else { "OPTIONS" })
        };
        let drain_client =
            |client: &mut ClientTransactions, until: Instant, done: &mut Vec<u32>| {
                while let Some(at) = client.poll_timeout().filter(|at| *at <= until) {
                    for (k, event) in client.handle_timeout(at) {
                        if event == ClientEvent::Terminated {
                            done[k.branch["z9hG4bKc".len()..].parse::<usize>().unwrap()] += 1;
                        }
                    }
                }
            };
        for (at, i, action) in client_actions {
            let now = t0 + ms(at);
            drain_client(&mut client, now, &mut client_done);
            match action {
                Action::ClientSend { invite, reliable } => {
                    client_invite[i] = invite;
                    client.send_request(
                        client_key(i, invite),
                        invite,
                        reliable,
                        Bytes::from_static(b"q"),
                        now,
                    );
                }
                Action::ClientResponse(status) => {
                    client.on_response(
                        &client_key(i, client_invite[i]),
                        status,
                        Some(Bytes::from_static(b"ack")),
                        now,
                    );
                }
                _ => unreachable!(),
            }
        }
        drain_client(&mut client, t0 + ms(1_000_000), &mut client_done);
        assert!(
            client.is_empty(),
            "{} client transactions left",
            client.len()
        );
        assert_eq!(client.poll_timeout(), None);
        assert!(client_done.iter().all(|&n| n == 1));
    }
}
