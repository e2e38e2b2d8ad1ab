//! Topic-level benchmarks of ringlog: the [`TopicManager`] API a Kafka broker front end calls
//! (produce with explicit partitions or Kafka's partitioner, fetch with byte budgets,
//! multi-partition fetch, on-demand compaction).
//!
//! Commands (from the workspace root; data goes to `$RINGLOG_BENCH_DIR`, else the system's
//! temporary directory, which must not be tmpfs for meaningful figures):
//!
//! ```text
//! cargo bench -p benches --bench topic                          # full profile, io_uring + O_DIRECT
//! cargo bench -p benches --bench topic --features mmap          # the same on the mmap path
//! RINGLOG_BENCH_QUICK=1 cargo bench -p benches --bench topic    # quick profile (~1 min)
//! cargo bench -p benches --bench topic -- --test                # smoke test: each case once
//! cargo bench -p benches --bench topic -- topic_fetch           # filter by name
//! ```
//!
//! The grids live in `benches::scenarios::topic`, shared with `ringbench suite`.
//!
//! The quick profile trims every grid (`benches::grid`) and takes
//! [`QUICK_SAMPLE_COUNT`] samples per case instead of Divan's 100; `DIVAN_SAMPLE_COUNT=n` or
//! `-- --sample-count n` still override it (and lower the sample count of any profile).
//!
//! Conditions every figure shares:
//! - I/O path: the build's default (io_uring + O_DIRECT, with `--features mmap` the mmap
//!   path); each case's name ends with `io=<path>` as probed at start-up, and the binary
//!   prints the filesystem and path to stderr first.
//! - Durability: `durability=none` (acknowledged in memory, written when a 256 KiB chunk
//!   fills) unless the name says `sync` (acknowledged after `fdatasync`, group commit).
//! - Base log settings are `benches::config`: no background flush thread and no retention
//!   thread, so only the benchmark's own threads do work; topics keep everything (no
//!   retention) and use the default 1 GiB segments unless a bench says otherwise.
//! - Records carry no headers; produce batches hold 16 KiB of payload (Kafka's default
//!   `batch.size`): 163 records of 100 B, 16 of 1 KiB, 1 of 10 KiB.
//! - Counters are per iteration: `BytesCount` is payload (record values) bytes, `ItemsCount`
//!   is records. Allocations are counted by Divan's `AllocProfiler`.
//! - Setup is never timed: topics are created, filled and flushed, and inputs generated,
//!   before the timed region (state built before `bench_*`, or `with_inputs`, whose values
//!   Divan also drops after the timed sample). Produce benches write into one long-lived
//!   manager per case; once a topic holds [`TOPIC_CAP_BYTES`], `with_inputs` swaps in a fresh
//!   one and deletes the old one, untimed. Every directory is deleted at the end of the case.
//! - Concurrency: N threads, started before the first sample and released together for each
//!   (`benches::crew`), share a fixed total amount of work, so the time is the wall time of
//!   all N together and the throughput is aggregate. (Divan's own `threads` option would time
//!   each thread's loop separately, which reports per-thread latency, not what N threads
//!   achieve together.) Thread start-up is outside the timed region; releasing and joining
//!   the threads costs two barrier crossings per sample.
//! - Consumers check what they read: each fetched batch must start at the next expected
//!   offset and have the expected record count and size, and `next_fetch_offset` must
//!   follow; only the 61-byte batch headers are read, so the check is cheap.
//!
//! The benches:
//! - `topic_produce_throughput` (partitions x record size): one thread produces 256 batches
//!   (4 MiB of payload) per iteration, batch k to partition k mod P, with explicit
//!   partitions (no partitioner), `durability=none`.
//! - `topic_fetch_throughput` (partitions x record size): one consumer reads a whole
//!   pre-filled topic of 32 MiB of payload per iteration with the engine's fetch (1 MiB
//!   per-partition budget, Kafka's `max.partition.fetch.bytes`), one fetch per partition in
//!   turn. Warm: the data was read once before timing, so it is served from the engine's read
//!   cache (256 MiB), not the disk. The fetch hands out slices of cached buffers without
//!   copying, so these GB/s measure locating and checking batches, not moving bytes.
//! - `topic_concurrent_producers` (producers x partitions x durability, 1 KiB records): N
//!   threads share 512 batches (8 MiB) per iteration with `none`, 32 batches (512 KiB) with
//!   `sync`; batch k goes to partition k mod P, thread t produces batches t, t+N, ... With
//!   `sync`, producers of one partition share each `fdatasync` (group commit).
//! - `topic_concurrent_consumers` (consumers x partitions, 1 KiB records): N threads read a
//!   pre-filled 32 MiB topic once per iteration; each partition is cut into ceil(N/P)
//!   batch-aligned ranges dealt round robin, so every record is read exactly once. Warm cache.
//! - `topic_partition_balance` (partitions, 1 KiB keyed records): one produce call of 1024
//!   records with distinct keys per iteration through Kafka's default partitioner
//!   (`produce(topic, None, ..)`, murmur2 of the key); the split per partition is checked
//!   against `partition_for_key`, and the records-per-partition max/min ratio is printed once
//!   per case to stderr.
//! - `topic_multi_topic::produce` (topics x 4 partitions, 1 KiB records): one thread produces
//!   160 batches (2.5 MiB) per iteration spread over every partition of every topic.
//! - `topic_multi_topic::fetch_many` (topics x 4 partitions, 1 KiB records): one consumer
//!   reads 16 MiB spread over every partition of every topic with multi-partition fetches
//!   (Kafka's default 50 MiB total and 1 MiB per-partition budgets). Warm cache.
//! - `topic_compaction` (partitions): each iteration gets a freshly built dirty compacted
//!   topic (built untimed: per partition 1024 records of 1 KiB over 128 keys, each key written
//!   8 times, 64 KiB segments so about 20 are sealed) and times `compact_topic` on it,
//!   asserting every partition reclaimed bytes. Counters are the dirty topic's records and
//!   payload bytes. 40 samples of one iteration each, capped at one minute per case (building
//!   inputs included), so the 8-partition case may stop with fewer samples.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use benches::crew::with_crew;
use benches::payload;
use benches::scenarios::Profile;
use benches::scenarios::topic::{
    self, CONCURRENT_BATCHES_NONE, CONCURRENT_BATCHES_SYNC, CountCase, PRODUCE_BATCHES,
    RECORD_BYTES, SizeCase, TOPIC_CAP_BYTES, ThreadCase,
};
use benches::topic_fixtures::{
    Broker, Layout, MAX_FETCH_BYTES, MAX_PARTITION_FETCH_BYTES, Rotating, TIMESTAMP_MS,
    batch_records, check_batches, check_produced, consume_range, fetch_step, fill, keyed_records,
    keyless_records, split_work, topic_config,
};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use ringlog::record::Record;
use ringlog::topic::PartitionFetch;
use ringlog::topic::partitioner::partition_for_key;
use ringlog::{CleanupPolicy, Durability, TopicConfig, TopicManager};

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// Samples per case in the quick profile (Divan's default is 100).
const QUICK_SAMPLE_COUNT: u32 = 20;
// Sizes shared with `ringbench suite`, so the two runners measure the same workloads.
use benches::scenarios::topic::{
    BALANCE_KEYS, BALANCE_RECORDS, COMPACTION_KEYS, COMPACTION_RECORDS, COMPACTION_SEGMENT_BYTES,
    MULTI_TOPIC_BATCHES, MULTI_TOPIC_PARTITIONS, MULTI_TOPIC_READ_BYTES, READ_TOPIC_BYTES,
};

