//! Key-file-only attack on AES-256: the whole 256-bit key from the file's last rounds, with
//! no runtime, trace or fault (issue 15; SECURITY.md, "Key-file-only attacks").
//!
//! Notation as in `docs/aes256-whitebox.md`: the network is the equivalent inverse cipher
//! (FIPS-197 §5.3.5), `K_j = dw[15 − j]`, `dw[0] = rk[0]` (the key's first 16 bytes),
//! `K_14 = dw[1] = InvMixColumns(rk[1])` (`rk[1]`: the key's last 16 bytes).
//!
//! **Stage 1, `dw[0]`** (the wide tables). The combination's diagonal gives the decoding
//! `G⁻¹` of the branch outputs ([`crate::eval::OutputCode`]). Decoded, wide table `p` is
//! `W(a, b) = InvS(f(a) ⊕ g(b)) ⊕ dw[0][p]` for two byte bijections `f`, `g` (the half sums'
//! decodings followed by the linear `L_14⁻¹`, and `K_14[q]` folded into `f`). For the right
//! guess `k` of `dw[0][p]`, `h(a, b) = S(W(a, b) ⊕ k) = f(a) ⊕ g(b)` is XOR-separable:
//! `h(a, b) ⊕ h(a′, b) ⊕ h(a, b′) ⊕ h(a′, b′) = 0` for every `a, a′, b, b′`; for a wrong
//! guess `S(InvS(·) ⊕ δ)` breaks it on almost every quadruple. [`QUADRUPLES`] random
//! quadruples per byte leave one guess. This is the separability test of Billet, Gilbert
//! and Ech-Chatbi's attack (SAC 2004, §3), here on a table that the countermeasure of format
//! version 2 made two bytes wide.
//!
//! **Stage 2, `rk[1]`** (round 13 of one branch). With `dw[0]` known, the decoded output gives
//! the last S-box input `z_q = s_q ⊕ K_14[q] = S(P_p ⊕ dw[0][p])`, `q = INV_SHIFT[p]`, and
//! `w = MixColumns(z) = MixColumns(s) ⊕ rk[1]`, whose byte `p` is `InvS(t_q ⊕ K_13[q]) ⊕
//! rk[1][p]` for `t` the decoded input of round 13. Round 13 is evaluated from the file on the
//! 256 encoded states whose sixteen bytes all equal `x`, so byte `p` of `w` is a function of
//! the encoded byte `x` alone. That byte is `N(L(t_q))` with `N` two nibble bijections and `L`
//! linear (Chow et al. 2002, §4.1), so the sixteen `x` with the same high nibble have `t_q`
//! in a coset of the 4-dimensional subspace `L⁻¹(0000····)`: for the right guess `k` of
//! `rk[1][p]`, `S(w_p ⊕ k) = t_q ⊕ K_13[q]` takes the sixteen classes to cosets of one
//! 4-dimensional subspace, which for a wrong guess essentially never happens.
//!
//! The input stage, rounds 1–12 and branch 1 are never read, so standard-mode and bound files
//! (whose tables differ only in the input stage) fall the same way. The known key is used only
//! to score the result ([`attack`]).

use std::time::Instant;

use rand_core::Rng;
use wbruntime::aes256::{self, INV_SHIFT};
use wbruntime::format::Container;
use wbruntime::{Algorithm, network::XorTable};

use crate::Error;
use crate::cipher::{AES_SBOX, aes_mix_column};
use crate::eval::{Lookups, OutputCode};
use crate::report::{KeyReport, Stage};
use crate::target::{Target, rng};

/// Random quadruples `(a, a′, b, b′)` tested per byte of `dw[0]`: a wrong guess passes one
/// with probability about 2⁻⁸, so 16 leave it a chance of about 2⁻¹²⁰.
pub const QUADRUPLES: usize = 16;

/// What the attack found, from the file alone.
#[derive(Clone, Debug)]
pub struct Found {
    /// Candidates for each byte of `dw[0]` (the key's first half).
    pub dw0: Vec<Vec<u8>>,
    /// Candidates for each byte of `rk[1]` (the key's second half); empty lists if stage 1 left
    /// a byte ambiguous.
    pub rk1: Vec<Vec<u8>>,
    /// The key, if every byte had exactly one candidate.
    pub key: Option<Vec<u8>>,
    /// Table lookups of stage 1 (including reading the combination's diagonal) and stage 2.
    pub lookups: [u64; 2],
    /// Evaluations of round 13 (stage 2).
    pub round_evaluations: u64,
    /// What kept the attack from going on, if anything.
    pub notes: Vec<String>,
}

