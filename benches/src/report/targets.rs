//! The project's performance targets and their verdicts, read from one run's scenarios.
//!
//! Pure: [`evaluate`] chooses which case answers each target and [`judge`] compares the figure
//! with the threshold; the summary only prints what they return.

use crate::results::ScenarioResult;

/// Record size the throughput and latency targets are stated for.
pub const TARGET_RECORD_BYTES: u64 = 1024;
/// Producers of the scaling target.
pub const TARGET_PRODUCERS: u32 = 4;
/// Produce throughput target, payload MB/s (the low end of 500-800).
pub const PRODUCE_MB_S_MIN: f64 = 500.0;
/// Sequential fetch throughput target, payload MB/s.
pub const FETCH_MB_S_MIN: f64 = 1000.0;
/// Produce latency target, p99 microseconds (exclusive).
pub const PRODUCE_P99_US_MAX: f64 = 2000.0;
/// Cached fetch latency target, p99 microseconds (exclusive).
pub const FETCH_P99_US_MAX: f64 = 1000.0;
/// Scaling target: throughput at 4 producers over 4x the single producer's.
pub const SCALING_MIN: f64 = 0.7;
/// Compaction target, milliseconds per 100 MB of segments (exclusive).
pub const COMPACTION_MS_PER_100_MB_MAX: f64 = 100.0;

/// One target of the project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Produce throughput, 1 KiB records.
    ProduceThroughput,
    /// Sequential fetch throughput.
    FetchThroughput,
    /// Produce latency p99, 1 KiB.
    ProduceLatency,
    /// Cached fetch latency p99.
    FetchLatency,
    /// Scaling with 4 producers.
    ProducerScaling,
    /// Compaction of 100 MB.
    Compaction,
}

impl Target {
    /// Every target, in the order the summary lists them.
    pub const ALL: [Target; 6] = [
        Target::ProduceThroughput,
        Target::FetchThroughput,
        Target::ProduceLatency,
        Target::FetchLatency,
        Target::ProducerScaling,
        Target::Compaction,
    ];

    /// What is measured.
    pub fn metric(self) -> &'static str {
        match self {
            Target::ProduceThroughput => "produce throughput, 1 KiB records",
            Target::FetchThroughput => "fetch throughput, sequential",
            Target::ProduceLatency => "produce latency p99, 1 KiB",
            Target::FetchLatency => "fetch latency p99, cached",
            Target::ProducerScaling => "scaling with 4 producers",
            Target::Compaction => "compaction of 100 MB",
        }
    }

    /// The target as stated.
    pub fn goal(self) -> &'static str {
        match self {
            Target::ProduceThroughput => "500-800 MB/s",
            Target::FetchThroughput => "1000+ MB/s",
            Target::ProduceLatency => "< 2 ms",
            Target::FetchLatency => "< 1 ms",
            Target::ProducerScaling => ">= 0.7 of linear",
            Target::Compaction => "< 100 ms",
        }
    }

    /// Which case answers it, and how.
    pub fn how(self) -> &'static str {
        match self {
            Target::ProduceThroughput => {
                "write_throughput size=1024 durability none, most messages (else batch_write_throughput, largest batch); payload MB/s >= 500"
            }
            Target::FetchThroughput => {
                "sequential_fetch_cold size=1024: a cold read (fresh open, page cache emptied), the slowest-to-fastest spread of its passes and the warm sequential_fetch beside it (else sequential_fetch, largest fetch; else read_throughput); payload MB/s >= 1000"
            }
            Target::ProduceLatency => {
                "produce_latency size=1024, durability sync when present (else write, none); p99 < 2000 us"
            }
            Target::FetchLatency => {
                "fetch_latency size=1024 (else any size), tail not yet on disk; p99 < 1000 us"
            }
            Target::ProducerScaling => {
                "concurrent_producers producers=4, size=1024, durability none when present (else sync); scaling >= 0.7"
            }
            Target::Compaction => {
                "compaction with the most MB before; duration_s x 100 / mb_before, in ms, < 100"
            }
        }
    }

    /// Unit of the figure [`evaluate`] reads.
    pub fn unit(self) -> &'static str {
        match self {
            Target::ProduceThroughput | Target::FetchThroughput => "MB/s",
            Target::ProduceLatency | Target::FetchLatency => "us",
            Target::ProducerScaling => "of linear",
            Target::Compaction => "ms per 100 MB",
        }
    }
}

