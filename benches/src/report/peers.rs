//! The Peers section of the report (from `peers.json`, written by `ringbench peers`): ringlog's
//! ratio to each peer first, then every engine's figures, then what each engine's durability
//! modes mean; and the throughput plot. `ringbench peers` prints the same section.

use std::fmt::{Result, Write};

use super::fmt::{ABSENT, bytes, cell, num, opt, ratio};
use super::svg::{BarChart, BarGroup};
use crate::results::{PeerRatio, Range, RunResult, ScenarioResult};

/// Name of `ringbench peers`' result in a results directory.
pub const PEERS_FILE: &str = "peers.json";
/// File name of the throughput-per-engine plot.
pub const PEERS_PLOT: &str = "peers_throughput.svg";

/// A case of the peer workload, as every engine ran it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CaseKey {
    name: String,
    durability: Option<String>,
    params: std::collections::BTreeMap<String, u64>,
}

impl CaseKey {
    fn of(s: &ScenarioResult) -> CaseKey {
        CaseKey {
            name: s.name.clone(),
            durability: s.durability.clone(),
            params: s.params.clone(),
        }
    }

    fn of_ratio(r: &PeerRatio) -> CaseKey {
        CaseKey {
            name: r.scenario.clone(),
            durability: r.durability.clone(),
            params: r.params.clone(),
        }
    }

    fn param(&self, key: &str) -> Option<u64> {
        self.params.get(key).copied()
    }

    /// `append, sync, 4 producers`, `point reads, cold`, ...
    fn label(&self) -> String {
        let temperature = match self.param("cold") {
            Some(1) => ", cold",
            Some(_) => ", warm",
            None => "",
        };
        match self.name.as_str() {
            "peer_append" => {
                let producers = self.param("producers").unwrap_or(1);
                format!(
                    "append, {}, {producers} producer{}",
                    self.durability.as_deref().unwrap_or("?"),
                    if producers == 1 { "" } else { "s" }
                )
            }
            "peer_reopen" => "reopen (recovery), cold".to_string(),
            "peer_read_seq" => format!("sequential read{temperature}"),
            "peer_read_point" => format!(
                "{} point reads{temperature}",
                self.param("reads").unwrap_or(0)
            ),
            other => format!("{other}{temperature}"),
        }
    }
}

