//! The "Producers during compaction" lines of `summary.md`: the producer's p99 of
//! `produce_during_compaction` alone and during a compaction of its partition, uncapped and
//! capped (`cap_mb_s`), each as a ratio to the p99 alone of the same run, and the verdict on the
//! goal of issue 15 (with the cap, at most [`GOAL_RATIO`] times the p99 alone).

use std::fmt::{Result, Write};

use super::fmt::{ABSENT, durability, num, ratio};
use super::inputs::Run;
use crate::results::ScenarioResult;

/// Name of the scenario (`ringbench suite`).
pub const SCENARIO: &str = "produce_during_compaction";
/// The goal: the producer's p99 during a capped compaction over its p99 alone, at most this.
pub const GOAL_RATIO: f64 = 2.0;

/// One case of the scenario, as the report reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Case<'a> {
    /// The result.
    pub scenario: &'a ScenarioResult,
    /// Whether a compaction ran.
    pub compaction: bool,
    /// Its cap in MB/s, `None` when uncapped.
    pub cap_mb_s: Option<u64>,
    /// The producer's p99 over its p99 alone in the same run (`None` for the case alone, or
    /// without latencies).
    pub vs_alone: Option<f64>,
}

/// The cases of `scenarios`, uncapped before capped, each producer alone before its
/// compaction; empty when the run has none. A compaction is set against the producer alone
/// with the same `cap_mb_s` (measured on the same topic just before it), else against any
/// producer alone of the run.
pub fn cases(scenarios: &[ScenarioResult]) -> Vec<Case<'_>> {
    let ours: Vec<&ScenarioResult> = scenarios.iter().filter(|s| s.name == SCENARIO).collect();
    let param = |s: &ScenarioResult, key: &str| s.params.get(key).copied().unwrap_or(0);
    let p99 = |s: &ScenarioResult| s.latency.as_ref().map(|l| l.p99_us).filter(|p| *p > 0.0);
    let alone = |cap: u64| {
        let alone: Vec<&&ScenarioResult> = ours
            .iter()
            .filter(|s| param(s, "compaction") == 0)
            .collect();
        alone
            .iter()
            .find(|s| param(s, "cap_mb_s") == cap)
            .or_else(|| alone.first())
            .and_then(|s| p99(s))
    };
    let mut out: Vec<Case<'_>> = ours
        .iter()
        .map(|s| {
            let compaction = param(s, "compaction") != 0;
            let cap = param(s, "cap_mb_s");
            Case {
                scenario: s,
                compaction,
                cap_mb_s: Some(cap).filter(|c| *c > 0),
                vs_alone: if compaction {
                    alone(cap).zip(p99(s)).map(|(a, p)| p / a)
                } else {
                    None
                },
            }
        })
        .collect();
    out.sort_by_key(|c| (c.cap_mb_s.is_some(), c.compaction));
    out
}

