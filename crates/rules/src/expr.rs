//! Rule expressions: CEL (Common Expression Language) programs, text
//! templates with `{expr}` placeholders, and state paths like
//! `orders/{args.order_id}`.
//!
//! Expressions are compiled when a harness file is loaded, so a syntax error
//! is a load error. Evaluation is sandboxed by construction: CEL has no I/O,
//! no loops beyond the bounded list macros, and no side effects.
//!
//! Variables available to rules: `tool` (string), `args` (map), `raw_args`
//! (string), `history` (list of `{tool, args, ok, result, step}` for earlier
//! executed calls, `result` parsed as JSON when it is JSON), `task`
//! (`{id, instruction}`), names bound from state with `bind`, and after an
//! observation `result`, `ok` and `output`. Functions beyond CEL's standard
//! ones: `last(list)`, `zip(a, b)`, `unique(list)`, `keys_of(map)`,
//! `sum(list)`, `round2(number)`, `join(list, separator)`.

use std::collections::BTreeSet;
use std::sync::Arc;

use cel::common::ast::Expr as AstExpr;
use cel::common::types::Kind;
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::value::Val;
use cel::{Context, ExecutionError, FunctionContext, Program, Value};

/// A compiled CEL expression.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<Program>,
    variables: BTreeSet<String>,
    /// `args.a.b` written as a plain member path: the keys after `args`,
    /// which a path template can read from the arguments without CEL.
    args_path: Option<Vec<String>>,
    /// Whether it compares two computed values (`==`, `!=`, `in` without a
    /// literal side), which may be maps: such a rule sees `result`
    /// converted whole (see [`crate::lazy`]).
    compares_values: bool,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = Program::compile(source).map_err(|e| {
            format!(
                "expression `{source}` does not parse: {}",
                e.to_string().replace('\n', " ")
            )
        })?;
        let variables = program
            .references()
            .variables()
            .into_iter()
            .map(str::to_string)
            .collect();
        let trimmed = source.trim();
        let keys: Vec<&str> = trimmed.split('.').collect();
        let plain = |k: &str| {
            k.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let args_path = (keys.len() > 1 && keys[0] == "args" && keys[1..].iter().all(|k| plain(k)))
            .then(|| keys[1..].iter().map(|k| (*k).to_string()).collect());
        let compares_values = compares_values(&program.expression().expr);
        Ok(Self {
            source: source.to_string(),
            program: Arc::new(program),
            variables,
            args_path,
            compares_values,
        })
    }

    /// Whether it compares two computed values (see the field).
    pub fn compares_values(&self) -> bool {
        self.compares_values
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression mentions the variable `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.variables.contains(name)
    }

    /// Evaluates in `scope`.
    pub fn eval(&self, scope: &Scope<'_, '_>) -> Result<Value, String> {
        Value::resolve_val(self.program.expression(), &scope.context)
            .and_then(|v| to_value(v.as_ref()))
            .map_err(|e| format!("expression `{}` failed: {e}", self.source))
    }

    /// Evaluates to a boolean; anything else is an error.
    pub fn eval_bool(&self, scope: &Scope<'_, '_>) -> Result<bool, String> {
        match self.eval(scope)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!(
                "expression `{}` gave {} where true or false was needed",
                self.source,
                display(&other)
            )),
        }
    }
}

/// Whether `expr` has an `==`, `!=` or `in` none of whose sides is a scalar
/// literal (or a type name, or a list of scalar literals on the right of
/// `in`): only such comparisons can meet two maps.
fn compares_values(expr: &AstExpr) -> bool {
    use cel::common::ast::{EntryExpr, Expr as E};
    fn scalar(e: &AstExpr) -> bool {
        match e {
            E::Literal(_) => true,
            E::Ident(name) => matches!(
                name.as_str(),
                "map"
                    | "list"
                    | "string"
                    | "int"
                    | "uint"
                    | "double"
                    | "bool"
                    | "bytes"
                    | "null_type"
                    | "type"
            ),
            _ => false,
        }
    }
    fn entries_compare(entries: &[cel::common::ast::IdedEntryExpr]) -> bool {
        entries.iter().any(|entry| match &entry.expr {
            EntryExpr::MapEntry(m) => {
                compares_values(&m.key.expr) || compares_values(&m.value.expr)
            }
            EntryExpr::StructField(f) => compares_values(&f.value.expr),
        })
    }
    fn scalar_list(e: &AstExpr) -> bool {
        matches!(e, E::List(list) if list.elements.iter().all(|x| scalar(&x.expr)))
    }
    match expr {
        E::Call(call) => {
            let risky = match (call.func_name.as_str(), call.args.as_slice()) {
                ("_==_" | "_!=_", [a, b]) => !scalar(&a.expr) && !scalar(&b.expr),
                ("@in", [a, b]) => !scalar(&a.expr) && !scalar_list(&b.expr),
                _ => false,
            };
            risky
                || call
                    .target
                    .as_ref()
                    .is_some_and(|t| compares_values(&t.expr))
                || call.args.iter().any(|a| compares_values(&a.expr))
        }
        E::Comprehension(c) => [
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ]
        .iter()
        .any(|e| compares_values(&e.expr)),
        E::List(list) => list.elements.iter().any(|e| compares_values(&e.expr)),
        E::Map(map) => entries_compare(&map.entries),
        E::Struct(st) => entries_compare(&st.entries),
        E::Select(sel) => compares_values(&sel.operand.expr),
        E::Ident(_) | E::Literal(_) | E::Unspecified => false,
    }
}

/// The function table shared by all evaluations (built once per layer).
pub struct Functions {
    root: Context<'static, 'static>,
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Functions")
    }
}

fn list_of(values: impl IntoIterator<Item = Value>) -> Value {
    Value::List(Arc::new(values.into_iter().collect()))
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

impl Functions {
    /// CEL's standard library plus the rule helpers.
    pub fn new() -> Result<Self, String> {
        let mut root = Context::default();
        let add = |e: cel::DeclarationError| format!("cannot declare rule function: {e:?}");
        root.add_function("last", |l: Arc<Vec<Value>>| {
            l.last().cloned().unwrap_or(Value::Null)
        })
        .map_err(add)?;
        root.add_function("zip", |a: Arc<Vec<Value>>, b: Arc<Vec<Value>>| {
            list_of(
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| list_of([x.clone(), y.clone()])),
            )
        })
        .map_err(add)?;
        root.add_function("unique", |l: Arc<Vec<Value>>| {
            let mut out: Vec<Value> = Vec::new();
            for v in l.iter() {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            list_of(out)
        })
        .map_err(add)?;
        root.add_function("keys_of", |ftx: &FunctionContext| {
            let Some(map) = ftx.args.first() else {
                return Err(ExecutionError::invalid_argument_count(1, 0));
            };
            let map = map.as_ref();
            if map.get_type().kind() != Kind::Map {
                return Ok(list_of([]));
            }
            let keys = match map.as_iterable() {
                Some(iterable) => values_of(iterable)?,
                None => Vec::new(),
            };
            Ok(list_of(keys))
        })
        .map_err(add)?;
        root.add_function("sum", |l: Arc<Vec<Value>>| {
            Value::Float(l.iter().filter_map(as_f64).sum())
        })
        .map_err(add)?;
        root.add_function("join", |l: Arc<Vec<Value>>, sep: Arc<String>| {
            let parts: Vec<String> = l.iter().map(display).collect();
            Value::String(Arc::new(parts.join(sep.as_str())))
        })
        .map_err(add)?;
        // `mentions(value, text)`: whether `text` occurs in `value` (a
        // string, or any string, key or number inside a list or map), e.g.
        // whether an id was ever seen in the task or an earlier result.
        root.add_function("mentions", |haystack: Value, needle: Arc<String>| {
            !needle.is_empty() && display(&haystack).contains(needle.as_str())
        })
        .map_err(add)?;
        root.add_function("round2", |v: Value| match as_f64(&v) {
            Some(f) => Value::Float((f * 100.0).round() / 100.0),
            None => v,
        })
        .map_err(add)?;
        Ok(Self { root })
    }
}

/// The variables of one evaluation: a CEL context over the shared function
/// table. Values are bound by reference to the JSON they come from (`'v`),
/// so binding costs one allocation per node and no string copies; variables
/// shared by several rules are bound once and each rule evaluates in a
/// `child` that adds only its own bindings.
pub struct Scope<'p, 'v> {
    context: Context<'p, 'v>,
}

impl<'p, 'v> Scope<'p, 'v> {
    /// An empty scope over `functions`.
    pub fn new(functions: &'p Functions) -> Self {
        Self {
            context: functions.root.new_inner_scope(),
        }
    }

    /// A scope that sees this one's variables and can shadow them; its own
    /// bindings may borrow data that lives shorter than this scope's.
    pub fn child<'c, 'w>(&'c self) -> Scope<'c, 'w>
    where
        'v: 'w,
    {
        Scope {
            context: self.context.new_inner_scope(),
        }
    }

    /// Binds `name` to a CEL value (a later binding of the same name wins).
    pub fn set(&mut self, name: &str, value: Value) {
        self.context.add_variable_from_value(name, value);
    }

    /// Binds `name` to a JSON value, borrowing its strings.
    pub fn set_json(&mut self, name: &str, value: &'v serde_json::Value) {
        self.context.add_variable_as_val(name, json_to_val(value));
    }

    /// Binds `name` to a parsed tool result, its objects read lazily.
    pub fn set_lazy(&mut self, name: &str, value: &'v crate::lazy::Json<'v>) {
        self.context
            .add_variable_as_val(name, crate::lazy::to_val(value));
    }

    /// Binds `name` to a parsed tool result, converted whole.
    pub fn set_eager(&mut self, name: &str, value: &'v crate::lazy::Json<'v>) {
        self.context
            .add_variable_as_val(name, crate::lazy::eager(value));
    }

    /// Binds `name` to a string, borrowed.
    pub fn set_str(&mut self, name: &str, value: &'v str) {
        self.context
            .add_variable_as_val(name, Box::new(CelString::from(value)));
    }

    /// Whether `name` is bound here or in a parent scope.
    pub fn has(&self, name: &str) -> bool {
        self.context.get_variable(name).is_some()
    }
}

/// A CEL value as a [`Value`]; maps and lists that are not CEL's own (a
/// [`crate::lazy::LazyMap`]) are read through their keys and elements.
pub fn to_value(v: &dyn Val) -> Result<Value, ExecutionError> {
    let direct = Value::try_from(v);
    if direct.is_ok() {
        return direct;
    }
    match v.get_type().kind() {
        Kind::Map => {
            let (Some(iterable), Some(indexer)) = (v.as_iterable(), v.as_indexer()) else {
                return direct;
            };
            let mut entries = std::collections::HashMap::new();
            let mut keys = iterable.iter();
            while let Some(key) = keys.next() {
                let value = to_value(indexer.get(key)?.as_ref())?;
                let key = match to_value(key)? {
                    Value::String(s) => cel::objects::Key::String(s),
                    Value::Int(i) => cel::objects::Key::Int(i),
                    Value::UInt(u) => cel::objects::Key::Uint(u),
                    Value::Bool(b) => cel::objects::Key::Bool(b),
                    _ => return direct,
                };
                entries.insert(key, value);
            }
            Ok(Value::Map(cel::objects::Map::from(entries)))
        }
        Kind::List => {
            let Some(iterable) = v.as_iterable() else {
                return direct;
            };
            Ok(list_of(values_of(iterable)?))
        }
        _ => direct,
    }
}

/// What `iterable` yields (a list's elements, a map's keys), as [`Value`]s.
fn values_of(iterable: &dyn cel::common::traits::Iterable) -> Result<Vec<Value>, ExecutionError> {
    let mut out = Vec::new();
    let mut iter = iterable.iter();
    while let Some(item) = iter.next() {
        out.push(to_value(item)?);
    }
    Ok(out)
}

/// JSON -> CEL value that borrows the JSON's strings (numbers: integers stay
/// integers, others are doubles, as in [`to_cel`]).
pub fn json_to_val<'v>(value: &'v serde_json::Value) -> Box<dyn Val + 'v> {
    use serde_json::Value as J;
    match value {
        J::Null => Box::new(CelNull),
        J::Bool(b) => Box::new(CelBool::from(*b)),
        J::Number(n) => match n.as_i64() {
            Some(i) => Box::new(CelInt::from(i)),
            None => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        J::String(s) => Box::new(CelString::from(s.as_str())),
        J::Array(items) => Box::new(CelList::from(
            items.iter().map(json_to_val).collect::<Vec<_>>(),
        )),
        J::Object(map) => Box::new(CelMap::from(
            map.iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), json_to_val(v)))
                .collect::<std::collections::HashMap<_, _>>(),
        )),
    }
}

