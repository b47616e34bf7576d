//! Server metrics for Prometheus (`GET /metrics`, text exposition format
//! 0.0.4).
//!
//! Hot paths (the HTTP middleware, later the routing engine) update plain
//! atomics: one relaxed add or store, no lock, no allocation. Figures that
//! another part already counts (the SIP endpoint's [`Stats`], the media
//! [`PacingMonitor`]) are not counted twice: a *sampler* registered with
//! [`Metrics::add_sampler`] copies them in when `/metrics` is scraped.
//!
//! Rates are not computed here: `hotline_calls_total` is a counter and
//! Prometheus derives calls/s as `rate(hotline_calls_total[1m])`.
//!
//! [`Stats`]: crate::sip::endpoint::Stats
//! [`PacingMonitor`]: crate::media::session::PacingMonitor

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// The content type of the text format this module renders.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// HTTP status codes are 100..=599; one counter each keeps the middleware
/// lock-free.
const STATUS_LO: u16 = 100;
const STATUS_COUNT: usize = 500;

type Sampler = Box<dyn Fn(&Metrics) + Send + Sync>;

/// Every metric of the server. Share it as `Arc<Metrics>`.
pub struct Metrics {
    calls_in_progress: AtomicI64,
    calls_total: AtomicU64,
    callers_waiting: AtomicI64,
    /// Agents per state (`available`, `busy`, ...): set as a whole by the
    /// routing engine when its snapshot changes, not a hot path.
    agents_by_state: Mutex<BTreeMap<String, u64>>,
    rtp_packets_sent: AtomicU64,
    sip_messages: AtomicU64,
    sip_errors: SipErrors,
    http_requests: Box<[AtomicU64]>,
    samplers: Mutex<Vec<Sampler>>,
}

/// SIP messages that went wrong, by reason (one label value each).
#[derive(Default)]
struct SipErrors {
    malformed: AtomicU64,
    bad_request: AtomicU64,
    throttled: AtomicU64,
    auth_failure: AtomicU64,
    overload: AtomicU64,
}

/// The SIP figures a sampler copies from the endpoint's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SipTotals {
    pub messages: u64,
    pub malformed: u64,
    pub bad_request: u64,
    pub throttled: u64,
    pub auth_failure: u64,
    pub overload: u64,
}

impl From<crate::sip::endpoint::Stats> for SipTotals {
    fn from(s: crate::sip::endpoint::Stats) -> Self {
        SipTotals {
            messages: s.received,
            malformed: s.dropped_malformed,
            bad_request: s.answered_400,
            throttled: s.dropped_throttled,
            auth_failure: s.auth_failures,
            overload: s.calls_refused_overload,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            calls_in_progress: AtomicI64::new(0),
            calls_total: AtomicU64::new(0),
            callers_waiting: AtomicI64::new(0),
            agents_by_state: Mutex::new(BTreeMap::new()),
            rtp_packets_sent: AtomicU64::new(0),
            sip_messages: AtomicU64::new(0),
            sip_errors: SipErrors::default(),
            http_requests: (0..STATUS_COUNT).map(|_| AtomicU64::new(0)).collect(),
            samplers: Mutex::new(Vec::new()),
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A call was offered (counted once, when it arrives) and is now in
    /// progress until [`Metrics::call_ended`].
    pub fn call_started(&self) {
        self.calls_total.fetch_add(1, Relaxed);
        self.calls_in_progress.fetch_add(1, Relaxed);
    }

    pub fn call_ended(&self) {
        self.calls_in_progress.fetch_sub(1, Relaxed);
    }

    /// Sets the number of calls in progress outright (for an owner that
    /// keeps its own count, e.g. the routing engine's snapshot).
    pub fn set_calls_in_progress(&self, n: u64) {
        self.calls_in_progress
            .store(i64::try_from(n).unwrap_or(i64::MAX), Relaxed);
    }

    /// Callers queued for an agent right now.
    pub fn set_callers_waiting(&self, n: u64) {
        self.callers_waiting
            .store(i64::try_from(n).unwrap_or(i64::MAX), Relaxed);
    }

    /// Replaces the agents-by-state gauge. States absent from `counts`
    /// are reported as 0 once seen, so a series does not vanish (which
    /// Prometheus would show as a gap rather than a zero).
    pub fn set_agents_by_state<'a>(&self, counts: impl IntoIterator<Item = (&'a str, u64)>) {
        let mut map = self
            .agents_by_state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.values_mut().for_each(|n| *n = 0);
        for (state, n) in counts {
            *map.entry(state.to_string()).or_insert(0) += n;
        }
    }

    /// RTP packets sent so far (a total copied from the media layer).
    pub fn set_rtp_packets_sent(&self, total: u64) {
        self.rtp_packets_sent.store(total, Relaxed);
    }

    /// SIP totals copied from the endpoint's counters.
    pub fn set_sip_totals(&self, t: SipTotals) {
        self.sip_messages.store(t.messages, Relaxed);
        let e = &self.sip_errors;
        e.malformed.store(t.malformed, Relaxed);
        e.bad_request.store(t.bad_request, Relaxed);
        e.throttled.store(t.throttled, Relaxed);
        e.auth_failure.store(t.auth_failure, Relaxed);
        e.overload.store(t.overload, Relaxed);
    }

