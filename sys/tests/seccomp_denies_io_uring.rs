//! With `deny_io_uring` installed (in a child process: it is irreversible), `Ring::new` fails
//! with `UringError::BlockedBySeccomp`, whose message names seccomp, and all three io_uring
//! system calls fail with EPERM while other system calls still work.
use std::process::Command;

use ringlog_sys::{Ring, UringError};

/// Set in the child's environment; the test then runs the child branch.
const CHILD_ENV: &str = "RINGLOG_SECCOMP_CHILD";
const TEST_NAME: &str = "ring_new_is_blocked_by_seccomp";

#[test]
fn ring_new_is_blocked_by_seccomp() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The child really ran the test (a filter mismatch would report "0 passed").
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// The child branch: installs the filter, then checks what it does.
fn child() {
    // A thread created before the filter must get it too (SECCOMP_FILTER_FLAG_TSYNC).
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let earlier = std::thread::spawn(move || {
        wait.recv().unwrap();
        Ring::new(8).map(drop)
    });

    ringlog_sys::seccomp::deny_io_uring().unwrap();

    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(status.contains("Seccomp:\t2"), "{status}");

    let err = Ring::new(8).unwrap_err();
    assert!(matches!(err, UringError::BlockedBySeccomp), "{err:?}");
    assert!(err.to_string().contains("seccomp"), "{err}");

    go.send(()).unwrap();
    let err = earlier.join().unwrap().unwrap_err();
    assert!(matches!(err, UringError::BlockedBySeccomp), "{err:?}");

    // Without the filter these fail with EBADF (fd -1); with it, with EPERM.
    for nr in [libc::SYS_io_uring_enter, libc::SYS_io_uring_register] {
        // SAFETY: fd -1 with null/zero arguments: the call fails before touching memory.
        let ret = unsafe { libc::syscall(nr, -1, 0, 0, 0, 0, 0) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        assert_eq!((ret, errno), (-1, Some(libc::EPERM)), "syscall {nr}");
    }
}
