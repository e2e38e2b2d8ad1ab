//! Where `TopicManager::produce` puts records: a keyed record on Kafka's partition for its key
//! (`partition_for_key`), a batch of mixed keys split into one batch per partition, keyless
//! records on one partition per call and spread evenly over calls, an explicit partition taken
//! as given, and a compacted topic refusing records without a key. Placement is checked by
//! fetching every partition and decoding its batches. Runs on every I/O path.

mod common;
mod topic_common;

use std::collections::BTreeMap;

use common::for_each_io_mode;
use ringlog::record::Record;
use ringlog::topic::partitioner::partition_for_key;
use ringlog::{AppendError, CleanupPolicy, TopicConfig, TopicError, TopicManager};
use topic_common::{batch_spans, decode, open_manager, read_partition, record};

/// A record's key and value as read back.
type KeyValue = (Option<Vec<u8>>, Vec<u8>);

fn create(manager: &TopicManager, name: &str, partitions: u32, cleanup_policy: CleanupPolicy) {
    manager
        .create_topic(
            name,
            TopicConfig {
                partitions,
                cleanup_policy,
                ..TopicConfig::default()
            },
        )
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
}

/// Sizes of the batches each partition of `topic` holds, as `(base_offset, records)`.
fn batches(manager: &TopicManager, topic: &str, partition: u32) -> Vec<(u64, u64)> {
    let fetched = manager
        .fetch(topic, partition, 0, 1 << 20)
        .expect("fetch the partition");
    assert_eq!(
        fetched.next_fetch_offset, fetched.high_watermark,
        "one fetch reads it all"
    );
    batch_spans(&fetched.bytes)
        .iter()
        .map(|s| (s.base_offset, s.last_offset - s.base_offset + 1))
        .collect()
}

#[test]
fn keyed_records_land_on_kafkas_partition_for_the_key() {
    const PARTITIONS: u32 = 5;
    const KEYS: usize = 200;
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        create(&manager, "keyed", PARTITIONS, CleanupPolicy::Delete);
        let keys: Vec<Vec<u8>> = (0..KEYS).map(|i| format!("key-{i}").into_bytes()).collect();
        for key in &keys {
            let results = manager
                .produce("keyed", None, &[record(Some(key), key)])
                .expect("produce");
            assert_eq!(results.len(), 1);
            assert_eq!(
                results[0].partition,
                partition_for_key(key, PARTITIONS),
                "produce reports Kafka's partition for {key:?}"
            );
        }
        let mut found = 0;
        for p in 0..PARTITIONS {
            for r in read_partition(&manager, "keyed", p) {
                let key = r.key.expect("keyed record");
                assert_eq!(
                    partition_for_key(&key, PARTITIONS),
                    p,
                    "{:?} stored in partition {p}",
                    String::from_utf8_lossy(&key)
                );
                assert_eq!(r.value.as_deref(), Some(key.as_slice()));
                found += 1;
            }
        }
        assert_eq!(found, KEYS, "every record stored once");
        // Every partition is used by 200 keys: the hash spreads them.
        for p in 0..PARTITIONS {
            assert!(
                !read_partition(&manager, "keyed", p).is_empty(),
                "partition {p} unused"
            );
        }
        manager.close().expect("close");
    });
}

#[test]
fn a_batch_of_mixed_keys_is_split_per_partition() {
    const PARTITIONS: u32 = 4;
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        create(&manager, "mixed", PARTITIONS, CleanupPolicy::Delete);
        // Ten keys, each four times, interleaved; plus keyless records, which all go to the
        // one partition this call sticks to.
        let keys: Vec<Option<Vec<u8>>> = (0..40)
            .map(|i| (i % 7 != 3).then(|| format!("k{}", i % 10).into_bytes()))
            .collect();
        let values: Vec<Vec<u8>> = (0..40).map(|i| format!("v{i}").into_bytes()).collect();
        let records: Vec<Record<'_>> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| record(k.as_deref(), v))
            .collect();
        let results = manager.produce("mixed", None, &records).expect("produce");

        let sticky = results
            .iter()
            .map(|r| r.partition)
            .find(|&p| {
                let fetched = manager.fetch("mixed", p, 0, 1 << 20).expect("fetch");
                decode(&fetched.bytes).iter().any(|r| r.key.is_none())
            })
            .expect("the keyless records went somewhere");
        let route = |key: &Option<Vec<u8>>| {
            key.as_deref()
                .map_or(sticky, |k| partition_for_key(k, PARTITIONS))
        };
        let mut expected: BTreeMap<u32, Vec<KeyValue>> = BTreeMap::new();
        for (k, v) in keys.iter().zip(&values) {
            expected
                .entry(route(k))
                .or_default()
                .push((k.clone(), v.clone()));
        }
        assert!(
            expected.len() > 1,
            "the keys must span partitions for this test"
        );

        let reported: Vec<u32> = results.iter().map(|r| r.partition).collect();
        assert_eq!(
            reported,
            expected.keys().copied().collect::<Vec<_>>(),
            "one result per partition touched"
        );
        for result in &results {
            let want = &expected[&result.partition];
            assert_eq!(
                (result.base_offset, result.last_offset),
                (0, want.len() as u64 - 1),
                "partition {}: offsets of its batch",
                result.partition
            );
            assert_eq!(
                batches(&manager, "mixed", result.partition),
                [(0, want.len() as u64)],
                "partition {} holds exactly one batch",
                result.partition
            );
            let got: Vec<KeyValue> = read_partition(&manager, "mixed", result.partition)
                .into_iter()
                .map(|r| (r.key, r.value.expect("value")))
                .collect();
            assert_eq!(
                &got, want,
                "partition {}: its records, in the order given",
                result.partition
            );
        }
        for p in (0..PARTITIONS).filter(|p| !expected.contains_key(p)) {
            assert!(read_partition(&manager, "mixed", p).is_empty());
        }
        manager.close().expect("close");
    });
}

