//! Runtime behaviour: every verdict kind, budgets, determinism, cancellation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod support;

use std::sync::Arc;

use lifeharness_core::{
    Action, EnvironmentFactory, ExitStatus, FailureKind, Layer, Message, ModelError,
    ModelErrorKind, VerdictKind,
};
use lifeharness_env_toy::ToyFactory;
use lifeharness_runtime::{
    BlockPolicy, EpisodeOutcome, FaultPolicy, RunEvent, RuntimeConfig, run_episode, run_many,
};
use serde_json::json;
use support::{Behaviour, MemorySink, TestLayer, call, gold_model, script, spec};
use tokio_util::sync::CancellationToken;

async fn play(
    model: &dyn lifeharness_core::Model,
    layers: &[Arc<dyn Layer>],
    config: RuntimeConfig,
    task: usize,
) -> (lifeharness_core::EpisodeEnd, MemorySink) {
    let sink = MemorySink::default();
    let env = ToyFactory::default().create().unwrap();
    let outcome = run_episode(
        &spec(task, config),
        model,
        env,
        layers,
        &sink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    match outcome {
        EpisodeOutcome::Finished(end) => (end, sink),
        other => panic!("episode did not finish: {other:?}"),
    }
}

fn verdicts(sink: &MemorySink) -> Vec<VerdictKind> {
    sink.events().iter().map(|e| e.verdict).collect()
}

#[tokio::test]
async fn gold_play_succeeds_and_records_every_step() {
    let (end, sink) = play(&gold_model(), &[], RuntimeConfig::default(), 1).await;
    assert_eq!(end.exit, ExitStatus::Success);
    assert_eq!(end.steps, 3);
    assert_eq!(sink.steps().len(), 3);
    assert_eq!(sink.headers.lock().unwrap().len(), 1);
    assert!(end.usage.prompt_tokens == 0 && end.model_latency_ms >= 0.0);
    let obs = sink.steps()[0].actions[0].observation.clone().unwrap();
    assert!(!obs.is_error);
}

#[tokio::test]
async fn allow_verdicts_are_recorded_too() {
    let layers = [TestLayer::arc(Behaviour::BlockTool("nothing"))];
    let (end, sink) = play(&gold_model(), &layers, RuntimeConfig::default(), 0).await;
    assert_eq!(end.exit, ExitStatus::Success);
    let v = verdicts(&sink);
    assert_eq!(v.iter().filter(|k| **k == VerdictKind::Allow).count(), 2);
    assert_eq!(v.iter().filter(|k| **k == VerdictKind::Continue).count(), 2);
}

#[tokio::test]
async fn blocked_action_never_reaches_the_environment_and_model_gets_the_correction() {
    // The model tries get (blocked), then plays the task's gold: set + submit.
    let model = script(vec![
        call("get", json!({"key": "color"})),
        call("set", json!({"key": "color", "value": "large"})),
    ]);
    let layers = [TestLayer::arc(Behaviour::BlockTool("get"))];
    let (end, sink) = play(&model, &layers, RuntimeConfig::default(), 0).await;
    let steps = sink.steps();
    let blocked = &steps[0].actions[0];
    assert!(blocked.executed.is_none() && blocked.observation.is_none());
    assert_eq!(blocked.correction.as_deref(), Some("do not call get"));
    let event = &steps[0].events[0];
    assert_eq!(
        (event.verdict, event.rule_id.as_deref()),
        (VerdictKind::Block, Some("block-1"))
    );
    assert_eq!(event.failure, Some(FailureKind::PolicyDenied));
    assert_eq!(end.exit, ExitStatus::Success, "{end:?}");
}

#[tokio::test]
async fn block_correction_is_the_tool_result_the_model_sees() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let model = support::FnModel(Box::new(move |index, request| {
        seen2.lock().unwrap().push(request.messages.clone());
        Ok(if index == 0 {
            call("get", json!({"key": "x"}))
        } else {
            call("submit", json!({}))
        })
    }));
    let layers = [TestLayer::arc(Behaviour::BlockTool("get"))];
    play(&model, &layers, RuntimeConfig::default(), 0).await;
    let second = seen.lock().unwrap()[1].clone();
    let last = second.last().unwrap();
    assert_eq!(
        last,
        &Message::tool("c", "get", "Blocked by the harness: do not call get")
    );
}

