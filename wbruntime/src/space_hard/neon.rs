//! The space-hard decryption rounds with one NEON register per block (aarch64),
//! byte-identical to [`super::soft`]; the same kernel as `space_hard::avx2` in NEON's terms.
//!
//! The state stays in memory byte order, the block as stored (`ld1`/`st1` of its 16 bytes):
//! the round's rotation right by `n` bits of the big-endian block is then a byte rotation by
//! `k = n / 8` (`ext` of the register with itself), the table window loads as it lies in the
//! file (its bytes are in the same order), and the junk in front of the entry is cleared with
//! one `and`. The index, the state's last `k` bytes read big-endian, comes out with one `umov`
//! (byte 15 for `n = 8`; for `n = 16` the 16-bit lane of bytes 14 and 15, then a byte swap,
//! because the lane reads them little-endian).
//!
//! # Instruction mix per block and round
//!
//! As rustc 1.95 compiles the kernel (`--release`, read from its assembly):
//!
//! | step                      | `n = 16`       | `n = 8`                   | issues on   |
//! |---------------------------|----------------|---------------------------|-------------|
//! | index to a general reg.   | `umov`         | `umov`                    | vector pipe |
//! | index byte order          | `rev`, `lsr`   | —                         | integer     |
//! | window offset `x·w + c`   | `umaddl`       | `sub`, `add` (`16x − x`)  | integer     |
//! | window load               | `ldur q`       | `ldur q`                  | load        |
//! | rotation                  | `ext`          | `ext`                     | vector pipe |
//! | junk bytes cleared        | `and`          | `ins` of `wzr` at byte 0¹ | vector pipe |
//! | constant and entry in     | `eor` ×2       | `eor` ×2                  | vector pipe |
//!
//! ¹ LLVM's choice for a mask that clears one byte; from a general register it also takes an
//! integer slot.
//!
//! That is five vector-pipe operations, two or three integer ones and one load per block and
//! round, eight or nine instructions. Per round for the whole group come one round constant
//! (built in general registers and inserted) and a few register spills (7 stack accesses per
//! round for `n = 16`, 13 for `n = 8`: under 0.6 per block-round, on the load and store pipes).
//! A bound file's index mask costs nothing per round: it is spread over every line of the
//! state, which the rotation leaves unchanged, as in `space_hard::avx2`.
//!
//! **Expected speed: an estimate from that mix, not a measurement** (the project's only aarch64
//! machine is qemu-user, whose timings mean nothing). A core with two 128-bit vector pipes and a
//! four-wide front end (Neoverse N1, as in AWS Graviton2 and Ampere Altra; N2 also has two vector
//! pipes) issues the five vector operations in no less than 2.5 cycles, and decodes the eight or
//! nine instructions in about as long, so a block-round costs at least about 2.5 cycles: for
//! `n = 16` (128 rounds) about 320 cycles per 16-byte block, 20 cycles per byte, at most about
//! 125 MB/s per core at 2.5 GHz; for `n = 8` (300 rounds) about 47 cycles per byte, about 53 MB/s
//! at 2.5 GHz. That bound holds while the group hides each block's own chain (`umov`, byte swap,
//! `umaddl`, the load, `and`, `eor`: about 15 cycles from the L1 cache, 20–25 from the L2):
//! 24 blocks at 2.5 cycles give 60 cycles per round. Where the 896 KiB `n = 16` table does not fit
//! the core's L2 (1 MiB on Graviton2's and Altra's N1 cores; N2's is 512 KiB or 1 MiB), a round
//! waits on the system cache instead (on the order of 100 cycles), some 4 cycles per block-round. Cores with four vector pipes (Neoverse
//! V1, V2) could come nearer to half the cycles, front end permitting.
//!
//! # Registers
//!
//! A group of 24 blocks (each state in a register of its own, `each_lane!`) goes through
//! the rounds together so that their table loads overlap: NEON's 32 registers hold the 24
//! states, the keep mask and the round constant, and the temporaries of the rounds in flight
//! mostly fit beside them (the few spills counted above).
//!
//! Used for `n = 8` and `n = 16`; `n = 24` (a 208 MiB table: every lookup a trip to memory)
//! stays on the scalar rounds here: x86-64's kernel for it (`space_hard::avx2::far_lanes`,
//! many lookups in flight) is not ported yet.

