//! Do io_uring registered buffers (`IORING_REGISTER_BUFFERS` + `WriteFixed`/`ReadFixed`) and
//! registered files (`IORING_REGISTER_FILES` + `types::Fixed`) pay off for O_DIRECT segment I/O on
//! this machine, compared with plain `Write`/`Read` on a normal fd?
//!
//! Run (release, from the workspace root):
//!
//! ```text
//! cargo run --release -p ringlog-sys --example registered_io -- [DIR]
//! ```
//!
//! `DIR` defaults to `/work/regbench`; it is created if missing, and every file the benchmark
//! creates in it is deleted at the end (the directory too, if it is then empty). It needs about
//! 1 GiB of free space and runs for about 1-2 minutes.
//!
//! Conditions:
//! - one `IoUring` (64 entries, no SQPOLL, no IOPOLL) per measurement, created, registered and
//!   torn down outside the timed section; one thread submits and reaps;
//! - every file is opened with `O_DIRECT` (the page cache is bypassed; a virtio disk may still
//!   be cached by the host, which this program cannot see);
//! - buffers are `AlignedBuf`s (4 KiB aligned) filled with pseudo-random bytes, one 256 KiB slot
//!   per queue-depth entry; with registered buffers all slots are registered up front and slot
//!   `i` is buffer index `i`; with a registered file the file is fixed-file index 0;
//! - configurations: A = fd + plain buffers, B = fd + registered buffers, C = registered file +
//!   plain buffers, D = registered file + registered buffers;
//! - every test runs 3 rounds interleaved (A B C D A B C D A B C D); each cell is one run, the
//!   median is over the 3 runs, and "spread" is (max - min) / median of those runs;
//! - no fdatasync inside the timed section (write latency is the `O_DIRECT` write alone); an
//!   untimed fdatasync follows every write measurement so journal work does not leak into the
//!   next one;
//! - random offsets come from a xorshift64 with a fixed seed, the same sequence for every run;
//! - "CPU us/op" is the process CPU time (`CLOCK_PROCESS_CPUTIME_ID`: all threads, including
//!   io_uring's io-wq workers; not interrupt time spent while the process sleeps) over the timed
//!   section, divided by the operation count (positive "CPU/op vs A" = less CPU than A);
//! - "separated?" says whether all 3 runs of a configuration beat (or lose to) all 3 runs of A;
//!   "overlap" means the difference is not beyond run-to-run noise.
//!
//! Tests:
//! 1. sequential 256 KiB writes at QD 8 over 512 MiB: (a) "fresh" — a new file, fallocated
//!    (unwritten extents) and fdatasync'd before the timed section; (b) "overwrite" — a file
//!    whose 512 MiB were already written, as in the engine's steady state;
//! 2. 4 KiB sequential overwrites at QD 1 (200 untimed warm-up ops, then 20,000 timed ops),
//!    latency from push to reaped completion;
//! 3. 4 KiB random reads at QD 1 from the written 512 MiB file (200 + 20,000 ops);
//! 4. sequential 256 KiB reads at QD 4 over 512 MiB.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode, squeue, types};
use ringlog_sys::AlignedBuf;
use ringlog_sys::direct::{dio_alignment, filesystem_name, open_direct};
use ringlog_sys::file::{fallocate, fdatasync};

const MIB: u64 = 1024 * 1024;
const REGION: u64 = 512 * MIB;
const BIG: usize = 256 * 1024;
const SMALL: usize = 4096;
const SLOTS: usize = 8;
const LAT_OPS: usize = 20_000;
const LAT_WARMUP: usize = 200;
const ROUNDS: usize = 3;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Clone, Copy)]
struct Config {
    label: &'static str,
    reg_file: bool,
    reg_buf: bool,
}

