#!/usr/bin/env bash
# The Java SDK's checks (.ci/run calls this): the JNI crate's build, the JUnit tests through
# Maven, the jar, and a fresh JVM that loads the native library from the jar with no override.
# Non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
unset WBRUNTIME_JNI_LIB WBRUNTIME_BACKEND

step() { printf '\n---- java: %s ----\n' "$*"; }

step "JNI crate (cargo, release)"
bash build-native.sh target/classes

step "mvn test"
mvn -B -q test
# Surefire's summary, for CI logs ('Tests run: N, Failures: 0, ...').
cat target/surefire-reports/*.txt | awk '/Tests run:/ {
    split($0, f, /[:,] */); run += f[2]; fail += f[4]; err += f[6]; skip += f[8] }
    END { printf "Tests run: %d, Failures: %d, Errors: %d, Skipped: %d\n", run, fail, err, skip
          printf "%d passed, %d failed, %d skipped\n", run - fail - err - skip, fail + err, skip }'

step "mvn package: the jar carries the native library"
mvn -B -q package -DskipTests
jar=target/wbruntime-0.2.0.jar
platform=$(java -cp "$jar" wbtoolkit.whitebox.Whitebox | sed -n 's/.*(\([a-z0-9_-]*\)), loaded from.*/\1/p')
case "$(uname -s)" in Darwin) lib=libwbruntime_jni.dylib ;; MINGW* | MSYS*) lib=wbruntime_jni.dll ;; *) lib=libwbruntime_jni.so ;; esac
jar tf "$jar" | grep -qx "native/$platform/$lib" \
    || { echo "the jar has no native/$platform/$lib"; jar tf "$jar"; exit 1; }
echo "jar entry native/$platform/$lib present"

step "a fresh JVM loads the library from the jar (no override) and decrypts a vector"
info=$(java -jar "$jar")
echo "$info"
case "$info" in *"loaded from jar resource /native/$platform/$lib"*) ;; *) echo "not loaded from the jar"; exit 1 ;; esac
vectors=$here/../../test-vectors/sdk
read -r iv ct plain < <(python3 - "$vectors/vectors.json" <<'PY'
import base64, json, sys
c = next(c for c in json.load(open(sys.argv[1]))["cases"] if c["key_file"] == "sm4-standard.wbkey")
print(c["iv"], c["ciphertext"], base64.b64decode(c["plaintext"]).decode())
PY
)
got=$(java -jar "$jar" "$vectors" sm4-standard.wbkey "$iv" "$ct" 1)
[ "$got" = "$plain" ] || { echo "decrypted '$got', expected '$plain'"; exit 1; }
echo "decrypted from the jar: $got"
set +e
err=$(java -jar "$jar" "$vectors" missing.wbkey "$iv" "$ct" 1 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] && [[ "$err" == "error 01000001: "* ]] || { echo "missing key file: rc $rc, '$err'"; exit 1; }
echo "missing key file: $err"
ls -d "${TMPDIR:-/tmp}"/wbruntime-jni-* 2>/dev/null && { echo "extracted library left behind"; exit 1; }
echo "java SDK: all checks passed"
