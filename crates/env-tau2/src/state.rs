//! Fast state lookups for harness rules: [`StateView`] over the typed
//! database, and the write counter behind `state_version`.
//!
//! A path names a table and a record (`["orders", "#W2611340"]`), optionally
//! a nested typed record (retail `["products", id, "variants", item_id]`,
//! airline `["flights", number, "dates", date]`), and then any fields inside
//! it. Only the addressed record is serialised (its `model_dump`, exactly as
//! [`Db::to_value`] would show it); deeper segments are followed in that
//! JSON (object keys, or list indices). A missing key anywhere is `None`.
//!
//! Paths that stop at a table or at the root still work, but they dump that
//! whole table (or database), so rules should not use them.

use indexmap::IndexMap;
use lifeharness_core::{JsonState, StateView};
use serde_json::Value;

use crate::airline::model::FlightDb;
use crate::domain::{Db, Domain};
use crate::pyjson::{self, PyDump};
use crate::retail::model::RetailDb;
use crate::table::Table;

/// The retail tools that write the database (`ToolType.WRITE` in the original).
pub const RETAIL_WRITE_TOOLS: [&str; 7] = [
    "cancel_pending_order",
    "exchange_delivered_order_items",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "return_delivered_order_items",
];

/// The airline tools that write the database (`ToolType.WRITE` in the original).
pub const AIRLINE_WRITE_TOOLS: [&str; 6] = [
    "book_reservation",
    "cancel_reservation",
    "send_certificate",
    "update_reservation_baggages",
    "update_reservation_flights",
    "update_reservation_passengers",
];

impl Domain {
    /// Whether `tool` writes the database in this domain.
    pub fn is_write_tool(self, tool: &str) -> bool {
        match self {
            Self::Retail => RETAIL_WRITE_TOOLS.contains(&tool),
            Self::Airline => AIRLINE_WRITE_TOOLS.contains(&tool),
        }
    }
}

/// The JSON of one record (its `model_dump`).
fn dump<T: PyDump + ?Sized>(record: &T) -> Option<Value> {
    serde_json::from_str(&pyjson::dumps(record)).ok()
}

/// Follows `path` inside `value`, moving out of it rather than cloning.
fn follow(mut value: Value, path: &[&str]) -> Option<Value> {
    for segment in path {
        value = match value {
            Value::Object(mut map) => map.swap_remove(*segment)?,
            Value::Array(mut list) => {
                let index = segment.parse::<usize>().ok()?;
                if index >= list.len() {
                    return None;
                }
                list.swap_remove(index)
            }
            _ => return None,
        };
    }
    Some(value)
}

/// `record` at `id` of `table`, then `rest` inside it.
fn in_table<K, T>(table: &IndexMap<K, T>, id: &str, rest: &[&str]) -> Option<Value>
where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
    T: PyDump,
{
    follow(dump(table.get(id)?)?, rest)
}

/// `record` at `id` of a database table, then `rest` inside it.
fn in_db_table<T: PyDump>(table: &Table<T>, id: &str, rest: &[&str]) -> Option<Value> {
    follow(serde_json::from_str(&table.dumps(id)?).ok()?, rest)
}

/// The slow path for a table or the whole database.
fn whole(db: &Db, path: &[&str]) -> Option<Value> {
    JsonState(db.to_value()).lookup(path)
}

fn retail(db: &RetailDb, path: &[&str]) -> Option<Value> {
    match path {
        ["products", id, "variants", item, rest @ ..] => {
            let product = db.products.get(id)?;
            in_table(&product.variants, item, rest)
        }
        ["products", id, rest @ ..] => in_db_table(&db.products, id, rest),
        ["users", id, rest @ ..] => in_db_table(&db.users, id, rest),
        ["orders", id, rest @ ..] => in_db_table(&db.orders, id, rest),
        _ => None,
    }
}

fn airline(db: &FlightDb, path: &[&str]) -> Option<Value> {
    match path {
        ["flights", number, "dates", date, rest @ ..] => {
            let flight = db.flights.get(number)?;
            in_db_table(&flight.dates, date, rest)
        }
        ["flights", number, rest @ ..] => in_db_table(&db.flights, number, rest),
        ["users", id, rest @ ..] => in_db_table(&db.users, id, rest),
        ["reservations", id, rest @ ..] => in_db_table(&db.reservations, id, rest),
        _ => None,
    }
}

impl StateView for Db {
    fn lookup(&self, path: &[&str]) -> Option<Value> {
        if path.len() < 2 {
            return whole(self, path);
        }
        match self {
            Self::Retail(db) => retail(db, path),
            Self::Airline(db) => airline(db, path),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "test code"
    )]

    use super::*;
    use crate::domain::DomainData;
    use serde_json::json;

    fn db(domain: Domain) -> Db {
        DomainData::load(domain).unwrap().db.clone()
    }

    #[test]
    fn retail_records_and_fields() {
        let db = db(Domain::Retail);
        let order = db.lookup(&["orders", "#W2611340"]).unwrap();
        assert_eq!(order["order_id"], "#W2611340");
        assert_eq!(
            db.lookup(&["orders", "#W2611340", "status"]),
            Some(order["status"].clone())
        );
        assert_eq!(
            db.lookup(&["orders", "#W2611340", "items", "0", "item_id"]),
            Some(order["items"][0]["item_id"].clone())
        );
        let user_id = order["user_id"].as_str().unwrap();
        let user = db.lookup(&["users", user_id]).unwrap();
        assert!(
            user["orders"]
                .as_array()
                .unwrap()
                .contains(&json!("#W2611340"))
        );
        let product_id = order["items"][0]["product_id"].as_str().unwrap();
        let item_id = order["items"][0]["item_id"].as_str().unwrap();
        let variant = db
            .lookup(&["products", product_id, "variants", item_id])
            .unwrap();
        assert_eq!(variant["item_id"], item_id);
        assert!(variant["available"].is_boolean());
        assert_eq!(
            db.lookup(&["products", product_id, "variants", item_id, "price"]),
            Some(variant["price"].clone())
        );
        assert_eq!(
            db.lookup(&["products", product_id, "product_id"]),
            Some(json!(product_id))
        );
    }

