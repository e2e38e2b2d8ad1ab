//! `produce_during_compaction`: what a compaction costs the producers of the partition it
//! cleans, with and without the cleaner's I/O cap (`TopicManagerConfig::
//! cleaner_io_max_bytes_per_second`, Kafka's `log.cleaner.io.max.bytes.per.second`).
//!
//! Each case builds (untimed) a compacted topic of one partition, [`segment`]-sized segments
//! holding about `mb` MB of 1 KiB records of which half are superseded, acknowledged with
//! `sync`. Then one producer appends [`PRODUCE_RECORDS`] new keyed records every
//! [`PRODUCE_INTERVAL`] to that partition (durability `sync`: each acknowledgement waits for
//! its `fdatasync`, the appends most exposed to a busy disk), open loop: each append's latency
//! runs from the instant it was due, so a stall also counts against the appends it delayed.
//! Two cases, without a cap (`cap_mb_s` 0) and with one ([`CAP_MB_S`]), each on its own topic
//! and in two phases: the producer alone for [`baseline_seconds`] (`compaction` 0), then
//! during a `compact_topic` of that topic (`compaction` 1, recording only the appends due while
//! the compaction ran). Each compaction is so set against the producer alone on the same
//! topic just before it: this disk's latency drifts within minutes.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use benches::payload;
use benches::results::CompactionFigures;
use benches::scenarios::Profile;
use benches::topic_fixtures::{Broker, check_produced, keyed_records};
use ringlog::{CleanupPolicy, Durability, TopicConfig, TopicManager};

use crate::measure::{Meter, record as record_latency};

/// The scenario's name in the results.
pub const NAME: &str = "produce_during_compaction";
/// The cap of the capped case, in MB/s (a few percent of this disk's sequential write rate).
pub const CAP_MB_S: u64 = 100;
const TOPIC: &str = "contended";
const RECORD_BYTES: usize = 1024;
/// Records per append of the measured producer.
const PRODUCE_RECORDS: usize = 10;
/// How often the measured producer appends.
const PRODUCE_INTERVAL: Duration = Duration::from_millis(1);
/// Records per append while the topic is built.
const BUILD_RECORDS: usize = 100;

/// Segment size of the compacted topic: the compaction target's 1 MiB.
fn segment() -> u64 {
    1 << 20
}

/// MB of records built per profile.
fn built_mb(profile: Profile) -> usize {
    match profile {
        Profile::Smoke => 8,
        Profile::Quick => 100,
        Profile::Full => 400,
    }
}

/// How long the producer runs alone.
fn baseline_seconds(profile: Profile) -> f64 {
    match profile {
        Profile::Smoke => 0.2,
        Profile::Quick => 2.0,
        Profile::Full => 6.0,
    }
}

