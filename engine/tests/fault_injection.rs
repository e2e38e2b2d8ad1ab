//! I/O faults injected behind the `Storage` seam (`faulty::Faulty`), on every I/O path: the Nth
//! call of one operation fails with EIO or ENOSPC, or a write completes short. What must hold
//! wherever the fault lands:
//!
//! - the caller gets a typed error naming the operation, the file and the OS error;
//! - after a failed write, fdatasync, msync or fallocate of the active segment, or a failed
//!   segment roll, the log is poisoned: every later append, flush and close refuses, naming
//!   the first failure (the kernel may have dropped the dirty data, so retrying would lie);
//! - a failed read fails that read (a fetch, the read-back of the last page before an append,
//!   a compaction) and nothing else: the log stays writable and the same read succeeds next;
//! - a failed compaction loses nothing and leaves the log writable; the next compaction, or the
//!   next open, settles what the failed one left (before its commit point the old segments
//!   stand, after it the cleaned ones);
//! - a failed open leaves the directory as it was for the next open to recover;
//! - nothing acknowledged is lost (with `Sync` and `Write`, every acknowledged record; with
//!   `None`, every record a successful `flush()` or close covered), and the log reopened on the
//!   real storage holds only records that were appended, every offset up to its end either
//!   present or superseded by a later record of the same key (compaction), and takes appends.
//!
//! `every_call_of_every_op_fails_safely` sweeps the Nth call of every op for every N a
//! randomized workload makes (appends with rollover, fetches, compactions, a crash and reopen,
//! a close), so every call site is hit; the other tests pin the exact error of each call site.

mod common;
mod faulty;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{for_each_io_mode, open_log};
use faulty::{Fault, FaultKind, Faulty, Op};
use ringlog::compaction::CompactOptions;
use ringlog::compaction::swap::{CLEANED_SUFFIX, SWAP_SUFFIX};
use ringlog::record::{BatchLimits, Record, records, validate_batch};
use ringlog::topic::metadata::METADATA_DIR;
use ringlog::{
    AppendError, CleanupPolicy, Config, Durability, IoMode, IoPath, Log, MaintenanceError,
    OpenError, ReadError, Shared, SharedConfig, TopicConfig, TopicError, TopicManager,
    TopicManagerConfig,
};

/// Segment size: a short workload rolls several times.
const SEGMENT_BYTES: u64 = 8 * 1024;
/// Write chunk (the pool's buffer size), preallocation step and read-ahead: one page each, so
/// a short workload makes every kind of call many times.
const CHUNK_BYTES: usize = 4096;
/// Distinct keys: compaction has records to drop.
const KEYS: u64 = 12;
/// Steps of the randomized workload.
const WORKLOAD_STEPS: usize = 40;
/// The workload's seed, unless `RINGLOG_FAULT_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5eed_f00d;

// ---------------------------------------------------------------------------------------------
// Records and the model of what must survive.

/// One record as written and expected back.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    key: Vec<u8>,
    value: Vec<u8>,
}

/// The record for `offset`: a key from a small key space and a value whose bytes and length
/// depend on the offset and the seed.
fn row(offset: u64, seed: u64) -> Row {
    let mix = splitmix(seed ^ offset.wrapping_mul(0x9e37_79b9));
    let len = 40 + (mix % 700) as usize;
    Row {
        key: format!("key-{}", mix % KEYS).into_bytes(),
        value: (0..len)
            .map(|j| (offset as usize).wrapping_mul(31).wrapping_add(j) as u8)
            .collect(),
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A tiny deterministic generator for the workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = splitmix(self.0);
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Appends `rows` as one batch.
fn append(log: &Log, rows: &[Row]) -> Result<ringlog::AppendInfo, AppendError> {
    let records: Vec<Record<'_>> = rows
        .iter()
        .map(|r| Record {
            key: Some(&r.key),
            value: Some(&r.value),
            timestamp_ms: 1_000,
            headers: &[],
        })
        .collect();
    log.append(&records)
}

/// What was appended, and how much of it must survive.
#[derive(Debug, Default)]
struct Model {
    /// Every record an append may have written: acknowledged ones, and those of appends that
    /// failed after the batch took its offsets.
    attempted: BTreeMap<u64, Row>,
    /// The next offset the log assigns.
    next: u64,
    /// Offsets below this must survive (see the module docs).
    durable_end: u64,
}

/// Every record of `log` by fetching from its start; every batch validated (CRC included),
/// offsets strictly increasing.
fn contents(log: &Log) -> Result<BTreeMap<u64, Row>, ReadError> {
    let limits = BatchLimits {
        max_batch_bytes: SEGMENT_BYTES as usize,
        require_contiguous_offsets: false,
    };
    let mut out = BTreeMap::new();
    let mut offset = log.start_offset();
    while offset < log.high_watermark() {
        let fetched = log.fetch(offset, 16 * 1024)?;
        assert!(
            !fetched.bytes.is_empty(),
            "fetch at {offset} returned nothing"
        );
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).expect("a fetched batch is valid");
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in records(batch).expect("records decode") {
                let r = r.expect("a record decodes");
                let at = r.offset as u64;
                assert!(
                    out.last_key_value().is_none_or(|(&last, _)| last < at),
                    "offset {at} appears twice or out of order"
                );
                let row = Row {
                    key: r.key.expect("keyed").to_vec(),
                    value: r.value.expect("no tombstones are written").to_vec(),
                };
                out.insert(at, row);
            }
            rest = tail;
        }
        offset = fetched.next_fetch_offset;
    }
    Ok(out)
}

