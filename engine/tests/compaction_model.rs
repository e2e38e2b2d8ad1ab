//! Model test of compaction: random sequences of keyed appends (values or tombstones, batches of
//! 1 to 10 records, timestamps that mostly grow, and phases where the producer's clock is decades
//! behind), compactions with random offset-map sizes
//! (tiny ones force several rounds, or refuse a batch with more keys than the map holds) and
//! delete retentions, and clean reopens, run against a model holding every record appended and
//! the latest `(offset, value)` of every key. Runs on every I/O path.
//!
//! Checked after every compaction and reopen:
//! - (a) the key → latest value map read back equals the model's; a key whose latest record is
//!   a tombstone reads back as that tombstone or not at all, never as an older value;
//! - (b) offsets strictly increase and each record equals the one appended at its offset;
//! - (c) every record at or past the active segment's base offset is still there, unchanged;
//! - (d) every fetched batch passes `validate_batch` (CRC included, gaps allowed);
//! - (e) `next_offset` and `start_offset` do not move;
//! - (f) after a compaction, no key appears twice below the active segment;
//! - (g) a consumer fetching from any offset, removed or not, reaches the first record at or
//!   after it without stalling;
//! - (h) a tombstone that is the latest record of its key goes only in a compaction whose clock
//!   has reached `now + delete_retention_ms` of an earlier compaction that found it sealed (the
//!   delete horizon that one stamped on its batch); producer timestamps play no part. Each
//!   round of a compaction is a cleaning of its own, as in Kafka, so with a retention of 0 a
//!   later round of the same call may remove what an earlier round stamped.
//!
//! Each compaction's clock is the model's clock at that moment (`CompactOptions::now_ms`).
//!
//! Cases per I/O path: `PROPTEST_CASES` (default 12). A failure prints the seed and the shrunk
//! operation list; rerun one seed with `RINGLOG_MODEL_SEED=<64 hex digits>`. Failures are not
//! persisted to files.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use ringlog::compaction::offset_map::{DEFAULT_LOAD_FACTOR, OffsetMap, SLOT_BYTES};
use ringlog::compaction::{CompactOptions, CompactionReport};
use ringlog::record::{BatchLimits, Record, records, validate_batch};
use ringlog::{CleanupPolicy, Config, IoMode, Log, MaintenanceError};

/// Cases per I/O path unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 12;
/// Longest operation sequence of one case.
const MAX_OPS: usize = 40;
/// Distinct keys: few, so that most appends supersede something. The first `HOT_KEYS` are
/// written three times as often as the rest, whose tombstones then often stay the latest
/// record long enough to reach the cleaned section and pass the delete horizon.
const KEY_COUNT: usize = 16;
const HOT_KEYS: usize = 4;
/// Largest value of a record.
const MAX_VALUE_BYTES: usize = 160;
/// The smallest segment the engine accepts: a few batches per segment, so there are many.
const SEGMENT_BYTES: u64 = 4096;
/// Offset-map sizes tried, in slots: 8 (7 keys: several rounds, and a batch of more keys than
/// that is refused), 16 (14 keys: rounds, never a refusal), 64, and the default size.
const MAP_SLOTS: [usize; 4] = [8, 16, 64, 16 * 1024 * 1024 / SLOT_BYTES];
/// Delete retentions tried: tombstones may go at once, after a while, or never.
const DELETE_RETENTIONS_MS: [u64; 3] = [0, 30_000, u64::MAX / 4];
/// Timestamp step between appends; an append may be skewed back or forward by up to
/// `MAX_SKEW_MS`, so segments' max timestamps are not in offset order.
const CLOCK_STEP_MS: i64 = 10_000;
const MAX_SKEW_MS: i64 = 40_000;
const FIRST_TIMESTAMP_MS: i64 = 1_000_000_000_000;
/// Producer timestamps while the producer's clock is behind: older than anything else.
const BACKDATED_TIMESTAMP_MS: i64 = 1_000;

