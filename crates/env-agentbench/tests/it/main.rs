//! Integration tests of the AgentBench environments (one test binary).
#![expect(
    clippy::expect_used,
    reason = "test helpers outside #[test] functions panic on setup failure"
)]

mod db;
mod measure;
mod os;
mod sandbox;
