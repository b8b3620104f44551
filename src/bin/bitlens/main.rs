//! `bitlens`: the native command line. Each subcommand lives in its own module.

mod inspect;
mod tokenize;

use std::process::ExitCode;

const USAGE: &str = "usage: bitlens <command> [args]

commands:
  inspect FILE [--json]      metadata and tensor table of a GGUF file
  tokenize FILE TEXT [--json] [--decode]  token ids of TEXT (or --decode: ids to text)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "inspect" => inspect::main(rest),
        "tokenize" => tokenize::main(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("bitlens: {msg}");
            ExitCode::FAILURE
        }
    }
}
