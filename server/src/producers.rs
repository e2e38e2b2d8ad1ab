//! Idempotent producers: producer ids, and per partition the sequence numbers of each
//! producer's last batches, checked as Kafka checks them (`ProducerStateManager`).
//!
//! - A batch without a producer id (-1) is not checked.
//! - An older epoch than the partition has seen is `INVALID_PRODUCER_EPOCH`.
//! - A batch whose epoch and first and last sequence match one of the producer's last
//!   [`CACHED_BATCHES`] batches is a retry: it is answered with the original offsets and not
//!   appended again.
//! - Otherwise its first sequence must follow the last one (wrapping after `i32::MAX`), or be 0
//!   with a new epoch; a producer the partition knows nothing of may start anywhere, as in
//!   Kafka. Anything else is `OUT_OF_ORDER_SEQUENCE_NUMBER`.
//!
//! The state of a partition is rebuilt from its log the first time an idempotent batch reaches
//! it after a start (every batch with a producer id, read from the log start); from then on it
//! is kept as batches are appended. Producer ids come from a counter in `<data_dir>/producer-ids`,
//! reserved in blocks of [`ID_BLOCK`] and written durably before any id of a block is handed
//! out, so an id is never given twice, across restarts too.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ringlog::Log;
use ringlog::record::BatchHeader;

use crate::errors::{KafkaError, code};

/// Batches remembered per producer and partition for spotting retries (Kafka's
/// `max.in.flight.requests.per.connection` limit for idempotence is 5).
pub const CACHED_BATCHES: usize = 5;
/// Producer ids reserved per write of the counter file.
pub const ID_BLOCK: i64 = 1000;

/// A remembered batch: its sequences and offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqBatch {
    /// First sequence.
    pub first_seq: i32,
    /// Last sequence.
    pub last_seq: i32,
    /// Offset of its first record.
    pub base_offset: u64,
    /// Offset of its last record.
    pub last_offset: u64,
}

/// One producer's state on one partition.
#[derive(Clone, Debug, Default)]
struct ProducerState {
    epoch: i16,
    batches: VecDeque<SeqBatch>,
}

/// The producers of one partition.
#[derive(Debug, Default)]
pub struct PartitionProducers {
    loaded: bool,
    producers: HashMap<i64, ProducerState>,
}

/// What the check decided for a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Append it.
    Append,
    /// A retry of this batch, already in the log.
    Duplicate(SeqBatch),
}

/// Kafka's `DefaultRecordBatch.incrementSequence`.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

impl PartitionProducers {
    /// Checks `header` (of a batch with a producer id).
    ///
    /// # Errors
    /// `INVALID_PRODUCER_EPOCH` or `OUT_OF_ORDER_SEQUENCE_NUMBER`.
    pub fn check(&self, header: &BatchHeader) -> Result<Verdict, KafkaError> {
        let Some(state) = self.producers.get(&header.producer_id) else {
            return Ok(Verdict::Append);
        };
        let epoch = header.producer_epoch;
        if epoch < state.epoch {
            return Err(KafkaError::new(
                code::INVALID_PRODUCER_EPOCH,
                format!(
                    "producer {} epoch {epoch} is older than epoch {} seen on this partition",
                    header.producer_id, state.epoch
                ),
            ));
        }
        let first = header.base_sequence;
        let last = increment_sequence(first, header.last_offset_delta);
        if epoch == state.epoch
            && let Some(seen) = state
                .batches
                .iter()
                .find(|b| b.first_seq == first && b.last_seq == last)
        {
            return Ok(Verdict::Duplicate(*seen));
        }
        let fits = if epoch > state.epoch {
            first == 0
        } else {
            state
                .batches
                .back()
                .is_none_or(|b| in_sequence(b.last_seq, first))
        };
        if fits {
            Ok(Verdict::Append)
        } else {
            Err(KafkaError::new(
                code::OUT_OF_ORDER_SEQUENCE_NUMBER,
                format!(
                    "producer {} epoch {epoch}: sequence {first} does not follow {}",
                    header.producer_id,
                    state.batches.back().map_or(-1, |b| b.last_seq)
                ),
            ))
        }
    }

    /// Remembers an appended batch.
    pub fn record(&mut self, header: &BatchHeader, base_offset: u64, last_offset: u64) {
        let state = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch > state.epoch || state.batches.is_empty() {
            state.batches.clear();
            state.epoch = header.producer_epoch;
        }
        if state.batches.len() == CACHED_BATCHES {
            state.batches.pop_front();
        }
        state.batches.push_back(SeqBatch {
            first_seq: header.base_sequence,
            last_seq: increment_sequence(header.base_sequence, header.last_offset_delta),
            base_offset,
            last_offset,
        });
    }

    /// Rebuilds the state from `log` the first time it is needed.
    ///
    /// # Errors
    /// A read of the log failed (`KAFKA_STORAGE_ERROR`).
    pub fn load(&mut self, log: &Log) -> Result<(), KafkaError> {
        if self.loaded {
            return Ok(());
        }
        let mut offset = log.start_offset();
        loop {
            let fetched = log
                .fetch(offset, 4 << 20)
                .map_err(|e| KafkaError::new(code::KAFKA_STORAGE_ERROR, e.to_string()))?;
            let mut rest = &fetched.bytes[..];
            while let Ok(header) = BatchHeader::parse(rest) {
                if header.producer_id >= 0 {
                    let base = header.base_offset as u64;
                    self.record(&header, base, base + header.last_offset_delta as u64);
                }
                rest = &rest[header.total_bytes().min(rest.len())..];
            }
            if fetched.bytes.is_empty() || fetched.next_fetch_offset <= offset {
                break;
            }
            offset = fetched.next_fetch_offset;
        }
        self.loaded = true;
        Ok(())
    }
}

