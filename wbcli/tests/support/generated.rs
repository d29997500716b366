//! Checks of a binary's `completions` and `manpage` commands, shared by the binaries' tests
//! (each includes this file with `#[path = "../../wbcli/tests/support/generated.rs"]`).
//!
//! The bash script must pass `bash -n` and name every command; the zsh, fish and PowerShell
//! scripts must name the binary (and pass `zsh -n` / `fish --no-execute` where those shells
//! are installed); the manual page must begin with `.TH` (after the two lines of apostrophe
//! set-up every clap_mangen page starts with) and name each command and option; where `man` or
//! `groff` is installed the page must render without a warning. What cannot be run here is
//! skipped with a printed reason.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `bin ARGS` without the environment the tools read, so that nothing outside the test
/// changes what they print.
pub fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("WBGEN_PROGRESS")
        .env_remove("WBGEN_KEYSTORE")
        .env_remove("WBKMS_DATABASE_URL")
        .env_remove("WBGEN_PASSPHRASE")
        .output()
        .unwrap()
}

/// `bin ARGS`'s standard output; the command must succeed with nothing on standard error.
pub fn stdout(bin: &Path, args: &[&str]) -> String {
    let out = run(bin, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    assert!(err.is_empty(), "{args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh directory for this test, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "wb-generated-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `program` is installed: `program --version` starts and succeeds. Starting alone is
/// not enough: under qemu-user (the aarch64 platform tests) a program that does not exist
/// still "starts" (qemu runs the spawn's vfork as a fork, so the failed exec comes back as an
/// exit status of 127, not as an error).
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Checks `script` with `shell CHECK_ARGS FILE` if the shell is installed; else says so.
fn syntax_check(shell: &str, check: &[&str], script: &str, dir: &Path) {
    if !installed(shell) {
        eprintln!("skipped: {shell} is not installed, so its completion script was not parsed");
        return;
    }
    let file = dir.join(format!("completion.{shell}"));
    std::fs::write(&file, script).unwrap();
    let out = Command::new(shell).args(check).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "{shell} {check:?} refused the script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The completion scripts of `bin` (named `name`), which has the commands `commands`.
pub fn check_completions(bin: &Path, name: &str, commands: &[&str]) {
    let dir = Scratch::new(name);
    let bash = stdout(bin, &["completions", "bash"]);
    assert!(bash.contains(&format!("_{name}()")), "{bash}");
    for command in commands {
        assert!(
            bash.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .any(|w| w == *command),
            "the bash script does not name {command}"
        );
    }
    syntax_check("bash", &["-n"], &bash, &dir.0);

    let zsh = stdout(bin, &["completions", "zsh"]);
    assert!(zsh.starts_with(&format!("#compdef {name}")), "{zsh}");
    syntax_check("zsh", &["-n"], &zsh, &dir.0);

    let fish = stdout(bin, &["completions", "fish"]);
    assert!(fish.contains(&format!("complete -c {name} ")), "{fish}");
    syntax_check("fish", &["--no-execute"], &fish, &dir.0);

    let powershell = stdout(bin, &["completions", "powershell"]);
    assert!(powershell.contains(&format!("'{name}'")), "{powershell}");

    // An unknown shell is a usage error (exit 2).
    assert_eq!(run(bin, &["completions", "tcsh"]).status.code(), Some(2));
}

/// `word` as roff writes it: every hyphen escaped.
fn roff(word: &str) -> String {
    word.replace('-', "\\-")
}

/// Checks one page: `.TH TITLE 1` first, each of `words` in it, and its rendering.
fn check_page(page: &str, title: &str, words: &[&str]) {
    let mut lines = page
        .lines()
        .skip_while(|l| l.starts_with(".ie ") || l.starts_with(".el "));
    let th = lines.next().unwrap_or_default();
    assert!(th.starts_with(&format!(".TH {title} 1 ")), "{page}");
    for word in words {
        assert!(
            page.contains(&roff(word)),
            "the page {title} does not name {word}"
        );
    }
    render(page, title, words);
}

/// Renders the page with `man -l -` (as a user reads it) where man is installed, else with
/// groff; nothing on standard error, and the words in the text.
fn render(page: &str, title: &str, words: &[&str]) {
    use std::io::Write as _;
    let (program, args): (&str, &[&str]) = if installed("man") {
        ("man", &["-l", "-"])
    } else if installed("groff") {
        ("groff", &["-k", "-man", "-Tutf8", "-ww"])
    } else {
        eprintln!(
            "skipped: neither man nor groff is installed, so the page {title} was not rendered"
        );
        return;
    };
    let mut child = Command::new(program)
        .args(args)
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env_remove("MANROFFOPT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} failed on {title}: {err}");
    assert!(err.trim().is_empty(), "{program} warned on {title}: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.trim().is_empty(),
        "{program} rendered nothing for {title}"
    );
    if program == "man" {
        for word in words {
            assert!(
                text.contains(word),
                "the rendered page {title} lacks {word}:\n{text}"
            );
        }
    }
}

/// The page `manpage` prints: `.TH NAME 1`, every command (`NAME-COMMAND(1)`) and every
/// option in `options`.
pub fn check_manpage(bin: &Path, name: &str, commands: &[&str], options: &[&str]) {
    let page = stdout(bin, &["manpage"]);
    let mut words: Vec<String> = commands.iter().map(|c| format!("{name}-{c}(1)")).collect();
    words.extend(options.iter().map(|o| (*o).to_owned()));
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    check_page(&page, name, &words);
}

/// `manpage --out DIR`: one page per command, at every depth, their paths printed; each page
/// checked, `pages` giving for some of them (`NAME-COMMAND`) the options it must name.
pub fn check_manpage_dir(bin: &Path, name: &str, commands: &[&str], pages: &[(&str, &[&str])]) {
    let dir = Scratch::new(&format!("{name}-pages"));
    let out_dir = dir.0.join("man1");
    let listed = stdout(bin, &["manpage", "--out", out_dir.to_str().unwrap()]);
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(
        listed.first().copied(),
        Some(out_dir.join(format!("{name}.1")).to_str().unwrap())
    );
    for command in commands {
        let file = out_dir.join(format!("{name}-{command}.1"));
        assert!(listed.contains(&file.to_str().unwrap()), "{listed:?}");
    }
    for path in &listed {
        assert!(Path::new(path).is_file(), "{path}");
        let title = Path::new(path)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let words = pages
            .iter()
            .find(|(page, _)| *page == title)
            .map_or(&[][..], |(_, w)| w);
        check_page(&std::fs::read_to_string(path).unwrap(), &title, words);
    }
    for (page, _) in pages {
        assert!(
            listed
                .iter()
                .any(|p| Path::new(p).file_name() == Some(format!("{page}.1").as_ref())),
            "no page {page}: {listed:?}"
        );
    }
}
