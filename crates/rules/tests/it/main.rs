//! Harness files: loading, compiled rules, examples checked at load.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use lifeharness_core::{FailureKind, JsonState};
use std::borrow::Cow;

use lifeharness_rules::{CallInput, CompiledHarness, Harness, PastCall};
use serde_json::{Value, json};

const RETAIL_LIKE: &str = r##"
format_version = 1
name = "test"

[[contract.constraints]]
id = "reason-enum"
tool = "cancel_pending_order"
arg = "reason"
enum = ["no longer needed", "ordered by mistake"]
examples = [
  { args = { reason = "changed my mind" }, expect = "block", snippet = "agent passed free text" },
  { args = { reason = "no longer needed" }, expect = "allow" },
]

[[contract.constraints]]
id = "item-id-pattern"
tool = "return_delivered_order_items"
arg = "item_ids[]"
pattern = "^[0-9]{10}$"

[[contract.ordering]]
id = "auth-first"
tools = ["cancel_pending_order"]
after = ["find_user_id_by_email", "find_user_id_by_name_zip"]

[[contract.ordering]]
id = "details-before-cancel"
tools = ["cancel_pending_order"]
after = ["get_order_details"]
same_arg = "order_id"

[[realization.rules]]
id = "cancel-only-pending"
tools = ["cancel_pending_order"]
bind = { order = "orders/{args.order_id}" }
require = "order != null && order.status == 'pending'"
message = "Order {args.order_id} is {order == null ? 'unknown' : order.status}: only pending orders can be cancelled."
examples = [
  { args = { order_id = "#W1" }, state = { order = { status = "delivered" } }, expect = "block" },
  { args = { order_id = "#W1" }, state = { order = { status = "pending" } }, expect = "allow" },
]

[[realization.rules]]
id = "no-duplicate-items"
tools = ["return_delivered_order_items", "exchange_delivered_order_items"]
require = "size(unique(args.item_ids)) == size(args.item_ids)"
message = "item_ids lists an item twice."

[[realization.rules]]
id = "exchange-parity"
tools = ["exchange_delivered_order_items"]
require = "size(args.item_ids) == size(args.new_item_ids)"
message = "Give one new item per exchanged item ({size(args.item_ids)} old, {size(args.new_item_ids)} new)."

[[realization.rules]]
id = "last-status-pending"
tools = ["modify_pending_order_items"]
when = "history.exists(h, h.tool == 'get_order_details' && h.args.order_id == args.order_id)"
require = "last(history.filter(h, h.tool == 'get_order_details' && h.args.order_id == args.order_id)).result.status == 'pending'"
message = "The last status you saw for {args.order_id} was not pending."

[[regulation.annotations]]
id = "gift-card-balance"
tools = ["get_user_details"]
when = "ok && type(result) == map && 'payment_methods' in result"
note = "Gift card balances: {join(result.payment_methods.filter(k, result.payment_methods[k].source == 'gift_card').map(k, k + ' = ' + string(result.payment_methods[k].balance)), ', ')}"
examples = [
  { result = { payment_methods = { gift_card_1 = { source = "gift_card", balance = 20.5 } } }, expect = "annotate" },
  { result = "Error: user not found", expect = "silent" },
]
"##;

fn input<'a>(
    tool: &'a str,
    args: &'a Value,
    history: &'a [PastCall<'a>],
    state: Option<&'a JsonState>,
) -> CallInput<'a> {
    CallInput {
        tool,
        args,
        raw_args: "",
        history,
        task_id: "t",
        instruction: "",
        state: state.map(|s| s as &dyn lifeharness_core::StateView),
    }
}

