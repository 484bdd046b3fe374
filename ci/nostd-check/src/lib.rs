//! Calls the whole public API of fiatline-core from a `#![no_std]` staticlib.
#![no_std]

use fiatline_core::cell::{SeqCell, Words};
use fiatline_core::{
    bins, chart_half_range, estimate, refine_hourly, txid_slots_for, Block, Histogram, Hour,
    HourPoint, PricePoint, RawOutput, Refinement, Run, Transaction, Txid, Window, WindowEntry,
};

/// A price in cents and the time it was made: two words.
#[derive(Clone, Copy)]
struct Cents(u32, u32);

impl Words<2> for Cents {
    fn to_words(&self) -> [u32; 2] {
        [self.0, self.1]
    }
    fn from_words([c, t]: [u32; 2]) -> Self {
        Self(c, t)
    }
}

static LATEST: SeqCell<2> = SeqCell::new();

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
    let estimate = window.estimate(Refinement::Reference, &mut points, &mut scratch);
    // Publishing needs compare-and-swap; Cortex-M0 reads only.
    #[cfg(target_has_atomic = "8")]
    if let (Ok(e), Some(mut writer)) = (estimate, LATEST.writer()) {
        writer.publish(&Cents((e.price * 100.0) as u32, now));
    }
    #[cfg(not(target_has_atomic = "8"))]
    let _ = estimate;
    LATEST.try_read::<Cents>().map_or(0, |c| u64::from(c.0))
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
    if txid_slots_for(1) <= 1 {
        return 0;
    }
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
            let found = &points[..e.points.min(points.len())];
            let _ = chart_half_range(found, e.price, &mut scratch);
            let mut hourly = [HourPoint::default(); 512];
            let mut path = [Hour::default(); 24];
            match refine_hourly(found, e.price, 0, &mut hourly, &mut path) {
                Ok(r) => (r.price * 100.0) as u64,
                Err(_) => (e.price * 100.0) as u64,
            }
        }
        Err(_) => 0,
    }
}
