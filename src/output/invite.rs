//! How `sipkit invite` looks. People get `send`'s lines for each SIP message (the same printer
//! draws them), then the negotiated media and a closing line with the setup times; programs
//! get JSON Lines as things happen (`resolved`, `message`, `auth`, `failover`, `answer`,
//! `in-dialog`, `refreshed`, `msrp-connected`, `chunk-acked`, `delivery-report`, `transfer`,
//! `summary`), so a script can follow a long call without waiting for its end. A transfer's
//! progress bar goes to standard error, only on a terminal.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::send::{AuthRecord, MessageRecord, SendEvent, SendPrinter};
use crate::cli::Format;
use crate::transport::{Destination, Resolution};

/// The media the callee accepted, read from the SDP answer of the 2xx.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct AnswerRecord {
    /// `message` (MSRP) or `audio`.
    pub(crate) media: String,
    /// The port of the answered media line (0: the stream was refused).
    pub(crate) port: u16,
    /// The connection address, when the answer has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) address: Option<String>,
    /// MSRP: the `a=path` URIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) path: Vec<String>,
    /// MSRP: `a=accept-types`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) accept_types: Vec<String>,
    /// MSRP: `a=max-size` (RFC 4975 §8.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_size: Option<u64>,
    /// MSRP: `a=setup` (RFC 6135).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) setup: Option<String>,
    /// Audio: the codecs answered (rtpmap names, or static payload types).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) codecs: Vec<String>,
}

/// The end of a run: the `summary` event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SummaryRecord {
    pub(crate) target: String,
    /// `answered`, `rejected`, `cancelled`, `interrupted`, `timeout`, `network-error`.
    pub(crate) outcome: &'static str,
    /// The final status of the INVITE, when one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// Milliseconds from the first INVITE sent to the first 180/183.
    pub(crate) ringing_ms: Option<f64>,
    /// Milliseconds from the first INVITE sent to the 2xx.
    pub(crate) answer_ms: Option<f64>,
    /// Milliseconds from the ACK to the BYE (how long the call was held).
    pub(crate) held_ms: Option<f64>,
    /// The status of the BYE, when one was sent and answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bye_status: Option<u16>,
    /// Why the run failed, the same line as on standard error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// Why locating the server failed: `timeout`, `unreachable`, `servfail`, `nxdomain`,
    /// `no-records`, `config` (issue 15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dns_error: Option<&'static str>,
    pub(crate) exit: u8,
    pub(crate) elapsed_ms: f64,
}

/// The MSRP connection of the call: the `msrp-connected` event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MsrpConnectedRecord {
    /// The peer's address.
    pub(crate) peer: String,
    /// `active` (we connected, RFC 6135) or `passive` (the callee connected to us).
    pub(crate) role: &'static str,
    /// Over TLS (msrps).
    pub(crate) tls: bool,
    /// Our MSRP URI (the From-Path).
    pub(crate) local_uri: String,
    /// The content is wrapped in message/cpim.
    pub(crate) cpim: bool,
}

/// Our MSRP relay accepted the AUTH (RFC 4976 §5.1): the `relay` event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RelayRecord {
    /// The relay URI given with --relay.
    pub(crate) relay: String,
    /// Its address.
    pub(crate) peer: String,
    /// The Use-Path of its 200, leftmost first.
    pub(crate) use_path: Vec<String>,
    /// Seconds the Use-Path stays valid, when the relay said.
    pub(crate) expires: Option<u64>,
}

/// The end of an MSRP send: the `transfer` event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TransferRecord {
    pub(crate) message_id: String,
    /// Body bytes sent (with a CPIM envelope, when wrapped).
    pub(crate) bytes: u64,
    pub(crate) chunks: u64,
    pub(crate) seconds: f64,
    /// Megabytes (10^6 bytes) per second.
    pub(crate) throughput_mbps: f64,
    /// A 200 came for every chunk and, when asked for, the Success-Report.
    pub(crate) confirmed: bool,
}

/// A request of the callee inside the call and our answer (issue 15): the `in-dialog` event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InDialogRecord {
    /// INVITE (a re-INVITE), UPDATE, INFO, OPTIONS, NOTIFY, MESSAGE, BYE, or any other.
    pub(crate) method: String,
    /// Our answer: 200, or 501 for a method we do not handle, 422, 481, 491, 500.
    pub(crate) status: u16,
    pub(crate) reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    pub(crate) body_bytes: usize,
    /// The body when it is UTF-8 text of at most 1024 bytes (an INFO's DTMF, a MESSAGE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
}

