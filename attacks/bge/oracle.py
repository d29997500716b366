"""Round oracle over an AES-256 key file, for the public BGE tool (`bluegalaxyenergy`).

Written from FORMAT.md alone ("Container", "AES-256 sections"): it parses the section
directory, finds the rounds section (kind 0x0101) and the final section (0x0102), and
evaluates one decryption round j = 1 ... 12 on an encoded state -- type II tables `t2`, their
XOR tree `x2`, type III tables `t3`, their tree `x3` -- returning the next round's encoded
state. Rounds 11 and 12 are taken from branch 0. BGE (Billet-Gilbert-Ech-Chatbi, SAC 2004,
with Tolhuizen's and De Mulder-Roelse-Preneel's improvements) does the rest.

usage: python oracle.py KEY_FILE ROUND [ROUND ...]   (BGE's 0-based round numbers, 0 ... 11)
prints one JSON line: {"rounds", "key" (hex or null), "round_keys" (BGE's index: the key
decryption round index + 1 adds first), "calls" (round evaluations: BGE's input generation
makes 256 x 256 + 2 x 256 per round), "seconds"}.
"""

import json
import struct
import sys
import time

from bluegalaxyenergy import BGE, WhiteBoxedAES

WORDS, XORS = 16 * 256 * 4, 4 * 3 * 8 * 256        # t2 / t3, and x2 / x3, in bytes
ROUND_LEN = 2 * WORDS + 2 * XORS                   # one full round
INV_SHIFT = [r + 4 * ((c - r) % 4) for c in range(4) for r in range(4)]


def sections(data):
    if data[:8] != b"\x89WBK\r\n\x1a\n" or struct.unpack_from("<H", data, 8)[0] != 2:
        raise ValueError("not a key file of format version 2")
    if data[10] != 0:
        raise ValueError("not an AES-256 key file")
    count = struct.unpack_from("<H", data, 12)[0]
    out = {}
    for i in range(count):
        kind, _, offset, length = struct.unpack_from("<IIII", data, 64 + 16 * i)
        out[kind] = data[offset:offset + length]
    return out


def round_tables(chunk):
    """(t2, x2, t3, x3): word tables as 16 lists of 256 little-endian ints, XOR trees as
    4 columns x 3 word-XORs x 8 nibble tables."""
    def words(at):
        return [list(struct.unpack_from("<256I", chunk, at + 1024 * p)) for p in range(16)]

    def xors(at):
        return [[[chunk[at + 256 * (24 * c + 8 * g + n):][:256] for n in range(8)]
                 for g in range(3)] for c in range(4)]
    return (words(0), xors(WORDS), words(WORDS + XORS), xors(2 * WORDS + XORS))


def xor_words(a, b, tables):
    """Two encoded words through 8 nibble-XOR tables (FORMAT.md: table 2k high nibble of byte k)."""
    out = 0
    for k in range(4):
        x, y = (a >> 8 * k) & 0xff, (b >> 8 * k) & 0xff
        hi = tables[2 * k][(x & 0xf0) | (y >> 4)] & 0x0f
        lo = tables[2 * k + 1][((x << 4) & 0xf0) | (y & 0x0f)] & 0x0f
        out |= ((hi << 4) | lo) << 8 * k
    return out


def tree(v, t):
    return xor_words(xor_words(v[0], v[1], t[0]), xor_words(v[2], v[3], t[1]), t[2])


class KeyFileRounds(WhiteBoxedAES):
    def __init__(self, path):
        with open(path, "rb") as f:
            s = sections(f.read())
        rounds, final = s[0x0101], s[0x0102]
        self.rounds = [round_tables(rounds[ROUND_LEN * j:]) for j in range(10)]
        self.rounds += [round_tables(final[ROUND_LEN * j:]) for j in range(2)]  # branch 0

    def isEncrypt(self):
        return False

    def getRoundNumber(self):
        return 14

    def applyRound(self, data, roundN):
        t2, x2, t3, x3 = self.rounds[roundN]
        out = bytearray()
        for c in range(4):
            y = tree([t2[4 * c + i][data[INV_SHIFT[4 * c + i]]] for i in range(4)], x2[c])
            w = [t3[4 * c + k][(y >> 8 * k) & 0xff] for k in range(4)]
            out += tree(w, x3[c]).to_bytes(4, "little")
        return bytes(out)


def main():
    path, rounds = sys.argv[1], sorted(int(r) for r in sys.argv[2:])
    start = time.monotonic()
    wb = KeyFileRounds(path)
    bge = BGE(wb)
    bge.run(roundList=rounds)
    key = bge.computeKey()
    print(json.dumps({  # one line: wbattack reads the last line
        "rounds": rounds,
        "key": key.hex() if isinstance(key, bytes) else None,
        "round_keys": {str(i): k.hex() for i, k in enumerate(bge.roundkey) if k is not None},
        "calls": (256 * 256 + 2 * 256) * len(rounds),
        "seconds": time.monotonic() - start,
    }))


if __name__ == "__main__":
    main()