#[test]
fn keyless_records_stick_per_call_and_spread_evenly() {
    const PARTITIONS: u32 = 4;
    const CALLS_PER_PARTITION: usize = 25;
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        create(&manager, "keyless", PARTITIONS, CleanupPolicy::Delete);
        let calls = PARTITIONS as usize * CALLS_PER_PARTITION;
        let mut per_partition = vec![0_usize; PARTITIONS as usize];
        let mut records_per_partition = vec![0_u64; PARTITIONS as usize];
        let mut previous = None;
        for call in 0..calls {
            let values: Vec<Vec<u8>> = (0..=call % 5)
                .map(|i| format!("c{call}-{i}").into_bytes())
                .collect();
            let records: Vec<Record<'_>> = values.iter().map(|v| record(None, v)).collect();
            let results = manager.produce("keyless", None, &records).expect("produce");
            assert_eq!(
                results.len(),
                1,
                "call {call}: keyless records of one call stay on one partition"
            );
            let p = results[0].partition;
            assert_eq!(
                results[0].last_offset - results[0].base_offset + 1,
                records.len() as u64
            );
            assert_ne!(
                previous,
                Some(p),
                "call {call}: the next call moves on to another partition"
            );
            previous = Some(p);
            per_partition[p as usize] += 1;
            records_per_partition[p as usize] += records.len() as u64;
        }
        for (p, &count) in per_partition.iter().enumerate() {
            assert!(
                count.abs_diff(CALLS_PER_PARTITION) <= 1,
                "partition {p} got {count} of {calls} calls; expected {CALLS_PER_PARTITION} ± 1 \
                 (all: {per_partition:?})"
            );
            let stored = batches(&manager, "keyless", p as u32);
            assert_eq!(stored.len(), count, "partition {p}: one batch per call");
            assert_eq!(
                stored.iter().map(|&(_, n)| n).sum::<u64>(),
                records_per_partition[p]
            );
            assert!(
                read_partition(&manager, "keyless", p as u32)
                    .iter()
                    .all(|r| r.key.is_none())
            );
        }
        manager.close().expect("close");
    });
}

#[test]
fn an_explicit_partition_is_taken_as_given() {
    const PARTITIONS: u32 = 3;
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        create(&manager, "explicit", PARTITIONS, CleanupPolicy::Delete);
        // Keys whose own partition is not 2, and no key at all.
        let keys: Vec<Vec<u8>> = (0..)
            .map(|i| format!("x{i}").into_bytes())
            .filter(|k| partition_for_key(k, PARTITIONS) != 2)
            .take(6)
            .collect();
        let mut records: Vec<Record<'_>> = keys.iter().map(|k| record(Some(k), b"v")).collect();
        records.push(record(None, b"keyless"));
        let results = manager
            .produce("explicit", Some(2), &records)
            .expect("produce");
        assert_eq!(results.len(), 1, "an explicit partition gets one batch");
        assert_eq!(
            (
                results[0].partition,
                results[0].base_offset,
                results[0].last_offset
            ),
            (2, 0, 6)
        );
        assert_eq!(batches(&manager, "explicit", 2), [(0, 7)]);
        let stored: Vec<Option<Vec<u8>>> = read_partition(&manager, "explicit", 2)
            .into_iter()
            .map(|r| r.key)
            .collect();
        let mut want: Vec<Option<Vec<u8>>> = keys.into_iter().map(Some).collect();
        want.push(None);
        assert_eq!(stored, want);
        for p in 0..2 {
            assert!(read_partition(&manager, "explicit", p).is_empty());
        }
        manager.close().expect("close");
    });
}

#[test]
fn a_compacted_topic_refuses_records_without_a_key() {
    const PARTITIONS: u32 = 3;
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        create(&manager, "compacted", PARTITIONS, CleanupPolicy::Compact);
        let keyed = record(Some(b"k"), b"v");
        let keyless = record(None, b"v");

        let attempts: [(Option<u32>, Vec<Record<'_>>, usize); 3] = [
            (None, vec![keyless], 0),
            (Some(2), vec![keyed, keyed, keyless, keyed], 2),
            (Some(0), vec![keyless, keyed], 0),
        ];
        for (partition, records, index) in &attempts {
            match manager.produce("compacted", *partition, records) {
                Err(TopicError::Append {
                    topic,
                    partition: p,
                    source: AppendError::KeyRequired { index: got },
                    written,
                }) => {
                    assert_eq!(topic, "compacted");
                    assert!(
                        written.is_empty(),
                        "nothing was appended before the refusal"
                    );
                    if let Some(partition) = partition {
                        assert_eq!(p, *partition);
                    }
                    assert_eq!(got, *index, "the error points at the first keyless record");
                }
                other => panic!(
                    "produce {} records to {partition:?}: expected KeyRequired, got {other:?}",
                    records.len()
                ),
            }
        }
        let message = manager
            .produce("compacted", Some(1), &[keyless])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("\"compacted\"")
                && message.contains("no key")
                && message.contains("compact"),
            "{message}"
        );
        for p in 0..PARTITIONS {
            assert!(
                read_partition(&manager, "compacted", p).is_empty(),
                "a refused produce wrote to partition {p}"
            );
        }
        // Keyed records, tombstones included, are accepted.
        let tombstone = Record {
            value: None,
            ..keyed
        };
        let results = manager
            .produce("compacted", None, &[keyed, tombstone])
            .expect("keyed records are accepted");
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].partition, partition_for_key(b"k", PARTITIONS));
        manager.close().expect("close");
    });
}
