//! The retail tools, with the original's checks, error texts, mutation order
//! and return values.

use serde_json::Value;

use super::model::{Order, OrderPayment, PaymentMethod, RetailDb, UserAddress, Variant};
use crate::db::{PyNum, record_mut};
use crate::py::{self, FieldError};
use crate::pyjson::{self, PyDump, py_round};
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

const Q: &str = "RetailTools";

impl RetailDb {
    /// Runs tool `name`; `None` when no such tool exists, else the result
    /// text or the exception text.
    pub fn call(&mut self, name: &str, args: &Value) -> Option<Out> {
        let q = |tool| py::Qualname(Q, tool);
        Some(match name {
            "calculate" => py::bind(q(name), ["expression"], args).and_then(|[e]| match e {
                Value::String(s) => crate::calc::calculate(s).map(Text::Owned),
                other => Err(match other {
                    Value::Array(_) | Value::Object(_) => {
                        "'in <string>' requires string as left operand, not str".to_string()
                    }
                    _ => format!("'{}' object is not iterable", py::type_name(other)),
                }),
            }),
            "cancel_pending_order" => py::bind(q(name), ["order_id", "reason"], args)
                .and_then(|[o, r]| self.cancel_pending_order(o, r)),
            "exchange_delivered_order_items" => py::bind(
                q(name),
                ["order_id", "item_ids", "new_item_ids", "payment_method_id"],
                args,
            )
            .and_then(|[o, i, n, p]| self.exchange_delivered_order_items(o, i, n, p)),
            "find_user_id_by_name_zip" => {
                py::bind(q(name), ["first_name", "last_name", "zip"], args)
                    .and_then(|[f, l, z]| self.find_user_id_by_name_zip(f, l, z))
            }
            "find_user_id_by_email" => {
                py::bind(q(name), ["email"], args).and_then(|[e]| self.find_user_id_by_email(e))
            }
            "get_order_details" => py::bind(q(name), ["order_id"], args).and_then(|[o]| {
                match Value::as_str(o).and_then(|k| self.orders.text(k)) {
                    Some(text) => Ok(Text::Shared(text)),
                    None => self.order(o).map(|o| Text::Owned(pyjson::dumps(o))),
                }
            }),
            "get_product_details" => py::bind(q(name), ["product_id"], args).and_then(|[p]| {
                let id = py::key(p)?;
                id.and_then(|id| self.products.text(id))
                    .map(Text::Shared)
                    .ok_or_else(|| "Product not found".to_string())
            }),
            "get_item_details" => py::bind(q(name), ["item_id"], args).and_then(|[i]| {
                let id = py::key(i)?;
                id.and_then(|id| self.products.values().find_map(|p| p.variants.get(id)))
                    .map(|v| Text::Owned(pyjson::dumps(v)))
                    .ok_or_else(|| "Item not found".to_string())
            }),
            "get_user_details" => py::bind(q(name), ["user_id"], args).and_then(|[u]| {
                let id = py::key(u)?;
                id.and_then(|id| self.users.text(id))
                    .map(Text::Shared)
                    .ok_or_else(|| "User not found".to_string())
            }),
            "list_all_product_types" => py::bind(q(name), [], args).map(|[]| {
                let mut names: indexmap::IndexMap<&str, Value> = indexmap::IndexMap::new();
                for p in self.products.values() {
                    names.insert(&p.name, Value::String(p.product_id.clone()));
                }
                // `json.dumps(..., sort_keys=True)` of a str -> str dict.
                let object: serde_json::Map<String, Value> =
                    names.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                Text::Owned(pyjson::dumps_sorted(&Value::Object(object)))
            }),
            "modify_pending_order_address" => py::bind(
                q(name),
                [
                    "order_id", "address1", "address2", "city", "state", "country", "zip",
                ],
                args,
            )
            .and_then(|[o, a1, a2, c, s, co, z]| {
                let order = self.order(o)?;
                if !order.status.contains("pending") {
                    return Err("Non-pending order cannot be modified".to_string());
                }
                let address = user_address([a1, a2, c, s, co, z])?;
                let id = order.order_id.clone();
                self.order_mut(&id)?.address = address;
                shared(&self.orders, &id)
            }),
            "modify_pending_order_items" => py::bind(
                q(name),
                ["order_id", "item_ids", "new_item_ids", "payment_method_id"],
                args,
            )
            .and_then(|[o, i, n, p]| self.modify_pending_order_items(o, i, n, p)),
            "modify_pending_order_payment" => {
                py::bind(q(name), ["order_id", "payment_method_id"], args)
                    .and_then(|[o, p]| self.modify_pending_order_payment(o, p))
            }
            "modify_user_address" => py::bind(
                q(name),
                [
                    "user_id", "address1", "address2", "city", "state", "country", "zip",
                ],
                args,
            )
            .and_then(|[u, a1, a2, c, s, co, z]| {
                let id = py::key(u)?
                    .filter(|id| self.users.contains_key(id))
                    .ok_or_else(|| "User not found".to_string())?
                    .to_string();
                let address = user_address([a1, a2, c, s, co, z])?;
                let user = record_mut(&mut self.users, &id).ok_or("User not found")?;
                user.address = address;
                shared(&self.users, &id)
            }),
            "return_delivered_order_items" => {
                py::bind(q(name), ["order_id", "item_ids", "payment_method_id"], args)
                    .and_then(|[o, i, p]| self.return_delivered_order_items(o, i, p))
            }
            "transfer_to_human_agents" => {
                py::bind(q(name), ["summary"], args).map(|_| Text::Static("Transfer successful"))
            }
            _ => return None,
        })
    }

