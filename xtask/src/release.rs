//! `cargo xtask package-check` (CI) and `cargo xtask release-check` (before a release, and
//! before resolving an issue that touches what these check).
//!
//! CI keeps what catches a regression in the code a change touches; what only matters when
//! crates and archives are published runs here, as one command (README, "Releases and
//! crates"): every published crate built from its `.crate` alone, cargo-deny on the dependency
//! graph, the header against cbindgen, the MSRV check, `cargo semver-checks` against the last
//! release, the
//! docs.rs build, the platform tests on archives built with the release profile, and the
//! archives' reproducibility from a second checkout.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::Result;
use crate::dist::{self, Workspace};
use crate::stamps::{self, Stamped};
use crate::tools::{output, run};

/// Pinned: its findings change between releases of the tool.
const SEMVER_CHECKS: (&str, &str) = ("cargo-semver-checks", "0.51.0");

/// The directories whose licence files must equal the root's.
const CRATE_DIRS: &[&str] = &[
    "wbruntime",
    "fingerprint",
    "wbgen",
    "wbdecrypt",
    "wbruntime-ffi",
    "wbcli",
    "wbkms",
    "wbstore",
];

/// The workspace's publishable packages (those without `publish = false`), with versions.
fn published() -> Result<Vec<(String, String)>> {
    let meta = crate::tools::metadata()?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata lists no packages")?;
    let list: Vec<(String, String)> = packages
        .iter()
        // `publish = false` is an empty registry list; absent (null) means crates.io.
        .filter(|p| p["publish"].is_null())
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_owned(),
                p["version"].as_str()?.to_owned(),
            ))
        })
        .collect();
    if list.is_empty() {
        return Err("no publishable package in the workspace".into());
    }
    Ok(list)
}

/// `cargo package` for every published crate, and what each `.crate` holds: no test data
/// (key files, corpora, JSON vectors, tests), both licence files. `verify`: also build each
/// crate from its `.crate` alone (minutes: every dependency again; release-check does it).
pub fn package_check(verify: bool) -> Result<()> {
    let ws = dist::workspace()?;
    let crates = published()?;
    let mut cmd = Command::new(crate::cargo());
    cmd.current_dir(&ws.root).args(["package", "--locked"]);
    if !verify {
        cmd.arg("--no-verify");
    }
    for (name, _) in &crates {
        cmd.args(["-p", name]);
    }
    run(&mut cmd)?;
    for (name, version) in &crates {
        let file = ws
            .target_dir
            .join("package")
            .join(format!("{name}-{version}.crate"));
        let listing = output(Command::new("tar").arg("tzf").arg(&file))?;
        let test_data: Vec<&str> = listing
            .lines()
            // Cargo adds .cargo_vcs_info.json itself.
            .filter(|l| !l.ends_with("/.cargo_vcs_info.json"))
            .filter(|l| {
                [".wbkey", ".bin", ".json"].iter().any(|e| l.ends_with(e))
                    || l.contains("/tests/")
                    || l.contains("/corpus/")
            })
            .collect();
        if !test_data.is_empty() {
            return Err(format!("{name}'s package carries test data: {test_data:?}"));
        }
        for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
            let entry = format!("{name}-{version}/{licence}");
            if !listing.lines().any(|l| l == entry) {
                return Err(format!("{name}'s package lacks {licence}"));
            }
        }
    }
    for dir in CRATE_DIRS {
        for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
            let root = fs::read(ws.root.join(licence)).map_err(|e| format!("{licence}: {e}"))?;
            let own = fs::read(ws.root.join(dir).join(licence)).unwrap_or_default();
            if own != root {
                return Err(format!("{dir}/{licence} differs from the root's"));
            }
        }
    }
    println!(
        "packages: {} crates packaged{}, no test data, licences present",
        crates.len(),
        if verify {
            " and built from their .crate"
        } else {
            ""
        }
    );
    Ok(())
}

