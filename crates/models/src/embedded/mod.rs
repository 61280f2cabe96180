//! The embedded GGUF backend: llama.cpp in-process through `llama-cpp-2`.
//!
//! The model and its KV caches live on one dedicated worker thread; chat
//! calls reach it through a bounded channel and wait on a oneshot reply, so
//! inference never blocks the async runtime. Tools are offered through the
//! text-mode protocol; with `constrain_tool_calls` the completion is sampled
//! under a GBNF grammar built from the tools' schemas.

pub mod engine;
pub mod prompt;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use lifeharness_core::{
    ChatRequest, ContextWindow, Model, ModelError, ModelErrorKind, ModelInfo, ModelTurn, Usage,
};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::error::ModelsError;
use crate::grammar;
use crate::textmode;
pub use engine::{EngineConfig, GenParams, TurnStats};
pub use prompt::PromptStyle;

/// Settings of an embedded model.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedConfig {
    /// The context size in tokens (capped at the model's training context).
    pub n_ctx: u32,
    /// Prompt batch size.
    pub n_batch: u32,
    /// CPU threads (none: all).
    pub threads: Option<i32>,
    /// Sessions whose KV cache is kept.
    pub max_sessions: usize,
    /// Start new sessions from an ended one's KV cache when prompts share a
    /// prefix (see `EngineConfig::prefix_cache`).
    pub prefix_cache: bool,
    /// The most tokens generated per turn.
    pub max_tokens: u32,
    /// Temperature; 0 is greedy.
    pub temperature: f32,
    /// Nucleus sampling mass (when temperature > 0).
    pub top_p: f32,
    /// Top-k cut (when temperature > 0).
    pub top_k: i32,
    /// Default seed (a request's seed wins).
    pub seed: u64,
    /// Extra stop strings.
    pub stop: Vec<String>,
    /// Whether the model is a chat model (else completion-style prompts).
    pub chat: bool,
    /// Mask the whole vocabulary whenever the grammar refuses the sampled
    /// token, instead of first masking the top candidates (the same tokens
    /// either way; `grammar_mask=full` exists to check that and to measure it).
    pub full_grammar_mask: bool,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            n_ctx: 8192,
            n_batch: 512,
            threads: None,
            max_sessions: 4,
            prefix_cache: false,
            max_tokens: 256,
            temperature: 0.0,
            top_p: 0.95,
            top_k: 40,
            seed: 0,
            stop: Vec::new(),
            chat: true,
            full_grammar_mask: false,
        }
    }
}

/// What the worker learned when it loaded the model.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedMeta {
    /// The prompt style in use.
    pub style: PromptStyle,
    /// The context size in use.
    pub n_ctx: u32,
    /// The model's training context.
    pub n_ctx_train: u32,
    /// Parameters of the model.
    pub n_params: u64,
    /// The `general.name` metadata, if any.
    pub name: Option<String>,
}

/// A job for the worker thread.
pub(crate) enum Job {
    Chat {
        session: String,
        messages: Vec<textmode::PlainMessage>,
        params: GenParams,
        reply: oneshot::Sender<Result<(String, TurnStats), ModelError>>,
    },
    /// Raw text in, greedy completion out: no chat template (benchmarks).
    Raw {
        session: String,
        text: String,
        params: GenParams,
        reply: oneshot::Sender<Result<(String, TurnStats), ModelError>>,
    },
    /// The prompt tokens of a chat, counted without generating.
    Count {
        messages: Vec<textmode::PlainMessage>,
        reply: oneshot::Sender<Result<usize, ModelError>>,
    },
    End(String),
}

/// An embedded GGUF model.
#[derive(Debug)]
pub struct EmbeddedModel {
    spec: String,
    path: PathBuf,
    config: EmbeddedConfig,
    meta: LoadedMeta,
    jobs: mpsc::Sender<Job>,
    last_stats: Mutex<Option<TurnStats>>,
    notes: Mutex<Vec<String>>,
}

impl EmbeddedModel {
    /// Loads `path` on a new worker thread; blocks until it is loaded, so
    /// call it from `spawn_blocking` in async code.
    pub fn load(
        path: &Path,
        config: EmbeddedConfig,
        spec: impl Into<String>,
    ) -> Result<Self, ModelsError> {
        let (jobs, meta) = worker::spawn(path, &config)?;
        Ok(Self {
            spec: spec.into(),
            path: path.to_path_buf(),
            config: EmbeddedConfig {
                n_ctx: meta.n_ctx,
                ..config
            },
            meta,
            jobs,
            last_stats: Mutex::new(None),
            notes: Mutex::new(Vec::new()),
        })
    }

    /// What the worker found in the model file.
    pub fn meta(&self) -> &LoadedMeta {
        &self.meta
    }

    /// The statistics of the last turn.
    pub fn last_stats(&self) -> Option<TurnStats> {
        self.last_stats.lock().ok().and_then(|g| g.clone())
    }

