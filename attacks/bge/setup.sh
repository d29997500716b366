#!/usr/bin/env bash
# Sets up the public BGE tool of Side-Channel Marvels (`bluegalaxyenergy` on PyPI) for
# `wbattack bge`: Debian's GMP and NTL development packages (the extension builds against
# them) when missing, then a virtual environment with the package.
#
# The venv goes to $WB_BGE_VENV, else bge-venv in cargo's target directory (CARGO_TARGET_DIR
# and cargo configuration honoured; by default target/ of the workspace, git-ignored): never
# into the source tree. Prints the venv's python on the last
# line. Idempotent: a venv that already imports the package is left as it is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${WB_BGE_VENV:-}"
[ -n "$venv" ] || venv="$("$root/.ci/target-dir")/bge-venv"
python="$venv/bin/python"

if [ -x "$python" ] && "$python" -c 'import bluegalaxyenergy' >/dev/null 2>&1; then
    echo "$python"
    exit 0
fi

missing=()
for pkg in libgmp-dev libntl-dev g++; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: missing ${missing[*]}; install them as root (apt-get install -y ${missing[*]})" >&2
        exit 1
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

python3 -m venv "$venv" >&2
"$python" -m pip install --quiet --upgrade pip >&2
"$python" -m pip install --quiet "bluegalaxyenergy==2.0.1" >&2
"$python" -c 'import bluegalaxyenergy' >&2
echo "$python"
