//! Criterion benchmarks: tool call, episode set-up, database hash (fresh,
//! after a write, from scratch), retail and airline.
//!
//! Run: `cargo bench -p lifeharness-env-tau2 --bench tau2`.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use lifeharness_core::{Action, Environment, EnvironmentFactory, ToolCall};
use lifeharness_env_tau2::bench::block_on;
use lifeharness_env_tau2::task::{GoldAction, Tau2Task};
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use serde_json::json;

fn benches(c: &mut Criterion) {
    for (factory, tool, args) in [
        (
            Tau2Factory::retail(UserMode::Ticket),
            "get_order_details",
            json!({"order_id": "#W2378156"}),
        ),
        (
            Tau2Factory::airline(UserMode::Ticket),
            "get_reservation_details",
            json!({"reservation_id": "4WQ150"}),
        ),
    ] {
        let Ok(factory) = factory else { continue };
        let name = factory.domain().env_name();
        let Ok(tasks) = factory.split_tasks("all") else {
            continue;
        };
        let task = tasks[0].clone();
        c.bench_function(&format!("{name}/setup"), |b| {
            b.iter(|| {
                let mut env = factory.create().ok();
                if let Some(env) = env.as_mut() {
                    black_box(block_on(env.reset(&task, 0)));
                }
            })
        });
        let mut env = factory.env();
        let _ = block_on(env.reset(&task, 0));
        let action = Action::ToolCall(ToolCall::from_value("c", tool, args.clone()));
        c.bench_function(&format!("{name}/tool_call"), |b| {
            b.iter(|| black_box(block_on(env.step(&action))))
        });
        c.bench_function(&format!("{name}/db_hash"), |b| {
            b.iter(|| black_box(env.db_hash()))
        });
        // After the first task's gold writes: incremental and from scratch.
        let data = factory.data();
        let mut db = data.db.clone();
        for action in task_actions(&data.tasks[0].0) {
            let _ = db.call(&action.name, &action.arguments);
        }
        c.bench_function(&format!("{name}/db_hash_after_write"), |b| {
            b.iter(|| black_box(data.db_hash(&db)))
        });
        c.bench_function(&format!("{name}/db_hash_scratch"), |b| {
            b.iter(|| black_box(db.hash()))
        });
    }
}

fn task_actions(task: &Tau2Task) -> impl Iterator<Item = &GoldAction> {
    task.evaluation_criteria
        .iter()
        .flat_map(|c| c.actions.iter().flatten())
}

/// The benchmark group (kept private so its generated function needs no docs).
mod group {
    criterion::criterion_group!(tau2, super::benches);
}

criterion_main!(group::tau2);
