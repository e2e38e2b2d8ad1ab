//! Fixtures of the topic benchmarks (`benches/topic.rs`): a topic manager in a temporary
//! directory, produce batches, topics swapped for fresh ones outside the timed region once
//! they pass a size cap, and fetch loops that check what they read.
//!
//! Everything here runs outside the timed region except [`consume_range`],
//! [`check_batches`] and [`check_produced`], which are part of what a benchmark measures (a
//! consumer that checks offsets and lengths, a producer that checks its acknowledgement).

use std::cell::RefCell;
use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock};

use ringlog::record::{BatchHeader, Record, records};
use ringlog::topic::ProduceResult;
use ringlog::{
    CleanupPolicy, Durability, IoMode, SharedConfig, TopicConfig, TopicManager, TopicManagerConfig,
};

/// Bytes of payload per produced batch: Kafka's default producer `batch.size` (16 KiB).
pub const BATCH_BYTES: usize = 16 * 1024;
/// Per-partition byte budget of one fetch: Kafka's default `max.partition.fetch.bytes`.
pub const MAX_PARTITION_FETCH_BYTES: usize = 1024 * 1024;
/// Total byte budget of one multi-partition fetch: Kafka's default `fetch.max.bytes`.
pub const MAX_FETCH_BYTES: usize = 50 * 1024 * 1024;
/// Timestamp of every benchmark record (topics keep data forever: no time retention).
pub const TIMESTAMP_MS: i64 = 1_700_000_000_000;

static IO_PATH: LazyLock<String> = LazyLock::new(|| {
    let dir = crate::bench_dir();
    ringlog::Shared::new(dir.path(), &shared_config()).map_or_else(
        |e| format!("unavailable ({e})"),
        |s| s.io_path().to_string(),
    )
});

/// The I/O path topic managers of this build run on (probed once), for benchmark names.
pub fn io_path() -> &'static str {
    &IO_PATH
}

/// The shared configuration of every benchmark topic manager: the build's default I/O path,
/// default buffer pool and read cache.
pub fn shared_config() -> SharedConfig {
    SharedConfig {
        io_mode: IoMode::DEFAULT,
        ..SharedConfig::default()
    }
}

/// A topic manager in a fresh directory that is removed when this is dropped.
#[derive(Debug)]
pub struct Broker {
    /// The manager (dropped, and so closed, before the directory goes).
    pub manager: TopicManager,
    dir: tempfile::TempDir,
}

impl Broker {
    /// Opens a manager in a fresh [`crate::bench_dir`] with [`crate::config`] as the base log
    /// settings: no background flush or retention thread, so only benchmark threads work.
    /// Each topic's [`TopicConfig::durability`] sets its durability.
    ///
    /// # Panics
    /// If the manager cannot be opened.
    pub fn open() -> Broker {
        Broker::open_with_cleaner_cap(None)
    }

    /// As [`Broker::open`], with compactions capped at `cleaner_io_max_bytes_per_second`
    /// (`TopicManagerConfig::cleaner_io_max_bytes_per_second`; `None`: no cap).
    ///
    /// # Panics
    /// If the manager cannot be opened.
    pub fn open_with_cleaner_cap(cleaner_io_max_bytes_per_second: Option<NonZeroU64>) -> Broker {
        let dir = crate::bench_dir();
        let manager = TopicManager::open(
            dir.path(),
            TopicManagerConfig {
                shared: shared_config(),
                log: crate::config(Durability::None),
                cleaner_io_max_bytes_per_second,
            },
        )
        .expect("open the topic manager");
        Broker { manager, dir }
    }

    /// The directory the manager writes into.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A `delete` topic of `partitions` partitions acknowledging with `durability`, keeping
/// everything (no retention by size or age).
pub fn topic_config(partitions: u32, durability: Durability) -> TopicConfig {
    TopicConfig {
        partitions,
        durability,
        retention_ms: None,
        retention_bytes: None,
        cleanup_policy: CleanupPolicy::Delete,
        ..TopicConfig::default()
    }
}

/// Records per produced batch for records of `value_bytes`: as many as fit in
/// [`BATCH_BYTES`], at least one.
pub fn batch_records(value_bytes: usize) -> usize {
    (BATCH_BYTES / value_bytes).max(1)
}

/// One record per key of `keys`, each with `value` as its value.
pub fn keyed_records<'a, K: AsRef<[u8]>>(keys: &'a [K], value: &'a [u8]) -> Vec<Record<'a>> {
    keys.iter()
        .map(|key| Record {
            key: Some(key.as_ref()),
            value: Some(value),
            timestamp_ms: TIMESTAMP_MS,
            headers: &[],
        })
        .collect()
}

/// `count` records without a key, each with `value` as its value.
pub fn keyless_records(value: &[u8], count: usize) -> Vec<Record<'_>> {
    (0..count)
        .map(|_| Record {
            key: None,
            value: Some(value),
            timestamp_ms: TIMESTAMP_MS,
            headers: &[],
        })
        .collect()
}

