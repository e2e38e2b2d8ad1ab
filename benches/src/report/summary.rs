//! `summary.md`: the Markdown report, section by section. Every figure printed here comes
//! with its scenario's durability mode.

use std::fmt::{Result, Write};

use super::compare::{self, Comparison};
use super::disk::{CompactionFloor, DiskFigures, io_direction};
use super::fio::FioReport;
use super::fmt::{ABSENT, cell, durability, num, opt, params, ratio};
use super::inputs::{DISK_FILE, FIO_FILE, Inputs, Run};
use super::peers::{PEERS_FILE, PEERS_PLOT};
use super::plots;
use super::targets::{self, Outcome, Target};
use crate::results::ScenarioResult;

/// Scenario categories, in the order of their tables; others follow by name.
pub const CATEGORIES: [&str; 7] = [
    "produce",
    "fetch",
    "concurrency",
    "compaction",
    "topic",
    "mixed",
    "baseline",
];

/// Scenarios listed under Bottlenecks, per I/O path.
const BOTTLENECKS_PER_PATH: usize = 5;

/// Renders the whole summary.
pub fn render(inputs: &Inputs) -> String {
    let mut out = String::new();
    let outcomes: Vec<Vec<Outcome>> = inputs
        .runs
        .iter()
        .map(|run| targets::evaluate(&run.result.scenarios))
        .collect();
    write_all(&mut out, inputs, &outcomes).expect("writing to a String cannot fail");
    out
}

fn write_all(out: &mut String, inputs: &Inputs, outcomes: &[Vec<Outcome>]) -> Result {
    let runs = &inputs.runs;
    let disk = inputs.disk_figures();
    title(out, runs)?;
    executive(out, runs, outcomes, disk)?;
    environment(out, runs)?;
    categories(out, runs, disk)?;
    comparisons(out, runs)?;
    peers_section(out, inputs)?;
    let fio = match &inputs.fio {
        Some(Ok(report)) => Some(report),
        _ => None,
    };
    super::disk_limit::section(out, runs, inputs)?;
    bottlenecks(out, runs, fio, disk)?;
    target_table(out, runs, outcomes)?;
    plot_links(out, inputs)?;
    raw_files(out, inputs)
}

/// The Peers section when `peers.json` is there; a line saying why when it cannot be read.
fn peers_section(out: &mut String, inputs: &Inputs) -> Result {
    match &inputs.peers {
        None => Ok(()),
        Some(Ok(result)) => super::peers::section(out, result),
        Some(Err(e)) => writeln!(
            out,
            "## Peers

`{}` could not be read: {}
",
            PEERS_FILE,
            cell(e)
        ),
    }
}

fn title(out: &mut String, runs: &[Run]) -> Result {
    let first = &runs[0].result.environment;
    let mut profiles: Vec<&str> = runs
        .iter()
        .map(|r| r.result.environment.profile.as_str())
        .collect();
    profiles.dedup();
    writeln!(
        out,
        "# ringbench report: {} ({} profile)\n",
        first.started_utc,
        profiles.join(", ")
    )?;
    let paths: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{} (`{}`, started {})",
                r.display(),
                r.file,
                r.result.environment.started_utc
            )
        })
        .collect();
    writeln!(out, "Runs: {}.\n", paths.join("; "))
}

fn reading_text(outcome: &Outcome, run: &Run, disk: Option<&DiskFigures>) -> String {
    match &outcome.reading {
        Some(r) => format!(
            "{} {} ({}) {}{}{}{}",
            num(r.value),
            outcome.target.unit(),
            durability(r.durability.as_deref()),
            outcome.verdict.word(),
            fetch_note(outcome, run),
            disk.map_or(String::new(), |d| disk_note(outcome, run, d)),
            scaling_note(outcome, run)
        ),
        None => outcome.verdict.word().to_string(),
    }
}

