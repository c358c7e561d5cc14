//! The exit-status contract shared by every subcommand, so scripts can tell "the answer is no"
//! from "the question could not be asked" without parsing output.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success: every message valid, the call answered 2xx, the expectation met |
//! | 1 | a negative result: an invalid message, a final 3xx-6xx response, an unmet expectation |
//! | 2 | a usage or input error: bad flag or value, unreadable or too large file (clap's own usage status) |
//! | 3 | a timeout waiting for a peer |
//! | 4 | a network error: DNS, connect, TLS |
//!
//! `--help` and `--version` exit 0. A closed standard output (`sipkit ... | head -1`) ends the
//! run quietly with 0: the reader has seen all it wanted.

use std::io;
use std::process::ExitCode;

/// The outcome of a run, as a process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: the run did what was asked and the answer is yes.
    Success,
    /// 1: the run completed and the answer is no (invalid message, 3xx-6xx, unmet expectation).
    Negative,
    /// 2: the run could not be carried out as asked: bad usage or unreadable input.
    Usage,
    /// 3: a peer did not answer in time.
    Timeout,
    /// 4: the network failed: DNS, connect, TLS.
    Network,
}

impl Exit {
    /// The numeric status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Negative => 1,
            Exit::Usage => 2,
            Exit::Timeout => 3,
            Exit::Network => 4,
        }
    }

    /// The status for an error that ended a run early. Errors that reach `main` are usage or
    /// input problems unless they carry a more specific [`Failure`].
    pub fn of_error(err: &anyhow::Error) -> Exit {
        err.chain()
            .find_map(|cause| cause.downcast_ref::<Failure>())
            .map_or(Exit::Usage, |f| f.exit)
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// An error that ends a run with a specific status; commands wrap timeouts and network errors
/// in it so `main` can map them without knowing the command.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The status the run ends with.
    pub exit: Exit,
    /// What went wrong.
    pub message: String,
}

/// Whether the run failed only because standard output was closed by its reader.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_match_the_contract() {
        let codes: Vec<u8> = [
            Exit::Success,
            Exit::Negative,
            Exit::Usage,
            Exit::Timeout,
            Exit::Network,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn errors_map_to_usage_unless_tagged() {
        let plain = anyhow::anyhow!("cannot read x");
        assert_eq!(Exit::of_error(&plain), Exit::Usage);
        let tagged = Err::<(), _>(Failure {
            exit: Exit::Timeout,
            message: "no answer from 127.0.0.1:5060 after 32s".into(),
        })
        .context("sending INVITE")
        .expect_err("is an error");
        assert_eq!(Exit::of_error(&tagged), Exit::Timeout);
    }

    #[test]
    fn broken_pipe_is_found_under_context() {
        let err = Err::<(), _>(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing results")
            .expect_err("is an error");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
