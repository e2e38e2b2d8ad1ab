//! Model test: random operation sequences (appends of small and chunk-sized records, fetches,
//! record reads, flushes, clean reopens, crash reopens, idle periods that let the background
//! flusher release the tail) run against a `Vec` of the records appended, over every
//! combination of durability, buffer size, cache size, I/O path (every one in
//! `IoMode::PATHS`) and segment size.
//!
//! Pipelined appends take part: `Log::submit` and `Log::submit_batch` keep up to
//! [`MAX_IN_FLIGHT`] handles in flight, which later operations wait for (from the thread, or
//! polled as a future), in any order, or drop. The model checks the offsets each submission is
//! given at once; that a handle resolves to them, with the high watermark past them and the
//! records readable; that acknowledgements come in offset order (once one handle resolves, every
//! handle before it is ready); that the high watermark stays between what was acknowledged and
//! what was submitted, at a batch boundary; that a clean close makes every submitted record
//! durable (handles waited after it resolve, and the reopened log holds everything); and that a
//! crash keeps every record whose handle resolved and an intact prefix of the rest.
//!
//! Cases per configuration: `PROPTEST_CASES` (default 1; there are 12 configurations per I/O
//! path and durability). A failure prints the configuration, the RNG seed and the shrunk
//! operation list; rerun one seed with `RINGLOG_MODEL_SEED=<hex>`.
//! Failures are not persisted to files (nothing is written into the source tree).

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestError, TestRng, TestRunner,
};
use ringlog::config::DEFAULT_WRITE_CHUNK_BYTES;
use ringlog::record::{
    BatchError, BatchLimits, BatchOptions, Header, Record, encode_batch, encoded_batch_bytes,
    records, validate_batch,
};
use ringlog::{
    AppendError, AppendHandle, AppendInfo, CLEAN_SHUTDOWN_FILE, Config, Durability, IoMode, Log,
    Shared, SharedConfig,
};

/// Cases per configuration unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 1;
/// Longest operation sequence of one case.
const MAX_OPS: usize = 32;
/// Pipelined appends a case keeps in flight at most: a submission beyond it waits for the
/// oldest first, as a producer with `max.in.flight.requests.per.connection` does.
const MAX_IN_FLIGHT: usize = 8;
/// Segment size of the "small segments" configurations: a few batches per segment.
const SMALL_SEGMENT_BYTES: u64 = 32 * 1024;
/// Buffer (chunk) size of the "small buffers" configurations: batches straddle chunks.
const SMALL_BUFFER_BYTES: usize = 4096;
/// Cache sizes tried: none at all (every read of written data goes to disk), tiny (constant
/// eviction), and the default.
const CACHE_SIZES: [usize; 3] = [0, 64 * 1024, ringlog::config::DEFAULT_CACHE_BYTES];
/// Flush interval of every configuration: short, so the background flusher runs during cases.
const FLUSH_INTERVAL_MS: u64 = 10;

#[derive(Clone, Copy, Debug)]
struct Setup {
    durability: Durability,
    io_mode: IoMode,
    buffer_bytes: usize,
    cache_bytes: usize,
    segment_bytes: u64,
}

impl Setup {
    fn max_batch_bytes(&self) -> usize {
        ringlog::config::DEFAULT_MAX_BATCH_BYTES.min(self.segment_bytes as usize)
    }

    fn config(&self) -> Config {
        Config {
            durability: self.durability,
            segment_bytes: self.segment_bytes,
            max_batch_bytes: self.max_batch_bytes(),
            io_mode: self.io_mode,
            flush_interval_ms: Some(FLUSH_INTERVAL_MS),
            // Small buffers go with small read-ahead, so a batch often spans several reads.
            read_ahead_bytes: self.buffer_bytes,
            index_interval_bytes: 1024,
            // Records carry any i64 timestamp, which must round-trip; the window that refuses
            // far-future ones is tested in append_refuses_timestamps_outside_window.rs.
            timestamp_after_max_ms: u64::MAX,
            ..Config::default()
        }
    }

    fn shared_config(&self) -> SharedConfig {
        SharedConfig {
            io_mode: self.io_mode,
            buffer_bytes: self.buffer_bytes,
            cache_bytes: self.cache_bytes,
            ..SharedConfig::default()
        }
    }
}