/// For the fetch target read cold: the spread of its passes and the warm figure beside it.
fn fetch_note(outcome: &Outcome, run: &Run) -> String {
    if outcome.target != Target::FetchThroughput {
        return String::new();
    }
    let Some(s) = reading_scenario(outcome, run).filter(|s| s.name == "sequential_fetch_cold")
    else {
        return String::new();
    };
    let mut note = String::from(", cold");
    if let Some(spread) = s.spread {
        let _ = write!(
            note,
            " ({} passes: {}-{} MB/s)",
            spread.passes,
            num(spread.min_mb_s),
            num(spread.max_mb_s)
        );
    }
    let warm = run
        .result
        .scenarios
        .iter()
        .filter(|w| w.engine == "ringlog" && w.name == "sequential_fetch")
        .filter(|w| w.params.get("size") == s.params.get("size"))
        .max_by(|a, b| a.payload_mb_s.total_cmp(&b.payload_mb_s));
    if let Some(w) = warm {
        let _ = write!(note, "; warm (engine cache) {} MB/s", num(w.payload_mb_s));
    }
    note
}

/// For the scaling target: the core count that bounds it. Producers beyond the cores share
/// them, so CPU-bound appends scale to at most `cores / producers` of linear.
fn scaling_note(outcome: &Outcome, run: &Run) -> String {
    if outcome.target != Target::ProducerScaling {
        return String::new();
    }
    let cores = run.result.environment.cores;
    let producers = reading_scenario(outcome, run)
        .and_then(|s| s.params.get("producers").copied())
        .unwrap_or(4);
    if cores == 0 || u64::from(cores) >= producers {
        return format!("; {producers} producers on {cores} cores");
    }
    format!(
        "; {producers} producers on {cores} cores: at most {} of linear when CPU-bound",
        num(f64::from(cores) / producers as f64)
    )
}

/// The scenario a target's reading came from.
fn reading_scenario<'a>(outcome: &Outcome, run: &'a Run) -> Option<&'a ScenarioResult> {
    let r = outcome.reading.as_ref()?;
    run.result
        .scenarios
        .iter()
        .find(|s| super::fmt::case(s) == r.case && s.durability == r.durability)
}

/// `; 0.45x of write 256 KiB QD8, fallocated` after a write target's figure: its ratio to
/// the disk's matching case (for the latency target, its p99 over the disk's write +
/// fdatasync p99).
fn disk_note(outcome: &Outcome, run: &Run, disk: &DiskFigures) -> String {
    let Some(s) = reading_scenario(outcome, run) else {
        return String::new();
    };
    match outcome.target {
        Target::ProduceThroughput => disk
            .write_ratio(s)
            .map_or(String::new(), |r| format!("; {}", r.text())),
        Target::ProduceLatency => {
            let Some((case, p99)) = super::disk::append_bytes(s).and_then(|b| disk.sync_p99(b))
            else {
                return String::new();
            };
            let value = outcome.reading.as_ref().map_or(0.0, |r| r.value);
            format!("; {} the p99 of disk {}", ratio(value / p99), case.label())
        }
        Target::FetchThroughput => {
            let Some(case) = disk.matching(s) else {
                return String::new();
            };
            match disk.get(&case) {
                Some(d) if d.payload_mb_s > 0.0 => format!(
                    "; {} of disk {}",
                    ratio(s.payload_mb_s / d.payload_mb_s),
                    case.label()
                ),
                _ => String::new(),
            }
        }
        Target::Compaction => {
            let Some(c) = s.compaction else {
                return String::new();
            };
            disk.compaction_floor(c.mb_before, c.mb_after)
                .filter(|f| f.seconds > 0.0)
                .map_or(String::new(), |f| {
                    format!(
                        "; {} the disk's time for its bytes ({} ms: {})",
                        ratio(c.duration_s / f.seconds),
                        num(f.seconds * 1000.0),
                        floor_cases(&f)
                    )
                })
        }
        _ => String::new(),
    }
}

/// `read 1 MiB QD4 + write 1 MiB QD8, fallocated`: the disk cases of a compaction floor.
fn floor_cases(floor: &CompactionFloor) -> String {
    format!("{} + {}", floor.read.label(), floor.write.label())
}

