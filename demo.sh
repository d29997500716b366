#!/usr/bin/env bash
# End-to-end demo of the white-box key lifecycle with the command-line tools, on a temporary
# key store with a demo passphrase: create an AES-256 and an SM4 key in the default mode
# (space-hard, no --mode given) and, for comparison, in the Chow-style external mode (which
# warns that its key is recoverable from the key file), encrypt a secret with each, export the
# decryption key files, decrypt them with wbdecrypt, print the secret back. Finds the binaries where cargo put them
# (CARGO_TARGET_DIR and cargo configuration honoured).
set -euo pipefail
cd "$(dirname "$0")"

# --quiet keeps the demo's output readable, so say what the pause is.
echo "building the tools (wbgen, wbdecrypt; about a minute the first time)…"
cargo build --release --locked --quiet -p wbgen -p wbdecrypt
bin=$(.ci/target-dir)/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export WBGEN_KEYSTORE="$work/keystore"
export WBGEN_PASSPHRASE="${WBGEN_PASSPHRASE:-demo passphrase, not for production}"
echo "\$ wbgen init            # a new key store, under WBGEN_PASSPHRASE"
"$bin/wbgen" init >/dev/null
secret='IY9Ynrabcdj05YH1234LE370HOM'

# Reads one string, number or boolean field from wbgen's JSON (one field per line).
field() { sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"; }

for run in aes-256 sm4 aes-256/external sm4/external; do
    alg=${run%%/*}
    mode_args=()
    [ "$run" = "$alg" ] || mode_args=(--mode "${run#*/}")
    case $alg in aes-256) number=0 ;; sm4) number=1 ;; esac
    name=demo-$alg-${mode_args[1]:-default}
    echo "=== $alg, ${mode_args[1]:-default (space-hard)} mode ==="
    echo "\$ wbgen create --algorithm $alg --alias $name ${mode_args[*]-}"
    created=$("$bin/wbgen" create --algorithm "$alg" --alias "$name" ${mode_args[@]+"${mode_args[@]}"} --description "demo key")
    echo "$created"
    mode=$(field Mode <<<"$created")
    if [ "$run" = "$alg" ] && [ "$mode" != SPACE_HARD ]; then
        echo "demo FAILED: a key created without --mode is $mode, not SPACE_HARD" >&2
        exit 1
    fi
    key_id=$(field KeyId <<<"$created")

    echo "\$ wbgen encrypt --key-id $key_id --plaintext-b64 <secret>"
    encrypted=$("$bin/wbgen" encrypt --key-id "$key_id" --plaintext-b64 "$(printf %s "$secret" | base64)")
    echo "$encrypted"
    iv=$(field InitializationVector <<<"$encrypted")
    ciphertext=$(field CipherText <<<"$encrypted")

    echo "\$ wbgen export --key-id $key_id --out keys/$name.wbkey"
    mkdir -p "$work/keys"
    "$bin/wbgen" export --key-id "$key_id" --out "$work/keys/$name.wbkey"

    echo "\$ wbdecrypt --key-dir keys --key-file $name.wbkey --iv $iv --ciphertext ... --algorithm $number"
    plaintext=$("$bin/wbdecrypt" --key-dir "$work/keys" --key-file "$name.wbkey" \
        --iv "$iv" --ciphertext "$ciphertext" --algorithm "$number")
    echo "$plaintext"
    if [ "$plaintext" != "$secret" ]; then
        echo "demo FAILED: decrypted text differs from the secret" >&2
        exit 1
    fi
done
echo "demo OK: all four key files (AES-256 and SM4, the default space-hard mode and the external mode) decrypted the secret on the 'device' with wbdecrypt"
