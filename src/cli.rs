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
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code.
    ///
    /// Each file holds one message. Directories are searched recursively, in sorted order, for
    /// files ending in .sip, .sdp, .msrp, .msg or .dat (hidden files and directories are skipped,
    /// and so are FIFOs, sockets and devices, with a notice); files named on the command line are
    /// read whatever their name. `-` reads standard input. No input is read past --max-size.
    ///
    /// Exit status: 0 every message is valid (warnings allowed unless --strict); 1 at least one
    /// message has an error; 2 an input is empty, could not be read or is larger than
    /// --max-size (the others are still checked).
    #[command(
        after_help = "Examples:\n  sipkit validate invite.sip                  Check one message\n  sipkit validate --strict tests/messages/    Every message file below a directory; warnings fail too\n  sipkit validate --kind sdp - < offer.sdp    An SDP body from standard input\n  sipkit validate --format github msgs/       Annotations for a GitHub Actions job\n  sipkit validate --allow lf-line-ends x.sip  Accept LF line ends saved by an editor"
    )]
    Validate(ValidateArgs),

    /// Send one SIP request and report what came back (OPTIONS unless METHOD is given).
    ///
    /// TARGET is a SIP URI (`sip:alice@example.com`, `sips:...`, `sip:10.0.0.1:5080;transport=tcp`)
    /// or a host with optional port and transport (`example.com`, `tcp:10.0.0.1:5060`). The
    /// server is located per RFC 3263 (NAPTR, SRV, A/AAAA); on a transport error, a timeout or
    /// a 503 the next destination is tried. Retransmissions follow RFC 3261 §17 over UDP.
    ///
    /// A 401 or 407 is answered once per challenge with Digest credentials when --user is given
    /// (password from --password-file, SIPKIT_PASSWORD, --password, or --ha1).
    ///
    /// Exit status: 0 a 2xx final response (or the --expect status); 1 a 3xx-6xx final response
    /// or an unmet --expect; 2 a usage error (checked before any network use); 3 no final
    /// response in time; 4 a DNS, connect or TLS failure.
    #[command(
        after_help = "Examples:\n  sipkit send sip:alice@example.com                    OPTIONS, the server located by RFC 3263\n  sipkit send MESSAGE tcp:10.0.0.1:5060 --text hello   A MESSAGE over TCP\n  sipkit send REGISTER sip:example.com -u alice --password-file pw\n                                                        Register alice (Digest when challenged)\n  sipkit send --resolve-only sip:example.com            Only print the DNS steps and destinations\n  sipkit send --count 1000 --concurrency 8 udp:10.0.0.1 Load: 1000 OPTIONS, 8 in flight\n  sipkit send --traceroute sip:bob@example.com          Max-Forwards 0, 1, 2... to see each hop"
    )]
    Send(Box<SendArgs>),

    /// List the SIP and MSRP messages in a packet capture, group them into calls, draw call
    /// flows, count them, extract MSRP files.
    ///
    /// Reads pcap or pcapng (gzip-compressed or not) from FILE or, with `-`, standard input.
    /// SIP and MSRP are recognised by content on any port, over UDP, TCP (reassembled), IP
    /// fragments, HEP and WebSocket. Filters combine with AND; a filter given several times (or
    /// with comma-separated values) matches any of its values.
    ///
    /// Exit status: 0 the capture was decoded (whatever the messages say: decoding is not a
    /// judgement); 1 --flow=CALL-ID names a call the capture does not have; 2 a usage error,
    /// or the capture could not be read to its end (what came before the error is still
    /// printed).
    #[command(
        after_help = "Examples:\n  sipkit decode-pcap call.pcap                         One line per SIP and MSRP message\n  sipkit decode-pcap --calls trace.pcapng.gz           One row per call\n  sipkit decode-pcap --flow=a84b4c76e66710 call.pcap   The ladder of one call\n  sipkit decode-pcap --stats --status 4xx,5xx big.pcap Counts of failures only\n  sipkit decode-pcap -q --extract out/ msrp.pcap       Only the MSRP files written to out/\n  tcpdump -w - port 5060 | sipkit decode-pcap -        Decode a live capture as it comes"
    )]
    DecodePcap(Box<DecodePcapArgs>),

    /// Answer SIP requests as a user agent server, printing each message as it comes.
    ///
    /// Listens on every --udp, --tcp, --tls, --ws and --wss address given (IPv4 or IPv6, port 0
    /// for one chosen by the system); with none, on UDP and TCP 127.0.0.1:5060. Other
    /// interfaces are an explicit choice (`--udp 0.0.0.0:5060`). The bound addresses are
    /// printed first (a `listening` event in JSON).
    ///
    /// Requests get RFC 3261 server transactions: retransmissions are answered with the last
    /// response, INVITE gets 180 Ringing (for --ring, after a 100 Trying) and 200 OK with an
    /// SDP answer retransmitted until the ACK (no 100 when the answer goes at once, RFC 3261
    /// §17.2.1), CANCEL ends a ringing INVITE with 487 (200 to the CANCEL; 481 when nothing
    /// matches), ACK ends the 200's retransmissions, BYE ends the dialog with 200 (481 outside
    /// a dialog), REGISTER gets 200 (bindings kept and listed with --registrar); OPTIONS
    /// (with Allow and Accept), MESSAGE and NOTIFY get 200; INFO, PRACK and UPDATE get 200
    /// inside a dialog and 481 outside one; any other method gets 501 Not Implemented with
    /// Allow. --reply METHOD=CODE overrides any of these.
    ///
    /// Exit status: 0 --count reached, or stopped by Ctrl-C/SIGTERM (or --timeout without
    /// --count); 2 a usage error, such as an address already in use; 3 --timeout expired
    /// before --count was reached.
    #[command(
        after_help = "Examples:\n  sipkit listen                                     UDP and TCP on 127.0.0.1:5060\n  sipkit listen --udp 0.0.0.0:5060 --registrar      A registrar on every interface\n  sipkit listen --reply INVITE=486 --count 1        Reject the first call as busy, then exit\n  sipkit listen --auth alice:secret --format json   Challenge every request, JSON events\n  sipkit listen --tcp 127.0.0.1:0 --save-dir in/    Accept MSRP files into in/\n  sipkit listen --ws 127.0.0.1:8080 --ring 2s       WebSocket clients; ring 2 s before 200"
    )]
    Listen(Box<ListenArgs>),

    /// Place a call: INVITE with an SDP offer, then ACK, and BYE when done.
    ///
    /// TARGET and the request, transport, DNS, timer and authentication options are those of
    /// `send`. Without content, the call is a test: an audio offer (PCMU, PCMA,
    /// telephone-event), held for --duration, then BYE; the setup times (INVITE to 180, to 200)
    /// are reported. --text, --file and --stdin offer an MSRP session instead (RFC 4975; files
    /// with RFC 5547 name, type, size and SHA-1 hash).
    ///
    /// Provisional responses are shown; a 401 or 407 is answered once per challenge. With
    /// --ring-timeout an unanswered call is cancelled (CANCEL); a 2xx that crosses the CANCEL
    /// is acknowledged and ended with BYE. Ctrl-C cancels a ringing call or ends an answered one
    /// with BYE.
    ///
    /// Exit status: 0 the call was answered (and ended with BYE); 1 the callee rejected it
    /// (3xx-6xx) or the run was interrupted; 2 a usage error (checked before any network use);
    /// 3 no answer in time (transaction timers, --timeout, or --ring-timeout); 4 a DNS, connect
    /// or TLS failure.
    #[command(
        after_help = "Examples:\n  sipkit invite sip:bob@example.com --duration 5s      A test call held 5 s, then BYE\n  sipkit invite tcp:10.0.0.2:5060 --text \"hi there\"    Chat over MSRP\n  sipkit invite sip:bob@example.com --file report.pdf  Send a file (RFC 5547)\n  sipkit invite sip:bob@example.com --ring-timeout 20s Cancel when unanswered after 20 s\n  sipkit invite sip:bob@example.com -u alice --password-file pw\n                                                        Authenticate when challenged"
    )]
    Invite(Box<InviteArgs>),
}

