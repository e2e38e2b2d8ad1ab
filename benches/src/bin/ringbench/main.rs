//! ringbench: ringlog's scenario runner.
//!
//! ```text
//! ringbench suite [--smoke|--quick|--full] [--out DIR]   # results/<UTC>/ringbench-<io>.json
//! ringbench produce --dir DIR [--size B] [--count N | --duration-s S] [--batch B]
//!                   [--partitions P] [--producers T] [--durability none|write|sync]
//!                   [--target-rate R] [--in-flight N] [--out FILE]
//! ringbench consume --dir DIR [--partitions P] [--consumers T] [--fetch-bytes N]
//!                   [--target-rate R]
//! ringbench peers [--smoke|--quick|--full] [--out DIR] [--rounds N] [--engines a,b]
//!                 [--cache-drop M]
//!                                                        # DIR/peers.json
//! ringbench disk [--smoke|--quick|--full] [--duration-s S] [--dir DIR] [--out FILE]
//!                                                        # the disk's limits: disk.json
//! ringbench compare OLD.json NEW.json [--threshold PCT]  # exit 1 on a regression
//! ringbench report DIR                                   # summary.md and plots
//! ```
//!
//! Data of `suite` goes to `RINGLOG_BENCH_DIR` (else the system's temporary directory) and is
//! deleted case by case. Allocations are counted with `CountingAllocator` for the measuring
//! thread (and summed over the threads a concurrent scenario spawns).

mod cold_read;
mod compaction_contention;
mod compare;
mod disk;
mod environment;
mod log_scenarios;
mod measure;
mod peers;
mod perf;
mod suite;
mod topic_read_scenarios;
mod topic_scenarios;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use benches::results::RunResult;
use benches::scenarios::Profile;
use clap::{Parser, Subcommand, ValueEnum};
use ringlog::Durability;

#[global_allocator]
static ALLOC: ringlog_sys::alloc_count::CountingAllocator =
    ringlog_sys::alloc_count::CountingAllocator;

