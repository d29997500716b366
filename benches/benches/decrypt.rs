//! Criterion benchmarks of the white-box runtime and generator.
//!
//! ```text
//! cargo bench -p benches --bench decrypt [-- FILTER]
//! ```
//!
//! * `aes256_cbc_decrypt`: CBC decryption (PKCS#7) of messages of 16 B, 64 B, 1 KiB, 64 KiB
//!   and 1 MiB of plaintext (throughput counts plaintext bytes; the ciphertext is one padding
//!   block longer), by [`WhiteboxKey::decrypt_cbc`] into a preallocated buffer for an
//!   external-mode key (`whitebox_external`), a standard-mode key (`whitebox_standard`) and
//!   space-hard keys with n = 16 and 8 (`whitebox_space_hard`, `whitebox_space_hard_8`), and
//!   through every SIMD backend (`…_avx512vbmi`, …),
//!   and by the reference RustCrypto `aes::Aes256` + `cbc::Decryptor` (`reference_aes`),
//!   buffer to buffer with the AES key schedule done once outside the loop.
//! * `sm4_cbc_decrypt`: the same for SM4, against the reference RustCrypto `sm4::Sm4` +
//!   `cbc::Decryptor` (`reference_sm4`).
//! * `keyfile`: [`WhiteboxKey::parse`] of a key file (load and validate) and
//!   [`KeyMaterial::export_key_file`] (table generation), for every mode of AES-256
//!   (`external`, `standard`, `space_hard`, `space_hard_8`) and of SM4 (`sm4_…`).
//!
//! Keys are generated from a fixed seed so that runs are comparable; every decryption is
//! checked against the plaintext once before it is timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::consts::U16;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, BlockSizeUser, InnerIvInit, KeyInit};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use sm4::Sm4;
use wbgen::rng::seeded_rng;
use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial, Mode};
use wbruntime::{Algorithm, Backend, KeyId, WhiteboxKey};

const IV: [u8; 16] = [0x24; 16];
/// Fixture seeds. The AES-256 one is the seed from before SM4 was added, so AES-256 results
/// stay comparable with older saved baselines.
const AES256_SEED: [u8; 32] = [0x5e; 32];
const SM4_SEED: [u8; 32] = [0x54; 32];
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

