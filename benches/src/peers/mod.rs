//! ringlog beside the engines a user would pick instead, driven through one small seam
//! ([`PeerEngine`]) by one workload ([`workload`]), so every engine appends, reopens and reads
//! the same records in the same order and is timed around the same calls.
//!
//! One file per engine: [`ringlog`](self::ringlog), [`naive`] (both always built),
//! `raft_engine`, `fjall` and `glommio` (cargo feature `peers`), `rocksdb` (feature
//! `peer-rocksdb`). [`Peer`] names them and says, per engine, what its durability modes mean
//! ([`Peer::describe`]): no engine is credited with a mode it does not have.
//!
//! The records ([`records`]) are 1 KiB of random bytes led by their own id, so nothing
//! compresses and a record read at the wrong offset is caught; [`os`] holds the page-cache
//! dropping and `/proc/self/io` reading of the cold phases; [`ratio`] turns the figures into
//! ringlog's ratio to each peer, and [`rounds`] merges repeated rounds into one figure and its
//! spread.

pub mod naive;
pub mod os;
pub mod ratio;
pub mod records;
pub mod ringlog;
pub mod rounds;
pub mod workload;

#[cfg(feature = "peers")]
pub mod fjall;
#[cfg(feature = "peers")]
pub mod glommio;
#[cfg(feature = "peers")]
pub mod raft_engine;
#[cfg(feature = "peer-rocksdb")]
pub mod rocksdb;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::results::PeerDescription;
pub use records::Batch;

/// The durability an engine is asked for: its cheapest, or one sync to stable storage per
/// batch. What each means for a given engine is in [`Peer::describe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The engine's cheapest acknowledged append (no sync at all).
    Cheapest,
    /// Acknowledged once the batch is on stable storage (`fdatasync` or the engine's own).
    Sync,
}

impl Mode {
    /// `cheapest` or `sync`, as results and reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Cheapest => "cheapest",
            Mode::Sync => "sync",
        }
    }
}

/// What went wrong in an engine, and during which call.
#[derive(Debug)]
pub struct PeerError {
    /// The engine.
    pub engine: &'static str,
    /// The call: `open`, `append`, `read`, ...
    pub operation: &'static str,
    /// The engine's own message.
    pub message: String,
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} failed: {}",
            self.engine, self.operation, self.message
        )
    }
}

impl std::error::Error for PeerError {}

/// Result of a peer call.
pub type PeerResult<T> = Result<T, PeerError>;

/// Builds the `map_err` closure of one engine's call: `.map_err(fail("fjall", "append"))`.
pub fn fail<E: fmt::Display>(
    engine: &'static str,
    operation: &'static str,
) -> impl FnOnce(E) -> PeerError {
    move |e| PeerError {
        engine,
        operation,
        message: e.to_string(),
    }
}

/// A visitor of records read: `(offset, payload)`, in the order read.
pub type Visit<'a> = &'a mut dyn FnMut(u64, &[u8]);

/// One engine, opened on one directory in one [`Mode`]. Offsets are 0, 1, 2, ... in append
/// order (ringlog's offsets, raft-engine's entry indexes, fjall's big-endian keys, the
/// position in glommio's and the naive baseline's files).
pub trait PeerEngine {
    /// Appends one batch and returns once the mode's durability holds. The batch's
    /// `first_id` is the offset of its first record.
    ///
    /// # Errors
    /// The engine's error.
    fn append_batch(&mut self, batch: &Batch) -> PeerResult<()>;

    /// A handle for concurrent producers, or `None` when the engine has a single writer.
    fn producers(&self) -> Option<Arc<dyn SharedAppend>>;

    /// Makes everything appended durable (fdatasync or the engine's equivalent).
    ///
    /// # Errors
    /// The engine's error.
    fn flush(&mut self) -> PeerResult<()>;

