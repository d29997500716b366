//! Partial copies of a space-hard table (`wbattack partial`): what a copy missing some entries
//! still decrypts, what known plaintext/ciphertext pairs give back, and how many entries one
//! decryption reads.
//!
//! Space hardness (Bogdanov–Isobe, CCS 2015; SECURITY.md, "How much of the table an attacker
//! must lift") prices a partial copy by the share `f` of the entries it holds: a decryption
//! reads `R` entries at indices that look random, so the copy decrypts a random block with
//! probability about `f^R`. This module measures that on the real runtime, and the two things
//! that argument leaves out:
//!
//! * **Known pairs fill in missing entries.** The Feistel can be computed from both ends of a
//!   known pair (`P`, `C = SH(P)`): from `P` forwards (encryption rounds `1, 2, …`, round `r`
//!   reading `T[s >> (128 − n)]`) and from `C` backwards (decryption rounds `R, R − 1, …`,
//!   reading `T[s mod 2^n]`), each as far as the copy holds the entry the next round reads.
//!   When both ends stop at the same round `r`, the state before it (`s_{r−1}`, from `P`) and
//!   after it (`s_r`, from `C`) are known, and so is the missing entry:
//!   `T[x] = rotr(s_r, n) ⊕ s_{r−1} ⊕ ⟨r⟩`. Entries found this way go into the copy, and the
//!   pairs are tried again until a pass finds nothing new. A pair gives an entry at once when
//!   its chain reads exactly one missing entry (probability about `R (1 − f) f^{R−1}` for
//!   independent indices), and later when other pairs have filled in the rest of its missing
//!   entries. A CBC message whose plaintext is known gives one pair per block:
//!   `(P_i ⊕ C_{i−1}, C_i)`.
//! * **One ciphertext needs only the entries it reads.** A decryption makes `R` lookups and
//!   reads at most `R` distinct entries; a copy holding those decrypts that ciphertext,
//!   whatever else is missing.
//!
//! What is measured, on a fresh unbound space-hard file with a known key
//! ([`crate::target::Target`]): the copy keeps a random set of entries (the others are
//! zeroed); `known_blocks` random plaintexts are encrypted by the runtime with the whole file
//! (`WhiteboxKey::encrypt_block`, the legitimate holder's encryptor); the attacker's own
//! Feistel over the copy, written from FORMAT.md, fills in what it can, and every recovered
//! entry is checked against the true table (the experimenter's check, with the file). Then
//! `ciphertexts` random blocks are decrypted by the runtime with the whole file (its lookup
//! trace, `wbruntime::trace`, gives the entries read), with the copy before and after the
//! recovery (each copy resealed into a key file), and with a file that holds only the entries
//! the first ciphertext's decryption read. A second export of the same key is compared with
//! the file byte for byte: an unbound space-hard file has no randomness of its own.

use std::time::Instant;

use rand_core::Rng;
use wbgen::{KeyFileInfo, KeyMaterial, Mode};
use wbruntime::format::reseal;
use wbruntime::space_hard::LineBits;
use wbruntime::{Algorithm, WhiteboxKey};

use crate::Error;
use crate::report::PartialReport;
use crate::target::{Build, SpaceBits, TARGET_KEY_ID, Target, rng};

/// How much of the table the copy keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Keep {
    /// A share of the entries in percent, `0 ..= 100`, rounded to whole entries.
    Percent(f64),
    /// A number of entries, at most `2^n`.
    Entries(usize),
}

impl Keep {
    /// The number of entries kept out of `entries`.
    ///
    /// # Errors
    /// [`Error::Usage`] for a percentage outside `0 ..= 100` or more entries than the table
    /// has.
    pub fn entries(self, entries: usize) -> Result<usize, Error> {
        match self {
            Keep::Percent(p) if (0.0..=100.0).contains(&p) => {
                Ok(((entries as f64) * p / 100.0).round() as usize)
            }
            Keep::Percent(_) => Err(Error::Usage("--keep-percent is 0 to 100".into())),
            Keep::Entries(k) if k <= entries => Ok(k),
            Keep::Entries(_) => Err(Error::Usage(format!(
                "--keep-entries is at most the table's {entries} entries"
            ))),
        }
    }
}