/// ringlog's scenario runner: the benchmark suite with its own timing loops, Kafka-style
/// perf tests, and comparison of result files.
#[derive(Parser, Debug)]
#[command(name = "ringbench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the scenarios of the Divan suite and writes DIR/ringbench-<io>.json; prints its
    /// path last.
    Suite {
        /// One tiny case per scenario (seconds; CI).
        #[arg(long, group = "profile")]
        smoke: bool,
        /// A representative subset (about 40 s on a 2-core machine; the default).
        #[arg(long, group = "profile")]
        quick: bool,
        /// The full grids (under 20 minutes).
        #[arg(long, group = "profile")]
        full: bool,
        /// Output directory (default results/<UTC timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs only these scenarios, by name as in the results (comma-separated; a name
        /// before `::` selects all of its parts); default: all of them.
        #[arg(long, value_delimiter = ',', value_name = "NAME")]
        only: Vec<String>,
    },
    /// Runs ringlog and the peer engines built into this binary (`--features peers`) on one
    /// workload: batched appends (cheapest durability, then a sync per batch with 1 and 4
    /// producers), reopen, sequential and point reads cold and warm. Prints the figures and
    /// ringlog's ratio to each peer, writes DIR/peers.json, and prints its path last.
    Peers {
        /// Tiny sizes (seconds; CI).
        #[arg(long, group = "peers_profile")]
        smoke: bool,
        /// 262 144 records (256 MiB) per engine: about a minute for all, three rounds (the
        /// default).
        #[arg(long, group = "peers_profile")]
        quick: bool,
        /// 1 000 000 records (about 1 GiB) per engine: a few minutes per round.
        #[arg(long, group = "peers_profile")]
        full: bool,
        /// Output directory (default results/<UTC timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Rounds of the whole workload, the engines interleaved in each (default 3; 1 with
        /// --smoke): every figure is the median round's, with the range of all rounds.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        rounds: Option<u32>,
        /// Engines beside ringlog, comma-separated (default: all): raft-engine, fjall,
        /// glommio, naive, rocksdb.
        #[arg(long)]
        engines: Option<String>,
        /// How cold phases empty the page cache: auto (drop_caches when it is writable, i.e.
        /// as root; else fadvise), drop_caches, fadvise.
        #[arg(long, default_value = "auto")]
        cache_drop: benches::peers::os::CacheDrop,
    },
    /// Measures the disk's own limits through the engine's io_uring ring and O_DIRECT files,
    /// with no engine logic: sequential writes (fallocated and overwritten space) and reads at
    /// the engine's write chunk size, 128 KiB, 256 KiB and 1 MiB, at the engine's write depth
    /// and at 1 (reads at 1 and 4); 4 KiB and 128 KiB write + fdatasync at depth 1. Prints a
    /// table, writes the result (`disk.json`) and prints its path last.
    Disk {
        /// Tiny cases (a second or two in all; CI).
        #[arg(long, group = "disk_profile")]
        smoke: bool,
        /// 2 s per case, files of 2 GiB (the default; about a minute).
        #[arg(long, group = "disk_profile")]
        quick: bool,
        /// 5 s per case, files of 4 GiB.
        #[arg(long, group = "disk_profile")]
        full: bool,
        /// Seconds per case, instead of the profile's.
        #[arg(long)]
        duration_s: Option<f64>,
        /// MiB of each file, instead of the profile's (a fallocated case stops at its end).
        #[arg(long)]
        file_mib: Option<u64>,
        /// Directory for the files (default RINGLOG_BENCH_DIR, else target/bench-data of this
        /// workspace; never tmpfs, which has no disk).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Result file, or a directory to write disk.json into (default
        /// results/<UTC timestamp>/disk.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Produces to a topic and prints what kafka-producer-perf-test prints.
    Produce {
        /// Data directory (kept after the run).
        #[arg(long, required_unless_present = "bootstrap")]
        dir: Option<PathBuf>,
        /// Produce through Kafka's wire protocol to a running ringlog-server at HOST:PORT
        /// (acks -1; the topic is created with --partitions and --durability if missing)
        /// instead of to the engine in this process.
        #[arg(long, value_name = "HOST:PORT")]
        bootstrap: Option<String>,
        /// Topic name.
        #[arg(long, default_value = "perf-test")]
        topic: String,
        /// Payload bytes per record.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Records to send.
        #[arg(long, default_value_t = 1_000_000, conflicts_with = "duration_s")]
        count: u64,
        /// Produce for this many seconds instead of --count records.
        #[arg(long)]
        duration_s: Option<f64>,
        /// Records per produce call.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Partitions of the topic if it has to be created.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Producer threads.
        #[arg(long, default_value_t = 1)]
        producers: usize,
        /// Produce calls in flight per producer (like Kafka's
        /// max.in.flight.requests.per.connection): each producer submits up to this many
        /// before waiting for the oldest; 1 waits for each call before the next.
        #[arg(long, default_value_t = 1)]
        in_flight: usize,
        /// Durability of the topic if it has to be created.
        #[arg(long, value_enum, default_value_t = DurabilityArg::None)]
        durability: DurabilityArg,
        /// Records per second over all producers; latency is then measured from each produce
        /// call's intended start (no coordinated omission).
        #[arg(long)]
        target_rate: Option<f64>,
        /// Also write the run as a result file: one `produce` case with its latency
        /// percentiles and payload MB/s every 100 ms (`timeline`). Its path is printed last.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Consumes a topic (producing first if it is empty) and prints what
    /// kafka-consumer-perf-test's figures, in the producer test's format.
    Consume {
        /// Data directory.
        #[arg(long, required_unless_present = "bootstrap")]
        dir: Option<PathBuf>,
        /// Consume through Kafka's wire protocol from a running ringlog-server at HOST:PORT
        /// (the topic must exist there).
        #[arg(long, value_name = "HOST:PORT")]
        bootstrap: Option<String>,
        /// Topic name.
        #[arg(long, default_value = "perf-test")]
        topic: String,
        /// Partitions of the topic if it has to be created.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Consumer threads (partitions are dealt to them round robin).
        #[arg(long, default_value_t = 1)]
        consumers: usize,
        /// Byte budget of one fetch (Kafka's max.partition.fetch.bytes).
        #[arg(long, default_value_t = 1024 * 1024)]
        fetch_bytes: usize,
        /// Fetches per second over all consumers; latency is then measured from each fetch's
        /// intended start (no coordinated omission).
        #[arg(long)]
        target_rate: Option<f64>,
        /// Reads each consumer keeps in flight ahead of its fetches (`Config::read_ahead_depth`;
        /// 0 turns read-ahead off) [default: the engine's].
        #[arg(long)]
        read_ahead_depth: Option<usize>,
    },
    /// Compares two result files case by case; exits 1 when a case regressed, 2 on
    /// unreadable input.
    ///
    /// A case regressed when its payload MB/s fell, or its p99 rose, by more than the
    /// threshold. The default, 25%, is wide on purpose: on a 2-core VM with a virtual disk the
    /// same configuration varied 2-5x between runs on fdatasync-bound figures. Repeat a
    /// scenario before believing one flag, and raise the threshold for sync scenarios.
    Compare {
        /// The baseline run.
        old: PathBuf,
        /// The run to judge.
        new: PathBuf,
        /// Percent change beyond which a case counts as regressed.
        #[arg(long, default_value_t = compare::DEFAULT_THRESHOLD_PCT)]
        threshold: f64,
    },
    /// Writes DIR/summary.md and plots from the result files in DIR.
    Report {
        /// A directory written by `ringbench suite`.
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DurabilityArg {
    None,
    Write,
    Sync,
}

impl From<DurabilityArg> for Durability {
    fn from(d: DurabilityArg) -> Durability {
        match d {
            DurabilityArg::None => Durability::None,
            DurabilityArg::Write => Durability::Write,
            DurabilityArg::Sync => Durability::Sync,
        }
    }
}

/// Segments and retention of `ringbench produce`'s topic.
#[derive(clap::Args, Debug)]
struct RetentionArgs {
    /// Segment size of the topic if it has to be created (default: the engine's, 1 GiB).
    #[arg(long)]
    segment_bytes: Option<u64>,
    /// Retention by size of the topic if it has to be created; retention then runs every
    /// 100 ms, so the run reaches a log's steady state under retention.
    #[arg(long)]
    retention_bytes: Option<u64>,
    /// Files of segments retention deleted that the log keeps for rolls to write over
    /// (default: the engine's, 2; 0 deletes them and every segment is a new file).
    #[arg(long)]
    spare_segments: Option<usize>,
}

impl From<RetentionArgs> for perf::RetentionOptions {
    fn from(a: RetentionArgs) -> Self {
        perf::RetentionOptions {
            segment_bytes: a.segment_bytes,
            retention_bytes: a.retention_bytes,
            spare_segments: a.spare_segments,
        }
    }
}

/// `ringbench suite`: the scenarios `only` names (all when empty); an unknown name exits 2.
fn run_suite(profile: Profile, only: &[String], out: Option<PathBuf>) -> ExitCode {
    let selection = if only.is_empty() {
        suite::Selection::all()
    } else {
        match suite::Selection::only(only) {
            Ok(selection) => selection,
            Err(message) => {
                eprintln!("ringbench suite: {message}");
                return ExitCode::from(2);
            }
        }
    };
    let out = out.unwrap_or_else(default_out);
    finish(suite::run(profile, &selection, &out).map(|path| path.display().to_string()))
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Suite {
            smoke,
            quick: _,
            full,
            out,
            only,
        } => run_suite(profile_of(smoke, full), &only, out),
        Command::Peers {
            smoke,
            quick: _,
            full,
            out,
            rounds,
            engines,
            cache_drop,
        } => finish(run_peers(
            profile_of(smoke, full),
            out.unwrap_or_else(default_out),
            rounds,
            engines.as_deref(),
            cache_drop,
        )),
        Command::Disk {
            smoke,
            quick: _,
            full,
            duration_s,
            file_mib,
            dir,
            out,
        } => {
            let profile = profile_of(smoke, full);
            finish(run_disk(profile, duration_s, file_mib, dir, out))
        }
        command @ (Command::Produce { .. } | Command::Consume { .. }) => run_perf(command),
        Command::Compare {
            old,
            new,
            threshold,
        } => run_compare(&old, &new, threshold),
        Command::Report { dir } => finish(benches::report::write_report(&dir).map(|files| {
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })),
    }
}

/// `ringbench peers`: the peer comparison of `engines` (all by default), written under `out`.
fn run_peers(
    profile: Profile,
    out: PathBuf,
    rounds: Option<u32>,
    engines: Option<&str>,
    cache: benches::peers::os::CacheDrop,
) -> Result<String, String> {
    let engines = peers::engines(engines)?;
    peers::run(&peers::PeersOptions {
        profile,
        out,
        rounds: rounds.unwrap_or(match profile {
            Profile::Smoke => 1,
            _ => peers::DEFAULT_ROUNDS,
        }),
        engines,
        cache,
    })
    .map(|path| path.display().to_string())
}

/// The default output directory: `results/<UTC timestamp>`.
fn default_out() -> PathBuf {
    PathBuf::from("results").join(environment::dir_stamp(SystemTime::now()))
}

/// The profile of `--smoke` / `--full` (else `--quick`, the default).
fn profile_of(smoke: bool, full: bool) -> Profile {
    if smoke {
        Profile::Smoke
    } else if full {
        Profile::Full
    } else {
        Profile::Quick
    }
}

/// `ringbench disk` with the profile's defaults where an option is absent; returns the table
/// and the result's path.
fn run_disk(
    profile: Profile,
    duration_s: Option<f64>,
    file_mib: Option<u64>,
    dir: Option<PathBuf>,
    out: Option<PathBuf>,
) -> Result<String, String> {
    let (default_s, default_mib) = disk::profile_defaults(profile);
    let out = out.unwrap_or_else(|| default_out().join(benches::disk::DISK_FILE));
    let path = disk::run(&disk::DiskOptions {
        dir: dir.unwrap_or_else(disk::default_dir),
        duration: Duration::from_secs_f64(duration_s.unwrap_or(default_s).max(0.001)),
        file_bytes: file_mib.unwrap_or(default_mib).max(1) << 20,
        out,
        profile,
    })?;
    let result = RunResult::load(&path)?;
    Ok(format!("{}{}", disk::table(&result), path.display()))
}

/// Prints the result on stdout, or the error on stderr with exit status 1.
fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringbench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_compare(old: &std::path::Path, new: &std::path::Path, threshold: f64) -> ExitCode {
    let (old, new) = match (RunResult::load(old), RunResult::load(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ringbench compare: {e}");
            return ExitCode::from(2);
        }
    };
    if old.environment.io_path != new.environment.io_path {
        eprintln!(
            "ringbench compare: note: I/O paths differ ({} vs {})",
            old.environment.io_path, new.environment.io_path
        );
    }
    let verdicts = compare::compare(&old, &new, threshold);
    let (text, regressed) = compare::table(&verdicts, threshold);
    print!("{text}");
    if regressed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A `--bootstrap HOST:PORT` resolved to its first address.
fn resolve(bootstrap: Option<&str>) -> Result<Option<std::net::SocketAddr>, String> {
    use std::net::ToSocketAddrs;
    let Some(bootstrap) = bootstrap else {
        return Ok(None);
    };
    bootstrap
        .to_socket_addrs()
        .map_err(|e| format!("--bootstrap {bootstrap}: {e}"))?
        .next()
        .map(Some)
        .ok_or_else(|| format!("--bootstrap {bootstrap}: no address"))
}

/// `ringbench produce` and `ringbench consume`, in process or through `--bootstrap`.
fn run_perf(command: Command) -> ExitCode {
    match command {
        Command::Produce {
            dir,
            bootstrap,
            topic,
            size,
            count,
            duration_s,
            batch,
            partitions,
            producers,
            in_flight,
            durability,
            target_rate,
            out,
            retention,
        } => finish(resolve(bootstrap.as_deref()).and_then(|bootstrap| {
            perf::produce(&perf::ProduceOptions {
                dir: dir.unwrap_or_default(),
                bootstrap,
                topic,
                size,
                count,
                duration: duration_s.map(Duration::from_secs_f64),
                batch,
                partitions,
                producers: producers.max(1),
                in_flight: in_flight.max(1),
                durability: durability.into(),
                target_rate,
                out,
                retention: retention.into(),
            })
        })),
        Command::Consume {
            dir,
            bootstrap,
            topic,
            partitions,
            consumers,
            fetch_bytes,
            target_rate,
            read_ahead_depth,
        } => finish(resolve(bootstrap.as_deref()).and_then(|bootstrap| {
            perf::consume(&perf::ConsumeOptions {
                dir: dir.unwrap_or_default(),
                bootstrap,
                topic,
                partitions,
                consumers,
                fetch_bytes,
                target_rate,
                read_ahead_depth,
            })
        })),
        _ => unreachable!("run_perf is called for produce and consume only"),
    }
}
