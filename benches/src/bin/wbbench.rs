//! `wbbench`: a one-shot performance summary of the white-box toolkit.
//!
//! ```text
//! cargo run --release -p benches --bin wbbench [-- --json] [--quick]
//! ```
//!
//! In a single run it measures, with [`std::time::Instant`] on one thread, for AES-256 and
//! then for SM4:
//!
//! * the key file size of a key in each mode: external, standard, space-hard with n = 16, 8
//!   and (not with `--quick`) 24;
//! * table generation ([`KeyMaterial::export_key_file`]) and key file load + validation
//!   ([`WhiteboxKey::parse`]) for each mode;
//! * white-box CBC decryption ([`WhiteboxKey::decrypt_cbc`], the scalar backend) of a 64-byte
//!   secret and of 1 MiB, for each mode; 1 MiB again with every backend this CPU has
//!   ([`WhiteboxKey::accelerate_with`]: soft, AVX2, AVX-512 VBMI), and the 64-byte secret with
//!   the detected one; `whitebox_decrypt` of the 64-byte secret from the key file on disk
//!   (read, validate, decrypt);
//! * the reference RustCrypto decryption (`aes::Aes256` or `sm4::Sm4`, with `cbc::Decryptor`)
//!   of the same 64 bytes and 1 MiB, and the slowdown of the white-box against it.
//!
//! Every timing warms up first, then repeats batches of calls until at least 0.5 s have been
//! spent (and a minimum number of samples taken, up to a cap), and reports the median per-call
//! time of the batches (the best batch is in the JSON too). Before timing, and again on the
//! output of the last timed call, every white-box result is compared with the reference
//! plaintext: on any mismatch `wbbench` prints what differed and exits with status 1, so it can
//! never report the speed of a wrong answer. `--quick` takes one short sample of everything (a
//! smoke test for CI); `--json` prints one JSON object instead of the table. Unknown arguments
//! exit with status 2.

use std::error::Error;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aes::Aes256;
use cbc::cipher::block_padding::{self, Pkcs7};
use cbc::cipher::consts::U16;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, BlockSizeUser, InnerIvInit, KeyInit};
use serde_json::{Value, json};
use sm4::Sm4;
use wbgen::rng::os_rng;
use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial, Mode};
use wbruntime::{Algorithm, Backend, KeyId, WhiteboxKey};

type BoxError = Box<dyn Error>;

/// A white-box (or reference) decryption that did not return the expected plaintext.
#[derive(Debug)]
struct WrongResult(String);

impl std::fmt::Display for WrongResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WRONG RESULT: {}; no timings reported", self.0)
    }
}

impl Error for WrongResult {}

const USAGE: &str = "usage: wbbench [--json] [--quick]

  --json                 print one JSON object instead of a table
  --quick                one short sample of each measurement (CI smoke test)
  --no-soft-reference    skip the software-only AES reference (a second build of wbbench
                         with --cfg aes_backend=\"soft\", made and run by this command;
                         skipped by --quick)
  --reference-only       measure only the RustCrypto references (used for that build)
  --modes LIST           measure only these modes (comma-separated: external, standard,
                         space-hard-16, space-hard-8, space-hard-24)
  --help                 print this help";

/// Size of the small secret, in plaintext bytes.
const SECRET_LEN: usize = 64;
/// Size of the bulk message, in plaintext bytes.
const BULK_LEN: usize = 1 << 20;
const IV: [u8; 16] = [0x24; 16];

/// Command-line options.
#[derive(Clone, Copy, Debug, Default)]
struct Options {
    json: bool,
    quick: bool,
    no_soft_reference: bool,
    reference_only: bool,
    /// `--modes`: a bit per entry of [`ALL_MODES`] (0: the default set).
    only: u8,
}

enum Parsed {
    Run(Options),
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--modes" => {
                let list = args.next().ok_or("--modes needs a list of modes")?;
                for name in list.split(',') {
                    let i = ALL_MODES
                        .iter()
                        .position(|m| mode_name(*m) == name.trim())
                        .ok_or_else(|| format!("unknown mode `{name}` in --modes"))?;
                    opts.only |= 1 << i;
                }
            }
            "--json" => opts.json = true,
            "--quick" => opts.quick = true,
            "--no-soft-reference" => opts.no_soft_reference = true,
            "--reference-only" => opts.reference_only = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Parsed::Run(opts))
}

/// How long and how often to repeat one measurement.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Keep sampling until at least this much time has been spent...
    min_time: Duration,
    /// ...and at least this many samples have been taken...
    min_samples: usize,
    /// ...but never take more samples than this.
    max_samples: usize,
    /// Aim for each sample (a batch of calls) to last about this long.
    sample_time: Duration,
    /// Warm-up time before sampling (at least one call is always made).
    warm_up: Duration,
}

impl Budget {
    fn full() -> Self {
        Budget {
            min_time: Duration::from_millis(500),
            min_samples: 10,
            max_samples: 1000,
            sample_time: Duration::from_millis(10),
            warm_up: Duration::from_millis(100),
        }
    }

    /// For calls that take hundreds of milliseconds each (table generation).
    fn slow() -> Self {
        Budget {
            min_samples: 5,
            ..Self::full()
        }
    }

    fn quick() -> Self {
        Budget {
            min_time: Duration::ZERO,
            min_samples: 1,
            max_samples: 1,
            sample_time: Duration::from_millis(1),
            warm_up: Duration::ZERO,
        }
    }
}

/// The result of one measurement: per-call times.
#[derive(Clone, Copy, Debug)]
struct Timing {
    median: Duration,
    best: Duration,
    samples: usize,
    calls: u64,
}

impl Timing {
    fn json(&self) -> Value {
        json!({
            "median_ns": self.median.as_nanos() as u64,
            "best_ns": self.best.as_nanos() as u64,
            "samples": self.samples,
            "calls": self.calls,
        })
    }
}

/// Times `f`: warm-up, then batches of calls sized to `budget.sample_time`, until the budget is
/// spent; returns the median and best per-call time over the batches.
fn measure<T>(budget: Budget, mut f: impl FnMut() -> T) -> Timing {
    // Warm-up, which also estimates the cost of one call.
    let start = Instant::now();
    black_box(f());
    let mut warm_calls: u32 = 1;
    while start.elapsed() < budget.warm_up {
        black_box(f());
        warm_calls += 1;
    }
    let per_call = start.elapsed() / warm_calls;
    let batch = if per_call.is_zero() {
        1000
    } else {
        (budget.sample_time.as_nanos() / per_call.as_nanos()).clamp(1, 1_000_000) as u32
    };

    let mut samples = Vec::new();
    let mut calls = 0u64;
    let start = Instant::now();
    while samples.len() < budget.max_samples
        && (samples.len() < budget.min_samples || start.elapsed() < budget.min_time)
    {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        samples.push(t.elapsed() / batch);
        calls += u64::from(batch);
    }
    samples.sort_unstable();
    Timing {
        median: samples[samples.len() / 2],
        best: samples[0],
        samples: samples.len(),
        calls,
    }
}

