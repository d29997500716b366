#!/usr/bin/env bash
# Writes test-vectors/stores/0.1.0/: a key store made by the released 0.1.0 `wbgen` (commit
# 24f82225b62a137b72548ba965b3f8711c00dbae, .ci/last-release), and manifest.json: the
# passphrase and, per secret, the key, version, IV, ciphertext and plaintext. The migration test
# (wbgen/tests/migration.rs) migrates a copy with today's wbgen and decrypts every secret with
# key files exported after the migration.
#
# Usage: WBGEN_010=/path/to/0.1.0/wbgen test-vectors/stores/make-0.1.0-store.sh
# (build it with: git worktree add /tmp/rel010 24f82225b62a; cd /tmp/rel010 &&
#  cargo build --release -p wbgen)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/0.1.0"
wbgen=${WBGEN_010:?set WBGEN_010 to the 0.1.0 wbgen binary}
rm -rf "$out" && mkdir -p "$out"
export WBGEN_PASSPHRASE="release 0.1.0 store passphrase"
store="$out/store"
id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["KeyId"])'; }
secrets=()
encrypt() { # key-id alias algorithm version plaintext
    local r
    r=$("$wbgen" --keystore "$store" encrypt --key-id "$1" --plaintext-b64 "$(printf %s "$5" | base64 -w0)")
    secrets+=("$(python3 - "$1" "$2" "$3" "$4" "$5" "$r" <<'PY'
import json, sys
key_id, alias, alg, version, plain, r = sys.argv[1:]
r = json.loads(r)
print(json.dumps({"KeyId": key_id, "Alias": alias, "Algorithm": int(alg), "KeyVersion": int(version),
                  "Iv": r["InitializationVector"], "CipherText": r["CipherText"], "PlainText": plain}))
PY
)")
}
a=$("$wbgen" --keystore "$store" create --algorithm aes-256 --alias payments --mode external | id)
encrypt "$a" payments 0 1 "api-key-for-payments"
s=$("$wbgen" --keystore "$store" create --algorithm sm4 --alias legacy-sm4 --standard | id)
encrypt "$s" legacy-sm4 1 1 "sm4 database password"
h=$("$wbgen" --keystore "$store" create --algorithm aes-256 --alias space-hard --mode space-hard | id)
encrypt "$h" space-hard 0 1 "space-hard token v1"
"$wbgen" --keystore "$store" rotate --key-id "$h" >/dev/null
encrypt "$h" space-hard 0 2 "space-hard token v2"
i=$("$wbgen" --keystore "$store" import --algorithm aes-256 --alias imported --mode external \
    --key-hex 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f | id)
encrypt "$i" imported 0 1 "imported key secret"
d=$("$wbgen" --keystore "$store" create --algorithm sm4 --alias disabled-key --standard | id)
encrypt "$d" disabled-key 1 1 "written before it was disabled"
"$wbgen" --keystore "$store" disable --key-id "$d" >/dev/null
rm -f "$store/store.lock"
python3 - "$out/manifest.json" "$WBGEN_PASSPHRASE" "$d" "${secrets[@]}" <<'PY'
import json, sys
path, passphrase, disabled, *secrets = sys.argv[1:]
json.dump({"Written": "wbgen 0.1.0 (24f82225b62a137b72548ba965b3f8711c00dbae)",
           "Passphrase": passphrase, "DisabledKeyId": disabled,
           "Secrets": [json.loads(s) for s in secrets]}, open(path, "w"), indent=2)
PY
echo "wrote $out"
