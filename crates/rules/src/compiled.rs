//! A harness file compiled for execution: every expression parsed, every
//! regular expression built, every rule's examples checked.
//!
//! The evaluation of contract constraints, ordering rules, preconditions and
//! annotations lives here so that loading can check each rule against its own
//! examples with exactly the code the layers run.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use cel::Value as CelValue;
use lifeharness_core::decoding::id_like_tokens;
use lifeharness_core::{FailureKind, StateView};
use regex::Regex;
use serde_json::Value;

use crate::expr::{Expr, Functions, Scope, StatePath, Template};
use crate::harness::{Harness, HarnessError};
use crate::lazy::Json;
use crate::spec::{ArgFormat, Expect, Grounded, RuleExample, RuleKind};

/// An earlier executed call, as rules see it (borrowed from the episode's
/// history where it can be).
#[derive(Debug, Clone, PartialEq)]
pub struct PastCall<'a> {
    /// The tool.
    pub tool: Cow<'a, str>,
    /// Its arguments.
    pub args: Cow<'a, Value>,
    /// Whether it succeeded.
    pub ok: bool,
    /// Its result, parsed as JSON when it is JSON, else the text.
    pub result: Value,
}

/// A call to judge.
#[derive(Clone, Copy)]
pub struct CallInput<'a> {
    /// The tool.
    pub tool: &'a str,
    /// The parsed arguments.
    pub args: &'a Value,
    /// The raw argument text.
    pub raw_args: &'a str,
    /// Earlier executed calls.
    pub history: &'a [PastCall<'a>],
    /// The task id.
    pub task_id: &'a str,
    /// The task statement.
    pub instruction: &'a str,
    /// The environment's state, if offered.
    pub state: Option<&'a dyn StateView>,
}

/// A rule that a call breaks.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The rule.
    pub rule_id: String,
    /// The taxonomy label.
    pub kind: FailureKind,
    /// The targeted correction.
    pub message: String,
}

/// A check run against one example: true when the rule fired.
type ExampleCheck<'x> =
    dyn Fn(&CallInput<'_>, &BTreeMap<String, Value>) -> Result<bool, String> + 'x;

struct Binding {
    name: String,
    path: StatePath,
}

struct Constraint {
    id: String,
    tool: String,
    arg: String,
    each: bool,
    one_of: Option<Vec<Value>>,
    pattern: Option<Regex>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    format: Option<ArgFormat>,
    grounded: Option<Grounded>,
    message: Option<Template>,
}

struct Ordering {
    id: String,
    tools: Vec<String>,
    after: Vec<String>,
    same_arg: Option<String>,
    message: Option<Template>,
}

struct Precondition {
    id: String,
    tools: Vec<String>,
    bind: Vec<Binding>,
    when: Option<Expr>,
    require: Expr,
    message: Template,
    kind: FailureKind,
    reads: Reads,
}

struct Annotation {
    id: String,
    tools: Vec<String>,
    bind: Vec<Binding>,
    when: Option<Expr>,
    note: Template,
    reads: Reads,
    /// Whether the rule compares two computed values, so it sees `result`
    /// converted whole rather than lazily (see `crate::lazy`).
    eager_result: bool,
}

/// A harness ready to run.
pub struct CompiledHarness {
    /// The harness as written.
    pub harness: Harness,
    functions: Functions,
    constraints: Vec<Constraint>,
    ordering: Vec<Ordering>,
    preconditions: Vec<Precondition>,
    annotations: Vec<Annotation>,
}

impl std::fmt::Debug for CompiledHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledHarness({})", self.harness.name)
    }
}

fn applies(tools: &[String], tool: &str) -> bool {
    tools.is_empty() || tools.iter().any(|t| t == tool)
}

fn kind_of(kind: RuleKind) -> FailureKind {
    match kind {
        RuleKind::PolicyDenied => FailureKind::PolicyDenied,
        RuleKind::ContractViolation => FailureKind::ContractViolation,
        RuleKind::SchemaViolation => FailureKind::SchemaViolation,
    }
}

