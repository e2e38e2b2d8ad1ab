//! A real full disk (issue 7). A partition log, and a topic of two partitions, on a small real
//! filesystem are appended to until the filesystem runs out of space, on every I/O path, with
//! `Sync`, `Write` and `None` durability, the disk filled three ways ([`Scenario`]). What must
//! hold:
//!
//! - the caller gets a typed error carrying ENOSPC (`AppendError::Io`, inside
//!   `TopicError::Append` for a topic) whose message says "No space left on device", names the
//!   segment file and says to free space. The failing operation is the preallocation
//!   (`fallocate`): writes land in preallocated space, so they do not hit ENOSPC themselves;
//!   with space taken by another file, appends go on into the log's preallocated space;
//! - the partition is poisoned from then on, also after a failed `fallocate` (the failed batch
//!   was already placed in the log's tail, so the log cannot take back just that append):
//!   appends, flushes and close refuse, naming the cause;
//! - nothing acknowledged is lost: on the still-full disk the segment files hold every durable
//!   record, and the log reopens with all of them (opening needs no free space: the O_DIRECT
//!   probe accepts a full filesystem that took the O_DIRECT open); after space was freed (a filler file written before the run is deleted) it
//!   reopens with every durable record intact, offsets contiguous from 0, anything beyond them
//!   a prefix of what was attempted, and appends resume at the next offset. Durable means
//!   acknowledged under `Write` and `Sync`; under `None`, flushed or in a sealed segment (what
//!   `None` acknowledged after that lives in memory and may be lost, as documented).
//!
//! The filesystem is a fresh 32 MiB ext4 image on a loop device per round, or a tmpfs with
//! `size=` (a second test; also the fallback when no loop device can be set up). Each is
//! mounted on a unique temporary directory and unmounted (and the loop device detached) by a
//! guard, also when a test panics.
//!
//! **Needs root** (losetup, mkfs.ext4, mount). Where mounting fails, the tests print SKIPPED
//! and pass, unless `RINGLOG_REQUIRE_FULL_DISK=1` is set (CI sets it): then failing to mount
//! ext4 (no tmpfs fallback), or tmpfs for the tmpfs test, fails the test.

mod common;

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Expected, for_each_io_mode, open_log, read_all, with_records};
use ringlog::config::DEFAULT_PREALLOCATE_BYTES;
use ringlog::record::{BatchLimits, RecordView, peek_batch_bytes, records, validate_batch};
use ringlog::segment::LOG_EXTENSION;
use ringlog::topic::ProduceResult;
use ringlog::{
    AppendError, Config, Durability, IoMode, Log, SharedConfig, TopicConfig, TopicError,
    TopicManager, TopicManagerConfig,
};

/// With this set to 1, a scratch filesystem that cannot be mounted fails the test.
const REQUIRE_ENV: &str = "RINGLOG_REQUIRE_FULL_DISK";
/// Size of each scratch filesystem.
const FS_BYTES: u64 = 32 << 20;
/// Size of the file written before the run and deleted to free space afterwards: more than a
/// segment's preallocation, so appends can resume once it is gone.
const FILLER_BYTES: usize = 8 << 20;
/// Small segments, so that rolls (sealing, index files, new segment files) happen on the way.
const SEGMENT_BYTES: u64 = 4 << 20;
const MAX_BATCH_BYTES: usize = 128 << 10;
/// The preallocation step of [`Scenario::SmallSteps`].
const SMALL_PREALLOCATE_BYTES: u64 = 256 << 10;
const RECORDS_PER_BATCH: usize = 32;
const VALUE_BYTES: usize = 1000;
/// In `None` rounds of a log, `flush()` after this many batches marks a durable point.
const FLUSH_EVERY_BATCHES: usize = 8;
/// In [`Scenario::Squeezed`], batches appended before another file takes the free space.
const SQUEEZE_AFTER_BATCHES: usize = 4;
/// Batches appended after space was freed, to show that appends resume.
const BATCHES_AFTER_FREEING: usize = 8;
/// The errno of a full filesystem.
const ENOSPC: i32 = 28;
/// How `io::Error` shows ENOSPC.
const DISK_FULL_TEXT: &str = "No space left on device";
/// What the engine's messages tell the operator to do about it.
const FREE_SPACE_TEXT: &str = "free space";
const TOPIC: &str = "full-disk";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FsKind {
    Ext4Loop,
    Tmpfs,
}

