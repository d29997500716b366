//! The service's error type: every failure a request can meet, with its stable code and HTTP
//! status.
//!
//! Codes keep the toolkit's numbering: `02xxxxxx` are the key store's and generator's
//! ([`wbgen::Error::code`]), passed through unchanged so that a script sees the same code from
//! `wbgen` and from the service; `03xxxxxx` are the service's own. Messages never carry a
//! plaintext, key material, a token or a passphrase.

use core::fmt;

/// What went wrong with a request, or with a `wbkms` command.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// No `Authorization: Bearer` header, or a token that is unknown or revoked.
    Unauthenticated,
    /// A token or access key past its expiry time.
    CredentialExpired,
    /// The token is valid but its role may not call this action.
    Forbidden {
        /// The action refused.
        action: String,
        /// The caller's role.
        role: &'static str,
    },
    /// Too many failed authentications from this address; retry after the window.
    RateLimited,
    /// `X-Action` is missing or names no action.
    UnknownAction,
    /// The body is not a JSON object, or a parameter is malformed.
    InvalidParameter(String),
    /// A required parameter is absent.
    MissingParameter(String),
    /// A parameter the action does not take.
    UnknownParameter(String),
    /// `PlainText` is not Base64 or has a length out of range.
    InvalidPlaintext(String),
    /// More devices than a key may be bound to.
    TooManyDevices(usize),
    /// A TC3-HMAC-SHA256-signed request that does not verify.
    Signature(crate::tc3::Failure),
    /// `X-TC-Version` names an API version other than 2019-01-18.
    UnsupportedVersion,
    /// Plain HTTP on an address other than loopback, without `--insecure-http`.
    InsecureListen,
    /// The request body is larger than the service accepts.
    PayloadTooLarge,
    /// No such route.
    NotFound,
    /// The key store (or the generator) refused: its own code and status.
    Store(wbgen::Error),
    /// The audit log could not be written: the service refuses to act unaudited.
    AuditUnavailable,
    /// The access-token file is damaged or was changed without the passphrase.
    TokensCorrupt(&'static str),
    /// An audit log that does not verify.
    AuditBroken {
        /// The chain (the instance that wrote it).
        instance: String,
        /// The first bad record's sequence number, from 1.
        seq: u64,
        /// Why.
        reason: &'static str,
    },
    /// A file or socket operation failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The operating system's reason.
        kind: std::io::ErrorKind,
    },
    /// A TLS certificate or key could not be loaded.
    Tls(String),
    /// An unexpected internal failure (a task panicked).
    Internal,
    /// No token or access key with the id given.
    CredentialNotFound,
    /// A request whose body is not declared JSON (`Content-Type: application/json`): refused
    /// before authentication, so that a form or a `no-cors` fetch from another site never
    /// counts as a failed authentication.
    UnsupportedMediaType,
    /// The request body did not arrive whole within the body timeout (`--body-timeout`).
    RequestTimeout,
    /// Bytes that are not an HTTP request (hyper refused them before the service saw a
    /// request): only ever in the audit log, as the code of their aggregate record.
    MalformedRequest,
    /// A `wbkms` command line that does not parse (exit 2): what is wrong, naming options but
    /// never a value typed. Never an answer of the service.
    Usage(String),
}

