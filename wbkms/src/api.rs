//! The KMS-style actions: what each takes and returns, who may call it, and what it does on
//! the key store.
//!
//! [`ACTIONS`] is the one description of the API: the dispatcher checks parameters against it,
//! the role check reads it, and the OpenAPI document ([`crate::openapi`]) is generated from it,
//! so the three cannot drift apart (the tests also check live responses against the document).
//! Actions run on a blocking thread: every store operation takes a file lock and fsyncs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use wbgen::devices::check_fingerprint;
use wbgen::keystore::{
    Access, AlgorithmName, BoundDevice, KeyRecord, KeyRecordExt as _, KeyState, MaterialHolder,
    Tag, UnlockedStore,
};
use wbgen::rng::os_rng;
use wbgen::space_hard::LineBits;
use wbgen::{KeyMaterial, Mode};

use crate::auth::Role;
use crate::error::Error;
use crate::files::KeyFiles;

/// The type of a parameter or response field, as the OpenAPI document states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A string.
    String,
    /// Base64 text.
    Base64,
    /// A non-negative integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// `Enabled` or `Disabled`, or the KMS's numbers for them, 0 and 1.
    KeyStatus,
    /// A list of strings.
    Strings,
    /// `[{"TagKey", "TagValue"}]`.
    Tags,
    /// `[{"TagKey", "TagValue"}]`, a filter (the value may be absent: any value).
    TagFilters,
    /// `[{"Identity", "Description"}]`.
    Devices,
    /// One key's description ([`key_info`]).
    KeyInfo,
    /// A list of [`Ty::KeyInfo`].
    KeyInfos,
    /// A list of a key's versions: `[{"KeyVersion", "CreateTime", "Current"}]`.
    KeyVersions,
    /// A list of access tokens as listed ([`crate::auth::token_listed`]): never a token or
    /// its hash.
    Tokens,
    /// A list of access keys as listed ([`crate::auth::access_key_listed`]): never a
    /// SecretKey.
    AccessKeys,
    /// A list of audit records ([`crate::audit::Record`]).
    AuditRecords,
    /// A list of audit chains and whether each verifies.
    AuditChains,
}

/// One request parameter or response field.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Its JSON name.
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// Whether it must be present.
    pub required: bool,
    /// What it is.
    pub doc: &'static str,
}

/// One action.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The `X-Action` value.
    pub name: &'static str,
    /// The least role that may call it.
    pub role: Role,
    /// What it does.
    pub summary: &'static str,
    /// Its parameters (any other parameter is refused).
    pub request: &'static [Field],
    /// The fields of its response besides `RequestId`.
    pub response: &'static [Field],
}

const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        doc,
    }
}

const fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        doc,
    }
}

const KEY_ID: Field = req("KeyId", Ty::String, "The key's id.");
const KEY_IDS: Field = req(
    "KeyIds",
    Ty::Strings,
    "Key ids (1 to 100); all or none change.",
);
const R_KEY_ID: Field = req("KeyId", Ty::String, "The key's id.");
const R_WARNING: Field = opt(
    "Warning",
    Ty::String,
    "Present when the request chose a Chow-style mode (its key is recoverable from the key file) or left a removed device able to decrypt: what it leaves open and what to read.",
);
const ALLOW_DUPLICATE: Field = opt(
    "AllowDuplicateMaterial",
    Ty::Boolean,
    "Serve the key file even though another key version holds the same key material (refused otherwise, 02000016); the audit record names the other key.",
);
const R_VERSION: Field = req("KeyVersion", Ty::Integer, "The key version (1, 2, ...).");
const R_DECRYPT_KEY: Field = req(
    "DecryptKey",
    Ty::Base64,
    "The key file (the white-box decryption key), bound to the key's devices at the time of the call.",
);

const NAME: Field = req(
    "Name",
    Ty::String,
    "A label, 1 to 128 printable characters (who or what uses it).",
);
const ROLE: Field = req(
    "Role",
    Ty::String,
    "admin, operator, reader, or metrics (GET /metrics only).",
);
const EXPIRES_IN: Field = opt(
    "ExpiresIn",
    Ty::String,
    "How long it works, 1 minute to 3650 days, e.g. 30m, 12h, 90d; absent: until revoked.",
);
const R_NAME: Field = req("Name", Ty::String, "Its label.");
const R_ROLE: Field = req("Role", Ty::String, "Its role.");
const R_CREATE_TIME: Field = req("CreateTime", Ty::String, "When it was made, RFC 3339 UTC.");
const R_EXPIRE_TIME: Field = opt(
    "ExpireTime",
    Ty::String,
    "When it stops working, RFC 3339 UTC; absent: until revoked.",
);
const R_REVOKED: Field = req("Revoked", Ty::Boolean, "true.");

