//! An OpenAI-compatible chat-completions backend with native tool calling.
//!
//! One [`OpenAiModel`] is shared (behind an `Arc`) by all episodes: its
//! semaphore bounds the requests in flight across them. Failed calls are
//! retried with bounded exponential backoff and seeded jitter on 429, 5xx,
//! connection failures and timeouts. The API key is read once from a named
//! environment variable and never logged or reported.

pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lifeharness_core::{
    ChatRequest, Message, Model, ModelError, ModelErrorKind, ModelInfo, ModelTurn,
};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::error::ModelsError;
use crate::grammar;
use crate::retry::{JitterSource, RetryPolicy, SeededJitter};
use crate::textmode;
use wire::BodySettings;

/// Settings of an OpenAI-compatible backend.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// Base URL, e.g. `http://127.0.0.1:11434/v1` (`/chat/completions` is appended).
    pub base_url: String,
    /// The model name the server knows.
    pub model: String,
    /// The environment variable holding the API key (none: no `Authorization`).
    pub api_key_env: Option<String>,
    /// Sampling temperature (server default when unset).
    pub temperature: Option<f32>,
    /// Default sampling seed (a request's seed wins).
    pub seed: Option<u64>,
    /// Maximum completion tokens.
    pub max_tokens: Option<u32>,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Timeout of one HTTP attempt.
    pub timeout: Duration,
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// Requests in flight at once, across all episodes.
    pub max_concurrency: usize,
    /// Seed of the backoff jitter.
    pub jitter_seed: u64,
    /// Also send a `response_format` JSON schema when constraining calls.
    pub response_format: bool,
    /// Use the text-mode action protocol instead of native tool calling.
    pub text_mode: bool,
    /// How the server takes a decoding grammar (text mode only): llama.cpp
    /// server's `grammar` field or vLLM's `structured_outputs.grammar`.
    /// Constrained turns then send the harness-guided GBNF grammar.
    pub grammar: Option<GrammarParam>,
}

/// Where a server takes a GBNF grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrammarParam {
    /// llama.cpp server: a top-level `grammar` string.
    Gbnf,
    /// vLLM: `structured_outputs: {"grammar": ...}`.
    Vllm,
}

impl GrammarParam {
    /// The option value naming it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gbnf => "gbnf",
            Self::Vllm => "vllm",
        }
    }
}

impl OpenAiConfig {
    /// Defaults for `model` at `base_url`.
    pub fn new(model: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            temperature: Some(0.0),
            seed: None,
            max_tokens: Some(1024),
            stop: Vec::new(),
            timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            max_concurrency: 4,
            jitter_seed: 0,
            response_format: false,
            text_mode: false,
            grammar: None,
        }
    }

    /// The settings as reported in [`ModelInfo`] (no secrets: only the
    /// variable's name).
    pub fn to_info(&self) -> Value {
        json!({
            "base_url": self.base_url,
            "model": self.model,
            "api_key_env": self.api_key_env,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "timeout_s": self.timeout.as_secs_f64(),
            "max_retries": self.retry.max_retries,
            "max_concurrency": self.max_concurrency,
            "response_format": self.response_format,
            "text_mode": self.text_mode,
            "grammar": self.grammar.map(GrammarParam::name),
        })
    }
}

/// An API key that never shows in `Debug` output.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A failed attempt: the error, and whether and when to retry.
struct Failure {
    error: ModelError,
    retryable: bool,
    retry_after: Option<Duration>,
    constraint_refused: bool,
}

impl Failure {
    fn fatal(error: ModelError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
            constraint_refused: false,
        }
    }

    fn retry(error: ModelError) -> Self {
        Self {
            retryable: true,
            ..Self::fatal(error)
        }
    }
}

/// The OpenAI-compatible backend.
#[derive(Debug)]
pub struct OpenAiModel {
    spec: String,
    config: OpenAiConfig,
    client: reqwest::Client,
    api_key: Option<Secret>,
    semaphore: Arc<Semaphore>,
    jitter: Arc<dyn JitterSource>,
    constraint_refused: Mutex<Option<String>>,
    constraint_ignored: AtomicU64,
}

