//! The `builder` binary: parse the command line, run one library call, map the error to an
//! exit code (0 success, 1 bad input or a failed fetch/verify, 2 internal error; `detect`
//! adds 3 for "affected nodes found", `diff` 3 for "the renders differ"; `render` and `pin`
//! exit 130/143 on SIGINT/SIGTERM, from their signal thread: `util::interrupt`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match builder::cmd::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; a bad command line is the user's input (1).
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = std::panic::catch_unwind(|| builder::cmd::run(cli));
    // A render or pin stopped by SIGINT/SIGTERM: its signal thread says so and sets the code.
    builder::util::interrupt::wait_if_stopping();
    match result {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(err)) => {
            eprintln!("{}", builder::util::error::report(&err));
            ExitCode::from(builder::exit_code(&err))
        }
        // The panic message was already printed by the default hook.
        Err(_) => ExitCode::from(2),
    }
}
