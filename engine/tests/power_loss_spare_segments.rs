//! Power loss with spare segment files: a log with small segments that roll, and retention
//! that retires the oldest into spares (`{base}.log.deleted`, see `spares.rs`) which the next
//! rolls rename and write over from byte 0, loses power at a random moment (the `power_cut`
//! wrapper behind the `Storage` seam drops or tears every write no `fdatasync` covered and
//! every directory entry no directory fsync covered), is recovered, appended to and cut again,
//! and finally reopened on the real storage. A reused file holds the batches of the segment it
//! was after the new data, with offsets below the new segment's base: recovery must stop at
//! them and no read may ever serve them. After every recovery:
//! - offsets are contiguous from the log start offset to its next offset, every batch a fetch
//!   returns follows the previous one (a stale batch would break the chain), and every record
//!   is, byte for byte, the record this test submitted at that offset most recently (a stale
//!   record would show up as another id, a duplicate, or a decode failure);
//! - with `Durability::Sync`, every acknowledged record at or after the start offset is there;
//!   with `Write` and `None`, those a successful `flush()` covered (the weaker promise of
//!   `docs/design.md`); the next offset is past the last of them;
//! - the start offset never moves back before an earlier recovery's, nor past the furthest
//!   retention reached; records seen after an earlier recovery at or after the start offset
//!   are still there; appends continue at the recovered next offset;
//! - on disk, each `.log` file holds valid batches only, from its base offset on, each file
//!   continuing where the previous one ended (the API's reads skip batches below the offset
//!   asked for, so only the files show a stale batch that recovery kept);
//! - after a clean close no spare file is left, and a writing open leaves none either.
//!
//! While the power is on the test also reads back random acknowledged records, keeps a
//! read-only opener of the directory for a while (its old handles may point at files a roll
//! reused: it must refuse those reads, never serve the new bytes as its records), and counts,
//! by inode, the rolls that reused a spare: on the io_uring and pread/pwrite paths some must,
//! over the rounds, or the test proves nothing. On the mmap path no spare may ever appear.
//!
//! Rounds per I/O path: `RINGLOG_POWER_ROUNDS` (default 60). Seeds: round `i` uses
//! `RINGLOG_POWER_SEED + i` (decimal or 0x-hex; default from the clock, printed). One producer
//! thread, so a round replays exactly from its seed: a failing round prints its seed; rerun it
//! alone with `RINGLOG_POWER_SEED=<seed> RINGLOG_POWER_ROUNDS=1`.

mod common;
mod power_cut;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use common::{assert_io_path, for_each_io_mode};
use power_cut::records::{self, RecordId, ValueSizes};
use power_cut::rng::Rng;
use power_cut::{CutReport, PowerCut};
use ringlog::record::{BatchHeader, BatchLimits, validate_batch};
use ringlog::{Config, Durability, IoMode, Log, ReadError, ReadRecord, Shared, SharedConfig};

const DEFAULT_ROUNDS: u64 = 60;
/// The largest batch the workload writes is 4 records of 1500 bytes; this leaves room (and is
/// cut to `segment_bytes` when segments are smaller).
const MAX_BATCH_BYTES: usize = 16 * 1024;
/// How much one fetch asks for.
const FETCH_BYTES: usize = 64 * 1024;
/// Spare files end with this (`{base:020}.log.deleted`).
const SPARE_ENDING: &str = ".log.deleted";

/// Values: mostly under 600 bytes, one in eight of 500 to 1500 (small segments roll often).
const SIZES: ValueSizes = ValueSizes {
    large_one_in: 8,
    large: (500, 1500),
    small_below: 600,
};

/// The one producer's record `index` of its append `seq` in `cycle`.
fn record_id(cycle: u64, seq: u64, index: u64) -> RecordId {
    RecordId::new(cycle, 0, seq, index)
}

/// The id of a record read back, after checking every byte of it.
fn check(record: &ReadRecord) -> RecordId {
    RecordId::check(record, &SIZES)
}

/// Appends the records `ids` as one batch; returns its base offset.
fn append(log: &Log, ids: &[RecordId]) -> Result<u64, ringlog::AppendError> {
    records::append(log, ids, &SIZES)
}

