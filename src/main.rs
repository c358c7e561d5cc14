//! The `sipkit` binary: everything lives in the library; this only turns the result of a run
//! into an exit status (see `src/exit.rs`).

use std::process::ExitCode;

/// mimalloc gives freed pages back to the system; glibc's malloc keeps every hole below the
/// top of its heap, so `listen` stayed at the peak of its busiest minute (bench/listen.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match sipkit::run(std::env::args_os()) {
        Ok(exit) => exit.into(),
        // The reader (`| head -1`) has what it wanted; that is not a failure.
        Err(err) if sipkit::exit::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sipkit: error: {err:#}");
            sipkit::Exit::of_error(&err).into()
        }
    }
}
