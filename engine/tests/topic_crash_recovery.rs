//! Topic metadata after a crash, simulated by writing the metadata files a crash leaves: an
//! interrupted create (`"state": "creating"`, partition directories missing or partly there)
//! is completed at open; an interrupted delete (`"state": "deleting"`, partition directories
//! still there, some with data, one past the partition count) is finished at open; a leftover
//! `*.json.tmp` is removed and the metadata it would have replaced stands; a metadata file
//! that is not valid metadata fails the open with `TopicError::Metadata` naming the file and
//! changes nothing. Runs on every I/O path.

mod common;
mod topic_common;

use std::path::Path;

use common::for_each_io_mode;
use ringlog::topic::metadata::{METADATA_DIR, metadata_path};
use ringlog::{IoMode, TopicConfig, TopicError, TopicManager};
use topic_common::{Decoded, dir_entries, manager_config, open_manager, read_partition, record};

fn config(partitions: u32) -> TopicConfig {
    TopicConfig {
        partitions,
        ..TopicConfig::default()
    }
}

/// The metadata file of a real topic, as JSON: the shape the hand-written files copy.
fn template(io_mode: IoMode) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let manager = open_manager(dir.path(), io_mode);
    manager.create_topic("template", config(1)).expect("create");
    manager.close().expect("close");
    let text = std::fs::read_to_string(metadata_path(dir.path(), "template")).expect("read");
    let json: serde_json::Value = serde_json::from_str(&text).expect("metadata is JSON");
    assert_eq!(json["name"], "template", "metadata shape: {text}");
    assert_eq!(json["state"], "live", "metadata shape: {text}");
    assert_eq!(json["config"]["partitions"], 1, "metadata shape: {text}");
    json
}

/// Writes the metadata a crash would leave for `name`.
fn write_metadata(
    data_dir: &Path,
    template: &serde_json::Value,
    name: &str,
    state: &str,
    partitions: u32,
) {
    let mut json = template.clone();
    json["name"] = name.into();
    json["state"] = state.into();
    json["config"]["partitions"] = partitions.into();
    std::fs::create_dir_all(data_dir.join(METADATA_DIR)).expect("metadata dir");
    let text = serde_json::to_string_pretty(&json).expect("serialize");
    std::fs::write(metadata_path(data_dir, name), text).expect("write metadata");
}

fn state_on_disk(data_dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(metadata_path(data_dir, name)).expect("read metadata");
    let json: serde_json::Value = serde_json::from_str(&text).expect("metadata is JSON");
    json["state"].as_str().expect("state").to_string()
}

/// Produces `count` keyed records to `partition`; returns them as they should read back.
fn produce(manager: &TopicManager, topic: &str, partition: u32, count: u64) -> Vec<Decoded> {
    (0..count)
        .map(|i| {
            let key = format!("{topic}-{partition}-{i}").into_bytes();
            let result = manager
                .produce(topic, Some(partition), &[record(Some(&key), b"value")])
                .expect("produce");
            Decoded {
                offset: result[0].base_offset,
                key: Some(key),
                value: Some(b"value".to_vec()),
            }
        })
        .collect()
}

fn partition_dir(data_dir: &Path, topic: &str, partition: u32) -> std::path::PathBuf {
    data_dir.join(format!("{topic}-{partition}"))
}

#[test]
fn interrupted_create_is_completed_at_open() {
    for_each_io_mode(|io_mode| {
        let template = template(io_mode);
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path();
        // "partly": partition 0 was created (and even written), partition 1 not yet.
        let written = {
            let manager = open_manager(data_dir, io_mode);
            manager.create_topic("partly", config(2)).expect("create");
            let written = produce(&manager, "partly", 0, 5);
            manager.close().expect("close");
            written
        };
        std::fs::remove_dir_all(partition_dir(data_dir, "partly", 1)).expect("remove");
        write_metadata(data_dir, &template, "partly", "creating", 2);
        // "half": only the metadata made it.
        write_metadata(data_dir, &template, "half", "creating", 3);

        let manager = open_manager(data_dir, io_mode);
        assert_eq!(manager.list_topics(), ["half", "partly"]);
        for (topic, partitions) in [("half", 3), ("partly", 2)] {
            assert_eq!(
                state_on_disk(data_dir, topic),
                "live",
                "{topic}: open marks a completed create live"
            );
            let description = manager.describe_topic(topic).expect("describe");
            assert_eq!(description.partitions.len(), partitions);
            for p in 0..partitions {
                assert!(partition_dir(data_dir, topic, p as u32).is_dir());
            }
        }
        assert_eq!(read_partition(&manager, "partly", 0), written);
        assert!(read_partition(&manager, "partly", 1).is_empty());
        let half = produce(&manager, "half", 2, 3);
        assert_eq!(half[0].offset, 0);
        manager.close().expect("close");
        drop(manager);

        let manager = open_manager(data_dir, io_mode);
        assert_eq!(read_partition(&manager, "half", 2), half);
        manager.close().expect("close");
    });
}

