//! `wbattack <structure|dca|lda|dfa> --algorithm aes-256|sm4 [--traces N] [--faults N]
//! [--weakened] [--standard] [--seed S] [--window final|last|last2] [--json]`: generates a key
//! with a known value from the seed, exports its key file, attacks it and reports.
//!
//! `wbattack static --algorithm aes-256|sm4 [--standard | --bound] [--seed S] [--json]` and
//! `wbattack bge --algorithm aes-256 [--rounds a,b,…] [--standard | --bound] [--json]`: the
//! key-file-only attacks, on the same kind of target.
//!
//! `--space-hard [--space-bits 8|16|24]` (any attack; `--bound` too for static and bge): a
//! space-hard key file instead (`crate::space_hard`); `--window all` keeps every lookup.
//! Without `--space-hard`, `--standard` or `--weakened` the target is an external-mode file;
//! `wbgen create`'s default is now space-hard with `n = 16`, which is `--space-hard`.
//!
//! `wbattack partial --algorithm aes-256|sm4 [--space-bits 8|16|24] (--keep-percent P |
//! --keep-entries E) [--known-blocks K] [--ciphertexts N] [--seed S] [--json]`: a copy of an
//! unbound space-hard file's table with entries missing, filled in from `K` known pairs, and
//! what it decrypts (`crate::partial`).

use std::time::Instant;

use clap::{Parser, ValueEnum};
use wbruntime::Algorithm;

use crate::Error;
use crate::cipher::PlaintextSide;
use crate::layout::Window;
use crate::report::{ByteResult, KeyReport, Outcome, Report};
use crate::target::{Build, SpaceBits, Target, rng};
use crate::{bge, dca, dfa, lda, partial, samples, space_hard, static_aes, static_sm4, structure};

/// The attack to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Attack {
    /// Key search and table equivalence (no traces).
    Structure,
    /// Differential computation analysis on lookup traces.
    Dca,
    /// Linear decoding analysis on lookup traces.
    Lda,
    /// Differential fault analysis: single table entries edited, faulty outputs compared.
    Dfa,
    /// Key-file-only: the last rounds decoded through the combination tables, the key read
    /// from them (no runtime, traces or faults).
    Static,
    /// Key-file-only: the public BGE tool through a round oracle over FORMAT.md (AES-256).
    Bge,
    /// A partial copy of a space-hard table: what it decrypts, and what known
    /// plaintext/ciphertext pairs fill in (`crate::partial`).
    Partial,
}

impl Attack {
    /// Whether the attack uses the key file alone (no traces, no faults).
    pub fn key_file_only(self) -> bool {
        matches!(self, Attack::Static | Attack::Bge)
    }
}

/// The cipher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Cipher {
    /// AES-256.
    #[value(name = "aes-256")]
    Aes256,
    /// SM4.
    Sm4,
}

