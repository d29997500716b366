//! The store's suite, one body per test, run on both engines (`on_both_engines!`): schema,
//! envelope, key rows and their compare-and-set, concurrency without lost updates, audit
//! chains, credentials, backup and restore (also from one engine to the other).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use zeroize::Zeroizing;

use wbstore::audit::{self, Entry};
use wbstore::records::{Role, TokenRecord};
use wbstore::{Error, KdfParams, KeyRow, Location, Prompt, Protection, Store};

const CHEAP: KdfParams = KdfParams {
    memory_kib: 19 * 1024,
    iterations: 2,
    parallelism: 1,
};

fn pass(p: &'static str) -> impl FnMut(Prompt<'_>) -> Result<Zeroizing<String>, Error> {
    move |prompt| {
        assert!(matches!(prompt, Prompt::Passphrase { .. }), "{prompt:?}");
        Ok(Zeroizing::new(p.to_owned()))
    }
}

const CHEAP_PASSPHRASE: Protection = Protection::Passphrase(CHEAP);

/// A new store at `loc` (created on purpose, as `wbgen init` does).
fn fresh(loc: &Location) -> Store {
    Store::init(loc, &CHEAP_PASSPHRASE, &mut pass("pw"))
        .unwrap()
        .0
}

fn row(id: &str, alias: &str, record: &str) -> KeyRow {
    KeyRow {
        key_id: id.into(),
        alias: alias.into(),
        rev: 0,
        record: record.into(),
        mac: format!("mac-of-{record}"),
        next_rotation: None,
    }
}

fn entry(action: &str) -> Entry {
    Entry {
        request_id: format!("r-{action}"),
        action: action.into(),
        remote: "local".into(),
        code: "OK".into(),
        ..Entry::default()
    }
}

on_both_engines!(
    schema_is_created_once_and_a_newer_one_is_refused,
    envelope_is_set_once_and_checks_the_passphrase,
    aliases_are_unique_and_updates_compare_and_set,
    concurrent_writers_lose_no_update,
    audit_chains_per_instance_and_shared_chains_never_fork,
    an_edited_audit_record_is_found,
    tokens_are_found_by_hash,
    a_version_1_schema_is_migrated,
    backup_restores_into_an_empty_store_only,
    a_signature_is_claimed_once,
    an_archived_chain_continues_across_files,
    an_archive_that_was_edited_or_lost_is_found,
    backup_keeps_where_an_archived_chain_continues,
    records_removed_from_a_chains_start_are_found,
);

