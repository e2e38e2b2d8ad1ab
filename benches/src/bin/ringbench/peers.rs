//! `ringbench peers`: the peer workload ([`benches::peers::workload`]) on ringlog and every
//! peer built into this binary, one engine after the other, for a number of rounds (the
//! engines interleaved; merged by [`benches::peers::rounds`]); prints the Peers section of the
//! report and writes `DIR/peers.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use benches::peers::os::CacheDrop;
use benches::peers::records::{BATCH_RECORDS, RECORD_BYTES};
use benches::peers::workload::{POINT_READ_SEED, Plan, run_peer};
use benches::peers::{Peer, rounds};
use benches::report::peers::{PEERS_FILE, section};
use benches::results::{PeersInfo, RunResult, SCHEMA_VERSION, ScenarioResult};
use benches::scenarios::Profile;

use crate::environment;

/// Rounds of the workload unless told otherwise (quick and full profiles).
pub const DEFAULT_ROUNDS: u32 = 3;

/// What to run.
#[derive(Debug)]
pub struct PeersOptions {
    /// Sizes.
    pub profile: Profile,
    /// Directory of `peers.json`.
    pub out: PathBuf,
    /// Rounds of the whole workload (at least 1).
    pub rounds: u32,
    /// Engines to run, ringlog first; those not built are listed as such.
    pub engines: Vec<Peer>,
    /// How cold phases empty the page cache.
    pub cache: CacheDrop,
}

/// One progress line per case.
fn progress_line(r: &ScenarioResult) -> String {
    use std::fmt::Write as _;
    let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut line = format!(
        "{} {} [{}{}] {} ops in {:.3} s: {:.1} MB/s, {:.0} records/s",
        r.engine,
        r.name,
        r.durability
            .as_deref()
            .map_or_else(String::new, |d| format!("{d} ")),
        params.join(" "),
        r.operations,
        r.elapsed_s,
        r.payload_mb_s,
        r.messages_per_s
    );
    if let Some(l) = r.latency {
        let _ = write!(line, ", p50 {:.1} us, p99 {:.1} us", l.p50_us, l.p99_us);
    }
    if let Some(w) = r.disk_write_bytes {
        let _ = write!(line, ", {:.1} MB written", w as f64 / 1e6);
    }
    line
}

/// Runs the engines and writes `out/peers.json`; returns its path after printing the section.
///
/// # Errors
/// A message naming the engines that failed (their figures up to the failure are written), or
/// what could not be written.
pub fn run(options: &PeersOptions) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let started = Instant::now();
    let cache = options.cache.resolve();
    let environment = environment::gather(options.profile);
    let plan = Plan {
        count_allocations: true,
        ..Plan::for_profile(options.profile)
    };
    eprintln!(
        "ringbench peers: profile {}, {} round(s), {} records of {} B in batches of {}, sync \
         cases {} records, {} point reads; data in {} on {}; cold phases empty the page cache \
         with {}",
        options.profile.name(),
        options.rounds,
        plan.records,
        plan.record_bytes,
        plan.batch_records,
        plan.sync_records,
        plan.point_reads,
        environment.data_dir,
        environment.filesystem,
        cache.name()
    );
    let base = benches::bench_dir();
    let mut not_built = Vec::new();
    let mut engines = Vec::new();
    for &peer in &options.engines {
        if peer.built() {
            engines.push(peer.describe());
        } else {
            eprintln!(
                "ringbench peers: {peer} is not built into this binary (cargo feature `{}`)",
                peer.feature().unwrap_or("peers")
            );
            not_built.push(peer.name().to_string());
        }
    }
    let (rounds, failures) = run_rounds(options, &plan, cache, base.path());
    let scenarios = rounds::merge(&rounds);
    let result = RunResult {
        schema: SCHEMA_VERSION,
        environment,
        peers: Some(PeersInfo {
            cache_drop: cache.name().to_string(),
            record_bytes: RECORD_BYTES as u64,
            batch_records: BATCH_RECORDS as u64,
            point_read_seed: POINT_READ_SEED,
            engines,
            not_built,
            failures: failures.clone(),
            ratios: rounds::merge_ratios(&rounds),
            rounds: u64::from(options.rounds),
        }),
        scenarios,
        disk: None,
    };
    let path = options.out.join(PEERS_FILE);
    result
        .save(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    print_section(&result);
    eprintln!(
        "ringbench peers: {} cases in {:.1} s",
        result.scenarios.len(),
        started.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        Ok(path)
    } else {
        Err(format!(
            "{} (figures so far in {})",
            failures.join("; "),
            path.display()
        ))
    }
}

/// Every round of the workload on every built engine, interleaved; an engine that fails is
/// not run again (its figures so far stay). Returns each round's figures and the failures.
fn run_rounds(
    options: &PeersOptions,
    plan: &Plan,
    cache: CacheDrop,
    base: &Path,
) -> (Vec<Vec<ScenarioResult>>, Vec<String>) {
    let mut rounds: Vec<Vec<ScenarioResult>> = Vec::new();
    let mut failures = Vec::new();
    let mut failed: Vec<Peer> = Vec::new();
    for round in 1..=options.rounds {
        let mut scenarios = Vec::new();
        for &peer in &options.engines {
            if !peer.built() || failed.contains(&peer) {
                continue;
            }
            let peer_started = Instant::now();
            let outcome = run_peer(peer, plan, cache, base, &mut |r| {
                eprintln!("[round {round}/{}] {}", options.rounds, progress_line(&r));
                scenarios.push(r);
            });
            match outcome {
                Ok(()) => eprintln!(
                    "ringbench peers: round {round}: {peer} done in {:.1} s",
                    peer_started.elapsed().as_secs_f64()
                ),
                Err(e) => {
                    eprintln!("ringbench peers: round {round}: {e}");
                    failures.push(format!("round {round}: {e}"));
                    failed.push(peer);
                }
            }
        }
        rounds.push(scenarios);
    }
    (rounds, failures)
}

fn print_section(result: &RunResult) {
    let mut text = String::new();
    section(&mut text, result).expect("writing to a String cannot fail");
    print!("{text}");
}

/// The engines named in `list` (comma-separated), ringlog always first; every engine when
/// `list` is `None`.
///
/// # Errors
/// An unknown name.
pub fn engines(list: Option<&str>) -> Result<Vec<Peer>, String> {
    let Some(list) = list else {
        return Ok(Peer::ALL.to_vec());
    };
    let mut out = vec![Peer::Ringlog];
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let peer = Peer::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Peer::ALL.iter().map(|p| p.name()).collect();
            format!("unknown engine {name:?}: expected {}", known.join(", "))
        })?;
        if !out.contains(&peer) {
            out.push(peer);
        }
    }
    Ok(out)
}
