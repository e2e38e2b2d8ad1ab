//! Acknowledged records survive SIGKILL: a child `logtool produce --print-acks` is killed at a
//! random moment, and the parent reopens the log with the engine and checks it.
//!
//! Each round is one directory, produced into by one to [`MAX_GENERATIONS`] children in turn,
//! each killed with SIGKILL (after a random number of acknowledgements plus a random delay, or
//! a random delay after spawn, which can land in startup, open or recovery). After every kill
//! the parent:
//! - checks the `acked` lines: the offsets logtool's batches must get, in order;
//! - reopens the log (the recovery scan runs) and checks that every acknowledged batch is
//!   there, and besides them at most the one batch that was being acknowledged when the kill
//!   landed: nothing lost, nothing invented;
//! - reads every record from offset 0 and compares it with what its writer made: logtool's
//!   deterministic values (copied below from `produce::value_buffer`), the timestamp logtool
//!   gives record i, no key, no headers; offsets contiguous from 0, no gap, no duplicate;
//! - appends a few batches itself, which must continue at the next offset, and closes.
//!
//! At the end of a round `logtool verify` must pass on the cleanly closed directory, with the
//! record count the model expects, and (bare mode) a clean reopen reads the same records.
//! Durability is `sync`, and in some generations `write`, which also survives a process crash.
//! The pipelined tests run the bare rounds with `--in-flight 8 --durability sync`: the child
//! keeps eight appends in flight and acks them in offset order as they resolve, so after a kill
//! every acked batch is there and besides them at most the eight that were in flight.
//! Segments are 8 to 32 KiB so rollovers happen during the run. Each test runs one I/O path;
//! the topic tests produce through the topic manager to several partitions.
//!
//! `RINGLOG_CRASH_ROUNDS` sets the rounds per test (default [`DEFAULT_ROUNDS`]; the topic
//! tests run a quarter of them). Every round prints its seed, and a failing round prints the
//! command that replays its parameters: `RINGLOG_CRASH_SEED=<seed> RINGLOG_CRASH_ROUNDS=1`. The
//! kill's moment relative to the child's progress depends on the machine, so a replay makes the
//! same choices but may catch the child at a slightly different point.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use ringlog::config::DEFAULT_MAX_BATCH_BYTES;
use ringlog::record::Record;
use ringlog::{
    Config, Durability, IoMode, IoPath, Log, ReadRecord, SharedConfig, TopicManager,
    TopicManagerConfig,
};

/// Rounds per test when `RINGLOG_CRASH_ROUNDS` is not set.
const DEFAULT_ROUNDS: u64 = 30;
/// Crash generations (children killed) per round, at most.
const MAX_GENERATIONS: u64 = 3;
/// A child is killed after at most this many acknowledgements (about 4 ms each here).
const MAX_ACKS_BEFORE_KILL: u64 = 32;
/// Calls (batches) each child is asked for: many more than get through before the kill.
const CALLS_PER_CHILD: u64 = 5_000;
/// The topic tests' partitions, at most.
const MAX_PARTITIONS: u64 = 3;
/// Segment sizes drawn from this range, so a generation rolls several times.
const SEGMENT_BYTES_RANGE: (u64, u64) = (8 * 1024, 32 * 1024);
/// Timestamp of record 0 of generation 0; each generation starts [`GENERATION_MS`] later.
const BASE_TIMESTAMP_MS: i64 = 1_700_000_000_000;
const GENERATION_MS: i64 = 10_000_000;
/// The parent's records of a generation start this long after the child's.
const PARENT_MS: i64 = 5_000_000;
/// logtool's `produce::VALUE_SHIFT_BYTES`.
const VALUE_SHIFT_BYTES: usize = 1024;
/// A child that prints nothing for this long is stuck: the test fails instead of hanging.
const CHILD_STALL_LIMIT: Duration = Duration::from_mins(2);
/// The topic every topic round produces to.
const TOPIC: &str = "crash";
const SIGKILL: i32 = 9;

#[test]
fn sigkill_keeps_acked_records_uring() {
    run_rounds("sigkill_keeps_acked_records_uring", rounds(), |seed| {
        bare_round(IoMode::Uring, seed, 1)
    });
}

#[test]
fn sigkill_keeps_acked_records_portable() {
    run_rounds("sigkill_keeps_acked_records_portable", rounds(), |seed| {
        bare_round(IoMode::Portable, seed, 1)
    });
}

#[cfg(feature = "mmap")]
#[test]
fn sigkill_keeps_acked_records_mmap() {
    run_rounds("sigkill_keeps_acked_records_mmap", rounds(), |seed| {
        bare_round(IoMode::Mmap, seed, 1)
    });
}

/// Appends in flight in the pipelined tests (`logtool produce --in-flight`).
const PIPELINED_IN_FLIGHT: u64 = 8;