/// Bytes of a key, value or header value: `len` bytes derived from `seed`.
#[derive(Clone, Copy, Debug)]
struct Blob {
    len: usize,
    seed: u8,
}

impl Blob {
    fn bytes(self) -> Vec<u8> {
        (0..self.len)
            .map(|i| self.seed.wrapping_add((i % 251) as u8).wrapping_mul(7))
            .collect()
    }
}

#[derive(Clone, Debug)]
struct RecordSpec {
    key: Option<Blob>,
    value: Option<Blob>,
    timestamp_ms: i64,
    headers: Vec<(u8, Option<Blob>)>,
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<RecordSpec>),
    /// A pipelined append (`Log::submit`): the handle is kept in flight.
    Submit(Vec<RecordSpec>),
    /// A pipelined append of an encoded batch (`Log::submit_batch`).
    SubmitBatch(Vec<RecordSpec>),
    /// Waits for the in-flight handle at `pick` (scaled to those in flight), from the thread
    /// or, with `future`, polled as a future by a thread-parking executor.
    Wait {
        pick: u16,
        future: bool,
    },
    /// Drops the in-flight handle at `pick` without waiting: its records stay in the log.
    DropHandle {
        pick: u16,
    },
    /// One record whose value is `extra` bytes longer than a buffer (capped by the batch limit).
    AppendLarge {
        extra: usize,
        seed: u8,
    },
    /// Fetch at `at` (scaled to `0..=next_offset`) with a byte budget.
    Fetch {
        at: u16,
        max_bytes: usize,
    },
    ReadRecords {
        at: u16,
        max_bytes: usize,
    },
    /// `Log::read_record` at `at` (scaled to `0..=next_offset`), checked against the model
    /// and against the record a fetch of its batch decodes.
    ReadRecord {
        at: u16,
    },
    Flush,
    /// Clean close and open again.
    Reopen,
    /// Unclean shutdown, then open (recovery scan of the last segment).
    Crash,
    /// Wait past the flush interval so the flusher writes the tail and gives its buffer back.
    Idle,
}

/// A record as the model keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Owned {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp_ms: i64,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Owned {
    fn from_spec(spec: &RecordSpec) -> Self {
        Owned {
            key: spec.key.map(Blob::bytes),
            value: spec.value.map(Blob::bytes),
            timestamp_ms: spec.timestamp_ms,
            headers: spec
                .headers
                .iter()
                .map(|(k, v)| (format!("h{k}"), v.map(Blob::bytes)))
                .collect(),
        }
    }
}

/// What the log must hold: every record, and the base offset of the batch holding it.
#[derive(Default)]
struct Model {
    records: Vec<Owned>,
    batch_base: Vec<u64>,
    batch_bases: BTreeSet<u64>,
    /// Every offset below this is acknowledged: by a blocking append, a flush, a resolved
    /// handle (acknowledgements come in offset order) or a clean close.
    acked_end: u64,
}

impl Model {
    fn len(&self) -> u64 {
        self.records.len() as u64
    }

    /// Whether `offset` is where a batch starts or the log ends.
    fn is_boundary(&self, offset: u64) -> bool {
        offset == self.len() || self.batch_bases.contains(&offset)
    }

    /// Forgets everything from `end` on (a crash lost it).
    fn truncate(&mut self, end: u64) {
        self.records.truncate(end as usize);
        self.batch_base.truncate(end as usize);
        self.batch_bases.split_off(&end);
        self.acked_end = self.acked_end.min(end);
    }

    fn push_batch(&mut self, batch: Vec<Owned>) {
        let base = self.len();
        self.batch_bases.insert(base);
        for record in batch {
            self.records.push(record);
            self.batch_base.push(base);
        }
    }
}

/// Mostly short (below `max_len / 16`), sometimes up to `max_len`.
fn blob(max_len: usize) -> impl Strategy<Value = Blob> {
    let len = prop_oneof![8 => 0..=max_len / 16, 2 => 0..=max_len];
    (len, any::<u8>()).prop_map(|(len, seed)| Blob { len, seed })
}

