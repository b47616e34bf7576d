//! Recording of a bridged call: one stereo WAV per inquiry, the caller on
//! the left channel and the agent on the right, 8 kHz 16-bit.
//!
//! The two media tasks only hand decoded 20 ms frames to a bounded channel
//! (`try_send`: a full channel drops a frame rather than stall the audio);
//! a dedicated thread owns the file. Disk latency therefore never reaches
//! the 20 ms media path, and the thread is the only place that allocates.
//!
//! The channels are placed by arrival time ([`Aligner`]): each side's frames
//! go to the sample position the wall clock gives them, a side that sent
//! nothing gets silence, so a minute into the call both voices are still at
//! the same point of the file whatever each phone's silence suppression
//! did. The WAV header is rewritten (hound `flush`) every
//! [`FLUSH_INTERVAL`], which keeps the file readable while the call runs.

use super::session::FRAME_SAMPLES;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Header rewrite period: how stale a file read mid-call can be.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// How long the writer waits for a late frame before it gives the silent
/// side silence. Longer than any jitter a phone on a LAN or VPN shows.
pub const LATENESS: Duration = Duration::from_millis(200);

/// Frames buffered between the media tasks and the writer (2 s of both
/// sides); more means the disk is stuck and frames are dropped.
const CHANNEL_FRAMES: usize = 200;

const RATE: u32 = 8000;

/// Which channel a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Left: what the caller said.
    Caller = 0,
    /// Right: what the agent said.
    Agent = 1,
}

/// One decoded frame on its way to the writer thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordFrame {
    pub side: Side,
    /// When the media task received it.
    pub at: Instant,
    pub len: u8,
    pub pcm: [i16; FRAME_SAMPLES],
}

/// The media task's end of a recording: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub(crate) struct RecorderTap {
    side: Side,
    frames: std_mpsc::SyncSender<RecordFrame>,
}

impl RecorderTap {
    /// Hands one frame (at most [`FRAME_SAMPLES`] samples) to the writer.
    /// Returns false once the writer is gone (then stop calling).
    pub fn record(&self, at: Instant, pcm: &[i16]) -> bool {
        let mut frame = RecordFrame {
            side: self.side,
            at,
            len: 0,
            pcm: [0; FRAME_SAMPLES],
        };
        let n = pcm.len().min(FRAME_SAMPLES);
        if let (Some(dst), Some(src)) = (frame.pcm.get_mut(..n), pcm.get(..n)) {
            dst.copy_from_slice(src);
        }
        frame.len = n as u8;
        match self.frames.try_send(frame) {
            Ok(()) | Err(std_mpsc::TrySendError::Full(_)) => true,
            Err(std_mpsc::TrySendError::Disconnected(_)) => false,
        }
    }
}

/// An open recording file, not yet attached to a call (see
/// [`crate::media::bridge::link`]). Dropped without linking, it is closed
/// as a valid empty WAV.
pub struct Recorder {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .finish()
    }
}

/// `recordings/YYYY/MM/DD/<inquiry-id>.wav` for the UTC day of `unix_ms`.
pub fn recording_path(
    recordings_dir: &Path,
    inquiry_id: &str,
    unix_ms: i64,
) -> io::Result<PathBuf> {
    // The id becomes a file name: refuse anything that could leave the
    // directory or hide the file.
    let safe = !inquiry_id.is_empty()
        && inquiry_id.len() <= 128
        && inquiry_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !inquiry_id.starts_with('-');
    if !safe {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("inquiry id {inquiry_id:?} cannot name a recording file"),
        ));
    }
    // "YYYY-MM-DDThh:mm:ssZ": the one UTC calendar conversion of the crate.
    let stamp = crate::api::rfc3339_from_ms(unix_ms);
    let date = stamp.split('T').next().unwrap_or_default();
    let mut parts = date.rsplitn(3, '-');
    let (Some(day), Some(month), Some(year)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no calendar date for {unix_ms} ms"),
        ));
    };
    Ok(recordings_dir
        .join(year)
        .join(month)
        .join(day)
        .join(format!("{inquiry_id}.wav")))
}

