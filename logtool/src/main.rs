//! `logtool`: produce to, dump and verify ringlog partition logs, and manage topics.
//!
//! - `produce` appends generated records through the engine, to a partition directory or a
//!   topic, and reports throughput;
//! - `dump` prints the batches (and records) of every segment, read straight from the files;
//! - `verify` checks batches, offset continuity and both indexes, exiting 1 on any problem;
//! - `topics` creates, lists, describes and deletes topics;
//! - `compact` compacts every partition of a topic now.
//!
//! `dump` and `verify` take a partition directory (`--dir`) or a topic's partition
//! (`--data-dir D --topic T --partition P`, the directory `<D>/<T>-<P>`).
//!
//! Exit codes: 0 success, 1 `verify` found problems, 2 usage or I/O error.

mod compact;
mod dump;
mod location;
mod produce;
mod segments;
mod topics;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for usage errors and I/O failures (clap uses the same for bad arguments).
const EXIT_ERROR: u8 = 2;

/// Produce to, dump and verify ringlog partition logs, and manage topics.
#[derive(Debug, Parser)]
#[command(name = "logtool", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Append generated records to the partition log in --dir, or to a topic (--data-dir and
    /// --topic), and report throughput.
    Produce(produce::ProduceArgs),
    /// Print every batch of every segment in offset order, read directly from the files.
    Dump(dump::DumpArgs),
    /// Check every segment's batches, offsets and indexes; exit 1 on any problem.
    Verify(verify::VerifyArgs),
    /// Create, list, describe or delete the topics of a data directory.
    Topics(topics::TopicsArgs),
    /// Compact every partition of a topic now and report what was removed.
    Compact(compact::CompactArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Produce(args) => produce::run(&args),
        Command::Dump(args) => dump::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Topics(args) => topics::run(&args),
        Command::Compact(args) => compact::run(&args),
    }
}

/// Prints `message` as one line on stderr and returns the usage/I/O error exit code.
fn fail(message: &str) -> ExitCode {
    eprintln!("logtool: {message}");
    ExitCode::from(EXIT_ERROR)
}
