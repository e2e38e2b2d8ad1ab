//! The topic-manager write scenarios of `benches/topic.rs` that ringbench runs, on its own
//! timing loops: same grids ([`benches::scenarios::topic`]) and fixtures. Produce calls are
//! timed one by one and their acknowledgements checked; the read scenarios are in
//! `topic_read_scenarios.rs`.

use std::sync::Arc;
use std::time::Instant;

use benches::crew::with_crew;
use benches::payload;
use benches::results::CompactionFigures;
use benches::scenarios::topic::{
    BALANCE_KEYS, BALANCE_RECORDS, COMPACTION_KEYS, COMPACTION_RECORDS, COMPACTION_SEGMENT_BYTES,
    CONCURRENT_BATCHES_NONE, CONCURRENT_BATCHES_SYNC, CountCase, MULTI_TOPIC_BATCHES,
    MULTI_TOPIC_PARTITIONS, PRODUCE_BATCHES, RECORD_BYTES, SizeCase, TOPIC_CAP_BYTES, ThreadCase,
};
use benches::topic_fixtures::{
    Broker, Rotating, TIMESTAMP_MS, batch_records, check_produced, keyed_records, keyless_records,
    topic_config,
};
use hdrhistogram::Histogram;
use ringlog::compaction::CompactionReport;
use ringlog::record::{Record, encoded_batch_bytes};
use ringlog::topic::partitioner::partition_for_key;
use ringlog::{CleanupPolicy, Durability, TopicConfig, TopicManager};
use ringlog_sys::alloc_count::thread_allocations;

use crate::log_scenarios::Outcome;
use crate::measure::{Budget, Driver, Meter, histogram, record as record_latency};

/// One thread produces `PRODUCE_BATCHES` 16 KiB batches per region, batch k to partition
/// k mod P; an operation is one produce call (one batch).
pub fn topic_produce_throughput(case: &SizeCase, budget: Budget) -> Outcome {
    let broker = Broker::open();
    let value = payload(case.size);
    let batch = keyless_records(&value, batch_records(case.size));
    let disk = encoded_batch_bytes(&batch).expect("a valid batch") as u64;
    let records = PRODUCE_BATCHES * batch.len();
    let bytes = (records * case.size) as u64;
    let rotating = Rotating::new(
        &broker.manager,
        "produce",
        1,
        topic_config(case.partitions, Durability::None),
        TOPIC_CAP_BYTES,
    );
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let topics = rotating.next(bytes);
        let topic = topics[0].as_str();
        meter.region(|hist| {
            for k in 0..PRODUCE_BATCHES {
                let partition = (k % case.partitions as usize) as u32;
                let start = Instant::now();
                let results = broker
                    .manager
                    .produce(topic, Some(partition), &batch)
                    .expect("produce");
                record_latency(hist, start.elapsed());
                check_produced(&results, partition, batch.len());
            }
        });
        meter.ops += PRODUCE_BATCHES as u64;
        meter.moved(records as u64, bytes, Some(disk * PRODUCE_BATCHES as u64));
    }
    (meter, None)
}

/// N threads share the batches of a region (512 with `none`, 32 with `sync`), batch k to
/// partition k mod P, thread t producing batches t, t+N, ...; each produce call timed. The
/// threads start before the first region and are released together for each
/// ([`benches::crew`]).
pub fn topic_concurrent_producers(case: &ThreadCase, budget: Budget) -> Outcome {
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let batch = keyless_records(&value, batch_records(RECORD_BYTES));
    let disk = encoded_batch_bytes(&batch).expect("a valid batch") as u64;
    let batches = match case.durability {
        Durability::Sync => CONCURRENT_BATCHES_SYNC,
        _ => CONCURRENT_BATCHES_NONE,
    };
    let records = batches * batch.len();
    let bytes = (records * RECORD_BYTES) as u64;
    let rotating = Rotating::new(
        &broker.manager,
        "producers",
        1,
        topic_config(case.partitions, case.durability),
        TOPIC_CAP_BYTES,
    );
    let (manager, batch) = (&broker.manager, batch.as_slice());
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    let produce = |thread: usize, topics: &Arc<[String]>| {
        let topic = topics[0].as_str();
        let mut hist = histogram();
        let allocs = thread_allocations();
        for k in (thread..batches).step_by(case.threads) {
            let partition = (k % case.partitions as usize) as u32;
            let start = Instant::now();
            let results = manager
                .produce(topic, Some(partition), batch)
                .expect("produce");
            record_latency(&mut hist, start.elapsed());
            check_produced(&results, partition, batch.len());
        }
        (hist, thread_allocations() - allocs)
    };
    with_crew(case.threads, produce, |crew| {
        while driver.more(&meter) {
            let topics = rotating.next(bytes);
            let hists: Vec<Histogram<u64>> = meter.region_threads(|| {
                let out = crew.run(Arc::clone(&topics));
                let allocs = out.iter().map(|(_, a)| a).sum();
                (out.into_iter().map(|(h, _)| h).collect(), allocs)
            });
            for hist in &hists {
                meter.hist.add(hist).expect("same histogram bounds");
            }
            meter.ops += batches as u64;
            meter.moved(records as u64, bytes, Some(disk * batches as u64));
        }
    });
    (meter, None)
}

