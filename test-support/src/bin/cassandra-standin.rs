//! Starts the kassandra in-memory CQL server (the Cassandra stand-in of DESIGN.md §8) for local
//! runs without Docker, on CASSANDRA_STANDIN_ADDR (default 127.0.0.1:9042), until Ctrl-C or
//! SIGTERM. Nothing is persisted; it ignores LIMIT and clustering order.

use test_support::cassandra::TestCassandra;

fn main() {
    let bind =
        std::env::var("CASSANDRA_STANDIN_ADDR").unwrap_or_else(|_| "127.0.0.1:9042".to_string());
    let cassandra = TestCassandra::standin_on(&bind);
    println!("{}", cassandra.contact_point());
    test_support::wait_for_shutdown();
}
