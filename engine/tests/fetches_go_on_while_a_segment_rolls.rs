//! A segment roll does its file work (trim, `fdatasync` and index files of the old segment, the
//! new segment's file and the directory `fsync`) with the writer lock released. The roll is held
//! at its first file call, the trim of the old segment (by a storage wrapper), while another
//! thread fetches the old segment's last batches with no read cache, which asks the writer for
//! them under its lock (the segment is not sealed yet): the fetch must return, with the right
//! records, while the roll is still held. Appends
//! wait for the roll, and every record is there afterwards. Runs on every I/O path.

mod common;
mod gated;

use std::sync::mpsc;
use std::time::Duration;

use common::{Expected, append_rows, for_each_io_mode, numbered_batches, read_all};
use gated::{Gated, Step};
use ringlog::{Config, Durability, IoMode, Log, SharedConfig};

const SEGMENT_BYTES: u64 = 64 * 1024;
const VALUE_BYTES: usize = 1000;
const RECORDS_PER_BATCH: usize = 4;
/// How long the fetch gets while the roll is held (it needs microseconds).
const FETCH_GRACE: Duration = Duration::from_secs(20);

fn config(io_mode: IoMode, durability: Durability) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: 16 * 1024,
        durability,
        flush_interval_ms: None,
        retention_check_interval_ms: None,
        ..common::config(io_mode)
    }
}

#[test]
fn fetches_are_served_while_a_roll_trims_the_old_segment() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::None, Durability::Sync] {
            held_roll(io_mode, durability);
        }
    });
}

fn held_roll(io_mode: IoMode, durability: Durability) {
    let root = tempfile::tempdir().expect("tempdir");
    // No read cache: a fetch of the active segment asks the writer for the bytes.
    let shared_config = SharedConfig {
        cache_bytes: 0,
        ..common::shared_config(io_mode)
    };
    let (shared, gate) = Gated::shared(root.path(), &shared_config).expect("shared");
    let dir = root.path().join("log");
    let log = Log::open_with(&dir, config(io_mode, durability), &shared).expect("open");
    // Fill the first segment to just below its limit: the next batch rolls.
    let batch_bytes = (VALUE_BYTES + 100) * RECORDS_PER_BATCH;
    let first = (SEGMENT_BYTES as usize / batch_bytes) - 2;
    let batches = numbered_batches(0, first + 4, RECORDS_PER_BATCH, VALUE_BYTES, |o| {
        1_700_000_000_000 + o as i64
    });
    for batch in &batches[..first] {
        append_rows(&log, batch);
    }
    let rolled_at = log.next_offset();
    gate.arm(Step::SetLen, "");
    let written: Vec<Expected> = batches.iter().flatten().cloned().collect();
    std::thread::scope(|s| {
        let appender = s.spawn(|| {
            for batch in &batches[first..] {
                append_rows(&log, batch);
            }
        });
        let held = gate.wait_until_held();
        assert!(held.contains("SetLen"), "{held}");
        let (done, fetched) = mpsc::channel();
        let log = &log;
        s.spawn(move || {
            let last = rolled_at - 1;
            let _ = done.send(log.read_records(last, 64 * 1024));
        });
        let result = fetched.recv_timeout(FETCH_GRACE);
        gate.release();
        let records = result
            .unwrap_or_else(|_| {
                panic!(
                    "{} {}: a fetch waited for the roll's file work",
                    io_mode.name(),
                    durability.name()
                )
            })
            .expect("the fetch succeeds");
        let first_read = records.first().expect("a record");
        assert_eq!(
            Expected::from_read(first_read),
            written[first_read.offset as usize]
        );
        appender.join().expect("appender");
    });
    assert_eq!(read_all(&log), written, "every record after the roll");
    assert!(
        common::segment_files(&dir).len() >= 6,
        "the log rolled: {:?}",
        common::segment_files(&dir)
    );
}
