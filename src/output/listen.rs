//! How `sipkit listen` looks: people get one line per message as it happens (the request line
//! or status line, which transport and peer, whole messages with --full); programs get JSON
//! Lines, one object per event, each with an `event` field naming its kind. The schema is
//! documented in README.md ("listen") and fixed by the tests.
//!
//! The server's hot path calls [`ListenPrinter::emit`] once per message, so writing is
//! buffered: the command flushes after the `listening` event, on its timer tick and at the end,
//! never per message.

use std::collections::BTreeMap;
use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::status_style;
use crate::cli::Format;

/// One address we listen on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Bound {
    /// `udp`, `tcp`, `tls`, `ws`, `wss` or `msrp`.
    pub(crate) transport: String,
    /// The address really bound (port 0 replaced by the one chosen).
    pub(crate) address: String,
}

/// Where a message travelled.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Route {
    /// `udp`, `tcp`, ...
    pub(crate) transport: String,
    /// Our address.
    pub(crate) local: String,
    /// The peer's address.
    pub(crate) remote: String,
}

/// A request received (retransmissions absorbed by the transaction layer are not reported,
/// only counted in the summary).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestRecord {
    /// Milliseconds since listening started.
    pub(crate) at_ms: f64,
    #[serde(flatten)]
    pub(crate) route: Route,
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) call_id: String,
    pub(crate) cseq: u32,
    pub(crate) from: String,
    pub(crate) to: String,
    /// The address of record the Request-URI names, when it has bindings (--registrar).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) registered: Option<String>,
    /// The contacts bound to that address of record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) contacts: Vec<String>,
    /// The whole message (lossy UTF-8), with --full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
}

/// A response we sent (or, rarely, one we received).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResponseRecord {
    pub(crate) at_ms: f64,
    /// `sent` or `received`.
    pub(crate) direction: &'static str,
    #[serde(flatten)]
    pub(crate) route: Route,
    pub(crate) status: u16,
    pub(crate) reason: String,
    /// The CSeq method: which request this answers.
    pub(crate) method: String,
    pub(crate) call_id: String,
    /// The whole message (lossy UTF-8), with --full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
}

/// One Digest authentication step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuthRecord {
    pub(crate) at_ms: f64,
    pub(crate) method: String,
    pub(crate) call_id: String,
    /// `challenged` (no credentials), `accepted`, `rejected` (wrong or unusable credentials:
    /// answered 403) or `stale` (right credentials, expired nonce: challenged with
    /// stale=true).
    pub(crate) result: &'static str,
    /// The user the credentials name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// The algorithm of the credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) algorithm: Option<String>,
    /// Why credentials were rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

/// One binding of an address of record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct BindingRecord {
    pub(crate) contact: String,
    /// Seconds left.
    pub(crate) expires: u32,
}

/// A REGISTER processed by --registrar: the bindings after it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RegistrationRecord {
    pub(crate) at_ms: f64,
    pub(crate) aor: String,
    pub(crate) call_id: String,
    pub(crate) bindings: Vec<BindingRecord>,
}

/// Something went wrong with one message or connection; the server goes on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorRecord {
    pub(crate) at_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) remote: Option<String>,
    pub(crate) message: String,
}

/// An MSRP event from the session layer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MsrpRecord {
    pub(crate) at_ms: f64,
    /// `msrp-session`, `msrp-message`, ... (the JSON `event` value).
    #[serde(skip)]
    pub(crate) kind: &'static str,
    /// The fields of the event.
    #[serde(flatten)]
    pub(crate) fields: serde_json::Map<String, serde_json::Value>,
    /// One line for people.
    #[serde(skip)]
    pub(crate) line: String,
}

/// Totals at the end of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SummaryRecord {
    /// New requests received (not retransmissions), ACK and CANCEL included.
    pub(crate) requests: u64,
    /// New requests per method.
    pub(crate) methods: BTreeMap<String, u64>,
    /// Responses sent, first transmissions only.
    pub(crate) responses: u64,
    /// Responses sent per status code.
    pub(crate) statuses: BTreeMap<u16, u64>,
    /// Retransmitted requests absorbed (answered again with the last response, or dropped).
    pub(crate) retransmissions_absorbed: u64,
    /// Responses we retransmitted (2xx to INVITE until ACK, timer G).
    pub(crate) retransmissions_sent: u64,
    /// Messages that could not be parsed, and transport errors.
    pub(crate) errors: u64,
    /// Whole MSRP messages received.
    pub(crate) msrp_messages: u64,
    /// MSRP sessions freed because no connection bound them in time (--msrp-bind-timeout).
    pub(crate) msrp_sessions_freed: u64,
    /// `count` (--count or --msrp-count reached), `timeout`, `signal` (Ctrl-C or SIGTERM).
    pub(crate) stopped_by: &'static str,
    /// The exit status.
    pub(crate) exit: u8,
    pub(crate) elapsed_ms: f64,
}

