//! `runs import` of another store (one shard of a matrix): merged whole.

use std::path::Path;

use lifeharness_store::Store;
use serde_json::{Value, json};

use crate::{run, stderr, stdout, write_script};

/// Runs two toy tasks into `db`; returns the run id.
fn toy_run(dir: &Path, db: &Path, limit: &str) -> String {
    let script = write_script(
        dir,
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/toy-script.json"),
        )
        .unwrap(),
    );
    let model = format!("scripted:{}", script.display());
    let out = run(&[
        "run",
        "--env",
        "toy",
        "--split",
        "all",
        "--limit",
        limit,
        "--model",
        &model,
        "--out",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    summary["run_id"].as_str().unwrap().to_string()
}

fn runs_listed(db: &Path) -> Vec<Value> {
    let out = run(&["runs", "list", "--out", db.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str::<Vec<Value>>(stdout(&out).trim()).unwrap()
}

#[test]
fn a_store_file_is_merged_by_runs_import() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("shard b.db"));
    let run_a = toy_run(dir.path(), &a, "2");
    let run_b = toy_run(dir.path(), &b, "3");
    assert_ne!(run_a, run_b);
    let key = "scripted:toy|toy|null|full";
    for (db, run_id) in [(&a, &run_a), (&b, &run_b)] {
        let store = Store::open(db).unwrap();
        store
            .create_matrix("m", "2026-01-01T00:00:00Z", &json!({}))
            .unwrap();
        store
            .set_matrix_cell("m", &format!("{key}|{run_id}"), run_id)
            .unwrap();
    }
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());

    // Recognized by its header.
    let out = run(&["runs", "import", b_s, "--out", a_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains("runs 1 added, 0 extended; episodes 3 added, 0 already there")
            && line.contains("matrices 0 added, 1 merged"),
        "{line}"
    );
    let listed = runs_listed(&a);
    let ids: Vec<&str> = listed
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&run_a.as_str()) && ids.contains(&run_b.as_str()));
    let merged = Store::open(&a).unwrap();
    assert_eq!(merged.episodes(&run_b).unwrap().len(), 3);
    assert_eq!(merged.matrix("m").unwrap().cells.len(), 2);

    // Named explicitly, again: nothing new.
    let out = run(&["runs", "import", b_s, "--format", "store", "--out", a_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("episodes 0 added, 3 already there"),
        "{}",
        stdout(&out)
    );

    // Into itself: refused.
    let out = run(&["runs", "import", a_s, "--out", a_s]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("into itself"), "{}", stderr(&out));

    // A file that is not a store, named as one: one clear error.
    let text = dir.path().join("x.jsonl");
    std::fs::write(&text, "{}\n").unwrap();
    let out = run(&[
        "runs",
        "import",
        text.to_str().unwrap(),
        "--format",
        "store",
        "--out",
        a_s,
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("x.jsonl"), "{}", stderr(&out));
    let out = run(&["runs", "import", b_s, "--format", "csv", "--out", a_s]);
    assert!(
        stderr(&out).contains("unknown format 'csv'") && stderr(&out).contains("store"),
        "{}",
        stderr(&out)
    );
}
