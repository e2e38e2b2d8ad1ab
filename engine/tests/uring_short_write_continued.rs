//! A real short write on io_uring is continued, not accepted and not silently dropped. The
//! kernel completes a write short when it crosses the process's file size limit
//! (`RLIMIT_FSIZE`): it writes up to the limit and returns that count, and only the next write
//! fails, with EFBIG. So in a child process run under `prlimit --fsize` (with SIGXFSZ ignored,
//! so that crossing the limit is an error and not a kill), a ring write across the limit must
//! end in EFBIG from the continuation of its rest, after the bytes below the limit landed.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use ringlog::io::Storage;
use ringlog::io::uring::UringStorage;
use ringlog_sys::Ring;

const CHILD_ENV: &str = "RINGLOG_URING_SHORT_WRITE_CHILD";
const TEST_NAME: &str = "a_short_ring_write_is_continued_with_its_rest";
/// The child's file size limit in bytes.
const LIMIT_BYTES: usize = 8192;
/// Linux's EFBIG: the write would make the file larger than the limit.
const EFBIG: i32 = 27;

/// Runs in the child, under the file size limit: a write below the limit completes; a write
/// across it is completed up to the limit by the kernel, and its rest, submitted again, fails
/// with EFBIG. Panics (non-zero exit) on any deviation.
fn child() {
    let storage = UringStorage::new(Arc::new(Ring::new(8).expect("an io_uring")), None);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file: Arc<File> = storage
        .open(&dir.path().join("limited"), true)
        .expect("create the file");
    let data: Vec<u8> = (0..2 * LIMIT_BYTES).map(|i| (i % 251) as u8).collect();

    storage
        .submit_write(&file, Bytes::copy_from_slice(&data[..4096]), 0)
        .expect("submitted")
        .wait()
        .expect("a write below the limit completes");

    let error = storage
        .submit_write(&file, Bytes::from(data.clone()), 0)
        .expect("submitted")
        .wait()
        .expect_err("a write across the file size limit cannot complete");
    assert_eq!(
        error.raw_os_error(),
        Some(EFBIG),
        "the short completion was continued, and the continuation failed at the limit; got \
         {error} ({:?}) instead",
        error.kind()
    );
    let len = file.metadata().expect("stat the file").len() as usize;
    assert_eq!(len, LIMIT_BYTES, "the kernel wrote up to the limit");
    let mut back = vec![0u8; LIMIT_BYTES];
    file.read_exact_at(&mut back, 0).expect("read back");
    assert_eq!(
        back,
        data[..LIMIT_BYTES],
        "the bytes below the limit landed"
    );
    println!("continued, then: {error}");
}

#[test]
fn a_short_ring_write_is_continued_with_its_rest() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    // `trap "" XFSZ` makes the shell ignore SIGXFSZ, and the ignored disposition survives the
    // exec of prlimit and of the test binary.
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; exec prlimit --fsize={LIMIT_BYTES} \"$0\" \"$@\""
        ))
        .arg(std::env::current_exe().expect("the test binary"))
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run sh (prlimit, from util-linux, must be installed)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("continued, then: ") && stdout.contains("os error 27"),
        "child output:\n{stdout}\n{stderr}"
    );
}
