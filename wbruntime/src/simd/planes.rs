//! Tables re-laid out for the batched backends, once per accelerated key.
//!
//! The key file keeps one layout; these are in-memory copies shaped for vector lookups. None
//! of them decodes anything: every entry is an entry of a key-file table, moved.
//!
//! * A table of `W`-byte entries (`[[u8; W]; 256]`: the word tables and the input stage's
//!   block tables) is kept as `W` byte *planes* for backends that look up one output byte of
//!   all lanes with a permute (plane `j` holds byte `j` of every entry), or entry by entry for
//!   backends that fetch whole entries with 32-bit gathers or loads ([`Layout`]).
//! * A nibble-XOR table becomes a 128-byte *packed* table (vector backends), or a 256-byte one
//!   with its results already in place (portable), in a 256-byte slot either way
//!   ([`XPack`]), see [`pack`]. Altogether the copies are about as large as the key file
//!   without its wide tables.
//! * Some tables get their output nibbles swapped (`swap_out`), so that the value arrives in
//!   the nibble order its XOR table reads (the "right operand" order, see `simd/network.rs`).
//!   Which ones is fixed by the network's shape and written next to each table kind below.
//!   The wide tables are used in place, from the key file.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::network::{ColumnXor, Input, XorTable};
use crate::{aes256, sm4};

/// How a backend wants its tables. (Off x86-64 only the portable layout and NEON's
/// [`Layout::Planes`] are used.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Layout {
    /// Multi-byte tables as byte planes, packed XOR tables as they are (AVX-512 VBMI).
    Planes,
    /// Multi-byte tables entry by entry; packed XOR tables with their 16-byte rows XORed into
    /// running differences (AVX2, see `simd::avx2::xlookup`).
    Gather,
    /// Multi-byte tables entry by entry; packed XOR tables as they are (portable).
    Entries,
}

/// Tables start on a cache line, so that a 256- or 128-byte table is exactly four or two
/// lines (the networks stream every table once per group; a straddling table costs a line
/// more).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Aligned<T>(pub T);