/// What the user asked for.
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
    own_output_help(Cli::command().subcommand(GenerateArgs::augment_args(
        clap::Command::new("generate").hide(true).about(
            "Write shell completions and man pages generated from this command-line definition",
        ),
    )))
}

/// The documented command line, as completions and man pages show it.
pub(crate) fn documented() -> clap::Command {
    own_output_help(Cli::command())
}

/// What `--format` values and `-q` mean for one subcommand: (name, human, json, quiet).
/// `github` is validate's alone.
const OUTPUT_HELP: [(&str, &str, &str, &str); 5] = [
    (
        "validate",
        "Compiler-style diagnostics with source excerpts and a summary",
        "JSON Lines: one object per message and a final summary object",
        "Print only errors: no warnings, no valid messages, no summary. The exit status still \
         tells the result",
    ),
    (
        "send",
        "The messages sent and received as they happen, then the outcome",
        "One JSON document at the end: the messages, the outcome and the exit status",
        "Print nothing for people but errors (no messages, no progress line); JSON is \
         unchanged. The exit status still tells the result",
    ),
    (
        "decode-pcap",
        "One line per message (rows for --calls, a table for --stats, ladders for --flow)",
        "JSON Lines: one object per message, notice, call, flow or stats",
        "Leave out the notices (TCP gaps, dropped bytes, skipped packets, data after the gzip \
         data); messages, summaries and errors are still printed. With --extract, print only \
         the extracted files (and errors)",
    ),
    (
        "listen",
        "One line per message received and sent",
        "JSON Lines: one object per event, `event` naming its kind",
        "Print only the listening addresses and errors",
    ),
    (
        "invite",
        "The call's messages and progress as they happen",
        "JSON Lines, one object per event as it happens",
        "Print nothing for people but errors (no messages, no progress line); JSON is \
         unchanged. The exit status still tells the result",
    ),
];

/// `--format` and `-q` are global (accepted before or after the subcommand), so by default
/// every subcommand's help would describe validate's output and offer `github`. Each
/// subcommand gets its own copy of the two arguments instead (clap propagates a global
/// argument only where none of that name exists, and a value given before the subcommand
/// still reaches it), with its own text; `github` is hidden outside validate (still parsed, so
/// the subcommand refuses it with a message saying why).
fn own_output_help(mut cmd: clap::Command) -> clap::Command {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let global = |id: &'static str| {
        cmd.get_arguments()
            .find(|a| a.get_id() == id)
            .cloned()
            .unwrap_or_else(|| clap::Arg::new(id))
    };
    let (format, quiet_arg) = (global("format"), global("quiet"));
    for (name, human, json, quiet) in OUTPUT_HELP {
        let validate = name == "validate";
        let values = PossibleValuesParser::new([
            PossibleValue::new("human").help(human),
            PossibleValue::new("json").help(json),
            PossibleValue::new("github")
                .help("GitHub Actions workflow commands (`::error file=...::...`)")
                .hide(!validate),
        ])
        .map(|v| match v.as_str() {
            "json" => Format::Json,
            "github" => Format::Github,
            _ => Format::Human,
        });
        let format = format.clone().value_parser(values).help(if validate {
            "Output format: `human` for people, `json` for machines, `github` for GitHub Actions \
             annotations (only `human` is ever coloured)"
        } else {
            "Output format: `human` for people, `json` for machines (never coloured)"
        });
        let quiet = quiet_arg.clone().help(quiet);
        cmd = cmd.mut_subcommand(name, |sub| sub.arg(format).arg(quiet));
    }
    own_request_help(cmd)
}

