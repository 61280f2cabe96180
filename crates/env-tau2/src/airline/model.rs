//! The airline database: flights, users and reservations, field for field as
//! the original's pydantic models.

use indexmap::IndexMap;
use serde::Deserialize;

use crate::macros::py_model;
use crate::pyjson::{PyDump, PyWriter};
pub use crate::retail::model::Table;

py_model! {
    /// An airport.
    pub struct AirportCode {
        /// IATA code.
        pub iata: String,
        /// City.
        pub city: String,
    }
}

py_model! {
    /// A person's name.
    pub struct Name {
        /// First name.
        pub first_name: String,
        /// Last name.
        pub last_name: String,
    }
}

py_model! {
    /// A postal address (`address2` is optional here).
    pub struct Address {
        /// First line.
        pub address1: String,
        /// Second line.
        #[serde(default)]
        pub address2: Option<String>,
        /// City.
        pub city: String,
        /// Country.
        pub country: String,
        /// State.
        pub state: String,
        /// Postal code.
        pub zip: String,
    }
}

py_model! {
    /// A payment of a reservation (negative for refunds).
    pub struct Payment {
        /// The payment method id.
        pub payment_id: String,
        /// Whole dollars.
        pub amount: i64,
    }
}

/// A saved payment method (`source` tells the kind).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "source")]
pub enum PaymentMethod {
    /// A credit card.
    #[serde(rename = "credit_card")]
    CreditCard {
        /// The payment method id.
        id: String,
        /// Brand.
        brand: String,
        /// Last four digits.
        last_four: String,
    },
    /// A gift card.
    #[serde(rename = "gift_card")]
    GiftCard {
        /// The payment method id.
        id: String,
        /// Remaining value.
        amount: f64,
    },
    /// A travel certificate.
    #[serde(rename = "certificate")]
    Certificate {
        /// The payment method id.
        id: String,
        /// Value.
        amount: f64,
    },
}

impl PaymentMethod {
    /// The `source` literal.
    pub fn source(&self) -> &'static str {
        match self {
            Self::CreditCard { .. } => "credit_card",
            Self::GiftCard { .. } => "gift_card",
            Self::Certificate { .. } => "certificate",
        }
    }
}

impl PyDump for PaymentMethod {
    fn dump(&self, w: &mut PyWriter) {
        match self {
            Self::CreditCard {
                id,
                brand,
                last_four,
            } => w.object(
                &[
                    ("source", &"credit_card"),
                    ("id", id),
                    ("brand", brand),
                    ("last_four", last_four),
                ],
                &[2, 1, 3, 0],
            ),
            Self::GiftCard { id, amount } => w.object(
                &[("source", &"gift_card"), ("id", id), ("amount", amount)],
                &[2, 1, 0],
            ),
            Self::Certificate { id, amount } => w.object(
                &[("source", &"certificate"), ("id", id), ("amount", amount)],
                &[2, 1, 0],
            ),
        }
    }
}

py_model! {
    /// A passenger.
    pub struct Passenger {
        /// First name.
        pub first_name: String,
        /// Last name.
        pub last_name: String,
        /// Date of birth (YYYY-MM-DD).
        pub dob: String,
    }
}

/// The state of a flight on one date (`status` tells which).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "status")]
pub enum FlightDateStatus {
    /// Open for booking.
    #[serde(rename = "available")]
    Available {
        /// Seats left per cabin.
        available_seats: IndexMap<String, i64>,
        /// Price per cabin.
        prices: IndexMap<String, i64>,
    },
    /// Landed.
    #[serde(rename = "landed")]
    Landed {
        /// Actual departure.
        actual_departure_time_est: String,
        /// Actual arrival.
        actual_arrival_time_est: String,
    },
    /// Cancelled.
    #[serde(rename = "cancelled")]
    Cancelled,
    /// Delayed.
    #[serde(rename = "delayed")]
    Delayed {
        /// Estimated departure.
        estimated_departure_time_est: String,
        /// Estimated arrival.
        estimated_arrival_time_est: String,
    },
    /// In the air.
    #[serde(rename = "flying")]
    Flying {
        /// Actual departure.
        actual_departure_time_est: String,
        /// Estimated arrival.
        estimated_arrival_time_est: String,
    },
    /// On time.
    #[serde(rename = "on time")]
    OnTime {
        /// Estimated departure.
        estimated_departure_time_est: String,
        /// Estimated arrival.
        estimated_arrival_time_est: String,
    },
}

impl FlightDateStatus {
    /// The `status` literal.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Available { .. } => "available",
            Self::Landed { .. } => "landed",
            Self::Cancelled => "cancelled",
            Self::Delayed { .. } => "delayed",
            Self::Flying { .. } => "flying",
            Self::OnTime { .. } => "on time",
        }
    }
}

