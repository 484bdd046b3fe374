//! fiatline-core on a Cortex-M4F: prices real mainnet block 702861 (linked
//! into flash) in static storage, once whole and once a transaction at a
//! time, refines it hour by hour, and prints every field through
//! semihosting as the bits of each double, with the instructions each phase
//! took and the stack's peak. `run.sh` compares it all with the host.
//!
//! Instruction counts: QEMU runs with `-icount shift=0`, one instruction per
//! nanosecond of virtual time, and SysTick counts the 25 MHz core clock of
//! the mps2 boards in that virtual time: one tick is 40 instructions.
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};

/// The block, as `samples/block-702861.bin` holds it.
static BLOCK: &[u8] = include_bytes!("../../../samples/block-702861.bin");

/// Instructions per SysTick tick: 1 ns per instruction, 25 MHz clock.
const INSTRUCTIONS_PER_TICK: u64 = 40;
/// SysTick's 24-bit reload.
const RELOAD: u32 = 0x00FF_FFFF;
/// The pattern the stack is painted with.
const PAINT: u32 = 0x5AA5_C33C;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Ticks since the counter started.
fn ticks() -> u64 {
    loop {
        let before = WRAPS.load(Ordering::Relaxed);
        let current = cortex_m::peripheral::SYST::get_current();
        if WRAPS.load(Ordering::Relaxed) == before {
            return u64::from(before) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current);
        }
    }
}

/// Runs `f` and prints the instructions it took and the stack it used
/// below the caller's frame.
fn measure<T>(phase: &str, f: impl FnOnce() -> T) -> T {
    let sp = cortex_m::register::msp::read() as usize;
    paint_stack();
    let start = ticks();
    let out = f();
    let spent = (ticks() - start) * INSTRUCTIONS_PER_TICK;
    let depth = stack_peak().saturating_sub(stack_top() - sp);
    hprintln!("instructions {} {}", phase, spent);
    hprintln!("stack {} {}", phase, depth);
    out
}

fn stack_top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

extern "C" {
    /// Start of the heap: the end of .bss and .uninit (cortex-m-rt).
    static mut __sheap: u32;
    /// Top of the stack (cortex-m-rt).
    static _stack_start: u32;
}

/// Paints the free RAM between the statics and the current stack frame.
fn paint_stack() {
    let sp = cortex_m::register::msp::read() as usize;
    // SAFETY: from the end of the statics to just below the live frame,
    // RAM belongs to no one yet; volatile writes keep the paint.
    unsafe {
        let mut p = addr_of_mut!(__sheap);
        while (p as usize) < sp - 256 {
            p.write_volatile(PAINT);
            p = p.add(1);
        }
    }
}

/// The deepest the stack went since painting, in bytes.
fn stack_peak() -> usize {
    let top = stack_top();
    // SAFETY: reads RAM between the statics and the stack top, all of it
    // mapped.
    unsafe {
        let mut p = addr_of_mut!(__sheap) as *const u32;
        while (p as usize) < top && p.read_volatile() == PAINT {
            p = p.add(1);
        }
        top - p as usize
    }
}

#[cfg(feature = "baseline")]
#[entry]
fn main() -> ! {
    // The same start, timer, semihosting and exit, without the core: what
    // the firmware costs before fiatline.
    let mut p = cortex_m::Peripherals::take().unwrap_or_else(|| exit(false));
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(RELOAD);
    p.SYST.enable_counter();
    paint_stack();
    let n = measure("nothing", || BLOCK.len());
    hprintln!("block_len {}", n);
    hprintln!("stack_peak {}", stack_peak());
    exit(true)
}

#[cfg(not(feature = "baseline"))]
mod pricing {
    use super::{hprintln, measure, BLOCK};
    use core::ptr::addr_of_mut;
    use fiatline_core::{
        refine_hourly, txid_slots_for, Block, Hour, HourPoint, PricePoint, RawOutput, Refinement,
        Run, Txid,
    };

    /// Transactions of the largest block this firmware takes.
    const TXS: usize = 2_500;
    const SLOTS: usize = txid_slots_for(TXS);
    /// At most two used outputs per transaction.
    const OUTPUTS: usize = 2 * TXS;
    /// One output can give up to three price points (neighbouring USD
    /// amounts' ±25% bands overlap).
    const POINTS: usize = 3 * OUTPUTS;

