//! RocksDB as a peer (cargo feature `peer-rocksdb`): one column family, key = offset as a
//! big-endian u64, value = payload, one `WriteBatch` per batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{BlockBasedOptions, Cache, DB, DBCompressionType, Options, WriteBatch, WriteOptions};

use super::{Batch, Mode, PeerEngine, PeerError, PeerResult, SharedAppend, Visit, fail};

const NAME: &str = "rocksdb";

/// The database and how its writes are acknowledged.
struct Store {
    db: DB,
    write: WriteOptions,
}

impl Store {
    fn open(dir: &Path, sync: bool) -> PeerResult<Store> {
        let mut options = Options::default();
        options.create_if_missing(true);
        // Payloads are random: compressing would cost CPU and save nothing.
        options.set_compression_type(DBCompressionType::None);
        let mut table = BlockBasedOptions::default();
        // Block cache: ringlog's default read cache size, so both engines cache with the same
        // memory.
        table.set_block_cache(&Cache::new_lru_cache(ringlog::config::default_cache_bytes()));
        options.set_block_based_table_factory(&table);
        let db = DB::open(&options, dir).map_err(fail(NAME, "open"))?;
        let mut write = WriteOptions::default();
        write.set_sync(sync);
        Ok(Store { db, write })
    }
}

impl SharedAppend for Store {
    fn append_batch(&self, _producer: usize, batch: &Batch) -> PeerResult<()> {
        let mut write = WriteBatch::default();
        for (i, record) in batch.records.iter().enumerate() {
            write.put((batch.first_id + i as u64).to_be_bytes(), record);
        }
        self.db
            .write_opt(write, &self.write)
            .map_err(fail(NAME, "write"))
    }
}

/// RocksDB, in one directory.
pub struct RocksDbPeer {
    dir: PathBuf,
    sync: bool,
    store: Option<Arc<Store>>,
}

impl std::fmt::Debug for RocksDbPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbPeer")
            .field("dir", &self.dir)
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

impl RocksDbPeer {
    /// An empty database in `dir`; every write synced in [`Mode::Sync`].
    ///
    /// # Errors
    /// The engine's open error.
    pub fn open(dir: &Path, mode: Mode) -> PeerResult<RocksDbPeer> {
        let sync = mode == Mode::Sync;
        Ok(RocksDbPeer {
            dir: dir.to_path_buf(),
            sync,
            store: Some(Arc::new(Store::open(dir, sync)?)),
        })
    }

    fn store(&self) -> PeerResult<&Arc<Store>> {
        self.store.as_ref().ok_or(PeerError {
            engine: NAME,
            operation: "use",
            message: "the database is closed".to_string(),
        })
    }
}

impl PeerEngine for RocksDbPeer {
    fn append_batch(&mut self, batch: &Batch) -> PeerResult<()> {
        self.store()?.append_batch(0, batch)
    }

    fn producers(&self) -> Option<Arc<dyn SharedAppend>> {
        self.store
            .as_ref()
            .map(|s| Arc::clone(s) as Arc<dyn SharedAppend>)
    }

    fn flush(&mut self) -> PeerResult<()> {
        self.store()?
            .db
            .flush_wal(true)
            .map_err(fail(NAME, "flush_wal"))
    }

    fn close(&mut self) -> PeerResult<()> {
        if let Some(store) = self.store.take() {
            assert_eq!(
                Arc::strong_count(&store),
                1,
                "rocksdb closed while producers hold it"
            );
        }
        Ok(())
    }

    fn reopen(&mut self) -> PeerResult<()> {
        self.close()?;
        self.store = Some(Arc::new(Store::open(&self.dir, self.sync)?));
        Ok(())
    }

    fn read_seq(&mut self, visit: Visit<'_>) -> PeerResult<u64> {
        let store = self.store()?;
        let mut iter = store.db.raw_iterator();
        iter.seek_to_first();
        let mut count = 0;
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            let offset = key
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| PeerError {
                    engine: NAME,
                    operation: "iterate",
                    message: format!("a key of {} bytes, not 8", key.len()),
                })?;
            visit(offset, value);
            count += 1;
            iter.next();
        }
        iter.status().map_err(fail(NAME, "iterate"))?;
        Ok(count)
    }

    fn read_point(&mut self, offset: u64, visit: Visit<'_>) -> PeerResult<()> {
        let value = self
            .store()?
            .db
            .get_pinned(offset.to_be_bytes())
            .map_err(fail(NAME, "get"))?
            .ok_or_else(|| PeerError {
                engine: NAME,
                operation: "get",
                message: format!("no key {offset}"),
            })?;
        visit(offset, &value);
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}
