//! README.md's Cassandra upgrade, executed: a keyspace made by the release before refunds and
//! voids (`tests/fixtures/cql-before-refunds`) with that release's rows in it, then the README's
//! steps (the `cql/` run that `cassandra-init` does, and the `ALTER TABLE` statements copied from
//! the README itself), then stream-job and serving of this release on it: old orders read, voided
//! and refunded; new orders written and read beside them.

mod support;

use chrono::Utc;
use service_runtime::settings::Settings;
use test_support::clickhouse::TestClickHouse;
use test_support::kafka::TestKafka;
use test_support::orders::{refund, void, SampleOrder};
use test_support::status_and_json;
use test_support::stores::{repository_root, TestStores};

const KEY: &str = "upgrade-test-key-0123";

/// The statements of README.md's "Upgrading an installation from before refunds and voids"
/// `cqlsh -e "…"` block.
fn readme_upgrade_statements() -> Vec<String> {
    let readme = std::fs::read_to_string(repository_root().join("README.md")).expect("README.md");
    let section = readme
        .split("**Upgrading an installation from before refunds and voids.**")
        .nth(1)
        .expect("README.md has the upgrade section");
    let block = section
        .split("cqlsh -e \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the section has a cqlsh -e \"…\" block");
    block
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_upgrade_keeps_old_orders_readable_and_writable() {
    let fixture = repository_root().join("serving/tests/fixtures/cql-before-refunds");
    let stores = TestStores::with_schema(
        TestKafka::start(),
        TestClickHouse::start().await,
        3,
        &fixture,
    )
    .await;
    let ks = stores.keyspace.clone();
    // Every event within a quarter of an hour on one business day (UTC in tests).
    let minutes = chrono::Duration::minutes;
    let mut earlier = Utc::now() - minutes(40);
    if (earlier + minutes(15)).date_naive() != earlier.date_naive() {
        earlier -= minutes(15);
    }
    let day = earlier.date_naive();

    // Two orders as the previous release stored them.
    for (id, total, customer) in [("old-1", 450i64, "c-old"), ("old-2", 1_200, "c-old")] {
        let run = |cql: String| {
            let session = &stores.session;
            async move {
                session
                    .query_unpaged(cql.as_str(), ())
                    .await
                    .unwrap_or_else(|e| panic!("{cql}: {e}"));
            }
        };
        let at = earlier.timestamp_millis();
        run(format!(
            "INSERT INTO {ks}.orders_by_id (order_id, store_id, terminal_id, customer_id, channel, currency, created_at, day, \
             line_skus, line_names, line_quantities, line_unit_prices_minor, item_count, discount_minor, tax_minor, total_minor, \
             payment_method, ingest_id, ingested_at) VALUES ('{id}', 'store-001', 'pos-1', '{customer}', 'in_store', 'EUR', {at}, '{day}', \
             ['sku-1'], ['Latte'], [1], [{total}], 1, 0, 0, {total}, 'card', {uuid}, {at})",
            uuid = uuid::Uuid::new_v4()
        ))
        .await;
        run(format!(
            "INSERT INTO {ks}.orders_by_store_day (store_id, day, created_at, order_id, channel, currency, item_count, total_minor, customer_id, payment_method) \
             VALUES ('store-001', '{day}', {at}, '{id}', 'in_store', 'EUR', 1, {total}, '{customer}', 'card')"
        ))
        .await;
        run(format!(
            "INSERT INTO {ks}.orders_by_day (day, bucket, store_id, order_id, created_at, channel, currency, item_count, total_minor) \
             VALUES ('{day}', {bucket}, 'store-001', '{id}', {at}, 'in_store', 'EUR', 1, {total})",
            bucket = sales_stores::cassandra::day_bucket(id)
        ))
        .await;
    }

    // The README's steps: the schema run of cassandra-init, then its ALTER TABLE statements.
    sales_stores::cassandra::schema::apply(
        &stores.session,
        &repository_root().join("cql"),
        &ks,
        None,
    )
    .await
    .expect("cql/ applies over the previous release's keyspace");
    let statements = readme_upgrade_statements();
    assert_eq!(statements.len(), 3, "{statements:?}");
    for statement in statements {
        let statement = statement.replace("sales.", &format!("{ks}."));
        stores
            .session
            .query_unpaged(statement.as_str(), ())
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    // This release's stream-job: a new sale, a void of one old order and a refund of the other.
    let group = test_support::unique_name("upgrade");
    let env = stores.env(&[
        ("STREAM_JOB_GROUP", group.as_str()),
        ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
        ("STREAM_JOB_FLUSH_INTERVAL_MS", "200"),
        ("SERVING_LISTEN_ADDR", "127.0.0.1:0"),
        ("SERVING_API_KEYS", KEY),
    ]);
    let settings = Settings::new(&env);
    let events = [
        SampleOrder::new("new-1", "store-001", earlier + minutes(10)).envelope(),
        void("old-1", "store-001", earlier + minutes(11)),
        refund(
            "r-old-2",
            "old-2",
            "store-001",
            earlier + minutes(12),
            200,
            None,
        ),
    ];
    support::load(&stores, &settings, &events).await;

    // This release's serving reads old and new orders.
    let base = support::serve(&settings).await.base;
    let client = reqwest::Client::new();
    let get = |path: String| status_and_json(client.get(format!("{base}{path}")).bearer_auth(KEY));
    let (status, old_1) = get("/v1/orders/old-1".into()).await;
    assert_eq!(status, 200, "{old_1}");
    assert_eq!(old_1["total"], "4.50");
    assert_eq!(old_1["voided"], true);
    assert_eq!(old_1["net"], "0.00");
    let (status, old_2) = get("/v1/orders/old-2".into()).await;
    assert_eq!(status, 200, "{old_2}");
    assert_eq!(old_2["voided"], false);
    assert_eq!(old_2["refunded"], "2.00");
    assert_eq!(old_2["net"], "10.00");
    let (status, new_1) = get("/v1/orders/new-1".into()).await;
    assert_eq!(status, 200, "{new_1}");
    assert_eq!(new_1["store_id"], "store-001");
    let (status, page) = get(format!("/v1/stores/store-001/orders?date={day}&limit=10")).await;
    assert_eq!(status, 200, "{page}");
    let mut ids = test_support::texts(&page["orders"], "order_id");
    ids.sort_unstable();
    assert_eq!(ids, ["new-1", "old-1", "old-2"]);
}