fn executive(
    out: &mut String,
    runs: &[Run],
    outcomes: &[Vec<Outcome>],
    disk: Option<&DiskFigures>,
) -> Result {
    writeln!(out, "## Executive summary\n")?;
    writeln!(
        out,
        "Each figure with the durability mode of its scenario in parentheses, then the verdict on its target (see Targets for the case read){}.\n",
        if disk.is_some() {
            ", then, for writes, its ratio to the disk's matching figure of this run (`ringbench disk`, see Disk limit), and for the fetch target its ratio to the disk's fastest read"
        } else {
            ""
        }
    )?;
    header(out, "figure | target", runs.iter().map(Run::display))?;
    for (i, target) in Target::ALL.iter().enumerate() {
        let cells: Vec<String> = outcomes
            .iter()
            .zip(runs)
            .map(|(o, run)| reading_text(&o[i], run, disk))
            .collect();
        writeln!(
            out,
            "| {} | {} | {} |",
            target.metric(),
            target.goal(),
            cells.join(" | ")
        )?;
    }
    for (run, outcome) in runs.iter().zip(outcomes) {
        let passed = outcome
            .iter()
            .filter(|o| o.verdict == targets::Verdict::Pass)
            .count();
        let missing = outcome
            .iter()
            .filter(|o| o.verdict == targets::Verdict::NotMeasured)
            .count();
        writeln!(
            out,
            "{}**{}**: {passed} of {} targets met, {missing} not measured.",
            if run.label == runs[0].label { "\n" } else { "" },
            run.display(),
            outcome.len()
        )?;
    }
    writeln!(out)
}

/// A table header with `fixed` columns then one per item of `columns`.
fn header<'a>(out: &mut String, fixed: &str, columns: impl Iterator<Item = &'a str>) -> Result {
    let columns: Vec<&str> = columns.collect();
    let count = fixed.split('|').count() + columns.len();
    writeln!(out, "| {fixed} | {} |", columns.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(count))
}

fn environment(out: &mut String, runs: &[Run]) -> Result {
    writeln!(out, "## Environment\n")?;
    header(out, "", runs.iter().map(Run::display))?;
    let envs: Vec<_> = runs.iter().map(|r| &r.result.environment).collect();
    let optional = |v: &Option<String>| v.clone().unwrap_or_else(|| ABSENT.to_string());
    let rows: [(&str, Vec<String>); 15] = [
        ("CPU", envs.iter().map(|e| e.cpu_model.clone()).collect()),
        ("cores", envs.iter().map(|e| e.cores.to_string()).collect()),
        (
            "memory",
            envs.iter()
                .map(|e| format!("{:.1} GiB", e.memory_bytes as f64 / f64::from(1u32 << 30)))
                .collect(),
        ),
        ("kernel", envs.iter().map(|e| e.kernel.clone()).collect()),
        (
            "filesystem",
            envs.iter().map(|e| e.filesystem.clone()).collect(),
        ),
        ("device", envs.iter().map(|e| optional(&e.device)).collect()),
        (
            "data directory",
            envs.iter().map(|e| format!("`{}`", e.data_dir)).collect(),
        ),
        (
            "O_DIRECT alignment (memory, offset)",
            envs.iter()
                .map(|e| {
                    e.dio_alignment
                        .map_or(ABSENT.to_string(), |(m, o)| format!("{m} B, {o} B"))
                })
                .collect(),
        ),
        (
            "io_uring",
            envs.iter().map(|e| e.io_uring.clone()).collect(),
        ),
        (
            "engine I/O path",
            envs.iter().map(|e| e.io_path.clone()).collect(),
        ),
        (
            "engine read cache",
            envs.iter()
                .map(|e| match e.cache_bytes {
                    0 => ABSENT.to_string(),
                    bytes => format!("{:.2} GiB", bytes as f64 / f64::from(1u32 << 30)),
                })
                .collect(),
        ),
        (
            "git revision",
            envs.iter().map(|e| optional(&e.git_revision)).collect(),
        ),
        ("rustc", envs.iter().map(|e| optional(&e.rustc)).collect()),
        ("profile", envs.iter().map(|e| e.profile.clone()).collect()),
        (
            "started (UTC)",
            envs.iter().map(|e| e.started_utc.clone()).collect(),
        ),
    ];
    for (name, values) in rows {
        let values: Vec<String> = values.iter().map(|v| cell(v)).collect();
        writeln!(out, "| {name} | {} |", values.join(" | "))?;
    }
    writeln!(out)
}

