#!/usr/bin/env bash
# Runs ringlog's benchmark suite and writes one results directory:
#
#   scripts/run_benchmarks.sh [--quick|--full] [--io uring|mmap|both] [--no-peers]
#
# First the disk's own limits: `ringbench disk` (disk.json: the engine's own io_uring ring and
# O_DIRECT files at its request sizes and depths, no engine logic; always runs), then fio as
# the independent check (fio.json, when fio is installed); then, for each I/O path, the Divan suite (`cargo bench -p benches`, raw output in divan-<io>.txt) and the
# scenario suite (`ringbench suite`, ringbench-<io>.json); then ringlog against its peers
# (`ringbench peers`, peers.json: raft-engine, fjall, glommio and the naive baseline on the
# same workload); then `ringbench report`, which writes summary.md and the SVG plots.
# Everything lands in results/<UTC timestamp>/; results/README.md explains the files.
#
# The io_uring build uses the default target directory and the mmap build target/mmap, so
# the two ringbench binaries do not overwrite each other. The io_uring build has the cargo
# feature `peers` (the peer engines, and the Divan `peers` bench); --no-peers leaves it out.
# RocksDB (feature `peer-rocksdb`) is never built here: see benches/README.md. Benchmark data
# goes to $RINGLOG_BENCH_DIR, else target/bench-data (the repository's own filesystem, not
# tmpfs), in a fresh subdirectory that is removed at exit.
#
# Run time on this 2-core VM, builds not counted: --quick about 6 minutes (ringbench disk
# about a minute, fio 30 s, then
# 1-2 minutes per I/O path, the peers about a minute: three rounds), --full under 60. The first build with
# the peers takes about 10 minutes more (raft-engine, fjall, glommio and their dependencies).
# Any failed step stops the run with a message naming it; "completed: <dir>" is printed only
# when every step succeeded.
set -euo pipefail

readonly PROG=run_benchmarks

usage() {
    cat <<'EOF'
usage: scripts/run_benchmarks.sh [--quick|--full] [--io uring|mmap|both] [--no-peers]

  --quick        trimmed grids (RINGLOG_BENCH_QUICK=1), fio jobs capped at 10 s (default)
  --full         full grids, fio jobs capped at 60 s
  --io PATH      uring, mmap or both (default: both)
  --no-peers     leave out the peer engines (ringbench peers, the Divan peers bench) and
                 their build; the peers run only with the io_uring path
  -h, --help     this text

Writes results/<UTC timestamp>/ (see results/README.md). Set RINGLOG_BENCH_DIR to measure
another filesystem. ringbench disk always measures the disk; fio runs only when installed.
EOF
}

# Bad arguments: the message, then the usage, on stderr, exit 2.
usage_error() {
    echo "$PROG: $1" >&2
    usage >&2
    exit 2
}

profile=quick
io_arg=both
peers=yes
while (($# > 0)); do
    case $1 in
        --quick) profile=quick ;;
        --full) profile=full ;;
        --no-peers) peers=no ;;
        --io)
            (($# >= 2)) || usage_error "--io needs a value: uring, mmap or both"
            io_arg=$2
            shift
            ;;
        --io=*) io_arg=${1#--io=} ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) usage_error "unknown argument: $1" ;;
    esac
    shift
done
case $io_arg in
    uring) io_paths=(uring) ;;
    mmap) io_paths=(mmap) ;;
    both) io_paths=(uring mmap) ;;
    *) usage_error "--io must be uring, mmap or both, not '$io_arg'" ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# --- step bookkeeping --------------------------------------------------------------------

failed_step=""
results_dir=""
data_dir=""

# A failure outside `step` (a bug in this script) still names where it happened.
trap 'echo "$PROG: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

