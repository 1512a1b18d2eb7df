//! The test world every integration test and benchmark starts from: Kafka, Cassandra and
//! ClickHouse (the run's servers, or the services the environment names), with the order topic and
//! its dead-letter topic created, Cassandra's schema applied, ClickHouse's schema and store seed
//! loaded, and the settings every binary reads to reach them.
//!
//! The servers are shared by every test of a run, so the topic, keyspace and database get fresh
//! names and tests never see each other's data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sales_stores::cassandra::{connect, schema, CassandraConfig};
use scylla::client::session::Session;
use service_runtime::settings::Settings;

use crate::cassandra::TestCassandra;
use crate::clickhouse::TestClickHouse;
use crate::kafka::TestKafka;

pub struct TestStores {
    pub kafka: TestKafka,
    pub cassandra: TestCassandra,
    pub clickhouse: TestClickHouse,
    pub topic: String,
    pub keyspace: String,
    /// A session on the keyspace, for reading what the job stored.
    pub session: Session,
}

/// The repository's root, where `cql/` and `clickhouse-sql/` live.
pub fn repository_root() -> PathBuf {
    // This crate lives in workshop/test-support.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

impl TestStores {
    /// The three stores, the order topic with `partitions` partitions.
    pub async fn start(partitions: i32) -> TestStores {
        TestStores::with_clickhouse(TestClickHouse::start().await, partitions).await
    }

    /// Like [`TestStores::start`] with the given ClickHouse (a real server, say).
    pub async fn with_clickhouse(clickhouse: TestClickHouse, partitions: i32) -> TestStores {
        TestStores::with(TestKafka::start(), clickhouse, partitions).await
    }

    /// With the given Kafka (the mock cluster, for injected errors) and ClickHouse.
    pub async fn with(kafka: TestKafka, clickhouse: TestClickHouse, partitions: i32) -> TestStores {
        let cql = repository_root().join("cql");
        TestStores::with_schema(kafka, clickhouse, partitions, &cql).await
    }

    /// With Cassandra's keyspace made by the `.cql` files in `cql` (an earlier release's schema,
    /// for an upgrade test) instead of `cql/`.
    pub async fn with_schema(
        kafka: TestKafka,
        clickhouse: TestClickHouse,
        partitions: i32,
        cql: &Path,
    ) -> TestStores {
        TestStores::on(kafka, TestCassandra::start(), clickhouse, partitions, cql).await
    }

    /// On the given Kafka, Cassandra (a cluster, say) and ClickHouse, with Cassandra's keyspace
    /// made by the `.cql` files in `cql` and the replication `cassandra` asks for.
    pub async fn on(
        kafka: TestKafka,
        cassandra: TestCassandra,
        clickhouse: TestClickHouse,
        partitions: i32,
        cql: &Path,
    ) -> TestStores {
        let topic = crate::unique_name("Order");
        let keyspace = crate::unique_name("sales").replace('-', "_");
        kafka.create_topic(&topic, partitions).await;
        kafka.create_topic(&format!("{topic}.dlq"), 1).await;
        let root = repository_root();
        clickhouse.apply_schema(&root.join("clickhouse-sql")).await;
        clickhouse
            .load_csv("stores", &root.join("clickhouse-sql/seed/stores.csv"))
            .await;
        let mut env = cassandra.settings();
        env.extend([("CASSANDRA_KEYSPACE", keyspace.as_str())]);
        let config =
            CassandraConfig::from_settings(&Settings::new(&env)).expect("Cassandra settings");
        let session = connect(&config).await.expect("connect to Cassandra");
        schema::apply(&session, cql, &keyspace, cassandra.replication())
            .await
            .expect("apply the Cassandra schema");
        TestStores {
            kafka,
            cassandra,
            clickhouse,
            topic,
            keyspace,
            session,
        }
    }

    /// The settings that point a binary (stream-job, serving) at these stores, with `extra`
    /// added or overriding; read them with `Settings::new(&env)`.
    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let dlq = format!("{}.dlq", self.topic);
        let mut settings = self.cassandra.settings();
        settings.extend([
            ("KAFKA_BOOTSTRAP_SERVERS", self.kafka.bootstrap_servers()),
            ("KAFKA_TOPIC", self.topic.as_str()),
            ("KAFKA_DLQ_TOPIC", dlq.as_str()),
            ("CASSANDRA_KEYSPACE", self.keyspace.as_str()),
            ("CLICKHOUSE_URL", self.clickhouse.url()),
            ("CLICKHOUSE_DATABASE", self.clickhouse.database()),
            (
                "CLICKHOUSE_VALIDATE_ROWS",
                if self.clickhouse.validates_rows() {
                    "true"
                } else {
                    "false"
                },
            ),
        ]);
        let mut env: HashMap<String, String> = settings
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        env.into_iter().collect()
    }

    /// Every row of a query, read page by page; ` sales.` names the test keyspace.
    pub async fn scan<T>(&self, cql: &str) -> Vec<T>
    where
        T: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + 'static,
    {
        use futures::TryStreamExt;
        let cql = cql.replace(" sales.", &format!(" {}.", self.keyspace));
        self.session
            .query_iter(cql, ())
            .await
            .expect("scan")
            .rows_stream::<T>()
            .expect("typed rows")
            .try_collect()
            .await
            .expect("rows")
    }

    /// The one row a query returns (` sales.` names the test keyspace); panics on none or several.
    pub async fn one_row<T, V>(&self, cql: &str, values: V) -> T
    where
        T: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
        V: scylla::serialize::row::SerializeRow,
    {
        let cql = cql.replace(" sales.", &format!(" {}.", self.keyspace));
        self.session
            .query_unpaged(cql.as_str(), values)
            .await
            .unwrap_or_else(|e| panic!("{cql}: {e}"))
            .into_rows_result()
            .unwrap_or_else(|e| panic!("{cql} returns no rows: {e}"))
            .single_row()
            .unwrap_or_else(|e| panic!("{cql} returns not exactly one row: {e}"))
    }

    /// order_id → number of rows, over a whole table.
    pub async fn rows_per_order(&self, table: &str) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (order_id,) in self
            .scan::<(String,)>(&format!("SELECT order_id FROM sales.{table}"))
            .await
        {
            *counts.entry(order_id).or_insert(0) += 1;
        }
        counts
    }
}