/// The trace window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WindowArg {
    /// AES-256: the final tables; SM4: the last round's t and u tables.
    Final,
    /// The last round (AES-256: with the final tables).
    Last,
    /// The last two rounds.
    Last2,
    /// The first round (and the input stage, if any), attacked from the input block: the
    /// standard-mode ciphertext side.
    First,
    /// Every lookup (space-hard files only).
    All,
}

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "wbattack",
    about = "Attack a freshly generated white-box key file with a known key and report what is recovered",
    group(clap::ArgGroup::new("space_file").multiple(true).args(["space_hard", "keep_percent", "keep_entries"]))
)]
pub struct Args {
    /// The attack.
    #[arg(value_enum)]
    pub attack: Attack,
    /// The cipher.
    #[arg(long, value_enum)]
    pub algorithm: Cipher,
    /// Number of traces (dca, lda); default 1000.
    #[arg(long)]
    pub traces: Option<usize>,
    /// Number of faulted decryptions (dfa); default 200.
    #[arg(long)]
    pub faults: Option<usize>,
    /// INSECURE weakened key file: every internal encoding off (implies standard mode).
    #[arg(long)]
    pub weakened: bool,
    /// Standard mode (no external encoding). Without this, --weakened or --space-hard the
    /// file is external mode (`wbgen create --mode external`); `wbgen create`'s default is
    /// space-hard with n = 16, which is --space-hard.
    #[arg(long)]
    pub standard: bool,
    /// External mode, bound to one device (static, bge); with --space-hard, a bound
    /// space-hard file.
    #[arg(long, conflicts_with_all = ["weakened", "standard"])]
    pub bound: bool,
    /// A space-hard key file (a table of the cipher's outputs) instead of a Chow network.
    #[arg(long, conflicts_with_all = ["weakened", "standard"])]
    pub space_hard: bool,
    /// The space-hard line width n: 8, 16 (default) or 24 (with --space-hard, or partial).
    #[arg(long, requires = "space_file", value_parser = ["8", "16", "24"])]
    pub space_bits: Option<String>,
    /// Decryption rounds given to BGE, consecutive, 1 to 12 (bge; default 4,5,6,7,8).
    #[arg(long, value_delimiter = ',')]
    pub rounds: Option<Vec<usize>>,
    /// Experiment seed: the key, the tables and the inputs derive from it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Trace window (dca default: last, all for space-hard; lda default: final, last for
    /// space-hard).
    #[arg(long, value_enum)]
    pub window: Option<WindowArg>,
    /// partial: the share of the table's entries the copy keeps, in percent (0 to 100,
    /// rounded to whole entries).
    #[arg(long, conflicts_with = "keep_entries")]
    pub keep_percent: Option<f64>,
    /// partial: the number of entries the copy keeps.
    #[arg(long)]
    pub keep_entries: Option<usize>,
    /// partial: known plaintext/ciphertext blocks (default 0).
    #[arg(long)]
    pub known_blocks: Option<usize>,
    /// partial: random ciphertext blocks decrypted from the copy (default 10000).
    #[arg(long)]
    pub ciphertexts: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// Whether any of `partial`'s own options is given.
    fn partial_options(&self) -> bool {
        self.keep_percent.is_some()
            || self.keep_entries.is_some()
            || self.known_blocks.is_some()
            || self.ciphertexts.is_some()
    }
}

/// The usage error for `partial`'s options on another attack.
fn partial_only() -> Error {
    Error::Usage(
        "--keep-percent, --keep-entries, --known-blocks and --ciphertexts are for partial".into(),
    )
}

/// What to attack and how.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// The attack.
    pub attack: Attack,
    /// The cipher.
    pub algorithm: Algorithm,
    /// The key file's build.
    pub build: Build,
    /// The seed.
    pub seed: u64,
    /// Traces (dca, lda).
    pub traces: usize,
    /// Faulted decryptions (dfa).
    pub faults: usize,
    /// The trace window.
    pub window: Window,
}

impl Plan {
    /// The plan the arguments describe.
    ///
    /// # Errors
    /// [`Error::Usage`] for a trace count below 2 or a fault count of zero.
    pub fn from_args(a: &Args) -> Result<Self, Error> {
        if a.attack.key_file_only() {
            return Err(Error::Usage(
                "static and bge are key-file-only attacks (see Command)".into(),
            ));
        }
        if a.attack == Attack::Partial {
            return Err(Error::Usage(
                "partial is not a gray-box attack (see Command)".into(),
            ));
        }
        if a.partial_options() {
            return Err(partial_only());
        }
        if a.bound || a.rounds.is_some() {
            return Err(Error::Usage(
                "--bound and --rounds are for the key-file-only attacks (static, bge)".into(),
            ));
        }
        let traces = a.traces.unwrap_or(1000);
        if traces < 2 && matches!(a.attack, Attack::Dca | Attack::Lda) {
            return Err(Error::Usage("--traces must be at least 2".into()));
        }
        let faults = a.faults.unwrap_or(200);
        if faults == 0 && a.attack == Attack::Dfa {
            return Err(Error::Usage("--faults must be at least 1".into()));
        }
        let space = space_build(a)?;
        let window = match a.window {
            Some(WindowArg::Final) => Window::Final,
            Some(WindowArg::Last) => Window::Last,
            Some(WindowArg::Last2) => Window::Last2,
            Some(WindowArg::First) => Window::First,
            Some(WindowArg::All) if space.is_some() => Window::All,
            Some(WindowArg::All) => {
                return Err(Error::Usage(
                    "--window all is for space-hard files (--space-hard)".into(),
                ));
            }
            None if space.is_some() && a.attack == Attack::Lda => Window::Last,
            None if space.is_some() => Window::All,
            None if a.attack == Attack::Lda => Window::Final,
            None => Window::Last,
        };
        Ok(Plan {
            attack: a.attack,
            algorithm: a.algorithm.into(),
            build: match (space, a.weakened, a.standard) {
                (Some(b), _, _) => b,
                (None, true, _) => Build::Weakened,
                (None, false, true) => Build::Standard,
                (None, false, false) => Build::External,
            },
            seed: a.seed,
            traces,
            faults,
            window,
        })
    }
}