/// The replay cache of signed requests: a signature is accepted once until it expires, also
/// when eight writers claim it at the same moment; expired ones are forgotten.
fn a_signature_is_claimed_once(loc: &Location) {
    let store = Arc::new(fresh(loc));
    assert!(
        store
            .transact(true, |tx| tx.claim_signature("s1", 1_000, 500))
            .unwrap()
    );
    assert!(
        !store
            .transact(true, |tx| tx.claim_signature("s1", 1_000, 600))
            .unwrap()
    );
    // After it expired, it is forgotten (and the same text may be claimed again).
    assert!(
        store
            .transact(true, |tx| tx.claim_signature("s1", 2_000, 1_001))
            .unwrap()
    );
    let winners: usize = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                usize::from(
                    store
                        .transact(true, |tx| tx.claim_signature("race", 3_000, 1_500))
                        .unwrap(),
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(winners, 1, "exactly one claim of a signature wins");
}

fn schema_is_created_once_and_a_newer_one_is_refused(loc: &Location) {
    // Nothing there yet: refused, naming the location and how to create a store.
    let e = Store::open(loc).unwrap_err();
    assert_eq!(e.code(), "02000024", "{e}");
    assert!(e.to_string().contains("init"), "{e}");
    let a = fresh(loc);
    // init refuses a location that holds a store.
    assert_eq!(
        Store::init(loc, &CHEAP_PASSPHRASE, &mut pass("pw"))
            .unwrap_err()
            .code(),
        "02000025"
    );
    // A second open (another process) finds it current and changes nothing.
    let b = Store::open(loc).unwrap();
    assert_eq!(
        b.transact(false, |tx| tx.meta("schema_version")).unwrap(),
        Some(wbstore::SCHEMA_VERSION.to_string())
    );
    a.transact(true, |tx| tx.set_meta("schema_version", "99"))
        .unwrap();
    assert_eq!(Store::open(loc).unwrap_err(), Error::UnsupportedVersion(99));
    assert_eq!(Store::open(loc).unwrap_err().code(), "02000009");
}

fn envelope_is_set_once_and_checks_the_passphrase(loc: &Location) {
    let mut asked_new = None;
    let (store, master) = Store::init(loc, &CHEAP_PASSPHRASE, &mut |prompt| {
        asked_new = match prompt {
            Prompt::Passphrase { new_store } => Some(new_store),
            Prompt::HsmPin { .. } => None,
        };
        Ok::<_, Error>(Zeroizing::new("right".to_owned()))
    })
    .unwrap();
    assert!(store.envelope().unwrap().is_some());
    assert_eq!(
        asked_new,
        Some(true),
        "a new store's passphrase is asked as new"
    );
    let again = Store::open(loc).unwrap();
    let m2 = again.unlock(&mut pass("right")).unwrap();
    assert_eq!(*master.derive_key("x"), *m2.derive_key("x"));
    assert_eq!(
        again.unlock(&mut pass("wrong")).unwrap_err(),
        Error::WrongPassphrase
    );
    again.check_master(&master).unwrap();
    // Sealed material opens only with its binding.
    let sealed = master.seal(b"aad", b"secret").unwrap();
    assert_eq!(&m2.open(b"aad", &sealed).unwrap()[..], b"secret");
    assert!(m2.open(b"other", &sealed).is_none());
}

fn aliases_are_unique_and_updates_compare_and_set(loc: &Location) {
    let store = fresh(loc);
    store
        .transact(true, |tx| tx.insert_key(&row("k1", "one", "{1}")))
        .unwrap();
    // The same alias, by a second writer: refused, and nothing is written.
    assert_eq!(
        store
            .transact(true, |tx| tx.insert_key(&row("k2", "one", "{2}")))
            .unwrap_err(),
        Error::AliasTaken
    );
    store
        .transact(true, |tx| tx.insert_key(&row("k2", "two", "{2}")))
        .unwrap();
    let r1 = store.transact(false, |tx| tx.key("k1")).unwrap().unwrap();
    assert_eq!((r1.rev, r1.record.as_str()), (1, "{1}"));
    // Renaming onto a taken alias is refused as well.
    let mut renamed = r1.clone();
    renamed.alias = "two".into();
    assert_eq!(
        store
            .transact(true, |tx| tx.update_key(&renamed))
            .unwrap_err(),
        Error::AliasTaken
    );
    // A compare-and-set on a stale revision never writes: the operation runs again, and an
    // operation that keeps its stale row ends in Conflict.
    let mut changed = r1.clone();
    changed.record = "{1b}".into();
    store.transact(true, |tx| tx.update_key(&changed)).unwrap();
    let mut attempts = 0;
    let stale = changed.clone();
    assert_eq!(
        store
            .transact(true, |tx| {
                attempts += 1;
                tx.update_key(&stale)
            })
            .unwrap_err(),
        Error::Conflict
    );
    assert!(attempts > 1, "a lost compare-and-set is retried");
    let now = store.transact(false, |tx| tx.key("k1")).unwrap().unwrap();
    assert_eq!((now.rev, now.record.as_str()), (2, "{1b}"));
    // Listing is oldest first; deleting takes the digests with the key.
    store
        .transact(true, |tx| tx.insert_digest("d", "k2", 1))
        .unwrap();
    let ids: Vec<String> = store
        .transact(false, |tx| tx.keys())
        .unwrap()
        .into_iter()
        .map(|r| r.key_id)
        .collect();
    assert_eq!(ids, ["k1", "k2"]);
    let k2 = store.transact(false, |tx| tx.key("k2")).unwrap().unwrap();
    store
        .transact(true, |tx| tx.delete_key("k2", k2.rev))
        .unwrap();
    assert!(
        store
            .transact(false, |tx| tx.digest_holders("d"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.transact(false, |tx| tx.key_count()).unwrap(), 1);
}

/// Eight threads, each through its own store handle (as separate processes or instances
/// would), increment one counter held in a key row by read-modify-write: every increment
/// acknowledged as committed is there at the end, once, with its audit record; none is lost
/// to a race or applied twice.
fn concurrent_writers_lose_no_update(loc: &Location) {
    let store = fresh(loc);
    store
        .transact(true, |tx| tx.insert_key(&row("counter", "c", "0")))
        .unwrap();
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let loc = Arc::new(loc.clone());
    // Each thread counts the increments it was told were committed. Under this much contention
    // on one row an operation may exhaust its retries (`Conflict`, which says "run it again"):
    // that is an answer, not a lost update, and the invariant below holds either way.
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let loc = Arc::clone(&loc);
            std::thread::spawn(move || {
                let store = Store::open(&loc).unwrap();
                let mut committed = 0u64;
                for i in 0..EACH {
                    let done = store.transact(true, |tx| {
                        let mut r = tx.key("counter")?.unwrap();
                        let n: u64 = r.record.parse().unwrap();
                        r.record = (n + 1).to_string();
                        tx.update_key(&r)?;
                        // And an audit record in a shared chain, in the same transaction.
                        audit::append_in(tx, "shared", &entry(&format!("t{t}-{i}"))).map(drop)
                    });
                    match done {
                        Ok(()) => committed += 1,
                        Err(Error::Conflict) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                committed
            })
        })
        .collect();
    let committed: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(committed > 0);
    // Every committed increment is there, once; nothing else is.
    let r = store
        .transact(false, |tx| tx.key("counter"))
        .unwrap()
        .unwrap();
    assert_eq!(r.record, committed.to_string());
    assert_eq!(r.rev, committed as i64 + 1);
    let chains = audit::verify(&store).unwrap();
    assert_eq!(chains.len(), 1);
    assert_eq!(chains[0].count, committed);
}

fn audit_chains_per_instance_and_shared_chains_never_fork(loc: &Location) {
    let a = fresh(loc);
    let b = Store::open(loc).unwrap();
    audit::append(&a, "node-a", &entry("a1")).unwrap();
    audit::append(&b, "node-b", &entry("b1")).unwrap();
    let mut overridden = entry("wbgen import");
    overridden.overridden = Some("AllowDuplicateMaterial: test".into());
    // Two handles on one chain (the service and wbgen on one host): one chain, in order.
    audit::append(&b, "node-a", &overridden).unwrap();
    audit::append(&a, "node-a", &entry("a3")).unwrap();
    let chains = audit::verify(&a).unwrap();
    let summary: Vec<(String, u64)> = chains
        .iter()
        .map(|c| (c.instance.clone(), c.count))
        .collect();
    assert_eq!(summary, [("node-a".into(), 3), ("node-b".into(), 1)]);
    let records = audit::read_all(&a).unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["a1", "wbgen import", "a3", "b1"]);
    assert_eq!(records[1].prev, records[0].hash);
    assert_eq!(records[1].instance.as_deref(), Some("node-a"));
    assert_eq!(
        records[1].overridden.as_deref(),
        Some("AllowDuplicateMaterial: test")
    );
}

fn an_edited_audit_record_is_found(loc: &Location) {
    let store = fresh(loc);
    for i in 0..3 {
        audit::append(&store, "n", &entry(&format!("x{i}"))).unwrap();
    }
    // Someone with write access to the database rewrites record 2's action.
    let (seq, json) = store
        .transact(false, |tx| tx.audit_records("n", 1, 1))
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(seq, 2);
    let mut rec: audit::Record = serde_json::from_str(&json).unwrap();
    rec.action = "nothing to see".into();
    let edited = serde_json::to_string(&rec).unwrap();
    replace_audit_row(&store, "n", 2, &edited);
    match audit::verify(&store).unwrap_err() {
        Error::AuditBroken { instance, seq, .. } => {
            assert_eq!((instance.as_str(), seq), ("n", 2));
        }
        e => panic!("{e:?}"),
    }
}

/// Rewrites one audit row, as someone with write access to the database could (the store
/// has no statement that edits audit rows, so the test goes to the engine directly).
fn replace_audit_row(store: &Store, instance: &str, seq: u64, json: &str) {
    match store.location() {
        Location::Dir(dir) => {
            let conn = rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE)).unwrap();
            conn.execute(
                "UPDATE wb_audit SET record = ?1 WHERE instance = ?2 AND seq = ?3",
                rusqlite::params![json, instance, seq as i64],
            )
            .unwrap();
        }
        Location::Postgres(url) => common::admin_exec(
            url,
            &format!(
                "UPDATE wb_audit SET record = '{}' WHERE instance = '{instance}' AND seq = {seq}",
                json.replace('\'', "''")
            ),
        ),
    }
}

