//! The one typed configuration of `hotline`, read from TOML.
//!
//! Every field has a default, so `hotline serve` runs with no file at all;
//! `hotline.example.toml` documents every key (and a test keeps it equal to
//! these defaults). Unknown keys are errors: a typo such as `min_expire` must
//! fail at start instead of silently keeping the default. Every error is
//! reported as `file:line:col: message`, pointing at the offending key or value,
//! and no input — however broken — makes the loader panic.
//!
//! Loading runs in two stages. The TOML crate deserializes the typed
//! [`Config`] and stops at the first syntax, type or unknown-key error (its
//! error carries a byte span). When that succeeds, [`Config::validate`]'s
//! cross-field checks run and *all* their problems are collected; each names
//! the key path it is about (`agents[1].password`), which a span index built
//! from a second, generic pass over the document turns into a line and column.

use crate::ivr::Calendar;
use crate::role::Role;
use crate::sip::digest::Algorithm;
use crate::store::QueueSkill;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The whole configuration. `Config::default()` is what `hotline serve` runs
/// with when there is no file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub sip: SipConfig,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub media: MediaConfig,
    pub paths: PathsConfig,
    /// Working hours, time zone and holidays for `business_hours` IVR nodes.
    #[serde(
        deserialize_with = "calendar_toml::deserialize",
        serialize_with = "calendar_toml::serialize"
    )]
    pub calendar: Calendar,
    pub ivr: IvrConfig,
    pub reports: ReportsConfig,
    /// E-mail and messenger ingest (`/api/v1/channels/...`).
    pub channels: ChannelsConfig,
    /// Operators upserted into the store at start (demos and tests). Agents
    /// can also be managed through the API; these win on every start.
    pub agents: Vec<AgentConfig>,
    /// Routing queues (ARCHITECTURE §5); the default is the institute's
    /// three: `general`, `admission`, `education`.
    pub queues: Vec<QueueSettings>,
    /// Recording of bridged calls.
    pub recording: RecordingConfig,
    /// Structural departments whose heads take "other" callers by transfer.
    pub departments: Vec<DepartmentConfig>,
    pub crm: CrmConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sip: SipConfig::default(),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            media: MediaConfig::default(),
            paths: PathsConfig::default(),
            calendar: Calendar::default(),
            ivr: IvrConfig::default(),
            channels: ChannelsConfig::default(),
            agents: Vec::new(),
            queues: default_queues(),
            recording: RecordingConfig::default(),
            departments: Vec::new(),
            reports: ReportsConfig::default(),
            crm: CrmConfig::default(),
        }
    }
}

/// The optional amoCRM sync (`crate::crm`): on when both the account URL
/// and the token are set.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrmConfig {
    /// `https://ACCOUNT.amocrm.ru`.
    pub amocrm_url: Option<String>,
    /// Long-lived token of an amoCRM integration (sent as a bearer token).
    pub amocrm_token: Option<String>,
    /// amoCRM user id recorded as the calls' author and responsible user.
    pub amocrm_user_id: Option<i64>,
    /// `source` of the calls in amoCRM.
    pub source: String,
    /// How often the outbox is checked for new rows.
    pub poll_interval_ms: u64,
    /// First retry delay after a failed push; it doubles (with jitter) per
    /// attempt up to `retry_max_ms`.
    pub retry_first_ms: u64,
    pub retry_max_ms: u64,
    /// One HTTP request to amoCRM gives up after this.
    pub request_timeout_ms: u64,
}

impl CrmConfig {
    pub fn enabled(&self) -> bool {
        self.amocrm_url.is_some() && self.amocrm_token.is_some()
    }

    fn check(&self, out: &mut Vec<Finding>) {
        match (&self.amocrm_url, &self.amocrm_token) {
            (Some(_), None) => out.push(Finding::new(
                "crm.amocrm_token",
                "amocrm_url is set but amocrm_token is not".into(),
            )),
            (None, Some(_)) => out.push(Finding::new(
                "crm.amocrm_url",
                "amocrm_token is set but amocrm_url is not".into(),
            )),
            _ => {}
        }
        if let Some(url) = &self.amocrm_url {
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if host.is_none_or(|h| {
                h.trim_end_matches('/').is_empty() || h.contains(char::is_whitespace)
            }) {
                out.push(Finding::new(
                    "crm.amocrm_url",
                    format!("amocrm_url {url:?} is not an http(s) URL such as https://x.amocrm.ru"),
                ));
            }
        }
        for (key, value) in [
            ("crm.poll_interval_ms", self.poll_interval_ms),
            ("crm.retry_first_ms", self.retry_first_ms),
            ("crm.request_timeout_ms", self.request_timeout_ms),
        ] {
            if value == 0 {
                let short = key.rsplit('.').next().unwrap_or(key);
                out.push(Finding::new(key, format!("{short} must be at least 1")));
            }
        }
        if self.retry_max_ms < self.retry_first_ms {
            out.push(Finding::new(
                "crm.retry_max_ms",
                format!(
                    "retry_max_ms ({}) is below retry_first_ms ({})",
                    self.retry_max_ms, self.retry_first_ms
                ),
            ));
        }
    }
}

impl Default for CrmConfig {
    fn default() -> Self {
        CrmConfig {
            amocrm_url: None,
            amocrm_token: None,
            amocrm_user_id: None,
            source: "hotline".to_string(),
            poll_interval_ms: 1000,
            retry_first_ms: 1000,
            retry_max_ms: 600_000,
            request_timeout_ms: 10_000,
        }
    }
}

