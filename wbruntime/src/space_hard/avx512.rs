//! The space-hard decryption rounds with AVX-512 (F, BW, VL: every CPU of the `Avx512Vbmi`
//! backend has them), byte-identical to [`super::soft`].
//!
//! The kernels of [`super::avx2`] (its module documentation explains them), with what the
//! EVEX encoding adds: 32 vector registers, so 24 blocks go through the rounds together; the
//! file's window read by a byte-masked load (`vmovdqu8`, the junk in front of the entry never
//! loaded), and the round's three-way XOR in one `vpternlogd`.

#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, __mmask16, _mm_load_si128, _mm_maskz_loadu_epi8, _mm_ternarylogic_epi32,
};

use super::avx2::{groups, lanes_kernel, le_kernel};
use super::{LineBits, Masks, Relaid, Table, Tables};

use crate::Backend;
use crate::cbc::BLOCK_LEN;

/// Most blocks per group: one 128-bit register each, of the 32 the CPU has. Over the
/// re-laid-out table (n = 16, 1 MiB, AMD EPYC (Zen 4) VM): 16 / 20 / 24 / 28 lanes in a
/// micro-benchmark 174 / 200 / 215 / 216 MB/s; in `wbbench`, 24 / 32 / 48 / 64 lanes (the
/// larger counts with their states in memory) all 168–178 MB/s.
const LANES: usize = 24;

/// Decrypts `blocks` in place if `backend` is `Avx512Vbmi`, available, and the table's width
/// has vector rounds; returns whether it did. With `relaid` the rounds read it, without it
/// the file's table.
pub(crate) fn decrypt_blocks(
    backend: Backend,
    t: &Tables<'_>,
    relaid: Option<&Relaid>,
    mask: Option<&[u8; BLOCK_LEN]>,
    blocks: &mut [[u8; BLOCK_LEN]],
) -> bool {
    const L8: usize = LineBits::N8.section_len();
    const L16: usize = LineBits::N16.section_len();
    const L24: usize = LineBits::N24.section_len();
    if backend != Backend::Avx512Vbmi || !backend.is_available() {
        return false;
    }
    let m = Masks::new(t.line_bits(), mask);
    // The kernels' safety condition: the backend is available (checked above), so the CPU
    // has AVX-512 F, BW and VL (`Backend::Avx512Vbmi` requires them).
    match (t.table, relaid) {
        (Table::N8(t), r) => match r.and_then(Relaid::entries::<{ 1 << 8 }>) {
            Some(e) => groups!(
                blocks,
                [4, 8, 16],
                LANES,
                |c, L| le_lanes::<8, { 1 << 8 }, L>(e, &m, c)
            ),
            None => groups!(blocks, [4, 8, 16], LANES, |c, L| lanes::<8, L8, L>(
                t, &m, c
            )),
        },
        (Table::N16(t), r) => match r.and_then(Relaid::entries::<{ 1 << 16 }>) {
            Some(e) => groups!(blocks, [4, 8, 16], LANES, |c, L| le_lanes::<
                16,
                { 1 << 16 },
                L,
            >(e, &m, c)),
            None => groups!(blocks, [4, 8, 16], LANES, |c, L| lanes::<16, L16, L>(
                t, &m, c
            )),
        },
        // SAFETY: the backend's CPU check includes AVX2 (`Backend::Avx512Vbmi`).
        (Table::N24(t), _) => unsafe { super::avx2::far_lanes::<24, L24>(t, &m, blocks) },
    }
    true
}

lanes_kernel!(
    /// Up to `L` blocks over the file's table: the window read with its junk bytes masked
    /// off, and one three-way XOR.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VL.
    lanes,
    "avx512f,avx512bw,avx512vl",
    |t: &[u8; LEN], start: usize, k: usize, rot: __m128i, c: __m128i| {
        let keep: __mmask16 = 0xffff << k;
        // SAFETY: `start` is in bounds (`window_start`); masked-off bytes are not read.
        let win = unsafe { _mm_maskz_loadu_epi8(keep, t.as_ptr().add(start).cast()) };
        _mm_ternarylogic_epi32::<0x96>(rot, win, c)
    }
);

le_kernel!(
    /// Up to `L` blocks over the [`Relaid`] table: one three-way XOR.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VL.
    le_lanes,
    "avx512f,avx512bw,avx512vl",
    |entry: &u128, rot: __m128i, c: __m128i| {
        // SAFETY: `entry` is a reference to 16 aligned bytes.
        let win = unsafe { _mm_load_si128((entry as *const u128).cast()) };
        _mm_ternarylogic_epi32::<0x96>(rot, win, c)
    }
);
