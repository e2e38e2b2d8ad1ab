//! Dropping append handles without waiting loses nothing, under every durability and on every
//! I/O path: the dropped appends stay in the log, a later blocking append (whose
//! acknowledgement covers every offset before it) or a clean close makes them durable, and
//! after a reopen every record reads back in order. A handle dropped on a `None` log is ready
//! at once, so dropping it is the ordinary case there.

mod common;

use common::{Expected, for_each_io_mode, open_log, read_all, with_records};
use ringlog::{Config, Durability, IoMode, Log};

const DROPPED: u64 = 24;
const VALUE_BYTES: usize = 500;

fn submit_and_drop(log: &Log, rows: &[Expected]) {
    for row in rows {
        let handle = with_records(std::slice::from_ref(row), |r| {
            log.submit(r).expect("submit")
        });
        assert_eq!(handle.offsets().base_offset, row.offset, "offsets in order");
        drop(handle);
    }
}

fn run(io_mode: IoMode, durability: Durability) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        durability,
        flush_interval_ms: None,
        ..common::config(io_mode)
    };
    let rows: Vec<Expected> = (0..=2 * DROPPED)
        .map(|i| Expected::numbered(i, common::now_ms(), VALUE_BYTES))
        .collect();
    let (first, rest) = rows.split_at(DROPPED as usize);
    let (covering, second) = rest.split_at(1);
    let log = open_log(dir.path(), config.clone());
    submit_and_drop(&log, first);
    assert_eq!(
        log.next_offset(),
        DROPPED,
        "{durability:?}: dropped appends are in the log"
    );
    // A blocking append is acknowledged once it and everything before it is durable.
    common::append_rows(&log, covering);
    assert_eq!(
        log.high_watermark(),
        DROPPED + 1,
        "{durability:?}: a later acknowledgement covers the dropped appends"
    );
    assert_eq!(read_all(&log), rows[..=DROPPED as usize], "{durability:?}");
    // Dropped last, then closed: the close makes them durable.
    submit_and_drop(&log, second);
    log.close().expect("close");
    drop(log);
    let log = open_log(dir.path(), config.clone());
    assert_eq!(read_all(&log), rows, "{durability:?}: after a clean reopen");
    log.close().expect("close");
}

#[test]
fn dropped_handles_lose_nothing() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::Sync, Durability::Write, Durability::None] {
            run(io_mode, durability);
        }
    });
}
