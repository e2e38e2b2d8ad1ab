//! `logtool produce --data-dir D --topic T`: produces through [`TopicManager::produce`], one
//! call per batch. Without `--partition` the engine routes each record with Kafka's
//! partitioner and splits the call into one batch per partition it touches.
//!
//! Durability is a topic setting the engine applies to every partition. When `--durability`
//! asks for more than the topic gives, logtool flushes and fdatasyncs each partition a call
//! wrote before it counts (and prints) the call as acknowledged; it cannot ask for less.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlog::record::Record;
use ringlog::{CleanupPolicy, Durability, Log, TopicError, TopicManager};

use super::{ProduceArgs, batch_records, print_ack, print_payload, print_rates};
use crate::location::open_manager;

/// How an acknowledgement is made as durable as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Acks {
    /// The topic's own durability is at least what was asked.
    Engine,
    /// More was asked than the topic gives: flush and fdatasync each partition a call wrote
    /// before counting the call acknowledged.
    FlushEachCall,
}

/// What one partition received.
#[derive(Clone, Copy, Debug, Default)]
struct PartitionTotals {
    record_count: u64,
    batch_count: u64,
    first_offset: Option<u64>,
    last_offset: u64,
}

/// What a run did, for the report.
struct Outcome {
    call_count: u64,
    elapsed: Duration,
    partitions: BTreeMap<u32, PartitionTotals>,
}

