//! The tokio shell around the SIP [`Endpoint`]: UDP and TCP sockets on one
//! address, the timer task, and the writer that persists registrar changes.
//!
//! The endpoint is a plain state machine behind a mutex; each socket task
//! locks it only for the microseconds of one message and then carries out
//! the returned [`Action`]s without the lock held.

use super::Transport;
use super::dialog::CallHandle;
use super::endpoint::{Action, CallEvent, ConnId, Endpoint, IncomingCall, Peer};
use super::message::{Frame, Limits, StreamFramer};
use super::registrar::BindingChange;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Notify, Semaphore, mpsc, watch};

/// Wall-clock milliseconds since the Unix epoch: binding expiry must
/// survive restarts, so it cannot use the monotonic clock.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Limits of the TCP side, from the `[sip]` config section.
#[derive(Debug, Clone)]
pub struct TcpLimits {
    /// A peer must finish a message within this time after its first byte:
    /// a stalled or trickling peer is cut off (slowloris).
    pub header_timeout: Duration,
    /// A connection silent for this long is closed.
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// What the SIP side tells the call layer (`crate::call`).
#[derive(Debug)]
pub enum CallSignal {
    Incoming(IncomingCall),
    Event(CallHandle, CallEvent),
}

enum Outbound {
    Data(Bytes),
    Close,
}

/// Shared state of the SIP shell.
pub struct SipShell {
    endpoint: Mutex<Endpoint>,
    udp: Arc<UdpSocket>,
    connections: Mutex<HashMap<ConnId, mpsc::Sender<Outbound>>>,
    next_conn: AtomicU64,
    persist: mpsc::UnboundedSender<BindingChange>,
    calls: mpsc::UnboundedSender<CallSignal>,
    timer_kick: Notify,
    limits: Limits,
    tcp: TcpLimits,
}

impl SipShell {
    pub fn new(
        endpoint: Endpoint,
        udp: UdpSocket,
        limits: Limits,
        tcp: TcpLimits,
        persist: mpsc::UnboundedSender<BindingChange>,
        calls: mpsc::UnboundedSender<CallSignal>,
    ) -> Arc<Self> {
        Arc::new(SipShell {
            endpoint: Mutex::new(endpoint),
            udp: Arc::new(udp),
            connections: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            persist,
            calls,
            timer_kick: Notify::new(),
            limits,
            tcp,
        })
    }

    /// Locks the endpoint. A panic while it was held cannot leave it
    /// half-updated in a way worse than refusing service, so a poisoned
    /// lock is taken over rather than propagated.
    pub fn endpoint(&self) -> MutexGuard<'_, Endpoint> {
        self.endpoint.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the endpoint and carries out the actions it returns.
    pub fn with_endpoint(&self, f: impl FnOnce(&mut Endpoint) -> Vec<Action>) {
        let actions = f(&mut self.endpoint());
        self.execute(actions);
        // The call may have armed a timer (2xx retransmission, BYE).
        self.timer_kick.notify_one();
    }

    fn on_message(&self, bytes: Bytes, from: Peer) {
        let now = Instant::now();
        let now_ms = unix_ms();
        let actions = self.endpoint().on_message(bytes, from, now, now_ms);
        self.execute(actions);
        self.timer_kick.notify_one();
    }

    fn execute(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { to, bytes } => self.send(to, bytes),
                Action::Persist(change) => {
                    // The writer lives as long as the server; if it is gone
                    // we are shutting down and the change is in memory only.
                    if self.persist.send(change).is_err() {
                        tracing::warn!("registrar change not persisted: store writer stopped");
                    }
                }
                Action::Incoming(call) => self.signal(CallSignal::Incoming(call)),
                Action::Call(handle, event) => self.signal(CallSignal::Event(handle, event)),
                Action::Close(conn) => {
                    if let Some(tx) = self.connection(conn) {
                        let _ = tx.try_send(Outbound::Close);
                    }
                }
            }
        }
    }

    fn signal(&self, signal: CallSignal) {
        if self.calls.send(signal).is_err() {
            tracing::warn!("call layer stopped: call signal dropped");
        }
    }

    fn connection(&self, conn: ConnId) -> Option<mpsc::Sender<Outbound>> {
        self.connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&conn)
            .cloned()
    }

    fn send(&self, to: Peer, bytes: Bytes) {
        match to.transport {
            Transport::Udp => match self.udp.try_send_to(&bytes, to.addr) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // The socket buffer is full: finish the send off the hot path.
                    let udp = self.udp.clone();
                    tokio::spawn(async move {
                        let _ = udp.send_to(&bytes, to.addr).await;
                    });
                }
                Err(e) => tracing::debug!(error = %e, to = %to.addr, "UDP send failed"),
            },
            Transport::Tcp => {
                let Some(conn) = to.conn else { return };
                match self.connection(conn) {
                    Some(tx) => {
                        if tx.try_send(Outbound::Data(bytes)).is_err() {
                            tracing::debug!(to = %to.addr, "TCP peer not reading: message dropped");
                        }
                    }
                    None => tracing::debug!(to = %to.addr, "TCP connection gone: message dropped"),
                }
            }
        }
    }
}