/// What `wbattack partial` measures.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// The cipher whose outputs the table holds.
    pub algorithm: Algorithm,
    /// The line width `n`.
    pub bits: SpaceBits,
    /// How much of the table the copy keeps.
    pub keep: Keep,
    /// Known plaintext/ciphertext blocks.
    pub known_blocks: usize,
    /// Random ciphertext blocks decrypted from the copies (at least 1).
    pub ciphertexts: usize,
    /// The seed: key, kept entries, pairs and ciphertexts derive from it.
    pub seed: u64,
}

/// Default number of random ciphertext blocks decrypted.
pub const DEFAULT_CIPHERTEXTS: usize = 10_000;

/// Generates the target and runs the plan.
///
/// # Errors
/// [`Error::Usage`] as [`Keep::entries`] says, or for no ciphertexts; whatever keeps the key
/// file from being made or read ([`Error::Generate`], [`Error::KeyFile`]);
/// [`Error::WrongDecryption`] if the attacker's Feistel and the runtime disagree on a
/// complete chain; [`Error::Trace`] if a trace is not `R` lookups into the table.
pub fn run(plan: &Plan) -> Result<PartialReport, Error> {
    let build = Build::SpaceHard {
        bits: plan.bits,
        bound: false,
    };
    let target = Target::generate(plan.algorithm, build, plan.seed)?;
    measure(plan, &target)
}

/// The table's place in the file, and its shape.
struct Shape {
    /// File offset of entry 0.
    start: usize,
    /// `n`.
    n: u32,
    /// Bytes per entry, `(128 − n) / 8`.
    w: usize,
    /// `2^n`.
    entries: usize,
    /// `R`.
    rounds: u32,
}

impl Shape {
    fn of(file: &[u8]) -> Result<Self, Error> {
        let (bits, t) = crate::space_hard::table(file)?;
        Ok(Shape {
            start: t.as_ptr() as usize - file.as_ptr() as usize,
            n: bits.bits(),
            w: bits.entry_len(),
            entries: bits.entries(),
            rounds: bits.rounds(),
        })
    }

    fn range(&self, x: usize) -> core::ops::Range<usize> {
        self.start + x * self.w..self.start + (x + 1) * self.w
    }

    /// Entry `x` of `file` as a big-endian integer (the low `128 − n` bits).
    fn get(&self, file: &[u8], x: usize) -> u128 {
        file.get(self.range(x))
            .unwrap_or(&[])
            .iter()
            .fold(0u128, |a, &b| a << 8 | u128::from(b))
    }

    fn set(&self, file: &mut [u8], x: usize, v: u128) {
        let w = self.w;
        if let Some(e) = file.get_mut(self.range(x)) {
            for (i, o) in e.iter_mut().enumerate() {
                *o = (v >> (8 * (w - 1 - i))) as u8;
            }
        }
    }

    /// The entry index of a traced lookup address.
    fn index(&self, base: usize, address: usize) -> Option<usize> {
        let off = address.checked_sub(base)?.checked_sub(self.start)?;
        (off % self.w == 0 && off / self.w < self.entries).then_some(off / self.w)
    }
}

/// A known pair, computed from both ends as far as the copy allows.
struct Chain {
    /// `s_{a−1}`: the state before encryption round `a`.
    forward: u128,
    a: u32,
    /// `s_b`: the state after encryption round `b` (before decryption round `b`).
    backward: u128,
    b: u32,
}

/// What [`Chain::advance`] ended with.
enum Step {
    /// Every round computed: the chain read no missing entry.
    Complete,
    /// Both ends stopped at round `a = b`: the one missing entry there, recovered.
    Entry(usize, u128),
    /// Missing entries on two or more rounds in between.
    Stuck,
}

