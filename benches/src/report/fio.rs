//! fio's `--output-format=json` output, reduced to what the report compares the engine with:
//! per job and direction, bandwidth, IOPS and completion-latency percentiles.
//!
//! Read through `serde_json::Value` rather than a full schema: fio's layout has hundreds of
//! fields that vary between versions, and only a handful matter here.

use serde_json::Value;

/// Direction of a job's I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reads.
    Read,
    /// Writes.
    Write,
}

impl Direction {
    /// `read` or `write`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Read => "read",
            Direction::Write => "write",
        }
    }
}

/// One direction of one fio job.
#[derive(Clone, Debug, PartialEq)]
pub struct FioJob {
    /// `jobname`, e.g. `seq-write-256k-qd8`.
    pub name: String,
    /// Which side of the job this is.
    pub direction: Direction,
    /// Block size, from the job name (`256k`) or the job's `bs` option.
    pub block_bytes: Option<u64>,
    /// Queue depth, from the job name (`qd8`) or the `iodepth` option.
    pub iodepth: Option<u64>,
    /// Bandwidth, megabytes (10^6) per second.
    pub mb_s: f64,
    /// Operations per second.
    pub iops: f64,
    /// Completion latency median, microseconds.
    pub clat_p50_us: Option<f64>,
    /// 99th percentile.
    pub clat_p99_us: Option<f64>,
    /// 99.9th percentile.
    pub clat_p999_us: Option<f64>,
    /// Median of the `fdatasync` after each write (`fdatasync=1` jobs), microseconds.
    pub sync_p50_us: Option<f64>,
    /// 99th percentile of that `fdatasync`.
    pub sync_p99_us: Option<f64>,
}

/// What the report uses of one fio run.
#[derive(Clone, Debug, PartialEq)]
pub struct FioReport {
    /// `fio version`, when present.
    pub version: Option<String>,
    /// Every job direction that moved data.
    pub jobs: Vec<FioJob>,
}

impl FioReport {
    /// The job of `direction` with the largest block size (then the highest bandwidth): the
    /// disk's sequential limit.
    pub fn sequential_limit(&self, direction: Direction) -> Option<&FioJob> {
        self.jobs
            .iter()
            .filter(|j| j.direction == direction && !j.name.contains("rand"))
            .max_by(|a, b| {
                (a.block_bytes.unwrap_or(0), a.mb_s)
                    .partial_cmp(&(b.block_bytes.unwrap_or(0), b.mb_s))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    }

    /// The write job with the smallest block size at the lowest queue depth: the disk's
    /// latency for one small write.
    pub fn small_write(&self) -> Option<&FioJob> {
        self.jobs
            .iter()
            .filter(|j| j.direction == Direction::Write)
            .min_by_key(|j| (j.block_bytes.unwrap_or(u64::MAX), j.iodepth.unwrap_or(1)))
    }
}

/// Parses fio's JSON output. Text before the first `{` (fio prints notes there) is skipped.
///
/// # Errors
/// A message saying what is missing or malformed.
pub fn parse(text: &str) -> Result<FioReport, String> {
    let start = text.find('{').ok_or("no JSON object in it")?;
    let root: Value =
        serde_json::from_str(&text[start..]).map_err(|e| format!("not fio JSON output: {e}"))?;
    let jobs = root
        .get("jobs")
        .and_then(Value::as_array)
        .ok_or("no `jobs` array (was fio run with --output-format=json?)")?;
    let global = root.get("global options");
    let mut out = Vec::new();
    for job in jobs {
        let name = job
            .get("jobname")
            .and_then(Value::as_str)
            .ok_or("a job without `jobname`")?;
        let option = |key: &str| {
            job.get("job options")
                .and_then(|o| o.get(key))
                .or_else(|| global.and_then(|g| g.get(key)))
                .and_then(Value::as_str)
        };
        let block_bytes =
            name_token(name, block_size).or_else(|| option("bs").and_then(block_size));
        let iodepth = name_token(name, |t| t.strip_prefix("qd")?.parse().ok())
            .or_else(|| option("iodepth").and_then(|d| d.parse().ok()));
        for direction in [Direction::Read, Direction::Write] {
            let Some(side) = job.get(direction.name()) else {
                continue;
            };
            let bw_bytes = number(side.get("bw_bytes"));
            let io_bytes = number(side.get("io_bytes"));
            if bw_bytes <= 0.0 && io_bytes <= 0.0 {
                continue;
            }
            let percentile = |key: &str| {
                side.get("clat_ns")
                    .and_then(|c| c.get("percentile"))
                    .and_then(|p| p.get(key))
                    .and_then(Value::as_f64)
                    .map(|ns| ns / 1000.0)
            };
            let sync_percentile = |key: &str| {
                job.get("sync")
                    .and_then(|s| s.get("lat_ns"))
                    .and_then(|c| c.get("percentile"))
                    .and_then(|p| p.get(key))
                    .and_then(Value::as_f64)
                    .map(|ns| ns / 1000.0)
            };
            out.push(FioJob {
                name: name.to_string(),
                direction,
                block_bytes,
                iodepth,
                mb_s: bw_bytes / 1e6,
                iops: number(side.get("iops")),
                clat_p50_us: percentile("50.000000"),
                clat_p99_us: percentile("99.000000"),
                clat_p999_us: percentile("99.900000"),
                sync_p50_us: sync_percentile("50.000000"),
                sync_p99_us: sync_percentile("99.000000"),
            });
        }
    }
    Ok(FioReport {
        version: root
            .get("fio version")
            .and_then(Value::as_str)
            .map(str::to_string),
        jobs: out,
    })
}

fn number(value: Option<&Value>) -> f64 {
    value.and_then(Value::as_f64).unwrap_or(0.0)
}

/// The first `-`-separated token of a job name that `parse` accepts.
fn name_token(name: &str, parse: impl Fn(&str) -> Option<u64>) -> Option<u64> {
    name.split('-').find_map(parse)
}

/// fio's block size notation: `4k`, `256k`, `1m`, `512` (bytes); k and m are binary.
fn block_size(text: &str) -> Option<u64> {
    let text = text.to_ascii_lowercase();
    let text = text.strip_suffix('b').unwrap_or(&text);
    let (digits, multiplier) = match text.chars().last()? {
        'k' => (&text[..text.len() - 1], 1024),
        'm' => (&text[..text.len() - 1], 1024 * 1024),
        'g' => (&text[..text.len() - 1], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().map(|n| n * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_follow_fio_notation() {
        assert_eq!(block_size("256k"), Some(256 * 1024));
        assert_eq!(block_size("4K"), Some(4096));
        assert_eq!(block_size("1m"), Some(1 << 20));
        assert_eq!(block_size("512"), Some(512));
        assert_eq!(block_size("seq"), None);
        assert_eq!(block_size("qd8"), None);
        assert_eq!(
            name_token("seq-write-256k-qd8", block_size),
            Some(256 * 1024)
        );
    }

    #[test]
    fn notes_before_the_json_are_skipped() {
        let text = "note: both iodepth >= 1 and synchronous I/O engine\n{\"jobs\": []}";
        assert_eq!(parse(text).map(|r| r.jobs.len()), Ok(0));
        assert!(parse("fio: command not found").is_err());
    }
}
