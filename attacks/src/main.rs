//! `wbattack`: the attack suite's command line (see `attacks::cli`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use attacks::Error;
use attacks::cli::{Args, Command, execute};
use clap::Parser;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let err = Error::Usage(format!(
                "{} (see wbattack --help)",
                first.trim_start_matches("error: ")
            ));
            eprintln!("error {}: {err}", err.code());
            return ExitCode::from(2);
        }
    };
    let result = Command::from_args(&args).and_then(|command| execute(&command));
    match result {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        let err = Error::Output(e.to_string());
                        eprintln!("error {}: {err}", err.code());
                        return ExitCode::from(1);
                    }
                }
            } else {
                print!("{}", report.text());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error {}: {e}", e.code());
            ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 })
        }
    }
}