/// The token stays out of logs.
impl fmt::Debug for CrmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrmConfig")
            .field("amocrm_url", &self.amocrm_url)
            .field(
                "amocrm_token",
                &self.amocrm_token.as_ref().map(|_| "<secret>"),
            )
            .field("amocrm_user_id", &self.amocrm_user_id)
            .field("source", &self.source)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("retry_first_ms", &self.retry_first_ms)
            .field("retry_max_ms", &self.retry_max_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

/// SIP signalling: listener, registrar and protection limits.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// UDP and TCP are both bound on this address.
    pub listen: SocketAddr,
    /// Digest realm offered in challenges. Changing it invalidates every
    /// stored HA1, so it is fixed per deployment.
    pub realm: String,
    /// Host used in the URIs we generate; see [`SipConfig::effective_domain`].
    pub domain: Option<String>,
    /// Shorter registrations are refused with 423 Interval Too Brief.
    pub min_expires: u32,
    /// Longer registrations are shortened to this.
    pub max_expires: u32,
    /// Used when a REGISTER asks for no expiry at all.
    pub default_expires: u32,
    /// Contacts per login; the oldest binding is replaced beyond this.
    pub max_bindings_per_login: usize,
    /// A TCP peer must finish a message this long after its first byte, so
    /// a stalled or slow-drip peer cannot hold a connection and its buffer.
    pub tcp_header_timeout_ms: u64,
    /// A TCP connection with no traffic at all is closed after this.
    pub tcp_idle_timeout_s: u64,
    /// Largest SIP message accepted (headers plus body) on any transport.
    pub max_message_bytes: usize,
    /// Further TCP connections are refused beyond this.
    pub max_tcp_connections: usize,
    /// Calls in progress beyond which a new INVITE gets 503 with
    /// Retry-After at once, before any port or task is spent on it: under
    /// overload the calls already up keep clean audio instead of everyone
    /// getting late answers and broken pacing.
    pub max_calls: usize,
    /// This many failed authentications from one source address ...
    pub auth_fail_limit: u32,
    /// ... within this window ...
    pub auth_fail_window_s: u64,
    /// ... make the source ignored for this long.
    pub auth_block_s: u64,
    /// A nonce older than this is answered with a new challenge and
    /// `stale=true`.
    pub nonce_lifetime_s: u64,
    /// `User-Agent`/`Server` header value.
    pub user_agent: String,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5060),
            realm: "hotline".to_string(),
            domain: None,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings_per_login: 10,
            tcp_header_timeout_ms: 5000,
            tcp_idle_timeout_s: 600,
            max_message_bytes: 65535,
            max_tcp_connections: 4096,
            max_calls: 4000,
            auth_fail_limit: 10,
            auth_fail_window_s: 60,
            auth_block_s: 300,
            nonce_lifetime_s: 300,
            user_agent: concat!("hotline/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl SipConfig {
    /// The host for our own URIs: `domain` if set, else the listen IP, or
    /// 127.0.0.1 when listening on every interface (0.0.0.0 / ::), which is
    /// not an address a peer can send to.
    pub fn effective_domain(&self) -> String {
        if let Some(domain) = &self.domain {
            return domain.clone();
        }
        match self.listen.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        }
    }
}

/// The HTTP API and console.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Loopback by default: the API holds client data, expose it on purpose.
    pub listen: SocketAddr,
    /// Lifetime of a bearer token from `auth/login`, seconds.
    pub token_ttl_s: i64,
    /// Failed logins for one username within `lockout_window_s` that lock
    /// it for `lockout_s` (password guessing; see `src/api/auth.rs`).
    pub lockout_failures: u32,
    pub lockout_window_s: u64,
    pub lockout_s: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            token_ttl_s: 43200,
            lockout_failures: 5,
            lockout_window_s: 300,
            lockout_s: 900,
        }
    }
}

/// Where inquiries, agents, bindings and events are stored.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` (created on first start) or `postgres://...`.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://hotline.db".to_string(),
        }
    }
}

/// RTP media.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// UDP ports handed out for RTP, `"LO-HI"` in TOML.
    pub rtp_ports: PortRange,
    /// A call with no RTP from the caller for this long is dead (a phone
    /// that vanished without BYE) and is hung up on both sides.
    pub rtp_timeout_s: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_ports: PortRange {
                lo: 10000,
                hi: 20000,
            },
            rtp_timeout_s: 60,
        }
    }
}

/// An inclusive range of UDP ports, written `LO-HI` in TOML and on the
/// command line. `lo` is at least 1024 so the pool never needs privileges or
/// collides with well-known services; an even `lo` keeps RTP on even ports
/// (RFC 3550 §11 convention) with RTCP on the odd port above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    /// Number of ports in the range.
    pub fn len(&self) -> usize {
        usize::from(self.hi).saturating_sub(usize::from(self.lo)) + 1
    }

    /// A valid range is never empty; this exists for clippy's `len` rule.
    pub fn is_empty(&self) -> bool {
        self.hi < self.lo
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.lo, self.hi)
    }
}

/// Why a `LO-HI` port range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPortRange(String);

impl FromStr for PortRange {
    type Err = BadPortRange;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (lo, hi) = s.split_once('-').ok_or_else(|| {
            BadPortRange(format!(
                "invalid port range {s:?}: expected LO-HI, e.g. \"10000-20000\""
            ))
        })?;
        let port = |p: &str| {
            p.trim().parse::<u16>().map_err(|_| {
                BadPortRange(format!(
                    "invalid port range {s:?}: {:?} is not a port number (0-65535)",
                    p.trim()
                ))
            })
        };
        let (lo, hi) = (port(lo)?, port(hi)?);
        if lo < 1024 {
            return Err(BadPortRange(format!(
                "invalid port range {s:?}: ports below 1024 are reserved, start at 1024 or above"
            )));
        }
        if lo > hi {
            return Err(BadPortRange(format!(
                "invalid port range {s:?}: the first port is greater than the last"
            )));
        }
        Ok(PortRange { lo, hi })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PortRangeVisitor;
        impl Visitor<'_> for PortRangeVisitor {
            type Value = PortRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port range \"LO-HI\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortRange, E> {
                v.parse().map_err(|e: BadPortRange| E::custom(e.0))
            }
        }
        deserializer.deserialize_str(PortRangeVisitor)
    }
}

impl Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Directories of files the server reads or writes.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// IVR flows, one TOML file per flow.
    pub ivr_dir: PathBuf,
    /// Prompts: `<prompts_dir>/<language>/<name>.wav`.
    pub prompts_dir: PathBuf,
    /// Call recordings: `<recordings_dir>/YYYY/MM/DD/<inquiry-id>.wav`.
    pub recordings_dir: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            ivr_dir: PathBuf::from("ivr-scripts"),
            prompts_dir: PathBuf::from("prompts"),
            recordings_dir: PathBuf::from("recordings"),
        }
    }
}

/// The IVR runtime around the scripts in `paths.ivr_dir`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IvrConfig {
    /// How often the IVR and prompt directories are polled for edits, in
    /// milliseconds; 0 turns hot reload off. Polling (not inotify) so it
    /// works the same on every filesystem, network mounts and containers
    /// included; one poll only stats a few dozen files.
    pub reload_interval_ms: u64,
}

impl Default for IvrConfig {
    fn default() -> Self {
        IvrConfig {
            reload_interval_ms: 1000,
        }
    }
}