#[test]
fn sigkill_keeps_acked_pipelined_records_uring() {
    run_rounds(
        "sigkill_keeps_acked_pipelined_records_uring",
        pipelined_rounds(),
        |seed| bare_round(IoMode::Uring, seed, PIPELINED_IN_FLIGHT),
    );
}

#[test]
fn sigkill_keeps_acked_pipelined_records_portable() {
    run_rounds(
        "sigkill_keeps_acked_pipelined_records_portable",
        pipelined_rounds(),
        |seed| bare_round(IoMode::Portable, seed, PIPELINED_IN_FLIGHT),
    );
}

#[cfg(feature = "mmap")]
#[test]
fn sigkill_keeps_acked_pipelined_records_mmap() {
    run_rounds(
        "sigkill_keeps_acked_pipelined_records_mmap",
        pipelined_rounds(),
        |seed| bare_round(IoMode::Mmap, seed, PIPELINED_IN_FLIGHT),
    );
}

#[test]
fn sigkill_keeps_acked_topic_records_uring() {
    run_rounds(
        "sigkill_keeps_acked_topic_records_uring",
        topic_rounds(),
        |seed| topic_round(IoMode::Uring, seed),
    );
}

#[test]
fn sigkill_keeps_acked_topic_records_portable() {
    run_rounds(
        "sigkill_keeps_acked_topic_records_portable",
        topic_rounds(),
        |seed| topic_round(IoMode::Portable, seed),
    );
}

#[cfg(feature = "mmap")]
#[test]
fn sigkill_keeps_acked_topic_records_mmap() {
    run_rounds(
        "sigkill_keeps_acked_topic_records_mmap",
        topic_rounds(),
        |seed| topic_round(IoMode::Mmap, seed),
    );
}

// ---------------------------------------------------------------------------------------------
// Rounds, seeds and what a round reports.

/// What one round saw, summed over a test for its closing line.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    kills: u64,
    /// Kills that landed before the first ack: in startup, open or recovery.
    kills_before_first_ack: u64,
    /// Children that finished before the kill landed (not a crash; still checked).
    finished: u64,
    /// Unacknowledged batches found on disk after a kill (each whole and correct).
    unacked_batch_kept: u64,
    acked_records: u64,
    records_checked: u64,
    segments_max: usize,
}

impl Stats {
    /// Counts how a child ended and what it had acknowledged.
    fn count_child(&mut self, run: &ChildRun, acked: u64, batch: u64) {
        self.acked_records += acked * batch;
        if run.killed {
            self.kills += 1;
            self.kills_before_first_ack += u64::from(acked == 0);
        } else {
            self.finished += 1;
        }
    }

    fn add(&mut self, other: Stats) {
        self.kills += other.kills;
        self.kills_before_first_ack += other.kills_before_first_ack;
        self.finished += other.finished;
        self.unacked_batch_kept += other.unacked_batch_kept;
        self.acked_records += other.acked_records;
        self.records_checked += other.records_checked;
        self.segments_max = self.segments_max.max(other.segments_max);
    }
}

fn rounds() -> u64 {
    env_u64("RINGLOG_CRASH_ROUNDS").unwrap_or(DEFAULT_ROUNDS)
}

/// Half the bare rounds: the pipelined tests add to the same paths.
fn pipelined_rounds() -> u64 {
    rounds().div_ceil(2)
}

/// A quarter of the bare rounds: each topic round does the work of several partitions.
fn topic_rounds() -> u64 {
    rounds().div_ceil(4)
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not an unsigned integer")),
    )
}

/// The seed of round 0: `RINGLOG_CRASH_SEED`, else drawn from the clock.
fn base_seed() -> u64 {
    env_u64("RINGLOG_CRASH_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos();
        splitmix64(nanos as u64 ^ u64::from(std::process::id()))
    })
}

/// Runs `rounds` rounds; round 0 uses the base seed and each next round the mix of the one
/// before, so any round replays alone with its own seed as the base and one round.
fn run_rounds(test: &str, rounds: u64, round: impl Fn(u64) -> Stats) {
    let mut seed = base_seed();
    eprintln!("{test}: {rounds} round(s), base seed {seed}");
    let mut total = Stats::default();
    for index in 0..rounds {
        eprintln!("{test}: round {index} seed {seed}");
        match catch_unwind(AssertUnwindSafe(|| round(seed))) {
            Ok(stats) => total.add(stats),
            Err(panic) => {
                let features = if cfg!(feature = "mmap") {
                    " --features mmap"
                } else {
                    ""
                };
                eprintln!(
                    "{test}: round {index} FAILED; replay it with\n  \
                     RINGLOG_CRASH_SEED={seed} RINGLOG_CRASH_ROUNDS=1 cargo test -p logtool\
                     {features} --test crash_sigkill {test} -- --exact --nocapture"
                );
                resume_unwind(panic);
            }
        }
        seed = splitmix64(seed);
    }
    eprintln!("{test}: done: {total:?}");
    assert!(
        total.kills + total.finished >= rounds,
        "every round runs at least one child"
    );
}