/// One partition's producers behind the lock that serializes its idempotent appends.
pub type SharedProducers = Arc<Mutex<PartitionProducers>>;

/// The producer state of every partition.
#[derive(Debug, Default)]
pub struct Registry {
    partitions: Mutex<HashMap<(String, u32), SharedProducers>>,
}

impl Registry {
    /// The state of one partition (its lock serializes the check and append of its
    /// idempotent batches).
    pub fn partition(&self, topic: &str, partition: u32) -> SharedProducers {
        let mut map = self.partitions.lock().expect("producer registry poisoned");
        Arc::clone(map.entry((topic.to_string(), partition)).or_default())
    }

    /// Forgets a deleted topic's state.
    pub fn forget(&self, topic: &str) {
        self.partitions
            .lock()
            .expect("producer registry poisoned")
            .retain(|(t, _), _| t != topic);
    }
}

/// Hands out producer ids.
#[derive(Debug)]
pub struct IdAllocator {
    path: PathBuf,
    /// The next id and the end of the reserved block.
    next: Mutex<(i64, i64)>,
}

impl IdAllocator {
    /// Reads the counter under `data_dir` (nothing reserved yet).
    ///
    /// # Errors
    /// The file exists but cannot be read or holds no number.
    pub fn open(data_dir: &Path) -> std::io::Result<IdAllocator> {
        let path = data_dir.join("producer-ids");
        let next = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(IdAllocator {
            path,
            next: Mutex::new((next, next)),
        })
    }

    /// A new producer id; writes the counter durably first when a new block is needed.
    ///
    /// # Errors
    /// Writing the counter failed.
    pub fn allocate(&self) -> std::io::Result<i64> {
        let mut next = self.next.lock().expect("producer id lock poisoned");
        if next.0 >= next.1 {
            let end = next.0 + ID_BLOCK;
            write_durably(&self.path, &end.to_string())?;
            next.1 = end;
        }
        let id = next.0;
        next.0 += 1;
        Ok(id)
    }
}

/// Writes `text` to `path` through a temporary file, renamed over it, the directory synced.
fn write_durably(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(producer_id: i64, epoch: i16, base_sequence: i32, count: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: -1,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id,
            producer_epoch: epoch,
            base_sequence,
            records_count: count,
        }
    }

    #[test]
    fn sequences_follow_retries_are_found_and_gaps_and_old_epochs_are_refused() {
        let mut state = PartitionProducers::default();
        let first = header(7, 0, 0, 5);
        assert_eq!(state.check(&first), Ok(Verdict::Append));
        state.record(&first, 100, 104);
        let next = header(7, 0, 5, 5);
        assert_eq!(state.check(&next), Ok(Verdict::Append));
        state.record(&next, 105, 109);
        let retry = state.check(&header(7, 0, 0, 5)).unwrap();
        assert_eq!(
            retry,
            Verdict::Duplicate(SeqBatch {
                first_seq: 0,
                last_seq: 4,
                base_offset: 100,
                last_offset: 104
            })
        );
        let gap = state.check(&header(7, 0, 11, 1)).unwrap_err();
        assert_eq!(gap.code, code::OUT_OF_ORDER_SEQUENCE_NUMBER);
        let bumped = header(7, 1, 0, 1);
        assert_eq!(state.check(&bumped), Ok(Verdict::Append));
        state.record(&bumped, 110, 110);
        let fenced = state.check(&header(7, 0, 10, 1)).unwrap_err();
        assert_eq!(fenced.code, code::INVALID_PRODUCER_EPOCH);
        let new_epoch_not_at_zero = state.check(&header(7, 2, 3, 1)).unwrap_err();
        assert_eq!(
            new_epoch_not_at_zero.code,
            code::OUT_OF_ORDER_SEQUENCE_NUMBER
        );
        // Unknown to this partition: may start anywhere, as in Kafka.
        assert_eq!(state.check(&header(8, 0, 42, 1)), Ok(Verdict::Append));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered_and_sequences_wrap() {
        let mut state = PartitionProducers::default();
        for i in 0..7 {
            state.record(&header(1, 0, i, 1), i as u64, i as u64);
        }
        assert!(
            state.check(&header(1, 0, 1, 1)).is_err(),
            "forgotten, so a gap"
        );
        assert!(matches!(
            state.check(&header(1, 0, 2, 1)),
            Ok(Verdict::Duplicate(_))
        ));
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        let mut wrapping = PartitionProducers::default();
        wrapping.record(&header(2, 0, i32::MAX - 1, 2), 0, 1);
        assert_eq!(wrapping.check(&header(2, 0, 0, 1)), Ok(Verdict::Append));
    }

    #[test]
    fn producer_ids_are_never_handed_out_twice_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let ids = IdAllocator::open(dir.path()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| ids.allocate().unwrap()).collect();
        assert_eq!(first, [0, 1, 2]);
        drop(ids);
        let again = IdAllocator::open(dir.path()).unwrap();
        assert_eq!(again.allocate().unwrap(), ID_BLOCK);
    }
}
