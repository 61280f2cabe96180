//! GBNF grammars for schema-constrained tool calls.
//!
//! [`tool_call_grammar`] turns the offered tools' JSON schemas into a llama.cpp
//! GBNF grammar whose sentences are exactly the compact JSON actions
//! `{"name":"<tool>","arguments":{...}}` of the text-mode protocol: a valid
//! call of one of the tools, with enums, required fields, no extra fields, and
//! string patterns where they convert. Unsupported schema parts widen to any
//! JSON value and leave a note. [`validate`] checks a grammar's syntax before
//! it is handed to C++.

mod pattern;
mod validate;

use std::collections::HashMap;

use lifeharness_core::{DecodingGuide, ToolSpec};
use serde_json::Value;

pub use validate::validate;

/// Deeper schemas than this widen to any JSON value.
const MAX_DEPTH: usize = 12;

/// The most characters of a string without a schema `maxLength`.
const STRING_CAP: u64 = 160;

/// A built grammar and what it could not express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grammar {
    /// The GBNF text; its start rule is `root`.
    pub text: String,
    /// Schema features that were widened (not enforced).
    pub notes: Vec<String>,
}

/// Generic JSON rules, added on first use.
const GENERIC: &[(&str, &str)] = &[
    ("value", "object | array | string | number | boolean | null"),
    (
        "object",
        "\"{\" ( string \":\" value ( \",\" string \":\" value )* )? \"}\"",
    ),
    ("array", "\"[\" ( value ( \",\" value )* )? \"]\""),
    // Strings without a schema maxLength are capped: a weak model under the
    // grammar otherwise never closes a quote and runs out of tokens.
    ("string", "\"\\\"\" char{0,160} \"\\\"\""),
    (
        "char",
        "[^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )",
    ),
    ("number", "integer ( \".\" [0-9]+ )? ( [eE] [-+]? [0-9]+ )?"),
    ("integer", "\"-\"? ( \"0\" | [1-9] [0-9]{0,15} )"),
    ("boolean", "\"true\" | \"false\""),
    ("null", "\"null\""),
];

/// The dependencies among the generic rules.
fn generic_deps(name: &str) -> &'static [&'static str] {
    match name {
        "value" => &["object", "array", "string", "number", "boolean", "null"],
        "object" => &["string", "value"],
        "array" => &["value"],
        "string" => &["char"],
        "number" => &["integer"],
        _ => &[],
    }
}

/// Quotes `text` as a GBNF string literal.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A GBNF rule name made from free text.
fn rule_name(hint: &str) -> String {
    let cleaned: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    if trimmed.is_empty() {
        "r".to_string()
    } else {
        trimmed.to_string()
    }
}

struct Builder<'a> {
    rules: Vec<(String, String)>,
    by_body: HashMap<String, String>,
    generic: Vec<&'static str>,
    refs: HashMap<String, String>,
    notes: Vec<String>,
    root: &'a Value,
}

impl<'a> Builder<'a> {
    fn new(root: &'a Value) -> Self {
        Self {
            rules: Vec::new(),
            by_body: HashMap::new(),
            generic: Vec::new(),
            refs: HashMap::new(),
            notes: Vec::new(),
            root,
        }
    }

    fn unique(&self, hint: &str) -> String {
        let base = rule_name(hint);
        let taken = |n: &str| {
            self.rules.iter().any(|(r, _)| r == n)
                || GENERIC.iter().any(|(g, _)| *g == n)
                || n == "root"
        };
        if !taken(&base) {
            return base;
        }
        (2..)
            .map(|i| format!("{base}-{i}"))
            .find(|n| !taken(n))
            .unwrap_or(base)
    }

    fn add(&mut self, hint: &str, body: String) -> String {
        if let Some(name) = self.by_body.get(&body) {
            return name.clone();
        }
        let name = self.unique(hint);
        self.by_body.insert(body.clone(), name.clone());
        self.rules.push((name.clone(), body));
        name
    }

    fn use_generic(&mut self, name: &'static str) -> String {
        if !self.generic.contains(&name) {
            self.generic.push(name);
            for dep in generic_deps(name) {
                self.use_generic(dep);
            }
        }
        name.to_string()
    }

    fn note(&mut self, hint: &str, what: String) {
        self.notes.push(format!("{hint}: {what}"));
    }

