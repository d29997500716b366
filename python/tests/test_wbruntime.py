"""Tests of the Python package (the runtime built into it by maturin) against key files made by
the real `wbgen` CLI and the cross-language vectors of test-vectors/sdk/. Run against the
installed package (``pip install ./python``), from a directory that does not hold it."""

import base64
import json
import os
import pathlib
import subprocess
import sys
import threading

import pytest

import wbruntime
from wbruntime import (
    AES_256,
    SM4,
    DecryptionError,
    DeviceNotBoundError,
    InvalidArgumentError,
    Key,
    KeyFileError,
    whitebox_decrypt,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
WBGEN = os.environ.get("WBGEN_BIN", str(ROOT / "target" / "release" / "wbgen"))
SECRET = b"IY9Ynrabcdj05YH1234LE370HOM"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """An AES-256 and an SM4 key, a secret encrypted with each, and their key files."""
    work = tmp_path_factory.mktemp("wb")
    env = dict(os.environ, WBGEN_KEYSTORE=str(work / "store"), WBGEN_PASSPHRASE="python tests")

    def wbgen(*args):
        out = subprocess.run([WBGEN, *args], env=env, check=True, capture_output=True)
        return json.loads(out.stdout)

    wbgen("init")

    made = {}
    (work / "keys").mkdir()
    for alg, number in (("aes-256", AES_256), ("sm4", SM4)):
        key_id = wbgen("create", "--algorithm", alg, "--alias", f"py-{alg}")["KeyId"]
        enc = wbgen("encrypt", "--key-id", key_id, "--plaintext-b64", base64.b64encode(SECRET).decode())
        wbgen("export", "--key-id", key_id, "--out", str(work / "keys" / f"{alg}.wbkey"))
        wbgen("fingerprints", "--key-id", key_id, "--set", "wbfp1-" + "0" * 40)
        wbgen("export", "--key-id", key_id, "--out", str(work / "keys" / f"{alg}-bound.wbkey"))
        made[alg] = dict(number=number, iv=enc["InitializationVector"], ct=enc["CipherText"])
    # Chow-style keys, named: keys are space-hard unless a mode is asked for.
    for alg in ("aes-256", "sm4"):
        chow = wbgen("create", "--algorithm", alg, "--alias", f"py-{alg}-external", "--mode", "external")
        assert chow["Mode"] == "EXTERNAL"
        wbgen("export", "--key-id", chow["KeyId"], "--out", str(work / "keys" / f"{alg}-external.wbkey"))
    made["dir"] = work / "keys"
    return made


@pytest.mark.parametrize("alg", ["aes-256", "sm4"])
def test_whitebox_decrypt(keys, alg):
    k = keys[alg]
    assert whitebox_decrypt(keys["dir"], f"{alg}.wbkey", k["iv"], k["ct"], k["number"]) == SECRET


@pytest.mark.parametrize("alg", ["aes-256", "sm4"])
def test_key_handle_reuse_and_threads(keys, alg):
    k = keys[alg]
    path = keys["dir"] / f"{alg}.wbkey"
    with Key.from_file(path) as key:
        assert key.algorithm == k["number"]
        assert key.decrypt_b64(k["iv"], k["ct"]) == SECRET
        assert key.decrypt(base64.b64decode(k["iv"]), base64.b64decode(k["ct"])) == SECRET
        results = []

        def work():
            for _ in range(10):
                results.append(key.decrypt_b64(k["iv"], k["ct"]))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [SECRET] * 40
    with pytest.raises(ValueError):
        key.decrypt_b64(k["iv"], k["ct"])
    with Key.from_bytes(path.read_bytes()) as key:
        assert key.decrypt_b64(k["iv"], k["ct"]) == SECRET


def test_errors_map_to_exceptions(keys):
    k = keys["aes-256"]
    d = keys["dir"]
    with pytest.raises(KeyFileError) as e:
        whitebox_decrypt(d, "missing.wbkey", k["iv"], k["ct"], 0)
    assert e.value.code == "01000001"
    with pytest.raises(InvalidArgumentError) as e:
        whitebox_decrypt(d, "aes-256.wbkey", k["iv"], k["ct"], 1)
    assert e.value.code == "01000008"
    with pytest.raises(InvalidArgumentError) as e:
        whitebox_decrypt(d, "aes-256.wbkey", k["iv"], k["ct"], 7)
    assert e.value.code == "01000007"
    with pytest.raises(InvalidArgumentError) as e:
        whitebox_decrypt(d, "aes-256.wbkey", "AAAA", k["ct"], 0)
    assert e.value.code == "01000009"
    with pytest.raises(InvalidArgumentError) as e:
        whitebox_decrypt(d, "aes-256.wbkey", "!!", k["ct"], 0)
    assert e.value.code == "01000010"
    with pytest.raises(DecryptionError) as e:
        whitebox_decrypt(d, "aes-256.wbkey", k["iv"], base64.b64encode(b"x" * 15).decode(), 0)
    assert e.value.code == "01000011"
    with pytest.raises(DeviceNotBoundError) as e:
        whitebox_decrypt(d, "aes-256-bound.wbkey", k["iv"], k["ct"], 0)
    assert e.value.code == "01000016"
    assert "not bound" in str(e.value)
    # The bound file decrypts when given a bound fingerprint.
    assert whitebox_decrypt(d, "aes-256-bound.wbkey", k["iv"], k["ct"], 0,
                            fingerprint="wbfp1-" + "0" * 40) == SECRET
    with pytest.raises(KeyFileError) as e:
        Key.from_bytes(b"not a key file")
    assert e.value.code == "01000002"
    truncated = (d / "aes-256.wbkey").read_bytes()[:-1]
    with pytest.raises(KeyFileError) as e:
        Key.from_bytes(truncated)
    assert e.value.code == "01000004"
    with pytest.raises(TypeError):
        whitebox_decrypt(d, 42, k["iv"], k["ct"], 0)
    with pytest.raises(InvalidArgumentError):
        whitebox_decrypt(d, "aes-256.wbkey", k["iv"], k["ct"], -1)


def test_key_file_errors_name_the_path(keys, tmp_path):
    """A key file error carries the runtime's message for the failure, passed on as it is:
    why, and the key file's path (as given: the directory joined with the file name)."""
    k = keys["aes-256"]
    missing = tmp_path / "missing.wbkey"
    calls = [
        lambda: whitebox_decrypt(tmp_path, "missing.wbkey", k["iv"], k["ct"], 0),
        lambda: wbruntime.whitebox_encrypt(tmp_path, "missing.wbkey", k["iv"], b"x", 0),
        lambda: Key.from_file(missing),
    ]
    for call in calls:
        with pytest.raises(KeyFileError) as e:
            call()
        assert e.value.code == "01000001"
        assert str(missing) in e.value.message and "no such file" in e.value.message, e.value.message
        assert str(e.value) == f"error 01000001: {e.value.message}"
    not_a_key = VECTORS / "broken-not-a-key-file.wbkey"
    with pytest.raises(KeyFileError) as e:
        Key.from_file(not_a_key)
    assert e.value.code == "01000002" and str(not_a_key) in str(e.value), str(e.value)


def test_readme_example(keys):
    """The README's Python example, run as written (with this test's files)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    k = keys["sm4"]
    env = {"KEY_DIR": str(keys["dir"]), "KEY_FILE": "sm4.wbkey", "IV_B64": k["iv"],
           "CIPHERTEXT_B64": k["ct"], "ALGORITHM": "1"}
    scope = {"os": os}
    old = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        exec(compile(block, "README.md", "exec"), scope)
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert scope["secret"] == SECRET


def test_package_readme_example(keys, tmp_path):
    """python/README.md's Python block, run as a program with the environment it reads."""
    readme = (ROOT / "python" / "README.md").read_text()
    blocks = readme.split("```python\n")[1:]
    assert len(blocks) == 1, "python/README.md: one Python block expected"
    program = tmp_path / "readme_example.py"
    program.write_text(blocks[0].split("```", 1)[0])
    k = keys["aes-256"]
    env = dict(os.environ, KEY_DIR=str(keys["dir"]), KEY_FILE="aes-256.wbkey", IV=k["iv"], CT=k["ct"])
    out = subprocess.run([sys.executable, str(program)], env=env, cwd=tmp_path, capture_output=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == SECRET + b"\n" + SECRET + b"\n"
    env["KEY_FILE"] = "missing.wbkey"
    out = subprocess.run([sys.executable, str(program)], env=env, cwd=tmp_path, capture_output=True)
    assert out.returncode == 1 and out.stdout == b""
    assert out.stderr.decode().startswith("error 01000001: ")
    assert str(keys["dir"] / "missing.wbkey") in out.stderr.decode()


def test_example_program(keys, tmp_path):
    """examples/python/decrypt_secret.py: the secret, the usage error, a runtime error."""
    program = [sys.executable, str(ROOT / "examples" / "python" / "decrypt_secret.py")]
    k = keys["sm4"]
    args = ["--key-dir", str(keys["dir"]), "--iv", k["iv"], "--ciphertext", k["ct"], "--algorithm", "1"]
    out = subprocess.run(program + args + ["--key-file", "sm4.wbkey"], cwd=tmp_path, capture_output=True)
    assert (out.returncode, out.stdout) == (0, SECRET + b"\n"), out.stderr
    out = subprocess.run(program, cwd=tmp_path, capture_output=True)
    assert out.returncode == 2 and b"usage:" in out.stderr
    out = subprocess.run(program + args + ["--key-file", "sm4-bound.wbkey"], cwd=tmp_path, capture_output=True)
    assert out.returncode == 1 and out.stderr.startswith(b"error 01000016: "), out.stderr
    out = subprocess.run(program + args + ["--key-file", "missing.wbkey"], cwd=tmp_path, capture_output=True)
    assert out.returncode == 1 and out.stderr.startswith(b"error 01000001: "), out.stderr
    assert str(keys["dir"] / "missing.wbkey").encode() in out.stderr


def test_close_waits_for_decryptions_in_flight(keys):
    k = keys["aes-256"]
    key = Key.from_file(keys["dir"] / "aes-256.wbkey")
    errors, results = [], []

    def work():
        try:
            for _ in range(50):
                results.append(key.decrypt_b64(k["iv"], k["ct"]))
        except ValueError:
            pass  # closed: refused cleanly, never a crash
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    key.close()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == SECRET for r in results)


@pytest.fixture(scope="module")
def space_hard(tmp_path_factory):
    """Space-hard keys of both ciphers: a secret encrypted by wbgen, and the key files."""
    work = tmp_path_factory.mktemp("wb-space-hard")
    env = dict(os.environ, WBGEN_KEYSTORE=str(work / "store"), WBGEN_PASSPHRASE="python tests")

    def wbgen(*args):
        out = subprocess.run([WBGEN, *args], env=env, check=True, capture_output=True)
        return json.loads(out.stdout)

    wbgen("init")

    made = {"dir": work / "keys"}
    made["dir"].mkdir()
    for alg, number in (("aes-256", AES_256), ("sm4", SM4)):
        created = wbgen("create", "--algorithm", alg, "--alias", f"sh-{alg}", "--mode", "space-hard")
        assert created["Mode"] == "SPACE_HARD" and created["SpaceBits"] == 16
        key_id = created["KeyId"]
        enc = wbgen("encrypt", "--key-id", key_id, "--plaintext-b64", base64.b64encode(SECRET).decode())
        wbgen("export", "--key-id", key_id, "--out", str(made["dir"] / f"{alg}.wbkey"))
        made[alg] = dict(number=number, iv=enc["InitializationVector"], ct=enc["CipherText"])
    return made


@pytest.mark.parametrize("alg", ["aes-256", "sm4"])
def test_space_hard_decrypt_and_encrypt(space_hard, alg):
    k, d = space_hard[alg], space_hard["dir"]
    assert whitebox_decrypt(d, f"{alg}.wbkey", k["iv"], k["ct"], k["number"]) == SECRET
    # The key file encrypts exactly as the administrator's tool does (same IV).
    assert wbruntime.whitebox_encrypt(d, f"{alg}.wbkey", k["iv"], SECRET, k["number"]) == k["ct"]
    with Key.from_file(d / f"{alg}.wbkey") as key:
        iv = os.urandom(16)
        for msg in (b"", b"x", SECRET, os.urandom(4096 + 7)):
            ct = key.encrypt(iv, msg)
            assert len(ct) == (len(msg) // 16 + 1) * 16
            assert key.decrypt(iv, ct) == msg
        with pytest.raises(InvalidArgumentError):
            key.encrypt(b"short iv", b"x")


def test_encryption_needs_a_space_hard_file(keys):
    with pytest.raises(wbruntime.EncryptionUnsupportedError) as e:
        wbruntime.whitebox_encrypt(keys["dir"], "aes-256-external.wbkey", keys["aes-256"]["iv"], b"x", AES_256)
    assert e.value.code == "01000018"
    assert isinstance(e.value, KeyFileError)
    with Key.from_file(keys["dir"] / "sm4-external.wbkey") as key, pytest.raises(wbruntime.EncryptionUnsupportedError):
        key.encrypt(bytes(16), b"x")


_LARGE_CHILD = r"""
import base64, json, sys, threading
import wbruntime
args = json.loads(sys.argv[1])
plain = open(args["plain"], "rb").read()
ct = open(args["ct"], "rb").read()
with wbruntime.Key.from_file(args["key"]) as key:
    results = []
    threads = [threading.Thread(target=lambda: results.append(key.decrypt(base64.b64decode(args["iv"]), ct)))
               for _ in range(3)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert results == [plain] * 3
    one_shot = wbruntime.whitebox_decrypt(args["dir"], args["file"], args["iv"],
                                          base64.b64encode(ct).decode(), args["alg"])
    assert one_shot == plain
    print(key.backend)
"""


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A 2 MiB message encrypted under an AES-256 and an SM4 key in both Chow modes."""
    work = tmp_path_factory.mktemp("wb-large")
    env = dict(os.environ, WBGEN_KEYSTORE=str(work / "store"), WBGEN_PASSPHRASE="python tests")
    plain = os.urandom(2 * 1024 * 1024 + 3)
    (work / "plain.bin").write_bytes(plain)
    subprocess.run([WBGEN, "init"], env=env, check=True, capture_output=True)
    made = []
    for alg, number in (("aes-256", AES_256), ("sm4", SM4)):
        for mode in ("external", "standard"):
            run = lambda *a: json.loads(subprocess.run([WBGEN, *a], env=env, check=True,
                                                       capture_output=True).stdout)
            key_id = run("create", "--algorithm", alg, "--alias", f"l-{alg}-{mode}", "--mode", mode)["KeyId"]
            enc = run("encrypt", "--key-id", key_id, "--in", str(work / "plain.bin"))
            name = f"{alg}-{mode}.wbkey"
            run("export", "--key-id", key_id, "--out", str(work / name))
            ct = work / f"{alg}-{mode}.ct"
            ct.write_bytes(base64.b64decode(enc["CipherText"]))
            made.append(dict(dir=str(work), file=name, key=str(work / name), iv=enc["InitializationVector"],
                             ct=str(ct), plain=str(work / "plain.bin"), alg=number))
    return made


def _child(case, backend):
    env = dict(os.environ)
    env.pop("WBRUNTIME_BACKEND", None)
    if backend is not None:
        env["WBRUNTIME_BACKEND"] = backend
    return subprocess.run([sys.executable, "-c", _LARGE_CHILD, json.dumps(case)], env=env,
                          capture_output=True, text=True)


@pytest.mark.parametrize("backend", [None, "soft", "portable", "neon", "avx2", "avx512vbmi"])
def test_large_messages_on_every_backend(large, backend):
    """Each process reads WBRUNTIME_BACKEND once: one child per backend, every key in it."""
    ran = 0
    for case in large:
        out = _child(case, backend)
        if backend and out.returncode != 0 and "01000017" in out.stderr:
            continue  # this CPU lacks the backend: refused with its code, never replaced
        assert out.returncode == 0, out.stderr
        if backend:
            assert out.stdout.strip() == backend
        ran += 1
    if backend in (None, "soft", "portable"):
        assert ran == len(large)


def test_backend_errors(keys):
    out = _child(dict(dir=str(keys["dir"]), file="aes-256.wbkey", key=str(keys["dir"] / "aes-256.wbkey"),
                      iv=keys["aes-256"]["iv"], ct=os.devnull, plain=os.devnull, alg=0), "no-such-backend")
    assert out.returncode != 0
    assert "BackendError" in out.stderr and "01000019" in out.stderr
    with Key.from_file(keys["dir"] / "aes-256.wbkey") as key:
        assert key.backend in ("soft", "portable", "neon", "avx2", "avx512vbmi")


VECTORS = ROOT / "test-vectors" / "sdk"


def _vectors():
    return json.loads((VECTORS / "vectors.json").read_text())


@pytest.mark.parametrize("case", _vectors()["cases"], ids=lambda c: c["name"])
def test_sdk_vector_cases(case):
    """The cross-language vectors: one-shot call, a loaded key, and encryption where the file
    encrypts (the same IV gives the same ciphertext)."""
    plain = base64.b64decode(case["plaintext"])
    fp = case["fingerprint"]
    got = whitebox_decrypt(VECTORS, case["key_file"], case["iv"], case["ciphertext"], case["algorithm"],
                           fingerprint=fp)
    assert got == plain
    with Key.from_file(VECTORS / case["key_file"], fingerprint=fp) as key:
        assert key.algorithm == case["algorithm"]
        assert key.decrypt_b64(case["iv"], case["ciphertext"]) == plain
        if case["encrypts"]:
            assert key.encrypt(base64.b64decode(case["iv"]), plain) == base64.b64decode(case["ciphertext"])
    if case["encrypts"]:
        assert wbruntime.whitebox_encrypt(VECTORS, case["key_file"], case["iv"], plain, case["algorithm"],
                                          fingerprint=fp) == case["ciphertext"]


@pytest.mark.parametrize("case", _vectors()["errors"], ids=lambda c: c["name"])
def test_sdk_vector_errors(case):
    with pytest.raises(wbruntime.WhiteboxError) as e:
        if case.get("op") == "encrypt":
            wbruntime.whitebox_encrypt(VECTORS, case["key_file"], case["iv"], base64.b64decode(case["plaintext"]),
                                       case["algorithm"], fingerprint=case.get("fingerprint"))
        else:
            whitebox_decrypt(VECTORS, case["key_file"], case["iv"], case["ciphertext"], case["algorithm"],
                             fingerprint=case.get("fingerprint"))
    assert e.value.code == case["error"], case["name"]
    expected = {"01000016": DeviceNotBoundError, "01000011": DecryptionError,
                "01000018": wbruntime.EncryptionUnsupportedError}.get(case["error"])
    if expected:
        assert isinstance(e.value, expected)


def test_the_package_is_the_installed_extension():
    """pip built the runtime into the package: no library path, no environment variable."""
    assert wbruntime._native.__file__.endswith((".so", ".pyd", ".dylib"))
    assert (pathlib.Path(wbruntime.__file__).parent / "py.typed").exists()
    with Key.from_file(VECTORS / "sm4-space-hard.wbkey") as key:
        assert not key.closed
    assert key.closed
