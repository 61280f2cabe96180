//! The airline's flight searches (`search_direct_flight`,
//! `search_onestop_flight`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde_json::Value;

use super::model::{DirectFlight, Flight, FlightDateStatus, FlightDb};
use crate::macros::sorted_order;
use crate::py;
use crate::pyjson::{self, PyDump, PyWriter};
use crate::table::IdBuild;

use crate::text::Text;

type Out = Result<Text, String>;

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

/// Positions of the loaded flights by origin, and by origin and
/// destination, in table order.
#[derive(Default)]
struct RouteIndex {
    from: HashMap<String, Vec<usize>, IdBuild>,
    route: HashMap<String, HashMap<String, Route, IdBuild>, IdBuild>,
}

/// The loaded flights of one origin and destination, and the
/// `search_direct_flight` texts of the loaded flights by date (filled as
/// asked, for dates some of these flights have; shared by every episode
/// that has not written these flights).
#[derive(Default)]
struct Route {
    positions: Vec<usize>,
    texts: Mutex<HashMap<String, Arc<str>, IdBuild>>,
}

impl RouteIndex {
    fn build(flights: &mut dyn Iterator<Item = &Flight>) -> Self {
        let mut index = Self::default();
        for (position, flight) in flights.enumerate() {
            index
                .from
                .entry(flight.origin.clone())
                .or_default()
                .push(position);
            index
                .route
                .entry(flight.origin.clone())
                .or_default()
                .entry(flight.destination.clone())
                .or_default()
                .positions
                .push(position);
        }
        index
    }
}

impl FlightDb {
    /// Builds the flights' index now (the domain's shared tables do this
    /// once, so no episode pays for it).
    pub(crate) fn prime_index(&self) {
        let _ = self.flights.base_index(RouteIndex::build);
    }

    /// The positions of the flights that may match `origin` and
    /// `destination` (a string, or null for any), in table order: the
    /// indexed ones plus those the episode wrote; `None` to scan them all.
    fn route_candidates(&self, origin: &Value, destination: &Value) -> Option<Vec<usize>> {
        let Value::String(origin) = origin else {
            return None;
        };
        let index = self.flights.base_index(RouteIndex::build)?;
        let positions = match destination {
            Value::Null => index.from.get(origin),
            Value::String(destination) => index
                .route
                .get(origin)
                .and_then(|to| to.get(destination))
                .map(|route| &route.positions),
            _ => None,
        };
        Some(
            self.flights
                .candidates(positions.map_or(&[][..], Vec::as_slice)),
        )
    }

    /// `search_direct_flight`.
    pub(super) fn search_direct(&self, origin: &Value, destination: &Value, date: &Value) -> Out {
        if let (Value::String(o), Value::String(d), Value::String(day)) =
            (origin, destination, date)
            && let Some(route) = self.unwritten_route(o, d)
        {
            let cached = route
                .texts
                .lock()
                .ok()
                .and_then(|t| t.get(day.as_str()).cloned());
            if let Some(text) = cached {
                return Ok(Text::Shared(text));
            }
            let views = self.search_views(date, origin, destination, None)?;
            let text: Arc<str> = Arc::from(pyjson::dumps(&views));
            let known_date = route.positions.iter().any(|&i| {
                self.flights
                    .get_index(i)
                    .is_some_and(|(_, f)| f.dates.contains_key(day))
            });
            if known_date && let Ok(mut texts) = route.texts.lock() {
                texts.insert(day.clone(), text.clone());
            }
            return Ok(Text::Shared(text));
        }
        let views = self.search_views(date, origin, destination, None)?;
        Ok(Text::Owned(pyjson::dumps(&views)))
    }

    /// The route from `origin` to `destination` when no flight the episode
    /// wrote or appended is on it (so its results are the loaded ones).
    fn unwritten_route(&self, origin: &str, destination: &str) -> Option<&Route> {
        let index = self.flights.base_index(RouteIndex::build)?;
        let route = index.route.get(origin)?.get(destination)?;
        let touched = self.flights.changed_indices().any(|i| {
            route.positions.binary_search(&i).is_ok()
                || self
                    .flights
                    .get_index(i)
                    .is_some_and(|(_, f)| f.origin == origin && f.destination == destination)
        });
        (!touched).then_some(route)
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
        let candidates = self.route_candidates(origin, destination);
        let flights: Box<dyn Iterator<Item = &Flight>> = match &candidates {
            Some(positions) => Box::new(
                positions
                    .iter()
                    .filter_map(|&i| self.flights.get_index(i))
                    .map(|(_, f)| &**f),
            ),
            None => Box::new(self.flights.values().map(|f| &**f)),
        };
        let mut out = Vec::new();
        for flight in flights {
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
                        lifeharness_core::py::str_repr(&tail)
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
        Ok(Text::Owned(pyjson::dumps(&pairs)))
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
                // The first call fills the route's store, the second reads it.
                for _ in 0..2 {
                    assert_eq!(
                        db.search_direct(&o, &d, &date).unwrap(),
                        crate::pyjson::dumps(&owned)
                    );
                }
            }
        }
        assert!(nonempty > 10, "{nonempty}");
    }
}
