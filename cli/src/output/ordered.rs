//! JSON objects whose keys keep the order they were given in (docker's field order, which
//! people read), where `serde_json::Map` sorts them.

use serde_json::{Map, Value};

/// A JSON object whose keys keep the order they were given in (docker's field order,
/// which people read), where `serde_json::Map` sorts them.
#[derive(Debug, Clone, Default)]
pub struct Ordered(Vec<(String, Field)>);

/// A value of an [`Ordered`] object.
#[derive(Debug, Clone)]
pub enum Field {
    /// Any JSON value (its objects sorted).
    Value(Value),
    /// An object in order.
    Object(Ordered),
}

impl From<Value> for Field {
    fn from(v: Value) -> Field {
        Field::Value(v)
    }
}

impl From<Ordered> for Field {
    fn from(o: Ordered) -> Field {
        Field::Object(o)
    }
}

impl Ordered {
    /// Adds `key` after the keys already there.
    pub fn with(mut self, key: &str, value: impl Into<Field>) -> Ordered {
        self.0.push((key.to_string(), value.into()));
        self
    }

    /// Whether `key` is there.
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// The same object as a `Value`, for templates.
    pub fn to_value(&self) -> Value {
        let fields = self.0.iter().map(|(k, f)| {
            let v = match f {
                Field::Value(v) => v.clone(),
                Field::Object(o) => o.to_value(),
            };
            (k.clone(), v)
        });
        Value::Object(fields.collect::<Map<String, Value>>())
    }
}

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, f) in &self.0 {
            match f {
                Field::Value(v) => m.serialize_entry(k, v)?,
                Field::Object(o) => m.serialize_entry(k, o)?,
            }
        }
        m.end()
    }
}