/// Who measured a row: the path, or the baseline in that path's run.
fn measured_by(run: &Run, scenario: &ScenarioResult) -> String {
    if scenario.engine == "ringlog" {
        run.display().to_string()
    } else {
        format!("{} ({} run)", scenario.engine, run.display())
    }
}

/// The rows of `category`, each case followed by the same case in the other runs.
fn rows_of<'a>(runs: &'a [Run], category: &str) -> Vec<(&'a Run, &'a ScenarioResult)> {
    let mut rows: Vec<(&Run, &ScenarioResult)> = Vec::new();
    let same = |a: &ScenarioResult, b: &ScenarioResult| {
        a.name == b.name && a.params == b.params && a.durability == b.durability
    };
    for (index, run) in runs.iter().enumerate() {
        for s in run
            .result
            .scenarios
            .iter()
            .filter(|s| s.category == category)
        {
            if runs[..index]
                .iter()
                .any(|earlier| earlier.result.scenarios.iter().any(|e| same(e, s)))
            {
                continue;
            }
            for later in &runs[index..] {
                for t in later.result.scenarios.iter().filter(|t| same(t, s)) {
                    rows.push((later, t));
                }
            }
        }
    }
    rows
}

fn categories(out: &mut String, runs: &[Run], disk: Option<&DiskFigures>) -> Result {
    let mut names: Vec<String> = CATEGORIES.iter().map(ToString::to_string).collect();
    for run in runs {
        for s in &run.result.scenarios {
            if !names.contains(&s.category) {
                names.push(s.category.clone());
            }
        }
    }
    for category in &names {
        let rows = rows_of(runs, category);
        if rows.is_empty() {
            continue;
        }
        writeln!(out, "## {category}\n")?;
        let scaling = rows.iter().any(|(_, s)| s.scaling.is_some());
        let vs_disk = disk.filter(|d| rows.iter().any(|(_, s)| d.write_ratio(s).is_some()));
        let mut fixed = String::from(
            "scenario | measured by | params | durability | threads | payload MB/s | messages/s | p50 us | p99 us | p99.9 us | CPU us/op | allocations/op",
        );
        if scaling {
            fixed.push_str(" | scaling");
        }
        if vs_disk.is_some() {
            fixed.push_str(" | vs disk (payload MB/s over the disk case's, same run)");
        }
        writeln!(out, "| {fixed} |")?;
        writeln!(out, "|{}", "---|".repeat(fixed.split('|').count()))?;
        for (run, s) in &rows {
            let latency = |f: fn(&crate::results::Latency) -> f64| opt(s.latency.as_ref().map(f));
            write!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}",
                s.name,
                measured_by(run, s),
                params(&s.params),
                durability(s.durability.as_deref()),
                s.threads,
                num(s.payload_mb_s),
                num(s.messages_per_s),
                latency(|l| l.p50_us),
                latency(|l| l.p99_us),
                latency(|l| l.p999_us),
                opt(s.cpu_us_per_op),
                opt(s.allocations_per_op)
            )?;
            if scaling {
                write!(out, " | {}", opt(s.scaling))?;
            }
            if let Some(d) = vs_disk {
                let text = d.write_ratio(s).map_or(ABSENT.to_string(), |r| r.text());
                write!(out, " | {}", cell(&text))?;
            }
            writeln!(out, " |")?;
        }
        writeln!(out)?;
        compaction_details(out, &rows, disk)?;
        if category == "compaction" {
            super::contention::section(out, runs)?;
        }
        if category == "fetch" {
            super::wire::section(out, runs)?;
        }
    }
    Ok(())
}

