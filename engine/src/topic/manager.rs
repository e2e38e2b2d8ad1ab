//! The topic manager: finds, creates, deletes and grows topics, routes produce requests with
//! Kafka's partitioner, and serves single- and multi-partition fetches.
//!
//! Concurrency: the topic map is behind an `RwLock` held only to look up or insert an
//! `Arc<Topic>`; each topic's partition list behind its own `RwLock` held only to clone an
//! `Arc<Log>`. All file work of create, delete and add-partitions happens outside those locks,
//! so it never stalls produce or fetch on another topic, and operations on different partitions
//! share nothing but the I/O resources ([`Shared`]).

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::metadata::{self, TopicMetadata, TopicState};
use super::name::{collides, validate_topic_name};
use super::partitioner::{StickyPartitioner, partition_for_key};
use super::{TopicConfig, TopicError};
use crate::compaction::throttle::IoThrottle;
use crate::compaction::{CompactOptions, CompactionReport};
use crate::config::{CleanupPolicy, Config};
use crate::io::IoPath;
use crate::lock::DirLock;
use crate::log::RetentionReport;
use crate::log::{FetchedBatches, Log};
use crate::record::Record;
use crate::shared::{Shared, SharedConfig};

/// Settings of a topic manager.
#[derive(Clone, Debug, Default)]
pub struct TopicManagerConfig {
    /// I/O path, buffer pool and cache shared by every partition.
    pub shared: SharedConfig,
    /// Base settings of every partition log; each topic's [`TopicConfig`] overrides segment
    /// size, retention, durability and cleanup policy.
    pub log: Config,
    /// Caps the bytes that compactions read and write per second, all partitions together
    /// (Kafka's broker setting `log.cleaner.io.max.bytes.per.second`, see
    /// [`crate::compaction::throttle`]); `None`, the default, does not limit them.
    pub cleaner_io_max_bytes_per_second: Option<NonZeroU64>,
}

/// One partition's state, as [`TopicManager::describe_topic`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionDescription {
    /// The partition number.
    pub partition: u32,
    /// Its earliest offset.
    pub start_offset: u64,
    /// Its next offset.
    pub next_offset: u64,
    /// Bytes of batches it holds.
    pub size_bytes: u64,
    /// Its number of segments.
    pub segment_count: usize,
}

/// A topic's settings and partitions.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicDescription {
    /// The topic's name.
    pub name: String,
    /// Its settings.
    pub config: TopicConfig,
    /// Its partitions, in order.
    pub partitions: Vec<PartitionDescription>,
}

/// Where a produced batch went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProduceResult {
    /// The partition.
    pub partition: u32,
    /// Offset of the batch's first record.
    pub base_offset: u64,
    /// Offset of its last record.
    pub last_offset: u64,
}

/// One partition of a multi-partition fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionFetch {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The offset to fetch from.
    pub offset: u64,
}

/// One partition's answer to a multi-partition fetch.
#[derive(Debug)]
pub struct PartitionFetched {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// Its batches, or why there are none.
    pub result: Result<FetchedBatches, TopicError>,
}

/// What maintenance did to one partition.
#[derive(Debug)]
pub enum MaintenanceAction {
    /// Retention ran (a `delete` topic).
    Retention(RetentionReport),
    /// Compaction ran, or found the dirty ratio below its threshold (`None`).
    Compaction(Option<CompactionReport>),
}

/// One partition's maintenance result.
#[derive(Debug)]
pub struct MaintenanceOutcome {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// What was done, or why it failed.
    pub result: Result<MaintenanceAction, TopicError>,
}

