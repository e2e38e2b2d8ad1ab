//! `logtool topics`: create, list, describe and delete the topics of a data directory through
//! [`TopicManager`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use ringlog::topic::{
    DEFAULT_DELETE_RETENTION_MS, DEFAULT_MIN_CLEANABLE_DIRTY_RATIO, DEFAULT_TOPIC_RETENTION_MS,
    TopicDescription,
};
use ringlog::{CleanupPolicy, Durability, IoMode, TopicConfig, TopicManager};

use crate::fail;
use crate::location::{TopicLocation, open_manager, open_manager_read_only};

/// Arguments of `logtool topics`.
#[derive(Debug, clap::Args)]
pub struct TopicsArgs {
    /// I/O path the partitions are opened on: auto, uring or portable (default: the
    /// engine's).
    #[arg(long = "io", global = true)]
    io_mode: Option<IoMode>,
    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TopicsCommand {
    /// Create a topic and print its description.
    Create(CreateArgs),
    /// Print the name of every topic, one per line.
    List {
        /// Data directory holding the topics.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Print a topic's settings and each partition's offsets, size and segments.
    Describe(TopicLocation),
    /// Delete a topic and every partition directory of it.
    Delete(TopicLocation),
}

/// A retention limit: a number, or `-1` / `none` for no limit (Kafka's -1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limit(Option<u64>);

impl FromStr for Limit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "-1" | "none" => Ok(Limit(None)),
            n => n.parse().map(|n| Limit(Some(n))).map_err(|_| {
                format!("{s:?} is not a limit: give a number, or -1 or none for no limit")
            }),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("none"),
        }
    }
}

/// Arguments of `logtool topics create`.
#[derive(Debug, clap::Args)]
struct CreateArgs {
    #[command(flatten)]
    location: TopicLocation,
    /// Number of partitions.
    #[arg(long)]
    partitions: u32,
    /// delete (retention removes old segments) or compact (keep the latest record per key).
    #[arg(long, default_value = "delete")]
    cleanup_policy: CleanupPolicy,
    /// Roll to a new segment at this many bytes (default: the engine's, 1 GiB).
    #[arg(long)]
    segment_bytes: Option<u64>,
    /// Keep at most this many bytes per partition; -1 or none keeps everything (the default).
    #[arg(long, allow_hyphen_values = true, default_value = "none")]
    retention_bytes: Limit,
    /// Keep records at most this many ms; -1 or none keeps everything.
    #[arg(long, allow_hyphen_values = true, default_value_t = Limit(Some(DEFAULT_TOPIC_RETENTION_MS)))]
    retention_ms: Limit,
    /// When produce is acknowledged: none, write or sync.
    #[arg(long, default_value = "none")]
    durability: Durability,
    /// Compact once the dirty part of the sealed segments passes this fraction.
    #[arg(long, default_value_t = DEFAULT_MIN_CLEANABLE_DIRTY_RATIO)]
    min_cleanable_dirty_ratio: f64,
    /// How long tombstones survive once compacted, in ms.
    #[arg(long, default_value_t = DEFAULT_DELETE_RETENTION_MS)]
    delete_retention_ms: u64,
}

/// Runs `logtool topics`.
pub fn run(args: &TopicsArgs) -> ExitCode {
    let data_dir = match &args.command {
        TopicsCommand::Create(create) => &create.location.data_dir,
        TopicsCommand::List { data_dir } => data_dir,
        TopicsCommand::Describe(at) | TopicsCommand::Delete(at) => &at.data_dir,
    };
    // Listing and describing change nothing and work beside a live writer; creating and
    // deleting take the data directory's lock.
    let read_only = matches!(
        args.command,
        TopicsCommand::List { .. } | TopicsCommand::Describe(_)
    );
    let opened = if read_only {
        open_manager_read_only(data_dir)
    } else {
        open_manager(data_dir, args.io_mode)
    };
    let result = opened.and_then(|manager| {
        let done = execute(&manager, &args.command);
        let closed = manager
            .close()
            .map_err(|e| format!("cannot close {}: {e}", data_dir.display()));
        done.and(closed)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn execute(manager: &TopicManager, command: &TopicsCommand) -> Result<(), String> {
    match command {
        TopicsCommand::Create(create) => {
            let description = manager
                .create_topic(&create.location.topic, topic_config(create))
                .map_err(|e| e.to_string())?;
            print_description(&description);
        }
        TopicsCommand::List { .. } => {
            for name in manager.list_topics() {
                println!("{name}");
            }
        }
        TopicsCommand::Describe(at) => {
            let description = manager
                .describe_topic(&at.topic)
                .map_err(|e| e.to_string())?;
            print_description(&description);
        }
        TopicsCommand::Delete(at) => {
            manager.delete_topic(&at.topic).map_err(|e| e.to_string())?;
            println!("deleted topic {}", at.topic);
        }
    }
    Ok(())
}

fn topic_config(args: &CreateArgs) -> TopicConfig {
    TopicConfig {
        partitions: args.partitions,
        cleanup_policy: args.cleanup_policy,
        retention_bytes: args.retention_bytes.0,
        retention_ms: args.retention_ms.0,
        segment_bytes: args
            .segment_bytes
            .unwrap_or(TopicConfig::default().segment_bytes),
        durability: args.durability,
        min_cleanable_dirty_ratio: args.min_cleanable_dirty_ratio,
        delete_retention_ms: args.delete_retention_ms,
    }
}

/// Prints the settings, one `name: value` line each, then one `partition=` line per
/// partition with `key=value` fields.
fn print_description(description: &TopicDescription) {
    let config = &description.config;
    println!("topic: {}", description.name);
    println!("partitions: {}", config.partitions);
    println!("cleanup_policy: {}", config.cleanup_policy.name());
    println!("retention_bytes: {}", Limit(config.retention_bytes));
    println!("retention_ms: {}", Limit(config.retention_ms));
    println!("segment_bytes: {}", config.segment_bytes);
    println!("durability: {}", config.durability.name());
    println!(
        "min_cleanable_dirty_ratio: {}",
        config.min_cleanable_dirty_ratio
    );
    println!("delete_retention_ms: {}", config.delete_retention_ms);
    for p in &description.partitions {
        println!(
            "partition={} start_offset={} next_offset={} size_bytes={} segments={}",
            p.partition, p.start_offset, p.next_offset, p.size_bytes, p.segment_count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn limits_accept_kafkas_minus_one_for_none() {
        assert_eq!("-1".parse(), Ok(Limit(None)));
        assert_eq!("none".parse(), Ok(Limit(None)));
        assert_eq!("4096".parse(), Ok(Limit(Some(4096))));
        assert_eq!(Limit(None).to_string(), "none");
        assert!("-2".parse::<Limit>().unwrap_err().contains("not a limit"));
    }
}
