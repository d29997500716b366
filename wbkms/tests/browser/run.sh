#!/usr/bin/env bash
# The web console's real-browser test: builds wbkms, wbdecrypt and wbfingerprint (debug),
# starts wbkms on a fresh key store with an admin token, drives the console in headless
# Chromium (console.mjs: sign in, create a key in the default SPACE_HARD mode, encrypt a secret,
# bind this machine, download the decryption key file, remove devices without and with rotation,
# disable/enable and delete with their confirmations, rotate, key versions and the rotation
# period, create an EXTERNAL key (notice, warning), tokens and access keys, the audit log, the
# layout at 1280 px), then decrypts the ciphertext read from the page with the downloaded key
# file and wbdecrypt, as a device would, and checks the secret comes back; a device with another
# fingerprint must not get it. The ciphertext was made under version 1: version 1's key file,
# downloaded from the versions list after two rotations, decrypts it too, version 3's does not.
#
#   bash wbkms/tests/browser/run.sh
#
# Needs node and npm; installs Debian's chromium when it is missing. KEEP_WORK=1 keeps the
# temporary folder (server log, screenshots, downloads).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
target=$(bash "$here/../../../.ci/target-dir")
bin=$target/debug

echo "== building wbkms, wbdecrypt, wbfingerprint (debug)"
(cd "$repo" && cargo build --locked -p wbkms -p wbgen -p wbdecrypt -p wbfingerprint)

if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium_bin=$(command -v chromium)

echo "== npm ci"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d)
server_pid=
cleanup() {
    local rc=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ]; then
        echo "--- wbkms server log" >&2
        cat "$work/server.log" >&2 2>/dev/null || true
        echo "FAIL: wbkms console browser test (exit $rc)" >&2
    fi
    if [ "${KEEP_WORK:-}" = 1 ] || [ "$rc" -ne 0 ]; then
        echo "(work folder kept: $work)" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

keystore=$work/keystore
mkdir -p "$work/downloads"
export WBGEN_PASSPHRASE='browser test passphrase, not for production'
export WBGEN_KEYSTORE=$keystore
"$bin/wbgen" --keystore "$keystore" init >/dev/null

json_field() { # json_field NAME < json
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(typeof v!=="string"||!v){process.exit(1)}process.stdout.write(v)})' "$1"
}

echo "== creating an admin and a reader token"
token=$("$bin/wbkms" token create --keystore "$keystore" --role admin --name browser | json_field Token)
reader_token=$("$bin/wbkms" token create --keystore "$keystore" --role reader --name browser-reader | json_field Token)

echo "== starting wbkms serve"
port_file=$work/port
"$bin/wbkms" serve --keystore "$keystore" --listen 127.0.0.1:0 --port-file "$port_file" \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
    [ -s "$port_file" ] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "wbkms serve exited before listening" >&2; exit 1; }
    sleep 0.1
done
[ -s "$port_file" ] || { echo "wbkms serve did not write $port_file within 30 s" >&2; exit 1; }
addr=$(tr -d ' \r\n' <"$port_file")
base_url=http://$addr
echo "   listening on $base_url"

fingerprint=$("$bin/wbfingerprint")
secret='IY9Ynrabcdj05YH1234LE370HOM browser console secret'

echo "== driving the console in headless Chromium"
(cd "$here" && BASE_URL=$base_url TOKEN=$token DOWNLOAD_DIR=$work/downloads FINGERPRINT=$fingerprint \
    READER_TOKEN=$reader_token SECRET=$secret CHROMIUM=$chromium_bin node console.mjs)

dl=$work/downloads
key_id=$(tr -d '\r\n' <"$dl/key-id.txt")
iv=$(tr -d '\r\n' <"$dl/iv.txt")
ciphertext=$(tr -d '\r\n' <"$dl/ciphertext.txt")
[ -s "$dl/$key_id.wbkey" ] || { echo "no downloaded key file $key_id.wbkey" >&2; exit 1; }

echo "== decrypting on this device with wbdecrypt and the downloaded key file"
plaintext=$("$bin/wbdecrypt" --key-dir "$dl" --key-file "$key_id.wbkey" \
    --iv "$iv" --ciphertext "$ciphertext" --algorithm 0)
if [ "$plaintext" != "$secret" ]; then
    echo "decrypted text differs from the secret: '$plaintext'" >&2
    exit 1
fi
echo "   ok: the secret came back"

echo "== a device with another fingerprint must not decrypt"
other='wbfp1-ffffffffffffffffffffffffffffffffffffffff'
if "$bin/wbdecrypt" --key-dir "$dl" --key-file "$key_id.wbkey" --iv "$iv" \
    --ciphertext "$ciphertext" --algorithm 0 --fingerprint "$other" >/dev/null 2>"$work/other.err"; then
    echo "a device with another fingerprint decrypted: the key file is not bound" >&2
    exit 1
fi
grep -q '^error 01000016' "$work/other.err" || {
    echo "another device got the wrong error: $(cat "$work/other.err")" >&2; exit 1;
}
echo "   ok: refused on another device"

echo "== version 1's key file, downloaded after the rotations, decrypts version 1's ciphertext"
[ -s "$dl/$key_id.v1.wbkey" ] && [ -s "$dl/$key_id.v3.wbkey" ] || {
    echo "no downloaded key files $key_id.v1.wbkey and $key_id.v3.wbkey" >&2; exit 1;
}
plaintext=$("$bin/wbdecrypt" --key-dir "$dl" --key-file "$key_id.v1.wbkey" \
    --iv "$iv" --ciphertext "$ciphertext" --algorithm 0)
if [ "$plaintext" != "$secret" ]; then
    echo "version 1's key file decrypted something else: '$plaintext'" >&2
    exit 1
fi
# Version 3's file holds other key material: an error (bad padding), or other bytes.
if v3=$("$bin/wbdecrypt" --key-dir "$dl" --key-file "$key_id.v3.wbkey" \
    --iv "$iv" --ciphertext "$ciphertext" --algorithm 0 2>/dev/null) && [ "$v3" = "$secret" ]; then
    echo "version 3's key file decrypted version 1's ciphertext" >&2
    exit 1
fi
echo "   ok: version 1's file gives the secret back, version 3's does not"

echo "PASS: wbkms console browser test (sign-in, create, encrypt, devices, key download, device removal and rotation, disable/enable and delete with confirmations, rotate, versions and an older version's key file, rotation period, tokens and access keys, audit log, 1280 px layout; wbdecrypt got the secret back)"
