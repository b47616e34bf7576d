//! The summary report: per day, week or month, what came in on which
//! channel and what became of the calls. README "Report definitions"
//! states every figure in words; this is the one place it is computed.

use super::InquiryRow;
use super::period::{DateRange, Group, date_label};
use super::state_time::{StateInterval, time_within};
use super::stats::{mean_rounded, percentile_nearest_rank, share};
use crate::acd::AgentState;
use crate::store::{Channel, InquiryStatus};
use serde::Serialize;
use std::collections::BTreeMap;

/// Key under which inquiries without a category or topic are counted.
/// Real values are snake_case words, so it cannot clash with one.
pub const NONE_KEY: &str = "(none)";

/// The summary over a range: one row per period and a totals row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SummaryReport {
    /// First day of the range, `YYYY-MM-DD`.
    pub from: String,
    /// Last day of the range (included).
    pub to: String,
    /// UTC offset the days are read in, `+00:00` unless `tz` was given.
    pub tz: String,
    pub group: Group,
    /// The service-level threshold in seconds (`[reports] service_level_s`).
    pub service_level_s: u32,
    pub periods: Vec<SummaryRow>,
    /// The whole range as one period (not a sum of the rows: averages and
    /// percentiles are recomputed over all calls).
    pub total: SummaryRow,
}

/// The figures of one period (or of the whole range).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SummaryRow {
    /// `2025-03-01` (day), `2025-03-03` (week, its Monday), `2025-03`
    /// (month) or `total`.
    pub period: String,
    /// First day counted in this row (a period is clipped to the range).
    pub from: String,
    /// Last day counted in this row (included).
    pub to: String,
    /// Inquiries created in the period, all channels.
    pub inquiries: u64,
    /// Inquiries per channel; every channel is listed.
    pub by_channel: BTreeMap<String, u64>,
    /// Inquiries per category; every category seen in the range is
    /// listed in every row, `(none)` for no category.
    pub by_category: BTreeMap<String, u64>,
    /// Inquiries per topic, like `by_category`.
    pub by_topic: BTreeMap<String, u64>,
    /// Inquiries per current status; every status is listed.
    pub by_status: BTreeMap<String, u64>,
    /// Inquiries per local hour of day (the range's `tz`): 24 counts,
    /// index 0 = created from 00:00 to 00:59.
    #[schema(min_items = 24, max_items = 24)]
    pub by_hour: Vec<u64>,
    /// Phone inquiries.
    pub calls_offered: u64,
    /// Calls an agent picked up (`answered_at` set).
    pub calls_answered: u64,
    /// Calls with status `abandoned`: the caller hung up before a person
    /// answered (in the IVR or in the queue).
    pub calls_abandoned: u64,
    /// The abandon rate: `calls_abandoned / calls_offered`, 0..1, 4 decimals.
    pub abandoned_share: Option<f64>,
    /// Calls with status `resolved_in_ivr`.
    pub calls_resolved_in_ivr: u64,
    /// `calls_resolved_in_ivr / calls_offered`, 0..1, 4 decimals.
    pub ivr_resolved_share: Option<f64>,
    /// Calls with status `callback_requested`.
    pub callbacks_requested: u64,
    /// Answered calls with a known wait of at most `service_level_s`.
    pub answered_within_service_level: u64,
    /// `answered_within_service_level` / answered calls with a known
    /// wait, 0..1, 4 decimals. Abandoned calls count in neither.
    pub service_level: Option<f64>,
    /// Mean `wait_ms` of calls that waited in a queue (answered,
    /// abandoned there, or turned into a callback).
    pub avg_wait_ms: Option<i64>,
    /// 90th percentile (nearest rank) of the same waits.
    pub p90_wait_ms: Option<i64>,
    /// Mean `talk_ms` of answered calls.
    pub avg_talk_ms: Option<i64>,
    /// Time agents spent in `wrap_up` during the period.
    pub wrap_up_ms: i64,
    /// (sum of `talk_ms` of answered calls + `wrap_up_ms`) / answered
    /// calls with a known talk time.
    pub avg_handle_ms: Option<i64>,
}

