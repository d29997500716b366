#!/usr/bin/env bash
# End-to-end demo of the white-box key lifecycle with the command-line tools, on a temporary
# key store with a demo passphrase: create an AES-256 and an SM4 key, encrypt a secret with
# each, export both decryption key files, decrypt them with wbdecrypt, print the secret back.
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --locked --quiet -p wbgen -p wbdecrypt
bin=target/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export WBGEN_KEYSTORE="$work/keystore"
export WBGEN_PASSPHRASE="${WBGEN_PASSPHRASE:-demo passphrase, not for production}"
secret='IY9Ynrabcdj05YH1234LE370HOM'

# Reads one string, number or boolean field from wbgen's JSON (one field per line).
field() { sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"; }

for alg in aes-256 sm4; do
    case $alg in aes-256) number=0 ;; sm4) number=1 ;; esac
    echo "=== $alg ==="
    echo "\$ wbgen create --algorithm $alg --alias demo-$alg"
    created=$("$bin/wbgen" create --algorithm "$alg" --alias "demo-$alg" --description "demo key")
    echo "$created"
    key_id=$(field KeyId <<<"$created")

    echo "\$ wbgen encrypt --key-id $key_id --plaintext-b64 <secret>"
    encrypted=$("$bin/wbgen" encrypt --key-id "$key_id" --plaintext-b64 "$(printf %s "$secret" | base64)")
    echo "$encrypted"
    iv=$(field InitializationVector <<<"$encrypted")
    ciphertext=$(field CipherText <<<"$encrypted")

    echo "\$ wbgen export --key-id $key_id --out keys/$alg.wbkey"
    mkdir -p "$work/keys"
    "$bin/wbgen" export --key-id "$key_id" --out "$work/keys/$alg.wbkey"

    echo "\$ wbdecrypt --key-dir keys --key-file $alg.wbkey --iv $iv --ciphertext ... --algorithm $number"
    plaintext=$("$bin/wbdecrypt" --key-dir "$work/keys" --key-file "$alg.wbkey" \
        --iv "$iv" --ciphertext "$ciphertext" --algorithm "$number")
    echo "$plaintext"
    if [ "$plaintext" != "$secret" ]; then
        echo "demo FAILED: decrypted text differs from the secret" >&2
        exit 1
    fi
done
echo "demo OK: both key files decrypted the secret on the 'device' with wbdecrypt"
