//! `storebench`: how the key store's writes scale with its size. Creates keys (as `wbgen
//! create` and `CreateWhiteBoxKey` do: fresh space-hard material, sealed, authenticated, its
//! digest checked against every other key's) in a store of 10 keys and in one of 100,000, and
//! prints the time per creation in each and their ratio.
//!
//! ```text
//! cargo run --release -p benches --bin storebench                   # SQLite
//! cargo run --release -p benches --bin storebench -- --database-url 'host=… dbname=…'
//! cargo run --release -p benches --bin storebench -- --quick  # 10,000 keys, 50 creations (CI)
//! ```
//! The PostgreSQL database must be empty (a new one). The store's 100,000 keys are filled in
//! by direct inserts of synthetic rows, which is quicker than creating them one by one and
//! gives the indexes and tables the same size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use wbgen::keystore::{Access, KdfParams, KeyStore, UnlockedStore};
use wbgen::rng::os_rng;
use wbgen::{KeyMaterial, Mode};
use wbruntime::Algorithm;
use wbstore::{KeyRow, Location};

/// The cheapest cost the store accepts: the benchmark measures writes, not Argon2id.
const CHEAP: KdfParams = KdfParams {
    memory_kib: 19 * 1024,
    iterations: 2,
    parallelism: 1,
};

fn pass(_: bool) -> Result<Zeroizing<String>, wbgen::Error> {
    Ok(Zeroizing::new("storebench".to_owned()))
}

/// Time per key created, over `CREATES` creations.
fn per_create(unlocked: &UnlockedStore, tag: &str, creates: usize) -> Duration {
    let mut rng = os_rng().unwrap();
    let started = Instant::now();
    for i in 0..creates {
        let m = KeyMaterial::generate(Algorithm::Aes256, Mode::DEFAULT, &mut rng);
        unlocked
            .with(Access::Write, |s| s.add_key(&m, &format!("{tag}-{i}"), ""))
            .unwrap();
    }
    started.elapsed() / creates as u32
}

/// Adds synthetic rows until the store holds `n` keys.
fn fill(location: &Location, n: usize) {
    let db = wbstore::Store::open(location).unwrap();
    let have = db.transact(false, |tx| tx.key_count()).unwrap() as usize;
    let record = r#"{"KeyId":"x","Alias":"x","Algorithm":"AES_256","CreateTime":"2026-12-06T00:00:00Z","ExternalEncoding":false,"SpaceHardBits":16,"KeyState":"Enabled","Versions":[]}"#;
    for chunk in (have..n).collect::<Vec<_>>().chunks(5_000) {
        db.transact(true, |tx| {
            for i in chunk {
                let id = format!("00000000-0000-4000-8000-{i:012x}");
                tx.insert_key(&KeyRow {
                    key_id: id.clone(),
                    alias: format!("filler-{i}"),
                    rev: 0,
                    record: record.to_owned(),
                    mac: String::new(),
                    next_rotation: None,
                })?;
                tx.insert_digest(&format!("{i:064x}"), &id, 1)?;
            }
            Ok::<_, wbstore::Error>(())
        })
        .unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .iter()
        .position(|a| a == "--database-url")
        .and_then(|i| args.get(i + 1).cloned());
    let quick = args.iter().any(|a| a == "--quick");
    let (large_size, creates) = if quick { (10_000, 50) } else { (100_000, 200) };
    let dir = std::env::temp_dir().join(format!("storebench-{}", std::process::id()));
    let location = match &url {
        Some(u) => Location::Postgres(u.clone()),
        None => Location::Dir(dir.join("store")),
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let store = KeyStore::at(location.clone())
        .init(CHEAP, &mut pass)
        .unwrap();
    let engine = if url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    println!("storebench: {engine}, CPU {cpu}, {creates} key creations per size");
    fill(&location, 10);
    let small = per_create(&store, "small", creates);
    println!(
        "  {:>7} keys: {:>8.3} ms per key created",
        10,
        small.as_secs_f64() * 1e3
    );
    fill(&location, large_size);
    let large = per_create(&store, "large", creates);
    println!(
        "  {large_size:>7} keys: {:>8.3} ms per key created",
        large.as_secs_f64() * 1e3
    );
    println!(
        "  ratio {large_size} / 10: {:.2}",
        large.as_secs_f64() / small.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
