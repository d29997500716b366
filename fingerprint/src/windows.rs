//! The Windows collectors: `MachineGuid` and the SMBIOS UUID, read by running the system's own
//! tools through [`Sources::command`] (no Windows API bindings, no `unsafe`).
//!
//! The parsing is platform-independent so tests can feed a synthetic Windows machine on any
//! platform; only [`SystemSources`](crate::SystemSources) on `cfg(windows)` runs the real
//! commands.

use std::io;

use crate::Collected;
use crate::normalize;
use crate::sources::Sources;

/// `reg.exe` and its arguments for `MachineGuid`. `/reg:64` reads the 64-bit registry view
/// even from a 32-bit process, which would otherwise be redirected to `Wow6432Node` (where the
/// value does not exist).
pub(crate) const MACHINE_GUID_COMMAND: (&str, &[&str]) = (
    "reg.exe",
    &[
        "query",
        r"HKLM\SOFTWARE\Microsoft\Cryptography",
        "/v",
        "MachineGuid",
        "/reg:64",
    ],
);

/// PowerShell and its arguments for the SMBIOS system UUID.
pub(crate) const SMBIOS_UUID_COMMAND: (&str, &[&str]) = (
    "powershell.exe",
    &[
        "-NoProfile",
        "-NonInteractive",
        "-Command",
        "(Get-CimInstance -ClassName Win32_ComputerSystemProduct).UUID",
    ],
);

/// Every Windows source, in the order `--explain` lists them.
pub(crate) fn collect(src: &dyn Sources) -> Vec<Collected> {
    vec![
        from_command(src, "machine-guid", MACHINE_GUID_COMMAND, |out| {
            parse_reg_value(out, "MachineGuid").and_then(|v| normalize::guid(&v))
        }),
        from_command(src, "smbios-uuid", SMBIOS_UUID_COMMAND, |out| {
            out.lines().find_map(normalize::guid)
        }),
    ]
}

fn from_command(
    src: &dyn Sources,
    name: &'static str,
    (program, args): (&str, &[&str]),
    parse: fn(&str) -> Option<String>,
) -> Collected {
    let shown = format!("{program} {}", args.join(" "));
    match src.command(program, args) {
        Ok(out) => match parse(&out) {
            Some(v) => Collected::used(name, true, &format!("`{shown}`"), v),
            None => Collected::unavailable(
                name,
                true,
                format!("`{shown}` gave no value, or a placeholder"),
            ),
        },
        // Blocked for this account only (e.g. AppLocker): other accounts would use it.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Collected::blocked(name, true, format!("`{shown}`"), e.kind())
        }
        Err(e) => Collected::unavailable(name, true, format!("`{shown}` failed: {e}")),
    }
}

/// The data of `value` in `reg query` output, whose lines look like
/// `    MachineGuid    REG_SZ    5c2a…`.
fn parse_reg_value(out: &str, value: &str) -> Option<String> {
    out.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let name = parts.next()?;
        let kind = parts.next()?;
        if name.eq_ignore_ascii_case(value) && kind.starts_with("REG_") {
            Some(parts.collect::<Vec<_>>().join(" "))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_output() {
        let out = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography\r\n    \
                   MachineGuid    REG_SZ    5C2A0F3E-8D71-4F0B-9E36-1D2B7A0C4E11\r\n\r\n";
        assert_eq!(
            parse_reg_value(out, "MachineGuid").as_deref(),
            Some("5C2A0F3E-8D71-4F0B-9E36-1D2B7A0C4E11")
        );
        assert_eq!(parse_reg_value("ERROR: not found\r\n", "MachineGuid"), None);
    }
}
