//! Diagnosis, replay, audit and import against real environments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::Arc;

use lifeharness_core::{
    Action, ActionRecord, EnvInfo, EnvironmentFactory, EpisodeEnd, EpisodeHeader, ExitStatus,
    HarnessInfo, MatchQuality, ModelInfo, ModelTurn, Observation, Reward, Step, Task, ToolCall,
    Trajectory, Usage,
};
use lifeharness_diagnose::import::{self, Format, ImportOptions};
use lifeharness_diagnose::{
    Auditor, Category, DiagnoseError, DivergenceKind, Recorded, Replayer, diagnose,
};
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use lifeharness_env_toy::ToyFactory;
use lifeharness_rules::Harness;
use serde_json::{Value, json};

fn call(name: &str, args: Value) -> Action {
    Action::ToolCall(ToolCall::from_value("c", name, args))
}

/// A trajectory of one action per step, each with its observation text and error flag.
fn trajectory(
    task: &Task,
    actions: Vec<(Action, &str, bool)>,
    reward: f64,
    exit: ExitStatus,
) -> Trajectory {
    let steps = actions
        .into_iter()
        .enumerate()
        .map(|(index, (action, text, is_error))| {
            let observation = match &action {
                Action::ToolCall(c) => Observation::tool(c, text, is_error),
                _ => Observation::user(text),
            };
            Step {
                index,
                turn: Some(ModelTurn::default()),
                model_error: None,
                actions: vec![ActionRecord {
                    proposed: action.clone(),
                    executed: Some(action),
                    observation: Some(observation),
                    correction: None,
                    done: false,
                }],
                injected: Vec::new(),
                events: Vec::new(),
            }
        })
        .collect::<Vec<_>>();
    let n = steps.len();
    Trajectory {
        format: lifeharness_core::TRAJECTORY_FORMAT.into(),
        version: lifeharness_core::TRAJECTORY_VERSION,
        header: EpisodeHeader {
            run_id: "r".into(),
            episode_id: format!("{}-t0", task.id),
            task: task.clone(),
            trial: 0,
            attempt: 0,
            seed: 0,
            environment: EnvInfo::default(),
            model: ModelInfo::default(),
            harness: HarnessInfo::default().into(),
            system_text: String::new(),
            events: Vec::new(),
            started_at: String::new(),
        },
        steps,
        end: Some(EpisodeEnd {
            exit,
            failure: None,
            reason: None,
            reward: Some(Reward::simple(reward)),
            steps: n,
            usage: Usage::default(),
            model_latency_ms: 0.0,
            finished_at: String::new(),
        }),
    }
}

fn toy_task(factory: &ToyFactory, id: &str) -> Task {
    factory.task(id).unwrap()
}

#[test]
fn an_unrecovered_unknown_tool_is_action_realization() {
    let toy = ToyFactory::default();
    // toy-0: set a key, then submit.
    let task = toy_task(&toy, "toy-0");
    let t = trajectory(
        &task,
        vec![
            (
                call("put", json!({"key": "color"})),
                "Error: unknown tool 'put'",
                true,
            ),
            (call("submit", json!({})), "submitted", false),
        ],
        0.0,
        ExitStatus::Failure,
    );
    let d = diagnose(Some(&toy), &Recorded::from_trajectory(&t)).unwrap();
    assert_eq!(d.category, Some(Category::ActionRealization));
    assert_eq!(d.first_critical_step, Some(0));
    assert_eq!(d.signature.as_deref(), Some("put: unknown_tool"));
    let evidence = d.evidence.unwrap();
    assert_eq!(
        evidence.observation.as_deref(),
        Some("Error: unknown tool 'put'")
    );
    // The reference's write never happened either: recorded as a divergence.
    assert!(
        d.divergences
            .iter()
            .any(|v| v.kind == DivergenceKind::PrematureStop)
    );
    assert_eq!(d.wasted_steps.get(&Category::ActionRealization), Some(&1));
}

