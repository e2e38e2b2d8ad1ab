//! `logtool compact`: compacts every partition of a topic now, whatever its dirty ratio, and
//! prints what each partition's compaction did.
//!
//! The engine call sits behind [`compact_topic`], the one place that names the engine's
//! compaction API; the rest of the command works on [`PartitionCompaction`].

use std::num::NonZeroU64;
use std::process::ExitCode;
use std::time::Duration;

use ringlog::TopicManager;

use crate::fail;
use crate::location::{TopicLocation, open_manager_capped};

/// Arguments of `logtool compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    #[command(flatten)]
    location: TopicLocation,
    /// I/O path the partitions are opened on: auto, uring or portable (default: the
    /// engine's).
    #[arg(long = "io")]
    io_mode: Option<ringlog::IoMode>,
    /// Caps the bytes the compaction reads and writes per second, all partitions together
    /// (Kafka's `log.cleaner.io.max.bytes.per.second`; default: no cap).
    #[arg(long, value_name = "BYTES")]
    cleaner_io_max_bytes_per_second: Option<NonZeroU64>,
}

/// What compaction did to one partition (the engine's `CompactionReport` and its partition).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PartitionCompaction {
    partition: u32,
    bytes_before: u64,
    bytes_after: u64,
    records_before: u64,
    records_after: u64,
    keys: u64,
    tombstones_removed: u64,
    segments_before: usize,
    segments_after: usize,
    duration: Duration,
}

/// Compacts every partition of `topic` through the engine; a partition with nothing to clean
/// reports zeros.
fn compact_topic(manager: &TopicManager, topic: &str) -> Result<Vec<PartitionCompaction>, String> {
    let reports = manager.compact_topic(topic).map_err(|e| e.to_string())?;
    Ok(reports
        .into_iter()
        .map(|(partition, report)| {
            let r = report.unwrap_or_default();
            PartitionCompaction {
                partition,
                bytes_before: r.bytes_before,
                bytes_after: r.bytes_after,
                records_before: r.records_before,
                records_after: r.records_after,
                keys: r.keys,
                tombstones_removed: r.tombstones_removed,
                segments_before: r.segments_before,
                segments_after: r.segments_after,
                duration: r.duration,
            }
        })
        .collect())
}

/// Runs `logtool compact`.
pub fn run(args: &CompactArgs) -> ExitCode {
    let TopicLocation { data_dir, topic } = &args.location;
    let manager =
        match open_manager_capped(data_dir, args.io_mode, args.cleaner_io_max_bytes_per_second) {
            Ok(manager) => manager,
            Err(message) => return fail(&message),
        };
    if let Err(e) = manager.describe_topic(topic) {
        return fail(&e.to_string());
    }
    let compactions = match compact_topic(&manager, topic) {
        Ok(compactions) => compactions,
        Err(message) => return fail(&message),
    };
    if let Err(e) = manager.close() {
        return fail(&format!("cannot close {}: {e}", data_dir.display()));
    }
    println!("topic: {topic}");
    for compaction in &compactions {
        println!("{}", partition_line(compaction));
    }
    println!("{}", total_line(&compactions));
    ExitCode::SUCCESS
}

/// One partition's line: `key=value` fields, before and after, and what was removed.
fn partition_line(c: &PartitionCompaction) -> String {
    format!(
        "partition={} records_before={} records_after={} records_removed={} bytes_before={} \
         bytes_after={} bytes_reclaimed={} keys={} tombstones_removed={} segments_before={} \
         segments_after={} duration_ms={:.3}",
        c.partition,
        c.records_before,
        c.records_after,
        c.records_before.saturating_sub(c.records_after),
        c.bytes_before,
        c.bytes_after,
        c.bytes_before.saturating_sub(c.bytes_after),
        c.keys,
        c.tombstones_removed,
        c.segments_before,
        c.segments_after,
        c.duration.as_secs_f64() * 1e3,
    )
}

/// The sums over every partition.
fn total_line(compactions: &[PartitionCompaction]) -> String {
    let sum = |f: fn(&PartitionCompaction) -> u64| compactions.iter().map(f).sum::<u64>();
    format!(
        "total: partitions={} records_removed={} bytes_reclaimed={} tombstones_removed={}",
        compactions.len(),
        sum(|c| c.records_before.saturating_sub(c.records_after)),
        sum(|c| c.bytes_before.saturating_sub(c.bytes_after)),
        sum(|c| c.tombstones_removed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_show_what_was_removed() {
        let c = PartitionCompaction {
            partition: 2,
            bytes_before: 5000,
            bytes_after: 1200,
            records_before: 100,
            records_after: 10,
            keys: 10,
            tombstones_removed: 3,
            segments_before: 4,
            segments_after: 2,
            duration: Duration::from_micros(1500),
        };
        let line = partition_line(&c);
        assert!(
            line.starts_with("partition=2 records_before=100 records_after=10 records_removed=90 "),
            "{line}"
        );
        assert!(line.contains("bytes_reclaimed=3800 "), "{line}");
        assert!(
            line.ends_with("segments_after=2 duration_ms=1.500"),
            "{line}"
        );
        assert_eq!(
            total_line(&[c, c]),
            "total: partitions=2 records_removed=180 bytes_reclaimed=7600 tombstones_removed=6"
        );
    }
}
