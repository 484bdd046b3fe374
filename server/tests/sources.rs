//! `fiatline price` against loopback servers that speak each source's real
//! protocol: the same blocks give the same answer through every source, and
//! failures give a clear error and the documented exit code.

use std::process::{Command, Output};

use fiatline_testkit::blk::write_blocks_dir;
use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;

/// 2024-01-01 20:00 UTC, one block an hour: 4 blocks on Jan 1, 8 on Jan 2.
const START: u32 = 1_704_139_200;

fn chain() -> Chain {
    Chain::generate(840_000, 12, START, 3600)
}

fn fiatline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

fn tempdir(name: &str) -> fiatline_testkit::TempDirPath {
    fiatline_testkit::TempDirPath::new(&format!("cli-src-{name}"))
}

/// The price of block files, as the reference point.
fn files_price(chain: &Chain, heights: std::ops::RangeInclusive<u32>) -> serde_json::Value {
    let dir = tempdir("files");
    let mut args = vec!["price".to_string(), "--json".into()];
    for h in heights {
        let path = dir.join(format!("{h}.bin"));
        std::fs::write(&path, &chain.at(h).unwrap().bytes).unwrap();
        args.push("--block-file".into());
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    json_lines(&fiatline(&args)).remove(0)
}

#[test]
fn recent_blocks_through_every_source_match_the_files() {
    let chain = chain();
    let expected = files_price(&chain, 840_003..=840_010);
    let rpc = RpcServer::start(chain.clone(), "alice", "pw");
    let esplora = EsploraServer::start(chain.clone());
    let electrum = ElectrumServer::start(chain.clone());
    let blocks = tempdir("blocks");
    write_blocks_dir(
        &blocks,
        &chain,
        &(0..12).collect::<Vec<_>>(),
        5,
        Some([3; 8]),
    );

    let (rpc_url, esplora_url, electrum_url) = (rpc.url(), esplora.url(), electrum.url());
    let blocks_dir = blocks.display().to_string();
    let runs: [&[&str]; 4] = [
        &[
            "--source",
            "rpc",
            "--rpc-url",
            &rpc_url,
            "--rpc-user",
            "alice",
            "--rpc-password",
            "pw",
        ],
        &["--source", "blk", "--blocks-dir", &blocks_dir],
        &["--source", "esplora", "--esplora-url", &esplora_url],
        &["--source", "electrum", "--electrum-url", &electrum_url],
    ];
    for source in runs {
        let mut args = vec!["price", "--recent", "8", "--json"];
        args.extend_from_slice(source);
        let v = json_lines(&fiatline(&args)).remove(0);
        for key in [
            "price",
            "rough",
            "confidence",
            "points",
            "outputs",
            "txs",
            "blocks",
        ] {
            assert_eq!(v[key], expected[key], "{} via {}", key, source[1]);
        }
        assert_eq!(
            (v["first_height"].as_u64(), v["last_height"].as_u64()),
            (Some(840_003), Some(840_010))
        );
    }
}

#[test]
fn dates_give_one_line_each_in_every_format() {
    // Six more blocks of Jan 2 bury the whole of Jan 1.
    let chain = Chain::generate(840_000, 18, START, 3600);
    let rpc = RpcServer::start(chain.clone(), "alice", "pw");
    let url = rpc.url();
    let base = [
        "--source",
        "rpc",
        "--rpc-url",
        &url,
        "--rpc-user",
        "alice",
        "--rpc-password",
        "pw",
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["price"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&base);
        fiatline(&args)
    };

    let v = json_lines(&run(&["--date", "2024-01-01", "--json"]));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["date"], "2024-01-01");
    assert_eq!(
        (v[0]["first_height"].as_u64(), v[0]["last_height"].as_u64()),
        (Some(840_000), Some(840_003))
    );
    assert_eq!(
        v[0]["price"],
        files_price(&chain, 840_000..=840_003)["price"]
    );

    let out = run(&["--date", "2024-01-01", "--csv"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("date,first_height,last_height,blocks"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("2024-01-01,840000,840003,4,"),
        "{text}"
    );

    let out = run(&["--date", "2024-01-01"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("2024-01-01 price: $"));

    // Jan 2 is not yet buried under 6 blocks: refused, with the reason, while Jan 1 still prints.
    let out = run(&["--date", "2024-01-01..2024-01-02", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2024-01-02: 2024-01-02 is too recent"),
        "{err}"
    );
    assert!(err.contains("1 of 2 runs failed"), "{err}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().count(), 1, "{printed}");
}

#[test]
fn charts_are_written_as_html_svg_and_png() {
    let chain = chain();
    let rpc = RpcServer::start(chain, "alice", "pw");
    let url = rpc.url();
    let dir = tempdir("charts");
    for ext in ["html", "svg", "png"] {
        let path = dir.join(format!("chart.{ext}"));
        let p = path.display().to_string();
        let out = fiatline(&[
            "price",
            "--heights",
            "840000..840003",
            "--chart",
            &p,
            "--source",
            "rpc",
            "--rpc-url",
            &url,
            "--rpc-user",
            "alice",
            "--rpc-password",
            "pw",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&path).unwrap();
        match ext {
            "html" => {
                let html = String::from_utf8(bytes).unwrap();
                assert!(
                    html.contains("<canvas") && html.contains("const data=[["),
                    "no points in the page"
                );
                assert!(!html.contains("http"), "the page must not load anything");
            }
            "svg" => assert!(String::from_utf8(bytes).unwrap().contains("<circle")),
            _ => assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n"),
        }
    }
    let out = fiatline(&[
        "price",
        "--heights",
        "840000..840001",
        "--chart",
        "x.gif",
        "--rpc-url",
        &url,
        "--rpc-user",
        "a",
        "--rpc-password",
        "pw",
    ]);
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn failures_say_what_is_wrong() {
    let rpc = RpcServer::start(chain(), "alice", "pw");
    let url = rpc.url();
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &[
                "--recent",
                "--rpc-url",
                &url,
                "--rpc-user",
                "alice",
                "--rpc-password",
                "nope",
            ],
            3,
            "refused the RPC credentials",
        ),
        (
            &[
                "--recent",
                "--rpc-url",
                "http://127.0.0.1:9",
                "--rpc-user",
                "a",
                "--rpc-password",
                "b",
                "--retries",
                "1",
            ],
            3,
            "cannot reach the node at http://127.0.0.1:9",
        ),
        (
            &["--date", "2024-13-01", "--rpc-url", &url],
            2,
            "is not a date",
        ),
        (
            &["--heights", "5..x", "--rpc-url", &url],
            2,
            "expected A..B",
        ),
        (
            &[
                "--heights",
                "840010..840020",
                "--rpc-url",
                &url,
                "--rpc-user",
                "alice",
                "--rpc-password",
                "pw",
            ],
            2,
            "the tip is 840011",
        ),
        (
            &["--recent", "--source", "esplora"],
            2,
            "needs --esplora-url",
        ),
    ];
    for (args, code, message) in cases {
        let mut all = vec!["price"];
        all.extend_from_slice(args);
        let out = fiatline(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[test]
fn a_malformed_block_from_the_node_is_named() {
    let mut chain = chain();
    let b = &mut chain.blocks[10];
    b.bytes.truncate(1000);
    let rpc = RpcServer::start(chain, "alice", "pw");
    let url = rpc.url();
    let out = fiatline(&[
        "price",
        "--recent",
        "8",
        "--rpc-url",
        &url,
        "--rpc-user",
        "alice",
        "--rpc-password",
        "pw",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("block 840010") && err.contains("is not a valid block"),
        "{err}"
    );
}

#[test]
fn a_date_through_esplora_and_electrum_matches_rpc() {
    let chain = Chain::generate(840_000, 18, START, 3600);
    let rpc = RpcServer::start(chain.clone(), "alice", "pw");
    let esplora = EsploraServer::start(chain.clone());
    let electrum = ElectrumServer::start(chain);
    let (r, e, l) = (rpc.url(), esplora.url(), electrum.url());
    let runs: [&[&str]; 3] = [
        &[
            "--rpc-url",
            &r,
            "--rpc-user",
            "alice",
            "--rpc-password",
            "pw",
        ],
        &["--source", "esplora", "--esplora-url", &e],
        &["--source", "electrum", "--electrum-url", &l],
    ];
    let got: Vec<serde_json::Value> = runs
        .iter()
        .map(|source| {
            let mut args = vec!["price", "--date", "2024-01-01", "--json"];
            args.extend_from_slice(source);
            json_lines(&fiatline(&args)).remove(0)
        })
        .collect();
    assert_eq!(got[0]["first_height"], 840_000);
    assert_eq!(got[0]["last_height"], 840_003);
    assert!(got.iter().all(|v| v == &got[0]), "{got:?}");
}