/// Computes the summary. `inquiries` are those created in the range;
/// `intervals` the agents' states within it (see
/// [`state_intervals`](super::state_time::state_intervals)).
pub fn summary(
    range: &DateRange,
    group: Group,
    service_level_s: u32,
    inquiries: &[InquiryRow],
    intervals: &[StateInterval],
) -> SummaryReport {
    let periods = range.periods(group);
    let mut buckets: Vec<Vec<&InquiryRow>> = vec![Vec::new(); periods.len()];
    for row in inquiries {
        let day = range.local_day(row.created_at_ms);
        if day < range.first_day || day > range.last_day {
            continue;
        }
        // Periods are in order and contiguous: the last one starting on
        // or before `day` holds it.
        let index = periods.partition_point(|p| p.first_day <= day);
        if let Some(bucket) = index.checked_sub(1).and_then(|i| buckets.get_mut(i)) {
            bucket.push(row);
        }
    }
    let categories = keys(inquiries, |r| r.category.as_deref());
    let topics = keys(inquiries, |r| r.topic.as_deref());
    let row_of = |label: String, first_day: i64, last_day: i64, rows: &[&InquiryRow]| {
        let wrap_up_ms = time_within(
            intervals,
            None,
            AgentState::WrapUp,
            range.day_start_ms(first_day),
            range.day_start_ms(last_day + 1),
        );
        let mut row = figures(
            range,
            label,
            first_day,
            last_day,
            rows,
            service_level_s,
            wrap_up_ms,
        );
        for key in &categories {
            row.by_category.entry(key.clone()).or_insert(0);
        }
        for key in &topics {
            row.by_topic.entry(key.clone()).or_insert(0);
        }
        row
    };
    let rows = periods
        .iter()
        .zip(&buckets)
        .map(|(p, rows)| row_of(p.label.clone(), p.first_day, p.last_day, rows))
        .collect();
    let all: Vec<&InquiryRow> = buckets.iter().flatten().copied().collect();
    SummaryReport {
        from: date_label(range.first_day),
        to: date_label(range.last_day),
        tz: range.tz_label(),
        group,
        service_level_s,
        periods: rows,
        total: row_of("total".into(), range.first_day, range.last_day, &all),
    }
}

