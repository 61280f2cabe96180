//! The four runtime layers of a harness, each a [`Layer`]:
//!
//! 1. [`ContractLayer`] (before the episode): tool descriptions and schemas
//!    rewritten into an executable contract; pitfalls and ordering in the
//!    system text.
//! 2. [`SkillsLayer`] (task conditioning): BM25-ranked skills, top-K within a
//!    token budget, appended to the system prompt.
//! 3. [`RealizationLayer`] (after the model speaks): format, JSON repair,
//!    unknown tools, schema, contract constraints, ordering and
//!    preconditions; a blocked action gets a targeted correction.
//! 4. [`RegulationLayer`] (after feedback): annotations appended to tool
//!    results; repeats, cycles, error streaks, stagnation and budget warnings
//!    answered with a nudge, then a directive, then a stop.
//!
//! [`build`] makes the stack a compiled harness file switches on, plus the
//! [`ContextLayer`] when the harness sets a context budget.

mod canonical;
mod context;
mod contract;
mod history;
mod realization;
mod regulation;
mod skills;

use std::sync::Arc;

use lifeharness_core::Layer;
use lifeharness_rules::CompiledHarness;

pub use canonical::canonical_json;
pub use context::ContextLayer;
pub use contract::ContractLayer;
pub use realization::{RealizationLayer, repair_json};
pub use regulation::RegulationLayer;
pub use skills::SkillsLayer;

/// The layers `harness` switches on, in lifecycle order.
pub fn build(harness: &Arc<CompiledHarness>) -> Vec<Arc<dyn Layer>> {
    let switches = &harness.harness.layers;
    let mut layers: Vec<Arc<dyn Layer>> = Vec::new();
    if switches.contract {
        layers.push(Arc::new(ContractLayer::new(Arc::clone(harness))));
    }
    if switches.skills {
        layers.push(Arc::new(SkillsLayer::new(&harness.harness.skills)));
    }
    if switches.realization {
        layers.push(Arc::new(RealizationLayer::new(Arc::clone(harness))));
    }
    if switches.regulation {
        layers.push(Arc::new(RegulationLayer::new(Arc::clone(harness))));
    }
    if let Some(context) = ContextLayer::new(harness) {
        layers.push(Arc::new(context));
    }
    layers
}