fn compaction_details(
    out: &mut String,
    rows: &[(&Run, &ScenarioResult)],
    disk: Option<&DiskFigures>,
) -> Result {
    let with: Vec<_> = rows
        .iter()
        .filter_map(|(run, s)| Some((run, s, s.compaction?)))
        .collect();
    if with.is_empty() {
        return Ok(());
    }
    let floors: Vec<Option<CompactionFloor>> = with
        .iter()
        .map(|(_, _, c)| disk.and_then(|d| d.compaction_floor(c.mb_before, c.mb_after)))
        .collect();
    let vs_disk = floors.iter().any(Option::is_some);
    write!(
        out,
        "| scenario | measured by | params | durability | MB before | MB after | MB reclaimed | records removed | keys | duration ms | ms per 100 MB |"
    )?;
    if vs_disk {
        write!(out, " disk's time ms | vs the disk's time |")?;
    }
    writeln!(out)?;
    writeln!(out, "|{}", "---|".repeat(if vs_disk { 13 } else { 11 }))?;
    for ((run, s, c), floor) in with.iter().zip(&floors) {
        let per_100 = if c.mb_before > 0.0 {
            num(c.duration_s * 1000.0 * 100.0 / c.mb_before)
        } else {
            ABSENT.to_string()
        };
        write!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {per_100} |",
            s.name,
            measured_by(run, s),
            params(&s.params),
            durability(s.durability.as_deref()),
            num(c.mb_before),
            num(c.mb_after),
            num(c.mb_reclaimed),
            c.records_removed,
            c.keys,
            num(c.duration_s * 1000.0)
        )?;
        if vs_disk {
            match floor.filter(|f| f.seconds > 0.0) {
                Some(f) => write!(
                    out,
                    " {} | {} |",
                    num(f.seconds * 1000.0),
                    ratio(c.duration_s / f.seconds)
                )?,
                None => write!(out, " {ABSENT} | {ABSENT} |")?,
            }
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    if let Some(f) = floors.iter().flatten().next() {
        writeln!(
            out,
            "The disk's time: reading the MB before at the disk's fastest sequential read and writing the MB after at its fastest sequential write into fallocated blocks, both measured by `ringbench disk` in this run ({}): the floor under any compaction of those bytes. \"vs the disk's time\" is the duration over it (1x would be the disk's limit).\n",
            floor_cases(f)
        )?;
    }
    Ok(())
}

fn comparisons(out: &mut String, runs: &[Run]) -> Result {
    writeln!(out, "## io_uring vs mmap vs naive\n")?;
    let scenarios: Vec<&[ScenarioResult]> =
        runs.iter().map(|r| r.result.scenarios.as_slice()).collect();
    let table = compare::comparisons(&scenarios);
    if table.is_empty() {
        return writeln!(
            out,
            "No case was measured on more than one path or by the baseline.\n"
        );
    }
    writeln!(
        out,
        "The same case on each path and by the naive baseline (`naive_X` matched to `X` with the same parameters and durability). Ratios are times better (throughput: this / that; latency: that / this), each path against the baseline of its own run.\n"
    )?;
    let mut columns: Vec<String> = runs.iter().map(|r| r.display().to_string()).collect();
    columns.extend(runs.iter().map(|r| format!("naive ({} run)", r.display())));
    columns.extend(runs.iter().map(|r| format!("{} vs naive", r.display())));
    for (a, b) in pairs(runs.len()) {
        columns.push(format!("{} vs {}", runs[a].display(), runs[b].display()));
    }
    header(
        out,
        "scenario | params | durability | metric",
        columns.iter().map(String::as_str),
    )?;
    for c in &table {
        comparison_row(out, c, runs.len())?;
    }
    writeln!(out)
}

fn pairs(count: usize) -> Vec<(usize, usize)> {
    (0..count)
        .flat_map(|a| (a + 1..count).map(move |b| (a, b)))
        .collect()
}

fn comparison_row(out: &mut String, c: &Comparison, runs: usize) -> Result {
    let mut cells: Vec<String> = c.engine.iter().map(|v| opt(*v)).collect();
    cells.extend(c.naive.iter().map(|v| opt(*v)));
    cells.extend((0..runs).map(|i| c.engine_vs_naive(i).map_or(ABSENT.to_string(), ratio)));
    cells.extend(
        pairs(runs)
            .into_iter()
            .map(|(a, b)| c.engine_vs_engine(a, b).map_or(ABSENT.to_string(), ratio)),
    );
    writeln!(
        out,
        "| {} | {} | {} | {} | {} |",
        c.key.base,
        params(&c.key.params),
        durability(c.key.durability.as_deref()),
        c.metric.name(),
        cells.join(" | ")
    )
}

/// MB/s the disk saw: on-disk bytes when known, payload otherwise.
fn moved_mb_s(s: &ScenarioResult) -> f64 {
    s.disk_mb_s.unwrap_or(s.payload_mb_s)
}

/// The MB/s an engine case is measured against: the disk's matching `ringbench disk` case
/// when there is one, else fio's sequential limit of its direction.
fn limit_mb_s(
    s: &ScenarioResult,
    fio: Option<&FioReport>,
    disk: Option<&DiskFigures>,
) -> Option<f64> {
    if let Some(d) = disk {
        let case = d.matching(s)?;
        return Some(d.get(&case)?.payload_mb_s).filter(|v| *v > 0.0);
    }
    Some(fio?.sequential_limit(io_direction(s)?)?.mb_s)
}

fn bottlenecks(
    out: &mut String,
    runs: &[Run],
    fio: Option<&FioReport>,
    disk: Option<&DiskFigures>,
) -> Result {
    writeln!(out, "## Bottlenecks\n")?;
    match fio {
        _ if disk.is_some() => writeln!(
            out,
            "Per path, the {BOTTLENECKS_PER_PATH} engine cases furthest from the disk's matching `ringbench disk` case (same request size and depth, see Disk limit; reads against the disk's fastest read). Cores busy = CPU time / wall time: near the thread count means CPU-bound, well below it means waiting (on the disk or on locks).\n"
        )?,
        Some(_) => writeln!(
            out,
            "Per path, the {BOTTLENECKS_PER_PATH} engine cases furthest from the disk's sequential limit for their direction (fio's largest-block job). Cores busy = CPU time / wall time: near the thread count means CPU-bound, well below it means waiting (on the disk or on locks).\n"
        )?,
        None => writeln!(
            out,
            "No fio figure to compare with: per path, the {BOTTLENECKS_PER_PATH} engine cases with the lowest payload throughput. Cores busy = CPU time / wall time: near the thread count means CPU-bound, well below it means waiting.\n"
        )?,
    }
    writeln!(
        out,
        "| I/O path | scenario | params | durability | threads | MB/s | fraction of the disk | CPU us/op | cores busy |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    for run in runs {
        let mut ranked: Vec<(&ScenarioResult, f64, Option<f64>)> = run
            .result
            .scenarios
            .iter()
            .filter(|s| s.engine == "ringlog" && s.payload_mb_s > 0.0)
            .filter_map(|s| {
                if fio.is_none() && disk.is_none() {
                    return Some((s, s.payload_mb_s, None));
                }
                let fraction = moved_mb_s(s) / limit_mb_s(s, fio, disk)?;
                Some((s, fraction, Some(fraction)))
            })
            .collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (s, _, fraction) in ranked.into_iter().take(BOTTLENECKS_PER_PATH) {
            let busy = s
                .cpu_us_per_op
                .filter(|_| s.elapsed_s > 0.0)
                .map(|cpu| cpu * s.operations as f64 / (s.elapsed_s * 1e6));
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                run.display(),
                s.name,
                params(&s.params),
                durability(s.durability.as_deref()),
                s.threads,
                num(moved_mb_s(s)),
                fraction.map_or(ABSENT.to_string(), |f| format!("{:.1}%", 100.0 * f)),
                opt(s.cpu_us_per_op),
                opt(busy)
            )?;
        }
    }
    writeln!(out)
}

