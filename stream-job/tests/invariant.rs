//! The invariant of DESIGN.md §6, end to end: for a seeded random stream of requests — retries,
//! exact duplicates, conflicting duplicates, invalid orders, late and out-of-order event times,
//! in currencies of 0, 2 and 3 decimals — sent through ingest-api while stream-job is killed (no
//! clean shutdown) and restarted several times, with business days in Asia/Kolkata (UTC+05:30),
//! afterwards
//!
//! - Cassandra holds exactly the distinct accepted orders, each in its first version (no
//!   acknowledged order is lost); every conflicting duplicate is a dead letter;
//! - ClickHouse's totals per store/channel/currency/business day equal those computed from
//!   Cassandra and those the generator recorded for the accepted orders; per-product totals
//!   match too.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::{self, StreamExt};
use ingest_api::configuration::IngestConfig;
use ingest_api::startup::Application;
use serde_json::{json, Value};
use service_runtime::settings::Settings;
use support::{World, WAIT};

const SEED: u64 = 20_261_122;
const ORDERS: usize = 2_500;
const KILLS: usize = 4;
const KEY: &str = "invariant-key-0123456789";
/// Not a whole hour from UTC, so a day computed in UTC anywhere would show.
const ZONE: &str = "Asia/Kolkata";

/// SplitMix64: small, seedable, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Totals per (store, channel, currency, day): orders, items, revenue in minor units.
type Totals = BTreeMap<(String, String, String, NaiveDate), (u64, u64, i64)>;

/// One generated order, with what it should add to the totals.
#[derive(Clone)]
struct Generated {
    order_id: String,
    body: Value,
    key: (String, String, String, NaiveDate),
    items: u64,
    total: i64,
    lines: Vec<(String, i64)>,
}

/// `minor` units of a currency with `exponent` decimals, as a POS would write the amount.
fn money(minor: i64, exponent: u32, rng: &mut Rng) -> Value {
    let text = sales_model::format_minor(minor, exponent);
    // Half as strings, half as JSON numbers: both must read exactly.
    if rng.chance(50) {
        json!(text)
    } else {
        serde_json::from_str(&text).expect("a decimal number")
    }
}

