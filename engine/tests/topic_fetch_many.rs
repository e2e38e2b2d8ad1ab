//! `TopicManager::fetch_many`, Kafka's multi-partition fetch: each partition gets at most
//! `max_partition_bytes` and all together at most `max_total_bytes`, in whole batches; the
//! first partition with data returns one whole batch even when it is larger than both budgets;
//! once the total is spent later partitions return nothing (and say where to fetch next); an
//! unknown topic, partition or offset fails its own entry only. Runs on every I/O path.

mod common;
mod topic_common;

use common::for_each_io_mode;
use ringlog::topic::{PartitionFetch, PartitionFetched};
use ringlog::{ReadError, TopicConfig, TopicError, TopicManager};
use topic_common::{batch_spans, open_manager, record};

/// Partitions of the evenly filled topic.
const PARTITIONS: u32 = 4;
/// Batches in each of its partitions, one record each, all the same size.
const BATCHES: u64 = 6;
const VALUE_BYTES: usize = 100;

fn create(manager: &TopicManager, name: &str, partitions: u32) {
    manager
        .create_topic(
            name,
            TopicConfig {
                partitions,
                ..TopicConfig::default()
            },
        )
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
}

/// Fills every partition of `even` with [`BATCHES`] equal batches; returns their size.
fn fill_even(manager: &TopicManager) -> usize {
    create(manager, "even", PARTITIONS);
    let value = vec![7_u8; VALUE_BYTES];
    for p in 0..PARTITIONS {
        for _ in 0..BATCHES {
            manager
                .produce("even", Some(p), &[record(Some(b"k"), &value)])
                .expect("produce");
        }
    }
    let fetched = manager.fetch("even", 0, 0, 1 << 20).expect("fetch");
    let spans = batch_spans(&fetched.bytes);
    assert_eq!(spans.len() as u64, BATCHES);
    let size = spans[0].total_bytes;
    assert!(spans.iter().all(|s| s.total_bytes == size), "equal batches");
    size
}

fn request(topic: &str, partition: u32, offset: u64) -> PartitionFetch {
    PartitionFetch {
        topic: topic.to_string(),
        partition,
        offset,
    }
}

/// Batches each request of `requests` (on `even`) should get, by the documented rules.
fn expected_batches(
    requests: &[PartitionFetch],
    batch_bytes: usize,
    max_total_bytes: usize,
    max_partition_bytes: usize,
) -> Vec<u64> {
    let mut remaining = max_total_bytes;
    let mut any_data = false;
    requests
        .iter()
        .map(|r| {
            let available = BATCHES - r.offset;
            let fit = (remaining.min(max_partition_bytes) / batch_bytes) as u64;
            let count = if !any_data && available > 0 {
                fit.max(1)
            } else {
                fit
            }
            .min(available);
            any_data |= count > 0;
            remaining = remaining.saturating_sub(count as usize * batch_bytes);
            count
        })
        .collect()
}

/// Checks one entry: `batches` whole batches from the requested offset, and the offsets to go
/// on from.
fn assert_entry(entry: &PartitionFetched, asked: &PartitionFetch, batches: u64, end: u64) {
    assert_eq!(
        (entry.topic.as_str(), entry.partition),
        (asked.topic.as_str(), asked.partition),
        "entries come back in request order"
    );
    let what = format!("{}/{} at {}", asked.topic, asked.partition, asked.offset);
    let fetched = entry
        .result
        .as_ref()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let spans = batch_spans(&fetched.bytes);
    assert_eq!(
        spans.len() as u64,
        batches,
        "{what}: batches returned ({} bytes)",
        fetched.bytes.len()
    );
    if let Some(first) = spans.first() {
        assert!(first.base_offset <= asked.offset && asked.offset <= first.last_offset);
    }
    let next = spans.last().map_or(asked.offset, |s| s.last_offset + 1);
    assert_eq!(fetched.next_fetch_offset, next, "{what}: next_fetch_offset");
    assert_eq!(fetched.high_watermark, end, "{what}: high_watermark");
}

#[test]
fn budgets_cap_each_partition_and_the_total() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        let b = fill_even(&manager);
        // First with the batches still in memory, then read from disk after a reopen.
        check_budgets(&manager, b);
        manager.close().expect("close");
        drop(manager);
        let manager = open_manager(dir.path(), io_mode);
        check_budgets(&manager, b);
        manager.close().expect("close");
    });
}

