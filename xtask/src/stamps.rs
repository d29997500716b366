//! Checks whose tool takes minutes to build, run only when their inputs changed.
//!
//! `wbruntime.h` is a function of the C ABI crate's sources and `cbindgen.toml`; whether the
//! dependency graph passes `cargo deny check licenses bans sources` is a function of
//! `Cargo.lock`, the workspace's manifests and `deny.toml`. Each check, when it passes, records
//! a SHA-256 over its inputs (and its tool's version) in `.ci/stamps/NAME`. CI recomputes the
//! digest: equal, the last real run still answers, and the tool need not be built; different,
//! the tool is installed (pinned version) and the check runs for real.
//!
//! The digest runs over each input's path (relative to the workspace root), length and bytes,
//! in path order, so adding, removing, renaming or editing an input changes it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::Result;
use crate::tools::run;

/// A check with a stamp: its tool (pinned), and how to list its inputs.
#[derive(Clone, Copy)]
pub enum Stamped {
    /// `wbruntime-ffi/include/wbruntime.h` is what cbindgen makes of the C ABI's sources.
    Header,
    /// cargo-deny's licence, ban and source checks pass on the dependency graph.
    Deny,
}

impl Stamped {
    pub const ALL: [Stamped; 2] = [Stamped::Header, Stamped::Deny];

    pub fn name(self) -> &'static str {
        match self {
            Stamped::Header => "header",
            Stamped::Deny => "deny",
        }
    }

    /// The crates.io package, its pinned version, and the version line its binary prints.
    fn tool(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Stamped::Header => ("cbindgen", "0.29.4", "cbindgen 0.29.4"),
            Stamped::Deny => ("cargo-deny", "0.20.2", "cargo-deny 0.20.2"),
        }
    }

    fn inputs(self, root: &Path) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        match self {
            Stamped::Header => {
                files.push(root.join("wbruntime-ffi/Cargo.toml"));
                files.push(root.join("wbruntime-ffi/cbindgen.toml"));
                files.push(root.join(HEADER));
                walk(&root.join("wbruntime-ffi/src"), &mut files)?;
            }
            Stamped::Deny => {
                files.push(root.join("Cargo.lock"));
                files.push(root.join("Cargo.toml"));
                files.push(root.join("deny.toml"));
                files.extend(member_manifests()?);
            }
        }
        files.sort();
        files.dedup();
        Ok(files)
    }
}

pub const HEADER: &str = "wbruntime-ffi/include/wbruntime.h";

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn member_manifests() -> Result<Vec<PathBuf>> {
    let meta = crate::tools::metadata()?;
    Ok(meta["packages"]
        .as_array()
        .ok_or("cargo metadata lists no packages")?
        .iter()
        .filter_map(|p| p["manifest_path"].as_str().map(PathBuf::from))
        .collect())
}

/// The stamp's text for the inputs as they are now.
fn current(check: Stamped, root: &Path) -> Result<String> {
    let mut hash = Sha256::new();
    for file in check.inputs(root)? {
        let bytes = fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let relative = file.strip_prefix(root).unwrap_or(&file);
        hash.update(relative.to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(format!(
        "tool = {}\ninputs = {}\n",
        check.tool().2,
        hex::encode(hash.finalize())
    ))
}

fn stamp_path(check: Stamped, root: &Path) -> PathBuf {
    root.join(".ci/stamps").join(check.name())
}

/// Does the recorded stamp match the inputs as they are now?
pub fn is_current(check: Stamped, root: &Path) -> Result<bool> {
    let recorded = fs::read_to_string(stamp_path(check, root)).unwrap_or_default();
    Ok(recorded == current(check, root)?)
}

fn record(check: Stamped, root: &Path) -> Result<()> {
    let path = stamp_path(check, root);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    fs::write(&path, current(check, root)?).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("recorded {}", path.display());
    Ok(())
}

/// Installs the check's tool (its pinned version) unless that version is on the PATH.
/// `cargo install` at opt-level 1 into its own target directory: these tools run for
/// seconds, and their build is the cost this module exists to avoid.
pub fn install_tool(check: Stamped, target_dir: &Path) -> Result<()> {
    let (package, version, line) = check.tool();
    let binary = match check {
        Stamped::Header => Command::new("cbindgen").arg("--version").output(),
        Stamped::Deny => Command::new(crate::cargo())
            .args(["deny", "--version"])
            .output(),
    };
    if binary.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == line) {
        return Ok(());
    }
    run(Command::new(crate::cargo())
        .args(["install", "--locked", package, "--version", version])
        .env("CARGO_TARGET_DIR", target_dir.join("ci-tools"))
        .envs(crate::tools::QUICK_TOOL_BUILD))
}

/// The check run for real with its tool; on success, the stamp is recorded when `record_stamp`.
pub fn run_check(check: Stamped, root: &Path, target_dir: &Path, record_stamp: bool) -> Result<()> {
    install_tool(check, target_dir)?;
    match check {
        Stamped::Header => {
            let fresh = target_dir.join("wbruntime.h.generated");
            run(Command::new("cbindgen")
                .current_dir(root.join("wbruntime-ffi"))
                .args([
                    "--quiet",
                    "--config",
                    "cbindgen.toml",
                    "--crate",
                    "wbruntime-ffi",
                    "--output",
                ])
                .arg(&fresh))?;
            let header = root.join(HEADER);
            let want = fs::read(&fresh).map_err(|e| format!("{}: {e}", fresh.display()))?;
            let have = fs::read(&header).unwrap_or_default();
            if want != have {
                if !record_stamp {
                    return Err(format!(
                        "{HEADER} is not what cbindgen makes of the C ABI's sources: \
                         regenerate it with `cargo xtask header` and commit it with .ci/stamps/header"
                    ));
                }
                fs::write(&header, &want).map_err(|e| format!("{}: {e}", header.display()))?;
                println!("wrote {HEADER}");
            }
        }
        Stamped::Deny => run(Command::new(crate::cargo())
            .current_dir(root)
            .args(["deny", "--locked", "check", "licenses", "bans", "sources"]))?,
    }
    if record_stamp {
        record(check, root)?;
    } else if !is_current(check, root)? {
        println!(
            "{} passed, but its stamp is stale: `cargo xtask {}` records it, and CI skips the \
             tool's build while the inputs stay as they are",
            check.name(),
            check.name()
        );
    }
    Ok(())
}

/// CI's form: passes at once when the stamp is current, runs the real check otherwise.
pub fn check(check: Stamped, root: &Path, target_dir: &Path) -> Result<()> {
    if is_current(check, root)? {
        println!(
            "{}: inputs unchanged since the check last passed (.ci/stamps/{}, {}); tool not needed",
            check.name(),
            check.name(),
            check.tool().2
        );
        return Ok(());
    }
    println!(
        "{}: inputs changed since .ci/stamps/{} was recorded: running {} for real",
        check.name(),
        check.name(),
        check.tool().2
    );
    run_check(check, root, target_dir, false)
}
