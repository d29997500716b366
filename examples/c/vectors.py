"""Runs the C ABI test program (examples/c/vectors.c) over every case and error case of the
cross-language vectors (test-vectors/sdk/vectors.json); exits 1 on any failure.

Usage: python3 examples/c/vectors.py PROGRAM [ARG...]  (from the repository root). The
program may be given with a launcher before it: `wine vectors.exe` for the Windows build,
`qemu-aarch64 vectors` for the aarch64 one.

A run that fails before the program reaches main (its first output line, "vectors: main
reached", missing) is a launcher failure, not a result of the library: it is reported with
its status and Wine's errors and run again, at most twice. A failure after main is never
retried, and a launcher that fails three times in a row fails the run.
"""
import base64, json, os, subprocess, sys
command, vec = sys.argv[1:], "test-vectors/sdk"
doc = json.load(open(f"{vec}/vectors.json"))
passed = failed = relaunched = 0
REACHED = "vectors: main reached\n"
def launch(args, env=None):
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, env=env)
def run(*args):
    global passed, failed, relaunched
    out = launch(args)
    for _ in range(2):
        if out.returncode == 0 or out.stdout.startswith(REACHED):
            break
        # Wine's own error channel (WINEDEBUG=-all elsewhere) for the report of the next try.
        env = {**os.environ, "WINEDEBUG": "err+all"}
        print(f"RELAUNCH {args[2]}: status {out.returncode} before main; "
              f"stdout {out.stdout.strip()!r}, stderr {out.stderr.strip()!r}")
        relaunched += 1
        out = launch(args, env)
    if out.returncode == 0:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {args[2]} (status {out.returncode}): stdout {out.stdout.strip()!r}, "
              f"stderr {out.stderr.strip()!r}")
for c in doc["cases"]:
    fp = c["fingerprint"] or "-"
    plain = base64.b64decode(c["plaintext"]).hex()
    run("decrypt", vec, c["key_file"], c["iv"], c["ciphertext"], c["algorithm"], fp, "ok:" + plain)
    if c["encrypts"]:
        run("encrypt", vec, c["key_file"], c["iv"], plain, c["algorithm"], fp, "ok:" + c["ciphertext"].encode().hex())
for e in doc["errors"]:
    fp = e.get("fingerprint") or "-"
    if e.get("op") == "encrypt":
        run("encrypt", vec, e["key_file"], e["iv"], base64.b64decode(e["plaintext"]).hex(), e["algorithm"], fp, "error:" + e["error"])
    else:
        run("decrypt", vec, e["key_file"], e["iv"], e["ciphertext"], e["algorithm"], fp, "error:" + e["error"])
print(f"C ABI, SDK vectors: {passed} passed, {failed} failed"
      + (f" ({relaunched} launches failed before main and were run again)" if relaunched else ""))
sys.exit(1 if failed or not passed else 0)
