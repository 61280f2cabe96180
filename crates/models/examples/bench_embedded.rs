//! Benchmarks the embedded backend: prompt and generation tokens per second
//! and peak RSS on a ~1.5k-token prompt, and the tokens evaluated per turn of
//! one session (the second turn should evaluate only its new tokens).
//!
//! ```text
//! cargo run --release -p lifeharness-models --example bench_embedded [-- SPEC]
//! ```
//! SPEC defaults to `embedded:smollm2-135m` (`gguf:/path.gguf` also works).

use std::error::Error;

use lifeharness_core::{ChatRequest, Message, ToolSpec};
use lifeharness_models::pull::{PullOptions, pull};
use lifeharness_models::spec::ModelSpec;
use lifeharness_models::{EmbeddedModel, TurnStats};
use serde_json::json;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn tools() -> Vec<ToolSpec> {
    let names = [
        (
            "get_order_details",
            "Get the status and details of an order by its id, such as '#W0000000'.",
        ),
        (
            "get_user_details",
            "Get the details of a user, including their orders, by user id.",
        ),
        ("find_user_id_by_email", "Find a user id by email address."),
        (
            "cancel_pending_order",
            "Cancel a pending order. The reason must be 'no longer needed' or 'ordered by mistake'.",
        ),
        (
            "return_delivered_order_items",
            "Return some items of a delivered order to the original payment method or a gift card.",
        ),
        (
            "exchange_delivered_order_items",
            "Exchange items of a delivered order for new items of the same product.",
        ),
        (
            "modify_pending_order_address",
            "Change the shipping address of a pending order.",
        ),
        (
            "transfer_to_human_agents",
            "Transfer the user to a human agent, with a summary of the issue.",
        ),
    ];
    names
        .iter()
        .map(|(name, description)| ToolSpec {
            name: (*name).into(),
            description: (*description).into(),
            parameters: json!({"type":"object","properties":{
                "order_id":{"type":"string","description":"The order id, starting with '#W'."},
                "reason":{"type":"string","enum":["no longer needed","ordered by mistake"]},
                "item_ids":{"type":"array","items":{"type":"string"}},
                "summary":{"type":"string"}},"required":["order_id"]}),
        })
        .collect()
}

fn first_request() -> ChatRequest {
    let policy = "You are a customer service agent for an online retail store. \
        Authenticate the user by email or by name and zip code before acting. \
        Only one user may be helped per conversation. Before any action that changes the database \
        (cancel, modify, return, exchange) list the action details and get an explicit yes. \
        Do not make up information or procedures. Make at most one tool call at a time. "
        .repeat(6);
    ChatRequest {
        messages: vec![
            Message::system(policy),
            Message::user(
                "Hello! My email is noah.brown7922@example.com and I would like to know where my order #W7678072 is.",
            ),
        ],
        tools: tools(),
        constrain_tool_calls: true,
        seed: Some(0),
        session: Some("bench".into()),
        guide: None,
    }
}

fn row(label: &str, stats: &TurnStats) {
    let prompt_tps = stats.evaluated_tokens as f64 / (stats.prompt_ms / 1000.0).max(1e-9);
    let gen_tps = stats.generated_tokens as f64 / (stats.generate_ms / 1000.0).max(1e-9);
    println!(
        "{label:<28} prompt={:>5} reused={:>5} evaluated={:>5} generated={:>4} prompt_tok/s={:>8.1} gen_tok/s={:>7.1} grammar(fast/top/full)={}/{}/{}",
        stats.prompt_tokens,
        stats.reused_tokens,
        stats.evaluated_tokens,
        stats.generated_tokens,
        prompt_tps,
        gen_tps,
        stats.grammar_fast_path,
        stats.grammar_top_mask,
        stats.grammar_full_mask,
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let spec = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "embedded:smollm2-135m".to_string());
    let (path, config) = match ModelSpec::parse(&spec)? {
        ModelSpec::Embedded { name, config } => {
            (pull(&name, &PullOptions::default()).await?, config)
        }
        ModelSpec::Gguf { path, config } => (path, config),
        _ => return Err("bench_embedded needs an embedded: or gguf: spec".into()),
    };
    let rss_before = peak_rss_mib();
    let load_spec = spec.clone();
    let model = tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, config, load_spec))
        .await??;
    println!(
        "model: {spec} ({} params, style {}, n_ctx {})",
        model.meta().n_params,
        model.meta().style.name(),
        model.meta().n_ctx
    );
    println!(
        "peak RSS before load: {rss_before:.1} MiB; after load: {:.1} MiB",
        peak_rss_mib()
    );

    let request = first_request();
    let (turn, stats) = model.chat_with_stats(&request).await?;
    row("turn 1 (cold, constrained)", &stats);
    println!(
        "  -> {:?}",
        turn.tool_calls.first().map(|c| (&c.name, &c.arguments_raw))
    );

    let mut next = request.clone();
    next.messages.push(turn.to_message());
    let id = turn
        .tool_calls
        .first()
        .map_or("call".to_string(), |c| c.id.clone());
    let name = turn
        .tool_calls
        .first()
        .map_or("get_order_details".to_string(), |c| c.name.clone());
    next.messages.push(Message::tool(id, name, r##"{"order_id":"#W7678072","status":"delivered","items":[{"name":"Backpack","price":83.66}]}"##));
    let (turn2, stats2) = model.chat_with_stats(&next).await?;
    row("turn 2 (same session)", &stats2);
    println!(
        "  -> {:?}",
        turn2
            .tool_calls
            .first()
            .map(|c| (&c.name, &c.arguments_raw))
    );

    let mut cold = next.clone();
    cold.session = Some("bench-cold".into());
    let (_, stats3) = model.chat_with_stats(&cold).await?;
    row("turn 2 prompt, new session", &stats3);

    let mut free = request.clone();
    free.constrain_tool_calls = false;
    free.session = Some("bench-free".into());
    let (turn4, stats4) = model.chat_with_stats(&free).await?;
    row("turn 1, unconstrained", &stats4);
    println!(
        "  -> calls={} format_error={:?}",
        turn4.tool_calls.len(),
        turn4.format_error
    );
    println!("peak RSS: {:.1} MiB", peak_rss_mib());
    Ok(())
}
