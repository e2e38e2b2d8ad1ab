//! Soak: producers and consumers on three topics for a bounded time, with segments small
//! enough that rollover, retention and compaction run all the time, while the process's
//! resident memory and open file descriptors are watched for growth.
//!
//! | topic | partitions | cleanup | durability | producers |
//! |---|---|---|---|---|
//! | `events` | 8 | `delete` by size ([`RETENTION_BYTES`]) | `None` | 2 |
//! | `audit` | 2 | `delete` by age ([`RETENTION_MS`]) | `Sync` | 1 |
//! | `state` | 4 | `compact`, keys routed by Kafka's partitioner | `Write` | 1 |
//!
//! Every partition has exactly one producer, so the producer knows each record's offset before
//! it writes it, and a record's key and value are a function of (topic, partition, offset)
//! ([`Content`]). Four consumers keep up with the producers on disjoint partition sets; a fifth
//! reads every partition but pauses between fetches ([`LAGGING_PAUSE`]), so it falls behind
//! retention and reads what compaction rewrote. All use `fetch_many`, check every record
//! against that function, and check that offsets are contiguous except where:
//! - retention moved the log start past the consumer: the fetch fails with offset-out-of-range
//!   and the consumer jumps to the start (counted, and refused on the compacted topic);
//! - compaction removed a superseded record (`state` only): offset `o` carries key
//!   `o % KEYS_PER_PARTITION`, so `o` may be missing only if `o + KEYS_PER_PARTITION` is below
//!   the log end, i.e. a newer record of the same key exists.
//!
//! One thread calls `TopicManager::maintain()` every [`MAINTENANCE_INTERVAL`] (retention and
//! compaction; the flusher's own retention pass is off so every deletion is counted here).
//! Another samples VmRSS and the open fds beyond one per live segment every
//! [`SAMPLE_INTERVAL`]; after a warm-up quarter, the last quarter's maxima must stay within
//! [`RSS_TOLERANCE_FRACTION`] + [`RSS_TOLERANCE_BYTES`] and [`FD_SLACK`] of the second
//! quarter's (RSS net of the buffer pool, which grows lazily within its budget and must stay
//! within it). At the end everything is closed, reopened, and every partition read back and
//! checked again; the compacted topic must still hold the newest record of every key.
//!
//! Duration: `RINGLOG_SOAK_SECS` (default [`DEFAULT_SOAK_SECS`]). I/O path: `RINGLOG_SOAK_IO`
//! (`uring` by default; `auto`, `portable`). The long run:
//! `RINGLOG_SOAK_SECS=60 cargo test --release -p ringlog --test soak -- --nocapture`. The
//! figures printed at the end (records produced and verified, jumps, compactions, samples per
//! quarter) are what a report quotes; nothing here fails on speed.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use common::{io_mode_allows, now_ms};
use ringlog::record::{BatchLimits, Record, RecordView, records, validate_batch};
use ringlog::topic::manager::{MaintenanceAction, MaintenanceOutcome, PartitionFetch};
use ringlog::topic::partitioner::partition_for_key;
use ringlog::topic::{ProduceResult, TopicConfig};
use ringlog::{
    CleanupPolicy, Config, Durability, FetchedBatches, IoMode, Log, ReadError, SharedConfig,
    TopicError, TopicManager, TopicManagerConfig,
};

const DEFAULT_SOAK_SECS: u64 = 15;
/// Shorter runs end before the warm-up does (the read cache and the allocator's per-thread
/// arenas still fill during the first seconds of a debug build: a 5 s run grew from 88 to
/// 122 MiB between its second and last quarter), so the growth check would measure the
/// warm-up.
const MIN_SOAK_SECS: u64 = 12;

/// Small segments: the busiest partitions roll several times a second.
const SEGMENT_BYTES: u64 = 256 * 1024;
/// Every partition also rolls by age, so slow partitions roll too.
const SEGMENT_MS: u64 = 1000;
/// Write chunk, pooled buffer and read-ahead size.
const BUFFER_BYTES: usize = 64 * 1024;
/// A read cache far below the default, so it fills during the warm-up quarter and memory is
/// flat from then on if nothing leaks.
const CACHE_BYTES: usize = 32 * 1024 * 1024;
const BUFFER_POOL_BYTES: usize = CACHE_BYTES + 16 * 1024 * 1024;
/// Size retention of `events`, per partition: 8 segments.
const RETENTION_BYTES: u64 = 2 * 1024 * 1024;
/// Age retention of `audit`.
const RETENTION_MS: u64 = 3000;
const MIN_CLEANABLE_DIRTY_RATIO: f64 = 0.5;
/// Keys of each `state` partition; offset `o` carries key `o % KEYS_PER_PARTITION`.
const KEYS_PER_PARTITION: u64 = 256;
/// Every this many rounds of keys in `state`, one round is written as tombstones.
const TOMBSTONE_EVERY_ROUNDS: u64 = 8;
const MAX_RECORDS_PER_BATCH: u64 = 16;
/// Values are a 13-byte prefix (topic, partition, offset) and up to this many payload bytes.
const VALUE_PAYLOAD_BYTES_MAX: u64 = 400;

