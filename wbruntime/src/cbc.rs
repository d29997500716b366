//! CBC chaining and constant-time PKCS#7 unpadding (NIST SP 800-38A §6.2; RFC 5652 §6.3).
//!
//! With external encoding the chaining is on the ciphertext blocks as stored, so
//! `P_i = D_K(F⁻¹(C_i)) ⊕ C_{i-1}` with `C_0 = IV`: the tables compute `D_K ∘ F⁻¹` and this
//! module does the rest, identically for both modes.

#![warn(clippy::indexing_slicing)]

use subtle::{Choice, ConstantTimeEq, ConstantTimeGreater};

use crate::Error;

/// Block length of AES and SM4.
pub const BLOCK_LEN: usize = 16;

/// The public CBC contract shared by every key type: checks the IV length, decrypts `buf` in
/// place with `decrypt_blocks` (batches of up to `chain.len()` blocks, see
/// [`decrypt_in_place`]) and returns the plaintext prefix; on any error `buf` is zeroed (the
/// blocks are decrypted even when the padding is wrong: no plaintext is left behind).
///
/// # Errors
/// [`Error::InvalidIv`] if `iv` is not 16 bytes; [`Error::DecryptionFailed`] as
/// [`decrypt_in_place`].
pub(crate) fn decrypt_prefix<'b>(
    decrypt_blocks: impl Fn(&mut [[u8; BLOCK_LEN]]),
    iv: &[u8],
    buf: &'b mut [u8],
    chain: &mut [[u8; BLOCK_LEN]],
) -> Result<&'b mut [u8], Error> {
    let iv: &[u8; BLOCK_LEN] = iv
        .try_into()
        .map_err(|_| Error::InvalidIv { len: iv.len() })?;
    match decrypt_in_place(decrypt_blocks, iv, buf, chain) {
        Ok(len) => Ok(buf.get_mut(..len).unwrap_or_default()),
        Err(e) => {
            zeroize::Zeroize::zeroize(buf);
            Err(e)
        }
    }
}

/// [`decrypt_prefix`] on a zeroizing copy of `ciphertext`, truncated to the plaintext.
///
/// # Errors
/// As [`decrypt_prefix`].
#[cfg(feature = "alloc")]
pub(crate) fn decrypt_to_vec(
    decrypt_blocks: impl Fn(&mut [[u8; BLOCK_LEN]]),
    iv: &[u8],
    ciphertext: &[u8],
    chain: &mut [[u8; BLOCK_LEN]],
) -> Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>, Error> {
    let mut buf = zeroize::Zeroizing::new(ciphertext.to_vec());
    let len = decrypt_prefix(decrypt_blocks, iv, &mut buf, chain)?.len();
    buf.truncate(len);
    Ok(buf)
}

/// CBC-decrypts `buf` in place with `decrypt_blocks` (which decrypts whole blocks in place,
/// any number at once) and returns the unpadded length. `chain` is where each batch's
/// ciphertext is kept for chaining: batches of `chain.len()` blocks (one at a time if it is
/// empty) from the end of the message, so the first batch may be shorter.
///
/// Any failure, whether an empty buffer, a length that is not a whole number of blocks, or bad
/// padding, is the one opaque [`Error::DecryptionFailed`]; padding is checked in constant time.
pub(crate) fn decrypt_in_place(
    decrypt_blocks: impl Fn(&mut [[u8; BLOCK_LEN]]),
    iv: &[u8; BLOCK_LEN],
    buf: &mut [u8],
    chain: &mut [[u8; BLOCK_LEN]],
) -> Result<usize, Error> {
    let (blocks, rest) = buf.as_chunks_mut::<BLOCK_LEN>();
    if blocks.is_empty() || !rest.is_empty() {
        return Err(Error::DecryptionFailed);
    }
    // Decrypt from the last block backwards in batches so that each batch's chaining value (the
    // ciphertext block before it) is still intact when the batch is XORed; no copy of the
    // ciphertext is needed.
    let batch_len = chain.len().max(1);
    let mut end = blocks.len();
    while end > 0 {
        let start = end.saturating_sub(batch_len);
        let chain_last = match start.checked_sub(1).and_then(|i| blocks.get(i)) {
            Some(prev) => *prev,
            None => *iv,
        };
        let Some(batch) = blocks.get_mut(start..end) else {
            return Err(Error::DecryptionFailed);
        };
        // Keep the batch's own ciphertext for chaining inside the batch.
        for (c, b) in chain.iter_mut().zip(batch.iter()) {
            *c = *b;
        }
        decrypt_blocks(batch);
        for (i, b) in batch.iter_mut().enumerate() {
            let prev = match i.checked_sub(1).and_then(|j| chain.get(j)) {
                Some(c) => c,
                None => &chain_last,
            };
            *b = (u128::from_ne_bytes(*b) ^ u128::from_ne_bytes(*prev)).to_ne_bytes();
        }
        end = start;
    }
    unpadded_len(buf).ok_or(Error::DecryptionFailed)
}

