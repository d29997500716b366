"""Runs the C ABI test program (examples/c/vectors.c) over every case and error case of the
cross-language vectors (test-vectors/sdk/vectors.json); exits 1 on any failure.

Usage: python3 examples/c/vectors.py PROGRAM [ARG...]  (from the repository root). The
program may be given with a launcher before it: `wine vectors.exe` for the Windows build,
`qemu-aarch64 vectors` for the aarch64 one.

The program is launched twice: once with no input, as a readiness check (it must start, reach
main and say so: a launcher that cannot start programs is reported as such, with Wine's error
channel turned on, and never mistaken for a wrong answer of the library), then once with every
case on its standard input. Nothing is retried: a failure of either launch fails the run.
"""
import base64, json, os, subprocess, sys

command, vec = sys.argv[1:], "test-vectors/sdk"
doc = json.load(open(f"{vec}/vectors.json"))


def launch(stdin, env=None):
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)


def report(out):
    return f"status {out.returncode}; stdout {out.stdout.strip()[-2000:]!r}; stderr {out.stderr.strip()[-2000:]!r}"


# Readiness: the launcher starts the program and the program reaches main. Wine's own error
# channel is on for this launch only (WINEDEBUG=-all elsewhere), so a launcher failure says why.
ready = launch("", {**os.environ, "WINEDEBUG": "err+all"})
if ready.returncode != 0 or ready.stdout != "vectors: ready, no cases\n":
    print(f"NOT READY: {' '.join(command)} could not be started by its launcher ({report(ready)})")
    sys.exit(1)

lines = []
for c in doc["cases"]:
    fp = c["fingerprint"] or "-"
    plain = base64.b64decode(c["plaintext"]).hex()
    lines.append(["decrypt:" + c["name"], "decrypt", vec, c["key_file"], c["iv"], c["ciphertext"], c["algorithm"], fp, "ok:" + plain])
    if c["encrypts"]:
        lines.append(["encrypt:" + c["name"], "encrypt", vec, c["key_file"], c["iv"], plain, c["algorithm"], fp, "ok:" + c["ciphertext"].encode().hex()])
for i, e in enumerate(doc["errors"]):
    fp = e.get("fingerprint") or "-"
    name = f"error{i}:{e['error']}"
    if e.get("op") == "encrypt":
        plain = base64.b64decode(e["plaintext"]).hex()
        lines.append([name, "encrypt", vec, e["key_file"], e["iv"], plain, e["algorithm"], fp, "error:" + e["error"]])
    else:
        lines.append([name, "decrypt", vec, e["key_file"], e["iv"], e["ciphertext"], e["algorithm"], fp, "error:" + e["error"]])
for line in lines:
    assert all("\t" not in str(f) and "\n" not in str(f) for f in line), line

out = launch("".join("\t".join(map(str, line)) + "\n" for line in lines))
results = [l for l in out.stdout.splitlines() if l.startswith(("pass ", "FAIL "))]
passed = sum(l.startswith("pass ") for l in results)
failed = len(results) - passed
for l in results:
    if l.startswith("FAIL "):
        print(l)
# Every case answered exactly once, and the exit status agrees with the answers.
missing = len(lines) - len(results)
if missing or out.returncode != (1 if failed else 0):
    print(f"the program answered {len(results)} of {len(lines)} cases ({report(out)})")
    failed += max(missing, 1)
print(f"C ABI, SDK vectors: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