#[tokio::test]
async fn block_budget_passes_through_when_spent() {
    let model = script(vec![call("get", json!({"key": "color"})); 3]);
    let layers = [TestLayer::arc(Behaviour::BlockTool("get"))];
    let config = RuntimeConfig {
        max_blocked_per_step: 2,
        ..RuntimeConfig::default()
    };
    let (_, sink) = play(&model, &layers, config, 0).await;
    let steps = sink.steps();
    assert!(steps[0].actions[0].executed.is_none());
    assert!(steps[1].actions[0].executed.is_none());
    let third = &steps[2].actions[0];
    assert_eq!(
        &*third.observation.as_ref().unwrap().content,
        "Error: key 'color' not found"
    );
    assert!(
        steps[2]
            .events
            .iter()
            .any(|e| e.verdict == VerdictKind::PassThrough)
    );
}

#[tokio::test]
async fn block_budget_aborts_when_the_harness_says_so() {
    let model = script(vec![call("get", json!({"key": "color"})); 5]);
    let layers = [TestLayer::arc(Behaviour::BlockTool("get"))];
    let config = RuntimeConfig {
        max_blocked_per_step: 2,
        on_block_budget: BlockPolicy::Abort,
        ..RuntimeConfig::default()
    };
    let (end, sink) = play(&model, &layers, config, 0).await;
    assert_eq!(end.exit, ExitStatus::Budget);
    assert_eq!(end.failure, Some(FailureKind::BudgetExceeded));
    assert_eq!(sink.steps().len(), 3);
    assert!(sink.steps().iter().all(|s| s.actions[0].executed.is_none()));
}

#[tokio::test]
async fn rewrite_changes_what_the_environment_executes() {
    let model = script(vec![call("set", json!({"key": "color", "value": "red"}))]);
    let layers = [TestLayer::arc(Behaviour::RewriteValue("large"))];
    let (end, sink) = play(&model, &layers, RuntimeConfig::default(), 0).await;
    let record = &sink.steps()[0].actions[0];
    let executed = record
        .executed
        .as_ref()
        .and_then(Action::as_tool_call)
        .unwrap();
    assert_eq!(executed.args().unwrap()["value"], "large");
    assert_eq!(
        record.proposed.as_tool_call().unwrap().args().unwrap()["value"],
        "red"
    );
    assert!(verdicts(&sink).contains(&VerdictKind::Rewrite));
    assert_eq!(end.exit, ExitStatus::Success);
}

#[tokio::test]
async fn abort_ends_the_episode_as_failed() {
    let model = script(vec![call("set", json!({"key": "color", "value": "red"}))]);
    let layers = [TestLayer::arc(Behaviour::AbortTool("set"))];
    let (end, sink) = play(&model, &layers, RuntimeConfig::default(), 0).await;
    assert_eq!(end.exit, ExitStatus::Failure);
    assert_eq!(end.failure, Some(FailureKind::PolicyDenied));
    assert!(sink.steps()[0].actions[0].executed.is_none());
    assert!(verdicts(&sink).contains(&VerdictKind::Abort));
}

/// Regression (issue 11.3): a layer fault used to be turned into an ordinary
/// block: the model was told to fix it, it counted against the block budget,
/// and under `pass_through` the unchecked action then ran.
#[tokio::test]
async fn a_layer_fault_ends_the_episode_as_a_harness_fault_by_default() {
    let model = script(vec![
        call("set", json!({"key": "color", "value": "large"})),
        call("submit", json!({})),
    ]);
    let layers = [TestLayer::arc(Behaviour::FaultOnAction)];
    let config = RuntimeConfig {
        max_blocked_per_step: 1,
        on_block_budget: BlockPolicy::PassThrough,
        ..RuntimeConfig::default()
    };
    assert_eq!(config.on_fault, FaultPolicy::EndEpisode);
    let (end, sink) = play(&model, &layers, config, 0).await;
    assert_eq!(end.exit, ExitStatus::Error);
    assert_eq!(end.failure, Some(FailureKind::HarnessFault));
    assert!(
        end.reason
            .as_deref()
            .unwrap_or_default()
            .contains("checker crashed")
    );
    let steps = sink.steps();
    assert_eq!(steps.len(), 1, "the episode ends at the fault");
    let record = &steps[0].actions[0];
    assert!(record.executed.is_none(), "the unchecked action never runs");
    assert!(
        record.correction.is_none(),
        "a fault is not the model's error"
    );
    assert!(steps[0].injected.is_empty());
    assert_eq!(steps[0].events[0].verdict, VerdictKind::Fault);
    assert_eq!(steps[0].events[0].failure, Some(FailureKind::HarnessFault));
    assert!(
        steps[0]
            .events
            .iter()
            .all(|e| e.verdict != VerdictKind::Block && e.verdict != VerdictKind::PassThrough)
    );
    let stats = lifeharness_core::ActionStats::of(&steps);
    assert_eq!((stats.blocked, stats.harness_faults), (0, 1));
}

