//! `fiatline serve` on a LAN, tried as an attacker on loopback would: slow
//! and idle connections are closed, the connection cap holds under the
//! open-files limit, one address cannot take every connection, sockets
//! from other sites' pages and past the cap per address are refused, and
//! logs are made for a service manager and log shippers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fiatline_testkit::process::{get_json, Serve};

fn bin() -> PathBuf {
    env!("CARGO_BIN_EXE_fiatline").into()
}

fn replay() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/replay-702861.jsonl.gz"
    )
    .to_owned()
}

fn serve(extra: &[&str]) -> Serve {
    let r = replay();
    let mut args = vec!["--source", "replay", "--replay", &r, "--speed", "max"];
    args.extend_from_slice(extra);
    Serve::start(&bin(), &args)
}

/// Whether the server closed `s` (a read returns 0 or fails) within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {} // a 408 or similar: wait for the close
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// One keep-alive connection reading `/metrics`: it holds one place (having
/// asked, it is never made to give way), and unlike a fresh connection per
/// request it leaves none behind that the server has yet to see closed.
struct Watcher(BufReader<TcpStream>);

impl Watcher {
    fn connect(addr: &str) -> Self {
        Self(BufReader::new(TcpStream::connect(addr).unwrap()))
    }

    /// Waits until the watcher is the only connection holding a place:
    /// the one that found the server up has been seen closed.
    fn wait_alone(&mut self) {
        let start = Instant::now();
        while self.metric("connections_open") > 1.0 {
            assert!(start.elapsed() < Duration::from_secs(10), "a place held");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The value of `fiatline_NAME` in `/metrics` now.
    fn metric(&mut self, name: &str) -> f64 {
        self.0
            .get_mut()
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: fiatline\r\n\r\n")
            .unwrap();
        let mut length = None;
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((key, value)) = line.split_once(':') {
                if key.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>().unwrap());
                }
            }
        }
        let mut body = vec![0; length.expect("a Content-Length")];
        self.0.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        let prefix = format!("fiatline_{name} ");
        body.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in {body}"))
    }
}

#[test]
fn slow_and_idle_connections_are_closed_and_the_cap_holds() {
    let server = serve(&["--max-connections", "41", "--header-timeout", "1"]);
    let mut watcher = Watcher::connect(&server.addr);
    watcher.wait_alone();
    // 60 clients that send a header byte now and then (slowloris): the
    // first 40 hold the cap until their headers time out, the rest are
    // closed at once.
    let mut slow: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    for s in &mut slow {
        let _ = s.write_all(b"G");
    }
    std::thread::sleep(Duration::from_millis(300));
    for s in &mut slow {
        let _ = s.write_all(b"E");
    }
    // Every one of them is closed within the timeout (plus slack).
    let start = Instant::now();
    for s in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(5)),
            "a slow client stayed open"
        );
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    // The price answers again, and the refusals were counted.
    assert!(get_json(&server.addr, "/api/v1/price").is_some());
    let metrics = fiatline_testkit::process::get(&server.addr, "/metrics").unwrap();
    let refused: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fiatline_connections_refused_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(refused, 20.0);

    // A keep-alive connection that goes quiet after a request is closed too.
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    write!(idle, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)),
        "an idle keep-alive stayed open"
    );
}

/// A connection to `addr` from `from`, another loopback address: another
/// client, as another machine on the LAN would be.
async fn connect_from(from: &str, addr: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr.parse().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = serve(&["--max-connections-per-ip", "8", "--header-timeout", "30"]);
    // 127.0.0.2 opens 20 slow connections: 8 are kept (their headers have
    // 30 s), the 12 past its cap are closed at once.
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(connect_from("127.0.0.2", &server.addr).await);
    }
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 64];
        let gone = s.write_all(b"G").await.is_err()
            || matches!(
                tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await,
                Ok(Ok(0) | Err(_))
            );
        closed += usize::from(gone);
    }
    assert_eq!(closed, 12, "connections closed past the cap of 8");
    // Everyone else is still served while 127.0.0.2 holds its 8.
    let addr = server.addr.clone();
    let (price, metrics) = tokio::task::spawn_blocking(move || {
        (
            get_json(&addr, "/api/v1/price"),
            fiatline_testkit::process::get(&addr, "/metrics"),
        )
    })
    .await
    .unwrap();
    assert!(price.is_some_and(|p| p["price"].is_number()));
    let metrics = metrics.unwrap();
    assert!(
        metrics.contains("\nfiatline_connections_refused_total 12\n"),
        "{metrics}"
    );
    drop(held);
}

#[test]
fn when_every_place_is_taken_the_oldest_silent_connection_makes_way() {
    let server = serve(&[
        "--max-connections",
        "11",
        "--max-connections-per-ip",
        "100",
        "--header-timeout",
        "30",
    ]);
    let mut watcher = Watcher::connect(&server.addr);
    watcher.wait_alone();
    // Ten slow clients take every other place, each with a header byte sent.
    let mut slow: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    for s in &mut slow {
        s.write_all(b"G").unwrap();
    }
    // Younger than a second, they keep their places: a newcomer is refused.
    assert!(get_json(&server.addr, "/api/v1/price").is_none());
    std::thread::sleep(Duration::from_millis(1200));
    // Older now: a client with a whole request gets in, and exactly one
    // slow client (the oldest) was closed for it.
    let price = get_json(&server.addr, "/api/v1/price");
    assert!(price.is_some_and(|p| p["price"].is_number()));
    let closed = slow
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(200)).then_some(()))
        .count();
    assert_eq!(closed, 1);
    assert_eq!(watcher.metric("connections_evicted_total"), 1.0);
    assert_eq!(watcher.metric("connections_refused_total"), 1.0);
}