/// `send` and `invite` share [`ClientArgs`], whose `--uri` and `--to` texts describe `send`
/// (REGISTER included); `invite` only ever sends INVITE, so it gets its own (issue 15).
fn own_request_help(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommand("send", |sub| {
        sub.mut_arg("uri", |a| {
            a.help(
                "Request-URI (default: the target as a SIP URI; for REGISTER the registrar, the \
                 target without its user part). For REGISTER it changes only the Request-URI: \
                 From and To stay the address of record (--from, else sip:USER@TARGET-HOST \
                 with --user)",
            )
        })
    })
    .mut_subcommand("invite", |sub| {
        sub.mut_arg("uri", |a| {
            a.help(
                "Request-URI of the INVITE (default: the target as a SIP URI); also the To \
                 header unless --to is given",
            )
        })
        .mut_arg("to", |a| {
            a.help("To header value: who is called (default: the Request-URI in angle brackets)")
        })
    })
}

/// Parse `args` (program name first); `Err` is a usage error, or `--help`/`--version`.
pub(crate) fn parse_from<I, T>(args: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = command()
        .try_get_matches_from(&args)
        .map_err(|err| flow_with_space(&args, err))?;
    match matches.subcommand() {
        Some(("generate", sub)) => Ok(Invocation::Generate {
            global: GlobalArgs::from_arg_matches(sub)?,
            args: GenerateArgs::from_arg_matches(sub)?,
        }),
        _ => Cli::from_arg_matches(&matches).map(Invocation::Run),
    }
}

/// For a command line clap refused: the subcommand it names (if any) and whether it asked for
/// `--format json` (the last `--format` wins, as in clap; nothing after `--` counts), so the
/// usage error can be written as JSON for scripts too.
pub(crate) fn sniff(args: &[OsString]) -> (Option<&'static str>, bool) {
    let names: Vec<&'static str> = ["validate", "send", "decode-pcap", "listen", "invite"].into();
    let mut subcommand = None;
    let mut json = false;
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        match word.as_ref() {
            "--" => break,
            "--format" => json = words.next().is_some_and(|v| v == "json"),
            w if w.starts_with("--format=") => json = w == "--format=json",
            w if subcommand.is_none() => subcommand = names.iter().copied().find(|n| *n == w),
            _ => {}
        }
    }
    (subcommand, json)
}

/// `decode-pcap --flow ID FILE`: `--flow` takes its value only after `=` (so that `--flow FILE`
/// draws every call), which makes ID the file and FILE an unexpected argument. Say so, with the
/// form that works, instead of clap's "unexpected argument".
fn flow_with_space(args: &[OsString], err: clap::Error) -> clap::Error {
    if err.kind() != clap::error::ErrorKind::UnknownArgument {
        return err;
    }
    let Some(sub) = args.iter().position(|a| a == "decode-pcap") else {
        return err;
    };
    let id = args[sub..]
        .windows(2)
        .find(|w| w[0] == "--flow" && !w[1].to_string_lossy().starts_with('-'))
        .map(|w| w[1].to_string_lossy().into_owned());
    let Some(id) = id else {
        return err;
    };
    let mut cmd = command();
    cmd.build();
    let message = format!(
        "--flow takes a Call-ID only after `=`: write `--flow={id}` (after a space, `{id}` is \
         read as the capture file)"
    );
    match cmd.find_subcommand_mut("decode-pcap") {
        Some(sub) => sub.error(clap::error::ErrorKind::UnknownArgument, message),
        None => err,
    }
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Files or directories to check; `-` reads one message from standard input.
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Treat every input as this kind instead of detecting it from the first line
    /// (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body) or, failing that, from a
    /// `.sdp` or `.msrp` file name; anything else is SIP.
    #[arg(long, value_enum)]
    pub(crate) kind: Option<Kind>,

    /// Treat warnings as errors.
    #[arg(long)]
    pub(crate) strict: bool,

    /// Largest input read, in bytes (K, M and G suffixes); a larger one is not checked and is
    /// an input error (`input.too-large`, exit status 2). Standard input, FIFOs and devices
    /// named on the command line are read up to this size, never further.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    pub(crate) max_size: usize,

    /// Report these departures from the RFCs as warnings instead of errors (comma-separated or
    /// repeated), for files written by editors and tools rather than sent on the wire.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LENIENCY")]
    pub(crate) allow: Vec<Leniency>,
}

/// A departure from the RFCs that `validate --allow` reports as a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Leniency {
    /// Lines ending in LF alone instead of CRLF (SIP: RFC 3261 §7; MSRP: RFC 4975 §9; SDP
    /// bodies already get only a warning, RFC 8866 §5).
    LfLineEnds,
    /// A SIP status line without the SP before an empty reason phrase, `SIP/2.0 200`
    /// (RFC 3261 §7.2).
    MissingReasonSpace,
    /// An SDP body whose last line has no line end (RFC 8866 §9 ends every line with CRLF).
    MissingFinalLineEnd,
}