#[tokio::test]
async fn a_layer_fault_lets_the_action_through_unchecked_when_the_harness_says_so() {
    let model = script(vec![
        call("set", json!({"key": "color", "value": "large"})),
        call("submit", json!({})),
    ]);
    let layers = [TestLayer::arc(Behaviour::FaultOnAction)];
    let config = RuntimeConfig {
        max_blocked_per_step: 0,
        on_block_budget: BlockPolicy::Abort,
        on_fault: FaultPolicy::AllowUnchecked,
        ..RuntimeConfig::default()
    };
    let (end, sink) = play(&model, &layers, config, 0).await;
    let steps = sink.steps();
    assert_eq!(steps.len(), 2, "faults spend no block budget");
    for step in &steps {
        let record = &step.actions[0];
        assert!(record.executed.is_some());
        assert!(record.correction.is_none());
        assert!(step.events.iter().any(|e| e.verdict == VerdictKind::Fault));
        let unchecked = step
            .events
            .iter()
            .find(|e| e.verdict == VerdictKind::Unchecked)
            .unwrap();
        assert_eq!(unchecked.failure, Some(FailureKind::HarnessFault));
        assert!(unchecked.message.as_deref().unwrap().contains("unchecked"));
    }
    let stats = lifeharness_core::ActionStats::of(&steps);
    assert_eq!(
        (stats.blocked, stats.unchecked, stats.harness_faults),
        (0, 2, 2)
    );
    assert_ne!(end.failure, Some(FailureKind::HarnessFault));
}

#[tokio::test]
async fn a_fault_after_the_observation_ends_the_episode_by_default() {
    let model = script(vec![
        call("set", json!({"key": "color", "value": "large"})),
        call("submit", json!({})),
    ]);
    let layers = [TestLayer::arc(Behaviour::FaultOnObservation)];
    let (end, sink) = play(&model, &layers, RuntimeConfig::default(), 0).await;
    assert_eq!(end.exit, ExitStatus::Error);
    assert_eq!(end.failure, Some(FailureKind::HarnessFault));
    assert_eq!(sink.steps().len(), 1);
    let config = RuntimeConfig {
        on_fault: FaultPolicy::AllowUnchecked,
        ..RuntimeConfig::default()
    };
    let (end, sink) = play(&model, &layers, config, 0).await;
    assert_eq!(sink.steps().len(), 2);
    assert_ne!(end.failure, Some(FailureKind::HarnessFault));
}

#[tokio::test]
async fn a_layer_fault_before_the_episode_is_an_error_exit() {
    let layers = [TestLayer::arc(Behaviour::FaultOnSetup)];
    let (end, sink) = play(&gold_model(), &layers, RuntimeConfig::default(), 0).await;
    assert_eq!(end.exit, ExitStatus::Error);
    assert_eq!(end.failure, Some(FailureKind::HarnessFault));
    assert!(sink.steps().is_empty());
}

/// A layer that changed the setup before another one failed leaves no
/// trace in the header: it records what the environment offered.
#[tokio::test]
async fn a_fault_before_the_episode_records_the_setup_unchanged() {
    let layers = [
        TestLayer::arc(Behaviour::Setup),
        TestLayer::arc(Behaviour::FaultOnSetup),
    ];
    let (end, sink) = play(&gold_model(), &layers, RuntimeConfig::default(), 0).await;
    assert_eq!(end.failure, Some(FailureKind::HarnessFault));
    let header = sink.headers.lock().unwrap()[0].clone();
    assert!(
        !header.system_text.contains("CONTRACT"),
        "{}",
        header.system_text
    );
    assert!(!header.system_text.contains("SKILL"));
}

