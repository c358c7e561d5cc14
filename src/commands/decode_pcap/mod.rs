//! `sipkit decode-pcap`: SIP and MSRP messages out of a packet capture, listed, grouped into
//! calls, drawn as ladders, counted, filtered, extracted, or written back out as pcap.
//!
//! The capture layer pushes payloads into [`framing::Decoder`], which cuts them into messages;
//! [`App`] filters each message and hands it to what the run asked for. Only `--calls`,
//! `--flow` and `--stats` keep state, and only per call, so a listing of a capture of any size
//! runs in constant memory.

mod calls;
mod filter;
pub(crate) mod framing;
mod msrp;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::error::ErrorKind;

pub(crate) use calls::{CallState, CallSummary, Stats};
pub(crate) use framing::{
    Decoded, Dropped, Handler, Meta, datagram_messages, message_findings, reparse,
};
pub(crate) use msrp::Extracted;

use crate::capture::{Notice, RawPacket, Timestamp};
use crate::cli::{DecodePcapArgs, Format};
use crate::exit::Exit;
use crate::output::decode::DecodePrinter;
use filter::{Filter, HostFilter, StatusFilter};

/// What to print instead of the message list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    List {
        full: bool,
    },
    Calls,
    /// `None`: every call.
    Flow(Option<String>),
    Stats,
}

/// The checked configuration of one run.
#[derive(Debug)]
pub(crate) struct Config {
    /// `None` is standard input.
    input: Option<PathBuf>,
    mode: Mode,
    filter: Filter,
    extract: Option<PathBuf>,
    write: Option<PathBuf>,
    max_stream_buffer: usize,
    /// `-q`: leave out notices (gaps, dropped bytes, skipped packets).
    quiet: bool,
}

fn usage(message: &str) -> clap::Error {
    super::usage_error("decode-pcap", ErrorKind::InvalidValue, message)
}

impl Config {
    pub(crate) fn new(
        args: DecodePcapArgs,
        format: Format,
        quiet: bool,
    ) -> Result<Config, clap::Error> {
        if format == Format::Github {
            return Err(usage(
                "--format github is only accepted by `sipkit validate`",
            ));
        }
        let statuses = args
            .status
            .iter()
            .map(|s| StatusFilter::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| usage(&format!("--status: {e}")))?;
        let hosts = args
            .host
            .iter()
            .map(|s| HostFilter::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| usage(&format!("--host: {e}")))?;
        let grep = args
            .grep
            .as_deref()
            .map(|re| {
                regex::bytes::RegexBuilder::new(re)
                    .case_insensitive(args.ignore_case)
                    .build()
            })
            .transpose()
            .map_err(|e| usage(&format!("--grep: {e}")))?;
        if let Some(dir) = &args.extract {
            if !dir.is_dir() {
                return Err(usage(&format!(
                    "--extract: {} is not a directory (create it first)",
                    dir.display()
                )));
            }
        }
        if let Some(path) = &args.write {
            if path.exists() {
                return Err(usage(&format!(
                    "--write: {} already exists; choose a new file name",
                    path.display()
                )));
            }
        }
        let mode = if args.calls {
            Mode::Calls
        } else if args.stats {
            Mode::Stats
        } else if let Some(id) = args.flow {
            Mode::Flow(id.filter(|s| !s.is_empty()))
        } else {
            Mode::List { full: args.full }
        };
        Ok(Config {
            input: (args.input.as_os_str() != "-").then_some(args.input),
            mode,
            filter: Filter {
                call_ids: args.call_id,
                methods: args.method,
                statuses,
                hosts,
                grep,
                transports: args.transport,
                checked: Default::default(),
                problems: args.problems.map(|p| match p {
                    crate::cli::ProblemLevel::Warning => crate::proto::Severity::Warning,
                    crate::cli::ProblemLevel::Error => crate::proto::Severity::Error,
                }),
            },
            extract: args.extract,
            write: args.write,
            max_stream_buffer: args.max_stream_buffer,
            quiet,
        })
    }
}

/// One message of a ladder diagram.
#[derive(Debug, Clone)]
pub(crate) struct FlowStep {
    pub(crate) frame: u64,
    pub(crate) time: Timestamp,
    /// Column indexes into [`FlowCall::hosts`].
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) label: String,
}

/// The messages of one call, for `--flow`.
#[derive(Debug, Clone)]
pub(crate) struct FlowCall {
    pub(crate) call_id: String,
    /// In order of first appearance.
    pub(crate) hosts: Vec<SocketAddr>,
    pub(crate) steps: Vec<FlowStep>,
}

