//! Helpers shared by the integration tests: running a test on every I/O path, building
//! records, reading a whole log back, locating batches inside a segment file, and simulating
//! crashes with plain file operations.

// Each test file compiles this module on its own and uses a different subset of it.
#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the helpers"
)]

use std::fs;
use std::path::{Path, PathBuf};

use ringlog::record::{BatchLimits, Header, Record, peek_batch_bytes, validate_batch};
use ringlog::segment::{INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, file_name};
use ringlog::{
    CLEAN_SHUTDOWN_FILE, Config, Durability, IoMode, IoPath, Log, ReadRecord, SharedConfig,
};

/// Runs `test` once for every I/O path of this build ([`IoMode::PATHS`]: io_uring and
/// pread/pwrite, plus mmap with the `mmap` feature). Each run starts by printing
/// `io path: <name>` to stderr, which the test harness shows with a failure, so the output
/// names the path that broke.
pub fn for_each_io_mode(mut test: impl FnMut(IoMode)) {
    for &io_mode in IoMode::PATHS {
        eprintln!("io path: {}", io_mode.name());
        test(io_mode);
    }
}

/// Whether `path` is a path that `io_mode` may end up on. `Auto` may fall back to pread/pwrite
/// but never maps segments.
pub fn io_mode_allows(io_mode: IoMode, path: IoPath) -> bool {
    match io_mode {
        IoMode::Uring => matches!(path, IoPath::UringDirect | IoPath::UringBuffered),
        IoMode::Portable => matches!(path, IoPath::PortableDirect | IoPath::PortableBuffered),
        #[cfg(feature = "mmap")]
        IoMode::Mmap => path == IoPath::Mmap,
        IoMode::Auto => path != IoPath::Mmap,
    }
}

/// Asserts that `log` runs on the path its configuration asked for: a test meant for one path
/// must not silently pass on another.
pub fn assert_io_path(log: &Log, io_mode: IoMode) {
    let path = log.io_path();
    assert!(
        io_mode_allows(io_mode, path),
        "asked for io mode {} but the log runs on {path}",
        io_mode.name()
    );
}

/// Opens the log in `dir` with [`Log::open`] and checks it runs on `config.io_mode`.
pub fn open_log(dir: impl AsRef<Path>, config: Config) -> Log {
    let io_mode = config.io_mode;
    let log = Log::open(dir.as_ref(), config).unwrap_or_else(|e| {
        panic!(
            "open {} on io mode {}: {e}",
            dir.as_ref().display(),
            io_mode.name()
        )
    });
    assert_io_path(&log, io_mode);
    log
}

/// The default configuration on `io_mode`.
pub fn config(io_mode: IoMode) -> Config {
    Config {
        io_mode,
        ..Config::default()
    }
}

/// The default shared resources on `io_mode`.
pub fn shared_config(io_mode: IoMode) -> SharedConfig {
    SharedConfig {
        io_mode,
        ..SharedConfig::default()
    }
}

/// A record as the tests write it and expect it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Expected {
    /// The record for `offset`: a key, a value of `value_bytes` bytes that depend on the
    /// offset, and one header.
    pub fn numbered(offset: u64, timestamp_ms: i64, value_bytes: usize) -> Expected {
        Expected {
            offset,
            timestamp_ms,
            key: Some(format!("key-{offset}").into_bytes()),
            value: Some(
                (0..value_bytes)
                    .map(|j| (offset as usize * 31 + j) as u8)
                    .collect(),
            ),
            headers: vec![("h".to_owned(), Some(offset.to_be_bytes().to_vec()))],
        }
    }

    pub fn from_read(record: &ReadRecord) -> Expected {
        Expected {
            offset: record.offset,
            timestamp_ms: record.timestamp_ms,
            key: record.key.as_ref().map(|b| b.to_vec()),
            value: record.value.as_ref().map(|b| b.to_vec()),
            headers: record
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|b| b.to_vec())))
                .collect(),
        }
    }
}