    fn value(&mut self, schema: &Value, hint: &str, depth: usize) -> String {
        if depth > MAX_DEPTH {
            self.note(
                hint,
                "schema nested too deeply; any JSON value accepted".into(),
            );
            return self.use_generic("value");
        }
        let Some(obj) = schema.as_object() else {
            if schema.as_bool() == Some(false) {
                self.note(
                    hint,
                    "schema 'false' cannot be satisfied; any JSON value accepted".into(),
                );
            }
            return self.use_generic("value");
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            return self.reference(reference, hint, depth);
        }
        if let Some(constant) = obj.get("const") {
            return literal(&constant.to_string());
        }
        if let Some(options) = obj.get("enum").and_then(Value::as_array) {
            if options.is_empty() {
                self.note(hint, "empty enum; any JSON value accepted".into());
                return self.use_generic("value");
            }
            let alts: Vec<String> = options.iter().map(|v| literal(&v.to_string())).collect();
            return self.add(hint, alts.join(" | "));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = obj.get(key).and_then(Value::as_array) {
                let alts: Vec<String> = options
                    .iter()
                    .enumerate()
                    .map(|(i, sub)| self.value(sub, &format!("{hint}-{i}"), depth + 1))
                    .collect();
                if alts.is_empty() {
                    return self.use_generic("value");
                }
                return self.add(hint, alts.join(" | "));
            }
        }
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            if let [single] = all.as_slice() {
                return self.value(single, hint, depth + 1);
            }
            self.note(hint, "allOf with several schemas is not enforced".into());
            return self.use_generic("value");
        }
        match obj.get("type") {
            Some(Value::String(kind)) => self.typed(kind, obj, hint, depth),
            Some(Value::Array(kinds)) => {
                let alts: Vec<String> = kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|kind| self.typed(kind, obj, &format!("{hint}-{kind}"), depth))
                    .collect();
                if alts.is_empty() {
                    return self.use_generic("value");
                }
                self.add(hint, alts.join(" | "))
            }
            _ if obj.contains_key("properties") => self.typed("object", obj, hint, depth),
            _ if obj.contains_key("items") => self.typed("array", obj, hint, depth),
            _ => self.use_generic("value"),
        }
    }

    fn reference(&mut self, reference: &str, hint: &str, depth: usize) -> String {
        if let Some(name) = self.refs.get(reference) {
            return name.clone();
        }
        let target = reference
            .strip_prefix('#')
            .and_then(|pointer| self.root.pointer(pointer));
        let Some(target) = target else {
            self.note(
                hint,
                format!("unresolved $ref '{reference}'; any JSON value accepted"),
            );
            return self.use_generic("value");
        };
        let name = self.unique(&format!(
            "ref-{}",
            reference.rsplit('/').next().unwrap_or("x")
        ));
        self.refs.insert(reference.to_string(), name.clone());
        self.rules.push((name.clone(), String::new()));
        let body = self.value(target, &format!("{name}-body"), depth + 1);
        if let Some(rule) = self.rules.iter_mut().find(|(n, _)| *n == name) {
            rule.1 = body;
        }
        name
    }

    fn typed(
        &mut self,
        kind: &str,
        obj: &serde_json::Map<String, Value>,
        hint: &str,
        depth: usize,
    ) -> String {
        match kind {
            "string" => self.string(obj, hint),
            "integer" => {
                if obj.contains_key("minimum") || obj.contains_key("maximum") {
                    self.note(hint, "integer bounds are not enforced".into());
                }
                self.use_generic("integer")
            }
            "number" => self.use_generic("number"),
            "boolean" => self.use_generic("boolean"),
            "null" => self.use_generic("null"),
            "array" => self.array(obj, hint, depth),
            "object" => self.object(obj, hint, depth),
            other => {
                self.note(
                    hint,
                    format!("unknown type '{other}'; any JSON value accepted"),
                );
                self.use_generic("value")
            }
        }
    }

    fn string(&mut self, obj: &serde_json::Map<String, Value>, hint: &str) -> String {
        if let Some(pat) = obj.get("pattern").and_then(Value::as_str) {
            match pattern::to_gbnf(pat) {
                Some(body) => return self.add(hint, format!("\"\\\"\" {body} \"\\\"\"")),
                None => self.note(hint, format!("pattern '{pat}' is not enforced")),
            }
        }
        if obj.contains_key("format") {
            self.note(hint, "string format is not enforced".into());
        }
        let min = obj.get("minLength").and_then(Value::as_u64);
        let max = obj.get("maxLength").and_then(Value::as_u64);
        if min.is_none() && max.is_none() {
            return self.use_generic("string");
        }
        self.use_generic("char");
        let reps = match (min.unwrap_or(0), max) {
            (lo, Some(hi)) => format!("{{{lo},{hi}}}"),
            // Capped like any string without a maxLength (see GENERIC).
            (lo, None) => format!("{{{lo},{}}}", lo.max(STRING_CAP)),
        };
        self.add(hint, format!("\"\\\"\" char{reps} \"\\\"\""))
    }

    fn array(&mut self, obj: &serde_json::Map<String, Value>, hint: &str, depth: usize) -> String {
        let item = match obj.get("items") {
            Some(items) => self.value(items, &format!("{hint}-item"), depth + 1),
            None => self.use_generic("value"),
        };
        let min = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let max = obj.get("maxItems").and_then(Value::as_u64);
        let rest = |lo: u64| match max {
            Some(hi) => format!("{{{lo},{}}}", hi.saturating_sub(1)),
            None => format!("{{{lo},}}"),
        };
        let body = match (min, max) {
            (_, Some(0)) => "\"[]\"".to_string(),
            (0, None) => format!("\"[\" ( {item} ( \",\" {item} )* )? \"]\""),
            (0, Some(_)) => format!("\"[\" ( {item} ( \",\" {item} ){} )? \"]\"", rest(0)),
            (lo, _) => format!("\"[\" {item} ( \",\" {item} ){} \"]\"", rest(lo - 1)),
        };
        self.add(hint, body)
    }

    fn object(&mut self, obj: &serde_json::Map<String, Value>, hint: &str, depth: usize) -> String {
        let Some(props) = obj.get("properties").and_then(Value::as_object) else {
            if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
                return literal("{}");
            }
            return self.use_generic("object");
        };
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in &required {
            if !props.contains_key(*name) {
                self.note(
                    hint,
                    format!("required field '{name}' has no schema; it is not enforced"),
                );
            }
        }
        let mut req = Vec::new();
        let mut opt = Vec::new();
        for (key, sub) in props {
            let value = self.value(sub, &format!("{hint}-{key}"), depth + 1);
            let key_json = serde_json::to_string(key).unwrap_or_default();
            let kv = format!("{} {value}", literal(&format!("{key_json}:")));
            if required.contains(&key.as_str()) {
                req.push(kv);
            } else {
                opt.push(kv);
            }
        }
        let mut body = String::from("\"{\"");
        if req.is_empty() {
            if !opt.is_empty() {
                let alts: Vec<String> = (0..opt.len())
                    .map(|i| {
                        let mut seq = opt[i].clone();
                        for later in &opt[i + 1..] {
                            seq.push_str(&format!(" ( \",\" {later} )?"));
                        }
                        seq
                    })
                    .collect();
                body.push_str(&format!(" ( {} )?", alts.join(" | ")));
            }
        } else {
            body.push(' ');
            body.push_str(&req.join(" \",\" "));
            for later in &opt {
                body.push_str(&format!(" ( \",\" {later} )?"));
            }
        }
        body.push_str(" \"}\"");
        self.add(hint, body)
    }

    fn finish(self, root_body: String) -> Grammar {
        let mut text = format!("root ::= {root_body}\n");
        for (name, body) in &self.rules {
            text.push_str(&format!("{name} ::= {body}\n"));
        }
        for (name, body) in GENERIC {
            if self.generic.contains(name) {
                text.push_str(&format!("{name} ::= {body}\n"));
            }
        }
        Grammar {
            text,
            notes: self.notes,
        }
    }
}