#[tokio::test]
async fn annotations_are_appended_to_the_tool_result_itself() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let model = support::FnModel(Box::new(move |index, request| {
        seen2.lock().unwrap().push(request.messages.clone());
        Ok(if index == 0 {
            call("get", json!({"key": "x"}))
        } else {
            call("submit", json!({}))
        })
    }));
    let layers = [TestLayer::arc(Behaviour::Annotate("balance is 5"))];
    let (_, sink) = play(&model, &layers, RuntimeConfig::default(), 0).await;
    let obs = sink.steps()[0].actions[0].observation.clone().unwrap();
    assert_eq!(obs.notes, vec!["balance is 5".to_string()]);
    let last = seen.lock().unwrap()[1].last().cloned().unwrap();
    assert_eq!(
        last,
        Message::tool(
            "c",
            "get",
            "Error: key 'x' not found\n[harness note] balance is 5"
        )
    );
}

#[tokio::test]
async fn nudge_then_directive_then_stop_as_loop() {
    let model = script(vec![call("get", json!({"key": "x"})); 10]);
    let layers = [TestLayer::arc(Behaviour::Escalate(1))];
    let (end, sink) = play(&model, &layers, RuntimeConfig::default(), 0).await;
    let steps = sink.steps();
    assert_eq!(
        steps[1].injected,
        vec![Message::user("[harness] try something else")]
    );
    assert_eq!(
        steps[2].injected,
        vec![Message::user("[harness directive] call submit now")]
    );
    assert_eq!(end.exit, ExitStatus::Loop);
    assert_eq!(end.failure, Some(FailureKind::Loop));
    let v = verdicts(&sink);
    for kind in [
        VerdictKind::Nudge,
        VerdictKind::Directive,
        VerdictKind::Stop,
    ] {
        assert!(v.contains(&kind), "{kind:?} missing");
    }
}

#[tokio::test]
async fn observe_only_records_verdicts_and_applies_none() {
    let model = script(vec![
        call("get", json!({"key": "x"})),
        call("set", json!({"key": "color", "value": "large"})),
    ]);
    let layers = [
        TestLayer::arc(Behaviour::BlockTool("get")),
        TestLayer::arc(Behaviour::Setup),
    ];
    let config = RuntimeConfig {
        observe_only: true,
        ..RuntimeConfig::default()
    };
    let (end, sink) = play(&model, &layers, config, 0).await;
    let steps = sink.steps();
    assert!(
        steps[0].actions[0].executed.is_some(),
        "observe-only must not block"
    );
    let block = steps[0]
        .events
        .iter()
        .find(|e| e.verdict == VerdictKind::Block)
        .unwrap();
    assert!(block.observe_only);
    let header = sink.headers.lock().unwrap()[0].clone();
    assert!(!header.system_text.contains("CONTRACT"));
    assert!(header.events.iter().all(|e| e.observe_only));
    assert_eq!(end.exit, ExitStatus::Success);
}

#[tokio::test]
async fn setup_and_conditioning_shape_what_the_model_sees() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let seen2 = Arc::clone(&seen);
    let model = support::FnModel(Box::new(move |_, request| {
        *seen2.lock().unwrap() = Some(request.clone());
        Ok(call("submit", json!({})))
    }));
    let layers = [TestLayer::arc(Behaviour::Setup)];
    let (_, sink) = play(&model, &layers, RuntimeConfig::default(), 0).await;
    let request = seen.lock().unwrap().clone().unwrap();
    let system = request.messages[0].text().unwrap().to_string();
    assert!(system.contains("CONTRACT: keys are lowercase."));
    assert!(system.ends_with("SKILL: read before you write."));
    assert!(
        request
            .tools
            .iter()
            .all(|t| t.description.ends_with("(checked)"))
    );
    let header = sink.headers.lock().unwrap()[0].clone();
    let kinds: Vec<_> = header.events.iter().map(|e| e.verdict).collect();
    assert_eq!(kinds, vec![VerdictKind::Setup, VerdictKind::Condition]);
}

#[tokio::test]
async fn step_budget_ends_with_budget_exit() {
    let model = script(vec![call("get", json!({"key": "x"})); 50]);
    let config = RuntimeConfig {
        max_steps: 4,
        ..RuntimeConfig::default()
    };
    let (end, sink) = play(&model, &[], config, 0).await;
    assert_eq!(end.exit, ExitStatus::Budget);
    assert_eq!(end.failure, Some(FailureKind::BudgetExceeded));
    assert_eq!(sink.steps().len(), 4);
}

