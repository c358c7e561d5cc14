//! Everything that decides how results look: the events commands emit, the one printer chosen
//! per run (human, JSON Lines or GitHub annotations), colour, and logging to standard error.
//!
//! Commands never write to stdout themselves; they hand typed events to a [`Printer`], so the
//! three formats cannot drift apart and colour is decided once, here, for the whole run.

pub(crate) mod decode;
mod github;
mod human;
pub(crate) mod invite;
mod json;
pub(crate) mod listen;
mod locate;
pub(crate) mod send;

use std::io::{self, IsTerminal, Write};

use anstream::{AutoStream, ColorChoice};

use crate::cli::{ColorWhen, Format, Kind};
use crate::proto::{Finding, Severity};

/// Name shown for standard input, in every format.
pub(crate) const STDIN_NAME: &str = "<stdin>";

/// One message checked by `validate`, with what the linter found in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked<'a> {
    /// The path as given (or found under a directory), or [`STDIN_NAME`].
    pub(crate) file: &'a str,
    pub(crate) kind: Kind,
    /// The whole message; findings point into it.
    pub(crate) source: &'a [u8],
    /// In order of appearance; `--strict` has already turned warnings into errors.
    pub(crate) findings: &'a [Finding],
}

impl Checked<'_> {
    /// Valid means no error-level findings: warnings alone do not make a message invalid.
    pub(crate) fn is_valid(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// Totals for one `validate` run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) files: usize,
    pub(crate) valid: usize,
    pub(crate) invalid: usize,
    pub(crate) unreadable: usize,
    /// Special files (FIFOs, sockets, devices) found in a directory and not read; they count
    /// in none of the other fields.
    pub(crate) skipped: usize,
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
}

impl Summary {
    /// Count one checked message.
    pub(crate) fn add(&mut self, checked: &Checked<'_>) {
        self.files += 1;
        if checked.is_valid() {
            self.valid += 1;
        } else {
            self.invalid += 1;
        }
        for f in checked.findings {
            match f.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
    }

    /// Count one input that could not be read.
    pub(crate) fn add_unreadable(&mut self) {
        self.files += 1;
        self.unreadable += 1;
    }

    /// Count one special file left out of a directory walk.
    pub(crate) fn add_skipped(&mut self) {
        self.skipped += 1;
    }
}

/// Why an input was not checked; both end the run with status 2.
#[derive(Debug)]
pub(crate) enum InputError {
    /// Reading it (or listing a directory) failed.
    Unreadable(io::Error),
    /// It holds more than `--max-size` bytes; reading stopped there.
    TooLarge { limit: usize },
}

impl InputError {
    /// The diagnostic code, in the `input.` family of `input.empty`.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            InputError::Unreadable(_) => "input.unreadable",
            InputError::TooLarge { .. } => "input.too-large",
        }
    }

    /// What went wrong, without the file name.
    pub(crate) fn reason(&self) -> String {
        match self {
            InputError::Unreadable(e) => e.to_string(),
            InputError::TooLarge { limit } => format!(
                "larger than the --max-size limit of {} (raise it to check this input)",
                binary_size(*limit)
            ),
        }
    }

    /// The whole sentence printed for `file`.
    pub(crate) fn message(&self, file: &str) -> String {
        match self {
            InputError::Unreadable(e) => format!("cannot read {file}: {e}"),
            InputError::TooLarge { .. } => format!("{file} is {}", self.reason()),
        }
    }
}

