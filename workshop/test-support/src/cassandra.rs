//! Cassandra for tests: the run's Apache Cassandra node (started once by `test-servers`), or any
//! cluster `CASSANDRA_CONTACT_POINTS` names, with the login `CASSANDRA_USERNAME` and
//! `CASSANDRA_PASSWORD` give it, and the replication `CASSANDRA_REPLICATION` asks of the test
//! keyspaces (the `.cql` files' one replica when unset).

use crate::servers::endpoints;

/// A Cassandra endpoint and its login.
pub struct TestCassandra {
    contact_point: String,
    username: Option<String>,
    password: Option<String>,
    replication: Option<String>,
}

impl TestCassandra {
    /// The test run's Cassandra.
    pub fn start() -> TestCassandra {
        TestCassandra {
            contact_point: endpoints::required("CASSANDRA_CONTACT_POINTS"),
            username: endpoints::var("CASSANDRA_USERNAME"),
            password: endpoints::var("CASSANDRA_PASSWORD"),
            replication: endpoints::var("CASSANDRA_REPLICATION"),
        }
    }

    /// The cluster at `contact_points` (comma-separated `host:port`), with a login and the
    /// keyspaces' replication map (`{'class': 'NetworkTopologyStrategy', …}`).
    pub fn at(
        contact_points: &str,
        login: (&str, &str),
        replication: Option<&str>,
    ) -> TestCassandra {
        TestCassandra {
            contact_point: contact_points.to_string(),
            username: Some(login.0.to_string()),
            password: Some(login.1.to_string()),
            replication: replication.map(str::to_string),
        }
    }

    /// The replication map a test keyspace gets, when not the `.cql` files' own.
    pub fn replication(&self) -> Option<&str> {
        self.replication.as_deref()
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
