//! Read-ahead for sequential consumers (`Config::read_ahead_depth`): fetches of a cold log
//! return every batch exactly as stored, whatever the fetch size, whether a batch lies inside
//! one read, straddles two, or is larger than a read; two consumers at different places keep
//! their own streams; a batch damaged on disk is `ReadError::Corrupt` naming the segment and
//! its position every time, never cached; a failed read-ahead read fails the fetch that needs
//! it, with the file and the OS error, and nothing else. Runs on every I/O path: only
//! io_uring reads ahead (the storage wrapper forwards its asynchronous reads), and the others
//! must return the same bytes.

mod common;
mod faulty;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Expected, append_rows, batch_spans, for_each_io_mode, patch_file};
use faulty::{Fault, FaultKind, Faulty, Op};
use ringlog::record::{BATCH_HEADER_BYTES, BatchHeader};
use ringlog::{Config, IoMode, IoPath, Log, ReadError, Shared, SharedConfig};

const SEGMENT_BYTES: u64 = 256 * 1024;

fn config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: 64 * 1024,
        // The smallest read: batches of up to about 40 KiB are inside one read, across two, or
        // larger than one.
        read_ahead_bytes: 4096,
        ..common::sync_config(io_mode)
    }
}

/// A small cache and a smaller read-ahead window, so that streams recycle their buffers and
/// ranges read ahead are evicted while the consumer goes on; or no cache at all.
fn shared_configs(io_mode: IoMode) -> [SharedConfig; 2] {
    [
        SharedConfig {
            cache_bytes: 1 << 20,
            read_ahead_cache_bytes: 128 * 1024,
            ..common::shared_config(io_mode)
        },
        SharedConfig {
            cache_bytes: 0,
            ..common::shared_config(io_mode)
        },
    ]
}

/// Batches of 1 to 12 records of 100 to about 3000 bytes: from about 150 bytes to 36 KiB.
fn varied_batches(batch_count: usize) -> Vec<Vec<Expected>> {
    let mut offset = 0;
    (0..batch_count)
        .map(|i| {
            let records = 1 + (i * 7) % 12;
            let value_bytes = 100 + (i * 1237) % 2900;
            (0..records)
                .map(|_| {
                    let row =
                        Expected::numbered(offset, 1_700_000_000_000 + offset as i64, value_bytes);
                    offset += 1;
                    row
                })
                .collect()
        })
        .collect()
}

