//! Bytes read from disk are checked before they enter the read cache: a batch whose CRC-32C no
//! longer matches (bit rot in a sealed segment after a clean shutdown, which no recovery scan
//! looks at) is `ReadError::Corrupt` naming the segment file and the batch's position, every
//! time it is read, while the batches around it stay readable. `Log::read_record` checks the
//! batches it reads on every I/O path (the mmap path reads the mapping, not the disk, and its
//! fetches serve bytes as stored, as Kafka's do).

mod common;

use std::fs;

use common::{
    Expected, append_rows, batch_spans, for_each_io_mode, log_file, numbered_batches, open_log,
    patch_file, sync_config,
};
use ringlog::record::BATCH_HEADER_BYTES;
use ringlog::{Config, IoMode, IoPath};

/// Segments of a few batches, so that the damaged batch lies in a sealed one; read-ahead of
/// several batches, so that the read of an earlier batch brings the damaged one in.
fn small_segments(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: 64 * 1024,
        max_batch_bytes: 32 * 1024,
        read_ahead_bytes: 32 * 1024,
        ..sync_config(io_mode)
    }
}

#[test]
fn a_batch_damaged_on_disk_is_an_error_every_time_and_its_neighbours_read() {
    for_each_io_mode(damaged_batch_is_reported);
}

fn damaged_batch_is_reported(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let batches: Vec<Vec<Expected>> =
        numbered_batches(0, 40, 4, 1000, |o| 1_700_000_000_000 + o as i64);
    {
        let log = open_log(dir.path(), small_segments(io_mode));
        for batch in &batches {
            append_rows(&log, batch);
        }
        assert!(log.segment_count() >= 3, "the first segment is sealed");
        log.close().unwrap();
    }
    let path = log_file(dir.path(), 0);
    let spans = batch_spans(&fs::read(&path).unwrap());
    assert!(spans.len() >= 5, "several batches in the first segment");
    let (damaged_at, damaged_bytes) = spans[3];
    let at = damaged_at + BATCH_HEADER_BYTES + (damaged_bytes - BATCH_HEADER_BYTES) / 2;
    let byte = fs::read(&path).unwrap()[at];
    patch_file(&path, at, &[byte ^ 0x10]);
    let damaged = &batches[3];
    let (first, last) = (damaged[0].offset, damaged[damaged.len() - 1].offset);

    // A clean shutdown: the sealed segment is not scanned at open.
    let log = open_log(dir.path(), small_segments(io_mode));
    let reads_disk = log.io_path() != IoPath::Mmap;
    // Records before it: their read brings the damaged batch's bytes in from disk too.
    let before = log
        .read_record(first - 1)
        .unwrap()
        .expect("the record before");
    assert_eq!(before.value(), batches[2][3].value.as_deref());
    for _ in 0..2 {
        common::assert_crc_mismatch(log.read_record(first), &path, damaged_at, "");
        common::assert_crc_mismatch(log.read_record(last), &path, damaged_at, "");
        if reads_disk {
            common::assert_crc_mismatch(log.fetch(first, 1), &path, damaged_at, "");
        }
    }
    if reads_disk {
        // A fetch of the batches before it stops short of it.
        let fetched = log.fetch(0, 1 << 20).unwrap();
        assert!(
            fetched.next_fetch_offset <= first,
            "a fetch from 0 returned the damaged batch: next offset {}",
            fetched.next_fetch_offset
        );
    }
    // Records after it read.
    let after = log
        .read_record(last + 1)
        .unwrap()
        .expect("the record after");
    assert_eq!(after.value(), batches[4][0].value.as_deref());
    let fetched = log.fetch(last + 1, 1).unwrap();
    assert_eq!(fetched.next_fetch_offset, last + 1 + damaged.len() as u64);
    log.close().unwrap();
}
