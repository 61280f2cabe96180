//! `diagnose`, `runs import` of other benchmarks' files, and audits of
//! stored runs (issue 12).

use std::path::Path;

use serde_json::{Value, json};

use super::{run, stderr, stdout, write_script};

/// A toy run whose model calls a tool that does not exist, then submits.
fn failing_toy_run(dir: &Path, db: &str) -> String {
    let script = write_script(
        dir,
        r#"[
  {"type": "call", "name": "put", "arguments": "{\"key\": \"color\"}"},
  {"type": "call", "name": "submit", "arguments": "{}"}
]"#,
    );
    let model = format!("scripted:{}", script.display());
    let out = run(&[
        "run", "--env", "toy", "--limit", "2", "--model", &model, "--out", db, "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    summary["run_id"].as_str().unwrap().to_string()
}

#[test]
fn diagnose_labels_failed_episodes_as_text_json_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let db = db.to_str().unwrap();
    let run_id = failing_toy_run(dir.path(), db);
    let md = dir.path().join("d.md");
    let out = run(&[
        "diagnose",
        &run_id,
        "--out",
        db,
        "--md",
        md.to_str().unwrap(),
        "--episodes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("toy: 2 episodes, 0 successful, 2 failed"),
        "{text}"
    );
    assert!(text.contains("action_realization"), "{text}");
    assert!(text.contains("put: unknown_tool"), "{text}");
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("| action_realization | 2 | 100% | 34% |"),
        "{md}"
    );

    let out = run(&["diagnose", &run_id, "--out", db, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let first = &report["episodes"][0];
    assert_eq!(first["category"], "action_realization");
    assert_eq!(first["first_critical_step"], 0);
    assert_eq!(first["evidence"]["meaning"]["pattern"], "unknown_tool");
    assert_eq!(report["environments"][0]["mix"][0]["count"], 2);

    // An LLM judge (here a scripted one) is shown beside the deterministic label.
    let judge = dir.path().join("judge.json");
    std::fs::write(
        &judge,
        r#"[{"type": "text", "text": "{\"category\": \"residual_reasoning\", \"step\": 1, \"reason\": \"it submitted too early\"}"}]"#,
    )
    .unwrap();
    let spec = format!("scripted:{}", judge.display());
    let out = run(&["diagnose", &run_id, "--out", db, "--json", "--judge", &spec]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let first = &report["episodes"][0];
    assert_eq!(first["category"], "action_realization", "never replaced");
    assert_eq!(first["judge"]["category"], "residual_reasoning");
    assert_eq!(first["judge"]["agrees"], false);
    assert_eq!(report["environments"][0]["judge"]["labelled"], 2);

    let out = run(&["diagnose", "no-such-run", "--out", db]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no run 'no-such-run'"),
        "{}",
        stderr(&out)
    );
}

fn tau2_results(task_id: &str) -> Value {
    json!({
        "timestamp": "2025-06-01T00:00:00",
        "info": {"agent_info": {"llm": "some-agent"}, "environment_info": {"domain_name": "retail"}},
        "tasks": [],
        "simulations": [{
            "task_id": task_id, "trial": 0, "seed": 3, "termination_reason": "user_stop",
            "reward_info": {"reward": 0.0, "reward_breakdown": {"DB": 0.0}},
            "messages": [
                {"role": "assistant", "content": "Hi! How can I help you today?"},
                {"role": "user", "content": "Cancel my order #W6247578 please."},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "name": "get_order_details", "arguments": {"order_id": "#W0000000"}}]},
                {"role": "tool", "id": "c1", "content": "Error: Order not found", "error": true},
                {"role": "assistant", "content": "I could not find it. Goodbye."},
                {"role": "user", "content": "###STOP###"}
            ]
        }]
    })
}

#[test]
fn imports_are_whole_or_nothing_and_then_diagnosed_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("i.db");
    let db = db.to_str().unwrap();
    let file = dir.path().join("results.json");
    std::fs::write(&file, tau2_results("0").to_string()).unwrap();
    let file = file.to_str().unwrap();
    let out = run(&["runs", "import", file, "--out", db]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("imported 1 trajectories (tau2 format)"),
        "{text}"
    );
    let run_id = text
        .split_whitespace()
        .find(|w| w.starts_with("import-"))
        .unwrap()
        .to_string();

    // The same file again: refused, nothing added.
    let again = run(&["runs", "import", file, "--out", db]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already has episode 0-t0"),
        "{}",
        stderr(&again)
    );
    let show = run(&["runs", "show", &run_id, "--out", db, "--json"]);
    let shown: Value = serde_json::from_str(stdout(&show).trim()).unwrap();
    assert_eq!(shown["episodes"].as_array().unwrap().len(), 1);
    assert_eq!(shown["run"]["status"], "imported");

    // A second simulation with a task retail does not have: nothing of the file lands.
    let mut bad = tau2_results("0");
    let mut second = bad["simulations"][0].clone();
    second["task_id"] = json!("9999");
    bad["simulations"].as_array_mut().unwrap().push(second);
    let bad_file = dir.path().join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let other = dir.path().join("other.db");
    let out = run(&[
        "runs",
        "import",
        bad_file.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("simulation 1: task '9999' is not a tau2-retail task"),
        "{}",
        stderr(&out)
    );
    // Checked before the store is even opened: no store was made.
    assert!(!other.exists());

    // Truncated JSON: file and line named.
    let cut = dir.path().join("cut.json");
    let whole = serde_json::to_string_pretty(&tau2_results("0")).unwrap();
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let out = run(&["runs", "import", cut.to_str().unwrap(), "--out", db]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cut.json:") && stderr(&out).contains("truncated"),
        "{}",
        stderr(&out)
    );
    let out = run(&["runs", "import", file, "--format", "csv", "--out", db]);
    assert!(
        stderr(&out).contains("unknown format 'csv'"),
        "{}",
        stderr(&out)
    );

    // Diagnosed with the environment's meaning of the error text.
    let out = run(&["diagnose", &run_id, "--out", db, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let d = &report["episodes"][0];
    assert_eq!(d["category"], "environment_contract", "{d}");
    assert_eq!(d["signature"], "get_order_details: entity_not_found");
    assert!(d["source"].as_str().unwrap().contains("results.json"));

    // Audited with state: the shipped retail harness on this failed episode.
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../harnesses/tau2-retail.toml");
    let out = run(&[
        "audit",
        "--harness",
        harness.to_str().unwrap(),
        "--trajectories",
        file,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["failed"]["episodes"], 1, "{report}");
    assert_eq!(report["false_positive_count"], 0);
}
