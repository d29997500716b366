#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) on the stable toolchain, growing the corpus
# in fuzz/corpus/<target>. CI runs it with 20. A crash, leak, timeout or out-of-memory fails
# the run; libFuzzer leaves the input in fuzz/artifacts/<target>/, which then becomes a
# regression test. A slow unit (an input that took over libFuzzer's 10 s report threshold) is
# reported with its time and fails the run only above SLOW_UNIT_LIMIT seconds (default 60).
# Each target's one-time setup (key files, tables) runs in libFuzzer's initialisation hook,
# before any timed input, so it never counts as a unit.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#
# FUZZ_JOBS (default: the number of cores) targets run at once, one libFuzzer process each;
# every target still gets SECONDS of its own process.
#
# cargo-fuzz normally adds -Zsanitizer=address, which needs a nightly compiler; `-s none`
# keeps the coverage instrumentation (stable codegen options) and drops AddressSanitizer.
# The fuzzed code is `#![forbid(unsafe_code)]` Rust, where bounds are checked anyway.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(parse_key_file parse_resealed decrypt_cbc binding_section cli_args store_json device_csv)
fi
jobs=${FUZZ_JOBS:-$(nproc)}
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
cargo fuzz build -s none
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# fuzz_one TARGET: fuzzes it, then writes its report to $logs/TARGET.report and exits non-zero
# when it failed.
fuzz_one() {
    local t=$1 log="$logs/$1.log" report="$logs/$1.report" status=0 failures slowest=0 secs
    local slow_limit=${SLOW_UNIT_LIMIT:-60}
    {
        echo "== fuzzing $t for ${seconds}s"
        cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 \
            || status=$?
        grep -E '^(Done |stat::number_of_executed_units|stat::new_units_added)' "$log" || true
        failures=$(ls "artifacts/$t" 2>/dev/null | grep -v '^slow-unit-' || true)
        while read -r secs; do
            [ -n "$secs" ] && [ "$secs" -gt "$slowest" ] && slowest=$secs
        done < <(sed -n 's/^Slow unit: \([0-9]*\) s:.*/\1/p' "$log")
        if [ "$slowest" -gt 0 ]; then
            echo "slow unit(s) in $t: the slowest took ${slowest} s (limit ${slow_limit} s)"
            rm -f "artifacts/$t"/slow-unit-*
        fi
        if [ "$status" -ne 0 ] || [ -n "$failures" ] || [ "$slowest" -gt "$slow_limit" ]; then
            tail -n 40 "$log"
            echo "fuzz target $t failed (exit $status); inputs in fuzz/artifacts/$t/"
            status=1
        fi
    } >"$report" 2>&1
    return "$status"
}

failed=()
running=()
finish() { # waits for the oldest running target and prints its report
    local t=${running[0]%%:*} pid=${running[0]#*:}
    running=("${running[@]:1}")
    wait "$pid" || failed+=("$t")
    cat "$logs/$t.report"
}
for t in "${targets[@]}"; do
    fuzz_one "$t" &
    running+=("$t:$!")
    [ ${#running[@]} -lt "$jobs" ] || finish
done
while [ ${#running[@]} -gt 0 ]; do finish; done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing done: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
