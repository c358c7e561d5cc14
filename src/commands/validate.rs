//! `sipkit validate`: lint SIP, SDP and MSRP messages read from files, directories or standard
//! input, and report each finding the way a compiler reports an error.
//!
//! Unreadable inputs do not stop the run: the readable ones are still checked, the others are
//! reported by path with the OS error, and the run ends with status 2. No input is read past
//! `--max-size`, so a FIFO, a device or an endless standard input cannot exhaust memory, and
//! special files met while walking a directory are never opened (opening a FIFO blocks).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::error::ErrorKind;

use crate::cli::{Kind, Leniency, ValidateArgs};
use crate::exit::Exit;
use crate::output::{Checked, Event, InputError, Printer, STDIN_NAME, Summary};
use crate::proto::sniff::Expected;
use crate::proto::{self, Finding, ParseError, Severity};

/// File extensions searched for inside directories (compared without case).
/// `.dat` is what the RFC 4475 torture-test archive uses.
pub(crate) const EXTENSIONS: [&str; 5] = ["sip", "sdp", "msrp", "msg", "dat"];

/// What to check and how, checked before any file is opened.
#[derive(Debug)]
pub(crate) struct Config {
    inputs: Vec<Input>,
    kind: Option<Kind>,
    strict: bool,
    /// Most bytes read from one input.
    max_size: usize,
    allow: Vec<Leniency>,
}

#[derive(Debug, PartialEq, Eq)]
enum Input {
    Stdin,
    Path(PathBuf),
}

impl Config {
    pub(crate) fn new(args: ValidateArgs) -> Result<Config, clap::Error> {
        if args.paths.is_empty() {
            return Err(super::usage_error(
                "validate",
                ErrorKind::MissingRequiredArgument,
                "no input given: pass files or directories to check, or `-` to read one message \
                 from standard input",
            ));
        }
        let inputs: Vec<Input> = args
            .paths
            .into_iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    Input::Stdin
                } else {
                    Input::Path(p)
                }
            })
            .collect();
        if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
            return Err(super::usage_error(
                "validate",
                ErrorKind::ArgumentConflict,
                "`-` (standard input) can be given only once",
            ));
        }
        Ok(Config {
            inputs,
            kind: args.kind,
            strict: args.strict,
            max_size: args.max_size,
            allow: args.allow,
        })
    }
}

/// Check every input, emitting one event per message and a summary.
pub(crate) fn run<W: Write>(config: &Config, printer: &mut Printer<W>) -> anyhow::Result<Exit> {
    let mut summary = Summary::default();
    let mut seen_dirs = HashSet::new();
    // An empty input is shown as a message with `input.empty`, but like an unreadable one it
    // is an input error: the question could not be asked (exit status 2, as README says).
    let mut empty_input = false;
    for input in &config.inputs {
        match input {
            Input::Stdin => {
                let content = read_bounded(io::stdin().lock(), config.max_size);
                empty_input |= content.as_ref().is_ok_and(Vec::is_empty);
                report(config, printer, &mut summary, STDIN_NAME, None, content)?;
            }
            Input::Path(path) => {
                let mut found = Vec::new();
                match fs::metadata(path) {
                    Ok(meta) if meta.is_dir() => {
                        walk(path, &mut seen_dirs, &mut found);
                        if !found.iter().any(|f| !matches!(f, Found::Special(..))) {
                            // A CI job pointed at the wrong directory must not pass silently.
                            let why = format!(
                                "no message files (.{}) in this directory or below",
                                EXTENSIONS.join(", .")
                            );
                            found.push(Found::Unlistable(
                                path.clone(),
                                io::Error::new(io::ErrorKind::NotFound, why),
                            ));
                        }
                    }
                    // Files named on the command line are read whatever their extension and
                    // whatever their type: a FIFO or a device is read up to --max-size.
                    _ => found.push(Found::File(path.clone())),
                }
                for entry in found {
                    match entry {
                        Found::File(file) => {
                            tracing::debug!("checking {}", file.display());
                            let content = read_path(&file, config.max_size);
                            empty_input |= content.as_ref().is_ok_and(Vec::is_empty);
                            let name = file.display().to_string();
                            report(config, printer, &mut summary, &name, Some(&file), content)?;
                        }
                        Found::Unlistable(dir, error) => {
                            let name = dir.display().to_string();
                            let error = Err(InputError::Unreadable(error));
                            report(config, printer, &mut summary, &name, None, error)?;
                        }
                        Found::Special(file, what) => {
                            summary.add_skipped();
                            printer
                                .emit(&Event::Skipped {
                                    file: &file.display().to_string(),
                                    what,
                                })
                                .context("writing results to standard output")?;
                        }
                    }
                }
            }
        }
    }
    printer
        .emit(&Event::Summary(&summary))
        .context("writing results to standard output")?;
    Ok(if summary.unreadable > 0 || empty_input {
        Exit::Usage
    } else if summary.invalid > 0 {
        Exit::Negative
    } else {
        Exit::Success
    })
}