#[tokio::test]
async fn backend_failures_are_typed_errors_not_loops() {
    for (kind, label) in [
        (ModelErrorKind::Server, FailureKind::BackendError),
        (ModelErrorKind::Timeout, FailureKind::BackendTimeout),
        (ModelErrorKind::RateLimited, FailureKind::BackendTimeout),
    ] {
        let model = support::FnModel(Box::new(move |_, _| Err(ModelError::new(kind, "boom"))));
        let (end, sink) = play(&model, &[], RuntimeConfig::default(), 0).await;
        assert_eq!((end.exit, end.failure), (ExitStatus::Error, Some(label)));
        assert!(sink.steps()[0].model_error.is_some());
    }
}

#[tokio::test]
async fn text_turns_go_to_the_environment_as_messages() {
    let model = script(vec![lifeharness_core::ModelTurn::text("hello?")]);
    let (_, sink) = play(&model, &[], RuntimeConfig::default(), 0).await;
    let record = &sink.steps()[0].actions[0];
    assert_eq!(
        record.proposed,
        Action::Message {
            content: "hello?".into()
        }
    );
    assert!(
        record
            .observation
            .as_ref()
            .unwrap()
            .content
            .contains("nobody reads messages")
    );
}

fn strip_clock(mut s: Vec<lifeharness_core::Step>) -> Vec<lifeharness_core::Step> {
    for step in &mut s {
        if let Some(turn) = &mut step.turn {
            turn.latency_ms = 0.0;
        }
    }
    s
}

#[tokio::test]
async fn same_model_and_seed_give_the_same_trajectory() {
    let layers = [TestLayer::arc(Behaviour::Annotate("n"))];
    let (a_end, a) = play(&gold_model(), &layers, RuntimeConfig::default(), 2).await;
    let (b_end, b) = play(&gold_model(), &layers, RuntimeConfig::default(), 2).await;
    assert_eq!(strip_clock(a.steps()), strip_clock(b.steps()));
    assert_eq!((a_end.exit, a_end.reward), (b_end.exit, b_end.reward));
    assert_eq!(
        a.headers.lock().unwrap()[0].seed,
        b.headers.lock().unwrap()[0].seed
    );
}

#[tokio::test]
async fn many_episodes_run_concurrently_and_cancel_cleanly() {
    let factory: Arc<dyn EnvironmentFactory> = Arc::new(ToyFactory::default());
    let jobs: Vec<_> = (0..20).map(|i| spec(i, RuntimeConfig::default())).collect();
    let sink = Arc::new(MemorySink::default());
    let summary = run_many(
        jobs.clone(),
        Arc::new(gold_model()),
        Arc::clone(&factory),
        Arc::from(Vec::<Arc<dyn Layer>>::new()),
        sink.clone(),
        4,
        CancellationToken::new(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.finished, summary.successes, summary.interrupted),
        (20, 20, 0)
    );

    // Cancelled before the start: nothing runs, everything is reported interrupted.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let interrupted = std::sync::Mutex::new(0);
    let summary = run_many(
        jobs,
        Arc::new(gold_model()),
        factory,
        Arc::from(Vec::<Arc<dyn Layer>>::new()),
        Arc::new(MemorySink::default()),
        4,
        cancel,
        &|event| {
            if matches!(event, RunEvent::Interrupted { .. }) {
                *interrupted.lock().unwrap() += 1;
            }
        },
    )
    .await
    .unwrap();
    assert_eq!((summary.finished, summary.interrupted), (0, 20));
    assert_eq!(*interrupted.lock().unwrap(), 20);
}

#[tokio::test]
async fn cancelling_mid_episode_keeps_finished_steps() {
    let cancel = CancellationToken::new();
    let cancel2 = cancel.clone();
    let model = support::FnModel(Box::new(move |index, _| {
        if index == 2 {
            cancel2.cancel();
        }
        Ok(call("get", json!({"key": "x"})))
    }));
    let sink = MemorySink::default();
    let env = ToyFactory::default().create().unwrap();
    let outcome = run_episode(
        &spec(0, RuntimeConfig::default()),
        &model,
        env,
        &[],
        &sink,
        &cancel,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, EpisodeOutcome::Interrupted { steps: 3 }),
        "{outcome:?}"
    );
    assert_eq!(sink.steps().len(), 3);
    assert!(sink.ends.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_run_config_forces_constrained_decoding_on_or_off() {
    for forced in [Some(true), Some(false), None] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let gold = gold_model();
        let log = Arc::clone(&seen);
        let model = support::FnModel(Box::new(move |index, request| {
            log.lock().unwrap().push(request.constrain_tool_calls);
            (gold.0)(index, request)
        }));
        let config = RuntimeConfig {
            constrained_decoding: forced,
            ..RuntimeConfig::default()
        };
        let (end, _) = play(&model, &[], config, 1).await;
        assert_eq!(end.exit, ExitStatus::Success);
        let flags = seen.lock().unwrap().clone();
        assert!(!flags.is_empty());
        assert!(
            flags.iter().all(|f| *f == forced.unwrap_or(false)),
            "{forced:?}: {flags:?}"
        );
    }
}

