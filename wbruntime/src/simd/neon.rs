//! aarch64 NEON backend: 16 blocks per vector, four vectors per batch. Four, as for AVX-512
//! VBMI, so that a table loaded into registers serves 64 blocks before the next one is loaded
//! (the compiled `word` loads each plane once for the four vectors); 64 blocks is also the
//! batch the portable backend measured best. The choice is by that reasoning, not measured.
//!
//! NEON has no gathers, but it has table lookups over up to four registers: `tbl` returns
//! byte `i` of a 64-byte table for every lane whose index `i` is below 64 and zero for the
//! others, `tbx` the same but leaves the others unchanged. Every table therefore lives in
//! registers and is read by index, never by address:
//! * A 256-entry byte table is four 64-byte quarters: one `tbl` on quarter 0 with the index
//!   itself, then a `tbx` per quarter `q` = 1, 2, 3 with the index XOR `64 q`, which is below
//!   64 exactly for the indices of quarter `q` (and is then the offset within it). The three
//!   XORed indices are made once per index and shared by every table read with it (the planes
//!   of a word or block table).
//! * Word and block tables (4 and 16 bytes per entry) are kept as byte planes
//!   (`planes::Layout::Planes`, as for AVX-512 VBMI): output byte `j` is a 256-entry lookup in
//!   plane `j`, so 16 lanes' entries come out already transposed into byte positions (a word
//!   table: 16 table instructions for 16 lanes, the three XORed indices shared by its planes).
//! * A packed nibble-XOR table (128 bytes, `planes::pack`) is two quarters: `tbl` on the index
//!   with its top bit cleared and `tbx` on that XOR 64, then the nibble swap (`ushr`, `sli`)
//!   selected (`cmlt`, `bsl`) where the index's top bit is set: eight instructions for 16
//!   lanes.
//! * Wide tables (65 536 entries) are read lane by lane.
//!
//! Nothing here has been timed: the only aarch64 machine the project's CI has is qemu-user,
//! whose timings mean nothing. The tests check the results byte for byte against the scalar
//! reference there.
#![allow(unsafe_code)]

use core::arch::aarch64::{
    uint8x16_t, uint8x16x4_t, vandq_u8, vbslq_u8, vcltzq_s8, vdupq_n_u8, veorq_u8, vld1q_u8,
    vld1q_u8_x4, vqtbl4q_u8, vqtbx4q_u8, vreinterpretq_s8_u8, vshrq_n_u8, vsliq_n_u8, vst1q_u8,
    vzip1q_u8, vzip2q_u8,
};

use crate::simd::planes::Layout;

type V = uint8x16_t;
/// Blocks per vector.
const LANES: usize = 16;
/// Vectors per batch.
const K: usize = 4;

/// Multi-byte tables as byte planes, packed XOR tables as they are.
pub(crate) const LAYOUT: Layout = Layout::Planes;

/// A 256-entry table in sixteen registers: its four 64-byte quarters, each the four-register
/// operand of one `tbl`/`tbx`.
struct Tab([uint8x16x4_t; 4]);

#[inline]
#[target_feature(enable = "neon")]
fn table(t: &[u8; 256]) -> Tab {
    let p = t.as_ptr();
    // SAFETY: the four 64-byte loads (`ld1` of four consecutive registers, no alignment
    // needed) cover bytes 0..256 of `t`, which is 256 bytes.
    unsafe {
        Tab([
            vld1q_u8_x4(p),
            vld1q_u8_x4(p.add(64)),
            vld1q_u8_x4(p.add(128)),
            vld1q_u8_x4(p.add(192)),
        ])
    }
}

/// An index and its copies XORed with 64, 128 and 192: copy `q` is below 64 exactly where the
/// index falls in quarter `q` of a 256-entry table, and is then the offset within it. Made
/// once per index and shared by every table looked up with it.
#[derive(Clone, Copy)]
struct Quarters([V; 4]);

#[inline]
#[target_feature(enable = "neon")]
fn quarters(x: V) -> Quarters {
    Quarters([
        x,
        veorq_u8(x, vdupq_n_u8(0x40)),
        veorq_u8(x, vdupq_n_u8(0x80)),
        veorq_u8(x, vdupq_n_u8(0xc0)),
    ])
}

/// Entry `x` of a 256-entry table: `tbl` on quarter 0 (zero for indices of 64 and up), then a
/// `tbx` per further quarter, which writes only the lanes whose offset into it is below 64
/// (exactly those of its quarter) and leaves every other lane as it was.
#[inline]
#[target_feature(enable = "neon")]
fn lookup_q(t: &Tab, q: &Quarters) -> V {
    let [t0, t1, t2, t3] = t.0;
    let [i0, i1, i2, i3] = q.0;
    let r = vqtbl4q_u8(t0, i0);
    let r = vqtbx4q_u8(r, t1, i1);
    let r = vqtbx4q_u8(r, t2, i2);
    vqtbx4q_u8(r, t3, i3)
}

#[inline]
#[target_feature(enable = "neon")]
fn lookup(t: &Tab, x: V) -> V {
    lookup_q(t, &quarters(x))
}

#[inline]
#[target_feature(enable = "neon")]
fn word_v(t: &Word, x: V) -> [V; 4] {
    let q = quarters(x);
    let mut o = [vdupq_n_u8(0); 4];
    for (j, o) in o.iter_mut().enumerate() {
        *o = lookup_q(&table(t.plane(j)), &q);
    }
    o
}

