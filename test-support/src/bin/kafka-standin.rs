//! Starts librdkafka's mock cluster (the Kafka stand-in of DESIGN.md §8) for local runs without
//! Docker, prints its bootstrap address, and keeps it up until Ctrl-C or SIGTERM. No
//! persistence.

use std::io::Write;

use rdkafka::mocking::MockCluster;

fn main() {
    let partitions: i32 = std::env::var("KAFKA_TOPIC_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let topics = std::env::var("STANDIN_TOPICS").unwrap_or_else(|_| "Order,Order.dlq".to_string());
    let cluster = match MockCluster::new(1) {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("cannot start the mock cluster: {error}");
            std::process::exit(1);
        }
    };
    for topic in topics.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if let Err(error) = cluster.create_topic(topic, partitions, 1) {
            eprintln!("cannot create topic {topic}: {error}");
            std::process::exit(1);
        }
    }
    println!("{}", cluster.bootstrap_servers());
    let _ = std::io::stdout().flush();
    test_support::wait_for_shutdown();
}
