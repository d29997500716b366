#!/usr/bin/env bash
# Runs README.md's wbkms curl walk-through exactly as written (the block between the
# "wbkms walk-through" markers), with freshly built wbkms, wbdecrypt and wbfingerprint first on
# PATH, in a temporary directory, and checks what it printed: the secret decrypted on this
# device, the disabled key refused with 02000011, an intact audit chain.
#
#   bash wbkms/tests/readme-walkthrough.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=$(bash "$repo/.ci/target-dir")
(cd "$repo" && cargo build --locked --quiet -p wbkms -p wbgen -p wbdecrypt -p wbfingerprint)
command -v curl >/dev/null || { echo "curl is needed"; exit 1; }

script=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$script" "$work"' EXIT
awk '/<!-- wbkms walk-through: begin -->/ {on = 1; next}
     /<!-- wbkms walk-through: end -->/ {on = 0}
     on && !/^```/' "$repo/README.md" >"$script"
[ "$(wc -l <"$script")" -gt 10 ] || { echo "README.md has no wbkms walk-through block"; exit 1; }

out=$(cd "$work" && PATH="$target/debug:$PATH" bash -euo pipefail "$script" 2>&1) || {
    echo "$out"; echo "FAIL: the README walk-through failed"; exit 1;
}
echo "$out" | tail -n 12
grep -qx 'sk_live_123' <<<"$out" || { echo "FAIL: wbdecrypt did not print the secret"; exit 1; }
grep -q '"Code":"02000011"' <<<"$out" || { echo "FAIL: the disabled key was not refused"; exit 1; }
grep -q '"Intact": true' <<<"$out" || { echo "FAIL: audit verify did not report an intact chain"; exit 1; }
echo "PASS: README's wbkms walk-through"
