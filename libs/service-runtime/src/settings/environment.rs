//! A serde `Deserializer` over a [`Source`]: a settings struct names each variable once, with
//! `#[serde(rename = "VAR")]` on the field that holds it, and is read from the environment by
//! deriving `Deserialize`.
//!
//! - A field whose name has no lower-case letter is a variable. An unset variable, or one set to
//!   nothing but white space, is left out, so the struct's `#[serde(default)]` applies.
//! - A field whose name has a lower-case letter (`kafka`, `cassandra`) is a group: a struct read
//!   from the same environment, so settings shared by several binaries are declared once.
//! - A value is text: numbers and booleans are parsed from it, a list is its comma-separated
//!   entries (trimmed, empty ones dropped), an enum is the variant it names.
//! - Every error names the variable and the value it was given, whatever refused it; the value of
//!   a secret (a variable with the word `PASSWORD`, `SECRET` or `KEYS` in its name) is never
//!   repeated.
//! - A group is a plain struct: it cannot be optional, and it must not refuse anything itself
//!   (checks across its fields run after the read, where they can name their variable).

use std::cell::RefCell;
use std::fmt::Display;

use serde::de::value::{SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use super::source::{ConfigError, Source};

impl de::Error for ConfigError {
    fn custom<T: Display>(reason: T) -> Self {
        ConfigError {
            var: String::new(),
            value: String::new(),
            reason: reason.to_string(),
        }
    }

    // Said as an operator reads it: the value is already in the message.
    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        de::Error::custom(format!("must be one of: {}", expected.join(", ")))
    }

    fn invalid_value(_unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        de::Error::custom(format!("must be {expected}"))
    }
}

/// Whether a variable holds a secret, whose value no message may repeat.
fn is_secret(var: &str) -> bool {
    var.split('_')
        .any(|word| ["PASSWORD", "SECRET", "KEYS"].contains(&word))
}

/// Whether a field names a group of settings rather than a variable.
pub(crate) fn is_group(field: &str) -> bool {
    field.chars().any(|c| c.is_ascii_lowercase())
}

/// The environment as a map of variables to text. With `found`, every struct read notes its
/// variables there, so reading from an empty source lists what a settings struct declares.
#[derive(Clone, Copy)]
pub(crate) struct Environment<'s> {
    pub source: &'s dyn Source,
    pub found: Option<&'s RefCell<Vec<&'static str>>>,
}

/// A value in the environment: a group of settings (a struct, read from the whole environment)
/// or one variable's text.
pub(crate) enum Value<'a> {
    Group(Environment<'a>),
    Text(&'a str),
}

impl Value<'_> {
    fn text(&self) -> Result<&str, ConfigError> {
        match self {
            Value::Text(text) => Ok(text),
            Value::Group(_) => Err(de::Error::custom(
                "settings are read into a struct, a field a variable or a group",
            )),
        }
    }

    fn parse<T: std::str::FromStr>(&self) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        self.text()?.trim().parse().map_err(de::Error::custom)
    }
}

impl<'a> IntoDeserializer<'_, ConfigError> for Value<'a> {
    type Deserializer = Value<'a>;

    fn into_deserializer(self) -> Value<'a> {
        self
    }
}

/// `deserialize_$kind` parses the text as `$ty` and visits it with `$visit`.
macro_rules! parsed {
    ($($method:ident: $ty:ty => $visit:ident),+ $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
            visitor.$visit(self.parse::<$ty>()?)
        }
    )+};
}

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_str(self.text()?)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        let on = self.parse::<bool>();
        visitor.visit_bool(on.map_err(|_| de::Error::custom("must be true or false"))?)
    }

    parsed! {
        deserialize_i8: i8 => visit_i8,
        deserialize_i16: i16 => visit_i16,
        deserialize_i32: i32 => visit_i32,
        deserialize_i64: i64 => visit_i64,
        deserialize_u8: u8 => visit_u8,
        deserialize_u16: u16 => visit_u16,
        deserialize_u32: u32 => visit_u32,
        deserialize_u64: u64 => visit_u64,
        deserialize_f32: f32 => visit_f32,
        deserialize_f64: f64 => visit_f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        let entries = self.text()?.split(',').map(str::trim);
        let entries = entries.filter(|e| !e.is_empty()).map(Value::Text);
        SeqDeserializer::new(entries).deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        let name: StrDeserializer<'_, ConfigError> = self.text()?.trim().into_deserializer();
        visitor.visit_enum(name)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        let Value::Group(environment) = self else {
            return Err(de::Error::custom("is one value, not a group of settings"));
        };
        if let Some(found) = environment.found {
            let variables = fields.iter().filter(|field| !is_group(field));
            found.borrow_mut().extend(variables);
        }
        visitor.visit_map(Variables {
            environment,
            fields: fields.iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple tuple_struct map
        identifier ignored_any
    }
}

/// A struct's fields that are set, in the struct's order.
struct Variables<'s> {
    environment: Environment<'s>,
    fields: std::slice::Iter<'static, &'static str>,
    /// The field whose key was handed out last, with its text (`None` for a group).
    current: Option<(&'static str, Option<String>)>,
}

impl<'de> MapAccess<'de> for Variables<'_> {
    type Error = ConfigError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConfigError> {
        for &field in self.fields.by_ref() {
            let text = if is_group(field) {
                None
            } else {
                match self.environment.source.value(field) {
                    Some(text) => Some(text),
                    None => continue,
                }
            };
            self.current = Some((field, text));
            let key: StrDeserializer<'_, ConfigError> = field.into_deserializer();
            return seed.deserialize(key).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ConfigError> {
        match self.current.take() {
            Some((_, None)) => seed.deserialize(Value::Group(self.environment)),
            Some((var, Some(text))) => seed.deserialize(Value::Text(&text)).map_err(|mut error| {
                if error.var.is_empty() {
                    error.var = var.to_string();
                    error.value = if is_secret(var) {
                        "<hidden>".into()
                    } else {
                        text.clone()
                    };
                }
                error
            }),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }
}