/// A key of `algorithm` in each mode (external, standard, space-hard with n = 16 and 8),
/// generated from `seed`.
fn fixtures(algorithm: Algorithm, seed: [u8; 32]) -> Vec<Fixture> {
    let mut rng = seeded_rng(seed);
    [
        (Mode::External, "external"),
        (Mode::Standard, "standard"),
        (Mode::SpaceHard(LineBits::N16), "space_hard"),
        (Mode::SpaceHard(LineBits::N8), "space_hard_8"),
    ]
    .into_iter()
    .map(|(mode, name)| {
        let key = KeyMaterial::generate(algorithm, mode, &mut rng);
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
    .collect()
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

/// Benchmark group `group_name`: white-box CBC decryption with both `fixtures` and the
/// RustCrypto `reference` cipher (keyed with the standard-mode key, schedule done once) in
/// `cbc::Decryptor`, as `reference_name`, for every size of [`SIZES`].
fn bench_cbc<C>(
    c: &mut Criterion,
    group_name: &str,
    fixtures: &[Fixture],
    reference: &C,
    reference_name: &str,
) where
    C: BlockCipherDecrypt + BlockSizeUser<BlockSize = U16> + Clone,
{
    let std_fixture = fixtures
        .iter()
        .find(|f| f.mode == Mode::Standard)
        .expect("standard fixture");

    let mut group = c.benchmark_group(group_name);
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    for (len, label) in SIZES {
        let plain = plaintext(len);
        group.throughput(Throughput::Bytes(len as u64));
        configure_for(&mut group, len);

        for fixture in fixtures {
            let wb = WhiteboxKey::parse(&fixture.file).expect("parse key file");
            let ciphertext = fixture.key.encrypt_cbc(&IV, &plain).expect("encrypt");
            let mut out = vec![0u8; ciphertext.len()];
            let n = wb.decrypt_cbc(&IV, &ciphertext, &mut out).expect("decrypt");
            assert_eq!(
                &out[..n],
                &plain[..],
                "{group_name}: white-box {} mode",
                fixture.name
            );

            group.bench_with_input(
                BenchmarkId::new(format!("whitebox_{}", fixture.name), label),
                &ciphertext,
                |b, ct| b.iter(|| wb.decrypt_cbc(&IV, black_box(ct), &mut out)),
            );
            // The same through every SIMD backend this CPU has.
            for backend in Backend::available().filter(|b| *b != Backend::Soft) {
                let fast = wb.accelerate_with(backend).expect("backend");
                let mut buf = ciphertext.clone();
                let got = fast.decrypt_cbc_in_place(&IV, &mut buf).expect("decrypt");
                assert_eq!(got, &plain[..], "{group_name}: {backend} {}", fixture.name);
                group.bench_with_input(
                    BenchmarkId::new(format!("whitebox_{}_{backend}", fixture.name), label),
                    &ciphertext,
                    |b, ct| {
                        b.iter(|| {
                            buf.copy_from_slice(ct);
                            fast.decrypt_cbc_in_place(&IV, black_box(&mut buf))
                                .map(|p| p.len())
                        })
                    },
                );
            }
        }

        let ciphertext = std_fixture.key.encrypt_cbc(&IV, &plain).expect("encrypt");
        let mut out = vec![0u8; ciphertext.len()];
        let decrypt = |ct: &[u8], out: &mut [u8]| {
            cbc::Decryptor::<C>::inner_iv_init(reference.clone(), &IV.into())
                .decrypt_padded_b2b::<Pkcs7>(ct, out)
                .map(<[u8]>::len)
        };
        let n = decrypt(&ciphertext, &mut out).expect("reference decrypt");
        assert_eq!(&out[..n], &plain[..], "{group_name}: reference");
        group.bench_with_input(
            BenchmarkId::new(reference_name, label),
            &ciphertext,
            |b, ct| b.iter(|| decrypt(black_box(ct), &mut out)),
        );
    }
    group.finish();
}

/// The standard-mode key of `fixtures`, as the raw key bytes.
fn standard_key(fixtures: &[Fixture]) -> &[u8] {
    fixtures
        .iter()
        .find(|f| f.mode == Mode::Standard)
        .expect("standard fixture")
        .key
        .key_bytes()
}

fn bench_aes256(c: &mut Criterion) {
    let fixtures = fixtures(Algorithm::Aes256, AES256_SEED);
    let reference = Aes256::new_from_slice(standard_key(&fixtures)).expect("AES-256 key");
    bench_cbc(
        c,
        "aes256_cbc_decrypt",
        &fixtures,
        &reference,
        "reference_aes",
    );
}

fn bench_sm4(c: &mut Criterion) {
    let fixtures = fixtures(Algorithm::Sm4, SM4_SEED);
    let reference = Sm4::new_from_slice(standard_key(&fixtures)).expect("SM4 key");
    bench_cbc(c, "sm4_cbc_decrypt", &fixtures, &reference, "reference_sm4");
}

fn bench_keyfile(c: &mut Criterion) {
    // AES-256 keeps its historical ids (`keyfile/parse/external`, ...); SM4 ids are prefixed.
    let sets = [
        ("", fixtures(Algorithm::Aes256, AES256_SEED)),
        ("sm4_", fixtures(Algorithm::Sm4, SM4_SEED)),
    ];
    let mut group = c.benchmark_group("keyfile");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    for (prefix, fixtures) in &sets {
        for fixture in fixtures {
            let id = format!("{prefix}{}", fixture.name);
            group.throughput(Throughput::Bytes(fixture.file.len() as u64));
            group.sample_size(50);
            group.bench_with_input(BenchmarkId::new("parse", &id), &fixture.file, |b, file| {
                b.iter(|| WhiteboxKey::parse(black_box(file)).is_ok())
            });

            let mut rng = seeded_rng([0xa7; 32]);
            group.sample_size(10);
            group.bench_function(BenchmarkId::new("export_key_file", &id), |b| {
                b.iter(|| fixture.key.export_key_file(INFO, &mut rng).map(|f| f.len()));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_aes256, bench_sm4, bench_keyfile);
criterion_main!(benches);