fn short(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// Locates rule `id` in the source text for error messages.
fn line_of(source: Option<&str>, id: &str) -> String {
    let Some(source) = source else {
        return String::new();
    };
    let needle = format!("\"{id}\"");
    source
        .lines()
        .position(|l| l.trim_start().starts_with("id") && l.contains(&needle))
        .map(|n| format!(" (line {})", n + 1))
        .unwrap_or_default()
}

impl CompiledHarness {
    /// Compiles `harness`; `source` (the TOML text) lets errors name lines.
    pub fn compile(
        harness: Harness,
        source: Option<&str>,
        origin: &str,
    ) -> Result<Self, HarnessError> {
        let functions = Functions::new().map_err(|m| invalid(origin, m))?;
        let mut ids = std::collections::HashSet::new();
        let mut check_id = |section: &str, id: &str| -> Result<(), HarnessError> {
            if id.trim().is_empty() {
                return Err(invalid(
                    origin,
                    format!("{section}: a rule has an empty id"),
                ));
            }
            if !ids.insert(id.to_string()) {
                return Err(invalid(
                    origin,
                    format!(
                        "{section}: rule id '{id}' is used twice{}",
                        line_of(source, id)
                    ),
                ));
            }
            Ok(())
        };
        let at = |section: &str, index: usize, id: &str, field: &str| {
            format!("{section}[{index}] ('{id}').{field}{}", line_of(source, id))
        };
        let spec = &harness;
        for (i, p) in spec.contract.pitfalls.iter().enumerate() {
            check_id(&format!("contract.pitfalls[{i}]"), &p.id)?;
        }
        for (i, t) in spec.contract.tools.iter().enumerate() {
            check_id(&format!("contract.tools[{i}]"), &t.id)?;
        }
        let mut constraints = Vec::new();
        for (i, c) in spec.contract.constraints.iter().enumerate() {
            check_id("contract.constraints", &c.id)?;
            let here = |field: &str| at("contract.constraints", i, &c.id, field);
            let (arg, each) = match c.arg.strip_suffix("[]") {
                Some(name) => (name.to_string(), true),
                None => (c.arg.clone(), false),
            };
            let pattern = match &c.pattern {
                Some(p) => Some(
                    Regex::new(p)
                        .map_err(|e| invalid(origin, format!("{}: {e}", here("pattern"))))?,
                ),
                None => None,
            };
            let message = compile_template(c.message.as_deref(), &here("message"), origin)?;
            if c.one_of.is_none()
                && pattern.is_none()
                && c.minimum.is_none()
                && c.maximum.is_none()
                && c.format.is_none()
                && c.grounded.is_none()
            {
                return Err(invalid(
                    origin,
                    format!(
                        "{}: the constraint constrains nothing (give enum, pattern, minimum, maximum, format or grounded)",
                        here("arg")
                    ),
                ));
            }
            constraints.push(Constraint {
                id: c.id.clone(),
                tool: c.tool.clone(),
                arg,
                each,
                one_of: c.one_of.clone(),
                pattern,
                minimum: c.minimum,
                maximum: c.maximum,
                format: c.format,
                grounded: c.grounded,
                message,
            });
        }
        let mut ordering = Vec::new();
        for (i, o) in spec.contract.ordering.iter().enumerate() {
            check_id("contract.ordering", &o.id)?;
            let here = |field: &str| at("contract.ordering", i, &o.id, field);
            if o.tools.is_empty() || o.after.is_empty() {
                return Err(invalid(
                    origin,
                    format!("{}: tools and after must both name tools", here("tools")),
                ));
            }
            ordering.push(Ordering {
                id: o.id.clone(),
                tools: o.tools.clone(),
                after: o.after.clone(),
                same_arg: o.same_arg.clone(),
                message: compile_template(o.message.as_deref(), &here("message"), origin)?,
            });
        }
        let mut preconditions = Vec::new();
        for (i, p) in spec.realization.rules.iter().enumerate() {
            check_id("realization.rules", &p.id)?;
            let here = |field: &str| at("realization.rules", i, &p.id, field);
            let bind = compile_bind(&p.bind, &here("bind"), origin)?;
            let when = compile_expr(p.when.as_deref(), &here("when"), origin)?;
            let require = Expr::compile(&p.require)
                .map_err(|m| invalid(origin, format!("{}: {m}", here("require"))))?;
            let message = Template::compile(&p.message)
                .map_err(|m| invalid(origin, format!("{}: {m}", here("message"))))?;
            let reads = Reads::of(|name| {
                require.uses(name)
                    || when.as_ref().is_some_and(|w| w.uses(name))
                    || message.uses(name)
                    || bind.iter().any(|b| b.path.uses(name))
            });
            preconditions.push(Precondition {
                id: p.id.clone(),
                tools: p.tools.clone(),
                bind,
                when,
                require,
                message,
                kind: kind_of(p.kind),
                reads,
            });
        }
        let mut annotations = Vec::new();
        for (i, a) in spec.regulation.annotations.iter().enumerate() {
            check_id("regulation.annotations", &a.id)?;
            let here = |field: &str| at("regulation.annotations", i, &a.id, field);
            let bind = compile_bind(&a.bind, &here("bind"), origin)?;
            let when = compile_expr(a.when.as_deref(), &here("when"), origin)?;
            let note = Template::compile(&a.note)
                .map_err(|m| invalid(origin, format!("{}: {m}", here("note"))))?;
            let reads = Reads::of(|name| {
                note.uses(name)
                    || when.as_ref().is_some_and(|w| w.uses(name))
                    || bind.iter().any(|b| b.path.uses(name))
            });
            let eager_result =
                note.compares_values() || when.as_ref().is_some_and(Expr::compares_values);
            annotations.push(Annotation {
                id: a.id.clone(),
                tools: a.tools.clone(),
                bind,
                when,
                note,
                reads,
                eager_result,
            });
        }
        for (i, s) in spec.skills.skills.iter().enumerate() {
            check_id(&format!("skills.skills[{i}]"), &s.id)?;
        }
        let compiled = Self {
            harness,
            functions,
            constraints,
            ordering,
            preconditions,
            annotations,
        };
        compiled.check_examples(source, origin)?;
        Ok(compiled)
    }

    /// Whether judging a call to `tool` reads the episode's earlier calls.
    pub fn needs_history(&self, tool: &str) -> bool {
        self.ordering
            .iter()
            .any(|o| o.tools.iter().any(|t| t == tool))
            || self.needs_history_results(tool)
    }

    /// Whether judging or annotating a call to `tool` reads the results of
    /// earlier calls (ordering rules read only their tools and arguments).
    pub fn needs_history_results(&self, tool: &str) -> bool {
        self.constraints
            .iter()
            .any(|c| c.grounded == Some(Grounded::Enforce) && c.tool == tool)
            || self
                .preconditions
                .iter()
                .any(|p| p.reads.has(Reads::HISTORY) && applies(&p.tools, tool))
            || self.annotations_need_history(tool)
    }

    /// Whether an annotation that applies to `tool` reads earlier calls.
    pub fn annotations_need_history(&self, tool: &str) -> bool {
        self.annotations
            .iter()
            .any(|a| a.reads.has(Reads::HISTORY) && applies(&a.tools, tool))
    }

    /// Whether any annotation applies to `tool`.
    pub fn annotates(&self, tool: &str) -> bool {
        self.annotations.iter().any(|a| applies(&a.tools, tool))
    }

    /// Number of executable rules (constraints, ordering, preconditions, annotations).
    pub fn rule_count(&self) -> usize {
        self.constraints.len()
            + self.ordering.len()
            + self.preconditions.len()
            + self.annotations.len()
    }

    /// Number of rule examples checked when the harness compiled.
    pub fn example_count(&self) -> usize {
        let spec = &self.harness;
        spec.contract
            .constraints
            .iter()
            .map(|c| c.examples.len())
            .chain(spec.contract.ordering.iter().map(|o| o.examples.len()))
            .chain(spec.realization.rules.iter().map(|p| p.examples.len()))
            .chain(spec.regulation.annotations.iter().map(|a| a.examples.len()))
            .sum()
    }

    /// The first contract constraint `input` breaks.
    pub fn check_constraints(&self, input: &CallInput<'_>) -> Result<Option<Violation>, String> {
        // Decoding-only constraints are never checked here.
        let checked = self
            .constraints
            .iter()
            .filter(|c| c.tool == input.tool && c.grounded != Some(Grounded::Decode));
        for c in checked {
            let Some(value) = input.args.get(&c.arg) else {
                continue;
            };
            let values: Vec<&Value> = match (c.each, value) {
                (true, Value::Array(items)) => items.iter().collect(),
                _ => vec![value],
            };
            for v in values {
                let problem = constraint_problem(c, v).or_else(|| {
                    (c.grounded == Some(Grounded::Enforce) && !grounded_in(v, input)).then(|| {
                        "must be a value that appears in the task or in an earlier result; take it from there, do not make one up".to_string()
                    })
                });
                if let Some(problem) = problem {
                    let message = match &c.message {
                        Some(t) => {
                            let data = CallData::new(input, Reads::ALL, None);
                            let mut scope = data.scope(&self.functions, input);
                            scope.set_json("value", v);
                            t.render(&scope)?
                        }
                        None => format!(
                            "'{}' argument '{}' {problem} (got {}).",
                            c.tool,
                            c.arg,
                            short(v)
                        ),
                    };
                    return Ok(Some(Violation {
                        rule_id: c.id.clone(),
                        kind: FailureKind::ContractViolation,
                        message,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Schema fragments that carry this harness's contract constraints into
    /// decoding, with grounded arguments limited to the values seen in
    /// `sources` (the task text first, then earlier calls and results, oldest
    /// first). Returns (tool, argument as written, fragment, rule id).
    pub fn decoding_fragments<'s>(
        &self,
        sources: impl Iterator<Item = &'s str> + Clone,
    ) -> Vec<(String, String, Value, String)> {
        let mut out = Vec::new();
        for c in &self.constraints {
            let mut schema = serde_json::Map::new();
            if let Some(options) = &c.one_of {
                schema.insert("enum".into(), Value::Array(options.clone()));
            } else if c.grounded.is_some() {
                let mut seen: Vec<String> = Vec::new();
                let mut push = |value: &str| {
                    let accepted = c.pattern.as_ref().is_none_or(|p| p.is_match(value));
                    if accepted && !seen.iter().any(|s| s == value) {
                        seen.push(value.to_string());
                    }
                };
                for text in sources.clone() {
                    match &c.pattern {
                        Some(p) => {
                            let loose = loosen(p.as_str());
                            match Regex::new(&loose) {
                                Ok(r) => r.find_iter(text).for_each(|m| push(m.as_str())),
                                Err(_) => id_like_tokens(text).for_each(&mut push),
                            }
                        }
                        None => id_like_tokens(text).for_each(&mut push),
                    }
                }
                if seen.len() > MAX_GROUNDED_VALUES {
                    // The latest values are the ones the episode is working on.
                    seen.drain(..seen.len() - MAX_GROUNDED_VALUES);
                }
                schema.insert(
                    "enum".into(),
                    Value::Array(seen.into_iter().map(Value::String).collect()),
                );
            }
            if let Some(p) = &c.pattern
                && !schema.contains_key("enum")
            {
                schema.insert("pattern".into(), Value::String(p.as_str().to_string()));
            }
            match c.format {
                Some(ArgFormat::NonEmpty) => {
                    schema.insert("minLength".into(), Value::from(1));
                    schema.insert("minItems".into(), Value::from(1));
                }
                Some(ArgFormat::Date) if !schema.contains_key("enum") => {
                    schema.insert(
                        "pattern".into(),
                        Value::String("^[0-9]{4}-[0-9]{2}-[0-9]{2}$".into()),
                    );
                }
                Some(ArgFormat::Email) if !schema.contains_key("enum") => {
                    schema.insert(
                        "pattern".into(),
                        Value::String("^[^@ ]+@[^@ ]+[.][^@ ]+$".into()),
                    );
                }
                _ => {}
            }
            if schema.is_empty() {
                continue;
            }
            let arg = if c.each {
                format!("{}[]", c.arg)
            } else {
                c.arg.clone()
            };
            out.push((c.tool.clone(), arg, Value::Object(schema), c.id.clone()));
        }
        out
    }

    /// The ordering rules as (rule id, tools constrained, tools that must
    /// have succeeded first), for decoding.
    pub fn ordering_rules(&self) -> impl Iterator<Item = (&str, &[String], &[String])> {
        self.ordering
            .iter()
            .map(|o| (o.id.as_str(), o.tools.as_slice(), o.after.as_slice()))
    }

    /// The argument and field names the rules refer to (kept whole when a
    /// context budget abbreviates older results).
    pub fn referenced_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            let name = name.trim_end_matches("[]");
            if !name.is_empty() && !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
        };
        for c in &self.constraints {
            add(&c.arg);
        }
        for o in &self.ordering {
            if let Some(a) = &o.same_arg {
                add(a);
            }
        }
        let field = Regex::new(r"(?:args|result|past)\.([A-Za-z_][A-Za-z0-9_]*)").ok();
        let texts = self
            .harness
            .realization
            .rules
            .iter()
            .flat_map(|p| p.when.iter().chain(std::iter::once(&p.require)))
            .chain(
                self.harness
                    .regulation
                    .annotations
                    .iter()
                    .flat_map(|a| a.when.iter()),
            );
        if let Some(field) = field {
            for text in texts {
                for cap in field.captures_iter(text) {
                    add(&cap[1]);
                }
            }
        }
        out
    }

    /// The first ordering rule `input` breaks.
    pub fn check_ordering(&self, input: &CallInput<'_>) -> Result<Option<Violation>, String> {
        for o in self
            .ordering
            .iter()
            .filter(|o| o.tools.iter().any(|t| t == input.tool))
        {
            let wanted = o.same_arg.as_ref().map(|a| input.args.get(a));
            let satisfied = input.history.iter().any(|past| {
                past.ok
                    && o.after.iter().any(|a| *a == past.tool)
                    && match &wanted {
                        None => true,
                        Some(value) => {
                            let arg = o.same_arg.as_deref().unwrap_or_default();
                            value.is_some() && past.args.get(arg) == *value
                        }
                    }
            });
            if satisfied {
                continue;
            }
            let message = match &o.message {
                Some(t) => {
                    let data = CallData::new(input, Reads::ALL, None);
                    t.render(&data.scope(&self.functions, input))?
                }
                None => {
                    let same = o
                        .same_arg
                        .as_ref()
                        .map(|a| format!(" with the same '{a}'"))
                        .unwrap_or_default();
                    format!(
                        "'{}' can only be called after a successful call to {}{same} in this conversation. Call that first.",
                        input.tool,
                        o.after
                            .iter()
                            .map(|a| format!("'{a}'"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )
                }
            };
            return Ok(Some(Violation {
                rule_id: o.id.clone(),
                kind: FailureKind::ContractViolation,
                message,
            }));
        }
        Ok(None)
    }

    /// The first precondition `input` breaks. An evaluation failure is `Err` (a fault).
    pub fn check_preconditions(&self, input: &CallInput<'_>) -> Result<Option<Violation>, String> {
        self.preconditions_with(input, None)
    }

    fn preconditions_with(
        &self,
        input: &CallInput<'_>,
        bound: Option<&BTreeMap<String, Value>>,
    ) -> Result<Option<Violation>, String> {
        let rules: Vec<&Precondition> = self
            .preconditions
            .iter()
            .filter(|p| applies(&p.tools, input.tool))
            .collect();
        if rules.is_empty() {
            return Ok(None);
        }
        let reads = rules.iter().fold(Reads::default(), |r, p| r.union(p.reads));
        let data = CallData::new(input, reads, None);
        let base = data.scope(&self.functions, input);
        let mut lookups = Lookups::default();
        for p in rules {
            let values = lookups.resolve(&base, &p.bind, Some(input.args), input.state, bound);
            let mut scope = base.child();
            for (name, value) in &values {
                scope.set_json(name, value);
            }
            if let Some(when) = &p.when
                && !when
                    .eval_bool(&scope)
                    .map_err(|e| format!("rule '{}': {e}", p.id))?
            {
                continue;
            }
            if !p
                .require
                .eval_bool(&scope)
                .map_err(|e| format!("rule '{}': {e}", p.id))?
            {
                let message = p
                    .message
                    .render(&scope)
                    .map_err(|e| format!("rule '{}': {e}", p.id))?;
                return Ok(Some(Violation {
                    rule_id: p.id.clone(),
                    kind: p.kind,
                    message,
                }));
            }
        }
        Ok(None)
    }

    /// The notes to append to a tool result: `(rule id, note)`.
    pub fn annotations(
        &self,
        input: &CallInput<'_>,
        ok: bool,
        output: &str,
    ) -> Result<Vec<(String, String)>, String> {
        self.annotations_with(input, ok, output, None)
    }

    fn annotations_with(
        &self,
        input: &CallInput<'_>,
        ok: bool,
        output: &str,
        bound: Option<&BTreeMap<String, Value>>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut notes = Vec::new();
        let rules: Vec<&Annotation> = self
            .annotations
            .iter()
            .filter(|a| applies(&a.tools, input.tool))
            .collect();
        if rules.is_empty() {
            return Ok(notes);
        }
        let reads = rules.iter().fold(Reads::default(), |r, a| r.union(a.reads));
        // Parsed into a light tree over `output`, whose objects convert a
        // field only when a rule reads it (see `crate::lazy`).
        let result = reads
            .has(Reads::RESULT)
            .then(|| Json::parse(output).unwrap_or(Json::Str(Cow::Borrowed(output))));
        let data = CallData::new(input, reads, result);
        let mut base = data.scope(&self.functions, input);
        if reads.has(Reads::OK) {
            base.set("ok", CelValue::Bool(ok));
        }
        if reads.has(Reads::OUTPUT) {
            base.set_str("output", output);
        }
        let mut lookups = Lookups::default();
        for a in rules {
            let values = lookups.resolve(&base, &a.bind, Some(input.args), input.state, bound);
            let mut scope = base.child();
            for (name, value) in &values {
                scope.set_json(name, value);
            }
            if a.eager_result
                && let Some(result) = &data.result
            {
                scope.set_eager("result", result);
            }
            if let Some(when) = &a.when
                && !when
                    .eval_bool(&scope)
                    .map_err(|e| format!("annotation '{}': {e}", a.id))?
            {
                continue;
            }
            let note = a
                .note
                .render(&scope)
                .map_err(|e| format!("annotation '{}': {e}", a.id))?;
            notes.push((a.id.clone(), note));
        }
        Ok(notes)
    }

    fn check_examples(&self, source: Option<&str>, origin: &str) -> Result<(), HarnessError> {
        let spec = &self.harness;
        let fail = |section: &str, id: &str, n: usize, expect: Expect, got: &str| {
            invalid(
                origin,
                format!(
                    "{section} rule '{id}'{} example {}: expected {expect:?} but the rule {got}",
                    line_of(source, id),
                    n + 1
                ),
            )
        };
        let run =
            |ex: &RuleExample, default_tool: &str, f: &ExampleCheck<'_>| -> Result<bool, String> {
                let tool = ex.tool.clone().unwrap_or_else(|| default_tool.to_string());
                let args = if ex.args.is_null() {
                    serde_json::json!({})
                } else {
                    ex.args.clone()
                };
                let raw = args.to_string();
                let history: Vec<PastCall> = ex
                    .history
                    .iter()
                    .map(|h| PastCall {
                        tool: Cow::Borrowed(h.tool.as_str()),
                        args: Cow::Borrowed(&h.args),
                        ok: h.ok,
                        result: h.result.clone(),
                    })
                    .collect();
                let input = CallInput {
                    tool: &tool,
                    args: &args,
                    raw_args: &raw,
                    history: &history,
                    task_id: "example",
                    instruction: "",
                    state: None,
                };
                f(&input, &ex.state)
            };
        let blocks_expected = |e: Expect| matches!(e, Expect::Block | Expect::Annotate);
        for c in &spec.contract.constraints {
            for (n, ex) in c.examples.iter().enumerate() {
                let fired = run(ex, &c.tool, &|i, _| {
                    self.check_constraints(i)
                        .map(|v| v.is_some_and(|v| v.rule_id == c.id))
                })
                .map_err(|e| {
                    invalid(
                        origin,
                        format!("contract.constraints '{}' example {}: {e}", c.id, n + 1),
                    )
                })?;
                if fired != blocks_expected(ex.expect) {
                    return Err(fail(
                        "contract.constraints",
                        &c.id,
                        n,
                        ex.expect,
                        if fired {
                            "blocked it"
                        } else {
                            "let it through"
                        },
                    ));
                }
            }
        }
        for o in &spec.contract.ordering {
            let first = o.tools.first().cloned().unwrap_or_default();
            for (n, ex) in o.examples.iter().enumerate() {
                let fired = run(ex, &first, &|i, _| {
                    self.check_ordering(i)
                        .map(|v| v.is_some_and(|v| v.rule_id == o.id))
                })
                .map_err(|e| {
                    invalid(
                        origin,
                        format!("contract.ordering '{}' example {}: {e}", o.id, n + 1),
                    )
                })?;
                if fired != blocks_expected(ex.expect) {
                    return Err(fail(
                        "contract.ordering",
                        &o.id,
                        n,
                        ex.expect,
                        if fired {
                            "blocked it"
                        } else {
                            "let it through"
                        },
                    ));
                }
            }
        }
        for p in &spec.realization.rules {
            let first = p.tools.first().cloned().unwrap_or_default();
            for (n, ex) in p.examples.iter().enumerate() {
                let fired = run(ex, &first, &|i, bound| {
                    self.preconditions_with(i, Some(bound))
                        .map(|v| v.is_some_and(|v| v.rule_id == p.id))
                })
                .map_err(|e| {
                    invalid(
                        origin,
                        format!(
                            "realization.rules '{}'{} example {}: {e}",
                            p.id,
                            line_of(source, &p.id),
                            n + 1
                        ),
                    )
                })?;
                if fired != blocks_expected(ex.expect) {
                    return Err(fail(
                        "realization.rules",
                        &p.id,
                        n,
                        ex.expect,
                        if fired {
                            "blocked it"
                        } else {
                            "let it through"
                        },
                    ));
                }
            }
        }
        for a in &spec.regulation.annotations {
            let first = a.tools.first().cloned().unwrap_or_default();
            for (n, ex) in a.examples.iter().enumerate() {
                let output = match &ex.result {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => String::new(),
                };
                let fired = run(ex, &first, &|i, bound| {
                    self.annotations_with(i, true, &output, Some(bound))
                        .map(|v| v.iter().any(|(id, _)| *id == a.id))
                })
                .map_err(|e| {
                    invalid(
                        origin,
                        format!(
                            "regulation.annotations '{}'{} example {}: {e}",
                            a.id,
                            line_of(source, &a.id),
                            n + 1
                        ),
                    )
                })?;
                if fired != blocks_expected(ex.expect) {
                    return Err(fail(
                        "regulation.annotations",
                        &a.id,
                        n,
                        ex.expect,
                        if fired { "fired" } else { "stayed silent" },
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A tool result as rules see it: JSON when it parses, else the text.
pub fn parse_result(output: &str) -> Value {
    serde_json::from_str(output).unwrap_or_else(|_| Value::String(output.to_string()))
}

/// Which of the call's shared variables a rule reads, so a call binds only
/// what its rules use (binding converts the value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Reads(u8);

impl Reads {
    const TOOL: u8 = 1;
    const ARGS: u8 = 2;
    const RAW_ARGS: u8 = 4;
    const TASK: u8 = 8;
    const HISTORY: u8 = 16;
    const RESULT: u8 = 32;
    const OUTPUT: u8 = 64;
    const OK: u8 = 128;
    const ALL: Reads = Reads(u8::MAX);
    const NAMES: [(&'static str, u8); 8] = [
        ("tool", Self::TOOL),
        ("args", Self::ARGS),
        ("raw_args", Self::RAW_ARGS),
        ("task", Self::TASK),
        ("history", Self::HISTORY),
        ("result", Self::RESULT),
        ("output", Self::OUTPUT),
        ("ok", Self::OK),
    ];

    fn of(uses: impl Fn(&str) -> bool) -> Self {
        Self(
            Self::NAMES
                .iter()
                .filter(|(name, _)| uses(name))
                .fold(0, |acc, (_, bit)| acc | bit),
        )
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The JSON that every rule judging one call reads, owned for the call so
/// that scopes can borrow it: the task, the history (built only when a rule
/// reads it) and the parsed result (annotations).
struct CallData<'o> {
    reads: Reads,
    task: Value,
    history: Value,
    result: Option<Json<'o>>,
}

impl<'o> CallData<'o> {
    fn new(input: &CallInput<'_>, reads: Reads, result: Option<Json<'o>>) -> Self {
        let history = if reads.has(Reads::HISTORY) {
            Value::Array(
                input
                    .history
                    .iter()
                    .map(|p| serde_json::json!({"tool": p.tool, "args": p.args, "ok": p.ok, "result": p.result}))
                    .collect(),
            )
        } else {
            Value::Array(Vec::new())
        };
        let task = if reads.has(Reads::TASK) {
            serde_json::json!({"id": input.task_id, "instruction": input.instruction})
        } else {
            Value::Null
        };
        Self {
            reads,
            task,
            history,
            result,
        }
    }

    /// The scope shared by the call's rules.
    fn scope<'f, 'v>(&'v self, functions: &'f Functions, input: &CallInput<'v>) -> Scope<'f, 'v> {
        let mut scope = Scope::new(functions);
        let reads = self.reads;
        if reads.has(Reads::TOOL) {
            scope.set_str("tool", input.tool);
        }
        if reads.has(Reads::ARGS) {
            scope.set_json("args", input.args);
        }
        if reads.has(Reads::RAW_ARGS) {
            scope.set_str("raw_args", input.raw_args);
        }
        if reads.has(Reads::TASK) {
            scope.set_json("task", &self.task);
        }
        if reads.has(Reads::HISTORY) {
            scope.set_json("history", &self.history);
        }
        if let Some(result) = &self.result
            && reads.has(Reads::RESULT)
        {
            scope.set_lazy("result", result);
        }
        scope
    }
}

/// State records looked up for one call, by path, so rules that bind the
/// same record share one lookup.
#[derive(Default)]
struct Lookups(Vec<(Vec<String>, Arc<Value>)>);

impl Lookups {
    /// The value of each binding: the state record its path addresses (null
    /// when there is none), or the example's value when `bound` is given.
    fn resolve<'b>(
        &mut self,
        scope: &Scope<'_, '_>,
        bindings: &'b [Binding],
        args: Option<&Value>,
        state: Option<&dyn StateView>,
        bound: Option<&BTreeMap<String, Value>>,
    ) -> Vec<(&'b str, Arc<Value>)> {
        let mut out: Vec<(&'b str, Arc<Value>)> = Vec::with_capacity(bindings.len());
        for b in bindings {
            let value = match bound {
                Some(map) => Arc::new(map.get(&b.name).cloned().unwrap_or(Value::Null)),
                None => {
                    // A path may read the rule's earlier bindings
                    // (`products/{order.items[0].product_id}`): it is
                    // rendered in a scope that has them.
                    let path = if out.iter().any(|(name, _)| b.path.uses(name)) {
                        let mut with_earlier = scope.child();
                        for (name, value) in &out {
                            with_earlier.set_json(name, value);
                        }
                        b.path.resolve_with_args(&with_earlier, args)
                    } else {
                        b.path.resolve_with_args(scope, args)
                    };
                    // A path whose placeholders cannot be evaluated (an
                    // argument the call lacks) addresses nothing: the name is
                    // bound to null, and the rule's `when`/`require` decide
                    // what that means.
                    match path {
                        Ok(path) => self.lookup(path, state),
                        Err(_) => Arc::new(Value::Null),
                    }
                }
            };
            out.push((b.name.as_str(), value));
        }
        out
    }

    /// The state record at `path` (null when there is none), looked up once
    /// per call.
    fn lookup(&mut self, path: Vec<String>, state: Option<&dyn StateView>) -> Arc<Value> {
        if let Some((_, value)) = self.0.iter().find(|(p, _)| *p == path) {
            return Arc::clone(value);
        }
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let value = Arc::new(
            state
                .and_then(|s| s.lookup(&segments))
                .unwrap_or(Value::Null),
        );
        self.0.push((path, Arc::clone(&value)));
        value
    }
}

/// Whether `v` appears in the task or an earlier call of `input`.
fn grounded_in(v: &Value, input: &CallInput<'_>) -> bool {
    let Some(text) = v.as_str().map(str::trim) else {
        return false;
    };
    if text.is_empty() {
        return false;
    }
    input.instruction.contains(text)
        || input.history.iter().any(|past| {
            past.result.as_str().is_some_and(|r| r.contains(text))
                || past.result.to_string().contains(text)
                || past.args.to_string().contains(text)
        })
}

/// At most this many grounded values are offered to decoding per argument.
pub const MAX_GROUNDED_VALUES: usize = 64;

fn constraint_problem(c: &Constraint, v: &Value) -> Option<String> {
    if let Some(options) = &c.one_of
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(short).collect();
        return Some(format!("must be one of {}", list.join(", ")));
    }
    if let Some(pattern) = &c.pattern {
        match v.as_str() {
            Some(s) if pattern.is_match(s) => {}
            _ => return Some(format!("must match the pattern {}", pattern.as_str())),
        }
    }
    if let Some(min) = c.minimum
        && v.as_f64().is_none_or(|n| n < min)
    {
        return Some(format!("must be a number of at least {min}"));
    }
    if let Some(max) = c.maximum
        && v.as_f64().is_none_or(|n| n > max)
    {
        return Some(format!("must be a number of at most {max}"));
    }
    match c.format {
        Some(ArgFormat::Email) => {
            let ok = v.as_str().is_some_and(|s| {
                let mut parts = s.split('@');
                matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if !a.is_empty() && b.contains('.'))
            });
            (!ok).then(|| "must be an e-mail address".to_string())
        }
        Some(ArgFormat::Date) => {
            let ok = v.as_str().is_some_and(|s| {
                s.len() == 10
                    && s.chars().enumerate().all(|(i, ch)| {
                        if i == 4 || i == 7 {
                            ch == '-'
                        } else {
                            ch.is_ascii_digit()
                        }
                    })
            });
            (!ok).then(|| "must be a date written YYYY-MM-DD".to_string())
        }
        Some(ArgFormat::NonEmpty) => {
            let ok = match v {
                Value::String(s) => !s.trim().is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::Null => false,
                _ => true,
            };
            (!ok).then(|| "must not be empty".to_string())
        }
        None => None,
    }
}

/// An anchored pattern made unanchored, to find its matches inside text.
fn loosen(pattern: &str) -> String {
    let inner = pattern.strip_prefix('^').unwrap_or(pattern);
    let inner = inner.strip_suffix('$').unwrap_or(inner);
    format!("(?:{inner})")
}

fn invalid(origin: &str, message: String) -> HarnessError {
    HarnessError::Invalid {
        path: origin.to_string(),
        message,
    }
}

fn compile_expr(
    source: Option<&str>,
    here: &str,
    origin: &str,
) -> Result<Option<Expr>, HarnessError> {
    source
        .map(|s| Expr::compile(s).map_err(|m| invalid(origin, format!("{here}: {m}"))))
        .transpose()
}

fn compile_template(
    source: Option<&str>,
    here: &str,
    origin: &str,
) -> Result<Option<Template>, HarnessError> {
    source
        .map(|s| Template::compile(s).map_err(|m| invalid(origin, format!("{here}: {m}"))))
        .transpose()
}

fn compile_bind(
    bind: &BTreeMap<String, String>,
    here: &str,
    origin: &str,
) -> Result<Vec<Binding>, HarnessError> {
    const RESERVED: [&str; 9] = [
        "tool", "args", "raw_args", "history", "task", "result", "ok", "output", "value",
    ];
    bind.iter()
        .map(|(name, path)| {
            if RESERVED.contains(&name.as_str()) {
                return Err(invalid(
                    origin,
                    format!("{here}: '{name}' is a reserved name"),
                ));
            }
            let path = StatePath::compile(path)
                .map_err(|m| invalid(origin, format!("{here}.{name}: {m}")))?;
            Ok(Binding {
                name: name.clone(),
                path,
            })
        })
        .collect()
}