/// Every action of the service. `OverwriteWhiteboxDeviceFingerprints` (the cloud SDKs'
/// spelling) is accepted as `OverwriteWhiteBoxDeviceFingerprints`.
pub static ACTIONS: &[Spec] = &[
    Spec {
        name: "CreateWhiteBoxKey",
        role: Role::Admin,
        summary: "Creates a key with fresh random material and returns its first key file.",
        request: &[
            req(
                "Alias",
                Ty::String,
                "A unique name, 1 to 256 printable characters.",
            ),
            req("Algorithm", Ty::String, "AES_256 or SM4."),
            opt(
                "Description",
                Ty::String,
                "Free text, at most 1024 characters.",
            ),
            opt(
                "Mode",
                Ty::String,
                "SPACE_HARD (default), or EXTERNAL or STANDARD, the Chow-style modes whose key is recoverable from the key file, for ciphertext other software reads as plain AES-256-CBC / SM4-CBC.",
            ),
            opt(
                "SpaceBits",
                Ty::Integer,
                "SPACE_HARD only: the table's line width, 8 or 16 (default).",
            ),
            opt("Tags", Ty::Tags, "Tags to set."),
        ],
        response: &[
            R_KEY_ID,
            R_DECRYPT_KEY,
            opt(
                "EncryptKey",
                Ty::Base64,
                "SPACE_HARD keys: the key file that also encrypts (the same file).",
            ),
            req("KeyInfo", Ty::KeyInfo, "The new key."),
            R_WARNING,
        ],
    },
    Spec {
        name: "DescribeWhiteBoxKey",
        role: Role::Reader,
        summary: "Describes one key.",
        request: &[KEY_ID],
        response: &[req("KeyInfo", Ty::KeyInfo, "The key.")],
    },
    Spec {
        name: "DescribeWhiteBoxKeyDetails",
        role: Role::Reader,
        summary: "Lists keys, oldest first, filtered and paged.",
        request: &[
            opt(
                "KeyStatus",
                Ty::KeyStatus,
                "Enabled or Disabled, or the KMS's numbers: 0 disabled, 1 enabled.",
            ),
            opt("Algorithm", Ty::String, "AES_256 or SM4."),
            opt(
                "TagFilters",
                Ty::TagFilters,
                "Keys carrying every tag given; TagValue a string or a list of strings (any of them), absent for any value.",
            ),
            opt("Offset", Ty::Integer, "Keys to skip (default 0)."),
            opt(
                "Limit",
                Ty::Integer,
                "Keys to return, 1 to 200; 0 or absent: all of them (as the KMS).",
            ),
        ],
        response: &[
            req("KeyInfos", Ty::KeyInfos, "The page of keys."),
            req(
                "TotalCount",
                Ty::Integer,
                "Keys matching the filters, over all pages.",
            ),
        ],
    },
    Spec {
        name: "EncryptByWhiteBox",
        role: Role::Operator,
        summary: "Encrypts a secret with the key's current version (CBC, PKCS#7).",
        request: &[
            KEY_ID,
            req("PlainText", Ty::Base64, "The secret, 1 to 65536 bytes."),
            opt(
                "InitializationVector",
                Ty::Base64,
                "16 bytes; a random one if absent.",
            ),
        ],
        response: &[
            R_KEY_ID,
            R_VERSION,
            req("InitializationVector", Ty::Base64, "The IV used."),
            req("CipherText", Ty::Base64, "The ciphertext."),
        ],
    },
    Spec {
        name: "DescribeWhiteBoxDecryptKey",
        role: Role::Operator,
        summary: "Returns a key file of the key (its current version by default).",
        request: &[
            KEY_ID,
            opt(
                "KeyVersion",
                Ty::Integer,
                "A version; the current if absent.",
            ),
            ALLOW_DUPLICATE,
        ],
        response: &[R_KEY_ID, R_VERSION, R_DECRYPT_KEY],
    },
    Spec {
        name: "OverwriteWhiteBoxDeviceFingerprints",
        role: Role::Admin,
        summary: "Replaces the devices the key's files are bound to (empty: unbind all). Key files downloaded afterwards carry the new list. When the new list leaves out a device, the key is rotated in the same operation, so that the removed device's file does not decrypt what is encrypted from then on.",
        request: &[
            KEY_ID,
            req(
                "DeviceFingerprints",
                Ty::Devices,
                "The devices (at most 1000), unique by Identity.",
            ),
            opt(
                "Rotate",
                Ty::Boolean,
                "false: do not rotate when devices are removed (they keep decrypting new ciphertexts until the key is rotated); default true. Adding devices never rotates.",
            ),
        ],
        response: &[
            R_KEY_ID,
            req(
                "KeyVersion",
                Ty::Integer,
                "The key's current version after the call (new when it was rotated).",
            ),
            req("Rotated", Ty::Boolean, "Whether the call rotated the key."),
            req(
                "RemovedDevices",
                Ty::Strings,
                "The fingerprints that were bound and are not any more.",
            ),
            R_WARNING,
        ],
    },
    Spec {
        name: "DescribeWhiteBoxDeviceFingerprints",
        role: Role::Reader,
        summary: "Lists the devices a key is bound to.",
        request: &[KEY_ID],
        response: &[req("DeviceFingerprints", Ty::Devices, "The devices.")],
    },
    Spec {
        name: "EnableWhiteBoxKey",
        role: Role::Admin,
        summary: "Enables a key.",
        request: &[KEY_ID],
        response: &[],
    },
    Spec {
        name: "DisableWhiteBoxKey",
        role: Role::Admin,
        summary: "Disables a key: encryption and key-file downloads are refused.",
        request: &[KEY_ID],
        response: &[],
    },
    Spec {
        name: "EnableWhiteBoxKeys",
        role: Role::Admin,
        summary: "Enables several keys.",
        request: &[KEY_IDS],
        response: &[],
    },
    Spec {
        name: "DisableWhiteBoxKeys",
        role: Role::Admin,
        summary: "Disables several keys.",
        request: &[KEY_IDS],
        response: &[],
    },
    Spec {
        name: "DeleteWhiteBoxKey",
        role: Role::Admin,
        summary: "Deletes a key and all its versions; this cannot be undone.",
        request: &[KEY_ID],
        response: &[],
    },
    Spec {
        name: "RotateWhiteBoxKey",
        role: Role::Admin,
        summary: "Adds a key version with fresh material; encryption uses it from now on, older versions stay downloadable.",
        request: &[KEY_ID],
        response: &[R_KEY_ID, R_VERSION, R_DECRYPT_KEY],
    },
    Spec {
        name: "EnableWhiteBoxKeyRotation",
        role: Role::Admin,
        summary: "Schedules the key's rotation: every instance checks each minute and one rotates it when its current version is RotateDays old, and each period after; older versions keep decrypting through their files.",
        request: &[
            KEY_ID,
            opt(
                "RotateDays",
                Ty::Integer,
                "The period in days, 1 to 3650 (default 365).",
            ),
        ],
        response: &[
            R_KEY_ID,
            req(
                "NextRotateTime",
                Ty::String,
                "When it is due, RFC 3339 UTC.",
            ),
        ],
    },
    Spec {
        name: "DisableWhiteBoxKeyRotation",
        role: Role::Admin,
        summary: "Stops the key's scheduled rotation.",
        request: &[KEY_ID],
        response: &[R_KEY_ID],
    },
    Spec {
        name: "UpdateWhiteBoxKeyAlias",
        role: Role::Admin,
        summary: "Renames a key.",
        request: &[KEY_ID, req("Alias", Ty::String, "The new unique alias.")],
        response: &[],
    },
    Spec {
        name: "UpdateWhiteBoxKeyDescription",
        role: Role::Admin,
        summary: "Changes a key's description.",
        request: &[
            KEY_ID,
            req("Description", Ty::String, "The new description."),
        ],
        response: &[],
    },
    Spec {
        name: "TagWhiteBoxKey",
        role: Role::Admin,
        summary: "Adds tags to a key, replacing the values of tag keys it already has.",
        request: &[KEY_ID, req("Tags", Ty::Tags, "The tags.")],
        response: &[req("Tags", Ty::Tags, "The key's tags now.")],
    },
    Spec {
        name: "UntagWhiteBoxKey",
        role: Role::Admin,
        summary: "Removes tags from a key by tag key.",
        request: &[
            KEY_ID,
            req("TagKeys", Ty::Strings, "The tag keys to remove."),
        ],
        response: &[req("Tags", Ty::Tags, "The key's tags now.")],
    },
    Spec {
        name: "DescribeWhiteBoxServiceStatus",
        role: Role::Reader,
        summary: "Whether the service is available, and the caller's token id and role.",
        request: &[],
        response: &[
            req(
                "ServiceEnabled",
                Ty::Boolean,
                "Always true when the service answers.",
            ),
            req("TokenId", Ty::String, "The caller's token id."),
            req(
                "Role",
                Ty::String,
                "The caller's role: admin, operator or reader.",
            ),
        ],
    },
    Spec {
        name: "ListWhiteBoxKeyVersions",
        role: Role::Reader,
        summary: "Lists a key's versions, oldest first: each one's number and creation time, and which is current (encryption uses it). Every version stays downloadable (DescribeWhiteBoxDecryptKey with KeyVersion) and keeps decrypting its ciphertexts.",
        request: &[KEY_ID],
        response: &[
            R_KEY_ID,
            req(
                "CurrentVersion",
                Ty::Integer,
                "The version encryption uses.",
            ),
            req("Versions", Ty::KeyVersions, "The versions, oldest first."),
        ],
    },
    Spec {
        name: "ListWhiteBoxAuditRecords",
        role: Role::Admin,
        summary: "Reads the audit log, newest first, filtered and paged, and verifies every chain (one per instance): each chain's record count and head hash, or its first bad record.",
        request: &[
            opt(
                "KeyId",
                Ty::String,
                "Records naming this key (any spelling of its id).",
            ),
            opt(
                "TokenId",
                Ty::String,
                "Records of this credential: a token id (tok-...) or an access key's SecretId.",
            ),
            opt(
                "Action",
                Ty::String,
                "Records of this action (exactly as recorded, e.g. DisableWhiteBoxKey, ScheduledRotation, GET /metrics).",
            ),
            opt(
                "StartTime",
                Ty::String,
                "Records at or after this time, RFC 3339 (e.g. 2026-01-31T08:00:00Z).",
            ),
            opt(
                "EndTime",
                Ty::String,
                "Records at or before this time, RFC 3339.",
            ),
            opt(
                "Offset",
                Ty::Integer,
                "Matching records to skip (default 0).",
            ),
            opt(
                "Limit",
                Ty::Integer,
                "Records to return, 1 to 1000 (default 100).",
            ),
        ],
        response: &[
            req(
                "Records",
                Ty::AuditRecords,
                "The page of matching records, newest first.",
            ),
            req(
                "TotalCount",
                Ty::Integer,
                "Records matching the filters, over all pages.",
            ),
            req(
                "Intact",
                Ty::Boolean,
                "Whether every chain verifies (a chain cut short at its end still does: compare its Head with one recorded elsewhere).",
            ),
            req("Chains", Ty::AuditChains, "Each chain's verification."),
        ],
    },
    Spec {
        name: "CreateWhiteBoxToken",
        role: Role::Admin,
        summary: "Creates an access token (for Authorization: Bearer). The token is returned only in this response: the store keeps its hash.",
        request: &[NAME, ROLE, EXPIRES_IN],
        response: &[
            req(
                "TokenId",
                Ty::String,
                "The token's id (tok-...), as the audit log names it.",
            ),
            req(
                "Token",
                Ty::String,
                "The token: shown only this once, keep it secret.",
            ),
            R_NAME,
            R_ROLE,
            R_CREATE_TIME,
            R_EXPIRE_TIME,
        ],
    },
    Spec {
        name: "ListWhiteBoxTokens",
        role: Role::Admin,
        summary: "Lists the access tokens: id, name, role, times, whether revoked or expired; never a token or its hash.",
        request: &[],
        response: &[req("Tokens", Ty::Tokens, "The tokens, oldest first.")],
    },
    Spec {
        name: "RevokeWhiteBoxToken",
        role: Role::Admin,
        summary: "Revokes an access token: it authenticates nothing from now on, on every instance. Revoking a revoked token is not an error.",
        request: &[req("TokenId", Ty::String, "The token's id (tok-...).")],
        response: &[req("TokenId", Ty::String, "The token's id."), R_REVOKED],
    },
    Spec {
        name: "CreateWhiteBoxAccessKey",
        role: Role::Admin,
        summary: "Creates an access key (SecretId and SecretKey) for TC3-HMAC-SHA256-signed requests (the cloud SDKs, tccli). The SecretKey is returned only in this response.",
        request: &[NAME, ROLE, EXPIRES_IN],
        response: &[
            req(
                "SecretId",
                Ty::String,
                "The key's id (AKID...), as the audit log names it.",
            ),
            req(
                "SecretKey",
                Ty::String,
                "The secret: shown only this once, keep it secret.",
            ),
            R_NAME,
            R_ROLE,
            R_CREATE_TIME,
            R_EXPIRE_TIME,
        ],
    },
    Spec {
        name: "ListWhiteBoxAccessKeys",
        role: Role::Admin,
        summary: "Lists the access keys: SecretId, name, role, times, whether revoked or expired; never a SecretKey.",
        request: &[],
        response: &[req(
            "AccessKeys",
            Ty::AccessKeys,
            "The access keys, oldest first.",
        )],
    },
    Spec {
        name: "RevokeWhiteBoxAccessKey",
        role: Role::Admin,
        summary: "Revokes an access key: its signatures are refused from now on, on every instance. Revoking a revoked key is not an error.",
        request: &[req("SecretId", Ty::String, "The key's SecretId (AKID...).")],
        response: &[
            req("SecretId", Ty::String, "The key's SecretId."),
            R_REVOKED,
        ],
    },
];

