//! The `osenv` binary: parse arguments, run, print errors once, exit with the documented code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = osenv::cli::Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match osenv::command::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            for line in err.report() {
                eprintln!("{line}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => tracing::Level::ERROR,
        (false, 0) => tracing::Level::WARN,
        (false, 1) => tracing::Level::INFO,
        (false, 2) => tracing::Level::DEBUG,
        (false, _) => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}