/// Where Kafka's partitioner sends one window of keyed records: records per partition, and
/// the on-disk bytes of the batches the produce call writes (one per partition touched).
struct Routing {
    counts: Vec<u64>,
    disk_bytes: u64,
}

impl Routing {
    /// Computed untimed from `partition_for_key`, to check the engine's routing against.
    fn of(window: &[Record<'_>], partitions: u32) -> Routing {
        let mut groups: Vec<Vec<Record<'_>>> = vec![Vec::new(); partitions as usize];
        for record in window {
            let key = record.key.expect("a keyed record");
            groups[partition_for_key(key, partitions) as usize].push(*record);
        }
        Routing {
            counts: groups.iter().map(|g| g.len() as u64).collect(),
            disk_bytes: groups
                .iter()
                .filter(|g| !g.is_empty())
                .map(|g| encoded_batch_bytes(g).expect("a valid batch") as u64)
                .sum(),
        }
    }
}

/// One region produces every one of the [`BALANCE_KEYS`] keyed 1 KiB records once, in
/// produce calls of [`BALANCE_RECORDS`] through Kafka's default partitioner (murmur2 of the
/// key), each call timed and its split per partition checked against `partition_for_key`.
/// Whole key cycles per region keep the balance figure independent of how many regions ran.
/// Returns the meter and the max/min records-per-partition ratio x 1000.
pub fn topic_partition_balance(case: &CountCase, budget: Budget) -> (Meter, u64) {
    let partitions = case.count as u32;
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let keys: Vec<Vec<u8>> = (0..BALANCE_KEYS)
        .map(|i| format!("user-{i:08}").into_bytes())
        .collect();
    let records = keyed_records(&keys, &value);
    let routing: Vec<Routing> = records
        .chunks(BALANCE_RECORDS)
        .map(|window| Routing::of(window, partitions))
        .collect();
    let cycle_disk: u64 = routing.iter().map(|r| r.disk_bytes).sum();
    let cycle_bytes = (BALANCE_KEYS * RECORD_BYTES) as u64;
    let rotating = Rotating::new(
        &broker.manager,
        "balance",
        1,
        topic_config(partitions, Durability::None),
        TOPIC_CAP_BYTES,
    );
    let mut per_partition = vec![0_u64; partitions as usize];
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let topics = rotating.next(cycle_bytes);
        let topic = topics[0].as_str();
        meter.region(|hist| {
            for (window, expected) in records.chunks(BALANCE_RECORDS).zip(&routing) {
                let began = Instant::now();
                let results = broker
                    .manager
                    .produce(topic, None, window)
                    .expect("produce keyed records");
                record_latency(hist, began.elapsed());
                let mut routed = 0;
                for result in &results {
                    let count = result.last_offset + 1 - result.base_offset;
                    let p = result.partition as usize;
                    assert_eq!(count, expected.counts[p], "records routed to partition {p}");
                    per_partition[p] += count;
                    routed += count;
                }
                assert_eq!(routed, window.len() as u64, "every record acknowledged");
            }
        });
        meter.ops += routing.len() as u64;
        meter.moved(BALANCE_KEYS as u64, cycle_bytes, Some(cycle_disk));
    }
    let min = per_partition.iter().copied().min().unwrap_or(0);
    let max = per_partition.iter().copied().max().unwrap_or(0);
    assert!(min > 0, "a partition got no records: {per_partition:?}");
    (meter, (max * 1000 + min / 2) / min)
}

/// One thread produces [`MULTI_TOPIC_BATCHES`] 16 KiB batches per region spread over every
/// partition of `topics` x 4 partitions, batch k to topic k mod T; each produce call timed.
pub fn topic_multi_topic_produce(case: &CountCase, budget: Budget) -> Outcome {
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let batch = keyless_records(&value, batch_records(RECORD_BYTES));
    let disk = encoded_batch_bytes(&batch).expect("a valid batch") as u64;
    let records = MULTI_TOPIC_BATCHES * batch.len();
    let bytes = (records * RECORD_BYTES) as u64;
    let rotating = Rotating::new(
        &broker.manager,
        "multi",
        case.count,
        topic_config(MULTI_TOPIC_PARTITIONS, Durability::None),
        TOPIC_CAP_BYTES,
    );
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let topics = rotating.next(bytes);
        meter.region(|hist| {
            for k in 0..MULTI_TOPIC_BATCHES {
                let topic = &topics[k % topics.len()];
                let partition = ((k / topics.len()) % MULTI_TOPIC_PARTITIONS as usize) as u32;
                let began = Instant::now();
                let results = broker
                    .manager
                    .produce(topic, Some(partition), &batch)
                    .expect("produce");
                record_latency(hist, began.elapsed());
                check_produced(&results, partition, batch.len());
            }
        });
        meter.ops += MULTI_TOPIC_BATCHES as u64;
        meter.moved(
            records as u64,
            bytes,
            Some(disk * MULTI_TOPIC_BATCHES as u64),
        );
    }
    (meter, None)
}