on_exit() {
    local status=$?
    if [[ -n $data_dir && -d $data_dir ]]; then
        rm -rf -- "$data_dir"
    fi
    if ((status != 0)); then
        echo >&2
        echo "$PROG: stopped${failed_step:+ at step: $failed_step} (exit status $status)." >&2
        if [[ -n $results_dir && -d $results_dir ]]; then
            echo "$PROG: partial results left in $results_dir" >&2
        fi
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME COMMAND...: runs COMMAND, stops the script naming NAME when it fails.
# COMMAND is a program or a function whose status is that of its last pipeline (errexit does
# not apply inside a function called here, so functions chain their commands with &&).
step() {
    local name=$1
    shift
    echo
    echo "== $name"
    local started=$SECONDS status=0
    "$@" || status=$?
    if ((status != 0)); then
        failed_step=$name
        echo "$PROG: step failed: $name (exit status $status)" >&2
        exit "$status"
    fi
    echo "-- $name: done in $((SECONDS - started)) s"
}

# fail NAME MESSAGE: stops the script at a check that is not a command's exit status.
fail() {
    failed_step=$1
    echo "$PROG: step failed: $1: $2" >&2
    exit 1
}

# --- per-path settings -------------------------------------------------------------------

default_target=${CARGO_TARGET_DIR:-$repo/target}

target_dir() {
    case $1 in
        uring) echo "$default_target" ;;
        mmap) echo "$default_target/mmap" ;;
    esac
}

# Cargo feature flags of a path, one per line: the peers on io_uring (unless --no-peers),
# mmap on mmap.
features() {
    case $1 in
        uring) if [[ $peers == yes ]]; then printf '%s\n' --features peers; fi ;;
        mmap) printf '%s\n' --features mmap ;;
    esac
}

# The peers run on the io_uring build only (ringlog's default path).
if [[ $peers == yes && " ${io_paths[*]} " != *" uring "* ]]; then
    echo "$PROG: note: --io $io_arg has no io_uring build, so the peers are not run" >&2
    peers=no
fi

if [[ $profile == quick ]]; then
    profile_env=(RINGLOG_BENCH_QUICK=1)
    fio_runtime_s=10
else
    profile_env=()
    fio_runtime_s=60
fi

# --- build -------------------------------------------------------------------------------

for io in "${io_paths[@]}"; do
    mapfile -t feat < <(features "$io")
    target=$(target_dir "$io")
    step "build ringbench ($io, $target)" \
        env CARGO_TARGET_DIR="$target" cargo build --release -p benches --bin ringbench "${feat[@]}"
    step "build Divan benches ($io)" \
        env CARGO_TARGET_DIR="$target" cargo bench -p benches --no-run "${feat[@]}"
    [[ -x $target/release/ringbench ]] ||
        fail "build ringbench ($io)" "cargo succeeded but $target/release/ringbench is missing"
done

# --- directories -------------------------------------------------------------------------

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p results
mkdir "results/$stamp" || fail "create results/$stamp" "it already exists or cannot be created"
results_dir=results/$stamp

data_base=${RINGLOG_BENCH_DIR:-$repo/target/bench-data}
mkdir -p "$data_base" || fail "create data directory" "cannot create $data_base"
data_dir=$(mktemp -d "$data_base/run-$stamp.XXXXXX")
data_fs=$(stat -f -c %T "$data_dir")
echo "== results: $results_dir; data: $data_dir ($data_fs); profile: $profile; I/O: ${io_paths[*]}"
case $data_fs in
    tmpfs | ramfs)
        echo "$PROG: warning: $data_dir is on $data_fs, so the figures measure memory, not a" \
            "disk; set RINGLOG_BENCH_DIR to a directory on a real filesystem" >&2
        ;;
esac

# --- disk limits (ringbench disk, then fio) ----------------------------------------------

# The disk through the engine's own I/O substrate, in the data directory, before any engine
# run: every write figure of summary.md is set against it.
step "ringbench disk ($profile) -> $results_dir/disk.json" \
    "$(target_dir "${io_paths[0]}")/release/ringbench" disk "--$profile" \
    --dir "$data_dir" --out "$results_dir/disk.json"
