//! A trajectory that uses every field, written through the sink.

use std::sync::Arc;

use lifeharness_core::{
    Action, ActionRecord, EnvInfo, EpisodeEnd, EpisodeHeader, ExitStatus, FailureKind, HarnessInfo,
    HookPoint, LayerEvent, Message, ModelError, ModelErrorKind, ModelInfo, ModelTurn, Observation,
    Reward, RewardComponent, Step, Task, ToolCall, Trajectory, TrajectorySink, Usage, VerdictKind,
};
use lifeharness_store::Store;
use serde_json::{Value, json};

/// A harness configuration of about `kib` KiB.
pub fn big_config(kib: usize, tag: &str) -> Value {
    let rules: Vec<Value> = (0..kib * 20)
        .map(|i| json!({"id": format!("{tag}-{i}"), "when": "args.order_id != ''", "n": i}))
        .collect();
    json!({"format_version": 1, "name": tag, "rules": rules, "ratio": 0.1 + 0.2})
}

pub fn harness(tag: &str) -> HarnessInfo {
    HarnessInfo {
        id: format!("sha256:{tag}"),
        name: tag.into(),
        config: big_config(32, tag),
    }
}

pub fn rich_header(run: &str, episode: &str, harness: HarnessInfo) -> EpisodeHeader {
    let mut setup = LayerEvent::new("contract", HookPoint::BeforeEpisode, VerdictKind::Setup);
    setup.message = Some("3 tool notes".into());
    EpisodeHeader {
        run_id: run.into(),
        episode_id: episode.into(),
        task: Task {
            id: "5".into(),
            environment: "tau2-retail".into(),
            instruction: "exchange the keyboard".into(),
            data: json!({"user_scenario": {"known_info": "Yusuf Rossi, 19122"},
                         "actions": [{"name": "get_order_details", "arguments": {"order_id": "#W1"}}],
                         "weights": [1, 2.5, -0.0, 1e300, null, true]}),
        },
        trial: 3,
        attempt: 1,
        seed: u64::MAX - 7,
        environment: EnvInfo {
            name: "tau2-retail".into(),
            version: "1".into(),
            config: json!({"user_mode": "ticket", "round_limit": null}),
        },
        model: ModelInfo {
            spec: "scripted".into(),
            backend: "scripted".into(),
            config: json!({"turns": 4}),
        },
        harness: harness.into(),
        system_text: "policy\n\n# tools\n".repeat(200),
        events: vec![setup],
        started_at: "2026-01-01T00:00:00Z".into(),
    }
}

