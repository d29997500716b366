//! Piret–Quisquater DFA on AES-256 decryption (the equivalent inverse cipher).
//!
//! Piret and Quisquater, "A Differential Fault Attack Technique against SPN Structures, with
//! Application to the AES and KHAZAD" (CHES 2003), §3–§4: a fault on one byte of the state
//! two MixColumns before the output spreads to one column, then to the whole state, with a
//! known *pattern* of differences; each column of the last round gives equations on four
//! bytes of the last round key through the S-box difference table, about 2^8 of the 2^32
//! candidates survive one fault, and two faults leave the key.
//!
//! Here the cipher is the equivalent inverse cipher of FIPS-197 §5.3.5, with `K_j = dw[15−j]`
//! and states `s_j` entering round `j` (docs/aes256-whitebox.md §1):
//!
//! ```text
//! round j = 1..13:  s_{j+1} = InvMixColumns(InvShiftRows(InvSubBytes(s_j ⊕ K_j)))
//! round 14:         P       = InvShiftRows(InvSubBytes(s_14 ⊕ K_14)) ⊕ dw[0]
//! ```
//!
//! **The fault.** One byte `q₀` of `s_12` (written by round 11's `x3` tables, see
//! [`crate::fault`]) gets an unknown difference. Round 12 moves it to position
//! `p₀ = SHIFT[q₀]` (`SHIFT` is the inverse of `INV_SHIFT`: InvShiftRows sends byte `q` to
//! `SHIFT[q]`, keeping its row) and InvMixColumns spreads it over column `c₀ = p₀ / 4` of
//! `s_13`: `Δs_13[4c₀ + r] = M[r][i₀] · δ` for `r = 0..3`, `i₀ = p₀ mod 4`, `M` the
//! InvMixColumns matrix, `δ ≠ 0` unknown.
//!
//! **`dw[0]` (stage A).** Byte `4c₀ + r` of `s_13` goes through round 13's InvSubBytes (a new
//! unknown difference `δ_r`) to row `r` of column `c = (c₀ + r) mod 4`, and InvMixColumns
//! spreads it: `Δs_14[4c + r'] = M[r'][i] · δ_r` with `i = (c − c₀) mod 4`, for every column
//! `c`. Round 14 gives `s_14[q] ⊕ K_14[q] = S(P[p] ⊕ dw0[p])` for `q = INV_SHIFT[p]`, so
//! `K_14` cancels in the difference and, for the four bytes `p_{r'} = SHIFT[4c + r']`,
//!
//! ```text
//! S(P[p_{r'}] ⊕ dw0[p_{r'}]) ⊕ S(P*[p_{r'}] ⊕ dw0[p_{r'}]) = M[r'][i] · δ_c,   r' = 0..3
//! ```
//!
//! one δ_c for the four equations: PQ's system, solved per column by the S-box difference
//! table (for each δ_c, the product of the four solution sets).
//!
//! **`K_14 = dw[1]` (stage B).** `K_14` is added *after* round 13's InvMixColumns, so it cannot
//! be guessed byte by byte against round 13's S-box. Apply MixColumns (linear) to the known
//! `a_14 = s_14 ⊕ K_14`: `MixColumns(s_14) = InvShiftRows(InvSubBytes(s_13 ⊕ K_13))`, hence
//! with `v = MixColumns(a_14)` and `K' = MixColumns(K_14)`,
//! `s_13[q] ⊕ K_13[q] = S(v[p] ⊕ K'[p])` for `q = INV_SHIFT[p]`. With `dw[0]` known, `v` and
//! `v*` follow from the plaintexts, and the fault's column pattern on `s_13` gives the same
//! system as above: for `p_r = SHIFT[4c₀ + r]`,
//!
//! ```text
//! S(v[p_r] ⊕ K'[p_r]) ⊕ S(v*[p_r] ⊕ K'[p_r]) = M[r][i₀] · δ,   r = 0..3
//! ```
//!
//! `K' = MixColumns(dw[1]) = rk[1]` (`dw[1] = InvMixColumns(rk[1])`), so the attack targets
//! the bytes of `rk[1]` and derives `K_14 = InvMixColumns(K')`. For AES-256 `rk[0] ‖ rk[1]`
//! is the key itself (FIPS-197 §5.2, `Nk = 8`), and `rk[0] = dw[0]`: both stages give the key.

use wbgen::aes256::field::{INV_MIX, gmul, inv_mix_columns};
use wbruntime::aes256::INV_SHIFT;

use crate::Error;
use crate::cipher::{AES_SBOX, KeyByte, aes_round_keys};
use crate::dfa::{Found, Tally4, byte_result, hex};
use crate::fault::{Campaign, Pair, aes_state_site, campaign};
use crate::layout::Layout;
use crate::target::{Target, rng};

/// The middle round whose `x3` output (the state entering the next round) is faulted.
pub const FAULT_ROUND: usize = 11;

/// `SHIFT[q]`: the position to which InvShiftRows moves state byte `q` (`INV_SHIFT⁻¹`).
pub const SHIFT: [usize; 16] = {
    let mut t = [0usize; 16];
    let mut p = 0;
    while p < 16 {
        t[INV_SHIFT[p]] = p;
        p += 1;
    }
    t
};

