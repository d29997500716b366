//! Declares the `aes` crate's backend cfg, which `wbbench` reads to label a software-forced
//! reference build (`RUSTFLAGS='--cfg aes_backend="soft"'`).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(aes_backend, values(\"soft\"))");
}
