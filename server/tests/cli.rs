//! `fiatline price` as a user runs it: the bundled sample, hex input, and
//! files that are not blocks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fiatline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/block-702861.bin")
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fiatline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
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
    assert!(v["points"].as_u64().unwrap() > 0);
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
    let path = temp_file("block.hex", format!("{hex}\n").as_bytes());
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
    let truncated = temp_file("truncated.bin", &bytes[..bytes.len() / 2]);
    let garbage = temp_file("garbage.bin", &[0xff; 300]);
    let odd_hex = temp_file("odd.hex", b"abc");
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
    let path = temp_file("coinbase-only.bin", &block);
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