/// A deterministic, non-trivial plaintext of `len` bytes.
fn plaintext(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// Plaintext bytes per second, in MB/s (10^6 bytes).
fn mb_per_s(bytes: usize, per_call: Duration) -> f64 {
    bytes as f64 / per_call.as_secs_f64() / 1e6
}

/// The block ciphers measured, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cipher {
    Aes256,
    Sm4,
}

impl Cipher {
    fn algorithm(self) -> Algorithm {
        match self {
            Cipher::Aes256 => Algorithm::Aes256,
            Cipher::Sm4 => Algorithm::Sm4,
        }
    }

    /// Section title of the table.
    fn title(self) -> &'static str {
        match self {
            Cipher::Aes256 => "AES-256-CBC",
            Cipher::Sm4 => "SM4-CBC",
        }
    }

    /// The `algorithm` field of the JSON.
    fn json_label(self) -> &'static str {
        match self {
            Cipher::Aes256 => "AES-256-CBC, PKCS#7",
            Cipher::Sm4 => "SM4-CBC, PKCS#7",
        }
    }

    fn reference_implementation(self) -> &'static str {
        match self {
            Cipher::Aes256 => "aes::Aes256 + cbc::Decryptor",
            Cipher::Sm4 => "sm4::Sm4 + cbc::Decryptor",
        }
    }

    /// What the reference runs on: the `aes` crate picks hardware AES instructions at run
    /// time when the CPU has them; the `sm4` crate is portable Rust only.
    fn reference_backend(self) -> &'static str {
        match self {
            Cipher::Aes256 => aes_backend(),
            Cipher::Sm4 => "software (portable Rust, no hardware backend)",
        }
    }
}

/// Measurements of one mode (external or standard).
struct ModeReport {
    name: &'static str,
    key_file_bytes: usize,
    generate: Timing,
    parse: Timing,
    secret: Timing,
    bulk: Timing,
    /// 1 MiB with each available backend.
    backends: Vec<(Backend, Timing)>,
    /// 64 B with the detected backend (`accelerate()`), and the backend.
    secret_fast: (Backend, Timing),
    /// `whitebox_decrypt` of the 64 B secret from the file on disk.
    from_disk: Timing,
    /// The public surfaces and the crossovers (not for the 218 MB n = 24 file).
    surfaces: Option<Surfaces>,
    /// Space-hard only: what the speed issue's targets are measured by.
    space_hard: Option<SpaceHardRows>,
}

/// Space-hard's own rows: the re-laid-out table and what it buys, encryption, and the parts of
/// the one-shot call's fixed cost.
struct SpaceHardRows {
    /// Whether the detected backend re-lays this width's table out (not for n = 24, nor off
    /// x86-64): without it the re-layout rows are `-`.
    relaid: bool,
    /// `accelerate()`: building the re-laid-out table for the detected backend.
    relayout: Timing,
    /// 1 MiB with the detected backend over the key file's table as it is.
    file_layout_bulk: Timing,
    /// 1 MiB with the detected backend over the re-laid-out table (the backend row).
    relaid_bulk: Duration,
    /// `WhiteboxKey::encrypt_cbc_to_vec` of 1 MiB (CBC encryption, one block after another).
    encrypt_bulk: Timing,
    /// `whitebox_decrypt`'s parts on the 64 B secret: reading the file, its digest alone,
    /// parsing (digest included).
    read: Timing,
    digest: Timing,
    parse: Timing,
    /// 1 MiB through a handle loaded from the file on disk (`read_key_file`, `OwnedKey`): for
    /// n = 24, the memory the runtime reads the file into (huge pages where the OS gives them).
    handle_from_file_bulk: Timing,
}

impl SpaceHardRows {
    /// Fewest blocks from which building the re-laid-out table pays for itself in one call.
    fn crossover(&self) -> Option<usize> {
        if !self.relaid {
            return None;
        }
        let blocks = (BULK_LEN / 16) as f64;
        let saved =
            (self.file_layout_bulk.median.as_secs_f64() - self.relaid_bulk.as_secs_f64()) / blocks;
        (saved > 0.0).then(|| (self.relayout.median.as_secs_f64() / saved).ceil() as usize)
    }
}

/// What callers get, measured through the calls they make, and where each backend starts to
/// pay.
struct Surfaces {
    /// `whitebox_decrypt` of 1 MiB from the file on disk (read, validate, choose, re-lay out,
    /// decrypt).
    one_shot_bulk: Timing,
    /// `OwnedKey` (the C and binding handle) on the 64 B secret and on 1 MiB, layout built.
    handle_secret: Timing,
    handle_bulk: Timing,
    /// The C ABI's `wb_key_decrypt` on 1 MiB (the same handle, through the boundary).
    c_abi_bulk: Timing,
    /// The backend the handle chose, and its own `FastKey` figure on 1 MiB in this run.
    backend: Backend,
    backend_bulk: Duration,
    /// Per batched backend: the re-layout time and the measured crossovers in blocks.
    crossovers: Vec<Crossover>,
}

struct Crossover {
    backend: Backend,
    relayout: Duration,
    /// Fewest blocks for which re-layout + the backend beats the scalar network.
    one_shot: usize,
    /// Fewest blocks for which the backend (layout built) beats the scalar network.
    handle: usize,
}

