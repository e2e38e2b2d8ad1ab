//! A topic's life through the topic manager: create, list, describe, produce, close and reopen
//! (same topics, settings, partition counts and records), grow, delete (directories and
//! metadata gone) and recreate under the same name (empty). Errors for unknown topics and
//! partitions name what was asked for. Runs on every I/O path.

mod common;
mod topic_common;

use std::path::Path;

use common::for_each_io_mode;
use ringlog::topic::metadata::metadata_path;
use ringlog::{CleanupPolicy, Durability, TopicConfig, TopicError, TopicManager};
use topic_common::{Decoded, open_manager, read_partition, record};

/// Settings of the topics created here: small segments so the files stay small.
fn topic_config(partitions: u32) -> TopicConfig {
    TopicConfig {
        partitions,
        segment_bytes: 1 << 20,
        ..TopicConfig::default()
    }
}

/// Produces `count` records to each partition of `topic`, explicitly placed, with values that
/// name topic, partition and index; returns what each partition should hold.
fn fill(manager: &TopicManager, topic: &str, partitions: u32, count: u64) -> Vec<Vec<Decoded>> {
    (0..partitions)
        .map(|p| {
            let first = manager
                .partition(topic, p)
                .expect("partition exists")
                .next_offset();
            (first..first + count)
                .map(|offset| {
                    let key = format!("k{offset}").into_bytes();
                    let value = format!("{topic}/{p}/{offset}").into_bytes();
                    let result = manager
                        .produce(topic, Some(p), &[record(Some(&key), &value)])
                        .expect("produce succeeds");
                    assert_eq!(result.len(), 1, "an explicit partition gets one batch");
                    assert_eq!(
                        (
                            result[0].partition,
                            result[0].base_offset,
                            result[0].last_offset
                        ),
                        (p, offset, offset)
                    );
                    Decoded {
                        offset,
                        key: Some(key),
                        value: Some(value),
                    }
                })
                .collect()
        })
        .collect()
}

/// The `"state"` written in `topic`'s metadata file.
fn metadata_state(data_dir: &Path, topic: &str) -> String {
    let path = metadata_path(data_dir, topic);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("metadata is JSON");
    json["state"]
        .as_str()
        .unwrap_or_else(|| panic!("no state in {text}"))
        .to_string()
}

fn assert_topic_gone(data_dir: &Path, topic: &str, partitions: u32) {
    for p in 0..partitions {
        let dir = data_dir.join(format!("{topic}-{p}"));
        assert!(!dir.exists(), "{} survives the delete", dir.display());
    }
    let path = metadata_path(data_dir, topic);
    assert!(!path.exists(), "{} survives the delete", path.display());
}

#[test]
fn create_list_describe_delete() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        assert!(manager.list_topics().is_empty());

        let orders_config = topic_config(3);
        let created = manager
            .create_topic("orders", orders_config.clone())
            .expect("create orders");
        assert_eq!(created.name, "orders");
        assert_eq!(created.config, orders_config);
        assert_eq!(created.partitions.len(), 3);
        for (p, partition) in created.partitions.iter().enumerate() {
            assert_eq!(partition.partition, p as u32);
            assert_eq!((partition.start_offset, partition.next_offset), (0, 0));
            assert!(dir.path().join(format!("orders-{p}")).is_dir());
        }
        assert_eq!(metadata_state(dir.path(), "orders"), "live");
        let audit_config = TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            ..topic_config(1)
        };
        manager
            .create_topic("audit", audit_config.clone())
            .expect("create audit");

        assert_eq!(manager.list_topics(), ["audit", "orders"]);
        assert_eq!(manager.describe_topic("orders").expect("describe"), created);
        assert_eq!(
            manager.describe_topic("audit").expect("describe").config,
            audit_config
        );

        match manager.create_topic("orders", topic_config(5)) {
            Err(TopicError::AlreadyExists { topic }) => assert_eq!(topic, "orders"),
            other => panic!("second create of orders: expected AlreadyExists, got {other:?}"),
        }
        let err = manager.create_topic("orders", topic_config(1)).unwrap_err();
        assert_eq!(err.to_string(), "topic \"orders\" already exists");
        assert_eq!(
            manager
                .describe_topic("orders")
                .expect("describe")
                .partitions
                .len(),
            3,
            "a refused create leaves the topic alone"
        );

        manager.delete_topic("audit").expect("delete audit");
        assert_eq!(manager.list_topics(), ["orders"]);
        assert_topic_gone(dir.path(), "audit", 1);
        assert!(matches!(
            manager.describe_topic("audit"),
            Err(TopicError::UnknownTopic { topic }) if topic == "audit"
        ));
        assert!(matches!(
            manager.delete_topic("audit"),
            Err(TopicError::UnknownTopic { topic }) if topic == "audit"
        ));
        manager.close().expect("close");
    });
}

