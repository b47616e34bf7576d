//! One call's RTP stream: a UDP socket on a pool port and one tokio task.
//!
//! The task
//! - plays a queue of encoded prompts, one 160-byte frame every 20 ms by
//!   [`Pacer`] deadline, with one SSRC, a continuous sequence and a
//!   timestamp that advances 160 per 20 ms slot even while nothing is sent;
//! - receives RTP, latches the destination onto the source of the first
//!   valid packet (symmetric RTP, so callers behind NAT hear us) and then
//!   only accepts packets from there;
//! - turns RFC 4733 events (when telephone-event was negotiated) or in-band
//!   tones (when it was not) into [`MediaEvent::Digit`];
//! - reports [`MediaEvent::Inactive`] when no RTP arrived for the configured
//!   time, so `call.rs` can tear down a dead call;
//! - while linked to another session by [`super::bridge::link`], relays
//!   what it receives to the other session and sends what the other
//!   session relays (see `bridge.rs`), and sends RFC 4733 events on request.
//!
//! One media clock per stream: within a talk-spurt the RTP timestamp
//! advances with the audio sent (20 ms prompt slots, or the source's own
//! timestamps for relayed audio); at each talk-spurt start it catches up
//! with the wall clock (never going back), and the marker bit is set.
//!
//! `call.rs` talks to it through [`MediaSession`] (commands) and the event
//! channel it passes in. Dropping the handle ends the task and returns the
//! port to the pool.
//!
//! Cost per call: one task, one socket, a 2 KiB receive buffer and a few
//! hundred bytes of state; prompt audio is shared (`Arc<[u8]>`), packets are
//! built in a reused stack buffer, so steady-state streaming allocates
//! nothing. For 10k concurrent calls, the next step would be to drive many
//! sessions from a few worker tasks that wake once per 20 ms tick for all of
//! them (one timer instead of 10k) and send with `sendmmsg`/GSO; the sans-IO
//! pieces (pacer, sender, receivers) are already independent of the task.

use super::bridge::{LinkEnd, RELAY_QUEUE, RelayFrame, RelayMsg, transcode};
use super::dtmf::{DtmfReceiver, EventPacket, digit_to_event, event_packets, tone_pcm};
use super::g711::CodecKind;
use super::inband::InbandDetector;
use super::pacer::Pacer;
use super::ports::{PortError, PortLease, RtpPortPool};
use super::prompts::Prompt;
use super::rtp::{self, HEADER_LEN, RtpSender};
use super::sdp::{Answer, Codec, Direction};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Samples (= G.711 bytes) per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// Default RTP inactivity timeout (ARCHITECTURE §3).
pub const DEFAULT_INACTIVITY: Duration = Duration::from_secs(60);

/// Identifies a queued playback in [`MediaEvent::PlaybackFinished`].
pub type PlaybackId = u64;

/// A 20 ms tick that fires this much after its deadline counts as late.
pub const LATE_TICK: Duration = Duration::from_millis(10);

/// Pacing health shared by all media sessions of one server: how many
/// 20 ms ticks fired and how many fired late. A server whose ticks run
/// late is short of CPU; it stops taking new calls (see
/// `crate::call::watch_pacing`) so the calls already up keep clean audio.
#[derive(Debug, Default)]
pub struct PacingMonitor {
    ticks: std::sync::atomic::AtomicU64,
    late: std::sync::atomic::AtomicU64,
}

impl PacingMonitor {
    pub fn record(&self, lateness: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.ticks.fetch_add(1, Relaxed);
        if lateness > LATE_TICK {
            self.late.fetch_add(1, Relaxed);
        }
    }

    /// (ticks, late ticks) so far.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.ticks.load(Relaxed), self.late.load(Relaxed))
    }
}

/// What the media session needs to know from the negotiated SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    pub codec: Codec,
    /// telephone-event payload type; `None` switches on in-band detection.
    pub dtmf_pt: Option<u8>,
    /// Where to send until the first packet arrives (from SDP `c=`/`m=`).
    /// `None` or an unspecified IP (hold) waits for the first packet.
    pub remote: Option<SocketAddr>,
    /// Our direction: we only send if it `sends()`.
    pub direction: Direction,
    /// Report [`MediaEvent::Inactive`] after this long without RTP;
    /// `None` disables it (e.g. while the peer holds the call inactive).
    pub inactivity_timeout: Option<Duration>,
    /// Keep the decoded received audio (tests, diagnostics).
    pub record: bool,
    /// Where to report tick lateness (the server's overload brake).
    pub pacing: Option<SharedPacing>,
}

