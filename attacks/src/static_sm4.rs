//! Key-file-only attack on SM4: the whole key from one branch's last four rounds, with no
//! runtime, trace or fault (issue 15; SECURITY.md, "Key-file-only attacks").
//!
//! Decryption round `i` computes `X_{i+4} = X_i ⊕ T(X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3} ⊕ rk_{31−i})`,
//! `T = L ∘ τ` (GB/T 32907-2016 §6–§7), and a branch outputs `X_35 ‖ X_34 ‖ X_33 ‖ X_32` under
//! nibble bijections `G` shared by both branches (FORMAT.md, "SM4 sections"). Inside a branch
//! the words `X_32 … X_35` are carried under `G` itself: the rounds that read them decode
//! nibble bijections only (`docs/sm4-whitebox.md` §2, "`X_32 … X_35`").
//!
//! 1. The combination's diagonal gives `G⁻¹` ([`crate::eval::OutputCode`]): `X_32 … X_35` can
//!    be read in the clear and chosen values fed to the tables that read them.
//! 2. **Round 31** (`rk_0`). With `X_31`'s encoded bytes fixed (decoding to an unknown
//!    constant `c`) and chosen `X_32, X_33, X_34` whose XOR is `y`, the round gives
//!    `X_35 = c ⊕ T(y ⊕ rk_0)` in the clear. Varying byte `b` of `y` alone,
//!    `X_35(y) ⊕ X_35(0) = L(S(y_b ⊕ k_b) ⊕ S(k_b))` in byte `b`: of the 256 guesses of `k_b`,
//!    one agrees on all 255 values of `y_b` (the first-round test of Xiao–Lai attacks, e.g.
//!    Lin–Lai 2010, once the encodings are stripped).
//! 3. **`X_31`'s encoding**. With `rk_0` known and `y = 0`, varying `X_31`'s encoded bytes
//!    (read by the round's `r` tables) gives `X_31 = X_35 ⊕ T(rk_0)` for every encoded byte:
//!    the decoding of `X_31`, hence its encoding.
//! 4. Rounds 30, 29, 28 peel the same way, each reading three words whose encodings are now
//!    known and writing a word under `G`: `rk_1`, `rk_2`, `rk_3`, and the encodings of `X_30`,
//!    `X_29` on the way.
//! 5. Four consecutive round keys give the key by running the key schedule backwards
//!    ([`crate::cipher::sm4_key_from_round_keys`]).
//!
//! Only branch 0 of the last section is read: the input stage (external encoding, device
//! binding) and rounds 0–23 never are, so standard-mode and bound files fall the same way.
//! The known key is used only to score the result ([`attack`]).

use std::time::Instant;

use wbruntime::format::Container;
use wbruntime::network::WideTable;
use wbruntime::{Algorithm, sm4};

use crate::Error;
use crate::cipher::{SM4_SBOX, sm4_key_from_round_keys, sm4_l, sm4_round_keys, sm4_t};
use crate::eval::{ByteCode, Lookups, OutputCode};
use crate::report::{KeyReport, Stage};
use crate::target::Target;

/// A word's encoding: one byte code per big-endian byte.
type WordCode = Vec<ByteCode>;

/// What the attack found, from the file alone.
#[derive(Clone, Debug)]
pub struct Found {
    /// Candidates for each byte of `rk_0 … rk_3` (big-endian), in that order; a round whose
    /// predecessor failed has empty lists.
    pub round_keys: Vec<Vec<Vec<u8>>>,
    /// The key, if every round-key byte had exactly one candidate.
    pub key: Option<Vec<u8>>,
    /// Table lookups per stage (round 31's includes reading the combination's diagonal).
    pub lookups: Vec<u64>,
    /// Round evaluations.
    pub round_evaluations: u64,
    /// What kept the attack from going on, if anything.
    pub notes: Vec<String>,
}

/// One branch round, 24 ≤ `i` ≤ 31, evaluated from the file.
enum BranchRound<'a> {
    Full(&'a sm4::Round<'a>),
    Last(&'a sm4::LastRound<'a>, &'a [WideTable; 8]),
}