/// Opens the topic manager over `data_dir`, produces `records` to `topic` in batches and
/// prints the report.
///
/// # Errors
/// A message naming what failed: open, an unknown topic, a compacted topic without keys, a
/// produce call, the final flush or close.
pub(super) fn run(
    data_dir: &Path,
    topic: &str,
    records: &[Record<'_>],
    args: &ProduceArgs,
) -> Result<(), String> {
    let manager = open_manager(data_dir, args.io_mode)?;
    let description = manager.describe_topic(topic).map_err(|e| match e {
        TopicError::UnknownTopic { .. } => format!(
            "{e} in {}: create it with `logtool topics create`",
            data_dir.display()
        ),
        e => e.to_string(),
    })?;
    let config = &description.config;
    if config.cleanup_policy == CleanupPolicy::Compact && args.keys.is_none() && args.count > 0 {
        return Err(format!(
            "topic {topic:?} is compacted (cleanup policy compact), so every record needs a key; \
             pass --keys K to give record i the key key-<i mod K>"
        ));
    }
    let acks = choose_acks(config.durability, args.durability);
    let logs = (0..config.partitions)
        .map(|p| manager.partition(topic, p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let outcome = produce_all(&manager, &logs, topic, records, args, acks)?;
    manager
        .close()
        .map_err(|e| format!("cannot close {}: {e}", data_dir.display()))?;
    println!("data dir: {}", data_dir.display());
    println!(
        "topic: {topic} ({} partitions, cleanup policy {})",
        config.partitions,
        config.cleanup_policy.name()
    );
    println!("io path: {}", manager.io_path());
    if let Some(reason) = manager.shared().fallback_reason() {
        println!("io fallback reason: {reason}");
    }
    println!(
        "durability: {}",
        durability_line(config.durability, args.durability)
    );
    report(args, config.partitions, &outcome);
    Ok(())
}

/// Produces every batch, then flushes every partition written; this is the timed region.
fn produce_all(
    manager: &TopicManager,
    logs: &[Arc<Log>],
    topic: &str,
    records: &[Record<'_>],
    args: &ProduceArgs,
    acks: Acks,
) -> Result<Outcome, String> {
    let mut stdout = std::io::stdout().lock();
    let mut partitions: BTreeMap<u32, PartitionTotals> = BTreeMap::new();
    let mut call_count = 0;
    let start = Instant::now();
    for batch in records.chunks(batch_records(args)) {
        let results = manager
            .produce(topic, args.partition, batch)
            .map_err(|e| format!("produce call {call_count} failed: {e}"))?;
        if acks == Acks::FlushEachCall {
            for result in &results {
                flush(logs, topic, result.partition)?;
            }
        }
        for result in &results {
            let totals = partitions.entry(result.partition).or_default();
            totals.record_count += result.last_offset - result.base_offset + 1;
            totals.batch_count += 1;
            totals.first_offset.get_or_insert(result.base_offset);
            totals.last_offset = result.last_offset;
            if args.print_acks {
                print_ack(
                    &mut stdout,
                    format_args!("acked {} {}", result.partition, result.last_offset),
                )?;
            }
        }
        call_count += 1;
    }
    // Included in the timed region so the figure means "on disk and fdatasynced", as in the
    // bare mode.
    for &partition in partitions.keys() {
        flush(logs, topic, partition)?;
    }
    Ok(Outcome {
        call_count,
        elapsed: start.elapsed(),
        partitions,
    })
}

fn flush(logs: &[Arc<Log>], topic: &str, partition: u32) -> Result<(), String> {
    let log = logs
        .get(partition as usize)
        .expect("the engine reported a partition the topic had when produce started");
    log.flush()
        .map_err(|e| format!("flush of partition {partition} of topic {topic:?} failed: {e}"))
}

fn report(args: &ProduceArgs, partition_count: u32, outcome: &Outcome) {
    let batch_count: u64 = outcome.partitions.values().map(|t| t.batch_count).sum();
    println!("records: {}", args.count);
    println!(
        "batches: {batch_count} written by {} produce calls ({} records each)",
        outcome.call_count, args.batch
    );
    print_payload(args);
    for partition in 0..partition_count {
        match outcome.partitions.get(&partition) {
            Some(&PartitionTotals {
                record_count,
                batch_count,
                first_offset: Some(first),
                last_offset,
            }) => println!(
                "partition {partition}: {record_count} records in {batch_count} batches, \
                 offsets {first}..={last_offset}"
            ),
            _ => println!("partition {partition}: 0 records"),
        }
    }
    print_rates(args, outcome.elapsed);
}

/// Orders durability modes by what survives: none < write < sync.
fn strength(durability: Durability) -> u8 {
    match durability {
        Durability::None => 0,
        Durability::Write => 1,
        Durability::Sync => 2,
    }
}

/// Whether logtool must add flushes to give the `requested` durability on a topic that
/// acknowledges at `topic`.
fn choose_acks(topic: Durability, requested: Option<Durability>) -> Acks {
    match requested {
        Some(requested) if strength(requested) > strength(topic) => Acks::FlushEachCall,
        _ => Acks::Engine,
    }
}

/// The report's durability: what acknowledgements actually waited for, and why when that is
/// not simply the topic's setting.
fn durability_line(topic: Durability, requested: Option<Durability>) -> String {
    match requested {
        None => format!("{} (topic setting)", topic.name()),
        Some(requested) if requested == topic => topic.name().to_string(),
        Some(requested) if choose_acks(topic, Some(requested)) == Acks::FlushEachCall => format!(
            "{} (the topic acknowledges at {}; logtool flushed and fdatasynced each produce \
             call's partitions before acknowledging it, which is sync)",
            requested.name(),
            topic.name()
        ),
        Some(requested) => format!(
            "{} (topic setting; --durability {} cannot weaken it)",
            topic.name(),
            requested.name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_more_than_the_topic_gives_adds_flushes() {
        assert_eq!(
            choose_acks(Durability::None, Some(Durability::Sync)),
            Acks::FlushEachCall
        );
        assert_eq!(
            choose_acks(Durability::None, Some(Durability::Write)),
            Acks::FlushEachCall
        );
        assert_eq!(
            choose_acks(Durability::Sync, Some(Durability::None)),
            Acks::Engine
        );
        assert_eq!(
            choose_acks(Durability::Write, Some(Durability::Write)),
            Acks::Engine
        );
        assert_eq!(choose_acks(Durability::None, None), Acks::Engine);
    }

    #[test]
    fn durability_line_names_what_acks_waited_for() {
        assert_eq!(
            durability_line(Durability::Sync, None),
            "sync (topic setting)"
        );
        assert_eq!(
            durability_line(Durability::Write, Some(Durability::Write)),
            "write"
        );
        assert!(
            durability_line(Durability::None, Some(Durability::Sync))
                .starts_with("sync (the topic acknowledges at none;")
        );
        assert!(
            durability_line(Durability::Sync, Some(Durability::None))
                .starts_with("sync (topic setting; --durability none")
        );
    }
}
