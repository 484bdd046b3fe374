//! `fiatline refine`: the hourly refinement alone, over a file of price
//! points (the reference's published chart points, `height,timestamp,price`,
//! or `time,price`; plain or gzip), so anyone can re-price a published day.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use fiatline_adapters::UtcDate;
use fiatline_core::{PricePoint, RefineError};

use crate::report::{dollars, thousands};
use crate::RefineArgs;
use fiatline_adapters::hourly::Hourly;
use fiatline_adapters::report::RefinedDay;

/// Why `fiatline refine` failed.
#[derive(Debug)]
pub(crate) enum RefineCmdError {
    /// The points file could not be read or parsed.
    Points(PointsError),
    /// The date is malformed.
    Date(fiatline_adapters::DateError),
    /// The central price is not a positive number.
    Central(String),
    /// The refinement itself failed.
    Refine(RefineError),
}

impl RefineCmdError {
    /// 2 for bad input; 1 when the points hold no refined price.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Refine(_) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for RefineCmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Points(e) => e.fmt(f),
            Self::Date(e) => e.fmt(f),
            Self::Central(s) => write!(f, "--central {s:?}: expected a positive price in USD"),
            Self::Refine(e) => write!(f, "no refined price: {e}"),
        }
    }
}

impl std::error::Error for RefineCmdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Points(e) => Some(e),
            Self::Date(e) => Some(e),
            Self::Central(_) => None,
            Self::Refine(e) => Some(e),
        }
    }
}

/// A points file that could not be used.
#[derive(Debug)]
pub(crate) struct PointsError {
    path: PathBuf,
    /// The 1-based line, when one line is at fault.
    line: Option<usize>,
    kind: PointsErrorKind,
}

/// What was wrong with a points file.
#[derive(Debug)]
pub(crate) enum PointsErrorKind {
    Io(std::io::Error),
    NotUtf8,
    /// A header without a time or a price column.
    Header(String),
    /// A row with the wrong number of fields.
    Fields {
        want: usize,
        got: usize,
    },
    /// A field that is not a number.
    Number(String),
    Empty,
}

impl fmt::Display for PointsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "points file {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        match &self.kind {
            PointsErrorKind::Io(e) => write!(f, ": {e}"),
            PointsErrorKind::NotUtf8 => f.write_str(": not text (nor gzip of text)"),
            PointsErrorKind::Header(h) => write!(
                f,
                ": header {h:?} names no time and price columns \
                 (expected height,timestamp,price or time,price)"
            ),
            PointsErrorKind::Fields { want, got } => {
                write!(f, ": {got} fields where the header has {want}")
            }
            PointsErrorKind::Number(v) => write!(f, ": {v:?} is not a number"),
            PointsErrorKind::Empty => f.write_str(": no points"),
        }
    }
}

impl std::error::Error for PointsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            PointsErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads `time,price` points: columns named by a header (`timestamp` or
/// `time`, and `price`), else the last two of each row.
pub(crate) fn read_points(path: &Path) -> Result<Vec<PricePoint>, PointsError> {
    let fail = |line, kind| PointsError {
        path: path.to_owned(),
        line,
        kind,
    };
    let raw = std::fs::read(path).map_err(|e| fail(None, PointsErrorKind::Io(e)))?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .map_err(|e| fail(None, PointsErrorKind::Io(e)))?;
        s
    } else {
        String::from_utf8(raw).map_err(|_| fail(None, PointsErrorKind::NotUtf8))?
    };
    let mut rows = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((first_no, first)) = rows.next() else {
        return Err(fail(None, PointsErrorKind::Empty));
    };
    let head = fields(first);
    let is_header = head.iter().any(|f| f.parse::<f64>().is_err());
    let (width, time_col, price_col) = if is_header {
        let find = |names: &[&str]| {
            head.iter()
                .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
        };
        match (find(&["timestamp", "time"]), find(&["price"])) {
            (Some(t), Some(p)) => (head.len(), t, p),
            _ => {
                return Err(fail(
                    Some(first_no),
                    PointsErrorKind::Header(first.to_owned()),
                ))
            }
        }
    } else {
        (head.len(), head.len().saturating_sub(2), head.len() - 1)
    };
    if width < 2 {
        return Err(fail(
            Some(first_no),
            PointsErrorKind::Fields {
                want: 2,
                got: width,
            },
        ));
    }
    let data = (!is_header)
        .then_some((first_no, first))
        .into_iter()
        .chain(rows);
    let mut points = Vec::new();
    for (no, line) in data {
        let f = fields(line);
        if f.len() != width {
            return Err(fail(
                Some(no),
                PointsErrorKind::Fields {
                    want: width,
                    got: f.len(),
                },
            ));
        }
        let number = |v: &str| fail(Some(no), PointsErrorKind::Number(v.to_owned()));
        let (t, p) = (f[time_col], f[price_col]);
        let time: u32 = t.parse().map_err(|_| number(t))?;
        let price: f64 = p.parse().map_err(|_| number(p))?;
        points.push(PricePoint {
            price,
            time,
            ..PricePoint::default()
        });
    }
    if points.is_empty() {
        return Err(fail(None, PointsErrorKind::Empty));
    }
    Ok(points)
}

fn fields(line: &str) -> Vec<&str> {
    line.split(',').map(str::trim).collect()
}

pub(crate) fn run(args: &RefineArgs) -> Result<(), RefineCmdError> {
    let date: UtcDate = args.date.parse().map_err(RefineCmdError::Date)?;
    if !(args.central.is_finite() && args.central > 0.0) {
        return Err(RefineCmdError::Central(args.central.to_string()));
    }
    let points = read_points(&args.points).map_err(RefineCmdError::Points)?;
    let h = Hourly::of(&points, args.central, date.midnight()).map_err(RefineCmdError::Refine)?;
    let r = h.refined;
    let report = RefinedDay::new(date.to_string(), args.central, points.len(), &h);
    if args.json {
        let line =
            serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        println!("{line}");
    } else {
        println!(
            "{date} price: ${} (hourly, grade {}; central ${})",
            dollars(r.price),
            r.grade,
            dollars(args.central)
        );
        eprintln!(
            "{} points, {} within 5% of the central price, {} hour(s) with 30+: open ${}, \
             high ${}, low ${}, close ${}; confidence {:.2} (grade {})",
            thousands(points.len() as u64),
            thousands(r.kept as u64),
            r.hours,
            dollars(r.open),
            dollars(r.high),
            dollars(r.low),
            dollars(r.close),
            r.confidence,
            r.grade
        );
        if r.fallback {
            eprintln!("warning: no hour had 30 price points: the refined price is the central one");
        }
    }
    Ok(())
}