fn tokens_are_found_by_hash(loc: &Location) {
    let store = fresh(loc);
    let mut t = TokenRecord {
        token_id: "tok-1".into(),
        name: "ci".into(),
        role: Role::Operator,
        create_time: "2026-12-06T00:00:00Z".into(),
        revoked: false,
        expire_time: Some("2027-01-01T00:00:00Z".into()),
        hash: "h1".into(),
        mac: "m".into(),
        last_used: None,
    };
    store.transact(true, |tx| tx.put_token(&t)).unwrap();
    assert_eq!(
        store.transact(false, |tx| tx.token_by_hash("h1")).unwrap(),
        Some(t.clone())
    );
    assert_eq!(
        store.transact(false, |tx| tx.token_by_hash("h2")).unwrap(),
        None
    );
    t.revoked = true;
    store.transact(true, |tx| tx.put_token(&t)).unwrap();
    assert_eq!(
        store.transact(false, |tx| tx.tokens()).unwrap(),
        vec![t.clone()]
    );
    // The last-used time lives beside the authenticated record.
    store
        .transact(true, |tx| tx.touch_token("tok-1", "2026-12-06T10:00:00Z"))
        .unwrap();
    let read = store
        .transact(false, |tx| tx.token("tok-1"))
        .unwrap()
        .unwrap();
    assert_eq!(read.last_used.as_deref(), Some("2026-12-06T10:00:00Z"));
    assert_eq!(read.mac, t.mac);
}