#[derive(Clone, Debug)]
enum Op {
    /// One batch: `(key index, value or tombstone)` per record, and the batch's timestamp skew.
    Append {
        rows: Vec<(usize, Option<Vec<u8>>)>,
        skew_ms: i64,
    },
    Compact {
        map_slots: usize,
        delete_retention_ms: u64,
    },
    Reopen,
    /// From now on, appends carry the producer's timestamps (`false`) or backdated ones.
    ProducerClock {
        backdated: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = prop_oneof![3 => 0..HOT_KEYS, 1 => HOT_KEYS..KEY_COUNT];
    let value = proptest::option::weighted(
        0.7,
        proptest::collection::vec(any::<u8>(), 0..MAX_VALUE_BYTES),
    );
    let rows = proptest::collection::vec((key, value), 1..=10);
    prop_oneof![
        12 => (rows, -MAX_SKEW_MS..=MAX_SKEW_MS)
            .prop_map(|(rows, skew_ms)| Op::Append { rows, skew_ms }),
        4 => (
            proptest::sample::select(MAP_SLOTS.to_vec()),
            proptest::sample::select(DELETE_RETENTIONS_MS.to_vec()),
        )
            .prop_map(|(map_slots, delete_retention_ms)| Op::Compact {
                map_slots,
                delete_retention_ms,
            }),
        1 => Just(Op::Reopen),
        1 => any::<bool>().prop_map(|backdated| Op::ProducerClock { backdated }),
    ]
}

/// Key `i`: lengths differ between keys, so key varints and hashes vary.
fn key(i: usize) -> Vec<u8> {
    format!("key-{i}-{}", "k".repeat(i * 3)).into_bytes()
}

fn compacted_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: SEGMENT_BYTES as usize,
        index_interval_bytes: 256,
        cleanup_policy: CleanupPolicy::Compact,
        ..common::config(io_mode)
    }
}

/// One record as appended and as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    timestamp_ms: i64,
}

/// What the log must hold.
#[derive(Default)]
struct Model {
    /// Every record ever appended, by offset.
    appended: BTreeMap<u64, Stored>,
    /// The latest offset of every key.
    latest: BTreeMap<Vec<u8>, u64>,
    /// Most distinct keys in one batch so far (a map smaller than that may refuse it).
    max_keys_per_batch: usize,
    clock_ms: i64,
    /// Whether appends carry backdated timestamps now.
    backdated: bool,
    /// Every compaction so far: its clock, its delete retention and the active segment's base
    /// offset (what it could clean lies below).
    compactions: Vec<(i64, u64, u64)>,
}

impl Model {
    /// Whether a compaction at `now_ms` may remove the tombstone at `offset`: some earlier
    /// compaction, or an earlier round of this one (`this_call`, when it may have had several
    /// rounds), found it sealed and its horizon has passed (check (h)).
    fn tombstone_may_go(&self, offset: u64, now_ms: i64, this_call: Option<(u64, u64)>) -> bool {
        self.compactions
            .iter()
            .copied()
            .chain(this_call.map(|(retention_ms, active_base)| (now_ms, retention_ms, active_base)))
            .any(|(then_ms, retention_ms, active_base)| {
                let horizon_ms =
                    then_ms.saturating_add(i64::try_from(retention_ms).unwrap_or(i64::MAX));
                offset < active_base && now_ms >= horizon_ms
            })
    }
}

/// Every record of `log` read by fetching from its start, each batch validated: checks (b) and
/// (d), and that the log ends at `next_offset`.
fn read_log(log: &Log) -> Result<BTreeMap<u64, Stored>, TestCaseError> {
    let limits = BatchLimits {
        max_batch_bytes: log.config().max_batch_bytes,
        require_contiguous_offsets: false,
    };
    let mut out: BTreeMap<u64, Stored> = BTreeMap::new();
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let fetched = log
            .fetch(offset, 8 * 1024)
            .map_err(|e| TestCaseError::fail(format!("fetch at {offset}: {e}")))?;
        prop_assert!(
            !fetched.bytes.is_empty(),
            "fetch at {offset} returned nothing before the end {}",
            log.next_offset()
        );
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits)
                .map_err(|e| TestCaseError::fail(format!("batch from offset {offset}: {e}")))?;
            let (batch, tail) = rest.split_at(header.total_bytes());
            for record in records(batch).map_err(|e| TestCaseError::fail(e.to_string()))? {
                let record = record.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let at = record.offset as u64;
                prop_assert!(
                    at >= offset && out.last_key_value().is_none_or(|(&last, _)| last < at),
                    "offset {at} out of order (fetched from {offset})"
                );
                prop_assert!(
                    at <= header.last_offset() as u64 && at >= header.base_offset as u64,
                    "offset {at} outside its batch {}..={}",
                    header.base_offset,
                    header.last_offset()
                );
                out.insert(
                    at,
                    Stored {
                        key: record.key.map(<[u8]>::to_vec).unwrap_or_default(),
                        value: record.value.map(<[u8]>::to_vec),
                        timestamp_ms: record.timestamp_ms,
                    },
                );
            }
            rest = tail;
        }
        prop_assert!(
            fetched.next_fetch_offset > offset,
            "fetch at {offset} did not move on"
        );
        offset = fetched.next_fetch_offset;
    }
    prop_assert_eq!(offset, log.next_offset());
    Ok(out)
}