impl ModeReport {
    fn json(&self, slowdown: f64) -> Value {
        json!({
            "key_file_bytes": self.key_file_bytes,
            "table_generation": self.generate.json(),
            "key_file_parse": self.parse.json(),
            "decrypt_64b": self.secret.json(),
            "decrypt_1mib": self.bulk.json(),
            "decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, self.bulk.median),
            "slowdown_vs_reference_1mib": slowdown,
            "backends": self.backends.iter().map(|(b, t)| (b.name().to_owned(), json!({
                "decrypt_1mib": t.json(),
                "decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, t.median),
            }))).collect::<serde_json::Map<_, _>>(),
            "decrypt_64b_accelerated": { "backend": self.secret_fast.0.name(), "timing": self.secret_fast.1.json() },
            "whitebox_decrypt_from_disk_64b": self.from_disk.json(),
            "space_hard": self.space_hard.as_ref().map(|s| json!({
                "relayout": s.relaid.then(|| s.relayout.json()),
                "decrypt_1mib_relaid_mb_per_s": s.relaid.then(|| mb_per_s(BULK_LEN, s.relaid_bulk)),
                "decrypt_1mib_file_table_mb_per_s": mb_per_s(BULK_LEN, s.file_layout_bulk.median),
                "relayout_pays_from_blocks": s.crossover(),
                "handle_from_file_decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, s.handle_from_file_bulk.median),
                "encrypt_1mib": s.encrypt_bulk.json(),
                "encrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, s.encrypt_bulk.median),
                "one_shot_read": s.read.json(),
                "one_shot_digest": s.digest.json(),
                "one_shot_parse": s.parse.json(),
            })),
            "surfaces": self.surfaces.as_ref().map(|s| json!({
                "backend": s.backend.name(),
                "backend_decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, s.backend_bulk),
                "whitebox_decrypt_from_disk_1mib": s.one_shot_bulk.json(),
                "whitebox_decrypt_from_disk_1mib_mb_per_s": mb_per_s(BULK_LEN, s.one_shot_bulk.median),
                "handle_decrypt_64b": s.handle_secret.json(),
                "handle_decrypt_1mib": s.handle_bulk.json(),
                "handle_decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, s.handle_bulk.median),
                "c_abi_wb_key_decrypt_1mib": s.c_abi_bulk.json(),
                "c_abi_wb_key_decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, s.c_abi_bulk.median),
                "crossovers": s.crossovers.iter().map(|c| json!({
                    "backend": c.backend.name(),
                    "relayout_ns": c.relayout.as_nanos() as u64,
                    "one_shot_min_blocks": (c.one_shot != usize::MAX).then_some(c.one_shot),
                    "handle_min_blocks": (c.handle != usize::MAX).then_some(c.handle),
                })).collect::<Vec<_>>(),
            })),
        })
    }
}

/// The reference: RustCrypto AES-256 or SM4 in CBC mode over a standard-mode ciphertext (the
/// key schedule is done once; boxed, as the two key schedules differ much in size).
enum Reference {
    Aes256(Box<Aes256>),
    Sm4(Box<Sm4>),
}

/// CBC decryption (PKCS#7) under [`IV`] with a RustCrypto block cipher, buffer to buffer.
fn reference_cbc<'a, C>(
    cipher: &C,
    ciphertext: &[u8],
    out: &'a mut [u8],
) -> Result<&'a [u8], block_padding::Error>
where
    C: BlockCipherDecrypt + BlockSizeUser<BlockSize = U16> + Clone,
{
    cbc::Decryptor::<C>::inner_iv_init(cipher.clone(), &IV.into())
        .decrypt_padded_b2b::<Pkcs7>(ciphertext, out)
}

impl Reference {
    fn new(cipher: Cipher, key: &[u8]) -> Result<Self, BoxError> {
        let wrong_len = |_| -> BoxError { "reference key has the wrong length".into() };
        match cipher {
            Cipher::Aes256 => Aes256::new_from_slice(key)
                .map(|c| Reference::Aes256(Box::new(c)))
                .map_err(wrong_len),
            Cipher::Sm4 => Sm4::new_from_slice(key)
                .map(|c| Reference::Sm4(Box::new(c)))
                .map_err(wrong_len),
        }
    }

    fn decrypt<'a>(&self, ciphertext: &[u8], out: &'a mut [u8]) -> Result<&'a [u8], BoxError> {
        match self {
            Reference::Aes256(c) => reference_cbc(&**c, ciphertext, out),
            Reference::Sm4(c) => reference_cbc(&**c, ciphertext, out),
        }
        .map_err(|_| "reference decryption failed (bad padding)".into())
    }
}

