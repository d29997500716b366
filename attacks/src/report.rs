//! The report every attack returns: per key byte, the rank of the correct guess and the best
//! guess's score; plain text for people, JSON for machines.

use serde::Serialize;

use crate::cipher::KeyByte;
use crate::target::Build;

/// The result for one targeted key byte.
#[derive(Clone, Debug, Serialize)]
pub struct ByteResult {
    /// Which key byte (e.g. `dw0[3]`).
    pub target: String,
    /// Its true value.
    pub correct: u8,
    /// How many wrong guesses score at least as well as the correct one (0: recovered).
    pub rank: usize,
    /// The best-scoring guess (the lowest value among equal best scores).
    pub best_guess: u8,
    /// Its score (the attack's statistic; higher is more likely).
    pub best_score: f64,
    /// The correct guess's score.
    pub correct_score: f64,
    /// The best score of a wrong guess.
    pub runner_up: f64,
    /// Where the best score of the correct guess came from, when the attack knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

impl ByteResult {
    /// Ranks 256 guess scores for `key`.
    pub fn from_scores(key: &KeyByte, scores: &[f64; 256], evidence: Option<String>) -> Self {
        let correct = usize::from(key.value);
        let c = scores[correct];
        let rank = scores
            .iter()
            .enumerate()
            .filter(|&(k, &s)| k != correct && s >= c)
            .count();
        let mut best = 0;
        for (k, &s) in scores.iter().enumerate() {
            if s > scores[best] {
                best = k;
            }
        }
        let runner_up = scores
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != correct)
            .map(|(_, &s)| s)
            .fold(0.0, f64::max);
        ByteResult {
            target: key.label.clone(),
            correct: key.value,
            rank,
            best_guess: best as u8,
            best_score: scores[best],
            correct_score: c,
            runner_up,
            evidence,
        }
    }

    /// Whether the key byte was recovered: the correct guess is first, and first by a margin
    /// the attacker can see ([`RECOVERY_MARGIN`]). When every guess scores about the same —
    /// as when the only correlations left are those of the plaintext with the S-box, which
    /// every key guess shares — the correct guess is first for one byte in 256 by chance; the
    /// attacker cannot tell it from the others, so it is no recovery (its rank is still
    /// reported).
    pub fn recovered(&self) -> bool {
        self.rank == 0 && self.correct_score >= RECOVERY_MARGIN * self.runner_up
    }
}

/// How far ahead of every wrong guess the correct one must score to count as recovered: 25 %.
/// Leaks that the suite finds score far beyond it (DCA on nibble encodings: 0.6–0.8 against
/// 0.3; DFA: the right key collects most votes), chance first places are within a few
/// percent.
pub const RECOVERY_MARGIN: f64 = 1.25;

impl ByteResult {
    /// Whether the correct guess is first at all, with or without a margin.
    pub fn ranked_first(&self) -> bool {
        self.rank == 0
    }
}

/// A whole attack's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `structure`, `dca`, `lda` or `dfa`.
    pub attack: String,
    /// `aes-256` or `sm4`.
    pub algorithm: String,
    /// How the key file was built.
    pub build: Build,
    /// The experiment seed (key and inputs are derived from it).
    pub seed: u64,
    /// Traces used (0 for the structural attack and DFA).
    pub traces: usize,
    /// Faulted decryptions used (DFA; 0 for the other attacks).
    pub faults: usize,
    /// The trace window, if traces were used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Lookups per trace in the window.
    pub lookups: usize,
    /// Distinct non-constant sample bits per trace (out of `raw_samples`).
    pub samples: usize,
    /// Sample bits per trace before dropping constant and duplicate ones.
    pub raw_samples: usize,
    /// One entry per targeted key byte.
    pub bytes: Vec<ByteResult>,
    /// Key bytes recovered (first by the margin of [`ByteResult::recovered`]).
    pub recovered: usize,
    /// Key bytes whose correct guess is first at all, margin or not (chance: 1 in 256).
    pub ranked_first: usize,
    /// Key bytes targeted.
    pub targeted: usize,
    /// Wall-clock seconds of the attack (trace collection included, key generation not).
    pub seconds: f64,
    /// Anything else the attack found or could not do.
    pub notes: Vec<String>,
}

impl Report {
    /// Sets the summary fields from `bytes`.
    pub fn finish(mut self) -> Self {
        self.recovered = self.bytes.iter().filter(|b| b.recovered()).count();
        self.ranked_first = self.bytes.iter().filter(|b| b.ranked_first()).count();
        self.targeted = self.bytes.len();
        self
    }

