//! Linear decoding analysis (first degree).
//!
//! Goubin, Paillier, Rivain, Wang, "How to Reveal the Secrets of an Obscure White-Box
//! Implementation" (J. Cryptographic Engineering 2020; CHES 2018 rump/ePrint 2018/098), §3:
//! if a key-dependent bit `φ_k(x)` is, over the traces, a linear combination of the sample
//! bits `v_1 … v_m` and the constant 1, then solving `V a = φ_k` over GF(2) (`V` the N × (m+1)
//! matrix of traces by samples) succeeds for the right `k` and, with `N` well above `m + 1`,
//! fails for the others with probability about `1 − 2^{m+1−N}`. This defeats any *linear*
//! encoding of `φ_k`, which the correlation of DCA only defeats up to noise.
//!
//! One Gaussian elimination per target byte handles all 256 guesses × 8 predicted bits at
//! once: the right-hand sides ride along as extra columns, and a right-hand side is solvable
//! iff it is zero on every row whose sample part was eliminated to zero. Not only the 8 bits
//! but all 255 combinations `u · S(x ⊕ k)` are tested (as DCA does): the rank of a guess's 8
//! columns on those rows is the part of its span that the samples do not reach.

use crate::bits::Bits;
use crate::cipher::PlaintextSide;
use crate::samples::Samples;

/// Per target byte: for each guess, the dimension (0..8) of the space of combinations
/// `u · S(x ⊕ k)` that are affine functions of the window's sample bits (8: every bit of
/// `S(x ⊕ k)` is); and the rank of the sample matrix.
pub struct Solved {
    /// `hits[j][k]`: that dimension for target `j`, guess `k`.
    pub hits: Vec<[u8; 256]>,
    /// Rank of `[V | 1]`.
    pub rank: usize,
}

/// Solves the systems for every target byte of `side`.
pub fn solve(samples: &Samples, side: &PlaintextSide) -> Solved {
    let n = samples.n;
    let m = samples.columns.len() + 1; // samples and the constant column
    let targets = side.keys.len();
    // Rows: trace t's sample bits, then the constant 1.
    let mut base_rows = vec![Bits::zeros(m); n];
    for (c, col) in samples.columns.iter().enumerate() {
        for t in col.ones() {
            if let Some(r) = base_rows.get_mut(t) {
                r.set(c);
            }
        }
    }
    for r in &mut base_rows {
        r.set(m - 1);
    }
    let known = samples.known_bytes(side);

    let mut hits = vec![[0u8; 256]; targets];
    let mut rank = 0;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..targets)
            .collect::<Vec<_>>()
            .chunks(targets.div_ceil(2).max(1))
            .map(|js| {
                let js = js.to_vec();
                let (base_rows, known) = (&base_rows, &known);
                let sbox = &side.sbox;
                s.spawn(move || {
                    js.into_iter()
                        .map(|j| (j, one_target(base_rows, known, j, sbox, m)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(v) = h.join() {
                for (j, (h, r)) in v {
                    if let Some(slot) = hits.get_mut(j) {
                        *slot = h;
                    }
                    rank = r;
                }
            }
        }
    });
    Solved { hits, rank }
}

/// Eliminates `[V | 1 | φ]` for target `j`; returns the hits per guess and the rank of `V|1`.
fn one_target(
    base_rows: &[Bits],
    known: &[Vec<u8>],
    j: usize,
    sbox: &[u8; 256],
    m: usize,
) -> ([u8; 256], usize) {
    // Augmented row: m sample bits, then 2048 right-hand sides (guess k, bit b at m + 8k + b).
    let width = m + 2048;
    let mut rows: Vec<Bits> = base_rows
        .iter()
        .zip(known)
        .map(|(base, kn)| {
            let mut r = Bits::zeros(width);
            for i in base.ones() {
                r.set(i);
            }
            let x = kn.get(j).copied().unwrap_or(0);
            for k in 0..256usize {
                let z = sbox[usize::from(x) ^ k];
                for b in 0..8 {
                    if z >> b & 1 == 1 {
                        r.set(m + 8 * k + b);
                    }
                }
            }
            r
        })
        .collect();
    let mut rank = 0;
    for col in 0..m {
        let Some(p) = (rank..rows.len()).find(|&r| rows[r].get(col)) else {
            continue;
        };
        rows.swap(rank, p);
        let (head, tail) = rows.split_at_mut(rank + 1);
        let pivot = &head[rank];
        for r in tail.iter_mut() {
            if r.get(col) {
                r.xor_assign(pivot);
            }
        }
        rank += 1;
    }
    // Rows rank.. have a zero sample part. For guess k, the rank r_k of their 8 columns of
    // `S(x ⊕ k)` is how many dimensions of span{u · S(x ⊕ k)} lie outside the sample span,
    // so 8 − r_k of the 255 combinations (counting dimensions) are linear in the samples.
    let mut hits = [0u8; 256];
    for (k, h) in hits.iter_mut().enumerate() {
        let mut basis = [0u8; 8];
        let mut r = 0;
        for row in &rows[rank..] {
            let mut v = (0..8).fold(0u8, |v, b| v | u8::from(row.get(m + 8 * k + b)) << b);
            for &e in &basis[..r] {
                v = v.min(v ^ e);
            }
            if v != 0 {
                basis[r] = v;
                r += 1;
                if r == 8 {
                    break;
                }
            }
        }
        *h = (8 - r) as u8;
    }
    (hits, rank)
}