/// `found` holds only attempted records, and every offset below `model.durable_end` either
/// holds its record or was superseded by a later record of the same key that is present.
fn check_contents(found: &BTreeMap<u64, Row>, model: &Model, when: &str) {
    for (offset, row) in found {
        assert_eq!(
            model.attempted.get(offset),
            Some(row),
            "{when}: offset {offset} holds a record that was never appended there"
        );
    }
    let mut latest_present: BTreeMap<&[u8], u64> = BTreeMap::new();
    for (offset, row) in found {
        latest_present.insert(&row.key, *offset);
    }
    for (offset, row) in model.attempted.range(..model.durable_end) {
        if found.contains_key(offset) {
            continue;
        }
        assert!(
            latest_present
                .get(&row.key[..])
                .is_some_and(|latest| latest > offset),
            "{when}: offset {offset} (key {:?}) was acknowledged and is lost",
            String::from_utf8_lossy(&row.key)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration.

fn shared_config(io_mode: IoMode) -> SharedConfig {
    SharedConfig {
        io_mode,
        buffer_bytes: CHUNK_BYTES,
        buffer_pool_bytes: 4 << 20,
        // No read cache: every read of written data goes to the storage.
        cache_bytes: 0,
        ..SharedConfig::default()
    }
}

fn log_config(io_mode: IoMode, durability: Durability) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: SEGMENT_BYTES as usize,
        index_interval_bytes: 512,
        durability,
        max_writes_in_flight: 4,
        preallocate_bytes: CHUNK_BYTES as u64,
        read_ahead_bytes: CHUNK_BYTES,
        flush_interval_ms: None,
        retention_check_interval_ms: None,
        cleanup_policy: CleanupPolicy::Compact,
        ..common::config(io_mode)
    }
}

fn compact_options() -> CompactOptions {
    CompactOptions {
        delete_retention_ms: 0,
        ..CompactOptions::default()
    }
}

fn seed() -> u64 {
    std::env::var("RINGLOG_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

// ---------------------------------------------------------------------------------------------
// Checking errors.

/// The operations an engine error may name for a failed call of `op`.
fn op_names(op: Op) -> &'static [&'static str] {
    match op {
        Op::Open => &["create", "open"],
        Op::SubmitWrite | Op::Write => &["write"],
        Op::Read | Op::SubmitRead => &["read"],
        Op::SyncData => &["fdatasync"],
        Op::SyncMapped => &["msync"],
        Op::Allocate => &["fallocate"],
        Op::SetLen => &["truncate"],
        // Compaction's swap, its checkpoint, and the swap settled at open.
        Op::Rename => &["swap in", "write", "settle the compaction"],
        Op::SyncDir => &[
            "fsync directory",
            "swap in",
            "write",
            "settle the compaction",
        ],
        // Index files (at create and roll), the marker, the checkpoint, a pass manifest, metadata.
        Op::WriteFile => &["write", "create the indexes of"],
        // The checkpoint, or the manifest of a pass settled at open. (A failed read of an index
        // file is no error: recovery rescans the segment instead.)
        Op::ReadFile => &["read", "settle the compaction"],
        // The marker at open, retention, the swap.
        Op::RemoveFile => &["remove", "delete", "swap in", "settle the compaction"],
        Op::RemoveDir => &["remove partition directory"],
        Op::CreateDir => &["create directory"],
        Op::ListDir => &["list", "settle the compaction"],
        Op::Exists => &["look for", "swap in", "settle the compaction"],
    }
}

/// The message of an error caused by `fault`: it names one of the operations of that call,
/// a path under `dir` and the OS error.
fn assert_names_fault(message: &str, fault: &Fault, dir: &Path, when: &str) {
    assert!(
        message.contains(fault.kind.message()),
        "{when}: the error does not carry the {}: {message}",
        fault.kind.name()
    );
    assert!(
        op_names(fault.op).iter().any(|op| message.contains(op)),
        "{when}: the error does not name the {} operation: {message}",
        fault.op.name()
    );
    assert!(
        message.contains(&dir.display().to_string()),
        "{when}: the error does not name a file: {message}"
    );
}

// ---------------------------------------------------------------------------------------------
// The randomized workload and the sweep.

#[derive(Clone, Copy, Debug)]
enum Step {
    /// One batch of this many records.
    Append(u64),
    /// Read records from a random offset.
    Fetch(u64),
    /// Compact on demand.
    Compact,
    /// `Log::flush`.
    Flush,
    /// Flush, then lose the process (the log is leaked, never closed) and reopen.
    Crash,
}

fn workload(seed: u64) -> Vec<Step> {
    let mut rng = Rng(seed);
    (0..WORKLOAD_STEPS)
        .map(|i| match i {
            _ if i == WORKLOAD_STEPS / 3 || i == 3 * WORKLOAD_STEPS / 4 => Step::Compact,
            _ if i == WORKLOAD_STEPS / 2 => Step::Crash,
            _ => match rng.below(8) {
                0 | 1 => Step::Fetch(rng.next()),
                2 => Step::Flush,
                _ => Step::Append(1 + rng.below(3)),
            },
        })
        .collect()
}

/// One run of the workload with at most one fault armed.
struct Run<'a> {
    io_mode: IoMode,
    durability: Durability,
    seed: u64,
    /// Holds a directory per generation of the log (see [`Run::crash_step`]).
    root: &'a Path,
    /// The log's directory now.
    dir: PathBuf,
    shared: Arc<Shared>,
    faulty: Arc<Faulty>,
    fault: Option<Fault>,
    model: Model,
    /// The first failure reported, after which the log must refuse writes.
    poisoned: Option<String>,
    /// The fault fired, and some call reported it.
    reported: bool,
    /// A write-class fault fired during an append that (with `None`) was still acknowledged.
    pending: bool,
}

impl Run<'_> {
    fn when(&self, step: usize, what: &str) -> String {
        format!(
            "{} {} seed {:#x} fault {:?} step {step} ({what})",
            self.io_mode.name(),
            self.durability.name(),
            self.seed,
            self.fault
        )
    }

    fn fault(&self) -> Fault {
        self.fault.expect("a fault is armed")
    }

    fn open(&mut self, step: usize) -> Log {
        let config = log_config(self.io_mode, self.durability);
        for _ in 0..2 {
            let fired = self.faulty.fired_count();
            match Log::open_with(&self.dir, config.clone(), &self.shared) {
                Ok(log) => {
                    assert_eq!(
                        self.faulty.fired_count(),
                        fired,
                        "an open swallowed a fault"
                    );
                    return log;
                }
                Err(e) => {
                    let when = self.when(step, "open");
                    assert!(self.faulty.fired_count() > fired, "{when}: open fails: {e}");
                    assert!(matches!(e, OpenError::Io { .. }), "{when}: {e:?}");
                    assert_names_fault(&e.to_string(), &self.fault(), self.root, &when);
                    self.reported = true;
                }
            }
        }
        panic!("{}: a second open fails", self.when(step, "open"));
    }

    fn append_step(&mut self, log: &Log, step: usize, count: u64) {
        let when = self.when(step, "append");
        let rows: Vec<Row> = (0..count)
            .map(|i| row(self.model.next + i, self.seed))
            .collect();
        let fired = self.faulty.fired_count();
        let result = append(log, &rows);
        let fired = self.faulty.fired_count() > fired;
        match result {
            Ok(info) => {
                assert!(
                    self.poisoned.is_none(),
                    "{when}: an append was accepted after {:?}",
                    self.poisoned
                );
                assert_eq!(info.base_offset, self.model.next, "{when}");
                self.take_rows(rows);
                if self.durability != Durability::None {
                    assert!(!fired, "{when}: an acknowledged append hid a fault");
                    self.model.durable_end = self.model.next;
                } else if fired {
                    self.pending = true;
                }
            }
            Err(e) => {
                if log.next_offset() > self.model.next {
                    // The batch took its offsets before the failure: it may be on disk.
                    self.take_rows(rows);
                }
                self.append_failed(log, &e, fired, &when);
            }
        }
    }

    fn take_rows(&mut self, rows: Vec<Row>) {
        for r in rows {
            self.model.attempted.insert(self.model.next, r);
            self.model.next += 1;
        }
    }

    fn append_failed(&mut self, log: &Log, e: &AppendError, fired: bool, when: &str) {
        if let Some(first) = &self.poisoned {
            assert!(
                matches!(e, AppendError::Poisoned { .. }) && e.to_string().contains(first),
                "{when}: a poisoned log must say so and name {first:?}: {e}"
            );
            return;
        }
        assert!(fired || self.pending, "{when}: an append failed: {e}");
        let fault = self.fault();
        assert_names_fault(&e.to_string(), &fault, self.root, when);
        self.reported = true;
        match e {
            AppendError::Io { .. } => {
                self.poisoned = Some(fault.kind.message().to_owned());
                let probe = append(log, &[row(u64::MAX, 0)]);
                assert!(
                    matches!(probe, Err(AppendError::Poisoned { .. })),
                    "{when}: the log takes writes after {e}: {probe:?}"
                );
                assert!(log.poisoned().is_some(), "{when}");
            }
            AppendError::Read(_) => {
                assert_eq!(fault.op, Op::Read, "{when}: {e}");
                assert!(log.poisoned().is_none(), "{when}: a failed read poisons");
            }
            other => panic!("{when}: an untyped failure: {other:?}"),
        }
    }

    fn fetch_step(&mut self, log: &Log, step: usize, pick: u64) {
        let when = self.when(step, "fetch");
        let (start, end) = (log.start_offset(), log.next_offset());
        if start == end {
            return;
        }
        let offset = start + pick % (end - start);
        let fired = self.faulty.fired_count();
        let result = log.read_records(offset, CHUNK_BYTES);
        let records = match result {
            Ok(records) => {
                assert_eq!(
                    self.faulty.fired_count(),
                    fired,
                    "{when}: a fetch hid a fault"
                );
                records
            }
            Err(e) => {
                assert!(
                    self.faulty.fired_count() > fired,
                    "{when}: a fetch fails: {e}"
                );
                assert!(matches!(e, ReadError::Io { .. }), "{when}: {e:?}");
                assert_names_fault(&e.to_string(), &self.fault(), self.root, &when);
                self.reported = true;
                assert_eq!(log.poisoned().is_some(), self.poisoned.is_some(), "{when}");
                log.read_records(offset, CHUNK_BYTES)
                    .unwrap_or_else(|e| panic!("{when}: the fetch fails again: {e}"))
            }
        };
        for r in &records {
            let expected = self.model.attempted.get(&r.offset);
            assert_eq!(
                expected.map(|e| (&e.key[..], &e.value[..])),
                Some((
                    r.key.as_deref().expect("keyed"),
                    r.value.as_deref().expect("a value")
                )),
                "{when}: offset {} reads back wrong",
                r.offset
            );
        }
    }

    fn compact_step(&mut self, log: &Log, step: usize) {
        let when = self.when(step, "compact");
        let fired = self.faulty.fired_count();
        let result = log.compact(&compact_options());
        let fired = self.faulty.fired_count() > fired;
        let Err(e) = result else {
            assert!(!fired, "{when}: a compaction hid a fault");
            return;
        };
        assert!(fired, "{when}: a compaction fails: {e}");
        assert!(
            matches!(
                e,
                MaintenanceError::Io { .. } | MaintenanceError::Read(ReadError::Io { .. })
            ),
            "{when}: {e:?}"
        );
        assert_names_fault(&e.to_string(), &self.fault(), self.root, &when);
        self.reported = true;
        let found = contents(log).unwrap_or_else(|e| panic!("{when}: read after: {e}"));
        check_contents(
            &found,
            &self.model,
            &format!("{when}, live after the failure"),
        );
        assert_eq!(log.poisoned().is_some(), self.poisoned.is_some(), "{when}");
        log.compact(&compact_options())
            .unwrap_or_else(|e| panic!("{when}: the next compaction fails: {e}"));
        let found = contents(log).unwrap_or_else(|e| panic!("{when}: read after: {e}"));
        check_contents(&found, &self.model, &format!("{when}, compacted again"));
    }

    fn flush_step(&mut self, log: &Log, step: usize) -> bool {
        let when = self.when(step, "flush");
        let fired = self.faulty.fired_count();
        match log.flush() {
            Ok(()) => {
                assert!(self.poisoned.is_none(), "{when}: a poisoned log flushed");
                assert!(!self.pending, "{when}: a flush hid an earlier failed write");
                assert_eq!(
                    self.faulty.fired_count(),
                    fired,
                    "{when}: a flush hid a fault"
                );
                self.model.durable_end = self.model.next;
                true
            }
            Err(e) => {
                self.append_failed(log, &e, self.faulty.fired_count() > fired, &when);
                false
            }
        }
    }

    /// A crash after a flush: the files as they are now (preallocated space, no marker) are
    /// copied to a new directory, where the workload goes on after a reopen. The log in the
    /// old directory is closed (its close is one more call site under test).
    fn crash_step(&mut self, log: Log, step: usize) -> Log {
        if self.poisoned.is_some() || !self.flush_step(&log, step) {
            return log;
        }
        let crashed = self.root.join(format!("after-crash-{step}"));
        common::copy_log_dir(&self.dir, &crashed);
        self.close_step(&log, step);
        drop(log);
        self.dir = crashed;
        let log = self.open(step);
        assert_eq!(
            log.next_offset(),
            self.model.next,
            "{}",
            self.when(step, "reopen after a crash")
        );
        log
    }

    fn close_step(&mut self, log: &Log, step: usize) {
        let when = self.when(step, "close");
        let fired = self.faulty.fired_count();
        match log.close() {
            Ok(()) => {
                assert!(self.poisoned.is_none(), "{when}: a poisoned log closed");
                assert!(!self.pending, "{when}: a close hid an earlier failed write");
                assert_eq!(
                    self.faulty.fired_count(),
                    fired,
                    "{when}: a close hid a fault"
                );
                self.model.durable_end = self.model.next;
            }
            Err(MaintenanceError::Poisoned { cause }) => {
                let first = self.poisoned.as_ref().expect("poisoned");
                assert!(cause.contains(first.as_str()), "{when}: {cause}");
            }
            Err(e) => {
                assert!(
                    self.faulty.fired_count() > fired || self.pending,
                    "{when}: close fails: {e}"
                );
                assert!(matches!(e, MaintenanceError::Io { .. }), "{when}: {e:?}");
                assert_names_fault(&e.to_string(), &self.fault(), self.root, &when);
                self.reported = true;
            }
        }
    }

    /// Runs the workload on the faulty storage.
    fn run(&mut self) {
        let mut log = self.open(0);
        for (i, step) in workload(self.seed).into_iter().enumerate() {
            let i = i + 1;
            match step {
                Step::Append(count) => self.append_step(&log, i, count),
                Step::Fetch(pick) => self.fetch_step(&log, i, pick),
                Step::Compact => self.compact_step(&log, i),
                Step::Flush => {
                    self.flush_step(&log, i);
                }
                Step::Crash => log = self.crash_step(log, i),
            }
        }
        self.close_step(&log, WORKLOAD_STEPS + 1);
    }

    /// Reopens on the real storage, twice (recovery, then a clean open), and checks the
    /// contents each time and that appends resume.
    fn verify(&self) {
        let when = self.when(WORKLOAD_STEPS + 2, "reopen on the real storage");
        let config = Config {
            durability: Durability::Sync,
            ..log_config(self.io_mode, self.durability)
        };
        let log = open_log(&self.dir, config.clone());
        let next = log.next_offset();
        assert!(
            next >= self.model.durable_end && next <= self.model.next,
            "{when}: the log ends at {next}, not in [{}, {}]",
            self.model.durable_end,
            self.model.next
        );
        let found = contents(&log).unwrap_or_else(|e| panic!("{when}: read: {e}"));
        check_contents(&found, &self.model, &when);
        let extra = row(next, self.seed ^ 1);
        let info = append(&log, std::slice::from_ref(&extra))
            .unwrap_or_else(|e| panic!("{when}: append: {e}"));
        assert_eq!(info.base_offset, next, "{when}: appends resume at the end");
        log.close().unwrap_or_else(|e| panic!("{when}: close: {e}"));
        drop(log);
        let log = open_log(&self.dir, config);
        let again = contents(&log).unwrap_or_else(|e| panic!("{when}: read: {e}"));
        assert_eq!(again.get(&next), Some(&extra), "{when}: the new record");
        assert_eq!(
            again.range(..next).collect::<Vec<_>>(),
            found.iter().collect::<Vec<_>>(),
            "{when}: a clean reopen reads the same"
        );
    }
}