fn main() {
    eprintln!("{}", benches::describe_conditions());
    if benches::is_quick() {
        // A default that `DIVAN_SAMPLE_COUNT` / `--sample-count` still override.
        divan::Divan::default()
            .sample_count(QUICK_SAMPLE_COUNT)
            .config_with_args()
            .main();
    } else {
        divan::main();
    }
    for line in SUMMARIES.lock().expect("summaries lock").iter() {
        eprintln!("{line}");
    }
}

/// Lines printed to stderr once every bench ran (printing while Divan draws its table
/// would break the table's lines).
static SUMMARIES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn summarize(line: String) {
    SUMMARIES.lock().expect("summaries lock").push(line);
}

#[divan::bench(args = topic::size_cases(Profile::divan()))]
fn topic_produce_throughput(bencher: Bencher, case: &SizeCase) {
    let broker = Broker::open();
    let value = payload(case.size);
    let batch = keyless_records(&value, batch_records(case.size));
    let records = PRODUCE_BATCHES * batch.len();
    let bytes = records * case.size;
    let rotating = Rotating::new(
        &broker.manager,
        "produce",
        1,
        topic_config(case.partitions, Durability::None),
        TOPIC_CAP_BYTES,
    );
    bencher
        .counter(BytesCount::new(bytes))
        .counter(ItemsCount::new(records))
        .with_inputs(|| rotating.next(bytes as u64))
        .bench_local_refs(|topics| {
            let topic = topics[0].as_str();
            for k in 0..PRODUCE_BATCHES {
                let partition = (k % case.partitions as usize) as u32;
                let results = broker
                    .manager
                    .produce(topic, Some(partition), &batch)
                    .expect("produce");
                check_produced(&results, partition, batch.len());
            }
        });
}