/// The MixColumns matrix (FIPS-197 §5.1.3), `MIX[row][col]`.
const MIX: [[u8; 4]; 4] = [[2, 3, 1, 1], [1, 2, 3, 1], [1, 1, 2, 3], [3, 1, 1, 2]];

/// MixColumns on a 16-byte state (column-major).
pub fn mix_columns(state: &[u8; 16]) -> [u8; 16] {
    core::array::from_fn(|p| {
        let (row, col) = (p % 4, p / 4);
        (0..4).fold(0, |acc, k| acc ^ gmul(MIX[row][k], state[4 * col + k]))
    })
}

/// Every `(k_0, …, k_3)` with `S(x_r ⊕ k_r) ⊕ S(y_r ⊕ k_r) = coef_r · δ` for one `δ ≠ 0`
/// (PQ's column system). Empty if some `x_r = y_r` (the fault does not fit the pattern).
pub fn candidates(x: [u8; 4], y: [u8; 4], coef: [u8; 4]) -> Vec<[u8; 4]> {
    if x.iter().zip(&y).any(|(a, b)| a == b) {
        return Vec::new();
    }
    // Per byte, the guesses sorted by the output difference they give (a counting sort):
    // guesses with difference d are keys[r][start[r][d]..start[r][d + 1]].
    let mut keys = [[0u8; 256]; 4];
    let mut start = [[0usize; 257]; 4];
    for r in 0..4 {
        let diff: [u8; 256] = core::array::from_fn(|k| {
            AES_SBOX[usize::from(x[r]) ^ k] ^ AES_SBOX[usize::from(y[r]) ^ k]
        });
        for &d in &diff {
            start[r][usize::from(d) + 1] += 1;
        }
        for d in 0..256 {
            start[r][d + 1] += start[r][d];
        }
        let mut fill = start[r];
        for (k, &d) in diff.iter().enumerate() {
            keys[r][fill[usize::from(d)]] = k as u8;
            fill[usize::from(d)] += 1;
        }
    }
    let mut out = Vec::new();
    for delta in 1..=255u8 {
        let sets: [&[u8]; 4] = core::array::from_fn(|r| {
            let d = usize::from(gmul(coef[r], delta));
            &keys[r][start[r][d]..start[r][d + 1]]
        });
        if sets.iter().any(|s| s.is_empty()) {
            continue;
        }
        for &a in sets[0] {
            for &b in sets[1] {
                for &c in sets[2] {
                    for &d in sets[3] {
                        out.push([a, b, c, d]);
                    }
                }
            }
        }
    }
    out
}

/// `v = MixColumns(a_14)`, `a_14[INV_SHIFT[p]] = S(P[p] ⊕ dw0[p])`: peels round 14 off a
/// decrypted block with a guess of `dw[0]`.
pub fn peel(plain: &[u8; 16], dw0: &[u8; 16]) -> [u8; 16] {
    let mut a = [0u8; 16];
    for p in 0..16 {
        a[INV_SHIFT[p]] = AES_SBOX[usize::from(plain[p] ^ dw0[p])];
    }
    mix_columns(&a)
}

/// The bytes at `pos` of `a` and `b`.
fn pick(a: &[u8; 16], b: &[u8; 16], pos: [usize; 4]) -> ([u8; 4], [u8; 4]) {
    (pos.map(|p| a[p]), pos.map(|p| b[p]))
}

/// Stage A: votes on `dw[0]`, per column `c` of `s_14` (bytes `SHIFT[4c + r]`).
fn stage_a(pairs: &[Pair]) -> [Tally4; 4] {
    let mut t: [Tally4; 4] = Default::default();
    for pair in pairs {
        let c0 = SHIFT[pair.tag] / 4;
        for (c, tally) in t.iter_mut().enumerate() {
            let i = (c + 4 - c0) % 4;
            let (x, y) = pick(
                &pair.correct,
                &pair.faulty,
                core::array::from_fn(|r| SHIFT[4 * c + r]),
            );
            let cand = candidates(x, y, core::array::from_fn(|r| INV_MIX[r][i]));
            if !cand.is_empty() {
                tally.add(&cand);
            }
        }
    }
    t
}

/// Stage B: votes on `K' = rk[1]`, per faulted column `c₀` of `s_13` (bytes `SHIFT[4c₀ + r]`),
/// with the recovered `dw[0]`.
fn stage_b(pairs: &[Pair], dw0: &[u8; 16]) -> [Tally4; 4] {
    let mut t: [Tally4; 4] = Default::default();
    for pair in pairs {
        let p0 = SHIFT[pair.tag];
        let (c0, i0) = (p0 / 4, p0 % 4);
        let (v, w) = (peel(&pair.correct, dw0), peel(&pair.faulty, dw0));
        let (x, y) = pick(&v, &w, core::array::from_fn(|r| SHIFT[4 * c0 + r]));
        let cand = candidates(x, y, core::array::from_fn(|r| INV_MIX[r][i0]));
        if !cand.is_empty() {
            t[c0].add(&cand);
        }
    }
    t
}