/// Every check that only matters when crates and archives are published.
pub fn release_check() -> Result<()> {
    let ws = dist::workspace()?;
    let dirty = output(Command::new("git").current_dir(&ws.root).args([
        "status",
        "--porcelain",
        "--untracked-files=no",
    ]))?;
    if !dirty.trim().is_empty() {
        return Err(format!(
            "release-check builds the archives again from a second checkout of HEAD, so the work \
             tree must be committed first; changed:\n{dirty}"
        ));
    }
    let started = std::time::Instant::now();
    let mut timings = Vec::new();
    let mut step = |name: &str, f: &dyn Fn() -> Result<()>| -> Result<()> {
        println!("\n==== release-check: {name}");
        let t = std::time::Instant::now();
        let result = f();
        timings.push((name.to_owned(), t.elapsed().as_secs(), result.is_ok()));
        result
    };
    let result = (|| {
        step("packages built from their .crate alone", &|| {
            package_check(true)
        })?;
        step("cargo deny check licenses bans sources", &|| {
            stamps::run_check(Stamped::Deny, &ws.root, &ws.target_dir, false)
        })?;
        step("wbruntime.h against cbindgen", &|| {
            stamps::run_check(Stamped::Header, &ws.root, &ws.target_dir, false)
        })?;
        step(
            "MSRV: the published crates and the service with the declared rust-version",
            &|| msrv(&ws),
        )?;
        step("cargo semver-checks against the last release", &|| {
            semver_checks(&ws)
        })?;
        step(
            "docs.rs build of wbruntime (nightly, --cfg docsrs)",
            &|| docs_rs(&ws),
        )?;
        step(
            "platform tests on archives built with the release profile",
            &|| {
                run(Command::new("bash")
                    .current_dir(&ws.root)
                    .arg("xtask/platform-tests.sh"))
            },
        )?;
        step(
            "the archives again from a second checkout: identical",
            &|| reproducible(&ws),
        )
    })();
    println!("\nrelease-check steps:");
    for (name, secs, ok) in &timings {
        println!(
            "  {secs:>5} s  {}  {name}",
            if *ok { "ok  " } else { "FAIL" }
        );
    }
    println!("  {:>5} s  in all", started.elapsed().as_secs());
    result?;
    println!("release-check passed");
    Ok(())
}

