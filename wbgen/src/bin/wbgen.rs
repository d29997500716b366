//! `wbgen`: the administrator's command-line tool — create, import, rotate and manage
//! white-box keys in an encrypted key store, encrypt secrets, bind devices, and export key
//! files.
//!
//! Output is JSON with the field names of the cloud KMS white-box service (`KeyId`,
//! `CipherText`, ...), so existing scripts carry over. Errors are one line on standard error,
//! `error <CODE>: <message>`, with a non-zero exit (1 for a failed operation, 2 for a usage
//! error); codes are listed in README.md. This binary parses, calls the `wbgen` library and
//! prints: it holds no cryptography of its own. `wbgen completions SHELL` and `wbgen manpage`
//! print its shell completions and manual page; long work draws progress on standard error
//! when it is a terminal (`WBGEN_PROGRESS`, [`progress`]).
#![forbid(unsafe_code)]

// Beside this file in a directory of its own: a file in src/bin/ would be a binary of its own.
#[path = "wbgen/progress.rs"]
mod progress;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use wbgen::audit::Entry;
use wbgen::cli::{Cli, Command};
use wbgen::devices::{check_fingerprint, parse_device_csv};
use wbgen::keystore::{
    Access, BoundDevice, DEFAULT_KDF, KdfParams, KeyRecord, KeyRecordExt as _, KeyState, KeyStore,
    MaterialHolder, PassphraseSource, REMOVED_NOT_ROTATED, Session, new_key_id, write_atomic,
};
use wbgen::{Error, KeyMaterial, Mode, rng::os_rng};

use progress::Progress;
use wbruntime::Algorithm;
use wbstore::Location;

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Sm4 => "SM4",
        _ => "AES_256",
    }
}

/// `Mode` (`EXTERNAL`, `STANDARD`, `SPACE_HARD`) and, for space-hard keys, `SpaceBits`.
fn mode_fields(rec: &KeyRecord, out: &mut Value) -> Result<(), Error> {
    let mode = rec.mode()?;
    out["Mode"] = json!(mode.name());
    if let Mode::SpaceHard(bits) = mode {
        out["SpaceBits"] = json!(bits.bits());
    }
    Ok(())
}

fn key_summary(rec: &KeyRecord) -> Result<Value, Error> {
    let mut v = json!({
        "KeyId": rec.key_id,
        "Alias": rec.alias,
        "Algorithm": rec.algorithm,
        "CreateTime": rec.create_time,
        "ExternalEncoding": rec.external_encoding,
    });
    mode_fields(rec, &mut v)?;
    Ok(v)
}

fn key_details(rec: &KeyRecord) -> Result<Value, Error> {
    let mut v = json!({
        "KeyId": rec.key_id,
        "Alias": rec.alias,
        "Description": rec.description,
        "Algorithm": rec.algorithm,
        "CreateTime": rec.create_time,
        "ExternalEncoding": rec.external_encoding,
        "KeyState": rec.key_state,
        "CurrentVersion": rec.current_version(),
        "Versions": rec.versions.iter().map(|v| json!({"Version": v.version, "CreateTime": v.create_time})).collect::<Vec<_>>(),
        "Fingerprints": rec.fingerprints,
        "RotationPeriodSeconds": rec.rotation_period,
        "RotateDays": rec.rotation_period.map(|s| s / 86_400),
        "NextRotateTime": rec.next_rotation(),
    });
    mode_fields(rec, &mut v)?;
    Ok(v)
}

/// Reads a file, or standard input for `-` (so secrets need not be on the command line).
fn read_file(path: &Path, what: &'static str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let io = |e: std::io::Error| Error::Io {
        op: if path.as_os_str() == "-" {
            format!("{what} from standard input")
        } else {
            format!("{what} {}", path.display())
        },
        kind: e.kind(),
    };
    if path.as_os_str() == "-" {
        use std::io::Read as _;
        let mut buf = Zeroizing::new(Vec::new());
        std::io::stdin().read_to_end(&mut buf).map_err(io)?;
        return Ok(buf);
    }
    std::fs::read(path).map(Zeroizing::new).map_err(io)
}

