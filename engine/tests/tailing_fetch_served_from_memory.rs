//! A consumer tailing the log under `Write` and `Sync` durability is served from memory: after
//! each acknowledged append it fetches the new batch, and no fetch reads the disk (the
//! storage's `read` is never called), across a write-chunk boundary too. The tail is on disk
//! once acknowledged, but the fetch must not pay a `read_ahead_bytes` direct read for bytes
//! the writer still holds. Runs on every I/O path (on mmap, fetches are slices of the
//! mapping anyway).

mod common;
mod faulty;

use common::{for_each_io_mode, now_ms};
use faulty::{Faulty, Op};
use ringlog::record::Record;
use ringlog::{Config, Durability, IoMode, Log};

/// Enough ~1 KiB batches to fill more than one 256 KiB write chunk.
const BATCH_COUNT: u64 = 400;
const VALUE_BYTES: usize = 1000;

#[test]
fn tailing_fetches_under_write_and_sync_do_not_read_the_disk() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::Write, Durability::Sync] {
            eprintln!("durability: {}", durability.name());
            tailing(io_mode, durability);
        }
    });
}

fn tailing(io_mode: IoMode, durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let (shared, storage) = Faulty::shared(dir.path(), &common::shared_config(io_mode)).unwrap();
    let config = Config {
        durability,
        // Long enough that the background flusher never hands the tail back during the test.
        flush_interval_ms: Some(600_000),
        ..common::config(io_mode)
    };
    let log = Log::open_with(dir.path(), config, &shared).unwrap();
    common::assert_io_path(&log, io_mode);
    let reads_before = storage.calls(Op::Read);
    for i in 0..BATCH_COUNT {
        let value = vec![i as u8; VALUE_BYTES];
        let info = log
            .append(&[Record {
                key: Some(b"k"),
                value: Some(&value),
                timestamp_ms: now_ms(),
                headers: &[],
            }])
            .unwrap();
        let records = log.read_records(info.base_offset, 64 * 1024).unwrap();
        assert_eq!(
            records.len(),
            1,
            "the tailing fetch at {i} finds the new record"
        );
        assert_eq!(records[0].value.as_deref(), Some(&value[..]));
    }
    let reads = storage.calls(Op::Read) - reads_before;
    assert_eq!(
        reads,
        0,
        "{} durability: {BATCH_COUNT} tailing fetches made {reads} disk reads",
        durability.name()
    );
}
