//! Fixtures of the partition-log benches (`benches/log.rs`): bench cases that print their
//! conditions, logs that own their directory, logs filled before timing, a size cap for
//! long-lived logs, a fixed-seed random generator, and cheap checks of fetched batches.
//!
//! Everything here runs outside Divan's timed region except [`check_batches`] and
//! [`Record`] building, which the timed closures call on purpose: a bench that reads must show
//! that it read the right thing.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use ringlog::record::{BatchHeader, Record, encoded_batch_bytes};
use ringlog::{Config, Durability, Log};
use tempfile::TempDir;

use crate::naive::NaiveLog;
use crate::{bench_dir, config, payload};

/// Timestamp of the first record appended by a bench (a fixed instant, so runs are
/// identical); record `i` gets `BASE_TIMESTAMP_MS + i`.
pub const BASE_TIMESTAMP_MS: i64 = 1_700_000_000_000;

/// A long-lived log is replaced by a fresh, empty one (untimed) once it holds this many bytes,
/// so a bench's disk use stays bounded however many samples it takes.
pub const LOG_CAP_BYTES: u64 = 512 * 1024 * 1024;

/// Fetch budget of a consumer reading a whole log (Kafka's `max.partition.fetch.bytes`).
pub const CONSUMER_FETCH_BYTES: usize = 1024 * 1024;

/// `len` bytes as the grids name them: `100B`, `1KiB`, `10MiB`.
pub fn size_name(len: usize) -> String {
    if len >= 1 << 20 && len.is_multiple_of(1 << 20) {
        format!("{}MiB", len >> 20)
    } else if len >= 1 << 10 && len.is_multiple_of(1 << 10) {
        format!("{}KiB", len >> 10)
    } else {
        format!("{len}B")
    }
}

/// The I/O path the engine takes in this build on this machine (`io_uring+O_DIRECT`,
/// `pread/pwrite+O_DIRECT`, `mmap`, ...), found once by opening a log in a scratch directory.
///
/// # Panics
/// If no log can be opened in the benchmark directory.
pub fn io_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = bench_dir();
        let log = Log::open(dir.path(), config(Durability::None)).expect("open a probe log");
        log.io_path().to_string()
    })
}

/// Name of the naive baseline's I/O path, as bench cases print it.
pub const NAIVE_PATH: &str = "naive:write+pread";

/// One point of a bench grid; prints as `path/durability/messages x size[/extra]`, so every
/// line of Divan's output states the I/O path and durability it ran with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// The I/O path (the engine's, or [`NAIVE_PATH`]).
    pub path: &'static str,
    /// Durability of appends; `None` in read benches, where it does not apply.
    pub durability: Option<Durability>,
    /// Messages per iteration, or records in the log for read benches; 0 hides it.
    pub messages: usize,
    /// Payload bytes of one record.
    pub size: usize,
    /// A third dimension (fetch size, producers, segments, ...) and its label.
    pub extra: Option<(&'static str, usize)>,
    /// A fourth dimension (compaction's duplicate ratio) and its label.
    pub extra2: Option<(&'static str, usize)>,
}

impl Case {
    /// A case of the engine on this machine's I/O path.
    pub fn engine(durability: Option<Durability>, messages: usize, size: usize) -> Case {
        Case {
            path: io_path(),
            durability,
            messages,
            size,
            extra: None,
            extra2: None,
        }
    }

    /// A case of the naive baseline.
    pub fn naive(durability: Option<Durability>, messages: usize, size: usize) -> Case {
        Case {
            path: NAIVE_PATH,
            durability,
            messages,
            size,
            extra: None,
            extra2: None,
        }
    }

    /// The case with one more dimension (the third, or else the fourth).
    #[must_use]
    pub fn with(self, label: &'static str, value: usize) -> Case {
        if self.extra.is_none() {
            Case {
                extra: Some((label, value)),
                ..self
            }
        } else {
            Case {
                extra2: Some((label, value)),
                ..self
            }
        }
    }

    /// The third dimension's value.
    ///
    /// # Panics
    /// If the case has none.
    pub fn extra(&self) -> usize {
        self.extra.expect("the case has a third dimension").1
    }

    /// The fourth dimension's value.
    ///
    /// # Panics
    /// If the case has none.
    pub fn extra2(&self) -> usize {
        self.extra2.expect("the case has a fourth dimension").1
    }

    /// Payload bytes of one iteration's `messages` records.
    pub fn payload_bytes(&self) -> usize {
        self.messages * self.size
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(durability) = self.durability {
            write!(f, "/{}", durability.name())?;
        }
        if self.messages > 0 {
            write!(f, "/{}x{}", self.messages, size_name(self.size))?;
        } else {
            write!(f, "/{}", size_name(self.size))?;
        }
        for (label, value) in self.extra.iter().chain(&self.extra2) {
            write!(f, "/{label}={value}")?;
        }
        Ok(())
    }
}

/// Every combination of `messages` and `sizes`, sizes varying fastest.
pub fn cases(
    make: fn(Option<Durability>, usize, usize) -> Case,
    durabilities: &[Option<Durability>],
    messages: &[usize],
    sizes: &[usize],
) -> Vec<Case> {
    let mut out = Vec::new();
    for &durability in durabilities {
        for &n in messages {
            for &size in sizes {
                out.push(make(durability, n, size));
            }
        }
    }
    out
}

/// Adds a third dimension to every case, its values varying fastest (so cases sharing a
/// filled log stay next to each other and [`filled`] reuses it).
pub fn cross(cases: &[Case], label: &'static str, values: &[usize]) -> Vec<Case> {
    cases
        .iter()
        .flat_map(|case| values.iter().map(move |&v| case.with(label, v)))
        .collect()
}

/// A record without key or headers holding `value`, as a producer without keys sends it.
pub fn record(value: &[u8], i: u64) -> Record<'_> {
    Record {
        key: None,
        value: Some(value),
        timestamp_ms: BASE_TIMESTAMP_MS + i as i64,
        headers: &[],
    }
}

