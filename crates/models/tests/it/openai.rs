//! The OpenAI backend against the mock server: quirks, retries, timeouts,
//! constraint fallback, concurrency and text mode.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lifeharness_core::{ChatRequest, Message, Model, ModelErrorKind, ToolSpec};
use lifeharness_models::{OpenAiConfig, OpenAiModel, RetryPolicy};
use serde_json::json;

use crate::mock::{self, Canned};

fn tools() -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "get_order".into(),
        description: "Look up an order.".into(),
        parameters: json!({"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}),
    }]
}

fn request(constrain: bool) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("You help."), Message::user("Where is #W1?")],
        tools: tools(),
        constrain_tool_calls: constrain,
        seed: Some(5),
        session: Some("s".into()),
        guide: None,
    }
}

fn config(base: &str) -> OpenAiConfig {
    let mut config = OpenAiConfig::new("test-model", format!("{base}/v1"));
    config.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    config.timeout = Duration::from_secs(5);
    config
}

fn model(config: OpenAiConfig) -> OpenAiModel {
    OpenAiModel::new(config).expect("backend")
}

fn reply(message: serde_json::Value) -> Canned {
    Canned::json(
        json!({"choices":[{"index":0,"message":message,"finish_reason":"stop"}],
        "usage":{"prompt_tokens":11,"completion_tokens":3}}),
    )
}

#[tokio::test]
async fn native_call_with_key_usage_and_latency() {
    let (base, mock) = mock::start(vec![reply(json!({"role":"assistant","content":null,"tool_calls":[
        {"id":"abc","type":"function","function":{"name":"get_order","arguments":"{\"order_id\": \"#W1\"}"}}]}))])
    .await;
    let mut cfg = config(&base);
    cfg.api_key_env = Some("CARGO_PKG_NAME".into());
    let backend = model(cfg);
    let turn = backend.chat(&request(false)).await.expect("turn");
    assert_eq!(turn.tool_calls.len(), 1);
    assert_eq!(turn.tool_calls[0].id, "abc");
    assert_eq!(turn.tool_calls[0].arguments_raw, "{\"order_id\": \"#W1\"}");
    assert_eq!(turn.tool_calls[0].args(), Some(&json!({"order_id":"#W1"})));
    assert_eq!(
        (turn.usage.prompt_tokens, turn.usage.completion_tokens),
        (11, 3)
    );
    assert!(turn.latency_ms > 0.0);
    let auth = mock.auth.lock().map(|a| a.clone()).unwrap_or_default();
    assert_eq!(auth, vec![Some("Bearer lifeharness-models".to_string())]);
    let body = mock.body(0);
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["seed"], 5);
    assert_eq!(body["tools"][0]["function"]["name"], "get_order");
    assert!(body.get("tool_choice").is_none());
    let info = backend.info().config.to_string();
    assert!(
        info.contains("CARGO_PKG_NAME")
            && !info.contains("Bearer")
            && !info.contains("lifeharness-models")
    );
}