/// Whether a target was met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The figure meets the target.
    Pass,
    /// It does not.
    Fail,
    /// The run has no case that answers the target.
    NotMeasured,
}

impl Verdict {
    /// `pass`, `FAIL`, `not measured`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// The figure that answers a target, and where it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// In [`Target::unit`].
    pub value: f64,
    /// The scenario and its parameters.
    pub case: String,
    /// The scenario's durability mode (`None` for reads).
    pub durability: Option<String>,
}

/// One target's outcome in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The target.
    pub target: Target,
    /// The figure, when the run measured it.
    pub reading: Option<Reading>,
    /// [`judge`] of the figure, or [`Verdict::NotMeasured`].
    pub verdict: Verdict,
}

/// Compares a figure (in [`Target::unit`]) with the target's threshold.
pub fn judge(target: Target, value: f64) -> Verdict {
    let met = match target {
        Target::ProduceThroughput => value >= PRODUCE_MB_S_MIN,
        Target::FetchThroughput => value >= FETCH_MB_S_MIN,
        Target::ProduceLatency => value < PRODUCE_P99_US_MAX,
        Target::FetchLatency => value < FETCH_P99_US_MAX,
        Target::ProducerScaling => value >= SCALING_MIN,
        Target::Compaction => value < COMPACTION_MS_PER_100_MB_MAX,
    };
    if met { Verdict::Pass } else { Verdict::Fail }
}

/// Every target's outcome from one run's scenarios (the engine's only; naive cases are
/// ignored).
pub fn evaluate(scenarios: &[ScenarioResult]) -> Vec<Outcome> {
    Target::ALL
        .iter()
        .map(|&target| {
            let reading = read(target, scenarios);
            let verdict = reading
                .as_ref()
                .map_or(Verdict::NotMeasured, |r| judge(target, r.value));
            Outcome {
                target,
                reading,
                verdict,
            }
        })
        .collect()
}

/// The figure that answers `target`, when some case does.
pub fn read(target: Target, scenarios: &[ScenarioResult]) -> Option<Reading> {
    let size = ("size", TARGET_RECORD_BYTES);
    let (scenario, value) = match target {
        Target::ProduceThroughput => {
            let s =
                pick(scenarios, "write_throughput", &[size], &[Some("none")]).or_else(|| {
                    pick(
                        scenarios,
                        "batch_write_throughput",
                        &[size],
                        &[Some("none")],
                    )
                })?;
            (s, s.payload_mb_s)
        }
        Target::FetchThroughput => {
            let s = pick(scenarios, "sequential_fetch_cold", &[size], &[])
                .or_else(|| pick(scenarios, "sequential_fetch", &[size], &[]))
                .or_else(|| pick(scenarios, "read_throughput", &[size], &[]))
                .or_else(|| pick(scenarios, "sequential_fetch", &[], &[]))
                .or_else(|| pick(scenarios, "read_throughput", &[], &[]))?;
            (s, s.payload_mb_s)
        }
        Target::ProduceLatency => {
            let durabilities = [Some("sync"), Some("write"), Some("none")];
            let s = pick(scenarios, "produce_latency", &[size], &durabilities)?;
            (s, s.latency?.p99_us)
        }
        Target::FetchLatency => {
            let s = pick(scenarios, "fetch_latency", &[size], &[])
                .or_else(|| pick(scenarios, "fetch_latency", &[], &[]))?;
            (s, s.latency?.p99_us)
        }
        Target::ProducerScaling => {
            let s = producers(scenarios, Some(size)).or_else(|| producers(scenarios, None))?;
            (s, s.scaling?)
        }
        Target::Compaction => {
            let s = scenarios
                .iter()
                .filter(|s| s.engine == "ringlog" && s.name == "compaction")
                .filter(|s| s.compaction.is_some_and(|c| c.mb_before > 0.0))
                .max_by(|a, b| mb_before(a).total_cmp(&mb_before(b)))?;
            let figures = s.compaction?;
            (s, figures.duration_s * 1000.0 * 100.0 / figures.mb_before)
        }
    };
    Some(Reading {
        value,
        case: super::fmt::case(scenario),
        durability: scenario.durability.clone(),
    })
}