#![allow(unsafe_code)]

use core::arch::aarch64::{
    uint8x16_t, vandq_u8, vdupq_n_u8, veorq_u8, vextq_u8, vgetq_lane_u8, vgetq_lane_u16, vld1q_u8,
    vreinterpretq_u16_u8, vst1q_u8,
};

use super::{LineBits, Masks, SECTION_HEADER_LEN, Table, Tables};

use crate::Backend;
use crate::cbc::BLOCK_LEN;

/// Blocks per group, each state in a register (see the module docs).
const LANES: usize = 24;

/// `$body` with `$i` bound to each lane index, `0 .. LANES`, written out: indexed by
/// constants, the 24 states are 24 values the compiler keeps in registers. (A loop over them,
/// which LLVM does not unroll at this length, keeps them in memory: a load and a store more
/// per block and round, seen in the compiled code.)
macro_rules! each_lane {
    ($i:ident => $body:block) => {
        each_lane!(@ $i => $body;
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23)
    };
    (@ $i:ident => $body:block; $($n:literal)*) => {
        $({
            let $i: usize = $n;
            $body
        })*
    };
}
const _: () = assert!(LANES == 24, "each_lane! writes out 24 lanes");

/// Decrypts `blocks` in place with the NEON kernel if `backend` is [`Backend::Neon`], the CPU
/// has NEON and the table's width has a vector path (`n = 8`, `n = 16`); returns whether it
/// did.
pub(crate) fn decrypt_blocks(
    backend: Backend,
    t: &Tables<'_>,
    mask: Option<&[u8; BLOCK_LEN]>,
    blocks: &mut [[u8; BLOCK_LEN]],
) -> bool {
    const L8: usize = LineBits::N8.section_len();
    const L16: usize = LineBits::N16.section_len();
    if backend != Backend::Neon || !backend.is_available() {
        return false;
    }
    let m = Masks::new(t.line_bits(), mask);
    match t.table {
        // SAFETY: the CPU has NEON (`Backend::Neon` is available: checked above).
        Table::N8(t) => unsafe { decrypt_neon::<8, L8>(t, &m, blocks) },
        // SAFETY: as above.
        Table::N16(t) => unsafe { decrypt_neon::<16, L16>(t, &m, blocks) },
        Table::N24(_) => return false,
    }
    true
}

/// The round constant `⟨r⟩ ⊕ b` in memory byte order (big-endian, as the block).
fn round_constant(m: &Masks, r: u32) -> [u8; BLOCK_LEN] {
    (u128::from(r) ^ m.out).to_be_bytes()
}

/// The state's last line, `s mod 2^n` of the big-endian block: byte 15 for `n = 8`; for
/// `n = 16` bytes 14 and 15, most significant first. The 16-bit lane 7 holds those two bytes
/// in memory order, so its native-endian bytes read big-endian give the line on either byte
/// order (on little-endian aarch64, `umov` and `rev16`).
#[inline]
#[target_feature(enable = "neon")]
fn last_line<const N: u32>(v: uint8x16_t) -> u32 {
    if N == 8 {
        u32::from(vgetq_lane_u8::<15>(v))
    } else {
        let lane = vgetq_lane_u16::<7>(vreinterpretq_u16_u8(v));
        u32::from(u16::from_be_bytes(lane.to_ne_bytes()))
    }
}

/// The state rotated right by one line of the big-endian block: byte `i` moves to
/// `i + k (mod 16)`, i.e. the last `k` bytes come first (`ext` of the register with itself
/// from byte `16 − k` on).
#[inline]
#[target_feature(enable = "neon")]
fn rotate_line<const N: u32>(v: uint8x16_t) -> uint8x16_t {
    if N == 8 {
        vextq_u8::<15>(v, v)
    } else {
        vextq_u8::<14>(v, v)
    }
}

