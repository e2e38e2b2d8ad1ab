//! Real Kafka clients against the server binary: `clients/e2e.py` produces with kafka-python
//! and confluent-kafka (librdkafka), idempotent and not, keyed and unkeyed, with headers and
//! timestamps; the server is stopped with SIGTERM and started again; both clients read every
//! acknowledged record back by partition and offset and check it, and list offsets by time.
//!
//! Needs `python3` with `kafka-python` and `confluent-kafka` (`.ci/run` installs them). Without
//! them the test says so and passes, unless `RINGLOG_REQUIRE_KAFKA_CLIENTS=1` (set by CI), when
//! it fails.

mod common;

use std::path::Path;
use std::process::Command;

fn clients_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import kafka, confluent_kafka"])
        .status()
        .is_ok_and(|s| s.success())
}

fn run_phase(phase: &str, addr: std::net::SocketAddr, state: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/e2e.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(phase)
        .arg(addr.to_string())
        .arg(state)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{phase} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn kafka_python_and_librdkafka_produce_and_consume_across_a_restart() {
    if !clients_installed() {
        assert!(
            std::env::var_os("RINGLOG_REQUIRE_KAFKA_CLIENTS").is_none(),
            "RINGLOG_REQUIRE_KAFKA_CLIENTS is set but python3 cannot import kafka and confluent_kafka"
        );
        eprintln!("skipped: pip install kafka-python confluent-kafka to run it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let state = dir.path().join("acked.json");
    let (mut server, addr) = common::spawn(&data, &["--default-durability", "write"]);
    run_phase("produce", addr, &state);
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = server.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM closes the server cleanly: {status}"
    );

    let (mut server, addr) = common::spawn(&data, &[]);
    run_phase("consume", addr, &state);
    server.kill().unwrap();
    server.wait().unwrap();
}