fn record_spec() -> impl Strategy<Value = RecordSpec> {
    let timestamp = prop_oneof![
        8 => 1_600_000_000_000i64..1_700_000_000_000,
        1 => Just(-1i64),
        1 => any::<i64>(),
    ];
    let header = (0u8..4, proptest::option::weighted(0.8, blob(40)));
    (
        proptest::option::weighted(0.8, blob(3000)),
        proptest::option::weighted(0.9, blob(3000)),
        timestamp,
        proptest::collection::vec(header, 0..3),
    )
        .prop_map(|(key, value, timestamp_ms, headers)| RecordSpec {
            key,
            value,
            timestamp_ms,
            headers,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(record_spec(), 1..20).prop_map(Op::Append),
        6 => proptest::collection::vec(record_spec(), 1..10).prop_map(Op::Submit),
        3 => proptest::collection::vec(record_spec(), 1..10).prop_map(Op::SubmitBatch),
        5 => (any::<u16>(), proptest::bool::weighted(0.3))
            .prop_map(|(pick, future)| Op::Wait { pick, future }),
        1 => any::<u16>().prop_map(|pick| Op::DropHandle { pick }),
        2 => (0..20_000usize, any::<u8>()).prop_map(|(extra, seed)| Op::AppendLarge { extra, seed }),
        5 => (any::<u16>(), 1..200_000usize).prop_map(|(at, max_bytes)| Op::Fetch { at, max_bytes }),
        3 => (any::<u16>(), 1..200_000usize)
            .prop_map(|(at, max_bytes)| Op::ReadRecords { at, max_bytes }),
        4 => any::<u16>().prop_map(|at| Op::ReadRecord { at }),
        1 => Just(Op::Flush),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
        1 => Just(Op::Idle),
    ]
}

/// How long a pending append future may wait for its wake-up before the case fails.
const FUTURE_TIMEOUT: Duration = Duration::from_secs(10);

/// Wakes the executor's thread and notes that it did, so a future that is never woken is told
/// apart from one that is slow.
struct Unpark {
    thread: std::thread::Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// A minimal executor: polls `future` on this thread, parking between polls until woken.
/// `None` when a pending poll was not woken within [`FUTURE_TIMEOUT`].
fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let unpark = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let deadline = Instant::now() + FUTURE_TIMEOUT;
        while !unpark.woken.swap(false, Ordering::AcqRel) {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::park_timeout(deadline - now);
        }
    }
}

/// How an append reaches the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// `Log::append`: returns once durable.
    Append,
    /// `Log::submit`: a handle kept in flight.
    Submit,
    /// `Log::submit_batch` of the batch encoded by the test.
    SubmitBatch,
}

/// A pipelined append not yet waited for, with the offsets it was given at submission.
struct InFlight {
    handle: AppendHandle,
    info: AppendInfo,
}

/// Whether a record's timestamp lies beyond `i64` from the first one's: the encoder wraps the
/// delta (and reading it back wraps again), but a producer's batch like that is refused.
fn delta_overflows(batch: &[Owned]) -> bool {
    let base = batch[0].timestamp_ms;
    batch.iter().any(|r| {
        base.checked_add(r.timestamp_ms.wrapping_sub(base))
            .is_none()
    })
}

/// `at` scaled to `0..=end`.
fn scale(at: u16, end: u64) -> u64 {
    (u64::from(at) * (end + 1)) >> 16
}

/// Calls `f` with `batch` as [`Record`]s borrowing its bytes.
fn with_records<T>(batch: &[Owned], f: impl FnOnce(&[Record<'_>]) -> T) -> T {
    let header_keys: Vec<Vec<Header<'_>>> = batch
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .map(|(k, v)| Header {
                    key: k,
                    value: v.as_deref(),
                })
                .collect()
        })
        .collect();
    let records: Vec<Record<'_>> = batch
        .iter()
        .zip(&header_keys)
        .map(|(r, headers)| Record {
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            timestamp_ms: r.timestamp_ms,
            headers,
        })
        .collect();
    f(&records)
}

/// One case: the log, its shared resources, the model and the appends in flight.
struct Harness<'a> {
    setup: Setup,
    dir: &'a Path,
    shared: Arc<Shared>,
    log: Option<Log>,
    model: Model,
    in_flight: Vec<InFlight>,
}

type Outcome = Result<(), TestCaseError>;