/// Inquiries arriving in writing: e-mail piped in by an MTA, messenger bot
/// webhooks.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelsConfig {
    /// Shared token an MTA sends as `X-Hotline-Token` to
    /// `POST /api/v1/channels/email` (a pipe has no way to log in). `None`:
    /// only head/admin bearer tokens are accepted.
    pub email_ingest_token: Option<String>,
    /// Largest raw e-mail accepted, bytes; larger ones get 413.
    pub max_email_bytes: usize,
    /// A messenger chat's message joins the chat's open inquiry when the
    /// previous message came at most this many seconds earlier.
    pub messenger_thread_window_s: u64,
    /// Bots by name, the `{name}` of `/api/v1/channels/messenger/{name}`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub messenger: std::collections::BTreeMap<String, MessengerConfig>,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig {
            email_ingest_token: None,
            max_email_bytes: 10 * 1024 * 1024,
            messenger_thread_window_s: 86_400,
            messenger: std::collections::BTreeMap::new(),
        }
    }
}

/// One messenger bot's webhook.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessengerConfig {
    /// Expected in `X-Telegram-Bot-Api-Secret-Token` (the `secret_token`
    /// given to Telegram's setWebhook): 16-256 of `A-Z a-z 0-9 _ -`.
    pub secret: String,
}

/// Bounds of configured channel secrets: long enough not to be guessed,
/// in the character set Telegram allows for `secret_token`.
const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 256;
/// Smallest sensible `channels.max_email_bytes`: headers alone take a few KiB.
pub const MIN_EMAIL_BYTES: usize = 4096;

fn is_secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

fn secret_problem(secret: &str) -> Option<String> {
    if secret.len() < MIN_SECRET_LEN || secret.len() > MAX_SECRET_LEN {
        Some(format!(
            "must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} characters long (it is {})",
            secret.chars().count()
        ))
    } else if !secret.chars().all(is_secret_char) {
        Some("may only contain letters, digits, '_' and '-'".into())
    } else {
        None
    }
}

/// Shortest non-zero `ivr.reload_interval_ms`: faster polling only burns CPU.
pub const MIN_RELOAD_INTERVAL_MS: u64 = 100;

/// Statistical reports (`hotline report`, `/api/v1/reports/*`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsConfig {
    /// Service level: the share of answered calls answered within this
    /// many seconds of entering the queue.
    pub service_level_s: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            service_level_s: crate::report::DEFAULT_SERVICE_LEVEL_S,
        }
    }
}

/// An operator listed in the config, upserted at start.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// SIP user name and API login.
    pub login: String,
    /// Display name; the login when not given.
    #[serde(default)]
    pub name: String,
    pub role: Role,
    /// SIP digest and API password. Stored only as HA1 and argon2 hashes.
    pub password: String,
    /// Queues served, each `"name"` or `{ queue = "name", skill = N }`.
    #[serde(default)]
    pub queues: Vec<QueueSkill>,
    /// Digest algorithms challenged, in order (RFC 8760): MD5 alone by
    /// default because SIPp 3.6.1 and baresip 1.0 fail on SHA-256.
    #[serde(default = "default_digest_algorithms")]
    pub digest_algorithms: Vec<Algorithm>,
    /// Always send requests to the REGISTER's source address over the same
    /// flow, even when the REGISTER shows no NAT.
    #[serde(default)]
    pub nat: bool,
}

fn default_digest_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::Md5]
}

/// One routing queue, `[[queues]]` in TOML. Times are whole seconds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Queue name, also dialled as `sip:NAME@...` for a REFER transfer.
    pub name: String,
    /// `longest_idle` (default), `round_robin` or `fewest_calls`.
    #[serde(default)]
    pub strategy: crate::acd::Strategy,
    /// An agent's phone rings this long before the next agent is tried.
    #[serde(default = "default_ring_timeout_s")]
    pub ring_timeout_s: u64,
    /// Time after a call before the agent gets the next one (0: none).
    #[serde(default = "default_wrap_up_s")]
    pub wrap_up_s: u64,
    /// Longest wait before `overflow` applies; unset waits forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_s: Option<u64>,
    /// `"queue:NAME"` or `"callback"`, with `max_wait_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<String>,
    /// A known caller's personal manager rings this long before the queue.
    #[serde(default = "default_personal_ring_s")]
    pub personal_ring_s: u64,
    /// Position and estimated wait are announced this often while waiting.
    #[serde(default = "default_announce_every_s")]
    pub announce_every_s: u64,
}

fn default_ring_timeout_s() -> u64 {
    15
}
fn default_wrap_up_s() -> u64 {
    10
}
fn default_personal_ring_s() -> u64 {
    20
}
fn default_announce_every_s() -> u64 {
    30
}

impl QueueSettings {
    /// A queue with every default.
    pub fn new(name: impl Into<String>) -> QueueSettings {
        QueueSettings {
            name: name.into(),
            strategy: crate::acd::Strategy::default(),
            ring_timeout_s: default_ring_timeout_s(),
            wrap_up_s: default_wrap_up_s(),
            max_wait_s: None,
            overflow: None,
            personal_ring_s: default_personal_ring_s(),
            announce_every_s: default_announce_every_s(),
        }
    }

    /// `overflow` as the engine's target; `Err` says what is wrong with it.
    pub fn overflow_target(&self) -> Result<Option<crate::acd::OverflowTarget>, String> {
        match self.overflow.as_deref() {
            None => Ok(None),
            Some("callback") => Ok(Some(crate::acd::OverflowTarget::Callback)),
            Some(other) => match other.strip_prefix("queue:") {
                Some(queue) if !queue.is_empty() => {
                    Ok(Some(crate::acd::OverflowTarget::Queue(queue.to_string())))
                }
                _ => Err(format!(
                    "overflow {other:?} must be \"queue:NAME\" or \"callback\""
                )),
            },
        }
    }
}

/// The default queues: contact managers (`general`) and the two areas of
/// personal managers.
fn default_queues() -> Vec<QueueSettings> {
    ["general", "admission", "education"]
        .into_iter()
        .map(QueueSettings::new)
        .collect()
}

/// `[recording]`: stereo WAV of bridged calls (caller left, agent right).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    pub enabled: bool,
}

