//! Damaged recordings: lines that are not UTF-8 or not JSON are skipped,
//! counted and logged, and the replay goes on; a truncated gzip ends the
//! replay as failed (said by `/health`), keeping what was read; `record`
//! writes out whole what it recorded, gzip trailer included.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use fiatline_testkit::process::{get, get_json, Serve};
use fiatline_testkit::TempDirPath;

fn bin() -> PathBuf {
    env!("CARGO_BIN_EXE_fiatline").into()
}

/// The bundled recording's lines.
fn lines() -> Vec<String> {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/replay-702861.jsonl.gz"
    ))
    .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_owned).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Waits until `/health` says `state`, and returns it.
fn wait_state(serve: &Serve, state: &str) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let h = get_json(&serve.addr, "/health").unwrap_or_default();
        if h["state"] == state {
            return h;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{h}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bad_lines_are_skipped_counted_and_logged() {
    let lines = lines();
    let mut body = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i == 100 {
            body.extend_from_slice(b"\xff\xfe not UTF-8 at all\n");
        }
        if i == 200 {
            body.extend_from_slice(b"{\"timestamp\": 1, \"raw_hex\": \"zz\"}\n");
        }
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
    }
    let dir = TempDirPath::new("replay-bad-lines");
    let path = dir.join("bad.jsonl.gz");
    std::fs::write(&path, gzip(&body)).unwrap();
    let serve = Serve::start(
        &bin(),
        &[
            "--source",
            "replay",
            "--replay",
            path.to_str().unwrap(),
            "--speed",
            "max",
        ],
    );
    let h = wait_state(&serve, "finished");
    assert_eq!(h["status"], "ok");
    // Every good line arrives (the counters follow the estimate's tick).
    let start = Instant::now();
    let p = loop {
        let p = get_json(&serve.addr, "/api/v1/price").unwrap();
        if p["stats"]["received"] == lines.len() {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{p}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(p["stats"]["skipped"], 2, "{p}");
    let metrics = get(&serve.addr, "/metrics").unwrap();
    assert!(metrics.contains("fiatline_skipped_total 2\n"), "{metrics}");
}

#[test]
fn a_truncated_gzip_fails_loudly_and_keeps_what_was_read() {
    let lines = lines();
    let whole = gzip(lines.join("\n").as_bytes());
    let dir = TempDirPath::new("replay-truncated");
    let path = dir.join("cut.jsonl.gz");
    std::fs::write(&path, &whole[..whole.len() * 2 / 3]).unwrap();
    let p = path.to_str().unwrap();

    let serve = Serve::start(
        &bin(),
        &["--source", "replay", "--replay", p, "--speed", "max"],
    );
    let h = wait_state(&serve, "failed");
    assert_eq!(h["status"], "failed");
    assert!(
        h["error"]
            .as_str()
            .unwrap()
            .contains("truncated or damaged"),
        "{h}"
    );
    let price = get_json(&serve.addr, "/api/v1/price").unwrap();
    let kept = price["stats"]["received"].as_u64().unwrap();
    assert!(
        kept > 1000 && usize::try_from(kept).unwrap() < lines.len(),
        "{price}"
    );
    drop(serve);

    // record: exit 3, the reason, and every line read written out whole.
    let out = dir.join("copy.jsonl.gz");
    let run = Command::new(bin())
        .args([
            "record", "--source", "replay", "--replay", p, "--speed", "max", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&run.stderr).contains("truncated or damaged"));
    let mut copied = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap())
        .read_to_string(&mut copied)
        .expect("a complete gzip stream");
    assert_eq!(copied.lines().count() as u64, kept);
}
