//! Benchmarks live in `benches/`; this crate holds what they share: how a
//! figure is judged against its target.

/// Whether the bench was started in test mode (`cargo bench -- --test`, as
/// CI runs it): small inputs, figures that mean nothing.
#[must_use]
pub fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// The verdict printed after a figure: `target ≤ {target} {unit}: met` or
/// `NOT met`, or, in a smoke run, that small inputs give no verdict.
#[must_use]
pub fn verdict(measured: f64, target_value: f64, unit: &str) -> String {
    let target = if target_value.fract() == 0.0 {
        format!("{target_value:.0}")
    } else {
        format!("{target_value:.1}")
    };
    if smoke() {
        format!("target ≤ {target} {unit}: no verdict in a smoke run")
    } else if measured <= target_value {
        format!("target ≤ {target} {unit}: met")
    } else {
        format!("target ≤ {target} {unit}: NOT met")
    }
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn a_figure_over_its_target_is_not_met() {
        // The unit tests run without --test among the arguments.
        assert_eq!(verdict(50.0, 50.0, "ms"), "target ≤ 50 ms: met");
        assert_eq!(verdict(50.1, 50.0, "ms"), "target ≤ 50 ms: NOT met");
        assert_eq!(
            verdict(17.0, 1000.0 / 60.0, "ms"),
            "target ≤ 16.7 ms: NOT met"
        );
    }
}
