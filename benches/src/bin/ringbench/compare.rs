//! `ringbench compare OLD.json NEW.json`: case-by-case comparison of two runs, and the rule
//! that calls a change a regression.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use benches::results::{RunResult, ScenarioResult};

/// Default regression threshold, percent.
///
/// Why 25 %: on this 2-core VM with a virtual disk, the same configuration has varied 2-5x
/// between runs on fdatasync-bound figures (sync produce latency, sync concurrent producers),
/// and by 10-20 % on in-memory ones. A tighter default would flag noise on every run; a
/// looser one would miss real regressions of the cached paths. Repeat a suspicious scenario
/// (several suite runs, compare each) before believing a single flag, and raise the
/// threshold for sync scenarios.
pub const DEFAULT_THRESHOLD_PCT: f64 = 25.0;

/// What identifies a case across runs: name, parameters, durability, engine.
type Key = (String, Vec<(String, u64)>, Option<String>, String);

fn key(r: &ScenarioResult) -> Key {
    (
        r.name.clone(),
        r.params.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        r.durability.clone(),
        r.engine.clone(),
    )
}

/// The verdict on one case.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Both runs have it; `regressed` when throughput fell or p99 rose beyond the threshold.
    Compared {
        /// Payload MB/s old, new, change in percent.
        throughput: (f64, f64, f64),
        /// p99 in µs old, new, change in percent, when both have latency.
        p99: Option<(f64, f64, f64)>,
        /// Whether this is a regression.
        regressed: bool,
        /// Whether it improved beyond the threshold (throughput up or p99 down).
        improved: bool,
    },
    /// Only OLD has it (not a regression).
    Missing,
    /// Only NEW has it.
    Added,
}

fn change_pct(old: f64, new: f64) -> f64 {
    if old == 0.0 {
        if new == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (new - old) / old * 100.0
    }
}

/// The rule: a case regressed when its payload throughput fell by more than `threshold_pct`
/// percent, or its p99 latency rose by more than `threshold_pct` percent.
pub fn judge(old: &ScenarioResult, new: &ScenarioResult, threshold_pct: f64) -> Verdict {
    let throughput = (
        old.payload_mb_s,
        new.payload_mb_s,
        change_pct(old.payload_mb_s, new.payload_mb_s),
    );
    let p99 = match (old.latency, new.latency) {
        (Some(o), Some(n)) => Some((o.p99_us, n.p99_us, change_pct(o.p99_us, n.p99_us))),
        _ => None,
    };
    let slower = throughput.2 < -threshold_pct;
    let later = p99.is_some_and(|p| p.2 > threshold_pct);
    let faster = throughput.2 > threshold_pct;
    let sooner = p99.is_some_and(|p| p.2 < -threshold_pct);
    Verdict::Compared {
        throughput,
        p99,
        regressed: slower || later,
        improved: (faster || sooner) && !(slower || later),
    }
}

/// Every case of `old` and `new` with its verdict, in OLD's order then NEW's additions.
pub fn compare(old: &RunResult, new: &RunResult, threshold_pct: f64) -> Vec<(Key, Verdict)> {
    let new_by_key: BTreeMap<Key, &ScenarioResult> =
        new.scenarios.iter().map(|r| (key(r), r)).collect();
    let old_keys: Vec<Key> = old.scenarios.iter().map(key).collect();
    let mut out: Vec<(Key, Verdict)> = old
        .scenarios
        .iter()
        .map(|o| {
            let k = key(o);
            let verdict = new_by_key
                .get(&k)
                .map_or(Verdict::Missing, |n| judge(o, n, threshold_pct));
            (k, verdict)
        })
        .collect();
    for n in &new.scenarios {
        let k = key(n);
        if !old_keys.contains(&k) {
            out.push((k, Verdict::Added));
        }
    }
    out
}

fn describe(k: &Key) -> String {
    let params: Vec<String> = k.1.iter().map(|(p, v)| format!("{p}={v}")).collect();
    let durability = k.2.as_deref().map_or_else(String::new, |d| format!(" {d}"));
    let engine = if k.3 == "ringlog" {
        String::new()
    } else {
        format!(" ({})", k.3)
    };
    format!("{}{durability} {}{engine}", k.0, params.join(" "))
}

