//! The `builder` binary: parse the command line, run one library call, map the error to an
//! exit code (0 success, 1 bad input or a failed fetch/verify, 2 internal error; `detect`
//! adds 3 for "affected nodes found").

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = builder::cli::Cli::parse();
    match std::panic::catch_unwind(|| builder::cli::run(cli)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(builder::exit_code(&err))
        }
        // The panic message was already printed by the default hook.
        Err(_) => ExitCode::from(2),
    }
}
