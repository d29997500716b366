//! Tables re-laid out for the SIMD backends, once per accelerated key.
//!
//! A table whose entries are several bytes wide (`[[u8; W]; 256]`) becomes `W` byte *planes*
//! (`[[u8; 256]; W]`): plane `j` holds byte `j` of every entry, so that one byte of all
//! entries is a 256-byte table that a vector permute or shuffle can look up for many blocks
//! at once. Byte-wide tables (the nibble-XOR, combination, `pre` and `r` tables) and the wide
//! tables are used in place, from the key file.

use alloc::vec::Vec;

use crate::{aes256, sm4};

/// The four planes of a byte→word table.
pub(crate) type Word = [[u8; 256]; 4];
/// The sixteen planes of an input-stage byte→block table.
pub(crate) type Mix = [[u8; 256]; 16];

/// `W` planes of a table of `W`-byte entries.
fn planes<const W: usize>(t: &[[u8; W]; 256]) -> [[u8; 256]; W] {
    let mut p = [[0u8; 256]; W];
    for (i, entry) in t.iter().enumerate() {
        for (plane, &b) in p.iter_mut().zip(entry) {
            plane[i] = b;
        }
    }
    p
}

fn words<const N: usize>(t: &[[[u8; 4]; 256]; N]) -> Vec<Word> {
    t.iter().map(planes).collect()
}

/// One AES-256 round's word tables as planes.
pub(crate) struct AesRound {
    pub t2: Vec<Word>,
    pub t3: Vec<Word>,
}

impl AesRound {
    fn new(t2: &[[[u8; 4]; 256]; 16], t3: &[[[u8; 4]; 256]; 16]) -> Self {
        AesRound {
            t2: words(t2),
            t3: words(t3),
        }
    }
}

/// The input stage's mixing tables as planes.
fn mix(input: Option<&crate::network::Input<'_>>) -> Option<Vec<Mix>> {
    Some(input?.mix.iter().map(planes).collect())
}

/// An AES-256 key's planes: input stage, rounds 1–10, and each branch's rounds 11–13.
pub(crate) struct AesPlanes {
    pub input: Option<Vec<Mix>>,
    pub rounds: Vec<AesRound>,
    pub branches: [Vec<AesRound>; 2],
}

impl AesPlanes {
    pub fn new(t: &aes256::Tables<'_>) -> Self {
        let branch = |b: &aes256::Branch<'_>| {
            let mut v: Vec<AesRound> = b.rounds.iter().map(|r| AesRound::new(r.t2, r.t3)).collect();
            v.push(AesRound::new(b.half.t2, b.half.t3));
            v
        };
        let [b0, b1] = &t.last.branches;
        AesPlanes {
            input: mix(t.input.as_ref()),
            rounds: t.rounds.iter().map(|r| AesRound::new(r.t2, r.t3)).collect(),
            branches: [branch(b0), branch(b1)],
        }
    }
}

/// One SM4 round's word tables as planes.
pub(crate) struct Sm4Round {
    pub t: Vec<Word>,
    pub u: Vec<Word>,
}

/// An SM4 key's planes: input stage, rounds 0–23, and each branch's rounds 24–31.
pub(crate) struct Sm4Planes {
    pub input: Option<Vec<Mix>>,
    pub rounds: Vec<Sm4Round>,
    pub branches: [Vec<Sm4Round>; 2],
}

impl Sm4Planes {
    pub fn new(t: &sm4::Tables<'_>) -> Self {
        let round = |t: &[[[u8; 4]; 256]; 4], u: &[[[u8; 4]; 256]; 4]| Sm4Round {
            t: words(t),
            u: words(u),
        };
        let branch = |b: &sm4::Branch<'_>| {
            let mut v: Vec<Sm4Round> = b.rounds.iter().map(|r| round(r.t, r.u)).collect();
            v.push(round(b.last.t, b.last.u));
            v
        };
        let [b0, b1] = &t.last.branches;
        Sm4Planes {
            input: mix(t.input.as_ref()),
            rounds: t.rounds.iter().map(|r| round(r.t, r.u)).collect(),
            branches: [branch(b0), branch(b1)],
        }
    }
}