/// Fails unless `got` is exactly `expected`.
fn check(what: &str, got: &[u8], expected: &[u8]) -> Result<(), WrongResult> {
    if got == expected {
        return Ok(());
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    Err(WrongResult(format!(
        "{what}: plaintext differs from the expected one \
         ({} bytes vs {} expected, first difference at byte {first})",
        got.len(),
        expected.len()
    )))
}

/// Measures one mode of `cipher` with a fresh key. `secret_plain` and `bulk_plain` are the
/// reference decryptions of the two messages, which the white-box must reproduce exactly.
fn measure_mode(
    cipher: Cipher,
    mode: Mode,
    opts: Options,
    secret_plain: &[u8],
    bulk_plain: &[u8],
) -> Result<ModeReport, BoxError> {
    let name = mode_name(mode);
    let what = format!("{} white-box, {name} mode", cipher.title());
    let (budget, slow) = if opts.quick {
        (Budget::quick(), Budget::quick())
    } else {
        (Budget::full(), Budget::slow())
    };
    let mut rng = os_rng()?;
    let info = KeyFileInfo {
        key_id: KeyId([1; 16]),
        key_version: 1,
    };
    let key = KeyMaterial::generate(cipher.algorithm(), mode, &mut rng);
    let secret_ct = key.encrypt_cbc(&IV, secret_plain)?;
    let bulk_ct = key.encrypt_cbc(&IV, bulk_plain)?;

    let file = key.export_key_file(info, &mut rng)?;
    // n = 24's table takes 0.3-3 s to build: one sample is enough for that row.
    let slow = if file.len() > 64 << 20 {
        Budget::quick()
    } else {
        slow
    };
    let generate = measure(slow, || {
        key.export_key_file(info, &mut rng).map(|f| f.len())
    });
    let parse = measure(budget, || WhiteboxKey::parse(black_box(&file)).is_ok());
    let wb = WhiteboxKey::parse(&file)?;

    let mut out = vec![0u8; bulk_ct.len()];
    // Correctness first: never time a wrong answer.
    let len = wb.decrypt_cbc(&IV, &secret_ct, &mut out)?;
    check(&format!("{what}, 64 B"), &out[..len], secret_plain)?;
    let len = wb.decrypt_cbc(&IV, &bulk_ct, &mut out)?;
    check(&format!("{what}, 1 MiB"), &out[..len], bulk_plain)?;

    let mut last = Ok(0);
    let secret = measure(budget, || {
        last = wb.decrypt_cbc(&IV, black_box(&secret_ct), &mut out);
    });
    let len = last?;
    check(&format!("{what}, 64 B (timed)"), &out[..len], secret_plain)?;
    let bulk = measure(budget, || {
        last = wb.decrypt_cbc(&IV, black_box(&bulk_ct), &mut out);
    });
    let len = last?;
    check(&format!("{what}, 1 MiB (timed)"), &out[..len], bulk_plain)?;

    // Every backend on 1 MiB, and the detected one on the 64 B secret; each result checked.
    let mut backends = Vec::new();
    for backend in Backend::available() {
        let fast = wb.accelerate_with(backend)?;
        let t = time_fast(
            &fast,
            budget,
            &bulk_ct,
            bulk_plain,
            &format!("{what}, 1 MiB, {backend}"),
        )?;
        backends.push((backend, t));
    }
    let fast = wb.accelerate();
    let secret_fast = time_fast(
        &fast,
        budget,
        &secret_ct,
        secret_plain,
        &format!("{what}, 64 B, {}", fast.backend()),
    )?;

    // The business call: key directory, file name, Base64 IV and ciphertext.
    let dir = std::env::temp_dir().join(format!("wbbench-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("k.wbkey"), &file)?;
    let (iv_b64, ct_b64) = (b64(&IV), b64(&secret_ct));
    let alg = cipher.algorithm().number();
    let from_disk = measure(budget, || {
        wbruntime::whitebox_decrypt(&dir, "k.wbkey", &iv_b64, &ct_b64, alg).is_ok()
    });
    let plain = wbruntime::whitebox_decrypt(&dir, "k.wbkey", &iv_b64, &ct_b64, alg)?;
    check(&format!("{what}, whitebox_decrypt"), &plain, secret_plain)?;
    let surfaces = if file.len() > 64 << 20 {
        None
    } else {
        let fast_bulk = backends
            .iter()
            .find(|(b, _)| *b == wbruntime::auto::process_backend().unwrap_or(Backend::Soft))
            .map_or(bulk.median, |(_, t)| t.median);
        Some(measure_surfaces(
            &SurfaceInput {
                what: &what,
                dir: &dir,
                file: &file,
                alg,
                secret: (&secret_ct, secret_plain),
                bulk: (&bulk_ct, bulk_plain),
                scalar_bulk: bulk.median,
                backend_bulk: fast_bulk,
            },
            budget,
            opts.quick,
        )?)
    };
    let space_hard = if wb.space_hard() {
        Some(measure_space_hard(
            &wb,
            &dir,
            (&secret_ct, secret_plain),
            (&bulk_ct, bulk_plain),
            backends
                .iter()
                .find(|(b, _)| *b == fast.backend())
                .map_or(bulk.median, |(_, t)| t.median),
            if file.len() > 64 << 20 {
                Budget::quick()
            } else {
                budget
            },
            &what,
        )?)
    } else {
        None
    };
    let _ = std::fs::remove_dir_all(&dir);

    Ok(ModeReport {
        name,
        key_file_bytes: file.len(),
        generate,
        parse,
        secret,
        bulk,
        backends,
        secret_fast: (fast.backend(), secret_fast),
        from_disk,
        surfaces,
        space_hard,
    })
}

/// Space-hard's own rows (see [`SpaceHardRows`]); every result checked.
fn measure_space_hard(
    wb: &WhiteboxKey<'_>,
    dir: &std::path::Path,
    (secret_ct, secret_plain): (&[u8], &[u8]),
    (bulk_ct, bulk_plain): (&[u8], &[u8]),
    relaid_bulk: Duration,
    budget: Budget,
    what: &str,
) -> Result<SpaceHardRows, BoxError> {
    let backend = Backend::detect();
    let relaid = matches!(backend, Backend::Avx2 | Backend::Avx512Vbmi)
        && wb.space_hard_bits() != Some(LineBits::N24);
    let relayout = measure(budget, || wb.accelerate_with(backend).is_ok());
    let plain_layout = wb.accelerate_without_relayout(backend)?;
    let file_layout_bulk = time_fast(
        &plain_layout,
        budget,
        bulk_ct,
        bulk_plain,
        &format!("{what}, 1 MiB, {backend}, the file's table"),
    )?;
    check(
        &format!("{what}, encrypt 1 MiB"),
        &wb.encrypt_cbc_to_vec(&IV, bulk_plain)?,
        bulk_ct,
    )?;
    let encrypt_bulk = measure(budget, || {
        wb.encrypt_cbc_to_vec(&IV, black_box(bulk_plain)).is_ok()
    });
    let path = dir.join("k.wbkey");
    let read = measure(budget, || wbruntime::read_key_file(&path).is_ok());
    let bytes = wbruntime::read_key_file(&path)?;
    let digest = measure(budget, || {
        black_box(blake3::hash(black_box(&bytes[..bytes.len() - 32])))
    });
    let parse = measure(budget, || WhiteboxKey::parse(black_box(&bytes)).is_ok());
    let handle = wbruntime::OwnedKey::load(bytes, None, || Ok::<_, wbruntime::Error>(""))?;
    let mut out = vec![0u8; bulk_ct.len()];
    let n = handle.decrypt_cbc(&IV, bulk_ct, &mut out)?;
    check(
        &format!("{what}, handle from the file, 1 MiB"),
        &out[..n],
        bulk_plain,
    )?;
    let handle_from_file_bulk = measure(budget, || {
        handle
            .decrypt_cbc(&IV, black_box(bulk_ct), &mut out)
            .is_ok()
    });
    let n = handle.decrypt_cbc(&IV, secret_ct, &mut out)?;
    check(
        &format!("{what}, handle from the file, 64 B"),
        &out[..n],
        secret_plain,
    )?;
    Ok(SpaceHardRows {
        relaid,
        relayout,
        file_layout_bulk,
        relaid_bulk,
        encrypt_bulk,
        read,
        digest,
        parse,
        handle_from_file_bulk,
    })
}

/// What [`measure_surfaces`] works on.
struct SurfaceInput<'a> {
    what: &'a str,
    dir: &'a std::path::Path,
    file: &'a [u8],
    alg: u32,
    secret: (&'a [u8], &'a [u8]),
    bulk: (&'a [u8], &'a [u8]),
    scalar_bulk: Duration,
    backend_bulk: Duration,
}

/// The public surfaces on the 64 B secret and 1 MiB, each result checked, and the crossovers.
fn measure_surfaces(
    input: &SurfaceInput<'_>,
    budget: Budget,
    quick: bool,
) -> Result<Surfaces, BoxError> {
    let what = input.what;
    let (bulk_ct, bulk_plain) = input.bulk;
    let (secret_ct, secret_plain) = input.secret;
    std::fs::write(input.dir.join("k.wbkey"), input.file)?;
    let (iv_b64, bulk_b64) = (b64(&IV), b64(bulk_ct));
    let one_shot =
        || wbruntime::whitebox_decrypt(input.dir, "k.wbkey", &iv_b64, &bulk_b64, input.alg);
    check(
        &format!("{what}, whitebox_decrypt 1 MiB"),
        &one_shot()?,
        bulk_plain,
    )?;
    let one_shot_bulk = measure(budget, || one_shot().is_ok());

    let handle =
        wbruntime::OwnedKey::load(input.file.to_vec(), None, || Ok::<_, wbruntime::Error>(""))?;
    let mut out = vec![0u8; bulk_ct.len()];
    let n = handle.decrypt_cbc(&IV, bulk_ct, &mut out)?;
    check(&format!("{what}, handle 1 MiB"), &out[..n], bulk_plain)?;
    let handle_bulk = measure(budget, || {
        handle
            .decrypt_cbc(&IV, black_box(bulk_ct), &mut out)
            .is_ok()
    });
    let n = handle.decrypt_cbc(&IV, secret_ct, &mut out)?;
    check(&format!("{what}, handle 64 B"), &out[..n], secret_plain)?;
    let handle_secret = measure(budget, || {
        handle
            .decrypt_cbc(&IV, black_box(secret_ct), &mut out)
            .is_ok()
    });
    let c_abi_bulk = c_abi::time_decrypt(input.file, bulk_ct, bulk_plain, budget, what)?;

    let wb = WhiteboxKey::parse(input.file)?;
    let mut crossovers = Vec::new();
    if !wb.space_hard() {
        let scalar_per_block = input.scalar_bulk.as_secs_f64() / (bulk_ct.len() / 16) as f64;
        for backend in Backend::available().filter(|b| *b != Backend::Soft) {
            let relayout = measure(
                if quick {
                    Budget::quick()
                } else {
                    Budget::slow()
                },
                || wb.accelerate_with(backend).map(|f| f.batch()).is_ok(),
            )
            .median;
            let fast = wb.accelerate_with(backend)?;
            let mut buf = bulk_ct.to_vec();
            let t = measure(Budget::quick(), || {
                buf.copy_from_slice(bulk_ct);
                fast.decrypt_cbc_in_place(&IV, &mut buf).is_ok()
            })
            .median;
            let fast_per_block = t.as_secs_f64() / (bulk_ct.len() / 16) as f64;
            // Re-layout + n · fast < n · scalar.
            let one_shot = if fast_per_block < scalar_per_block {
                (relayout.as_secs_f64() / (scalar_per_block - fast_per_block)).ceil() as usize
            } else {
                usize::MAX
            };
            let handle = handle_crossover(&wb, &fast, budget)?;
            crossovers.push(Crossover {
                backend,
                relayout,
                one_shot,
                handle,
            });
        }
    }
    Ok(Surfaces {
        one_shot_bulk,
        handle_secret,
        handle_bulk,
        c_abi_bulk,
        backend: handle.backend(),
        backend_bulk: input.backend_bulk,
        crossovers,
    })
}

/// The fewest blocks (of a sweep) from which `fast`, layout built, beats the scalar network
/// on every count measured above it.
fn handle_crossover(
    wb: &WhiteboxKey<'_>,
    fast: &wbruntime::FastKey<'_>,
    budget: Budget,
) -> Result<usize, BoxError> {
    let counts = [1usize, 2, 4, 6, 8, 12, 16, 20, 24, 32, 48, 64, 96, 128, 256];
    let budget = Budget {
        min_time: budget.min_time / 10,
        ..budget
    };
    let mut wins = Vec::new();
    for n in counts {
        let blocks = vec![[0x3cu8; 16]; n];
        let mut a = blocks.clone();
        let scalar = measure(budget, || {
            a.copy_from_slice(&blocks);
            wb.decrypt_blocks(&mut a);
        })
        .median;
        let mut b = blocks.clone();
        let accelerated = measure(budget, || {
            b.copy_from_slice(&blocks);
            fast.decrypt_blocks(&mut b);
        })
        .median;
        if a != b {
            return Err(Box::new(WrongResult(format!(
                "crossover sweep: {} differs from soft at {n} blocks",
                fast.backend()
            ))));
        }
        // Within 3 %, counted as a tie: below FastKey's own minimum both are the scalar path.
        wins.push((n, accelerated.as_secs_f64() < scalar.as_secs_f64() * 0.97));
    }
    let first_of_last_run = wins
        .iter()
        .rposition(|&(_, win)| !win)
        .map_or(1, |i| wins.get(i + 1).map_or(usize::MAX, |&(n, _)| n));
    Ok(first_of_last_run)
}

/// The C ABI, called as a C program calls it (through the same `extern "C"` functions the
/// shared library exports).
mod c_abi {
    #![allow(unsafe_code)]

    use super::{BoxError, Budget, IV, Timing, black_box, check, measure};

    /// Loads `file` into a `wb_key`, times `wb_key_decrypt` on `ct` (checked against `plain`
    /// before and after), frees the handle.
    pub(super) fn time_decrypt(
        file: &[u8],
        ct: &[u8],
        plain: &[u8],
        budget: Budget,
        what: &str,
    ) -> Result<Timing, BoxError> {
        let mut key: *mut wbruntime_ffi::WbKey = std::ptr::null_mut();
        // SAFETY: `file` is readable for its length, the fingerprint is null (unbound file),
        // `key` is a writable pointer.
        let rc = unsafe {
            wbruntime_ffi::wb_key_load_buffer(file.as_ptr(), file.len(), std::ptr::null(), &mut key)
        };
        if rc != 0 {
            return Err(format!("wb_key_load_buffer: {rc}").into());
        }
        let mut out = vec![0u8; ct.len()];
        let call = |out: &mut [u8]| {
            let mut len = out.len();
            // SAFETY: `key` is the live handle loaded above; `IV` and `ct` are readable for
            // their lengths; `out` is writable for `len` bytes and overlaps neither.
            let rc = unsafe {
                wbruntime_ffi::wb_key_decrypt(
                    key,
                    IV.as_ptr(),
                    IV.len(),
                    ct.as_ptr(),
                    ct.len(),
                    out.as_mut_ptr(),
                    &mut len,
                )
            };
            (rc, len)
        };
        let result = (|| {
            let (rc, len) = call(&mut out);
            if rc != 0 {
                return Err(format!("wb_key_decrypt: {rc}").into());
            }
            check(&format!("{what}, C ABI 1 MiB"), &out[..len], plain)?;
            let t = measure(budget, || black_box(call(&mut out)));
            let (rc, len) = call(&mut out);
            if rc != 0 {
                return Err(format!("wb_key_decrypt: {rc}").into());
            }
            check(&format!("{what}, C ABI 1 MiB (timed)"), &out[..len], plain)?;
            Ok(t)
        })();
        // SAFETY: the handle from `wb_key_load_buffer`, freed once, no longer used.
        unsafe { wbruntime_ffi::wb_key_free(key) };
        result
    }
}

/// A crossover in blocks; `usize::MAX` (the backend never wins) as "never".
fn blocks(n: usize) -> String {
    if n == usize::MAX {
        "never".to_owned()
    } else {
        format!("{n} blocks")
    }
}

/// The name of a mode in the table's header and the JSON: `external`, `standard`,
/// `space-hard-N`.
fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::External => "external",
        Mode::Standard => "standard",
        Mode::SpaceHard(b) => match b.bits() {
            8 => "space-hard-8",
            16 => "space-hard-16",
            _ => "space-hard-24",
        },
    }
}

