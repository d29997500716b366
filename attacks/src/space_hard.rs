//! The suite on space-hard key files (`wbgen::Mode::SpaceHard`, `wbruntime::space_hard`):
//! what each attack can aim at, and what it finds.
//!
//! A space-hard file holds one table, `T[x] = F(x)`, the first `128 − n` bits of
//! `E_K(0^{128−n} ‖ x)` for every `n`-bit `x` (`E` = AES-256 or SM4), and the runtime runs a
//! Feistel of `R` rounds over it (decryption round `r`: `s ← rotr(s, n) ⊕ T[s mod 2^n] ⊕ ⟨r⟩`).
//! A bound file stores `T'[y] = F(y ⊕ a) ⊕ b` instead, `a ‖ b` being the device mask wrapped
//! per device. So the file is `2^n` known input/output pairs of `E_K`, truncated (permuted
//! and masked by a public XOR for a bound file), and nothing else about `K`:
//!
//! * **key scan** ([`structure`], [`static_attack`]): the key, its round keys and runs of
//!   its key-schedule words as byte strings anywhere in the file; the table's restriction to
//!   each byte of `x` that meets a key byte in `E`'s first round, tested for the form
//!   `A · S(x ⊕ k) ⊕ c` as the structural test does for the Chow tables; the table's byte
//!   frequencies and bit balance. With the known key, the experimenter also checks that every
//!   entry is `E_K`'s output (the reduction's assumption, for this file).
//! * **DCA, LDA** (`crate::cli::attack`): on traces of the real runtime, with the usual
//!   targets and with `E`'s first round on the two lookups whose index the attacker knows
//!   (`crate::cipher::PlaintextSide::table_index`).
//! * **DFA** ([`dfa`]): single table entries edited, the suite's AES-256 and SM4 DFA run on
//!   the faulty outputs.
//! * **BGE** ([`bge_report`]): not applicable; there is no AES round in the file.

use std::time::Instant;

use wbruntime::Algorithm;
use wbruntime::format::Container;
use wbruntime::space_hard::{LineBits, SECTION_HEADER_LEN, SECTION_TABLE};

use crate::Error;
use crate::cipher::{KeyByte, PlaintextSide, aes_round_keys, aes256_encrypt, sm4_encrypt};
use crate::dfa::Found as DfaFound;
use crate::fault::space_hard_campaign;
use crate::report::{ByteResult, KeyReport, Stage};
use crate::structure::{Found, key_search, needles, scores, spans};
use crate::target::{Target, rng};

/// The table of a space-hard file: its line width and its `2^n` entries (after the section
/// header).
///
/// # Errors
/// [`Error::KeyFile`] if the container is invalid; [`Error::Trace`] if it is not a
/// space-hard file of a known width.
pub fn table(file: &[u8]) -> Result<(LineBits, &[u8]), Error> {
    let c = Container::parse(file)?;
    let not = || Error::Trace("not a space-hard key file".into());
    if !c.header().space_hard() {
        return Err(not());
    }
    let s = c.section(SECTION_TABLE).ok_or_else(not)?;
    let bits = s
        .first()
        .and_then(|&n| LineBits::from_bits(u32::from(n)))
        .ok_or_else(not)?;
    let t = s
        .get(SECTION_HEADER_LEN..SECTION_HEADER_LEN + bits.table_len())
        .ok_or_else(not)?;
    Ok((bits, t))
}

/// The sentence every space-hard report starts its notes with.
pub fn reduction_note(bits: LineBits, algorithm: Algorithm) -> String {
    let n = bits.bits();
    format!(
        "space-hard file: the table is {} known input/output pairs of {} (inputs 0^{} ‖ x, outputs truncated to {} bits) and holds nothing else about K; recovering K from the file is a known-plaintext key recovery on {} with 2^{n} pairs",
        bits.entries(),
        name(algorithm),
        128 - n,
        128 - n,
        name(algorithm)
    )
}

fn name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Aes256 => "AES-256",
        _ => "SM4",
    }
}

