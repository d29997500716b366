//! AVX2 backend: 32 blocks per vector, one vector per batch.
//!
//! * Word and block tables (4 and 16 bytes per entry): 32-bit gathers fetch whole entries, 8
//!   lanes at a time, and a few shuffles transpose them into byte planes; that is about a
//!   quarter of the cost of looking up each output byte with shuffles.
//! * Packed nibble-XOR tables (128 bytes): 8 `vpshufb` over rows stored as running
//!   differences (row r ⊕ row r-1): with the index lowered by 16 before each row, every row up
//!   to the lane's own is read (a negative index reads zero), and their XOR is the lane's row.
//!   A `vpblendvb` on the index's top bit then swaps nibbles where needed.
//! * Byte tables (256 entries): each half as a packed XOR table's rows (running differences,
//!   8 `vpshufb` with the same lowered indices for both halves), and a `vpblendvb` on the
//!   index's top bit.
//! * Wide tables are read lane by lane.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m256i, _mm_loadu_si128, _mm_srli_si128, _mm256_add_epi32, _mm256_and_si256,
    _mm256_blendv_epi8, _mm256_broadcastsi128_si256, _mm256_castsi256_si128, _mm256_cvtepu8_epi32,
    _mm256_extracti128_si256, _mm256_i32gather_epi32, _mm256_loadu_si256, _mm256_loadu2_m128i,
    _mm256_or_si256, _mm256_permute2x128_si256, _mm256_permutevar8x32_epi32, _mm256_set1_epi8,
    _mm256_set1_epi32, _mm256_setr_epi8, _mm256_setr_epi32, _mm256_setzero_si256,
    _mm256_shuffle_epi8, _mm256_slli_epi16, _mm256_slli_epi32, _mm256_srli_epi16,
    _mm256_storeu_si256, _mm256_storeu2_m128i, _mm256_sub_epi8, _mm256_unpackhi_epi8,
    _mm256_unpackhi_epi64, _mm256_unpacklo_epi8, _mm256_unpacklo_epi64, _mm256_xor_si256,
};

use crate::simd::planes::Layout;

/// Multi-byte tables entry by entry (for gathers), XOR tables as row differences.
pub(crate) const LAYOUT: Layout = Layout::Gather;

type V = __m256i;
/// Blocks per vector.
const LANES: usize = 32;
/// Vectors per batch.
const K: usize = 1;

/// A table: its 16 rows, each broadcast to both 128-bit halves.
struct Tab([V; 16]);

#[inline]
#[target_feature(enable = "avx2")]
fn table(t: &[u8; 256]) -> Tab {
    Tab(rows(t))
}

/// The `N` 16-byte rows of a table, each broadcast to both 128-bit halves.
#[inline]
#[target_feature(enable = "avx2")]
fn rows<const N: usize>(t: &[u8]) -> [V; N] {
    let mut rows = [_mm256_setzero_si256(); N];
    for (row, bytes) in rows.iter_mut().zip(t.as_chunks::<16>().0) {
        // SAFETY: a 16-byte unaligned load of a 16-byte array.
        *row = _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) });
    }
    rows
}

