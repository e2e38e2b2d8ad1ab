//! Proves the fallback for real: in a child process whose seccomp filter makes io_uring_setup
//! fail with EPERM (as container runtimes' default profiles do), `IoMode::Auto` opens the log on
//! the portable path and works, and `IoMode::Uring` refuses with a message that names seccomp
//! and the fix. The filter is installed only in the child, never in the test process itself.

use std::process::Command;

use ringlog::record::Record;
use ringlog::{Config, IoMode, IoPath, Log, OpenError};

const CHILD_ENV: &str = "RINGLOG_IO_URING_BLOCKED_CHILD";

/// Runs in the child: blocks io_uring, then checks both modes. Panics (non-zero exit) on any
/// deviation; prints what it saw for the parent to check.
fn child() {
    ringlog_sys::seccomp::deny_io_uring().expect("install the seccomp filter");
    let dir = tempfile::tempdir().unwrap();

    let auto = Log::open(
        dir.path().join("auto"),
        Config {
            io_mode: IoMode::Auto,
            ..Config::default()
        },
    )
    .expect("Auto opens without io_uring");
    assert!(
        matches!(
            auto.io_path(),
            IoPath::PortableDirect | IoPath::PortableBuffered
        ),
        "Auto fell back to the portable path, got {}",
        auto.io_path()
    );
    let reason = auto
        .shared()
        .fallback_reason()
        .expect("Auto says why it fell back")
        .to_string();
    for i in 0..100u8 {
        let value = [i; 64];
        let info = auto
            .append(&[Record {
                key: None,
                value: Some(&value),
                timestamp_ms: 0,
                headers: &[],
            }])
            .unwrap();
        assert_eq!(info.base_offset, u64::from(i));
    }
    auto.flush().unwrap();
    let records = auto.read_records(0, 1 << 20).unwrap();
    assert_eq!(records.len(), 100);
    assert_eq!(records[42].value.as_deref(), Some(&[42u8; 64][..]));
    println!("auto path: {}", auto.io_path());
    println!("auto fallback: {reason}");

    let error = Log::open(
        dir.path().join("uring"),
        Config {
            io_mode: IoMode::Uring,
            ..Config::default()
        },
    )
    .expect_err("Uring must refuse when io_uring is blocked");
    assert!(
        matches!(error, OpenError::Uring(_)),
        "typed error: {error:?}"
    );
    println!("uring error: {error}");
}

#[test]
fn auto_falls_back_and_uring_refuses_when_seccomp_blocks_io_uring() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "auto_falls_back_and_uring_refuses_when_seccomp_blocks_io_uring",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("auto path: pread/pwrite"),
        "child output:\n{stdout}"
    );
    assert!(
        stdout.contains("auto fallback: ") && stdout.contains("io_uring unavailable"),
        "child output:\n{stdout}"
    );
    let uring_line = stdout
        .lines()
        .find(|l| l.starts_with("uring error: "))
        .expect("the Uring error line");
    assert!(
        uring_line.contains("seccomp"),
        "names the cause: {uring_line}"
    );
    assert!(
        uring_line.contains("io=portable"),
        "names a fix: {uring_line}"
    );
}