/// What the key-file scan finds.
pub struct Scan {
    /// The needles found (none expected).
    pub found: Vec<String>,
    /// Needles searched (each also reversed: twice as many strings).
    pub needles: usize,
    /// Per key byte that meets a byte of `x` in `E`'s first round: the table-equivalence
    /// result.
    pub bytes: Vec<ByteResult>,
    /// χ² of the table's byte frequencies (255 degrees of freedom: mean 255, σ ≈ 22.6).
    pub chi2: f64,
    /// The largest |z| of the balance of one of the `128 − n` output bit positions over the
    /// `2^n` entries.
    pub max_bit_z: f64,
    /// Entries checked against `E_K` with the known key, and how many matched (unbound
    /// files; `None` for bound ones, whose mask the scan does not unwrap).
    pub checked: Option<(usize, usize)>,
    /// Table entries read.
    pub lookups: u64,
    /// Notes.
    pub notes: Vec<String>,
}

/// Sub-tables tested per key byte in the table-equivalence test.
pub const SUB_TABLES: usize = 16;

/// Runs the scan on `target`'s space-hard file.
///
/// # Errors
/// As [`table`]; [`Error::Usage`] for a key of the wrong length.
pub fn scan(target: &Target) -> Result<Scan, Error> {
    let (bits, t) = table(&target.file)?;
    let n = bits.bits() as usize;
    let k = n / 8;
    let w = bits.entry_len();
    let entries = bits.entries();
    let mut notes = vec![reduction_note(bits, target.algorithm)];

    // (a) Key material as byte strings: the suite's needles, and every run of two
    // consecutive key-schedule words (8 bytes; a 4-byte word would match a random table of
    // this size by chance with probability about len / 2^32).
    let mut list = needles(target.algorithm, &target.key)?;
    match target.algorithm {
        Algorithm::Aes256 => {
            let (rk, _) = aes_round_keys(&target.key)
                .ok_or_else(|| Error::Usage("wrong AES-256 key length".into()))?;
            let words: Vec<u8> = rk.iter().flatten().copied().collect();
            for i in 0..59 {
                list.push((format!("w{i}‖w{}", i + 1), words[4 * i..4 * i + 8].to_vec()));
            }
        }
        _ => {
            let rk = crate::cipher::sm4_round_keys(&target.key)
                .ok_or_else(|| Error::Usage("wrong SM4 key length".into()))?;
            for i in 0..31 {
                for be in [true, false] {
                    let mut s = Vec::new();
                    for r in &rk[i..i + 2] {
                        s.extend(if be { r.to_be_bytes() } else { r.to_le_bytes() });
                    }
                    list.push((
                        format!("rk{i}‖rk{} ({})", i + 1, if be { "BE" } else { "LE" }),
                        s,
                    ));
                }
            }
        }
    }
    let found = key_search(&target.file, &list);

    // (b) Table equivalence on E's first round: for byte b of x, the 256 entries with the
    // other bytes of x fixed, tested against A · S(x_b ⊕ k) ⊕ c, averaged over SUB_TABLES
    // choices of the other bytes.
    let side = PlaintextSide::table_index(target.algorithm, &target.key, bits.bits())
        .ok_or_else(|| Error::Usage("unsupported algorithm".into()))?;
    let spans = spans(&side.sbox);
    let mut lookups = 0u64;
    let mut bytes = Vec::new();
    for (b, key) in side.keys.iter().take(k).enumerate() {
        let shift = 8 * (k - 1 - b);
        let mut total = [0f64; 256];
        for c in 0..SUB_TABLES {
            // The other bytes of x: c spread over them (a fixed, public choice).
            let rest = (c * 0x9e37_79b9usize) & (entries - 1) & !(0xff << shift);
            let mut sub = Vec::with_capacity(256 * w);
            for v in 0..256usize {
                let x = rest | v << shift;
                sub.extend_from_slice(t.get(x * w..(x + 1) * w).unwrap_or(&[]));
                lookups += 1;
            }
            let s = scores(&spans, &crate::structure::table_columns(&sub, w));
            for (a, s) in total.iter_mut().zip(s) {
                *a += s / SUB_TABLES as f64;
            }
        }
        let key = KeyByte {
            label: key.label.split('@').next().unwrap_or("").to_string(),
            value: key.value,
        };
        let ev = format!("T restricted to byte {b} of x vs A·S(x_b⊕k)⊕c, {SUB_TABLES} sub-tables");
        bytes.push(ByteResult::from_scores(&key, &total, Some(ev)));
    }

    // (c) Byte frequencies and bit balance.
    let mut count = [0u64; 256];
    for &x in t {
        count[usize::from(x)] += 1;
    }
    let expected = t.len() as f64 / 256.0;
    let chi2 = count
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum::<f64>();
    let mut ones = vec![0u64; 8 * w];
    for e in t.chunks_exact(w) {
        for (bit, o) in ones.iter_mut().enumerate() {
            *o += u64::from(e[bit / 8] >> (bit % 8) & 1);
        }
    }
    lookups += entries as u64;
    let half = entries as f64 / 2.0;
    let sd = (entries as f64).sqrt() / 2.0;
    let max_bit_z = ones
        .iter()
        .map(|&o| ((o as f64 - half) / sd).abs())
        .fold(0.0, f64::max);
    notes.push(format!(
        "table bytes: χ² = {chi2:.1} over 256 values (255 degrees of freedom: mean 255, σ 22.6; z = {:.2}); the {} output bits' balance over the {entries} entries: largest |z| = {max_bit_z:.2}; as for uniformly random bytes, so nothing for a structural attack to start from",
        (chi2 - 255.0) / 510f64.sqrt(),
        8 * w
    ));

    // (d) The experimenter's check of the reduction's assumption (known key; unbound only).
    let checked = if target.build.bound() {
        notes.push("bound file: the table is F(y ⊕ a) ⊕ b for the wrapped device mask a ‖ b (not unwrapped here, so the entries are not checked against E_K)".into());
        None
    } else {
        let step = (entries / 65_536).max(1);
        let enc = reference(target.algorithm, &target.key)?;
        let mut agree = 0;
        let mut total = 0;
        for x in (0..entries).step_by(step) {
            let mut input = [0u8; 16];
            for b in 0..k {
                input[16 - k + b] = (x >> (8 * (k - 1 - b))) as u8;
            }
            let out = enc(&input);
            total += 1;
            if t.get(x * w..(x + 1) * w) == out.get(..w) {
                agree += 1;
            }
        }
        notes.push(format!(
            "checked with the known key (not an attack): {agree} of {total} entries{} are the first {} bits of {}_K(0^{} ‖ x)",
            if step > 1 { format!(" (every {step}th)") } else { String::new() },
            128 - n,
            name(target.algorithm),
            128 - n
        ));
        Some((total, agree))
    };
    Ok(Scan {
        needles: list.len(),
        found,
        bytes,
        chi2,
        max_bit_z,
        checked,
        lookups,
        notes,
    })
}