/// Checks one produce acknowledgement: a single batch to `partition` holding `records`
/// offsets. Cheap enough to sit in the timed region.
///
/// # Panics
/// If the acknowledgement says otherwise.
pub fn check_produced(results: &[ProduceResult], partition: u32, records: usize) {
    assert!(
        results.len() == 1
            && results[0].partition == partition
            && results[0].last_offset + 1 - results[0].base_offset == records as u64,
        "produce of {records} records to partition {partition} acknowledged as {results:?}"
    );
}

/// Produces `batches_per_partition` copies of `batch` to every partition of `topic`
/// (round robin over the partitions), then flushes every partition so the data is on disk.
///
/// # Panics
/// If a produce or flush fails.
pub fn fill(
    manager: &TopicManager,
    topic: &str,
    partitions: u32,
    batches_per_partition: usize,
    batch: &[Record<'_>],
) {
    for _ in 0..batches_per_partition {
        for partition in 0..partitions {
            let results = manager
                .produce(topic, Some(partition), batch)
                .expect("fill: produce");
            check_produced(&results, partition, batch.len());
        }
    }
    for partition in 0..partitions {
        manager
            .partition(topic, partition)
            .expect("fill: partition")
            .flush()
            .expect("fill: flush");
    }
}

/// The shape of every batch of a topic [`fill`]ed with one batch: consumers check each
/// fetched batch against it.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Records per batch.
    pub batch_records: u64,
    /// Bytes of one stored batch (header and log overhead included).
    pub batch_bytes: usize,
}

impl Layout {
    /// Reads the first batch of `partition` and checks it holds `batch_records` records with
    /// values of `value_bytes`.
    ///
    /// # Panics
    /// If the fetch fails or the batch differs.
    pub fn probe(
        manager: &TopicManager,
        topic: &str,
        partition: u32,
        batch_records: usize,
        value_bytes: usize,
    ) -> Layout {
        let fetched = manager
            .fetch(topic, partition, 0, 1)
            .expect("probe: fetch the first batch");
        let header = BatchHeader::parse(&fetched.bytes).expect("probe: batch header");
        assert_eq!(
            header.records_count as usize, batch_records,
            "probe: records per batch"
        );
        let mut count = 0;
        for record in records(&fetched.bytes).expect("probe: records") {
            let record = record.expect("probe: record");
            assert_eq!(
                record.value.map(<[u8]>::len),
                Some(value_bytes),
                "probe: value length"
            );
            count += 1;
        }
        assert_eq!(count, batch_records, "probe: decoded records");
        Layout {
            batch_records: batch_records as u64,
            batch_bytes: header.total_bytes(),
        }
    }
}

/// Walks the batches of one fetch response that starts at batch-aligned offset `from`:
/// each batch must start where the previous ended and have the layout's record count and
/// size, and the batches must cover the bytes exactly. Returns the offset after the last
/// batch. Reads only the 61-byte headers, so it is cheap next to the fetch.
///
/// # Panics
/// On an empty response or any mismatch.
pub fn check_batches(bytes: &[u8], from: u64, layout: Layout) -> u64 {
    assert!(!bytes.is_empty(), "fetch at offset {from} returned nothing");
    let mut expected = from;
    let mut rest = bytes;
    while !rest.is_empty() {
        let header = BatchHeader::parse(rest).expect("fetched batch header");
        assert!(
            header.base_offset as u64 == expected
                && header.records_count as u64 == layout.batch_records
                && header.total_bytes() == layout.batch_bytes
                && rest.len() >= layout.batch_bytes,
            "fetch from {from}: batch {header:?} where offset {expected} and layout {layout:?} \
             were expected ({} bytes left)",
            rest.len()
        );
        rest = &rest[layout.batch_bytes..];
        expected += layout.batch_records;
    }
    expected
}

/// One fetch of `partition` at batch-aligned `offset`, asking for at most `max_bytes` and
/// never past `end`; checks the response with [`check_batches`] and its `next_fetch_offset`.
/// Returns the offset to fetch next.
///
/// # Panics
/// If the fetch fails or returns anything but the expected batches.
pub fn fetch_step(
    manager: &TopicManager,
    topic: &str,
    partition: u32,
    (offset, end): (u64, u64),
    layout: Layout,
    max_bytes: usize,
) -> u64 {
    let batches_left = ((end - offset) / layout.batch_records) as usize;
    let budget = max_bytes.min(batches_left * layout.batch_bytes);
    let fetched = manager
        .fetch(topic, partition, offset, budget)
        .expect("consume: fetch");
    let next = check_batches(&fetched.bytes, offset, layout);
    assert!(
        next == fetched.next_fetch_offset && next <= end,
        "fetch of partition {partition} at {offset}: read to {next}, next fetch offset {}, \
         range end {end}",
        fetched.next_fetch_offset
    );
    next
}