/// A small deterministic generator (SplitMix64): the test needs no crate for it.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64_finish(self.0)
    }

    /// Uniform in `[low, high]`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `numerator / denominator`.
    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.next_u64() % denominator < numerator
    }
}

fn splitmix64(x: u64) -> u64 {
    splitmix64_finish(x.wrapping_add(0x9E37_79B9_7F4A_7C15))
}

fn splitmix64_finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------------
// What logtool writes, and the model of a partition.

/// logtool's value generator (`produce::value_buffer`), copied so that the test checks the
/// bytes logtool promises: `size + VALUE_SHIFT_BYTES` pseudo-random printable bytes (xorshift,
/// fixed seed); record i's value is the window at `i mod VALUE_SHIFT_BYTES`.
fn value_buffer(size: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size + VALUE_SHIFT_BYTES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % ALPHABET.len() as u64) as usize]
        })
        .collect()
}

/// Who wrote a run of consecutive offsets of one partition.
#[derive(Debug)]
enum Writer {
    /// A `logtool produce` child. Its calls went round robin over `partition_count`
    /// partitions (one partition: every call here), `batch` records each, so the n-th record of
    /// this run is in the partition's call `n / batch`, which was the child's call
    /// `(n / batch) * partition_count + partition`.
    Child {
        generation: u64,
        base_ms: i64,
        size: usize,
        values: Vec<u8>,
        batch: u64,
        partition_count: u64,
        partition: u64,
    },
    /// The parent's appends after a recovery: [`parent_value`] at each offset.
    Parent { base_ms: i64 },
}

/// A run of `record_count` offsets from `first_offset`, all by one writer.
#[derive(Debug)]
struct Span {
    first_offset: u64,
    record_count: u64,
    writer: Writer,
}

/// The record expected at an offset: timestamp, key, value (never headers).
type ExpectedRecord<'a> = (i64, Option<&'a [u8]>, Vec<u8>);

impl Span {
    fn end_offset(&self) -> u64 {
        self.first_offset + self.record_count
    }

    fn expected(&self, offset: u64) -> ExpectedRecord<'_> {
        let n = offset - self.first_offset;
        match &self.writer {
            Writer::Child {
                base_ms,
                size,
                values,
                batch,
                partition_count,
                partition,
                ..
            } => {
                let call = (n / batch) * partition_count + partition;
                let index = call * batch + n % batch;
                let shift = (index % VALUE_SHIFT_BYTES as u64) as usize;
                let value = values[shift..shift + size].to_vec();
                (base_ms + index as i64, None, value)
            }
            Writer::Parent { base_ms } => {
                (base_ms + n as i64, Some(PARENT_KEY), parent_value(offset))
            }
        }
    }
}

/// The key of every record the parent appends.
const PARENT_KEY: &[u8] = b"parent";

fn parent_value(offset: u64) -> Vec<u8> {
    format!("parent record at offset {offset}").into_bytes()
}

/// What one partition must hold: spans covering `[0, next_offset)` without gap or overlap.
#[derive(Debug, Default)]
struct PartitionModel {
    spans: Vec<Span>,
}

impl PartitionModel {
    fn next_offset(&self) -> u64 {
        self.spans.last().map_or(0, Span::end_offset)
    }

    fn push(&mut self, span: Span) {
        assert_eq!(
            span.first_offset,
            self.next_offset(),
            "spans are contiguous"
        );
        if span.record_count > 0 {
            self.spans.push(span);
        }
    }

    /// Reads every record of `log` and compares it with the model; returns the record count.
    fn check(&self, log: &Log, ctx: &str) -> u64 {
        assert_eq!(log.start_offset(), 0, "{ctx}: the log starts at offset 0");
        assert_eq!(
            log.next_offset(),
            self.next_offset(),
            "{ctx}: next offset after reopening"
        );
        let mut offset = 0;
        let mut spans = self.spans.iter().peekable();
        while offset < log.next_offset() {
            let records = log
                .read_records(offset, 256 * 1024)
                .unwrap_or_else(|e| panic!("{ctx}: read at offset {offset} failed: {e}"));
            assert!(
                !records.is_empty(),
                "{ctx}: read at {offset} returned nothing"
            );
            for record in &records {
                assert_eq!(
                    record.offset, offset,
                    "{ctx}: offsets must be contiguous (gap or duplicate)"
                );
                while spans.peek().is_some_and(|s| s.end_offset() <= offset) {
                    spans.next();
                }
                let span = spans.peek().expect("the model covers every offset read");
                check_record(span, record, ctx);
                offset += 1;
            }
        }
        offset
    }
}

