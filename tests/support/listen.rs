//! `sipkit listen` as a child process for the tests: started on loopback port 0, its
//! `listening` event read for the real ports, its JSON Lines collected by a reader thread so
//! every wait is bounded. The child is killed if a test ends without waiting for it.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `sipkit listen`.
#[derive(Debug)]
pub struct Listen {
    child: Child,
    lines: Receiver<String>,
    /// Every event read so far.
    pub events: Vec<Value>,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
}

impl Listen {
    /// `sipkit listen --format json ARGS`; with no --udp/--tcp in `args`, UDP and TCP on
    /// 127.0.0.1 port 0 are added.
    pub fn start(args: &[&str]) -> Listen {
        let mut cmd = super::std_sipkit();
        cmd.args(["listen", "--format", "json"]);
        if !args
            .iter()
            .any(|a| a.starts_with("--udp") || a.starts_with("--tcp"))
        {
            cmd.args(["--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0"]);
        }
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("starting sipkit listen");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut l = Listen {
            child,
            lines,
            events: Vec::new(),
            udp: None,
            tcp: None,
        };
        let first = l.next_event(Duration::from_secs(10)).unwrap_or_else(|| {
            let out = l.child.wait_with_output_now();
            panic!("no listening event; stderr: {out}")
        });
        assert_eq!(first["event"], "listening", "{first}");
        for a in first["addresses"].as_array().expect("addresses") {
            let addr: SocketAddr = a["address"]
                .as_str()
                .expect("address")
                .parse()
                .expect("socket address");
            match a["transport"].as_str() {
                Some("udp") if l.udp.is_none() => l.udp = Some(addr),
                Some("tcp") if l.tcp.is_none() => l.tcp = Some(addr),
                _ => {}
            }
        }
        l
    }

    /// `127.0.0.1:PORT` of the UDP socket, as a `sipkit send` target.
    pub fn udp_target(&self) -> String {
        self.udp.expect("listening on UDP").to_string()
    }

    /// `tcp:127.0.0.1:PORT`.
    pub fn tcp_target(&self) -> String {
        format!("tcp:{}", self.tcp.expect("listening on TCP"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Value> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
                self.events.push(v.clone());
                Some(v)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Wait for the child to exit (at most `timeout`), collecting the remaining events.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                while self.next_event(Duration::from_millis(500)).is_some() {}
                return status;
            }
            assert!(
                Instant::now() < end,
                "sipkit listen did not exit in {timeout:?}; events: {:?}",
                self.events
            );
            let _ = self.next_event(Duration::from_millis(50));
        }
    }

    /// Send SIGINT (Ctrl-C) or SIGTERM with the `kill` program.
    pub fn signal(&self, sig: &str) {
        let st = std::process::Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(st.success());
    }

    /// Events of one kind seen so far.
    pub fn of(&self, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == event).collect()
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

trait Drain {
    fn wait_with_output_now(&mut self) -> String;
}

impl Drain for Child {
    fn wait_with_output_now(&mut self) -> String {
        let _ = self.kill();
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        err
    }
}

/// A UDP socket on loopback that speaks raw SIP to the listener.
#[derive(Debug)]
pub struct RawUdp {
    pub socket: UdpSocket,
    pub to: SocketAddr,
}

impl RawUdp {
    pub fn new(to: SocketAddr) -> RawUdp {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        RawUdp { socket, to }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("local").port()
    }

    pub fn send(&self, msg: &str) {
        self.socket.send_to(msg.as_bytes(), self.to).expect("send");
    }

    /// The next datagram as text (panics after 5 s).
    pub fn recv(&self) -> String {
        let mut buf = vec![0u8; 65536];
        let (n, _) = self
            .socket
            .recv_from(&mut buf)
            .expect("a response within 5s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// The next datagram within `d`, if any.
    pub fn recv_within(&self, d: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(d)).expect("timeout");
        let mut buf = vec![0u8; 65536];
        let r = self.socket.recv_from(&mut buf).ok();
        self.socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        r.map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// A request from this socket: `to_tag` for in-dialog requests, `extra` header lines
    /// (each ending in CRLF), and a body.
    #[allow(clippy::too_many_arguments)] // the fields of a request line and its headers
    pub fn request(
        &self,
        method: &str,
        branch: &str,
        call_id: &str,
        cseq: u32,
        to_tag: Option<&str>,
        extra: &str,
        body: &str,
    ) -> String {
        let tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        format!(
            "{method} sip:bob@{to} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\n\
             From: <sip:alice@127.0.0.1>;tag=a1\r\n\
             To: <sip:bob@{to}>{tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Max-Forwards: 70\r\n\
             Contact: <sip:alice@127.0.0.1:{port}>\r\n\
             {extra}Content-Length: {len}\r\n\r\n{body}",
            to = self.to,
            port = self.port(),
            len = body.len()
        )
    }
}

/// The status code of a response text.
pub fn status(resp: &str) -> u16 {
    resp.get(8..11)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {resp}"))
}

/// A header value of a response text (first occurrence, case-sensitive name).
pub fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    resp.split("\r\n")
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
}

/// The To tag of a response text.
pub fn to_tag(resp: &str) -> String {
    header(resp, "To")
        .and_then(|t| t.split(";tag=").nth(1))
        .expect("a To tag")
        .to_owned()
}

/// listen with an MSRP endpoint on loopback, stopping after `count` requests (ACKs are not
/// counted) or 60 s.
pub fn msrp_listen(count: usize, extra: &[&str]) -> Listen {
    let count = count.to_string();
    let mut args = vec![
        "--udp",
        "127.0.0.1:0",
        "--msrp",
        "127.0.0.1:0",
        "--count",
        &count,
        "--timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    Listen::start(&args)
}