impl Chain {
    fn advance(&mut self, s: &Shape, copy: &[u8], have: &[bool]) -> Result<Step, Error> {
        let n = s.n;
        let mask = s.entries - 1;
        while self.a <= self.b {
            let x = (self.forward >> (128 - n)) as usize;
            if !have[x] {
                break;
            }
            self.forward = (self.forward ^ s.get(copy, x) ^ u128::from(self.a)).rotate_left(n);
            self.a += 1;
        }
        while self.b >= self.a {
            let x = self.backward as usize & mask;
            if !have[x] {
                break;
            }
            self.backward = self.backward.rotate_right(n) ^ s.get(copy, x) ^ u128::from(self.b);
            self.b -= 1;
        }
        if self.a > self.b {
            // s_{a−1} from P and s_b from C with a − 1 = b: the same state.
            return if self.forward == self.backward {
                Ok(Step::Complete)
            } else {
                Err(Error::WrongDecryption)
            };
        }
        if self.a < self.b {
            return Ok(Step::Stuck);
        }
        // Round r = a = b: s_r = rotl(s_{r−1} ⊕ T[x] ⊕ ⟨r⟩, n), x = s_{r−1} >> (128 − n).
        let x = (self.forward >> (128 - n)) as usize;
        let v = self.backward.rotate_right(n) ^ self.forward ^ u128::from(self.a);
        if v >> (128 - n) != 0 || self.backward as usize & mask != x {
            return Err(Error::WrongDecryption);
        }
        Ok(Step::Entry(x, v))
    }
}

/// What the known pairs gave.
struct Recovery {
    /// Pairs whose chain read no missing entry.
    complete: usize,
    /// Entries recovered, in order.
    entries: Vec<usize>,
    /// Passes over the pairs (the last one finds nothing new).
    passes: usize,
}

/// Fills in `copy` (and `have`) from the known pairs, until a pass finds nothing new. The
/// entries a pass finds go into the copy at its end, so the first pass sees the copy as
/// lifted.
fn recover(
    s: &Shape,
    pairs: &[([u8; 16], [u8; 16])],
    copy: &mut [u8],
    have: &mut [bool],
) -> Result<Recovery, Error> {
    let mut open: Vec<Chain> = pairs
        .iter()
        .map(|(p, c)| Chain {
            forward: u128::from_be_bytes(*p),
            a: 1,
            backward: u128::from_be_bytes(*c),
            b: s.rounds,
        })
        .collect();
    let mut out = Recovery {
        complete: 0,
        entries: Vec::new(),
        passes: 0,
    };
    loop {
        out.passes += 1;
        let mut found = Vec::new();
        let mut still = Vec::with_capacity(open.len());
        for mut chain in open {
            match chain.advance(s, copy, have)? {
                Step::Complete if out.passes == 1 => out.complete += 1,
                Step::Complete => {}
                Step::Entry(x, v) => found.push((x, v)),
                Step::Stuck => still.push(chain),
            }
        }
        open = still;
        let before = out.entries.len();
        for (x, v) in found {
            // Two pairs of one pass may give the same entry (with the same value).
            if !have[x] {
                s.set(copy, x, v);
                have[x] = true;
                out.entries.push(x);
            }
        }
        if out.entries.len() == before || open.is_empty() {
            return Ok(out);
        }
    }
}