/// The action an `X-Action` value names (accepting the `Whitebox` spelling of the device
/// fingerprint action).
pub fn spec(action: &str) -> Option<&'static Spec> {
    let action = match action {
        "OverwriteWhiteboxDeviceFingerprints" => "OverwriteWhiteBoxDeviceFingerprints",
        other => other,
    };
    ACTIONS.iter().find(|s| s.name == action)
}

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Token id.
    pub token_id: String,
    /// Role.
    pub role: Role,
}

/// An action's result: the response fields and the key ids to audit.
pub struct Outcome {
    /// Response fields (without `RequestId`).
    pub fields: Map<String, Value>,
    /// Key ids the request named or created.
    pub key_ids: Vec<String>,
    /// The safety rule the request overrode, for the audit record.
    pub overridden: Option<String>,
}

const MAX_PLAINTEXT: usize = 65536;

/// The `Warning` of a device-list change that removed devices without rotating.
pub const REMOVED_NOT_ROTATED: &str = wbgen::keystore::REMOVED_NOT_ROTATED;
const MAX_DEVICES: usize = 1000;
/// The most keys a batch action (`KeyIds`) names.
const MAX_BATCH_KEYS: usize = 100;

/// The key ids a request names (`KeyId`, or `KeyIds`), cut to 64 characters each, for the
/// audit log.
pub fn named_keys(params: &Map<String, Value>) -> Vec<String> {
    match (params.get("KeyId"), params.get("KeyIds")) {
        (Some(Value::String(id)), _) => vec![recorded_id(id)],
        (_, Some(Value::Array(ids))) => ids
            .iter()
            .filter_map(Value::as_str)
            .take(MAX_BATCH_KEYS)
            .map(recorded_id)
            .collect(),
        _ => Vec::new(),
    }
}