impl FlowCall {
    fn column(&mut self, a: SocketAddr) -> usize {
        match self.hosts.iter().position(|h| *h == a) {
            Some(i) => i,
            None => {
                self.hosts.push(a);
                self.hosts.len() - 1
            }
        }
    }
}

/// Where `--write` puts packets.
trait PacketOut: std::fmt::Debug {
    fn packet(&mut self, p: &RawPacket) -> std::io::Result<()>;
    fn finish(&mut self) -> std::io::Result<()>;
}

/// The handler behind the decoder: filters, then lists, counts, draws or extracts.
#[derive(Debug)]
struct App<W: Write> {
    config: Config,
    printer: DecodePrinter<W>,
    sessions: msrp::Sessions,
    calls: calls::Calls,
    call_counter: calls::CallCounter,
    stats: Stats,
    flows: Vec<FlowCall>,
    flow_index: HashMap<String, usize>,
    extractor: Option<msrp::Extractor>,
    packets_out: Option<Box<dyn PacketOut>>,
    written_frames: std::collections::HashSet<u64>,
    /// Field values `--stats` found clean recently.
    field_cache: crate::proto::sip::FieldCache,
    /// The first output error; once set, nothing more is printed.
    error: Option<anyhow::Error>,
}

impl<W: Write> App<W> {
    fn fail(&mut self, e: anyhow::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn io(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.fail(anyhow::Error::new(e).context("writing results to standard output"));
        }
    }

    fn flow(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, call_id: Option<&str>) {
        let Mode::Flow(selected) = &self.config.mode else {
            return;
        };
        let Some(id) = call_id else {
            return;
        };
        if selected.as_deref().is_some_and(|s| s != id) {
            return;
        }
        let label = match msg {
            Decoded::Sip(m) => match (m.method(), m.status()) {
                (Some(method), _) => method.to_string(),
                (None, Some(code)) => {
                    let reason = m.reason().unwrap_or_default();
                    format!("{code} {reason}").trim_end().to_string()
                }
                _ => String::new(),
            },
            Decoded::Msrp(m) => match m.start {
                crate::proto::msrp::StartLine::Request(method) => {
                    format!("MSRP {}", method.as_str())
                }
                crate::proto::msrp::StartLine::Response { code, .. } => format!("MSRP {code}"),
            },
        };
        let idx = match self.flow_index.get(id) {
            Some(&i) => i,
            None => {
                self.flows.push(FlowCall {
                    call_id: id.to_string(),
                    hosts: Vec::new(),
                    steps: Vec::new(),
                });
                self.flow_index.insert(id.to_string(), self.flows.len() - 1);
                self.flows.len() - 1
            }
        };
        let call = &mut self.flows[idx];
        let from = call.column(meta.src);
        let to = call.column(meta.dst);
        call.steps.push(FlowStep {
            frame: meta.frame,
            time: meta.time,
            from,
            to,
            label,
        });
    }

    /// Print what is kept until the end: unfinished MSRP messages, calls, stats or flows.
    fn finish(&mut self) {
        if let Some(x) = &mut self.extractor {
            for written in x.finish(&mut self.sessions) {
                match written {
                    Ok(e) => {
                        let r = self.printer.extracted(&e);
                        self.io(r);
                    }
                    Err(reason) => self.fail(anyhow::anyhow!("--extract: {reason}")),
                }
            }
        }
        match &self.config.mode {
            Mode::Calls => {
                let r = self.printer.call_header();
                self.io(r);
                for i in 0..self.calls.calls.len() {
                    let r = self.printer.call(&self.calls.calls[i]);
                    self.io(r);
                }
            }
            Mode::Stats => {
                self.call_counter.finish(&mut self.stats);
                let r = self.printer.stats(&self.stats);
                self.io(r);
            }
            Mode::Flow(_) => {
                for i in 0..self.flows.len() {
                    let r = self.printer.flow(&self.flows[i]);
                    self.io(r);
                }
            }
            Mode::List { .. } => {}
        }
        if let Some(out) = &mut self.packets_out {
            if let Err(e) = out.finish() {
                let path = self.config.write.clone().unwrap_or_default();
                self.fail(anyhow::Error::new(e).context(format!("writing {}", path.display())));
            }
        }
    }
}