    /// A greedy completion of raw `text` (tokenized as is, no chat template)
    /// of `max_tokens` tokens, with its statistics; `ignore_eos` generates
    /// exactly that many. For side-by-side benchmarks with llama.cpp's tools.
    pub async fn complete_raw(
        &self,
        session: &str,
        text: &str,
        max_tokens: u32,
        ignore_eos: bool,
    ) -> Result<(String, TurnStats), ModelError> {
        let params = GenParams {
            max_tokens,
            temperature: 0.0,
            top_p: self.config.top_p,
            top_k: self.config.top_k,
            seed: 0,
            stop: Vec::new(),
            grammar: None,
            ignore_eos,
        };
        let (reply, answer) = oneshot::channel();
        let job = Job::Raw {
            session: session.to_string(),
            text: text.to_string(),
            params,
            reply,
        };
        self.jobs.send(job).await.map_err(|_| {
            ModelError::new(ModelErrorKind::Internal, "the embedded worker has stopped")
        })?;
        answer.await.map_err(|_| {
            ModelError::new(
                ModelErrorKind::Internal,
                "the embedded worker dropped the call",
            )
        })?
    }

    /// One chat turn, with its statistics.
    pub async fn chat_with_stats(
        &self,
        request: &ChatRequest,
    ) -> Result<(ModelTurn, TurnStats), ModelError> {
        let start = Instant::now();
        let messages = textmode::to_plain_messages(&request.messages, &request.tools)
            .map_err(|e| ModelError::new(ModelErrorKind::Internal, e.to_string()))?;
        let mut grammar_text = None;
        let texts_only = request
            .guide
            .as_ref()
            .is_some_and(|g| g.texts.as_ref().is_some_and(|t| !t.is_empty()));
        if request.constrain_tool_calls && (!request.tools.is_empty() || texts_only) {
            match grammar::guided_grammar(&request.tools, request.guide.as_ref()) {
                Ok(built) => {
                    if !built.notes.is_empty() {
                        self.note(format!("grammar widened: {}", built.notes.join("; ")));
                    }
                    grammar_text = Some(built.text);
                }
                Err(err) => self.note(format!("no grammar, sampling unconstrained: {err}")),
            }
        }
        let mut stop = self.meta.style.stops();
        stop.extend(self.config.stop.iter().cloned());
        let seed = request.seed.unwrap_or(self.config.seed);
        let params = GenParams {
            max_tokens: self.config.max_tokens,
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            top_k: self.config.top_k,
            seed: (seed ^ (seed >> 32)) as u32,
            stop,
            grammar: grammar_text,
            ignore_eos: false,
        };
        let (reply, answer) = oneshot::channel();
        let job = Job::Chat {
            session: request.session.clone().unwrap_or_default(),
            messages,
            params,
            reply,
        };
        self.jobs.send(job).await.map_err(|_| {
            ModelError::new(ModelErrorKind::Internal, "the embedded worker has stopped")
        })?;
        let (text, stats) = answer.await.map_err(|_| {
            ModelError::new(
                ModelErrorKind::Internal,
                "the embedded worker dropped the call",
            )
        })??;
        if let Some(note) = &stats.grammar_note {
            self.note(note.clone());
        }
        let parsed = textmode::parse_output(&text, &format!("call_{}_", request.messages.len()));
        let turn = ModelTurn {
            text: parsed.text,
            tool_calls: parsed.calls,
            usage: Usage {
                prompt_tokens: stats.prompt_tokens as u64,
                completion_tokens: stats.generated_tokens as u64,
            },
            latency_ms: start.elapsed().as_secs_f64() * 1000.0,
            format_error: parsed.format_error,
        };
        if let Ok(mut last) = self.last_stats.lock() {
            *last = Some(stats.clone());
        }
        tracing::debug!(?stats, "embedded turn");
        Ok((turn, stats))
    }

    fn note(&self, note: String) {
        if let Ok(mut notes) = self.notes.lock()
            && !notes.contains(&note)
            && notes.len() < 32
        {
            notes.push(note);
        }
    }
}

#[async_trait]
impl Model for EmbeddedModel {
    fn info(&self) -> ModelInfo {
        let notes: Vec<String> = self.notes.lock().map(|n| n.clone()).unwrap_or_default();
        let file = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        ModelInfo {
            spec: self.spec.clone(),
            backend: "embedded".to_string(),
            config: json!({
                "file": file,
                "model_name": self.meta.name,
                "n_params": self.meta.n_params,
                "prompt_style": self.meta.style.name(),
                "protocol": "text",
                "n_ctx": self.config.n_ctx,
                "n_ctx_train": self.meta.n_ctx_train,
                "max_tokens": self.config.max_tokens,
                "temperature": self.config.temperature,
                "top_p": self.config.top_p,
                "top_k": self.config.top_k,
                "seed": self.config.seed,
                "stop": self.config.stop,
                "constrained_tool_calls": "gbnf",
                "guided_decoding": "gbnf",
                "notes": Value::from(notes),
            }),
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        self.chat_with_stats(request).await.map(|(turn, _)| turn)
    }

    fn context_window(&self) -> Option<ContextWindow> {
        Some(ContextWindow {
            tokens: self.config.n_ctx as usize,
            reply_tokens: self.config.max_tokens as usize,
        })
    }

    async fn prompt_tokens(&self, request: &ChatRequest) -> Option<usize> {
        let messages = textmode::to_plain_messages(&request.messages, &request.tools).ok()?;
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Count { messages, reply }).await.ok()?;
        answer.await.ok()?.ok()
    }

    fn end_session(&self, session: &str) {
        if self.jobs.try_send(Job::End(session.to_string())).is_err() {
            tracing::debug!(
                session,
                "worker queue full; the session's cache will be evicted later"
            );
        }
    }
}