/// The random shape of one round.
struct Round {
    seed: u64,
    config: Config,
    shared_config: SharedConfig,
    appends_per_cycle: u64,
    cycles: u64,
    /// The producer runs retention after an append with probability 1 in this.
    retention_one_in: u64,
}

impl Round {
    fn draw(seed: u64, io_mode: IoMode) -> Round {
        let mut rng = Rng::new(seed);
        let segment_bytes = 4096 * rng.between(2, 8);
        let config = Config {
            segment_bytes,
            retention_bytes: Some(segment_bytes * rng.between(1, 3)),
            retention_check_interval_ms: None,
            durability: if rng.chance(3, 4) {
                Durability::Sync
            } else {
                rng.pick(&[Durability::Write, Durability::None])
            },
            spare_segments: rng.between(1, 3) as usize,
            flush_interval_ms: None,
            max_batch_bytes: MAX_BATCH_BYTES.min(segment_bytes as usize),
            index_interval_bytes: rng.pick(&[256, 1024, 4096]),
            max_writes_in_flight: rng.between(1, 8) as usize,
            preallocate_bytes: rng.pick(&[4096, 8192, 16 * 1024, 64 * 1024]),
            read_ahead_bytes: rng.pick(&[4096, 64 * 1024]),
            io_mode,
            ..Config::default()
        };
        let shared_config = SharedConfig {
            io_mode,
            buffer_bytes: rng.pick(&[4096, 16 * 1024, 64 * 1024]),
            buffer_pool_bytes: 16 << 20,
            cache_bytes: rng.pick(&[64 * 1024, 4 << 20]),
            ..SharedConfig::default()
        };
        Round {
            seed,
            config,
            shared_config,
            appends_per_cycle: rng.between(20, 150),
            cycles: rng.between(1, 4),
            retention_one_in: rng.between(1, 6),
        }
    }

    /// About how many mutating storage calls one cycle makes: per batch a write and an
    /// `fdatasync` with `Sync`, a write with `Write`, a write per filled chunk with `None`
    /// (the mmap path appends without a call: an `msync` per batch with `Sync`); per roll
    /// about a dozen (settle, trim, sync, index files, rename or create, directory fsync);
    /// per retention pass that deletes, a few more. Cuts are drawn below it, so most fall
    /// while appends run and some after.
    fn calls_estimate(&self) -> u64 {
        let mapped = self.config.io_mode.name() == "mmap";
        let per_batch_x4 = match (self.config.durability, mapped) {
            (Durability::Sync, false) => 10,
            (Durability::Sync, true) => 4,
            (Durability::Write, false) => 5,
            (Durability::None, false) => 2,
            (_, true) => 1,
        };
        // About 1.1 KB per batch (2.5 records of about 400 bytes, plus overheads).
        let rolls = self.appends_per_cycle * 1100 / self.config.segment_bytes;
        self.appends_per_cycle * per_batch_x4 / 4 + rolls * 16 + 8
    }
}

/// When the power went in a cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moment {
    Open,
    Appends,
    Idle,
    Close,
    AfterClose,
}

impl Moment {
    const ALL: [Moment; 5] = [
        Moment::Open,
        Moment::Appends,
        Moment::Idle,
        Moment::Close,
        Moment::AfterClose,
    ];
}

/// Totals over the rounds of one I/O path.
#[derive(Default)]
struct Totals {
    cuts: CutReport,
    moments: [u64; 5],
    /// Cuts per seam method they landed on.
    calls: BTreeMap<&'static str, u64>,
    /// Recovery cuts (`Log::recovery_cuts`) by reason, numbers left out.
    recovery_cuts: BTreeMap<String, u64>,
    /// New `.log` files seen while the power was on (rolls), and of those, the ones that were
    /// a spare file before (same inode): rolls that reused a spare.
    rolls: u64,
    reused: u64,
    /// Spare files seen after retention passes (summed over the passes).
    spares_seen: u64,
    /// Reads by a read-only opener: served (and checked), refused (a file a roll reused).
    read_only_served: u64,
    read_only_refused: u64,
    rounds_by_durability: BTreeMap<&'static str, u64>,
}

