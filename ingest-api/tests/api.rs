//! ingest-api over real HTTP against a real Kafka protocol peer (the mock cluster, or the broker
//! named by `KAFKA_BOOTSTRAP_SERVERS`).

mod support;

use std::time::Duration;

use chrono::Utc;
use rdkafka::Message;
use sales_model::Envelope;
use serde_json::{json, Value};
use support::{keys_on, order, spawn_app, KEY};
use test_support::kafka::{key_text, payload_text, TestKafka};
use test_support::orders::SampleOrder;

const WAIT: Duration = Duration::from_secs(15);
/// How long to keep reading when checking that nothing else arrives.
const QUIET: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_order_lands_on_the_topic_with_key_envelope_and_minor_units() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;

    let response = app.post("/v1/orders", &order("pos-17-000123")).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["order_id"], "pos-17-000123");
    assert_eq!(body["status"], "accepted");
    assert!(body["partition"].as_i64().unwrap() >= 0);
    assert!(body["offset"].as_i64().unwrap() >= 0);

    let messages = kafka.read_topic(&app.topic, 1, WAIT);
    assert_eq!(messages.len(), 1);
    assert_eq!(key_text(&messages[0]), "pos-17-000123");
    assert_eq!(
        i64::from(rdkafka::Message::partition(&messages[0])),
        body["partition"].as_i64().unwrap()
    );
    assert_eq!(
        rdkafka::Message::offset(&messages[0]),
        body["offset"].as_i64().unwrap()
    );
    let envelope: Value = serde_json::from_str(&payload_text(&messages[0])).unwrap();
    assert_eq!(envelope["schema_version"], 2);
    assert_eq!(envelope["kind"], "order");
    assert!(envelope["ingest_id"].as_str().unwrap().len() == 36);
    assert_eq!(envelope["order"]["total_minor"], 650);
    assert_eq!(envelope["order"]["discount_minor"], 50);
    assert_eq!(envelope["order"]["tax_minor"], 0);
    assert_eq!(envelope["order"]["items"][0]["unit_price_minor"], 350);
    assert_eq!(envelope["order"]["items"][0]["quantity"], 2);
    assert!(sales_model::Envelope::from_json(payload_text(&messages[0]).as_bytes()).is_ok());
    app.stop().await.unwrap();
}