    /// Closes the engine: every handle dropped, files closed. Reads and appends need
    /// [`PeerEngine::reopen`] afterwards.
    ///
    /// # Errors
    /// The engine's error.
    fn close(&mut self) -> PeerResult<()>;

    /// Opens the engine again on the same directory (closing it first if it is open), with
    /// whatever recovery the engine does at open.
    ///
    /// # Errors
    /// The engine's error.
    fn reopen(&mut self) -> PeerResult<()>;

    /// Reads every record in offset order; returns how many were visited.
    ///
    /// # Errors
    /// The engine's error.
    fn read_seq(&mut self, visit: Visit<'_>) -> PeerResult<u64>;

    /// Reads the record at `offset` and visits it.
    ///
    /// # Errors
    /// The engine's error, or a missing record.
    fn read_point(&mut self, offset: u64, visit: Visit<'_>) -> PeerResult<()>;

    /// The engine's directory.
    fn dir(&self) -> &Path;

    /// The engine's files, for `posix_fadvise(DONTNEED)`: every regular file under
    /// [`PeerEngine::dir`].
    fn files(&self) -> Vec<PathBuf> {
        os::files_under(self.dir())
    }
}

/// Appends from many threads at once (where the engine allows concurrent writers).
pub trait SharedAppend: Send + Sync {
    /// Appends `batch` for producer `producer` (0-based) in the engine's mode. Batches of
    /// different producers have disjoint ids.
    ///
    /// # Errors
    /// The engine's error.
    fn append_batch(&self, producer: usize, batch: &Batch) -> PeerResult<()>;
}

/// The engines of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// This workspace's engine on its default I/O path.
    Ringlog,
    /// TiKV's raft-engine.
    RaftEngine,
    /// fjall, a pure-Rust LSM tree.
    Fjall,
    /// glommio's DMA files: io_uring and O_DIRECT with no engine on top.
    Glommio,
    /// The naive page-cache baseline of `benches::naive`.
    Naive,
    /// RocksDB through the `rocksdb` crate.
    RocksDb,
}

impl Peer {
    /// Every engine, ringlog first, in report order.
    pub const ALL: [Peer; 6] = [
        Peer::Ringlog,
        Peer::RaftEngine,
        Peer::Fjall,
        Peer::Glommio,
        Peer::Naive,
        Peer::RocksDb,
    ];

