//! The three plots of the report, built from the runs: what each shows is chosen here, how it
//! is drawn is `svg.rs`.

use super::compare::NAIVE_PREFIX;
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

/// Record size of the latency plot (other sizes are in the tables).
const LATENCY_PLOT_BYTES: u64 = 1024;

/// Every plot: (file name, SVG text).
pub fn all(runs: &[Run]) -> Vec<(&'static str, String)> {
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
    ]
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
