//! Fingerprints of synthetic machines (`FakeMachine`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::ErrorKind;

use wbfingerprint::{Error, FakeMachine, Fingerprint, Status, explain, from_sources};

const MACHINE_ID: &str = "4f1b0c3e9d2a48e7b6c5a1f0e9d8c7b6";

/// A typical Linux desktop: machine id, root-only DMI, a CPU, two NICs, a SATA root disk.
fn desktop() -> FakeMachine {
    FakeMachine::linux()
        .machine_id(MACHINE_ID)
        .dmi(
            "product_uuid",
            "4C4C4544-0042-3510-8052-B4C04F4E3732",
            0o400,
        )
        .dmi("board_serial", "/7X2K9Z2/CNFCW0088100K4/", 0o400)
        .dmi("product_name", "OptiPlex 7070", 0o444)
        .cpu(
            "GenuineIntel",
            6,
            158,
            "Intel(R) Core(TM) i7-9700 CPU @ 3.00GHz",
        )
        .nic("enp0s31f6", "3C:7C:3F:12:34:56")
        .nic("wlp2s0", "a4:c3:f0:65:43:21")
        .virtual_nic("lo", "00:00:00:00:00:00")
        .root_disk("sda", "S3Z1NB0K123456X")
}

fn fp(m: &FakeMachine) -> Fingerprint {
    from_sources(m).unwrap()
}

fn status<'a>(e: &'a wbfingerprint::Explanation, name: &str) -> &'a Status {
    &e.source(name).unwrap().status
}

