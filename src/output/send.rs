//! How `sipkit send` looks: people get one line per message as it happens (request line,
//! retransmissions with their time, responses with coloured status and round-trip time; whole
//! messages with -v); programs get one JSON document at the end holding the resolution, every
//! message with its timestamp, the authentication rounds, the final status and timings.
//!
//! The command fills a [`Report`] and announces each addition as a [`SendEvent`]; this is the
//! only place that decides what is shown.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::status_style;
use crate::cli::Format;
use crate::transport::{Destination, Resolution, ResolveStep};

/// One message sent or received.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MessageRecord {
    /// `sent` or `received`.
    pub(crate) direction: &'static str,
    /// Milliseconds since the run started.
    pub(crate) at_ms: f64,
    /// `udp`, `tcp`, ...
    pub(crate) transport: String,
    /// Our address.
    pub(crate) local: String,
    /// The peer's address.
    pub(crate) remote: String,
    /// 0 for a first transmission, n for the n-th retransmission.
    pub(crate) retransmission: u32,
    /// For responses: milliseconds since the request was first sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rtt_ms: Option<f64>,
    /// The request or status line.
    pub(crate) first_line: String,
    /// The status code of a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// A response that belongs to no transaction of ours (ignored).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) stray: bool,
    /// The whole message (lossy UTF-8).
    pub(crate) message: String,
}

/// One answered challenge.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuthRecord {
    /// 401 or 407.
    pub(crate) status: u16,
    pub(crate) user: String,
    pub(crate) realm: String,
    pub(crate) algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) qop: Option<String>,
    /// Whether the server said the previous nonce was stale.
    pub(crate) stale: bool,
}

/// One destination tried.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AttemptRecord {
    pub(crate) destination: Destination,
    /// Our address on that connection, when it was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) local: Option<String>,
    /// `final`, `timeout`, `error` or `503` (moved on).
    pub(crate) result: String,
    /// The error or timeout explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

/// One hop of --traceroute.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HopRecord {
    /// The Max-Forwards sent.
    pub(crate) max_forwards: u8,
    pub(crate) status: u16,
    pub(crate) reason: String,
    /// Server, User-Agent or Warning of the response, naming who answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<String>,
    pub(crate) rtt_ms: f64,
}

/// Latency percentiles in milliseconds (nearest rank).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) min: f64,
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
}

/// The load-mode summary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadRecord {
    pub(crate) requests: u32,
    pub(crate) concurrency: u32,
    /// The --rate asked for.
    pub(crate) rate: Option<f64>,
    pub(crate) elapsed_ms: f64,
    /// Requests completed per second.
    pub(crate) achieved_rate: f64,
    /// Final responses by status code.
    pub(crate) statuses: std::collections::BTreeMap<String, u32>,
    pub(crate) timeouts: u32,
    pub(crate) errors: u32,
    /// Over the requests that got a final response; `null` when none did.
    pub(crate) latency_ms: Option<Percentiles>,
}

/// The final response of the run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FinalRecord {
    pub(crate) status: u16,
    pub(crate) reason: String,
    /// Milliseconds from the first transmission of the last request to this response.
    pub(crate) rtt_ms: f64,
}

/// Everything that happened in one run; the JSON document.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) method: String,
    pub(crate) target: String,
    /// RFC 3263 steps and destinations (absent for --dry-run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resolution: Option<Resolution>,
    pub(crate) attempts: Vec<AttemptRecord>,
    pub(crate) messages: Vec<MessageRecord>,
    pub(crate) auth: Vec<AuthRecord>,
    #[serde(rename = "final")]
    pub(crate) final_response: Option<FinalRecord>,
    /// Contact bindings listed in a 200 to REGISTER.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) bindings: Vec<String>,
    /// --traceroute: one entry per Max-Forwards tried.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) hops: Vec<HopRecord>,
    /// Load mode: the summary (`messages` is then empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) load: Option<LoadRecord>,
    /// `success`, `negative`, `timeout`, `network-error`, `dry-run`, `resolved`.
    pub(crate) outcome: &'static str,
    /// The exit status.
    pub(crate) exit: u8,
    /// Milliseconds from start to end.
    pub(crate) elapsed_ms: f64,
    /// With --dry-run: the request that would have been sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dry_run: Option<String>,
    /// Why locating the server failed: `timeout`, `unreachable`, `servfail`, `nxdomain`,
    /// `no-records`, `config` (issue 15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dns_error: Option<&'static str>,
    /// Why the run failed, the same line as on standard error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Something to show as it happens.
