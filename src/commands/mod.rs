//! One module per subcommand. Each turns raw arguments into a checked configuration (refusing
//! bad combinations before doing any work), then does the work and emits events to the printer.
//! `anyhow` context is added here and nowhere below.

pub(crate) mod decode_pcap;
mod generate;
mod invite;
mod listen;
mod send;
mod sip_client;
mod validate;

use anyhow::Context;
use clap::error::ErrorKind;

use crate::cli::{self, Cli, Command, Format, Invocation};
use crate::exit::Exit;
use crate::output::{self, Printer};

pub(crate) fn run(invocation: Invocation) -> anyhow::Result<Exit> {
    match invocation {
        Invocation::Run(Cli {
            global,
            command: Command::Validate(args),
        }) => {
            output::init_logging(global.verbose, global.quiet, global.color);
            let config = match validate::Config::new(args) {
                Ok(config) => config,
                Err(usage) => return usage_failure("validate", global.format, &usage),
            };
            let mut printer = Printer::stdout(global.format, global.color, global.quiet);
            let exit = validate::run(&config, &mut printer)?;
            printer
                .flush()
                .context("writing results to standard output")?;
            Ok(exit)
        }
        Invocation::Run(Cli {
            global,
            command: Command::Send(args),
        }) => {
            output::init_logging(global.verbose, global.quiet, global.color);
            let config = match send::Config::new(*args, &global) {
                Ok(config) => config,
                Err(sip_client::Invalid::Usage(usage)) => {
                    return usage_failure("send", global.format, &usage);
                }
                Err(sip_client::Invalid::Input(err)) => {
                    return input_failure("send", global.format, err);
                }
            };
            let printer = output::send::stdout(
                global.format,
                global.color,
                global.quiet,
                global.verbose > 0,
            );
            json_on_input_error("send", global.format, send::run(config, printer))
        }
        Invocation::Run(Cli {
            global,
            command: Command::DecodePcap(args),
        }) => {
            output::init_logging(global.verbose, global.quiet, global.color);
            let config = match decode_pcap::Config::new(*args, global.format, global.quiet) {
                Ok(config) => config,
                Err(usage) => return usage_failure("decode-pcap", global.format, &usage),
            };
            let printer = output::decode::DecodePrinter::stdout(global.format, global.color);
            decode_pcap::run(config, printer)
        }
        Invocation::Run(Cli {
            global,
            command: Command::Listen(args),
        }) => {
            output::init_logging(global.verbose, global.quiet, global.color);
            if global.format == Format::Github {
                return usage_failure(
                    "listen",
                    global.format,
                    &usage_error(
                        "listen",
                        ErrorKind::InvalidValue,
                        "--format github is only accepted by `sipkit validate`",
                    ),
                );
            }
            let config = match listen::Config::new(*args) {
                Ok(config) => config,
                Err(listen::Invalid::Usage(usage)) => {
                    return usage_failure("listen", global.format, &usage);
                }
                Err(listen::Invalid::Input(err)) => {
                    return input_failure("listen", global.format, err);
                }
            };
            let printer = output::listen::stdout(global.format, global.color, global.quiet);
            json_on_input_error("listen", global.format, listen::run(config, printer))
        }
        Invocation::Run(Cli {
            global,
            command: Command::Invite(args),
        }) => {
            output::init_logging(global.verbose, global.quiet, global.color);
            let config = match invite::Config::new(*args, &global) {
                Ok(config) => config,
                Err(sip_client::Invalid::Usage(usage)) => {
                    return usage_failure("invite", global.format, &usage);
                }
                Err(sip_client::Invalid::Input(err)) => {
                    return input_failure("invite", global.format, err);
                }
            };
            let printer = output::invite::stdout(
                global.format,
                global.color,
                global.quiet,
                global.verbose > 0,
            );
            json_on_input_error("invite", global.format, invite::run(config, printer))
        }
        Invocation::Generate { global, args } => {
            output::init_logging(global.verbose, global.quiet, global.color);
            if global.format == Format::Github {
                return usage_failure(
                    "generate",
                    global.format,
                    &usage_error(
                        "generate",
                        ErrorKind::InvalidValue,
                        "--format github is only accepted by `sipkit validate`",
                    ),
                );
            }
            generate::run(&args.out)?;
            Ok(Exit::Success)
        }
    }
}

/// A usage error in clap's own style (`error: ...`, usage line, `--help` hint), for problems
/// clap cannot see, such as combinations of values.
fn usage_error(subcommand: &str, kind: ErrorKind, message: &str) -> clap::Error {
    let mut cmd = cli::command();
    cmd.build();
    match cmd.find_subcommand_mut(subcommand) {
        Some(sub) => sub.error(kind, message),
        None => cmd.error(kind, message),
    }
}

/// An input error found before any work (an unreadable --file, a bad certificate): with
/// `--format json`, the same one object as a usage error, `kind` `input`; the error then goes
/// on to `main`, which prints it on standard error and exits 2.
fn input_failure(subcommand: &str, format: Format, err: anyhow::Error) -> anyhow::Result<Exit> {
    json_on_input_error(subcommand, format, Err(err))
}

/// With `--format json`, an error that ends the run with status 2 (an input error such as an
/// address already in use) is also written on standard output as one object, so a script
/// reading JSON sees why; other errors carry their own report (exit 3 and 4) or none.
fn json_on_input_error(
    subcommand: &str,
    format: Format,
    result: anyhow::Result<Exit>,
) -> anyhow::Result<Exit> {
    if let Err(err) = &result
        && format == Format::Json
        && Exit::of_error(err) == Exit::Usage
        && !crate::exit::is_broken_pipe(err)
    {
        let _ = output::input_error_json(
            &mut std::io::stdout().lock(),
            subcommand,
            &format!("{err:#}"),
        );
    }
    result
}

/// Print a usage error found after parsing: clap's text on standard error and, with
/// `--format json`, one `{"type":"error","exit":2,...}` object on standard output.
fn usage_failure(subcommand: &str, format: Format, err: &clap::Error) -> anyhow::Result<Exit> {
    err.print()?;
    if format == Format::Json {
        output::usage_error_json(
            &mut std::io::stdout().lock(),
            Some(subcommand),
            &err.to_string(),
        )?;
    }
    Ok(Exit::Usage)
}