impl Totals {
    fn add_cut(&mut self, moment: Moment, report: &CutReport, call: Option<&'static str>) {
        *self.calls.entry(call.unwrap_or("none")).or_default() += 1;
        self.cuts.add(report);
        let slot = Moment::ALL.iter().position(|m| *m == moment);
        self.moments[slot.expect("every moment is listed")] += 1;
    }

    fn add_recovery_cuts(&mut self, log: &Log) {
        for cut in log.recovery_cuts() {
            eprintln!("  {cut}");
            *self
                .recovery_cuts
                .entry(without_numbers(&cut.reason))
                .or_default() += 1;
        }
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rounds {:?}; rolls {}, of which reused a spare {}; spares seen after retention \
             {}; read-only reads served {}, refused {}; recovery cuts {:?}; power cuts",
            self.rounds_by_durability,
            self.rolls,
            self.reused,
            self.spares_seen,
            self.read_only_served,
            self.read_only_refused,
            self.recovery_cuts
        )?;
        for (moment, n) in Moment::ALL.iter().zip(self.moments) {
            write!(f, " {moment:?}={n}")?;
        }
        write!(f, "; on calls {:?}; {}", self.calls, self.cuts)
    }
}

/// A recovery cut's reason, grouped: up to its second colon (the kind of damage, not its
/// bytes), with numbers left out.
fn without_numbers(text: &str) -> String {
    let kind: Vec<&str> = text.splitn(3, ": ").take(2).collect();
    kind.join(": ")
        .split(' ')
        .map(|word| {
            let bare = word
                .trim_end_matches([',', ')', ';'])
                .trim_start_matches('-');
            let number = bare.starts_with("0x") || bare.chars().all(|c| c.is_ascii_digit());
            if number && !bare.is_empty() {
                "#"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the test knows, over the cycles of a round.
#[derive(Default)]
struct Model {
    /// The record most recently submitted at each offset, acknowledged or not (a failed
    /// append may still have reached the disk at the offset it would have had); offsets that
    /// a cut took back are overwritten when appends reuse them.
    submitted: HashMap<u64, RecordId>,
    /// Records seen after the last recovery, by offset: on disk, so they must stay (unless
    /// retention deletes them).
    recovered: BTreeMap<u64, RecordId>,
    /// The start offset seen after the last recovery.
    recovered_start: u64,
    /// The furthest start offset any process reached (retention moves it before it deletes
    /// files): recovery never finds a later one.
    furthest_start: u64,
    /// Acknowledged records that must survive the next cut (unless retention deleted them).
    must_survive: Vec<(u64, RecordId)>,
}

/// The `.log` files and the spares in `dir`, by name, with their inodes.
struct Listing {
    logs: BTreeMap<String, u64>,
    spares: BTreeMap<String, u64>,
}

impl Listing {
    fn read(dir: &Path) -> Listing {
        let mut listing = Listing {
            logs: BTreeMap::new(),
            spares: BTreeMap::new(),
        };
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("directory entry");
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if name.ends_with(SPARE_ENDING) {
                listing.spares.insert(name, meta.ino());
            } else if Path::new(&name).extension().is_some_and(|e| e == "log") {
                listing.logs.insert(name, meta.ino());
            }
        }
        listing
    }
}

/// Follows the log's files while the power is on: counts rolls and the rolls that reused a
/// spare (a new `.log` name on the inode of a spare seen before), and checks that spares stay
/// within `spare_segments` (none at all on the mmap path).
struct FileWatch<'a> {
    dir: &'a Path,
    max_spares: usize,
    last: Listing,
}

impl<'a> FileWatch<'a> {
    fn new(dir: &'a Path, config: &Config) -> FileWatch<'a> {
        let mapped = config.io_mode.name() == "mmap";
        let watch = FileWatch {
            dir,
            max_spares: if mapped { 0 } else { config.spare_segments },
            last: Listing::read(dir),
        };
        assert!(
            watch.last.spares.is_empty(),
            "a writing open leaves no spare file: {:?}",
            watch.last.spares
        );
        watch
    }

    fn update(&mut self, totals: &mut Totals) -> Listing {
        let now = Listing::read(self.dir);
        assert!(
            now.spares.len() <= self.max_spares,
            "{} spare files, at most {} allowed: {:?}",
            now.spares.len(),
            self.max_spares,
            now.spares
        );
        let spare_inodes: HashSet<u64> = self.last.spares.values().copied().collect();
        for (name, ino) in &now.logs {
            if self.last.logs.contains_key(name) {
                continue;
            }
            totals.rolls += 1;
            if spare_inodes.contains(ino) {
                totals.reused += 1;
            }
        }
        std::mem::replace(&mut self.last, now)
    }
}

/// Checks one fetch's batches: whole, valid (CRC included), the first holding `offset`, each
/// next one starting right after the previous one. Returns the offset to fetch next.
fn check_fetched(log: &Log, offset: u64) -> Result<u64, ReadError> {
    let fetched = log.fetch(offset, FETCH_BYTES)?;
    let mut rest = &fetched.bytes[..];
    assert!(!rest.is_empty(), "fetch at {offset} returned nothing");
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: true,
    };
    let mut next: Option<u64> = None;
    while !rest.is_empty() {
        let header = BatchHeader::parse(rest).unwrap_or_else(|e| {
            panic!("fetch at {offset}: a batch header that does not parse: {e}")
        });
        let total = header.total_bytes();
        assert!(total <= rest.len(), "fetch at {offset}: a partial batch");
        validate_batch(&rest[..total], &limits)
            .unwrap_or_else(|e| panic!("fetch at {offset}: an invalid batch served: {e}"));
        let (base, last) = (header.base_offset as u64, header.last_offset() as u64);
        match next {
            None => assert!(
                base <= offset && offset <= last,
                "fetch at {offset}: first batch holds [{base}, {last}]"
            ),
            Some(expected) => assert_eq!(
                base, expected,
                "fetch at {offset}: a batch at {base} after one that ended before {expected} \
                 (a stale batch?)"
            ),
        }
        next = Some(last + 1);
        rest = &rest[total..];
    }
    assert_eq!(Some(fetched.next_fetch_offset), next, "next fetch offset");
    Ok(fetched.next_fetch_offset)
}

/// The records from `from` to `to`, each checked byte for byte, with contiguous offsets and
/// every fetch's batch chain checked.
fn read_range(log: &Log, from: u64, to: u64) -> Vec<(u64, RecordId)> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < to {
        check_fetched(log, offset).unwrap_or_else(|e| panic!("fetch at {offset}: {e}"));
        let records = log
            .read_records(offset, FETCH_BYTES)
            .unwrap_or_else(|e| panic!("read at {offset}: {e}"));
        assert!(!records.is_empty(), "read at {offset} returned nothing");
        for record in &records {
            assert_eq!(record.offset, offset, "offsets are contiguous");
            out.push((offset, check(record)));
            offset += 1;
        }
    }
    assert_eq!(offset, to, "reads end at the log end");
    out
}

/// Checks the segment files on disk, as a tool reading the directory would see them: each
/// `{base}.log` holds valid batches only (no stale batch of the file it was as a spare, no
/// zeros, no torn bytes), the first at its base offset, each next one right after the
/// previous one, and each file continuing where the previous one ended, from `start` to
/// `next`. Holds whenever the log is open after its recovery (a writing open cuts what it does
/// not keep) and after a clean close (sealing trims every file to its data).
fn check_files(dir: &Path, start: u64, next: u64) {
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: true,
    };
    let mut expected = start;
    for name in Listing::read(dir).logs.keys() {
        let base: u64 = name[..20].parse().expect("a segment file name");
        assert_eq!(
            base, expected,
            "{name}: a segment starts where the previous ended"
        );
        let bytes = std::fs::read(dir.join(name)).expect("read a segment file");
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            let header = BatchHeader::parse(rest)
                .unwrap_or_else(|e| panic!("{name} at byte {pos}: not a batch: {e}"));
            let total = header.total_bytes();
            assert!(total <= rest.len(), "{name} at byte {pos}: a torn batch");
            validate_batch(&rest[..total], &limits)
                .unwrap_or_else(|e| panic!("{name} at byte {pos}: an invalid batch: {e}"));
            assert_eq!(
                header.base_offset as u64, expected,
                "{name} at byte {pos}: a batch out of sequence (a stale batch?)"
            );
            expected = header.last_offset() as u64 + 1;
            pos += total;
        }
    }
    assert_eq!(
        expected, next,
        "the segment files end at the log's next offset"
    );
}

