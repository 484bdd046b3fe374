//! The refined price's test vectors (`testdata/refined/`): a synthetic day
//! and three real days of the reference's published price points, each
//! with the central price, day start and the values docs/algorithm.md's hourly
//! refinement gives (`expected.json`, computed outside this project).

use std::io::Read as _;
use std::path::PathBuf;

/// One day of the vectors and what the refinement must give for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Vector {
    /// `synthetic` or the date.
    pub name: String,
    /// The points file: `time,price` (synthetic) or `height,timestamp,price`, gzip.
    pub file: PathBuf,
    /// The reference's central price of the day.
    pub central: f64,
    /// 00:00 UTC of the day, Unix seconds.
    pub day_start: i64,
    /// Points in the file, where `expected.json` says.
    pub points: Option<usize>,
    /// The refined price.
    pub price: f64,
    /// The path's range R.
    pub range: f64,
    /// The edge term.
    pub edge: f64,
    /// The noise term.
    pub noise: f64,
    /// The calibrated confidence.
    pub confidence: f64,
    /// The grade letter.
    pub grade: String,
    /// Hours that counted.
    pub hours: usize,
    /// Whether no hour counted.
    pub fallback: bool,
}

/// The folder of the vectors.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/refined")
}

/// Every vector of `expected.json`, in its order.
pub fn vectors() -> Vec<Vector> {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("expected.json parses");
    let object = json.as_object().expect("an object of days");
    object
        .iter()
        .map(|(name, v)| {
            let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{name}.{k}"));
            let file = if name == "synthetic" {
                dir().join("synthetic.csv")
            } else {
                dir().join(format!("{name}.csv.gz"))
            };
            Vector {
                name: name.clone(),
                file,
                central: f("central"),
                day_start: v["day_start"].as_i64().expect("day_start"),
                points: v["points"].as_u64().and_then(|n| usize::try_from(n).ok()),
                price: f("price"),
                range: f("R"),
                edge: f("edge"),
                noise: f("noise"),
                confidence: f("confidence"),
                grade: v["grade"].as_str().expect("grade").to_owned(),
                hours: usize::try_from(v["hours"].as_u64().expect("hours")).expect("hours"),
                fallback: v["fallback"].as_bool().expect("fallback"),
            }
        })
        .collect()
}

impl Vector {
    /// The day's points as `(time, price)`, in file order.
    pub fn points(&self) -> Vec<(u32, f64)> {
        let raw = std::fs::read(&self.file).expect("points file");
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut s)
                .expect("gzip");
            s
        } else {
            String::from_utf8(raw).expect("utf-8")
        };
        let mut lines = text.lines();
        let header = lines.next().expect("a header");
        let columns = header.split(',').count();
        lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), columns, "{l}");
                let (t, p) = (f[columns - 2], f[columns - 1]);
                (t.parse().expect("time"), p.parse().expect("price"))
            })
            .collect()
    }
}
