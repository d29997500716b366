//! Table kinds shared by the AES-256 and SM4 networks, and zero-copy views of them.
//!
//! Every table is an array of bytes indexed by a byte, so a view is a set of fixed-size array
//! references into the key file: no copy, no alignment requirement, no `unsafe`. Lengths are
//! checked once when the view is made; afterwards every lookup index is a `u8` (or a pair of
//! nibbles) into a 256-entry array and cannot be out of bounds.

/// One nibble-XOR table (Chow et al. 2002, type IV): index `(a << 4) | b` for two encoded
/// nibbles, value: the encoded XOR in the low nibble (the high nibble is ignored).
pub type XorTable = [u8; 256];
/// The 2 nibble-XOR tables that XOR two encoded bytes (high nibble first).
pub type Xor8 = [XorTable; 2];
/// The 8 nibble-XOR tables that XOR two encoded 32-bit words: table `2k` for the high nibble
/// of byte `k`, `2k + 1` for its low nibble.
pub type Xor32 = [XorTable; 8];
/// The 32 nibble-XOR tables that XOR two encoded 128-bit blocks.
pub type Xor128 = [XorTable; 32];
/// A pairwise XOR tree over four encoded words, `(v0 ⊕ v1) ⊕ (v2 ⊕ v3)`, tables in that order.
pub type ColumnXor = [Xor32; 3];

/// Entries of a wide table.
pub const WIDE_ENTRIES: usize = 1 << 16;
/// A wide table: two encoded bytes in, one byte out, indexed by `(a << 8) | b`. The
/// plaintext-side tables use them where an 8-bit value must be combined with another without
/// ever being split into nibbles (see SECURITY.md, "first-order DCA").
pub type WideTable = [u8; WIDE_ENTRIES];

/// Bytes of the external-input mixing tables: 16 tables × 256 entries × 16 bytes.
pub const INPUT_MIX_LEN: usize = 16 * 256 * 16;
/// Bytes of the external-input XOR tree: 15 × 32 nibble-XOR tables.
pub const INPUT_XOR_LEN: usize = 15 * 32 * 256;
/// Bytes of an external-input section (the same for every algorithm).
pub const INPUT_LEN: usize = INPUT_MIX_LEN + INPUT_XOR_LEN;

/// Tables that strip the external input encoding F from a ciphertext block and give the
/// first round's encoded state: 16 byte→128-bit tables and a pairwise XOR tree over their
/// outputs (levels of 8, 4, 2 and 1 XORs).
#[derive(Clone, Copy)]
pub struct Input<'a> {
    /// `mix[q][b]`: the 128-bit contribution of byte `q` of the encoded ciphertext.
    pub mix: &'a [[[u8; 16]; 256]; 16],
    /// The XOR tree, level by level, pairs `(0, 1), (2, 3), ...` within a level.
    pub xor: &'a [Xor128; 15],
}

impl<'a> Input<'a> {
    /// Views an input section, if it has exactly [`INPUT_LEN`] bytes.
    pub fn from_section(s: &'a [u8]) -> Option<Self> {
        if s.len() != INPUT_LEN {
            return None;
        }
        let (mix, xor) = s.split_at(INPUT_MIX_LEN);
        Some(Input {
            mix: entries(mix)?,
            xor: xor_groups(xor)?,
        })
    }
}

/// The input stage of a container: present exactly when the header says the tables start with
/// one (external encoding or device binding), under section kind `kind`.
///
/// # Errors
/// [`crate::Error::Malformed`] if the section is missing, unexpected, or of the wrong size.
pub(crate) fn input_stage<'a>(
    c: &crate::format::Container<'a>,
    kind: u32,
) -> Result<Option<Input<'a>>, crate::Error> {
    let bad = |what| crate::Error::Malformed { what };
    match (c.header().has_input_stage(), c.section(kind)) {
        (true, Some(s)) => Input::from_section(s)
            .map(Some)
            .ok_or(bad("input section of wrong size")),
        (true, None) => Err(bad("input section missing")),
        (false, None) => Ok(None),
        (false, Some(_)) => Err(bad("input section in a file that has no input stage")),
    }
}

/// Views `s` as `N` tables of 256 entries of `W` bytes, if its length is exactly that.
pub(crate) fn entries<const W: usize, const N: usize>(s: &[u8]) -> Option<&[[[u8; W]; 256]; N]> {
    let (entries, rest) = s.as_chunks::<W>();
    if !rest.is_empty() {
        return None;
    }
    let (tables, rest) = entries.as_chunks::<256>();
    if !rest.is_empty() {
        return None;
    }
    tables.try_into().ok()
}

/// Views `s` as `N` tables of 256 single bytes, if its length is exactly that.
pub(crate) fn byte_tables<const N: usize>(s: &[u8]) -> Option<&[[u8; 256]; N]> {
    let (tables, rest) = s.as_chunks::<256>();
    if !rest.is_empty() {
        return None;
    }
    tables.try_into().ok()
}

/// Views `s` as `N` wide tables, if its length is exactly that.
pub(crate) fn wide_tables<const N: usize>(s: &[u8]) -> Option<&[WideTable; N]> {
    let (tables, rest) = s.as_chunks::<WIDE_ENTRIES>();
    if !rest.is_empty() {
        return None;
    }
    tables.try_into().ok()
}

/// Views `s` as `N` groups of `G` nibble-XOR tables, if its length is exactly that.
pub(crate) fn xor_groups<const G: usize, const N: usize>(s: &[u8]) -> Option<&[[XorTable; G]; N]> {
    let (tables, rest) = s.as_chunks::<256>();
    if !rest.is_empty() {
        return None;
    }
    let (groups, rest) = tables.as_chunks::<G>();
    if !rest.is_empty() {
        return None;
    }
    groups.try_into().ok()
}

/// Views `s` as `N` column XOR trees, if its length is exactly that.
pub(crate) fn column_xors<const N: usize>(s: &[u8]) -> Option<&[ColumnXor; N]> {
    let (tables, rest) = s.as_chunks::<256>();
    if !rest.is_empty() {
        return None;
    }
    let (xors, rest) = tables.as_chunks::<8>();
    if !rest.is_empty() {
        return None;
    }
    let (columns, rest) = xors.as_chunks::<3>();
    if !rest.is_empty() {
        return None;
    }
    columns.try_into().ok()
}

/// `[f(0), f(1), ..., f(N - 1)]`, or `None` if any call gives `None`. Allocation-free and
/// panic-free (a stand-in for the unstable `core::array::try_from_fn`).
pub(crate) fn try_array<T: Copy, const N: usize>(
    mut f: impl FnMut(usize) -> Option<T>,
) -> Option<[T; N]> {
    let mut out = [None; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = Some(f(i)?);
    }
    let first = out.first().copied().flatten()?;
    Some(out.map(|x| x.unwrap_or(first)))
}
