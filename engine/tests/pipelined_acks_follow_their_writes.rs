//! A pipelined producer's oldest append is acknowledged once the write of its own chunk
//! completed: waiting for it neither copies and writes the tail (the producer's later appends
//! are still being added there) nor waits for the writes after its own. Under `Write`, on the
//! direct-write paths (on the mmap path an append is written when it is copied into the
//! mapping). Every record reads back after a reopen.

mod common;

use common::{Expected, for_each_io_mode, read_all, shared_config, with_records};
use ringlog::{Config, Durability, IoPath, Log, SharedConfig};

/// Small write chunks, so that a few appends fill one.
const BUFFER_BYTES: usize = 64 * 1024;
const VALUE_BYTES: usize = 1000;
const BATCH_RECORDS: u64 = 8;
/// About 130 KiB in all: two chunks fill and are written, the rest stays in the tail.
const BATCHES: u64 = 16;

#[test]
fn the_oldest_append_is_acknowledged_by_its_own_chunks_write() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let shared = ringlog::Shared::new(
            dir.path(),
            &SharedConfig {
                buffer_bytes: BUFFER_BYTES,
                ..shared_config(io_mode)
            },
        )
        .expect("shared");
        let config = Config {
            io_mode,
            durability: Durability::Write,
            // No background flush: only the waits below write anything not yet written.
            flush_interval_ms: None,
            ..Config::default()
        };
        let rows: Vec<Expected> = (0..BATCHES * BATCH_RECORDS)
            .map(|i| Expected::numbered(i, common::now_ms(), VALUE_BYTES))
            .collect();
        {
            let log = Log::open_with(dir.path().join("p"), config.clone(), &shared).expect("open");
            let handles: Vec<_> = rows
                .chunks(BATCH_RECORDS as usize)
                .map(|batch| with_records(batch, |r| log.submit(r).expect("submit")))
                .collect();
            let first_end = handles[0].offsets().last_offset + 1;
            let mut handles = handles.into_iter();
            handles
                .next()
                .expect("a handle")
                .wait()
                .expect("the oldest append");
            let watermark = log.high_watermark();
            assert!(
                watermark >= first_end,
                "{io_mode:?}: acknowledged at {first_end} but the watermark is {watermark}"
            );
            if log.io_path() != IoPath::Mmap {
                assert!(
                    watermark < log.next_offset(),
                    "{io_mode:?}: waiting for the oldest append wrote everything appended \
                     (watermark {watermark}, next offset {})",
                    log.next_offset()
                );
            }
            let mut last = first_end;
            for handle in handles {
                let info = handle.wait().expect("append");
                assert_eq!(info.base_offset, last, "{io_mode:?}: offsets in order");
                last = info.last_offset + 1;
            }
            assert_eq!(log.high_watermark(), log.next_offset());
        }
        let log = Log::open_with(dir.path().join("p"), config, &shared).expect("reopen");
        assert_eq!(read_all(&log), rows, "{io_mode:?}: every record reads back");
    });
}