/// A filesystem mounted for one round; unmounted (and its loop device detached) on drop.
struct ScratchFs {
    kind: FsKind,
    mount_point: PathBuf,
    loop_device: Option<String>,
    mounted: bool,
    /// Holds the image and the mount point; removed after the unmount.
    dir: tempfile::TempDir,
}

impl ScratchFs {
    /// A fresh ext4 filesystem of `bytes` in a sparse image file on a loop device.
    fn ext4(bytes: u64) -> Result<ScratchFs, String> {
        let mut fs = ScratchFs::unmounted(FsKind::Ext4Loop)?;
        let image = fs.dir.path().join("ext4.img");
        File::create(&image)
            .and_then(|file| file.set_len(bytes))
            .map_err(|e| format!("create {}: {e}", image.display()))?;
        let device = run("losetup", &["--find", "--show", path_str(&image)])?;
        fs.loop_device = Some(device.clone());
        // -m 0: no blocks reserved for root, who runs this test and would use them.
        run("mkfs.ext4", &["-q", "-F", "-b", "4096", "-m", "0", &device])?;
        run("mount", &["-t", "ext4", &device, path_str(&fs.mount_point)])?;
        fs.mounted = true;
        Ok(fs)
    }

    /// A tmpfs limited to `bytes`.
    fn tmpfs(bytes: u64) -> Result<ScratchFs, String> {
        let mut fs = ScratchFs::unmounted(FsKind::Tmpfs)?;
        let size = format!("size={bytes}");
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &size,
                "tmpfs",
                path_str(&fs.mount_point),
            ],
        )?;
        fs.mounted = true;
        Ok(fs)
    }

    fn unmounted(kind: FsKind) -> Result<ScratchFs, String> {
        let dir = tempfile::Builder::new()
            .prefix("ringlog-full-disk-")
            .tempdir()
            .map_err(|e| format!("create a temporary directory: {e}"))?;
        let mount_point = dir.path().join("mnt");
        std::fs::create_dir(&mount_point)
            .map_err(|e| format!("create {}: {e}", mount_point.display()))?;
        Ok(ScratchFs {
            kind,
            mount_point,
            loop_device: None,
            mounted: false,
            dir,
        })
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Free bytes as `df` reports them, for the log of the run.
    fn available(&self) -> String {
        run(
            "df",
            &["-B1", "--output=avail", path_str(&self.mount_point)],
        )
        .map_or_else(
            |e| format!("unknown ({e})"),
            |out| out.lines().last().unwrap_or_default().trim().to_owned(),
        )
    }
}

