//! The plots of the report, built from the runs (and the disk's figures of `disk.json`): what
//! each shows is chosen here, how it is drawn is `svg.rs`.

use super::compare::NAIVE_PREFIX;
use super::disk::DiskFigures;
use super::fmt::{bytes, durability};
use super::inputs::Run;
use super::svg::{self, BarChart, BarGroup, LineChart, Series};
use crate::results::ScenarioResult;

/// File names of the plots, as linked from the summary.
pub const THROUGHPUT_BY_SIZE: &str = "throughput_by_size.svg";
/// Latency percentiles plot.
pub const LATENCY_PERCENTILES: &str = "latency_percentiles.svg";
/// Scaling plot.
pub const SCALING: &str = "scaling.svg";
/// HDR latency distribution plot.
pub const LATENCY_DISTRIBUTION: &str = "latency_distribution.svg";
/// Throughput over time plot.
pub const THROUGHPUT_TIMELINE: &str = "throughput_timeline.svg";

/// Request size of the disk's write + fdatasync curves in the distribution plot: one small
/// durable append.
const DISK_SYNC_PLOT_BYTES: u64 = 4 * 1024;
/// Percentiles marked on the distribution plot's x axis.
const DISTRIBUTION_TICKS: [(f64, &str); 5] = [
    (0.5, "p50"),
    (0.9, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (0.9999, "p99.99"),
];

/// Record size of the latency plot (other sizes are in the tables).
const LATENCY_PLOT_BYTES: u64 = 1024;

/// Every plot: (file name, SVG text).
pub fn all(runs: &[Run], disk: Option<&DiskFigures>) -> Vec<(&'static str, String)> {
    vec![
        (
            THROUGHPUT_BY_SIZE,
            svg::line_chart(&throughput_by_size(runs)),
        ),
        (
            LATENCY_PERCENTILES,
            svg::bar_chart(&latency_percentiles(runs)),
        ),
        (SCALING, svg::line_chart(&scaling(runs))),
        (
            LATENCY_DISTRIBUTION,
            svg::line_chart(&latency_distribution(runs, disk)),
        ),
        (
            THROUGHPUT_TIMELINE,
            svg::line_chart(&throughput_timeline(runs, disk)),
        ),
    ]
}

/// Position of quantile `q` on the distribution plot's x axis: 1/(1-q), so p50 is 2, p99 100
/// and p99.99 10 000, and each added nine takes the same width on a log axis.
pub fn percentile_x(q: f64) -> f64 {
    1.0 / (1.0 - q).max(1e-9)
}

/// The latency cases of the latency plots: the timed cases whose name says latency, and the
/// sustained runs; at 1 KiB when any is (other sizes are in the tables).
fn latency_cases(run: &Run, at_size: bool) -> impl Iterator<Item = &ScenarioResult> {
    run.result.scenarios.iter().filter(move |s| {
        s.latency.is_some()
            && (s.name.contains("latency") || s.name.starts_with("sustained"))
            && (!at_size || s.params.get("size") == Some(&LATENCY_PLOT_BYTES))
    })
}

/// HDR percentile distribution: latency from p50 to p99.99 against 1/(1-p) on a log axis,
/// one curve per latency case of each path, and the disk's own 4 KiB write + fdatasync
/// (dashed) as the floor under a durable append.
pub fn latency_distribution(runs: &[Run], disk: Option<&DiskFigures>) -> LineChart {
    let at_size = runs.iter().any(|r| latency_cases(r, true).next().is_some());
    let mut series = Vec::new();
    for run in runs {
        for s in latency_cases(run, at_size) {
            let points: Vec<(f64, f64)> = s
                .latency
                .expect("filtered on latency")
                .distribution()
                .into_iter()
                .map(|(q, us)| (percentile_x(q), us))
                .collect();
            let size = s.params.get("size").map_or(String::new(), |&b| bytes(b));
            series.push(Series {
                label: format!(
                    "{} {} {size} ({})",
                    run.display(),
                    s.name,
                    durability(s.durability.as_deref())
                ),
                points,
                colour: series.len(),
                dashed: s.engine != "ringlog",
            });
        }
    }
    for (case, s) in disk.map_or(&[][..], |d| d.cases.as_slice()) {
        if case.op != crate::disk::Op::WriteFdatasync || case.request_bytes != DISK_SYNC_PLOT_BYTES
        {
            continue;
        }
        let Some(latency) = s.latency else { continue };
        series.push(Series {
            label: format!("disk {}", case.label()),
            points: latency
                .distribution()
                .into_iter()
                .map(|(q, us)| (percentile_x(q), us))
                .collect(),
            colour: series.len(),
            dashed: true,
        });
    }
    LineChart {
        title: "Latency distribution (HDR percentiles)".to_string(),
        x_label: "percentile (log scale of 1/(1-p))".to_string(),
        y_label: "microseconds (log scale)".to_string(),
        x_log: true,
        y_log: true,
        x_ticks: DISTRIBUTION_TICKS
            .iter()
            .map(|&(q, label)| (percentile_x(q), label.to_string()))
            .collect(),
        series,
    }
}

/// MB/s against seconds since the start, interval by interval, of every case that recorded
/// a timeline (the sustained produce runs), with the disk's sequential write at the engine's
/// chunk size and depth (dashed) as the line the engine should run along.
pub fn throughput_timeline(runs: &[Run], disk: Option<&DiskFigures>) -> LineChart {
    let mut series = Vec::new();
    let points = |t: &crate::results::Timeline| -> Vec<(f64, f64)> {
        let step = t.interval_ms as f64 / 1e3;
        t.mb_s
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i as f64 + 0.5) * step, v))
            .collect()
    };
    for run in runs {
        for s in &run.result.scenarios {
            let Some(timeline) = &s.timeline else {
                continue;
            };
            series.push(Series {
                label: format!(
                    "{} {} {} ({})",
                    run.display(),
                    s.name,
                    family_params(s),
                    durability(s.durability.as_deref())
                ),
                points: points(timeline),
                colour: series.len(),
                dashed: false,
            });
        }
    }
    if let Some(d) = disk {
        let engine_write = crate::disk::DiskCase {
            op: crate::disk::Op::Write,
            space: Some(crate::disk::ENGINE_SPACE),
            request_bytes: d.engine.0,
            queue_depth: d.engine.1,
        };
        if let Some(timeline) = d.get(&engine_write).and_then(|s| s.timeline.as_ref()) {
            series.push(Series {
                label: format!("disk {}", engine_write.label()),
                points: points(timeline),
                colour: series.len(),
                dashed: true,
            });
        }
    }
    LineChart {
        title: "Throughput over time, every 100 ms".to_string(),
        x_label: "seconds since the start of the run".to_string(),
        y_label: "MB/s (payload; the disk: request bytes)".to_string(),
        x_log: false,
        y_log: false,
        x_ticks: Vec::new(),
        series,
    }
}

