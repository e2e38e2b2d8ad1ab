//! Several rounds of the peer workload, merged into one set of figures: every engine runs the
//! whole workload once per round, the engines interleaved (ringlog, each peer, then ringlog
//! again), so a disk that drifts over minutes weighs on every engine alike.
//!
//! A case's figure is its median round (by records per second; for the one-operation reopen,
//! by time), whole: its latency percentiles are that round's. Its [`Spread`] gives the
//! smallest and largest of every round. A ratio is the median of the rounds' ratios, each
//! round pairing ringlog with the peer of the same round, with their range.

use super::ratio::{self, REOPEN};
use crate::results::{PeerRatio, Range, ScenarioResult, Spread};

/// Whether two results are the same case of the same engine.
fn same_case(a: &ScenarioResult, b: &ScenarioResult) -> bool {
    a.engine == b.engine && a.name == b.name && a.durability == b.durability && a.params == b.params
}

/// The median of `values` (the upper one of an even count); `None` when empty.
fn median_index(values: &[f64]) -> Option<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    order.get(values.len() / 2).copied()
}

/// One result per engine and case: the median round's, with the spread of all rounds. Cases
/// keep the order in which they first ran.
pub fn merge(rounds: &[Vec<ScenarioResult>]) -> Vec<ScenarioResult> {
    let mut keys: Vec<&ScenarioResult> = Vec::new();
    for s in rounds.iter().flatten() {
        if !keys.iter().any(|k| same_case(k, s)) {
            keys.push(s);
        }
    }
    keys.into_iter()
        .map(|key| {
            let passes: Vec<&ScenarioResult> = rounds
                .iter()
                .flatten()
                .filter(|s| same_case(key, s))
                .collect();
            // A reopen is one operation with no records: its figure is its time (less is
            // better, so the median by time is the median by speed reversed).
            let figures: Vec<f64> = passes
                .iter()
                .map(|s| {
                    if s.name == REOPEN {
                        -s.elapsed_s
                    } else {
                        s.messages_per_s
                    }
                })
                .collect();
            let median = median_index(&figures).expect("a case has at least one round");
            ScenarioResult {
                spread: Spread::of_results(&passes),
                ..passes[median].clone()
            }
        })
        .collect()
}

/// ringlog's ratio to each peer on each case: the median of the rounds' ratios, with their
/// range when there are several.
pub fn merge_ratios(rounds: &[Vec<ScenarioResult>]) -> Vec<PeerRatio> {
    let per_round: Vec<Vec<PeerRatio>> = rounds.iter().map(|r| ratio::ratios(r)).collect();
    let same = |a: &PeerRatio, b: &PeerRatio| {
        a.scenario == b.scenario
            && a.durability == b.durability
            && a.params == b.params
            && a.peer == b.peer
    };
    let mut keys: Vec<&PeerRatio> = Vec::new();
    for r in per_round.iter().flatten() {
        if !keys.iter().any(|k| same(k, r)) {
            keys.push(r);
        }
    }
    keys.into_iter()
        .map(|key| {
            let values: Vec<f64> = per_round
                .iter()
                .flatten()
                .filter(|r| same(key, r))
                .map(|r| r.ringlog_vs_peer)
                .collect();
            let median = median_index(&values).expect("a ratio has at least one round");
            PeerRatio {
                ringlog_vs_peer: values[median],
                spread: Range::of(&values),
                ..key.clone()
            }
        })
        .collect()
}