/// A [`PacingMonitor`] shared between sessions; compared by identity.
#[derive(Debug, Clone, Default)]
pub struct SharedPacing(pub Arc<PacingMonitor>);

impl PartialEq for SharedPacing {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedPacing {}

impl MediaConfig {
    /// A session started before the SDP answer is known: we offered
    /// ([`super::sdp::build_offer`]) and need the port for the offer. PCMU
    /// until the answer says otherwise, no address (latches onto the first
    /// packet), no inactivity timeout while the phone rings; `update()`
    /// with [`MediaConfig::from_answer`] once the answer arrives.
    pub fn awaiting_answer() -> Self {
        MediaConfig {
            codec: Codec {
                payload_type: CodecKind::Pcmu.static_payload_type(),
                kind: CodecKind::Pcmu,
            },
            dtmf_pt: None,
            remote: None,
            direction: Direction::SendRecv,
            inactivity_timeout: None,
            record: false,
            pacing: None,
        }
    }

    pub fn from_answer(answer: &Answer) -> Self {
        MediaConfig {
            codec: answer.codec,
            dtmf_pt: answer.dtmf_pt,
            remote: Some(answer.remote),
            direction: answer.direction,
            inactivity_timeout: Some(DEFAULT_INACTIVITY),
            record: false,
            pacing: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key from RFC 4733 or in-band detection.
    Digit(char),
    /// A prompt queued with `play` played to its end (not sent for prompts
    /// removed by `stop`/`silence`, nor for loops).
    PlaybackFinished(PlaybackId),
    /// No RTP for the inactivity timeout. Sent once; re-armed when RTP
    /// flows again.
    Inactive,
}

#[derive(Debug)]
pub enum MediaCommand {
    /// Queue encoded audio (in the session's codec); the queue plays back
    /// to back. A running loop is cut short by a new prompt.
    Play { id: PlaybackId, audio: Arc<[u8]> },
    /// Queue audio that repeats until stopped (music on hold).
    PlayLoop { id: PlaybackId, audio: Arc<[u8]> },
    /// Barge-in: drop the queue; the next frame slot sends nothing.
    Stop,
    /// Drop the queue and send silence frames until the next command, to
    /// keep the stream (and NAT bindings) alive.
    Silence,
    /// Renegotiated SDP (re-INVITE): codec, DTMF, address, direction.
    Update(MediaConfig),
    /// Hand over (and clear) the recorded audio.
    TakeRecording(oneshot::Sender<Vec<i16>>),
    /// Start relaying to another session (replaces any current link).
    Link(LinkEnd),
    /// End the link with this id (an older id is ignored).
    Unlink(u64),
    /// Send a key: RFC 4733 events, or an in-band tone without
    /// telephone-event.
    SendDtmf(char),
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error("cannot bind an RTP socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Handle of a running session. Cheap methods send commands; none blocks.
#[derive(Debug)]
pub struct MediaSession {
    local: SocketAddr,
    codec: CodecKind,
    commands: mpsc::UnboundedSender<MediaCommand>,
    /// Where a linked session relays to this one.
    relay: mpsc::Sender<RelayMsg>,
    task: JoinHandle<()>,
}

/// How many pool ports to try when some are taken by other programs.
const BIND_ATTEMPTS: usize = 8;

impl MediaSession {
    /// Binds a port from `pool` on `ip` and starts the session task.
    /// Exhausted pool → `MediaError::Ports(PortError::Exhausted)` (SIP 503).
    pub async fn bind(
        pool: &RtpPortPool,
        ip: IpAddr,
        config: MediaConfig,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Result<MediaSession, MediaError> {
        let mut last_err = None;
        for _ in 0..BIND_ATTEMPTS {
            let lease = pool.allocate()?;
            match UdpSocket::bind(SocketAddr::new(ip, lease.port())).await {
                Ok(socket) => return Self::start(socket, Some(lease), config, events),
                // Someone else holds it: the lease goes back to the end of
                // the queue when dropped here, try the next port.
                Err(e) => last_err = Some(e),
            }
        }
        Err(MediaError::Io(last_err.unwrap_or_else(|| {
            std::io::Error::other("no RTP port could be bound")
        })))
    }

    /// Starts a session on an already bound socket (tests bind port 0).
    pub fn start(
        socket: UdpSocket,
        lease: Option<PortLease>,
        config: MediaConfig,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Result<MediaSession, MediaError> {
        let local = socket.local_addr()?;
        let (commands, rx) = mpsc::unbounded_channel();
        let (relay, relay_rx) = mpsc::channel(RELAY_QUEUE);
        let codec = config.codec.kind;
        let task = Task::new(config, events);
        let task = tokio::spawn(task.run(socket, rx, relay_rx, lease));
        Ok(MediaSession {
            local,
            codec,
            commands,
            relay,
            task,
        })
    }

    /// The address to put in our SDP.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The codec the session currently sends.
    pub fn codec(&self) -> CodecKind {
        self.codec
    }

    pub(crate) fn command(&self, cmd: MediaCommand) {
        // The task only ends when this handle is dropped or the runtime
        // shuts down; a command lost then has no one to act on it anyway.
        let _ = self.commands.send(cmd);
    }

    pub(crate) fn command_sender(&self) -> mpsc::UnboundedSender<MediaCommand> {
        self.commands.clone()
    }

    pub(crate) fn relay_sender(&self) -> mpsc::Sender<RelayMsg> {
        self.relay.clone()
    }

    /// Sends `digit` to the phone as an RFC 4733 event (start packet with
    /// the marker, an update every 20 ms, three end packets; 100 ms) if
    /// telephone-event was negotiated, otherwise as a 100 ms in-band tone.
    /// Other audio (prompt, relay) is muted meanwhile.
    pub fn send_dtmf(&self, digit: char) {
        self.command(MediaCommand::SendDtmf(digit));
    }

    pub fn play(&self, id: PlaybackId, audio: Arc<[u8]>) {
        self.command(MediaCommand::Play { id, audio });
    }

    /// Plays `prompt` in the session's codec (no copy: shares its `Arc`).
    pub fn play_prompt(&self, id: PlaybackId, prompt: &Prompt) {
        self.play(id, prompt.encoded(self.codec));
    }

    pub fn play_loop(&self, id: PlaybackId, audio: Arc<[u8]>) {
        self.command(MediaCommand::PlayLoop { id, audio });
    }

    pub fn play_loop_prompt(&self, id: PlaybackId, prompt: &Prompt) {
        self.play_loop(id, prompt.encoded(self.codec));
    }

    pub fn stop(&self) {
        self.command(MediaCommand::Stop);
    }

    pub fn silence(&self) {
        self.command(MediaCommand::Silence);
    }

    pub fn update(&mut self, config: MediaConfig) {
        self.codec = config.codec.kind;
        self.command(MediaCommand::Update(config));
    }

    /// Decoded audio received so far (empty unless `record` was set).
    pub async fn take_recording(&self) -> Vec<i16> {
        let (tx, rx) = oneshot::channel();
        self.command(MediaCommand::TakeRecording(tx));
        rx.await.unwrap_or_default()
    }

    /// Ends the task and waits until the socket is closed and the port is
    /// back in the pool.
    pub async fn close(self) {
        let MediaSession {
            commands,
            relay,
            task,
            ..
        } = self;
        drop(commands);
        drop(relay);
        let _ = task.await;
    }
}

#[derive(Debug)]
struct Item {
    id: PlaybackId,
    audio: Arc<[u8]>,
    looping: bool,
}

/// State of the session task (everything but the socket and channels, so
/// `select!` can borrow those separately).
struct Task {
    config: MediaConfig,
    events: mpsc::UnboundedSender<MediaEvent>,
    sender: RtpSender,
    pacer: Pacer,
    queue: VecDeque<Item>,
    /// Position in the front item of `queue`.
    position: usize,
    fill_silence: bool,
    /// Whether frames were being produced in the previous loop iteration.
    active: bool,
    remote: Option<SocketAddr>,
    latched: bool,
    dtmf: Option<DtmfReceiver>,
    inband: Option<InbandDetector>,
    last_rx: Instant,
    inactive_reported: bool,
    recording: Option<Vec<i16>>,
    /// RTP timestamp of pacer slot 0: the wall-clock origin of the media
    /// clock that talk-spurts catch up with.
    ts_origin: u32,
    /// Wall-clock instant of pacer slot 0 (and of `ts_origin`).
    clock_start: Instant,
    link: Option<LinkEnd>,
    /// The relayed stream being forwarded: its SSRC and the source
    /// timestamp expected next. `None` after local audio or a pause, so
    /// the next relayed frame starts a talk-spurt.
    relay_src: Option<(u32, u32)>,
    dtmf_out: Option<DtmfOut>,
    dtmf_queue: VecDeque<char>,
}

/// A key being sent, one packet per 20 ms slot.
#[derive(Debug)]
enum DtmfOut {
    /// RFC 4733 events.
    Event {
        packets: Vec<EventPacket>,
        next: usize,
        /// Every packet of the event carries the timestamp of its start.
        start_ts: u32,
    },
    /// The key's tone, encoded in the session's codec, for a phone
    /// without telephone-event.
    Tone { audio: Vec<u8>, position: usize },
}

/// Length of a DTMF event we send (RFC 4733 passthrough).
const DTMF_MS: u16 = 100;
/// Silence after an in-band key, so repeated keys are told apart.
const DTMF_PAUSE_MS: u16 = 60;
/// -dBm0 volume we put in events (a typical phone's level).
const DTMF_VOLUME: u8 = 10;
/// Keys waiting to be sent; a peer pressing faster than this is not human.
const DTMF_QUEUE_MAX: usize = 32;
/// A source timestamp gap larger than this (5 s) is not a silence
/// suppression gap but a new clock: re-anchor on the wall clock.
const MAX_RELAY_GAP: u32 = 5 * 8000;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Task {
    fn new(config: MediaConfig, events: mpsc::UnboundedSender<MediaEvent>) -> Task {
        let start = now();
        let sender = RtpSender::new(config.codec.payload_type);
        let mut task = Task {
            ts_origin: sender.timestamp(),
            clock_start: start,
            link: None,
            relay_src: None,
            dtmf_out: None,
            dtmf_queue: VecDeque::new(),
            sender,
            pacer: Pacer::new(start),
            queue: VecDeque::new(),
            position: 0,
            fill_silence: false,
            active: false,
            remote: config.remote.filter(|a| !a.ip().is_unspecified()),
            latched: false,
            dtmf: None,
            inband: None,
            last_rx: start,
            inactive_reported: false,
            recording: None,
            events,
            config: config.clone(),
        };
        task.apply_config(config);
        task
    }

    fn apply_config(&mut self, config: MediaConfig) {
        self.sender.set_payload_type(config.codec.payload_type);
        self.dtmf = config.dtmf_pt.map(DtmfReceiver::new);
        self.inband = match config.dtmf_pt {
            Some(_) => None,
            None => Some(InbandDetector::new()),
        };
        if config.remote != self.config.remote {
            // A new address in a re-INVITE: follow it and latch again.
            self.remote = config.remote.filter(|a| !a.ip().is_unspecified());
            self.latched = false;
        }
        if config.record && self.recording.is_none() {
            self.recording = Some(Vec::new());
        }
        self.config = config;
        self.last_rx = now();
        self.inactive_reported = false;
    }

    fn emit(&self, event: MediaEvent) {
        let _ = self.events.send(event);
    }

    /// Whether the session has audio of its own to send (which also
    /// suppresses relayed audio).
    fn wants_frames(&self) -> bool {
        !self.queue.is_empty()
            || self.fill_silence
            || self.dtmf_out.is_some()
            || !self.dtmf_queue.is_empty()
    }

    /// Starts a talk-spurt: the RTP clock jumps forward to the wall clock
    /// (`target` is where the wall clock puts this moment) and the next
    /// packet carries the marker.
    fn start_talkspurt_at(&mut self, target: u32) {
        self.sender.catch_up_to(target);
        self.sender.start_talkspurt();
    }

    async fn run(
        mut self,
        socket: UdpSocket,
        mut commands: mpsc::UnboundedReceiver<MediaCommand>,
        mut relay: mpsc::Receiver<RelayMsg>,
        _lease: Option<PortLease>,
    ) {
        let mut rbuf = [0u8; 2048];
        let pace = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(pace);
        let inactivity = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(inactivity);
        // The deadline the inactivity timer is armed for. It is re-armed
        // lazily: packets only move `last_rx`, and an early firing re-arms
        // for the remaining time, so a 50 packet/s stream costs no timer
        // operations.
        let mut inactivity_armed: Option<Instant> = None;
        loop {
            let wants = self.wants_frames();
            if wants && !self.active {
                // Coming out of idle: catch the RTP clock up with the wall
                // clock and start a new talk-spurt in the current slot.
                self.pacer.resume(now());
                let slot = self
                    .ts_origin
                    .wrapping_add(frames_to_samples(self.pacer.frame_index()));
                self.start_talkspurt_at(slot);
                pace.as_mut().reset(self.pacer.next_deadline().into());
            }
            self.active = wants;
            match (self.inactivity_deadline(), inactivity_armed) {
                (None, _) => inactivity_armed = None,
                (Some(d), Some(a)) if d >= a => {}
                (Some(d), _) => {
                    inactivity_armed = Some(d);
                    inactivity.as_mut().reset(d.into());
                }
            }
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                Some(msg) = relay.recv() => self.on_relay(msg, &socket),
                res = socket.recv_from(&mut rbuf) => {
                    if let Ok((len, src)) = res
                        && let Some(datagram) = rbuf.get(..len)
                    {
                        self.on_datagram(datagram, src);
                    }
                    // Receive errors on an unconnected UDP socket are
                    // transient (ICMP); the next recv carries on.
                },
                () = &mut pace, if self.active => {
                    if let Some(pacing) = &self.config.pacing {
                        pacing.0.record(now().saturating_duration_since(self.pacer.next_deadline()));
                    }
                    self.on_tick(&socket);
                    pace.as_mut().reset(self.pacer.next_deadline().into());
                },
                () = &mut inactivity, if inactivity_armed.is_some() => {
                    self.on_inactivity_timer();
                    // Re-armed from `last_rx` at the top of the loop (not at
                    // all once reported, until RTP flows again).
                    inactivity_armed = None;
                },
            }
        }
    }

    fn inactivity_deadline(&self) -> Option<Instant> {
        if self.inactive_reported {
            return None;
        }
        let t = self.config.inactivity_timeout?;
        self.last_rx.checked_add(t)
    }

    fn on_inactivity_timer(&mut self) {
        let Some(deadline) = self.inactivity_deadline() else {
            return;
        };
        if now() >= deadline {
            self.inactive_reported = true;
            self.emit(MediaEvent::Inactive);
        }
    }

    fn on_command(&mut self, cmd: MediaCommand) {
        match cmd {
            MediaCommand::Play { id, audio } => {
                if self.queue.front().is_some_and(|i| i.looping) {
                    self.queue.pop_front();
                    self.position = 0;
                }
                self.queue.push_back(Item {
                    id,
                    audio,
                    looping: false,
                });
            }
            MediaCommand::PlayLoop { id, audio } => {
                if self.queue.front().is_some_and(|i| i.looping) {
                    self.queue.pop_front();
                    self.position = 0;
                }
                self.queue.push_back(Item {
                    id,
                    audio,
                    looping: true,
                });
            }
            MediaCommand::Stop => {
                self.queue.clear();
                self.position = 0;
                self.fill_silence = false;
            }
            MediaCommand::Silence => {
                self.queue.clear();
                self.position = 0;
                self.fill_silence = true;
            }
            MediaCommand::Update(config) => self.apply_config(config),
            MediaCommand::TakeRecording(reply) => {
                let rec = match &mut self.recording {
                    Some(r) => std::mem::take(r),
                    None => Vec::new(),
                };
                let _ = reply.send(rec);
            }
            MediaCommand::Link(end) => {
                self.link = Some(end);
                self.relay_src = None;
            }
            MediaCommand::Unlink(id) => {
                if self.link.as_ref().is_some_and(|l| l.id == id) {
                    // Drops the recorder tap too: the file is finalised
                    // once both sides let go.
                    self.link = None;
                }
            }
            MediaCommand::SendDtmf(digit) => {
                if digit_to_event(digit).is_some() && self.dtmf_queue.len() < DTMF_QUEUE_MAX {
                    self.dtmf_queue.push_back(digit);
                }
            }
        }
    }

    fn can_send(&self) -> Option<SocketAddr> {
        if self.config.direction.sends() {
            self.remote
        } else {
            None
        }
    }

    fn on_tick(&mut self, socket: &UdpSocket) {
        let due = self.pacer.on_tick(now());
        if due.skipped > 0 {
            // A stall: keep the prompt and the RTP clock on the wall clock.
            self.advance_audio(frames_to_samples(due.skipped) as usize);
            self.sender.skip(frames_to_samples(due.skipped));
        }
        for _ in 0..due.send {
            self.send_frame(socket);
        }
    }

    /// Moves the playback position by `samples` without sending.
    fn advance_audio(&mut self, mut samples: usize) {
        while samples > 0 {
            let Some(item) = self.queue.front() else {
                return;
            };
            let left = item.audio.len().saturating_sub(self.position);
            if samples < left {
                self.position += samples;
                return;
            }
            samples -= left;
            self.finish_front();
        }
    }

    /// The front item reached its end: loop it or report and drop it.
    fn finish_front(&mut self) {
        self.position = 0;
        match self.queue.front() {
            Some(item) if item.looping && !item.audio.is_empty() => {}
            Some(_) => {
                if let Some(item) = self.queue.pop_front()
                    && !item.looping
                {
                    self.emit(MediaEvent::PlaybackFinished(item.id));
                }
            }
            None => {}
        }
    }

    fn send_frame(&mut self, socket: &UdpSocket) {
        // Local audio (or an event) owns this slot: relayed audio that
        // follows starts a new talk-spurt.
        self.relay_src = None;
        if self.send_dtmf_packet(socket) {
            // The prompt keeps its place in time, muted under the event.
            self.advance_audio(FRAME_SAMPLES);
            return;
        }
        let silence = self.config.codec.kind.silence();
        let mut frame = [silence; FRAME_SAMPLES];
        // Skip empty items so they still report completion.
        while self.queue.front().is_some_and(|i| i.audio.is_empty()) {
            self.finish_front();
        }
        let Some(item) = self.queue.front() else {
            if self.fill_silence {
                self.transmit(socket, &frame);
            } else {
                // Nothing left: the slot passes silently (a gap).
                self.sender.skip(FRAME_SAMPLES as u32);
            }
            return;
        };
        let start = self.position;
        let end = start.saturating_add(FRAME_SAMPLES).min(item.audio.len());
        let chunk = item.audio.get(start..end).unwrap_or_default();
        let finished = end >= item.audio.len();
        if chunk.len() == FRAME_SAMPLES {
            let audio = Arc::clone(&item.audio);
            self.position = end;
            self.transmit(socket, audio.get(start..end).unwrap_or(&frame));
        } else {
            // Last, short frame: pad with silence.
            if let Some(dst) = frame.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            self.position = end;
            self.transmit(socket, &frame);
        }
        if finished {
            self.finish_front();
        }
    }

    /// Sends this slot's part of the current (or next queued) key: an RFC
    /// 4733 packet, or a frame of its in-band tone when the phone did not
    /// negotiate telephone-event. False when there is no key to send.
    fn send_dtmf_packet(&mut self, socket: &UdpSocket) -> bool {
        if self.dtmf_out.is_none() {
            let Some(digit) = self.dtmf_queue.pop_front() else {
                return false;
            };
            self.dtmf_out = self.dtmf_out_for(digit);
        }
        let remote = self.can_send();
        let pt = self.config.dtmf_pt;
        let mut tone = [0u8; FRAME_SAMPLES];
        let (event, done) = match &mut self.dtmf_out {
            None => return false,
            Some(DtmfOut::Event {
                packets,
                next,
                start_ts,
            }) => {
                let packet = packets.get(*next).copied();
                *next += 1;
                (packet.map(|p| (p, *start_ts)), *next >= packets.len())
            }
            Some(DtmfOut::Tone { audio, position }) => {
                let end = position.saturating_add(FRAME_SAMPLES).min(audio.len());
                let chunk = audio.get(*position..end).unwrap_or_default();
                if let Some(dst) = tone.get_mut(..chunk.len()) {
                    dst.copy_from_slice(chunk);
                }
                *position = end;
                (None, end >= audio.len())
            }
        };
        match (event, pt) {
            (Some((packet, ts)), Some(pt)) => {
                if let Some(remote) = remote {
                    let mut buf = [0u8; HEADER_LEN + 4];
                    if let Ok(len) =
                        self.sender
                            .write_event(pt, packet.marker, ts, &packet.payload, &mut buf)
                        && let Some(datagram) = buf.get(..len)
                    {
                        let _ = socket.try_send_to(datagram, remote);
                    }
                }
                self.sender.advance_timestamp(FRAME_SAMPLES as u32);
            }
            // telephone-event renegotiated away mid-event: end it.
            (Some(_), None) => self.sender.advance_timestamp(FRAME_SAMPLES as u32),
            (None, _) => self.transmit(socket, &tone),
        }
        if done || (event.is_some() && pt.is_none()) {
            self.dtmf_out = None;
            self.sender.start_talkspurt();
        }
        true
    }

    /// How to send `digit` to this phone: as events if it negotiated
    /// telephone-event, else as an in-band tone in its codec.
    fn dtmf_out_for(&self, digit: char) -> Option<DtmfOut> {
        match self.config.dtmf_pt {
            Some(_) => Some(DtmfOut::Event {
                packets: event_packets(digit, DTMF_MS, DTMF_VOLUME)?,
                next: 0,
                start_ts: self.sender.timestamp(),
            }),
            None => {
                let pcm = tone_pcm(digit, DTMF_MS, DTMF_PAUSE_MS)?;
                let mut audio = vec![0u8; pcm.len()];
                self.config.codec.kind.encode_into(&pcm, &mut audio);
                Some(DtmfOut::Tone { audio, position: 0 })
            }
        }
    }

    /// A message from the linked session: relayed audio or a key.
    fn on_relay(&mut self, msg: RelayMsg, socket: &UdpSocket) {
        let current = self.link.as_ref().map(|l| l.id);
        match msg {
            RelayMsg::Audio(frame) if Some(frame.link) == current => {
                self.relay_audio(&frame, socket);
            }
            // An in-band key already reaches a phone without
            // telephone-event inside the relayed audio; a second, generated
            // tone would make it two presses.
            RelayMsg::Digit {
                link,
                digit,
                in_band,
            } if Some(link) == current && (self.config.dtmf_pt.is_some() || !in_band) => {
                self.on_command(MediaCommand::SendDtmf(digit));
            }
            // From a link that has ended, or carried by the audio.
            _ => {}
        }
    }

    /// Sends a relayed frame now, in our codec, on our stream.
    fn relay_audio(&mut self, frame: &RelayFrame, socket: &UdpSocket) {
        if self.wants_frames() {
            // A prompt, hold music or an event is playing: it wins.
            self.relay_src = None;
            return;
        }
        let Some(remote) = self.can_send() else {
            self.relay_src = None;
            return;
        };
        let payload = frame.payload();
        let len = payload.len() as u32;
        match self.relay_src {
            Some((ssrc, expected)) if ssrc == frame.ssrc => {
                let gap = frame.timestamp.wrapping_sub(expected);
                if gap >= 1 << 31 {
                    // Late or duplicated: its slot is already past.
                    return;
                }
                if gap > MAX_RELAY_GAP {
                    self.start_talkspurt_at(self.wall_clock_ts());
                } else {
                    // Silence suppression or loss: keep the source's
                    // timing; the source's marker says which.
                    self.sender.advance_timestamp(gap);
                    if frame.marker {
                        self.sender.start_talkspurt();
                    }
                }
            }
            _ => self.start_talkspurt_at(self.wall_clock_ts()),
        }
        let mut audio = [0u8; FRAME_SAMPLES];
        let Some(audio) = audio.get_mut(..payload.len()) else {
            return;
        };
        transcode(frame.kind, self.config.codec.kind, payload, audio);
        let mut out = [0u8; HEADER_LEN + FRAME_SAMPLES];
        if let Ok(n) = self.sender.write_audio(audio, &mut out)
            && let Some(packet) = out.get(..n)
        {
            let _ = socket.try_send_to(packet, remote);
        }
        self.relay_src = Some((frame.ssrc, frame.timestamp.wrapping_add(len)));
    }

    /// The RTP timestamp the wall clock gives the present moment.
    fn wall_clock_ts(&self) -> u32 {
        let elapsed = now().saturating_duration_since(self.clock_start);
        let samples = elapsed.as_nanos().saturating_mul(8) / 1_000_000;
        self.ts_origin
            .wrapping_add((samples % (1u128 << 32)) as u32)
    }

    /// Hands a key received from our phone to the linked session.
    fn relay_digit(&mut self, digit: char, in_band: bool) {
        if let Some(link) = &self.link {
            let msg = RelayMsg::Digit {
                link: link.id,
                digit,
                in_band,
            };
            if let Err(mpsc::error::TrySendError::Closed(_)) = link.peer.try_send(msg) {
                self.link = None;
            }
        }
    }

    fn transmit(&mut self, socket: &UdpSocket, payload: &[u8]) {
        let Some(remote) = self.can_send() else {
            // On hold or no address yet: time passes, nothing is sent.
            self.sender.skip(payload.len() as u32);
            return;
        };
        let mut out = [0u8; HEADER_LEN + FRAME_SAMPLES];
        if let Ok(len) = self.sender.write_audio(payload, &mut out)
            && let Some(packet) = out.get(..len)
        {
            // A full socket buffer drops this frame rather than delay the
            // next ones; other errors (no route) are transient as well.
            let _ = socket.try_send_to(packet, remote);
        }
    }

    fn on_datagram(&mut self, datagram: &[u8], src: SocketAddr) {
        let Ok(packet) = rtp::parse(datagram) else {
            return;
        };
        let pt = packet.payload_type;
        let is_audio = pt == self.config.codec.payload_type;
        let is_dtmf = self.config.dtmf_pt == Some(pt);
        if !is_audio && !is_dtmf {
            return;
        }
        if self.latched {
            if self.remote != Some(src) {
                // Not our peer: ignore (prevents injected DTMF).
                return;
            }
        } else {
            self.remote = Some(src);
            self.latched = true;
            tracing::debug!(%src, "RTP latched");
        }
        self.last_rx = now();
        self.inactive_reported = false;
        if is_dtmf {
            if let Some(rx) = &mut self.dtmf
                && let Some(d) = rx.on_packet(pt, &packet)
            {
                self.emit(MediaEvent::Digit(d));
                self.relay_digit(d, false);
            }
            return;
        }
        let kind = self.config.codec.kind;
        let mut offset: u32 = 0;
        for chunk in packet.payload.chunks(FRAME_SAMPLES) {
            let timestamp = packet.timestamp.wrapping_add(offset);
            offset = offset.wrapping_add(chunk.len() as u32);
            self.relay_chunk(
                kind,
                packet.marker && offset == chunk.len() as u32,
                packet.ssrc,
                timestamp,
                chunk,
            );
            let records = self.link.as_ref().is_some_and(|l| l.recorder.is_some());
            if self.inband.is_none() && self.recording.is_none() && !records {
                continue;
            }
            let mut pcm = [0i16; FRAME_SAMPLES];
            let pcm = pcm.get_mut(..chunk.len()).unwrap_or_default();
            kind.decode_into(chunk, pcm);
            if let Some(rec) = &mut self.recording {
                rec.extend_from_slice(pcm);
            }
            if let Some(tap) = self.link.as_ref().and_then(|l| l.recorder.as_ref())
                && !tap.record(self.last_rx, pcm)
                && let Some(link) = &mut self.link
            {
                link.recorder = None;
            }
            if let Some(det) = &mut self.inband {
                let events = &self.events;
                let mut keys = [None; 2];
                let mut n = 0;
                det.push(pcm, |d| {
                    let _ = events.send(MediaEvent::Digit(d));
                    if let Some(slot) = keys.get_mut(n) {
                        *slot = Some(d);
                        n += 1;
                    }
                });
                for d in keys.into_iter().flatten() {
                    self.relay_digit(d, true);
                }
            }
        }
    }

    /// Forwards one received frame (still encoded) to the linked session.
    fn relay_chunk(
        &mut self,
        kind: CodecKind,
        marker: bool,
        ssrc: u32,
        timestamp: u32,
        chunk: &[u8],
    ) {
        let Some(link) = &self.link else {
            return;
        };
        let mut frame = RelayFrame {
            link: link.id,
            kind,
            marker,
            ssrc,
            timestamp,
            len: chunk.len().min(FRAME_SAMPLES) as u8,
            data: [0; FRAME_SAMPLES],
        };
        if let Some(dst) = frame.data.get_mut(..chunk.len()) {
            dst.copy_from_slice(chunk);
        }
        match link.peer.try_send(RelayMsg::Audio(frame)) {
            // Full: the other task is behind; a lost frame beats delay.
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!("bridged session ended: unlinking");
                self.link = None;
            }
        }
    }
}

fn frames_to_samples(frames: u64) -> u32 {
    (frames.saturating_mul(FRAME_SAMPLES as u64) % (1u64 << 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-call memory budget (≤ 30 KB per streaming call): the task's
    /// future holds all per-call state except the socket and channels.
    #[tokio::test]
    async fn per_call_task_state_is_small() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (events, _erx) = mpsc::unbounded_channel();
        let (_ctx, crx) = mpsc::unbounded_channel();
        let config = MediaConfig {
            codec: Codec {
                payload_type: 0,
                kind: CodecKind::Pcmu,
            },
            dtmf_pt: None,
            remote: None,
            direction: Direction::SendRecv,
            inactivity_timeout: Some(DEFAULT_INACTIVITY),
            record: false,
            pacing: None,
        };
        let (_rtx, rrx) = mpsc::channel(RELAY_QUEUE);
        let fut = Task::new(config, events).run(socket, crx, rrx, None);
        let size = std::mem::size_of_val(&fut);
        println!("session task future: {size} bytes");
        assert!(size < 8 * 1024, "session task future is {size} bytes");
    }
}