/// Payload MB/s against record size: single-record and batched writes on each path, and the
/// naive baseline (of the first run that has it); for each size the case with the most
/// messages (or the largest batch), which is the one that reaches the disk.
pub fn throughput_by_size(runs: &[Run]) -> LineChart {
    let mut series = Vec::new();
    let mut sizes = Vec::new();
    for run in runs {
        for name in ["write_throughput", "batch_write_throughput"] {
            let points = by_size(&run.result.scenarios, name);
            if !points.is_empty() {
                series.push(Series {
                    label: format!("{} {name} (none)", run.display()),
                    points,
                    colour: series.len(),
                    dashed: false,
                });
            }
        }
    }
    let naive = format!("{NAIVE_PREFIX}write_throughput");
    if let Some(points) = runs
        .iter()
        .map(|run| by_size(&run.result.scenarios, &naive))
        .find(|points| !points.is_empty())
    {
        series.push(Series {
            label: "naive write+page cache (none)".to_string(),
            points,
            colour: series.len(),
            dashed: false,
        });
    }
    for s in &series {
        for p in &s.points {
            if !sizes.contains(&(p.0 as u64)) {
                sizes.push(p.0 as u64);
            }
        }
    }
    sizes.sort_unstable();
    LineChart {
        title: "Write throughput by record size (durability none)".to_string(),
        x_label: "record size (payload bytes, log scale)".to_string(),
        y_label: "payload MB/s".to_string(),
        x_log: true,
        y_log: false,
        x_ticks: sizes.iter().map(|&s| (s as f64, bytes(s))).collect(),
        series,
    }
}

