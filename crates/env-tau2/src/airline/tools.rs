//! The airline tools, with the original's checks, error texts, mutation
//! order, fixed clock (`2024-05-15T15:00:00`) and fixed ids (reservations
//! `HATHAT`, `HATHAU`, `HATHAV`; certificates `certificate_3221322..4`).

use serde_json::Value;

use super::args::{flight_infos, passenger_list, payment_list};
use super::model::{
    AirportCode, FlightDateStatus, FlightDb, Payment, PaymentMethod, Reservation,
    ReservationFlight, User,
};
use crate::db::record_mut;
use crate::py::{self, Number};
use crate::pyjson::{self, PyDump};
use crate::table::Table;
use crate::text::Text;

type Out = Result<Text, String>;

/// The stored text of the record at `key` (just written).
fn shared<T: PyDump>(table: &Table<T>, key: &str) -> Out {
    table
        .text(key)
        .map(Text::Shared)
        .ok_or_else(|| "not found".to_string())
}

/// The original's frozen "now".
pub const NOW: &str = "2024-05-15T15:00:00";
const NEW_RESERVATION_IDS: [&str; 3] = ["HATHAT", "HATHAU", "HATHAV"];
const NEW_PAYMENT_IDS: [u32; 3] = [3221322, 3221323, 3221324];
const CABINS: [&str; 3] = ["business", "economy", "basic_economy"];

const AIRPORTS: [(&str, &str); 20] = [
    ("SFO", "San Francisco"),
    ("JFK", "New York"),
    ("LAX", "Los Angeles"),
    ("ORD", "Chicago"),
    ("DFW", "Dallas"),
    ("DEN", "Denver"),
    ("SEA", "Seattle"),
    ("ATL", "Atlanta"),
    ("MIA", "Miami"),
    ("BOS", "Boston"),
    ("PHX", "Phoenix"),
    ("IAH", "Houston"),
    ("LAS", "Las Vegas"),
    ("MCO", "Orlando"),
    ("EWR", "Newark"),
    ("CLT", "Charlotte"),
    ("MSP", "Minneapolis"),
    ("DTW", "Detroit"),
    ("PHL", "Philadelphia"),
    ("LGA", "LaGuardia"),
];

