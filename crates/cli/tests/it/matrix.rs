//! `lifeharness matrix` and `lifeharness report` end to end on the toy
//! environment with the scripted model (a test double: every cell says so).

use std::path::Path;

use serde_json::Value;

use super::{run, stderr, stdout};

fn examples(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

fn matrix(db: &str, extra: &[&str]) -> std::process::Output {
    let model = format!("scripted:{}", examples("toy-script.json"));
    let harness = format!("toy={}", examples("toy-harness.toml"));
    let mut args = vec![
        "matrix",
        "--models",
        &model,
        "--envs",
        "toy",
        "--harness",
        &harness,
        "--limit",
        "4",
        "--out",
        db,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn matrix_runs_resumes_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let db = db.to_str().unwrap();
    let out = matrix(db, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let id = summary["matrix"].as_str().unwrap().to_string();
    assert_eq!(summary["status"], "finished");
    assert_eq!(summary["cells"].as_object().unwrap().len(), 2);
    assert!(
        stderr(&out).contains("8 episodes to play"),
        "{}",
        stderr(&out)
    );

    // The same command again is the same matrix and plays nothing.
    let again = matrix(db, &["--json"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let second: Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_eq!(second["matrix"], summary["matrix"]);
    assert_eq!(second["cells"], summary["cells"]);
    assert!(
        stderr(&again).contains("0 episodes to play"),
        "{}",
        stderr(&again)
    );

    let (html, md, json) = (
        dir.path().join("r.html"),
        dir.path().join("r.md"),
        dir.path().join("r.json"),
    );
    let report = run(&[
        "report",
        &id,
        "--out",
        db,
        "--html",
        html.to_str().unwrap(),
        "--md",
        md.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(report.status.success(), "{}", stderr(&report));
    let value = json_file(&json);
    let cells = value["report"]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    for cell in cells {
        assert_eq!(cell["episodes"], 4);
        assert_eq!(cell["split"], "test");
    }
    let comparisons = value["report"]["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 1);
    assert_eq!(comparisons[0]["harness"], "hand-written");
    assert_eq!(value["report"]["summary"]["settings"], 1);
    // Every episode was diagnosed once, when its run finished: the report reads the cache.
    assert_eq!(value["report"]["load"]["cached"], 8);
    assert_eq!(value["report"]["load"]["computed"], 0);
    let notes = value["report"]["notes"].to_string();
    assert!(notes.contains("SCRIPTED"), "{notes}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg") && !page.contains("<script") && !page.contains("http://cdn"));
    assert!(std::fs::read_to_string(&md).unwrap().contains("| toy |"));
    let again = run(&["report", &id, "--out", db, "--json", json.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json_file(&json)["report"]["load"]["cached"], 8);

    // Runs can be reported on by id too: the same two cells.
    let runs: Vec<String> = summary["cells"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let by_runs = run(&["report", &runs[0], &runs[1], "--out", db]);
    assert!(by_runs.status.success(), "{}", stderr(&by_runs));
    assert!(
        stdout(&by_runs).contains("hand-written"),
        "{}",
        stdout(&by_runs)
    );
}

#[test]
fn shards_merge_into_the_whole_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).display().to_string();
    let whole = matrix(&path("whole.db"), &["--json"]);
    assert!(whole.status.success(), "{}", stderr(&whole));
    let whole: Value = serde_json::from_str(stdout(&whole).trim()).unwrap();
    for (i, db) in ["a.db", "b.db"].iter().enumerate() {
        let shard = format!("{i}/2");
        let out = matrix(&path(db), &["--shard", &shard, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        // One shard's store alone says what it is missing.
        let id = whole["matrix"].as_str().unwrap();
        let alone = run(&["report", id, "--out", &path(db)]);
        assert!(alone.status.success(), "{}", stderr(&alone));
        assert!(
            stdout(&alone).contains("1 of 2 cells have no run in this store"),
            "{}",
            stdout(&alone)
        );
        let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(v["matrix"], whole["matrix"], "shards share the matrix id");
        assert_eq!(v["cells"].as_object().unwrap().len(), 1);
        assert_eq!(v["status"], format!("shard {i}/2 finished"));
    }
    for db in ["a.db", "b.db"] {
        let out = run(&["runs", "import", &path(db), "--out", &path("all.db")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let id = whole["matrix"].as_str().unwrap();
    let json = path("all.json");
    let out = run(&["report", id, "--out", &path("all.db"), "--json", &json]);
    assert!(out.status.success(), "{}", stderr(&out));
    let merged = json_file(Path::new(&json));
    let json2 = path("whole.json");
    let out = run(&["report", id, "--out", &path("whole.db"), "--json", &json2]);
    assert!(out.status.success(), "{}", stderr(&out));
    let single = json_file(Path::new(&json2));
    let rates = |v: &Value| -> Vec<(String, Value)> {
        v["report"]["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["key"].as_str().unwrap().to_string(),
                    c["successes"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(rates(&merged), rates(&single));
    // Merging copies episodes, not their cached facts: the report computed them.
    assert_eq!(merged["report"]["load"]["computed"], 8);
    assert_eq!(rates(&merged).len(), 2);
}

#[test]
fn bad_matrix_input_is_refused_before_any_episode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    let db = db.to_str().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "format_version = 1\nname = [\n").unwrap();
    let model = format!("scripted:{}", examples("toy-script.json"));
    let broken_arg = format!("toy={}", broken.display());
    let wrong_env = format!("tau2-retail={}", examples("toy-harness.toml"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--models", &model, "--envs", "nope"],
            "unknown environment 'nope'",
        ),
        (
            vec!["--models", "warp:9", "--envs", "toy"],
            "bad model spec 'warp:9'",
        ),
        (
            vec![
                "--models",
                &model,
                "--envs",
                "toy",
                "--harness",
                &broken_arg,
            ],
            "does not load",
        ),
        (
            vec!["--models", &model, "--envs", "toy", "--harness", "toy"],
            "expected ENV=FILE",
        ),
        (
            vec!["--models", &model, "--envs", "toy", "--harness", &wrong_env],
            "not in --envs",
        ),
        (
            vec!["--models", &model, "--envs", "toy", "--split", "nosuch"],
            "nosuch",
        ),
        (
            vec!["--models", &model, "--envs", "toy", "--shard", "2/2"],
            "--shard '2/2'",
        ),
        (
            vec!["--models", &model, "--envs", "toy", "--backend-limit", "x"],
            "BACKEND=N",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["matrix"];
        full.extend(args.iter().copied());
        full.extend(["--out", db]);
        let out = run(&full);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert!(
            err.contains(expected),
            "{args:?}: expected '{expected}' in: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    if Path::new(db).exists() {
        let out = run(&["runs", "list", "--out", db]);
        assert!(stdout(&out).contains("no runs"), "{}", stdout(&out));
    }
    let out = run(&["report", "matrix-0000", "--out", db]);
    assert!(!out.status.success());
}

#[test]
fn ablations_add_eight_variants_per_harness() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let out = matrix(db.to_str().unwrap(), &["--ablate", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(": 10 cells"), "{text}");
    for variant in ["contract only", "no regulation", "| null | full"] {
        assert!(text.contains(variant), "{variant}: {text}");
    }
    let out = matrix(
        db.to_str().unwrap(),
        &["--ablate", "--dry-run", "--shard", "1/3"],
    );
    assert!(stdout(&out).contains("3 in shard 1/3"), "{}", stdout(&out));
}

/// The HTML report in a real headless browser (Chromium from Debian's
/// packages: `bash scripts/setup-browser.sh`): it renders with no console
/// error, no script error and no network request, and a screenshot is
/// saved (to `$REPORT_SCREENSHOT`, default `target/report-screenshot.png`).
///
/// `cargo test -p lifeharness-cli --test it -- --ignored report_renders_in_a_real_browser`
#[test]
#[ignore = "needs Chromium (bash scripts/setup-browser.sh)"]
fn report_renders_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let db = db.to_str().unwrap();
    let out = matrix(db, &["--ablate", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let id = summary["matrix"].as_str().unwrap();
    let html = dir.path().join("report.html");
    let out = run(&["report", id, "--out", db, "--html", html.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let png = std::env::var("REPORT_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/report-screenshot.png"));
    if let Some(parent) = png.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let check = std::process::Command::new("bash")
        .arg(root.join("scripts/browser-check.sh"))
        .arg(&html)
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "browser check failed ({:?}): {}{}",
        check.status.code(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        std::fs::metadata(&png).unwrap().len() > 10_000,
        "the screenshot is empty"
    );
}
