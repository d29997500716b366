//! Batched backends: the table networks on many blocks at once, byte-identical to the scalar
//! reference. The portable one is safe Rust for any target; the x86-64 and aarch64 ones use
//! SIMD. See [`crate::Backend`] and [`crate::FastKey`].

#[macro_use]
mod network;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
pub(crate) mod planes;
pub(crate) mod portable;
