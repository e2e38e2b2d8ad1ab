//! Topic metadata on disk: one JSON file per topic under `<data_dir>/__ringlog_topics/`,
//! replaced atomically (temporary file, fsync, rename, fsync of the directory).
//!
//! | field | meaning |
//! |---|---|
//! | `name` | the topic name (validated as Kafka does) |
//! | `state` | `creating`, `live` or `deleting`: an interrupted create is completed and an interrupted delete finished at open |
//! | `config` | [`TopicConfig`]: partitions, cleanup policy, retention, segment size, durability, compaction settings |

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TopicConfig;
use crate::io::Storage;

/// Directory under the data directory holding one metadata file per topic.
pub const METADATA_DIR: &str = "__ringlog_topics";
/// Extension of a topic's metadata file.
const METADATA_EXTENSION: &str = "json";
/// Largest metadata file read (a topic's metadata is a few hundred bytes).
const MAX_METADATA_BYTES: u64 = 64 * 1024;

/// Where a topic is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicState {
    /// Metadata written, partitions possibly not all created yet.
    Creating,
    /// Usable.
    Live,
    /// Being deleted: partitions possibly partly removed.
    Deleting,
}

/// The metadata of one topic as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicMetadata {
    /// The topic's name.
    pub name: String,
    /// Its state.
    pub state: TopicState,
    /// Its configuration.
    pub config: TopicConfig,
}

/// The metadata directory of `data_dir`.
pub fn metadata_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(METADATA_DIR)
}

/// The metadata file of `topic`.
pub fn metadata_path(data_dir: &Path, topic: &str) -> PathBuf {
    metadata_dir(data_dir).join(format!("{topic}.{METADATA_EXTENSION}"))
}

/// Source of unique temporary file names.
static NEXT_TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Writes `metadata` atomically: a reader (or a crash) sees the old file or the new one, never
/// a mix.
///
/// # Errors
/// The operating system's error, with the path it concerns.
pub fn write(
    storage: &dyn Storage,
    data_dir: &Path,
    metadata: &TopicMetadata,
) -> Result<(), (PathBuf, std::io::Error)> {
    let dir = metadata_dir(data_dir);
    crate::io::create_dir_durable(storage, &dir).map_err(|(_, p, e)| (p, e))?;
    let path = metadata_path(data_dir, &metadata.name);
    // A short unique name: `<topic>.json.tmp` would pass the 255-byte file-name limit for
    // names of 247 to 249 characters, which Kafka allows. It still ends in `.json.tmp`, so
    // `load_all` removes it after a crash.
    let unique = NEXT_TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{}-{unique}.json.tmp", std::process::id()));
    let bytes = serde_json::to_vec_pretty(metadata).expect("topic metadata serializes");
    let result = (|| {
        storage.write_file(&tmp, &bytes)?;
        storage.rename(&tmp, &path)?;
        storage.sync_dir(&dir)
    })();
    result.map_err(|e| (path, e))
}

/// Removes `topic`'s metadata file and makes that durable.
///
/// # Errors
/// The operating system's error, with the path it concerns.
pub fn remove(
    storage: &dyn Storage,
    data_dir: &Path,
    topic: &str,
) -> Result<(), (PathBuf, std::io::Error)> {
    let path = metadata_path(data_dir, topic);
    match storage.remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err((path, e)),
    }
    let dir = metadata_dir(data_dir);
    storage.sync_dir(&dir).map_err(|e| (dir, e))
}

/// Every topic's metadata in `data_dir`, sorted by name. Leftover temporary files (a crash in
/// the middle of [`write`]) are removed: the rename never happened, so the old file stands.
///
/// # Errors
/// A file that cannot be read or parsed, with the reason.
pub fn load_all(
    storage: &dyn Storage,
    data_dir: &Path,
    tidy: bool,
) -> Result<Vec<TopicMetadata>, (PathBuf, String)> {
    let dir = metadata_dir(data_dir);
    let entries = match storage.list_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err((dir, e.to_string())),
    };
    let mut out = Vec::new();
    for name in entries {
        let name = name.to_string_lossy().into_owned();
        let path = dir.join(&name);
        if name.ends_with(".json.tmp") {
            if tidy {
                storage
                    .remove_file(&path)
                    .map_err(|e| (path.clone(), e.to_string()))?;
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some(METADATA_EXTENSION) {
            continue;
        }
        out.push(read_one(storage, &path)?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn read_one(storage: &dyn Storage, path: &Path) -> Result<TopicMetadata, (PathBuf, String)> {
    let fail = |reason: String| (path.to_path_buf(), reason);
    let bytes = storage.read_file(path, MAX_METADATA_BYTES).map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::InvalidData {
            format!("too large for topic metadata (at most {MAX_METADATA_BYTES} bytes): {e}")
        } else {
            e.to_string()
        })
    })?;
    let metadata: TopicMetadata = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("not valid topic metadata: {e}")))?;
    let expected = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if metadata.name != expected {
        return Err(fail(format!(
            "names topic {:?} but the file is named for {expected:?}",
            metadata.name
        )));
    }
    super::name::validate_topic_name(&metadata.name).map_err(|e| fail(e.to_string()))?;
    metadata.config.validate().map_err(fail)?;
    Ok(metadata)
}
