//! stream-job's Cassandra path on the run's Apache Kafka and Apache Cassandra (or the services
//! KAFKA_BOOTSTRAP_SERVERS / CASSANDRA_CONTACT_POINTS name); one test injects produce errors on
//! librdkafka's mock cluster.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rdkafka::message::Headers;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::Message;
use serde_json::{json, Value};
use support::{envelope, minutes_ago, World, WAIT};
use test_support::metrics::{metric, scrape};
use test_support::proxy::TcpProxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_land_in_every_table_with_exact_values_and_a_redelivery_adds_no_row() {
    let world = World::new().await;
    let at = minutes_ago(30);
    let with_customer = envelope("o-1", "store-1", Some("c-7"), at);
    let without_customer = envelope("o-2", "store-1", None, at);
    world.produce(&with_customer).await;
    world.produce(&without_customer).await;
    world.produce(&with_customer).await; // a redelivered retry
    let job = world.start_job().await;
    world.wait_for_orders(2).await;
    world.wait_for_commits(3).await;

    for table in ["orders_by_id", "orders_by_store_day", "orders_by_day"] {
        let rows = world.rows_per_order(table).await;
        assert_eq!(
            rows,
            HashMap::from([("o-1".to_string(), 1), ("o-2".to_string(), 1)]),
            "{table}"
        );
    }
    assert_eq!(
        world.rows_per_order("orders_by_customer_month").await,
        HashMap::from([("o-1".to_string(), 1)])
    );

    type ById = (
        String,
        String,
        Option<String>,
        String,
        String,
        DateTime<Utc>,
        NaiveDate,
        Vec<String>,
        Vec<String>,
        Vec<i32>,
        Vec<i64>,
        i32,
        i64,
        i64,
        i64,
    );
    let (store, terminal, customer, channel, currency, created, day, skus, names, quantities, prices, items, discount, tax, total): ById = world
        .one_row(
            "SELECT store_id, terminal_id, customer_id, channel, currency, created_at, day, line_skus, line_names, line_quantities, \
             line_unit_prices_minor, item_count, discount_minor, tax_minor, total_minor FROM sales.orders_by_id WHERE order_id = ?",
            ("o-1",),
        )
        .await;
    assert_eq!(
        (store.as_str(), terminal.as_str(), customer.as_deref()),
        ("store-1", "t-3", Some("c-7"))
    );
    assert_eq!((channel.as_str(), currency.as_str()), ("delivery", "EUR"));
    assert_eq!((created, day), (at, at.date_naive()));
    assert_eq!(
        (skus, names),
        (
            vec!["sku-1".to_string(), "sku-2".into()],
            vec!["Latte".to_string(), "Bagel".into()]
        )
    );
    assert_eq!((quantities, prices), (vec![2, 1], vec![350, 225]));
    assert_eq!((items, discount, tax, total), (3, 25, 100, 1000));

    let (order_id, total, items, customer): (String, i64, i32, Option<String>) = world
        .one_row(
            "SELECT order_id, total_minor, item_count, customer_id FROM sales.orders_by_store_day WHERE store_id = ? AND day = ? AND created_at = ? AND order_id = ?",
            ("store-1", at.date_naive(), at, "o-1"),
        )
        .await;
    assert_eq!(
        (order_id.as_str(), total, items, customer.as_deref()),
        ("o-1", 1000, 3, Some("c-7"))
    );

    // The customer's orders are kept per month; the month is listed for the customer.
    let (month,): (i32,) = world
        .one_row(
            "SELECT month FROM sales.customer_months WHERE customer_id = ?",
            ("c-7",),
        )
        .await;
    assert_eq!(month, sales_stores::cassandra::customer_month(at));
    let (store, total): (String, i64) = world
        .one_row(
            "SELECT store_id, total_minor FROM sales.orders_by_customer_month WHERE customer_id = ? AND month = ?",
            ("c-7", month),
        )
        .await;
    assert_eq!((store.as_str(), total), ("store-1", 1000));
    job.shutdown().await.expect("the job stopped cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dead_letter_topic_and_the_job_goes_on() {
    let world = World::new().await;
    let good: Value =
        serde_json::from_slice(&envelope("ok-1", "store-1", None, minutes_ago(5)).to_json())
            .unwrap();
    let mut unknown_version = good.clone();
    unknown_version["schema_version"] = json!(0);
    let mut bad_total = good.clone();
    bad_total["order"]["order_id"] = json!("bad-total");
    bad_total["order"]["total_minor"] = json!(1);
    world
        .kafka
        .produce(&world.topic, "garbage", b"{not json")
        .await;
    world
        .kafka
        .produce(&world.topic, "ok-1", unknown_version.to_string().as_bytes())
        .await;
    world
        .kafka
        .produce(&world.topic, "bad-total", bad_total.to_string().as_bytes())
        .await;
    world
        .produce(&envelope("ok-2", "store-1", None, minutes_ago(5)))
        .await;

    let job = world.start_job().await;
    world.wait_for_orders(1).await;
    world.wait_for_commits(4).await;
    assert_eq!(
        world.rows_per_order("orders_by_id").await,
        HashMap::from([("ok-2".to_string(), 1)])
    );

    let dead = world
        .kafka
        .read_topic(&format!("{}.dlq", world.topic), 3, WAIT);
    assert_eq!(dead.len(), 3);
    let mut seen = Vec::new();
    for message in &dead {
        let headers = message.headers().expect("dead letters carry headers");
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("dlq.source.topic"), world.topic);
        assert!(header("dlq.source.partition").parse::<i32>().is_ok());
        assert!(header("dlq.source.offset").parse::<i64>().is_ok());
        assert!(!header("dlq.error.message").is_empty());
        seen.push((
            String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            header("dlq.error.code"),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("bad-total".to_string(), "invalid_order".to_string()),
            ("garbage".to_string(), "malformed".to_string()),
            ("ok-1".to_string(), "unsupported_schema_version".to_string()),
        ]
    );
    let metrics = scrape(&format!("http://{}/metrics", job.admin_addr())).await;
    assert_eq!(
        metric(
            &metrics,
            "stream_job_dead_lettered_total{code=\"malformed\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "stream_job_written_total{table=\"orders_by_id\"}"),
        1.0,
        "{metrics}"
    );
    // Every stream-job metric the alert rules read is exposed under that name.
    for name in alerted_metrics() {
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "deploy/prometheus/alerts.yml reads {name}, which stream-job does not expose:\n{metrics}"
        );
    }
    job.shutdown().await.expect("the job stopped cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_stream_and_restarted_stores_every_order_exactly_once() {
    let world = World::new().await;
    let total = 400;
    for i in 0..total {
        world
            .produce(&envelope(
                &format!("k-{i}"),
                &format!("store-{}", i % 7),
                Some("c-1"),
                minutes_ago(i % 90),
            ))
            .await;
    }
    let job = world.start_job().await;
    let deadline = Instant::now() + WAIT;
    while world.rows_per_order("orders_by_id").await.len() < 40 {
        assert!(Instant::now() < deadline, "the job wrote nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    job.kill();
    let at_kill = world.rows_per_order("orders_by_id").await.len();
    let committed_at_kill = world.kafka.committed_total(&world.group, &world.topic);
    assert!(
        committed_at_kill as usize <= at_kill,
        "committed {committed_at_kill} but only {at_kill} stored"
    );

    let job = world.start_job().await;
    let rows = world.wait_for_orders(total as usize).await;
    world.wait_for_commits(total).await;
    assert_eq!(rows.len(), total as usize);
    for table in [
        "orders_by_id",
        "orders_by_store_day",
        "orders_by_customer_month",
        "orders_by_day",
    ] {
        let rows = world.rows_per_order(table).await;
        assert_eq!(rows.len(), total as usize, "{table}");
        assert!(
            rows.values().all(|n| *n == 1),
            "{table} has a duplicate row"
        );
    }
    job.shutdown().await.expect("the job stopped cleanly");
}

/// The stream-job metrics deploy/prometheus/alerts.yml's expressions read.
fn alerted_metrics() -> Vec<String> {
    let path = test_support::stores::repository_root().join("deploy/prometheus/alerts.yml");
    let rules = std::fs::read_to_string(&path).expect("read the alert rules");
    let mut names: Vec<String> = rules
        .lines()
        .filter(|line| line.trim_start().starts_with("expr:"))
        .flat_map(|line| line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| word.starts_with("stream_job_"))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 4, "{names:?}");
    names
}

/// The largest `stream_job_lag_seconds` (ingest time) over the partitions.
fn max_lag(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("stream_job_lag_seconds{") && l.contains("since=\"ingest\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, f64::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_cassandra_is_unreachable_nothing_is_committed_or_lost() {
    let world = World::new().await;
    let proxy = TcpProxy::start(world.cassandra.contact_point()).await;
    let job = world
        .start_job_via(&proxy.addr(), world.clickhouse.url())
        .await;
    world
        .produce_series("before", 0..20, ("store-1", None), |_| minutes_ago(1))
        .await;
    world.wait_for_orders(20).await;
    world.wait_for_commits(20).await;

    let metrics_url = format!("http://{}/metrics", job.admin_addr());
    // Caught up: healthy, no lag, store-1's newest event known to Prometheus.
    let metrics = scrape(&metrics_url).await;
    assert_eq!(metric(&metrics, "stream_job_healthy"), 1.0, "{metrics}");
    assert_eq!(max_lag(&metrics), 0.0, "{metrics}");
    let newest = minutes_ago(1).timestamp_millis() as f64 / 1e3;
    let store_1 = metric(
        &metrics,
        "stream_job_store_last_event_timestamp_seconds{store_id=\"store-1\"}",
    );
    assert!(
        (newest - 5.0..=newest).contains(&store_1),
        "{store_1} vs {newest}"
    );

    proxy.cut();
    world
        .produce_series("during", 0..30, ("store-2", Some("c-2")), |_| {
            minutes_ago(1)
        })
        .await;
    world.assert_outage_holds_commits(&job, 20).await;
    let health = format!("http://{}/health", job.admin_addr());
    assert_eq!(world.rows_per_order("orders_by_id").await.len(), 20);
    // Unhealthy, and the orders waiting behind the last commit show as lag in seconds (once
    // librdkafka's statistics, every 5 s, report them waiting).
    let deadline = Instant::now() + WAIT;
    let metrics = loop {
        let metrics = scrape(&metrics_url).await;
        if max_lag(&metrics) >= 2.0 || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(metric(&metrics, "stream_job_healthy"), 0.0, "{metrics}");
    assert!(max_lag(&metrics) >= 2.0, "{metrics}");
    assert_eq!(
        metric(
            &metrics,
            "stream_job_store_last_event_timestamp_seconds{store_id=\"store-2\"}"
        ),
        0.0,
        "store-2's orders are not committed yet"
    );

    proxy.restore();
    world.wait_for_orders(50).await;
    world.wait_for_commits(50).await;
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    // librdkafka's statistics (every 5 s) give the consumer lag in messages: orders waited
    // during the outage, none once caught up.
    let caught_up = |metrics: &str| {
        (0..3)
            .all(|p| metrics.contains(&format!("stream_job_consumer_lag{{partition=\"{p}\"}} 0\n")))
    };
    let deadline = Instant::now() + WAIT;
    let metrics = loop {
        let metrics = scrape(&metrics_url).await;
        if caught_up(&metrics) || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(caught_up(&metrics), "{metrics}");
    assert_eq!(metric(&metrics, "stream_job_healthy"), 1.0);
    assert!(
        metric(
            &metrics,
            "stream_job_store_last_event_timestamp_seconds{store_id=\"store-2\"}"
        ) > 0.0
    );
    assert!(
        metric(
            &metrics,
            "stream_job_sink_failures_total{sink=\"cassandra\"}"
        ) > 0.0,
        "the outage should show as failed write attempts:\n{metrics}"
    );
    job.shutdown().await.expect("the job stopped cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_commits_what_is_written_and_the_other_member_takes_over() {
    let world = World::new().await;
    world
        .produce_series("g", 0..100, ("store-3", None), |_| minutes_ago(2))
        .await;
    let first = world.start_job().await;
    let second = world.start_job().await;
    world.wait_for_orders(100).await;
    first.shutdown().await.expect("the job stopped cleanly");
    world
        .produce_series("g", 100..150, ("store-3", None), |_| minutes_ago(2))
        .await;
    world.wait_for_orders(150).await;
    second.shutdown().await.expect("the job stopped cleanly");
    assert_eq!(world.kafka.committed_total(&world.group, &world.topic), 150);
    assert!(world
        .rows_per_order("orders_by_id")
        .await
        .values()
        .all(|n| *n == 1));
}

/// stream-job refuses to start on a cluster without its dead-letter topic, naming it: with
/// automatic topic creation off (as compose and the test broker run) its dead letters could never
/// be sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_refuses_to_start_without_its_dead_letter_topic() {
    let world = World::new().await;
    let missing = test_support::unique_name("missing-dlq");
    let mut config = world.job_config(world.cassandra.contact_point(), world.clickhouse.url());
    config.kafka.dlq_topic = missing.clone();
    let refused = stream_job::startup::StreamJob::start(config)
        .await
        .err()
        .expect("the job must not start without its dead-letter topic");
    let text = format!("{refused:#}");
    assert!(text.contains(&missing), "{text}");
    assert!(text.contains("does not exist"), "{text}");
}

/// The dead-letter topic deleted while the job runs: the next poison message turns `/health` red
/// within seconds, naming the topic, nothing past the message is committed, and once the topic is
/// back the job sends the letter, commits and is healthy by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dead_letter_topic_shows_on_health_and_holds_commits_until_it_is_back() {
    let world = World::new().await;
    let dlq = format!("{}.dlq", world.topic);
    world
        .produce(&envelope("before", "store-001", None, Utc::now()))
        .await;
    let job = world.start_job().await;
    world.wait_for_commits(1).await;

    world.kafka.delete_topic(&dlq).await;
    world.kafka.produce(&world.topic, "garbage", b"{oops").await;
    world
        .produce(&envelope("after", "store-001", None, Utc::now()))
        .await;
    let started = Instant::now();
    world.wait_until_unhealthy(&job, &dlq).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "health named the missing topic only after {:?}",
        started.elapsed()
    );
    world.assert_outage_holds_commits(&job, 1).await;

    world.kafka.create_topic(&dlq, 1).await;
    world.wait_for_commits(3).await;
    let health = format!("http://{}/health", job.admin_addr());
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    let letters = world.kafka.read_topic(&dlq, 1, Duration::from_secs(10));
    assert_eq!(letters.len(), 1);
    assert_eq!(test_support::kafka::key_text(&letters[0]), "garbage");
    job.shutdown().await.expect("the job stopped cleanly");
}

/// A dead letter Kafka refuses shows on `/health`, naming the step, while the job retries it; once
/// Kafka takes it, the job is healthy again and the message is committed. On the mock cluster: a
/// real broker can't be told to refuse the next six produce requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_that_cannot_be_sent_shows_on_health_until_it_is() {
    let world = World::with_injected_errors().await;
    let mock = world.kafka.mock().expect("the mock cluster");
    world.kafka.produce(&world.topic, "garbage", b"{oops").await;
    // The next produce requests (the job's dead letters) are refused, then Kafka recovers.
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 6],
    );
    let job = world.start_job().await;
    world.wait_until_unhealthy(&job, "dead letter").await;
    world.wait_for_commits(1).await;
    let health = format!("http://{}/health", job.admin_addr());
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    job.shutdown().await.expect("the job stopped cleanly");
}

/// A message of a newer schema version (a newer ingest-api during a rolling upgrade) is not
/// poison: the job pauses in front of it — nothing dead-lettered, nothing committed past it —
/// and `/health` says why, until it is upgraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_version_pauses_the_job_instead_of_dead_lettering() {
    let world = World::new().await;
    world
        .produce(&envelope("before", "store-1", None, minutes_ago(5)))
        .await;
    let job = world.start_job().await;
    world.wait_for_commits(1).await;

    let mut newer: Value =
        serde_json::from_slice(&envelope("newer", "store-1", None, minutes_ago(5)).to_json())
            .unwrap();
    newer["schema_version"] = json!(3);
    world
        .kafka
        .produce(&world.topic, "newer", newer.to_string().as_bytes())
        .await;
    world
        .wait_until_unhealthy(&job, "newer than this build reads")
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        world.kafka.committed_total(&world.group, &world.topic),
        1,
        "nothing is committed past the newer message"
    );
    assert_eq!(
        world
            .kafka
            .end_offsets_total(&format!("{}.dlq", world.topic)),
        0
    );
    job.kill();
}

