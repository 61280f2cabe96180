//! Snapshot and unit tests of the grammar builder.

use super::*;
use serde_json::json;

fn tool(name: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: String::new(),
        parameters,
    }
}

fn retail_tools() -> Vec<ToolSpec> {
    vec![
        tool(
            "get_order_details",
            json!({"type":"object","properties":{"order_id":{"type":"string","pattern":"^#W[0-9]{7}$"}},"required":["order_id"]}),
        ),
        tool(
            "cancel_pending_order",
            json!({"type":"object","properties":{
                "order_id":{"type":"string"},
                "reason":{"type":"string","enum":["no longer needed","ordered by mistake"]}},
                "required":["order_id","reason"],"additionalProperties":false}),
        ),
        tool(
            "search",
            json!({"type":"object","properties":{
                "query":{"type":"string","maxLength":40},
                "limit":{"type":"integer"},
                "tags":{"type":"array","items":{"type":"string"},"maxItems":3},
                "exact":{"type":["boolean","null"]}}}),
        ),
        tool("list_all", json!({"type":"object","properties":{}})),
    ]
}

#[test]
fn retail_grammar_snapshot() {
    let grammar = tool_call_grammar(&retail_tools());
    let grammar = grammar.unwrap_or_else(|e| Grammar {
        text: e,
        notes: Vec::new(),
    });
    insta::assert_snapshot!(grammar.text);
    assert!(grammar.notes.is_empty(), "{:?}", grammar.notes);
}

#[test]
fn refs_and_nested_objects_snapshot() {
    let tools = vec![tool(
        "update",
        json!({"type":"object",
            "$defs":{"addr":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},"required":["city"]}},
            "properties":{"address":{"$ref":"#/$defs/addr"},"note":{"anyOf":[{"type":"string"},{"type":"null"}]},
                "mode":{"const":"fast"},"payload":{}},
            "required":["address","mode"]}),
    )];
    let grammar = tool_call_grammar(&tools);
    let grammar = grammar.unwrap_or_else(|e| Grammar {
        text: e,
        notes: Vec::new(),
    });
    insta::assert_snapshot!(grammar.text);
}

#[test]
fn unsupported_parts_leave_notes() {
    let tools = vec![tool(
        "f",
        json!({"type":"object","properties":{
            "a":{"type":"string","pattern":"(?i)abc"},
            "b":{"type":"integer","minimum":1},
            "c":{"allOf":[{"type":"string"},{"minLength":2}]},
            "d":{"$ref":"#/nowhere"}}}),
    )];
    let grammar = tool_call_grammar(&tools);
    assert!(grammar.is_ok_and(|g| g.notes.len() == 4));
}

#[test]
fn every_built_grammar_validates() {
    for t in retail_tools() {
        let built = tool_call_grammar(std::slice::from_ref(&t));
        assert!(built.is_ok(), "{}: {built:?}", t.name);
    }
    assert!(tool_call_grammar(&[]).is_err());
}

#[test]
fn odd_tool_names_make_valid_rule_names() {
    let tools = vec![
        tool("weird name/with\"quote", json!({})),
        tool("weird name-with-quote", json!({})),
    ];
    let grammar = tool_call_grammar(&tools);
    assert!(grammar.is_ok_and(|g| g.text.contains("\\\"quote")));
}

#[test]
fn literals_escape() {
    assert_eq!(literal("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
}
