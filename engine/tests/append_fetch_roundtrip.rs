//! Appends records in every durability mode and reads every one back by fetch and by record,
//! on every I/O path.

mod common;

use common::{for_each_io_mode, open_log};
use ringlog::record::{Header, Record};
use ringlog::{Config, Durability, IoMode};

fn value(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

fn roundtrip(io_mode: IoMode, durability: Durability, count: u64, len: usize) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        durability,
        ..common::config(io_mode)
    };
    let log = open_log(dir.path(), config);
    for i in 0..count {
        let v = value(i, len);
        let key = format!("key-{i}");
        let info = log
            .append(&[Record {
                key: Some(key.as_bytes()),
                value: Some(&v),
                timestamp_ms: 1_000 + i as i64,
                headers: &[Header {
                    key: "h",
                    value: Some(b"x"),
                }],
            }])
            .unwrap();
        assert_eq!(info.base_offset, i);
        assert_eq!(info.last_offset, i);
    }
    assert_eq!(log.next_offset(), count);
    let mut offset = 0;
    while offset < count {
        let records = log.read_records(offset, 64 * 1024).unwrap();
        assert!(!records.is_empty(), "fetch at {offset} returned nothing");
        for r in records {
            assert_eq!(r.offset, offset);
            assert_eq!(r.value.as_deref(), Some(&value(offset, len)[..]));
            assert_eq!(r.key.as_deref(), Some(format!("key-{offset}").as_bytes()));
            assert_eq!(r.timestamp_ms, 1_000 + offset as i64);
            assert_eq!(
                r.headers,
                vec![("h".to_string(), Some(bytes::Bytes::from_static(b"x")))]
            );
            offset += 1;
        }
    }
    log.close().unwrap();
    drop(log);
    // Reopen after a clean close: everything is still there.
    let log = open_log(dir.path(), common::config(io_mode));
    assert_eq!(log.next_offset(), count);
    let records = log.read_records(count / 2, 1 << 20).unwrap();
    assert_eq!(records[0].offset, count / 2);
    assert_eq!(
        records[0].value.as_deref(),
        Some(&value(count / 2, len)[..])
    );
}

#[test]
fn durability_none_roundtrip() {
    for_each_io_mode(|io_mode| roundtrip(io_mode, Durability::None, 2000, 700));
}

#[test]
fn durability_write_roundtrip() {
    for_each_io_mode(|io_mode| roundtrip(io_mode, Durability::Write, 500, 100));
}

#[test]
fn durability_sync_roundtrip() {
    for_each_io_mode(|io_mode| roundtrip(io_mode, Durability::Sync, 200, 3000));
}