/// Stops the background maintenance thread when dropped.
#[derive(Debug)]
pub struct MaintenanceHandle {
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for MaintenanceHandle {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().expect("maintenance lock poisoned") = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Topic {
    name: String,
    config: RwLock<TopicConfig>,
    partitions: RwLock<Vec<Arc<Log>>>,
    sticky: StickyPartitioner,
}

/// Every topic under one data directory.
pub struct TopicManager {
    data_dir: PathBuf,
    config: TopicManagerConfig,
    shared: Arc<Shared>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Topics being created, deleted or grown, by collision form ('.' as '_'): one such
    /// change per name at a time, and never two colliding names at once.
    busy: Mutex<BTreeMap<String, String>>,
    /// The data directory's lock (`None` when opened read-only); each partition log also holds
    /// its own directory's.
    _lock: Option<DirLock>,
    /// Opened with [`TopicManager::open_read_only`].
    read_only: bool,
    /// The cap of `config.cleaner_io_max_bytes_per_second`, shared by every compaction.
    cleaner_throttle: Option<Arc<IoThrottle>>,
}

impl std::fmt::Debug for TopicManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicManager")
            .field("data_dir", &self.data_dir)
            .field("topics", &self.list_topics())
            .finish_non_exhaustive()
    }
}

/// Marks a topic busy for the lifetime of the guard.
struct BusyGuard<'a> {
    manager: &'a TopicManager,
    name: String,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.manager
            .busy
            .lock()
            .expect("busy lock poisoned")
            .remove(&self.name);
    }
}

