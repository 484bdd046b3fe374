//! The hourly refinement against docs/algorithm.md's vectors (`testdata/refined/`,
//! values computed outside this project), and its properties.

use fiatline_core::{refine_hourly, Grade, Hour, HourPoint, PricePoint, RefineError, Refined};
use fiatline_testkit::refined::vectors;
use proptest::prelude::*;

fn points(raw: &[(u32, f64)]) -> Vec<PricePoint> {
    raw.iter()
        .map(|&(time, price)| PricePoint {
            price,
            time,
            ..PricePoint::default()
        })
        .collect()
}

fn refine(points: &[PricePoint], central: f64, start: i64) -> (Refined, Vec<Hour>) {
    let mut scratch = vec![HourPoint::default(); points.len()];
    let mut path = vec![Hour::default(); 200];
    let r = refine_hourly(points, central, start, &mut scratch, &mut path).expect("refined");
    path.truncate(r.hours);
    (r, path)
}

fn assert_close(what: &str, got: f64, want: f64) {
    let rel = if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    };
    assert!(
        rel <= 1e-9,
        "{what}: got {got}, want {want} ({rel:e} relative)"
    );
}

#[test]
fn every_vector_to_one_part_in_a_billion() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 4);
    for v in vectors {
        let raw = v.points();
        if let Some(n) = v.points {
            assert_eq!(raw.len(), n, "{}", v.name);
        }
        let (r, path) = refine(&points(&raw), v.central, v.day_start);
        let name = &v.name;
        assert_close(&format!("{name} price"), r.price, v.price);
        assert_close(&format!("{name} R"), r.range, v.range);
        assert_close(&format!("{name} edge"), r.edge, v.edge);
        assert_close(&format!("{name} noise"), r.noise, v.noise);
        assert_close(&format!("{name} confidence"), r.confidence, v.confidence);
        assert_eq!(r.grade.as_str(), v.grade, "{name}");
        assert_eq!((r.hours, r.fallback), (v.hours, v.fallback), "{name}");
        assert_eq!(path.len(), v.hours);
        // The path's open/high/low/close are its first, highest, lowest and last hour.
        assert_eq!(r.open, path[0].price);
        assert_eq!(r.close, path[path.len() - 1].price);
        assert_eq!(r.high, path.iter().map(|h| h.price).fold(0.0, f64::max));
        assert_eq!(r.low, path.iter().map(|h| h.price).fold(f64::MAX, f64::min));
        assert!(path.windows(2).all(|w| w[0].hour < w[1].hour));
        assert!(path.iter().all(|h| h.count >= 30));
    }
}

#[test]
fn too_little_storage_is_an_error_that_names_the_need() {
    let v = &vectors()[1];
    let pts = points(&v.points());
    let mut scratch = vec![HourPoint::default(); 100];
    let mut path = vec![Hour::default(); 24];
    let e = refine_hourly(&pts, v.central, v.day_start, &mut scratch, &mut path).unwrap_err();
    let RefineError::ScratchFull(n) = e else {
        panic!("{e:?}")
    };
    // Exactly the room it named is enough, for the vector's price.
    let mut scratch = vec![HourPoint::default(); n];
    let r = refine_hourly(&pts, v.central, v.day_start, &mut scratch, &mut path).unwrap();
    assert_close("price with the named room", r.price, v.price);
    assert_eq!(
        refine_hourly(&pts, v.central, v.day_start, &mut scratch, &mut path[..23]),
        Err(RefineError::PathFull(24))
    );
}

/// A day of points: for each hour, a price near a drifting centre.
fn day() -> impl Strategy<Value = (Vec<PricePoint>, f64)> {
    (
        prop::collection::vec((0u32..86_400, -0.06f64..0.06), 0..1500),
        1_000.0f64..1_000_000.0,
        -0.02f64..0.02,
    )
        .prop_map(|(raw, central, drift)| {
            let pts = raw
                .into_iter()
                .map(|(t, noise)| PricePoint {
                    price: central * (1.0 + drift * f64::from(t) / 86_400.0 + noise),
                    time: 1_700_000_000 + t,
                    ..PricePoint::default()
                })
                .collect();
            (pts, central)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_order_of_points_does_not_matter((pts, central) in day(), seed in any::<u64>()) {
        let (a, path_a) = refine(&pts, central, 1_700_000_000);
        let mut shuffled = pts.clone();
        // A Fisher–Yates shuffle from the seed.
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, usize::try_from(s % (i as u64 + 1)).unwrap());
        }
        let (b, path_b) = refine(&shuffled, central, 1_700_000_000);
        prop_assert_eq!(a, b);
        prop_assert_eq!(path_a, path_b);
    }

    #[test]
    fn scaling_every_price_scales_the_result((pts, central) in day(), k in -8i32..8, f in 0.1f64..10.0) {
        let (a, _) = refine(&pts, central, 1_700_000_000);
        // A power of two scales every float exactly: the result scales exactly.
        let two = 2f64.powi(k);
        let scaled: Vec<_> = pts.iter().map(|p| PricePoint { price: p.price * two, ..*p }).collect();
        let (b, _) = refine(&scaled, central * two, 1_700_000_000);
        prop_assert_eq!(b.price, a.price * two);
        prop_assert_eq!((b.confidence, b.hours, b.grade), (a.confidence, a.hours, a.grade));
        // Any other factor rounds each quotient anew: equal to rounding.
        // (A point on the ±5% edge may flip in or out, so only where none is near.)
        let near_edge = pts.iter().any(|p| {
            let r = p.price / central;
            (r - 0.95).abs() < 1e-9 || (r - 1.05).abs() < 1e-9
        });
        if !near_edge {
            let scaled: Vec<_> = pts.iter().map(|p| PricePoint { price: p.price * f, ..*p }).collect();
            let (c, _) = refine(&scaled, central * f, 1_700_000_000);
            prop_assert!(((c.price - a.price * f) / (a.price * f)).abs() < 1e-12, "{} {}", c.price, a.price * f);
            prop_assert_eq!(c.hours, a.hours);
        }
    }

    #[test]
    fn a_flat_day_gives_the_central_price(central in 1_000.0f64..1_000_000.0, per_hour in 30usize..60) {
        let pts: Vec<_> = (0..24 * per_hour)
            .map(|i| PricePoint {
                price: central,
                time: 1_700_000_000 + u32::try_from(i / per_hour).unwrap() * 3600 + u32::try_from(i % per_hour).unwrap(),
                ..PricePoint::default()
            })
            .collect();
        let (r, path) = refine(&pts, central, 1_700_000_000);
        prop_assert_eq!(r.hours, 24);
        prop_assert!(!r.fallback);
        // ln(1) is exactly 0 and exp(0) exactly 1.
        prop_assert_eq!(r.price, central);
        prop_assert_eq!((r.range, r.edge, r.noise), (0.0, 0.0, 0.0));
        prop_assert!(path.iter().all(|h| h.price == central && h.count == per_hour));
        // A flat path is what the fit trusts most.
        prop_assert_eq!(r.grade, Grade::A);
    }
}
