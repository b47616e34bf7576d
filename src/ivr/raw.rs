//! A TOML tree in which every key and value remembers its byte range.
//!
//! `toml::Value` forgets positions and `toml::Spanned<T>` only works for
//! fields we know in advance. The validator must point at the exact key or
//! value that is wrong anywhere in a script (an option's digit, a node id
//! inside an inline table), so we deserialize into this generic tree once and
//! build the typed model from it by hand, collecting every error.
//!
//! It speaks the `serde_spanned` private protocol that the `toml` deserializer
//! understands: asking for the struct named [`SPANNED_NAME`] makes the
//! deserializer hand over `start`, `end` and `value` instead of the value
//! alone. Values that carry no position (implicit tables such as `nodes` when
//! only `[nodes.x]` headers exist) arrive as plain maps and get no span.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_spanned::__unstable::{END_FIELD, NAME as SPANNED_NAME, START_FIELD, VALUE_FIELD};

const SPANNED_FIELDS: &[&str] = &[START_FIELD, END_FIELD, VALUE_FIELD];
/// The key under which the `toml` deserializer passes a date-time as a map.
const DATETIME_FIELD: &str = "$__toml_private_datetime";

/// A key of a table with its byte range in the source, when known.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Option<Range<usize>>,
}

/// A value with its byte range in the source, when known.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Value,
    pub span: Option<Range<usize>>,
}

/// A TOML value whose children are [`Item`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Item>),
    /// Entries in source order (TOML forbids duplicate keys, so no map is needed).
    Table(Vec<(Key, Item)>),
}

impl Value {
    /// The TOML type with its article, for "must be …, not …" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// Parses a whole TOML document into a spanned tree.
pub fn parse_document(text: &str) -> Result<Vec<(Key, Item)>, toml::de::Error> {
    let root: Item = toml::from_str(text)?;
    match root.value {
        Value::Table(entries) => Ok(entries),
        // The TOML deserializer always yields a table for a document.
        _ => Ok(Vec::new()),
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key {
            name: v.to_owned(),
            span: None,
        })
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
        Ok(Key {
            name: v,
            span: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        let (span, name): (_, String) = read_spanned_fields(&mut map)?;
        Ok(Key {
            name,
            span: Some(span),
        })
    }
}

/// Reads `start`, `end`, `value` in the order the deserializer sends them.
fn read_spanned_fields<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
) -> Result<(Range<usize>, T), A::Error> {
    let start = expect_field::<A, usize>(map, START_FIELD)?;
    let end = expect_field::<A, usize>(map, END_FIELD)?;
    let value = expect_field::<A, T>(map, VALUE_FIELD)?;
    Ok((start..end, value))
}

fn expect_field<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    field: &'static str,
) -> Result<T, A::Error> {
    match map.next_key::<String>()? {
        Some(key) if key == field => map.next_value(),
        _ => Err(de::Error::missing_field(field)),
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, ItemVisitor)
    }
}

/// Accepts either the spanned protocol (a map starting with `start`) or any
/// plain value (when the deserializer has no position for it).
struct ItemVisitor;

impl ItemVisitor {
    fn plain(value: Value) -> Item {
        Item { value, span: None }
    }
}

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Item, E> {
        Ok(Self::plain(ValueVisitor.visit_bool(v)?))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Item, E> {
        Ok(Self::plain(ValueVisitor.visit_i64(v)?))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Item, E> {
        Ok(Self::plain(ValueVisitor.visit_u64(v)?))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Item, E> {
        Ok(Self::plain(ValueVisitor.visit_f64(v)?))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Item, E> {
        Ok(Self::plain(ValueVisitor.visit_str(v)?))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Item, E> {
        Ok(Self::plain(ValueVisitor.visit_string(v)?))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
        Ok(Self::plain(ValueVisitor.visit_seq(seq)?))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let Some(first) = map.next_key::<Key>()? else {
            return Ok(Self::plain(Value::Table(Vec::new())));
        };
        if first.name == START_FIELD && first.span.is_none() {
            let start: usize = map.next_value()?;
            let end = expect_field::<A, usize>(&mut map, END_FIELD)?;
            let value = expect_field::<A, ValueSeed>(&mut map, VALUE_FIELD)?;
            return Ok(Item {
                value: value.0,
                span: Some(start..end),
            });
        }
        Ok(Self::plain(table_from(first, map)?))
    }
}

/// Collects a table (or a date-time, which the deserializer sends as a map
/// with one private key) whose first key was already read.
fn table_from<'de, A: MapAccess<'de>>(first: Key, mut map: A) -> Result<Value, A::Error> {
    if first.name == DATETIME_FIELD {
        let text: String = map.next_value()?;
        return Ok(Value::Datetime(text));
    }
    let mut entries = vec![(first, map.next_value::<Item>()?)];
    while let Some(key) = map.next_key::<Key>()? {
        entries.push((key, map.next_value::<Item>()?));
    }
    Ok(Value::Table(entries))
}

/// A [`Value`] read with `deserialize_any` (inside the spanned protocol).
struct ValueSeed(Value);

impl<'de> Deserialize<'de> for ValueSeed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(ValueSeed)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Integer)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Item>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match map.next_key::<Key>()? {
            None => Ok(Value::Table(Vec::new())),
            Some(first) => table_from(first, map),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(entries: &'a [(Key, Item)], name: &str) -> &'a (Key, Item) {
        entries.iter().find(|(k, _)| k.name == name).unwrap()
    }

    #[test]
    fn keys_and_values_inside_inline_tables_keep_their_spans() {
        let text = "[flow]\nname = \"x\"\n[nodes.a]\noptions = { \"1\" = \"b\", \"#\" = \"c\" }\nwhen = 1979-05-27\n";
        let doc = parse_document(text).unwrap();
        let (_, nodes) = find(&doc, "nodes");
        let Value::Table(nodes) = &nodes.value else {
            panic!()
        };
        let (a_key, a) = find(nodes, "a");
        assert_eq!(&text[a_key.span.clone().unwrap()], "a");
        let Value::Table(a) = &a.value else { panic!() };
        let (_, options) = find(a, "options");
        let Value::Table(options) = &options.value else {
            panic!()
        };
        let (hash, c) = find(options, "#");
        assert_eq!(&text[hash.span.clone().unwrap()], "\"#\"");
        assert_eq!(&text[c.span.clone().unwrap()], "\"c\"");
        let (_, when) = find(a, "when");
        assert!(matches!(when.value, Value::Datetime(_)));
    }
}
