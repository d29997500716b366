//! Structural attacks: key material stored as such, and tables that are a key-dependent S-box
//! up to a known linear layer.
//!
//! (a) **Key search**: the raw key, every round key and every decryption round key, as byte
//! strings in either byte order, at any offset of the file.
//!
//! (b) **Table equivalence**: a byte-indexed table `T` whose input is a cipher byte `x` and
//! whose output is `A · S(x ⊕ k) ⊕ c` for a linear map `A` (Chow's `Ty_i ∘` T-box, SM4's
//! `L ∘ τ` placed in byte `b`, or the identity) gives its key byte `k` away: for the right `k`
//! every output bit of `T` is a GF(2) combination of the constant and the eight bits of
//! `S(x ⊕ k)`, which Gaussian elimination over the 256 entries decides (Chow et al. 2002, §3.3,
//! for the T-box; Billet–Gilbert–Ech-Chatbi, SAC 2004, §2 for why the encodings must hide
//! exactly this). Each table is tested for every `k` against `S` and `S⁻¹`; the score of a
//! guess is the fraction of the table's non-constant output bits that lie in that span.
//! Tables that output a plaintext byte are tested through their inverse, which reads it.

use wbruntime::{Algorithm, aes256, sm4};

use crate::Error;
use crate::cipher::{AES_INV_SBOX, AES_SBOX, KeyByte, SM4_SBOX, aes_round_keys, sm4_round_keys};
use crate::layout::Layout;
use crate::report::ByteResult;
use crate::target::Target;

/// A 256-bit column: one output bit of a table over its 256 inputs.
type Col = [u64; 4];

fn col_set(c: &mut Col, x: usize) {
    c[x / 64] |= 1 << (x % 64);
}

/// The span of the constant and the 8 bits of `f(x ⊕ k)`, in echelon form.
pub struct Span {
    /// Reduced vectors, each with its pivot (lowest set bit).
    vecs: Vec<(Col, usize)>,
}

impl Span {
    /// The span for `f` and guess `k`.
    pub fn new(f: &[u8; 256], k: u8) -> Self {
        let mut span = Span { vecs: Vec::new() };
        span.insert([u64::MAX; 4]);
        for bit in 0..8 {
            let mut c = [0u64; 4];
            for x in 0..256 {
                if f[x ^ usize::from(k)] >> bit & 1 == 1 {
                    col_set(&mut c, x);
                }
            }
            span.insert(c);
        }
        span
    }

    fn reduce(&self, mut c: Col) -> Col {
        for (v, p) in &self.vecs {
            if c[p / 64] >> (p % 64) & 1 == 1 {
                for (a, b) in c.iter_mut().zip(v) {
                    *a ^= b;
                }
            }
        }
        c
    }

    fn insert(&mut self, c: Col) {
        let c = self.reduce(c);
        if let Some(p) = (0..256).find(|&x| c[x / 64] >> (x % 64) & 1 == 1) {
            // Keep the basis fully reduced at the new pivot so that `reduce` is one pass.
            for (v, _) in &mut self.vecs {
                if v[p / 64] >> (p % 64) & 1 == 1 {
                    for (a, b) in v.iter_mut().zip(&c) {
                        *a ^= b;
                    }
                }
            }
            self.vecs.push((c, p));
        }
    }

    /// Whether `c` is in the span.
    pub fn contains(&self, c: Col) -> bool {
        self.reduce(c) == [0; 4]
    }
}

/// The output-bit columns of a table of 256 entries of `width` bytes, constant ones dropped.
pub fn table_columns(table: &[u8], width: usize) -> Vec<Col> {
    let mut cols = vec![[0u64; 4]; 8 * width];
    for (x, entry) in table.chunks_exact(width).take(256).enumerate() {
        for (bit, c) in cols.iter_mut().enumerate() {
            if entry[bit / 8] >> (bit % 8) & 1 == 1 {
                col_set(c, x);
            }
        }
    }
    cols.retain(|c| *c != [0; 4] && *c != [u64::MAX; 4]);
    cols
}