#[tokio::test]
async fn server_quirks_are_read() {
    let (base, _mock) = mock::start(vec![
        // Ollama: arguments as an object, no id, no type.
        reply(json!({"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_order","arguments":{"order_id":"#W2"}}}]})),
        // The call inside the text content, in tags.
        reply(json!({"role":"assistant","content":"<tool_call>\n{\"name\": \"get_order\", \"arguments\": {\"order_id\": \"#W3\"}}\n</tool_call>"})),
        // A bare JSON object as the content.
        reply(json!({"role":"assistant","content":"{\"name\":\"get_order\",\"arguments\":{\"order_id\":\"#W4\"}}"})),
        // Plain text stays text.
        reply(json!({"role":"assistant","content":"It shipped."})),
        // Empty choices.
        Canned::json(json!({"choices":[]})),
        // Not JSON at all.
        Canned::status(200, "<html>oops</html>"),
    ])
    .await;
    let backend = model(config(&base));
    let req = request(false);
    let t = backend.chat(&req).await.expect("ollama");
    assert_eq!(t.tool_calls[0].id, "call_2_0");
    assert_eq!(t.tool_calls[0].args(), Some(&json!({"order_id":"#W2"})));
    assert_eq!(t.text, None);
    let t = backend.chat(&req).await.expect("tagged");
    assert_eq!(t.tool_calls[0].args(), Some(&json!({"order_id":"#W3"})));
    let t = backend.chat(&req).await.expect("bare");
    assert_eq!(t.tool_calls[0].args(), Some(&json!({"order_id":"#W4"})));
    let t = backend.chat(&req).await.expect("text");
    assert_eq!(
        (t.text.as_deref(), t.tool_calls.len()),
        (Some("It shipped."), 0)
    );
    let e = backend.chat(&req).await.expect_err("empty choices");
    assert_eq!(e.kind, ModelErrorKind::InvalidResponse);
    let e = backend.chat(&req).await.expect_err("html");
    assert_eq!(e.kind, ModelErrorKind::InvalidResponse);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let ok = reply(json!({"role":"assistant","content":"fine"}));
    let (base, mock) = mock::start(vec![
        Canned::status(429, "{\"error\":{\"message\":\"slow down\"}}")
            .header("retry-after", "0.01"),
        Canned::status(503, "busy"),
        ok,
        Canned::status(500, "a"),
        Canned::status(500, "b"),
        Canned::status(500, "c"),
        Canned::status(429, "d"),
        Canned::status(429, "e"),
        Canned::status(429, "f"),
    ])
    .await;
    let backend = model(config(&base));
    let t = backend
        .chat(&request(false))
        .await
        .expect("third attempt succeeds");
    assert_eq!(t.text.as_deref(), Some("fine"));
    assert_eq!(mock.requests(), 3);
    let e = backend
        .chat(&request(false))
        .await
        .expect_err("retries exhausted");
    assert_eq!(e.kind, ModelErrorKind::Server);
    assert!(e.message.contains("HTTP 500"));
    assert_eq!(mock.requests(), 6);
    let e = backend
        .chat(&request(false))
        .await
        .expect_err("still limited");
    assert_eq!(e.kind, ModelErrorKind::RateLimited);
    assert_eq!(mock.requests(), 9);
}

#[tokio::test]
async fn timeouts_are_typed_and_retried() {
    let slow =
        reply(json!({"role":"assistant","content":"late"})).delayed(Duration::from_millis(800));
    let (base, mock) = mock::start(vec![slow.clone(), slow]).await;
    let mut cfg = config(&base);
    cfg.timeout = Duration::from_millis(100);
    cfg.retry.max_retries = 1;
    let e = model(cfg).chat(&request(false)).await.expect_err("timeout");
    assert_eq!(e.kind, ModelErrorKind::Timeout);
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, mock) = mock::start(vec![
        Canned::status(400, "{\"error\":{\"message\":\"This model's maximum context length is 8 tokens\",\"code\":\"context_length_exceeded\"}}"),
        Canned::status(401, "{\"error\":{\"message\":\"bad key\"}}"),
    ])
    .await;
    let backend = model(config(&base));
    let e = backend.chat(&request(false)).await.expect_err("overflow");
    assert_eq!(e.kind, ModelErrorKind::ContextOverflow);
    let e = backend.chat(&request(false)).await.expect_err("auth");
    assert_eq!(e.kind, ModelErrorKind::Request);
    assert!(e.message.contains("bad key"));
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn refused_constraint_is_dropped_and_recorded() {
    let call = reply(
        json!({"role":"assistant","tool_calls":[{"id":"x","type":"function","function":{"name":"get_order","arguments":"{}"}}]}),
    );
    let (base, mock) = mock::start(vec![
        Canned::status(
            400,
            "{\"error\":{\"message\":\"tool_choice 'required' is not supported\"}}",
        ),
        call.clone(),
        call,
    ])
    .await;
    let mut cfg = config(&base);
    cfg.response_format = true;
    let backend = model(cfg);
    let t = backend.chat(&request(true)).await.expect("falls back");
    assert_eq!(t.tool_calls.len(), 1);
    assert_eq!(mock.body(0)["tool_choice"], "required");
    assert_eq!(mock.body(0)["response_format"]["type"], "json_schema");
    assert!(mock.body(1).get("tool_choice").is_none());
    let info = backend.info().config;
    assert_eq!(info["constrained_tool_calls"]["supported"], false);
    backend
        .chat(&request(true))
        .await
        .expect("no constraint sent again");
    assert!(mock.body(2).get("tool_choice").is_none());
}