impl Harness<'_> {
    fn log(&self) -> &Log {
        self.log
            .as_ref()
            .expect("the log is open between operations")
    }

    /// Opens the log; it must hold every record of the model.
    fn open(&mut self) -> Outcome {
        self.open_any()?;
        prop_assert_eq!(
            self.log().next_offset(),
            self.model.len(),
            "next_offset after open"
        );
        Ok(())
    }

    /// Opens the log after a crash: it holds every acknowledged record and an intact prefix of
    /// the rest, ending at a batch boundary; the model forgets what was lost.
    fn open_after_crash(&mut self) -> Outcome {
        self.open_any()?;
        let recovered = self.log().next_offset();
        prop_assert!(
            recovered >= self.model.acked_end && recovered <= self.model.len(),
            "recovered up to {} after a crash, but {} were acknowledged and {} submitted",
            recovered,
            self.model.acked_end,
            self.model.len()
        );
        prop_assert!(
            self.model.is_boundary(recovered),
            "recovery ended at {}, inside a batch",
            recovered
        );
        self.model.truncate(recovered);
        Ok(())
    }

    fn open_any(&mut self) -> Outcome {
        let log = Log::open_with(self.dir, self.setup.config(), &self.shared)
            .map_err(|e| TestCaseError::fail(format!("open failed: {e}")))?;
        prop_assert!(
            common::io_mode_allows(self.setup.io_mode, log.io_path()),
            "io mode {} runs on {}",
            self.setup.io_mode.name(),
            log.io_path()
        );
        prop_assert_eq!(log.start_offset(), 0, "start_offset after open");
        // What a reopened log holds was made durable by the close or found by recovery.
        self.model.acked_end = log.next_offset();
        self.log = Some(log);
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let own = |specs: &[RecordSpec]| specs.iter().map(Owned::from_spec).collect();
        match op {
            Op::Append(specs) => self.append(own(specs), Via::Append),
            Op::Submit(specs) => self.append(own(specs), Via::Submit),
            Op::SubmitBatch(specs) => self.append(own(specs), Via::SubmitBatch),
            Op::Wait { pick, future } => match self.pick(*pick) {
                Some(index) => self.wait(index, *future),
                None => Ok(()),
            },
            Op::DropHandle { pick } => {
                if let Some(index) = self.pick(*pick) {
                    drop(self.in_flight.remove(index));
                }
                Ok(())
            }
            Op::AppendLarge { extra, seed } => {
                let limit = self.setup.max_batch_bytes() - 200;
                let len = (self.setup.buffer_bytes + extra).min(limit);
                let large = Owned {
                    key: Some(b"large".to_vec()),
                    value: Some(Blob { len, seed: *seed }.bytes()),
                    timestamp_ms: 1_650_000_000_000,
                    headers: Vec::new(),
                };
                self.append(vec![large], Via::Append)
            }
            Op::Fetch { at, max_bytes } => {
                let at = scale(*at, self.log().high_watermark());
                self.check_fetch(at, *max_bytes)
            }
            Op::ReadRecords { at, max_bytes } => self.check_read_records(*at, *max_bytes),
            Op::ReadRecord { at } => self.check_read_record(*at),
            Op::Flush => {
                self.log()
                    .flush()
                    .map_err(|e| TestCaseError::fail(format!("flush failed: {e}")))?;
                prop_assert_eq!(
                    self.log().high_watermark(),
                    self.model.len(),
                    "high watermark after a flush"
                );
                self.acknowledged(self.model.len())
            }
            Op::Reopen => self.reopen(),
            Op::Crash => {
                self.crash()?;
                self.open_after_crash()?;
                self.check_all()
            }
            Op::Idle => {
                std::thread::sleep(Duration::from_millis(FLUSH_INTERVAL_MS * 6));
                Ok(())
            }
        }
    }

    /// The index of the in-flight handle `pick` names, if any is in flight.
    fn pick(&self, pick: u16) -> Option<usize> {
        let count = self.in_flight.len();
        (count > 0).then(|| (usize::from(pick) * count) >> 16)
    }

    /// Clean close with handles in flight: the close makes every submitted record durable, so
    /// each handle resolves after it (waited on or polled), and the reopened log holds them all.
    fn reopen(&mut self) -> Outcome {
        let log = self.log.take().expect("open");
        log.close()
            .map_err(|e| TestCaseError::fail(format!("close failed: {e}")))?;
        for (k, InFlight { handle, info }) in
            std::mem::take(&mut self.in_flight).into_iter().enumerate()
        {
            let result = if k % 2 == 0 {
                handle.wait()
            } else {
                block_on(handle).ok_or_else(|| {
                    TestCaseError::fail(format!("future of {info:?} pending after close"))
                })?
            };
            let got = result.map_err(|e| {
                TestCaseError::fail(format!("handle of {info:?} failed after close: {e}"))
            })?;
            prop_assert_eq!(got, info, "a handle resolves to its offsets after close");
        }
        drop(log);
        self.open()?;
        self.check_all()
    }

    /// Waits for the in-flight handle at `index`: it resolves to the offsets it was given, the
    /// high watermark covers them, every handle before it is ready, and its batch reads back.
    fn wait(&mut self, index: usize, future: bool) -> Outcome {
        let InFlight { handle, info } = self.in_flight.remove(index);
        let result = if future {
            block_on(handle).ok_or_else(|| {
                TestCaseError::fail(format!(
                    "the future of {info:?} was not woken within {FUTURE_TIMEOUT:?}"
                ))
            })?
        } else {
            handle.wait()
        };
        let got = result
            .map_err(|e| TestCaseError::fail(format!("the handle of {info:?} failed: {e}")))?;
        prop_assert_eq!(
            got,
            info,
            "a handle resolves to the offsets of its submission"
        );
        self.acknowledged(info.last_offset + 1)?;
        self.check_fetch(info.base_offset, 1)
    }

    /// Everything below `end` was acknowledged: the high watermark covers it, and every handle
    /// in flight below it is ready with its own offsets (acknowledgements in offset order).
    fn acknowledged(&mut self, end: u64) -> Outcome {
        self.model.acked_end = self.model.acked_end.max(end);
        let acked = self.model.acked_end;
        let hw = self.log().high_watermark();
        prop_assert!(
            hw >= acked,
            "high watermark {} below the acknowledged {}",
            hw,
            acked
        );
        let mut cx = Context::from_waker(Waker::noop());
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].info.last_offset >= acked {
                i += 1;
                continue;
            }
            let InFlight { mut handle, info } = self.in_flight.remove(i);
            match Pin::new(&mut handle).poll(&mut cx) {
                Poll::Ready(Ok(got)) => prop_assert_eq!(got, info, "offsets of a ready handle"),
                other => prop_assert!(
                    false,
                    "the handle of {:?}, below the acknowledged {}, is not ready: {:?}",
                    info,
                    acked,
                    other
                ),
            }
        }
        Ok(())
    }

    /// Leaves the log as a crash of the process would. The producer dies with it: handles in
    /// flight are dropped unresolved. With `Write` and `Sync`, every acknowledged batch has
    /// been written, so the log object is leaked (no close, no marker) and its files are
    /// recovered as they are. With `None` unwritten data would be lost, so the log is closed
    /// and the clean-shutdown marker removed, forcing a recovery scan.
    fn crash(&mut self) -> Outcome {
        self.in_flight.clear();
        let log = self.log.take().expect("open");
        if self.setup.durability == Durability::None {
            log.close()
                .map_err(|e| TestCaseError::fail(format!("close failed: {e}")))?;
            drop(log);
            std::fs::remove_file(self.dir.join(CLEAN_SHUTDOWN_FILE))
                .map_err(|e| TestCaseError::fail(format!("remove marker: {e}")))?;
        } else {
            log.abandon();
            prop_assert!(
                !self.dir.join(CLEAN_SHUTDOWN_FILE).exists(),
                "an open log has no clean-shutdown marker"
            );
        }
        Ok(())
    }

    /// Appends `batch` by `via`; a pipelined append beyond [`MAX_IN_FLIGHT`] waits for the
    /// oldest first.
    fn append(&mut self, batch: Vec<Owned>, via: Via) -> Outcome {
        if via != Via::Append && self.in_flight.len() >= MAX_IN_FLIGHT {
            self.wait(0, false)?;
        }
        let log = self.log();
        let (size, result) = with_records(&batch, |records| {
            let size = encoded_batch_bytes(records).expect("model records are encodable");
            let result = match via {
                Via::Append => log.append(records).map(|info| (info, None)),
                Via::Submit => log.submit(records).map(|h| (h.offsets(), Some(h))),
                Via::SubmitBatch => {
                    let mut bytes = vec![0; size];
                    encode_batch(&mut bytes, 0, records, &BatchOptions::default())
                        .expect("the destination is sized");
                    log.submit_batch(&bytes).map(|h| (h.offsets(), Some(h)))
                }
            };
            (size, result)
        });
        if via == Via::SubmitBatch && delta_overflows(&batch) {
            prop_assert!(
                matches!(
                    result,
                    Err(AppendError::InvalidBatch(
                        BatchError::TimestampOverflow { .. }
                    ))
                ),
                "a producer batch whose timestamp deltas overflow gave {:?}",
                result.map(|(info, _)| info)
            );
            return Ok(());
        }
        if size > self.setup.max_batch_bytes() {
            prop_assert!(
                matches!(result, Err(AppendError::TooLarge { .. })),
                "a batch of {} bytes over max_batch_bytes {} gave {:?}",
                size,
                self.setup.max_batch_bytes(),
                result.map(|(info, _)| info)
            );
            return Ok(());
        }
        let (info, handle) =
            result.map_err(|e| TestCaseError::fail(format!("append ({via:?}) failed: {e}")))?;
        let base = self.model.len();
        prop_assert_eq!(info.base_offset, base, "base offset of the append");
        prop_assert_eq!(
            info.last_offset,
            base + batch.len() as u64 - 1,
            "last offset"
        );
        self.model.push_batch(batch);
        prop_assert_eq!(self.log().next_offset(), self.model.len(), "next_offset");
        match handle {
            Some(handle) => self.in_flight.push(InFlight { handle, info }),
            None => self.acknowledged(info.last_offset + 1)?,
        }
        Ok(())
    }

    /// A high watermark the log reported: between what was acknowledged and what was
    /// submitted, at a batch boundary.
    fn check_watermark(&self, hw: u64) -> Outcome {
        prop_assert!(
            hw >= self.model.acked_end && hw <= self.model.len(),
            "high watermark {} outside [acknowledged {}, submitted {}]",
            hw,
            self.model.acked_end,
            self.model.len()
        );
        prop_assert!(
            self.model.is_boundary(hw),
            "high watermark {} inside a batch",
            hw
        );
        Ok(())
    }

    /// Fetches at `offset` and checks the batches against the model; returns the next offset.
    /// `offset` must be at most a high watermark seen before: the fetch serves the records below
    /// the one it reports, and nothing past it.
    fn check_fetch_at(&self, offset: u64, max_bytes: usize) -> Result<u64, TestCaseError> {
        let fetched = self
            .log()
            .fetch(offset, max_bytes)
            .map_err(|e| TestCaseError::fail(format!("fetch({offset}, {max_bytes}): {e}")))?;
        let end = fetched.high_watermark;
        self.check_watermark(end)?;
        prop_assert!(
            offset <= end,
            "fetch({}) reported high watermark {}, lower than one seen before",
            offset,
            end
        );
        if offset == end {
            prop_assert!(fetched.bytes.is_empty(), "fetch at the end returned bytes");
            prop_assert_eq!(fetched.next_fetch_offset, end);
            return Ok(end);
        }
        prop_assert!(
            !fetched.bytes.is_empty(),
            "fetch({}) inside the log returned nothing",
            offset
        );
        let limits = BatchLimits {
            max_batch_bytes: self.setup.max_batch_bytes(),
            require_contiguous_offsets: true,
        };
        let mut rest = &fetched.bytes[..];
        let mut expected_base = self.model.batch_base[offset as usize];
        let mut batch_count = 0;
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).map_err(|e| {
                TestCaseError::fail(format!(
                    "fetch({offset}, {max_bytes}): batch {batch_count} (base {expected_base}) is invalid: {e}"
                ))
            })?;
            prop_assert_eq!(
                header.base_offset as u64,
                expected_base,
                "batch {} base",
                batch_count
            );
            let (batch, tail) = rest.split_at(header.total_bytes());
            rest = tail;
            let mut next = expected_base;
            for record in records(batch).map_err(|e| TestCaseError::fail(e.to_string()))? {
                let record = record.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(record.offset as u64, next, "offsets within a batch");
                prop_assert!(next < end, "record {} past the log end {}", next, end);
                self.check_record(next, &record)?;
                next += 1;
            }
            prop_assert_eq!(
                next - 1,
                header.last_offset() as u64,
                "last offset of batch"
            );
            prop_assert!(
                self.model.is_boundary(next),
                "batch ending at {} does not end where the appended batch ended",
                next
            );
            expected_base = next;
            batch_count += 1;
        }
        prop_assert_eq!(
            fetched.next_fetch_offset,
            expected_base,
            "next_fetch_offset"
        );
        prop_assert!(
            batch_count == 1 || fetched.bytes.len() <= max_bytes,
            "{} batches of {} bytes exceed max_bytes {}",
            batch_count,
            fetched.bytes.len(),
            max_bytes
        );
        Ok(expected_base)
    }

    fn check_record(&self, offset: u64, got: &ringlog::record::RecordView<'_>) -> Outcome {
        let want = &self.model.records[offset as usize];
        prop_assert_eq!(got.key, want.key.as_deref(), "key of {}", offset);
        prop_assert!(
            got.value == want.value.as_deref(),
            "value of {} differs",
            offset
        );
        prop_assert_eq!(
            got.timestamp_ms,
            want.timestamp_ms,
            "timestamp of {}",
            offset
        );
        let headers: Vec<(String, Option<Vec<u8>>)> = got
            .headers()
            .map(|h| h.map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&headers, &want.headers, "headers of {}", offset);
        Ok(())
    }

    fn check_fetch(&self, offset: u64, max_bytes: usize) -> Outcome {
        self.check_fetch_at(offset, max_bytes).map(drop)
    }

    /// Reads records at `at` scaled to `0..=` the high watermark: only records below the high
    /// watermark come back.
    fn check_read_records(&self, at: u16, max_bytes: usize) -> Outcome {
        let hw_before = self.log().high_watermark();
        let offset = scale(at, hw_before);
        let got = self
            .log()
            .read_records(offset, max_bytes)
            .map_err(|e| TestCaseError::fail(format!("read_records({offset}): {e}")))?;
        let hw_after = self.log().high_watermark();
        self.check_watermark(hw_after)?;
        if offset == self.model.len() {
            prop_assert!(got.is_empty(), "read_records at the end returned records");
            return Ok(());
        }
        prop_assert!(
            !got.is_empty() || offset == hw_before,
            "read_records({}) below the high watermark {} returned nothing",
            offset,
            hw_before
        );
        for (i, record) in got.iter().enumerate() {
            let at = offset + i as u64;
            prop_assert!(
                at < hw_after,
                "read_records({}) returned offset {}, not below the high watermark {}",
                offset,
                at,
                hw_after
            );
            prop_assert_eq!(
                record.offset,
                at,
                "read_records offsets are contiguous from {}",
                offset
            );
            let want = &self.model.records[at as usize];
            prop_assert_eq!(record.key.as_deref(), want.key.as_deref(), "key of {}", at);
            prop_assert!(
                record.value.as_deref() == want.value.as_deref(),
                "value of {}",
                at
            );
            prop_assert_eq!(
                record.timestamp_ms,
                want.timestamp_ms,
                "timestamp of {}",
                at
            );
            let headers: Vec<(String, Option<Vec<u8>>)> = record
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|v| v.to_vec())))
                .collect();
            prop_assert_eq!(&headers, &want.headers, "headers of {}", at);
        }
        Ok(())
    }

    /// One `read_record`: below the high watermark it returns the model's record, the same one
    /// `read_records` of its batch decodes; at or past it, nothing.
    fn check_read_record(&self, at: u16) -> Outcome {
        let hw_before = self.log().high_watermark();
        let offset = scale(at, hw_before);
        let got = self
            .log()
            .read_record(offset)
            .map_err(|e| TestCaseError::fail(format!("read_record({offset}): {e}")))?;
        let hw_after = self.log().high_watermark();
        self.check_watermark(hw_after)?;
        let Some(record) = got else {
            prop_assert!(
                offset >= hw_before,
                "read_record({}) below the high watermark {} returned nothing",
                offset,
                hw_before
            );
            return Ok(());
        };
        prop_assert!(
            offset < hw_after,
            "read_record({}) returned a record not below the high watermark {}",
            offset,
            hw_after
        );
        prop_assert_eq!(record.offset(), offset);
        let want = &self.model.records[offset as usize];
        prop_assert_eq!(record.key(), want.key.as_deref(), "key of {}", offset);
        prop_assert!(
            record.value() == want.value.as_deref(),
            "value of {}",
            offset
        );
        prop_assert_eq!(
            record.timestamp_ms(),
            want.timestamp_ms,
            "timestamp of {}",
            offset
        );
        let headers: Vec<(String, Option<Vec<u8>>)> = record
            .headers()
            .map(|h| h.map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("headers of {offset}: {e}")))?;
        prop_assert_eq!(&headers, &want.headers, "headers of {}", offset);
        let fetched = self
            .log()
            .read_records(offset, 1)
            .map_err(|e| TestCaseError::fail(format!("read_records({offset}, 1): {e}")))?;
        let first = fetched.first().map(|r| (r.offset, r.value.as_deref()));
        prop_assert_eq!(
            first,
            Some((offset, record.value())),
            "read_record and a fetch of its batch agree at {}",
            offset
        );
        Ok(())
    }

    /// Reads the whole log twice, one batch at a time and in large fetches, and checks the
    /// segment layout.
    fn check_all(&self) -> Outcome {
        let end = self.log().high_watermark();
        self.check_watermark(end)?;
        for max_bytes in [1, 150_000] {
            let mut offset = 0;
            while offset < end {
                let next = self.check_fetch_at(offset, max_bytes)?;
                prop_assert!(next > offset, "fetch({}) made no progress", offset);
                offset = next;
            }
        }
        let log = self.log();
        prop_assert_eq!(log.next_offset(), self.model.len());
        for base in log.segment_base_offsets() {
            prop_assert!(
                base == self.model.len() || self.model.batch_bases.contains(&base),
                "segment base {} is not a batch boundary",
                base
            );
        }
        Ok(())
    }
}

