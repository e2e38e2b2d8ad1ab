//! Recovery does not depend on today's configuration: for every `Config` field that bounds
//! something, a log written with a large value and reopened with a small one keeps every
//! acknowledged record (readable, fetchable, counted), appends more under the new limit with no
//! offset reused, and survives one more reopen. Each case runs after a clean close and after a
//! crash (the directory copied while the log was open, every append acknowledged with `Sync`),
//! on every I/O path.
//!
//! Retention limits are left out on purpose: a smaller retention deletes old segments by
//! design (through retention, never through recovery).

mod common;

use std::path::Path;

use common::{
    Expected, append_rows, copy_log_dir, for_each_io_mode, numbered_batches, open_log, read_all,
    sync_config,
};
use ringlog::{Config, IoMode};

/// 200 KB values in batches of 3: each batch is about 600 KB, far above the small limits.
const LARGE_VALUE_BYTES: usize = 200_000;
const LARGE_RECORDS_PER_BATCH: usize = 3;
/// Enough batches that the large `segment_bytes` below seals a few segments.
const LARGE_BATCH_COUNT: usize = 7;
const LARGE_SEGMENT_BYTES: u64 = 2 * 1024 * 1024;
/// What the reopened log appends: small records that fit every small limit.
const SMALL_VALUE_BYTES: usize = 100;
const SMALL_BATCH_COUNT: usize = 20;

/// One bounding setting: the configuration written with, and the one reopened with.
struct Shrink {
    name: &'static str,
    shrink: fn(&mut Config),
}

const CASES: &[Shrink] = &[
    Shrink {
        name: "segment_bytes",
        shrink: |c| {
            c.segment_bytes = 64 * 1024;
            c.max_batch_bytes = 64 * 1024;
        },
    },
    Shrink {
        name: "max_batch_bytes",
        shrink: |c| c.max_batch_bytes = 4096,
    },
    Shrink {
        name: "index_interval_bytes",
        shrink: |c| c.index_interval_bytes = 1,
    },
    Shrink {
        name: "preallocate_bytes",
        shrink: |c| c.preallocate_bytes = 1,
    },
    Shrink {
        name: "read_ahead_bytes",
        shrink: |c| c.read_ahead_bytes = 4096,
    },
    Shrink {
        name: "max_writes_in_flight",
        shrink: |c| c.max_writes_in_flight = 1,
    },
    Shrink {
        name: "segment_ms",
        shrink: |c| c.segment_ms = Some(1),
    },
    // The stored records' timestamps (2023) are far outside a one-second window: the window
    // checks new appends only.
    Shrink {
        name: "timestamp_before_max_ms",
        shrink: |c| c.timestamp_before_max_ms = 1000,
    },
];

fn large_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: LARGE_SEGMENT_BYTES,
        max_batch_bytes: 1024 * 1024,
        index_interval_bytes: 1024 * 1024,
        preallocate_bytes: 64 * 1024 * 1024,
        read_ahead_bytes: 1024 * 1024,
        max_writes_in_flight: 8,
        segment_ms: None,
        ..sync_config(io_mode)
    }
}

#[test]
fn a_log_reopened_with_smaller_limits_keeps_every_acknowledged_record() {
    for_each_io_mode(|io_mode| {
        for case in CASES {
            for crashed in [false, true] {
                reopen_smaller(io_mode, case, crashed);
            }
        }
    });
}

fn reopen_smaller(io_mode: IoMode, case: &Shrink, crashed: bool) {
    let ctx = format!(
        "{} on {}, {}",
        case.name,
        io_mode.name(),
        if crashed {
            "after a crash"
        } else {
            "after a clean close"
        }
    );
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("log");
    let large = numbered_batches(
        0,
        LARGE_BATCH_COUNT,
        LARGE_RECORDS_PER_BATCH,
        LARGE_VALUE_BYTES,
        |o| 1_700_000_000_000 + o as i64,
    );
    write_then_stop(&dir, root.path(), large_config(io_mode), &large, crashed);
    let mut expected: Vec<Expected> = large.concat();
    let mut small = large_config(io_mode);
    (case.shrink)(&mut small);

    let log = open_log(&dir, small.clone());
    check_holds(&log, &expected, &ctx);
    let next = expected.len() as u64;
    let more = numbered_batches(next, SMALL_BATCH_COUNT, 2, SMALL_VALUE_BYTES, |_| {
        common::now_ms()
    });
    for batch in &more {
        append_rows(&log, batch);
    }
    expected.extend(more.concat());
    check_holds(&log, &expected, &format!("{ctx}, after appending more"));
    drop(log);

    let log = open_log(&dir, small);
    check_holds(&log, &expected, &format!("{ctx}, reopened again"));
}

