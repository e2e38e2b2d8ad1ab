//! After a failed write or fdatasync the log refuses further writes (the kernel may have
//! dropped the dirty data, so retrying would lie), and reopening recovers everything that was
//! acknowledged before the failure. Runs on every I/O path, with the faults injected behind
//! the `Storage` seam.

mod common;

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use common::{assert_io_path, for_each_io_mode, open_log};
use ringlog::io::{IoPath, PendingWrite, Storage};
use ringlog::record::Record;
use ringlog::{AppendError, Config, Durability, IoMode, Log, Shared};
use ringlog_sys::AlignedBuf;
use ringlog_sys::mmap::MapReader;

/// Forwards to the real storage until a `fail_*` flag is set, then fails writes or syncs with
/// EIO. On the mmap path appends are copies into the mapping and reach the disk only through
/// `msync`, so a failed write shows there as a failed `sync_mapped`, like a failed sync.
struct Failing {
    inner: Arc<dyn Storage>,
    fail_writes: AtomicBool,
    fail_syncs: AtomicBool,
}

impl Storage for Failing {
    fn io_path(&self) -> IoPath {
        self.inner.io_path()
    }
    fn alignment(&self) -> usize {
        self.inner.alignment()
    }
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>> {
        self.inner.open(path, create)
    }
    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Ok(PendingWrite::done(
                Err(io::Error::from_raw_os_error(libc_eio())),
                data.len(),
            ));
        }
        self.inner.submit_write(file, data, offset)
    }
    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        self.inner.read(file, buf, offset, len)
    }
    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        if self.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        self.inner.sync_data(file)
    }
    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        self.inner.allocate(file, offset, len)
    }
    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        self.inner.set_len(file, len)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn sync_mapped(&self, map: &MapReader, offset: usize, len: usize) -> io::Result<()> {
        if self.fail_writes.load(Ordering::SeqCst) || self.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        self.inner.sync_mapped(map, offset, len)
    }
}

/// EIO, the error a failing disk reports.
fn libc_eio() -> i32 {
    5
}

fn record(value: &[u8]) -> [Record<'_>; 1] {
    [Record {
        key: None,
        value: Some(value),
        timestamp_ms: 0,
        headers: &[],
    }]
}

fn run(io_mode: IoMode, fail_syncs: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut failing = None;
    let shared_config = common::shared_config(io_mode);
    let shared = Shared::with_storage(dir.path(), &shared_config, |inner| {
        let storage = Arc::new(Failing {
            inner,
            fail_writes: AtomicBool::new(false),
            fail_syncs: AtomicBool::new(false),
        });
        failing = Some(Arc::clone(&storage));
        storage
    })
    .unwrap();
    let failing = failing.unwrap();
    let config = Config {
        durability: Durability::Sync,
        ..common::config(io_mode)
    };
    let log = Log::open_with(dir.path(), config.clone(), &shared).unwrap();
    assert_io_path(&log, io_mode);
    for i in 0..10u8 {
        log.append(&record(&[i; 100])).unwrap();
    }
    if fail_syncs {
        failing.fail_syncs.store(true, Ordering::SeqCst);
    } else {
        failing.fail_writes.store(true, Ordering::SeqCst);
    }
    let error = log.append(&record(b"lost")).unwrap_err();
    assert!(
        matches!(error, AppendError::Io { .. }),
        "the failure itself: {error}"
    );
    let expected_op = match (log.io_path(), fail_syncs) {
        (IoPath::Mmap, _) => "msync",
        (_, true) => "fdatasync",
        (_, false) => "write to",
    };
    assert!(
        error.to_string().contains(expected_op),
        "names the operation: {error}"
    );
    // The disk works again, but the log must not pretend the failed data is safe.
    failing.fail_writes.store(false, Ordering::SeqCst);
    failing.fail_syncs.store(false, Ordering::SeqCst);
    let error = log.append(&record(b"after")).unwrap_err();
    assert!(
        matches!(error, AppendError::Poisoned { .. }),
        "refuses further writes: {error}"
    );
    assert!(
        error.to_string().contains("reopen"),
        "says what to do: {error}"
    );
    assert!(log.flush().is_err(), "flush refuses too");
    assert!(log.poisoned().is_some());
    // Reads still work.
    assert_eq!(
        log.read_records(0, 1 << 20).unwrap()[0].value.as_deref(),
        Some(&[0u8; 100][..])
    );
    drop(log);
    let log = open_log(dir.path(), config);
    let records = log.read_records(0, 1 << 20).unwrap();
    assert!(
        records.len() >= 10,
        "every acknowledged record survives: {}",
        records.len()
    );
    for (i, r) in records.iter().take(10).enumerate() {
        assert_eq!(r.value.as_deref(), Some(&[i as u8; 100][..]));
    }
    let next = log.next_offset();
    assert_eq!(
        log.append(&record(b"again")).unwrap().base_offset,
        next,
        "appends resume after reopen"
    );
}

#[test]
fn a_failed_write_poisons_the_log() {
    for_each_io_mode(|io_mode| run(io_mode, false));
}

#[test]
fn a_failed_fdatasync_poisons_the_log() {
    for_each_io_mode(|io_mode| run(io_mode, true));
}