#[test]
fn a_recovered_error_does_not_decide_and_a_wrong_value_is_reasoning() {
    let toy = ToyFactory::default();
    let task = toy_task(&toy, "toy-0");
    let key = task.data["gold"][0]["arguments"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let t = trajectory(
        &task,
        vec![
            (
                call("set", json!({"key": key})),
                "Error: missing string argument 'value'",
                true,
            ),
            (
                call("set", json!({"key": key, "value": "wrong"})),
                "ok",
                false,
            ),
            (call("submit", json!({})), "submitted", false),
        ],
        0.0,
        ExitStatus::Failure,
    );
    let d = diagnose(Some(&toy), &Recorded::from_trajectory(&t)).unwrap();
    assert!(d.signals[0].recovered, "{:?}", d.signals);
    assert_eq!(d.category, Some(Category::ResidualReasoning));
    assert_eq!(d.first_critical_step, Some(1));
    let e = d.evidence.unwrap();
    assert_eq!(e.divergence, Some(DivergenceKind::WrongArguments));
    assert_eq!(e.reference.unwrap().args().unwrap()["key"], json!(key));
}

#[test]
fn repetition_until_the_budget_is_degeneration() {
    let toy = ToyFactory::default();
    let task = toy_task(&toy, "toy-1");
    let key = task.data["gold"][0]["arguments"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let get = || (call("get", json!({"key": key})), "blue", false);
    let t = trajectory(
        &task,
        vec![get(), get(), get(), get()],
        0.0,
        ExitStatus::Budget,
    );
    let d = diagnose(Some(&toy), &Recorded::from_trajectory(&t)).unwrap();
    assert_eq!(d.category, Some(Category::TrajectoryDegeneration));
    assert_eq!(d.first_critical_step, Some(0));
    assert_eq!(d.signature.as_deref(), Some("repeat: get"));
    assert_eq!(
        d.wasted_steps.get(&Category::TrajectoryDegeneration),
        Some(&3)
    );
}

#[test]
fn successes_get_no_label() {
    let toy = ToyFactory::default();
    let task = toy_task(&toy, "toy-0");
    let g = &task.data["gold"][0]["arguments"];
    let t = trajectory(
        &task,
        vec![
            (call("set", g.clone()), "ok", false),
            (call("submit", json!({})), "submitted", false),
        ],
        1.0,
        ExitStatus::Success,
    );
    let d = diagnose(Some(&toy), &Recorded::from_trajectory(&t)).unwrap();
    assert_eq!(d.category, None);
    assert!(d.divergences.is_empty());
    assert_eq!(d.tools_used, vec!["set", "submit"]);
}

fn retail() -> Tau2Factory {
    Tau2Factory::retail(UserMode::Ticket).unwrap()
}

fn airline() -> Tau2Factory {
    Tau2Factory::airline(UserMode::Ticket).unwrap()
}

#[tokio::test]
async fn replay_gives_rules_the_state_and_flags_divergent_results() {
    let f = retail();
    let task = f.task("0").unwrap();
    let gold = f.reference_actions(&task).unwrap().unwrap();
    let first = gold[0].as_tool_call().unwrap().clone();
    let mut replay = Replayer::start(&f, &task, 0, "test").await.unwrap();
    assert!(
        replay.view(0).state.is_some(),
        "views carry the replayed state"
    );
    let wrong = Observation::tool(&first, "a result that was never returned", false);
    let got = replay
        .execute(0, &gold[0], Some(&wrong))
        .await
        .unwrap()
        .unwrap();
    assert!(!got.content.is_empty());
    assert_eq!(replay.divergences().len(), 1);
    assert_eq!(replay.divergences()[0].tool, first.name);
    // The same result again is not a divergence.
    let mut again = Replayer::start(&f, &task, 0, "test").await.unwrap();
    again.execute(0, &gold[0], Some(&got)).await.unwrap();
    assert!(again.divergences().is_empty());
}

fn shipped(name: &str) -> Arc<lifeharness_rules::CompiledHarness> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../harnesses")
        .join(name);
    Arc::new(Harness::load_compiled(&path).unwrap())
}

#[tokio::test]
async fn auditing_gold_with_state_finds_no_false_positive_in_the_shipped_airline_harness() {
    let f = airline();
    let mut auditor = Auditor::new(shipped("tau2-airline.toml"));
    for task in f.tasks("all").unwrap() {
        let gold = f.reference_actions(&task).unwrap().unwrap();
        auditor
            .audit(&f, &Recorded::reference(&task, gold))
            .await
            .unwrap();
    }
    let report = auditor.finish();
    assert_eq!(report.episodes, 50);
    assert_eq!(report.successful.episodes, 50);
    assert!(report.successful.counts.actions > 100);
    assert_eq!(
        report.false_positive_count, 0,
        "{:#?}",
        report.false_positives
    );
}

#[tokio::test]
async fn a_block_in_a_successful_episode_is_listed_as_a_false_positive() {
    let toy = ToyFactory::default();
    let harness = Harness::compile_toml(
        r#"
format_version = 1
name = "deny-set"
origin = "hand-written"

[[realization.rules]]
id = "never-set"
tools = ["set"]
require = "false"
message = "do not set"
examples = [{ args = { key = "a", value = "b" }, expect = "block" }]

[[realization.rules]]
id = "never-get"
tools = ["get"]
require = "false"
message = "do not get"
examples = [{ args = { key = "a" }, expect = "block" }]
"#,
        "inline",
    );
    let Ok(harness) = harness else {
        // The rule syntax is the harness file's; keep the test honest about it.
        panic!("inline harness did not compile: {:?}", harness.err());
    };
    let task = toy_task(&toy, "toy-0");
    let g = task.data["gold"][0]["arguments"].clone();
    let t = trajectory(
        &task,
        vec![
            (call("set", g), "ok", false),
            (call("submit", json!({})), "submitted", false),
        ],
        1.0,
        ExitStatus::Success,
    );
    let mut auditor = Auditor::new(Arc::new(harness));
    auditor
        .audit(&toy, &Recorded::from_trajectory(&t))
        .await
        .unwrap();
    let r = auditor.finish();
    assert_eq!(r.false_positive_count, 1);
    assert_eq!(r.false_positives[0].rule_id, "never-set");
    assert_eq!(r.rules["never-set"].successful.blocked, 1);
}

fn lookup(name: &str) -> Result<Arc<dyn EnvironmentFactory>, DiagnoseError> {
    match name {
        "tau2-retail" => Ok(Arc::new(retail())),
        "tau2-airline" => Ok(Arc::new(airline())),
        other => Err(DiagnoseError::Input(format!("unknown environment {other}"))),
    }
}

fn tau2_file(task_id: &str, calls: &[(&str, Value)], reward: f64) -> Value {
    let mut messages =
        vec![json!({"role": "assistant", "content": "Hi! How can I help you today?"})];
    messages.push(json!({"role": "user", "content": "I need help."}));
    for (i, (name, args)) in calls.iter().enumerate() {
        let id = format!("call_{i}");
        messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": id, "name": name, "arguments": args, "requestor": "assistant"}]}));
        messages.push(json!({"role": "tool", "id": id, "content": "{}", "requestor": "assistant", "error": false}));
    }
    json!({
        "timestamp": "2025-01-01T00:00:00",
        "info": {"agent_info": {"llm": "test-agent"}, "user_info": {"llm": "test-user"},
                 "environment_info": {"domain_name": "retail"}},
        "tasks": [],
        "simulations": [{"task_id": task_id, "trial": 0, "seed": 7, "messages": messages,
                         "termination_reason": "user_stop",
                         "reward_info": {"reward": reward, "reward_breakdown": {"DB": reward}}}]
    })
}

#[test]
fn tau2_results_import_keeps_reward_and_marks_the_source() {
    let file = tau2_file(
        "0",
        &[(
            "find_user_id_by_name_zip",
            json!({"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}),
        )],
        1.0,
    );
    let imported = import::import_tau2(
        &file,
        "sims.json",
        "abcdef0123456789",
        &ImportOptions::default(),
        &lookup,
    )
    .unwrap();
    assert_eq!(imported.format, Format::Tau2);
    assert_eq!(imported.run_id, "import-abcdef012345");
    let t = &imported.trajectories[0];
    assert_eq!(t.header.task.id, "0");
    assert_eq!(t.header.model.backend, "imported");
    assert_eq!(t.header.model.spec, "imported:test-agent");
    assert_eq!(
        t.end.as_ref().unwrap().reward.as_ref().unwrap().value,
        Some(1.0)
    );
    assert_eq!(t.steps.len(), 2, "greeting + one call");
    let call = t.steps[1].actions[0].proposed.as_tool_call().unwrap();
    assert_eq!(call.name, "find_user_id_by_name_zip");
    assert_eq!(
        t.steps[1].actions[0]
            .observation
            .as_ref()
            .unwrap()
            .content
            .as_ref(),
        "{}"
    );
    assert!(
        t.header.events[0]
            .message
            .as_ref()
            .unwrap()
            .contains("sims.json")
    );
    let r = Recorded::from_trajectory(t);
    assert!(r.source.unwrap().contains("tau2 sims.json"));
}

#[test]
fn bad_import_input_is_named() {
    // A task id the environment does not have.
    let file = tau2_file("no-such-task", &[], 0.0);
    let err = import::import_tau2(&file, "sims.json", "00", &ImportOptions::default(), &lookup)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("simulation 0: task 'no-such-task' is not a tau2-retail task"),
        "{err}"
    );
    // Truncated JSON names the place.
    let dir = tempfile_dir();
    let path = dir.join("cut.json");
    std::fs::write(
        &path,
        "{\"simulations\": [{\"task_id\": \"0\",\n \"messages\": [",
    )
    .unwrap();
    let err = import::import_path(&path, None, &ImportOptions::default(), &lookup).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cut.json:2:") && text.contains("truncated"),
        "{text}"
    );
    // Something in none of the formats.
    let path = dir.join("x.csv");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let err = import::import_path(&path, None, &ImportOptions::default(), &lookup).unwrap_err();
    assert!(
        err.to_string().contains("not a lifeharness JSONL export"),
        "{err}"
    );
    // A message role no format has.
    let mut file = tau2_file("0", &[], 0.0);
    file["simulations"][0]["messages"][1]["role"] = json!("narrator");
    let err = import::import_tau2(&file, "sims.json", "00", &ImportOptions::default(), &lookup)
        .unwrap_err();
    assert!(
        err.to_string().contains("message 1 has role 'narrator'"),
        "{err}"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lh-diagnose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A τ-bench record for one of our airline tasks, as τ-bench would have
/// written it: the user, the instruction and the gold actions as kwargs.
fn tau_bench_record(f: &Tau2Factory, our_id: &str, v1_id: u64, trial: u64) -> Value {
    let task = f.task(our_id).unwrap();
    let raw: lifeharness_env_tau2::task::Tau2Task =
        serde_json::from_value(task.data.clone()).unwrap();
    let text = raw.user_scenario.to_string();
    let user = text
        .split_whitespace()
        .find(|w| {
            w.contains('_')
                && w.chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_digit() || c == '.')
        })
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    let actions: Vec<Value> = f
        .reference_actions(&task)
        .unwrap()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_tool_call())
        .map(|c| json!({"name": c.name, "kwargs": c.args().unwrap()}))
        .collect();
    json!({
        "task_id": v1_id, "trial": trial, "reward": 0.0,
        "info": {"task": {"user_id": user, "actions": actions, "instruction": text, "outputs": []},
                 "reward_info": {"reward": 0.0, "info": {"r_actions": 0.0}}},
        "traj": [
            {"role": "system", "content": "policy"},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_user_details", "arguments": format!("{{\"user_id\": \"{user}\"}}")}}]},
            {"role": "tool", "tool_call_id": "call_1", "name": "get_user_details", "content": "{}"},
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "###STOP###"}
        ]
    })
}

