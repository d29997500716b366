//! The Linux collectors. They read only through [`Sources`], so they run (in tests) on any
//! platform.

use std::path::{Path, PathBuf};

use crate::Collected;
use crate::access::{
    Access, Problem, exists_public, list_public, normalize_path, read_public, read_public_text,
};
use crate::normalize;
use crate::sources::Sources;

/// Every Linux source, in the order `--explain` lists them.
pub(crate) fn collect(src: &dyn Sources) -> Vec<Collected> {
    vec![
        first_file(
            src,
            "machine-id",
            &["/etc/machine-id", "/var/lib/dbus/machine-id"],
            normalize::uuid,
        ),
        first_file(
            src,
            "dmi-product-uuid",
            &["/sys/class/dmi/id/product_uuid"],
            normalize::uuid,
        ),
        first_file(
            src,
            "dmi-board-serial",
            &["/sys/class/dmi/id/board_serial"],
            normalize::meaningful,
        ),
        cpu(src),
        mac_addresses(src),
        root_disk_serial(src),
    ]
}

/// An identifying source read from the first of `paths` that holds a real value.
fn first_file(
    src: &dyn Sources,
    name: &'static str,
    paths: &[&str],
    normalize: fn(&str) -> Option<String>,
) -> Collected {
    let mut tried = Vec::new();
    let mut root_only = None;
    for p in paths {
        let path = Path::new(p);
        match read_public_text(src, path).into_result(path) {
            Ok(text) => match normalize(&text) {
                Some(value) => {
                    return Collected::used(name, true, p, value).with_details(tried);
                }
                None => tried.push(format!("{p}: empty or a placeholder")),
            },
            Err(Problem::RootOnly(why)) => {
                tried.push(format!("{p}: {why}"));
                root_only.get_or_insert(why);
            }
            Err(Problem::Unavailable(why)) => tried.push(why),
            Err(denied @ Problem::Denied { .. }) => return denied.into_collected(name, true),
        }
    }
    let single = paths.len() == 1;
    let c = match root_only {
        Some(why) if single => Collected::not_used(name, true, why),
        Some(_) => Collected::not_used(name, true, "readable only by root".into()),
        None if single => Collected::unavailable(name, true, tried.join("; ")),
        None => Collected::unavailable(name, true, "no usable value".into()),
    };
    if single { c } else { c.with_details(tried) }
}

/// The `/proc/cpuinfo` fields that identify the processor model (first occurrence of each,
/// i.e. the boot processor's): x86, ARM, RISC-V and POWER spellings. Frequencies, microcode
/// revisions, flags (which change with kernel and microcode updates) and core counts are left
/// out.
const CPU_KEYS: &[&str] = &[
    "vendor_id",
    "cpu family",
    "model",
    "model name",
    "stepping",
    "CPU implementer",
    "CPU architecture",
    "CPU variant",
    "CPU part",
    "CPU revision",
    "Hardware",
    "Revision",
    "Serial",
    "isa",
    "mvendorid",
    "marchid",
    "mimpid",
    "uarch",
    "cpu",
    "revision",
    "platform",
    "machine",
];

/// CPU identity: not identifying on its own.
fn cpu(src: &dyn Sources) -> Collected {
    const NAME: &str = "cpu";
    const PATH: &str = "/proc/cpuinfo";
    let text = match read_public_text(src, Path::new(PATH)).into_result(Path::new(PATH)) {
        Ok(t) => t,
        Err(p) => return p.into_collected(NAME, false),
    };
    let mut found: Vec<Option<String>> = vec![None; CPU_KEYS.len()];
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let value = normalize::clean(value);
        // Serial numbers (Raspberry Pi) may be all-zero placeholders; model numbers such as
        // "0" or "6" are real.
        if value.is_empty() || (key == "Serial" && normalize::is_placeholder(&value)) {
            continue;
        }
        if let Some(i) = CPU_KEYS.iter().position(|k| *k == key)
            && let Some(slot @ None) = found.get_mut(i)
        {
            *slot = Some(value);
        }
    }
    let fields: Vec<String> = CPU_KEYS
        .iter()
        .zip(&found)
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
    if fields.is_empty() {
        return Collected::unavailable(NAME, false, format!("{PATH} names no processor model"));
    }
    let label = ["model name", "Hardware", "uarch", "cpu", "CPU part"]
        .iter()
        .find_map(|k| {
            let i = CPU_KEYS.iter().position(|c| c == k)?;
            found.get(i)?.clone()
        });
    let origin = match label {
        Some(l) => format!("{PATH}: {l}"),
        None => PATH.to_owned(),
    };
    Collected::used(NAME, false, &origin, fields.join("\n"))
}

