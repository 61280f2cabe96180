//! The four layers, on their own and through the real runtime.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::Arc;

use async_trait::async_trait;
use lifeharness_core::{
    Action, ActionVerdict, ChatRequest, EnvironmentFactory, EpisodeSetup, EpisodeView, ExitStatus,
    FailureKind, FeedbackVerdict, HistoryEntry, JsonState, Layer, Message, Model, ModelError,
    ModelInfo, ModelTurn, Observation, Task, ToolCall, VerdictKind,
};
use lifeharness_env_toy::ToyFactory;
use lifeharness_layers::{ContractLayer, RealizationLayer, RegulationLayer, SkillsLayer, build};
use lifeharness_rules::{CompiledHarness, Harness};
use lifeharness_runtime::{EpisodeOutcome, EpisodeSpec, RuntimeConfig, run_episode};
use serde_json::{Value, json};

const TOY: &str = r#"
format_version = 1
name = "toy-test"

[contract]
system_append = "Keys are lower-case words."
pitfalls = [{ id = "pit-submit", text = "Call submit only once the store matches the request." }]
tools = [{ id = "note-set", tool = "set", append = "Overwrites any earlier value." }]

[[contract.constraints]]
id = "key-lowercase"
tool = "set"
arg = "key"
pattern = "^[a-z]+$"

[[contract.ordering]]
id = "read-before-submit"
tools = ["submit"]
after = ["get", "set"]

[[realization.rules]]
id = "no-overwrite"
tools = ["set"]
bind = { current = "{args.key}" }
require = "current == null || current == args.value"
message = "'{args.key}' already holds '{current}'; do not overwrite it."
examples = [
  { args = { key = "color", value = "red" }, state = { current = "blue" }, expect = "block" },
  { args = { key = "color", value = "red" }, expect = "allow" },
]

[[regulation.annotations]]
id = "echo-length"
tools = ["get"]
when = "ok"
note = "value has {size(output)} characters"

[[skills.skills]]
id = "copy"
title = "Copying a value"
environments = ["toy"]
tools = ["get", "set"]
body = "To copy a value, get the source key first, then set the target key to exactly that value."

[[skills.skills]]
id = "airline"
title = "Rebooking flights"
environments = ["tau2-airline"]
body = "Copy the passenger names exactly when you rebook a flight."

[[skills.skills]]
id = "submit"
title = "Finishing"
body = "Submit once the store matches the request; never submit twice."
"#;

fn harness(text: &str) -> Arc<CompiledHarness> {
    Arc::new(Harness::compile_toml(text, "toy-test.toml").unwrap())
}

fn toy_task(i: usize) -> Task {
    ToyFactory::default().tasks("all").unwrap()[i].clone()
}

fn toy_tools() -> Vec<lifeharness_core::ToolSpec> {
    ToyFactory::default().create().unwrap().tools()
}

fn call(name: &str, raw: &str) -> Action {
    Action::ToolCall(ToolCall::from_raw("c1", name, raw))
}

struct View {
    task: Task,
    tools: Vec<lifeharness_core::ToolSpec>,
    history: Vec<HistoryEntry>,
    events: Vec<lifeharness_core::LayerEvent>,
    state: JsonState,
}

impl View {
    fn new() -> Self {
        Self {
            task: toy_task(1),
            tools: toy_tools(),
            history: vec![],
            events: vec![],
            state: JsonState(json!({})),
        }
    }
    fn view(&self) -> EpisodeView<'_> {
        EpisodeView {
            task: &self.task,
            tools: &self.tools,
            history: &self.history,
            events: &self.events,
            step: self.history.len(),
            max_steps: 30,
            state: Some(&self.state),
            state_version: Some(0),
            admissible: None,
        }
    }
    fn executed(&mut self, action: Action, content: &str, is_error: bool) {
        let call = action.as_tool_call().cloned().unwrap();
        self.history.push(HistoryEntry {
            step: self.history.len(),
            action,
            observation: Some(Observation::tool(&call, content, is_error)),
            state_version: Some(0),
        });
    }
}