/// The grammar of one call of any of `tools`, as compact action JSON.
pub fn tool_call_grammar(tools: &[ToolSpec]) -> Result<Grammar, String> {
    if tools.is_empty() {
        return Err("no tools are offered".to_string());
    }
    let mut alts = Vec::new();
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let mut generic = Vec::new();
    let mut names_taken: Vec<String> = Vec::new();
    for tool in tools {
        let mut builder = Builder::new(&tool.parameters);
        builder.rules = std::mem::take(&mut rules);
        builder.generic = std::mem::take(&mut generic);
        for (name, body) in &builder.rules {
            builder.by_body.insert(body.clone(), name.clone());
        }
        let args = builder.value(&tool.parameters, &format!("{}-args", tool.name), 0);
        let name_json = serde_json::to_string(&tool.name).map_err(|e| e.to_string())?;
        let head = literal(&format!("{{\"name\":{name_json},\"arguments\":"));
        let call = builder.add(
            &format!("call-{}", tool.name),
            format!("{head} {args} \"}}\""),
        );
        if !names_taken.contains(&tool.name) {
            alts.push(call);
            names_taken.push(tool.name.clone());
        }
        notes.extend(
            builder
                .notes
                .drain(..)
                .map(|n| format!("{}: {n}", tool.name)),
        );
        rules = builder.rules;
        generic = builder.generic;
    }
    let empty = Value::Null;
    let mut builder = Builder::new(&empty);
    builder.rules = rules;
    builder.generic = generic;
    let mut grammar = builder.finish(alts.join(" | "));
    grammar.notes = notes;
    validate(&grammar.text)?;
    Ok(grammar)
}

