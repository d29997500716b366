//! End-to-end demo, for AES-256 and for SM4: create a white-box key, encrypt a secret, export
//! the key file, and decrypt on the "device" side with nothing but the key file, IV and
//! ciphertext.
//!
//! ```text
//! cargo run --release -p wbgen --example demo [-- OUTPUT_DIR]
//! ```
//! Without `OUTPUT_DIR` the key file goes to a temporary directory that is removed afterwards.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::Rng;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::os_rng};
use wbruntime::{Algorithm, KeyId, whitebox_decrypt};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (dir, temporary) = match std::env::args_os().nth(1) {
        Some(d) => (PathBuf::from(d), false),
        None => (
            std::env::temp_dir().join(format!("wb-demo-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    for (algorithm, number, name) in [
        (Algorithm::Aes256, 0, "AES-256"),
        (Algorithm::Sm4, 1, "SM4"),
    ] {
        demo_one(&dir, algorithm, number, name)?;
    }
    if temporary {
        std::fs::remove_dir_all(&dir)?;
    }
    println!("\ndemo OK");
    Ok(())
}

fn demo_one(
    dir: &std::path::Path,
    algorithm: Algorithm,
    number: u32,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n=== {name} ===");
    println!("== administrator side (trusted machine) ==");
    let mut rng = os_rng()?;
    let key = KeyMaterial::generate(algorithm, Mode::DEFAULT, &mut rng);
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let info = KeyFileInfo {
        key_id: KeyId(id),
        key_version: 1,
    };
    println!(
        "1. created {name} white-box key {} (the default mode: space-hard, 16-bit table lines)",
        info.key_id
    );

    let secret = b"sk-live-4f9a1c2e7b3d8a6f0e5c1b2a9d8e7f60";
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut iv);
    let ciphertext = key.encrypt_cbc(&iv, secret)?;
    let (iv_b64, ct_b64) = (B64.encode(iv), B64.encode(&ciphertext));
    println!("2. encrypted a {}-byte API secret", secret.len());
    println!("   InitializationVector: {iv_b64}");
    println!("   CipherText:           {ct_b64}");

    let t = Instant::now();
    let file = key.export_key_file(info, &mut rng)?;
    let gen_ms = t.elapsed().as_secs_f64() * 1e3;
    let file_name = format!("demo-{}.wbkey", name.to_lowercase());
    std::fs::write(dir.join(&file_name), &file)?;
    println!(
        "3. exported the decryption key file {file_name} ({} bytes, table generated in {gen_ms:.1} ms)",
        file.len()
    );
    drop(key); // the raw key is zeroized here; the device side never had it

    println!("== device side (untrusted machine: key file + IV + ciphertext only) ==");
    let t = Instant::now();
    let plaintext = whitebox_decrypt(dir, &file_name, &iv_b64, &ct_b64, number)?;
    let dec_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "4. whitebox_decrypt(key dir, {file_name:?}, iv, ciphertext, {number}) -> {:?} ({dec_ms:.2} ms incl. loading and checking the key file)",
        String::from_utf8_lossy(&plaintext)
    );
    if plaintext.as_slice() != secret {
        return Err("decrypted text differs from the secret".into());
    }
    let wrong = 1 - number;
    match whitebox_decrypt(dir, &file_name, &iv_b64, &ct_b64, wrong) {
        Err(e) => println!(
            "5. the same call with algorithm {wrong} is refused: error {}: {e}",
            e.code()
        ),
        Ok(_) => return Err("wrong algorithm was accepted".into()),
    }
    Ok(())
}