fn check_budgets(manager: &TopicManager, b: usize) {
    let requests = [
        request("even", 0, 0),
        request("even", 1, 2),
        request("even", 2, 5),
        request("even", 3, 0),
    ];
    // (total, per partition): total left over smaller than a batch; total spent exactly;
    // the per-partition cap binding; the remaining-available count binding; budgets
    // smaller than a batch everywhere.
    let budgets = [
        (5 * b + b / 2, 2 * b + b / 2),
        (5 * b, 2 * b + b / 2),
        (100 * b, b + b / 2),
        (100 * b, 100 * b),
        (b / 2, b / 3),
        (3 * b, 100 * b),
    ];
    for (total, per) in budgets {
        let want = expected_batches(&requests, b, total, per);
        let got = manager.fetch_many(&requests, total, per);
        assert_eq!(got.len(), requests.len());
        let returned: usize = got
            .iter()
            .map(|e| e.result.as_ref().map_or(0, |f| f.bytes.len()))
            .sum();
        eprintln!("total {total} per {per} (batch {b}): expect batches {want:?}");
        for ((entry, asked), &batches) in got.iter().zip(&requests).zip(&want) {
            assert_entry(entry, asked, batches, BATCHES);
            let bytes = entry.result.as_ref().expect("checked").bytes.len();
            if entry.partition != 0 {
                assert!(
                    bytes <= per,
                    "partition {}: over its budget",
                    entry.partition
                );
            }
        }
        assert!(
            returned <= total.max(b),
            "{returned} bytes returned for a total budget of {total}"
        );
    }
}

#[test]
fn first_partition_with_data_returns_one_batch_over_both_budgets() {
    const BIG_RECORDS: u64 = 10;
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        create(&manager, "big", 3);
        // Partition 0 stays empty; partition 1 starts with a batch of about 10 KiB followed by
        // small ones; partition 2 holds small batches.
        let large = vec![1_u8; 1000];
        let big: Vec<_> = (0..BIG_RECORDS)
            .map(|_| record(Some(b"b"), &large))
            .collect();
        manager.produce("big", Some(1), &big).expect("produce big");
        for p in [1, 2] {
            for _ in 0..3 {
                manager
                    .produce("big", Some(p), &[record(Some(b"s"), b"small")])
                    .expect("produce small");
            }
        }
        let big_bytes =
            batch_spans(&manager.fetch("big", 1, 0, 1).expect("fetch").bytes)[0].total_bytes;
        assert!(big_bytes > 10_000);

        let requests = [
            request("big", 0, 0),
            request("ghost", 0, 0),
            request("big", 1, 0),
            request("big", 2, 0),
        ];
        for (total, per) in [
            (2000, 1000),
            (0, 0),
            (big_bytes - 1, big_bytes - 1),
            (1, 100_000),
        ] {
            eprintln!("total {total} per {per} (big batch {big_bytes})");
            let got = manager.fetch_many(&requests, total, per);
            assert_entry(&got[0], &requests[0], 0, 0);
            assert!(
                matches!(&got[1].result, Err(TopicError::UnknownTopic { topic }) if topic == "ghost")
            );
            assert_entry(&got[2], &requests[2], 1, BIG_RECORDS + 3);
            assert_eq!(
                got[2].result.as_ref().expect("checked").bytes.len(),
                big_bytes,
                "the whole big batch and nothing after it"
            );
            assert_entry(&got[3], &requests[3], 0, 3);
        }
        // A small batch first uses up the budget as well: the big one is not returned.
        let got = manager.fetch_many(
            &[request("big", 2, 0), request("big", 1, 0)],
            big_bytes,
            big_bytes,
        );
        assert_entry(&got[0], &request("big", 2, 0), 3, 3);
        assert_entry(&got[1], &request("big", 1, 0), 0, BIG_RECORDS + 3);
        manager.close().expect("close");
    });
}

#[test]
fn unknown_topics_partitions_and_offsets_fail_their_entry_only() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        fill_even(&manager);
        let requests = [
            request("ghost", 0, 0),
            request("even", 9, 0),
            request("even", 0, 0),
            request("even", 1, BATCHES + 100),
            request("even", 2, 3),
            request("even", 3, BATCHES),
        ];
        let got = manager.fetch_many(&requests, 1 << 20, 1 << 20);
        assert_eq!(got.len(), requests.len());
        match &got[0].result {
            Err(TopicError::UnknownTopic { topic }) => assert_eq!(topic, "ghost"),
            other => panic!("unknown topic: expected UnknownTopic, got {other:?}"),
        }
        assert_eq!((got[0].topic.as_str(), got[0].partition), ("ghost", 0));
        match &got[1].result {
            Err(TopicError::UnknownPartition {
                topic,
                partition,
                partitions,
            }) => assert_eq!(
                (topic.as_str(), *partition, *partitions),
                ("even", 9, PARTITIONS)
            ),
            other => panic!("unknown partition: expected UnknownPartition, got {other:?}"),
        }
        assert_entry(&got[2], &requests[2], BATCHES, BATCHES);
        match &got[3].result {
            Err(TopicError::Read {
                topic,
                partition,
                source: ReadError::OffsetOutOfRange { requested, .. },
            }) => assert_eq!(
                (topic.as_str(), *partition, *requested),
                ("even", 1, BATCHES + 100)
            ),
            other => panic!("offset past the end: expected OffsetOutOfRange, got {other:?}"),
        }
        assert_entry(&got[4], &requests[4], BATCHES - 3, BATCHES);
        assert_entry(&got[5], &requests[5], 0, BATCHES);
        manager.close().expect("close");
    });
}