impl Error {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated => "03000001",
            Error::CredentialExpired => "03000017",
            Error::Forbidden { .. } => "03000002",
            Error::UnknownAction => "03000003",
            Error::InvalidParameter(_)
            | Error::MissingParameter(_)
            | Error::UnknownParameter(_)
            | Error::InvalidPlaintext(_)
            | Error::TooManyDevices(_) => "03000004",
            Error::Signature(_) => "03000001",
            Error::UnsupportedVersion => "03000015",
            Error::InsecureListen => "03000016",
            Error::RateLimited => "03000005",
            Error::Internal => "03000006",
            Error::NotFound => "03000007",
            Error::PayloadTooLarge => "03000008",
            Error::AuditUnavailable => "03000009",
            Error::TokensCorrupt(_) => "03000010",
            Error::AuditBroken { .. } => "03000011",
            Error::Io { .. } => "03000013",
            Error::Tls(_) => "03000014",
            Error::CredentialNotFound => "03000018",
            Error::UnsupportedMediaType => "03000019",
            Error::RequestTimeout => "03000020",
            Error::MalformedRequest => "03000021",
            Error::Usage(_) => "03000022",
            Error::Store(e) => e.code(),
        }
    }

    /// The HTTP status a request failing so is answered with.
    pub fn status(&self) -> u16 {
        use wbgen::Error as G;
        match self {
            Error::Unauthenticated | Error::CredentialExpired | Error::Signature(_) => 401,
            Error::MissingParameter(_)
            | Error::UnknownParameter(_)
            | Error::InvalidPlaintext(_)
            | Error::TooManyDevices(_)
            | Error::UnsupportedVersion => 400,
            Error::Forbidden { .. } => 403,
            Error::RateLimited => 429,
            Error::UnknownAction | Error::InvalidParameter(_) => 400,
            Error::PayloadTooLarge => 413,
            Error::NotFound | Error::CredentialNotFound => 404,
            Error::UnsupportedMediaType => 415,
            Error::RequestTimeout => 408,
            Error::MalformedRequest | Error::Usage(_) => 400,
            Error::Store(e) => match e {
                G::KeyNotFound | G::VersionNotFound(_) => 404,
                G::AliasTaken | G::KeyDisabled | G::DuplicateMaterial { .. } => 409,
                G::InvalidArgument(_)
                | G::InvalidIv { .. }
                | G::InvalidKeyLength { .. }
                | G::UnsupportedAlgorithm(_)
                | G::ConfirmationRequired => 400,
                G::Store(wbstore::Error::Conflict) => 409,
                G::Store(wbstore::Error::DatabaseUnavailable { .. }) => 503,
                _ => 500,
            },
            _ => 500,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::CredentialExpired => f.write_str(
                "the credential has expired: ask an administrator for a new one (wbkms token create --expires-in, wbkms accesskey create --expires-in)",
            ),
            Error::Unauthenticated => f.write_str(
                "authentication failed: send `Authorization: Bearer <token>` with a valid token",
            ),
            Error::Forbidden { action, role } => {
                write!(f, "the {role} role may not call {action}")
            }
            Error::RateLimited => f.write_str(
                "too many failed authentications from this address: try again in a minute",
            ),
            Error::UnknownAction => {
                f.write_str("the X-Action header is missing or names no action of this service")
            }
            Error::InvalidParameter(what)
            | Error::MissingParameter(what)
            | Error::UnknownParameter(what)
            | Error::InvalidPlaintext(what) => write!(f, "invalid request: {what}"),
            Error::TooManyDevices(max) => {
                write!(f, "invalid request: at most {max} devices per key")
            }
            Error::Signature(why) => f.write_str(match why {
                crate::tc3::Failure::Malformed => {
                    "authentication failed: the TC3-HMAC-SHA256 Authorization or X-TC-Timestamp is malformed"
                }
                crate::tc3::Failure::Expired => {
                    "authentication failed: X-TC-Timestamp is more than 300 s from the server's clock"
                }
                // The same answer for both, so that a SecretId cannot be tested alone.
                crate::tc3::Failure::UnknownSecretId | crate::tc3::Failure::BadSignature => {
                    "authentication failed: the signature does not match an active access key"
                }
                crate::tc3::Failure::Replayed => {
                    "authentication failed: this signed request was already accepted once (a replay); sign each request anew"
                }
                crate::tc3::Failure::WrongHost => {
                    "authentication failed: the signed Host is not a name of this service (wbkms serve --public-host)"
                }
            }),
            Error::UnsupportedVersion => {
                f.write_str("X-TC-Version must be 2019-01-18, the KMS API version this service implements")
            }
            Error::InsecureListen => f.write_str(
                "plain HTTP is served only on loopback: give --tls-cert and --tls-key, or --insecure-http",
            ),
            Error::PayloadTooLarge => f.write_str("the request body is too large"),
            Error::NotFound => f.write_str("no such resource: the API is POST /"),
            Error::Store(e) => e.fmt(f),
            Error::AuditUnavailable => f.write_str(
                "the audit record of this request could not be written, so its answer is withheld: a change it made may have taken effect (check the key's state before retrying) and the store needs attention (database reachable, disk not full)",
            ),
            Error::TokensCorrupt(what) => write!(f, "access tokens damaged: {what}"),
            Error::AuditBroken {
                instance,
                seq,
                reason,
            } => write!(
                f,
                "the audit chain of instance {instance:?} is broken at record {seq}: {reason} (restore the store from a backup)"
            ),
            Error::Io { op, kind } => write!(f, "cannot {op}: {kind}"),
            Error::Tls(what) => write!(f, "TLS: {what}"),
            Error::Internal => f.write_str("internal error"),
            Error::UnsupportedMediaType => f.write_str(
                "the request body must be JSON, sent with Content-Type: application/json",
            ),
            Error::RequestTimeout => f.write_str(
                "the request body did not arrive in time: send the whole body within the server's body timeout",
            ),
            Error::CredentialNotFound => {
                f.write_str("no token or access key with that id (TokenId tok-…, SecretId AKID…)")
            }
            Error::MalformedRequest => f.write_str("the bytes received are not an HTTP request"),
            Error::Usage(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {}

impl From<wbstore::Error> for Error {
    fn from(e: wbstore::Error) -> Self {
        wbgen::Error::from(e).into()
    }
}

impl From<wbgen::Error> for Error {
    fn from(e: wbgen::Error) -> Self {
        // The audit log is the store's, but its failures keep the service's codes.
        match e {
            wbgen::Error::AuditUnavailable => Error::AuditUnavailable,
            wbgen::Error::AuditBroken { line, reason } => Error::AuditBroken {
                instance: wbstore::audit::LEGACY_CHAIN.into(),
                seq: line,
                reason,
            },
            wbgen::Error::Store(wbstore::Error::AuditBroken {
                instance,
                seq,
                reason,
            }) => Error::AuditBroken {
                instance,
                seq,
                reason,
            },
            e => Error::Store(e),
        }
    }
}

/// Maps an I/O error to [`Error::Io`] naming the operation.
pub(crate) fn io(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Io { op, kind: e.kind() }
}
