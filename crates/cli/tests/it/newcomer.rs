//! Regressions from what a newcomer and a long run hit (issue 11): set-up
//! detection, a validator that validates, faults that fail closed, a
//! readable `runs show`.

use std::path::Path;
use std::process::Command;

use super::{run, stderr, stdout, write_script};

fn setup_check(root: &Path) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg("--check")
        .arg(root)
        .env_remove("LIBCLANG_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

/// The image ships libclang-cpp (the C++ library) but not libclang: the old
/// check (`libclang*.so*`) took the one for the other and skipped libclang-dev.
#[test]
fn setup_tells_libclang_from_libclang_cpp() {
    let root = tempfile::tempdir().unwrap();
    let lib = root.path().join("usr/lib/llvm-14/lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("libclang-cpp.so.14"), "").unwrap();
    let need = setup_check(root.path());
    assert!(need.contains(&"libclang-dev".to_string()), "{need:?}");
    assert!(need.contains(&"cmake".to_string()), "{need:?}");

    std::fs::write(lib.join("libclang-14.so.1"), "").unwrap();
    let need = setup_check(root.path());
    assert!(!need.contains(&"libclang-dev".to_string()), "{need:?}");

    let plain = tempfile::tempdir().unwrap();
    let lib = plain.path().join("usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("libclang.so"), "").unwrap();
    let bin = plain.path().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["cmake", "bwrap"] {
        let path = bin.join(tool);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert!(setup_check(plain.path()).is_empty());
}

/// `validate` used to parse only: a rule example that fails passed as "ok"
/// while `run` refused the same file.
#[test]
fn validate_checks_every_rule_example_like_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.toml");
    std::fs::write(
        &file,
        r#"format_version = 1
name = "bad-example"

[[contract.constraints]]
id = "value-enum"
tool = "set"
arg = "value"
enum = ["large", "blue"]
message = "value must be large or blue"
examples = [{ args = { key = "size", value = "large" }, expect = "block" }]
"#,
    )
    .unwrap();
    let out = run(&["harness", "validate", file.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "validate accepted it: {}",
        stdout(&out)
    );
    assert!(
        err.contains("value-enum") && err.contains("example 1"),
        "{err}"
    );
    let run_out = run(&[
        "run",
        "--env",
        "toy",
        "--model",
        "scripted:nope.json",
        "--harness",
        file.to_str().unwrap(),
        "--out",
        dir.path().join("x.db").to_str().unwrap(),
    ]);
    assert!(!run_out.status.success());
    assert!(
        stderr(&run_out).contains("value-enum"),
        "{}",
        stderr(&run_out)
    );

    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../harnesses/tau2-retail.toml");
    let out = run(&["harness", "validate", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("examples checked"),
        "{}",
        stdout(&out)
    );
}

const FAULTY: &str = r#"format_version = 1
name = "faulty"
{RUNTIME}

[[realization.rules]]
id = "numeric-value"
tools = ["set"]
require = "int(args.value) > 0"
message = "value must be a positive number"
examples = [{ args = { key = "size", value = "5" }, expect = "allow" }]
"#;

fn faulty_run(dir: &Path, runtime: &str) -> (serde_json::Value, String, String) {
    let harness = dir.join(format!("faulty{}.toml", runtime.len()));
    std::fs::write(&harness, FAULTY.replace("{RUNTIME}", runtime)).unwrap();
    let script = write_script(
        dir,
        r#"[
  {"type": "call", "name": "set", "arguments": "{\"key\": \"color\", \"value\": \"large\"}"},
  {"type": "call", "name": "submit", "arguments": "{}"}
]"#,
    );
    let db = dir.join(format!("f{}.db", runtime.len()));
    let db = db.to_str().unwrap();
    let out = run(&[
        "run",
        "--env",
        "toy",
        "--tasks",
        "toy-0",
        "--split",
        "all",
        "--model",
        &format!("scripted:{}", script.display()),
        "--harness",
        harness.to_str().unwrap(),
        "--out",
        db,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let run_id = summary["run_id"].as_str().unwrap();
    let episode = run(&["runs", "show", run_id, "--episode", "toy-0/0", "--out", db]);
    let show = run(&["runs", "show", run_id, "--out", db]);
    (
        serde_json::from_str(&stdout(&episode)).unwrap(),
        stdout(&show),
        summary.to_string(),
    )
}

/// A rule whose expression cannot be evaluated (`int("large")`) used to
/// become an ordinary block shown to the model.
#[test]
fn a_rule_that_cannot_be_evaluated_ends_the_episode_as_a_harness_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (t, show, summary) = faulty_run(dir.path(), "");
    assert_eq!(t["end"]["exit"], "error", "{summary}");
    assert_eq!(t["end"]["failure"], "harness_fault");
    let action = &t["steps"][0]["actions"][0];
    assert!(action.get("executed").is_none(), "{action}");
    assert!(action.get("correction").is_none(), "{action}");
    let events = t["steps"][0]["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["verdict"] == "fault"), "{events:?}");
    assert!(events.iter().all(|e| e["verdict"] != "block"), "{events:?}");
    assert!(show.contains("1 harness faults, 0 ran unchecked"), "{show}");
}

#[test]
fn a_harness_may_let_unchecked_actions_through_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (t, show, _) = faulty_run(dir.path(), "[runtime]\non_fault = \"allow_unchecked\"\n");
    assert_eq!(t["end"]["exit"], "success", "{t}");
    let action = &t["steps"][0]["actions"][0];
    assert!(action.get("executed").is_some(), "{action}");
    let events = t["steps"][0]["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["verdict"] == "unchecked"),
        "{events:?}"
    );
    assert!(show.contains("1 harness faults, 1 ran unchecked"), "{show}");
}

/// `runs show` printed the whole harness TOML in its config line (35 KB
/// for the retail harness).
#[test]
fn runs_show_summarises_the_config_and_keeps_the_harness_for_json() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        r#"[{"type": "call", "name": "submit", "arguments": "{}"}]"#,
    );
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/toy-harness.toml");
    let db = dir.path().join("s.db");
    let db = db.to_str().unwrap();
    let out = run(&[
        "run",
        "--env",
        "toy",
        "--split",
        "test",
        "--limit",
        "2",
        "--trials",
        "2",
        "--seed",
        "7",
        "--model",
        &format!("scripted:{}", script.display()),
        "--harness",
        harness.to_str().unwrap(),
        "--out",
        db,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let run_id = summary["run_id"].as_str().unwrap();
    let show = stdout(&run(&["runs", "show", run_id, "--out", db]));
    for expected in [
        "env toy | split test (2 tasks) | model scripted:",
        "harness toy-example (id ",
        "toy-harness.toml",
        "seed 7 | trials 2",
        "0/4 solved",
    ] {
        assert!(show.contains(expected), "missing '{expected}' in:\n{show}");
    }
    assert!(!show.contains("[[realization"), "{show}");
    assert!(show.len() < 2_000, "{} bytes:\n{show}", show.len());
    let json = stdout(&run(&["runs", "show", run_id, "--out", db, "--json"]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        json["run"]["config"]["harness_toml"]
            .as_str()
            .unwrap()
            .contains("format_version")
    );
    assert_eq!(json["summary"]["episodes_finished"], 4);
}

/// The main job's shape: the same tasks without and with a harness, side by
/// side, saying it is a small sample.
#[test]
fn compare_plays_both_sides_and_tabulates_what_changed() {
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
    let db = dir.path().join("c.db");
    let args = [
        "compare",
        "--env",
        "toy",
        "--split",
        "all",
        "--tasks",
        "toy-0",
        "--model",
        &format!("scripted:{}", script.display()),
        "--harness",
        harness.to_str().unwrap(),
        "--out",
        db.to_str().unwrap(),
    ];
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "harness off (null)",
        "harness on (",
        "blocked with a correction",
        "executable (ran without error)",
        "SMALL SAMPLE: 1 task x 1 trial",
    ] {
        assert!(text.contains(expected), "missing '{expected}' in:\n{text}");
    }
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = run(&json_args);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let sides = v["sides"].as_array().unwrap();
    assert_eq!(sides.len(), 2);
    // Off: the malformed call reaches the toy environment and fails there.
    assert_eq!(sides[0]["actions"]["blocked"], 0);
    // On: the schema check blocks it with a correction, the next call runs.
    assert_eq!(sides[1]["actions"]["blocked"], 1, "{v}");
    assert_eq!(sides[1]["corrected"], 1, "{v}");
    let bad = run(&[
        "compare",
        "--env",
        "toy",
        "--model",
        &format!("scripted:{}", script.display()),
        "--harness",
        "nope.toml",
        "--out",
        db.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("nope.toml"), "{}", stderr(&bad));
    // Nothing was recorded for the refused comparison: still the 4 runs above.
    let list = stdout(&run(&["runs", "list", "--out", db.to_str().unwrap()]));
    assert_eq!(list.lines().count(), 4, "{list}");
}