/// Creates `name`, a compacted topic of `partitions` partitions with 64 KiB segments, and
/// writes `records` (keyed duplicates) to every partition, flushed. Untimed.
fn build_dirty_topic(manager: &TopicManager, name: &str, partitions: u32, records: &[Record<'_>]) {
    manager
        .create_topic(
            name,
            TopicConfig {
                partitions,
                cleanup_policy: CleanupPolicy::Compact,
                segment_bytes: COMPACTION_SEGMENT_BYTES,
                durability: Durability::None,
                retention_bytes: None,
                retention_ms: None,
                ..TopicConfig::default()
            },
        )
        .expect("create a compacted topic");
    for partition in 0..partitions {
        for batch in records.chunks(batch_records(RECORD_BYTES)) {
            let results = manager
                .produce(name, Some(partition), batch)
                .expect("produce keyed duplicates");
            check_produced(&results, partition, batch.len());
        }
        let log = manager.partition(name, partition).expect("partition");
        log.flush().expect("flush");
        assert!(
            log.segment_count() > 8,
            "too few sealed segments to compact"
        );
    }
}

/// The figures of one `compact_topic`, summed over its partitions (`duration_s` is the wall
/// time of the whole call), and the bytes of the segments it cleaned. Checks that every
/// partition reclaimed bytes and records.
fn topic_figures(
    reports: &[(u32, Option<CompactionReport>)],
    seconds: f64,
) -> (CompactionFigures, u64) {
    let mut bytes_before = 0;
    let mut figures = CompactionFigures {
        mb_before: 0.0,
        mb_after: 0.0,
        mb_reclaimed: 0.0,
        records_removed: 0,
        keys: 0,
        duration_s: seconds,
    };
    for (partition, report) in reports {
        let report = report
            .as_ref()
            .unwrap_or_else(|| panic!("partition {partition}: nothing compacted"));
        assert!(
            report.bytes_reclaimed() > 0 && report.records_removed() > 0,
            "partition {partition} reclaimed nothing: {report:?}"
        );
        bytes_before += report.bytes_before;
        figures.mb_before += report.bytes_before as f64 / 1e6;
        figures.mb_after += report.bytes_after as f64 / 1e6;
        figures.mb_reclaimed += report.bytes_reclaimed() as f64 / 1e6;
        figures.records_removed += report.records_removed();
        figures.keys += report.keys;
    }
    (figures, bytes_before)
}

/// `compact_topic` of a freshly built (untimed) dirty compacted topic: per partition 1024
/// records of 1 KiB over 128 keys, 64 KiB segments. An operation is one `compact_topic`; the
/// topic is deleted (untimed) after it. The figures are the last operation's.
pub fn topic_compaction(case: &CountCase, budget: Budget) -> Outcome {
    let partitions = case.count as u32;
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let keys: Vec<Vec<u8>> = (0..COMPACTION_KEYS)
        .map(|k| format!("key-{k:06}").into_bytes())
        .collect();
    let records: Vec<Record<'_>> = (0..COMPACTION_RECORDS)
        .map(|i| Record {
            key: Some(&keys[i % COMPACTION_KEYS]),
            value: Some(&value),
            timestamp_ms: TIMESTAMP_MS,
            headers: &[],
        })
        .collect();
    let total = (COMPACTION_RECORDS * partitions as usize) as u64;
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    let mut figures = None;
    let mut built = 0_u64;
    while driver.more(&meter) {
        let name = format!("compact-{built}");
        built += 1;
        build_dirty_topic(&broker.manager, &name, partitions, &records);
        let (reports, seconds) = meter.region(|hist| {
            let began = Instant::now();
            let reports = broker.manager.compact_topic(&name).expect("compact");
            let elapsed = began.elapsed();
            record_latency(hist, elapsed);
            (reports, elapsed.as_secs_f64())
        });
        assert_eq!(reports.len(), partitions as usize, "a report per partition");
        let (f, bytes_before) = topic_figures(&reports, seconds);
        meter.ops += 1;
        meter.moved(total, total * RECORD_BYTES as u64, Some(bytes_before));
        figures = Some(f);
        broker
            .manager
            .delete_topic(&name)
            .expect("delete a compacted topic");
    }
    (meter, figures)
}