/// Checks a recovered log against the model (see the module docs); returns its records.
fn verify(log: &Log, model: &Model, rng: &mut Rng) -> BTreeMap<u64, RecordId> {
    let (start, next) = (log.start_offset(), log.next_offset());
    assert!(start <= next, "start {start} after next {next}");
    assert_eq!(log.high_watermark(), next, "recovered records are durable");
    assert_eq!(
        log.segment_base_offsets().first().copied(),
        Some(start),
        "the log starts at its first segment"
    );
    assert!(
        start >= model.recovered_start,
        "start offset {start} moved back before an earlier recovery's {}",
        model.recovered_start
    );
    assert!(
        start <= model.furthest_start.max(model.recovered_start),
        "start offset {start} past the furthest retention reached ({}): a segment lost",
        model.furthest_start
    );
    let records = read_range(log, start, next);
    let mut seen = HashSet::new();
    for &(offset, id) in &records {
        assert!(seen.insert(id), "offset {offset}: {id:?} duplicated");
        assert_eq!(
            model.submitted.get(&offset),
            Some(&id),
            "offset {offset}: not the record last submitted there (a stale record?)"
        );
    }
    let found: BTreeMap<u64, RecordId> = records.into_iter().collect();
    for (&offset, &id) in model.recovered.range(start..) {
        assert_eq!(
            found.get(&offset),
            Some(&id),
            "offset {offset}: a record seen after an earlier recovery lost or changed \
             (start {start}, next {next})"
        );
    }
    for &(offset, id) in model.must_survive.iter().filter(|(o, _)| *o >= start) {
        assert_eq!(
            found.get(&offset),
            Some(&id),
            "offset {offset}: acknowledged durable record lost (start {start}, next {next})"
        );
    }
    if let Some(last) = model.must_survive.iter().map(|&(o, _)| o).max() {
        assert!(
            next > last,
            "next offset {next}: acknowledged durable record at {last} lost"
        );
    }
    for _ in 0..found.len().min(4) {
        let offset = start + rng.below(next - start);
        let read = log
            .read_records(offset, 1)
            .expect("read at a random offset");
        let first = read.first().expect("a read below the end finds a record");
        assert_eq!((first.offset, check(first)), (offset, found[&offset]));
    }
    found
}

