#!/usr/bin/env python3
"""Decrypts one secret with a white-box key file and prints it: the Python package's
whitebox_decrypt, as a complete program.

    python3 decrypt_secret.py --key-dir DIR --key-file FILE --iv IV_B64 --ciphertext CT_B64 --algorithm 0|1

Algorithm 0 is AES-256, 1 is SM4. Exit status: 0 with the secret on standard output; 1 on a
runtime error ("error CODE: message" on standard error); 2 on a usage error. Needs the
wbruntime package: pip install ./python (from the repository's checkout).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from wbruntime import (
    AES_256,
    SM4,
    DecryptionError,
    DeviceNotBoundError,
    WhiteboxError,
    whitebox_decrypt,
)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="decrypt_secret.py",
        description="Decrypt one secret with a white-box key file and print it.",
    )
    parser.add_argument("--key-dir", required=True, help="directory holding the key file")
    parser.add_argument("--key-file", required=True, help="key file name, in --key-dir")
    parser.add_argument("--iv", required=True, help="IV, Base64 (16 bytes)")
    parser.add_argument("--ciphertext", required=True, help="ciphertext, Base64")
    parser.add_argument("--algorithm", required=True, type=int, choices=(AES_256, SM4),
                        help="0 = AES-256, 1 = SM4")
    return parser.parse_args(argv)  # a usage error prints the usage and exits 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        secret: bytes = whitebox_decrypt(args.key_dir, args.key_file, args.iv, args.ciphertext,
                                         args.algorithm)
    except DeviceNotBoundError as e:
        print(e, file=sys.stderr)  # "error 01000016: ..."
        print("this key file is bound to other devices: export one that includes this "
              "device's fingerprint (wbfingerprint)", file=sys.stderr)
        return 1
    except DecryptionError as e:
        print(e, file=sys.stderr)  # "error 01000011: ..."
        print("check the IV, the ciphertext and that the key file is the one it was "
              "encrypted for", file=sys.stderr)
        return 1
    except WhiteboxError as e:
        # Every runtime error: e.code is the eight-digit code, e.message the runtime's
        # message (for a key file: why, and its path).
        print(e, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(secret + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
