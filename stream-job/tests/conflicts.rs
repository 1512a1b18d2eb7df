//! Conflicting duplicates (DESIGN.md §3): a later message reusing a stored `order_id` with other
//! content goes to `Order.dlq` as `conflicting_duplicate`, and the first version stays in
//! Cassandra, in ClickHouse's facts and in every aggregate, whether the two meet in one batch,
//! in two batches, or across a restart of the job.

mod support;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rdkafka::message::Headers;
use rdkafka::Message;
use sales_model::EventRecord;
use support::{minutes_ago, World, WAIT};
use test_support::metrics::{metric, scrape};
use test_support::orders::SampleOrder;

/// A one-line order of `store` sold through `channel`.
fn order(
    id: &str,
    store: &str,
    channel: &str,
    at: DateTime<Utc>,
    price: i64,
) -> sales_model::Envelope {
    SampleOrder::new(id, store, at)
        .with("channel", channel)
        .line("sku-1", "Latte", 1, price)
        .envelope()
}

async fn conflicts_counted(job: &stream_job::startup::StreamJob) -> f64 {
    let metrics = scrape(&format!("http://{}/metrics", job.admin_addr())).await;
    metric(&metrics, "stream_job_conflicting_duplicates_total")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_order_id_keeps_its_first_version_everywhere() {
    let world = World::new().await;
    let (earlier, later) = (minutes_ago(5), minutes_ago(3));
    // Inside one batch: both produced before the job starts, with a plain retry in between.
    for (id, channel) in [
        ("in-batch", "delivery"),
        ("in-batch", "delivery"),
        ("in-batch", "online"),
        ("across", "delivery"),
        ("restart", "delivery"),
    ] {
        world
            .produce(&order(id, "store-1", channel, earlier, 350))
            .await;
    }
    let job = world.start_job().await;
    world.wait_for_commits(5).await;
    assert_eq!(conflicts_counted(&job).await, 1.0);

    // Across batches: a later message reuses a stored id with another time, channel and price.
    world
        .produce(&order("across", "store-1", "online", later, 999))
        .await;
    world.wait_for_commits(6).await;
    assert_eq!(conflicts_counted(&job).await, 2.0);
    // A retry of a stored order is no conflict.
    world
        .produce(&order("across", "store-1", "delivery", earlier, 350))
        .await;
    world.wait_for_commits(7).await;
    assert_eq!(conflicts_counted(&job).await, 2.0);
    job.shutdown().await.expect("the job stopped cleanly");

    // Across a restart: the new run knows the stored version from Cassandra alone.
    world
        .produce(&order("restart", "store-2", "delivery", earlier, 350))
        .await;
    let job = world.start_job().await;
    world.wait_for_commits(8).await;
    assert_eq!(conflicts_counted(&job).await, 1.0);
    job.shutdown().await.expect("the job stopped cleanly");

    // Cassandra holds the first versions.
    let stored: Vec<(String, String, String, i64)> = world
        .scan("SELECT order_id, store_id, channel, total_minor FROM sales.orders_by_id")
        .await;
    let mut stored = stored;
    stored.sort();
    let first_versions: Vec<(String, String, String, i64)> = ["across", "in-batch", "restart"]
        .iter()
        .map(|id| (id.to_string(), "store-1".into(), "delivery".into(), 350))
        .collect();
    assert_eq!(stored, first_versions);
    assert_eq!(
        world.rows_per_order("orders_by_store_day").await,
        HashMap::from([
            ("across".into(), 1),
            ("in-batch".into(), 1),
            ("restart".into(), 1)
        ])
    );
    // So do ClickHouse's facts and windows: no row of a later version, stale or otherwise.
    let mut facts: Vec<(String, String, String, i64)> = world
        .clickhouse
        .rows("SELECT order_id, store_id, channel, total_minor FROM sales.order_facts FINAL")
        .await;
    facts.sort();
    assert_eq!(facts, first_versions);
    let windows: Vec<(String, String, u64, i64)> = world
        .clickhouse
        .rows("SELECT store_id, channel, sum(orders), sum(net_minor) FROM sales.sales_by_window FINAL GROUP BY store_id, channel ORDER BY store_id, channel")
        .await;
    assert_eq!(
        windows,
        vec![("store-1".into(), "delivery".into(), 3, 1050)]
    );

    // Each later version is a dead letter with the code and the fields that differ.
    let dead = world
        .kafka
        .read_topic(&format!("{}.dlq", world.topic), 3, WAIT);
    let mut letters: Vec<(String, String, String)> = dead
        .iter()
        .map(|m| {
            let header = |name: &str| {
                m.headers()
                    .and_then(|h| h.iter().find(|h| h.key == name))
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default()
            };
            (
                String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                header("dlq.error.code"),
                header("dlq.error.message"),
            )
        })
        .collect();
    letters.sort();
    let summary: Vec<(&str, &str)> = letters
        .iter()
        .map(|(key, code, _)| (key.as_str(), code.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("across", "conflicting_duplicate"),
            ("in-batch", "conflicting_duplicate"),
            ("restart", "conflicting_duplicate"),
        ]
    );
    assert!(
        letters[0]
            .2
            .contains("channel, created_at, items, total differ"),
        "{}",
        letters[0].2
    );
    assert!(letters[2].2.contains("store_id differ"), "{}", letters[2].2);
}

/// A POS that retries what it sent first, after a conflicting version came between (issue 24):
/// the retry is acknowledged like any retry, and only the conflicting version is a dead letter,
/// also when the conflicting version and the retry are read in one batch, the conflicting one
/// first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_of_the_first_version_after_a_conflicting_one_is_no_dead_letter() {
    let world = World::new().await;
    let at = minutes_ago(5);
    let first = order("retried", "store-1", "delivery", at, 350);
    world.produce(&first).await;
    let job = world.start_job().await;
    world.wait_for_commits(1).await;
    job.shutdown().await.expect("the job stopped cleanly");

    // Read in one batch by the next run: another body under the id, then the first one again.
    world
        .produce(&order("retried", "store-1", "online", at, 999))
        .await;
    world.produce(&first).await;
    let job = world.start_job().await;
    world.wait_for_commits(3).await;
    assert_eq!(conflicts_counted(&job).await, 1.0);
    job.shutdown().await.expect("the job stopped cleanly");

    let dead = world
        .kafka
        .read_topic(&format!("{}.dlq", world.topic), 1, WAIT);
    assert_eq!(dead.len(), 1);
    let letter: sales_model::Envelope =
        sales_model::Envelope::from_json(dead[0].payload().unwrap_or_default())
            .expect("the dead letter carries the original envelope");
    assert_eq!(
        EventRecord::from(&letter.event),
        EventRecord::from(&order("retried", "store-1", "online", at, 999).event),
        "the dead letter is the conflicting version, not the retry"
    );
    let stored: (String, i64) = world
        .one_row(
            "SELECT channel, total_minor FROM sales.orders_by_id WHERE order_id = ?",
            ("retried",),
        )
        .await;
    assert_eq!(stored, ("delivery".to_string(), 350));
}