/// The fraction of `cols` in each guess's span.
pub(crate) fn scores(spans: &[Span], cols: &[Col]) -> [f64; 256] {
    core::array::from_fn(|k| {
        if cols.is_empty() {
            return 0.0;
        }
        let inside = cols.iter().filter(|&&c| spans[k].contains(c)).count();
        inside as f64 / cols.len() as f64
    })
}

/// The 256 spans of `f`.
pub(crate) fn spans(f: &[u8; 256]) -> Vec<Span> {
    (0..=255u8).map(|k| Span::new(f, k)).collect()
}

/// The inverse of a byte-to-byte table, if it is a permutation.
fn inverse_table(t: &[u8]) -> Option<Vec<u8>> {
    let mut inv = vec![0u8; 256];
    let mut seen = [false; 256];
    for (x, &y) in t.iter().enumerate().take(256) {
        if std::mem::replace(&mut seen[usize::from(y)], true) {
            return None;
        }
        inv[usize::from(y)] = x as u8;
    }
    Some(inv)
}

/// What the structural attack found.
pub struct Found {
    /// Per targeted key byte.
    pub bytes: Vec<ByteResult>,
    /// Findings for the notes.
    pub notes: Vec<String>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// (a): searches `file` for `needles` (each also reversed); returns the found names.
///
/// One pass over the file for every needle of at least 8 bytes (indexed by its first 8),
/// so that a 208 MiB space-hard table is searched in seconds.
pub(crate) fn key_search(file: &[u8], needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let all: Vec<(String, Vec<u8>)> = needles
        .iter()
        .flat_map(|(name, n)| {
            [
                (name.clone(), n.clone()),
                (
                    format!("{name} (reversed)"),
                    n.iter().rev().copied().collect(),
                ),
            ]
        })
        .collect();
    let mut hit = vec![false; all.len()];
    let mut by_prefix: std::collections::HashMap<[u8; 8], Vec<usize>> =
        std::collections::HashMap::new();
    for (i, (_, n)) in all.iter().enumerate() {
        match n.first_chunk::<8>() {
            Some(p) => by_prefix.entry(*p).or_default().push(i),
            None => hit[i] = contains(file, n),
        }
    }
    for (at, w) in file.windows(8).enumerate() {
        let Some(ids) = w.first_chunk::<8>().and_then(|p| by_prefix.get(p)) else {
            continue;
        };
        for &i in ids {
            if file
                .get(at..)
                .is_some_and(|rest| rest.starts_with(&all[i].1))
            {
                hit[i] = true;
            }
        }
    }
    all.into_iter()
        .zip(hit)
        .filter_map(|((name, _), h)| h.then_some(name))
        .collect()
}

/// The byte strings (a) searches for: AES-256: the key, its halves, `rk0 … rk14` and
/// `dw0 … dw14`; SM4: the key and every run of four round keys in either byte order.
///
/// # Errors
/// [`Error::Usage`] for a key of the wrong length or another cipher.
pub fn needles(algorithm: Algorithm, key: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut needles = vec![("key".to_string(), key.to_vec())];
    match algorithm {
        Algorithm::Aes256 => {
            let (rk, dw) = aes_round_keys(key)
                .ok_or_else(|| Error::Usage("wrong AES-256 key length".into()))?;
            needles.push(("key[0..16]".into(), key[..16].to_vec()));
            needles.push(("key[16..32]".into(), key[16..].to_vec()));
            for i in 0..15 {
                needles.push((format!("rk{i}"), rk[i].to_vec()));
                needles.push((format!("dw{i}"), dw[i].to_vec()));
            }
        }
        Algorithm::Sm4 => {
            let rk =
                sm4_round_keys(key).ok_or_else(|| Error::Usage("wrong SM4 key length".into()))?;
            for i in 0..=28 {
                for be in [true, false] {
                    let mut n = Vec::new();
                    for k in &rk[i..i + 4] {
                        n.extend(if be { k.to_be_bytes() } else { k.to_le_bytes() });
                    }
                    needles.push((
                        format!("rk{i}..rk{} ({})", i + 3, if be { "BE" } else { "LE" }),
                        n,
                    ));
                }
            }
        }
        _ => return Err(Error::Usage("unsupported algorithm".into())),
    }
    Ok(needles)
}

/// Runs (a) and (b) on `target`.
///
/// # Errors
/// [`Error::KeyFile`] if the layout cannot be read.
pub fn attack(target: &Target) -> Result<Found, Error> {
    if target.build.space_bits().is_some() {
        return crate::space_hard::structure(target);
    }
    let layout = Layout::parse(&target.file)?;
    let file = &target.file;
    let mut notes = Vec::new();
    let mut bytes = Vec::new();
    let tbl = |off: usize, len: usize| file.get(off..off + len).unwrap_or(&[]);
    match target.algorithm {
        Algorithm::Aes256 => {
            let (_, dw) = aes_round_keys(&target.key)
                .ok_or_else(|| Error::Usage("wrong AES-256 key length".into()))?;
            let needles = needles(target.algorithm, &target.key)?;
            let found = key_search(file, &needles);
            notes.push(format!(
                "key search: {} of {} strings found (key, halves, rk0..14, dw0..14, each also reversed){}",
                found.len(),
                2 * needles.len(),
                if found.is_empty() { String::new() } else { format!(": {}", found.join(", ")) }
            ));

            let rounds = layout
                .section_start(aes256::SECTION_ROUNDS)
                .ok_or_else(|| Error::Trace("no rounds section".into()))?;
            let last = layout
                .section_start(aes256::SECTION_FINAL)
                .ok_or_else(|| Error::Trace("no final section".into()))?;
            let inv_spans = spans(&AES_INV_SBOX);
            let fwd_spans = spans(&AES_SBOX);
            // Round 1 (j = 1) type II tables: Ty_i(InvS(x ⊕ K_1[q])), K_1 = dw[14].
            for p in 0..16 {
                let q = aes256::INV_SHIFT[p];
                let cols = table_columns(tbl(rounds + 1024 * p, 1024), 4);
                let key = KeyByte {
                    label: format!("dw14[{q}]"),
                    value: dw[14][q],
                };
                let ev = format!("round-1 t2[{p}] vs Ty∘InvS(x⊕k)");
                bytes.push(ByteResult::from_scores(
                    &key,
                    &scores(&inv_spans, &cols),
                    Some(ev),
                ));
            }
            // Final wide tables, one 8-bit slice each (first entries, `v01 = 0`): it is
            // InvS(x ⊕ K_14[q]) ⊕ dw[0][p] of the decoded `v23`, K_14 = dw[1]; and its inverse
            // S(y ⊕ dw[0][p]) ⊕ K_14[q], which reads the plaintext byte.
            let wide = last + 2 * aes256::BRANCH_LEN;
            for p in 0..16 {
                let q = aes256::INV_SHIFT[p];
                let t = tbl(wide + aes256::WIDE_ENTRIES * p, 256);
                let key = KeyByte {
                    label: format!("dw1[{q}]"),
                    value: dw[1][q],
                };
                let ev = format!("final[{p}] vs InvS(x⊕k)");
                bytes.push(ByteResult::from_scores(
                    &key,
                    &scores(&inv_spans, &table_columns(t, 1)),
                    Some(ev),
                ));
            }
            for (p, &value) in dw[0].iter().enumerate() {
                let t = tbl(wide + aes256::WIDE_ENTRIES * p, 256);
                let key = KeyByte {
                    label: format!("dw0[{p}]"),
                    value,
                };
                let s = match inverse_table(t) {
                    Some(inv) => scores(&fwd_spans, &table_columns(&inv, 1)),
                    None => [0.0; 256],
                };
                let ev = format!("final[{p}]⁻¹ vs S(y⊕k)");
                bytes.push(ByteResult::from_scores(&key, &s, Some(ev)));
            }
            // Every type II table of every round, for the notes.
            let mut equivalent = 0;
            let mut rounds_hit = Vec::new();
            let mut total = 0;
            for (j, branch) in (1..aes256::ROUNDS)
                .flat_map(|j| [(j, 0), (j, 1)])
                .filter(|&(j, b)| b == 0 || j > aes256::SHARED_ROUNDS)
            {
                let mut hit = 0;
                let Some(start) = layout.aes_round(j, branch) else {
                    continue;
                };
                for p in 0..16 {
                    let off = start + 1024 * p;
                    total += 1;
                    let cols = table_columns(tbl(off, 1024), 4);
                    let s = scores(&inv_spans, &cols);
                    let q = aes256::INV_SHIFT[p];
                    if s.iter().any(|&x| x >= 1.0) && s[usize::from(dw[15 - j][q])] >= 1.0 {
                        hit += 1;
                    }
                }
                equivalent += hit;
                if hit > 0 {
                    rounds_hit.push(format!("round {j} (branch {branch}): {hit}"));
                }
            }
            notes.push(format!(
                "type II tables equal to Ty∘InvS(x⊕k) for their true key byte, all 13 rounds and both branches: {equivalent} of {total}{}",
                if rounds_hit.is_empty() { String::new() } else { format!(" ({})", rounds_hit.join(", ")) }
            ));
        }
        _ => {
            let rk = sm4_round_keys(&target.key)
                .ok_or_else(|| Error::Usage("wrong SM4 key length".into()))?;
            let needles = needles(target.algorithm, &target.key)?;
            let found = key_search(file, &needles);
            notes.push(format!(
                "key search: {} of {} strings found (key; every run of 4 round keys, both byte orders, each also reversed){}",
                found.len(),
                2 * needles.len(),
                if found.is_empty() { String::new() } else { format!(": {}", found.join(", ")) }
            ));
            let t_at = |i: usize, branch: usize| {
                layout
                    .sm4_round(i, branch)
                    .map(|r| r + sm4::PRE_LEN + sm4::PRE_XOR_LEN)
            };
            let fwd_spans = spans(&SM4_SBOX);
            let mut equivalent = 0;
            let mut total = 0;
            for (i, branch) in (0..sm4::ROUNDS)
                .flat_map(|i| [(i, 0), (i, 1)])
                .filter(|&(i, b)| b == 0 || i >= sm4::SHARED_ROUNDS)
            {
                let key_index = sm4::ROUNDS - 1 - i;
                let key_bytes = rk[key_index].to_be_bytes();
                let Some(t) = t_at(i, branch) else {
                    continue;
                };
                for b in 0..4 {
                    total += 1;
                    let cols = table_columns(tbl(t + 1024 * b, 1024), 4);
                    let s = scores(&fwd_spans, &cols);
                    if s[usize::from(key_bytes[b])] >= 1.0 {
                        equivalent += 1;
                    }
                    // Targets: the four round keys at each end (either four determine the key),
                    // in branch 0.
                    if branch == 0 && !(4..sm4::ROUNDS - 4).contains(&i) {
                        let key = KeyByte {
                            label: format!("rk{key_index}[{b}]"),
                            value: key_bytes[b],
                        };
                        let ev = format!("round-{i} t[{b}] vs L∘S(x⊕k)");
                        bytes.push(ByteResult::from_scores(&key, &s, Some(ev)));
                    }
                }
            }
            notes.push(format!(
                "t tables equal to L∘S(x⊕k) placed in byte b, for their true key byte, all 32 rounds and both branches: {equivalent} of {total}"
            ));
        }
    }
    Ok(Found { bytes, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_search_finds_needles_either_way_round() {
        let mut file = vec![0x5au8; 4096];
        let long: Vec<u8> = (1..=16).collect();
        let rev: Vec<u8> = (101..=112).rev().collect();
        file[1000..1016].copy_from_slice(&long);
        file[4084..].copy_from_slice(&rev);
        file[7] = 0xa5;
        let needles = vec![
            ("long".to_string(), long),
            ("tail".to_string(), (101..=112).collect()),
            ("short".to_string(), vec![0xa5, 0x5a]),
            ("absent".to_string(), (200..=215).collect()),
        ];
        assert_eq!(
            key_search(&file, &needles),
            vec!["long", "tail (reversed)", "short", "short (reversed)"]
        );
    }
}
