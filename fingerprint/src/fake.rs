//! A synthetic machine for tests: [`FakeMachine`].

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::sources::{FileInfo, Platform, Sources};
use crate::windows::{MACHINE_GUID_COMMAND, SMBIOS_UUID_COMMAND};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    File { data: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
    Link(PathBuf),
}

/// A machine described in memory, implementing [`Sources`] for tests.
///
/// Files, directories and symbolic links live at absolute paths; directories above any entry
/// exist implicitly with mode `0o755`. Symbolic links are followed like the kernel does
/// (relative targets from the link's directory).
///
/// The reader is a normal account by default: it can read a file only if the file's "other"
/// read bit is set and every directory above it has the "other" search bit, like an account that
/// owns none of them. [`as_root`](Self::as_root) reads everything. [`deny`](Self::deny) refuses a
/// file to every reader whatever its bits, like a security module.
///
/// ```
/// use wbfingerprint::FakeMachine;
///
/// let machine = FakeMachine::linux()
///     .machine_id("4f1b0c3e9d2a48e7b6c5a1f0e9d8c7b6")
///     .nic("eth0", "3c:7c:3f:12:34:56");
/// let fp = wbfingerprint::from_sources(&machine)?;
/// assert_eq!(fp, wbfingerprint::from_sources(&machine.clone().as_root())?);
/// # Ok::<(), wbfingerprint::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeMachine {
    platform: Platform,
    entries: BTreeMap<PathBuf, Entry>,
    commands: BTreeMap<String, Result<String, io::ErrorKind>>,
    root: bool,
    denied: BTreeSet<PathBuf>,
    reverse_listing: bool,
}

