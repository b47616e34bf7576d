//! SIP: the message layer, transactions, digest, registrar (sans-IO cores)
//! and the tokio transport shell around them.

pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod message;
pub mod registrar;
pub mod throttle;
pub mod transaction;
pub mod transport;

use serde::{Deserialize, Serialize};
use std::fmt;

/// The transport a message came over or must go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// Unreliable transports need retransmission timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