/// Writes `batches` with `config`; a clean close, or (`crashed`) a copy of the directory taken
/// while the log is open, which then replaces the directory as a crash would leave it.
fn write_then_stop(
    dir: &Path,
    root: &Path,
    config: Config,
    batches: &[Vec<Expected>],
    crashed: bool,
) {
    let log = open_log(dir, config);
    for batch in batches {
        append_rows(&log, batch);
    }
    assert!(log.segment_count() > 1, "the large log seals segments");
    if crashed {
        let image = root.join("crash-image");
        copy_log_dir(dir, &image);
        drop(log);
        copy_log_dir(&image, dir);
    } else {
        log.close().unwrap();
    }
}

/// Every record of `expected` is in `log`, byte for byte, by record reads and by fetches, and
/// the log ends right after them.
fn check_holds(log: &ringlog::Log, expected: &[Expected], ctx: &str) {
    assert_eq!(
        log.next_offset(),
        expected.len() as u64,
        "{ctx}: next offset"
    );
    assert_eq!(log.start_offset(), 0, "{ctx}: start offset");
    let read = read_all(log);
    assert_eq!(read.len(), expected.len(), "{ctx}: record count");
    for (got, want) in read.iter().zip(expected) {
        assert_eq!(got, want, "{ctx}: record {}", want.offset);
    }
    // Fetch every offset: each returns the batch holding it.
    for want in expected.iter().step_by(2) {
        let fetched = log
            .fetch(want.offset, 1)
            .unwrap_or_else(|e| panic!("{ctx}: fetch {}: {e}", want.offset));
        assert!(
            fetched.next_fetch_offset > want.offset,
            "{ctx}: fetch {} returned the batch holding it",
            want.offset
        );
    }
}

/// A compacted log whose batches exceed today's `max_batch_bytes` still compacts: the latest
/// record of every key stays, at its offset.
#[test]
fn batches_above_todays_limit_are_compacted_like_any_other() {
    for_each_io_mode(|io_mode| {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("log");
        let compact = |c: Config| Config {
            cleanup_policy: ringlog::CleanupPolicy::Compact,
            ..c
        };
        let mut batches = numbered_batches(0, LARGE_BATCH_COUNT, 3, LARGE_VALUE_BYTES, |o| {
            1_700_000_000_000 + o as i64
        });
        for row in batches.iter_mut().flatten() {
            row.key = Some(format!("key-{}", row.offset % 4).into_bytes());
        }
        write_then_stop(
            &dir,
            root.path(),
            compact(large_config(io_mode)),
            &batches,
            false,
        );
        let mut small = compact(large_config(io_mode));
        small.max_batch_bytes = 4096;
        small.segment_bytes = 64 * 1024;
        let log = open_log(&dir, small);
        let sealed_end = *log.segment_base_offsets().last().unwrap();
        log.compact(&ringlog::compaction::CompactOptions::default())
            .unwrap_or_else(|e| panic!("compaction on {}: {e}", io_mode.name()));
        let all: Vec<Expected> = batches.concat();
        let survivors: Vec<&Expected> = all
            .iter()
            .filter(|row| {
                row.offset >= sealed_end
                    || !all.iter().any(|later| {
                        later.key == row.key
                            && later.offset > row.offset
                            && later.offset < sealed_end
                    })
            })
            .collect();
        let mut read = Vec::new();
        let mut offset = log.start_offset();
        while offset < log.high_watermark() {
            let records = log.read_records(offset, 1).unwrap();
            offset = records.last().unwrap().offset + 1;
            read.extend(records.iter().map(Expected::from_read));
        }
        let read: Vec<&Expected> = read.iter().collect();
        assert_eq!(
            read,
            survivors,
            "on {}: the latest record of every key stays",
            io_mode.name()
        );
    });
}
