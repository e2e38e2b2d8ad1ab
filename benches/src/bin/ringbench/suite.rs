//! `ringbench suite`: every scenario of the Divan suite on ringbench's own timing loops, one
//! [`ScenarioResult`] per case, written as `DIR/ringbench-<io>.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use benches::fixtures::{self, Case, NAIVE_PATH};
use benches::results::{
    CompactionFigures, Latency, RunResult, SCHEMA_VERSION, ScenarioResult, Spread,
};
use benches::scenarios::topic::{
    CountCase, MULTI_TOPIC_PARTITIONS, RECORD_BYTES, SizeCase, ThreadCase,
};
use benches::scenarios::{self, Profile};
use benches::topic_fixtures;
use ringlog::Durability;

use crate::cold_read;
use crate::compaction_contention as contention;
use crate::environment;
use crate::log_scenarios::{self as log, Outcome};
use crate::measure::{Budget, Meter};
use crate::perf;
use crate::topic_read_scenarios as topic_read;
use crate::topic_scenarios as topic;

/// Name of the result file of this build's I/O path.
pub fn result_file_name() -> &'static str {
    if cfg!(feature = "mmap") {
        "ringbench-mmap.json"
    } else {
        "ringbench-uring.json"
    }
}

/// How long a case runs, by kind of scenario and profile.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Throughput: a few regions of many operations.
    Throughput,
    /// Latency: many timed operations, for the tail percentiles.
    Latency,
    /// One operation per expensive untimed setup (compaction, rollover).
    Heavy,
}

fn budget(profile: Profile, kind: Kind) -> Budget {
    let (time_s, min_ops, hard_s) = match (profile, kind) {
        (Profile::Smoke, Kind::Throughput) => (0.02, 1, 2.0),
        (Profile::Smoke, Kind::Latency) => (0.03, 64, 1.0),
        (Profile::Smoke, Kind::Heavy) => (0.02, 1, 3.0),
        (Profile::Quick, Kind::Throughput) => (0.2, 1, 5.0),
        (Profile::Quick, Kind::Latency) => (0.4, 2_000, 1.0),
        (Profile::Quick, Kind::Heavy) => (0.3, 1, 5.0),
        (Profile::Full, Kind::Throughput) => (2.0, 1, 20.0),
        (Profile::Full, Kind::Latency) => (4.0, 20_000, 10.0),
        (Profile::Full, Kind::Heavy) => (4.0, 5, 30.0),
    };
    Budget {
        time: Duration::from_secs_f64(time_s),
        min_ops,
        hard_time: Duration::from_secs_f64(hard_s),
    }
}

/// Who ran a case and under which conditions, before its figures.
#[derive(Clone, Debug)]
struct Spec {
    name: &'static str,
    category: &'static str,
    engine: &'static str,
    io_path: String,
    durability: Option<Durability>,
    params: BTreeMap<String, u64>,
    threads: u32,
}

/// Parameter keys that count threads (the axis of the scaling factor).
const THREAD_KEYS: [&str; 3] = ["producers", "consumers", "threads"];

fn log_spec(name: &'static str, category: &'static str, case: &Case) -> Spec {
    let mut params = BTreeMap::new();
    if case.messages > 0 {
        params.insert("messages".to_string(), case.messages as u64);
    }
    params.insert("size".to_string(), case.size as u64);
    for (label, value) in case.extra.iter().chain(&case.extra2) {
        params.insert((*label).to_string(), *value as u64);
    }
    let threads = THREAD_KEYS
        .iter()
        .find_map(|k| params.get(*k))
        .map_or(1, |&n| n as u32);
    let naive = case.path == NAIVE_PATH;
    Spec {
        name,
        category: if naive { "baseline" } else { category },
        engine: if naive { "naive" } else { "ringlog" },
        io_path: if naive {
            "page cache".to_string()
        } else {
            case.path.to_string()
        },
        durability: case.durability,
        params,
        threads,
    }
}

fn latency_of(meter: &Meter) -> Option<Latency> {
    Latency::from_histogram_ns(&meter.hist)
}

