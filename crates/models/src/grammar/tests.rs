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

mod guided {
    use super::*;
    use lifeharness_core::{ArgGuide, DecodingGuide};

    fn frag(tool: &str, arg: &str, schema: Value) -> ArgGuide {
        ArgGuide {
            tool: tool.into(),
            arg: arg.into(),
            schema,
            rule_id: format!("{tool}-{arg}"),
        }
    }

    #[test]
    fn no_guide_is_the_schema_grammar() {
        let tools = retail_tools();
        let plain = tool_call_grammar(&tools).unwrap();
        assert_eq!(guided_grammar(&tools, None).unwrap(), plain);
        assert_eq!(
            guided_grammar(&tools, Some(&DecodingGuide::default())).unwrap(),
            plain
        );
    }

    #[test]
    fn grounded_values_excluded_tools_and_non_empty_lists() {
        let tools = retail_tools();
        let offered: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
        let mut guide = DecodingGuide::default();
        guide.exclude(&offered, "list_all", "order-list");
        guide.args.push(frag(
            "get_order_details",
            "order_id",
            json!({"enum": ["#W0000001", "#W0000002"]}),
        ));
        guide
            .args
            .push(frag("search", "tags[]", json!({"minLength": 1})));
        guide
            .args
            .push(frag("search", "tags", json!({"minItems": 1})));
        let g = guided_grammar(&tools, Some(&guide)).unwrap();
        assert!(
            g.text
                .contains("\"\\\"#W0000001\\\"\" | \"\\\"#W0000002\\\"\""),
            "{}",
            g.text
        );
        assert!(!g.text.contains("list_all"), "{}", g.text);
        assert!(g.text.contains("char{1,160}"), "{}", g.text);
        // The unguided grammar allows any order id of the pattern.
        assert!(
            !tool_call_grammar(&tools)
                .unwrap()
                .text
                .contains("#W0000001")
        );
    }

    #[test]
    fn a_required_argument_with_no_value_leaves_its_tool_out() {
        let tools = retail_tools();
        let mut guide = DecodingGuide::default();
        guide
            .args
            .push(frag("get_order_details", "order_id", json!({"enum": []})));
        // An optional argument with no value is dropped from its tool.
        guide
            .args
            .push(frag("search", "query", json!({"enum": []})));
        let g = guided_grammar(&tools, Some(&guide)).unwrap();
        assert!(!g.text.contains("get_order_details"), "{}", g.text);
        assert!(!g.text.contains("query"), "{}", g.text);
        assert!(g.notes.iter().any(|n| n.contains("no admissible value")));
        // When nothing is left, the schema-only grammar is used and says so.
        let only = vec![tools[0].clone()];
        let g = guided_grammar(&only, Some(&guide)).unwrap();
        assert!(g.text.contains("get_order_details"));
        assert!(g.notes.iter().any(|n| n.contains("schema-only")));
    }

    #[test]
    fn admissible_commands_are_the_only_sentences() {
        let guide = DecodingGuide {
            texts: Some(vec![
                "go to desk 1".into(),
                "take mug 2 from \"shelf\"".into(),
                "go to desk 1".into(),
            ]),
            ..DecodingGuide::default()
        };
        let g = guided_grammar(&retail_tools(), Some(&guide)).unwrap();
        assert_eq!(
            g.text,
            "root ::= \"go to desk 1\" | \"take mug 2 from \\\"shelf\\\"\"\n"
        );
    }
}
