//! raft-engine (TiKV's Raft log store) as a peer: one region, index = offset, each record one
//! entry. Entries must be protobuf 2 messages, so a record travels in [`RecordEntry`], a
//! hand-written two-field message (index, payload) with no reflection.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use protobuf::{
    CachedSize, Clear, CodedInputStream, CodedOutputStream, Message, ProtobufResult, UnknownFields,
    reflect::MessageDescriptor,
    rt::{bytes_size, value_size},
    wire_format::WireType,
};
use raft_engine::{Config, Engine, LogBatch, MessageExt, ReadableSize};

use super::{Batch, Mode, PeerEngine, PeerError, PeerResult, SharedAppend, Visit, fail};

const NAME: &str = "raft-engine";
/// The region of the single-producer cases; producer `p` of a concurrent case writes region
/// `REGION + p`.
const REGION: u64 = 1;
/// The region of the key written to make the engine sync (never read).
const FLUSH_REGION: u64 = 0;
/// Entries per `fetch_entries_to` of the sequential read.
const FETCH_ENTRIES: u64 = 1000;
/// Protobuf field numbers of [`RecordEntry`].
const FIELD_INDEX: u32 = 1;
const FIELD_DATA: u32 = 2;

/// One record as a raft-engine entry: `index` (field 1, uint64) and `data` (field 2, bytes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordEntry {
    /// The record's offset.
    pub index: u64,
    /// The payload.
    pub data: Bytes,
    unknown_fields: UnknownFields,
    cached_size: CachedSize,
}

impl RecordEntry {
    fn new_entry(index: u64, data: Bytes) -> RecordEntry {
        RecordEntry {
            index,
            data,
            ..RecordEntry::default()
        }
    }
}

impl Clear for RecordEntry {
    fn clear(&mut self) {
        self.index = 0;
        self.data = Bytes::new();
        self.unknown_fields.clear();
    }
}

impl Message for RecordEntry {
    fn descriptor(&self) -> &'static MessageDescriptor {
        // raft-engine encodes and decodes entries; it never reflects on them, and a
        // descriptor needs generated code this shim has no use for.
        unimplemented!("RecordEntry has no reflection descriptor")
    }

    fn is_initialized(&self) -> bool {
        true
    }

    fn merge_from(&mut self, is: &mut CodedInputStream<'_>) -> ProtobufResult<()> {
        while !is.eof()? {
            let (field, wire_type) = is.read_tag_unpack()?;
            match (field, wire_type) {
                (FIELD_INDEX, WireType::WireTypeVarint) => self.index = is.read_uint64()?,
                (FIELD_DATA, WireType::WireTypeLengthDelimited) => {
                    self.data = Bytes::from(is.read_bytes()?);
                }
                _ => protobuf::rt::read_unknown_or_skip_group(
                    field,
                    wire_type,
                    is,
                    &mut self.unknown_fields,
                )?,
            }
        }
        Ok(())
    }

    fn compute_size(&self) -> u32 {
        let mut size = 0;
        if self.index != 0 {
            size += value_size(FIELD_INDEX, self.index, WireType::WireTypeVarint);
        }
        if !self.data.is_empty() {
            size += bytes_size(FIELD_DATA, &self.data);
        }
        size += protobuf::rt::unknown_fields_size(&self.unknown_fields);
        self.cached_size.set(size);
        size
    }

    fn write_to_with_cached_sizes(&self, os: &mut CodedOutputStream<'_>) -> ProtobufResult<()> {
        if self.index != 0 {
            os.write_uint64(FIELD_INDEX, self.index)?;
        }
        if !self.data.is_empty() {
            os.write_bytes(FIELD_DATA, &self.data)?;
        }
        os.write_unknown_fields(&self.unknown_fields)
    }

    fn get_cached_size(&self) -> u32 {
        self.cached_size.get()
    }

    fn get_unknown_fields(&self) -> &UnknownFields {
        &self.unknown_fields
    }

    fn mut_unknown_fields(&mut self) -> &mut UnknownFields {
        &mut self.unknown_fields
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn new() -> RecordEntry {
        RecordEntry::default()
    }

    fn default_instance() -> &'static RecordEntry {
        static DEFAULT: OnceLock<RecordEntry> = OnceLock::new();
        DEFAULT.get_or_init(RecordEntry::default)
    }
}

/// Tells raft-engine how to find an entry's index.
#[derive(Clone, Copy, Debug)]
pub struct RecordEntries;

impl MessageExt for RecordEntries {
    type Entry = RecordEntry;

    fn index(e: &RecordEntry) -> u64 {
        e.index
    }
}

/// A raft-engine instance and its directory.
pub struct RaftEnginePeer {
    dir: PathBuf,
    sync: bool,
    engine: Option<Arc<Shared>>,
}

impl std::fmt::Debug for RaftEnginePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftEnginePeer")
            .field("dir", &self.dir)
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

/// The engine shared with concurrent producers.
struct Shared {
    engine: Engine,
    sync: bool,
}