/// The request with each key named by its alias in `KeyId` or `KeyIds` replaced by the key's
/// id, so that actions and their audit records (of refused requests too) see key ids only;
/// the service applies it before [`execute`]. A text that parses as a key
/// id is one (ids take precedence), and one that names no key is left as sent (the action then
/// answers that there is no such key).
///
/// # Errors
/// The store's.
pub fn resolve_aliases(
    store: &UnlockedStore,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    let is_alias = |v: &Value| {
        v.as_str().is_some_and(|s| {
            wbstore::records::normalise_id(s)
                .parse::<wbruntime::KeyId>()
                .is_err()
        })
    };
    let named = match (body.get("KeyId"), body.get("KeyIds")) {
        (Some(v), _) => is_alias(v),
        (_, Some(Value::Array(ids))) => ids.iter().any(is_alias),
        _ => false,
    };
    let mut out = body.clone();
    if !named {
        return Ok(out);
    }
    let resolve =
        |v: &mut Value, s: &mut wbgen::keystore::Session<'_, '_>| -> Result<(), wbgen::Error> {
            if let Some(text) = v.as_str().filter(|_| is_alias(v)) {
                match s.resolve(text) {
                    Ok(id) => *v = Value::String(id),
                    Err(wbgen::Error::KeyNotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        };
    store.with(Access::Read, |s| {
        if let Some(v) = out.get_mut("KeyId") {
            resolve(v, s)?;
        } else if let Some(Value::Array(ids)) = out.get_mut("KeyIds") {
            for v in ids.iter_mut().take(MAX_BATCH_KEYS) {
                resolve(v, s)?;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// How a key id a request names is recorded: its canonical form (the one the action looks
/// up: [`normalise_id`]), so that no spelling the parser accepts — dashes anywhere,
/// surrounding white space of any kind — can keep the key's id out of the audit log; an id
/// that is not one (the action then finds no key) as its first 64 characters, any that could
/// split a line or reorder text (controls, format and separator characters: U+2028, U+202E,
/// C1) written as `\u{…}` so that every line splitter sees one record per line.
fn recorded_id(id: &str) -> String {
    let canonical = wbstore::records::normalise_id(id);
    if canonical.parse::<wbruntime::KeyId>().is_ok() {
        return canonical;
    }
    id.chars()
        .take(64)
        .map(|c| {
            let mut buf = [0u8; 4];
            if wbgen::keystore::readable_text(c.encode_utf8(&mut buf), false).is_some() {
                c.to_string()
            } else {
                format!("\\u{{{:x}}}", u32::from(c))
            }
        })
        .collect()
}

/// The parameters of one request, checked against its [`Spec`].
struct Args<'a> {
    obj: &'a Map<String, Value>,
}

fn bad(what: String) -> Error {
    Error::InvalidParameter(what)
}

impl<'a> Args<'a> {
    fn new(spec: &Spec, obj: &'a Map<String, Value>) -> Result<Self, Error> {
        if let Some(unknown) = obj
            .keys()
            .find(|k| !spec.request.iter().any(|f| f.name == k.as_str()))
        {
            let name: String = unknown.chars().take(64).collect();
            return Err(Error::UnknownParameter(format!(
                "{} takes no parameter {name:?}",
                spec.name
            )));
        }
        for f in spec.request.iter().filter(|f| f.required) {
            if obj.get(f.name).is_none_or(Value::is_null) {
                return Err(Error::MissingParameter(format!(
                    "the parameter {} is required",
                    f.name
                )));
            }
        }
        Ok(Args { obj })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    fn str_opt(&self, name: &str) -> Result<Option<&'a str>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(format!("{name} must be a string"))),
        }
    }

    fn str(&self, name: &str) -> Result<&'a str, Error> {
        self.str_opt(name)?
            .ok_or_else(|| bad(format!("the parameter {name} is required")))
    }

    fn bool_opt(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(format!("{name} must be true or false"))),
        }
    }

    fn u64_opt(&self, name: &str) -> Result<Option<u64>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| bad(format!("{name} must be a non-negative integer"))),
        }
    }

    /// An RFC 3339 time (`2026-01-31T08:00:00Z`; a time without a zone is UTC).
    fn time_opt(&self, name: &str) -> Result<Option<std::time::SystemTime>, Error> {
        self.str_opt(name)?
            .map(|s| {
                humantime::parse_rfc3339_weak(s.trim()).map_err(|_| {
                    bad(format!(
                        "{name} must be an RFC 3339 time, e.g. 2026-01-31T08:00:00Z"
                    ))
                })
            })
            .transpose()
    }

    fn base64(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        self.str_opt(name)?
            .map(|s| {
                B64.decode(s.trim())
                    .map(Zeroizing::new)
                    .map_err(|_| bad(format!("{name} is not valid Base64")))
            })
            .transpose()
    }

    fn array(&self, name: &str) -> Result<Option<&'a Vec<Value>>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(bad(format!("{name} must be a list"))),
        }
    }

    fn strings(&self, name: &str, max: usize) -> Result<Vec<String>, Error> {
        let a = self.array(name)?.map_or(&[][..], Vec::as_slice);
        if a.len() > max {
            return Err(bad(format!("{name} has more than {max} entries")));
        }
        a.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("{name} must be a list of strings")))
            })
            .collect()
    }

    fn tags(&self, name: &str) -> Result<Option<Vec<Tag>>, Error> {
        let Some(a) = self.array(name)? else {
            return Ok(None);
        };
        let tags = a
            .iter()
            .map(|v| {
                let key = v.get("TagKey").and_then(Value::as_str);
                let value = v.get("TagValue").map_or(Some(""), Value::as_str);
                match (key, value, only_fields(v, &["TagKey", "TagValue"])) {
                    (Some(k), Some(val), true) => Ok(Tag {
                        tag_key: k.to_owned(),
                        tag_value: val.to_owned(),
                    }),
                    _ => Err(bad(format!(
                        "{name} must be a list of {{\"TagKey\", \"TagValue\"}}"
                    ))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(tags))
    }
}

/// A tag key and the values that match (`None`: any).
type TagFilter = (String, Option<Vec<String>>);

/// `TagFilters`: `[{"TagKey", "TagValue"}]`, the value a string, a list of strings (the KMS's
/// form: any of them), or absent (any value).
fn tag_filters(list: &[Value]) -> Result<Vec<TagFilter>, Error> {
    list.iter()
        .map(|f| {
            let key = f.get("TagKey").and_then(Value::as_str);
            let values = match f.get("TagValue") {
                None | Some(Value::Null) => Some(None),
                Some(Value::String(v)) => Some(Some(vec![v.clone()])),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(Some),
                Some(_) => None,
            };
            match (key, values, only_fields(f, &["TagKey", "TagValue"])) {
                (Some(k), Some(v), true) => Ok((k.to_owned(), v)),
                _ => Err(bad(
                    "TagFilters must be a list of {\"TagKey\", \"TagValue\"} (a string or a list of strings)".into(),
                )),
            }
        })
        .collect()
}

/// Whether `v` is an object with no fields but `allowed`.
fn only_fields(v: &Value, allowed: &[&str]) -> bool {
    v.as_object()
        .is_some_and(|o| o.keys().all(|k| allowed.contains(&k.as_str())))
}

fn algorithm_name(a: AlgorithmName) -> &'static str {
    match a {
        AlgorithmName::Aes256 => "AES_256",
        AlgorithmName::Sm4 => "SM4",
    }
}

fn state_name(s: KeyState) -> &'static str {
    match s {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"TagKey": t.tag_key, "TagValue": t.tag_value}))
            .collect(),
    )
}