/// Consumers that keep up, on disjoint partition sets.
const CONSUMERS: usize = 4;
/// One more consumer reads every partition but pauses this long after each fetch while the
/// producers run, so it falls behind: retention deletes its position and compaction removes
/// records ahead of it.
const LAGGING_PAUSE: Duration = Duration::from_millis(50);
const FETCH_TOTAL_BYTES: usize = 256 * 1024;
const FETCH_PARTITION_BYTES: usize = 64 * 1024;
/// The budget of one fetch when reading back after reopening.
const READ_BACK_BYTES: usize = 64 * 1024;
/// A consumer with nothing new sleeps this long.
const IDLE_SLEEP: Duration = Duration::from_millis(1);
/// A consumer that makes no progress for this long fails instead of hanging.
const STALL_LIMIT: Duration = Duration::from_mins(1);
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(100);
const SAMPLE_INTERVAL: Duration = Duration::from_millis(500);
/// Readings of the fd count per sample, this far apart (see [`extra_fds`]).
const FD_READINGS: usize = 5;
const FD_READING_GAP: Duration = Duration::from_millis(10);

/// RSS tolerance, as a fraction of the second quarter's maximum plus a fixed amount. After
/// the warm-up quarter the engine's own memory is capped: the buffer pool (which holds the read
/// cache) reached its budget, 48 MiB here, in the first seconds. What still moves is the
/// allocator: most of the resident memory is glibc's per-thread arenas (about ten, 3 to 22 MiB
/// each in `pmap`), which keep freed chunks and settle over the first half of the run, plus the
/// 16 MiB offset map that each compaction allocates and frees, and fetch results in flight.
/// Runs here grew 1 to 10 MiB from the second quarter's maximum to the last's, plus, in some
/// runs, one step of 16 MiB: the first time a compaction's offset map
/// ([`ringlog::compaction::DEFAULT_OFFSET_MAP_BYTES`]) is served from an arena instead of its
/// own mapping, where it then stays resident. When that happens depends on how much work the
/// run did by then (early in fast runs, in the last quarter of slow ones: 63 to 79 MiB in a run
/// that produced 20.6 million records, by the first quarter in runs of 22 million), so one map
/// is allowed for. A leak of anything per roll, per deleted segment or per compaction
/// (thousands of each per quarter) would grow linearly and far past this.
const RSS_TOLERANCE_FRACTION: f64 = 0.10;
const RSS_TOLERANCE_BYTES: u64 =
    8 * 1024 * 1024 + ringlog::compaction::DEFAULT_OFFSET_MAP_BYTES as u64;
/// Slack on the open fds beyond one per live segment ([`extra_fds`]) over the second quarter's
/// maximum. The raw fd count is not compared: every segment holds its `.log` open, and how many
/// segments a partition has swings by tens with how many rolls land between two maintenance
/// passes (a pass that compacts takes longer). What is left after subtracting the segments is
/// the process's own fds (7 here) and transients that outlive the readings: a compaction's
/// output files and the segments it is replacing, readers still holding a dropped segment.
/// Samples here stayed within 6 to 28 (quarter maxima 8 to 28, in runs of 15 to 180 s). A
/// leak of one fd per roll, per deleted segment or per compaction would add at least 60 from
/// the second quarter to the last in a 15 s run, and hundreds in a 60 s one.
const FD_SLACK: u64 = 24;

struct TopicSpec {
    name: &'static str,
    partitions: u32,
    producers: u32,
    cleanup_policy: CleanupPolicy,
    durability: Durability,
    retention_bytes: Option<u64>,
    retention_ms: Option<u64>,
}

const STATE: usize = 2;
const TOPICS: [TopicSpec; 3] = [
    TopicSpec {
        name: "events",
        partitions: 8,
        producers: 2,
        cleanup_policy: CleanupPolicy::Delete,
        durability: Durability::None,
        retention_bytes: Some(RETENTION_BYTES),
        retention_ms: None,
    },
    TopicSpec {
        name: "audit",
        partitions: 2,
        producers: 1,
        cleanup_policy: CleanupPolicy::Delete,
        durability: Durability::Sync,
        retention_bytes: None,
        retention_ms: Some(RETENTION_MS),
    },
    TopicSpec {
        name: "state",
        partitions: 4,
        producers: 1,
        cleanup_policy: CleanupPolicy::Compact,
        durability: Durability::Write,
        retention_bytes: None,
        retention_ms: None,
    },
];
const PARTITIONS: usize = 14;

impl TopicSpec {
    fn compacted(&self) -> bool {
        self.cleanup_policy == CleanupPolicy::Compact
    }

    fn config(&self) -> TopicConfig {
        TopicConfig {
            partitions: self.partitions,
            cleanup_policy: self.cleanup_policy,
            retention_bytes: self.retention_bytes,
            retention_ms: self.retention_ms,
            segment_bytes: SEGMENT_BYTES,
            durability: self.durability,
            min_cleanable_dirty_ratio: MIN_CLEANABLE_DIRTY_RATIO,
            ..TopicConfig::default()
        }
    }
}

/// One partition of one topic.
#[derive(Clone, Copy, Debug)]
struct Slot {
    topic: usize,
    partition: u32,
}

