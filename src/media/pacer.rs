//! 20 ms packet pacing by deadline, as a sans-IO state machine.
//!
//! Frame `n` is due at `start + n × 20 ms`, computed from `start` every time
//! rather than by adding 20 ms to the previous wake-up, so timer lateness
//! never accumulates: over a 10-minute prompt the last packet is due exactly
//! 10 minutes after the first.
//!
//! When the task wakes late, every frame whose deadline has passed is due at
//! once (a short burst keeps the stream on time). After a long stall (the
//! process was descheduled, a debugger paused it) at most [`MAX_BURST`]
//! frames are sent and the older ones are *skipped*: the receiver's jitter
//! buffer cannot use a second of audio arriving at once, it would only add
//! delay. Skipped frames are reported so the RTP timestamp and the prompt
//! position still advance with the wall clock.

use std::time::{Duration, Instant};

pub const FRAME_DURATION: Duration = Duration::from_millis(20);
const FRAME_NANOS: u128 = 20_000_000;

/// Most frames sent for one wake-up; older due frames are skipped.
pub const MAX_BURST: u64 = 3;

/// What a wake-up should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Due {
    /// Frames to send now, oldest first.
    pub send: u64,
    /// Frames whose time passed without being sent (before `send`).
    pub skipped: u64,
}

#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    /// Index of the next frame to hand out.
    next: u64,
}

impl Pacer {
    /// Frame 0 is due at `start`.
    pub fn new(start: Instant) -> Self {
        Pacer { start, next: 0 }
    }

    /// Index of the next frame (frames handed out or skipped so far).
    pub fn frame_index(&self) -> u64 {
        self.next
    }

    fn deadline_of(&self, n: u64) -> Instant {
        let nanos = (n as u128).saturating_mul(FRAME_NANOS);
        let d = Duration::new(
            (nanos / 1_000_000_000).min(u64::MAX as u128) as u64,
            (nanos % 1_000_000_000) as u32,
        );
        self.start.checked_add(d).unwrap_or(self.start)
    }

    /// When the next frame is due: sleep until then.
    pub fn next_deadline(&self) -> Instant {
        self.deadline_of(self.next)
    }

    /// Number of frames whose deadline is at or before `now`.
    fn frames_due_by(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        (elapsed / FRAME_NANOS)
            .saturating_add(1)
            .min(u64::MAX as u128) as u64
    }

    /// Called on wake-up: how many frames to send now and how many to skip.
    pub fn on_tick(&mut self, now: Instant) -> Due {
        let due_total = self.frames_due_by(now);
        let pending = due_total.saturating_sub(self.next);
        let send = pending.min(MAX_BURST);
        let skipped = pending - send;
        self.next = self.next.saturating_add(pending);
        Due { send, skipped }
    }

    /// Restarts pacing after an idle period (nothing was sent): jumps to the
    /// frame slot that contains `now` without sending the past slots, which
    /// are returned as skipped so the RTP clock can follow. The frame of the
    /// current slot is then due immediately.
    pub fn resume(&mut self, now: Instant) -> u64 {
        let current = self.frames_due_by(now).saturating_sub(1);
        let skipped = current.saturating_sub(self.next);
        self.next = self.next.max(current);
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_minutes_without_drift() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        let frames = 10 * 60 * 50;
        let mut sent = 0u64;
        let mut seed = 1u64;
        while sent < frames {
            let deadline = p.next_deadline();
            // The timer fires 0..4 ms late, as a loaded machine does.
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let late = Duration::from_micros((seed >> 33) % 4000);
            let due = p.on_tick(deadline + late);
            assert_eq!(due.skipped, 0);
            assert!(due.send >= 1 && due.send <= 2, "{due:?}");
            sent += due.send;
        }
        assert_eq!(sent, frames);
        assert_eq!(
            p.next_deadline(),
            start + Duration::from_secs(600),
            "deadline of frame 30000 must be exactly 10 min after start"
        );
    }

    #[test]
    fn early_wakeup_sends_nothing() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        assert_eq!(p.on_tick(start).send, 1);
        assert_eq!(p.on_tick(start + Duration::from_millis(19)), Due::default());
        assert_eq!(p.on_tick(start + Duration::from_millis(20)).send, 1);
    }

    #[test]
    fn long_stall_skips_instead_of_bursting() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        p.on_tick(start);
        // 1 s stall: frames 1..=50 are due.
        let due = p.on_tick(start + Duration::from_millis(1000));
        assert_eq!(
            due,
            Due {
                send: MAX_BURST,
                skipped: 50 - MAX_BURST
            }
        );
        assert_eq!(p.next_deadline(), start + Duration::from_millis(1020));
    }

    #[test]
    fn resume_after_idle_keeps_the_grid() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        p.on_tick(start);
        // Idle until 1.005 s: slots 1..=49 passed without sending.
        let skipped = p.resume(start + Duration::from_millis(1005));
        assert_eq!(skipped, 49);
        assert_eq!(p.next_deadline(), start + Duration::from_millis(1000));
        let due = p.on_tick(start + Duration::from_millis(1005));
        assert_eq!(
            due,
            Due {
                send: 1,
                skipped: 0
            }
        );
        assert_eq!(p.next_deadline(), start + Duration::from_millis(1020));
        // Resuming while not idle changes nothing.
        assert_eq!(p.resume(start + Duration::from_millis(1006)), 0);
    }
}
