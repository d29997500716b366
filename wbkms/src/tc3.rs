//! TC3-HMAC-SHA256, the cloud API's request signature, verified as the public algorithm
//! defines it (Tencent Cloud API 3.0, "Signature v3").
//!
//! The client signs
//!
//! ```text
//! CanonicalRequest = METHOD \n "/" \n QUERY \n CanonicalHeaders \n SignedHeaders \n hex(SHA-256(body))
//! CanonicalHeaders = for each header named in SignedHeaders (lower case, sorted):
//!                    name ":" lower(trim(value)) \n
//! StringToSign     = "TC3-HMAC-SHA256" \n TIMESTAMP \n DATE "/" SERVICE "/tc3_request" \n
//!                    hex(SHA-256(CanonicalRequest))
//! k_date = HMAC("TC3" ‖ SecretKey, DATE); k_service = HMAC(k_date, SERVICE);
//! k_signing = HMAC(k_service, "tc3_request"); Signature = hex(HMAC(k_signing, StringToSign))
//! ```
//!
//! and sends `Authorization: TC3-HMAC-SHA256 Credential=SECRETID/DATE/SERVICE/tc3_request,
//! SignedHeaders=content-type;host, Signature=HEX` with `X-TC-Timestamp`. The server recomputes
//! the signature with the secret key it holds for `SECRETID` and compares in constant time.
//! What the signature gives: the request (method, signed headers, body) came from a holder of
//! the secret key and was not changed. What it does not: secrecy (TLS does that), or freshness
//! beyond the timestamp window ([`MAX_SKEW`]): a captured request can be replayed inside it.

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The algorithm name.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The service name in the credential scope.
pub const SERVICE: &str = "kms";
/// Largest accepted difference between `X-TC-Timestamp` and the server's clock, in seconds.
pub const MAX_SKEW: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a signed request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No or malformed `Authorization`, `X-TC-Timestamp`, scope or signed headers.
    Malformed,
    /// The timestamp is more than [`MAX_SKEW`] from now.
    Expired,
    /// No active access key with this SecretId.
    UnknownSecretId,
    /// The signature does not match.
    BadSignature,
    /// A correct signature already accepted once (a replayed request).
    Replayed,
    /// A correct signature over a `host` that is not this service's name.
    WrongHost,
}

/// The parts of an `Authorization: TC3-HMAC-SHA256 …` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The SecretId.
    pub secret_id: &'a str,
    /// `YYYY-MM-DD`.
    pub date: &'a str,
    /// The service of the scope.
    pub service: &'a str,
    /// Header names, lower case, `;`-separated as sent.
    pub signed_headers: &'a str,
    /// Lower-case hex.
    pub signature: &'a str,
}

/// The SecretId an `Authorization` header names, if it has the form of one (`AKID` and up to
/// 60 letters and digits): what failed signatures are counted and recorded against.
pub fn secret_id(authorization: &str) -> Option<&str> {
    parse_authorization(authorization)
        .ok()
        .map(|a| a.secret_id)
        .filter(|id| {
            id.len() <= 64
                && id.starts_with("AKID")
                && id.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Parses the header.
///
/// # Errors
/// [`Failure::Malformed`].
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, Failure> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or(Failure::Malformed)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(Failure::Malformed)?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return Err(Failure::Malformed),
        }
    }
    let credential = credential.ok_or(Failure::Malformed)?;
    let mut scope = credential.split('/');
    let (Some(secret_id), Some(date), Some(service), Some("tc3_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(Failure::Malformed);
    };
    let signed_headers = signed.ok_or(Failure::Malformed)?;
    let signature = signature.ok_or(Failure::Malformed)?;
    if secret_id.is_empty() || signature.len() != 64 {
        return Err(Failure::Malformed);
    }
    Ok(Authorization {
        secret_id,
        date,
        service,
        signed_headers,
        signature,
    })
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut m = <HmacSha256 as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// The canonical request: `headers` are (name, value) pairs as received; only those named in
/// `signed_headers` are used, each of which must be present exactly once.
///
/// # Errors
/// [`Failure::Malformed`] when a signed header is missing or repeated, or `content-type` or
/// `host` is not signed (the algorithm requires both).
pub fn canonical_request(
    method: &str,
    query: &str,
    headers: &[(&str, &str)],
    signed_headers: &str,
    body: &[u8],
) -> Result<String, Failure> {
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err(Failure::Malformed);
    }
    // The client lists them sorted; a list that is not is not one a client made.
    if names.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Failure::Malformed);
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let mut values = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v);
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(Failure::Malformed);
        };
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&value.trim().to_ascii_lowercase());
        canonical_headers.push('\n');
    }
    Ok(format!(
        "{method}\n/\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        sha256_hex(body)
    ))
}

