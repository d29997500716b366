//! Space-hard keys on the administrator's side: the table `T[x] = F(x)` that the key file
//! carries, and the plain reference Feistel that the encryptor runs.
//!
//! The construction (after Bogdanov–Isobe, CCS 2015, §3; `docs/space-hard.md` has it in full
//! and the differences from the paper) is stated in `wbruntime::space_hard`. This module is
//! written from the definition, line by line on byte strings, and calls the cipher once per
//! round: it shares nothing with the runtime's table evaluation (`u128` rotations, windows
//! into the table), so the tests that compare the two compare two independent routes.

use cipher::{Block, BlockCipherEncrypt};
use zeroize::{Zeroize, Zeroizing};

pub use wbruntime::space_hard::LineBits;
use wbruntime::space_hard::SECTION_HEADER_LEN;

const BLOCK: usize = 16;

/// `n / 8`: bytes of the line `x_0`.
const fn line_len(bits: LineBits) -> usize {
    bits.bits() as usize / 8
}

/// `E_K(0^{128−n} ‖ x)` for the `n / 8` bytes `x`; `F(x)` is its first `(128 − n) / 8` bytes.
fn cipher_of_line<C: BlockCipherEncrypt>(c: &C, x: &[u8]) -> Zeroizing<[u8; BLOCK]> {
    let mut b = Block::<C>::default();
    let start = BLOCK - x.len();
    b[start..].copy_from_slice(x);
    c.encrypt_block(&mut b);
    let mut out = Zeroizing::new([0u8; BLOCK]);
    out.copy_from_slice(&b);
    b.zeroize();
    out
}

/// `⟨r⟩`: `r` as a `(128 − n)`-bit big-endian integer, in `(128 − n) / 8` bytes (at the front
/// of the returned array).
fn round_constant(bits: LineBits, r: u32) -> [u8; BLOCK] {
    let w = bits.entry_len();
    let mut out = [0u8; BLOCK];
    out[w - 4..w].copy_from_slice(&r.to_be_bytes());
    out
}

/// One encryption round `r`: `(x_0, rest) → (rest ⊕ F(x_0) ⊕ ⟨r⟩, x_0)`.
fn encrypt_round<C: BlockCipherEncrypt>(c: &C, bits: LineBits, r: u32, s: &mut [u8; BLOCK]) {
    let k = line_len(bits);
    let w = bits.entry_len();
    let f = cipher_of_line(c, &s[..k]);
    let rc = round_constant(bits, r);
    let mut next = Zeroizing::new([0u8; BLOCK]);
    for i in 0..w {
        next[i] = s[k + i] ^ f[i] ^ rc[i];
    }
    next[w..].copy_from_slice(&s[..k]);
    s.copy_from_slice(next.as_ref());
}

/// One decryption round `r`, the inverse: from `(y_0 … y_{l−1})`, `x_0 = y_{l−1}` (the last
/// `n / 8` bytes) and `rest = (y_0 … y_{l−2}) ⊕ F(x_0) ⊕ ⟨r⟩`.
fn decrypt_round<C: BlockCipherEncrypt>(c: &C, bits: LineBits, r: u32, s: &mut [u8; BLOCK]) {
    let k = line_len(bits);
    let w = bits.entry_len();
    let f = cipher_of_line(c, &s[w..]);
    let rc = round_constant(bits, r);
    let mut prev = Zeroizing::new([0u8; BLOCK]);
    prev[..k].copy_from_slice(&s[w..]);
    for i in 0..w {
        prev[k + i] = s[i] ^ f[i] ^ rc[i];
    }
    s.copy_from_slice(prev.as_ref());
}

/// The space-hard block cipher's encryption of one block, by the definition (one call of `c`
/// per round).
pub fn encrypt_block<C: BlockCipherEncrypt>(c: &C, bits: LineBits, block: &mut [u8; BLOCK]) {
    for r in 1..=bits.rounds() {
        encrypt_round(c, bits, r, block);
    }
}

/// The space-hard block cipher's decryption of one block, by the definition.
pub fn decrypt_block<C: BlockCipherEncrypt>(c: &C, bits: LineBits, block: &mut [u8; BLOCK]) {
    for r in (1..=bits.rounds()).rev() {
        decrypt_round(c, bits, r, block);
    }
}

/// Blocks encrypted per call when building the table (lets the cipher's parallel path run).
const TABLE_CHUNK: usize = 1024;

/// The key file's table section: the header `wbruntime::space_hard::LineBits::section_header`
/// then `T'[y] = F(y ⊕ a) ⊕ b` for `y = 0 … 2^n − 1`, `(128 − n) / 8` bytes each, where
/// `a ‖ b` is the device-binding mask (`None`: unbound, `T' = F`).
///
/// `F` is evaluated on all `2^n` inputs with the cipher's multi-block path (AES-NI or the
/// bitsliced fallback for AES, RustCrypto's `sm4` for SM4).
pub fn table_section<C: BlockCipherEncrypt>(
    c: &C,
    bits: LineBits,
    mask: Option<&[u8; BLOCK]>,
) -> Zeroizing<Vec<u8>> {
    table_section_with_progress(c, bits, mask, &mut |_, _| {})
}

/// [`table_section`], calling `progress(done, total)` with the entries computed so far after
/// each chunk of them (`total` is `2^n`; 16,384 calls for n = 24, where the table takes
/// seconds). The callback only learns how far the work is: never an entry or the key.
pub fn table_section_with_progress<C: BlockCipherEncrypt>(
    c: &C,
    bits: LineBits,
    mask: Option<&[u8; BLOCK]>,
    progress: &mut dyn FnMut(u64, u64),
) -> Zeroizing<Vec<u8>> {
    let k = line_len(bits);
    let w = bits.entry_len();
    let zero = [0u8; BLOCK];
    let mask = mask.unwrap_or(&zero);
    let a = mask[..k]
        .iter()
        .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
    let b = &mask[k..];
    let mut out = Zeroizing::new(vec![0u8; bits.section_len()]);
    out[..SECTION_HEADER_LEN].copy_from_slice(&bits.section_header());
    let mut blocks = vec![Block::<C>::default(); TABLE_CHUNK];
    for first in (0..bits.entries()).step_by(TABLE_CHUNK) {
        let count = TABLE_CHUNK.min(bits.entries() - first);
        for (i, blk) in blocks.iter_mut().take(count).enumerate() {
            blk.fill(0);
            let x = (first + i).to_be_bytes();
            blk[BLOCK - k..].copy_from_slice(&x[x.len() - k..]);
        }
        c.encrypt_blocks(&mut blocks[..count]);
        for (i, blk) in blocks.iter().take(count).enumerate() {
            let y = (first + i) ^ a;
            let at = SECTION_HEADER_LEN + y * w;
            for ((o, f), m) in out[at..at + w].iter_mut().zip(&blk[..w]).zip(b) {
                *o = f ^ m;
            }
        }
        progress((first + count) as u64, bits.entries() as u64);
    }
    for blk in &mut blocks {
        blk.zeroize();
    }
    out
}
