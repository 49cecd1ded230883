//! The `osenv` binary: parse arguments, set up logging and the one runtime, run the command,
//! print the report once, exit with the documented code.

mod cli;
mod command;

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let app = match command::App::new(command::Ui { quiet: cli.quiet }) {
        Ok(app) => app,
        Err(e) => {
            osenv::escape::eprint_line("error: cannot start the async runtime");
            osenv::escape::eprint_line(&format!("  caused by: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match command::run(cli, &app) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            for line in command::report::lines(&err) {
                osenv::escape::eprint_line(&line);
            }
            ExitCode::from(command::report::exit_code(&err))
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
    // Only osenv's own events are shown by default. The HTTP and SDK crates log requests and
    // responses at debug and trace, and a response body can be a secret value, so their events
    // never pass above `warn`, and only from -vv on (their warnings are mostly start-up noise,
    // such as the region probe of the AWS SDK).
    let others = if verbose >= 2 && !quiet {
        tracing_subscriber::filter::LevelFilter::WARN
    } else {
        tracing_subscriber::filter::LevelFilter::OFF
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(others)
        .with_target("osenv", level);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                // Every event through the one escaper; no colour, since a colour code is a
                // control character the escaper would have to let through.
                .with_writer(osenv::escape::Stderr)
                .with_ansi(false)
                .with_target(false)
                .without_time(),
        )
        .with(filter)
        .init();
}
