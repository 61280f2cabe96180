//! The shared environment conformance suite, on the toy environment.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use lifeharness_core::conformance::run_conformance;
use lifeharness_core::{Action, Task, ToolCall};
use lifeharness_env_toy::ToyFactory;

fn gold(task: &Task) -> Vec<Action> {
    task.data["gold"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, g)| {
            Action::ToolCall(ToolCall::from_value(
                format!("c{i}"),
                g["name"].as_str().unwrap(),
                g["arguments"].clone(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn gold_replays_to_reward_one_deterministically() {
    let report = run_conformance(&ToyFactory::default(), "all", gold).await;
    assert_eq!(report.tasks, 20);
    assert!(report.passed(), "{:?}", report.failures);
}

#[tokio::test]
async fn the_suite_can_fail() {
    // Gold without its last action (submit) must not reach reward 1.
    let report = run_conformance(&ToyFactory::default(), "train", |t| {
        let mut g = gold(t);
        g.truncate(g.len() - 1);
        g.push(Action::ToolCall(ToolCall::from_raw(
            "x",
            "set",
            r#"{"key":"color","value":"wrong"}"#,
        )));
        g
    })
    .await;
    assert_eq!(report.failures.len(), 10, "{:?}", report.failures);
}