impl OpenAiModel {
    /// A backend for `config`; reads the API key variable now.
    pub fn new(config: OpenAiConfig) -> Result<Self, ModelsError> {
        let api_key = match &config.api_key_env {
            Some(name) => Some(Secret(
                std::env::var(name).map_err(|_| ModelsError::MissingEnv(name.clone()))?,
            )),
            None => None,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| ModelsError::Client(e.to_string()))?;
        Ok(Self {
            spec: format!("openai:{}@{}", config.model, config.base_url),
            semaphore: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            jitter: Arc::new(SeededJitter::new(config.jitter_seed)),
            config,
            client,
            api_key,
            constraint_refused: Mutex::new(None),
            constraint_ignored: AtomicU64::new(0),
        })
    }

    /// Replaces the jitter source (tests use a fixed one).
    #[must_use]
    pub fn with_jitter(mut self, jitter: Arc<dyn JitterSource>) -> Self {
        self.jitter = jitter;
        self
    }

    /// Shares a concurrency limit with other backends.
    #[must_use]
    pub fn with_semaphore(mut self, semaphore: Arc<Semaphore>) -> Self {
        self.semaphore = semaphore;
        self
    }

    /// Sets the spec reported in [`ModelInfo`].
    #[must_use]
    pub fn with_spec(mut self, spec: impl Into<String>) -> Self {
        self.spec = spec.into();
        self
    }

    fn settings(&self) -> BodySettings {
        BodySettings {
            model: self.config.model.clone(),
            temperature: self.config.temperature,
            seed: self.config.seed,
            max_tokens: self.config.max_tokens,
            stop: self.config.stop.clone(),
            tool_choice_required: true,
            response_format: self.config.response_format,
        }
    }

    fn refused(&self) -> Option<String> {
        self.constraint_refused.lock().ok().and_then(|g| g.clone())
    }

    fn body(&self, request: &ChatRequest, constrain: bool) -> Result<Value, ModelError> {
        if !self.config.text_mode {
            return Ok(wire::request_body(&self.settings(), request, constrain));
        }
        let plain = textmode::to_plain_messages(&request.messages, &request.tools)
            .map_err(|e| ModelError::new(ModelErrorKind::Internal, e.to_string()))?;
        let messages = plain
            .into_iter()
            .map(|m| match m.role {
                "system" => Message::system(m.content),
                "assistant" => Message::assistant(m.content),
                _ => Message::user(m.content),
            })
            .collect();
        let text_request = ChatRequest {
            messages,
            tools: Vec::new(),
            ..request.clone()
        };
        let mut body = wire::request_body(&self.settings(), &text_request, false);
        if let (Some(param), true) = (
            self.config.grammar,
            constrain && request.constrain_tool_calls,
        ) && let Ok(built) = grammar::guided_grammar(&request.tools, request.guide.as_ref())
            && let Some(obj) = body.as_object_mut()
        {
            match param {
                GrammarParam::Gbnf => {
                    obj.insert("grammar".into(), Value::String(built.text));
                }
                GrammarParam::Vllm => {
                    obj.insert("structured_outputs".into(), json!({"grammar": built.text}));
                }
            }
        }
        Ok(body)
    }

