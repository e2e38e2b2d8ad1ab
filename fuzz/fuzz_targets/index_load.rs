//! Loading an offset index and a time index from arbitrary bytes (input layout:
//! `ringlog_fuzz::index_input`). Decoding never panics and accepts only files that hold the
//! documented invariants (both offset-index fields strictly increasing, positions inside the
//! `.log`; time-index timestamps strictly increasing from 0, offsets non-decreasing and within
//! the segment); lookups then return the greatest qualifying entry, with a position inside the
//! `.log` and an offset inside the segment; an accepted file re-encodes to the same bytes, and
//! truncation keeps the invariants.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlog::segment::index::{IndexError, OFFSET_ENTRY_BYTES, OffsetIndex};
use ringlog::segment::time_index::{NO_TIMESTAMP, TIME_ENTRY_BYTES, TimeIndex};
use ringlog_fuzz::index_input::IndexInput;

fuzz_target!(|data: &[u8]| {
    let Some(input) = IndexInput::parse(data) else {
        return;
    };
    match OffsetIndex::decode(input.index, input.log_bytes) {
        Ok(index) => check_offset_index(&index, &input),
        Err(e) => check_error(&e, input.index.len(), OFFSET_ENTRY_BYTES),
    }
    match TimeIndex::decode(input.time_index, input.max_relative_offset) {
        Ok(index) => check_time_index(&index, &input),
        Err(e) => check_error(&e, input.time_index.len(), TIME_ENTRY_BYTES),
    }
});

/// Errors name an entry that exists, and a message an operator can act on.
fn check_error(error: &IndexError, bytes: usize, entry_bytes: usize) {
    match error {
        IndexError::BadLength { bytes: b, .. } => assert_eq!(*b, bytes),
        IndexError::OutOfOrder { entry, .. } => {
            assert!(*entry > 0 || entry_bytes == TIME_ENTRY_BYTES);
        }
        IndexError::PastEnd {
            entry,
            value,
            limit,
            ..
        } => {
            assert!(entry * entry_bytes < bytes);
            assert!(value >= limit);
        }
        other => panic!("unexpected index error {other:?}"),
    }
    assert!(error.to_string().contains("rebuild the index from the log"));
}

fn check_offset_index(index: &OffsetIndex, input: &IndexInput<'_>) {
    let entries = index.entries();
    assert_eq!(entries.len() * OFFSET_ENTRY_BYTES, input.index.len());
    for pair in entries.windows(2) {
        assert!(pair[0].relative_offset < pair[1].relative_offset);
        assert!(pair[0].position < pair[1].position);
    }
    assert!(
        entries
            .iter()
            .all(|e| u64::from(e.position) < input.log_bytes)
    );
    let mut encoded = Vec::new();
    index.encode_into(0, &mut encoded);
    assert_eq!(encoded, input.index);

    for probe in probes(entries.iter().map(|e| e.relative_offset)) {
        let found = index.lookup(probe);
        let expected = entries.iter().rev().find(|e| e.relative_offset <= probe);
        assert_eq!(found.as_ref(), expected);
        if let Some(found) = found {
            assert!(u64::from(found.position) < input.log_bytes);
        }
    }
    for probe in probes(entries.iter().map(|e| e.position)) {
        let found = index.lookup_position(probe);
        assert_eq!(
            found.as_ref(),
            entries.iter().rev().find(|e| e.position <= probe)
        );
    }
    if let Some(middle) = entries.get(entries.len() / 2) {
        let mut truncated = index.clone();
        truncated.truncate_to_offset(middle.relative_offset);
        assert_eq!(truncated.entries(), &entries[..entries.len() / 2]);
        let mut truncated = index.clone();
        truncated.truncate_to_position(middle.position + 1);
        assert_eq!(truncated.entries(), &entries[..=entries.len() / 2]);
        // What the log appends next still follows on.
        if let Some(last) = truncated.last()
            && last.relative_offset < u32::MAX
            && last.position < u32::MAX
        {
            truncated.push(last.relative_offset + 1, last.position + 1);
        }
    }
}

fn check_time_index(index: &TimeIndex, input: &IndexInput<'_>) {
    let entries = index.entries();
    assert_eq!(entries.len() * TIME_ENTRY_BYTES, input.time_index.len());
    if let Some(first) = entries.first() {
        assert!(first.timestamp_ms > NO_TIMESTAMP);
    }
    for pair in entries.windows(2) {
        assert!(pair[0].timestamp_ms < pair[1].timestamp_ms);
        assert!(pair[0].relative_offset <= pair[1].relative_offset);
    }
    assert!(
        entries
            .iter()
            .all(|e| e.relative_offset <= input.max_relative_offset)
    );
    assert_eq!(
        index.max_timestamp(),
        entries.last().map(|e| e.timestamp_ms)
    );
    let mut encoded = Vec::new();
    index.encode_into(0, &mut encoded);
    assert_eq!(encoded, input.time_index);

    let timestamps = entries
        .iter()
        .flat_map(|e| {
            [
                e.timestamp_ms.saturating_sub(1),
                e.timestamp_ms,
                e.timestamp_ms.saturating_add(1),
            ]
        })
        .chain([i64::MIN, -1, 0, i64::MAX]);
    for probe in timestamps {
        let found = index.lookup(probe);
        assert_eq!(
            found.as_ref(),
            entries.iter().rev().find(|e| e.timestamp_ms < probe)
        );
        if let Some(found) = found {
            assert!(found.relative_offset <= input.max_relative_offset);
        }
    }
    if let Some(middle) = entries.get(entries.len() / 2) {
        let mut truncated = index.clone();
        truncated.truncate_to_offset(middle.relative_offset);
        assert!(
            truncated
                .entries()
                .iter()
                .all(|e| e.relative_offset < middle.relative_offset)
        );
        assert_eq!(truncated.entries(), &entries[..truncated.len()]);
        // Offering what the log offers next keeps the order.
        let last = truncated.last().map_or(0, |e| e.relative_offset);
        truncated.maybe_push(i64::MAX, last);
        assert!(
            truncated
                .entries()
                .windows(2)
                .all(|p| p[0].timestamp_ms < p[1].timestamp_ms)
        );
    }
}

/// Each value, its neighbours, and the extremes.
fn probes(values: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut out: Vec<u32> = values
        .take(64)
        .flat_map(|v| [v.saturating_sub(1), v, v.saturating_add(1)])
        .collect();
    out.extend([0, 1, u32::MAX]);
    out
}
