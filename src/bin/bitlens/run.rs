//! `bitlens run FILE --prompt P [--max-tokens N] [--greedy | --temp T --top-k K --top-p P
//! --seed S] [--repeat-penalty R] [--ctx N] [--chat] [--system S] [--isa avx2|avx512] [--score]
//! [--json]`: generate text. `--score` also scores the prompt (each token's negative
//! log-likelihood given the ones before; mean and perplexity), which costs one head product per
//! prompt token. `--isa` picks which x86 build of the reference engines to mirror bit for bit
//! (ggml rounds differently on AVX2 and AVX-512); the default is AVX2.
//!
//! Honors `BITNET_RESCALE_GAMMA_ON_LOAD` / `BITNET_STRICT_MODE` through the norms module (the
//! norm gammas used are the file's, or rescaled by sqrt(n)). Text streams to stdout; the memory
//! plan, seed and timings go to stderr. `--json` prints one object instead: prompt ids,
//! generated ids, text, seed, stop reason and timings.

use std::io::Write;

use bitlens::gguf::Gguf;
use bitlens::model::{Generator, Isa, Model, Norms, SamplerConfig};
use bitlens::norms::RescalePolicy;
use bitlens::tokenizer::{format_chat, ChatMessage, Tokenizer};

const USAGE: &str = "usage: bitlens run FILE --prompt P [--max-tokens N] [--greedy | --temp T --top-k K --top-p P --seed S] [--repeat-penalty R] [--ctx N] [--chat] [--system S] [--isa avx2|avx512] [--score] [--json]";

struct Args {
    path: String,
    prompt: String,
    system: Option<String>,
    max_tokens: usize,
    ctx: Option<usize>,
    chat: bool,
    json: bool,
    score: bool,
    isa: Isa,
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
        isa: Isa::Avx2,
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
    let tok = Tokenizer::from_gguf(&g).map_err(|e| format!("{path}: {e}"))?;

    let policy = RescalePolicy::from_env();
    let (norms, records) = Norms::load_with_policy(&g, &file, &model.config, &policy)
        .map_err(|e| format!("{path}: {e}"))?;
    let n_ctx = model.context_len(a.ctx).map_err(|e| e.to_string())?;
    let plan = model.memory_plan(n_ctx);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "bitlens: {} ({}), context {n_ctx}: KV cache {:.1} MiB + activations {:.1} MiB; norms: {} ({} corrected)",
        model.config.arch_name,
        match model.engine {
            bitlens::model::Engine::BitnetCpp => "bitnet.cpp numerics",
            bitlens::model::Engine::LlamaCpp => "llama.cpp numerics",
        },
        mib(plan.kv_cache),
        mib(plan.activations),
        policy.outcome().label(),
        records.len(),
    );

    let text = if a.chat {
        let mut msgs = Vec::new();
        if let Some(s) = &a.system {
            msgs.push(ChatMessage::new("system", s));
        }
        msgs.push(ChatMessage::new("user", &a.prompt));
        format_chat(&msgs, true)
    } else {
        a.prompt.clone()
    };
    let prompt_ids = tok.encode(&text, true, true);
    if prompt_ids.is_empty() {
        return Err("the prompt has no tokens".into());
    }

    let mut gen = Generator::new(&model, norms, n_ctx, a.sampler.clone(), a.max_tokens)
        .map_err(|e| e.to_string())?;
    gen.stop_tokens = tok.eog_ids().to_vec();
    gen.score_prompt = a.score;
    gen.prefill(&model, &file, &prompt_ids)
        .map_err(|e| e.to_string())?;
    let mut dec = tok.stream_decoder(false);
    let mut out_text = String::new();
    let mut ids = Vec::new();
    let stdout = std::io::stdout();
    for step in gen.tokens_iter(&model, &file) {
        let step = step.map_err(|e| e.to_string())?;
        ids.push(step.token);
        if tok.is_eog(step.token) {
            continue;
        }
        let piece = dec.push(&tok, step.token).map_err(|e| e.to_string())?;
        if !a.json {
            let mut lock = stdout.lock();
            let _ = lock.write_all(piece.as_bytes());
            let _ = lock.flush();
        }
        out_text.push_str(&piece);
    }
    let tail = dec.flush();
    out_text.push_str(&tail);
    let t = gen.timings;
    if a.json {
        let v = serde_json::json!({
            "file": path,
            "arch": model.config.arch_name,
            "rescale": policy.outcome().label(),
            "prompt": text,
            "prompt_ids": prompt_ids,
            "generated_ids": ids,
            "text": out_text,
            "seed": gen.sampler.seed,
            "sampler": gen.sampler.config,
            "stop_reason": gen.stopped,
            "prompt_score": gen.prompt_score.summary(),
            "n_ctx": n_ctx,
            "memory": plan,
            "timings": {
                "prefill_tokens": t.prefill_tokens,
                "prefill_ms": t.prefill_ms,
                "prefill_tokens_per_s": t.prefill_tokens_per_s(),
                "decode_tokens": t.decode_tokens,
                "decode_ms": t.decode_ms,
                "decode_tokens_per_s": t.decode_tokens_per_s(),
            },
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    } else {
        println!("{tail}");
        if let Some(sc) = gen.prompt_score.summary() {
            eprintln!(
                "bitlens: prompt score: mean NLL {:.4} nats/token over {} tokens, perplexity {}",
                sc.mean_nll,
                sc.tokens,
                if sc.perplexity < 1e6 {
                    format!("{:.3}", sc.perplexity)
                } else {
                    format!("{:.3e}", sc.perplexity)
                }
            );
        }
        eprintln!(
            "bitlens: seed {}; prefill {} tokens in {:.0} ms ({:.1} t/s); decode {} tokens in {:.0} ms ({:.2} t/s); stop: {:?}",
            gen.sampler.seed,
            t.prefill_tokens,
            t.prefill_ms,
            t.prefill_tokens_per_s(),
            t.decode_tokens,
            t.decode_ms,
            t.decode_tokens_per_s(),
            gen.stopped,
        );
    }
    Ok(())
}