/// Every mode `wbbench` can measure, in the table's order.
const ALL_MODES: [Mode; 5] = [
    Mode::External,
    Mode::Standard,
    Mode::SpaceHard(LineBits::N16),
    Mode::SpaceHard(LineBits::N8),
    Mode::SpaceHard(LineBits::N24),
];

/// The modes measured (all of `--modes` if given): both Chow-style modes, then space-hard n = 16 (the default), 8 and,
/// unless `--quick`, 24 (a 218 MB key file).
fn modes(opts: Options) -> Vec<Mode> {
    if opts.only != 0 {
        return ALL_MODES
            .iter()
            .enumerate()
            .filter(|(i, _)| opts.only & (1 << i) != 0)
            .map(|(_, m)| *m)
            .collect();
    }
    let mut m = vec![
        Mode::External,
        Mode::Standard,
        Mode::SpaceHard(LineBits::N16),
        Mode::SpaceHard(LineBits::N8),
    ];
    if !opts.quick {
        m.push(Mode::SpaceHard(LineBits::N24));
    }
    m
}

/// Times `FastKey::decrypt_cbc_in_place` on a fresh copy of `ct` per call; the plaintext is
/// checked before and after timing.
fn time_fast(
    fast: &wbruntime::FastKey<'_>,
    budget: Budget,
    ct: &[u8],
    plain: &[u8],
    what: &str,
) -> Result<Timing, BoxError> {
    let mut buf = ct.to_vec();
    check(what, fast.decrypt_cbc_in_place(&IV, &mut buf)?, plain)?;
    let t = measure(budget, || {
        buf.copy_from_slice(ct);
        fast.decrypt_cbc_in_place(&IV, black_box(&mut buf))
            .map(|p| p.len())
            .is_ok()
    });
    buf.copy_from_slice(ct);
    check(
        &format!("{what} (timed)"),
        fast.decrypt_cbc_in_place(&IV, &mut buf)?,
        plain,
    )?;
    Ok(t)
}