fn check_record(span: &Span, record: &ReadRecord, ctx: &str) {
    let (timestamp_ms, key, value) = span.expected(record.offset);
    let writer = match &span.writer {
        Writer::Child { generation, .. } => format!("logtool produce of generation {generation}"),
        Writer::Parent { .. } => "the parent's append".to_string(),
    };
    let offset = record.offset;
    assert_eq!(
        record.timestamp_ms, timestamp_ms,
        "{ctx}: timestamp at offset {offset}, written by {writer}"
    );
    assert_eq!(
        record.key.as_deref(),
        key,
        "{ctx}: key at offset {offset}, written by {writer}"
    );
    let got = record
        .value
        .as_deref()
        .unwrap_or_else(|| panic!("{ctx}: null value at offset {offset}, written by {writer}"));
    if got != value {
        let at = got.iter().zip(&value).take_while(|(a, b)| a == b).count();
        panic!(
            "{ctx}: value at offset {offset} differs from what {writer} wrote: {} bytes, \
             expected {}; first difference at byte {at}: got {:?}, expected {:?}",
            got.len(),
            value.len(),
            String::from_utf8_lossy(&got[at..got.len().min(at + 32)]),
            String::from_utf8_lossy(&value[at..value.len().min(at + 32)])
        );
    }
    assert!(
        record.headers.is_empty(),
        "{ctx}: headers at offset {offset}"
    );
}

// ---------------------------------------------------------------------------------------------
// One child, killed.

/// When the child is killed.
#[derive(Clone, Copy, Debug)]
enum KillPlan {
    /// Once this many `acked` lines arrived, after a further delay: inside a later append,
    /// write or fdatasync, or a roll.
    AfterAcks { ack_count: u64, delay_us: u64 },
    /// This long after spawn: maybe before or during open and recovery.
    AfterSpawn { delay_us: u64 },
}

impl KillPlan {
    fn draw(rng: &mut Rng) -> KillPlan {
        if rng.chance(1, 5) {
            KillPlan::AfterSpawn {
                delay_us: rng.range(0, 80_000),
            }
        } else {
            KillPlan::AfterAcks {
                ack_count: rng.range(0, MAX_ACKS_BEFORE_KILL),
                delay_us: rng.range(0, 5_000),
            }
        }
    }
}

/// How a child ended, and the acknowledgements it printed.
struct ChildRun {
    /// The numbers of each complete `acked` line, in order.
    acks: Vec<Vec<u64>>,
    /// SIGKILL ended it; else it finished before the kill.
    killed: bool,
}

/// Attempts at a child that finds its directory locked by this test process.
const LOCKED_ATTEMPTS: u32 = 10;

/// Runs logtool with `args`, kills it by `plan` and collects every complete line it printed.
///
/// The parent released the directory's lock before, but another test of this binary may have
/// been spawning a child at that moment: between its fork and its exec that child holds a copy
/// of every descriptor, the lock's included, so for a moment the lock outlives the parent's
/// close. A child refused at open for that reason, before it printed anything, is run again.
fn run_child(args: &[String], plan: KillPlan, stderr_path: &Path, ctx: &str) -> ChildRun {
    let mut attempt = 1;
    loop {
        let run = run_child_once(args, plan, stderr_path, ctx);
        match run {
            Err(stderr) if attempt < LOCKED_ATTEMPTS => {
                eprintln!("{ctx}: the child found the directory locked, again: {stderr}");
                attempt += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(stderr) => {
                panic!("{ctx}: the child found the directory locked {attempt} times: {stderr}")
            }
            Ok(run) => return run,
        }
    }
}

/// One child; `Err` with its stderr when it failed at once because the directory was locked.
fn run_child_once(
    args: &[String],
    plan: KillPlan,
    stderr_path: &Path,
    ctx: &str,
) -> Result<ChildRun, String> {
    let stderr = File::create(stderr_path).expect("create the child's stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_logtool"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn logtool");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (lines_tx, lines) = mpsc::channel();
    let reader = thread::spawn(move || read_complete_lines(stdout, &lines_tx));
    let mut received = Vec::new();
    match plan {
        KillPlan::AfterAcks {
            ack_count,
            delay_us,
        } => {
            // Every line before the closing report is an `acked` line, so this counts acks.
            while (received.len() as u64) < ack_count {
                match lines.recv_timeout(CHILD_STALL_LIMIT) {
                    Ok(line) => received.push(line),
                    // The child ended before printing that many lines.
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        child.kill().expect("kill the stuck child");
                        panic!("{ctx}: logtool printed nothing for {CHILD_STALL_LIMIT:?}");
                    }
                }
            }
            thread::sleep(Duration::from_micros(delay_us));
        }
        KillPlan::AfterSpawn { delay_us } => thread::sleep(Duration::from_micros(delay_us)),
    }
    // Succeeds on a child that already exited: it is not reaped until `wait`.
    child.kill().expect("send SIGKILL to the child");
    let status = child.wait().expect("reap the child");
    reader.join().expect("the stdout reader does not panic");
    received.extend(lines.try_iter());
    let killed = status.signal() == Some(SIGKILL);
    let stderr = fs::read_to_string(stderr_path).unwrap_or_default();
    if !killed && !status.success() && received.is_empty() && stderr.contains("is in use by") {
        return Err(stderr);
    }
    assert!(
        killed || status.success(),
        "{ctx}: logtool {args:?} failed by itself ({status}); stderr:\n{stderr}"
    );
    Ok(ChildRun {
        acks: received.iter().filter_map(|line| parse_ack(line)).collect(),
        killed,
    })
}

/// Sends every newline-terminated line; a last line cut by the kill is dropped, since logtool
/// only vouches for a line it finished and flushed.
fn read_complete_lines(stdout: impl std::io::Read, lines: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.last() != Some(&b'\n') => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                if lines.send(text).is_err() {
                    return;
                }
            }
        }
    }
}

