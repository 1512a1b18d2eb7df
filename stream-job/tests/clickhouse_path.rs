//! stream-job's ClickHouse path: facts, windowed aggregates recomputed exactly under replays and
//! late orders, and back-pressure while ClickHouse is unreachable.

mod support;

use chrono::{DateTime, Utc};
use std::time::Duration;
use support::{envelope, World};
use test_support::clickhouse::TestClickHouse;
use test_support::metrics::{metric, scrape};

use stream_job::startup::StreamJob;
use test_support::proxy::TcpProxy;

/// The test's clock: the start of the current minute, read once so that every moment a test
/// names stays in the same window however long the test runs.
fn minute_now() -> i64 {
    let now = Utc::now().timestamp();
    now - now % 60
}

/// A `sales_by_window` row: start, store, channel, currency, orders, items, revenue, version.
type SalesWindow = (u32, String, String, String, u64, u64, i64, u64);

/// A job that reaches ClickHouse through a proxy: `before` orders produced and committed, then
/// ClickHouse cut off and `during` more orders produced (of one store, minutes ago).
async fn cut_after_commits(world: &World, before: i64, during: i64) -> (TcpProxy, StreamJob) {
    let base = minute_now();
    let target = world
        .clickhouse
        .url()
        .trim_start_matches("http://")
        .to_string();
    let proxy = TcpProxy::start(&target).await;
    let job = world
        .start_job_via(
            world.cassandra.contact_point(),
            &format!("http://{}", proxy.addr()),
        )
        .await;
    world
        .produce_series("before", 0..before, ("store-003", None), |i| at(base, 5, i))
        .await;
    world.wait_for_commits(before).await;
    proxy.cut();
    world
        .produce_series("during", 0..during, ("store-003", None), |i| at(base, 4, i))
        .await;
    (proxy, job)
}

/// Orders and revenue (minor units) over every daily row.
async fn daily_totals(world: &World) -> Vec<(u64, i64)> {
    world
        .clickhouse
        .rows("SELECT sum(orders), sum(revenue_minor) FROM sales.v_sales_daily")
        .await
}

/// Every window's start, store, orders, revenue and version, in time and store order.
async fn store_windows(world: &World) -> Vec<(u32, String, u64, i64, u64)> {
    world
        .clickhouse
        .rows("SELECT toUInt32(window_start), store_id, orders, net_minor, version FROM sales.sales_by_window FINAL ORDER BY window_start, store_id")
        .await
}

/// A moment as ClickHouse's `DateTime` holds it.
fn epoch(t: DateTime<Utc>) -> u32 {
    u32::try_from(t.timestamp()).expect("a time after 1970")
}

