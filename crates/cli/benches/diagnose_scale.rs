//! Diagnosis and audit at scale: 10,000 stored tau2-retail episodes read
//! back from the store, each diagnosed and audited (replayed with state)
//! under the shipped `harnesses/tau2-retail.toml`. Target: under 10 s on
//! the project's 2-core machine, so that diagnosis never costs more than the
//! model calls it explains.
//!
//! The episodes are made from the tasks' reference solutions executed in the
//! real environment (real tool results), a third of them spoiled so that
//! there are failures to explain: a made-up order id first (an environment
//! error the agent recovers from), the last write dropped (a premature
//! stop), or a write's arguments changed (wrong arguments); the reward is
//! the environment's real DB check. They are written into a fresh store in
//! one transaction (not timed).
//!
//! `cargo bench -p lifeharness-cli --bench diagnose_scale [-- --episodes 10000]`

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use lifeharness_core::{
    Action, ActionRecord, EnvironmentFactory, EpisodeEnd, EpisodeHeader, ExitStatus, HarnessInfo,
    ModelInfo, ModelTurn, Reward, Step, TRAJECTORY_FORMAT, TRAJECTORY_VERSION, Task, ToolCall,
    Trajectory, Usage,
};
use lifeharness_diagnose::{Auditor, Recorded, Report, diagnose};
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use lifeharness_rules::Harness;
use lifeharness_store::Store;
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HARNESS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../harnesses/tau2-retail.toml"
);
const TARGET_SECONDS: f64 = 10.0;

/// The actions of episode `n` of `task`: the reference, maybe spoiled (and
/// whether the spoiling should leave the task solvable).
fn actions_for(reference: &[Action], n: usize) -> (Vec<Action>, bool) {
    let mut actions = reference.to_vec();
    match n % 6 {
        0 => {
            actions.insert(
                0,
                Action::ToolCall(ToolCall::from_value(
                    "x",
                    "get_order_details",
                    json!({"order_id": "#W0000000"}),
                )),
            );
            (actions, true)
        }
        1 => {
            if let Some(i) = actions.iter().rposition(|a| a.as_tool_call().is_some()) {
                actions.remove(i);
            }
            (actions, false)
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
            (actions, false)
        }
        _ => (actions, true),
    }
}

async fn episode(
    factory: &Tau2Factory,
    task: &Task,
    reference: &[Action],
    n: usize,
) -> Result<Trajectory> {
    let (actions, _) = actions_for(reference, n);
    let mut env = factory.create()?;
    env.reset(task, 0).await?;
    let mut steps = Vec::with_capacity(actions.len());
    for (index, action) in actions.into_iter().enumerate() {
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
    // The agent ends the episode (as a replay does), then the reward is the
    // environment's real DB check (retail's NL assertions need a judge).
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
            run_id: "bench".into(),
            episode_id: format!("{}-{n}", task.id),
            task: task.clone(),
            trial: n as u32,
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
            started_at: String::new(),
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
            usage: Usage::default(),
            model_latency_ms: 0.0,
            finished_at: String::new(),
        }),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut wanted = 10_000usize;
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
    let factory = Tau2Factory::retail(UserMode::Ticket)?;
    let tasks = factory.tasks("all")?;
    let references: Vec<Vec<Action>> = tasks
        .iter()
        .map(|t| factory.reference_actions(t).map(Option::unwrap_or_default))
        .collect::<Result<_, _>>()?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.db"))?;
    let made = Instant::now();
    let mut trajectories = Vec::with_capacity(wanted);
    for n in 0..wanted {
        let i = n % tasks.len();
        trajectories.push(episode(&factory, &tasks[i], &references[i], n / tasks.len()).await?);
    }
    store.import_trajectories(&trajectories, &json!({"bench": "diagnose_scale"}))?;
    drop(trajectories);
    println!(
        "set-up: {wanted} episodes made and stored in {:.1} s (not timed)",
        made.elapsed().as_secs_f64()
    );

    let harness = Arc::new(Harness::load_compiled(std::path::Path::new(HARNESS))?);
    let started = Instant::now();
    let rows = store.episodes("bench")?;
    let mut read_s = 0.0;
    let mut diagnose_s = 0.0;
    let mut audit_s = 0.0;
    let mut auditor = Auditor::new(harness);
    let mut diagnoses = Vec::with_capacity(rows.len());
    for row in &rows {
        let t0 = Instant::now();
        let t = store.trajectory("bench", &row.episode_id)?;
        let recorded = Recorded::from_trajectory(&t);
        let t1 = Instant::now();
        diagnoses.push(diagnose(Some(&factory), &recorded)?);
        let t2 = Instant::now();
        auditor.audit(&factory, &recorded).await?;
        let t3 = Instant::now();
        read_s += (t1 - t0).as_secs_f64();
        diagnose_s += (t2 - t1).as_secs_f64();
        audit_s += (t3 - t2).as_secs_f64();
    }
    let report = Report::of(diagnoses);
    let total = started.elapsed().as_secs_f64();
    let env = &report.environments[0];
    let audit = auditor.finish();
    println!(
        "diagnose + audit of {} stored episodes ({} failed): {total:.2} s = {:.0} episodes/s \
         (read {read_s:.2} s, diagnose {diagnose_s:.2} s, audit with state {audit_s:.2} s)",
        rows.len(),
        env.failed,
        rows.len() as f64 / total
    );
    println!(
        "target {TARGET_SECONDS:.0} s: {:.2}x the target ({})",
        total / TARGET_SECONDS,
        if total <= TARGET_SECONDS {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "checks: mix {:?}; audit blocked {} in failed episodes, {} false positives",
        env.mix
            .iter()
            .map(|m| (m.category.as_str(), m.count))
            .collect::<Vec<_>>(),
        audit.failed.counts.blocked,
        audit.false_positive_count
    );
    let fp: Vec<String> = audit
        .rules
        .iter()
        .filter(|(_, r)| r.false_positives > 0)
        .map(|(id, r)| format!("{id} {}", r.false_positives))
        .collect();
    println!("false positives by rule: {}", fp.join(", "));
    if let Some(first) = audit.false_positives.first() {
        println!(
            "e.g. task {} step {}: {} blocked {}",
            first.task_id,
            first.step,
            first.rule_id,
            first.action.label()
        );
    }
    Ok(())
}
