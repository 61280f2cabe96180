//! Timing and memory figures (ignored; run with `--ignored --nocapture`).

use std::time::Instant;

use lifeharness_core::{Action, Environment, EnvironmentFactory, ToolCall};
use lifeharness_env_agentbench::AgentBenchFactory;
use serde_json::json;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// RSS of a process and all its descendants.
fn tree_rss_kib(root: u32) -> u64 {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid=,ppid="])
        .output()
        .expect("ps");
    let pairs: Vec<(u32, u32)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(pairs.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.iter().map(|p| rss_kib(*p)).sum()
}

#[tokio::test]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn step_times_and_memory() {
    let db = AgentBenchFactory::db().expect("db");
    let t = db.tasks("standard").expect("tasks").remove(0);
    let me = std::process::id();
    let before = rss_kib(me);
    let mut envs = Vec::new();
    for _ in 0..50 {
        let mut env = db.create().expect("env");
        env.reset(&t, 0).await.expect("reset");
        envs.push(env);
    }
    let after = rss_kib(me);
    println!(
        "db: resident memory per open episode ~{} KiB",
        (after.saturating_sub(before)) / 50
    );
    let env = &mut envs[0];
    let n = 500;
    let q = "SELECT Notes FROM `Jiu-Jitsu Championships Results` WHERE Method = 'decision'";
    let started = Instant::now();
    for i in 0..n {
        let call = ToolCall::from_value(format!("c{i}"), "execute_sql", json!({"query": q}));
        env.step(&Action::ToolCall(call)).await.expect("step");
    }
    println!(
        "db: execute_sql step {:.3} ms (mean of {n})",
        started.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
    let started = Instant::now();
    for _ in 0..50 {
        let mut env = db.create().expect("env");
        env.reset(&t, 0).await.expect("reset");
    }
    println!(
        "db: reset {:.3} ms (mean of 50)",
        started.elapsed().as_secs_f64() * 1000.0 / 50.0
    );
    drop(envs);

    let os = AgentBenchFactory::os().expect("os");
    let t = os.tasks("standard").expect("tasks").remove(0);
    let started = Instant::now();
    let mut env = os.create_os().expect("os").expect("env");
    env.reset(&t, 0).await.expect("reset");
    println!(
        "os: reset (sandbox + init script) {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let n = 50;
    let started = Instant::now();
    for i in 0..n {
        let call = ToolCall::from_value(
            format!("b{i}"),
            "bash_action",
            json!({"script": "grep -c Alice /usr/stock.log"}),
        );
        env.step(&Action::ToolCall(call)).await.expect("step");
    }
    println!(
        "os: bash step {:.1} ms (mean of {n})",
        started.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
    let pid = env.sandbox_pid().expect("pid");
    println!(
        "os: sandbox resident memory (process tree, excluding tmpfs pages) {} KiB",
        tree_rss_kib(pid)
    );
    env.close().await;
}
