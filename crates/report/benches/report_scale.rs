//! Report generation at scale: 100,000 stored tau2-retail episodes in 20
//! cells (2 models x 2 environments' worth of harness labels x 5), reported
//! on as a matrix is: every episode's facts (outcome, actions, tokens, time,
//! the diagnosed category of each failure), every cell's statistics
//! (Wilson intervals, pass^k, paired bootstrap against the null cell), and
//! the HTML, Markdown and JSON renderings.
//!
//! Two timings: cold (no episode has cached facts, as for imported
//! trajectories: each is read back whole and every failure diagnosed, then
//! the facts are cached) and warm (the facts are cached: `lifeharness run`
//! and `matrix` compute them when a run's episodes finish, and a report
//! caches what it computed). Target: warm under 10 s on the project's
//! 2-core machine; cold is printed beside it.
//!
//! The episodes are the tasks' reference solutions executed in the real
//! environment, a third of them spoiled (as in the diagnosis bench), copied
//! under many run and episode ids; they are written in one transaction
//! (not timed).
//!
//! `cargo bench -p lifeharness-report --bench report_scale [-- --episodes 100000]`

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use lifeharness_core::{
    Action, ActionRecord, EnvironmentFactory, EpisodeEnd, EpisodeHeader, ExitStatus, HarnessInfo,
    ModelInfo, ModelTurn, Reward, Step, TRAJECTORY_FORMAT, TRAJECTORY_VERSION, Task, ToolCall,
    Trajectory, Usage,
};
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use lifeharness_report::{CellSpec, FULL_VARIANT, NULL_HARNESS, build};
use lifeharness_store::Store;
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TARGET_SECONDS: f64 = 10.0;
const CELLS: usize = 20;

fn spoil(reference: &[Action], n: usize) -> Vec<Action> {
    let mut actions = reference.to_vec();
    match n % 6 {
        0 => actions.insert(
            0,
            Action::ToolCall(ToolCall::from_value(
                "x",
                "get_order_details",
                json!({"order_id": "#W0000000"}),
            )),
        ),
        1 => {
            if let Some(i) = actions.iter().rposition(|a| a.as_tool_call().is_some()) {
                actions.remove(i);
            }
        }
        2 => {
            for a in actions.iter_mut().rev() {
                if let Action::ToolCall(call) = a
                    && let Some(Value::Object(args)) = call.args().cloned()
                    && let Some((key, _)) = args.iter().find(|(_, v)| v.is_string())
                {
                    let mut args = args.clone();
                    args.insert(key.clone(), json!("changed"));
                    *a = Action::ToolCall(ToolCall::from_value(
                        &call.id,
                        &call.name,
                        Value::Object(args),
                    ));
                    break;
                }
            }
        }
        _ => {}
    }
    actions
}

