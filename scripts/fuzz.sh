#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a fixed time and prints how many inputs each executed:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]        # default 20
#
# The targets (fuzz/README.md): batch_decode, recovery_scan, index_load, topic_metadata,
# request_decode.
# Needs a nightly toolchain (cargo-fuzz builds with -Zsanitizer=address and libFuzzer's
# coverage flags); installs cargo-fuzz with `cargo install cargo-fuzz --locked` if it is
# missing. Builds go to $CARGO_TARGET_DIR if set, else fuzz/target.
#
# Each target starts from its committed corpus (fuzz/corpus/<target>) and past crash inputs
# (fuzz/regressions/<target>), both read only: libFuzzer writes new inputs to the first corpus
# directory given, here a temporary one removed at exit, so a run leaves the tree clean. Every
# target runs even if an earlier one crashed; any crash, timeout (-timeout, 10 s per input) or
# out-of-memory fails the run, and the input that caused it is left in fuzz/artifacts/<target>/
# (ignored by git) for `cargo +nightly fuzz run <target> <file>`.
#
# Wall time on this 2-core VM for the default 20 s: about 1.5 minutes with a warm build, about 3
# minutes cold (a fresh clone: the build takes 1.5 minutes), and about 3 minutes more when
# cargo-fuzz has to be installed. The four runs take SECONDS_PER_TARGET each plus a few seconds
# to load each corpus.
set -euo pipefail

readonly PROG=fuzz
readonly TARGETS=(batch_decode recovery_scan index_load topic_metadata request_decode)

die() {
    echo "$PROG: $*" >&2
    exit 1
}

seconds=${1:-20}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (a positive integer, got '$seconds')"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

rustup toolchain list | grep -q '^nightly' ||
    die "no nightly toolchain: cargo-fuzz needs one for its sanitizer and coverage flags; install it with 'rustup toolchain install nightly'"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "$PROG: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked || die "cargo install cargo-fuzz --locked failed"
fi

echo "$PROG: building ${#TARGETS[@]} targets"
cargo +nightly fuzz build || die "cargo +nightly fuzz build failed"

scratch=$(mktemp -d -t ringlog-fuzz.XXXXXX)
# Segment and metadata files the targets write, on tmpfs where there is one (cheap fsyncs).
if [[ -d /dev/shm ]]; then
    files=$(mktemp -d -p /dev/shm ringlog-fuzz-files.XXXXXX)
else
    files=$scratch/files
fi
export RINGLOG_FUZZ_SCRATCH=$files
trap 'rm -rf "$scratch" "$files"' EXIT

failed=()
for target in "${TARGETS[@]}"; do
    corpus=fuzz/corpus/$target
    [[ -d $corpus ]] || die "$corpus is missing"
    dirs=("$scratch/$target" "$corpus")
    [[ -d fuzz/regressions/$target ]] && dirs+=("fuzz/regressions/$target")
    mkdir -p "$scratch/$target"
    log=$scratch/$target.log
    status=0
    cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    new_inputs=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
    if ((status == 0)); then
        echo "$PROG: $target: ${executions:-?} executions in ${seconds} s, ${new_inputs:-0} new inputs"
    else
        failed+=("$target")
        echo "$PROG: $target FAILED (exit $status) after ${executions:-?} executions; its output ends:" >&2
        tail -n 60 "$log" >&2
        grep -h 'Test unit written to' "$log" >&2 || true
    fi
done

if ((${#failed[@]} > 0)); then
    die "crashes in: ${failed[*]}"
fi
echo "$PROG: all ${#TARGETS[@]} targets ran ${seconds} s each without a crash"