impl FlightDb {
    /// Runs tool `name`; `None` when no such tool exists, else the result
    /// text or the exception text.
    pub fn call(&mut self, name: &str, args: &Value) -> Option<Out> {
        let q = py::Qualname("AirlineTools", name);
        Some(match name {
            "book_reservation" => py::bind(
                q,
                [
                    "user_id",
                    "origin",
                    "destination",
                    "flight_type",
                    "cabin",
                    "flights",
                    "passengers",
                    "payment_methods",
                    "total_baggages",
                    "nonfree_baggages",
                    "insurance",
                ],
                args,
            )
            .and_then(|a| self.book_reservation(a)),
            "calculate" => py::bind(q, ["expression"], args).and_then(|[e]| match e {
                Value::String(s) => crate::calc::calculate(s).map(Text::Owned),
                other => Err(format!("'{}' object is not iterable", py::type_name(other))),
            }),
            "cancel_reservation" => {
                py::bind(q, ["reservation_id"], args).and_then(|[r]| self.cancel_reservation(r))
            }
            "get_reservation_details" => py::bind(q, ["reservation_id"], args).and_then(|[r]| {
                match Value::as_str(r).and_then(|k| self.reservations.text(k)) {
                    Some(text) => Ok(Text::Shared(text)),
                    None => self.reservation(r).map(|r| Text::Owned(pyjson::dumps(r))),
                }
            }),
            "get_user_details" => {
                py::bind(q, ["user_id"], args).and_then(|[u]| {
                    match Value::as_str(u).and_then(|k| self.users.text(k)) {
                        Some(text) => Ok(Text::Shared(text)),
                        None => self.user(u).map(|u| Text::Owned(pyjson::dumps(u))),
                    }
                })
            }
            "list_all_airports" => py::bind(q, [], args).map(|[]| {
                let list: Vec<AirportCode> = AIRPORTS
                    .iter()
                    .map(|(iata, city)| AirportCode {
                        iata: (*iata).to_string(),
                        city: (*city).to_string(),
                    })
                    .collect();
                Text::Owned(pyjson::dumps(&list))
            }),
            "search_direct_flight" => py::bind(q, ["origin", "destination", "date"], args)
                .and_then(|[o, d, date]| self.search_direct(o, d, date)),
            "search_onestop_flight" => py::bind(q, ["origin", "destination", "date"], args)
                .and_then(|[o, d, date]| self.search_onestop(o, d, date)),
            "send_certificate" => py::bind(q, ["user_id", "amount"], args)
                .and_then(|[u, amount]| self.send_certificate(u, amount)),
            "transfer_to_human_agents" => {
                py::bind(q, ["summary"], args).map(|_| Text::Static("Transfer successful"))
            }
            "update_reservation_baggages" => py::bind(
                q,
                [
                    "reservation_id",
                    "total_baggages",
                    "nonfree_baggages",
                    "payment_id",
                ],
                args,
            )
            .and_then(|[r, t, n, p]| self.update_baggages(r, t, n, p)),
            "update_reservation_flights" => py::bind(
                q,
                ["reservation_id", "cabin", "flights", "payment_id"],
                args,
            )
            .and_then(|[r, c, f, p]| self.update_flights(r, c, f, p)),
            "update_reservation_passengers" => py::bind(q, ["reservation_id", "passengers"], args)
                .and_then(|[r, p]| self.update_passengers(r, p)),
            "get_flight_status" => py::bind(q, ["flight_number", "date"], args)
                .and_then(|[f, d]| self.flight_instance(f, d).map(|s| Text::Static(s.status()))),
            _ => return None,
        })
    }

    fn user(&self, id: &Value) -> Result<&User, String> {
        py::key(id)?
            .and_then(|k| self.users.get(k))
            .map(|u| &**u)
            .ok_or_else(|| format!("User {} not found", py::py_str(id)))
    }

    fn reservation(&self, id: &Value) -> Result<&Reservation, String> {
        py::key(id)?
            .and_then(|k| self.reservations.get(k))
            .map(|r| &**r)
            .ok_or_else(|| format!("Reservation {} not found", py::py_str(id)))
    }

    fn flight_instance(&self, number: &Value, date: &Value) -> Result<&FlightDateStatus, String> {
        let flight = py::key(number)?
            .and_then(|k| self.flights.get(k))
            .ok_or_else(|| format!("Flight {} not found", py::py_str(number)))?;
        py::key(date)?
            .and_then(|d| flight.dates.get(d))
            .map(|status| &**status)
            .ok_or_else(|| {
                format!(
                    "Flight {} not found on date {}",
                    py::py_str(number),
                    py::py_str(date)
                )
            })
    }

