//! The live page in a real browser: Debian's `chromium`, driven by
//! `tools/browser/check-page.mjs` (playwright-core, no downloaded browser).
//! The price appears, points are drawn, the connection shows as live, a
//! hover shows the tooltip, and a screenshot is kept in
//! `target/artifacts/page.png`.
//!
//! CI (`CI` set) requires the browser tools (`.ci/run` installs them);
//! elsewhere the test says it skipped when they are missing.

use std::path::Path;
use std::process::Command;

use fiatline_testkit::process::Serve;

fn tools_present(root: &Path) -> Result<(), String> {
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("no /usr/bin/chromium (apt-get install chromium)".into());
    }
    if !root
        .join("tools/browser/node_modules/playwright-core")
        .exists()
    {
        return Err("no playwright-core (npm ci --prefix tools/browser)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no node".into());
    }
    Ok(())
}

#[test]
fn the_page_shows_the_price_and_draws_points() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Err(missing) = tools_present(&root) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: {missing}"
        );
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let replay = root.join("samples/replay-702861.jsonl.gz");
    let server = Serve::start(
        Path::new(env!("CARGO_BIN_EXE_fiatline")),
        &[
            "--source",
            "replay",
            "--speed",
            "600",
            "--replay",
            replay.to_str().unwrap(),
        ],
    );
    let artifacts = root.join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("page.png");
    let out = Command::new("node")
        .arg(root.join("tools/browser/check-page.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg(&shot)
        .arg("30000")
        .output()
        .unwrap();
    drop(server);

    let text = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value =
        serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("browser said: {text}"));
    assert_eq!(seen["ok"], true, "{seen}");
    let price = seen["price"].as_str().unwrap();
    assert!(
        price.starts_with('$') && price.contains(','),
        "price shown: {price:?}"
    );
    assert!(seen["drawn"].as_u64().unwrap() > 0, "{seen}");
    assert_eq!(seen["status"], "live");
    let tooltip = seen["tooltip"].as_str().unwrap_or_default();
    assert!(
        tooltip.contains('$') && tooltip.contains("UTC") && tooltip.contains("BTC"),
        "tooltip: {tooltip:?}"
    );
    assert_eq!(seen["errors"], serde_json::json!([]), "the page threw");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "no screenshot"
    );
    eprintln!("screenshot: {}", shot.display());
}
