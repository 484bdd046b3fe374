//! The regression vector of docs/algorithm.md: block 702861 alone gives a rough
//! price of 42880 and a final price of 42951.636457… in UTXOracle v9.1.

use fiatline_core::{txid_slots_for, Block, PricePoint, RawOutput, Refinement, Run, Txid};

fn run_block_702861(refinement: Refinement) -> fiatline_core::Estimate {
    let bytes = bitcoin_test_data::blocks::mainnet_702861();
    let block = Block::parse(bytes).expect("block 702861 parses");
    assert_eq!(block.tx_count(), 2500);
    let mut slots = vec![Txid::default(); txid_slots_for(block.tx_count())];
    let mut outputs = vec![RawOutput::default(); 2 * block.tx_count()];
    let mut run = Run::new(&mut slots, &mut outputs);
    run.add_block(&block, 702_861)
        .expect("storage is sized for the block");
    let mut points = vec![PricePoint::default(); 4 * run.outputs().len()];
    let mut scratch = vec![0.0; points.len()];
    let estimate = run
        .estimate(refinement, &mut points, &mut scratch)
        .expect("an estimate");
    eprintln!("{estimate:#?}\n{:?}", run.stats());
    estimate
}

#[test]
fn block_702861_matches_the_reference() {
    let e = run_block_702861(Refinement::Reference);
    assert_eq!(e.rough, 42880);
    assert!((e.price - 42951.636457).abs() < 1e-6, "{}", e.price);
}

#[test]
fn block_702861_confidence_is_reported_in_range() {
    let e = run_block_702861(Refinement::Reference);
    // One block is a thin day: support and tightness keep it below a full day's.
    assert!(e.confidence > 0.5 && e.confidence < 0.9, "{}", e.confidence);
}

/// The central value by its definition, computed the slow way: of the
/// prices in `[low, high]`, sorted, the first with the least total
/// distance to the others.
fn central_by_definition(prices: &[f64], low: f64, high: f64) -> f64 {
    let mut inside: Vec<f64> = prices
        .iter()
        .copied()
        .filter(|&p| p >= low && p <= high)
        .collect();
    inside.sort_by(f64::total_cmp);
    let distance = |x: f64| inside.iter().map(|y| (x - y).abs()).sum::<f64>();
    let mut best = (f64::INFINITY, f64::NAN);
    for &x in &inside {
        let d = distance(x);
        // Strictly less: the first of equal ones stays.
        if d < best.0 {
            best = (d, x);
        }
    }
    best.1
}

#[test]
fn recentring_moves_the_range_until_the_centre_stays() {
    let bytes = bitcoin_test_data::blocks::mainnet_702861();
    let block = Block::parse(bytes).expect("block 702861 parses");
    let mut slots = vec![Txid::default(); txid_slots_for(block.tx_count())];
    let mut outputs = vec![RawOutput::default(); 2 * block.tx_count()];
    let mut run = Run::new(&mut slots, &mut outputs);
    run.add_block(&block, 702_861).expect("sized for the block");
    let mut points = vec![PricePoint::default(); 4 * run.outputs().len()];
    let mut scratch = vec![0.0; points.len()];
    let reference = run
        .estimate(Refinement::Reference, &mut points, &mut scratch)
        .expect("an estimate");
    let e = run
        .estimate(Refinement::Recentre, &mut points, &mut scratch)
        .expect("an estimate");
    let prices: Vec<f64> = points[..e.points].iter().map(|p| p.price).collect();
    let at = |c: f64| central_by_definition(&prices, c - 0.05 * c, c + 0.05 * c);
    // The reference's first centre, recomputed the slow way.
    let rough = f64::from(reference.rough);
    // Points a rounding apart (42951.63645734902 and …903) are equally
    // central up to the rounding of the sums, so the slow way may pick
    // the twin: equal to a billionth.
    assert!((at(rough) - reference.price).abs() <= 1e-9 * reference.price);
    // Re-centred on itself, the final price stays: the loop ran to its
    // fixed point. The first centre is not one (its range re-centred moves
    // the price by about 37 cents), so a re-centring that did nothing fails.
    assert_eq!(at(e.price), e.price);
    assert!((at(reference.price) - reference.price).abs() > 0.1);
    assert!((e.price - reference.price).abs() > 0.1);
    assert_eq!(e.rough, reference.rough);
}