/// Leaves `submit` out of decoding until a `set` has succeeded.
struct SubmitAfterSet;

impl Layer for SubmitAfterSet {
    fn name(&self) -> &str {
        "guide-test"
    }
    fn wants_constrained_decoding(&self) -> bool {
        true
    }
    fn guide(
        &self,
        view: &lifeharness_core::EpisodeView<'_>,
        guide: &mut lifeharness_core::DecodingGuide,
    ) -> Result<(), lifeharness_core::LayerError> {
        let set = view.history.iter().any(|h| {
            matches!(&h.action, Action::ToolCall(c) if c.name == "set")
                && h.observation.as_ref().is_some_and(|o| !o.is_error)
        });
        if !set {
            let offered: Vec<String> = view.tools.iter().map(|t| t.name.clone()).collect();
            guide.exclude(&offered, "submit", "submit-after-set");
        }
        Ok(())
    }
}

#[tokio::test]
async fn guided_decoding_sends_each_turns_guide_and_records_its_changes() {
    for guided in [None, Some(false)] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let gold = gold_model();
        let log = Arc::clone(&seen);
        let model = support::FnModel(Box::new(move |index, request| {
            log.lock().unwrap().push(request.guide.clone());
            (gold.0)(index, request)
        }));
        let config = RuntimeConfig {
            guided_decoding: guided,
            ..RuntimeConfig::default()
        };
        let layers: [Arc<dyn Layer>; 1] = [Arc::new(SubmitAfterSet)];
        let (end, sink) = play(&model, &layers, config, 1).await;
        assert_eq!(end.exit, ExitStatus::Success);
        let guides = seen.lock().unwrap().clone();
        let guide_events: Vec<String> = sink
            .events()
            .iter()
            .filter(|e| e.verdict == VerdictKind::Guide)
            .filter_map(|e| e.message.clone())
            .collect();
        if guided == Some(false) {
            assert!(guides.iter().all(Option::is_none), "{guides:?}");
            assert!(guide_events.is_empty());
            continue;
        }
        // Submit is left out until a set has succeeded; the guide of the
        // submitting turn is empty, and an unchanged guide is recorded once.
        let first = guides[0].as_ref().expect("a guide on the first turn");
        assert!(!first.allows("submit") && first.allows("set"));
        assert!(guides.last().is_some_and(Option::is_none), "{guides:?}");
        assert_eq!(
            guide_events,
            vec!["2 tool(s) allowed; left out: submit (submit-after-set)".to_string()]
        );
    }
}

/// Asks for a context budget of this many tokens.
struct Budget(usize);

impl Layer for Budget {
    fn name(&self) -> &str {
        "context"
    }
    fn context_policy(&self) -> Option<lifeharness_core::ContextPolicy> {
        Some(lifeharness_core::ContextPolicy {
            budget: lifeharness_core::ContextBudget::Tokens(self.0),
            keep_last_turns: 1,
            keep_fields: Vec::new(),
        })
    }
}

#[tokio::test]
async fn a_context_budget_that_cannot_be_met_is_recorded_not_fatal() {
    let layers: [Arc<dyn Layer>; 1] = [Arc::new(Budget(64))];
    let (end, sink) = play(&gold_model(), &layers, RuntimeConfig::default(), 1).await;
    assert_eq!(end.exit, ExitStatus::Success);
    let trims: Vec<String> = sink
        .events()
        .iter()
        .filter(|e| e.verdict == VerdictKind::Trim)
        .filter_map(|e| e.message.clone())
        .collect();
    assert!(!trims.is_empty());
    assert!(
        trims.iter().all(|m| m.contains("estimated; budget 64")),
        "{trims:?}"
    );
    // A budget the prompts fit in changes nothing and records nothing.
    let layers: [Arc<dyn Layer>; 1] = [Arc::new(Budget(1_000_000))];
    let (end, sink) = play(&gold_model(), &layers, RuntimeConfig::default(), 1).await;
    assert_eq!(end.exit, ExitStatus::Success);
    assert!(!verdicts(&sink).contains(&VerdictKind::Trim));
}
