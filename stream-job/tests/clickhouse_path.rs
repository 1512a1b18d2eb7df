//! stream-job's ClickHouse path: facts, windowed aggregates recomputed exactly under replays and
//! late orders, and back-pressure while ClickHouse is unreachable.

mod support;

use chrono::{DateTime, Utc};
use support::{envelope, World};
use test_support::proxy::TcpProxy;

/// The test's clock: the start of the current minute, read once so that every moment a test
/// names stays in the same window however long the test runs.
fn minute_now() -> i64 {
    let now = Utc::now().timestamp();
    now - now % 60
}

/// `minutes` minutes before `base`, plus `seconds`.
fn at(base: i64, minutes: i64, seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(base - minutes * 60 + seconds, 0).expect("valid time")
}

impl World {
    /// Rows of a query against the test database, TSV lines.
    async fn tsv(&self, sql: &str) -> Vec<String> {
        let sql = sql.replace("sales.", &format!("{}.", self.clickhouse.database()));
        self.clickhouse
            .query(&format!("{sql} FORMAT TSV"))
            .await
            .lines()
            .map(str::to_string)
            .collect()
    }
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

    let windows = world
        .tsv("SELECT toUInt32(window_start), store_id, channel, currency, orders, items, revenue_minor, version FROM sales.sales_by_window FINAL ORDER BY window_start, store_id")
        .await;
    let w10 = at(base, 10, 0).timestamp();
    let w9 = at(base, 9, 0).timestamp();
    assert_eq!(
        windows,
        vec![
            format!("{w10}\tstore-001\tdelivery\tEUR\t2\t6\t2000\t2"),
            format!("{w9}\tstore-002\tdelivery\tEUR\t1\t3\t1000\t1"),
        ]
    );
    let products = world
        .tsv("SELECT toUInt32(window_start), store_id, sku, orders, quantity, revenue_minor FROM sales.product_sales_by_window FINAL ORDER BY window_start, store_id, sku")
        .await;
    assert_eq!(
        products,
        vec![
            format!("{w10}\tstore-001\tsku-1\t2\t4\t1400"),
            format!("{w10}\tstore-001\tsku-2\t2\t2\t450"),
            format!("{w9}\tstore-002\tsku-1\t1\t2\t700"),
            format!("{w9}\tstore-002\tsku-2\t1\t1\t225"),
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
    let windows = world
        .tsv("SELECT toUInt32(window_start), store_id, orders, revenue_minor, version FROM sales.sales_by_window FINAL ORDER BY window_start, store_id")
        .await;
    let w180 = at(base, 180, 0).timestamp();
    assert_eq!(
        windows,
        vec![
            format!("{w180}\tstore-001\t1\t1000\t1"),
            format!("{w10}\tstore-001\t3\t3000\t3"),
            format!("{w9}\tstore-002\t1\t1000\t1"),
        ]
    );
    let daily = world
        .tsv("SELECT sum(orders), sum(items), sum(revenue) FROM sales.v_sales_daily")
        .await;
    assert_eq!(daily, vec!["5\t15\t50.00"]);
    let named = world.tsv("SELECT DISTINCT store_name, region FROM sales.v_sales_by_window WHERE store_id = 'store-001'").await;
    assert_eq!(named, vec!["Alexanderplatz\tEast"]);

    let metrics = reqwest::get(format!("http://{}/metrics", job.admin_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    };
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
    job.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_clickhouse_is_unreachable_nothing_is_committed_or_lost() {
    let world = World::new().await;
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
    for i in 0..10 {
        world
            .produce(&envelope(
                &format!("before-{i}"),
                "store-003",
                None,
                at(base, 5, i),
            ))
            .await;
    }
    world.wait_for_commits(10).await;

    proxy.cut();
    for i in 0..15 {
        world
            .produce(&envelope(
                &format!("during-{i}"),
                "store-003",
                None,
                at(base, 4, i),
            ))
            .await;
    }
    world.assert_outage_holds_commits(&job, 10).await;

    proxy.restore();
    world.wait_for_commits(25).await;
    let totals = world
        .tsv("SELECT sum(orders), sum(revenue_minor) FROM sales.v_sales_daily")
        .await;
    assert_eq!(totals, vec!["25\t25000"]);
    assert_eq!(world.rows_per_order("orders_by_id").await.len(), 25);
    job.shutdown().await;
}
