//! A failed write fails every pipelined append it covers and poisons the log: twelve appends
//! in flight under `Write` or `Sync`, the flush that the first wait starts fails its write.
//! Every handle at or below the high watermark resolves `Ok` and every other one to the
//! failure (in offset order: no failed handle before one that resolved), later submissions are
//! refused, and after a reopen every acknowledged record is there, in an intact prefix.
//!
//! The mmap path makes no write calls (an append is a copy into the mapping, durable under
//! `Write` at once; a failed `msync` is tested in `pipelined_appends_failed_sync.rs`), so this
//! runs on the paths that write: io_uring and pread/pwrite.

mod common;
mod faulty;

use common::{Expected, for_each_io_mode, read_all, with_records};
use faulty::{Fault, FaultKind, Faulty, Op};
use ringlog::{AppendError, AppendHandle, Config, Durability, IoMode, IoPath, Log, SharedConfig};

const IN_FLIGHT: u64 = 12;
/// Each batch fills most of a 4 KiB chunk: the appends in flight take several chunks.
const VALUE_BYTES: usize = 3000;

fn run(io_mode: IoMode, durability: Durability) {
    let dir = tempfile::tempdir().expect("temp dir");
    let shared_config = SharedConfig {
        buffer_bytes: 4096,
        ..common::shared_config(io_mode)
    };
    let config = Config {
        durability,
        flush_interval_ms: None,
        ..common::config(io_mode)
    };
    let rows: Vec<Expected> = (0..IN_FLIGHT)
        .map(|i| Expected::numbered(i, common::now_ms(), VALUE_BYTES))
        .collect();
    let acked = {
        let (shared, faulty) = Faulty::shared(dir.path(), &shared_config).expect("shared");
        let log = Log::open_with(dir.path(), config.clone(), &shared).expect("open");
        if log.io_path() == IoPath::Mmap {
            return;
        }
        let handles: Vec<_> = rows
            .iter()
            .map(|row| {
                with_records(std::slice::from_ref(row), |r| {
                    log.submit(r).expect("submit")
                })
            })
            .collect();
        faulty.arm(Fault {
            op: Op::Write,
            nth: 1,
            kind: FaultKind::Eio,
        });
        let results: Vec<_> = handles.into_iter().map(AppendHandle::wait).collect();
        let hw = log.high_watermark();
        assert!(log.poisoned().is_some(), "a failed write poisons the log");
        for (i, result) in (0..).zip(&results) {
            match result {
                Ok(info) if i < hw => assert_eq!(info.base_offset, i, "offsets"),
                Err(AppendError::Io { .. } | AppendError::Poisoned { .. }) if i >= hw => {}
                other => panic!(
                    "{durability:?}: offset {i} with the high watermark at {hw} resolved to \
                     {other:?}"
                ),
            }
        }
        assert!(
            hw < IN_FLIGHT,
            "{durability:?}: the failed write left nothing to fail ({hw} durable)"
        );
        let late = with_records(&rows[..1], |r| log.submit(r).map(|_| ()));
        assert!(
            matches!(late, Err(AppendError::Poisoned { .. })),
            "a poisoned log refuses later submissions: {late:?}"
        );
        hw as usize
    };
    let log = common::open_log(dir.path(), config);
    let kept = read_all(&log);
    assert!(kept.len() >= acked, "acknowledged records lost: {kept:?}");
    assert_eq!(kept[..], rows[..kept.len()], "an intact prefix");
}

#[test]
fn failed_write_fails_every_handle_it_covers() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::Write, Durability::Sync] {
            run(io_mode, durability);
        }
    });
}