/// The lookup key of a command: program and arguments separated by spaces.
fn command_key(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

impl FakeMachine {
    /// An empty Linux machine (no files at all), read by a normal account.
    pub fn linux() -> Self {
        Self::empty(Platform::Linux)
    }

    /// An empty Windows machine (no commands answer), read by a normal account.
    pub fn windows() -> Self {
        Self::empty(Platform::Windows)
    }

    fn empty(platform: Platform) -> Self {
        FakeMachine {
            platform,
            entries: BTreeMap::new(),
            commands: BTreeMap::new(),
            root: false,
            denied: BTreeSet::new(),
            reverse_listing: false,
        }
    }

    /// Adds (or replaces) a file with mode `0o444`.
    pub fn file(self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Self {
        self.file_mode(path, contents, 0o444)
    }

    /// Adds (or replaces) a file with the given permission bits.
    pub fn file_mode(
        mut self,
        path: impl AsRef<Path>,
        contents: impl AsRef<[u8]>,
        mode: u32,
    ) -> Self {
        self.entries.insert(
            path.as_ref().to_path_buf(),
            Entry::File {
                data: contents.as_ref().to_vec(),
                mode,
            },
        );
        self
    }

    /// Adds (or replaces) a directory with the given permission bits.
    pub fn dir_mode(mut self, path: impl AsRef<Path>, mode: u32) -> Self {
        self.entries
            .insert(path.as_ref().to_path_buf(), Entry::Dir { mode });
        self
    }

    /// Adds (or replaces) a symbolic link.
    pub fn link(mut self, path: impl AsRef<Path>, target: impl AsRef<Path>) -> Self {
        self.entries.insert(
            path.as_ref().to_path_buf(),
            Entry::Link(target.as_ref().to_path_buf()),
        );
        self
    }

    /// Removes an entry and everything below it.
    pub fn remove(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        self.entries.retain(|p, _| !p.starts_with(path));
        self
    }

    /// Makes `program args…` print `stdout` and succeed.
    pub fn command(mut self, program: &str, args: &[&str], stdout: impl Into<String>) -> Self {
        self.commands
            .insert(command_key(program, args), Ok(stdout.into()));
        self
    }

    /// Makes `program args…` fail with an error of this kind.
    pub fn command_fails(mut self, program: &str, args: &[&str], kind: io::ErrorKind) -> Self {
        self.commands.insert(command_key(program, args), Err(kind));
        self
    }

    /// Reads as root: every file is readable whatever its bits (except [`deny`](Self::deny)).
    pub fn as_root(mut self) -> Self {
        self.root = true;
        self
    }

    /// Reads as a normal account (the default).
    pub fn as_user(mut self) -> Self {
        self.root = false;
        self
    }

    /// Refuses to read this file to every reader, whatever its permission bits (a security
    /// module or sandbox).
    pub fn deny(mut self, path: impl AsRef<Path>) -> Self {
        self.denied.insert(path.as_ref().to_path_buf());
        self
    }

    /// Lists directories in reverse name order instead of name order (real directories come in
    /// any order).
    pub fn reverse_listing(mut self, reverse: bool) -> Self {
        self.reverse_listing = reverse;
        self
    }

    // Linux conveniences.

    /// Sets `/etc/machine-id` (mode `0o444`).
    pub fn machine_id(self, id: &str) -> Self {
        self.file("/etc/machine-id", format!("{id}\n"))
    }

    /// Sets a DMI attribute such as `product_uuid` or `board_serial` in `/sys/class/dmi/id`
    /// (a link to `/sys/devices/virtual/dmi/id`, as on a real machine) with the given bits
    /// (real kernels use `0o400` for the identifying ones).
    pub fn dmi(self, attribute: &str, value: &str, mode: u32) -> Self {
        self.link("/sys/class/dmi/id", "../../devices/virtual/dmi/id")
            .file_mode(
                Path::new("/sys/devices/virtual/dmi/id").join(attribute),
                format!("{value}\n"),
                mode,
            )
    }

    /// Sets `/proc/cpuinfo` to two identical x86 processors.
    pub fn cpu(self, vendor: &str, family: u32, model: u32, model_name: &str) -> Self {
        let block = |n: u32| {
            format!(
                "processor\t: {n}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n\
                 model name\t: {model_name}\nstepping\t: 1\nmicrocode\t: 0x{:x}\ncpu MHz\t\t: {}.123\n\
                 flags\t\t: fpu vme de pse\n\n",
                0x10 + n,
                2400 + 17 * n
            )
        };
        self.file("/proc/cpuinfo", format!("{}{}", block(0), block(1)))
    }

    /// Adds a physical (PCI) Ethernet interface with a hardware address.
    pub fn nic(self, name: &str, mac: &str) -> Self {
        let bus = name
            .bytes()
            .fold(0u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
        let device = format!("/sys/devices/pci0000:00/0000:00:1c.0/0000:{bus:02x}:00.0");
        self.interface(name, mac, &device, "1", "0")
    }

    /// Adds a virtual interface (no `device` link), like `lo`, `docker0` or `veth…`.
    pub fn virtual_nic(self, name: &str, mac: &str) -> Self {
        let real = format!("/sys/devices/virtual/net/{name}");
        self.link(
            format!("/sys/class/net/{name}"),
            format!("../../devices/virtual/net/{name}"),
        )
        .file(format!("{real}/address"), format!("{mac}\n"))
        .file(
            format!("{real}/type"),
            if name == "lo" { "772\n" } else { "1\n" },
        )
        .file(format!("{real}/addr_assign_type"), "1\n")
    }

    /// Adds an interface under a device directory with the given `type` and
    /// `addr_assign_type` (e.g. `"1"`, `"0"` for Ethernet with a permanent address).
    pub fn interface(
        self,
        name: &str,
        mac: &str,
        device: &str,
        kind: &str,
        addr_assign_type: &str,
    ) -> Self {
        let real = format!("{device}/net/{name}");
        let class_target = format!("../../{}", real.trim_start_matches("/sys/"));
        self.dir_mode(device, 0o755)
            .link(format!("/sys/class/net/{name}"), class_target)
            .link(format!("{real}/device"), "../..")
            .file(format!("{real}/address"), format!("{mac}\n"))
            .file(format!("{real}/type"), format!("{kind}\n"))
            .file(
                format!("{real}/addr_assign_type"),
                format!("{addr_assign_type}\n"),
            )
    }

    /// Puts `/` on the first partition of a SATA/SCSI disk `name` (e.g. `sda`) whose serial is
    /// in its SCSI unit serial number page (`device/vpd_pg80`), as the kernel shows it.
    pub fn root_disk(self, name: &str, serial: &str) -> Self {
        const SCSI: &str = "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0";
        let disk = format!("{SCSI}/block/{name}"); // relative to /sys
        let part = format!("{name}1");
        let len = u16::try_from(serial.len()).unwrap_or(u16::MAX);
        let mut page = vec![0x00, 0x80];
        page.extend_from_slice(&len.to_be_bytes());
        page.extend_from_slice(serial.as_bytes());
        self.file(
            "/proc/self/mountinfo",
            format!(
                "22 29 0:21 / /proc rw,relatime shared:13 - proc proc rw\n\
                 29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/{part} rw,errors=remount-ro\n"
            ),
        )
        .link("/sys/dev/block/8:0", format!("../../{disk}"))
        .link("/sys/dev/block/8:1", format!("../../{disk}/{part}"))
        .link(format!("/sys/class/block/{name}"), format!("../../{disk}"))
        .link(
            format!("/sys/class/block/{part}"),
            format!("../../{disk}/{part}"),
        )
        .link(format!("/sys/block/{name}"), format!("../{disk}"))
        .file(format!("/sys/{disk}/{part}/partition"), "1\n")
        .dir_mode(format!("/sys/{disk}/slaves"), 0o755)
        .link(format!("/sys/{disk}/device"), "../../../0:0:0:0")
        .file(format!("/sys/{SCSI}/vpd_pg80"), page)
    }

    /// Puts `/` on an overlay file system, as in a Docker container.
    pub fn overlay_root(self) -> Self {
        self.file(
            "/proc/self/mountinfo",
            "600 500 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/docker/l\n",
        )
    }

    // Windows conveniences.

    /// Makes `reg query` report this `MachineGuid`.
    pub fn machine_guid(self, guid: &str) -> Self {
        let (program, args) = MACHINE_GUID_COMMAND;
        self.command(
            program,
            args,
            format!(
                "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography\r\n    \
                 MachineGuid    REG_SZ    {guid}\r\n\r\n"
            ),
        )
    }

    /// Makes PowerShell report this SMBIOS UUID.
    pub fn smbios_uuid(self, uuid: &str) -> Self {
        let (program, args) = SMBIOS_UUID_COMMAND;
        self.command(program, args, format!("{uuid}\r\n"))
    }

    // Path resolution.

    /// The mode of an existing directory (explicit or implicit).
    fn dir_mode_of(&self, path: &Path) -> Option<u32> {
        match self.entries.get(path) {
            Some(Entry::Dir { mode }) => Some(*mode),
            Some(_) => None,
            None if path == Path::new("/") || self.has_children(path) => Some(0o755),
            None => None,
        }
    }

    fn has_children(&self, path: &Path) -> bool {
        self.entries
            .keys()
            .any(|k| k != path && k.starts_with(path))
    }

    /// Resolves links in `path` (the last component too if `follow_last`), checking that each
    /// directory passed through may be searched by the reader.
    fn resolve(&self, path: &Path, follow_last: bool) -> io::Result<PathBuf> {
        // The machine's paths are Unix paths whatever the host: rooted is absolute (on a
        // Windows host `/etc` has a root but no drive, and `is_absolute` would refuse it).
        if !path.has_root() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "relative path"));
        }
        let mut queue: Vec<OsString> = Vec::new();
        push_components(&mut queue, path);
        let mut out = PathBuf::from("/");
        let mut hops = 0;
        while let Some(c) = queue.pop() {
            if c == ".." {
                out.pop();
                continue;
            }
            let Some(dir_mode) = self.dir_mode_of(&out) else {
                return Err(io::ErrorKind::NotFound.into());
            };
            if !self.root && dir_mode & 0o001 == 0 {
                return Err(io::ErrorKind::PermissionDenied.into());
            }
            out.push(&c);
            if queue.is_empty() && !follow_last {
                break;
            }
            if let Some(Entry::Link(target)) = self.entries.get(&out) {
                hops += 1;
                if hops > 40 {
                    return Err(io::Error::other("too many levels of symbolic links"));
                }
                out.pop();
                if target.has_root() {
                    out = PathBuf::from("/");
                }
                push_components(&mut queue, target);
            }
        }
        Ok(out)
    }
}

