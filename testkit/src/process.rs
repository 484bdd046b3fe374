//! `fiatline serve` as a child process on a free loopback port, stopped
//! when dropped.

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
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(bin)
            .arg("serve")
            .args(args)
            .args(["--listen", &addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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
