//! Estimated wait from recent handle times.

use std::time::Duration;

/// Exponentially weighted moving average of how long a call keeps an agent,
/// so the estimate follows the last few dozen calls rather than the whole
/// day (a morning of long admission calls should not haunt the evening).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandleTime {
    average_ms: f64,
}

impl HandleTime {
    /// Weight of the newest call: about the last ten calls dominate.
    const WEIGHT: f64 = 0.1;

    /// Starts from a guess until real calls have been measured.
    pub fn new(initial: Duration) -> HandleTime {
        HandleTime {
            average_ms: initial.as_secs_f64() * 1000.0,
        }
    }

    pub fn record(&mut self, handled: Duration) {
        let ms = handled.as_secs_f64() * 1000.0;
        self.average_ms += Self::WEIGHT * (ms - self.average_ms);
    }

    pub fn average(&self) -> Duration {
        Duration::from_millis(self.average_ms.max(0.0) as u64)
    }

    /// The wait of the caller at `position` (1 = next) when `staffed`
    /// agents work the queue: every agent frees up once per handle time, so
    /// the caller waits for `ceil(position / staffed)` rounds. With nobody
    /// staffed the queue is assumed to get one agent back.
    pub fn estimate_wait(&self, position: usize, staffed: usize) -> Duration {
        let staffed = staffed.max(1);
        let rounds = position.div_ceil(staffed) as u32;
        self.average().saturating_mul(rounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_moves_toward_recent_calls() {
        let mut h = HandleTime::new(Duration::from_secs(100));
        for _ in 0..100 {
            h.record(Duration::from_secs(20));
        }
        assert!(h.average() < Duration::from_secs(21));
    }

    #[test]
    fn wait_is_rounds_of_handle_time() {
        let h = HandleTime::new(Duration::from_secs(60));
        assert_eq!(h.estimate_wait(1, 3), Duration::from_secs(60));
        assert_eq!(h.estimate_wait(4, 3), Duration::from_secs(120));
        assert_eq!(h.estimate_wait(2, 0), Duration::from_secs(120));
    }
}