/// Checks (a), (b), (c) given the contents read back and `active_base`.
fn check_against_model(
    model: &Model,
    contents: &BTreeMap<u64, Stored>,
    active_base: u64,
) -> Result<(), TestCaseError> {
    for (offset, stored) in contents {
        prop_assert_eq!(
            model.appended.get(offset),
            Some(stored),
            "record at offset {} is not the one appended there",
            offset
        );
    }
    let mut read_latest: BTreeMap<&[u8], (u64, &Option<Vec<u8>>)> = BTreeMap::new();
    for (offset, stored) in contents {
        read_latest.insert(&stored.key, (*offset, &stored.value));
    }
    for (key, &offset) in &model.latest {
        let value = &model.appended[&offset].value;
        let read = read_latest.get(key.as_slice());
        if value.is_some() {
            prop_assert_eq!(
                read,
                Some(&(offset, value)),
                "latest of {:?} is at offset {}",
                String::from_utf8_lossy(key),
                offset
            );
        } else {
            prop_assert!(
                read.is_none_or(|&(o, v)| o == offset && v.is_none()),
                "{:?} was deleted at offset {offset} but reads back as {read:?}",
                String::from_utf8_lossy(key)
            );
        }
    }
    let active: Vec<_> = model.appended.range(active_base..).collect();
    let read_active: Vec<_> = contents.range(active_base..).collect();
    prop_assert_eq!(read_active, active, "the active segment changed");
    Ok(())
}

/// (f): below the active segment, no key appears twice.
fn check_compacted(
    contents: &BTreeMap<u64, Stored>,
    active_base: u64,
) -> Result<(), TestCaseError> {
    let mut seen: BTreeMap<&[u8], u64> = BTreeMap::new();
    for (offset, stored) in contents.range(..active_base) {
        if let Some(first) = seen.insert(&stored.key, *offset) {
            return Err(TestCaseError::fail(format!(
                "{:?} at offsets {first} and {offset}, both below the active segment {active_base}",
                String::from_utf8_lossy(&stored.key)
            )));
        }
    }
    Ok(())
}

/// (g): from every offset, a consumer reaches the first record at or after it.
fn check_fetch_from_every_offset(
    log: &Log,
    contents: &BTreeMap<u64, Stored>,
) -> Result<(), TestCaseError> {
    for from in log.start_offset()..log.next_offset() {
        let expected = contents.range(from..).next().map(|(&o, _)| o);
        let mut offset = from;
        let found = loop {
            if offset >= log.next_offset() {
                break None;
            }
            let records = log
                .read_records(offset, 1)
                .map_err(|e| TestCaseError::fail(format!("read at {offset}: {e}")))?;
            if let Some(first) = records.iter().find(|r| r.offset >= from) {
                break Some(first.offset);
            }
            // A batch whose records below `from` were kept but the rest removed: go on past it.
            let fetched = log
                .fetch(offset, 1)
                .map_err(|e| TestCaseError::fail(format!("fetch at {offset}: {e}")))?;
            prop_assert!(
                fetched.next_fetch_offset > offset,
                "a consumer at offset {offset} is stuck"
            );
            offset = fetched.next_fetch_offset;
        };
        prop_assert_eq!(found, expected, "first record reached from offset {}", from);
    }
    Ok(())
}

