#!/usr/bin/env bash
# Builds the JNI library (the wbruntime-jni crate in native/) and copies it into
# OUT_DIR/native/<os>-<arch>/, where the jar carries it and NativeLoader finds it.
# Maven runs this in generate-resources; run-tests.sh through Maven. Honours
# CARGO_TARGET_DIR (and any cargo configuration) by asking cargo where its target directory is.
# usage: build-native.sh OUT_DIR
set -euo pipefail
out=${1:?usage: build-native.sh OUT_DIR}
# Absolute before the cd below: a relative OUT_DIR is the caller's.
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

case "$(uname -s)" in
    Linux) os=linux; lib=libwbruntime_jni.so ;;
    Darwin) os=macos; lib=libwbruntime_jni.dylib ;;
    MINGW* | MSYS* | CYGWIN*) os=windows; lib=wbruntime_jni.dll ;;
    *) echo "build-native.sh: unsupported OS $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) echo "build-native.sh: unsupported CPU $(uname -m)" >&2; exit 1 ;;
esac

cd "$root"
cargo build --release --locked --quiet -p wbruntime-jni
target_dir=$(.ci/target-dir)
mkdir -p "$out/native/$os-$arch"
cp "$target_dir/release/$lib" "$out/native/$os-$arch/$lib"
echo "build-native.sh: $target_dir/release/$lib -> $out/native/$os-$arch/"
