//! Throttling of repeated authentication failures per source address, so a
//! password-guessing scanner gets silence instead of unlimited 401/403s.
//!
//! Sans-IO: the caller passes `now`. Memory is bounded by `max_tracked`
//! addresses; when full, the entry that would expire soonest is dropped
//! (it is the one closest to being forgotten anyway). An attacker with more
//! addresses than `max_tracked` can therefore push its own blocks out, which
//! is the price of bounded memory; pick `max_tracked` well above the number
//! of sources you expect (each entry is about 100 bytes).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failure counter of one address.
#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
    /// When this entry stops mattering: the end of the failure window, or of the block.
    expires_at: Instant,
}

/// Counts authentication failures per IP in a fixed window and blocks an
/// address for `block_for` once it reaches `max_failures` within `window`.
pub struct AuthThrottle {
    max_failures: u32,
    window: Duration,
    block_for: Duration,
    max_tracked: usize,
    entries: HashMap<IpAddr, Entry>,
    /// `(expires_at, ip)` of every entry, for purging and eviction in O(log n).
    by_expiry: BTreeSet<(Instant, IpAddr)>,
}

impl AuthThrottle {
    /// Typical values: 10 failures in 60 s block for 300 s.
    pub fn new(
        max_failures: u32,
        window: Duration,
        block_for: Duration,
        max_tracked: usize,
    ) -> Self {
        AuthThrottle {
            max_failures: max_failures.max(1),
            window,
            block_for,
            max_tracked: max_tracked.max(1),
            entries: HashMap::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// Records a failed authentication from `ip`. Returns true exactly when
    /// this failure starts a block, so the caller logs it once.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.purge(now);
        let entry = match self.entries.get(&ip) {
            Some(entry) => *entry,
            None => {
                self.make_room();
                Entry {
                    failures: 0,
                    window_start: now,
                    blocked_until: None,
                    expires_at: now,
                }
            }
        };
        if entry.blocked_until.is_some_and(|until| until > now) {
            return false;
        }
        let mut updated = entry;
        if now.saturating_duration_since(entry.window_start) >= self.window {
            updated.failures = 0;
            updated.window_start = now;
        }
        updated.failures = updated.failures.saturating_add(1);
        let starts_block = updated.failures >= self.max_failures;
        if starts_block {
            let until = saturating_later(now, self.block_for);
            updated.blocked_until = Some(until);
            updated.expires_at = until;
        } else {
            updated.blocked_until = None;
            updated.expires_at = saturating_later(updated.window_start, self.window);
        }
        self.store(ip, entry.expires_at, updated);
        starts_block
    }

    /// Whether requests from `ip` should be dropped (or answered 403 without
    /// checking credentials) right now.
    pub fn is_blocked(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.purge(now);
        self.entries
            .get(&ip)
            .and_then(|entry| entry.blocked_until)
            .is_some_and(|until| until > now)
    }

    /// A successful authentication forgets earlier failures (a user who
    /// mistyped a few times then got it right). It does not lift a block.
    pub fn record_success(&mut self, ip: IpAddr, now: Instant) {
        self.purge(now);
        if let Some(entry) = self.entries.get(&ip) {
            if entry.blocked_until.is_none() {
                let expires_at = entry.expires_at;
                self.entries.remove(&ip);
                self.by_expiry.remove(&(expires_at, ip));
            }
        }
    }

    /// Number of addresses currently tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn store(&mut self, ip: IpAddr, old_expiry: Instant, entry: Entry) {
        self.by_expiry.remove(&(old_expiry, ip));
        self.by_expiry.insert((entry.expires_at, ip));
        self.entries.insert(ip, entry);
    }

    /// Drops entries whose window or block is over.
    fn purge(&mut self, now: Instant) {
        while let Some(&(expires_at, ip)) = self.by_expiry.first() {
            if expires_at > now {
                break;
            }
            self.by_expiry.pop_first();
            self.entries.remove(&ip);
        }
    }

    /// Evicts the soonest-expiring entries until a new one fits.
    fn make_room(&mut self) {
        while self.entries.len() >= self.max_tracked {
            let Some((_, ip)) = self.by_expiry.pop_first() else {
                break;
            };
            self.entries.remove(&ip);
        }
    }
}

/// `from + by`, without the panic of `Instant + Duration` on absurd configured durations.
fn saturating_later(from: Instant, by: Duration) -> Instant {
    from.checked_add(by)
        .or_else(|| from.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn throttle() -> AuthThrottle {
        AuthThrottle::new(10, Duration::from_secs(60), Duration::from_secs(300), 1000)
    }

    #[test]
    fn tenth_failure_in_window_blocks_once_then_block_expires() {
        let mut throttle = throttle();
        let t0 = Instant::now();
        for i in 0..9 {
            assert!(!throttle.record_failure(ip(1), t0 + Duration::from_secs(i)));
            assert!(!throttle.is_blocked(ip(1), t0 + Duration::from_secs(i)));
        }
        let t = t0 + Duration::from_secs(9);
        assert!(
            throttle.record_failure(ip(1), t),
            "the 10th failure starts the block"
        );
        assert!(throttle.is_blocked(ip(1), t));
        assert!(
            !throttle.is_blocked(ip(2), t),
            "other addresses are unaffected"
        );
        assert!(
            !throttle.record_failure(ip(1), t + Duration::from_secs(1)),
            "logged only once"
        );
        assert!(throttle.is_blocked(ip(1), t + Duration::from_secs(299)));
        assert!(!throttle.is_blocked(ip(1), t + Duration::from_secs(300)));
        assert!(throttle.is_empty(), "expired block is purged");
        // After the block a fresh count starts.
        assert!(!throttle.record_failure(ip(1), t + Duration::from_secs(301)));
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_block() {
        let mut throttle = throttle();
        let t0 = Instant::now();
        for i in 0..100 {
            // One failure every 7 s: at most 9 fall into any fixed 60 s window.
            assert!(!throttle.record_failure(ip(1), t0 + Duration::from_secs(i * 7)));
        }
        assert!(!throttle.is_blocked(ip(1), t0 + Duration::from_secs(700)));
    }

    #[test]
    fn success_resets_the_count_but_not_a_block() {
        let mut throttle = throttle();
        let t0 = Instant::now();
        for _ in 0..9 {
            throttle.record_failure(ip(1), t0);
        }
        throttle.record_success(ip(1), t0);
        assert!(!throttle.record_failure(ip(1), t0), "count started over");
        for _ in 0..9 {
            throttle.record_failure(ip(1), t0);
        }
        assert!(throttle.is_blocked(ip(1), t0));
        throttle.record_success(ip(1), t0);
        assert!(throttle.is_blocked(ip(1), t0));
    }

    #[test]
    fn memory_is_bounded_and_evicts_the_oldest() {
        let mut throttle =
            AuthThrottle::new(3, Duration::from_secs(60), Duration::from_secs(300), 100);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            throttle.record_failure(addr, t0 + Duration::from_millis(u64::from(i)));
            assert!(throttle.len() <= 100);
            assert_eq!(throttle.len(), throttle.by_expiry.len());
        }
        // The most recent addresses survive; the first ones were evicted.
        let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 9_999));
        let first = IpAddr::V4(Ipv4Addr::from(0x0a00_0000));
        assert!(throttle.entries.contains_key(&last));
        assert!(!throttle.entries.contains_key(&first));
        // Everything is purged once windows are over.
        assert!(!throttle.is_blocked(last, t0 + Duration::from_secs(3600)));
        assert!(throttle.is_empty());
    }
}
