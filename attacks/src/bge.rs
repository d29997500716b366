//! The public BGE tool against an AES-256 key file: Side-Channel Marvels' `bluegalaxyenergy`
//! (PyPI), which implements Billet, Gilbert and Ech-Chatbi, "Cryptanalysis of a White Box AES
//! Implementation" (SAC 2004), with Tolhuizen's improvements ("Improved cryptanalysis of an AES
//! implementation", 2012) and De Mulder, Roelse and Preneel's ("Revisiting the BGE attack on a
//! white-box AES implementation", 2013).
//!
//! The tool needs only a *round oracle*: a function that applies one round of the white-box to
//! an encoded state. `attacks/bge/oracle.py` is one, written from FORMAT.md alone: it parses the
//! section directory and evaluates rounds 1–12 (rounds 11 and 12 from branch 0) with the
//! file's tables. BGE recovers the round keys of the rounds it is given (the equivalent
//! inverse cipher's `K_j`) and from two consecutive ones the AES-256 key.
//!
//! `attacks/bge/setup.sh` installs the tool into a virtual environment (`$WB_BGE_VENV`, else
//! `$CARGO_TARGET_DIR/bge-venv`, else `target/bge-venv`); `WB_BGE_PYTHON` names another
//! interpreter that has it. The key file goes to a temporary file, which is removed afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use wbruntime::Algorithm;

use crate::Error;
use crate::report::{KeyReport, Stage};
use crate::target::Target;

/// The rounds BGE gets by default (FORMAT.md's decryption rounds): five middle rounds. AES-256
/// needs four consecutive ones (two consecutive round keys); the fifth is a margin.
pub const DEFAULT_ROUNDS: [usize; 5] = [4, 5, 6, 7, 8];

/// The rounds a round oracle over the file can apply: 1 to 12 (round 13 of a branch ends in
/// half sums, not a state, and round 14 is the wide tables).
pub const ORACLE_ROUNDS: core::ops::RangeInclusive<usize> = 1..=12;

/// The oracle script.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bge")
        .join("oracle.py")
}

/// The interpreter with `bluegalaxyenergy`: `$WB_BGE_PYTHON`, else the venv of `setup.sh`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WB_BGE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("WB_BGE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("..")
                        .join("target")
                })
                .join("bge-venv")
        });
    venv.join("bin").join("python")
}

/// Checks a round list: non-empty, consecutive, inside [`ORACLE_ROUNDS`].
///
/// # Errors
/// [`Error::Usage`] otherwise.
pub fn check_rounds(rounds: &[usize]) -> Result<(), Error> {
    let consecutive = rounds.windows(2).all(|w| w[1] == w[0] + 1);
    if rounds.is_empty() || !consecutive || !rounds.iter().all(|r| ORACLE_ROUNDS.contains(r)) {
        return Err(Error::Usage(
            "--rounds must be consecutive decryption rounds between 1 and 12, e.g. 4,5,6,7,8"
                .into(),
        ));
    }
    Ok(())
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs BGE over `rounds` of `target`'s key file and scores the key it returns against the
/// known key (used for nothing else).
///
/// # Errors
/// [`Error::Usage`] for SM4 or a bad round list; [`Error::Tool`] if the tool is not set up,
/// fails, or prints something else than the script's JSON; [`Error::Output`] if the key file
/// cannot be written to the temporary directory.
pub fn attack(target: &Target, rounds: &[usize], seed: u64) -> Result<KeyReport, Error> {
    if target.algorithm != Algorithm::Aes256 {
        return Err(Error::Usage("the BGE tool attacks AES only".into()));
    }
    check_rounds(rounds)?;
    let python = python();
    if !python.exists() {
        return Err(Error::Tool(format!(
            "no Python with bluegalaxyenergy at {}: run attacks/bge/setup.sh (or set WB_BGE_PYTHON)",
            python.display()
        )));
    }
    let path =
        std::env::temp_dir().join(format!("wbattack-bge-{}-{seed}.wbkey", std::process::id()));
    std::fs::write(&path, &target.file)
        .map_err(|e| Error::Output(format!("temporary key file: {e}")))?;
    let file = TempFile(path);
    let start = Instant::now();
    let out = Command::new(&python)
        .arg(script())
        .arg(&file.0)
        // BGE numbers rounds from 0.
        .args(rounds.iter().map(|r| (r - 1).to_string()))
        .output()
        .map_err(|e| Error::Tool(format!("cannot start {}: {e}", python.display())))?;
    let seconds = start.elapsed().as_secs_f64();
    drop(file);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(Error::Tool(format!("the BGE script failed: {last}")));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| Error::Tool("the BGE script printed no JSON result".into()))?;
    let key = json
        .get("key")
        .and_then(serde_json::Value::as_str)
        .and_then(hex);
    let mut notes = vec![format!(
        "the script's own time (tables parsed, BGE run): {:.2} s",
        json.get("seconds")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    )];
    // BGE's round key `i` (0-based, decryption order) is the key that decryption round
    // `j = i + 1` (FORMAT.md's numbering) adds first, `K_j = dw[15 − j] = dw[14 − i]` (BGE
    // applies MixColumns to it to get the cipher's round key); scored against the known key.
    let dw = crate::cipher::aes_round_keys(&target.key).map(|(_, dw)| dw);
    let mut stages = Vec::new();
    if let Some(keys) = json
        .get("round_keys")
        .and_then(serde_json::Value::as_object)
    {
        for (i, k) in keys {
            let found = k.as_str().and_then(hex).unwrap_or_default();
            let i = i.parse::<usize>().unwrap_or(usize::MAX);
            let truth = 14usize
                .checked_sub(i)
                .and_then(|d| dw.as_ref()?.get(d).copied())
                .unwrap_or_default();
            stages.push(Stage {
                target: format!("K_{}", i.saturating_add(1)),
                of: 16,
                recovered: found.iter().zip(&truth).filter(|(a, b)| a == b).count(),
                ambiguous: 0,
                table_lookups: 0,
            });
        }
    }
    if key.is_none() {
        notes.push("BGE returned no key".into());
    }
    let report = KeyReport {
        round_evaluations: json
            .get("calls")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        rounds: rounds.to_vec(),
        stages,
        notes,
        ..KeyReport::new("bge", target, seed, seconds)
    };
    Ok(report.score(key.as_deref(), &target.key))
}

/// Bytes from lower-case or upper-case hex, if valid.
fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