/// Something to show as it happens.
#[derive(Debug)]
pub(crate) enum InviteEvent<'a> {
    Resolved(&'a Resolution),
    Message(&'a MessageRecord),
    Auth(&'a AuthRecord),
    Failover {
        from: &'a Destination,
        reason: &'a str,
    },
    Answer(&'a AnswerRecord),
    Relay(&'a RelayRecord),
    MsrpConnected(&'a MsrpConnectedRecord),
    /// A chunk was answered 200: bytes acknowledged so far, and the total once known.
    ChunkAcked {
        bytes: u64,
        total: Option<u64>,
    },
    /// The Success-Report came, covering `bytes`.
    DeliveryReport {
        confirmed: bool,
        bytes: u64,
    },
    Transfer(&'a TransferRecord),
    InDialog(&'a InDialogRecord),
    /// We refreshed the session (RFC 4028 §10): the method used and the status it got.
    Refreshed {
        method: &'a str,
        status: u16,
    },
    Summary(&'a SummaryRecord),
}

#[derive(Serialize)]
struct RefreshLine<'a> {
    method: &'a str,
    status: u16,
}

#[derive(Serialize)]
struct ChunkLine {
    bytes: u64,
    total: Option<u64>,
}

#[derive(Serialize)]
struct ReportLine {
    confirmed: bool,
    bytes: u64,
}

/// One JSON Lines object: the event name, then the record's fields.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    event: &'a str,
    #[serde(flatten)]
    record: T,
}

#[derive(Serialize)]
struct FailoverLine<'a> {
    from: &'a Destination,
    reason: &'a str,
}

/// Renders `invite` output.
#[derive(Debug)]
pub(crate) struct InvitePrinter<W: Write> {
    json: bool,
    quiet: bool,
    verbose: bool,
    /// The last challenge answered, to say in the summary why a final 401/407 ended the call.
    last_auth: Option<AuthRecord>,
    out: W,
}

impl<W: Write> InvitePrinter<W> {
    pub(crate) fn new(format: Format, quiet: bool, verbose: bool, out: W) -> Self {
        InvitePrinter {
            json: format == Format::Json,
            quiet,
            verbose,
            last_auth: None,
            out,
        }
    }

    pub(crate) fn emit(&mut self, event: &InviteEvent<'_>) -> io::Result<()> {
        if let InviteEvent::Auth(a) = event {
            self.last_auth = Some((*a).clone());
        }
        if self.json {
            return self.json_line(event);
        }
        if self.quiet {
            return Ok(());
        }
        let mut send = SendPrinter::new(Format::Human, false, self.verbose, &mut self.out);
        match event {
            InviteEvent::Resolved(r) => send.emit(&SendEvent::Resolved(r)),
            InviteEvent::Message(m) => send.emit(&SendEvent::Message(m)),
            InviteEvent::Auth(a) => send.emit(&SendEvent::Auth(a)),
            InviteEvent::Failover { from, reason } => {
                send.emit(&SendEvent::Failover { from, reason })
            }
            InviteEvent::Answer(a) => {
                let dim = Style::new().dimmed();
                let at = a.address.as_deref().unwrap_or("?");
                let detail = if a.media == "message" {
                    format!(
                        "path {}, accepts {}{}",
                        a.path.join(" "),
                        a.accept_types.join(" "),
                        a.max_size
                            .map(|m| format!(", max-size {m}"))
                            .unwrap_or_default()
                    )
                } else {
                    format!("{} at {at}:{}", a.codecs.join(" "), a.port)
                };
                writeln!(self.out, "  {dim}answer: {} {detail}{dim:#}", a.media)
            }
            InviteEvent::Relay(r) => {
                let dim = Style::new().dimmed();
                let expires = r
                    .expires
                    .map(|e| format!(", valid {e}s"))
                    .unwrap_or_default();
                writeln!(
                    self.out,
                    "  {dim}relay {} ({}) authenticated us: Use-Path {}{expires}{dim:#}",
                    r.relay,
                    r.peer,
                    r.use_path.join(" ")
                )
            }
            InviteEvent::MsrpConnected(c) => {
                let dim = Style::new().dimmed();
                let how = if c.role == "active" {
                    "connected to"
                } else {
                    "connection from"
                };
                let scheme = if c.tls { "msrps" } else { "msrp" };
                let cpim = if c.cpim {
                    ", wrapped in message/cpim"
                } else {
                    ""
                };
                writeln!(self.out, "  {dim}{scheme} {how} {}{cpim}{dim:#}", c.peer)
            }
            // The progress bar on standard error shows these.
            InviteEvent::ChunkAcked { .. } => Ok(()),
            InviteEvent::DeliveryReport { bytes, .. } => {
                let dim = Style::new().dimmed();
                writeln!(
                    self.out,
                    "  {dim}success report: {bytes} bytes delivered{dim:#}"
                )
            }
            InviteEvent::Transfer(t) => {
                let how = if t.confirmed {
                    "delivered"
                } else {
                    "sent (unconfirmed)"
                };
                writeln!(
                    self.out,
                    "{how}: {} bytes in {} chunk{}, {:.3} s, {:.1} MB/s",
                    t.bytes,
                    t.chunks,
                    if t.chunks == 1 { "" } else { "s" },
                    t.seconds,
                    t.throughput_mbps
                )
            }
            InviteEvent::InDialog(r) => {
                let dim = Style::new().dimmed();
                let body = match (&r.content_type, &r.body) {
                    (Some(t), Some(b)) if !t.starts_with("application/sdp") => {
                        format!(" ({t}: {})", b.trim_end().escape_debug())
                    }
                    (Some(t), _) => format!(" ({t}, {} bytes)", r.body_bytes),
                    _ => String::new(),
                };
                let method = if r.method == "INVITE" {
                    "re-INVITE"
                } else {
                    &r.method
                };
                writeln!(
                    self.out,
                    "  {dim}callee's {method}{body} answered {} {}{dim:#}",
                    r.status, r.reason
                )
            }
            InviteEvent::Refreshed { method, status } => {
                let dim = Style::new().dimmed();
                writeln!(
                    self.out,
                    "  {dim}session refreshed with {method}: {status}{dim:#}"
                )
            }
            InviteEvent::Summary(s) => {
                let (style, what) = match s.outcome {
                    "answered" => (AnsiColor::Green, "call answered"),
                    "delivered" => (AnsiColor::Green, "content delivered"),
                    "refused" => (AnsiColor::Red, "content refused"),
                    "rejected" => (AnsiColor::Red, "call rejected"),
                    "cancelled" => (AnsiColor::Yellow, "call cancelled"),
                    "interrupted" => (AnsiColor::Yellow, "call interrupted"),
                    _ => (AnsiColor::Red, "call failed"),
                };
                let answered = s.status.is_some_and(|c| (200..300).contains(&c));
                // A 2xx with another outcome: the call was set up and something after it
                // failed; say what, never "call failed: 200 OK".
                let what = match s.outcome {
                    "timeout" if answered => "call answered, then timed out",
                    "network-error" if answered => "call answered, then the connection failed",
                    "error" if answered => "call answered, then failed",
                    "timeout" => "call timed out",
                    "network-error" => "network error",
                    _ => what,
                };
                let style = style.on_default().bold();
                let mut line = format!("{style}{what}{style:#}");
                let status = s
                    .status
                    .map(|code| format!("{code} {}", s.reason.as_deref().unwrap_or_default()));
                match (&status, answered) {
                    (Some(st), false) => line.push_str(&format!(": {}", st.trim_end())),
                    (Some(st), true) if !matches!(s.outcome, "answered" | "delivered") => {
                        line.push_str(&format!(" ({})", st.trim_end()));
                        if let Some(e) = &s.error {
                            line.push_str(&format!(": {e}"));
                        }
                    }
                    (Some(st), true) => line.push_str(&format!(": {}", st.trim_end())),
                    (None, _) => {}
                }
                if let Some(why) = s
                    .status
                    .and_then(|c| super::send::challenge_unanswered(c, self.last_auth.as_ref()))
                {
                    line.push_str(&format!("; {why}"));
                }
                let times: Vec<String> = [
                    s.ringing_ms.map(|t| format!("ringing after {t:.1} ms")),
                    s.answer_ms.map(|t| format!("answered after {t:.1} ms")),
                    s.held_ms.map(|t| format!("held {:.3} s", t / 1000.0)),
                    s.bye_status.map(|c| format!("BYE {c}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                if !times.is_empty() {
                    line.push_str(&format!(" ({})", times.join(", ")));
                }
                writeln!(self.out, "{line}")
            }
        }
    }

    fn json_line(&mut self, event: &InviteEvent<'_>) -> io::Result<()> {
        match event {
            InviteEvent::Resolved(r) => write_line(&mut self.out, "resolved", r),
            InviteEvent::Message(m) => write_line(&mut self.out, "message", m),
            InviteEvent::Auth(a) => write_line(&mut self.out, "auth", a),
            InviteEvent::Failover { from, reason } => {
                write_line(&mut self.out, "failover", FailoverLine { from, reason })
            }
            InviteEvent::Answer(a) => write_line(&mut self.out, "answer", a),
            InviteEvent::Relay(r) => write_line(&mut self.out, "relay", r),
            InviteEvent::MsrpConnected(c) => write_line(&mut self.out, "msrp-connected", c),
            InviteEvent::ChunkAcked { bytes, total } => write_line(
                &mut self.out,
                "chunk-acked",
                ChunkLine {
                    bytes: *bytes,
                    total: *total,
                },
            ),
            InviteEvent::DeliveryReport { confirmed, bytes } => write_line(
                &mut self.out,
                "delivery-report",
                ReportLine {
                    confirmed: *confirmed,
                    bytes: *bytes,
                },
            ),
            InviteEvent::Transfer(t) => write_line(&mut self.out, "transfer", t),
            InviteEvent::InDialog(r) => write_line(&mut self.out, "in-dialog", r),
            InviteEvent::Refreshed { method, status } => write_line(
                &mut self.out,
                "refreshed",
                RefreshLine {
                    method,
                    status: *status,
                },
            ),
            InviteEvent::Summary(s) => write_line(&mut self.out, "summary", s),
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_line<W: Write, T: Serialize>(out: &mut W, event: &str, record: T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Line { event, record })?;
    writeln!(out)
}

/// The transfer's progress line on standard error: bytes, rate and time left, redrawn with
/// `\r` at most ten times a second, only when standard error is a terminal and not --quiet.
#[derive(Debug)]
pub(crate) struct Progress {
    enabled: bool,
    last: Option<std::time::Instant>,
    width: usize,
}

impl Progress {
    /// A progress line that draws only when `enabled`.
    pub(crate) fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            last: None,
            width: 0,
        }
    }

    /// Whether a bar is wanted: standard error is a terminal and the run is not quiet.
    pub(crate) fn wanted(quiet: bool) -> bool {
        use std::io::IsTerminal as _;
        !quiet && io::stderr().is_terminal()
    }

    /// Redraw if the last draw is 100 ms old (or `force`).
    pub(crate) fn update(&mut self, bytes: u64, total: Option<u64>, elapsed: f64, force: bool) {
        if !self.enabled {
            return;
        }
        let now = std::time::Instant::now();
        if !force
            && self
                .last
                .is_some_and(|l| now.duration_since(l) < std::time::Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        let line = progress_line(bytes, total, elapsed);
        let pad = self.width.saturating_sub(line.len());
        self.width = line.len();
        let mut err = io::stderr().lock();
        // A terminal that went away is no reason to stop the transfer.
        let _ = write!(err, "\r{line}{:pad$}", "");
        let _ = err.flush();
    }

    /// Erase the line, so what follows starts on a clean one.
    pub(crate) fn finish(&mut self) {
        if self.enabled && self.width > 0 {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r{:w$}\r", "", w = self.width);
            let _ = err.flush();
            self.width = 0;
        }
    }
}

fn size(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `[#####     ]  5.0 MiB / 10.0 MiB  12.3 MB/s  1s left`; without a total, no bar or ETA.
fn progress_line(bytes: u64, total: Option<u64>, elapsed: f64) -> String {
    let rate = if elapsed > 0.0 {
        bytes as f64 / elapsed
    } else {
        0.0
    };
    let speed = format!("{:.1} MB/s", rate / 1e6);
    match total {
        Some(t) if t > 0 => {
            let frac = (bytes as f64 / t as f64).clamp(0.0, 1.0);
            let filled = (frac * 20.0).round() as usize;
            let left = if rate > 0.0 {
                format!("{:.0}s left", (t.saturating_sub(bytes)) as f64 / rate)
            } else {
                "--".to_owned()
            };
            format!(
                "[{}{}] {} / {}  {speed}  {left}",
                "#".repeat(filled),
                " ".repeat(20 - filled.min(20)),
                size(bytes as f64),
                size(t as f64)
            )
        }
        _ => format!("{} sent  {speed}", size(bytes as f64)),
    }
}

/// A printer on standard output, coloured as `--color` and the terminal decide.
pub(crate) fn stdout(
    format: Format,
    color: crate::cli::ColorWhen,
    quiet: bool,
    verbose: bool,
) -> InvitePrinter<super::Stdout> {
    let stdout = io::stdout();
    let choice = super::color_choice(color, format, &stdout);
    let raw: Box<dyn Write> = Box::new(io::LineWriter::new(stdout));
    InvitePrinter::new(
        format,
        quiet,
        verbose,
        anstream::AutoStream::new(raw, choice),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_name_the_event_and_flatten_the_record() {
        let mut p = InvitePrinter::new(Format::Json, false, false, Vec::new());
        let a = AnswerRecord {
            media: "audio".into(),
            port: 49170,
            codecs: vec!["PCMA".into()],
            ..AnswerRecord::default()
        };
        p.emit(&InviteEvent::Answer(&a)).expect("vec");
        let text = String::from_utf8(p.out).expect("utf8");
        assert_eq!(
            text,
            "{\"event\":\"answer\",\"media\":\"audio\",\"port\":49170,\"codecs\":[\"PCMA\"]}\n"
        );
    }

    #[test]
    fn the_progress_line_gives_bytes_rate_and_time_left() {
        assert_eq!(
            progress_line(5 << 20, Some(10 << 20), 1.0),
            "[##########          ] 5.0 MiB / 10.0 MiB  5.2 MB/s  1s left"
        );
        assert_eq!(progress_line(512, None, 0.0), "512 B sent  0.0 MB/s");
    }

    #[test]
    fn msrp_events_have_stable_json_names() {
        let mut p = InvitePrinter::new(Format::Json, false, false, Vec::new());
        p.emit(&InviteEvent::ChunkAcked {
            bytes: 10,
            total: Some(20),
        })
        .expect("vec");
        p.emit(&InviteEvent::DeliveryReport {
            confirmed: true,
            bytes: 20,
        })
        .expect("vec");
        let text = String::from_utf8(p.out).expect("utf8");
        assert_eq!(
            text,
            "{\"event\":\"chunk-acked\",\"bytes\":10,\"total\":20}\n\
             {\"event\":\"delivery-report\",\"confirmed\":true,\"bytes\":20}\n"
        );
    }

    #[test]
    fn the_human_summary_gives_setup_times() {
        let mut p = InvitePrinter::new(Format::Human, false, false, Vec::new());
        let s = SummaryRecord {
            target: "x".into(),
            outcome: "answered",
            status: Some(200),
            reason: Some("OK".into()),
            ringing_ms: Some(1.25),
            answer_ms: Some(3.5),
            held_ms: Some(1500.0),
            bye_status: Some(200),
            error: None,
            dns_error: None,
            exit: 0,
            elapsed_ms: 9.0,
        };
        p.emit(&InviteEvent::Summary(&s)).expect("vec");
        let text =
            anstream::adapter::strip_str(&String::from_utf8(p.out).expect("utf8")).to_string();
        assert_eq!(
            text,
            "call answered: 200 OK (ringing after 1.2 ms, answered after 3.5 ms, held 1.500 s, BYE 200)\n"
        );
    }

    /// Issue 15: a call answered 200 whose content then failed never reads "call failed:
    /// 200 OK": the summary says what failed after the answer.
    #[test]
    fn issue_15_the_summary_of_an_answered_call_says_what_failed_after_the_answer() {
        let summary = |outcome: &'static str, error: &str| {
            let mut p = InvitePrinter::new(Format::Human, false, false, Vec::new());
            let s = SummaryRecord {
                target: "x".into(),
                outcome,
                status: Some(200),
                reason: Some("OK".into()),
                ringing_ms: None,
                answer_ms: None,
                held_ms: None,
                bye_status: None,
                error: Some(error.into()),
                dns_error: None,
                exit: 4,
                elapsed_ms: 9.0,
            };
            p.emit(&InviteEvent::Summary(&s)).expect("vec");
            anstream::adapter::strip_str(&String::from_utf8(p.out).expect("utf8")).to_string()
        };
        assert_eq!(
            summary(
                "network-error",
                "cannot connect to the MSRP peer 127.0.0.1:2855"
            ),
            "call answered, then the connection failed (200 OK): cannot connect to the MSRP \
             peer 127.0.0.1:2855\n"
        );
        assert_eq!(
            summary("refused", "MSRP 415 Unsupported Media Type"),
            "content refused (200 OK): MSRP 415 Unsupported Media Type\n"
        );
        for outcome in ["timeout", "error", "network-error", "refused"] {
            let text = summary(outcome, "why");
            assert!(!text.contains("failed: 200"), "{text}");
            assert!(text.ends_with(": why\n"), "{text}");
        }
    }
}