impl Drop for ScratchFs {
    fn drop(&mut self) {
        if self.mounted
            && let Err(e) = run("umount", &[path_str(&self.mount_point)])
        {
            eprintln!("{e}; detaching lazily");
            if let Err(e) = run("umount", &["-l", path_str(&self.mount_point)]) {
                eprintln!("{e}: {} stays mounted", self.mount_point.display());
            }
        }
        if let Some(device) = &self.loop_device
            && let Err(e) = run("losetup", &["-d", device])
        {
            eprintln!("{e}: loop device {device} stays attached");
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Runs `program` and returns its trimmed stdout, or a message with its stderr.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program} {}: {e}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// Mounts a scratch filesystem of `kind`. An ext4 loop mount that fails falls back to tmpfs,
/// unless [`REQUIRE_ENV`] is set. `None` (after a loud message) when nothing can be mounted and
/// mounting is not required.
fn mount(kind: FsKind) -> Option<ScratchFs> {
    let result = match kind {
        FsKind::Ext4Loop => ScratchFs::ext4(FS_BYTES).or_else(|ext4| {
            if required() {
                return Err(ext4);
            }
            eprintln!("WARNING: no ext4 loop mount ({ext4}); falling back to tmpfs");
            ScratchFs::tmpfs(FS_BYTES).map_err(|tmpfs| format!("{ext4}; {tmpfs}"))
        }),
        FsKind::Tmpfs => ScratchFs::tmpfs(FS_BYTES),
    };
    match result {
        Ok(fs) => Some(fs),
        Err(e) if required() => {
            panic!("{REQUIRE_ENV}=1 but no {kind:?} scratch filesystem could be mounted: {e}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: full-disk test needs root to mount a scratch filesystem ({e}); \
                 set {REQUIRE_ENV}=1 to make this a failure"
            );
            None
        }
    }
}

/// Writes the filler file whose deletion frees space after the run.
fn write_filler(fs: &ScratchFs) -> PathBuf {
    let path = fs.path().join("filler");
    let mut file = File::create(&path).expect("create the filler file");
    file.write_all(&vec![0xa5; FILLER_BYTES])
        .expect("write the filler file");
    file.sync_all().expect("sync the filler file");
    path
}

/// Fills every free byte of `fs` with another file, as another process would.
fn squeeze(fs: &ScratchFs, context: &str) {
    let path = fs.path().join("hog");
    let mut file = File::create(&path).expect("create the hog file");
    let chunk = vec![0x5a; 1 << 20];
    let error = (0..=FS_BYTES >> 20)
        .find_map(|_| file.write_all(&chunk).err())
        .expect("the hog file fills the filesystem");
    assert_eq!(
        error.raw_os_error(),
        Some(ENOSPC),
        "{context}: the hog file stops at a full disk: {error}"
    );
    file.sync_all().expect("sync the hog file");
    eprintln!(
        "{context}: another file took the free space, {} bytes free",
        fs.available()
    );
}

/// How the disk comes to be full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// The log fills it, preallocating a whole segment at a time (the default step, capped at
    /// the segment size): the failure comes when a new segment starts.
    WholeSegments,
    /// The log fills it preallocating in small steps: the failure comes inside a segment, with
    /// appended data waiting to be written.
    SmallSteps,
    /// Another file takes every free byte while the log runs: appends go on into the space the
    /// log preallocated, and fail when it needs more.
    Squeezed,
}

impl Scenario {
    fn preallocate_bytes(self) -> u64 {
        match self {
            Scenario::WholeSegments | Scenario::Squeezed => DEFAULT_PREALLOCATE_BYTES,
            Scenario::SmallSteps => SMALL_PREALLOCATE_BYTES,
        }
    }
}

/// `count` numbered records from `first_offset`; keys carry `tag` so partitions differ.
fn rows(tag: &str, first_offset: u64, count: usize) -> Vec<Expected> {
    (first_offset..first_offset + count as u64)
        .map(|offset| {
            let timestamp_ms = 1_700_000_000_000 + offset as i64;
            let mut row = Expected::numbered(offset, timestamp_ms, VALUE_BYTES);
            row.key = Some(format!("{tag}-{offset}").into_bytes());
            row
        })
        .collect()
}

fn offsets_of(rows: &[Expected]) -> (u64, u64) {
    (rows[0].offset, rows[rows.len() - 1].offset)
}

/// Every record in the `.log` files of `dir`, read straight from the files as a tool would on
/// a disk too full to open the log: whole valid batches from the start of each file, stopping
/// at the first bytes that are not one (preallocated zeros, a torn batch).
fn read_segment_files(dir: &Path) -> Vec<Expected> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list the log directory")
        .map(|entry| entry.expect("list the log directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == LOG_EXTENSION))
        .collect();
    // Names are 20-digit base offsets: sorted by name is sorted by offset.
    files.sort();
    let limits = BatchLimits {
        max_batch_bytes: MAX_BATCH_BYTES,
        require_contiguous_offsets: true,
    };
    let mut found = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).expect("read a segment file");
        let mut pos = 0;
        while let Ok(total) = peek_batch_bytes(&bytes[pos..], MAX_BATCH_BYTES) {
            let Some(batch) = bytes.get(pos..pos + total) else {
                break;
            };
            if validate_batch(batch, &limits).is_err() {
                break;
            }
            for record in records(batch).expect("a valid batch decodes") {
                found.push(decoded(&record.expect("a valid batch's records decode")));
            }
            pos += total;
        }
    }
    found
}

fn decoded(record: &RecordView<'_>) -> Expected {
    Expected {
        offset: record.offset as u64,
        timestamp_ms: record.timestamp_ms,
        key: record.key.map(<[u8]>::to_vec),
        value: record.value.map(<[u8]>::to_vec),
        headers: record
            .headers()
            .map(|h| {
                let h = h.expect("a valid record's headers decode");
                (h.key.to_owned(), h.value.map(<[u8]>::to_vec))
            })
            .collect(),
    }
}

