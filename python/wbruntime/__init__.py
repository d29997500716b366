"""Decrypt secrets with a white-box key file, from Python.

A thin ctypes layer over the C ABI of the Rust runtime (``libwbruntime_ffi``), so it needs no
compiler at install time. The library is found, in order: ``$WBRUNTIME_LIB``; a copy inside
this package; ``target/release`` of the source tree this package sits in; the system's library
path.

    >>> from wbruntime import whitebox_decrypt, Key
    >>> secret = whitebox_decrypt("keys", "api.wbkey", iv_b64, ciphertext_b64, 0)
    >>> with Key.from_file("keys/api.wbkey") as key:    # load once, decrypt many times
    ...     secret = key.decrypt_b64(iv_b64, ciphertext_b64)
    >>> ct_b64 = whitebox_encrypt("keys", "sh.wbkey", iv_b64, b"secret", 0)  # space-hard files

Errors raise :class:`WhiteboxError` subclasses carrying the stable code of README.md.
"""

import ctypes
import ctypes.util
import os
import pathlib
import threading

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

AES_256 = 0
SM4 = 1

_OK = 0
_BUFFER_TOO_SMALL = 1000012


class WhiteboxError(Exception):
    """A runtime error; ``code`` is the stable eight-digit code as a string."""

    def __init__(self, code: int, message: str):
        self.code = f"{code:08d}"
        self.message = message
        super().__init__(f"error {self.code}: {message}")


class KeyFileError(WhiteboxError):
    """The key file is missing, unreadable, not a key file, corrupted or malformed."""


class InvalidArgumentError(WhiteboxError):
    """An argument is wrong: algorithm, IV length, Base64, a null or non-UTF-8 string."""


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
    **{c: KeyFileError for c in (1000001, 1000002, 1000003, 1000004, 1000005, 1000006, 1000014)},
    **{c: InvalidArgumentError for c in (1000007, 1000008, 1000009, 1000010, 1000020, 1000021)},
    1000011: DecryptionError,
    1000016: DeviceNotBoundError,
    1000017: BackendError,
    1000018: EncryptionUnsupportedError,
    1000019: BackendError,
}


def _find_library() -> str:
    names = ["libwbruntime_ffi.so", "libwbruntime_ffi.dylib", "wbruntime_ffi.dll"]
    env = os.environ.get("WBRUNTIME_LIB")
    if env:
        return env
    here = pathlib.Path(__file__).resolve().parent
    for base in (here, here.parent.parent / "target" / "release"):
        for name in names:
            if (base / name).exists():
                return str(base / name)
    found = ctypes.util.find_library("wbruntime_ffi")
    if found:
        return found
    raise OSError(
        "libwbruntime_ffi not found: build it with `cargo build --release -p wbruntime-ffi` "
        "or set WBRUNTIME_LIB to its path"
    )


_lib = ctypes.CDLL(_find_library())
_c_str = ctypes.c_char_p
_size_p = ctypes.POINTER(ctypes.c_size_t)
_u8_p = ctypes.POINTER(ctypes.c_uint8)
_lib.whitebox_decrypt_with_fingerprint.argtypes = [
    _c_str, _c_str, _c_str, _c_str, ctypes.c_uint32, _c_str, _u8_p, _size_p,
]
_lib.whitebox_decrypt_with_fingerprint.restype = ctypes.c_int32
_lib.wb_key_load_file.argtypes = [_c_str, _c_str, ctypes.POINTER(ctypes.c_void_p)]
_lib.wb_key_load_file.restype = ctypes.c_int32
_lib.wb_key_load_buffer.argtypes = [_u8_p, ctypes.c_size_t, _c_str, ctypes.POINTER(ctypes.c_void_p)]
_lib.wb_key_load_buffer.restype = ctypes.c_int32
_lib.wb_key_decrypt.argtypes = [
    ctypes.c_void_p, _u8_p, ctypes.c_size_t, _u8_p, ctypes.c_size_t, _u8_p, _size_p,
]
_lib.wb_key_decrypt.restype = ctypes.c_int32
_lib.whitebox_encrypt_with_fingerprint.argtypes = [
    _c_str, _c_str, _c_str, _u8_p, ctypes.c_size_t, ctypes.c_uint32, _c_str, ctypes.c_char_p,
    _size_p,
]
_lib.whitebox_encrypt_with_fingerprint.restype = ctypes.c_int32
_lib.wb_key_encrypt.argtypes = [
    ctypes.c_void_p, _u8_p, ctypes.c_size_t, _u8_p, ctypes.c_size_t, _u8_p, _size_p,
]
_lib.wb_key_encrypt.restype = ctypes.c_int32
_lib.wb_key_decrypt_b64.argtypes = [ctypes.c_void_p, _c_str, _c_str, _u8_p, _size_p]
_lib.wb_key_decrypt_b64.restype = ctypes.c_int32
_lib.wb_key_backend.argtypes = [ctypes.c_void_p]
_lib.wb_key_backend.restype = ctypes.c_char_p
_lib.wb_key_algorithm.argtypes = [ctypes.c_void_p]
_lib.wb_key_algorithm.restype = ctypes.c_int32
_lib.wb_key_free.argtypes = [ctypes.c_void_p]
_lib.wb_key_free.restype = None
_lib.wb_wipe.argtypes = [_u8_p, ctypes.c_size_t]
_lib.wb_wipe.restype = None
_lib.wb_error_message.argtypes = [ctypes.c_int32]
_lib.wb_error_message.restype = ctypes.c_char_p
_lib.wb_version.argtypes = []
_lib.wb_version.restype = ctypes.c_char_p

