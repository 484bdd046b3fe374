//! The hourly refinement over a finished run's price points, with its
//! storage sized here.

use fiatline_core::{refine_hourly, Hour, HourPoint, PricePoint, RefineError, Refined};

/// Below this calibrated confidence (grade D) a refined price is flagged.
pub const LOW_CONFIDENCE: f64 = 0.70;
/// Fewer hours than this with 30 points, and the confidence (calibrated on
/// whole days, 24 hours) is flagged as saying little.
pub const FEW_HOURS: usize = 12;

/// A refined price and its hourly path.
#[derive(Debug, Clone, PartialEq)]
pub struct Hourly {
    /// The refined price and its confidence.
    pub refined: Refined,
    /// The hours with 30 points or more, in time order.
    pub path: Vec<Hour>,
    /// Where hour 0 starts, Unix seconds.
    pub start: i64,
}

impl Hourly {
    /// Refines `central` from `points`, hours counted from `start`.
    ///
    /// # Errors
    /// Returns [`RefineError::BadCentral`] when `central` is not a positive
    /// price.
    pub fn of(points: &[PricePoint], central: f64, start: i64) -> Result<Self, RefineError> {
        let mut scratch = vec![HourPoint::default(); points.len()];
        // A day has 24 hours; longer runs say how many they need.
        let mut path = vec![Hour::default(); 32];
        let refined = loop {
            match refine_hourly(points, central, start, &mut scratch, &mut path) {
                Err(RefineError::PathFull(n)) if n > path.len() => {
                    path.resize(n, Hour::default());
                }
                other => break other?,
            }
        };
        path.truncate(refined.hours);
        Ok(Self {
            refined,
            path,
            start,
        })
    }
}