/// A structural department, `[[departments]]`: "other" callers are
/// transferred to it by `number` (REFER or the API), which rings its head
/// (`login`) or a queue of its staff (`queue`): exactly one of the two.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentConfig {
    pub name: String,
    /// Digits dialled (or given to the API) to reach the department.
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (as the user named it); `None` for a config that did not come
    /// from a file, e.g. the defaults plus command-line overrides.
    pub file: Option<String>,
    /// 1-based line and column (in characters) of the offending value or key.
    pub position: Option<(usize, usize)>,
    /// The key the problem is about, `sip.min_expires` or `agents[1].login`,
    /// when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.position) {
            (Some(file), Some((line, col))) => write!(f, "{file}:{line}:{col}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, _) => {
                if let Some(key) = &self.key {
                    write!(f, "{key}: ")?;
                }
            }
        }
        f.write_str(&self.message)
    }
}

/// Everything wrong with a configuration; displayed one problem per line as
/// `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses and validates a TOML document; `file_name` only labels errors.
    pub fn from_toml_str(text: &str, file_name: &str) -> Result<Config, ConfigError> {
        let at = |span: Option<Range<usize>>, key: Option<String>, message: String| ConfigError {
            problems: vec![Problem {
                file: Some(file_name.to_string()),
                position: span.map(|s| line_col(text, s.start)),
                key,
                message,
            }],
        };
        let mut config: Config = match toml::from_str(text) {
            Ok(config) => config,
            Err(e) => {
                let spans = SpanIndex::build(text);
                let (span, key, message) = explain_toml_error(&e, text, &spans);
                return Err(at(span, key, message));
            }
        };
        for agent in &mut config.agents {
            if agent.name.is_empty() {
                agent.name = agent.login.clone();
            }
        }
        let problems = config.check();
        if problems.is_empty() {
            return Ok(config);
        }
        let spans = SpanIndex::build(text);
        Err(ConfigError {
            problems: problems
                .into_iter()
                .map(|finding| {
                    let offset = finding.candidates().find_map(|key| spans.position_of(key));
                    Problem {
                        file: Some(file_name.to_string()),
                        position: offset.map(|offset| line_col(text, offset)),
                        key: Some(finding.key),
                        message: finding.message,
                    }
                })
                .collect(),
        })
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![Problem {
                file: Some(name.clone()),
                position: None,
                key: None,
                message: format!("cannot read: {e}"),
            }],
        })?;
        Config::from_toml_str(&text, &name)
    }

    /// The cross-field checks, for a config changed after loading (command
    /// line overrides). Problems carry the key they are about, not a position.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.check();
        if problems.is_empty() {
            return Ok(());
        }
        Err(ConfigError {
            problems: problems
                .into_iter()
                .map(|finding| Problem {
                    file: None,
                    position: None,
                    key: Some(finding.key),
                    message: finding.message,
                })
                .collect(),
        })
    }

    /// Every semantic problem as (key path, message), in document order.
    fn check(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        let mut bad = |key: &str, also: &[&str], message: String| {
            out.push(Finding::new(key, message).also(also))
        };
        let sip = &self.sip;

        if sip.realm.is_empty() {
            bad("sip.realm", &[], "realm must not be empty".into());
        } else if sip
            .realm
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            bad(
                "sip.realm", &[],
                "realm must not contain quotes, backslashes or control characters (it is sent quoted in challenges)".into(),
            );
        }
        if let Some(domain) = &sip.domain {
            if domain.is_empty()
                || domain
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>\"@;".contains(c))
            {
                bad(
                    "sip.domain",
                    &[],
                    format!("domain {domain:?} is not a host name or IP address"),
                );
            }
        }
        if sip.min_expires == 0 {
            bad(
                "sip.min_expires",
                &[],
                "min_expires must be at least 1".into(),
            );
        }
        if sip.min_expires > sip.max_expires {
            bad(
                "sip.min_expires",
                &["sip.max_expires"],
                format!(
                    "min_expires ({}) is greater than max_expires ({})",
                    sip.min_expires, sip.max_expires
                ),
            );
        } else if sip.default_expires < sip.min_expires || sip.default_expires > sip.max_expires {
            bad(
                "sip.default_expires",
                &["sip.min_expires", "sip.max_expires"],
                format!(
                    "default_expires ({}) must lie between min_expires ({}) and max_expires ({})",
                    sip.default_expires, sip.min_expires, sip.max_expires
                ),
            );
        }
        for (key, value) in [
            (
                "sip.max_bindings_per_login",
                sip.max_bindings_per_login as u64,
            ),
            ("sip.tcp_header_timeout_ms", sip.tcp_header_timeout_ms),
            ("sip.tcp_idle_timeout_s", sip.tcp_idle_timeout_s),
            ("sip.max_tcp_connections", sip.max_tcp_connections as u64),
            ("sip.max_calls", sip.max_calls as u64),
            ("sip.auth_fail_limit", u64::from(sip.auth_fail_limit)),
            ("sip.auth_fail_window_s", sip.auth_fail_window_s),
            ("sip.auth_block_s", sip.auth_block_s),
            ("sip.nonce_lifetime_s", sip.nonce_lifetime_s),
        ] {
            if value == 0 {
                let short = key.rsplit('.').next().unwrap_or(key);
                bad(key, &[], format!("{short} must be at least 1"));
            }
        }
        if sip.max_message_bytes < MIN_MESSAGE_BYTES {
            bad(
                "sip.max_message_bytes",
                &[],
                format!(
                    "max_message_bytes ({}) is below {MIN_MESSAGE_BYTES}: ordinary REGISTER and INVITE messages would be refused",
                    sip.max_message_bytes
                ),
            );
        }
        if sip.user_agent.chars().any(char::is_control) {
            bad(
                "sip.user_agent",
                &[],
                "user_agent must not contain control characters (it is sent as a header)".into(),
            );
        }
        // Port 0 asks the OS for a free port (tests): never a collision.
        let (http_listen, sip_listen) = (self.http.listen, sip.listen);
        if http_listen.port() != 0
            && http_listen.port() == sip_listen.port()
            && (http_listen.ip() == sip_listen.ip()
                || http_listen.ip().is_unspecified()
                || sip_listen.ip().is_unspecified())
        {
            bad(
                "http.listen",
                &["sip.listen"],
                format!(
                    "http.listen ({}) collides with sip.listen ({}): both need TCP on that port",
                    self.http.listen, sip.listen
                ),
            );
        }
        if self.http.token_ttl_s <= 0 {
            bad(
                "http.token_ttl_s",
                &[],
                format!(
                    "token_ttl_s ({}) must be a positive number of seconds",
                    self.http.token_ttl_s
                ),
            );
        }
        for (key, value) in [
            (
                "http.lockout_failures",
                u64::from(self.http.lockout_failures),
            ),
            ("http.lockout_window_s", self.http.lockout_window_s),
            ("http.lockout_s", self.http.lockout_s),
        ] {
            if value == 0 {
                bad(key, &[], format!("{key} must be at least 1"));
            }
        }
        let url = &self.database.url;
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            bad(
                "database.url",
                &[],
                format!(
                    "database url {url:?} is neither sqlite://FILE nor postgres://USER@HOST/DB"
                ),
            );
        }

        let interval = self.ivr.reload_interval_ms;
        if interval != 0 && interval < MIN_RELOAD_INTERVAL_MS {
            bad(
                "ivr.reload_interval_ms",
                &[],
                format!(
                    "reload_interval_ms ({interval}) is below {MIN_RELOAD_INTERVAL_MS}: use 0 to turn hot reload off"
                ),
            );
        }

        let service_level_s = self.reports.service_level_s;
        if !(1..=3600).contains(&service_level_s) {
            bad(
                "reports.service_level_s",
                &[],
                format!("service_level_s ({service_level_s}) must be from 1 to 3600 seconds"),
            );
        }

        let channels = &self.channels;
        if let Some(token) = &channels.email_ingest_token {
            if let Some(problem) = secret_problem(token) {
                bad(
                    "channels.email_ingest_token",
                    &[],
                    format!("email_ingest_token {problem}"),
                );
            }
        }
        if channels.max_email_bytes < MIN_EMAIL_BYTES {
            bad(
                "channels.max_email_bytes",
                &[],
                format!(
                    "max_email_bytes ({}) is below {MIN_EMAIL_BYTES}: ordinary e-mails would be refused",
                    channels.max_email_bytes
                ),
            );
        }
        if channels.messenger_thread_window_s == 0 {
            bad(
                "channels.messenger_thread_window_s",
                &[],
                "messenger_thread_window_s must be at least 1".into(),
            );
        }
        for (name, messenger) in &channels.messenger {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
            {
                bad(
                    &format!("channels.messenger.{name}"),
                    &[],
                    format!(
                        "messenger name {name:?} may only contain a-z, 0-9, '_' and '-' (it is part of the webhook URL)"
                    ),
                );
            }
            if let Some(problem) = secret_problem(&messenger.secret) {
                bad(
                    &format!("channels.messenger.{name}.secret"),
                    &[],
                    format!("secret of messenger {name:?} {problem}"),
                );
            }
        }

        let mut logins = HashSet::new();
        for (i, agent) in self.agents.iter().enumerate() {
            let key = |field: &str| format!("agents[{i}].{field}");
            if agent.login.is_empty() {
                out.push(Finding::new(
                    key("login"),
                    "agent login must not be empty".into(),
                ));
            } else if !agent.login.chars().all(is_login_char) {
                out.push(Finding::new(
                    key("login"),
                    format!(
                        "agent login {:?} may only contain letters, digits, '.', '_' and '-' (it is a SIP user name)",
                        agent.login
                    ),
                ));
            } else if agent.login == RESERVED_LOGIN {
                out.push(Finding::new(
                    key("login"),
                    format!(
                        "login {RESERVED_LOGIN:?} is the built-in administrator (password from HOTLINE_ADMIN_PASSWORD), not an agent"
                    ),
                ));
            } else if !logins.insert(agent.login.as_str()) {
                out.push(Finding::new(
                    key("login"),
                    format!("duplicate agent login {:?}", agent.login),
                ));
            }
            if agent.password.is_empty() {
                out.push(Finding::new(
                    key("password"),
                    format!("agent {:?} has an empty password", agent.login),
                ));
            }
            if agent.digest_algorithms.is_empty() {
                out.push(Finding::new(
                    key("digest_algorithms"),
                    "digest_algorithms must list at least one algorithm (MD5 or SHA-256)".into(),
                ));
            }
            let mut algorithms = HashSet::new();
            for (j, algorithm) in agent.digest_algorithms.iter().enumerate() {
                if !algorithms.insert(*algorithm) {
                    out.push(Finding::new(
                        format!("agents[{i}].digest_algorithms[{j}]"),
                        format!("digest algorithm {algorithm} is listed twice"),
                    ));
                }
            }
            let mut queues = HashSet::new();
            for (j, membership) in agent.queues.iter().enumerate() {
                let queue = &membership.queue;
                if queue.is_empty() || !queue.chars().all(is_login_char) {
                    out.push(Finding::new(
                        format!("agents[{i}].queues[{j}]"),
                        format!(
                            "queue name {queue:?} may only contain letters, digits, '.', '_' and '-'"
                        ),
                    ));
                } else if !queues.insert(queue.as_str()) {
                    out.push(Finding::new(
                        format!("agents[{i}].queues[{j}]"),
                        format!("queue {queue:?} is listed twice"),
                    ));
                } else if !self.queues.iter().any(|q| &q.name == queue) {
                    out.push(Finding::new(
                        format!("agents[{i}].queues[{j}]"),
                        format!("queue {queue:?} is not configured in [[queues]]"),
                    ));
                }
            }
        }
        self.check_routing(&mut out);
        self.crm.check(&mut out);
        out
    }

    /// `[[queues]]` and `[[departments]]`: names unique and usable in a SIP
    /// URI, times positive, overflow and department targets existing.
    fn check_routing(&self, out: &mut Vec<Finding>) {
        let mut names = HashSet::new();
        for (i, queue) in self.queues.iter().enumerate() {
            let key = |field: &str| format!("queues[{i}].{field}");
            if queue.name.is_empty() || !queue.name.chars().all(is_login_char) {
                out.push(Finding::new(
                    key("name"),
                    format!(
                        "queue name {:?} may only contain letters, digits, '.', '_' and '-'",
                        queue.name
                    ),
                ));
            } else if !names.insert(queue.name.as_str()) {
                out.push(Finding::new(
                    key("name"),
                    format!("duplicate queue name {:?}", queue.name),
                ));
            }
            for (field, value) in [
                ("ring_timeout_s", queue.ring_timeout_s),
                ("personal_ring_s", queue.personal_ring_s),
                ("announce_every_s", queue.announce_every_s),
                ("max_wait_s", queue.max_wait_s.unwrap_or(1)),
            ] {
                if value == 0 {
                    out.push(Finding::new(
                        key(field),
                        format!("{field} must be at least 1"),
                    ));
                }
            }
            match (queue.overflow_target(), queue.max_wait_s) {
                (Err(message), _) => out.push(Finding::new(key("overflow"), message)),
                (Ok(Some(_)), None) => out.push(Finding::new(
                    key("overflow"),
                    "overflow needs max_wait_s (how long a caller waits before it applies)".into(),
                )),
                (Ok(None), Some(_)) => out.push(Finding::new(
                    key("max_wait_s"),
                    "max_wait_s needs overflow = \"queue:NAME\" or \"callback\"".into(),
                )),
                (Ok(Some(crate::acd::OverflowTarget::Queue(target))), Some(_)) => {
                    if target == queue.name {
                        out.push(Finding::new(
                            key("overflow"),
                            format!("queue {:?} cannot overflow to itself", queue.name),
                        ));
                    } else if !self.queues.iter().any(|q| q.name == target) {
                        out.push(Finding::new(
                            key("overflow"),
                            format!("overflow queue {target:?} is not configured"),
                        ));
                    }
                }
                _ => {}
            }
        }
        let (mut names, mut numbers) = (HashSet::new(), HashSet::new());
        for (i, department) in self.departments.iter().enumerate() {
            let key = |field: &str| format!("departments[{i}].{field}");
            if department.name.trim().is_empty() {
                out.push(Finding::new(
                    key("name"),
                    "department name must not be empty".into(),
                ));
            } else if !names.insert(department.name.as_str()) {
                out.push(Finding::new(
                    key("name"),
                    format!("duplicate department {:?}", department.name),
                ));
            }
            if department.number.is_empty()
                || !department.number.chars().all(|c| c.is_ascii_digit())
            {
                out.push(Finding::new(
                    key("number"),
                    format!(
                        "department number {:?} must be digits (it is dialled)",
                        department.number
                    ),
                ));
            } else if !numbers.insert(department.number.as_str()) {
                out.push(Finding::new(
                    key("number"),
                    format!("department number {:?} is used twice", department.number),
                ));
            }
            match (&department.login, &department.queue) {
                (Some(_), None) => {}
                (None, Some(queue)) => {
                    if !self.queues.iter().any(|q| &q.name == queue) {
                        out.push(Finding::new(
                            key("queue"),
                            format!("queue {queue:?} is not configured in [[queues]]"),
                        ));
                    }
                }
                _ => out.push(Finding::new(
                    key("name"),
                    "a department needs exactly one of login (its head) or queue".into(),
                )),
            }
        }
    }
}