/// The space-hard build the arguments ask for (`bound` as given), if any.
///
/// # Errors
/// [`Error::Usage`] for a line width other than 8, 16, 24.
fn space_build(a: &Args) -> Result<Option<Build>, Error> {
    if !a.space_hard {
        return Ok(None);
    }
    Ok(Some(Build::SpaceHard {
        bits: space_bits(a)?,
        bound: a.bound,
    }))
}

/// The line width `--space-bits` asks for (16 if none).
///
/// # Errors
/// [`Error::Usage`] for a line width other than 8, 16, 24.
fn space_bits(a: &Args) -> Result<SpaceBits, Error> {
    match a.space_bits.as_deref() {
        None => Some(SpaceBits::N16),
        Some(b) => b.parse().ok().and_then(SpaceBits::from_bits),
    }
    .ok_or_else(|| Error::Usage("--space-bits is 8, 16 or 24".into()))
}

/// The `partial` measurement the arguments describe.
///
/// # Errors
/// [`Error::Usage`] for options of the other attacks, for neither or both of
/// `--keep-percent` and `--keep-entries`, or for no ciphertexts.
pub fn partial_plan(a: &Args) -> Result<partial::Plan, Error> {
    if a.attack != Attack::Partial {
        return Err(Error::Usage("not partial".into()));
    }
    if a.bound
        || a.weakened
        || a.standard
        || a.traces.is_some()
        || a.faults.is_some()
        || a.window.is_some()
        || a.rounds.is_some()
    {
        return Err(Error::Usage(
            "partial measures an unbound space-hard file: --bound, --weakened, --standard, --traces, --faults, --window and --rounds do not apply".into(),
        ));
    }
    let keep = match (a.keep_percent, a.keep_entries) {
        (Some(p), None) => partial::Keep::Percent(p),
        (None, Some(e)) => partial::Keep::Entries(e),
        _ => {
            return Err(Error::Usage(
                "partial needs --keep-percent or --keep-entries".into(),
            ));
        }
    };
    let ciphertexts = a.ciphertexts.unwrap_or(partial::DEFAULT_CIPHERTEXTS);
    if ciphertexts == 0 {
        return Err(Error::Usage("--ciphertexts must be at least 1".into()));
    }
    let bits = space_bits(a)?;
    keep.entries(bits.line_bits().entries())?;
    Ok(partial::Plan {
        algorithm: a.algorithm.into(),
        bits,
        keep,
        known_blocks: a.known_blocks.unwrap_or(0),
        ciphertexts,
        seed: a.seed,
    })
}

impl From<Cipher> for Algorithm {
    fn from(c: Cipher) -> Self {
        match c {
            Cipher::Aes256 => Algorithm::Aes256,
            Cipher::Sm4 => Algorithm::Sm4,
        }
    }
}

/// A key-file-only attack and its target.
#[derive(Clone, Debug)]
pub struct KeyFilePlan {
    /// [`Attack::Static`] or [`Attack::Bge`].
    pub attack: Attack,
    /// The cipher.
    pub algorithm: Algorithm,
    /// The key file's build.
    pub build: Build,
    /// The seed.
    pub seed: u64,
    /// The rounds given to BGE (FORMAT.md's decryption rounds).
    pub rounds: Vec<usize>,
}

