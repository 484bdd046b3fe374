//! Calls the whole public API of fiatline-core from a `#![no_std]` staticlib.
#![no_std]

use fiatline_core::cell::{Latest, LatestCell};
use fiatline_core::{
    bins, chart_half_range, estimate, txid_slots_for, Block, Histogram, PricePoint, RawOutput,
    Refinement, Run, Transaction, Txid, Window, WindowEntry,
};

static LATEST: LatestCell = LatestCell::new();

/// Runs a rolling window over one block in fixed arrays, and publishes the
/// estimate through the lock-free cell; returns the price read back, in cents.
#[no_mangle]
pub extern "C" fn fiatline_window_block(ptr: *const u8, len: usize, now: u32) -> u64 {
    // SAFETY: the caller passes a valid buffer; this crate is only a link check.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    let ring = [WindowEntry::default(); 256];
    let index = [0u32; 512];
    let Ok(mut window) = Window::new(ring, index, fiatline_core::DEFAULT_SPAN) else {
        return 0;
    };
    if let Ok(block) = Block::parse(bytes) {
        let _ = window.add_block(&block, 1);
        if let Some(tx) = block.transactions().next() {
            window.remove(&tx.txid());
        }
    }
    window.expire(now);
    let mut points = [PricePoint::default(); 512];
    let mut scratch = [0.0f64; 512];
    if let (Ok(e), Some(mut writer)) = (
        window.estimate(Refinement::Reference, &mut points, &mut scratch),
        LATEST.writer(),
    ) {
        writer.publish(&Latest {
            price: e.price,
            rough: e.rough,
            confidence: e.confidence,
            at: now,
            ..Latest::default()
        });
    }
    LATEST
        .try_read::<Latest>()
        .map_or(0, |l| (l.price * 100.0) as u64)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

static mut SLOTS: [Txid; 8192] = [Txid([0; 32]); 8192];

/// Prices one block held in `bytes` with storage from static arrays; returns
/// the price in cents, or 0 when there is none.
#[no_mangle]
pub extern "C" fn fiatline_price_block(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: the caller passes a valid buffer; this crate is only a link check.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    let mut outputs = [RawOutput::default(); 512];
    let mut points = [PricePoint::default(); 512];
    let mut scratch = [0.0f64; 512];
    // SAFETY: single-threaded link check.
    let slots = unsafe { &mut *core::ptr::addr_of_mut!(SLOTS) };
    let mut run = Run::new(slots, &mut outputs);
    if run.add_block_bytes(bytes, 0).is_err() {
        return 0;
    }
    if let Ok(block) = Block::parse(bytes) {
        for tx in block.transactions() {
            let _ = Transaction::parse(tx.as_bytes()).map(|t| t.txid());
        }
    }
    let _ = txid_slots_for(1);
    let mut h = Histogram::new();
    h.add(0.001);
    let _ = bins::bin_of(0.5);
    let _ = estimate(
        &h,
        run.outputs(),
        Refinement::Recentre,
        &mut points,
        &mut scratch,
    );
    match run.estimate(Refinement::Reference, &mut points, &mut scratch) {
        Ok(e) => {
            let _ = chart_half_range(&points[..e.points.min(points.len())], e.price, &mut scratch);
            (e.price * 100.0) as u64
        }
        Err(_) => 0,
    }
}