/// Calls `f` with `rows` as [`Record`]s (borrowing their bytes).
pub fn with_records<T>(rows: &[Expected], f: impl FnOnce(&[Record<'_>]) -> T) -> T {
    let headers: Vec<Vec<Header<'_>>> = rows
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .map(|(key, value)| Header {
                    key,
                    value: value.as_deref(),
                })
                .collect()
        })
        .collect();
    let records: Vec<Record<'_>> = rows
        .iter()
        .zip(&headers)
        .map(|(r, headers)| Record {
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            timestamp_ms: r.timestamp_ms,
            headers,
        })
        .collect();
    f(&records)
}

/// Appends `rows` as one batch through [`Log::append`]; asserts the offsets they were given.
pub fn append_rows(log: &Log, rows: &[Expected]) {
    let info = with_records(rows, |records| log.append(records)).expect("append succeeds");
    assert_eq!(
        (info.base_offset, info.last_offset),
        (rows[0].offset, rows[rows.len() - 1].offset),
        "append assigned unexpected offsets"
    );
}

/// `batch_count` batches of `records_per_batch` numbered records from `first_offset`,
/// with timestamps from `timestamp_of(offset)`.
pub fn numbered_batches(
    first_offset: u64,
    batch_count: usize,
    records_per_batch: usize,
    value_bytes: usize,
    timestamp_of: impl Fn(u64) -> i64,
) -> Vec<Vec<Expected>> {
    let mut offset = first_offset;
    (0..batch_count)
        .map(|_| {
            (0..records_per_batch)
                .map(|_| {
                    let row = Expected::numbered(offset, timestamp_of(offset), value_bytes);
                    offset += 1;
                    row
                })
                .collect()
        })
        .collect()
}

/// Every record of `log` a consumer can read (from its start offset to its high watermark),
/// read with [`Log::read_records`].
pub fn read_all(log: &Log) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut offset = log.start_offset();
    while offset < log.high_watermark() {
        let records = log.read_records(offset, 256 * 1024).expect("read succeeds");
        assert!(!records.is_empty(), "read at {offset} returned nothing");
        for record in &records {
            assert_eq!(record.offset, offset, "offsets are contiguous");
            out.push(Expected::from_read(record));
            offset += 1;
        }
    }
    out
}

/// A configuration on `io_mode` that keeps every acknowledged byte on disk and runs no
/// background flush.
pub fn sync_config(io_mode: IoMode) -> Config {
    Config {
        durability: Durability::Sync,
        flush_interval_ms: None,
        ..config(io_mode)
    }
}

/// Path of a segment file in `dir`.
pub fn segment_path(dir: &Path, base_offset: u64, extension: &str) -> PathBuf {
    dir.join(file_name(base_offset, extension))
}

/// Path of a segment's `.log` file in `dir`.
pub fn log_file(dir: &Path, base_offset: u64) -> PathBuf {
    segment_path(dir, base_offset, LOG_EXTENSION)
}

/// Removes the clean-shutdown marker so the next open runs the recovery scan.
pub fn remove_clean_marker(dir: &Path) {
    let marker = dir.join(CLEAN_SHUTDOWN_FILE);
    fs::remove_file(&marker).expect("a clean close leaves the marker");
}

/// `(position, total_bytes)` of each batch in a segment file's bytes, for a file that holds
/// only whole valid batches.
pub fn batch_spans(file: &[u8]) -> Vec<(usize, usize)> {
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: true,
    };
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < file.len() {
        let total = peek_batch_bytes(&file[pos..], usize::MAX).expect("a batch starts here");
        validate_batch(&file[pos..pos + total], &limits).expect("the batch is valid");
        spans.push((pos, total));
        pos += total;
    }
    spans
}