fn devices_json(devices: &[BoundDevice]) -> Value {
    Value::Array(
        devices
            .iter()
            .map(|d| json!({"Identity": d.fingerprint, "Description": d.description}))
            .collect(),
    )
}

/// A key's `KeyInfo`: `KeyId`, `Alias`, `Description`, `Algorithm`, `Mode` (`SpaceBits` for
/// space-hard keys), `Status`, `CreateTime`, `CurrentVersion`, `Tags`,
/// `DeviceFingerprintBind`, `DeviceCount`.
///
/// # Errors
/// [`Error::Store`] for a record with an impossible mode.
pub fn key_info(rec: &KeyRecord) -> Result<Value, Error> {
    let mode = rec.mode()?;
    let mut v = json!({
        "KeyId": rec.key_id,
        "Alias": rec.alias,
        "Description": rec.description,
        "Algorithm": algorithm_name(rec.algorithm),
        "Mode": mode.name(),
        "Status": state_name(rec.key_state),
        "CreateTime": rec.create_time,
        "CurrentVersion": rec.current_version(),
        "Tags": tags_json(&rec.tags),
        "DeviceFingerprintBind": !rec.fingerprints.is_empty(),
        "DeviceCount": rec.fingerprints.len(),
        "KeyRotationEnabled": rec.rotation_period.is_some(),
        "RotateDays": rec.rotation_period.map(|s| s / 86_400),
        "NextRotateTime": rec.next_rotation(),
    });
    if let Mode::SpaceHard(bits) = mode {
        v["SpaceBits"] = json!(bits.bits());
    }
    Ok(v)
}

fn parse_algorithm(s: &str) -> Result<AlgorithmName, Error> {
    match s {
        "AES_256" | "AES-256" | "aes-256" => Ok(AlgorithmName::Aes256),
        "SM4" | "sm4" => Ok(AlgorithmName::Sm4),
        _ => Err(bad("Algorithm must be AES_256 or SM4".into())),
    }
}

/// The request's mode: space-hard with 16-bit lines ([`Mode::DEFAULT`]) when it names none,
/// as the cloud's official clients do.
fn parse_mode(mode: Option<&str>, bits: Option<u64>) -> Result<Mode, Error> {
    let mode = mode.map(str::to_ascii_uppercase);
    match (mode.as_deref(), bits) {
        (Some("EXTERNAL"), None) => Ok(Mode::External),
        (Some("STANDARD"), None) => Ok(Mode::Standard),
        (None | Some("SPACE_HARD" | "SPACE-HARD"), bits) => {
            // 24-bit tables are 218 MB: too large to hand out as Base64 in a JSON response;
            // `wbgen create --mode space-hard --space-bits 24` makes them.
            match bits.unwrap_or(16) {
                8 => Ok(Mode::SpaceHard(LineBits::N8)),
                16 => Ok(Mode::SpaceHard(LineBits::N16)),
                _ => Err(bad("SpaceBits must be 8 or 16 through the service".into())),
            }
        }
        (Some("EXTERNAL" | "STANDARD"), Some(_)) => {
            Err(bad("SpaceBits applies only to the SPACE_HARD mode".into()))
        }
        _ => Err(bad("Mode must be EXTERNAL, STANDARD or SPACE_HARD".into())),
    }
}

/// What `ListWhiteBoxAuditRecords` keeps.
struct AuditFilter<'a> {
    /// Canonical key id.
    key_id: Option<String>,
    credential: Option<&'a str>,
    action: Option<&'a str>,
    start: Option<std::time::SystemTime>,
    end: Option<std::time::SystemTime>,
}

impl AuditFilter<'_> {
    fn matches(&self, r: &crate::audit::Record) -> bool {
        let in_time = || {
            if self.start.is_none() && self.end.is_none() {
                return true;
            }
            // A record whose time does not parse is kept only when no time was asked for.
            humantime::parse_rfc3339_weak(&r.time)
                .is_ok_and(|t| self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t <= e))
        };
        self.key_id.as_ref().is_none_or(|k| {
            r.key_ids
                .iter()
                .any(|id| wbstore::records::normalise_id(id) == *k)
        }) && self
            .credential
            .is_none_or(|c| r.token_id.as_deref() == Some(c))
            && self.action.is_none_or(|a| r.action == a)
            && in_time()
    }
}