/// Writes `batches` into a log at `dir` and closes it; returns its segment files in order.
fn write_log(dir: &Path, io_mode: IoMode, batches: &[Vec<Expected>]) -> Vec<PathBuf> {
    let log = common::open_log(dir, config(io_mode));
    for batch in batches {
        append_rows(&log, batch);
    }
    assert!(log.segment_count() >= 3, "several segments");
    log.close().expect("close");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// Every stored batch of `files`, in order: what consumers must read.
fn stored_bytes(files: &[PathBuf]) -> Vec<u8> {
    let mut out = Vec::new();
    for file in files {
        let bytes = fs::read(file).expect("read segment");
        let end = batch_spans(&bytes).last().map_or(0, |&(at, len)| at + len);
        out.extend_from_slice(&bytes[..end]);
    }
    out
}

/// The log at `dir` opened cold (a new [`Shared`], its cache empty) through the fault
/// wrapper, which forwards read-ahead's reads.
fn open_cold(
    dir: &Path,
    io_mode: IoMode,
    shared_config: &SharedConfig,
) -> (Log, Arc<Shared>, Arc<Faulty>) {
    let (shared, faulty) = Faulty::shared(dir, shared_config).expect("shared");
    faulty.forward_async_reads();
    let log = Log::open_with(dir, config(io_mode), &shared).expect("open");
    (log, shared, faulty)
}

/// One consumer: fetches from `offset` with `max_bytes`, checking that each fetch returns
/// whole batches from the one holding `offset` and says where the next starts.
struct Consumer {
    offset: u64,
    bytes: Vec<u8>,
    max_bytes: usize,
}

impl Consumer {
    fn new(max_bytes: usize) -> Self {
        Consumer {
            offset: 0,
            bytes: Vec::new(),
            max_bytes,
        }
    }

    /// One fetch; false at the end of the log.
    fn step(&mut self, log: &Log, when: &str) -> bool {
        self.try_step(log, when)
            .unwrap_or_else(|e| panic!("{when}: fetch at {}: {e}", self.offset))
    }

    /// One fetch, its error returned.
    fn try_step(&mut self, log: &Log, when: &str) -> Result<bool, ReadError> {
        if self.offset >= log.high_watermark() {
            return Ok(false);
        }
        let fetched = log.fetch(self.offset, self.max_bytes)?;
        assert!(
            !fetched.bytes.is_empty(),
            "{when}: fetch at {} is empty",
            self.offset
        );
        let next = common::check_fetched(&fetched, self.offset, when, |_| {});
        self.bytes.extend_from_slice(&fetched.bytes);
        self.offset = next;
        Ok(true)
    }
}

/// Where the batch with base offset `offset` starts in `stored` (batches in offset order).
fn byte_position(stored: &[u8], offset: u64) -> usize {
    let mut pos = 0;
    loop {
        let header = BatchHeader::parse(&stored[pos..]).expect("a batch");
        if header.base_offset as u64 == offset {
            return pos;
        }
        pos += header.total_bytes();
    }
}

#[test]
fn sequential_fetches_of_a_cold_log_return_every_batch_as_stored() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_log(dir.path(), io_mode, &varied_batches(160));
        let stored = stored_bytes(&files);
        for shared_config in shared_configs(io_mode) {
            for max_bytes in [1, 3000, 16 * 1024, 100 * 1024, 1 << 20] {
                let when = format!(
                    "{} cache {} fetch {max_bytes}",
                    io_mode.name(),
                    shared_config.cache_bytes
                );
                let (log, _shared, faulty) = open_cold(dir.path(), io_mode, &shared_config);
                let mut consumer = Consumer::new(max_bytes);
                while consumer.step(&log, &when) {}
                assert!(
                    consumer.bytes == stored,
                    "{when}: the bytes read differ from the stored ones"
                );
                let ahead = faulty.calls(Op::SubmitRead);
                if matches!(log.io_path(), IoPath::UringDirect | IoPath::UringBuffered) {
                    assert!(ahead > 0, "{when}: nothing was read ahead");
                } else {
                    assert_eq!(ahead, 0, "{when}: only io_uring reads ahead");
                }
                // Read again: from the cache where it kept them, from disk where not.
                let mut again = Consumer::new(max_bytes);
                while again.step(&log, &when) {}
                assert!(again.bytes == stored, "{when}: a second pass differs");
                log.close().expect("close");
            }
        }
    });
}

#[test]
fn two_consumers_at_different_places_each_read_every_batch() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let batches = varied_batches(160);
        let files = write_log(dir.path(), io_mode, &batches);
        let stored = stored_bytes(&files);
        // The second consumer starts at the 80th batch, the third at the start, and reads up to
        // where the second started.
        let half = batches[..80].iter().map(Vec::len).sum::<usize>() as u64;
        let half_at = byte_position(&stored, half);
        for shared_config in shared_configs(io_mode) {
            let when = format!("{} cache {}", io_mode.name(), shared_config.cache_bytes);
            let (log, _shared, _faulty) = open_cold(dir.path(), io_mode, &shared_config);
            let mut first = Consumer::new(20 * 1024);
            let mut second = Consumer::new(7000);
            second.offset = half;
            let mut third = Consumer::new(3000);
            loop {
                let a = first.step(&log, &when);
                let b = second.step(&log, &when);
                let c = third.offset < half && third.step(&log, &when);
                if !(a || b || c) {
                    break;
                }
            }
            assert!(
                first.bytes == stored,
                "{when}: the first consumer's bytes differ"
            );
            assert!(
                second.bytes == stored[half_at..],
                "{when}: the second consumer's bytes differ"
            );
            assert!(
                third.bytes.len() >= half_at && stored.starts_with(&third.bytes),
                "{when}: the third consumer's bytes differ"
            );
            log.close().expect("close");
        }
    });
}

