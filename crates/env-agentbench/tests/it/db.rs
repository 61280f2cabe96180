//! DBBench: gold replay, wrong answers, protocol, determinism.

use lifeharness_core::{Action, EnvironmentFactory, ToolCall};
use lifeharness_env_agentbench::{AgentBenchFactory, replay_gold};
use serde_json::json;

#[tokio::test]
async fn gold_replay_scores_one_on_every_reproducible_task() {
    let factory = AgentBenchFactory::db().expect("factory");
    for split in ["dev", "standard"] {
        let reports = replay_gold(&factory, split).await.expect("replay");
        let failed: Vec<_> = reports
            .iter()
            .filter(|r| r.excluded.is_none() && r.reward != Some(1.0))
            .map(|r| serde_json::to_string(r).unwrap_or_default())
            .collect();
        assert!(
            failed.is_empty(),
            "{split}: {} failures:\n{}",
            failed.len(),
            failed.join("\n")
        );
        let expected = if split == "dev" { 60 } else { 300 };
        assert_eq!(reports.len(), expected);
    }
}

fn task(factory: &AgentBenchFactory, id: &str) -> lifeharness_core::Task {
    factory
        .tasks("all")
        .expect("tasks")
        .into_iter()
        .find(|t| t.id == id)
        .expect("task")
}

#[tokio::test]
async fn text_protocol_and_wrong_answers() {
    let factory = AgentBenchFactory::db().expect("factory");
    // "What are the Notes when the Method is decision?" -> ["Women +60kg Bronze"]
    let t = task(&factory, "standard-000");
    let mut env = factory.create().expect("env");
    let opening = env.reset(&t, 0).await.expect("reset");
    assert!(opening[0].text().is_some_and(|x| x.contains("Jiu-Jitsu")));
    // MySQL's collation ignores case: 'decision' matches 'Decision'.
    let op = "Action: Operation\n```sql\nSELECT Notes FROM `Jiu-Jitsu Championships Results` WHERE Method = 'decision';\n```";
    let out = env
        .step(&Action::Message { content: op.into() })
        .await
        .expect("step");
    assert_eq!(&*out.observation.content, "[('Women +60kg Bronze',)]");
    let answer = "Action: Answer\nFinal Answer: [\"Women +60kg Bronze\"]";
    assert!(
        env.step(&Action::Message {
            content: answer.into()
        })
        .await
        .expect("answer")
        .done
    );
    assert_eq!(env.score().await.expect("score").value, Some(1.0));
    assert!(
        env.step(&Action::Finish { reason: None }).await.is_err(),
        "no step after the end"
    );

    env.reset(&t, 0).await.expect("reset");
    let wrong = ToolCall::from_value(
        "c",
        "commit_final_answer",
        json!({"answers": ["Women +60kg Silver"]}),
    );
    env.step(&Action::ToolCall(wrong)).await.expect("commit");
    assert_eq!(env.score().await.expect("score").value, Some(0.0));

    env.reset(&t, 0).await.expect("reset");
    let bad = env
        .step(&Action::Message {
            content: "Action: Operation\nSELECT 1".into(),
        })
        .await
        .expect("step");
    assert!(bad.done);
    assert_eq!(env.score().await.expect("score").value, Some(0.0));

    // A modification task without the modification scores 0; tool errors are observations.
    let m = task(&factory, "standard-100");
    env.reset(&m, 0).await.expect("reset");
    let err = env
        .step(&Action::ToolCall(ToolCall::from_value(
            "c",
            "execute_sql",
            json!({"query": "SELEC"}),
        )))
        .await
        .expect("step");
    assert!(err.observation.content.contains("syntax error"));
    let unknown = env
        .step(&Action::ToolCall(ToolCall::from_value(
            "c",
            "drop_db",
            json!({}),
        )))
        .await
        .expect("step");
    assert_eq!(
        &*unknown.observation.content,
        "Invalid function call. Please call a tool instead."
    );
    env.step(&Action::ToolCall(ToolCall::from_value(
        "c",
        "commit_final_answer",
        json!({"answers": []}),
    )))
    .await
    .expect("commit");
    assert_eq!(env.score().await.expect("score").value, Some(0.0));
}

#[tokio::test]
async fn resets_are_deterministic() {
    let factory = AgentBenchFactory::db().expect("factory");
    let t = task(&factory, "dev-000");
    let mut seen = Vec::new();
    for seed in [1, 2] {
        let mut env = factory.create().expect("env");
        let opening = env.reset(&t, seed).await.expect("reset");
        let q = format!(
            "SELECT * FROM `{}`",
            t.instruction
                .split("The name of this table is ")
                .nth(1)
                .and_then(|s| s.split(", and the headers").next())
                .unwrap_or("")
        );
        let out = env
            .step(&Action::ToolCall(ToolCall::from_value(
                "c",
                "execute_sql",
                json!({"query": q}),
            )))
            .await
            .expect("step");
        seen.push((opening, out.observation.content));
    }
    assert_eq!(seen[0], seen[1]);
    assert!(!seen[0].1.contains("no such table"), "{}", seen[0].1);
}

#[tokio::test]
async fn shared_conformance_suite_on_the_dev_set() {
    let factory = lifeharness_env_agentbench::AgentBenchFactory::db().unwrap();
    let report = lifeharness_core::conformance::run_conformance(&factory, "dev", |task| {
        lifeharness_env_agentbench::db_gold_actions(&factory, &task.id).unwrap()
    })
    .await;
    assert_eq!(report.tasks, 60);
    assert!(report.passed(), "{:?}", report.failures);
}
