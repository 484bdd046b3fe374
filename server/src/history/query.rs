//! `fiatline history`: the stored days of a range, as text, JSON lines
//! (each the report `price --date --json` prints) or CSV (with the
//! exchange's price where one was stored).

use std::fmt::Write as _;
use std::io::Write as _;

use fiatline_adapters::{parse_dates, UtcDate};

use super::block_text::Format;
use super::store::{BlockRow, Day, Store};
use super::HistoryError;
use crate::report::dollars;
use crate::HistoryArgs;

/// The earliest and latest dates a range may name.
const ALL: (&str, &str) = ("0000-01-01", "9999-12-31");

/// Prints the stored days of `args`.
///
/// # Errors
/// Returns an error when the file cannot be read.
pub(crate) fn run(args: &HistoryArgs) -> Result<(), HistoryError> {
    if !args.db.exists() {
        return Err(HistoryError::NoDatabase(args.db.clone()));
    }
    if let Some(path) = &args.chart {
        crate::chart::check_path(path).map_err(HistoryError::ChartPath)?;
    }
    let store = Store::open_read_only(&args.db)?;
    let from = args.from.as_deref().unwrap_or(ALL.0);
    let to = args.to.as_deref().unwrap_or(ALL.1);
    // Checked for days too: a date that does not parse is an error, not
    // an empty answer.
    let (start, end) = day_span(from, to)?;
    if args.blocks {
        let rows = store.blocks(start, end)?;
        if let Some(path) = &args.chart {
            return draw(path, &[], Some(&rows), rows.len(), "block");
        }
        let text = if args.json {
            let mut text = String::new();
            for b in &rows {
                // A struct of numbers and strings always serialises.
                text.push_str(&serde_json::to_string(b).unwrap_or_default());
                text.push('\n');
            }
            text.into_bytes()
        } else if args.csv {
            Format::Csv.all(&rows)
        } else {
            let mut text = String::new();
            for b in &rows {
                // Writing to a String cannot fail.
                let _ = writeln!(
                    text,
                    "{} {} ${}",
                    b.height,
                    UtcDate::of_unix(b.time),
                    dollars(b.price.round())
                );
            }
            text.into_bytes()
        };
        return print(&text);
    }
    let days = store.days(from, to)?;
    if let Some(path) = &args.chart {
        return draw(path, &days, None, days.len(), "day");
    }
    let mut text = String::new();
    if args.json {
        for d in &days {
            let _ = writeln!(text, "{}", d.report);
        }
    } else if args.csv {
        text = csv(&days);
    } else {
        for d in &days {
            let refined = d
                .refined
                .map(|r| format!(" (refined ${})", dollars(r.round())))
                .unwrap_or_default();
            let _ = writeln!(text, "{} ${}{refined}", d.date, dollars(d.price.round()));
        }
    }
    print(text.as_bytes())
}

/// Writes `text` to stdout. A reader that stopped reading (`| head`) ends
/// the listing quietly; `println!` would panic there.
///
/// # Errors
/// Returns [`HistoryError::Output`] when stdout cannot be written.
fn print(text: &[u8]) -> Result<(), HistoryError> {
    match std::io::stdout().lock().write_all(text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(HistoryError::Output(e)),
        _ => Ok(()),
    }
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

/// From 00:00 UTC of `from` to the last second of `to` (dates
/// `YYYY-MM-DD`; the widest range for [`ALL`]'s bounds).
///
/// # Errors
/// Returns [`HistoryError::Date`] for a date that does not parse.
pub(crate) fn day_span(from: &str, to: &str) -> Result<(i64, i64), HistoryError> {
    let midnight = |d: &str, all: &str| -> Result<Option<i64>, HistoryError> {
        if d == all {
            return Ok(None);
        }
        let days = parse_dates(d).map_err(HistoryError::Date)?;
        Ok(days.first().map(|d| d.midnight()))
    };
    Ok((
        midnight(from, ALL.0)?.unwrap_or(i64::MIN),
        midnight(to, ALL.1)?.map_or(i64::MAX, |t| t + 86_399),
    ))
}

/// Writes the chart and says so.
fn draw(
    path: &std::path::Path,
    days: &[Day],
    blocks: Option<&[BlockRow]>,
    n: usize,
    what: &str,
) -> Result<(), HistoryError> {
    super::chart::write(path, days, blocks).map_err(|e| HistoryError::Chart(path.to_owned(), e))?;
    let plural = if n == 1 { "" } else { "s" };
    eprintln!("wrote {} ({n} {what}{plural})", path.display());
    Ok(())
}
