//! The workload every engine runs, in this order, each in a fresh directory:
//!
//! 1. `peer_append`, durability `cheapest`: `records` records in batches of 100, one timed
//!    `append_batch` per batch, then one timed `flush` (so every engine ends with its data
//!    durable and the figure includes getting it there). The engine is closed afterwards;
//!    bytes written run from the first append to the end of the close.
//! 2. `peer_reopen` (cold): the page cache is emptied, then one timed `reopen`, recovery
//!    included.
//! 3. `peer_read_seq` cold, then warm: the page cache is emptied, every record is read in
//!    order, timed per 100 records; then again at once.
//! 4. `peer_read_point` cold, then warm: the engine is closed and reopened (untimed, so its
//!    own caches start empty), the page cache emptied, and `point_reads` records read at
//!    offsets from a fixed-seed generator (the same offsets for every engine), each timed;
//!    then the same offsets again.
//! 5. `peer_append`, durability `sync`, with 1 producer and, where the engine allows
//!    concurrent writers, with 4: `sync_records` records in all, split among the producers,
//!    each batch acknowledged after its sync; the wall time of all producers, then a flush.
//!
//! Every read is checked: the count, each record's id against the offset it was read at, and
//! a checksum against the one computed from the ids ([`super::records`]).
//!
//! Timed regions hold the engine's calls only: batches are built before the clock starts,
//! checks of what is read are the same cheap CRC for every engine.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringlog_sys::alloc_count::thread_allocations;

use super::os::{self, CacheDrop};
use super::records::{BATCH_RECORDS, RECORD_BYTES, RecordSource, Verifier};
use super::{Mode, Peer, PeerEngine, PeerError, PeerResult, SharedAppend};
use crate::fixtures::XorShift;
use crate::results::{Latency, ScenarioResult};
use crate::scenarios::Profile;

/// Seed of the point reads' offsets (the same for every engine and run).
pub const POINT_READ_SEED: u64 = 0x005E_ED0F_9EE2;
/// Records of the cheapest append and of the reads, full profile (about 1 GiB).
pub const RECORDS_FULL: u64 = 1_000_000;
/// The same, quick profile (256 MiB of records: enough that a cold read of them lasts long
/// enough to measure, and more than a cache of 256 MiB holds).
pub const RECORDS_QUICK: u64 = 262_144;
/// The same, smoke profile.
pub const RECORDS_SMOKE: u64 = 2_000;
/// Records of each sync append case (all producers together), full profile: 500 syncs.
pub const SYNC_RECORDS_FULL: u64 = 50_000;
/// The same, quick profile: 100 syncs.
pub const SYNC_RECORDS_QUICK: u64 = 10_000;
/// The same, smoke profile.
pub const SYNC_RECORDS_SMOKE: u64 = 400;
/// Point reads of each point-read phase (quick and full).
pub const POINT_READS: u64 = 10_000;
/// The same, smoke profile.
pub const POINT_READS_SMOKE: u64 = 500;
/// Producer counts of the sync append.
pub const PRODUCERS: [usize; 2] = [1, 4];
/// Records per timed step of the sequential read.
const SEQ_STEP_RECORDS: u64 = BATCH_RECORDS as u64;
/// Largest latency the histograms hold (longer ones are clamped): one hour.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// Sizes of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Records of the cheapest append and of every read phase.
    pub records: u64,
    /// Records of each sync append case.
    pub sync_records: u64,
    /// Producer counts of the sync append.
    pub producers: Vec<usize>,
    /// Reads of each point-read phase.
    pub point_reads: u64,
    /// Payload bytes of every record.
    pub record_bytes: usize,
    /// Records per batch.
    pub batch_records: usize,
    /// Whether this binary's global allocator counts allocations per thread
    /// (`ringlog_sys::alloc_count::CountingAllocator`): allocations per operation are then
    /// reported for the single-threaded phases.
    pub count_allocations: bool,
}

impl Plan {
    /// The sizes of `profile`.
    pub fn for_profile(profile: Profile) -> Plan {
        let pick = |full: u64, quick: u64, smoke: u64| profile.pick(&[full], &[quick], &[smoke])[0];
        Plan {
            records: pick(RECORDS_FULL, RECORDS_QUICK, RECORDS_SMOKE),
            sync_records: pick(SYNC_RECORDS_FULL, SYNC_RECORDS_QUICK, SYNC_RECORDS_SMOKE),
            producers: PRODUCERS.to_vec(),
            point_reads: pick(POINT_READS, POINT_READS, POINT_READS_SMOKE),
            record_bytes: RECORD_BYTES,
            batch_records: BATCH_RECORDS,
            count_allocations: false,
        }
    }
}

