//! End-to-end tests of the `lifeharness` binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod diagnose;
mod evolve;
mod matrix;
mod newcomer;
mod store_import;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lifeharness"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn write_script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("script.json");
    std::fs::write(&path, body).unwrap();
    path
}

const LOOPING: &str = r#"[
  {"type": "call", "name": "get", "arguments": "{\"key\": \"x\"}"},
  {"type": "call", "name": "get", "arguments": "{\"key\": \"y\"}"},
  {"type": "call", "name": "submit", "arguments": "{}"}
]"#;

#[test]
fn help_shows_examples() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("Examples:"));
    assert!(stdout(&out).contains("lifeharness run --env toy"));
}

#[test]
fn bad_arguments_and_files_get_one_clear_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let db = db.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--env", "nope", "--model", "scripted:x", "--out", db],
            "unknown environment 'nope'",
        ),
        (
            vec!["run", "--env", "toy", "--model", "warp:9", "--out", db],
            "bad model spec 'warp:9'",
        ),
        (
            vec![
                "run",
                "--env",
                "toy",
                "--model",
                "scripted:/no/such.json",
                "--out",
                db,
            ],
            "i/o error at /no/such.json",
        ),
        (
            vec![
                "run",
                "--env",
                "toy",
                "--split",
                "dev",
                "--model",
                "scripted:x",
                "--out",
                db,
            ],
            "unknown split 'dev'",
        ),
        (
            vec![
                "run",
                "--env",
                "toy",
                "--tasks",
                "toy-99",
                "--model",
                "scripted:x",
                "--out",
                db,
            ],
            "unknown task id 'toy-99'",
        ),
        (
            vec!["run", "--resume", "run-missing", "--out", db],
            "no run 'run-missing'",
        ),
        (
            vec!["runs", "list", "--out", "/no/such/dir/x.db"],
            "no trajectory store",
        ),
    ];
    for (args, expected) in cases {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let bad_harness = dir.path().join("h.toml");
    std::fs::write(
        &bad_harness,
        "format_version = 1\nname = \"h\"\n[runtime]\nmax_stepz = 2\n",
    )
    .unwrap();
    let out = run(&["harness", "validate", bad_harness.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("max_stepz") && err.contains("line 4"),
        "{err}"
    );
    let out = run(&[
        "run",
        "--env",
        "toy",
        "--concurrency",
        "0",
        "--model",
        "scripted:x",
    ]);
    assert!(!out.status.success() && stderr(&out).contains("--concurrency"));
}

#[test]
fn a_run_records_episodes_and_can_be_listed_shown_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/toy-script.json"),
        )
        .unwrap(),
    );
    let db = dir.path().join("runs.db");
    let db_s = db.to_str().unwrap();
    let model = format!("scripted:{}", script.display());
    let out = run(&[
        "run", "--env", "toy", "--split", "all", "--limit", "4", "--model", &model, "--out", db_s,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("SCRIPTED"));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["episodes_finished"], 4);
    // toy-0 asks for color=large, which the script does; the others fail.
    assert_eq!(summary["successes"], 1);
    let run_id = summary["run_id"].as_str().unwrap().to_string();

    let list = run(&["runs", "list", "--out", db_s]);
    assert!(stdout(&list).contains(&run_id));
    let show = run(&["runs", "show", &run_id, "--out", db_s]);
    assert!(stdout(&show).contains("toy-0/0"), "{}", stdout(&show));
    let episode = run(&[
        "runs",
        "show",
        &run_id,
        "--episode",
        "toy-0/0",
        "--out",
        db_s,
    ]);
    let t: serde_json::Value = serde_json::from_str(&stdout(&episode)).unwrap();
    assert_eq!(t["format"], "lifeharness.trajectory");
    assert_eq!(t["header"]["model"]["backend"], "scripted");
    assert_eq!(t["end"]["exit"], "success");
    assert_eq!(t["header"]["harness"]["name"], "null");
    assert_eq!(t["header"]["harness"]["id"].as_str().unwrap().len(), 64);

    let jsonl = dir.path().join("out.jsonl");
    let export = run(&[
        "runs",
        "export",
        &run_id,
        "-o",
        jsonl.to_str().unwrap(),
        "--out",
        db_s,
    ]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), 4);
    let other = dir.path().join("other.db");
    let import = run(&[
        "runs",
        "import",
        jsonl.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(import.status.success(), "{}", stderr(&import));
    assert!(stdout(&import).contains("imported 4"));
}

fn finished(db: &Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    // The run may not have created its tables yet.
    let Ok(mut stmt) = conn.prepare(
        "SELECT episode_id, task_id, end_record FROM episodes WHERE status = 'finished' ORDER BY episode_id",
    ) else {
        return Vec::new();
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default()
}

#[test]
fn kill_dash_nine_then_resume_loses_no_finished_episode() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), LOOPING);
    let db = dir.path().join("crash.db");
    let model = format!("scripted:{}", script.display());
    let mut child = bin()
        .args([
            "run",
            "--env",
            "toy",
            "--split",
            "all",
            "--model",
            &model,
            "--concurrency",
            "2",
            "--model-delay-ms",
            "40",
            "--out",
            db.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if db.exists() && finished(&db).len() >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "run made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = finished(&db);
    assert!(before.len() >= 4 && before.len() < 20, "{}", before.len());

    let conn = rusqlite::Connection::open(&db).unwrap();
    let run_id: String = conn
        .query_row("SELECT run_id FROM runs", [], |r| r.get(0))
        .unwrap();
    let partial: i64 = conn
        .query_row("SELECT COUNT(*) FROM steps s JOIN episodes e USING (run_id, episode_id) WHERE e.status != 'finished'", [], |r| r.get(0))
        .unwrap();
    drop(conn);

    let out = run(&[
        "run",
        "--resume",
        &run_id,
        "--out",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("({} already finished)", before.len())),
        "{}",
        stderr(&out)
    );
    let after = finished(&db);
    assert_eq!(after.len(), 20);
    // Every episode finished before the kill is still there, unchanged.
    for row in &before {
        assert!(after.contains(row), "{row:?} changed or vanished");
    }
    // One finished episode per task.
    let mut tasks: Vec<_> = after.iter().map(|r| r.1.clone()).collect();
    tasks.dedup();
    assert_eq!(tasks.len(), 20);
    // Steps of episodes cut off by the kill are kept.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let kept: i64 = conn
        .query_row("SELECT COUNT(*) FROM steps s JOIN episodes e USING (run_id, episode_id) WHERE e.status = 'interrupted'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, partial);
}

#[test]
fn replay_agentbench_db_gold_scores_one_on_every_dev_task() {
    let out = run(&[
        "replay",
        "--env",
        "agentbench-db",
        "--split",
        "dev",
        "--gold",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 60);
    assert!(lines.iter().all(|l| l["reward"] == 1.0), "{lines:?}");
    let bad = run(&[
        "replay",
        "--env",
        "agentbench-db",
        "--split",
        "nope",
        "--gold",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).starts_with("error: "), "{}", stderr(&bad));
}

#[test]
fn replay_tau2_gold_and_action_files() {
    let out = run(&[
        "replay",
        "--env",
        "tau2-airline",
        "--split",
        "test",
        "--gold",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20);
    for l in &lines {
        assert_eq!(l["reward"], 1.0, "{l}");
        assert_eq!(l["db_match"], true);
        assert_eq!(l["db_hash"].as_str().unwrap().len(), 64);
        assert!(l["observations"].is_array());
    }
    let dir = tempfile::tempdir().unwrap();
    let actions = dir.path().join("a.jsonl");
    std::fs::write(
        &actions,
        "{\"task_id\": \"0\", \"actions\": [{\"name\": \"get_user_details\", \"arguments\": {\"user_id\": \"nobody\"}}]}\nnot json\n",
    )
    .unwrap();
    let out = run(&[
        "replay",
        "--env",
        "tau2-airline",
        "--actions-file",
        actions.to_str().unwrap(),
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    std::fs::write(
        &actions,
        "{\"task_id\": \"0\", \"actions\": [{\"name\": \"get_user_details\", \"arguments\": {\"user_id\": \"nobody\"}}]}\n",
    )
    .unwrap();
    let out = run(&[
        "replay",
        "--env",
        "tau2-airline",
        "--actions-file",
        actions.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["observations"][0], "Error: User nobody not found");
    assert_eq!(report["db_match"], true);
}

#[test]
fn a_closed_stdout_ends_quietly_not_with_a_panic() {
    // `lifeharness replay ... | head -1`: the reader goes away first.
    let mut child = bin()
        .args([
            "replay",
            "--env",
            "tau2-airline",
            "--split",
            "all",
            "--gold",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");
}

#[test]
fn shipped_harnesses_block_no_gold_action() {
    for env in ["tau2-retail", "tau2-airline", "agentbench-db"] {
        let harness = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../harnesses")
            .join(format!("{env}.toml"));
        let out = run(&[
            "audit",
            "--harness",
            harness.to_str().unwrap(),
            "--gold",
            "--env",
            env,
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        let summary = &report["successful"]["counts"];
        assert!(
            summary["actions"].as_u64().unwrap() > 100,
            "{env}: {summary}"
        );
        assert_eq!(summary["blocked"], 0, "{env}: {summary}");
        assert_eq!(report["false_positive_count"], 0, "{env}");
        assert!(
            summary["annotated"].as_u64().unwrap() > 0,
            "{env}: {summary}"
        );
    }
}

#[test]
fn audit_gold_blocks_no_reference_action_and_audits_trajectories() {
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/toy-harness.toml");
    let harness = harness.to_str().unwrap();
    let out = run(&[
        "audit",
        "--harness",
        harness,
        "--gold",
        "--env",
        "toy",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["episodes"], 20);
    assert!(report["successful"]["counts"]["actions"].as_u64().unwrap() >= 40);
    assert_eq!(report["successful"]["counts"]["blocked"], 0, "{report}");

    // A recorded run whose model loops on a missing key: audit says what would have happened.
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        LOOPING.replace("\\\"y\\\"", "\\\"x\\\"").as_str(),
    );
    let db = dir.path().join("a.db");
    let model = format!("scripted:{}", script.display());
    let ran = run(&[
        "run",
        "--env",
        "toy",
        "--limit",
        "1",
        "--model",
        &model,
        "--out",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    let summary: serde_json::Value = serde_json::from_str(stdout(&ran).trim()).unwrap();
    let run_id = summary["run_id"].as_str().unwrap();
    let jsonl = dir.path().join("t.jsonl");
    run(&[
        "runs",
        "export",
        run_id,
        "-o",
        jsonl.to_str().unwrap(),
        "--out",
        db.to_str().unwrap(),
    ]);
    let out = run(&[
        "audit",
        "--harness",
        harness,
        "--trajectories",
        jsonl.to_str().unwrap(),
        "--env",
        "toy",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["failed"]["counts"]["actions"], 3, "{report}");
    // submit before any successful get/set is blocked by the ordering rule
    assert_eq!(
        report["rules"]["act-before-submit"]["failed"]["blocked"], 1,
        "{report}"
    );
    assert_eq!(report["failed"]["counts"]["annotated"], 0);
    // The same run audited from the store gives the same counts.
    let from_store = run(&[
        "audit",
        "--harness",
        harness,
        "--run",
        run_id,
        "--out",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(from_store.status.success(), "{}", stderr(&from_store));
    let again: serde_json::Value = serde_json::from_str(stdout(&from_store).trim()).unwrap();
    assert_eq!(again["rules"], report["rules"]);
}

#[test]
fn a_harnessed_run_records_layer_events() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        r#"[
  {"type": "call", "name": "set", "arguments": "{\"keys\": \"color\", \"value\": \"large\"}"},
  {"type": "call", "name": "set", "arguments": "{\"key\": \"color\", \"value\": \"large\"}"},
  {"type": "call", "name": "submit", "arguments": "{}"}
]"#,
    );
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/toy-harness.toml");
    let db = dir.path().join("h.db");
    let model = format!("scripted:{}", script.display());
    let out = run(&[
        "run",
        "--env",
        "toy",
        "--tasks",
        "toy-0",
        "--split",
        "all",
        "--model",
        &model,
        "--harness",
        harness.to_str().unwrap(),
        "--out",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["successes"], 1, "{summary}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let blocked: String = conn
        .query_row(
            "SELECT rule_id FROM events WHERE verdict = 'block'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(blocked, "realization/schema");
    let setup: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE verdict = 'setup'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(setup >= 4, "{setup}");
}

#[test]
fn harness_diff_names_changed_rules_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/toy-harness.toml");
    let text = std::fs::read_to_string(&old).unwrap();
    let changed = text
        .replace("pattern = \"^[a-z]+$\"", "pattern = \"^[a-z_]+$\"")
        .replace("max_steps = 12", "max_steps = 20")
        .replace(
            "[[skills.skills]]\nid = \"copy\"",
            "[[skills.skills]]\nid = \"copy2\"",
        );
    let new = dir.path().join("new.toml");
    std::fs::write(&new, changed).unwrap();
    let out = run(&[
        "harness",
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let paths: Vec<String> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["change"].as_str().unwrap(),
                c["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        paths,
        vec![
            "changed runtime.max_steps",
            "changed contract.constraints[key-lowercase].pattern",
            "removed skills.skills[copy]",
            "added skills.skills[copy2]",
        ],
        "{report}"
    );
    assert_ne!(report["old"]["id"], report["new"]["id"]);
    let same = run(&[
        "harness",
        "diff",
        old.to_str().unwrap(),
        old.to_str().unwrap(),
    ]);
    assert!(stdout(&same).contains("no changes"));
}

/// Guide and trim events of `db`, in step order: (step, verdict, message).
fn decoding_events(db: &Path) -> Vec<(i64, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT step_idx, verdict, message FROM events WHERE verdict IN ('guide', 'trim') ORDER BY step_idx, seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn guided_decoding_and_the_context_budget_are_recorded_on_tau2() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        r##"[
  {"type": "call", "name": "find_user_id_by_name_zip", "arguments": "{\"first_name\": \"Mei\", \"last_name\": \"Kovacs\", \"zip\": \"28236\"}"},
  {"type": "call", "name": "get_user_details", "arguments": "{\"user_id\": \"mei_kovacs_8020\"}"},
  {"type": "call", "name": "get_order_details", "arguments": "{\"order_id\": \"#W6390527\"}"},
  {"type": "call", "name": "get_product_details", "arguments": "{\"product_id\": \"6817146515\"}"},
  {"type": "call", "name": "get_order_details", "arguments": "{\"order_id\": \"#W6390527\"}"}
]"##,
    );
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../harnesses/tau2-retail.toml"),
    )
    .unwrap();
    assert!(shipped.contains("\nbudget = \"auto\"\n"));
    let model = format!("scripted:{}", script.display());
    let play = |budget: usize| {
        let harness = dir.path().join(format!("h{budget}.toml"));
        let text = shipped.replace("\nbudget = \"auto\"\n", &format!("\nbudget = {budget}\n"));
        std::fs::write(&harness, text).unwrap();
        let db = dir.path().join(format!("b{budget}.db"));
        let out = run(&[
            "run",
            "--env",
            "tau2-retail",
            "--split",
            "test",
            "--tasks",
            "5",
            "--model",
            &model,
            "--harness",
            harness.to_str().unwrap(),
            "--max-steps",
            "6",
            "--out",
            db.to_str().unwrap(),
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        decoding_events(&db)
    };
    // A budget nothing fits in: every turn says so, and the episode goes on.
    let tight = play(64);
    let guides: Vec<&(i64, String, String)> = tight.iter().filter(|e| e.1 == "guide").collect();
    // Before authentication the lookups are left out of the grammar (the
    // ordering rule); once the user's details are in, their order ids are
    // the only ones offered.
    assert!(
        guides[0].2.contains("left out: get_order_details (auth-before-lookup), get_user_details (auth-before-lookup)"),
        "{}",
        guides[0].2
    );
    assert!(!guides[1].2.contains("left out"), "{}", guides[1].2);
    let after_user = guides.iter().find(|g| g.0 == 2).expect("a guide at step 2");
    // Mei Kovacs has three orders and one user id: once her details are in
    // (step 2), they are all the grammar offers.
    for offered in [
        "get_order_details.order_id: 3 value(s) (get-order-details-order-id-grounded)",
        "get_user_details.user_id: 1 value(s) (get-user-details-user-id-grounded)",
    ] {
        assert!(
            after_user.2.contains(offered),
            "{offered}: {}",
            after_user.2
        );
    }
    let trims: Vec<&String> = tight
        .iter()
        .filter(|e| e.1 == "trim")
        .map(|e| &e.2)
        .collect();
    assert!(
        trims.len() >= 5 && trims.iter().all(|t| t.contains("still over")),
        "{trims:?}"
    );
    let first: usize = trims[0]
        .strip_prefix("prompt ")
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    // Room for the task and a few results: older results are abbreviated
    // and every prompt fits.
    let budget = first + 1300;
    let fitted = play(budget);
    let trims: Vec<&String> = fitted
        .iter()
        .filter(|e| e.1 == "trim")
        .map(|e| &e.2)
        .collect();
    assert!(!trims.is_empty(), "{fitted:?}");
    for trim in &trims {
        assert!(!trim.contains("still over"), "{trim}");
        let after: usize = trim
            .split(" -> ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(after <= budget, "{trim}");
    }
}