/// What one partition was sent and what it acknowledged.
#[derive(Default)]
struct Track {
    /// Every record appended, including the batch whose append failed.
    attempted: Vec<Expected>,
    /// Records acknowledged (a prefix of `attempted`).
    acked: usize,
    /// Records the durability contract says survive a reopen (at most `acked`): every
    /// acknowledged one under `Write` and `Sync`; under `None`, those before the last successful
    /// flush or below the active segment (a roll syncs the segment it seals).
    durable: usize,
}

impl Track {
    fn next_offset(&self) -> u64 {
        self.attempted.len() as u64
    }

    fn acknowledge(&mut self, batch: Vec<Expected>, durability: Durability) {
        self.attempted.extend(batch);
        self.acked = self.attempted.len();
        if durability != Durability::None {
            self.durable = self.acked;
        }
    }

    /// Under `None`: records below the active segment were synced when it rolled.
    fn note_sealed(&mut self, log: &Log) {
        let active_base = *log.segment_base_offsets().last().expect("a segment") as usize;
        self.durable = self.durable.max(active_base.min(self.acked));
    }

    /// Checks that `found`, read back from offset 0, lost nothing durable, is intact and holds
    /// nothing that was not attempted; returns how many records it holds.
    fn check(&self, found: &[Expected], context: &str) -> usize {
        assert!(
            found.len() >= self.durable,
            "{context}: acknowledged records lost: {} records found, {} were acknowledged durably \
             ({} acknowledged, {} attempted)",
            found.len(),
            self.durable,
            self.acked,
            self.attempted.len()
        );
        assert!(
            found.len() <= self.attempted.len(),
            "{context}: {} records found but only {} were appended",
            found.len(),
            self.attempted.len()
        );
        if let Some(i) = (0..found.len()).find(|&i| found[i] != self.attempted[i]) {
            panic!(
                "{context}: record {i} differs from what was appended:\n found {:?}\n sent  {:?}",
                found[i], self.attempted[i]
            );
        }
        found.len()
    }

    /// [`Track::check`] on everything `log` holds (offsets contiguous from 0).
    fn verify(&self, log: &Log, context: &str) -> usize {
        assert_eq!(log.start_offset(), 0, "{context}: the log starts at 0");
        self.check(&read_all(log), context)
    }

    /// Forgets attempted records the log does not hold (never acknowledged durably), so that
    /// appends continue from the log's end.
    fn truncate(&mut self, held: usize) {
        self.attempted.truncate(held);
        self.acked = self.acked.min(held);
        self.durable = self.durable.min(held);
    }
}

/// Asserts that `error` is the disk-full failure of a write to a file under `dir`, with a
/// message an operator can act on. Returns the operation that failed.
fn assert_disk_full(error: &AppendError, dir: &Path, context: &str) -> &'static str {
    let message = error.to_string();
    let AppendError::Io { op, path, source } = error else {
        panic!("{context}: expected AppendError::Io with ENOSPC, got {error:?}: {message}");
    };
    assert_eq!(
        source.raw_os_error(),
        Some(ENOSPC),
        "{context}: the error carries ENOSPC: {message}"
    );
    assert!(
        path.starts_with(dir),
        "{context}: the error names a file of the partition ({}): {message}",
        dir.display()
    );
    for part in [
        DISK_FULL_TEXT,
        path_str(path),
        "refuses further writes",
        FREE_SPACE_TEXT,
    ] {
        assert!(
            message.contains(part),
            "{context}: the message says {part:?}: {message}"
        );
    }
    op
}

/// Asserts that `error` says the log is poisoned by the disk-full failure.
fn assert_poisoned(error: &AppendError, context: &str) {
    let message = error.to_string();
    assert!(
        matches!(error, AppendError::Poisoned { .. }),
        "{context}: expected AppendError::Poisoned, got {error:?}: {message}"
    );
    for part in [DISK_FULL_TEXT, "reopen"] {
        assert!(
            message.contains(part),
            "{context}: the message says {part:?}: {message}"
        );
    }
}

fn log_config(io_mode: IoMode, durability: Durability, scenario: Scenario) -> Config {
    Config {
        durability,
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: MAX_BATCH_BYTES,
        preallocate_bytes: scenario.preallocate_bytes(),
        flush_interval_ms: None,
        retention_check_interval_ms: None,
        ..common::config(io_mode)
    }
}

