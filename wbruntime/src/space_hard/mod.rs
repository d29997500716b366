//! Space-hard key files: a Feistel network whose round function is a table of the cipher's own
//! outputs, so that the key file is worth no more to an attacker than a list of AES-256 or SM4
//! outputs.
//!
//! After Bogdanov and Isobe, "White-box cryptography revisited: space-hard ciphers" (ACM CCS
//! 2015), §3 (SPACE). `docs/space-hard.md` states the construction and where it differs from
//! the paper; in short, for a line width `n ∈ {8, 16, 24}`:
//!
//! * `F(x)` = the most significant `128 − n` bits of `E_K(0^{128−n} ‖ x)`, `E` being AES-256 or
//!   SM4 and `x` an `n`-bit big-endian integer in the block's last `n / 8` bytes;
//! * the 128-bit block is `x_0 ‖ rest`, `x_0` its first `n` bits; round `r = 1 … R` maps it to
//!   `(rest ⊕ F(x_0) ⊕ ⟨r⟩) ‖ x_0`, `⟨r⟩` being `r` as a `(128 − n)`-bit integer; `R = 128`
//!   for `n = 16, 24` and `R = 300` for `n = 8`;
//! * decryption runs the rounds backwards.
//!
//! The key file holds `T[x] = F(x)` for every `x`: recovering `K` from it is recovering `K`
//! from `2^n` known (truncated) outputs of `E`, which is breaking `E`.
//!
//! ## The block as one 128-bit integer
//!
//! With the block read as a big-endian `u128` `s`, `x_0 = s >> (128 − n)` and
//! `rest = s mod 2^{128−n}`. Since `F(x_0) ⊕ ⟨r⟩ < 2^{128−n}`, the round is
//!
//! ```text
//! encrypt:  s ← rotl(s ⊕ (F(s >> (128 − n)) ⊕ ⟨r⟩), n)
//! decrypt:  s ← rotr(s, n) ⊕ F(s mod 2^n) ⊕ ⟨r⟩
//! ```
//!
//! (decryption's `s mod 2^n` is the last round's `x_0`, now the last line). Both read the table
//! with the entry at the *end* of a 16-byte window: `F(x)` is the low `128 − n` bits of the
//! big-endian `u128` that ends where entry `x` ends, so one unaligned 16-byte load and one mask
//! give it, with no shift. The 64-byte section header in front of entry 0 keeps every window
//! inside the section.
//!
//! ## Device binding
//!
//! A bound file's table is `T'[y] = F(y ⊕ a) ⊕ b`, with `a` the first `n / 8` bytes and `b`
//! the other `(128 − n) / 8` bytes of the 16-byte mask `M` that the binding section wraps per
//! device (`crate::binding`). The runtime indexes with `x ⊕ a` and XORs `b` into the round
//! constant, which cancels it: `T'[x ⊕ a] ⊕ b = F(x)`. Without `M` the table gives garbage.

// The vector rounds are reached through `FastKey` (feature `alloc`), as the other backends.
#[cfg(all(feature = "alloc", target_arch = "x86_64"))]
pub(crate) mod avx2;
#[cfg(all(feature = "alloc", target_arch = "x86_64"))]
pub(crate) mod avx512;
#[cfg(all(feature = "alloc", target_arch = "aarch64"))]
pub(crate) mod neon;
pub(crate) mod soft;

#[cfg(feature = "alloc")]
use crate::Backend;
use crate::Error;
#[cfg(feature = "alloc")]
use crate::cbc::BLOCK_LEN;
use crate::format::Container;

/// Section kind of the space-hard table (the same for both algorithms: the table is `E_K`'s
/// outputs, whatever `E` is).
pub const SECTION_TABLE: u32 = 0x0300;
/// Bytes of the section header in front of the table.
pub const SECTION_HEADER_LEN: usize = 64;

/// The width `n` of the line that indexes the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LineBits {
    /// `n = 8`: a 3,840-byte table, 300 rounds.
    N8,
    /// `n = 16`: a 917,504-byte table, 128 rounds. The default.
    N16,
    /// `n = 24`: a 218,103,808-byte table, 128 rounds.
    N24,
}

