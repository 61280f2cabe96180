//! Prints the speed figures (medians, ms) and resident memory per episode
//! with 1,000 concurrent episodes, for retail and airline, as JSON.
//!
//! Run: `cargo run --release -p lifeharness-env-tau2 --example tau2_bench`.

use lifeharness_env_tau2::bench::{measure, memory_per_episode};
use lifeharness_env_tau2::{Tau2Factory, UserMode};

fn main() {
    let mut out = serde_json::Map::new();
    for name in ["tau2-retail", "tau2-airline"] {
        let Ok(factory) = Tau2Factory::by_name(name, UserMode::Ticket) else {
            continue;
        };
        let figures = measure(&factory, 5);
        let memory = memory_per_episode(&factory, 1000);
        out.insert(
            name.to_string(),
            serde_json::json!({"figures": figures, "rss_bytes_per_episode_1000_concurrent": memory}),
        );
    }
    println!("{}", serde_json::Value::Object(out));
}