/// One log on a fresh filesystem: filled until the disk is full, checked, reopened on the
/// full disk, reopened after freeing space, appended to again.
fn log_round(kind: FsKind, io_mode: IoMode, durability: Durability, scenario: Scenario) {
    let Some(fs) = mount(kind) else { return };
    let context = format!(
        "log on {:?}, io mode {}, durability {}, {scenario:?}",
        fs.kind,
        io_mode.name(),
        durability.name()
    );
    let filler = write_filler(&fs);
    let dir = fs.path().join("log");
    let config = log_config(io_mode, durability, scenario);
    let log = open_log(&dir, config.clone());
    eprintln!(
        "{context}: path {}, fallback: {:?}, {} bytes free",
        log.io_path(),
        log.shared().fallback_reason(),
        fs.available()
    );
    let mut track = Track::default();
    if scenario == Scenario::Squeezed {
        let error = fill_log(&log, &mut track, durability, Some(SQUEEZE_AFTER_BATCHES));
        assert!(error.is_none(), "{context}: {error:?}");
        squeeze(&fs, &context);
    }
    let acked_before = track.acked;
    let error = fill_log(&log, &mut track, durability, None).expect("the disk fills up");
    if scenario == Scenario::Squeezed {
        assert!(
            track.acked > acked_before,
            "{context}: appends go on into preallocated space after the disk filled up"
        );
    }
    let op = assert_disk_full(&error, &dir, &context);
    eprintln!(
        "{context}: disk full after {} records acknowledged ({} durable), failed op {op:?}, \
         {} bytes free\n  error: {error}",
        track.acked,
        track.durable,
        fs.available()
    );
    assert_refuses_writes(&log, &context);
    // Reads still work, up to the high watermark: under `Write` and `Sync` exactly what was
    // acknowledged (the batch that failed stays invisible, as a reopen may drop it); under
    // `None` also what only memory holds.
    let readable = read_all(&log);
    if config.durability == Durability::None {
        assert!(
            readable.len() >= track.acked,
            "{context}: acknowledged records readable"
        );
    } else {
        assert_eq!(
            readable.len(),
            track.acked,
            "{context}: consumers see exactly the acknowledged records"
        );
    }
    track.check(&readable, &context);
    eprintln!(
        "{context}: the poisoned log serves {} records (the failed batch included: {})",
        readable.len(),
        readable.len() == track.attempted.len()
    );
    let close = log.close().expect_err("a poisoned log refuses to close");
    eprintln!("{context}: close: {close}");
    drop(log);
    reopen_log_on_full_disk(&dir, &config, &track, &context);
    std::fs::remove_file(&filler).expect("delete the filler file");
    resume_log(&dir, &config, &mut track, &context);
}

/// Appends batches until an append (or, under `None`, a periodic flush) fails, and returns
/// that failure; or, with `batches`, appends that many and returns `None` if none failed.
fn fill_log(
    log: &Log,
    track: &mut Track,
    durability: Durability,
    batches: Option<usize>,
) -> Option<AppendError> {
    let limit = batches.unwrap_or(FS_BYTES as usize * 4 / (RECORDS_PER_BATCH * VALUE_BYTES));
    for i in 0..limit {
        let batch = rows("log", track.next_offset(), RECORDS_PER_BATCH);
        match with_records(&batch, |records| log.append(records)) {
            Ok(info) => {
                assert_eq!((info.base_offset, info.last_offset), offsets_of(&batch));
                track.acknowledge(batch, durability);
            }
            Err(error) => {
                track.attempted.extend(batch);
                return Some(error);
            }
        }
        if durability == Durability::None {
            track.note_sealed(log);
            if i % FLUSH_EVERY_BATCHES == FLUSH_EVERY_BATCHES - 1 {
                match log.flush() {
                    Ok(()) => track.durable = track.acked,
                    Err(error) => return Some(error),
                }
            }
        }
    }
    assert!(
        batches.is_some(),
        "{limit} batches appended and the {FS_BYTES}-byte filesystem never filled"
    );
    None
}

/// After the failure: appends, flushes and closes refuse, naming the cause.
fn assert_refuses_writes(log: &Log, context: &str) {
    let cause = log.poisoned().expect("the log is poisoned");
    assert!(cause.contains(DISK_FULL_TEXT), "{context}: cause: {cause}");
    let batch = rows("after", log.next_offset(), 1);
    let error = with_records(&batch, |records| log.append(records))
        .expect_err("a poisoned log refuses appends");
    assert_poisoned(&error, &format!("{context}, append after the failure"));
    let error = log.flush().expect_err("a poisoned log refuses flushes");
    assert_poisoned(&error, &format!("{context}, flush after the failure"));
    eprintln!("{context}: later appends: {error}");
}

