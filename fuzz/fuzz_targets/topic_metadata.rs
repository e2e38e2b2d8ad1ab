//! Loading a topic's metadata file with arbitrary bytes in it, through
//! `ringlog::topic::metadata::load_all` as `TopicManager::open` does. Loading never panics; it
//! accepts only metadata whose name matches the file and is a valid topic name, and whose
//! configuration validates; and what it accepts survives being written back by the engine and
//! loaded again.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ringlog::io::portable::PortableStorage;
use ringlog::topic::metadata::{TopicMetadata, load_all, metadata_dir, metadata_path, write};
use ringlog::topic::validate_topic_name;
use ringlog_fuzz::{fresh_dir, scratch_root};

/// The name the metadata file is given; seeds name this topic.
const TOPIC: &str = "fuzz-topic";

fn data_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| scratch_root().join("data"))
}

fuzz_target!(|data: &[u8]| {
    let dir = data_dir();
    fresh_dir(dir);
    std::fs::create_dir_all(metadata_dir(dir)).expect("create the metadata directory");
    std::fs::write(metadata_path(dir, TOPIC), data).expect("write the metadata file");
    let loaded = match load_all(&PortableStorage::new(None), dir, true) {
        Ok(loaded) => loaded,
        Err((path, reason)) => {
            assert_eq!(path, metadata_path(dir, TOPIC));
            assert!(!reason.is_empty());
            return;
        }
    };
    let [metadata] = loaded.as_slice() else {
        panic!("one file, one topic: {loaded:?}");
    };
    assert_eq!(metadata.name, TOPIC);
    validate_topic_name(&metadata.name).expect("an accepted name is valid");
    metadata
        .config
        .validate()
        .expect("an accepted configuration is valid");

    write(&PortableStorage::new(None), dir, metadata).expect("write the metadata back");
    let again =
        load_all(&PortableStorage::new(None), dir, true).expect("metadata the engine wrote loads");
    assert_eq!(again.len(), 1);
    assert_same(&again[0], metadata);
});

/// Equal, but for the float `min_cleanable_dirty_ratio`, which serde_json may read back one
/// unit in the last place off.
fn assert_same(after: &TopicMetadata, before: &TopicMetadata) {
    let ratio = |m: &TopicMetadata| m.config.min_cleanable_dirty_ratio;
    assert!((ratio(after) - ratio(before)).abs() <= f64::EPSILON * ratio(before).abs());
    let mut after = after.clone();
    after.config.min_cleanable_dirty_ratio = ratio(before);
    assert_eq!(&after, before);
}
