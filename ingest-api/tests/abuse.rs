//! Bad input at volume, against the real binary: 10,000 malformed requests of many kinds, and
//! connections that send half a body and stall. Every malformed request gets a 4xx naming a
//! field, a stalled body is cut off at the request timeout without holding up anyone else, the
//! process's memory stays flat, and valid orders keep being accepted throughout.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use support::{order, KEY};
use test_support::kafka::TestKafka;
use tokio::process::Command;

const MALFORMED: usize = 10_000;

/// Resident memory of the process `pid`, from /proc.
fn rss_mib(pid: u32) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the service is running");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The `i`th malformed request: (content type, body, whether to send the key).
fn malformed(i: usize, valid: &Value) -> (&'static str, Vec<u8>, bool) {
    let text = valid.to_string();
    let mut body = valid.clone();
    let fields = [
        "order_id",
        "store_id",
        "items",
        "total",
        "created_at",
        "currency",
        "channel",
    ];
    let values = [
        json!(1e308),
        json!("9".repeat(300)),
        json!([]),
        json!({}),
        json!(null),
        json!(-1),
    ];
    match i % 8 {
        0 => (
            "application/json",
            text.as_bytes()[..i % text.len()].to_vec(),
            true,
        ),
        1 => {
            body[fields[i % fields.len()]] = values[i % values.len()].clone();
            ("application/json", body.to_string().into_bytes(), true)
        }
        2 => {
            // Outside 1..=10000 on either side.
            let quantity = if i % 16 == 2 {
                -(i as i64)
            } else {
                10_000 + i as i64
            };
            body["items"][0]["quantity"] = json!(quantity);
            ("application/json", body.to_string().into_bytes(), true)
        }
        3 => {
            body[format!("extra_{i}")] = json!(i);
            ("application/json", body.to_string().into_bytes(), true)
        }
        4 => ("text/plain", text.into_bytes(), true),
        5 => ("application/json", text.into_bytes(), false),
        6 => (
            "application/json",
            format!("{}{}", "[".repeat(i % 3_000), "]".repeat(i % 3_000)).into_bytes(),
            true,
        ),
        _ => {
            body["total"] = json!(format!("{}.{:03}", i, i % 1000));
            body["currency"] = json!(["JPY", "EUR", "KWD"][i % 3]);
            ("application/json", body.to_string().into_bytes(), true)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_requests_and_stalled_bodies_leave_the_service_answering() {
    let kafka = TestKafka::start();
    let topic = test_support::unique_name("Order");
    kafka.create_topic(&topic, 3).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // The ingest-api binary on a free port; killed when dropped.
    let service = Command::new(env!("CARGO_BIN_EXE_ingest-api"))
        .envs([
            ("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers()),
            ("KAFKA_TOPIC", topic.as_str()),
            ("KAFKA_ADMIN_TIMEOUT_MS", "1000"),
            ("KAFKA_PRODUCE_TIMEOUT_MS", "1000"),
            ("INGEST_REQUEST_TIMEOUT_MS", "2000"),
            ("INGEST_API_KEYS", KEY),
            ("INGEST_LISTEN_ADDR", addr.as_str()),
            ("RUST_LOG", "warn"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start ingest-api");
    let pid = service.id().expect("the service is running");
    let base = format!("http://{addr}");
    test_support::wait_until_ok(&format!("{base}/ready"), Duration::from_secs(30))
        .await
        .expect("ingest-api ready");
    let client = reqwest::Client::new();
    let post = |content_type: &'static str, body: Vec<u8>, keyed: bool| {
        let mut request = client
            .post(format!("{base}/v1/orders"))
            .header("content-type", content_type)
            .body(body);
        if keyed {
            request = request.bearer_auth(KEY);
        }
        request.send()
    };
    let post_valid = |n: usize| {
        let body = order(&format!("valid-{n}")).to_string().into_bytes();
        post("application/json", body, true)
    };

    // Warm up with valid and malformed requests, then take the baseline.
    let valid = order("template");
    for i in 0..300 {
        assert_eq!(post_valid(i).await.unwrap().status(), 202);
        let (content_type, body, keyed) = malformed(i, &valid);
        post(content_type, body, keyed).await.unwrap();
    }
    let before = rss_mib(pid);

    let started = Instant::now();
    let statuses: Vec<(usize, u16, String)> = stream::iter(0..MALFORMED)
        .map(|i| {
            let (content_type, body, keyed) = malformed(i, &valid);
            let request = post(content_type, body, keyed);
            async move {
                let response = request.await.expect("the service answers");
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                let field = answer["errors"][0]["field"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (i, status, field)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    for (i, status, field) in &statuses {
        assert!(
            [400, 401, 415, 422].contains(status),
            "request {i} ({}): {status}",
            i % 8
        );
        assert!(!field.is_empty(), "request {i} ({}): no field named", i % 8);
    }
    let after = rss_mib(pid);

    // Stalled bodies: half an order, then nothing. A valid order still goes through at once,
    // and each stalled request is answered and closed at the request timeout.
    let mut stalled: Vec<TcpStream> = (0..32)
        .map(|_| {
            let mut socket = TcpStream::connect(&addr).expect("connect");
            write!(
                socket,
                "POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"order_id\":"
            )
            .expect("send half a request");
            socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            socket
        })
        .collect();
    let during = Instant::now();
    assert_eq!(post_valid(10_000).await.unwrap().status(), 202);
    let valid_latency = during.elapsed();
    let stalled_for = Instant::now();
    for socket in &mut stalled {
        let mut answer = String::new();
        let _ = socket.read_to_string(&mut answer);
        assert!(
            answer.is_empty()
                || answer.starts_with("HTTP/1.1 4")
                || answer.starts_with("HTTP/1.1 5"),
            "a stalled body got {answer:.80}"
        );
    }
    let cut_after = stalled_for.elapsed();
    assert!(
        cut_after < Duration::from_secs(8),
        "stalled bodies held for {cut_after:?}"
    );
    assert_eq!(post_valid(10_001).await.unwrap().status(), 202);

    println!(
        "{MALFORMED} malformed requests in {:.1} s ({:.0}/s); RSS {before:.1} MiB before, {after:.1} MiB after; \
         a valid order during 32 stalled bodies took {valid_latency:?}; the stalled ones were cut within {cut_after:?}",
        elapsed.as_secs_f64(),
        MALFORMED as f64 / elapsed.as_secs_f64()
    );
    assert!(
        after - before < 32.0,
        "memory grew from {before:.1} MiB to {after:.1} MiB"
    );
}