fn mb_before(scenario: &ScenarioResult) -> f64 {
    scenario.compaction.map_or(0.0, |c| c.mb_before)
}

/// `concurrent_producers` at [`TARGET_PRODUCERS`] (the `threads` field or a `producers`
/// parameter), durability none preferred, then sync.
fn producers<'a>(
    scenarios: &'a [ScenarioResult],
    size: Option<(&str, u64)>,
) -> Option<&'a ScenarioResult> {
    let four = u64::from(TARGET_PRODUCERS);
    ["none", "sync"].iter().find_map(|durability| {
        scenarios
            .iter()
            .filter(|s| s.engine == "ringlog" && s.name == "concurrent_producers")
            .filter(|s| s.threads == TARGET_PRODUCERS || s.params.get("producers") == Some(&four))
            .filter(|s| size.is_none_or(|(key, value)| s.params.get(key) == Some(&value)))
            .filter(|s| s.durability.as_deref() == Some(*durability))
            .max_by(|a, b| a.params.values().cmp(b.params.values()))
    })
}

/// The engine's case of `name` with the `required` parameters, in the first durability of
/// `durabilities` that has one (any durability when empty), with the largest remaining
/// parameters (compared in key order): the most messages, the largest batch or fetch, so the
/// steady state rather than an iteration that never leaves memory.
fn pick<'a>(
    scenarios: &'a [ScenarioResult],
    name: &str,
    required: &[(&str, u64)],
    durabilities: &[Option<&str>],
) -> Option<&'a ScenarioResult> {
    let matching = |s: &&ScenarioResult| {
        s.engine == "ringlog"
            && s.name == name
            && required
                .iter()
                .all(|(key, value)| s.params.get(*key) == Some(value))
    };
    let largest = |candidates: Vec<&'a ScenarioResult>| {
        candidates
            .into_iter()
            .max_by(|a, b| a.params.values().cmp(b.params.values()))
    };
    if durabilities.is_empty() {
        return largest(scenarios.iter().filter(matching).collect());
    }
    durabilities.iter().find_map(|durability| {
        largest(
            scenarios
                .iter()
                .filter(matching)
                .filter(|s| s.durability.as_deref() == *durability)
                .collect(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_include_their_bound_where_the_target_says_so() {
        assert_eq!(judge(Target::ProduceThroughput, 500.0), Verdict::Pass);
        assert_eq!(judge(Target::ProduceThroughput, 499.9), Verdict::Fail);
        assert_eq!(judge(Target::ProduceLatency, 2000.0), Verdict::Fail);
        assert_eq!(judge(Target::FetchLatency, 999.0), Verdict::Pass);
        assert_eq!(judge(Target::ProducerScaling, 0.7), Verdict::Pass);
        assert_eq!(judge(Target::Compaction, 100.0), Verdict::Fail);
    }

    #[test]
    fn an_empty_run_measures_nothing() {
        assert!(
            evaluate(&[])
                .iter()
                .all(|o| o.verdict == Verdict::NotMeasured && o.reading.is_none())
        );
    }
}
