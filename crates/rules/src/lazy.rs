//! Tool results for rules, read lazily.
//!
//! A rule that reads `result` usually reads one or two fields of a large
//! tool result (an order with its items, a reservation with its flights).
//! Converting the whole result into CEL values for every annotated call
//! costs more than everything else the layers do, so the result is parsed
//! into a light tree that borrows the result's text ([`Json`]: no hashing,
//! strings without escapes are not copied), and its objects are bound as
//! [`LazyMap`]s, which convert a field only when a rule reads it. Lists are
//! converted whole when reached (the rule functions take plain lists).
//!
//! The values are the ones [`crate::expr::json_to_val`] gives: integers stay
//! integers, other numbers are doubles, a repeated key keeps its last value.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use cel::ExecutionError;
use cel::common::traits::{Container, Indexer, Iterable, Iterator as CelIterator, Sizer};
use cel::common::types::{
    self, CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, Type,
};
use cel::common::value::{CowVal, Val};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value that borrows the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number that fits an `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string (borrowed unless it had escapes).
    Str(Cow<'a, str>),
    /// An array.
    List(Vec<Json<'a>>),
    /// An object, its entries in text order.
    Map(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses `text`; `None` when it is not JSON.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Json::Float(v as f64), Json::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(key)) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Json::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The CEL value of `node`: objects lazily, everything else converted.
pub fn to_val<'v>(node: &'v Json<'v>) -> Box<dyn Val + 'v> {
    match node {
        Json::Map(entries) => Box::new(LazyMap::new(entries)),
        other => eager(other),
    }
}

/// The CEL value of `node`, converted whole.
pub fn eager<'v>(node: &'v Json<'v>) -> Box<dyn Val + 'v> {
    match node {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Int(i) => Box::new(CelInt::from(*i)),
        Json::Float(f) => Box::new(CelDouble::from(*f)),
        Json::Str(s) => Box::new(CelString::from(&**s)),
        Json::List(items) => Box::new(CelList::from(items.iter().map(eager).collect::<Vec<_>>())),
        Json::Map(entries) => Box::new(eager_map(entries)),
    }
}

fn eager_map<'v>(entries: &'v [(Cow<'v, str>, Json<'v>)]) -> CelMap<'v> {
    CelMap::from(
        entries
            .iter()
            .map(|(k, v)| (CelMapKey::from(&**k), eager(v)))
            .collect::<HashMap<_, _>>(),
    )
}

/// A JSON object as a CEL `map` whose values are converted when read.
///
/// It is not CEL's own map type, so `cel_map == lazy_map` (CEL's map on the
/// left) is false: a rule that compares two computed values binds `result`
/// converted whole instead (`Expr::compares_values`). Functions and results
/// read it through its keys (`crate::expr::to_value`).
pub struct LazyMap<'v> {
    entries: &'v [(Cow<'v, str>, Json<'v>)],
    /// The keys as CEL strings, made when the map is iterated.
    keys: OnceLock<Vec<CelString<'v>>>,
}

impl<'v> LazyMap<'v> {
    fn new(entries: &'v [(Cow<'v, str>, Json<'v>)]) -> Self {
        Self {
            entries,
            keys: OnceLock::new(),
        }
    }

    /// The value at `key` (the last, when the text repeats a key).
    fn find(&self, key: &str) -> Option<&'v Json<'v>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The distinct keys, in text order.
    fn distinct_keys(&self) -> impl std::iter::Iterator<Item = &'v str> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| !self.entries[i + 1..].iter().any(|(later, _)| later == k))
            .map(|(_, (k, _))| &**k)
    }
}

impl fmt::Debug for LazyMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<'v> Val for LazyMap<'v> {
    fn get_type(&self) -> &Type {
        &types::MAP_TYPE
    }

    fn cel_type() -> &'static Type
    where
        Self: Sized,
    {
        &types::MAP_TYPE
    }

    fn as_container(&self) -> Option<&dyn Container> {
        Some(self)
    }

    fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }

    fn into_indexer<'w>(self: Box<Self>) -> Option<Box<dyn Indexer + 'w>>
    where
        Self: 'w,
    {
        Some(self)
    }

    fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        Some(self)
    }

    fn equals(&self, other: &dyn Val) -> bool {
        eager_map(self.entries).equals(other)
    }

    fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
    where
        Self: 'w,
    {
        Box::new(LazyMap::new(self.entries))
    }
}

impl<'v> Indexer for LazyMap<'v> {
    fn get<'b, 'w>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'w>, ExecutionError>
    where
        Self: 'w,
    {
        let Some(key) = idx.downcast_ref::<CelString>() else {
            return Err(ExecutionError::UnexpectedType {
                got: idx.get_type().name().to_string(),
                want: "string".to_string(),
            });
        };
        match self.find(key.inner()) {
            Some(value) => Ok(CowVal::Owned(to_val(value))),
            None => Err(ExecutionError::no_such_key(key.inner())),
        }
    }

    fn steal<'w>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'w>, ExecutionError>
    where
        Self: 'w,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl Container for LazyMap<'_> {
    fn contains(&self, value: &dyn Val) -> Result<bool, ExecutionError> {
        Ok(value
            .downcast_ref::<CelString>()
            .is_some_and(|key| self.find(key.inner()).is_some()))
    }
}

impl Sizer for LazyMap<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(self.distinct_keys().count() as i64)
    }
}

impl<'v> Iterable for LazyMap<'v> {
    fn iter<'b, 'w>(&'b self) -> Box<dyn CelIterator<'b, 'w> + 'b>
    where
        Self: 'w,
    {
        let keys = self
            .keys
            .get_or_init(|| self.distinct_keys().map(CelString::from).collect());
        Box::new(Keys(keys.iter()))
    }
}

struct Keys<'b, 'v>(std::slice::Iter<'b, CelString<'v>>);

impl<'b, 'v, 'w> CelIterator<'b, 'w> for Keys<'b, 'v>
where
    'v: 'w,
{
    fn next(&mut self) -> Option<&'b (dyn Val + 'w)> {
        self.0.next().map(|k| k as &(dyn Val + 'w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json_and_borrows_plain_strings() {
        let text = r#"{"a": 1, "b": [true, null, 2.5, "x\"y"], "c": {"d": "e"}, "big": 18446744073709551615, "a": 3}"#;
        let json = Json::parse(text).expect("parses");
        let Json::Map(entries) = &json else {
            panic!("not a map: {json:?}")
        };
        assert_eq!(entries.len(), 5);
        assert!(
            matches!(&entries[2].1, Json::Map(inner) if matches!(inner[0].1, Json::Str(Cow::Borrowed("e"))))
        );
        assert!(
            matches!(&entries[1].1, Json::List(items) if items[3] == Json::Str(Cow::Owned("x\"y".into())))
        );
        assert!(matches!(entries[3].1, Json::Float(_)));
        let map = LazyMap::new(entries);
        assert_eq!(
            map.find("a"),
            Some(&Json::Int(3)),
            "the last of a repeated key"
        );
        assert_eq!(map.size(), CelInt::from(4));
        assert!(Json::parse("{not json").is_none());
    }

    /// Every expression gives the same value over the lazy result as over
    /// the same result converted whole.
    #[test]
    fn rules_read_the_lazy_result_like_the_converted_one() {
        use crate::expr::{Expr, Functions, Scope, display};
        let text = r##"{"order_id": "#W1", "status": "pending", "address": {"city": "Austin", "zip": "78701"},
            "items": [{"item_id": "1", "price": 10.5, "options": {"color": "red"}}, {"item_id": "2", "price": 4}],
            "payment_history": [{"amount": 14.5, "payment_method_id": "gift_card_1"}], "n": 3, "none": null}"##;
        let lazy = Json::parse(text).expect("parses");
        let eager: serde_json::Value = serde_json::from_str(text).expect("parses");
        let functions = Functions::new().expect("functions");
        let cases = [
            "type(result) == map",
            "'status' in result",
            "'missing' in result",
            "result.status",
            "result['status'] == 'pending'",
            "has(result.address.city)",
            "has(result.address.country)",
            "result.address",
            "result.address.city + ' ' + result.address.zip",
            "size(result)",
            "size(result.address)",
            "result.items.exists(i, i.price > 10.0)",
            "result.items.map(i, i.item_id)",
            "result.items[1].price",
            "result.items[0].options",
            "sum(result.items.map(i, i.price))",
            "last(result.payment_history).payment_method_id",
            "zip(result.items, [1, 2])",
            "'zip' in keys_of(result.address) && size(keys_of(result.address)) == 2",
            "size(keys_of(result))",
            "result.exists(k, k == 'n')",
            "result.all(k, k != '')",
            "result.address == {'city': 'Austin', 'zip': '78701'}",
            "result.address == {'city': 'Austin'}",
            "order.address == result.address",
            "result.address == order.address",
            "[order.address] == [result.address]",
            "result.address in [order.address]",
            "result.address == result.address",
            "keys_of(result.address).size()",
            "round2(result.items[0].price)",
            "result.n * 2",
            "result.none == null",
            "result",
        ];
        for case in cases {
            let expr = Expr::compile(case).expect(case);
            // As the annotation rules do: lazily unless the expression
            // compares two computed values.
            let mut a = Scope::new(&functions);
            if expr.compares_values() {
                a.set_eager("result", &lazy);
            } else {
                a.set_lazy("result", &lazy);
            }
            a.set_json("order", &eager);
            let mut b = Scope::new(&functions);
            b.set_json("result", &eager);
            b.set_json("order", &eager);
            let (got, want) = (expr.eval(&a), expr.eval(&b));
            // Maps print in hash order: compare what the texts mean.
            fn meaning(v: &Result<cel::Value, String>) -> Result<serde_json::Value, String> {
                match v {
                    Ok(v) => {
                        let text = display(v);
                        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
                    }
                    Err(e) => Err(e.clone()),
                }
            }
            assert_eq!(meaning(&got), meaning(&want), "{case}");
            assert!(want.is_ok(), "{case}: {want:?}");
        }
        for (source, compares) in [
            ("result.status == 'pending'", false),
            ("'status' in result && type(result) == map", false),
            ("h.tool in ['a', 'b']", false),
            ("result.items.exists(i, i.price > 1.0)", false),
            ("order.address == result.address", true),
            ("result.address in [order.address]", true),
            ("{'note': string(result.address == order.address)}", true),
            (
                "result.items.exists(i, i.options == order.items[0].options)",
                true,
            ),
        ] {
            let expr = Expr::compile(source).expect(source);
            assert_eq!(expr.compares_values(), compares, "{source}");
        }
        let missing = Expr::compile("result.address.country").expect("compiles");
        let mut a = Scope::new(&functions);
        a.set_lazy("result", &lazy);
        assert!(missing.eval(&a).is_err());
    }
}