impl Leniency {
    /// The name `--allow` takes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Leniency::LfLineEnds => "lf-line-ends",
            Leniency::MissingReasonSpace => "missing-reason-space",
            Leniency::MissingFinalLineEnd => "missing-final-line-end",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// `[METHOD] TARGET`: the method (OPTIONS when omitted) and where to send it.
    #[arg(value_name = "[METHOD] TARGET", required = true, num_args = 1..=2)]
    pub(crate) words: Vec<String>,

    /// Expires header in seconds (REGISTER default 3600).
    #[arg(long, value_name = "SECONDS", help_heading = "Request")]
    pub(crate) expires: Option<u32>,

    /// REGISTER only: remove every binding (`Contact: *` with `Expires: 0`, RFC 3261 §10.2.2).
    #[arg(long, help_heading = "Request", conflicts_with_all = ["expires", "contact"])]
    pub(crate) unregister: bool,

    /// The body, as given.
    #[arg(long, value_name = "TEXT", help_heading = "Body", conflicts_with_all = ["body_file", "text"])]
    pub(crate) body: Option<String>,

    /// Read the body from FILE (`-` for standard input).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Body",
        conflicts_with = "text"
    )]
    pub(crate) body_file: Option<PathBuf>,

    /// Content-Type of the body (default application/sdp for INVITE, else text/plain).
    #[arg(long, value_name = "TYPE", help_heading = "Body")]
    pub(crate) content_type: Option<String>,

    /// Send a MESSAGE (RFC 3428) with this text/plain body; METHOD may be omitted.
    #[arg(long, value_name = "TEXT", help_heading = "Body")]
    pub(crate) text: Option<String>,

    /// Send this whole message written by hand (`-` for standard input). `${name}` is replaced
    /// by call_id, branch, from_tag, local_ip, local_port, transport, cseq, target, or a --set
    /// variable; an unknown name is an error. Content-Length is fixed up unless --raw.
    #[arg(long, value_name = "FILE", help_heading = "Whole message", conflicts_with_all = [
        "body", "body_file", "text", "uri", "from", "to", "contact", "call_id", "expires",
        "unregister", "max_forwards", "user_agent", "headers", "content_type"])]
    pub(crate) message: Option<PathBuf>,

    /// Define `${NAME}` for --message, `--set NAME=VALUE`; repeat for more.
    #[arg(
        long = "set",
        value_name = "NAME=VALUE",
        help_heading = "Whole message",
        requires = "message"
    )]
    pub(crate) set: Vec<String>,

    /// With --message: send the bytes exactly as written after substitution (no Content-Length
    /// fix-up, no line-end repair).
    #[arg(long, help_heading = "Whole message", requires = "message")]
    pub(crate) raw: bool,

    /// Load mode: send this many requests in all, each a new call (new Call-ID), to the first
    /// destination, and report status counts and latency percentiles instead of each message.
    /// Not for INVITE (the calls would stay up: use `sipkit invite`).
    #[arg(long, value_name = "N", help_heading = "Load", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) count: Option<u32>,

    /// Load mode: start at most this many requests per second (default: as fast as answers
    /// come). Needs --count.
    #[arg(long, value_name = "PER_SECOND", help_heading = "Load", value_parser = parse_rate)]
    pub(crate) rate: Option<f64>,

    /// Load mode: keep at most this many requests in flight, each on its own socket (default
    /// 1). Needs --count.
    #[arg(long, value_name = "N", help_heading = "Load", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) concurrency: Option<u32>,

    /// Walk the path: send with Max-Forwards 0, 1, 2... (up to --max-forwards, default 70) and
    /// list each hop's 483 Too Many Hops until another response ends the walk.
    #[arg(long, conflicts_with_all = ["message", "resolve_only", "dry_run", "count", "rate", "concurrency"])]
    pub(crate) traceroute: bool,

    /// Print the request that would be sent, without using the network.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Exit 0 only if the final status is one of these (`200,404`, classes like `2xx`).
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub(crate) expect: Vec<String>,

    /// Only locate the server (RFC 3263) and print the destinations; send nothing.
    #[arg(long, help_heading = "Transport", conflicts_with = "dry_run")]
    pub(crate) resolve_only: bool,

    #[command(flatten)]
    pub(crate) client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct InviteArgs {
    /// Whom to call: a SIP URI or a host with optional port and transport, as for `send`.
    #[arg(value_name = "TARGET")]
    pub(crate) target: String,

    /// Send this text over MSRP once the call is up.
    #[arg(long, value_name = "TEXT", help_heading = "Content", conflicts_with_all = ["file", "stdin"])]
    pub(crate) text: Option<String>,

    /// Send this file over MSRP, offered with its name, type, size and SHA-1 hash (RFC 5547).
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Content",
        conflicts_with = "stdin"
    )]
    pub(crate) file: Option<std::path::PathBuf>,

    /// Send standard input over MSRP.
    #[arg(long, help_heading = "Content")]
    pub(crate) stdin: bool,

    /// The content's MIME type (default text/plain for --text and --stdin,
    /// application/octet-stream for --file).
    #[arg(long, value_name = "TYPE", help_heading = "Content")]
    pub(crate) content_type: Option<String>,

    /// Offer MSRP over TLS (`TCP/TLS/MSRP`, an msrps: path). The callee's certificate is
    /// checked against --ca-file (or the system roots; --insecure skips it).
    #[arg(long, help_heading = "Content")]
    pub(crate) msrps: bool,

    /// Wrap the content in message/cpim (RFC 3862) even when the callee accepts its type as
    /// it is (it is wrapped anyway when the answer's a=accept-types allow only message/cpim).
    #[arg(long, help_heading = "Content")]
    pub(crate) cpim: bool,

    /// Body bytes per MSRP SEND chunk (default 65536, 4096 through --relay; chunks over 2048
    /// bytes are sent interruptible, with `*` as the Byte-Range end, RFC 4975 §7.1.1).
    #[arg(long, value_name = "BYTES", help_heading = "Content", value_parser = clap::value_parser!(u32).range(1..=16_777_216))]
    pub(crate) chunk_size: Option<u32>,

    /// Do not ask for a Success-Report: delivery is then confirmed by the 200 of every chunk.
    #[arg(long, help_heading = "Content")]
    pub(crate) no_report: bool,

    /// Send MSRP through this relay (RFC 4976), e.g. `msrps://relay.example.com:2855;tcp`:
    /// AUTH with Digest (--user and its password), then its Use-Path goes in the offer's
    /// a=path and the session runs over that connection. One relay (the first hop) only.
    #[arg(long, value_name = "URI", help_heading = "Content")]
    pub(crate) relay: Option<String>,

    /// Cancel the call (CANCEL) when it is not answered within DURATION (`30s`).
    #[arg(long, value_name = "DURATION", help_heading = "Call", value_parser = parse_duration)]
    pub(crate) ring_timeout: Option<std::time::Duration>,

    /// Keep an answered call up this long before sending BYE (default 0).
    #[arg(long, value_name = "DURATION", help_heading = "Call", value_parser = parse_duration)]
    pub(crate) duration: Option<std::time::Duration>,

    #[command(flatten)]
    pub(crate) client: ClientArgs,
}