[[ -s $results_dir/disk.json ]] ||
    fail "ringbench disk" "it did not write $results_dir/disk.json"

# The first engine that can do one direct write here: io_uring is refused in many containers
# and by kernel.io_uring_disabled, libaio may not be compiled into fio.
fio_engine() {
    local engine
    for engine in io_uring libaio psync; do
        if fio --name=probe --ioengine="$engine" --direct=1 --directory="$data_dir" \
            --filename=fio-probe.dat --size=1M --bs=4k --rw=write \
            --output=/dev/null >/dev/null 2>&1; then
            rm -f -- "$data_dir/fio-probe.dat"
            echo "$engine"
            return 0
        fi
    done
    return 1
}

run_fio() {
    env FIO_DIR="$data_dir" FIO_IOENGINE="$1" FIO_RUNTIME_S="$fio_runtime_s" \
        fio --output-format=json --output="$results_dir/fio.json" scripts/fio-jobs.fio &&
        rm -f -- "$data_dir"/fio-*.dat
}

if command -v fio >/dev/null; then
    engine=$(fio_engine) ||
        fail "fio" "fio cannot do direct I/O in $data_dir with io_uring, libaio or psync"
    step "fio disk limits ($engine, direct=1, <= $fio_runtime_s s per job) -> $results_dir/fio.json" \
        run_fio "$engine"
    for job in seq-write-256k-qd8 seq-read-256k-qd4 write-4k-qd1; do
        grep -q "\"jobname\" : \"$job\"" "$results_dir/fio.json" ||
            fail "fio" "job $job is missing from $results_dir/fio.json"
    done
else
    echo
    echo "== fio is not installed: no independent check of ringbench disk's figures in this" \
        "run (summary.md says so); install it (Debian/Ubuntu: apt-get install fio) for one"
fi

# --- suites ------------------------------------------------------------------------------

# run_divan IO: the Divan suite on one path; stdout and stderr both kept in divan-IO.txt.
run_divan() {
    local io=$1 feat
    mapfile -t feat < <(features "$io")
    env -u RINGLOG_BENCH_QUICK "${profile_env[@]}" \
        CARGO_TARGET_DIR="$(target_dir "$io")" RINGLOG_BENCH_DIR="$data_dir" \
        cargo bench -p benches "${feat[@]}" 2>&1 | tee "$results_dir/divan-$io.txt"
}

for io in "${io_paths[@]}"; do
    step "Divan suite ($io, $profile) -> $results_dir/divan-$io.txt" run_divan "$io"
    step "ringbench suite ($io, $profile)" \
        env RINGLOG_BENCH_DIR="$data_dir" "$(target_dir "$io")/release/ringbench" \
        suite "--$profile" --out "$results_dir"
    [[ -s $results_dir/ringbench-$io.json ]] ||
        fail "ringbench suite ($io)" "it did not write $results_dir/ringbench-$io.json"
done

# --- peers -------------------------------------------------------------------------------

if [[ $peers == yes ]]; then
    step "ringbench peers ($profile) -> $results_dir/peers.json" \
        env RINGLOG_BENCH_DIR="$data_dir" "$(target_dir uring)/release/ringbench" \
        peers "--$profile" --out "$results_dir"
    [[ -s $results_dir/peers.json ]] ||
        fail "ringbench peers" "it did not write $results_dir/peers.json"
fi

# --- report ------------------------------------------------------------------------------

step "ringbench report" "$(target_dir "${io_paths[0]}")/release/ringbench" report "$results_dir"
[[ -s $results_dir/summary.md ]] ||
    fail "ringbench report" "it did not write $results_dir/summary.md"

echo
echo "== summary: $results_dir/summary.md (first lines)"
head -n 25 "$results_dir/summary.md"
echo
echo "== files"
ls -l "$results_dir"
echo
echo "completed: $results_dir"
