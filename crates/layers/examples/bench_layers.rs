//! Per-action overhead of realization + regulation with an N-rule harness,
//! measured over the real gold actions of tau2 retail (real history, real
//! state lookups). Prints p50 and p99 as JSON.
//!
//! `cargo run --release -p lifeharness-layers --example bench_layers -- [RULES] [ROUNDS]`

use std::sync::Arc;

// The same allocator as the `lifeharness` binary, so the figures match what runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

use anyhow::{Context, Result};
use lifeharness_core::{
    Action, EpisodeSetup, EpisodeView, HistoryEntry, Layer, LayerEvent, ModelTurn,
};
use lifeharness_env_tau2::task::Tau2Task;
use lifeharness_env_tau2::{Tau2Factory, UserMode, gold_actions, to_actions};
use lifeharness_layers::{ContractLayer, RealizationLayer, RegulationLayer};
use lifeharness_rules::Harness;
use serde_json::json;

/// A synthetic retail harness with `n` executable rules of every kind.
fn synthetic_harness(n: usize) -> String {
    let mut out = String::from("format_version = 1\nname = \"bench\"\norigin = \"synthetic\"\n");
    let tools = [
        "get_order_details",
        "get_user_details",
        "get_product_details",
        "cancel_pending_order",
        "modify_pending_order_items",
        "exchange_delivered_order_items",
        "return_delivered_order_items",
    ];
    for i in 0..n {
        let tool = tools[i % tools.len()];
        match i % 4 {
            0 => out.push_str(&format!(
                "[[contract.constraints]]\nid = \"c{i}\"\ntool = \"{tool}\"\narg = \"order_id\"\npattern = \"^#W[0-9]+$\"\n"
            )),
            1 => out.push_str(&format!(
                "[[contract.ordering]]\nid = \"o{i}\"\ntools = [\"{tool}\"]\nafter = [\"find_user_id_by_email\", \"find_user_id_by_name_zip\", \"get_user_details\", \"get_order_details\", \"get_product_details\", \"list_all_product_types\", \"cancel_pending_order\", \"modify_pending_order_items\", \"exchange_delivered_order_items\", \"return_delivered_order_items\", \"modify_pending_order_address\", \"modify_pending_order_payment\", \"modify_user_address\", \"find_user_id_by_name_zip\", \"calculate\", \"transfer_to_human_agents\"]\n"
            )),
            2 => out.push_str(&format!(
                "[[realization.rules]]\nid = \"p{i}\"\ntools = [\"{tool}\"]\nbind = {{ order = \"orders/{{args.order_id}}\" }}\nwhen = \"'order_id' in args\"\nrequire = \"order == null || order.status != 'nonexistent-{i}'\"\nmessage = \"order {{args.order_id}} is {{order.status}}\"\n"
            )),
            _ => out.push_str(&format!(
                "[[regulation.annotations]]\nid = \"a{i}\"\ntools = [\"{tool}\"]\nwhen = \"ok && type(result) == map && 'status' in result\"\nnote = \"status is {{result.status}}\"\n"
            )),
        }
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct BenchArgs {
    rules: usize,
    rounds: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut argv = std::env::args().skip(1);
    let rules = match argv.next() {
        Some(s) => s.parse().context("RULES must be a number")?,
        None => 50,
    };
    let rounds = match argv.next() {
        Some(s) => s.parse().context("ROUNDS must be a number")?,
        None => 3,
    };
    let args = BenchArgs { rules, rounds };
    let text = synthetic_harness(args.rules);
    let compiled = Arc::new(Harness::compile_toml(&text, "synthetic")?);
    let realization = RealizationLayer::new(Arc::clone(&compiled));
    let regulation = RegulationLayer::new(Arc::clone(&compiled));
    let factory = Tau2Factory::retail(UserMode::Ticket)?;
    let tasks = factory.split_tasks("train")?;
    let mut samples = Vec::new();
    let mut cpu_samples = Vec::new();
    let mut blocked = 0usize;
    let mut by_tool: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for round in 0..args.rounds {
        for task in &tasks {
            let parsed: Tau2Task =
                serde_json::from_value(task.data.clone()).context("tau2 task")?;
            let actions = to_actions(&gold_actions(&parsed));
            let mut env = lifeharness_core::EnvironmentFactory::create(&factory)?;
            env.reset(task, 0).await?;
            let mut setup = EpisodeSetup {
                task: task.clone(),
                system_text: String::new(),
                tools: env.tools(),
            };
            ContractLayer::new(Arc::clone(&compiled))
                .before_episode(&mut setup)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut history: Vec<HistoryEntry> = Vec::new();
            let events: Vec<LayerEvent> = Vec::new();
            for (step, action) in actions.into_iter().enumerate() {
                let outcome = env.step(&action).await?;
                let view = EpisodeView {
                    task,
                    tools: &setup.tools,
                    history: &history,
                    events: &events,
                    step,
                    max_steps: 30,
                    state: env.state(),
                    state_version: env.state_version(),
                    admissible: None,
                };
                let started = Instant::now();
                let cpu_started = cpu_time::ThreadTime::now();
                let verdict = realization
                    .after_turn(&view, &ModelTurn::default(), &action)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let feedback = regulation
                    .after_observation(&view, &action, &outcome.observation)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let micros = started.elapsed().as_secs_f64() * 1e6;
                let cpu_micros = cpu_started.elapsed().as_secs_f64() * 1e6;
                if round > 0 || args.rounds == 1 {
                    samples.push(micros);
                    cpu_samples.push(cpu_micros);
                    let name = match &action {
                        Action::ToolCall(call) => call.name.clone(),
                        _ => "(message)".to_string(),
                    };
                    by_tool.entry(name).or_default().push(cpu_micros);
                }
                if matches!(verdict, lifeharness_core::ActionVerdict::Block { .. }) {
                    blocked += 1;
                }
                std::hint::black_box(feedback);
                history.push(HistoryEntry {
                    step,
                    action: action.clone(),
                    observation: Some(outcome.observation),
                    state_version: env.state_version(),
                });
                let _ = matches!(action, Action::Finish { .. });
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    cpu_samples.sort_by(f64::total_cmp);
    let per_tool: serde_json::Map<String, serde_json::Value> = by_tool
        .into_iter()
        .map(|(name, mut times)| {
            times.sort_by(f64::total_cmp);
            let summary = json!({"n": times.len(), "cpu_p50_us": percentile(&times, 0.5), "cpu_p99_us": percentile(&times, 0.99)});
            (name, summary)
        })
        .collect();
    let report = json!({
        "what": "realization + regulation per action, tau2-retail train gold actions",
        "rules": compiled.rule_count(),
        "actions_measured": samples.len(),
        "rounds": args.rounds,
        "p50_us": percentile(&samples, 0.5),
        "p90_us": percentile(&samples, 0.9),
        "p99_us": percentile(&samples, 0.99),
        "max_us": samples.last().copied().unwrap_or(0.0),
        "cpu_p50_us": percentile(&cpu_samples, 0.5),
        "cpu_p99_us": percentile(&cpu_samples, 0.99),
        "note": "p*_us are wall-clock; cpu_* count only this thread's CPU time, which machine load (preemption) does not inflate",
        "goal_p50_us": 20.0,
        "blocked": blocked,
        "build": if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" },
        "state_lookups": "tau2 StateView when the environment offers it",
        "per_tool": per_tool,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
