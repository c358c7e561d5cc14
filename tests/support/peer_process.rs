//! Peer programs (sipp, kamailio) run as children of the interop tests: a port free on
//! loopback, waiting until the peer listens (read from /proc/net, so probing sends nothing),
//! its log for failure messages, and stopping it on Drop.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A port free on 127.0.0.1 for both UDP and TCP right now.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding a UDP probe");
        let port = udp.local_addr().expect("local address").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// Whether something listens on 127.0.0.1:`port` (UDP bound, or TCP in LISTEN), read from
/// /proc/net so that probing does not disturb the peer with a connection or a datagram.
pub fn listening(port: u16, tcp: bool) -> bool {
    let (file, state) = if tcp {
        ("/proc/net/tcp", Some("0A"))
    } else {
        ("/proc/net/udp", None)
    };
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.get(1) == Some(&local.as_str()) && state.is_none_or(|s| cols.get(3) == Some(&s))
        })
}

/// A peer program running in the foreground as our child.
pub struct Peer {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
    /// Signal the main process with SIGTERM first (Kamailio then stops its own children).
    term_first: bool,
    _dir: tempfile::TempDir,
}

impl Peer {
    pub fn spawn(
        name: &'static str,
        mut cmd: Command,
        dir: tempfile::TempDir,
        term_first: bool,
    ) -> Peer {
        let log = dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("creating the peer's log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("cloning the log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {name} ({e}); install it to run the interop tests")
            });
        Peer {
            name,
            child,
            log,
            term_first,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or(&text).to_string()
    }

    /// Wait until the peer listens on `port` (UDP and TCP), failing if it exits or takes > 10 s.
    pub fn ready(mut self, port: u16, udp: bool, tcp: bool) -> Peer {
        let deadline = Instant::now() + Duration::from_secs(10);
        while (udp && !listening(port, false)) || (tcp && !listening(port, true)) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} does not listen on port {port} after 10 s:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self
    }

    /// The peer's own exit status, waiting at most `limit`.
    pub fn finish(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the peer") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running after {limit:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if self.term_first {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
