#!/usr/bin/env bash
# Builds and runs each SDK's example program as a new user would: from a fresh copy of its
# directory, outside the repository. Makes a key store with wbgen, an AES-256 and an SM4 key,
# their key files and a secret encrypted under each; then, for each language, copies
# examples/<language> to a temporary directory, builds it there against the SDK and checks
# that it
#   - prints exactly the secret, for both keys;
#   - without arguments, prints a usage line on standard error and exits 2;
#   - with a missing key file, exits 1 with the runtime's code 01000001 and the file's path.
# These are the steps sdk/go/README.md, sdk/java/README.md and python/README.md give a new user
# (the go generate build step, the copy with its rewritten replace, mvn install of the SDK,
# pip install ./python, building and running each example): their blocks that need the
# checkout are marked run-by this script for the documentation test (xtask/doc-test.py).
#
# usage: examples/sdk-examples.sh [go] [java] [python]      (default: all three)
#
# Needs: cargo (wbgen, and the native libraries the Go and Java SDKs build), go, JDK 17 and
# Maven, python3. Honours CARGO_TARGET_DIR (through .ci/target-dir) and uses the release wbgen
# there if present. WBGEN_PASSPHRASE (at least 12 characters) is the temporary store's
# passphrase. Python: WB_PYTHON names a python whose environment has the wbruntime package
# installed (as `pip install ./python` makes it); without it, or if that python lacks the
# package, a virtual environment is made here and the package built into it. Java: the SDK
# is installed into the local Maven repository (`mvn install`, as sdk/java/README.md says),
# offline when everything it needs is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

languages=("$@")
[ ${#languages[@]} -gt 0 ] || languages=(go java python)
for lang in "${languages[@]}"; do
    case $lang in go | java | python) ;; *) echo "usage: $0 [go] [java] [python]" >&2; exit 2 ;; esac
done

target=$(bash .ci/target-dir)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; echo "examples: $passed passed, 1 failed"; exit 1; }

# --- keys and secrets ------------------------------------------------------------------------
wbgen=$target/release/wbgen
if [ ! -x "$wbgen" ]; then
    echo "building wbgen (release)"
    cargo build --release --locked --quiet -p wbgen
fi
export WBGEN_KEYSTORE="$work/store"
export WBGEN_PASSPHRASE=${WBGEN_PASSPHRASE:-sdk examples passphrase}
[ ${#WBGEN_PASSPHRASE} -ge 12 ] || { echo "WBGEN_PASSPHRASE must have at least 12 characters" >&2; exit 2; }
"$wbgen" --keystore "$WBGEN_KEYSTORE" init >/dev/null

secret='sk_live_4f3c2a19 from the SDK examples'
keys=$work/keys
mkdir -p "$keys"
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
declare -A iv ct number
for alg in aes-256 sm4; do
    case $alg in aes-256) number[$alg]=0 ;; sm4) number[$alg]=1 ;; esac
    id=$("$wbgen" create --algorithm "$alg" --alias "sdk-example-$alg" | json KeyId)
    enc=$("$wbgen" encrypt --key-id "$id" --plaintext-b64 "$(printf %s "$secret" | base64 | tr -d '\n')")
    iv[$alg]=$(json InitializationVector <<<"$enc")
    ct[$alg]=$(json CipherText <<<"$enc")
    "$wbgen" export --key-id "$id" --out "$keys/$alg.wbkey" >/dev/null
done
printf '%s\n' "$secret" > "$work/expected"
echo "key store, AES-256 and SM4 keys, key files and ciphertexts in $work"

# check NAME COMMAND...: the three behaviours, COMMAND being the built example.
check() {
    local name=$1 alg rc
    shift
    for alg in aes-256 sm4; do
        rc=0
        "$@" --key-dir "$keys" --key-file "$alg.wbkey" --iv "${iv[$alg]}" \
            --ciphertext "${ct[$alg]}" --algorithm "${number[$alg]}" >"$work/out" 2>"$work/err" || rc=$?
        [ $rc -eq 0 ] || fail "$name, $alg: exit $rc: $(cat "$work/err")"
        cmp -s "$work/out" "$work/expected" || fail "$name, $alg: printed '$(cat "$work/out")', not '$secret'"
        pass "$name: prints the $alg secret exactly"
    done

    rc=0
    "$@" >"$work/out" 2>"$work/err" || rc=$?
    [ $rc -eq 2 ] || fail "$name, no arguments: exit $rc, not 2"
    grep -qi 'usage' "$work/err" || fail "$name, no arguments: no usage message on standard error: $(cat "$work/err")"
    pass "$name: without arguments, exit 2 and a usage line"

    rc=0
    "$@" --key-dir "$keys" --key-file missing.wbkey --iv "${iv[aes-256]}" \
        --ciphertext "${ct[aes-256]}" --algorithm 0 >"$work/out" 2>"$work/err" || rc=$?
    [ $rc -eq 1 ] || fail "$name, missing key file: exit $rc, not 1: $(cat "$work/err")"
    grep -qF 01000001 "$work/err" || fail "$name, missing key file: no code 01000001 in: $(cat "$work/err")"
    grep -qF "$keys/missing.wbkey" "$work/err" \
        || fail "$name, missing key file: the error does not name $keys/missing.wbkey: $(cat "$work/err")"
    pass "$name: missing key file, exit 1: $(head -n 1 "$work/err")"
}

