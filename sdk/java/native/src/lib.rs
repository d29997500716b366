//! JNI bindings of the white-box runtime: the native half of the Java SDK in `sdk/java`.
//!
//! The Java class `wbtoolkit.whitebox.Native` declares the methods exported here; the public
//! Java API (`WhiteboxKey`, `WhiteboxCipher`, `Whitebox`, the JCA provider) wraps them. The
//! crate calls `wbruntime` directly (no hop through the C ABI): [`OwnedKey`] for the handle,
//! `whitebox_decrypt_with_fingerprint` / `whitebox_encrypt_with_fingerprint` for the one-shot
//! calls.
//!
//! * **Handles.** A loaded key lives in a process-wide table, keyed by a number the Java side
//!   holds as a `long`; every call looks its key up and holds an `Arc` to it for the call. A
//!   stale, freed or forged handle is therefore an `IllegalStateException`, never a dangling
//!   pointer, and freeing while other threads decrypt is memory-safe even without the Java
//!   side's lock (which additionally makes `close()` wait for calls in flight).
//! * **Errors.** Every runtime error is thrown as the `WhiteboxException` subclass of its
//!   stable code: this crate passes the code and message to
//!   `WhiteboxException.fromNative(code, message)`, so the code-to-class table exists once, in
//!   Java. A panic never crosses the boundary (`EnvUnowned::with_env` catches it); it is thrown
//!   as code `01000022` (internal error).
//! * **Secrets.** Plaintexts (decrypted, or given to encrypt) are held in `Zeroizing` buffers
//!   and wiped once copied into or out of the Java array.
//!
//! `unsafe` appears only as the `#[unsafe(no_mangle)]` attribute that exports each native
//! method under its JNI name; every function body is safe Rust.
#![deny(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use jni::errors::ErrorPolicy;
use jni::objects::{JByteArray, JClass, JString, JThrowable, JValue};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned, jni_sig, jni_str};
use wbruntime::{Algorithm, OwnedKey};
use zeroize::Zeroizing;

/// Code of a required argument that is null (the C ABI's `WB_ERR_NULL_POINTER`).
pub const CODE_NULL: &str = "01000020";
/// Code of an internal failure: a panic or a JNI error caught at the boundary.
pub const CODE_INTERNAL: &str = "01000022";

/// Why a native call failed.
#[derive(Debug)]
pub enum Failure {
    /// The runtime's error, thrown with its stable code.
    Runtime(wbruntime::Error),
    /// The runtime's error for the key file at this path, thrown with its code and a message
    /// naming the file when the error concerns it (`wbruntime::Error::with_path`), as the C
    /// ABI's `wb_last_error_message` does.
    KeyFile(wbruntime::Error, std::path::PathBuf),
    /// A required argument was null (`01000020`).
    Null(&'static str),
    /// The handle names no loaded key (closed, or never loaded): `IllegalStateException`.
    Closed,
    /// A JNI call failed (usually a pending Java exception, such as `OutOfMemoryError`).
    Jni(jni::errors::Error),
}

impl From<jni::errors::Error> for Failure {
    fn from(e: jni::errors::Error) -> Self {
        Failure::Jni(e)
    }
}

impl From<wbruntime::Error> for Failure {
    fn from(e: wbruntime::Error) -> Self {
        Failure::Runtime(e)
    }
}

impl Failure {
    /// This failure, naming the key file `path` if it is the runtime's error.
    fn for_file(self, path: &std::path::Path) -> Self {
        match self {
            Failure::Runtime(e) => Failure::KeyFile(e, path.to_path_buf()),
            other => other,
        }
    }

    /// The stable code thrown with this failure (`None`: not a `WhiteboxException`).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Failure::Runtime(e) | Failure::KeyFile(e, _) => Some(e.code()),
            Failure::Null(_) => Some(CODE_NULL),
            Failure::Closed => None,
            Failure::Jni(_) => Some(CODE_INTERNAL),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Runtime(e) => e.fmt(f),
            Failure::KeyFile(e, path) => f.write_str(&e.with_path(path)),
            Failure::Null(what) => write!(f, "a required argument is null: {what}"),
            Failure::Closed => f.write_str("the key is closed"),
            // Only the error's kind: a JNI error carries no key or plaintext bytes, but keep
            // the message fixed anyway.
            Failure::Jni(_) => f.write_str("internal error in the JNI layer"),
        }
    }
}