/// The comparison table, and whether any case regressed.
pub fn table(verdicts: &[(Key, Verdict)], threshold_pct: f64) -> (String, bool) {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<64} {:>11} {:>11} {:>8} {:>11} {:>11} {:>8}  flag",
        "case", "old MB/s", "new MB/s", "change", "old p99 us", "new p99 us", "change"
    );
    let (mut regressions, mut missing) = (0, 0);
    for (k, verdict) in verdicts {
        let name = describe(k);
        match verdict {
            Verdict::Compared {
                throughput,
                p99,
                regressed,
                improved,
            } => {
                let (p_old, p_new, p_change) = p99.map_or_else(
                    || ("-".to_string(), "-".to_string(), "-".to_string()),
                    |p| {
                        (
                            format!("{:.1}", p.0),
                            format!("{:.1}", p.1),
                            format!("{:+.1}%", p.2),
                        )
                    },
                );
                let flag = if *regressed {
                    regressions += 1;
                    "REGRESSION"
                } else if *improved {
                    "improved"
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    "{name:<64} {:>11.1} {:>11.1} {:>+7.1}% {p_old:>11} {p_new:>11} {p_change:>8}  {flag}",
                    throughput.0, throughput.1, throughput.2
                );
            }
            Verdict::Missing => {
                missing += 1;
                let _ = writeln!(s, "{name:<64} missing from NEW (not a regression)");
            }
            Verdict::Added => {
                let _ = writeln!(s, "{name:<64} only in NEW");
            }
        }
    }
    let _ = writeln!(
        s,
        "{} cases compared, threshold {threshold_pct}%: {regressions} regression(s), {missing} \
         missing from NEW",
        verdicts.len()
    );
    (s, regressions > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use benches::results::{Environment, Latency, SCHEMA_VERSION};

    fn result(name: &str, mb_s: f64, p99_us: Option<f64>) -> ScenarioResult {
        ScenarioResult {
            name: name.to_string(),
            category: "produce".to_string(),
            engine: "ringlog".to_string(),
            io_path: "io_uring+O_DIRECT".to_string(),
            durability: Some("sync".to_string()),
            params: BTreeMap::from([("size".to_string(), 1024)]),
            threads: 1,
            operations: 100,
            messages: 100,
            payload_bytes: 102_400,
            disk_bytes: None,
            elapsed_s: 1.0,
            payload_mb_s: mb_s,
            disk_mb_s: None,
            messages_per_s: 100.0,
            latency: p99_us.map(|p99_us| Latency {
                p50_us: 1.0,
                p90_us: 1.0,
                p99_us,
                p999_us: p99_us,
                max_us: p99_us,
                mean_us: 1.0,
                p75_us: None,
                p95_us: None,
                p995_us: None,
                p9999_us: None,
            }),
            cpu_us_per_op: None,
            allocations_per_op: None,
            scaling: None,
            compaction: None,
            disk_write_bytes: None,
            timeline: None,
            spread: None,
        }
    }

    fn run(scenarios: Vec<ScenarioResult>) -> RunResult {
        RunResult {
            schema: SCHEMA_VERSION,
            environment: Environment {
                cpu_model: String::new(),
                cores: 2,
                memory_bytes: 0,
                kernel: String::new(),
                filesystem: String::new(),
                device: None,
                data_dir: String::new(),
                dio_alignment: None,
                io_uring: String::new(),
                io_path: String::new(),
                cache_bytes: 0,
                git_revision: None,
                rustc: None,
                profile: "quick".to_string(),
                started_utc: String::new(),
            },
            scenarios,
            peers: None,
            disk: None,
        }
    }

    fn regressed(v: &Verdict) -> bool {
        matches!(
            v,
            Verdict::Compared {
                regressed: true,
                ..
            }
        )
    }

    #[test]
    fn a_throughput_drop_beyond_the_threshold_regresses() {
        let v = judge(&result("a", 100.0, None), &result("a", 70.0, None), 25.0);
        assert!(regressed(&v), "{v:?}");
    }

    #[test]
    fn a_p99_rise_beyond_the_threshold_regresses() {
        let v = judge(
            &result("a", 100.0, Some(1000.0)),
            &result("a", 100.0, Some(1300.0)),
            25.0,
        );
        assert!(regressed(&v), "{v:?}");
    }

    #[test]
    fn changes_within_the_threshold_pass() {
        let v = judge(
            &result("a", 100.0, Some(1000.0)),
            &result("a", 80.0, Some(1200.0)),
            25.0,
        );
        assert!(!regressed(&v), "{v:?}");
        let better = judge(&result("a", 100.0, None), &result("a", 300.0, None), 25.0);
        assert!(matches!(
            better,
            Verdict::Compared {
                improved: true,
                regressed: false,
                ..
            }
        ));
    }

    #[test]
    fn a_case_missing_from_new_is_reported_but_not_a_regression() {
        let old = run(vec![result("a", 100.0, None), result("b", 100.0, None)]);
        let new = run(vec![result("a", 100.0, None), result("c", 1.0, None)]);
        let verdicts = compare(&old, &new, 25.0);
        assert_eq!(verdicts[1].1, Verdict::Missing);
        assert_eq!(verdicts[2].1, Verdict::Added);
        let (text, any) = table(&verdicts, 25.0);
        assert!(!any, "{text}");
        assert!(text.contains("missing from NEW"), "{text}");
    }

    #[test]
    fn cases_match_on_durability_too() {
        let mut none = result("a", 10.0, None);
        none.durability = Some("none".to_string());
        let old = run(vec![result("a", 100.0, None)]);
        let new = run(vec![none]);
        let verdicts = compare(&old, &new, 25.0);
        assert_eq!(verdicts[0].1, Verdict::Missing);
    }
}