/// Per state position: the scores and the faults used, from four column tallies whose byte
/// `r` of group `g` is position `SHIFT[4g + r]`; and the best guess of the 16 bytes.
fn per_byte(t: &[Tally4; 4]) -> (Vec<([f64; 256], usize)>, [u8; 16]) {
    let mut out = vec![([0f64; 256], 0usize); 16];
    let mut guess = [0u8; 16];
    for (g, tally) in t.iter().enumerate() {
        let scores = tally.byte_scores();
        let best = tally.best().map(|(k, _)| k).unwrap_or_default();
        for r in 0..4 {
            let p = SHIFT[4 * g + r];
            out[p] = (scores[r], tally.used);
            guess[p] = best[r];
        }
    }
    (out, guess)
}

/// Runs the campaign and both stages on `target`.
///
/// # Errors
/// As [`crate::dfa::attack`].
pub fn attack(target: &Target, faults: usize, seed: u64) -> Result<Found, Error> {
    let layout = Layout::parse(&target.file)?;
    let sites = (0..16)
        .map(|q| aes_state_site(&layout, FAULT_ROUND, 0, q))
        .collect::<Result<Vec<_>, _>>()?;
    let camp = campaign(&target.file, &sites, faults, &mut rng(seed, 3))?;
    let changed = camp.pairs.iter().filter(|p| p.correct != p.faulty).count();
    let note = format!(
        "faults: one byte of the state entering round {} (one entry of round {FAULT_ROUND}'s x3 high- or low-nibble table edited per fault), state bytes 0..15 in turn; {changed} of {} faulty decryptions differ from the correct one",
        FAULT_ROUND + 1,
        camp.edits
    );
    analyse(target, &camp, note)
}

/// Both stages on the faulted decryptions of `camp`, each pair's tag taken as the faulted
/// state byte `q₀` of the model; `fault_note` says how the faults were made.
///
/// # Errors
/// [`Error::Usage`] for a key that is not 32 bytes.
pub fn analyse(target: &Target, camp: &Campaign, fault_note: String) -> Result<Found, Error> {
    let (rk, dw) = aes_round_keys(&target.key)
        .ok_or_else(|| Error::Usage("wrong AES-256 key length".into()))?;

    let (a_scores, dw0) = per_byte(&stage_a(&camp.pairs));
    let (b_scores, rk1) = per_byte(&stage_b(&camp.pairs, &dw0));
    let mut bytes = Vec::with_capacity(32);
    for (p, (s, used)) in a_scores.iter().enumerate() {
        let key = KeyByte {
            label: format!("dw0[{p}]"),
            value: dw[0][p],
        };
        bytes.push(byte_result(&key, s, *used));
    }
    for (p, (s, used)) in b_scores.iter().enumerate() {
        let key = KeyByte {
            label: format!("rk1[{p}]"),
            value: rk[1][p],
        };
        bytes.push(byte_result(&key, s, *used));
    }
    let k14 = inv_mix_columns(&rk1);
    let mut key = dw0.to_vec();
    key.extend_from_slice(&rk1);
    let notes = vec![
        fault_note,
        format!(
            "stage A (dw0, Piret–Quisquater on round 14): best guess {}",
            hex(&dw0)
        ),
        format!(
            "stage B (rk1 = MixColumns(K_14), round 13 with dw0 peeled off): K_14 = dw1 = InvMixColumns(rk1) = {} ({})",
            hex(&k14),
            if k14 == dw[1] { "correct" } else { "wrong" }
        ),
        format!(
            "master key = dw0 ‖ rk1 = {}: {}",
            hex(&key),
            if key == target.key {
                "the AES-256 key"
            } else {
                "not the key"
            }
        ),
    ];
    Ok(Found {
        bytes,
        notes,
        faults: camp.edits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_and_mix_invert() {
        for q in 0..16 {
            assert_eq!(INV_SHIFT[SHIFT[q]], q);
            assert_eq!(SHIFT[q] % 4, q % 4, "rows are kept");
        }
        let s: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5c);
        assert_eq!(inv_mix_columns(&mix_columns(&s)), s);
    }

    #[test]
    fn the_right_key_is_a_candidate() {
        // A synthetic column: key k, values a, a ⊕ M[r][i] δ at the S-box input.
        let k = [0x12, 0x34, 0x56, 0x78];
        let a = [0x9a, 0xbc, 0xde, 0xf0];
        let (i, delta) = (2, 0x4d);
        let inv = crate::cipher::invert(&AES_SBOX);
        let x = core::array::from_fn(|r| inv[usize::from(a[r])] ^ k[r]);
        let y =
            core::array::from_fn(|r| inv[usize::from(a[r] ^ gmul(INV_MIX[r][i], delta))] ^ k[r]);
        let c = candidates(x, y, core::array::from_fn(|r| INV_MIX[r][i]));
        assert!(c.contains(&k));
        assert!(c.len() < 4096, "{}", c.len());
    }
}
