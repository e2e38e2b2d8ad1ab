//! io_uring vs mmap vs naive: the same case measured on several I/O paths or by the naive
//! baseline, matched by scenario (without the `naive_` prefix), parameters and durability.
//!
//! Ratios are "times better": throughput divides this by that, latency that by this, so above
//! 1 always means the first one wins. The baseline is measured in every run; a path is divided
//! by the naive figure of its own run, never by another run's.

use std::collections::BTreeMap;

use crate::results::ScenarioResult;

/// Prefix of the baseline's scenarios.
pub const NAIVE_PREFIX: &str = "naive_";

/// What a case is matched on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// The scenario without [`NAIVE_PREFIX`].
    pub base: String,
    /// Its parameters.
    pub params: BTreeMap<String, u64>,
    /// Its durability mode.
    pub durability: Option<String>,
}

/// Which figure is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Payload MB/s (higher is better).
    PayloadMbS,
    /// p99 latency, microseconds (lower is better).
    P99Us,
}

impl Metric {
    /// How the metric is printed in the table.
    pub fn name(self) -> &'static str {
        match self {
            Metric::PayloadMbS => "payload MB/s",
            Metric::P99Us => "p99 us",
        }
    }

    fn of(self, scenario: &ScenarioResult) -> Option<f64> {
        match self {
            Metric::PayloadMbS => (scenario.payload_mb_s > 0.0).then_some(scenario.payload_mb_s),
            Metric::P99Us => scenario.latency.map(|l| l.p99_us),
        }
    }
}

/// One case across the runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The case.
    pub key: Key,
    /// The figure compared.
    pub metric: Metric,
    /// The engine's figure in each run, in the order of the runs given.
    pub engine: Vec<Option<f64>>,
    /// The baseline's figure in each run.
    pub naive: Vec<Option<f64>>,
}

impl Comparison {
    /// How many times better the engine of run `run` is than the naive baseline of that run.
    pub fn engine_vs_naive(&self, run: usize) -> Option<f64> {
        Some(times_better(
            self.metric,
            self.engine[run]?,
            self.naive[run]?,
        ))
    }

    /// How many times better the engine of run `a` is than the engine of run `b`.
    pub fn engine_vs_engine(&self, a: usize, b: usize) -> Option<f64> {
        Some(times_better(self.metric, self.engine[a]?, self.engine[b]?))
    }
}

/// How many times better `this` is than `that` on `metric`.
pub fn times_better(metric: Metric, this: f64, that: f64) -> f64 {
    match metric {
        Metric::PayloadMbS => this / that,
        Metric::P99Us => that / this,
    }
}

/// Every case measured at least twice across the runs (on two paths, or by the engine and the
/// baseline), in key order; latency cases are compared on p99 as well as on throughput.
pub fn comparisons(runs: &[&[ScenarioResult]]) -> Vec<Comparison> {
    let mut table: BTreeMap<(Key, Metric), Comparison> = BTreeMap::new();
    for (index, scenarios) in runs.iter().enumerate() {
        for scenario in *scenarios {
            let (base, naive) = match scenario.name.strip_prefix(NAIVE_PREFIX) {
                Some(base) => (base, true),
                None => (scenario.name.as_str(), scenario.engine == "naive"),
            };
            let key = Key {
                base: base.to_string(),
                params: scenario.params.clone(),
                durability: scenario.durability.clone(),
            };
            for metric in [Metric::PayloadMbS, Metric::P99Us] {
                let Some(value) = metric.of(scenario) else {
                    continue;
                };
                let entry = table
                    .entry((key.clone(), metric))
                    .or_insert_with(|| Comparison {
                        key: key.clone(),
                        metric,
                        engine: vec![None; runs.len()],
                        naive: vec![None; runs.len()],
                    });
                let side = if naive {
                    &mut entry.naive
                } else {
                    &mut entry.engine
                };
                side[index] = Some(value);
            }
        }
    }
    table
        .into_values()
        .filter(|c| c.engine.iter().flatten().count() + c.naive.iter().flatten().count() >= 2)
        .filter(|c| c.engine.iter().any(Option::is_some))
        .collect()
}
