//! Starts the kassandra in-memory CQL server (the Cassandra stand-in of DESIGN.md §8) for local
//! runs without Docker, on CASSANDRA_STANDIN_ADDR (default 127.0.0.1:9042), until Ctrl-C.
//! Nothing is persisted; it ignores LIMIT and clustering order.

use test_support::cassandra::TestCassandra;

fn main() {
    let bind =
        std::env::var("CASSANDRA_STANDIN_ADDR").unwrap_or_else(|_| "127.0.0.1:9042".to_string());
    let cassandra = TestCassandra::standin_on(&bind);
    println!("{}", cassandra.contact_point());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        }),
        Err(error) => eprintln!("cannot wait for Ctrl-C: {error}"),
    }
}
