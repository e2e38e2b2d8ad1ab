//! `Durability::None` appenders feel backpressure while another thread holds the flusher
//! role: a storage wrapper makes every `fdatasync` (and `msync`) sleep [`SYNC_SLEEP`], one
//! thread calls `Log::flush` in a loop (so it holds the role through each slow sync), and the
//! test thread appends [`TOTAL_BYTES`] with `Durability::None`. Frozen write chunks must not
//! pile up meanwhile: the process's anonymous resident memory (`RssAnon`, sampled during the
//! appends) never grows by more than [`GROWTH_MAX_BYTES`] over what it was after a warm-up,
//! and every record is there at the end. Runs on every I/O path.

mod common;

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use common::for_each_io_mode;
use ringlog::io::{IoPath, PendingWrite, Storage};
use ringlog::record::Record;
use ringlog::{Config, Durability, IoMode, Log, Shared, SharedConfig};
use ringlog_sys::AlignedBuf;
use ringlog_sys::mmap::MapReader;

const SYNC_SLEEP: Duration = Duration::from_millis(200);
const POOL_BYTES: usize = 4 * 1024 * 1024;
const CACHE_BYTES: usize = 1024 * 1024;
const VALUE_BYTES: usize = 16 * 1024;
const TOTAL_BYTES: usize = 64 * 1024 * 1024;
/// Appended before the baseline is taken, so that the pool and cache are filled already.
const WARM_UP_BYTES: usize = 2 * POOL_BYTES;
/// What the appends may hold at once: the pool's budget of unwritten chunks (where appenders
/// start to wait), the pool itself, the cache, and slack for a write and a staging copy in
/// flight and the allocator.
const GROWTH_MAX_BYTES: usize = 2 * POOL_BYTES + CACHE_BYTES + 8 * 1024 * 1024;

/// Forwards every call, sleeping [`SYNC_SLEEP`] in each sync.
struct SlowSync(Arc<dyn Storage>);

impl Storage for SlowSync {
    fn io_path(&self) -> IoPath {
        self.0.io_path()
    }

    fn alignment(&self) -> usize {
        self.0.alignment()
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>> {
        self.0.open(path, create)
    }

    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        self.0.submit_write(file, data, offset)
    }

    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        self.0.read(file, buf, offset, len)
    }

    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        thread::sleep(SYNC_SLEEP);
        self.0.sync_data(file)
    }

    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        self.0.allocate(file, offset, len)
    }

    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        self.0.set_len(file, len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.sync_dir(dir)
    }

    fn sync_mapped(&self, map: &MapReader, offset: usize, len: usize) -> io::Result<()> {
        thread::sleep(SYNC_SLEEP);
        self.0.sync_mapped(map, offset, len)
    }
    ringlog::forward_namespace!(0);
}

/// Anonymous resident memory of this process, from `/proc/self/status`.
fn rss_anon_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("RssAnon in /proc/self/status");
    kib * 1024
}

fn append(log: &Log, i: usize) {
    let value = vec![i as u8; VALUE_BYTES];
    log.append(&[Record {
        key: Some(b"k"),
        value: Some(&value),
        timestamp_ms: common::now_ms(),
        headers: &[],
    }])
    .unwrap_or_else(|e| panic!("append {i}: {e}"));
}

#[test]
fn none_appends_wait_instead_of_piling_up_chunks_behind_a_slow_flusher() {
    for_each_io_mode(slow_flusher);
}

fn slow_flusher(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let shared_config = SharedConfig {
        buffer_pool_bytes: POOL_BYTES,
        cache_bytes: CACHE_BYTES,
        ..common::shared_config(io_mode)
    };
    let shared = Shared::with_storage(dir.path(), &shared_config, |inner| {
        Arc::new(SlowSync(inner))
    })
    .unwrap();
    let config = Config {
        durability: Durability::None,
        flush_interval_ms: None,
        ..common::config(io_mode)
    };
    let log = Arc::new(Log::open_with(dir.path(), config, &shared).unwrap());
    common::assert_io_path(&log, io_mode);
    let stop = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                log.flush().expect("flush");
            }
        })
    };
    let count = TOTAL_BYTES / VALUE_BYTES;
    let warm_up = WARM_UP_BYTES / VALUE_BYTES;
    let mut baseline = 0;
    let mut peak_growth = 0;
    for i in 0..count {
        append(&log, i);
        if i == warm_up {
            baseline = rss_anon_bytes();
        } else if i > warm_up && i % 16 == 0 {
            peak_growth = peak_growth.max(rss_anon_bytes().saturating_sub(baseline));
        }
    }
    stop.store(true, Ordering::Relaxed);
    flusher.join().unwrap();
    eprintln!(
        "anonymous memory grew by at most {} KiB (bound {} KiB)",
        peak_growth / 1024,
        GROWTH_MAX_BYTES / 1024
    );
    assert!(
        peak_growth <= GROWTH_MAX_BYTES,
        "appending {} MiB behind a flusher waiting {SYNC_SLEEP:?} per fdatasync grew anonymous \
         resident memory by {} KiB, more than {} KiB",
        TOTAL_BYTES >> 20,
        peak_growth / 1024,
        GROWTH_MAX_BYTES / 1024
    );
    assert_eq!(log.next_offset(), count as u64);
    for i in [0, count / 2, count - 1] {
        let records = log.read_records(i as u64, VALUE_BYTES * 2).unwrap();
        assert_eq!(
            records[0].value.as_deref(),
            Some(&vec![i as u8; VALUE_BYTES][..])
        );
    }
}
