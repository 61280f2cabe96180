//! `evolve` (issue 13): offline from a stored run, online with re-runs
//! recorded in the store, resume, and refusal of held-out splits.

use serde_json::Value;

use super::{run, stderr, stdout, write_script};

fn toy_run(dir: &std::path::Path, db: &str) -> (String, String) {
    // Calls a tool that does not exist, then submits: every episode fails.
    let script = write_script(
        dir,
        r#"[
  {"type": "call", "name": "put", "arguments": "{\"key\": \"color\"}"},
  {"type": "call", "name": "submit", "arguments": "{}"}
]"#,
    );
    let model = format!("scripted:{}", script.display());
    let out = run(&[
        "run", "--env", "toy", "--split", "train", "--limit", "3", "--model", &model, "--out", db,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    (summary["run_id"].as_str().unwrap().to_string(), model)
}

#[test]
fn offline_evolution_writes_a_loadable_harness_with_lineage_and_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let db = db.to_str().unwrap();
    let (run_id, _) = toy_run(dir.path(), db);
    let out_file = dir.path().join("evolved").join("toy.toml");
    let out = run(&[
        "evolve",
        "--env",
        "toy",
        "--split",
        "train",
        "--run",
        &run_id,
        "--offline",
        "--store",
        db,
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("realization.checks"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.contains("origin = \"evolved\""), "{text}");
    assert!(
        text.contains("[lineage]") && text.contains("split = \"train\""),
        "{text}"
    );
    assert!(
        text.contains("[provenance.\"realization.checks\"]"),
        "{text}"
    );
    let ledger = std::fs::read_to_string(dir.path().join("evolved").join("toy.ledger.md")).unwrap();
    assert!(
        ledger.contains("## Round 1") && ledger.contains("unknown_tool"),
        "{ledger}"
    );
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("evolved").join("toy.ledger.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["status"], "finished");
    // It loads like any harness file, and diff names what evolution added.
    let out = run(&["harness", "validate", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let null = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../harnesses/null.toml");
    let out = run(&[
        "harness",
        "diff",
        null.to_str().unwrap(),
        out_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("realization"), "{}", stdout(&out));
    let out = run(&["harness", "show", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("# action_realization:"), "{shown}");
    assert!(shown.contains("realization.checks (fired"), "{shown}");
}

#[test]
fn online_evolution_records_its_re_runs_and_resume_reuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let db = db.to_str().unwrap();
    let (_, model) = toy_run(dir.path(), db);
    let out_file = dir.path().join("toy.toml");
    let out = run(&[
        "evolve",
        "--env",
        "toy",
        "--split",
        "train",
        "--limit",
        "3",
        "--model",
        &model,
        "--rounds",
        "1",
        "--store",
        db,
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("re-run r0-baseline ->"), "{err}");
    // The scripted model ignores corrections: the gate re-runs it and rejects.
    let ledger: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("toy.ledger.json")).unwrap())
            .unwrap();
    let group = &ledger["rounds"][0]["groups"][0];
    assert_eq!(group["decision"], "rejected", "{ledger:#}");
    assert!(
        group["gate"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("mean reward"),
        "{group:#}"
    );
    let id = stdout(&out)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let out = run(&["evolve", "--resume", &id, "--store", db]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("re-run r0-baseline is finished run"), "{err}");
    assert!(
        !err.contains("re-run r0-baseline ->"),
        "nothing is played twice: {err}"
    );
}

#[test]
fn held_out_splits_and_missing_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let db = db.to_str().unwrap();
    let out = run(&[
        "evolve",
        "--env",
        "toy",
        "--split",
        "test",
        "--model",
        "scripted:x.json",
        "--store",
        db,
        "--out",
        "x.toml",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("held out for evaluation"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "evolve",
        "--env",
        "toy",
        "--offline",
        "--store",
        db,
        "--out",
        "x.toml",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--trajectories FILE or --run RUN_ID"),
        "{}",
        stderr(&out)
    );
    let out = run(&["evolve", "--resume", "evo-nope", "--store", db]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no evolution 'evo-nope'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn shipped_evolved_harnesses_load_say_where_they_came_from_and_block_no_gold_action() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../harnesses/evolved");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let harness: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            harness["origin"].as_str(),
            Some("evolved"),
            "{}",
            path.display()
        );
        let lineage = &harness["lineage"];
        let env = lineage["environment"].as_str().unwrap();
        assert!(
            ["train", "dev"].contains(&lineage["split"].as_str().unwrap()),
            "{}: evolved on {}",
            path.display(),
            lineage["split"]
        );
        let ledger = path.with_extension("ledger.md");
        assert!(ledger.exists(), "{} has no ledger", path.display());
        // No gold action of any task, held-out ones included, that the
        // environment runs is blocked (blocking a gold call the environment
        // rejects anyway, such as a lookup of a malformed id, changes nothing).
        let out = run(&[
            "audit",
            "--harness",
            path.to_str().unwrap(),
            "--gold",
            "--env",
            env,
            "--json",
        ]);
        if stderr(&out).contains("has no reference actions") {
            // AgentBench OS checks its tasks with scripts: loading is the check.
            let out = run(&["harness", "validate", path.to_str().unwrap()]);
            assert!(out.status.success(), "{}", stderr(&out));
            continue;
        }
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(report["false_positive_count"], 0, "{}", path.display());
        assert!(
            report["successful"]["counts"]["actions"].as_u64().unwrap() > 100,
            "{}",
            path.display()
        );
    }
    assert!(seen >= 4, "{seen} evolved harnesses");
}