#[tokio::test]
async fn concurrency_is_bounded_across_callers() {
    let slow = reply(json!({"role":"assistant","content":"ok"})).delayed(Duration::from_millis(60));
    let (base, mock) = mock::start(vec![slow.clone(), slow.clone(), slow.clone(), slow]).await;
    let mut cfg = config(&base);
    cfg.max_concurrency = 2;
    let backend = Arc::new(model(cfg));
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let backend = backend.clone();
            tokio::spawn(async move { backend.chat(&request(false)).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.is_ok_and(|r| r.is_ok()));
    }
    assert_eq!(mock.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn text_mode_renders_tools_into_the_prompt() {
    let (base, mock) = mock::start(vec![
        reply(json!({"role":"assistant","content":"```json\n{\"name\":\"get_order\",\"arguments\":{\"order_id\":\"#W9\"}}\n```"})),
        reply(json!({"role":"assistant","content":"{\"name\": \"get_order\", \"arguments\": {"})),
    ])
    .await;
    let mut cfg = config(&base);
    cfg.text_mode = true;
    let backend = model(cfg);
    let t = backend.chat(&request(true)).await.expect("text mode");
    assert_eq!(t.tool_calls[0].args(), Some(&json!({"order_id":"#W9"})));
    let body = mock.body(0);
    assert!(body.get("tools").is_none());
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    assert!(system.starts_with("You help.") && system.contains("## get_order"));
    let t = backend
        .chat(&request(true))
        .await
        .expect("bad action is a format error, not a failure");
    assert!(t.format_error.is_some() && t.tool_calls.is_empty());
}

#[tokio::test]
async fn missing_key_variable_is_an_error() {
    let mut cfg = OpenAiConfig::new("m", "http://127.0.0.1:9/v1");
    cfg.api_key_env = Some("LIFEHARNESS_TEST_SURELY_UNSET_VARIABLE".into());
    assert!(OpenAiModel::new(cfg).is_err());
}

#[tokio::test]
async fn unreachable_server_is_a_server_error() {
    let mut cfg = config("http://127.0.0.1:9");
    cfg.retry.max_retries = 1;
    let e = model(cfg).chat(&request(false)).await.expect_err("refused");
    assert!(matches!(
        e.kind,
        ModelErrorKind::Server | ModelErrorKind::Timeout
    ));
}

#[tokio::test]
async fn a_grammar_server_gets_the_guided_grammar_in_text_mode() {
    for (param, pointer) in [
        (lifeharness_models::openai::GrammarParam::Gbnf, "/grammar"),
        (
            lifeharness_models::openai::GrammarParam::Vllm,
            "/structured_outputs/grammar",
        ),
    ] {
        let (base, mock) = mock::start(vec![
            reply(json!({"role":"assistant","content":"{\"name\":\"get_order\",\"arguments\":{\"order_id\":\"#W7\"}}"})),
            reply(json!({"role":"assistant","content":"{\"name\":\"get_order\",\"arguments\":{\"order_id\":\"#W7\"}}"})),
        ])
        .await;
        let mut cfg = config(&base);
        cfg.text_mode = true;
        cfg.grammar = Some(param);
        let backend = model(cfg);
        let mut guided = request(true);
        guided.guide = Some(lifeharness_core::DecodingGuide {
            args: vec![lifeharness_core::ArgGuide {
                tool: "get_order".into(),
                arg: "order_id".into(),
                schema: json!({"enum": ["#W7"]}),
                rule_id: "order-grounded".into(),
            }],
            ..lifeharness_core::DecodingGuide::default()
        });
        let turn = backend.chat(&guided).await.expect("turn");
        assert_eq!(turn.tool_calls[0].args(), Some(&json!({"order_id":"#W7"})));
        let grammar = mock
            .body(0)
            .pointer(pointer)
            .and_then(|g| g.as_str().map(str::to_string));
        let grammar =
            grammar.unwrap_or_else(|| panic!("no grammar at {pointer}: {}", mock.body(0)));
        assert!(
            grammar.starts_with("root ::= ") && grammar.contains("#W7"),
            "{grammar}"
        );
        // Unconstrained turns send no grammar.
        backend.chat(&request(false)).await.expect("turn");
        assert!(mock.body(1).pointer(pointer).is_none());
    }
}
