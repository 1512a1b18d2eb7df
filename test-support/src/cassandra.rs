//! Cassandra for tests: the run's Apache Cassandra node (started once by `test-servers`), or any
//! cluster `CASSANDRA_CONTACT_POINTS` names, with the login `CASSANDRA_USERNAME` and
//! `CASSANDRA_PASSWORD` give it.

use crate::servers::endpoints;

/// A Cassandra endpoint and its login.
pub struct TestCassandra {
    contact_point: String,
    username: Option<String>,
    password: Option<String>,
}

impl TestCassandra {
    /// The test run's Cassandra.
    pub fn start() -> TestCassandra {
        TestCassandra {
            contact_point: endpoints::required("CASSANDRA_CONTACT_POINTS"),
            username: endpoints::var("CASSANDRA_USERNAME"),
            password: endpoints::var("CASSANDRA_PASSWORD"),
        }
    }

    /// `host:port` to give the driver.
    pub fn contact_point(&self) -> &str {
        &self.contact_point
    }

    /// The settings that reach it, login included (for `Settings::new`).
    pub fn settings(&self) -> Vec<(&'static str, &str)> {
        let mut settings = vec![("CASSANDRA_CONTACT_POINTS", self.contact_point.as_str())];
        if let Some(username) = &self.username {
            settings.push(("CASSANDRA_USERNAME", username));
        }
        if let Some(password) = &self.password {
            settings.push(("CASSANDRA_PASSWORD", password));
        }
        settings
    }
}