fn keys(rows: &[InquiryRow], key: impl Fn(&InquiryRow) -> Option<&str>) -> Vec<String> {
    let mut keys: Vec<String> = rows
        .iter()
        .map(|r| key(r).unwrap_or(NONE_KEY).to_string())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Hours in a day: the length of `by_hour`.
pub const HOURS: usize = 24;

fn figures(
    range: &DateRange,
    period: String,
    first_day: i64,
    last_day: i64,
    rows: &[&InquiryRow],
    service_level_s: u32,
    wrap_up_ms: i64,
) -> SummaryRow {
    let mut by_channel: BTreeMap<String, u64> = Channel::ALL
        .iter()
        .map(|c| (c.as_str().into(), 0))
        .collect();
    let mut by_status: BTreeMap<String, u64> = InquiryStatus::ALL
        .iter()
        .map(|s| (s.as_str().into(), 0))
        .collect();
    let mut by_category = BTreeMap::new();
    let mut by_topic = BTreeMap::new();
    let mut by_hour = vec![0u64; HOURS];
    for row in rows {
        if let Some(count) = by_hour.get_mut(range.local_hour(row.created_at_ms)) {
            *count += 1;
        }
        *by_channel.entry(row.channel.as_str().into()).or_insert(0) += 1;
        *by_status.entry(row.status.as_str().into()).or_insert(0) += 1;
        let category = row.category.as_deref().unwrap_or(NONE_KEY);
        *by_category.entry(category.to_string()).or_insert(0) += 1;
        let topic = row.topic.as_deref().unwrap_or(NONE_KEY);
        *by_topic.entry(topic.to_string()).or_insert(0) += 1;
    }

    let calls: Vec<&InquiryRow> = rows
        .iter()
        .copied()
        .filter(|r| r.channel == Channel::Phone)
        .collect();
    let count = |f: &dyn Fn(&InquiryRow) -> bool| calls.iter().filter(|r| f(r)).count() as u64;
    let calls_offered = calls.len() as u64;
    let calls_answered = count(&|r| r.is_answered());
    let calls_abandoned = count(&|r| r.status == InquiryStatus::Abandoned);
    let calls_resolved_in_ivr = count(&|r| r.status == InquiryStatus::ResolvedInIvr);
    let callbacks_requested = count(&|r| r.status == InquiryStatus::CallbackRequested);

    let threshold_ms = i64::from(service_level_s) * 1000;
    let answered_waits: Vec<i64> = calls
        .iter()
        .filter(|r| r.is_answered())
        .filter_map(|r| r.wait_ms)
        .collect();
    let answered_within_service_level = answered_waits
        .iter()
        .filter(|w| **w <= threshold_ms)
        .count() as u64;

    let mut waits: Vec<i64> = calls.iter().filter_map(|r| r.wait_ms).collect();
    waits.sort_unstable();
    let talks: Vec<i64> = calls
        .iter()
        .filter(|r| r.is_answered())
        .filter_map(|r| r.talk_ms)
        .collect();
    let talk_sum: i64 = talks.iter().sum();

    SummaryRow {
        period,
        from: date_label(first_day),
        to: date_label(last_day),
        inquiries: rows.len() as u64,
        by_channel,
        by_category,
        by_topic,
        by_status,
        by_hour,
        calls_offered,
        calls_answered,
        calls_abandoned,
        abandoned_share: share(calls_abandoned, calls_offered),
        calls_resolved_in_ivr,
        ivr_resolved_share: share(calls_resolved_in_ivr, calls_offered),
        callbacks_requested,
        answered_within_service_level,
        service_level: share(answered_within_service_level, answered_waits.len() as u64),
        avg_wait_ms: mean_rounded(waits.iter().sum(), waits.len() as u64),
        p90_wait_ms: percentile_nearest_rank(&waits, 90),
        avg_talk_ms: mean_rounded(talk_sum, talks.len() as u64),
        wrap_up_ms,
        avg_handle_ms: mean_rounded(talk_sum.saturating_add(wrap_up_ms), talks.len() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::state_time::{StateChange, state_intervals};

    fn call(at: i64, wait_ms: Option<i64>, answered: bool) -> InquiryRow {
        InquiryRow {
            channel: Channel::Phone,
            category: None,
            topic: Some("admission".into()),
            status: if answered {
                InquiryStatus::InProgress
            } else {
                InquiryStatus::Abandoned
            },
            agent: answered.then(|| "anna".to_string()),
            created_at_ms: at,
            answered_at_ms: answered.then_some(at + 1),
            resolved_at_ms: None,
            wait_ms,
            talk_ms: answered.then_some(60_000),
        }
    }

    #[test]
    fn service_level_counts_answered_calls_only_and_the_threshold_is_inclusive() {
        // 2025-03-03 and 2025-03-04, UTC.
        let range = DateRange::parse(Some("2025-03-03"), Some("2025-03-04"), None).unwrap();
        let day1 = range.start_ms();
        let rows = [
            call(day1, Some(20_000), true),
            call(day1 + 1, Some(20_001), true),
            call(day1 + 2, Some(1_000), false),
            call(day1 + 3, None, true),
        ];
        let wrap_up = state_intervals(
            &[StateChange {
                agent: "anna".into(),
                at_ms: day1 + 1000,
                to: Some(AgentState::WrapUp),
            }],
            day1,
            day1 + 1000 + 30_000,
        );
        let report = summary(&range, Group::Day, 20, &rows, &wrap_up);
        let first = &report.periods[0];
        assert_eq!(first.calls_answered, 3);
        assert_eq!(first.answered_within_service_level, 1);
        // The answered call without a known wait is in neither count.
        assert_eq!(first.service_level, Some(0.5));
        assert_eq!(first.calls_abandoned, 1);
        assert_eq!(first.avg_wait_ms, Some(13_667));
        assert_eq!(first.by_category[NONE_KEY], 4);
        assert_eq!(first.wrap_up_ms, 30_000);
        assert_eq!(first.avg_handle_ms, Some((3 * 60_000 + 30_000) / 3));

        // A day with nothing: counts are 0, ratios and means null, and
        // the keys seen elsewhere in the range are still there.
        let second = &report.periods[1];
        assert_eq!(second.inquiries, 0);
        assert_eq!(second.service_level, None);
        assert_eq!(second.p90_wait_ms, None);
        assert_eq!(second.avg_handle_ms, None);
        assert_eq!(second.by_topic["admission"], 0);
        assert_eq!(second.by_channel.len(), Channel::ALL.len());
        assert_eq!(report.total.calls_offered, 4);
        assert_eq!(first.abandoned_share, Some(0.25));
        assert_eq!(second.abandoned_share, None);
    }

    #[test]
    fn inquiries_per_hour_are_counted_at_the_local_hour() {
        // Moscow time: 21:30 UTC on 2 March is 00:30 on 3 March.
        let range =
            DateRange::parse(Some("2025-03-03"), Some("2025-03-04"), Some("+03:00")).unwrap();
        let utc_midnight = range.start_ms() + 3 * 3_600_000;
        let hour = 3_600_000;
        let rows = [
            call(range.start_ms() + hour / 2, Some(1_000), true),
            call(utc_midnight + 9 * hour, Some(1_000), true),
            call(utc_midnight + 9 * hour + 59 * 60_000, None, false),
            // Next day, 23:59 local.
            call(range.start_ms() + 48 * hour - 60_000, None, false),
            // Outside the range: counted nowhere.
            call(range.end_ms(), None, false),
        ];
        let report = summary(&range, Group::Day, 20, &rows, &[]);
        let hours = |row: &SummaryRow| -> Vec<(usize, u64)> {
            row.by_hour
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        assert_eq!(hours(&report.periods[0]), [(0, 1), (12, 2)]);
        assert_eq!(hours(&report.periods[1]), [(23, 1)]);
        assert_eq!(hours(&report.total), [(0, 1), (12, 2), (23, 1)]);
        assert_eq!(report.total.by_hour.len(), HOURS);
        assert_eq!(report.total.abandoned_share, Some(0.5));
    }
}
