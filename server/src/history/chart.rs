//! `fiatline history --chart FILE`: the stored series as an image (.svg,
//! .png) or a page holding it (.html): per day the reference price, the
//! refined price and an exchange's where stored; with `--blocks`, the
//! per-block window prices. The time axis is UTC dates.

use std::io;
use std::path::Path;

use fiatline_adapters::UtcDate;
use plotters::prelude::*;

use super::store::{BlockRow, Day};
use crate::report::dollars;

/// One line of the chart: its name, colour, and (Unix time, USD) points.
struct Line {
    name: &'static str,
    colour: RGBColor,
    points: Vec<(i64, f64)>,
}

/// The lines of stored days: reference, refined, exchange.
fn day_lines(days: &[Day]) -> Vec<Line> {
    let noon = |d: &Day| d.time + 43_200;
    vec![
        Line {
            name: "on-chain (reference)",
            colour: RGBColor(120, 120, 120),
            points: days.iter().map(|d| (noon(d), d.price)).collect(),
        },
        Line {
            name: "on-chain (refined)",
            colour: RGBColor(230, 120, 0),
            points: days
                .iter()
                .filter_map(|d| Some((noon(d), d.refined?)))
                .collect(),
        },
        Line {
            name: "exchange",
            colour: RGBColor(30, 90, 200),
            points: days
                .iter()
                .filter_map(|d| Some((noon(d), d.exchange?)))
                .collect(),
        },
    ]
}

/// The line of per-block rows.
fn block_lines(rows: &[BlockRow]) -> Vec<Line> {
    vec![Line {
        name: "on-chain, 144 blocks ending at each block",
        colour: RGBColor(120, 120, 120),
        points: rows.iter().map(|b| (b.time, b.price)).collect(),
    }]
}

/// Writes the chart of `days` (or of `blocks`, when given) to `path`; the
/// extension picks the format (checked by [`crate::chart::check_path`]).
///
/// # Errors
/// Returns the error of writing the file, or of an empty history.
pub(crate) fn write(path: &Path, days: &[Day], blocks: Option<&[BlockRow]>) -> io::Result<()> {
    let (lines, what) = match blocks {
        Some(rows) => (block_lines(rows), "per block"),
        None => (day_lines(days), "per UTC day"),
    };
    let lines: Vec<Line> = lines.into_iter().filter(|l| !l.points.is_empty()).collect();
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (Some(t0), Some(t1)) = (all().map(|p| p.0).min(), all().map(|p| p.0).max()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "nothing stored in that range to chart",
        ));
    };
    let lo = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(hi * 0.01);
    let title = format!(
        "BTC/USD on-chain, {what}: {} to {}",
        UtcDate::of_unix(t0),
        UtcDate::of_unix(t1)
    );
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let size = (1000, 560);
    // Days since 1970 on the x axis: round ticks fall on midnights UTC.
    let day = |t: i64| t as f64 / 86_400.0;
    let margin = (day(t1) - day(t0)).max(1.0) * 0.02;
    let frame = Frame {
        title: &title,
        x: (day(t0) - margin, day(t1) + margin),
        y: (lo - pad, hi + pad),
        lines: &lines,
    };
    match ext.as_deref() {
        Some("svg") => frame.draw(&SVGBackend::new(path, size).into_drawing_area()),
        Some("png") => frame.draw(&BitMapBackend::new(path, size).into_drawing_area()),
        Some("html" | "htm") => {
            let mut svg = String::new();
            frame.draw(&SVGBackend::with_string(&mut svg, size).into_drawing_area())?;
            std::fs::write(
                path,
                format!(
                    "<!doctype html><meta charset=utf-8><title>fiatline history</title>\n\
                     <body style=\"margin:2em;font-family:sans-serif\">{svg}</body>\n"
                ),
            )
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unknown chart format: use a .html, .svg or .png file name",
        )),
    }
}

struct Frame<'a> {
    title: &'a str,
    /// Days since 1970-01-01 (UTC).
    x: (f64, f64),
    y: (f64, f64),
    lines: &'a [Line],
}

impl Frame<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> io::Result<()> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| io::Error::other(e.to_string());
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 22))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("UTC date")
            .y_desc("USD per BTC")
            .x_labels(8)
            .x_label_formatter(&|d| {
                let t = unix_of_day(*d);
                let date = UtcDate::of_unix(t);
                match t.rem_euclid(86_400) {
                    0 => date.to_string(),
                    s => format!("{date} {:02}:{:02}", s / 3600, s % 3600 / 60),
                }
            })
            .y_label_formatter(&|y| format!("${}", dollars(y.max(0.0))))
            .draw()
            .map_err(err)?;
        for line in self.lines {
            let colour = line.colour;
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().map(|&(t, p)| (t as f64 / 86_400.0, p)),
                    colour.stroke_width(2),
                ))
                .map_err(err)?
                .label(line.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)
    }
}

/// The Unix time of a position on the axis (days since 1970), to the
/// second.
fn unix_of_day(day: f64) -> i64 {
    // A saturating cast: the axis' ticks lie between stored times.
    #[allow(clippy::cast_possible_truncation)]
    let t = (day * 86_400.0).round() as i64;
    t
}