    fn book_reservation(&mut self, a: [&Value; 11]) -> Out {
        let [
            user_id,
            origin,
            destination,
            flight_type,
            cabin,
            flights,
            passengers,
            payments,
            total_bags,
            nonfree,
            insurance,
        ] = a;
        let flights = flight_infos(flights)?;
        let passengers = passenger_list(passengers)?;
        let payments = payment_list(payments)?;
        let user = self.user(user_id)?;
        let user_id = user.user_id.clone();
        let reservation_id = NEW_RESERVATION_IDS
            .iter()
            .find(|id| !self.reservations.contains_key(id))
            .ok_or("Too many reservations")?
            .to_string();
        let mut errors = Vec::new();
        let mut reservation = Reservation {
            reservation_id: reservation_id.clone(),
            user_id: user_id.clone(),
            origin: py::check_str("origin", origin, &mut errors),
            destination: py::check_str("destination", destination, &mut errors),
            flight_type: py::check_literal(
                "flight_type",
                flight_type,
                &["round_trip", "one_way"],
                &mut errors,
            ),
            cabin: py::check_literal("cabin", cabin, &CABINS, &mut errors),
            flights: Vec::new(),
            passengers: passengers.clone(),
            payment_history: payments.clone(),
            created_at: NOW.to_string(),
            total_baggages: Value::from(py::check_int("total_baggages", total_bags, &mut errors)),
            nonfree_baggages: Value::from(py::check_int("nonfree_baggages", nonfree, &mut errors)),
            insurance: py::check_literal("insurance", insurance, &["yes", "no"], &mut errors),
            status: None,
        };
        if !errors.is_empty() {
            return Err(py::validation_error("Reservation", &errors));
        }
        let cabin = reservation.cabin.clone();
        let n = passengers.len() as i64;
        let mut total = Number::Int(0);
        let mut seat_updates: Vec<(String, String)> = Vec::new();
        for info in &flights {
            let number = Value::String(info.flight_number.clone());
            let date = Value::String(info.date.clone());
            let flight = self
                .flights
                .get(info.flight_number.as_str())
                .ok_or_else(|| format!("Flight {} not found", info.flight_number))?;
            let FlightDateStatus::Available {
                available_seats,
                prices,
            } = self.flight_instance(&number, &date)?
            else {
                return Err(format!(
                    "Flight {} not available on date {}",
                    info.flight_number, info.date
                ));
            };
            let seats = *available_seats
                .get(&cabin)
                .ok_or_else(|| format!("'{cabin}'"))?;
            if seats < n {
                return Err(format!("Not enough seats on flight {}", info.flight_number));
            }
            let price = *prices.get(&cabin).ok_or_else(|| format!("'{cabin}'"))?;
            reservation.flights.push(ReservationFlight {
                flight_number: info.flight_number.clone(),
                origin: flight.origin.clone(),
                destination: flight.destination.clone(),
                date: info.date.clone(),
                price,
            });
            seat_updates.push((info.flight_number.clone(), info.date.clone()));
            total = total + Number::Int(price * n);
        }
        if reservation.insurance == "yes" {
            total = total + Number::Int(30 * n);
        }
        let bags = Number::from_value(nonfree).ok_or_else(|| match nonfree {
            Value::String(_) | Value::Array(_) => format!(
                "unsupported operand type(s) for +=: 'int' and '{}'",
                py::type_name(nonfree)
            ),
            other => format!(
                "unsupported operand type(s) for *: 'int' and '{}'",
                py::type_name(other)
            ),
        })?;
        total = total + Number::Int(50) * bags;
        for payment in &payments {
            let method = user
                .payment_methods
                .get(&payment.payment_id)
                .ok_or_else(|| format!("Payment method {} not found", payment.payment_id))?;
            let balance = match method {
                PaymentMethod::GiftCard { amount, .. }
                | PaymentMethod::Certificate { amount, .. } => Some(*amount),
                PaymentMethod::CreditCard { .. } => None,
            };
            if balance.is_some_and(|b| b < payment.amount as f64) {
                return Err(format!(
                    "Not enough balance in payment method {}",
                    payment.payment_id
                ));
            }
        }
        let paid: i64 = payments.iter().map(|p| p.amount).sum();
        let adds_up = match total {
            Number::Int(t) => t == paid,
            Number::Float(t) => t == paid as f64,
        };
        if !adds_up {
            return Err(format!(
                "Payment amount does not add up, total price is {}, but paid {paid}",
                total.py_str()
            ));
        }
        let user = record_mut(&mut self.users, &user_id).ok_or("User not found")?;
        for payment in &payments {
            match user.payment_methods.get_mut(&payment.payment_id) {
                Some(PaymentMethod::GiftCard { amount, .. }) => *amount -= payment.amount as f64,
                Some(PaymentMethod::Certificate { .. }) => {
                    user.payment_methods.shift_remove(&payment.payment_id);
                }
                Some(PaymentMethod::CreditCard { .. }) => {}
                None => return Err(lifeharness_core::py::str_repr(&payment.payment_id)),
            }
        }
        for (number, date) in &seat_updates {
            if let Some(flight) = record_mut(&mut self.flights, number)
                && let Some(FlightDateStatus::Available {
                    available_seats, ..
                }) = flight.dates.get_mut(date)
                && let Some(seats) = available_seats.get_mut(&cabin)
            {
                *seats -= n;
            }
        }
        self.reservations.insert(
            reservation_id.as_str().into(),
            std::sync::Arc::new(reservation),
        );
        let out = shared(&self.reservations, &reservation_id);
        if let Some(user) = record_mut(&mut self.users, &user_id) {
            user.reservations.push(reservation_id);
        }
        out
    }