    #[test]
    fn airline_records_and_fields() {
        let db = db(Domain::Airline);
        let Db::Airline(flights) = &db else {
            panic!("not airline")
        };
        let (id, reservation) = flights.reservations.first().unwrap();
        let value = db.lookup(&["reservations", id]).unwrap();
        assert_eq!(value["reservation_id"], reservation.reservation_id.as_str());
        assert_eq!(
            db.lookup(&["reservations", id, "cabin"]),
            Some(json!(reservation.cabin))
        );
        let membership = db.lookup(&["users", &reservation.user_id, "membership"]);
        assert!(
            membership
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|m| ["regular", "silver", "gold"].contains(&m)),
            "{membership:?}"
        );
        let (number, flight) = flights.flights.first().unwrap();
        let (date, status) = flight.dates.first().unwrap();
        assert_eq!(
            db.lookup(&["flights", number, "dates", date, "status"]),
            Some(json!(status.status()))
        );
        assert_eq!(
            db.lookup(&["flights", number, "origin"]),
            Some(json!(flight.origin))
        );
    }

    #[test]
    fn missing_keys_are_none() {
        let retail = db(Domain::Retail);
        for path in [
            &["orders", "#W0"][..],
            &["orders", "#W2611340", "nope"],
            &["orders", "#W2611340", "items", "99"],
            &["orders", "#W2611340", "items", "x"],
            &["orders", "#W2611340", "status", "deeper"],
            &["products", "0", "variants", "1"],
            &["users", "nobody"],
            &["reservations", "ABC"],
            &["nope", "x"],
            &["nope"],
        ] {
            assert_eq!(retail.lookup(path), None, "{path:?}");
        }
        let airline = db(Domain::Airline);
        for path in [
            &["flights", "HAT000", "dates", "2024-05-01"][..],
            &["reservations", "NOPE00"],
            &["orders", "#W2611340"],
        ] {
            assert_eq!(airline.lookup(path), None, "{path:?}");
        }
    }

    /// Every record lookup equals the same path in the whole dump.
    #[test]
    fn lookups_agree_with_the_full_dump() {
        for domain in [Domain::Retail, Domain::Airline] {
            let db = db(domain);
            let full = JsonState(db.to_value());
            let Value::Object(tables) = &full.0 else {
                panic!("not an object")
            };
            for (table, records) in tables {
                let Value::Object(records) = records else {
                    panic!("not a table")
                };
                for (id, record) in records.iter().step_by(7) {
                    let path = [table.as_str(), id.as_str()];
                    assert_eq!(db.lookup(&path).as_ref(), Some(record), "{path:?}");
                    let Value::Object(fields) = record else {
                        continue;
                    };
                    for field in fields.keys() {
                        let path = [table.as_str(), id.as_str(), field.as_str()];
                        assert_eq!(db.lookup(&path), full.lookup(&path), "{path:?}");
                    }
                }
            }
            assert_eq!(db.lookup(&["users"]), full.lookup(&["users"]));
        }
    }

    #[tokio::test]
    async fn the_environment_offers_lookups_and_counts_writes() {
        use crate::{Tau2Factory, UserMode};
        use lifeharness_core::{Action, Environment, EnvironmentFactory, ToolCall};

        let factory = Tau2Factory::retail(UserMode::Ticket).unwrap();
        let task = factory.tasks("all").unwrap().remove(0);
        let mut env = factory.env();
        assert!(
            env.state()
                .unwrap()
                .lookup(&["orders", "#W5918442"])
                .is_none()
        );
        assert_eq!(env.state_version(), None);
        env.reset(&task, 0).await.unwrap();
        let status = |env: &crate::Tau2Env| {
            env.state()
                .unwrap()
                .lookup(&["orders", "#W5918442", "status"])
        };
        assert_eq!(status(&env), Some(json!("pending")));
        assert_eq!(env.state_version(), Some(0));
        let call =
            |name: &str, args: Value| Action::ToolCall(ToolCall::from_value("c", name, args));
        let read = call("get_order_details", json!({"order_id": "#W5918442"}));
        assert!(!env.step(&read).await.unwrap().observation.is_error);
        assert_eq!(env.state_version(), Some(0));
        let bad = call(
            "cancel_pending_order",
            json!({"order_id": "#W5918442", "reason": "changed my mind"}),
        );
        assert!(env.step(&bad).await.unwrap().observation.is_error);
        assert_eq!(env.state_version(), Some(0));
        let cancel = call(
            "cancel_pending_order",
            json!({"order_id": "#W5918442", "reason": "no longer needed"}),
        );
        assert!(!env.step(&cancel).await.unwrap().observation.is_error);
        assert_eq!(env.state_version(), Some(1));
        assert_eq!(status(&env), Some(json!("cancelled")));
    }

    #[test]
    fn write_tools() {
        assert!(Domain::Retail.is_write_tool("cancel_pending_order"));
        assert!(!Domain::Retail.is_write_tool("get_order_details"));
        assert!(!Domain::Retail.is_write_tool("transfer_to_human_agents"));
        assert!(Domain::Airline.is_write_tool("send_certificate"));
        assert!(!Domain::Airline.is_write_tool("cancel_pending_order"));
    }
}