    /// The plain-text report.
    pub fn text(&self) -> String {
        use core::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "wbattack {} — {} key file ({}), seed {}",
            self.attack,
            self.algorithm,
            self.build.name(),
            self.seed
        );
        if let Some(w) = &self.window {
            let _ = writeln!(
                s,
                "traces: {}, window: {} ({} lookups, {} distinct sample bits of {})",
                self.traces, w, self.lookups, self.samples, self.raw_samples
            );
        }
        let _ = writeln!(
            s,
            "{:<10} {:>7} {:>5} {:>5} {:>10} {:>10} {:>10}  evidence",
            "key byte", "correct", "rank", "best", "best score", "correct", "best wrong"
        );
        for b in &self.bytes {
            let _ = writeln!(
                s,
                "{:<10} {:>7} {:>5} {:>5} {:>10.4} {:>10.4} {:>10.4}  {}",
                b.target,
                format!("{:02x}", b.correct),
                b.rank,
                format!("{:02x}", b.best_guess),
                b.best_score,
                b.correct_score,
                b.runner_up,
                b.evidence.as_deref().unwrap_or("")
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let used = if self.faults > 0 {
            format!("{} faults", self.faults)
        } else {
            format!("{} traces", self.traces)
        };
        let _ = writeln!(
            s,
            "recovered {} of {} key bytes ({} ranked first, margin or not), {used}, {:.2} s",
            self.recovered, self.targeted, self.ranked_first, self.seconds
        );
        s
    }
}

/// One stage of a key-file-only attack: the key bytes it aims at and what it found.
#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    /// What the stage recovers (e.g. `dw0`, `rk1`, `rk_0`).
    pub target: String,
    /// Bytes the stage aims at.
    pub of: usize,
    /// Bytes for which it found exactly one candidate equal to the true byte.
    pub recovered: usize,
    /// Bytes left with no candidate or with several (the attack cannot tell which).
    pub ambiguous: usize,
    /// Table entries this stage read.
    pub table_lookups: u64,
}

/// The outcome of a key-file-only attack (`static`, `bge`): the key file's bytes and the
/// documented layout in, a key out, scored against the known key.
#[derive(Clone, Debug, Serialize)]
pub struct KeyReport {
    /// `static` or `bge`.
    pub attack: String,
    /// `aes-256` or `sm4`.
    pub algorithm: String,
    /// How the key file was built: `external`, `standard` or `bound` (`weakened` too).
    pub mode: String,
    /// The experiment seed (the key derives from it; the static attacks also draw their
    /// random queries from it).
    pub seed: u64,
    /// Key bytes recovered: bytes of the recovered key equal to the true key's (0 when the
    /// attack recovered no key).
    pub recovered: usize,
    /// Bytes in the key (32 for AES-256, 16 for SM4).
    pub of: usize,
    /// Whether the recovered key is the key.
    pub key_recovered: bool,
    /// Wall-clock seconds of the attack (key generation not included; for BGE, the whole
    /// child process: interpreter start, table parsing, the tool).
    pub seconds: f64,
    /// Table entries read from the key file (static attacks; 0 for BGE, whose oracle reads
    /// them in Python and reports round evaluations).
    pub table_lookups: u64,
    /// Evaluations of one (possibly partial) round of the network.
    pub round_evaluations: u64,
    /// Decryption rounds of the file used (FORMAT.md's numbering).
    pub rounds: Vec<usize>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// Anything else the attack found or could not do.
    pub notes: Vec<String>,
}