fn decode_b64(text: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    B64.decode(text.trim())
        .map(Zeroizing::new)
        .map_err(|_| Error::InvalidArgument(format!("{what} is not valid Base64")))
}

fn kdf() -> KdfParams {
    DEFAULT_KDF
}

/// The store's secrets as the command line gives them, with a spinner on standard error while
/// the passphrase's Argon2id (or the HSM) unlocks the store: the store asks for the secret
/// right before it derives the key.
struct Unlocking<'p> {
    secrets: wbgen::cli::Secrets,
    progress: &'p Progress,
}

impl PassphraseSource for Unlocking<'_> {
    fn passphrase(&mut self, new_store: bool) -> Result<Zeroizing<String>, Error> {
        // A prompt on the terminal may come first.
        self.progress.clear();
        let pass = self.secrets.passphrase(new_store)?;
        self.progress.spinner(if new_store {
            "sealing the new key store (Argon2id)"
        } else {
            "unlocking the key store (Argon2id)"
        });
        Ok(pass)
    }

    fn hsm_pin(&mut self, token: &str) -> Result<Zeroizing<String>, Error> {
        self.progress.clear();
        let pin = self.secrets.hsm_pin(token)?;
        self.progress
            .spinner("unlocking the key store through the HSM");
        Ok(pin)
    }
}

/// [`KeyStore::with`], its unlock's spinner cleared once it returns.
fn with<T>(
    store: &KeyStore,
    access: Access,
    pass: &mut Unlocking<'_>,
    f: impl FnMut(&mut Session<'_, '_>) -> Result<T, Error>,
) -> Result<T, Error> {
    let result = store.with(access, kdf(), pass, f);
    pass.progress.clear();
    result
}

/// The key file of `version` of the key `rec`, bound to its devices as they are now, with a
/// bar while the tables are built.
fn key_file(
    rec: &KeyRecord,
    version: u32,
    material: &KeyMaterial,
    progress: &Progress,
) -> Result<Vec<u8>, Error> {
    progress.bar(match material.mode() {
        Mode::SpaceHard(_) => "building the space-hard table",
        Mode::External | Mode::Standard => "compiling the key's tables",
    });
    let file = rec.key_file_with_progress(version, material, &mut |done, total| {
        progress.update(done, total);
    });
    progress.clear();
    file
}

/// Says on standard error, once, after the key was stored, that a Chow-style mode's key is
/// recoverable from its file.
fn warn_mode(mode: Mode) {
    if let Some(w) = mode.warning() {
        eprintln!("warning: {} mode: {w}", mode.name());
    }
}

/// Records in the store's audit log that `action` went ahead although `holder` holds the
/// same key material (`--allow-duplicate-material`). Called before the store is written,
/// so that an override is never carried out unrecorded.
fn audit_override(
    s: &mut Session<'_, '_>,
    action: &str,
    key_id: &str,
    holder: &MaterialHolder,
) -> Result<(), Error> {
    s.audit(&Entry {
        request_id: format!("wbgen-{}", new_key_id()?),
        action: action.to_owned(),
        key_ids: vec![key_id.to_owned(), holder.key_id.clone()],
        token_id: None,
        remote: "local".to_owned(),
        status: 0,
        code: "OK".to_owned(),
        overridden: Some(holder.override_note()),
        count: None,
    })?;
    Ok(())
}

/// Says, once the command succeeded, that it went ahead on material another key holds.
fn warn_override(holder: &MaterialHolder, what: &str) {
    eprintln!(
        "warning: key material also held by key {} version {} {what} anyway (--allow-duplicate-material); recorded in the audit log",
        holder.key_id, holder.version
    );
}

