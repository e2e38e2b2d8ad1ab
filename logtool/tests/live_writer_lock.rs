//! One writing process per directory: while a child `logtool produce --durability sync
//! --print-acks` writes a directory, every logtool subcommand runs against it. The writing ones
//! (`produce`, `compact`, `topics create`, `topics delete`) are refused with a message naming
//! the holder's pid; the reading ones (`dump`, `verify`, `topics list`, `topics describe`) work.
//! The child is then killed with SIGKILL; the reading commands run again on the crashed
//! directory and leave every file byte-identical; a reopen finds every acknowledged record.
//! Runs in bare mode (`--dir`) and topic mode (`--data-dir --topic`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ringlog::{Config, Log, TopicManager, TopicManagerConfig};

/// Acknowledgements to wait for before the other commands run: the child is mid-stream.
const ACKS_BEFORE_CHECKS: usize = 20;
/// Far more calls than get through before the kill.
const CHILD_RECORDS: &str = "2000000";
const TOPIC: &str = "live";
const PARTITIONS: u32 = 2;
/// A child that prints nothing for this long is stuck.
const CHILD_STALL_LIMIT: Duration = Duration::from_mins(2);

fn logtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logtool"))
        .args(args)
        .output()
        .expect("run logtool")
}

/// A running producer and the acknowledgements it printed so far.
struct Producer {
    child: Child,
    acks: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Producer {
    fn spawn(target: &[&str]) -> Producer {
        let mut args = vec!["produce"];
        args.extend_from_slice(target);
        args.extend_from_slice(&[
            "--count",
            CHILD_RECORDS,
            "--size",
            "100",
            "--batch",
            "10",
            "--print-acks",
        ]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_logtool"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the producer");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, acks) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("acked ") && send.send(line).is_err() {
                    break;
                }
            }
        });
        Producer {
            child,
            acks,
            seen: Vec::new(),
        }
    }

    fn wait_for_acks(&mut self, count: usize) {
        while self.seen.len() < count {
            let line = self
                .acks
                .recv_timeout(CHILD_STALL_LIMIT)
                .expect("the producer acknowledges batches");
            self.seen.push(line);
        }
    }

    /// SIGKILL, then every acknowledgement it printed (a line is printed after its ack).
    fn kill(mut self) -> Vec<String> {
        self.child.kill().expect("SIGKILL the producer");
        let status = self.child.wait().expect("reap the producer");
        assert!(!status.success(), "the producer was killed: {status}");
        self.seen.extend(self.acks.try_iter());
        while let Ok(line) = self.acks.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        self.seen
    }
}

fn assert_refused(args: &[&str], pid: u32) {
    let out = logtool(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "logtool {args:?} must be refused while another process writes: {stderr}"
    );
    assert!(
        stderr.contains("in use by another process") && stderr.contains(&format!("pid {pid}")),
        "logtool {args:?}: the message names the holder: {stderr}"
    );
}

fn assert_works(args: &[&str]) -> String {
    let out = logtool(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // `verify` exits 1 for problems it found (a batch being written as it reads); 2 would be
    // a usage or I/O error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "logtool {args:?} must work beside a live writer: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every file under `root` (recursively) with its bytes.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("list") {
            let path = entry.expect("list").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).expect("read"));
            }
        }
    }
    files
}

/// `acked <last>` or `acked <partition> <last>`: the largest last offset per partition.
fn acked_ends(acks: &[String]) -> BTreeMap<u32, u64> {
    let mut ends = BTreeMap::new();
    for line in acks {
        let numbers: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().expect("a number"))
            .collect();
        let (partition, last) = match numbers[..] {
            [last] => (0, last),
            [partition, last] => (partition as u32, last),
            _ => panic!("unexpected ack line {line:?}"),
        };
        let end = ends.entry(partition).or_insert(0);
        *end = (*end).max(last + 1);
    }
    ends
}

