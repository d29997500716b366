//! One version number: every crate of the workspace, the version each names its siblings by,
//! the Java SDK (its POM, its JCA provider's version, the jar its scripts and README name), the
//! Python package, and whatever the C ABI or a README states, all equal `[workspace.package]`'s
//! `version` — and it is not older than the last release (`.ci/last-release`). The crates are
//! released together, at one version (README, "Releases and crates"); a bump in one place only
//! fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `key = "value"` in the `[section]` of a TOML file (the simple form these manifests use).
fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
            continue;
        }
        if inside
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The workspace's version: `[workspace.package]`'s.
fn version() -> String {
    let v = toml_value(&read("Cargo.toml"), "workspace.package", "version").unwrap();
    assert!(parse(&v).is_some(), "{v:?} is not MAJOR.MINOR.PATCH");
    v
}

fn parse(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Every `before VERSION after` in `text`, VERSION being what lies between the two.
fn between<'a>(text: &'a str, before: &str, after: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(before) {
        rest = &rest[at + before.len()..];
        if let Some(end) = rest.find(after) {
            let v = &rest[..end];
            if parse(v).is_some() {
                found.push(v);
            }
        }
    }
    found
}

#[test]
fn every_crate_and_its_siblings_requirements() {
    let version = version();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(workspace())
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    assert!(packages.len() >= 10, "{} packages", packages.len());
    for p in packages {
        let name = p["name"].as_str().unwrap();
        assert_eq!(
            p["version"].as_str(),
            Some(version.as_str()),
            "{name} is not at the workspace's version (use `version.workspace = true`)"
        );
        for dep in p["dependencies"].as_array().unwrap() {
            if dep["path"].is_null() {
                continue;
            }
            let req = dep["req"].as_str().unwrap();
            assert!(
                req == "*" || req == format!("^{version}"),
                "{name} depends on {} as {req}, not ^{version}",
                dep["name"]
            );
        }
    }
    // The path dependencies as [workspace.dependencies] states them.
    let manifest = read("Cargo.toml");
    let deps: Vec<&str> = manifest
        .lines()
        .filter(|l| l.contains("path = ") && l.contains("version = "))
        .collect();
    assert!(deps.len() >= 5, "{deps:?}");
    for line in deps {
        assert!(
            line.contains(&format!("version = \"{version}\"")),
            "Cargo.toml: {line}"
        );
    }
}

#[test]
fn the_sdks_and_the_c_abi() {
    let version = version();
    // Maven: the project's own version, the first <version> after its artifactId.
    let pom = read("sdk/java/pom.xml");
    let own = pom
        .split("<artifactId>wbruntime</artifactId>")
        .nth(1)
        .unwrap();
    assert_eq!(
        between(own, "<version>", "</version>").first().copied(),
        Some(version.as_str()),
        "sdk/java/pom.xml"
    );
    let provider = read("sdk/java/src/main/java/wbtoolkit/whitebox/WhiteboxProvider.java");
    assert_eq!(
        between(&provider, "super(NAME, \"", "\""),
        [version.as_str()],
        "WhiteboxProvider's version"
    );
    let loader = read("sdk/java/src/test/java/wbtoolkit/whitebox/LoaderTest.java");
    for v in between(&loader, "assertEquals(\"", "\", Whitebox.nativeVersion()") {
        assert_eq!(v, version, "LoaderTest");
    }
    for file in ["sdk/java/run-tests.sh", "sdk/java/README.md", "README.md"] {
        let text = read(file);
        for v in between(&text, "wbruntime-", ".jar") {
            assert_eq!(v, version, "{file} names the jar wbruntime-{v}.jar");
        }
    }
    let readme = read("sdk/java/README.md");
    for v in between(&readme, "<version>", "</version>") {
        assert_eq!(v, version, "sdk/java/README.md's dependency snippet");
    }

    // Python: the package's version; `__version__` is the extension's (the crate's) version.
    let pyproject = read("python/pyproject.toml");
    assert_eq!(
        toml_value(&pyproject, "project", "version").as_deref(),
        Some(version.as_str()),
        "python/pyproject.toml"
    );
    let init = read("python/wbruntime/__init__.py");
    let line = init
        .lines()
        .find(|l| l.starts_with("__version__"))
        .expect("python/wbruntime/__init__.py sets __version__");
    assert!(
        line.contains("_native.version()") || line.contains(&format!("\"{version}\"")),
        "{line}"
    );
    assert!(read("python/src/lib.rs").contains("env!(\"CARGO_PKG_VERSION\")"));

    // The C ABI: wb_version() is the crate's version; the header states none of its own.
    let ffi = read("wbruntime-ffi/src/lib.rs");
    let wb_version = ffi.split("fn wb_version").nth(1).unwrap();
    assert!(
        wb_version[..wb_version.find("\n}").unwrap()].contains("env!(\"CARGO_PKG_VERSION\")"),
        "wb_version() returns the crate's version"
    );
    let header = read("wbruntime-ffi/include/wbruntime.h");
    for line in header.lines().filter(|l| l.starts_with("#define")) {
        for v in between(line, "\"", "\"") {
            assert_eq!(v, version, "wbruntime.h: {line}");
        }
    }
}

#[test]
fn not_older_than_the_last_release() {
    let version = version();
    let record = read(".ci/last-release");
    let released = record
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .unwrap()
        .trim();
    assert!(
        parse(&version) >= parse(released),
        "the workspace's {version} is older than the last release, {released}"
    );
    // Between releases the changelog collects the changes under [Unreleased]; a released
    // version has its own heading.
    let changelog = read("CHANGELOG.md");
    assert!(
        changelog.contains("## [Unreleased]") || changelog.contains(&format!("## [{version}]")),
        "CHANGELOG.md has neither [Unreleased] nor [{version}]"
    );
}

#[test]
fn the_readers_read_what_they_should() {
    let toml = "[a]\nversion = \"1.0.0\"\n[workspace.package]\nname = \"x\"\nversion = \"0.2.0\"\n";
    assert_eq!(
        toml_value(toml, "workspace.package", "version").as_deref(),
        Some("0.2.0")
    );
    assert_eq!(
        between(
            "x wbruntime-0.2.0.jar y wbruntime-jni z wbruntime-1.2.3.jar",
            "wbruntime-",
            ".jar"
        ),
        ["0.2.0", "1.2.3"]
    );
    assert_eq!(parse("0.10.2"), Some((0, 10, 2)));
    assert_eq!(parse("0.1"), None);
    assert!(parse("0.2.0") > parse("0.1.9"));
}