/// Everything measured for one block cipher: the reference and the white-box modes.
struct CipherReport {
    cipher: Cipher,
    secret_ct_len: usize,
    ref_secret: Timing,
    ref_bulk: Timing,
    /// In the order of [`modes`].
    modes: Vec<ModeReport>,
}

impl CipherReport {
    /// White-box 1 MiB time over reference 1 MiB time.
    fn slowdown(&self, m: &ModeReport) -> f64 {
        m.bulk.median.as_secs_f64() / self.ref_bulk.median.as_secs_f64()
    }

    fn whitebox_json(&self) -> Value {
        let mut modes = serde_json::Map::new();
        for m in &self.modes {
            modes.insert(m.name.to_owned(), m.json(self.slowdown(m)));
        }
        Value::Object(modes)
    }

    fn reference_json(&self) -> Value {
        json!({
            "implementation": self.cipher.reference_implementation(),
            "backend": self.cipher.reference_backend(),
            "decrypt_64b": self.ref_secret.json(),
            "decrypt_1mib": self.ref_bulk.json(),
            "decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, self.ref_bulk.median),
        })
    }

    fn print_table(&self) {
        println!("== {} ==", self.cipher.title());
        let row = |label: &str, f: &dyn Fn(&ModeReport) -> String| {
            let cells: String = self
                .modes
                .iter()
                .map(|m| format!(" {:>18}", f(m)))
                .collect();
            println!("{label:<34}{cells}");
        };
        row("white-box mode", &|m| m.name.to_owned());
        row("key file size", &|m| format!("{} B", m.key_file_bytes));
        row("table generation", &|m| fmt_ms(m.generate.median));
        row("key file parse + validate", &|m| fmt_ms(m.parse.median));
        row("decrypt 64 B secret", &|m| fmt_us(m.secret.median));
        row("decrypt 1 MiB", &|m| fmt_ms(m.bulk.median));
        row("decrypt 1 MiB throughput", &|m| {
            format!("{:.2} MB/s", mb_per_s(BULK_LEN, m.bulk.median))
        });
        row("slowdown vs reference (1 MiB)", &|m| {
            format!("{:.0}x", self.slowdown(m))
        });
        for backend in Backend::available() {
            let label = format!("1 MiB, {backend} backend");
            row(&label, &|m| {
                m.backends
                    .iter()
                    .find(|(b, _)| *b == backend)
                    .map(|(_, t)| {
                        format!(
                            "{:.1} MB/s {:.2}x",
                            mb_per_s(BULK_LEN, t.median),
                            self.ref_bulk.median.as_secs_f64() / t.median.as_secs_f64()
                        )
                    })
                    .unwrap_or_default()
            });
        }
        row("64 B secret, detected backend", &|m| {
            format!("{} ({})", fmt_us(m.secret_fast.1.median), m.secret_fast.0)
        });
        row("whitebox_decrypt 64 B from disk", &|m| {
            fmt_us(m.from_disk.median)
        });
        if self.modes.iter().any(|m| m.space_hard.is_some()) {
            println!(
                "-- space-hard (detected backend): re-laid-out table, encryption, the one-shot call's parts --"
            );
            let sh = |label: &str, f: &dyn Fn(&SpaceHardRows) -> String| {
                row(label, &|m| m.space_hard.as_ref().map(f).unwrap_or_default());
            };
            let relaid = |s: &SpaceHardRows, f: &dyn Fn(&SpaceHardRows) -> String| {
                if s.relaid { f(s) } else { "-".to_owned() }
            };
            sh("re-layout (accelerate)", &|s| {
                relaid(s, &|s| fmt_ms(s.relayout.median))
            });
            sh("1 MiB, re-laid-out table", &|s| {
                relaid(s, &|s| {
                    format!("{:.1} MB/s", mb_per_s(BULK_LEN, s.relaid_bulk))
                })
            });
            sh("1 MiB, the file's table", &|s| {
                format!("{:.1} MB/s", mb_per_s(BULK_LEN, s.file_layout_bulk.median))
            });
            sh("re-layout pays from (one call)", &|s| {
                relaid(s, &|s| {
                    s.crossover()
                        .map_or_else(|| "never".to_owned(), |n| format!("{n} blocks"))
                })
            });
            sh("1 MiB, handle loaded from disk", &|s| {
                format!(
                    "{:.1} MB/s",
                    mb_per_s(BULK_LEN, s.handle_from_file_bulk.median)
                )
            });
            sh("encrypt 1 MiB (CBC), ratio to decrypt", &|s| {
                format!(
                    "{:.1} MB/s {:.2}x",
                    mb_per_s(BULK_LEN, s.encrypt_bulk.median),
                    s.relaid_bulk.as_secs_f64() / s.encrypt_bulk.median.as_secs_f64()
                )
            });
            sh("one-shot: read the file", &|s| fmt_us(s.read.median));
            sh("one-shot: its digest (BLAKE3)", &|s| {
                fmt_us(s.digest.median)
            });
            sh("one-shot: parse, digest included", &|s| {
                fmt_us(s.parse.median)
            });
        }
        println!(
            "-- what callers get (the backend the handle chose, ratio to its own FastKey figure) --"
        );
        let surface = |label: &str, f: &dyn Fn(&Surfaces) -> String| {
            row(label, &|m| m.surfaces.as_ref().map(f).unwrap_or_default());
        };
        surface("surfaces' backend", &|s| s.backend.name().to_owned());
        surface("  its FastKey, 1 MiB", &|s| {
            format!("{:.1} MB/s", mb_per_s(BULK_LEN, s.backend_bulk))
        });
        let ratio = |t: Duration, s: &Surfaces| s.backend_bulk.as_secs_f64() / t.as_secs_f64();
        surface("whitebox_decrypt 1 MiB from disk", &|s| {
            format!(
                "{:.1} MB/s {:.2}x",
                mb_per_s(BULK_LEN, s.one_shot_bulk.median),
                ratio(s.one_shot_bulk.median, s)
            )
        });
        surface("handle (OwnedKey) 1 MiB", &|s| {
            format!(
                "{:.1} MB/s {:.2}x",
                mb_per_s(BULK_LEN, s.handle_bulk.median),
                ratio(s.handle_bulk.median, s)
            )
        });
        surface("C ABI wb_key_decrypt 1 MiB", &|s| {
            format!(
                "{:.1} MB/s {:.2}x",
                mb_per_s(BULK_LEN, s.c_abi_bulk.median),
                ratio(s.c_abi_bulk.median, s)
            )
        });
        surface("handle (OwnedKey) 64 B", &|s| {
            fmt_us(s.handle_secret.median)
        });
        for backend in Backend::available().filter(|b| *b != Backend::Soft) {
            let find = |s: &Surfaces| {
                s.crossovers
                    .iter()
                    .find(|c| c.backend == backend)
                    .map(|c| (c.relayout, c.one_shot, c.handle))
            };
            surface(&format!("{backend}: re-layout"), &|s| {
                find(s).map(|c| fmt_ms(c.0)).unwrap_or_else(|| "-".into())
            });
            surface(&format!("{backend}: crossover, one-shot"), &|s| {
                find(s).map(|c| blocks(c.1)).unwrap_or_else(|| "-".into())
            });
            surface(&format!("{backend}: crossover, handle"), &|s| {
                find(s).map(|c| blocks(c.2)).unwrap_or_else(|| "-".into())
            });
        }
        println!();
        println!(
            "reference: {}, backend {}",
            self.cipher.reference_implementation(),
            self.cipher.reference_backend()
        );
        println!(
            "{:<34} {:>16}",
            "decrypt 64 B secret",
            fmt_us(self.ref_secret.median)
        );
        println!(
            "{:<34} {:>16}",
            "decrypt 1 MiB",
            fmt_ms(self.ref_bulk.median)
        );
        println!(
            "{:<34} {:>16}",
            "decrypt 1 MiB throughput",
            format!("{:.2} MB/s", mb_per_s(BULK_LEN, self.ref_bulk.median))
        );
    }
}