fn run_case(setup: Setup, ops: &[Op]) -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let shared = Shared::new(dir.path(), &setup.shared_config())
        .map_err(|e| TestCaseError::fail(format!("shared: {e}")))?;
    let mut harness = Harness {
        setup,
        dir: dir.path(),
        shared,
        log: None,
        model: Model::default(),
        in_flight: Vec::new(),
    };
    harness.open()?;
    for (i, op) in ops.iter().enumerate() {
        harness
            .apply(op)
            .map_err(|e| TestCaseError::fail(format!("op {i} {op:?}: {e}")))?;
    }
    // The handles still in flight, newest first: each resolves, and covers the older ones.
    while let Some(last) = harness.in_flight.len().checked_sub(1) {
        harness
            .wait(last, false)
            .map_err(|e| TestCaseError::fail(format!("final wait: {e}")))?;
    }
    harness.check_all()?;
    let log = harness.log.take().expect("open");
    log.close()
        .map_err(|e| TestCaseError::fail(format!("final close failed: {e}")))?;
    Ok(())
}

fn setups(durability: Durability) -> Vec<Setup> {
    let mut out = Vec::new();
    for &io_mode in IoMode::PATHS {
        for buffer_bytes in [SMALL_BUFFER_BYTES, DEFAULT_WRITE_CHUNK_BYTES] {
            for cache_bytes in CACHE_SIZES {
                for segment_bytes in [SMALL_SEGMENT_BYTES, ringlog::config::DEFAULT_SEGMENT_BYTES] {
                    out.push(Setup {
                        durability,
                        io_mode,
                        buffer_bytes,
                        cache_bytes,
                        segment_bytes,
                    });
                }
            }
        }
    }
    out
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

fn run_model(durability: Durability) {
    let seed = seed();
    let seed_hex = seed.iter().fold(String::new(), |mut hex, b| {
        write!(hex, "{b:02x}").expect("writing to a String cannot fail");
        hex
    });
    for setup in setups(durability) {
        let config = ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            max_shrink_iters: 200,
            ..ProptestConfig::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let strategy = proptest::collection::vec(op(), 1..MAX_OPS);
        match runner.run(&strategy, |ops| run_case(setup, &ops)) {
            Ok(()) => {}
            Err(TestError::Fail(reason, ops)) => panic!(
                "model test failed\n  setup: {setup:?}\n  seed: RINGLOG_MODEL_SEED={seed_hex}\n  \
                 reason: {reason}\n  minimal ops: {ops:#?}"
            ),
            Err(e) => panic!("model test aborted (setup {setup:?}, seed {seed_hex}): {e}"),
        }
    }
}

#[test]
fn model_durability_none() {
    run_model(Durability::None);
}

#[test]
fn model_durability_write() {
    run_model(Durability::Write);
}

#[test]
fn model_durability_sync() {
    run_model(Durability::Sync);
}
