//! Quick structural checks on key files: no key material is stored in them.
//!
//! (The full attack suite, with table-equivalence, DCA and DFA attacks, is separate work; this
//! test only guards the basic promise that a key file holds no raw or round key bytes.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{key_file, rng};
use wbgen::Mode;
use wbgen::aes256::field::{decryption_round_keys, expand_key};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_key_or_round_key_appears_in_the_file() {
    for (tag, mode) in [(30u8, Mode::Standard), (31, Mode::External)] {
        let key: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(97) ^ tag);
        let (_, file) = key_file(&key, mode, &mut rng(tag));
        let mut needles: Vec<Vec<u8>> = vec![key.to_vec(), key[..16].to_vec(), key[16..].to_vec()];
        for rk in expand_key(&key)
            .iter()
            .chain(decryption_round_keys(&key).iter())
        {
            needles.push(rk.to_vec());
            let mut rev = rk.to_vec();
            rev.reverse();
            needles.push(rev);
            // Each 8-byte half too (a random 8-byte string occurs in a 1.3 MB file with
            // probability about 7e-14, so a hit means the key is really there).
            needles.extend(rk.chunks_exact(8).map(<[u8]>::to_vec));
        }
        for n in &needles {
            assert!(!contains(&file, n), "{mode:?}: key material {n:02x?} found");
        }
    }
}

#[test]
fn no_sm4_key_or_round_key_appears_in_the_file() {
    for (tag, mode) in [(32u8, Mode::Standard), (33, Mode::External)] {
        let key: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(59) ^ tag);
        let (_, file) = common::key_file_for(wbruntime::Algorithm::Sm4, &key, mode, &mut rng(tag));
        assert!(!contains(&file, &key), "{mode:?}: raw key found");
        let rk = wbgen::sm4::field::round_keys(&key);
        // Round keys in order and reversed (decryption order), in both byte orders, as runs of
        // four consecutive keys (16 bytes: a chance match is impossible in practice).
        for w in rk.windows(4) {
            for order in [false, true] {
                let mut needle = Vec::new();
                for k in w {
                    needle.extend(if order {
                        k.to_be_bytes()
                    } else {
                        k.to_le_bytes()
                    });
                }
                assert!(!contains(&file, &needle), "{mode:?}: round keys found");
                let rev: Vec<u8> = needle.iter().rev().copied().collect();
                assert!(!contains(&file, &rev), "{mode:?}: round keys found");
            }
        }
    }
}
