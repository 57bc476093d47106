//! The `retrohunt` command. Exit status: 0 success, 1 failure, 2 bad arguments or (with
//! `--strict`) bad input data, 3 findings under `hunt --fail-on-findings`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("retrohunt: {}", cli::describe(&err));
            if err.downcast_ref::<cli::Usage>().is_some() {
                ExitCode::from(cli::EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