/// `ExpiresIn`: a duration such as `30m`, `12h` or `90d`, 1 minute to 3650 days.
fn parse_lifetime(s: &str) -> Result<std::time::Duration, Error> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| bad("ExpiresIn must be a duration such as 30m, 12h or 90d".into()))?;
    if d < std::time::Duration::from_secs(60) || d > std::time::Duration::from_secs(3650 * 86_400) {
        return Err(bad("ExpiresIn must be 1 minute to 3650 days".into()));
    }
    Ok(d)
}

/// The audit record's note on a credential made: which one, its role and expiry (never its
/// secret).
fn credential_note(what: &str, id: &str, role: Role, expires: Option<&str>) -> String {
    match expires {
        Some(t) => format!("{what} {id} (role {}, expires {t})", role.name()),
        None => format!("{what} {id} (role {})", role.name()),
    }
}

/// Exports a key file of `version` of the key, bound to its devices; refused (unless
/// `allow_duplicate`) when another key version holds the same material, whose holder is then
/// returned for the audit record.
fn export(
    store: &UnlockedStore,
    files: &KeyFiles,
    key_id: &str,
    version: Option<u32>,
    allow_duplicate: bool,
) -> Result<
    (
        KeyRecord,
        u32,
        std::sync::Arc<String>,
        Option<MaterialHolder>,
    ),
    Error,