/// MAC addresses of physical network interfaces, sorted.
fn mac_addresses(src: &dyn Sources) -> Collected {
    const NAME: &str = "mac-addresses";
    const NET: &str = "/sys/class/net";
    let names = match list_public(src, Path::new(NET)).into_result(Path::new(NET)) {
        Ok(n) => n,
        Err(p) => return p.into_collected(NAME, true),
    };
    let mut macs = Vec::new();
    let mut used = Vec::new();
    let mut details = Vec::new();
    for n in &names {
        match interface_mac(src, &Path::new(NET).join(n)) {
            Ok(Ok(mac)) => {
                details.push(format!("{n}: used"));
                used.push(n.as_str());
                macs.push(mac);
            }
            Ok(Err(why)) => details.push(format!("{n}: not used: {why}")),
            Err(denied @ Problem::Denied { .. }) => {
                return denied.into_collected(NAME, true).with_details(details);
            }
            Err(Problem::RootOnly(why) | Problem::Unavailable(why)) => {
                details.push(format!("{n}: not used: {why}"));
            }
        }
    }
    macs.sort();
    macs.dedup();
    if macs.is_empty() {
        let why = if names.is_empty() {
            format!("{NET} lists no interfaces")
        } else {
            "no physical interface with a hardware address".to_owned()
        };
        return Collected::unavailable(NAME, true, why).with_details(details);
    }
    let origin = format!("{NET}/{{{}}}/address", used.join(","));
    Collected::used(NAME, true, &origin, macs.join(",")).with_details(details)
}

/// The MAC address of one interface (`Ok(Ok)`), why it is not used (`Ok(Err)`), or a read
/// problem.
fn interface_mac(src: &dyn Sources, dir: &Path) -> Result<Result<String, String>, Problem> {
    // Physical means "backed by a device": virtual interfaces (lo, bridges, veth, tun, ifb,
    // bonds, VLANs, ...) have no `device` link.
    if !exists_public(src, &dir.join("device")).into_result(&dir.join("device"))? {
        return Ok(Err("virtual (no device link)".into()));
    }
    if let Ok(target) = src.read_link(dir) {
        let real = normalize_path(&dir.parent().unwrap_or(dir).join(target));
        // The components above the interface's own name: the bus path of its device.
        let bus_path = real.parent().unwrap_or(&real);
        if bus_path
            .components()
            .any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with("usb")))
        {
            return Ok(Err("USB interface (removable)".into()));
        }
    }
    let type_path = dir.join("type");
    let kind = read_public_text(src, &type_path).into_result(&type_path)?;
    if kind != "1" {
        return Ok(Err(format!("not Ethernet (type {kind})")));
    }
    let assign_path = dir.join("addr_assign_type");
    match read_public_text(src, &assign_path) {
        Access::Absent => {} // older kernels: the address is the device's
        other => match other.into_result(&assign_path)?.as_str() {
            "0" => {}
            "1" => {
                return Ok(Err(
                    "random address (changes when the interface is created)".into(),
                ));
            }
            "2" => return Ok(Err("address taken from another device".into())),
            "3" => return Ok(Err("address set by software".into())),
            t => return Ok(Err(format!("address origin {t} unknown"))),
        },
    }
    let address_path = dir.join("address");
    let address = read_public_text(src, &address_path).into_result(&address_path)?;
    Ok(normalize::mac(&address).ok_or_else(|| "no hardware address".to_owned()))
}

/// Serial number(s) of the disk(s) holding the root file system.
fn root_disk_serial(src: &dyn Sources) -> Collected {
    const NAME: &str = "root-disk-serial";
    match root_disk_serial_inner(src) {
        Ok(c) => c,
        Err(p) => p.into_collected(NAME, true),
    }
}

/// The root mount from `/proc/self/mountinfo`: (major, minor, fs type, source).
fn root_mount(mountinfo: &str) -> Option<(u32, u32, String, String)> {
    let mut found = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.get(4) != Some(&"/") {
            continue;
        }
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let Some((major, minor)) = fields.get(2).and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        let fstype = fields.get(dash + 1).copied().unwrap_or("?");
        let source = fields.get(dash + 2).copied().unwrap_or("?");
        // The last mount on / is the one in effect.
        found = Some((major, minor, fstype.to_owned(), source.to_owned()));
    }
    found
}

/// Where a sysfs link points, as an absolute path (the path itself if it is no link).
fn follow(src: &dyn Sources, link: &Path) -> PathBuf {
    match src.read_link(link) {
        Ok(target) => normalize_path(&link.parent().unwrap_or(link).join(target)),
        Err(_) => link.to_path_buf(),
    }
}