fn semver_checks(ws: &Workspace) -> Result<()> {
    let (package, version) = SEMVER_CHECKS;
    let have = Command::new(crate::cargo())
        .args(["semver-checks", "--version"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == format!("{package} {version}"));
    if !have {
        run(Command::new(crate::cargo())
            .args(["install", "--locked", package, "--version", version])
            .env("CARGO_TARGET_DIR", ws.target_dir.join("ci-tools"))
            .envs(crate::tools::QUICK_TOOL_BUILD))?;
    }
    // The last release's commit (tags need not travel with a clone): .ci/last-release.
    let record = fs::read_to_string(ws.root.join(".ci/last-release"))
        .map_err(|e| format!(".ci/last-release: {e}"))?;
    let baseline = record
        .lines()
        .find_map(|l| l.strip_prefix("commit = "))
        .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(".ci/last-release names no commit")?;
    let known = Command::new("git")
        .current_dir(&ws.root)
        .args(["cat-file", "-e", &format!("{baseline}^{{commit}}")])
        .status()
        .is_ok_and(|s| s.success());
    if !known {
        return Err(format!(
            "the last release's commit {baseline} is not in this clone's history (git fetch --unshallow)"
        ));
    }
    let ws_meta = crate::tools::metadata()?;
    for (name, _) in published()? {
        // A crate first published after the last release has no baseline to compare with.
        let manifest = ws_meta["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name.as_str()))
            .and_then(|p| p["manifest_path"].as_str())
            .and_then(|m| Path::new(m).strip_prefix(&ws.root).ok())
            .map(|m| m.to_string_lossy().into_owned());
        let in_baseline = manifest.is_some_and(|m| {
            Command::new("git")
                .current_dir(&ws.root)
                .args(["cat-file", "-e", &format!("{baseline}:{m}")])
                .status()
                .is_ok_and(|s| s.success())
        });
        if !in_baseline {
            println!("semver-checks: {name} is new since the last release: nothing to compare");
            continue;
        }
        run(Command::new(crate::cargo()).current_dir(&ws.root).args([
            "semver-checks",
            "check-release",
            "--package",
            &name,
            "--baseline-rev",
            baseline,
        ]))?;
    }
    Ok(())
}

/// `cargo +MSRV check` of what users build from crates.io (the published crates' libraries and
/// binaries) and of the service; tests, benches and the attack suite use the current toolchain.
fn msrv(ws: &Workspace) -> Result<()> {
    let manifest =
        fs::read_to_string(ws.root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|l| l.strip_suffix('"'))
        .ok_or("Cargo.toml declares no rust-version")?;
    crate::tools::toolchain(version)?;
    // `+version` needs rustup's cargo proxy, not the cargo that runs us.
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&ws.root)
        .arg(format!("+{version}"))
        .args(["check", "--locked", "-p", "wbkms"])
        .env("CARGO_TARGET_DIR", ws.target_dir.join("msrv"));
    for (name, _) in published()? {
        cmd.args(["-p", &name]);
    }
    run(&mut cmd)
}

fn docs_rs(ws: &Workspace) -> Result<()> {
    crate::tools::toolchain("nightly")?;
    // `+nightly` needs rustup's cargo proxy, not the cargo that runs us.
    run(Command::new("cargo")
        .current_dir(&ws.root)
        .args([
            "+nightly",
            "doc",
            "--locked",
            "-p",
            "wbruntime",
            "--all-features",
            "--no-deps",
        ])
        .env("RUSTDOCFLAGS", "--cfg docsrs -D warnings")
        .env("CARGO_TARGET_DIR", ws.target_dir.join("docsrs")))
}

/// `cargo xtask dist` in a second checkout of HEAD at another path, with its own target
/// directory, against the archives the platform tests just built: the Linux archives must be
/// byte-identical (what dist.rs claims); the others are reported.
fn reproducible(ws: &Workspace) -> Result<()> {
    let first = ws.target_dir.join("dist");
    let second_root = ws.target_dir.join("release-check-checkout");
    let _ = fs::remove_dir_all(&second_root);
    run(Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&ws.root)
        .arg(&second_root))?;
    let head = output(
        Command::new("git")
            .current_dir(&ws.root)
            .args(["rev-parse", "HEAD"]),
    )?;
    run(Command::new("git").current_dir(&second_root).args([
        "checkout",
        "--quiet",
        "--detach",
        head.trim(),
    ]))?;
    let second = second_root.join("target/dist");
    run(Command::new(crate::cargo())
        .current_dir(&second_root)
        .args(["xtask", "dist", "--out"])
        .arg(&second)
        .env("CARGO_TARGET_DIR", second_root.join("target"))
        .env_remove("CARGO_BUILD_TARGET_DIR"))?;
    let sums = |dir: &Path| -> Result<Vec<(String, String)>> {
        let text = fs::read_to_string(dir.join("SHA256SUMS"))
            .map_err(|e| format!("{}: {e}", dir.join("SHA256SUMS").display()))?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once("  "))
            .map(|(h, f)| (f.to_owned(), h.to_owned()))
            .collect())
    };
    let (a, b) = (sums(&first)?, sums(&second)?);
    let mut differing_linux = Vec::new();
    for (file, hash) in &a {
        let same = b.iter().any(|(f, h)| f == file && h == hash);
        println!("  {}  {file}", if same { "identical" } else { "DIFFERS  " });
        if !same && file.ends_with("-linux-gnu.tar.gz") {
            differing_linux.push(file.clone());
        }
    }
    if a.len() != b.len() {
        return Err("the two checkouts wrote different sets of archives".into());
    }
    if !differing_linux.is_empty() {
        return Err(format!(
            "the Linux archives must be reproducible, and these differ: {differing_linux:?}"
        ));
    }
    let _ = fs::remove_dir_all(&second_root);
    Ok(())
}
