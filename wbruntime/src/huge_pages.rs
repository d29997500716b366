//! Huge pages for the largest key files (feature `std`, Linux): a space-hard `n = 24` table is
//! 208 MiB read at random, and with 4 KiB pages nearly every lookup also misses the TLB and
//! walks the page tables. `wbbench` (space-hard-24, 1 MiB, AMD EPYC (Zen 4) VM, 2026-12-06):
//! 13 MB/s on 4 KiB pages, 22 MB/s on transparent huge pages.
//!
//! The kernel gives a process transparent huge pages where it asks for them (`madvise`, the
//! default setting of most distributions) or everywhere (`always`); asking is harmless where
//! they are off. The advice must come before the pages are first touched, so it is given on
//! the buffer a key file is about to be read into.

#![allow(unsafe_code)]

use std::vec::Vec;

/// Files smaller than this are read as they are: only `n = 24` files (218 MB) are near it.
const MIN_LEN: usize = 32 << 20;

/// Asks for huge pages over `buf`'s spare capacity, if it is large (a no-op elsewhere and on
/// other systems; a refusal changes nothing but speed).
pub(crate) fn advise(buf: &mut Vec<u8>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let spare = buf.spare_capacity_mut();
        if spare.len() < MIN_LEN {
            return;
        }
        // The 2 MiB-aligned part of the spare capacity: whole huge pages only.
        let at = spare.as_mut_ptr() as usize;
        let start = at.next_multiple_of(HUGE);
        let end = (at + spare.len()) / HUGE * HUGE;
        if end > start {
            // SAFETY: `[start, end)` lies inside `buf`'s allocation, which this function holds
            // borrowed mutably; `madvise` with MADV_HUGEPAGE changes how the kernel backs the
            // range with pages, never its contents or validity. Its result is ignored: a
            // refusal (huge pages off, an old kernel) leaves ordinary pages.
            let _ = unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE)
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (buf, MIN_LEN);
}
