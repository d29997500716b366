//! The glibc symbol versions an ELF file needs, read from its version-needs section.
//!
//! A dynamically linked program or library built against glibc records, for every versioned
//! symbol it imports, the version it was linked with (`memcpy@GLIBC_2.14`,
//! `__libc_start_main@GLIBC_2.34`). These live in the `SHT_GNU_verneed` section: a list of
//! `Elf64_Verneed` records, one per needed library, each followed by `Elf64_Vernaux` records
//! naming one version (System V ABI, Linux Standard Base Core Specification 5.0, §10.7.4
//! "Symbol Version Table"). The dynamic loader refuses to start a program that needs a version
//! the machine's glibc does not define, so the highest `GLIBC_x.y` here is the oldest glibc it
//! runs on.
//!
//! Only 64-bit ELF is read (every Linux target we ship: x86_64, aarch64), either byte order.
//! Static archives (`.a`) are not ELF files: they are linked into the user's program, which
//! then carries its own needs.

use std::fmt;

/// A glibc version `major.minor[.patch]`, ordered numerically (2.17 < 2.9 is false).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlibcVersion(pub Vec<u32>);

impl GlibcVersion {
    /// Parses `2.17` (or `GLIBC_2.17`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix("GLIBC_").unwrap_or(s);
        let parts: Option<Vec<u32>> = s.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| p.len() >= 2).map(GlibcVersion)
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// Why a file could not be read as a 64-bit ELF file.
#[derive(Debug, PartialEq, Eq)]
pub struct NotElf(pub &'static str);

impl fmt::Display for NotElf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Is `bytes` an ELF file (of any class)?
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Little reader over the file with the file's byte order; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    big: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&self, at: u64) -> Result<[u8; N], NotElf> {
        let at = usize::try_from(at).map_err(|_| NotElf("offset out of range"))?;
        self.bytes
            .get(at..at.checked_add(N).ok_or(NotElf("offset out of range"))?)
            .and_then(|s| s.try_into().ok())
            .ok_or(NotElf("truncated"))
    }
    fn u16(&self, at: u64) -> Result<u16, NotElf> {
        let b = self.take::<2>(at)?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, at: u64) -> Result<u32, NotElf> {
        let b = self.take::<4>(at)?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, at: u64) -> Result<u64, NotElf> {
        let b = self.take::<8>(at)?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
    /// A NUL-terminated string at `at`.
    fn cstr(&self, at: u64) -> Result<&str, NotElf> {
        let at = usize::try_from(at).map_err(|_| NotElf("offset out of range"))?;
        let rest = self.bytes.get(at..).ok_or(NotElf("string out of range"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(NotElf("unterminated string"))?;
        std::str::from_utf8(&rest[..end]).map_err(|_| NotElf("string not UTF-8"))
    }
}

/// `SHT_GNU_verneed`.
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

/// Every version name the file needs, by library: `("libc.so.6", "GLIBC_2.17")`, …
pub fn version_needs(bytes: &[u8]) -> Result<Vec<(String, String)>, NotElf> {
    if !is_elf(bytes) {
        return Err(NotElf("not an ELF file"));
    }
    if bytes.get(4) != Some(&2) {
        return Err(NotElf("not a 64-bit ELF file"));
    }
    let big = match bytes.get(5) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err(NotElf("unknown byte order")),
    };
    let r = Reader { bytes, big };
    // Elf64_Ehdr: e_shoff at 0x28, e_shentsize at 0x3a, e_shnum at 0x3c.
    let shoff = r.u64(0x28)?;
    let shentsize = u64::from(r.u16(0x3a)?);
    let shnum = u64::from(r.u16(0x3c)?);
    if shentsize < 0x40 {
        return Err(NotElf("section header entries too small"));
    }
    // Elf64_Shdr: sh_type +4, sh_offset +0x18, sh_size +0x20, sh_link +0x28, sh_info +0x2c.
    let section = |i: u64| shoff + i * shentsize;
    let mut out = Vec::new();
    for i in 0..shnum {
        let sh = section(i);
        if r.u32(sh + 4)? != SHT_GNU_VERNEED {
            continue;
        }
        let offset = r.u64(sh + 0x18)?;
        let count = r.u32(sh + 0x2c)?; // sh_info: the number of Verneed records
        let strtab = r.u64(section(u64::from(r.u32(sh + 0x28)?)) + 0x18)?;
        // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
        let mut need = offset;
        for _ in 0..count {
            let aux_count = r.u16(need + 2)?;
            let file = r.cstr(strtab + u64::from(r.u32(need + 4)?))?.to_owned();
            let mut aux = need + u64::from(r.u32(need + 8)?);
            for _ in 0..aux_count {
                let name = r.cstr(strtab + u64::from(r.u32(aux + 8)?))?;
                out.push((file.clone(), name.to_owned()));
                let next = r.u32(aux + 12)?;
                if next == 0 {
                    break;
                }
                aux += u64::from(next);
            }
            let next = r.u32(need + 12)?;
            if next == 0 {
                break;
            }
            need += u64::from(next);
        }
    }
    Ok(out)
}

/// The highest `GLIBC_x.y` the file needs, or `None` if it needs none (a static executable,
/// or one that imports no versioned glibc symbol).
pub fn highest_glibc(bytes: &[u8]) -> Result<Option<GlibcVersion>, NotElf> {
    Ok(version_needs(bytes)?
        .iter()
        .filter_map(|(_, name)| name.strip_prefix("GLIBC_").and_then(GlibcVersion::parse))
        .max())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn versions_order_numerically() {
        let v = |s| GlibcVersion::parse(s).unwrap();
        assert!(v("2.17") > v("2.9"));
        assert!(v("2.34") > v("2.17"));
        assert!(v("GLIBC_2.17") == v("2.17"));
        assert!(v("2.17.1") > v("2.17"));
        assert_eq!(GlibcVersion::parse("PRIVATE"), None);
        assert_eq!(GlibcVersion::parse("2"), None);
        assert_eq!(v("2.17").to_string(), "2.17");
    }

    /// This test program was linked on the build machine against its own glibc: it needs
    /// libc.so.6 versions, and at least `GLIBC_2.2.5`-era ones. On a glibc of 2.34 or later
    /// (every current distribution, and this project's CI) it needs `GLIBC_2.34`
    /// (`__libc_start_main`), so the 2.17 check must reject it there.
    #[test]
    fn reads_this_test_programs_needs() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let needs = version_needs(&me).unwrap();
        assert!(
            needs
                .iter()
                .any(|(lib, v)| lib == "libc.so.6" && v.starts_with("GLIBC_2.")),
            "{needs:?}"
        );
        let highest = highest_glibc(&me).unwrap().unwrap();
        let host = host_glibc();
        assert!(highest <= host, "{highest} needed, host has {host}");
        if host >= GlibcVersion::parse("2.34").unwrap() {
            assert!(highest >= GlibcVersion::parse("2.34").unwrap(), "{highest}");
        }
    }

    /// The host's glibc version, from `ldd --version`'s first line (`ldd (Debian GLIBC
    /// 2.36-9+deb12u4) 2.36`).
    fn host_glibc() -> GlibcVersion {
        let out = std::process::Command::new("ldd")
            .arg("--version")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap();
        GlibcVersion::parse(first.rsplit(' ').next().unwrap()).unwrap()
    }

    #[test]
    fn refuses_what_is_not_elf64() {
        assert_eq!(version_needs(b"MZ\x90\x00"), Err(NotElf("not an ELF file")));
        assert_eq!(
            version_needs(b"\x7fELF\x01\x01\x01"),
            Err(NotElf("not a 64-bit ELF file"))
        );
        // A header that claims section headers past the end of the file.
        let mut h = vec![0u8; 0x40];
        h[..6].copy_from_slice(b"\x7fELF\x02\x01");
        h[0x28..0x30].copy_from_slice(&0x1000u64.to_le_bytes());
        h[0x3a..0x3c].copy_from_slice(&0x40u16.to_le_bytes());
        h[0x3c..0x3e].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(version_needs(&h), Err(NotElf("truncated")));
        // Truncated in the middle of the header.
        assert!(version_needs(&h[..0x30]).is_err());
    }
}
