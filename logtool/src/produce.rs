//! `logtool produce`: appends generated records to a partition log and reports the throughput.
//!
//! All record data (values, keys, timestamps and the `Record` structs) is built before the
//! clock starts, so the figures measure the engine, not the generator. Values are windows
//! into one shared buffer of pseudo-random printable bytes, shifted by the record index: the
//! content is deterministic and differs from one record to the next without a buffer per
//! record.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringlog::record::Record;
use ringlog::{Config, Durability, IoMode, Log};

use crate::fail;

/// How far the value window moves across the shared buffer, so values repeat every
/// `VALUE_SHIFT_BYTES` records.
const VALUE_SHIFT_BYTES: usize = 1024;

/// Arguments of `logtool produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Partition directory (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Number of records to append.
    #[arg(long)]
    count: u64,
    /// Size of each record's value in bytes.
    #[arg(long)]
    size: usize,
    /// Records per batch (one `append` call each).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// Give record i the key `key-<i mod K>`; without it keys are null.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    keys: Option<u64>,
    /// When appends are acknowledged: none, write or sync (default: the engine's default,
    /// none).
    #[arg(long)]
    durability: Option<Durability>,
    /// I/O path: auto, uring or portable, and mmap when built with the `mmap` feature
    /// (default: the engine's default: auto, or mmap in an `mmap` build).
    #[arg(long = "io")]
    io_mode: Option<IoMode>,
    /// Roll to a new segment at this many bytes (default: the engine's, 1 GiB).
    #[arg(long)]
    segment_bytes: Option<u64>,
    /// Timestamp of record 0 in ms since the epoch (record i gets this plus i); defaults to the
    /// time the command starts.
    #[arg(long)]
    timestamp_ms: Option<i64>,
    /// After each acknowledged batch print `acked <last_offset>` on its own line, flushed at
    /// once, so a crash test can trust every line it read.
    #[arg(long)]
    print_acks: bool,
}

/// What a run did, for the report.
struct Outcome {
    batch_count: u64,
    elapsed: Duration,
    first_offset: Option<u64>,
    next_offset: u64,
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

    let config = config(args);
    let log = match Log::open(&args.dir, config) {
        Ok(log) => log,
        Err(e) => return fail(&format!("cannot open {}: {e}", args.dir.display())),
    };
    let outcome = match append_all(&log, &records, args) {
        Ok(outcome) => outcome,
        Err(message) => return fail(&message),
    };
    if let Err(e) = log.close() {
        return fail(&format!("cannot close {}: {e}", args.dir.display()));
    }
    report(&log, args, &outcome);
    ExitCode::SUCCESS
}

fn config(args: &ProduceArgs) -> Config {
    let defaults = Config::default();
    let segment_bytes = args.segment_bytes.unwrap_or(defaults.segment_bytes);
    Config {
        durability: args.durability.unwrap_or(defaults.durability),
        io_mode: args.io_mode.unwrap_or(defaults.io_mode),
        segment_bytes,
        // The engine requires a batch to fit in a segment; small test segments get small
        // batches rather than a configuration error.
        max_batch_bytes: usize::try_from(segment_bytes).map_or(defaults.max_batch_bytes, |s| {
            s.min(defaults.max_batch_bytes)
        }),
        ..defaults
    }
}

/// Appends every batch, then flushes everything to disk; this is the timed region.
fn append_all(log: &Log, records: &[Record<'_>], args: &ProduceArgs) -> Result<Outcome, String> {
    let batch_records = usize::try_from(args.batch).unwrap_or(usize::MAX);
    let mut stdout = std::io::stdout().lock();
    let mut batch_count = 0;
    let mut first_offset = None;
    let start = Instant::now();
    for batch in records.chunks(batch_records) {
        let info = log.append(batch).map_err(|e| {
            format!(
                "append of batch {batch_count} to {} failed: {e}",
                args.dir.display()
            )
        })?;
        first_offset.get_or_insert(info.base_offset);
        batch_count += 1;
        if args.print_acks {
            writeln!(stdout, "acked {}", info.last_offset)
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))?;
        }
    }
    // Included in the timed region so every mode's figure means "on disk and fdatasynced".
    log.flush()
        .map_err(|e| format!("flush of {} failed: {e}", args.dir.display()))?;
    let elapsed = start.elapsed();
    Ok(Outcome {
        batch_count,
        elapsed,
        first_offset,
        next_offset: log.next_offset(),
    })
}

fn report(log: &Log, args: &ProduceArgs, outcome: &Outcome) {
    let payload_bytes = args.count.saturating_mul(args.size as u64);
    let seconds = outcome.elapsed.as_secs_f64();
    let per_second = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
    println!("dir: {}", args.dir.display());
    println!("io path: {}", log.io_path());
    if let Some(reason) = log.shared().fallback_reason() {
        println!("io fallback reason: {reason}");
    }
    println!("durability: {}", log.config().durability.name());
    println!("records: {}", args.count);
    println!(
        "batches: {} ({} records each)",
        outcome.batch_count, args.batch
    );
    println!(
        "payload bytes: {payload_bytes} (values only, {} each)",
        args.size
    );
    match outcome.first_offset {
        Some(first) => println!("offsets: {first}..={}", outcome.next_offset - 1),
        None => println!("offsets: none appended"),
    }
    println!(
        "elapsed: {seconds:.3} s (appends and a final flush + fdatasync; data generated beforehand)"
    );
    println!("records/s: {:.0}", per_second(args.count as f64));
    println!(
        "MB/s: {:.2} (payload, MB = 10^6 bytes)",
        per_second(payload_bytes as f64) / 1e6
    );
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