/// `minutes` minutes before `base`, plus `seconds`.
fn at(base: i64, minutes: i64, seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(base - minutes * 60 + seconds, 0).expect("valid time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_hold_exact_totals_under_redelivery_and_late_orders() {
    let world = World::new().await;
    let base = minute_now();
    // Each test order: 3 items, total 10.00 (see support::envelope).
    let first = [
        envelope("w-1", "store-001", None, at(base, 10, 5)),
        envelope("w-2", "store-001", None, at(base, 10, 50)),
        envelope("w-3", "store-002", Some("c-1"), at(base, 9, 1)),
    ];
    for order in &first {
        world.produce(order).await;
    }
    world.produce(&first[0]).await; // redelivered
    let job = world.start_job().await;
    world.wait_for_commits(4).await;

    let windows: Vec<SalesWindow> = world
        .clickhouse
        .rows("SELECT toUInt32(window_start), store_id, channel, currency, orders, items, net_minor, version FROM sales.sales_by_window FINAL ORDER BY window_start, store_id")
        .await;
    let w10 = epoch(at(base, 10, 0));
    let w9 = epoch(at(base, 9, 0));
    let delivery_eur = |window, store: &str, orders, items, revenue, version| {
        (
            window,
            store.to_string(),
            "delivery".to_string(),
            "EUR".to_string(),
            orders,
            items,
            revenue,
            version,
        )
    };
    assert_eq!(
        windows,
        vec![
            delivery_eur(w10, "store-001", 2, 6, 2000, 2),
            delivery_eur(w9, "store-002", 1, 3, 1000, 1),
        ]
    );
    let products: Vec<(u32, String, String, u64, u64, i64)> = world
        .clickhouse
        .rows("SELECT toUInt32(window_start), store_id, sku, orders, quantity, net_minor FROM sales.product_sales_by_window FINAL ORDER BY window_start, store_id, sku")
        .await;
    let product = |window, store: &str, sku: &str, orders, quantity, revenue| {
        (
            window,
            store.to_string(),
            sku.to_string(),
            orders,
            quantity,
            revenue,
        )
    };
    assert_eq!(
        products,
        vec![
            product(w10, "store-001", "sku-1", 2, 4, 1400),
            product(w10, "store-001", "sku-2", 2, 2, 450),
            product(w9, "store-002", "sku-1", 1, 2, 700),
            product(w9, "store-002", "sku-2", 1, 1, 225),
        ]
    );

    // A late order, hours behind, and another into the first window: the old windows are
    // recomputed with a higher version and the totals grow; nothing goes backwards.
    world
        .produce(&envelope("late-1", "store-001", None, at(base, 180, 30)))
        .await;
    world
        .produce(&envelope("w-4", "store-001", None, at(base, 10, 30)))
        .await;
    world.produce(&first[1]).await; // and one more replay
    world.wait_for_commits(7).await;
    let windows = store_windows(&world).await;
    let w180 = epoch(at(base, 180, 0));
    let window = |start, store: &str, orders, revenue, version| {
        (start, store.to_string(), orders, revenue, version)
    };
    assert_eq!(
        windows,
        vec![
            window(w180, "store-001", 1, 1000, 1),
            window(w10, "store-001", 3, 3000, 3),
            window(w9, "store-002", 1, 1000, 1),
        ]
    );
    // The view's decimal revenue, compared as a number of cents: 50.00 EUR.
    let daily: Vec<(u64, u64, i64)> = world
        .clickhouse
        .rows(
            "SELECT sum(orders), sum(items), toInt64(sum(revenue) * 100) FROM sales.v_sales_daily",
        )
        .await;
    assert_eq!(daily, vec![(5, 15, 5000)]);
    let named: Vec<(String, String)> = world
        .clickhouse
        .rows("SELECT DISTINCT store_name, region FROM sales.v_sales_by_window WHERE store_id = 'store-001'")
        .await;
    assert_eq!(
        named,
        vec![("Alexanderplatz".to_string(), "East".to_string())]
    );

    let metrics = scrape(&format!("http://{}/metrics", job.admin_addr())).await;
    let value = |name: &str| metric(&metrics, name.trim_end());
    assert!(
        value("stream_job_windows_recomputed_total ") >= 4.0,
        "{metrics}"
    );
    // A replay inside one batch is written once, so 6 or 7 fact rows for 7 messages; every
    // written order is timed once its window recompute completed.
    let facts = value("stream_job_written_total{table=\"order_facts\"} ");
    assert!((6.0..=7.0).contains(&facts), "{metrics}");
    assert_eq!(
        value("stream_job_freshness_seconds_count "),
        facts,
        "{metrics}"
    );
    job.shutdown().await.expect("the job stopped cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_clickhouse_is_unreachable_nothing_is_committed_or_lost() {
    let world = World::new().await;
    let (proxy, job) = cut_after_commits(&world, 10, 15).await;
    world.assert_outage_holds_commits(&job, 10).await;

    proxy.restore();
    world.wait_for_commits(25).await;
    assert_eq!(daily_totals(&world).await, vec![(25, 25_000)]);
    assert_eq!(world.rows_per_order("orders_by_id").await.len(), 25);
    job.shutdown().await.expect("the job stopped cleanly");
}

/// A replay of several days — orders spread over the last four days, read in one go — is
/// recomputed in day-bounded statements, and every day's totals come out exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_several_days_is_recomputed_exactly() {
    let world = World::new().await;
    let base = minute_now();
    // Four orders a day, half an hour apart, on each of the last four days.
    let when = |i: i64| at(base, (i / 4) * 1_440 + (i % 4) * 30, 0);
    world
        .produce_series("replay", 0..16, ("store-005", None), when)
        .await;
    let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
    for i in 0..16 {
        *expected
            .entry(when(i).date_naive().to_string())
            .or_default() += 1;
    }
    let job = world.start_job().await;
    world.wait_for_commits(16).await;
    let days = orders_by_day(&world.clickhouse).await;
    assert_eq!(days, expected.into_iter().collect::<Vec<_>>());
    job.shutdown().await.expect("the job stopped cleanly");
}

/// A replay of history: one batch of orders over 150 business days (ClickHouse refuses one insert
/// over more than 100 daily partitions) is stored whole, each day with its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_more_than_a_hundred_days_is_stored_whole() {
    let mut world = World::new().await;
    world.settings.push(("STREAM_JOB_BATCH_MAX", "500"));
    let noon = Utc::now()
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let messages: Vec<(String, Vec<u8>)> = (1..=150)
        .map(|days| {
            let at = noon - chrono::Duration::days(days);
            let id = format!("history-{days}");
            let order = test_support::orders::SampleOrder::new(&id, "store-005", at)
                .envelope_at(at + chrono::Duration::minutes(1));
            (id, order.to_json())
        })
        .collect();
    world.kafka.produce_all(&world.topic, &messages).await;
    let job = world.start_job().await;
    world.wait_for_commits(150).await;
    let days = orders_by_day(&world.clickhouse).await;
    assert_eq!(days.len(), 150, "{days:?}");
    assert!(days.iter().all(|(_, orders)| *orders == 1), "{days:?}");
    job.shutdown().await.expect("the job stopped cleanly");
}

