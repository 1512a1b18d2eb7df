//! Where settings come from, and the error a setting that cannot be used gives.

use std::env;
use std::fmt::Display;

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
    /// The variable's text as the source holds it.
    fn get(&self, var: &str) -> Option<String>;

    /// The variable's text, or `None` when it is unset or holds nothing but white space: what
    /// every reader of settings asks for.
    fn value(&self, var: &str) -> Option<String> {
        self.get(var).filter(|text| !text.trim().is_empty())
    }
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        env::var(var).ok()
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
