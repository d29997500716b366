//! `cargo xtask dist`: the device-side release archives.
//!
//! What each archive holds is written in README.md ("Platforms and release archives"); this
//! file builds exactly that and checks it before writing `SHA256SUMS`:
//! - Linux: built with `cargo zigbuild` for `<arch>-unknown-linux-gnu.2.17`, so the binaries
//!   link against glibc 2.17's symbol versions; every ELF is then read ([`crate::elf`]) and
//!   refused if it needs a later `GLIBC_x.y`.
//! - Windows: built with Debian's MinGW-w64 (`x86_64-pc-windows-gnu`); the DLL's exports must
//!   be every function of `wbruntime.h`, and the programs and DLL may import only Windows' own
//!   DLLs (no MinGW runtime DLL to ship). The MinGW import library comes from the linker; the
//!   MSVC one is written by zig's `dlltool` from the exports.
//! - Python: maturin `--zig --compatibility manylinux2014` for both Linux architectures, each
//!   wheel's tag confirmed by `auditwheel show`.
//!
//! The archives' metadata is fixed: entries sorted, owner 0, every time stamp set to
//! `SOURCE_DATE_EPOCH` (default: the last commit's time). The Linux archives have come out
//! byte-identical from two checkouts at different paths; the Windows binaries have not (the
//! MinGW build records something path- or run-dependent), so the zip is not reproducible yet.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::Result;
use crate::elf;
use crate::tools::{self, Venv, output, run};

/// The packages whose artifacts the archives ship.
const PACKAGES: &[&str] = &["wbdecrypt", "wbfingerprint", "wbruntime-ffi"];

/// The oldest glibc the Linux archives support.
const GLIBC_FLOOR: &str = "2.17";

/// DLLs every supported Windows has (10 / Server 2016 and later); nothing else may be
/// imported. `bcryptprimitives.dll` is where Rust's standard library gets randomness.
const WINDOWS_SYSTEM_DLLS: &[&str] = &[
    "advapi32.dll",
    "api-ms-win-core-synch-l1-2-0.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "kernel32.dll",
    "msvcrt.dll",
    "ntdll.dll",
    "shell32.dll",
    "user32.dll",
    "userenv.dll",
    "ws2_32.dll",
];

pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    pub(crate) target_dir: PathBuf,
    version: String,
    /// Keep the caller's `CARGO_PROFILE_*` settings (CI's faster release builds) instead of
    /// Cargo.toml's release profile: archives to test on, not to ship.
    test_build: bool,
}

pub(crate) fn workspace() -> Result<Workspace> {
    let meta = tools::metadata()?;
    let field = |v: &serde_json::Value, name: &str| {
        v[name]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("cargo metadata has no {name}"))
    };
    let ffi = meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "wbruntime-ffi"))
        .ok_or("cargo metadata lists no wbruntime-ffi")?;
    Ok(Workspace {
        root: PathBuf::from(field(&meta, "workspace_root")?),
        target_dir: PathBuf::from(field(&meta, "target_directory")?),
        version: field(ffi, "version")?,
        test_build: false,
    })
}

