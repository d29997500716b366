//! AVX-512 VBMI backend: 64 blocks per vector, four vectors per batch (each table, once in
//! registers, serves 256 blocks; on the Zen 5 machine of `wbbench`'s figures four vectors
//! run AES-256 about 10 % faster than two and 25 % faster than one, three lose to two).
//!
//! A 256-entry byte table lives in four 512-bit registers; `vpermb` looks up 64 of its entries
//! for 64 lanes at once, so an entry is four permutes, three of them merge-masked by the
//! index's quarter (masks shared by every table looked up with that index). A packed
//! nibble-XOR table (128 bytes) is one `vpermi2b` and, where the index's top bit is set, a
//! nibble swap (`vgf2p8affineqb` under a byte mask). Wide tables (65 536 entries) are read
//! with 32-bit gathers, 16 lanes at a time.
#![allow(unsafe_code)]

use crate::simd::planes::Layout;
use core::arch::x86_64::{
    __m512i, __mmask64, _kand_mask64, _mm512_add_epi8, _mm512_gf2p8affine_epi64_epi8,
    _mm512_i32gather_epi32, _mm512_loadu_si512, _mm512_mask_blend_epi8,
    _mm512_mask_gf2p8affine_epi64_epi8, _mm512_mask_permutexvar_epi8, _mm512_movepi8_mask,
    _mm512_permutex2var_epi8, _mm512_permutexvar_epi8, _mm512_set1_epi8, _mm512_set1_epi64,
    _mm512_setzero_si512, _mm512_srli_epi32, _mm512_storeu_si512, _mm512_ternarylogic_epi64,
    _mm512_unpackhi_epi8, _mm512_unpackhi_epi16, _mm512_unpacklo_epi8, _mm512_unpacklo_epi16,
};

type V = __m512i;
/// Blocks per vector.
const LANES: usize = 64;
/// Vectors per batch.
const K: usize = 4;

/// Multi-byte tables as byte planes.
pub(crate) const LAYOUT: Layout = Layout::Planes;

/// A table in four registers.
struct Tab([V; 4]);

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn table(t: &[u8; 256]) -> Tab {
    let p = t.as_ptr();
    // SAFETY: the four unaligned 64-byte loads cover bytes 0..256 of `t`, which is 256 bytes.
    unsafe {
        Tab([
            _mm512_loadu_si512(p.cast()),
            _mm512_loadu_si512(p.add(64).cast()),
            _mm512_loadu_si512(p.add(128).cast()),
            _mm512_loadu_si512(p.add(192).cast()),
        ])
    }
}

