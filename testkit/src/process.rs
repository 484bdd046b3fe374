//! `fiatline serve` as a child process on a free loopback port, stopped
//! when dropped, and the plain HTTP GET tests ask it with.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `fiatline serve`.
#[derive(Debug)]
pub struct Serve {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
}

impl Serve {
    /// Starts `bin serve ARGS --listen 127.0.0.1:<free port>` and waits (up
    /// to 10 s) until it accepts connections.
    pub fn start(bin: &Path, args: &[&str]) -> Self {
        Self::start_logging(bin, args, Stdio::null())
    }

    /// As [`Serve::start`], with the server's standard error (its logs)
    /// going to `stderr`.
    pub fn start_logging(bin: &Path, args: &[&str], stderr: impl Into<Stdio>) -> Self {
        Self::spawn(Command::new(bin), args, stderr.into())
    }

    /// As [`Serve::start`], under an open-files limit (`ulimit -n`), as a
    /// service manager sets one (systemd's default is 1,024).
    pub fn start_with_open_files(bin: &Path, args: &[&str], open_files: u32) -> Self {
        let mut sh = Command::new("sh");
        // "$0" "$@" pass the binary and its arguments through unquoted.
        sh.args([
            "-c",
            &format!("ulimit -n {open_files} && exec \"$0\" \"$@\""),
        ])
        .arg(bin);
        Self::spawn(sh, args, Stdio::null())
    }

    fn spawn(mut command: Command, args: &[&str], stderr: Stdio) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = command
            .arg("serve")
            .args(args)
            .args(["--listen", &addr])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("fiatline starts");
        let mut serve = Self { child, addr };
        let start = Instant::now();
        while TcpStream::connect(&serve.addr).is_err() {
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("fiatline serve exited: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "fiatline serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP GET to `addr`: the body, or `None` if nothing answers
/// (within 10 s).
pub fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// [`get`], read as JSON.
pub fn get_json(addr: &str, path: &str) -> Option<serde_json::Value> {
    serde_json::from_str(&get(addr, path)?).ok()
}

/// The wall clock in Unix seconds.
pub fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}
