//! `wbgen backup` and `wbgen restore`, as README shows them: a snapshot of a store in use,
//! restored into an empty directory store and into an empty PostgreSQL database, decrypts what
//! the original did; a store that is not empty is refused. A backup taken while other threads
//! write is one consistent moment (on both engines), and `wbgen` reaches a PostgreSQL store
//! through `WBKMS_DATABASE_URL` and `--database-url` (`list`, `create`, `backup`) with the
//! documented precedence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::ok;
use serde_json::Value;

const PASS: &str = "backup test passphrase";

fn scratch(name: &str) -> PathBuf {
    common::scratch("backup", name)
}

/// `wbgen` on the store that `store` names: `--keystore DIR` or `--database-url URL`.
fn wbgen(store: &[&str], args: &[&str]) -> Output {
    common::wbgen_command()
        .args(store)
        .args(args)
        .env("WBGEN_PASSPHRASE", PASS)
        .output()
        .unwrap()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

fn decrypts(store: &[&str], dir: &Path, id: &str, iv: &str, ct: &str) -> String {
    let file = dir.join(format!("{id}.wbkey"));
    let _ = std::fs::remove_file(&file);
    ok(&wbgen(
        store,
        &["export", "--key-id", id, "--out", file.to_str().unwrap()],
    ));
    let bytes = std::fs::read(&file).unwrap();
    let key = wbruntime::WhiteboxKey::parse(&bytes).unwrap();
    let plain = key
        .decrypt_cbc_to_vec(&B64.decode(iv).unwrap(), &B64.decode(ct).unwrap())
        .unwrap();
    String::from_utf8(plain.to_vec()).unwrap()
}

#[test]
fn a_backup_restores_into_an_empty_store_of_either_engine_and_decrypts() {
    let dir = scratch("roundtrip");
    let original = dir.join("original");
    let o = ["--keystore", original.to_str().unwrap()];
    ok(&wbgen(&o, &["init"]));
    let mut secrets = Vec::new();
    for (alg, alias) in [("aes-256", "a"), ("sm4", "b")] {
        let id = s(
            &ok(&wbgen(
                &o,
                &["create", "--algorithm", alg, "--alias", alias],
            )),
            "KeyId",
        );
        let e = ok(&wbgen(
            &o,
            &[
                "encrypt",
                "--key-id",
                &id,
                "--plaintext-b64",
                &B64.encode(format!("secret of {alias}")),
            ],
        ));
        secrets.push((
            id,
            s(&e, "InitializationVector"),
            s(&e, "CipherText"),
            alias,
        ));
    }
    let file = dir.join("store.backup");
    let summary = ok(&wbgen(&o, &["backup", "--out", file.to_str().unwrap()]));
    assert_eq!(summary["Keys"], 2);
    // The backup holds no key in the clear: what is in it is sealed.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("secret of"));

    let restored_dir = dir.join("restored");
    let mut targets = vec![vec![
        "--keystore".to_owned(),
        restored_dir.to_str().unwrap().to_owned(),
    ]];
    if let Some(url) = wbstore::testing::fresh_postgres("restore") {
        targets.push(vec!["--database-url".to_owned(), url]);
    }
    for t in &targets {
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        let r = ok(&wbgen(&t, &["restore", file.to_str().unwrap()]));
        assert_eq!(r["Keys"], 2);
        for (id, iv, ct, alias) in &secrets {
            assert_eq!(decrypts(&t, &dir, id, iv, ct), format!("secret of {alias}"));
        }
        // Not twice: the target is no longer empty.
        let out = wbgen(&t, &["restore", file.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("error 02000025"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A wrong passphrase does not open the restored store either.
        let out = common::wbgen_command()
            .args(&t)
            .args(["rotate", "--key-id", &secrets[0].0])
            .env("WBGEN_PASSPHRASE", "another")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000006"));
    }
    // A backup cut short is refused before anything is restored.
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let empty = dir.join("empty");
    let e = ["--keystore", empty.to_str().unwrap()];
    let out = wbgen(&e, &["restore", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000023"));
    // Nothing was created: no store there, and a good backup restores into it.
    let out = wbgen(&e, &["list"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000024"));
    std::fs::write(&file, &text).unwrap();
    ok(&wbgen(&e, &["restore", file.to_str().unwrap()]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The PostgreSQL store is named only by `WBKMS_DATABASE_URL` (no `--database-url`, no
/// `--keystore`; `WBGEN_KEYSTORE` names a directory that must stay unused): `init`, `create`,
/// `list` and `encrypt` work on it. The precedence (wbgen's `location`, as wbkms's `StoreArg`
/// documents it; README "The key store: SQLite or PostgreSQL" pairs each flag with its
/// variable): `--keystore`, else `--database-url`, else `WBKMS_DATABASE_URL`, else
/// `WBGEN_KEYSTORE`. Then `wbgen --database-url URL list` and `backup` from that database
/// through the command line, restored into a directory, decrypt what the original encrypted.
#[test]
fn a_postgresql_store_named_by_wbkms_database_url_is_used_listed_and_backed_up_by_the_cli() {
    let Some(url) = wbstore::testing::fresh_postgres("env_source") else {
        return;
    };
    let other = wbstore::testing::fresh_postgres("env_other").unwrap();
    let dir = scratch("env-url");
    let unused = dir.join("unused");
    let with_env = |store: &[&str], args: &[&str]| {
        common::wbgen_command()
            .env("WBKMS_DATABASE_URL", &url)
            .env("WBGEN_KEYSTORE", &unused)
            .env("WBGEN_PASSPHRASE", PASS)
            .args(store)
            .args(args)
            .output()
            .unwrap()
    };
    let ids = |v: &Value| -> Vec<String> {
        v["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| s(k, "KeyId"))
            .collect()
    };

    // The variable alone names the store: it is created, written and read there.
    let init = ok(&with_env(&[], &["init"]));
    assert_eq!(init["Engine"], "postgresql", "{init}");
    let created = ok(&with_env(
        &[],
        &[
            "create",
            "--algorithm",
            "sm4",
            "--mode",
            "standard",
            "--alias",
            "env-made",
        ],
    ));
    let id = s(&created, "KeyId");
    let listed = ok(&with_env(&[], &["list"]));
    assert_eq!(ids(&listed), [id.as_str()]);
    assert_eq!(listed["Keys"][0]["Alias"], "env-made");
    let e = ok(&with_env(
        &[],
        &[
            "encrypt",
            "--key-id",
            "env-made",
            "--plaintext-b64",
            &B64.encode("secret of env-made"),
        ],
    ));
    // WBGEN_KEYSTORE was not used: nothing was created there.
    assert!(!unused.exists());
    // The same database through `--database-url`, with no variable: `wbgen --database-url URL
    // list`.
    let by_flag = ok(&wbgen(&["--database-url", &url], &["list"]));
    assert_eq!(ids(&by_flag), [id.as_str()]);

    // `--database-url` wins over the variable: `init` goes to the other database (had the
    // variable won, it would find a store there and refuse, 02000025), which lists no key.
    let o = ["--database-url", other.as_str()];
    ok(&with_env(&o, &["init"]));
    assert!(ids(&ok(&with_env(&o, &["list"]))).is_empty());
    // `--keystore` wins over it too.
    let own = dir.join("own");
    let k = ["--keystore", own.to_str().unwrap()];
    let init = ok(&with_env(&k, &["init"]));
    assert_eq!(init["Engine"], "sqlite");
    assert!(own.join(wbstore::SQLITE_FILE).is_file());
    assert!(ids(&ok(&with_env(&k, &["list"]))).is_empty());
    // And neither changed the store the variable names.
    assert_eq!(ids(&ok(&with_env(&[], &["list"]))), [id.as_str()]);

    // `wbgen backup` through the command line from the PostgreSQL store, restored into a new
    // directory: the key decrypts what it encrypted before.
    let file = dir.join("pg.backup");
    let summary = ok(&wbgen(
        &["--database-url", &url],
        &["backup", "--out", file.to_str().unwrap()],
    ));
    assert_eq!(summary["Engine"], "postgresql", "{summary}");
    assert_eq!(summary["Keys"], 1);
    let restored = dir.join("restored");
    let r = ["--keystore", restored.to_str().unwrap()];
    let out = ok(&wbgen(&r, &["restore", file.to_str().unwrap()]));
    assert_eq!(out["Engine"], "sqlite");
    assert_eq!(out["Keys"], 1);
    assert_eq!(ids(&ok(&wbgen(&r, &["list"]))), [id.as_str()]);
    assert_eq!(
        decrypts(
            &r,
            &dir,
            &id,
            &s(&e, "InitializationVector"),
            &s(&e, "CipherText")
        ),
        "secret of env-made"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cheapest Argon2id cost a store accepts: the concurrent test unlocks several stores.
const CHEAP_KDF: wbgen::keystore::KdfParams = wbgen::keystore::KdfParams {
    memory_kib: wbgen::keystore::MIN_KDF_MEMORY_KIB,
    iterations: 2,
    parallelism: 1,
};

fn passphrase(_: bool) -> Result<zeroize::Zeroizing<String>, wbgen::Error> {
    Ok(zeroize::Zeroizing::new(PASS.to_owned()))
}

fn audit_entry(action: &str, key_id: &str) -> wbstore::audit::Entry {
    wbstore::audit::Entry {
        request_id: format!("{action}-{key_id}"),
        action: action.to_owned(),
        key_ids: vec![key_id.to_owned()],
        remote: "local".to_owned(),
        status: 200,
        code: "OK".to_owned(),
        ..wbstore::audit::Entry::default()
    }
}

/// Creates a key (SM4, standard mode: no tables are built) and records it in the chain
/// `creator`, in one transaction, as the service records what it does.
fn create_audited(
    store: &wbgen::keystore::UnlockedStore,
    alias: &str,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> String {
    let material =
        wbgen::KeyMaterial::generate(wbruntime::Algorithm::Sm4, wbgen::Mode::Standard, rng);
    store
        .with(wbgen::keystore::Access::Write, |s| {
            let rec = s.add_key(&material, alias, "")?;
            wbstore::audit::append_in(s.tx(), "creator", &audit_entry("Create", &rec.key_id))?;
            Ok(rec.key_id)
        })
        .unwrap()
}

fn key_count(store: &wbgen::keystore::UnlockedStore) -> usize {
    store
        .with(wbgen::keystore::Access::Read, |s| Ok(s.keys()?.len()))
        .unwrap()
}

/// Backups taken while one thread keeps creating keys and another keeps rotating one key
/// (each change and its audit record in one transaction) are each one moment of the store:
/// restored into an empty store of the same engine, every key's every version opens under the
/// passphrase and is the one its material digest names, the digest index holds exactly those
/// versions, every audit chain verifies and holds one record per change present (creations,
/// rotations), and the number of keys is between the counts before and after the backup.
fn a_backup_during_writes_is_one_consistent_moment(
    location: &wbstore::Location,
    empty: &mut dyn FnMut() -> wbstore::Location,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use wbgen::keystore::{Access, KeyStore};

    let store = Arc::new(
        KeyStore::at(location.clone())
            .init(CHEAP_KDF, &mut passphrase)
            .unwrap(),
    );
    let mut rng = common::rng(1);
    let rotated = create_audited(&store, "rotated", &mut rng);
    for i in 0..40 {
        create_audited(&store, &format!("seed-{i}"), &mut rng);
    }
    // A long chain, so that a backup reads for a while and the writers commit meanwhile.
    store
        .db()
        .transact(true, |tx| {
            for i in 0..2000 {
                wbstore::audit::append_in(tx, "padding", &audit_entry("Pad", &i.to_string()))?;
            }
            Ok::<_, wbstore::Error>(())
        })
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let creator = {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut rng = common::rng(2);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 5000 {
                create_audited(&store, &format!("w-{i}"), &mut rng);
                i += 1;
            }
            i
        })
    };
    let rotator = {
        let (store, stop, rotated) = (Arc::clone(&store), Arc::clone(&stop), rotated.clone());
        std::thread::spawn(move || {
            let mut rng = common::rng(3);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 500 {
                store
                    .with(Access::Write, |s| {
                        let (_, version) = s.rotate(&rotated, &mut rng)?;
                        wbstore::audit::append_in(
                            s.tx(),
                            "rotator",
                            &audit_entry(&format!("Rotate-{version}"), &rotated),
                        )?;
                        Ok(())
                    })
                    .unwrap();
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            n
        })
    };

    // Another handle on the store, as `wbgen backup` in another process has.
    let reader = wbstore::Store::open(location).unwrap();
    let dir = common::scratch("backup", &format!("during-writes-{}", reader.engine()));
    let mut taken = Vec::new();
    let mut in_flight = 0;
    for round in 0..40 {
        let before = key_count(&store);
        let file = dir.join(format!("{round}.backup"));
        let summary = wbstore::backup::backup(&reader, &file).unwrap();
        let after = key_count(&store);
        let keys = usize::try_from(summary.keys).unwrap();
        assert!(
            (before..=after).contains(&keys),
            "round {round}: {keys} keys backed up, {before} before and {after} after"
        );
        if before < after {
            in_flight += 1;
        }
        taken.push((file, keys, before < after));
        if in_flight >= 3 && round >= 5 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let created = creator.join().unwrap();
    let rotations = rotator.join().unwrap();
    assert!(
        in_flight > 0,
        "no backup was taken while keys were being created ({created} created, {rotations} rotations)"
    );
    eprintln!(
        "{}: {} backups, {in_flight} of them while keys were created; {created} keys created, {rotations} rotations meanwhile",
        reader.engine(),
        taken.len()
    );

    // Restore the first two backups taken while writes were in flight, and the last, each into
    // an empty store, and check each is whole.
    let last = taken.len() - 1;
    let mut checked = 0;
    for (i, (file, keys, during_writes)) in taken.iter().enumerate() {
        if i != last && !(*during_writes && checked < 2) {
            continue;
        }
        checked += 1;
        let target = empty();
        let db = wbstore::Store::create(&target).unwrap();
        let summary = wbstore::backup::restore(&db, &wbstore::backup::read(file).unwrap()).unwrap();
        assert_eq!(usize::try_from(summary.keys).unwrap(), *keys);
        let chains: std::collections::BTreeMap<String, u64> = wbstore::audit::verify(&db)
            .unwrap_or_else(|e| panic!("backup {i}: the restored audit chains: {e}"))
            .into_iter()
            .map(|v| (v.instance, v.count))
            .collect();
        let restored = KeyStore::at(target)
            .unlock(CHEAP_KDF, &mut passphrase)
            .unwrap();
        let (versions, rotated_versions) = restored
            .with(Access::Read, |s| {
                let keys = s.keys()?;
                let mut versions = 0u64;
                let mut rotated_versions = 0;
                for k in &keys {
                    for v in &k.versions {
                        // Opens under the passphrase, from an authentic record...
                        let (_, _, material) = s.material(&k.key_id, Some(v.version))?;
                        // ...and is the material its digest row names.
                        let holder = s.material_holder(&material, None)?.unwrap_or_else(|| {
                            panic!(
                                "backup {i}: key {} version {} has no digest row",
                                k.key_id, v.version
                            )
                        });
                        assert_eq!(
                            (holder.key_id.as_str(), holder.version),
                            (k.key_id.as_str(), v.version)
                        );
                        versions += 1;
                    }
                    if k.key_id == rotated {
                        rotated_versions = k.versions.len() as u64;
                    }
                }
                Ok((versions, rotated_versions))
            })
            .unwrap();
        let digests = db.transact(false, |tx| tx.digests()).unwrap();
        assert_eq!(
            digests.len() as u64,
            versions,
            "backup {i}: digest rows without their key version"
        );
        assert_eq!(chains["padding"], 2000);
        assert_eq!(
            chains["creator"], *keys as u64,
            "backup {i}: a creation and its audit record were not in the same snapshot"
        );
        assert_eq!(
            chains.get("rotator").copied().unwrap_or(0),
            rotated_versions - 1,
            "backup {i}: a rotation and its audit record were not in the same snapshot"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_backup_during_writes_is_one_consistent_moment_on_sqlite() {
    let dir = scratch("during-writes-sqlite-stores");
    let mut n = 0;
    a_backup_during_writes_is_one_consistent_moment(
        &wbstore::Location::Dir(dir.join("original")),
        &mut || {
            n += 1;
            wbstore::Location::Dir(dir.join(format!("restored-{n}")))
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_backup_during_writes_is_one_consistent_moment_on_postgresql() {
    let Some(url) = wbstore::testing::fresh_postgres("during_writes") else {
        return;
    };
    a_backup_during_writes_is_one_consistent_moment(&wbstore::Location::Postgres(url), &mut || {
        wbstore::Location::Postgres(
            wbstore::testing::fresh_postgres("during_writes_restored").unwrap(),
        )
    });
}