impl TopicManager {
    /// Opens every topic under `data_dir` (created if missing), completing interrupted creates
    /// and finishing interrupted deletes. The data directory is locked first (`.lock`, see
    /// [`crate::lock`]) and stays locked until the manager is dropped.
    ///
    /// # Errors
    /// [`TopicError::Setup`] with [`crate::OpenError::Locked`] when another process holds the data
    /// directory; metadata that cannot be read, a partition that cannot be opened, or I/O
    /// setup failures.
    pub fn open(
        data_dir: impl AsRef<Path>,
        config: TopicManagerConfig,
    ) -> Result<TopicManager, TopicError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        // Before `Shared` exists (its O_DIRECT probe needs the directory), so not through the
        // storage seam.
        crate::io::create_dir_durable(&crate::io::portable::PortableStorage::new(None), &data_dir)
            .map_err(|(op, path, source)| TopicError::Io { op, path, source })?;
        let lock = DirLock::acquire(&data_dir).map_err(TopicError::Setup)?;
        let shared = Shared::new(&data_dir, &config.shared).map_err(TopicError::Setup)?;
        TopicManager::open_locked(data_dir, config, shared, lock)
    }

    /// Opens the topics under an existing `data_dir` for reading only: nothing on disk changes
    /// (interrupted creates and deletes are left as they are, partitions open with
    /// [`Log::open_read_only`]), no lock is taken, so it works beside a live writer. Topics being
    /// deleted are not listed; topics being created are listed with the partitions that exist.
    /// Creating, deleting or growing topics and producing fail with [`TopicError::ReadOnly`] (or
    /// the partition's read-only error).
    ///
    /// # Errors
    /// A missing directory, metadata that cannot be read, or a partition that cannot be opened.
    pub fn open_read_only(
        data_dir: impl AsRef<Path>,
        config: TopicManagerConfig,
    ) -> Result<TopicManager, TopicError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        if !data_dir.is_dir() {
            return Err(TopicError::Io {
                op: "open data directory",
                path: data_dir,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let shared = Shared::read_only(&config.shared).map_err(TopicError::Setup)?;
        let manager = TopicManager {
            data_dir,
            config,
            shared,
            topics: RwLock::new(BTreeMap::new()),
            busy: Mutex::new(BTreeMap::new()),
            _lock: None,
            read_only: true,
            cleaner_throttle: None,
        };
        // Read-only: leftover temporary files stay where they are.
        let all = metadata::load_all(manager.shared.storage().as_ref(), &manager.data_dir, false)
            .map_err(|(path, reason)| TopicError::Metadata { path, reason })?;
        for md in all {
            if md.state == TopicState::Deleting {
                continue;
            }
            let mut logs = Vec::new();
            for partition in 0..md.config.partitions {
                let dir = partition_dir(&manager.data_dir, &md.name, partition);
                if md.state == TopicState::Creating && !dir.is_dir() {
                    break;
                }
                let log =
                    Log::open_read_only_with(dir, manager.log_config(&md.config), &manager.shared)
                        .map_err(|source| TopicError::Open {
                            topic: md.name.clone(),
                            partition,
                            source,
                        })?;
                logs.push(Arc::new(log));
            }
            let topic = Arc::new(Topic {
                name: md.name.clone(),
                config: RwLock::new(md.config),
                partitions: RwLock::new(logs),
                sticky: StickyPartitioner::new(),
            });
            manager
                .topics
                .write()
                .expect("topics lock poisoned")
                .insert(md.name, topic);
        }
        Ok(manager)
    }

    /// Whether the manager was opened with [`TopicManager::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn refuse_read_only(&self) -> Result<(), TopicError> {
        if self.read_only {
            return Err(TopicError::ReadOnly {
                data_dir: self.data_dir.clone(),
            });
        }
        Ok(())
    }

    /// [`TopicManager::open`] on given shared resources (tests: a [`Shared`] whose storage is
    /// wrapped with [`Shared::with_storage`]); `config.shared` is not used.
    ///
    /// # Errors
    /// As [`TopicManager::open`].
    #[doc(hidden)]
    pub fn open_with_shared(
        data_dir: impl AsRef<Path>,
        config: TopicManagerConfig,
        shared: Arc<Shared>,
    ) -> Result<TopicManager, TopicError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        // Before `Shared` exists (its O_DIRECT probe needs the directory), so not through the
        // storage seam.
        crate::io::create_dir_durable(shared.storage().as_ref(), &data_dir)
            .map_err(|(op, path, source)| TopicError::Io { op, path, source })?;
        let lock = DirLock::acquire(&data_dir).map_err(TopicError::Setup)?;
        TopicManager::open_locked(data_dir, config, shared, lock)
    }

    fn open_locked(
        data_dir: PathBuf,
        config: TopicManagerConfig,
        shared: Arc<Shared>,
        lock: DirLock,
    ) -> Result<TopicManager, TopicError> {
        let manager = TopicManager {
            data_dir,
            shared,
            topics: RwLock::new(BTreeMap::new()),
            busy: Mutex::new(BTreeMap::new()),
            _lock: Some(lock),
            read_only: false,
            cleaner_throttle: config
                .cleaner_io_max_bytes_per_second
                .map(|rate| Arc::new(IoThrottle::new(rate))),
            config,
        };
        let all = metadata::load_all(manager.shared.storage().as_ref(), &manager.data_dir, true)
            .map_err(|(path, reason)| TopicError::Metadata { path, reason })?;
        for mut md in all {
            match md.state {
                TopicState::Deleting => manager.finish_delete(&md.name, md.config.partitions)?,
                TopicState::Creating | TopicState::Live => {
                    let topic = manager.open_topic(&md.name, md.config.clone())?;
                    if md.state == TopicState::Creating {
                        md.state = TopicState::Live;
                        manager.write_metadata(&md)?;
                    }
                    manager
                        .topics
                        .write()
                        .expect("topics lock poisoned")
                        .insert(md.name.clone(), topic);
                }
            }
        }
        Ok(manager)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The I/O path every partition runs on.
    pub fn io_path(&self) -> IoPath {
        self.shared.io_path()
    }

    /// The resources shared by every partition.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Creates `name` with `config`: metadata first (state `creating`), then the partition
    /// directories, then the metadata again (state `live`); a crash in between is completed at
    /// the next open.
    ///
    /// # Errors
    /// An invalid or colliding name, an existing topic, bad settings, or I/O failures.
    pub fn create_topic(
        &self,
        name: &str,
        config: TopicConfig,
    ) -> Result<TopicDescription, TopicError> {
        self.refuse_read_only()?;
        validate_topic_name(name)?;
        config
            .validate()
            .map_err(|reason| TopicError::InvalidConfig {
                topic: name.to_string(),
                reason,
            })?;
        let _busy = self.claim(name)?;
        {
            let topics = self.topics.read().expect("topics lock poisoned");
            if topics.contains_key(name) {
                return Err(TopicError::AlreadyExists {
                    topic: name.to_string(),
                });
            }
            if let Some(existing) = topics.keys().find(|existing| collides(existing, name)) {
                return Err(TopicError::Collides {
                    topic: name.to_string(),
                    existing: existing.clone(),
                });
            }
        }
        let mut md = TopicMetadata {
            name: name.to_string(),
            state: TopicState::Creating,
            config: config.clone(),
        };
        self.write_metadata(&md)?;
        let topic = self.open_topic(name, config)?;
        md.state = TopicState::Live;
        self.write_metadata(&md)?;
        self.topics
            .write()
            .expect("topics lock poisoned")
            .insert(name.to_string(), Arc::clone(&topic));
        Ok(describe(&topic))
    }

    /// Deletes `name`: it disappears from the map at once, its metadata is marked `deleting`,
    /// its partitions are closed and their directories removed, then the metadata goes. A crash
    /// in between is finished at the next open. Closing a partition waits for its running
    /// compaction or retention, and none runs on it afterwards, so no maintenance of the deleted
    /// topic ever touches a new topic of the same name.
    ///
    /// # Errors
    /// An unknown topic, or I/O failures. When the metadata cannot be marked `deleting`, the
    /// topic stays and serves as before (should only the directory fsync after the rename have
    /// failed, the next open may still finish the delete).
    pub fn delete_topic(&self, name: &str) -> Result<(), TopicError> {
        self.refuse_read_only()?;
        let _busy = self.claim(name)?;
        let topic = self
            .topics
            .write()
            .expect("topics lock poisoned")
            .remove(name)
            .ok_or_else(|| TopicError::UnknownTopic {
                topic: name.to_string(),
            })?;
        let config = topic.config.read().expect("topic lock poisoned").clone();
        let partitions = config.partitions;
        let marked = self.write_metadata(&TopicMetadata {
            name: name.to_string(),
            state: TopicState::Deleting,
            config,
        });
        if let Err(e) = marked {
            // Nothing is deleted: the topic stays, as the next open would find it.
            self.topics
                .write()
                .expect("topics lock poisoned")
                .insert(name.to_string(), topic);
            return Err(e);
        }
        for log in topic.partitions.read().expect("topic lock poisoned").iter() {
            // Closing may fail on a poisoned log; the directory goes anyway. Either way the
            // log's maintenance is over before its files go.
            let _ = log.close();
        }
        self.finish_delete(name, partitions)
    }

    /// Names of every topic, sorted.
    pub fn list_topics(&self) -> Vec<String> {
        self.topics
            .read()
            .expect("topics lock poisoned")
            .keys()
            .cloned()
            .collect()
    }

    /// A topic's settings and partitions.
    ///
    /// # Errors
    /// [`TopicError::UnknownTopic`].
    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription, TopicError> {
        Ok(describe(&*self.topic(name)?))
    }

    /// Grows `name` to `partitions` partitions (Kafka never shrinks a topic): metadata first,
    /// then the new partition directories, which the next open creates if a crash came between.
    ///
    /// # Errors
    /// An unknown topic, a smaller count, or I/O failures.
    pub fn add_partitions(
        &self,
        name: &str,
        partitions: u32,
    ) -> Result<TopicDescription, TopicError> {
        self.refuse_read_only()?;
        let _busy = self.claim(name)?;
        let topic = self.topic(name)?;
        let mut config = topic.config.read().expect("topic lock poisoned").clone();
        if partitions <= config.partitions {
            return Err(TopicError::PartitionsCannotShrink {
                topic: name.to_string(),
                current: config.partitions,
                requested: partitions,
            });
        }
        let first_new = config.partitions;
        config.partitions = partitions;
        config
            .validate()
            .map_err(|reason| TopicError::InvalidConfig {
                topic: name.to_string(),
                reason,
            })?;
        self.write_metadata(&TopicMetadata {
            name: name.to_string(),
            state: TopicState::Live,
            config: config.clone(),
        })?;
        let mut new_logs = Vec::new();
        for partition in first_new..partitions {
            new_logs.push(Arc::new(self.open_partition(name, partition, &config)?));
        }
        topic
            .partitions
            .write()
            .expect("topic lock poisoned")
            .extend(new_logs);
        *topic.config.write().expect("topic lock poisoned") = config;
        Ok(describe(&topic))
    }

    /// Produces `records` to `topic`: to `partition` when given, else each record by Kafka's
    /// default partitioner (murmur2 of the key; records without a key stick to one partition per
    /// call, moving on after it). One batch per partition touched; returns where each went.
    ///
    /// # Errors
    /// Unknown topic or partition, or the append's error (a compacted topic refuses records
    /// without a key).
    pub fn produce(
        &self,
        topic: &str,
        partition: Option<u32>,
        records: &[Record<'_>],
    ) -> Result<Vec<ProduceResult>, TopicError> {
        let t = self.topic(topic)?;
        let logs = t.partitions.read().expect("topic lock poisoned").clone();
        let count = logs.len() as u32;
        let mut results = Vec::new();
        let mut append = |p: u32, batch: &[Record<'_>]| -> Result<(), TopicError> {
            let log = logs
                .get(p as usize)
                .ok_or_else(|| TopicError::UnknownPartition {
                    topic: topic.to_string(),
                    partition: p,
                    partitions: count,
                })?;
            let info = log.append(batch).map_err(|source| TopicError::Append {
                topic: topic.to_string(),
                partition: p,
                source,
                written: results.clone(),
            })?;
            results.push(ProduceResult {
                partition: p,
                base_offset: info.base_offset,
                last_offset: info.last_offset,
            });
            Ok(())
        };
        if let Some(p) = partition {
            append(p, records)?;
            return Ok(results);
        }
        let sticky = t.sticky.partition(count);
        let route = |r: &Record<'_>| r.key.map_or(sticky, |key| partition_for_key(key, count));
        let first = records.first().map_or(sticky, route);
        if records.iter().all(|r| route(r) == first) {
            append(first, records)?;
        } else {
            let mut by_partition: BTreeMap<u32, Vec<Record<'_>>> = BTreeMap::new();
            for record in records {
                by_partition.entry(route(record)).or_default().push(*record);
            }
            for (p, batch) in &by_partition {
                append(*p, batch)?;
            }
        }
        if records.iter().any(|r| r.key.is_none()) {
            t.sticky.next_batch(count);
        }
        Ok(results)
    }

    /// Fetches whole batches of one partition (see [`Log::fetch`]).
    ///
    /// # Errors
    /// Unknown topic or partition, or the fetch's error.
    pub fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<FetchedBatches, TopicError> {
        self.partition(topic, partition)?
            .fetch(offset, max_bytes)
            .map_err(|source| TopicError::Read {
                topic: topic.to_string(),
                partition,
                source,
            })
    }

    /// Fetches from many partitions within `max_total_bytes` (Kafka's fetch `max_bytes`) and
    /// `max_partition_bytes` per partition, in the order given. As in Kafka, the first
    /// partition that has data returns at least one whole batch even when it exceeds the
    /// budgets; once the total budget is spent, later partitions return nothing.
    pub fn fetch_many(
        &self,
        requests: &[PartitionFetch],
        max_total_bytes: usize,
        max_partition_bytes: usize,
    ) -> Vec<PartitionFetched> {
        let mut remaining = max_total_bytes;
        let mut any_data = false;
        requests
            .iter()
            .map(|request| {
                let budget = remaining.min(max_partition_bytes);
                let result = if budget == 0 && any_data {
                    // No budget left: nothing is read, but the offset is still checked.
                    self.partition(&request.topic, request.partition)
                        .and_then(|log| {
                            let (start, end) = (log.start_offset(), log.next_offset());
                            let high_watermark = log.high_watermark();
                            if request.offset < start || request.offset > end {
                                return Err(TopicError::Read {
                                    topic: request.topic.clone(),
                                    partition: request.partition,
                                    source: crate::error::ReadError::OffsetOutOfRange {
                                        requested: request.offset,
                                        start,
                                        end,
                                    },
                                });
                            }
                            Ok(FetchedBatches {
                                bytes: bytes::Bytes::new(),
                                next_fetch_offset: request.offset,
                                high_watermark,
                            })
                        })
                } else {
                    // A zero budget still returns one batch when nothing was returned yet.
                    self.fetch(
                        &request.topic,
                        request.partition,
                        request.offset,
                        budget.max(1),
                    )
                    .map(|fetched| {
                        // Past the first batch, respect the budget strictly.
                        if any_data && fetched.bytes.len() > budget {
                            FetchedBatches {
                                bytes: bytes::Bytes::new(),
                                next_fetch_offset: request.offset,
                                high_watermark: fetched.high_watermark,
                            }
                        } else {
                            fetched
                        }
                    })
                };
                if let Ok(fetched) = &result {
                    any_data |= !fetched.bytes.is_empty();
                    remaining = remaining.saturating_sub(fetched.bytes.len());
                }
                PartitionFetched {
                    topic: request.topic.clone(),
                    partition: request.partition,
                    result,
                }
            })
            .collect()
    }

    /// Compacts every partition of `topic` now, whatever its dirty ratio (on demand), and
    /// reports what each partition's compaction did (`None`: nothing to clean).
    ///
    /// # Errors
    /// Unknown topic, a topic that is not `compact`, or the first partition whose compaction
    /// failed.
    pub fn compact_topic(
        &self,
        topic: &str,
    ) -> Result<Vec<(u32, Option<CompactionReport>)>, TopicError> {
        let t = self.topic(topic)?;
        let config = t.config.read().expect("topic lock poisoned").clone();
        if config.cleanup_policy != CleanupPolicy::Compact {
            return Err(TopicError::InvalidConfig {
                topic: topic.to_string(),
                reason: "compaction needs cleanup.policy=compact".to_string(),
            });
        }
        let logs = t.partitions.read().expect("topic lock poisoned").clone();
        let options = CompactOptions {
            min_cleanable_dirty_ratio: None,
            delete_retention_ms: config.delete_retention_ms,
            io_throttle: self.cleaner_throttle.clone(),
            ..CompactOptions::default()
        };
        let mut reports = Vec::with_capacity(logs.len());
        for (partition, log) in logs.iter().enumerate() {
            let report = log
                .compact(&options)
                .map_err(|source| TopicError::Maintenance {
                    topic: topic.to_string(),
                    partition: partition as u32,
                    source,
                })?;
            reports.push((partition as u32, report));
        }
        Ok(reports)
    }

    /// The one maintenance entry point: retention for `delete` topics, compaction for
    /// `compact` topics whose dirty ratio passed `min_cleanable_dirty_ratio`. Returns what
    /// was done, per partition; a failing partition is reported and the others still run.
    pub fn maintain(&self) -> Vec<MaintenanceOutcome> {
        let topics: Vec<Arc<Topic>> = self
            .topics
            .read()
            .expect("topics lock poisoned")
            .values()
            .cloned()
            .collect();
        let mut outcomes = Vec::new();
        for topic in topics {
            let config = topic.config.read().expect("topic lock poisoned").clone();
            let logs = topic
                .partitions
                .read()
                .expect("topic lock poisoned")
                .clone();
            for (partition, log) in logs.iter().enumerate() {
                let action = match config.cleanup_policy {
                    CleanupPolicy::Delete => {
                        log.enforce_retention().map(MaintenanceAction::Retention)
                    }
                    CleanupPolicy::Compact => log
                        .compact(&CompactOptions {
                            min_cleanable_dirty_ratio: Some(config.min_cleanable_dirty_ratio),
                            delete_retention_ms: config.delete_retention_ms,
                            io_throttle: self.cleaner_throttle.clone(),
                            ..CompactOptions::default()
                        })
                        .map(MaintenanceAction::Compaction),
                };
                outcomes.push(MaintenanceOutcome {
                    topic: topic.name.clone(),
                    partition: partition as u32,
                    result: action.map_err(|source| TopicError::Maintenance {
                        topic: topic.name.clone(),
                        partition: partition as u32,
                        source,
                    }),
                });
            }
        }
        outcomes
    }

    /// Runs [`TopicManager::maintain`] every `interval` on a background thread until the
    /// returned handle is dropped or the manager is gone.
    ///
    /// # Panics
    /// If the thread cannot be spawned.
    pub fn start_maintenance(self: &Arc<Self>, interval: std::time::Duration) -> MaintenanceHandle {
        let manager = Arc::downgrade(self);
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ringlog-maintenance".into())
            .spawn(move || {
                let (lock, wake) = &*thread_stop;
                loop {
                    let guard = lock.lock().expect("maintenance lock poisoned");
                    // The flag is checked before waiting: a handle dropped before this thread
                    // first took the lock has already notified, and waiting would miss it.
                    let (guard, _) = wake
                        .wait_timeout_while(guard, interval, |stopped| !*stopped)
                        .expect("maintenance lock poisoned");
                    if *guard {
                        return;
                    }
                    drop(guard);
                    let Some(manager) = manager.upgrade() else {
                        return;
                    };
                    // Failures are per partition and reported by explicit calls; keep going.
                    let _ = manager.maintain();
                }
            })
            .expect("spawn the maintenance thread");
        MaintenanceHandle {
            stop,
            thread: Some(thread),
        }
    }

    /// The log of one partition, for direct use.
    ///
    /// # Errors
    /// Unknown topic or partition.
    pub fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Log>, TopicError> {
        let t = self.topic(topic)?;
        let logs = t.partitions.read().expect("topic lock poisoned");
        logs.get(partition as usize)
            .cloned()
            .ok_or_else(|| TopicError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions: logs.len() as u32,
            })
    }

    /// Produces `records` to `partition` of `topic` as one batch without waiting for
    /// durability (see [`Log::submit`]): the handle resolves to the offsets once the topic's
    /// durability is met, so one producer keeps several produce requests in flight.
    ///
    /// # Errors
    /// Unknown topic or partition, or the append's error as [`TopicManager::produce`] reports
    /// it (with nothing written); a later write failure is reported by the handle.
    pub fn submit(
        &self,
        topic: &str,
        partition: u32,
        records: &[Record<'_>],
    ) -> Result<crate::AppendHandle, TopicError> {
        let log = self.partition(topic, partition)?;
        log.submit(records).map_err(|source| TopicError::Append {
            topic: topic.to_string(),
            partition,
            source,
            written: Vec::new(),
        })
    }

    /// The directory of one partition: `<data_dir>/<topic>-<partition>`.
    pub fn partition_dir(&self, topic: &str, partition: u32) -> PathBuf {
        partition_dir(&self.data_dir, topic, partition)
    }

    /// Closes every partition (flushing them and marking them cleanly closed).
    ///
    /// # Errors
    /// The first partition that failed to close; the others are still closed.
    pub fn close(&self) -> Result<(), TopicError> {
        let topics: Vec<Arc<Topic>> = self
            .topics
            .read()
            .expect("topics lock poisoned")
            .values()
            .cloned()
            .collect();
        let mut first_error = None;
        for topic in topics {
            for (partition, log) in topic
                .partitions
                .read()
                .expect("topic lock poisoned")
                .iter()
                .enumerate()
            {
                if let Err(source) = log.close() {
                    first_error.get_or_insert(TopicError::Maintenance {
                        topic: topic.name.clone(),
                        partition: partition as u32,
                        source,
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        self.topics
            .read()
            .expect("topics lock poisoned")
            .get(name)
            .cloned()
            .ok_or_else(|| TopicError::UnknownTopic {
                topic: name.to_string(),
            })
    }

    /// Marks `name` busy. Names are claimed in their collision form ('.' as '_'), so two
    /// colliding names can never be created at the same moment.
    fn claim(&self, name: &str) -> Result<BusyGuard<'_>, TopicError> {
        let claimed = name.replace('.', "_");
        let mut busy = self.busy.lock().expect("busy lock poisoned");
        if let Some(holder) = busy.get(&claimed) {
            return Err(if holder == name {
                TopicError::Busy {
                    topic: name.to_string(),
                }
            } else {
                TopicError::Collides {
                    topic: name.to_string(),
                    existing: holder.clone(),
                }
            });
        }
        busy.insert(claimed.clone(), name.to_string());
        Ok(BusyGuard {
            manager: self,
            name: claimed,
        })
    }

    fn write_metadata(&self, md: &TopicMetadata) -> Result<(), TopicError> {
        metadata::write(self.shared.storage().as_ref(), &self.data_dir, md).map_err(
            |(path, source)| TopicError::Io {
                op: "write topic metadata",
                path,
                source,
            },
        )
    }

    fn log_config(&self, config: &TopicConfig) -> Config {
        let base = &self.config.log;
        Config {
            segment_bytes: config.segment_bytes,
            max_batch_bytes: base.max_batch_bytes.min(config.segment_bytes as usize),
            durability: config.durability,
            retention_bytes: config.retention_bytes,
            retention_ms: config.retention_ms,
            cleanup_policy: config.cleanup_policy,
            ..base.clone()
        }
    }

    fn open_partition(
        &self,
        name: &str,
        partition: u32,
        config: &TopicConfig,
    ) -> Result<Log, TopicError> {
        Log::open_with(
            partition_dir(&self.data_dir, name, partition),
            self.log_config(config),
            &self.shared,
        )
        .map_err(|source| TopicError::Open {
            topic: name.to_string(),
            partition,
            source,
        })
    }

    fn open_topic(&self, name: &str, config: TopicConfig) -> Result<Arc<Topic>, TopicError> {
        let logs = (0..config.partitions)
            .map(|p| self.open_partition(name, p, &config).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Topic {
            name: name.to_string(),
            config: RwLock::new(config),
            partitions: RwLock::new(logs),
            sticky: StickyPartitioner::new(),
        }))
    }

    /// Removes the partition directories of a deleted topic (also any beyond `partitions` that
    /// an interrupted add-partitions left), then its metadata.
    fn finish_delete(&self, name: &str, partitions: u32) -> Result<(), TopicError> {
        for partition in 0.. {
            let dir = partition_dir(&self.data_dir, name, partition);
            let storage = self.shared.storage();
            if partition >= partitions && !storage.exists(&dir).unwrap_or(true) {
                break;
            }
            match storage.remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(TopicError::Io {
                        op: "remove partition directory",
                        path: dir,
                        source,
                    });
                }
            }
        }
        self.shared
            .storage()
            .sync_dir(&self.data_dir)
            .map_err(|source| TopicError::Io {
                op: "fsync directory",
                path: self.data_dir.clone(),
                source,
            })?;
        metadata::remove(self.shared.storage().as_ref(), &self.data_dir, name).map_err(
            |(path, source)| TopicError::Io {
                op: "remove topic metadata",
                path,
                source,
            },
        )
    }
}

fn partition_dir(data_dir: &Path, topic: &str, partition: u32) -> PathBuf {
    data_dir.join(format!("{topic}-{partition}"))
}

fn describe(topic: &Topic) -> TopicDescription {
    let config = topic.config.read().expect("topic lock poisoned").clone();
    let partitions = topic
        .partitions
        .read()
        .expect("topic lock poisoned")
        .iter()
        .enumerate()
        .map(|(p, log)| PartitionDescription {
            partition: p as u32,
            start_offset: log.start_offset(),
            next_offset: log.next_offset(),
            size_bytes: log.size_bytes(),
            segment_count: log.segment_count(),
        })
        .collect();
    TopicDescription {
        name: topic.name.clone(),
        config,
        partitions,
    }
}