/// What one phase measured: its parameters, the producer's appends, the compaction's figures.
pub struct Measured {
    pub params: Vec<(&'static str, u64)>,
    pub meter: Meter,
    pub compaction: Option<CompactionFigures>,
}

/// Runs the two cases, uncapped then capped, handing each phase to `report` as it ends: first
/// the producer alone (`compaction` 0), then the producer during the compaction
/// (`compaction` 1), both with the case's `cap_mb_s` (0: uncapped).
pub fn run(profile: Profile, mut report: impl FnMut(Measured)) {
    for cap_mb_s in [None, Some(CAP_MB_S)] {
        let cap = cap_mb_s.map(|mb| NonZeroU64::new(mb * 1_000_000).expect("a cap above zero"));
        let broker = Broker::open_with_cleaner_cap(cap);
        build(&broker.manager, built_mb(profile));
        let params = |compaction: bool| {
            vec![
                ("size", RECORD_BYTES as u64),
                ("batch", PRODUCE_RECORDS as u64),
                ("interval_us", PRODUCE_INTERVAL.as_micros() as u64),
                ("mb_built", built_mb(profile) as u64),
                ("compaction", u64::from(compaction)),
                ("cap_mb_s", cap_mb_s.unwrap_or(0)),
            ]
        };
        let mut alone = Meter::default();
        let seconds = baseline_seconds(profile);
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        produce_paced(&broker.manager, &mut alone, &AtomicBool::new(true), || {
            Instant::now() < until
        });
        alone.elapsed = Duration::from_secs_f64(seconds);
        report(Measured {
            params: params(false),
            meter: alone,
            compaction: None,
        });
        let mut during = Meter::default();
        let (figures, seconds) = during_compaction(&broker.manager, &mut during);
        during.elapsed = Duration::from_secs_f64(seconds);
        report(Measured {
            params: params(true),
            meter: during,
            compaction: Some(figures),
        });
    }
}

/// Creates the compacted topic and writes `mb` MB of keyed records, each key twice (the
/// second copies in the second half), acknowledged with `sync`. Untimed.
fn build(manager: &TopicManager, mb: usize) {
    manager
        .create_topic(
            TOPIC,
            TopicConfig {
                partitions: 1,
                cleanup_policy: CleanupPolicy::Compact,
                segment_bytes: segment(),
                durability: Durability::Sync,
                retention_bytes: None,
                retention_ms: None,
                delete_retention_ms: u64::MAX / 4,
                ..TopicConfig::default()
            },
        )
        .expect("create the compacted topic");
    let value = payload(RECORD_BYTES);
    let total = mb * 1_000_000 / RECORD_BYTES;
    let distinct = total / 2;
    let keys: Vec<[u8; 8]> = (0..total)
        .map(|i| ((i % distinct) as u64).to_be_bytes())
        .collect();
    for chunk in keys.chunks(BUILD_RECORDS) {
        let records = keyed_records(chunk, &value);
        let results = manager
            .produce(TOPIC, Some(0), &records)
            .expect("produce keyed duplicates");
        check_produced(&results, 0, records.len());
    }
}

/// Compacts the topic on a second thread while this one produces; records the appends due
/// while the compaction ran. Returns the compaction's figures and its wall time.
fn during_compaction(manager: &TopicManager, meter: &mut Meter) -> (CompactionFigures, f64) {
    let running = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let compaction = s.spawn(|| {
            // The producer's first appends run before the compaction starts.
            std::thread::sleep(PRODUCE_INTERVAL * 20);
            running.store(true, Ordering::Release);
            let started = Instant::now();
            let reports = manager.compact_topic(TOPIC).expect("compact");
            let seconds = started.elapsed().as_secs_f64();
            running.store(false, Ordering::Release);
            done.store(true, Ordering::Release);
            (reports, seconds)
        });
        produce_paced(manager, meter, &running, || !done.load(Ordering::Acquire));
        let (reports, seconds) = compaction.join().expect("the compaction thread");
        let report = reports
            .into_iter()
            .next()
            .and_then(|(_, r)| r)
            .expect("partition 0 was compacted");
        assert!(report.records_removed() > 0, "{report}");
        let figures = CompactionFigures {
            mb_before: report.bytes_before as f64 / 1e6,
            mb_after: report.bytes_after as f64 / 1e6,
            mb_reclaimed: report.bytes_reclaimed() as f64 / 1e6,
            records_removed: report.records_removed(),
            keys: report.keys,
            duration_s: seconds,
        };
        (figures, seconds)
    })
}

/// Appends [`PRODUCE_RECORDS`] new records every [`PRODUCE_INTERVAL`] while `more()`; times
/// each append from the instant it was due and records it when `recording` was set then.
fn produce_paced(
    manager: &TopicManager,
    meter: &mut Meter,
    recording: &AtomicBool,
    more: impl Fn() -> bool,
) {
    let value = payload(RECORD_BYTES);
    let start = Instant::now();
    let mut sent = 0_u64;
    while more() {
        let due = start + PRODUCE_INTERVAL * u32::try_from(sent).expect("appends fit u32");
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let record = recording.load(Ordering::Acquire);
        let keys: Vec<[u8; 16]> = (0..PRODUCE_RECORDS as u64)
            .map(|i| {
                let mut key = [0xff; 16];
                key[8..].copy_from_slice(&(sent * PRODUCE_RECORDS as u64 + i).to_be_bytes());
                key
            })
            .collect();
        let records = keyed_records(&keys, &value);
        let results = manager
            .produce(TOPIC, Some(0), &records)
            .expect("produce during compaction");
        check_produced(&results, 0, PRODUCE_RECORDS);
        if record {
            record_latency(&mut meter.hist, due.elapsed());
            meter.ops += 1;
            meter.moved(
                PRODUCE_RECORDS as u64,
                (PRODUCE_RECORDS * RECORD_BYTES) as u64,
                None,
            );
        }
        sent += 1;
    }
}
