//! A failed `fdatasync` (or `msync` on the mmap path) under `Sync` fails every pipelined append
//! it covers, whether waited on or polled, and after a reopen every acknowledged record is
//! there.

mod common;
mod faulty;

use common::{Expected, for_each_io_mode, read_all, shared_config, sync_config, with_records};
use faulty::{Fault, FaultKind, Faulty, Op};
use ringlog::{AppendError, IoPath, Log};

const ACKED: u64 = 4;
const IN_FLIGHT: u64 = 8;

#[test]
fn failed_sync_fails_every_handle_it_covers() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let rows: Vec<Expected> = (0..ACKED + IN_FLIGHT)
            .map(|i| Expected::numbered(i, common::now_ms(), 100))
            .collect();
        let submit = |log: &Log, row: &Expected| {
            with_records(std::slice::from_ref(row), |r| {
                log.submit(r).expect("submit")
            })
        };
        {
            let (shared, faulty) =
                Faulty::shared(dir.path(), &shared_config(io_mode)).expect("shared");
            let log = Log::open_with(dir.path(), sync_config(io_mode), &shared).expect("open");
            for row in &rows[..ACKED as usize] {
                submit(&log, row)
                    .wait()
                    .expect("acknowledged before the fault");
            }
            let op = if log.io_path() == IoPath::Mmap {
                Op::SyncMapped
            } else {
                Op::SyncData
            };
            faulty.arm(Fault {
                op,
                nth: 1,
                kind: FaultKind::Eio,
            });
            let handles: Vec<_> = rows[ACKED as usize..]
                .iter()
                .map(|row| submit(&log, row))
                .collect();
            for handle in handles {
                let offset = handle.offsets().base_offset;
                match handle.wait() {
                    Err(AppendError::Io { .. } | AppendError::Poisoned { .. }) => {}
                    other => panic!("offset {offset} after a failed sync: {other:?}"),
                }
            }
            let late = with_records(&rows[..1], |r| log.submit(r).map(|_| ()));
            assert!(
                matches!(late, Err(AppendError::Poisoned { .. })),
                "a poisoned log refuses later submissions: {late:?}"
            );
        }
        let log = common::open_log(dir.path(), sync_config(io_mode));
        let kept = read_all(&log);
        assert!(
            kept.len() as u64 >= ACKED,
            "acknowledged records lost: {kept:?}"
        );
        assert_eq!(
            kept[..ACKED as usize],
            rows[..ACKED as usize],
            "acknowledged records intact"
        );
    });
}