/// Buffer-to-buffer decryption for every key type: checks the IV, copies `ciphertext` into the
/// first `ciphertext.len()` bytes of `out` and decrypts it there with `in_place` (a key's
/// `decrypt_cbc_in_place`); returns the plaintext length.
///
/// # Errors
/// [`Error::InvalidIv`], [`Error::BufferTooSmall`], or what `in_place` returns.
pub(crate) fn decrypt_into(
    iv: &[u8],
    ciphertext: &[u8],
    out: &mut [u8],
    in_place: impl FnOnce(&[u8], &mut [u8]) -> Result<usize, Error>,
) -> Result<usize, Error> {
    if iv.len() != BLOCK_LEN {
        return Err(Error::InvalidIv { len: iv.len() });
    }
    let needed = ciphertext.len();
    let work = out
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed })?;
    work.copy_from_slice(ciphertext);
    in_place(iv, work)
}

/// The CBC ciphertext length of a `len`-byte plaintext under PKCS#7: always at least one byte
/// of padding, so the next whole block.
pub const fn padded_len(len: usize) -> usize {
    (len / BLOCK_LEN + 1) * BLOCK_LEN
}

/// CBC-encrypts `plaintext` with PKCS#7 padding (SP 800-38A §6.2: `C_i = E(P_i ⊕ C_{i−1})`,
/// `C_0 = IV`) into `out` with the block cipher `encrypt_block`; returns the ciphertext
/// length. Every intermediate plaintext block is wiped.
///
/// # Errors
/// [`Error::InvalidIv`] if `iv` is not 16 bytes; [`Error::BufferTooSmall`] if `out` is shorter
/// than [`padded_len`].
pub(crate) fn encrypt(
    encrypt_block: impl Fn(&mut [u8; BLOCK_LEN]),
    iv: &[u8],
    plaintext: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    let iv: &[u8; BLOCK_LEN] = iv
        .try_into()
        .map_err(|_| Error::InvalidIv { len: iv.len() })?;
    let needed = padded_len(plaintext.len());
    let out = out
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed })?;
    let pad = (needed - plaintext.len()) as u8;
    let mut prev = *iv;
    let (blocks, _) = out.as_chunks_mut::<BLOCK_LEN>();
    for (i, c) in blocks.iter_mut().enumerate() {
        let mut p = [pad; BLOCK_LEN];
        let from = plaintext.get(i * BLOCK_LEN..).unwrap_or_default();
        for (d, s) in p.iter_mut().zip(from) {
            *d = *s;
        }
        for (d, x) in p.iter_mut().zip(prev) {
            *d ^= x;
        }
        encrypt_block(&mut p);
        *c = p;
        prev = p;
        zeroize::Zeroize::zeroize(&mut p);
    }
    Ok(needed)
}