impl std::error::Error for Failure {}

/// Throws a failure as the matching Java exception.
fn throw(env: &mut Env<'_>, failure: &Failure) -> jni::errors::Result<()> {
    if env.exception_check() {
        // A Java exception is already pending (for example an OutOfMemoryError raised by a
        // JNI call): let that one propagate.
        return Ok(());
    }
    let Some(code) = failure.code() else {
        let msg = JString::new(env, failure.to_string())?;
        let ex = env.new_object(
            jni_str!("java/lang/IllegalStateException"),
            jni_sig!("(Ljava/lang/String;)V"),
            &[JValue::Object(&msg)],
        )?;
        let ex = env.cast_local::<JThrowable>(ex)?;
        return env.throw(ex);
    };
    throw_coded(env, code, &failure.to_string())
}

/// Throws `WhiteboxException.fromNative(code, message)`.
fn throw_coded(env: &mut Env<'_>, code: &str, message: &str) -> jni::errors::Result<()> {
    let code = JString::new(env, code)?;
    let message = JString::new(env, message)?;
    let ex = env
        .call_static_method(
            jni_str!("wbtoolkit/whitebox/WhiteboxException"),
            jni_str!("fromNative"),
            jni_sig!(
                "(Ljava/lang/String;Ljava/lang/String;)Lwbtoolkit/whitebox/WhiteboxException;"
            ),
            &[JValue::Object(&code), JValue::Object(&message)],
        )?
        .l()?;
    let ex = env.cast_local::<JThrowable>(ex)?;
    env.throw(ex)
}

/// The error policy of every native method here: a [`Failure`] becomes its Java exception, a
/// panic the internal-error `WhiteboxException`; the return value is then the type's default
/// (null, 0, false), which Java never sees because the exception is pending.
struct ThrowWhitebox;

impl<T: Default> ErrorPolicy<T, Failure> for ThrowWhitebox {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        err: Failure,
    ) -> jni::errors::Result<T> {
        // `throw` leaves an exception pending and reports `JavaException`: that is success.
        let _ = throw(env, &err);
        if !env.exception_check() {
            // Building the exception failed without leaving one pending (it always leaves
            // one in practice): Java must still not see a silent null or 0.
            let _ = env.throw_new(
                jni_str!("java/lang/IllegalStateException"),
                jni_str!("wbruntime-jni: the runtime's error could not be thrown"),
            );
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        // The payload's text could name anything; it is not put into the exception. It is
        // leaked rather than dropped, since dropping a payload can itself panic (a few bytes,
        // once per bug).
        std::mem::forget(payload);
        if !env.exception_check() {
            let _ = throw_coded(
                env,
                CODE_INTERNAL,
                "internal error (a panic caught at the JNI boundary; please report it)",
            );
        }
        Ok(T::default())
    }
}

/// The loaded keys, by handle.
static KEYS: LazyLock<RwLock<HashMap<jlong, Arc<OwnedKey>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
/// The next handle; never 0, never reused.
static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

fn register(key: OwnedKey) -> jlong {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    KEYS.write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(handle, Arc::new(key));
    handle
}

fn lookup(handle: jlong) -> Result<Arc<OwnedKey>, Failure> {
    KEYS.read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&handle)
        .cloned()
        .ok_or(Failure::Closed)
}

fn unregister(handle: jlong) {
    // Dropping the last Arc frees the key; a call in flight keeps its own until it returns.
    let removed = KEYS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&handle);
    drop(removed);
}

fn string(env: &Env<'_>, s: &JString<'_>, what: &'static str) -> Result<String, Failure> {
    if s.is_null() {
        return Err(Failure::Null(what));
    }
    Ok(s.try_to_string(env)?)
}

fn opt_string(env: &Env<'_>, s: &JString<'_>) -> Result<Option<String>, Failure> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(Some(s.try_to_string(env)?))
}