/// Bytes one single-record batch of a `size`-byte payload takes in the log (batch header and
/// log overhead included): the unit of fetch budgets and of the size checks.
///
/// # Panics
/// Never for the grids' sizes.
pub fn batch_bytes(size: usize) -> usize {
    let value = payload(size);
    encoded_batch_bytes(&[record(&value, 0)]).expect("a valid record")
}

/// A log and the directory it lives in; dropping it closes the log, then deletes the
/// directory.
#[derive(Debug)]
pub struct Sink {
    /// The log (dropped, so closed, before the directory is removed).
    pub log: Log,
    dir: TempDir,
}

impl Sink {
    /// An empty log with `config` in a fresh directory.
    ///
    /// # Panics
    /// If the log cannot be opened.
    pub fn open(config: Config) -> Sink {
        let dir = bench_dir();
        let log = Log::open(dir.path(), config).expect("open the benchmark log");
        Sink { log, dir }
    }

    /// The directory the log lives in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Appends `count` single-record batches of `value`, one append each.
    ///
    /// # Panics
    /// If an append fails.
    pub fn fill(&self, count: usize, value: &[u8]) {
        let start = self.log.next_offset();
        for i in 0..count as u64 {
            self.log
                .append(&[record(value, start + i)])
                .expect("fill the log");
        }
    }
}

/// A log that long-lived benches append to, replaced by a fresh one when it passes a size cap.
///
/// Benches call [`Rotating::current`] from Divan's `with_inputs` (untimed) and use the
/// returned handle in the timed closure; a replaced log is closed and deleted when the last
/// handle to it is dropped, which Divan does after the sample, outside the timing.
#[derive(Debug)]
pub struct Rotating {
    config: Config,
    cap_bytes: u64,
    prefill: usize,
    size: usize,
    current: Arc<Sink>,
    /// Logs opened so far (1 + rotations).
    pub opened: usize,
}

impl Rotating {
    /// A fresh log with `config`, replaced once it holds `cap_bytes`; every new log first gets
    /// `prefill` records of `size` bytes (untimed).
    pub fn new(config: Config, cap_bytes: u64, prefill: usize, size: usize) -> Rotating {
        let current = Arc::new(Self::fresh(&config, prefill, size));
        Rotating {
            config,
            cap_bytes,
            prefill,
            size,
            current,
            opened: 1,
        }
    }

    fn fresh(config: &Config, prefill: usize, size: usize) -> Sink {
        let sink = Sink::open(config.clone());
        if prefill > 0 {
            sink.fill(prefill, &payload(size));
        }
        sink
    }

    /// The log to use now, after replacing it if it passed the cap.
    pub fn current(&mut self) -> Arc<Sink> {
        if self.current.log.size_bytes() >= self.cap_bytes {
            self.current = Arc::new(Self::fresh(&self.config, self.prefill, self.size));
            self.opened += 1;
        }
        Arc::clone(&self.current)
    }
}

/// The naive baseline in its own directory (dropped before the directory is removed).
#[derive(Debug)]
pub struct NaiveSink {
    /// The naive log.
    pub log: NaiveLog,
    /// Bytes appended (payload plus the 4-byte prefixes).
    pub bytes: u64,
    _dir: TempDir,
}

impl NaiveSink {
    /// An empty naive log in a fresh directory; with `sync`, every append `fdatasync`s.
    ///
    /// # Panics
    /// If the file cannot be created.
    pub fn create(sync: bool) -> NaiveSink {
        let dir = bench_dir();
        let log = NaiveLog::create(dir.path(), sync).expect("create the naive log");
        NaiveSink {
            log,
            bytes: 0,
            _dir: dir,
        }
    }