impl KeyFilePlan {
    /// The plan the arguments describe.
    ///
    /// # Errors
    /// [`Error::Usage`] for a gray-box attack, trace or fault options, `--rounds` with
    /// `static`, or BGE on SM4 or on a bad round list.
    pub fn from_args(a: &Args) -> Result<Self, Error> {
        if !a.attack.key_file_only() {
            return Err(Error::Usage(
                "not a key-file-only attack (static, bge)".into(),
            ));
        }
        if a.partial_options() {
            return Err(partial_only());
        }
        if a.traces.is_some() || a.faults.is_some() || a.window.is_some() {
            return Err(Error::Usage(
                "--traces, --faults and --window are for the gray-box attacks".into(),
            ));
        }
        let rounds = match (a.attack, &a.rounds) {
            (Attack::Bge, Some(r)) => r.clone(),
            (Attack::Bge, None) => bge::DEFAULT_ROUNDS.to_vec(),
            (_, Some(_)) => return Err(Error::Usage("--rounds is for bge".into())),
            (_, None) => Vec::new(),
        };
        let space = space_build(a)?;
        // On a space-hard file BGE is not run (there is no AES round to give it), for either
        // cipher: the report says so.
        if a.attack == Attack::Bge && space.is_none() {
            if a.algorithm != Cipher::Aes256 {
                return Err(Error::Usage("the BGE tool attacks AES only".into()));
            }
            bge::check_rounds(&rounds)?;
        }
        Ok(KeyFilePlan {
            attack: a.attack,
            algorithm: a.algorithm.into(),
            build: match (space, a.weakened, a.standard, a.bound) {
                (Some(b), _, _, _) => b,
                (None, true, _, _) => Build::Weakened,
                (None, _, _, true) => Build::Bound,
                (None, _, true, _) => Build::Standard,
                _ => Build::External,
            },
            seed: a.seed,
            rounds,
        })
    }
}

/// What the command line asks for.
#[derive(Clone, Debug)]
pub enum Command {
    /// A gray-box attack (traces or faults).
    Traces(Plan),
    /// A key-file-only attack.
    KeyFile(KeyFilePlan),
    /// A partial copy of a space-hard table.
    Partial(partial::Plan),
}

impl Command {
    /// The command the arguments describe.
    ///
    /// # Errors
    /// [`Error::Usage`] as [`Plan::from_args`], [`KeyFilePlan::from_args`] and
    /// [`partial_plan`] say.
    pub fn from_args(a: &Args) -> Result<Self, Error> {
        if a.attack == Attack::Partial {
            partial_plan(a).map(Command::Partial)
        } else if a.attack.key_file_only() {
            KeyFilePlan::from_args(a).map(Command::KeyFile)
        } else {
            Plan::from_args(a).map(Command::Traces)
        }
    }
}

/// Generates the target and runs the command.
///
/// # Errors
/// Whatever keeps the attack from running (never whether it succeeds).
pub fn execute(c: &Command) -> Result<Outcome, Error> {
    match c {
        Command::Traces(plan) => run(plan).map(Outcome::Traces),
        Command::KeyFile(plan) => run_key_file(plan).map(Outcome::KeyFile),
        Command::Partial(plan) => partial::run(plan).map(Outcome::Partial),
    }
}

/// Generates the target and runs a key-file-only attack on it.
///
/// # Errors
/// As [`execute`].
pub fn run_key_file(plan: &KeyFilePlan) -> Result<KeyReport, Error> {
    let target = Target::generate(plan.algorithm, plan.build, plan.seed)?;
    if target.build.space_bits().is_some() {
        return match plan.attack {
            Attack::Bge => Ok(space_hard::bge_report(&target, plan.seed)),
            Attack::Static => space_hard::static_attack(&target, plan.seed),
            _ => Err(Error::Usage("not a key-file-only attack".into())),
        };
    }
    match (plan.attack, target.algorithm) {
        (Attack::Bge, _) => bge::attack(&target, &plan.rounds, plan.seed),
        (Attack::Static, Algorithm::Aes256) => static_aes::attack(&target, plan.seed),
        (Attack::Static, Algorithm::Sm4) => static_sm4::attack(&target, plan.seed),
        _ => Err(Error::Usage("not a key-file-only attack".into())),
    }
}

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Aes256 => "aes-256",
        _ => "sm4",
    }
}

/// Generates the target and runs the plan.
///
/// # Errors
/// Whatever keeps the attack from running (never whether it succeeds).
pub fn run(plan: &Plan) -> Result<Report, Error> {
    let target = Target::generate(plan.algorithm, plan.build, plan.seed)?;
    attack(plan, &target)
}

