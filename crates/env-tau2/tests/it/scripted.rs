//! A scripted model for tests: replies with canned texts, in order.

use std::sync::Mutex;

use async_trait::async_trait;
use lifeharness_core::{ChatRequest, Model, ModelError, ModelErrorKind, ModelInfo, ModelTurn};

/// Replies with `replies` in order; records every request.
pub struct Scripted {
    replies: Mutex<Vec<String>>,
    pub requests: Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    pub fn new(replies: &[&str]) -> Self {
        Self {
            replies: Mutex::new(replies.iter().rev().map(|s| s.to_string()).collect()),
            requests: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Model for Scripted {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            spec: "scripted".into(),
            backend: "scripted".into(),
            config: serde_json::Value::Null,
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        self.requests.lock().unwrap().push(request.clone());
        match self.replies.lock().unwrap().pop() {
            Some(text) => Ok(ModelTurn::text(text)),
            None => Err(ModelError::new(
                ModelErrorKind::Exhausted,
                "no more replies",
            )),
        }
    }
}

/// A judge that says every assertion holds.
pub struct YesJudge;

#[async_trait]
impl Model for YesJudge {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            spec: "yes-judge".into(),
            backend: "scripted".into(),
            config: serde_json::Value::Null,
        }
    }

    async fn chat(&self, _request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        Ok(ModelTurn::text(
            r#"{"results": [{"expectedOutcome": "x", "reasoning": "ok", "metExpectation": true}]}"#,
        ))
    }
}