fn finish(spec: Spec, meter: &Meter, compaction: Option<CompactionFigures>) -> ScenarioResult {
    let secs = meter.elapsed.as_secs_f64().max(1e-9);
    ScenarioResult {
        name: spec.name.to_string(),
        category: spec.category.to_string(),
        engine: spec.engine.to_string(),
        io_path: spec.io_path,
        durability: spec.durability.map(|d| d.name().to_string()),
        params: spec.params,
        threads: spec.threads,
        operations: meter.ops,
        messages: meter.messages,
        payload_bytes: meter.payload_bytes,
        disk_bytes: meter.disk_bytes,
        elapsed_s: secs,
        payload_mb_s: meter.payload_bytes as f64 / 1e6 / secs,
        disk_mb_s: meter.disk_bytes.map(|b| b as f64 / 1e6 / secs),
        messages_per_s: meter.messages as f64 / secs,
        latency: latency_of(meter),
        cpu_us_per_op: meter.cpu_us_per_op(),
        allocations_per_op: meter.allocations_per_op(),
        scaling: None,
        compaction,
        disk_write_bytes: None,
        timeline: None,
        spread: Spread::of(&meter.passes),
    }
}

/// One progress line per case: name, parameters and the headline figures.
fn progress_line(r: &ScenarioResult) -> String {
    use std::fmt::Write as _;
    let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut line = format!(
        "{} [{}{}] {} ops in {:.2} s: {:.1} MB/s, {:.0} msg/s",
        r.name,
        r.durability
            .as_deref()
            .map_or_else(String::new, |d| format!("{d} ")),
        params.join(" "),
        r.operations,
        r.elapsed_s,
        r.payload_mb_s,
        r.messages_per_s
    );
    if let Some(l) = r.latency {
        let _ = write!(
            line,
            ", p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            l.p50_us, l.p99_us, l.max_us
        );
    }
    if let Some(c) = r.cpu_us_per_op {
        let _ = write!(line, ", cpu {c:.2} us/op");
    }
    if let Some(a) = r.allocations_per_op {
        let _ = write!(line, ", {a:.2} allocs/op");
    }
    if let Some(c) = r.compaction {
        let _ = write!(
            line,
            ", compaction {:.1} -> {:.1} MB in {:.1} ms",
            c.mb_before,
            c.mb_after,
            c.duration_s * 1e3
        );
    }
    line
}

/// One partition-log scenario: its name, category, ringbench's grid, runner and kind.
struct LogScenario {
    name: &'static str,
    category: &'static str,
    grid: fn(Profile) -> Vec<Case>,
    run: fn(&Case, Budget) -> Outcome,
    kind: Kind,
}

/// Every partition-log scenario, in the order run.
const LOG_SCENARIOS: [LogScenario; 17] = {
    use scenarios::log as grid;
    [
        LogScenario {
            name: "write_throughput",
            category: "produce",
            grid: grid::write_throughput,
            run: log::write_throughput,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "batch_write_throughput",
            category: "produce",
            grid: grid::batch_write_throughput,
            run: log::batch_write_throughput,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "produce_latency",
            category: "produce",
            grid: grid::produce_latency,
            run: log::produce_latency,
            kind: Kind::Latency,
        },
        LogScenario {
            name: "concurrent_producers",
            category: "concurrency",
            grid: grid::concurrent_producers,
            run: log::concurrent_producers,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "segment_rollover",
            category: "produce",
            grid: grid::segment_rollover,
            run: log::segment_rollover,
            kind: Kind::Heavy,
        },
        LogScenario {
            name: "read_throughput",
            category: "fetch",
            grid: grid::read_throughput,
            run: log::read_throughput,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "sequential_fetch",
            category: "fetch",
            grid: grid::sequential_fetch,
            run: log::sequential_fetch,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "sequential_fetch_cold",
            category: "fetch",
            grid: grid::sequential_fetch_cold,
            run: cold_read::sequential_fetch_cold,
            kind: Kind::Heavy,
        },
        LogScenario {
            name: "random_fetch",
            category: "fetch",
            grid: grid::random_fetch,
            run: log::random_fetch,
            kind: Kind::Latency,
        },
        LogScenario {
            name: "fetch_latency",
            category: "fetch",
            grid: grid::fetch_latency,
            run: log::fetch_latency,
            kind: Kind::Latency,
        },
        LogScenario {
            name: "concurrent_consumers",
            category: "concurrency",
            grid: grid::concurrent_consumers,
            run: log::concurrent_consumers,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "compaction",
            category: "compaction",
            grid: grid::compaction_with_target,
            run: log::compaction,
            kind: Kind::Heavy,
        },
        LogScenario {
            name: "mixed_workload",
            category: "mixed",
            grid: grid::mixed_workload,
            run: log::mixed_workload,
            kind: Kind::Latency,
        },
        LogScenario {
            name: "naive_write_throughput",
            category: "baseline",
            grid: grid::naive_write_throughput,
            run: log::naive_write_throughput,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "naive_produce_latency",
            category: "baseline",
            grid: grid::naive_produce_latency,
            run: log::naive_produce_latency,
            kind: Kind::Latency,
        },
        LogScenario {
            name: "naive_read_throughput",
            category: "baseline",
            grid: grid::naive_read_throughput,
            run: log::naive_read_throughput,
            kind: Kind::Throughput,
        },
        LogScenario {
            name: "naive_random_fetch",
            category: "baseline",
            grid: grid::naive_random_fetch,
            run: log::naive_random_fetch,
            kind: Kind::Latency,
        },
    ]
};

