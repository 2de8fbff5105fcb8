//! The `alloyfit` command: parses arguments into plain configuration, calls the library, prints.
//! Errors are printed once, here, with their whole context chain. Exit status: 0 done, 1 error,
//! 2 bad arguments, 3 a batch in which some experiments failed (the others ran), 130 interrupted
//! by a signal (unfinished outputs removed).

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::exit_cleanly_on_interrupt();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            if error
                .downcast_ref::<alloyfit::workflow::batch::SomeFailed>()
                .is_some()
            {
                std::process::ExitCode::from(3)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}
