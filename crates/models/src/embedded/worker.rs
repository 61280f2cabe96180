//! The embedded backend's worker thread: loads the model, then serves jobs
//! from a bounded channel until every sender is gone.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::OnceLock;

use lifeharness_core::{ModelError, ModelErrorKind};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use tokio::sync::mpsc;

use super::engine::{Engine, EngineConfig};
use super::prompt::{self, PromptStyle};
use super::{EmbeddedConfig, Job, LoadedMeta};
use crate::error::ModelsError;
use crate::textmode::PlainMessage;

/// Jobs waiting for the worker at most.
const QUEUE: usize = 16;

/// llama.cpp's backend may be initialised once per process, so it is kept
/// here for the life of the process (it holds no model state).
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, ModelsError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ModelsError::Load(format!("llama.cpp backend: {e}")))
}

/// Starts the worker for `path`; returns once the model is loaded.
pub(crate) fn spawn(
    path: &Path,
    config: &EmbeddedConfig,
) -> Result<(mpsc::Sender<Job>, LoadedMeta), ModelsError> {
    if !path.is_file() {
        return Err(ModelsError::Load(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let backend = backend()?;
    let (jobs, receiver) = mpsc::channel(QUEUE);
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let path = path.to_path_buf();
    let config = config.clone();
    std::thread::Builder::new()
        .name("lifeharness-embedded".to_string())
        .spawn(move || run(backend, &path, &config, receiver, ready_tx))
        .map_err(|e| ModelsError::Load(format!("cannot start the worker thread: {e}")))?;
    let meta = ready_rx
        .recv()
        .map_err(|_| ModelsError::Load("the worker thread died while loading".to_string()))??;
    Ok((jobs, meta))
}

fn run(
    backend: &'static LlamaBackend,
    path: &Path,
    config: &EmbeddedConfig,
    mut receiver: mpsc::Receiver<Job>,
    ready: std::sync::mpsc::SyncSender<Result<LoadedMeta, ModelsError>>,
) {
    let model = match LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()) {
        Ok(model) => model,
        Err(err) => {
            let _ = ready.send(Err(ModelsError::Load(format!("{}: {err}", path.display()))));
            return;
        }
    };
    let template = model
        .chat_template(None)
        .ok()
        .and_then(|t| t.to_string().ok());
    let n_ctx_train = model.n_ctx_train();
    let n_ctx = if n_ctx_train > 0 {
        config.n_ctx.min(n_ctx_train)
    } else {
        config.n_ctx
    };
    let meta = LoadedMeta {
        style: PromptStyle::detect(template.as_deref(), config.chat),
        n_ctx,
        n_ctx_train,
        n_params: model.n_params(),
        name: model.meta_val_str("general.name").ok(),
    };
    let style = meta.style.clone();
    if ready.send(Ok(meta)).is_err() {
        return;
    }
    let engine_config = EngineConfig {
        n_ctx,
        n_batch: config.n_batch,
        threads: config.threads,
        max_sessions: config.max_sessions,
        prefix_cache: config.prefix_cache,
        full_grammar_mask: config.full_grammar_mask,
    };
    let mut engine = Engine::new(&model, backend, engine_config);
    while let Some(job) = receiver.blocking_recv() {
        match job {
            Job::End(session) => engine.end(&session),
            Job::Raw {
                session,
                text,
                params,
                reply,
            } => {
                let result = guarded(&mut engine, &session, |engine| {
                    let tokens = engine.tokenize(&text);
                    engine.generate(&session, &tokens, &params)
                });
                let _ = reply.send(result);
            }
            Job::Count { messages, reply } => {
                let result =
                    render(&model, &style, &messages).map(|text| engine.tokenize(&text).len());
                let _ = reply.send(result);
            }
            Job::Chat {
                session,
                messages,
                params,
                reply,
            } => {
                let result = guarded(&mut engine, &session, |engine| {
                    let text = render(&model, &style, &messages)?;
                    let tokens = engine.tokenize(&text);
                    engine.generate(&session, &tokens, &params)
                });
                let _ = reply.send(result);
            }
        }
    }
}

/// Runs one job on `engine`; a panic inside it drops the session's cache and
/// becomes an internal error instead of killing the worker.
fn guarded<T>(
    engine: &mut Engine<'_>,
    session: &str,
    job: impl FnOnce(&mut Engine<'_>) -> Result<T, ModelError>,
) -> Result<T, ModelError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| job(engine))).unwrap_or_else(|_| {
        engine.end(session);
        Err(ModelError::new(
            ModelErrorKind::Internal,
            "the embedded engine panicked",
        ))
    })
}

/// The prompt text for `messages` in `style`.
fn render(
    model: &LlamaModel,
    style: &PromptStyle,
    messages: &[PlainMessage],
) -> Result<String, ModelError> {
    match style {
        PromptStyle::ChatMl => Ok(prompt::render_chatml(messages)),
        PromptStyle::Completion => Ok(prompt::render_completion(messages)),
        PromptStyle::Template(template) => {
            let bad = |e: String| {
                ModelError::new(ModelErrorKind::Internal, format!("chat template: {e}"))
            };
            let template = llama_cpp_2::model::LlamaChatTemplate::new(template)
                .map_err(|e| bad(e.to_string()))?;
            let chat = messages
                .iter()
                .map(|m| LlamaChatMessage::new(m.role.to_string(), m.content.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            model
                .apply_chat_template(&template, &chat, true)
                .map_err(|e| bad(e.to_string()))
        }
    }
}