const CONFIGS: [Config; 4] = [
    Config {
        label: "A fd/plain-buf",
        reg_file: false,
        reg_buf: false,
    },
    Config {
        label: "B fd/reg-buf",
        reg_file: false,
        reg_buf: true,
    },
    Config {
        label: "C reg-file/plain-buf",
        reg_file: true,
        reg_buf: false,
    },
    Config {
        label: "D reg-file/reg-buf",
        reg_file: true,
        reg_buf: true,
    },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Write,
    Read,
}

/// One run of one test: its metrics (in the order of the test's `metrics`) and CPU per op.
struct RunResult {
    metrics: Vec<f64>,
    cpu_us_per_op: f64,
}

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` owned by this frame, and
    // CLOCK_PROCESS_CPUTIME_ID is a clock every Linux kernel supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn check_result(res: i32, want: usize) -> io::Result<()> {
    if res < 0 {
        return Err(io::Error::from_raw_os_error(-res));
    }
    if res as usize != want {
        return Err(io::Error::other(format!(
            "short transfer: {res} of {want} bytes"
        )));
    }
    Ok(())
}

/// A ring, a file and the I/O buffers, set up (and registered) per configuration.
///
/// Field order matters: `ring` drops first (unregistering buffers and files and, since every
/// method reaps all it submitted before returning, with nothing in flight), then `file`, then
/// `bufs`.
struct Bench {
    ring: IoUring,
    file: File,
    cfg: Config,
    /// Start of `bufs`; slot `i` is `[base + i * BIG, base + (i + 1) * BIG)`.
    base: *mut u8,
    _bufs: AlignedBuf,
}

impl Bench {
    fn new(path: &Path, cfg: Config) -> io::Result<Bench> {
        let file = open_direct(path, OpenOptions::new().read(true).write(true))?;
        let ring = IoUring::new(64)?;
        let mut bufs = AlignedBuf::new(SLOTS * BIG, SMALL);
        let mut pattern = Xorshift(SEED ^ 0x5555);
        for chunk in bufs.full_mut().chunks_exact_mut(8) {
            chunk.copy_from_slice(&pattern.next().to_le_bytes());
        }
        let base = bufs.full_mut().as_mut_ptr();
        if cfg.reg_buf {
            let iovecs: Vec<libc::iovec> = (0..SLOTS)
                .map(|i| libc::iovec {
                    iov_base: base.wrapping_add(i * BIG).cast(),
                    iov_len: BIG,
                })
                .collect();
            // SAFETY: every iovec lies inside `bufs`, which is moved into the returned `Bench`
            // (its heap address does not change on a move) and outlives `ring`, which drops
            // first and unregisters the buffers.
            unsafe { ring.submitter().register_buffers(&iovecs)? };
        }
        if cfg.reg_file {
            ring.submitter().register_files(&[file.as_raw_fd()])?;
        }
        Ok(Bench {
            ring,
            file,
            cfg,
            base,
            _bufs: bufs,
        })
    }

    fn entry(&self, kind: Kind, slot: usize, len: usize, offset: u64) -> squeue::Entry {
        macro_rules! with_target {
            ($fd:expr, $ptr:expr) => {
                match (kind, self.cfg.reg_buf) {
                    (Kind::Write, false) => opcode::Write::new($fd, $ptr.cast_const(), len as u32)
                        .offset(offset)
                        .build(),
                    (Kind::Write, true) => {
                        opcode::WriteFixed::new($fd, $ptr.cast_const(), len as u32, slot as u16)
                            .offset(offset)
                            .build()
                    }
                    (Kind::Read, false) => opcode::Read::new($fd, $ptr, len as u32)
                        .offset(offset)
                        .build(),
                    (Kind::Read, true) => {
                        opcode::ReadFixed::new($fd, $ptr, len as u32, slot as u16)
                            .offset(offset)
                            .build()
                    }
                }
            };
        }
        assert!(slot < SLOTS && len <= BIG);
        let ptr: *mut u8 = self.base.wrapping_add(slot * BIG);
        let entry = if self.cfg.reg_file {
            with_target!(types::Fixed(0), ptr)
        } else {
            with_target!(types::Fd(self.file.as_raw_fd()), ptr)
        };
        entry.user_data(slot as u64)
    }

    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY: the entry points into slot `user_data` of `_bufs`, which outlives the ring;
        // callers never hand one slot to two operations in flight, never touch the buffers
        // from Rust while I/O is in flight, and reap every submitted entry before returning.
        unsafe { self.ring.submission().push(entry) }
            .map_err(|_| io::Error::other("submission queue full"))
    }

    fn submit_and_wait(&self, want: usize) -> io::Result<()> {
        loop {
            match self.ring.submit_and_wait(want) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sequential `kind` of `bs`-byte blocks over `[0, total)` with up to `qd` in flight.
    fn stream(&mut self, kind: Kind, bs: usize, qd: usize, total: u64) -> io::Result<RunResult> {
        assert!(qd <= SLOTS);
        let nops = (total / bs as u64) as usize;
        let mut free: Vec<usize> = (0..qd).rev().collect();
        let (mut next, mut done) = (0usize, 0usize);
        let cpu0 = process_cpu_time();
        let t0 = Instant::now();
        while done < nops {
            while next < nops
                && let Some(slot) = free.pop()
            {
                let entry = self.entry(kind, slot, bs, (next * bs) as u64);
                self.push(&entry)?;
                next += 1;
            }
            self.submit_and_wait(1)?;
            for cqe in self.ring.completion() {
                check_result(cqe.result(), bs)?;
                free.push(cqe.user_data() as usize);
                done += 1;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = process_cpu_time().saturating_sub(cpu0).as_secs_f64();
        Ok(RunResult {
            metrics: vec![total as f64 / secs / 1e6],
            cpu_us_per_op: cpu * 1e6 / nops as f64,
        })
    }

    /// `LAT_WARMUP` untimed then `LAT_OPS` timed 4 KiB operations at QD 1; operation `i`
    /// (counting the warm-up) goes to `offset(i)`.
    fn latency(
        &mut self,
        kind: Kind,
        mut offset: impl FnMut(usize) -> u64,
    ) -> io::Result<RunResult> {
        let mut lat_ns: Vec<u64> = Vec::with_capacity(LAT_OPS);
        let mut cpu0 = process_cpu_time();
        for i in 0..LAT_WARMUP + LAT_OPS {
            if i == LAT_WARMUP {
                cpu0 = process_cpu_time();
            }
            let entry = self.entry(kind, 0, SMALL, offset(i));
            let t0 = Instant::now();
            self.push(&entry)?;
            let cqe = loop {
                if let Some(cqe) = self.ring.completion().next() {
                    break cqe;
                }
                self.submit_and_wait(1)?;
            };
            let ns = t0.elapsed().as_nanos() as u64;
            check_result(cqe.result(), SMALL)?;
            if i >= LAT_WARMUP {
                lat_ns.push(ns);
            }
        }
        let cpu = process_cpu_time().saturating_sub(cpu0).as_secs_f64();
        lat_ns.sort_unstable();
        let n = lat_ns.len();
        let pct = |p: f64| lat_ns[((n as f64 * p).ceil() as usize).saturating_sub(1)] as f64 / 1e3;
        let mean = lat_ns.iter().sum::<u64>() as f64 / n as f64 / 1e3;
        Ok(RunResult {
            metrics: vec![mean, pct(0.50), pct(0.99)],
            cpu_us_per_op: cpu * 1e6 / n as f64,
        })
    }
}

#[derive(Clone, Copy)]
enum TestKind {
    WriteFresh,
    WriteOverwrite,
    WriteLat,
    ReadLat,
    ReadSeq,
}

struct Test {
    kind: TestKind,
    name: &'static str,
    metrics: &'static [&'static str],
    /// True when a larger metric is better (throughput), false for latency.
    higher_better: bool,
}

const TESTS: [Test; 5] = [
    Test {
        kind: TestKind::WriteFresh,
        name: "1a seq write 256K QD8, fallocated-fresh",
        metrics: &["MB/s"],
        higher_better: true,
    },
    Test {
        kind: TestKind::WriteOverwrite,
        name: "1b seq write 256K QD8, overwrite",
        metrics: &["MB/s"],
        higher_better: true,
    },
    Test {
        kind: TestKind::WriteLat,
        name: "2 write 4K QD1 (seq overwrite)",
        metrics: &["mean us", "p50 us", "p99 us"],
        higher_better: false,
    },
    Test {
        kind: TestKind::ReadLat,
        name: "3 random read 4K QD1",
        metrics: &["mean us", "p50 us", "p99 us"],
        higher_better: false,
    },
    Test {
        kind: TestKind::ReadSeq,
        name: "4 seq read 256K QD4",
        metrics: &["MB/s"],
        higher_better: true,
    },
];

/// Creates `path` and fallocates `REGION` bytes (unwritten extents), then fdatasyncs it.
fn create_fallocated(path: &Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    fallocate(&file, 0, REGION)?;
    fdatasync(&file)
}

fn run_one(test: &Test, cfg: Config, data: &Path, fresh: &Path) -> io::Result<RunResult> {
    match test.kind {
        TestKind::WriteFresh => {
            create_fallocated(fresh)?;
            let mut bench = Bench::new(fresh, cfg)?;
            let result = bench.stream(Kind::Write, BIG, 8, REGION)?;
            fdatasync(&bench.file)?;
            drop(bench);
            fs::remove_file(fresh)?;
            Ok(result)
        }
        TestKind::WriteOverwrite => {
            let mut bench = Bench::new(data, cfg)?;
            let result = bench.stream(Kind::Write, BIG, 8, REGION)?;
            fdatasync(&bench.file)?;
            Ok(result)
        }
        TestKind::WriteLat => {
            let mut bench = Bench::new(data, cfg)?;
            let result = bench.latency(Kind::Write, |i| (i * SMALL) as u64)?;
            fdatasync(&bench.file)?;
            Ok(result)
        }
        TestKind::ReadLat => {
            let mut bench = Bench::new(data, cfg)?;
            let mut rng = Xorshift(SEED);
            let blocks = REGION / SMALL as u64;
            bench.latency(Kind::Read, |_| (rng.next() % blocks) * SMALL as u64)
        }
        TestKind::ReadSeq => Bench::new(data, cfg)?.stream(Kind::Read, BIG, 4, REGION),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread_pct(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    (max - min) / median(values) * 100.0
}

fn fmt_num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// `results[test][config][round]`.
type Results = Vec<Vec<Vec<RunResult>>>;

fn print_tables(results: &Results) {
    println!();
    println!(
        "| test | metric | config | run 1 | run 2 | run 3 | median | spread | CPU us/op: runs (median) |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    for (test, per_cfg) in TESTS.iter().zip(results) {
        for (m, metric) in test.metrics.iter().enumerate() {
            for (cfg, runs) in CONFIGS.iter().zip(per_cfg) {
                let vals: Vec<f64> = runs.iter().map(|r| r.metrics[m]).collect();
                let cpu: Vec<f64> = runs.iter().map(|r| r.cpu_us_per_op).collect();
                println!(
                    "| {} | {metric} | {} | {} | {} | {} | **{}** | {:.1}% | {:.1} / {:.1} / {:.1} ({:.1}) |",
                    test.name,
                    cfg.label,
                    fmt_num(vals[0]),
                    fmt_num(vals[1]),
                    fmt_num(vals[2]),
                    fmt_num(median(&vals)),
                    spread_pct(&vals),
                    cpu[0],
                    cpu[1],
                    cpu[2],
                    median(&cpu),
                );
            }
        }
    }

    println!();
    println!(
        "Versus A (fd/plain-buf): change of the median (positive = better), and whether the \
         3 runs are separated from A's 3 runs (every run better / every run worse) or overlap."
    );
    println!();
    println!(
        "| test | metric | config | change vs A | separated? | CPU/op vs A | CPU separated? |"
    );
    println!("|---|---|---|---:|---|---:|---|");
    for (test, per_cfg) in TESTS.iter().zip(results) {
        let base_cpu: Vec<f64> = per_cfg[0].iter().map(|r| r.cpu_us_per_op).collect();
        for (m, metric) in test.metrics.iter().enumerate() {
            let base: Vec<f64> = per_cfg[0].iter().map(|r| r.metrics[m]).collect();
            for (cfg, runs) in CONFIGS.iter().zip(per_cfg).skip(1) {
                let vals: Vec<f64> = runs.iter().map(|r| r.metrics[m]).collect();
                let cpu: Vec<f64> = runs.iter().map(|r| r.cpu_us_per_op).collect();
                let mut change = (median(&vals) / median(&base) - 1.0) * 100.0;
                if !test.higher_better {
                    change = -change;
                }
                let cpu_change = -(median(&cpu) / median(&base_cpu) - 1.0) * 100.0;
                println!(
                    "| {} | {metric} | {} | {change:+.1}% | {} | {cpu_change:+.1}% | {} |",
                    test.name,
                    cfg.label,
                    separation(&vals, &base, test.higher_better),
                    separation(&cpu, &base_cpu, false),
                );
            }
        }
    }
}

/// "better" / "worse" when every run of `vals` beats / loses to every run of `base`, else
/// "overlap".
fn separation(vals: &[f64], base: &[f64], higher_better: bool) -> &'static str {
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
    let (above, below) = (min(vals) > max(base), max(vals) < min(base));
    match (above, below, higher_better) {
        (true, _, true) | (_, true, false) => "better",
        (true, _, false) | (_, true, true) => "worse",
        _ => "overlap",
    }
}

/// Removes the benchmark's files (and the directory if it is left empty) however `main` ends.
struct Cleanup {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = fs::remove_file(f);
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

fn print_header(dir: &Path, data: &Path) -> io::Result<()> {
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let fs_name = filesystem_name(dir)?;
    let align = dio_alignment(&File::open(data)?)?;
    println!("# registered_io: io_uring registered buffers / files vs plain, O_DIRECT");
    println!();
    println!(
        "kernel {}, {cpus} CPUs, dir {} ({fs_name}), dio alignment {:?}",
        kernel.trim(),
        dir.display(),
        align.map(|a| (a.reported_memory, a.reported_offset)),
    );
    println!(
        "region {} MiB, latency ops {LAT_OPS} (+{LAT_WARMUP} warm-up), {ROUNDS} rounds interleaved A B C D",
        REGION / MIB
    );
    Ok(())
}

fn main() -> io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/work/regbench".to_owned()),
    );
    fs::create_dir_all(&dir)?;
    let data = dir.join("registered_io.data");
    let fresh = dir.join("registered_io.fresh");
    let _cleanup = Cleanup {
        dir: dir.clone(),
        files: vec![data.clone(), fresh.clone()],
    };
    let started = Instant::now();

    // The data file: fallocated, then written once in full, so later tests overwrite
    // allocated, written blocks and read real data.
    create_fallocated(&data)?;
    {
        let mut bench = Bench::new(&data, CONFIGS[0])?;
        bench.stream(Kind::Write, BIG, 8, REGION)?;
        fdatasync(&bench.file)?;
    }
    print_header(&dir, &data)?;

    let mut results: Results = TESTS
        .iter()
        .map(|_| CONFIGS.iter().map(|_| Vec::new()).collect())
        .collect();
    for (test, per_cfg) in TESTS.iter().zip(results.iter_mut()) {
        eprint!("{} ...", test.name);
        for _round in 0..ROUNDS {
            for (cfg, runs) in CONFIGS.iter().zip(per_cfg.iter_mut()) {
                runs.push(run_one(test, *cfg, &data, &fresh)?);
            }
        }
        eprintln!(" done ({:.0} s elapsed)", started.elapsed().as_secs_f64());
    }
    print_tables(&results);
    println!();
    println!("total runtime {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
