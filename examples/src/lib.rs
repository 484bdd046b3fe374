//! What every example does once it has picked a source: take the last 144
//! blocks, fetch them in order, and price them with the core.

use fiatline_adapters::{fetch_in_order, select, BlockSource, Retry, Selection};
use fiatline_core::{txid_slots_for, Estimate, PricePoint, RawOutput, Refinement, Run, Txid};

/// Prices the `n` blocks below the tip of `source`.
///
/// # Errors
/// Returns the source's error, a malformed block, or "no estimate".
pub fn price_recent(
    source: &dyn BlockSource,
    n: u32,
) -> Result<Estimate, Box<dyn std::error::Error>> {
    let blocks = select(source, Selection::Recent(n), Retry::default())?;
    // Storage is the caller's; a Vec can grow if blocks hold more than guessed.
    let guess = 3_000 * blocks.len();
    let mut run = Run::new(
        vec![Txid::default(); txid_slots_for(guess)],
        vec![RawOutput::default(); 2 * guess],
    );
    fetch_in_order(source, &blocks, 4, Retry::default(), |block, bytes| {
        eprint!("\rblock {} ", block.height);
        let parsed = fiatline_core::Block::parse(&bytes)?;
        if !run.has_room_for(parsed.tx_count()) {
            let more = 2 * (run.stats().txs as usize + parsed.tx_count());
            run = std::mem::replace(&mut run, Run::new(Vec::new(), Vec::new()))
                .grow_into(
                    vec![Txid::default(); txid_slots_for(more)],
                    vec![RawOutput::default(); 2 * more],
                )
                .map_err(|(_, e)| e)?;
        }
        run.add_block(&parsed, block.height)?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    eprintln!();
    let room = 2 * run.outputs().len();
    let (mut points, mut scratch) = (vec![PricePoint::default(); room], vec![0.0; room]);
    Ok(run.estimate(Refinement::Reference, &mut points, &mut scratch)?)
}

/// The first command-line argument, or `default`.
pub fn arg(default: &str) -> String {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| default.to_string())
}