/// Runs the plan's attack on `target`.
///
/// # Errors
/// As [`run`].
pub fn attack(plan: &Plan, target: &Target) -> Result<Report, Error> {
    if plan.attack.key_file_only() || target.build.bound() {
        return Err(Error::Usage(
            "key-file-only attacks and bound files go through run_key_file".into(),
        ));
    }
    if plan.attack == Attack::Partial {
        return Err(Error::Usage("partial goes through partial::run".into()));
    }
    let start = Instant::now();
    let mut report = Report {
        attack: format!("{:?}", plan.attack).to_lowercase(),
        algorithm: algorithm_name(target.algorithm).into(),
        build: target.build,
        seed: plan.seed,
        traces: 0,
        faults: 0,
        window: None,
        lookups: 0,
        samples: 0,
        raw_samples: 0,
        bytes: Vec::new(),
        recovered: 0,
        ranked_first: 0,
        targeted: 0,
        seconds: 0.0,
        notes: Vec::new(),
    };
    if plan.attack == Attack::Structure {
        let found = structure::attack(target)?;
        report.bytes = found.bytes;
        report.notes = found.notes;
    } else if plan.attack == Attack::Dfa {
        let found = dfa::attack(target, plan.faults, plan.seed)?;
        report.faults = found.faults;
        report.bytes = found.bytes;
        report.notes = found.notes;
    } else {
        let usual = if plan.window == Window::First {
            PlaintextSide::first_round(target.algorithm, &target.key)
        } else {
            PlaintextSide::new(target.algorithm, &target.key)
        }
        .ok_or_else(|| Error::Usage("unsupported algorithm".into()))?;
        let mut sides = vec![usual];
        if let Some(bits) = target.build.space_bits() {
            sides.extend(PlaintextSide::table_index(
                target.algorithm,
                &target.key,
                bits.bits(),
            ));
            report.notes.push(space_hard::reduction_note(
                bits.line_bits(),
                target.algorithm,
            ));
            report.notes.push(format!(
                "why there is nothing to find: every lookup's index is the state's last {} bits and its value the entry read, so the whole trace is a function of the ciphertext and the table alone, which the attacker has anyway; E is never computed at run time. Targets: the usual ones ({}) against the {} block, and E's first round on the two lookups whose index is known (rk0[..]@P: the last lookup, index = the plaintext's first bytes; @C: the first, index = the ciphertext's last bytes)",
                bits.bits(),
                if target.algorithm == Algorithm::Aes256 {
                    if plan.window == Window::First { "dw14" } else { "dw0" }
                } else if plan.window == Window::First {
                    "rk31"
                } else {
                    "rk0"
                },
                if plan.window == Window::First { "input" } else { "decrypted" }
            ));
        }
        let s = samples::collect(
            &target.file,
            plan.window,
            plan.traces,
            &mut rng(plan.seed, 1),
        )?;
        report.traces = s.n;
        report.window = Some(plan.window.name().into());
        report.lookups = s.lookups;
        report.samples = s.columns.len();
        report.raw_samples = s.raw_columns;
        if plan.attack == Attack::Dca {
            for side in &sides {
                let best = dca::correlate(&s, side);
                for (key, b) in side.keys.iter().zip(&best) {
                    let scores: [f64; 256] = core::array::from_fn(|k| f64::from(b[k].score));
                    let c = b[usize::from(key.value)];
                    let ev = s
                        .labels
                        .get(c.column)
                        .map(|l| format!("{}, mask {:#04x}", dca::describe(l), c.mask));
                    report.bytes.push(ByteResult::from_scores(key, &scores, ev));
                }
            }
            let trials = 256.0 * 255.0 * s.columns.len().max(1) as f64;
            report.notes.push(format!(
                "noise level: the largest |ρ| of independent data over 256 guesses × 255 masks × {} samples is about {:.3}",
                s.columns.len(),
                (2.0 * trials.ln()).sqrt() / (s.n as f64).sqrt()
            ));
        } else {
            let mut rank = 0;
            for side in &sides {
                let solved = lda::solve(&s, side);
                for (key, h) in side.keys.iter().zip(&solved.hits) {
                    let scores: [f64; 256] = core::array::from_fn(|k| f64::from(h[k]));
                    let ev = Some(format!(
                        "dim {} of 8: u·S(x⊕k) affine in the samples",
                        h[usize::from(key.value)]
                    ));
                    report.bytes.push(ByteResult::from_scores(key, &scores, ev));
                }
                rank = solved.rank;
            }
            let solved = lda::Solved {
                hits: Vec::new(),
                rank,
            };
            report.notes.push(format!(
                "rank of the {} × {} sample matrix (samples and the constant): {}",
                s.n,
                s.columns.len() + 1,
                solved.rank
            ));
            if s.n < solved.rank + 40 {
                report.notes.push(format!(
                    "too few traces for LDA: with N = {} and rank {}, a wrong guess is solvable with probability 2^-{}; use more than {} traces",
                    s.n,
                    solved.rank,
                    s.n.saturating_sub(solved.rank),
                    solved.rank + 40
                ));
            }
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report.finish())
}
