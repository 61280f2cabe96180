//! One cold greedy completion of a prompt file through the embedded backend,
//! as `scripts/bench-llamacpp.sh` runs it next to llama.cpp's own
//! `llama-completion` on the same GGUF file and prompt: prints one JSON line
//! with prompt and generation tokens/s and peak RSS.
//!
//! ```text
//! cargo run --release -p lifeharness-models --example bench_raw -- SPEC PROMPT_FILE N_PREDICT
//! ```
//! SPEC is `embedded:NAME` or `gguf:/path.gguf` (options such as `?threads=2`
//! apply); N_PREDICT tokens are generated past end-of-generation tokens, like
//! llama.cpp's `--ignore-eos`.

use std::error::Error;

use lifeharness_models::EmbeddedModel;
use lifeharness_models::pull::{PullOptions, pull};
use lifeharness_models::spec::ModelSpec;
use serde_json::json;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_raw SPEC PROMPT_FILE N_PREDICT";
    let spec = args.next().ok_or(usage)?;
    let prompt_file = args.next().ok_or(usage)?;
    let n_predict: u32 = args
        .next()
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("N_PREDICT: {e}"))?;
    let text = std::fs::read_to_string(&prompt_file)
        .map_err(|e| format!("cannot read {prompt_file}: {e}"))?;
    let (path, config) = match ModelSpec::parse(&spec)? {
        ModelSpec::Embedded { name, config } => {
            (pull(&name, &PullOptions::default()).await?, config)
        }
        ModelSpec::Gguf { path, config } => (path, config),
        _ => return Err("bench_raw needs an embedded: or gguf: spec".into()),
    };
    let load_spec = spec.clone();
    let model = tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, config, load_spec))
        .await??;
    let (_, stats) = model.complete_raw("bench", &text, n_predict, true).await?;
    let per_s = |n: usize, ms: f64| n as f64 / (ms / 1000.0).max(1e-9);
    println!(
        "{}",
        json!({
            "spec": spec,
            "prompt_tokens": stats.evaluated_tokens,
            "prompt_ms": stats.prompt_ms,
            "prompt_tok_s": per_s(stats.evaluated_tokens, stats.prompt_ms),
            "generated_tokens": stats.generated_tokens,
            "generate_ms": stats.generate_ms,
            "gen_tok_s": per_s(stats.generated_tokens, stats.generate_ms),
            "peak_rss_mib": peak_rss_mib(),
        })
    );
    Ok(())
}