#[test]
fn topics_settings_and_records_survive_reopen() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let orders_config = TopicConfig {
            retention_ms: None,
            retention_bytes: Some(1 << 30),
            durability: Durability::Write,
            ..topic_config(3)
        };
        let events_config = TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            min_cleanable_dirty_ratio: 0.25,
            delete_retention_ms: 1234,
            ..topic_config(2)
        };
        let (orders, events) = {
            let manager = open_manager(dir.path(), io_mode);
            manager
                .create_topic("orders", orders_config.clone())
                .expect("create orders");
            manager
                .create_topic("events", events_config.clone())
                .expect("create events");
            let orders = fill(&manager, "orders", 3, 20);
            let events = fill(&manager, "events", 2, 7);
            manager.close().expect("close");
            (orders, events)
        };

        let manager = open_manager(dir.path(), io_mode);
        assert_eq!(manager.list_topics(), ["events", "orders"]);
        for (topic, config, expected) in [
            ("orders", &orders_config, &orders),
            ("events", &events_config, &events),
        ] {
            let description = manager.describe_topic(topic).expect("describe");
            assert_eq!(
                &description.config, config,
                "{topic}: settings after reopen"
            );
            assert_eq!(description.partitions.len(), expected.len());
            for (p, records) in expected.iter().enumerate() {
                let p32 = p as u32;
                assert_eq!(
                    description.partitions[p].next_offset,
                    records.len() as u64,
                    "{topic}/{p}: next offset after reopen"
                );
                assert!(description.partitions[p].size_bytes > 0);
                assert_eq!(
                    &read_partition(&manager, topic, p32),
                    records,
                    "{topic}/{p}: records after reopen"
                );
            }
        }
        // Offsets continue where they stopped.
        let more = fill(&manager, "orders", 3, 2);
        assert_eq!(more[1][0].offset, 20);
        manager.close().expect("close");
    });
}

#[test]
fn delete_removes_everything_and_recreate_starts_empty() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        manager
            .create_topic("t", topic_config(3))
            .expect("create t");
        manager
            .create_topic("keep", topic_config(1))
            .expect("create keep");
        fill(&manager, "t", 3, 10);
        let kept = fill(&manager, "keep", 1, 3);
        // Held over the delete: the log keeps no directory alive.
        let held = manager.partition("t", 0).expect("partition");

        manager.delete_topic("t").expect("delete t");
        assert_topic_gone(dir.path(), "t", 3);
        assert_eq!(manager.list_topics(), ["keep"]);
        drop(held);

        let recreated = manager
            .create_topic("t", topic_config(2))
            .expect("recreate t");
        assert_eq!(recreated.partitions.len(), 2);
        for partition in &recreated.partitions {
            assert_eq!(
                (
                    partition.start_offset,
                    partition.next_offset,
                    partition.size_bytes
                ),
                (0, 0, 0),
                "partition {} of the recreated topic is empty",
                partition.partition
            );
        }
        assert!(!dir.path().join("t-2").exists());
        for p in 0..2 {
            assert!(read_partition(&manager, "t", p).is_empty());
        }
        let fresh = fill(&manager, "t", 2, 1);
        assert_eq!(
            fresh[0][0].offset, 0,
            "the recreated topic's offsets start at 0"
        );
        manager.close().expect("close");
        drop(manager);

        let manager = open_manager(dir.path(), io_mode);
        assert_eq!(manager.list_topics(), ["keep", "t"]);
        assert_eq!(read_partition(&manager, "t", 0), fresh[0]);
        assert_eq!(read_partition(&manager, "t", 1), fresh[1]);
        assert_eq!(read_partition(&manager, "keep", 0), kept[0]);
        manager.close().expect("close");
    });
}

