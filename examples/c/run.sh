#!/usr/bin/env bash
# Builds the C example against the static and the dynamic library and runs both under
# valgrind memcheck (zero errors, no leaks), for an AES-256 and an SM4 key file made with the
# wbgen CLI. Used by CI; needs gcc and valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked --quiet -p wbruntime-ffi -p wbgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Where cargo put the libraries (CARGO_TARGET_DIR and cargo configuration honoured).
lib=$(.ci/target-dir)/release
cflags=(-std=c11 -Wall -Wextra -Werror -O2 -g -Iwbruntime-ffi/include)
gcc "${cflags[@]}" examples/c/decrypt_secret.c "$lib/libwbruntime_ffi.a" \
    -lpthread -ldl -lm -o "$work/decrypt_static"
gcc "${cflags[@]}" examples/c/decrypt_secret.c -L"$lib" -lwbruntime_ffi -Wl,-rpath,"$lib" \
    -lpthread -o "$work/decrypt_dynamic"
# The README's C example, exactly as written there.
sed -n '/^```c$/,/^```$/p' README.md | sed '1d;$d' > "$work/readme_app.c"
gcc "${cflags[@]}" "$work/readme_app.c" "$lib/libwbruntime_ffi.a" -lpthread -ldl -lm -o "$work/readme_static"
gcc "${cflags[@]}" "$work/readme_app.c" -L"$lib" -lwbruntime_ffi -Wl,-rpath,"$lib" -o "$work/readme_dynamic"
gcc "${cflags[@]}" examples/c/space_hard.c "$lib/libwbruntime_ffi.a" -lpthread -ldl -lm -o "$work/space_hard"
gcc "${cflags[@]}" examples/c/backends.c "$lib/libwbruntime_ffi.a" -lpthread -ldl -lm -o "$work/backends"
gcc "${cflags[@]}" examples/c/vectors.c "$lib/libwbruntime_ffi.a" -lpthread -ldl -lm -o "$work/vectors"

# The cross-language vectors (test-vectors/sdk/vectors.json): every case and every error case.
python3 examples/c/vectors.py "$work/vectors"

export WBGEN_KEYSTORE="$work/keystore" WBGEN_PASSPHRASE="c example passphrase"
"$lib/wbgen" init >/dev/null
field() { sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"; }
mkdir -p "$work/keys"
for alg in aes-256 sm4; do
    case $alg in aes-256) number=0 ;; sm4) number=1 ;; esac
    id=$("$lib/wbgen" create --algorithm "$alg" --alias "c-$alg" | field KeyId)
    enc=$("$lib/wbgen" encrypt --key-id "$id" --plaintext-b64 "$(printf %s 'secret from C' | base64)")
    "$lib/wbgen" export --key-id "$id" --out "$work/keys/$alg.wbkey" >/dev/null
    # A Chow-style file, which decrypts but cannot encrypt (whitebox_encrypt's refusal below).
    ext=$("$lib/wbgen" create --algorithm "$alg" --alias "c-ext-$alg" --mode external | field KeyId)
    "$lib/wbgen" export --key-id "$ext" --out "$work/keys/ext-$alg.wbkey" >/dev/null
    iv=$(field InitializationVector <<<"$enc")
    ct=$(field CipherText <<<"$enc")
    for program in decrypt_static decrypt_dynamic readme_static readme_dynamic; do
        echo "== $alg, $program, under valgrind"
        out=$(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
            --errors-for-leak-kinds=definite,indirect,possible \
            "$work/$program" "$work/keys" "$alg.wbkey" "$iv" "$ct" "$number")
        echo "$out"
        grep -q 'secret from C' <<<"$out"
    done
done
# Space-hard: the key file encrypts exactly as wbgen does (same IV), and decrypts it back.
iv=$(printf '0123456789abcdef' | base64)
for alg in aes-256 sm4; do
    case $alg in aes-256) number=0 ;; sm4) number=1 ;; esac
    id=$("$lib/wbgen" create --algorithm "$alg" --alias "c-sh-$alg" --mode space-hard | field KeyId)
    want=$("$lib/wbgen" encrypt --key-id "$id" --iv-b64 "$iv" --plaintext-b64 "$(printf %s 'secret from C' | base64)" | field CipherText)
    "$lib/wbgen" export --key-id "$id" --out "$work/keys/sh-$alg.wbkey" >/dev/null
    echo "== space-hard $alg, under valgrind"
    got=$(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
        --errors-for-leak-kinds=definite,indirect,possible \
        "$work/space_hard" "$work/keys" "sh-$alg.wbkey" "$iv" "$number" 'secret from C' "ext-$alg.wbkey")
    echo "$got"
    [ "$got" = "$want" ] || { echo "whitebox_encrypt gave $got, wbgen $want"; exit 1; }
done
# Multi-MiB messages through the C ABI under every backend (WBRUNTIME_BACKEND), both ciphers,
# both Chow modes: a handle shared by threads and the one-shot call. A backend this CPU lacks
# must be refused with 1000017, never replaced by another.
head -c $((3 * 1024 * 1024 + 5)) /dev/urandom > "$work/large.bin"
for alg in aes-256 sm4; do
    case $alg in aes-256) number=0 ;; sm4) number=1 ;; esac
    for mode in external standard; do
        id=$("$lib/wbgen" create --algorithm "$alg" --alias "c-large-$alg-$mode" --mode "$mode" | field KeyId)
        enc=$("$lib/wbgen" encrypt --key-id "$id" --in "$work/large.bin")
        "$lib/wbgen" export --key-id "$id" --out "$work/keys/large.wbkey" >/dev/null
        field CipherText <<<"$enc" | tr -d '\n' > "$work/large.b64"
        iv=$(field InitializationVector <<<"$enc")
        ran=0
        for backend in "" soft portable neon avx2 avx512vbmi; do
            set +e
            got=$(WBRUNTIME_BACKEND=$backend "$work/backends" "$work/keys" large.wbkey "$iv" \
                "$work/large.b64" "$work/large.bin" "$number")
            status=$?
            set -e
            echo "== large, $alg $mode, WBRUNTIME_BACKEND=${backend:-(unset)}: $(tr '\n' ' ' <<<"$got")"
            if [ $status -eq 0 ]; then
                ran=$((ran + 1))
                [ -z "$backend" ] || grep -qx "backend $backend" <<<"$got"
            elif [ $status -eq 3 ] && [ -n "$backend" ] && grep -qx "load-error 01000017" <<<"$got"; then
                echo "   (not on this CPU: refused with 01000017, as it must be)"
            else
                echo "large-message test failed"; exit 1
            fi
        done
        [ $ran -ge 3 ] || { echo "fewer than three backends ran"; exit 1; }
        got=$(WBRUNTIME_BACKEND=no-such-backend "$work/backends" "$work/keys" large.wbkey "$iv" "$work/large.b64" "$work/large.bin" "$number" || true)
        grep -qx "load-error 01000019" <<<"$got" || { echo "an unknown backend name was accepted: $got"; exit 1; }
    done
done
echo "C examples OK: static and dynamic, AES-256 and SM4, README example included, space-hard encrypt and decrypt, large messages on every backend, valgrind clean"
