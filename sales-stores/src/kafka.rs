//! Kafka: how every client of the pipeline reaches the brokers — the bootstrap servers and, for
//! managed clusters, TLS and SASL — so ingest-api's producer, stream-job's consumer and its
//! dead-letter producer connect alike.

use rdkafka::ClientConfig;
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
}

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