impl Slot {
    fn spec(self) -> &'static TopicSpec {
        &TOPICS[self.topic]
    }

    fn all() -> Vec<Slot> {
        let slots: Vec<Slot> = TOPICS
            .iter()
            .enumerate()
            .flat_map(|(topic, spec)| {
                (0..spec.partitions).map(move |partition| Slot { topic, partition })
            })
            .collect();
        assert_eq!(slots.len(), PARTITIONS, "PARTITIONS matches TOPICS");
        slots
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.spec().name, self.partition)
    }
}

/// splitmix64: a cheap, well-mixed function of its input.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What each record holds, as a function of its topic, partition and offset.
struct Content {
    /// `state_keys[partition][i]`: keys that Kafka's partitioner sends to that partition.
    state_keys: Vec<Vec<Vec<u8>>>,
}

impl Content {
    fn new() -> Content {
        let partitions = TOPICS[STATE].partitions;
        let mut state_keys = vec![Vec::new(); partitions as usize];
        for n in 0u64.. {
            let key = format!("state-key-{n}").into_bytes();
            let keys = &mut state_keys[partition_for_key(&key, partitions) as usize];
            if (keys.len() as u64) < KEYS_PER_PARTITION {
                keys.push(key);
            }
            if state_keys
                .iter()
                .all(|k| k.len() as u64 == KEYS_PER_PARTITION)
            {
                break;
            }
        }
        Content { state_keys }
    }

    fn key(&self, slot: Slot, offset: u64) -> Option<&[u8]> {
        (slot.topic == STATE).then(|| {
            self.state_keys[slot.partition as usize][(offset % KEYS_PER_PARTITION) as usize]
                .as_slice()
        })
    }

    /// The value of `offset` built in `buf`, or `None` for a tombstone.
    fn value(slot: Slot, offset: u64, buf: &mut Vec<u8>) -> Option<&[u8]> {
        if slot.topic == STATE
            && (offset / KEYS_PER_PARTITION) % TOMBSTONE_EVERY_ROUNDS == TOMBSTONE_EVERY_ROUNDS - 1
        {
            return None;
        }
        let seed = mix(((slot.topic as u64) << 56) ^ (u64::from(slot.partition) << 40) ^ offset);
        buf.clear();
        buf.push(slot.topic as u8);
        buf.extend_from_slice(&slot.partition.to_be_bytes());
        buf.extend_from_slice(&offset.to_be_bytes());
        let payload_bytes = (seed % VALUE_PAYLOAD_BYTES_MAX) as usize;
        buf.extend((0..payload_bytes).map(|j| (seed >> ((j % 8) * 8)) as u8 ^ j as u8));
        Some(buf)
    }
}

/// What the threads share.
struct Soak {
    manager: TopicManager,
    content: Content,
    slots: Vec<Slot>,
    started: Instant,
    deadline: Instant,
    /// Every record's timestamp is at least this.
    started_ms: i64,
    /// Each partition's final end offset, published by its producer when it stops
    /// (`u64::MAX` until then).
    ends: Vec<AtomicU64>,
    /// Set when any thread panics, so the others stop instead of waiting for it.
    aborted: AtomicBool,
}

impl Soak {
    fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Relaxed)
    }

    fn slot_index(&self, slot: Slot) -> usize {
        self.slots
            .iter()
            .position(|s| s.topic == slot.topic && s.partition == slot.partition)
            .expect("a known slot")
    }

    fn log(&self, slot: Slot) -> Arc<Log> {
        self.manager
            .partition(slot.spec().name, slot.partition)
            .unwrap_or_else(|e| panic!("{slot}: {e}"))
    }
}

/// Marks the soak aborted when the thread holding it panics.
struct AbortOnPanic<'a>(&'a AtomicBool);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Producers

/// Produces round robin to `partitions` of `topic` until the deadline; returns the records
/// produced and publishes each partition's end offset.
fn produce_loop(soak: &Soak, topic: usize, partitions: &[u32]) -> u64 {
    let _abort = AbortOnPanic(&soak.aborted);
    let mut next = vec![0u64; partitions.len()];
    let mut values = vec![Vec::new(); MAX_RECORDS_PER_BATCH as usize];
    while Instant::now() < soak.deadline && !soak.aborted() {
        for (i, &partition) in partitions.iter().enumerate() {
            let slot = Slot { topic, partition };
            let count = 1 + mix(next[i] ^ u64::from(partition)) % MAX_RECORDS_PER_BATCH;
            produce_batch(soak, slot, next[i], count, &mut values);
            next[i] += count;
        }
    }
    for (i, &partition) in partitions.iter().enumerate() {
        let index = soak.slot_index(Slot { topic, partition });
        soak.ends[index].store(next[i], Ordering::Release);
    }
    next.iter().sum()
}