/// A store of schema version 1 (before last-used times and scheduled rotation) is migrated
/// when it is opened, keeping what it holds.
fn a_version_1_schema_is_migrated(loc: &Location) {
    let store = fresh(loc);
    store
        .transact(true, |tx| tx.insert_key(&row("k1", "one", "{1}")))
        .unwrap();
    // Back to version 1: without what versions 2 (last-used times), 3 (the rotation index)
    // 4 (the seen signatures) and 5 (archived audit chains) added.
    let v1 = "DROP TABLE wb_audit_archived; DROP TABLE wb_seen_signatures; DROP INDEX wb_keys_next_rotation; ALTER TABLE wb_keys DROP COLUMN next_rotation; ALTER TABLE wb_tokens DROP COLUMN last_used; ALTER TABLE wb_access_keys DROP COLUMN last_used; UPDATE wb_meta SET value = '1' WHERE name = 'schema_version'";
    match loc {
        Location::Dir(dir) => rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE))
            .unwrap()
            .execute_batch(v1)
            .unwrap(),
        Location::Postgres(url) => common::admin_exec(url, v1),
    }
    drop(store);
    let store = Store::open(loc).unwrap();
    assert_eq!(
        store
            .transact(false, |tx| tx.meta("schema_version"))
            .unwrap(),
        Some(wbstore::SCHEMA_VERSION.to_string())
    );
    assert!(store.transact(false, |tx| tx.key("k1")).unwrap().is_some());
    assert!(store.transact(false, |tx| tx.tokens()).unwrap().is_empty());
}

