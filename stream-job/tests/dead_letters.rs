//! `stream-job dead-letters list | show | replay` on the run's Apache Kafka and Cassandra: letters
//! counted by reason, one shown with its headers and bytes, and chosen letters sent through the
//! pipeline again, where those valid now are stored once (a second replay changes nothing) and
//! those that would be refused again are named and not sent.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use sales_model::Envelope;
use stream_job::dead_letter::{ERROR_CODE, ERROR_MESSAGE};
use stream_job::replay::{self, Selection, Verdict};
use support::{minutes_ago, World};
use test_support::orders::{refund, SampleOrder};

fn sale(id: &str, price: i64) -> Envelope {
    SampleOrder::new(id, "store-1", minutes_ago(10))
        .with("channel", "online")
        .line("sku-1", "Latte", 1, price)
        .envelope()
}

/// Writes a letter to the dead-letter topic as an earlier build would have: the message's key and
/// bytes with the reason headers.
async fn letter(world: &World, key: &str, payload: &[u8], code: &str) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", world.kafka.bootstrap_servers())
        .create()
        .expect("a producer");
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: ERROR_CODE,
            value: Some(code),
        })
        .insert(Header {
            key: ERROR_MESSAGE,
            value: Some("refused by an earlier build"),
        });
    producer
        .send(
            FutureRecord::to(&format!("{}.dlq", world.topic))
                .key(key)
                .payload(payload)
                .headers(headers),
            Duration::from_secs(10),
        )
        .await
        .expect("write the letter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_are_listed_shown_and_replayed_once_and_those_still_refused_are_named() {
    let world = World::new().await;
    let config = world.job_config(world.cassandra.contact_point(), world.clickhouse.url());
    let job = world.start_job().await;
    // Refused by this build: bytes that are no event, and another body under a stored order_id.
    world.produce(&sale("kept", 350)).await;
    world.wait_for_commits(1).await;
    world
        .kafka
        .produce(&world.topic, "junk", b"not an envelope")
        .await;
    world.produce(&sale("kept", 999)).await;
    world.wait_for_commits(3).await;
    // Refused by an earlier build (one that knew no refunds, say): a sale and its refund, valid now.
    let (late_sale, late_refund) = (
        sale("late", 500),
        refund("late-r", "late", "store-1", minutes_ago(5), 200, None),
    );
    letter(&world, "late", &late_sale.to_json(), "malformed").await;
    letter(&world, "late", &late_refund.to_json(), "malformed").await;

    let letters = replay::read_letters(&config).expect("read the letters");
    let codes: Vec<&str> = letters.iter().map(|l| l.code()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "conflicting_duplicate",
            "malformed",
            "malformed",
            "malformed"
        ]
    );
    let summary = replay::summary(&letters);
    assert!(summary.starts_with("4 dead letters"), "{summary}");
    assert!(
        summary.contains("malformed                    3"),
        "{summary}"
    );
    assert!(
        summary.contains("conflicting_duplicate        1"),
        "{summary}"
    );
    let junk = letters
        .iter()
        .find(|l| l.payload == b"not an envelope")
        .expect("the junk letter");
    let shown = replay::describe(junk);
    assert!(
        shown.contains(&format!("dead letter {}", junk.position())),
        "{shown}"
    );
    assert!(shown.contains("dlq.error.code: malformed"), "{shown}");
    assert!(shown.contains("key: junk"), "{shown}");
    assert!(shown.ends_with("not an envelope\n"), "{shown}");

    // The verdicts, and a dry run that sends nothing.
    let verdicts = replay::verdicts(&config, &letters).await.expect("verdicts");
    let by_key: HashMap<(String, bool), &Verdict> = letters
        .iter()
        .zip(&verdicts)
        .map(|(l, v)| {
            let key = String::from_utf8_lossy(l.key.as_deref().unwrap_or_default()).into_owned();
            ((key, l.payload.windows(6).any(|w| w == b"refund")), v)
        })
        .collect();
    assert_eq!(by_key[&("late".to_string(), false)], &Verdict::Send);
    assert_eq!(by_key[&("late".to_string(), true)], &Verdict::Send);
    assert!(
        matches!(by_key[&("junk".to_string(), false)], Verdict::RefusedAgain { code, .. } if code == "malformed")
    );
    assert!(
        matches!(by_key[&("kept".to_string(), false)], Verdict::RefusedAgain { code, .. } if code == "conflicting_duplicate")
    );
    let everything = Selection::default();
    let (report, would) = replay::replay(&config, &everything, true)
        .await
        .expect("dry run");
    assert_eq!(would, 2, "{report}");
    assert!(
        report.contains("would be refused again as conflicting_duplicate"),
        "{report}"
    );
    assert!(
        report.contains("would be refused again as malformed"),
        "{report}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        world.kafka.committed_total(&world.group, &world.topic),
        3,
        "a dry run sends nothing"
    );

    // Replayed by reason, twice: stored once.
    let malformed = Selection {
        reason: Some("malformed".into()),
        ..Selection::default()
    };
    for round in 1..=2 {
        let (report, sent) = replay::replay(&config, &malformed, false)
            .await
            .expect("replay");
        assert_eq!(sent, 2, "{report}");
        world.wait_for_commits(3 + 2 * round).await;
    }
    job.shutdown().await.expect("the job stopped cleanly");

    let mut stored: Vec<(String, i64)> = world
        .scan("SELECT order_id, total_minor FROM sales.orders_by_id")
        .await;
    stored.sort();
    assert_eq!(
        stored,
        [("kept".to_string(), 350), ("late".to_string(), 500)]
    );
    let refunds: Vec<(String, String, i64)> = world
        .scan("SELECT refund_id, channel, amount_minor FROM sales.refunds_by_id")
        .await;
    assert_eq!(refunds, [("late-r".to_string(), "online".to_string(), 200)]);
    let windows: Vec<(u64, i64, i64)> = world
        .clickhouse
        .rows("SELECT sum(orders), sum(gross_minor), sum(refunds_minor) FROM sales.sales_by_window FINAL")
        .await;
    assert_eq!(windows, [(2, 850, 200)], "each replayed event counts once");
    assert_eq!(
        replay::read_letters(&config).expect("read").len(),
        4,
        "the replayed letters were valid: no new dead letter"
    );

    // The same through the binary's command line, as an operator runs it.
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_stream-job"))
            .args(args)
            .env_clear()
            .envs(world.env(&[("RUST_LOG", "warn")]))
            .output()
            .expect("run stream-job");
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let listed = run(&["dead-letters", "list", "--reason", "conflicting_duplicate"]);
    assert!(listed.starts_with("1 dead letter\n"), "{listed}");
    let shown = run(&["dead-letters", "show", &junk.position()]);
    assert!(shown.ends_with("not an envelope\n"), "{shown}");
    let dry = run(&[
        "dead-letters",
        "replay",
        "--offsets",
        &junk.position(),
        "--dry-run",
    ]);
    assert!(
        dry.contains("0 of 1 selected letters would be sent; 1 would be refused again"),
        "{dry}"
    );
}