impl SharedAppend for Shared {
    fn append_batch(&self, producer: usize, batch: &Batch) -> PeerResult<()> {
        append(&self.engine, REGION + producer as u64, batch, self.sync)
    }
}

fn append(engine: &Engine, region: u64, batch: &Batch, sync: bool) -> PeerResult<()> {
    let entries: Vec<RecordEntry> = batch
        .records
        .iter()
        .enumerate()
        .map(|(i, data)| RecordEntry::new_entry(batch.first_id + i as u64, data.clone()))
        .collect();
    let mut log_batch = LogBatch::with_capacity(entries.len());
    log_batch
        .add_entries::<RecordEntries>(region, &entries)
        .map_err(fail(NAME, "add_entries"))?;
    engine
        .write(&mut log_batch, sync)
        .map_err(fail(NAME, "write"))?;
    Ok(())
}

fn open_engine(dir: &Path) -> PeerResult<Engine> {
    let config = Config {
        dir: dir.to_string_lossy().into_owned(),
        // Payloads are random: compressing a batch would cost CPU and save nothing.
        batch_compression_threshold: ReadableSize(0),
        ..Config::default()
    };
    Engine::open(config).map_err(fail(NAME, "open"))
}

impl RaftEnginePeer {
    /// An empty engine in `dir`; every write synced in [`Mode::Sync`].
    ///
    /// # Errors
    /// The engine's open error.
    pub fn open(dir: &Path, mode: Mode) -> PeerResult<RaftEnginePeer> {
        let sync = mode == Mode::Sync;
        Ok(RaftEnginePeer {
            dir: dir.to_path_buf(),
            sync,
            engine: Some(Arc::new(Shared {
                engine: open_engine(dir)?,
                sync,
            })),
        })
    }

    fn engine(&self) -> PeerResult<&Engine> {
        self.engine.as_ref().map(|s| &s.engine).ok_or(PeerError {
            engine: NAME,
            operation: "use",
            message: "the engine is closed".to_string(),
        })
    }
}

impl PeerEngine for RaftEnginePeer {
    fn append_batch(&mut self, batch: &Batch) -> PeerResult<()> {
        append(self.engine()?, REGION, batch, self.sync)
    }

    fn producers(&self) -> Option<Arc<dyn SharedAppend>> {
        self.engine
            .as_ref()
            .map(|s| Arc::clone(s) as Arc<dyn SharedAppend>)
    }

    fn flush(&mut self) -> PeerResult<()> {
        // `Engine::sync` writes an empty batch, which `Engine::write` returns from at once
        // without syncing (raft-engine 0.4.2); a one-key batch written with `sync = true`
        // makes the engine fdatasync its log file.
        let mut batch = LogBatch::with_capacity(0);
        batch
            .put(FLUSH_REGION, b"flush".to_vec(), Vec::new())
            .map_err(fail(NAME, "put"))?;
        self.engine()?
            .write(&mut batch, true)
            .map(drop)
            .map_err(fail(NAME, "sync"))
    }

    fn close(&mut self) -> PeerResult<()> {
        if let Some(shared) = self.engine.take() {
            assert_eq!(
                Arc::strong_count(&shared),
                1,
                "raft-engine closed while producers hold it"
            );
        }
        Ok(())
    }

    fn reopen(&mut self) -> PeerResult<()> {
        self.close()?;
        self.engine = Some(Arc::new(Shared {
            engine: open_engine(&self.dir)?,
            sync: self.sync,
        }));
        Ok(())
    }

    fn read_seq(&mut self, visit: Visit<'_>) -> PeerResult<u64> {
        let engine = self.engine()?;
        let (Some(first), Some(last)) = (engine.first_index(REGION), engine.last_index(REGION))
        else {
            return Ok(0);
        };
        let mut entries = Vec::with_capacity(FETCH_ENTRIES as usize);
        let mut next = first;
        while next <= last {
            let end = (next + FETCH_ENTRIES).min(last + 1);
            entries.clear();
            engine
                .fetch_entries_to::<RecordEntries>(REGION, next, end, None, &mut entries)
                .map_err(fail(NAME, "fetch_entries_to"))?;
            for e in &entries {
                visit(e.index, &e.data);
            }
            next = end;
        }
        Ok(last + 1 - first)
    }

    fn read_point(&mut self, offset: u64, visit: Visit<'_>) -> PeerResult<()> {
        let entry = self
            .engine()?
            .get_entry::<RecordEntries>(REGION, offset)
            .map_err(fail(NAME, "get_entry"))?
            .ok_or_else(|| PeerError {
                engine: NAME,
                operation: "get_entry",
                message: format!("no entry {offset}"),
            })?;
        visit(entry.index, &entry.data);
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_round_trips_through_protobuf() {
        let entry = RecordEntry::new_entry(300, Bytes::from_static(b"payload"));
        let bytes = entry.write_to_bytes().expect("encode");
        let back = RecordEntry::parse_from_bytes(&bytes).expect("decode");
        assert_eq!(
            (back.index, back.data),
            (300, Bytes::from_static(b"payload"))
        );
    }
}