#[test]
fn tau_bench_records_are_matched_to_our_tasks_one_to_one() {
    let f = airline();
    // Two v1 ids for two of our tasks, two trials of one of them.
    let records = json!([
        tau_bench_record(&f, "20", 0, 0),
        tau_bench_record(&f, "20", 0, 1),
        tau_bench_record(&f, "5", 7, 0),
    ]);
    let imported = import::import_tau_bench(
        &records,
        "gpt-4o-airline.json",
        "ff",
        &ImportOptions::default(),
        &lookup,
    )
    .unwrap();
    assert_eq!(imported.trajectories.len(), 3);
    let ids: Vec<&str> = imported
        .trajectories
        .iter()
        .map(|t| t.header.task.id.as_str())
        .collect();
    assert_eq!(ids, vec!["20", "20", "5"]);
    assert_eq!(imported.mapping.len(), 2);
    assert!(
        imported
            .mapping
            .iter()
            .all(|m| m.matched.quality == MatchQuality::Exact),
        "{:#?}",
        imported.mapping
    );
    assert_eq!(imported.mapping[0].records, 2);
    let t = &imported.trajectories[0];
    assert_eq!(t.header.system_text, "policy");
    assert_eq!(t.header.model.spec, "imported:gpt-4o (from the file name)");
    // get_user_details, then the closing message.
    assert_eq!(t.steps.len(), 2);
    // A record whose user is nobody of ours is refused, naming it.
    let mut stranger = tau_bench_record(&f, "5", 9, 0);
    stranger["info"]["task"]["user_id"] = json!("nobody_0000");
    let airline_only = ImportOptions {
        env: Some("tau2-airline".into()),
        ..ImportOptions::default()
    };
    let err = import::import_tau_bench(
        &json!([stranger.clone()]),
        "x.json",
        "ff",
        &airline_only,
        &lookup,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("tau-bench task 9: no tau2-airline task is about user nobody_0000"),
        "{err}"
    );
    let skipping = ImportOptions {
        skip_unmapped: true,
        ..airline_only
    };
    let imported = import::import_tau_bench(
        &json!([stranger, tau_bench_record(&f, "5", 7, 0)]),
        "x.json",
        "ff",
        &skipping,
        &lookup,
    )
    .unwrap();
    assert_eq!(imported.trajectories.len(), 1);
    assert_eq!(imported.skipped.len(), 1);
}

