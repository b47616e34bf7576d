//! `GET /metrics` against the whole server: valid Prometheus text format
//! 0.0.4, every family of the contract present, counters that rise.

mod common;
#[path = "common/http.rs"]
mod http;

use http::{Api, start_with};
use reqwest::StatusCode;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// Parses the text format strictly enough to catch what Prometheus would
/// reject: every sample line is `name{label="value",...} number`, names
/// and label names are valid, and each family has one `# TYPE` before its
/// samples. Returns series → value.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed = HashSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(valid_name(name), "{line}");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                for pair in labels.split(',') {
                    let (label, v) = pair.split_once('=').unwrap();
                    assert!(valid_name(label), "{line}");
                    assert!(
                        v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                        "{line}"
                    );
                }
                name
            }
            None => series,
        };
        assert!(valid_name(name), "{line}");
        assert!(typed.contains(name), "sample before its TYPE: {line}");
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "twice: {line}"
        );
    }
    samples
}

async fn scrape(api: &Api) -> BTreeMap<String, f64> {
    let r = api
        .request(reqwest::Method::GET, "/metrics", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse_prometheus(&r.text)
}

#[tokio::test]
async fn metrics_parse_and_count_http_and_sip_traffic() {
    let s = start_with(Vec::new(), |_| {}).await;
    let api = Api::new(&s);
    let first = scrape(&api).await;
    for series in [
        "hotline_calls_in_progress",
        "hotline_calls_total",
        "hotline_callers_waiting",
        "hotline_rtp_packets_sent_total",
        "hotline_sip_messages_total",
        "hotline_sip_errors_total{reason=\"malformed\"}",
    ] {
        assert!(first.contains_key(series), "{series} missing: {first:?}");
    }
    let not_found = "hotline_http_requests_total{status=\"404\"}";
    let ok = "hotline_http_requests_total{status=\"200\"}";
    assert_eq!(first.get(not_found), None);

    // One 404 and the scrape itself show up as counted responses.
    let r = api
        .request(reqwest::Method::GET, "/nowhere", None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let second = scrape(&api).await;
    assert_eq!(second.get(not_found), Some(&1.0));
    assert!(second[ok] >= first.get(ok).copied().unwrap_or(0.0) + 1.0);

    // A SIP request is counted (the endpoint's counters are sampled at
    // scrape time); wait for it with a deadline, UDP is asynchronous.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKmetrics1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=m1\r\nTo: <sip:{sip}>\r\n\
         Call-ID: metrics-1@{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        sip = s.sip()
    );
    socket.send_to(options.as_bytes(), s.sip()).await.unwrap();
    let before = second["hotline_sip_messages_total"];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = scrape(&api).await["hotline_sip_messages_total"];
        if now > before {
            break;
        }
        assert!(Instant::now() < deadline, "SIP message not counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.running.stop().await.unwrap();
}
