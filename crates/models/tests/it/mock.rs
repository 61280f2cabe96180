//! A mock OpenAI-compatible server on 127.0.0.1 that replays canned responses
//! and records what it was sent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

/// One canned answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    pub headers: Vec<(&'static str, String)>,
}

impl Canned {
    pub fn json(value: Value) -> Self {
        Self {
            status: 200,
            body: value.to_string(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    pub fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// What the mock saw and what it still has to say.
#[derive(Default)]
pub struct Mock {
    pub script: Mutex<VecDeque<Canned>>,
    pub bodies: Mutex<Vec<Value>>,
    pub auth: Mutex<Vec<Option<String>>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub files: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Mock {
    pub fn requests(&self) -> usize {
        self.bodies.lock().map(|b| b.len()).unwrap_or(0)
    }

    pub fn body(&self, i: usize) -> Value {
        self.bodies
            .lock()
            .ok()
            .and_then(|b| b.get(i).cloned())
            .unwrap_or(Value::Null)
    }
}

async fn completions(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: String) -> Response {
    let now = mock.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    mock.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if let Ok(mut bodies) = mock.bodies.lock() {
        bodies.push(serde_json::from_str(&body).unwrap_or(Value::Null));
    }
    if let Ok(mut auth) = mock.auth.lock() {
        auth.push(
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        );
    }
    let canned = mock.script.lock().ok().and_then(|mut s| s.pop_front());
    let canned = canned
        .unwrap_or_else(|| Canned::status(500, "{\"error\":{\"message\":\"script exhausted\"}}"));
    tokio::time::sleep(canned.delay).await;
    mock.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut response = (
        StatusCode::from_u16(canned.status).unwrap_or(StatusCode::OK),
        canned.body,
    )
        .into_response();
    for (name, value) in canned.headers {
        if let Ok(v) = value.parse() {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

async fn file(
    State(mock): State<Arc<Mock>>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    let found = mock.files.lock().ok().and_then(|files| {
        files
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, b)| b.clone())
    });
    match found {
        Some(bytes) => (StatusCode::OK, bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts the mock; returns its base URL (`http://127.0.0.1:PORT`).
pub async fn start(script: Vec<Canned>) -> (String, Arc<Mock>) {
    let mock = Arc::new(Mock {
        script: Mutex::new(script.into()),
        ..Mock::default()
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/files/{*path}", get(file))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), mock)
}
