//! The machine and build a run measured ([`Environment`]), read from `/proc`, the data
//! directory and a few subprocesses (`git`, `rustc`).

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use benches::results::Environment;
use benches::scenarios::Profile;

/// Everything [`Environment`] holds, for a run of `profile` starting now, with data in
/// `RINGLOG_BENCH_DIR` (else the system's temporary directory).
pub fn gather(profile: Profile) -> Environment {
    let dir = benches::bench_dir();
    let data_dir = dir
        .path()
        .parent()
        .map_or_else(|| dir.path().to_path_buf(), Path::to_path_buf);
    let io_path = benches::fixtures::io_path().to_string();
    gather_in(profile, dir.path(), &data_dir, io_path)
}

/// [`gather`] for data in `data_dir`, its filesystem, device and alignment read in `probe`
/// (an existing directory on the same filesystem), the I/O path measured being `io_path`.
pub fn gather_in(profile: Profile, probe: &Path, data_dir: &Path, io_path: String) -> Environment {
    Environment {
        cpu_model: cpu_model().unwrap_or_else(|| "unknown".to_string()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_bytes: memory_bytes().unwrap_or(0),
        kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
        filesystem: ringlog_sys::direct::filesystem_name(probe)
            .unwrap_or_else(|e| format!("unknown ({e})")),
        device: device_of(probe),
        data_dir: data_dir.display().to_string(),
        dio_alignment: dio_alignment(probe),
        io_uring: match ringlog_sys::Ring::new(8) {
            Ok(_) => "available".to_string(),
            Err(e) => e.to_string(),
        },
        io_path,
        cache_bytes: ringlog::SharedConfig::default().cache_bytes as u64,
        git_revision: git_revision(),
        rustc: rustc_version(),
        profile: profile.name().to_string(),
        started_utc: rfc3339(SystemTime::now()),
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The mount source (device) of the mount holding `path`: the longest mount point of
/// `/proc/self/mountinfo` that is a prefix of the canonical path.
fn device_of(path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        // Fields: id parent major:minor root mount-point options [optional...] - fstype source
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(mount), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-"))
        else {
            continue;
        };
        let mount = mount.replace("\\040", " ");
        let Some(source) = fields.get(dash + 2) else {
            continue;
        };
        if path.starts_with(&mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((mount.len(), (*source).to_string()));
        }
    }
    best.map(|(_, source)| source)
}

/// `dio_alignment` of a probe file in `dir`: (memory, offset) as the kernel reports them.
fn dio_alignment(dir: &Path) -> Option<(u32, u32)> {
    let path = dir.join("dio-probe");
    let file = std::fs::File::create(&path).ok()?;
    let alignment = ringlog_sys::direct::dio_alignment(&file).ok().flatten();
    drop(file);
    let _ = std::fs::remove_file(&path);
    alignment.map(|a| (a.reported_memory, a.reported_offset))
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `git rev-parse HEAD`, with `-dirty` when tracked files changed (untracked files do not
/// count: a run writes its own results directory); `None` without git or outside a
/// repository. `--no-optional-locks` keeps status from rewriting the
/// index.
fn git_revision() -> Option<String> {
    let head = command_output("git", &["rev-parse", "HEAD"])?;
    let status = command_output(
        "git",
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    );
    Some(match status {
        Some(s) if !s.is_empty() => format!("{head}-dirty"),
        _ => head,
    })
}

/// `rustc --version`, else the crate's declared minimum (`rust-version`).
fn rustc_version() -> Option<String> {
    command_output("rustc", &["--version"])
        .or_else(|| Some(format!("rust-version {}", env!("CARGO_PKG_RUST_VERSION"))))
}

/// (year, month, day, hour, minute, second) of `time` in UTC.
fn civil(time: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (year, month, day, h as u32, m as u32, s as u32)
}

/// `time` as RFC 3339 in UTC, to the second: `2025-06-01T12:00:00Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(time);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `time` for a directory name (no colons): `2025-06-01T120000Z`.
pub fn dir_stamp(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(time);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}{mi:02}{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
        assert_eq!(dir_stamp(t), "2024-02-29T123456Z");
    }
}