/// A byte→word table, in its backend's [`Layout`].
pub(crate) struct Word(Aligned<[u8; 1024]>);
/// An input-stage byte→block table, in its backend's [`Layout`].
pub(crate) struct Mix(Aligned<[u8; 4096]>);

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Word {
    /// Plane `j` (byte `j` of every entry), if laid out as [`Layout::Planes`].
    pub fn plane(&self, j: usize) -> &[u8; 256] {
        &self.0.0.as_chunks::<256>().0[j]
    }

    /// The entries, if laid out entry by entry.
    pub fn entries(&self) -> &[[u8; 4]] {
        self.0.0.as_chunks::<4>().0
    }
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Mix {
    /// Plane `j`, if laid out as [`Layout::Planes`].
    pub fn plane(&self, j: usize) -> &[u8; 256] {
        &self.0.0.as_chunks::<256>().0[j]
    }

    /// The entries, if laid out entry by entry.
    pub fn entries(&self) -> &[[u8; 16]] {
        self.0.0.as_chunks::<16>().0
    }
}

/// A nibble-XOR table prepared for one role (see [`pack`]): packed into its first 128 bytes
/// for the vector backends, all 256 entries (each in the nibble the role wants it in) for the
/// portable one, whose scalar lookups are cheaper without the unpacking.
pub(crate) struct XPack(Aligned<[u8; 256]>);

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl XPack {
    /// The packed table ([`Layout::Planes`], [`Layout::Gather`]).
    pub fn packed(&self) -> &[u8; 128] {
        &self.0.0.as_chunks::<128>().0[0]
    }

    /// The whole table ([`Layout::Entries`]).
    pub fn entries(&self) -> &[u8; 256] {
        &self.0.0
    }
}
/// A packed column XOR tree (`(v0 ⊕ v1) ⊕ (v2 ⊕ v3)`, eight tables per word XOR); the middle
/// level, `v2 ⊕ v3`, is the right operand of the last.
pub(crate) type PColumn = [[XPack; 8]; 3];

/// A byte with its nibbles swapped.
const fn swap(x: u8) -> u8 {
    x.rotate_left(4)
}

/// Packs a nibble-XOR table for the lane networks, for a result that will be a left operand
/// (`right == false`) or a right one.
///
/// The lane networks index a table with one byte whose high nibble comes from the *left*
/// operand and low nibble from the *right* one for the high-nibble table (table `2k`, the
/// key file's order), and the other way round for the low-nibble table (`2k + 1`): `lo` says
/// which, and the low-nibble table is stored transposed. Entry `i` of the (transposed) table,
/// `T(i)`, is then split by the index's top bit: packed byte `j < 128` holds `T(j)` in the
/// nibble the result is wanted in and `T(j + 128)` in the other one. The wanted nibble is
/// where the result's role puts it: a left operand keeps its high nibble high and its low
/// nibble low, a right operand the other way round. A 128-entry lookup (one `vpermi2b`, 8
/// `vpshufb` rows) of `i & 0x7f` followed by a nibble swap where bit 7 of `i` is set gives
/// `T(i)` in the wanted nibble; the other nibble is not part of the result and is masked by
/// whoever reads it.
fn pack(t: &XorTable, lo: bool, right: bool, layout: Layout) -> XPack {
    let entry = |i: u8| {
        let i = if lo { swap(i) } else { i };
        t[usize::from(i)] & 0x0f
    };
    let high = lo == right;
    let mut out = [0u8; 256];
    if layout == Layout::Entries {
        for (i, o) in (0u8..=255).zip(out.iter_mut()) {
            *o = if high { entry(i) << 4 } else { entry(i) };
        }
        return XPack(Aligned(out));
    }
    for (j, o) in (0u8..0x80).zip(out.iter_mut()) {
        let (first, second) = (entry(j), entry(j | 0x80));
        *o = if high {
            (first << 4) | second
        } else {
            first | (second << 4)
        };
    }
    if layout == Layout::Gather {
        running_differences(&mut out.as_chunks_mut::<16>().0[..8], 1);
    }
    XPack(Aligned(out))
}

/// Lays out a table of `W`-byte entries (`B = 256 W` bytes), each output byte nibble-swapped if
/// `swap_out`.
fn multi<const W: usize, const B: usize>(
    t: &[[u8; W]; 256],
    swap_out: bool,
    layout: Layout,
) -> Aligned<[u8; B]> {
    const { assert!(B == 256 * W) };
    let mut out = [0u8; B];
    for (i, entry) in t.iter().enumerate() {
        for (j, &b) in entry.iter().enumerate() {
            let at = match layout {
                Layout::Planes => 256 * j + i,
                Layout::Gather | Layout::Entries => W * i + j,
            };
            out[at] = if swap_out { swap(b) } else { b };
        }
    }
    Aligned(out)
}

/// Each 16-byte row `r` of a half of `rows` (rows `0..n/2` and `n/2..n`) replaced by row `r`
/// ⊕ row `r - 1` of the same half, so that the XOR of a half's rows `0..=s` is its row `s`
/// (see `simd::avx2::xlookup`).
fn running_differences(rows: &mut [[u8; 16]], halves: usize) {
    let per_half = rows.len() / halves;
    for half in rows.chunks_mut(per_half) {
        for r in (1..half.len()).rev() {
            let prev = half[r - 1];
            for (x, p) in half[r].iter_mut().zip(prev) {
                *x ^= p;
            }
        }
    }
}

/// A byte table with its outputs nibble-swapped if `swap_out` (and for [`Layout::Gather`],
/// each half's rows as running differences).
fn byte_table(t: &[u8; 256], swap_out: bool, layout: Layout) -> [u8; 256] {
    let mut out = if swap_out { t.map(swap) } else { *t };
    if layout == Layout::Gather {
        running_differences(out.as_chunks_mut::<16>().0, 2);
    }
    out
}

/// Builds the re-laid tables for one [`Layout`].
#[derive(Clone, Copy)]
struct Prep(Layout);

impl Prep {
    /// `N` XOR tables in the key file's order (even: high nibble, odd: low nibble), all
    /// packed for one role.
    fn packs<const N: usize>(self, t: &[XorTable; N], right: bool) -> [XPack; N] {
        core::array::from_fn(|i| pack(&t[i], i % 2 == 1, right, self.0))
    }

    /// A column XOR tree: `v0 ⊕ v1` and the final sum are left operands, `v2 ⊕ v3` a right
    /// one.
    fn column(self, c: &ColumnXor) -> PColumn {
        core::array::from_fn(|l| self.packs(&c[l], l == 1))
    }

    fn word(self, t: &[[u8; 4]; 256], swap_out: bool) -> Word {
        Word(multi(t, swap_out, self.0))
    }

    /// Word tables in groups of four (the words one column XOR tree adds, `v0 ⊕ v1` and
    /// `v2 ⊕ v3`): the odd ones are right operands and come nibble-swapped.
    fn words<const N: usize>(self, t: &[[[u8; 4]; 256]; N]) -> Vec<Word> {
        t.iter()
            .enumerate()
            .map(|(i, w)| self.word(w, i % 2 == 1))
            .collect()
    }
}

/// The input stage: sixteen byte→block tables, odd ones (right operands of the tree's first
/// level) nibble-swapped, and the packed XOR tree.
pub(crate) struct InputPlanes {
    pub mix: Vec<Mix>,
    pub xor: Vec<[XPack; 32]>,
}

impl InputPlanes {
    fn new(input: Option<&Input<'_>>, p: Prep) -> Option<Self> {
        let input = input?;
        Some(InputPlanes {
            mix: input
                .mix
                .iter()
                .enumerate()
                .map(|(q, m)| Mix(multi(m, q % 2 == 1, p.0)))
                .collect(),
            // Group `g` makes node `g - [0, 8, 12, 14][level]` of the next level: a right
            // operand when that is odd, which (the starts being even) is when `g` is; the root
            // (group 14) is a left one.
            xor: (0..)
                .zip(input.xor)
                .map(|(g, x)| p.packs(x, g % 2 == 1))
                .collect(),
        })
    }
}

/// One AES-256 round: word tables re-laid, XOR trees packed. A branch's round 13 leaves `x3`
/// empty and keeps its first level in [`AesBranch::half_x3`].
pub(crate) struct AesRound {
    pub t2: Vec<Word>,
    pub x2: Vec<PColumn>,
    pub t3: Vec<Word>,
    pub x3: Vec<PColumn>,
}

impl AesRound {
    fn new(
        t2: &[[[u8; 4]; 256]; 16],
        x2: &[ColumnXor; 4],
        t3: &[[[u8; 4]; 256]; 16],
        x3: &[ColumnXor],
        p: Prep,
    ) -> Self {
        AesRound {
            t2: p.words(t2),
            x2: x2.iter().map(|c| p.column(c)).collect(),
            t3: p.words(t3),
            x3: x3.iter().map(|c| p.column(c)).collect(),
        }
    }
}

/// One AES-256 branch: rounds 11, 12 and 13, and round 13's half XOR level.
pub(crate) struct AesBranch {
    pub rounds: Vec<AesRound>,
    pub half: AesRound,
    pub half_x3: Vec<[[XPack; 8]; 2]>,
}

/// An AES-256 key's re-laid tables.
pub(crate) struct AesPlanes {
    /// The layout they were made for (a backend refuses any other).
    pub layout: Layout,
    pub input: Option<InputPlanes>,
    pub rounds: Vec<AesRound>,
    pub branches: [AesBranch; 2],
    pub combine: Box<[XPack; 32]>,
}

impl AesPlanes {
    pub fn new(t: &aes256::Tables<'_>, layout: Layout) -> Self {
        let p = Prep(layout);
        let round = |r: &aes256::Round<'_>| AesRound::new(r.t2, r.x2, r.t3, r.x3, p);
        let branch = |b: &aes256::Branch<'_>| AesBranch {
            rounds: b.rounds.iter().map(round).collect(),
            half: AesRound::new(b.half.t2, b.half.x2, b.half.t3, &[], p),
            half_x3: b
                .half
                .x3
                .iter()
                .map(|c| core::array::from_fn(|k| p.packs(&c[k], false)))
                .collect(),
        };
        let [b0, b1] = &t.last.branches;
        AesPlanes {
            layout,
            input: InputPlanes::new(t.input.as_ref(), p),
            rounds: t.rounds.iter().map(round).collect(),
            branches: [branch(b0), branch(b1)],
            combine: Box::new(p.packs(t.last.combine, false)),
        }
    }
}