pub fn rich_steps() -> Vec<Step> {
    let call = ToolCall::from_raw("call_0", "get_order_details", r##"{"order_id": "#W1"}"##);
    let bad = ToolCall::from_raw("call_1", "get_order_details", "{not json");
    let mut block = LayerEvent::new("realization", HookPoint::AfterTurn, VerdictKind::Block);
    block.rule_id = Some("order-id-format".into());
    block.message = Some("order ids start with #W".into());
    block.failure = Some(FailureKind::ContractViolation);
    let mut watched = LayerEvent::new(
        "regulation",
        HookPoint::AfterObservation,
        VerdictKind::Nudge,
    );
    watched.observe_only = true;
    let allow = LayerEvent::new("realization", HookPoint::AfterTurn, VerdictKind::Allow);
    let mut observation = Observation::tool(
        &call,
        Arc::<str>::from("{\"status\": \"delivered\"}"),
        false,
    );
    observation
        .notes
        .push("note: delivered orders can be exchanged".into());
    let mut turn = ModelTurn::calls(vec![call.clone(), bad.clone()]);
    turn.text = Some("Let me look.".into());
    turn.usage = Usage {
        prompt_tokens: 1200,
        completion_tokens: 31,
    };
    turn.latency_ms = 12.625;
    vec![
        Step {
            index: 0,
            turn: Some(turn),
            model_error: None,
            actions: vec![
                ActionRecord {
                    proposed: Action::ToolCall(call.clone()),
                    executed: Some(Action::ToolCall(call)),
                    observation: Some(observation),
                    correction: None,
                    done: false,
                },
                ActionRecord {
                    proposed: Action::ToolCall(bad),
                    executed: None,
                    observation: None,
                    correction: Some("the arguments are not JSON".into()),
                    done: false,
                },
            ],
            injected: vec![Message::user("[harness] keep going")],
            events: vec![allow.clone(), block, watched, allow],
        },
        Step {
            index: 1,
            turn: None,
            model_error: Some(ModelError::new(
                ModelErrorKind::Timeout,
                "no answer in 30 s",
            )),
            actions: vec![],
            injected: vec![],
            events: vec![],
        },
        Step {
            index: 2,
            turn: Some(ModelTurn::text("done ###STOP###")),
            model_error: None,
            actions: vec![ActionRecord {
                proposed: Action::Message {
                    content: "done ###STOP###".into(),
                },
                executed: Some(Action::Message {
                    content: "done ###STOP###".into(),
                }),
                observation: Some(Observation::environment("[ticket mode] episode ended")),
                correction: None,
                done: true,
            }],
            injected: vec![],
            events: vec![LayerEvent::new(
                "regulation",
                HookPoint::AfterObservation,
                VerdictKind::Continue,
            )],
        },
    ]
}

pub fn rich_end() -> EpisodeEnd {
    EpisodeEnd {
        exit: ExitStatus::Failure,
        failure: Some(FailureKind::PolicyDenied),
        reason: Some("reward 0.5".into()),
        reward: Some(Reward {
            value: Some(0.5),
            breakdown: vec![
                RewardComponent {
                    name: "DB".into(),
                    score: Some(1.0),
                    detail: json!({"hash": "abc"}),
                },
                RewardComponent {
                    name: "NL".into(),
                    score: None,
                    detail: Value::Null,
                },
            ],
        }),
        steps: 3,
        usage: Usage {
            prompt_tokens: 2400,
            completion_tokens: 40,
        },
        model_latency_ms: 0.1 + 0.2,
        finished_at: "2026-01-01T00:00:09Z".into(),
    }
}

/// Writes a whole trajectory through the sink, as the runtime does.
pub async fn record(store: &Store, t: &Trajectory) {
    store.begin_episode(&t.header).await.unwrap();
    for step in &t.steps {
        store
            .record_step(&t.header.run_id, &t.header.episode_id, step)
            .await
            .unwrap();
    }
    if let Some(end) = &t.end {
        store
            .end_episode(&t.header.run_id, &t.header.episode_id, end)
            .await
            .unwrap();
    }
}

/// A tool result long enough to be stored as a blob (`tag` makes it unique).
pub fn long_result(tag: &str) -> String {
    let items: Vec<String> = (0..40)
        .map(|i| format!("{{\"item_id\": \"{tag}-{i}\", \"price\": {i}.5, \"note\": \"caf\u{e9} \\\"q\\\"\"}}"))
        .collect();
    format!("{{\"items\": [{}]}}", items.join(", "))
}

/// Sets the first step's tool result.
pub fn with_result(t: &mut Trajectory, text: &str) {
    let observation = t.steps[0].actions[0].observation.as_mut().unwrap();
    observation.content = Arc::from(text);
}

pub fn rich(run: &str, episode: &str, harness: HarnessInfo) -> Trajectory {
    let mut t = Trajectory::new(rich_header(run, episode, harness));
    t.steps = rich_steps();
    t.end = Some(rich_end());
    t
}

#[tokio::test]
async fn a_trajectory_reads_back_exactly_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    let written = rich("r", "5/3/a1", harness("h"));
    record(&store, &written).await;
    let back = store.trajectory("r", "5/3/a1").unwrap();
    assert_eq!(back, written);
    // The same JSON, byte for byte.
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        serde_json::to_string(&written).unwrap()
    );
    let rows = store.episodes("r").unwrap();
    assert_eq!((rows[0].trial, rows[0].steps), (3, 3));
    assert_eq!(rows[0].exit.as_deref(), Some("failure"));
    assert_eq!(rows[0].reward, Some(0.5));
}

#[tokio::test]
async fn an_unfinished_episode_reads_back_without_an_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    let mut written = rich("r", "e", harness("h"));
    written.end = None;
    written.steps.truncate(1);
    record(&store, &written).await;
    assert_eq!(store.mark_interrupted("r").unwrap(), 1);
    assert_eq!(store.trajectory("r", "e").unwrap(), written);
    assert_eq!(store.episodes("r").unwrap()[0].status, "interrupted");
}

#[tokio::test]
async fn export_is_self_contained_and_import_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    let shared = harness("h");
    let a = rich("r", "a", shared.clone());
    let b = rich("r", "b", shared.clone());
    record(&store, &a).await;
    record(&store, &b).await;
    let mut out = Vec::new();
    assert_eq!(store.export_jsonl("r", &mut out).unwrap(), 2);
    let text = String::from_utf8(out.clone()).unwrap();
    for (line, expected) in text.lines().zip([&a, &b]) {
        // Each line carries everything: no references to shared rows.
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["header"]["harness"]["config"], shared.config);
        assert_eq!(value["header"]["task"]["data"], expected.header.task.data);
        assert_eq!(
            value["header"]["system_text"],
            json!(expected.header.system_text)
        );
        assert_eq!(line, serde_json::to_string(expected).unwrap());
    }
    let other = Store::open(&dir.path().join("b.db")).unwrap();
    assert_eq!(
        other.import_jsonl(&mut out.as_slice(), "r.jsonl").unwrap(),
        2
    );
    assert_eq!(other.trajectory("r", "a").unwrap(), a);
    assert_eq!(other.trajectory("r", "b").unwrap(), b);
    // Exporting the import gives the same lines again.
    let mut again = Vec::new();
    other.export_jsonl("r", &mut again).unwrap();
    assert_eq!(again, out);
}

#[tokio::test]
async fn concurrent_writes_commit_and_a_bad_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let t = rich("r", &format!("e{i}"), harness("h"));
            record(&store, &t).await;
            t
        }));
    }
    // Interleaved with them: a step for an episode that was never begun.
    let orphan = store.record_step("r", "nope", &crate::step(0)).await;
    let err = orphan.unwrap_err().to_string();
    assert!(err.contains("not begun"), "{err}");
    for task in tasks {
        let t = task.await.unwrap();
        assert_eq!(store.trajectory("r", &t.header.episode_id).unwrap(), t);
    }
    assert_eq!(store.runs().unwrap()[0].finished, 40);
}