/// A snapshot taken from a store in use restores into an empty store of either engine, with
/// every row as it was (the envelope, so the same passphrase opens it), and the audit chains
/// still verify; a non-empty target and a damaged file are refused.
fn backup_restores_into_an_empty_store_only(loc: &Location) {
    let (store, master) = Store::init(loc, &CHEAP_PASSPHRASE, &mut pass("pw")).unwrap();
    store
        .transact(true, |tx| {
            tx.insert_key(&row("k1", "one", "{1}"))?;
            tx.insert_digest("d1", "k1", 1)?;
            audit::append_in(tx, "n", &entry("create")).map(drop)
        })
        .unwrap();
    let dir = common::TempDir::new("backup");
    let file = dir.0.join("store.backup");
    let summary = wbstore::backup::backup(&store, &file).unwrap();
    assert_eq!((summary.keys, summary.audit_records), (1, 1));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup is owner-only");
    }
    let mut targets = vec![common::sqlite("restore-target")];
    targets.extend(common::postgres("restore_target"));
    for target in &targets {
        let restored = Store::create(&target.location).unwrap();
        let s =
            wbstore::backup::restore(&restored, &wbstore::backup::read(&file).unwrap()).unwrap();
        assert_eq!(s, summary);
        let m = restored.unlock(&mut pass("pw")).unwrap();
        assert_eq!(*m.derive_key("x"), *master.derive_key("x"));
        let r = restored
            .transact(false, |tx| tx.key("k1"))
            .unwrap()
            .unwrap();
        assert_eq!((r.alias.as_str(), r.record.as_str()), ("one", "{1}"));
        assert_eq!(
            restored
                .transact(false, |tx| tx.digest_holders("d1"))
                .unwrap(),
            [("k1".to_owned(), 1)]
        );
        assert_eq!(audit::verify(&restored).unwrap()[0].count, 1);
        // Not into a store that holds anything.
        assert_eq!(
            wbstore::backup::restore(&restored, &wbstore::backup::read(&file).unwrap())
                .unwrap_err(),
            Error::NotEmpty
        );
    }
    // A damaged or cut file is refused before anything is written.
    let text = std::fs::read_to_string(&file).unwrap();
    let cut = dir.0.join("cut.backup");
    std::fs::write(&cut, &text[..text.len() - 10]).unwrap();
    let edited = dir.0.join("edited.backup");
    std::fs::write(&edited, text.replacen("\"one\"", "\"uno\"", 1)).unwrap();
    for bad in [&cut, &edited] {
        let empty = common::sqlite("restore-bad");
        let target = Store::create(&empty.location).unwrap();
        assert!(matches!(
            wbstore::backup::read(bad).map(drop).unwrap_err(),
            Error::InvalidBackup(_)
        ));
        assert!(target.transact(false, |tx| tx.is_empty()).unwrap());
    }
}

/// A record without the fields added since release 0.1 (`Instance`, `Override`, `Count`) hashes
/// exactly as it did then: the hash, computed by a second route (the JSON written out by hand
/// in 0.1's field order), matches the library's.
#[test]
fn records_without_new_fields_hash_as_in_release_0_1() {
    let rec = audit::Record {
        seq: 1,
        instance: None,
        time: "2026-12-01T00:00:00.000Z".into(),
        request_id: "r".into(),
        action: "CreateWhiteBoxKey".into(),
        key_ids: vec!["k".into()],
        token_id: Some("t".into()),
        remote: "127.0.0.1".into(),
        status: 200,
        code: "OK".into(),
        overridden: None,
        count: None,
        prev: "0".repeat(64),
        hash: String::new(),
    };
    let old_json = format!(
        r#"{{"Seq":1,"Time":"2026-12-01T00:00:00.000Z","RequestId":"r","Action":"CreateWhiteBoxKey","KeyIds":["k"],"TokenId":"t","Remote":"127.0.0.1","Status":200,"Code":"OK","Prev":"{}","Hash":""}}"#,
        "0".repeat(64)
    );
    let mut h = blake3::Hasher::new();
    h.update(audit::DOMAIN.as_bytes());
    h.update(old_json.as_bytes());
    assert_eq!(rec.compute_hash(), h.finalize().to_hex().to_string());
}

