//! What episodes repeat is stored once; damaged stored records are named.

use std::path::Path;

use lifeharness_store::Store;
use serde_json::json;

use crate::rich::{harness, long_result, record, rich, with_result};

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn size(db: &Path) -> u64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    std::fs::metadata(db).unwrap().len()
}

#[tokio::test]
async fn episodes_sharing_a_harness_store_its_config_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let store = Store::open(&db).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    let shared = harness("h");
    let config_len = serde_json::to_string(&shared.config).unwrap().len();
    assert!(config_len > 30_000, "{config_len}");
    record(&store, &rich("r", "a", shared.clone())).await;
    let one = size(&db);
    // Task, environment, model, harness and system text: one blob each.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM blobs"), 5);
    for i in 0..20 {
        record(&store, &rich("r", &format!("e{i}"), shared.clone())).await;
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM blobs"), 5);
    let harness_blobs = count(
        &db,
        "SELECT COUNT(DISTINCT harness) FROM episodes WHERE run_id = 'r'",
    );
    assert_eq!(harness_blobs, 1);
    // Twenty more episodes cost far less than twenty copies of the config.
    let grown = size(&db) - one;
    assert!(
        grown < 20 * config_len as u64 / 4,
        "20 episodes added {grown} bytes"
    );
    // Another harness adds exactly one blob; the rest is still shared.
    record(&store, &rich("r", "other", harness("other"))).await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM blobs"), 6);
    // Layer events are stored once per distinct event.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM event_kinds"), 5);
}

#[tokio::test]
async fn the_steps_and_events_views_answer_queries_over_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let store = Store::open(&db).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    record(&store, &rich("r", "a", harness("h"))).await;
    record(&store, &rich("r", "b", harness("h"))).await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM steps WHERE run_id = 'r' AND episode_id = 'b'"
        ),
        3
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let blocks: Vec<(String, i64, i64)> = conn
        .prepare("SELECT episode_id, step_idx, seq FROM events WHERE rule_id = 'order-id-format' ORDER BY episode_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(blocks, vec![("a".into(), 0, 1), ("b".into(), 0, 1)]);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM events WHERE verdict = 'setup' AND step_idx IS NULL"
        ),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM events WHERE observe_only = 1 AND failure IS NULL"
        ),
        2
    );
    // Every event of every step: 1 + 4 + 0 + 1 per episode.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), 12);
}

/// Long tool results are blobs, stored once however many steps saw them;
/// short ones stay in the step's body. Everything reads back as written.
#[tokio::test]
async fn long_observation_texts_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let store = Store::open(&db).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    let shared = long_result("shared");
    assert!(shared.len() > 2_000, "{}", shared.len());
    let mut written = Vec::new();
    for i in 0..3 {
        let mut t = rich("r", &format!("e{i}"), harness("h"));
        with_result(&mut t, &shared);
        // The last step's short environment text stays inline; make the
        // second action of the first step carry a unique long result.
        let own = long_result(&format!("own{i}"));
        t.steps[0].actions[1].observation = Some(lifeharness_core::Observation::user(own));
        record(&store, &t).await;
        written.push(t);
    }
    // Five header blobs, the shared result once, one own result per episode.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM blobs"), 5 + 1 + 3);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM step_rows WHERE contents IS NOT NULL"
        ),
        3
    );
    for t in &written {
        let back = store.trajectory("r", &t.header.episode_id).unwrap();
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(t).unwrap()
        );
    }
    // Export writes them whole; import stores them as blobs again.
    let mut out = Vec::new();
    store.export_jsonl("r", &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("shared-39") && text.contains("own2-0"));
    let other = dir.path().join("b.db");
    let imported = Store::open(&other).unwrap();
    imported
        .import_jsonl(&mut text.as_bytes(), "out.jsonl")
        .unwrap();
    assert_eq!(count(&other, "SELECT COUNT(*) FROM blobs"), 5 + 1 + 3);
    assert_eq!(imported.trajectory("r", "e1").unwrap(), written[1]);
}

async fn damaged(sql: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let store = Store::open(&db).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    record(&store, &rich("r", "a", harness("h"))).await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(sql).unwrap();
    store.trajectory("r", "a").unwrap_err().to_string()
}

#[tokio::test]
async fn a_damaged_stored_record_is_a_clear_error() {
    let truncated = damaged(
        "UPDATE blobs SET body = substr(body, 1, length(body) / 2)
         WHERE id = (SELECT harness FROM episodes)",
    )
    .await;
    assert!(
        truncated.contains("episode 'a' of run 'r': stored harness is malformed")
            && truncated.contains("not deflate data"),
        "{truncated}"
    );
    // Another blob's (valid) body under this blob's hash.
    let swapped = damaged(
        "UPDATE blobs SET body = (SELECT body FROM blobs WHERE id = (SELECT model FROM episodes))
         WHERE id = (SELECT task FROM episodes)",
    )
    .await;
    assert!(
        swapped.contains("stored task is malformed") && swapped.contains("does not match its hash"),
        "{swapped}"
    );
    let missing = damaged("PRAGMA foreign_keys = OFF; DELETE FROM blobs WHERE id = (SELECT system_text FROM episodes)").await;
    assert!(
        missing.contains("stored system text is malformed") && missing.contains("is missing"),
        "{missing}"
    );
    let step = damaged("UPDATE step_rows SET body = x'00ff00' WHERE idx = 1").await;
    assert!(step.contains("stored step 1 is malformed"), "{step}");
    let events = damaged("UPDATE step_rows SET events = '[1,' WHERE idx = 0").await;
    assert!(
        events.contains("stored event list of step 0 is malformed"),
        "{events}"
    );
    let kind = damaged("UPDATE step_rows SET events = '[999]' WHERE idx = 2").await;
    assert!(kind.contains("event kind 999 is missing"), "{kind}");
    let text = damaged("UPDATE step_rows SET contents = '[[0,999]]' WHERE idx = 0").await;
    assert!(
        text.contains("stored step 0 observation text is malformed")
            && text.contains("blob 999 is missing"),
        "{text}"
    );
    let list = damaged("UPDATE step_rows SET contents = '[[1,1]]' WHERE idx = 0").await;
    assert!(
        list.contains("stored step 0 is malformed")
            && list.contains("action 1, which has no observation"),
        "{list}"
    );
    let list = damaged("UPDATE step_rows SET contents = '{' WHERE idx = 2").await;
    assert!(list.contains("not a list of [action, blob]"), "{list}");
}

#[tokio::test]
async fn harnesses_equal_as_values_but_written_differently_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let store = Store::open(&db).unwrap();
    store
        .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
        .unwrap();
    // serde_json's `==` calls these equal; their JSON texts differ.
    let configs = [
        json!({"a": 1, "b": 0.0}),
        json!({"b": 0.0, "a": 1}),
        json!({"a": 1, "b": -0.0}),
    ];
    for (i, config) in configs.into_iter().enumerate() {
        let mut h = harness("h");
        h.config = config;
        let t = rich("r", &format!("e{i}"), h);
        record(&store, &t).await;
        let back = store.trajectory("r", &t.header.episode_id).unwrap();
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&t).unwrap()
        );
    }
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT harness) FROM episodes"),
        3
    );
}