/// The reference encryption under the known key.
type Reference = Box<dyn Fn(&[u8; 16]) -> [u8; 16]>;

fn reference(algorithm: Algorithm, key: &[u8]) -> Result<Reference, Error> {
    match algorithm {
        Algorithm::Aes256 => {
            let key: &[u8; 32] = key
                .try_into()
                .map_err(|_| Error::Usage("wrong AES-256 key length".into()))?;
            let rk = wbgen::aes256::field::expand_key(key);
            Ok(Box::new(move |b| aes256_encrypt(&rk, b)))
        }
        _ => {
            let key: &[u8; 16] = key
                .try_into()
                .map_err(|_| Error::Usage("wrong SM4 key length".into()))?;
            let rk = wbgen::sm4::field::round_keys(key);
            Ok(Box::new(move |b| sm4_encrypt(&rk, b)))
        }
    }
}

fn search_note(scan: &Scan) -> String {
    format!(
        "key search: {} of {} strings found (the key, {}, each also reversed){}",
        scan.found.len(),
        2 * scan.needles,
        "its round keys and runs of two key-schedule words",
        if scan.found.is_empty() {
            String::new()
        } else {
            format!(": {}", scan.found.join(", "))
        }
    )
}

/// `wbattack structure` on a space-hard file: the scan, its table-equivalence results as the
/// targeted bytes.
///
/// # Errors
/// As [`scan`].
pub fn structure(target: &Target) -> Result<Found, Error> {
    let s = scan(target)?;
    let mut notes = vec![search_note(&s)];
    notes.extend(s.notes.iter().cloned());
    notes.push("table equivalence: the Chow tables' test (A·S(x⊕k)⊕c) run on the table restricted to each byte of x that meets a key byte in E's first round; a table of E's full output has no such form".into());
    Ok(Found {
        bytes: s.bytes,
        notes,
    })
}