/// A read-only opener of the log directory, kept across appends and rolls: its handles may
/// point at files the writer's retention retired and a roll reused. Each read it serves must
/// be a record submitted at that offset; a read of a reused file must be refused.
struct ReadOnly {
    log: Log,
    start: u64,
    next: u64,
}

impl ReadOnly {
    fn open(dir: &Path, config: &Config) -> ReadOnly {
        // No read cache and small reads: every read goes to the file the opener holds.
        let shared_config = SharedConfig {
            buffer_bytes: 4096,
            buffer_pool_bytes: 4 << 20,
            cache_bytes: 0,
            ..SharedConfig::default()
        };
        let shared = Shared::read_only(&shared_config).expect("read-only resources");
        let config = Config {
            read_ahead_bytes: 4096,
            ..config.clone()
        };
        let log = Log::open_read_only_with(dir, config, &shared).expect("read-only open");
        let (start, next) = (log.start_offset(), log.next_offset());
        ReadOnly { log, start, next }
    }

    fn read(&self, model: &Model, rng: &mut Rng, totals: &mut Totals) {
        if self.next == self.start {
            return;
        }
        let offset = self.start + rng.below(self.next - self.start);
        // The writer is idle while this reads (one thread): offsets below the opener's next
        // were given once in this cycle, so the model holds what they must be.
        let served = check_fetched(&self.log, offset)
            .and_then(|_| self.log.read_records(offset, FETCH_BYTES));
        match served {
            Ok(records) => {
                assert!(!records.is_empty(), "read-only read at {offset}: nothing");
                for (i, record) in records.iter().enumerate() {
                    let expected = offset + i as u64;
                    assert_eq!(record.offset, expected, "read-only: offsets contiguous");
                    assert_eq!(
                        Some(&check(record)),
                        model.submitted.get(&expected),
                        "read-only opener, offset {expected}: not the record submitted there"
                    );
                }
                totals.read_only_served += 1;
            }
            // A file a roll reused: the batches there are not the segment's (offsets past its
            // end), or the file is shorter than the opener's segment.
            Err(ReadError::Corrupt { .. } | ReadError::Io { .. }) => totals.read_only_refused += 1,
            Err(e) => panic!("read-only read at {offset}: {e}"),
        }
    }
}

