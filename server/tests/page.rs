//! The live page in a real headless Chromium (Debian's `chromium`): the
//! price appears, points are drawn, the connection shows as live, and a
//! screenshot is kept in `target/artifacts/page.png`.
//!
//! CI (`CI` set) requires Chromium; elsewhere the test says it skipped.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

/// Runs headless Chromium on `url` with `extra` flags; returns stdout.
fn headless(browser: &Path, url: &str, extra: &[&str]) -> String {
    let profile = std::env::temp_dir().join(format!(
        "fiatline-chromium-{}-{}",
        std::process::id(),
        extra.len()
    ));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,800",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the element with this id in a dumped DOM.
fn text_of<'d>(dom: &'d str, id: &str) -> &'d str {
    let open = format!("id=\"{id}\">");
    dom.split_once(&open)
        .and_then(|(_, rest)| rest.split_once('<'))
        .map_or("", |(text, _)| text)
}

#[test]
fn the_page_shows_the_price_and_draws_points() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium (apt-get install chromium)"
        );
        eprintln!(
            "SKIPPED: no chromium on this machine (apt-get install chromium to run this test)"
        );
        return;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let replay = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/replay-702861.jsonl.gz");
    let mut server = Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args([
            "serve", "--source", "replay", "--speed", "600", "--listen", &addr,
        ])
        .arg("--replay")
        .arg(&replay)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let some of the recording play.
    std::thread::sleep(Duration::from_secs(3));
    let url = format!("http://{addr}/");

    let dom = headless(&browser, &url, &["--dump-dom"]);
    let price = text_of(&dom, "price");
    let drawn: usize = dom
        .split_once("data-points=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0);
    let status = text_of(&dom, "status");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("page.png");
    headless(
        &browser,
        &url,
        &[&format!("--screenshot={}", shot.display())],
    );
    let _ = server.kill();
    let _ = server.wait();

    assert!(
        price.starts_with('$') && price.contains(','),
        "price shown: {price:?}"
    );
    assert!(drawn > 50, "{drawn} points drawn");
    assert_eq!(status, "live");
    let mut png = Vec::new();
    std::fs::File::open(&shot)
        .unwrap()
        .read_to_end(&mut png)
        .unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "no screenshot"
    );
    eprintln!("screenshot: {}", shot.display());
}
