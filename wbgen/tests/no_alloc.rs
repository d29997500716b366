//! The core decrypt path allocates nothing: loading a key file and CBC-decrypting in place
//! or into a caller buffer are run under a counting global allocator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{key_file, rng};
use wbgen::Mode;
use wbruntime::WhiteboxKey;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is the only
// addition and does not touch the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn parse_and_decrypt_do_not_allocate() {
    let mut rng = rng(40);
    let (material, file) = key_file(&[0x31; 32], Mode::External, &mut rng);
    let iv = [5u8; 16];
    let msg = vec![0xc3u8; 1000];
    let ct = material.encrypt_cbc(&iv, &msg).unwrap();
    let mut in_place = ct.clone();
    let mut out = vec![0u8; ct.len()];

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let key = WhiteboxKey::parse(&file).unwrap();
    let plain_len = key.decrypt_cbc_in_place(&iv, &mut in_place).unwrap().len();
    let n = key.decrypt_cbc(&iv, &ct, &mut out).unwrap();
    let decrypted_ok = out[..n] == msg[..];
    // A failing decryption (last block dropped: bad padding) must not allocate either, and
    // wipes the partial plaintext from the caller's buffer.
    let bad = key.decrypt_cbc(&iv, &ct[..ct.len() - 16], &mut out);
    let after = ALLOCATIONS.load(Ordering::SeqCst);

    assert_eq!(after - before, 0, "the decrypt path allocated");
    assert_eq!((plain_len, n), (msg.len(), msg.len()));
    assert!(decrypted_ok && in_place[..plain_len] == msg[..]);
    assert!(bad.is_err());
    assert!(out[..ct.len() - 16].iter().all(|&b| b == 0));
}