fn bytes(env: &Env<'_>, a: &JByteArray<'_>, what: &'static str) -> Result<Vec<u8>, Failure> {
    if a.is_null() {
        return Err(Failure::Null(what));
    }
    Ok(env.convert_byte_array(a)?)
}

/// An algorithm number from Java (`-1`: any).
fn expected(algorithm: jint) -> Result<Option<Algorithm>, Failure> {
    if algorithm < 0 {
        return Ok(None);
    }
    Ok(Some(Algorithm::from_number(algorithm.unsigned_abs())?))
}

fn load(bytes: Vec<u8>, fingerprint: Option<String>, algorithm: jint) -> Result<jlong, Failure> {
    let expected = expected(algorithm)?;
    let key = OwnedKey::load(bytes, expected, || match fingerprint {
        Some(fp) => Ok(fp),
        None => wbruntime::device_fingerprint(),
    })?;
    Ok(register(key))
}

/// `static native long loadBytes(byte[] keyFile, String fingerprint, int algorithm)`: validates
/// the key file (copied) and returns a handle. `fingerprint` may be null (collect this
/// device's when the file is bound); `algorithm` is the expected algorithm number or -1.
// SAFETY: `no_mangle` exports this function under the JNI name of
// `wbtoolkit.whitebox.Native.loadBytes`; its signature is exactly the JNI signature of that
// static native method (JNI types, `extern "system"`), no other symbol in the
// process has this name, and the body is safe Rust behind `with_env`'s `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_loadBytes<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    key_file: JByteArray<'local>,
    fingerprint: JString<'local>,
    algorithm: jint,
) -> jlong {
    env.with_env(|env| -> Result<jlong, Failure> {
        let bytes = bytes(env, &key_file, "keyFile")?;
        let fp = opt_string(env, &fingerprint)?;
        load(bytes, fp, algorithm)
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native long loadFile(String path, String fingerprint, int algorithm)`: reads the
/// key file at `path` (bounded in size before it is read) and loads it as `loadBytes` does.
// SAFETY: exports `wbtoolkit.whitebox.Native.loadFile` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_loadFile<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
    fingerprint: JString<'local>,
    algorithm: jint,
) -> jlong {
    env.with_env(|env| -> Result<jlong, Failure> {
        let path = string(env, &path, "path")?;
        let fp = opt_string(env, &fingerprint)?;
        let path = std::path::Path::new(&path);
        let bytes = wbruntime::read_key_file(path).map_err(|e| Failure::KeyFile(e, path.into()))?;
        load(bytes, fp, algorithm).map_err(|f| f.for_file(path))
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native byte[] decrypt(long handle, byte[] iv, byte[] ciphertext)`: CBC-decrypts
/// and strips the PKCS#7 padding. Safe from many threads on one handle.
// SAFETY: exports `wbtoolkit.whitebox.Native.decrypt` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_decrypt<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    iv: JByteArray<'local>,
    ciphertext: JByteArray<'local>,
) -> JByteArray<'local> {
    env.with_env(|env| -> Result<JByteArray<'local>, Failure> {
        let key = lookup(handle)?;
        let iv = bytes(env, &iv, "iv")?;
        let ct = bytes(env, &ciphertext, "ciphertext")?;
        let plain = key.decrypt_cbc_to_vec(&iv, &ct)?;
        Ok(env.byte_array_from_slice(&plain)?)
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native byte[] decryptB64(long handle, String ivB64, String ciphertextB64)`: as
/// `decrypt`, the arguments in standard Base64 (decoded here, by the runtime's rules).
// SAFETY: exports `wbtoolkit.whitebox.Native.decryptB64` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_decryptB64<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    iv_b64: JString<'local>,
    ciphertext_b64: JString<'local>,
) -> JByteArray<'local> {
    env.with_env(|env| -> Result<JByteArray<'local>, Failure> {
        let key = lookup(handle)?;
        let iv = decode_b64(&string(env, &iv_b64, "ivB64")?, "iv")?;
        let ct = decode_b64(
            &string(env, &ciphertext_b64, "ciphertextB64")?,
            "ciphertext",
        )?;
        let plain = key.decrypt_cbc_to_vec(&iv, &ct)?;
        Ok(env.byte_array_from_slice(&plain)?)
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native byte[] encrypt(long handle, byte[] iv, byte[] plaintext)`: CBC-encrypts with
/// PKCS#7 padding; space-hard key files only (`01000018` otherwise).
// SAFETY: exports `wbtoolkit.whitebox.Native.encrypt` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_encrypt<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    iv: JByteArray<'local>,
    plaintext: JByteArray<'local>,
) -> JByteArray<'local> {
    env.with_env(|env| -> Result<JByteArray<'local>, Failure> {
        let key = lookup(handle)?;
        let iv = bytes(env, &iv, "iv")?;
        let pt = Zeroizing::new(bytes(env, &plaintext, "plaintext")?);
        let mut out = vec![0u8; (pt.len() / wbruntime::BLOCK_LEN + 1) * wbruntime::BLOCK_LEN];
        let n = key.encrypt_cbc(&iv, &pt, &mut out)?;
        out.truncate(n);
        Ok(env.byte_array_from_slice(&out)?)
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native String backend(long handle)`: the backend long messages run on.
// SAFETY: exports `wbtoolkit.whitebox.Native.backend` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_backend<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JString<'local> {
    env.with_env(|env| -> Result<JString<'local>, Failure> {
        let key = lookup(handle)?;
        Ok(JString::new(env, key.backend().name())?)
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native int algorithm(long handle)`: the key's algorithm number (0 = AES-256,
/// 1 = SM4).
// SAFETY: exports `wbtoolkit.whitebox.Native.algorithm` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_algorithm<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    env.with_env(|_env| -> Result<jint, Failure> {
        let key = lookup(handle)?;
        let number = key.key()?.algorithm().number();
        Ok(jint::try_from(number).unwrap_or(-1))
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native boolean spaceHard(long handle)`: whether the key file is space-hard (and so
/// also encrypts).
// SAFETY: exports `wbtoolkit.whitebox.Native.spaceHard` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_spaceHard<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jboolean {
    env.with_env(|_env| -> Result<jboolean, Failure> {
        let key = lookup(handle)?;
        Ok(key.key()?.space_hard())
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native void free(long handle)`: forgets the handle; the key is freed once no call
/// holds it. Freeing an unknown or already freed handle does nothing.
// SAFETY: exports `wbtoolkit.whitebox.Native.free` under its JNI name; the signature matches
// the Java declaration, the name is unique, and the body is safe Rust behind `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_free<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    env.with_env(|_env| -> Result<(), Failure> {
        unregister(handle);
        Ok(())
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native byte[] whiteboxDecrypt(String dir, String file, String ivB64,
/// String ciphertextB64, int algorithm, String fingerprint)`: the runtime's
/// `whitebox_decrypt_with_fingerprint` (`fingerprint` null: collect it when needed).
// SAFETY: exports `wbtoolkit.whitebox.Native.whiteboxDecrypt` under its JNI name; the
// signature matches the Java declaration, the name is unique, and the body is safe Rust
// behind `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_whiteboxDecrypt<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    key_dir: JString<'local>,
    key_file: JString<'local>,
    iv_b64: JString<'local>,
    ciphertext_b64: JString<'local>,
    algorithm: jint,
    fingerprint: JString<'local>,
) -> JByteArray<'local> {
    env.with_env(|env| -> Result<JByteArray<'local>, Failure> {
        let dir = string(env, &key_dir, "keyDir")?;
        let file = string(env, &key_file, "keyFile")?;
        let iv = string(env, &iv_b64, "ivB64")?;
        let ct = string(env, &ciphertext_b64, "ciphertextB64")?;
        let fp = opt_string(env, &fingerprint)?;
        let plain = wbruntime::whitebox_decrypt_with_fingerprint(
            &dir,
            &file,
            &iv,
            &ct,
            algorithm_number(algorithm),
            fp.as_deref(),
        )
        .map_err(|e| Failure::KeyFile(e, std::path::Path::new(&dir).join(&file)))?;
        Ok(env.byte_array_from_slice(&plain)?)
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native String whiteboxEncrypt(String dir, String file, String ivB64,
/// byte[] plaintext, int algorithm, String fingerprint)`: the runtime's
/// `whitebox_encrypt_with_fingerprint`; returns the Base64 ciphertext.
// SAFETY: exports `wbtoolkit.whitebox.Native.whiteboxEncrypt` under its JNI name; the
// signature matches the Java declaration, the name is unique, and the body is safe Rust
// behind `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_whiteboxEncrypt<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    key_dir: JString<'local>,
    key_file: JString<'local>,
    iv_b64: JString<'local>,
    plaintext: JByteArray<'local>,
    algorithm: jint,
    fingerprint: JString<'local>,
) -> JString<'local> {
    env.with_env(|env| -> Result<JString<'local>, Failure> {
        let dir = string(env, &key_dir, "keyDir")?;
        let file = string(env, &key_file, "keyFile")?;
        let iv = string(env, &iv_b64, "ivB64")?;
        let pt = Zeroizing::new(bytes(env, &plaintext, "plaintext")?);
        let fp = opt_string(env, &fingerprint)?;
        let ct = wbruntime::whitebox_encrypt_with_fingerprint(
            &dir,
            &file,
            &iv,
            &pt,
            algorithm_number(algorithm),
            fp.as_deref(),
        )
        .map_err(|e| Failure::KeyFile(e, std::path::Path::new(&dir).join(&file)))?;
        Ok(JString::new(env, ct)?)
    })
    .resolve::<ThrowWhitebox>()
}

/// `static native String version()`: this library's version.
// SAFETY: exports `wbtoolkit.whitebox.Native.version` under its JNI name; the signature
// matches the Java declaration, the name is unique, and the body is safe Rust behind
// `catch_unwind`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "system" fn Java_wbtoolkit_whitebox_Native_version<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JString<'local> {
    env.with_env(|env| -> Result<JString<'local>, Failure> {
        Ok(JString::new(env, env!("CARGO_PKG_VERSION"))?)
    })
    .resolve::<ThrowWhitebox>()
}

