//! Merging stores (the shards of a matrix) and the episode-facts cache,
//! whose rows must not outlive the episode they describe.

use std::path::Path;

use lifeharness_core::{Trajectory, TrajectorySink};
use lifeharness_store::{MergeSummary, Store};
use serde_json::{Value, json};

use crate::rich::{harness, long_result, record, rich, with_result};

const KEY_A: &str = "embedded:smollm2-135m|tau2-retail|evolved/x.toml|full";
const KEY_B: &str = "embedded:smollm2-135m|tau2-airline|null|full";

/// What a store holds, for comparing before and after.
fn snapshot(store: &Store) -> Value {
    let runs = store.runs().unwrap();
    let episodes: Vec<Value> = runs
        .iter()
        .map(|r| json!(store.episodes(&r.run_id).unwrap()))
        .collect();
    json!({
        "runs": runs,
        "episodes": episodes,
        "matrices": store.matrices().unwrap(),
        "evolutions": store.evolutions().unwrap(),
    })
}

fn unfinished(run: &str, episode: &str, steps: usize) -> Trajectory {
    let mut t = rich(run, episode, harness("h"));
    t.end = None;
    t.steps.truncate(steps);
    t
}

/// Shard one: run `r`, interrupted (episodes 1/0 finished, 2/0
/// interrupted), matrix `m`
/// with cell A, evolution `evo-1`.
async fn shard_one(db: &Path) -> Store {
    let store = Store::open(db).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({"env": "tau2-retail"}))
        .unwrap();
    let mut finished = rich("r", "1/0", harness("h"));
    with_result(&mut finished, &long_result("one"));
    record(&store, &finished).await;
    record(&store, &unfinished("r", "2/0", 2)).await;
    store.mark_interrupted("r").unwrap();
    store.set_run_status("r", "interrupted").unwrap();
    store
        .create_matrix("m", "2026-01-01T00:00:00Z", &json!({"shard": 0}))
        .unwrap();
    store.set_matrix_cell("m", KEY_A, "r").unwrap();
    store
        .create_evolution("evo-1", "2026-01-01T00:00:00Z", &json!({"env": "toy"}))
        .unwrap();
    store
}

/// Shard two: more episodes of run `r` (3/0 finished, 4/0 still running;
/// the run marked finished),
/// a new run `s`, matrix `m` with cells A (the same run) and B, a matrix
/// `m2`, evolution `evo-1` again and `evo-2`.
async fn shard_two(db: &Path) -> Store {
    let store = Store::open(db).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({"env": "tau2-retail"}))
        .unwrap();
    let mut finished = rich("r", "3/0", harness("h"));
    with_result(&mut finished, &long_result("two"));
    record(&store, &finished).await;
    record(&store, &unfinished("r", "4/0", 1)).await;
    store.set_run_status("r", "finished").unwrap();
    store
        .create_run("s", "2026-01-02T00:00:00Z", &json!({"env": "tau2-airline"}))
        .unwrap();
    store.set_run_status("s", "finished").unwrap();
    record(&store, &rich("s", "1/0", harness("other"))).await;
    store
        .create_matrix("m", "2026-01-01T00:00:00Z", &json!({"shard": 1}))
        .unwrap();
    store.set_matrix_cell("m", KEY_A, "r").unwrap();
    store.set_matrix_cell("m", KEY_B, "s").unwrap();
    store
        .create_matrix("m2", "2026-01-03T00:00:00Z", &json!({}))
        .unwrap();
    store.set_matrix_status("m2", "finished").unwrap();
    store
        .create_evolution("evo-1", "2026-01-01T00:00:00Z", &json!({"env": "other"}))
        .unwrap();
    store
        .create_evolution("evo-2", "2026-01-04T00:00:00Z", &json!({"env": "toy"}))
        .unwrap();
    store
}

#[tokio::test]
async fn shards_of_one_run_merge_into_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let one = shard_one(&dir.path().join("one.db")).await;
    let two = shard_two(&dir.path().join("two.db")).await;

    let summary = one.merge_from(two.path()).unwrap();
    assert_eq!(
        summary,
        MergeSummary {
            runs_added: 1,
            runs_extended: 1,
            episodes_added: 3,
            episodes_skipped: 0,
            matrices_added: 1,
            matrices_merged: 1,
            evolutions_added: 1,
        }
    );
    // Every episode reads back as it was written, with the status it had.
    for (run, episode) in [("r", "3/0"), ("r", "4/0"), ("s", "1/0")] {
        assert_eq!(
            one.trajectory(run, episode).unwrap(),
            two.trajectory(run, episode).unwrap(),
            "{run} {episode}"
        );
    }
    let listed: Vec<_> = one
        .episodes("r")
        .unwrap()
        .into_iter()
        .map(|e| (e.episode_id, e.status, e.steps))
        .collect();
    let want = [
        ("1/0", "finished", 3),
        ("2/0", "interrupted", 2),
        ("3/0", "finished", 3),
        ("4/0", "running", 1),
    ];
    assert_eq!(
        listed,
        want.map(|(e, s, n)| (e.to_string(), s.to_string(), n))
    );
    assert_eq!(one.episodes("s").unwrap(), two.episodes("s").unwrap());
    // A new run keeps its row; a run both had keeps this store's.
    assert_eq!(one.run("s").unwrap(), two.run("s").unwrap());
    assert_eq!(one.run("r").unwrap().status, "interrupted");
    assert_eq!(one.run("r").unwrap().finished, 2);
    // Matrix cells are unioned; this store's row keeps its own config.
    let m = one.matrix("m").unwrap();
    assert_eq!(m.cells.len(), 2);
    assert_eq!(
        (m.cells[KEY_A].as_str(), m.cells[KEY_B].as_str()),
        ("r", "s")
    );
    assert_eq!(m.config, json!({"shard": 0}));
    assert_eq!(one.matrix("m2").unwrap(), two.matrix("m2").unwrap());
    assert_eq!(one.evolution("evo-1").unwrap().config["env"], "toy");
    assert_eq!(
        one.evolution("evo-2").unwrap(),
        two.evolution("evo-2").unwrap()
    );

    // Merging the same shard again adds nothing.
    let before = snapshot(&one);
    let again = one.merge_from(two.path()).unwrap();
    assert_eq!(
        again,
        MergeSummary {
            episodes_skipped: 3,
            matrices_merged: 2,
            ..MergeSummary::default()
        }
    );
    assert_eq!(snapshot(&one), before);
    // The source is left as it was.
    assert_eq!(two.episodes("r").unwrap().len(), 2);
}