fn append(log: &Log, model: &mut Model, rows: &[(usize, Option<Vec<u8>>)], skew_ms: i64) {
    model.clock_ms += CLOCK_STEP_MS;
    let producer_ms = if model.backdated {
        BACKDATED_TIMESTAMP_MS
    } else {
        model.clock_ms + skew_ms
    };
    let keys: Vec<Vec<u8>> = rows.iter().map(|(k, _)| key(*k)).collect();
    let records: Vec<Record<'_>> = rows
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(i, ((_, value), key))| Record {
            key: Some(key),
            value: value.as_deref(),
            timestamp_ms: producer_ms + i as i64,
            headers: &[],
        })
        .collect();
    let info = log.append(&records).expect("a keyed append succeeds");
    assert_eq!(
        info.base_offset,
        model.appended.last_key_value().map_or(0, |(o, _)| o + 1)
    );
    for (i, record) in records.iter().enumerate() {
        let offset = info.base_offset + i as u64;
        model.appended.insert(
            offset,
            Stored {
                key: record.key.expect("keyed").to_vec(),
                value: record.value.map(<[u8]>::to_vec),
                timestamp_ms: record.timestamp_ms,
            },
        );
        model
            .latest
            .insert(record.key.expect("keyed").to_vec(), offset);
    }
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    model.max_keys_per_batch = model.max_keys_per_batch.max(distinct.len());
}

/// Runs one compaction and checks everything; a refusal is accepted only when some batch has
/// more keys than the map holds.
fn compact(
    log: &Log,
    model: &mut Model,
    map_slots: usize,
    delete_retention_ms: u64,
) -> Result<(), TestCaseError> {
    let next_before = log.next_offset();
    let start_before = log.start_offset();
    let active_base = *log.segment_base_offsets().last().expect("a segment");
    let before = read_log(log)?;
    let offset_map_bytes = map_slots * SLOT_BYTES;
    let now_ms = model.clock_ms;
    let result = log.compact(&CompactOptions {
        offset_map_bytes,
        delete_retention_ms,
        now_ms: Some(now_ms),
        ..CompactOptions::default()
    });
    let capacity = OffsetMap::with_memory(offset_map_bytes, DEFAULT_LOAD_FACTOR).capacity();
    // Several rounds, or a refusal after some: a later round may use what an earlier stamped.
    let several_rounds = result
        .as_ref()
        .map_or(true, |report| report.as_ref().is_some_and(|r| r.rounds > 1));
    let completed = match result {
        Ok(report) => {
            check_report(report.as_ref(), &before, active_base, capacity)?;
            true
        }
        Err(MaintenanceError::Compaction { reason, .. }) => {
            prop_assert!(
                model.max_keys_per_batch > capacity,
                "compaction refused ({reason}) though every batch has at most {} keys and the map holds {capacity}",
                model.max_keys_per_batch
            );
            false
        }
        Err(e) => return Err(TestCaseError::fail(format!("compaction failed: {e}"))),
    };
    prop_assert_eq!(log.next_offset(), next_before, "next_offset moved");
    prop_assert_eq!(log.start_offset(), start_before, "start_offset moved");
    prop_assert_eq!(
        *log.segment_base_offsets().last().expect("a segment"),
        active_base,
        "the active segment changed"
    );
    let after = read_log(log)?;
    check_against_model(model, &after, active_base)?;
    for offset in after.keys() {
        prop_assert!(before.contains_key(offset), "offset {offset} came back");
    }
    if completed {
        check_compacted(&after, active_base)?;
    }
    let this_call = several_rounds.then_some((delete_retention_ms, active_base));
    check_tombstone_horizons(model, &before, &after, now_ms, this_call)?;
    model
        .compactions
        .push((now_ms, delete_retention_ms, active_base));
    check_fetch_from_every_offset(log, &after)
}