/// Writes the lines of every run that has the scenario; nothing when none has.
///
/// # Errors
/// Only what writing to `out` returns (never, for a `String`).
pub fn section(out: &mut String, runs: &[Run]) -> Result {
    let per_run: Vec<(&Run, Vec<Case<'_>>)> = runs
        .iter()
        .map(|run| (run, cases(&run.result.scenarios)))
        .filter(|(_, cases)| !cases.is_empty())
        .collect();
    if per_run.is_empty() {
        return Ok(());
    }
    writeln!(out, "### Producers during compaction\n")?;
    writeln!(
        out,
        "One producer appends to a partition while it is compacted (`{SCENARIO}`; open loop: each append timed from the instant it was due), alone, then during a compaction of that topic; once without and once with the cleaner's I/O cap (`TopicManagerConfig::cleaner_io_max_bytes_per_second`, Kafka's `log.cleaner.io.max.bytes.per.second`). \"p99 vs alone\" is the p99 during the compaction over the p99 alone just before it. Goal (issue 15): with the cap, at most {GOAL_RATIO}x.\n"
    )?;
    writeln!(
        out,
        "| measured by | case | durability | compaction ms | appends | p50 us | p99 us | p99 vs alone |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for (run, cases) in &per_run {
        for case in cases {
            let s = case.scenario;
            let label = match (case.compaction, case.cap_mb_s) {
                (false, None) => "producer alone, before the uncapped compaction".to_string(),
                (false, Some(_)) => "producer alone, before the capped compaction".to_string(),
                (true, None) => "during compaction, no cap".to_string(),
                (true, Some(cap)) => format!("during compaction, cap {cap} MB/s"),
            };
            let latency = |f: fn(&crate::results::Latency) -> f64| {
                s.latency.as_ref().map_or(ABSENT.to_string(), |l| num(f(l)))
            };
            writeln!(
                out,
                "| {} | {label} | {} | {} | {} | {} | {} | {} |",
                run.display(),
                durability(s.durability.as_deref()),
                s.compaction
                    .map_or(ABSENT.to_string(), |c| num(c.duration_s * 1000.0)),
                s.operations,
                latency(|l| l.p50_us),
                latency(|l| l.p99_us),
                case.vs_alone.map_or(ABSENT.to_string(), ratio)
            )?;
        }
    }
    writeln!(out)?;
    for (run, cases) in &per_run {
        let capped = cases.iter().find(|c| c.compaction && c.cap_mb_s.is_some());
        let verdict = match capped.and_then(|c| c.vs_alone) {
            Some(r) if r <= GOAL_RATIO => format!("met ({})", ratio(r)),
            Some(r) => format!("not met ({})", ratio(r)),
            None => "not measured".to_string(),
        };
        writeln!(
            out,
            "**{}**: p99 with the cap at most {GOAL_RATIO}x alone: {verdict}.",
            run.display()
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CompactionFigures, Latency};

    fn case(compaction: u64, cap_mb_s: u64, p99_us: f64) -> ScenarioResult {
        let mut s = crate::results::tests::scenario();
        s.name = SCENARIO.to_string();
        s.category = "compaction".to_string();
        s.durability = Some("sync".to_string());
        s.params.insert("compaction".to_string(), compaction);
        s.params.insert("cap_mb_s".to_string(), cap_mb_s);
        s.latency = Some(Latency {
            p50_us: p99_us / 4.0,
            p90_us: p99_us / 2.0,
            p99_us,
            p999_us: p99_us,
            max_us: p99_us,
            mean_us: p99_us / 4.0,
            p75_us: None,
            p95_us: None,
            p995_us: None,
            p9999_us: None,
        });
        s.compaction = (compaction != 0).then_some(CompactionFigures {
            mb_before: 100.0,
            mb_after: 50.0,
            mb_reclaimed: 50.0,
            records_removed: 1,
            keys: 1,
            duration_s: 0.25,
        });
        s
    }

    #[test]
    fn each_case_with_a_compaction_is_set_against_the_producer_alone() {
        // Out of order on purpose: the report lists uncapped, then capped, each after the
        // producer alone before it.
        let scenarios = vec![
            case(1, 100, 3000.0),
            case(0, 0, 2000.0),
            case(1, 0, 9000.0),
            case(0, 100, 1500.0),
        ];
        let cases = cases(&scenarios);
        let read: Vec<(bool, Option<u64>, Option<f64>)> = cases
            .iter()
            .map(|c| (c.compaction, c.cap_mb_s, c.vs_alone))
            .collect();
        assert_eq!(
            read,
            vec![
                (false, None, None),
                (true, None, Some(4.5)),
                (false, Some(100), None),
                (true, Some(100), Some(2.0))
            ]
        );
    }

    #[test]
    fn without_a_producer_alone_nothing_is_a_ratio_and_other_scenarios_are_ignored() {
        let mut other = case(1, 0, 1.0);
        other.name = "compaction".to_string();
        let scenarios = vec![other, case(1, 100, 3000.0)];
        let cases = cases(&scenarios);
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].vs_alone, None);
    }

    fn rendered(scenarios: Vec<ScenarioResult>) -> String {
        let run = crate::report::plots::tests::run(scenarios);
        let mut out = String::new();
        section(&mut out, &[run]).unwrap();
        out
    }

    #[test]
    fn the_verdict_reads_the_capped_case() {
        let met = rendered(vec![case(0, 0, 2000.0), case(1, 100, 3000.0)]);
        let paired = rendered(vec![
            case(0, 0, 1000.0),
            case(1, 0, 9000.0),
            case(0, 100, 2500.0),
            case(1, 100, 3000.0),
        ]);
        assert!(paired.contains("at most 2x alone: met (1.20x)"), "{paired}");
        assert!(
            met.contains("| io_uring | during compaction, cap 100 MB/s | sync | 250 |"),
            "{met}"
        );
        assert!(met.contains("at most 2x alone: met (1.50x)"), "{met}");
        let missed = rendered(vec![case(0, 0, 2000.0), case(1, 100, 5000.0)]);
        assert!(missed.contains("not met (2.50x)"), "{missed}");
        let unmeasured = rendered(vec![case(0, 0, 2000.0), case(1, 0, 5000.0)]);
        assert!(unmeasured.contains("not measured"), "{unmeasured}");
        assert_eq!(rendered(Vec::new()), "");
    }
}
