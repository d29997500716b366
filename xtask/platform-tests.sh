#!/usr/bin/env bash
# The device side on the platforms it ships for, from this x86_64 Linux machine (README,
# "Platforms and release archives"):
#   - Windows x86_64 under Wine, aarch64 Linux under qemu-user (Debian's packages): the
#     runtime's, the fingerprint crate's and wbdecrypt's tests, and the backend-equality test
#     (every backend the target has, byte for byte against the scalar reference; on Windows
#     only without --test-build);
#   - `cargo xtask dist`: the archives, their SHA256SUMS, and the glibc check (no ELF in them
#     needs a symbol above GLIBC_2.17; the same check must refuse a binary built here);
#   - key files and ciphertexts made by wbgen on this machine, decrypted by the archives'
#     wbdecrypt on all three platforms, and refused (01000016) for a device they are not bound to;
#   - the C ABI test program built for Windows (MinGW and MSVC import libraries) and aarch64
#     (static and shared) from the archives, over the cross-language vectors;
#   - the Windows fingerprint: MachineGuid read under Wine, and an error (not a panic) when no
#     source is left;
#   - the wheels' manylinux tags (auditwheel, in `dist`), and the x86_64 wheel installed and used.
# Wine and qemu timings mean nothing: nothing here is timed.
#
#   bash xtask/platform-tests.sh [--test-build]
#
# --test-build (CI): the archives are built with the caller's CARGO_PROFILE_* settings (CI's
# faster release builds), for these tests only; without it (`cargo xtask release-check`, a
# release), with Cargo.toml's release profile, as they ship.
set -euo pipefail
dist_args=()
case "${1:-}" in
    --test-build) dist_args=(--test-build) ;;
    "") ;;
    *) echo "usage: bash xtask/platform-tests.sh [--test-build]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
