//! `POST /v1/refunds`, `POST /v1/refunds/batch` and `POST /v1/orders/{order_id}/void` over real
//! HTTP against the test Kafka: every status code, what lands on the topic, and what does not.

mod support;

use std::time::Duration;

use chrono::Utc;
use rdkafka::Message;
use serde_json::{json, Value};
use support::{spawn_app, KEY};
use test_support::kafka::{key_text, payload_text, TestKafka};

const WAIT: Duration = Duration::from_secs(10);

fn refund(refund_id: &str, order_id: &str) -> Value {
    json!({
        "refund_id": refund_id,
        "order_id": order_id,
        "store_id": "store-042",
        "currency": "EUR",
        "created_at": (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
        "items": [{"sku": "sku-1", "quantity": 1, "amount": "3.50"}],
        "amount": "3.50",
        "reason": "damaged"
    })
}

fn void() -> Value {
    json!({"store_id": "store-042", "created_at": (Utc::now() - chrono::Duration::seconds(30)).to_rfc3339(), "reason": "rung up twice"})
}

/// The `(field, code)` of every error of an answer.
fn errors(body: &Value) -> Vec<(&str, &str)> {
    support::text_pairs(&body["errors"], "field", "code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_and_a_void_land_keyed_by_the_sale_in_version_2_envelopes() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;

    let sale = app
        .post("/v1/orders", &support::order("pos-17-000123"))
        .await;
    assert_eq!(sale.status(), 202);
    let sale: Value = sale.json().await.unwrap();

    let response = app
        .post("/v1/refunds", &refund("pos-17-r-1", "pos-17-000123"))
        .await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["refund_id"], "pos-17-r-1");
    assert_eq!(accepted["status"], "accepted");
    // Keyed by the sale's id: the same partition as the sale, after it.
    assert_eq!(accepted["partition"], sale["partition"]);
    assert!(accepted["offset"].as_i64() > sale["offset"].as_i64());

    let response = app.post("/v1/orders/pos-17-000123/void", &void()).await;
    assert_eq!(response.status(), 202);
    let voided: Value = response.json().await.unwrap();
    assert_eq!(voided["order_id"], "pos-17-000123");
    assert_eq!(voided["partition"], sale["partition"]);

    let messages = kafka.read_topic(&app.topic, 3, WAIT);
    assert_eq!(messages.len(), 3);
    let by_offset = |offset: &Value| {
        messages
            .iter()
            .find(|m| Some(m.offset()) == offset.as_i64())
            .expect("the acknowledged offset")
    };
    let refund_message = by_offset(&accepted["offset"]);
    assert_eq!(key_text(refund_message), "pos-17-000123");
    let envelope: Value = serde_json::from_str(&payload_text(refund_message)).unwrap();
    assert_eq!(envelope["schema_version"], 2);
    assert_eq!(envelope["kind"], "refund");
    assert_eq!(envelope["refund"]["amount_minor"], 350);
    assert_eq!(envelope["refund"]["items"][0]["amount_minor"], 350);
    assert_eq!(envelope["refund"]["reason"], "damaged");
    let void_message = by_offset(&voided["offset"]);
    assert_eq!(key_text(void_message), "pos-17-000123");
    let envelope: Value = serde_json::from_str(&payload_text(void_message)).unwrap();
    assert_eq!(envelope["kind"], "void");
    assert_eq!(envelope["void"]["order_id"], "pos-17-000123");
    assert_eq!(envelope["void"]["store_id"], "store-042");

    let (_, metrics) = app.get_text("/metrics").await;
    for kind in ["order", "refund", "void"] {
        assert!(
            metrics.contains(&format!(
                "ingest_events_accepted_total{{kind=\"{kind}\"}} 1\n"
            )),
            "{kind}: {metrics}"
        );
    }
    assert!(
        metrics.contains("ingest_orders_accepted_total 1\n"),
        "{metrics}"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_refunds_and_voids_answer_their_status_and_produce_nothing() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[("INGEST_BODY_LIMIT_BYTES", "4096")]).await;
    let good = refund("r-1", "o-1").to_string();

    // No key, a wrong key.
    for key in [None, Some("wrong-key-0123456789")] {
        for path in ["/v1/refunds", "/v1/refunds/batch", "/v1/orders/o-1/void"] {
            let response = app
                .post_raw(path, good.clone(), "application/json", key)
                .await;
            assert_eq!(response.status(), 401, "{path} with {key:?}");
        }
    }
    // A wrong content type, broken JSON, an oversized body.
    let response = app
        .post_raw("/v1/refunds", good.clone(), "text/plain", Some(KEY))
        .await;
    assert_eq!(response.status(), 415);
    let response = app
        .post_raw(
            "/v1/orders/o-1/void",
            "{\"store_id\":".into(),
            "application/json",
            Some(KEY),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(errors(&body), [("body", "malformed_json")]);
    let mut huge = refund("r-1", "o-1");
    huge["reason"] = json!("x".repeat(8000));
    let response = app.post("/v1/refunds", &huge).await;
    assert_eq!(response.status(), 413);

    // Invalid refunds: every failing field at once.
    let mut bad = refund("r 1", "o-1");
    bad["amount"] = json!("3.49");
    bad["currency"] = json!("eur");
    bad["items"][0]["quantity"] = json!(0);
    let mut zero = refund("r-1", "o-1");
    zero["amount"] = json!("0.00");
    zero.as_object_mut().unwrap().remove("items");
    let mut unknown = refund("r-1", "o-1");
    unknown["channel"] = json!("online");
    // Invalid voids: a bad id in the path, a stale time, an unknown field.
    let mut stale = void();
    stale["created_at"] = json!((Utc::now() - chrono::Duration::days(8)).to_rfc3339());
    let mut repeated = void();
    repeated["order_id"] = json!("o-1");
    let all_at_once = [
        ("amount", "amount_mismatch"),
        ("currency", "currency"),
        ("items[0].quantity", "range"),
        ("refund_id", "charset"),
    ];
    for (path, body, expected) in [
        ("/v1/refunds", bad, &all_at_once[..]),
        ("/v1/refunds", zero, &[("amount", "range")]),
        ("/v1/refunds", unknown, &[("channel", "unknown_field")]),
        ("/v1/orders/o%201/void", void(), &[("order_id", "charset")]),
        ("/v1/orders/o-1/void", stale, &[("created_at", "too_old")]),
        (
            "/v1/orders/o-1/void",
            repeated,
            &[("order_id", "unknown_field")],
        ),
    ] {
        let response = app.post(path, &body).await;
        assert_eq!(response.status(), 422, "{path}: {body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(errors(&answer), expected, "{path}: {body}");
    }
    let response = app.post("/v1/orders/o-1/void", &json!([])).await;
    assert_eq!(response.status(), 422);

    // A batch that is not an array, or empty.
    let response = app.post("/v1/refunds/batch", &refund("r-1", "o-1")).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "must be a JSON array of refunds"
    );
    let response = app.post("/v1/refunds/batch", &json!([])).await;
    assert_eq!(response.status(), 422);

    assert!(
        kafka
            .read_topic(&app.topic, 1, Duration::from_secs(2))
            .is_empty(),
        "nothing refused may be produced"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_refund_batch_produces_exactly_the_valid_refunds_and_reports_the_rest_in_order() {
    let kafka = TestKafka::start();
    let app = spawn_app(&kafka, &[]).await;
    let mut invalid = refund("r-bad", "o-2");
    invalid["amount"] = json!("-1");
    invalid.as_object_mut().unwrap().remove("items");
    let batch = json!([refund("r-1", "o-1"), invalid, 42, refund("r-3", "o-3")]);
    let response = app.post("/v1/refunds/batch", &batch).await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(
        (
            &reply["accepted"],
            &reply["rejected"],
            &reply["unavailable"]
        ),
        (&json!(2), &json!(2), &json!(0))
    );
    let results = reply["results"].as_array().unwrap();
    let summary: Vec<(u64, &str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["status"].as_str().unwrap(),
                r["refund_id"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, "accepted", "r-1"),
            (1, "rejected", "r-bad"),
            (2, "rejected", "-"),
            (3, "accepted", "r-3")
        ]
    );
    assert_eq!(errors(&results[1]), [("amount", "negative")]);
    let keys = support::keys_on(&kafka, &app.topic, 3, Duration::from_secs(3));
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&"o-1".to_string()) && keys.contains(&"o-3".to_string()));
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_down_refunds_and_voids_get_503_with_retry_after() {
    // On the mock cluster: the shared broker of the run can't be taken down under the other
    // tests (the fault suite kills a real one).
    let kafka = TestKafka::with_injected_errors();
    let mock = kafka.mock().expect("the mock cluster");
    let app = spawn_app(&kafka, &[]).await;
    mock.broker_down(-1).unwrap();
    for (path, body) in [
        ("/v1/refunds", refund("r-1", "o-1")),
        ("/v1/orders/o-1/void", void()),
    ] {
        let response = app.post(path, &body).await;
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(response.headers()["retry-after"], "5");
    }
    let response = app
        .post("/v1/refunds/batch", &json!([refund("r-2", "o-2")]))
        .await;
    assert_eq!(response.status(), 503);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["results"][0]["status"], "unavailable");
    assert_eq!(reply["results"][0]["refund_id"], "r-2");

    // Once the broker is back, the same refund is accepted (the POS retries it).
    mock.broker_up(-1).unwrap();
    let status = app
        .post_until_accepted("/v1/refunds", &refund("r-1", "o-1"))
        .await;
    assert_eq!(status, 202);
    app.stop().await.unwrap();
}