#[test]
fn add_partitions_grows_and_refuses_shrinking() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        manager
            .create_topic("grow", topic_config(2))
            .expect("create grow");
        let before = fill(&manager, "grow", 2, 4);

        let grown = manager.add_partitions("grow", 5).expect("grow to 5");
        assert_eq!(grown.config.partitions, 5);
        assert_eq!(grown.partitions.len(), 5);
        for p in 2..5 {
            assert_eq!(grown.partitions[p].next_offset, 0);
            assert!(dir.path().join(format!("grow-{p}")).is_dir());
        }
        assert_eq!(read_partition(&manager, "grow", 0), before[0]);
        assert_eq!(read_partition(&manager, "grow", 1), before[1]);
        let added = fill(&manager, "grow", 5, 2);

        match manager.add_partitions("grow", 3) {
            Err(TopicError::PartitionsCannotShrink {
                topic,
                current,
                requested,
            }) => assert_eq!((topic.as_str(), current, requested), ("grow", 5, 3)),
            other => panic!("shrink to 3: expected PartitionsCannotShrink, got {other:?}"),
        }
        let err = manager.add_partitions("grow", 1).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("\"grow\"") && message.contains('5') && message.contains('1'),
            "{message}"
        );
        assert_eq!(
            manager
                .describe_topic("grow")
                .expect("describe")
                .partitions
                .len(),
            5
        );
        assert!(matches!(
            manager.add_partitions("ghost", 4),
            Err(TopicError::UnknownTopic { topic }) if topic == "ghost"
        ));
        manager.close().expect("close");
        drop(manager);

        let manager = open_manager(dir.path(), io_mode);
        let description = manager.describe_topic("grow").expect("describe");
        assert_eq!(description.config.partitions, 5);
        assert_eq!(description.partitions.len(), 5);
        for (p, records) in added.iter().enumerate() {
            let expected: Vec<Decoded> = before
                .get(p)
                .into_iter()
                .flatten()
                .chain(records)
                .cloned()
                .collect();
            assert_eq!(
                read_partition(&manager, "grow", p as u32),
                expected,
                "grow/{p} after reopen"
            );
        }
        manager.close().expect("close");
    });
}

#[test]
fn unknown_topics_and_partitions_are_named_in_errors() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        manager
            .create_topic("three", topic_config(3))
            .expect("create three");
        let value = b"v".as_slice();
        let one = [record(Some(b"k"), value)];

        let unknown_topic = [
            ("describe", manager.describe_topic("ghost").err()),
            ("delete", manager.delete_topic("ghost").err()),
            ("add partitions", manager.add_partitions("ghost", 2).err()),
            ("produce routed", manager.produce("ghost", None, &one).err()),
            (
                "produce explicit",
                manager.produce("ghost", Some(0), &one).err(),
            ),
            ("fetch", manager.fetch("ghost", 0, 0, 1024).err()),
            ("partition", manager.partition("ghost", 0).err()),
        ];
        for (op, err) in unknown_topic {
            let err = err.unwrap_or_else(|| panic!("{op} of an unknown topic succeeded"));
            assert!(
                matches!(&err, TopicError::UnknownTopic { topic } if topic == "ghost"),
                "{op}: expected UnknownTopic naming ghost, got {err:?}"
            );
            assert_eq!(err.to_string(), "unknown topic \"ghost\"", "{op}");
        }

        let unknown_partition = [
            ("fetch", 3, manager.fetch("three", 3, 0, 1024).err()),
            ("partition", 4, manager.partition("three", 4).err()),
            ("produce", 7, manager.produce("three", Some(7), &one).err()),
        ];
        for (op, asked, err) in unknown_partition {
            let err = err.unwrap_or_else(|| panic!("{op} of partition {asked} succeeded"));
            match &err {
                TopicError::UnknownPartition {
                    topic,
                    partition,
                    partitions,
                } => assert_eq!(
                    (topic.as_str(), *partition, *partitions),
                    ("three", asked, 3)
                ),
                other => panic!("{op}: expected UnknownPartition, got {other:?}"),
            }
            assert_eq!(
                err.to_string(),
                format!("topic \"three\" has no partition {asked}: it has 3"),
                "{op}"
            );
        }
        for p in 0..3 {
            assert!(
                read_partition(&manager, "three", p).is_empty(),
                "a refused produce wrote nothing"
            );
        }
        manager.close().expect("close");
    });
}
