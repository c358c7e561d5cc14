//! `sipkit validate`: lint SIP, SDP and MSRP messages read from files, directories or standard
//! input, and report each finding the way a compiler reports an error.
//!
//! Unreadable inputs do not stop the run: the readable ones are still checked, the others are
//! reported by path with the OS error, and the run ends with status 2.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::error::ErrorKind;

use crate::cli::{Kind, ValidateArgs};
use crate::exit::Exit;
use crate::output::{Checked, Event, Printer, STDIN_NAME, Summary};
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
        })
    }
}

/// Check every input, emitting one event per message and a summary.
pub(crate) fn run<W: Write>(config: &Config, printer: &mut Printer<W>) -> anyhow::Result<Exit> {
    let mut summary = Summary::default();
    let mut seen_dirs = HashSet::new();
    for input in &config.inputs {
        match input {
            Input::Stdin => {
                let mut buf = Vec::new();
                let read = io::stdin().lock().read_to_end(&mut buf);
                report(config, printer, &mut summary, STDIN_NAME, read.map(|_| buf))?;
            }
            Input::Path(path) => {
                let mut files = Vec::new();
                match fs::metadata(path) {
                    Ok(meta) if meta.is_dir() => {
                        walk(path, &mut seen_dirs, &mut files);
                        if files.is_empty() {
                            // A CI job pointed at the wrong directory must not pass silently.
                            let why = format!(
                                "no message files (.{}) in this directory or below",
                                EXTENSIONS.join(", .")
                            );
                            files.push(Err((
                                path.clone(),
                                io::Error::new(io::ErrorKind::NotFound, why),
                            )));
                        }
                    }
                    // Files named on the command line are read whatever their extension.
                    _ => files.push(Ok(path.clone())),
                }
                for file in files {
                    let (name, content) = match file {
                        Ok(file) => {
                            tracing::debug!("checking {}", file.display());
                            (file.display().to_string(), fs::read(&file))
                        }
                        Err((dir, error)) => (dir.display().to_string(), Err(error)),
                    };
                    report(config, printer, &mut summary, &name, content)?;
                }
            }
        }
    }
    printer
        .emit(&Event::Summary(&summary))
        .context("writing results to standard output")?;
    Ok(if summary.unreadable > 0 {
        Exit::Usage
    } else if summary.invalid > 0 {
        Exit::Negative
    } else {
        Exit::Success
    })
}

/// Check one input (or report why it could not be read) and count it.
fn report<W: Write>(
    config: &Config,
    printer: &mut Printer<W>,
    summary: &mut Summary,
    file: &str,
    content: io::Result<Vec<u8>>,
) -> anyhow::Result<()> {
    let event_result = match content {
        Ok(source) => {
            let (kind, findings) = check(config, &source);
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
fn check(config: &Config, source: &[u8]) -> (Kind, Vec<Finding>) {
    let kind = config.kind.unwrap_or_else(|| detect(source));
    let mut findings = if source.is_empty() {
        vec![Finding::error(ParseError::new(
            "input.empty",
            format!("empty input: expected one {} message", kind.as_str()),
            0,
            0,
            "",
        ))]
    } else {
        match kind {
            Kind::Sip => proto::sip::lint(source),
            Kind::Sdp => proto::sdp::lint(source),
            Kind::Msrp => proto::msrp::lint(source),
        }
    };
    if config.strict {
        make_strict(&mut findings);
    }
    (kind, findings)
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
/// and `m=` a bare media section; anything else is taken for SIP.
fn detect(source: &[u8]) -> Kind {
    if source.starts_with(b"MSRP ") {
        Kind::Msrp
    } else if source.starts_with(b"v=") || source.starts_with(b"m=") {
        Kind::Sdp
    } else {
        Kind::Sip
    }
}

/// Files to check under `dir`, depth first, in sorted order, skipping hidden entries and files
/// without a message extension. Symlinks are followed, but a directory already visited (a
/// symlink loop, or two links to one place) is not entered again. A directory that cannot be
/// listed comes back as an error, to be reported as unreadable.
fn walk(dir: &Path, seen: &mut HashSet<PathBuf>, files: &mut Vec<Found>) {
    let real = match fs::canonicalize(dir) {
        Ok(real) => real,
        Err(error) => return files.push(Err((dir.to_path_buf(), error))),
    };
    if !seen.insert(real) {
        tracing::debug!("{} already visited, not entering it again", dir.display());
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return files.push(Err((dir.to_path_buf(), error))),
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for path in children {
        let name = path.file_name().unwrap_or_default();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, seen, files),
            // A file, or a dangling link: reading it reports the problem.
            _ if has_message_extension(&path) => files.push(Ok(path)),
            _ => tracing::debug!("skipping {}: not a message file", path.display()),
        }
    }
}

/// A file to check, or a directory that could not be listed and why.
type Found = Result<PathBuf, (PathBuf, io::Error)>;

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
        assert_eq!(detect(b"MSRP a786hjs2 SEND\r\n"), Kind::Msrp);
        assert_eq!(detect(b"v=0\r\no=- 1 1 IN IP4 h\r\n"), Kind::Sdp);
        assert_eq!(detect(b"m=audio 49170 RTP/AVP 0\r\n"), Kind::Sdp);
        assert_eq!(detect(b"INVITE sip:b@x SIP/2.0\r\n"), Kind::Sip);
        assert_eq!(detect(b"MSRPX"), Kind::Sip);
        assert_eq!(detect(b""), Kind::Sip);
    }

    #[test]
    fn empty_input_is_an_error_finding() {
        let config = Config {
            inputs: vec![],
            kind: Some(Kind::Msrp),
            strict: false,
        };
        let (kind, findings) = check(&config, b"");
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
