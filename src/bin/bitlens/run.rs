//! `bitlens run FILE --prompt P [--max-tokens N] [--greedy | --temp T --top-k K --top-p P
//! --seed S] [--repeat-penalty R] [--ctx N] [--chat] [--system S] [--isa avx2|avx512] [--score]
//! [--ab] [--threads N] [--json]`: generate text. `--score` also scores the prompt (each token's negative
//! log-likelihood given the ones before; mean and perplexity), which costs one head product per
//! prompt token. `--isa` picks which x86 build of the reference engines to mirror bit for bit
//! (ggml rounds differently on AVX2 and AVX-512); the default is AVX2.
//! `--ab` runs the gammas as stored and rescaled by sqrt(n) from one load, together (both modes'
//! tokens go through each weight product as one batch) with the same prompt and seed, each with
//! its prompt perplexity and per-layer activation RMS, then says which predicts the prompt
//! better (strict mode: baseline only). `--ctx` may exceed the file's context length (with a
//! warning, as llama.cpp does); the bound is memory (`MAX_STATE_BYTES`).
//! `--threads N` splits the rows of each large matrix-vector product across N threads (default:
//! the machine's available parallelism); rows are independent, so the output is the same for
//! any N.
//!
//! Honors `BITNET_RESCALE_GAMMA_ON_LOAD` / `BITNET_STRICT_MODE` through the norms module (the
//! norm gammas used are the file's, or rescaled by sqrt(n)). Text streams to stdout; the memory
//! plan, seed and timings go to stderr. `--json` prints one object instead: prompt ids,
//! generated ids, text, seed, stop reason and timings.

use std::io::Write;

use bitlens::gguf::Gguf;
use bitlens::model::{AbMode, AbPair, GenConfig, Generator, Isa, Model, Norms, SamplerConfig};
use bitlens::norms::{RescaleOutcome, RescalePolicy};
use bitlens::tokenizer::{ChatMessage, StreamDecoder, Tokenizer};

const USAGE: &str = "usage: bitlens run FILE --prompt P [--max-tokens N] [--greedy | --temp T --top-k K --top-p P --seed S] [--repeat-penalty R] [--ctx N] [--chat] [--system S] [--isa avx2|avx512] [--score] [--ab] [--threads N] [--json]";

struct Args {
    path: String,
    prompt: String,
    system: Option<String>,
    max_tokens: usize,
    ctx: Option<usize>,
    chat: bool,
    json: bool,
    score: bool,
    ab: bool,
    isa: Isa,
    threads: usize,
    sampler: SamplerConfig,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut path = None;
    let mut prompt = None;
    let mut out = Args {
        path: String::new(),
        prompt: String::new(),
        system: None,
        max_tokens: 128,
        ctx: None,
        chat: false,
        json: false,
        score: false,
        ab: false,
        isa: Isa::Avx2,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        sampler: SamplerConfig::default(),
    };
    let mut greedy = false;
    let mut sampling_flag = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}: not a valid number: {v:?}"))
        }
        match a.as_str() {
            "--prompt" | "-p" => prompt = Some(value("--prompt")?),
            "--system" => out.system = Some(value("--system")?),
            "--max-tokens" | "-n" => out.max_tokens = num("--max-tokens", value("--max-tokens")?)?,
            "--ctx" => out.ctx = Some(num("--ctx", value("--ctx")?)?),
            "--greedy" => greedy = true,
            "--temp" => {
                out.sampler.temperature = num("--temp", value("--temp")?)?;
                sampling_flag = true;
            }
            "--top-k" => {
                out.sampler.top_k = num("--top-k", value("--top-k")?)?;
                sampling_flag = true;
            }
            "--top-p" => {
                out.sampler.top_p = num("--top-p", value("--top-p")?)?;
                sampling_flag = true;
            }
            "--seed" => {
                out.sampler.seed = Some(num("--seed", value("--seed")?)?);
                sampling_flag = true;
            }
            "--repeat-penalty" => {
                out.sampler.repeat_penalty = num("--repeat-penalty", value("--repeat-penalty")?)?
            }
            "--chat" => out.chat = true,
            "--json" => out.json = true,
            "--score" => out.score = true,
            "--ab" => out.ab = true,
            "--threads" => {
                out.threads = num("--threads", value("--threads")?)?;
                if out.threads == 0 {
                    return Err(format!("--threads must be at least 1\n{USAGE}"));
                }
            }
            "--isa" => out.isa = Isa::from_name(&value("--isa")?).map_err(|e| format!("--{e}"))?,
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            s if path.is_none() => path = Some(s.to_string()),
            s => return Err(format!("unexpected argument {s:?}\n{USAGE}")),
        }
    }
    if greedy && sampling_flag {
        return Err(format!(
            "--greedy excludes --temp/--top-k/--top-p/--seed\n{USAGE}"
        ));
    }
    if greedy {
        let penalty = out.sampler.repeat_penalty;
        out.sampler = SamplerConfig::greedy();
        out.sampler.repeat_penalty = penalty;
    }
    out.path = path.ok_or_else(|| USAGE.to_string())?;
    out.prompt = prompt.ok_or_else(|| format!("--prompt is required\n{USAGE}"))?;
    Ok(out)
}

