//! The hourly refinement: one real day's published points (2024-01-03,
//! 66,949 of them), and 100,000 points made from two real days (2024-03-12's
//! moved onto 2024-01-03's day and price).
//!
//! `cargo bench -p fiatline-benches --bench refine`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fiatline_core::{refine_hourly, Hour, HourPoint, PricePoint};
use fiatline_testkit::refined::vectors;

fn points(raw: &[(u32, f64)], scale: f64, shift: i64) -> Vec<PricePoint> {
    raw.iter()
        .map(|&(t, p)| PricePoint {
            price: p * scale,
            time: u32::try_from(i64::from(t) + shift).unwrap(),
            ..PricePoint::default()
        })
        .collect()
}

fn refine(c: &mut Criterion) {
    let all = vectors();
    let day = all.iter().find(|v| v.name == "2024-01-03").unwrap();
    let other = all.iter().find(|v| v.name == "2024-03-12").unwrap();
    let mut pts = points(&day.points(), 1.0, 0);
    let one_day = pts.len();
    pts.extend(points(
        &other.points(),
        day.central / other.central,
        day.day_start - other.day_start,
    ));
    pts.truncate(100_000);

    let mut scratch = vec![HourPoint::default(); pts.len()];
    let mut path = vec![Hour::default(); 48];
    let mut g = c.benchmark_group("refine");
    for (name, n) in [
        ("hourly_one_day", one_day),
        ("hourly_100k_points", pts.len()),
    ] {
        let input = &pts[..n];
        let r = refine_hourly(input, day.central, day.day_start, &mut scratch, &mut path).unwrap();
        eprintln!(
            "{name}: {n} points, {} kept, {} hours, refined {:.2}, grade {}",
            r.kept, r.hours, r.price, r.grade
        );
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                refine_hourly(
                    black_box(input),
                    day.central,
                    day.day_start,
                    &mut scratch,
                    &mut path,
                )
                .unwrap()
                .price
            });
        });
    }
    g.finish();
}

criterion_group!(benches, refine);
criterion_main!(benches);
