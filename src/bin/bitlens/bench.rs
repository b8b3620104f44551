//! `bitlens bench FILE [--threads N] [--passes N] [--json]`: the kernel figures `npm run bench`
//! prints beside the page's: one pass of every layer's projections, one head product and a
//! bandwidth probe over the file's bytes, on the file's real tensors (fastest of the passes).
//! Prefill and decode speed come from `bitlens run ... --json`.

use bitlens::bench::{kernels, KernelReport, Timed};
use bitlens::gguf::Gguf;
use bitlens::model::generator::default_clock;
use bitlens::model::Model;

const USAGE: &str = "usage: bitlens bench FILE [--threads N] [--passes N] [--json]";

pub fn main(args: &[String]) -> Result<(), String> {
    let mut path = None;
    let (mut threads, mut passes, mut json) = (1usize, 3usize, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("{name} needs a whole number of at least 1\n{USAGE}"))
        };
        match arg.as_str() {
            "--threads" => threads = num("--threads")?,
            "--passes" => passes = num("--passes")?,
            "--json" => json = true,
            s if s.starts_with('-') || path.is_some() => {
                return Err(format!("unexpected argument {s:?}\n{USAGE}"))
            }
            s => path = Some(s.to_string()),
        }
    }
    let path = path.ok_or_else(|| USAGE.to_string())?;
    let file = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let g = Gguf::parse(&file).map_err(|e| format!("{path}: {e}"))?;
    let mut model = Model::load(&g, &file).map_err(|e| format!("{path}: {e}"))?;
    model.threads = threads;
    let r = kernels(&model, &file, passes, default_clock);
    if json {
        let text = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print(&r);
    }
    Ok(())
}

fn print(r: &KernelReport) {
    let line = |name: &str, t: &Timed| {
        println!(
            "{name:<12} {:>8.1} MB {:>9.1} ms {:>6.2} GB/s",
            t.bytes / 1e6,
            t.ms,
            t.gb_per_s
        )
    };
    println!(
        "fastest of {} passes, products on {} thread(s), probe on 1",
        r.passes, r.threads
    );
    line("projections", &r.projections);
    line("head", &r.head);
    line("probe", &r.probe);
}