// The merged figures are copies of the rounds' values, never computed: exact comparison holds.
#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::results::Latency;
    use std::collections::BTreeMap;

    /// Percentiles of a histogram holding one latency of `us` microseconds.
    fn latency_us(us: f64) -> Option<Latency> {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("a histogram");
        h.record((us * 1e3) as u64).expect("in range");
        Latency::from_histogram_ns(&h)
    }

    fn case(engine: &str, name: &str, records_per_s: f64, elapsed_s: f64) -> ScenarioResult {
        ScenarioResult {
            name: name.to_string(),
            category: "peers".to_string(),
            engine: engine.to_string(),
            io_path: String::new(),
            durability: None,
            params: BTreeMap::from([("records".to_string(), 100)]),
            threads: 1,
            operations: 1,
            messages: 100,
            payload_bytes: 102_400,
            disk_bytes: None,
            elapsed_s,
            payload_mb_s: records_per_s / 1000.0,
            disk_mb_s: None,
            messages_per_s: records_per_s,
            latency: latency_us(1e6 / records_per_s),
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
    fn a_case_is_its_median_round_with_the_range_of_all() {
        let rounds = vec![
            vec![
                case("ringlog", "read", 300.0, 1.0),
                case("naive", "read", 100.0, 1.0),
            ],
            vec![
                case("ringlog", "read", 100.0, 3.0),
                case("naive", "read", 200.0, 1.0),
            ],
            vec![
                case("ringlog", "read", 200.0, 2.0),
                case("naive", "read", 100.0, 1.0),
            ],
        ];
        let merged = merge(&rounds);
        assert_eq!(merged.len(), 2, "one result per engine and case");
        let ours = &merged[0];
        assert_eq!(ours.engine, "ringlog");
        assert_eq!(ours.messages_per_s, 200.0);
        assert_eq!(ours.elapsed_s, 2.0, "the median round whole");
        let near = |a: f64, b: f64| (a - b).abs() <= b * 1e-3;
        assert!(near(ours.latency.expect("a latency").p50_us, 5000.0));
        let spread = ours.spread.expect("three rounds have a spread");
        assert_eq!(spread.passes, 3);
        assert_eq!(
            spread.records_per_s,
            Some(Range {
                min: 100.0,
                max: 300.0
            })
        );
        assert_eq!((spread.min_mb_s, spread.max_mb_s), (0.1, 0.3));
        let p50 = spread.p50_us.expect("every round has a p50");
        assert!(near(p50.min, 1e6 / 300.0) && near(p50.max, 1e4), "{p50:?}");
        assert_eq!(spread.elapsed_s, Some(Range { min: 1.0, max: 3.0 }));

        let ratios = merge_ratios(&rounds);
        assert_eq!(ratios.len(), 1);
        // Rounds: 3.0, 0.5, 2.0: the median is 2.0, not the ratio of the medians (2.0/1.0).
        assert_eq!(ratios[0].ringlog_vs_peer, 2.0);
        assert_eq!(ratios[0].spread, Some(Range { min: 0.5, max: 3.0 }));
    }

    #[test]
    fn a_reopen_takes_its_median_by_time() {
        let rounds: Vec<Vec<ScenarioResult>> = [0.3, 0.1, 0.2]
            .iter()
            .map(|&t| vec![case("ringlog", REOPEN, 0.0, t)])
            .collect();
        let merged = merge(&rounds);
        assert_eq!(merged[0].elapsed_s, 0.2);
    }

    #[test]
    fn one_round_has_no_spread() {
        let rounds = vec![vec![
            case("ringlog", "read", 300.0, 1.0),
            case("naive", "read", 100.0, 1.0),
        ]];
        let merged = merge(&rounds);
        assert!(merged.iter().all(|s| s.spread.is_none()));
        let ratios = merge_ratios(&rounds);
        assert_eq!(ratios[0].ringlog_vs_peer, 3.0);
        assert_eq!(ratios[0].spread, None);
    }

    #[test]
    fn an_engine_missing_from_a_round_keeps_the_rounds_it_ran() {
        let rounds = vec![
            vec![
                case("ringlog", "read", 300.0, 1.0),
                case("naive", "read", 100.0, 1.0),
            ],
            vec![case("ringlog", "read", 100.0, 3.0)],
        ];
        let merged = merge(&rounds);
        assert_eq!(merged[1].engine, "naive");
        assert!(merged[1].spread.is_none(), "one round of naive");
        let ratios = merge_ratios(&rounds);
        assert_eq!(ratios.len(), 1);
        assert_eq!(ratios[0].ringlog_vs_peer, 3.0);
    }
}
