//! `wbruntime._native`: the Python extension over the runtime (PyO3). The package
//! `python/wbruntime/__init__.py` wraps it in the public API (`whitebox_decrypt`, `Key`, the
//! exception classes); this module only converts arguments, releases the GIL around the
//! work, and reports errors as `(code, message)` so that the package raises the right class.
//! It holds no cryptography of its own.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wbruntime::{Error, OwnedKey};
use zeroize::Zeroizing;

pyo3::create_exception!(
    _native,
    NativeError,
    PyException,
    "A runtime error: args are (code, message); the package re-raises it as its own class."
);

/// Code of a call on a closed key (the package raises `ValueError` for it).
const CLOSED: &str = "closed";

fn raise(e: &Error) -> PyErr {
    NativeError::new_err((e.code(), e.to_string()))
}

/// `raise`, with the message naming the key file `path` when the error concerns it (as the C
/// ABI's `wb_last_error_message` does): `the key file could not be read: no such file (key
/// file keys/api.wbkey)`.
fn raise_for_file(e: &Error, path: &Path) -> PyErr {
    NativeError::new_err((e.code(), e.with_path(path)))
}

/// A fresh `bytes` holding `plain`; the Rust copy is wiped when it drops.
fn to_bytes(py: Python<'_>, plain: &Zeroizing<Vec<u8>>) -> Py<PyBytes> {
    PyBytes::new(py, plain).unbind()
}

/// `whitebox_decrypt(key_dir, key_file, iv_b64, ciphertext_b64, algorithm, fingerprint)`.
#[pyfunction]
#[pyo3(signature = (key_dir, key_file, iv_b64, ciphertext_b64, algorithm, fingerprint=None))]
fn whitebox_decrypt(
    py: Python<'_>,
    key_dir: PathBuf,
    key_file: &str,
    iv_b64: &str,
    ciphertext_b64: &str,
    algorithm: u32,
    fingerprint: Option<&str>,
) -> PyResult<Py<PyBytes>> {
    let plain = py
        .detach(|| {
            wbruntime::whitebox_decrypt_with_fingerprint(
                &key_dir,
                key_file,
                iv_b64,
                ciphertext_b64,
                algorithm,
                fingerprint,
            )
        })
        .map_err(|e| raise_for_file(&e, &key_dir.join(key_file)))?;
    Ok(to_bytes(py, &plain))
}

/// `whitebox_encrypt(key_dir, key_file, iv_b64, plaintext, algorithm, fingerprint)` → Base64.
#[pyfunction]
#[pyo3(signature = (key_dir, key_file, iv_b64, plaintext, algorithm, fingerprint=None))]
fn whitebox_encrypt(
    py: Python<'_>,
    key_dir: PathBuf,
    key_file: &str,
    iv_b64: &str,
    plaintext: &[u8],
    algorithm: u32,
    fingerprint: Option<&str>,
) -> PyResult<String> {
    py.detach(|| {
        wbruntime::whitebox_encrypt_with_fingerprint(
            &key_dir,
            key_file,
            iv_b64,
            plaintext,
            algorithm,
            fingerprint,
        )
    })
    .map_err(|e| raise_for_file(&e, &key_dir.join(key_file)))
}

/// A loaded key file. Calls take a read lock and run without the GIL, so many threads decrypt
/// at once; `close` takes the write lock, so it waits for the calls in flight and frees the
/// tables once.
#[pyclass(module = "wbruntime._native", frozen)]
struct NativeKey {
    key: RwLock<Option<OwnedKey>>,
}

impl NativeKey {
    fn with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&OwnedKey) -> Result<R, Error> + Send,
    ) -> PyResult<R>
    where
        R: Send,
    {
        py.detach(|| {
            let guard = self
                .key
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match guard.as_ref() {
                Some(k) => f(k).map_err(|e| (e.code(), e.to_string())),
                None => Err((CLOSED, "the key is closed".to_owned())),
            }
        })
        .map_err(|(code, msg)| NativeError::new_err((code, msg)))
    }
}

fn load(bytes: Vec<u8>, fingerprint: Option<String>) -> Result<OwnedKey, Error> {
    OwnedKey::load(bytes, None, || match fingerprint {
        Some(fp) => Ok(fp),
        None => wbruntime::device_fingerprint(),
    })
}

#[pymethods]
impl NativeKey {
    /// Loads a key file from `path`.
    #[staticmethod]
    #[pyo3(signature = (path, fingerprint=None))]
    fn from_file(py: Python<'_>, path: PathBuf, fingerprint: Option<String>) -> PyResult<Self> {
        let key = py
            .detach(|| wbruntime::read_key_file(&path).and_then(|b| load(b, fingerprint)))
            .map_err(|e| raise_for_file(&e, &path))?;
        Ok(NativeKey {
            key: RwLock::new(Some(key)),
        })
    }

    /// Loads a key file held in memory.
    #[staticmethod]
    #[pyo3(signature = (data, fingerprint=None))]
    fn from_bytes(py: Python<'_>, data: &[u8], fingerprint: Option<String>) -> PyResult<Self> {
        let bytes = data.to_vec();
        let key = py
            .detach(|| load(bytes, fingerprint))
            .map_err(|e| raise(&e))?;
        Ok(NativeKey {
            key: RwLock::new(Some(key)),
        })
    }

    /// 0 = AES-256, 1 = SM4.
    fn algorithm(&self, py: Python<'_>) -> PyResult<u32> {
        self.with(py, |k| k.key().map(|k| k.algorithm().number()))
    }

    /// The backend long messages run on.
    fn backend(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.with(py, |k| Ok(k.backend().name()))
    }

    fn decrypt(&self, py: Python<'_>, iv: &[u8], ciphertext: &[u8]) -> PyResult<Py<PyBytes>> {
        let plain = self.with(py, |k| k.decrypt_cbc_to_vec(iv, ciphertext))?;
        Ok(to_bytes(py, &plain))
    }

    fn encrypt(&self, py: Python<'_>, iv: &[u8], plaintext: &[u8]) -> PyResult<Py<PyBytes>> {
        let ct = self.with(py, |k| {
            let mut out = vec![0u8; (plaintext.len() / 16 + 1) * 16];
            let n = k.encrypt_cbc(iv, plaintext, &mut out)?;
            out.truncate(n);
            Ok(out)
        })?;
        Ok(PyBytes::new(py, &ct).unbind())
    }

    /// Frees the tables after every call in flight has returned; later calls fail.
    fn close(&self, py: Python<'_>) {
        py.detach(|| {
            let mut guard = self
                .key
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.take();
        });
    }

    fn is_closed(&self) -> bool {
        self.key.read().map(|g| g.is_none()).unwrap_or(true)
    }
}

/// The runtime's version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(whitebox_decrypt, m)?)?;
    m.add_function(wrap_pyfunction!(whitebox_encrypt, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_class::<NativeKey>()?;
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add("CLOSED", CLOSED)?;
    Ok(())
}
