//! The tools `dist` needs, installed when missing, and running them.
//!
//! Pinned versions: the archives a given commit produces should not change because PyPI moved.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;

/// PyPI packages in the build environment, pinned. `cargo-zigbuild` links the Linux
/// artifacts with zig against glibc 2.17's symbol versions; `ziglang` is zig itself (also the
/// `dlltool` that writes the MSVC import library); `maturin` builds the Python wheels (with
/// `--zig`); `auditwheel` reads the wheels' manylinux tags.
pub const PYTHON_TOOLS: &[&str] = &[
    "cargo-zigbuild==0.24.1",
    "ziglang==0.17.1",
    "maturin==1.16.0",
    "auditwheel==6.8.2",
];

/// The Rust targets the archives are built for (besides the host's).
pub const RUST_TARGETS: &[&str] = &["x86_64-pc-windows-gnu", "aarch64-unknown-linux-gnu"];

/// Build settings for `cargo install` of the tools the checks use (cbindgen, cargo-deny,
/// cargo-semver-checks): they run for seconds, so their build time is what counts. Their own
/// release profiles ask for LTO and one codegen unit (cargo-deny took 12.5 minutes of one core
/// at opt-level 3 and 10.7 at 1 with them).
pub const QUICK_TOOL_BUILD: [(&str, &str); 3] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
];

/// Prints `cmd` as it runs it and fails, naming it, unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {}", shown(cmd));
    let status = cmd.status().map_err(|e| format!("{}: {e}", shown(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", shown(cmd)))
    }
}

/// Runs `cmd` and returns its standard output (standard error passes through).
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", shown(cmd)))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", shown(cmd), out.status));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{}: output is not UTF-8", shown(cmd)))
}

fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `cargo metadata --no-deps` of the workspace.
pub fn metadata() -> Result<serde_json::Value> {
    let json = output(Command::new(crate::cargo()).args([
        "metadata",
        "--locked",
        "--no-deps",
        "--format-version",
        "1",
    ]))?;
    serde_json::from_str(&json).map_err(|e| format!("cargo metadata: {e}"))
}

/// The rustup toolchain `name` (a version or a channel), installed when missing.
pub fn toolchain(name: &str) -> Result<()> {
    let have = Command::new("rustup")
        .args(["run", name, "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    run(Command::new("rustup").args(["toolchain", "install", name, "--profile", "minimal"]))
}

/// Is `program` on the PATH?
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The rustup targets, added when missing (`rustup target add` is idempotent but slow to ask).
pub fn rust_targets() -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    let missing: Vec<&str> = RUST_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("rustup")
        .args(["target", "add"])
        .args(&missing))
}

/// Debian's MinGW-w64 cross toolchain (the Windows linker and `objdump`) and `zip`.
pub fn debian_packages() -> Result<()> {
    let wanted = [("x86_64-w64-mingw32-gcc", "mingw-w64"), ("zip", "zip")];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let apt = |args: &[&str]| {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    run(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(&missing))
        .map_err(|e| format!("{e}: install {} yourself", missing.join(" ")))
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// The virtual environment with [`PYTHON_TOOLS`], under cargo's target directory, made or
/// updated when its recorded pins differ from these.
pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    pub fn ensure(target_dir: &Path) -> Result<Venv> {
        let dir = target_dir.join("xtask-venv");
        let stamp = dir.join("xtask-pins.txt");
        let pins = PYTHON_TOOLS.join("\n");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(pins.as_str()) {
            if !dir.join("bin/python").is_file() {
                run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
            }
            let venv = Venv { dir: dir.clone() };
            run(venv
                .python()
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PYTHON_TOOLS))?;
            std::fs::write(&stamp, pins).map_err(|e| format!("{}: {e}", stamp.display()))?;
        }
        Ok(Venv { dir })
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    pub fn python(&self) -> Command {
        Command::new(self.bin("python"))
    }

    /// A command with the environment's `bin` first on the PATH (cargo-zigbuild and maturin
    /// find zig through the `ziglang` module of the `python3` they see).
    pub fn command(&self, program: &str) -> Result<Command> {
        let mut path = vec![self.dir.join("bin")];
        if let Some(p) = std::env::var_os("PATH") {
            path.extend(std::env::split_paths(&p));
        }
        let path = std::env::join_paths(path).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(self.bin(program));
        cmd.env("PATH", path);
        Ok(cmd)
    }
}