/// A topic scenario's spec: category "topic", the engine's I/O path, `threads` from a
/// thread-count parameter (else 1). `durability` is the topic's for produce and compaction
/// cases, `None` for reads.
fn topic_spec(name: &'static str, durability: Option<Durability>, params: &[(&str, u64)]) -> Spec {
    let params: BTreeMap<String, u64> = params.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    let threads = THREAD_KEYS
        .iter()
        .find_map(|k| params.get(*k))
        .map_or(1, |&n| n as u32);
    Spec {
        name,
        category: "topic",
        engine: "ringlog",
        io_path: topic_fixtures::io_path().to_string(),
        durability,
        params,
        threads,
    }
}

fn topic_size_spec(name: &'static str, durability: Option<Durability>, case: &SizeCase) -> Spec {
    topic_spec(
        name,
        durability,
        &[
            ("partitions", u64::from(case.partitions)),
            ("size", case.size as u64),
        ],
    )
}

fn topic_thread_spec(
    name: &'static str,
    durability: Option<Durability>,
    case: &ThreadCase,
) -> Spec {
    topic_spec(
        name,
        durability,
        &[
            ("partitions", u64::from(case.partitions)),
            (case.role, case.threads as u64),
            ("size", RECORD_BYTES as u64),
        ],
    )
}