/// Measures `cipher`: the reference first (its output is the plaintext every white-box
/// decryption must reproduce), then a fresh key in each mode.
fn measure_cipher(
    cipher: Cipher,
    opts: Options,
    secret_plain: &[u8],
    bulk_plain: &[u8],
) -> Result<CipherReport, BoxError> {
    let title = cipher.title();
    // The reference decrypts a standard-mode ciphertext.
    let mut rng = os_rng()?;
    let std_key = KeyMaterial::generate(cipher.algorithm(), Mode::Standard, &mut rng);
    let reference = Reference::new(cipher, std_key.key_bytes())?;
    let ref_secret_ct = std_key.encrypt_cbc(&IV, secret_plain)?;
    let ref_bulk_ct = std_key.encrypt_cbc(&IV, bulk_plain)?;
    let mut out = vec![0u8; ref_bulk_ct.len()];
    let ref_secret_plain = reference.decrypt(&ref_secret_ct, &mut out)?.to_vec();
    check(
        &format!("{title} reference, 64 B"),
        &ref_secret_plain,
        secret_plain,
    )?;
    let ref_bulk_plain = reference.decrypt(&ref_bulk_ct, &mut out)?.to_vec();
    check(
        &format!("{title} reference, 1 MiB"),
        &ref_bulk_plain,
        bulk_plain,
    )?;

    let budget = if opts.quick {
        Budget::quick()
    } else {
        Budget::full()
    };
    let ref_secret = measure(budget, || {
        reference
            .decrypt(black_box(&ref_secret_ct), &mut out)
            .map(<[u8]>::len)
            .is_ok()
    });
    let ref_bulk = measure(budget, || {
        reference
            .decrypt(black_box(&ref_bulk_ct), &mut out)
            .map(<[u8]>::len)
            .is_ok()
    });
    check(
        &format!("{title} reference, 1 MiB (timed)"),
        reference.decrypt(&ref_bulk_ct, &mut out)?,
        bulk_plain,
    )?;

    let modes = modes(opts)
        .into_iter()
        .map(|mode| measure_mode(cipher, mode, opts, &ref_secret_plain, &ref_bulk_plain))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CipherReport {
        cipher,
        secret_ct_len: ref_secret_ct.len(),
        ref_secret,
        ref_bulk,
        modes,
    })
}

