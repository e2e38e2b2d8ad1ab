//! Property test: any records survive encode, validate and iteration unchanged.

use proptest::collection::vec;
use proptest::prelude::*;

use super::{
    BatchError, BatchLimits, BatchOptions, Header, HeaderView, Record, TimestampType, encode_batch,
    encoded_batch_bytes, records, validate_batch, validate_producer_batch,
};

#[derive(Clone, Debug)]
struct OwnedRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp_ms: i64,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn nullable_bytes(max: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(vec(any::<u8>(), 0..=max))
}

fn owned_record() -> impl Strategy<Value = OwnedRecord> {
    (
        nullable_bytes(2048),
        nullable_bytes(2048),
        prop_oneof![any::<i64>(), 1_600_000_000_000_i64..1_800_000_000_000],
        vec((".{0,12}", nullable_bytes(64)), 0..4),
    )
        .prop_map(|(key, value, timestamp_ms, headers)| OwnedRecord {
            key,
            value,
            timestamp_ms,
            headers,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn records_round_trip(
        owned in vec(owned_record(), 1..12),
        base_offset in 0_i64..i64::MAX / 2,
    ) {
        let headers: Vec<Vec<Header<'_>>> = owned
            .iter()
            .map(|r| {
                r.headers
                    .iter()
                    .map(|(key, value)| Header { key, value: value.as_deref() })
                    .collect()
            })
            .collect();
        let input: Vec<Record<'_>> = owned
            .iter()
            .zip(&headers)
            .map(|(r, headers)| Record {
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                timestamp_ms: r.timestamp_ms,
                headers,
            })
            .collect();

        let size = encoded_batch_bytes(&input).unwrap();
        let mut batch = vec![0; size];
        let written = encode_batch(&mut batch, base_offset, &input, &BatchOptions::default()).unwrap();
        let limits = BatchLimits { max_batch_bytes: size, require_contiguous_offsets: true };
        prop_assert_eq!(validate_batch(&batch, &limits), Ok(written));
        // The encoder's batches pass the producer rules, unless a timestamp is so far from the
        // first that its delta wraps (a producer's clock never is).
        let producer = validate_producer_batch(&batch, size);
        let first = input[0].timestamp_ms;
        if input.iter().all(|r| r.timestamp_ms.checked_sub(first).is_some()) {
            prop_assert_eq!(producer, Ok(written));
        } else {
            let overflow = matches!(producer, Err(BatchError::TimestampOverflow { .. }));
            prop_assert!(overflow, "{producer:?}");
        }
        prop_assert_eq!(written.timestamp_type(), TimestampType::CreateTime);
        prop_assert_eq!(written.max_timestamp, input.iter().map(|r| r.timestamp_ms).max().unwrap());

        let mut count = 0;
        for (i, (view, record)) in records(&batch).unwrap().zip(&input).enumerate() {
            let view = view.unwrap();
            prop_assert_eq!(view.offset, base_offset + i as i64);
            prop_assert_eq!(view.timestamp_ms, record.timestamp_ms);
            prop_assert_eq!(view.key, record.key);
            prop_assert_eq!(view.value, record.value);
            prop_assert_eq!(view.header_count(), record.headers.len());
            let got: Vec<HeaderView<'_>> = view.headers().map(Result::unwrap).collect();
            let want: Vec<HeaderView<'_>> = record
                .headers
                .iter()
                .map(|h| HeaderView { key: h.key, value: h.value })
                .collect();
            prop_assert_eq!(got, want);
            count += 1;
        }
        prop_assert_eq!(count, input.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256), tail in vec(any::<u8>(), 0..200)) {
        // Give the garbage a plausible frame so that the record parser gets exercised.
        let mut framed = bytes.clone();
        if framed.len() >= 61 {
            let length = (framed.len() - 12) as i32;
            framed[8..12].copy_from_slice(&length.to_be_bytes());
            framed[16] = 2;
            framed[21] &= 0xf8;
            framed.extend_from_slice(&tail);
        }
        let limits = BatchLimits::default();
        for input in [&bytes, &framed] {
            let _ = validate_batch(input, &limits);
            if let Ok(iter) = records(input) {
                for record in iter {
                    let Ok(record) = record else { break };
                    for header in record.headers() {
                        let _ = header;
                    }
                }
            }
        }
    }
}
