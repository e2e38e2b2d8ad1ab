//! Short reads and writes behind the `Storage` seam (`halving::Halving`: every read returns at
//! most half of what it asked for, every write writes only its first half), on every I/O path,
//! on a disk (O_DIRECT) and on tmpfs (buffered):
//!
//! - a log written with `Sync` and reopened through short reads recovers every acknowledged
//!   record: the recovery scan continues short reads instead of taking them for the end of the
//!   file (which cut the active segment), fetches return the right bytes, and appends continue
//!   at the right offset, also after the last page is read back through short reads;
//! - with writes shortened too, an append is either written whole or refused with the log
//!   poisoned; nothing acknowledged is lost, and a reopen finds every acknowledged record.

mod common;
mod halving;

use std::path::Path;
use std::sync::Arc;

use common::{
    Expected, append_rows, config, for_each_io_mode, numbered_batches, open_log, read_all,
    remove_clean_marker, shared_config, with_records,
};
use halving::Halving;
use ringlog::{CLEAN_SHUTDOWN_FILE, Config, Durability, IoMode, IoPath, Log};

/// Batches written before the reopen: about 2 MiB, so the log has sealed segments and an
/// active segment many scan windows long.
const BATCHES: usize = 200;
const RECORDS_PER_BATCH: usize = 10;
const VALUE_BYTES: usize = 1000;
/// Small, so that segments roll and the recovery scan window (sized from `max_batch_bytes`)
/// is loaded many times.
const SEGMENT_BYTES: u64 = 1 << 20;
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// Values of the batch appended with writes shortened: several pages, so even a direct write
/// of whole pages is cut.
const BIG_VALUE_BYTES: usize = 5000;

fn log_config(io_mode: IoMode) -> Config {
    Config {
        durability: Durability::Sync,
        flush_interval_ms: None,
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: MAX_BATCH_BYTES,
        ..config(io_mode)
    }
}

/// Runs `test` on the default temporary directory (a disk: O_DIRECT where the filesystem
/// allows it) and on tmpfs (`/dev/shm`: buffered, alignment 1) where there is one.
fn for_each_filesystem(mut test: impl FnMut(&Path)) {
    let disk = tempfile::tempdir().expect("a temporary directory");
    eprintln!("directory: {}", disk.path().display());
    test(disk.path());
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        let tmpfs = tempfile::tempdir_in(shm).expect("a temporary directory on /dev/shm");
        eprintln!("directory: {}", tmpfs.path().display());
        test(tmpfs.path());
    }
}

/// Writes [`BATCHES`] acknowledged batches with the real storage, closes, and removes the
/// clean-shutdown marker so that the next open scans the active segment from byte 0. Returns
/// the records written.
fn write_acknowledged(dir: &Path, io_mode: IoMode) -> Vec<Expected> {
    let rows = numbered_batches(0, BATCHES, RECORDS_PER_BATCH, VALUE_BYTES, |o| {
        1_000 + o as i64
    });
    let log = open_log(dir, log_config(io_mode));
    for batch in &rows {
        append_rows(&log, batch);
    }
    assert!(log.segment_count() > 1, "the log rolled");
    log.close().expect("close");
    remove_clean_marker(dir);
    rows.concat()
}

/// Opens the log in `dir` through a [`Halving`] storage.
fn open_halving(dir: &Path, io_mode: IoMode, reads: bool, writes: bool) -> (Log, Arc<Halving>) {
    let (shared, halving) = Halving::shared(dir, &shared_config(io_mode), reads, writes)
        .expect("shared resources through the halving storage");
    let log = Log::open_with(dir, log_config(io_mode), &shared)
        .unwrap_or_else(|e| panic!("open through short reads on {}: {e}", io_mode.name()));
    (log, halving)
}

/// Every record a consumer can read is `expected`, and the log ends there.
fn assert_holds(log: &Log, expected: &[Expected], when: &str) {
    assert_eq!(
        log.next_offset(),
        expected.len() as u64,
        "{when}: the log ends after the last acknowledged record"
    );
    let read = read_all(log);
    assert_eq!(read.len(), expected.len(), "{when}: records read back");
    for (got, want) in read.iter().zip(expected) {
        assert_eq!(got, want, "{when}: record at offset {}", want.offset);
    }
}

#[test]
fn recovery_and_fetches_through_short_reads_keep_every_acknowledged_record() {
    for_each_io_mode(|io_mode| {
        for_each_filesystem(|root| {
            let dir = root.join(format!("log-{}", io_mode.name()));
            let mut expected = write_acknowledged(&dir, io_mode);

            let (log, halving) = open_halving(&dir, io_mode, true, false);
            assert_holds(&log, &expected, "reopened through short reads");
            assert!(halving.short_reads() > 0, "the wrapper shortened reads");

            // The first append reads the active segment's last page back (short, where a page
            // is more than one alignment unit) and continues it.
            let next = expected.len() as u64;
            let more = numbered_batches(next, 3, RECORDS_PER_BATCH, VALUE_BYTES, |o| {
                1_000 + o as i64
            });
            for batch in &more {
                append_rows(&log, batch);
            }
            expected.extend(more.concat());
            assert_holds(&log, &expected, "after appends through short reads");
            log.close().expect("close");
            drop(log);

            remove_clean_marker(&dir);
            let (log, _) = open_halving(&dir, io_mode, true, false);
            assert_holds(&log, &expected, "reopened again through short reads");
        });
    });
}

#[test]
fn short_writes_never_lose_an_acknowledged_record() {
    for_each_io_mode(|io_mode| {
        for_each_filesystem(|root| {
            let dir = root.join(format!("log-{}", io_mode.name()));
            let mut expected = write_acknowledged(&dir, io_mode);

            let (log, halving) = open_halving(&dir, io_mode, true, true);
            assert_holds(&log, &expected, "reopened through short reads and writes");
            let next = expected.len() as u64;
            let big = numbered_batches(next, 1, 4, BIG_VALUE_BYTES, |o| 1_000 + o as i64);
            match with_records(&big[0], |records| log.append(records)) {
                Ok(info) => {
                    // Only the mmap path appends without a write call.
                    assert_eq!(
                        log.io_path(),
                        IoPath::Mmap,
                        "a short write was acknowledged"
                    );
                    assert_eq!(info.base_offset, next);
                    expected.extend(big[0].iter().cloned());
                }
                Err(e) => {
                    assert!(halving.short_writes() > 0, "{e}");
                    assert!(
                        e.to_string().contains("short write"),
                        "names the cause: {e}"
                    );
                    let cause = log.poisoned().expect("a short write poisons the log");
                    assert!(cause.contains("short write"), "{cause}");
                    let again = numbered_batches(next, 1, 1, 10, |o| 1_000 + o as i64);
                    with_records(&again[0], |records| log.append(records))
                        .expect_err("a poisoned log refuses appends");
                }
            }
            let _ = log.close();
            drop(log);

            // The refused batch was never acknowledged: a reopen may drop it (half of it is
            // on disk) and give its offsets to new records.
            if dir.join(CLEAN_SHUTDOWN_FILE).exists() {
                remove_clean_marker(&dir);
            }
            let (log, _) = open_halving(&dir, io_mode, true, false);
            assert_holds(&log, &expected, "reopened after short writes");
            let next = expected.len() as u64;
            let after = numbered_batches(next, 1, RECORDS_PER_BATCH, VALUE_BYTES, |o| {
                1_000 + o as i64
            });
            append_rows(&log, &after[0]);
            expected.extend(after.concat());
            assert_holds(&log, &expected, "appends continue after the reopen");
        });
    });
}
