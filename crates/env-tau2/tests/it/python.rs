//! Byte-for-byte agreement with the Python original (tau2 1.0.1, a2c0247).
//!
//! `fixtures/python_reference.json` was produced by running the original:
//! `TAU2_DATA_DIR=/tmp/tau2src/data /tmp/tau2venv/bin/python tools/python_reference.py tests/it/fixtures/python_reference.json`
//! (see the script's docstring for the install).

use lifeharness_core::py::float_repr;
use lifeharness_env_tau2::pyjson;
use lifeharness_env_tau2::{Db, Tau2Factory, UserMode};
use proptest::prelude::*;
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_str(include_str!("fixtures/python_reference.json")).unwrap_or(Value::Null)
}

fn factory(domain: &str) -> Tau2Factory {
    Tau2Factory::by_name(domain, UserMode::Ticket).unwrap()
}

/// Produced with Python 3.12 and the original installed:
/// `python -c "from tau2.domains.retail.environment import get_environment as g; print(g().get_db_hash())"`
/// (and likewise `tau2.domains.airline`), with `TAU2_DATA_DIR` pointing at a
/// data dir holding this crate's `data/<domain>/db.json`.
const RETAIL_INITIAL_HASH: &str =
    "b25c9cb211f5efcaee5dd646054a73c4a9f43f4f5acc32c10713cd9f9ac20e9c";
const AIRLINE_INITIAL_HASH: &str =
    "7d1714e959830778e6b38d63428b660ef6c9009261f0adaa178adb97bfb469d6";

#[test]
fn initial_db_hashes_equal_python() {
    assert_eq!(
        factory("tau2-retail").initial_db_hash(),
        RETAIL_INITIAL_HASH
    );
    assert_eq!(
        factory("tau2-airline").initial_db_hash(),
        AIRLINE_INITIAL_HASH
    );
}

#[test]
fn gold_replays_match_python_for_every_task() {
    let reference = reference();
    for domain in ["retail", "airline"] {
        let factory = factory(domain);
        let data = factory.data();
        let expected = &reference[domain];
        assert_eq!(expected["initial_hash"], data.initial_hash.as_str());
        let tasks = expected["tasks"].as_object().unwrap();
        assert_eq!(tasks.len(), data.tasks.len());
        for (task, _) in &data.tasks {
            let mut db: Db = data.db.clone();
            let mut contents = Vec::new();
            for action in task
                .evaluation_criteria
                .as_ref()
                .unwrap()
                .actions
                .iter()
                .flatten()
            {
                contents.push(db.call(&action.name, &action.arguments).content);
            }
            let want = &tasks[&task.id];
            assert_eq!(
                want["final_hash"],
                db.hash().as_str(),
                "{domain} task {} hash",
                task.id
            );
            let digest = lifeharness_core::hash::sha256_hex(pyjson::dumps(&contents).as_bytes());
            assert_eq!(
                want["observations_sha256"],
                digest.as_str(),
                "{domain} task {} observations",
                task.id
            );
        }
    }
}

#[test]
fn probe_calls_match_python_text_errors_and_effects() {
    let reference = reference();
    for domain in ["retail", "airline"] {
        let factory = factory(domain);
        let mut db = factory.data().db.clone();
        for (i, probe) in reference[domain]["probes"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let name = probe["name"].as_str().unwrap();
            let result = db.call(name, &probe["arguments"]);
            assert_eq!(
                result.content,
                probe["content"].as_str().unwrap(),
                "{domain} probe {i} {name} {}",
                probe["arguments"]
            );
            assert_eq!(
                result.is_error,
                probe["error"].as_bool().unwrap(),
                "{domain} probe {i}"
            );
            assert_eq!(
                db.hash(),
                probe["hash_after"].as_str().unwrap(),
                "{domain} probe {i} {name} hash"
            );
        }
    }
}

#[test]
fn golden_error_strings() {
    let mut retail = factory("tau2-retail").data().db.clone();
    let mut airline = factory("tau2-airline").data().db.clone();
    let cases: [(bool, &str, Value, &str); 6] = [
        (
            true,
            "get_order_details",
            serde_json::json!({"order_id": "#W404"}),
            "Error: Order not found",
        ),
        (
            true,
            "cancel_pending_order",
            serde_json::json!({"order_id": "#W4817420", "reason": "no longer needed"}),
            "Error: Non-pending order cannot be cancelled",
        ),
        (
            true,
            "nope",
            serde_json::json!({}),
            "Error: Tool 'nope' not found.",
        ),
        (
            false,
            "get_reservation_details",
            serde_json::json!({"reservation_id": "NOPE00"}),
            "Error: Reservation NOPE00 not found",
        ),
        (
            false,
            "update_reservation_passengers",
            serde_json::json!({"reservation_id": "4WQ150"}),
            "Error: AirlineTools.update_reservation_passengers() missing 1 required positional argument: 'passengers'",
        ),
        (
            false,
            "get_flight_status",
            serde_json::json!({"flight_number": "HAT001", "date": "1999-01-01"}),
            "Error: Flight HAT001 not found on date 1999-01-01",
        ),
    ];
    for (is_retail, name, args, expected) in cases {
        let db = if is_retail { &mut retail } else { &mut airline };
        assert_eq!(db.call(name, &args).content, expected);
    }
}

#[test]
fn user_simulator_prompt_equals_python() {
    let reference = reference();
    for domain in ["retail", "airline"] {
        let factory = factory(domain);
        let scenario = factory.data().tasks[0].0.user_scenario.to_string();
        assert_eq!(
            lifeharness_env_tau2::prompts::user_system(&scenario),
            reference[domain]["user_system_prompt_task0"]
                .as_str()
                .unwrap()
        );
    }
}

proptest! {
    #[test]
    fn float_repr_round_trips_and_follows_python_notation(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let text = float_repr(x);
        prop_assert_eq!(text.parse::<f64>().ok(), Some(x));
        let exponent = if x == 0.0 { 0 } else { x.abs().log10().floor() as i32 };
        let scientific = text.contains('e');
        // Python switches to scientific notation below 1e-4 and from 1e16 on.
        if (-3..=14).contains(&exponent) {
            prop_assert!(!scientific, "{}", text);
            prop_assert!(text.contains('.'), "{}", text);
        }
        if !(-6..=17).contains(&exponent) {
            prop_assert!(scientific, "{}", text);
        }
    }
}
