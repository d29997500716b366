//! `wbdecrypt` on its own: decrypts with a key file made by the `wbgen` library, prints help,
//! and reports usage errors in the one-line format. (The full CLI flow, with `wbgen`'s
//! binary, is tested in `wbgen/tests/cli.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::seeded_rng};
use wbruntime::{Algorithm, KeyId};

#[test]
fn decrypts_raw_and_base64_and_reports_errors() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("wbdecrypt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = seeded_rng([9; 32]);
    let key = KeyMaterial::generate(Algorithm::Sm4, Mode::External, &mut rng);
    let file = key
        .export_key_file(
            KeyFileInfo {
                key_id: KeyId([1; 16]),
                key_version: 1,
            },
            &mut rng,
        )
        .unwrap();
    std::fs::write(dir.join("k.wbkey"), file).unwrap();
    let iv = [3u8; 16];
    let secret = b"\x00binary\xffsecret\n";
    let ct = key.encrypt_cbc(&iv, secret).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wbdecrypt"))
            .arg("--key-dir")
            .arg(&dir)
            .args([
                "--key-file",
                "k.wbkey",
                "--iv",
                &B64.encode(iv),
                "--ciphertext",
                &B64.encode(&ct),
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--algorithm", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, secret, "raw bytes, unchanged");
    let out = run(&[
        "--algorithm",
        "1",
        "--base64",
        "--fingerprint",
        "any-device",
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", B64.encode(secret))
    );
    let out = run(&["--algorithm", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 01000013: "));
    let help = Command::new(env!("CARGO_BIN_EXE_wbdecrypt"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--key-dir"));
    let _ = std::fs::remove_dir_all(&dir);
}