fn target_table(out: &mut String, runs: &[Run], outcomes: &[Vec<Outcome>]) -> Result {
    writeln!(out, "## Targets\n")?;
    header(
        out,
        "metric | target | how it is read",
        runs.iter().map(Run::display),
    )?;
    for (i, target) in Target::ALL.iter().enumerate() {
        let cells: Vec<String> = outcomes
            .iter()
            .map(|o| {
                let outcome = &o[i];
                match &outcome.reading {
                    Some(r) => format!(
                        "**{}** {} {} (durability {}; `{}`)",
                        outcome.verdict.word(),
                        num(r.value),
                        target.unit(),
                        durability(r.durability.as_deref()),
                        r.case
                    ),
                    None => outcome.verdict.word().to_string(),
                }
            })
            .collect();
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            target.metric(),
            target.goal(),
            target.how(),
            cells.join(" | ")
        )?;
    }
    writeln!(out)
}

fn plot_links(out: &mut String, inputs: &Inputs) -> Result {
    writeln!(out, "## Plots\n")?;
    writeln!(
        out,
        "![Write throughput by record size, durability none]({})\n",
        plots::THROUGHPUT_BY_SIZE
    )?;
    writeln!(
        out,
        "![Latency percentiles p50/p99/p99.9 per latency case, durability in each label]({})\n",
        plots::LATENCY_PERCENTILES
    )?;
    writeln!(
        out,
        "![Throughput relative to one thread against threads, with the linear line; durability in each label]({})\n",
        plots::SCALING
    )?;
    writeln!(
        out,
        "![Latency distribution p50 to p99.99 on a log axis of 1/(1-p), one curve per latency case and the disk's write+fdatasync; durability in each label]({})\n",
        plots::LATENCY_DISTRIBUTION
    )?;
    writeln!(
        out,
        "![Payload MB/s every 100 ms of the sustained produce runs, with the disk's sequential write at the engine's chunk size and depth]({})\n",
        plots::THROUGHPUT_TIMELINE
    )?;
    if matches!(inputs.peers, Some(Ok(_))) {
        writeln!(
            out,
            "![Records per second of every peer case, one bar per engine, durability in each label]({PEERS_PLOT})\n"
        )?;
    }
    Ok(())
}

