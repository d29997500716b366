//! The key files the service hands out, cached: a space-hard-16 file is 917 KB of tables
//! computed from the key (65,536 cipher calls, then its digest), which costs more than
//! everything else a request does, and it only changes when the key gets a new version or
//! other bound devices. Entries are keyed by key id and version and carry the device list
//! they were made for; a file is made again when the list changed. Large files (space-hard-24,
//! 218 MB) are not kept. The cache holds key files, which the service gives to any operator
//! anyway, never key material.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use wbgen::KeyMaterial;
use wbgen::keystore::{KeyRecord, KeyRecordExt as _};

use crate::Error;

/// Entries kept; the cache is emptied when full (a service has few hot keys).
const ENTRIES: usize = 64;
/// Files larger than this are made on every request, not kept.
const LARGEST: usize = 16 << 20;

/// (key id, version) → (the devices it was made for, the file in Base64).
type Entries = HashMap<(String, u32), (String, Arc<String>)>;

/// Key files in Base64, by key and version.
#[derive(Default)]
pub struct KeyFiles {
    entries: Mutex<Entries>,
}

impl KeyFiles {
    /// The key file of `version` of `rec` bound to its devices as they are now, in Base64:
    /// from the cache if it was made for the same devices, else made from `material`.
    ///
    /// # Errors
    /// The export's.
    pub fn get(
        &self,
        rec: &KeyRecord,
        version: u32,
        material: &KeyMaterial,
    ) -> Result<Arc<String>, Error> {
        let devices: Vec<&str> = rec
            .fingerprints
            .iter()
            .map(|d| d.fingerprint.as_str())
            .collect();
        let stamp = devices.join("\n");
        let key = (rec.key_id.clone(), version);
        if let Some((s, f)) = self.lock().get(&key)
            && *s == stamp
        {
            return Ok(Arc::clone(f));
        }
        let file = Arc::new(B64.encode(rec.key_file(version, material)?));
        if file.len() <= LARGEST {
            let mut entries = self.lock();
            if entries.len() >= ENTRIES {
                entries.clear();
            }
            entries.insert(key, (stamp, Arc::clone(&file)));
        }
        Ok(file)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
