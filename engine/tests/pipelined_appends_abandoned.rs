//! A log abandoned (a simulated crash, `Log::abandon`) with pipelined appends in flight under
//! `Sync` and `Write` writes nothing more: its handles resolve to the offsets they were given
//! when they became durable before the crash, or to `AppendError::Closed`, never by flushing
//! the dead log. The reopened log holds every record whose handle resolved, an intact prefix of
//! the rest, and takes new appends at its recovered end, which read back after a clean reopen
//! (a late write of the abandoned log landing over them would change their bytes).

mod common;

use common::{Expected, for_each_io_mode, open_log, read_all, with_records};
use ringlog::{AppendError, Config, Durability, IoMode};

const IN_FLIGHT: u64 = 48;
const VALUE_BYTES: usize = 700;

fn run(io_mode: IoMode, durability: Durability) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        durability,
        flush_interval_ms: None,
        ..common::config(io_mode)
    };
    let rows: Vec<Expected> = (0..IN_FLIGHT)
        .map(|i| Expected::numbered(i, common::now_ms(), VALUE_BYTES))
        .collect();
    let log = open_log(dir.path(), config.clone());
    let handles: Vec<_> = rows
        .iter()
        .map(|row| {
            with_records(std::slice::from_ref(row), |r| {
                log.submit(r).expect("submit")
            })
        })
        .collect();
    // Nothing else flushes this log (no flush interval, no futures): what is durable now is
    // all that will ever be.
    let acked = log.high_watermark();
    log.abandon();
    for (i, handle) in (0..).zip(handles) {
        match handle.wait() {
            Ok(info) if i < acked => {
                assert_eq!((info.base_offset, info.last_offset), (i, i), "offsets");
            }
            Err(AppendError::Closed) if i >= acked => {}
            other => {
                panic!("{durability:?}: handle {i} after abandon with {acked} durable: {other:?}")
            }
        }
    }
    let log = open_log(dir.path(), config.clone());
    let recovered = read_all(&log);
    assert!(
        recovered.len() as u64 >= acked,
        "{durability:?}: {acked} acknowledged, {} recovered",
        recovered.len()
    );
    assert_eq!(
        recovered[..],
        rows[..recovered.len()],
        "{durability:?}: an intact prefix"
    );
    let next = recovered.len() as u64;
    let more: Vec<Expected> = (next..next + 8)
        .map(|i| Expected::numbered(i, common::now_ms(), VALUE_BYTES + 1))
        .collect();
    for row in &more {
        common::append_rows(&log, std::slice::from_ref(row));
    }
    log.close().expect("close");
    drop(log);
    let log = open_log(dir.path(), config);
    let mut expected = rows[..recovered.len()].to_vec();
    expected.extend(more);
    assert_eq!(
        read_all(&log),
        expected,
        "{durability:?}: the appends after recovery"
    );
}

#[test]
fn abandoned_log_with_appends_in_flight_writes_nothing_more() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::Sync, Durability::Write] {
            run(io_mode, durability);
        }
    });
}