    /// The engine's name in results and reports.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Ringlog => "ringlog",
            Peer::RaftEngine => "raft-engine",
            Peer::Fjall => "fjall",
            Peer::Glommio => "glommio",
            Peer::Naive => "naive",
            Peer::RocksDb => "rocksdb",
        }
    }

    /// The engine called `name`.
    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The cargo feature that builds the engine into this binary, `None` when always built.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Peer::Ringlog | Peer::Naive => None,
            Peer::RaftEngine | Peer::Fjall | Peer::Glommio => Some("peers"),
            Peer::RocksDb => Some("peer-rocksdb"),
        }
    }

    /// Whether this binary was built with the engine.
    pub fn built(self) -> bool {
        match self {
            Peer::Ringlog | Peer::Naive => true,
            Peer::RaftEngine | Peer::Fjall | Peer::Glommio => cfg!(feature = "peers"),
            Peer::RocksDb => cfg!(feature = "peer-rocksdb"),
        }
    }

    /// The engines built into this binary.
    pub fn built_ones() -> Vec<Peer> {
        Peer::ALL.into_iter().filter(|p| p.built()).collect()
    }

    /// Whether several threads may append at once.
    pub fn concurrent_writers(self) -> bool {
        match self {
            Peer::Ringlog | Peer::RaftEngine | Peer::Fjall | Peer::RocksDb => true,
            Peer::Glommio | Peer::Naive => false,
        }
    }

    /// What the engine is, what its durability modes mean and how it is driven: ringlog's and
    /// the naive baseline's texts are in their files, the optional engines' here (so a binary
    /// built without them can still say what they are).
    pub fn describe(self) -> PeerDescription {
        let text = match self {
            Peer::Ringlog => ringlog::DESCRIPTION,
            Peer::Naive => naive::DESCRIPTION,
            Peer::RaftEngine => peer_text::RAFT_ENGINE,
            Peer::Fjall => peer_text::FJALL,
            Peer::Glommio => peer_text::GLOMMIO,
            Peer::RocksDb => peer_text::ROCKSDB,
        };
        text.describe(self.name())
    }

    /// Opens the engine, empty, in `dir` (which must exist and be empty), in `mode`.
    ///
    /// # Errors
    /// The engine's error, or an engine not built into this binary.
    pub fn open(self, dir: &Path, mode: Mode) -> PeerResult<Box<dyn PeerEngine>> {
        match self {
            Peer::Ringlog => Ok(Box::new(ringlog::RinglogPeer::open(dir, mode)?)),
            Peer::Naive => Ok(Box::new(naive::NaivePeer::open(dir, mode)?)),
            #[cfg(feature = "peers")]
            Peer::RaftEngine => Ok(Box::new(raft_engine::RaftEnginePeer::open(dir, mode)?)),
            #[cfg(feature = "peers")]
            Peer::Fjall => Ok(Box::new(fjall::FjallPeer::open(dir, mode)?)),
            #[cfg(feature = "peers")]
            Peer::Glommio => Ok(Box::new(glommio::GlommioPeer::open(dir, mode)?)),
            #[cfg(feature = "peer-rocksdb")]
            Peer::RocksDb => Ok(Box::new(rocksdb::RocksDbPeer::open(dir, mode)?)),
            #[allow(unreachable_patterns, reason = "which arms remain depends on features")]
            _ => Err(PeerError {
                engine: self.name(),
                operation: "open",
                message: format!(
                    "not built into this binary: rebuild with `--features {}`",
                    self.feature().unwrap_or("peers")
                ),
            }),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fixed texts of one engine's [`PeerDescription`].
#[derive(Clone, Copy, Debug)]
pub struct Text {
    /// [`PeerDescription::version`].
    pub version: &'static str,
    /// [`PeerDescription::io_path`].
    pub io_path: &'static str,
    /// [`PeerDescription::cheapest`].
    pub cheapest: &'static str,
    /// [`PeerDescription::sync`].
    pub sync: &'static str,
    /// [`PeerDescription::producers`].
    pub producers: &'static str,
    /// [`PeerDescription::driven`].
    pub driven: &'static str,
}

impl Text {
    fn describe(&self, name: &str) -> PeerDescription {
        PeerDescription {
            name: name.to_string(),
            version: self.version.to_string(),
            io_path: self.io_path.to_string(),
            cheapest: self.cheapest.to_string(),
            sync: self.sync.to_string(),
            producers: self.producers.to_string(),
            driven: self.driven.to_string(),
        }
    }
}

/// The descriptions of the optional engines, kept out of their feature-gated files so a
/// binary built without them still describes them.
mod peer_text {
    use super::Text;

    pub const RAFT_ENGINE: Text = Text {
        version: "raft-engine 0.4.2 (default-features = false)",
        io_path: "buffered write(2) to log files (page cache), pread on read",
        cheapest: "`Engine::write(batch, sync = false)`: the batch is written to the current \
                   log file with write(2) before the call returns: in the page cache, so it \
                   survives a crash of the process, not a power loss",
        sync: "`Engine::write(batch, sync = true)`: write(2) then fdatasync of the log file; \
               concurrent writers are grouped by its write barrier, one fdatasync per group \
               (group commit)",
        producers: "several threads call `Engine::write` at once, each on its own region \
                    (raft-engine orders indexes per region); one region with 1 producer",
        driven: "one region (id 1), index = offset; each record is one entry (a protobuf 2 \
                 shim message of index and payload); one `LogBatch` per batch via \
                 `add_entries`; batch compression off (threshold 0: payloads are random), other \
                 settings default; sequential reads with `fetch_entries_to` 1000 entries at a \
                 time, point reads with `get_entry`; reopen = drop and `Engine::open`, which \
                 replays the log files to rebuild its in-memory index",
    };

    pub const FJALL: Text = Text {
        version: "fjall 3.1 (default-features = false: no lz4)",
        io_path: "buffered journal and table files (page cache), pread on read",
        cheapest: "a `WriteBatch` committed with fjall's default durability, \
                   `PersistMode::Buffer`: the journal's buffer is written to the OS with write(2) \
                   before commit returns, so it survives a crash of the process, not a power loss",
        sync: "the same `WriteBatch` with `.durability(Some(PersistMode::SyncData))`: the \
               journal is fdatasync'ed before commit returns; concurrent committers each sync \
               under the journal lock (no group commit)",
        producers: "several threads commit batches at once to the same keyspace (keys are \
                    disjoint)",
        driven: "one database, one keyspace `log`, key = offset as big-endian u64, value = \
                 payload; the block cache set to ringlog's read-cache size (256 MiB), other \
                 settings default (64 MiB memtables, leveled compaction, no compression); \
                 sequential reads iterate the keyspace, point reads `get`; reopen = drop and \
                 `Database::builder(..).open()`, which replays the journal into memtables: \
                 records not yet flushed to tables are then read from memory, cold or not",
    };

    pub const GLOMMIO: Text = Text {
        version: "glommio 0.9.0",
        io_path: "io_uring + O_DIRECT (DMA files), no page cache",
        cheapest: "`DmaStreamWriter::write_all` of the length-prefixed records: the data sits in \
                   glommio's 128 KiB write-behind buffers and reaches the disk when a buffer \
                   fills; a crash of the process loses what was not written",
        sync: "`write_all`, then `DmaStreamWriter::sync`: the partial buffer is written padded \
               (rewritten by the next batch) and the file fdatasync'ed",
        producers: "none: a stream writer has one owner on one executor thread",
        driven: "the bare substrate, no engine: one file of [u32 length][payload] records \
                 written through one `DmaStreamWriter` (128 KiB buffers, 4 write-behind); the \
                 offset-to-position index is a vector in memory, rebuilt at reopen by scanning \
                 the whole file (it has no index file); sequential reads with a \
                 `DmaStreamReader` (256 KiB buffers, 4 read-ahead), point reads with one \
                 `DmaFile::read_at` each. A `LocalExecutor` lives on the benchmark thread and \
                 each call runs to completion inside `LocalExecutor::run`, so the same calls \
                 are timed as for the other engines. Before the first DMA file is created, a \
                 non-empty probe file is opened with `DmaFile::open`, so glommio's IOPOLL probe \
                 reads real data (on a VM without poll queues a probe of an empty file \
                 misfires)",
    };

    pub const ROCKSDB: Text = Text {
        version: "rocksdb 0.25 (librocksdb-sys 0.19, RocksDB 11.8; no compression libraries)",
        io_path: "buffered WAL and SST files (page cache), pread on read",
        cheapest: "`DB::write` of a `WriteBatch` with default `WriteOptions`: the WAL record is \
                   written with write(2) before the call returns (survives a crash of the \
                   process, not a power loss). RocksDB's even cheaper `disable_wal` is not used: \
                   a log store without its WAL loses every unflushed memtable on any crash",
        sync: "`WriteOptions::set_sync(true)`: the WAL is fdatasync'ed before the write returns; \
               concurrent writers are grouped (group commit)",
        producers: "several threads call `DB::write` at once (keys are disjoint)",
        driven: "one column family, key = offset as big-endian u64, value = payload; block \
                 cache 256 MiB (ringlog's read-cache size), compression off, other options \
                 default; sequential reads with a forward iterator, point reads with `get`; \
                 reopen = drop and `DB::open`, which replays the WAL",
    };
}