    /// Counts one HTTP response. Codes outside 100..=599 are not counted.
    pub fn http_response(&self, status: u16) {
        if let Some(counter) = status
            .checked_sub(STATUS_LO)
            .and_then(|i| self.http_requests.get(usize::from(i)))
        {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// Registers a function run at every scrape, before rendering, to copy
    /// figures owned elsewhere into these metrics.
    pub fn add_sampler(&self, sampler: impl Fn(&Metrics) + Send + Sync + 'static) {
        self.samplers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(sampler));
    }

    /// The metrics in Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        for sampler in self
            .samplers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            sampler(self);
        }
        let mut out = String::with_capacity(2048);
        gauge(
            &mut out,
            "hotline_calls_in_progress",
            "Calls currently up (from the INVITE until the hang-up).",
            self.calls_in_progress.load(Relaxed),
        );
        counter(
            &mut out,
            "hotline_calls_total",
            "Calls offered since start; calls/s is rate(hotline_calls_total[1m]).",
            self.calls_total.load(Relaxed),
        );
        gauge(
            &mut out,
            "hotline_callers_waiting",
            "Callers queued for an agent.",
            self.callers_waiting.load(Relaxed),
        );
        header(&mut out, "hotline_agents", "gauge", "Agents by state.");
        for (state, n) in self
            .agents_by_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "hotline_agents{{state=\"{}\"}} {n}",
                escape_label(state)
            );
        }
        counter(
            &mut out,
            "hotline_rtp_packets_sent_total",
            "RTP packets sent (20 ms media ticks).",
            self.rtp_packets_sent.load(Relaxed),
        );
        counter(
            &mut out,
            "hotline_sip_messages_total",
            "SIP messages received.",
            self.sip_messages.load(Relaxed),
        );
        header(
            &mut out,
            "hotline_sip_errors_total",
            "counter",
            "SIP messages that failed, by reason.",
        );
        let e = &self.sip_errors;
        for (reason, n) in [
            ("malformed", &e.malformed),
            ("bad_request", &e.bad_request),
            ("throttled", &e.throttled),
            ("auth_failure", &e.auth_failure),
            ("overload", &e.overload),
        ] {
            let _ = writeln!(
                out,
                "hotline_sip_errors_total{{reason=\"{reason}\"}} {}",
                n.load(Relaxed)
            );
        }
        header(
            &mut out,
            "hotline_http_requests_total",
            "counter",
            "HTTP responses by status code.",
        );
        for (i, n) in self.http_requests.iter().enumerate() {
            let n = n.load(Relaxed);
            if n > 0 {
                let status = usize::from(STATUS_LO) + i;
                let _ = writeln!(
                    out,
                    "hotline_http_requests_total{{status=\"{status}\"}} {n}"
                );
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Label values escape `\`, `"` and newlines (text format 0.0.4).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn renders_every_family_with_help_and_type() {
        let m = Metrics::default();
        m.call_started();
        m.call_started();
        m.call_ended();
        m.set_callers_waiting(3);
        m.set_agents_by_state([("available", 2), ("busy", 1)]);
        m.http_response(200);
        m.http_response(200);
        m.http_response(404);
        m.http_response(42);
        let text = m.render();
        assert_eq!(sample(&text, "hotline_calls_in_progress"), Some(1.0));
        assert_eq!(sample(&text, "hotline_calls_total"), Some(2.0));
        assert_eq!(sample(&text, "hotline_callers_waiting"), Some(3.0));
        assert_eq!(
            sample(&text, "hotline_agents{state=\"available\"}"),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "hotline_http_requests_total{status=\"200\"}"),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "hotline_http_requests_total{status=\"404\"}"),
            Some(1.0)
        );
        for family in [
            "hotline_calls_in_progress",
            "hotline_calls_total",
            "hotline_callers_waiting",
            "hotline_agents",
            "hotline_rtp_packets_sent_total",
            "hotline_sip_messages_total",
            "hotline_sip_errors_total",
            "hotline_http_requests_total",
        ] {
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
            assert!(text.contains(&format!("# HELP {family} ")), "{family}");
        }
    }

    #[test]
    fn agent_states_that_empty_stay_at_zero() {
        let m = Metrics::default();
        m.set_agents_by_state([("busy", 1)]);
        m.set_agents_by_state([("available", 1)]);
        let text = m.render();
        assert_eq!(sample(&text, "hotline_agents{state=\"busy\"}"), Some(0.0));
        assert_eq!(
            sample(&text, "hotline_agents{state=\"available\"}"),
            Some(1.0)
        );
    }

    #[test]
    fn samplers_copy_figures_in_at_scrape_time() {
        let m = Metrics::default();
        m.add_sampler(|m| {
            m.set_rtp_packets_sent(7);
            m.set_sip_totals(SipTotals {
                messages: 10,
                malformed: 2,
                ..SipTotals::default()
            });
        });
        let text = m.render();
        assert_eq!(sample(&text, "hotline_rtp_packets_sent_total"), Some(7.0));
        assert_eq!(sample(&text, "hotline_sip_messages_total"), Some(10.0));
        assert_eq!(
            sample(&text, "hotline_sip_errors_total{reason=\"malformed\"}"),
            Some(2.0)
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
