//! recompute-bench: what one window recomputation costs as the window fills. Loads 1k, 10k and
//! 100k orders (two lines each) into one 60-second window of one store in ClickHouse, then times
//! stream-job's recompute statements for that window (median of 5 runs each).
//! Run with `cargo run --release -p bench --bin recompute-bench`.

use std::time::{Duration, Instant};

use stream_job::clickhouse::windows::{recompute_queries, Touched};

const WINDOW: u32 = 60;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stores = bench::stores().await;
    let ch = &stores.clickhouse;
    let db = ch.database();
    println!("recompute-bench: one {WINDOW}-second window of one store, both aggregate tables, median of 5");
    let mut base = 1_795_300_000 - 1_795_300_000 % WINDOW;
    let mut previous: Option<f64> = None;
    for orders in [1_000u64, 10_000, 100_000] {
        ch.query(&format!(
            "INSERT INTO {db}.order_facts SELECT toDateTime({base} + number % {WINDOW}), concat('o-', toString(number)), 'store-001', \
             'in_store', 'EUR', '', 'card', 3, 0, 0, 920, toDateTime({base}) FROM system.numbers LIMIT {orders}"
        ))
        .await;
        ch.query(&format!(
            "INSERT INTO {db}.order_line_facts SELECT toDateTime({base} + intDiv(number, 2) % {WINDOW}), concat('o-', toString(intDiv(number, 2))), \
             number % 2, 'store-001', 'EUR', concat('sku-', toString(number % 2)), 'Item', 1 + number % 2, 350, 350 * (1 + number % 2) \
             FROM system.numbers LIMIT {}",
            orders * 2
        ))
        .await;
        let mut touched = Touched::default();
        touched.add(base, "store-001");
        let range = &touched.ranges(WINDOW)[0];
        let mut runs = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            for query in recompute_queries(&ch.client(), range, WINDOW, db) {
                query.execute().await?;
            }
            runs.push(started.elapsed());
        }
        runs.sort();
        let median: Duration = runs[2];
        let (window_orders, version): (u64, u64) = ch
            .rows(&format!("SELECT orders, version FROM sales.sales_by_window FINAL WHERE window_start = toDateTime({base})"))
            .await
            .into_iter()
            .next()
            .unwrap_or_default();
        let ms = median.as_secs_f64() * 1e3;
        let growth = previous.map_or(String::new(), |p| {
            format!("  ({:.1}x the previous size's cost)", ms / p)
        });
        println!(
            "{orders:>7} orders in the window: {ms:>8.1} ms per recompute{growth}   [row: {window_orders} orders, version {version}]"
        );
        previous = Some(ms);
        base += WINDOW;
    }
    Ok(())
}