/// One cycle: open through the wrapper (recovery itself may be cut), check, append with
/// retention until the power goes or the appends are done, and turn the files into what the
/// cut leaves.
fn run_cycle(
    dir: &Path,
    round: &Round,
    cycle: u64,
    model: &mut Model,
    rng: &mut Rng,
    totals: &mut Totals,
) {
    let mut cut = None;
    let root = dir.parent().expect("the log is in a data directory");
    let shared = Shared::with_storage(root, &round.shared_config, |inner| {
        let storage = PowerCut::new(inner, &[root, dir]);
        cut = Some(Arc::clone(&storage));
        storage
    })
    .expect("set up the I/O path");
    let cut = cut.expect("with_storage wraps the storage");
    cut.cut_after_calls(if rng.chance(1, 10) {
        rng.below(6)
    } else {
        rng.below(round.calls_estimate())
    });
    let moment = match Log::open_with(dir, round.config.clone(), &shared) {
        Ok(log) => {
            assert_io_path(&log, round.config.io_mode);
            totals.add_recovery_cuts(&log);
            let found = verify(&log, model, rng);
            check_files(dir, log.start_offset(), log.next_offset());
            model.recovered_start = log.start_offset();
            model.recovered = found;
            model.must_survive.clear();
            produce(&log, &cut, round, cycle, model, rng, totals)
        }
        Err(e) => {
            assert!(cut.is_cut(), "open failed with the power on: {e}");
            Moment::Open
        }
    };
    // The log is gone (dropped with the power off: its close fails at the first storage call),
    // and so is its `Shared`.
    drop(shared);
    let report = cut.power_off(rng);
    totals.add_cut(moment, &report, cut.cut_call());
}

/// The producer: appends, flushes now and then (under `Write` and `None`), runs retention,
/// reads back, until the power goes or the appends are done; then maybe closes cleanly, and
/// cuts the power.
fn produce(
    log: &Log,
    cut: &PowerCut,
    round: &Round,
    cycle: u64,
    model: &mut Model,
    rng: &mut Rng,
    totals: &mut Totals,
) -> Moment {
    let dir = log.dir().to_path_buf();
    let mut watch = FileWatch::new(&dir, &round.config);
    let durability = round.config.durability;
    let next_at_open = log.next_offset();
    let mut acked: Vec<(u64, RecordId)> = Vec::new();
    let mut flushed = 0;
    let mut read_only: Option<ReadOnly> = None;
    for seq in 0..round.appends_per_cycle {
        let ids: Vec<RecordId> = (0..rng.between(1, 4))
            .map(|i| record_id(cycle, seq, i))
            .collect();
        // One producer: the append takes exactly these offsets, if it gets as far as taking
        // any (and a failed one may still reach the disk there).
        let at = log.next_offset();
        if seq == 0 {
            assert_eq!(at, next_at_open, "appends continue at the recovered end");
        }
        for (i, &id) in ids.iter().enumerate() {
            model.submitted.insert(at + i as u64, id);
        }
        match append(log, &ids) {
            Ok(base) => {
                assert_eq!(base, at, "one producer: the append takes the next offset");
                acked.extend(ids.iter().enumerate().map(|(i, &id)| (base + i as u64, id)));
            }
            Err(e) => {
                assert!(cut.is_cut(), "append failed with the power on: {e}");
                break;
            }
        }
        if !cut.is_cut() {
            watch.update(totals);
        }
        if durability != Durability::Sync && rng.chance(1, 8) {
            match log.flush() {
                Ok(()) => flushed = acked.len(),
                Err(e) => {
                    assert!(cut.is_cut(), "flush failed with the power on: {e}");
                    break;
                }
            }
        }
        if rng.chance(1, round.retention_one_in) {
            let result = log.enforce_retention();
            model.furthest_start = model.furthest_start.max(log.start_offset());
            if let Err(e) = result {
                assert!(cut.is_cut(), "retention failed with the power on: {e}");
                break;
            }
            if !cut.is_cut() {
                watch.update(totals);
                totals.spares_seen += watch.last.spares.len() as u64;
            }
        }
        if cut.is_cut() {
            continue;
        }
        if rng.chance(1, 4) {
            read_back(log, cut, model, rng);
        }
        if let Some(reader) = &read_only {
            reader.read(model, rng, totals);
        }
        if rng.chance(1, 12) {
            // Opened now, or dropped; one kept open sees the next rolls reuse its files.
            read_only = match read_only {
                Some(_) => None,
                None => Some(ReadOnly::open(&dir, &round.config)),
            };
        }
    }
    drop(read_only);
    let (moment, closed) = close_maybe(log, cut, &dir, rng);
    if closed {
        // Everything is written and synced, whatever the durability.
        flushed = acked.len();
    }
    cut.cut_now();
    let durable = if durability == Durability::Sync {
        acked.len()
    } else {
        flushed
    };
    model.must_survive.extend(&acked[..durable]);
    moment
}