#[test]
fn a_damaged_batch_met_by_a_sequential_consumer_is_corrupt_every_time() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let batches = varied_batches(160);
        if common::io_mode_allows(io_mode, IoPath::Mmap) {
            // The mmap path serves the mapping's bytes as stored, as Kafka does
            // (`reads_check_crc_from_disk.rs` covers its point reads).
            return;
        }
        let files = write_log(dir.path(), io_mode, &batches);
        let path = files[0].clone();
        let spans = batch_spans(&fs::read(&path).expect("read"));
        // Damage a batch in the middle of the first (sealed) segment, after a clean close: no
        // recovery scan looks at it.
        let damaged = spans.len() / 2;
        let (damaged_at, damaged_bytes) = spans[damaged];
        let at = damaged_at + BATCH_HEADER_BYTES + (damaged_bytes - BATCH_HEADER_BYTES) / 2;
        let byte = fs::read(&path).expect("read")[at];
        patch_file(&path, at, &[byte ^ 0x40]);
        let first = batches[..damaged].iter().map(Vec::len).sum::<usize>() as u64;
        let after = first + batches[damaged].len() as u64;
        for shared_config in shared_configs(io_mode) {
            for max_bytes in [1, 3000, 16 * 1024, 1 << 20] {
                let when = format!(
                    "{} cache {} fetch {max_bytes}",
                    io_mode.name(),
                    shared_config.cache_bytes
                );
                let (log, _shared, _faulty) = open_cold(dir.path(), io_mode, &shared_config);
                let mut consumer = Consumer::new(max_bytes);
                while consumer.offset < first {
                    assert!(consumer.step(&log, &when), "{when}: the log ends early");
                }
                assert_eq!(
                    consumer.offset, first,
                    "{when}: the fetches stop at the damaged batch"
                );
                for _ in 0..2 {
                    common::assert_crc_mismatch(
                        log.fetch(first, max_bytes),
                        &path,
                        damaged_at,
                        &when,
                    );
                }
                common::assert_crc_mismatch(log.read_record(first), &path, damaged_at, &when);
                consumer.offset = after;
                while consumer.step(&log, &when) {}
                log.close().expect("close");
            }
        }
    });
}

#[test]
fn a_failed_read_ahead_read_fails_the_fetch_that_needs_it_and_nothing_else() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_log(dir.path(), io_mode, &varied_batches(160));
        let stored = stored_bytes(&files);
        let shared_config = &shared_configs(io_mode)[0];
        let (log, _shared, faulty) = open_cold(dir.path(), io_mode, shared_config);
        if !matches!(log.io_path(), IoPath::UringDirect | IoPath::UringBuffered) {
            return;
        }
        let when = io_mode.name().to_string();
        // Reads of 64 KiB, larger than any batch: every read submitted is consumed.
        let mut consumer = Consumer::new(64 * 1024);
        // A few fetches in: reads are in flight ahead of the consumer.
        for _ in 0..4 {
            assert!(consumer.step(&log, &when));
        }
        // The next read submitted fails; the fetch that reaches its bytes reports it.
        faulty.arm(Fault {
            op: Op::SubmitRead,
            nth: 1,
            kind: FaultKind::Eio,
        });
        let failed = loop {
            match consumer.try_step(&log, &when) {
                Ok(true) => {}
                Ok(false) => break None,
                Err(e) => break Some(e),
            }
        };
        let e = failed.expect("a fetch reports the failed read");
        assert_eq!(faulty.fired_count(), 1, "{when}");
        let ReadError::Io { op, path, source } = &e else {
            panic!("{when}: expected ReadError::Io, got {e:?}");
        };
        assert_eq!(
            (*op, source.raw_os_error()),
            ("read", Some(faulty::EIO)),
            "{when}"
        );
        assert!(
            files.contains(path),
            "{when}: {} is not a segment",
            path.display()
        );
        assert!(
            log.poisoned().is_none(),
            "{when}: a failed read poisons the log"
        );
        // The same fetch succeeds next, and the consumer reads on to the end.
        while consumer.step(&log, &when) {}
        assert!(
            consumer.bytes == stored,
            "{when}: the bytes read differ from the stored ones"
        );
        log.close().expect("close");
    });
}