/// On the still-full disk: the files hold every durable record, and the log opens and serves
/// them all (opening needs no free space: the O_DIRECT probe accepts a full filesystem, and
/// recovery only trims).
fn reopen_log_on_full_disk(dir: &Path, config: &Config, track: &Track, context: &str) {
    let context = format!("{context}, on the full disk");
    let on_disk = track.check(
        &read_segment_files(dir),
        &format!("{context}, segment files"),
    );
    let log = Log::open(dir, config.clone())
        .unwrap_or_else(|e| panic!("{context}: opening on the full disk failed: {e}"));
    common::assert_io_path(&log, config.io_mode);
    let held = track.verify(&log, &format!("{context}, reopened"));
    eprintln!("{context}: reopened, {held} records ({on_disk} in the files)");
    if let Err(e) = log.close() {
        eprintln!("{context}: close failed: {e}");
    }
}

/// After space was freed: the log reopens with every durable record, appends resume at the
/// next offset, and a clean close and reopen keep everything.
fn resume_log(dir: &Path, config: &Config, track: &mut Track, context: &str) {
    let log = open_log(dir, config.clone());
    let held = track.verify(&log, &format!("{context}, reopened after freeing space"));
    track.truncate(held);
    for _ in 0..BATCHES_AFTER_FREEING {
        let batch = rows("log", track.next_offset(), RECORDS_PER_BATCH);
        let info = with_records(&batch, |records| log.append(records))
            .unwrap_or_else(|e| panic!("{context}: append after freeing space: {e}"));
        assert_eq!(
            (info.base_offset, info.last_offset),
            offsets_of(&batch),
            "{context}: appends resume at the next offset"
        );
        track.acknowledge(batch, config.durability);
    }
    log.close()
        .unwrap_or_else(|e| panic!("{context}: close after freeing space: {e}"));
    drop(log);
    track.durable = track.acked;
    let log = open_log(dir, config.clone());
    let held = track.verify(&log, &format!("{context}, final reopen"));
    assert_eq!(
        held, track.acked,
        "{context}: everything is there at the end"
    );
}

fn manager_config(io_mode: IoMode, scenario: Scenario) -> TopicManagerConfig {
    TopicManagerConfig {
        shared: SharedConfig {
            io_mode,
            ..SharedConfig::default()
        },
        log: log_config(io_mode, Durability::None, scenario),
        cleaner_io_max_bytes_per_second: None,
    }
}

fn open_manager(
    data_dir: &Path,
    io_mode: IoMode,
    scenario: Scenario,
) -> Result<TopicManager, TopicError> {
    let manager = TopicManager::open(data_dir, manager_config(io_mode, scenario))?;
    assert!(
        common::io_mode_allows(io_mode, manager.io_path()),
        "asked for io mode {} but the manager runs on {}",
        io_mode.name(),
        manager.io_path()
    );
    Ok(manager)
}