#[test]
fn connection_strings_are_shown_without_their_password() {
    let l = Location::Postgres("postgres://kms:s3cret@db.internal:5432/wbkms".into());
    assert_eq!(l.display(), "postgres://kms:***@db.internal:5432/wbkms");
    let l = Location::Postgres("host=db user=kms password=s3cret dbname=wbkms".into());
    assert_eq!(l.display(), "host=db user=kms password=*** dbname=wbkms");
    // An unreachable server: a clear error with the engine's reason, never the password.
    let e = Store::open(&Location::Postgres(
        "postgres://kms:s3cret@127.0.0.1:1/wbkms?connect_timeout=2".into(),
    ))
    .unwrap_err();
    assert_eq!(e.code(), "02000019", "{e}");
    assert!(!e.to_string().contains("s3cret"), "{e}");
    assert!(
        e.to_string().contains("refused"),
        "the reason is given: {e}"
    );
    let e = Store::open(&Location::Postgres("postgres://[::1".into())).unwrap_err();
    assert_eq!(e.code(), "02000021", "{e}");
    // TLS asked for is refused, not quietly dropped.
    let e = Store::open(&Location::Postgres(
        "host=127.0.0.1 dbname=wbkms sslmode=require".into(),
    ))
    .unwrap_err();
    assert_eq!(e.code(), "02000021", "{e}");
    assert!(e.to_string().contains("sslmode"), "{e}");
}

/// Archiving moves a chain's records out of the database into a file; the chain's next
/// records follow from the last archived one; verifying with the archive reads the files and
/// then the database as one chain, and without it starts where the database's part continues.
fn an_archived_chain_continues_across_files(loc: &Location) {
    let store = fresh(loc);
    let dir = common::TempDir::new("archive");
    let archive = dir.0.join("audit-archive");
    assert_eq!(audit::archive(&store, "n", &archive).unwrap(), None);
    for i in 0..5 {
        audit::append(&store, "n", &entry(&format!("a{i}"))).unwrap();
    }
    audit::append(&store, "other", &entry("o")).unwrap();
    let before = audit::read_all(&store).unwrap();
    assert!(audit::size(&store, "n").unwrap() > 5 * 100);
    let first = audit::archive(&store, "n", &archive).unwrap().unwrap();
    assert_eq!((first.first, first.last), (1, 5));
    assert_eq!(
        first.path.file_name().unwrap(),
        "n.000000000001-000000000005.jsonl"
    );
    // The file holds the records as they were, one per line; the database no longer does.
    let lines: Vec<audit::Record> = std::fs::read_to_string(&first.path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, before[..5]);
    // In the database: the record of the archiving (6), which follows from record 5 and
    // names it, and the other chain.
    let left = audit::read_all(&store).unwrap();
    assert_eq!(left.len(), 2);
    assert_eq!(
        (left[0].seq, left[0].action.as_str(), left[0].prev.as_str()),
        (6, audit::ARCHIVED, before[4].hash.as_str())
    );
    assert_eq!(
        left[0].overridden.as_deref(),
        Some(
            format!(
                "records 1-5 archived, the last with hash {}",
                before[4].hash
            )
            .as_str()
        )
    );
    assert_eq!(left[1].instance.as_deref(), Some("other"));
    // The chain goes on.
    audit::append(&store, "n", &entry("a5")).unwrap();
    audit::append(&store, "n", &entry("a6")).unwrap();
    let now = audit::read_all(&store).unwrap();
    assert_eq!(
        (now[1].seq, now[1].prev.as_str()),
        (7, now[0].hash.as_str())
    );
    let second = audit::archive(&store, "n", &archive).unwrap().unwrap();
    assert_eq!((second.first, second.last), (6, 8));
    audit::append(&store, "n", &entry("a7")).unwrap();
    assert_eq!(
        audit::segments(&archive, "n").unwrap(),
        [first.clone(), second.clone()]
    );
    let quick = audit::verify_chain(&store, "n").unwrap();
    assert_eq!(
        (quick.count, quick.archived, quick.archive_checked),
        (10, 8, false)
    );
    let full = audit::verify_chain_with(&store, "n", Some(&archive)).unwrap();
    assert_eq!(
        (full.count, full.archived, full.archive_checked),
        (10, 8, true)
    );
    assert_eq!(full.head, quick.head);
    // Every chain, the one never archived too.
    let each: Vec<(String, u64)> = audit::verify_each(&store, Some(&archive))
        .unwrap()
        .into_iter()
        .map(|(instance, r)| (instance, r.unwrap().count))
        .collect();
    assert_eq!(each, [("n".into(), 10), ("other".into(), 1)]);
}