/// `[calendar]` as written in TOML, checked value by value.
///
/// [`Calendar`] deserializes itself from its whole table, so a bad value
/// would be reported at the table. Here each value is checked as it is
/// read, so the error carries *that value's* position (`c.toml:3:13: bad
/// holiday ...`), and the weekdays are fields, so a misspelt day gets the
/// usual "unknown key ..., did you mean" message. The rules themselves stay
/// in [`crate::ivr::calendar`]: each value is validated by building a
/// calendar from it alone.
pub(crate) mod calendar_toml {
    use crate::ivr::Calendar;
    use crate::ivr::calendar::{CalendarConfig, Weekday};
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
    use std::collections::BTreeMap;

    /// A string accepted by `Calendar::try_from` when it is the only value.
    /// `WHAT` says which value: [`OFFSET`], [`HOLIDAY`], or `HOURS + n`
    /// for the hours of `Weekday::ALL[n]` (so a message names the right day).
    struct Checked<const WHAT: usize>(String);

    const OFFSET: usize = 100;
    const HOLIDAY: usize = 101;
    const HOURS: usize = 0;

    impl<'de, const WHAT: usize> Deserialize<'de> for Checked<WHAT> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let text = String::deserialize(deserializer)?;
            let mut alone = CalendarConfig::default();
            match WHAT {
                OFFSET => alone.utc_offset = Some(text.clone()),
                HOLIDAY => alone.holidays = vec![text.clone()],
                day => {
                    let day = Weekday::ALL.get(day).copied().unwrap_or(Weekday::Mon);
                    alone.hours = Some(BTreeMap::from([(day.key().to_string(), text.clone())]));
                }
            }
            Calendar::try_from(alone).map_err(de::Error::custom)?;
            Ok(Checked(text))
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        #[serde(default)]
        utc_offset: Option<Checked<OFFSET>>,
        #[serde(default)]
        hours: Option<Hours>,
        #[serde(default)]
        holidays: Vec<Checked<HOLIDAY>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Hours {
        mon: Option<Checked<HOURS>>,
        tue: Option<Checked<{ HOURS + 1 }>>,
        wed: Option<Checked<{ HOURS + 2 }>>,
        thu: Option<Checked<{ HOURS + 3 }>>,
        fri: Option<Checked<{ HOURS + 4 }>>,
        sat: Option<Checked<{ HOURS + 5 }>>,
        sun: Option<Checked<{ HOURS + 6 }>>,
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Calendar, D::Error> {
        let table = Table::deserialize(deserializer)?;
        let hours = table.hours.map(|h| {
            [
                ("mon", h.mon.map(|c| c.0)),
                ("tue", h.tue.map(|c| c.0)),
                ("wed", h.wed.map(|c| c.0)),
                ("thu", h.thu.map(|c| c.0)),
                ("fri", h.fri.map(|c| c.0)),
                ("sat", h.sat.map(|c| c.0)),
                ("sun", h.sun.map(|c| c.0)),
            ]
            .into_iter()
            .filter_map(|(day, spec)| spec.map(|spec| (day.to_string(), spec)))
            .collect()
        });
        Calendar::try_from(CalendarConfig {
            utc_offset: table.utc_offset.map(|o| o.0),
            hours,
            holidays: table.holidays.into_iter().map(|h| h.0).collect(),
        })
        .map_err(de::Error::custom)
    }

    /// The inverse of [`deserialize`], in the same spelling as the example
    /// file: every weekday written out, `closed` for a day off.
    pub fn serialize<S: Serializer>(calendar: &Calendar, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Days<'a>(&'a Calendar);
        impl Serialize for Days<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(7))?;
                for (day, intervals) in Weekday::ALL.iter().zip(&self.0.weekly) {
                    map.serialize_entry(day.key(), &intervals_text(intervals))?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("utc_offset", &offset_text(calendar.utc_offset_minutes))?;
        map.serialize_entry("hours", &Days(calendar))?;
        let holidays: Vec<String> = calendar.holidays.iter().map(ToString::to_string).collect();
        map.serialize_entry("holidays", &holidays)?;
        map.end()
    }