impl KeyReport {
    /// An empty report of `attack` on `target`'s file: nothing recovered yet, no work
    /// counted; the attack fills in what it did and then [`score`](Self::score)s it.
    pub fn new(attack: &str, target: &crate::target::Target, seed: u64, seconds: f64) -> Self {
        KeyReport {
            attack: attack.into(),
            algorithm: match target.algorithm {
                wbruntime::Algorithm::Aes256 => "aes-256".into(),
                _ => "sm4".into(),
            },
            mode: target.build.name().into(),
            seed,
            recovered: 0,
            of: 0,
            key_recovered: false,
            seconds,
            table_lookups: 0,
            round_evaluations: 0,
            rounds: Vec::new(),
            stages: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Sets `recovered` and `key_recovered` by comparing `found` with the true `key`.
    pub fn score(mut self, found: Option<&[u8]>, key: &[u8]) -> Self {
        self.of = key.len();
        self.recovered = found.map_or(0, |f| f.iter().zip(key).filter(|(a, b)| a == b).count());
        self.key_recovered = found == Some(key);
        self
    }

    /// The plain-text report.
    pub fn text(&self) -> String {
        use core::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "wbattack {} — {} key file ({}), seed {}, rounds used {:?}",
            self.attack, self.algorithm, self.mode, self.seed, self.rounds
        );
        for st in &self.stages {
            let _ = writeln!(
                s,
                "{:<10} {:>2} of {:>2} bytes recovered, {:>2} ambiguous, {} lookups",
                st.target, st.recovered, st.of, st.ambiguous, st.table_lookups
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(
            s,
            "recovered {} of {} key bytes, key {}; {} table lookups, {} round evaluations, {:.3} s",
            self.recovered,
            self.of,
            if self.key_recovered {
                "recovered"
            } else {
                "not recovered"
            },
            self.table_lookups,
            self.round_evaluations,
            self.seconds
        );
        s
    }
}

/// The outcome of `wbattack partial` (`crate::partial`): a copy of a space-hard table with
/// entries missing, what known pairs filled in, and what the copies decrypt.
#[derive(Clone, Debug, Serialize)]
pub struct PartialReport {
    /// `partial`.
    pub attack: String,
    /// `aes-256` or `sm4`.
    pub algorithm: String,
    /// How the key file was built (`space-hard-8|16|24`).
    pub mode: String,
    /// The experiment seed (key, kept entries, pairs and ciphertexts derive from it).
    pub seed: u64,
    /// The line width `n`.
    pub line_bits: u32,
    /// Rounds `R` (table lookups per block).
    pub rounds: u32,
    /// Entries in the table, `2^n`.
    pub entries: usize,
    /// Entries the copy keeps.
    pub kept: usize,
    /// Entries missing from the copy.
    pub missing: usize,
    /// Known plaintext/ciphertext blocks given to the attacker.
    pub known_blocks: usize,
    /// Known pairs whose chain read no missing entry (nothing to learn from them).
    pub pairs_complete: usize,
    /// Missing entries filled in from the known pairs.
    pub recovered: usize,
    /// Of those, equal to the file's entry (the experimenter's check).
    pub recovered_correct: usize,
    /// Passes over the pairs (the last one found nothing new).
    pub passes: usize,
    /// Random ciphertext blocks decrypted.
    pub ciphertexts: usize,
    /// Of those, decrypted correctly by the runtime from the copy as lifted.
    pub decrypting_before: usize,
    /// Of those, decrypted correctly from the copy with the recovered entries filled in.
    pub decrypting_after: usize,
    /// Table lookups one decryption makes (`R`).
    pub lookups_per_decryption: u32,
    /// Distinct entries one decryption reads: mean, least and most over the ciphertexts.
    pub distinct_read_mean: f64,
    /// The least.
    pub distinct_read_min: usize,
    /// The most.
    pub distinct_read_max: usize,
    /// Distinct entries the first ciphertext's decryption reads.
    pub single_read: usize,
    /// Whether a file holding only those entries (the rest zeroed) decrypts that ciphertext.
    pub single_decrypts: bool,
    /// Of the other ciphertexts, how many that file decrypts.
    pub single_decrypts_others: usize,
    /// Whether a second export of the same key is byte-identical to the file.
    pub reexport_identical: bool,
    /// Bytes of the key file.
    pub file_len: usize,
    /// Wall-clock seconds of the measurement (key generation not included).
    pub seconds: f64,
    /// The model's expectations, and anything else found.
    pub notes: Vec<String>,
}

impl PartialReport {
    /// The plain-text report.
    pub fn text(&self) -> String {
        use core::fmt::Write;
        let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "wbattack partial — {} key file ({}, {} bytes), seed {}; R = {} lookups per block",
            self.algorithm, self.mode, self.file_len, self.seed, self.rounds
        );
        let _ = writeln!(
            s,
            "copy: {} of {} entries kept ({:.4} %), {} missing",
            self.kept,
            self.entries,
            pct(self.kept, self.entries),
            self.missing
        );
        let _ = writeln!(
            s,
            "known pairs: {} blocks, {} read no missing entry; recovered {} of {} missing entries ({} checked equal to the file's), {} passes",
            self.known_blocks,
            self.pairs_complete,
            self.recovered,
            self.missing,
            self.recovered_correct,
            self.passes
        );
        let _ = writeln!(
            s,
            "random ciphertexts: {} blocks; decrypted by the copy {} ({:.2} %), with the recovered entries {} ({:.2} %)",
            self.ciphertexts,
            self.decrypting_before,
            pct(self.decrypting_before, self.ciphertexts),
            self.decrypting_after,
            pct(self.decrypting_after, self.ciphertexts)
        );
        let _ = writeln!(
            s,
            "one decryption: {} lookups, {:.1} distinct entries on average (least {}, most {}) of {}",
            self.lookups_per_decryption,
            self.distinct_read_mean,
            self.distinct_read_min,
            self.distinct_read_max,
            self.entries
        );
        let _ = writeln!(
            s,
            "the first ciphertext reads {} entries; a file holding only those {} it, and decrypts {} of the other {} ciphertexts",
            self.single_read,
            if self.single_decrypts {
                "decrypts"
            } else {
                "does not decrypt"
            },
            self.single_decrypts_others,
            self.ciphertexts.saturating_sub(1)
        );
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(s, "{:.2} s", self.seconds);
        s
    }
}

/// What `wbattack` prints: a gray-box [`Report`], a key-file-only [`KeyReport`] or a
/// [`PartialReport`].
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// `structure`, `dca`, `lda`, `dfa`.
    Traces(Report),
    /// `static`, `bge`.
    KeyFile(KeyReport),
    /// `partial`.
    Partial(PartialReport),
}

impl Outcome {
    /// The plain-text report.
    pub fn text(&self) -> String {
        match self {
            Outcome::Traces(r) => r.text(),
            Outcome::KeyFile(r) => r.text(),
            Outcome::Partial(r) => r.text(),
        }
    }
}
