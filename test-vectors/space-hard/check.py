#!/usr/bin/env python3
"""Confirms test-vectors/space-hard/vectors.json by a route independent of the Rust code.

The space-hard Feistel (docs/space-hard.md) is written here from its definition, on Python
integers, with the block cipher from `cryptography` (OpenSSL's AES-256 and SM4 in ECB, one
call per round). For every vector it checks the CBC ciphertext (PKCS#7, from the IV), that
decryption gives the plaintext back, and the listed table entries T[x] = F(x).

    python3 test-vectors/space-hard/check.py   # exit 0 and "N passed, 0 failed"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = Path(__file__).resolve().parent


def block_cipher(name: str, key: bytes):
    alg = {"AES_256": algorithms.AES, "SM4": algorithms.SM4}[name](key)
    enc = Cipher(alg, modes.ECB()).encryptor()
    return lambda block: enc.update(block)


def make_f(e, n: int):
    """F(x): the most significant 128 - n bits of E_K(0^(128-n) || x)."""

    def f(x: int) -> int:
        out = int.from_bytes(e(x.to_bytes(16, "big")), "big")
        return out >> n

    return f


def rounds(n: int) -> int:
    return 300 if n == 8 else 128


def encrypt_block(f, n: int, block: bytes) -> bytes:
    s = int.from_bytes(block, "big")
    low = (1 << (128 - n)) - 1
    for r in range(1, rounds(n) + 1):
        x0, rest = s >> (128 - n), s & low
        s = ((rest ^ f(x0) ^ r) << n) | x0
    return s.to_bytes(16, "big")


def decrypt_block(f, n: int, block: bytes) -> bytes:
    y = int.from_bytes(block, "big")
    for r in range(rounds(n), 0, -1):
        x0 = y & ((1 << n) - 1)
        rest = (y >> n) ^ f(x0) ^ r
        y = (x0 << (128 - n)) | rest
    return y.to_bytes(16, "big")


def cbc_encrypt(f, n: int, iv: bytes, plaintext: bytes) -> bytes:
    pad = 16 - len(plaintext) % 16
    data = plaintext + bytes([pad]) * pad
    prev, out = iv, b""
    for i in range(0, len(data), 16):
        block = bytes(a ^ b for a, b in zip(data[i : i + 16], prev))
        prev = encrypt_block(f, n, block)
        out += prev
    return out


def cbc_decrypt(f, n: int, iv: bytes, ciphertext: bytes) -> bytes:
    prev, out = iv, b""
    for i in range(0, len(ciphertext), 16):
        c = ciphertext[i : i + 16]
        out += bytes(a ^ b for a, b in zip(decrypt_block(f, n, c), prev))
        prev = c
    pad = out[-1]
    assert 1 <= pad <= 16 and out[-pad:] == bytes([pad]) * pad, "bad padding"
    return out[:-pad]


def main() -> int:
    doc = json.loads((HERE / "vectors.json").read_text())
    passed = failed = 0
    for v in doc["vectors"]:
        n = v["line_bits"]
        label = f"{v['algorithm']} n={n}"
        key, iv = bytes.fromhex(v["key"]), bytes.fromhex(v["iv"])
        pt, ct = bytes.fromhex(v["plaintext"]), bytes.fromhex(v["ciphertext"])
        f = make_f(block_cipher(v["algorithm"], key), n)
        w = (128 - n) // 8
        checks = [
            ("rounds", v["rounds"] == rounds(n)),
            ("encrypt", cbc_encrypt(f, n, iv, pt) == ct),
            ("decrypt", cbc_decrypt(f, n, iv, ct) == pt),
        ]
        for e in v["table_entries"]:
            checks.append((f"T[{e['x']}]", f(e["x"]).to_bytes(w, "big").hex() == e["f"]))
        for what, ok in checks:
            if ok:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {label}: {what}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
