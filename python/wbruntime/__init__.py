"""Decrypt secrets with a white-box key file, from Python.

The runtime itself, compiled into this package (a PyO3 extension, ``wbruntime._native``):
``pip install ./python`` builds it with maturin, no library to point at.

    >>> from wbruntime import whitebox_decrypt, Key
    >>> secret = whitebox_decrypt("keys", "api.wbkey", iv_b64, ciphertext_b64, 0)
    >>> with Key.from_file("keys/api.wbkey") as key:    # load once, decrypt many times
    ...     secret = key.decrypt_b64(iv_b64, ciphertext_b64)
    >>> ct_b64 = whitebox_encrypt("keys", "sh.wbkey", iv_b64, b"secret", 0)  # space-hard files

Errors raise :class:`WhiteboxError` subclasses carrying the stable code of README.md. Calls
release the GIL, so threads decrypt in parallel; long messages run on the fastest backend the
CPU has (``Key.backend``; ``$WBRUNTIME_BACKEND`` forces one).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Optional, Union

from . import _native

__all__ = [
    "whitebox_decrypt",
    "whitebox_encrypt",
    "Key",
    "WhiteboxError",
    "KeyFileError",
    "InvalidArgumentError",
    "DecryptionError",
    "DeviceNotBoundError",
    "EncryptionUnsupportedError",
    "BackendError",
    "AES_256",
    "SM4",
]

__version__: str = _native.version()

AES_256 = 0
SM4 = 1

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
Text = Union[str, bytes]


class WhiteboxError(Exception):
    """A runtime error; ``code`` is the stable eight-digit code as a string."""

    def __init__(self, code: Union[int, str], message: str):
        self.code: str = f"{int(code):08d}"
        self.message: str = message
        super().__init__(f"error {self.code}: {message}")


class KeyFileError(WhiteboxError):
    """The key file is missing, unreadable, not a key file, corrupted or malformed."""


class InvalidArgumentError(WhiteboxError):
    """An argument is wrong: algorithm, IV length, Base64."""


class DecryptionError(WhiteboxError):
    """Decryption failed: wrong key, corrupted ciphertext or bad padding (deliberately opaque)."""


class DeviceNotBoundError(WhiteboxError):
    """The key file is bound to other devices (code 01000016)."""


class BackendError(InvalidArgumentError):
    """``$WBRUNTIME_BACKEND`` names no backend (01000019) or one this CPU or build cannot run
    (01000017)."""


class EncryptionUnsupportedError(KeyFileError):
    """Encryption was asked of an external- or standard-mode key file, whose tables only
    decrypt; only space-hard key files encrypt (code 01000018)."""


_CLASSES = {
    **{c: KeyFileError for c in ("01000001", "01000002", "01000003", "01000004", "01000005",
                                 "01000006", "01000014")},
    **{c: InvalidArgumentError for c in ("01000007", "01000008", "01000009", "01000010",
                                         "01000012")},
    "01000011": DecryptionError,
    "01000016": DeviceNotBoundError,
    "01000017": BackendError,
    "01000018": EncryptionUnsupportedError,
    "01000019": BackendError,
}


def _translate(e: Exception) -> Exception:
    code, message = e.args
    if code == _native.CLOSED:
        return ValueError(message)
    return _CLASSES.get(code, WhiteboxError)(code, message)


def _path(p: PathArg, what: str) -> str:
    if isinstance(p, (str, bytes, os.PathLike)):
        return os.fsdecode(p)
    raise TypeError(f"{what} must be a path (str, bytes or os.PathLike), not {type(p).__name__}")


def _text(s: Optional[Text], what: str) -> Optional[str]:
    if s is None or isinstance(s, str):
        return s
    if isinstance(s, (bytes, bytearray)):
        try:
            return bytes(s).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidArgumentError(1000010, f"the {what} is not valid Base64") from None
    raise TypeError(f"{what} must be str or bytes, not {type(s).__name__}")


def _algorithm(algorithm: int) -> int:
    if isinstance(algorithm, bool) or not isinstance(algorithm, int):
        raise TypeError("the algorithm must be an int: 0 (AES-256) or 1 (SM4)")
    if not 0 <= algorithm < 2**32:
        raise InvalidArgumentError(1000007, f"unsupported algorithm {algorithm} (0 = AES-256, 1 = SM4)")
    return algorithm


def whitebox_decrypt(key_dir: PathArg, key_file: PathArg, iv_b64: Text, ciphertext_b64: Text,
                     algorithm: int, fingerprint: Optional[str] = None) -> bytes:
    """Decrypts like the KMS SDK: key file ``key_file`` in ``key_dir``, Base64 IV and
    ciphertext (CBC, PKCS#7), ``algorithm`` 0 = AES-256, 1 = SM4. A key file bound to devices
    is checked against ``fingerprint``, or this device's collected fingerprint if None."""
    args = (_path(key_dir, "key_dir"), _path(key_file, "key_file"), _text(iv_b64, "iv"),
            _text(ciphertext_b64, "ciphertext"), _algorithm(algorithm), _text(fingerprint, "fingerprint"))
    try:
        return _native.whitebox_decrypt(*args)
    except _native.NativeError as e:
        raise _translate(e) from None


def whitebox_encrypt(key_dir: PathArg, key_file: PathArg, iv_b64: Text, plaintext: bytes,
                     algorithm: int, fingerprint: Optional[str] = None) -> str:
    """Encrypts ``plaintext`` with a space-hard key file (CBC, PKCS#7) under the Base64 IV
    ``iv_b64`` (draw 16 random bytes for every message); returns the Base64 ciphertext that
    ``whitebox_decrypt`` takes. Other key files raise :class:`EncryptionUnsupportedError`."""
    args = (_path(key_dir, "key_dir"), _path(key_file, "key_file"), _text(iv_b64, "iv"),
            bytes(plaintext), _algorithm(algorithm), _text(fingerprint, "fingerprint"))
    try:
        return _native.whitebox_encrypt(*args)
    except _native.NativeError as e:
        raise _translate(e) from None


def _b64(text: Text, what: str) -> bytes:
    try:
        return base64.b64decode(_text(text, what) or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgumentError(1000010, f"the {what} is not valid Base64") from None


class Key:
    """A key file loaded once (validated in full) for many decryptions; thread-safe. Closing
    waits for the calls in flight; calls after ``close`` raise ``ValueError``."""

    def __init__(self, native: "_native.NativeKey"):
        self._native = native

    @classmethod
    def from_file(cls, path: PathArg, fingerprint: Optional[str] = None) -> "Key":
        """Loads the key file at ``path`` (bound files: ``fingerprint`` or this device's)."""
        try:
            return cls(_native.NativeKey.from_file(_path(path, "path"), _text(fingerprint, "fingerprint")))
        except _native.NativeError as e:
            raise _translate(e) from None

    @classmethod
    def from_bytes(cls, data: bytes, fingerprint: Optional[str] = None) -> "Key":
        """Loads a key file held in memory."""
        try:
            return cls(_native.NativeKey.from_bytes(bytes(data), _text(fingerprint, "fingerprint")))
        except _native.NativeError as e:
            raise _translate(e) from None

    def _call(self, name: str, *args):
        try:
            return getattr(self._native, name)(*args)
        except _native.NativeError as e:
            raise _translate(e) from None

    @property
    def algorithm(self) -> int:
        """0 = AES-256, 1 = SM4."""
        return self._call("algorithm")

    @property
    def backend(self) -> str:
        """The backend long messages run on: ``"soft"``, ``"portable"``, ``"neon"``, ``"avx2"``
        or ``"avx512vbmi"`` (the fastest this CPU has, or ``$WBRUNTIME_BACKEND``). Short
        messages take the scalar network; the first long one re-lays the tables out, once per
        key (a space-hard key: every message on the backend, the table re-laid out with the
        first on x86-64)."""
        return self._call("backend")

    def decrypt(self, iv: bytes, ciphertext: bytes) -> bytes:
        """Decrypts raw IV and ciphertext bytes."""
        return self._call("decrypt", bytes(iv), bytes(ciphertext))

    def decrypt_b64(self, iv_b64: Text, ciphertext_b64: Text) -> bytes:
        """Decrypts Base64 IV and ciphertext, as ``whitebox_decrypt`` takes them."""
        return self.decrypt(_b64(iv_b64, "iv"), _b64(ciphertext_b64, "ciphertext"))

    def encrypt(self, iv: bytes, plaintext: bytes) -> bytes:
        """Encrypts with a space-hard key (CBC, PKCS#7); returns the raw ciphertext."""
        return self._call("encrypt", bytes(iv), bytes(plaintext))

    def close(self) -> None:
        """Frees the loaded tables (also at the end of ``with``), after any call running in
        another thread has finished."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.is_closed()

    def __enter__(self) -> "Key":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