async fn episode(
    factory: &Tau2Factory,
    task: &Task,
    reference: &[Action],
    n: usize,
) -> Result<Trajectory> {
    let mut env = factory.create()?;
    env.reset(task, 0).await?;
    let mut steps = Vec::new();
    for (index, action) in spoil(reference, n).into_iter().enumerate() {
        let outcome = env.step(&action).await?;
        let turn = match &action {
            Action::ToolCall(c) => ModelTurn::calls(vec![c.clone()]),
            Action::Message { content } => ModelTurn::text(content.clone()),
            Action::Finish { .. } => ModelTurn::default(),
        };
        steps.push(Step {
            index,
            turn: Some(turn),
            model_error: None,
            actions: vec![ActionRecord {
                proposed: action.clone(),
                executed: Some(action),
                observation: Some(outcome.observation),
                correction: None,
                done: outcome.done,
            }],
            injected: Vec::new(),
            events: Vec::new(),
        });
        if outcome.done {
            break;
        }
    }
    if !steps
        .last()
        .is_some_and(|s: &Step| s.actions.iter().any(|a| a.done))
    {
        env.step(&Action::Finish { reason: None }).await?;
    }
    let scored = env.score().await?;
    let db = scored
        .breakdown
        .iter()
        .find(|c| c.name == "DB")
        .and_then(|c| c.score)
        .unwrap_or(0.0);
    let solved = (db - 1.0).abs() < 1e-9;
    let n_steps = steps.len();
    Ok(Trajectory {
        format: TRAJECTORY_FORMAT.into(),
        version: TRAJECTORY_VERSION,
        header: EpisodeHeader {
            run_id: String::new(),
            episode_id: String::new(),
            task: task.clone(),
            trial: 0,
            attempt: 0,
            seed: 0,
            environment: factory.info(),
            model: ModelInfo {
                spec: "bench (reference solutions, some spoiled)".into(),
                backend: "bench".into(),
                config: Value::Null,
            },
            harness: Arc::new(HarnessInfo::default()),
            system_text: String::new(),
            events: Vec::new(),
            started_at: "2026-12-04T00:00:00Z".into(),
        },
        steps,
        end: Some(EpisodeEnd {
            exit: if solved {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            },
            failure: None,
            reason: None,
            reward: Some(Reward::simple(db)),
            steps: n_steps,
            usage: Usage {
                prompt_tokens: 1000 + n as u64 % 500,
                completion_tokens: 50,
            },
            model_latency_ms: 1200.0,
            finished_at: "2026-12-04T00:00:03Z".into(),
        }),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut wanted = 100_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--episodes" {
            wanted = args
                .next()
                .context("--episodes needs a number")?
                .parse()
                .context("--episodes needs a number")?;
        }
    }
    let factory = Arc::new(Tau2Factory::retail(UserMode::Ticket)?);
    let tasks = factory.tasks("all")?;
    let made = Instant::now();
    // Distinct episodes: every task, each of the six spoil kinds.
    let mut distinct = Vec::new();
    for task in &tasks {
        let reference = factory.reference_actions(task)?.unwrap_or_default();
        for kind in 0..6 {
            distinct.push(episode(&factory, task, &reference, kind).await?);
        }
    }
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.db"))?;
    let per_cell = wanted.div_ceil(CELLS);
    let models = ["model-a", "model-b"];
    let harnesses = [
        NULL_HARNESS,
        "hand-written",
        "evolved",
        "evolved-2",
        "other",
    ];
    let mut specs = Vec::new();
    let mut written = 0usize;
    for cell in 0..CELLS {
        let run_id = format!("bench-run-{cell:02}");
        let model = models[cell % 2];
        let harness = harnesses[(cell / 2) % harnesses.len()];
        let environment = if cell < CELLS / 2 {
            "tau2-retail"
        } else {
            "tau2-retail-copy"
        };
        let mut batch = Vec::with_capacity(per_cell);
        for i in 0..per_cell.min(wanted - written) {
            // Cells differ: a cell's episode i is distinct episode (i + cell) mod n.
            let mut t = distinct[(i * 7 + cell) % distinct.len()].clone();
            t.header.run_id = run_id.clone();
            t.header.episode_id = format!("{}/{}", t.header.task.id, i);
            t.header.trial = i as u32;
            batch.push(t);
        }
        written += batch.len();
        store.import_trajectories(&batch, &json!({"bench": true}))?;
        specs.push(CellSpec {
            model: model.into(),
            environment: environment.into(),
            split: "all".into(),
            harness: harness.into(),
            harness_name: harness.into(),
            harness_file: None,
            variant: FULL_VARIANT.into(),
            source_model: (harness == "evolved").then(|| "model-a".to_string()),
            notes: vec!["bench: reference solutions, some spoiled".into()],
            runs: vec![run_id],
        });
    }
    eprintln!(
        "made {written} episodes ({} distinct) in {CELLS} cells in {:.1} s (not timed)",
        distinct.len(),
        made.elapsed().as_secs_f64()
    );
    let lookup = |name: &str| -> Option<Arc<dyn EnvironmentFactory>> {
        (name == "tau2-retail").then(|| Arc::clone(&factory) as Arc<dyn EnvironmentFactory>)
    };
    let mut timings = Vec::new();
    for pass in ["cold", "warm"] {
        let started = Instant::now();
        let report = build(&store, vec!["bench".into()], specs.clone(), &lookup, &|| {})?;
        let html = report.html();
        let md = report.markdown();
        let json = serde_json::to_string(&report)?;
        let seconds = started.elapsed().as_secs_f64();
        let episodes: usize = report.cells.iter().map(|c| c.episodes).sum();
        println!(
            "report_scale {pass}: {episodes} episodes, {} cells, {} comparisons in {seconds:.2} s \
             ({:.1} us/episode; facts {} cached, {} computed); html {} KB, md {} KB, json {} KB",
            report.cells.len(),
            report.comparisons.len(),
            seconds * 1e6 / episodes.max(1) as f64,
            report.load.cached,
            report.load.computed,
            html.len() / 1024,
            md.len() / 1024,
            json.len() / 1024
        );
        timings.push(seconds);
    }
    let warm = timings[1];
    println!(
        "report_scale: warm {warm:.2} s vs target {TARGET_SECONDS:.0} s: {} ({:.1}x headroom); cold {:.2} s",
        if warm < TARGET_SECONDS {
            "met"
        } else {
            "MISSED"
        },
        TARGET_SECONDS / warm,
        timings[0]
    );
    Ok(())
}