    fn cancel_reservation(&mut self, id: &Value) -> Out {
        let key = self.reservation(id)?.reservation_id.clone();
        let reservation = record_mut(&mut self.reservations, &key).ok_or("not found")?;
        let refunds: Vec<Payment> = reservation
            .payment_history
            .iter()
            .map(|p| Payment {
                payment_id: p.payment_id.clone(),
                amount: -p.amount,
            })
            .collect();
        reservation.payment_history.extend(refunds);
        reservation.status = Some("cancelled".to_string());
        shared(&self.reservations, &key)
    }

    fn send_certificate(&mut self, user_id: &Value, amount: &Value) -> Out {
        let user = self.user(user_id)?;
        let key = user.user_id.clone();
        for n in NEW_PAYMENT_IDS {
            let payment_id = format!("certificate_{n}");
            if !user.payment_methods.contains_key(&payment_id) {
                let mut errors = Vec::new();
                let value = py::check_float("amount", amount, &mut errors);
                if !errors.is_empty() {
                    return Err(py::validation_error("Certificate", &errors));
                }
                let user = record_mut(&mut self.users, &key).ok_or("User not found")?;
                user.payment_methods.insert(
                    payment_id.clone(),
                    PaymentMethod::Certificate {
                        id: payment_id.clone(),
                        amount: value,
                    },
                );
                return Ok(Text::Owned(format!(
                    "Certificate {payment_id} added to user {} with amount {}.",
                    py::py_str(user_id),
                    py::py_str(amount)
                )));
            }
        }
        Err("Too many certificates".to_string())
    }

    /// `_payment_for_update`: checks and charges `payment_id`; the payment
    /// to record, if the price is not zero.
    fn payment_for_update(
        &mut self,
        user_id: &str,
        payment_id: &Value,
        total: Number,
    ) -> Result<Option<Payment>, String> {
        let user = self.users.get(user_id).ok_or("User not found")?;
        let pid = py::key(payment_id)?
            .filter(|k| user.payment_methods.contains_key(*k))
            .ok_or("Payment method not found")?
            .to_string();
        match user.payment_methods.get(&pid) {
            Some(PaymentMethod::Certificate { .. }) => {
                return Err("Certificate cannot be used to update reservation".to_string());
            }
            Some(PaymentMethod::GiftCard { amount, .. }) if *amount < total.as_f64() => {
                return Err("Gift card balance is not enough".to_string());
            }
            Some(PaymentMethod::GiftCard { .. }) => {
                if let Some(user) = record_mut(&mut self.users, user_id)
                    && let Some(PaymentMethod::GiftCard { amount, .. }) =
                        user.payment_methods.get_mut(&pid)
                {
                    *amount -= total.as_f64();
                }
            }
            _ => {}
        }
        if total.as_f64() == 0.0 {
            return Ok(None);
        }
        let mut errors = Vec::new();
        let amount = py::check_int("amount", &total.to_value(), &mut errors);
        if !errors.is_empty() {
            return Err(py::validation_error("Payment", &errors));
        }
        Ok(Some(Payment {
            payment_id: pid,
            amount,
        }))
    }