/// A topic filled with `total_bytes` of `size`-byte records spread evenly over its
/// partitions, flushed, read once (warming the read cache and checking every batch).
struct ReadTopic {
    name: &'static str,
    partitions: u32,
    /// Offsets each partition holds (`0..end`).
    end: u64,
    layout: Layout,
    records: usize,
    bytes: usize,
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
            consume_range(
                manager,
                name,
                partition,
                (0, end),
                layout,
                MAX_PARTITION_FETCH_BYTES,
            );
        }
        let records = batches_per_partition * batch.len() * partitions as usize;
        ReadTopic {
            name,
            partitions,
            end,
            layout,
            records,
            bytes: records * size,
        }
    }
}

#[divan::bench(args = topic::size_cases(Profile::divan()))]
fn topic_fetch_throughput(bencher: Bencher, case: &SizeCase) {
    let broker = Broker::open();
    let topic = ReadTopic::build(
        &broker.manager,
        "fetch",
        case.partitions,
        case.size,
        READ_TOPIC_BYTES,
    );
    bencher
        .counter(BytesCount::new(topic.bytes))
        .counter(ItemsCount::new(topic.records))
        .with_inputs(|| vec![0_u64; topic.partitions as usize])
        .bench_local_refs(|offsets| {
            // One fetch per partition in turn until every partition is read to its end.
            let mut read = 0;
            while read < topic.partitions {
                read = 0;
                for (partition, offset) in offsets.iter_mut().enumerate() {
                    if *offset < topic.end {
                        *offset = fetch_step(
                            &broker.manager,
                            topic.name,
                            partition as u32,
                            (*offset, topic.end),
                            topic.layout,
                            MAX_PARTITION_FETCH_BYTES,
                        );
                    } else {
                        read += 1;
                    }
                }
            }
        });
}

#[divan::bench(args = topic::thread_cases(Profile::divan(), "producers", &[Durability::None, Durability::Sync]))]
fn topic_concurrent_producers(bencher: Bencher, case: &ThreadCase) {
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let batch = keyless_records(&value, batch_records(RECORD_BYTES));
    let batches = match case.durability {
        Durability::Sync => CONCURRENT_BATCHES_SYNC,
        _ => CONCURRENT_BATCHES_NONE,
    };
    let records = batches * batch.len();
    let bytes = records * RECORD_BYTES;
    let rotating = Rotating::new(
        &broker.manager,
        "producers",
        1,
        topic_config(case.partitions, case.durability),
        TOPIC_CAP_BYTES,
    );
    let (manager, batch) = (&broker.manager, batch.as_slice());
    let produce = |thread: usize, topics: &Arc<[String]>| {
        let topic = topics[0].as_str();
        for k in (thread..batches).step_by(case.threads) {
            let partition = (k % case.partitions as usize) as u32;
            let results = manager
                .produce(topic, Some(partition), batch)
                .expect("produce");
            check_produced(&results, partition, batch.len());
        }
    };
    with_crew(case.threads, produce, |crew| {
        bencher
            .counter(BytesCount::new(bytes))
            .counter(ItemsCount::new(records))
            .with_inputs(|| rotating.next(bytes as u64))
            .bench_local_refs(|topics| {
                crew.run(Arc::clone(topics));
            });
    });
}

#[divan::bench(args = topic::thread_cases(Profile::divan(), "consumers", &[Durability::None]))]
fn topic_concurrent_consumers(bencher: Bencher, case: &ThreadCase) {
    let broker = Broker::open();
    let topic = ReadTopic::build(
        &broker.manager,
        "consumers",
        case.partitions,
        RECORD_BYTES,
        READ_TOPIC_BYTES,
    );
    let assignments = split_work(
        topic.partitions,
        topic.end / topic.layout.batch_records,
        topic.layout.batch_records,
        case.threads,
    );
    let (manager, topic) = (&broker.manager, &topic);
    let read = |thread: usize, (): &()| {
        assignments[thread]
            .iter()
            .map(|&(partition, range)| {
                consume_range(
                    manager,
                    topic.name,
                    partition,
                    range,
                    topic.layout,
                    MAX_PARTITION_FETCH_BYTES,
                )
            })
            .sum::<u64>()
    };
    with_crew(assignments.len(), read, |crew| {
        bencher
            .counter(BytesCount::new(topic.bytes))
            .counter(ItemsCount::new(topic.records))
            .bench_local(|| {
                let read: u64 = crew.run(()).into_iter().sum();
                assert_eq!(
                    read, topic.records as u64,
                    "consumers read every record once"
                );
            });
    });
}

