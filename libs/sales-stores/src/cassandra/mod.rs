//! Cassandra: settings, the session, the schema (`cql/`), and the `orders_by_day` bucketing both
//! writer and reconciliation must agree on.

pub mod schema;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sales_model::{
    BusinessZone, LineRecord, OrderRecord, RefundLineRecord, RefundRecord, VoidRecord,
};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::Consistency;
use scylla::DeserializeRow;
use serde::{Deserialize, Serialize};
use service_runtime::settings::{between, millis, text, ConfigError, Settings};
use service_runtime::{ExposeSecret, SecretString};
use uuid::Uuid;

/// Buckets of `orders_by_day`; changing it needs a new table.
pub const DAY_BUCKETS: u32 = 16;

/// The `orders_by_day` bucket of an order: FNV-1a (32 bit) of its id, so a retry always lands in
/// the same row.
pub fn day_bucket(order_id: &str) -> i32 {
    let hash = order_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (hash % DAY_BUCKETS) as i32
}

/// `stored!(Name => "table" by key { field: Type, … })`: a row as stored, deserialised by column
/// name, with `Name::COLUMNS` and `Name::select(keyspace)`, the `SELECT` of exactly those columns
/// by `key`: the columns a reader asks for and the fields it reads them into are one list (and a
/// stream-job test holds them to the columns it writes).
macro_rules! stored {
    (
        $(#[$doc:meta])* $name:ident => $table:literal by $key:ident {
            $($(#[$field_doc:meta])* $field:ident: $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, DeserializeRow)]
        pub struct $name {
            $($(#[$field_doc])* pub $field: $ty),+
        }

        impl $name {
            /// The columns read, in field order.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            /// The `SELECT` of one row by its key, in `keyspace`.
            pub fn select(keyspace: &str) -> String {
                format!(
                    "SELECT {} FROM {keyspace}.{} WHERE {} = ?",
                    Self::COLUMNS.join(", "),
                    $table,
                    stringify!($key)
                )
            }
        }
    };
}

stored! {
    /// An `orders_by_id` row as stored: what serving shows, and what stream-job compares a later
    /// message of the same id with. A row holds a sale, its void, or both: a void of a sale not
    /// seen yet is kept all the same, so the sale columns are optional.
    StoredOrder => "orders_by_id" by order_id {
        order_id: String,
        // The sale's columns, unset on a row that holds only a void.
        store_id: Option<String>,
        terminal_id: Option<String>,
        customer_id: Option<String>,
        channel: Option<String>,
        currency: Option<String>,
        created_at: Option<DateTime<Utc>>,
        day: Option<NaiveDate>,
        // The sale's lines: one list per column, in line order.
        line_skus: Option<Vec<String>>,
        line_names: Option<Vec<String>>,
        line_quantities: Option<Vec<i32>>,
        line_unit_prices_minor: Option<Vec<i64>>,
        item_count: Option<i32>,
        discount_minor: Option<i64>,
        tax_minor: Option<i64>,
        total_minor: Option<i64>,
        payment_method: Option<String>,
        ingest_id: Option<Uuid>,
        ingested_at: Option<DateTime<Utc>>,
        // The void's columns, unset until the sale is voided.
        void_store_id: Option<String>,
        void_created_at: Option<DateTime<Utc>>,
        void_reason: Option<String>,
        void_ingested_at: Option<DateTime<Utc>>,
    }
}

impl StoredOrder {
    /// Lines as (sku, name, quantity, unit price in minor units).
    pub fn lines(&self) -> Vec<(String, String, i32, i64)> {
        let column = |list: &Option<Vec<String>>| list.clone().unwrap_or_default();
        column(&self.line_skus)
            .into_iter()
            .zip(column(&self.line_names))
            .zip(
                self.line_quantities
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .zip(self.line_unit_prices_minor.clone().unwrap_or_default()),
            )
            .map(|((sku, name), (quantity, price))| (sku, name, quantity, price))
            .collect()
    }

    /// The sale as its message said it, when the row holds one.
    pub fn record(&self) -> Option<OrderRecord> {
        Some(OrderRecord {
            order_id: self.order_id.clone(),
            store_id: self.store_id.clone()?,
            terminal_id: self.terminal_id.clone(),
            customer_id: self.customer_id.clone(),
            channel: self.channel.clone()?,
            currency: self.currency.clone()?,
            created_at: self.created_at?,
            items: self
                .lines()
                .into_iter()
                .map(|(sku, name, quantity, unit_price_minor)| LineRecord {
                    sku,
                    name,
                    quantity: i64::from(quantity),
                    unit_price_minor,
                })
                .collect(),
            discount_minor: self.discount_minor?,
            tax_minor: self.tax_minor?,
            total_minor: self.total_minor?,
            payment_method: self.payment_method.clone(),
        })
    }

    /// The void of the sale as its message said it, when there is one.
    pub fn void(&self) -> Option<VoidRecord> {
        Some(VoidRecord {
            order_id: self.order_id.clone(),
            store_id: self.void_store_id.clone()?,
            created_at: self.void_created_at?,
            reason: self.void_reason.clone(),
        })
    }
}

/// The `orders_by_customer_month` partition month of an order: yyyymm of `created_at` in UTC.
pub fn customer_month(created_at: DateTime<Utc>) -> i32 {
    use chrono::Datelike;
    created_at.year() * 100 + created_at.month() as i32
}

/// The `refunds_by_day` bucket of a refund, as [`day_bucket`] for orders.
pub fn refund_bucket(refund_id: &str) -> i32 {
    day_bucket(refund_id)
}

stored! {
    /// A `refunds_by_id` row as stored.
    StoredRefund => "refunds_by_id" by refund_id {
        refund_id: String,
        order_id: String,
        store_id: String,
        /// The sale's channel as stream-job knew it when it first wrote the refund, or `unknown`.
        channel: String,
        sale_known: Option<bool>,
        currency: String,
        created_at: DateTime<Utc>,
        day: NaiveDate,
        line_skus: Option<Vec<String>>,
        line_quantities: Option<Vec<i32>>,
        line_amounts_minor: Option<Vec<i64>>,
        amount_minor: i64,
        reason: Option<String>,
        ingest_id: Option<Uuid>,
        ingested_at: Option<DateTime<Utc>>,
    }
}

impl StoredRefund {
    /// Lines as (sku, quantity, amount in minor units).
    pub fn lines(&self) -> Vec<(String, i32, i64)> {
        self.line_skus
            .clone()
            .unwrap_or_default()
            .into_iter()
            .zip(self.line_quantities.clone().unwrap_or_default())
            .zip(self.line_amounts_minor.clone().unwrap_or_default())
            .map(|((sku, quantity), amount)| (sku, quantity, amount))
            .collect()
    }

    /// The refund as its message said it.
    pub fn record(&self) -> RefundRecord {
        RefundRecord {
            refund_id: self.refund_id.clone(),
            order_id: self.order_id.clone(),
            store_id: self.store_id.clone(),
            currency: self.currency.clone(),
            created_at: self.created_at,
            items: self
                .lines()
                .into_iter()
                .map(|(sku, quantity, amount_minor)| RefundLineRecord {
                    sku,
                    quantity: i64::from(quantity),
                    amount_minor,
                })
                .collect(),
            amount_minor: self.amount_minor,
            reason: self.reason.clone(),
        }
    }
}

/// How to reach Cassandra and how to ask it (the README's Cassandra settings).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CassandraConfig {
    /// `host:port` of the nodes the driver first reaches; it finds the others from them.
    #[serde(rename = "CASSANDRA_CONTACT_POINTS")]
    pub contact_points: Vec<String>,
    #[serde(rename = "CASSANDRA_KEYSPACE", deserialize_with = "crate::identifier")]
    pub keyspace: String,
    /// The data centre whose nodes are asked first; the driver's default when unset.
    #[serde(rename = "CASSANDRA_LOCAL_DC")]
    pub local_dc: Option<String>,
    /// Of every read and write.
    #[serde(rename = "CASSANDRA_CONSISTENCY", with = "consistency")]
    pub consistency: Consistency,
    /// Orders written (or requests served) concurrently.
    #[serde(rename = "CASSANDRA_CONCURRENCY")]
    #[serde(deserialize_with = "between::<1, 4096, _, _>")]
    pub concurrency: usize,
    #[serde(rename = "CASSANDRA_REQUEST_TIMEOUT_MS", with = "millis")]
    pub request_timeout: Duration,
    /// Wait after DDL until every node agrees on the schema (on unless a test turns it off).
    #[serde(rename = "CASSANDRA_AWAIT_SCHEMA_AGREEMENT")]
    pub await_schema_agreement: bool,
    #[serde(rename = "CASSANDRA_USERNAME")]
    pub username: Option<String>,
    /// Never printed nor serialised.
    #[serde(rename = "CASSANDRA_PASSWORD", skip_serializing)]
    pub password: Option<SecretString>,
    /// The zone of the `day` columns.
    #[serde(rename = "BUSINESS_TIME_ZONE", with = "text")]
    pub business_zone: BusinessZone,
    /// TLS to the cluster, verifying its certificates against `tls_ca_file` or, without one,
    /// the system's trust store.
    #[serde(rename = "CASSANDRA_TLS")]
    pub tls: bool,
    /// PEM file of the CA that signed the nodes' certificates.
    #[serde(rename = "CASSANDRA_TLS_CA_FILE")]
    pub tls_ca_file: Option<String>,
}

impl Default for CassandraConfig {
    fn default() -> Self {
        CassandraConfig {
            contact_points: vec!["localhost:9042".into()],
            keyspace: "sales".into(),
            local_dc: None,
            consistency: Consistency::LocalQuorum,
            concurrency: 64,
            request_timeout: Duration::from_secs(5),
            await_schema_agreement: true,
            username: None,
            password: None,
            business_zone: BusinessZone::default(),
            tls: false,
            tls_ca_file: None,
        }
    }
}

impl CassandraConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        s.read()
    }

    /// An OpenSSL context that verifies the nodes' certificates.
    fn tls_context(&self) -> anyhow::Result<openssl::ssl::SslContext> {
        use openssl::ssl::{SslContextBuilder, SslMethod, SslVerifyMode};
        let mut builder = SslContextBuilder::new(SslMethod::tls())?;
        builder.set_verify(SslVerifyMode::PEER);
        match &self.tls_ca_file {
            Some(file) => builder.set_ca_file(file).map_err(|e| {
                anyhow::anyhow!("CASSANDRA_TLS_CA_FILE={file:?} cannot be read as PEM: {e}")
            })?,
            None => builder.set_default_verify_paths()?,
        }
        Ok(builder.build())
    }
}

/// A consistency level by its CQL name (`LOCAL_QUORUM`): `#[serde(with = "consistency")]`.
mod consistency {
    use scylla::statement::Consistency;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    const LEVELS: [(&str, Consistency); 8] = [
        ("ONE", Consistency::One),
        ("TWO", Consistency::Two),
        ("THREE", Consistency::Three),
        ("QUORUM", Consistency::Quorum),
        ("ALL", Consistency::All),
        ("LOCAL_QUORUM", Consistency::LocalQuorum),
        ("EACH_QUORUM", Consistency::EachQuorum),
        ("LOCAL_ONE", Consistency::LocalOne),
    ];

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Consistency, D::Error> {
        let name = String::deserialize(d)?;
        LEVELS
            .iter()
            .find(|(level, _)| *level == name.trim())
            .map(|(_, consistency)| *consistency)
            .ok_or_else(|| {
                let names: Vec<&str> = LEVELS.iter().map(|(level, _)| *level).collect();
                D::Error::custom(format!("must be one of: {}", names.join(", ")))
            })
    }

    pub fn serialize<S: Serializer>(consistency: &Consistency, s: S) -> Result<S::Ok, S::Error> {
        let name = LEVELS
            .iter()
            .find(|(_, level)| level == consistency)
            .map_or("LOCAL_QUORUM", |(name, _)| *name);
        s.serialize_str(name)
    }
}

/// Opens a session with the configured consistency, timeout and data-centre awareness.
pub async fn connect(config: &CassandraConfig) -> anyhow::Result<Session> {
    let mut policy = DefaultPolicy::builder().token_aware(true);
    if let Some(dc) = &config.local_dc {
        policy = policy
            .prefer_datacenter(dc.clone())
            .permit_dc_failover(false);
    }
    let profile = ExecutionProfile::builder()
        .consistency(config.consistency)
        .request_timeout(Some(config.request_timeout))
        .load_balancing_policy(policy.build())
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&config.contact_points)
        .default_execution_profile_handle(profile.into_handle())
        .connection_timeout(Duration::from_secs(5))
        .auto_await_schema_agreement(config.await_schema_agreement);
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        builder = builder.user(user, password.expose_secret());
    }
    if config.tls {
        builder = builder.tls_context(Some(config.tls_context()?));
    }
    Ok(builder.build().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(day_bucket("pos-17-000123"), day_bucket("pos-17-000123"));
        let used: std::collections::HashSet<i32> = (0..1000)
            .map(|i| day_bucket(&format!("order-{i}")))
            .collect();
        assert_eq!(used.len(), DAY_BUCKETS as usize);
        assert!(used.iter().all(|b| (0..DAY_BUCKETS as i32).contains(b)));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("CASSANDRA_KEYSPACE", "sales; DROP"),
            ("CASSANDRA_CONSISTENCY", "SOME"),
            ("CASSANDRA_AWAIT_SCHEMA_AGREEMENT", "maybe"),
        ] {
            let env = vec![(var, value)];
            assert_eq!(
                CassandraConfig::from_settings(&Settings::new(&env))
                    .unwrap_err()
                    .var,
                var
            );
        }
        let env = vec![
            ("CASSANDRA_USERNAME", "pipeline"),
            ("CASSANDRA_PASSWORD", "s3cret-value"),
        ];
        let config = CassandraConfig::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(
            (config.keyspace.as_str(), config.consistency),
            ("sales", Consistency::LocalQuorum)
        );
        assert!(!format!("{config:?}").contains("s3cret-value"));
    }
}