/// Minor units follow ISO 4217: whole yen for JPY, fils for KWD; an amount finer than its
/// currency's minor unit is a 422 naming the field and the currency, and nothing is produced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_are_kept_in_their_currency_minor_unit() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;
    let at = Utc::now() - chrono::Duration::minutes(1);
    for (id, currency, price, total) in [
        ("jpy-1", "JPY", "1500", 3000),
        ("kwd-1", "KWD", "1.234", 2468),
    ] {
        let mut body = SampleOrder::new(id, "store-042", at)
            .with("currency", currency)
            .json();
        body["items"][0]["unit_price"] = json!(price);
        body["items"][0]["quantity"] = json!(2);
        body["total"] = json!(sales_model::format_minor(
            total,
            if currency == "JPY" { 0 } else { 3 }
        ));
        let response = app.post("/v1/orders", &body).await;
        assert_eq!(
            response.status(),
            202,
            "{currency}: {}",
            response.text().await.unwrap()
        );
    }
    let mut fractional_yen = SampleOrder::new("jpy-2", "store-042", at)
        .with("currency", "JPY")
        .json();
    fractional_yen["items"][0]["unit_price"] = json!("350.50");
    fractional_yen["total"] = json!("350.50");
    let response = app.post("/v1/orders", &fractional_yen).await;
    assert_eq!(response.status(), 422);
    let errors: Value = response.json().await.unwrap();
    let fields = support::text_pairs(&errors["errors"], "field", "message");
    assert_eq!(
        fields,
        vec![
            (
                "items[0].unit_price",
                "JPY amounts have no digits after the decimal point"
            ),
            (
                "total",
                "JPY amounts have no digits after the decimal point"
            ),
        ]
    );

    let messages = kafka.read_topic(&app.topic, 2, WAIT);
    let mut totals: Vec<(String, i64, i64)> = messages
        .iter()
        .map(|m| {
            let envelope: Value = serde_json::from_str(&payload_text(m)).unwrap();
            let order = &envelope["order"];
            (
                order["currency"].as_str().unwrap().to_string(),
                order["items"][0]["unit_price_minor"].as_i64().unwrap(),
                order["total_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    totals.sort();
    assert_eq!(
        totals,
        vec![
            ("JPY".to_string(), 1500, 3000),
            ("KWD".to_string(), 1234, 2468)
        ]
    );
    assert!(
        kafka.read_topic(&app.topic, 3, QUIET).len() == 2,
        "the refused order was produced"
    );
    app.stop().await.unwrap();
}

/// Against a real broker the app creates the topic itself; the mock cluster has no CreateTopics,
/// so there the harness creates it (as compose's init step does) and this proves the fallback:
/// the app finds the existing topic and becomes ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topic_is_created_or_found_with_the_configured_partitions() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[("KAFKA_TOPIC_PARTITIONS", "4")]).await;
    assert_eq!(kafka.partition_count(&app.topic), 4);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_order_keeps_its_key_and_partition() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;
    let first: Value = app
        .post("/v1/orders", &order("retry-1"))
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app
        .post("/v1/orders", &order("retry-1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["partition"], second["partition"]);
    assert_eq!(keys_on(&kafka, &app.topic, 2, WAIT), ["retry-1", "retry-1"]);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_rate_limit_gets_429_with_retry_after_and_nothing_is_produced() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[("INGEST_RATE_LIMIT_PER_KEY", "3")]).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for i in 0..6 {
        let response = app.post("/v1/orders", &order(&format!("rate-{i}"))).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 && limited.is_none() {
            let retry_after = response.headers()["retry-after"].clone();
            let body: Value = response.json().await.unwrap();
            limited = Some((retry_after, body["errors"][0]["code"].clone()));
        }
    }
    // A burst of one second's worth passes; the rest of that second is refused.
    assert_eq!(&statuses[..3], [202, 202, 202]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    let (retry_after, code) = limited.expect("a 429");
    assert_eq!(retry_after, "1");
    assert_eq!(code, "rate_limited");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        app.post("/v1/orders", &order("rate-later")).await.status(),
        202
    );
    let accepted = statuses.iter().filter(|s| **s == 202).count() + 1;
    let on_topic = kafka.read_topic(&app.topic, accepted + 1, Duration::from_secs(3));
    assert_eq!(
        on_topic.len(),
        accepted,
        "a refused order must not be produced"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_produces_exactly_the_valid_orders_and_reports_the_rest_in_order() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;
    let mut bad_quantity = order("batch-bad-1");
    bad_quantity["items"][0]["quantity"] = json!(0);
    let mut bad_total = order("batch-bad-2");
    bad_total["total"] = json!("1.00");
    let batch = json!([order("batch-ok-1"), bad_quantity, order("batch-ok-2"), bad_total, {"nonsense": true}]);

    let response = app.post("/v1/orders/batch", &batch).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(2), Some(3))
    );
    let results = body["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["accepted", "rejected", "accepted", "rejected", "rejected"]
    );
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i);
    }
    assert_eq!(results[0]["order_id"], "batch-ok-1");
    assert!(results[0]["offset"].is_i64());
    assert_eq!(results[1]["order_id"], "batch-bad-1");
    assert_eq!(results[1]["errors"][0]["field"], "items[0].quantity");
    assert_eq!(results[1]["errors"][0]["code"], "range");
    assert_eq!(results[3]["errors"][0]["code"], "total_mismatch");
    assert_eq!(results[4]["errors"][0]["code"], "unknown_field");

    let mut keys = keys_on(&kafka, &app.topic, 3, QUIET);
    keys.sort();
    assert_eq!(keys, vec!["batch-ok-1", "batch-ok-2"]);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_answer_their_status_and_produce_nothing() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[("INGEST_BODY_LIMIT_BYTES", "4096")]).await;
    let valid = order("never-1").to_string();
    let mut invalid = order("never-2");
    invalid["currency"] = json!("eur");
    invalid["items"][0]["quantity"] = json!(0);
    let huge = json!({"order_id": "x".repeat(5000)}).to_string();
    // (path, body, content type, key, expected status, expected first error code)
    type Case<'a> = (&'a str, String, &'a str, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/v1/orders",
            "{\"order_id\": ".into(),
            "application/json",
            Some(KEY),
            400,
            "malformed_json",
        ),
        (
            "/v1/orders",
            valid.clone(),
            "application/json",
            None,
            401,
            "unauthorized",
        ),
        (
            "/v1/orders",
            valid.clone(),
            "application/json",
            Some("wrong-key-0123456789"),
            401,
            "unauthorized",
        ),
        (
            "/v1/orders",
            huge.clone(),
            "application/json",
            Some(KEY),
            413,
            "too_large",
        ),
        (
            "/v1/orders",
            valid.clone(),
            "text/plain",
            Some(KEY),
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/orders",
            invalid.to_string(),
            "application/json",
            Some(KEY),
            422,
            "currency",
        ),
        (
            "/v1/orders/batch",
            "[".into(),
            "application/json",
            Some(KEY),
            400,
            "malformed_json",
        ),
        (
            "/v1/orders/batch",
            format!("[{valid}]"),
            "application/json",
            None,
            401,
            "unauthorized",
        ),
        (
            "/v1/orders/batch",
            format!("[{huge}]"),
            "application/json",
            Some(KEY),
            413,
            "too_large",
        ),
        (
            "/v1/orders/batch",
            format!("[{valid}]"),
            "application/xml",
            Some(KEY),
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/orders/batch",
            "[]".into(),
            "application/json",
            Some(KEY),
            422,
            "length",
        ),
        (
            "/v1/orders/batch",
            valid.clone(),
            "application/json",
            Some(KEY),
            422,
            "type",
        ),
    ];
    for (path, body, content_type, key, status, code) in cases {
        let response = app.post_raw(path, body, content_type, key).await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{path} {content_type} {key:?}"
        );
        if status == 401 {
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code, "{path}: {body}");
    }
    // The 422 lists every failing field, the total check included (the amounts parse; the lines
    // as sent, quantity 0, do not add up to 6.50).
    let body: Value = app.post("/v1/orders", &invalid).await.json().await.unwrap();
    let fields: Vec<&str> = test_support::texts(&body["errors"], "field");
    assert_eq!(fields, ["currency", "items[0].quantity", "total"]);

    assert_eq!(app.post("/v1/orders", &order("marker")).await.status(), 202);
    assert_eq!(
        keys_on(&kafka, &app.topic, 2, QUIET),
        ["marker"],
        "only the marker order may be on the topic"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_down_orders_get_503_and_after_it_returns_202() {
    // On the mock cluster: the shared broker of the run can't be taken down under the other
    // tests (the fault suite kills a real one).
    let kafka = TestKafka::with_injected_errors();
    let mock = kafka.mock().expect("the mock cluster");
    let app = spawn_app(&kafka, &[]).await;
    assert_eq!(app.post("/v1/orders", &order("before")).await.status(), 202);

    mock.broker_down(-1).unwrap();
    let response = app.post("/v1/orders", &order("during")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "unavailable");
    let batch = app
        .post("/v1/orders/batch", &json!([order("during-batch")]))
        .await;
    assert_eq!(batch.status(), 503);
    assert!(batch.headers().contains_key("retry-after"));
    let batch: Value = batch.json().await.unwrap();
    assert_eq!(batch["accepted"], 0);
    assert_eq!(batch["results"][0]["status"], "unavailable");
    let (_, metrics) = app.get_text("/metrics").await;
    assert!(
        metrics.contains("ingest_orders_accepted_total 1\n"),
        "{metrics}"
    );

    mock.broker_up(-1).unwrap();
    let status = app.post_until_accepted("/v1/orders", &order("after")).await;
    assert_eq!(status, 202);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_in_flight_at_shutdown_is_finished_and_acknowledged() {
    // On the mock cluster: a real broker can't be given an 800 ms round trip.
    let kafka = TestKafka::with_injected_errors();
    let mock = kafka.mock().expect("the mock cluster");
    let app = spawn_app(&kafka, &[]).await;
    mock.broker_round_trip_time(1, Duration::from_millis(800))
        .unwrap();
    let client = app.client.clone();
    let url = format!("{}/v1/orders", app.base);
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(KEY)
            .json(&order("in-flight"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.stop().await.unwrap();
    assert_eq!(in_flight.await.unwrap().unwrap(), 202);
    mock.broker_round_trip_time(1, Duration::ZERO).unwrap();
    assert_eq!(keys_on(&kafka, "Order", 1, WAIT), ["in-flight"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_endpoints_answer() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;
    assert_eq!(app.get_text("/health").await.0, 200);
    assert_eq!(app.get_text("/ready").await.0, 200);

    assert_eq!(app.post("/v1/orders", &order("m-1")).await.status(), 202);
    let mut invalid = order("m-2");
    invalid["channel"] = json!("fax");
    assert_eq!(app.post("/v1/orders", &invalid).await.status(), 422);
    let (status, metrics) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    for expected in [
        "ingest_orders_accepted_total 1\n",
        "ingest_orders_rejected_total{code=\"one_of\"} 1\n",
        "ingest_http_requests_total{route=\"/v1/orders\",status=\"202\"} 1\n",
        "ingest_http_requests_total{route=\"/v1/orders\",status=\"422\"} 1\n",
        "ingest_produce_latency_seconds_count 1\n",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected:?} in:\n{metrics}"
        );
    }

    test_support::openapi::assert_document_matches_routes(
        &app.base,
        KEY,
        &[
            ("POST", "/v1/orders"),
            ("POST", "/v1/orders/batch"),
            ("POST", "/v1/orders/{order_id}/void"),
            ("POST", "/v1/refunds"),
            ("POST", "/v1/refunds/batch"),
            ("GET", "/health"),
            ("GET", "/ready"),
            ("GET", "/metrics"),
            ("GET", "/openapi.json"),
        ],
    )
    .await;
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_4xx_naming_a_field_and_the_service_keeps_answering() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;
    let valid = order("valid").to_string();
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    // Every truncation of a valid order.
    for cut in 0..valid.len() {
        bodies.push(valid.as_bytes()[..cut].to_vec());
    }
    // Invalid UTF-8, inside and outside strings.
    bodies.push(vec![0xff, 0xfe, b'{']);
    let mut inside = valid.clone().into_bytes();
    inside.insert(valid.find("store-042").expect("a store") + 2, 0xc3);
    bodies.push(inside);
    // Deep nesting.
    bodies.push(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes());
    bodies.push(format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes());
    // Wrong types and huge values in each field.
    for field in [
        "order_id",
        "items",
        "total",
        "created_at",
        "currency",
        "discount",
    ] {
        for bad in [
            json!(1e308),
            json!("9".repeat(400)),
            json!(u64::MAX),
            json!([]),
            json!({}),
            json!(null),
            json!(true),
            json!(-1),
        ] {
            let mut body = order("typed");
            body[field] = bad;
            bodies.push(body.to_string().into_bytes());
        }
    }
    for body in &bodies {
        let response = app
            .client
            .post(format!("{}/v1/orders", app.base))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("the service answers");
        let status = response.status().as_u16();
        let text = String::from_utf8_lossy(body);
        assert!((400..500).contains(&status), "{status} for {text:.200}");
        let answer: Value = response.json().await.expect("a JSON error body");
        let field = answer["errors"][0]["field"].as_str().unwrap_or_default();
        assert!(
            !field.is_empty(),
            "no field named for {text:.200}: {answer}"
        );
    }
    assert_eq!(app.post("/v1/orders", &order("after")).await.status(), 202);
    assert_eq!(
        keys_on(&kafka, &app.topic, 2, Duration::from_secs(3)),
        ["after"],
        "no malformed request may produce anything"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_configurable_compression_produces_readable_orders() {
    for compression in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let kafka = TestKafka::start();
        let app = spawn_app(&kafka, &[("KAFKA_COMPRESSION", compression)]).await;
        let id = format!("compressed-{compression}");
        assert_eq!(
            app.post("/v1/orders", &order(&id)).await.status(),
            202,
            "{compression}"
        );
        let messages = kafka.read_topic(&app.topic, 1, WAIT);
        assert_eq!(
            messages.iter().map(key_text).collect::<Vec<_>>(),
            [id.as_str()],
            "{compression}"
        );
        let envelope = Envelope::from_json(messages[0].payload().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{compression}: {e}"));
        assert_eq!(envelope.event.order_id().as_str(), id);
        app.stop().await.unwrap();
    }
}
