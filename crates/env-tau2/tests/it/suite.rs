//! The generic conformance suite on every task, replays, and DB-check failures.

use std::sync::Arc;

use lifeharness_core::{Action, EnvironmentFactory};
use lifeharness_env_tau2::conformance::run_conformance;
use lifeharness_env_tau2::task::Tau2Task;
use lifeharness_env_tau2::{ReplayAction, Tau2Factory, UserMode, gold_actions, to_actions};

use crate::scripted::YesJudge;

fn gold(task: &lifeharness_core::Task) -> Vec<Action> {
    let parsed: Tau2Task = serde_json::from_value(task.data.clone()).unwrap();
    let mut actions = to_actions(&gold_actions(&parsed));
    actions.push(Action::Message {
        content: "All done. ###STOP###".into(),
    });
    actions
}

#[tokio::test]
async fn every_task_replays_to_full_reward_deterministically() {
    for name in ["tau2-retail", "tau2-airline"] {
        let factory = Tau2Factory::by_name(name, UserMode::Ticket)
            .unwrap()
            .with_judge(Arc::new(YesJudge));
        let report = run_conformance(&factory, "all", gold).await;
        assert!(report.passed(), "{name}: {:#?}", report.failures);
        assert_eq!(report.tasks, factory.data().tasks.len());
    }
}

#[tokio::test]
async fn splits_have_the_published_sizes() {
    for (name, train, test) in [("tau2-retail", 74, 40), ("tau2-airline", 30, 20)] {
        let factory = Tau2Factory::by_name(name, UserMode::Ticket).unwrap();
        assert_eq!(factory.tasks("train").unwrap().len(), train);
        assert_eq!(factory.tasks("test").unwrap().len(), test);
        assert_eq!(factory.tasks("base").unwrap().len(), train + test);
        assert_eq!(factory.tasks("all").unwrap().len(), train + test);
        assert!(factory.tasks("nope").is_err());
    }
}

#[tokio::test]
async fn gold_replay_report_without_judge() {
    let factory = Tau2Factory::airline(UserMode::Ticket).unwrap();
    let reports = factory.replay_gold_split("test").await.unwrap();
    assert_eq!(reports.len(), 20);
    for report in &reports {
        assert!(report.db_match, "{}", report.task_id);
        assert_eq!(report.reward, Some(1.0), "{}", report.task_id);
        assert_eq!(report.user_mode, "replay");
    }
    // Retail: tasks with NL assertions cannot be scored without a judge.
    let retail = Tau2Factory::retail(UserMode::Ticket).unwrap();
    let reports = retail.replay_gold_split("all").await.unwrap();
    assert!(reports.iter().all(|r| r.db_match));
    assert!(reports.iter().any(|r| r.reward.is_none()));
    assert!(
        reports
            .iter()
            .all(|r| r.reward.is_none() || r.reward == Some(1.0))
    );
    let json = serde_json::to_value(&reports[0]).unwrap();
    for key in [
        "task_id",
        "db_hash",
        "db_match",
        "reward",
        "reward_breakdown",
        "observations",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
}

#[tokio::test]
async fn a_wrong_argument_changes_the_hash_and_fails_the_db_check() {
    let factory = Tau2Factory::retail(UserMode::Ticket).unwrap();
    let mut checked = 0;
    for (task, _) in factory.data().tasks.iter() {
        let mut actions = gold_actions(task);
        let Some(write) = actions
            .iter_mut()
            .find(|a| a.name == "modify_pending_order_address")
        else {
            continue;
        };
        write.arguments["zip"] = serde_json::json!("99999");
        let core_task = factory.task(&task.id).unwrap();
        let gold = factory.replay_gold(&core_task).await.unwrap();
        let wrong = factory.replay_actions(&core_task, &actions).await.unwrap();
        assert_ne!(gold.db_hash, wrong.db_hash);
        assert!(!wrong.db_match);
        assert_eq!(wrong.reward_breakdown[0].name, "DB");
        assert_eq!(wrong.reward_breakdown[0].score, Some(0.0));
        assert_ne!(wrong.reward, Some(1.0));
        checked += 1;
    }
    assert!(checked > 5);
}

#[tokio::test]
async fn jsonl_replay_names_the_bad_line() {
    let factory = Tau2Factory::airline(UserMode::Ticket).unwrap();
    let good = serde_json::json!({"task_id": "0", "actions": [{"name": "get_user_details", "arguments": {"user_id": "emma_kim_9957"}}]});
    let jsonl = format!("{good}\n\n{{\"task_id\": 5}}\n");
    let err = factory.replay_jsonl(&jsonl).await.unwrap_err();
    assert!(err.to_string().starts_with("actions file line 3:"), "{err}");
    let reports = factory.replay_jsonl(&format!("{good}\n")).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].observations[0].starts_with("{\"user_id\": \"emma_kim_9957\""));
    let unknown = serde_json::json!({"task_id": "nope", "actions": []});
    let err = factory
        .replay_jsonl(&unknown.to_string())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    let _ = ReplayAction {
        name: "respond".into(),
        arguments: serde_json::json!({"content": "hi"}),
    };
}
