//! Benchmarks live in `benches/`; this crate holds what they share: how a
//! figure is judged against its target, and criterion's figures read back.

use std::path::PathBuf;
use std::time::SystemTime;

/// Whether the bench was started in test mode (`cargo bench -- --test`, as
/// CI runs it): small inputs, figures that mean nothing.
#[must_use]
pub fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// The verdict printed after a figure: `target ≤ {target} {unit}: met` or
/// `NOT met`, or, in a smoke run, that small inputs give no verdict.
#[must_use]
pub fn verdict(measured: f64, target: f64, unit: &str) -> String {
    judge(measured <= target, "≤", target, unit, smoke())
}

/// The words of a verdict: whether the figure is `within` its target.
fn judge(within: bool, relation: &str, target: f64, unit: &str, smoke: bool) -> String {
    let target = if target.fract() == 0.0 {
        format!("{target:.0}")
    } else {
        format!("{target:.1}")
    };
    if smoke {
        format!("target {relation} {target} {unit}: no verdict in a smoke run")
    } else if within {
        format!("target {relation} {target} {unit}: met")
    } else {
        format!("target {relation} {target} {unit}: NOT met")
    }
}

/// The verdict for a figure that must reach `target` (a rate).
#[must_use]
pub fn verdict_at_least(measured: f64, target: f64, unit: &str) -> String {
    judge(measured >= target, "≥", target, unit, smoke())
}

/// The mean time, in seconds, criterion measured for benchmark `id` (its
/// folder under `target/criterion`, e.g. `window/add+remove`) in a run
/// that ended after `since`; `None` when it was not measured then (a smoke
/// run, or the benchmark filtered out).
#[must_use]
pub fn criterion_mean(id: &str, since: SystemTime) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let file = target.join("criterion").join(id).join("new/estimates.json");
    let written = std::fs::metadata(&file).ok()?.modified().ok()?;
    if written < since {
        return None;
    }
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    Some(estimates["mean"]["point_estimate"].as_f64()? * 1e-9)
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn a_figure_past_its_target_is_not_met() {
        // `cargo bench -- --test` runs these too, so the smoke flag is
        // passed in, not read from the arguments.
        assert_eq!(judge(true, "≤", 50.0, "ms", false), "target ≤ 50 ms: met");
        assert_eq!(
            judge(false, "≤", 1000.0 / 60.0, "ms", false),
            "target ≤ 16.7 ms: NOT met"
        );
        assert_eq!(
            judge(false, "≥", 2.0, "M tx/s", true),
            "target ≥ 2 M tx/s: no verdict in a smoke run"
        );
    }
}
