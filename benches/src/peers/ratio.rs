//! ringlog's ratio to each peer, case by case: a pure function of the figures.

use crate::results::{PeerRatio, ScenarioResult};

/// The engine the ratios are ringlog's.
pub const RINGLOG: &str = "ringlog";
/// Scenario of the one-operation reopen, compared by time rather than throughput.
pub const REOPEN: &str = "peer_reopen";

/// ringlog's ratio to every other engine on every case both ran (same scenario, durability
/// and parameters): records per second, ringlog / peer; for [`REOPEN`], time, peer /
/// ringlog. Above 1 means ringlog did better. Cases with a zero figure are left out.
pub fn ratios(scenarios: &[ScenarioResult]) -> Vec<PeerRatio> {
    let mut out = Vec::new();
    for ours in scenarios.iter().filter(|s| s.engine == RINGLOG) {
        for theirs in scenarios.iter().filter(|s| {
            s.engine != RINGLOG
                && s.name == ours.name
                && s.durability == ours.durability
                && s.params == ours.params
        }) {
            let (metric, value) = if ours.name == REOPEN {
                ("time", theirs.elapsed_s / ours.elapsed_s)
            } else {
                ("records/s", ours.messages_per_s / theirs.messages_per_s)
            };
            if value.is_finite() && value > 0.0 {
                out.push(PeerRatio {
                    scenario: ours.name.clone(),
                    durability: ours.durability.clone(),
                    params: ours.params.clone(),
                    peer: theirs.engine.clone(),
                    metric: metric.to_string(),
                    ringlog_vs_peer: value,
                    spread: None,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn case(engine: &str, name: &str, records_per_s: f64, elapsed_s: f64) -> ScenarioResult {
        ScenarioResult {
            name: name.to_string(),
            category: "peers".to_string(),
            engine: engine.to_string(),
            io_path: String::new(),
            durability: Some("cheapest".to_string()),
            params: BTreeMap::from([("records".to_string(), 100)]),
            threads: 1,
            operations: 1,
            messages: 100,
            payload_bytes: 102_400,
            disk_bytes: None,
            elapsed_s,
            payload_mb_s: 1.0,
            disk_mb_s: None,
            messages_per_s: records_per_s,
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
    fn throughput_is_ringlog_over_peer_and_reopen_is_peer_time_over_ringlog() {
        let scenarios = [
            case("ringlog", "peer_append", 4000.0, 1.0),
            case("fjall", "peer_append", 1000.0, 1.0),
            case("ringlog", REOPEN, 100.0, 0.01),
            case("fjall", REOPEN, 100.0, 0.05),
            case("naive", "peer_read_seq", 10.0, 1.0),
        ];
        let ratios = ratios(&scenarios);
        assert_eq!(ratios.len(), 2, "the naive case has no ringlog twin");
        assert_eq!(ratios[0].peer, "fjall");
        assert_eq!(ratios[0].metric, "records/s");
        assert!((ratios[0].ringlog_vs_peer - 4.0).abs() < 1e-9);
        assert_eq!(ratios[1].metric, "time");
        assert!((ratios[1].ringlog_vs_peer - 5.0).abs() < 1e-9);
    }
}
