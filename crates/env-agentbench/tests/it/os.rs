//! OS interaction: gold replay, wrong answers, protocol, determinism.

use lifeharness_core::{Action, Environment, EnvironmentFactory, ToolCall};
use lifeharness_env_agentbench::os::ScriptKind;
use lifeharness_env_agentbench::{AgentBenchFactory, replay_gold};
use serde_json::json;

fn assert_all_reproducible_score_one(reports: &[lifeharness_env_agentbench::ReplayReport]) {
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.excluded.is_none() && r.reward != Some(1.0))
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect();
    assert!(
        failed.is_empty(),
        "{} failures:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[tokio::test]
async fn dev_gold_replay_scores_one_on_every_reproducible_task() {
    let factory = AgentBenchFactory::os().expect("factory");
    let reports = replay_gold(&factory, "dev").await.expect("replay");
    assert_eq!(reports.len(), 26);
    assert_all_reproducible_score_one(&reports);
    assert_eq!(reports.iter().filter(|r| r.excluded.is_some()).count(), 2);
}

#[tokio::test]
#[ignore = "replays the 144 standard OS tasks (about 2 minutes); run with --ignored"]
async fn standard_gold_replay_scores_one_on_every_reproducible_task() {
    let factory = AgentBenchFactory::os().expect("factory");
    let reports = replay_gold(&factory, "standard").await.expect("replay");
    for r in &reports {
        println!("{}", serde_json::to_string(r).expect("json"));
    }
    assert_eq!(reports.len(), 144);
    assert_all_reproducible_score_one(&reports);
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
async fn text_protocol_runs_bash_and_scores_answers() {
    let factory = AgentBenchFactory::os().expect("factory");
    // "Tell me how many times Alice sold a stock" (check: integer match with the example).
    let t = task(&factory, "std-001-stock-00000");
    let mut env = factory.create().expect("env");
    let opening = env.reset(&t, 7).await.expect("reset");
    assert!(
        opening
            .last()
            .and_then(|m| m.text())
            .is_some_and(|x| x.contains("Alice"))
    );
    let bash =
        "Think: count.\n\nAct: bash\n\n```bash\ngrep \"Alice | Sell\" /usr/stock.log | wc -l\n```";
    let out = env
        .step(&Action::Message {
            content: bash.into(),
        })
        .await
        .expect("step");
    assert!(!out.done);
    let count: String = out
        .observation
        .content
        .trim()
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(
        out.observation
            .content
            .starts_with("The output of the OS:\n\n")
    );
    let answer = format!("Think: done.\n\nAct: answer({count})");
    assert!(
        env.step(&Action::Message { content: answer })
            .await
            .expect("answer")
            .done
    );
    assert_eq!(env.score().await.expect("score").value, Some(1.0));

    // A wrong answer scores 0.
    env.reset(&t, 7).await.expect("reset");
    let wrong = ToolCall::from_value("c1", "answer_action", json!({"answer": "-1"}));
    env.step(&Action::ToolCall(wrong)).await.expect("answer");
    assert_eq!(env.score().await.expect("score").value, Some(0.0));

    // An invalid reply ends the episode with 0.
    env.reset(&t, 7).await.expect("reset");
    assert!(
        env.step(&Action::Message {
            content: "I think 3".into()
        })
        .await
        .expect("step")
        .done
    );
    assert_eq!(env.score().await.expect("score").value, Some(0.0));
}

#[tokio::test]
async fn resets_are_deterministic_for_a_seed() {
    let factory = AgentBenchFactory::os().expect("factory");
    let t = task(&factory, "std-001-stock-00000");
    let mut digests = Vec::new();
    for seed in [7, 7, 8] {
        let mut env = factory.create_os().expect("os").expect("env");
        env.reset(&t, seed).await.expect("reset");
        let out = env
            .run_raw(ScriptKind::Shell, "md5sum /usr/stock.log")
            .await
            .expect("md5");
        digests.push(String::from_utf8_lossy(&out.output).into_owned());
        env.close().await;
    }
    assert_eq!(digests[0], digests[1]);
    assert_ne!(digests[0], digests[2]);
}

#[tokio::test]
async fn a_missing_bubblewrap_refuses_to_run() {
    let config = lifeharness_env_agentbench::os::SandboxConfig {
        bwrap: "/nonexistent/bwrap".into(),
        ..Default::default()
    };
    let factory = AgentBenchFactory::os_with(config).expect("factory");
    let err = factory.check_available().await.expect_err("must refuse");
    assert!(err.to_string().contains("sandbox unavailable"), "{err}");
    let t = task(&factory, "std-001-stock-00000");
    let mut env = factory.create().expect("env");
    let err = env.reset(&t, 0).await.expect_err("must refuse");
    assert!(
        matches!(err, lifeharness_core::EnvError::Unavailable(_)),
        "{err:?}"
    );
}