fn generate(rng: &mut Rng, n: usize, now: DateTime<Utc>) -> Generated {
    let stores = [
        "store-001",
        "store-002",
        "store-003",
        "store-005",
        "store-007",
        "store-042",
        "store-777",
    ];
    let channels = ["in_store", "takeaway", "delivery", "online"];
    let currencies = [("EUR", 2), ("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3)];
    let products = [
        ("sku-1", "Latte"),
        ("sku-2", "Bagel"),
        ("sku-3", "Tea"),
        ("sku-4", "Muffin"),
        ("sku-5", "Juice"),
    ];
    let store = rng.pick(&stores).to_string();
    let channel = rng.pick(&channels).to_string();
    let (currency, exponent) = *rng.pick(&currencies);
    let currency = currency.to_string();
    // Mostly the last hour, out of order; one in ten hours or days late.
    let seconds_ago = if rng.chance(10) {
        3_600 + rng.below(3 * 86_400)
    } else {
        rng.below(3_600)
    };
    let created_at = now
        - chrono::Duration::seconds(seconds_ago as i64)
        - chrono::Duration::milliseconds(rng.below(1000) as i64);
    let mut subtotal = 0i64;
    let mut items = 0u64;
    let mut lines = Vec::new();
    let mut line_values = Vec::new();
    for _ in 0..=rng.below(3) {
        let (sku, name) = *rng.pick(&products);
        let quantity = 1 + rng.below(5) as i64;
        let price = 50 + rng.below(1950) as i64;
        subtotal += quantity * price;
        items += quantity as u64;
        lines.push(json!({"sku": sku, "name": name, "quantity": quantity, "unit_price": money(price, exponent, rng)}));
        line_values.push((sku.to_string(), quantity * price));
    }
    let discount = if rng.chance(30) {
        rng.below((subtotal / 10) as u64 + 1) as i64
    } else {
        0
    };
    let tax = (subtotal - discount) * 7 / 100;
    let total = subtotal - discount + tax;
    let order_id = format!("inv-{n:05}");
    let body = json!({
        "order_id": order_id,
        "store_id": store,
        "channel": channel,
        "currency": currency,
        "created_at": created_at.to_rfc3339(),
        "items": lines,
        "discount": money(discount, exponent, rng),
        "tax": money(tax, exponent, rng),
        "total": money(total, exponent, rng),
        "payment_method": "card",
    });
    Generated {
        order_id,
        body,
        key: (store, channel, currency, zone().day_of(created_at)),
        items,
        total,
        lines: line_values,
    }
}

fn zone() -> sales_model::BusinessZone {
    ZONE.parse().expect("an IANA zone")
}

/// The same order id with other content: another channel, and sometimes another time. Valid,
/// so ingest-api accepts it; stream-job must divert it.
fn conflicting(rng: &mut Rng, order: &Generated) -> Value {
    let mut body = order.body.clone();
    let channel = if order.key.1 == "online" {
        "takeaway"
    } else {
        "online"
    };
    body["channel"] = json!(channel);
    if rng.chance(50) {
        let at: DateTime<Utc> = body["created_at"].as_str().unwrap().parse().unwrap();
        body["created_at"] = json!((at - chrono::Duration::seconds(61)).to_rfc3339());
    }
    body
}

/// An order broken in one of several ways; ingest-api must refuse it.
fn invalid(rng: &mut Rng, order: &Generated) -> Value {
    let mut body = order.body.clone();
    body["order_id"] = json!(format!("{}-bad", order.order_id));
    match rng.below(4) {
        0 => body["total"] = json!("0.01"),
        1 => body["items"][0]["quantity"] = json!(0),
        2 => body["currency"] = json!("EUE"),
        _ => body["created_at"] = json!((Utc::now() - chrono::Duration::days(10)).to_rfc3339()),
    }
    body
}

/// Fails naming only the groups whose totals differ.
fn assert_same<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    got: &BTreeMap<K, V>,
    want: &BTreeMap<K, V>,
    what: &str,
) {
    let keys: BTreeSet<&K> = got.keys().chain(want.keys()).collect();
    let differing: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(k) != want.get(k))
        .take(10)
        .map(|k| format!("{k:?}: {:?} vs {:?}", got.get(k), want.get(k)))
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: totals differ in {}",
        differing.join("; ")
    );
}

enum Request {
    Single(Value),
    Batch(Vec<Value>),
}

/// POSTs `body` as JSON with the test key.
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &impl serde::Serialize,
) -> reqwest::Response {
    client
        .post(url)
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .expect("post")
}