#[tokio::test]
async fn imported_tau2_episodes_are_diagnosed_with_their_environment() {
    // An agent that found the user and then cancelled nothing: task 0's writes are missing.
    let f = retail();
    let file = tau2_file(
        "0",
        &[(
            "find_user_id_by_name_zip",
            json!({"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}),
        )],
        0.0,
    );
    let imported =
        import::import_tau2(&file, "sims.json", "00", &ImportOptions::default(), &lookup).unwrap();
    let r = Recorded::from_trajectory(&imported.trajectories[0]);
    let d = diagnose(Some(&f), &r).unwrap();
    assert_eq!(d.category, Some(Category::ResidualReasoning));
    assert!(
        d.divergences
            .iter()
            .all(|v| v.kind == DivergenceKind::PrematureStop),
        "{:?}",
        d.divergences
    );
    assert!(!d.divergences.is_empty());
    // Replayed, the recorded "{}" differs from what the environment returns.
    let mut auditor = Auditor::new(shipped("tau2-retail.toml"));
    auditor.audit(&f, &r).await.unwrap();
    assert_eq!(auditor.report().divergent_steps, 1);
}

#[test]
fn retail_tasks_are_matched_by_the_users_name_and_orders() {
    // Retail tasks never name the user id: the match goes through the
    // user's name in the database and the orders in the reference actions.
    let f = retail();
    let task = f.task("2").unwrap();
    let actions: Vec<Value> = f
        .reference_actions(&task)
        .unwrap()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_tool_call())
        .map(|c| json!({"name": c.name, "kwargs": c.args().unwrap()}))
        .collect();
    let record = json!({
        "task_id": 2, "trial": 0, "reward": 1.0,
        "info": {"task": {"user_id": "yusuf_rossi_9620", "actions": actions,
                          "instruction": task.instruction, "outputs": []},
                 "reward_info": {"reward": 1.0, "info": {"r_actions": 1.0}}},
        "traj": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."}]
    });
    let options = ImportOptions {
        env: Some("tau2-retail".into()),
        ..ImportOptions::default()
    };
    let imported =
        import::import_tau_bench(&json!([record]), "r.json", "ee", &options, &lookup).unwrap();
    assert_eq!(
        imported.mapping[0].matched.task_id.as_deref(),
        Some("2"),
        "{:#?}",
        imported.mapping
    );
    assert_eq!(imported.mapping[0].matched.quality, MatchQuality::Exact);
}

#[tokio::test]
async fn the_audit_counts_each_call_once_towards_a_repeat() {
    // Two identical calls in a row: under a threshold of 3 nothing fires
    // (the audit once counted every call twice), a third call nudges.
    let toy = ToyFactory::default();
    let text = "format_version = 1\nname = \"reg\"\n[regulation]\nrepeat_threshold = 3\ncycle_repeats = 0\nsame_tool_errors = 0\nbudget_warning_fraction = 0.0\n";
    let task = toy_task(&toy, "toy-1");
    let get = || (call("get", json!({"key": "color"})), "blue", false);
    for (calls, nudges) in [(2, 0), (3, 1)] {
        let t = trajectory(
            &task,
            (0..calls).map(|_| get()).collect(),
            0.0,
            ExitStatus::Failure,
        );
        let mut auditor = Auditor::new(Arc::new(Harness::compile_toml(text, "inline").unwrap()));
        auditor
            .audit(&toy, &Recorded::from_trajectory(&t))
            .await
            .unwrap();
        assert_eq!(
            auditor.finish().failed.counts.nudged,
            nudges,
            "{calls} calls"
        );
    }
}
