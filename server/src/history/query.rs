//! `fiatline history`: the stored days of a range, as text, JSON lines
//! (each the report `price --date --json` prints) or CSV (with the
//! exchange's price where one was stored).

use std::fmt::Write as _;

use super::store::{Day, Store};
use super::HistoryError;
use crate::report::thousands;
use crate::HistoryArgs;

/// The earliest and latest dates a range may name.
const ALL: (&str, &str) = ("0000-01-01", "9999-12-31");

/// Prints the stored days of `args`.
///
/// # Errors
/// Returns an error when the file cannot be read.
pub(crate) fn run(args: &HistoryArgs) -> Result<(), HistoryError> {
    if !args.db.exists() {
        return Err(HistoryError::Usage(format!(
            "no history database {} (fill one with fiatline backfill)",
            args.db.display()
        )));
    }
    let store = Store::open_read_only(&args.db)?;
    let from = args.from.as_deref().unwrap_or(ALL.0);
    let to = args.to.as_deref().unwrap_or(ALL.1);
    let days = store.days(from, to)?;
    if args.json {
        for d in &days {
            println!("{}", d.report);
        }
    } else if args.csv {
        print!("{}", csv(&days));
    } else {
        for d in &days {
            let refined = d
                .refined
                .map(|r| format!(" (refined ${})", thousands(r.round() as u64)))
                .unwrap_or_default();
            println!("{} ${}{refined}", d.date, thousands(d.price.round() as u64));
        }
    }
    Ok(())
}

/// The days as CSV: `date,time,price,refined,confidence,exchange`.
pub(crate) fn csv(days: &[Day]) -> String {
    let mut out = String::from("date,time,price,refined,confidence,exchange\n");
    for d in days {
        let refined = d.refined.map(|r| r.to_string()).unwrap_or_default();
        let confidence = d.report["confidence"].as_f64().unwrap_or(f64::NAN);
        let exchange = d.exchange.map(|x| x.to_string()).unwrap_or_default();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{},{},{},{refined},{confidence},{exchange}",
            d.date, d.time, d.price
        );
    }
    out
}
