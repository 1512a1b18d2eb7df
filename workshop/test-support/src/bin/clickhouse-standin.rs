//! Starts the current ClickHouse engine (chdb behind `chdb_front.py`, the stand-in of DESIGN.md
//! §8) for local runs without Docker, applies `clickhouse-sql/` to the database `sales` and loads
//! the store seed, prints its HTTP URL, and keeps it up until Ctrl-C or SIGTERM (the engine's
//! temporary directory goes with it).

use std::path::PathBuf;

use test_support::clickhouse::TestClickHouse;

fn main() {
    let sql = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "clickhouse-sql".to_string()),
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start a runtime: {error}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async {
        let clickhouse = TestClickHouse::start_in("sales").await;
        clickhouse.apply_schema(&sql).await;
        clickhouse
            .load_csv("stores", &sql.join("seed/stores.csv"))
            .await;
        println!("{}", clickhouse.url());
        // Ctrl-C or SIGTERM: return; the engine's front exits when this process's pipe to it
        // closes.
        service_runtime::shutdown::signal().await;
    });
}