/// A Java `int` algorithm as the runtime's number: a negative one is out of range like any
/// unknown number (`01000007`), never wrapped round to a valid one.
fn algorithm_number(algorithm: jint) -> u32 {
    u32::try_from(algorithm).unwrap_or(u32::MAX)
}

fn decode_b64(text: &str, field: &'static str) -> Result<Vec<u8>, Failure> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| Failure::Runtime(wbruntime::Error::InvalidBase64 { field }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_the_stable_codes() {
        assert_eq!(
            Failure::Runtime(wbruntime::Error::DeviceNotBound).code(),
            Some("01000016")
        );
        assert_eq!(Failure::Null("iv").code(), Some(CODE_NULL));
        assert_eq!(Failure::Closed.code(), None);
        assert_eq!(
            Failure::Jni(jni::errors::Error::NullPtr("x")).code(),
            Some(CODE_INTERNAL)
        );
    }

    #[test]
    fn key_file_failures_name_the_file() {
        let missing = wbruntime::Error::Io {
            reason: wbruntime::IoReason::NotFound,
        };
        let f = Failure::KeyFile(missing, "/keys/api.wbkey".into());
        assert_eq!(f.code(), Some("01000001"));
        assert_eq!(f.to_string(), missing.with_path("/keys/api.wbkey".as_ref()));
        assert!(f.to_string().contains("/keys/api.wbkey"), "{f}");
        let f = Failure::Runtime(missing).for_file("/keys/api.wbkey".as_ref());
        assert!(f.to_string().contains("/keys/api.wbkey"), "{f}");
        assert!(matches!(
            Failure::Closed.for_file("/keys/api.wbkey".as_ref()),
            Failure::Closed
        ));
    }

    #[test]
    fn unknown_handles_are_closed_and_free_is_idempotent() {
        assert!(matches!(lookup(0), Err(Failure::Closed)));
        unregister(0);
        unregister(12_345);
        assert!(matches!(lookup(12_345), Err(Failure::Closed)));
    }

    #[test]
    fn negative_algorithms_stay_out_of_range() {
        assert_eq!(algorithm_number(-1), u32::MAX);
        assert_eq!(algorithm_number(1), 1);
        assert!(expected(-1).unwrap().is_none());
        assert_eq!(
            expected(7).unwrap_err().code(),
            Some("01000007"),
            "an unknown expected algorithm is the runtime's error"
        );
    }
}
