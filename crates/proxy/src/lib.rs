//! An OpenAI-compatible HTTP front over any [`Model`]: the library behind
//! `lifeharness serve`.
//!
//! [`router`] builds an axum `Router` with `POST /v1/chat/completions` (tools
//! included; `tool_choice` `"required"` or a named function turns on the
//! schema constraint) and `GET /v1/models`. A bad request gets a 400 with an
//! OpenAI-style error body naming what was wrong.

mod request;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lifeharness_core::{Model, ModelErrorKind, ModelTurn};
use serde_json::{Value, json};

pub use request::{ParsedRequest, parse_chat_request};

/// A request the proxy refuses, with the OpenAI error fields.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ProxyError {
    /// The HTTP status.
    pub status: u16,
    /// What was wrong.
    pub message: String,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// The error type (`invalid_request_error`, `server_error`, ...).
    pub kind: &'static str,
    /// A machine-readable code, if any.
    pub code: Option<&'static str>,
}

impl ProxyError {
    /// A 400 about `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
            param: Some(param.to_string()),
            kind: "invalid_request_error",
            code: None,
        }
    }

    /// The OpenAI-style body.
    pub fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}

/// Settings of the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// The model id shown by `/v1/models` and in responses (default: the model's spec).
    pub model_id: Option<String>,
}

struct AppState {
    model: Arc<dyn Model>,
    model_id: String,
    counter: AtomicU64,
}

/// The router serving `model`.
pub fn router(model: Arc<dyn Model>, options: ProxyOptions) -> Router {
    let model_id = options.model_id.unwrap_or_else(|| model.info().spec);
    let state = Arc::new(AppState {
        model,
        model_id,
        counter: AtomicU64::new(0),
    });
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        .with_state(state)
}

async fn list_models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let info = state.model.info();
    Json(json!({"object": "list", "data": [{
        "id": state.model_id, "object": "model", "created": 0, "owned_by": "lifeharness",
        "backend": info.backend,
    }]}))
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ProxyError> {
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ProxyError::invalid("body", format!("the request body is not valid JSON: {e}"))
    })?;
    let parsed = parse_chat_request(&value)?;
    let turn = state.model.chat(&parsed.request).await.map_err(|err| {
        let (status, kind, code) = match err.kind {
            ModelErrorKind::ContextOverflow => (
                400,
                "invalid_request_error",
                Some("context_length_exceeded"),
            ),
            ModelErrorKind::Request => (400, "invalid_request_error", None),
            ModelErrorKind::RateLimited => (429, "rate_limit_error", None),
            ModelErrorKind::Timeout => (504, "timeout", None),
            _ => (500, "server_error", None),
        };
        ProxyError {
            status,
            message: err.message,
            param: None,
            kind,
            code,
        }
    })?;
    let n = state.counter.fetch_add(1, Ordering::Relaxed);
    Ok(Json(response_body(&turn, &state.model_id, n)))
}

/// The chat-completions response for `turn`.
pub fn response_body(turn: &ModelTurn, model_id: &str, n: u64) -> Value {
    let mut message = serde_json::Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), json!(turn.text));
    if !turn.tool_calls.is_empty() {
        let calls: Vec<Value> = turn
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_raw}}))
            .collect();
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let finish = if turn.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    let usage = turn.usage;
    json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 0,
        "model": model_id,
        "choices": [{"index": 0, "message": Value::Object(message), "finish_reason": finish}],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
        "lifeharness": {"latency_ms": turn.latency_ms, "format_error": turn.format_error},
    })
}