#[test]
fn the_connection_cap_is_lowered_under_the_open_files_limit() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let script = format!(
        "ulimit -n 200 && exec {} serve --source replay --replay {} --listen {addr}",
        bin().display(),
        replay()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let start = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(
        log.contains("--max-connections 1000 lowered to 136"),
        "{log}"
    );
    assert!(
        log.contains("--max-clients 900 exceeds the 136 connections allowed"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_from_other_sites_and_past_the_cap_per_address_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Error;
    let server = serve(&[
        "--max-clients-per-ip",
        "2",
        "--allowed-origin",
        "https://dash.lan",
    ]);
    let url = format!("ws://{}/ws", server.addr);
    let with_origin = |origin: &str| {
        let mut req = url.as_str().into_client_request().unwrap();
        req.headers_mut().insert("Origin", origin.parse().unwrap());
        req
    };
    let status = |r: Result<_, Error>| match r {
        Err(Error::Http(resp)) => Some(resp.status().as_u16()),
        Err(e) => panic!("{e}"),
        Ok(()) => None,
    };
    // Another site's page: 403.
    let evil = tokio_tungstenite::connect_async(with_origin("https://evil.example")).await;
    assert_eq!(status(evil.map(|_| ())), Some(403));
    // The server's own page, and the listed one, get in.
    let own = format!("http://{}", server.addr);
    let a = tokio_tungstenite::connect_async(with_origin(&own))
        .await
        .unwrap();
    let b = tokio_tungstenite::connect_async(with_origin("https://dash.lan"))
        .await
        .unwrap();
    // A third socket from the same address: 429.
    let c = tokio_tungstenite::connect_async(url.as_str()).await;
    assert_eq!(status(c.map(|_| ())), Some(429));
    drop((a, b));
    // Their places come back once they close.
    let start = Instant::now();
    loop {
        if tokio_tungstenite::connect_async(url.as_str()).await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "places never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn credentials_are_never_shown() {
    // --help with a password in the environment.
    let help = Command::new(bin())
        .args(["serve", "--help"])
        .env("FIATLINE_RPC_PASSWORD", "s3cret-rpc")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--rpc-password") && !text.contains("s3cret-rpc"),
        "{text}"
    );

    // An exchange URL with credentials: not in the API, the log, a message.
    let prices = fiatline_testkit::esplora::EsploraServer::start(
        fiatline_testkit::Chain::generate_light(1, vec![1], 1),
    );
    let url = prices.url().replace("http://", "http://alice:s3cret-x@");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = fiatline_testkit::TempDirPath::new("redact-log");
    let log_file = std::fs::File::create(log.join("err.log")).unwrap();
    let r = replay();
    let mut child = Command::new(bin())
        .args([
            "serve", "--source", "replay", "--replay", &r, "--speed", "max", "--listen", &addr,
        ])
        .args(["--exchange-url", &url, "--exchange-interval", "1"])
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let compare = loop {
        let c = get_json(&addr, "/api/v1/compare").unwrap_or_default();
        if c["fetches"].as_u64().is_some_and(|n| n >= 1) {
            break c;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{c}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let text = compare.to_string();
    assert!(
        text.contains("***@127.0.0.1") && !text.contains("s3cret"),
        "{text}"
    );
    let logged = std::fs::read_to_string(log.join("err.log")).unwrap();
    assert!(
        logged.contains("***@") && !logged.contains("s3cret"),
        "{logged}"
    );
}

/// Waits (up to 20 s) until the replay has been played to its end.
fn wait_finished(addr: &str) {
    let start = Instant::now();
    loop {
        let h = get_json(addr, "/health").unwrap_or_default();
        if h["state"] == "finished" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "replay never finished: {h}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn logs_are_json_lines_for_shippers_and_plain_text_off_a_terminal() {
    let dir = fiatline_testkit::tempdir("logs");
    let json_log = dir.path().join("json.log");
    let text_log = dir.path().join("text.log");
    for (path, format) in [(&json_log, "json"), (&text_log, "text")] {
        let file = std::fs::File::create(path).unwrap();
        let r = replay();
        let args = [
            "--source",
            "replay",
            "--replay",
            &r,
            "--speed",
            "max",
            "--log-format",
            format,
        ];
        let server = Serve::start_logging(&bin(), &args, file);
        wait_finished(&server.addr);
        drop(server);
    }

    let json = std::fs::read_to_string(&json_log).unwrap();
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 2, "{json}");
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
        assert!(l["fields"]["message"].is_string(), "{l}");
    }
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("fiatline: serving http://"))),
        "{json}"
    );

    // Standard error is a file here, not a terminal: no colour codes.
    let text = std::fs::read_to_string(&text_log).unwrap();
    assert!(text.contains("fiatline: serving http://"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file: {text:?}"
    );
    assert!(!json.contains('\u{1b}'), "escape codes in JSON logs");
}

#[test]
fn a_service_that_cannot_start_says_why_in_its_json_log() {
    let out = Command::new(bin())
        .args(["--log-format", "json", "serve", "--source", "replay"])
        .args(["--replay", "/nonexistent/recording.jsonl"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let last: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR", "{err}");
    assert_eq!(last["fields"]["exit_code"], 2, "{err}");
    assert!(
        last["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/recording.jsonl"),
        "{err}"
    );
}
