//! The application-facing call, `whitebox_decrypt`, and key-file loading (feature `std`).

#![warn(clippy::indexing_slicing)]

use std::path::Path;
use std::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::format::MAX_FILE_LEN;
use crate::{Algorithm, Backend, Error, IoReason, WhiteboxKey};

/// Reads a key file from disk, refusing anything larger than a key file can be before reading
/// it whole.
///
/// # Errors
/// [`Error::Io`] with the reason.
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Read as _;

    let io = |e: std::io::Error| Error::Io {
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => IoReason::NotFound,
            std::io::ErrorKind::PermissionDenied => IoReason::PermissionDenied,
            std::io::ErrorKind::IsADirectory => IoReason::IsADirectory,
            _ => IoReason::Other,
        },
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::Io {
            reason: IoReason::IsADirectory,
        });
    }
    // Refuse an oversized file before reading anything (the read below is bounded too, in case
    // the size changes or the metadata does not tell).
    if meta.len() > MAX_FILE_LEN as u64 {
        return Err(Error::Io {
            reason: IoReason::TooLarge,
        });
    }
    // The whole file in one allocation (no regrowth while reading: a 900 KB file read into an
    // empty vector is copied eight times over); the one byte more is the end-of-file probe.
    let mut bytes = Vec::with_capacity((meta.len() as usize).saturating_add(1));
    crate::huge_pages::advise(&mut bytes);
    // Read at most one byte more than the limit, so an oversized file is detected without
    // trusting the size that metadata reports.
    file.take(MAX_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_FILE_LEN {
        return Err(Error::Io {
            reason: IoReason::TooLarge,
        });
    }
    Ok(bytes)
}

/// Decrypts a secret the way business applications do: the key file `key_file` in directory
/// `key_dir`, a Base64 IV and ciphertext (CBC, PKCS#7), and the algorithm number
/// (0 = AES-256, 1 = SM4). Returns the plaintext in a zeroizing buffer. A key file bound to
/// devices decrypts only on them: this device's fingerprint is collected when needed.
///
/// Arguments are checked before the file is read: an unknown algorithm, bad Base64 or an IV
/// that is not 16 bytes fail without touching the disk.
///
/// A long message runs on the process's backend ([`crate::auto`]: the fastest this CPU has,
/// or `WBRUNTIME_BACKEND`), re-laying the tables out for it first; from
/// [`crate::auto::one_shot_min_blocks`] on that is faster than the scalar network, which
/// shorter messages take.
///
/// # Errors
/// Any [`Error`]; decryption failures of every kind are the one opaque
/// [`Error::DecryptionFailed`].
pub fn whitebox_decrypt(
    key_dir: impl AsRef<Path>,
    key_file: &str,
    iv_b64: &str,
    ciphertext_b64: &str,
    algorithm: u32,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    whitebox_decrypt_with_fingerprint(key_dir, key_file, iv_b64, ciphertext_b64, algorithm, None)
}

/// [`whitebox_decrypt`] with this device's fingerprint given explicitly (`None`: collect it
/// from the machine, and only if the key file is bound).
///
/// # Errors
/// As `whitebox_decrypt`; [`Error::DeviceNotBound`] if the key file is bound to other
/// devices; [`Error::FingerprintUnavailable`] if the fingerprint was needed and could not be
/// collected.
pub fn whitebox_decrypt_with_fingerprint(
    key_dir: impl AsRef<Path>,
    key_file: &str,
    iv_b64: &str,
    ciphertext_b64: &str,
    algorithm: u32,
    fingerprint: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let algorithm = checked_algorithm(algorithm)?;
    let iv = decode_iv(iv_b64)?;
    // Decrypted in place: the buffer holds the plaintext afterwards, so it is a zeroizing one
    // from the start.
    let mut buf = Zeroizing::new(decode_ciphertext(ciphertext_b64)?);
    let backend = crate::auto::process_backend()?;
    let bytes = read_key_file(&key_dir.as_ref().join(key_file))?;
    let key = WhiteboxKey::load(&bytes, Some(algorithm), || match fingerprint {
        Some(fp) => Ok(std::string::String::from(fp)),
        None => device_fingerprint(),
    })?;
    let blocks = buf.len() / crate::BLOCK_LEN;
    let len = match crate::auto::backend_for(&key, backend, blocks, crate::auto::Surface::OneShot) {
        Backend::Soft => key.decrypt_cbc_in_place(&iv, &mut buf)?.len(),
        chosen if key.space_hard() && blocks < crate::auto::space_hard_relayout_min_blocks() => key
            .accelerate_without_relayout(chosen)?
            .decrypt_cbc_in_place(&iv, &mut buf)?
            .len(),
        chosen => key
            .accelerate_with(chosen)?
            .decrypt_cbc_in_place(&iv, &mut buf)?
            .len(),
    };
    buf.truncate(len);
    Ok(buf)
}

/// Encrypts a secret with a space-hard key file (the KMS "EncryptKey" on a device that must
/// produce ciphertext): the key file `key_file` in `key_dir`, a Base64 IV (16 bytes; the
/// caller draws it at random for every message), the plaintext, and the algorithm number.
/// Returns the Base64 ciphertext (CBC, PKCS#7), which [`whitebox_decrypt`] and the
/// administrator's tools decrypt. A key file bound to devices encrypts only on them.
///
/// # Errors
/// As [`whitebox_decrypt`] for the arguments and the key file;
/// [`Error::EncryptionUnsupported`] for external- and standard-mode files, whose tables only
/// decrypt.
pub fn whitebox_encrypt(
    key_dir: impl AsRef<Path>,
    key_file: &str,
    iv_b64: &str,
    plaintext: &[u8],
    algorithm: u32,
) -> Result<std::string::String, Error> {
    whitebox_encrypt_with_fingerprint(key_dir, key_file, iv_b64, plaintext, algorithm, None)
}