/// Params of the multi-topic cases: topics of 4 partitions, 1 KiB records.
fn multi_topic_params(case: &CountCase) -> [(&'static str, u64); 3] {
    [
        ("topics", case.count as u64),
        ("partitions", u64::from(MULTI_TOPIC_PARTITIONS)),
        ("size", RECORD_BYTES as u64),
    ]
}

/// Runs the topic-manager scenarios of `profile`, handing each case's result to `report`.
fn run_topic(profile: Profile, only: &Selection, report: &mut impl FnMut(ScenarioResult)) {
    let throughput = budget(profile, Kind::Throughput);
    let none = Some(Durability::None);
    if only.wants("topic_produce_throughput") {
        for case in scenarios::topic::size_cases_with_1kib(profile) {
            let (meter, _) = topic::topic_produce_throughput(&case, throughput);
            report(finish(
                topic_size_spec("topic_produce_throughput", none, &case),
                &meter,
                None,
            ));
        }
    }
    if only.wants("topic_fetch_throughput") {
        for case in scenarios::topic::size_cases(profile) {
            let (meter, _) = topic_read::topic_fetch_throughput(&case, throughput, profile);
            report(finish(
                topic_size_spec("topic_fetch_throughput", None, &case),
                &meter,
                None,
            ));
        }
    }
    let durabilities = [Durability::None, Durability::Sync];
    if only.wants("topic_concurrent_producers") {
        for case in scenarios::topic::thread_cases(profile, "producers", &durabilities) {
            let (meter, _) = topic::topic_concurrent_producers(&case, throughput);
            let spec =
                topic_thread_spec("topic_concurrent_producers", Some(case.durability), &case);
            report(finish(spec, &meter, None));
        }
    }
    // Reads: the grid's durability (none) is that of the untimed fill, so the results say None.
    if only.wants("topic_concurrent_consumers") {
        for case in scenarios::topic::thread_cases(profile, "consumers", &[Durability::None]) {
            let (meter, _) = topic_read::topic_concurrent_consumers(&case, throughput, profile);
            let spec = topic_thread_spec("topic_concurrent_consumers", None, &case);
            report(finish(spec, &meter, None));
        }
    }
    if only.wants("topic_partition_balance") {
        for case in scenarios::topic::balance_cases(profile) {
            let (meter, permille) = topic::topic_partition_balance(&case, throughput);
            let spec = topic_spec(
                "topic_partition_balance",
                none,
                &[
                    ("partitions", case.count as u64),
                    ("size", RECORD_BYTES as u64),
                    ("balance_permille", permille),
                ],
            );
            report(finish(spec, &meter, None));
        }
    }
    if only.wants("topic_multi_topic::produce") {
        for case in scenarios::topic::multi_topic_cases(profile) {
            let (meter, _) = topic::topic_multi_topic_produce(&case, throughput);
            let spec = topic_spec(
                "topic_multi_topic::produce",
                none,
                &multi_topic_params(&case),
            );
            report(finish(spec, &meter, None));
        }
    }
    if only.wants("topic_multi_topic::fetch_many") {
        for case in scenarios::topic::multi_topic_cases(profile) {
            let (meter, _) = topic_read::topic_multi_topic_fetch_many(&case, throughput, profile);
            let spec = topic_spec(
                "topic_multi_topic::fetch_many",
                None,
                &multi_topic_params(&case),
            );
            report(finish(spec, &meter, None));
        }
    }
    if only.wants("topic_compaction") {
        for case in scenarios::topic::compaction_cases(profile) {
            let (meter, figures) = topic::topic_compaction(&case, budget(profile, Kind::Heavy));
            let spec = topic_spec(
                "topic_compaction",
                none,
                &[
                    ("partitions", case.count as u64),
                    ("size", RECORD_BYTES as u64),
                ],
            );
            report(finish(spec, &meter, figures));
        }
    }
}

/// Seconds of the sustained produce case per profile: in the full profile far more data than
/// the read cache and buffer pool hold (about 15 GB at 500 MB/s), so chunk recycling, segment
/// rolls and the disk's own pace all show.
fn sustained_seconds(profile: Profile) -> f64 {
    match profile {
        Profile::Smoke => 0.3,
        Profile::Quick => 3.0,
        Profile::Full => 30.0,
    }
}

/// Segment size of `sustained_produce_retention`: a few dozen rolls per run, so most segments
/// are written over spare files.
fn sustained_segment_bytes(profile: Profile) -> u64 {
    match profile {
        Profile::Smoke => 16 << 20,
        Profile::Quick => 256 << 20,
        Profile::Full => 1 << 30,
    }
}

/// `sustained_produce`: `ringbench produce` for a fixed time (1 KiB records, 100 per produce
/// call, one producer, one partition, durability none), with its payload MB/s every
/// 100 ms in `timeline`, so a stall shows in `throughput_timeline.svg`; a new log, so every
/// segment is a new file. Then `sustained_produce_retention`: the same under retention (two
/// segments kept), the steady state of a broker's partition, where rolls write over the
/// files retention deleted (`Config::spare_segments`).
fn run_sustained(profile: Profile, only: &Selection, report: &mut impl FnMut(ScenarioResult)) {
    let segment_bytes = sustained_segment_bytes(profile);
    let retention = perf::RetentionOptions {
        segment_bytes: Some(segment_bytes),
        retention_bytes: Some(2 * segment_bytes),
        spare_segments: None,
    };
    for (name, retention) in [
        ("sustained_produce", perf::RetentionOptions::default()),
        ("sustained_produce_retention", retention),
    ] {
        if !only.wants(name) {
            continue;
        }
        run_sustained_case(profile, name, retention, report);
    }
}

fn run_sustained_case(
    profile: Profile,
    name: &str,
    retention: perf::RetentionOptions,
    report: &mut impl FnMut(ScenarioResult),
) {
    let shape = ProduceShape {
        durability: Durability::None,
        batch: 100,
        producers: 1,
        in_flight: 1,
        seconds: sustained_seconds(profile),
    };
    run_produce_case(name, &shape, retention, report);
}

/// One `ringbench produce` run of the suite: 1 KiB records to one partition of a new topic.
struct ProduceShape {
    durability: Durability,
    /// Records per produce call.
    batch: usize,
    producers: usize,
    /// Produce calls in flight per producer.
    in_flight: usize,
    seconds: f64,
}

fn run_produce_case(
    name: &str,
    shape: &ProduceShape,
    retention: perf::RetentionOptions,
    report: &mut impl FnMut(ScenarioResult),
) {
    let dir = benches::bench_dir();
    let options = perf::ProduceOptions {
        bootstrap: None,
        dir: dir.path().to_path_buf(),
        topic: name.to_string(),
        size: RECORD_BYTES,
        count: u64::MAX,
        duration: Some(Duration::from_secs_f64(shape.seconds)),
        batch: shape.batch,
        partitions: 1,
        producers: shape.producers,
        in_flight: shape.in_flight,
        durability: shape.durability,
        target_rate: None,
        out: None,
        retention,
    };
    let produced = perf::produce_run(&options)
        .unwrap_or_else(|e| panic!("{name} in {}: {e}", dir.path().display()));
    report(perf::produce_result(name, &options, &produced));
}

/// Seconds of each pipelined and durable-single-record case per profile.
fn pipelined_seconds(profile: Profile) -> f64 {
    match profile {
        Profile::Smoke => 0.2,
        Profile::Quick => 2.0,
        Profile::Full => 6.0,
    }
}

/// The durable write path as the issue 13 goals read it, each a `ringbench produce` run in a
/// new log: `pipelined_produce`, 1 KiB records, 100 per call, one producer keeping 8 calls in
/// flight (`--in-flight 8`), under `write` and `sync` (set against the disk's write at depth 8
/// and its write + fdatasync); `durable_single_records`, single records under `sync` from 1 and
/// 16 producers (its scaling column: how many appends one fdatasync covers, over 16).
fn run_pipelined(profile: Profile, only: &Selection, report: &mut impl FnMut(ScenarioResult)) {
    let seconds = pipelined_seconds(profile);
    let shapes = [
        ("pipelined_produce", Durability::Write, 100, 1, 8),
        ("pipelined_produce", Durability::Sync, 100, 1, 8),
        ("durable_single_records", Durability::Sync, 1, 1, 1),
        ("durable_single_records", Durability::Sync, 1, 16, 1),
    ];
    for (name, durability, batch, producers, in_flight) in shapes {
        if !only.wants(name) {
            continue;
        }
        let shape = ProduceShape {
            durability,
            batch,
            producers,
            in_flight,
            seconds,
        };
        run_produce_case(name, &shape, perf::RetentionOptions::default(), report);
    }
}

/// Name of the scenario that sets the wire protocol against the engine in process.
pub const WIRE: &str = "wire_protocol";

/// `wire_protocol`: the same produce (1 KiB records, 100 per call, 8 calls in flight, one
/// producer, `write` durability, a new topic of one partition) run in this process and then
/// through a `ringlog-server` started in this process on loopback (acks -1), then each topic
/// consumed from its start the same way (one consumer, 1 MiB fetches). Each result has the
/// param `wire` (0 in process, 1 through the server); the report sets them side by side.
fn run_wire(profile: Profile, only: &Selection, report: &mut impl FnMut(ScenarioResult)) {
    if !only.wants(WIRE) {
        return;
    }
    let seconds = pipelined_seconds(profile);
    let in_process = benches::bench_dir();
    let server_dir = benches::bench_dir();
    let server = crate::wire::InProcessServer::start(server_dir.path().join("data"))
        .unwrap_or_else(|e| panic!("{WIRE}: starting ringlog-server: {e}"));
    for (wire, bootstrap, dir) in [
        (0, None, in_process.path()),
        (1, Some(server.addr), server_dir.path()),
    ] {
        let options = perf::ProduceOptions {
            bootstrap,
            dir: dir.to_path_buf(),
            topic: WIRE.to_string(),
            size: RECORD_BYTES,
            count: u64::MAX,
            duration: Some(Duration::from_secs_f64(seconds)),
            batch: 100,
            partitions: 1,
            producers: 1,
            in_flight: 8,
            durability: Durability::Write,
            target_rate: None,
            out: None,
            retention: perf::RetentionOptions::default(),
        };
        let produced =
            perf::produce_run(&options).unwrap_or_else(|e| panic!("{WIRE} produce: {e}"));
        let mut result = perf::produce_result(WIRE, &options, &produced);
        result.params.insert("wire".to_string(), wire);
        report(result);
        let consume = perf::ConsumeOptions {
            bootstrap,
            dir: dir.to_path_buf(),
            topic: WIRE.to_string(),
            partitions: 1,
            consumers: 1,
            fetch_bytes: 1 << 20,
            target_rate: None,
            read_ahead_depth: None,
        };
        let consumed = match bootstrap {
            Some(addr) => crate::wire::consume_run(&consume, addr),
            None => perf::consume_in_process(&consume),
        }
        .unwrap_or_else(|e| panic!("{WIRE} consume: {e}"));
        let mut result = perf::consume_result(WIRE, &consume, &consumed);
        result.params.insert("wire".to_string(), wire);
        result.durability = Some(Durability::Write.name().to_string());
        report(result);
    }
    drop(server);
}

/// `produce_during_compaction` (see `compaction_contention`): the producer's p99 alone and
/// during a compaction of its partition, uncapped and capped; category "compaction".
fn run_contention(profile: Profile, only: &Selection, report: &mut impl FnMut(ScenarioResult)) {
    if !only.wants(contention::NAME) {
        return;
    }
    contention::run(profile, |measured| {
        let mut spec = topic_spec(contention::NAME, Some(Durability::Sync), &measured.params);
        spec.category = "compaction";
        report(finish(spec, &measured.meter, measured.compaction));
    });
}

/// Which scenarios a run measures: all of them, or those named (`ringbench suite --only`).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    names: Option<Vec<String>>,
}

