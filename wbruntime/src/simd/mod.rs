//! SIMD backends (x86-64): the table networks on many blocks at once, byte-identical to the
//! scalar reference. See [`crate::Backend`] and [`crate::FastKey`].

#[macro_use]
mod network;
pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod planes;
