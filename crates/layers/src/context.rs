//! The context budget: not one of the four layers, but a harness setting
//! the runtime applies before every model turn (see `ContextPolicy`).

use lifeharness_core::{ContextBudget, ContextPolicy, Layer};
use lifeharness_rules::CompiledHarness;
use lifeharness_rules::spec::BudgetSetting;

/// Asks the runtime to keep prompts inside the model's window.
#[derive(Debug, Clone)]
pub struct ContextLayer {
    policy: ContextPolicy,
}

impl ContextLayer {
    /// The budget `harness` sets, if it sets one.
    pub fn new(harness: &CompiledHarness) -> Option<Self> {
        let spec = &harness.harness.context;
        let budget = match spec.budget {
            BudgetSetting::Off => return None,
            BudgetSetting::Auto => ContextBudget::Auto,
            BudgetSetting::Tokens(n) => ContextBudget::Tokens(n),
        };
        let mut keep_fields = spec.keep_fields.clone();
        for field in harness.referenced_fields() {
            if !keep_fields.contains(&field) {
                keep_fields.push(field);
            }
        }
        Some(Self {
            policy: ContextPolicy {
                budget,
                keep_last_turns: spec.keep_last_turns,
                keep_fields,
            },
        })
    }
}

impl Layer for ContextLayer {
    fn name(&self) -> &str {
        "context"
    }

    fn context_policy(&self) -> Option<ContextPolicy> {
        Some(self.policy.clone())
    }
}