impl Selection {
    /// Every scenario.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// Only the scenarios named in `names` (as in the results: `compaction`,
    /// `topic_multi_topic::produce`; a name before `::` selects all of its parts).
    ///
    /// # Errors
    /// A name that is no scenario of the suite, with the list of those that are.
    pub fn only(names: &[String]) -> Result<Selection, String> {
        let known = scenario_names();
        for name in names {
            if !known.iter().any(|k| selects(name, k)) {
                return Err(format!(
                    "no scenario named {name:?}; the suite has: {}",
                    known.join(", ")
                ));
            }
        }
        Ok(Selection {
            names: Some(names.to_vec()),
        })
    }

    /// Whether the scenario `name` runs.
    pub fn wants(&self, name: &str) -> bool {
        self.names
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| selects(n, name)))
    }
}

/// Whether the asked-for `name` selects the scenario `scenario`.
fn selects(name: &str, scenario: &str) -> bool {
    name == scenario || scenario.split("::").next() == Some(name)
}

/// The name of every scenario the suite runs, in its order.
pub fn scenario_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = LOG_SCENARIOS.iter().map(|s| s.name).collect();
    names.extend([
        "topic_produce_throughput",
        "topic_fetch_throughput",
        "topic_concurrent_producers",
        "topic_concurrent_consumers",
        "topic_partition_balance",
        "topic_multi_topic::produce",
        "topic_multi_topic::fetch_many",
        "topic_compaction",
        "sustained_produce",
        "sustained_produce_retention",
        "pipelined_produce",
        "durable_single_records",
        contention::NAME,
        WIRE,
    ]);
    names
}