/// A refund posted before its sale is stored unattributed (`unknown`, sale not known), and a
/// crash while its batch is written must not change that (issue 24): Cassandra stores a batch's
/// refunds before its sales, so a replay never finds the sale stored without the refund. The
/// crash falls between the writes: `refunds_by_day` is dropped, so the refund cannot be stored,
/// the job is killed while it retries, and the table is back for the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_keeps_its_attribution_when_the_job_dies_between_the_writes_of_its_batch() {
    let mut world = World::new().await;
    // One write at a time, so a store that wrote the batch's sales first would have stored the
    // sale before it tried the refund.
    world.settings = vec![("CASSANDRA_CONCURRENCY", "1")];
    // The job prepares its statements at start; the table goes once it runs.
    let job = world.start_job().await;
    world
        .produce(&envelope("o-first", "store-1", None, minutes_ago(10)))
        .await;
    world.wait_for_commits(1).await;
    let table = format!("{}.refunds_by_day", world.keyspace);
    world
        .session
        .query_unpaged(format!("DROP TABLE {table}"), ())
        .await
        .expect("drop refunds_by_day");
    // Produced together (one partition, the refund first), so the job reads them in one batch.
    let at = minutes_ago(10);
    let refund = test_support::orders::refund("r-early", "o-late", "store-1", at, 500, None);
    let sale = envelope("o-late", "store-1", None, at);
    world
        .kafka
        .produce_all(
            &world.topic,
            &[
                ("o-late".to_string(), refund.to_json()),
                ("o-late".to_string(), sale.to_json()),
            ],
        )
        .await;
    world.wait_until_unhealthy(&job, "refunds_by_day").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !world
            .rows_per_order("orders_by_id")
            .await
            .contains_key("o-late"),
        "the sale was stored while the refund before it was not"
    );
    job.kill();

    sales_stores::cassandra::schema::apply(
        &world.session,
        &test_support::stores::repository_root().join("cql"),
        &world.keyspace,
        None,
    )
    .await
    .expect("create refunds_by_day again");
    let job = world.start_job().await;
    world.wait_for_commits(3).await;
    job.shutdown().await.expect("the job stopped cleanly");

    let stored: (String, bool) = world
        .one_row(
            "SELECT channel, sale_known FROM sales.refunds_by_id WHERE refund_id = ?",
            ("r-early",),
        )
        .await;
    assert_eq!(stored, ("unknown".to_string(), false));
    let by_day: Vec<(String, bool)> = world
        .scan("SELECT channel, sale_known FROM sales.refunds_by_day")
        .await;
    assert_eq!(by_day, [("unknown".to_string(), false)]);
    let facts: Vec<(String, u8)> = world
        .clickhouse
        .rows("SELECT channel, sale_known FROM sales.refund_facts FINAL")
        .await;
    assert_eq!(facts, [("unknown".to_string(), 0)]);
    assert_eq!(world.rows_per_order("orders_by_id").await.len(), 2);
}
