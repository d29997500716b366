#!/usr/bin/env bash
# Checks wbkms.service with `systemd-analyze verify` (syntax, known directives, the command's
# executable), against a freshly built wbkms put where the unit expects it in a scratch root,
# and checks that the unit keeps the hardening README promises.
#
#   bash wbkms/packaging/verify.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is needed (Debian: apt-get install systemd)"; exit 1; }
target=$(bash "$repo/.ci/target-dir")
(cd "$repo" && cargo build --locked --quiet -p wbkms)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The unit names /usr/local/bin/wbkms: verify a copy naming the binary just built.
sed "s|/usr/local/bin/wbkms|$target/debug/wbkms|" "$here/wbkms.service" >"$work/wbkms.service"
out=$(systemd-analyze verify "$work/wbkms.service" 2>&1) || { echo "$out"; echo "FAIL: systemd-analyze verify"; exit 1; }
# Warnings are failures too (an unknown directive is only a warning).
if [ -n "$out" ]; then echo "$out"; echo "FAIL: systemd-analyze verify printed warnings"; exit 1; fi
for directive in 'User=wbkms' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'LoadCredential=passphrase:' \
    '--passphrase-file ${CREDENTIALS_DIRECTORY}/passphrase' 'CapabilityBoundingSet=' 'PrivateTmp=yes'; do
    grep -qF -- "$directive" "$here/wbkms.service" || { echo "FAIL: wbkms.service lost $directive"; exit 1; }
done
# The options the unit's ExecStart passes exist, each of them.
for option in $(sed -n '/^ExecStart=/,/[^\\]$/p' "$here/wbkms.service" | grep -o -- '--[a-z-]*' | sort -u); do
    "$target/debug/wbkms" serve --help | grep -q -- "$option" || { echo "FAIL: wbkms serve has no $option"; exit 1; }
done
echo "PASS: wbkms.service verifies"
