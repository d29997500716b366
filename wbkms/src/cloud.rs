//! The cloud KMS wire protocol, for the official SDKs and `tccli`: their error codes, and their
//! response models (`kms/v20190118/models`) on top of ours.
//!
//! Requests in this protocol carry `X-TC-Action` and `X-TC-Version: 2019-01-18`, signed with
//! TC3-HMAC-SHA256 ([`crate::tc3`]). Every answer is HTTP 200: the SDKs turn any other status
//! into a network error and lose the code. Responses keep our fields (`Mode`, `KeyVersion`,
//! ...) as additions; what the SDK's models define is shaped as they define it:
//!
//! - `KeyInfo` / `KeyInfos` are `WhiteboxKeyInfo`: `CreateTime` in Unix seconds,
//!   `CreatorUin` and `OwnerUin` (one stable number per store, derived from its master key),
//!   `ResourceId` (`creatorUin/UIN/KEYID`), and for the operator and admin roles `DecryptKey`
//!   (the key file, Base64, bound to the key's devices) and `EncryptKey` (space-hard keys,
//!   whose key file also encrypts). Key files are cached per key version and device list, so a
//!   listing builds each key's tables once.
//! - `CreateWhiteBoxKey` adds `TagCode` (0: the tags were set) and `TagMsg`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use wbgen::keystore::{Access, KeyState, UnlockedStore};

use crate::auth::Role;
use crate::error::Error;
use crate::files::KeyFiles;
use crate::tc3::Failure;

/// The KMS API version implemented.
pub const API_VERSION: &str = "2019-01-18";

const UIN_CONTEXT: &str = "wbkms 2026-12 owner uin v1";

/// What the translation needs beyond the response: the store's owner number and the
/// service's key files.
pub struct Context {
    uin: u64,
    files: Arc<KeyFiles>,
}

impl Context {
    /// The context of an unlocked store, sharing the service's key files.
    pub fn new(store: &UnlockedStore, files: Arc<KeyFiles>) -> Self {
        let k = store.derive_key(UIN_CONTEXT);
        let mut b = [0u8; 8];
        b.copy_from_slice(&k[..8]);
        // Twelve digits, like the cloud's account numbers.
        let uin = 100_000_000_000 + u64::from_le_bytes(b) % 900_000_000_000;
        Context { uin, files }
    }

    /// The store's owner number (`OwnerUin`, `CreatorUin`).
    pub fn uin(&self) -> u64 {
        self.uin
    }

    /// The current key file of a key (from the service's cache when its version and devices
    /// are unchanged); `None` for a disabled or missing key, or one whose material another
    /// key version also holds.
    fn key_file(&self, store: &UnlockedStore, key_id: &str) -> Option<Arc<String>> {
        // One key material, one key: no file of material another key version also holds
        // (a store written before the rule, or an audited override), checked on every call
        // since such a holder can appear while a file is cached. This listing has no
        // override; `DescribeWhiteBoxDecryptKey` has.
        let (rec, version, material) = store
            .with(Access::Read, |s| {
                let (rec, version, material) = s.material(key_id, None)?;
                s.check_material(&material, Some((&rec.key_id, version)), false)?;
                Ok((rec, version, material))
            })
            .ok()?;
        if rec.key_state != KeyState::Enabled {
            return None;
        }
        self.files.get(&rec, version, &material).ok()
    }
}