async fn start_ingest(world: &World) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let env = world.env(&[
        ("INGEST_LISTEN_ADDR", "127.0.0.1:0"),
        ("INGEST_API_KEYS", KEY),
        ("KAFKA_ADMIN_TIMEOUT_MS", "1000"),
    ]);
    let app = Application::build(
        IngestConfig::from_settings(&Settings::new(&env)).expect("ingest config"),
    )
    .await
    .expect("build ingest-api");
    let base = format!("http://{}", app.local_addr());
    (base, tokio::spawn(app.run(std::future::pending())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_agree_across_stores_after_retries_duplicates_invalid_and_late_orders_and_kills() {
    let mut world = World::new().await;
    world.settings.push(("BUSINESS_TIME_ZONE", ZONE));
    let (base, ingest) = start_ingest(&world).await;
    let client = reqwest::Client::new();
    test_support::wait_until_ok(&format!("{base}/ready"), WAIT)
        .await
        .expect("ingest-api ready");

    // The plan: every order at least once, some retried later, some duplicated inside a batch,
    // invalid ones mixed in; singles and batches in a shuffled order.
    let mut rng = Rng(SEED);
    let now = Utc::now();
    let orders: Vec<Generated> = (0..ORDERS).map(|n| generate(&mut rng, n, now)).collect();
    let mut bodies: Vec<Value> = Vec::new();
    for order in &orders {
        bodies.push(order.body.clone());
        if rng.chance(15) {
            bodies.push(order.body.clone()); // a POS retry of the same payload
        }
        if rng.chance(5) {
            bodies.push(invalid(&mut rng, order));
        }
    }
    for i in (1..bodies.len()).rev() {
        bodies.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut plan = Vec::new();
    let mut rest = bodies.as_slice();
    while !rest.is_empty() {
        if rng.chance(50) {
            plan.push(Request::Single(rest[0].clone()));
            rest = &rest[1..];
        } else {
            let size = (1 + rng.below(60) as usize).min(rest.len());
            let mut batch = rest[..size].to_vec();
            if rng.chance(20) {
                batch.push(batch[0].clone()); // an exact duplicate inside one batch
            }
            plan.push(Request::Batch(batch));
            rest = &rest[size..];
        }
    }

    // The job is killed and restarted while the requests flow.
    let job = Arc::new(Mutex::new(Some(world.start_job().await)));
    let kill_times: Vec<u64> = (0..KILLS).map(|_| 300 + rng.below(1500)).collect();
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let unavailable = Arc::new(Mutex::new(0usize));
    let sending = stream::iter(plan)
        .map(|request| {
            let (client, base, accepted, unavailable) = (
                client.clone(),
                base.clone(),
                accepted.clone(),
                unavailable.clone(),
            );
            async move {
                match request {
                    Request::Single(body) => {
                        let response = post(&client, &format!("{base}/v1/orders"), &body).await;
                        match response.status().as_u16() {
                            202 => {
                                accepted
                                    .lock()
                                    .unwrap()
                                    .insert(body["order_id"].as_str().unwrap().to_string());
                            }
                            422 => assert!(
                                body["order_id"].as_str().unwrap().ends_with("-bad"),
                                "valid order refused: {body}"
                            ),
                            status => {
                                assert_eq!(status, 503, "unexpected status for {body}");
                                *unavailable.lock().unwrap() += 1;
                            }
                        }
                    }
                    Request::Batch(bodies) => {
                        let response =
                            post(&client, &format!("{base}/v1/orders/batch"), &bodies).await;
                        let reply: Value = response.json().await.expect("batch reply");
                        for result in reply["results"].as_array().expect("results") {
                            let id = result["order_id"].as_str().unwrap_or_default().to_string();
                            match result["status"].as_str() {
                                Some("accepted") => {
                                    accepted.lock().unwrap().insert(id);
                                }
                                Some("rejected") => {
                                    assert!(id.ends_with("-bad"), "valid order refused: {result}")
                                }
                                _ => *unavailable.lock().unwrap() += 1,
                            }
                        }
                    }
                }
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>();
    let chaos = async {
        for pause in kill_times {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            if let Some(running) = job.lock().unwrap().take() {
                running.kill();
            }
            let restarted = world.start_job().await;
            *job.lock().unwrap() = Some(restarted);
        }
    };
    tokio::join!(sending, chaos);
    assert_eq!(
        *unavailable.lock().unwrap(),
        0,
        "Kafka was up; nothing should have been refused as unavailable"
    );

    // Then later versions of accepted orders with other content, one of them twice inside a
    // batch, while the job is killed once more: each one is accepted (ingest-api keeps no state)
    // and must become a dead letter, never a row.
    let mut variants: Vec<Value> = Vec::new();
    for order in &orders {
        if accepted.lock().unwrap().contains(&order.order_id) && rng.chance(4) {
            variants.push(conflicting(&mut rng, order));
        }
    }
    let conflicting_ids: BTreeSet<String> = variants
        .iter()
        .map(|v| v["order_id"].as_str().unwrap().to_string())
        .collect();
    assert!(conflicting_ids.len() >= 50, "{}", conflicting_ids.len());
    let (first_half, second_half) = variants.split_at(variants.len() / 2);
    let reply = post(
        &client,
        &format!("{base}/v1/orders/batch"),
        &vec![first_half[0].clone(), first_half[0].clone()],
    )
    .await;
    assert_eq!(reply.status(), 200);
    for (i, half) in [first_half, second_half].into_iter().enumerate() {
        for body in half {
            let status = post(&client, &format!("{base}/v1/orders"), body)
                .await
                .status();
            assert_eq!(status, 202, "{body}");
        }
        if i == 0 {
            if let Some(running) = job.lock().unwrap().take() {
                running.kill();
            }
            *job.lock().unwrap() = Some(world.start_job().await);
        }
    }

    // Let the last job drain everything and commit it.
    let produced = world.kafka.end_offsets_total(&world.topic);
    let deadline = Instant::now() + Duration::from_secs(120);
    while world.kafka.committed_total(&world.group, &world.topic) < produced {
        assert!(Instant::now() < deadline, "the job did not catch up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(
        accepted.len(),
        ORDERS,
        "every valid order was accepted at least once"
    );

    // Every conflicting duplicate is a dead letter (a kill may have sent one twice).
    let dlq = format!("{}.dlq", world.topic);
    let dead: BTreeSet<String> = world
        .kafka
        .read_topic(&dlq, 2 * conflicting_ids.len(), Duration::from_secs(5))
        .iter()
        .filter(|m| {
            use rdkafka::message::{Headers, Message};
            m.headers().is_some_and(|h| {
                h.iter().any(|h| {
                    h.key == "dlq.error.code"
                        && h.value == Some(b"conflicting_duplicate".as_slice())
                })
            })
        })
        .map(test_support::kafka::key_text)
        .collect();
    assert_eq!(
        dead, conflicting_ids,
        "conflicting duplicates vs dead letters"
    );

    // Cassandra holds exactly the accepted orders, once each.
    let stored = world.rows_per_order("orders_by_id").await;
    assert_eq!(
        stored.keys().cloned().collect::<BTreeSet<_>>(),
        accepted,
        "Cassandra lost or invented orders"
    );
    assert!(stored.values().all(|n| *n == 1));

    // The generator's totals of the accepted orders.
    let mut expected = Totals::new();
    let mut expected_products: BTreeMap<(String, NaiveDate), i64> = BTreeMap::new();
    for order in orders.iter().filter(|o| accepted.contains(&o.order_id)) {
        let entry = expected.entry(order.key.clone()).or_default();
        *entry = (entry.0 + 1, entry.1 + order.items, entry.2 + order.total);
        for (sku, amount) in &order.lines {
            *expected_products
                .entry((sku.clone(), order.key.3))
                .or_default() += amount;
        }
    }

    // Totals from Cassandra.
    let rows = world
        .scan::<(String, String, String, NaiveDate, i32, i64)>(
            "SELECT store_id, channel, currency, day, item_count, total_minor FROM sales.orders_by_id",
        )
        .await;
    let mut from_cassandra = Totals::new();
    for (store, channel, currency, day, items, total) in rows {
        let entry = from_cassandra
            .entry((store, channel, currency, day))
            .or_default();
        *entry = (entry.0 + 1, entry.1 + items as u64, entry.2 + total);
    }

    // Totals from ClickHouse's views.
    let mut from_clickhouse = Totals::new();
    for (store, channel, currency, day, orders, items, revenue) in world
        .clickhouse
        .rows::<(String, String, String, String, u64, u64, i64)>(
            "SELECT store_id, channel, currency, toString(day), orders, items, revenue_minor FROM sales.v_sales_daily",
        )
        .await
    {
        let day = day.parse().expect("a ClickHouse Date");
        from_clickhouse.insert((store, channel, currency, day), (orders, items, revenue));
    }
    let from_clickhouse_products: BTreeMap<(String, NaiveDate), i64> = world
        .clickhouse
        .rows::<(String, String, i64)>(
            "SELECT sku, toString(day), sum(revenue_minor) FROM sales.v_product_sales_by_window GROUP BY sku, day",
        )
        .await
        .into_iter()
        .map(|(sku, day, revenue)| ((sku, day.parse().expect("a ClickHouse Date")), revenue))
        .collect();

    assert!(
        expected.len() > 20,
        "the generator should spread orders over many groups"
    );
    assert!(
        expected.keys().map(|k| k.3).collect::<BTreeSet<_>>().len() >= 3,
        "late orders should reach earlier days"
    );
    assert_eq!(
        expected
            .keys()
            .map(|k| k.2.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["EUR", "JPY", "KWD", "USD"])
    );
    assert_same(
        &from_cassandra,
        &expected,
        "Cassandra vs the accepted orders",
    );
    assert_same(&from_clickhouse, &from_cassandra, "ClickHouse vs Cassandra");
    assert_same(
        &from_clickhouse_products,
        &expected_products,
        "ClickHouse products vs the accepted orders",
    );

    if let Some(running) = job.lock().unwrap().take() {
        running.kill();
    }
    ingest.abort();
}