/// The options `send` and `invite` share: how the request is addressed and authenticated,
/// and how the server is reached.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// Request-URI (default: the target as a SIP URI; the domain for REGISTER).
    #[arg(long, value_name = "URI", help_heading = "Request")]
    pub(crate) uri: Option<String>,

    /// From header value (default: `<sip:USER@DOMAIN>` with --user, else `<sip:sipkit@LOCAL_IP>`).
    #[arg(long, value_name = "VALUE", help_heading = "Request")]
    pub(crate) from: Option<String>,

    /// To header value (default: the Request-URI; for REGISTER the From address).
    #[arg(long, value_name = "VALUE", help_heading = "Request")]
    pub(crate) to: Option<String>,

    /// Contact header value (default: `<sip:USER@LOCAL_IP:LOCAL_PORT;transport=...>` from the
    /// socket's real address; never added to MESSAGE, RFC 3428 §4).
    #[arg(long, value_name = "VALUE", help_heading = "Request")]
    pub(crate) contact: Option<String>,

    /// Call-ID (default: random).
    #[arg(long, value_name = "ID", help_heading = "Request")]
    pub(crate) call_id: Option<String>,

    /// CSeq number of the first request (default 1); an authenticated retry uses the next one.
    #[arg(long, value_name = "N", help_heading = "Request")]
    pub(crate) cseq: Option<u32>,

    /// Max-Forwards (default 70).
    #[arg(long, value_name = "N", help_heading = "Request")]
    pub(crate) max_forwards: Option<u8>,

    /// User-Agent header value (default `sipkit/VERSION`).
    #[arg(long, value_name = "VALUE", help_heading = "Request")]
    pub(crate) user_agent: Option<String>,

    /// Add a header field, `-H 'Name: value'`; repeat for more.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        help_heading = "Request"
    )]
    pub(crate) headers: Vec<String>,

    /// User name for Digest authentication (and the From/To user for REGISTER).
    #[arg(short, long, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) user: Option<String>,

    /// Read the password from the first line of FILE. SIPKIT_PASSWORD works too.
    #[arg(long, value_name = "FILE", help_heading = "Authentication", conflicts_with_all = ["password", "ha1"])]
    pub(crate) password_file: Option<PathBuf>,

    /// The password on the command line (visible to other users of this machine: prefer
    /// --password-file or SIPKIT_PASSWORD).
    #[arg(
        long,
        value_name = "PASSWORD",
        help_heading = "Authentication",
        conflicts_with = "ha1"
    )]
    pub(crate) password: Option<String>,

    /// HA1 = H(user:realm:password) in hex instead of a password (32 digits for MD5, 64 for
    /// SHA-256 and SHA-512-256).
    #[arg(long, value_name = "HEX", help_heading = "Authentication")]
    pub(crate) ha1: Option<String>,

    /// Answer only challenges with this algorithm (default: the strongest offered).
    #[arg(long, value_enum, value_name = "ALG", help_heading = "Authentication")]
    pub(crate) auth_alg: Option<AuthAlg>,

    /// Local address to send from (`IP` or `IP:PORT`).
    #[arg(long, value_name = "ADDR", help_heading = "Transport")]
    pub(crate) bind: Option<String>,

    /// DNS server to ask instead of the system's (`IP` or `IP:PORT`).
    #[arg(long, value_name = "ADDR", help_heading = "Transport")]
    pub(crate) dns_server: Option<String>,

    /// Trust the CA certificates in this PEM file too (TLS, WSS).
    #[arg(long, value_name = "FILE", help_heading = "Transport")]
    pub(crate) ca_file: Option<PathBuf>,

    /// Accept any server certificate (TLS, WSS). For testing only.
    #[arg(long, help_heading = "Transport")]
    pub(crate) insecure: bool,

    /// Client certificate chain (PEM) for TLS; needs --key.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Transport",
        requires = "key"
    )]
    pub(crate) cert: Option<PathBuf>,

    /// Private key (PEM) for --cert.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Transport",
        requires = "cert"
    )]
    pub(crate) key: Option<PathBuf>,

    /// Timer T1, the round-trip estimate (default 500ms); retransmissions start at T1 and the
    /// transaction gives up after 64*T1.
    #[arg(long, value_name = "DURATION", help_heading = "Timers", value_parser = parse_duration)]
    pub(crate) t1: Option<std::time::Duration>,

    /// Timer T2, the longest retransmission interval (default 4s).
    #[arg(long, value_name = "DURATION", help_heading = "Timers", value_parser = parse_duration)]
    pub(crate) t2: Option<std::time::Duration>,

    /// Timer T4, how long a message may linger in the network (default 5s).
    #[arg(long, value_name = "DURATION", help_heading = "Timers", value_parser = parse_duration)]
    pub(crate) t4: Option<std::time::Duration>,

    /// Give up after this long in all, whatever the transaction timers say (`10s`, `500ms`).
    #[arg(long, value_name = "DURATION", help_heading = "Timers", value_parser = parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// Listen for UDP on ADDR (`IP:PORT`, `[IPv6]:PORT`, or `IP` for port 5060); repeatable.
    #[arg(long, value_name = "ADDR", help_heading = "Addresses")]
    pub(crate) udp: Vec<String>,

    /// Listen for TCP on ADDR; repeatable.
    #[arg(long, value_name = "ADDR", help_heading = "Addresses")]
    pub(crate) tcp: Vec<String>,

    /// Listen for TLS on ADDR (port 5061 when omitted); needs --cert and --key.
    #[arg(long, value_name = "ADDR", help_heading = "Addresses", requires_all = ["cert", "key"])]
    pub(crate) tls: Vec<String>,

    /// Listen for SIP over WebSocket (RFC 7118) on ADDR (port 80 when omitted).
    #[arg(long, value_name = "ADDR", help_heading = "Addresses")]
    pub(crate) ws: Vec<String>,

    /// Listen for SIP over secure WebSocket on ADDR (port 443 when omitted); needs --cert and --key.
    #[arg(long, value_name = "ADDR", help_heading = "Addresses", requires_all = ["cert", "key"])]
    pub(crate) wss: Vec<String>,

    /// Server certificate chain (PEM, leaf first) for --tls and --wss.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Addresses",
        requires = "key"
    )]
    pub(crate) cert: Option<PathBuf>,

    /// Private key (PEM) for --cert.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Addresses",
        requires = "cert"
    )]
    pub(crate) key: Option<PathBuf>,

    /// Our MSRP address, put in the a=path of MSRP answers (`IP:PORT`, or `IP` for port 2855;
    /// default: the first listening IP, port 2855). Without --msrp, a busy port 2855 only
    /// disables MSRP; with it, listen fails.
    #[arg(long, value_name = "ADDR", help_heading = "MSRP")]
    pub(crate) msrp: Option<String>,

    /// Take MSRP over TLS (`TCP/TLS/MSRP`, `msrps:` URIs) with --cert and --key, instead of TCP.
    #[arg(long, help_heading = "MSRP", requires_all = ["cert", "key"])]
    pub(crate) msrps: bool,

    /// Media types accepted in MSRP sessions, comma-separated (`text/plain,image/*`; default
    /// `*`). The answer's a=accept-types is what the offer and this list have in common;
    /// other types get 415.
    #[arg(
        long,
        value_name = "TYPES",
        value_delimiter = ',',
        help_heading = "MSRP"
    )]
    pub(crate) accept_types: Vec<String>,

    /// Largest MSRP message accepted, in bytes (a=max-size; larger ones get 413; default 1 GiB).
    #[arg(long, value_name = "BYTES", help_heading = "MSRP")]
    pub(crate) max_size: Option<u64>,

    /// Keep received MSRP files in DIR (created if missing), named from the offer's
    /// a=file-selector name (path removed; control and invisible characters such as
    /// bidirectional overrides replaced by _) or else the Message-ID; an
    /// existing file is never overwritten. A file appears only once whole and, when the offer
    /// gives hash:sha-1, matching it (else it is kept as NAME.part). Without it, file offers
    /// are declined with 488 and other content is hashed and dropped.
    #[arg(long, value_name = "DIR", help_heading = "MSRP")]
    pub(crate) save_dir: Option<PathBuf>,

    /// Answer METHOD with CODE instead of the default, `INVITE=486` or `MESSAGE=403:Go away`;
    /// repeatable. CODE is a final status (200-699).
    #[arg(long, value_name = "METHOD=CODE[:REASON]", help_heading = "Answers")]
    pub(crate) reply: Vec<String>,

    /// Ring this long (180 Ringing) before answering an INVITE (`3s`, `500ms`).
    #[arg(long, value_name = "DURATION", help_heading = "Answers", value_parser = parse_duration)]
    pub(crate) ring: Option<std::time::Duration>,

    /// Add a header field to every response, `-H 'Name: value'`; repeatable.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        help_heading = "Answers"
    )]
    pub(crate) headers: Vec<String>,

    /// Keep REGISTER bindings in memory (with expiry) and list them in the 200 OK; requests
    /// to a registered address of record are reported as such.
    #[arg(long, help_heading = "Answers")]
    pub(crate) registrar: bool,

    /// The longest binding a REGISTER is granted, in seconds (default 3600): the 200 says
    /// the shorter expiry (RFC 3261 §10.3).
    #[arg(long, value_name = "SECONDS", help_heading = "Answers")]
    pub(crate) max_expires: Option<u32>,

    /// The shortest binding a REGISTER may ask for, in seconds (default: none); a shorter
    /// one (other than 0) gets 423 Interval Too Brief with Min-Expires (RFC 3261 §10.3).
    #[arg(long, value_name = "SECONDS", help_heading = "Answers")]
    pub(crate) min_expires: Option<u32>,

    /// Challenge every request (but ACK and CANCEL) with Digest for this `user:password`
    /// (401 for REGISTER, 407 otherwise; wrong credentials get 403); repeatable.
    #[arg(long, value_name = "USER:PASSWORD", help_heading = "Authentication")]
    pub(crate) auth: Vec<String>,

    /// Read `user:password` lines from FILE (blank lines and `#` comments skipped).
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub(crate) auth_file: Option<PathBuf>,

    /// The algorithms to challenge with, one challenge each, in this order (default: MD5).
    /// MD5 alone is what SIPp 3.6, sipsak 0.9.8, sipvicious 0.3 (they answer the first
    /// challenge, MD5 only) and baresip 1.0 (fails on any challenge not MD5) accept;
    /// linphone 5 answers SHA-256 whenever it is offered. `SHA-256,MD5` is RFC 8760's order.
    #[arg(
        long,
        value_enum,
        value_name = "ALG",
        value_delimiter = ',',
        help_heading = "Authentication"
    )]
    pub(crate) auth_alg: Vec<AuthAlg>,

    /// The Digest realm (default `sipkit`).
    #[arg(long, value_name = "REALM", help_heading = "Authentication")]
    pub(crate) realm: Option<String>,

    /// How long a nonce is accepted; an older one is challenged again with stale=true
    /// (default 5 minutes).
    #[arg(long, value_name = "DURATION", help_heading = "Authentication", value_parser = parse_duration)]
    pub(crate) nonce_lifetime: Option<std::time::Duration>,

    /// Print each message whole, not only its first line.
    #[arg(long, help_heading = "Output")]
    pub(crate) full: bool,

    /// Write every SIP and MSRP message sent and received to FILE as a pcapng capture, with
    /// IP/UDP/TCP headers synthesised (TLS and WebSocket messages appear as plain TCP).
    /// FILE must not exist: an existing file is a usage error, never overwritten.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub(crate) write_pcap: Option<PathBuf>,

    /// Exit after answering N requests (ACK, CANCEL and retransmissions do not count). MSRP
    /// messages still arriving then get up to 5 s to complete and be reported.
    #[arg(long, value_name = "N", help_heading = "Stopping")]
    pub(crate) count: Option<u64>,

    /// Exit after receiving N whole MSRP messages.
    #[arg(long, value_name = "N", help_heading = "Stopping")]
    pub(crate) msrp_count: Option<u64>,

    /// Stop after this long (`30s`); with --count or --msrp-count still unmet, exit 3.
    #[arg(long, value_name = "DURATION", help_heading = "Stopping", value_parser = parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,

    /// Largest SIP message accepted, in bytes (default 65536); larger ones are logged and
    /// dropped, and a TCP/TLS connection sending one is answered 513 Message Too Large, then
    /// closed.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub(crate) max_message: Option<usize>,

    /// Most TCP/TLS/WebSocket connections open at once, SIP and MSRP each (default 1024);
    /// more are closed on accept.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub(crate) max_connections: Option<usize>,

    /// Close a connection silent for this long (default 5m); a message begun must also
    /// finish within 30s, or within this if shorter (slow senders).
    #[arg(long, value_name = "DURATION", help_heading = "Limits", value_parser = parse_duration)]
    pub(crate) idle_timeout: Option<std::time::Duration>,

    /// Most SIP server transactions alive at once (default 1000000); new requests beyond get
    /// 503 with Retry-After, answered without keeping state.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub(crate) max_transactions: Option<usize>,

    /// Most MSRP sessions open at once (default 1000); further MSRP offers get 488.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub(crate) max_msrp_sessions: Option<usize>,

    /// An answered MSRP session that no MSRP connection binds within this time (its 2xx never
    /// ACKed, or the peer never connects) is freed (default 30s; RFC 4975 sets no limit).
    #[arg(long, value_name = "DURATION", help_heading = "Limits", value_parser = parse_duration)]
    pub(crate) msrp_bind_timeout: Option<std::time::Duration>,
}

