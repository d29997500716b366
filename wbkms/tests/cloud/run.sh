#!/usr/bin/env bash
# The cloud's own clients against wbkms serve on loopback: the official Python SDK
# (test_sdk.py: every white-box action, the key file decrypted by wbdecrypt, signature, role
# and parameter errors by their KMS codes) and tccli (README.md's tccli walk-through, run as
# written). Installs the pinned clients (requirements.txt) into a venv under cargo's target
# directory.
#
#   bash wbkms/tests/cloud/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
target=$(bash "$repo/.ci/target-dir")
bin=$target/debug
(cd "$repo" && cargo build --locked --quiet -p wbkms -p wbgen -p wbdecrypt -p wbfingerprint)

venv=$target/cloud-clients-venv
if [ ! -x "$venv/bin/tccli" ] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    local rc=$?
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [ "$rc" -ne 0 ]; then
        echo "--- wbkms server log" >&2; cat "$work/server.log" >&2 2>/dev/null || true
        echo "FAIL: the cloud clients against wbkms (exit $rc)" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export WBGEN_PASSPHRASE='cloud clients test passphrase'
store=$work/store
"$bin/wbgen" --keystore "$store" init >/dev/null
field() { "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
for role in admin operator reader; do
    "$bin/wbkms" accesskey create --keystore "$store" --role "$role" --name "sdk-$role" >"$work/$role.json"
done
"$bin/wbkms" serve --keystore "$store" --listen 127.0.0.1:0 --port-file "$work/addr" \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do [ -s "$work/addr" ] && break; sleep 0.1; done
[ -s "$work/addr" ] || { echo "wbkms serve did not start"; exit 1; }

echo "== the official Python SDK (tencentcloud-sdk-python-kms)"
(
    cd "$here"
    export WBKMS_ENDPOINT=$(tr -d '\n' <"$work/addr") WBDECRYPT=$bin/wbdecrypt \
        FINGERPRINT=$("$bin/wbfingerprint")
    for role in admin operator reader; do
        up=${role^^}
        export "${up}_ID=$(field SecretId <"$work/$role.json")" "${up}_KEY=$(field SecretKey <"$work/$role.json")"
    done
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::UserWarning test_sdk.py
)

echo "== README's tccli walk-through"
script=$work/walkthrough.sh
awk '/<!-- tccli walk-through: begin -->/ {on = 1; next}
     /<!-- tccli walk-through: end -->/ {on = 0}
     on && !/^```/' "$repo/README.md" >"$script"
[ "$(wc -l <"$script")" -gt 5 ] || { echo "README.md has no tccli walk-through block"; exit 1; }
# A step that fails stops the script before its `kill %1`: the server it started in the
# background must not outlive it (it would hold the output pipe open, and this script would
# wait on it for ever).
sed -i '1i trap '"'"'kill $(jobs -p) 2>/dev/null || true'"'"' EXIT' "$script"
mkdir "$work/walk"
out=$(cd "$work/walk" && PATH="$venv/bin:$bin:$PATH" bash -euo pipefail "$script" 2>&1) || {
    echo "$out"; echo "FAIL: the tccli walk-through failed"; exit 1;
}
echo "$out" | tail -n 5
grep -qx 'sk_live_123' <<<"$out" || { echo "FAIL: wbdecrypt did not print the secret"; exit 1; }
grep -q '"payments-api"' <<<"$out" || { echo "FAIL: the key list lacks the key"; exit 1; }
echo "PASS: the official SDK and tccli against wbkms"
