//! sipkit: one binary for SIP, SDP and MSRP work (validate today; decode-pcap, send, listen and
//! invite later), all built on the zero-copy codec in [`proto`].
//!
//! The library exposes the codec for other programs and [`run`] for the binary; the
//! command-line modules are private so the CLI can change without breaking library users.

mod alloc;
pub mod capture;
#[doc(hidden)]
pub mod fuzzing;
pub mod proto;
pub mod transport;

mod cli;
mod commands;
pub mod exit;
mod files;
mod output;

use std::ffi::OsString;

pub use exit::Exit;

/// Run sipkit with these arguments (the first is the program name) and return the status the
/// process should exit with. An `Err` ended the run early; map it with [`Exit::of_error`].
pub fn run<I, T>(args: I) -> anyhow::Result<Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let invocation = match cli::parse_from(&args) {
        Ok(invocation) => invocation,
        // --help and --version come here too; clap knows which go to stdout and exit 0.
        Err(err) => {
            err.print()?;
            if err.exit_code() == 0 {
                return Ok(Exit::Success);
            }
            let (subcommand, json) = cli::sniff(&args);
            if json {
                output::usage_error_json(
                    &mut std::io::stdout().lock(),
                    subcommand,
                    &err.to_string(),
                )?;
            }
            return Ok(Exit::Usage);
        }
    };
    commands::run(invocation)
}
