//! The retail database: products, users and orders, field for field as the
//! original's pydantic models (declaration order is `model_dump` order;
//! `float` fields are `f64`, optional fields default to `null`).

use indexmap::IndexMap;
use serde::Deserialize;

use crate::macros::py_model;
use crate::pyjson::{PyDump, PyWriter};

pub use crate::db::Table;

py_model! {
    /// A product variant (an item).
    pub struct Variant {
        /// The item id.
        pub item_id: String,
        /// Option name -> value.
        pub options: IndexMap<String, String>,
        /// Whether it is in stock.
        pub available: bool,
        /// Its price.
        pub price: f64,
    }
}

py_model! {
    /// A product with its variants.
    pub struct Product {
        /// The product name.
        pub name: String,
        /// The product id.
        pub product_id: String,
        /// Item id -> variant.
        pub variants: IndexMap<String, Variant>,
    }
}

py_model! {
    /// A user's name.
    pub struct UserName {
        /// First name.
        pub first_name: String,
        /// Last name.
        pub last_name: String,
    }
}

py_model! {
    /// A postal address.
    pub struct UserAddress {
        /// First line.
        pub address1: String,
        /// Second line.
        pub address2: String,
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

/// A saved payment method (`source` tells the kind).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "source")]
pub enum PaymentMethod {
    /// A credit card.
    #[serde(rename = "credit_card")]
    CreditCard {
        /// The payment method id.
        id: String,
        /// Card brand.
        brand: String,
        /// Last four digits.
        last_four: String,
    },
    /// A gift card with a balance.
    #[serde(rename = "gift_card")]
    GiftCard {
        /// The payment method id.
        id: String,
        /// The balance.
        balance: f64,
    },
    /// A PayPal account.
    #[serde(rename = "paypal")]
    Paypal {
        /// The payment method id.
        id: String,
    },
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
            Self::GiftCard { id, balance } => w.object(
                &[("source", &"gift_card"), ("id", id), ("balance", balance)],
                &[2, 1, 0],
            ),
            Self::Paypal { id } => w.object(&[("source", &"paypal"), ("id", id)], &[1, 0]),
        }
    }
}

py_model! {
    /// A customer.
    pub struct User {
        /// The user id.
        pub user_id: String,
        /// The name.
        pub name: UserName,
        /// The default address.
        pub address: UserAddress,
        /// The email.
        pub email: String,
        /// Payment method id -> payment method.
        pub payment_methods: IndexMap<String, PaymentMethod>,
        /// Order ids.
        pub orders: Vec<String>,
    }
}

py_model! {
    /// A shipment of an order.
    pub struct OrderFullfilment {
        /// Tracking ids.
        pub tracking_id: Vec<String>,
        /// Items shipped.
        pub item_ids: Vec<String>,
    }
}

py_model! {
    /// An item of an order.
    pub struct OrderItem {
        /// Product name.
        pub name: String,
        /// Product id.
        pub product_id: String,
        /// Item (variant) id.
        pub item_id: String,
        /// Price paid.
        pub price: f64,
        /// Options of the item.
        pub options: IndexMap<String, String>,
    }
}

py_model! {
    /// A payment or refund.
    pub struct OrderPayment {
        /// `payment` or `refund`.
        pub transaction_type: String,
        /// The amount.
        pub amount: f64,
        /// The payment method used.
        pub payment_method_id: String,
    }
}

py_model! {
    /// An order.
    pub struct Order {
        /// The order id (`#W...`).
        pub order_id: String,
        /// The customer.
        pub user_id: String,
        /// Shipping address.
        pub address: UserAddress,
        /// Items.
        pub items: Vec<OrderItem>,
        /// Status (`pending`, `delivered`, ...).
        pub status: String,
        /// Shipments.
        pub fulfillments: Vec<OrderFullfilment>,
        /// Payments and refunds.
        pub payment_history: Vec<OrderPayment>,
        /// Cancellation reason.
        #[serde(default)]
        pub cancel_reason: Option<String>,
        /// Items to exchange.
        #[serde(default)]
        pub exchange_items: Option<Vec<String>>,
        /// Replacement items.
        #[serde(default)]
        pub exchange_new_items: Option<Vec<String>>,
        /// Payment method for the exchange.
        #[serde(default)]
        pub exchange_payment_method_id: Option<String>,
        /// Price difference of the exchange.
        #[serde(default, deserialize_with = "crate::db::opt_float_field")]
        pub exchange_price_difference: Option<crate::db::PyNum>,
        /// Items to return.
        #[serde(default)]
        pub return_items: Option<Vec<String>>,
        /// Payment method for the refund.
        #[serde(default)]
        pub return_payment_method_id: Option<String>,
    }
}

/// The retail database. Cloning is cheap: tables are shared until written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetailDb {
    /// Product id -> product.
    #[serde(deserialize_with = "crate::db::table")]
    pub products: Table<Product>,
    /// User id -> user.
    #[serde(deserialize_with = "crate::db::table")]
    pub users: Table<User>,
    /// Order id -> order.
    #[serde(deserialize_with = "crate::db::table")]
    pub orders: Table<Order>,
}

impl PyDump for RetailDb {
    fn dump(&self, w: &mut PyWriter) {
        w.object(
            &[
                ("products", &self.products),
                ("users", &self.users),
                ("orders", &self.orders),
            ],
            &[2, 0, 1],
        );
    }
}