    /// Appends `value` once; returns its offset.
    ///
    /// # Panics
    /// If the write fails.
    pub fn append(&mut self, value: &[u8]) -> u64 {
        self.bytes += 4 + value.len() as u64;
        self.log.append(value).expect("naive append")
    }

    /// A naive log holding `count` records of `value` (untimed setup of the read benches).
    pub fn filled(count: usize, value: &[u8]) -> NaiveSink {
        let mut sink = NaiveSink::create(false);
        for _ in 0..count {
            sink.append(value);
        }
        sink
    }
}

/// A log holding `messages` single-record batches of `size` bytes, written to disk
/// (`flush`ed) and read once end to end, so the engine's read cache is as warm as it can be.
#[derive(Debug)]
pub struct Filled {
    /// The log and its directory.
    pub sink: Sink,
    /// Records in the log.
    pub messages: usize,
    /// Payload bytes of each.
    pub size: usize,
    /// Bytes each record's batch takes ([`batch_bytes`]).
    pub batch_bytes: usize,
}

impl Filled {
    /// The log.
    pub fn log(&self) -> &Log {
        &self.sink.log
    }
}

static FILLED: Mutex<Option<Arc<Filled>>> = Mutex::new(None);

/// A filled log of `messages` x `size` for the read benches. The last one built is kept, so
/// consecutive cases over the same data (a bench's fetch sizes, or the next bench's first
/// case) do not fill it again; asking for other data deletes it first. Call [`release`] at
/// the end of `main` to delete the last one.
///
/// # Panics
/// If filling fails or the warm-up read finds the wrong data.
pub fn filled(messages: usize, size: usize) -> Arc<Filled> {
    let mut slot = FILLED.lock().expect("filled-log slot poisoned");
    if let Some(f) = slot.as_ref()
        && f.messages == messages
        && f.size == size
    {
        return Arc::clone(f);
    }
    // Delete the previous log before writing the next one: disk use stays one log.
    *slot = None;
    let sink = Sink::open(config(Durability::None));
    sink.fill(messages, &payload(size));
    sink.log.flush().expect("flush the filled log");
    let filled = Arc::new(Filled {
        sink,
        messages,
        size,
        batch_bytes: batch_bytes(size),
    });
    let read = consume(
        filled.log(),
        0,
        messages as u64,
        CONSUMER_FETCH_BYTES,
        filled.batch_bytes,
    );
    assert_eq!(read, messages as u64, "warm-up read of the filled log");
    *slot = Some(Arc::clone(&filled));
    filled
}

/// Deletes the log [`filled`] kept.
///
/// # Panics
/// If the slot's lock is poisoned.
pub fn release() {
    *FILLED.lock().expect("filled-log slot poisoned") = None;
}

/// Reads offsets `[from, to)` of `log` with fetches of `max_bytes`, checking every batch
/// ([`check_batches`]); returns the records read (those past `to` in the last fetch are not
/// counted).
///
/// # Panics
/// If a fetch fails or returns the wrong batches.
pub fn consume(log: &Log, from: u64, to: u64, max_bytes: usize, batch_bytes: usize) -> u64 {
    let mut offset = from;
    while offset < to {
        let fetched = log.fetch(offset, max_bytes).expect("fetch");
        let records = check_batches(&fetched.bytes, offset, batch_bytes);
        assert_eq!(
            fetched.next_fetch_offset,
            offset + records,
            "next fetch offset"
        );
        offset = fetched.next_fetch_offset;
    }
    offset.min(to) - from
}

/// Checks fetched bytes cheaply (batch headers only): single-record batches of `batch_bytes`
/// each, the first at offset `first`, offsets contiguous. Returns the number of batches.
///
/// # Panics
/// If any of that does not hold, or no batch was returned.
pub fn check_batches(bytes: &[u8], first: u64, batch_bytes: usize) -> u64 {
    assert!(!bytes.is_empty(), "fetch at {first} returned nothing");
    assert_eq!(
        bytes.len() % batch_bytes,
        0,
        "fetch at {first}: {} bytes is not a whole number of {batch_bytes}-byte batches",
        bytes.len()
    );
    let mut expected = first;
    for batch in bytes.chunks_exact(batch_bytes) {
        let header = BatchHeader::parse(batch).expect("a batch header");
        assert_eq!(header.base_offset as u64, expected, "batch offset");
        assert_eq!(header.total_bytes(), batch_bytes, "batch length");
        assert_eq!(header.records_count, 1, "records per batch");
        expected += 1;
    }
    expected - first
}

/// A fixed-seed xorshift64 generator: the same offsets every run, no dependency.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> XorShift {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `[0, bound)` (`bound` > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}