    static mut TXIDS: [Txid; SLOTS] = [Txid([0; 32]); SLOTS];
    static mut OUTS: [RawOutput; OUTPUTS] = [RawOutput {
        sats: 0,
        height: 0,
        time: 0,
    }; OUTPUTS];
    static mut TXIDS2: [Txid; SLOTS] = [Txid([0; 32]); SLOTS];
    static mut OUTS2: [RawOutput; OUTPUTS] = [RawOutput {
        sats: 0,
        height: 0,
        time: 0,
    }; OUTPUTS];
    static mut POINT_SLOTS: [PricePoint; POINTS] = [PricePoint {
        price: 0.0,
        height: 0,
        time: 0,
        sats: 0,
    }; POINTS];
    static mut SCRATCH: [f64; POINTS] = [0.0; POINTS];
    static mut HOURLY: [HourPoint; POINTS] = [HourPoint::ZERO; POINTS];
    static mut PATH: [Hour; 48] = [Hour::ZERO; 48];

    fn bits(name: &str, x: f64) {
        hprintln!("{} 0x{:016x}", name, x.to_bits());
    }

    /// Prices the block; false when something failed (it is printed).
    pub(super) fn run() -> bool {
        const HEIGHT: u32 = 702_861;
        // SAFETY: `run` is called once, from `main`, before any interrupt
        // uses these statics (none does): these are the only references.
        let (txids, outs, txids2, outs2, points, scratch, hourly, path) = unsafe {
            (
                &mut *addr_of_mut!(TXIDS),
                &mut *addr_of_mut!(OUTS),
                &mut *addr_of_mut!(TXIDS2),
                &mut *addr_of_mut!(OUTS2),
                &mut *addr_of_mut!(POINT_SLOTS),
                &mut *addr_of_mut!(SCRATCH),
                &mut *addr_of_mut!(HOURLY),
                &mut *addr_of_mut!(PATH),
            )
        };

        let block = match measure("parse", || Block::parse(BLOCK)) {
            Ok(b) => b,
            Err(e) => {
                hprintln!("error parse {}", e);
                return false;
            }
        };
        let time = block.header().time();
        let mut run = Run::new(&mut txids[..], &mut outs[..]);
        if let Err(e) = measure("add_block", || run.add_block(&block, HEIGHT)) {
            hprintln!("error add_block {}", e);
            return false;
        }
        let estimate = measure("estimate", || {
            run.estimate(Refinement::Reference, points, scratch)
        });
        let e = match estimate {
            Ok(e) => e,
            Err(err) => {
                hprintln!("error estimate {}", err);
                return false;
            }
        };
        let found = points.get(..e.points).unwrap_or_default();
        let refined = measure("refine", || {
            refine_hourly(found, e.price, i64::from(time), hourly, path)
        });

        // The same block, a transaction at a time, as a radio or a serial
        // line would bring it.
        let mut each = Run::new(&mut txids2[..], &mut outs2[..]);
        let fed = measure("add_transactions", || {
            block
                .transactions()
                .try_for_each(|tx| each.add_transaction(&tx, HEIGHT, time))
        });
        if let Err(err) = fed {
            hprintln!("error add_transaction {}", err);
            return false;
        }
        let per_tx = each.estimate(Refinement::Reference, points, scratch);

        let stats = run.stats();
        hprintln!("rough {}", e.rough);
        bits("price", e.price);
        bits("confidence", e.confidence);
        hprintln!("points {}", e.points);
        hprintln!("points_in_range {}", e.points_in_range);
        bits("deviation", e.deviation);
        hprintln!("outputs {}", e.outputs);
        hprintln!("blocks {}", stats.blocks);
        hprintln!("txs {}", stats.txs);
        hprintln!("used_txs {}", stats.used_txs);
        match refined {
            Ok(r) => {
                bits("refined", r.price);
                bits("refined_confidence", r.confidence);
                bits("open", r.open);
                bits("high", r.high);
                bits("low", r.low);
                bits("close", r.close);
                hprintln!("hours {}", r.hours);
                hprintln!("grade {}", r.grade);
            }
            Err(err) => hprintln!("error refine {}", err),
        }
        match per_tx {
            Ok(p) => bits("per_transaction_price", p.price),
            Err(err) => hprintln!("error per_transaction {}", err),
        }
        true
    }
}

#[cfg(not(feature = "baseline"))]
#[entry]
fn main() -> ! {
    let mut p = cortex_m::Peripherals::take().unwrap_or_else(|| exit(false));
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(RELOAD);
    p.SYST.clear_current();
    p.SYST.enable_interrupt();
    p.SYST.enable_counter();
    paint_stack();
    hprintln!("fiatline-firmware block 702861 ({} bytes)", BLOCK.len());
    let ok = pricing::run();
    // Each phase repaints: the largest depth of all is the last phase's
    // peak or more, so the whole run's peak is read per phase above; this
    // is the depth since the last paint.
    hprintln!("stack_peak {}", stack_peak());
    exit(ok)
}

fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    exit(false)
}
