//! Kafka: how every client of the pipeline reaches the brokers — the bootstrap servers and, for
//! managed clusters, TLS and SASL — so ingest-api's producer, stream-job's consumer and its
//! dead-letter producer connect alike.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, ClientContext};
use service_runtime::settings::{ConfigError, Settings};
use service_runtime::{ExposeSecret, SecretString};

/// `security.protocol` values librdkafka takes.
const PROTOCOLS: [&str; 4] = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];
/// SASL mechanisms built in (no Kerberos).
const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

#[derive(Clone, Debug)]
pub struct KafkaConnection {
    pub bootstrap_servers: String,
    /// `plaintext` (default), `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: String,
    /// CA certificate file (PEM) that signed the brokers' certificates; the system's trust store
    /// when absent.
    pub ssl_ca_location: Option<String>,
    pub sasl: Option<SaslLogin>,
}

/// A SASL login; the password never prints.
#[derive(Clone, Debug)]
pub struct SaslLogin {
    pub mechanism: String,
    pub username: String,
    pub password: SecretString,
}

impl KafkaConnection {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let security_protocol = s.choice("KAFKA_SECURITY_PROTOCOL", "plaintext", &PROTOCOLS)?;
        let sasl = if security_protocol.starts_with("sasl_") {
            let missing = |var: &str| ConfigError {
                var: var.into(),
                value: String::new(),
                reason: format!("is required when KAFKA_SECURITY_PROTOCOL is {security_protocol}"),
            };
            Some(SaslLogin {
                mechanism: s.choice("KAFKA_SASL_MECHANISM", "PLAIN", &MECHANISMS)?,
                username: s
                    .raw("KAFKA_SASL_USERNAME")
                    .ok_or_else(|| missing("KAFKA_SASL_USERNAME"))?,
                password: s
                    .secret("KAFKA_SASL_PASSWORD")
                    .ok_or_else(|| missing("KAFKA_SASL_PASSWORD"))?,
            })
        } else {
            None
        };
        Ok(Self {
            bootstrap_servers: s.string("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
            security_protocol,
            ssl_ca_location: s.raw("KAFKA_SSL_CA_LOCATION"),
            sasl,
        })
    }

    /// A librdkafka configuration that reaches the brokers this way; callers add their own
    /// settings.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("security.protocol", &self.security_protocol);
        if let Some(ca) = &self.ssl_ca_location {
            config.set("ssl.ca.location", ca);
        }
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanism", &sasl.mechanism)
                .set("sasl.username", &sasl.username)
                .set("sasl.password", sasl.password.expose_secret());
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
                    self.security_protocol,
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
        assert!(plain.sasl.is_none());
    }
}
