//! `ringbench disk`: the disk's own limits through the engine's I/O substrate, with no engine
//! logic: one `ringlog_sys::Ring`, files opened with O_DIRECT (`ringlog_sys::direct`),
//! `AlignedBuf` buffers, at the engine's write chunk size and write depth and the sizes of
//! `benches::disk::plan`. Written as a [`RunResult`] (`disk.json`) of category `disk`.
//!
//! Conditions, the same for every case:
//! - Setup is untimed: the ring, the buffers (allocated and filled with non-repeating bytes
//!   once, so no first touch of fresh memory is timed), the written file that overwrites and
//!   reads use (written whole, then `fdatasync`), and each fallocated case's fresh file
//!   (`fallocate` of the whole file, then `fdatasync`, then removed after the case).
//! - Writes and reads are sequential from offset 0. Overwrites and reads wrap at the end of
//!   the written file; a fallocated case stops at the end of its file (so every write meets
//!   unwritten blocks) or at its duration, whichever comes first.
//! - Latency is per request, from its submission to the reaping of its completion (requests
//!   complete in order here: the oldest is waited for first). With write + fdatasync it is
//!   the pair.
//! - Plain writes are not followed by an `fdatasync`: their durability is the engine's
//!   `write` (the direct write completed).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::disk::{self, DiskCase, Op, Space};
use benches::results::{DiskInfo, Latency, RunResult, SCHEMA_VERSION, ScenarioResult};
use benches::scenarios::Profile;
use benches::timeline::Recorder;
use hdrhistogram::Histogram;
use ringlog_sys::{AlignedBuf, Ring, SyncKind};

use crate::environment;
use crate::measure::{cpu_ticks, histogram, record};

/// Submission queue entries of the ring: room for the deepest case.
const RING_ENTRIES: u32 = 64;
/// Request size and depth of the untimed fill of the written file.
const FILL_REQUEST_BYTES: u64 = 1024 * 1024;
const FILL_QUEUE_DEPTH: usize = 8;
/// Nanoseconds per clock tick of `/proc/self/stat` (as in `measure.rs`).
const NANOS_PER_TICK: u64 = 10_000_000;

/// Options of `ringbench disk`.
#[derive(Clone, Debug)]
pub struct DiskOptions {
    /// Directory the files go to (a fresh subdirectory of it, removed at the end).
    pub dir: PathBuf,
    /// Wall time each case aims for.
    pub duration: Duration,
    /// Size of each file.
    pub file_bytes: u64,
    /// The result file.
    pub out: PathBuf,
    /// Recorded in the result's environment.
    pub profile: Profile,
}

/// Seconds per case and file MiB of each profile: (smoke, quick, full).
pub fn profile_defaults(profile: Profile) -> (f64, u64) {
    match profile {
        Profile::Smoke => (0.05, 16),
        Profile::Quick => (2.0, 2048),
        Profile::Full => (5.0, 4096),
    }
}

/// Where the files go by default: `RINGLOG_BENCH_DIR`, else `target/bench-data` of this
/// workspace, as `scripts/run_benchmarks.sh` does (the repository's own filesystem: the
/// system's temporary directory may be tmpfs, which has no disk under it).
pub fn default_dir() -> PathBuf {
    std::env::var_os(benches::BENCH_DIR_ENV).map_or_else(
        || {
            let benches = Path::new(env!("CARGO_MANIFEST_DIR"));
            benches
                .parent()
                .unwrap_or(benches)
                .join("target")
                .join("bench-data")
        },
        PathBuf::from,
    )
}

/// The result path for `--out`: `out/disk.json` when `out` is a directory, else `out`.
pub fn result_path(out: &Path) -> PathBuf {
    if out.is_dir() {
        out.join(disk::DISK_FILE)
    } else {
        out.to_path_buf()
    }
}

/// The ring, the buffers and the alignment every case shares.
struct Rig {
    ring: Ring,
    bufs: Vec<AlignedBuf>,
    alignment: u64,
}

/// What one timed case measured.
struct Measured {
    hist: Histogram<u64>,
    ops: u64,
    bytes: u64,
    elapsed: Duration,
    cpu_ticks: Option<u64>,
    timeline: Recorder,
}

