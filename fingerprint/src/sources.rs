//! Where identifiers come from: the [`Sources`] trait and the real machine, [`SystemSources`].

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which set of collectors applies to a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// Linux (and other Unix systems, which have few of the Linux files): `/etc/machine-id`,
    /// DMI, `/proc/cpuinfo`, network interfaces and the root disk in `/sys`.
    Linux,
    /// Windows: `MachineGuid` from the registry and the SMBIOS UUID, through commands.
    Windows,
}

impl Platform {
    /// The lower-case name shown by `wbfingerprint --explain`.
    pub const fn name(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Windows => "windows",
        }
    }
}

/// What the collectors need to know about a file or directory. Paths are followed through
/// symbolic links, like [`std::fs::metadata`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// The Unix permission bits (`0o7777` mask), e.g. `0o444` for a world-readable file. The
    /// "other" bits decide whether a source is used (see the crate documentation). On systems
    /// without Unix permissions, [`SystemSources`] reports `0o755` for directories and `0o444`
    /// for files.
    pub mode: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
}

impl FileInfo {
    /// Every account may read it (the "other" read bit).
    pub const fn world_readable(&self) -> bool {
        self.mode & 0o004 != 0
    }

    /// Every account may look inside it, if it is a directory (the "other" search bit).
    pub const fn world_searchable(&self) -> bool {
        self.mode & 0o001 != 0
    }
}

/// How identifiers are read: the real machine ([`SystemSources`]) or a synthetic one
/// ([`FakeMachine`](crate::FakeMachine)) for tests.
///
/// The collectors call only these methods, so an implementation fully describes a machine.
/// Paths are absolute, with `/` separators (Linux paths).
pub trait Sources {
    /// Which collectors to run.
    fn platform(&self) -> Platform;

    /// The whole contents of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// The names of the entries of a directory, in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;

    /// Permission bits and kind of a file or directory, following symbolic links. Returns an
    /// error of kind [`io::ErrorKind::NotFound`] if it does not exist.
    fn metadata(&self, path: &Path) -> io::Result<FileInfo>;

    /// The target of a symbolic link, as stored (often relative to the link's directory).
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;

    /// Runs a program (a bare name such as `reg.exe`, looked up by the implementation) with
    /// arguments and returns its standard output. A program that cannot start, fails, or runs
    /// too long is an error.
    fn command(&self, program: &str, args: &[&str]) -> io::Result<String>;
}

/// The real machine this process runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemSources;

/// How long [`SystemSources::command`] waits for a program.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl Sources for SystemSources {
    fn platform(&self) -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn metadata(&self, path: &Path) -> io::Result<FileInfo> {
        let m = std::fs::metadata(path)?;
        Ok(FileInfo {
            mode: mode_of(&m),
            is_dir: m.is_dir(),
        })
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(path)
    }

    /// On Windows, a bare program name found in `%SystemRoot%\System32` (or, for
    /// `powershell.exe`, in its `WindowsPowerShell\v1.0` folder) runs from there rather than
    /// from the search path, and no console window is shown. Gives up after 30 seconds.
    fn command(&self, program: &str, args: &[&str]) -> io::Result<String> {
        let mut cmd = std::process::Command::new(resolve_program(program));
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        hide_window(&mut cmd);
        let mut child = cmd.spawn()?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no standard output pipe"))?;
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            io::Read::read_to_end(&mut stdout, &mut out).map(|_| out)
        });
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{program} did not finish in {} s",
                        COMMAND_TIMEOUT.as_secs()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = reader
            .join()
            .map_err(|_| io::Error::other("the output reader failed"))??;
        if !status.success() {
            return Err(io::Error::other(format!("{program} failed ({status})")));
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(unix)]
fn mode_of(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(m: &std::fs::Metadata) -> u32 {
    if m.is_dir() { 0o755 } else { 0o444 }
}

#[cfg(windows)]
fn resolve_program(program: &str) -> PathBuf {
    if program.contains(['\\', '/']) {
        return PathBuf::from(program);
    }
    let root = std::env::var_os("SystemRoot")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
    let system32 = root.join("System32");
    let candidates = [
        system32.join(program),
        system32
            .join("WindowsPowerShell")
            .join("v1.0")
            .join(program),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

#[cfg(not(windows))]
fn resolve_program(program: &str) -> PathBuf {
    PathBuf::from(program)
}

#[cfg(windows)]
fn hide_window(cmd: &mut std::process::Command) {
    use std::os::windows::process::CommandExt as _;
    /// `CREATE_NO_WINDOW`: no console window flashes up when a GUI application collects.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    cmd.creation_flags(CREATE_NO_WINDOW);
}

#[cfg(not(windows))]
fn hide_window(_cmd: &mut std::process::Command) {}
