//! JSON-schema checks of tool arguments with targeted corrections: missing,
//! extra (with the closest expected name), and wrongly typed arguments.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use lifeharness_core::ToolSpec;
use serde_json::Value;

/// The closest of `candidates` to `name`, if close enough.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn expected(schema: &Value) -> String {
    let kind = schema.get("type").map(|t| match t {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let mut text = kind.unwrap_or_else(|| "value".into());
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        let short: String = description.chars().take(80).collect();
        text.push_str(&format!(": {short}"));
    }
    text
}

/// Compiled validators, one per tool schema seen.
#[derive(Default)]
pub(crate) struct SchemaCache {
    validators: RwLock<HashMap<String, (Value, Arc<Validator>)>>,
}

impl SchemaCache {
    fn validator(&self, tool: &ToolSpec) -> Result<Arc<Validator>, String> {
        if let Ok(map) = self.validators.read()
            && let Some((schema, v)) = map.get(&tool.name)
            && *schema == tool.parameters
        {
            return Ok(Arc::clone(v));
        }
        let validator = jsonschema::validator_for(&tool.parameters)
            .map_err(|e| format!("the schema of '{}' does not compile: {e}", tool.name))?;
        let validator = Arc::new(validator);
        if let Ok(mut map) = self.validators.write() {
            map.insert(
                tool.name.clone(),
                (tool.parameters.clone(), Arc::clone(&validator)),
            );
        }
        Ok(validator)
    }

    /// The problems of `args` for `tool`, as correction lines (empty when valid).
    pub(crate) fn problems(&self, tool: &ToolSpec, args: &Value) -> Result<Vec<String>, String> {
        let name = &tool.name;
        let Some(given) = args.as_object() else {
            return Ok(vec![format!(
                "The arguments of '{name}' must be a JSON object, not {}.",
                type_name(args)
            )]);
        };
        let properties = tool.parameters.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = tool
            .parameters
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut lines = Vec::new();
        if let Some(properties) = properties {
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|r| !given.contains_key(*r))
                .collect();
            let extra: Vec<&String> = given
                .keys()
                .filter(|k| !properties.contains_key(k.as_str()))
                .collect();
            for key in &extra {
                // One unexpected name and one missing required name: that is the
                // misspelling, however little the two look alike.
                let paired = (extra.len() == 1 && missing.len() == 1).then(|| missing[0]);
                let candidates = missing
                    .iter()
                    .copied()
                    .chain(properties.keys().map(String::as_str));
                match paired.or_else(|| closest(key, candidates)) {
                    Some(right) => lines.push(format!("'{name}' expects '{right}', not '{key}'.")),
                    None => {
                        let names: Vec<&str> = properties.keys().map(String::as_str).collect();
                        lines.push(format!(
                            "'{name}' has no argument '{key}'. Its arguments are: {}.",
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ));
                    }
                }
            }
            for m in &missing {
                let renamed = lines.iter().any(|l| l.contains(&format!("expects '{m}'")));
                if !renamed {
                    let schema = properties.get(*m).cloned().unwrap_or(Value::Null);
                    lines.push(format!(
                        "'{name}' needs the argument '{m}' ({}).",
                        expected(&schema)
                    ));
                }
            }
        }
        if !lines.is_empty() {
            return Ok(lines);
        }
        let validator = self.validator(tool)?;
        if validator.is_valid(args) {
            return Ok(lines);
        }
        for error in validator.iter_errors(args).take(3) {
            let path = error.instance_path().to_string();
            let arg = path.trim_start_matches('/').replace('/', ".");
            let subject = if arg.is_empty() {
                format!("The arguments of '{name}'")
            } else {
                format!("'{name}' argument '{arg}'")
            };
            let got = args.pointer(&path).cloned().unwrap_or(Value::Null);
            let line = match error.kind() {
                ValidationErrorKind::Type { .. } => {
                    let schema_path = format!(
                        "/properties/{}",
                        path.trim_start_matches('/').replace('/', "/properties/")
                    );
                    let want = tool
                        .parameters
                        .pointer(&schema_path)
                        .map(expected)
                        .unwrap_or_else(|| "another type".into());
                    format!("{subject} must be {want}, not {} ({got}).", type_name(&got))
                }
                ValidationErrorKind::Enum { options } => {
                    format!("{subject} must be one of {options} (got {got}).")
                }
                ValidationErrorKind::Required { property } => {
                    format!("'{name}' needs the argument {property}.")
                }
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    format!(
                        "{subject} has unexpected fields: {}.",
                        unexpected.join(", ")
                    )
                }
                _ => format!("{subject}: {error}."),
            };
            lines.push(line);
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool() -> ToolSpec {
        ToolSpec {
            name: "get_price".into(),
            description: String::new(),
            parameters: json!({"type": "object", "properties": {
                "product_id": {"type": "string", "description": "The product id."},
                "quantity": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}}
            }, "required": ["product_id"]}),
        }
    }

    #[test]
    fn targeted_messages() {
        let cache = SchemaCache::default();
        let t = tool();
        let p = |args: Value| cache.problems(&t, &args).unwrap();
        assert_eq!(
            p(json!({"item_id": "x"})),
            vec!["'get_price' expects 'product_id', not 'item_id'."]
        );
        assert_eq!(
            p(json!({})),
            vec!["'get_price' needs the argument 'product_id' (string: The product id.)."]
        );
        assert_eq!(
            p(json!({"product_id": "x", "colour": 1})),
            vec![
                "'get_price' has no argument 'colour'. Its arguments are: product_id, quantity, tags."
            ]
        );
        assert_eq!(
            p(json!({"product_id": 5})),
            vec![
                "'get_price' argument 'product_id' must be string: The product id., not a number (5)."
            ]
        );
        assert_eq!(p(json!({"product_id": "x", "tags": [1]})).len(), 1);
        assert!(p(json!({"product_id": "x", "quantity": 2})).is_empty());
        assert_eq!(
            p(json!([1])),
            vec!["The arguments of 'get_price' must be a JSON object, not a list."]
        );
    }
}
