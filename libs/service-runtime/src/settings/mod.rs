//! Typed settings from environment variables, shared by every binary.
//!
//! Each binary declares its settings once, as a struct whose fields name their variables and
//! whose `Default` gives the documented defaults; [`Settings::read`] deserialises it from the
//! environment ([`environment`]), and [`described`] lists its variables and defaults for the
//! README's check. A bad value stops start-up with a message naming the variable, the value and
//! what was expected; an unset variable takes its default. Secrets are read into
//! [`SecretString`](crate::SecretString), which never prints its value, so a configuration can be
//! logged whole.

use std::cell::RefCell;
use std::fmt::Display;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;

use environment::{is_group, Environment, Value};

pub mod environment;
mod source;
mod value;

pub use source::{ConfigError, ProcessEnv, Source};
pub use value::{between, millis, text};

/// Reads settings from a [`Source`]: a binary's whole configuration with [`Settings::read`], or,
/// for the workshop's tools, one variable at a time with the getters.
pub struct Settings<'a> {
    source: &'a dyn Source,
}

/// A setting a configuration declares: its variable and its default as text, where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub var: String,
    pub default: Option<String>,
}

impl<'a> Settings<'a> {
    pub fn new(source: &'a dyn Source) -> Self {
        Self { source }
    }

    /// A settings struct read from the source ([`environment`] says how its fields name
    /// variables); the first bad value is the error, naming its variable.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        T::deserialize(Value::Group(Environment {
            source: self.source,
            found: None,
        }))
    }

    /// The variable's text; unset when blank.
    pub fn raw(&self, var: &str) -> Option<String> {
        self.source.value(var)
    }

    pub fn string(&self, var: &str, default: &str) -> String {
        self.raw(var).unwrap_or_else(|| default.to_string())
    }

    /// A value parsed with `FromStr`, or `default` when unset.
    pub fn parse<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(var) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|e: T::Err| ConfigError {
                var: var.to_string(),
                value,
                reason: e.to_string(),
            }),
        }
    }

    /// A count that must lie in `min..=max`.
    pub fn bounded(&self, var: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let value = self.parse(var, default)?;
        value::within(value, min, max).map_err(|reason| ConfigError {
            var: var.to_string(),
            value: value.to_string(),
            reason,
        })
    }

    /// A value that must be one of `allowed`.
    pub fn choice(
        &self,
        var: &str,
        default: &str,
        allowed: &[&str],
    ) -> Result<String, ConfigError> {
        let value = self.string(var, default);
        if allowed.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(ConfigError {
                var: var.to_string(),
                value,
                reason: format!("must be one of: {}", allowed.join(", ")),
            })
        }
    }
}

/// Every variable settings struct `T` declares (a struct's own before its groups'), with the
/// default a read of an empty environment gives it, as text: a number, a word, a comma-separated
/// list; none for an unset option, an empty list or a secret (secrets are never serialised). The
/// README's settings tables are checked against this ([`crate::documented`]).
///
/// Panics when `T` cannot be read from an empty environment or serialised: a settings struct
/// must have a default for every variable.
pub fn described<T>() -> Vec<Declared>
where
    T: DeserializeOwned + Serialize,
{
    let found = RefCell::new(Vec::new());
    let nothing: Vec<(&str, &str)> = Vec::new();
    let read: T = T::deserialize(Value::Group(Environment {
        source: &nothing,
        found: Some(&found),
    }))
    .expect("a settings struct reads from an empty environment");
    let serialised = serde_json::to_value(read).expect("a settings struct serialises");
    let mut defaults = Vec::new();
    flatten_defaults(&serialised, &mut defaults);
    found
        .into_inner()
        .into_iter()
        .map(|var| Declared {
            var: var.to_string(),
            default: defaults
                .iter()
                .find(|(name, _)| name == var)
                .and_then(|(_, default)| default.clone()),
        })
        .collect()
}

