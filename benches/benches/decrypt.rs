//! Criterion benchmarks of the white-box runtime and generator.
//!
//! ```text
//! cargo bench -p benches --bench decrypt [-- FILTER]
//! ```
//!
//! * `aes256_cbc_decrypt`: CBC decryption (PKCS#7) of messages of 16 B, 64 B, 1 KiB, 64 KiB
//!   and 1 MiB of plaintext (throughput counts plaintext bytes; the ciphertext is one padding
//!   block longer), by [`WhiteboxKey::decrypt_cbc`] into a preallocated buffer for an
//!   external-mode key (`whitebox_external`) and a standard-mode key (`whitebox_standard`),
//!   and by the reference RustCrypto `aes::Aes256` + `cbc::Decryptor` (`reference_aes`),
//!   buffer to buffer with the AES key schedule done once outside the loop.
//! * `keyfile`: [`WhiteboxKey::parse`] of a key file (load and validate) and
//!   [`KeyMaterial::export_key_file`] (table generation), for both modes.
//!
//! Keys are generated from a fixed seed so that runs are comparable; every decryption is
//! checked against the plaintext once before it is timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, InnerIvInit, KeyInit};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use wbgen::rng::seeded_rng;
use wbgen::{KeyFileInfo, KeyMaterial, Mode};
use wbruntime::{Algorithm, KeyId, WhiteboxKey};

const IV: [u8; 16] = [0x24; 16];
const INFO: KeyFileInfo = KeyFileInfo {
    key_id: KeyId([1; 16]),
    key_version: 1,
};
/// Plaintext sizes, with their labels.
const SIZES: [(usize, &str); 5] = [
    (16, "16B"),
    (64, "64B"),
    (1 << 10, "1KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
];

/// A key of each mode, with its key file.
struct Fixture {
    mode: Mode,
    name: &'static str,
    key: KeyMaterial,
    file: Vec<u8>,
}

fn fixtures() -> [Fixture; 2] {
    let mut rng = seeded_rng([0x5e; 32]);
    [(Mode::External, "external"), (Mode::Standard, "standard")].map(|(mode, name)| {
        let key = KeyMaterial::generate(Algorithm::Aes256, mode, &mut rng);
        let file = key
            .export_key_file(INFO, &mut rng)
            .expect("export key file");
        Fixture {
            mode,
            name,
            key,
            file,
        }
    })
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// Large messages take ~0.2 s per white-box call: few flat samples keep the run short.
fn configure_for(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    len: usize,
) {
    if len >= 64 << 10 {
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
    } else {
        group.sampling_mode(SamplingMode::Auto).sample_size(50);
    }
}

fn bench_decrypt(c: &mut Criterion) {
    let fixtures = fixtures();
    let std_fixture = fixtures
        .iter()
        .find(|f| f.mode == Mode::Standard)
        .expect("standard fixture");
    let reference = Aes256::new_from_slice(std_fixture.key.key_bytes()).expect("AES-256 key");

    let mut group = c.benchmark_group("aes256_cbc_decrypt");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    for (len, label) in SIZES {
        let plain = plaintext(len);
        group.throughput(Throughput::Bytes(len as u64));
        configure_for(&mut group, len);

        for fixture in &fixtures {
            let wb = WhiteboxKey::parse(&fixture.file).expect("parse key file");
            let ciphertext = fixture.key.encrypt_cbc(&IV, &plain).expect("encrypt");
            let mut out = vec![0u8; ciphertext.len()];
            let n = wb.decrypt_cbc(&IV, &ciphertext, &mut out).expect("decrypt");
            assert_eq!(&out[..n], &plain[..], "white-box {} mode", fixture.name);

            group.bench_with_input(
                BenchmarkId::new(format!("whitebox_{}", fixture.name), label),
                &ciphertext,
                |b, ct| b.iter(|| wb.decrypt_cbc(&IV, black_box(ct), &mut out)),
            );
        }

        let ciphertext = std_fixture.key.encrypt_cbc(&IV, &plain).expect("encrypt");
        let mut out = vec![0u8; ciphertext.len()];
        let decrypt = |ct: &[u8], out: &mut [u8]| {
            cbc::Decryptor::<Aes256>::inner_iv_init(reference.clone(), &IV.into())
                .decrypt_padded_b2b::<Pkcs7>(ct, out)
                .map(<[u8]>::len)
        };
        let n = decrypt(&ciphertext, &mut out).expect("reference decrypt");
        assert_eq!(&out[..n], &plain[..], "reference");
        group.bench_with_input(
            BenchmarkId::new("reference_aes", label),
            &ciphertext,
            |b, ct| b.iter(|| decrypt(black_box(ct), &mut out)),
        );
    }
    group.finish();
}

fn bench_keyfile(c: &mut Criterion) {
    let fixtures = fixtures();
    let mut group = c.benchmark_group("keyfile");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    for fixture in &fixtures {
        group.throughput(Throughput::Bytes(fixture.file.len() as u64));
        group.sample_size(50);
        group.bench_with_input(
            BenchmarkId::new("parse", fixture.name),
            &fixture.file,
            |b, file| b.iter(|| WhiteboxKey::parse(black_box(file)).is_ok()),
        );

        let mut rng = seeded_rng([0xa7; 32]);
        group.sample_size(10);
        group.bench_function(BenchmarkId::new("export_key_file", fixture.name), |b| {
            b.iter(|| fixture.key.export_key_file(INFO, &mut rng).map(|f| f.len()));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decrypt, bench_keyfile);
criterion_main!(benches);
