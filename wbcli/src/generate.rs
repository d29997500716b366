//! The `completions` and `manpage` commands every binary of the toolkit has: a shell
//! completion script and a roff manual page, both made from the binary's own clap definition,
//! so that they never disagree with what the binary accepts.
//!
//! A binary adds [`Generate`] to its subcommands (`#[command(flatten)]` in its command enum,
//! or as an `Option<Generate>` subcommand of a command line without subcommands) and calls
//! [`Generate::run`] with its `CommandFactory::command()`. Nothing here reads a key store,
//! a key file or the environment.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};

/// The two commands. Their help says `BIN` where [`command`] puts the binary's name.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Generate {
    /// Print a shell completion script to standard output.
    ///
    /// bash: `source <(BIN completions bash)` in ~/.bashrc, or save the script as
    /// /usr/share/bash-completion/completions/BIN. zsh: save it as _BIN in a directory of
    /// $fpath. fish: save it as ~/.config/fish/completions/BIN.fish. PowerShell: add
    /// `BIN completions powershell | Out-String | Invoke-Expression` to $PROFILE.
    Completions {
        /// The shell.
        #[arg(value_enum, value_name = "SHELL")]
        shell: Shell,
    },
    /// Print the manual page (roff) to standard output, or write one page per command.
    ///
    /// `BIN manpage | man -l -` reads it; `BIN manpage --out /usr/local/share/man/man1`
    /// installs every command's page.
    Manpage {
        /// Write BIN.1 and one BIN-COMMAND.1 per command into this directory (created if
        /// missing) and print their paths, instead of printing one page.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// The shells completion scripts are made for.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// Bash 4.2 or later (bash-completion).
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell (the Windows archives' binaries).
    #[value(name = "powershell")]
    PowerShell,
}

impl Shell {
    fn generator(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
            Shell::PowerShell => clap_complete::Shell::PowerShell,
        }
    }
}

impl Generate {
    /// Carries the command out for the binary whose definition is `cmd`: writes the script or
    /// the page to `out`, or (`manpage --out DIR`) writes the pages and lists their paths on
    /// `out`, one a line.
    ///
    /// # Errors
    /// The I/O error of writing `out` or a page file (a closed pipe included).
    pub fn run(&self, cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Generate::Completions { shell } => out.write_all(&completions(cmd, *shell)),
            Generate::Manpage { out: None } => out.write_all(&manpage(cmd)?),
            Generate::Manpage { out: Some(dir) } => {
                for path in manpages_to(cmd, dir)? {
                    writeln!(out, "{}", path.display())?;
                }
                Ok(())
            }
        }
        .and_then(|()| out.flush())
    }
}

/// `P`'s command with `BIN` in the help of [`Generate`]'s commands replaced by the binary's
/// name, as its help, completions and pages show it.
pub fn command<P: clap::CommandFactory>() -> clap::Command {
    let mut cmd = P::command();
    let name = cmd.get_name().to_owned();
    for sub in ["completions", "manpage"] {
        if cmd.find_subcommand(sub).is_some() {
            cmd = cmd.mut_subcommand(sub, |mut s| {
                if let Some(about) = s.get_about().map(|a| a.to_string().replace("BIN", &name)) {
                    s = s.about(about);
                }
                if let Some(long) = s
                    .get_long_about()
                    .map(|a| a.to_string().replace("BIN", &name))
                {
                    s = s.long_about(long);
                }
                s.mut_args(|mut a| {
                    if let Some(help) = a.get_help().map(|h| h.to_string().replace("BIN", &name)) {
                        a = a.help(help);
                    }
                    a
                })
            });
        }
    }
    cmd
}

/// Parses a command line (the first item is the program name) as `P`, with [`command`]'s help.
///
/// # Errors
/// clap's error for invalid arguments, `--help` or `--version`.
pub fn parse<P, I, T>(args: I) -> Result<P, clap::Error>
where
    P: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = command::<P>();
    let mut matches = cmd.try_get_matches_from_mut(args)?;
    P::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
}