#[inline]
#[target_feature(enable = "avx2")]
fn lookup(t: &Tab, x: V) -> V {
    // Each half of the table (entries below and above 128) as in `xlookup`: rows stored as
    // running differences, read with the index lowered by 16 per row; both halves use the same
    // lowered indices, and a `vpblendvb` on bit 7 picks the lane's half.
    let (lo_rows, hi_rows) = t.0.split_at(8);
    let mut idx = _mm256_and_si256(x, _mm256_set1_epi8(0x7f));
    let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    for (l, h) in lo_rows.iter().zip(hi_rows) {
        lo = _mm256_xor_si256(lo, _mm256_shuffle_epi8(*l, idx));
        hi = _mm256_xor_si256(hi, _mm256_shuffle_epi8(*h, idx));
        idx = _mm256_sub_epi8(idx, _mm256_set1_epi8(16));
    }
    _mm256_blendv_epi8(lo, hi, x)
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
fn xtable(t: &XPack) -> XTab {
    XTab(rows(t.packed()))
}

/// Byte `x & 0x7f` of the packed table, nibble-swapped where bit 7 of `x` is set
/// (`vpblendvb` selects on exactly that bit).
///
/// The rows are stored as differences `D_r = R_r ⊕ R_{r-1}` (`planes::Layout::Gather`). With
/// `i = x & 0x7f` in row `s`, the index `i - 16 r` is in `0..128` for every `r ≤ s`, so
/// `vpshufb` reads `D_r[i & 15]` there, and wraps to `0x90..` (top bit set: zero) for `r > s`;
/// the XOR of what is read telescopes to `R_s[i & 15]`.
#[inline]
#[target_feature(enable = "avx2")]
fn xlookup(t: &XTab, x: V) -> V {
    let sixteen = _mm256_set1_epi8(16);
    let [first, rest @ ..] = &t.0;
    let mut idx = _mm256_and_si256(x, _mm256_set1_epi8(0x7f));
    let mut acc = _mm256_shuffle_epi8(*first, idx);
    for row in rest {
        idx = _mm256_sub_epi8(idx, sixteen);
        acc = _mm256_xor_si256(acc, _mm256_shuffle_epi8(*row, idx));
    }
    _mm256_blendv_epi8(acc, swap(acc), x)
}

/// 32-bit word `j` of each lane's entry (entries of `W` bytes, `j < W / 4`) as four byte
/// planes, lanes in order: four gathers of 8 lanes, then a transpose (bytes to 32-bit groups
/// within each gathered word set, groups to 64-bit runs of 8 lanes, runs to planes).
#[inline]
#[target_feature(enable = "avx2")]
fn gather_planes<const W: usize>(e: &[[u8; W]], x: V, j: usize) -> [V; 4] {
    // Word and block tables only: the index arithmetic below handles 1 or 4 words per entry.
    const { assert!(W == 4 || W == 16) };
    let zero = _mm256_setzero_si256();
    if e.len() < 256 || 4 * j + 4 > W {
        return [zero; 4];
    }
    let words_per_entry = W / 4;
    // Lanes 0–7, 8–15, 16–23, 24–31 as 32-bit indices of word j of their entries.
    let (lo, hi) = (_mm256_castsi256_si128(x), _mm256_extracti128_si256::<1>(x));
    let lanes = [lo, _mm_srli_si128::<8>(lo), hi, _mm_srli_si128::<8>(hi)];
    let group = _mm256_setr_epi8(
        0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10,
        14, 3, 7, 11, 15,
    );
    let runs = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let mut t = [zero; 4];
    for (t, l) in t.iter_mut().zip(lanes) {
        let mut i = _mm256_cvtepu8_epi32(l);
        if words_per_entry == 4 {
            i = _mm256_slli_epi32::<2>(i);
        }
        let i = _mm256_add_epi32(i, _mm256_set1_epi32(j as i32));
        // SAFETY: every index is `entry * W / 4 + j` with `entry < 256` and `j < W / 4`, so each
        // 4-byte read at `e + 4 * index` lies inside the first 256 entries of `e` (checked
        // above); gathers need no alignment.
        let g = unsafe { _mm256_i32gather_epi32::<4>(e.as_ptr().cast(), i) };
        // Per 128-bit half: the 4 lanes' byte 0, then byte 1, ...; then per 64 bits: 8 lanes'
        // byte 0, byte 1, byte 2, byte 3.
        *t = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(g, group), runs);
    }
    let a = _mm256_unpacklo_epi64(t[0], t[1]);
    let b = _mm256_unpackhi_epi64(t[0], t[1]);
    let c = _mm256_unpacklo_epi64(t[2], t[3]);
    let d = _mm256_unpackhi_epi64(t[2], t[3]);
    [
        _mm256_permute2x128_si256::<0x20>(a, c),
        _mm256_permute2x128_si256::<0x20>(b, d),
        _mm256_permute2x128_si256::<0x31>(a, c),
        _mm256_permute2x128_si256::<0x31>(b, d),
    ]
}

