//! Model backends: a scripted model for tests, and (as they land) an
//! OpenAI-compatible HTTP client and an embedded GGUF model.

pub mod scripted;

pub use scripted::{ScriptedModel, ScriptedTurn};