impl PyDump for FlightDateStatus {
    fn dump(&self, w: &mut PyWriter) {
        let status = self.status();
        match self {
            Self::Available {
                available_seats,
                prices,
            } => w.object(
                &[
                    ("status", &status),
                    ("available_seats", available_seats),
                    ("prices", prices),
                ],
                &[1, 2, 0],
            ),
            Self::Landed {
                actual_departure_time_est: a,
                actual_arrival_time_est: b,
            } => w.object(
                &[
                    ("status", &status),
                    ("actual_departure_time_est", a),
                    ("actual_arrival_time_est", b),
                ],
                &[2, 1, 0],
            ),
            Self::Cancelled => w.object(&[("status", &status)], &[0]),
            Self::Delayed {
                estimated_departure_time_est: a,
                estimated_arrival_time_est: b,
            }
            | Self::OnTime {
                estimated_departure_time_est: a,
                estimated_arrival_time_est: b,
            } => w.object(
                &[
                    ("status", &status),
                    ("estimated_departure_time_est", a),
                    ("estimated_arrival_time_est", b),
                ],
                &[2, 1, 0],
            ),
            Self::Flying {
                actual_departure_time_est: a,
                estimated_arrival_time_est: b,
            } => w.object(
                &[
                    ("status", &status),
                    ("actual_departure_time_est", a),
                    ("estimated_arrival_time_est", b),
                ],
                &[1, 2, 0],
            ),
        }
    }
}

py_model! {
    /// A scheduled flight and its status per date.
    pub struct Flight {
        /// Flight number.
        pub flight_number: String,
        /// Origin IATA code.
        pub origin: String,
        /// Destination IATA code.
        pub destination: String,
        /// Scheduled departure (HH:MM:SS).
        pub scheduled_departure_time_est: String,
        /// Scheduled arrival (HH:MM:SS, may end in `+1`).
        pub scheduled_arrival_time_est: String,
        /// Date -> status (copy-on-write, so booking a seat on one date
        /// copies that date's status, not the whole schedule).
        #[serde(deserialize_with = "crate::db::table")]
        pub dates: Table<FlightDateStatus>,
    }
}

py_model! {
    /// A search result.
    pub struct DirectFlight {
        /// Flight number.
        pub flight_number: String,
        /// Origin.
        pub origin: String,
        /// Destination.
        pub destination: String,
        /// Always `available`.
        pub status: String,
        /// Scheduled departure.
        pub scheduled_departure_time_est: String,
        /// Scheduled arrival.
        pub scheduled_arrival_time_est: String,
        /// The date, set by the one-stop search.
        pub date: Option<String>,
        /// Seats left per cabin.
        pub available_seats: IndexMap<String, i64>,
        /// Price per cabin.
        pub prices: IndexMap<String, i64>,
    }
}

py_model! {
    /// One flight of a reservation.
    pub struct ReservationFlight {
        /// Flight number.
        pub flight_number: String,
        /// Origin.
        pub origin: String,
        /// Destination.
        pub destination: String,
        /// Date.
        pub date: String,
        /// Price per passenger.
        pub price: i64,
    }
}

py_model! {
    /// A customer.
    pub struct User {
        /// User id.
        pub user_id: String,
        /// Name.
        pub name: Name,
        /// Address.
        pub address: Address,
        /// Email.
        pub email: String,
        /// Date of birth.
        pub dob: String,
        /// Payment method id -> method.
        pub payment_methods: IndexMap<String, PaymentMethod>,
        /// Saved passengers.
        pub saved_passengers: Vec<Passenger>,
        /// `gold`, `silver` or `regular`.
        pub membership: String,
        /// Reservation ids.
        pub reservations: Vec<String>,
    }
}

py_model! {
    /// A reservation.
    pub struct Reservation {
        /// Reservation id.
        pub reservation_id: String,
        /// Owner.
        pub user_id: String,
        /// Trip origin.
        pub origin: String,
        /// Trip destination.
        pub destination: String,
        /// `round_trip` or `one_way`.
        pub flight_type: String,
        /// Cabin class.
        pub cabin: String,
        /// Flights.
        pub flights: Vec<ReservationFlight>,
        /// Passengers.
        pub passengers: Vec<Passenger>,
        /// Payments and refunds.
        pub payment_history: Vec<Payment>,
        /// Creation time.
        pub created_at: String,
        /// Total bags (an int; an update stores the argument as given).
        #[serde(deserialize_with = "crate::db::int_value")]
        pub total_baggages: serde_json::Value,
        /// Paid bags (an int; an update stores the argument as given).
        #[serde(deserialize_with = "crate::db::int_value")]
        pub nonfree_baggages: serde_json::Value,
        /// `yes` or `no`.
        pub insurance: String,
        /// `cancelled` or null.
        #[serde(default)]
        pub status: Option<String>,
    }
}

/// The airline database. Cloning is cheap: tables are shared until written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlightDb {
    /// Flight number -> flight.
    #[serde(deserialize_with = "crate::db::table")]
    pub flights: Table<Flight>,
    /// User id -> user.
    #[serde(deserialize_with = "crate::db::table")]
    pub users: Table<User>,
    /// Reservation id -> reservation.
    #[serde(deserialize_with = "crate::db::table")]
    pub reservations: Table<Reservation>,
}

impl PyDump for FlightDb {
    fn dump(&self, w: &mut PyWriter) {
        w.object(
            &[
                ("flights", &self.flights),
                ("users", &self.users),
                ("reservations", &self.reservations),
            ],
            &[0, 2, 1],
        );
    }
}
