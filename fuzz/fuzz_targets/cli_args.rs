//! Arbitrary command lines (NUL-separated arguments) for `wbgen` and `wbdecrypt`: parsing
//! gives arguments or clap's error, never a panic. Nothing is executed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let args: Vec<&str> = text.split('\0').collect();
    let _ = wbgen::cli::parse(std::iter::once("wbgen").chain(args.iter().copied()));
    let _ = wbdecrypt::Args::parse_from_args(std::iter::once("wbdecrypt").chain(args.iter().copied()));
});