/// The variables of a serialised settings struct, groups flattened, with their values as text.
fn flatten_defaults(value: &Json, out: &mut Vec<(String, Option<String>)>) {
    let Json::Object(fields) = value else {
        return;
    };
    for (name, value) in fields {
        if is_group(name) {
            flatten_defaults(value, out);
            continue;
        }
        let text = match value {
            Json::Null => None,
            Json::String(text) => Some(text.clone()),
            Json::Array(items) if items.is_empty() => None,
            Json::Array(items) => Some(
                items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_string)
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            other => Some(other.to_string()),
        };
        out.push((name.clone(), text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use serde::Deserialize;
    use std::net::SocketAddr;
    use std::time::Duration;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Safe,
    }

    /// A binary's settings as the services declare theirs: variables and one group.
    #[derive(Debug, Deserialize, Serialize)]
    #[serde(default)]
    struct Sample {
        #[serde(rename = "SAMPLE_ADDR", with = "text")]
        addr: SocketAddr,
        #[serde(rename = "SAMPLE_COUNT", deserialize_with = "between::<1, 10, _, _>")]
        count: u32,
        #[serde(rename = "SAMPLE_TIMEOUT_MS", with = "millis")]
        timeout: Duration,
        #[serde(rename = "SAMPLE_MODE")]
        mode: Mode,
        #[serde(rename = "SAMPLE_HOSTS")]
        hosts: Vec<String>,
        #[serde(rename = "SAMPLE_CA_FILE")]
        ca_file: Option<String>,
        #[serde(rename = "SAMPLE_PASSWORD", skip_serializing)]
        password: Option<SecretString>,
        store: Store,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(default)]
    struct Store {
        #[serde(rename = "STORE_ON")]
        on: bool,
        #[serde(rename = "SAMPLE_COUNT", deserialize_with = "between::<1, 10, _, _>")]
        count: u8,
    }

    impl Default for Sample {
        fn default() -> Self {
            Sample {
                addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
                count: 3,
                timeout: Duration::from_millis(250),
                mode: Mode::Safe,
                hosts: vec!["a:1".into(), "b:2".into()],
                ca_file: None,
                password: None,
                store: Store::default(),
            }
        }
    }

    impl Default for Store {
        fn default() -> Self {
            Store { on: true, count: 3 }
        }
    }

    fn read(env: Vec<(&str, &str)>) -> Result<Sample, ConfigError> {
        Settings::new(&env).read()
    }

    #[test]
    fn unset_variables_take_the_defaults() {
        let sample = read(vec![]).unwrap();
        assert_eq!(sample.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(sample.count, 3);
        assert_eq!(sample.timeout, Duration::from_millis(250));
        assert_eq!(sample.mode, Mode::Safe);
        assert_eq!(sample.hosts, ["a:1", "b:2"]);
        assert_eq!(sample.ca_file, None);
        assert!(sample.password.is_none());
        assert!(sample.store.on);
    }

    #[test]
    fn set_variables_are_typed_and_groups_read_the_same_environment() {
        use secrecy::ExposeSecret;
        let sample = read(vec![
            ("SAMPLE_ADDR", "127.0.0.1:9000"),
            ("SAMPLE_COUNT", " 7 "),
            ("SAMPLE_TIMEOUT_MS", "1500"),
            ("SAMPLE_MODE", "fast"),
            ("SAMPLE_HOSTS", " x:1, ,y:2 ,"),
            ("SAMPLE_CA_FILE", "/ca.pem"),
            ("SAMPLE_PASSWORD", "0123-s3cret "),
            ("STORE_ON", "false"),
        ])
        .unwrap();
        assert_eq!(sample.addr.to_string(), "127.0.0.1:9000");
        assert_eq!((sample.count, sample.store.count), (7, 7));
        assert_eq!(sample.timeout, Duration::from_millis(1500));
        assert_eq!(sample.mode, Mode::Fast);
        assert_eq!(sample.hosts, ["x:1", "y:2"]);
        assert_eq!(sample.ca_file.as_deref(), Some("/ca.pem"));
        // A secret is taken as given, leading zero and trailing space included, and never printed.
        let password = sample.password.as_ref().unwrap();
        assert_eq!(password.expose_secret(), "0123-s3cret ");
        assert!(!format!("{sample:?}").contains("s3cret"));
        assert!(!sample.store.on);
    }

    #[test]
    fn every_bad_value_names_its_variable_and_value() {
        let cases = [
            ("SAMPLE_ADDR", "8080", "invalid socket address"),
            ("SAMPLE_COUNT", "80x", "invalid digit"),
            ("SAMPLE_COUNT", "11", "must be between 1 and 10"),
            ("SAMPLE_TIMEOUT_MS", "0", "must be between 1 and"),
            ("SAMPLE_MODE", "slow", "must be one of: fast, safe"),
            ("STORE_ON", "yes", "must be true or false"),
        ];
        for (var, value, reason) in cases {
            let err = read(vec![(var, value)]).unwrap_err();
            assert_eq!(
                (err.var.as_str(), err.value.as_str()),
                (var, value),
                "{err}"
            );
            assert!(err.reason.contains(reason), "{var}: {err}");
            assert!(err
                .to_string()
                .starts_with(&format!("configuration: {var}=")));
        }
    }

    #[test]
    fn blank_values_are_unset_and_a_secret_is_never_repeated() {
        assert_eq!(read(vec![("SAMPLE_COUNT", "  ")]).unwrap().count, 3);

        // A secret is a variable with PASSWORD, SECRET or KEYS as a word of its name.
        #[derive(Debug, Deserialize)]
        struct Door {
            #[serde(rename = "DOOR_SECRET")]
            _code: Option<u16>,
            #[serde(rename = "DOOR_KEYSPACE")]
            _keyspace: Option<u16>,
        }
        let shown = |var: &str, value: &str| {
            let env = vec![(var, value)];
            let err = Settings::new(&env).read::<Door>().unwrap_err();
            assert_eq!(err.var, var);
            err.to_string()
        };
        let secret = shown("DOOR_SECRET", "12ab-s3cret");
        assert!(
            secret.contains("\"<hidden>\"") && !secret.contains("s3cret"),
            "{secret}"
        );
        assert!(shown("DOOR_KEYSPACE", "sales").contains("\"sales\""));
    }

    #[test]
    fn described_lists_every_variable_with_its_default() {
        let described: Vec<String> = described::<Sample>()
            .into_iter()
            .map(|setting| {
                format!(
                    "{}={}",
                    setting.var,
                    setting.default.as_deref().unwrap_or("-")
                )
            })
            .collect();
        // Unset options and secrets have no default; a group's variables follow its parent's.
        let expected = "SAMPLE_ADDR=0.0.0.0:8080 SAMPLE_COUNT=3 SAMPLE_TIMEOUT_MS=250 SAMPLE_MODE=safe \
                        SAMPLE_HOSTS=a:1,b:2 SAMPLE_CA_FILE=- SAMPLE_PASSWORD=- STORE_ON=true SAMPLE_COUNT=3";
        assert_eq!(described.join(" "), expected);
    }

    #[test]
    fn getters_apply_defaults_and_name_bad_variables() {
        let env = vec![("PORT", "80x"), ("COUNT", "7"), ("MODE", "fast")];
        let settings = Settings::new(&env);
        assert_eq!(settings.parse("MISSING", 5u16).unwrap(), 5);
        assert_eq!(settings.bounded("COUNT", 1, 1, 10).unwrap(), 7);
        let err = settings.parse::<u16>("PORT", 8080).unwrap_err();
        assert_eq!(err.var, "PORT");
        assert!(err.to_string().contains("PORT=\"80x\""), "{err}");
        let err = settings.bounded("COUNT", 1, 1, 5).unwrap_err();
        assert!(err.reason.contains("between 1 and 5"));
        let err = settings
            .choice("MODE", "slow", &["slow", "safe"])
            .unwrap_err();
        assert!(err.reason.contains("slow, safe"));
    }
}
