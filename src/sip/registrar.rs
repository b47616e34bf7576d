//! The registrar (RFC 3261 §10): bindings of operator logins to the
//! Contact addresses of their softphones.

use super::Transport;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One registered contact of a login. Persisted by the store so that a
/// restart does not log every operator out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub login: String,
    /// The Contact URI exactly as the phone sent it (without `<>` and params).
    pub contact: String,
    /// Absolute expiry, milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    pub call_id: String,
    pub cseq: u32,
    /// Where the REGISTER came from (the flow to reuse when `nat`).
    pub source: SocketAddr,
    pub transport: Transport,
    /// The REGISTER showed NAT (source differs from Via sent-by) or the agent
    /// has `nat = true`: requests go to `source` over the same flow.
    pub nat: bool,
    /// Contact `q` parameter (0.0–1.0) if given.
    pub q: Option<f32>,
    pub user_agent: Option<String>,
}