/// The store the command line names: the directory of `--keystore`, else `--database-url`,
/// else `WBKMS_DATABASE_URL`, else the directory of `WBGEN_KEYSTORE`, else `./wbgen-keystore`
/// (as `wbkms`'s `StoreArg::store`; `--keystore` and `--database-url` together are refused).
fn location(keystore: Option<PathBuf>, database_url: Option<String>) -> Location {
    if let Some(dir) = keystore {
        return Location::Dir(dir);
    }
    if let Some(url) = database_url.or_else(|| {
        std::env::var("WBKMS_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
    }) {
        return Location::Postgres(url);
    }
    Location::Dir(
        std::env::var_os("WBGEN_KEYSTORE")
            .map_or_else(|| PathBuf::from("wbgen-keystore"), PathBuf::from),
    )
}

fn run(cli: Cli, progress: &Progress) -> Result<Value, Error> {
    let store = KeyStore::at(location(cli.keystore, cli.database_url));
    let mut pass = Unlocking {
        secrets: wbgen::cli::Secrets {
            passphrase_file: cli.passphrase_file,
            hsm_pin_file: cli.hsm_pin_file,
            allow_short_passphrase: matches!(
                cli.command,
                Command::Init {
                    allow_short_passphrase: true,
                    ..
                }
            ),
        },
        progress,
    };
    if !matches!(cli.command, Command::Restore { .. } | Command::Init { .. })
        && let Some(m) = store
            .migrate_if_needed(kdf(), &mut pass)
            .inspect(|_| progress.clear())?
    {
        eprintln!(
            "wbgen: migrated the key store {} from release 0.1's store.json to SQLite ({} keys, {} tokens, {} access keys, {} audit records); the old files are kept as {}",
            store.location().display(),
            m.keys,
            m.tokens,
            m.access_keys,
            m.audit_records,
            m.backups
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match cli.command {
        Command::Init { hsm, .. } => match hsm.config() {
            None => {
                let unlocked = store.init(kdf(), &mut pass);
                progress.clear();
                let unlocked = unlocked?;
                Ok(json!({
                    "KeyStore": store.location().display(),
                    "Engine": unlocked.db().engine(),
                    "Unlock": "passphrase",
                    "Note": "every wbgen and wbkms command on this store needs its passphrase: WBGEN_PASSPHRASE, --passphrase-file, or the terminal",
                }))
            }
            Some(cfg) => {
                let unlocked =
                    store.init_protected(&wbgen::keystore::Protection::Hsm(cfg.clone()), &mut pass);
                progress.clear();
                let unlocked = unlocked?;
                Ok(json!({
                    "KeyStore": store.location().display(),
                    "Engine": unlocked.db().engine(),
                    "Unlock": "pkcs11",
                    "HsmModule": cfg.module.display().to_string(),
                    "HsmToken": cfg.token,
                    "HsmKey": cfg.key,
                    "Note": "every wbgen and wbkms command on this store unlocks through the token with its user PIN: WBGEN_HSM_PIN, --hsm-pin-file, or the terminal; back up the token's key as its vendor says: without it the store cannot be opened",
                }))
            }
        },
        Command::Create {
            algorithm,
            alias,
            description,
            mode,
        } => {
            let mode = mode.mode()?;
            let material = KeyMaterial::generate(algorithm.algorithm(), mode, &mut os_rng()?);
            let rec = with(&store, Access::Write, &mut pass, |s| {
                s.add_key(&material, &alias, &description)
            })?;
            warn_mode(mode);
            key_summary(&rec)
        }
        Command::Import {
            algorithm,
            alias,
            description,
            key_hex,
            key_file,
            mode,
            allow_duplicate_material,
        } => {
            let mode = mode.mode()?;
            let key = match (key_hex, key_file) {
                (Some(hex), _) => Zeroizing::new(decode_hex(&hex)?),
                (None, Some(path)) => read_file(&path, "read the key to import from")?,
                (None, None) => return Err(Error::InvalidArgument("no key given".into())),
            };
            let material = KeyMaterial::import(algorithm.algorithm(), &key, mode, &mut os_rng()?)?;
            let (rec, holder) = with(&store, Access::Write, &mut pass, |s| {
                let (rec, holder) =
                    s.add_key_checked(&material, &alias, &description, allow_duplicate_material)?;
                if let Some(h) = &holder {
                    audit_override(s, "wbgen import", &rec.key_id, h)?;
                }
                Ok((rec, holder))
            })?;
            warn_mode(mode);
            if let Some(h) = &holder {
                warn_override(h, "stored");
            }
            key_summary(&rec)
        }
        Command::Encrypt {
            key_id,
            plaintext_b64,
            input,
            iv_b64,
        } => {
            let plaintext = match (plaintext_b64, input) {
                (Some(b64), _) => decode_b64(&b64, "the plaintext")?,
                (None, Some(path)) => read_file(&path, "read the input file")?,
                (None, None) => return Err(Error::InvalidArgument("no plaintext given".into())),
            };
            let iv = match iv_b64 {
                Some(b64) => decode_b64(&b64, "the IV")?.to_vec(),
                None => {
                    let mut iv = vec![0u8; 16];
                    getrandom::fill(&mut iv).map_err(|_| Error::RandomnessUnavailable)?;
                    iv
                }
            };
            let (rec, version, material) = with(&store, Access::Read, &mut pass, |s| {
                s.material(&key_id, None)
            })?;
            let ct = material.encrypt_cbc(&iv, &plaintext)?;
            Ok(json!({
                "KeyId": rec.key_id,
                "KeyVersion": version,
                "InitializationVector": B64.encode(&iv),
                "CipherText": B64.encode(ct),
            }))
        }
        Command::Export {
            key_id,
            out,
            base64,
            version,
            allow_duplicate_material,
        } => {
            // A write transaction: an override is audited in it (nothing else is written).
            let (rec, version, material, holder) = with(&store, Access::Write, &mut pass, |s| {
                let (rec, version, material) = s.material(&key_id, version)?;
                let holder = s.check_material(
                    &material,
                    Some((&rec.key_id, version)),
                    allow_duplicate_material,
                )?;
                if let Some(h) = &holder {
                    audit_override(s, "wbgen export", &rec.key_id, h)?;
                }
                Ok((rec, version, material, holder))
            })?;
            let file = key_file(&rec, version, &material, progress)?;
            let devices = &rec.fingerprints;
            if base64 {
                if let Some(h) = &holder {
                    warn_override(h, "exported");
                }
                progress.spinner("encoding the key file in Base64");
                let encoded = B64.encode(&file);
                progress.clear();
                return Ok(json!({
                    "KeyId": rec.key_id,
                    "KeyVersion": version,
                    "Algorithm": algorithm_name(material.algorithm()),
                    "BoundDevices": devices.len(),
                    "DecryptKey": encoded,
                }));
            }
            let out = out.ok_or_else(|| Error::InvalidArgument("--out is required".into()))?;
            let (dir, name) = split_path(&out)?;
            // `--out keys/api.wbkey` with no `keys/` yet: made, for the owner only, as the
            // store's own directories are.
            if !dir.exists() {
                wbstore::fsutil::create_private_dir(&dir)?;
            }
            progress.spinner("writing the key file");
            let written = write_atomic(&dir, &name, &file);
            progress.clear();
            written?;
            if let Some(h) = &holder {
                warn_override(h, "exported");
            }
            Ok(json!({
                "KeyId": rec.key_id,
                "KeyVersion": version,
                "Algorithm": algorithm_name(material.algorithm()),
                "KeyFile": out,
                "Size": file.len(),
                "BoundDevices": devices.len(),
            }))
        }
        Command::Fingerprints {
            key_id,
            set,
            csv,
            clear,
            no_rotate,
        } => {
            let devices = if clear {
                Vec::new()
            } else if let Some(path) = csv {
                let bytes = read_file(&path, "read the CSV file")?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| Error::InvalidArgument("the CSV file is not UTF-8".into()))?;
                parse_device_csv(text)?
            } else {
                set.iter()
                    .map(|fp| {
                        check_fingerprint(fp)?;
                        Ok(BoundDevice {
                            fingerprint: fp.clone(),
                            description: String::new(),
                        })
                    })
                    .collect::<Result<_, Error>>()?
            };
            let mut rng = os_rng()?;
            let change = with(&store, Access::Write, &mut pass, |s| {
                s.replace_devices(&key_id, devices.clone(), !no_rotate, &mut rng)
            })?;
            let rec = &change.record;
            let mut out = json!({
                "KeyId": rec.key_id,
                "Fingerprints": rec.fingerprints,
                "KeyVersion": rec.current_version(),
                "Rotated": change.rotated_to.is_some(),
                "RemovedDevices": change.removed,
                "Note": match change.rotated_to {
                    Some(v) => format!("devices were removed, so the key was rotated to version {v}: encrypt now uses it and the removed devices' files do not decrypt it; export the key file again for the devices that stay"),
                    None => "the binding takes effect in key files exported after this change; files exported before are unchanged".to_owned(),
                },
            });
            if no_rotate && !change.removed.is_empty() {
                eprintln!("warning: {REMOVED_NOT_ROTATED}");
                out["Warning"] = json!(REMOVED_NOT_ROTATED);
            }
            Ok(out)
        }
        Command::List => with(&store, Access::Read, &mut pass, |s| {
            let keys = s
                .keys()?
                .iter()
                .map(|k| {
                    let mut v = json!({
                        "KeyId": k.key_id,
                        "Alias": k.alias,
                        "Algorithm": k.algorithm,
                        "KeyState": k.key_state,
                        "CurrentVersion": k.current_version(),
                    });
                    mode_fields(k, &mut v)?;
                    Ok(v)
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(json!({ "Keys": keys }))
        }),
        Command::Show { key_id } => with(&store, Access::Read, &mut pass, |s| {
            s.key(&key_id).and_then(|k| key_details(&k))
        }),
        Command::Disable { key_id } => set_state(&store, &mut pass, &key_id, KeyState::Disabled),
        Command::Enable { key_id } => set_state(&store, &mut pass, &key_id, KeyState::Enabled),
        // Answered in main, before any store is looked for.
        Command::Generate(_) => Err(Error::InvalidArgument(
            "completions and manpage need no key store".into(),
        )),
        Command::Delete { key_id, yes } => {
            if !yes {
                return Err(Error::ConfirmationRequired);
            }
            let rec = with(&store, Access::Write, &mut pass, |s| s.delete(&key_id))?;
            Ok(json!({"KeyId": rec.key_id, "Deleted": true}))
        }
        Command::Backup { out } => {
            let db = store.open(kdf(), &mut pass);
            progress.clear();
            let db = db?;
            let summary = wbstore::backup::backup(&db, &out)?;
            Ok(json!({
                "Backup": out.display().to_string(),
                "Engine": db.engine(),
                "Keys": summary.keys,
                "Tokens": summary.tokens,
                "AccessKeys": summary.access_keys,
                "AuditRecords": summary.audit_records,
                "Note": "the key material in it is still sealed under the store's passphrase: keep the file as secret as the store",
            }))
        }
        Command::Restore { file } => {
            if let Some(dir) = store.dir()
                && wbstore::legacy::needs_migration(dir)
            {
                return Err(Error::Store(wbstore::Error::NotEmpty));
            }
            // The whole file is checked before anything is created.
            let backup = wbstore::backup::read(&file)?;
            let db = wbstore::Store::create(store.location())?;
            let summary = wbstore::backup::restore(&db, &backup)?;
            let chains = wbgen::audit::verify(&db)?;
            Ok(json!({
                "Restored": file.display().to_string(),
                "Into": store.location().display(),
                "Engine": db.engine(),
                "Keys": summary.keys,
                "Tokens": summary.tokens,
                "AccessKeys": summary.access_keys,
                "AuditRecords": summary.audit_records,
                "AuditChains": chains.iter().map(|c| json!({"Instance": c.instance, "Records": c.count, "Head": c.head})).collect::<Vec<_>>(),
            }))
        }
        Command::Rotation { key_id, every, off } => {
            let period = if off { None } else { every };
            let rec = with(&store, Access::Write, &mut pass, |s| {
                s.set_rotation(&key_id, period)
            })?;
            Ok(json!({
                "KeyId": rec.key_id,
                "RotationPeriodSeconds": rec.rotation_period,
                "RotateDays": rec.rotation_period.map(|s| s / 86_400),
                "NextRotateTime": rec.next_rotation(),
                "Note": if period.is_some() {
                    "wbkms serve rotates the key when it is due (any one instance), and each period after; older versions keep decrypting through their files"
                } else {
                    "scheduled rotation is off: the key changes only by wbgen rotate or RotateWhiteBoxKey"
                },
            }))
        }
        Command::Rotate { key_id } => {
            let mut rng = os_rng()?;
            let (rec, version) = with(&store, Access::Write, &mut pass, |s| {
                s.rotate(&key_id, &mut rng)
            })?;
            Ok(json!({
                "KeyId": rec.key_id,
                "KeyVersion": version,
                "CreateTime": rec.versions.last().map(|v| v.create_time.clone()),
                "Note": "encrypt now uses this version; export it with --version or by default; older versions stay exportable",
            }))
        }
    }
}

fn set_state(
    store: &KeyStore,
    pass: &mut Unlocking<'_>,
    key_id: &str,
    state: KeyState,
) -> Result<Value, Error> {
    let rec = with(store, Access::Write, pass, |s| s.set_state(key_id, state))?;
    Ok(json!({"KeyId": rec.key_id, "KeyState": rec.key_state}))
}

fn split_path(path: &Path) -> Result<(PathBuf, String), Error> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::InvalidArgument("--out must name a file".into()))?
        .to_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

fn decode_hex(text: &str) -> Result<Vec<u8>, Error> {
    hex::decode(text.trim())
        .map_err(|_| Error::InvalidArgument("--key-hex is not valid hex".into()))
}

fn main() -> ExitCode {
    let cli = match wbgen::cli::parse(std::env::args_os()) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let err = Error::InvalidArgument(format!(
                "{} (see wbgen --help)",
                wbgen::cli::usage_message(&e)
            ));
            eprintln!("error {}: {err}", err.code());
            return ExitCode::from(2);
        }
    };
    if let Command::Generate(generate) = &cli.command {
        use std::io::Write as _;
        let mut text = Vec::new();
        if let Err(e) = generate.run(wbgen::cli::definition(), &mut text) {
            // Only `manpage --out DIR` writes files.
            let err = Error::Io {
                op: "write the manual pages".into(),
                kind: e.kind(),
            };
            eprintln!("error {}: {err}", err.code());
            return ExitCode::from(1);
        }
        // A closed pipe is an exit, as for every other command's output.
        return match std::io::stdout().lock().write_all(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    let progress = match Progress::from_env() {
        Ok(p) => p,
        Err(message) => {
            let err = Error::InvalidArgument(message);
            eprintln!("error {}: {err}", err.code());
            return ExitCode::from(2);
        }
    };
    let result = run(cli, &progress);
    progress.clear();
    match result {
        Ok(v) => {
            // A closed pipe (`wbgen list | head -n 1`) is not a panic; the exit says it.
            use std::io::Write as _;
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            match writeln!(std::io::stdout().lock(), "{text}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(1),
            }
        }
        Err(e) => {
            eprintln!("error {}: {e}", e.code());
            ExitCode::from(1)
        }
    }
}