> {
    let (rec, version, material, holder) = store.with(Access::Read, |s| {
        let (rec, version, material) = s.material(key_id, version)?;
        let holder = s.check_material(&material, Some((&rec.key_id, version)), allow_duplicate)?;
        Ok((rec, version, material, holder))
    })?;
    let file = files.get(&rec, version, &material)?;
    Ok((rec, version, file, holder))
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Runs an action for a caller whose role was already checked, on a request whose aliases
/// were already resolved ([`resolve_aliases`]).
///
/// # Errors
/// [`Error::InvalidParameter`] for parameters that do not fit the [`Spec`], and whatever the
/// key store refuses.
pub fn execute(
    store: &UnlockedStore,
    files: &KeyFiles,
    spec: &Spec,
    caller: &Caller,
    body: &Map<String, Value>,
) -> Result<Outcome, Error> {
    let args = Args::new(spec, body)?;
    let named = named_keys(body);
    let done = |v: Value| Outcome {
        fields: fields(v),
        key_ids: named.clone(),
        overridden: None,
    };
    match spec.name {
        "CreateWhiteBoxKey" => {
            let alias = args.str("Alias")?;
            let algorithm = parse_algorithm(args.str("Algorithm")?)?;
            let description = args.str_opt("Description")?.unwrap_or("");
            let mode = parse_mode(args.str_opt("Mode")?, args.u64_opt("SpaceBits")?)?;
            let tags = args.tags("Tags")?;
            let material = KeyMaterial::generate(algorithm.algorithm(), mode, &mut os_rng()?);
            let rec = store.with(Access::Write, |s| {
                let rec = s.add_key(&material, alias, description)?;
                match tags.clone() {
                    Some(t) => s.update(&rec.key_id, None, None, Some(t)),
                    None => Ok(rec),
                }
            })?;
            let file = B64.encode(rec.key_file(1, &material)?);
            let mut out = json!({
                "KeyId": rec.key_id,
                "DecryptKey": file,
                "KeyInfo": key_info(&rec)?,
            });
            if matches!(mode, Mode::SpaceHard(_)) {
                out["EncryptKey"] = json!(file);
            }
            if let Some(w) = mode.warning() {
                out["Warning"] = json!(format!("{}: {w}", mode.name()));
            }
            Ok(Outcome {
                fields: fields(out),
                key_ids: vec![rec.key_id],
                overridden: None,
            })
        }
        "DescribeWhiteBoxKey" => {
            let id = args.str("KeyId")?;
            let rec = store.with(Access::Read, |s| s.key(id))?;
            Ok(done(json!({"KeyInfo": key_info(&rec)?})))
        }
        "DescribeWhiteBoxKeyDetails" => {
            // The KMS's numbers: 0 disabled, 1 enabled.
            let status = match args.get("KeyStatus") {
                None => None,
                Some(v) => match (v.as_str(), v.as_u64()) {
                    (Some("Enabled"), _) | (_, Some(1)) => Some(KeyState::Enabled),
                    (Some("Disabled"), _) | (_, Some(0)) => Some(KeyState::Disabled),
                    _ => {
                        return Err(bad("KeyStatus must be 0 (Disabled) or 1 (Enabled)".into()));
                    }
                },
            };
            let algorithm = args
                .str_opt("Algorithm")?
                .map(parse_algorithm)
                .transpose()?;
            let filters = tag_filters(args.array("TagFilters")?.map_or(&[][..], Vec::as_slice))?;
            let offset = args.u64_opt("Offset")?.unwrap_or(0);
            // As the KMS: no Limit, or 0, returns every key from Offset on.
            let limit = match args.u64_opt("Limit")?.unwrap_or(0) {
                0 => usize::MAX,
                n @ 1..=200 => n as usize,
                _ => return Err(bad("Limit must be 0 (no paging) to 200".into())),
            };
            let keys = store.with(Access::Read, |s| s.keys())?;
            let matching: Vec<&KeyRecord> = keys
                .iter()
                .filter(|k| status.is_none_or(|st| k.key_state == st))
                .filter(|k| algorithm.is_none_or(|a| k.algorithm == a))
                .filter(|k| {
                    filters.iter().all(|(key, values)| {
                        k.tags.iter().any(|t| {
                            t.tag_key == *key
                                && values.as_ref().is_none_or(|v| v.contains(&t.tag_value))
                        })
                    })
                })
                .collect();
            let page = matching
                .iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(limit)
                .map(|k| key_info(k))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(done(
                json!({"KeyInfos": page, "TotalCount": matching.len()}),
            ))
        }
        "EncryptByWhiteBox" => {
            let id = args.str("KeyId")?;
            let plaintext = args
                .base64("PlainText")
                .map_err(|_| Error::InvalidPlaintext("PlainText is not valid Base64".into()))?
                .unwrap_or_default();
            if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
                return Err(Error::InvalidPlaintext(format!(
                    "PlainText must decode to 1 to {MAX_PLAINTEXT} bytes"
                )));
            }
            let iv = match args.base64("InitializationVector")? {
                Some(iv) if iv.len() == 16 => iv.to_vec(),
                Some(_) => return Err(bad("InitializationVector must decode to 16 bytes".into())),
                None => {
                    let mut iv = vec![0u8; 16];
                    getrandom::fill(&mut iv).map_err(|_| wbgen::Error::RandomnessUnavailable)?;
                    iv
                }
            };
            let (rec, version, material) = store.with(Access::Read, |s| s.material(id, None))?;
            let ct = material.encrypt_cbc(&iv, &plaintext)?;
            Ok(done(json!({
                "KeyId": rec.key_id,
                "KeyVersion": version,
                "InitializationVector": B64.encode(&iv),
                "CipherText": B64.encode(ct),
            })))
        }
        "DescribeWhiteBoxDecryptKey" => {
            let id = args.str("KeyId")?;
            let version = args
                .u64_opt("KeyVersion")?
                .map(|v| u32::try_from(v).map_err(|_| bad("KeyVersion is too large".into())))
                .transpose()?;
            let allow = args.bool_opt("AllowDuplicateMaterial")?.unwrap_or(false);
            let (rec, version, file, holder) = export(store, files, id, version, allow)?;
            let mut outcome = done(json!({
                "KeyId": rec.key_id,
                "KeyVersion": version,
                "DecryptKey": file.as_str(),
            }));
            if let Some(h) = &holder {
                outcome.key_ids.push(h.key_id.clone());
                outcome.overridden = Some(h.override_note());
            }
            Ok(outcome)
        }
        "OverwriteWhiteBoxDeviceFingerprints" => {
            let id = args.str("KeyId")?;
            let list = args
                .array("DeviceFingerprints")?
                .map_or(&[][..], Vec::as_slice);
            if list.len() > MAX_DEVICES {
                return Err(Error::TooManyDevices(MAX_DEVICES));
            }
            let mut devices: Vec<BoundDevice> = Vec::with_capacity(list.len());
            for (i, d) in list.iter().enumerate() {
                let identity = d.get("Identity").and_then(Value::as_str);
                let description = d.get("Description").map_or(Some(""), Value::as_str);
                let (Some(identity), Some(description), true) = (
                    identity,
                    description,
                    only_fields(d, &["Identity", "Description"]),
                ) else {
                    return Err(bad(format!(
                        "DeviceFingerprints[{i}] must be {{\"Identity\", \"Description\"}}"
                    )));
                };
                check_fingerprint(identity).map_err(|_| {
                    bad(format!(
                        "DeviceFingerprints[{i}].Identity: {}",
                        wbgen::devices::FINGERPRINT_FORM
                    ))
                })?;
                if description.chars().count() > 1024 || description.chars().any(char::is_control) {
                    return Err(bad(format!(
                        "DeviceFingerprints[{i}].Description must be at most 1024 printable characters"
                    )));
                }
                if devices.iter().any(|e| e.fingerprint == identity) {
                    return Err(bad(format!("DeviceFingerprints[{i}] repeats a device")));
                }
                devices.push(BoundDevice {
                    fingerprint: identity.to_owned(),
                    description: description.to_owned(),
                });
            }
            let rotate = args.bool_opt("Rotate")?.unwrap_or(true);
            let mut rng = os_rng()?;
            let change = store.with(Access::Write, |s| {
                s.replace_devices(id, devices.clone(), rotate, &mut rng)
            })?;
            let mut out = json!({
                "KeyId": change.record.key_id,
                "KeyVersion": change.record.current_version(),
                "Rotated": change.rotated_to.is_some(),
                "RemovedDevices": change.removed,
            });
            if !rotate && !change.removed.is_empty() {
                out["Warning"] = json!(REMOVED_NOT_ROTATED);
            }
            Ok(done(out))
        }
        "DescribeWhiteBoxDeviceFingerprints" => {
            let id = args.str("KeyId")?;
            let rec = store.with(Access::Read, |s| s.key(id))?;
            Ok(done(
                json!({"DeviceFingerprints": devices_json(&rec.fingerprints)}),
            ))
        }
        "EnableWhiteBoxKey"
        | "DisableWhiteBoxKey"
        | "EnableWhiteBoxKeys"
        | "DisableWhiteBoxKeys" => {
            let state = if spec.name.starts_with("Enable") {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            };
            let ids = if spec.name.ends_with("Keys") {
                let ids = args.strings("KeyIds", MAX_BATCH_KEYS)?;
                if ids.is_empty() {
                    return Err(bad("KeyIds must name 1 to 100 keys".into()));
                }
                ids
            } else {
                vec![args.str("KeyId")?.to_owned()]
            };
            // One session: if any key is missing nothing is written.
            store.with(Access::Write, |s| {
                for id in &ids {
                    s.set_state(id, state)?;
                }
                Ok(())
            })?;
            Ok(done(json!({})))
        }
        "DeleteWhiteBoxKey" => {
            let id = args.str("KeyId")?;
            store.with(Access::Write, |s| s.delete(id))?;
            Ok(done(json!({})))
        }
        "RotateWhiteBoxKey" => {
            let id = args.str("KeyId")?;
            let mut rng = os_rng()?;
            let (rec, version) = store.with(Access::Write, |s| s.rotate(id, &mut rng))?;
            let (_, _, file, _) = export(store, files, &rec.key_id, Some(version), false)?;
            Ok(done(json!({
                "KeyId": rec.key_id,
                "KeyVersion": version,
                "DecryptKey": file.as_str(),
            })))
        }
        "EnableWhiteBoxKeyRotation" => {
            let id = args.str("KeyId")?;
            let days = args.u64_opt("RotateDays")?.unwrap_or(365);
            if !(1..=3650).contains(&days) {
                return Err(bad("RotateDays must be 1 to 3650".into()));
            }
            let period = std::time::Duration::from_secs(days * 86_400);
            let rec = store.with(Access::Write, |s| s.set_rotation(id, Some(period)))?;
            Ok(done(json!({
                "KeyId": rec.key_id,
                "NextRotateTime": rec.next_rotation(),
            })))
        }
        "DisableWhiteBoxKeyRotation" => {
            let id = args.str("KeyId")?;
            let rec = store.with(Access::Write, |s| s.set_rotation(id, None))?;
            Ok(done(json!({"KeyId": rec.key_id})))
        }
        "UpdateWhiteBoxKeyAlias" => {
            let (id, alias) = (args.str("KeyId")?, args.str("Alias")?);
            store.with(Access::Write, |s| s.update(id, Some(alias), None, None))?;
            Ok(done(json!({})))
        }
        "UpdateWhiteBoxKeyDescription" => {
            let (id, d) = (args.str("KeyId")?, args.str("Description")?);
            store.with(Access::Write, |s| s.update(id, None, Some(d), None))?;
            Ok(done(json!({})))
        }
        "TagWhiteBoxKey" | "UntagWhiteBoxKey" => {
            let id = args.str("KeyId")?;
            let add = args.tags("Tags")?.unwrap_or_default();
            let remove = if spec.name == "UntagWhiteBoxKey" {
                args.strings("TagKeys", 50)?
            } else {
                Vec::new()
            };
            let rec = store.with(Access::Write, |s| {
                let mut tags = s.key(id)?.tags.clone();
                tags.retain(|t| !remove.contains(&t.tag_key));
                for t in add.iter().cloned() {
                    match tags.iter_mut().find(|u| u.tag_key == t.tag_key) {
                        Some(u) => u.tag_value = t.tag_value,
                        None => tags.push(t),
                    }
                }
                s.update(id, None, None, Some(tags))
            })?;
            Ok(done(json!({"Tags": tags_json(&rec.tags)})))
        }
        "ListWhiteBoxKeyVersions" => {
            let id = args.str("KeyId")?;
            let rec = store.with(Access::Read, |s| s.key(id))?;
            let current = rec.current_version();
            let versions: Vec<Value> = rec
                .versions
                .iter()
                .map(|v| {
                    json!({
                        "KeyVersion": v.version,
                        "CreateTime": v.create_time,
                        "Current": v.version == current,
                    })
                })
                .collect();
            Ok(done(json!({
                "KeyId": rec.key_id,
                "CurrentVersion": current,
                "Versions": versions,
            })))
        }
        "ListWhiteBoxAuditRecords" => {
            let filter = AuditFilter {
                key_id: args.str_opt("KeyId")?.map(wbstore::records::normalise_id),
                credential: args.str_opt("TokenId")?,
                action: args.str_opt("Action")?,
                start: args.time_opt("StartTime")?,
                end: args.time_opt("EndTime")?,
            };
            let offset = args.u64_opt("Offset")?.unwrap_or(0);
            let limit = match args.u64_opt("Limit")?.unwrap_or(100) {
                n @ 1..=1000 => n as usize,
                _ => return Err(bad("Limit must be 1 to 1000".into())),
            };
            let db = store.db();
            let report = crate::audit::Report::of(crate::audit::verify_each(db, None)?);
            let mut matching: Vec<crate::audit::Record> = crate::audit::read_all(db)?
                .into_iter()
                .filter(|r| filter.matches(r))
                .collect();
            // Newest first. Times are RFC 3339 UTC with milliseconds, so they sort as text;
            // within a chain the sequence number breaks ties.
            matching.sort_by(|a, b| {
                b.time
                    .cmp(&a.time)
                    .then_with(|| a.instance.cmp(&b.instance))
                    .then_with(|| b.seq.cmp(&a.seq))
            });
            let total = matching.len();
            let page: Vec<Value> = matching
                .into_iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(limit)
                .map(|mut r| {
                    // Release 0.1's records name no instance: their chain's name.
                    r.instance
                        .get_or_insert_with(|| crate::audit::LEGACY_CHAIN.to_owned());
                    serde_json::to_value(r).unwrap_or(Value::Null)
                })
                .collect();
            let mut outcome = done(json!({
                "Records": page,
                "TotalCount": total,
                "Intact": report.broken.is_none(),
                "Chains": report.chains,
            }));
            // A key id given as a filter is not a key the request acted on: left out of its
            // own record, so that reading a key's records does not add to them.
            outcome.key_ids.clear();
            Ok(outcome)
        }
        "CreateWhiteBoxToken" | "CreateWhiteBoxAccessKey" => {
            let name = args.str("Name")?;
            if name.trim().is_empty() {
                return Err(bad("Name must be 1 to 128 printable characters".into()));
            }
            let role = args.str("Role")?;
            let role = Role::parse(role)
                .ok_or_else(|| bad("Role must be admin, operator, reader or metrics".into()))?;
            let lifetime = args.str_opt("ExpiresIn")?.map(parse_lifetime).transpose()?;
            let (mut out, note) = if spec.name == "CreateWhiteBoxToken" {
                let (rec, token) = crate::auth::create_token(store, role, name, lifetime)?;
                let id = &rec.token_id;
                let out = json!({
                    "TokenId": id,
                    "Token": token.as_str(),
                    "Name": rec.name,
                    "Role": rec.role.name(),
                    "CreateTime": rec.create_time,
                    "ExpireTime": rec.expire_time,
                });
                (
                    out,
                    credential_note("created token", id, role, rec.expire_time.as_deref()),
                )
            } else {
                let (rec, secret) = crate::auth::create_access_key(store, role, name, lifetime)?;
                let id = &rec.secret_id;
                let out = json!({
                    "SecretId": id,
                    "SecretKey": secret.as_str(),
                    "Name": rec.name,
                    "Role": rec.role.name(),
                    "CreateTime": rec.create_time,
                    "ExpireTime": rec.expire_time,
                });
                (
                    out,
                    credential_note("created access key", id, role, rec.expire_time.as_deref()),
                )
            };
            // No expiry: no ExpireTime (the List actions show null).
            if let Some(o) = out.as_object_mut()
                && o.get("ExpireTime").is_some_and(Value::is_null)
            {
                o.remove("ExpireTime");
            }
            let mut outcome = done(out);
            outcome.overridden = Some(note);
            Ok(outcome)
        }
        "ListWhiteBoxTokens" => {
            let tokens: Vec<Value> = crate::auth::list_tokens(store.db())?
                .iter()
                .map(crate::auth::token_listed)
                .collect();
            Ok(done(json!({"Tokens": tokens})))
        }
        "ListWhiteBoxAccessKeys" => {
            let keys: Vec<Value> = crate::auth::list_access_keys(store.db())?
                .iter()
                .map(crate::auth::access_key_listed)
                .collect();
            Ok(done(json!({"AccessKeys": keys})))
        }
        "RevokeWhiteBoxToken" => {
            let rec = crate::auth::revoke_token(store, args.str("TokenId")?)?;
            let mut outcome = done(json!({"TokenId": rec.token_id, "Revoked": true}));
            outcome.overridden = Some(format!("revoked token {}", rec.token_id));
            Ok(outcome)
        }
        "RevokeWhiteBoxAccessKey" => {
            let rec = crate::auth::revoke_access_key(store, args.str("SecretId")?)?;
            let mut outcome = done(json!({"SecretId": rec.secret_id, "Revoked": true}));
            outcome.overridden = Some(format!("revoked access key {}", rec.secret_id));
            Ok(outcome)
        }
        "DescribeWhiteBoxServiceStatus" => Ok(done(json!({
            "ServiceEnabled": true,
            "TokenId": caller.token_id,
            "Role": caller.role.name(),
        }))),
        _ => Err(Error::UnknownAction),
    }
}