/// `wbattack static` on a space-hard file: no key-file-only attack applies; the report says
/// why, and runs the key-file scan (key material stored as such, first-round structure, byte
/// statistics), with `key_recovered` set only if the key itself were found.
///
/// # Errors
/// As [`scan`].
pub fn static_attack(target: &Target, seed: u64) -> Result<KeyReport, Error> {
    let start = Instant::now();
    let s = scan(target)?;
    let seconds = start.elapsed().as_secs_f64();
    let (bits, _) = table(&target.file)?;
    let key_found = s.found.iter().any(|f| f == "key");
    let structural = s.bytes.iter().filter(|b| b.recovered()).count();
    let mut notes = vec![format!(
        "not applicable: the table is {}'s outputs, with no round of the cipher in it to decode; recovering K from it is a known-plaintext attack on {} with 2^{} pairs. Ran instead: the key scan, the first-round structure test and the byte statistics",
        name(target.algorithm),
        name(target.algorithm),
        bits.bits()
    )];
    notes.push(search_note(&s));
    notes.extend(s.notes.iter().cloned());
    let report = KeyReport {
        table_lookups: s.lookups,
        stages: vec![
            Stage {
                target: "key search".into(),
                of: target.key.len(),
                recovered: if key_found { target.key.len() } else { 0 },
                ambiguous: 0,
                table_lookups: 0,
            },
            Stage {
                target: "S(x⊕k) form".into(),
                of: s.bytes.len(),
                recovered: structural,
                ambiguous: 0,
                table_lookups: s.lookups - bits.entries() as u64,
            },
        ],
        notes,
        ..KeyReport::new("static", target, seed, seconds)
    };
    Ok(report.score(key_found.then_some(target.key.as_slice()), &target.key))
}

/// `wbattack bge` on a space-hard file: not applicable, and not run.
pub fn bge_report(target: &Target, seed: u64) -> KeyReport {
    let bits = target.build.space_bits().map_or(16, |b| b.bits());
    let report = KeyReport {
        notes: vec![format!(
            "not applicable, not run: BGE needs rounds of an encoded AES network to evaluate (its oracle computes rounds 1–12 from the tables); a space-hard file has no AES round in it, only the 2^{bits} outputs of E_K as a black box, and no encodings to peel"
        )],
        ..KeyReport::new("bge", target, seed, 0.0)
    };
    report.score(None, &target.key)
}

/// The DFA on a space-hard file: single entries edited at one of the last two turns'
/// lookups (`2 ⌈128 / n⌉` lookups), the faulty outputs given to the suite's AES-256 or SM4
/// DFA with the model positions cycling.
///
/// # Errors
/// As [`space_hard_campaign`].
pub fn dfa(target: &Target, faults: usize, seed: u64) -> Result<DfaFound, Error> {
    let (bits, _) = table(&target.file)?;
    let last = 2 * 128usize.div_ceil(bits.bits() as usize);
    let camp = space_hard_campaign(&target.file, last, 16, faults, &mut rng(seed, 3))?;
    let mut shapes = [0usize; 17];
    for p in &camp.pairs {
        let d = p
            .correct
            .iter()
            .zip(&p.faulty)
            .filter(|(a, b)| a != b)
            .count();
        shapes[d] += 1;
    }
    let note = format!(
        "faults: one byte of the table entry read by one of the decryption's last {last} lookups (rounds {last}..1, drawn at random) XORed with a random non-zero byte, one entry per fault; model positions (the DFA's faulted byte) cycle 0..15, since no state byte of {} exists in the file",
        name(target.algorithm)
    );
    let mut found = match target.algorithm {
        Algorithm::Aes256 => crate::dfa_aes::analyse(target, &camp, note)?,
        _ => crate::dfa_sm4::analyse(target, &camp, note)?,
    };
    let histogram: Vec<String> = shapes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(d, c)| format!("{d}: {c}"))
        .collect();
    found
        .notes
        .insert(0, reduction_note(bits, target.algorithm));
    found.notes.push(format!(
        "output bytes changed by a fault (bytes: faults): {}",
        histogram.join(", ")
    ));
    found.notes.push("why nothing: an edited entry changes F at one point; the output difference is a Feistel difference (the edited byte XORed into the state, rotated, and once it reaches the index line a lookup of another, unrelated entry), never a difference inside E, which the runtime does not compute; the DFA's S-box equations hold for no key".into());
    Ok(found)
}