/// Produces the records of offsets `first..first + count` of `slot` and checks where they went.
fn produce_batch(soak: &Soak, slot: Slot, first: u64, count: u64, values: &mut [Vec<u8>]) {
    let present: Vec<bool> = values[..count as usize]
        .iter_mut()
        .zip(first..)
        .map(|(buf, offset)| Content::value(slot, offset, buf).is_some())
        .collect();
    let timestamp_ms = now_ms();
    let batch: Vec<Record<'_>> = values
        .iter()
        .zip(&present)
        .zip(first..)
        .map(|((value, &present), offset)| Record {
            key: soak.content.key(slot, offset),
            value: present.then_some(value.as_slice()),
            timestamp_ms,
            headers: &[],
        })
        .collect();
    // Keyed records go where Kafka's partitioner sends them; the others name their partition.
    let partition = (!slot.spec().compacted()).then_some(slot.partition);
    let results = soak
        .manager
        .produce(slot.spec().name, partition, &batch)
        .unwrap_or_else(|e| panic!("{slot}: produce at {first} failed: {e}"));
    let expected = ProduceResult {
        partition: slot.partition,
        base_offset: first,
        last_offset: first + count - 1,
    };
    assert_eq!(results, [expected], "{slot}: the batch went elsewhere");
}

// ---------------------------------------------------------------------------------------------
// Consumers

/// What consumers (or the read-back) saw.
#[derive(Clone, Copy, Debug, Default)]
struct ReadTally {
    /// Records read and checked.
    verified: u64,
    /// Times a consumer found its offset deleted by retention and jumped to the log start.
    retention_jumps: u64,
    /// Offsets skipped by those jumps.
    retention_skipped: u64,
    /// Offsets missing because compaction removed them (superseded).
    compaction_removed: u64,
}

impl ReadTally {
    fn merge(self, other: ReadTally) -> ReadTally {
        ReadTally {
            verified: self.verified + other.verified,
            retention_jumps: self.retention_jumps + other.retention_jumps,
            retention_skipped: self.retention_skipped + other.retention_skipped,
            compaction_removed: self.compaction_removed + other.compaction_removed,
        }
    }
}

/// A consumer's position in one partition, and the checks on what it reads there.
struct Cursor<'a> {
    content: &'a Content,
    slot: Slot,
    log: Arc<Log>,
    position: u64,
    min_timestamp_ms: i64,
    scratch: Vec<u8>,
    tally: ReadTally,
}

impl<'a> Cursor<'a> {
    fn new(content: &'a Content, slot: Slot, log: Arc<Log>, min_timestamp_ms: i64) -> Self {
        let position = log.start_offset();
        Cursor {
            content,
            slot,
            log,
            position,
            min_timestamp_ms,
            scratch: Vec::new(),
            tally: ReadTally::default(),
        }
    }

    fn request(&self) -> PartitionFetch {
        PartitionFetch {
            topic: self.slot.spec().name.to_string(),
            partition: self.slot.partition,
            offset: self.position,
        }
    }

    /// Checks one fetch answer; returns whether the position moved.
    fn on_result(&mut self, result: Result<FetchedBatches, TopicError>) -> bool {
        match result {
            Ok(fetched) => self.accept(&fetched),
            Err(TopicError::Read {
                source:
                    ReadError::OffsetOutOfRange {
                        requested,
                        start,
                        end,
                    },
                ..
            }) => {
                self.jump(requested, start, end);
                true
            }
            Err(e) => panic!("{}: fetch at {} failed: {e}", self.slot, self.position),
        }
    }

    /// Retention deleted the position: go on from the log start, as a Kafka consumer with
    /// `auto.offset.reset=earliest` does.
    fn jump(&mut self, requested: u64, start: u64, end: u64) {
        let slot = self.slot;
        assert_eq!(
            requested, self.position,
            "{slot}: answer for another offset"
        );
        assert!(
            requested < start,
            "{slot}: offset {requested} out of range [{start}, {end}) though it is not below the start"
        );
        assert!(
            !slot.spec().compacted(),
            "{slot}: the start of a compacted topic moved to {start}"
        );
        self.tally.retention_jumps += 1;
        self.tally.retention_skipped += start - requested;
        self.position = start;
    }

    /// Checks every record of fetched batches; returns whether there were any.
    fn accept(&mut self, fetched: &FetchedBatches) -> bool {
        if fetched.bytes.is_empty() {
            return false;
        }
        let limits = BatchLimits {
            max_batch_bytes: usize::MAX,
            require_contiguous_offsets: !self.slot.spec().compacted(),
        };
        let mut rest: &[u8] = &fetched.bytes;
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).unwrap_or_else(|e| {
                panic!(
                    "{}: invalid batch fetched at {}: {e}",
                    self.slot, self.position
                )
            });
            let (batch, tail) = rest.split_at(header.total_bytes());
            self.check_batch(batch, header.last_offset() as u64);
            rest = tail;
        }
        assert_eq!(
            fetched.next_fetch_offset, self.position,
            "{}: next_fetch_offset is one past the last batch",
            self.slot
        );
        true
    }

    fn check_batch(&mut self, batch: &[u8], last_offset: u64) {
        let slot = self.slot;
        let iter = records(batch).unwrap_or_else(|e| panic!("{slot}: batch does not decode: {e}"));
        for record in iter {
            let record = record.unwrap_or_else(|e| panic!("{slot}: record does not decode: {e}"));
            let offset = record.offset as u64;
            if offset < self.position {
                continue;
            }
            self.skip_to(offset);
            self.check_record(offset, &record);
            self.position = offset + 1;
        }
        // Compaction may have removed the batch's last records; its offset range stays.
        self.skip_to(last_offset + 1);
    }

    /// Offsets `position..to` are missing: only compaction of superseded records may do that.
    fn skip_to(&mut self, to: u64) {
        let (slot, from) = (self.slot, self.position);
        if to <= from {
            return;
        }
        assert!(
            slot.spec().compacted(),
            "{slot}: offsets [{from}, {to}) are missing from a delete topic"
        );
        // Loaded after the fetch: at least the end any compaction saw before it.
        let end = self.log.next_offset();
        let newest_missing = to - 1;
        assert!(
            newest_missing + KEYS_PER_PARTITION < end,
            "{slot}: offsets [{from}, {to}) are missing, but the next record of offset \
             {newest_missing}'s key ({}) is not in the log (end {end})",
            newest_missing + KEYS_PER_PARTITION
        );
        self.tally.compaction_removed += to - from;
        self.position = to;
    }

    fn check_record(&mut self, offset: u64, record: &RecordView<'_>) {
        let slot = self.slot;
        assert_eq!(
            record.key,
            self.content.key(slot, offset),
            "{slot}: key of offset {offset}"
        );
        let expected = Content::value(slot, offset, &mut self.scratch);
        assert!(
            record.value == expected,
            "{slot}: value of offset {offset} differs: read {:?} bytes, expected {:?}",
            record.value.map(<[u8]>::len),
            expected.map(<[u8]>::len)
        );
        assert!(
            record.timestamp_ms >= self.min_timestamp_ms,
            "{slot}: timestamp {} of offset {offset} is before the run started",
            record.timestamp_ms
        );
        assert_eq!(record.header_count(), 0, "{slot}: headers at {offset}");
        self.tally.verified += 1;
    }
}

