//! `logtool`: produce to, dump and verify ringlog partition logs.
//!
//! - `produce` appends generated records through the engine and reports throughput;
//! - `dump` prints the batches (and records) of every segment, read straight from the files;
//! - `verify` checks batches, offset continuity and both indexes, exiting 1 on any problem.
//!
//! Exit codes: 0 success, 1 `verify` found problems, 2 usage or I/O error.

mod dump;
mod produce;
mod segments;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for usage errors and I/O failures (clap uses the same for bad arguments).
const EXIT_ERROR: u8 = 2;

/// Produce to, dump and verify ringlog partition logs.
#[derive(Debug, Parser)]
#[command(name = "logtool", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Append generated records to the partition log in --dir and report throughput.
    Produce(produce::ProduceArgs),
    /// Print every batch of every segment in offset order, read directly from the files.
    Dump(dump::DumpArgs),
    /// Check every segment's batches, offsets and indexes; exit 1 on any problem.
    Verify(verify::VerifyArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Produce(args) => produce::run(&args),
        Command::Dump(args) => dump::run(&args),
        Command::Verify(args) => verify::run(&args),
    }
}

/// Prints `message` as one line on stderr and returns the usage/I/O error exit code.
fn fail(message: &str) -> ExitCode {
    eprintln!("logtool: {message}");
    ExitCode::from(EXIT_ERROR)
}