/// Copies the segment files (and marker, if any) of `from` into `to`, replacing what is there.
pub fn copy_log_dir(from: &Path, to: &Path) {
    if to.exists() {
        fs::remove_dir_all(to).expect("remove the old copy");
    }
    fs::create_dir_all(to).expect("create the copy");
    for entry in fs::read_dir(from).expect("list the pristine copy") {
        let entry = entry.expect("list the pristine copy");
        fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a file");
    }
}

/// Names of the segment files in `dir`, sorted.
pub fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list the log directory")
        .map(|e| e.expect("list").file_name().to_string_lossy().into_owned())
        .filter(|n| {
            [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION]
                .iter()
                .any(|ext| n.ends_with(&format!(".{ext}")))
        })
        .collect();
    names.sort();
    names
}

/// Overwrites `bytes` at `position` of the file at `path`.
pub fn patch_file(path: &Path, position: usize, bytes: &[u8]) {
    let mut data = fs::read(path).expect("read the file to patch");
    data[position..position + bytes.len()].copy_from_slice(bytes);
    fs::write(path, data).expect("write the patched file");
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// Asserts that `result` is `ReadError::Corrupt` for a CRC mismatch of the batch at
/// `position` of the segment file `path`; `when` says which case failed.
pub fn assert_crc_mismatch<T: std::fmt::Debug>(
    result: Result<T, ringlog::ReadError>,
    path: &Path,
    position: usize,
    when: &str,
) {
    match result {
        Err(ringlog::ReadError::Corrupt {
            path: got_path,
            position: got_position,
            source: ringlog::record::BatchError::CrcMismatch { .. },
        }) => {
            assert_eq!(got_path, path, "{when}: the error names the segment file");
            assert_eq!(
                got_position, position as u64,
                "{when}: and the batch's position"
            );
        }
        other => panic!(
            "{when}: expected a CRC mismatch at {position} of {}, got {other:?}",
            path.display()
        ),
    }
}

/// Checks a fetch from `offset`: whole batches from the one holding `offset`, each following
/// the last, every one below the fetch's high watermark, and `next_fetch_offset` just past
/// them; calls `visit` with each batch. Returns the next offset.
pub fn check_fetched(
    fetched: &ringlog::FetchedBatches,
    offset: u64,
    when: &str,
    mut visit: impl FnMut(&[u8]),
) -> u64 {
    let mut rest = &fetched.bytes[..];
    let mut next = offset;
    while !rest.is_empty() {
        let header =
            ringlog::record::BatchHeader::parse(rest).unwrap_or_else(|e| panic!("{when}: {e}"));
        assert_eq!(
            header.base_offset as u64, next,
            "{when}: batches follow each other"
        );
        assert!(
            (header.last_offset() as u64) < fetched.high_watermark,
            "{when}: a batch at or past the high watermark {}",
            fetched.high_watermark
        );
        let (batch, tail) = rest.split_at(header.total_bytes());
        visit(batch);
        next = header.last_offset() as u64 + 1;
        rest = tail;
    }
    assert_eq!(fetched.next_fetch_offset, next, "{when}");
    next
}

/// Every record of a log of keyed records, by offset: its key and value (`None`: a
/// tombstone). Offsets may have gaps (a compacted log).
pub fn keyed_contents(log: &Log) -> std::collections::BTreeMap<u64, (Vec<u8>, Option<Vec<u8>>)> {
    let mut out = std::collections::BTreeMap::new();
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let batches = log.fetch(offset, 1 << 20).unwrap();
        assert!(
            !batches.bytes.is_empty(),
            "fetch at {offset} returned nothing"
        );
        let mut rest = &batches.bytes[..];
        while !rest.is_empty() {
            let header = ringlog::record::BatchHeader::parse(rest).unwrap();
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in ringlog::record::records(batch).unwrap() {
                let r = r.unwrap();
                out.insert(
                    r.offset as u64,
                    (r.key.unwrap().to_vec(), r.value.map(<[u8]>::to_vec)),
                );
            }
            rest = tail;
        }
        offset = batches.next_fetch_offset;
    }
    out
}