/// Reads `slots` with `fetch_many` until the producers stopped and every partition is read to
/// its end, pausing `pause` after each fetch while the producers run. The request order
/// rotates, so a budget spent by the first partitions does not starve the last ones.
fn consume_loop(soak: &Soak, slots: &[Slot], pause: Option<Duration>) -> ReadTally {
    let _abort = AbortOnPanic(&soak.aborted);
    let mut cursors: Vec<(usize, Cursor<'_>)> = slots
        .iter()
        .map(|&slot| {
            let cursor = Cursor::new(&soak.content, slot, soak.log(slot), soak.started_ms);
            (soak.slot_index(slot), cursor)
        })
        .collect();
    let mut last_progress = Instant::now();
    loop {
        let requests: Vec<PartitionFetch> = cursors.iter().map(|(_, c)| c.request()).collect();
        let answers = soak
            .manager
            .fetch_many(&requests, FETCH_TOTAL_BYTES, FETCH_PARTITION_BYTES);
        let mut progressed = false;
        for ((_, cursor), answer) in cursors.iter_mut().zip(answers) {
            assert_eq!(
                answer.partition, cursor.slot.partition,
                "answers in request order"
            );
            progressed |= cursor.on_result(answer.result);
        }
        let done = cursors
            .iter()
            .all(|(index, c)| c.position >= soak.ends[*index].load(Ordering::Acquire));
        if done || soak.aborted() {
            break;
        }
        cursors.rotate_left(1);
        if let Some(pause) = pause.filter(|_| Instant::now() < soak.deadline) {
            thread::sleep(pause);
        }
        if progressed {
            last_progress = Instant::now();
        } else {
            let positions: Vec<String> = cursors
                .iter()
                .map(|(_, c)| format!("{} at {}", c.slot, c.position))
                .collect();
            assert!(
                last_progress.elapsed() < STALL_LIMIT,
                "consumer stalled for {STALL_LIMIT:?}: {positions:?}"
            );
            thread::sleep(IDLE_SLEEP);
        }
    }
    cursors
        .iter()
        .fold(ReadTally::default(), |sum, (_, c)| sum.merge(c.tally))
}

// ---------------------------------------------------------------------------------------------
// Maintenance

/// What the maintenance thread did and saw.
#[derive(Clone, Copy, Debug, Default)]
struct MaintenanceTally {
    passes: u64,
    /// New active segments seen between passes: a lower bound on rolls.
    rolls_seen: u64,
    retention_segments: u64,
    retention_bytes: u64,
    compactions: u64,
    compaction_records_removed: u64,
    compaction_segments_before: u64,
    compaction_segments_after: u64,
}

impl MaintenanceTally {
    fn add(&mut self, outcome: &MaintenanceOutcome) {
        let action = outcome.result.as_ref().unwrap_or_else(|e| {
            panic!(
                "maintenance of {}/{} failed: {e}",
                outcome.topic, outcome.partition
            )
        });
        match action {
            MaintenanceAction::Retention(report) => {
                self.retention_segments += report.deleted_segments.len() as u64;
                self.retention_bytes += report.deleted_bytes;
            }
            MaintenanceAction::Compaction(Some(report)) => {
                self.compactions += 1;
                self.compaction_records_removed += report.records_removed();
                self.compaction_segments_before += report.segments_before as u64;
                self.compaction_segments_after += report.segments_after as u64;
            }
            MaintenanceAction::Compaction(None) => {}
        }
    }
}

/// Calls `maintain()` every [`MAINTENANCE_INTERVAL`] until `stop`, counting what it did and the
/// segments that appeared in between.
fn maintain_loop(soak: &Soak, stop: &AtomicBool) -> MaintenanceTally {
    let _abort = AbortOnPanic(&soak.aborted);
    let logs: Vec<Arc<Log>> = soak.slots.iter().map(|&slot| soak.log(slot)).collect();
    let mut newest_base = vec![0u64; logs.len()];
    let mut tally = MaintenanceTally::default();
    while !stop.load(Ordering::Relaxed) && !soak.aborted() {
        for (log, newest) in logs.iter().zip(&mut newest_base) {
            for base in log.segment_base_offsets() {
                if base > *newest {
                    tally.rolls_seen += 1;
                    *newest = base;
                }
            }
        }
        for outcome in soak.manager.maintain() {
            tally.add(&outcome);
        }
        tally.passes += 1;
        thread::sleep(MAINTENANCE_INTERVAL);
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// Resource samples

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Duration,
    rss_bytes: u64,
    fds: u64,
    /// Segments of every partition; each holds one fd.
    segments: u64,
    /// Open fds beyond one per segment, the least of [`FD_READINGS`] readings (see
    /// [`extra_fds`]).
    extra_fds: u64,
    cache_bytes: u64,
    pool_buffers: u64,
    /// Bytes of the buffer pool's buffers (idle or in use): bounded by its budget, and grown
    /// lazily up to what the workload keeps in use, which can take most of the run.
    pool_bytes: u64,
}

impl Sample {
    /// RSS outside the buffer pool: what must not grow.
    fn rss_beyond_pool(&self) -> u64 {
        self.rss_bytes.saturating_sub(self.pool_bytes)
    }
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .expect("/proc/self/status has a VmRSS line in kB");
    kib * 1024
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .count() as u64
}

fn segment_count(logs: &[Arc<Log>]) -> u64 {
    logs.iter().map(|log| log.segment_count() as u64).sum()
}

/// Open fds beyond one per segment: the process's own (stdio, the ring, the test harness's)
/// and transient ones, which come and go: a reader holding a segment that retention or
/// compaction just dropped, a compaction's files, retention between taking segments out of the
/// map and closing them. The least of a few readings [`FD_READING_GAP`] apart filters those
/// out; a leak stays in every reading. Segments are counted before and after the fds, and the
/// larger count is used, so a roll between the two never reads as an extra fd.
fn extra_fds(logs: &[Arc<Log>]) -> u64 {
    (0..FD_READINGS)
        .map(|reading| {
            if reading > 0 {
                thread::sleep(FD_READING_GAP);
            }
            let before = segment_count(logs);
            let fds = open_fds();
            fds.saturating_sub(before.max(segment_count(logs)))
        })
        .min()
        .expect("at least one reading")
}

/// Samples memory and fds every [`SAMPLE_INTERVAL`] until the deadline.
fn sample_loop(soak: &Soak) -> Vec<Sample> {
    let _abort = AbortOnPanic(&soak.aborted);
    let shared = soak.manager.shared();
    let logs: Vec<Arc<Log>> = soak.slots.iter().map(|&slot| soak.log(slot)).collect();
    let mut samples = Vec::new();
    while Instant::now() < soak.deadline && !soak.aborted() {
        samples.push(Sample {
            at: soak.started.elapsed(),
            rss_bytes: rss_bytes(),
            fds: open_fds(),
            segments: segment_count(&logs),
            extra_fds: extra_fds(&logs),
            cache_bytes: shared.cache().used_bytes() as u64,
            pool_buffers: shared.pool().live_buffers() as u64,
            pool_bytes: shared.pool().live_bytes() as u64,
        });
        thread::sleep(SAMPLE_INTERVAL);
    }
    samples
}

/// Smallest and largest value of one quantity in one quarter of the run.
#[derive(Clone, Copy, Debug)]
struct Range {
    min: u64,
    max: u64,
}

fn quarters(samples: &[Sample], run: Duration, value: impl Fn(&Sample) -> u64) -> [Range; 4] {
    let mut out: [Option<Range>; 4] = [None; 4];
    for sample in samples {
        let quarter = ((sample.at.as_secs_f64() / run.as_secs_f64() * 4.0) as usize).min(3);
        let v = value(sample);
        out[quarter] = Some(out[quarter].map_or(Range { min: v, max: v }, |r| Range {
            min: r.min.min(v),
            max: r.max.max(v),
        }));
    }
    out.map(|range| range.expect("every quarter has samples"))
}

fn format_quarters(ranges: &[Range; 4], divisor: u64) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .enumerate()
        .map(|(q, r)| format!("q{} {}-{}", q + 1, r.min / divisor, r.max / divisor))
        .collect();
    parts.join(", ")
}

// ---------------------------------------------------------------------------------------------
// The run

struct RunReport {
    produced: u64,
    read: ReadTally,
    lagging: ReadTally,
    maintenance: MaintenanceTally,
    samples: Vec<Sample>,
}

fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    name: &str,
    work: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, work)
        .expect("spawn a soak thread")
}