/// Runs the workload with `fault` armed (or none) in a fresh directory; returns the calls it
/// made per op and whether the fault fired.
fn run_once(
    io_mode: IoMode,
    durability: Durability,
    seed: u64,
    fault: Option<Fault>,
) -> (Vec<(Op, u64)>, bool) {
    let root = sweep_dir();
    let dir = root.path().join("log");
    std::fs::create_dir(&dir).expect("create the log directory");
    let (shared, faulty) = Faulty::shared(&dir, &shared_config(io_mode)).expect("shared resources");
    if let Some(fault) = fault {
        faulty.arm(fault);
    }
    let mut run = Run {
        io_mode,
        durability,
        seed,
        root: root.path(),
        dir,
        shared,
        faulty,
        fault,
        model: Model::default(),
        poisoned: None,
        reported: false,
        pending: false,
    };
    run.run();
    let fired = run.faulty.fired();
    assert!(fired.len() <= 1, "one fault at most: {fired:?}");
    assert!(
        fired.is_empty() || run.reported,
        "{}: the fault fired ({}) and nothing reported it",
        run.when(WORKLOAD_STEPS + 1, "end"),
        fired[0].call
    );
    let calls = run.faulty.all_calls();
    run.verify();
    (calls, !fired.is_empty())
}

/// A directory for one run of the sweep: on tmpfs (`/dev/shm`) where there is one, so that a
/// thousand runs with a few dozen fdatasyncs each stay quick; the targeted tests run on the
/// default temporary directory (a disk, with O_DIRECT).
fn sweep_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).expect("a temporary directory on /dev/shm")
    } else {
        tempfile::tempdir().expect("a temporary directory")
    }
}

