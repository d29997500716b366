//! Command-line helpers shared by `wbgen`, `wbdecrypt` and the other binaries of the toolkit.
//! No cryptography lives here: only how the tools talk to people.
#![forbid(unsafe_code)]

// The crate README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod generate;
pub use generate::{Generate, Shell};

/// A one-line description of a command-line error that names the options involved but never
/// echoes a value the user typed (a mistyped option could carry a key or a secret).
pub fn usage_message(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let what = match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::NoEquals => {
            "invalid value for"
        }
        ErrorKind::UnknownArgument => "unexpected argument",
        ErrorKind::MissingRequiredArgument => "missing required argument",
        ErrorKind::ArgumentConflict => "arguments that cannot be used together",
        ErrorKind::InvalidSubcommand => "unknown command",
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a command is required"
        }
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            "wrong number of values for"
        }
        _ => "invalid arguments",
    };
    // Option names only: a token that is not an option (`--name` or `<NAME>`) is not shown,
    // and `--name=value` is cut at the `=`.
    let option = |s: &str| -> Option<String> {
        let name = s.split('=').next().unwrap_or_default();
        (name.starts_with('-') || name.starts_with('<')).then(|| name.chars().take(64).collect())
    };
    let mut names: Vec<String> = Vec::new();
    for (kind, value) in e.context() {
        match (kind, value) {
            (ContextKind::InvalidArg, ContextValue::String(s)) => names.extend(option(s)),
            (ContextKind::InvalidArg, ContextValue::Strings(v)) => {
                names.extend(v.iter().filter_map(|s| option(s)));
            }
            _ => {}
        }
    }
    let valid: Vec<String> = e
        .context()
        .filter_map(|(k, v)| match (k, v) {
            (ContextKind::ValidValue, ContextValue::Strings(v)) if !v.is_empty() => {
                Some(v.join(", "))
            }
            _ => None,
        })
        .collect();
    let mut msg = String::from(what);
    if !names.is_empty() {
        msg.push(' ');
        msg.push_str(&names.join(", "));
    }
    if !valid.is_empty() {
        msg.push_str(&format!(" (expected one of: {})", valid.join("; ")));
    }
    msg
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Demo {
        #[arg(long)]
        key_hex: String,
        #[arg(long, value_parser = ["aes-256", "sm4"])]
        algorithm: String,
    }

    #[test]
    fn names_options_but_never_values() {
        let secret = "00112233445566778899aabbccddeeff";
        for args in [
            vec!["demo", secret],
            vec!["demo", &format!("--keyhex={secret}")],
            vec!["demo", "--key-hex", "x", "--algorithm", secret],
        ] {
            let e = Demo::try_parse_from(&args).unwrap_err();
            let msg = super::usage_message(&e);
            assert!(!msg.contains(secret), "{msg}");
            assert!(!msg.is_empty());
        }
        let e = Demo::try_parse_from(["demo", "--key-hex", "x"]).unwrap_err();
        assert!(super::usage_message(&e).contains("--algorithm"));
        let e = Demo::try_parse_from(["demo", "--key-hex", "x", "--algorithm", "des"]).unwrap_err();
        assert!(super::usage_message(&e).contains("aes-256"));
    }
}
