//! `logtool produce --dir`: appends to one bare partition directory through [`Log`].

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use ringlog::record::Record;
use ringlog::{AppendHandle, Config, Log};

use super::{ProduceArgs, batch_records, in_flight, print_ack, print_payload, print_rates};

/// What a run did, for the report.
struct Outcome {
    batch_count: u64,
    elapsed: Duration,
    first_offset: Option<u64>,
    next_offset: u64,
}

/// Opens the log in `dir`, appends `records` in batches and prints the report.
///
/// # Errors
/// A message naming what failed: open, an append, the final flush or close.
pub(super) fn run(dir: &Path, records: &[Record<'_>], args: &ProduceArgs) -> Result<(), String> {
    let log =
        Log::open(dir, config(args)).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    for cut in log.recovery_cuts() {
        eprintln!("logtool: warning: {cut}");
    }
    let outcome = append_all(&log, dir, records, args)?;
    log.close()
        .map_err(|e| format!("cannot close {}: {e}", dir.display()))?;
    report(&log, dir, args, &outcome);
    Ok(())
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

/// Appends every batch, keeping up to `--in-flight` of them submitted and waiting for the
/// oldest, then flushes everything to disk; this is the timed region.
fn append_all(
    log: &Log,
    dir: &Path,
    records: &[Record<'_>],
    args: &ProduceArgs,
) -> Result<Outcome, String> {
    let mut stdout = std::io::stdout().lock();
    let mut batch_count = 0;
    let mut first_offset = None;
    let mut pending: VecDeque<(u64, AppendHandle)> = VecDeque::new();
    // Waits for the oldest append in flight; acknowledgements come in offset order.
    let mut ack_oldest = |pending: &mut VecDeque<(u64, AppendHandle)>| -> Result<(), String> {
        let (index, handle) = pending.pop_front().expect("an append is in flight");
        let info = handle
            .wait()
            .map_err(|e| format!("append of batch {index} to {} failed: {e}", dir.display()))?;
        if args.print_acks {
            print_ack(&mut stdout, format_args!("acked {}", info.last_offset))?;
        }
        Ok(())
    };
    let start = Instant::now();
    for batch in records.chunks(batch_records(args)) {
        if pending.len() >= in_flight(args) {
            ack_oldest(&mut pending)?;
        }
        let handle = log.submit(batch).map_err(|e| {
            format!(
                "append of batch {batch_count} to {} failed: {e}",
                dir.display()
            )
        })?;
        first_offset.get_or_insert(handle.offsets().base_offset);
        pending.push_back((batch_count, handle));
        batch_count += 1;
    }
    while !pending.is_empty() {
        ack_oldest(&mut pending)?;
    }
    // Included in the timed region so every mode's figure means "on disk and fdatasynced".
    log.flush()
        .map_err(|e| format!("flush of {} failed: {e}", dir.display()))?;
    let elapsed = start.elapsed();
    Ok(Outcome {
        batch_count,
        elapsed,
        first_offset,
        next_offset: log.next_offset(),
    })
}

fn report(log: &Log, dir: &Path, args: &ProduceArgs, outcome: &Outcome) {
    println!("dir: {}", dir.display());
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
    print_payload(args);
    match outcome.first_offset {
        Some(first) => println!("offsets: {first}..={}", outcome.next_offset - 1),
        None => println!("offsets: none appended"),
    }
    print_rates(args, outcome.elapsed);
}