/// Every offset below `end` reads back, contiguously.
fn check_records(log: &Log, end: u64, ctx: &str) {
    assert!(
        log.next_offset() >= end,
        "{ctx}: acknowledged offsets below {end} survive, the log ends at {}",
        log.next_offset()
    );
    let mut offset = 0;
    while offset < end {
        let records = log
            .read_records(offset, 1 << 20)
            .unwrap_or_else(|e| panic!("{ctx}: read {offset}: {e}"));
        for record in records {
            assert_eq!(record.offset, offset, "{ctx}: offsets are contiguous");
            assert_eq!(
                record.value.as_ref().map(|v| v[..].len()),
                Some(100),
                "{ctx}"
            );
            offset += 1;
        }
    }
}

#[test]
fn a_live_partition_directory_refuses_writers_and_serves_readers() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("partition");
    let dir_arg = dir.to_str().unwrap();
    let mut producer = Producer::spawn(&["--dir", dir_arg, "--durability", "sync"]);
    producer.wait_for_acks(ACKS_BEFORE_CHECKS);
    let pid = producer.child.id();

    assert_refused(
        &["produce", "--dir", dir_arg, "--count", "1", "--size", "1"],
        pid,
    );
    assert_works(&["dump", "--dir", dir_arg]);
    assert_works(&["verify", "--dir", dir_arg]);
    producer.wait_for_acks(ACKS_BEFORE_CHECKS + 5);

    let acks = producer.kill();
    let before = snapshot(&dir);
    assert_works(&["dump", "--dir", dir_arg]);
    assert_works(&["verify", "--dir", dir_arg]);
    assert!(
        snapshot(&dir) == before,
        "read-only commands left every file of the crashed directory as it was"
    );

    let ends = acked_ends(&acks);
    let log = Log::open(&dir, Config::default()).expect("reopen after the kill");
    check_records(&log, ends[&0], "bare");
}

#[test]
fn a_live_topic_data_directory_refuses_writers_and_serves_readers() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_arg = data.to_str().unwrap();
    let partitions = PARTITIONS.to_string();
    let created = logtool(&[
        "topics",
        "create",
        "--data-dir",
        data_arg,
        "--topic",
        TOPIC,
        "--partitions",
        &partitions,
        "--durability",
        "sync",
    ]);
    assert!(created.status.success(), "{created:?}");
    let mut producer = Producer::spawn(&["--data-dir", data_arg, "--topic", TOPIC]);
    producer.wait_for_acks(ACKS_BEFORE_CHECKS);
    let pid = producer.child.id();

    let on_topic = ["--data-dir", data_arg, "--topic", TOPIC];
    let with = |command: &[&str], extra: &[&str]| -> Vec<String> {
        command
            .iter()
            .chain(&on_topic)
            .chain(extra)
            .map(ToString::to_string)
            .collect()
    };
    for args in [
        with(&["produce"], &["--count", "1", "--size", "1"]),
        with(&["compact"], &[]),
        with(&["topics", "delete"], &[]),
        vec![
            "topics".into(),
            "create".into(),
            "--data-dir".into(),
            data_arg.into(),
            "--topic".into(),
            "other".into(),
            "--partitions".into(),
            "1".into(),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&args, pid);
    }
    let readers: Vec<Vec<String>> = vec![
        vec![
            "topics".into(),
            "list".into(),
            "--data-dir".into(),
            data_arg.into(),
        ],
        with(&["topics", "describe"], &[]),
        with(&["dump"], &["--partition", "0"]),
        with(&["verify"], &["--partition", "1"]),
    ];
    let run_readers = || {
        for args in &readers {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = assert_works(&args);
            if args[..2] == ["topics", "list"] {
                assert_eq!(out.trim(), TOPIC, "topics list beside a live writer");
            }
        }
    };
    run_readers();
    producer.wait_for_acks(ACKS_BEFORE_CHECKS + 5);

    let acks = producer.kill();
    let before = snapshot(&data);
    run_readers();
    assert!(
        snapshot(&data) == before,
        "read-only commands left every file of the crashed data directory as it was"
    );

    let ends = acked_ends(&acks);
    let manager =
        TopicManager::open(&data, TopicManagerConfig::default()).expect("reopen after the kill");
    for (&partition, &end) in &ends {
        let log = manager.partition(TOPIC, partition).expect("partition");
        check_records(&log, end, &format!("partition {partition}"));
    }
}
