//! Typed settings from environment variables, shared by every binary.
//!
//! A bad value stops start-up with a message naming the variable, the value and what was expected;
//! an unset variable takes its documented default. Secrets are read into [`SecretString`], which
//! never prints its value, so a configuration can be logged whole.

use std::cell::RefCell;
use std::env;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {var}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub value: String,
    pub reason: String,
}

impl ConfigError {
    /// `var` is `value`, over `limit`, the value of `limit_var`; `consequence` (empty, or starting
    /// with ": ") says what would go wrong.
    pub fn exceeds(
        var: &str,
        value: impl Display,
        limit_var: &str,
        limit: impl Display,
        consequence: &str,
    ) -> ConfigError {
        ConfigError {
            var: var.into(),
            value: value.to_string(),
            reason: format!("must not exceed {limit_var} ({limit}){consequence}"),
        }
    }
}

/// Where settings come from: the process environment, or a fixed list in tests.
pub trait Source {
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment; empty values count as unset.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        env::var(var).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for Vec<(&str, &str)> {
    fn get(&self, var: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
    }
}

impl Source for Vec<(String, String)> {
    fn get(&self, var: &str) -> Option<String> {
        self.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
    }
}

/// Reads typed settings from a [`Source`], and remembers which it was asked for, with their
/// defaults, so a test can hold the README's settings tables to what a binary reads
/// ([`crate::documented`]).
pub struct Settings<'a> {
    source: &'a dyn Source,
    asked: RefCell<Vec<Asked>>,
}

/// A setting a binary read: its variable and, where the getter knows it as text, its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub var: String,
    pub default: Option<String>,
}

impl<'a> Settings<'a> {
    pub fn new(source: &'a dyn Source) -> Self {
        Self {
            source,
            asked: RefCell::new(Vec::new()),
        }
    }

    /// Every setting read so far, in the order first read.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.borrow().clone()
    }

    fn note(&self, var: &str, default: Option<String>) {
        let mut asked = self.asked.borrow_mut();
        match asked.iter_mut().find(|a| a.var == var) {
            Some(seen) => {
                if default.is_some() {
                    seen.default = default;
                }
            }
            None => asked.push(Asked {
                var: var.to_string(),
                default,
            }),
        }
    }

    pub fn raw(&self, var: &str) -> Option<String> {
        self.note(var, None);
        self.source.get(var)
    }

    /// A secret (password, key): unset is `None`; the value never appears in `Debug` output.
    pub fn secret(&self, var: &str) -> Option<SecretString> {
        self.raw(var).map(SecretString::from)
    }

    pub fn string(&self, var: &str, default: &str) -> String {
        let value = self.raw(var);
        self.note(var, Some(default.to_string()));
        value.unwrap_or_else(|| default.to_string())
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
        let value = self.parse(var, default);
        self.note(var, Some(default.to_string()));
        let value = value?;
        if !(min..=max).contains(&value) {
            return Err(ConfigError {
                var: var.to_string(),
                value: value.to_string(),
                reason: format!("must be between {min} and {max}"),
            });
        }
        Ok(value)
    }

    /// A duration given in milliseconds, at least 1 ms.
    pub fn millis(&self, var: &str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.bounded(var, default_ms, 1, u64::MAX / 1000)
            .map(Duration::from_millis)
    }

    /// A comma-separated list, entries trimmed, empty entries dropped.
    pub fn list(&self, var: &str, default: &str) -> Vec<String> {
        self.string(var, default)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset_and_bad_values_name_the_variable() {
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
        assert_eq!(
            settings.millis("MISSING", 250).unwrap(),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn secrets_never_print() {
        use secrecy::ExposeSecret;
        let env = vec![("PASSWORD", "hunter2-s3cret")];
        let secret = Settings::new(&env).secret("PASSWORD").unwrap();
        assert_eq!(secret.expose_secret(), "hunter2-s3cret");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(Settings::new(&env).secret("MISSING").is_none());
    }

    #[test]
    fn lists_are_trimmed() {
        let env = vec![("KEYS", " a, b ,,c ")];
        assert_eq!(Settings::new(&env).list("KEYS", ""), vec!["a", "b", "c"]);
    }
}
