//! Property tests of the text-mode action parser: it never panics on random
//! or adversarial text, and valid calls round-trip in every wrapping.

use lifeharness_core::ToolCall;
use lifeharness_models::textmode::{parse_output, render_action};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9 {}\\[\\]\"\\\\:,<>/`_-]{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn arguments() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

fn wrap(action: &str, style: u8) -> String {
    match style % 5 {
        0 => action.to_string(),
        1 => format!("<tool_call>\n{action}\n</tool_call>"),
        2 => format!("Sure, checking.\n```json\n{action}\n```"),
        3 => format!("I'll do it: {action}"),
        _ => format!("  \n{action}\n"),
    }
}

/// Text made of the characters the parser cares about.
fn adversarial() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("\"name\"".to_string()),
            Just(":".to_string()),
            Just("\"arguments\"".to_string()),
            Just("<tool_call>".to_string()),
            Just("</tool_call>".to_string()),
            Just("```".to_string()),
            Just("```json\n".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("\\".to_string()),
            Just("\"".to_string()),
            Just(",".to_string()),
            Just("é".to_string()),
            "[a-z ]{0,4}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_random_text(text in any::<String>()) {
        let out = parse_output(&text, "c");
        prop_assert!(out.format_error.is_some() || out.text.is_some() || !out.calls.is_empty());
    }

    #[test]
    fn never_panics_on_adversarial_text(text in adversarial()) {
        let out = parse_output(&text, "c");
        for call in &out.calls {
            prop_assert!(call.id.starts_with('c'));
        }
        prop_assert!(out.format_error.is_some() || out.text.is_some() || !out.calls.is_empty());
    }

    #[test]
    fn valid_calls_round_trip(name in "[a-zA-Z_][a-zA-Z0-9_]{0,20}", args in arguments(), style in any::<u8>()) {
        let call = ToolCall::from_value("x", name.clone(), args.clone());
        let text = wrap(&render_action(&call), style);
        let out = parse_output(&text, "c");
        prop_assert_eq!(out.format_error, None, "{}", text);
        prop_assert_eq!(out.calls.len(), 1, "{}", text);
        prop_assert_eq!(&out.calls[0].name, &name);
        prop_assert_eq!(out.calls[0].args(), Some(&args));
        prop_assert_eq!(&out.calls[0].arguments_raw, &call.arguments_raw);
    }

    #[test]
    fn plain_prose_is_a_message(text in "[a-zA-Z][a-zA-Z0-9 .,!?']{0,80}") {
        let out = parse_output(&text, "c");
        prop_assert!(out.calls.is_empty());
        prop_assert_eq!(out.format_error, None);
    }
}