/// An archive file edited, cut short, renamed or removed is found by verifying with the
/// archive, naming the first record that is wrong or missing.
fn an_archive_that_was_edited_or_lost_is_found(loc: &Location) {
    let store = fresh(loc);
    let dir = common::TempDir::new("archive-bad");
    let archive = dir.0.join("a");
    for i in 0..3 {
        audit::append(&store, "n", &entry(&format!("a{i}"))).unwrap();
    }
    let one = audit::archive(&store, "n", &archive).unwrap().unwrap();
    for i in 3..6 {
        audit::append(&store, "n", &entry(&format!("a{i}"))).unwrap();
    }
    let two = audit::archive(&store, "n", &archive).unwrap().unwrap();
    let text = std::fs::read_to_string(&two.path).unwrap();
    let broken_at =
        |expect_seq: u64, expect: &str| match audit::verify_chain_with(&store, "n", Some(&archive))
            .unwrap_err()
        {
            Error::AuditBroken { seq, reason, .. } => {
                assert_eq!(seq, expect_seq, "{reason}");
                assert!(reason.contains(expect), "{reason}");
            }
            e => panic!("{e:?}"),
        };
    // Records: a0-a2 (1-3), the first archiving's record (4), a3-a5 (5-7): the second file
    // holds 4-7. Record 6's action edited.
    std::fs::write(&two.path, text.replacen("\"a4\"", "\"zz\"", 1)).unwrap();
    broken_at(6, "edited");
    // Cut short: its last two lines gone.
    let cut: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&two.path, cut.join("\n") + "\n").unwrap();
    broken_at(6, "fewer");
    std::fs::write(&two.path, &text).unwrap();
    // The first file removed: records 1-3 are nowhere.
    let kept = dir.0.join("kept");
    std::fs::rename(&one.path, &kept).unwrap();
    broken_at(1, "missing");
    std::fs::rename(&kept, &one.path).unwrap();
    assert_eq!(
        audit::verify_chain_with(&store, "n", Some(&archive))
            .unwrap()
            .count,
        8
    );
    // Without the archive the database's part still verifies from where it continues.
    assert_eq!(audit::verify_chain(&store, "n").unwrap().archived, 7);
}

/// Someone who can write the database removes the first records of a chain and writes where
/// it continues, as an archiving would: the chain has no record of such an archiving, so
/// verifying (even without the archive files) finds the records gone.
fn records_removed_from_a_chains_start_are_found(loc: &Location) {
    let store = fresh(loc);
    for i in 0..5 {
        audit::append(&store, "n", &entry(&format!("a{i}"))).unwrap();
    }
    let records = audit::read_all(&store).unwrap();
    store
        .transact(true, |tx| tx.set_audit_archived("n", 3, &records[2].hash))
        .unwrap();
    match audit::verify_chain(&store, "n").unwrap_err() {
        Error::AuditBroken { seq, reason, .. } => {
            assert_eq!(seq, 4, "{reason}");
            assert!(reason.contains("no record of the chain says"), "{reason}");
        }
        e => panic!("{e:?}"),
    }
}

