//! The topic-manager read scenarios of `benches/topic.rs` on ringbench's own timing loops:
//! `topic_fetch_throughput`, `topic_concurrent_consumers` and `topic_multi_topic::fetch_many`.
//!
//! Each case reads a topic built untimed (filled, flushed, and read once so the engine's read
//! cache is warm), every fetch is timed on its own, and every fetched batch is checked (offset,
//! record count, size) inside the timed region, as a real consumer would.

use std::time::Instant;

use benches::crew::with_crew;
use benches::payload;
use benches::scenarios::Profile;
use benches::scenarios::topic::{
    CONSUMER_PASSES, CountCase, MULTI_TOPIC_PARTITIONS, RECORD_BYTES, SizeCase, ThreadCase,
    multi_topic_read_bytes, read_topic_bytes,
};
use benches::topic_fixtures::{
    Broker, Layout, MAX_FETCH_BYTES, MAX_PARTITION_FETCH_BYTES, batch_records, check_batches,
    consume_range, fetch_step, fill, keyless_records, split_work, topic_config,
};
use hdrhistogram::Histogram;
use ringlog::topic::PartitionFetch;
use ringlog::{Durability, TopicManager};
use ringlog_sys::alloc_count::thread_allocations;

use crate::log_scenarios::Outcome;
use crate::measure::{Budget, Driver, Meter, histogram, record as record_latency};

/// Names of the multi-topic fetch topics (at most ten topics in any grid).
const MULTI_TOPIC_NAMES: [&str; 10] = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"];

/// A topic filled with about `total_bytes` of `size`-byte records spread evenly over its
/// partitions, flushed and read once (warm cache, every batch checked). Built untimed.
struct ReadTopic {
    name: &'static str,
    partitions: u32,
    /// Offsets each partition holds (`0..end`).
    end: u64,
    layout: Layout,
    records: u64,
    size: usize,
}

impl ReadTopic {
    fn build(
        manager: &TopicManager,
        name: &'static str,
        partitions: u32,
        size: usize,
        total_bytes: usize,
    ) -> ReadTopic {
        let value = payload(size);
        let batch = keyless_records(&value, batch_records(size));
        let batch_payload = batch.len() * size;
        let batches_per_partition = (total_bytes / batch_payload / partitions as usize).max(1);
        manager
            .create_topic(name, topic_config(partitions, Durability::None))
            .expect("create the topic to read");
        fill(manager, name, partitions, batches_per_partition, &batch);
        let layout = Layout::probe(manager, name, 0, batch.len(), size);
        let end = (batches_per_partition * batch.len()) as u64;
        for partition in 0..partitions {
            let read = consume_range(
                manager,
                name,
                partition,
                (0, end),
                layout,
                MAX_PARTITION_FETCH_BYTES,
            );
            assert_eq!(read, end, "warm-up read of partition {partition}");
        }
        ReadTopic {
            name,
            partitions,
            end,
            layout,
            records: end * u64::from(partitions),
            size,
        }
    }

    /// Bytes of the stored batches holding `records` records.
    fn disk_bytes(&self, records: u64) -> u64 {
        records / self.layout.batch_records * self.layout.batch_bytes as u64
    }
}

/// Fetches read and checked by one consumer: records, fetches.
#[derive(Clone, Copy, Debug, Default)]
struct Read {
    records: u64,
    fetches: u64,
}

/// Reads offsets `range` of one partition with [`fetch_step`] (1 MiB budget), timing each
/// fetch with its check.
fn timed_range(
    manager: &TopicManager,
    topic: &ReadTopic,
    partition: u32,
    (start, end): (u64, u64),
    hist: &mut Histogram<u64>,
) -> Read {
    let mut read = Read::default();
    let mut offset = start;
    while offset < end {
        let began = Instant::now();
        offset = fetch_step(
            manager,
            topic.name,
            partition,
            (offset, end),
            topic.layout,
            MAX_PARTITION_FETCH_BYTES,
        );
        record_latency(hist, began.elapsed());
        read.fetches += 1;
    }
    read.records = end - start;
    read
}

/// One consumer reads the whole warm topic per region, one 1 MiB fetch per partition in
/// turn; an operation is one fetch.
pub fn topic_fetch_throughput(case: &SizeCase, budget: Budget, profile: Profile) -> Outcome {
    let broker = Broker::open();
    let topic = ReadTopic::build(
        &broker.manager,
        "fetch",
        case.partitions,
        case.size,
        read_topic_bytes(profile),
    );
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let fetches = meter.region(|hist| {
            let mut offsets = vec![0_u64; topic.partitions as usize];
            let mut fetches = 0;
            while offsets.iter().any(|&o| o < topic.end) {
                for (partition, offset) in offsets.iter_mut().enumerate() {
                    if *offset < topic.end {
                        let began = Instant::now();
                        *offset = fetch_step(
                            &broker.manager,
                            topic.name,
                            partition as u32,
                            (*offset, topic.end),
                            topic.layout,
                            MAX_PARTITION_FETCH_BYTES,
                        );
                        record_latency(hist, began.elapsed());
                        fetches += 1;
                    }
                }
            }
            fetches
        });
        meter.ops += fetches;
        let records = topic.records;
        meter.moved(
            records,
            records * topic.size as u64,
            Some(topic.disk_bytes(records)),
        );
    }
    (meter, None)
}