/// `test_build`: see [`Workspace::test_build`] (`cargo xtask dist --test-build`).
pub fn build(out: Option<PathBuf>, test_build: bool) -> Result<()> {
    let ws = Workspace {
        test_build,
        ..workspace()?
    };
    let out = out.unwrap_or_else(|| ws.target_dir.join("dist"));
    tools::rust_targets()?;
    tools::debian_packages()?;
    let venv = Venv::ensure(&ws.target_dir)?;
    // A target directory of its own: artifacts linked by zig are never mixed with the
    // workspace's own builds (or the cross tests', linked by gcc).
    let build = ws.target_dir.join("dist-build");
    let stage = build.join("stage");
    remove_dir(&stage)?;
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    remove_ours(&out)?;
    let epoch = source_date_epoch(&ws.root);

    let mut written = Vec::new();
    for arch in ["x86_64", "aarch64"] {
        let name = format!("wbruntime-{}-{arch}-linux-gnu", ws.version);
        let dir = stage.join(&name);
        linux(&ws, &venv, &build, arch, &dir)?;
        written.push(tar_gz(&stage, &name, &out, epoch)?);
    }
    let name = format!("wbruntime-{}-x86_64-windows", ws.version);
    windows(&ws, &venv, &build, &stage.join(&name))?;
    written.push(zip(&stage, &name, &out, epoch)?);
    for arch in ["x86_64", "aarch64"] {
        written.push(wheel(&ws, &venv, &build, arch, &out)?);
    }
    sha256sums(&out, &written)?;
    println!("wrote to {}:", out.display());
    for file in written.iter().chain([&out.join("SHA256SUMS")]) {
        let size = fs::metadata(file).map_err(|e| e.to_string())?.len();
        println!(
            "  {:>10}  {}",
            size,
            file.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    Ok(())
}

/// The common files: header, archive README, licences.
fn common_files(ws: &Workspace, dir: &Path) -> Result<()> {
    copy(
        &ws.root.join("wbruntime-ffi/include/wbruntime.h"),
        &dir.join("include/wbruntime.h"),
    )?;
    copy(
        &ws.root.join("xtask/archive/README.md"),
        &dir.join("README.md"),
    )?;
    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        copy(&ws.root.join(licence), &dir.join(licence))?;
    }
    Ok(())
}

fn release_build(ws: &Workspace, cmd: &mut Command, build: &Path) {
    own_toolchain(ws, cmd);
    cmd.args(["--release", "--locked"])
        .args(PACKAGES.iter().flat_map(|p| ["-p", p]))
        .env("CARGO_TARGET_DIR", build)
        // No debug information in what we ship (the standard library's included).
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
}

fn own_toolchain(ws: &Workspace, cmd: &mut Command) {
    // The caller's per-target linker and C compiler settings (a cross-test setup's
    // `aarch64-linux-gnu-gcc`, say) would replace zig's and link against the build
    // machine's glibc: the archives are linked by the tools chosen here only. Profile
    // overrides (CI's faster release settings, say) go too: what ships is built with the
    // release profile Cargo.toml declares. A test build (`--test-build`) keeps them.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let per_target = [
            "CARGO_PROFILE_",
            "CARGO_TARGET_",
            "CC_",
            "CXX_",
            "AR_",
            "CFLAGS_",
            "CXXFLAGS_",
        ];
        if ws.test_build && name.starts_with("CARGO_PROFILE_") {
            continue;
        }
        if per_target.iter().any(|p| name.starts_with(p))
            || ["CC", "CXX", "AR", "TARGET_CC", "RUSTFLAGS"].contains(&name.as_ref())
        {
            cmd.env_remove(name.as_ref());
        }
    }
}

fn linux(ws: &Workspace, venv: &Venv, build: &Path, arch: &str, dir: &Path) -> Result<()> {
    let triple = format!("{arch}-unknown-linux-gnu");
    let mut cmd = venv.command("cargo-zigbuild")?;
    cmd.arg("zigbuild")
        .current_dir(&ws.root)
        .args(["--target", &format!("{triple}.{GLIBC_FLOOR}")]);
    release_build(ws, &mut cmd, build);
    run(&mut cmd)?;
    let built = build.join(&triple).join("release");
    for bin in ["wbdecrypt", "wbfingerprint"] {
        copy(&built.join(bin), &dir.join("bin").join(bin))?;
    }
    for lib in ["libwbruntime_ffi.so", "libwbruntime_ffi.a"] {
        copy(&built.join(lib), &dir.join("lib").join(lib))?;
    }
    common_files(ws, dir)?;
    check_glibc(GLIBC_FLOOR, &[dir.to_path_buf()])
}

