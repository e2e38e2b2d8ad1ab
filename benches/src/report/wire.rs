//! The "Through the wire protocol" lines of `summary.md`: `wire_protocol`'s produce and
//! consume, each in process and through a `ringlog-server` on loopback in the same run, and the
//! verdict on the goal of issue 16 (through the server at least [`GOAL_RATIO`] of in process).

use std::fmt::{Result, Write};

use super::fmt::{ABSENT, durability, num, ratio};
use super::inputs::Run;
use crate::results::ScenarioResult;

/// Name of the scenario (`ringbench suite`).
pub const SCENARIO: &str = "wire_protocol";
/// The goal: MB/s through the server over MB/s in process, at least this.
pub const GOAL_RATIO: f64 = 0.7;

/// One workload measured both ways.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair<'a> {
    /// `produce` or `fetch`.
    pub category: &'a str,
    /// In process.
    pub in_process: &'a ScenarioResult,
    /// Through the server.
    pub wire: &'a ScenarioResult,
}

impl Pair<'_> {
    /// Through the server over in process, in payload MB/s.
    pub fn ratio(&self) -> Option<f64> {
        (self.in_process.payload_mb_s > 0.0)
            .then(|| self.wire.payload_mb_s / self.in_process.payload_mb_s)
    }
}

/// The pairs of `scenarios`: produce first, then fetch.
pub fn pairs(scenarios: &[ScenarioResult]) -> Vec<Pair<'_>> {
    let find = |category: &str, wire: u64| {
        scenarios.iter().find(|s| {
            s.name == SCENARIO
                && s.category == category
                && s.params.get("wire").copied() == Some(wire)
        })
    };
    ["produce", "fetch"]
        .into_iter()
        .filter_map(|category| {
            Some(Pair {
                category,
                in_process: find(category, 0)?,
                wire: find(category, 1)?,
            })
        })
        .collect()
}

/// Writes the lines of every run that has the scenario; nothing when none has.
///
/// # Errors
/// Only what writing to `out` returns (never, for a `String`).
pub fn section(out: &mut String, runs: &[Run]) -> Result {
    let per_run: Vec<(&Run, Vec<Pair<'_>>)> = runs
        .iter()
        .map(|run| (run, pairs(&run.result.scenarios)))
        .filter(|(_, pairs)| !pairs.is_empty())
        .collect();
    if per_run.is_empty() {
        return Ok(());
    }
    writeln!(out, "### Through the wire protocol\n")?;
    writeln!(
        out,
        "`{SCENARIO}`: one producer, 1 KiB records, 100 per call, 8 calls in flight, a new topic of one partition, produced in this process and then through a `ringlog-server` started in the same process on loopback (Kafka's Produce v9, acks -1, client: `ringlog_server::client`); then each topic consumed from its start by one consumer in 1 MiB fetches. Goal (issue 16): through the server at least {GOAL_RATIO}x of in process.\n"
    )?;
    writeln!(
        out,
        "| measured by | workload | durability | in process MB/s | through ringlog-server MB/s | ratio | p99 us in process | p99 us through the server |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for (run, pairs) in &per_run {
        for pair in pairs {
            let p99 = |s: &ScenarioResult| {
                s.latency
                    .as_ref()
                    .map_or(ABSENT.to_string(), |l| num(l.p99_us))
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                run.display(),
                if pair.category == "produce" {
                    "produce"
                } else {
                    "consume"
                },
                durability(pair.in_process.durability.as_deref()),
                num(pair.in_process.payload_mb_s),
                num(pair.wire.payload_mb_s),
                pair.ratio().map_or(ABSENT.to_string(), ratio),
                p99(pair.in_process),
                p99(pair.wire),
            )?;
        }
    }
    writeln!(out)?;
    for (run, pairs) in &per_run {
        let verdicts: Vec<String> = pairs
            .iter()
            .map(|pair| {
                let what = if pair.category == "produce" {
                    "produce"
                } else {
                    "consume"
                };
                match pair.ratio() {
                    Some(r) if r >= GOAL_RATIO => format!("{what} met ({})", ratio(r)),
                    Some(r) => format!("{what} not met ({})", ratio(r)),
                    None => format!("{what} not measured"),
                }
            })
            .collect();
        writeln!(
            out,
            "**{}**: through the server at least {GOAL_RATIO}x of in process: {}.",
            run.display(),
            verdicts.join("; ")
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(category: &str, wire: u64, mb_s: f64) -> ScenarioResult {
        let mut s = crate::results::tests::scenario();
        s.name = SCENARIO.to_string();
        s.category = category.to_string();
        s.params.insert("wire".to_string(), wire);
        s.payload_mb_s = mb_s;
        s
    }

    #[test]
    fn each_workload_is_set_against_itself_in_process() {
        let scenarios = vec![
            result("produce", 0, 1000.0),
            result("produce", 1, 600.0),
            result("fetch", 1, 900.0),
            result("fetch", 0, 1000.0),
        ];
        let pairs = pairs(&scenarios);
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].category, "produce");
        assert!((pairs[0].ratio().unwrap() - 0.6).abs() < 1e-9);
        assert!((pairs[1].ratio().unwrap() - 0.9).abs() < 1e-9);
        assert!(
            super::pairs(&scenarios[..1]).is_empty(),
            "a half pair is left out"
        );
    }
}