/// The idempotency window (README, "Retries and the idempotency window"): a POS retry is
/// recognised as long as ingest-api accepts the order's `created_at`, `INGEST_MAX_AGE_SECS` behind
/// the server clock (60 s here, a week by default), because Cassandra keeps every first version
/// without expiry. Just inside the window the retry is acknowledged and counted once; past it,
/// the retry is refused as too old, and the order still counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_just_inside_the_idempotency_window_is_counted_once_and_one_past_it_refused() {
    const KEY: &str = "window-key-0123456789";
    let world = World::new().await;
    let (base, _ingest) = world
        .start_ingest(&[("INGEST_API_KEYS", KEY), ("INGEST_MAX_AGE_SECS", "60")])
        .await;
    let client = reqwest::Client::new();
    let created_at = chrono::Utc::now() - chrono::Duration::seconds(45);
    let body = SampleOrder::new("window-1", "store-1", created_at)
        .line("sku-1", "Latte", 2, 350)
        .json();
    let post = || {
        test_support::status_and_json(
            client
                .post(format!("{base}/v1/orders"))
                .bearer_auth(KEY)
                .json(&body),
        )
    };

    assert_eq!(post().await.0, 202);
    let job = world.start_job().await;
    world.wait_for_commits(1).await;
    // The POS did not hear the answer and retries, 45 s and more after the sale: inside the window.
    assert_eq!(
        post().await.0,
        202,
        "a retry inside the window is acknowledged"
    );
    world.wait_for_commits(2).await;

    // Past the window (60 s after created_at) the same retry is refused as too old.
    let past = created_at + chrono::Duration::seconds(62) - chrono::Utc::now();
    tokio::time::sleep(past.to_std().unwrap_or_default()).await;
    let (status, refused) = post().await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["code"], "too_old", "{refused}");
    assert_eq!(conflicts_counted(&job).await, 0.0);
    job.shutdown().await.expect("the job stopped cleanly");

    assert_eq!(world.kafka.committed_total(&world.group, &world.topic), 2);
    assert_eq!(
        world.rows_per_order("orders_by_id").await,
        HashMap::from([("window-1".to_string(), 1)])
    );
    let windows: Vec<(u64, i64)> = world
        .clickhouse
        .rows("SELECT sum(orders), sum(gross_minor) FROM sales.sales_by_window FINAL")
        .await;
    assert_eq!(windows, [(1, 700)], "the retried sale counts once");
}
