//! DetectAnomalies (SPEC §12.13): a robust band around the median of a
//! metric's history.
//!
//! The method, in full:
//! 1. Take the last `window` values (default 60) that a steward has not
//!    marked as expected. With `seasonality = "weekly"`, keep only values
//!    measured on the same weekday as this run, when at least `min_history`
//!    of them exist (otherwise all values, and the observation says so).
//! 2. With fewer than `min_history` values (default 5) the rule passes and
//!    says how much history it still needs.
//! 3. expected = median; spread = max(1.4826 × MAD, 1% of |median|), where
//!    MAD is the median absolute deviation (1.4826 × MAD estimates σ for
//!    normal data; the floor keeps a perfectly flat series from flagging
//!    noise-sized moves).
//! 4. The band is expected ± `sensitivity` × spread (default 3). A value
//!    outside it is an anomaly and fails the rule.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::Point;
use super::dynamic::median;
pub use crate::plan::anomaly::{Seasonality, Settings};

/// Scales a MAD to a standard deviation for normally distributed data.
const MAD_TO_SIGMA: f64 = 1.4826;
/// The spread floor, relative to |median|.
const RELATIVE_FLOOR: f64 = 0.01;

/// What the detector saw and decided for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The metric.
    pub metric: String,
    /// This run's value.
    pub value: f64,
    /// The baseline's median, once there is enough history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
    /// Lowest value not flagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// Highest value not flagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
    /// Past values in the baseline.
    pub history: usize,
    /// True when the value is outside the band.
    pub anomalous: bool,
    /// How the band was computed, in words.
    pub method: String,
    /// A static rule that encodes the band.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_rule: Option<String>,
}

/// Judges `value`, measured at `now`, against past `points` (oldest first).
pub fn detect(
    metric: &str,
    value: f64,
    now: DateTime<Utc>,
    points: &[Point],
    s: &Settings,
) -> Observation {
    let recent = &points[points.len().saturating_sub(s.window)..];
    let mut method = String::new();
    let baseline: Vec<f64> = match s.seasonality {
        Seasonality::Weekly => {
            let same_day: Vec<f64> = recent
                .iter()
                .filter(|p| p.at.weekday() == now.weekday())
                .map(|p| p.value)
                .collect();
            if same_day.len() >= s.min_history {
                method.push_str(&format!("{} runs on a {}; ", same_day.len(), now.weekday()));
                same_day
            } else {
                method.push_str(&format!(
                    "weekly seasonality needs {} runs on a {} and has {}, so all {} runs are used; ",
                    s.min_history,
                    now.weekday(),
                    same_day.len(),
                    recent.len()
                ));
                recent.iter().map(|p| p.value).collect()
            }
        }
        Seasonality::None => recent.iter().map(|p| p.value).collect(),
    };
    let n = baseline.len();
    if n < s.min_history {
        method.push_str(&format!(
            "{n} past value(s), {} needed before values are judged",
            s.min_history
        ));
        return Observation {
            metric: metric.to_string(),
            value,
            expected: None,
            lower: None,
            upper: None,
            history: n,
            anomalous: false,
            method,
            suggested_rule: None,
        };
    }
    let expected = median(&baseline);
    let deviations: Vec<f64> = baseline.iter().map(|x| (x - expected).abs()).collect();
    let mad = median(&deviations);
    let spread = (MAD_TO_SIGMA * mad).max(RELATIVE_FLOOR * expected.abs());
    let lower = expected - s.sensitivity * spread;
    let upper = expected + s.sensitivity * spread;
    if method.is_empty() {
        method.push_str(&format!("{n} runs; "));
    }
    method.push_str(&format!(
        "median {} ± {} × spread {} (spread = max(1.4826 × MAD, 1% of |median|))",
        crate::dqdl::number::show(expected),
        crate::dqdl::number::show(s.sensitivity),
        crate::dqdl::number::show(spread)
    ));
    Observation {
        metric: metric.to_string(),
        value,
        expected: Some(expected),
        lower: Some(lower),
        upper: Some(upper),
        history: n,
        anomalous: !(lower..=upper).contains(&value),
        method,
        suggested_rule: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn daily(values: &[f64]) -> (Vec<Point>, DateTime<Utc>) {
        // 2026-11-02 is a Monday.
        let start = Utc
            .with_ymd_and_hms(2026, 11, 2, 6, 0, 0)
            .single()
            .expect("date");
        let points = values
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                at: start + Duration::days(i as i64),
                value: *v,
            })
            .collect();
        (points, start + Duration::days(values.len() as i64))
    }

    #[test]
    fn bounds_are_computed_as_documented() {
        // median 100, |dev| = [2,1,0,1,2] → MAD 1, spread max(1.4826, 1.0).
        let (p, now) = daily(&[98.0, 99.0, 100.0, 101.0, 102.0]);
        let o = detect("m", 104.0, now, &p, &Settings::default());
        assert_eq!(o.expected, Some(100.0));
        let spread = 1.4826;
        assert!((o.lower.expect("lower") - (100.0 - 3.0 * spread)).abs() < 1e-12);
        assert!((o.upper.expect("upper") - (100.0 + 3.0 * spread)).abs() < 1e-12);
        assert!(!o.anomalous, "104 is inside 100 ± 4.4478");
        assert!(detect("m", 105.0, now, &p, &Settings::default()).anomalous);
    }

    #[test]
    fn short_history_passes_with_a_note() {
        let (p, now) = daily(&[1.0, 50.0]);
        let o = detect("m", 1e9, now, &p, &Settings::default());
        assert!(!o.anomalous);
        assert_eq!(o.history, 2);
        assert!(o.method.contains("5 needed"), "{}", o.method);
    }

    #[test]
    fn flat_series_uses_the_relative_floor() {
        let (p, now) = daily(&[1000.0; 10]);
        let s = Settings::default();
        assert!(!detect("m", 1025.0, now, &p, &s).anomalous, "within 3 × 1%");
        assert!(detect("m", 1031.0, now, &p, &s).anomalous);
    }
}
