//! The records the power-cut tests write: each is named by a [`RecordId`], and every byte of it
//! (value, timestamp, header) is derived from the id, so a record read back after a cut is
//! checked whole against its id alone.

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the helpers"
)]

use ringlog::record::{Header, Record};
use ringlog::{Log, ReadRecord};

use super::rng::Rng;

/// How large record values are drawn: one in `large_one_in` takes a size in `large`, the
/// rest fewer than `small_below` bytes.
pub struct ValueSizes {
    pub large_one_in: u64,
    pub large: (u64, u64),
    pub small_below: u64,
}

/// One record's identity, packed: cycle (16 bits), producer (8), sequence (32), index in its
/// batch (8). Everything else about the record is derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordId(pub u64);

impl RecordId {
    pub fn new(cycle: u64, producer: u64, seq: u64, index: u64) -> RecordId {
        RecordId(cycle << 48 | producer << 40 | seq << 8 | index)
    }

    /// The (cycle, producer) stream the record belongs to; within it ids grow with offsets.
    pub fn stream(self) -> u64 {
        self.0 >> 40
    }

    pub fn row(self, sizes: &ValueSizes) -> Row {
        let mut rng = Rng::new(self.0);
        let value_bytes = if rng.chance(1, sizes.large_one_in) {
            rng.between(sizes.large.0, sizes.large.1)
        } else {
            rng.below(sizes.small_below)
        };
        Row {
            key: self.0.to_be_bytes(),
            value: (0..value_bytes).map(|_| rng.next_u64() as u8).collect(),
            timestamp_ms: 1_700_000_000_000 + rng.below(1_000_000) as i64,
            header: rng.next_u64().to_be_bytes(),
        }
    }

    /// The id of a record read back, after checking every byte of it.
    pub fn check(record: &ReadRecord, sizes: &ValueSizes) -> RecordId {
        let key: [u8; 8] = record
            .key
            .as_deref()
            .and_then(|k| k.try_into().ok())
            .unwrap_or_else(|| panic!("offset {}: not a key we wrote", record.offset));
        let id = RecordId(u64::from_be_bytes(key));
        let row = id.row(sizes);
        let intact = record.value.as_deref() == Some(&row.value[..])
            && record.timestamp_ms == row.timestamp_ms
            && record.headers.len() == 1
            && record.headers[0].0 == "id"
            && record.headers[0].1.as_deref() == Some(&row.header[..]);
        assert!(intact, "offset {}: record {id:?} damaged", record.offset);
        id
    }
}

/// A record's bytes, owned.
pub struct Row {
    pub key: [u8; 8],
    pub value: Vec<u8>,
    pub timestamp_ms: i64,
    pub header: [u8; 8],
}

/// Appends the records `ids` as one batch; returns its base offset.
pub fn append(
    log: &Log,
    ids: &[RecordId],
    sizes: &ValueSizes,
) -> Result<u64, ringlog::AppendError> {
    let info = with_records(ids, sizes, |records| log.append(records))?;
    assert_eq!(
        info.last_offset - info.base_offset + 1,
        ids.len() as u64,
        "one offset per record"
    );
    Ok(info.base_offset)
}

/// Calls `f` with the records `ids` (their bytes derived from the ids).
pub fn with_records<T>(
    ids: &[RecordId],
    sizes: &ValueSizes,
    f: impl FnOnce(&[Record<'_>]) -> T,
) -> T {
    let rows: Vec<Row> = ids.iter().map(|id| id.row(sizes)).collect();
    let headers: Vec<[Header<'_>; 1]> = rows
        .iter()
        .map(|row| {
            [Header {
                key: "id",
                value: Some(&row.header),
            }]
        })
        .collect();
    let records: Vec<Record<'_>> = rows
        .iter()
        .zip(&headers)
        .map(|(row, headers)| Record {
            key: Some(&row.key),
            value: Some(&row.value),
            timestamp_ms: row.timestamp_ms,
            headers,
        })
        .collect();
    f(&records)
}
