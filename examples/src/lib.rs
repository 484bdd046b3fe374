//! What every example does once it has picked a source. A block source:
//! take the last 144 blocks, fetch them in order, and price them with the
//! core ([`price_recent`]). A live source: keep a rolling window of what
//! it passes on and price it as it changes ([`follow`]).

use std::time::{Duration, Instant};

use fiatline_adapters::{
    fetch_in_order, select, BlockSource, LiveEvent, LiveSource, Retry, Selection,
};
use fiatline_core::{
    txid_slots_for, window_index_slots_for, Block, Estimate, PricePoint, RawOutput, Refinement,
    Run, Txid, Window, WindowEntry,
};

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
        let parsed = fiatline_core::Block::parse(bytes)?;
        if !run.has_room_for(parsed.tx_count()) {
            let more = 2
                * (usize::try_from(run.stats().txs).unwrap_or(usize::MAX / 4) + parsed.tx_count());
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

/// Follows `source` for `duration` (for ever with `None`, or until a
/// recording ends): a rolling window of `span` seconds of what it passes
/// on, priced and printed every `every`. Returns the last estimate.
///
/// # Errors
/// Returns a persistent source error; transient ones are logged and waited out.
pub fn follow(
    source: &mut dyn LiveSource,
    span: u32,
    duration: Option<Duration>,
    every: Duration,
) -> Result<Option<Estimate>, Box<dyn std::error::Error>> {
    const CAPACITY: usize = 300_000;
    let mut window = Window::new(
        vec![WindowEntry::default(); CAPACITY],
        vec![0; window_index_slots_for(CAPACITY)],
        span,
    )?;
    let (mut points, mut scratch) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let mut last_print = Instant::now();
    // The sources' own clock: first-seen and arrival times (a recording's, for a replay).
    let mut now = 0;
    let mut last = None;
    loop {
        let ended = match source.next_event(Duration::from_millis(200)) {
            Ok(Some(LiveEvent::Tx { raw, time })) => {
                now = now.max(time);
                if let Err(e) = window.add_bytes(&raw, time, 0) {
                    eprintln!("skipped a transaction: {e}");
                }
                false
            }
            Ok(Some(LiveEvent::Gone { txid })) => {
                window.remove(&txid);
                false
            }
            Ok(Some(LiveEvent::Block { raw, time })) => {
                now = now.max(time);
                match Block::parse(&raw) {
                    Ok(block) => {
                        let height = u32::try_from(block.bip34_height().unwrap_or(0)).unwrap_or(0);
                        eprintln!("block {height}");
                        // First seen on arrival, as the mempool's are: the
                        // header's time can be hours off.
                        for tx in block.transactions() {
                            window.add(&tx, time, height)?;
                        }
                    }
                    Err(e) => eprintln!("skipped a block: {e}"),
                }
                false
            }
            Ok(Some(LiveEvent::End)) => true,
            // A resync marker, a disconnected block (its transactions stay:
            // still payments), or anything a newer source may tell.
            Ok(Some(_) | None) => false,
            Err(e) if e.is_transient() => {
                eprintln!("{}: {e}", source.name());
                false
            }
            Err(e) => return Err(e.into()),
        };
        let done = ended || duration.is_some_and(|d| started.elapsed() >= d);
        if done || last_print.elapsed() >= every {
            last_print = Instant::now();
            window.expire(now);
            let room = 4 * window.len() + 1024;
            points.resize(room, PricePoint::default());
            scratch.resize(room, 0.0);
            match window.estimate(Refinement::Reference, &mut points, &mut scratch) {
                Ok(e) => {
                    println!(
                        "price: ${:.0} (confidence {:.2}, {} transactions)",
                        e.price,
                        e.confidence,
                        window.len()
                    );
                    last = Some(e);
                }
                Err(e) => println!("no price yet ({} transactions): {e}", window.len()),
            }
        }
        if done {
            return Ok(last);
        }
    }
}

/// The first command-line argument, or `default`.
pub fn arg(default: &str) -> String {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| default.to_string())
}