    pub(crate) fn offset_text(minutes: i32) -> String {
        let sign = if minutes < 0 { '-' } else { '+' };
        let minutes = minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }

    pub(crate) fn intervals_text(intervals: &[(u16, u16)]) -> String {
        if intervals.is_empty() {
            return "closed".to_string();
        }
        let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        intervals
            .iter()
            .map(|&(start, end)| format!("{}-{}", clock(start), clock(end)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A semantic problem found on the typed config, before it is located.
struct Finding {
    /// The key the message is about, e.g. `agents[1].login`.
    key: String,
    /// Other keys involved, to point at when `key` itself is not written in
    /// the file (a default that conflicts with a value that is).
    also: Vec<String>,
    message: String,
}

impl Finding {
    fn new(key: impl Into<String>, message: String) -> Finding {
        Finding {
            key: key.into(),
            also: Vec::new(),
            message,
        }
    }

    fn also(mut self, keys: &[&str]) -> Finding {
        self.also.extend(keys.iter().map(|k| k.to_string()));
        self
    }

    /// Where to point, best first: the key, the other keys involved, then
    /// each enclosing table (`agents[0].queues[1]` → `agents[0].queues` → ...).
    fn candidates(&self) -> impl Iterator<Item = &str> {
        let keys = std::iter::once(self.key.as_str()).chain(self.also.iter().map(String::as_str));
        let parents = std::iter::successors(Some(self.key.as_str()), |k| {
            k.rfind(['.', '[']).map(|i| &k[..i])
        })
        .skip(1);
        keys.chain(parents)
    }
}

/// Smallest sensible `max_message_bytes`: a REGISTER with digest
/// credentials and a few Via headers already takes several hundred bytes.
pub const MIN_MESSAGE_BYTES: usize = 1024;

/// The built-in API administrator's login.
pub const RESERVED_LOGIN: &str = "admin";

fn is_login_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// 1-based line and column (in characters) of a byte offset; offsets past
/// the end or inside a character clamp instead of panicking.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).unwrap_or("").chars().count() + 1;
    (line, col)
}

/// Turns a TOML error into (span, key path, message) with a message a user
/// can act on: which table an unknown key is in and the nearest known key,
/// the offending text of a bad address, plain words instead of Rust types.
/// Always a single line, so `ConfigError` shows one problem per line.
fn explain_toml_error(
    e: &toml::de::Error,
    text: &str,
    spans: &SpanIndex,
) -> (Option<Range<usize>>, Option<String>, String) {
    let span = e.span();
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let span = span.map(|s| spans.narrow_to_element(s, text, &message));
    let start = span.as_ref().map(|s| s.start);
    let key = start.and_then(|s| spans.key_at(s));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let mut parts = rest.split('`');
        let unknown = parts.next().unwrap_or("");
        // serde lists the expected names between backticks after the first.
        let expected: Vec<&str> = parts.skip(1).step_by(2).collect();
        let table = key
            .as_deref()
            .and_then(|k| k.rsplit_once('.').map(|(parent, _)| parent))
            .map(|parent| format!(" in {}", table_name(parent)))
            .unwrap_or_default();
        let hint = match nearest(unknown, &expected) {
            Some(near) => format!(", did you mean `{near}`?"),
            None if expected.is_empty() => String::new(),
            None => format!(" (expected one of: {})", expected.join(", ")),
        };
        return (span, key, format!("unknown key `{unknown}`{table}{hint}"));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let missing = rest.split('`').next().unwrap_or("");
        let table = start
            .and_then(|s| spans.path_at(s))
            .map(|p| format!(" in {}", table_name(&p)))
            .unwrap_or_default();
        return (span, key, format!("missing key `{missing}`{table}"));
    }
    if message == "invalid socket address syntax" {
        let value = span
            .as_ref()
            .and_then(|s| text.get(s.clone()))
            .unwrap_or("this value");
        let message = format!(
            "invalid socket address {value}: expected \"IP:PORT\", e.g. \"127.0.0.1:8080\""
        );
        return (span, key, message);
    }
    (span, key, plain_type_names(&message))
}

/// `sip` → `[sip]`; `agents[0].queues[1]` stays as it is.
fn table_name(path: &str) -> String {
    if path.contains('[') {
        path.to_string()
    } else {
        format!("[{path}]")
    }
}

/// serde names Rust types in its messages; users wrote TOML.
fn plain_type_names(message: &str) -> String {
    let mut out = message.replacen("unknown variant `", "unknown value `", 1);
    for (rust, plain) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected i64", "expected a whole number"),
    ] {
        if let Some(head) = out.strip_suffix(rust) {
            out = format!("{head}{plain}");
        }
    }
    if let Some(head) = out.strip_suffix("expected a sequence") {
        out = format!("{head}expected an array");
    }
    if let Some(i) = out.find("expected struct ") {
        out.truncate(i);
        out.push_str("expected a table");
    }
    out
}

/// The known key closest to a misspelt one, if it is close enough to be a
/// plausible typo.
fn nearest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (unknown.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(unknown, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, case-insensitive (`Listen` is a typo of `listen`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Byte spans of every key and value in a TOML document, by key path
/// (`sip.listen`, `agents[0].queues[1]`). Built from a generic pass over the
/// document so that checks on the typed [`Config`] can be located without
/// wrapping every typed field in `Spanned`.
#[derive(Debug, Default)]
struct SpanIndex {
    entries: Vec<SpanEntry>,
}

#[derive(Debug)]
struct SpanEntry {
    path: String,
    key: Option<Range<usize>>,
    value: Range<usize>,
}

impl SpanIndex {
    /// An empty index when the document does not parse: positions are then
    /// taken from the parser's own error.
    fn build(text: &str) -> SpanIndex {
        let mut index = SpanIndex::default();
        // The toml crate has no span for a table only implied by a header
        // such as `[channels.messenger.telegram]`, and refuses to give the
        // whole document spans then. Declaring those tables explicitly at
        // the end keeps every offset of the real text valid.
        let root = toml::from_str::<Node>(text)
            .or_else(|_| toml::from_str::<Node>(&with_implied_tables_declared(text)));
        if let Ok(root) = root {
            index.add_children("", &root);
        }
        index
    }

    fn add_children(&mut self, prefix: &str, node: &Node) {
        match node {
            Node::Table(children) => {
                for (key, value) in children {
                    let path = if prefix.is_empty() {
                        key.get_ref().clone()
                    } else {
                        format!("{prefix}.{}", key.get_ref())
                    };
                    self.entries.push(SpanEntry {
                        path: path.clone(),
                        key: Some(key.span()),
                        value: value.span(),
                    });
                    self.add_children(&path, value.get_ref());
                }
            }
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{prefix}[{i}]");
                    self.entries.push(SpanEntry {
                        path: path.clone(),
                        key: None,
                        value: item.span(),
                    });
                    self.add_children(&path, item.get_ref());
                }
            }
            Node::Leaf => {}
        }
    }

    /// Where to point for a key path: the start of its value.
    fn position_of(&self, path: &str) -> Option<usize> {
        let entry = self.entries.iter().find(|e| e.path == path)?;
        Some(entry.value.start)
    }

    /// The deepest key path whose value starts at `offset` (for "missing
    /// field" errors, which point at the table).
    fn path_at(&self, offset: usize) -> Option<String> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.value.start == offset)
            .map(|e| e.path.clone())
    }

