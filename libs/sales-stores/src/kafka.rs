//! Kafka: how every client of the pipeline reaches the brokers — the bootstrap servers and, for
//! managed clusters, TLS and SASL — so ingest-api's producer, stream-job's consumer and its
//! dead-letter producer connect alike.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, ClientContext};
use serde::{Deserialize, Serialize};
use service_runtime::settings::{ConfigError, Settings};
use service_runtime::{ExposeSecret, SecretString};

/// How the brokers are reached: librdkafka's `security.protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// The SASL mechanisms built in (no Kerberos).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// The brokers, and TLS and SASL to reach them (the README's Kafka settings).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct KafkaConnection {
    /// `host:port` of one or more brokers, comma-separated.
    #[serde(rename = "KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: String,
    #[serde(rename = "KAFKA_SECURITY_PROTOCOL")]
    pub security_protocol: SecurityProtocol,
    /// CA certificate file (PEM) that signed the brokers' certificates; the system's trust store
    /// when absent.
    #[serde(rename = "KAFKA_SSL_CA_LOCATION")]
    pub ssl_ca_location: Option<String>,
    /// Used only with a `sasl_*` protocol, which also needs the username and password.
    #[serde(rename = "KAFKA_SASL_MECHANISM")]
    pub sasl_mechanism: SaslMechanism,
    #[serde(rename = "KAFKA_SASL_USERNAME")]
    pub sasl_username: Option<String>,
    /// Never printed nor serialised.
    #[serde(rename = "KAFKA_SASL_PASSWORD", skip_serializing)]
    pub sasl_password: Option<SecretString>,
}

impl Default for KafkaConnection {
    fn default() -> Self {
        KafkaConnection {
            bootstrap_servers: "localhost:9092".into(),
            security_protocol: SecurityProtocol::Plaintext,
            ssl_ca_location: None,
            sasl_mechanism: SaslMechanism::Plain,
            sasl_username: None,
            sasl_password: None,
        }
    }
}

impl KafkaConnection {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let connection: KafkaConnection = s.read()?;
        connection.check_login()?;
        Ok(connection)
    }

    /// A `sasl_*` protocol needs a username and a password.
    pub fn check_login(&self) -> Result<(), ConfigError> {
        if !self.security_protocol.uses_sasl() {
            return Ok(());
        }
        let missing = |var: &str| ConfigError {
            var: var.into(),
            value: String::new(),
            reason: format!(
                "is required when KAFKA_SECURITY_PROTOCOL is {}",
                self.security_protocol.as_str()
            ),
        };
        if self.sasl_username.is_none() {
            return Err(missing("KAFKA_SASL_USERNAME"));
        }
        if self.sasl_password.is_none() {
            return Err(missing("KAFKA_SASL_PASSWORD"));
        }
        Ok(())
    }

    /// A librdkafka configuration that reaches the brokers this way; callers add their own
    /// settings.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("security.protocol", self.security_protocol.as_str());
        if let Some(ca) = &self.ssl_ca_location {
            config.set("ssl.ca.location", ca);
        }
        if self.security_protocol.uses_sasl() {
            config.set("sasl.mechanism", self.sasl_mechanism.as_str());
            if let Some(username) = &self.sasl_username {
                config.set("sasl.username", username);
            }
            if let Some(password) = &self.sasl_password {
                config.set("sasl.password", password.expose_secret());
            }
        }
        config
    }

    /// Asks the cluster for its metadata (blocking, up to `timeout`): Ok when it answers, else
    /// librdkafka's own reason (an untrusted certificate, refused credentials, no broker).
    pub fn check(&self, timeout: Duration) -> anyhow::Result<()> {
        let client: BaseConsumer<ClientErrors> = self
            .client_config()
            .create_with_context(ClientErrors::default())?;
        match client.fetch_metadata(None, timeout) {
            Ok(_) => Ok(()),
            Err(error) => {
                // librdkafka hands its errors over on a poll of the client.
                for _ in 0..10 {
                    let _ = client.poll(Duration::from_millis(50));
                }
                let reason = client
                    .context()
                    .0
                    .lock()
                    .map(|r| r.clone())
                    .unwrap_or_default();
                anyhow::bail!(
                    "Kafka at {} ({}) did not answer: {error}{}",
                    self.bootstrap_servers,
                    self.security_protocol.as_str(),
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                )
            }
        }
    }
}

/// The errors librdkafka reported, each once, for [`KafkaConnection::check`].
#[derive(Default)]
struct ClientErrors(Mutex<Option<String>>);

impl ClientContext for ClientErrors {
    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut last) = self.0.lock() {
            let error = format!("{error}: {reason}");
            match last.as_mut() {
                Some(errors) if !errors.contains(&error) => {
                    errors.push_str("; ");
                    errors.push_str(&error);
                }
                Some(_) => {}
                None => *last = Some(error),
            }
        }
    }
}

impl ConsumerContext for ClientErrors {}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::producer::BaseProducer;

    #[test]
    fn tls_and_sasl_are_accepted_and_reach_librdkafka() {
        let env = vec![
            ("KAFKA_BOOTSTRAP_SERVERS", "broker.example:9093"),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("KAFKA_SASL_USERNAME", "pipeline"),
            ("KAFKA_SASL_PASSWORD", "kafka-s3cret"),
        ];
        let connection = KafkaConnection::from_settings(&Settings::new(&env)).unwrap();
        assert!(!format!("{connection:?}").contains("kafka-s3cret"));
        let config = connection.client_config();
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        // librdkafka refuses ssl and SCRAM when built without OpenSSL; this build takes them.
        let producer: Result<BaseProducer, _> = config.create();
        assert!(producer.is_ok(), "{:?}", producer.err());
    }

    #[test]
    fn sasl_needs_a_login_and_known_values() {
        let env = vec![("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")];
        let refused = KafkaConnection::from_settings(&Settings::new(&env)).unwrap_err();
        assert_eq!(refused.var, "KAFKA_SASL_USERNAME");
        let env = vec![("KAFKA_SECURITY_PROTOCOL", "tls")];
        let refused = KafkaConnection::from_settings(&Settings::new(&env)).unwrap_err();
        assert_eq!(refused.var, "KAFKA_SECURITY_PROTOCOL");
        let env: Vec<(&str, &str)> = vec![];
        let plain = KafkaConnection::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(
            plain.client_config().get("security.protocol"),
            Some("plaintext")
        );
        assert!(plain.client_config().get("sasl.mechanism").is_none());
    }
}
