//! The cleaner's I/O cap (`CompactOptions::io_throttle`, and the topic manager's
//! `cleaner_io_max_bytes_per_second`, Kafka's `log.cleaner.io.max.bytes.per.second`): a capped
//! compaction keeps exactly what an uncapped one keeps, and takes at least the time its bytes
//! cost at the cap (a first compaction reads every rewritten segment twice, for the offset map
//! and for the cleaning, writes their replacements, and lets go of the old files at the cap's
//! pace, since freeing their blocks is I/O too). The bound
//! is a lower one, which the throttle's sleeps guarantee whatever the machine's speed. A
//! compaction slowed by the cap while a producer keeps sealing segments cleans only the
//! segments sealed when it started, and ends. Runs on every I/O path.

mod common;

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, for_each_io_mode, keyed_contents as contents, open_log};
use ringlog::compaction::throttle::{BURST, IoThrottle};
use ringlog::compaction::{CompactOptions, CompactionReport};
use ringlog::record::Record;
use ringlog::{
    CleanupPolicy, Config, IoMode, Log, SharedConfig, TopicConfig, TopicManager, TopicManagerConfig,
};

/// Keys written twice each: half of the sealed records are superseded.
const KEYS: u64 = 600;
const VALUE_BYTES: usize = 1000;
const SEGMENT_BYTES: u64 = 64 * 1024;
/// The cap: a compaction of about 1.2 MB in and 0.6 MB out then takes about half a second.
const CAP_BYTES_PER_SECOND: u64 = 8_000_000;

fn compacted_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: SEGMENT_BYTES as usize,
        cleanup_policy: CleanupPolicy::Compact,
        ..config(io_mode)
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{:04}", i % KEYS).into_bytes()
}

fn fill(log: &Log) {
    let value = vec![7u8; VALUE_BYTES];
    for i in 0..2 * KEYS {
        let key = key(i);
        log.append(&[Record {
            key: Some(&key),
            value: Some(&value),
            timestamp_ms: i as i64,
            headers: &[],
        }])
        .unwrap();
    }
}

fn options(throttle: Option<Arc<IoThrottle>>) -> CompactOptions {
    CompactOptions {
        delete_retention_ms: u64::MAX / 4,
        io_throttle: throttle,
        ..CompactOptions::default()
    }
}

/// The least time `bytes` of compaction I/O take at the cap.
fn least_time(bytes: u64) -> Duration {
    Duration::from_secs_f64(bytes as f64 / CAP_BYTES_PER_SECOND as f64).saturating_sub(BURST)
}

/// What a first compaction pays to the cap: its input twice (offset map and cleaning), its
/// output, and the old files it frees.
fn first_compaction_bytes(report: &CompactionReport) -> u64 {
    3 * report.bytes_before + report.bytes_after
}

fn cap() -> NonZeroU64 {
    NonZeroU64::new(CAP_BYTES_PER_SECOND).unwrap()
}

#[test]
fn a_capped_compaction_keeps_the_same_records_and_takes_its_bytes_time_at_the_cap() {
    for_each_io_mode(|io_mode| {
        let (free_dir, capped_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let free = open_log(free_dir.path(), compacted_config(io_mode));
        let capped = open_log(capped_dir.path(), compacted_config(io_mode));
        fill(&free);
        fill(&capped);

        let free_report = free
            .compact(&options(None))
            .unwrap()
            .expect("something to clean");
        let throttle = Arc::new(IoThrottle::new(cap()));
        let started = Instant::now();
        let capped_report = capped
            .compact(&options(Some(Arc::clone(&throttle))))
            .unwrap()
            .expect("something to clean");
        let elapsed = started.elapsed();

        assert!(
            capped_report.records_removed() > KEYS / 2,
            "{capped_report}"
        );
        assert_eq!(
            capped_report.records_removed(),
            free_report.records_removed()
        );
        assert_eq!(capped_report.bytes_after, free_report.bytes_after);
        assert_eq!(contents(&capped), contents(&free), "{}", io_mode.name());
        // Every byte was paid for: its reads, its writes (padded to pages, index files too)
        // and the old files it let go of.
        let paid = first_compaction_bytes(&capped_report);
        assert!(
            throttle.admitted_bytes() >= paid,
            "{} bytes admitted, {paid} expected at least: {capped_report}",
            throttle.admitted_bytes()
        );
        assert!(
            throttle.admitted_bytes() <= paid + paid / 2,
            "{} bytes admitted for {paid}: {capped_report}",
            throttle.admitted_bytes()
        );
        let least = least_time(paid);
        assert!(
            elapsed >= least,
            "{}: {elapsed:?} for {capped_report}, at least {least:?} at the cap",
            io_mode.name()
        );
        drop(capped);
        let reopened = open_log(capped_dir.path(), compacted_config(io_mode));
        assert_eq!(contents(&reopened), contents(&free));
    });
}

#[test]
fn a_topic_managers_cap_covers_all_its_partitions_together() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().unwrap();
        let manager = TopicManager::open(
            dir.path(),
            TopicManagerConfig {
                shared: SharedConfig {
                    io_mode,
                    ..SharedConfig::default()
                },
                log: config(io_mode),
                cleaner_io_max_bytes_per_second: Some(cap()),
            },
        )
        .unwrap();
        manager
            .create_topic(
                "capped",
                TopicConfig {
                    partitions: 2,
                    cleanup_policy: CleanupPolicy::Compact,
                    segment_bytes: SEGMENT_BYTES,
                    delete_retention_ms: u64::MAX / 4,
                    ..TopicConfig::default()
                },
            )
            .unwrap();
        for partition in 0..2 {
            fill(&manager.partition("capped", partition).unwrap());
        }

        let started = Instant::now();
        let reports = manager.compact_topic("capped").unwrap();
        let elapsed = started.elapsed();

        let bytes: u64 = reports
            .iter()
            .map(|(_, report)| first_compaction_bytes(report.as_ref().expect("something to clean")))
            .sum();
        let least = least_time(bytes);
        assert!(
            elapsed >= least,
            "{}: {elapsed:?} for {bytes} bytes of two partitions, at least {least:?} at the cap",
            io_mode.name()
        );
        for partition in 0..2 {
            let log = manager.partition("capped", partition).unwrap();
            let kept = contents(&log);
            let sealed_end = *log.segment_base_offsets().last().unwrap();
            let sealed_keys: Vec<&Vec<u8>> =
                kept.range(..sealed_end).map(|(_, (key, _))| key).collect();
            let mut distinct = sealed_keys.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), sealed_keys.len(), "one record per key");
        }
    });
}