fn windows(ws: &Workspace, venv: &Venv, build: &Path, dir: &Path) -> Result<()> {
    let triple = "x86_64-pc-windows-gnu";
    let mut cmd = Command::new(crate::cargo());
    cmd.arg("build")
        .current_dir(&ws.root)
        .args(["--target", triple]);
    release_build(ws, &mut cmd, build);
    run(&mut cmd)?;
    let built = build.join(triple).join("release");
    let mut dll = None;
    for file in ["wbdecrypt.exe", "wbfingerprint.exe", "wbruntime_ffi.dll"] {
        let shipped = dir.join("bin").join(file);
        copy(&built.join(file), &shipped)?;
        let info = pe_info(&shipped)?;
        check_windows_imports(&shipped, &info)?;
        if file.ends_with(".dll") {
            dll = Some(info);
        }
    }
    copy(
        &built.join("libwbruntime_ffi.dll.a"),
        &dir.join("lib/libwbruntime_ffi.dll.a"),
    )?;
    // The exports, checked against the header, then the module-definition file and the MSVC
    // import library made from it.
    let exports = dll.ok_or("no DLL built")?.exports;
    let header = fs::read_to_string(ws.root.join("wbruntime-ffi/include/wbruntime.h"))
        .map_err(|e| format!("wbruntime.h: {e}"))?;
    let declared = header_functions(&header);
    if declared.is_empty() {
        return Err("wbruntime.h declares no function".into());
    }
    let missing: Vec<&String> = declared.difference(&exports).collect();
    if !missing.is_empty() {
        return Err(format!("wbruntime_ffi.dll does not export {missing:?}"));
    }
    let def = dir.join("lib/wbruntime_ffi.def");
    let mut text = String::from("LIBRARY wbruntime_ffi.dll\nEXPORTS\n");
    for name in &declared {
        text.push_str(&format!("    {name}\n"));
    }
    write(&def, text.as_bytes())?;
    run(venv
        .python()
        .args([
            "-m",
            "ziglang",
            "dlltool",
            "-m",
            "i386:x86-64",
            "-D",
            "wbruntime_ffi.dll",
            "-d",
        ])
        .arg(&def)
        .arg("-l")
        .arg(dir.join("lib/wbruntime_ffi.lib")))?;
    common_files(ws, dir)
}

/// The functions `wbruntime.h` declares (cbindgen writes one declaration per line, the name
/// followed by its parameter list).
fn header_functions(header: &str) -> BTreeSet<String> {
    header
        .lines()
        .filter(|l| !l.starts_with([' ', '#', '/', '*', '}', '\t']) && l.contains('('))
        .filter_map(|l| {
            let before = &l[..l.find('(')?];
            let name = before.rsplit([' ', '*']).next()?;
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| name.to_owned())
        })
        .collect()
}

/// What `objdump -p` says of a PE file: the DLLs it imports (lower case) and the names it
/// exports (the name-pointer table).
struct PeInfo {
    imports: Vec<String>,
    exports: BTreeSet<String>,
}

fn pe_info(file: &Path) -> Result<PeInfo> {
    let text = output(
        Command::new("x86_64-w64-mingw32-objdump")
            .arg("-p")
            .arg(file),
    )?;
    let imports: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("DLL Name: "))
        .map(str::to_ascii_lowercase)
        .collect();
    if imports.is_empty() {
        return Err(format!(
            "{}: no imports found (not a PE file?)",
            file.display()
        ));
    }
    let mut exports = BTreeSet::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("[Ordinal/Name Pointer] Table") {
            inside = true;
        } else if inside {
            // `\t[   0] whitebox_decrypt`
            match line
                .trim()
                .strip_prefix('[')
                .and_then(|l| l.split_once(']'))
            {
                Some((_, name)) => {
                    exports.insert(name.trim().to_owned());
                }
                None => break,
            }
        }
    }
    Ok(PeInfo { imports, exports })
}

