//! Retention and compaction of one log never run at the same time. A compaction is held (by a
//! storage wrapper) right after it has read the segments of its first group, at the creation of
//! its `.log.cleaned` file, while another thread runs size retention that would delete those
//! segments. Retention must wait for the compaction: had it deleted them meanwhile, the swap
//! would bring their offsets back as a cleaned segment, below the log start offset, and a
//! reopen would serve them again. Runs on every I/O path.

mod common;
mod gated;

use std::sync::mpsc;
use std::time::Duration;

use common::{for_each_io_mode, shared_config};
use gated::{Gated, Step};
use ringlog::compaction::CompactOptions;
use ringlog::record::{Record, records};
use ringlog::{CleanupPolicy, Config, IoMode, Log};

const SEGMENT_BYTES: u64 = 4096;
const RETENTION_BYTES: u64 = 3 * SEGMENT_BYTES;
const RECORDS: usize = 300;
/// Mostly distinct keys: compaction keeps most bytes, so retention still has work after it.
const KEYS: usize = 250;
const VALUE_BYTES: usize = 100;
/// How long retention gets to finish while the compaction is held (it must not).
const RETENTION_GRACE: Duration = Duration::from_millis(500);

fn config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: SEGMENT_BYTES as usize,
        cleanup_policy: CleanupPolicy::Compact,
        retention_bytes: Some(RETENTION_BYTES),
        // Retention runs only when the test calls it.
        retention_check_interval_ms: None,
        ..common::config(io_mode)
    }
}

/// Offsets of every record, by fetching from the start.
fn offsets(log: &Log) -> Vec<u64> {
    let mut out = Vec::new();
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let fetched = log.fetch(offset, 64 * 1024).expect("fetch succeeds");
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = ringlog::record::BatchHeader::parse(rest).expect("a header");
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in records(batch).expect("records decode") {
                out.push(r.expect("a record decodes").offset as u64);
            }
            rest = tail;
        }
        offset = fetched.next_fetch_offset;
    }
    out
}

#[test]
fn retention_waits_for_a_running_compaction() {
    for_each_io_mode(|io_mode| {
        let root = tempfile::tempdir().expect("a temporary directory");
        let dir = root.path().join("log");
        let (shared, gate) = Gated::shared(root.path(), &shared_config(io_mode)).expect("shared");
        let log = Log::open_with(&dir, config(io_mode), &shared).expect("open");
        let value = [3u8; VALUE_BYTES];
        for i in 0..RECORDS {
            let key = format!("key-{}", i % KEYS);
            log.append(&[Record {
                key: Some(key.as_bytes()),
                value: Some(&value),
                timestamp_ms: 1_000 + i as i64,
                headers: &[],
            }])
            .expect("append succeeds");
        }
        assert!(log.segment_count() > 6, "{} segments", log.segment_count());

        gate.arm(Step::Open, ".log.cleaned");
        let (report, retention_finished_early) = std::thread::scope(|s| {
            let compaction = s.spawn(|| log.compact(&CompactOptions::default()));
            let held = gate.wait_until_held();
            eprintln!("holding {held}");
            let (done, finished) = mpsc::channel();
            let log = &log;
            let retention = s.spawn(move || {
                let report = log.enforce_retention_at(common::now_ms());
                let _ = done.send(());
                report
            });
            let early = finished.recv_timeout(RETENTION_GRACE).is_ok();
            gate.release();
            compaction
                .join()
                .expect("the compaction thread")
                .expect("the compaction succeeds");
            let report = retention
                .join()
                .expect("the retention thread")
                .expect("retention succeeds");
            (report, early)
        });
        let start = report.start_offset;
        assert!(start > 0, "retention deleted segments: {report:?}");
        assert_eq!(log.start_offset(), start);
        assert_eq!(
            log.segment_base_offsets()[0],
            start,
            "no segment below the start"
        );
        let live = offsets(&log);
        assert!(
            live.iter().all(|&o| o >= start),
            "live offsets below {start}"
        );
        drop(log);
        drop(shared);

        let log = common::open_log(&dir, config(io_mode));
        assert_eq!(
            log.start_offset(),
            start,
            "after a reopen the log starts where retention left it (deleted offsets came back)"
        );
        assert_eq!(
            offsets(&log),
            live,
            "the reopened log serves what the live one did"
        );
        assert!(
            !retention_finished_early,
            "retention ran while the compaction was in flight"
        );
    });
}