/// The kinds of failure swept for `op`.
fn kinds(op: Op) -> &'static [FaultKind] {
    match op {
        Op::Write => &[FaultKind::Eio, FaultKind::Enospc, FaultKind::ShortWrite],
        Op::Allocate | Op::SyncData => &[FaultKind::Eio, FaultKind::Enospc],
        _ => &[FaultKind::Eio],
    }
}

/// Fails every call of every op, one per run, for each durability; returns the faults that
/// fired.
fn sweep(io_mode: IoMode, durability: Durability, seed: u64) -> usize {
    let (calls, _) = run_once(io_mode, durability, seed, None);
    let mut fired = 0;
    let mut per_op = Vec::new();
    for (op, count) in calls {
        let mut op_fired = 0;
        for &kind in kinds(op) {
            for nth in 1..=count {
                let fault = Fault { op, nth, kind };
                let (_, did_fire) = run_once(io_mode, durability, seed, Some(fault));
                assert!(
                    did_fire,
                    "{fault:?} did not fire on a replay of the same workload"
                );
                op_fired += 1;
            }
        }
        per_op.push(format!("{} {count} calls, {op_fired} faults", op.name()));
        fired += op_fired;
    }
    eprintln!(
        "{} {}: {fired} faults injected ({})",
        io_mode.name(),
        durability.name(),
        per_op.join("; ")
    );
    fired
}

#[test]
fn every_call_of_every_op_fails_safely() {
    let seed = seed();
    eprintln!("seed {seed:#x} (set RINGLOG_FAULT_SEED to change it)");
    let mut total = 0;
    for_each_io_mode(|io_mode| {
        for durability in [Durability::Sync, Durability::Write, Durability::None] {
            total += sweep(io_mode, durability, seed);
        }
    });
    eprintln!("faults injected in all: {total}");
    assert!(total > 0);
}

