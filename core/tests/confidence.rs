//! The confidence value separates real payments from structureless amounts.

use fiatline_core::{estimate, Histogram, PricePoint, RawOutput, Refinement};

/// A small deterministic generator (PCG-style LCG); no test depends on its quality.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An index below `len`, from one draw.
    fn below(&mut self, len: usize) -> usize {
        usize::try_from(cut(self.unit() * len as f64)).unwrap() % len
    }
}

/// Test data only: a positive float cut toward zero, as `as` does.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn cut(x: f64) -> u64 {
    x as u64
}

/// An amount in BTC, in whole sats.
fn sats_of(btc: f64) -> u64 {
    cut(btc * 1e8)
}

fn estimate_of(outputs: &[RawOutput]) -> Option<fiatline_core::Estimate> {
    let mut h = Histogram::new();
    for o in outputs {
        h.add(o.btc());
    }
    let mut points = vec![PricePoint::default(); outputs.len() * 4];
    let mut scratch = vec![0.0; points.len()];
    estimate(
        &h,
        outputs,
        Refinement::Reference,
        &mut points,
        &mut scratch,
    )
    .ok()
}

#[test]
fn log_uniform_amounts_score_below_0_3() {
    for seed in 1..=8u64 {
        for n in [2_000usize, 20_000, 200_000] {
            let mut rng = Lcg(seed);
            let outputs: Vec<RawOutput> = (0..n)
                .map(|_| {
                    let btc = 10f64.powf(-4.9 + 9.8 * rng.unit());
                    RawOutput {
                        sats: sats_of(btc),
                        height: 1,
                        time: 1,
                    }
                })
                .collect();
            // Some seeds give no estimate at all, which is also "no confidence".
            if let Some(e) = estimate_of(&outputs) {
                assert!(e.confidence < 0.3, "seed {seed}, {n} outputs: {e:?}");
            }
        }
    }
}

#[test]
fn round_usd_payments_at_a_known_price_score_high() {
    // Round USD amounts at $60,000 with ±0.3% jitter among log-uniform noise.
    let mut rng = Lcg(7);
    let usd = [10.0, 20.0, 50.0, 100.0, 100.0, 200.0, 500.0, 1000.0];
    let outputs: Vec<RawOutput> = (0..40_000)
        .map(|i| {
            let btc = if i % 3 == 0 {
                10f64.powf(-4.9 + 9.8 * rng.unit())
            } else {
                let u = usd[rng.below(usd.len())];
                u / 60_000.0 * (1.0 + 0.006 * (rng.unit() - 0.5))
            };
            RawOutput {
                sats: sats_of(btc),
                height: 1,
                time: 1,
            }
        })
        .collect();
    let e = estimate_of(&outputs).expect("an estimate");
    assert!((e.price - 60_000.0).abs() < 600.0, "{e:?}");
    assert!(e.confidence > 0.5, "{e:?}");
}