/// (h): every latest tombstone that this compaction (at `now_ms`) removed had passed the
/// horizon of an earlier compaction, or of an earlier round of this one (`this_call`: its
/// retention and active segment base, when it may have had several rounds).
fn check_tombstone_horizons(
    model: &Model,
    before: &BTreeMap<u64, Stored>,
    after: &BTreeMap<u64, Stored>,
    now_ms: i64,
    this_call: Option<(u64, u64)>,
) -> Result<(), TestCaseError> {
    for &offset in model.latest.values() {
        let removed = before.contains_key(&offset) && !after.contains_key(&offset);
        if removed && model.appended[&offset].value.is_none() {
            prop_assert!(
                model.tombstone_may_go(offset, now_ms, this_call),
                "the tombstone at offset {offset} went at clock {now_ms} before any delete \
                 horizon had passed (earlier compactions: {:?})",
                model.compactions
            );
        }
    }
    Ok(())
}

/// The report agrees with what changed.
fn check_report(
    report: Option<&CompactionReport>,
    before: &BTreeMap<u64, Stored>,
    active_base: u64,
    capacity: usize,
) -> Result<(), TestCaseError> {
    let Some(report) = report else {
        return Ok(());
    };
    prop_assert!(report.rounds >= 1, "{report}");
    prop_assert!(report.records_after <= report.records_before, "{report}");
    prop_assert!(
        report.records_before <= before.range(..active_base).count() as u64 * report.rounds as u64,
        "{report}"
    );
    prop_assert!(
        report.keys <= (capacity * report.rounds) as u64,
        "more keys than the map holds: {report}"
    );
    prop_assert!(report.segments_after <= report.segments_before, "{report}");
    Ok(())
}

fn reopen(log: Log, io_mode: IoMode, dir: &std::path::Path) -> Result<Log, TestCaseError> {
    let before = read_log(&log)?;
    let (next, start) = (log.next_offset(), log.start_offset());
    let bases = log.segment_base_offsets();
    drop(log);
    let log = common::open_log(dir, compacted_config(io_mode));
    prop_assert_eq!(log.next_offset(), next);
    prop_assert_eq!(log.start_offset(), start);
    prop_assert_eq!(log.segment_base_offsets(), bases);
    let after = read_log(&log)?;
    prop_assert_eq!(after, before, "the reopened log holds something else");
    Ok(log)
}

fn run_case(io_mode: IoMode, ops: &[Op]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut log = common::open_log(dir.path(), compacted_config(io_mode));
    let mut model = Model {
        clock_ms: FIRST_TIMESTAMP_MS,
        ..Model::default()
    };
    for op in ops {
        match op {
            Op::Append { rows, skew_ms } => append(&log, &mut model, rows, *skew_ms),
            Op::Compact {
                map_slots,
                delete_retention_ms,
            } => compact(&log, &mut model, *map_slots, *delete_retention_ms)?,
            Op::Reopen => log = reopen(log, io_mode, dir.path())?,
            Op::ProducerClock { backdated } => model.backdated = *backdated,
        }
        let active_base = *log.segment_base_offsets().last().expect("a segment");
        check_against_model(&model, &read_log(&log)?, active_base)?;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    if let Ok(hex) = std::env::var("RINGLOG_MODEL_SEED") {
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("seed is 64 hex digits");
        }
    } else {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = (nanos >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(97);
        }
    }
    seed
}

#[test]
fn compaction_matches_the_latest_record_per_key_model() {
    let seed = seed();
    let seed_hex = seed.iter().fold(String::new(), |mut hex, b| {
        write!(hex, "{b:02x}").expect("writing to a String cannot fail");
        hex
    });
    eprintln!("seed: RINGLOG_MODEL_SEED={seed_hex}");
    common::for_each_io_mode(|io_mode| {
        let config = ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            max_shrink_iters: 200,
            ..ProptestConfig::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let strategy = proptest::collection::vec(op(), 1..MAX_OPS);
        match runner.run(&strategy, |ops| run_case(io_mode, &ops)) {
            Ok(()) => {}
            Err(TestError::Fail(reason, ops)) => panic!(
                "compaction model failed on io mode {}\n  seed: RINGLOG_MODEL_SEED={seed_hex}\n  \
                 reason: {reason}\n  minimal ops: {ops:#?}",
                io_mode.name()
            ),
            Err(e) => panic!(
                "compaction model aborted (io mode {}, seed {seed_hex}): {e}",
                io_mode.name()
            ),
        }
    });
}
