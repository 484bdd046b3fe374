//! The hourly refinement through the command line: `fiatline refine` on
//! docs/algorithm.md's vectors (values computed outside this project), and
//! `fiatline price --refinement hourly` equal to the core's own refinement
//! of the same blocks.

use std::path::PathBuf;
use std::process::{Command, Output};

use fiatline_core::{
    refine_hourly, txid_slots_for, Block, Hour, HourPoint, PricePoint, RawOutput, Refinement, Run,
    Txid,
};
use fiatline_testkit::refined::vectors;
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;

fn fiatline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn close(what: &str, got: &serde_json::Value, want: f64) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
    let rel = ((got - want) / want).abs();
    assert!(rel <= 1e-9, "{what}: got {got}, want {want}");
}

fn date_of(day_start: i64) -> String {
    // The vectors' day starts are midnights; the synthetic day's is 2023-11-15.
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{day_start}"), "+%F"])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn refine_reprices_every_vector_to_one_part_in_a_billion() {
    for v in vectors() {
        let date = date_of(v.day_start);
        let central = format!("{:?}", v.central);
        let file = v.file.display().to_string();
        let j = json(&fiatline(&[
            "refine",
            "--points",
            &file,
            "--central",
            &central,
            "--date",
            &date,
            "--json",
        ]));
        let name = &v.name;
        close(&format!("{name} refined"), &j["refined"], v.price);
        close(
            &format!("{name} confidence"),
            &j["confidence"],
            v.confidence,
        );
        close(&format!("{name} R"), &j["range"], v.range);
        close(&format!("{name} edge"), &j["edge"], v.edge);
        close(&format!("{name} noise"), &j["noise"], v.noise);
        assert_eq!(j["grade"], v.grade.as_str(), "{name}");
        assert_eq!(j["hours"], v.hours, "{name}");
        assert_eq!(j["fallback"], v.fallback, "{name}");
        assert_eq!(j["date"], date.as_str());
        assert_eq!(j["price"].as_f64(), Some(v.central));
        if let Some(n) = v.points {
            assert_eq!(j["points"], n, "{name}");
        }
        // The path: one entry per hour, each at its hour's start.
        let path = j["path"].as_array().unwrap();
        assert_eq!(path.len(), v.hours);
        for entry in path {
            let t = entry[0].as_i64().unwrap();
            assert_eq!((t - v.day_start) % 3600, 0, "{entry}");
            assert!(entry[2].as_u64().unwrap() >= 30);
        }
        assert_eq!(j["open"], path[0][1]);
        assert_eq!(j["close"], path[path.len() - 1][1]);
    }
}

