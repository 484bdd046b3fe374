//! Charts of a run's price points: a self-contained HTML page, or an SVG or
//! PNG image with the same picture. Points are spread across their block's
//! width on the x axis (block height), as in the reference's chart; the
//! final price is a line; the y axis follows the reference's range rule
//! (docs/algorithm.md step 11).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use fiatline_core::{chart_half_range, PricePoint};
use plotters::prelude::*;

use crate::report::dollars;
use fiatline_adapters::consensus::Outcome;
use fiatline_adapters::hourly::Hourly;

/// Why a chart cannot be written where `--chart` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChartPathError {
    /// Not a `.html`, `.svg` or `.png` file name.
    Format(PathBuf),
    /// The file's folder does not exist: the path, and the folder.
    NoFolder(PathBuf, PathBuf),
}

impl std::fmt::Display for ChartPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Format(path) => write!(
                f,
                "--chart {}: unknown chart format: use a .html, .svg or .png file name",
                path.display()
            ),
            Self::NoFolder(path, folder) => {
                write!(
                    f,
                    "--chart {}: no folder {}",
                    path.display(),
                    folder.display()
                )
            }
        }
    }
}

impl std::error::Error for ChartPathError {}

/// Checks, before any work, that a chart can be written to `path`: a
/// known extension, in a folder that exists.
///
/// # Errors
/// Returns a [`ChartPathError`] saying which.
pub(crate) fn check_path(path: &Path) -> Result<(), ChartPathError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("html" | "htm" | "svg" | "png")) {
        return Err(ChartPathError::Format(path.to_owned()));
    }
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(ChartPathError::NoFolder(path.to_owned(), folder.to_owned()));
    }
    Ok(())
}

/// Writes the chart for `outcome` to `path`; the extension picks the format.
pub(crate) fn write(path: &Path, title: &str, outcome: &Outcome) -> io::Result<()> {
    let chart = Chart::new(title, outcome);
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => std::fs::write(path, chart.html()),
        Some("svg") => chart.draw(&SVGBackend::new(path, (1000, 660)).into_drawing_area()),
        Some("png") => chart.draw(&BitMapBackend::new(path, (1000, 660)).into_drawing_area()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unknown chart format: use a .html, .svg or .png file name",
        )),
    }
}

struct Chart {
    title: String,
    price: f64,
    lo: f64,
    hi: f64,
    /// (x, price, time): x is the block height plus the point's place in its block.
    points: Vec<(f64, f64, u32)>,
    x_range: (f64, f64),
    /// Blocks on the x axis.
    blocks: u32,
    /// With the hourly refinement: each hour's price at the mean x of its
    /// points, and the refined price.
    path: Vec<(f64, f64)>,
    refined: Option<f64>,
}

impl Chart {
    fn new(title: &str, outcome: &Outcome) -> Self {
        let price = outcome.estimate.price;
        let mut scratch = vec![0.0; outcome.points.len()];
        let half = chart_half_range(&outcome.points, price, &mut scratch).unwrap_or(0.05);
        let (lo, hi) = (price - half * price, price + half * price);
        let points = spread(&outcome.points);
        let path = outcome
            .hourly
            .as_ref()
            .map(|h| hourly_path(&points, h))
            .unwrap_or_default();
        let refined = outcome.hourly.as_ref().map(|h| h.refined.price);
        let x_range = outcome
            .heights
            .map_or((0.0, 1.0), |(a, b)| (f64::from(a), f64::from(b) + 1.0));
        let blocks = outcome.stats.blocks;
        let plural = if blocks == 1 { "" } else { "s" };
        let title = match &outcome.hourly {
            None => format!("{title}: ${} ({blocks} block{plural})", dollars(price)),
            Some(h) => format!(
                "{title}: ${} hourly, grade {} (reference ${}, {blocks} block{plural})",
                dollars(h.refined.price),
                h.refined.grade,
                dollars(price)
            ),
        };
        Self {
            title,
            price,
            lo,
            hi,
            points,
            x_range,
            blocks: outcome.heights.map_or(1, |(a, b)| b.saturating_sub(a) + 1),
            path,
            refined,
        }
    }

    fn html(&self) -> String {
        let mut data = String::from("[");
        for (x, p, t) in self
            .points
            .iter()
            .filter(|(_, p, _)| (self.lo..=self.hi).contains(p))
        {
            let _ = write!(data, "[{x:.4},{p:.2},{t}],");
        }
        data.push(']');
        let mut path = String::from("[");
        for (x, p) in &self.path {
            let _ = write!(path, "[{x:.4},{p:.2}],");
        }
        path.push(']');
        let refined = self
            .refined
            .map_or_else(|| "null".to_owned(), |r| format!("{r:.2}"));
        HTML.replace("{{TITLE}}", &html_escape(&self.title))
            .replace("{{PATH}}", &path)
            .replace("{{REFINED}}", &refined)
            .replace("{{DATA}}", &data)
            .replace("{{PRICE}}", &format!("{:.2}", self.price))
            .replace("{{LO}}", &format!("{:.2}", self.lo))
            .replace("{{HI}}", &format!("{:.2}", self.hi))
            .replace("{{X0}}", &format!("{}", self.x_range.0))
            .replace("{{X1}}", &format!("{}", self.x_range.1))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> io::Result<()> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| io::Error::other(e.to_string());
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 24))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(self.x_range.0..self.x_range.1, self.lo..self.hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("block height")
            .y_desc("USD per BTC")
            // One label per block on short runs, ten at most on long ones.
            .x_labels(usize::try_from(self.blocks.min(10)).unwrap_or(10))
            .x_label_formatter(&|x| {
                if x.fract() == 0.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("${}", dollars(*y)))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                self.points
                    .iter()
                    .filter(|(_, p, _)| (self.lo..=self.hi).contains(p))
                    .map(|&(x, p, _)| Circle::new((x, p), 2, BLUE.mix(0.35).filled())),
            )
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                [(self.x_range.0, self.price), (self.x_range.1, self.price)],
                RED.stroke_width(2),
            ))
            .map_err(err)?;
        if let Some(r) = self.refined {
            let orange = RGBColor(230, 120, 0);
            chart
                .draw_series(LineSeries::new(
                    [(self.x_range.0, r), (self.x_range.1, r)],
                    orange.stroke_width(1),
                ))
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    self.path.iter().copied(),
                    orange.stroke_width(3),
                ))
                .map_err(err)?;
            chart
                .draw_series(
                    self.path
                        .iter()
                        .map(|&(x, p)| Circle::new((x, p), 4, orange.filled())),
                )
                .map_err(err)?;
        }
        root.present().map_err(err)
    }
}