root=$(pwd)
target=$("$root/.ci/target-dir")
version=$(cargo pkgid --locked -p wbruntime-ffi); version=${version##*[#@]}

# --- tools ---------------------------------------------------------------------------------
packages=()
command -v wine >/dev/null 2>&1 || packages+=(wine wine64)
command -v qemu-aarch64 >/dev/null 2>&1 || packages+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || packages+=(mingw-w64)
command -v zip >/dev/null 2>&1 || packages+=(zip)
command -v unzip >/dev/null 2>&1 || packages+=(unzip)
if [ ${#packages[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
installed=$(rustup target list --installed)
for t in x86_64-pc-windows-gnu aarch64-unknown-linux-gnu; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

# Wine: a 64-bit prefix of our own. Debian's Wine 8 lacks Windows 10's bcryptprimitives.dll,
# where Rust's standard library takes its randomness; xtask/wine/bcryptprimitives.c stands in
# for it in the prefix (never shipped).
export WINEPREFIX="$target/wine-prefix" WINEARCH=win64 WINEDEBUG=-all
# Wine creates the prefix but not its parent (a target directory nothing has built into yet).
mkdir -p "$target"
[ -f "$WINEPREFIX/system.reg" ] || wine wineboot --init
x86_64-w64-mingw32-gcc -O2 -Wall -Werror -shared xtask/wine/bcryptprimitives.c -ladvapi32 \
    -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
# One wineserver, and one set of Wine's Windows services (services.exe, explorer.exe, …), for
# the whole script, started here with their standard streams on /dev/null. Otherwise each
# `wine` call starts its own, the services inherit that call's output pipe, and whoever reads
# the pipe (`$(wine …)`, Python's subprocess) waits until they exit: 2.7 s a call, over 3
# minutes for one pass over the C ABI vectors instead of 7 s.
# (The server that wineboot or an earlier call left behind would make `-p` fail: stopped first.)
wineserver -k 2>/dev/null || true
wineserver -w
wineserver -p
wine cmd /c exit 0 </dev/null >/dev/null 2>&1
descendants() { local child; for child in $(pgrep -P "$1"); do descendants "$child"; echo "$child"; done; }
cleanup() {
    # The aarch64 test job (started below), if this script stops before awaiting it.
    if [ -n "${arm_tests:-}" ]; then
        # shellcheck disable=SC2046 # one argument per process
        kill $(descendants "$arm_tests") "$arm_tests" 2>/dev/null || true
    fi
    rm -rf "${arm_lists:-}"
    wineserver -k 2>/dev/null || true
}
trap cleanup EXIT
wine reg query 'HKLM\SOFTWARE\Microsoft\Cryptography' /v MachineGuid >/dev/null

# qemu-user: cargo runs test programs through it (runner), and the tests that start the
# program under test (wbdecrypt, wbfingerprint) need the kernel to hand aarch64 ELF files to
# it: a binfmt_misc entry, registered here when missing (QEMU_LD_PREFIX: the arm64 sysroot).
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/qemu-aarch64" ]; then
    [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
    # The aarch64 ELF header (e_ident, e_type EXEC/DYN, e_machine 183), as qemu's own
    # qemu-binfmt-conf.sh registers it.
    printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64:F' \
        > "$binfmt/register"
fi

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc

# --- the crates' tests on each target --------------------------------------------------------
# The backends each target must run (beside the scalar reference): under Wine, portable and the
# host CPU's (CI's WB_REQUIRE_SIMD, when set, demands AVX2 and AVX-512 there too); on aarch64,
# portable and NEON. The test prints the list it compared as `SIMD backends on this machine:
# [Portable, Neon]` (Rust's debug form).
check_backends() { # LOG TARGET BACKEND...: the backend-equality test ran, and compared each BACKEND
    local log=$1 target=$2 backend
    shift 2
    grep -q '^test result: ok\. [1-9]' "$log" || { echo "the backend tests did not run on $target"; return 1; }
    for backend in "$@"; do
        grep -q "^SIMD backends on this machine: \[\(.*, \)\?$backend[],]" "$log" \
            || { echo "the $backend backend was not compared on $target"; return 1; }
    done
}
# wbdecrypt's large-message test at 64 KiB + 5 B instead of 1 MiB + 5 B: under Wine and qemu
# every byte is emulated or crosses a process boundary more slowly (minutes at full size); the
# code paths are the same from the first full group on.
export WB_LARGE_MESSAGE_BYTES=$(((64 << 10) + 5))
echo "== tests on x86_64-pc-windows-gnu"
cargo test --locked --target x86_64-pc-windows-gnu -p wbruntime -p wbfingerprint -p wbdecrypt
if [ ${#dist_args[@]} -eq 0 ]; then
    log=$(mktemp)
    cargo test --locked --target x86_64-pc-windows-gnu -p wbgen --test backends -- --nocapture 2>&1 | tee "$log"
    check_backends "$log" x86_64-pc-windows-gnu Portable
    rm -f "$log"
else
    # CI: building wbgen with its store (SQLite compiled by MinGW, tokio, the PostgreSQL client)
    # for Windows costs the lane minutes for a comparison that runs the same instructions as on
    # Linux (Wine runs this CPU's code; the backends have no OS-specific code). The runtime's
    # own backend test above, wbdecrypt's tests and the C ABI vectors below still run there.
    echo "== the backend-equality test on x86_64-pc-windows-gnu: in cargo xtask release-check only"
fi

# aarch64: built here, run under qemu in a background job while the archives build (the
# emulated tests take minutes of one core; the archives' builds leave the other one idle for
# much of their time). Not through `cargo test`, which holds the target directory's lock
# while its tests run: the test programs cargo lists are run as cargo would run them, from
# their package's directory. (Cargo runs no doctests for another target either way.)
test_programs() { # CARGO-TEST-ARGS...: "package directory<TAB>program" per test program built
    cargo test --locked --no-run --message-format=json-render-diagnostics "$@" | python3 -c '
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["profile"]["test"] and m.get("executable"):
        print(os.path.dirname(m["manifest_path"]) + "\t" + m["executable"])'
}
run_programs() { # LIST [ARGS...]: each program of LIST under cargo's runner, from its package's directory
    local list=$1 runner=$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER dir program
    shift
    while IFS=$'\t' read -r -u 3 dir program; do
        echo "     Running $program ($runner)"
        (cd "$dir" && "$runner" "$program" "$@" </dev/null) || { echo "FAILED: $program"; return 1; }
    done 3<"$list"
}
arm_lists=$(mktemp -d)
arm_log="$arm_lists/log"
echo "== tests on aarch64-unknown-linux-gnu: building"
test_programs --target aarch64-unknown-linux-gnu -p wbruntime -p wbfingerprint -p wbdecrypt \
    >"$arm_lists/crates"
test_programs --target aarch64-unknown-linux-gnu -p wbgen --test backends >"$arm_lists/backends"
[ "$(wc -l <"$arm_lists/crates")" -ge 6 ] && [ "$(wc -l <"$arm_lists/backends")" -eq 1 ] \
    || { echo "cargo listed too few aarch64 test programs:"; cat "$arm_lists"/*; exit 1; }
(
    unset WB_REQUIRE_SIMD
    run_programs "$arm_lists/crates"
    run_programs "$arm_lists/backends" --nocapture 2>&1 | tee "$arm_lists/backends.log"
    check_backends "$arm_lists/backends.log" aarch64-unknown-linux-gnu Portable Neon
) >"$arm_log" 2>&1 &
arm_tests=$!
echo "== tests on aarch64-unknown-linux-gnu: running under qemu in the background ($arm_log)"

# --- the archives -----------------------------------------------------------------------------
dist="$target/dist"
cargo xtask dist --out "$dist" "${dist_args[@]}"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS)
work=$(mktemp -d)
trap 'rm -rf "$work"; cleanup' EXIT
linux_x86="$work/wbruntime-$version-x86_64-linux-gnu"
linux_arm="$work/wbruntime-$version-aarch64-linux-gnu"
win="$work/wbruntime-$version-x86_64-windows"
tar xzf "$dist/wbruntime-$version-x86_64-linux-gnu.tar.gz" -C "$work"
tar xzf "$dist/wbruntime-$version-aarch64-linux-gnu.tar.gz" -C "$work"
unzip -q "$dist/wbruntime-$version-x86_64-windows.zip" -d "$work"
for d in "$linux_x86" "$linux_arm"; do
    for f in bin/wbdecrypt bin/wbfingerprint lib/libwbruntime_ffi.so lib/libwbruntime_ffi.a \
        include/wbruntime.h README.md LICENSE-MIT LICENSE-APACHE; do
        [ -f "$d/$f" ] || { echo "$(basename "$d") lacks $f"; exit 1; }
    done
done
for f in bin/wbdecrypt.exe bin/wbfingerprint.exe bin/wbruntime_ffi.dll lib/wbruntime_ffi.lib \
    lib/libwbruntime_ffi.dll.a lib/wbruntime_ffi.def include/wbruntime.h README.md LICENSE-MIT LICENSE-APACHE; do
    [ -f "$win/$f" ] || { echo "the Windows archive lacks $f"; exit 1; }
done

echo "== glibc: nothing shipped needs more than 2.17"
cargo xtask check-glibc --max 2.17 "$linux_x86" "$linux_arm"
# wbgen, the admin side, built here (x86_64, this machine's glibc): $WBGEN_BIN when given (CI
# passes the one its release build made, so that this script, run beside the other steps with
# a target directory of its own, does not build it again).
if [ -n "${WBGEN_BIN:-}" ]; then
    wbgen=$WBGEN_BIN
else
    cargo build --release --locked --quiet -p wbgen
    wbgen="$target/release/wbgen"
fi
# The check must be able to fail: a binary linked against this machine's glibc (2.34 or later
# on every current distribution) needs more.
if cargo xtask check-glibc --max 2.17 "$wbgen" >/dev/null 2>&1; then
    echo "the glibc check passed a binary built against $(ldd --version | head -n 1)"; exit 1
fi

# --- key files made here, decrypted on each platform --------------------------------------------
export WBGEN_KEYSTORE="$work/keystore" WBGEN_PASSPHRASE="platform tests"
"$wbgen" init >/dev/null
field() { sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"; }
keys="$work/keys"
mkdir -p "$keys"
# Each platform's wbdecrypt, with what starts it.
declare -A decrypt=(
    [x86_64-linux]="$linux_x86/bin/wbdecrypt"
    [aarch64-linux]="qemu-aarch64 $linux_arm/bin/wbdecrypt"
    [x86_64-windows]="wine $win/bin/wbdecrypt.exe"
)
secret='platform test secret: äöü'
for alg in aes-256 sm4; do
    case $alg in aes-256) number=0 ;; sm4) number=1 ;; esac
    for mode in external standard space-hard; do
        id=$("$wbgen" create --algorithm "$alg" --mode "$mode" --alias "p-$alg-$mode" | field KeyId)
        enc=$("$wbgen" encrypt --key-id "$id" --plaintext-b64 "$(printf %s "$secret" | base64 -w0)")
        "$wbgen" export --key-id "$id" --out "$keys/$alg-$mode.wbkey" >/dev/null
        iv=$(field InitializationVector <<<"$enc")
        ct=$(field CipherText <<<"$enc")
        for platform in "${!decrypt[@]}"; do
            # shellcheck disable=SC2086 # the launcher and the program are two words
            got=$(${decrypt[$platform]} --key-dir "$keys" --key-file "$alg-$mode.wbkey" \
                --iv "$iv" --ciphertext "$ct" --algorithm "$number")
            [ "$got" = "$secret" ] || { echo "$platform: $alg $mode gave '$got'"; exit 1; }
            echo "   $alg $mode: decrypted on $platform"
        done
    done
    # Bound to two devices that are none of these machines: refused everywhere with 01000016.
    id=$("$wbgen" create --algorithm "$alg" --alias "p-bound-$alg" | field KeyId)
    "$wbgen" fingerprints --key-id "$id" --set wbfp1-0000000000000000000000000000000000000001 \
        --set wbfp1-0000000000000000000000000000000000000002 >/dev/null
    enc=$("$wbgen" encrypt --key-id "$id" --plaintext-b64 "$(printf %s "$secret" | base64 -w0)")
    "$wbgen" export --key-id "$id" --out "$keys/bound-$alg.wbkey" >/dev/null
    for platform in "${!decrypt[@]}"; do
        set +e
        # shellcheck disable=SC2086
        err=$(${decrypt[$platform]} --key-dir "$keys" --key-file "bound-$alg.wbkey" \
            --iv "$(field InitializationVector <<<"$enc")" --ciphertext "$(field CipherText <<<"$enc")" \
            --algorithm "$number" 2>&1 >/dev/null)
        status=$?
        set -e
        [ $status -ne 0 ] && grep -q '01000016' <<<"$err" \
            || { echo "$platform: a key file bound elsewhere gave status $status: $err"; exit 1; }
        echo "   $alg bound elsewhere: refused on $platform with 01000016"
    done
done

# --- the C ABI from the archives --------------------------------------------------------------
cflags=(-std=c11 -Wall -Wextra -Werror -O2)
x86_64-w64-mingw32-gcc "${cflags[@]}" -I"$win/include" examples/c/vectors.c \
    -L"$win/lib" -lwbruntime_ffi -o "$work/vectors-mingw.exe"
x86_64-w64-mingw32-gcc "${cflags[@]}" -I"$win/include" examples/c/vectors.c \
    "$win/lib/wbruntime_ffi.lib" -o "$work/vectors-msvc-lib.exe"
cp "$win/bin/wbruntime_ffi.dll" "$work/"
aarch64-linux-gnu-gcc "${cflags[@]}" -I"$linux_arm/include" examples/c/vectors.c \
    "$linux_arm/lib/libwbruntime_ffi.a" -lpthread -ldl -lm -o "$work/vectors-arm-static"
aarch64-linux-gnu-gcc "${cflags[@]}" -I"$linux_arm/include" examples/c/vectors.c \
    -L"$linux_arm/lib" -lwbruntime_ffi -o "$work/vectors-arm-shared"
echo "== C ABI, Windows (MinGW import library), under Wine"
python3 examples/c/vectors.py wine "$work/vectors-mingw.exe"
echo "== C ABI, Windows (the .lib import library), under Wine"
python3 examples/c/vectors.py wine "$work/vectors-msvc-lib.exe"
echo "== C ABI, aarch64 static, under qemu-user"
python3 examples/c/vectors.py qemu-aarch64 "$work/vectors-arm-static"
echo "== C ABI, aarch64 shared, under qemu-user"
LD_LIBRARY_PATH="$linux_arm/lib" python3 examples/c/vectors.py qemu-aarch64 "$work/vectors-arm-shared"

# --- the fingerprint on Windows -----------------------------------------------------------------
echo "== wbfingerprint.exe under Wine"
out=$(wine "$win/bin/wbfingerprint.exe" --explain)
echo "$out"
grep -q '^  machine-guid  used: ' <<<"$out" || { echo "MachineGuid was not used"; exit 1; }
fp=$(tail -n 1 <<<"$out")
[[ $fp =~ ^wbfp1-[0-9a-f]{40}$ ]] || { echo "not a wbfp1- fingerprint: $fp"; exit 1; }
[ "$(wine "$win/bin/wbfingerprint.exe")" = "$fp" ] || { echo "the fingerprint changed between runs"; exit 1; }
# With MachineGuid gone (and no PowerShell in Wine), no source is left: error 04000001, exit 1.
guid=$(wine reg query 'HKLM\SOFTWARE\Microsoft\Cryptography' /v MachineGuid | tr -d '\r' \
    | awk '$1 == "MachineGuid" { print $3 }')
wine reg delete 'HKLM\SOFTWARE\Microsoft\Cryptography' /v MachineGuid /f >/dev/null
set +e
err=$(wine "$win/bin/wbfingerprint.exe" 2>&1 >/dev/null)
status=$?
set -e
wine reg add 'HKLM\SOFTWARE\Microsoft\Cryptography' /v MachineGuid /t REG_SZ /d "$guid" /f >/dev/null
echo "   without MachineGuid: exit $status: $err"
[ $status -eq 1 ] && [[ $err == "error 04000001: "* ]] || { echo "expected error 04000001 and exit 1"; exit 1; }
[ "$(wine "$win/bin/wbfingerprint.exe")" = "$fp" ] || { echo "the fingerprint did not come back"; exit 1; }

# --- the x86_64 wheel, installed and used ---------------------------------------------------------
venv="$work/venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --no-index "$dist"/wbruntime-"$version"-*manylinux_2_17_x86_64.whl
(cd "$work" && "$venv/bin/python" -c 'import wbruntime; print("wheel installed: wbruntime", wbruntime.__version__)')

echo "== tests on aarch64-unknown-linux-gnu, under qemu (run beside the steps above)"
arm_status=0
wait "$arm_tests" || arm_status=$?
arm_tests=
cat "$arm_log"
[ "$arm_status" -eq 0 ] || { echo "the aarch64 tests failed (status $arm_status)"; exit 1; }
echo "platform tests passed: Windows (Wine) and aarch64 (qemu-user) tests, archives, glibc <= 2.17, C ABI, fingerprint"
