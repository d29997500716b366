#!/usr/bin/env bash
# Writes test-vectors/stores/files/: a key store in the directory format before the database
# (store.json, wbkms-tokens.json with a token and an access key, and audit.log with the
# service's records), made by wbgen and wbkms at commit 028900b, the last commit before the
# store moved to wbstore. Release 0.1.0 had no service; this fixture is what a user who ran the
# service from the repository has. manifest.json holds the passphrase, the admin token, the
# key id and the number of audit records; wbkms/tests/migration.rs migrates a copy.
#
# Usage: BIN_028900B=/path/to/release/dir test-vectors/stores/make-file-store.sh
# (git worktree add /tmp/pre033 028900b; cd /tmp/pre033 && cargo build --release -p wbgen -p wbkms)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/files"
bin=${BIN_028900B:?set BIN_028900B to the directory holding wbgen and wbkms of 028900b}
rm -rf "$out" && mkdir -p "$out"
export WBGEN_PASSPHRASE="file store passphrase"
store="$out/store"
key=$("$bin/wbgen" --keystore "$store" create --algorithm sm4 --alias files-key \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["KeyId"])')
token=$("$bin/wbkms" token create --keystore "$store" --role admin --name fixture \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Token"])')
"$bin/wbkms" accesskey create --keystore "$store" --role reader --name fixture >/dev/null
"$bin/wbkms" serve --keystore "$store" --listen 127.0.0.1:0 --port-file "$out/port" 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$out/port" ] && break; sleep 0.1; done
addr=$(cat "$out/port")
for action in DescribeWhiteBoxKeyDetails DescribeWhiteBoxServiceStatus; do
    curl -sf -X POST "http://$addr/" -H "Authorization: Bearer $token" -H "X-Action: $action" \
        -H 'Content-Type: application/json' -d '{}' >/dev/null
done
curl -sf -X POST "http://$addr/" -H "Authorization: Bearer $token" -H "X-Action: DescribeWhiteBoxKey" \
    -H 'Content-Type: application/json' -d "{\"KeyId\": \"$key\"}" >/dev/null
kill -TERM $pid && wait $pid || true
rm -f "$out/port" "$store"/*.lock
records=$(wc -l < "$store/audit.log")
python3 - "$out/manifest.json" "$WBGEN_PASSPHRASE" "$token" "$key" "$records" <<'PY'
import json, sys
path, passphrase, token, key, records = sys.argv[1:]
json.dump({"Written": "wbgen and wbkms at 028900b", "Passphrase": passphrase, "AdminToken": token,
           "KeyId": key, "AuditRecords": int(records)}, open(path, "w"), indent=2)
PY
echo "wrote $out"
