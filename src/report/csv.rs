//! CSV renderings of the reports (RFC 4180: a header row, CRLF line
//! ends, fields quoted when they hold a comma, a quote or a line break,
//! quotes doubled), for the head to open in a spreadsheet. The numbers are
//! the very values of the JSON structs; an empty field is a JSON `null`.

use super::agents::{AgentRow, AgentsReport};
use super::summary::{SummaryReport, SummaryRow};
use std::fmt::Write;

/// The summary: one row per period, then the `total` row. The category
/// and topic columns are those of the range (`category_<name>`,
/// `topic_<name>`).
pub fn summary_csv(report: &SummaryReport) -> String {
    let first = &report.total;
    let mut header: Vec<String> = ["period", "from", "to", "inquiries"]
        .into_iter()
        .map(String::from)
        .collect();
    let prefixed = |prefix: &str, keys: &mut dyn Iterator<Item = &String>| -> Vec<String> {
        keys.map(|k| format!("{prefix}_{k}")).collect()
    };
    header.extend(prefixed("channel", &mut first.by_channel.keys()));
    header.extend(prefixed("status", &mut first.by_status.keys()));
    header.extend(prefixed("category", &mut first.by_category.keys()));
    header.extend(prefixed("topic", &mut first.by_topic.keys()));
    header.extend(
        [
            "calls_offered",
            "calls_answered",
            "calls_abandoned",
            "abandoned_share",
            "calls_resolved_in_ivr",
            "ivr_resolved_share",
            "callbacks_requested",
            "answered_within_service_level",
            "service_level",
            "avg_wait_ms",
            "p90_wait_ms",
            "avg_talk_ms",
            "wrap_up_ms",
            "avg_handle_ms",
        ]
        .map(String::from),
    );
    let mut out = String::new();
    push_record(&mut out, &header);
    for row in report.periods.iter().chain([&report.total]) {
        push_record(&mut out, &summary_fields(row));
    }
    out
}

fn summary_fields(row: &SummaryRow) -> Vec<String> {
    let mut fields = vec![
        row.period.clone(),
        row.from.clone(),
        row.to.clone(),
        row.inquiries.to_string(),
    ];
    for map in [
        &row.by_channel,
        &row.by_status,
        &row.by_category,
        &row.by_topic,
    ] {
        fields.extend(map.values().map(u64::to_string));
    }
    fields.extend([
        row.calls_offered.to_string(),
        row.calls_answered.to_string(),
        row.calls_abandoned.to_string(),
        opt(row.abandoned_share),
        row.calls_resolved_in_ivr.to_string(),
        opt(row.ivr_resolved_share),
        row.callbacks_requested.to_string(),
        row.answered_within_service_level.to_string(),
        opt(row.service_level),
        opt(row.avg_wait_ms),
        opt(row.p90_wait_ms),
        opt(row.avg_talk_ms),
        row.wrap_up_ms.to_string(),
        opt(row.avg_handle_ms),
    ]);
    fields
}

/// The agents report: one row per agent, then the `total` row.
pub fn agents_csv(report: &AgentsReport) -> String {
    let mut header: Vec<String> = [
        "agent",
        "calls_handled",
        "inquiries_resolved",
        "talk_ms",
        "wrap_up_ms",
        "avg_handle_ms",
    ]
    .map(String::from)
    .to_vec();
    header.extend(report.total.state_ms.keys().map(|s| format!("{s}_ms")));
    let mut out = String::new();
    push_record(&mut out, &header);
    for row in report.agents.iter().chain([&report.total]) {
        push_record(&mut out, &agent_fields(row));
    }
    out
}

fn agent_fields(row: &AgentRow) -> Vec<String> {
    let mut fields = vec![
        row.agent.clone(),
        row.calls_handled.to_string(),
        row.inquiries_resolved.to_string(),
        row.talk_ms.to_string(),
        row.wrap_up_ms.to_string(),
        opt(row.avg_handle_ms),
    ];
    fields.extend(row.state_ms.values().map(i64::to_string));
    fields
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn push_record(out: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field);
    }
    out.push_str("\r\n");
}

/// One field. Text that a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@` first: a topic typed by anyone) gets a leading `'`, the
/// OWASP advice against CSV injection; numbers are left as they are.
fn push_field(out: &mut String, field: &str) {
    let defused;
    let field =
        if field.starts_with(['=', '+', '-', '@', '\t', '\r']) && field.parse::<f64>().is_err() {
            defused = format!("'{field}");
            defused.as_str()
        } else {
            field
        };
    if field.contains([',', '"', '\r', '\n']) {
        let _ = write!(out, "\"{}\"", field.replace('"', "\"\""));
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::push_record;

    #[test]
    fn quotes_as_rfc_4180_says() {
        let mut out = String::new();
        let fields =
            ["plain", "a,b", "say \"hi\"", "two\nlines", "", "=1+1", "-5"].map(String::from);
        push_record(&mut out, &fields);
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,'=1+1,-5\r\n"
        );
    }
}