/// A topic of two partitions on a fresh filesystem: produced to in turn until the disk is
/// full, checked, reopened on the full disk, reopened after freeing space, produced to again.
fn topic_round(kind: FsKind, io_mode: IoMode, durability: Durability, scenario: Scenario) {
    let Some(fs) = mount(kind) else { return };
    let context = format!(
        "topic on {:?}, io mode {}, durability {}, {scenario:?}",
        fs.kind,
        io_mode.name(),
        durability.name()
    );
    let filler = write_filler(&fs);
    let data_dir = fs.path().join("data");
    let manager = open_manager(&data_dir, io_mode, scenario).expect("open the topic manager");
    eprintln!("{context}: path {}", manager.io_path());
    let topic_config = TopicConfig {
        partitions: 2,
        segment_bytes: SEGMENT_BYTES,
        durability,
        retention_ms: None,
        ..TopicConfig::default()
    };
    manager
        .create_topic(TOPIC, topic_config)
        .expect("create the topic");
    let mut tracks = [Track::default(), Track::default()];
    if scenario == Scenario::Squeezed {
        let failed = fill_topic(
            &manager,
            &mut tracks,
            durability,
            Some(SQUEEZE_AFTER_BATCHES),
        );
        assert!(failed.is_none(), "{context}: {failed:?}");
        squeeze(&fs, &context);
    }
    let error = fill_topic(&manager, &mut tracks, durability, None).expect("the disk fills up");
    let failed = assert_produce_disk_full(&manager, &error, &context);
    eprintln!(
        "{context}: disk full at partition {failed} after {} + {} records acknowledged\n  \
         error: {error}",
        tracks[0].acked, tracks[1].acked
    );
    assert_refuses_produce(&manager, failed, &context);
    // The other partition has its own log: it fails only when it needs space itself.
    let other = 1 - failed;
    let track = &mut tracks[other as usize];
    let batch = rows(&format!("p{other}"), track.next_offset(), 1);
    match with_records(&batch, |records| {
        manager.produce(TOPIC, Some(other), records)
    }) {
        Ok(_) => track.acknowledge(batch, durability),
        Err(e) => {
            eprintln!("{context}: partition {other} fails too: {e}");
            track.attempted.extend(batch);
        }
    }
    let close = manager
        .close()
        .expect_err("a poisoned partition refuses to close");
    eprintln!("{context}: close: {close}");
    drop(manager);
    reopen_topic_on_full_disk(&data_dir, io_mode, scenario, &tracks, &context);
    std::fs::remove_file(&filler).expect("delete the filler file");
    resume_topic(&data_dir, io_mode, scenario, &mut tracks, &context);
}

/// Produces batches to partitions 0 and 1 in turn until a produce fails, and returns that
/// failure; or, with `batches`, produces that many and returns `None` if none failed.
fn fill_topic(
    manager: &TopicManager,
    tracks: &mut [Track; 2],
    durability: Durability,
    batches: Option<usize>,
) -> Option<TopicError> {
    let limit = batches.unwrap_or(FS_BYTES as usize * 4 / (RECORDS_PER_BATCH * VALUE_BYTES));
    for i in 0..limit {
        let p = (i % 2) as u32;
        let track = &mut tracks[p as usize];
        let batch = rows(&format!("p{p}"), track.next_offset(), RECORDS_PER_BATCH);
        match with_records(&batch, |records| manager.produce(TOPIC, Some(p), records)) {
            Ok(results) => {
                let (base_offset, last_offset) = offsets_of(&batch);
                let expected = ProduceResult {
                    partition: p,
                    base_offset,
                    last_offset,
                };
                assert_eq!(results, [expected]);
                track.acknowledge(batch, durability);
                if durability == Durability::None {
                    track.note_sealed(&manager.partition(TOPIC, p).expect("the partition"));
                }
            }
            Err(error) => {
                track.attempted.extend(batch);
                return Some(error);
            }
        }
    }
    assert!(
        batches.is_some(),
        "{limit} batches produced and the {FS_BYTES}-byte filesystem never filled"
    );
    None
}

/// Asserts that a produce failed because the disk is full, naming topic, partition and file;
/// returns the partition.
fn assert_produce_disk_full(manager: &TopicManager, error: &TopicError, context: &str) -> u32 {
    let message = error.to_string();
    let TopicError::Append {
        partition,
        source,
        written,
        ..
    } = error
    else {
        panic!("{context}: expected TopicError::Append, got {error:?}: {message}");
    };
    assert!(written.is_empty(), "{context}: one batch, nothing written");
    let dir = manager.partition_dir(TOPIC, *partition);
    let op = assert_disk_full(source, &dir, context);
    for part in [TOPIC, &format!("partition {partition}")] {
        assert!(
            message.contains(part),
            "{context}: the message says {part:?}: {message}"
        );
    }
    eprintln!("{context}: failed op {op:?}");
    *partition
}

/// The failed partition refuses later produces, naming the cause.
fn assert_refuses_produce(manager: &TopicManager, partition: u32, context: &str) {
    let batch = rows("after", 0, 1);
    let error = with_records(&batch, |records| {
        manager.produce(TOPIC, Some(partition), records)
    })
    .expect_err("a poisoned partition refuses produce");
    let TopicError::Append { source, .. } = &error else {
        panic!("{context}: expected TopicError::Append, got {error:?}");
    };
    assert_poisoned(source, &format!("{context}, produce after the failure"));
    eprintln!("{context}: later produce: {error}");
}

