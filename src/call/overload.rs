//! The media overload brake: when the CPU cannot keep 20 ms pacing, new
//! calls are refused with 503 so the calls already up stay clean.

use crate::media::session::SharedPacing;
use crate::sip::transport::SipShell;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Share of late 20 ms ticks above which new calls are refused, and below
/// which they are taken again (hysteresis, so the brake does not flap).
const OVERLOAD_ON: f64 = 0.05;
const OVERLOAD_OFF: f64 = 0.01;
/// Too few ticks in a window say nothing (an idle server).
const MIN_TICKS: u64 = 200;

/// Decides, window by window, whether media pacing shows overload: the
/// sans-IO part of [`watch_pacing`].
#[derive(Debug, Default)]
pub struct OverloadDetector {
    last: (u64, u64),
    overloaded: bool,
}

impl OverloadDetector {
    /// Feeds the cumulative (ticks, late) counts; returns the new state
    /// when it changed.
    pub fn update(&mut self, counts: (u64, u64)) -> Option<bool> {
        let ticks = counts.0.saturating_sub(self.last.0);
        let late = counts.1.saturating_sub(self.last.1);
        if ticks < MIN_TICKS {
            // Keep accumulating into a window large enough to judge.
            return if self.overloaded && ticks == 0 {
                self.last = counts;
                self.overloaded = false;
                Some(false)
            } else {
                None
            };
        }
        self.last = counts;
        let share = late as f64 / ticks as f64;
        let next = if self.overloaded {
            share > OVERLOAD_OFF
        } else {
            share > OVERLOAD_ON
        };
        (next != self.overloaded).then(|| {
            self.overloaded = next;
            next
        })
    }
}

/// Watches the media pacing of all calls every 250 ms and switches the
/// SIP endpoint's overload brake: when the CPU cannot keep 20 ms pacing,
/// new calls get 503 (Retry-After) so the calls already up stay clean —
/// better than every caller hearing broken audio.
pub async fn watch_pacing(
    shell: Arc<SipShell>,
    pacing: SharedPacing,
    mut stop: watch::Receiver<bool>,
) {
    let mut detector = OverloadDetector::default();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Some(overloaded) = detector.update(pacing.0.counts()) {
            if overloaded {
                tracing::warn!(
                    "media pacing is late: refusing new calls with 503 until it recovers"
                );
            } else {
                tracing::info!("media pacing recovered: taking new calls again");
            }
            shell.with_endpoint(|e| {
                e.set_overloaded(overloaded);
                Vec::new()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OverloadDetector;

    #[test]
    fn brake_engages_on_late_ticks_and_releases_with_hysteresis() {
        let mut d = OverloadDetector::default();
        // Healthy: 1 % late.
        assert_eq!(d.update((1000, 10)), None);
        // 10 % of the next window late: brake on.
        assert_eq!(d.update((2000, 110)), Some(true));
        // 3 % late: still above the release threshold, stays on.
        assert_eq!(d.update((3000, 140)), None);
        // 0.5 % late: released.
        assert_eq!(d.update((4000, 145)), Some(false));
        // A window too small to judge changes nothing.
        assert_eq!(d.update((4050, 195)), None);
    }

    #[test]
    fn brake_releases_when_media_stops_entirely() {
        let mut d = OverloadDetector::default();
        assert_eq!(d.update((1000, 500)), Some(true));
        // No calls left, no ticks: nothing to protect, take calls again.
        assert_eq!(d.update((1000, 500)), Some(false));
    }
}