#[divan::bench(args = topic::balance_cases(Profile::divan()))]
fn topic_partition_balance(bencher: Bencher, case: &CountCase) {
    let partitions = case.count as u32;
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let keys: Vec<Vec<u8>> = (0..BALANCE_KEYS)
        .map(|i| format!("user-{i:08}").into_bytes())
        .collect();
    let records = keyed_records(&keys, &value);
    // Where Kafka's partitioner sends each window of keys, computed untimed, to check the
    // engine's routing against.
    let windows = BALANCE_KEYS / BALANCE_RECORDS;
    let expected: Vec<Vec<u64>> = keys
        .chunks(BALANCE_RECORDS)
        .map(|window| {
            let mut counts = vec![0; partitions as usize];
            for key in window {
                counts[partition_for_key(key, partitions) as usize] += 1;
            }
            counts
        })
        .collect();
    let bytes = BALANCE_RECORDS * RECORD_BYTES;
    let rotating = Rotating::new(
        &broker.manager,
        "balance",
        1,
        topic_config(partitions, Durability::None),
        TOPIC_CAP_BYTES,
    );
    let next_window = Cell::new(0);
    let per_partition = RefCell::new(vec![0_u64; partitions as usize]);
    bencher
        .counter(BytesCount::new(bytes))
        .counter(ItemsCount::new(BALANCE_RECORDS))
        .with_inputs(|| {
            let window = next_window.get();
            next_window.set((window + 1) % windows);
            (rotating.next(bytes as u64), window)
        })
        .bench_local_refs(|(topics, window)| {
            let start = *window * BALANCE_RECORDS;
            let results = broker
                .manager
                .produce(&topics[0], None, &records[start..start + BALANCE_RECORDS])
                .expect("produce keyed records");
            let mut per_partition = per_partition.borrow_mut();
            for result in &results {
                let count = result.last_offset + 1 - result.base_offset;
                assert_eq!(
                    count, expected[*window][result.partition as usize],
                    "records routed to partition {}",
                    result.partition
                );
                per_partition[result.partition as usize] += count;
            }
        });
    let per_partition = per_partition.into_inner();
    let (min, max) = (
        per_partition.iter().copied().min().unwrap_or(0),
        per_partition.iter().copied().max().unwrap_or(0),
    );
    assert!(min > 0, "a partition got no records: {per_partition:?}");
    summarize(format!(
        "topic_partition_balance partitions={partitions}: {} records, per partition min {min} \
         max {max}, max/min {:.3}",
        per_partition.iter().sum::<u64>(),
        max as f64 / min as f64
    ));
}

/// Topics x 4 partitions.
mod topic_multi_topic {
    use super::{
        Broker, BytesCount, CountCase, ItemsCount, MAX_FETCH_BYTES, MAX_PARTITION_FETCH_BYTES,
        MULTI_TOPIC_BATCHES, MULTI_TOPIC_PARTITIONS, MULTI_TOPIC_READ_BYTES, PartitionFetch,
        Profile, RECORD_BYTES, ReadTopic, Rotating, TOPIC_CAP_BYTES, batch_records, check_batches,
        check_produced, keyless_records, payload, topic, topic_config,
    };
    use divan::Bencher;
    use ringlog::Durability;

    fn cases() -> Vec<CountCase> {
        topic::multi_topic_cases(Profile::divan())
    }

    #[divan::bench(args = cases())]
    fn produce(bencher: Bencher, case: &CountCase) {
        let broker = Broker::open();
        let value = payload(RECORD_BYTES);
        let batch = keyless_records(&value, batch_records(RECORD_BYTES));
        let records = MULTI_TOPIC_BATCHES * batch.len();
        let bytes = records * RECORD_BYTES;
        let rotating = Rotating::new(
            &broker.manager,
            "multi",
            case.count,
            topic_config(MULTI_TOPIC_PARTITIONS, Durability::None),
            TOPIC_CAP_BYTES,
        );
        bencher
            .counter(BytesCount::new(bytes))
            .counter(ItemsCount::new(records))
            .with_inputs(|| rotating.next(bytes as u64))
            .bench_local_refs(|topics| {
                for k in 0..MULTI_TOPIC_BATCHES {
                    let topic = &topics[k % topics.len()];
                    let partition = ((k / topics.len()) % MULTI_TOPIC_PARTITIONS as usize) as u32;
                    let results = broker
                        .manager
                        .produce(topic, Some(partition), &batch)
                        .expect("produce");
                    check_produced(&results, partition, batch.len());
                }
            });
    }