/// [`whitebox_encrypt`] with this device's fingerprint given explicitly (`None`: collect it
/// from the machine, and only if the key file is bound).
///
/// # Errors
/// As [`whitebox_encrypt`]; [`Error::DeviceNotBound`], [`Error::FingerprintUnavailable`].
pub fn whitebox_encrypt_with_fingerprint(
    key_dir: impl AsRef<Path>,
    key_file: &str,
    iv_b64: &str,
    plaintext: &[u8],
    algorithm: u32,
    fingerprint: Option<&str>,
) -> Result<std::string::String, Error> {
    let algorithm = checked_algorithm(algorithm)?;
    let iv = decode_iv(iv_b64)?;
    // The same answer to a bad WBRUNTIME_BACKEND as every other surface, though encryption
    // (CBC-chained) always runs on the scalar rounds.
    crate::auto::process_backend()?;
    let bytes = read_key_file(&key_dir.as_ref().join(key_file))?;
    let key = WhiteboxKey::load(&bytes, Some(algorithm), || match fingerprint {
        Some(fp) => Ok(std::string::String::from(fp)),
        None => device_fingerprint(),
    })?;
    key.encrypt_cbc_to_vec(&iv, plaintext)
        .map(|ct| STANDARD.encode(ct))
}

fn checked_algorithm(algorithm: u32) -> Result<Algorithm, Error> {
    let algorithm = Algorithm::from_number(algorithm)?;
    if !algorithm.is_supported() {
        return Err(Error::UnsupportedAlgorithm {
            found: algorithm.number(),
        });
    }
    Ok(algorithm)
}

/// The ciphertext's bytes: standard Base64 with padding, as the `base64` crate's `STANDARD`
/// takes it (the SIMD decoder is four times faster on large messages; a text the two would
/// judge differently is refused, so both decoders accept exactly the same inputs).
fn decode_ciphertext(text: &str) -> Result<Vec<u8>, Error> {
    let bad = || Error::InvalidBase64 {
        field: "ciphertext",
    };
    let text = text.trim();
    let bytes = base64_simd::STANDARD
        .decode_to_vec(text)
        .map_err(|_| bad())?;
    // base64-simd may accept non-zero bits after the last byte of a padded quantum, which the
    // `base64` crate refuses: re-encoding that quantum must give the text's own last four
    // characters.
    let partial = bytes.len() % 3;
    if partial != 0 {
        let last = bytes.get(bytes.len() - partial..).unwrap_or_default();
        if !text.ends_with(STANDARD.encode(last).as_str()) {
            return Err(bad());
        }
    }
    Ok(bytes)
}

fn decode_iv(iv_b64: &str) -> Result<Vec<u8>, Error> {
    let iv = STANDARD
        .decode(iv_b64.trim())
        .map_err(|_| Error::InvalidBase64 { field: "iv" })?;
    if iv.len() != crate::BLOCK_LEN {
        return Err(Error::InvalidIv { len: iv.len() });
    }
    Ok(iv)
}

/// This device's fingerprint, as `wbfingerprint` prints it.
///
/// # Errors
/// [`Error::FingerprintUnavailable`] if the machine offers no usable identifier.
pub fn device_fingerprint() -> Result<std::string::String, Error> {
    fingerprint::current()
        .map(|f| std::string::String::from(f.as_str()))
        .map_err(|_| Error::FingerprintUnavailable)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A file large enough for huge pages (`huge_pages::advise`) reads back byte for byte, as a
    /// small one does.
    #[test]
    fn large_files_read_back_exactly() {
        let dir = std::env::temp_dir().join(std::format!("wbruntime-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [1000usize, (33 << 20) + 12345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 131 + (i >> 13)) as u8).collect();
            let path = dir.join(std::format!("{len}.bin"));
            std::fs::write(&path, &data).unwrap();
            assert!(read_key_file(&path).unwrap() == data, "{len} bytes");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The SIMD ciphertext decoder accepts exactly what the `base64` crate's `STANDARD` does.
    #[test]
    fn ciphertext_decoder_agrees_with_the_base64_crate() {
        let mut inputs: Vec<std::string::String> = [
            "", "=", "==", "A", "AA", "AAA", "AAAA", "AA==", "AB==", "AAA=", "AAB=", "A===",
            "AAAA====", "AA=A", "Zg==", "Zh==", "Zm8=", "Zm9=", "Zm9v", " Zm9v ", "Zm 9v",
            "Zm9v\n", "*m9v", "Zm9vYg", "Zm9vYg==", "Zm9vYh==", "-_-_", "+/+/",
        ]
        .iter()
        .map(|s| std::string::String::from(*s))
        .collect();
        // Every 2- and 3-byte message, encoded, and with its last character changed.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for n in 0..2000u32 {
            let msg = n.to_be_bytes();
            for len in [1usize, 2, 4] {
                let text = STANDARD.encode(&msg[4 - len..]);
                let mut bytes = text.clone().into_bytes();
                let at = text.trim_end_matches('=').len() - 1;
                bytes[at] = alphabet[(n as usize * 7) % 64];
                inputs.push(text);
                inputs.push(std::string::String::from_utf8(bytes).unwrap());
            }
        }
        for text in &inputs {
            let want = STANDARD.decode(text.trim()).ok();
            let got = decode_ciphertext(text).ok();
            assert_eq!(got, want, "{text:?}");
        }
    }
}