/// Places each hour of the path at the mean x of the points of that hour.
fn hourly_path(points: &[(f64, f64, u32)], hourly: &Hourly) -> Vec<(f64, f64)> {
    hourly
        .path
        .iter()
        .filter_map(|h| {
            let from = hourly.start + h.hour * 3600;
            let xs = points
                .iter()
                .filter(|(_, _, t)| (from..from + 3600).contains(&i64::from(*t)))
                .map(|(x, _, _)| *x);
            let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
            (n > 0).then(|| (sum / n as f64, h.price))
        })
        .collect()
}

/// Places each point at its block's height plus its rank within the block
/// over the block's point count, so a block's points fill its width.
fn spread(points: &[PricePoint]) -> Vec<(f64, f64, u32)> {
    let mut out = Vec::with_capacity(points.len());
    for block in points.chunk_by(|a, b| a.height == b.height) {
        let n = block.len() as f64;
        for (i, p) in block.iter().enumerate() {
            out.push((f64::from(p.height) + i as f64 / n, p.price, p.time));
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{TITLE}}</title>
<style>
body{margin:0;background:#0d1117;color:#e6edf3;font:14px system-ui,sans-serif}
h1{font-size:20px;font-weight:600;margin:16px 24px 0}
canvas{display:block;margin:8px 24px;background:#fff;border-radius:6px}
p{margin:4px 24px;color:#9da7b3}
</style></head><body>
<h1>{{TITLE}}</h1>
<canvas id="c" width="1000" height="660"></canvas>
<p>Each dot is an output near a round USD amount, at its block's height; the red line is the final price<span id="hl">; orange, the hourly path and the refined price</span>. Made by fiatline.</p>
<script>
const data={{DATA}}, price={{PRICE}}, lo={{LO}}, hi={{HI}}, x0={{X0}}, x1={{X1}};
const path={{PATH}}, refined={{REFINED}};
const c=document.getElementById('c'), g=c.getContext('2d');
const L=110, R=40, T=30, B=60, W=c.width-L-R, H=c.height-T-B;
const X=x=>L+(x-x0)/(x1-x0)*W, Y=p=>T+(hi-p)/(hi-lo)*H;
g.font='12px sans-serif'; g.fillStyle='#333'; g.strokeStyle='#ddd';
for(let i=0;i<=8;i++){const p=lo+(hi-lo)*i/8, y=Y(p);
  g.beginPath(); g.moveTo(L,y); g.lineTo(L+W,y); g.stroke();
  g.textAlign='right'; g.fillText('$'+Math.round(p).toLocaleString('en-US'),L-8,y+4);}
for(let i=0;i<=6;i++){const x=x0+(x1-x0)*i/6;
  g.textAlign='center'; g.fillText(Math.round(x),X(x),T+H+20);}
g.fillText('block height',L+W/2,T+H+45);
g.fillStyle='rgba(30,90,200,0.35)';
for(const [x,p] of data){g.fillRect(X(x)-1,Y(p)-1,2.4,2.4);}
g.strokeStyle='#d00'; g.lineWidth=2; g.beginPath(); g.moveTo(L,Y(price)); g.lineTo(L+W,Y(price)); g.stroke();
g.fillStyle='#d00'; g.textAlign='left'; g.fillText('$'+Math.floor(price).toLocaleString('en-US'),L+6,Y(price)-6);
if(refined===null){document.getElementById('hl').remove();}else{
  g.strokeStyle='#e67800'; g.lineWidth=1; g.beginPath(); g.moveTo(L,Y(refined)); g.lineTo(L+W,Y(refined)); g.stroke();
  g.lineWidth=3; g.beginPath(); path.forEach(([x,p],i)=>i?g.lineTo(X(x),Y(p)):g.moveTo(X(x),Y(p))); g.stroke();
  g.fillStyle='#e67800'; for(const [x,p] of path){g.beginPath(); g.arc(X(x),Y(p),4,0,7); g.fill();}
  g.textAlign='right'; g.fillText('refined $'+Math.floor(refined).toLocaleString('en-US'),L+W-6,Y(refined)-6);}
g.strokeStyle='#333'; g.lineWidth=1; g.strokeRect(L,T,W,H);
</script></body></html>
"#;