#[inline]
#[target_feature(enable = "avx2")]
fn word_v(t: &Word, x: V) -> [V; 4] {
    gather_planes(t.entries(), x, 0)
}

#[inline]
#[target_feature(enable = "avx2")]
fn mix8_v(t: &Mix, x: V, half: usize) -> [V; 8] {
    let e = t.entries();
    let [a0, a1, a2, a3] = gather_planes(e, x, 2 * half);
    let [b0, b1, b2, b3] = gather_planes(e, x, 2 * half + 1);
    [a0, a1, a2, a3, b0, b1, b2, b3]
}

#[inline]
#[target_feature(enable = "avx2")]
fn zero() -> V {
    _mm256_setzero_si256()
}

/// Four rounds of the byte riffle `(r_i, r_{i+8}) → (lo(r_i, r_{i+8}), hi(r_i, r_{i+8}))`
/// transpose the 16×16 byte matrix in each 128-bit half (each round moves one bit of the row
/// number into the column number); it is its own inverse.
#[inline]
#[target_feature(enable = "avx2")]
fn riffle(r: &mut [V; 16]) {
    for _ in 0..4 {
        let mut n = [_mm256_setzero_si256(); 16];
        for i in 0..8 {
            n[2 * i] = _mm256_unpacklo_epi8(r[i], r[i + 8]);
            n[2 * i + 1] = _mm256_unpackhi_epi8(r[i], r[i + 8]);
        }
        *r = n;
    }
}

/// Blocks `i` and `16 + i` in the two halves of row `i`, transposed.
#[inline]
#[target_feature(enable = "avx2")]
fn load_blocks(blocks: &[[u8; 16]; LANES]) -> [V; 16] {
    let mut r = [_mm256_setzero_si256(); 16];
    let (lo, hi) = blocks.split_at(16);
    for ((r, l), h) in r.iter_mut().zip(lo).zip(hi) {
        // SAFETY: two unaligned 16-byte loads of 16-byte arrays.
        *r = unsafe { _mm256_loadu2_m128i(h.as_ptr().cast(), l.as_ptr().cast()) };
    }
    riffle(&mut r);
    r
}

#[inline]
#[target_feature(enable = "avx2")]
fn store_blocks(v: &[V; 16], blocks: &mut [[u8; 16]; LANES]) {
    let mut r = *v;
    riffle(&mut r);
    let (lo, hi) = blocks.split_at_mut(16);
    for ((r, l), h) in r.iter().zip(lo).zip(hi) {
        // SAFETY: two unaligned 16-byte stores into 16-byte arrays.
        unsafe { _mm256_storeu2_m128i(h.as_mut_ptr().cast(), l.as_mut_ptr().cast(), *r) };
    }
}

/// Entry `(a << 8) | b` of a wide table, lane by lane.
#[inline]
#[target_feature(enable = "avx2")]
fn wide(t: &WideTable, a: V, b: V) -> V {
    let (mut xa, mut xb, mut o) = ([0u8; LANES], [0u8; LANES], [0u8; LANES]);
    // SAFETY: unaligned 32-byte stores into and a load from 32-byte arrays.
    unsafe {
        _mm256_storeu_si256(xa.as_mut_ptr().cast(), a);
        _mm256_storeu_si256(xb.as_mut_ptr().cast(), b);
    }
    for ((o, &x), &y) in o.iter_mut().zip(&xa).zip(&xb) {
        *o = t[usize::from(x) << 8 | usize::from(y)];
    }
    // SAFETY: as above.
    unsafe { _mm256_loadu_si256(o.as_ptr().cast()) }
}

lane_network!(#[target_feature(enable = "avx2")]);

simd_entry_points!(Avx2);
