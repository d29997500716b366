//! A master key wrapped by an HSM: PKCS#11 through the `cryptoki` crate.
//!
//! A store created with an HSM has no passphrase. Its master key is 32 random bytes from the
//! operating system, encrypted with AES-256-GCM (`CKM_AES_GCM`, 96-bit IV, 128-bit tag) under
//! an AES key that lives inside a PKCS#11 token and never leaves it (`CKA_SENSITIVE`, not
//! `CKA_EXTRACTABLE`). The envelope records the module's path, the token's label, the key's
//! label, the IV and the wrapped key; unlocking logs in with the user PIN, has the token
//! decrypt the wrapped key, and logs out. The master key then exists only in zeroizing memory
//! of this process, as a passphrase store's does: the HSM guards the key at rest, not a
//! running service's memory (SECURITY.md says so).
//!
//! The associated data binds the wrapped key to its purpose (`WRAP_AAD`), so no other
//! ciphertext made under the same token key passes for a master key.
//!
//! A PKCS#11 module is initialised once per process and kept (calling `C_Initialize` again,
//! or `C_Finalize` while another thread has a session, is an error), and every use of it is
//! serialised by one lock: unlocking is rare, and modules differ in how thread-safe they are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;
use crate::envelope::MasterKey;

/// The associated data of a wrapped master key.
const WRAP_AAD: &[u8] = b"wbstore master key wrapped by a PKCS#11 AES key v1";
/// The mechanism recorded in the envelope (the only one this release writes or reads).
const MECHANISM: &str = "CKM_AES_GCM";
/// Longest label PKCS#11 allows for a token (`CK_TOKEN_INFO.label`, 32 bytes).
const MAX_TOKEN_LABEL: usize = 32;
/// Longest key label accepted (labels are free-length in PKCS#11; this keeps them readable).
const MAX_KEY_LABEL: usize = 128;

/// Where a store's wrapping key is: a PKCS#11 module, a token in it, an AES key on the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmConfig {
    /// The PKCS#11 module (a shared library: `/usr/lib/softhsm/libsofthsm2.so`, a vendor's).
    pub module: PathBuf,
    /// The token's label.
    pub token: String,
    /// The AES key's label (`CKA_LABEL`); generated on the token by `init` if absent.
    pub key: String,
}

/// The HSM half of an envelope, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HsmRecord {
    /// The module's path, as given to `init`.
    pub module: String,
    /// The token's label.
    pub token: String,
    /// The wrapping key's label.
    pub key: String,
    /// `CKM_AES_GCM`.
    pub mechanism: String,
    /// Base64 of the 12-byte IV.
    pub iv: String,
    /// Base64 of the wrapped master key and its tag (48 bytes).
    pub wrapped: String,
}

impl HsmRecord {
    /// The configuration it was made with.
    pub fn config(&self) -> HsmConfig {
        HsmConfig {
            module: PathBuf::from(&self.module),
            token: self.token.clone(),
            key: self.key.clone(),
        }
    }
}