impl LineBits {
    /// Every line width, smallest first.
    pub const ALL: [LineBits; 3] = [LineBits::N8, LineBits::N16, LineBits::N24];

    /// `n`.
    pub const fn bits(self) -> u32 {
        match self {
            LineBits::N8 => 8,
            LineBits::N16 => 16,
            LineBits::N24 => 24,
        }
    }

    /// The line width with `n = bits`, if it is one of 8, 16, 24.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            8 => Some(LineBits::N8),
            16 => Some(LineBits::N16),
            24 => Some(LineBits::N24),
            _ => None,
        }
    }

    /// Rounds `R`: 300 for `n = 8`, 128 otherwise.
    pub const fn rounds(self) -> u32 {
        match self {
            LineBits::N8 => 300,
            _ => 128,
        }
    }

    /// Bytes per table entry, `(128 − n) / 8`.
    pub const fn entry_len(self) -> usize {
        (128 - self.bits() as usize) / 8
    }

    /// Entries in the table, `2^n`.
    pub const fn entries(self) -> usize {
        1 << self.bits()
    }

    /// Bytes of the table, `2^n × (128 − n) / 8`.
    pub const fn table_len(self) -> usize {
        self.entries() * self.entry_len()
    }

    /// Bytes of the whole section, header included.
    pub const fn section_len(self) -> usize {
        SECTION_HEADER_LEN + self.table_len()
    }

    /// The section header: `n`, the entry length, `R` (u16 LE), then zeros.
    pub const fn section_header(self) -> [u8; SECTION_HEADER_LEN] {
        let mut h = [0u8; SECTION_HEADER_LEN];
        h[0] = self.bits() as u8;
        h[1] = self.entry_len() as u8;
        let r = (self.rounds() as u16).to_le_bytes();
        h[2] = r[0];
        h[3] = r[1];
        h
    }
}

const SECTION_LEN_8: usize = LineBits::N8.section_len();
const SECTION_LEN_16: usize = LineBits::N16.section_len();
const SECTION_LEN_24: usize = LineBits::N24.section_len();

/// The validated section, as a reference of the exact size for its line width (so that the
/// lookups need no bounds checks: see `soft::window`).
#[derive(Clone, Copy)]
pub(crate) enum Table<'a> {
    N8(&'a [u8; SECTION_LEN_8]),
    N16(&'a [u8; SECTION_LEN_16]),
    N24(&'a [u8; SECTION_LEN_24]),
}

/// The validated view of a space-hard key file's table.
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    pub(crate) table: Table<'a>,
}

impl core::fmt::Debug for Tables<'_> {
    /// The line width only, never table bytes.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpaceHardTables")
            .field("line_bits", &self.line_bits())
            .finish_non_exhaustive()
    }
}

const fn bad(what: &'static str) -> Error {
    Error::Malformed { what }
}

impl<'a> Tables<'a> {
    /// The table of a container whose header says space-hard: exactly the table section (and
    /// the binding section when the file is bound), with a valid section header and the exact
    /// size for its line width.
    ///
    /// # Errors
    /// [`Error::Malformed`] otherwise.
    pub fn from_container(c: &Container<'a>) -> Result<Self, Error> {
        if !c.has_only_sections(&[SECTION_TABLE, crate::binding::SECTION_BINDING]) {
            return Err(bad("unknown section for a space-hard key file"));
        }
        let s = c
            .section(SECTION_TABLE)
            .ok_or(bad("space-hard table section missing"))?;
        let Some(head) = s.first_chunk::<SECTION_HEADER_LEN>() else {
            return Err(bad("space-hard table section too short"));
        };
        let bits = LineBits::from_bits(u32::from(head[0]))
            .ok_or(bad("space-hard line width is not 8, 16 or 24"))?;
        if *head != bits.section_header() {
            return Err(bad("space-hard section header fields are inconsistent"));
        }
        let size = bad("space-hard table section has the wrong size");
        let table = match bits {
            LineBits::N8 => Table::N8(s.try_into().map_err(|_| size)?),
            LineBits::N16 => Table::N16(s.try_into().map_err(|_| size)?),
            LineBits::N24 => Table::N24(s.try_into().map_err(|_| size)?),
        };
        Ok(Tables { table })
    }

