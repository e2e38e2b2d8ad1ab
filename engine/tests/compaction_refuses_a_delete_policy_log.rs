//! `Log::compact` refuses a log whose cleanup policy is not `compact`, with a typed error that
//! names the directory and the policy, and changes nothing: such a log's old data is
//! retention's to delete, and its records may have no key.

mod common;

use common::{config, open_log, segment_files};
use ringlog::compaction::CompactOptions;
use ringlog::record::Record;
use ringlog::{CleanupPolicy, Config, IoMode, MaintenanceError};

#[test]
fn compacting_a_delete_policy_log_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = open_log(
        dir.path(),
        Config {
            segment_bytes: 4096,
            max_batch_bytes: 4096,
            cleanup_policy: CleanupPolicy::Delete,
            ..config(IoMode::DEFAULT)
        },
    );
    let value = [5u8; 100];
    for i in 0..100u64 {
        let key = format!("key-{}", i % 3);
        log.append(&[Record {
            key: (i % 2 == 0).then_some(key.as_bytes()),
            value: Some(&value),
            timestamp_ms: 1_000,
            headers: &[],
        }])
        .expect("append succeeds");
    }
    let files = segment_files(dir.path());
    let size = log.size_bytes();
    match log.compact(&CompactOptions::default()) {
        Err(error @ MaintenanceError::NotCompacted { .. }) => {
            let MaintenanceError::NotCompacted { path, policy } = &error else {
                unreachable!()
            };
            assert_eq!(path, dir.path());
            assert_eq!(*policy, CleanupPolicy::Delete);
            let message = error.to_string();
            assert!(
                message.contains("cleanup policy delete") && message.contains("compact"),
                "{message}"
            );
        }
        other => panic!("a delete log was compacted: {other:?}"),
    }
    assert_eq!(log.size_bytes(), size);
    assert_eq!(segment_files(dir.path()), files);
    assert!(
        !dir.path()
            .join(ringlog::compaction::CLEANER_CHECKPOINT_FILE)
            .exists()
    );
}
