//! The command line as clap sees it: raw values only. The `///` comments are the `--help` text;
//! checking that the values make sense together happens in `commands/`, before any work starts.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// A toolkit for SIP (RFC 3261), SDP (RFC 8866) and MSRP (RFC 4975) messages.
///
/// Exit status: 0 success; 1 a negative result (an invalid message was found); 2 a usage or
/// input error (bad flag, unreadable file); 3 a timeout waiting for a peer; 4 a network error.
#[derive(Debug, Parser)]
#[command(
    name = "sipkit",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options accepted by every subcommand, before or after its name.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Output format: `human` for people, `json` for JSON Lines (one object per line, never
    /// coloured), `github` for GitHub Actions annotations (validate only).
    #[arg(long, value_enum, global = true, default_value_t = Format::Human)]
    pub(crate) format: Format,

    /// When to colour the output: `auto` colours only a terminal and honours NO_COLOR.
    #[arg(long, value_enum, global = true, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub(crate) color: ColorWhen,

    /// Print only errors: no warnings, no summary. The exit status still tells the result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// The documented subcommands. `generate` is not among them: it is added, hidden, by
/// [`command`], so completions and man pages (built from `Cli::command()`) never offer it.
// Built once per run: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code.
    ///
    /// Each file holds one message. Directories are searched recursively, in sorted order, for
    /// files ending in .sip, .sdp, .msrp, .msg or .dat (hidden files and directories are skipped);
    /// files named on the command line are read whatever their name. `-` reads standard input.
    ///
    /// Exit status: 0 every message is valid (warnings allowed unless --strict); 1 at least one
    /// message has an error; 2 an input could not be read (the others are still checked).
    Validate(ValidateArgs),

    /// List the SIP and MSRP messages in a packet capture, group them into calls, draw call
    /// flows, count them, extract MSRP files.
    ///
    /// Reads pcap or pcapng (gzip-compressed or not) from FILE or, with `-`, standard input.
    /// SIP and MSRP are recognised by content on any port, over UDP, TCP (reassembled), IP
    /// fragments, HEP and WebSocket. Filters combine with AND; a filter given several times (or
    /// with comma-separated values) matches any of its values.
    ///
    /// Exit status: 0 the capture was decoded (whatever the messages say: decoding is not a
    /// judgement); 2 a usage error, or the capture could not be read to its end (what came
    /// before the error is still printed).
    DecodePcap(DecodePcapArgs),
}

/// What the user asked for.
#[allow(clippy::large_enum_variant)] // built once per run
#[derive(Debug)]
pub(crate) enum Invocation {
    /// A documented subcommand.
    Run(Cli),
    /// The hidden `generate` subcommand.
    Generate {
        global: GlobalArgs,
        args: GenerateArgs,
    },
}

/// The full command line: the documented one plus the hidden `generate`.
pub(crate) fn command() -> clap::Command {
    Cli::command().subcommand(GenerateArgs::augment_args(
        clap::Command::new("generate").hide(true).about(
            "Write shell completions and man pages generated from this command-line definition",
        ),
    ))
}