/// Digest algorithms for --auth-alg (RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuthAlg {
    /// MD5 (RFC 2617; weak, kept for old servers).
    #[value(name = "MD5")]
    Md5,
    /// MD5-sess.
    #[value(name = "MD5-sess")]
    Md5Sess,
    /// SHA-256 (RFC 8760).
    #[value(name = "SHA-256")]
    Sha256,
    /// SHA-256-sess.
    #[value(name = "SHA-256-sess")]
    Sha256Sess,
    /// SHA-512-256 (RFC 8760).
    #[value(name = "SHA-512-256")]
    Sha512_256,
    /// SHA-512-256-sess.
    #[value(name = "SHA-512-256-sess")]
    Sha512_256Sess,
}

/// A positive number of requests per second.
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1_000_000.0 => Ok(v),
        _ => Err(format!(
            "expected a rate between 0 and 1000000 requests per second, found `{s}`"
        )),
    }
}

/// `500ms`, `2s`, `1.5s` or a plain number of seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration such as 500ms, 2s or 1.5, found `{s}`"))?;
    if !v.is_finite() || v <= 0.0 || v * scale > 86_400.0 {
        return Err(format!(
            "expected a duration between 1ms and 24h, found `{s}`"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(v * scale))
}

#[cfg(test)]
mod send_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_take_ms_s_or_plain_seconds() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["", "0", "-1s", "soon", "1e9", "NaNs", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn send_takes_an_optional_method_before_the_target() {
        for (args, words) in [
            (vec!["sipkit", "send", "example.com"], vec!["example.com"]),
            (
                vec!["sipkit", "send", "REGISTER", "example.com", "-v"],
                vec!["REGISTER", "example.com"],
            ),
        ] {
            let Ok(Invocation::Run(Cli {
                command: Command::Send(send),
                ..
            })) = parse_from(&args)
            else {
                panic!("{args:?} did not parse");
            };
            assert_eq!(send.words, words);
        }
        assert!(parse_from(["sipkit", "send", "A", "B", "C"]).is_err());
        assert!(parse_from(["sipkit", "send"]).is_err());
    }
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
    /// state, setup times (on the leg where the INVITE was first seen), duration, message
    /// count.
    #[arg(long, conflicts_with_all = ["flow", "stats"])]
    pub(crate) calls: bool,

    /// Draw a ladder diagram of each call, or only of the call with this Call-ID
    /// (`--flow=CALL-ID`, with `=`: after a space the value would be the file).
    #[arg(long, value_name = "CALL-ID", num_args = 0..=1, require_equals = true)]
    pub(crate) flow: Option<Option<String>>,

    /// Print counts per method and response code, retransmissions (a message repeated on the
    /// same hop), calls attempted, answered and failed, answer-seizure ratio and setup times,
    /// instead of the messages.
    #[arg(long, conflicts_with = "flow")]
    pub(crate) stats: bool,

    /// Write every reassembled MSRP message or file into DIR (which must exist), named from the
    /// SDP file-selector that describes it (same size, type and hash), else from its
    /// Message-ID; a message the capture leaves unfinished is written as NAME.partial.
    /// Existing files are never overwritten.
    #[arg(long, value_name = "DIR")]
    pub(crate) extract: Option<PathBuf>,

    /// Write the packets that carried the matching messages to a new pcap file (for WebSocket,
    /// with the packets of the connection's HTTP upgrade, so the file decodes again).
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

    /// Keep only messages from or to this address: `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`
    /// (without a port: any port).
    #[arg(long, value_name = "IP[:PORT]")]
    pub(crate) host: Vec<String>,

    /// Keep only messages whose text (start line, header fields, body) matches this regular
    /// expression.
    #[arg(long, value_name = "REGEX")]
    pub(crate) grep: Option<String>,

    /// Match --grep without regard to case (`(?i)` in the expression does the same).
    #[arg(short = 'i', long, requires = "grep")]
    pub(crate) ignore_case: bool,

    /// Keep only messages with a diagnostic (a malformed message, a cut-off one, a field
    /// that does not parse); `--problems=error` keeps only those with an error.
    #[arg(
        long,
        value_name = "SEVERITY",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "warning"
    )]
    pub(crate) problems: Option<ProblemLevel>,

    /// Keep only messages carried over this transport.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(crate) transport: Vec<TransportName>,

    /// Most bytes buffered per TCP stream direction while waiting for the end of a message;
    /// a message larger than this is dropped and reported. Accepts K, M and G suffixes.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    pub(crate) max_stream_buffer: usize,
}