/// Runs every case and writes the result; returns its path.
///
/// # Errors
/// A message saying what failed: the directory, O_DIRECT or io_uring unavailable, an I/O
/// error or a short transfer.
pub fn run(o: &DiskOptions) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let work = tempfile::Builder::new()
        .prefix("disk-")
        .tempdir_in(&o.dir)
        .map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let alignment = ringlog_sys::direct::probe_direct_io(work.path()).map_err(|e| {
        format!("{e}; ringbench disk needs O_DIRECT: use --dir on a disk-backed filesystem")
    })?;
    let uring =
        Ring::new(RING_ENTRIES).map_err(|e| format!("ringbench disk needs io_uring: {e}"))?;
    // A busy log's writes: its chunk grows from `buffer_bytes` to this (the case every
    // sustained `none` figure is set against).
    let shared = ringlog::SharedConfig::default();
    let engine_write_bytes = (shared.buffer_bytes * shared.write_chunk_growth) as u64;
    let engine_depth = ringlog::Config::default().max_writes_in_flight as u64;
    let cases = disk::plan(engine_write_bytes, engine_depth);
    let align = alignment.memory.max(alignment.offset) as u64;
    let file_bytes = o
        .file_bytes
        .next_multiple_of(FILL_REQUEST_BYTES)
        .max(FILL_REQUEST_BYTES);
    let mut rig = Rig {
        ring: uring,
        bufs: buffers(&cases, alignment.memory),
        alignment: align,
    };
    let environment =
        environment::gather_in(o.profile, work.path(), &o.dir, disk::IO_PATH.to_string());
    eprintln!(
        "ringbench disk: {} cases of {:.2} s in {} on {} ({}); files of {} MiB; engine writes {} \
         KiB chunks, {engine_depth} in flight",
        cases.len(),
        o.duration.as_secs_f64(),
        work.path().display(),
        environment.filesystem,
        environment.device.as_deref().unwrap_or("device unknown"),
        file_bytes >> 20,
        engine_write_bytes >> 10,
    );
    let written = work.path().join("written.dat");
    let written_file = fill(&mut rig, &written, file_bytes)?;
    let mut scenarios = Vec::new();
    for case in &cases {
        let r = run_case(
            &mut rig,
            case,
            (&written_file, work.path()),
            file_bytes,
            o.duration,
        )?;
        eprintln!("{}", progress_line(case, &r));
        scenarios.push(r);
    }
    drop(written_file);
    let result = RunResult {
        schema: SCHEMA_VERSION,
        environment,
        scenarios,
        peers: None,
        disk: Some(DiskInfo {
            engine_write_bytes,
            engine_writes_in_flight: engine_depth,
            file_bytes,
            case_duration_s: o.duration.as_secs_f64(),
            alignment_bytes: rig.alignment,
        }),
    };
    let path = result_path(&o.out);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    result
        .save(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// One buffer per request of the deepest case, of the largest request, aligned; filled with
/// non-repeating bytes (touched here, not in a timed region; nothing below can compress or
/// deduplicate them).
fn buffers(cases: &[DiskCase], memory_align: usize) -> Vec<AlignedBuf> {
    let depth = cases
        .iter()
        .map(|c| c.queue_depth as usize)
        .max()
        .unwrap_or(1)
        .max(FILL_QUEUE_DEPTH);
    let bytes = cases
        .iter()
        .map(|c| c.request_bytes)
        .max()
        .unwrap_or(FILL_REQUEST_BYTES)
        .max(FILL_REQUEST_BYTES) as usize;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..depth)
        .map(|_| {
            let mut buf = AlignedBuf::new(bytes, memory_align);
            for chunk in buf.full_mut().chunks_exact_mut(8) {
                // xorshift64: cheap, and no two 8-byte words of a buffer alike.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            buf
        })
        .collect()
}

fn open(path: &Path) -> Result<Arc<File>, String> {
    ringlog_sys::direct::open_direct(path, OpenOptions::new().read(true).write(true).create(true))
        .map(Arc::new)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A fresh file of `bytes`, allocated with `fallocate` and made durable, never written.
fn fallocated(path: &Path, bytes: u64) -> Result<Arc<File>, String> {
    let file = open(path)?;
    ringlog_sys::file::fallocate(&file, 0, bytes)
        .and_then(|()| ringlog_sys::file::fdatasync(&file))
        .map_err(|e| format!("{}: fallocate {bytes} bytes: {e}", path.display()))?;
    Ok(file)
}

/// The file that overwrites and reads use: fallocated, written whole (untimed), synced.
fn fill(rig: &mut Rig, path: &Path, bytes: u64) -> Result<Arc<File>, String> {
    let file = fallocated(path, bytes)?;
    let case = DiskCase {
        op: Op::Write,
        space: Some(Space::Fallocated),
        request_bytes: FILL_REQUEST_BYTES,
        queue_depth: FILL_QUEUE_DEPTH as u64,
    };
    for buf in &mut rig.bufs {
        buf.set_len(case.request_bytes as usize);
    }
    // No deadline: the fill stops at the end of the file.
    let m = stream(rig, &case, (&file, path), (bytes, false), Duration::MAX)?;
    ringlog_sys::file::fdatasync(&file)
        .map_err(|e| format!("{}: fdatasync: {e}", path.display()))?;
    eprintln!(
        "ringbench disk: wrote {} MiB to {} in {:.2} s (untimed setup)",
        m.bytes >> 20,
        path.display(),
        m.elapsed.as_secs_f64()
    );
    Ok(file)
}

type Pending = (Instant, ringlog_sys::Ticket<AlignedBuf>);

fn submit(
    rig: &Rig,
    file: &Arc<File>,
    case: &DiskCase,
    buf: AlignedBuf,
    offset: u64,
) -> Result<Pending, String> {
    let at = Instant::now();
    let ticket = match case.op {
        Op::Read => rig
            .ring
            .submit_read(file, buf, offset, case.request_bytes as usize),
        Op::Write | Op::WriteFdatasync => rig.ring.submit_write(file, buf, offset),
    }
    .map_err(|e| format!("{}: submit: {e}", case.label()))?;
    Ok((at, ticket))
}

/// The bytes a completion moved, or an error for a failure or a short transfer.
fn check(result: std::io::Result<usize>, case: &DiskCase, path: &Path) -> Result<u64, String> {
    let n = result.map_err(|e| format!("{} in {}: {e}", case.label(), path.display()))?;
    if n as u64 != case.request_bytes {
        return Err(format!(
            "{} in {}: {n} bytes transferred of {}",
            case.label(),
            path.display(),
            case.request_bytes
        ));
    }
    Ok(n as u64)
}

fn run_case(
    rig: &mut Rig,
    case: &DiskCase,
    (written, dir): (&Arc<File>, &Path),
    file_bytes: u64,
    duration: Duration,
) -> Result<ScenarioResult, String> {
    for buf in &mut rig.bufs {
        buf.set_len(case.request_bytes as usize);
    }
    let fresh_path = dir.join("fallocated.dat");
    let (file, path, wrap) = match case.space {
        Some(Space::Fallocated) => (
            fallocated(&fresh_path, file_bytes)?,
            fresh_path.clone(),
            false,
        ),
        _ => (Arc::clone(written), dir.join("written.dat"), true),
    };
    let measured = match case.op {
        Op::WriteFdatasync => pairs(rig, case, (&file, &path), (file_bytes, wrap), duration)?,
        Op::Write | Op::Read => stream(rig, case, (&file, &path), (file_bytes, wrap), duration)?,
    };
    if case.space == Some(Space::Fallocated) {
        drop(file);
        std::fs::remove_file(&fresh_path).map_err(|e| format!("{}: {e}", fresh_path.display()))?;
    }
    Ok(result(case, &measured))
}

/// Sequential requests, up to the case's depth in flight, the oldest reaped first.
fn stream(
    rig: &mut Rig,
    case: &DiskCase,
    (file, path): (&Arc<File>, &Path),
    (file_bytes, wrap): (u64, bool),
    duration: Duration,
) -> Result<Measured, String> {
    let depth = case.queue_depth as usize;
    let mut bufs = std::mem::take(&mut rig.bufs);
    let mut pending: VecDeque<Pending> = VecDeque::with_capacity(depth);
    let mut m = Measured::new();
    let mut offset = 0;
    let cpu = cpu_ticks();
    let start = Instant::now();
    let deadline = start.checked_add(duration);
    let outcome = 'run: loop {
        while pending.len() < depth && deadline.is_none_or(|d| Instant::now() < d) {
            if offset + case.request_bytes > file_bytes {
                if !wrap {
                    break;
                }
                offset = 0;
            }
            let buf = bufs.pop().expect("one buffer per request in flight");
            match submit(rig, file, case, buf, offset) {
                Ok(p) => pending.push_back(p),
                Err(e) => break 'run Err(e),
            }
            offset += case.request_bytes;
        }
        let Some((at, ticket)) = pending.pop_front() else {
            break Ok(());
        };
        let (result, buf) = rig.ring.wait(ticket);
        let done = Instant::now();
        bufs.push(buf);
        match check(result, case, path) {
            Ok(n) => m.completed(start, at, done, n),
            Err(e) => break Err(e),
        }
    };
    m.elapsed = start.elapsed();
    m.cpu_ticks = cpu.zip(cpu_ticks()).map(|(b, a)| a.saturating_sub(b));
    // Whatever is still in flight after an error completes before the buffers are reused.
    while let Some((_, ticket)) = pending.pop_front() {
        bufs.push(rig.ring.wait(ticket).1);
    }
    rig.bufs = bufs;
    outcome.map(|()| m)
}

/// A write, then an `fdatasync`, one pair at a time; the pair is one operation.
fn pairs(
    rig: &mut Rig,
    case: &DiskCase,
    (file, path): (&Arc<File>, &Path),
    (file_bytes, wrap): (u64, bool),
    duration: Duration,
) -> Result<Measured, String> {
    let mut buf = rig.bufs.pop().expect("a buffer");
    let mut m = Measured::new();
    let mut offset = 0;
    let cpu = cpu_ticks();
    let start = Instant::now();
    let deadline = start + duration;
    let outcome = loop {
        if Instant::now() >= deadline {
            break Ok(());
        }
        if offset + case.request_bytes > file_bytes {
            if !wrap {
                break Ok(());
            }
            offset = 0;
        }
        let (at, ticket) = match submit(rig, file, case, buf, offset) {
            Ok(p) => p,
            Err(e) => {
                buf = AlignedBuf::new(case.request_bytes as usize, rig.alignment as usize);
                break Err(e);
            }
        };
        let (result, back) = rig.ring.wait(ticket);
        buf = back;
        let n = match check(result, case, path) {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        let synced = rig
            .ring
            .submit_sync(file, SyncKind::Data)
            .map(|t| rig.ring.wait(t).0);
        if let Err(e) | Ok(Err(e)) = synced {
            break Err(format!(
                "{}: fdatasync of {}: {e}",
                case.label(),
                path.display()
            ));
        }
        m.completed(start, at, Instant::now(), n);
        offset += case.request_bytes;
    };
    m.elapsed = start.elapsed();
    m.cpu_ticks = cpu.zip(cpu_ticks()).map(|(b, a)| a.saturating_sub(b));
    rig.bufs.push(buf);
    outcome.map(|()| m)
}

impl Measured {
    fn new() -> Measured {
        Measured {
            hist: histogram(),
            ops: 0,
            bytes: 0,
            elapsed: Duration::ZERO,
            cpu_ticks: None,
            timeline: Recorder::default(),
        }
    }

    /// One request of `bytes`, submitted `at`, reaped `done`, in a region started `start`.
    fn completed(&mut self, start: Instant, at: Instant, done: Instant, bytes: u64) {
        record(&mut self.hist, done - at);
        self.timeline.record(done - start, bytes);
        self.ops += 1;
        self.bytes += bytes;
    }
}

fn result(case: &DiskCase, m: &Measured) -> ScenarioResult {
    let secs = m.elapsed.as_secs_f64().max(1e-9);
    let mb_s = m.bytes as f64 / 1e6 / secs;
    ScenarioResult {
        name: case.name().to_string(),
        category: disk::CATEGORY.to_string(),
        engine: disk::ENGINE.to_string(),
        io_path: disk::IO_PATH.to_string(),
        durability: case.durability().map(str::to_string),
        params: case.params(),
        threads: 1,
        operations: m.ops,
        messages: m.ops,
        payload_bytes: m.bytes,
        disk_bytes: Some(m.bytes),
        elapsed_s: secs,
        payload_mb_s: mb_s,
        disk_mb_s: Some(mb_s),
        messages_per_s: m.ops as f64 / secs,
        latency: Latency::from_histogram_ns(&m.hist),
        cpu_us_per_op: m
            .cpu_ticks
            .filter(|_| m.ops > 0)
            .map(|t| (t * NANOS_PER_TICK) as f64 / 1e3 / m.ops as f64),
        allocations_per_op: None,
        scaling: None,
        compaction: None,
        disk_write_bytes: None,
        timeline: Some(m.timeline.finish(m.elapsed)),
        spread: None,
    }
}

fn progress_line(case: &DiskCase, r: &ScenarioResult) -> String {
    let latency = r.latency.map_or(String::new(), |l| {
        format!(
            ", p50 {:.1} us, p99 {:.1} us, p99.99 {:.1} us, max {:.1} us",
            l.p50_us,
            l.p99_us,
            l.p9999_us.unwrap_or(f64::NAN),
            l.max_us
        )
    });
    format!(
        "disk {}: {:.1} MB/s, {:.0} IOPS in {:.2} s ({} requests){latency}",
        case.label(),
        r.payload_mb_s,
        r.messages_per_s,
        r.elapsed_s,
        r.operations
    )
}

/// The figures as a table for the terminal: one line per case.
pub fn table(result: &RunResult) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "case                                          MB/s      IOPS    p50 us    p99 us  p99.99 us\n",
    );
    for s in &result.scenarios {
        let Some(case) = DiskCase::of(s) else {
            continue;
        };
        let l = s.latency;
        let _ = writeln!(
            out,
            "{:<42} {:>7.1} {:>9.0} {:>9.1} {:>9.1} {:>10.1}",
            case.label(),
            s.payload_mb_s,
            s.messages_per_s,
            l.map_or(f64::NAN, |l| l.p50_us),
            l.map_or(f64::NAN, |l| l.p99_us),
            l.and_then(|l| l.p9999_us).unwrap_or(f64::NAN),
        );
    }
    out
}
