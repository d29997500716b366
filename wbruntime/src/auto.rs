//! The one place that chooses a backend for every surface above the core (feature `std`):
//! [`whitebox_decrypt`](crate::whitebox_decrypt), [`OwnedKey`](crate::OwnedKey), and through
//! them the C ABI, the Python package, `wbdecrypt` and the SDKs.
//!
//! * **The process's backend** ([`process_backend`]) is read once: `WBRUNTIME_BACKEND`
//!   (`soft`, `portable`, `neon`, `avx2`, `avx512vbmi`) if it is set, else the fastest this
//!   CPU runs ([`Backend::detect`]). A name that is no backend is [`Error::UnknownBackend`]
//!   (`01000019`), one this CPU or build cannot run [`Error::BackendUnavailable`]
//!   (`01000017`): never a silent fallback.
//! * **Per message** ([`backend_for`]): a message of at least the backend's crossover of blocks
//!   runs on it, a shorter one on the scalar network. A one-shot call pays the re-layout of the
//!   tables (`FastKey`) with every message, a handle once, so their crossovers differ
//!   ([`one_shot_min_blocks`], [`handle_min_blocks`]; `wbbench` measures both). Space-hard keys
//!   always run on the process's backend (its vector rounds are faster from one block on); a
//!   one-shot call re-lays their table out for the x86-64 rounds only from
//!   [`space_hard_relayout_min_blocks`] on, a handle with its first message.
//!
//! `no_std` callers choose for themselves ([`WhiteboxKey::accelerate`](crate::WhiteboxKey)).

use std::sync::OnceLock;

use crate::{Backend, Error, WhiteboxKey};

/// The environment variable that forces a backend for every surface of this process.
pub const BACKEND_VARIABLE: &str = "WBRUNTIME_BACKEND";

/// The backend this process runs long messages on: `WBRUNTIME_BACKEND` if set, else the
/// fastest this CPU has. Read from the environment once per process.
///
/// # Errors
/// [`Error::UnknownBackend`] if the variable names no backend; [`Error::BackendUnavailable`]
/// if it names one this CPU or build cannot run.
pub fn process_backend() -> Result<Backend, Error> {
    static CHOSEN: OnceLock<Result<Backend, Error>> = OnceLock::new();
    *CHOSEN.get_or_init(|| backend_named(std::env::var(BACKEND_VARIABLE).ok().as_deref()))
}

/// The backend a `WBRUNTIME_BACKEND` value asks for (`None` or blank: [`Backend::detect`]).
///
/// # Errors
/// As [`process_backend`].
pub fn backend_named(value: Option<&str>) -> Result<Backend, Error> {
    match value.map(str::trim) {
        None | Some("") => Ok(Backend::detect()),
        Some(name) => {
            let backend = Backend::from_name(name).ok_or(Error::UnknownBackend)?;
            if backend.is_available() {
                Ok(backend)
            } else {
                Err(Error::BackendUnavailable { backend })
            }
        }
    }
}

/// The fewest blocks for which a one-shot call (re-layout of the tables included) is faster on
/// `backend` than on the scalar network: `wbbench`'s "crossover, one-shot" rows on the 2-core
/// AMD EPYC VM (2026-12-02), both ciphers, both Chow modes: portable 460–860, AVX2 72–78,
/// AVX-512 VBMI 80–103 blocks (re-layout 1.3–2.1 / 0.30–0.35 / 0.35–0.57 ms), rounded up to
/// the next power of two.
///
/// NEON has not been measured (the project has no aarch64 machine, only qemu-user, whose
/// timings mean nothing): it takes the portable backend's crossover, the cautious choice, as
/// it shares that backend's batch of 64 blocks and its cost is unknown; `wbbench` on an
/// aarch64 machine should replace it.
pub const fn one_shot_min_blocks(backend: Backend) -> usize {
    match backend {
        Backend::Soft => usize::MAX,
        Backend::Portable | Backend::Neon => 1024,
        Backend::Avx2 | Backend::Avx512Vbmi => 128,
    }
}

/// The fewest blocks for which a handle whose tables are already re-laid out is faster on
/// `backend` than on the scalar network: `wbbench`'s "crossover, handle" rows, the same run:
/// portable 128 (a padded 64-lane batch loses to the scalar network below two batches), AVX2
/// 8–16, AVX-512 VBMI 16–24 blocks; the largest measured. (`FastKey` itself sends inputs
/// under 8 blocks, 20 for portable, to the scalar network too.) NEON: the portable value,
/// unmeasured, for the reason given at [`one_shot_min_blocks`].
pub const fn handle_min_blocks(backend: Backend) -> usize {
    match backend {
        Backend::Soft => usize::MAX,
        Backend::Portable | Backend::Neon => 128,
        Backend::Avx2 => 16,
        Backend::Avx512Vbmi => 24,
    }
}

/// The fewest blocks for which a one-shot call re-lays a space-hard table out for the x86-64
/// vector rounds (`space_hard::Relaid`) before decrypting: below it the rounds read the file's
/// table as it is. `wbbench`'s "re-layout (accelerate)" and "re-layout pays from (one call)" rows
/// (space-hard-16, AMD EPYC (Zen 4) VM, 2026-12-06): the re-layout takes 80–95 µs and saves
/// about 0.03 µs a block, rounded up to a power of two. (A handle re-lays out once, with its
/// first message.)
pub const fn space_hard_relayout_min_blocks() -> usize {
    4096
}

/// Which surface a message comes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// `whitebox_decrypt`: the key file is loaded for this message alone.
    OneShot,
    /// A loaded key ([`crate::OwnedKey`]) that keeps its re-laid-out tables.
    Handle,
}

/// The backend a message of `blocks` blocks runs on with `key`, `backend` being the process's
/// (or the handle's) choice: `backend` from the surface's crossover on, else the scalar
/// network. Space-hard keys always take `backend` (see the module docs).
pub fn backend_for(
    key: &WhiteboxKey<'_>,
    backend: Backend,
    blocks: usize,
    surface: Surface,
) -> Backend {
    if key.space_hard() {
        return backend;
    }
    let min = match surface {
        Surface::OneShot => one_shot_min_blocks(backend),
        Surface::Handle => handle_min_blocks(backend),
    };
    if blocks >= min {
        backend
    } else {
        Backend::Soft
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_and_errors() {
        assert_eq!(backend_named(None), Ok(Backend::detect()));
        assert_eq!(backend_named(Some(" ")), Ok(Backend::detect()));
        assert_eq!(backend_named(Some("soft")), Ok(Backend::Soft));
        assert_eq!(backend_named(Some(" portable\n")), Ok(Backend::Portable));
        for b in Backend::ALL {
            let got = backend_named(Some(b.name()));
            if b.is_available() {
                assert_eq!(got, Ok(b));
            } else {
                assert_eq!(got, Err(Error::BackendUnavailable { backend: b }));
            }
        }
        assert_eq!(Backend::from_name("neon"), Some(Backend::Neon));
        for bad in ["altivec", "NEON", "AVX2", "auto", "soft,avx2"] {
            let e = backend_named(Some(bad)).unwrap_err();
            assert_eq!(e, Error::UnknownBackend);
            assert_eq!(e.code(), "01000019");
        }
    }

    #[test]
    fn crossovers_are_ordered() {
        for b in Backend::ALL {
            assert!(handle_min_blocks(b) <= one_shot_min_blocks(b), "{b}");
        }
    }
}
