//! What serving's integration tests share: stream-job loading the test topic into the stores, and
//! serving started on the same settings once it has reached Cassandra.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use sales_model::Envelope;
use service_runtime::settings::Settings;
use serving::configuration::ServingConfig;
use serving::jobs::Jobs;
use stream_job::configuration::StreamConfig;
use stream_job::startup::StreamJob;
use test_support::stores::TestStores;

/// Produces `events` to the test topic (keyed by their sale's order id, as ingest-api does), then
/// runs stream-job on `settings` until its group has committed everything the topic holds, and
/// stops it.
pub async fn load(stores: &TestStores, settings: &Settings<'_>, events: &[Envelope]) {
    let messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.event.order_id().as_str().to_string(), e.to_json()))
        .collect();
    stores.kafka.produce_all(&stores.topic, &messages).await;
    let config = StreamConfig::from_settings(settings).expect("job config");
    let group = config.kafka.group_id.clone();
    let job = StreamJob::start(config).await.expect("stream-job starts");
    stores
        .kafka
        .wait_caught_up(&group, &stores.topic, Duration::from_secs(60))
        .await
        .expect("stream-job commits every event of the topic");
    job.shutdown().await.expect("the job stopped cleanly");
}

/// serving, running on `settings`.
pub struct Serving {
    /// `http://host:port`
    pub base: String,
    pub jobs: Arc<Jobs>,
}

/// Starts serving on `settings` and returns once it has reached Cassandra.
pub async fn serve(settings: &Settings<'_>) -> Serving {
    let app = serving::startup::Application::build(
        ServingConfig::from_settings(settings).expect("serving config"),
    )
    .await
    .expect("serving starts");
    let serving = Serving {
        base: format!("http://{}", app.local_addr()),
        jobs: app.jobs(),
    };
    assert!(
        app.cassandra()
            .reached_within(Duration::from_secs(30))
            .await,
        "serving did not reach Cassandra"
    );
    tokio::spawn(app.run(std::future::pending()));
    serving
}