    async fn attempt(&self, body: &Value) -> Result<Value, Failure> {
        let _permit = self.semaphore.acquire().await.map_err(|_| {
            Failure::fatal(ModelError::new(
                ModelErrorKind::Internal,
                "semaphore closed",
            ))
        })?;
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut builder = self
            .client
            .post(url)
            .timeout(self.config.timeout)
            .json(body);
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(&key.0);
        }
        let response = builder.send().await.map_err(transport_failure)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let text = response.text().await.map_err(transport_failure)?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                Failure::fatal(ModelError::new(
                    ModelErrorKind::InvalidResponse,
                    format!("response is not JSON: {e}"),
                ))
            });
        }
        let message = format!("HTTP {}: {}", status.as_u16(), wire::error_message(&text));
        let code = status.as_u16();
        Err(match code {
            429 => Failure {
                retry_after,
                ..Failure::retry(ModelError::new(ModelErrorKind::RateLimited, message))
            },
            408 => Failure::retry(ModelError::new(ModelErrorKind::Timeout, message)),
            500..=599 => Failure {
                retry_after,
                ..Failure::retry(ModelError::new(ModelErrorKind::Server, message))
            },
            _ if wire::is_context_overflow(&message) => {
                Failure::fatal(ModelError::new(ModelErrorKind::ContextOverflow, message))
            }
            400 | 422 if wire::is_constraint_unsupported(&message) => Failure {
                constraint_refused: true,
                ..Failure::fatal(ModelError::new(ModelErrorKind::Request, message))
            },
            _ => Failure::fatal(ModelError::new(ModelErrorKind::Request, message)),
        })
    }
}

fn transport_failure(err: reqwest::Error) -> Failure {
    if err.is_timeout() {
        Failure::retry(ModelError::new(
            ModelErrorKind::Timeout,
            format!("request timed out: {err}"),
        ))
    } else {
        Failure::retry(ModelError::new(
            ModelErrorKind::Server,
            format!("request failed: {err}"),
        ))
    }
}

#[async_trait]
impl Model for OpenAiModel {
    fn info(&self) -> ModelInfo {
        let mut config = self.config.to_info();
        if let Some(obj) = config.as_object_mut() {
            let constrained = match self.refused() {
                Some(reason) => json!({"supported": false, "reason": reason}),
                None => json!({"supported": true}),
            };
            obj.insert("constrained_tool_calls".into(), constrained);
            obj.insert(
                "constraint_ignored_turns".into(),
                json!(self.constraint_ignored.load(Ordering::Relaxed)),
            );
        }
        ModelInfo {
            spec: self.spec.clone(),
            backend: "openai".to_string(),
            config,
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        let start = Instant::now();
        let mut constrain = self.refused().is_none();
        let mut body = self.body(request, constrain)?;
        let mut attempt = 0u32;
        let value = loop {
            match self.attempt(&body).await {
                Ok(value) => break value,
                Err(failure)
                    if failure.constraint_refused && constrain && request.constrain_tool_calls =>
                {
                    tracing::warn!(model = %self.config.model, "server refused constrained tool calls; retrying without");
                    if let Ok(mut guard) = self.constraint_refused.lock() {
                        *guard = Some(failure.error.message.clone());
                    }
                    constrain = false;
                    body = self.body(request, constrain)?;
                }
                Err(failure) if failure.retryable && attempt < self.config.retry.max_retries => {
                    let delay = self.config.retry.delay(
                        attempt,
                        self.jitter.next_unit(),
                        failure.retry_after,
                    );
                    tracing::debug!(attempt, ?delay, error = %failure.error, "retrying model call");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(failure) => return Err(failure.error),
            }
        };
        let mut turn = if self.config.text_mode {
            let text = value
                .get("choices")
                .and_then(|c| c.get(0))
                .and_then(|c| c.get("message"))
                .and_then(|m| wire::content_text(m.get("content")));
            let Some(text) = text else {
                return Err(ModelError::new(
                    ModelErrorKind::InvalidResponse,
                    "the response has no message content",
                ));
            };
            let parsed =
                textmode::parse_output(&text, &format!("call_{}_", request.messages.len()));
            let mut turn = wire::parse_response(&value, request.messages.len(), false)?;
            turn.text = parsed.text;
            turn.tool_calls = parsed.calls;
            turn.format_error = parsed.format_error;
            turn
        } else {
            wire::parse_response(&value, request.messages.len(), !request.tools.is_empty())?
        };
        if request.constrain_tool_calls && !request.tools.is_empty() && turn.tool_calls.is_empty() {
            self.constraint_ignored.fetch_add(1, Ordering::Relaxed);
        }
        turn.latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        Ok(turn)
    }
}