/// JSON -> CEL value (numbers: integers stay integers, others are doubles).
pub fn to_cel(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(Arc::new(s.clone())),
        J::Array(items) => list_of(items.iter().map(to_cel)),
        J::Object(map) => {
            let entries: std::collections::HashMap<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            Value::Map(cel::objects::Map::from(entries))
        }
    }
}

/// A CEL value as text for messages (strings without quotes).
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            }
        }
        other => match other.json() {
            Ok(json) => json.to_string(),
            Err(_) => format!("{other:?}"),
        },
    }
}

/// A text with `{expr}` placeholders (`{{` and `}}` are literal braces).
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Parses and compiles every placeholder.
    pub fn compile(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut expr = String::new();
                    let mut depth = 0usize;
                    let mut closed = false;
                    for c in chars.by_ref() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => {
                                closed = true;
                                break;
                            }
                            '}' => depth -= 1,
                            _ => {}
                        }
                        expr.push(c);
                    }
                    if !closed {
                        return Err(format!("template `{source}` has an unclosed `{{`"));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Expr(Expr::compile(expr.trim())?));
                }
                '}' => {
                    return Err(format!(
                        "template `{source}` has a stray `}}` (write `}}}}`)"
                    ));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self {
            source: source.to_string(),
            parts,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether any placeholder compares two computed values.
    pub fn compares_values(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Expr(e) if e.compares_values()))
    }

    /// Whether any placeholder mentions `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Expr(e) if e.uses(name)))
    }

    /// Renders in `scope`.
    pub fn render(&self, scope: &Scope<'_, '_>) -> Result<String, String> {
        self.render_with_args(scope, None)
    }

    /// Renders in `scope`; a placeholder that is a plain `args.…` path to a
    /// string or an integer is read from `args` directly (the same text CEL
    /// would give, without evaluating it).
    pub fn render_with_args(
        &self,
        scope: &Scope<'_, '_>,
        args: Option<&serde_json::Value>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => {
                    let direct = e
                        .args_path
                        .as_ref()
                        .zip(args)
                        .and_then(|(keys, args)| {
                            keys.iter()
                                .try_fold(args, |node, key| node.get(key.as_str()))
                        })
                        .and_then(|v| match v {
                            serde_json::Value::String(s) => Some(s.clone()),
                            serde_json::Value::Number(n) => n.as_i64().map(|i| i.to_string()),
                            _ => None,
                        });
                    match direct {
                        Some(text) => out.push_str(&text),
                        None => out.push_str(&display(&e.eval(scope)?)),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A state path: `/`-separated segments, each a template (`orders/{args.order_id}`).
#[derive(Debug, Clone)]
pub struct StatePath {
    segments: Vec<Template>,
}

impl StatePath {
    /// Parses a path.
    pub fn compile(source: &str) -> Result<Self, String> {
        if source.trim().is_empty() {
            return Err("a state path must not be empty".to_string());
        }
        let segments = source
            .split('/')
            .map(Template::compile)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { segments })
    }

    /// Whether any segment mentions `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.segments.iter().any(|s| s.uses(name))
    }

    /// The concrete segments in `scope`.
    pub fn resolve(&self, scope: &Scope<'_, '_>) -> Result<Vec<String>, String> {
        self.resolve_with_args(scope, None)
    }

    /// The concrete segments in `scope`, reading plain `args.…` placeholders
    /// from `args` directly.
    pub fn resolve_with_args(
        &self,
        scope: &Scope<'_, '_>,
        args: Option<&serde_json::Value>,
    ) -> Result<Vec<String>, String> {
        self.segments
            .iter()
            .map(|s| s.render_with_args(scope, args))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(f: &Functions) -> Scope<'_, 'static> {
        let mut s = Scope::new(f);
        s.set(
            "args",
            to_cel(&json!({"item_ids": ["a", "b", "a"], "order_id": "#W1", "n": 2})),
        );
        s.set("order", to_cel(&json!({"status": "pending", "items": [{"item_id": "a", "price": 10.5}, {"item_id": "b", "price": 2}]})));
        s
    }

    #[test]
    fn plain_args_paths_render_like_cel() {
        let f = Functions::new().unwrap();
        let args = json!({"order_id": "#W1", "n": 2, "x": 1.5, "o": {"k": "v"}});
        let mut s = Scope::new(&f);
        s.set_json("args", &args);
        for src in [
            "orders/{args.order_id}/{args.n}/{args.o.k}",
            "x/{args.x}",
            "{args.o}",
            "{ args.order_id }",
        ] {
            let path = StatePath::compile(src).unwrap();
            assert_eq!(
                path.resolve_with_args(&s, Some(&args)).unwrap(),
                path.resolve(&s).unwrap(),
                "{src}"
            );
        }
        let missing = StatePath::compile("orders/{args.nope}").unwrap();
        assert!(missing.resolve_with_args(&s, Some(&args)).is_err());
    }

    #[test]
    fn borrowed_json_binds_like_owned_values() {
        let f = Functions::new().unwrap();
        let data = json!({"status": "pending", "n": 2, "x": 1.5, "items": [{"id": "a"}], "none": null, "ok": true});
        let mut s = Scope::new(&f);
        s.set_json("order", &data);
        let child = {
            let mut c = s.child();
            c.set_str("name", "pending");
            assert!(Expr::compile("order.status == name && order.n == 2 && order.x == 1.5 && order.items[0].id == 'a' && order.none == null && order.ok && size(order) == 6 && 'status' in order").unwrap().eval_bool(&c).unwrap());
            assert!(
                Expr::compile("keys_of(order).size() == 6 && last(order.items).id == 'a'")
                    .unwrap()
                    .eval_bool(&c)
                    .unwrap()
            );
            c.has("name") && c.has("order")
        };
        assert!(child);
        assert!(!s.has("name"));
    }

    #[test]
    fn helpers_and_standard_library() {
        let f = Functions::new().unwrap();
        let s = scope(&f);
        let t = |src: &str| Expr::compile(src).unwrap().eval_bool(&s).unwrap();
        assert!(t("size(unique(args.item_ids)) == 2"));
        assert!(t("last(args.item_ids) == 'a'"));
        assert!(t(
            "zip(args.item_ids, order.items).all(p, p[1].item_id != '')"
        ));
        assert!(t("sum(order.items.map(i, i.price)) == 12.5"));
        assert!(t("round2(10.456) == 10.46"));
        assert!(t(
            "mentions(order, 'pending') && mentions(order.items, 'b')"
        ));
        assert!(t("mentions('order #W1 please', args.order_id)"));
        assert!(t("!mentions(order, '#W9') && !mentions(order, '')"));
        assert!(t("'status' in keys_of(order)"));
        assert!(t(
            "args.item_ids.all(i, order.items.exists(it, it.item_id == i))"
        ));
        assert!(t("order.status == 'pending' && args.n > 1"));
        assert!(t("args.order_id.matches('^#W[0-9]+$')"));
    }

    #[test]
    fn errors_are_messages_not_panics() {
        let f = Functions::new().unwrap();
        let s = scope(&f);
        assert!(
            Expr::compile("args.(")
                .unwrap_err()
                .contains("does not parse")
        );
        let missing = Expr::compile("args.nope == 1").unwrap().eval(&s);
        assert!(missing.unwrap_err().contains("failed"));
        let not_bool = Expr::compile("args.n").unwrap().eval_bool(&s);
        assert!(not_bool.unwrap_err().contains("true or false"));
        assert!(Expr::compile("undefined_var").unwrap().eval(&s).is_err());
    }

    #[test]
    fn templates_and_paths() {
        let f = Functions::new().unwrap();
        let s = scope(&f);
        let t = Template::compile("Order {args.order_id} is {order.status}; {{literal}}").unwrap();
        assert_eq!(t.render(&s).unwrap(), "Order #W1 is pending; {literal}");
        assert!(t.uses("order") && !t.uses("history"));
        assert!(Template::compile("oops {args.x").is_err());
        assert!(Template::compile("stray }").is_err());
        let p = StatePath::compile("orders/{args.order_id}").unwrap();
        assert_eq!(p.resolve(&s).unwrap(), vec!["orders", "#W1"]);
        assert!(StatePath::compile("").is_err());
    }
}