    fn update_baggages(
        &mut self,
        id: &Value,
        total_bags: &Value,
        nonfree: &Value,
        payment_id: &Value,
    ) -> Out {
        let reservation = self.reservation(id)?;
        let key = reservation.reservation_id.clone();
        let user_id = self
            .user(&Value::String(reservation.user_id.clone()))?
            .user_id
            .clone();
        let old = Number::from_value(&reservation.nonfree_baggages).unwrap_or(Number::Int(0));
        let new = Number::from_value(nonfree).ok_or_else(|| {
            format!(
                "unsupported operand type(s) for -: '{}' and 'int'",
                py::type_name(nonfree)
            )
        })?;
        let extra = new - old;
        let extra = if extra.gt(Number::Int(0)) {
            extra
        } else {
            Number::Int(0)
        };
        let total = Number::Int(50) * extra;
        let payment = self.payment_for_update(&user_id, payment_id, total)?;
        let reservation = record_mut(&mut self.reservations, &key).ok_or("not found")?;
        if let Some(payment) = payment {
            reservation.payment_history.push(payment);
        }
        reservation.total_baggages = total_bags.clone();
        reservation.nonfree_baggages = nonfree.clone();
        shared(&self.reservations, &key)
    }

    fn update_flights(
        &mut self,
        id: &Value,
        cabin: &Value,
        flights: &Value,
        payment_id: &Value,
    ) -> Out {
        let flights = flight_infos(flights)?;
        let reservation = self.reservation(id)?;
        let key = reservation.reservation_id.clone();
        let user_id = self
            .user(&Value::String(reservation.user_id.clone()))?
            .user_id
            .clone();
        let n = reservation.passengers.len() as i64;
        let same_cabin = matches!(cabin, Value::String(c) if *c == reservation.cabin);
        let mut total: i64 = 0;
        let mut new_flights = Vec::new();
        for info in &flights {
            let existing = reservation.flights.iter().find(|f| {
                same_cabin && f.flight_number == info.flight_number && f.date == info.date
            });
            if let Some(existing) = existing {
                total += existing.price * n;
                new_flights.push(existing.clone());
                continue;
            }
            let number = Value::String(info.flight_number.clone());
            let date = Value::String(info.date.clone());
            let flight = self
                .flights
                .get(info.flight_number.as_str())
                .ok_or_else(|| format!("Flight {} not found", info.flight_number))?;
            let FlightDateStatus::Available {
                available_seats,
                prices,
            } = self.flight_instance(&number, &date)?
            else {
                return Err(format!(
                    "Flight {} not available on date {}",
                    info.flight_number, info.date
                ));
            };
            let cabin_key = py::key(cabin)?;
            let missing = || py::py_repr(cabin);
            let seats = *cabin_key
                .and_then(|c| available_seats.get(c))
                .ok_or_else(missing)?;
            if seats < n {
                return Err(format!("Not enough seats on flight {}", info.flight_number));
            }
            let price = *cabin_key.and_then(|c| prices.get(c)).ok_or_else(missing)?;
            total += price * n;
            new_flights.push(ReservationFlight {
                flight_number: info.flight_number.clone(),
                origin: flight.origin.clone(),
                destination: flight.destination.clone(),
                date: info.date.clone(),
                price,
            });
        }
        total -= reservation.flights.iter().map(|f| f.price).sum::<i64>() * n;
        let payment = self.payment_for_update(&user_id, payment_id, Number::Int(total))?;
        let reservation = record_mut(&mut self.reservations, &key).ok_or("not found")?;
        if let Some(payment) = payment {
            reservation.payment_history.push(payment);
        }
        reservation.flights = new_flights;
        reservation.cabin = py::py_str(cabin);
        shared(&self.reservations, &key)
    }

    fn update_passengers(&mut self, id: &Value, passengers: &Value) -> Out {
        let passengers = passenger_list(passengers)?;
        let reservation = self.reservation(id)?;
        if passengers.len() != reservation.passengers.len() {
            return Err("Number of passengers does not match".to_string());
        }
        let key = reservation.reservation_id.clone();
        let reservation = record_mut(&mut self.reservations, &key).ok_or("not found")?;
        reservation.passengers = passengers;
        shared(&self.reservations, &key)
    }
}