# fresh_copy LANGUAGE: examples/LANGUAGE copied to a new directory outside the repository.
fresh_copy() {
    local dir=$work/$1
    cp -R "examples/$1" "$dir"
    rm -rf "$dir/target" "$dir/decrypt-secret" # build output a local build may have left
    echo "$dir"
}

# --- Go ---------------------------------------------------------------------------------------
run_go() {
    command -v go >/dev/null 2>&1 || fail "go: not installed"
    echo "== go: the SDK's build step (static library), then the example from a fresh copy"
    (cd sdk/go && go generate ./...) >/dev/null # build-native.sh: cargo, then the copy
    local dir
    dir=$(fresh_copy go)
    grep -qx 'replace wbtoolkit/whitebox => ../../sdk/go' "$dir/go.mod" \
        || fail "go: examples/go/go.mod has no 'replace wbtoolkit/whitebox => ../../sdk/go' line"
    go -C "$dir" mod edit -replace=wbtoolkit/whitebox="$root/sdk/go"
    grep -qx "replace wbtoolkit/whitebox => $root/sdk/go" "$dir/go.mod" || fail "go: the replace was not rewritten"
    # Nothing to download: the SDK uses the standard library only.
    CGO_ENABLED=1 GOPROXY=off GOFLAGS=-mod=mod go -C "$dir" build -o decrypt-secret . \
        || fail "go: the example does not build"
    check go "$dir/decrypt-secret"
}

# --- Java -------------------------------------------------------------------------------------
# mvn_maybe_offline LOG ARGS...: mvn offline, and online only if offline lacks something.
mvn_maybe_offline() {
    local log=$1
    shift
    mvn -B -q -o "$@" >"$log" 2>&1 || mvn -B -q "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
}
run_java() {
    command -v mvn >/dev/null 2>&1 || fail "java: mvn not installed"
    command -v java >/dev/null 2>&1 || fail "java: java not installed"
    echo "== java: mvn install of the SDK, then the example from a fresh copy"
    # The example depends on the SDK by its coordinates: the version must be the SDK's.
    local sdk_version example_version
    sdk_version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' sdk/java/pom.xml | head -n 1)
    example_version=$(sed -n '/<artifactId>wbruntime<\/artifactId>/{n;s|.*<version>\(.*\)</version>.*|\1|p}' examples/java/pom.xml)
    [ -n "$sdk_version" ] && [ "$example_version" = "$sdk_version" ] \
        || fail "java: examples/java/pom.xml depends on wbruntime ${example_version:-?}, the SDK is ${sdk_version:-?} (sdk/java/pom.xml)"
    grep -qF "<version>$sdk_version</version>" sdk/java/README.md \
        || fail "java: sdk/java/README.md's <dependency> block does not give the SDK's version, $sdk_version"
    mvn_maybe_offline "$work/mvn-sdk.log" -f sdk/java/pom.xml install -DskipTests \
        || fail "java: mvn install of the SDK failed (log above)"
    local dir
    dir=$(fresh_copy java)
    mvn_maybe_offline "$work/mvn-example.log" -f "$dir/pom.xml" package \
        || fail "java: the example does not build (log above)"
    check java java -jar "$dir/target/decrypt-secret.jar"
}

# --- Python -----------------------------------------------------------------------------------
run_python() {
    local python=${WB_PYTHON:-python3} dir
    if ! (cd / && "$python" -c 'import wbruntime') 2>/dev/null; then
        echo "== python: no wbruntime package in $python's environment: pip install ./python into a new venv"
        python3 -m venv "$work/venv"
        python=$work/venv/bin/python
        CARGO_TARGET_DIR=$target "$python" -m pip install --quiet ./python \
            || fail "python: pip install ./python failed"
    fi
    echo "== python: the example from a fresh copy, with $python"
    dir=$(fresh_copy python)
    (cd / && "$python" -c 'import wbruntime; print("   wbruntime", wbruntime.__version__, "from", wbruntime.__file__)')
    check python "$python" "$dir/decrypt_secret.py"
}

for lang in "${languages[@]}"; do
    "run_$lang"
done
echo "examples: $passed passed, 0 failed"