/// Parse `args` (program name first); `Err` is a usage error, or `--help`/`--version`.
pub(crate) fn parse_from<I, T>(args: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    match matches.subcommand() {
        Some(("generate", sub)) => Ok(Invocation::Generate {
            global: GlobalArgs::from_arg_matches(sub)?,
            args: GenerateArgs::from_arg_matches(sub)?,
        }),
        _ => Cli::from_arg_matches(&matches).map(Invocation::Run),
    }
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Files or directories to check; `-` reads one message from standard input.
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Treat every input as this kind instead of detecting it from the first line
    /// (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body, anything else is SIP).
    #[arg(long, value_enum)]
    pub(crate) kind: Option<Kind>,

    /// Treat warnings as errors.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DecodePcapArgs {
    /// The capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub(crate) input: PathBuf,

    /// Print each message whole (start line, header fields, body) after its summary line.
    #[arg(long, conflicts_with_all = ["calls", "flow", "stats"])]
    pub(crate) full: bool,

    /// Print one row per call (INVITE dialog) instead of one per message: start, from, to,
    /// state, setup times, duration, message count.
    #[arg(long, conflicts_with_all = ["flow", "stats"])]
    pub(crate) calls: bool,

    /// Draw a ladder diagram of each call, or only of the call with this Call-ID
    /// (`--flow=CALL-ID`).
    #[arg(long, value_name = "CALL-ID", num_args = 0..=1, require_equals = true)]
    pub(crate) flow: Option<Option<String>>,

    /// Print counts per method and response code, retransmissions, calls attempted, answered
    /// and failed, answer-seizure ratio and setup times, instead of the messages.
    #[arg(long, conflicts_with = "flow")]
    pub(crate) stats: bool,

    /// Write every reassembled MSRP message or file into DIR (which must exist), named from its
    /// SDP file-selector when known; existing files are never overwritten.
    #[arg(long, value_name = "DIR")]
    pub(crate) extract: Option<PathBuf>,

    /// Write the packets that carried the matching messages to a new pcap file.
    #[arg(long, value_name = "FILE")]
    pub(crate) write: Option<PathBuf>,

    /// Keep only messages with this Call-ID (MSRP: of the call whose SDP set up the session).
    #[arg(long, value_name = "CALL-ID")]
    pub(crate) call_id: Vec<String>,

    /// Keep only requests with this method, or responses to it (by CSeq), e.g. `INVITE,BYE`.
    #[arg(long, value_name = "METHOD", value_delimiter = ',')]
    pub(crate) method: Vec<String>,

    /// Keep only responses with this status: a code (`486`) or a class (`4xx`).
    #[arg(long, value_name = "STATUS", value_delimiter = ',')]
    pub(crate) status: Vec<String>,

    /// Keep only messages from or to this address: `IP`, `IP:PORT` or `[IPv6]:PORT`.
    #[arg(long, value_name = "IP[:PORT]")]
    pub(crate) host: Vec<String>,

    /// Keep only messages whose text (start line, header fields, body) matches this regular
    /// expression.
    #[arg(long, value_name = "REGEX")]
    pub(crate) grep: Option<String>,

    /// Keep only messages carried over this transport.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(crate) transport: Vec<TransportName>,

    /// Most bytes buffered per TCP stream direction while waiting for the end of a message;
    /// a message larger than this is dropped and reported. Accepts K, M and G suffixes.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    pub(crate) max_stream_buffer: usize,
}

/// A transport name as `--transport` accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TransportName {
    /// UDP datagrams (also HEP-encapsulated ones).
    Udp,
    /// TCP streams.
    Tcp,
    /// WebSocket messages (RFC 7118).
    Ws,
}

/// `123`, `64K`, `16M`, `1G` (powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("expected a number of bytes like 65536, 64K or 16M, found {s:?}"))?;
    n.checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{s} is out of range"))
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Directory to write into: completions go to DIR/completions, man pages to DIR/man.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) out: PathBuf,
}

/// How results are written to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Compiler-style diagnostics with source excerpts and a summary.
    Human,
    /// JSON Lines: one object per message and a final summary object.
    Json,
    /// GitHub Actions workflow commands (`::error file=...::...`); validate only.
    Github,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorWhen {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour, even into a pipe or file.
    Always,
    /// Never colour.
    Never,
}

/// The protocol a message is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// A SIP request or response (RFC 3261), with its SDP body if any.
    Sip,
    /// An SDP session description (RFC 8866).
    Sdp,
    /// An MSRP request or response (RFC 4975).
    Msrp,
}

impl Kind {
    /// The lowercase name, as printed and in JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Sip => "sip",
            Kind::Sdp => "sdp",
            Kind::Msrp => "msrp",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn flow_takes_an_optional_call_id_only_with_equals() {
        let Ok(Invocation::Run(cli)) = parse_from(["sipkit", "decode-pcap", "--flow", "a.pcap"])
        else {
            panic!("did not parse");
        };
        let Command::DecodePcap(args) = cli.command else {
            panic!("not decode-pcap");
        };
        assert_eq!(args.flow, Some(None));
        assert_eq!(args.input, PathBuf::from("a.pcap"));
    }

    #[test]
    fn definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn generate_is_hidden_and_gets_global_options() {
        assert!(Cli::command().find_subcommand("generate").is_none());
        let parsed = parse_from(["sipkit", "generate", "--out", "x", "--format", "json", "-q"])
            .expect("valid");
        let Invocation::Generate { global, args } = parsed else {
            panic!("expected generate, got {parsed:?}");
        };
        assert_eq!((global.format, global.quiet), (Format::Json, true));
        assert_eq!(args.out, PathBuf::from("x"));
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        for args in [
            ["sipkit", "--format", "github", "validate", "-"],
            ["sipkit", "validate", "--format", "github", "-"],
        ] {
            let Ok(Invocation::Run(cli)) = parse_from(args) else {
                panic!("{args:?} did not parse");
            };
            assert_eq!(cli.global.format, Format::Github);
        }
    }
}
