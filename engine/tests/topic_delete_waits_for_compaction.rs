//! A compaction of a topic that is deleted meanwhile never touches the files of a new topic of
//! the same name. The compaction is held (by a storage wrapper) at the creation of its
//! `.log.cleaned` file, after it has read the segments it replaces; another thread deletes the
//! topic, creates it again and produces to it. `delete_topic` must wait for the compaction, so
//! that the compaction's staged files, swap and checkpoint all land in the old directory before
//! it goes; had it not waited, the swap would replace the new topic's segment with the old
//! topic's records. The new topic must hold exactly what was produced to it, live and after a
//! reopen, and no compaction file. Runs on every I/O path.

mod common;
mod gated;
mod topic_common;

use std::sync::mpsc;
use std::time::Duration;

use common::{for_each_io_mode, shared_config};
use gated::{Gated, Step};
use ringlog::compaction::CLEANER_CHECKPOINT_FILE;
use ringlog::compaction::swap::{CLEANED_SUFFIX, REPLACES_EXTENSION, SWAP_SUFFIX};
use ringlog::record::Record;
use ringlog::{CleanupPolicy, TopicConfig, TopicError, TopicManager};
use topic_common::{dir_entries, manager_config, open_manager, read_partition};

const TOPIC: &str = "recycled";
const SEGMENT_BYTES: u64 = 4096;
const OLD_RECORDS: usize = 300;
const NEW_RECORDS: usize = 20;
const VALUE_BYTES: usize = 100;
/// How long the delete (then the create and the produce) gets to finish while the compaction
/// is held (the delete must not).
const DELETE_GRACE: Duration = Duration::from_millis(500);

fn topic_config() -> TopicConfig {
    TopicConfig {
        partitions: 1,
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: SEGMENT_BYTES,
        ..TopicConfig::default()
    }
}

fn produce(manager: &TopicManager, generation: &str, count: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut produced = Vec::new();
    for i in 0..count {
        let key = format!("{generation}-key-{}", i % 40).into_bytes();
        let mut value = format!("{generation}-value-{i}-").into_bytes();
        value.resize(VALUE_BYTES, b'.');
        manager
            .produce(
                TOPIC,
                Some(0),
                &[Record {
                    key: Some(&key),
                    value: Some(&value),
                    timestamp_ms: 1_000 + i as i64,
                    headers: &[],
                }],
            )
            .expect("produce succeeds");
        produced.push((key, value));
    }
    produced
}

/// The new topic holds exactly `produced`, at offsets from 0, and no compaction file.
fn check_new_topic(manager: &TopicManager, produced: &[(Vec<u8>, Vec<u8>)], when: &str) {
    let read = read_partition(manager, TOPIC, 0);
    let read: Vec<(u64, Vec<u8>, Vec<u8>)> = read
        .into_iter()
        .map(|r| (r.offset, r.key.expect("keyed"), r.value.expect("a value")))
        .collect();
    let expected: Vec<(u64, Vec<u8>, Vec<u8>)> = produced
        .iter()
        .enumerate()
        .map(|(i, (k, v))| (i as u64, k.clone(), v.clone()))
        .collect();
    assert_eq!(
        read, expected,
        "{when}: the new topic holds what was produced to it"
    );
    let entries = dir_entries(&manager.partition_dir(TOPIC, 0));
    let strays: Vec<&String> = entries
        .iter()
        .filter(|name| {
            name.ends_with(&format!(".{CLEANED_SUFFIX}"))
                || name.ends_with(&format!(".{SWAP_SUFFIX}"))
                || name.contains(REPLACES_EXTENSION)
                || name.starts_with(CLEANER_CHECKPOINT_FILE)
        })
        .collect();
    assert!(
        strays.is_empty(),
        "{when}: compaction files of the deleted topic in the new one: {strays:?}"
    );
}

#[test]
fn delete_topic_waits_for_its_compaction_and_a_new_topic_stays_untouched() {
    for_each_io_mode(|io_mode| {
        let root = tempfile::tempdir().expect("a temporary directory");
        let (shared, gate) = Gated::shared(root.path(), &shared_config(io_mode)).expect("shared");
        let manager = TopicManager::open_with_shared(root.path(), manager_config(io_mode), shared)
            .expect("open the manager");
        manager
            .create_topic(TOPIC, topic_config())
            .expect("create the topic");
        produce(&manager, "old", OLD_RECORDS);

        gate.arm(Step::Open, ".log.cleaned");
        let (produced, delete_finished_early, compaction) = std::thread::scope(|s| {
            let manager = &manager;
            let compaction = s.spawn(move || manager.compact_topic(TOPIC));
            let held = gate.wait_until_held();
            eprintln!("holding {held}");
            let (recreated, recreate_finished) = mpsc::channel();
            let recreate = s.spawn(move || {
                manager.delete_topic(TOPIC).expect("delete the topic");
                manager
                    .create_topic(TOPIC, topic_config())
                    .expect("create the topic again");
                let produced = produce(manager, "new", NEW_RECORDS);
                let _ = recreated.send(());
                produced
            });
            // Had the delete not waited, the new topic is there and written to before the
            // compaction goes on.
            let early = recreate_finished.recv_timeout(DELETE_GRACE).is_ok();
            gate.release();
            let compaction = compaction.join().expect("the compaction thread");
            let produced = recreate.join().expect("the delete-and-create thread");
            (produced, early, compaction)
        });
        // The compaction ran to its end in the old directory, or was refused: either way it
        // reports, and nothing of it is in the new topic.
        match compaction {
            Ok(reports) => eprintln!("compaction of the deleted topic: {reports:?}"),
            Err(TopicError::Maintenance { source, .. }) => {
                eprintln!("compaction of the deleted topic: {source}");
            }
            Err(e) => panic!("compaction fails otherwise: {e}"),
        }
        check_new_topic(&manager, &produced, "live");
        manager.close().expect("close");
        drop(manager);

        let manager = open_manager(root.path(), io_mode);
        check_new_topic(&manager, &produced, "reopened");
        assert!(
            !delete_finished_early,
            "delete_topic returned while a compaction of the topic was in flight"
        );
    });
}
