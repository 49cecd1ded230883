//! One integration-test binary: the CLI run the way a user runs it.

mod canary;
mod cli;
mod fixtures;
mod properties;
mod support;