    #[divan::bench(args = cases())]
    fn fetch_many(bencher: Bencher, case: &CountCase) {
        const NAMES: [&str; 10] = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"];
        let broker = Broker::open();
        let per_topic = MULTI_TOPIC_READ_BYTES / case.count;
        let topics: Vec<ReadTopic> = NAMES[..case.count]
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
        let records: usize = topics.iter().map(|t| t.records).sum();
        bencher
            .counter(BytesCount::new(records * RECORD_BYTES))
            .counter(ItemsCount::new(records))
            .with_inputs(|| {
                topics
                    .iter()
                    .flat_map(|t| {
                        (0..t.partitions).map(|partition| PartitionFetch {
                            topic: t.name.to_string(),
                            partition,
                            offset: 0,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .bench_local_refs(|requests| {
                // Fetch every unfinished partition at once until all are read to the end.
                while !requests.is_empty() {
                    let responses = broker.manager.fetch_many(
                        requests,
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
                    assert!(progress, "fetch_many returned nothing for {requests:?}");
                    requests.retain(|r| r.offset < end);
                }
            });
    }
}

/// A freshly built compacted topic with keyed duplicates over many sealed segments; deleted
/// when dropped (Divan drops inputs after the timed sample).
struct DirtyTopic<'m> {
    manager: &'m TopicManager,
    name: String,
    records: usize,
}

impl Drop for DirtyTopic<'_> {
    fn drop(&mut self) {
        self.manager
            .delete_topic(&self.name)
            .expect("delete a compacted topic");
    }
}

impl<'m> DirtyTopic<'m> {
    fn build(manager: &'m TopicManager, name: String, partitions: u32, value: &[u8]) -> Self {
        manager
            .create_topic(
                &name,
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
        let keys: Vec<Vec<u8>> = (0..COMPACTION_KEYS)
            .map(|k| format!("key-{k:06}").into_bytes())
            .collect();
        let records: Vec<Record<'_>> = (0..COMPACTION_RECORDS)
            .map(|i| Record {
                key: Some(&keys[i % COMPACTION_KEYS]),
                value: Some(value),
                timestamp_ms: TIMESTAMP_MS,
                headers: &[],
            })
            .collect();
        for partition in 0..partitions {
            for batch in records.chunks(batch_records(value.len())) {
                let results = manager
                    .produce(&name, Some(partition), batch)
                    .expect("produce keyed duplicates");
                check_produced(&results, partition, batch.len());
            }
            let log = manager.partition(&name, partition).expect("partition");
            log.flush().expect("flush");
            assert!(
                log.segment_count() > 8,
                "too few sealed segments to compact"
            );
        }
        DirtyTopic {
            manager,
            name,
            records: COMPACTION_RECORDS * partitions as usize,
        }
    }
}

#[divan::bench(
    args = topic::compaction_cases(Profile::divan()),
    sample_count = 40,
    sample_size = 1,
    max_time = Duration::from_mins(1),
)]
fn topic_compaction(bencher: Bencher, case: &CountCase) {
    let partitions = case.count as u32;
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let built = Cell::new(0_u32);
    let first = RefCell::new(None);
    bencher
        .with_inputs(|| {
            let n = built.get();
            built.set(n + 1);
            DirtyTopic::build(&broker.manager, format!("compact-{n}"), partitions, &value)
        })
        .input_counter(|topic| ItemsCount::new(topic.records))
        .input_counter(|topic| BytesCount::new(topic.records * RECORD_BYTES))
        .bench_local_refs(|topic| {
            let reports = broker.manager.compact_topic(&topic.name).expect("compact");
            assert_eq!(reports.len(), partitions as usize);
            for (partition, report) in &reports {
                let report = report
                    .as_ref()
                    .unwrap_or_else(|| panic!("partition {partition}: nothing compacted"));
                assert!(
                    report.bytes_reclaimed() > 0 && report.records_removed() > 0,
                    "partition {partition} reclaimed nothing: {report:?}"
                );
            }
            if first.borrow().is_none() {
                first.borrow_mut().clone_from(&reports[0].1);
            }
            reports
        });
    if let Some(report) = first.into_inner() {
        summarize(format!(
            "topic_compaction partitions={partitions}: partition 0 went {} -> {} bytes, \
             {} -> {} records, {} -> {} segments",
            report.bytes_before,
            report.bytes_after,
            report.records_before,
            report.records_after,
            report.segments_before,
            report.segments_after
        ));
    }
}