fn root_disk_serial_inner(src: &dyn Sources) -> Result<Collected, Problem> {
    const NAME: &str = "root-disk-serial";
    let mountinfo_path = Path::new("/proc/self/mountinfo");
    let mountinfo = read_public_text(src, mountinfo_path).into_result(mountinfo_path)?;
    let Some((major, minor, fstype, source)) = root_mount(&mountinfo) else {
        return Err(Problem::Unavailable(
            "/proc/self/mountinfo has no root mount".into(),
        ));
    };
    let link = if major != 0 {
        PathBuf::from(format!("/sys/dev/block/{major}:{minor}"))
    } else if source.starts_with("/dev/") {
        // Btrfs and others report an anonymous device number; the source names the device.
        let dev = follow(src, Path::new(&source));
        match dev.file_name() {
            Some(n) => Path::new("/sys/class/block").join(n),
            None => return Err(Problem::Unavailable(format!("bad root source {source}"))),
        }
    } else {
        return Err(Problem::Unavailable(format!(
            "the root file system is {fstype} ({source}), not on a block device \
             (a container's root usually is)"
        )));
    };
    let mut disks = Vec::new();
    underlying_disks(src, &link, 0, &mut disks)?;
    disks.sort();
    disks.dedup();
    let mut serials = Vec::new();
    let mut origins = Vec::new();
    let mut details = Vec::new();
    for disk in &disks {
        let name = disk.file_name().map_or_else(
            || disk.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match disk_serial(src, disk)? {
            Some((path, serial)) => {
                details.push(format!("{name}: serial in {}", path.display()));
                origins.push(name);
                serials.push(serial);
            }
            None => details.push(format!("{name}: reports no serial")),
        }
    }
    serials.sort();
    serials.dedup();
    if serials.is_empty() {
        let names: Vec<String> = disks
            .iter()
            .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        return Ok(Collected::unavailable(
            NAME,
            true,
            format!(
                "the root disk ({}) reports no serial",
                if names.is_empty() {
                    "none found".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
    let origin = format!("serial of {}", origins.join(", "));
    Ok(Collected::used(NAME, true, &origin, serials.join(",")).with_details(details))
}

/// The disks (sysfs directories) under a block device: a partition's disk, and through
/// device-mapper or md (`slaves`) the disks below.
fn underlying_disks(
    src: &dyn Sources,
    link: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> Result<(), Problem> {
    let dev = follow(src, link);
    let partition = dev.join("partition");
    let disk = if exists_public(src, &partition).into_result(&partition)? {
        dev.parent().map_or_else(|| dev.clone(), Path::to_path_buf)
    } else {
        dev
    };
    if !exists_public(src, &disk).into_result(&disk)? {
        return Err(Problem::Unavailable(format!(
            "the root block device {} is not in /sys",
            link.display()
        )));
    }
    let slaves_dir = disk.join("slaves");
    let slaves = match list_public(src, &slaves_dir) {
        Access::Absent => Vec::new(),
        other => other.into_result(&slaves_dir)?,
    };
    if slaves.is_empty() || depth >= 4 {
        out.push(disk);
        return Ok(());
    }
    for s in slaves {
        underlying_disks(src, &slaves_dir.join(s), depth + 1, out)?;
    }
    Ok(())
}

/// The serial of one disk: virtio (`serial`), NVMe and MMC (`device/serial`), SCSI, SATA and
/// USB storage (`device/vpd_pg80`, the SCSI unit serial number page).
fn disk_serial(src: &dyn Sources, disk: &Path) -> Result<Option<(PathBuf, String)>, Problem> {
    let mut root_only = None;
    for candidate in ["serial", "device/serial", "device/vpd_pg80"] {
        let path = disk.join(candidate);
        let data = match read_public(src, &path).into_result(&path) {
            Ok(d) => d,
            Err(p @ Problem::Denied { .. }) => return Err(p),
            Err(p @ Problem::RootOnly(_)) => {
                root_only.get_or_insert(p);
                continue;
            }
            Err(Problem::Unavailable(_)) => continue,
        };
        let text = if candidate.ends_with("vpd_pg80") {
            vpd_serial(&data)
        } else {
            String::from_utf8_lossy(&data).into_owned()
        };
        if let Some(serial) = normalize::meaningful(&text) {
            return Ok(Some((path, serial)));
        }
    }
    match root_only {
        Some(p) => Err(p),
        None => Ok(None),
    }
}

/// The serial in a SCSI VPD page 0x80: a 4-byte header (the page code at byte 1, the length at
/// bytes 2..4, big-endian), then the serial in ASCII.
fn vpd_serial(page: &[u8]) -> String {
    let (Some(&0x80), Some(&hi), Some(&lo)) = (page.get(1), page.get(2), page.get(3)) else {
        return String::new();
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let body = page.get(4..).unwrap_or(&[]);
    let body = body.get(..len).unwrap_or(body);
    String::from_utf8_lossy(body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_root() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n\
                    28 27 0:25 / /mnt ro - tmpfs x ro\n";
        assert_eq!(
            root_mount(text),
            Some((254, 0, "ext4".into(), "/dev/vda".into()))
        );
        let overlay = "600 500 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/a\n";
        assert_eq!(
            root_mount(overlay),
            Some((0, 52, "overlay".into(), "overlay".into()))
        );
        assert_eq!(root_mount(""), None);
    }

    #[test]
    fn vpd_page() {
        let mut page = vec![0x00, 0x80, 0x00, 0x0a];
        page.extend_from_slice(b"  S3Z1NB0K");
        page.extend_from_slice(b"junk");
        assert_eq!(
            normalize::meaningful(&vpd_serial(&page)).as_deref(),
            Some("S3Z1NB0K")
        );
        assert_eq!(vpd_serial(&[0x00, 0x83, 0x00]), "");
        assert_eq!(vpd_serial(&[0x00, 0x80, 0xff, 0xff, b'A']), "A");
    }
}
