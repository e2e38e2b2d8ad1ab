//! `logtool produce`: appends generated records to a partition log, or to a topic through the
//! topic manager, and reports the throughput.
//!
//! All record data (values, keys, timestamps and the `Record` structs) is built before the
//! clock starts, so the figures measure the engine, not the generator. Values are windows
//! into one shared buffer of pseudo-random printable bytes, shifted by the record index: the
//! content is deterministic and differs from one record to the next without a buffer per
//! record.
//!
//! The two targets live in their own files: [`partition`] appends to one bare partition
//! directory (`--dir`), [`topic`] produces to a topic (`--data-dir` and `--topic`).

mod partition;
mod topic;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ringlog::record::Record;
use ringlog::{Durability, IoMode};

use crate::fail;
use crate::location::parse_topic_name;

/// How far the value window moves across the shared buffer, so values repeat every
/// `VALUE_SHIFT_BYTES` records.
const VALUE_SHIFT_BYTES: usize = 1024;

/// Arguments of `logtool produce`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("target")
        .args(["dir", "data_dir"])
        .required(true)
        .multiple(false)
))]
pub struct ProduceArgs {
    /// Partition directory (created if missing); instead of --data-dir and --topic.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Data directory holding the topic (with --topic): produce through the topic manager.
    #[arg(long, requires = "topic")]
    data_dir: Option<PathBuf>,
    /// Topic to produce to (with --data-dir); it must exist (`logtool topics create`).
    #[arg(long, requires = "data_dir", value_parser = parse_topic_name)]
    topic: Option<String>,
    /// Send every record to this partition of the topic; without it Kafka's partitioner
    /// routes each record by its key (records without a key stick to one partition per batch).
    #[arg(long, requires = "data_dir")]
    partition: Option<u32>,
    /// Number of records to append.
    #[arg(long)]
    count: u64,
    /// Size of each record's value in bytes.
    #[arg(long)]
    size: usize,
    /// Records per batch (one `append` or `produce` call each).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// Give record i the key `key-<i mod K>`; without it keys are null.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    keys: Option<u64>,
    /// When appends are acknowledged: none, write or sync (default: the engine's default,
    /// none; for a topic, the topic's setting).
    #[arg(long)]
    durability: Option<Durability>,
    /// I/O path: auto, uring or portable, and mmap when built with the `mmap` feature
    /// (default: the engine's default: auto, or mmap in an `mmap` build).
    #[arg(long = "io")]
    io_mode: Option<IoMode>,
    /// Roll to a new segment at this many bytes (default: the engine's, 1 GiB). A topic's
    /// segment size is set when it is created.
    #[arg(long, conflicts_with = "data_dir")]
    segment_bytes: Option<u64>,
    /// Timestamp of record 0 in ms since the epoch (record i gets this plus i); defaults to the
    /// time the command starts.
    #[arg(long)]
    timestamp_ms: Option<i64>,
    /// After each acknowledged batch print `acked <last_offset>` on its own line (for a topic,
    /// `acked <partition> <last_offset>` per partition written), flushed at once, so a crash
    /// test can trust every line it read.
    #[arg(long)]
    print_acks: bool,
    /// Appends (produce calls) kept in flight: submit up to N batches before waiting for the
    /// oldest, like Kafka's `max.in.flight.requests.per.connection`, so they share writes and
    /// fdatasyncs; acknowledgements still come in offset order. 1 appends and waits. With a
    /// topic, N above 1 needs --partition.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    in_flight: u64,
}

/// Runs `logtool produce`.
pub fn run(args: &ProduceArgs) -> ExitCode {
    let Ok(count) = usize::try_from(args.count) else {
        return fail(&format!(
            "--count {} is too large for this machine",
            args.count
        ));
    };
    let base_ms = args.timestamp_ms.unwrap_or_else(now_ms);
    let value_buf = value_buffer(args.size);
    let keys = key_strings(args.keys);
    let records = build_records(count, args.size, &value_buf, &keys, base_ms);
    let result = match (&args.dir, &args.data_dir, &args.topic) {
        (Some(dir), _, _) => partition::run(dir, &records, args),
        (None, Some(data_dir), Some(topic)) => topic::run(data_dir, topic, &records, args),
        // clap's group and `requires` rules make every other combination unreachable.
        _ => unreachable!("clap accepted produce without a target: {args:?}"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Appends kept in flight.
fn in_flight(args: &ProduceArgs) -> usize {
    usize::try_from(args.in_flight).unwrap_or(usize::MAX)
}

/// Records per `append` or `produce` call.
fn batch_records(args: &ProduceArgs) -> usize {
    usize::try_from(args.batch).unwrap_or(usize::MAX)
}

/// Prints `line` on its own and flushes it at once, so a reader that saw it can trust it.
fn print_ack(stdout: &mut impl Write, line: std::fmt::Arguments<'_>) -> Result<(), String> {
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

/// The `payload bytes:` line, and the appends in flight; the same in both modes.
fn print_payload(args: &ProduceArgs) {
    println!("in flight: {} append(s)", args.in_flight);
    println!(
        "payload bytes: {} (values only, {} each)",
        payload_bytes(args),
        args.size
    );
}

/// The elapsed time and throughput lines that end both reports.
fn print_rates(args: &ProduceArgs, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    let per_second = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
    println!(
        "elapsed: {seconds:.3} s (appends and a final flush + fdatasync; data generated beforehand)"
    );
    println!("records/s: {:.0}", per_second(args.count as f64));
    println!(
        "MB/s: {:.2} (payload, MB = 10^6 bytes)",
        per_second(payload_bytes(args) as f64) / 1e6
    );
}

fn payload_bytes(args: &ProduceArgs) -> u64 {
    args.count.saturating_mul(args.size as u64)
}

/// `size + VALUE_SHIFT_BYTES` pseudo-random printable ASCII bytes (xorshift, fixed seed).
fn value_buffer(size: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size + VALUE_SHIFT_BYTES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % ALPHABET.len() as u64) as usize]
        })
        .collect()
}

fn key_strings(keys: Option<u64>) -> Vec<Vec<u8>> {
    (0..keys.unwrap_or(0))
        .map(|k| format!("key-{k}").into_bytes())
        .collect()
}

/// Record i: value window at `i mod VALUE_SHIFT_BYTES`, key `i mod keys.len()` (null if there
/// are no keys), timestamp `base_ms + i`.
fn build_records<'a>(
    count: usize,
    size: usize,
    value_buf: &'a [u8],
    keys: &'a [Vec<u8>],
    base_ms: i64,
) -> Vec<Record<'a>> {
    (0..count)
        .map(|i| {
            let shift = i % VALUE_SHIFT_BYTES;
            Record {
                key: (!keys.is_empty()).then(|| keys[i % keys.len()].as_slice()),
                value: Some(&value_buf[shift..shift + size]),
                timestamp_ms: base_ms.saturating_add(i as i64),
                headers: &[],
            }
        })
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_deterministic_and_differ() {
        let buf = value_buffer(16);
        let keys = key_strings(Some(3));
        let records = build_records(5, 16, &buf, &keys, 1000);
        assert_eq!(records[4].key, Some(&b"key-1"[..]));
        assert_eq!(records[4].timestamp_ms, 1004);
        assert_ne!(records[0].value, records[1].value);
        assert_eq!(value_buffer(16), buf);
        assert!(build_records(2, 16, &buf, &[], 0)[1].key.is_none());
    }
}