    fn order(&self, id: &Value) -> Result<&Order, String> {
        py::key(id)?
            .and_then(|id| self.orders.get(id))
            .map(|o| &**o)
            .ok_or_else(|| "Order not found".to_string())
    }

    fn order_mut(&mut self, id: &str) -> Result<&mut Order, String> {
        record_mut(&mut self.orders, id).ok_or_else(|| "Order not found".to_string())
    }

    /// `_get_payment_method`: the user, then the method.
    fn payment_method(&self, user_id: &str, pm: &Value) -> Result<&PaymentMethod, String> {
        let user = self.users.get(user_id).ok_or("User not found")?;
        py::key(pm)?
            .and_then(|pm| user.payment_methods.get(pm))
            .ok_or_else(|| "Payment method not found".to_string())
    }

    /// Adds `delta` to a gift card's balance and rounds to cents.
    fn gift_card_add(&mut self, user_id: &str, pm: &str, delta: f64) {
        if let Some(user) = record_mut(&mut self.users, user_id)
            && let Some(PaymentMethod::GiftCard { balance, .. }) = user.payment_methods.get_mut(pm)
        {
            *balance = py_round(*balance + delta, 2);
        }
    }

    /// `_get_variant(product_id, variant_id)`.
    fn variant(&self, product_id: &str, variant_id: &Value) -> Result<&Variant, String> {
        let product = self.products.get(product_id).ok_or("Product not found")?;
        py::key(variant_id)?
            .and_then(|v| product.variants.get(v))
            .ok_or_else(|| "Variant not found".to_string())
    }

    fn cancel_pending_order(&mut self, order_id: &Value, reason: &Value) -> Out {
        let order = self.order(order_id)?;
        if order.status != "pending" {
            return Err("Non-pending order cannot be cancelled".to_string());
        }
        py::key(reason)?;
        let reason = match reason {
            Value::String(r) if r == "no longer needed" || r == "ordered by mistake" => r.clone(),
            _ => return Err("Invalid reason".to_string()),
        };
        let id = order.order_id.clone();
        let user_id = order.user_id.clone();
        let payments = order.payment_history.clone();
        let mut refunds = Vec::new();
        for payment in &payments {
            refunds.push(OrderPayment {
                transaction_type: "refund".to_string(),
                amount: payment.amount,
                payment_method_id: payment.payment_method_id.clone(),
            });
            let pm_id = Value::String(payment.payment_method_id.clone());
            let is_gift = matches!(
                self.payment_method(&user_id, &pm_id)?,
                PaymentMethod::GiftCard { .. }
            );
            if is_gift {
                self.gift_card_add(&user_id, &payment.payment_method_id, payment.amount);
            }
        }
        let order = self.order_mut(&id)?;
        order.status = "cancelled".to_string();
        order.cancel_reason = Some(reason);
        order.payment_history.extend(refunds);
        shared(&self.orders, &id)
    }