fn unique(c: &[Vec<u8>]) -> Option<Vec<u8>> {
    c.iter()
        .map(|v| match v.as_slice() {
            [k] => Some(*k),
            _ => None,
        })
        .collect()
}

/// Runs both stages on `file`, drawing stage 1's quadruples from `seed`.
///
/// # Errors
/// [`Error::KeyFile`] if the file is not a valid AES-256 key file; [`Error::Usage`] if it holds
/// another cipher.
pub fn recover(file: &[u8], seed: u64) -> Result<Found, Error> {
    let c = Container::parse(file)?;
    if c.header().algorithm != Algorithm::Aes256 {
        return Err(Error::Usage("not an AES-256 key file".into()));
    }
    let t = aes256::Tables::from_container(&c)?;
    let f = &t.last;
    let mut found = Found {
        dw0: Vec::new(),
        rk1: vec![Vec::new(); 16],
        key: None,
        lookups: [0; 2],
        round_evaluations: 0,
        notes: Vec::new(),
    };
    let mut look = Lookups::default();
    let Some(g) = OutputCode::from_combination(f.combine, &mut look) else {
        found
            .notes
            .push("a combination table's diagonal is not a bijection".into());
        found.dw0 = vec![Vec::new(); 16];
        return Ok(found);
    };
    found.dw0 = first_half(f.wide, &g, &mut rng(seed, 3), &mut look);
    found.lookups[0] = look.count;
    let Some(dw0) = unique(&found.dw0) else {
        found
            .notes
            .push("stage 1 left a byte of dw[0] ambiguous; stage 2 needs all of it".into());
        return Ok(found);
    };
    let mut look = Lookups::default();
    found.rk1 = second_half(&f.branches[0].half, f.wide, &g, &dw0, &mut look);
    found.round_evaluations = 256;
    found.lookups[1] = look.count;
    if let Some(rk1) = unique(&found.rk1) {
        found.key = Some([dw0, rk1].concat());
    }
    Ok(found)
}

/// Stage 1: the guesses of each `dw[0][p]` for which the decoded wide table, through
/// `S(· ⊕ k)`, passes the separability test on [`QUADRUPLES`] random quadruples.
fn first_half(
    wide: &[wbruntime::network::WideTable; 16],
    g: &OutputCode,
    rng: &mut impl Rng,
    look: &mut Lookups,
) -> Vec<Vec<u8>> {
    let mut byte = || rng.next_u32() as u8;
    wide.iter()
        .enumerate()
        .map(|(p, table)| {
            let quads: Vec<[u8; 4]> = (0..QUADRUPLES)
                .map(|_| {
                    let (a, b) = (byte(), byte());
                    // a′ ≠ a and b′ ≠ b, or the quadruple sums to zero for every guess.
                    let a2 = a ^ (1 + byte() % 255);
                    let b2 = b ^ (1 + byte() % 255);
                    [(a, b), (a2, b), (a, b2), (a2, b2)]
                        .map(|(x, y)| g.decode(p, look.wide(table, x, y)))
                })
                .collect();
            (0..=255u8)
                .filter(|&k| {
                    quads.iter().all(|q| {
                        q.iter()
                            .fold(0, |acc, &w| acc ^ AES_SBOX[usize::from(w ^ k)])
                            == 0
                    })
                })
                .collect()
        })
        .collect()
}