/// (size, MB/s) of scenario `name`, durability none, the largest other parameters per size.
fn by_size(scenarios: &[ScenarioResult], name: &str) -> Vec<(f64, f64)> {
    let mut best: Vec<(u64, &ScenarioResult)> = Vec::new();
    for s in scenarios.iter().filter(|s| s.name == name) {
        if s.durability.as_deref().is_some_and(|d| d != "none") {
            continue;
        }
        let Some(&size) = s.params.get("size") else {
            continue;
        };
        match best.iter_mut().find(|(known, _)| *known == size) {
            Some(entry) => {
                if s.params.values().cmp(entry.1.params.values()).is_gt() {
                    entry.1 = s;
                }
            }
            None => best.push((size, s)),
        }
    }
    best.sort_by_key(|(size, _)| *size);
    best.iter()
        .map(|(size, s)| (*size as f64, s.payload_mb_s))
        .collect()
}

/// p50, p99 and p99.9 of every latency case at 1 KiB (all sizes when no 1 KiB case), per path;
/// logarithmic, since synced appends are milliseconds and cached fetches microseconds.
pub fn latency_percentiles(runs: &[Run]) -> BarChart {
    let timed = |s: &&ScenarioResult| s.latency.is_some() && s.name.contains("latency");
    let any_at_size = runs.iter().any(|r| {
        r.result
            .scenarios
            .iter()
            .filter(timed)
            .any(|s| s.params.get("size") == Some(&LATENCY_PLOT_BYTES))
    });
    let mut groups = Vec::new();
    for run in runs {
        for s in run.result.scenarios.iter().filter(timed) {
            if any_at_size && s.params.get("size") != Some(&LATENCY_PLOT_BYTES) {
                continue;
            }
            let latency = s.latency.expect("filtered on latency");
            let size = s.params.get("size").map_or(String::new(), |&b| bytes(b));
            groups.push(BarGroup {
                label: format!(
                    "{} {} {size} {}",
                    run.display(),
                    s.name,
                    durability(s.durability.as_deref())
                ),
                values: vec![
                    Some(latency.p50_us),
                    Some(latency.p99_us),
                    Some(latency.p999_us),
                ],
            });
        }
    }
    BarChart {
        title: "Latency percentiles per operation".to_string(),
        y_label: "microseconds (log scale)".to_string(),
        y_log: true,
        bars: vec!["p50".to_string(), "p99".to_string(), "p99.9".to_string()],
        groups,
    }
}

/// Throughput relative to one thread against threads, for every concurrent scenario and path,
/// with the linear line (N threads doing N times the work).
pub fn scaling(runs: &[Run]) -> LineChart {
    let mut series = Vec::new();
    let mut max_threads = 1u32;
    for run in runs {
        let concurrent: Vec<&ScenarioResult> = run
            .result
            .scenarios
            .iter()
            .filter(|s| s.name.contains("concurrent"))
            .collect();
        let mut families: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for s in &concurrent {
            let Some(single) = concurrent
                .iter()
                .find(|o| same_family(o, s) && o.threads == 1 && o.payload_mb_s > 0.0)
            else {
                continue;
            };
            max_threads = max_threads.max(s.threads);
            let label = format!(
                "{} {} {} ({})",
                run.display(),
                s.name,
                family_params(s),
                durability(s.durability.as_deref())
            );
            let point = (f64::from(s.threads), s.payload_mb_s / single.payload_mb_s);
            match families.iter_mut().find(|(l, _)| *l == label) {
                Some((_, points)) => points.push(point),
                None => families.push((label, vec![point])),
            }
        }
        for (label, mut points) in families {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            series.push(Series {
                label,
                points,
                colour: series.len(),
                dashed: false,
            });
        }
    }
    if !series.is_empty() {
        let linear = f64::from(max_threads);
        series.push(Series {
            label: "linear".to_string(),
            points: vec![(1.0, 1.0), (linear, linear)],
            colour: 7,
            dashed: true,
        });
    }
    let mut ticks = vec![1u32];
    while ticks[ticks.len() - 1] < max_threads {
        ticks.push(ticks[ticks.len() - 1] * 2);
    }
    LineChart {
        title: "Scaling: throughput relative to one thread".to_string(),
        x_label: "threads (producers or consumers)".to_string(),
        y_label: "throughput / throughput at 1 thread".to_string(),
        x_log: false,
        y_log: false,
        x_ticks: ticks
            .iter()
            .map(|&t| (f64::from(t), t.to_string()))
            .collect(),
        series,
    }
}