    fn exchange_delivered_order_items(
        &mut self,
        order_id: &Value,
        item_ids: &Value,
        new_item_ids: &Value,
        pm: &Value,
    ) -> Out {
        let order = self.order(order_id)?;
        if order.status != "delivered" {
            return Err("Non-delivered order cannot be exchanged".to_string());
        }
        let items = py::iter_items(item_ids)?;
        check_counts(order, &items, |id| format!("Number of {id} not found."))?;
        let new_items = py::iter_items(new_item_ids)?;
        if items.len() != new_items.len() {
            return Err("The number of items to be exchanged should match.".to_string());
        }
        // Python starts from the int 0: with no items the difference stays an int.
        let mut diff: Option<f64> = None;
        for (item_id, new_id) in items.iter().zip(&new_items) {
            let item = find_item(order, item_id)
                .ok_or_else(|| format!("Item {} not found", py::py_str(item_id)))?;
            let variant = self.variant(&item.product_id, new_id)?;
            if !variant.available {
                return Err(format!(
                    "New item {} not found or available",
                    py::py_str(new_id)
                ));
            }
            diff = Some(diff.unwrap_or(0.0) + (variant.price - item.price));
        }
        let diff = match diff {
            Some(d) => PyNum::Float(py_round(d, 2)),
            None => PyNum::Int(0),
        };
        let user_id = order.user_id.clone();
        if let PaymentMethod::GiftCard { balance, .. } = self.payment_method(&user_id, pm)?
            && *balance < diff.as_f64()
        {
            return Err(
                "Insufficient gift card balance to pay for the price difference".to_string(),
            );
        }
        let sorted_items = py::sorted_strings(&items)?;
        let sorted_new = py::sorted_strings(&new_items)?;
        let id = order.order_id.clone();
        let pm = py::py_str(pm);
        let order = self.order_mut(&id)?;
        order.status = "exchange requested".to_string();
        order.exchange_items = Some(sorted_items);
        order.exchange_new_items = Some(sorted_new);
        order.exchange_payment_method_id = Some(pm);
        order.exchange_price_difference = Some(diff);
        shared(&self.orders, &id)
    }

    fn modify_pending_order_items(
        &mut self,
        order_id: &Value,
        item_ids: &Value,
        new_item_ids: &Value,
        pm: &Value,
    ) -> Out {
        let order = self.order(order_id)?;
        if order.status != "pending" {
            return Err("Non-pending order cannot be modified".to_string());
        }
        let items = py::iter_items(item_ids)?;
        check_counts(order, &items, |id| format!("{id} not found"))?;
        let new_items = py::iter_items(new_item_ids)?;
        if items.len() != new_items.len() {
            return Err("The number of items to be exchanged should match".to_string());
        }
        let mut diff = 0.0;
        let mut last_variant: Option<Variant> = None;
        for (item_id, new_id) in items.iter().zip(&new_items) {
            if py::py_eq(item_id, new_id) {
                return Err("The new item id should be different from the old item id".to_string());
            }
            let item = find_item(order, item_id)
                .ok_or_else(|| format!("Item {} not found", py::py_str(item_id)))?;
            let variant = self.variant(&item.product_id, new_id)?;
            if !variant.available {
                return Err(format!(
                    "New item {} not found or available",
                    py::py_str(new_id)
                ));
            }
            diff += variant.price - item.price;
            last_variant = Some(variant.clone());
        }
        let user_id = order.user_id.clone();
        let pm_method = self.payment_method(&user_id, pm)?;
        let is_gift = matches!(pm_method, PaymentMethod::GiftCard { .. });
        if let PaymentMethod::GiftCard { balance, .. } = pm_method
            && *balance < diff
        {
            return Err("Insufficient gift card balance to pay for the new item".to_string());
        }
        let pm = py::py_str(pm);
        let id = order.order_id.clone();
        self.order_mut(&id)?.payment_history.push(OrderPayment {
            transaction_type: if diff > 0.0 { "payment" } else { "refund" }.to_string(),
            amount: diff.abs(),
            payment_method_id: pm.clone(),
        });
        if is_gift {
            self.gift_card_add(&user_id, &pm, -diff);
        }
        let order = self.order_mut(&id)?;
        // The original gives every modified item the price and options of
        // the last new variant it looked at.
        for (item_id, new_id) in items.iter().zip(&new_items) {
            let Some(item) = order
                .items
                .iter_mut()
                .find(|it| matches!(item_id, Value::String(s) if *s == it.item_id))
            else {
                return Err(format!("Item {} not found", py::py_str(item_id)));
            };
            item.item_id = py::py_str(new_id);
            if let Some(variant) = &last_variant {
                item.price = variant.price;
                item.options = variant.options.clone();
            }
        }
        order.status = "pending (item modified)".to_string();
        shared(&self.orders, &id)
    }