/// The workload reaches every call site the sweep means to fail: every op is called, except
/// `sync_mapped` off the mmap path (and on it, reads happen only at open), and `submit_read`,
/// which the wrapper forwards only when a test asks it to (`read_ahead_sequential.rs`).
#[test]
fn the_workload_makes_every_kind_of_call() {
    let seed = seed();
    for_each_io_mode(|io_mode| {
        let (calls, _) = run_once(io_mode, Durability::Sync, seed, None);
        eprintln!("{} calls: {calls:?}", io_mode.name());
        let mmap = common::io_mode_allows(io_mode, IoPath::Mmap);
        for (op, count) in calls {
            // Directories are created and removed by topic managers only: the topic fault
            // tests fail those calls.
            let expected = (mmap || op != Op::SyncMapped)
                && !matches!(op, Op::RemoveDir | Op::CreateDir | Op::SubmitRead);
            assert_eq!(
                count > 0,
                expected,
                "{}: {count} calls of {}",
                io_mode.name(),
                op.name()
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Compaction: every call of one compaction of a log with several groups to clean.

/// Hot keys of the compaction test: two records in three have one of them, the others a key of
/// their own, so each cleaned segment keeps about a third of its records and a later compaction
/// groups the cleaned segments differently than the one before.
const HOT_KEYS: u64 = 10;
/// Records appended before the first compaction.
const COMPACTION_RECORDS: u64 = 180;

/// The record at `offset`: keys repeat every `COMPACTION_RECORDS` offsets, so data appended
/// after the first compaction supersedes the oldest clean segments and the next compaction
/// shrinks them to nothing.
fn keyed_row(offset: u64, round: u64) -> Row {
    let slot = offset % COMPACTION_RECORDS;
    let key = if slot.is_multiple_of(3) {
        format!("cold-{slot}")
    } else {
        format!("hot-{}", slot % HOT_KEYS)
    };
    Row {
        key: key.into_bytes(),
        value: format!("value-{offset}-{round}-{}", "x".repeat(200)).into_bytes(),
    }
}

/// Appends `count` records one at a time to `log` and `model`.
fn append_keyed(log: &Log, model: &mut Model, count: u64, round: u64) {
    for _ in 0..count {
        let r = keyed_row(model.next, round);
        let info = append(log, std::slice::from_ref(&r)).expect("append succeeds");
        assert_eq!(info.base_offset, model.next);
        model.attempted.insert(model.next, r);
        model.next += 1;
        model.durable_end = model.next;
    }
}

/// Names of files a compaction stages, left in `dir`.
fn staged_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list the log directory")
        .map(|e| e.expect("list").file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(&format!(".{CLEANED_SUFFIX}")) || n.ends_with(&format!(".{SWAP_SUFFIX}"))
        })
        .collect()
}

/// One compaction of a copy of `pristine` with `fault` armed, then appends, a compaction that
/// must succeed, a close and a reopen on the real storage; returns whether the fault fired and
/// the calls the faulty compaction made.
fn compaction_run(
    io_mode: IoMode,
    pristine: &Path,
    model: &Model,
    fault: Option<Fault>,
) -> (bool, Vec<(Op, u64)>) {
    let when = format!("{} compaction with {fault:?}", io_mode.name());
    let root = sweep_dir();
    let dir = root.path().join("log");
    common::copy_log_dir(pristine, &dir);
    let mut model = Model {
        attempted: model.attempted.clone(),
        ..*model
    };
    let (shared, faulty) = Faulty::shared(&dir, &shared_config(io_mode)).expect("shared");
    let config = log_config(io_mode, Durability::Sync);
    let log = Log::open_with(&dir, config.clone(), &shared).expect("open");
    let before = faulty.all_calls();
    if let Some(fault) = fault {
        faulty.arm(fault);
    }
    let result = log.compact(&compact_options());
    let calls = faulty
        .all_calls()
        .iter()
        .zip(&before)
        .map(|(&(op, after), &(_, before))| (op, after - before))
        .collect();
    let fired = faulty.fired_count() > 0;
    match (&result, fault) {
        (Ok(report), _) => {
            assert!(!fired, "{when}: the compaction hid the fault");
            assert!(report.is_some(), "{when}: nothing to clean");
        }
        (Err(e), Some(fault)) => {
            assert!(fired, "{when}: fails: {e}");
            assert!(
                matches!(
                    e,
                    MaintenanceError::Io { .. } | MaintenanceError::Read(ReadError::Io { .. })
                ),
                "{when}: {e:?}"
            );
            assert_names_fault(&e.to_string(), &fault, &dir, &when);
        }
        (Err(e), None) => panic!("{when}: {e}"),
    }
    let live = contents(&log).expect("read after the compaction");
    check_contents(&live, &model, &format!("{when}, live"));
    // What the log serves is what recovery makes of the files (a crash now loses nothing and
    // resurrects nothing).
    let copy = root.path().join("copy");
    common::copy_log_dir(&dir, &copy);
    let recovered = Log::open(&copy, config.clone()).expect("open a copy");
    assert!(
        contents(&recovered).expect("read the copy") == live,
        "{when}: a copy of the files reads differently than the live log"
    );
    drop(recovered);
    assert!(
        log.poisoned().is_none(),
        "{when}: a failed compaction poisons the log"
    );
    // The log goes on: more segments, and a compaction that must settle what the failed one
    // left, whatever its groups are now.
    append_keyed(&log, &mut model, COMPACTION_RECORDS / 2, 1);
    log.compact(&compact_options())
        .unwrap_or_else(|e| panic!("{when}: the next compaction fails: {e}"));
    let compacted = contents(&log).expect("read");
    check_contents(&compacted, &model, &format!("{when}, compacted again"));
    assert!(
        staged_files(&dir).is_empty(),
        "{when}: the next compaction left staged files: {:?}",
        staged_files(&dir)
    );
    log.close().unwrap_or_else(|e| panic!("{when}: close: {e}"));
    drop(log);
    drop(shared);
    let log = Log::open(&dir, config).unwrap_or_else(|e| panic!("{when}: reopen: {e}"));
    assert_eq!(log.next_offset(), model.next, "{when}");
    assert!(
        contents(&log).expect("read") == compacted,
        "{when}: the reopened log reads differently than before it was closed"
    );
    append_keyed(&log, &mut model, 1, 2);
    (fired, calls)
}

/// A log compacted once (small clean segments), with new data after it, closed: the
/// compaction under test rewrites groups of several clean segments and single dirty ones.
fn build_compacted_once(dir: &Path, io_mode: IoMode, model: &mut Model) {
    let log = open_log(dir, log_config(io_mode, Durability::Sync));
    append_keyed(&log, model, COMPACTION_RECORDS, 0);
    log.compact(&compact_options())
        .expect("the first compaction succeeds")
        .expect("there was something to clean");
    append_keyed(&log, model, COMPACTION_RECORDS / 2, 0);
    assert!(log.segment_count() > 6, "{} segments", log.segment_count());
    log.close().expect("close");
}

#[test]
fn a_failed_compaction_loses_nothing_and_the_next_one_settles_it() {
    let mut total = 0;
    for_each_io_mode(|io_mode| {
        let root = tempfile::tempdir().expect("a temporary directory");
        let pristine = root.path().join("pristine");
        let mut model = Model::default();
        build_compacted_once(&pristine, io_mode, &mut model);
        let (_, calls) = compaction_run(io_mode, &pristine, &model, None);
        let mut injected = 0;
        for &(op, count) in &calls {
            for &kind in kinds(op) {
                for nth in 1..=count {
                    let fault = Fault { op, nth, kind };
                    let (fired, _) = compaction_run(io_mode, &pristine, &model, Some(fault));
                    assert!(fired, "{fault:?} did not fire");
                    injected += 1;
                }
            }
        }
        eprintln!(
            "{}: {injected} faults injected into one compaction: {calls:?}",
            io_mode.name()
        );
        total += injected;
    });
    eprintln!("faults injected in all: {total}");
}

// ---------------------------------------------------------------------------------------------
// The write path, one call site at a time, on the default temporary directory (a disk, where
// the io_uring and pread/pwrite paths use O_DIRECT).

/// A write-path fault and the operation the engine must name for it.
struct Case {
    op: Op,
    kind: FaultKind,
    /// `AppendError::Io::op`.
    engine_op: &'static str,
}

/// A log on the faulty storage in a fresh temporary directory, with `acked` records appended.
struct Bench {
    dir: tempfile::TempDir,
    shared: Arc<Shared>,
    faulty: Arc<Faulty>,
    log: Log,
    model: Model,
    io_mode: IoMode,
}

impl Bench {
    fn new(io_mode: IoMode, durability: Durability, acked: u64) -> Bench {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (shared, faulty) =
            Faulty::shared(dir.path(), &shared_config(io_mode)).expect("shared resources");
        let log =
            Log::open_with(dir.path(), log_config(io_mode, durability), &shared).expect("open");
        common::assert_io_path(&log, io_mode);
        let mut bench = Bench {
            dir,
            shared,
            faulty,
            log,
            model: Model::default(),
            io_mode,
        };
        for _ in 0..acked {
            assert!(bench.append_one().is_ok(), "appends succeed");
        }
        bench
    }

    /// Appends the next record; on success it is acknowledged.
    fn append_one(&mut self) -> Result<(), AppendError> {
        let r = row(self.model.next, 7);
        let before = self.log.next_offset();
        match append(&self.log, std::slice::from_ref(&r)) {
            Ok(info) => {
                assert_eq!(info.base_offset, self.model.next);
                self.model.attempted.insert(self.model.next, r);
                self.model.next += 1;
                self.model.durable_end = self.model.next;
                Ok(())
            }
            Err(e) => {
                if self.log.next_offset() > before {
                    self.model.attempted.insert(self.model.next, r);
                    self.model.next += 1;
                }
                Err(e)
            }
        }
    }

    /// Arms `fault` and appends until an append fails; returns its error.
    fn append_until_failure(&mut self, fault: Fault) -> AppendError {
        self.faulty.arm(fault);
        for _ in 0..1000 {
            if let Err(e) = self.append_one() {
                assert_eq!(self.faulty.fired_count(), 1, "{fault:?}: {e}");
                return e;
            }
        }
        panic!("{fault:?} never fired: {:?}", self.faulty.all_calls());
    }

    /// The log refuses writes naming `first`, reads still work, and reopened on the real
    /// storage it holds everything acknowledged and takes appends.
    fn assert_poisoned_then_recovers(self, first: &str, when: &str) {
        let probe = append(&self.log, &[row(u64::MAX, 0)]);
        match &probe {
            Err(e @ AppendError::Poisoned { cause }) => {
                assert!(cause.contains(first), "{when}: {e}");
                assert!(
                    e.to_string().contains("reopen"),
                    "{when}: says what to do: {e}"
                );
            }
            other => panic!("{when}: the log takes writes: {other:?}"),
        }
        assert!(self.log.poisoned().is_some(), "{when}");
        // Under `Write` and `Sync` consumers see only what was acknowledged: the batch whose
        // write or sync failed stays invisible (after the reopen it may be gone, its offsets
        // reused).
        assert_eq!(
            self.log.high_watermark(),
            self.model.durable_end,
            "{when}: the high watermark stays at the acknowledged end"
        );
        let at_end = self
            .log
            .fetch(self.model.durable_end, 1 << 20)
            .unwrap_or_else(|e| panic!("{when}: fetch at the high watermark: {e}"));
        assert!(
            at_end.bytes.is_empty(),
            "{when}: a fetch at the high watermark returns nothing unacknowledged"
        );
        assert!(
            matches!(self.log.flush(), Err(AppendError::Poisoned { .. })),
            "{when}: flush"
        );
        let live = contents(&self.log).unwrap_or_else(|e| panic!("{when}: reads fail: {e}"));
        check_contents(&live, &self.model, &format!("{when}, live"));
        assert!(
            matches!(self.log.close(), Err(MaintenanceError::Poisoned { .. })),
            "{when}: close"
        );
        let Bench {
            dir,
            shared,
            faulty,
            log,
            model,
            io_mode,
        } = self;
        drop((log, shared, faulty));
        let log = open_log(dir.path(), log_config(io_mode, Durability::Sync));
        let next = log.next_offset();
        assert!(
            next >= model.durable_end && next <= model.next,
            "{when}: ends at {next}"
        );
        check_contents(
            &contents(&log).expect("read"),
            &model,
            &format!("{when}, reopened"),
        );
        let info = append(&log, &[row(next, 9)]).expect("appends resume after a reopen");
        assert_eq!(info.base_offset, next, "{when}");
    }
}

/// The failed call named in the error: its operation, the segment's `.log` file under `dir`,
/// and the OS error (or the short write).
fn assert_append_io(e: &AppendError, case: &Case, dir: &Path, when: &str) {
    let AppendError::Io { op, path, source } = e else {
        panic!("{when}: expected AppendError::Io, got {e:?}");
    };
    assert_eq!(*op, case.engine_op, "{when}: {e}");
    assert!(path.starts_with(dir), "{when}: {e}");
    match case.kind {
        FaultKind::Eio => assert_eq!(source.raw_os_error(), Some(faulty::EIO), "{when}"),
        FaultKind::Enospc => assert_eq!(source.raw_os_error(), Some(faulty::ENOSPC), "{when}"),
        FaultKind::ShortWrite => {
            assert_eq!(source.kind(), std::io::ErrorKind::WriteZero, "{when}");
        }
    }
    let message = e.to_string();
    for part in [
        case.engine_op,
        &path.display().to_string(),
        case.kind.message(),
    ] {
        assert!(
            message.contains(part),
            "{when}: {message:?} does not name {part:?}"
        );
    }
    assert!(
        message.contains("refuses further writes"),
        "{when}: {message}"
    );
}

fn write_cases(io_mode: IoMode) -> Vec<Case> {
    let case = |op, kind, engine_op| Case {
        op,
        kind,
        engine_op,
    };
    let mut cases = vec![case(Op::Allocate, FaultKind::Enospc, "fallocate")];
    if common::io_mode_allows(io_mode, IoPath::Mmap) {
        cases.push(case(Op::SyncMapped, FaultKind::Eio, "msync"));
    } else {
        cases.extend([
            case(Op::SubmitWrite, FaultKind::Eio, "write to"),
            case(Op::Write, FaultKind::Eio, "write to"),
            case(Op::Write, FaultKind::Enospc, "write to"),
            case(Op::Write, FaultKind::ShortWrite, "write to"),
            case(Op::SyncData, FaultKind::Eio, "fdatasync"),
        ]);
    }
    cases
}

#[test]
fn a_failed_write_sync_or_fallocate_poisons_the_log() {
    for_each_io_mode(|io_mode| {
        for case in write_cases(io_mode) {
            for durability in [Durability::Sync, Durability::Write] {
                if durability == Durability::Write && case.op == Op::SyncMapped {
                    continue; // `Write` never syncs an append on the mmap path.
                }
                let when = format!(
                    "{} {} {} {}",
                    io_mode.name(),
                    durability.name(),
                    case.op.name(),
                    case.kind.name()
                );
                let mut bench = Bench::new(io_mode, durability, 10);
                let fault = Fault {
                    op: case.op,
                    nth: 1,
                    kind: case.kind,
                };
                let e = bench.append_until_failure(fault);
                assert_append_io(&e, &case, bench.dir.path(), &when);
                bench.assert_poisoned_then_recovers(case.kind.message(), &when);
            }
        }
    });
}

#[test]
fn a_failed_segment_roll_poisons_the_log() {
    for_each_io_mode(|io_mode| {
        let cases = [
            // Sealing the full segment: trimmed to its data (the first `set_len` of a log),
            // then the new segment's file created and its name made durable (the first `open`
            // and `sync_dir` after the log opened).
            Case {
                op: Op::SetLen,
                kind: FaultKind::Eio,
                engine_op: "truncate",
            },
            Case {
                op: Op::Open,
                kind: FaultKind::Eio,
                engine_op: "create",
            },
            Case {
                op: Op::SyncDir,
                kind: FaultKind::Eio,
                engine_op: "fsync directory",
            },
        ];
        for case in cases {
            let when = format!("{} roll {}", io_mode.name(), case.op.name());
            let mut bench = Bench::new(io_mode, Durability::Sync, 3);
            let segments = bench.log.segment_count();
            let e = bench.append_until_failure(Fault {
                op: case.op,
                nth: 1,
                kind: case.kind,
            });
            assert!(
                bench.log.segment_count() == segments,
                "{when}: the failed roll added a segment"
            );
            assert_append_io(&e, &case, bench.dir.path(), &when);
            bench.assert_poisoned_then_recovers(case.kind.message(), &when);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Reads.

#[test]
fn a_failed_read_fails_that_read_and_nothing_else() {
    for_each_io_mode(|io_mode| {
        let when = format!("{} read", io_mode.name());
        let mut bench = Bench::new(io_mode, Durability::Sync, 40);
        assert!(bench.log.segment_count() > 2, "{when}: several segments");
        let reads = bench.faulty.calls(Op::Read);
        bench.faulty.arm(Fault {
            op: Op::Read,
            nth: 1,
            kind: FaultKind::Eio,
        });
        let fetched = bench.log.fetch(0, CHUNK_BYTES);
        if common::io_mode_allows(io_mode, IoPath::Mmap) {
            // Fetches are slices of the mapping: no read call to fail.
            assert!(fetched.is_ok(), "{when}: {fetched:?}");
            assert_eq!(bench.faulty.calls(Op::Read), reads, "{when}: a fetch read");
            bench.faulty.disarm();
            return;
        }
        let e = fetched.expect_err("the fetch's read fails");
        let ReadError::Io { op, path, source } = &e else {
            panic!("{when}: expected ReadError::Io, got {e:?}");
        };
        assert_eq!(
            (*op, source.raw_os_error()),
            ("read", Some(faulty::EIO)),
            "{when}"
        );
        assert_eq!(path, &common::log_file(bench.dir.path(), 0), "{when}");
        let message = e.to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("os error 5"),
            "{when}: {message}"
        );
        assert!(
            bench.log.poisoned().is_none(),
            "{when}: a failed read poisons"
        );
        let again = bench
            .log
            .fetch(0, CHUNK_BYTES)
            .expect("the same fetch succeeds next");
        assert_eq!(
            again.bytes,
            bench.log.fetch(0, CHUNK_BYTES).expect("fetch").bytes
        );
        assert!(bench.append_one().is_ok(), "{when}: appends go on");
        // The read of the active segment's last partial page, which the first append after a
        // reopen continues, is the open's last read: the open fails with it, naming it, and the
        // next open (and append) succeeds.
        bench.log.close().expect("close");
        let config = log_config(io_mode, Durability::Sync);
        let reads = bench.faulty.calls(Op::Read);
        let probe =
            Log::open_with(bench.dir.path(), config.clone(), &bench.shared).expect("reopen");
        let open_reads = bench.faulty.calls(Op::Read) - reads;
        probe.close().expect("close");
        drop(probe);
        bench.faulty.arm(Fault {
            op: Op::Read,
            nth: open_reads,
            kind: FaultKind::Eio,
        });
        let e = Log::open_with(bench.dir.path(), config.clone(), &bench.shared)
            .expect_err("the last page cannot be read");
        let OpenError::Io { op, path, source } = &e else {
            panic!("{when}: expected OpenError::Io, got {e:?}");
        };
        assert_eq!(*op, "read the last page of", "{when}");
        assert_eq!(source.raw_os_error(), Some(faulty::EIO), "{when}");
        assert!(path.starts_with(bench.dir.path()), "{when}: {e}");
        bench.log = Log::open_with(bench.dir.path(), config, &bench.shared).expect("the next open");
        let next = bench.log.next_offset();
        assert!(bench.append_one().is_ok(), "{when}: appends go on");
        assert_eq!(bench.log.next_offset(), next + 1, "{when}");
        let live = contents(&bench.log).expect("read");
        check_contents(&live, &bench.model, &when);
        assert_eq!(
            live.len() as u64,
            bench.model.next,
            "{when}: nothing was compacted"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Opening: every call an open makes, failed one at a time.

/// What an open may name for a failed call of `op`.
fn open_ops(op: Op) -> &'static [&'static str] {
    match op {
        Op::Open => &["open", "create"],
        Op::Read => &["read"],
        Op::SetLen => &["truncate"],
        Op::SyncData => &["fdatasync"],
        Op::SyncDir => &["fsync directory", "settle the compaction"],
        Op::Rename => &["settle the compaction"],
        Op::ReadFile => &["read", "settle the compaction"],
        Op::RemoveFile => &["remove", "settle the compaction"],
        Op::ListDir => &["list", "settle the compaction"],
        Op::Exists => &["look for", "settle the compaction"],
        Op::WriteFile => &["create the indexes of"],
        _ => &[],
    }
}

/// Log directories to open: after a crash (preallocated tail, no marker), after a clean close
/// (marker), and after a compaction interrupted past its commit point (a swap to finish).
fn open_pristines(root: &Path, io_mode: IoMode) -> Vec<(&'static str, std::path::PathBuf)> {
    let config = log_config(io_mode, Durability::Sync);
    let crashed = root.join("crashed");
    let mut model = Model::default();
    let log = open_log(&crashed, config.clone());
    append_keyed(&log, &mut model, 60, 0);
    log.abandon();
    let clean = root.join("clean");
    let log = open_log(&clean, config.clone());
    append_keyed(&log, &mut Model::default(), 60, 0);
    log.close().expect("close");
    let swapping = root.join("swapping");
    let log = open_log(&swapping, config);
    append_keyed(&log, &mut Model::default(), COMPACTION_RECORDS, 0);
    // Past the first group's commit point (4 renames) and into its finishing steps.
    let stopped = log.compact(&CompactOptions {
        stop_after_file_operations: Some(6),
        ..compact_options()
    });
    assert!(stopped.is_err(), "the compaction stops");
    log.abandon();
    vec![
        ("crashed", crashed),
        ("clean", clean),
        ("swapping", swapping),
    ]
}

#[test]
fn a_failed_open_leaves_the_log_for_the_next_open() {
    let mut total = 0;
    for_each_io_mode(|io_mode| {
        let root = tempfile::tempdir().expect("a temporary directory");
        for (name, pristine) in open_pristines(root.path(), io_mode) {
            let config = log_config(io_mode, Durability::Sync);
            let work = root.path().join("work");
            common::copy_log_dir(&pristine, &work);
            let (shared, faulty) = Faulty::shared(&work, &shared_config(io_mode)).expect("shared");
            let log = Log::open_with(&work, config.clone(), &shared).expect("open");
            let calls = faulty.all_calls();
            let expected = contents(&log).expect("read");
            drop(log);
            drop((shared, faulty));
            for &(op, count) in &calls {
                for nth in 1..=count {
                    let fault = Fault {
                        op,
                        nth,
                        kind: FaultKind::Eio,
                    };
                    let when = format!("{} open {name} with {fault:?}", io_mode.name());
                    common::copy_log_dir(&pristine, &work);
                    let (shared, faulty) =
                        Faulty::shared(&work, &shared_config(io_mode)).expect("shared");
                    faulty.arm(fault);
                    let e =
                        Log::open_with(&work, config.clone(), &shared).expect_err("the open fails");
                    assert_eq!(faulty.fired_count(), 1, "{when}");
                    assert!(matches!(e, OpenError::Io { .. }), "{when}: {e:?}");
                    let message = e.to_string();
                    assert!(
                        open_ops(op).iter().any(|o| message.contains(o))
                            && message.contains("os error 5")
                            && message.contains(&work.display().to_string()),
                        "{when}: {message}"
                    );
                    drop((shared, faulty));
                    let log = open_log(&work, config.clone());
                    assert!(
                        contents(&log).expect("read") == expected,
                        "{when}: contents"
                    );
                    let next = log.next_offset();
                    let info = append(&log, &[keyed_row(next, 3)]).expect("append");
                    assert_eq!(info.base_offset, next, "{when}");
                    total += 1;
                }
            }
            eprintln!("{} open {name}: calls {calls:?}", io_mode.name());
        }
    });
    eprintln!("faults injected into opens: {total}");
}

// ---------------------------------------------------------------------------------------------
// Topic metadata: written to a temporary file, renamed into place, directory fsynced.

fn topic_config() -> TopicConfig {
    TopicConfig {
        durability: Durability::Sync,
        ..TopicConfig::default()
    }
}

fn manager_config(io_mode: IoMode) -> TopicManagerConfig {
    TopicManagerConfig {
        shared: shared_config(io_mode),
        ..TopicManagerConfig::default()
    }
}

/// A manager on the faulty storage.
fn faulty_manager(dir: &Path, io_mode: IoMode) -> (TopicManager, Arc<Faulty>) {
    let (shared, faulty) = Faulty::shared(dir, &shared_config(io_mode)).expect("shared");
    let manager = TopicManager::open_with_shared(dir, manager_config(io_mode), shared)
        .expect("open the manager");
    (manager, faulty)
}

/// The error of a failed metadata write: typed, naming the topic's metadata file and the OS
/// error.
fn assert_metadata_error(e: &TopicError, topic: &str, when: &str) {
    let TopicError::Io { op, path, source } = e else {
        panic!("{when}: expected TopicError::Io, got {e:?}");
    };
    assert_eq!(*op, "write topic metadata", "{when}");
    assert_eq!(source.raw_os_error(), Some(faulty::EIO), "{when}");
    assert!(
        path.ends_with(format!("{METADATA_DIR}/{topic}.json")),
        "{when}: {e}"
    );
    let message = e.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("os error 5"),
        "{when}: {message}"
    );
}

fn produce_one(manager: &TopicManager, topic: &str, value: &[u8]) -> u64 {
    let results = manager
        .produce(topic, Some(0), &[record(value)])
        .unwrap_or_else(|e| panic!("produce to {topic}: {e}"));
    results[0].base_offset
}

fn record(value: &[u8]) -> Record<'_> {
    Record {
        key: Some(b"k"),
        value: Some(value),
        timestamp_ms: 1,
        headers: &[],
    }
}

#[test]
fn a_failed_topic_metadata_write_changes_nothing() {
    for_each_io_mode(|io_mode| {
        let when = |what: &str| format!("{} {what}", io_mode.name());
        let root = tempfile::tempdir().expect("a temporary directory");
        let dir = root.path();
        let (manager, faulty) = faulty_manager(dir, io_mode);
        // Each create writes the metadata twice (`creating`, then `live`), each write one
        // rename and one directory fsync; fail each of the four calls in turn.
        let steps = [(Op::Rename, 1), (Op::Rename, 2), (Op::SyncDir, 1)];
        for (i, (op, nth)) in steps.into_iter().enumerate() {
            let topic = format!("t{i}");
            faulty.arm(Fault {
                op,
                nth,
                kind: FaultKind::Eio,
            });
            let e = manager
                .create_topic(&topic, topic_config())
                .expect_err("the create fails");
            assert_eq!(faulty.fired_count(), i + 1, "{}", when(&topic));
            assert_metadata_error(&e, &topic, &when(&format!("create {topic}")));
            assert!(!manager.list_topics().contains(&topic), "{}", when(&topic));
            manager
                .create_topic(&topic, topic_config())
                .unwrap_or_else(|e| panic!("{}: the create is retried: {e}", when(&topic)));
            assert_eq!(produce_one(&manager, &topic, b"a"), 0, "{}", when(&topic));
        }
        // A failed delete leaves the topic in place and usable.
        faulty.arm(Fault {
            op: Op::Rename,
            nth: 1,
            kind: FaultKind::Eio,
        });
        let e = manager.delete_topic("t0").expect_err("the delete fails");
        assert_metadata_error(&e, "t0", &when("delete"));
        assert!(
            manager.list_topics().contains(&"t0".to_owned()),
            "{}",
            when("delete")
        );
        assert_eq!(produce_one(&manager, "t0", b"b"), 1, "{}", when("delete"));
        manager.delete_topic("t1").expect("delete t1");
        // A topic left `creating` (its second metadata write failed, no retry) is completed
        // at open; a failure to complete it fails the open, and the next open completes it.
        faulty.arm(Fault {
            op: Op::Rename,
            nth: 2,
            kind: FaultKind::Eio,
        });
        assert!(manager.create_topic("half", topic_config()).is_err());
        manager.close().expect("close");
        drop(manager);
        let (shared, faulty) = Faulty::shared(dir, &shared_config(io_mode)).expect("shared");
        faulty.arm(Fault {
            op: Op::Rename,
            nth: 1,
            kind: FaultKind::Eio,
        });
        let e = TopicManager::open_with_shared(dir, manager_config(io_mode), shared)
            .expect_err("completing the create fails");
        assert_metadata_error(&e, "half", &when("open"));
        let manager =
            TopicManager::open(dir, manager_config(io_mode)).expect("the next open succeeds");
        assert_eq!(
            manager.list_topics(),
            ["half", "t0", "t2"].map(String::from).to_vec(),
            "{}",
            when("reopen")
        );
        assert_eq!(produce_one(&manager, "t0", b"c"), 2, "{}", when("reopen"));
        assert_eq!(produce_one(&manager, "half", b"d"), 0, "{}", when("reopen"));
    });
}