/// What the command reports.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub(crate) enum ListenEvent {
    /// The sockets are bound.
    Listening {
        addresses: Vec<Bound>,
    },
    Request(RequestRecord),
    Response(ResponseRecord),
    Auth(AuthRecord),
    Registration(RegistrationRecord),
    /// Serialized with its own `event` name, see [`ListenPrinter::emit`].
    Msrp(MsrpRecord),
    Error(ErrorRecord),
    Summary(SummaryRecord),
}

/// Renders `listen` output.
#[derive(Debug)]
pub(crate) struct ListenPrinter<W: Write> {
    json: bool,
    quiet: bool,
    out: W,
}

impl<W: Write> ListenPrinter<W> {
    pub(crate) fn new(format: Format, quiet: bool, out: W) -> Self {
        ListenPrinter {
            json: format == Format::Json,
            quiet,
            out,
        }
    }

    /// Whether only `listening` and errors are shown (--quiet): the command need not build
    /// the other events.
    pub(crate) fn quiet(&self) -> bool {
        self.quiet
    }

    /// Show one event. --quiet keeps only `listening` and errors (`msrp-error` included).
    pub(crate) fn emit(&mut self, event: &ListenEvent) -> io::Result<()> {
        let error = match event {
            ListenEvent::Error(_) => true,
            ListenEvent::Msrp(m) => m.kind == "msrp-error",
            _ => false,
        };
        if self.quiet && !error && !matches!(event, ListenEvent::Listening { .. }) {
            return Ok(());
        }
        if self.json {
            if let ListenEvent::Msrp(m) = event {
                let mut obj = serde_json::Map::new();
                obj.insert("event".into(), m.kind.into());
                obj.insert("at_ms".into(), m.at_ms.into());
                obj.extend(m.fields.clone());
                serde_json::to_writer(&mut self.out, &obj)?;
            } else {
                serde_json::to_writer(&mut self.out, event)?;
            }
            return writeln!(self.out);
        }
        self.human(event)
    }

    fn human(&mut self, event: &ListenEvent) -> io::Result<()> {
        let dim = Style::new().dimmed();
        let out = &mut self.out;
        match event {
            ListenEvent::Listening { addresses } => {
                for a in addresses {
                    writeln!(out, "listening on {} {}", a.transport, a.address)?;
                }
            }
            ListenEvent::Request(r) => {
                let reg = r
                    .registered
                    .as_deref()
                    .map(|aor| format!("  {dim}(registered: {aor}){dim:#}"))
                    .unwrap_or_default();
                let bold = Style::new().bold();
                writeln!(
                    out,
                    "{dim}{:>9.3}{dim:#} {} {bold}{} {}{bold:#}{reg}",
                    r.at_ms / 1000.0,
                    arrow(&r.route, true),
                    r.method,
                    r.uri
                )?;
                full(out, r.message.as_deref())?;
            }
            ListenEvent::Response(r) => {
                let style = status_style(r.status);
                writeln!(
                    out,
                    "{dim}{:>9.3}{dim:#} {} {style}{} {}{style:#}  {dim}({} {}){dim:#}",
                    r.at_ms / 1000.0,
                    arrow(&r.route, r.direction == "received"),
                    r.status,
                    r.reason,
                    r.method,
                    r.call_id
                )?;
                full(out, r.message.as_deref())?;
            }
            ListenEvent::Auth(a) => {
                let who = a
                    .user
                    .as_deref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                let alg = a
                    .algorithm
                    .as_deref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default();
                let why = a
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "          {dim}auth {}{who}{alg} for {}{why}{dim:#}",
                    a.result, a.method
                )?;
            }
            ListenEvent::Registration(r) => {
                if r.bindings.is_empty() {
                    writeln!(out, "          {dim}{} has no bindings{dim:#}", r.aor)?;
                }
                for b in &r.bindings {
                    writeln!(
                        out,
                        "          {dim}{} bound to {} for {}s{dim:#}",
                        r.aor, b.contact, b.expires
                    )?;
                }
            }
            ListenEvent::Msrp(m) => {
                writeln!(out, "{dim}{:>9.3}{dim:#} msrp {}", m.at_ms / 1000.0, m.line)?;
            }
            ListenEvent::Error(e) => {
                let warn = AnsiColor::Yellow.on_default();
                let at = match (&e.transport, &e.remote) {
                    (Some(t), Some(r)) => format!("{t} {r}: "),
                    _ => String::new(),
                };
                writeln!(out, "{warn}error:{warn:#} {at}{}", e.message)?;
            }
            ListenEvent::Summary(s) => {
                let methods: Vec<String> =
                    s.methods.iter().map(|(m, n)| format!("{n} {m}")).collect();
                let list = if methods.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", methods.join(", "))
                };
                let mut msrp = if s.msrp_messages > 0 {
                    format!(", {} MSRP messages", s.msrp_messages)
                } else {
                    String::new()
                };
                if s.msrp_sessions_freed > 0 {
                    msrp.push_str(&format!(
                        ", {} MSRP sessions freed unbound",
                        s.msrp_sessions_freed
                    ));
                }
                writeln!(
                    out,
                    "{} requests{list}, {} responses sent, {} retransmissions absorbed{msrp}; \
                     stopped by {} after {:.3}s",
                    s.requests,
                    s.responses,
                    s.retransmissions_absorbed,
                    s.stopped_by,
                    s.elapsed_ms / 1000.0
                )?;
            }
        }
        Ok(())
    }

    /// Push buffered output out.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `udp 127.0.0.1:5062 ->` for what came in, `<-` for what went out.