impl<W: Write> Handler for App<W> {
    fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8]) {
        if self.error.is_some() {
            return;
        }
        // SIP borrows its Call-ID from the message; MSRP's comes from the session table and
        // is copied (MSRP messages are few next to SIP ones).
        // A SIP message's own Call-ID is only looked at by the filters and the ladders (the
        // printers read it from the message): a plain listing skips the check.
        let sip_call_id =
            !self.config.filter.is_empty() || matches!(self.config.mode, Mode::Flow(_));
        let call_id: Option<std::borrow::Cow<'_, str>> = match msg {
            Decoded::Sip(m) => {
                self.sessions.learn(m);
                if sip_call_id {
                    m.call_id().ok().map(std::borrow::Cow::Borrowed)
                } else {
                    None
                }
            }
            Decoded::Msrp(m) => self.sessions.call_of(m).map(|s| s.to_string().into()),
        };
        let call_id = call_id.as_deref();
        if !self.config.filter.matches(meta, msg, raw, call_id) {
            return;
        }
        match msg {
            Decoded::Sip(m) => {
                let seen = calls::Seen {
                    time: meta.time,
                    src: meta.src,
                    dst: meta.dst,
                };
                if self.config.mode == Mode::Calls {
                    self.calls.add(seen, m);
                }
                if self.config.mode == Mode::Stats {
                    self.call_counter.add(seen, m, &mut self.stats);
                    self.stats.add_sip(m, meta.src, meta.dst);
                    let mut scratch = Vec::new();
                    let findings = message_findings(meta, msg, &mut scratch, &mut self.field_cache);
                    self.stats.add_findings(findings);
                }
            }
            Decoded::Msrp(m) => {
                if self.config.mode == Mode::Stats {
                    self.stats.messages += 1;
                    self.stats.msrp_messages += 1;
                    self.stats.add_findings(meta.diagnostics);
                }
                if let Some(x) = &mut self.extractor {
                    match x.add(m, &mut self.sessions) {
                        Ok(Some(e)) => {
                            let r = self.printer.extracted(&e);
                            self.io(r);
                        }
                        Ok(None) => {}
                        Err(reason) => {
                            let d = Dropped {
                                frame: meta.frame,
                                src: meta.src,
                                dst: meta.dst,
                                stream: None,
                                bytes: raw.len(),
                                reason: format!("MSRP chunk not reassembled: {reason}"),
                            };
                            let r = self.printer.dropped(&d);
                            self.io(r);
                        }
                    }
                }
            }
        }
        self.flow(meta, msg, call_id);
        // `-q --extract` prints only the extracted files (issue 15).
        let extract_only = self.config.quiet && self.extractor.is_some();
        if let Mode::List { .. } = self.config.mode
            && !extract_only
        {
            let r = self.printer.message(meta, msg, raw, call_id);
            self.io(r);
        }
        if let Some(out) = &mut self.packets_out {
            for p in meta.packets {
                if self.written_frames.insert(p.frame) {
                    if let Err(e) = out.packet(p) {
                        let path = self.config.write.clone().unwrap_or_default();
                        self.fail(
                            anyhow::Error::new(e).context(format!("writing {}", path.display())),
                        );
                        return;
                    }
                }
            }
        }
    }

    fn dropped(&mut self, dropped: &Dropped) {
        if self.error.is_some() || !self.shows_notices() {
            return;
        }
        let r = self.printer.dropped(dropped);
        self.io(r);
    }

    fn notice(&mut self, notice: &Notice) {
        if self.error.is_some() || !self.shows_notices() {
            return;
        }
        let r = self.printer.notice(notice);
        self.io(r);
    }

    fn stopped(&self) -> bool {
        self.error.is_some()
    }

    fn datagram(&mut self, meta: &Meta<'_>, data: &[u8]) -> bool {
        // Only a plain listing: filters, --write and --extract look at each message here.
        let plain = matches!(self.config.mode, Mode::List { .. })
            && self.config.filter.is_empty()
            && self.extractor.is_none()
            && self.packets_out.is_none();
        if !plain || self.error.is_some() {
            return false;
        }
        let quiet = !self.shows_notices();
        match self.printer.datagram(meta, data, quiet) {
            Some(r) => {
                self.io(r);
                true
            }
            None => false,
        }
    }
}

impl<W: Write> App<W> {
    /// Notices go with the message list (unless `-q`); the summaries of `--calls`, `--flow`
    /// and `--stats` stay tables.
    fn shows_notices(&self) -> bool {
        !self.config.quiet && matches!(self.config.mode, Mode::List { .. })
    }
}

