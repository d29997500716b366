//! DFA on SM4 decryption's last four rounds.
//!
//! Zhang and Wu, "Differential fault analysis on SMS4" (Chinese Journal of Computers 29(9),
//! 2006), §3; Li, Gu, Xiang et al., "A differential fault attack on SMS4" (2008): a fault on one
//! byte of an input word of the last round gives, through the S-box difference table, about
//! two candidates for one byte of the last round key; peeling that round off, the same works
//! one round earlier; four round keys give the key by inverting the key schedule.
//!
//! Decryption (GB/T 32907-2016, docs/sm4-whitebox.md §1) ends with, for `j = 3, 2, 1, 0`
//! (decryption round `31 − j`):
//!
//! ```text
//! X_{35−j} = X_{31−j} ⊕ L(τ(X_{32−j} ⊕ X_{33−j} ⊕ X_{34−j} ⊕ rk_j)),   P = X_35 ‖ X_34 ‖ X_33 ‖ X_32
//! ```
//!
//! **Round key `rk_j`.** Fault byte `b` of `X_{34−j}` (written by round `30 − j`'s `r_xor`,
//! [`crate::fault`]). With `rk_0 … rk_{j−1}` known, both decryptions are peeled back to
//! `X_{32−j} … X_{35−j}` (`X_{31−i} = X_{35−i} ⊕ T(X_{32−i} ⊕ X_{33−i} ⊕ X_{34−i} ⊕ rk_i)`, valid
//! for the faulty run too since every round after the fault is computed correctly). The
//! words before `X_{34−j}` are not faulted, so `X_{31−j}` cancels:
//!
//! ```text
//! X_{35−j} ⊕ X*_{35−j} = L(S(y_b ⊕ k) ⊕ S(y*_b ⊕ k) placed in byte b),   y = X_{32−j} ⊕ X_{33−j} ⊕ X_{34−j}
//! ```
//!
//! with `y` and `y*` known and differing in byte `b` only: each guess `k` of byte `b` of
//! `rk_j` is checked directly. For `j ≤ 2` the faulted word is plaintext (produced
//! unencoded); for `j = 3` it is `X_31`, an encoded internal word, faulted through its
//! encoded low nibble.

use wbgen::sm4::field::{l, tau};

use crate::Error;
use crate::cipher::{KeyByte, SM4_SBOX, sm4_round_keys};
use crate::dfa::{Found, Tally1, byte_result, hex};
use crate::fault::{Campaign, Pair, campaign, sm4_word_site};
use crate::layout::Layout;
use crate::target::{Target, rng};

/// Round keys attacked: `rk_0 … rk_3`.
pub const KEYS: usize = 4;

fn word(b: &[u8]) -> u32 {
    b.iter().fold(0, |w, &x| (w << 8) | u32::from(x))
}

/// `(X_32, X_33, X_34, X_35)` of a decrypted block.
fn words(block: &[u8; 16]) -> [u32; 4] {
    core::array::from_fn(|m| word(&block[4 * (3 - m)..4 * (4 - m)]))
}

/// Peels rounds off `w = (X_{32−i}, …, X_{35−i})` with the round keys `rk_i` in turn.
fn peel(mut w: [u32; 4], keys: &[u32]) -> [u32; 4] {
    for &k in keys {
        let x = w[3] ^ l(tau(w[0] ^ w[1] ^ w[2] ^ k));
        w = [x, w[0], w[1], w[2]];
    }
    w
}

/// Whether a fault on byte `b` fits the model once both runs are peeled to `w` and `f`: the
/// S-box inputs `y`, `y*` of the next round differ in byte `b` alone.
fn fits(w: [u32; 4], f: [u32; 4], b: usize) -> bool {
    let (y, ys) = (w[0] ^ w[1] ^ w[2], f[0] ^ f[1] ^ f[2]);
    (y ^ ys) & !(0xff << (24 - 8 * b)) == 0 && y != ys
}