#[test]
fn a_compaction_cleans_the_segments_sealed_when_it_started_and_ends_while_producers_go_on() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path(), compacted_config(io_mode));
        fill(&log);
        let sealed_at_start = log.segment_count() - 1;
        let done = std::sync::atomic::AtomicBool::new(false);
        let (report, rolled) = std::thread::scope(|s| {
            let producer = s.spawn(|| {
                let value = vec![9u8; VALUE_BYTES];
                let before = log.segment_count();
                let mut i = 0;
                // Keeps sealing segments all through the compaction (at least 40 of them),
                // and stops on its own after about 200 MB (a compaction that chased the
                // producer would end then, having run more than one round).
                while (!done.load(std::sync::atomic::Ordering::Acquire) || i < 40 * 64)
                    && i < 200_000
                {
                    let key = key(i);
                    log.append(&[Record {
                        key: Some(&key),
                        value: Some(&value),
                        timestamp_ms: 0,
                        headers: &[],
                    }])
                    .unwrap();
                    i += 1;
                }
                log.segment_count() - before
            });
            let throttle = Arc::new(IoThrottle::new(cap()));
            let report = log
                .compact(&options(Some(throttle)))
                .unwrap()
                .expect("something to clean");
            done.store(true, std::sync::atomic::Ordering::Release);
            (report, producer.join().unwrap())
        });
        assert!(rolled >= 10, "{rolled} segments sealed meanwhile");
        // One round over what was sealed when it started (a few more, if the producer sealed
        // some before the compaction took its start): the offset map holds every key.
        assert_eq!(report.rounds, 1, "{report}");
        assert!(report.segments_before >= sealed_at_start, "{report}");
        assert!(
            report.segments_before < sealed_at_start + rolled,
            "{report}: {rolled} sealed meanwhile"
        );
        // What was sealed meanwhile is dirty: the next compaction cleans it.
        let next = log
            .compact(&options(None))
            .unwrap()
            .expect("the segments sealed meanwhile are dirty");
        assert!(next.records_removed() > 0, "{next}");
    });
}

#[test]
fn closing_the_log_stops_a_capped_compaction_before_its_commit_and_loses_nothing() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(open_log(dir.path(), compacted_config(io_mode)));
        fill(&log);
        let before = contents(&log);
        // About 40 s of work at this cap: a close that waited for it would show.
        let slow = Arc::new(IoThrottle::new(NonZeroU64::new(100_000).unwrap()));
        let compaction = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || log.compact(&options(Some(slow))))
        };
        // Let it start: the throttle has admitted its first burst once it sleeps.
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        log.close().unwrap();
        let closed_in = started.elapsed();
        let result = compaction.join().unwrap();
        assert!(
            matches!(result, Err(ringlog::MaintenanceError::Closed { .. })),
            "{}: {result:?}",
            io_mode.name()
        );
        assert!(
            closed_in < Duration::from_secs(10),
            "{}: close waited {closed_in:?} for the compaction",
            io_mode.name()
        );
        drop(log);
        let reopened = open_log(dir.path(), compacted_config(io_mode));
        assert_eq!(contents(&reopened), before, "{}", io_mode.name());
        let staged: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".cleaned") || name.contains(".swap"))
            .collect();
        assert!(staged.is_empty(), "{}: {staged:?}", io_mode.name());
    });
}