__version__ = _lib.wb_version().decode()


def _raise(code: int):
    message = _lib.wb_error_message(code).decode()
    raise _CLASSES.get(code, WhiteboxError)(code, message)


def _enc(s, what):
    if s is None:
        return None
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    if isinstance(s, (str, os.PathLike)):
        return os.fsencode(s) if isinstance(s, os.PathLike) else s.encode("utf-8")
    raise TypeError(f"{what} must be str or bytes")


def _call_with_buffer(fn, capacity: int) -> bytes:
    """Calls ``fn(buf, len_ptr)`` with a buffer of ``capacity``, growing it once if the
    library asks for more; returns the plaintext and wipes the buffer."""
    for _ in range(2):
        buf = (ctypes.c_uint8 * max(capacity, 1))()
        length = ctypes.c_size_t(capacity)
        code = fn(buf, ctypes.byref(length))
        try:
            if code == _OK:
                return bytes(buf[: length.value])
            if code != _BUFFER_TOO_SMALL:
                _raise(code)
            capacity = length.value
        finally:
            _lib.wb_wipe(buf, len(buf))
    _raise(_BUFFER_TOO_SMALL)


def whitebox_decrypt(key_dir, key_file, iv_b64, ciphertext_b64, algorithm, fingerprint=None) -> bytes:
    """Decrypts like the KMS SDK: key file ``key_file`` in ``key_dir``, Base64 IV and
    ciphertext (CBC, PKCS#7), ``algorithm`` 0 = AES-256, 1 = SM4. A key file bound to devices
    is checked against ``fingerprint``, or this device's collected fingerprint if None."""
    if not isinstance(algorithm, int) or not 0 <= algorithm < 2**32:
        raise InvalidArgumentError(1000007, "the algorithm must be 0 (AES-256) or 1 (SM4)")
    args = [_enc(key_dir, "key_dir"), _enc(key_file, "key_file"), _enc(iv_b64, "iv_b64"),
            _enc(ciphertext_b64, "ciphertext_b64")]
    fp = _enc(fingerprint, "fingerprint")
    capacity = len(args[3] or b"")  # the Base64 text is longer than the plaintext
    return _call_with_buffer(
        lambda buf, n: _lib.whitebox_decrypt_with_fingerprint(*args, algorithm, fp, buf, n),
        capacity,
    )


def _bytes_arg(data: bytes):
    """A ctypes copy of ``data`` (at least one byte, so the pointer is never null)."""
    data = bytes(data)
    return (ctypes.c_uint8 * max(len(data), 1)).from_buffer_copy(data or b"\0"), len(data)