/// Read a file named on the command line or found in a directory. A regular file larger than
/// `limit` is refused before reading; anything else (FIFO, device) is read up to `limit`.
fn read_path(path: &Path, limit: usize) -> Result<Vec<u8>, InputError> {
    let file = File::open(path).map_err(InputError::Unreadable)?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > limit as u64
    {
        return Err(InputError::TooLarge { limit });
    }
    read_bounded(file, limit)
}

/// Read to the end, or fail as soon as more than `limit` bytes came: one byte past the limit
/// tells a too-large input from one of exactly `limit` bytes, and memory stays bounded.
fn read_bounded(reader: impl Read, limit: usize) -> Result<Vec<u8>, InputError> {
    let mut buf = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(InputError::Unreadable)?;
    if buf.len() > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(buf)
}

/// Check one input (or report why it could not be read) and count it.
fn report<W: Write>(
    config: &Config,
    printer: &mut Printer<W>,
    summary: &mut Summary,
    file: &str,
    path: Option<&Path>,
    content: Result<Vec<u8>, InputError>,
) -> anyhow::Result<()> {
    let event_result = match content {
        Ok(source) => {
            let (kind, findings) = check(config, &source, path);
            let checked = Checked {
                file,
                kind,
                source: &source,
                findings: &findings,
            };
            summary.add(&checked);
            printer.emit(&Event::Checked(checked))
        }
        Err(error) => {
            summary.add_unreadable();
            printer.emit(&Event::Unreadable {
                file,
                error: &error,
            })
        }
    };
    event_result.context("writing results to standard output")
}

/// Lint one message with the parser for its kind.
fn check(config: &Config, source: &[u8], path: Option<&Path>) -> (Kind, Vec<Finding>) {
    let kind = config.kind.unwrap_or_else(|| detect(source, path));
    let mut findings = if source.is_empty() {
        vec![Finding::error(ParseError::new(
            "input.empty",
            format!("empty input: expected one {} message", kind.as_str()),
            0,
            0,
            "",
        ))]
    } else if let Some(e) = not_a_message(source, kind) {
        vec![Finding::error(e)]
    } else {
        match kind {
            Kind::Sip => proto::sip::lint(source),
            Kind::Sdp => proto::sdp::lint(source),
            Kind::Msrp => proto::msrp::lint(source),
        }
    };
    // The linters bound what they store as they go; this folds what they add otherwise.
    proto::error::fold_repeats(&mut findings);
    if config.strict {
        make_strict(&mut findings);
    }
    allow(&config.allow, &mut findings);
    (kind, findings)
}

/// One `input.not-a-message` finding for binary data or a file of another kind, instead of a
/// grammar error for every line of it.
fn not_a_message(source: &[u8], kind: Kind) -> Option<ParseError> {
    let expected = match kind {
        Kind::Sip => Expected::Sip,
        Kind::Sdp => Expected::Sdp,
        Kind::Msrp => Expected::Msrp,
    };
    proto::sniff::not_a_message(source, expected)
}

/// `--allow`: an error a named leniency covers becomes a warning that says which one allowed
/// it. Applied after `--strict`, so naming a leniency wins over the blanket flag.
fn allow(allowed: &[Leniency], findings: &mut [Finding]) {
    for f in findings {
        if f.severity != Severity::Error {
            continue;
        }
        if let Some(l) = allowed.iter().find(|l| covers(**l, &f.error)) {
            f.severity = Severity::Warning;
            f.error
                .message
                .push_str(&format!(" (allowed by --allow {})", l.as_str()));
        }
    }
}

/// Whether leniency `l` covers error `e`; each corresponds to a tolerance of the codec (the
/// options of `proto::sip::ParseOptions` and `proto::sdp::ParseOptions`).
fn covers(l: Leniency, e: &ParseError) -> bool {
    match l {
        Leniency::LfLineEnds => matches!(
            e.code,
            "sip.line.bare-lf" | "msrp.line.bare-lf" | "sdp.line.bare-lf"
        ),
        Leniency::MissingReasonSpace => {
            e.code == "sip.status-line.reason" && e.message.starts_with("expected SP after")
        }
        Leniency::MissingFinalLineEnd => e.code == "sdp.line.unterminated",
    }
}

/// `--strict`: every warning becomes an error, before counting and printing, so all formats
/// and the exit status agree.
fn make_strict(findings: &mut [Finding]) {
    for f in findings {
        f.severity = Severity::Error;
    }
}