fn raw_files(out: &mut String, inputs: &Inputs) -> Result {
    writeln!(out, "## Raw files\n")?;
    for run in &inputs.runs {
        writeln!(
            out,
            "- [`{}`]({}): {} scenario cases, {} I/O path",
            run.file,
            run.file,
            run.result.scenarios.len(),
            run.display()
        )?;
    }
    for divan in &inputs.divan {
        writeln!(
            out,
            "- [`{}`]({}): Divan's output, {} lines",
            divan.name, divan.name, divan.lines
        )?;
    }
    if let Some(Ok(peers)) = &inputs.peers {
        writeln!(
            out,
            "- [`{PEERS_FILE}`]({PEERS_FILE}): `ringbench peers`, {} cases of {} engines",
            peers.scenarios.len(),
            peers.peers.as_ref().map_or(0, |p| p.engines.len())
        )?;
    }
    match &inputs.disk {
        Some(Ok(d)) => writeln!(
            out,
            "- [`{DISK_FILE}`]({DISK_FILE}): `ringbench disk`, {} cases",
            d.cases.len()
        )?,
        Some(Err(_)) => writeln!(
            out,
            "- [`{DISK_FILE}`]({DISK_FILE}): unreadable, see Disk limit"
        )?,
        None => writeln!(out, "- no `{DISK_FILE}` (`ringbench disk` was not run)")?,
    }
    match &inputs.fio {
        Some(_) => writeln!(out, "- [`{FIO_FILE}`]({FIO_FILE}): fio's JSON output"),
        None => writeln!(out, "- no `{FIO_FILE}` (fio was not run)"),
    }
}