/// One SM4 round, re-laid. Right operands, nibble-swapped: `pre[4..12]` (the second and third
/// words of `X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3}`), the odd `t` and `u` word tables (not in the last
/// round, whose `t` outputs are wide-table indices), and all four `r` tables.
pub(crate) struct Sm4Round {
    pub pre: Aligned<[[u8; 256]; 12]>,
    pub pre_xor: [[XPack; 2]; 8],
    pub t: Vec<Word>,
    /// Three levels in a full round; in the last round one word XOR (of the wide outputs).
    pub t_xor: Vec<[XPack; 8]>,
    pub u: Vec<Word>,
    pub u_xor: PColumn,
    pub r: Aligned<[[u8; 256]; 4]>,
    pub r_xor: [XPack; 8],
}

impl Sm4Round {
    #[allow(clippy::too_many_arguments)]
    fn new(
        pre: &[[u8; 256]; 12],
        pre_xor: &[[XorTable; 2]; 8],
        t: &[[[u8; 4]; 256]; 4],
        t_xor: &[[XorTable; 8]],
        u: &[[[u8; 4]; 256]; 4],
        u_xor: &ColumnXor,
        r: &[[u8; 256]; 4],
        r_xor: &[XorTable; 8],
        last: bool,
        p: Prep,
    ) -> Self {
        Sm4Round {
            pre: Aligned(core::array::from_fn(|i| byte_table(&pre[i], i >= 4, p.0))),
            pre_xor: pre_xor.each_ref().map(|x| p.packs(x, false)),
            t: if last {
                t.iter().map(|w| p.word(w, false)).collect()
            } else {
                p.words(t)
            },
            t_xor: (0..).zip(t_xor).map(|(l, x)| p.packs(x, l == 1)).collect(),
            u: p.words(u),
            u_xor: p.column(u_xor),
            r: Aligned(r.each_ref().map(|x| byte_table(x, true, p.0))),
            r_xor: p.packs(r_xor, false),
        }
    }
}