/// What a command reports; the printer decides how it looks.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// A message was checked (valid or not).
    Checked(Checked<'a>),
    /// An input could not be read, or is too large; the run goes on with the others.
    Unreadable {
        file: &'a str,
        error: &'a InputError,
    },
    /// A special file (FIFO, socket, device) found in a directory was not read.
    Skipped { file: &'a str, what: &'a str },
    /// The run is over.
    Summary(&'a Summary),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Human,
    Json,
    Github,
}

/// Renders events in the format chosen for the run.
#[derive(Debug)]
pub(crate) struct Printer<W: Write> {
    style: Style,
    quiet: bool,
    /// Flush after each message so a person watching a terminal sees progress.
    interactive: bool,
    out: W,
}

/// Standard output, buffered, stripping or keeping colour as decided by [`color_choice`].
pub(crate) type Stdout = AutoStream<Box<dyn Write>>;

impl Printer<Stdout> {
    /// The printer for this run, writing to standard output.
    pub(crate) fn stdout(format: Format, color: ColorWhen, quiet: bool) -> Self {
        let stdout = io::stdout();
        let choice = color_choice(color, format, &stdout);
        let interactive = stdout.is_terminal();
        let raw: Box<dyn Write> = Box::new(io::BufWriter::new(stdout.lock()));
        let mut printer = Printer::new(format, quiet, AutoStream::new(raw, choice));
        printer.interactive = interactive;
        printer
    }
}

impl<W: Write> Printer<W> {
    /// A printer writing `format` to `out`; styled output is always produced, `out` decides
    /// whether the escape codes reach the reader.
    pub(crate) fn new(format: Format, quiet: bool, out: W) -> Self {
        let style = match format {
            Format::Human => Style::Human,
            Format::Json => Style::Json,
            Format::Github => Style::Github,
        };
        Printer {
            style,
            quiet,
            interactive: false,
            out,
        }
    }

    /// Render one event. `--quiet` drops warnings, valid messages and the summary here, so
    /// every format honours it the same way.
    pub(crate) fn emit(&mut self, event: &Event<'_>) -> io::Result<()> {
        let kept;
        let event = match event {
            Event::Summary(_) | Event::Skipped { .. } if self.quiet => return Ok(()),
            Event::Checked(c) if self.quiet => {
                kept = c
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .cloned()
                    .collect::<Vec<_>>();
                if kept.is_empty() {
                    return Ok(());
                }
                &Event::Checked(Checked {
                    findings: &kept,
                    ..*c
                })
            }
            other => other,
        };
        match self.style {
            Style::Human => human::write(&mut self.out, event)?,
            Style::Json => json::write(&mut self.out, event)?,
            Style::Github => github::write(&mut self.out, event)?,
        }
        if self.interactive {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Push buffered output out; call once at the end of a run so write errors are seen.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// How a SIP status code is coloured in every subcommand's human output: 1xx cyan, 2xx green,
/// 3xx yellow, 4xx-6xx red.
pub(crate) fn status_style(code: u16) -> anstyle::Style {
    let color = match code {
        100..=199 => anstyle::AnsiColor::Cyan,
        200..=299 => anstyle::AnsiColor::Green,
        300..=399 => anstyle::AnsiColor::Yellow,
        _ => anstyle::AnsiColor::Red,
    };
    color.on_default().bold()
}

/// Whether to colour `stream`: JSON and GitHub annotations are read by programs and are never
/// coloured; `--color always|never` wins over the environment; `auto` colours a terminal
/// unless NO_COLOR is set (CLICOLOR_FORCE forces colour).
pub(crate) fn color_choice(
    color: ColorWhen,
    format: Format,
    stream: &impl anstream::stream::RawStream,
) -> ColorChoice {
    match (format, color) {
        (Format::Json | Format::Github, _) | (_, ColorWhen::Never) => ColorChoice::Never,
        (_, ColorWhen::Always) => ColorChoice::Always,
        (_, ColorWhen::Auto) => AutoStream::choice(stream),
    }
}

/// Send `tracing` logs to standard error. `-v` shows info, `-vv` debug, `-vvv` trace; without
/// `-v`, a RUST_LOG-style filter in `SIPKIT_LOG` applies, else only warnings; `-q` keeps errors.
pub(crate) fn init_logging(verbose: u8, quiet: bool, color: ColorWhen) {
    use tracing_subscriber::EnvFilter;
    let filter = match (quiet, verbose) {
        (true, _) => EnvFilter::new("error"),
        (false, 0) => EnvFilter::try_from_env("SIPKIT_LOG").unwrap_or_else(|_| "warn".into()),
        (false, 1) => EnvFilter::new("info"),
        (false, 2) => EnvFilter::new("debug"),
        (false, _) => EnvFilter::new("trace"),
    };
    let ansi = color_choice(color, Format::Human, &io::stderr()) != ColorChoice::Never;
    // A second init (tests calling run twice in one process) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(ansi)
        .without_time()
        .with_target(false)
        .try_init();
}

/// `16 MiB`, `64 KiB`, or `1000 bytes` when not a whole number of either.
fn binary_size(n: usize) -> String {
    match n {
        0 => "0 bytes".into(),
        n if n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => plural(n, "byte", "bytes"),
    }
}

/// "1 file" / "2 files".
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The one-line summary shared by the human and GitHub formats:
/// `3 files: 1 valid, 2 invalid (4 errors, 1 warning)`.
fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{}: {} valid, {} invalid",
        plural(s.files, "file", "files"),
        s.valid,
        s.invalid
    );
    if s.unreadable > 0 {
        line.push_str(&format!(", {} unreadable", s.unreadable));
    }
    if s.skipped > 0 {
        line.push_str(&format!(", {} skipped", s.skipped));
    }
    line.push_str(&format!(
        " ({}, {})",
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings")
    ));
    line
}

/// The one JSON object of a usage or input error, fields in this order.
#[derive(serde::Serialize)]
struct ErrorLine<'a> {
    #[serde(rename = "type")]
    kind_of_line: &'static str,
    exit: u8,
    kind: &'static str,
    subcommand: Option<&'a str>,
    message: String,
}

/// An input error for scripts (`--format json`): `{"type":"error","exit":2,"kind":"input",
/// "subcommand":...,"message":...}`, the shape of [`usage_error_json`].
pub(crate) fn input_error_json(
    out: &mut impl Write,
    subcommand: &str,
    message: &str,
) -> io::Result<()> {
    let line = ErrorLine {
        kind_of_line: "error",
        exit: crate::exit::Exit::Usage.code(),
        kind: "input",
        subcommand: Some(subcommand),
        message: message.to_owned(),
    };
    serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A usage error for scripts (`--format json`): one object on standard output, whatever the
/// subcommand, `{"type":"error","exit":2,"kind":"usage","subcommand":...,"message":...}`,
/// alongside clap's text on standard error for people. `message` is the error's first
/// paragraph without clap's `error: ` prefix.
pub(crate) fn usage_error_json(
    out: &mut impl Write,
    subcommand: Option<&str>,
    rendered: &str,
) -> io::Result<()> {
    let first: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim_end)
        .collect();
    let message = first.join("\n");
    let message = message
        .strip_prefix("error: ")
        .unwrap_or(&message)
        .to_string();
    let line = ErrorLine {
        kind_of_line: "error",
        exit: crate::exit::Exit::Usage.code(),
        kind: "usage",
        subcommand,
        message,
    };
    serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ParseError;

    fn finding(severity: Severity, offset: usize, len: usize) -> Finding {
        Finding {
            severity,
            error: ParseError::new("sip.test", "bad thing", offset, len, "RFC 3261 §7"),
        }
    }

    fn render(format: Format, quiet: bool, events: &[Event<'_>]) -> String {
        let mut p = Printer::new(format, quiet, Vec::new());
        for e in events {
            p.emit(e).expect("writing to a Vec cannot fail");
        }
        String::from_utf8(p.out).expect("printers write UTF-8")
    }

    #[test]
    fn summary_line_pluralises_and_mentions_unreadable_only_when_present() {
        let mut s = Summary {
            files: 3,
            valid: 1,
            invalid: 2,
            unreadable: 0,
            skipped: 0,
            errors: 4,
            warnings: 1,
        };
        assert_eq!(
            summary_line(&s),
            "3 files: 1 valid, 2 invalid (4 errors, 1 warning)"
        );
        s = Summary {
            files: 1,
            unreadable: 1,
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&s),
            "1 file: 0 valid, 0 invalid, 1 unreadable (0 errors, 0 warnings)"
        );
    }

    #[test]
    fn sizes_are_shown_in_binary_units_when_whole() {
        assert_eq!(binary_size(16 << 20), "16 MiB");
        assert_eq!(binary_size(1024), "1 KiB");
        assert_eq!(binary_size(2 << 30), "2 GiB");
        assert_eq!(binary_size(1000), "1000 bytes");
        assert_eq!(binary_size(1), "1 byte");
    }

    #[test]
    fn summary_counts_messages_and_findings() {
        let findings = [
            finding(Severity::Error, 0, 1),
            finding(Severity::Warning, 0, 1),
        ];
        let bad = Checked {
            file: "a",
            kind: Kind::Sip,
            source: b"x",
            findings: &findings,
        };
        let good = Checked {
            findings: &findings[1..],
            ..bad
        };
        let mut s = Summary::default();
        s.add(&bad);
        s.add(&good);
        s.add_unreadable();
        assert_eq!(
            s,
            Summary {
                files: 3,
                valid: 1,
                invalid: 1,
                unreadable: 1,
                skipped: 0,
                errors: 1,
                warnings: 2
            }
        );
    }

    #[test]
    fn quiet_drops_warnings_valid_messages_and_the_summary() {
        let findings = [
            finding(Severity::Warning, 0, 1),
            finding(Severity::Error, 2, 1),
        ];
        let bad = Checked {
            file: "bad.sip",
            kind: Kind::Sip,
            source: b"abc",
            findings: &findings,
        };
        let good = Checked {
            file: "good.sip",
            findings: &findings[..1],
            ..bad
        };
        let summary = Summary::default();
        let events = [
            Event::Checked(good),
            Event::Checked(bad),
            Event::Summary(&summary),
        ];
        for format in [Format::Human, Format::Json, Format::Github] {
            let loud = render(format, false, &events);
            let quiet = render(format, true, &events);
            assert!(loud.contains("warning"), "{format:?}: {loud}");
            assert!(!quiet.contains("warning"), "{format:?}: {quiet}");
            assert!(!quiet.contains("good.sip"), "{format:?}: {quiet}");
            assert!(quiet.contains("bad.sip"), "{format:?}: {quiet}");
            assert!(!quiet.contains("files"), "{format:?}: {quiet}");
        }
    }

    #[test]
    fn json_and_github_are_never_coloured() {
        for format in [Format::Json, Format::Github] {
            assert_eq!(
                color_choice(ColorWhen::Always, format, &Vec::<u8>::new()),
                ColorChoice::Never
            );
        }
        assert_eq!(
            color_choice(ColorWhen::Always, Format::Human, &Vec::<u8>::new()),
            ColorChoice::Always
        );
    }
}