/// Votes of one fault on byte `b` of `rk_j`, given the peeled words of both runs; `None` if
/// the fault does not fit the model.
fn vote(w: [u32; 4], f: [u32; 4], b: usize, tally: &mut Tally1) -> Option<()> {
    if !fits(w, f, b) {
        return None;
    }
    let (y, ys) = (w[0] ^ w[1] ^ w[2], f[0] ^ f[1] ^ f[2]);
    let shift = 24 - 8 * b;
    let (a, c) = (
        usize::from((y >> shift) as u8),
        usize::from((ys >> shift) as u8),
    );
    let out = w[3] ^ f[3];
    tally.used += 1;
    for k in 0..256 {
        let d = u32::from(SM4_SBOX[a ^ k] ^ SM4_SBOX[c ^ k]) << shift;
        if l(d) == out {
            tally.votes[k] += 1;
        }
    }
    Some(())
}

/// Most tied combinations of a round key's bytes that [`break_ties`] tries.
const MAX_TIES: usize = 256;

/// The best guess of `rk_j` from its four tallies. When votes tie (two faults on an S-box can
/// leave two values), each combination of tied values (up to [`MAX_TIES`]) is tried on the
/// faults of round key `j + 1` (`next`): a wrong `rk_j` peels them to inputs that no longer
/// differ in one byte alone. Returns the guess and whether the next round decided a tie.
fn break_ties(tallies: &[Tally1; 4], known: &[u32], next: &[&Pair]) -> ([u8; 4], bool) {
    let best: [u8; 4] = core::array::from_fn(|b| tallies[b].best());
    let tied: Vec<Vec<u8>> = tallies
        .iter()
        .map(|t| {
            let top = t.votes[usize::from(t.best())];
            (0..=255u8)
                .filter(|&k| top > 0 && t.votes[usize::from(k)] == top)
                .collect()
        })
        .collect();
    let combos: usize = tied.iter().map(|t| t.len().max(1)).product();
    if combos <= 1 || combos > MAX_TIES || next.is_empty() {
        return (best, false);
    }
    let mut choice = (best, 0usize);
    for i in 0..combos {
        let mut rest = i;
        let guess: [u8; 4] = core::array::from_fn(|b| {
            let t = &tied[b];
            let n = t.len().max(1);
            let v = t.get(rest % n).copied().unwrap_or(best[b]);
            rest /= n;
            v
        });
        let mut keys = known.to_vec();
        keys.push(u32::from_be_bytes(guess));
        let fit = next
            .iter()
            .filter(|p| {
                fits(
                    peel(words(&p.correct), &keys),
                    peel(words(&p.faulty), &keys),
                    p.tag % 4,
                )
            })
            .count();
        if fit > choice.1 {
            choice = (guess, fit);
        }
    }
    (choice.0, choice.1 > 0)
}

/// L′ of the key schedule (GB/T 32907-2016 §7.3).
const fn l_prime(b: u32) -> u32 {
    b ^ b.rotate_left(13) ^ b.rotate_left(23)
}

/// FK of the key schedule.
const FK: [u32; 4] = [0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc];

/// CK_i: byte `j` of word `i` is `(4i + j) · 7 mod 256`.
fn ck(i: usize) -> u32 {
    (0..4).fold(0, |w, j| (w << 8) | ((4 * i + j) * 7 % 256) as u32)
}

/// The key from `rk_0 … rk_3` (`= K_4 … K_7`), by running the key schedule backwards:
/// `K_i = K_{i+4} ⊕ L′(τ(K_{i+1} ⊕ K_{i+2} ⊕ K_{i+3} ⊕ CK_i))`, `MK_i = K_i ⊕ FK_i`.
pub fn key_from_round_keys(rk: [u32; 4]) -> [u8; 16] {
    let mut k = [0u32; 8];
    k[4..].copy_from_slice(&rk);
    for i in (0..4).rev() {
        k[i] = k[i + 4] ^ l_prime(tau(k[i + 1] ^ k[i + 2] ^ k[i + 3] ^ ck(i)));
    }
    let mut key = [0u8; 16];
    for (i, chunk) in key.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&(k[i] ^ FK[i]).to_be_bytes());
    }
    key
}

