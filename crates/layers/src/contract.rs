//! Layer 1, the environment contract: C' = C + delta, rendered into the tool
//! specs (descriptions and JSON schemas) and the system text.

use std::sync::Arc;

use lifeharness_core::{
    EpisodeSetup, HookPoint, Layer, LayerError, LayerEvent, ToolSpec, VerdictKind,
};
use lifeharness_rules::CompiledHarness;
use lifeharness_rules::spec::{ArgConstraint, ArgFormat, Grounded, OrderingRule};
use serde_json::{Value, json};

/// Rewrites tool specs and the system text before the episode.
#[derive(Debug)]
pub struct ContractLayer {
    harness: Arc<CompiledHarness>,
}

impl ContractLayer {
    /// The contract of `harness`.
    pub fn new(harness: Arc<CompiledHarness>) -> Self {
        Self { harness }
    }
}

fn setup_event(rule_id: &str, message: String) -> LayerEvent {
    let mut event = LayerEvent::new("contract", HookPoint::BeforeEpisode, VerdictKind::Setup);
    event.rule_id = Some(rule_id.to_string());
    event.message = Some(message);
    event
}

fn describe_constraint(c: &ArgConstraint) -> String {
    let mut parts = Vec::new();
    if let Some(options) = &c.one_of {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        parts.push(format!("be one of {}", list.join(", ")));
    }
    if let Some(p) = &c.pattern {
        parts.push(format!("match {p}"));
    }
    match (c.minimum, c.maximum) {
        (Some(a), Some(b)) => parts.push(format!("be between {a} and {b}")),
        (Some(a), None) => parts.push(format!("be at least {a}")),
        (None, Some(b)) => parts.push(format!("be at most {b}")),
        (None, None) => {}
    }
    match c.format {
        Some(ArgFormat::Email) => parts.push("be an e-mail address".into()),
        Some(ArgFormat::Date) => parts.push("be a date YYYY-MM-DD".into()),
        Some(ArgFormat::NonEmpty) => parts.push("not be empty".into()),
        None => {}
    }
    if c.grounded.is_some() {
        parts.push("be a value given in the task or an earlier result".into());
    }
    let subject = match c.arg.strip_suffix("[]") {
        Some(name) => format!("every item of '{name}'"),
        None => format!("'{}'", c.arg),
    };
    format!("{subject} must {}", parts.join(" and "))
}

fn describe_ordering(o: &OrderingRule) -> String {
    let after: Vec<String> = o.after.iter().map(|a| format!("'{a}'")).collect();
    let same = o
        .same_arg
        .as_ref()
        .map(|a| format!(" for the same '{a}'"))
        .unwrap_or_default();
    format!("call only after a successful {}{same}", after.join(" or "))
}

fn constrain_schema(tool: &mut ToolSpec, c: &ArgConstraint) {
    let (name, each) = match c.arg.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (c.arg.as_str(), false),
    };
    let Some(property) = tool.parameters.pointer_mut(&format!("/properties/{name}")) else {
        return;
    };
    let target = if each {
        match property.get_mut("items") {
            Some(items) => items,
            None => return,
        }
    } else {
        property
    };
    let Some(object) = target.as_object_mut() else {
        return;
    };
    if let Some(options) = &c.one_of {
        object.insert("enum".into(), json!(options));
    }
    if let Some(p) = &c.pattern {
        object.insert("pattern".into(), json!(p));
    }
    if let Some(min) = c.minimum {
        object.insert("minimum".into(), json!(min));
    }
    if let Some(max) = c.maximum {
        object.insert("maximum".into(), json!(max));
    }
}

impl Layer for ContractLayer {
    fn name(&self) -> &str {
        "contract"
    }

    fn before_episode(&self, setup: &mut EpisodeSetup) -> Result<Vec<LayerEvent>, LayerError> {
        let spec = &self.harness.harness.contract;
        let mut events = Vec::new();
        for tool in &mut setup.tools {
            let mut lines = Vec::new();
            for note in spec.tools.iter().filter(|n| n.tool == tool.name) {
                lines.push(note.append.trim().to_string());
                events.push(setup_event(&note.id, format!("described {}", tool.name)));
            }
            let mut rules = Vec::new();
            let name = tool.name.clone();
            for c in spec.constraints.iter().filter(|c| c.tool == name) {
                // Decoding-only constraints shape the grammar, not the schema
                // realization validates against.
                if c.grounded != Some(Grounded::Decode) {
                    constrain_schema(tool, c);
                }
                rules.push(describe_constraint(c));
                events.push(setup_event(
                    &c.id,
                    format!("constrained {}.{}", tool.name, c.arg),
                ));
            }
            for o in spec
                .ordering
                .iter()
                .filter(|o| o.tools.contains(&tool.name))
            {
                rules.push(describe_ordering(o));
                events.push(setup_event(&o.id, format!("ordered {}", tool.name)));
            }
            if !rules.is_empty() {
                lines.push(format!("Contract: {}.", rules.join("; ")));
            }
            if !lines.is_empty() {
                tool.description =
                    format!("{}\n\n{}", tool.description.trim_end(), lines.join("\n"));
            }
        }
        let mut system = Vec::new();
        if !spec.system_append.trim().is_empty() {
            system.push(spec.system_append.trim().to_string());
        }
        if !spec.pitfalls.is_empty() {
            let list: Vec<String> = spec
                .pitfalls
                .iter()
                .map(|p| format!("- {}", p.text.trim()))
                .collect();
            system.push(format!("Pitfalls to avoid:\n{}", list.join("\n")));
            for p in &spec.pitfalls {
                events.push(setup_event(
                    &p.id,
                    "pitfall added to the system text".into(),
                ));
            }
        }
        if !system.is_empty() {
            setup.system_text = format!(
                "{}\n\n## Contract\n{}",
                setup.system_text.trim_end(),
                system.join("\n\n")
            );
        }
        Ok(events)
    }
}