fn judge(
    layer: &RealizationLayer,
    view: &View,
    turn: &ModelTurn,
    action: &Action,
) -> ActionVerdict {
    layer.after_turn(&view.view(), turn, action).unwrap()
}

fn correction(v: ActionVerdict) -> (String, FailureKind, String) {
    match v {
        ActionVerdict::Block {
            rule_id,
            kind,
            correction,
        } => (rule_id, kind, correction),
        other => panic!("expected a block, got {other:?}"),
    }
}

#[test]
fn contract_rendering_snapshot() {
    let layer = ContractLayer::new(harness(TOY));
    let mut setup = EpisodeSetup {
        task: toy_task(0),
        system_text: "You manage a key-value store.".into(),
        tools: toy_tools(),
    };
    let events = layer.before_episode(&mut setup).unwrap();
    let rendered = json!({
        "system_text": setup.system_text,
        "tools": setup.tools.iter().map(|t| t.to_openai()).collect::<Vec<_>>(),
        "events": events.iter().map(|e| e.rule_id.clone()).collect::<Vec<_>>(),
    });
    insta::assert_json_snapshot!("toy_contract", rendered);
}

#[test]
fn skills_are_ranked_scoped_and_budgeted() {
    let h = harness(TOY);
    let layer = SkillsLayer::new(&h.harness.skills);
    let ids = |env: &str, q: &str| {
        layer
            .select(env, q)
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids("toy", "Copy the value of 'color' into 'size', then submit."),
        vec!["copy", "submit"]
    );
    assert!(!ids("toy", "rebook my flight").contains(&"airline".to_string()));
    assert_eq!(ids("tau2-airline", "rebook my flight"), vec!["airline"]);
    let mut small = h.harness.skills.clone();
    small.token_budget = 30;
    let tight = SkillsLayer::new(&small);
    assert_eq!(tight.select("toy", "copy a value then submit").len(), 1);
    let setup = EpisodeSetup {
        task: toy_task(1),
        system_text: String::new(),
        tools: toy_tools(),
    };
    let conditioned = layer.condition_task(&setup).unwrap().unwrap();
    insta::assert_snapshot!("toy_skills", conditioned.text);
}