def whitebox_encrypt(key_dir, key_file, iv_b64, plaintext: bytes, algorithm,
                     fingerprint=None) -> str:
    """Encrypts ``plaintext`` with a space-hard key file (CBC, PKCS#7) under the Base64 IV
    ``iv_b64`` (draw 16 random bytes for every message); returns the Base64 ciphertext that
    ``whitebox_decrypt`` takes. Other key files raise :class:`EncryptionUnsupportedError`."""
    if not isinstance(algorithm, int) or not 0 <= algorithm < 2**32:
        raise InvalidArgumentError(1000007, "the algorithm must be 0 (AES-256) or 1 (SM4)")
    args = [_enc(key_dir, "key_dir"), _enc(key_file, "key_file"), _enc(iv_b64, "iv_b64")]
    pt, pt_len = _bytes_arg(plaintext)
    fp = _enc(fingerprint, "fingerprint")
    capacity = (pt_len // 16 + 1) * 16 * 4 // 3 + 8
    for _ in range(2):
        buf = ctypes.create_string_buffer(capacity)
        length = ctypes.c_size_t(capacity)
        code = _lib.whitebox_encrypt_with_fingerprint(
            *args, pt, pt_len, algorithm, fp, buf, ctypes.byref(length))
        if code == _OK:
            return buf.value.decode("ascii")
        if code != _BUFFER_TOO_SMALL:
            _raise(code)
        capacity = length.value
    _raise(_BUFFER_TOO_SMALL)


class Key:
    """A key file loaded once (validated in full) for many decryptions; thread-safe."""

    def __init__(self, handle):
        self._handle = handle
        # Calls in flight, so that close() from one thread never frees the tables while
        # another thread is decrypting with them (the library call releases the GIL).
        self._cond = threading.Condition()
        self._busy = 0

    @classmethod
    def from_file(cls, path, fingerprint=None) -> "Key":
        handle = ctypes.c_void_p()
        code = _lib.wb_key_load_file(_enc(path, "path"), _enc(fingerprint, "fingerprint"),
                                     ctypes.byref(handle))
        if code != _OK:
            _raise(code)
        return cls(handle)

    @classmethod
    def from_bytes(cls, data: bytes, fingerprint=None) -> "Key":
        data = bytes(data)
        buf = (ctypes.c_uint8 * max(len(data), 1)).from_buffer_copy(data or b"\0")
        handle = ctypes.c_void_p()
        code = _lib.wb_key_load_buffer(buf, len(data), _enc(fingerprint, "fingerprint"),
                                       ctypes.byref(handle))
        if code != _OK:
            _raise(code)
        return cls(handle)

    def _enter(self):
        with self._cond:
            if not self._handle:
                raise ValueError("the key is closed")
            self._busy += 1
            return self._handle

    def _leave(self):
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def _use(self, call):
        handle = self._enter()
        try:
            return call(handle)
        finally:
            self._leave()

    @property
    def backend(self) -> str:
        """The backend long messages run on: ``"soft"``, ``"portable"``, ``"avx2"`` or
        ``"avx512vbmi"`` (the fastest this CPU has, or ``$WBRUNTIME_BACKEND``). Short messages
        take the scalar network; the first long one re-lays the tables out, once per key."""
        return self._use(_lib.wb_key_backend).decode()

    @property
    def algorithm(self) -> int:
        """0 = AES-256, 1 = SM4."""
        return self._use(_lib.wb_key_algorithm)

    def decrypt(self, iv: bytes, ciphertext: bytes) -> bytes:
        """Decrypts raw IV and ciphertext bytes."""
        iv, ct = bytes(iv), bytes(ciphertext)
        ivb = (ctypes.c_uint8 * max(len(iv), 1)).from_buffer_copy(iv or b"\0")
        ctb = (ctypes.c_uint8 * max(len(ct), 1)).from_buffer_copy(ct or b"\0")
        return self._use(lambda handle: _call_with_buffer(
            lambda buf, n: _lib.wb_key_decrypt(handle, ivb, len(iv), ctb, len(ct), buf, n),
            len(ct),
        ))

    def encrypt(self, iv: bytes, plaintext: bytes) -> bytes:
        """Encrypts with a space-hard key (CBC, PKCS#7); returns the raw ciphertext."""
        ivb, iv_len = _bytes_arg(iv)
        pt, pt_len = _bytes_arg(plaintext)
        return self._use(lambda handle: _call_with_buffer(
            lambda buf, n: _lib.wb_key_encrypt(handle, ivb, iv_len, pt, pt_len, buf, n),
            (pt_len // 16 + 1) * 16,
        ))

    def decrypt_b64(self, iv_b64, ciphertext_b64) -> bytes:
        """Decrypts Base64 IV and ciphertext, as ``whitebox_decrypt`` takes them."""
        iv, ct = _enc(iv_b64, "iv_b64"), _enc(ciphertext_b64, "ciphertext_b64")
        return self._use(lambda handle: _call_with_buffer(
            lambda buf, n: _lib.wb_key_decrypt_b64(handle, iv, ct, buf, n),
            len(ct or b""),
        ))

    def close(self):
        """Frees the loaded tables (also on garbage collection and at the end of ``with``),
        after any decryption running in another thread has finished."""
        cond = getattr(self, "_cond", None)
        if cond is None:
            return
        with cond:
            handle, self._handle = self._handle, None
            while self._busy:
                cond.wait()
        if handle:
            _lib.wb_key_free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
