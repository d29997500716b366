//! The table-network backends and the run-time choice between them.
//!
//! As in RustCrypto's `aes`, the scalar backend (`soft`, plain safe Rust, every target) is the
//! definition; the SIMD backends compute the same network on many blocks at once and must give
//! byte-identical results, which the tests check for every backend this CPU has. A backend is
//! chosen once, when a key is accelerated ([`crate::WhiteboxKey::accelerate`]), from what the
//! CPU reports (`cpufeatures` on x86-64; on aarch64 the standard library's detection with
//! feature `std`, the build's target features without it); tests and benchmarks can force one
//! ([`crate::WhiteboxKey::accelerate_with`]).

/// A way of evaluating the table network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// The scalar network, portable safe Rust: the reference (a message's blocks up to 8 at a
    /// time, round by round, each with its own chain of lookups).
    Soft,
    /// Batches of 64 blocks per step, portable safe Rust (needs `alloc`): the same network
    /// as the SIMD backends on byte arrays, so that table loads of different blocks overlap,
    /// with whole word-table entries per load and XOR tables whose results need no
    /// unpacking. The fastest choice where no SIMD backend runs.
    Portable,
    /// aarch64 NEON (Advanced SIMD, needs `alloc`): 16 blocks per vector, four vectors per
    /// batch; a 256-entry table lookup is one `tbl` and three `tbx` over the table's four
    /// 64-byte quarters, a nibble-XOR table lookup one `tbl` and one `tbx` over its 128 packed
    /// bytes and a nibble swap where the index's top bit is set. Space-hard rounds: one
    /// register per block, 24 blocks in flight.
    Neon,
    /// x86-64 AVX2: 32 blocks per vector; word and block tables are read with 32-bit gathers
    /// (a whole entry per lane), a nibble-XOR table lookup is 8 `vpshufb` over its packed rows.
    Avx2,
    /// x86-64 AVX-512 VBMI (with VL, and GFNI, which every CPU with VBMI but Cannon Lake has): 64
    /// blocks per vector, four vectors per batch; a 256-entry table lookup is four `vpermb`
    /// (three merge-masked by the index's quarter), the table held in four registers, and a
    /// nibble-XOR table lookup is one `vpermi2b` and a masked nibble swap.
    Avx512Vbmi,
}

#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpuid_avx2, "avx2");
#[cfg(target_arch = "x86_64")]
// AVX2 is asked for too: code compiled for AVX-512 may use AVX2 instructions (and the space-hard
// n = 24 rounds are AVX2 code), and a CPU, or a VM, may report the one without the other.
cpufeatures::new!(
    cpuid_avx512vbmi,
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512vbmi",
    "gfni"
);

/// Whether this CPU has NEON: asked of the operating system (the standard library's
/// detection, cached after the first call) with feature `std`; without it, whether the build
/// targets NEON (every aarch64 target but the soft-float ones does).
#[cfg(all(feature = "alloc", target_arch = "aarch64"))]
fn neon_detected() -> bool {
    #[cfg(feature = "std")]
    {
        std::arch::is_aarch64_feature_detected!("neon")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "neon")
    }
}

impl Backend {
    /// Every backend, fastest last (a build runs the x86-64 ones or NEON, never both, so
    /// their order relative to each other does not matter).
    pub const ALL: [Backend; 5] = [
        Backend::Soft,
        Backend::Portable,
        Backend::Neon,
        Backend::Avx2,
        Backend::Avx512Vbmi,
    ];

    /// The backend's name, as benchmarks print it.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Soft => "soft",
            Backend::Portable => "portable",
            Backend::Neon => "neon",
            Backend::Avx2 => "avx2",
            Backend::Avx512Vbmi => "avx512vbmi",
        }
    }

    /// The backend with this name ([`name`](Self::name): `soft`, `portable`, `neon`, `avx2`,
    /// `avx512vbmi`), whether or not this CPU runs it.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether this build and this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Soft => true,
            Backend::Portable => cfg!(feature = "alloc"),
            #[cfg(all(feature = "alloc", target_arch = "x86_64"))]
            Backend::Avx2 => cpuid_avx2::get(),
            #[cfg(all(feature = "alloc", target_arch = "x86_64"))]
            Backend::Avx512Vbmi => cpuid_avx512vbmi::get(),
            #[cfg(all(feature = "alloc", target_arch = "aarch64"))]
            Backend::Neon => neon_detected(),
            // The other architecture's backends, and every SIMD one without `alloc`.
            _ => false,
        }
    }

    /// The fastest available backend.
    pub fn detect() -> Backend {
        Backend::ALL
            .into_iter()
            .rev()
            .find(|b| b.is_available())
            .unwrap_or(Backend::Soft)
    }

    /// Every available backend.
    pub fn available() -> impl Iterator<Item = Backend> {
        Backend::ALL.into_iter().filter(|b| b.is_available())
    }
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