impl BranchRound<'_> {
    /// The encoded `X_{i+4}` from the encoded `X_i … X_{i+3}`.
    fn eval(&self, x: &[[u8; 4]; 4], look: &mut Lookups) -> [u8; 4] {
        let (pre, pre_xor, t, u, u_xor, r, r_xor) = match self {
            BranchRound::Full(r) => (r.pre, r.pre_xor, r.t, r.u, r.u_xor, r.r, r.r_xor),
            BranchRound::Last(r, _) => (r.pre, r.pre_xor, r.t, r.u, r.u_xor, r.r, r.r_xor),
        };
        let y: [u8; 4] = core::array::from_fn(|b| {
            let a0 = [look.at(&pre[b], x[1][b])];
            let a1 = [look.at(&pre[4 + b], x[2][b])];
            let a2 = [look.at(&pre[8 + b], x[3][b])];
            let s = look.xor(&a0, &a1, &pre_xor[2 * b]);
            look.xor(&s, &a2, &pre_xor[2 * b + 1])[0]
        });
        let v: [[u8; 4]; 4] = core::array::from_fn(|b| look.at(&t[b], y[b]));
        let z = match self {
            BranchRound::Full(r) => look.column_xor(&v, r.t_xor),
            BranchRound::Last(r, wide) => {
                let h01 = core::array::from_fn(|j| look.wide(&wide[2 * j], v[0][j], v[1][j]));
                let h23 = core::array::from_fn(|j| look.wide(&wide[2 * j + 1], v[2][j], v[3][j]));
                look.xor(&h01, &h23, r.t_xor)
            }
        };
        let w: [[u8; 4]; 4] = core::array::from_fn(|k| look.at(&u[k], z[k]));
        let s = look.column_xor(&w, u_xor);
        let rx: [u8; 4] = core::array::from_fn(|b| look.at(&r[b], x[0][b]));
        look.xor(&s, &rx, r_xor)
    }
}

fn encode(code: &WordCode, v: u32) -> [u8; 4] {
    let b = v.to_be_bytes();
    core::array::from_fn(|i| code.get(i).map_or(0, |c| c.encode[usize::from(b[i])]))
}

fn decode(code: &WordCode, e: [u8; 4]) -> u32 {
    u32::from_be_bytes(core::array::from_fn(|i| {
        code.get(i).map_or(0, |c| c.decode[usize::from(e[i])])
    }))
}

