//! A busy log's direct writes grow: each time its write chunk fills, the next chunk doubles,
//! up to `buffer_bytes * write_chunk_growth`, so a log that writes faster than chunks go out
//! issues writes of the largest size; an idle log's chunk goes back to `buffer_bytes`, so a
//! partition that became quiet holds a small tail again. Every record reads back after all of
//! it. On the direct-write paths (io_uring and pread/pwrite; the mmap path makes no writes).
//! Under `Write` and `Sync` chunks do not grow (see `log/writer/tail.rs`).
//! The write sizes are seen through a storage wrapper that records every `submit_write`.

mod common;

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Expected, append_rows, read_all};
use ringlog::io::{PendingWrite, Storage};
use ringlog::{Config, Durability, IoMode, Log, SharedConfig};

const BUFFER_BYTES: usize = 64 * 1024;
const GROWTH: usize = 4;
const VALUE_BYTES: usize = 1000;
const FLUSH_INTERVAL_MS: u64 = 20;
const BATCH_RECORDS: usize = 8;

/// Forwards everything; records the size of every write.
struct Recording {
    inner: Arc<dyn Storage>,
    write_bytes: Mutex<Vec<usize>>,
}

impl Storage for Recording {
    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        self.write_bytes.lock().unwrap().push(data.len());
        self.inner.submit_write(file, data, offset)
    }
    ringlog::forward_storage!(inner; io_path, alignment, open, read, sync_data, allocate,
        set_len, rename, sync_dir, sync_mapped);
    ringlog::forward_namespace!(inner);
}

fn rows(from: u64, count: u64) -> Vec<Expected> {
    (from..from + count)
        .map(|i| Expected::numbered(i, common::now_ms(), VALUE_BYTES))
        .collect()
}

/// A `Shared` on `dir` whose storage records every write, and the recorder.
fn recorded_shared(dir: &Path, io_mode: IoMode) -> (Arc<ringlog::Shared>, Arc<Recording>) {
    let shared_config = SharedConfig {
        io_mode,
        buffer_bytes: BUFFER_BYTES,
        write_chunk_growth: GROWTH,
        ..SharedConfig::default()
    };
    let mut recording = None;
    let shared = ringlog::Shared::with_storage(dir, &shared_config, |inner| {
        let wrapper = Arc::new(Recording {
            inner,
            write_bytes: Mutex::new(Vec::new()),
        });
        recording = Some(Arc::clone(&wrapper));
        wrapper
    })
    .expect("shared");
    (shared, recording.expect("wrapped"))
}

fn run(io_mode: IoMode) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (shared, recording) = recorded_shared(dir.path(), io_mode);
    let config = Config {
        io_mode,
        durability: Durability::None,
        flush_interval_ms: Some(FLUSH_INTERVAL_MS),
        ..Config::default()
    };
    let log = Log::open_with(dir.path().join("p"), config, &shared).expect("open");
    common::assert_io_path(&log, io_mode);

    // Busy: 2 MiB in batches of 8 records, far more than the largest chunk.
    let busy = rows(0, 2048);
    for batch in busy.chunks(BATCH_RECORDS) {
        append_rows(&log, batch);
    }
    let largest = BUFFER_BYTES * GROWTH;
    let sizes = recording.write_bytes.lock().unwrap().clone();
    // A chunk is frozen when the next batch does not fit, and its partial last page is
    // written with the next one: a chunk's write is its size less up to a batch and a page.
    let slack = BATCH_RECORDS * (VALUE_BYTES + 100) + 4096;
    assert!(
        sizes
            .first()
            .is_some_and(|&n| n <= BUFFER_BYTES && n >= BUFFER_BYTES - slack),
        "{io_mode:?}: the first chunk is buffer_bytes: {sizes:?}"
    );
    assert!(
        sizes.iter().all(|&n| n <= largest),
        "{io_mode:?}: no write beyond the largest chunk: {sizes:?}"
    );
    assert!(
        sizes.iter().filter(|&&n| n >= largest - slack).count() >= 3,
        "{io_mode:?}: a busy log writes chunks of the largest size: {sizes:?}"
    );

    // Idle: the flusher writes what is left (a write of the partial tail) and, once nothing
    // was appended for the flush interval, gives the tail back.
    let started = Instant::now();
    while recording.write_bytes.lock().unwrap().len() == sizes.len() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{io_mode:?}: the flusher never wrote the idle tail"
        );
        std::thread::sleep(Duration::from_millis(FLUSH_INTERVAL_MS));
    }
    std::thread::sleep(Duration::from_millis(10 * FLUSH_INTERVAL_MS));
    let before = recording.write_bytes.lock().unwrap().len();
    let quiet = rows(2048, 200);
    for batch in quiet.chunks(BATCH_RECORDS) {
        append_rows(&log, batch);
    }
    let after: Vec<usize> = recording.write_bytes.lock().unwrap()[before..].to_vec();
    assert!(
        !after.is_empty() && after[0] <= BUFFER_BYTES,
        "{io_mode:?}: after going idle the chunk is back to buffer_bytes: {after:?}"
    );
    let mut all = busy;
    all.extend(quiet);
    assert_eq!(read_all(&log), all, "{io_mode:?}");
    log.close().expect("close");
}

/// Under `Sync` chunks stay at `buffer_bytes`: each acknowledgement's round writes what is not
/// written yet, and smaller chunks go out while the producer encodes.
fn run_sync(io_mode: IoMode) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (shared, recording) = recorded_shared(dir.path(), io_mode);
    let config = Config {
        io_mode,
        durability: Durability::Sync,
        ..Config::default()
    };
    let log = Log::open_with(dir.path().join("p"), config, &shared).expect("open");
    let rows = rows(0, 1024);
    let handles: Vec<_> = rows
        .chunks(BATCH_RECORDS)
        .map(|batch| common::with_records(batch, |r| log.submit(r).expect("submit")))
        .collect();
    for handle in handles {
        handle.wait().expect("durable");
    }
    let sizes = recording.write_bytes.lock().unwrap().clone();
    assert!(
        !sizes.is_empty() && sizes.iter().all(|&n| n <= BUFFER_BYTES),
        "{io_mode:?}: no write beyond buffer_bytes under Sync: {sizes:?}"
    );
    assert_eq!(read_all(&log), rows, "{io_mode:?}");
    log.close().expect("close");
}

#[test]
fn sync_logs_keep_chunks_at_buffer_bytes() {
    run_sync(IoMode::Uring);
    run_sync(IoMode::Portable);
}

#[test]
fn busy_logs_write_larger_chunks_and_idle_ones_small() {
    run(IoMode::Uring);
    run(IoMode::Portable);
}