#[test]
fn refine_prints_a_line_and_rejects_bad_files_with_the_line() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "synthetic")
        .unwrap();
    let file = v.file.display().to_string();
    let out = fiatline(&[
        "refine",
        "--points",
        &file,
        "--central",
        "60000",
        "--date",
        "2023-11-15",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2023-11-15 price: $59,968 (hourly, grade A; central $60,000)\n"
    );

    let dir = fiatline_testkit::TempDirPath::new("refine");
    let cases: [(&str, &str, &str); 4] = [
        (
            "header.csv",
            "when,cost\n1,2\n",
            "names no time and price columns",
        ),
        (
            "number.csv",
            "time,price\n1700006400,1.5\n1700006401,abc\n",
            "line 3: \"abc\" is not a number",
        ),
        (
            "fields.csv",
            "height,timestamp,price\n1,2,3\n1,2\n",
            "line 3: 2 fields where the header has 3",
        ),
        ("empty.csv", "time,price\n", "no points"),
    ];
    for (name, text, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let p = path.display().to_string();
        let out = fiatline(&[
            "refine",
            "--points",
            &p,
            "--central",
            "60000",
            "--date",
            "2023-11-15",
        ]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{name}: {err}");
    }
    let out = fiatline(&[
        "refine",
        "--points",
        "/nonexistent",
        "--central",
        "1",
        "--date",
        "2023-11-15",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = fiatline(&[
        "refine",
        "--points",
        &file,
        "--central",
        "-5",
        "--date",
        "2023-11-15",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// The core's own refinement of `blocks`, hours from `start`.
fn core_refined(
    chain: &Chain,
    heights: std::ops::RangeInclusive<u32>,
    start: i64,
) -> (f64, f64, Vec<Hour>) {
    let mut slots = vec![Txid::default(); txid_slots_for(40_000)];
    let mut outputs = vec![RawOutput::default(); 80_000];
    let mut run = Run::new(&mut slots, &mut outputs);
    for h in heights {
        let b = chain.at(h).unwrap();
        run.add_block(&Block::parse(&b.bytes).unwrap(), h).unwrap();
    }
    let mut points = vec![PricePoint::default(); 200_000];
    let mut scratch = vec![0.0; 200_000];
    let e = run
        .estimate(Refinement::Reference, &mut points, &mut scratch)
        .unwrap();
    let points = &points[..e.points];
    let mut hourly = vec![HourPoint::default(); points.len()];
    let mut path = vec![Hour::default(); 48];
    let r = refine_hourly(points, e.price, start, &mut hourly, &mut path).unwrap();
    path.truncate(r.hours);
    (e.price, r.price, path)
}

/// 2024-01-02 00:30 UTC, a block every 4 hours: six on Jan 2, and eight
/// after them to bury it.
const MIDNIGHT: i64 = 1_704_153_600;

/// The day's chain behind a loopback node, and `fiatline price … ` against it.
struct Day {
    chain: Chain,
    rpc: RpcServer,
}

impl Day {
    fn new() -> Self {
        let chain = Chain::generate(
            840_000,
            14,
            u32::try_from(MIDNIGHT).unwrap() + 1800,
            4 * 3600,
        );
        let rpc = RpcServer::start(chain.clone(), "alice", "pw");
        Self { chain, rpc }
    }

    fn price(&self, extra: &[&str]) -> Output {
        let url = self.rpc.url();
        let mut args = vec!["price"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "--source",
            "rpc",
            "--rpc-url",
            &url,
            "--rpc-user",
            "alice",
            "--rpc-password",
            "pw",
        ]);
        fiatline(&args)
    }
}

#[test]
fn price_hourly_equals_the_cores_refinement_of_the_same_blocks() {
    let day = Day::new();
    let (chain, midnight) = (&day.chain, MIDNIGHT);
    let run = |extra: &[&str]| day.price(extra);

    let reference = json(&run(&["--date", "2024-01-02", "--json"]));
    let hourly = json(&run(&[
        "--date",
        "2024-01-02",
        "--json",
        "--refinement",
        "hourly",
    ]));
    let (central, refined, path) = core_refined(chain, 840_000..=840_005, midnight);
    // The reference's fields stay; its confidence moves to reference_confidence.
    for key in [
        "price",
        "rough",
        "points",
        "points_in_range",
        "blocks",
        "txs",
    ] {
        assert_eq!(hourly[key], reference[key], "{key}");
    }
    assert_eq!(hourly["price"].as_f64(), Some(central));
    assert_eq!(hourly["reference_confidence"], reference["confidence"]);
    assert_eq!(hourly["refined"].as_f64(), Some(refined));
    assert_eq!(hourly["hours"], path.len());
    assert_eq!(path.len(), 6);
    let got: Vec<(i64, f64, u64)> = hourly["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_i64().unwrap(),
                e[1].as_f64().unwrap(),
                e[2].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(i64, f64, u64)> = path
        .iter()
        .map(|h| (midnight + h.hour * 3600, h.price, h.count as u64))
        .collect();
    assert_eq!(got, want);
    // The blocks' hours: 00:30, 04:30, … counted from the date's midnight.
    assert_eq!(
        got.iter()
            .map(|g| (g.0 - midnight) / 3600)
            .collect::<Vec<_>>(),
        [0, 4, 8, 12, 16, 20]
    );
    assert!(!hourly["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "not_a_utc_day"));

    // Without a date, hours count from the first block's time.
    let heights = json(&run(&[
        "--heights",
        "840000..840005",
        "--json",
        "--refinement",
        "hourly",
    ]));
    let first = i64::from(chain.at(840_000).unwrap().time);
    let (_, refined, path) = core_refined(chain, 840_000..=840_005, first);
    assert_eq!(heights["refined"].as_f64(), Some(refined));
    assert_eq!(
        heights["path"][0][0].as_i64(),
        Some(first + path[0].hour * 3600)
    );
    assert!(heights["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "not_a_utc_day"));
}

#[test]
fn price_hourly_in_csv_text_and_charts() {
    let day = Day::new();
    let run = |extra: &[&str]| day.price(extra);
    // CSV gains the hourly columns; text names the refined price first.
    let out = run(&["--date", "2024-01-02", "--csv", "--refinement", "hourly"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .ends_with(",reference_confidence,refined,grade,open,high,low,close,hours"));
    assert!(lines.next().unwrap().ends_with(",6"), "{text}");
    let out = run(&["--date", "2024-01-02", "--refinement", "hourly"]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("2024-01-02 price: $") && line.contains("(hourly, grade "),
        "{line}"
    );

    // The chart draws the path: six hours, each at its block's place.
    let dir = fiatline_testkit::TempDirPath::new("refined-chart");
    let html = dir.join("day.html");
    let png = dir.join("day.png");
    for path in [&html, &png] {
        let p = path.display().to_string();
        let out = run(&[
            "--date",
            "2024-01-02",
            "--refinement",
            "hourly",
            "--chart",
            &p,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let page = std::fs::read_to_string(&html).unwrap();
    let path_line = page.lines().find(|l| l.starts_with("const path=")).unwrap();
    assert_eq!(path_line.matches("],[").count(), 5, "{path_line}");
    assert!(
        path_line.contains(&format!(
            "refined={:.2}",
            json(&run(&[
                "--date",
                "2024-01-02",
                "--json",
                "--refinement",
                "hourly"
            ]))["refined"]
                .as_f64()
                .unwrap()
        )),
        "{path_line}"
    );
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    // Kept for a look, as the page's screenshots are.
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::copy(&png, artifacts.join("hourly-chart.png")).unwrap();
}
