//! `bitlens`: the native command line. Each subcommand lives in its own module.

// Native only (it uses serde_json and env_logger): wasm-pack's test build also compiles this
// target for wasm32, where it is empty.
#![cfg_attr(target_arch = "wasm32", no_main)]
#![cfg(not(target_arch = "wasm32"))]

mod bench;
mod export;
mod inspect;
mod run;
mod stats;
mod tokenize;

use std::process::ExitCode;

const USAGE: &str = "usage: bitlens <command> [args]

commands:
  inspect FILE [--json]      metadata and tensor table of a GGUF file
  stats FILE [--json]        norm gamma statistics per layer (records if BITNET_RESCALE_GAMMA_ON_LOAD=1)
  export FILE OUT            write FILE with the experimental gamma rescale if BITNET_RESCALE_GAMMA_ON_LOAD=1
  run FILE --prompt P [--max-tokens N] [--greedy | --temp T --top-k K --top-p P --seed S] [--chat] [--isa avx2|avx512] [--score] [--ab] [--threads N] [--json]
                             generate text (BITNET_RESCALE_GAMMA_ON_LOAD=1: rescaled norm gammas)
  tokenize FILE TEXT [--json] [--decode]  token ids of TEXT (or --decode: ids to text)
  bench FILE [--threads N] [--passes N] [--json]
                             GB/s of the projections, the head and a read of the file
";

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns a closed pipe (`bitlens inspect F | head`) into a panic
    // in print!; the default action ends the process quietly instead.
    // SAFETY: called first thing, before any other thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Warnings show by default; RUST_LOG=info shows the rescale's per-tensor lines.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "inspect" => inspect::main(rest),
        "stats" => stats::main(rest),
        "export" => export::main(rest),
        "tokenize" => tokenize::main(rest),
        "run" => run::main(rest),
        "bench" => bench::main(rest),
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