/// Round 13 of a branch and the wide tables on an encoded state: the decoded output block.
fn round13(
    h: &aes256::HalfRound<'_>,
    wide: &[wbruntime::network::WideTable; 16],
    g: &OutputCode,
    state: &[u8; 16],
    look: &mut Lookups,
) -> [u8; 16] {
    let mut v01 = [0u8; 16];
    let mut v23 = [0u8; 16];
    for c in 0..4 {
        let v: [[u8; 4]; 4] = core::array::from_fn(|i| {
            let p = 4 * c + i;
            look.at(&h.t2[p], state[INV_SHIFT[p]])
        });
        let y = look.column_xor(&v, &h.x2[c]);
        let w: [[u8; 4]; 4] = core::array::from_fn(|k| look.at(&h.t3[4 * c + k], y[k]));
        let [x01, x23]: &[[XorTable; 8]; 2] = &h.x3[c];
        v01[4 * c..4 * c + 4].copy_from_slice(&look.xor(&w[0], &w[1], x01));
        v23[4 * c..4 * c + 4].copy_from_slice(&look.xor(&w[2], &w[3], x23));
    }
    core::array::from_fn(|p| {
        let q = INV_SHIFT[p];
        g.decode(p, look.wide(&wide[p], v01[q], v23[q]))
    })
}

/// Whether the sixteen classes of sixteen values (`values[16h .. 16h + 16]`, class `h`) are
/// cosets of one 4-dimensional subspace of GF(2)⁸.
fn cosets_of_one_subspace(values: &[u8; 256]) -> bool {
    let mut space = [false; 256];
    for &v in &values[..16] {
        space[usize::from(v ^ values[0])] = true;
    }
    let members: Vec<u8> = (0..=255u8).filter(|&d| space[usize::from(d)]).collect();
    let closed = members.len() == 16
        && members
            .iter()
            .all(|&a| members.iter().all(|&b| space[usize::from(a ^ b)]));
    closed
        && values
            .chunks_exact(16)
            .all(|class| class.iter().all(|&v| space[usize::from(v ^ class[0])]))
}

/// Stage 2: the guesses of each `rk[1][p]` for which `S(w_p ⊕ k)` takes the classes of the
/// encoded input's high nibble to cosets of one 4-dimensional subspace.
fn second_half(
    h: &aes256::HalfRound<'_>,
    wide: &[wbruntime::network::WideTable; 16],
    g: &OutputCode,
    dw0: &[u8],
    look: &mut Lookups,
) -> Vec<Vec<u8>> {
    // w[p][x]: byte p of MixColumns(z) for the state whose bytes all equal x.
    let mut w = vec![[0u8; 256]; 16];
    for x in 0..=255u8 {
        let out = round13(h, wide, g, &[x; 16], look);
        let mut z = [0u8; 16];
        for (p, (&o, &k)) in out.iter().zip(dw0).enumerate() {
            z[INV_SHIFT[p]] = AES_SBOX[usize::from(o ^ k)];
        }
        for c in 0..4 {
            let col = aes_mix_column([z[4 * c], z[4 * c + 1], z[4 * c + 2], z[4 * c + 3]]);
            for (i, &b) in col.iter().enumerate() {
                w[4 * c + i][usize::from(x)] = b;
            }
        }
    }
    w.iter()
        .map(|wp| {
            (0..=255u8)
                .filter(|&k| {
                    let v: [u8; 256] = core::array::from_fn(|x| AES_SBOX[usize::from(wp[x] ^ k)]);
                    cosets_of_one_subspace(&v)
                })
                .collect()
        })
        .collect()
}

/// Runs the attack on `target`'s key file and scores it against the known key (used for
/// nothing else).
///
/// # Errors
/// As [`recover`].
pub fn attack(target: &Target, seed: u64) -> Result<KeyReport, Error> {
    let start = Instant::now();
    let found = recover(&target.file, seed)?;
    let seconds = start.elapsed().as_secs_f64();
    let stage = |name: &str, cands: &[Vec<u8>], truth: &[u8], lookups: u64| Stage {
        target: name.into(),
        of: truth.len(),
        recovered: cands
            .iter()
            .zip(truth)
            .filter(|(c, t)| c.as_slice() == [**t])
            .count(),
        ambiguous: cands.iter().filter(|c| c.len() != 1).count(),
        table_lookups: lookups,
    };
    let (first, second) = target.key.split_at(target.key.len().min(16));
    let report = KeyReport {
        table_lookups: found.lookups.iter().sum(),
        round_evaluations: found.round_evaluations,
        rounds: vec![13, 14],
        stages: vec![
            stage("dw0", &found.dw0, first, found.lookups[0]),
            stage("rk1", &found.rk1, second, found.lookups[1]),
        ],
        notes: found.notes.clone(),
        ..KeyReport::new("static", target, seed, seconds)
    };
    Ok(report.score(found.key.as_deref(), &target.key))
}
