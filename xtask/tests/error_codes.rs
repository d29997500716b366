//! README's table of error codes is the code's: every code a crate can return is in the table,
//! and every code in the table is one a crate returns. The codes are read from the sources as
//! they are written there — eight-digit string literals (`"02000014"`) and the C ABI's integer
//! constants (`1_000_020`) — so a new error without a row, or a row left behind by a removed
//! error, fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The crates whose errors users see, by their source directories.
const SOURCES: &[&str] = &[
    "wbruntime/src",
    "wbruntime-ffi/src",
    "wbgen/src",
    "wbstore/src",
    "wbkms/src",
    "wbdecrypt/src",
    "fingerprint/src",
    "wbcli/src",
    "attacks/src",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Eight-digit codes `0[1-5]xxxxxx` quoted in `text`, and with `c_abi` the C ABI's
/// `1_000_0xx` constants.
fn codes_in_source(text: &str, c_abi: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let b = text.as_bytes();
    for i in 0..b.len() {
        // "0d000ddd"
        if b[i] == b'"' && i + 9 < b.len() && b[i + 9] == b'"' {
            let inner = &text[i + 1..i + 9];
            if inner.bytes().all(|c| c.is_ascii_digit())
                && inner.starts_with('0')
                && (b'1'..=b'5').contains(&inner.as_bytes()[1])
            {
                found.insert(inner.to_owned());
            }
        }
        // 1_000_0dd, not inside a longer number
        if c_abi
            && b[i..].starts_with(b"1_000_0")
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            && i + 9 <= b.len()
            && b[i + 7..i + 9].iter().all(u8::is_ascii_digit)
            && b.get(i + 9)
                .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_')
        {
            found.insert(format!("01000{}", &text[i + 6..i + 9]));
        }
    }
    found
}

/// The codes of README's "Error codes" table: `01000001`, a range `03000001–07`, a list
/// `04000003, 04000004`.
fn codes_in_readme(readme: &str) -> BTreeSet<String> {
    let section = readme
        .split("\n## Error codes\n")
        .nth(1)
        .expect("README.md has a section \"## Error codes\"");
    let section = section.split("\n## ").next().unwrap();
    let mut found = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with("| 0")) {
        let cell = line.split('|').nth(1).unwrap().trim();
        for part in cell.split(',').map(str::trim) {
            match part.split_once('–') {
                Some((first, last)) => {
                    let start: u32 = first.parse().unwrap();
                    let end: u32 = format!("{}{last}", &first[..first.len() - last.len()])
                        .parse()
                        .unwrap();
                    assert!(start < end, "README: bad range {part}");
                    for c in start..=end {
                        found.insert(format!("{c:08}"));
                    }
                }
                None => {
                    assert!(
                        part.len() == 8 && part.bytes().all(|c| c.is_ascii_digit()),
                        "README: {part:?} in the codes column is not a code"
                    );
                    found.insert(part.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn every_code_is_in_the_readme_table_and_every_row_is_a_code() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in SOURCES {
        rust_files(&root.join(dir), &mut files);
    }
    let mut in_code = BTreeSet::new();
    for f in &files {
        let c_abi = f.starts_with(root.join("wbruntime-ffi"));
        in_code.extend(codes_in_source(&std::fs::read_to_string(f).unwrap(), c_abi));
    }
    let in_readme = codes_in_readme(&std::fs::read_to_string(root.join("README.md")).unwrap());
    let undocumented: Vec<_> = in_code.difference(&in_readme).collect();
    let unused: Vec<_> = in_readme.difference(&in_code).collect();
    assert!(
        undocumented.is_empty(),
        "codes the crates return that README.md's table lacks: {undocumented:?}"
    );
    assert!(
        unused.is_empty(),
        "codes README.md's table lists that no crate returns: {unused:?}"
    );
    // Each range has its own crate: a code is never two things.
    assert!(in_code.len() > 80, "only {} codes found", in_code.len());
}

#[test]
fn the_readers_of_codes_read_what_they_should() {
    let src = r#"x => "01000016", y = 1_000_020; z = 21_000_020; "1234567890" "06000001""#;
    let found: Vec<String> = codes_in_source(src, true).into_iter().collect();
    assert_eq!(found, ["01000016", "01000020"]);
    let readme = "x\n## Error codes\n| code | a |\n|---|---|\n| 01000001 | a |\n| 03000001–03 | b |\n| 04000003, 04000004 | c |\n## Next\n| 09999999 | no |\n";
    let found: Vec<String> = codes_in_readme(readme).into_iter().collect();
    assert_eq!(
        found,
        [
            "01000001", "03000001", "03000002", "03000003", "04000003", "04000004"
        ]
    );
}