/// A backup of a store whose chain was archived restores with where the chain continues, so
/// the restored chain verifies (with and without the archive) and goes on.
fn backup_keeps_where_an_archived_chain_continues(loc: &Location) {
    let store = fresh(loc);
    let dir = common::TempDir::new("archive-backup");
    let archive = dir.0.join("a");
    for i in 0..3 {
        audit::append(&store, "n", &entry(&format!("a{i}"))).unwrap();
    }
    audit::archive(&store, "n", &archive).unwrap().unwrap();
    audit::append(&store, "n", &entry("a3")).unwrap();
    let file = dir.0.join("store.backup");
    wbstore::backup::backup(&store, &file).unwrap();
    let target = common::sqlite("archive-restore");
    let restored = Store::create(&target.location).unwrap();
    wbstore::backup::restore(&restored, &wbstore::backup::read(&file).unwrap()).unwrap();
    audit::append(&restored, "n", &entry("a4")).unwrap();
    let v = audit::verify_chain_with(&restored, "n", Some(&archive)).unwrap();
    // a0-a2, the archiving's record, a3, a4.
    assert_eq!((v.count, v.archived), (6, 3));
}

/// An archiving interrupted between its commit and the rename of its file (the process killed
/// there) loses nothing: the records are in the partial file, and the next archiving puts it
/// in place before it writes its own.
#[test]
fn an_archiving_interrupted_after_its_commit_is_completed_by_the_next() {
    const CHILD: &str = "WBSTORE_TEST_ARCHIVE_CHILD";
    if let Some(dir) = std::env::var_os(CHILD) {
        // In the child: archive, and be killed at the failpoint after the commit.
        let dir = std::path::PathBuf::from(dir);
        let store = Store::open(&Location::Dir(dir.join("store"))).unwrap();
        let _ = audit::archive(&store, "n", &dir.join("a"));
        return;
    }
    let fresh_store = common::sqlite("archive-crash");
    let Location::Dir(store_dir) = &fresh_store.location else {
        unreachable!()
    };
    let base = store_dir.parent().unwrap().to_path_buf();
    let store = fresh(&fresh_store.location);
    for i in 0..4 {
        audit::append(&store, "n", &entry(&format!("a{i}"))).unwrap();
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_archiving_interrupted_after_its_commit_is_completed_by_the_next",
            "--nocapture",
        ])
        .env(CHILD, &base)
        .env("WBGEN_FAILPOINT", "audit-archived")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "the child was to be killed at the failpoint"
    );
    let archive = base.join("a");
    // Committed: the database no longer holds records 1-4 (only the archiving's record, 5);
    // only a partial file does.
    let left = audit::read_all(&store).unwrap();
    assert_eq!(
        left.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [5],
        "{left:?}"
    );
    assert!(audit::segments(&archive, "n").unwrap().is_empty());
    let partials = std::fs::read_dir(&archive).unwrap().count();
    assert_eq!(partials, 1);
    // The next check completes it, before anything else.
    let completed = audit::complete_interrupted(&store, "n", &archive)
        .unwrap()
        .unwrap();
    assert_eq!((completed.first, completed.last), (1, 4));
    audit::append(&store, "n", &entry("a4")).unwrap();
    let next = audit::archive(&store, "n", &archive).unwrap().unwrap();
    assert_eq!((next.first, next.last), (5, 6));
    let files: Vec<(u64, u64)> = audit::segments(&archive, "n")
        .unwrap()
        .iter()
        .map(|s| (s.first, s.last))
        .collect();
    assert_eq!(files, [(1, 4), (5, 6)]);
    assert_eq!(
        audit::verify_chain_with(&store, "n", Some(&archive))
            .unwrap()
            .count,
        7
    );
}