/// The rounds `R..=1` on groups of [`LANES`] blocks, the remainder on the scalar rounds.
/// A function with NEON enabled: safe to call only where the CPU has it.
#[target_feature(enable = "neon")]
fn decrypt_neon<const N: u32, const LEN: usize>(
    t: &[u8; LEN],
    m: &Masks,
    blocks: &mut [[u8; BLOCK_LEN]],
) {
    // `LEN` is the section length of width `N` (what `window_start`'s bound rests on), and
    // `N` a width with this vector path (`last_line`, `rotate_line`).
    const {
        assert!(N == 8 || N == 16);
        assert!(matches!(LineBits::from_bits(N), Some(b) if b.section_len() == LEN));
    };
    let k = N as usize / 8;
    let w = BLOCK_LEN - k;
    let rounds = super::soft::rounds::<N>();
    let index_mask = (1u32 << N) - 1;
    // The window's first `k` bytes belong to the entry before (or the section header): kept
    // are the last `w`.
    let keep: [u8; BLOCK_LEN] = core::array::from_fn(|i| if i >= k { 0xff } else { 0 });
    // SAFETY: a 16-byte load of a 16-byte array.
    let keep = unsafe { vld1q_u8(keep.as_ptr()) };
    // A bound file's index mask `a`, spread over every line: rotating the state by a line
    // leaves it unchanged, so a state kept XORed with it indexes the table at `x ⊕ a` with no
    // per-round work (see the parent module).
    let spread = (0..BLOCK_LEN / k).fold(0u128, |acc, _| (acc << N) | u128::from(m.index));
    let spread = spread.to_be_bytes();
    // SAFETY: a 16-byte load of a 16-byte array.
    let spread = unsafe { vld1q_u8(spread.as_ptr()) };
    let mut s = [vdupq_n_u8(0); LANES];
    let (groups, rest) = blocks.as_chunks_mut::<LANES>();
    for chunk in groups {
        each_lane!(i => {
            // SAFETY: a 16-byte load of a 16-byte block.
            let block = unsafe { vld1q_u8(chunk[i].as_ptr()) };
            s[i] = veorq_u8(block, spread);
        });
        for r in (1..=rounds).rev() {
            let c = round_constant(m, r);
            // SAFETY: a 16-byte load of a 16-byte array.
            let c = unsafe { vld1q_u8(c.as_ptr()) };
            each_lane!(i => {
                let v = s[i];
                let x = last_line::<N>(v) & index_mask;
                let start = window_start::<LEN>(x as usize, w);
                // SAFETY: `start .. start + 16` is inside `t` (`window_start`, with `x`
                // masked to `n` bits just above); `ld1` needs no alignment.
                let win = unsafe { vld1q_u8(t.as_ptr().add(start)) };
                // The rotation and the constant first: only the last XOR waits on the load.
                let rc = veorq_u8(rotate_line::<N>(v), c);
                s[i] = veorq_u8(rc, vandq_u8(win, keep));
            });
        }
        each_lane!(i => {
            let out = veorq_u8(s[i], spread);
            // SAFETY: a 16-byte store to a 16-byte block.
            unsafe { vst1q_u8(chunk[i].as_mut_ptr(), out) };
        });
    }
    // Fewer blocks than a group: the scalar rounds (the same bytes).
    super::soft::decrypt_with::<N, LEN>(t, m, rest);
    // The states live in vector registers and are not wiped, for the reason given in
    // `space_hard::avx2` (a forced wipe pins them to the stack every round); their last
    // values are the blocks just stored into the caller's buffer.
    let _ = s;
}

/// Where the 16 bytes that end where entry `x` ends start. For `x < 2^n` and `LEN` the
/// section length of width `n` (entry length `w`), the window
/// `[SECTION_HEADER_LEN + (x + 1)·w − 16, SECTION_HEADER_LEN + (x + 1)·w)` is inside the
/// section, because `w ≤ 16 ≤ SECTION_HEADER_LEN` and `(x + 1)·w ≤ 2^n·w`; the caller masks
/// `x` to `n` bits, which is what makes its load sound. (The same bound as
/// `space_hard::avx2`'s, kept beside the load it justifies.)
#[inline(always)]
fn window_start<const LEN: usize>(x: usize, w: usize) -> usize {
    let start = SECTION_HEADER_LEN + (x + 1) * w - BLOCK_LEN;
    debug_assert!(start + BLOCK_LEN <= LEN);
    start
}