/// The completion script of `cmd` for `shell`. Made in memory first: clap_complete panics on a
/// failed write, and a closed pipe is not a reason to panic.
pub fn completions(mut cmd: clap::Command, shell: Shell) -> Vec<u8> {
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell.generator(), &mut cmd, name, &mut script);
    script
}

/// The manual page of `cmd` itself (its options, and its commands by name with their
/// summaries), as roff.
///
/// # Errors
/// None in practice (it writes to memory); the type is clap_mangen's.
pub fn manpage(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(prepared(cmd)).render(&mut page)?;
    Ok(page)
}

/// Writes the page of `cmd` and of each of its commands, at every depth, into `dir` (created if
/// missing): `BIN.1`, `BIN-COMMAND.1`, `BIN-COMMAND-SUBCOMMAND.1`. Returns the paths written,
/// the top page first.
///
/// # Errors
/// The I/O error of creating `dir` or writing a page.
pub fn manpages_to(cmd: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn each(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
        written.push(clap_mangen::Man::new(cmd.clone()).generate_to(dir)?);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            each(sub, dir, written)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    let mut cmd = prepared(cmd);
    // Gives every command its display name (`wbgen-create`), which names its page.
    cmd.build();
    let mut written = Vec::new();
    each(&cmd, dir, &mut written)?;
    Ok(written)
}

/// `cmd` without clap's `help` command, which has no page of its own worth reading.
fn prepared(cmd: clap::Command) -> clap::Command {
    cmd.disable_help_subcommand(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// A small command line with a command, an option and the two commands.
    #[derive(Parser, Debug)]
    #[command(name = "demo", version, about = "A demo.")]
    struct Demo {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Command {
        /// Do a thing.
        Thing {
            /// The key.
            #[arg(long)]
            key_id: String,
        },
        #[command(flatten)]
        Generate(Generate),
    }

    #[test]
    fn every_shell_and_the_pages() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let script = String::from_utf8(completions(Demo::command(), shell)).unwrap();
            assert!(script.contains("demo"), "{shell:?}");
            assert!(script.contains("key-id"), "{shell:?}");
        }
        let page = String::from_utf8(manpage(Demo::command()).unwrap()).unwrap();
        assert!(page.contains(".TH demo 1"), "{page}");
        assert!(page.contains("demo\\-thing(1)"), "{page}");
        assert!(!page.contains("demo\\-help(1)"), "{page}");

        let dir = std::env::temp_dir().join(format!("wbcli-pages-{}", std::process::id()));
        let written = manpages_to(Demo::command(), &dir).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "demo.1",
                "demo-thing.1",
                "demo-completions.1",
                "demo-manpage.1"
            ]
        );
        let thing = std::fs::read_to_string(dir.join("demo-thing.1")).unwrap();
        assert!(thing.contains("\\-\\-key\\-id"), "{thing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn help_names_the_binary() {
        let e = parse::<Demo, _, _>(["demo", "completions", "--help"]).unwrap_err();
        let help = e.to_string();
        assert!(help.contains("demo completions bash"), "{help}");
        assert!(!help.contains("BIN"), "{help}");
        let e = parse::<Demo, _, _>(["demo", "manpage", "--help"]).unwrap_err();
        let help = e.to_string();
        assert!(help.contains("demo.1"), "{help}");
        assert!(!help.contains("BIN"), "{help}");
    }

    #[test]
    fn parses_as_a_command() {
        let d = Demo::try_parse_from(["demo", "completions", "zsh"]).unwrap();
        assert!(matches!(
            d.command,
            Command::Generate(Generate::Completions { shell: Shell::Zsh })
        ));
        let d = Demo::try_parse_from(["demo", "manpage", "--out", "x"]).unwrap();
        assert!(matches!(
            d.command,
            Command::Generate(Generate::Manpage { out: Some(_) })
        ));
        assert!(Demo::try_parse_from(["demo", "completions", "tcsh"]).is_err());
    }
}