    /// A value inside an array is reported at the whole array; when the
    /// message quotes the bad value (`` bad holiday `2026-13-01` ``), point
    /// at the element holding it instead.
    fn narrow_to_element(&self, span: Range<usize>, text: &str, message: &str) -> Range<usize> {
        let Some(quoted) = message.split('`').nth(1) else {
            return span;
        };
        let Some(array) = self.entries.iter().find(|e| {
            e.value == span && text.get(span.clone()).is_some_and(|t| t.starts_with('['))
        }) else {
            return span;
        };
        let prefix = format!("{}[", array.path);
        self.entries
            .iter()
            .filter(|e| {
                e.path
                    .strip_prefix(&prefix)
                    .is_some_and(|index| !index.contains(['.', '[']))
            })
            .find(|e| {
                text.get(e.value.clone())
                    .is_some_and(|v| v.trim_matches(['"', '\'']) == quoted)
            })
            .map_or(span, |e| e.value.clone())
    }

    /// The key path whose key starts at `offset` (for "unknown field" errors,
    /// which point at the key).
    fn key_at(&self, offset: usize) -> Option<String> {
        self.entries
            .iter()
            .find(|e| e.key.as_ref().is_some_and(|k| k.start == offset))
            .map(|e| e.path.clone())
    }
}