pub fn main(args: &[String]) -> Result<(), String> {
    let a = parse_args(args)?;
    let path = &a.path;
    let file = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let g = Gguf::parse(&file).map_err(|e| format!("{path}: {e}"))?;
    let mut model = Model::load(&g, &file).map_err(|e| format!("{path}: {e}"))?;
    model.isa = a.isa;
    model.threads = a.threads;
    let tok = Tokenizer::from_gguf(&g).map_err(|e| format!("{path}: {e}"))?;

    // The environment decides the rescale; `--ab` asks for it (strict mode still refuses it).
    let mut policy = RescalePolicy::from_vars(|k| std::env::var(k).ok());
    if a.ab {
        policy.rescale = true;
        policy.source = "--ab".into();
    }
    policy.log_decision();
    let mut cfg = GenConfig::new(&model, &tok, a.ctx, a.sampler.clone(), a.max_tokens)
        .map_err(|e| e.to_string())?;
    cfg.score_prompt = a.score || a.ab;
    let n_ctx = cfg.n_ctx;
    let text = if a.chat {
        let mut msgs = Vec::new();
        if let Some(s) = &a.system {
            msgs.push(ChatMessage::new("system", s));
        }
        msgs.push(ChatMessage::new("user", &a.prompt));
        eprintln!("bitlens: chat template: {}", tok.chat.name());
        tok.chat.format(&msgs, true)
    } else {
        a.prompt.clone()
    };
    let prompt_ids = tok.encode(&text, true, true);
    if prompt_ids.is_empty() {
        return Err("the prompt has no tokens".into());
    }
    let run = Run {
        a: &a,
        file: &file,
        model: &model,
        tok: &tok,
        n_ctx,
        prompt: &text,
        prompt_ids: &prompt_ids,
    };
    if a.ab {
        return run.ab(&g, &policy, &cfg);
    }

    let (norms, records) = Norms::load_with_policy(&g, &file, &model.config, &policy)
        .map_err(|e| format!("{path}: {e}"))?;
    run.report_memory(&format!(
        "norms: {} ({} corrected)",
        policy.outcome().label(),
        records.len()
    ));
    let mut gen = Generator::with_config(&model, norms, &cfg).map_err(|e| e.to_string())?;
    gen.prefill(&model, &file, &prompt_ids)
        .map_err(|e| e.to_string())?;
    let mut out = Output::new(&tok);
    for step in gen.tokens_iter(&model, &file) {
        let step = step.map_err(|e| e.to_string())?;
        let piece = out.push(&tok, step.token)?;
        if !a.json {
            let mut lock = std::io::stdout().lock();
            let _ = lock.write_all(piece.as_bytes());
            let _ = lock.flush();
        }
    }
    let tail = out.finish();
    if a.json {
        let mut v = serde_json::json!({
            "file": path,
            "arch": model.config.arch_name,
            "rescale": policy.outcome().label(),
            "prompt": text,
            "prompt_ids": prompt_ids,
            "seed": gen.sampler.seed,
            "sampler": gen.sampler.config,
            "n_ctx": n_ctx,
            "memory": model.memory_plan(n_ctx),
        });
        merge(&mut v, mode_json(&gen, &out));
        print_json(&v)
    } else {
        println!("{tail}");
        report_mode(None, &gen);
        Ok(())
    }
}

