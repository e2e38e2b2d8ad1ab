//! fjall (a pure-Rust LSM tree) as a peer: one keyspace, key = offset as a big-endian u64 (so
//! key order is offset order), value = payload, one `WriteBatch` per batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{Batch, Mode, PeerEngine, PeerError, PeerResult, SharedAppend, Visit, fail};

const NAME: &str = "fjall";
/// The keyspace's name.
const KEYSPACE: &str = "log";

/// A database with its one keyspace.
struct Store {
    db: Database,
    keyspace: Keyspace,
    sync: bool,
}

impl Store {
    fn open(dir: &Path, sync: bool) -> PeerResult<Store> {
        let db = Database::builder(dir)
            .cache_size(
                // Block cache: ringlog's default read cache size, so both engines cache with
                // the same memory.
                ringlog::config::default_cache_bytes() as u64,
            )
            .open()
            .map_err(fail(NAME, "open"))?;
        let keyspace = db
            .keyspace(KEYSPACE, KeyspaceCreateOptions::default)
            .map_err(fail(NAME, "open the keyspace"))?;
        Ok(Store { db, keyspace, sync })
    }
}

impl SharedAppend for Store {
    fn append_batch(&self, _producer: usize, batch: &Batch) -> PeerResult<()> {
        // `Database::batch` comes with fjall's default durability, `PersistMode::Buffer`.
        let mut write = self.db.batch();
        if self.sync {
            write = write.durability(Some(PersistMode::SyncData));
        }
        for (i, record) in batch.records.iter().enumerate() {
            let key = (batch.first_id + i as u64).to_be_bytes();
            write.insert(&self.keyspace, key, &record[..]);
        }
        write.commit().map_err(fail(NAME, "commit"))
    }
}

/// fjall, in one directory.
pub struct FjallPeer {
    dir: PathBuf,
    sync: bool,
    store: Option<Arc<Store>>,
}

impl std::fmt::Debug for FjallPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallPeer")
            .field("dir", &self.dir)
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

impl FjallPeer {
    /// An empty database in `dir`; every batch synced in [`Mode::Sync`].
    ///
    /// # Errors
    /// The engine's open error.
    pub fn open(dir: &Path, mode: Mode) -> PeerResult<FjallPeer> {
        let sync = mode == Mode::Sync;
        Ok(FjallPeer {
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

fn offset_of(key: &[u8]) -> PeerResult<u64> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| PeerError {
            engine: NAME,
            operation: "iterate",
            message: format!("a key of {} bytes, not 8", key.len()),
        })
}

impl PeerEngine for FjallPeer {
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
            .persist(PersistMode::SyncData)
            .map_err(fail(NAME, "persist"))
    }

    fn close(&mut self) -> PeerResult<()> {
        if let Some(store) = self.store.take() {
            assert_eq!(
                Arc::strong_count(&store),
                1,
                "fjall closed while producers hold it"
            );
            // Dropping the last handle stops fjall's workers and persists the journal.
        }
        Ok(())
    }

    fn reopen(&mut self) -> PeerResult<()> {
        self.close()?;
        self.store = Some(Arc::new(Store::open(&self.dir, self.sync)?));
        Ok(())
    }

    fn read_seq(&mut self, visit: Visit<'_>) -> PeerResult<u64> {
        let mut count = 0;
        for guard in self.store()?.keyspace.iter() {
            let (key, value) = guard.into_inner().map_err(fail(NAME, "iterate"))?;
            visit(offset_of(&key)?, &value);
            count += 1;
        }
        Ok(count)
    }

    fn read_point(&mut self, offset: u64, visit: Visit<'_>) -> PeerResult<()> {
        let value = self
            .store()?
            .keyspace
            .get(offset.to_be_bytes())
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