/// Masks that route each lane's index to its 64-entry quarter of a 256-entry table (bits 7
/// and 6): computed once per index and shared by every table looked up with it.
#[derive(Clone, Copy)]
struct Quarters {
    b6: __mmask64,
    b7: __mmask64,
    b76: __mmask64,
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn quarters(x: V) -> Quarters {
    let b7 = _mm512_movepi8_mask(x);
    let b6 = _mm512_movepi8_mask(_mm512_add_epi8(x, x));
    Quarters {
        b6,
        b7,
        b76: _kand_mask64(b6, b7),
    }
}

/// Entry `x` of a 256-entry table: `vpermb` of quarter 0, then quarters 1, 2 and 3 merged into
/// the lanes with bit 6, bit 7, and both set, in that order, so that each lane ends with its
/// own quarter (four single-uop permutes, no blend).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn lookup_q(t: &Tab, x: V, q: Quarters) -> V {
    let [t0, t1, t2, t3] = t.0;
    let r = _mm512_permutexvar_epi8(x, t0);
    let r = _mm512_mask_permutexvar_epi8(r, q.b6, x, t1);
    let r = _mm512_mask_permutexvar_epi8(r, q.b7, x, t2);
    _mm512_mask_permutexvar_epi8(r, q.b76, x, t3)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn lookup(t: &Tab, x: V) -> V {
    lookup_q(t, x, quarters(x))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn sel_f0(a: V, b: V) -> V {
    // Bitwise select with the mask 0xf0 in every byte: (m & a) | (!m & b).
    _mm512_ternarylogic_epi64::<0xca>(_mm512_set1_epi8(0xf0u8 as i8), a, b)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn word_v(t: &Word, x: V) -> [V; 4] {
    let q = quarters(x);
    let mut o = [_mm512_setzero_si512(); 4];
    for (j, o) in o.iter_mut().enumerate() {
        *o = lookup_q(&table(t.plane(j)), x, q);
    }
    o
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn mix8_v(t: &Mix, x: V, half: usize) -> [V; 8] {
    let q = quarters(x);
    let mut o = [_mm512_setzero_si512(); 8];
    for (j, o) in o.iter_mut().enumerate() {
        *o = lookup_q(&table(t.plane(8 * half + j)), x, q);
    }
    o
}

/// The GF(2) matrix of a nibble swap for `vgf2p8affineqb`: byte `7 - i` of the quadword is
/// the row of output bit `i`, here the single input bit `(i + 4) mod 8`.
const SWAP_MATRIX: i64 = 0x1020_4080_0102_0408;

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn swap(a: V) -> V {
    _mm512_gf2p8affine_epi64_epi8::<0>(a, _mm512_set1_epi64(SWAP_MATRIX))
}

/// A packed nibble-XOR table in two registers.
struct XTab(V, V);

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn xtable(t: &XPack) -> XTab {
    let t = t.packed();
    let p = t.as_ptr();
    // SAFETY: the two unaligned 64-byte loads cover bytes 0..128 of `t`, which is 128 bytes.
    unsafe {
        XTab(
            _mm512_loadu_si512(p.cast()),
            _mm512_loadu_si512(p.add(64).cast()),
        )
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn xlookup(t: &XTab, x: V) -> V {
    let r = _mm512_permutex2var_epi8(t.0, x, t.1);
    let m = _mm512_set1_epi64(SWAP_MATRIX);
    _mm512_mask_gf2p8affine_epi64_epi8::<0>(r, _mm512_movepi8_mask(x), r, m)
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn zero() -> V {
    _mm512_setzero_si512()
}

/// Four rounds of the byte riffle `(r_i, r_{i+8}) → (lo(r_i, r_{i+8}), hi(r_i, r_{i+8}))`
/// transpose the 16×16 byte matrix in each 128-bit quarter (each round moves one bit of the
/// row number into the column number); it is its own inverse.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn riffle(r: &mut [V; 16]) {
    for _ in 0..4 {
        let mut n = [_mm512_setzero_si512(); 16];
        for i in 0..8 {
            n[2 * i] = _mm512_unpacklo_epi8(r[i], r[i + 8]);
            n[2 * i + 1] = _mm512_unpackhi_epi8(r[i], r[i + 8]);
        }
        *r = n;
    }
}

/// After the riffle, byte `16 q + i` of position `p` belongs to block `4 i + q` (row `i`
/// held blocks `4i .. 4i + 4`, one per quarter): this puts it at byte `4 i + q`.
const TO_BLOCK_ORDER: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut b = 0;
    while b < 64 {
        t[b] = (16 * (b % 4) + b / 4) as u8;
        b += 1;
    }
    t
};

/// The inverse of [`TO_BLOCK_ORDER`].
const FROM_BLOCK_ORDER: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut b = 0;
    while b < 64 {
        t[TO_BLOCK_ORDER[b] as usize] = b as u8;
        b += 1;
    }
    t
};

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn load_blocks(blocks: &[[u8; 16]; LANES]) -> [V; 16] {
    let mut r = [_mm512_setzero_si512(); 16];
    for (r, four) in r.iter_mut().zip(blocks.chunks_exact(4)) {
        // SAFETY: one unaligned 64-byte load of four consecutive 16-byte blocks.
        *r = unsafe { _mm512_loadu_si512(four.as_ptr().cast()) };
    }
    riffle(&mut r);
    // SAFETY: a 64-byte load of a 64-byte array.
    let order = unsafe { _mm512_loadu_si512(TO_BLOCK_ORDER.as_ptr().cast()) };
    for r in &mut r {
        *r = _mm512_permutexvar_epi8(order, *r);
    }
    r
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn store_blocks(v: &[V; 16], blocks: &mut [[u8; 16]; LANES]) {
    // SAFETY: a 64-byte load of a 64-byte array.
    let order = unsafe { _mm512_loadu_si512(FROM_BLOCK_ORDER.as_ptr().cast()) };
    let mut r = *v;
    for r in &mut r {
        *r = _mm512_permutexvar_epi8(order, *r);
    }
    riffle(&mut r);
    for (r, four) in r.iter().zip(blocks.chunks_exact_mut(4)) {
        // SAFETY: one unaligned 64-byte store into four consecutive 16-byte blocks.
        unsafe { _mm512_storeu_si512(four.as_mut_ptr().cast(), *r) };
    }
}

/// Where each lane's byte lies after [`wide`]'s gathers: lane `L = 16 q + 4 r + m` (128-bit
/// lane `q`) was gathered as 32-bit word `e = 4 q + m` of register `r`, so its word starts at
/// byte `4 e` of register pair `r / 2`, in its half `r % 2` (bytes `64 (r % 2)` on).
const WIDE_BASE: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut l = 0;
    while l < 64 {
        let (q, r, m) = (l / 16, (l % 16) / 4, l % 4);
        t[l] = (64 * (r % 2) + 4 * (4 * q + m)) as u8;
        l += 1;
    }
    t
};

/// Entry `(a << 8) | b` of a wide table for 64 lanes: the 16-bit indices interleaved from
/// `a` and `b` and widened to 32 bits (unpacks, so within each 128-bit lane), four gathers of
/// the aligned 32-bit words `i >> 2` (always inside the table), then one `vpermi2b` per pair
/// of gathered registers picks byte `i & 3` of each lane's word ([`WIDE_BASE`] undoes the
/// unpacks' lane order).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
fn wide(t: &WideTable, a: V, b: V) -> V {
    let zero = _mm512_setzero_si512();
    let (lo, hi) = (_mm512_unpacklo_epi8(b, a), _mm512_unpackhi_epi8(b, a));
    let words = [
        _mm512_unpacklo_epi16(lo, zero),
        _mm512_unpackhi_epi16(lo, zero),
        _mm512_unpacklo_epi16(hi, zero),
        _mm512_unpackhi_epi16(hi, zero),
    ];
    let mut g = [zero; 4];
    for (g, i) in g.iter_mut().zip(words) {
        // SAFETY: every word index `i >> 2` is below 16 384 (i < 65 536), so each 4-byte
        // read at `t + 4 * (i >> 2)` lies inside the 65 536-byte table.
        *g = unsafe { _mm512_i32gather_epi32::<4>(_mm512_srli_epi32::<2>(i), t.as_ptr().cast()) };
    }
    // SAFETY: a 64-byte load of a 64-byte array.
    let base = unsafe { _mm512_loadu_si512(WIDE_BASE.as_ptr().cast()) };
    // base | (b & 3): the byte of the lane's word within its register pair.
    let sel = _mm512_ternarylogic_epi64::<0xf8>(base, b, _mm512_set1_epi8(3));
    let first = _mm512_permutex2var_epi8(g[0], sel, g[1]);
    let second = _mm512_permutex2var_epi8(g[2], sel, g[3]);
    // Registers 2 and 3 hold the lanes with (L mod 16) >= 8.
    _mm512_mask_blend_epi8(0xff00_ff00_ff00_ff00, first, second)
}

lane_network!(#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]);

simd_entry_points!(Avx512Vbmi);
