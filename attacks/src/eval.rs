//! Evaluating pieces of a key file's network from the file alone, as an analyst with
//! FORMAT.md does: counted table lookups over the runtime's borrowed views
//! (`wbruntime::aes256::Tables`, `wbruntime::sm4::Tables`, which only say where each table
//! lies), and the decoding of the branch outputs that the combination tables give away.
//!
//! **The combination's diagonal.** Both ciphers end in 32 nibble tables that combine the two
//! branches' outputs, each encoded nibble by nibble under bijections `G` shared by both
//! branches: entry `(u << 4) | u` — the branches agree — is the plaintext nibble `G⁻¹(u)`
//! (FORMAT.md; `docs/aes256-whitebox.md` §4). Reading the sixteen diagonal entries of each
//! table gives `G⁻¹` itself, so every value a branch computes under `G` can be read in the
//! clear, and chosen values can be fed to the tables that read them.

use wbruntime::network::{ColumnXor, WideTable, XorTable};

/// Table lookups made so far: every entry the attack reads from the file counts once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lookups {
    /// Entries read.
    pub count: u64,
}

impl Lookups {
    /// Entry `i` of a byte-indexed table.
    pub fn at<T: Copy>(&mut self, table: &[T; 256], i: u8) -> T {
        self.count += 1;
        table[usize::from(i)]
    }

    /// Entry `(a << 8) | b` of a wide table.
    pub fn wide(&mut self, table: &WideTable, a: u8, b: u8) -> u8 {
        self.count += 1;
        table[usize::from(a) << 8 | usize::from(b)]
    }

    /// Two encoded `B`-byte values XORed nibble by nibble: table `2k` for the high nibble of
    /// byte `k`, `2k + 1` for the low one (FORMAT.md, "nibble-XOR table"). Missing tables
    /// leave their bytes zero: the views always hold `2B`.
    pub fn xor<const B: usize>(&mut self, a: &[u8; B], b: &[u8; B], t: &[XorTable]) -> [u8; B] {
        let mut out = [0u8; B];
        for (k, ((o, &x), &y)) in out.iter_mut().zip(a).zip(b).enumerate() {
            let (Some(hi), Some(lo)) = (t.get(2 * k), t.get(2 * k + 1)) else {
                break;
            };
            let h = self.at(hi, (x & 0xf0) | (y >> 4));
            let l = self.at(lo, (x << 4) | (y & 0x0f));
            *o = (h << 4) | (l & 0x0f);
        }
        out
    }

    /// `(v0 ⊕ v1) ⊕ (v2 ⊕ v3)` on encoded words, tables in the order of [`ColumnXor`].
    pub fn column_xor(&mut self, v: &[[u8; 4]; 4], t: &ColumnXor) -> [u8; 4] {
        let [t01, t23, t] = t;
        let a = self.xor(&v[0], &v[1], t01);
        let b = self.xor(&v[2], &v[3], t23);
        self.xor(&a, &b, t)
    }
}

/// A byte bijection and its inverse.
#[derive(Clone, Debug)]
pub struct ByteCode {
    /// `decode[e]`: the value carried by encoded byte `e`.
    pub decode: [u8; 256],
    /// `encode[v]`: the encoded byte that carries `v`.
    pub encode: [u8; 256],
}

impl ByteCode {
    /// The code whose decoding is `decode`, if it is a bijection.
    pub fn from_decoding(decode: [u8; 256]) -> Option<Self> {
        let mut encode = [0u8; 256];
        let mut seen = [false; 256];
        for (e, &v) in decode.iter().enumerate() {
            let slot = seen.get_mut(usize::from(v))?;
            if *slot {
                return None;
            }
            *slot = true;
            encode[usize::from(v)] = e as u8;
        }
        Some(ByteCode { decode, encode })
    }
}

/// The branch outputs' encoding `G`, byte by byte, read from the combination's diagonal.
#[derive(Clone, Debug)]
pub struct OutputCode {
    /// Output byte `p`'s code (its two nibble bijections).
    pub bytes: Vec<ByteCode>,
}

impl OutputCode {
    /// Reads `G⁻¹` from the diagonal of the 32 combination tables (table `2p`: high nibble of
    /// output byte `p`, `2p + 1`: low), or `None` if a diagonal is not a bijection (then the
    /// file is not the documented construction).
    pub fn from_combination(combine: &[XorTable; 32], lookups: &mut Lookups) -> Option<Self> {
        let mut nibbles = [[0u8; 16]; 32];
        for (n, table) in nibbles.iter_mut().zip(combine) {
            let mut seen = 0u16;
            for (u, slot) in (0u8..16).zip(n.iter_mut()) {
                *slot = lookups.at(table, (u << 4) | u) & 0x0f;
                seen |= 1 << *slot;
            }
            if seen != u16::MAX {
                return None;
            }
        }
        let bytes = nibbles
            .chunks_exact(2)
            .map(|pair| {
                let decode = core::array::from_fn(|e| (pair[0][e >> 4] << 4) | pair[1][e & 0x0f]);
                ByteCode::from_decoding(decode)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(OutputCode { bytes })
    }

    /// The value of encoded output byte `e` at position `p` (`0` past the block).
    pub fn decode(&self, p: usize, e: u8) -> u8 {
        self.bytes.get(p).map_or(0, |c| c.decode[usize::from(e)])
    }

    /// The encoding of value `v` at position `p` (`0` past the block).
    pub fn encode(&self, p: usize, v: u8) -> u8 {
        self.bytes.get(p).map_or(0, |c| c.encode[usize::from(v)])
    }
}
