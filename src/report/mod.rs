//! Statistical reports for the head of the department (seed 2.5, 3.7):
//! the summary per day, week or month, and the agents report.
//!
//! One computation, three renderers: [`summary`] and [`agents`] are pure
//! functions over rows (sans-IO, unit-tested), [`query`] is the thin layer
//! that reads those rows from the store, and JSON (serde), CSV ([`csv`])
//! and the `hotline report` command all print the same structs.
//!
//! Where the numbers come from, so that reports and the live board agree
//! (ARCHITECTURE §6): inquiry figures are read from the `inquiries`
//! table, which is the projection of the `inquiry.created` /
//! `inquiry.updated` events (each row and its event are written in one
//! transaction, so replaying the events gives the row); agent state time
//! is read from the `agent.state` events themselves, because only the log
//! knows how long a state lasted. README "Report definitions" states
//! every figure.

pub mod agents;
pub mod csv;
pub mod period;
pub mod query;
pub mod state_time;
pub mod stats;
pub mod summary;

pub use agents::{AgentRow, AgentsReport};
pub use period::{DateRange, Group};
pub use query::{agents_report, summary_report};
pub use summary::{SummaryReport, SummaryRow};

use crate::store::{Channel, InquiryStatus};
use std::fmt;
use std::str::FromStr;

/// Default of `[reports] service_level_s`: the classic 80/20 target's 20 s.
pub const DEFAULT_SERVICE_LEVEL_S: u32 = 20;

/// The columns of an inquiry the reports use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryRow {
    pub channel: Channel,
    pub category: Option<String>,
    pub topic: Option<String>,
    pub status: InquiryStatus,
    pub agent: Option<String>,
    pub created_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
}

impl InquiryRow {
    /// A person picked up: the call layer records `answered_at` only when
    /// an agent answers (the IVR's own answer is not an answer here).
    pub fn is_answered(&self) -> bool {
        self.answered_at_ms.is_some()
    }

    /// The resolution was recorded (seed 3.6).
    pub fn is_resolved(&self) -> bool {
        self.status == InquiryStatus::Resolved || self.resolved_at_ms.is_some()
    }
}

/// How a report is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err("must be json or csv".into()),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "json",
            Format::Csv => "csv",
        })
    }
}