    fn modify_pending_order_payment(&mut self, order_id: &Value, pm: &Value) -> Out {
        let order = self.order(order_id)?;
        if !order.status.contains("pending") {
            return Err("Non-pending order cannot be modified".to_string());
        }
        let method = self.payment_method(&order.user_id, pm)?;
        if order.payment_history.len() != 1
            || order.payment_history[0].transaction_type != "payment"
        {
            return Err("There should be exactly one payment for a pending order".to_string());
        }
        let first = &order.payment_history[0];
        if matches!(pm, Value::String(p) if *p == first.payment_method_id) {
            return Err(
                "The new payment method should be different from the current one".to_string(),
            );
        }
        let amount = first.amount;
        if let PaymentMethod::GiftCard { balance, .. } = method
            && *balance < amount
        {
            return Err("Insufficient gift card balance to pay for the order".to_string());
        }
        let new_is_gift = matches!(method, PaymentMethod::GiftCard { .. });
        let old_pm = first.payment_method_id.clone();
        let user_id = order.user_id.clone();
        let id = order.order_id.clone();
        let pm = py::py_str(pm);
        self.order_mut(&id)?.payment_history.extend([
            OrderPayment {
                transaction_type: "payment".to_string(),
                amount,
                payment_method_id: pm.clone(),
            },
            OrderPayment {
                transaction_type: "refund".to_string(),
                amount,
                payment_method_id: old_pm.clone(),
            },
        ]);
        if new_is_gift {
            self.gift_card_add(&user_id, &pm, -amount);
        }
        let old_is_gift = matches!(
            self.payment_method(&user_id, &Value::String(old_pm.clone()))?,
            PaymentMethod::GiftCard { .. }
        );
        if old_is_gift {
            self.gift_card_add(&user_id, &old_pm, amount);
        }
        self.order_mut(&id)?;
        shared(&self.orders, &id)
    }

    fn return_delivered_order_items(
        &mut self,
        order_id: &Value,
        item_ids: &Value,
        pm: &Value,
    ) -> Out {
        let order = self.order(order_id)?;
        if order.status != "delivered" {
            return Err("Non-delivered order cannot be returned".to_string());
        }
        let method = self.payment_method(&order.user_id, pm)?;
        if !matches!(method, PaymentMethod::GiftCard { .. }) {
            let first = order
                .payment_history
                .first()
                .ok_or("list index out of range")?;
            if !matches!(pm, Value::String(p) if *p == first.payment_method_id) {
                return Err("Payment method should be the original payment method".to_string());
            }
        }
        let items = py::iter_items(item_ids)?;
        check_counts(order, &items, |_| "Some item not found".to_string())?;
        let sorted = py::sorted_strings(&items)?;
        let id = order.order_id.clone();
        let pm = py::py_str(pm);
        let order = self.order_mut(&id)?;
        order.status = "return requested".to_string();
        order.return_items = Some(sorted);
        order.return_payment_method_id = Some(pm);
        shared(&self.orders, &id)
    }
}

/// The first item of `order` whose id equals `item_id`.
fn find_item<'a>(order: &'a Order, item_id: &Value) -> Option<&'a super::model::OrderItem> {
    order
        .items
        .iter()
        .find(|it| matches!(item_id, Value::String(s) if *s == it.item_id))
}

/// `item_ids.count(x) > all_item_ids.count(x)` for every `x`, in order.
fn check_counts(
    order: &Order,
    items: &[Value],
    err: impl Fn(String) -> String,
) -> Result<(), String> {
    for item in items {
        let wanted = items.iter().filter(|x| py::py_eq(x, item)).count();
        let have = order
            .items
            .iter()
            .filter(|it| matches!(item, Value::String(s) if *s == it.item_id))
            .count();
        if wanted > have {
            return Err(err(py::py_str(item)));
        }
    }
    Ok(())
}

/// `UserAddress(address1=..., ...)` with pydantic's validation.
fn user_address(values: [&Value; 6]) -> Result<UserAddress, String> {
    let [a1, a2, city, state, country, zip] = values;
    let mut errors: Vec<FieldError> = Vec::new();
    // pydantic reports errors in field declaration order.
    let address = UserAddress {
        address1: py::check_str("address1", a1, &mut errors),
        address2: py::check_str("address2", a2, &mut errors),
        city: py::check_str("city", city, &mut errors),
        country: py::check_str("country", country, &mut errors),
        state: py::check_str("state", state, &mut errors),
        zip: py::check_str("zip", zip, &mut errors),
    };
    if errors.is_empty() {
        Ok(address)
    } else {
        Err(py::validation_error("UserAddress", &errors))
    }
}