/// One SM4 branch: rounds 24–30 and round 31.
pub(crate) struct Sm4Branch {
    pub rounds: Vec<Sm4Round>,
    pub last: Sm4Round,
}

/// An SM4 key's re-laid tables: input stage, rounds 0–23, each branch, and the combination.
pub(crate) struct Sm4Planes {
    /// The layout they were made for (a backend refuses any other).
    pub layout: Layout,
    pub input: Option<InputPlanes>,
    pub rounds: Vec<Sm4Round>,
    pub branches: [Sm4Branch; 2],
    pub combine: Box<[XPack; 32]>,
}

impl Sm4Planes {
    pub fn new(t: &sm4::Tables<'_>, layout: Layout) -> Self {
        let p = Prep(layout);
        let round = |r: &sm4::Round<'_>| {
            Sm4Round::new(
                r.pre, r.pre_xor, r.t, r.t_xor, r.u, r.u_xor, r.r, r.r_xor, false, p,
            )
        };
        let branch = |b: &sm4::Branch<'_>| {
            let l = &b.last;
            Sm4Branch {
                rounds: b.rounds.iter().map(round).collect(),
                last: Sm4Round::new(
                    l.pre,
                    l.pre_xor,
                    l.t,
                    core::slice::from_ref(l.t_xor),
                    l.u,
                    l.u_xor,
                    l.r,
                    l.r_xor,
                    true,
                    p,
                ),
            }
        };
        let [b0, b1] = &t.last.branches;
        Sm4Planes {
            layout,
            input: InputPlanes::new(t.input.as_ref(), p),
            rounds: t.rounds.iter().map(round).collect(),
            branches: [branch(b0), branch(b1)],
            combine: Box::new(p.packs(t.last.combine, false)),
        }
    }
}