/// The length of `buf` without its PKCS#7 padding, or `None` if the padding is wrong.
///
/// Runs in time independent of the padding bytes' values: every one of the last 16 bytes is
/// inspected and the verdict is combined with `subtle` before the one final branch.
pub(crate) fn unpadded_len(buf: &[u8]) -> Option<usize> {
    let tail_start = buf.len().checked_sub(BLOCK_LEN)?;
    let tail = buf.get(tail_start..)?;
    let n = *tail.last()?;
    let mut ok: Choice = n.ct_gt(&0) & !n.ct_gt(&(BLOCK_LEN as u8));
    for (i, &b) in tail.iter().enumerate() {
        // Byte i of the tail is padding iff its distance from the end, 16 - i, is <= n.
        let distance = (BLOCK_LEN - i) as u8;
        let in_padding = !distance.ct_gt(&n);
        ok &= !in_padding | b.ct_eq(&n);
    }
    if bool::from(ok) {
        Some(buf.len() - usize::from(n))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_accepts_exactly_the_valid_forms() {
        for n in 1..=16u8 {
            let mut block = [0xa5u8; 16];
            for b in &mut block[16 - usize::from(n)..] {
                *b = n;
            }
            assert_eq!(unpadded_len(&block), Some(16 - usize::from(n)));
            // Corrupt each padding byte in turn (every position of the padding).
            for pos in 16 - usize::from(n)..15 {
                let mut bad = block;
                bad[pos] ^= 0x01;
                assert_eq!(unpadded_len(&bad), None, "n={n} pos={pos}");
            }
        }
        assert_eq!(unpadded_len(&[0u8; 16]), None);
        assert_eq!(unpadded_len(&[17u8; 16]), None);
        assert_eq!(unpadded_len(&[0xffu8; 16]), None);
        assert_eq!(unpadded_len(&[1u8; 15]), None);
        let mut two = [16u8; 32];
        two[0] = 0;
        assert_eq!(unpadded_len(&two), Some(16));
    }

    #[test]
    fn chaining_matches_the_definition() {
        // A toy "cipher" (XOR with a constant) makes the chaining checkable by hand, across the
        // batch boundaries too.
        let toy = |blocks: &mut [[u8; 16]]| {
            for b in blocks {
                for x in b.iter_mut() {
                    *x ^= 0x5c;
                }
            }
        };
        let iv = [7u8; 16];
        for nblocks in [1usize, 2, 63, 64, 65, 130] {
            let mut plain: std::vec::Vec<u8> = (0..nblocks * 16 - 3).map(|i| i as u8).collect();
            plain.extend_from_slice(&[3, 3, 3]);
            // Encrypt: C_i = E(P_i ^ C_{i-1}) with E = the same XOR.
            let mut ct = plain.clone();
            let mut prev = iv;
            for block in ct.chunks_mut(16) {
                for (x, p) in block.iter_mut().zip(prev) {
                    *x ^= p ^ 0x5c;
                }
                prev.copy_from_slice(block);
            }
            // Any chaining batch gives the same result, including batches that do not divide
            // the message and none at all (block by block).
            for batch in [0usize, 1, 3, 64, 256] {
                let mut buf = ct.clone();
                let mut chain = std::vec![[0u8; 16]; batch];
                let len = decrypt_in_place(toy, &iv, &mut buf, &mut chain).unwrap();
                assert_eq!(
                    &buf[..len],
                    &plain[..plain.len() - 3],
                    "{nblocks} blocks, {batch}"
                );
            }
        }
    }

    #[test]
    fn lengths_that_are_not_whole_blocks_fail_opaquely() {
        let noop = |_: &mut [[u8; 16]]| {};
        for len in [0usize, 1, 15, 17, 31] {
            let mut buf = std::vec![16u8; len];
            assert_eq!(
                decrypt_in_place(noop, &[0; 16], &mut buf, &mut [[0; 16]; 4]),
                Err(Error::DecryptionFailed)
            );
        }
    }
}