/// Decode the capture and print what was asked for.
pub(crate) fn run<W: Write>(config: Config, mut printer: DecodePrinter<W>) -> anyhow::Result<Exit> {
    printer.set_full(matches!(config.mode, Mode::List { full: true }));
    if let Mode::List { .. } = config.mode {
        // Formatting is most of the work of a listing: the other cores share it.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        printer.set_parallel(cores.min(4));
    }
    let input = config.input.clone();
    let keep_packets = config.write.is_some();
    let extractor = config.extract.clone().map(msrp::Extractor::new);
    let packets_out = match &config.write {
        Some(path) => Some(open_pcap_out(path)?),
        None => None,
    };
    let max = config.max_stream_buffer;
    let app = App {
        config,
        printer,
        sessions: msrp::Sessions::default(),
        calls: calls::Calls::default(),
        call_counter: calls::CallCounter::default(),
        stats: Stats::default(),
        flows: Vec::new(),
        flow_index: HashMap::new(),
        extractor,
        packets_out,
        written_frames: std::collections::HashSet::new(),
        field_cache: Default::default(),
        error: None,
    };
    let mut decoder = framing::Decoder::new(max, app);
    let options = crate::capture::Options {
        keep_packets,
        max_stream_buffer: max,
        ..crate::capture::Options::default()
    };
    let read = read_capture(input.as_deref(), options, &mut decoder);
    decoder.finish();
    let app = &mut decoder.handler;
    if let Err(e) = &read {
        let r = app.printer.capture_error(&format!("{e:#}"));
        app.io(r);
    }
    app.finish();
    // `--flow=ID` for a Call-ID the capture does not have is a "no", not an empty success
    // (a truncated capture stays the input error it is).
    let missing_call = match &app.config.mode {
        Mode::Flow(Some(id)) if app.flows.is_empty() && read.is_ok() => {
            let name = input.as_ref().map_or_else(
                || crate::output::STDIN_NAME.to_string(),
                |p| p.display().to_string(),
            );
            Some(format!("no call with Call-ID {id} in {name}"))
        }
        _ => None,
    };
    if let Some(message) = &missing_call {
        let r = app.printer.capture_error(message);
        app.io(r);
    }
    if let Some(e) = app.error.take() {
        return Err(e);
    }
    app.printer
        .flush()
        .context("writing results to standard output")?;
    read?;
    match missing_call {
        Some(message) => Err(crate::exit::Failure {
            exit: Exit::Negative,
            message,
        }
        .into()),
        None => Ok(Exit::Success),
    }
}

/// Read the whole capture into `sink`.
fn read_capture(
    input: Option<&std::path::Path>,
    options: crate::capture::Options,
    sink: &mut dyn crate::capture::Sink,
) -> anyhow::Result<()> {
    let name = input.map_or_else(
        || crate::output::STDIN_NAME.to_string(),
        |p| p.display().to_string(),
    );
    let mut reader = match input {
        Some(path) => crate::capture::Reader::open(path, options),
        None => crate::capture::Reader::new(std::io::stdin(), options),
    }
    .map_err(|e| match e {
        // `cannot open FILE: ...` names the file already.
        crate::capture::CaptureError::Open { .. } => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context(format!("reading {name}")),
    })?;
    let stats = reader
        .run(sink)
        .with_context(|| format!("reading {name}"))?;
    tracing::info!(
        "{name}: {} frames, {} bytes, {} payloads, {} TCP stream directions",
        stats.frames,
        stats.bytes,
        stats.payloads,
        stats.streams
    );
    Ok(())
}

/// `--write`: a classic pcap whose link type is that of the first packet written (a pcap file
/// has one); packets of other link types are left out, with a warning.
#[derive(Debug)]
struct PcapOut {
    file: Option<std::io::BufWriter<std::fs::File>>,
    writer: Option<crate::capture::write::PcapWriter<std::io::BufWriter<std::fs::File>>>,
    other_linktypes: u64,
}

impl PacketOut for PcapOut {
    fn packet(&mut self, p: &RawPacket) -> std::io::Result<()> {
        if self.writer.is_none() {
            if let Some(file) = self.file.take() {
                let format = crate::capture::write::PcapFormat::new(p.linktype);
                self.writer = Some(crate::capture::write::PcapWriter::new(file, format)?);
            }
        }
        match &mut self.writer {
            Some(w) if w.format().linktype == p.linktype => w.write_raw(p),
            _ => {
                self.other_linktypes += 1;
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.other_linktypes > 0 {
            tracing::warn!(
                "--write: {} packets left out: their link type differs from the first packet's",
                self.other_linktypes
            );
        }
        if let Some(file) = self.file.take() {
            // Nothing matched: still a valid, empty capture.
            let format =
                crate::capture::write::PcapFormat::new(crate::capture::write::linktype::ETHERNET);
            self.writer = Some(crate::capture::write::PcapWriter::new(file, format)?);
        }
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

fn open_pcap_out(path: &std::path::Path) -> anyhow::Result<Box<dyn PacketOut>> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    Ok(Box::new(PcapOut {
        file: Some(std::io::BufWriter::new(file)),
        writer: None,
        other_linktypes: 0,
    }))
}
