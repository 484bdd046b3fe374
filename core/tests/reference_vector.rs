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

#[test]
fn recentring_is_an_option_that_stays_near_the_reference() {
    let e = run_block_702861(Refinement::Recentre);
    assert_eq!(e.rough, 42880);
    assert!(
        (e.price - 42951.636457).abs() < 0.01 * 42951.0,
        "{}",
        e.price
    );
}