/// What one mode generated.
struct Output {
    ids: Vec<u32>,
    text: String,
    dec: StreamDecoder,
}

impl Output {
    fn new(tok: &Tokenizer) -> Output {
        Output {
            ids: Vec::new(),
            text: String::new(),
            dec: tok.stream_decoder(false),
        }
    }

    /// Records a generated token; returns the text it completes (none for a stop token).
    fn push(&mut self, tok: &Tokenizer, token: u32) -> Result<String, String> {
        self.ids.push(token);
        if tok.is_eog(token) {
            return Ok(String::new());
        }
        let piece = self.dec.push(tok, token).map_err(|e| e.to_string())?;
        self.text.push_str(&piece);
        Ok(piece)
    }

    /// The text held back at the end (a character split over tokens); returns it.
    fn finish(&mut self) -> String {
        let tail = self.dec.flush();
        self.text.push_str(&tail);
        tail
    }
}

/// The inputs shared by every mode of one invocation.
struct Run<'a> {
    a: &'a Args,
    file: &'a [u8],
    model: &'a Model,
    tok: &'a Tokenizer,
    n_ctx: usize,
    prompt: &'a str,
    prompt_ids: &'a [u32],
}

impl Run<'_> {
    /// The memory plan of one mode (each mode has its own KV cache and activations).
    fn report_memory(&self, norms: &str) {
        let m = self.model;
        let plan = m.memory_plan(self.n_ctx);
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        eprintln!(
            "bitlens: {} ({}), {} thread{}, context {}: KV cache {:.1} MiB + activations {:.1} MiB per mode; {norms}",
            m.config.arch_name,
            match m.engine {
                bitlens::model::Engine::BitnetCpp => "bitnet.cpp numerics",
                bitlens::model::Engine::LlamaCpp => "llama.cpp numerics",
            },
            m.threads,
            if m.threads == 1 { "" } else { "s" },
            self.n_ctx,
            mib(plan.kv_cache),
            mib(plan.activations),
        );
    }

    /// `--ab`: the gammas as stored and rescaled by sqrt(n) from the same prompt and seed on one
    /// loaded file, stepped together (a token of each per pass over the weights), each with its
    /// prompt perplexity and per-layer activation RMS; then which one predicts the prompt
    /// better. Strict mode refuses the rescaled mode (only the baseline runs).
    fn ab(&self, g: &Gguf, policy: &RescalePolicy, cfg: &GenConfig) -> Result<(), String> {
        let (a, model, file, tok) = (self.a, self.model, self.file, self.tok);
        let mut pair =
            AbPair::new(g, file, model, cfg, policy).map_err(|e| format!("{}: {e}", a.path))?;
        let refused = match &pair.rescale {
            RescaleOutcome::RefusedByStrict { reason } => Some(reason.clone()),
            _ => None,
        };
        let seed = pair.baseline.sampler.seed;
        self.report_memory(&match refused {
            None => format!(
                "A/B: baseline and rescaled ({} norm tensors rescaled)",
                pair.records.len()
            ),
            Some(_) => "A/B: strict mode refuses the rescaled mode; baseline only".into(),
        });
        pair.prefill(model, file, self.prompt_ids)
            .map_err(|e| e.to_string())?;
        let mut outs = AbMode::ALL.map(|_| Output::new(tok));
        loop {
            let mut any = false;
            for (mode, out) in AbMode::ALL.into_iter().zip(outs.iter_mut()) {
                if let Some(step) = pair
                    .next_token(model, file, mode)
                    .map_err(|e| e.to_string())?
                {
                    out.push(tok, step.token)?;
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        let mut results = serde_json::Map::new();
        for ((mode, gen), out) in pair.modes().zip(outs.iter_mut()) {
            out.finish();
            let name = mode.name();
            if !a.json {
                println!("== {name}: {}", mode_title(name));
                println!("{}", out.text);
                report_mode(Some(name), gen);
                print_probe(gen);
            }
            results.insert(name.to_string(), mode_json(gen, out));
        }
        let score = |mode| pair.get(mode).and_then(|g| g.prompt_score.perplexity());
        let verdict = verdict(score(AbMode::Baseline), score(AbMode::Rescaled));
        if a.json {
            let v = serde_json::json!({
                "file": a.path,
                "arch": model.config.arch_name,
                "prompt": self.prompt,
                "prompt_ids": self.prompt_ids,
                "seed": seed,
                "sampler": a.sampler,
                "n_ctx": self.n_ctx,
                "memory": model.memory_plan(self.n_ctx),
                "rescale_records": pair.records,
                "rescaled_refused": refused,
                "modes": results,
                "verdict": verdict,
            });
            print_json(&v)
        } else {
            if let Some(r) = refused {
                eprintln!("bitlens: rescaled: {r}");
            }
            if let Some(v) = verdict {
                println!("{v}");
            }
            Ok(())
        }
    }
}

fn mode_title(name: &str) -> &'static str {
    match name {
        "baseline" => "gammas as stored",
        _ => "gammas x sqrt(n), experimental",
    }
}

/// Which gammas predict the prompt better, when both were scored.
fn verdict(baseline: Option<f64>, rescaled: Option<f64>) -> Option<String> {
    let (b, r) = (baseline?, rescaled?);
    let better = if b <= r {
        "the gammas as stored"
    } else {
        "the rescaled gammas"
    };
    Some(format!(
        "On this prompt {better} predict the text better: perplexity {} (baseline) vs {} (rescaled).",
        fmt_perplexity(b),
        fmt_perplexity(r)
    ))
}

fn fmt_perplexity(p: f64) -> String {
    if p < 1e6 {
        format!("{p:.3}")
    } else {
        format!("{p:.3e}")
    }
}

/// One mode's results: generated ids and text, stop reason, prompt score, timings, and the
/// activation probe of the last token.
fn mode_json(gen: &Generator, out: &Output) -> serde_json::Value {
    let t = gen.timings;
    serde_json::json!({
        "generated_ids": out.ids,
        "text": out.text,
        "stop_reason": gen.stopped,
        "prompt_score": gen.prompt_score.summary(),
        "probe": gen.state.probe,
        "timings": {
            "prefill_tokens": t.prefill_tokens,
            "prefill_ms": t.prefill_ms,
            "prefill_tokens_per_s": t.prefill_tokens_per_s(),
            "decode_tokens": t.decode_tokens,
            "decode_ms": t.decode_ms,
            "decode_tokens_per_s": t.decode_tokens_per_s(),
        },
    })
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

fn print_json(v: &serde_json::Value) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// Seed, timings and prompt score of a mode, on stderr.
fn report_mode(name: Option<&str>, gen: &Generator) {
    let t = gen.timings;
    let who = name.map(|n| format!("{n}: ")).unwrap_or_default();
    if let Some(sc) = gen.prompt_score.summary() {
        eprintln!(
            "bitlens: {who}prompt score: mean NLL {:.4} nats/token over {} tokens, perplexity {}",
            sc.mean_nll,
            sc.tokens,
            fmt_perplexity(sc.perplexity)
        );
    }
    eprintln!(
        "bitlens: {who}seed {}; {t}; stop: {:?}",
        gen.sampler.seed, gen.stopped,
    );
}

/// The activation RMS per layer at the last token, on stderr.
fn print_probe(gen: &Generator) {
    let p = &gen.state.probe;
    eprintln!("bitlens: activation RMS at the last token: layer, attn_norm out, residual after attention, residual after FFN");
    for (i, l) in p.layers.iter().enumerate() {
        eprintln!(
            "  {i:>3} {:>12.5} {:>12.5} {:>12.5}",
            l.attn_norm, l.resid_attn, l.resid_ffn
        );
    }
    eprintln!("  output_norm {:.5}", p.output_norm);
}