/// `text` plus a `[table]` header, at the end, for every table that is only
/// implied by a longer header (`[a.b.c]` implies `a` and `a.b`). TOML allows
/// a super-table to be defined after its sub-tables.
fn with_implied_tables_declared(text: &str) -> String {
    let mut declared = HashSet::new();
    let mut implied = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let header = line
            .strip_prefix("[[")
            .and_then(|rest| rest.split_once("]]"))
            .or_else(|| line.strip_prefix('[').and_then(|rest| rest.split_once(']')))
            .map(|(header, _)| header);
        let Some(header) = header else { continue };
        let parts: Vec<&str> = header.split('.').map(str::trim).collect();
        declared.insert(parts.join("."));
        for end in 1..parts.len() {
            implied.push(parts.get(..end).unwrap_or_default().join("."));
        }
    }
    let mut out = text.to_string();
    let mut added = HashSet::new();
    for table in implied {
        if !declared.contains(&table) && added.insert(table.clone()) {
            out.push_str(&format!("\n[{table}]\n"));
        }
    }
    out
}

/// A TOML value reduced to its shape; scalars are not kept.
enum Node {
    Table(Vec<(toml::Spanned<String>, toml::Spanned<Node>)>),
    Array(Vec<toml::Spanned<Node>>),
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any TOML value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<toml::Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut children = Vec::new();
                while let Some(key) = map.next_key::<toml::Spanned<String>>()? {
                    // Datetimes arrive as a one-key map with a private key;
                    // they are scalars for our purpose.
                    if key.get_ref().starts_with("$__") {
                        map.next_value::<de::IgnoredAny>()?;
                        return Ok(Node::Leaf);
                    }
                    let value = map.next_value::<toml::Spanned<Node>>()?;
                    children.push((key, value));
                }
                Ok(Node::Table(children))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

impl From<&AgentConfig> for crate::store::NewAgent {
    fn from(a: &AgentConfig) -> Self {
        crate::store::NewAgent {
            login: a.login.clone(),
            name: if a.name.is_empty() {
                a.login.clone()
            } else {
                a.name.clone()
            },
            role: a.role,
            password: a.password.clone(),
            queues: a.queues.clone(),
            digest_algorithms: a.digest_algorithms.clone(),
            nat: a.nat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_and_clamps() {
        let text = "a = 1\nбб = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // byte 10 is after "бб" (4 bytes): third character
        assert_eq!(line_col(text, 10), (2, 3));
        // inside a multi-byte character and past the end: no panic
        assert_eq!(line_col(text, 7), (2, 1));
        assert_eq!(line_col(text, 1000), (3, 1));
    }

    #[test]
    fn nearest_suggests_only_plausible_typos() {
        let known = ["listen", "realm", "min_expires", "max_expires"];
        assert_eq!(nearest("listn", &known), Some("listen"));
        assert_eq!(nearest("min_expire", &known), Some("min_expires"));
        assert_eq!(nearest("colour", &known), None);
    }

    #[test]
    fn span_index_locates_nested_keys() {
        let text = "[sip]\nlisten = \"x\"\n[[agents]]\nlogin = \"1\"\nqueues = [\"a\", { queue = \"b\" }]\n";
        let index = SpanIndex::build(text);
        let at = |path: &str| index.position_of(path).map(|o| line_col(text, o));
        assert_eq!(at("sip.listen"), Some((2, 10)));
        assert_eq!(at("agents[0].login"), Some((4, 9)));
        assert_eq!(at("agents[0].queues[1]"), Some((5, 16)));
    }

    #[test]
    fn effective_domain_never_advertises_the_wildcard_address() {
        let mut sip = SipConfig::default();
        assert_eq!(sip.effective_domain(), "127.0.0.1");
        sip.listen = "192.0.2.7:5060".parse().unwrap();
        assert_eq!(sip.effective_domain(), "192.0.2.7");
        sip.domain = Some("pbx.example.org".into());
        assert_eq!(sip.effective_domain(), "pbx.example.org");
    }

    #[test]
    fn port_ranges_parse_and_refuse_nonsense() {
        assert_eq!(
            "10000-20000".parse::<PortRange>(),
            Ok(PortRange {
                lo: 10000,
                hi: 20000
            })
        );
        for bad in ["", "10000", "a-b", "20000-10000", "80-90", "10000-70000"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
    }
}