/// Reshapes `KeyInfo` (ours) into the SDK's `WhiteboxKeyInfo`, keeping our fields; the key's
/// id when its key file was added (`DecryptKey`), for the audit record.
fn whitebox_key_info(
    info: &mut Value,
    role: Role,
    ctx: &Context,
    store: &UnlockedStore,
) -> Option<String> {
    let obj = info.as_object_mut()?;
    let key_id = obj
        .get("KeyId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(t) = obj
        .get("CreateTime")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    {
        obj.insert("CreateTime".into(), json!(t.as_secs()));
    }
    obj.insert("CreatorUin".into(), json!(ctx.uin));
    obj.insert("OwnerUin".into(), json!(ctx.uin));
    obj.insert(
        "ResourceId".into(),
        json!(format!("creatorUin/{}/{key_id}", ctx.uin)),
    );
    if role >= Role::Operator
        && obj.get("Status").and_then(Value::as_str) == Some("Enabled")
        && let Some(file) = ctx.key_file(store, &key_id)
    {
        if obj.get("Mode").and_then(Value::as_str) == Some("SPACE_HARD") {
            obj.insert("EncryptKey".into(), json!(file.as_str()));
        }
        obj.insert("DecryptKey".into(), json!(file.as_str()));
        return Some(key_id);
    }
    None
}

/// Reshapes a successful response of `action` into the SDK's model: the ids of the keys whose
/// key files it now carries (the cloud's `WhiteboxKeyInfo` has `DecryptKey`), which the
/// request's audit record must name.
pub fn translate(
    action: &str,
    fields: &mut Map<String, Value>,
    role: Role,
    ctx: &Context,
    store: &UnlockedStore,
) -> Vec<String> {
    let mut returned = Vec::new();
    if let Some(info) = fields.get_mut("KeyInfo") {
        returned.extend(whitebox_key_info(info, role, ctx, store));
    }
    if let Some(Value::Array(infos)) = fields.get_mut("KeyInfos") {
        for info in infos {
            returned.extend(whitebox_key_info(info, role, ctx, store));
        }
    }
    if action == "CreateWhiteBoxKey" {
        fields.insert("TagCode".into(), json!(0));
        fields.insert("TagMsg".into(), json!(""));
    }
    returned
}

/// Whether a key id has the form of one (a UUID).
fn looks_like_key_id(id: &str) -> bool {
    id.trim().parse::<wbruntime::KeyId>().is_ok()
}

/// The KMS error code and message for an error (the message ends with our stable code).
pub fn error(e: &Error, params: Option<&Map<String, Value>>) -> (&'static str, String) {
    use wbgen::Error as G;
    let malformed_id = || {
        let Some(p) = params else { return false };
        match (p.get("KeyId"), p.get("KeyIds")) {
            (Some(Value::String(id)), _) => !looks_like_key_id(id),
            (_, Some(Value::Array(ids))) => ids
                .iter()
                .any(|v| v.as_str().is_none_or(|id| !looks_like_key_id(id))),
            _ => false,
        }
    };
    let code = match e {
        Error::Signature(Failure::Malformed) => "AuthFailure.InvalidAuthorization",
        Error::Signature(Failure::Expired) => "AuthFailure.SignatureExpire",
        // Alike, so that a leaked SecretId cannot be tested without its SecretKey.
        Error::Signature(
            Failure::UnknownSecretId
            | Failure::BadSignature
            | Failure::Replayed
            | Failure::WrongHost,
        ) => "AuthFailure.SignatureFailure",
        Error::Unauthenticated => "AuthFailure.TokenFailure",
        // The cloud's code for a SecretId that no longer works; the message says it expired.
        Error::CredentialExpired => "AuthFailure.SecretIdNotFound",
        Error::Forbidden { .. } => "AuthFailure.UnauthorizedOperation",
        Error::RateLimited => "RequestLimitExceeded",
        Error::UnknownAction => "InvalidAction",
        Error::UnsupportedVersion => "UnsupportedOperation",
        Error::MissingParameter(_) => "MissingParameter",
        Error::UnknownParameter(_) => "UnknownParameter",
        Error::InvalidPlaintext(_) => "InvalidParameterValue.InvalidPlaintext",
        Error::TooManyDevices(_) => "LimitExceeded.FingerprintsLimitExceeded",
        Error::InvalidParameter(_) => "InvalidParameterValue",
        Error::PayloadTooLarge => "RequestSizeLimitExceeded",
        Error::CredentialNotFound => "ResourceNotFound",
        Error::Store(G::KeyNotFound) if malformed_id() => "InvalidParameterValue.InvalidKeyId",
        Error::Store(G::KeyNotFound) => "ResourceUnavailable.CmkNotFound",
        Error::Store(G::KeyDisabled) => "ResourceUnavailable.CmkDisabled",
        Error::Store(G::AliasTaken) => "InvalidParameterValue.AliasAlreadyExists",
        Error::Store(
            G::InvalidArgument(_)
            | G::InvalidIv { .. }
            | G::InvalidKeyLength { .. }
            | G::VersionNotFound(_)
            | G::UnsupportedAlgorithm(_),
        ) => "InvalidParameterValue",
        _ => "InternalError",
    };
    (code, format!("{e} [{}]", e.code()))
}
