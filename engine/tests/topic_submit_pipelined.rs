//! `TopicManager::submit` keeps several produce requests to one partition in flight under
//! `Sync`: each handle resolves to its own contiguous offsets, every record reads back, and an
//! unknown partition is refused at submission.

mod common;
mod topic_common;

use common::for_each_io_mode;
use ringlog::{Durability, TopicConfig, TopicError};
use topic_common::{open_manager, read_partition, record};

const REQUESTS: u64 = 8;
const RECORDS_PER_REQUEST: u64 = 3;

#[test]
fn topic_submit_keeps_requests_in_flight() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        let config = TopicConfig {
            partitions: 2,
            durability: Durability::Sync,
            ..TopicConfig::default()
        };
        manager.create_topic("t", config).expect("create");
        let values: Vec<Vec<u8>> = (0..REQUESTS * RECORDS_PER_REQUEST)
            .map(|i| format!("value-{i}").into_bytes())
            .collect();
        let handles: Vec<_> = values
            .chunks(RECORDS_PER_REQUEST as usize)
            .map(|chunk| {
                let records: Vec<_> = chunk.iter().map(|v| record(None, v)).collect();
                manager.submit("t", 1, &records).expect("submit")
            })
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            let info = handle.wait().expect("wait");
            let base = i as u64 * RECORDS_PER_REQUEST;
            assert_eq!(
                (info.base_offset, info.last_offset),
                (base, base + 2),
                "request {i}"
            );
        }
        let read: Vec<Vec<u8>> = read_partition(&manager, "t", 1)
            .into_iter()
            .map(|r| r.value.expect("value"))
            .collect();
        assert_eq!(read, values, "every record reads back in order");
        assert!(
            read_partition(&manager, "t", 0).is_empty(),
            "partition 0 untouched"
        );
        let unknown = manager.submit("t", 2, &[record(None, b"x")]).map(|_| ());
        assert!(
            matches!(
                unknown,
                Err(TopicError::UnknownPartition { partition: 2, .. })
            ),
            "{unknown:?}"
        );
    });
}