/// The kind of a message from its first line: `MSRP ` starts an MSRP request or response
/// (RFC 4975 §9: `MSRP SP transact-id ...`), `v=` starts a session description (RFC 8866 §5)
/// and `m=` a bare media section. When the first line says none of these, a `.sdp` or `.msrp`
/// file name decides (a broken description is still linted as one); anything else is SIP.
fn detect(source: &[u8], path: Option<&Path>) -> Kind {
    if source.starts_with(b"MSRP ") {
        Kind::Msrp
    } else if source.starts_with(b"v=") || source.starts_with(b"m=") {
        Kind::Sdp
    } else {
        match path.and_then(Path::extension).and_then(OsStr::to_str) {
            Some(ext) if ext.eq_ignore_ascii_case("sdp") => Kind::Sdp,
            Some(ext) if ext.eq_ignore_ascii_case("msrp") => Kind::Msrp,
            _ => Kind::Sip,
        }
    }
}

/// Files to check under `dir`, depth first, in sorted order, skipping hidden entries and files
/// without a message extension. Symlinks are followed, but a directory already visited (a
/// symlink loop, or two links to one place) is not entered again. A directory that cannot be
/// listed comes back as an error, to be reported as unreadable; a FIFO, socket or device with a
/// message extension comes back as special, to be reported but never opened.
fn walk(dir: &Path, seen: &mut HashSet<PathBuf>, found: &mut Vec<Found>) {
    let real = match fs::canonicalize(dir) {
        Ok(real) => real,
        Err(error) => return found.push(Found::Unlistable(dir.to_path_buf(), error)),
    };
    if !seen.insert(real) {
        tracing::debug!("{} already visited, not entering it again", dir.display());
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return found.push(Found::Unlistable(dir.to_path_buf(), error)),
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for path in children {
        let name = path.file_name().unwrap_or_default();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, seen, found),
            _ if !has_message_extension(&path) => {
                tracing::debug!("skipping {}: not a message file", path.display());
            }
            Ok(meta) if !meta.is_file() => found.push(Found::Special(path, special(&meta))),
            // A file, or a dangling link: reading it reports the problem.
            _ => found.push(Found::File(path)),
        }
    }
}

/// What a directory walk found.
#[derive(Debug)]
enum Found {
    /// A file to check.
    File(PathBuf),
    /// A FIFO, socket or device, and which; opening a FIFO would wait for a writer, reading a
    /// device may never end.
    Special(PathBuf, &'static str),
    /// A directory that could not be listed, and why.
    Unlistable(PathBuf, io::Error),
}

/// Names the kind of a file that is neither a directory nor a regular file.
fn special(meta: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        }
    }
    let _ = meta;
    "a special file"
}

fn has_message_extension(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_comes_from_the_first_line() {
        assert_eq!(detect(b"MSRP a786hjs2 SEND\r\n", None), Kind::Msrp);
        assert_eq!(detect(b"v=0\r\no=- 1 1 IN IP4 h\r\n", None), Kind::Sdp);
        assert_eq!(detect(b"m=audio 49170 RTP/AVP 0\r\n", None), Kind::Sdp);
        assert_eq!(detect(b"INVITE sip:b@x SIP/2.0\r\n", None), Kind::Sip);
        assert_eq!(detect(b"MSRPX", None), Kind::Sip);
        assert_eq!(detect(b"", None), Kind::Sip);
    }

    #[test]
    fn extension_decides_when_the_first_line_does_not() {
        let sdp = Some(Path::new("d/offer.SDP"));
        let msrp = Some(Path::new("send.msrp"));
        assert_eq!(detect(b"o=- 1 1 IN IP4 h\r\n", sdp), Kind::Sdp);
        assert_eq!(detect(b"", msrp), Kind::Msrp);
        assert_eq!(detect(b"MSRPX a SEND\r\n", msrp), Kind::Msrp);
        // The first line wins over the name.
        assert_eq!(detect(b"MSRP a SEND\r\n", sdp), Kind::Msrp);
        assert_eq!(detect(b"junk\r\n", Some(Path::new("x.sip"))), Kind::Sip);
    }

    #[test]
    fn empty_input_is_an_error_finding() {
        let config = Config {
            inputs: vec![],
            kind: Some(Kind::Msrp),
            strict: false,
            max_size: 100,
            allow: vec![],
        };
        let (kind, findings) = check(&config, b"", None);
        assert_eq!(kind, Kind::Msrp);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].error.code, "input.empty");
        assert_eq!(findings[0].severity, Severity::Error);
    }

    #[test]
    fn strict_turns_warnings_into_errors() {
        let mut findings = vec![
            Finding::warning(ParseError::new("sip.w", "w", 0, 1, "")),
            Finding::error(ParseError::new("sip.e", "e", 0, 1, "")),
        ];
        make_strict(&mut findings);
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
    }

    #[test]
    fn extensions_are_matched_without_case() {
        assert!(has_message_extension(Path::new("a/b.SIP")));
        assert!(has_message_extension(Path::new("b.msrp")));
        assert!(!has_message_extension(Path::new("README.md")));
        assert!(!has_message_extension(Path::new("sip")));
    }
}