    /// The line width `n`.
    pub const fn line_bits(&self) -> LineBits {
        match self.table {
            Table::N8(_) => LineBits::N8,
            Table::N16(_) => LineBits::N16,
            Table::N24(_) => LineBits::N24,
        }
    }
}

/// The table re-laid out for the x86-64 vector rounds (`FastKey` builds it for a handle or a
/// long message): entry `x` as the little-endian 16-byte value of the file's entry `x`
/// (`T'[x] = F(x ⊕ a) ⊕ b` for a bound file, `F(x)` otherwise), one aligned
/// entry per 16 bytes (the file's entries are `(128 − n) / 8` bytes, big-endian).
///
/// In that form a state kept as a little-endian 128-bit value in a register needs no
/// reordering at all: its last line `s mod 2^n`, the index, is the register's low `n` bits
/// (one move to a general register), the rotation is a byte rotation, and the entry is one
/// aligned load that never straddles two cache lines (a quarter of the file's 16-byte windows
/// do) and needs no clearing. It costs `2^n · 16` bytes (1 MiB for `n = 16`, against the
/// file's 896 KiB) and one pass over the table to build (`wbbench`: "re-layout (accelerate)").
/// Not for `n = 24`, whose rounds are bound by memory, not by instructions.
#[cfg(feature = "alloc")]
pub(crate) struct Relaid {
    /// `2^n` entries.
    entries: alloc::boxed::Box<[u128]>,
}

#[cfg(feature = "alloc")]
// Built for the x86-64 backends only (`FastKey`); NEON's rounds read the file's table.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Relaid {
    /// The re-laid-out table of `t`, for `n = 8` and `16` (`None` for `n = 24`).
    pub(crate) fn new(t: &Tables<'_>) -> Option<Self> {
        fn entries<const N: u32, const LEN: usize>(t: &[u8; LEN]) -> alloc::boxed::Box<[u128]> {
            let w = LineBits::from_bits(N).map_or(0, LineBits::entry_len);
            (0..1usize << N)
                .map(|x| {
                    // The 16 bytes that end where entry `x` ends (inside the section: see
                    // `soft::entry`), the junk in front of the entry cleared.
                    let end = SECTION_HEADER_LEN + (x + 1) * w;
                    t.get(end - BLOCK_LEN..end)
                        .and_then(|s| s.first_chunk::<16>())
                        .map_or(0, |s| u128::from_be_bytes(*s) & low_mask(N))
                })
                .collect()
        }
        let entries = match t.table {
            Table::N8(t) => entries::<8, SECTION_LEN_8>(t),
            Table::N16(t) => entries::<16, SECTION_LEN_16>(t),
            Table::N24(_) => return None,
        };
        Some(Relaid { entries })
    }

    /// The entries as an array of `E = 2^n` (`None` if `E` is not this table's size).
    pub(crate) fn entries<const E: usize>(&self) -> Option<&[u128; E]> {
        self.entries.as_ref().try_into().ok()
    }
}

#[cfg(feature = "alloc")]
impl Drop for Relaid {
    fn drop(&mut self) {
        // The entries are the key file's table: wiped as the Chow modes' re-laid-out tables are.
        zeroize::Zeroize::zeroize(&mut self.entries[..]);
    }
}

/// Decrypts independent blocks in place with `backend`: the vector rounds ([`avx512`],
/// [`avx2`], `neon`) for the SIMD backends where the width has them, the scalar rounds ([`soft`]) otherwise.
/// Both give the same bytes (the tests check every backend against the scalar one).
#[cfg(feature = "alloc")]
pub(crate) fn decrypt_blocks(
    backend: Backend,
    t: &Tables<'_>,
    relaid: Option<&Relaid>,
    mask: Option<&[u8; BLOCK_LEN]>,
    blocks: &mut [[u8; BLOCK_LEN]],
) {
    #[cfg(target_arch = "x86_64")]
    if avx512::decrypt_blocks(backend, t, relaid, mask, blocks)
        || avx2::decrypt_blocks(backend, t, relaid, mask, blocks)
    {
        return;
    }
    let _ = relaid;
    #[cfg(target_arch = "aarch64")]
    if neon::decrypt_blocks(backend, t, mask, blocks) {
        return;
    }
    let _ = backend;
    soft::decrypt_blocks(t, mask, blocks);
}