/// After the appends: with the power still on, a clean close half of the time (the power
/// may go during it). Returns when the power went (or goes next, `cut_now`) and whether the
/// close succeeded.
fn close_maybe(log: &Log, cut: &PowerCut, dir: &Path, rng: &mut Rng) -> (Moment, bool) {
    if cut.is_cut() {
        return (Moment::Appends, false);
    }
    if !rng.chance(1, 2) {
        return (Moment::Idle, false);
    }
    match log.close() {
        Ok(()) => {
            let listing = Listing::read(dir);
            assert!(
                listing.spares.is_empty(),
                "a clean close leaves no spare file: {:?}",
                listing.spares
            );
            check_files(dir, log.start_offset(), log.next_offset());
            (Moment::AfterClose, true)
        }
        Err(e) => {
            assert!(cut.is_cut(), "close failed with the power on: {e}");
            (Moment::Close, false)
        }
    }
}

/// With the power on: a random record the log serves (below its high watermark) is the one
/// submitted at its offset, and the fetch from there holds no stale batch.
fn read_back(log: &Log, cut: &PowerCut, model: &Model, rng: &mut Rng) {
    let (start, end) = (log.start_offset(), log.high_watermark());
    if start == end {
        return;
    }
    let offset = start + rng.below(end - start);
    let checked = check_fetched(log, offset).and_then(|_| log.read_records(offset, FETCH_BYTES));
    match checked {
        Ok(records) => {
            for (i, record) in records.iter().enumerate() {
                let expected = offset + i as u64;
                assert_eq!(record.offset, expected, "offsets are contiguous");
                assert_eq!(
                    Some(&check(record)),
                    model.submitted.get(&expected),
                    "offset {expected}: the log serves a record not submitted there"
                );
            }
        }
        // A read that misses the cache goes to the disk, which may just have lost power.
        Err(e) => assert!(
            cut.is_cut(),
            "read at {offset} failed with the power on: {e}"
        ),
    }
}