/// Applies `guide`'s fragments to a copy of `tool`'s schema. `None` when a
/// required argument has no admissible value now (the tool cannot be called
/// validly this turn).
fn guided_tool(
    tool: &ToolSpec,
    guide: &DecodingGuide,
    notes: &mut Vec<String>,
) -> Option<ToolSpec> {
    let mut tool = tool.clone();
    for fragment in guide.args.iter().filter(|a| a.tool == tool.name) {
        let (name, each) = match fragment.arg.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (fragment.arg.as_str(), false),
        };
        let required = tool
            .parameters
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|v| v.as_str() == Some(name)));
        let Some(Value::Object(fields)) = fragment
            .schema
            .as_object()
            .map(|o| Value::Object(o.clone()))
        else {
            continue;
        };
        let no_value = fields
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        if no_value && required && !each {
            notes.push(format!(
                "{}: left out, no admissible value for '{name}' yet ({})",
                tool.name, fragment.rule_id
            ));
            return None;
        }
        let Some(properties) = tool
            .parameters
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if no_value && !each {
            properties.remove(name);
            continue;
        }
        let Some(property) = properties.get_mut(name) else {
            continue;
        };
        let target = if each {
            match property.get_mut("items") {
                Some(items) => items,
                None => continue,
            }
        } else {
            property
        };
        let Some(target) = target.as_object_mut() else {
            continue;
        };
        let kind = target
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_string);
        for (key, value) in fields {
            let fits = match key.as_str() {
                "minLength" | "pattern" => kind.as_deref().is_none_or(|k| k == "string"),
                "minItems" => kind.as_deref() == Some("array"),
                _ => true,
            };
            if !fits {
                continue;
            }
            if key == "enum" && value.as_array().is_some_and(Vec::is_empty) {
                // Every item is ungrounded: a list of items can only be empty.
                notes.push(format!(
                    "{}.{name}: no admissible item yet ({})",
                    tool.name, fragment.rule_id
                ));
            }
            target.insert(key, value);
        }
    }
    Some(tool)
}

/// The tools `guide` allows now, with its schema fragments applied (for
/// backends that take JSON schemas rather than grammars), and notes on what
/// was left out.
pub fn guided_tools(tools: &[ToolSpec], guide: &DecodingGuide) -> (Vec<ToolSpec>, Vec<String>) {
    let mut notes = Vec::new();
    let chosen = tools
        .iter()
        .filter(|t| guide.allows(&t.name))
        .filter_map(|t| guided_tool(t, guide, &mut notes))
        .collect();
    (chosen, notes)
}

/// The grammar of one action under `guide`: the admissible commands when it
/// lists them; otherwise a call of one of the tools it allows, with its
/// schema fragments applied. With no guide (or one that would allow
/// nothing), the same as [`tool_call_grammar`].
pub fn guided_grammar(
    tools: &[ToolSpec],
    guide: Option<&DecodingGuide>,
) -> Result<Grammar, String> {
    let Some(guide) = guide.filter(|g| !g.is_empty()) else {
        return tool_call_grammar(tools);
    };
    if let Some(texts) = guide.texts.as_ref().filter(|t| !t.is_empty()) {
        let mut alts: Vec<String> = Vec::new();
        for text in texts {
            let quoted = literal(text);
            if !alts.contains(&quoted) {
                alts.push(quoted);
            }
        }
        let text = format!("root ::= {}\n", alts.join(" | "));
        validate(&text)?;
        return Ok(Grammar {
            text,
            notes: Vec::new(),
        });
    }
    let (chosen, notes) = guided_tools(tools, guide);
    if chosen.is_empty() {
        let mut grammar = tool_call_grammar(tools)?;
        grammar
            .notes
            .push("the guide allows no tool now; schema-only grammar".to_string());
        grammar.notes.extend(notes);
        return Ok(grammar);
    }
    let mut grammar = tool_call_grammar(&chosen)?;
    grammar.notes.extend(notes);
    Ok(grammar)
}

#[cfg(test)]
mod tests;
