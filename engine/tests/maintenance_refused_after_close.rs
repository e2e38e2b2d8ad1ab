//! A closed log is never maintained: compaction and retention refuse it with
//! `MaintenanceError::Closed` and touch no file, since its directory may be gone or belong to a
//! new topic of the same name by then (see `topic_delete_waits_for_compaction.rs`).

mod common;

use common::{config, open_log, segment_files};
use ringlog::compaction::CompactOptions;
use ringlog::record::Record;
use ringlog::{CleanupPolicy, Config, IoMode, MaintenanceError};

#[test]
fn compaction_and_retention_refuse_a_closed_log() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = open_log(
        dir.path(),
        Config {
            segment_bytes: 4096,
            max_batch_bytes: 4096,
            cleanup_policy: CleanupPolicy::Compact,
            retention_bytes: Some(4096),
            retention_check_interval_ms: None,
            ..config(IoMode::DEFAULT)
        },
    );
    let value = [5u8; 100];
    for i in 0..200u64 {
        let key = format!("key-{}", i % 7);
        log.append(&[Record {
            key: Some(key.as_bytes()),
            value: Some(&value),
            timestamp_ms: 1_000,
            headers: &[],
        }])
        .expect("append succeeds");
    }
    log.close().expect("close succeeds");
    let files = segment_files(dir.path());
    for result in [
        log.compact(&CompactOptions::default()).map(|_| ()),
        log.enforce_retention_at(i64::MAX).map(|_| ()),
    ] {
        match result {
            Err(error @ MaintenanceError::Closed { .. }) => {
                let message = error.to_string();
                assert!(
                    message.contains(&dir.path().display().to_string())
                        && message.contains("closed"),
                    "{message}"
                );
            }
            other => panic!("a closed log was maintained: {other:?}"),
        }
    }
    assert_eq!(segment_files(dir.path()), files, "no file changed");
    assert!(
        !dir.path()
            .join(ringlog::compaction::CLEANER_CHECKPOINT_FILE)
            .exists()
    );
}