/// Runs the campaign and the four stages on `target`.
///
/// # Errors
/// As [`crate::dfa::attack`].
pub fn attack(target: &Target, faults: usize, seed: u64) -> Result<Found, Error> {
    let layout = Layout::parse(&target.file)?;
    // Site tag 4j + b: byte b of X_{34−j}, written by decryption round 30 − j.
    let sites = (0..4 * KEYS)
        .map(|t| sm4_word_site(&layout, 30 - t / 4, 0, t % 4, t))
        .collect::<Result<Vec<_>, _>>()?;
    let camp = campaign(&target.file, &sites, faults, &mut rng(seed, 3))?;
    let note = format!(
        "faults: byte b of X_{{34−j}} for rk_j (one entry of round 30−j's r_xor high- or low-nibble table edited per fault; X_31 is encoded, X_32..X_34 are plaintext words), 16 sites in turn; {} faulted decryptions",
        camp.edits
    );
    analyse(target, &camp, note)
}

/// The four stages on the faulted decryptions of `camp`, each pair's tag `4j + b` taken as
/// the model's faulted byte `b` of `X_{34−j}`; `fault_note` says how the faults were made.
///
/// # Errors
/// [`Error::Usage`] for a key that is not 16 bytes.
pub fn analyse(target: &Target, camp: &Campaign, fault_note: String) -> Result<Found, Error> {
    let rk =
        sm4_round_keys(&target.key).ok_or_else(|| Error::Usage("wrong SM4 key length".into()))?;

    let mut recovered = [0u32; KEYS];
    let mut bytes = Vec::with_capacity(4 * KEYS);
    let mut unusable = 0;
    let mut tie_breaks = 0;
    for j in 0..KEYS {
        let mut tallies: [Tally1; 4] = Default::default();
        for Pair {
            tag,
            correct,
            faulty,
        } in camp.pairs.iter().filter(|p| p.tag / 4 == j)
        {
            let w = peel(words(correct), &recovered[..j]);
            let f = peel(words(faulty), &recovered[..j]);
            if vote(w, f, tag % 4, &mut tallies[tag % 4]).is_none() {
                unusable += 1;
            }
        }
        let next: Vec<&Pair> = camp.pairs.iter().filter(|p| p.tag / 4 == j + 1).collect();
        let (best, broken) = break_ties(&tallies, &recovered[..j], &next);
        recovered[j] = u32::from_be_bytes(best);
        let truth = rk[j].to_be_bytes();
        for (b, t) in tallies.iter().enumerate() {
            let key = KeyByte {
                label: format!("rk{j}[{b}]"),
                value: truth[b],
            };
            let mut scores = t.scores();
            if broken {
                // The next round's faults decided between the tied values.
                scores[usize::from(best[b])] += 0.5;
            }
            bytes.push(byte_result(&key, &scores, t.used));
        }
        tie_breaks += usize::from(broken);
    }
    let key = key_from_round_keys(recovered);
    let notes = vec![
        fault_note,
        format!(
            "{unusable} of {} faults did not fit the model; {tie_breaks} round key(s) chosen among tied votes by the next round's faults",
            camp.edits
        ),
        format!(
            "round keys rk0..rk3 (best guesses): {}",
            recovered
                .iter()
                .map(|k| format!("{k:08x}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        format!(
            "key schedule inverted: {}: {}",
            hex(&key),
            if key.as_slice() == target.key.as_slice() {
                "the SM4 key"
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
    fn key_schedule_inverts() {
        let key: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0xa5);
        let rk = sm4_round_keys(&key).unwrap_or_default();
        let first: [u32; 4] = core::array::from_fn(|i| rk.get(i).copied().unwrap_or(0));
        assert_eq!(key_from_round_keys(first), key);
    }
}