/// `acked 41` gives `[41]`, `acked 2 41` gives `[2, 41]`; other lines give `None`.
fn parse_ack(line: &str) -> Option<Vec<u64>> {
    let rest = line.strip_prefix("acked ")?;
    Some(
        rest.split(' ')
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|_| panic!("bad ack line {line:?}"))
            })
            .collect(),
    )
}

fn logtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logtool"))
        .args(args)
        .output()
        .expect("run logtool")
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `logtool verify` on one partition and checks it passes with `record_count` records.
fn verify_passes(location: &[&str], record_count: u64, ctx: &str) {
    let mut args = vec!["verify"];
    args.extend_from_slice(location);
    let output = logtool(&args);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && report.contains(&format!(", {record_count} record(s)")),
        "{ctx}: logtool verify {location:?} should pass with {record_count} records: {}",
        describe(&output)
    );
}

// ---------------------------------------------------------------------------------------------
// Parameters of a generation, shared by both modes.

/// What one child is asked to do.
#[derive(Debug)]
struct Generation {
    index: u64,
    size: usize,
    batch: u64,
    count: u64,
    durability: Durability,
    base_ms: i64,
    plan: KillPlan,
    /// `--in-flight`: the calls the child keeps in flight.
    in_flight: u64,
}

impl Generation {
    /// Draws a generation whose batches fit in a segment of `segment_bytes`, keeping
    /// `in_flight` calls in flight (more than one: always `sync`).
    fn draw(rng: &mut Rng, index: u64, segment_bytes: u64, in_flight: u64) -> Generation {
        let size = rng.range(1, 1000);
        // About 40 bytes of record overhead at most, 61 of batch header and 12 of log overhead.
        let batch_max = ((segment_bytes - 100) / (size + 40)).clamp(1, 16);
        let batch = rng.range(1, batch_max);
        Generation {
            index,
            size: size as usize,
            batch,
            // Far more calls than a kill lets through, so the kill lands mid-run even on the
            // fastest path (mmap with `write` acks a call in about 0.2 ms).
            count: batch * CALLS_PER_CHILD,
            durability: if rng.chance(1, 4) && in_flight == 1 {
                Durability::Write
            } else {
                Durability::Sync
            },
            base_ms: BASE_TIMESTAMP_MS + GENERATION_MS * index as i64,
            plan: KillPlan::draw(rng),
            in_flight,
        }
    }

    fn call_count(&self) -> u64 {
        self.count / self.batch
    }

