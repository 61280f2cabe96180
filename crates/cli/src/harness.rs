//! `lifeharness harness`: schema, validate, show.

use std::collections::BTreeMap;

use anyhow::Result;
use lifeharness_rules::Harness;
use serde_json::{Value, json};

use crate::cli::HarnessCommand;

/// Runs `lifeharness harness ...`.
pub fn harness(command: HarnessCommand) -> Result<()> {
    match command {
        HarnessCommand::Schema => {
            println!("{}", serde_json::to_string_pretty(&Harness::json_schema())?);
        }
        HarnessCommand::Validate { file } => {
            // Exactly what loading for a run does: parse, compile every rule,
            // check every example.
            let compiled = Harness::load_compiled(&file)?;
            println!(
                "ok: {} ({}) id {}: {} rules compiled, {} examples checked",
                file.display(),
                compiled.harness.name,
                compiled.harness.content_hash(),
                compiled.rule_count(),
                compiled.example_count()
            );
        }
        HarnessCommand::Diff { old, new, json } => {
            let a = Harness::load_compiled(&old)?.harness;
            let b = Harness::load_compiled(&new)?.harness;
            let report = diff(&a.canonical_json(), &b.canonical_json());
            let out = json!({
                "old": {"file": old.display().to_string(), "id": a.content_hash()},
                "new": {"file": new.display().to_string(), "id": b.content_hash()},
                "changes": report,
            });
            if json {
                println!("{out}");
            } else {
                println!("--- {} ({})", old.display(), &a.content_hash()[..12]);
                println!("+++ {} ({})", new.display(), &b.content_hash()[..12]);
                if report.is_empty() {
                    println!("no changes");
                }
                for change in &report {
                    let path = change["path"].as_str().unwrap_or_default();
                    match change["change"].as_str() {
                        Some("added") => println!("+ {path}: {}", change["new"]),
                        Some("removed") => println!("- {path}: {}", change["old"]),
                        _ => println!("~ {path}: {} -> {}", change["old"], change["new"]),
                    }
                }
            }
        }
        HarnessCommand::Show { file } => {
            let harness = Harness::load_compiled(&file)?.harness;
            println!("# id {}", harness.content_hash());
            if let Some(l) = &harness.lineage {
                println!(
                    "# evolved by {} from {} ({}) on {} split '{}' with {} (last change in round {})",
                    l.evolution,
                    l.parent_name,
                    lifeharness_diagnose::audit::short_id(&l.parent),
                    l.environment,
                    l.split,
                    l.source_model,
                    l.round
                );
            }
            // Evolved rules by the failure category they target.
            let mut by_category: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (id, p) in &harness.provenance {
                by_category
                    .entry(p.category.as_str())
                    .or_default()
                    .push(format!(
                        "{id} (fired {} time(s) on the last evaluation; round {}, {} {})",
                        p.fired, p.round, p.source, p.by
                    ));
            }
            for (category, rules) in &by_category {
                println!("# {category}:");
                for rule in rules {
                    println!("#   {rule}");
                }
            }
            print!("{}", harness.to_toml()?);
        }
    }
    Ok(())
}

/// Rule lists are compared by rule id; everything else field by field.
fn keyed(list: &[Value]) -> Option<BTreeMap<String, &Value>> {
    list.iter()
        .map(|item| Some((item.get("id")?.as_str()?.to_string(), item)))
        .collect()
}

fn diff(old: &Value, new: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<Value>) {
    if old == new {
        return;
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, va) in a {
                match b.get(key) {
                    Some(vb) => walk(&join(key), va, vb, out),
                    None => out.push(json!({"path": join(key), "change": "removed", "old": va})),
                }
            }
            for (key, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                out.push(json!({"path": join(key), "change": "added", "new": vb}));
            }
        }
        (Value::Array(a), Value::Array(b)) => match (keyed(a), keyed(b)) {
            (Some(ka), Some(kb)) => {
                for (id, va) in &ka {
                    let here = format!("{path}[{id}]");
                    match kb.get(id) {
                        Some(vb) => walk(&here, va, vb, out),
                        None => out.push(json!({"path": here, "change": "removed", "old": va})),
                    }
                }
                for (id, vb) in kb.iter().filter(|(id, _)| !ka.contains_key(*id)) {
                    out.push(
                        json!({"path": format!("{path}[{id}]"), "change": "added", "new": vb}),
                    );
                }
            }
            _ => out.push(json!({"path": path, "change": "changed", "old": old, "new": new})),
        },
        _ => out.push(json!({"path": path, "change": "changed", "old": old, "new": new})),
    }
}