/// Runs the scenarios of `profile` that `only` selects; prints one line per case to stderr.
pub fn run_all(profile: Profile, only: &Selection) -> Vec<ScenarioResult> {
    let mut out = Vec::new();
    let mut report = |r: ScenarioResult| {
        eprintln!("{}", progress_line(&r));
        out.push(r);
    };
    for scenario in LOG_SCENARIOS.iter().filter(|s| only.wants(s.name)) {
        for case in (scenario.grid)(profile) {
            let (meter, compaction) = (scenario.run)(&case, budget(profile, scenario.kind));
            let spec = log_spec(scenario.name, scenario.category, &case);
            report(finish(spec, &meter, compaction));
        }
        // The read scenarios keep their last filled log; delete it between scenarios.
        fixtures::release();
    }
    run_topic(profile, only, &mut report);
    run_sustained(profile, only, &mut report);
    run_pipelined(profile, only, &mut report);
    run_contention(profile, only, &mut report);
    run_wire(profile, only, &mut report);
    fill_scaling(&mut out);
    out
}

/// The key of a case without its thread count: cases that differ only in threads share it.
fn scaling_key(r: &ScenarioResult) -> (String, String, Option<String>, Vec<(String, u64)>) {
    let params = r
        .params
        .iter()
        .filter(|(k, _)| !THREAD_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    (
        r.name.clone(),
        r.engine.clone(),
        r.durability.clone(),
        params,
    )
}

/// Fills `scaling` of every case that has a thread-count parameter: throughput at N threads /
/// (N x throughput of the 1-thread case of the same scenario and other parameters). Records
/// per second is the throughput (payload and records scale alike). Cases without a 1-thread
/// sibling keep `None`.
pub fn fill_scaling(results: &mut [ScenarioResult]) {
    let single: Vec<_> = results
        .iter()
        .filter(|r| r.threads == 1 && r.params.keys().any(|k| THREAD_KEYS.contains(&k.as_str())))
        .map(|r| (scaling_key(r), r.messages_per_s))
        .collect();
    for r in results.iter_mut() {
        if !r.params.keys().any(|k| THREAD_KEYS.contains(&k.as_str())) {
            continue;
        }
        let key = scaling_key(r);
        if let Some((_, one)) = single.iter().find(|(k, _)| *k == key)
            && *one > 0.0
        {
            r.scaling = Some(r.messages_per_s / (f64::from(r.threads) * one));
        }
    }
}

/// Runs the suite and writes `out/ringbench-<io>.json`; returns its path.
///
/// # Errors
/// A message saying what could not be written.
pub fn run(profile: Profile, only: &Selection, out: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let started = Instant::now();
    let environment = environment::gather(profile);
    eprintln!(
        "ringbench suite: profile {}, I/O path {}, data in {} on {} ({}); allocations are \
         counted per measuring thread (CountingAllocator), CPU time from /proc/self/stat at \
         CLK_TCK=100",
        profile.name(),
        environment.io_path,
        environment.data_dir,
        environment.filesystem,
        environment.device.as_deref().unwrap_or("device unknown"),
    );
    let scenarios = run_all(profile, only);
    let result = RunResult {
        schema: SCHEMA_VERSION,
        environment,
        scenarios,
        peers: None,
        disk: None,
    };
    let path = out.join(result_file_name());
    result
        .save(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "ringbench suite: {} cases in {:.1} s",
        result.scenarios.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, threads: u32, messages_per_s: f64) -> ScenarioResult {
        ScenarioResult {
            name: name.to_string(),
            category: "concurrency".to_string(),
            engine: "ringlog".to_string(),
            io_path: "io_uring+O_DIRECT".to_string(),
            durability: Some("sync".to_string()),
            params: BTreeMap::from([
                ("size".to_string(), 1024),
                ("producers".to_string(), u64::from(threads)),
            ]),
            threads,
            operations: 1,
            messages: 1,
            payload_bytes: 1,
            disk_bytes: None,
            elapsed_s: 1.0,
            payload_mb_s: 1.0,
            disk_mb_s: None,
            messages_per_s,
            latency: None,
            cpu_us_per_op: None,
            allocations_per_op: None,
            scaling: None,
            compaction: None,
            disk_write_bytes: None,
            timeline: None,
            spread: None,
        }
    }

    #[test]
    fn a_selection_runs_what_it_names_and_refuses_unknown_names() {
        let all = Selection::all();
        assert!(scenario_names().iter().all(|name| all.wants(name)));
        let some = Selection::only(&["compaction".to_string(), "topic_multi_topic".to_string()])
            .expect("known names");
        let chosen: Vec<&str> = scenario_names()
            .into_iter()
            .filter(|name| some.wants(name))
            .collect();
        assert_eq!(
            chosen,
            vec![
                "compaction",
                "topic_multi_topic::produce",
                "topic_multi_topic::fetch_many"
            ]
        );
        let error = Selection::only(&["compactoin".to_string()]).unwrap_err();
        assert!(error.contains("\"compactoin\"") && error.contains("produce_during_compaction"));
        let mut names = scenario_names();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "every scenario name once");
    }

    #[test]
    fn scaling_is_throughput_over_n_times_single_thread() {
        let mut results = vec![
            case("concurrent_producers", 1, 1000.0),
            case("concurrent_producers", 2, 1500.0),
            case("concurrent_producers", 4, 2800.0),
        ];
        fill_scaling(&mut results);
        let scaling: Vec<f64> = results.iter().map(|r| r.scaling.unwrap()).collect();
        assert_eq!(scaling, vec![1.0, 0.75, 0.7]);
    }

    #[test]
    fn scaling_needs_a_single_thread_case_with_the_same_parameters() {
        let mut other = case("concurrent_producers", 1, 1000.0);
        other.durability = Some("none".to_string());
        let mut results = vec![other, case("concurrent_producers", 4, 2800.0)];
        fill_scaling(&mut results);
        assert_eq!(results[1].scaling, None);
    }
}
