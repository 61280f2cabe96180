//! The error type of this crate: everything that can go wrong before a model
//! answers (a bad spec, a failed download, a checksum mismatch, a load error).
//! Failures of a chat call itself are [`ModelError`]s from core.

use std::path::PathBuf;

use lifeharness_core::ModelError;

/// What went wrong while resolving, fetching or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// The model spec could not be read.
    #[error("bad model spec '{spec}': {reason}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The name is not in the catalog of embedded models.
    #[error("unknown embedded model '{name}' (known: {known})")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A required environment variable (for example the API key) is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// Downloading a model failed.
    #[error("download failed: {0}")]
    Download(String),
    /// A downloaded or cached file does not have the expected digest.
    #[error("sha256 mismatch for {what}: expected {expected}, got {actual}")]
    Checksum {
        /// The file checked.
        what: String,
        /// The digest expected.
        expected: String,
        /// The digest found.
        actual: String,
    },
    /// Reading or writing a file failed.
    #[error("i/o error at {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A wheel (zip) archive could not be read or lacks the expected file.
    #[error("wheel archive: {0}")]
    Archive(String),
    /// The model file could not be loaded.
    #[error("model load failed: {0}")]
    Load(String),
    /// A prompt template could not be rendered.
    #[error("template: {0}")]
    Template(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),
    /// A model call failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl ModelsError {
    /// A spec error.
    pub(crate) fn spec(spec: &str, reason: impl Into<String>) -> Self {
        Self::Spec {
            spec: spec.to_string(),
            reason: reason.into(),
        }
    }

    /// An i/o error at a path.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
