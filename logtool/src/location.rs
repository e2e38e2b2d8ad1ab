//! Where a command works: a bare partition directory (`--dir`), one partition of a topic
//! (`--data-dir D --topic T --partition P`, which is the directory `<D>/<T>-<P>`), or a whole
//! topic (`--data-dir D --topic T`), and opening the topic manager over a data directory.
//!
//! Topic names are checked while the arguments are parsed, so every command refuses a name
//! Kafka would refuse with Kafka's reason, before it touches the disk.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use ringlog::topic::metadata::metadata_path;
use ringlog::topic::validate_topic_name;
use ringlog::{Config, IoMode, SharedConfig, TopicManager, TopicManagerConfig};

/// Parses a `--topic` value: a name Kafka accepts, else Kafka's reason for refusing it.
///
/// # Errors
/// The rule the name breaks, with the characters allowed.
pub fn parse_topic_name(name: &str) -> Result<String, String> {
    validate_topic_name(name).map_err(|e| e.to_string())?;
    Ok(name.to_string())
}

/// One partition to read, as a bare directory or as a topic's partition.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("partition_location")
        .args(["dir", "data_dir"])
        .required(true)
        .multiple(false)
))]
pub struct PartitionLocation {
    /// Partition directory (instead of --data-dir, --topic and --partition).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Data directory holding the topic (with --topic and --partition).
    #[arg(long, requires = "topic", requires = "partition")]
    data_dir: Option<PathBuf>,
    /// Topic name (with --data-dir).
    #[arg(long, requires = "data_dir", value_parser = parse_topic_name)]
    topic: Option<String>,
    /// Partition number (with --data-dir).
    #[arg(long, requires = "data_dir")]
    partition: Option<u32>,
}

impl PartitionLocation {
    /// The partition directory, read-only: the topic's metadata is only looked at to say
    /// which of topic or partition is missing.
    ///
    /// # Errors
    /// A topic partition whose directory does not exist, naming what is missing.
    pub fn dir(&self) -> Result<PathBuf, String> {
        match (&self.dir, &self.data_dir, &self.topic, self.partition) {
            (Some(dir), _, _, _) => Ok(dir.clone()),
            (None, Some(data_dir), Some(topic), Some(partition)) => {
                topic_partition_dir(data_dir, topic, partition)
            }
            // clap's group and `requires` rules make every other combination unreachable.
            _ => unreachable!("clap accepted an incomplete location: {self:?}"),
        }
    }
}

fn topic_partition_dir(data_dir: &Path, topic: &str, partition: u32) -> Result<PathBuf, String> {
    let dir = data_dir.join(format!("{topic}-{partition}"));
    if dir.is_dir() {
        return Ok(dir);
    }
    if metadata_path(data_dir, topic).is_file() {
        Err(format!(
            "topic {topic:?} in {} has no partition {partition} (no directory {}); \
             `logtool topics describe` lists its partitions",
            data_dir.display(),
            dir.display()
        ))
    } else {
        Err(format!(
            "no topic {topic:?} in {}; `logtool topics list` names the topics there",
            data_dir.display()
        ))
    }
}

/// A whole topic.
#[derive(Debug, clap::Args)]
pub struct TopicLocation {
    /// Data directory holding the topics (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Topic name: 1 to 249 ASCII letters, digits, '.', '_' or '-'.
    #[arg(long, value_parser = parse_topic_name)]
    pub topic: String,
}

/// Opens every topic under `data_dir` on `io_mode` (the engine's default when `None`), for
/// writing: the data directory's lock is taken, so this fails with a message naming the holder
/// while another process has it open.
///
/// # Errors
/// The engine's reason, naming the data directory.
pub fn open_manager(data_dir: &Path, io_mode: Option<IoMode>) -> Result<TopicManager, String> {
    open_manager_with(data_dir, manager_config(io_mode))
}

/// As [`open_manager`], with compactions capped at `cleaner_io_max_bytes_per_second` (bytes
/// read and written per second, all partitions together; `None`: no cap).
///
/// # Errors
/// The engine's reason, naming the data directory.
pub fn open_manager_capped(
    data_dir: &Path,
    io_mode: Option<IoMode>,
    cleaner_io_max_bytes_per_second: Option<NonZeroU64>,
) -> Result<TopicManager, String> {
    let config = TopicManagerConfig {
        cleaner_io_max_bytes_per_second,
        ..manager_config(io_mode)
    };
    open_manager_with(data_dir, config)
}

fn open_manager_with(data_dir: &Path, config: TopicManagerConfig) -> Result<TopicManager, String> {
    TopicManager::open(data_dir, config)
        .map_err(|e| format!("cannot open data directory {}: {e}", data_dir.display()))
}

/// Opens every topic under the existing `data_dir` read-only: nothing on disk changes and no
/// lock is taken, so it works beside a live writer.
///
/// # Errors
/// The engine's reason, naming the data directory.
pub fn open_manager_read_only(data_dir: &Path) -> Result<TopicManager, String> {
    TopicManager::open_read_only(data_dir, manager_config(None))
        .map_err(|e| format!("cannot read data directory {}: {e}", data_dir.display()))
}

fn manager_config(io_mode: Option<IoMode>) -> TopicManagerConfig {
    let io_mode = io_mode.unwrap_or(IoMode::DEFAULT);
    TopicManagerConfig {
        shared: SharedConfig {
            io_mode,
            ..SharedConfig::default()
        },
        log: Config {
            io_mode,
            ..Config::default()
        },
        cleaner_io_max_bytes_per_second: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_checked_as_kafka_does() {
        assert_eq!(parse_topic_name("orders.v1_a-b").unwrap(), "orders.v1_a-b");
        assert!(
            parse_topic_name("a/b")
                .unwrap_err()
                .contains("illegal character '/'")
        );
        assert!(parse_topic_name("..").is_err());
        assert!(parse_topic_name("").is_err());
    }

    #[test]
    fn missing_topic_and_missing_partition_are_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let err = topic_partition_dir(tmp.path(), "t", 0).unwrap_err();
        assert!(err.contains("no topic \"t\""), "{err}");
        std::fs::create_dir(tmp.path().join("t-0")).unwrap();
        assert_eq!(
            topic_partition_dir(tmp.path(), "t", 0).unwrap(),
            tmp.path().join("t-0")
        );
    }
}