/// Figures of one phase.
#[derive(Debug)]
struct Phase {
    hist: Histogram<u64>,
    ops: u64,
    records: u64,
    payload_bytes: u64,
    elapsed: Duration,
    threads: u32,
    allocations: Option<u64>,
    write_bytes: Option<u64>,
}

impl Phase {
    fn new(count_allocations: bool) -> Phase {
        Phase {
            hist: histogram(),
            ops: 0,
            records: 0,
            payload_bytes: 0,
            elapsed: Duration::ZERO,
            threads: 1,
            allocations: count_allocations.then_some(0),
            write_bytes: None,
        }
    }

    /// Times `f` as one operation (latency recorded) moving `records` records.
    fn op<R>(&mut self, records: u64, record_bytes: usize, f: impl FnOnce() -> R) -> R {
        let allocs = thread_allocations();
        let start = Instant::now();
        let out = f();
        let elapsed = start.elapsed();
        self.add_allocations(thread_allocations() - allocs);
        self.elapsed += elapsed;
        record(&mut self.hist, elapsed);
        self.ops += 1;
        self.records += records;
        self.payload_bytes += records * record_bytes as u64;
        out
    }

    /// Times `f` without counting it as an operation (a final flush).
    fn extra<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let allocs = thread_allocations();
        let start = Instant::now();
        let out = f();
        self.elapsed += start.elapsed();
        self.add_allocations(thread_allocations() - allocs);
        out
    }

    fn add_allocations(&mut self, n: u64) {
        if let Some(sum) = self.allocations.as_mut() {
            *sum += n;
        }
    }

    fn result(
        &self,
        peer: Peer,
        name: &str,
        mode: Option<Mode>,
        params: &[(&str, u64)],
    ) -> ScenarioResult {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        ScenarioResult {
            name: name.to_string(),
            category: "peers".to_string(),
            engine: peer.name().to_string(),
            io_path: io_label(peer),
            durability: mode.map(|m| m.name().to_string()),
            params: params
                .iter()
                .map(|&(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
            threads: self.threads,
            operations: self.ops,
            messages: self.records,
            payload_bytes: self.payload_bytes,
            disk_bytes: None,
            elapsed_s: secs,
            payload_mb_s: self.payload_bytes as f64 / 1e6 / secs,
            disk_mb_s: None,
            messages_per_s: self.records as f64 / secs,
            latency: Latency::from_histogram_ns(&self.hist),
            cpu_us_per_op: None,
            allocations_per_op: self
                .allocations
                .filter(|_| self.ops > 0)
                .map(|n| n as f64 / self.ops as f64),
            scaling: None,
            compaction: None,
            disk_write_bytes: self.write_bytes,
            timeline: None,
            spread: None,
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds")
}

fn record(hist: &mut Histogram<u64>, elapsed: Duration) {
    let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    hist.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
}

/// The I/O path a peer's results name: ringlog's actual path, else the engine's.
pub fn io_label(peer: Peer) -> String {
    match peer {
        Peer::Ringlog => crate::fixtures::io_path().to_string(),
        Peer::Glommio => "io_uring+O_DIRECT".to_string(),
        Peer::RaftEngine | Peer::Fjall | Peer::Naive | Peer::RocksDb => "page cache".to_string(),
    }
}

/// Write bytes of the process since `before`, when both readings exist.
fn write_bytes_since(before: Option<u64>) -> Option<u64> {
    Some(os::process_write_bytes()?.saturating_sub(before?))
}

fn verify_failed(peer: Peer, what: &str, message: &str) -> PeerError {
    PeerError {
        engine: peer.name(),
        operation: "verify",
        message: format!("{what}: {message}"),
    }
}

/// Runs the whole workload on `peer`, in directories under `base`; `cache` (resolved) empties
/// the page cache before cold phases. Each finished case is handed to `report` as it ends.
///
/// # Errors
/// The engine's error, a failed check of what was read, or a cache drop that failed.
pub fn run_peer(
    peer: Peer,
    plan: &Plan,
    cache: CacheDrop,
    base: &Path,
    report: &mut dyn FnMut(ScenarioResult),
) -> PeerResult<()> {
    let source = RecordSource::new(plan.record_bytes);
    let dir = tempfile::tempdir_in(base).map_err(super::fail(peer.name(), "create a directory"))?;
    let mut engine = peer.open(dir.path(), Mode::Cheapest)?;
    report(append_cheapest(peer, plan, &source, engine.as_mut())?);
    for case in reads(peer, plan, cache, &source, engine.as_mut())? {
        report(case);
    }
    engine.close()?;
    drop(engine);
    drop(dir);
    for &producers in &plan.producers {
        if producers > 1 && !peer.concurrent_writers() {
            continue;
        }
        let dir =
            tempfile::tempdir_in(base).map_err(super::fail(peer.name(), "create a directory"))?;
        let mut engine = peer.open(dir.path(), Mode::Sync)?;
        report(append_sync(
            peer,
            plan,
            &source,
            engine.as_mut(),
            producers,
        )?);
    }
    Ok(())
}

fn append_params(plan: &Plan, records: u64, producers: usize) -> [(&'static str, u64); 4] {
    [
        ("batch", plan.batch_records as u64),
        ("producers", producers as u64),
        ("records", records),
        ("size", plan.record_bytes as u64),
    ]
}

/// Phase 1: the cheapest append, flush and close.
fn append_cheapest(
    peer: Peer,
    plan: &Plan,
    source: &RecordSource,
    engine: &mut dyn PeerEngine,
) -> PeerResult<ScenarioResult> {
    let mut phase = Phase::new(plan.count_allocations);
    let before = os::process_write_bytes();
    let mut id = 0;
    while id < plan.records {
        let count = (plan.records - id).min(plan.batch_records as u64);
        let batch = source.batch(id, count as usize);
        phase.op(count, plan.record_bytes, || engine.append_batch(&batch))?;
        id += count;
    }
    phase.extra(|| engine.flush())?;
    engine.close()?;
    phase.write_bytes = write_bytes_since(before);
    Ok(phase.result(
        peer,
        "peer_append",
        Some(Mode::Cheapest),
        &append_params(plan, plan.records, 1),
    ))
}

fn drop_cache(peer: Peer, cache: CacheDrop, engine: &dyn PeerEngine) -> PeerResult<()> {
    cache
        .drop_cache(&engine.files())
        .map_err(super::fail(peer.name(), "drop the page cache"))
}

/// Phases 2 to 4: reopen, sequential and point reads, cold and warm.
fn reads(
    peer: Peer,
    plan: &Plan,
    cache: CacheDrop,
    source: &RecordSource,
    engine: &mut dyn PeerEngine,
) -> PeerResult<Vec<ScenarioResult>> {
    let mut out = Vec::new();
    drop_cache(peer, cache, engine)?;
    let mut reopen = Phase::new(plan.count_allocations);
    reopen.op(plan.records, 0, || engine.reopen())?;
    out.push(reopen.result(
        peer,
        super::ratio::REOPEN,
        None,
        &[("records", plan.records)],
    ));

    let expected = source.expected(0..plan.records);
    for cold in [true, false] {
        if cold {
            drop_cache(peer, cache, engine)?;
        }
        let phase = read_seq(plan, engine, |verifier| {
            verifier
                .check(expected)
                .map_err(|e| verify_failed(peer, "sequential read", &e))
        })?;
        out.push(phase.result(
            peer,
            "peer_read_seq",
            None,
            &[
                ("cold", u64::from(cold)),
                ("records", plan.records),
                ("size", plan.record_bytes as u64),
            ],
        ));
    }

    // A fresh open, so the engine's own caches hold nothing the sequential read left.
    engine.close()?;
    engine.reopen()?;
    out.extend(point_reads(peer, plan, cache, source, engine)?);
    Ok(out)
}

/// Phase 4: the same fixed-seed offsets read cold, then warm.
fn point_reads(
    peer: Peer,
    plan: &Plan,
    cache: CacheDrop,
    source: &RecordSource,
    engine: &mut dyn PeerEngine,
) -> PeerResult<Vec<ScenarioResult>> {
    let mut rng = XorShift::new(POINT_READ_SEED);
    let offsets: Vec<u64> = (0..plan.point_reads)
        .map(|_| rng.below(plan.records))
        .collect();
    let expected = source.expected(offsets.iter().copied());
    let mut out = Vec::new();
    for cold in [true, false] {
        if cold {
            drop_cache(peer, cache, engine)?;
        }
        let mut phase = Phase::new(plan.count_allocations);
        let mut verifier = Verifier::default();
        for &offset in &offsets {
            phase.op(1, plan.record_bytes, || {
                engine.read_point(offset, &mut |o, v| verifier.visit(o, v))
            })?;
        }
        verifier
            .check(expected)
            .map_err(|e| verify_failed(peer, "point reads", &e))?;
        out.push(phase.result(
            peer,
            "peer_read_point",
            None,
            &[
                ("cold", u64::from(cold)),
                ("reads", plan.point_reads),
                ("records", plan.records),
                ("size", plan.record_bytes as u64),
            ],
        ));
    }
    Ok(out)
}

/// One sequential read of everything, timed per [`SEQ_STEP_RECORDS`] records (the time
/// between the visits that end each step), checked by `check`.
fn read_seq(
    plan: &Plan,
    engine: &mut dyn PeerEngine,
    check: impl FnOnce(&Verifier) -> PeerResult<()>,
) -> PeerResult<Phase> {
    let mut phase = Phase::new(plan.count_allocations);
    let mut verifier = Verifier::default();
    let mut steps = histogram();
    let allocs = thread_allocations();
    let start = Instant::now();
    let mut step_start = start;
    let mut in_step = 0;
    let count = engine.read_seq(&mut |offset, payload| {
        verifier.visit(offset, payload);
        in_step += 1;
        if in_step == SEQ_STEP_RECORDS {
            let now = Instant::now();
            record(&mut steps, now - step_start);
            step_start = now;
            in_step = 0;
        }
    })?;
    phase.elapsed = start.elapsed();
    phase.add_allocations(thread_allocations() - allocs);
    if count != verifier.read.count {
        return Err(PeerError {
            engine: "workload",
            operation: "sequential read",
            message: format!(
                "the engine counted {count} records but visited {}",
                verifier.read.count
            ),
        });
    }
    check(&verifier)?;
    phase.hist = steps;
    phase.ops = phase.hist.len();
    phase.records = count;
    phase.payload_bytes = count * plan.record_bytes as u64;
    Ok(phase)
}

/// Phase 5: `sync_records` records with a sync per batch, from `producers` threads (or the
/// calling thread for an engine with a single writer).
fn append_sync(
    peer: Peer,
    plan: &Plan,
    source: &RecordSource,
    engine: &mut dyn PeerEngine,
    producers: usize,
) -> PeerResult<ScenarioResult> {
    let batches_total = plan.sync_records.div_ceil(plan.batch_records as u64);
    // Batches are built before the clock starts. Each producer takes a contiguous run of ids
    // (raft-engine requires contiguous indexes within its region).
    let mut work: Vec<Vec<super::Batch>> = vec![Vec::new(); producers];
    for b in 0..batches_total {
        let first = b * plan.batch_records as u64;
        let count = (plan.sync_records - first).min(plan.batch_records as u64);
        let producer = (b * producers as u64 / batches_total) as usize;
        work[producer].push(source.batch(first, count as usize));
    }
    let before = os::process_write_bytes();
    let mut phase = if let Some(shared) = engine.producers() {
        append_threads(plan, &shared, work)?
    } else {
        assert_eq!(producers, 1, "{peer} has a single writer");
        let mut phase = Phase::new(plan.count_allocations);
        for batch in &work[0] {
            phase.op(batch.len() as u64, plan.record_bytes, || {
                engine.append_batch(batch)
            })?;
        }
        phase
    };
    phase.extra(|| engine.flush())?;
    engine.close()?;
    phase.write_bytes = write_bytes_since(before);
    Ok(phase.result(
        peer,
        "peer_append",
        Some(Mode::Sync),
        &append_params(plan, plan.sync_records, producers),
    ))
}

/// Appends each producer's batches from its own thread, released together by a barrier;
/// the phase's time is the wall time from the release to the last producer's end.
fn append_threads(
    plan: &Plan,
    shared: &Arc<dyn SharedAppend>,
    work: Vec<Vec<super::Batch>>,
) -> PeerResult<Phase> {
    let producers = work.len();
    let barrier = Barrier::new(producers + 1);
    let (record_bytes, count_allocations) = (plan.record_bytes, plan.count_allocations);
    let (results, elapsed) = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .into_iter()
            .enumerate()
            .map(|(p, batches)| {
                let (shared, barrier) = (Arc::clone(shared), &barrier);
                scope.spawn(move || -> PeerResult<Phase> {
                    let mut phase = Phase::new(count_allocations);
                    barrier.wait();
                    for batch in &batches {
                        phase.op(batch.len() as u64, record_bytes, || {
                            shared.append_batch(p, batch)
                        })?;
                    }
                    Ok(phase)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<PeerResult<Phase>> = handles
            .into_iter()
            .map(|h| h.join().expect("a producer thread panicked"))
            .collect();
        (results, start.elapsed())
    });
    let mut total = Phase::new(count_allocations);
    for result in results {
        let phase = result?;
        total.hist.add(&phase.hist).expect("same histogram bounds");
        total.add_allocations(phase.allocations.unwrap_or(0));
        total.ops += phase.ops;
        total.records += phase.records;
        total.payload_bytes += phase.payload_bytes;
    }
    total.elapsed = elapsed;
    total.threads = producers as u32;
    Ok(total)
}