#[derive(Debug)]
pub(crate) enum SendEvent<'a> {
    /// The target was located.
    Resolved(&'a Resolution),
    /// --resolve-only: show every step and destination.
    ResolveOnly(&'a Resolution),
    /// A message went out or came in.
    Message(&'a MessageRecord),
    /// A challenge is being answered.
    Auth(&'a AuthRecord),
    /// A destination failed and the next one is tried.
    Failover {
        from: &'a Destination,
        reason: &'a str,
    },
    /// The load-mode summary.
    Load(&'a LoadRecord),
    /// One --traceroute hop answered.
    Hop(&'a HopRecord),
    /// Contact bindings of a REGISTER 200.
    Bindings(&'a [String]),
    /// The request --dry-run would send.
    DryRun(&'a [u8]),
}

/// Renders `send` output.
#[derive(Debug)]
pub(crate) struct SendPrinter<W: Write> {
    json: bool,
    /// --traceroute without -v: one line per hop, not per message.
    hops_only: bool,
    quiet: bool,
    verbose: bool,
    out: W,
}

impl<W: Write> SendPrinter<W> {
    pub(crate) fn new(format: Format, quiet: bool, verbose: bool, out: W) -> Self {
        SendPrinter {
            json: format == Format::Json,
            hops_only: false,
            quiet,
            verbose,
            out,
        }
    }

    /// Show only hop lines (and failures) unless verbose: the --traceroute view.
    pub(crate) fn hops_only(&mut self, on: bool) {
        self.hops_only = on && !self.verbose;
    }

    /// Show an event (human format only; JSON waits for [`finish`](Self::finish)).
    pub(crate) fn emit(&mut self, event: &SendEvent<'_>) -> io::Result<()> {
        if self.json || self.quiet {
            return Ok(());
        }
        let dim = Style::new().dimmed();
        let out = &mut self.out;
        match event {
            SendEvent::Resolved(r) => {
                if self.verbose {
                    for step in &r.steps {
                        writeln!(out, "{dim}resolve: {}{dim:#}", step_line(step))?;
                    }
                }
                if r.destinations.len() > 1 || self.verbose {
                    let list: Vec<String> = r.destinations.iter().map(|d| d.to_string()).collect();
                    writeln!(out, "{dim}destinations: {}{dim:#}", list.join(", "))?;
                }
            }
            SendEvent::ResolveOnly(r) => {
                for step in &r.steps {
                    writeln!(out, "{dim}resolve:{dim:#} {}", step_line(step))?;
                }
                for (i, d) in r.destinations.iter().enumerate() {
                    writeln!(out, "{}. {d}", i + 1)?;
                }
            }
            SendEvent::Message(_) if self.hops_only => {}
            SendEvent::Message(m) => {
                if m.direction == "sent" && m.retransmission > 0 {
                    writeln!(
                        out,
                        "  {dim}retransmission {} at {:.3}s{dim:#}",
                        m.retransmission,
                        m.at_ms / 1000.0
                    )?;
                    return Ok(());
                }
                if m.direction == "sent" {
                    writeln!(
                        out,
                        "> {}  {dim}({} {} -> {}){dim:#}",
                        m.first_line, m.transport, m.local, m.remote
                    )?;
                } else {
                    let style = status_style(m.status.unwrap_or(0));
                    let rtt = m
                        .rtt_ms
                        .map(|r| format!("  {dim}({r:.1} ms){dim:#}"))
                        .unwrap_or_default();
                    let stray = if m.stray {
                        format!("  {dim}(not ours, ignored){dim:#}")
                    } else {
                        String::new()
                    };
                    writeln!(out, "< {style}{}{style:#}{rtt}{stray}", m.first_line)?;
                    // The callee's own words on a failure (RFC 3261 §20.43), which the status
                    // line alone does not give (488 with "incompatible media format"...).
                    if !self.verbose && m.status.is_some_and(|c| c >= 400) {
                        for warning in warnings(&m.message) {
                            writeln!(out, "  {dim}warning:{dim:#} {warning}")?;
                        }
                    }
                }
                if self.verbose {
                    for line in m.message.trim_end_matches(['\r', '\n']).split("\r\n") {
                        writeln!(out, "  {dim}|{dim:#} {line}")?;
                    }
                }
            }
            SendEvent::Auth(a) => {
                let qop = a
                    .qop
                    .as_deref()
                    .map(|q| format!(", qop {q}"))
                    .unwrap_or_default();
                let stale = if a.stale { " (stale nonce)" } else { "" };
                writeln!(
                    out,
                    "  {dim}authenticating as {} for {}: {}, realm \"{}\"{qop}{stale}{dim:#}",
                    a.user, a.status, a.algorithm, a.realm
                )?;
            }
            SendEvent::Failover { from, reason } => {
                let warn = AnsiColor::Yellow.on_default();
                writeln!(
                    out,
                    "  {warn}{from} failed: {reason}; trying the next destination{warn:#}"
                )?;
            }
            SendEvent::Load(l) => {
                let statuses: Vec<String> = l
                    .statuses
                    .iter()
                    .map(|(code, n)| {
                        let style = status_style(code.parse().unwrap_or(0));
                        format!("{style}{code}{style:#} x{n}")
                    })
                    .collect();
                writeln!(
                    out,
                    "{} requests in {:.3}s ({:.1}/s), concurrency {}: {}; {} timeouts, {} errors",
                    l.requests,
                    l.elapsed_ms / 1000.0,
                    l.achieved_rate,
                    l.concurrency,
                    if statuses.is_empty() {
                        "no final responses".to_string()
                    } else {
                        statuses.join(", ")
                    },
                    l.timeouts,
                    l.errors
                )?;
                if let Some(p) = &l.latency_ms {
                    writeln!(
                        out,
                        "latency ms: min {:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
                        p.min, p.p50, p.p90, p.p99, p.max, p.mean
                    )?;
                }
            }
            SendEvent::Hop(h) => {
                let style = status_style(h.status);
                let server = h
                    .server
                    .as_deref()
                    .map(|s| format!("  {s}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "hop {:>2}: {style}{} {}{style:#}  {dim}({:.1} ms){dim:#}{server}",
                    h.max_forwards, h.status, h.reason, h.rtt_ms
                )?;
            }
            SendEvent::Bindings(list) => {
                if list.is_empty() {
                    writeln!(out, "  no bindings")?;
                }
                for b in *list {
                    writeln!(out, "  binding {b}")?;
                }
            }
            SendEvent::DryRun(bytes) => {
                out.write_all(bytes)?;
                if !bytes.ends_with(b"\n") {
                    writeln!(out)?;
                }
            }
        }
        Ok(())
    }

    /// A load-mode progress line on standard error, only when that is a terminal (so logs and
    /// pipes never get `\r` redraws) and not with --quiet.
    pub(crate) fn progress(&self, total: u32) -> Option<Progress> {
        (!self.quiet && io::stderr().is_terminal()).then_some(Progress { total, width: 0 })
    }

    /// The end of the run: the JSON document, or nothing more for people.
    pub(crate) fn finish(&mut self, report: &Report) -> io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut self.out, report)?;
            writeln!(self.out)?;
        } else if !self.quiet
            && let Some(f) = &report.final_response
            && let Some(why) = challenge_unanswered(f.status, report.auth.last())
        {
            let style = status_style(f.status);
            writeln!(self.out, "{style}{why}{style:#}")?;
        }
        self.out.flush()
    }
}

/// Load-mode progress, redrawn in place with `\r` (no progress-bar crate needed for one line).
#[derive(Debug)]
pub(crate) struct Progress {
    total: u32,
    /// Length of the last line drawn, to blank it out.
    width: usize,
}

impl Progress {
    /// Redraw the line. Errors are ignored: progress is a courtesy, the summary is what counts.
    pub(crate) fn show(&mut self, done: usize, elapsed: Duration) {
        let line = progress_line(done, self.total, elapsed);
        let pad = self.width.saturating_sub(line.len());
        self.width = line.len();
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r{line}{:pad$}", "");
        let _ = err.flush();
    }

    /// Blank the line so the summary starts on a clean one.
    pub(crate) fn clear(&mut self) {
        if self.width > 0 {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r{:w$}\r", "", w = self.width);
            let _ = err.flush();
            self.width = 0;
        }
    }
}

fn progress_line(done: usize, total: u32, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let pct = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / f64::from(total)
    };
    format!("{done}/{total} requests ({pct:.0}%), {rate:.0}/s, {secs:.1}s")
}

/// A printer on standard output, coloured as `--color` and the terminal decide.
pub(crate) fn stdout(
    format: Format,
    color: crate::cli::ColorWhen,
    quiet: bool,
    verbose: bool,
) -> SendPrinter<super::Stdout> {
    let stdout = io::stdout();
    let choice = super::color_choice(color, format, &stdout);
    let raw: Box<dyn Write> = Box::new(io::LineWriter::new(stdout));
    SendPrinter::new(
        format,
        quiet,
        verbose,
        anstream::AutoStream::new(raw, choice),
    )
}

fn step_line(step: &ResolveStep) -> String {
    step.to_string()
}

/// Why a run ended on a 401 or 407 (RFC 3261 §22): no credentials were given, or the ones
/// given were refused (the server challenged again after they were sent). `None` for any other
/// status.
pub(crate) fn challenge_unanswered(status: u16, last: Option<&AuthRecord>) -> Option<String> {
    if !matches!(status, 401 | 407) {
        return None;
    }
    Some(match last {
        None => "credentials are required and none were given: pass --user with \
                 --password-file, SIPKIT_PASSWORD, --password or --ha1"
            .to_owned(),
        Some(a) => format!(
            "the credentials of {} for realm \"{}\" were rejected (challenged again \
             after they were sent): check the user name, password and realm",
            a.user, a.realm
        ),
    })
}

/// The values of the Warning header fields in a message's head, each line of a folded value
/// joined, control characters left out (the value came from the network).
fn warnings(message: &str) -> Vec<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let mut in_warning = false;
    for line in head.split("\r\n").skip(1) {
        if line.starts_with([' ', '\t']) {
            if in_warning && let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
            continue;
        }
        in_warning = false;
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("warning")
        {
            in_warning = true;
            out.push(value.trim().to_owned());
        }
    }
    for w in &mut out {
        w.retain(|c| !c.is_control());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(direction: &'static str, retransmission: u32) -> MessageRecord {
        MessageRecord {
            direction,
            at_ms: 1500.0,
            transport: "udp".into(),
            local: "127.0.0.1:4000".into(),
            remote: "127.0.0.1:5060".into(),
            retransmission,
            rtt_ms: (direction == "received").then_some(2.31),
            first_line: if direction == "sent" {
                "OPTIONS sip:x SIP/2.0".into()
            } else {
                "SIP/2.0 200 OK".into()
            },
            status: (direction == "received").then_some(200),
            stray: false,
            message: "X\r\nA: b\r\n\r\n".into(),
        }
    }

    fn human(verbose: bool, events: &[SendEvent<'_>]) -> String {
        let mut p = SendPrinter::new(Format::Human, false, verbose, Vec::new());
        for e in events {
            p.emit(e).expect("writing to a Vec");
        }
        anstream::adapter::strip_str(&String::from_utf8(p.out).expect("utf8")).to_string()
    }

    #[test]
    fn human_lines_for_request_retransmission_and_response() {
        let (a, b, c) = (record("sent", 0), record("sent", 1), record("received", 0));
        let text = human(
            false,
            &[
                SendEvent::Message(&a),
                SendEvent::Message(&b),
                SendEvent::Message(&c),
            ],
        );
        assert_eq!(
            text,
            "> OPTIONS sip:x SIP/2.0  (udp 127.0.0.1:4000 -> 127.0.0.1:5060)\n  \
             retransmission 1 at 1.500s\n< SIP/2.0 200 OK  (2.3 ms)\n"
        );
        let verbose = human(true, &[SendEvent::Message(&c)]);
        assert!(verbose.ends_with("  | X\n  | A: b\n"), "{verbose}");
    }

    #[test]
    fn progress_line_counts_percent_and_rate() {
        assert_eq!(
            progress_line(250, 1000, Duration::from_millis(500)),
            "250/1000 requests (25%), 500/s, 0.5s"
        );
        assert_eq!(
            progress_line(0, 0, Duration::ZERO),
            "0/0 requests (100%), 0/s, 0.0s"
        );
    }

    #[test]
    fn status_colours_by_class() {
        assert_eq!(status_style(180), AnsiColor::Cyan.on_default().bold());
        assert_eq!(status_style(202), AnsiColor::Green.on_default().bold());
        assert_eq!(status_style(302), AnsiColor::Yellow.on_default().bold());
        assert_eq!(status_style(503), AnsiColor::Red.on_default().bold());
    }
}