/// The least severity `--problems` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ProblemLevel {
    /// Messages with any diagnostic.
    Warning,
    /// Messages with an error.
    Error,
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
    /// For people (each subcommand's --help says what it prints).
    Human,
    /// For machines: JSON Lines, or one JSON document for `send`.
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

    /// Issue 14: each subcommand's own copy of `--format`/`-q` (for its help text) still takes
    /// a value given before the subcommand name, and the subcommand's own value wins.
    #[test]
    fn issue_14_subcommand_output_options_take_values_from_either_side() {
        for (args, format, quiet) in [
            (
                &["sipkit", "--format", "json", "-q", "decode-pcap", "a.pcap"][..],
                Format::Json,
                true,
            ),
            (
                &["sipkit", "decode-pcap", "a.pcap", "--format", "json"],
                Format::Json,
                false,
            ),
            (
                &["sipkit", "decode-pcap", "-q", "a.pcap"],
                Format::Human,
                true,
            ),
            (
                &["sipkit", "decode-pcap", "--format", "github", "a.pcap"],
                Format::Github,
                false,
            ),
            (&["sipkit", "-q", "listen"], Format::Human, true),
            (
                &["sipkit", "--format", "github", "validate", "-"],
                Format::Github,
                false,
            ),
        ] {
            let Ok(Invocation::Run(cli)) = parse_from(args) else {
                panic!("{args:?} did not parse");
            };
            assert_eq!(
                (cli.global.format, cli.global.quiet),
                (format, quiet),
                "{args:?}"
            );
        }
        let mut cmd = command();
        cmd.build();
        let mut help = |name: &str| {
            let sub = cmd.find_subcommand_mut(name).expect("subcommand");
            sub.render_long_help().to_string()
        };
        let decode = help("decode-pcap");
        assert!(!decode.contains("github"), "{decode}");
        assert!(!decode.contains("Compiler-style"), "{decode}");
        assert!(decode.contains("One line per message"), "{decode}");
        assert!(decode.contains("Leave out the notices"), "{decode}");
        assert!(help("validate").contains("- github: GitHub Actions"));
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