/// Peels round `i`: with the codes of `X_{i+1}, X_{i+2}, X_{i+3}` (`known`) and of `X_{i+4}`
/// (`out`), the candidates of each byte of the round key, and, if the round key is unique and
/// `want_code`, the code of `X_i`.
fn peel(
    round: &BranchRound<'_>,
    known: [&WordCode; 3],
    out: &WordCode,
    want_code: bool,
    look: &mut Lookups,
    evaluations: &mut u64,
) -> (Vec<Vec<u8>>, Option<WordCode>) {
    let zero = known.map(|c| encode(c, 0));
    let mut run = |x0: [u8; 4], y: u32| {
        *evaluations += 1;
        let x1 = encode(known[0], y);
        decode(out, round.eval(&[x0, x1, zero[1], zero[2]], look))
    };
    let base = run([0; 4], 0);
    // d[b][v] = X_{i+4}(y) ⊕ X_{i+4}(0) for y = v in byte b.
    let d: Vec<Vec<u32>> = (0..4)
        .map(|b| {
            (0..=255u32)
                .map(|v| run([0; 4], v << (24 - 8 * b)) ^ base)
                .collect()
        })
        .collect();
    let candidates: Vec<Vec<u8>> = d
        .iter()
        .enumerate()
        .map(|(b, db)| {
            (0..=255u8)
                .filter(|&k| {
                    let sk = SM4_SBOX[usize::from(k)];
                    db.iter().enumerate().all(|(v, &dv)| {
                        let s = SM4_SBOX[v ^ usize::from(k)] ^ sk;
                        sm4_l(u32::from(s) << (24 - 8 * b)) == dv
                    })
                })
                .collect()
        })
        .collect();
    let Some(rk) = candidates
        .iter()
        .map(|c| match c.as_slice() {
            [k] => Some(*k),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return (candidates, None);
    };
    if !want_code {
        return (candidates, None);
    }
    let t_rk = sm4_t(u32::from_be_bytes([rk[0], rk[1], rk[2], rk[3]]));
    // X_i for the encoded word (e, e, e, e): X_{i+4} ⊕ T(0 ⊕ rk).
    let mut dec = [[0u8; 256]; 4];
    for e in 0..=255u8 {
        let xi = (run([e; 4], 0) ^ t_rk).to_be_bytes();
        for (d, &v) in dec.iter_mut().zip(&xi) {
            d[usize::from(e)] = v;
        }
    }
    let code = dec
        .into_iter()
        .map(ByteCode::from_decoding)
        .collect::<Option<WordCode>>();
    (candidates, code)
}

/// Runs the attack on `file`.
///
/// # Errors
/// [`Error::KeyFile`] if the file is not a valid SM4 key file; [`Error::Usage`] if it holds
/// another cipher.
pub fn recover(file: &[u8]) -> Result<Found, Error> {
    let c = Container::parse(file)?;
    if c.header().algorithm != Algorithm::Sm4 {
        return Err(Error::Usage("not an SM4 key file".into()));
    }
    let t = sm4::Tables::from_container(&c)?;
    let f = &t.last;
    let branch = &f.branches[0];
    let mut found = Found {
        round_keys: vec![Vec::new(); 4],
        key: None,
        lookups: vec![0; 4],
        round_evaluations: 0,
        notes: Vec::new(),
    };
    let mut look = Lookups::default();
    let Some(g) = OutputCode::from_combination(f.combine, &mut look) else {
        found
            .notes
            .push("a combination table's diagonal is not a bijection".into());
        return Ok(found);
    };
    // codes[j - 28]: the code of X_j inside branch 0, once known. Output byte 4m + b is byte b
    // of X_{35 − m}.
    let mut codes: Vec<Option<WordCode>> = vec![None; 8];
    for j in 32..36 {
        let m = 35 - j;
        codes[j - 28] = Some((0..4).map(|b| g.bytes[4 * m + b].clone()).collect());
    }
    let mut rk = [0u32; 4];
    for (n, i) in (28..32).rev().enumerate() {
        let round = if i == 31 {
            BranchRound::Last(&branch.last, f.t_wide)
        } else {
            BranchRound::Full(&branch.rounds[i - sm4::SHARED_ROUNDS])
        };
        let (Some(k1), Some(k2), Some(k3), Some(out)) = (
            codes[i + 1 - 28].as_ref(),
            codes[i + 2 - 28].as_ref(),
            codes[i + 3 - 28].as_ref(),
            codes[i + 4 - 28].as_ref(),
        ) else {
            found.notes.push(format!(
                "round {i}: the encoding of a word it reads is unknown (an earlier round failed)"
            ));
            break;
        };
        let (cands, code) = peel(
            &round,
            [k1, k2, k3],
            out,
            i > 28,
            &mut look,
            &mut found.round_evaluations,
        );
        found.lookups[n] = look.count;
        look = Lookups::default();
        let unique: Option<Vec<u8>> = cands
            .iter()
            .map(|c| match c.as_slice() {
                [k] => Some(*k),
                _ => None,
            })
            .collect();
        found.round_keys[n] = cands;
        match unique {
            Some(u) => rk[n] = u32::from_be_bytes([u[0], u[1], u[2], u[3]]),
            None => {
                found
                    .notes
                    .push(format!("round {i}: a byte of rk_{n} is ambiguous"));
                break;
            }
        }
        if i > 28 {
            if code.is_none() {
                found.notes.push(format!(
                    "round {i}: the decoding of X_{i} is not a bijection"
                ));
            }
            codes[i - 28] = code;
        }
    }
    if found
        .round_keys
        .iter()
        .all(|c| c.len() == 4 && c.iter().all(|k| k.len() == 1))
    {
        found.key = Some(sm4_key_from_round_keys(rk).to_vec());
    }
    Ok(found)
}

/// Runs the attack on `target`'s key file and scores it against the known key (used for
/// nothing else).
///
/// # Errors
/// As [`recover`].
pub fn attack(target: &Target, seed: u64) -> Result<KeyReport, Error> {
    let start = Instant::now();
    let found = recover(&target.file)?;
    let seconds = start.elapsed().as_secs_f64();
    let truth = sm4_round_keys(&target.key).unwrap_or_default();
    let stages = found
        .round_keys
        .iter()
        .enumerate()
        .map(|(n, cands)| {
            let t = truth.get(n).map_or([0; 4], |w| w.to_be_bytes());
            Stage {
                target: format!("rk_{n}"),
                of: 4,
                recovered: cands
                    .iter()
                    .zip(&t)
                    .filter(|(c, t)| c.as_slice() == [**t])
                    .count(),
                ambiguous: cands.iter().filter(|c| c.len() != 1).count()
                    + 4usize.saturating_sub(cands.len()),
                table_lookups: found.lookups.get(n).copied().unwrap_or(0),
            }
        })
        .collect();
    let report = KeyReport {
        table_lookups: found.lookups.iter().sum(),
        round_evaluations: found.round_evaluations,
        rounds: vec![28, 29, 30, 31],
        stages,
        notes: found.notes.clone(),
        ..KeyReport::new("static", target, seed, seconds)
    };
    Ok(report.score(found.key.as_deref(), &target.key))
}