/// Runs the plan on `target` (an unbound space-hard file).
///
/// # Errors
/// As [`run`].
pub fn measure(plan: &Plan, target: &Target) -> Result<PartialReport, Error> {
    if plan.ciphertexts == 0 {
        return Err(Error::Usage("--ciphertexts must be at least 1".into()));
    }
    if target.build.bound() {
        return Err(Error::Usage(
            "partial measures unbound space-hard files".into(),
        ));
    }
    let start = Instant::now();
    let file = &target.file;
    let s = Shape::of(file)?;
    let kept = plan.keep.entries(s.entries)?;
    let missing = s.entries - kept;

    // The copy: a random set of `missing` entries zeroed (partial Fisher–Yates).
    let mut pick = rng(plan.seed, 4);
    let mut order: Vec<u32> = (0..s.entries as u32).collect();
    for i in 0..missing {
        let j = i + (pick.next_u64() % (s.entries - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut have = vec![true; s.entries];
    let mut copy = file.clone();
    for &x in order.iter().take(missing) {
        have[x as usize] = false;
        s.set(&mut copy, x as usize, 0);
    }
    drop(order);
    let kept_before = have.clone();
    let mut before = copy.clone();
    reseal(&mut before);

    // Known pairs: random plaintexts, encrypted by the runtime with the whole file.
    let genuine = WhiteboxKey::parse(file)?;
    let mut draw = rng(plan.seed, 5);
    let mut pairs = Vec::with_capacity(plan.known_blocks);
    for _ in 0..plan.known_blocks {
        let mut p = [0u8; 16];
        draw.fill_bytes(&mut p);
        let mut c = p;
        genuine.encrypt_block(&mut c)?;
        pairs.push((p, c));
    }
    let found = recover(&s, &pairs, &mut copy, &mut have)?;
    let recovered_correct = found
        .entries
        .iter()
        .filter(|&&x| s.get(&copy, x) == s.get(file, x))
        .count();
    let mut after = copy;
    reseal(&mut after);

    // Random ciphertexts: the whole file (traced), the copy before and after the recovery.
    let mut draw = rng(plan.seed, 6);
    let blocks: Vec<[u8; 16]> = (0..plan.ciphertexts)
        .map(|_| {
            let mut c = [0u8; 16];
            draw.fill_bytes(&mut c);
            c
        })
        .collect();
    let base = file.as_ptr() as usize;
    let read = |c: &[u8; 16]| -> Result<([u8; 16], Vec<usize>), Error> {
        let mut p = *c;
        let ((), addresses) = wbruntime::trace::record_lookups(|| genuine.decrypt_block(&mut p));
        let xs: Option<Vec<usize>> = addresses.iter().map(|&a| s.index(base, a)).collect();
        match xs {
            Some(xs) if xs.len() == s.rounds as usize => Ok((p, xs)),
            _ => Err(Error::Trace(format!(
                "a decryption should read the table {} times, at entry addresses",
                s.rounds
            ))),
        }
    };

    // The file holding only the entries the first ciphertext's decryption reads.
    let first = blocks.first().copied().unwrap_or_default();
    let (first_plain, first_read) = read(&first)?;
    let mut only = vec![false; s.entries];
    for &x in &first_read {
        only[x] = true;
    }
    let mut single = file.clone();
    for (x, keep) in only.iter().enumerate() {
        if !keep {
            s.set(&mut single, x, 0);
        }
    }
    reseal(&mut single);
    let single_key = WhiteboxKey::parse(&single)?;
    let mut p = first;
    single_key.decrypt_block(&mut p);
    let single_decrypts = p == first_plain;

    let before_key = WhiteboxKey::parse(&before)?;
    let after_key = WhiteboxKey::parse(&after)?;
    let mut seen = vec![u32::MAX; s.entries];
    let (mut ok_before, mut ok_after, mut ok_single, mut predicted, mut disagree) = (0, 0, 0, 0, 0);
    let (mut distinct_sum, mut distinct_min, mut distinct_max) = (0usize, usize::MAX, 0usize);
    for (i, c) in blocks.iter().enumerate() {
        let (plain, xs) = read(c)?;
        let mut distinct = 0;
        for &x in &xs {
            if seen[x] != i as u32 {
                seen[x] = i as u32;
                distinct += 1;
            }
        }
        distinct_sum += distinct;
        distinct_min = distinct_min.min(distinct);
        distinct_max = distinct_max.max(distinct);
        let only_kept = xs.iter().all(|&x| kept_before[x]);
        let mut p = *c;
        before_key.decrypt_block(&mut p);
        let good = p == plain;
        ok_before += usize::from(good);
        predicted += usize::from(only_kept);
        disagree += usize::from(good != only_kept);
        let mut p = *c;
        after_key.decrypt_block(&mut p);
        ok_after += usize::from(p == plain);
        if i > 0 {
            let mut p = *c;
            single_key.decrypt_block(&mut p);
            ok_single += usize::from(p == plain);
        }
    }

    // A second export of the same key: imported again, with another generator.
    let bits =
        LineBits::from_bits(s.n).ok_or_else(|| Error::Trace("not a space-hard key file".into()))?;
    let material = KeyMaterial::import(
        target.algorithm,
        &target.key,
        Mode::SpaceHard(bits),
        &mut rng(plan.seed, 7),
    )?;
    let again = material.export_key_file(
        KeyFileInfo {
            key_id: TARGET_KEY_ID,
            key_version: 1,
        },
        &mut rng(plan.seed, 8),
    )?;
    let reexport_identical = again == *file;

    let f = kept as f64 / s.entries as f64;
    let r = f64::from(s.rounds);
    let n_entries = s.entries as f64;
    let one_missing = r * (1.0 - f) * f.powf(r - 1.0);
    let mut notes = vec![format!(
        "model (independent uniform indices): a copy keeping a share f = {f:.6} decrypts a random block with probability f^R = {}; a pair reads exactly one missing entry with probability R(1 − f)f^(R−1) = {} ({:.1} of {} pairs); a decryption reads N(1 − (1 − 1/N)^R) = {:.1} distinct entries",
        probability(f.powf(r)),
        probability(one_missing),
        plan.known_blocks as f64 * one_missing,
        plan.known_blocks,
        n_entries * (1.0 - (1.0 - 1.0 / n_entries).powf(r))
    )];
    notes.push(format!(
        "{predicted} of {} ciphertexts read only kept entries (from the whole file's trace); the copy's own decryptions {}",
        plan.ciphertexts,
        if disagree == 0 {
            "agree with that, block for block".to_string()
        } else {
            format!("disagree with it on {disagree} blocks")
        }
    ));
    if recovered_correct != found.entries.len() {
        notes.push(format!(
            "{} recovered entries differ from the file's",
            found.entries.len() - recovered_correct
        ));
    }
    notes.push(format!(
        "a second export of the key (imported again, another random generator) is {} the file ({} bytes): an unbound space-hard file is a function of the key alone; a bound one differs per export (fresh mask and salt)",
        if reexport_identical {
            "byte-identical to"
        } else {
            "different from"
        },
        file.len()
    ));
    Ok(PartialReport {
        attack: "partial".into(),
        algorithm: match target.algorithm {
            Algorithm::Aes256 => "aes-256".into(),
            _ => "sm4".into(),
        },
        mode: target.build.name().into(),
        seed: plan.seed,
        line_bits: s.n,
        rounds: s.rounds,
        entries: s.entries,
        kept,
        missing,
        known_blocks: plan.known_blocks,
        pairs_complete: found.complete,
        recovered: found.entries.len(),
        recovered_correct,
        passes: found.passes,
        ciphertexts: plan.ciphertexts,
        decrypting_before: ok_before,
        decrypting_after: ok_after,
        lookups_per_decryption: s.rounds,
        distinct_read_mean: distinct_sum as f64 / plan.ciphertexts as f64,
        distinct_read_min: distinct_min,
        distinct_read_max: distinct_max,
        single_read: only.iter().filter(|&&k| k).count(),
        single_decrypts,
        single_decrypts_others: ok_single,
        reexport_identical,
        file_len: file.len(),
        seconds: start.elapsed().as_secs_f64(),
        notes,
    })
}

/// A probability for the notes: four decimals, or three significant digits when smaller.
fn probability(p: f64) -> String {
    if p == 0.0 || p >= 1e-3 {
        format!("{p:.4}")
    } else {
        format!("{p:.3e}")
    }
}