impl HsmConfig {
    /// Checks the labels and the module path before anything is loaded.
    ///
    /// # Errors
    /// [`Error::HsmModule`] for an empty or non-UTF-8 module path; [`Error::HsmFailure`] for a
    /// label that is empty, too long or holds control characters.
    pub fn validate(&self) -> Result<(), Error> {
        if self.module.as_os_str().is_empty() || self.module.to_str().is_none() {
            return Err(Error::HsmModule {
                module: self.module.display().to_string(),
                reason: "the module path must be a non-empty UTF-8 path".into(),
            });
        }
        for (what, label, max) in [
            ("token", &self.token, MAX_TOKEN_LABEL),
            ("key", &self.key, MAX_KEY_LABEL),
        ] {
            if label.is_empty() || label.len() > max || label.chars().any(char::is_control) {
                return Err(Error::HsmFailure {
                    op: format!("use the {what} label"),
                    reason: format!(
                        "a {what} label is 1 to {max} bytes of printable text (PKCS#11 token labels are at most 32 bytes)"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The process's initialised modules, by path.
fn modules() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    MODULES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn reason(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{function} returned {rv:?}"),
        other => other.to_string(),
    }
}

fn failure(op: &str, e: &CkError) -> Error {
    Error::HsmFailure {
        op: op.into(),
        reason: reason(e),
    }
}

/// Runs `f` with the module at `path`, loaded and initialised on first use, under the lock.
fn with_module<T>(path: &Path, f: impl FnOnce(&Pkcs11) -> Result<T, Error>) -> Result<T, Error> {
    let mut map = modules()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !map.contains_key(path) {
        let module_error = |reason: String| Error::HsmModule {
            module: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(module_error(
                "no such file (the store records the path given to `wbgen init --hsm-module`)"
                    .into(),
            ));
        }
        let ctx = Pkcs11::new(path).map_err(|e| module_error(reason(&e)))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Another part of the process initialised it: it is usable as it is.
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(module_error(reason(&e))),
        }
        map.insert(path.to_path_buf(), ctx);
    }
    let ctx = map.get(path).ok_or_else(|| Error::HsmModule {
        module: path.display().to_string(),
        reason: "not loaded".into(),
    })?;
    f(ctx)
}

/// The slot holding the token labelled `label`.
fn find_token(ctx: &Pkcs11, cfg: &HsmConfig) -> Result<Slot, Error> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(|e| failure("list the module's tokens", &e))?;
    let mut found = None;
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| failure("read a token's information", &e))?;
        if info.label().trim_end() == cfg.token {
            if found.is_some() {
                return Err(Error::HsmFailure {
                    op: format!("find the token labelled \"{}\"", cfg.token),
                    reason: "more than one token has that label".into(),
                });
            }
            found = Some(slot);
        }
    }
    found.ok_or_else(|| Error::HsmTokenNotFound {
        module: cfg.module.display().to_string(),
        token: cfg.token.clone(),
    })
}

/// A session on the token, logged in as its user.
fn login(ctx: &Pkcs11, cfg: &HsmConfig, pin: &str, rw: bool) -> Result<Session, Error> {
    let slot = find_token(ctx, cfg)?;
    let session = if rw {
        ctx.open_rw_session(slot)
    } else {
        ctx.open_ro_session(slot)
    }
    .map_err(|e| failure("open a session on the token", &e))?;
    let pin = AuthPin::from(pin);
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
            Err(Error::WrongHsmPin {
                token: cfg.token.clone(),
            })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Error::HsmPinLocked {
            token: cfg.token.clone(),
        }),
        Err(e) => Err(failure("log in to the token", &e)),
    }
}

/// The token's AES key labelled `cfg.key`, if there is one (two with the label: an error).
fn find_key(session: &Session, cfg: &HsmConfig) -> Result<Option<ObjectHandle>, Error> {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(cfg.key.as_bytes().to_vec()),
    ];
    let found = session
        .find_objects(&template)
        .map_err(|e| failure("search the token for the key", &e))?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(Error::HsmFailure {
            op: format!("find the key labelled \"{}\"", cfg.key),
            reason: "more than one AES key on the token has that label".into(),
        }),
    }
}

/// Generates a persistent AES-256 key labelled `cfg.key` that never leaves the token.
fn generate_key(session: &Session, cfg: &HsmConfig) -> Result<ObjectHandle, Error> {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Label(cfg.key.as_bytes().to_vec()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ];
    session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(|e| failure("generate the AES key on the token", &e))
}

