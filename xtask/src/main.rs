//! Project automation, run as `cargo xtask …` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask dist [--out DIR]`: the device-side release archives for Linux (glibc 2.17 and
//!   later, x86_64 and aarch64) and Windows (x86_64), the Python SDK's manylinux2014 wheels for
//!   both Linux architectures, and `SHA256SUMS` over them (README, "Platforms and release
//!   archives"). It installs what it needs: rustup targets, a virtual environment with pinned
//!   `cargo-zigbuild`, `ziglang`, `maturin` and `auditwheel` from PyPI, and Debian's `mingw-w64`.
//! - `cargo xtask check-glibc [--max 2.17] FILE…`: fails when an ELF file needs a glibc symbol
//!   version above the maximum.
#![forbid(unsafe_code)]

mod dist;
mod elf;
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
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dist { out } => dist::build(out),
        Command::CheckGlibc { max, files } => dist::check_glibc(&max, &files),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
