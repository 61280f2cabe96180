//! Evolution end to end with a SIMULATED agent (reference solutions with
//! injected faults) on tau2-bench retail in ticket mode. Nothing here is a
//! result: it checks that evolution learns rules that target the injected
//! faults and that they carry over to the test split.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeSet;
use std::sync::Arc;

use lifeharness_core::{EnvironmentFactory, Model};
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use lifeharness_evolve::sim::{FaultRates, FaultyAgent, ScriptedTask};
use lifeharness_evolve::{
    EvalRequest, Evaluator, EvolveConfig, EvolveError, Inputs, LocalEvaluator, evolve,
};
use lifeharness_rules::{CompiledHarness, Harness};

fn scripted(factory: &dyn EnvironmentFactory) -> Vec<ScriptedTask> {
    ScriptedTask::all(factory).unwrap()
}

fn config(offline: bool) -> EvolveConfig {
    EvolveConfig {
        id: "evo-test".into(),
        split: "train".into(),
        rounds: 2,
        trials: 1,
        offline,
        counterfactuals: 2,
        sentinels: 5,
        void_share: 0.5,
        source_model: "simulated:faulty-reference".into(),
        task_ids: Vec::new(),
    }
}

/// A proposer that answers every request with the same TOML patch.
struct Proposer(&'static str);

#[async_trait::async_trait]
impl Model for Proposer {
    fn info(&self) -> lifeharness_core::ModelInfo {
        lifeharness_core::ModelInfo {
            spec: "scripted-proposer".into(),
            backend: "scripted".into(),
            config: serde_json::json!({"simulated": true}),
        }
    }

    async fn chat(
        &self,
        _: &lifeharness_core::ChatRequest,
    ) -> Result<lifeharness_core::ModelTurn, lifeharness_core::ModelError> {
        Ok(lifeharness_core::ModelTurn::text(self.0))
    }
}

fn success(episodes: &[lifeharness_diagnose::Recorded]) -> f64 {
    episodes.iter().filter(|e| e.success == Some(true)).count() as f64 / episodes.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evolving_from_simulated_faults_raises_test_success_with_rules_that_target_them() {
    let factory: Arc<dyn EnvironmentFactory> =
        Arc::new(Tau2Factory::by_name("tau2-retail", UserMode::Ticket).unwrap());
    let agent: Arc<dyn Model> = Arc::new(FaultyAgent::new(
        scripted(factory.as_ref()),
        FaultRates {
            realization: 0.25,
            contract: 0.25,
            degeneration: 0.25,
            reasoning: 0.1,
        },
        3,
        "Done. ###STOP###",
    ));
    assert_eq!(agent.info().backend, "simulated");
    let evaluator = LocalEvaluator {
        model: Arc::clone(&agent),
        factory: Arc::clone(&factory),
        seed: 0,
        concurrency: 2,
        max_steps: Some(25),
    };
    let outcome = evolve(
        config(false),
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
    .await
    .unwrap();
    let evolved = outcome.harness;
    println!("{}", outcome.ledger.markdown());
    // Lineage and provenance.
    assert_eq!(evolved.origin, "evolved");
    let lineage = evolved.lineage.clone().unwrap();
    assert_eq!(
        (lineage.split.as_str(), lineage.environment.as_str()),
        ("train", "tau2-retail")
    );
    assert_eq!(lineage.parent, Harness::null().content_hash());
    let categories: BTreeSet<&str> = evolved
        .provenance
        .values()
        .map(|p| p.category.as_str())
        .collect();
    for injected in [
        "action_realization",
        "environment_contract",
        "trajectory_degeneration",
    ] {
        assert!(
            categories.contains(injected),
            "no rule targets {injected}: {categories:?}"
        );
    }
    assert!(
        !categories.contains("residual_reasoning"),
        "a rule was accepted for the faults no harness can fix: {categories:?}"
    );
    // The contract fault drops the '#' of order ids: a format rule catches it.
    assert!(
        evolved
            .contract
            .constraints
            .iter()
            .any(|c| c.pattern.as_deref().is_some_and(|p| p.contains("\\#W"))),
        "{:?}",
        evolved.contract.constraints
    );
    // The harness file round-trips and its examples pass at load.
    let text = evolved.to_toml().unwrap();
    let back = Harness::compile_toml(&text, "evolved.toml").unwrap();
    if back.harness.content_hash() != evolved.content_hash() {
        let a = evolved.canonical_json().to_string();
        let b = back.harness.canonical_json().to_string();
        let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        panic!(
            "round trip changed the harness at {at}: {} | {}",
            &a[at.saturating_sub(200)..(at + 200).min(a.len())],
            &b[at.saturating_sub(200)..(at + 200).min(b.len())]
        );
    }
    // Frozen, on the test split: more solved than without a harness.
    let test_ids: Vec<String> = factory
        .tasks("test")
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let run = |h: Harness, key: &str| EvalRequest {
        key: key.into(),
        harness: h,
        task_ids: test_ids.clone(),
        trials: 1,
    };
    let null = evaluator
        .evaluate(&run(Harness::null(), "test-null"))
        .await
        .unwrap();
    let with = evaluator
        .evaluate(&run(evolved.clone(), "test-evolved"))
        .await
        .unwrap();
    let (a, b) = (success(&null.episodes), success(&with.episodes));
    println!("SIMULATED agent, test split: null {a:.3}, evolved {b:.3}");
    assert!(b > a + 0.1, "null {a}, evolved {b}");
    assert!(null.episodes.iter().all(|e| e.source.is_none()));
}

#[tokio::test]
async fn test_splits_are_refused_as_evolution_input() {
    let factory = Tau2Factory::by_name("tau2-retail", UserMode::Ticket).unwrap();
    for split in ["test", "all"] {
        let mut c = config(true);
        c.split = split.into();
        let err = evolve(
            c,
            Inputs {
                factory: &factory,
                parent: Harness::null(),
                episodes: Vec::new(),
                evaluator: None,
                proposer: None,
                checkpoint: &|_| Ok(()),
                progress: &|_| {},
            },
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(err, EvolveError::HeldOut(_)), "{split}: {err}");
        assert!(
            err.to_string().contains("held-out") || err.to_string().contains("held out"),
            "{err}"
        );
    }
    let db = lifeharness_env_agentbench::AgentBenchFactory::db().unwrap();
    let err = lifeharness_evolve::train_tasks(&db, "standard")
        .err()
        .unwrap();
    assert!(err.to_string().contains("evolve on dev"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_evolution_from_recorded_episodes_gates_without_a_model() {
    let factory: Arc<dyn EnvironmentFactory> =
        Arc::new(Tau2Factory::by_name("tau2-retail", UserMode::Ticket).unwrap());
    let agent: Arc<dyn Model> = Arc::new(FaultyAgent::new(
        scripted(factory.as_ref()),
        FaultRates::default(),
        5,
        "Done. ###STOP###",
    ));
    let evaluator = LocalEvaluator {
        model: agent,
        factory: Arc::clone(&factory),
        seed: 1,
        concurrency: 2,
        max_steps: Some(25),
    };
    let ids: Vec<String> = factory
        .tasks("train")
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let recorded = evaluator
        .evaluate(&EvalRequest {
            key: "recorded".into(),
            harness: Harness::null(),
            task_ids: ids,
            trials: 1,
        })
        .await
        .unwrap();
    let saved = std::sync::Mutex::new(0usize);
    let outcome = evolve(
        config(true),
        Inputs {
            factory: factory.as_ref(),
            parent: Harness::null(),
            episodes: recorded.episodes,
            evaluator: None,
            // One generic patch and one that names a train task's order id.
            proposer: Some(Arc::new(Proposer(
                "```toml\n[[contract.constraints]]\nid = \"proposed-user-id\"\ntool = \"get_user_details\"\narg = \"user_id\"\nformat = \"non_empty\"\n\n[[contract.constraints]]\nid = \"proposed-leaky\"\ntool = \"get_order_details\"\narg = \"order_id\"\nenum = [\"#W2378156\"]\n\n[[realization.rules]]\nid = \"proposed-named\"\ntools = [\"list_all_product_types\"]\nrequire = \"true\"\nmessage = \"Ask yusuf_rossi_9620 first.\"\n```",
            ))),
            checkpoint: &|_| {
                *saved.lock().unwrap() += 1;
                Ok(())
            },
            progress: &|_| {},
        },
    )
    .await
    .unwrap();
    assert!(
        *saved.lock().unwrap() >= 2,
        "the ledger is saved as it goes"
    );
    let ledger = &outcome.ledger;
    assert!(ledger.rounds[0].groups.is_empty(), "offline: no re-runs");
    // Every accepted candidate passed (a)-(c); every rejected one names its step.
    for e in ledger.rounds.iter().flat_map(|r| &r.candidates) {
        match e.decision.as_str() {
            "accepted" => assert!(e.gate.iter().all(|g| g.passed), "{e:?}"),
            "rejected" => assert!(e.gate.iter().any(|g| !g.passed && !g.detail.is_empty())),
            other => panic!("offline decision {other}"),
        }
    }
    assert!(!outcome.harness.provenance.is_empty());
    // The proposer's patches are gated like the miners' output.
    let decision = |id: &str| {
        ledger.rounds[0]
            .candidates
            .iter()
            .find(|e| e.candidate.id == id)
            .map(|e| {
                (
                    e.candidate.source.clone(),
                    e.decision.clone(),
                    e.gate.clone(),
                )
            })
            .unwrap()
    };
    let (source, accepted, _) = decision("proposed-user-id");
    assert_eq!(
        (source.as_str(), accepted.as_str()),
        ("proposer", "accepted")
    );
    let (_, rejected, gate) = decision("proposed-leaky");
    assert_eq!(rejected, "rejected");
    assert!(gate.iter().any(|g| !g.passed), "{gate:?}");
    let (_, rejected, gate) = decision("proposed-named");
    assert_eq!(rejected, "rejected");
    let last = gate.last().unwrap();
    assert_eq!(last.step, "c-anti-leak", "{gate:?}");
    assert!(last.detail.contains("yusuf_rossi_9620"), "{gate:?}");
    assert_eq!(
        outcome.harness.provenance["proposed-user-id"].source,
        "proposer"
    );
    // Counterfactual variants of reference returns (other orders, other
    // statuses) teach the status precondition the environment enforces.
    let status = outcome
        .harness
        .realization
        .rules
        .iter()
        .find(|r| r.tools == ["return_delivered_order_items"] && r.require.contains("status"))
        .unwrap_or_else(|| panic!("{:#?}", outcome.harness.realization.rules));
    assert_eq!(status.require, "order.status in ['delivered']");
    assert!(
        ledger.rounds[0]
            .candidates
            .iter()
            .any(|e| e.candidate.id == status.id
                && e.candidate.hypothesis.contains("counterfactual"))
    );
    assert!(
        ledger
            .attribution
            .iter()
            .any(|a| a.outcome == "predicted_flip")
    );
    let md = ledger.markdown();
    assert!(
        md.contains("## Round 1") && md.contains("Per-task attribution"),
        "{md}"
    );
    CompiledHarness::compile(outcome.harness, None, "evolved").unwrap();
}

#[tokio::test]
async fn an_episode_the_environment_cannot_replay_is_skipped_and_named() {
    let toy = lifeharness_env_toy::ToyFactory::default();
    let task = toy.task("toy-0").unwrap();
    let actions = toy.reference_actions(&task).unwrap().unwrap();
    let mut good = lifeharness_diagnose::Recorded::reference(&task, actions.clone());
    good.run_id = "recorded".into();
    good.success = Some(false);
    good.reward = Some(0.0);
    // The same task with set-up data this environment cannot reset to.
    let mut broken = good.clone();
    broken.episode_id = "toy-0/1".into();
    broken.task.data = serde_json::json!({"initial": 3});
    let outcome = evolve(
        config(true),
        Inputs {
            factory: &toy,
            parent: Harness::null(),
            episodes: vec![good, broken],
            evaluator: None,
            proposer: None,
            checkpoint: &|_| Ok(()),
            progress: &|_| {},
        },
    )
    .await
    .unwrap();
    let skipped = &outcome.ledger.rounds[0].unreplayable;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains("toy-0/1"), "{skipped:?}");
    assert!(
        outcome
            .ledger
            .markdown()
            .contains("Not replayable here, skipped (1)")
    );
}