fn join<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Which partitions of which topic each producer writes: every partition has one producer.
fn producer_assignments() -> Vec<(usize, Vec<u32>)> {
    TOPICS
        .iter()
        .enumerate()
        .flat_map(|(topic, spec)| {
            (0..spec.producers).map(move |producer| {
                let partitions = (0..spec.partitions)
                    .filter(|p| p % spec.producers == producer)
                    .collect();
                (topic, partitions)
            })
        })
        .collect()
}

fn run_load(soak: &Soak) -> RunReport {
    let stop_maintenance = AtomicBool::new(false);
    thread::scope(|scope| {
        let sampler = spawn(scope, "soak-sampler", || sample_loop(soak));
        let maintenance = spawn(scope, "soak-maintenance", || {
            maintain_loop(soak, &stop_maintenance)
        });
        let producers: Vec<_> = producer_assignments()
            .into_iter()
            .map(|(topic, partitions)| {
                spawn(scope, "soak-producer", move || {
                    produce_loop(soak, topic, &partitions)
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|consumer| {
                let slots: Vec<Slot> = soak
                    .slots
                    .iter()
                    .copied()
                    .skip(consumer)
                    .step_by(CONSUMERS)
                    .collect();
                spawn(scope, "soak-consumer", move || {
                    consume_loop(soak, &slots, None)
                })
            })
            .collect();
        let lagging = spawn(scope, "soak-lagging-consumer", || {
            consume_loop(soak, &soak.slots, Some(LAGGING_PAUSE))
        });
        let produced = producers.into_iter().map(join).sum();
        let read = consumers
            .into_iter()
            .map(join)
            .fold(ReadTally::default(), ReadTally::merge);
        let lagging = join(lagging);
        stop_maintenance.store(true, Ordering::Relaxed);
        RunReport {
            produced,
            read,
            lagging,
            maintenance: join(maintenance),
            samples: join(sampler),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Setup and final checks

fn soak_secs() -> u64 {
    let secs = std::env::var("RINGLOG_SOAK_SECS").map_or(DEFAULT_SOAK_SECS, |v| {
        v.parse()
            .unwrap_or_else(|e| panic!("RINGLOG_SOAK_SECS={v:?} is not a number of seconds: {e}"))
    });
    assert!(
        secs >= MIN_SOAK_SECS,
        "RINGLOG_SOAK_SECS={secs}: at least {MIN_SOAK_SECS} so each quarter has samples"
    );
    secs
}

fn io_mode() -> IoMode {
    std::env::var("RINGLOG_SOAK_IO").map_or(IoMode::Uring, |v| {
        v.parse()
            .unwrap_or_else(|e| panic!("RINGLOG_SOAK_IO={v:?}: {e}"))
    })
}

fn manager_config(io_mode: IoMode) -> TopicManagerConfig {
    TopicManagerConfig {
        shared: SharedConfig {
            io_mode,
            buffer_bytes: BUFFER_BYTES,
            buffer_pool_bytes: BUFFER_POOL_BYTES,
            cache_bytes: CACHE_BYTES,
            ..SharedConfig::default()
        },
        log: Config {
            segment_ms: Some(SEGMENT_MS),
            read_ahead_bytes: BUFFER_BYTES,
            preallocate_bytes: SEGMENT_BYTES,
            // Retention runs only from `maintain()`, so every deletion is counted.
            retention_check_interval_ms: None,
            io_mode,
            ..Config::default()
        },
        cleaner_io_max_bytes_per_second: None,
    }
}

fn open_manager(dir: &std::path::Path, io_mode: IoMode) -> TopicManager {
    let manager = TopicManager::open(dir, manager_config(io_mode))
        .unwrap_or_else(|e| panic!("open the topic manager on {}: {e}", io_mode.name()));
    let path = manager.io_path();
    assert!(
        io_mode_allows(io_mode, path),
        "asked for io mode {} but the manager runs on {path}",
        io_mode.name()
    );
    manager
}

/// Reopens `dir` and reads every partition from its start to its end, checking every record
/// as the consumers did; returns what was read.
fn verify_reopened(
    soak_dir: &std::path::Path,
    io_mode: IoMode,
    content: &Content,
    ends: &[u64],
    started_ms: i64,
) -> ReadTally {
    let manager = open_manager(soak_dir, io_mode);
    let mut total = ReadTally::default();
    for (&slot, &end) in Slot::all().iter().zip(ends) {
        let log = manager
            .partition(slot.spec().name, slot.partition)
            .unwrap_or_else(|e| panic!("{slot}: {e}"));
        assert_eq!(log.next_offset(), end, "{slot}: end offset after reopening");
        if slot.spec().compacted() {
            assert_eq!(
                log.start_offset(),
                0,
                "{slot}: a compacted topic starts at 0"
            );
        }
        let mut cursor = Cursor::new(content, slot, log, started_ms);
        while cursor.position < end {
            let result = manager.fetch(
                slot.spec().name,
                slot.partition,
                cursor.position,
                READ_BACK_BYTES,
            );
            assert!(
                cursor.on_result(result),
                "{slot}: nothing at {} below the end {end}",
                cursor.position
            );
        }
        assert_eq!(
            cursor.tally.retention_jumps, 0,
            "{slot}: the start moved while reading back"
        );
        total = total.merge(cursor.tally);
    }
    manager.close().expect("close the reopened manager");
    total
}

fn print_summary(io: &str, run: &RunReport, duration: Duration) {
    let (read, lag, m) = (&run.read, &run.lagging, &run.maintenance);
    println!(
        "soak: io {io}, {} s, {PARTITIONS} partitions; produced {}; consumers verified {} \
         (skipped by retention {}, removed by compaction {}); lagging consumer verified {} \
         (skipped by retention {} in {} jumps, removed by compaction {}); rolls seen {}, \
         retention deleted {} segments ({} MiB), {} compactions ({} -> {} segments, {} records \
         removed), {} maintenance passes",
        duration.as_secs(),
        run.produced,
        read.verified,
        read.retention_skipped,
        read.compaction_removed,
        lag.verified,
        lag.retention_skipped,
        lag.retention_jumps,
        lag.compaction_removed,
        m.rolls_seen,
        m.retention_segments,
        m.retention_bytes >> 20,
        m.compactions,
        m.compaction_segments_before,
        m.compaction_segments_after,
        m.compaction_records_removed,
        m.passes
    );
    let samples = &run.samples;
    let quarters_of = |value: fn(&Sample) -> u64, divisor| {
        format_quarters(&quarters(samples, duration, value), divisor)
    };
    println!(
        "soak: {} samples (min-max per quarter); rss MiB {}; fds {}; segments {}; \
         extra fds {}; cache MiB {}; pool buffers {}; pool MiB {}; rss beyond the pool MiB {}",
        samples.len(),
        quarters_of(|s| s.rss_bytes, 1 << 20),
        quarters_of(|s| s.fds, 1),
        quarters_of(|s| s.segments, 1),
        quarters_of(|s| s.extra_fds, 1),
        quarters_of(|s| s.cache_bytes, 1 << 20),
        quarters_of(|s| s.pool_buffers, 1),
        quarters_of(|s| s.pool_bytes, 1 << 20),
        quarters_of(Sample::rss_beyond_pool, 1 << 20),
    );
}

/// After the warm-up quarter, memory and fds must not grow: the last quarter's maxima stay
/// within the tolerances of the second quarter's.
///
/// RSS is taken net of the buffer pool's bytes: the pool allocates buffers lazily, up to its
/// budget, as the workload first needs them, and a late step (16 MiB of 1 MiB write chunks
/// when several partitions' tails grow at once, seen here) is not a leak; the pool itself must
/// stay within its budget.
fn assert_flat(samples: &[Sample], duration: Duration, pool_budget_bytes: u64) {
    let pool = quarters(samples, duration, |s| s.pool_bytes);
    assert!(
        pool[3].max <= pool_budget_bytes,
        "the buffer pool holds {} MiB, over its budget of {} MiB",
        pool[3].max >> 20,
        pool_budget_bytes >> 20
    );
    let rss = quarters(samples, duration, Sample::rss_beyond_pool);
    let rss_limit =
        rss[1].max + (rss[1].max as f64 * RSS_TOLERANCE_FRACTION) as u64 + RSS_TOLERANCE_BYTES;
    assert!(
        rss[3].max <= rss_limit,
        "RSS beyond the buffer pool grew: last quarter's max {} MiB is over {} MiB (second quarter's max {} MiB + {}% + {} MiB)",
        rss[3].max >> 20,
        rss_limit >> 20,
        rss[1].max >> 20,
        RSS_TOLERANCE_FRACTION * 100.0,
        RSS_TOLERANCE_BYTES >> 20
    );
    let fds = quarters(samples, duration, |s| s.extra_fds);
    assert!(
        fds[3].max <= fds[1].max + FD_SLACK,
        "open fds beyond one per segment grew: last quarter's max {} is over the second \
         quarter's max {} + {FD_SLACK}",
        fds[3].max,
        fds[1].max
    );
}

#[test]
fn soak_produce_consume_and_maintain_without_growth() {
    let duration = Duration::from_secs(soak_secs());
    let io_mode = io_mode();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let manager = open_manager(dir.path(), io_mode);
    for spec in &TOPICS {
        manager
            .create_topic(spec.name, spec.config())
            .unwrap_or_else(|e| panic!("create {}: {e}", spec.name));
    }
    let io = manager.io_path().to_string();
    let started = Instant::now();
    let soak = Soak {
        manager,
        content: Content::new(),
        slots: Slot::all(),
        started,
        deadline: started + duration,
        started_ms: now_ms(),
        ends: (0..PARTITIONS).map(|_| AtomicU64::new(u64::MAX)).collect(),
        aborted: AtomicBool::new(false),
    };
    let run = run_load(&soak);
    print_summary(&io, &run, duration);
    soak.manager.close().expect("close every partition");
    let Soak {
        manager,
        content,
        ends,
        started_ms,
        ..
    } = soak;
    let pool_budget_bytes = manager.shared().pool().budget_bytes() as u64;
    drop(manager);
    let ends: Vec<u64> = ends.iter().map(|e| e.load(Ordering::Acquire)).collect();
    assert_eq!(
        ends.iter().sum::<u64>(),
        run.produced,
        "every produced record has an offset"
    );
    let reopen_started = Instant::now();
    let reread = verify_reopened(dir.path(), io_mode, &content, &ends, started_ms);
    println!(
        "soak: reopened and verified {} records ({} removed by compaction) in {:.1} s; wall {:.1} s",
        reread.verified,
        reread.compaction_removed,
        reopen_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_flat(&run.samples, duration, pool_budget_bytes);
}