    /// `produce` arguments common to both modes.
    fn produce_args(&self, io_mode: IoMode) -> Vec<String> {
        [
            "--io",
            io_mode.name(),
            "--durability",
            self.durability.name(),
            "--print-acks",
            "--count",
            &self.count.to_string(),
            "--size",
            &self.size.to_string(),
            "--batch",
            &self.batch.to_string(),
            "--timestamp-ms",
            &self.base_ms.to_string(),
            "--in-flight",
            &self.in_flight.to_string(),
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    fn child_writer(&self, partition_count: u64, partition: u64) -> Writer {
        Writer::Child {
            generation: self.index,
            base_ms: self.base_ms,
            size: self.size,
            values: value_buffer(self.size),
            batch: self.batch,
            partition_count,
            partition,
        }
    }
}

/// The sizes of the batches the parent appends after a generation: one to three, of one to four
/// records each.
fn parent_batches(rng: &mut Rng) -> Vec<u64> {
    (0..rng.range(1, 3)).map(|_| rng.range(1, 4)).collect()
}

/// Checks the child's run against what it could have done; returns how many calls were acked.
/// A child killed after its last ack (in its final flush, close or report) acked every call.
fn checked_ack_count(run: &ChildRun, generation: &Generation, ctx: &str) -> u64 {
    let acked = run.acks.len() as u64;
    assert!(
        acked <= generation.call_count(),
        "{ctx}: more acks than calls"
    );
    if !run.killed {
        assert_eq!(
            acked,
            generation.call_count(),
            "{ctx}: logtool finished: every call is acknowledged"
        );
    }
    acked
}

fn io_mode_allows(io_mode: IoMode, path: IoPath) -> bool {
    match io_mode {
        IoMode::Uring => matches!(path, IoPath::UringDirect | IoPath::UringBuffered),
        IoMode::Portable => matches!(path, IoPath::PortableDirect | IoPath::PortableBuffered),
        #[cfg(feature = "mmap")]
        IoMode::Mmap => path == IoPath::Mmap,
        IoMode::Auto => path != IoPath::Mmap,
    }
}

fn round_header(io_mode: IoMode, seed: u64, segment_bytes: u64) -> String {
    format!(
        "io {}, seed {seed}, segment_bytes {segment_bytes}",
        io_mode.name()
    )
}

fn generation_ctx(header: &str, generation: &Generation, run: Option<&ChildRun>) -> String {
    let mut ctx = format!(
        "{header}, generation {} (size {}, batch {}, durability {}, {} in flight, {:?}",
        generation.index,
        generation.size,
        generation.batch,
        generation.durability.name(),
        generation.in_flight,
        generation.plan
    );
    if let Some(run) = run {
        let _ = write!(
            ctx,
            ", {} ack(s), {}",
            run.acks.len(),
            if run.killed { "killed" } else { "finished" }
        );
    }
    ctx.push(')');
    ctx
}

// ---------------------------------------------------------------------------------------------
// Bare partition mode: `logtool produce --dir`.

/// The configuration logtool's bare produce uses, on `io_mode`.
fn bare_config(io_mode: IoMode, segment_bytes: u64) -> Config {
    Config {
        io_mode,
        segment_bytes,
        max_batch_bytes: DEFAULT_MAX_BATCH_BYTES.min(segment_bytes as usize),
        durability: Durability::Sync,
        flush_interval_ms: None,
        ..Config::default()
    }
}

fn open_bare(dir: &Path, io_mode: IoMode, segment_bytes: u64, ctx: &str) -> Log {
    let log = Log::open(dir, bare_config(io_mode, segment_bytes))
        .unwrap_or_else(|e| panic!("{ctx}: reopening {} failed: {e}", dir.display()));
    assert!(
        io_mode_allows(io_mode, log.io_path()),
        "{ctx}: asked for io {} but the log runs on {}",
        io_mode.name(),
        log.io_path()
    );
    log
}

/// One directory, produced into and killed one to [`MAX_GENERATIONS`] times by children keeping
/// `in_flight` appends in flight.
fn bare_round(io_mode: IoMode, seed: u64, in_flight: u64) -> Stats {
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().expect("create a temporary directory");
    let dir = tmp.path().join("partition");
    let dir_arg = dir.to_str().expect("a UTF-8 path");
    let segment_bytes = rng.range(SEGMENT_BYTES_RANGE.0, SEGMENT_BYTES_RANGE.1);
    let header = round_header(io_mode, seed, segment_bytes);
    let mut model = PartitionModel::default();
    let mut stats = Stats::default();
    for index in 0..rng.range(1, MAX_GENERATIONS) {
        let generation = Generation::draw(&mut rng, index, segment_bytes, in_flight);
        let mut args = strings(&["produce", "--dir", dir_arg]);
        args.extend(generation.produce_args(io_mode));
        args.extend(strings(&["--segment-bytes", &segment_bytes.to_string()]));
        let ctx = generation_ctx(&header, &generation, None);
        let run = run_child(&args, generation.plan, &tmp.path().join("stderr"), &ctx);
        let ctx = generation_ctx(&header, &generation, Some(&run));
        let acked = checked_ack_count(&run, &generation, &ctx);
        let base = model.next_offset();
        for (k, ack) in (0..).zip(&run.acks) {
            let last = base + (k + 1) * generation.batch - 1;
            assert_eq!(ack, &[last], "{ctx}: ack line {k}");
        }
        let log = open_bare(&dir, io_mode, segment_bytes, &ctx);
        let check = PartitionCheck {
            generation: &generation,
            partition_count: 1,
            partition: 0,
            acked_here: acked,
            unacked_here: in_flight.min(generation.call_count() - acked),
            ctx: &ctx,
        };
        check.run(&log, &mut model, &mut rng, &mut stats, |records| {
            let info = log
                .append(records)
                .unwrap_or_else(|e| panic!("{ctx}: the parent's append failed: {e}"));
            (info.base_offset, info.last_offset)
        });
        log.close()
            .unwrap_or_else(|e| panic!("{ctx}: close after the parent's appends failed: {e}"));
        stats.count_child(&run, acked, generation.batch);
    }
    let ctx = format!("{header}, after the last generation");
    verify_passes(&["--dir", dir_arg], model.next_offset(), &ctx);
    let log = open_bare(&dir, io_mode, segment_bytes, &ctx);
    model.check(&log, &format!("{ctx}, clean reopen"));
    log.close()
        .unwrap_or_else(|e| panic!("{ctx}: close failed: {e}"));
    stats
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(ToString::to_string).collect()
}

/// One partition after a kill: what the child left there, then the parent's appends.
struct PartitionCheck<'a> {
    generation: &'a Generation,
    partition_count: u64,
    partition: u64,
    /// The child's acknowledged calls that went to this partition.
    acked_here: u64,
    /// How many of the calls in flight when the kill landed went to this partition: batches
    /// that may be there besides the acked ones.
    unacked_here: u64,
    ctx: &'a str,
}

impl PartitionCheck<'_> {
    /// Checks that `log` holds the acked calls and at most those in flight, as whole
    /// batches, and that every record is what its writer wrote; then appends the parent's
    /// batches with `append`, which returns the offsets each was given.
    fn run(
        &self,
        log: &Log,
        model: &mut PartitionModel,
        rng: &mut Rng,
        stats: &mut Stats,
        mut append: impl FnMut(&[Record<'_>]) -> (u64, u64),
    ) {
        let (ctx, generation) = (self.ctx, self.generation);
        let base = model.next_offset();
        let on_disk = log.next_offset().checked_sub(base).unwrap_or_else(|| {
            panic!(
                "{ctx}: the log ends at {}, before {base}",
                log.next_offset()
            )
        });
        assert!(
            on_disk.is_multiple_of(generation.batch),
            "{ctx}: {on_disk} records after offset {base}: not whole batches of {}",
            generation.batch
        );
        let present = on_disk / generation.batch;
        assert!(
            present >= self.acked_here,
            "{ctx}: acknowledged records lost: {} acked batches, {present} on disk",
            self.acked_here
        );
        let most = self.acked_here + self.unacked_here;
        assert!(
            present <= most,
            "{ctx}: {present} batches on disk, but only {} were acked and {} in flight",
            self.acked_here,
            self.unacked_here
        );
        stats.unacked_batch_kept += present - self.acked_here;
        model.push(Span {
            first_offset: base,
            record_count: on_disk,
            writer: generation.child_writer(self.partition_count, self.partition),
        });
        stats.records_checked += model.check(log, ctx);
        stats.segments_max = stats.segments_max.max(log.segment_count());
        let parent_ms = generation.base_ms + PARENT_MS;
        for record_count in parent_batches(rng) {
            append_parent_batch(model, parent_ms, record_count, ctx, &mut append);
        }
    }
}

/// Appends one batch of the parent's records with `append`, which returns the first and last
/// offsets it was given; they must continue the model.
fn append_parent_batch(
    model: &mut PartitionModel,
    base_ms: i64,
    record_count: u64,
    ctx: &str,
    append: impl FnOnce(&[Record<'_>]) -> (u64, u64),
) {
    let first = model.next_offset();
    let values: Vec<Vec<u8>> = (first..first + record_count).map(parent_value).collect();
    let records: Vec<Record<'_>> = values
        .iter()
        .zip(0..)
        .map(|(value, n)| Record {
            key: Some(PARENT_KEY),
            value: Some(value),
            timestamp_ms: base_ms + n,
            headers: &[],
        })
        .collect();
    assert_eq!(
        append(&records),
        (first, first + record_count - 1),
        "{ctx}: the parent's append continues at the next offset"
    );
    model.push(Span {
        first_offset: first,
        record_count,
        writer: Writer::Parent { base_ms },
    });
}

// ---------------------------------------------------------------------------------------------
// Topic mode: `logtool produce --data-dir --topic`, round robin over the partitions.

/// The number of the first `call_count` calls that went to `partition` of `partition_count`
/// (call k goes to partition k mod partition_count: a new topic manager starts at 0).
fn calls_to(call_count: u64, partition: u64, partition_count: u64) -> u64 {
    (call_count + partition_count - 1 - partition) / partition_count
}

fn topic_manager_config(io_mode: IoMode) -> TopicManagerConfig {
    TopicManagerConfig {
        shared: SharedConfig {
            io_mode,
            ..SharedConfig::default()
        },
        log: Config {
            io_mode,
            ..Config::default()
        },
        cleaner_io_max_bytes_per_second: None,
    }
}

/// One data directory with one topic of two or three partitions, produced into and killed one
/// to [`MAX_GENERATIONS`] times.
fn topic_round(io_mode: IoMode, seed: u64) -> Stats {
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().expect("create a temporary directory");
    let data_dir = tmp.path().join("data");
    let data_dir_arg = data_dir.to_str().expect("a UTF-8 path");
    let segment_bytes = rng.range(SEGMENT_BYTES_RANGE.0, SEGMENT_BYTES_RANGE.1);
    let partition_count = rng.range(2, MAX_PARTITIONS);
    // Below `sync`, logtool flushes each call itself before acknowledging it.
    let topic_durability =
        [Durability::None, Durability::Write, Durability::Sync][rng.range(0, 2) as usize];
    let header = format!(
        "{}, {partition_count} partitions, topic durability {}",
        round_header(io_mode, seed, segment_bytes),
        topic_durability.name()
    );
    let topic = TopicSettings {
        data_dir: data_dir_arg,
        io_mode,
        partition_count,
        segment_bytes,
        durability: topic_durability,
    };
    topic.create(&header);
    let mut models: Vec<PartitionModel> = (0..partition_count)
        .map(|_| PartitionModel::default())
        .collect();
    let mut stats = Stats::default();
    for index in 0..rng.range(1, MAX_GENERATIONS) {
        let generation = Generation::draw(&mut rng, index, segment_bytes, 1);
        let mut args = strings(&["produce", "--data-dir", data_dir_arg, "--topic", TOPIC]);
        args.extend(generation.produce_args(io_mode));
        let ctx = generation_ctx(&header, &generation, None);
        let run = run_child(&args, generation.plan, &tmp.path().join("stderr"), &ctx);
        let ctx = generation_ctx(&header, &generation, Some(&run));
        check_topic_generation(
            &topic,
            &generation,
            &run,
            &mut models,
            &mut rng,
            &mut stats,
            &ctx,
        );
    }
    for (partition, model) in models.iter().enumerate() {
        let partition_arg = partition.to_string();
        let location = [
            "--data-dir",
            data_dir_arg,
            "--topic",
            TOPIC,
            "--partition",
            &partition_arg,
        ];
        let ctx = format!("{header}, partition {partition} after the last generation");
        verify_passes(&location, model.next_offset(), &ctx);
    }
    stats
}

/// The topic a topic round creates.
struct TopicSettings<'a> {
    data_dir: &'a str,
    io_mode: IoMode,
    partition_count: u64,
    segment_bytes: u64,
    durability: Durability,
}

impl TopicSettings<'_> {
    fn create(&self, ctx: &str) {
        let output = logtool(&[
            "topics",
            "--io",
            self.io_mode.name(),
            "create",
            "--data-dir",
            self.data_dir,
            "--topic",
            TOPIC,
            "--partitions",
            &self.partition_count.to_string(),
            "--segment-bytes",
            &self.segment_bytes.to_string(),
            // The records' timestamps are fixed in the past; time retention must not delete
            // them.
            "--retention-ms",
            "none",
            "--durability",
            self.durability.name(),
        ]);
        assert!(
            output.status.success(),
            "{ctx}: topics create failed: {}",
            describe(&output)
        );
    }
}

/// After one kill: checks the acks, reopens the topic, checks every partition and appends to
/// each, closes.
fn check_topic_generation(
    topic: &TopicSettings<'_>,
    generation: &Generation,
    run: &ChildRun,
    models: &mut [PartitionModel],
    rng: &mut Rng,
    stats: &mut Stats,
    ctx: &str,
) {
    let partition_count = models.len() as u64;
    let acked = checked_ack_count(run, generation, ctx);
    for (k, ack) in (0..).zip(&run.acks) {
        let partition = k % partition_count;
        let base = models[partition as usize].next_offset();
        let last = base + (k / partition_count + 1) * generation.batch - 1;
        assert_eq!(ack, &[partition, last], "{ctx}: ack line {k}");
    }
    let io_mode = topic.io_mode;
    let manager = TopicManager::open(topic.data_dir, topic_manager_config(io_mode))
        .unwrap_or_else(|e| panic!("{ctx}: reopening the data directory failed: {e}"));
    assert!(
        io_mode_allows(io_mode, manager.io_path()),
        "{ctx}: asked for io {} but the topics run on {}",
        io_mode.name(),
        manager.io_path()
    );
    for (partition, model) in (0..).zip(models.iter_mut()) {
        let ctx = format!("{ctx}, partition {partition}");
        let log = manager
            .partition(TOPIC, partition as u32)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let check = PartitionCheck {
            generation,
            partition_count,
            partition,
            acked_here: calls_to(acked, partition, partition_count),
            unacked_here: u64::from(
                acked < generation.call_count() && acked % partition_count == partition,
            ),
            ctx: &ctx,
        };
        check.run(&log, model, rng, stats, |records| {
            let results = manager
                .produce(TOPIC, Some(partition as u32), records)
                .unwrap_or_else(|e| panic!("{ctx}: the parent's produce failed: {e}"));
            assert_eq!(results.len(), 1, "{ctx}: one batch per produce call");
            (results[0].base_offset, results[0].last_offset)
        });
    }
    manager
        .close()
        .unwrap_or_else(|e| panic!("{ctx}: closing the topics failed: {e}"));
    stats.count_child(run, acked, generation.batch);
}
