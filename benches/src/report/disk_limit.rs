//! The Disk limit section of `summary.md`: the disk's own figures of the run (`ringbench
//! disk`, `disk.json`), the engine's throughput and latency targets set against them, then
//! fio's figures as the independent check (`fio.json`, when fio was installed).

use std::fmt::{Result, Write};

use super::disk::DiskFigures;
use super::fio::{Direction, FioJob, FioReport};
use super::fmt::{ABSENT, bytes, cell, durability, num, opt, ratio};
use super::inputs::{DISK_FILE, FIO_FILE, Inputs, Run};
use super::targets::{self, Target};
use crate::disk::{DiskCase, Op, Space};

/// Writes the whole section.
///
/// # Errors
/// Only those of writing to `out` (none for a `String`).
pub fn section(out: &mut String, runs: &[Run], inputs: &Inputs) -> Result {
    writeln!(out, "## Disk limit\n")?;
    match &inputs.disk {
        None => writeln!(
            out,
            "No `{DISK_FILE}`: the disk was not measured by `ringbench disk` in this run, so no figure here carries its ratio to the disk (`scripts/run_benchmarks.sh` runs it; by hand: `ringbench disk --out DIR`).\n"
        )?,
        Some(Err(e)) => writeln!(
            out,
            "`{DISK_FILE}` could not be read ({}): no figure here carries its ratio to the disk.\n",
            cell(e)
        )?,
        Some(Ok(figures)) => ringbench_disk(out, runs, figures)?,
    }
    fio_check(out, runs, inputs.fio.as_ref(), inputs.disk_figures())
}

/// The `ringbench disk` table, what overwriting gains, and the engine's targets against it.
fn ringbench_disk(out: &mut String, runs: &[Run], disk: &DiskFigures) -> Result {
    writeln!(
        out,
        "`ringbench disk` on the data directory's filesystem: the engine's own io_uring ring, O_DIRECT files and aligned buffers, no engine logic, at the engine's request size and depth ({}) and beside them. Engine writes are set against the cases in fallocated space, which the engine writes into (segment files are preallocated with `fallocate`); latency is per request, submission to completion.\n",
        disk.engine_text()
    )?;
    writeln!(
        out,
        "| disk case | durability at completion | MB/s | IOPS | p50 us | p99 us | p99.9 us | p99.99 us | max us |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    for (case, s) in &disk.cases {
        let l = s.latency;
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.label(),
            durability(case.durability()),
            num(s.payload_mb_s),
            num(s.messages_per_s),
            opt(l.map(|l| l.p50_us)),
            opt(l.map(|l| l.p99_us)),
            opt(l.map(|l| l.p999_us)),
            opt(l.and_then(|l| l.p9999_us)),
            opt(l.map(|l| l.max_us)),
        )?;
    }
    let speedups: Vec<String> = disk
        .overwrite_speedups()
        .iter()
        .map(|(case, x)| {
            let label = case.label();
            format!("{} {}", label.trim_end_matches(", fallocated"), ratio(*x))
        })
        .collect();
    if !speedups.is_empty() {
        writeln!(
            out,
            "\nOverwriting written blocks over writing fallocated ones (MB/s ratio): {}.",
            speedups.join(", ")
        )?;
    }
    engine_against_disk(out, runs, disk)
}

/// The throughput targets' cases and the produce latency target against the disk.
fn engine_against_disk(out: &mut String, runs: &[Run], disk: &DiskFigures) -> Result {
    writeln!(
        out,
        "\nThe engine's figures of the throughput targets (payload MB/s, the same cases as under Targets) against the disk's matching case of this run:\n"
    )?;
    writeln!(
        out,
        "| I/O path | direction | engine case | durability | engine MB/s | disk case | disk MB/s | engine / disk |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for run in runs {
        for target in [Target::ProduceThroughput, Target::FetchThroughput] {
            let Some(r) = targets::read(target, &run.result.scenarios) else {
                continue;
            };
            let Some(s) = run
                .result
                .scenarios
                .iter()
                .find(|s| super::fmt::case(s) == r.case && s.durability == r.durability)
            else {
                continue;
            };
            let Some((case, figure)) = disk.matching(s).and_then(|c| Some((c, disk.get(&c)?)))
            else {
                continue;
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                run.display(),
                if case.op == Op::Read { "read" } else { "write" },
                r.case,
                durability(r.durability.as_deref()),
                num(r.value),
                case.label(),
                num(figure.payload_mb_s),
                ratio(r.value / figure.payload_mb_s)
            )?;
        }
    }
    for run in runs {
        let Some(r) = targets::read(Target::ProduceLatency, &run.result.scenarios) else {
            continue;
        };
        let Some((case, p99)) = disk.sync_p99(targets::TARGET_RECORD_BYTES) else {
            continue;
        };
        writeln!(
            out,
            "\n{}: `{}` p99 {} us (durability {}), {} the p99 of disk {} ({} us).",
            run.display(),
            r.case,
            num(r.value),
            durability(r.durability.as_deref()),
            ratio(r.value / p99),
            case.label(),
            num(p99)
        )?;
    }
    writeln!(out)
}