/// Kernel buffer asked for the SIP UDP socket: a burst of hundreds of
/// INVITEs (or a pause of the receive task) must not overflow the default
/// ~200 KiB and lose requests. The kernel caps it at `net.core.rmem_max`.
const UDP_BUFFER_BYTES: usize = 4 * 1024 * 1024;

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer still works, only bursts suffer.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let udp = UdpSocket::from_std(socket.into())?;
    tracing::debug!(
        recv_buffer = socket2::SockRef::from(&udp).recv_buffer_size().unwrap_or(0),
        "SIP UDP socket bound"
    );
    Ok(udp)
}

/// Binds UDP and TCP on the same address. With port 0 the kernel picks the
/// UDP port and TCP takes the same one (retrying if it is taken for TCP).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = bind_udp(addr)?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no common UDP/TCP port")))
}

/// Receives datagrams until `stop` turns true.
pub async fn run_udp(shell: Arc<SipShell>, mut stop: watch::Receiver<bool>) {
    // One datagram can be up to 64 KiB; a bigger limit is useless over UDP.
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            received = shell.udp.recv_from(&mut buf) => match received {
                Ok((len, addr)) => {
                    let Some(data) = buf.get(..len) else { continue };
                    // Empty datagrams and bare CRLF keep-alives carry no message.
                    if data.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0)) {
                        continue;
                    }
                    let peer = Peer { addr, transport: Transport::Udp, conn: None };
                    shell.on_message(Bytes::copy_from_slice(data), peer);
                }
                // ICMP port unreachable from an earlier send shows up here on
                // some systems; it says nothing about the next datagram.
                Err(e) => tracing::debug!(error = %e, "UDP receive error"),
            },
            _ = stop.changed() => break,
        }
    }
}

/// Accepts TCP connections until `stop` turns true.
pub async fn run_tcp(shell: Arc<SipShell>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(shell.tcp.max_connections));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        tracing::warn!(source = %addr, "too many TCP connections: refused");
                        continue;
                    };
                    let shell = shell.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        serve_connection(shell, stream, addr, stop).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    // Out of file descriptors: give the system a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

async fn serve_connection(
    shell: Arc<SipShell>,
    mut stream: TcpStream,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let conn = shell.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Outbound>(64);
    shell
        .connections
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(conn, tx);
    let peer = Peer {
        addr,
        transport: Transport::Tcp,
        conn: Some(conn),
    };
    let _ = stream.set_nodelay(true);
    let mut framer = StreamFramer::new(shell.limits.clone());
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_activity = Instant::now();
    let mut message_started: Option<Instant> = None;

    loop {
        let deadline = match message_started {
            Some(started) => started + shell.tcp.header_timeout,
            None => last_activity + shell.tcp.idle_timeout,
        };
        tokio::select! {
            read = stream.read(&mut buf) => {
                let len = match read {
                    Ok(0) | Err(_) => break,
                    Ok(len) => len,
                };
                let Some(chunk) = buf.get(..len) else { break };
                last_activity = Instant::now();
                framer.push(chunk);
                if !drain_frames(&shell, &mut framer, &mut stream, chunk, peer).await {
                    break;
                }
                message_started = match (framer.buffered(), message_started) {
                    (0, _) => None,
                    (_, Some(started)) => Some(started),
                    (_, None) => Some(last_activity),
                };
            }
            out = rx.recv() => match out {
                Some(Outbound::Data(bytes)) => {
                    if stream.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => break,
            },
            _ = tokio::time::sleep_until(deadline.into()) => {
                if message_started.is_some() {
                    tracing::info!(source = %addr, "TCP peer stalled mid-message: disconnected");
                }
                break;
            }
            _ = stop.changed() => break,
        }
    }
    shell
        .connections
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&conn);
    let _ = stream.shutdown().await;
}

/// Hands every complete frame to the endpoint. Returns false when the
/// connection must close (a framing error: the stream cannot be resynced).
async fn drain_frames(
    shell: &SipShell,
    framer: &mut StreamFramer,
    stream: &mut TcpStream,
    chunk: &[u8],
    peer: Peer,
) -> bool {
    loop {
        match framer.next_frame() {
            Ok(Some(Frame::Message(bytes))) => shell.on_message(bytes, peer),
            Ok(Some(Frame::KeepAlive)) => {
                // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
                if stream.write_all(b"\r\n").await.is_err() {
                    return false;
                }
            }
            Ok(None) => return true,
            Err(e) => {
                tracing::info!(source = %peer.addr, error = %e, "TCP framing error: disconnected");
                let actions = shell.endpoint().on_framing_error(chunk, peer);
                // Write the 400 directly: the connection is about to close.
                for action in actions {
                    if let Action::Send { bytes, .. } = action {
                        let _ = stream.write_all(&bytes).await;
                    }
                }
                return false;
            }
        }
    }
}

/// Fires endpoint timers: transaction retransmissions and binding expiry.
pub async fn run_timers(shell: Arc<SipShell>, mut stop: watch::Receiver<bool>) {
    loop {
        let now = Instant::now();
        let deadline = shell
            .endpoint()
            .poll_timeout(now, unix_ms())
            .unwrap_or(now + Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                let now_ms = unix_ms();
                shell.with_endpoint(|e| e.handle_timeout(now, now_ms));
            }
            _ = shell.timer_kick.notified() => {}
            _ = stop.changed() => break,
        }
    }
}