/// Consumes offsets `[start, end)` of one partition with [`fetch_step`], `max_bytes` at a
/// time. `start` and `end` are batch-aligned. Returns the records read.
///
/// # Panics
/// If a fetch fails or returns anything but the expected batches.
pub fn consume_range(
    manager: &TopicManager,
    topic: &str,
    partition: u32,
    (start, end): (u64, u64),
    layout: Layout,
    max_bytes: usize,
) -> u64 {
    let mut offset = start;
    while offset < end {
        offset = fetch_step(manager, topic, partition, (offset, end), layout, max_bytes);
    }
    end - start
}

/// One consumer's share of a topic: `(partition, (start, end))` offset ranges.
pub type Assignment = Vec<(u32, (u64, u64))>;

/// Splits reading every partition once (`batches_per_partition` batches of `batch_records`)
/// across `consumers`: each partition is cut into `ceil(consumers / partitions)` batch-aligned
/// ranges, dealt round robin. Every record is read exactly once, whatever the counts.
pub fn split_work(
    partitions: u32,
    batches_per_partition: u64,
    batch_records: u64,
    consumers: usize,
) -> Vec<Assignment> {
    let slices = (consumers as u64).div_ceil(u64::from(partitions)).max(1);
    let mut out = vec![Vec::new(); consumers];
    let mut unit = 0;
    for slice in 0..slices {
        for partition in 0..partitions {
            let first = batches_per_partition * slice / slices;
            let last = batches_per_partition * (slice + 1) / slices;
            if first < last {
                out[unit % consumers]
                    .push((partition, (first * batch_records, last * batch_records)));
                unit += 1;
            }
        }
    }
    out
}

/// Topics written by a produce benchmark, swapped for fresh ones outside the timed region
/// once they hold `cap_bytes` of payload, so disk use stays bounded however long Divan runs.
///
/// [`Rotating::next`] is meant for `with_inputs`: it hands out the names of the current
/// generation of topics (`topics` topics of the same settings). Old generations are deleted
/// as soon as no input holds them any more, which Divan guarantees after each sample.
#[derive(Debug)]
pub struct Rotating<'m> {
    manager: &'m TopicManager,
    prefix: &'static str,
    topics: usize,
    config: TopicConfig,
    cap_bytes: u64,
    state: RefCell<RotationState>,
}

#[derive(Debug)]
struct RotationState {
    generation: u64,
    written: u64,
    current: Arc<[String]>,
    retired: Vec<Arc<[String]>>,
}

impl<'m> Rotating<'m> {
    /// Creates the first generation: `topics` topics named `{prefix}-g0-t{i}`.
    ///
    /// # Panics
    /// If a topic cannot be created.
    pub fn new(
        manager: &'m TopicManager,
        prefix: &'static str,
        topics: usize,
        config: TopicConfig,
        cap_bytes: u64,
    ) -> Rotating<'m> {
        let rotating = Rotating {
            manager,
            prefix,
            topics,
            config,
            cap_bytes,
            state: RefCell::new(RotationState {
                generation: 0,
                written: 0,
                current: Arc::from(Vec::new()),
                retired: Vec::new(),
            }),
        };
        let first = rotating.create(0);
        rotating.state.borrow_mut().current = first;
        rotating
    }

    fn create(&self, generation: u64) -> Arc<[String]> {
        let names: Vec<String> = (0..self.topics)
            .map(|t| format!("{}-g{generation}-t{t}", self.prefix))
            .collect();
        for name in &names {
            self.manager
                .create_topic(name, self.config.clone())
                .expect("create a benchmark topic");
        }
        Arc::from(names)
    }

    /// The topics the next iteration writes `bytes` of payload to. Deletes retired
    /// generations no input holds any more, and starts a new generation when the current one
    /// would pass the cap. Runs outside the timed region.
    ///
    /// # Panics
    /// If a topic cannot be created or deleted.
    pub fn next(&self, bytes: u64) -> Arc<[String]> {
        let mut state = self.state.borrow_mut();
        let mut kept = Vec::new();
        for names in std::mem::take(&mut state.retired) {
            if Arc::strong_count(&names) == 1 {
                for name in names.iter() {
                    self.manager
                        .delete_topic(name)
                        .expect("delete a retired benchmark topic");
                }
            } else {
                kept.push(names);
            }
        }
        state.retired = kept;
        if state.written > 0 && state.written + bytes > self.cap_bytes {
            state.generation += 1;
            let fresh = self.create(state.generation);
            let old = std::mem::replace(&mut state.current, fresh);
            state.retired.push(old);
            state.written = 0;
        }
        state.written += bytes;
        Arc::clone(&state.current)
    }

    /// Topics created so far, including the current generation.
    pub fn generations(&self) -> u64 {
        self.state.borrow().generation + 1
    }
}
