//! Unwrapping the values libvirt-dbus 1.4 sends twice wrapped: every value
//! of `Properties.GetAll` and of an `a{sv}` of typed parameters (`GetStats`)
//! is a variant holding another variant. Everything that reads such a
//! dictionary goes through [`Params`], so the quirk is handled once.

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Value};

/// The innermost value, however many variants wrap it.
pub fn unwrap<'v>(value: &'v Value<'v>) -> &'v Value<'v> {
    let mut value = value;
    while let Value::Value(inner) = value {
        value = inner;
    }
    value
}

/// A dictionary of (possibly double-wrapped) values with typed getters
/// that accept any integer width libvirt chose for a field.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, OwnedValue>);

impl Params {
    pub fn new(map: HashMap<String, OwnedValue>) -> Self {
        Self(map)
    }

    pub fn get(&self, key: &str) -> Option<&Value<'_>> {
        self.0.get(key).map(|v| unwrap(v))
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// An unsigned integer (negative values, which libvirt uses for "unknown", give `None`).
    pub fn u64(&self, key: &str) -> Option<u64> {
        match *self.get(key)? {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        match *self.get(key)? {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => i64::try_from(v).ok(),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(value: Value<'static>) -> OwnedValue {
        OwnedValue::try_from(Value::Value(Box::new(value))).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn double_wrapped_values_read_like_plain_ones() {
        let mut map = HashMap::new();
        map.insert("Name".to_owned(), double(Value::from("test")));
        map.insert("Autostart".to_owned(), double(Value::from(true)));
        map.insert("state.state".to_owned(), double(Value::from(1i32)));
        map.insert("cpu.time".to_owned(), double(Value::from(42u64)));
        map.insert(
            "plain".to_owned(),
            OwnedValue::try_from(Value::from(7u32)).unwrap_or_else(|e| panic!("{e}")),
        );
        let params = Params::new(map);
        assert_eq!(params.str("Name"), Some("test"));
        assert_eq!(params.bool("Autostart"), Some(true));
        assert_eq!(params.i64("state.state"), Some(1));
        assert_eq!(params.u64("cpu.time"), Some(42));
        assert_eq!(params.u64("plain"), Some(7));
        assert_eq!(params.u64("missing"), None);
    }
}