/// A new master key, wrapped by the token's key `cfg.key` (generated there if the token has
/// none by that label): the envelope's record and the key.
///
/// # Errors
/// [`Error::HsmModule`], [`Error::HsmTokenNotFound`], [`Error::WrongHsmPin`],
/// [`Error::HsmPinLocked`], [`Error::HsmFailure`]; [`Error::RandomnessUnavailable`].
pub(crate) fn create(cfg: &HsmConfig, pin: &str) -> Result<(HsmRecord, MasterKey), Error> {
    cfg.validate()?;
    let mut master = Zeroizing::new([0u8; 32]);
    getrandom::fill(master.as_mut()).map_err(|_| Error::RandomnessUnavailable)?;
    let mut iv = [0u8; 12];
    getrandom::fill(&mut iv).map_err(|_| Error::RandomnessUnavailable)?;
    let wrapped = with_module(&cfg.module, |ctx| {
        let session = login(ctx, cfg, pin, true)?;
        let key = match find_key(&session, cfg)? {
            Some(k) => k,
            None => generate_key(&session, cfg)?,
        };
        let mut iv_buf = iv;
        let params = GcmParams::new(&mut iv_buf, WRAP_AAD, 128.into())
            .map_err(|e| failure("set up AES-GCM", &e))?;
        let wrapped = session
            .encrypt(&Mechanism::AesGcm(params), key, master.as_ref())
            .map_err(|e| failure("wrap the master key with the token's key", &e))?;
        let _ = session.logout();
        Ok(wrapped)
    })?;
    let record = HsmRecord {
        module: cfg.module.display().to_string(),
        token: cfg.token.clone(),
        key: cfg.key.clone(),
        mechanism: MECHANISM.into(),
        iv: B64.encode(iv),
        wrapped: B64.encode(wrapped),
    };
    // What was written is what opens: a token that wrapped under something else would leave a
    // store nobody can unlock.
    let check = unwrap(&record, pin)?;
    if check.raw() != &*master {
        return Err(Error::HsmFailure {
            op: "check the wrapped master key".into(),
            reason: "the token returned another key than it wrapped".into(),
        });
    }
    Ok((record, MasterKey::from_raw(master)))
}

/// The master key `record` wraps, unwrapped by the token with the user PIN.
///
/// # Errors
/// As [`create`]'s; [`Error::HsmKeyNotFound`]; [`Error::HsmKeyMismatch`] when the token's key
/// by that label does not open the wrapped key; [`Error::Corrupt`] for a damaged record.
pub(crate) fn unwrap(record: &HsmRecord, pin: &str) -> Result<MasterKey, Error> {
    let cfg = record.config();
    cfg.validate()?;
    if record.mechanism != MECHANISM {
        return Err(Error::Corrupt(
            "the master-key envelope names an unknown wrapping mechanism".into(),
        ));
    }
    let iv: [u8; 12] = B64
        .decode(&record.iv)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| Error::Corrupt("the master-key envelope's IV is not valid".into()))?;
    let wrapped = B64
        .decode(&record.wrapped)
        .ok()
        .filter(|w| w.len() == 32 + 16)
        .ok_or_else(|| Error::Corrupt("the wrapped master key is not valid".into()))?;
    let raw = with_module(&cfg.module, |ctx| {
        let session = login(ctx, &cfg, pin, false)?;
        let key = find_key(&session, &cfg)?.ok_or_else(|| Error::HsmKeyNotFound {
            token: cfg.token.clone(),
            key: cfg.key.clone(),
        })?;
        let mut iv_buf = iv;
        let params = GcmParams::new(&mut iv_buf, WRAP_AAD, 128.into())
            .map_err(|e| failure("set up AES-GCM", &e))?;
        let out = session.decrypt(&Mechanism::AesGcm(params), key, &wrapped);
        let _ = session.logout();
        match out {
            Ok(bytes) => Ok(Zeroizing::new(bytes)),
            // The tag did not verify: another key by that label (or an edited envelope).
            // Tokens say so differently: CKR_ENCRYPTED_DATA_INVALID is the standard's answer,
            // SoftHSM2 answers CKR_GENERAL_ERROR from C_Decrypt.
            Err(CkError::Pkcs11(
                RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::FunctionFailed
                | RvError::GeneralError,
                Function::Decrypt,
            )) => Err(Error::HsmKeyMismatch {
                token: cfg.token.clone(),
                key: cfg.key.clone(),
            }),
            Err(e) => Err(failure("unwrap the master key with the token's key", &e)),
        }
    })?;
    if raw.len() != 32 {
        return Err(Error::Corrupt(
            "the unwrapped master key has the wrong length".into(),
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&raw);
    Ok(MasterKey::from_raw(key))
}
