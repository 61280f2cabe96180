//! The cost of constrained decoding per generated token on the embedded
//! backend: the tau2-bench retail tools (read from the repository's copy)
//! with no grammar, the schema-only grammar, and a harness-guided grammar
//! (ordering leaves five tools out, order and user ids limited to the values
//! seen, non-empty item lists). Prints milliseconds per generated token and
//! each mode's speed as a share of unconstrained decoding.
//!
//! ```text
//! cargo run --release -p lifeharness-models --example bench_decoding [-- SPEC [ROUNDS]]
//! ```
//! SPEC defaults to `embedded:smollm2-135m?max_tokens=48&prefix_cache=on`
//! (every mode then generates at most 48 tokens per turn; constrained turns
//! stop when the call is complete; the shared prompt prefix is evaluated
//! once). ROUNDS (default 3) repeats the six prompts.

use std::error::Error;

use lifeharness_core::{ArgGuide, ChatRequest, DecodingGuide, Message, Model, ToolSpec};
use lifeharness_models::EmbeddedModel;
use lifeharness_models::grammar::{guided_grammar, tool_call_grammar};
use lifeharness_models::pull::{PullOptions, pull};
use lifeharness_models::spec::ModelSpec;
use serde_json::{Value, json};

fn retail_tools() -> Result<Vec<ToolSpec>, Box<dyn Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../env-tau2/data/retail/tools.json"
    );
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let list = raw.as_array().ok_or("tools.json is not a list")?;
    Ok(list
        .iter()
        .filter_map(|t| {
            let f = t.get("function").unwrap_or(t);
            Some(ToolSpec {
                name: f.get("name")?.as_str()?.to_string(),
                description: f.get("description")?.as_str()?.to_string(),
                parameters: f.get("parameters")?.clone(),
            })
        })
        .collect())
}

fn guide(tools: &[ToolSpec]) -> DecodingGuide {
    let offered: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
    let mut guide = DecodingGuide::default();
    for tool in [
        "cancel_pending_order",
        "exchange_delivered_order_items",
        "modify_pending_order_items",
        "modify_pending_order_address",
        "modify_user_address",
    ] {
        guide.exclude(&offered, tool, "auth-before-write");
    }
    let arg = |tool: &str, arg: &str, schema: Value| ArgGuide {
        tool: tool.into(),
        arg: arg.into(),
        schema,
        rule_id: format!("{tool}-{arg}"),
    };
    let orders = json!({"enum": ["#W6390527", "#W7800651", "#W9270202"]});
    for tool in [
        "get_order_details",
        "return_delivered_order_items",
        "modify_pending_order_payment",
    ] {
        guide.args.push(arg(tool, "order_id", orders.clone()));
    }
    guide.args.push(arg(
        "get_user_details",
        "user_id",
        json!({"enum": ["mei_kovacs_8020"]}),
    ));
    guide.args.push(arg(
        "return_delivered_order_items",
        "item_ids",
        json!({"minItems": 1}),
    ));
    guide
}

const ASKS: [&str; 6] = [
    "Hi, I am Mei Kovacs, zip 28236. I want to return the water bottle from my order.",
    "My email is mei.kovacs8232@example.com. Where is my order #W6390527?",
    "Please look up user mei_kovacs_8020 and tell me about the last order.",
    "I want to change the payment method of order #W7800651 to my paypal.",
    "Can you tell me what products you sell? I am looking for a desk lamp.",
    "Return items 8538875209 of order #W6390527 to paypal_7644869, please.",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let spec = args
        .next()
        .unwrap_or_else(|| "embedded:smollm2-135m?max_tokens=48&prefix_cache=on".to_string());
    let rounds: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let (path, config) = match ModelSpec::parse(&spec)? {
        ModelSpec::Embedded { name, config } => {
            (pull(&name, &PullOptions::default()).await?, config)
        }
        ModelSpec::Gguf { path, config } => (path, config),
        _ => return Err("bench_decoding needs an embedded: or gguf: spec".into()),
    };
    let load_spec = spec.clone();
    let model = tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, config, load_spec))
        .await??;
    let tools = retail_tools()?;
    let guide = guide(&tools);
    let schema_rules = tool_call_grammar(&tools)?.text.lines().count();
    let guided_rules = guided_grammar(&tools, Some(&guide))?.text.lines().count();
    println!(
        "model: {spec}; {} tools; grammar rules: schema {schema_rules}, guided {guided_rules}",
        tools.len()
    );
    let modes: [(&str, bool, Option<&DecodingGuide>); 3] = [
        ("unconstrained", false, None),
        ("schema-only", true, None),
        ("guided", true, Some(&guide)),
    ];
    let mut totals = [(0.0f64, 0usize, 0usize, 0usize, 0usize); 3];
    for round in 0..rounds {
        for (i, ask) in ASKS.iter().enumerate() {
            for (m, (name, constrain, g)) in modes.iter().enumerate() {
                let request = ChatRequest {
                    messages: vec![
                        Message::system("You are a retail customer service agent. Use the tools."),
                        Message::user(*ask),
                    ],
                    tools: tools.clone(),
                    constrain_tool_calls: *constrain,
                    seed: Some(round as u64),
                    session: Some(format!("{name}-{round}-{i}")),
                    guide: g.cloned(),
                };
                let (_, stats) = model.chat_with_stats(&request).await?;
                // Ended sessions lend their prefix (system text and tools) to
                // the next one with `prefix_cache=on`.
                model.end_session(&format!("{name}-{round}-{i}"));
                let t = &mut totals[m];
                t.0 += stats.generate_ms;
                t.1 += stats.generated_tokens;
                t.2 += stats.grammar_fast_path;
                t.3 += stats.grammar_top_mask;
                t.4 += stats.grammar_full_mask;
            }
        }
    }
    let per_token = |t: &(f64, usize, usize, usize, usize)| t.0 / (t.1.max(1) as f64);
    let base = per_token(&totals[0]);
    println!(
        "{:<14} {:>10} {:>12} {:>10} {:>24}",
        "mode", "tokens", "ms/token", "speed", "grammar fast/top/full"
    );
    for ((name, ..), t) in modes.iter().zip(&totals) {
        println!(
            "{name:<14} {:>10} {:>12.3} {:>9.0}% {:>16}/{}/{}",
            t.1,
            per_token(t),
            100.0 * base / per_token(t),
            t.2,
            t.3,
            t.4
        );
    }
    Ok(())
}