#[test]
fn different_machines_differ() {
    let base = fp(&desktop());
    let variants = [
        (
            "machine id",
            desktop().machine_id("0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
        ),
        ("one MAC", desktop().nic("wlp2s0", "a4:c3:f0:65:43:22")),
        ("an extra NIC", desktop().nic("enp5s0", "00:1b:21:aa:bb:cc")),
        ("disk serial", desktop().root_disk("sda", "WD-WCC4N7KXYZ12")),
        (
            "CPU model",
            desktop().cpu("AuthenticAMD", 25, 33, "AMD Ryzen 7 5800X"),
        ),
        (
            "world-readable DMI UUID",
            desktop().dmi(
                "product_uuid",
                "8e1f2a3b-0000-4c5d-9e8f-0a1b2c3d4e5f",
                0o444,
            ),
        ),
    ];
    let mut seen = vec![base.clone()];
    for (what, m) in variants {
        let other = fp(&m);
        assert!(
            !seen.contains(&other),
            "changing the {what} must change the fingerprint"
        );
        seen.push(other);
    }
}

#[test]
fn same_machine_is_stable() {
    let m = desktop();
    assert_eq!(fp(&m), fp(&m));
    assert_eq!(fp(&m), fp(&m.clone().as_root()));
    // Directories listed in another order.
    assert_eq!(fp(&m), fp(&m.clone().reverse_listing(true)));
    // The same machine described in another order, with its interfaces renamed and their
    // MACs swapped between them.
    let reordered = FakeMachine::linux()
        .root_disk("sda", "S3Z1NB0K123456X")
        .virtual_nic("lo", "00:00:00:00:00:00")
        .nic("eth1", "3c:7c:3f:12:34:56")
        .nic("eth0", "A4:C3:F0:65:43:21")
        .cpu(
            "GenuineIntel",
            6,
            158,
            "Intel(R) Core(TM) i7-9700 CPU @ 3.00GHz",
        )
        .dmi("board_serial", "/7X2K9Z2/CNFCW0088100K4/", 0o400)
        .dmi(
            "product_uuid",
            "4C4C4544-0042-3510-8052-B4C04F4E3732",
            0o400,
        )
        .machine_id(&MACHINE_ID.to_uppercase())
        .reverse_listing(true);
    assert_eq!(fp(&m), fp(&reordered));
}

#[test]
fn cpu_frequency_and_microcode_do_not_matter() {
    let cpuinfo = |mhz: &str, microcode: &str| {
        format!(
            "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\n\
             model name\t: Intel(R) Core(TM) i7-9700 CPU @ 3.00GHz\nstepping\t: 13\n\
             microcode\t: {microcode}\ncpu MHz\t\t: {mhz}\nflags\t\t: fpu\n\n"
        )
    };
    let a = desktop().file("/proc/cpuinfo", cpuinfo("800.000", "0xde"));
    let b = desktop().file("/proc/cpuinfo", cpuinfo("4700.012", "0xf8"));
    assert_eq!(fp(&a), fp(&b));
    let c = desktop().file(
        "/proc/cpuinfo",
        cpuinfo("800.000", "0xde").replace("13", "12"),
    );
    assert_ne!(fp(&a), fp(&c), "the stepping is part of the CPU identity");
}

#[test]
fn virtual_interfaces_do_not_change_it() {
    let base = fp(&desktop());
    let busy = desktop()
        .virtual_nic("docker0", "02:42:8e:11:22:33")
        .virtual_nic("veth3f2a1b0", "9a:1c:2d:3e:4f:50")
        .virtual_nic("br-5c2e", "02:42:aa:bb:cc:dd")
        .virtual_nic("tailscale0", "00:00:00:00:00:00");
    assert_eq!(base, fp(&busy));
    let e = explain(&busy);
    let macs = e.source("mac-addresses").unwrap();
    for name in ["docker0", "veth3f2a1b0", "lo"] {
        assert!(
            macs.details
                .contains(&format!("{name}: not used: virtual (no device link)")),
            "{name}: {:?}",
            macs.details
        );
    }
    assert!(macs.details.contains(&"enp0s31f6: used".to_owned()));
}

#[test]
fn unstable_and_removable_interfaces_do_not_change_it() {
    let base = fp(&desktop());
    let usb = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0";
    let m = desktop()
        // A USB Ethernet dongle: physical, but removable.
        .interface("enx001122334455", "00:11:22:33:44:55", usb, "1", "0")
        // A physical NIC whose address the kernel made up.
        .interface(
            "eth9",
            "5e:11:22:33:44:55",
            "/sys/devices/pci0000:00/0000:00:09.0",
            "1",
            "1",
        )
        // A physical NIC whose address software set (a cloned or randomised MAC).
        .interface(
            "eth8",
            "5e:11:22:33:44:56",
            "/sys/devices/pci0000:00/0000:00:08.0",
            "1",
            "3",
        )
        // InfiniBand: not Ethernet.
        .interface(
            "ib0",
            "80:00:00:48:fe:80",
            "/sys/devices/pci0000:00/0000:00:07.0",
            "32",
            "0",
        );
    assert_eq!(base, fp(&m));
    let details = explain(&m)
        .source("mac-addresses")
        .unwrap()
        .details
        .join("\n");
    assert!(
        details.contains("enx001122334455: not used: USB interface (removable)"),
        "{details}"
    );
    assert!(
        details.contains("eth9: not used: random address"),
        "{details}"
    );
    assert!(
        details.contains("eth8: not used: address set by software"),
        "{details}"
    );
    assert!(
        details.contains("ib0: not used: not Ethernet (type 32)"),
        "{details}"
    );
}

#[test]
fn root_only_sources_change_nothing_for_root_or_users() {
    // Without any DMI at all, as a normal user and as root.
    let without = desktop().remove("/sys/devices/virtual/dmi");
    let reference = fp(&without);
    assert_eq!(reference, fp(&without.clone().as_root()));
    // With root-only (0400) DMI values: the user cannot read them, root can; neither uses them.
    let user = desktop().as_user();
    let root = desktop().as_root();
    assert_eq!(reference, fp(&user));
    assert_eq!(reference, fp(&root));
    // Different root-only values on the same machine change nothing either.
    let other_uuid = desktop()
        .dmi(
            "product_uuid",
            "11111111-2222-3333-4444-555555555555",
            0o400,
        )
        .as_root();
    assert_eq!(reference, fp(&other_uuid));

    for m in [&user, &root] {
        let e = explain(m);
        for name in ["dmi-product-uuid", "dmi-board-serial"] {
            let s = status(&e, name).to_string();
            assert!(
                s.starts_with("not used: readable only by root"),
                "{name}: {s}"
            );
            assert!(s.contains("mode 0400"), "{s}");
        }
        assert!(e.to_string().contains("not used: readable only by root"));
    }
}

#[test]
fn a_root_only_directory_hides_what_is_below_it_for_everyone() {
    // A world-readable file inside a directory only root may enter.
    let m = desktop()
        .dir_mode("/sys/devices/virtual/dmi/id", 0o700)
        .dmi(
            "product_uuid",
            "8e1f2a3b-0000-4c5d-9e8f-0a1b2c3d4e5f",
            0o444,
        );
    let reference = fp(&desktop().remove("/sys/devices/virtual/dmi"));
    assert_eq!(reference, fp(&m.clone().as_user()));
    assert_eq!(reference, fp(&m.clone().as_root()));
    let s = status(&explain(&m), "dmi-product-uuid").to_string();
    assert!(s.starts_with("not used: readable only by root"), "{s}");
}

#[test]
fn world_readable_dmi_is_used_and_placeholders_are_not() {
    let base = fp(&desktop());
    let readable = desktop().dmi(
        "product_uuid",
        "4C4C4544-0042-3510-8052-B4C04F4E3732",
        0o444,
    );
    assert_ne!(base, fp(&readable));
    assert!(status(&explain(&readable), "dmi-product-uuid").is_used());
    // Upper or lower case is the same UUID.
    let lower = desktop().dmi(
        "product_uuid",
        "4c4c4544-0042-3510-8052-b4c04f4e3732",
        0o444,
    );
    assert_eq!(fp(&readable), fp(&lower));

    for placeholder in [
        "03000200-0400-0500-0006-000700080009",
        "00000000-0000-0000-0000-000000000000",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    ] {
        let m = desktop().dmi("product_uuid", placeholder, 0o444);
        assert_eq!(base, fp(&m), "{placeholder} is a placeholder");
        let s = status(&explain(&m), "dmi-product-uuid").to_string();
        assert!(s.starts_with("unavailable:"), "{s}");
    }
    for placeholder in ["To Be Filled By O.E.M.", "Default string", "  ", "0"] {
        let m = desktop().dmi("board_serial", placeholder, 0o444);
        assert_eq!(base, fp(&m), "{placeholder:?} is a placeholder");
    }
}

#[test]
fn machine_id_placeholders_fall_back_to_dbus() {
    let dbus = desktop()
        .file("/etc/machine-id", "\n")
        .file("/var/lib/dbus/machine-id", format!("{MACHINE_ID}\n"));
    assert_eq!(fp(&desktop()), fp(&dbus));
    let uninitialized = desktop().file("/etc/machine-id", "uninitialized\n");
    let e = explain(&uninitialized);
    assert!(!status(&e, "machine-id").is_used());
    assert_ne!(fp(&desktop()), fp(&uninitialized));
}

#[test]
fn no_sources_is_an_error() {
    let err = from_sources(&FakeMachine::linux()).unwrap_err();
    assert_eq!(err, Error::NoSources);
    assert_eq!(err.code(), "04000001");
    assert!(!err.to_string().is_empty());
    assert_eq!(
        from_sources(&FakeMachine::windows()).unwrap_err(),
        Error::NoSources
    );

    // A container-like machine: CPU identity is all there is (no machine id, overlay root,
    // only virtual interfaces, root-only DMI). CPU identity alone is not a fingerprint.
    let container = FakeMachine::linux()
        .cpu(
            "GenuineIntel",
            6,
            158,
            "Intel(R) Core(TM) i7-9700 CPU @ 3.00GHz",
        )
        .virtual_nic("eth0", "02:42:ac:11:00:02")
        .virtual_nic("lo", "00:00:00:00:00:00")
        .dmi(
            "product_uuid",
            "4C4C4544-0042-3510-8052-B4C04F4E3732",
            0o400,
        )
        .overlay_root();
    let e = explain(&container);
    assert_eq!(e.fingerprint(), Err(&Error::NoSources));
    assert_eq!(e.used(), vec!["cpu"]);
    let disk = status(&e, "root-disk-serial").to_string();
    assert!(
        disk.contains("overlay") && disk.contains("not on a block device"),
        "{disk}"
    );
    // Only placeholders: still nothing.
    let placeholders = FakeMachine::linux()
        .file("/etc/machine-id", "")
        .dmi(
            "product_uuid",
            "03000200-0400-0500-0006-000700080009",
            0o444,
        )
        .dmi("board_serial", "To Be Filled By O.E.M.", 0o444)
        .virtual_nic("lo", "00:00:00:00:00:00");
    assert_eq!(from_sources(&placeholders), Err(Error::NoSources));
}

#[test]
fn a_world_readable_source_this_process_cannot_read_is_an_error() {
    let m = desktop().deny("/etc/machine-id");
    let err = from_sources(&m).unwrap_err();
    assert!(matches!(
        err,
        Error::SourceUnreadable {
            source: "machine-id",
            kind: ErrorKind::PermissionDenied,
            ..
        }
    ));
    assert_eq!(err.code(), "04000002");
    let e = explain(&m);
    assert!(matches!(status(&e, "machine-id"), Status::Blocked(_)));
    assert!(e.to_string().contains("machine-id"));
}

#[test]
fn output_has_fixed_length_and_charset() {
    let machines = [
        desktop(),
        FakeMachine::linux().machine_id("0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
        FakeMachine::linux().nic("eth0", "00:1b:21:aa:bb:cc"),
        FakeMachine::windows().machine_guid("5C2A0F3E-8D71-4F0B-9E36-1D2B7A0C4E11"),
    ];
    for m in &machines {
        let f = fp(m);
        let s = f.as_str();
        assert_eq!(s.len(), wbfingerprint::LEN);
        assert_eq!(s.len(), 46);
        assert!(s.starts_with("wbfp1-"));
        assert!(
            s[6..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{s}"
        );
        assert!(s.bytes().all(|b| b.is_ascii_graphic()), "{s}");
        assert_eq!(f.to_string(), s);
        assert!(Fingerprint::is_well_formed(s));
    }
}

#[test]
fn root_disk_serial_is_used() {
    let e = explain(&desktop());
    let s = status(&e, "root-disk-serial").to_string();
    assert!(s.starts_with("used: serial of sda"), "{s}");
    let no_disk = desktop().remove("/proc/self/mountinfo");
    assert_ne!(fp(&desktop()), fp(&no_disk));
}

#[test]
fn windows_machines() {
    let win = FakeMachine::windows()
        .machine_guid("5C2A0F3E-8D71-4F0B-9E36-1D2B7A0C4E11")
        .smbios_uuid("4C4C4544-0042-3510-8052-B4C04F4E3732");
    let a = fp(&win);
    assert_eq!(a, fp(&win.clone().as_root()));
    let lower = FakeMachine::windows()
        .smbios_uuid("4c4c4544-0042-3510-8052-b4c04f4e3732")
        .machine_guid("5c2a0f3e-8d71-4f0b-9e36-1d2b7a0c4e11");
    assert_eq!(a, fp(&lower));
    let other = FakeMachine::windows()
        .machine_guid("9D0B5A21-1E3C-4A44-8F1D-2B3C4D5E6F70")
        .smbios_uuid("4C4C4544-0042-3510-8052-B4C04F4E3732");
    assert_ne!(a, fp(&other));

    // A placeholder SMBIOS UUID is left out rather than hashed.
    let guid_only = FakeMachine::windows().machine_guid("5C2A0F3E-8D71-4F0B-9E36-1D2B7A0C4E11");
    let placeholder = guid_only
        .clone()
        .smbios_uuid("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF");
    assert_eq!(fp(&guid_only), fp(&placeholder));
    let e = explain(&placeholder);
    assert_eq!(e.used(), vec!["machine-guid"]);
    assert!(e.to_string().contains("(windows)"));

    // Output that is not a GUID (an error text) is not a value.
    let junk = guid_only.clone().command(
        "powershell.exe",
        &[
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            "(Get-CimInstance -ClassName Win32_ComputerSystemProduct).UUID",
        ],
        "Get-CimInstance : Access denied\r\n",
    );
    assert_eq!(fp(&guid_only), fp(&junk));
    assert!(!status(&explain(&junk), "smbios-uuid").is_used());

    // PowerShell blocked for this account (e.g. AppLocker): an error, not a different value.
    let (program, args) = (
        "powershell.exe",
        &[
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            "(Get-CimInstance -ClassName Win32_ComputerSystemProduct).UUID",
        ][..],
    );
    let blocked = guid_only.command_fails(program, args, ErrorKind::PermissionDenied);
    assert!(matches!(
        from_sources(&blocked),
        Err(Error::SourceUnreadable {
            source: "smbios-uuid",
            ..
        })
    ));
}

#[test]
fn explanation_lists_every_source() {
    let e = explain(&desktop());
    let text = e.to_string();
    for name in [
        "machine-id",
        "dmi-product-uuid",
        "dmi-board-serial",
        "cpu",
        "mac-addresses",
        "root-disk-serial",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(
        text.contains("Used: machine-id, cpu, mac-addresses, root-disk-serial"),
        "{text}"
    );
    // No identifier values are shown, only tags.
    assert!(!text.contains(MACHINE_ID), "{text}");
    assert!(!text.to_lowercase().contains("3c:7c:3f:12:34:56"), "{text}");
    assert!(!text.contains("S3Z1NB0K123456X"), "{text}");
    assert_eq!(e.fingerprint().unwrap(), &fp(&desktop()));
}
