//! Large messages through `wbdecrypt` (and so `whitebox_decrypt`, the one-shot call): a
//! MiB-sized ciphertext from `--in` (a file with line breaks, or standard input) to `--out`,
//! byte-identical under every backend this CPU has, forced with `WBRUNTIME_BACKEND`, and under
//! the automatic choice; the new flags' errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::seeded_rng};
use wbruntime::{Algorithm, Backend, KeyId};

const IV: [u8; 16] = [0x42; 16];

struct Case {
    file: String,
    algorithm: &'static str,
    ct_path: PathBuf,
    plain: Vec<u8>,
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wbdecrypt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Key files of both ciphers in both Chow modes and space-hard, and a message of
/// [`message_len`] bytes for
/// each, its Base64 ciphertext wrapped at 76 columns as `base64` writes it.
fn cases(dir: &Path) -> Vec<Case> {
    let mut rng = seeded_rng([0x1a; 32]);
    let info = KeyFileInfo {
        key_id: KeyId([2; 16]),
        key_version: 1,
    };
    let plain: Vec<u8> = (0..message_len())
        .map(|i: usize| (i.wrapping_mul(167) >> 3) as u8)
        .collect();
    let mut out = Vec::new();
    for (alg, num) in [(Algorithm::Aes256, "0"), (Algorithm::Sm4, "1")] {
        for (mode, name) in [
            (Mode::External, "external"),
            (Mode::Standard, "standard"),
            (Mode::SpaceHard(LineBits::N16), "space-hard"),
        ] {
            let key = KeyMaterial::generate(alg, mode, &mut rng);
            let file = format!("{num}-{name}.wbkey");
            std::fs::write(
                dir.join(&file),
                key.export_key_file(info, &mut rng).unwrap(),
            )
            .unwrap();
            let ct = B64.encode(key.encrypt_cbc(&IV, &plain).unwrap());
            let wrapped: Vec<&str> = ct
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let ct_path = dir.join(format!("{num}-{name}.b64"));
            std::fs::write(&ct_path, wrapped.join("\n") + "\n").unwrap();
            out.push(Case {
                file,
                algorithm: num,
                ct_path,
                plain: plain.clone(),
            });
        }
    }
    out
}

/// 1 MiB + 5 B: sixteen of the runtime's 64 KiB groups and a partial block, through buffers
/// far larger than any the small-message tests use. `WB_LARGE_MESSAGE_BYTES` makes it
/// smaller where every byte is emulated (the platform tests run this under Wine and qemu-user,
/// where the full size took minutes: `xtask/platform-tests.sh` asks for 64 KiB + 5).
fn message_len() -> usize {
    std::env::var("WB_LARGE_MESSAGE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or((1 << 20) + 5)
}

fn wbdecrypt(
    dir: &Path,
    case: &Case,
    backend: Option<&str>,
    extra: &[&str],
    stdin: Option<&[u8]>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wbdecrypt"));
    cmd.arg("--key-dir")
        .arg(dir)
        .args([
            "--key-file",
            &case.file,
            "--iv",
            &B64.encode(IV),
            "--algorithm",
            case.algorithm,
        ])
        .args(extra);
    match backend {
        Some(b) => cmd.env("WBRUNTIME_BACKEND", b),
        None => cmd.env_remove("WBRUNTIME_BACKEND"),
    };
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn large_messages_under_every_backend() {
    let dir = dir("large");
    let cases = cases(&dir);
    let mut settings: Vec<Option<&str>> = vec![None];
    settings.extend(Backend::available().map(|b| Some(b.name())));
    for case in &cases {
        for backend in &settings {
            let out_path = dir.join("plain.out");
            let _ = std::fs::remove_file(&out_path);
            let o = wbdecrypt(
                &dir,
                case,
                *backend,
                &[
                    "--in",
                    case.ct_path.to_str().unwrap(),
                    "--out",
                    out_path.to_str().unwrap(),
                ],
                None,
            );
            assert!(
                o.status.success(),
                "{} {backend:?}: {}",
                case.file,
                stderr(&o)
            );
            assert!(
                o.stdout.is_empty(),
                "--out writes nothing to standard output"
            );
            let got = std::fs::read(&out_path).unwrap();
            assert!(
                got == case.plain,
                "{} {backend:?}: plaintext differs",
                case.file
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&out_path).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "the plaintext file is private");
            }
        }
        // Standard input to standard output, automatic backend.
        let text = std::fs::read(&case.ct_path).unwrap();
        let o = wbdecrypt(&dir, case, None, &["--in", "-"], Some(&text));
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(o.stdout == case.plain, "{}: stdin → stdout", case.file);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn backend_and_input_errors() {
    let dir = dir("errors");
    let mut rng = seeded_rng([0x1b; 32]);
    let info = KeyFileInfo {
        key_id: KeyId([3; 16]),
        key_version: 1,
    };
    let key = KeyMaterial::generate(Algorithm::Sm4, Mode::Standard, &mut rng);
    std::fs::write(
        dir.join("e.wbkey"),
        key.export_key_file(info, &mut rng).unwrap(),
    )
    .unwrap();
    let ct = B64.encode(key.encrypt_cbc(&IV, b"short").unwrap());
    let ct_path = dir.join("e.b64");
    std::fs::write(&ct_path, &ct).unwrap();
    let case = Case {
        file: "e.wbkey".into(),
        algorithm: "1",
        ct_path: ct_path.clone(),
        plain: b"short".to_vec(),
    };
    let ok = wbdecrypt(&dir, &case, Some("soft"), &["--ciphertext", &ct], None);
    assert_eq!(ok.stdout, case.plain, "{}", stderr(&ok));
    // A name that is no backend, and (where this CPU lacks one) a missing backend.
    for bad in ["no-such-backend", "NEON", "AVX512", "fastest"] {
        let o = wbdecrypt(&dir, &case, Some(bad), &["--ciphertext", &ct], None);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).starts_with("error 01000019: "),
            "{bad}: {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty());
    }
    for b in Backend::ALL.into_iter().filter(|b| !b.is_available()) {
        let o = wbdecrypt(&dir, &case, Some(b.name()), &["--ciphertext", &ct], None);
        assert!(
            stderr(&o).starts_with("error 01000017: "),
            "{b}: {}",
            stderr(&o)
        );
    }
    // --in problems.
    let o = wbdecrypt(
        &dir,
        &case,
        None,
        &["--in", dir.join("missing.b64").to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error 01000024: "), "{}", stderr(&o));
    std::fs::write(dir.join("binary.b64"), [0xffu8, 0xfe, 0x00]).unwrap();
    let o = wbdecrypt(
        &dir,
        &case,
        None,
        &["--in", dir.join("binary.b64").to_str().unwrap()],
        None,
    );
    assert!(stderr(&o).starts_with("error 01000024: "), "{}", stderr(&o));
    std::fs::write(dir.join("bad.b64"), "not base64 !!").unwrap();
    let o = wbdecrypt(
        &dir,
        &case,
        None,
        &["--in", dir.join("bad.b64").to_str().unwrap()],
        None,
    );
    assert!(stderr(&o).starts_with("error 01000010: "), "{}", stderr(&o));
    // Both or neither of --ciphertext and --in: usage errors (exit 2), values never echoed.
    let o = wbdecrypt(
        &dir,
        &case,
        None,
        &["--ciphertext", &ct, "--in", ct_path.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error 01000013: "));
    assert!(!stderr(&o).contains(&ct));
    let o = wbdecrypt(&dir, &case, None, &[], None);
    assert_eq!(o.status.code(), Some(2));
    // --out that cannot be written: nothing printed, the output error.
    let o = wbdecrypt(
        &dir,
        &case,
        None,
        &["--ciphertext", &ct, "--out", dir.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error 01000015: "), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
