//! The list arguments of the airline tools, built the way the original
//! builds them (`FlightInfo(**item)`, `Passenger(**item)`, `Payment(**item)`)
//! with pydantic's validation errors.

use serde_json::{Map, Value};

use super::model::{Passenger, Payment};
use crate::py::{self, FieldError};

/// `FlightInfo`: a flight number and a date.
pub(super) struct FlightInfo {
    pub(super) flight_number: String,
    pub(super) date: String,
}

/// The list elements as objects (`Model(**item)` needs a mapping).
fn objects<'a>(value: &'a Value, what: &str) -> Result<Vec<&'a Map<String, Value>>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "'{}' object has no attribute '{what}'",
            py::type_name(value)
        ));
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map),
            other => Err(format!(
                "'{}' object has no attribute '{what}'",
                py::type_name(other)
            )),
        })
        .collect()
}

pub(super) fn flight_infos(value: &Value) -> Result<Vec<FlightInfo>, String> {
    let mut out = Vec::new();
    for map in objects(value, "flight_number")? {
        let whole = Value::Object(map.clone());
        let mut errors = Vec::new();
        let field = |name: &str, errors: &mut Vec<FieldError>| match map.get(name) {
            Some(v) => py::check_str(name, v, errors),
            None => {
                errors.push(FieldError::missing(name, &whole));
                String::new()
            }
        };
        let info = FlightInfo {
            flight_number: field("flight_number", &mut errors),
            date: field("date", &mut errors),
        };
        if !errors.is_empty() {
            return Err(py::validation_error("FlightInfo", &errors));
        }
        out.push(info);
    }
    Ok(out)
}

pub(super) fn passenger_list(value: &Value) -> Result<Vec<Passenger>, String> {
    let mut out = Vec::new();
    for map in objects(value, "first_name")? {
        let whole = Value::Object(map.clone());
        let mut errors = Vec::new();
        let field = |name: &str, errors: &mut Vec<FieldError>| match map.get(name) {
            Some(v) => py::check_str(name, v, errors),
            None => {
                errors.push(FieldError::missing(name, &whole));
                String::new()
            }
        };
        let passenger = Passenger {
            first_name: field("first_name", &mut errors),
            last_name: field("last_name", &mut errors),
            dob: field("dob", &mut errors),
        };
        if !errors.is_empty() {
            return Err(py::validation_error("Passenger", &errors));
        }
        out.push(passenger);
    }
    Ok(out)
}

pub(super) fn payment_list(value: &Value) -> Result<Vec<Payment>, String> {
    let mut out = Vec::new();
    for map in objects(value, "payment_id")? {
        let whole = Value::Object(map.clone());
        let mut errors = Vec::new();
        let payment_id = match map.get("payment_id") {
            Some(v) => py::check_str("payment_id", v, &mut errors),
            None => {
                errors.push(FieldError::missing("payment_id", &whole));
                String::new()
            }
        };
        let amount = match map.get("amount") {
            Some(v) => py::check_int("amount", v, &mut errors),
            None => {
                errors.push(FieldError::missing("amount", &whole));
                0
            }
        };
        if !errors.is_empty() {
            return Err(py::validation_error("Payment", &errors));
        }
        out.push(Payment { payment_id, amount });
    }
    Ok(out)
}
