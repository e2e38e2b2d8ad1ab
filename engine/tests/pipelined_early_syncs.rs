//! Under `Sync` on io_uring, a pipelined producer's appends become durable while it goes on
//! submitting: a submit that finds writes completed and no flusher at work starts an
//! `fdatasync` for them without waiting, and a later submit takes its result. A failure of
//! such a sync poisons the log and fails every handle not made durable before it; after a
//! reopen every acknowledged record is there. (On the other paths syncs are synchronous and
//! only waits sync; the same appends are checked there for what they read back.)

mod common;
mod faulty;

use std::time::{Duration, Instant};

use common::{Expected, for_each_io_mode, read_all, shared_config, sync_config, with_records};
use faulty::{Fault, FaultKind, Faulty, Op};
use ringlog::{AppendError, AppendHandle, IoPath, Log, SharedConfig};

const BUFFER_BYTES: usize = 64 * 1024;
const VALUE_BYTES: usize = 1000;
const BATCH_RECORDS: usize = 8;
/// How long the producer goes on submitting for the early sync to show.
const PATIENCE: Duration = Duration::from_secs(10);

fn rows(from: u64, count: u64) -> Vec<Expected> {
    (from..from + count)
        .map(|i| Expected::numbered(i, common::now_ms(), VALUE_BYTES))
        .collect()
}

fn small_chunks(io_mode: ringlog::IoMode) -> SharedConfig {
    SharedConfig {
        buffer_bytes: BUFFER_BYTES,
        ..shared_config(io_mode)
    }
}

/// Submits batches of `BATCH_RECORDS` from `rows`, numbered from `next`, until `done` holds or
/// the patience runs out (pausing a little between submits, so writes and syncs complete);
/// returns the handles and whether `done` held.
fn submit_until(
    log: &Log,
    rows: &mut Vec<Expected>,
    mut done: impl FnMut(&Log, &Result<AppendHandle, AppendError>) -> bool,
) -> (Vec<AppendHandle>, bool) {
    let mut handles = Vec::new();
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        let batch = self::rows(rows.len() as u64, BATCH_RECORDS as u64);
        let submitted = with_records(&batch, |r| log.submit(r));
        let stop = done(log, &submitted);
        match submitted {
            Ok(handle) => {
                rows.extend(batch);
                handles.push(handle);
            }
            Err(_) => return (handles, stop),
        }
        if stop {
            return (handles, true);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (handles, false)
}

#[test]
fn pipelined_appends_become_durable_while_the_producer_goes_on() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let shared = ringlog::Shared::new(dir.path(), &small_chunks(io_mode)).expect("shared");
        let mut rows = Vec::new();
        {
            let log = Log::open_with(dir.path(), sync_config(io_mode), &shared).expect("open");
            let early = matches!(log.io_path(), IoPath::UringDirect | IoPath::UringBuffered);
            // Nothing waits and no background flush runs: only early syncs raise the watermark.
            let (handles, raised) =
                submit_until(&log, &mut rows, |log, _| !early || log.high_watermark() > 0);
            assert!(
                raised,
                "{io_mode:?}: no pipelined append became durable in {PATIENCE:?} of submits"
            );
            let watermark = log.high_watermark();
            for handle in handles {
                let info = handle.wait().expect("append");
                assert!(info.last_offset < log.high_watermark());
            }
            assert!(log.high_watermark() >= watermark);
        }
        let log = common::open_log(dir.path(), sync_config(io_mode));
        assert_eq!(read_all(&log), rows, "{io_mode:?}: every record reads back");
    });
}

#[test]
fn a_failed_early_sync_fails_every_handle_it_would_cover() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut rows = rows(0, BATCH_RECORDS as u64);
        {
            let (shared, faulty) =
                Faulty::shared(dir.path(), &small_chunks(io_mode)).expect("shared");
            let log = Log::open_with(dir.path(), sync_config(io_mode), &shared).expect("open");
            if !matches!(log.io_path(), IoPath::UringDirect | IoPath::UringBuffered) {
                return;
            }
            with_records(&rows, |r| log.append(r)).expect("acknowledged before the fault");
            let acked = log.high_watermark();
            faulty.arm(Fault {
                op: Op::SyncData,
                nth: 1,
                kind: FaultKind::Eio,
            });
            // The first early sync fails; a later submit finds the log poisoned.
            let (handles, refused) = submit_until(&log, &mut rows, |_, submitted| {
                matches!(submitted, Err(AppendError::Poisoned { .. }))
            });
            assert!(
                refused,
                "{io_mode:?}: the failed early sync did not poison the log"
            );
            assert!(!faulty.fired().is_empty(), "the sync fault fired");
            assert_eq!(
                log.high_watermark(),
                acked,
                "nothing after the failure is durable"
            );
            for handle in handles {
                let offset = handle.offsets().base_offset;
                match handle.wait() {
                    Err(AppendError::Io { .. } | AppendError::Poisoned { .. }) => {}
                    other => panic!("{io_mode:?}: offset {offset} after a failed sync: {other:?}"),
                }
            }
        }
        let log = common::open_log(dir.path(), sync_config(io_mode));
        let kept = read_all(&log);
        assert!(
            kept.len() >= BATCH_RECORDS,
            "acknowledged records lost: {}",
            kept.len()
        );
        assert_eq!(
            kept[..BATCH_RECORDS],
            rows[..BATCH_RECORDS],
            "acknowledged records intact"
        );
    });
}
