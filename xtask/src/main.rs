//! Project automation, run as `cargo xtask …` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask dist [--out DIR]`: the device-side release archives for Linux (glibc 2.17 and
//!   later, x86_64 and aarch64) and Windows (x86_64), the Python SDK's manylinux2014 wheels for
//!   both Linux architectures, and `SHA256SUMS` over them (README, "Platforms and release
//!   archives"). It installs what it needs: rustup targets, a virtual environment with pinned
//!   `cargo-zigbuild`, `ziglang`, `maturin` and `auditwheel` from PyPI, and Debian's `mingw-w64`.
//!   `--test-build` keeps the caller's `CARGO_PROFILE_*` settings (CI's): archives to test on.
//! - `cargo xtask check-glibc [--max 2.17] FILE…`: fails when an ELF file needs a glibc symbol
//!   version above the maximum.
//! - `cargo xtask header [--check]`, `cargo xtask deny [--check]`: the checks whose tools take
//!   minutes to build (cbindgen, cargo-deny), with a stamp of their inputs so that CI builds
//!   the tool only when the inputs changed ([`stamps`]). `cargo xtask stamps` lists them.
//! - `cargo xtask package-check [--verify]`: the published crates' packages and what they hold.
//! - `cargo xtask release-check`: everything that only matters when publishing ([`release`]).
#![forbid(unsafe_code)]

mod dist;
mod elf;
mod release;
mod stamps;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Errors are one-line messages saying what failed; `cargo xtask` exits 1 with them.
type Result<T> = std::result::Result<T, String>;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Project automation (release archives, checks)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the release archives, wheels and SHA256SUMS.
    Dist {
        /// Where to write them (default: `dist/` under cargo's target directory).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Keep the caller's CARGO_PROFILE_* settings (CI's faster builds): archives for the
        /// platform tests, not for shipping, which uses Cargo.toml's release profile.
        #[arg(long)]
        test_build: bool,
    },
    /// Regenerate wbruntime.h with cbindgen and record its stamp; `--check`: CI's form.
    Header {
        /// Pass at once when the stamp matches the inputs; else compare with cbindgen's output.
        #[arg(long)]
        check: bool,
    },
    /// cargo deny check licenses bans sources, and record its stamp; `--check`: CI's form.
    Deny {
        /// Pass at once when the stamp matches the inputs; else run cargo-deny.
        #[arg(long)]
        check: bool,
    },
    /// Which stamped checks need their tool now (their inputs changed).
    Stamps {
        /// Install the tools those checks need (pinned versions, `cargo install`).
        #[arg(long)]
        install_tools: bool,
    },
    /// cargo package for the published crates, and what each .crate holds.
    PackageCheck {
        /// Also build each crate from its .crate alone (minutes).
        #[arg(long)]
        verify: bool,
    },
    /// Every check that only matters when publishing (README, "Releases and crates").
    ReleaseCheck,
    /// Check that ELF files need no glibc symbol version above `--max`.
    CheckGlibc {
        /// The oldest glibc the files must run on.
        #[arg(long, default_value = "2.17")]
        max: String,
        /// Files to check; a directory is searched for ELF files (static archives are skipped).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// The cargo that runs us (`cargo xtask`), for the cargo commands we run.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn stamped(check: stamps::Stamped, ci: bool) -> Result<()> {
    let ws = dist::workspace()?;
    if ci {
        stamps::check(check, &ws.root, &ws.target_dir)
    } else {
        stamps::run_check(check, &ws.root, &ws.target_dir, true)
    }
}

fn list_stamps(install_tools: bool) -> Result<()> {
    let ws = dist::workspace()?;
    for check in stamps::Stamped::ALL {
        let current = stamps::is_current(check, &ws.root)?;
        println!(
            "{}: {}",
            check.name(),
            if current {
                "current (tool not needed)"
            } else {
                "inputs changed: the check needs its tool"
            }
        );
        if !current && install_tools {
            stamps::install_tool(check, &ws.target_dir)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dist { out, test_build } => dist::build(out, test_build),
        Command::CheckGlibc { max, files } => dist::check_glibc(&max, &files),
        Command::Header { check } => stamped(stamps::Stamped::Header, check),
        Command::Deny { check } => stamped(stamps::Stamped::Deny, check),
        Command::Stamps { install_tools } => list_stamps(install_tools),
        Command::PackageCheck { verify } => release::package_check(verify),
        Command::ReleaseCheck => release::release_check(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