/// As [`reopen_log_on_full_disk`], for the topic manager.
fn reopen_topic_on_full_disk(
    data_dir: &Path,
    io_mode: IoMode,
    scenario: Scenario,
    tracks: &[Track; 2],
    context: &str,
) {
    let context = format!("{context}, on the full disk");
    for (p, track) in tracks.iter().enumerate() {
        let dir = data_dir.join(format!("{TOPIC}-{p}"));
        let found = read_segment_files(&dir);
        track.check(
            &found,
            &format!("{context}, segment files of partition {p}"),
        );
    }
    let manager = open_manager(data_dir, io_mode, scenario)
        .unwrap_or_else(|e| panic!("{context}: opening on the full disk failed: {e}"));
    for (p, track) in tracks.iter().enumerate() {
        let log = manager.partition(TOPIC, p as u32).expect("the partition");
        let held = track.verify(&log, &format!("{context}, partition {p}"));
        eprintln!("{context}: reopened, partition {p} holds {held} records");
    }
    if let Err(e) = manager.close() {
        eprintln!("{context}: close failed: {e}");
    }
}

/// As [`resume_log`], for the topic manager.
fn resume_topic(
    data_dir: &Path,
    io_mode: IoMode,
    scenario: Scenario,
    tracks: &mut [Track; 2],
    context: &str,
) {
    let manager = open_manager(data_dir, io_mode, scenario)
        .unwrap_or_else(|e| panic!("{context}: reopen after freeing space: {e}"));
    for (p, track) in tracks.iter_mut().enumerate() {
        let log = manager.partition(TOPIC, p as u32).expect("the partition");
        let held = track.verify(&log, &format!("{context}, reopened, partition {p}"));
        track.truncate(held);
        let durability = log.config().durability;
        for _ in 0..BATCHES_AFTER_FREEING {
            let batch = rows(&format!("p{p}"), track.next_offset(), RECORDS_PER_BATCH);
            let results = with_records(&batch, |records| {
                manager.produce(TOPIC, Some(p as u32), records)
            })
            .unwrap_or_else(|e| panic!("{context}: produce after freeing space: {e}"));
            let (base_offset, last_offset) = offsets_of(&batch);
            let expected = ProduceResult {
                partition: p as u32,
                base_offset,
                last_offset,
            };
            assert_eq!(
                results,
                [expected],
                "{context}: produce resumes at the next offset"
            );
            track.acknowledge(batch, durability);
        }
    }
    manager
        .close()
        .unwrap_or_else(|e| panic!("{context}: close after freeing space: {e}"));
    drop(manager);
    let manager = open_manager(data_dir, io_mode, scenario).expect("final reopen");
    for (p, track) in tracks.iter_mut().enumerate() {
        track.durable = track.acked;
        let log = manager.partition(TOPIC, p as u32).expect("the partition");
        let held = track.verify(&log, &format!("{context}, final reopen, partition {p}"));
        assert_eq!(
            held, track.acked,
            "{context}: partition {p} is whole at the end"
        );
    }
}

/// Each durability meets two of the ways the disk fills, and each way two durabilities.
const LOG_ROUNDS: [(Durability, Scenario); 6] = [
    (Durability::Sync, Scenario::WholeSegments),
    (Durability::Write, Scenario::SmallSteps),
    (Durability::None, Scenario::WholeSegments),
    (Durability::Sync, Scenario::Squeezed),
    (Durability::None, Scenario::SmallSteps),
    (Durability::Write, Scenario::Squeezed),
];

const TOPIC_ROUNDS: [(Durability, Scenario); 2] = [
    (Durability::Sync, Scenario::SmallSteps),
    (Durability::None, Scenario::Squeezed),
];

#[test]
fn log_on_full_ext4_keeps_every_acknowledged_record() {
    for_each_io_mode(|io_mode| {
        for (durability, scenario) in LOG_ROUNDS {
            log_round(FsKind::Ext4Loop, io_mode, durability, scenario);
        }
    });
}

#[test]
fn topic_on_full_ext4_keeps_every_acknowledged_record() {
    for_each_io_mode(|io_mode| {
        for (durability, scenario) in TOPIC_ROUNDS {
            topic_round(FsKind::Ext4Loop, io_mode, durability, scenario);
        }
    });
}

#[test]
fn log_on_full_tmpfs_keeps_every_acknowledged_record() {
    for_each_io_mode(|io_mode| {
        for (durability, scenario) in LOG_ROUNDS {
            log_round(FsKind::Tmpfs, io_mode, durability, scenario);
        }
    });
}
