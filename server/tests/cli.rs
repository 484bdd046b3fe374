//! `fiatline price` as a user runs it: the bundled sample, hex input, and
//! files that are not blocks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fiatline_testkit::TempDirPath;

fn fiatline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/block-702861.bin")
}

/// A file in a folder of its own, removed with the returned guard.
fn temp_file(name: &str, bytes: &[u8]) -> (TempDirPath, PathBuf) {
    let dir = TempDirPath::new("cli");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

#[test]
fn the_bundled_sample_gives_the_reference_price() {
    let out = fiatline(&[
        "price",
        "--block-file",
        sample().to_str().unwrap(),
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["rough"], 42880);
    assert!((v["price"].as_f64().unwrap() - 42951.636457).abs() < 1e-6);
    assert_eq!(v["blocks"], 1);
    assert_eq!(v["txs"], 2500);
    assert_eq!(v["outputs"], 3315);
    assert_eq!(v["first_height"], 702_861);
    let c = v["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c));
    // bindings/python/bench/pure_python.py, the method written again in
    // plain Python from docs/algorithm.md, finds 2,965 price points (and
    // 3,315 outputs) on this block; bench.py checks the two agree.
    assert_eq!(v["points"], 2965);
}

#[test]
fn the_text_line_has_thousands_separators() {
    let out = fiatline(&["price", "--block-file", sample().to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "price: $42,951\n");
}

#[test]
fn hex_as_getblock_prints_it_gives_the_same_price() {
    let bytes = std::fs::read(sample()).unwrap();
    let hex = hex::encode(&bytes);
    let (_dir, path) = temp_file("block.hex", format!("{hex}\n").as_bytes());
    let v = json(&fiatline(&[
        "price",
        "--block-file",
        path.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["rough"], 42880);
}

#[test]
fn bad_files_exit_2_with_the_file_named() {
    let bytes = std::fs::read(sample()).unwrap();
    let (_d1, truncated) = temp_file("truncated.bin", &bytes[..bytes.len() / 2]);
    let (_d2, garbage) = temp_file("garbage.bin", &[0xff; 300]);
    let (_d3, odd_hex) = temp_file("odd.hex", b"abc");
    let missing = PathBuf::from("/no/such/block.bin");
    for path in [&truncated, &garbage, &odd_hex, &missing] {
        let p = path.to_str().unwrap();
        // The sample first: a bad file later in the list still fails the run.
        let out = fiatline(&["price", "--block-file", sample().to_str().unwrap(), p]);
        assert_eq!(out.status.code(), Some(2), "{p}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") && err.contains(p), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_block_with_no_usable_outputs_is_an_error_not_a_panic() {
    // A header and one coinbase-like transaction: nothing to price.
    let mut block = vec![0u8; 80];
    block.push(1);
    block.extend([1, 0, 0, 0, 1]);
    block.extend([0; 32]);
    block.extend([0xff; 4]);
    block.extend([0, 0xff, 0xff, 0xff, 0xff, 1]);
    block.extend(50_0000_0000u64.to_le_bytes());
    block.extend([0, 0, 0, 0, 0]);
    let (_dir, path) = temp_file("coinbase-only.bin", &block);
    let out = fiatline(&["price", "--block-file", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no price"));
}

#[test]
fn live_sources_and_the_exchange_say_which_flag_is_missing() {
    let cases: [(&[&str], &str); 4] = [
        (&["serve", "--source", "esplora"], "--esplora-url"),
        (&["serve", "--source", "electrum"], "--electrum URL"),
        (
            &[
                "serve",
                "--source",
                "replay",
                "--replay",
                "x",
                "--exchange-url",
                "http://127.0.0.1:9",
                "--exchange-threshold=-1",
            ],
            "--exchange-threshold",
        ),
        (
            &["price", "--date", "2024-01-01", "--compare"],
            "--exchange-url",
        ),
    ];
    for (args, says) in cases {
        let out = fiatline(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn work_is_bounded_and_bad_input_is_refused_before_any() {
    // A range past the chain: refused at once, not spelled out day by day.
    let out = fiatline(&["price", "--date", "0001-01-01..9999-12-31"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("before 2009-01-03, the first day with blocks"),
        "{err}"
    );
    let out = fiatline(&["price", "--date", "2024-01-01..9999-12-31"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no blocks yet"));

    // A node that is down: one error, not one per day of the range.
    let dead = "http://127.0.0.1:1";
    let out = fiatline(&[
        "price",
        "--date",
        "2024-01-01..2024-03-01",
        "--rpc-url",
        dead,
        "--rpc-user",
        "u",
        "--rpc-password",
        "p",
        "--retries",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    // Two dates run at once (--jobs 2): at most two tried.
    assert!(err.matches("cannot reach").count() <= 2, "{err}");
    assert!(
        err.contains("run(s) not tried: the source had failed"),
        "{err}"
    );
    assert!(err.contains("61 of 61 runs failed"), "{err}");

    // A chart name that cannot be written: refused before the node is asked.
    let out = fiatline(&["price", "--recent", "--chart", "out.txt", "--rpc-url", dead]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown chart format"));
    let out = fiatline(&[
        "price",
        "--recent",
        "--chart",
        "/no/such/folder/c.png",
        "--rpc-url",
        dead,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no folder /no/such/folder"));

    // Missing files exit 2 under every subcommand.
    let missing = "/no/such/file.jsonl.gz";
    for args in [
        &["price", "--block-file", missing][..],
        &[
            "refine",
            "--points",
            missing,
            "--central",
            "1",
            "--date",
            "2024-01-01",
        ],
        &["serve", "--source", "replay", "--replay", missing],
        &[
            "record",
            "--source",
            "replay",
            "--replay",
            missing,
            "--out",
            "/tmp/x.jsonl",
        ],
        &[
            "record",
            "--source",
            "replay",
            "--replay",
            "samples/replay-702861.jsonl.gz",
            "--out",
            "/no/such/folder/r.jsonl",
        ],
    ] {
        let out = fiatline(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{err}"
        );
    }
}

#[test]
fn serve_listens_on_a_host_name() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let replay = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/replay-702861.jsonl.gz");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args([
            "serve",
            "--source",
            "replay",
            "--replay",
            replay.to_str().unwrap(),
        ])
        .args(["--listen", &format!("localhost:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let body = loop {
        if let Some(b) = fiatline_testkit::process::get(&format!("127.0.0.1:{port}"), "/health") {
            break b;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.contains("\"source\":\"replay\""), "{body}");
}

/// Each option of `--help` for `command`: its flag and its text.
fn options(command: &str) -> Vec<(String, String)> {
    let out = fiatline(&[command, "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    let mut options: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("--") || trimmed.starts_with("-h,") || trimmed.starts_with("-V,") {
            let flag = trimmed
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
                .unwrap_or(trimmed)
                .to_owned();
            options.push((flag, String::new()));
        } else if let Some((_, text)) = options.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    options
}

#[test]
fn every_setting_of_serve_and_record_has_its_variable_and_the_readme_lists_each() {
    let readme = include_str!("../../README.md");
    for command in ["serve", "record", "price", "backfill", "history"] {
        let options = options(command);
        assert!(options.len() > 3, "{command}: {options:?}");
        for (flag, text) in options {
            let env = text
                .split("[env: ")
                .nth(1)
                .and_then(|rest| rest.split(['=', ']']).next());
            match env {
                Some(env) => assert!(
                    readme.contains(&format!("`{env}`")),
                    "{command} {flag}: {env} not in the README"
                ),
                None => assert!(
                    !matches!(command, "serve" | "record") || flag == "--help",
                    "{command} {flag} has no environment variable"
                ),
            }
        }
    }
}

#[test]
fn history_refuses_a_date_that_does_not_parse() {
    let dir = TempDirPath::new("history-bad-date");
    // An empty file is an empty SQLite database.
    let db = dir.join("empty.sqlite");
    std::fs::write(&db, b"").unwrap();
    for flag in ["--from", "--to"] {
        let out = fiatline(&["history", "--db", db.to_str().unwrap(), flag, "2024-13-01"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("2024-13-01"), "{said}");
    }
}
