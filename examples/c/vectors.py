"""Runs the C ABI test program (examples/c/vectors.c) over every case and error case of the
cross-language vectors (test-vectors/sdk/vectors.json); exits 1 on any failure.

Usage: python3 examples/c/vectors.py PROGRAM [ARG...]  (from the repository root). The
program may be given with a launcher before it: `wine vectors.exe` for the Windows build,
`qemu-aarch64 vectors` for the aarch64 one.
"""
import base64, json, subprocess, sys
command, vec = sys.argv[1:], "test-vectors/sdk"
doc = json.load(open(f"{vec}/vectors.json"))
passed = failed = 0
def run(*args):
    global passed, failed
    out = subprocess.run([*command, *map(str, args)], capture_output=True, text=True)
    if out.returncode == 0:
        passed += 1
    else:
        failed += 1
        print("FAIL", args[2], out.stderr.strip())
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
print(f"C ABI, SDK vectors: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
