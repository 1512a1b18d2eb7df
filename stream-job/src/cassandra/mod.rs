//! The Cassandra path: connecting, applying `cql/`, and the sink that writes raw orders.

pub mod schema;
pub mod sink;

use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;

use crate::configuration::CassandraConfig;

/// Buckets of `orders_by_day`; changing it needs a new table.
pub const DAY_BUCKETS: u32 = 16;

/// The `orders_by_day` bucket of an order: FNV-1a (32 bit) of its id, so a retry always lands in
/// the same row.
pub fn day_bucket(order_id: &str) -> i32 {
    let hash = order_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (hash % DAY_BUCKETS) as i32
}

/// Opens a session with the configured consistency, timeout and data-centre awareness.
pub async fn connect(config: &CassandraConfig) -> anyhow::Result<Session> {
    let mut policy = DefaultPolicy::builder().token_aware(true);
    if let Some(dc) = &config.local_dc {
        policy = policy
            .prefer_datacenter(dc.clone())
            .permit_dc_failover(false);
    }
    let profile = ExecutionProfile::builder()
        .consistency(config.consistency)
        .request_timeout(Some(config.request_timeout))
        .load_balancing_policy(policy.build())
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&config.contact_points)
        .default_execution_profile_handle(profile.into_handle())
        .connection_timeout(Duration::from_secs(5))
        .auto_await_schema_agreement(config.await_schema_agreement);
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        builder = builder.user(user, password);
    }
    Ok(builder.build().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(day_bucket("pos-17-000123"), day_bucket("pos-17-000123"));
        let used: std::collections::HashSet<i32> = (0..1000)
            .map(|i| day_bucket(&format!("order-{i}")))
            .collect();
        assert_eq!(used.len(), DAY_BUCKETS as usize);
        assert!(used.iter().all(|b| (0..DAY_BUCKETS as i32).contains(b)));
    }
}