impl Recorder {
    /// Creates the day's directory and the WAV file (an existing file of
    /// the same inquiry, e.g. from a transferred second leg, is replaced).
    /// Blocking file I/O: call it from `spawn_blocking` on a busy server.
    pub fn create(recordings_dir: &Path, inquiry_id: &str, unix_ms: i64) -> io::Result<Recorder> {
        let path = recording_path(recordings_dir, inquiry_id, unix_ms)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(&path, spec).map_err(hound_to_io)?;
        Ok(Recorder { path, writer })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the writer thread; returns the two taps (caller, agent) and
    /// the handle that reports the finished file. The thread ends when both
    /// taps are dropped (the bridge unlinked or both sessions closed).
    pub(crate) fn start(
        self,
        origin: Instant,
    ) -> io::Result<(RecorderTap, RecorderTap, Recording)> {
        let (tx, rx) = std_mpsc::sync_channel(CHANNEL_FRAMES);
        let (done_tx, done_rx) = oneshot::channel();
        let Recorder { path, writer } = self;
        std::thread::Builder::new()
            .name("recorder".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let result = write_loop(writer, rx, origin);
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "recording failed");
                }
                let _ = done_tx.send(result);
            })?;
        let caller = RecorderTap {
            side: Side::Caller,
            frames: tx.clone(),
        };
        let agent = RecorderTap {
            side: Side::Agent,
            frames: tx,
        };
        Ok((
            caller,
            agent,
            Recording {
                path,
                done: done_rx,
            },
        ))
    }
}

/// A recording in progress or finished: where it is and when it is done.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    done: oneshot::Receiver<io::Result<()>>,
}

impl Recording {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the file is finalised (after the bridge is unlinked) and
    /// returns its path.
    pub async fn finished(self) -> io::Result<PathBuf> {
        match self.done.await {
            Ok(Ok(())) => Ok(self.path),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("recorder thread ended without a result")),
        }
    }
}

fn hound_to_io(e: hound::Error) -> io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