fn build_description() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug (debug assertions on: numbers are not representative)"
    } else {
        "release"
    };
    format!(
        "wbbench {} ({profile}, {}-{}), single-threaded",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
    )
}

/// The CPU model, where the OS says (Linux `/proc/cpuinfo`).
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

/// Whether the reference `aes` crate can use hardware AES instructions on this CPU (it picks
/// them at run time).
fn aes_backend() -> &'static str {
    if cfg!(aes_backend = "soft") {
        return "software (forced: --cfg aes_backend=\"soft\")";
    }
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if std::arch::is_x86_feature_detected!("aes") {
            return "AES-NI";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("aes") {
            return "ARMv8 AES";
        }
    }
    "software (no AES instructions detected)"
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn fmt_us(d: Duration) -> String {
    format!("{:.3} µs", d.as_secs_f64() * 1e6)
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `--reference-only`: the 1 MiB reference decryptions of both ciphers, as JSON.
fn reference_only() -> Result<Value, BoxError> {
    let bulk_plain = plaintext(BULK_LEN);
    let mut out = serde_json::Map::new();
    for cipher in [Cipher::Aes256, Cipher::Sm4] {
        let mut rng = os_rng()?;
        let key = KeyMaterial::generate(cipher.algorithm(), Mode::Standard, &mut rng);
        let reference = Reference::new(cipher, key.key_bytes())?;
        let ct = key.encrypt_cbc(&IV, &bulk_plain)?;
        let mut buf = vec![0u8; ct.len()];
        check("reference", reference.decrypt(&ct, &mut buf)?, &bulk_plain)?;
        let t = measure(Budget::full(), || {
            reference.decrypt(black_box(&ct), &mut buf).is_ok()
        });
        out.insert(
            cipher.json_label().to_owned(),
            json!({
                "backend": cipher.reference_backend(),
                "decrypt_1mib_mb_per_s": mb_per_s(BULK_LEN, t.median),
            }),
        );
    }
    Ok(Value::Object(out))
}

/// Where the soft-AES build goes: beside this binary's own build (`<target dir>/release/wbbench`
/// → `<target dir>/soft-aes-reference`), so that it follows `CARGO_TARGET_DIR` and never lands
/// in the source tree.
fn soft_target_dir() -> Result<std::path::PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(std::path::Path::parent)
        .ok_or("cannot tell the target directory from this binary's path")?;
    Ok(target.join("soft-aes-reference"))
}

/// Builds and runs this command again with the `aes` crate forced to its software backend
/// (`--cfg aes_backend="soft"`, in its own target directory), and returns that build's AES-256
/// reference throughput in MB/s.
fn soft_aes_reference() -> Result<f64, BoxError> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace root")?;
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .env("RUSTFLAGS", "--cfg aes_backend=\"soft\"")
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "benches",
            "--bin",
            "wbbench",
        ])
        .arg("--target-dir")
        .arg(soft_target_dir()?)
        .args(["--", "--reference-only"])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the soft-AES build failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )
        .into());
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    v[Cipher::Aes256.json_label()]["decrypt_1mib_mb_per_s"]
        .as_f64()
        .ok_or_else(|| "no AES figure in the soft-AES run".into())
}

fn run(opts: Options) -> Result<(), BoxError> {
    if opts.reference_only {
        println!("{}", reference_only()?);
        return Ok(());
    }
    let secret_plain = plaintext(SECRET_LEN);
    let bulk_plain = plaintext(BULK_LEN);
    let soft_aes = if opts.quick || opts.no_soft_reference {
        None
    } else {
        Some(soft_aes_reference().map_err(|e| e.to_string()))
    };

    let aes = measure_cipher(Cipher::Aes256, opts, &secret_plain, &bulk_plain)?;
    let sm4 = measure_cipher(Cipher::Sm4, opts, &secret_plain, &bulk_plain)?;

    if opts.json {
        // The AES-256 results stay at the top level (`algorithm`, `whitebox`, `reference`),
        // where they were before SM4 was measured; SM4 has the same three fields under `sm4`.
        let value = json!({
            "build": build_description(),
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
            "arch": std::env::consts::ARCH,
            "os": std::env::consts::OS,
            "cpu": cpu_model(),
            "threads": 1,
            "quick": opts.quick,
            "algorithm": aes.cipher.json_label(),
            "statistic": "median per-call time over batches; best batch also given",
            "secret_plaintext_bytes": SECRET_LEN,
            "bulk_plaintext_bytes": BULK_LEN,
            "results_verified": true,
            "whitebox": aes.whitebox_json(),
            "reference": aes.reference_json(),
            "sm4": {
                "algorithm": sm4.cipher.json_label(),
                "whitebox": sm4.whitebox_json(),
                "reference": sm4.reference_json(),
            },
            "reference_aes_forced_software_1mib_mb_per_s": match &soft_aes {
                Some(Ok(v)) => json!(v),
                _ => Value::Null,
            },
        });
        println!("{value}");
        return Ok(());
    }

    println!("{}", build_description());
    if let Some(cpu) = cpu_model() {
        println!("cpu: {cpu}");
    }
    println!(
        "AES-256-CBC and SM4-CBC (PKCS#7); median per-call time{}; MB = 10^6 bytes",
        if opts.quick {
            " (--quick: ONE sample each, rough)"
        } else {
            " over ≥ 0.5 s of batches after warm-up"
        }
    );
    println!(
        "all white-box results checked equal to the reference plaintext: \
         64 B secret ({} B ciphertext), 1 MiB message",
        aes.secret_ct_len
    );
    for report in [&aes, &sm4] {
        println!();
        report.print_table();
        if report.cipher == Cipher::Aes256 {
            let ref_mb = mb_per_s(BULK_LEN, report.ref_bulk.median);
            match &soft_aes {
                Some(Ok(mb)) => {
                    println!(
                        "{:<34} {:>16}",
                        "reference, aes forced software",
                        format!("{mb:.2} MB/s")
                    );
                    for m in &report.modes {
                        for (b, t) in &m.backends {
                            let w = mb_per_s(BULK_LEN, t.median);
                            println!(
                                "  {} mode, {b}: {:.3}x of software AES, {:.4}x of default AES",
                                m.name,
                                w / mb,
                                w / ref_mb
                            );
                        }
                    }
                }
                Some(Err(e)) => println!("reference, aes forced software: not measured ({e})"),
                None => println!("reference, aes forced software: skipped"),
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(opts)) => opts,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("wbbench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wbbench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