/// N threads read the warm topic [`CONSUMER_PASSES`] times per region, each partition cut
/// into ceil(N/P) batch-aligned ranges dealt round robin (every record read exactly once per
/// pass); every fetch is timed by its thread. The threads start before the first region and
/// are released together for each ([`benches::crew`]).
pub fn topic_concurrent_consumers(case: &ThreadCase, budget: Budget, profile: Profile) -> Outcome {
    let broker = Broker::open();
    let topic = ReadTopic::build(
        &broker.manager,
        "consumers",
        case.partitions,
        RECORD_BYTES,
        read_topic_bytes(profile),
    );
    let assignments = split_work(
        topic.partitions,
        topic.end / topic.layout.batch_records,
        topic.layout.batch_records,
        case.threads,
    );
    let (manager, topic_ref) = (&broker.manager, &topic);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    let read = |thread: usize, (): &()| {
        let mut hist = histogram();
        let allocs = thread_allocations();
        let mut read = Read::default();
        for _ in 0..CONSUMER_PASSES {
            for &(partition, range) in &assignments[thread] {
                let r = timed_range(manager, topic_ref, partition, range, &mut hist);
                read.records += r.records;
                read.fetches += r.fetches;
            }
        }
        (hist, read, thread_allocations() - allocs)
    };
    with_crew(assignments.len(), read, |crew| {
        while driver.more(&meter) {
            let out: Vec<(Histogram<u64>, Read)> = meter.region_threads(|| {
                let out = crew.run(());
                let allocs = out.iter().map(|(_, _, a)| a).sum();
                (out.into_iter().map(|(h, r, _)| (h, r)).collect(), allocs)
            });
            let mut records = 0;
            for (hist, read) in &out {
                meter.hist.add(hist).expect("same histogram bounds");
                meter.ops += read.fetches;
                records += read.records;
            }
            assert_eq!(
                records,
                topic.records * CONSUMER_PASSES,
                "consumers read every record once per pass"
            );
            meter.moved(
                records,
                records * RECORD_BYTES as u64,
                Some(topic.disk_bytes(records)),
            );
        }
    });
    (meter, None)
}

/// One consumer reads every partition of `topics` x 4 warm partitions per region with
/// multi-partition fetches (50 MiB total, 1 MiB per partition); an operation is one
/// `fetch_many` call, timed with the check of every batch it returned.
pub fn topic_multi_topic_fetch_many(case: &CountCase, budget: Budget, profile: Profile) -> Outcome {
    let broker = Broker::open();
    let per_topic = multi_topic_read_bytes(profile) / case.count;
    let topics: Vec<ReadTopic> = MULTI_TOPIC_NAMES[..case.count]
        .iter()
        .map(|name| {
            ReadTopic::build(
                &broker.manager,
                name,
                MULTI_TOPIC_PARTITIONS,
                RECORD_BYTES,
                per_topic,
            )
        })
        .collect();
    let (end, layout) = (topics[0].end, topics[0].layout);
    let records: u64 = topics.iter().map(|t| t.records).sum();
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let mut requests: Vec<PartitionFetch> = topics
            .iter()
            .flat_map(|t| {
                (0..t.partitions).map(|partition| PartitionFetch {
                    topic: t.name.to_string(),
                    partition,
                    offset: 0,
                })
            })
            .collect();
        let calls = meter.region(|hist| {
            let mut calls = 0;
            while !requests.is_empty() {
                let began = Instant::now();
                let responses = broker.manager.fetch_many(
                    &requests,
                    MAX_FETCH_BYTES,
                    MAX_PARTITION_FETCH_BYTES,
                );
                let mut progress = false;
                for (request, response) in requests.iter_mut().zip(responses) {
                    let fetched = response.result.expect("fetch_many partition");
                    if !fetched.bytes.is_empty() {
                        let next = check_batches(&fetched.bytes, request.offset, layout);
                        assert!(next == fetched.next_fetch_offset && next <= end);
                        request.offset = next;
                        progress = true;
                    }
                }
                record_latency(hist, began.elapsed());
                calls += 1;
                assert!(progress, "fetch_many returned nothing for {requests:?}");
                requests.retain(|r| r.offset < end);
            }
            calls
        });
        meter.ops += calls;
        meter.moved(
            records,
            records * RECORD_BYTES as u64,
            Some(topics[0].disk_bytes(records)),
        );
    }
    (meter, None)
}