fn arrow(route: &Route, incoming: bool) -> String {
    let a = if incoming { "->" } else { "<-" };
    format!("{} {} {a}", route.transport, route.remote)
}

fn full(out: &mut impl Write, message: Option<&str>) -> io::Result<()> {
    let dim = Style::new().dimmed();
    if let Some(m) = message {
        for line in m.trim_end_matches(['\r', '\n']).split("\r\n") {
            writeln!(out, "          {dim}|{dim:#} {line}")?;
        }
    }
    Ok(())
}

/// A printer on standard output: block-buffered (the command flushes), coloured as `--color`
/// and the terminal decide.
pub(crate) fn stdout(
    format: Format,
    color: crate::cli::ColorWhen,
    quiet: bool,
) -> ListenPrinter<super::Stdout> {
    let stdout = io::stdout();
    let choice = super::color_choice(color, format, &stdout);
    let raw: Box<dyn Write> = Box::new(io::BufWriter::with_capacity(64 * 1024, stdout));
    ListenPrinter::new(format, quiet, anstream::AutoStream::new(raw, choice))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Route {
        Route {
            transport: "udp".into(),
            local: "127.0.0.1:5060".into(),
            remote: "127.0.0.1:4000".into(),
        }
    }

    fn request() -> ListenEvent {
        ListenEvent::Request(RequestRecord {
            at_ms: 1500.0,
            route: route(),
            method: "OPTIONS".into(),
            uri: "sip:x".into(),
            call_id: "c1".into(),
            cseq: 1,
            from: "<sip:a@x>;tag=1".into(),
            to: "<sip:x>".into(),
            registered: None,
            contacts: Vec::new(),
            message: None,
        })
    }

    fn render(format: Format, quiet: bool, events: &[ListenEvent]) -> String {
        let mut p = ListenPrinter::new(format, quiet, Vec::new());
        for e in events {
            p.emit(e).expect("writing to a Vec");
        }
        anstream::adapter::strip_str(&String::from_utf8(p.out).expect("utf8")).to_string()
    }

    #[test]
    fn json_lines_carry_the_event_name_and_flattened_route() {
        let text = render(Format::Json, false, &[request()]);
        let v: serde_json::Value = serde_json::from_str(text.trim()).expect("json");
        assert_eq!(v["event"], "request");
        assert_eq!(v["transport"], "udp");
        assert_eq!(v["remote"], "127.0.0.1:4000");
        assert_eq!(v["method"], "OPTIONS");
        assert!(v.get("message").is_none(), "{text}");
    }

    #[test]
    fn msrp_events_use_their_own_name() {
        let mut fields = serde_json::Map::new();
        fields.insert("session".into(), "s1".into());
        let e = ListenEvent::Msrp(MsrpRecord {
            at_ms: 2.0,
            kind: "msrp-message",
            fields,
            line: "x".into(),
        });
        let text = render(Format::Json, false, &[e]);
        let v: serde_json::Value = serde_json::from_str(text.trim()).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"event": "msrp-message", "at_ms": 2.0, "session": "s1"})
        );
    }

    #[test]
    fn human_line_per_request_and_quiet_drops_it() {
        let text = render(Format::Human, false, &[request()]);
        assert_eq!(text, "    1.500 udp 127.0.0.1:4000 -> OPTIONS sip:x\n");
        assert_eq!(render(Format::Human, true, &[request()]), "");
    }
}
