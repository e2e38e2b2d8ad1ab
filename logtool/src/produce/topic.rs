//! `logtool produce --data-dir D --topic T`: produces through [`TopicManager::produce`], one
//! call per batch. Without `--partition` the engine routes each record with Kafka's
//! partitioner and splits the call into one batch per partition it touches. With
//! `--in-flight N` (N > 1, which needs `--partition`) each batch is submitted with
//! [`TopicManager::submit`] and up to N are in flight, the oldest waited for first.
//!
//! Durability is a topic setting the engine applies to every partition. When `--durability`
//! asks for more than the topic gives, logtool flushes and fdatasyncs each partition a call
//! wrote before it counts (and prints) the call as acknowledged; it cannot ask for less.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringlog::record::Record;
use ringlog::topic::ProduceResult;
use ringlog::{AppendHandle, CleanupPolicy, Durability, Log, TopicError, TopicManager};

use super::{ProduceArgs, batch_records, in_flight, print_ack, print_payload, print_rates};
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
    let partition = match (args.in_flight, args.partition) {
        (1, partition) => partition,
        (_, Some(partition)) => Some(partition),
        (n, None) => {
            return Err(format!(
                "--in-flight {n} keeps appends to one partition in flight: pass --partition P \
                 (the partitioner may split a produce call over several partitions)"
            ));
        }
    };
    let acks = choose_acks(config.durability, args.durability);
    let logs = (0..config.partitions)
        .map(|p| manager.partition(topic, p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let outcome = match partition {
        Some(partition) if args.in_flight > 1 => {
            submit_all(&manager, &logs, topic, partition, records, args, acks)?
        }
        _ => produce_all(&manager, &logs, topic, records, args, acks)?,
    };
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

/// Counts acknowledged produce calls and prints their acks.
struct Acknowledger<'a> {
    logs: &'a [Arc<Log>],
    topic: &'a str,
    acks: Acks,
    print_acks: bool,
    stdout: std::io::StdoutLock<'static>,
    partitions: BTreeMap<u32, PartitionTotals>,
    call_count: u64,
}

impl Acknowledger<'_> {
    /// One produce call's batches reached the topic's durability: adds the flushes `--durability`
    /// asks for, then counts and prints them.
    fn call_done(&mut self, results: &[ProduceResult]) -> Result<(), String> {
        if self.acks == Acks::FlushEachCall {
            for result in results {
                flush(self.logs, self.topic, result.partition)?;
            }
        }
        for result in results {
            let totals = self.partitions.entry(result.partition).or_default();
            totals.record_count += result.last_offset - result.base_offset + 1;
            totals.batch_count += 1;
            totals.first_offset.get_or_insert(result.base_offset);
            totals.last_offset = result.last_offset;
            if self.print_acks {
                print_ack(
                    &mut self.stdout,
                    format_args!("acked {} {}", result.partition, result.last_offset),
                )?;
            }
        }
        self.call_count += 1;
        Ok(())
    }

    /// Flushes every partition written (in the timed region, so the figure means "on disk and
    /// fdatasynced", as in the bare mode) and ends the run.
    fn finish(self, start: Instant) -> Result<Outcome, String> {
        for &partition in self.partitions.keys() {
            flush(self.logs, self.topic, partition)?;
        }
        Ok(Outcome {
            call_count: self.call_count,
            elapsed: start.elapsed(),
            partitions: self.partitions,
        })
    }
}

fn acknowledger<'a>(
    logs: &'a [Arc<Log>],
    topic: &'a str,
    args: &ProduceArgs,
    acks: Acks,
) -> Acknowledger<'a> {
    Acknowledger {
        logs,
        topic,
        acks,
        print_acks: args.print_acks,
        stdout: std::io::stdout().lock(),
        partitions: BTreeMap::new(),
        call_count: 0,
    }
}

/// Produces every batch, one call each, then flushes every partition written; this is the
/// timed region.
fn produce_all(
    manager: &TopicManager,
    logs: &[Arc<Log>],
    topic: &str,
    records: &[Record<'_>],
    args: &ProduceArgs,
    acks: Acks,
) -> Result<Outcome, String> {
    let mut acknowledger = acknowledger(logs, topic, args, acks);
    let start = Instant::now();
    for batch in records.chunks(batch_records(args)) {
        let call = acknowledger.call_count;
        let results = manager
            .produce(topic, args.partition, batch)
            .map_err(|e| format!("produce call {call} failed: {e}"))?;
        acknowledger.call_done(&results)?;
    }
    acknowledger.finish(start)
}

/// Submits every batch to `partition` ([`TopicManager::submit`]), keeping up to `--in-flight`
/// in flight and waiting for the oldest, then flushes; this is the timed region.
fn submit_all(
    manager: &TopicManager,
    logs: &[Arc<Log>],
    topic: &str,
    partition: u32,
    records: &[Record<'_>],
    args: &ProduceArgs,
    acks: Acks,
) -> Result<Outcome, String> {
    let mut acknowledger = acknowledger(logs, topic, args, acks);
    let mut pending: VecDeque<(u64, AppendHandle)> = VecDeque::new();
    let ack_oldest = |pending: &mut VecDeque<(u64, AppendHandle)>,
                      acknowledger: &mut Acknowledger<'_>|
     -> Result<(), String> {
        let (call, handle) = pending.pop_front().expect("a call is in flight");
        let info = handle
            .wait()
            .map_err(|e| format!("produce call {call} failed: {e}"))?;
        acknowledger.call_done(&[ProduceResult {
            partition,
            base_offset: info.base_offset,
            last_offset: info.last_offset,
        }])
    };
    let start = Instant::now();
    for (call, batch) in (0..).zip(records.chunks(batch_records(args))) {
        if pending.len() >= in_flight(args) {
            ack_oldest(&mut pending, &mut acknowledger)?;
        }
        let handle = manager
            .submit(topic, partition, batch)
            .map_err(|e| format!("produce call {call} failed: {e}"))?;
        pending.push_back((call, handle));
    }
    while !pending.is_empty() {
        ack_oldest(&mut pending, &mut acknowledger)?;
    }
    acknowledger.finish(start)
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
