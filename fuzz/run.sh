#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) on the stable toolchain, growing the corpus
# in fuzz/corpus/<target>. CI runs it with 30. A crash fails the run; libFuzzer leaves the
# input in fuzz/artifacts/<target>/, which then becomes a regression test.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
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
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
cargo fuzz build -s none
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
    echo "== fuzzing $t for ${seconds}s"
    status=0
    cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 \
        || status=$?
    grep -E '^(Done |stat::number_of_executed_units|stat::new_units_added)' "$log" || true
    if [ "$status" -ne 0 ] || [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
        tail -n 40 "$log" >&2
        echo "fuzz target $t failed (exit $status); inputs in fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "fuzzing done: ${#targets[@]} targets, ${seconds}s each"
