//! What one scenario case measures: wall time of the timed regions, per-operation latency in
//! an HDR histogram, process CPU time, and allocations of the measuring threads.
//!
//! CPU time is `utime + stime` of `/proc/self/stat` (every thread of the process), in clock
//! ticks of 10 ms: `CLK_TCK` is assumed to be 100, which it is on every Linux architecture
//! ringlog supports (reading it with `sysconf` would need `unsafe` or a new dependency). The
//! figure is read around timed regions only; at 10 ms per tick it is meaningful once the
//! timed regions of a case add up to well over a second, so short cases report it as a
//! rough figure.
//!
//! Allocations are counted by `ringlog_sys::alloc_count::CountingAllocator` for the calling
//! thread; threads spawned by a concurrent scenario count their own and add them up.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringlog_sys::alloc_count::thread_allocations;

/// Nanoseconds per clock tick of `/proc/self/stat` (`CLK_TCK` = 100).
const NANOS_PER_TICK: u64 = 10_000_000;
/// Largest latency the histograms hold (longer ones are clamped): one hour.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// An empty latency histogram in nanoseconds, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds")
}

/// Records `elapsed` in `hist` (clamped to its range).
pub fn record(hist: &mut Histogram<u64>, elapsed: Duration) {
    let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    hist.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
}

/// Process CPU time (user + system, every thread) so far, in clock ticks; `None` when
/// `/proc/self/stat` cannot be read.
pub fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')': state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The figures of one case, accumulated over its timed regions.
#[derive(Debug)]
pub struct Meter {
    /// Per-operation latency, when the case times operations.
    pub hist: Histogram<u64>,
    /// Timed operations.
    pub ops: u64,
    /// Records moved.
    pub messages: u64,
    /// Payload bytes moved.
    pub payload_bytes: u64,
    /// On-disk bytes of the batches moved, when known.
    pub disk_bytes: Option<u64>,
    /// Wall time of the timed regions.
    pub elapsed: Duration,
    /// Payload MB/s of each pass, for cases that time repeated passes (the result's spread).
    pub passes: Vec<f64>,
    cpu_ticks: Option<u64>,
    allocations: Option<u64>,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            hist: histogram(),
            ops: 0,
            messages: 0,
            payload_bytes: 0,
            disk_bytes: Some(0),
            elapsed: Duration::ZERO,
            passes: Vec::new(),
            cpu_ticks: Some(0),
            allocations: Some(0),
        }
    }
}

impl Meter {
    /// Runs `f` as a timed region: wall time, process CPU time and the calling thread's
    /// allocations are added to the case's.
    /// `f` gets the case's latency histogram to record operations in.
    pub fn region<R>(&mut self, f: impl FnOnce(&mut Histogram<u64>) -> R) -> R {
        let cpu = cpu_ticks();
        let allocs = thread_allocations();
        let start = Instant::now();
        let out = f(&mut self.hist);
        self.elapsed += start.elapsed();
        self.add_allocations(thread_allocations() - allocs);
        self.add_cpu(cpu, cpu_ticks());
        out
    }

    /// Runs `f` as a timed region whose work happens on threads it spawns: `f` returns the
    /// allocations those threads counted, and the calling thread's own (spawning) are left
    /// out.
    pub fn region_threads<R>(&mut self, f: impl FnOnce() -> (R, u64)) -> R {
        let cpu = cpu_ticks();
        let start = Instant::now();
        let (out, allocs) = f();
        self.elapsed += start.elapsed();
        self.add_allocations(allocs);
        self.add_cpu(cpu, cpu_ticks());
        out
    }

    /// Runs `f` as one timed operation without reading the CPU clock (too coarse and too
    /// costly per operation): its latency, wall time and allocations count, and the case
    /// reports no CPU figure.
    pub fn op<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let allocs = thread_allocations();
        let start = Instant::now();
        let out = f();
        let elapsed = start.elapsed();
        self.add_allocations(thread_allocations() - allocs);
        self.elapsed += elapsed;
        record(&mut self.hist, elapsed);
        self.ops += 1;
        self.cpu_ticks = None;
        out
    }

    fn add_cpu(&mut self, before: Option<u64>, after: Option<u64>) {
        self.cpu_ticks = match (self.cpu_ticks, before, after) {
            (Some(sum), Some(b), Some(a)) => Some(sum + a.saturating_sub(b)),
            _ => None,
        };
    }

    /// Adds allocations counted elsewhere (spawned threads).
    pub fn add_allocations(&mut self, n: u64) {
        if let Some(sum) = self.allocations.as_mut() {
            *sum += n;
        }
    }

    /// Adds moved records: `messages` records, `payload` bytes, `disk` on-disk bytes.
    pub fn moved(&mut self, messages: u64, payload: u64, disk: Option<u64>) {
        self.messages += messages;
        self.payload_bytes += payload;
        self.disk_bytes = match (self.disk_bytes, disk) {
            (Some(sum), Some(d)) => Some(sum + d),
            _ => None,
        };
    }

    /// Process CPU time per operation in microseconds, when known.
    pub fn cpu_us_per_op(&self) -> Option<f64> {
        let ticks = self.cpu_ticks?;
        (self.ops > 0).then(|| (ticks * NANOS_PER_TICK) as f64 / 1e3 / self.ops as f64)
    }

    /// Allocations per operation, when known.
    pub fn allocations_per_op(&self) -> Option<f64> {
        let n = self.allocations?;
        (self.ops > 0).then(|| n as f64 / self.ops as f64)
    }
}

/// When a case stops: after `time` of wall time (setup included) once `min_ops` operations
/// ran, and in any case after `hard_time` once one operation ran.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Wall time the case aims for.
    pub time: Duration,
    /// Operations it needs at least, time permitting.
    pub min_ops: u64,
    /// Wall time after which it stops regardless of `min_ops`.
    pub hard_time: Duration,
}

/// Drives a case's iterations within its [`Budget`], printing a line to stderr every
/// [`PROGRESS_EVERY`] so a long case shows it is alive.
#[derive(Debug)]
pub struct Driver {
    label: String,
    budget: Budget,
    started: Instant,
    last_report: Instant,
}

/// Interval of the progress lines during long cases.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl Driver {
    /// A driver for the case `label` (started now: setup before the first iteration counts
    /// against the budget).
    pub fn new(label: String, budget: Budget) -> Driver {
        let now = Instant::now();
        Driver {
            label,
            budget,
            started: now,
            last_report: now,
        }
    }

    /// Whether to run another iteration, given the operations `meter` counted so far.
    pub fn more(&mut self, meter: &Meter) -> bool {
        let wall = self.started.elapsed();
        if self.last_report.elapsed() >= PROGRESS_EVERY {
            self.last_report = Instant::now();
            eprintln!(
                "  ... {}: {} ops in {:.1} s so far",
                self.label,
                meter.ops,
                wall.as_secs_f64()
            );
        }
        if meter.ops == 0 {
            return true;
        }
        if wall >= self.budget.hard_time {
            return false;
        }
        wall < self.budget.time || meter.ops < self.budget.min_ops
    }
}