fn write_loop(
    mut writer: hound::WavWriter<BufWriter<File>>,
    frames: std_mpsc::Receiver<RecordFrame>,
    origin: Instant,
) -> io::Result<()> {
    let mut aligner = Aligner::new(origin);
    let mut last_flush = Instant::now();
    let mut result = Ok(());
    loop {
        let wait = FLUSH_INTERVAL.saturating_sub(last_flush.elapsed());
        match frames.recv_timeout(wait) {
            Ok(f) => aligner.push(
                f.side,
                f.at,
                f.pcm.get(..usize::from(f.len)).unwrap_or_default(),
            ),
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        aligner.drain(now.checked_sub(LATENESS).unwrap_or(origin), |l, r| {
            if result.is_ok() {
                result = writer.write_sample(l).and_then(|()| writer.write_sample(r));
            }
        });
        if last_flush.elapsed() >= FLUSH_INTERVAL {
            if result.is_ok() {
                result = writer.flush();
            }
            last_flush = now;
        }
        if result.is_err() {
            break;
        }
    }
    aligner.finish(|l, r| {
        if result.is_ok() {
            result = writer.write_sample(l).and_then(|()| writer.write_sample(r));
        }
    });
    result.map_err(hound_to_io)?;
    writer.finalize().map_err(hound_to_io)
}

/// A frame that starts more than this many samples (100 ms) after the end
/// of what its side already has is placed after a silence gap; smaller
/// gaps are network jitter, and filling them would push the voice later.
const GAP_SAMPLES: u64 = 5 * FRAME_SAMPLES as u64;

/// A side may run this far ahead of its arrival clock (bursts after a
/// network stall) before its frames are dropped to re-align.
const AHEAD_SAMPLES: u64 = 10 * FRAME_SAMPLES as u64;

/// Places the two sides' frames on one sample clock (sans-IO: times come
/// in as arguments). Sample `n` of the file is `n / 8000` s after `origin`.
#[derive(Debug)]
pub struct Aligner {
    origin: Instant,
    /// Samples placed but not yet written, per side.
    pending: [VecDeque<i16>; 2],
    /// Absolute sample position after each side's last placed sample.
    placed: [u64; 2],
    /// Samples (per channel) written so far.
    written: u64,
}

fn samples_between(origin: Instant, at: Instant) -> u64 {
    let nanos = at.saturating_duration_since(origin).as_nanos();
    (nanos.saturating_mul(u128::from(RATE)) / 1_000_000_000).min(u128::from(u64::MAX)) as u64
}

impl Aligner {
    pub fn new(origin: Instant) -> Self {
        Aligner {
            origin,
            pending: [VecDeque::new(), VecDeque::new()],
            placed: [0; 2],
            written: 0,
        }
    }

    /// Samples per channel written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn pad(&mut self, side: usize, to: u64) {
        if let (Some(q), Some(placed)) = (self.pending.get_mut(side), self.placed.get_mut(side))
            && to > *placed
        {
            let n = (to - *placed).min(u64::from(u32::MAX)) as usize;
            q.extend(std::iter::repeat_n(0i16, n));
            *placed = to;
        }
    }

    /// Places a frame of `side` that arrived at `at` (its last sample was
    /// spoken then).
    pub fn push(&mut self, side: Side, at: Instant, pcm: &[i16]) {
        let s = side as usize;
        let end = samples_between(self.origin, at);
        let start = end.saturating_sub(pcm.len() as u64);
        let Some(&placed) = self.placed.get(s) else {
            return;
        };
        if start > placed.saturating_add(GAP_SAMPLES) {
            self.pad(s, start);
        } else if placed > start.saturating_add(AHEAD_SAMPLES) {
            // Far ahead of real time: drop rather than drift.
            return;
        }
        if let (Some(q), Some(p)) = (self.pending.get_mut(s), self.placed.get_mut(s)) {
            q.extend(pcm.iter().copied());
            *p = p.saturating_add(pcm.len() as u64);
        }
    }

    /// Writes every slot up to `horizon` (a side with nothing there gets
    /// silence) and whatever both sides already have.
    pub fn drain(&mut self, horizon: Instant, mut write: impl FnMut(i16, i16)) {
        let h = samples_between(self.origin, horizon);
        self.pad(0, h);
        self.pad(1, h);
        self.write_common(&mut write);
    }

    /// End of the call: the shorter side is padded with silence.
    pub fn finish(&mut self, mut write: impl FnMut(i16, i16)) {
        let end = self.placed[0].max(self.placed[1]);
        self.pad(0, end);
        self.pad(1, end);
        self.write_common(&mut write);
    }

    fn write_common(&mut self, write: &mut impl FnMut(i16, i16)) {
        let [left, right] = &mut self.pending;
        let n = left.len().min(right.len());
        for (l, r) in left.drain(..n).zip(right.drain(..n)) {
            write(l, r);
        }
        self.written = self.written.saturating_add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(a: &mut Aligner, horizon: Instant) -> Vec<(i16, i16)> {
        let mut out = Vec::new();
        a.drain(horizon, |l, r| out.push((l, r)));
        out
    }

    #[test]
    fn sides_stay_aligned_and_silent_side_gets_silence() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut a = Aligner::new(t0);
        // Caller talks for 300 ms; the agent only from 200 ms on.
        for i in 1..=15 {
            a.push(Side::Caller, ms(20 * i), &[1; 160]);
        }
        for i in 11..=15 {
            a.push(Side::Agent, ms(20 * i), &[2; 160]);
        }
        let out = collect(&mut a, ms(0));
        assert_eq!(out.len(), 2400);
        assert!(out[..1600].iter().all(|&(l, r)| l == 1 && r == 0));
        assert!(out[1600..].iter().all(|&(l, r)| l == 1 && r == 2));
        // Nobody talks for a second: the horizon writes silence on both.
        let out = collect(&mut a, ms(1100));
        assert_eq!(out.len(), 8800 - 2400);
        assert!(out.iter().all(|&(l, r)| l == 0 && r == 0));
        assert_eq!(a.written(), 8800);
    }

    #[test]
    fn jitter_neither_inserts_silence_nor_drifts() {
        let t0 = Instant::now();
        let mut a = Aligner::new(t0);
        // Frames arrive up to 15 ms late, then a burst of three at once.
        let mut at = Vec::new();
        for i in 1..=50u64 {
            let jitter = (i * 7) % 16;
            at.push(20 * i + jitter);
        }
        at.extend([1020 + 60, 1040 + 40, 1060 + 20]);
        for t in &at {
            a.push(Side::Caller, t0 + Duration::from_millis(*t), &[5; 160]);
            a.push(Side::Agent, t0 + Duration::from_millis(*t), &[6; 160]);
        }
        let mut out = Vec::new();
        a.finish(|l, r| out.push((l, r)));
        assert_eq!(out.len(), 53 * 160, "no silence inserted for jitter");
        assert!(out.iter().all(|&(l, r)| l == 5 && r == 6));
    }

    #[test]
    fn recording_path_uses_utc_date_and_refuses_odd_ids() {
        let dir = Path::new("/rec");
        // 2025-03-01T23:59:59Z
        let p = recording_path(dir, "inq_01J", 1_740_873_599_000).unwrap();
        assert_eq!(p, Path::new("/rec/2025/03/01/inq_01J.wav"));
        for bad in ["", "../x", "a/b", "a.wav", "-x", "a b"] {
            assert!(recording_path(dir, bad, 0).is_err(), "{bad:?}");
        }
    }
}
