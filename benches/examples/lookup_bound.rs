//! The ceiling a space-hard-16 round cannot beat on this machine: `L` independent chains of
//! dependent random 16-byte loads from a 1 MiB table (the re-laid-out table's size), each load's
//! index taken from the value the last load returned, with no other work. A space-hard block is
//! 128 such loads in a chain (plus the round's arithmetic), so `loads/s × 16 B / 128` is the
//! most any kernel of that form can decrypt per second; `wbbench` gives what the kernels reach.
//!
//! ```text
//! cargo run --release -p benches --example lookup_bound
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;
use std::time::Instant;

/// `L` chains, `rounds` deep, over `table` (2^16 entries): each step moves the register's low
/// 16 bits out (`vmovd`), XORs the step number in, loads that entry (`vmovdqa`) and nothing
/// else, as the space-hard kernels' rounds do beside their rotation and XORs.
#[cfg(target_arch = "x86_64")]
fn chains<const L: usize>(table: &[u128], rounds: usize) -> u128 {
    #![allow(unsafe_code)]
    use core::arch::x86_64::{__m128i, _mm_cvtsi128_si32, _mm_load_si128, _mm_storeu_si128};
    let table: &[u128; 1 << 16] = table.try_into().unwrap();
    let mut x: [__m128i; L] = core::array::from_fn(|i| {
        // SAFETY: an aligned 16-byte load of a table entry.
        unsafe { _mm_load_si128((&table[i * 977] as *const u128).cast()) }
    });
    for r in 0..rounds {
        for v in &mut x {
            // The round number XORed in, as the round constant is: an index taken from the
            // entry alone would soon run round a short cycle of entries, all in L1.
            // SAFETY: SSE2 is part of x86-64.
            let i = (unsafe { _mm_cvtsi128_si32(*v) } ^ r as i32) as u16;
            // SAFETY: an aligned 16-byte load of a table entry (`i` < 2^16).
            *v = unsafe { _mm_load_si128((&table[usize::from(i)] as *const u128).cast()) };
        }
    }
    let mut out = 0u128;
    for v in &x {
        let mut b = [0u8; 16];
        // SAFETY: an unaligned 16-byte store to a 16-byte array.
        unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), *v) };
        out ^= u128::from_le_bytes(b);
    }
    out
}

fn best(mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("lookup_bound measures the x86-64 kernels' ceiling: x86-64 only");
}

#[cfg(target_arch = "x86_64")]
fn main() {
    let mut s = 0x1234_5678_9abc_def1u64;
    let table: Vec<u128> = (0..1 << 16)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            u128::from(s) << 64 | u128::from(s.rotate_left(29))
        })
        .collect();
    let rounds = 1 << 16;
    macro_rules! run {
        ($($l:literal),*) => {$(
            let t = best(|| {
                black_box(chains::<$l>(black_box(&table), rounds));
            });
            let loads = ($l * rounds) as f64 / t;
            println!(
                "{:>2} chains: {:6.1} M loads/s -> at most {:6.1} MB/s of space-hard-16 (128 loads per 16 B)",
                $l,
                loads / 1e6,
                loads * 16.0 / 128.0 / 1e6
            );
        )*};
    }
    run!(1, 8, 12, 16, 24, 32, 48);
}
