//! DetectAnomalies settings, read from the rule's tags while planning;
//! `history::anomaly` applies them.

use serde::{Deserialize, Serialize};

/// Whether past values are compared by weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seasonality {
    /// All past values form one baseline.
    None,
    /// Only values from the same weekday form the baseline.
    Weekly,
}

/// Detector settings; rules set them with tags, e.g.
/// `DetectAnomalies "RowCount" with sensitivity = 4 with seasonality = "weekly"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    /// Band half-width in spreads (robust standard deviations).
    pub sensitivity: f64,
    /// Past values needed before anything is flagged.
    pub min_history: usize,
    /// How many recent values form the baseline.
    pub window: usize,
    /// Weekday baseline or not.
    pub seasonality: Seasonality,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sensitivity: 3.0,
            min_history: 5,
            window: 60,
            seasonality: Seasonality::None,
        }
    }
}

impl Settings {
    /// Applies one rule tag; an unknown tag or a bad value is an error.
    pub fn apply_tag(
        &mut self,
        name: &str,
        number: Option<f64>,
        text: Option<&str>,
    ) -> Result<(), String> {
        let whole = |what: &str| -> Result<usize, String> {
            match number {
                Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= 10_000.0 => Ok(n as usize),
                _ => Err(format!(
                    "tag `{name}` needs a whole number from 1 to 10000 ({what})"
                )),
            }
        };
        match name {
            "sensitivity" => match number {
                Some(n) if n > 0.0 && n.is_finite() => self.sensitivity = n,
                _ => {
                    return Err(
                        "tag `sensitivity` needs a positive number of spreads, e.g. 3".to_string(),
                    );
                }
            },
            "minHistory" => self.min_history = whole("past values needed")?,
            "window" => self.window = whole("past values used")?,
            "seasonality" => {
                self.seasonality = match text.map(str::to_ascii_lowercase).as_deref() {
                    Some("weekly") => Seasonality::Weekly,
                    Some("none") => Seasonality::None,
                    _ => return Err("tag `seasonality` is \"weekly\" or \"none\"".to_string()),
                }
            }
            other => {
                return Err(format!(
                    "DetectAnomalies has no tag `{other}`; it knows sensitivity, minHistory, window and seasonality"
                ));
            }
        }
        Ok(())
    }
}