/// Every case, in the order first run.
fn cases(result: &RunResult) -> Vec<CaseKey> {
    let mut out: Vec<CaseKey> = Vec::new();
    for s in &result.scenarios {
        let key = CaseKey::of(s);
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// Every engine with a figure, ringlog first, in the order run.
fn engines(result: &RunResult) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &result.scenarios {
        if !out.contains(&s.engine) {
            out.push(s.engine.clone());
        }
    }
    out
}

/// Writes the Peers section (heading included).
///
/// # Errors
/// Never for a `String`.
pub fn section(out: &mut String, peers: &RunResult) -> Result {
    writeln!(out, "## Peers\n")?;
    let Some(info) = &peers.peers else {
        return writeln!(
            out,
            "`{PEERS_FILE}` holds no peer descriptions; rerun `ringbench peers`.\n"
        );
    };
    let records = peers
        .scenarios
        .iter()
        .find(|s| s.name == "peer_append" && s.durability.as_deref() == Some("cheapest"))
        .map_or(0, |s| s.messages);
    writeln!(
        out,
        "ringlog beside the engines a user would pick instead, in one run on this machine ({} profile): \
         every engine appends the same {records} records of {} B (random bytes, so nothing compresses) \
         in batches of {}, reopens, reads them all in order and {} at random offsets (seed {:#x}, the \
         same for all), and every read is checked by count and checksum. Cold phases start with the \
         page cache emptied by `{}`{}. **Ratios are ringlog's figure over the peer's** \
         (records/s; for the reopen, the peer's time over ringlog's): above 1 means ringlog did \
         better. {} How each engine is driven is in `benches/README.md`.\n",
        peers.environment.profile,
        info.record_bytes,
        info.batch_records,
        peers
            .scenarios
            .iter()
            .find_map(|s| s.params.get("reads"))
            .map_or_else(|| "some".to_string(), ToString::to_string),
        info.point_read_seed,
        info.cache_drop,
        if info.cache_drop == "drop_caches" {
            " (the whole machine's clean pages, after a sync)"
        } else {
            " (fdatasync and POSIX_FADV_DONTNEED on each of the engine's files)"
        },
        if info.rounds > 1 {
            format!(
                "The whole workload ran {} rounds, the engines interleaved in each: every figure \
                 is the median round's, with the range of all rounds in brackets; a ratio is \
                 the median of the rounds' ratios (each round pairs ringlog with the peer of \
                 the same round).",
                info.rounds
            )
        } else {
            "The workload ran once (one round): the figures have no spread.".to_string()
        },
    )?;
    for name in &info.not_built {
        writeln!(
            out,
            "- `{name}` was not built into this ringbench (its cargo feature was off).\n"
        )?;
    }
    for failure in &info.failures {
        writeln!(out, "- **failed**: {}\n", cell(failure))?;
    }
    ratio_table(out, peers, &info.ratios)?;
    figure_table(out, peers)?;
    modes(out, peers)
}

fn ratio_table(out: &mut String, peers: &RunResult, ratios: &[PeerRatio]) -> Result {
    let others: Vec<String> = engines(peers)
        .into_iter()
        .filter(|e| e != "ringlog")
        .collect();
    if others.is_empty() {
        return writeln!(out, "No peer ran beside ringlog.\n");
    }
    writeln!(out, "### ringlog vs each peer\n")?;
    let columns: Vec<String> = others.iter().map(|e| format!("vs {e}")).collect();
    writeln!(out, "| case | metric | {} |", columns.join(" | "))?;
    writeln!(out, "|---|---|{}", "---|".repeat(columns.len()))?;
    for case in cases(peers) {
        let metric = ratios
            .iter()
            .find(|r| CaseKey::of_ratio(r) == case)
            .map_or("records/s", |r| r.metric.as_str());
        let cells: Vec<String> = others
            .iter()
            .map(|peer| {
                ratios
                    .iter()
                    .find(|r| &r.peer == peer && CaseKey::of_ratio(r) == case)
                    .map_or_else(
                        || {
                            if peers
                                .scenarios
                                .iter()
                                .any(|s| &s.engine == peer && CaseKey::of(s) == case)
                            {
                                ABSENT.to_string()
                            } else {
                                "n/a".to_string()
                            }
                        },
                        |r| match r.spread {
                            Some(range) => format!(
                                "**{}** ({}-{})",
                                ratio(r.ringlog_vs_peer),
                                ratio(range.min),
                                ratio(range.max)
                            ),
                            None => format!("**{}**", ratio(r.ringlog_vs_peer)),
                        },
                    )
            })
            .collect();
        writeln!(
            out,
            "| {} | {metric} | {} |",
            case.label(),
            cells.join(" | ")
        )?;
    }
    writeln!(
        out,
        "\n`n/a`: the engine did not run the case (a single-writer engine has no 4-producer case).\n"
    )
}

fn figure_table(out: &mut String, peers: &RunResult) -> Result {
    writeln!(out, "### Figures\n")?;
    writeln!(
        out,
        "Per operation: an append is one batch (with its sync in the sync cases), a sequential-read step is {} records, a point read one record, the reopen one open. Written: `write_bytes` of `/proc/self/io` over the append and the close after it (data, journals, compaction, padding).\n",
        peers.peers.as_ref().map_or(0, |i| i.batch_records)
    )?;
    writeln!(
        out,
        "| case | engine | I/O | payload MB/s | records/s | p50 us | p99 us | time s | MB written | written / payload | allocations/op |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    // A figure with the range of its rounds (none for a figure that is zero in every round,
    // such as the payload rate of a reopen).
    let ranged = |value: String, range: Option<Range>| match range {
        Some(r) if r.max > 0.0 => format!("{value} ({}-{})", num(r.min), num(r.max)),
        _ => value,
    };
    for case in cases(peers) {
        for s in peers.scenarios.iter().filter(|s| CaseKey::of(s) == case) {
            let written = s.disk_write_bytes.map(|b| b as f64 / 1e6);
            let amplification = s
                .disk_write_bytes
                .filter(|_| s.payload_bytes > 0)
                .map(|b| b as f64 / s.payload_bytes as f64);
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                case.label(),
                s.engine,
                cell(&s.io_path),
                ranged(
                    num(s.payload_mb_s),
                    s.spread.map(|p| Range {
                        min: p.min_mb_s,
                        max: p.max_mb_s
                    })
                ),
                ranged(
                    num(s.messages_per_s),
                    s.spread.and_then(|p| p.records_per_s)
                ),
                ranged(
                    opt(s.latency.map(|l| l.p50_us)),
                    s.spread.and_then(|p| p.p50_us)
                ),
                opt(s.latency.map(|l| l.p99_us)),
                ranged(num(s.elapsed_s), s.spread.and_then(|p| p.elapsed_s)),
                opt(written),
                opt(amplification),
                opt(s.allocations_per_op)
            )?;
        }
    }
    writeln!(out)
}

fn modes(out: &mut String, peers: &RunResult) -> Result {
    let Some(info) = &peers.peers else {
        return Ok(());
    };
    writeln!(out, "### What each engine's durability modes mean\n")?;
    for e in &info.engines {
        writeln!(
            out,
            "- **{}** ({}; {}): *cheapest*: {}. *sync*: {}. *Producers*: {}.",
            e.name,
            e.version,
            e.io_path,
            cell(&e.cheapest),
            cell(&e.sync),
            cell(&e.producers)
        )?;
    }
    writeln!(out)
}

/// Records per second of every case but the reopen, one bar per engine; logarithmic, since
/// synced appends and warm reads are orders of magnitude apart.
pub fn plot(peers: &RunResult) -> BarChart {
    let engines = engines(peers);
    let groups = cases(peers)
        .into_iter()
        .filter(|c| c.name != "peer_reopen")
        .map(|case| BarGroup {
            label: case.label(),
            values: engines
                .iter()
                .map(|e| {
                    peers
                        .scenarios
                        .iter()
                        .find(|s| &s.engine == e && CaseKey::of(s) == case)
                        .map(|s| s.messages_per_s)
                })
                .collect(),
        })
        .collect();
    let size = peers.peers.as_ref().map_or(0, |i| i.record_bytes);
    BarChart {
        title: format!(
            "Throughput per engine (records of {} per second)",
            bytes(size)
        ),
        y_label: "records/s (log scale)".to_string(),
        y_log: true,
        bars: engines,
        groups,
    }
}
