//! The harness side of an evolution round: replaying training episodes and
//! reference solutions with state, counterfactual exploration, mining,
//! the offline gate's audits and the runtime's own work in the re-runs,
//! measured with a SIMULATED agent whose turns cost nothing, so the round's
//! wall time is the harness side alone. tau2-bench retail, train split
//! (74 tasks), one trial, up to two rounds.
//!
//! It prints seconds per round and per re-run episode, and the share of a
//! round the harness side would be if each model turn took `--turn-ms`
//! milliseconds (the measured share of real runs is in each ledger's
//! "Time:" line).
//!
//! `cargo bench -p lifeharness-evolve --bench round [-- --turn-ms 1000]`

use std::sync::Arc;
use std::time::Instant;

use lifeharness_core::{EnvironmentFactory, Model};
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use lifeharness_evolve::sim::{FaultRates, FaultyAgent, ScriptedTask};
use lifeharness_evolve::{EvolveConfig, Inputs, LocalEvaluator, evolve};
use lifeharness_rules::Harness;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let turn_ms: f64 = args
        .iter()
        .position(|a| a == "--turn-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let factory: Arc<dyn EnvironmentFactory> =
            Arc::new(Tau2Factory::by_name("tau2-retail", UserMode::Ticket)?);
        let tasks = ScriptedTask::all(factory.as_ref())?;
        let agent: Arc<dyn Model> = Arc::new(FaultyAgent::new(
            tasks,
            FaultRates::default(),
            1,
            "Done. ###STOP###",
        ));
        let evaluator = LocalEvaluator {
            model: agent,
            factory: Arc::clone(&factory),
            seed: 0,
            concurrency: 2,
            max_steps: Some(25),
        };
        let started = Instant::now();
        let outcome = evolve(
            EvolveConfig {
                id: "bench".into(),
                split: "train".into(),
                rounds: 2,
                trials: 1,
                offline: false,
                counterfactuals: 2,
                sentinels: 5,
                void_share: 0.5,
                source_model: "simulated".into(),
                task_ids: Vec::new(),
            },
            Inputs {
                factory: factory.as_ref(),
                parent: Harness::null(),
                episodes: Vec::new(),
                evaluator: Some(&evaluator),
                proposer: None,
                checkpoint: &|_| Ok(()),
                progress: &|_| {},
            },
        )
        .await?;
        let total = started.elapsed().as_secs_f64();
        println!("SIMULATED agent (instant turns), tau2-retail train (74 tasks), 1 trial");
        println!("evolution: {total:.2} s for {} round(s)", outcome.ledger.rounds.len());
        for r in &outcome.ledger.rounds {
            let episodes: usize = r
                .groups
                .iter()
                .map(|g| {
                    g.targeted.as_ref().map_or(0, |(a, _)| a.episodes)
                        + g.full.as_ref().map_or(0, |f| f.episodes)
                })
                .sum();
            // Model turns the re-runs made: about 10 per tau2 episode here.
            let turns = episodes as f64 * 10.0;
            let model = turns * turn_ms / 1000.0;
            println!(
                "round {}: harness side {:.2} s ({} candidates gated, {} re-run episodes, {:.1} ms per re-run episode); at {turn_ms:.0} ms per model turn the harness side would be {:.2}% of the round",
                r.round,
                r.harness_seconds,
                r.candidates.len(),
                episodes,
                if episodes > 0 { 1000.0 * r.harness_seconds / episodes as f64 } else { 0.0 },
                100.0 * r.harness_seconds / (r.harness_seconds + model)
            );
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