#[inline]
#[target_feature(enable = "neon")]
fn mix8_v(t: &Mix, x: V, half: usize) -> [V; 8] {
    let q = quarters(x);
    let mut o = [vdupq_n_u8(0); 8];
    for (j, o) in o.iter_mut().enumerate() {
        *o = lookup_q(&table(t.plane(8 * half + j)), &q);
    }
    o
}

/// `(a & 0xf0) | (b & 0x0f)`: one bitwise select (`bsl`, or `bit`/`bif` as the registers fall).
#[inline]
#[target_feature(enable = "neon")]
fn sel_f0(a: V, b: V) -> V {
    vbslq_u8(vdupq_n_u8(0xf0), a, b)
}

/// Each byte's nibbles swapped: `ushr #4` brings the high nibble down, `sli #4` inserts the
/// byte shifted left by 4 above it (keeping the low four bits it shifts into).
#[inline]
#[target_feature(enable = "neon")]
fn swap(a: V) -> V {
    vsliq_n_u8::<4>(vshrq_n_u8::<4>(a), a)
}

/// A packed nibble-XOR table: its 128 bytes as two four-register quarters.
struct XTab(uint8x16x4_t, uint8x16x4_t);

#[inline]
#[target_feature(enable = "neon")]
fn xtable(t: &XPack) -> XTab {
    let p = t.packed().as_ptr();
    // SAFETY: the two 64-byte loads cover bytes 0..128 of the packed table, which is 128
    // bytes.
    unsafe { XTab(vld1q_u8_x4(p), vld1q_u8_x4(p.add(64))) }
}

/// Byte `x & 0x7f` of the packed table (`tbl` on its first 64 bytes, `tbx` on the others with
/// the index XOR 64, as [`lookup_q`]), nibble-swapped where bit 7 of `x` is set (`cmlt #0`
/// makes that bit a lane mask, `bsl` selects).
#[inline]
#[target_feature(enable = "neon")]
fn xlookup(t: &XTab, x: V) -> V {
    let i = vandq_u8(x, vdupq_n_u8(0x7f));
    let r = vqtbx4q_u8(vqtbl4q_u8(t.0, i), t.1, veorq_u8(i, vdupq_n_u8(0x40)));
    let top = vcltzq_s8(vreinterpretq_s8_u8(x));
    vbslq_u8(top, swap(r), r)
}

#[inline]
#[target_feature(enable = "neon")]
fn zero() -> V {
    vdupq_n_u8(0)
}

/// Four rounds of the byte riffle `(r_i, r_{i+8}) → (zip1(r_i, r_{i+8}), zip2(r_i, r_{i+8}))`
/// transpose a 16×16 byte matrix held in 16 registers (each round moves one bit of the row
/// number into the column number); it is its own inverse. (The same riffle as AVX2's
/// `vpunpck{l,h}bw`, which work on each 128-bit half as `zip1`/`zip2` on a register.)
#[inline]
#[target_feature(enable = "neon")]
fn riffle(r: &mut [V; 16]) {
    for _ in 0..4 {
        let mut n = [vdupq_n_u8(0); 16];
        for i in 0..8 {
            n[2 * i] = vzip1q_u8(r[i], r[i + 8]);
            n[2 * i + 1] = vzip2q_u8(r[i], r[i + 8]);
        }
        *r = n;
    }
}

/// Block `i` in row `i`, transposed: row `p` then holds byte `p` of every block.
#[inline]
#[target_feature(enable = "neon")]
fn load_blocks(blocks: &[[u8; 16]; LANES]) -> [V; 16] {
    let mut r = [vdupq_n_u8(0); 16];
    for (r, b) in r.iter_mut().zip(blocks) {
        // SAFETY: a 16-byte load of a 16-byte array.
        *r = unsafe { vld1q_u8(b.as_ptr()) };
    }
    riffle(&mut r);
    r
}

#[inline]
#[target_feature(enable = "neon")]
fn store_blocks(v: &[V; 16], blocks: &mut [[u8; 16]; LANES]) {
    let mut r = *v;
    riffle(&mut r);
    for (r, b) in r.iter().zip(blocks) {
        // SAFETY: a 16-byte store into a 16-byte array.
        unsafe { vst1q_u8(b.as_mut_ptr(), *r) };
    }
}

/// Entry `(a << 8) | b` of a wide table, lane by lane (a 64 KiB table fits no register file).
#[inline]
#[target_feature(enable = "neon")]
fn wide(t: &WideTable, a: V, b: V) -> V {
    let (mut xa, mut xb, mut o) = ([0u8; LANES], [0u8; LANES], [0u8; LANES]);
    // SAFETY: 16-byte stores into 16-byte arrays.
    unsafe {
        vst1q_u8(xa.as_mut_ptr(), a);
        vst1q_u8(xb.as_mut_ptr(), b);
    }
    for ((o, &x), &y) in o.iter_mut().zip(&xa).zip(&xb) {
        *o = t[usize::from(x) << 8 | usize::from(y)];
    }
    // SAFETY: a 16-byte load of a 16-byte array.
    unsafe { vld1q_u8(o.as_ptr()) }
}

lane_network!(#[target_feature(enable = "neon")]);

simd_entry_points!(Neon);