/// What a bound file's table expects besides the state: `a` XORed into every index, `b` into
/// every round constant (see the module docs). Zero for unbound files.
#[derive(Default)]
pub(crate) struct Masks {
    pub(crate) index: u32,
    pub(crate) out: u128,
}

impl Masks {
    /// Splits the device mask `M` for line width `bits`: `a` = its first `n / 8` bytes, `b` the
    /// rest, both big-endian.
    pub(crate) fn new(bits: LineBits, mask: Option<&[u8; 16]>) -> Self {
        let Some(m) = mask else {
            return Masks::default();
        };
        let whole = u128::from_be_bytes(*m);
        let n = bits.bits();
        Masks {
            index: (whole >> (128 - n)) as u32,
            out: whole & low_mask(n),
        }
    }
}

/// `2^{128−n} − 1`: the bits of a table entry.
pub(crate) const fn low_mask(n: u32) -> u128 {
    u128::MAX >> n
}

impl Drop for Masks {
    fn drop(&mut self) {
        // The masks are the device-binding secret's two halves.
        zeroize::Zeroize::zeroize(&mut self.index);
        zeroize::Zeroize::zeroize(&mut self.out);
    }
}

/// Every backend's rounds, with and without the re-laid-out table, against the scalar ones:
/// random tables (any bytes are a valid table), random blocks, bound (random device masks)
/// and unbound, every block count up to two full groups and then some, every width.
#[cfg(all(test, feature = "alloc"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use alloc::vec::Vec;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64: test inputs only.
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn bytes(&mut self, out: &mut [u8]) {
            for b in out {
                *b = self.next() as u8;
            }
        }
    }

    fn check(table: Table<'_>, rng: &mut Rng) {
        let t = Tables { table };
        let relaid = Relaid::new(&t);
        assert_eq!(relaid.is_some(), t.line_bits() != LineBits::N24);
        let mut mask = [0u8; BLOCK_LEN];
        rng.bytes(&mut mask);
        for mask in [None, Some(&mask)] {
            for count in (0..=60).chain([97, 200]) {
                let mut blocks: Vec<[u8; BLOCK_LEN]> = (0..count)
                    .map(|_| {
                        let mut b = [0u8; BLOCK_LEN];
                        rng.bytes(&mut b);
                        b
                    })
                    .collect();
                let input = blocks.clone();
                soft::decrypt_blocks(&t, mask, &mut blocks);
                for backend in Backend::available() {
                    let layouts = if relaid.is_some() { 2 } else { 1 };
                    for r in [None, relaid.as_ref()].into_iter().take(layouts) {
                        let mut got = input.clone();
                        decrypt_blocks(backend, &t, r, mask, &mut got);
                        assert!(
                            got == blocks,
                            "{backend}, n = {:?}, {count} blocks, bound: {}, re-laid out: {}",
                            t.line_bits(),
                            mask.is_some(),
                            r.is_some()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_backend_matches_the_scalar_rounds() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut s8 = alloc::vec![0u8; SECTION_LEN_8];
        let mut s16 = alloc::vec![0u8; SECTION_LEN_16];
        for _ in 0..2 {
            rng.bytes(&mut s8);
            rng.bytes(&mut s16);
            let s8: &[u8; SECTION_LEN_8] = s8.as_slice().try_into().unwrap();
            let s16: &[u8; SECTION_LEN_16] = s16.as_slice().try_into().unwrap();
            check(Table::N8(s8), &mut rng);
            check(Table::N16(s16), &mut rng);
        }
        let mut s24 = alloc::vec![0u8; SECTION_LEN_24];
        rng.bytes(&mut s24);
        let s24: &[u8; SECTION_LEN_24] = s24.as_slice().try_into().unwrap();
        check(Table::N24(s24), &mut rng);
    }
}
