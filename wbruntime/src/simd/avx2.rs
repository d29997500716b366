//! AVX2 backend: 32 blocks per vector, two vectors per batch.
//!
//! `vpshufb` looks up a 16-entry table; a 256-entry table is its 16 rows of 16, each looked up
//! with an index that is in range only in the lanes whose high nibble selects that row (the
//! index is XORed with the row number and pushed over 0x7f by a saturating add elsewhere,
//! which makes `vpshufb` give zero there), and the 16 results ORed. Wide tables are read lane
//! by lane.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m256i, _mm_loadu_si128, _mm256_adds_epu8, _mm256_and_si256, _mm256_blendv_epi8,
    _mm256_broadcastsi128_si256, _mm256_loadu_si256, _mm256_or_si256, _mm256_set1_epi8,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_slli_epi16, _mm256_srli_epi16,
    _mm256_storeu_si256, _mm256_xor_si256,
};

type V = __m256i;
/// Blocks per vector.
const LANES: usize = 32;
/// Vectors per batch.
const K: usize = 2;

/// A table: its 16 rows, each broadcast to both 128-bit halves.
struct Tab([V; 16]);

#[inline]
#[target_feature(enable = "avx2")]
fn table(t: &[u8; 256]) -> Tab {
    let mut rows = [_mm256_setzero_si256(); 16];
    for (r, row) in rows.iter_mut().enumerate() {
        // SAFETY: a 16-byte unaligned load of bytes 16r..16r + 16 of the 256-byte table.
        *row =
            _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t.as_ptr().add(16 * r).cast()) });
    }
    Tab(rows)
}

#[inline]
#[target_feature(enable = "avx2")]
fn lookup(t: &Tab, x: V) -> V {
    let bias = _mm256_set1_epi8(0x70);
    let mut acc = _mm256_setzero_si256();
    for (r, row) in t.0.iter().enumerate() {
        let sel = _mm256_xor_si256(x, _mm256_set1_epi8((r << 4) as i8));
        let idx = _mm256_adds_epu8(sel, bias);
        acc = _mm256_or_si256(acc, _mm256_shuffle_epi8(*row, idx));
    }
    acc
}

#[inline]
#[target_feature(enable = "avx2")]
fn sel_f0(a: V, b: V) -> V {
    let hi = _mm256_set1_epi8(0xf0u8 as i8);
    let lo = _mm256_set1_epi8(0x0f);
    _mm256_or_si256(_mm256_and_si256(a, hi), _mm256_and_si256(b, lo))
}

#[inline]
#[target_feature(enable = "avx2")]
fn swap(a: V) -> V {
    let hi = _mm256_set1_epi8(0xf0u8 as i8);
    let lo = _mm256_set1_epi8(0x0f);
    _mm256_or_si256(
        _mm256_and_si256(_mm256_slli_epi16::<4>(a), hi),
        _mm256_and_si256(_mm256_srli_epi16::<4>(a), lo),
    )
}

/// A packed nibble-XOR table: its 8 rows of 16, each broadcast to both 128-bit halves.
struct XTab([V; 8]);

#[inline]
#[target_feature(enable = "avx2")]
fn xtable(t: &[u8; 128]) -> XTab {
    let mut rows = [_mm256_setzero_si256(); 8];
    for (r, row) in rows.iter_mut().enumerate() {
        // SAFETY: a 16-byte unaligned load of bytes 16r..16r + 16 of the 128-byte table.
        *row =
            _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t.as_ptr().add(16 * r).cast()) });
    }
    XTab(rows)
}

/// Byte `x & 0x7f` of the packed table (rows as in [`lookup`]), nibble-swapped where bit 7 of
/// `x` is set (`vpblendvb` selects on exactly that bit).
#[inline]
#[target_feature(enable = "avx2")]
fn xlookup(t: &XTab, x: V) -> V {
    let bias = _mm256_set1_epi8(0x70);
    let low7 = _mm256_and_si256(x, _mm256_set1_epi8(0x7f));
    let mut acc = _mm256_setzero_si256();
    for (r, row) in t.0.iter().enumerate() {
        let sel = _mm256_xor_si256(low7, _mm256_set1_epi8((r << 4) as i8));
        let idx = _mm256_adds_epu8(sel, bias);
        acc = _mm256_or_si256(acc, _mm256_shuffle_epi8(*row, idx));
    }
    _mm256_blendv_epi8(acc, swap(acc), x)
}

#[inline]
#[target_feature(enable = "avx2")]
fn zero() -> V {
    _mm256_setzero_si256()
}

#[inline]
#[target_feature(enable = "avx2")]
fn load(b: &[u8; LANES]) -> V {
    // SAFETY: one unaligned 32-byte load of a 32-byte array.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store(v: V, b: &mut [u8; LANES]) {
    // SAFETY: one unaligned 32-byte store into a 32-byte array.
    unsafe { _mm256_storeu_si256(b.as_mut_ptr().cast(), v) }
}

/// Entry `(a << 8) | b` of a wide table, lane by lane.
#[inline]
#[target_feature(enable = "avx2")]
fn wide(t: &WideTable, a: V, b: V) -> V {
    let (mut xa, mut xb, mut o) = ([0u8; LANES], [0u8; LANES], [0u8; LANES]);
    store(a, &mut xa);
    store(b, &mut xb);
    for ((o, &x), &y) in o.iter_mut().zip(&xa).zip(&xb) {
        *o = t[usize::from(x) << 8 | usize::from(y)];
    }
    load(&o)
}

lane_network!(#[target_feature(enable = "avx2")]);

/// Decrypts a whole number of [`BATCH`]es of AES-256 blocks, if the CPU has this backend's
/// features (`false`, and nothing done, if not).
pub(crate) fn aes(t: &aes256::Tables<'_>, pl: &AesPlanes, blocks: &mut [[u8; 16]]) -> bool {
    if !blocks.len().is_multiple_of(BATCH) || !crate::Backend::Avx2.is_available() {
        return false;
    }
    // SAFETY: the CPU has the features `aes_blocks` is compiled for (checked just above).
    unsafe { aes_blocks(t, pl, blocks) };
    true
}

/// Decrypts a whole number of [`BATCH`]es of SM4 blocks, if the CPU has this backend's
/// features.
pub(crate) fn sm4(t: &sm4::Tables<'_>, pl: &Sm4Planes, blocks: &mut [[u8; 16]]) -> bool {
    if !blocks.len().is_multiple_of(BATCH) || !crate::Backend::Avx2.is_available() {
        return false;
    }
    // SAFETY: as in `aes`.
    unsafe { sm4_blocks(t, pl, blocks) };
    true
}
