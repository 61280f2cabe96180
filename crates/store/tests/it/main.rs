//! Store integration tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use lifeharness_core::{
    Action, ActionRecord, EnvInfo, EpisodeEnd, EpisodeHeader, ExitStatus, HarnessInfo, HookPoint,
    LayerEvent, ModelInfo, ModelTurn, Reward, Step, Task, ToolCall, TrajectorySink, Usage,
    VerdictKind,
};
use lifeharness_store::Store;
use serde_json::json;

mod dedup;
mod merge;
mod migrate;
mod rich;

/// A small header for `run`/`episode`.
pub fn header(run: &str, episode: &str) -> EpisodeHeader {
    EpisodeHeader {
        run_id: run.into(),
        episode_id: episode.into(),
        task: Task {
            id: "t1".into(),
            environment: "toy".into(),
            instruction: "do it".into(),
            data: json!({}),
        },
        trial: 0,
        attempt: 0,
        seed: 7,
        environment: EnvInfo::default(),
        model: ModelInfo::default(),
        harness: HarnessInfo::default().into(),
        system_text: "sys".into(),
        events: vec![],
        started_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// A step with one blocked call and its event.
pub fn step(index: usize) -> Step {
    let call = ToolCall::from_raw("c", "get", r#"{"key":"a"}"#);
    let mut event = LayerEvent::new("realization", HookPoint::AfterTurn, VerdictKind::Block);
    event.rule_id = Some("r1".into());
    Step {
        index,
        turn: Some(ModelTurn::calls(vec![call.clone()])),
        model_error: None,
        actions: vec![ActionRecord {
            proposed: Action::ToolCall(call),
            executed: None,
            observation: None,
            correction: Some("fix it".into()),
            done: false,
        }],
        injected: vec![],
        events: vec![event],
    }
}

#[tokio::test]
async fn steps_are_durable_and_export_import_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({"k": 1}))
        .unwrap();
    store.begin_episode(&header("r", "e1")).await.unwrap();
    store.record_step("r", "e1", &step(0)).await.unwrap();
    // A second connection sees the step before the episode ends.
    let other = Store::open(&dir.path().join("a.db")).unwrap();
    assert_eq!(other.episodes("r").unwrap()[0].steps, 1);
    assert_eq!(other.episodes("r").unwrap()[0].status, "running");
    let end = EpisodeEnd {
        exit: ExitStatus::Success,
        failure: None,
        reason: None,
        reward: Some(Reward::simple(1.0)),
        steps: 1,
        usage: Usage::default(),
        model_latency_ms: 1.0,
        finished_at: "2026-01-01T00:00:01Z".into(),
    };
    store.end_episode("r", "e1", &end).await.unwrap();
    let runs = store.runs().unwrap();
    assert_eq!((runs[0].finished, runs[0].successes), (1, 1));

    let mut buf = Vec::new();
    assert_eq!(store.export_jsonl("r", &mut buf).unwrap(), 1);
    let fresh = Store::open(&dir.path().join("b.db")).unwrap();
    assert_eq!(
        fresh.import_jsonl(&mut buf.as_slice(), "x.jsonl").unwrap(),
        1
    );
    let back = fresh.trajectory("r", "e1").unwrap();
    assert_eq!(back, store.trajectory("r", "e1").unwrap());
    assert_eq!(back.steps[0].events[0].rule_id.as_deref(), Some("r1"));
}

#[tokio::test]
async fn bad_import_names_the_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    let good =
        serde_json::to_string(&lifeharness_core::Trajectory::new(header("r", "e1"))).unwrap();
    let text = format!("{good}\n{{\"format\": 3}}\n");
    let err = store
        .import_jsonl(&mut text.as_bytes(), "in.jsonl")
        .unwrap_err()
        .to_string();
    assert!(err.contains("in.jsonl:2"), "{err}");
    assert!(store.runs().unwrap().is_empty());
}

#[test]
fn missing_run_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    let err = store.run("nope").unwrap_err().to_string();
    assert!(err.contains("no run 'nope'"), "{err}");
}