/// Pushes the components of `path` onto a stack so that the first component is popped first.
fn push_components(stack: &mut Vec<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    stack.extend(parts.into_iter().rev());
}

impl Sources for FakeMachine {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let real = self.resolve(path, true)?;
        match self.entries.get(&real) {
            Some(Entry::File { data, mode }) => {
                if self.denied.contains(&real) || self.denied.contains(path) {
                    return Err(io::ErrorKind::PermissionDenied.into());
                }
                if !self.root && mode & 0o004 == 0 {
                    return Err(io::ErrorKind::PermissionDenied.into());
                }
                Ok(data.clone())
            }
            Some(_) => Err(io::ErrorKind::IsADirectory.into()),
            None if self.dir_mode_of(&real).is_some() => Err(io::ErrorKind::IsADirectory.into()),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let real = self.resolve(path, true)?;
        let Some(mode) = self.dir_mode_of(&real) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        if !self.root && mode & 0o004 == 0 {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        let names: BTreeSet<String> = self
            .entries
            .keys()
            .filter_map(|k| k.strip_prefix(&real).ok())
            .filter_map(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let mut names: Vec<String> = names.into_iter().collect();
        if self.reverse_listing {
            names.reverse();
        }
        Ok(names)
    }

    fn metadata(&self, path: &Path) -> io::Result<FileInfo> {
        let real = self.resolve(path, true)?;
        match self.entries.get(&real) {
            Some(Entry::File { mode, .. }) => Ok(FileInfo {
                mode: *mode,
                is_dir: false,
            }),
            _ => match self.dir_mode_of(&real) {
                Some(mode) => Ok(FileInfo { mode, is_dir: true }),
                None => Err(io::ErrorKind::NotFound.into()),
            },
        }
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let real = self.resolve(path, false)?;
        match self.entries.get(&real) {
            Some(Entry::Link(target)) => Ok(target.clone()),
            Some(_) => Err(io::ErrorKind::InvalidInput.into()),
            None if self.dir_mode_of(&real).is_some() => Err(io::ErrorKind::InvalidInput.into()),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    fn command(&self, program: &str, args: &[&str]) -> io::Result<String> {
        match self.commands.get(&command_key(program, args)) {
            Some(Ok(out)) => Ok(out.clone()),
            Some(Err(kind)) => Err((*kind).into()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{program}: not found"),
            )),
        }
    }
}