/// `ringbench disk`'s MB/s of the case shaped like a fio job: the same operation (write,
/// write + fdatasync when the job syncs, read), block and depth; writes in both spaces.
fn beside_fio(disk: &DiskFigures, job: &FioJob) -> String {
    let (Some(block), depth) = (job.block_bytes, job.iodepth.unwrap_or(1)) else {
        return ABSENT.to_string();
    };
    let op = match job.direction {
        Direction::Read => Op::Read,
        Direction::Write if job.sync_p50_us.is_some() => Op::WriteFdatasync,
        Direction::Write => Op::Write,
    };
    let spaces: &[Option<Space>] = if op == Op::Read {
        &[None]
    } else {
        &[Some(Space::Fallocated), Some(Space::Overwrite)]
    };
    let figures: Vec<String> = spaces
        .iter()
        .filter_map(|&space| {
            let case = DiskCase {
                op,
                space,
                request_bytes: block,
                queue_depth: depth,
            };
            let s = disk.get(&case)?;
            Some(match space {
                Some(space) => format!("{} {}", num(s.payload_mb_s), space.name()),
                None => num(s.payload_mb_s),
            })
        })
        .collect();
    if figures.is_empty() {
        ABSENT.to_string()
    } else {
        figures.join(" / ")
    }
}

/// fio's figures, the independent check, with the `ringbench disk` figure of the same shape
/// beside each job.
fn fio_check(
    out: &mut String,
    runs: &[Run],
    fio: Option<&std::result::Result<FioReport, String>>,
    disk: Option<&DiskFigures>,
) -> Result {
    let report = match fio {
        None if disk.is_some() => {
            return writeln!(
                out,
                "fio not installed: no independent check of the `ringbench disk` figures above in this run.\n"
            );
        }
        None => {
            return writeln!(
                out,
                "fio not installed: the disk's physical limit was not measured in this run.\n"
            );
        }
        Some(Err(e)) => {
            return writeln!(
                out,
                "`{FIO_FILE}` could not be read ({e}): the disk's physical limit is unknown for this run.\n"
            );
        }
        Some(Ok(report)) => report,
    };
    writeln!(
        out,
        "fio{}, the independent check, on the data directory's device, O_DIRECT (`direct=1`){}:\n",
        report
            .version
            .as_ref()
            .map_or(String::new(), |v| format!(" ({v})")),
        if disk.is_some() {
            "; beside each job, `ringbench disk`'s case of the same operation, block and depth"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "| job | direction | block | queue depth | MB/s | IOPS | clat p50 us | clat p99 us | clat p99.9 us |{}",
        if disk.is_some() {
            " ringbench disk MB/s |"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|{}",
        if disk.is_some() { "---|" } else { "" }
    )?;
    for job in &report.jobs {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |{}",
            job.name,
            job.direction.name(),
            job.block_bytes.map_or(ABSENT.to_string(), bytes),
            job.iodepth.map_or(ABSENT.to_string(), |d| d.to_string()),
            num(job.mb_s),
            num(job.iops),
            opt(job.clat_p50_us),
            opt(job.clat_p99_us),
            opt(job.clat_p999_us),
            disk.map_or(String::new(), |d| format!(" {} |", beside_fio(d, job)))
        )?;
    }
    writeln!(
        out,
        "\nThe engine's figures of the throughput targets (payload MB/s, the same cases as under Targets) against it:\n"
    )?;
    writeln!(
        out,
        "| I/O path | direction | engine case | durability | engine MB/s | fio job | fio MB/s | fraction of the disk |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for run in runs {
        for (direction, target) in [
            (Direction::Write, Target::ProduceThroughput),
            (Direction::Read, Target::FetchThroughput),
        ] {
            let (Some(r), Some(job)) = (
                targets::read(target, &run.result.scenarios),
                report.sequential_limit(direction),
            ) else {
                continue;
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {:.0}% |",
                run.display(),
                direction.name(),
                r.case,
                durability(r.durability.as_deref()),
                num(r.value),
                job.name,
                num(job.mb_s),
                100.0 * r.value / job.mb_s
            )?;
        }
    }
    small_write_latency(out, runs, report)
}

fn small_write_latency(out: &mut String, runs: &[Run], report: &FioReport) -> Result {
    let Some(job) = report.small_write() else {
        return writeln!(out);
    };
    writeln!(
        out,
        "\nSmall-write latency: fio `{}` write p50 {} us, p99 {} us; the fdatasync after it p50 {} us, p99 {} us.",
        job.name,
        opt(job.clat_p50_us),
        opt(job.clat_p99_us),
        opt(job.sync_p50_us),
        opt(job.sync_p99_us)
    )?;
    // A durable small write costs the write and the fdatasync; their p99s added are an upper
    // bound of the pair's p99.
    let disk_p99 = match (job.clat_p99_us, job.sync_p99_us) {
        (Some(write), Some(sync)) => Some(write + sync),
        (write, None) => write,
        (None, sync) => sync,
    };
    for run in runs {
        if let Some(r) = targets::read(Target::ProduceLatency, &run.result.scenarios) {
            let fraction = disk_p99.map_or(String::new(), |fio| {
                format!(
                    ", {} the disk's write + fdatasync p99",
                    ratio(r.value / fio)
                )
            });
            writeln!(
                out,
                "{}: `{}` p99 {} us (durability {}){fraction}.",
                run.display(),
                r.case,
                num(r.value),
                durability(r.durability.as_deref())
            )?;
        }
    }
    writeln!(out)
}
