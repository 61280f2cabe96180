//! The airline's flight searches (`search_direct_flight`,
//! `search_onestop_flight`).

use indexmap::IndexMap;
use serde_json::Value;

use super::model::{DirectFlight, Flight, FlightDateStatus, FlightDb};
use crate::macros::sorted_order;
use crate::py;
use crate::pyjson::{self, PyDump, PyWriter};

type Out = Result<String, String>;

/// A direct-search match, borrowed from the database; it dumps exactly as
/// the [`DirectFlight`] built from it.
pub(super) struct DirectFlightView<'a> {
    flight: &'a Flight,
    available_seats: &'a IndexMap<String, i64>,
    prices: &'a IndexMap<String, i64>,
}

impl DirectFlightView<'_> {
    fn owned(&self) -> DirectFlight {
        let flight = self.flight;
        DirectFlight {
            flight_number: flight.flight_number.clone(),
            origin: flight.origin.clone(),
            destination: flight.destination.clone(),
            status: "available".to_string(),
            scheduled_departure_time_est: flight.scheduled_departure_time_est.clone(),
            scheduled_arrival_time_est: flight.scheduled_arrival_time_est.clone(),
            date: None,
            available_seats: self.available_seats.clone(),
            prices: self.prices.clone(),
        }
    }
}

impl PyDump for DirectFlightView<'_> {
    fn dump(&self, w: &mut PyWriter) {
        const SORTED: [usize; 9] = sorted_order([
            "flight_number",
            "origin",
            "destination",
            "status",
            "scheduled_departure_time_est",
            "scheduled_arrival_time_est",
            "date",
            "available_seats",
            "prices",
        ]);
        let flight = self.flight;
        w.object(
            &[
                ("flight_number", &flight.flight_number),
                ("origin", &flight.origin),
                ("destination", &flight.destination),
                ("status", &"available"),
                (
                    "scheduled_departure_time_est",
                    &flight.scheduled_departure_time_est,
                ),
                (
                    "scheduled_arrival_time_est",
                    &flight.scheduled_arrival_time_est,
                ),
                ("date", &None::<&str>),
                ("available_seats", self.available_seats),
                ("prices", self.prices),
            ],
            &SORTED,
        );
    }
}

impl FlightDb {
    /// `search_direct_flight`.
    pub(super) fn search_direct(&self, origin: &Value, destination: &Value, date: &Value) -> Out {
        let views = self.search_views(date, origin, destination, None)?;
        Ok(pyjson::dumps(&views))
    }

    /// `_search_direct_flight`, owned.
    fn search(
        &self,
        date: &Value,
        origin: &Value,
        destination: &Value,
        leave_after: Option<&str>,
    ) -> Result<Vec<DirectFlight>, String> {
        let views = self.search_views(date, origin, destination, leave_after)?;
        Ok(views.iter().map(DirectFlightView::owned).collect())
    }

    /// `_search_direct_flight`: `None` (JSON null) matches any origin or
    /// destination; the matches, borrowed.
    fn search_views(
        &self,
        date: &Value,
        origin: &Value,
        destination: &Value,
        leave_after: Option<&str>,
    ) -> Result<Vec<DirectFlightView<'_>>, String> {
        let date_key = py::key(date)?;
        let matches = |wanted: &Value, have: &str| match wanted {
            Value::Null => true,
            Value::String(s) => s == have,
            _ => false,
        };
        let mut out = Vec::new();
        for flight in self.flights.values() {
            if !(matches(origin, &flight.origin) && matches(destination, &flight.destination)) {
                continue;
            }
            let Some(FlightDateStatus::Available {
                available_seats,
                prices,
            }) = date_key
                .and_then(|d| flight.dates.get(d))
                .map(|status| &**status)
            else {
                continue;
            };
            if leave_after.is_some_and(|after| flight.scheduled_departure_time_est.as_str() < after)
            {
                continue;
            }
            out.push(DirectFlightView {
                flight,
                available_seats,
                prices,
            });
        }
        Ok(out)
    }

    pub(super) fn search_onestop(&self, origin: &Value, destination: &Value, date: &Value) -> Out {
        let mut pairs: Vec<Vec<DirectFlight>> = Vec::new();
        for mut first in self.search(date, origin, &Value::Null, None)? {
            first.date = Some(py::py_str(date));
            let date2 = if first.scheduled_arrival_time_est.contains("+1") {
                let text = py::py_str(date);
                let chars: Vec<char> = text.chars().collect();
                let tail: String = chars[chars.len().saturating_sub(2)..].iter().collect();
                let day: i64 = tail.trim().parse().map_err(|_| {
                    format!(
                        "invalid literal for int() with base 10: {}",
                        py::str_repr(&tail)
                    )
                })?;
                Value::String(format!("2024-05-{}", day + 1))
            } else {
                date.clone()
            };
            let seconds = self.search(
                &date2,
                &Value::String(first.destination.clone()),
                destination,
                Some(&first.scheduled_arrival_time_est),
            )?;
            for mut second in seconds {
                second.date = Some(py::py_str(&date2));
                pairs.push(vec![first.clone(), second]);
            }
        }
        Ok(pyjson::dumps(&pairs))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::{Db, Domain, DomainData};

    /// The borrowed results dump exactly as the owned ones.
    #[test]
    fn borrowed_results_dump_like_owned_ones() {
        let data = DomainData::load(Domain::Airline).unwrap();
        let Db::Airline(db) = &data.db else {
            unreachable!()
        };
        let mut nonempty = 0;
        for (origin, destination) in [("JFK", "SEA"), ("SFO", "JFK"), ("ORD", "PHL")] {
            for day in 10..30 {
                let date = json!(format!("2024-05-{day}"));
                let (o, d) = (json!(origin), json!(destination));
                let owned = db.search(&date, &o, &d, None).unwrap();
                nonempty += usize::from(!owned.is_empty());
                assert_eq!(
                    db.search_direct(&o, &d, &date).unwrap(),
                    crate::pyjson::dumps(&owned)
                );
            }
        }
        assert!(nonempty > 10, "{nonempty}");
    }
}