#[test]
fn realization_checks_in_order() {
    let layer = RealizationLayer::new(harness(TOY));
    let mut v = View::new();
    let plain = ModelTurn::default();

    // (a) text that could not be read as an action
    let turn = ModelTurn {
        format_error: Some("no JSON object found".into()),
        ..ModelTurn::text("I will set it")
    };
    let (rule, kind, text) = correction(judge(
        &layer,
        &v,
        &turn,
        &Action::Message {
            content: "I will set it".into(),
        },
    ));
    assert_eq!(
        (rule.as_str(), kind),
        ("realization/format", FailureKind::FormatError)
    );
    assert!(
        text.contains("{\"name\": \"<tool name>\"")
            && text.contains("The tools are: get, set, submit"),
        "{text}"
    );
    // free text is fine unless the harness requires tool calls
    assert_eq!(
        judge(
            &layer,
            &v,
            &plain,
            &Action::Message {
                content: "hi".into()
            }
        ),
        ActionVerdict::Allow
    );

    // (a) malformed JSON: unambiguous repairs are rewritten, others corrected
    match judge(
        &layer,
        &v,
        &plain,
        &call("set", "{'key': 'color', 'value': 'blue'"),
    ) {
        ActionVerdict::Rewrite {
            rule_id, action, ..
        } => {
            assert_eq!(rule_id, "realization/json-repair");
            assert_eq!(
                action.as_tool_call().unwrap().args(),
                Some(&json!({"key": "color", "value": "blue"}))
            );
        }
        other => panic!("{other:?}"),
    }
    let (rule, _, text) = correction(judge(&layer, &v, &plain, &call("set", "{\"key\": color}")));
    assert_eq!(rule.as_str(), "realization/json");
    assert!(
        text.contains("not valid JSON") && text.contains("{\"name\":\"set\""),
        "{text}"
    );

    // (b) unknown tool, with the nearest name
    let (rule, kind, text) = correction(judge(&layer, &v, &plain, &call("sett", "{}")));
    assert_eq!(
        (rule.as_str(), kind),
        ("realization/unknown-tool", FailureKind::UnknownTool)
    );
    assert!(
        text.starts_with("There is no tool named 'sett'. Did you mean 'set'?"),
        "{text}"
    );

    // (c) schema: misspelt, missing, wrongly typed
    let (_, kind, text) = correction(judge(
        &layer,
        &v,
        &plain,
        &call("set", r#"{"keys": "color", "value": "x"}"#),
    ));
    assert_eq!(kind, FailureKind::SchemaViolation);
    assert!(
        text.starts_with("'set' expects 'key', not 'keys'."),
        "{text}"
    );
    let (_, _, text) = correction(judge(
        &layer,
        &v,
        &plain,
        &call("set", r#"{"key": "color", "value": 3}"#),
    ));
    assert!(
        text.contains("'set' argument 'value' must be string"),
        "{text}"
    );

    // (d) contract constraint and ordering
    let (rule, kind, text) = correction(judge(
        &layer,
        &v,
        &plain,
        &call("set", r#"{"key": "Color", "value": "x"}"#),
    ));
    assert_eq!(
        (rule.as_str(), kind),
        ("key-lowercase", FailureKind::ContractViolation)
    );
    assert!(text.contains("must match the pattern ^[a-z]+$"), "{text}");
    let (rule, _, _) = correction(judge(&layer, &v, &plain, &call("submit", "{}")));
    assert_eq!(rule.as_str(), "read-before-submit");
    v.executed(call("get", r#"{"key": "color"}"#), "large", false);
    assert_eq!(
        judge(&layer, &v, &plain, &call("submit", "{}")),
        ActionVerdict::Allow
    );

    // (e) precondition over the environment's state
    v.state = JsonState(json!({"color": "blue"}));
    let (rule, kind, text) = correction(judge(
        &layer,
        &v,
        &plain,
        &call("set", r#"{"key": "color", "value": "red"}"#),
    ));
    assert_eq!(
        (rule.as_str(), kind),
        ("no-overwrite", FailureKind::PolicyDenied)
    );
    assert_eq!(text, "'color' already holds 'blue'; do not overwrite it.");
    assert_eq!(
        judge(
            &layer,
            &v,
            &plain,
            &call("set", r#"{"key": "color", "value": "blue"}"#)
        ),
        ActionVerdict::Allow
    );
}

#[test]
fn a_rule_that_cannot_be_evaluated_is_a_fault_not_a_pass() {
    let text = TOY.replace(
        "require = \"current == null || current == args.value\"",
        "require = \"current.nested.deep == 1\"",
    );
    let layer = RealizationLayer::new(harness(&text.replace("  { args = { key = \"color\", value = \"red\" }, state = { current = \"blue\" }, expect = \"block\" },\n  { args = { key = \"color\", value = \"red\" }, expect = \"allow\" },\n", "")));
    let mut v = View::new();
    v.state = JsonState(json!({"color": "blue"}));
    let result = layer.after_turn(
        &v.view(),
        &ModelTurn::default(),
        &call("set", r#"{"key": "color", "value": "red"}"#),
    );
    assert!(result.is_err(), "{result:?}");
}

#[test]
fn regulation_annotates_and_escalates() {
    let layer = RegulationLayer::new(harness(TOY));
    let mut v = View::new();
    let get = call("get", r#"{"key": "color"}"#);
    let obs = Observation::tool(get.as_tool_call().unwrap(), "large", false);
    let first = layer.after_observation(&v.view(), &get, &obs).unwrap();
    assert_eq!(
        first,
        vec![FeedbackVerdict::Annotate {
            rule_id: "echo-length".into(),
            note: "value has 5 characters".into()
        }]
    );

    // the same call, arguments in another order, three times in a row -> nudge
    v.executed(call("get", r#"{"key": "color"}"#), "large", false);
    v.executed(call("get", r#"{ "key" : "color" }"#), "large", false);
    let third = layer.after_observation(&v.view(), &get, &obs).unwrap();
    assert!(
        matches!(&third[1], FeedbackVerdict::Nudge { rule_id, .. } if rule_id == "regulation/repeat"),
        "{third:?}"
    );
    let mut nudged = lifeharness_core::LayerEvent::new(
        "regulation",
        lifeharness_core::HookPoint::AfterObservation,
        VerdictKind::Nudge,
    );
    nudged.rule_id = Some("regulation/repeat".into());
    v.events.push(nudged.clone());
    v.executed(get.clone(), "large", false);
    let fourth = layer.after_observation(&v.view(), &get, &obs).unwrap();
    assert!(
        matches!(&fourth[1], FeedbackVerdict::Directive { .. }),
        "{fourth:?}"
    );
    nudged.verdict = VerdictKind::Directive;
    v.events.push(nudged);
    v.executed(get.clone(), "large", false);
    let fifth = layer.after_observation(&v.view(), &get, &obs).unwrap();
    assert!(
        matches!(
            &fifth[1],
            FeedbackVerdict::Stop {
                kind: FailureKind::Loop,
                ..
            }
        ),
        "{fifth:?}"
    );

    // A-B-A-B cycle
    let mut v = View::new();
    let a = call("get", r#"{"key": "a"}"#);
    let b = call("get", r#"{"key": "b"}"#);
    v.executed(a.clone(), "Error: key 'a' not found", true);
    v.executed(b.clone(), "1", false);
    v.executed(a.clone(), "Error: key 'a' not found", true);
    let obs_b = Observation::tool(b.as_tool_call().unwrap(), "1", false);
    let cycle = layer.after_observation(&v.view(), &b, &obs_b).unwrap();
    assert!(
        cycle.iter().any(
            |x| matches!(x, FeedbackVerdict::Nudge { rule_id, .. } if rule_id == "regulation/cycle")
        ),
        "{cycle:?}"
    );

    // three errors of one tool in a row
    let mut v = View::new();
    for k in ["x", "y"] {
        v.executed(
            call("get", &format!("{{\"key\": \"{k}\"}}")),
            "Error: key not found",
            true,
        );
    }
    let z = call("get", r#"{"key": "z"}"#);
    let err = Observation::tool(z.as_tool_call().unwrap(), "Error: key 'z' not found", true);
    let errors = layer.after_observation(&v.view(), &z, &err).unwrap();
    assert!(errors.iter().any(|x| matches!(x, FeedbackVerdict::Nudge { rule_id, .. } if rule_id == "regulation/errors")), "{errors:?}");
}

#[test]
fn budget_warning_and_stagnation() {
    let text =
        format!("{TOY}\n[regulation]\nno_state_change_steps = 2\nbudget_warning_fraction = 0.1\n");
    let layer = RegulationLayer::new(harness(&text));
    let mut v = View::new();
    v.executed(call("get", r#"{"key": "a"}"#), "1", false);
    v.executed(call("get", r#"{"key": "b"}"#), "2", false);
    v.executed(call("get", r#"{"key": "c"}"#), "3", false);
    let d = call("get", r#"{"key": "d"}"#);
    let out = layer
        .after_observation(
            &v.view(),
            &d,
            &Observation::tool(d.as_tool_call().unwrap(), "4", false),
        )
        .unwrap();
    let ids: Vec<String> = out
        .iter()
        .filter_map(|x| match x {
            FeedbackVerdict::Nudge { rule_id, .. } => Some(rule_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec!["regulation/stagnation", "regulation/budget"]);
}

/// A model that plays a fixed list of turns (by turn index), then submits.
struct Script(Vec<ModelTurn>);

#[async_trait]
impl Model for Script {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            spec: "script".into(),
            backend: "scripted".into(),
            config: Value::Null,
        }
    }
    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        let i = request
            .messages
            .iter()
            .filter(|m| matches!(m, Message::Assistant { .. }))
            .count();
        Ok(self
            .0
            .get(i)
            .cloned()
            .unwrap_or_else(|| ModelTurn::calls(vec![ToolCall::from_raw("c", "submit", "{}")])))
    }
}

async fn play(
    h: &Arc<CompiledHarness>,
    turns: Vec<ModelTurn>,
) -> (lifeharness_core::EpisodeEnd, Vec<lifeharness_core::Step>) {
    struct Sink(std::sync::Mutex<Vec<lifeharness_core::Step>>);
    #[async_trait]
    impl lifeharness_core::TrajectorySink for Sink {
        async fn begin_episode(
            &self,
            _: &lifeharness_core::EpisodeHeader,
        ) -> Result<(), lifeharness_core::SinkError> {
            Ok(())
        }
        async fn record_step(
            &self,
            _: &str,
            _: &str,
            s: &lifeharness_core::Step,
        ) -> Result<(), lifeharness_core::SinkError> {
            self.0.lock().unwrap().push(s.clone());
            Ok(())
        }
        async fn end_episode(
            &self,
            _: &str,
            _: &str,
            _: &lifeharness_core::EpisodeEnd,
        ) -> Result<(), lifeharness_core::SinkError> {
            Ok(())
        }
    }
    let factory = ToyFactory::default();
    let spec = EpisodeSpec {
        run_id: "r".into(),
        episode_id: "e".into(),
        task: toy_task(0),
        trial: 0,
        attempt: 0,
        seed: 1,
        environment: factory.info(),
        harness: h.harness.info().into(),
        config: RuntimeConfig::default(),
    };
    let sink = Sink(Default::default());
    let layers = build(h);
    let out = run_episode(
        &spec,
        &Script(turns),
        factory.create().unwrap(),
        &layers,
        &sink,
        &Default::default(),
    )
    .await
    .unwrap();
    let EpisodeOutcome::Finished(end) = out else {
        panic!("interrupted")
    };
    (end, sink.0.into_inner().unwrap())
}

fn raw_call(name: &str, raw: &str) -> ModelTurn {
    ModelTurn::calls(vec![ToolCall::from_raw("c", name, raw)])
}

#[tokio::test]
async fn the_harness_turns_a_failing_episode_into_a_success() {
    // toy-0: "Set 'color' to 'large', then submit." The model misspells an
    // argument, then submits too early; with the null harness the bad call
    // errors and the early submit ends the episode unsolved.
    let turns = vec![
        raw_call("set", r#"{"keys": "color", "value": "large"}"#),
        raw_call("submit", "{}"),
        raw_call("set", r#"{"key": "color", "value": "large"}"#),
        raw_call("submit", "{}"),
    ];
    let null = Arc::new(CompiledHarness::compile(Harness::null(), None, "null").unwrap());
    let (end, _) = play(&null, turns.clone()).await;
    assert_eq!(end.exit, ExitStatus::Failure);

    let (end, steps) = play(&harness(TOY), turns).await;
    assert_eq!(end.exit, ExitStatus::Success, "{end:?}");
    let blocked: Vec<_> = steps
        .iter()
        .flat_map(|s| &s.events)
        .filter(|e| e.verdict == VerdictKind::Block)
        .map(|e| e.rule_id.clone().unwrap())
        .collect();
    assert_eq!(blocked, vec!["realization/schema", "read-before-submit"]);
}

const GROUNDED: &str = r#"
format_version = 1
name = "grounded-test"

[[contract.constraints]]
id = "get-key-grounded"
tool = "get"
arg = "key"
grounded = "enforce"

[[contract.constraints]]
id = "set-key-pattern"
tool = "set"
arg = "key"
pattern = "^k[0-9]+$"
grounded = "decode"

[[contract.constraints]]
id = "set-value-non-empty"
tool = "set"
arg = "value"
format = "non_empty"

[[contract.ordering]]
id = "read-before-submit"
tools = ["submit"]
after = ["get"]
"#;

#[test]
fn the_guide_carries_grounded_values_ordering_and_constraints() {
    let layer = RealizationLayer::new(harness(GROUNDED));
    let mut view = View::new();
    view.task.instruction = "Copy k11 into k22, then submit.".into();
    let mut guide = lifeharness_core::DecodingGuide::default();
    layer.guide(&view.view(), &mut guide).unwrap();
    assert!(!guide.allows("submit") && guide.allows("get"));
    let enum_of = |guide: &lifeharness_core::DecodingGuide, id: &str| {
        guide
            .args
            .iter()
            .find(|a| a.rule_id == id)
            .map(|a| a.schema.clone())
    };
    assert_eq!(
        enum_of(&guide, "get-key-grounded"),
        Some(json!({"enum": ["k11", "k22"]}))
    );
    assert_eq!(
        enum_of(&guide, "set-key-pattern"),
        Some(json!({"enum": ["k11", "k22"]}))
    );
    assert_eq!(
        enum_of(&guide, "set-value-non-empty"),
        Some(json!({"minLength": 1, "minItems": 1}))
    );
    // A result brings new values; a successful get lifts the ordering.
    view.executed(
        call("get", r#"{"key":"k11"}"#),
        r#"{"value":"v7x","next":"k303"}"#,
        false,
    );
    let mut guide = lifeharness_core::DecodingGuide::default();
    layer.guide(&view.view(), &mut guide).unwrap();
    assert!(guide.allows("submit"));
    assert_eq!(
        enum_of(&guide, "get-key-grounded"),
        Some(json!({"enum": ["k11", "k22", "v7x", "k303"]}))
    );
    // The pattern keeps only values of its shape.
    assert_eq!(
        enum_of(&guide, "set-key-pattern"),
        Some(json!({"enum": ["k11", "k22", "k303"]}))
    );
    // Realization blocks an enforced ungrounded value, not a decode-only one.
    let turn = ModelTurn::default();
    let (rule, kind, text) =
        correction(judge(&layer, &view, &turn, &call("get", r#"{"key":"k9"}"#)));
    assert_eq!(
        (rule.as_str(), kind),
        ("get-key-grounded", FailureKind::ContractViolation)
    );
    assert!(
        text.contains("appears in the task or in an earlier result"),
        "{text}"
    );
    assert_eq!(
        judge(&layer, &view, &turn, &call("get", r#"{"key":"k303"}"#)),
        ActionVerdict::Allow
    );
    assert_eq!(
        judge(
            &layer,
            &view,
            &turn,
            &call("set", r#"{"key":"k9","value":"x"}"#)
        ),
        ActionVerdict::Allow
    );
}

#[test]
fn guided_decoding_off_or_realization_contract_off_gives_no_guide() {
    let text = format!("{GROUNDED}\n[realization]\nguided_decoding = false\n");
    let layer = RealizationLayer::new(harness(&text));
    let view = View::new();
    let mut guide = lifeharness_core::DecodingGuide::default();
    layer.guide(&view.view(), &mut guide).unwrap();
    assert!(guide.is_empty());
}

#[test]
fn a_context_budget_in_the_harness_adds_the_context_layer() {
    let text = format!("{TOY}\n[context]\nbudget = 2000\nkeep_fields = [\"color\"]\n");
    let layers = build(&harness(&text));
    let policy = layers
        .iter()
        .find_map(|l| l.context_policy())
        .expect("a context policy");
    assert_eq!(policy.budget, lifeharness_core::ContextBudget::Tokens(2000));
    // The fields the rules name are kept besides the ones listed.
    assert_eq!(
        policy.keep_fields,
        vec!["color".to_string(), "key".to_string(), "value".to_string()]
    );
    assert!(
        build(&harness(TOY))
            .iter()
            .all(|l| l.context_policy().is_none())
    );
    for bad in ["budget = 10", "budget = \"half\"", "budget = -1"] {
        let err = Harness::compile_toml(&format!("{TOY}\n[context]\n{bad}\n"), "bad.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("budget") || err.contains("context"),
            "{bad}: {err}"
        );
    }
}
