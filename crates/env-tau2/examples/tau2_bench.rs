//! Prints the speed figures (medians, ms) and resident memory per episode
//! with 1,000 concurrent episodes, for retail and airline, next to the
//! original's: a table, then the JSON.
//!
//! The original is measured in the same run when `TAU2_PYTHON` names an
//! interpreter that can `import tau2` (it runs `tools/bench_original.py`,
//! about 30 s); otherwise the table shows the reference figures,
//! labelled as such.
//!
//! Run: `TAU2_PYTHON=/tmp/tau2venv/bin/python cargo run --release -p lifeharness-env-tau2 --example tau2_bench`.

use std::path::Path;

// The same allocator as the `lifeharness` binary, so the figures match what runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lifeharness_env_tau2::bench::{
    compare, comparison_table, measure, memory_per_episode, python_figures, reference,
};
use lifeharness_env_tau2::{Tau2Factory, UserMode};

fn main() {
    let mut ours = Vec::new();
    let mut out = serde_json::Map::new();
    for name in ["tau2-retail", "tau2-airline"] {
        let Ok(factory) = Tau2Factory::by_name(name, UserMode::Ticket) else {
            continue;
        };
        let figures = measure(&factory, 5);
        let memory = memory_per_episode(&factory, 1000);
        out.insert(
            name.to_string(),
            serde_json::json!({"figures": figures, "rss_bytes_per_episode_1000_concurrent": memory}),
        );
        ours.push(figures);
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bench_original.py");
    let measured = match std::env::var_os("TAU2_PYTHON") {
        Some(python) => python_figures(Path::new(&python), &script, 1).map_err(|e| {
            eprintln!("not measuring the original: {e}");
        }),
        None => Err(()),
    };
    let (source, python): (&str, Vec<_>) = match &measured {
        Ok(figures) => (
            "measured in this run (tools/bench_original.py)",
            figures.clone(),
        ),
        Err(()) => (
            "REFERENCE figures from the issue, NOT measured in this run (set TAU2_PYTHON to measure)",
            ours.iter()
                .filter_map(|f| reference(&f.environment).map(|r| (f.environment.clone(), r)))
                .collect(),
        ),
    };
    let rows: Vec<_> = ours
        .iter()
        .filter_map(|f| {
            let (_, p) = python.iter().find(|(name, _)| *name == f.environment)?;
            Some(compare(f, p))
        })
        .flatten()
        .collect();
    print!("{}", comparison_table(&rows, source));
    out.insert(
        "python".to_string(),
        serde_json::json!({
            "source": if measured.is_ok() { "measured" } else { "reference" },
            "figures": python
                .iter()
                .map(|(name, f)| (name.clone(), serde_json::json!(f)))
                .collect::<serde_json::Map<_, _>>(),
        }),
    );
    out.insert("comparison".to_string(), serde_json::json!(rows));
    println!("{}", serde_json::Value::Object(out));
}