/// After the last cut, on the real storage: the same checks, no spare left by the open, more
/// appends with retention (spares again, on the direct paths), a clean close that leaves no
/// spare, and a reopen that finds every record.
fn final_check(dir: &Path, round: &Round, model: &mut Model, rng: &mut Rng, totals: &mut Totals) {
    let root = dir.parent().expect("the log is in a data directory");
    let shared = Shared::new(root, &round.shared_config).expect("set up the I/O path");
    let log = Log::open_with(dir, round.config.clone(), &shared).expect("recover after the cut");
    totals.add_recovery_cuts(&log);
    let found = verify(&log, model, rng);
    check_files(dir, log.start_offset(), log.next_offset());
    model.recovered_start = log.start_offset();
    model.recovered = found;
    model.must_survive.clear();
    let mut watch = FileWatch::new(dir, &round.config);
    let cycle = u64::from(u16::MAX);
    for seq in 0..rng.between(1, 40) {
        let ids: Vec<RecordId> = (0..rng.between(1, 4))
            .map(|i| record_id(cycle, seq, i))
            .collect();
        let at = log.next_offset();
        for (i, &id) in ids.iter().enumerate() {
            model.submitted.insert(at + i as u64, id);
        }
        let base = append(&log, &ids).expect("append after recovery");
        assert_eq!(base, at, "appends continue at the end");
        model
            .must_survive
            .extend(ids.iter().enumerate().map(|(i, &id)| (base + i as u64, id)));
        watch.update(totals);
        if rng.chance(1, round.retention_one_in) {
            log.enforce_retention().expect("retention");
            model.furthest_start = model.furthest_start.max(log.start_offset());
            watch.update(totals);
        }
    }
    let (start, next) = (log.start_offset(), log.next_offset());
    log.close().expect("clean close");
    let listing = Listing::read(dir);
    assert!(
        listing.spares.is_empty(),
        "a clean close leaves no spare file: {:?}",
        listing.spares
    );
    check_files(dir, start, next);
    drop(log);
    let log = Log::open_with(dir, round.config.clone(), &shared).expect("reopen after close");
    assert!(
        log.recovery_cuts().is_empty(),
        "a clean close leaves nothing to cut"
    );
    assert_eq!(
        (log.start_offset(), log.next_offset()),
        (start, next),
        "a clean reopen finds the log as it was closed"
    );
    let found = verify(&log, model, rng);
    assert_eq!(
        found.len() as u64,
        next - start,
        "nothing more, nothing less"
    );
    log.close().expect("clean close");
}

/// Prints the seed of a round that panics.
struct SeedOnPanic {
    seed: u64,
    io_mode: IoMode,
}

impl Drop for SeedOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "round failed on io path {}: seed {:#x}; rerun it alone with \
                 RINGLOG_POWER_SEED={:#x} RINGLOG_POWER_ROUNDS=1",
                self.io_mode.name(),
                self.seed,
                self.seed
            );
        }
    }
}

fn run_round(round: &Round, totals: &mut Totals) {
    let _guard = SeedOnPanic {
        seed: round.seed,
        io_mode: round.config.io_mode,
    };
    let root = tempfile::tempdir().expect("temporary directory");
    // The log creates its own directory, as a topic's partition does.
    let dir = root.path().join("partition-0");
    let mut rng = Rng::new(round.seed).fork(u64::MAX);
    let mut model = Model::default();
    for c in 0..round.cycles {
        run_cycle(&dir, round, c, &mut model, &mut rng, totals);
    }
    final_check(&dir, round, &mut model, &mut rng, totals);
    *totals
        .rounds_by_durability
        .entry(round.config.durability.name())
        .or_default() += 1;
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={text:?}: {e}")))
}

#[test]
fn spare_segments_reused_by_rolls_survive_power_cuts_and_never_serve_stale_batches() {
    let rounds = env_u64("RINGLOG_POWER_ROUNDS").unwrap_or(DEFAULT_ROUNDS);
    let base_seed = env_u64("RINGLOG_POWER_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.expect("the clock is after 1970").as_nanos() as u64
    });
    eprintln!("power-loss rounds with spare segments: {rounds}, seeds from {base_seed:#x}");
    for_each_io_mode(|io_mode| {
        let mut totals = Totals::default();
        for i in 0..rounds {
            let seed = base_seed.wrapping_add(i);
            let round = Round::draw(seed, io_mode);
            eprintln!(
                "round {i}: seed {seed:#x} ({} cycles x {} appends, segments of {} bytes, \
                 retention {:?} bytes, {} spares, {:?})",
                round.cycles,
                round.appends_per_cycle,
                round.config.segment_bytes,
                round.config.retention_bytes,
                round.config.spare_segments,
                round.config.durability
            );
            run_round(&round, &mut totals);
        }
        eprintln!("{}: {totals}", io_mode.name());
        if io_mode.name() == "mmap" {
            assert_eq!(totals.reused, 0, "no spare on the mmap path: {totals}");
        } else if rounds >= 10 {
            // A handful of rounds may cut every cycle before the second roll; over ten or
            // more, rolls reuse spares (the point of this test).
            assert!(
                totals.reused > 0,
                "{}: no roll reused a spare file: {totals}",
                io_mode.name()
            );
        }
    });
}