/// The signature of a canonical request.
pub fn signature(
    secret_key: &str,
    timestamp: i64,
    date: &str,
    service: &str,
    canonical: &str,
) -> String {
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    let k_signing = hmac(&k_service, b"tc3_request");
    hex::encode(hmac(&k_signing, string_to_sign.as_bytes()))
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp.
pub fn utc_date(timestamp: i64) -> Option<String> {
    let t = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(
        u64::try_from(timestamp).ok()?,
    ))?;
    Some(humantime::format_rfc3339_seconds(t).to_string()[..10].to_owned())
}

/// A signed request as received.
pub struct Request<'a> {
    /// `POST`.
    pub method: &'a str,
    /// The raw query string (empty for POST).
    pub query: &'a str,
    /// Every header, as received.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
    /// `X-TC-Timestamp`.
    pub timestamp: &'a str,
    /// `Authorization`.
    pub authorization: &'a str,
}

/// Verifies a request: the header's form, the scope (`DATE/kms/tc3_request` with the
/// timestamp's UTC date), the timestamp against `now`, then the signature under the secret
/// key `lookup` returns for the SecretId (checked last, so that an unknown id costs as much as
/// a known one only after the cheap checks). Returns the SecretId and what `lookup` gave.
///
/// # Errors
/// The [`Failure`].
pub fn verify<T>(
    req: &Request<'_>,
    now: i64,
    lookup: impl FnOnce(&str) -> Option<(zeroize::Zeroizing<String>, T)>,
) -> Result<(String, T), Failure> {
    let auth = parse_authorization(req.authorization)?;
    let timestamp: i64 = req
        .timestamp
        .trim()
        .parse()
        .map_err(|_| Failure::Malformed)?;
    if (now - timestamp).abs() > MAX_SKEW {
        return Err(Failure::Expired);
    }
    if auth.service != SERVICE || Some(auth.date) != utc_date(timestamp).as_deref() {
        return Err(Failure::BadSignature);
    }
    let canonical = canonical_request(
        req.method,
        req.query,
        req.headers,
        auth.signed_headers,
        req.body,
    )?;
    // An unknown SecretId costs the same signature computation as a known one, and its
    // answer is the same (the service's error texts and codes): a leaked SecretId cannot be
    // tested without its SecretKey.
    let found = lookup(auth.secret_id);
    let secret = found
        .as_ref()
        .map_or("not an access key's secret", |(s, _)| s.as_str());
    let expected = signature(secret, timestamp, auth.date, auth.service, &canonical);
    let matches = bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes()));
    match found {
        Some((_, found)) if matches => Ok((auth.secret_id.to_owned(), found)),
        Some(_) => Err(Failure::BadSignature),
        None => Err(Failure::UnknownSecretId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of the public "Signature v3" documentation: CVM DescribeInstances,
    // SecretId AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE, SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE,
    // timestamp 1551113065, with its published intermediate hashes and signature.
    const BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const HEADERS: &[(&str, &str)] = &[
        ("Content-Type", "application/json; charset=utf-8"),
        ("Host", "cvm.tencentcloudapi.com"),
        ("X-TC-Action", "DescribeInstances"),
    ];

    #[test]
    fn the_published_example() {
        assert_eq!(
            sha256_hex(BODY.as_bytes()),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let canonical =
            canonical_request("POST", "", HEADERS, "content-type;host", BODY.as_bytes()).unwrap();
        assert_eq!(
            canonical,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(utc_date(1_551_113_065).unwrap(), "2019-02-25");
        assert_eq!(
            signature(
                "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
                1_551_113_065,
                "2019-02-25",
                "cvm",
                &canonical
            ),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        let auth = parse_authorization(
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
        )
        .unwrap();
        assert_eq!(
            (auth.secret_id, auth.date, auth.service),
            ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "2019-02-25", "cvm")
        );
    }

    fn request<'a>(
        auth: &'a str,
        ts: &'a str,
        body: &'a [u8],
        headers: &'a [(&'a str, &'a str)],
    ) -> Request<'a> {
        Request {
            method: "POST",
            query: "",
            headers,
            body,
            timestamp: ts,
            authorization: auth,
        }
    }

    #[test]
    fn verification_refuses_every_change() {
        let headers: &[(&str, &str)] = &[
            ("content-type", "application/json"),
            ("host", "127.0.0.1:9"),
        ];
        let ts = 1_700_000_000i64;
        let body = br#"{"KeyId":"x"}"#;
        let canonical = canonical_request("POST", "", headers, "content-type;host", body).unwrap();
        let date = utc_date(ts).unwrap();
        let sig = signature("secret", ts, &date, SERVICE, &canonical);
        let auth = format!(
            "TC3-HMAC-SHA256 Credential=AKIDtest/{date}/kms/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
        );
        let key = |id: &str| {
            (id == "AKIDtest").then(|| (zeroize::Zeroizing::new("secret".to_owned()), ()))
        };
        let tss = ts.to_string();
        assert!(verify(&request(&auth, &tss, body, headers), ts + 10, key).is_ok());
        // Another body, host, timestamp, scope, id or key.
        assert_eq!(
            verify(&request(&auth, &tss, br#"{"KeyId":"y"}"#, headers), ts, key),
            Err(Failure::BadSignature)
        );
        let other_host: &[(&str, &str)] = &[
            ("content-type", "application/json"),
            ("host", "127.0.0.1:10"),
        ];
        assert_eq!(
            verify(&request(&auth, &tss, body, other_host), ts, key),
            Err(Failure::BadSignature)
        );
        let later = (ts + 1).to_string();
        assert_eq!(
            verify(&request(&auth, &later, body, headers), ts, key),
            Err(Failure::BadSignature)
        );
        assert_eq!(
            verify(&request(&auth, &tss, body, headers), ts + MAX_SKEW + 1, key),
            Err(Failure::Expired)
        );
        assert_eq!(
            verify(&request(&auth, &tss, body, headers), ts - MAX_SKEW - 1, key),
            Err(Failure::Expired)
        );
        let cvm = auth.replace("/kms/", "/cvm/");
        assert_eq!(
            verify(&request(&cvm, &tss, body, headers), ts, key),
            Err(Failure::BadSignature)
        );
        let stranger = auth.replace("AKIDtest", "AKIDother");
        assert_eq!(
            verify(&request(&stranger, &tss, body, headers), ts, key),
            Err(Failure::UnknownSecretId)
        );
        let wrong_key = |_: &str| Some((zeroize::Zeroizing::new("other".to_owned()), ()));
        assert_eq!(
            verify(&request(&auth, &tss, body, headers), ts, wrong_key),
            Err(Failure::BadSignature)
        );
        // Malformed headers, and signed-header lists without content-type and host.
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "HMAC Credential=a/b/kms/tc3_request, SignedHeaders=host, Signature=00",
            &auth.replace("content-type;host", "host"),
        ] {
            assert_eq!(
                verify(&request(bad, &tss, body, headers), ts, key).err(),
                Some(Failure::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(&request(&auth, "soon", body, headers), ts, key).err(),
            Some(Failure::Malformed)
        );
        let missing: &[(&str, &str)] = &[("host", "127.0.0.1:9")];
        assert_eq!(
            verify(&request(&auth, &tss, body, missing), ts, key).err(),
            Some(Failure::Malformed)
        );
    }
}