/// Every DLL `file` imports must be one of [`WINDOWS_SYSTEM_DLLS`].
fn check_windows_imports(file: &Path, info: &PeInfo) -> Result<()> {
    let foreign: Vec<&String> = info
        .imports
        .iter()
        .filter(|d| !WINDOWS_SYSTEM_DLLS.contains(&d.as_str()))
        .collect();
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} imports DLLs Windows does not have: {foreign:?}",
            file.display()
        ))
    }
}

fn wheel(ws: &Workspace, venv: &Venv, build: &Path, arch: &str, out: &Path) -> Result<PathBuf> {
    let wheels = build.join(format!("wheels-{arch}"));
    remove_dir(&wheels)?;
    let mut maturin = venv.command("maturin")?;
    own_toolchain(ws, &mut maturin);
    run(maturin
        .current_dir(&ws.root)
        .args([
            "build",
            "--release",
            "--locked",
            "--zig",
            "--compatibility",
            "manylinux2014",
        ])
        .args(["--target", &format!("{arch}-unknown-linux-gnu")])
        .args(["-m", "python/Cargo.toml", "--out"])
        .arg(&wheels)
        .env("CARGO_TARGET_DIR", build))?;
    let found: Vec<PathBuf> = fs::read_dir(&wheels)
        .map_err(|e| format!("{}: {e}", wheels.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    let [wheel] = found.as_slice() else {
        return Err(format!(
            "maturin wrote {} wheels for {arch}, not one",
            found.len()
        ));
    };
    // auditwheel reads the extension's needs and names the policies it meets.
    let shown = output(venv.command("auditwheel")?.arg("show").arg(wheel))?;
    let tag = format!("manylinux_2_17_{arch}");
    if !shown.contains(&format!("\"{tag}\"")) {
        return Err(format!(
            "auditwheel does not find the wheel {tag}-compatible:\n{shown}"
        ));
    }
    let name = wheel.file_name().ok_or("wheel without a name")?;
    let dest = out.join(name);
    copy(wheel, &dest)?;
    Ok(dest)
}

/// `tar.gz` with sorted entries, owner 0 and one time stamp.
fn tar_gz(stage: &Path, name: &str, out: &Path, epoch: u64) -> Result<PathBuf> {
    let dest = out.join(format!("{name}.tar.gz"));
    let tar = stage.join(format!("{name}.tar"));
    run(Command::new("tar")
        .current_dir(stage)
        .args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--format=gnu",
        ])
        .arg(format!("--mtime=@{epoch}"))
        .arg("-cf")
        .arg(&tar)
        .arg(name))?;
    // gzip -n: no name or time stamp in the gzip header.
    let gz = fs::File::create(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    run(Command::new("gzip")
        .args(["-n", "-9", "-c"])
        .arg(&tar)
        .stdout(gz))?;
    Ok(dest)
}

/// `zip` with every entry's time set to the epoch first; `-X` leaves out Unix owners.
fn zip(stage: &Path, name: &str, out: &Path, epoch: u64) -> Result<PathBuf> {
    let dest = out.join(format!("{name}.zip"));
    let mut files: Vec<PathBuf> = Vec::new();
    walk(&stage.join(name), &mut files)?;
    files.sort();
    run(Command::new("touch")
        .arg("-h")
        .arg(format!("--date=@{epoch}"))
        .args(&files)
        .arg(stage.join(name)))?;
    let relative: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.strip_prefix(stage).ok().map(Path::to_path_buf))
        .collect();
    run(Command::new("zip")
        .current_dir(stage)
        .args(["-X", "-q", "-9", "-D"])
        .arg(&dest)
        .args(&relative))?;
    Ok(dest)
}