#[tokio::test]
async fn a_cell_mapped_to_two_runs_fails_the_merge_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let one = shard_one(&dir.path().join("one.db")).await;
    let two = shard_two(&dir.path().join("two.db")).await;
    two.set_matrix_cell("m", KEY_A, "r-elsewhere").unwrap();
    let before = snapshot(&one);
    let err = one.merge_from(two.path()).unwrap_err().to_string();
    assert!(err.contains(KEY_A), "{err}");
    assert!(
        err.contains("run 'r' in") && err.contains("run 'r-elsewhere' in"),
        "{err}"
    );
    assert!(
        err.contains("one.db") && err.contains("two.db") && err.contains("nothing was merged"),
        "{err}"
    );
    assert_eq!(snapshot(&one), before);
    assert!(one.episodes("r").unwrap().len() == 2 && one.run("s").is_err());
}

#[tokio::test]
async fn a_store_is_not_merged_into_itself() {
    let dir = tempfile::tempdir().unwrap();
    let one = shard_one(&dir.path().join("one.db")).await;
    let before = snapshot(&one);
    // Also when named by another path.
    for path in [
        dir.path().join("one.db"),
        dir.path().join(".").join("one.db"),
    ] {
        let err = one.merge_from(&path).unwrap_err().to_string();
        assert!(err.contains("into itself"), "{err}");
    }
    let err = one
        .merge_from(&dir.path().join("missing.db"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no store at") && err.contains("missing.db"),
        "{err}"
    );
    assert!(!dir.path().join("missing.db").exists());
    // An empty file would open as an empty database: it is not taken for a store.
    for (name, body) in [("empty.db", ""), ("text.db", "{\"format\": 1}\n")] {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let err = one.merge_from(&path).unwrap_err().to_string();
        assert!(err.contains("is not a lifeharness store"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), body);
    }
    assert_eq!(snapshot(&one), before);
}

#[test]
fn an_older_store_is_migrated_then_merged() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v1.db");
    let (finished, cut) = crate::migrate::v1_store(&old);
    let store = Store::open(&dir.path().join("new.db")).unwrap();
    let summary = store.merge_from(&old).unwrap();
    assert_eq!((summary.runs_added, summary.episodes_added), (1, 2));
    assert_eq!(store.trajectory("r", "5/0").unwrap(), finished);
    assert_eq!(store.trajectory("r", "5/1").unwrap(), cut);
    assert_eq!(store.episodes("r").unwrap()[1].status, "interrupted");
    assert_eq!(store.run("r").unwrap().status, "interrupted");
}

fn facts_row(run: &str, episode: &str) -> (String, String, i64, Value) {
    (run.into(), episode.into(), 1, json!({"of": episode}))
}

#[tokio::test]
async fn facts_are_dropped_whenever_their_episode_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    record(&store, &rich("r", "done", harness("h"))).await;
    let t = rich("r", "live", harness("h"));
    store.begin_episode(&t.header).await.unwrap();
    let save = |episodes: &[&str]| {
        let rows: Vec<_> = episodes.iter().map(|e| facts_row("r", e)).collect();
        store.save_episode_facts(&rows).unwrap();
    };
    let cached = || {
        let mut keys: Vec<String> = store.episode_facts("r").unwrap().into_keys().collect();
        keys.sort();
        keys
    };
    save(&["done", "live"]);
    assert_eq!(cached(), ["done", "live"]);
    // A step of the live episode drops its facts, not the finished one's.
    store.record_step("r", "live", &t.steps[0]).await.unwrap();
    assert_eq!(cached(), ["done"]);
    save(&["live"]);
    let end = t.end.clone().unwrap();
    store.end_episode("r", "live", &end).await.unwrap();
    assert_eq!(cached(), ["done"]);

    // Marked interrupted: its status changed, so its facts go.
    let u = unfinished("r", "cut", 1);
    record(&store, &u).await;
    save(&["cut"]);
    store.mark_interrupted("r").unwrap();
    assert_eq!(cached(), ["done"]);

    // Facts saved before their episode exists go when it is written (an import, a merge).
    let other = Store::open(&dir.path().join("b.db")).unwrap();
    other
        .save_episode_facts(&[facts_row("r", "done"), facts_row("r", "later")])
        .unwrap();
    other.merge_from(store.path()).unwrap();
    let left: Vec<String> = other.episode_facts("r").unwrap().into_keys().collect();
    assert_eq!(left, ["later"]);
}