/// The parameters that are not the thread count.
fn family_params(s: &ScenarioResult) -> String {
    s.params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "producers" | "consumers" | "threads"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_family(a: &ScenarioResult, b: &ScenarioResult) -> bool {
    a.name == b.name
        && a.engine == b.engine
        && a.durability == b.durability
        && family_params(a) == family_params(b)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::results::{Latency, RunResult, Timeline};

    /// The io_uring run of `scenarios`.
    pub(crate) fn run(scenarios: Vec<ScenarioResult>) -> Run {
        let environment = crate::results::tests::environment();
        Run {
            file: "ringbench-uring.json".to_string(),
            label: "uring".to_string(),
            result: RunResult {
                schema: crate::results::SCHEMA_VERSION,
                environment,
                scenarios,
                peers: None,
                disk: None,
            },
        }
    }

    #[test]
    fn percentiles_sit_a_decade_apart_per_nine() {
        assert!((percentile_x(0.5) - 2.0).abs() < 1e-9);
        assert!((percentile_x(0.99) - 100.0).abs() < 1e-6);
        assert!((percentile_x(0.9999) - 10_000.0).abs() < 1e-3);
    }

    #[test]
    fn the_distribution_has_one_curve_per_latency_case_from_p50_to_p9999() {
        let latency = Latency {
            p50_us: 10.0,
            p90_us: 20.0,
            p99_us: 40.0,
            p999_us: 80.0,
            max_us: 500.0,
            mean_us: 12.0,
            p75_us: Some(15.0),
            p95_us: Some(30.0),
            p995_us: Some(50.0),
            p9999_us: Some(160.0),
        };
        let case = ScenarioResult {
            name: "produce_latency".to_string(),
            durability: Some("sync".to_string()),
            params: [("size".to_string(), 1024)].into_iter().collect(),
            latency: Some(latency),
            ..crate::results::tests::scenario()
        };
        let throughput = ScenarioResult {
            latency: Some(latency),
            ..crate::results::tests::scenario()
        };
        let chart = latency_distribution(&[run(vec![case, throughput])], None);
        assert_eq!(chart.series.len(), 1, "only cases named for latency");
        let s = &chart.series[0];
        assert_eq!(s.label, "io_uring produce_latency 1 KiB (sync)");
        assert_eq!(s.points.len(), 8);
        assert!((s.points[0].0 - 2.0).abs() < 1e-9 && (s.points[0].1 - 10.0).abs() < 1e-9);
        assert!((s.points[7].1 - 160.0).abs() < 1e-9);
        assert!(chart.x_log && chart.y_log);
        assert_eq!(chart.x_ticks.len(), 5);
    }

    #[test]
    fn a_stall_in_a_timeline_is_a_point_at_zero_at_its_time() {
        let sustained = ScenarioResult {
            name: "sustained_produce".to_string(),
            params: [("size".to_string(), 1024), ("batch".to_string(), 100)]
                .into_iter()
                .collect(),
            timeline: Some(Timeline {
                interval_ms: 100,
                mb_s: vec![500.0, 480.0, 0.0, 0.0, 510.0],
            }),
            ..crate::results::tests::scenario()
        };
        let chart = throughput_timeline(&[run(vec![sustained])], None);
        assert_eq!(chart.series.len(), 1);
        let points = &chart.series[0].points;
        assert_eq!(points.len(), 5);
        assert!((points[2].0 - 0.25).abs() < 1e-9 && points[2].1 == 0.0);
        assert_eq!(
            chart.series[0].label,
            "io_uring sustained_produce batch=100 size=1024 (none)"
        );
        let svg = svg::line_chart(&chart);
        assert!(svg.contains("<polyline") && !svg.contains("NaN"));
    }
}
