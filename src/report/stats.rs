//! The few statistics the reports use, each defined once so that every
//! figure is computed (and rounded) the same way in JSON, CSV and the CLI.

/// The `pct`-th percentile of `sorted` (ascending) by the nearest-rank
/// method: the smallest value with at least `pct` % of the values at or
/// below it. It is always one of the values (no interpolation), so "90 %
/// of callers waited at most this long" is literally true. `None` when
/// there are no values.
pub fn percentile_nearest_rank(sorted: &[i64], pct: u32) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pct = usize::try_from(pct.clamp(1, 100)).unwrap_or(100);
    // rank = ceil(pct/100 * n), 1-based.
    let rank = (pct * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Arithmetic mean rounded to the nearest integer (halves away from
/// zero); `None` for no values.
pub fn mean_rounded(sum: i64, count: u64) -> Option<i64> {
    if count == 0 {
        return None;
    }
    let mean = (sum as f64 / count as f64).round() as i64;
    Some(mean)
}

/// `part / whole` as a fraction from 0 to 1 rounded to 4 decimals
/// (0.8333 = 83.33 %); `None` when `whole` is 0.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    if whole == 0 {
        return None;
    }
    let fraction = part as f64 / whole as f64;
    Some((fraction * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentile() {
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile_nearest_rank(&ten, 90), Some(9));
        assert_eq!(percentile_nearest_rank(&ten, 100), Some(10));
        assert_eq!(percentile_nearest_rank(&ten, 50), Some(5));
        // 0.9 × 4 = 3.6 → rank 4.
        assert_eq!(percentile_nearest_rank(&[5, 10, 60, 100], 90), Some(100));
        // 0.9 × 11 = 9.9 → rank 10.
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile_nearest_rank(&eleven, 90), Some(10));
        assert_eq!(percentile_nearest_rank(&[7], 90), Some(7));
        assert_eq!(percentile_nearest_rank(&[], 90), None);
    }

    #[test]
    fn means_and_shares_round_once() {
        assert_eq!(mean_rounded(10, 4), Some(3));
        assert_eq!(mean_rounded(10, 3), Some(3));
        assert_eq!(mean_rounded(11, 2), Some(6));
        assert_eq!(mean_rounded(0, 0), None);
        assert_eq!(share(1, 3), Some(0.3333));
        assert_eq!(share(2, 3), Some(0.6667));
        assert_eq!(share(3, 3), Some(1.0));
        assert_eq!(share(0, 0), None);
    }
}
