//! One producer submits many appends under `Sync` and `Write` before waiting for any (in order,
//! then out of order): the offsets are contiguous, every record reads back, and under `Sync`
//! the appends in flight share `fdatasync`s (fewer syncs than appends).

mod common;
mod faulty;

use common::{Expected, for_each_io_mode, read_all, shared_config, with_records};
use faulty::{Faulty, Op};
use ringlog::{Config, Durability, IoPath, Log};

const APPENDS: u64 = 32;

fn run(io_mode: ringlog::IoMode, durability: Durability, reverse: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (shared, faulty) = Faulty::shared(dir.path(), &shared_config(io_mode)).expect("shared");
    let config = Config {
        durability,
        flush_interval_ms: None,
        ..common::config(io_mode)
    };
    let log = Log::open_with(dir.path(), config, &shared).expect("open");
    let syncs_before = faulty.calls(Op::SyncData) + faulty.calls(Op::SyncMapped);
    let rows: Vec<Expected> = (0..APPENDS)
        .map(|i| Expected::numbered(i, common::now_ms(), 100))
        .collect();
    let mut handles: Vec<_> = rows
        .iter()
        .map(|row| {
            with_records(std::slice::from_ref(row), |r| {
                log.submit(r).expect("submit")
            })
        })
        .collect();
    if reverse {
        handles.reverse();
    }
    let mut offsets: Vec<u64> = handles
        .into_iter()
        .map(|h| {
            let info = h.wait().expect("wait");
            assert_eq!(info.base_offset, info.last_offset, "one record per append");
            info.base_offset
        })
        .collect();
    offsets.sort_unstable();
    assert_eq!(
        offsets,
        (0..APPENDS).collect::<Vec<_>>(),
        "offsets contiguous"
    );
    assert_eq!(
        log.high_watermark(),
        APPENDS,
        "every acknowledged append is visible"
    );
    assert_eq!(read_all(&log), rows, "every record reads back");
    let syncs = faulty.calls(Op::SyncData) + faulty.calls(Op::SyncMapped) - syncs_before;
    if durability == Durability::Sync {
        assert!(
            syncs < APPENDS,
            "{APPENDS} pipelined appends took {syncs} syncs on {}",
            log.io_path()
        );
        assert!(
            syncs >= 1 || log.io_path() == IoPath::Mmap,
            "appends were synced"
        );
    }
}

#[test]
fn pipelined_appends_share_syncs_and_read_back() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::Sync, Durability::Write] {
            run(io_mode, durability, false);
            run(io_mode, durability, true);
        }
    });
}