#[test]
fn every_kind_of_rule_judges_calls() {
    let h = Harness::compile_toml(RETAIL_LIKE, "retail.toml").unwrap();
    assert_eq!(h.rule_count(), 9);
    let state = JsonState(
        json!({"orders": {"#W1": {"status": "delivered"}, "#W2": {"status": "pending"}}}),
    );

    let args = json!({"order_id": "#W1", "reason": "whatever"});
    let v = h
        .check_constraints(&input("cancel_pending_order", &args, &[], None))
        .unwrap()
        .unwrap();
    assert_eq!(v.rule_id, "reason-enum");
    assert_eq!(v.kind, FailureKind::ContractViolation);
    assert_eq!(
        v.message,
        "'cancel_pending_order' argument 'reason' must be one of 'no longer needed', 'ordered by mistake' (got 'whatever')."
    );

    let args = json!({"item_ids": ["1234567890", "12"]});
    let v = h
        .check_constraints(&input("return_delivered_order_items", &args, &[], None))
        .unwrap()
        .unwrap();
    assert!(v.message.contains("'12'"), "{}", v.message);

    let args = json!({"order_id": "#W2", "reason": "no longer needed"});
    let v = h
        .check_ordering(&input("cancel_pending_order", &args, &[], None))
        .unwrap()
        .unwrap();
    assert_eq!(v.rule_id, "auth-first");
    let authed = vec![PastCall {
        tool: "find_user_id_by_email".into(),
        args: Cow::Owned(json!({})),
        ok: true,
        result: json!("u1"),
    }];
    let v = h
        .check_ordering(&input("cancel_pending_order", &args, &authed, None))
        .unwrap()
        .unwrap();
    assert_eq!(v.rule_id, "details-before-cancel");
    assert!(v.message.contains("same 'order_id'"));
    let mut seen = authed.clone();
    seen.push(PastCall {
        tool: "get_order_details".into(),
        args: Cow::Owned(json!({"order_id": "#W2"})),
        ok: true,
        result: json!({"status": "pending"}),
    });
    assert_eq!(
        h.check_ordering(&input("cancel_pending_order", &args, &seen, None))
            .unwrap(),
        None
    );
    let failed = vec![PastCall {
        ok: false,
        ..authed[0].clone()
    }];
    assert!(
        h.check_ordering(&input("cancel_pending_order", &args, &failed, None))
            .unwrap()
            .is_some()
    );

    let args = json!({"order_id": "#W1"});
    let v = h
        .check_preconditions(&input("cancel_pending_order", &args, &[], Some(&state)))
        .unwrap()
        .unwrap();
    assert_eq!(
        v.message,
        "Order #W1 is delivered: only pending orders can be cancelled."
    );
    assert_eq!(v.kind, FailureKind::PolicyDenied);
    let args = json!({"order_id": "#W9"});
    let v = h
        .check_preconditions(&input("cancel_pending_order", &args, &[], Some(&state)))
        .unwrap()
        .unwrap();
    assert!(v.message.contains("unknown"));
    let args = json!({"order_id": "#W2"});
    assert_eq!(
        h.check_preconditions(&input("cancel_pending_order", &args, &[], Some(&state)))
            .unwrap(),
        None
    );

    let args = json!({"order_id": "#W2", "item_ids": ["a", "a"], "new_item_ids": ["b", "c"]});
    let v = h
        .check_preconditions(&input("exchange_delivered_order_items", &args, &[], None))
        .unwrap()
        .unwrap();
    assert_eq!(v.rule_id, "no-duplicate-items");
    let args = json!({"order_id": "#W2", "item_ids": ["a"], "new_item_ids": ["b", "c"]});
    let v = h
        .check_preconditions(&input("exchange_delivered_order_items", &args, &[], None))
        .unwrap()
        .unwrap();
    assert_eq!(
        v.message,
        "Give one new item per exchanged item (1 old, 2 new)."
    );

    let args = json!({"order_id": "#W2"});
    let history = vec![
        PastCall {
            tool: "get_order_details".into(),
            args: Cow::Owned(json!({"order_id": "#W2"})),
            ok: true,
            result: json!({"status": "pending"}),
        },
        PastCall {
            tool: "get_order_details".into(),
            args: Cow::Owned(json!({"order_id": "#W2"})),
            ok: true,
            result: json!({"status": "processed"}),
        },
    ];
    let v = h
        .check_preconditions(&input("modify_pending_order_items", &args, &history, None))
        .unwrap();
    assert_eq!(v.map(|v| v.rule_id).as_deref(), Some("last-status-pending"));
    assert_eq!(
        h.check_preconditions(&input(
            "modify_pending_order_items",
            &args,
            &history[..1],
            None
        ))
        .unwrap(),
        None
    );

    let args = json!({"user_id": "u"});
    let out = r#"{"payment_methods": {"gift_card_1": {"source": "gift_card", "balance": 20.5}, "credit_card_2": {"source": "credit_card"}}}"#;
    let notes = h
        .annotations(&input("get_user_details", &args, &[], None), true, out)
        .unwrap();
    assert_eq!(
        notes,
        vec![(
            "gift-card-balance".to_string(),
            "Gift card balances: gift_card_1 = 20.5".to_string()
        )]
    );
    assert!(
        h.annotations(
            &input("get_user_details", &args, &[], None),
            false,
            "Error: x"
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn a_wrong_example_fails_loading_and_names_the_rule_and_line() {
    let bad = RETAIL_LIKE.replace(
        "{ args = { reason = \"no longer needed\" }, expect = \"allow\" }",
        "{ args = { reason = \"no longer needed\" }, expect = \"block\" }",
    );
    let err = Harness::compile_toml(&bad, "h.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reason-enum") && err.contains("example 2") && err.contains("line 6"),
        "{err}"
    );
}

#[test]
fn bad_expressions_and_duplicates_are_load_errors() {
    let bad = RETAIL_LIKE.replace(
        "require = \"size(args.item_ids) == size(args.new_item_ids)\"",
        "require = \"size(args.item_ids ==\"",
    );
    let err = Harness::compile_toml(&bad, "h.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exchange-parity")
            && err.contains("require")
            && err.contains("does not parse"),
        "{err}"
    );
    let dup = RETAIL_LIKE.replace("id = \"exchange-parity\"", "id = \"reason-enum\"");
    let err = Harness::compile_toml(&dup, "h.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("used twice"), "{err}");
    let unknown = format!("{RETAIL_LIKE}\n[regulation]\nrepeat_treshold = 2\n");
    let err = Harness::compile_toml(&unknown, "h.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("repeat_treshold"), "{err}");
}

#[test]
fn shipped_harness_files_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../harnesses");
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Harness::load_compiled(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// The message of the precondition `tool` with `args` breaks, if any.
fn broken_precondition(
    h: &CompiledHarness,
    tool: &str,
    args: &Value,
    state: &JsonState,
) -> Option<String> {
    h.check_preconditions(&input(tool, args, &[], Some(state)))
        .unwrap()
        .map(|v| v.message)
}

#[test]
fn regression_a_binding_over_a_missing_argument_is_null_not_a_fault() {
    // Found by the layer benchmark: `bind` was resolved before `when`, so a
    // call without `order_id` made the rule fault instead of being skipped.
    let text = r#"
format_version = 1
name = "t"

[[realization.rules]]
id = "guarded"
bind = { order = "orders/{args.order_id}" }
when = "'order_id' in args"
require = "order != null"
message = "unknown order"
"#;
    let h = Harness::compile_toml(text, "t.toml").unwrap();
    let state = JsonState(json!({"orders": {}}));
    let args = json!({"user_id": "u1"});
    assert_eq!(
        broken_precondition(&h, "get_user_details", &args, &state),
        None
    );
    let args = json!({"order_id": "#W9"});
    assert_eq!(
        broken_precondition(&h, "get_order_details", &args, &state).as_deref(),
        Some("unknown order")
    );
}

#[test]
fn regression_a_binding_path_reads_the_rules_earlier_bindings() {
    // Found by `audit --gold` on the shipped retail harness: every binding
    // path was rendered in the call's scope, so `products/{order...}` did not
    // see `order` and the rule blocked all 74 gold item exchanges.
    let text = r#"
format_version = 1
name = "t"

[[realization.rules]]
id = "same-product"
tools = ["exchange_delivered_order_items"]
when = "order != null"
require = "product != null && args.new_item_id in product.variants"
message = "{args.new_item_id} is not a variant of the product"

[realization.rules.bind]
order = "orders/{args.order_id}"
product = "products/{order != null ? order.items[0].product_id : '-'}"
"#;
    let h = Harness::compile_toml(text, "t.toml").unwrap();
    let state = JsonState(json!({
        "orders": {"#W1": {"items": [{"item_id": "1", "product_id": "p1"}]}},
        "products": {"p1": {"variants": {"2": {"available": true}}}},
    }));
    let ok = json!({"order_id": "#W1", "new_item_id": "2"});
    let tool = "exchange_delivered_order_items";
    assert_eq!(broken_precondition(&h, tool, &ok, &state), None);
    let wrong = json!({"order_id": "#W1", "new_item_id": "3"});
    assert_eq!(
        broken_precondition(&h, tool, &wrong, &state).as_deref(),
        Some("3 is not a variant of the product")
    );
}

#[test]
fn annotations_compare_result_maps_either_way_round() {
    // `result` is bound lazily; a rule that compares two computed values
    // (here a map literal on the left) must still see CEL's own maps.
    let text = r#"
format_version = 1
name = "t"

[[regulation.annotations]]
id = "home-address"
tools = ["get_user_details"]
when = "ok && {'city': 'Austin', 'zip': '78701'} == result.address"
note = "{result.name} lives at the home address"

[[regulation.annotations]]
id = "status"
tools = ["get_user_details"]
when = "ok && 'status' in result"
note = "status {result.status}"
"#;
    let h = Harness::compile_toml(text, "t.toml").unwrap();
    let args = json!({"user_id": "u1"});
    let input = input("get_user_details", &args, &[], None);
    let home =
        r#"{"name": "Ann", "status": "active", "address": {"zip": "78701", "city": "Austin"}}"#;
    let notes = h.annotations(&input, true, home).unwrap();
    assert_eq!(
        notes,
        vec![
            (
                "home-address".to_string(),
                "Ann lives at the home address".to_string()
            ),
            ("status".to_string(), "status active".to_string()),
        ]
    );
    let away =
        r#"{"name": "Ann", "status": "active", "address": {"zip": "10001", "city": "New York"}}"#;
    let notes = h.annotations(&input, true, away).unwrap();
    assert_eq!(
        notes,
        vec![("status".to_string(), "status active".to_string())]
    );
}
