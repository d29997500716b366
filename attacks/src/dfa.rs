//! Differential fault analysis of the last rounds, from the plaintext side.
//!
//! Faults are edits of single table entries of the key file ([`crate::fault`]): each gives a
//! pair (correct, faulty) of decryptions of one input. The decrypted block leaves the network
//! unencoded, so the classic equations apply to the last rounds whatever the encodings inside:
//! * AES-256 ([`crate::dfa_aes`]): Piret and Quisquater, "A Differential Fault Attack
//!   Technique against SPN Structures, with Application to the AES and KHAZAD" (CHES 2003),
//!   on the equivalent inverse cipher; recovers `dw[0]` and then `rk[1] = MixColumns(K_14)`,
//!   which together are the 256-bit key.
//! * SM4 ([`crate::dfa_sm4`]): Zhang and Wu, "Differential fault analysis on SMS4" (Chinese
//!   Journal of Computers 29(9), 2006), and Li, Gu, Xiang et al. (2008) for faults in the input
//!   words of the last rounds; recovers `rk_0 … rk_3`, which give the key.
//!
//! Each fault gives a set of candidates for a group of key bytes; the attack *counts votes*
//! rather than intersecting the sets, so that a fault that does not follow the model (a
//! countermeasure, a site that missed) costs a vote instead of losing the key. A key byte's
//! score is the best vote count of a candidate with that value; its rank is the number of
//! wrong values that score as well.

use std::collections::HashMap;

use wbruntime::Algorithm;

use crate::Error;
use crate::cipher::KeyByte;
use crate::report::ByteResult;
use crate::target::Target;

/// What the DFA found.
pub struct Found {
    /// Per targeted key byte.
    pub bytes: Vec<ByteResult>,
    /// Findings for the notes.
    pub notes: Vec<String>,
    /// Faulted decryptions made (edited files decrypted).
    pub faults: usize,
}

/// Runs the DFA for the target's cipher with `faults` faulted decryptions.
///
/// # Errors
/// [`Error::KeyFile`], [`Error::Trace`] if the faults cannot be injected.
pub fn attack(target: &Target, faults: usize, seed: u64) -> Result<Found, Error> {
    if target.build.space_bits().is_some() {
        return crate::space_hard::dfa(target, faults, seed);
    }
    match target.algorithm {
        Algorithm::Aes256 => crate::dfa_aes::attack(target, faults, seed),
        Algorithm::Sm4 => crate::dfa_sm4::attack(target, faults, seed),
        _ => Err(Error::Usage("unsupported algorithm".into())),
    }
}

/// Votes for the candidates of a group of four key bytes.
#[derive(Default)]
pub struct Tally4 {
    votes: HashMap<[u8; 4], u32>,
    /// Faults that gave equations for the group.
    pub used: usize,
}

impl Tally4 {
    /// Counts one fault's candidate set (each candidate once).
    pub fn add(&mut self, candidates: &[[u8; 4]]) {
        self.used += 1;
        for c in candidates {
            *self.votes.entry(*c).or_default() += 1;
        }
    }

    /// The candidate with the most votes (the lowest one among equals), if any.
    pub fn best(&self) -> Option<([u8; 4], u32)> {
        self.votes
            .iter()
            .map(|(k, v)| (*k, *v))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Per byte of the group, per value: the best vote count of a candidate with that byte.
    pub fn byte_scores(&self) -> [[f64; 256]; 4] {
        let mut s = [[0f64; 256]; 4];
        for (k, &v) in &self.votes {
            for (r, &b) in k.iter().enumerate() {
                let x = &mut s[r][usize::from(b)];
                *x = x.max(f64::from(v));
            }
        }
        s
    }
}

/// Votes for one key byte.
pub struct Tally1 {
    /// Votes per value.
    pub votes: [u32; 256],
    /// Faults that gave an equation for the byte.
    pub used: usize,
}

impl Default for Tally1 {
    fn default() -> Self {
        Tally1 {
            votes: [0; 256],
            used: 0,
        }
    }
}

impl Tally1 {
    /// The value with the most votes (the lowest among equals).
    pub fn best(&self) -> u8 {
        let mut best = 0;
        for (k, &v) in self.votes.iter().enumerate() {
            if v > self.votes[best] {
                best = k;
            }
        }
        best as u8
    }

    /// The scores for ranking.
    pub fn scores(&self) -> [f64; 256] {
        self.votes.map(f64::from)
    }
}

/// Fewest agreeing faults that count as evidence. Among hundreds of faulty outputs that do
/// not follow the fault model (a countermeasure at work), two of them land on the same
/// candidate by chance (measured: "2 of 496 faults agree" for every byte); when the model
/// holds, the right candidate collects most of the faults of its group.
pub const MIN_AGREEING_FAULTS: f64 = 3.0;

/// The report entry of one key byte from its scores (votes) and the faults that voted.
/// Vote counts below [`MIN_AGREEING_FAULTS`] count as none.
pub fn byte_result(key: &KeyByte, scores: &[f64; 256], used: usize) -> ByteResult {
    let top = scores.iter().copied().fold(0.0, f64::max);
    let left = if top > 0.0 {
        scores.iter().filter(|&&s| s == top).count()
    } else {
        256
    };
    let ev = format!(
        "{} of {} faults agree; {} candidate{}{}",
        top,
        used,
        left,
        if left == 1 { "" } else { "s" },
        if top < MIN_AGREEING_FAULTS {
            " (below the evidence threshold)"
        } else {
            ""
        }
    );
    let scores = scores.map(|v| if v < MIN_AGREEING_FAULTS { 0.0 } else { v });
    ByteResult::from_scores(key, &scores, Some(ev))
}

/// Hex of a byte string.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