fn sha256sums(out: &Path, files: &[PathBuf]) -> Result<()> {
    let mut lines = Vec::new();
    for file in files {
        let bytes = fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let name = file
            .file_name()
            .ok_or("file without a name")?
            .to_string_lossy();
        // The format `sha256sum -c` reads: hash, two spaces, name; sorted by name.
        let line = format!("{}  {name}\n", hex::encode(Sha256::digest(&bytes)));
        lines.push((name.into_owned(), line));
    }
    lines.sort();
    let text: String = lines.into_iter().map(|(_, line)| line).collect();
    write(&out.join("SHA256SUMS"), text.as_bytes())
}

/// `SOURCE_DATE_EPOCH`, else the last commit's time, else 0.
fn source_date_epoch(root: &Path) -> u64 {
    if let Some(e) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return e;
    }
    output(
        Command::new("git")
            .current_dir(root)
            .args(["log", "-1", "--format=%ct"]),
    )
    .ok()
    .and_then(|s| s.trim().parse().ok())
    .unwrap_or(0)
}

/// Removes what an earlier `dist` wrote into `out` (and nothing else there).
fn remove_ours(out: &Path) -> Result<()> {
    for entry in fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let ours = name == "SHA256SUMS"
            || (name.starts_with("wbruntime-")
                && (name.ends_with(".tar.gz") || name.ends_with(".zip") || name.ends_with(".whl")));
        if ours {
            fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Checks every ELF file under `paths`; prints one line per file with its highest need.
pub fn check_glibc(max: &str, paths: &[PathBuf]) -> Result<()> {
    let max = elf::GlibcVersion::parse(max).ok_or(format!("--max {max}: not a glibc version"))?;
    let files = elf_files(paths)?;
    if files.is_empty() {
        return Err("no ELF file to check".into());
    }
    let mut over = Vec::new();
    for file in &files {
        let highest = glibc_need(file)?;
        let shown = highest
            .as_ref()
            .map_or("none".to_owned(), |v| format!("GLIBC_{v}"));
        println!("{}: needs {shown}", file.display());
        if highest.is_some_and(|v| v > max) {
            over.push(file.display().to_string());
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("needs a glibc above {max}: {}", over.join(", ")))
    }
}

/// The ELF files among `paths` (directories searched; static archives are not ELF files).
pub fn elf_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut all)?;
        } else {
            all.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in all {
        let mut head = [0u8; 4];
        let n = {
            use std::io::Read as _;
            let mut file = fs::File::open(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            file.read(&mut head)
                .map_err(|e| format!("{}: {e}", f.display()))?
        };
        if elf::is_elf(&head[..n]) {
            out.push(f);
        }
    }
    out.sort();
    Ok(out)
}

/// The highest glibc version `file` needs.
pub fn glibc_need(file: &Path) -> Result<Option<elf::GlibcVersion>> {
    let bytes = fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    elf::highest_glibc(&bytes).map_err(|e| format!("{}: {e}", file.display()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    fs::copy(from, to).map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
    Ok(())
}

fn write(to: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(to, bytes).map_err(|e| format!("{}: {e}", to.display()))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_functions_are_found() {
        let h = "#include <stdint.h>\n\
                 typedef struct WbKey WbKey;\n\
                 int32_t whitebox_decrypt(const char *key_dir,\n                         int x);\n\
                 const char *wb_error_message(int32_t code);\n\
                 void wb_key_free(WbKey *key);\n\
                 /* a (comment) */\n";
        let got: Vec<String> = header_functions(h).into_iter().collect();
        assert_eq!(got, ["wb_error_message", "wb_key_free", "whitebox_decrypt"]);
    }

    /// The real header declares the C ABI's entry points.
    #[test]
    fn the_shipped_header_declares_whitebox_decrypt() {
        let h = include_str!("../../wbruntime-ffi/include/wbruntime.h");
        let got = header_functions(h);
        assert!(got.contains("whitebox_decrypt"), "{got:?}");
        assert!(got.len() >= 5, "{got:?}");
    }
}