#[test]
fn interrupted_delete_is_finished_at_open() {
    for_each_io_mode(|io_mode| {
        let template = template(io_mode);
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path();
        let kept = {
            let manager = open_manager(data_dir, io_mode);
            manager.create_topic("doomed", config(4)).expect("create");
            manager.create_topic("kept", config(1)).expect("create");
            produce(&manager, "doomed", 0, 10);
            produce(&manager, "doomed", 1, 3);
            let kept = produce(&manager, "kept", 0, 4);
            manager.close().expect("close");
            kept
        };
        // The delete had removed partition 3 already; partition 4 is what an interrupted
        // add-partitions left behind, with a file in it.
        std::fs::remove_dir_all(partition_dir(data_dir, "doomed", 3)).expect("remove");
        let stray = partition_dir(data_dir, "doomed", 4);
        std::fs::create_dir(&stray).expect("stray dir");
        std::fs::write(stray.join("junk"), b"junk").expect("stray file");
        write_metadata(data_dir, &template, "doomed", "deleting", 4);

        let manager = open_manager(data_dir, io_mode);
        assert_eq!(manager.list_topics(), ["kept"]);
        for p in 0..5 {
            let dir = partition_dir(data_dir, "doomed", p);
            assert!(
                !dir.exists(),
                "{} survives the finished delete",
                dir.display()
            );
        }
        assert!(!metadata_path(data_dir, "doomed").exists());
        assert_eq!(
            dir_entries(data_dir),
            [METADATA_DIR, "kept-0"],
            "only the kept topic is left"
        );
        assert_eq!(read_partition(&manager, "kept", 0), kept);

        // The name is free again, and starts empty.
        manager.create_topic("doomed", config(2)).expect("recreate");
        assert!(read_partition(&manager, "doomed", 0).is_empty());
        manager.close().expect("close");
    });
}

#[test]
fn leftover_temporary_metadata_is_removed_and_the_old_file_stands() {
    for_each_io_mode(|io_mode| {
        let template = template(io_mode);
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path();
        let written = {
            let manager = open_manager(data_dir, io_mode);
            manager.create_topic("t", config(2)).expect("create");
            let written = produce(&manager, "t", 1, 3);
            manager.close().expect("close");
            written
        };
        // A crash inside a write of t's metadata (an add-partitions to 5), and inside the
        // first metadata write of a create of "x", cut off mid-file.
        let mut grown = template.clone();
        grown["name"] = "t".into();
        grown["config"]["partitions"] = 5.into();
        let meta_dir = data_dir.join(METADATA_DIR);
        std::fs::write(
            meta_dir.join("t.json.tmp"),
            serde_json::to_vec(&grown).expect("serialize"),
        )
        .expect("write tmp");
        std::fs::write(meta_dir.join("x.json.tmp"), b"{\"name\": \"x\", \"sta").expect("tmp");

        let manager = open_manager(data_dir, io_mode);
        assert_eq!(
            dir_entries(&meta_dir),
            ["t.json"],
            "open removes leftover temporary files"
        );
        assert_eq!(manager.list_topics(), ["t"]);
        let description = manager.describe_topic("t").expect("describe");
        assert_eq!(description.config.partitions, 2, "the old metadata stands");
        assert_eq!(description.partitions.len(), 2);
        assert!(!partition_dir(data_dir, "t", 2).exists());
        assert_eq!(read_partition(&manager, "t", 1), written);
        manager.close().expect("close");
    });
}

#[test]
fn garbage_metadata_fails_open_naming_the_file() {
    for_each_io_mode(|io_mode| {
        let template = template(io_mode);
        let valid = serde_json::to_string_pretty(&template).expect("serialize");
        let mut zero = template.clone();
        zero["name"] = "zero".into();
        zero["config"]["partitions"] = 0.into();
        let mut dot = template.clone();
        dot["name"] = ".".into();
        // (file name, contents, what the reason should say)
        let cases: [(&str, String, &str); 6] = [
            (
                "bad.json",
                "{not json".to_string(),
                "not valid topic metadata",
            ),
            (
                "cut.json",
                valid
                    .replace("\"template\"", "\"cut\"")
                    .chars()
                    .take(valid.len() / 2)
                    .collect(),
                "not valid topic metadata",
            ),
            ("empty.json", String::new(), "not valid topic metadata"),
            ("other.json", valid.clone(), "\"template\""),
            ("zero.json", zero.to_string(), "partitions 0"),
            ("..json", dot.to_string(), "'.' and '..'"),
        ];
        for (file, contents, reason_says) in &cases {
            let dir = tempfile::tempdir().expect("temp dir");
            let data_dir = dir.path();
            let written = {
                let manager = open_manager(data_dir, io_mode);
                manager.create_topic("good", config(1)).expect("create");
                let written = produce(&manager, "good", 0, 2);
                manager.close().expect("close");
                written
            };
            let before = dir_entries(data_dir);
            let path = data_dir.join(METADATA_DIR).join(file);
            std::fs::write(&path, contents).expect("write garbage");

            match TopicManager::open(data_dir, manager_config(io_mode)) {
                Err(TopicError::Metadata {
                    path: reported,
                    reason,
                }) => {
                    assert_eq!(reported, path, "{file}: the error names the file");
                    assert!(
                        reason.contains(reason_says),
                        "{file}: reason {reason:?} does not say {reason_says:?}"
                    );
                    let message = TopicError::Metadata {
                        path: reported,
                        reason,
                    }
                    .to_string();
                    assert!(message.contains(&path.display().to_string()), "{message}");
                }
                Err(other) => panic!("{file}: expected TopicError::Metadata, got {other:?}"),
                Ok(manager) => panic!(
                    "{file}: open succeeded with topics {:?}",
                    manager.list_topics()
                ),
            }
            assert_eq!(
                dir_entries(data_dir),
                before,
                "{file}: a failed open changes nothing"
            );

            // Once the file is removed, everything is as before.
            std::fs::remove_file(&path).expect("remove garbage");
            let manager = open_manager(data_dir, io_mode);
            assert_eq!(manager.list_topics(), ["good"]);
            assert_eq!(read_partition(&manager, "good", 0), written);
            manager.close().expect("close");
        }
    });
}