/// A store id that contains the database's name (`eu-sales.1`, database `sales_…`) is recomputed
/// like any other: the recompute statements bind their values instead of renaming text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_named_like_the_database_gets_its_windows() {
    let world = World::new().await;
    let base = minute_now();
    world
        .produce_series("named", 0..3, ("eu-sales.1", None), |i| at(base, 2, i))
        .await;
    let job = world.start_job().await;
    world.wait_for_commits(3).await;
    let windows = store_windows(&world).await;
    assert_eq!(
        windows,
        vec![(epoch(at(base, 2, 0)), "eu-sales.1".to_string(), 3, 3_000, 3)]
    );
    job.shutdown().await.expect("the job stopped cleanly");
}

/// A job keeping pace flushes after every batch that was not full, not once per flush interval:
/// with an interval of two minutes, orders are committed and their window recomputed within
/// `WAIT` (30 s), which an interval-only flush could not do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_keeping_pace_flushes_without_waiting_for_the_interval() {
    let mut world = World::new().await;
    world
        .settings
        .push(("STREAM_JOB_FLUSH_INTERVAL_MS", "120000"));
    let job = world.start_job().await;
    let base = minute_now();
    world
        .produce_series("pace", 0..4, ("pace-store", None), |i| at(base, 1, i))
        .await;
    world.wait_for_commits(4).await;
    assert_eq!(
        store_windows(&world).await,
        vec![(epoch(at(base, 1, 0)), "pace-store".to_string(), 4, 4_000, 4)]
    );
    job.shutdown().await.expect("the job stopped cleanly");
}

/// A graceful stop finishes the batch being written: ClickHouse is unreachable when the stop comes
/// and back two seconds later, so the job goes on retrying that batch, then flushes and commits it
/// before it exits, instead of leaving it to be read again. (Messages not yet read stay
/// uncommitted: back-pressure reads nothing new while a write is retried.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_the_batch_being_written() {
    let world = World::new().await;
    let (proxy, job) = cut_after_commits(&world, 5, 5).await;
    // Cassandra holds a batch of the last orders; its ClickHouse write is being retried.
    world.wait_for_orders(6).await;
    let restore_later = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.restore();
    };
    let (stopped, ()) = tokio::join!(job.shutdown(), restore_later);
    stopped.expect("the job stopped cleanly");
    let stored = world.rows_per_order("orders_by_id").await.len() as u64;
    let committed = world.kafka.committed_total(&world.group, &world.topic) as u64;
    assert!(committed > 5, "the batch in flight was abandoned");
    assert_eq!(
        committed, stored,
        "every stored order is committed, nothing more"
    );
    assert_eq!(
        daily_totals(&world).await,
        vec![(stored, stored as i64 * 1_000)]
    );
}

/// A smoke test of the Rust client against a real ClickHouse server (Debian's 18.16, or the one
/// `CLICKHOUSE_URL` names): the job's compressed RowBinary inserts and its recompute statements
/// are accepted, and typed reads come back. The current engine carries every other test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_works_against_a_real_clickhouse_server() {
    let world = World::on(TestClickHouse::start_real_server().await).await;
    let base = minute_now();
    world
        .produce(&envelope("real-1", "store-001", None, at(base, 3, 5)))
        .await;
    world
        .produce(&envelope(
            "real-2",
            "store-002",
            Some("c-1"),
            at(base, 3, 40),
        ))
        .await;
    let job = world.start_job().await;
    world.wait_for_commits(2).await;
    let windows = store_windows(&world).await;
    let w3 = epoch(at(base, 3, 0));
    assert_eq!(
        windows,
        vec![
            (w3, "store-001".to_string(), 1, 1000, 1),
            (w3, "store-002".to_string(), 1, 1000, 1),
        ]
    );
    let lines: Vec<u64> = world
        .clickhouse
        .rows("SELECT count() FROM sales.order_line_facts FINAL")
        .await;
    assert_eq!(lines, vec![4], "two orders of two lines each");
    job.shutdown().await.expect("the job stopped cleanly");
}

/// Orders a day, by day, as the daily view shows them.
async fn orders_by_day(clickhouse: &TestClickHouse) -> Vec<(String, u64)> {
    clickhouse
        .rows(
            "SELECT toString(day), sum(orders) FROM sales.v_sales_daily GROUP BY day ORDER BY day",
        )
        .await
}
