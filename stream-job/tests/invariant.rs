//! The invariant of DESIGN.md §6, end to end: for a seeded random stream of requests — sales,
//! refunds and voids, with retries, exact duplicates, conflicting duplicates, invalid orders, late
//! and out-of-order event times, in currencies of 0, 2 and 3 decimals — sent through ingest-api
//! while stream-job is killed (no clean shutdown) and restarted several times, with business days
//! in Asia/Kolkata (UTC+05:30), afterwards
//!
//! - Cassandra holds exactly the distinct accepted sales, refunds and voids, each in its first
//!   version (no acknowledged event is lost); every conflicting duplicate is a dead letter;
//! - ClickHouse's orders, items, gross, refunds and net per store/channel/currency/business day
//!   equal those computed from Cassandra and those the generator recorded for the accepted
//!   events; per-product net totals match too.
//!
//! Refunds are partial, full, several per sale, over the sale's total, of sales nobody posted,
//! made at another store, and made in the sale's window as well as days later; voids cancel sales
//! with and without refunds, and some void sales nobody posted. The generator checks that its
//! stream holds each of these, so the test fails if voids were ignored or if refunds were counted
//! in their sale's window instead of their own.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use stream_job::startup::StreamJob;
use support::World;

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

/// A group: (store, channel, currency, business day).
type Group = (String, String, String, NaiveDate);

/// Per group: orders, items, gross, refunds and net in minor units.
type Totals = BTreeMap<Group, (u64, u64, i64, i64, i64)>;

/// Adds to a group's totals.
fn add(totals: &mut Totals, group: Group, orders: u64, items: u64, gross: i64, refunds: i64) {
    let entry = totals.entry(group).or_default();
    *entry = (
        entry.0 + orders,
        entry.1 + items,
        entry.2 + gross,
        entry.3 + refunds,
        entry.4 + gross - refunds,
    );
}

/// The totals without groups where nothing is left (a window whose only sale was voided).
fn nonzero(totals: Totals) -> Totals {
    totals
        .into_iter()
        .filter(|(_, v)| *v != (0, 0, 0, 0, 0))
        .collect()
}

/// One generated order, with what it should add to the totals.
#[derive(Clone)]
struct Generated {
    order_id: String,
    body: Value,
    key: Group,
    created_at: DateTime<Utc>,
    exponent: u32,
    items: u64,
    total: i64,
    lines: Vec<(String, i64)>,
}

/// One generated refund: its body, the group it counts in, its amount and product lines.
#[derive(Clone)]
struct GeneratedRefund {
    refund_id: String,
    order_id: String,
    body: Value,
    key: Group,
    amount: i64,
    lines: Vec<(String, i64)>,
    /// The day the refunded sale counts on, when there is a sale.
    sale_day: Option<NaiveDate>,
}

/// One generated void.
#[derive(Clone)]
struct GeneratedVoid {
    order_id: String,
    body: Value,
}

const STORES: [&str; 7] = [
    "store-001",
    "store-002",
    "store-003",
    "store-005",
    "store-007",
    "store-042",
    "store-777",
];

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
    let stores = STORES;
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
        created_at,
        exponent,
        items,
        total,
        lines: line_values,
    }
}

/// A refund of `sale` (or of a sale nobody posted, when `None`): partial, full or more than the
/// sale's total, sometimes with its product, sometimes at another store, made in the sale's
/// window or any time up to now.
fn generate_refund(
    rng: &mut Rng,
    n: usize,
    sale: Option<&Generated>,
    now: DateTime<Utc>,
) -> GeneratedRefund {
    let refund_id = format!("inv-r-{n:05}");
    let (order_id, store, channel, currency, exponent, sale_at, total, sku) = match sale {
        Some(sale) => (
            sale.order_id.clone(),
            sale.key.0.clone(),
            sale.key.1.clone(),
            sale.key.2.clone(),
            sale.exponent,
            sale.created_at,
            sale.total,
            Some(sale.lines[0].0.clone()),
        ),
        None => (
            format!("inv-ghost-{n:05}"),
            rng.pick(&STORES).to_string(),
            "unknown".to_string(),
            "EUR".to_string(),
            2,
            now - chrono::Duration::seconds(rng.below(7_200) as i64),
            1_000,
            None,
        ),
    };
    let store = if rng.chance(15) {
        rng.pick(&STORES).to_string()
    } else {
        store
    };
    let since = (now - sale_at).num_seconds().max(1) as u64;
    let created_at = if rng.chance(30) {
        sale_at + chrono::Duration::seconds(rng.below(30.min(since)) as i64)
    } else {
        sale_at + chrono::Duration::seconds(rng.below(since) as i64)
    };
    let amount = match rng.below(20) {
        0..=7 => total,
        8..=16 => 1 + rng.below((total / 2).max(1) as u64) as i64,
        _ => total + 1 + rng.below(100) as i64,
    };
    let mut body = json!({
        "refund_id": refund_id,
        "order_id": order_id,
        "store_id": store,
        "currency": currency,
        "created_at": created_at.to_rfc3339(),
        "amount": money(amount, exponent, rng),
    });
    let mut lines = Vec::new();
    if let Some(sku) = sku.filter(|_| rng.chance(50)) {
        body["items"] =
            json!([{"sku": sku, "quantity": 1, "amount": money(amount, exponent, rng)}]);
        lines.push((sku, amount));
    }
    if rng.chance(30) {
        body["reason"] = json!("damaged");
    }
    GeneratedRefund {
        refund_id,
        order_id,
        body,
        key: (store, channel, currency, zone().day_of(created_at)),
        amount,
        lines,
        sale_day: sale.map(|s| s.key.3),
    }
}

/// A void of `sale` (or of a sale nobody posted), made some time after it.
fn generate_void(
    rng: &mut Rng,
    order_id: &str,
    sale: Option<&Generated>,
    now: DateTime<Utc>,
) -> GeneratedVoid {
    let sale_at = sale.map_or(now - chrono::Duration::seconds(60), |s| s.created_at);
    let since = (now - sale_at).num_seconds().max(1) as u64;
    let created_at = sale_at + chrono::Duration::seconds(rng.below(since) as i64);
    GeneratedVoid {
        order_id: order_id.to_string(),
        body: json!({
            "store_id": sale.map_or("store-001", |s| s.key.0.as_str()),
            "created_at": created_at.to_rfc3339(),
            "reason": "rung up twice",
        }),
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
    /// A void: the sale's id and the body.
    Void(String, Value),
}

/// Where each kind of request goes, and the id its answers name.
#[derive(Clone, Copy)]
struct Routes {
    single: &'static str,
    batch: &'static str,
    id: &'static str,
}

const ORDER_ROUTES: Routes = Routes {
    single: "/v1/orders",
    batch: "/v1/orders/batch",
    id: "order_id",
};

const REFUND_ROUTES: Routes = Routes {
    single: "/v1/refunds",
    batch: "/v1/refunds/batch",
    id: "refund_id",
};

/// Singles and batches (with an exact duplicate inside some) in a shuffled order.
fn plan(rng: &mut Rng, mut bodies: Vec<Value>) -> Vec<Request> {
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
    plan
}

/// Sends the plan, four requests at a time, recording the ids answered as accepted and counting
/// the elements answered 503; a refusal (422) is expected only for ids ending in `-bad`.
async fn send(
    client: &reqwest::Client,
    base: &str,
    routes: Routes,
    plan: Vec<Request>,
    accepted: &Mutex<BTreeSet<String>>,
    unavailable: &Mutex<usize>,
) {
    stream::iter(plan)
        .map(|request| async move {
            let (url, body, id) = match request {
                Request::Batch(bodies) => {
                    let response = post(client, &format!("{base}{}", routes.batch), &bodies).await;
                    let reply: Value = response.json().await.expect("batch reply");
                    for result in reply["results"].as_array().expect("results") {
                        let id = result[routes.id].as_str().unwrap_or_default().to_string();
                        match result["status"].as_str() {
                            Some("accepted") => {
                                accepted.lock().unwrap().insert(id);
                            }
                            Some("rejected") => {
                                assert!(id.ends_with("-bad"), "valid element refused: {result}")
                            }
                            _ => *unavailable.lock().unwrap() += 1,
                        }
                    }
                    return;
                }
                Request::Single(body) => {
                    let id = body[routes.id].as_str().unwrap().to_string();
                    (format!("{base}{}", routes.single), body, id)
                }
                Request::Void(order_id, body) => (
                    format!("{base}/v1/orders/{order_id}/void"),
                    body,
                    format!("void:{order_id}"),
                ),
            };
            let response = post(client, &url, &body).await;
            match response.status().as_u16() {
                202 => {
                    accepted.lock().unwrap().insert(id);
                }
                422 => assert!(id.ends_with("-bad"), "valid request refused: {body}"),
                status => {
                    assert_eq!(status, 503, "unexpected status for {body}");
                    *unavailable.lock().unwrap() += 1;
                }
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
}

/// Kills the running job and starts another after each pause.
async fn kill_and_restart(world: &World, job: &Mutex<Option<StreamJob>>, pauses: Vec<u64>) {
    for pause in pauses {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if let Some(running) = job.lock().unwrap().take() {
            running.kill();
        }
        let restarted = world.start_job().await;
        *job.lock().unwrap() = Some(restarted);
    }
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

/// What the steps share: the world, ingest-api's address, the running job (killed and restarted
/// by the steps), and how many elements Kafka refused as unavailable.
struct Run<'a> {
    world: &'a World,
    client: reqwest::Client,
    base: String,
    job: Mutex<Option<StreamJob>>,
    unavailable: Mutex<usize>,
}

impl Run<'_> {
    /// Kills the running job and starts another.
    async fn restart_job(&self) {
        if let Some(running) = self.job.lock().unwrap().take() {
            running.kill();
        }
        *self.job.lock().unwrap() = Some(self.world.start_job().await);
    }

    /// POSTs `body` to `path` and checks that ingest-api accepted it.
    async fn accepted(&self, path: &str, body: &Value) {
        let status = post(&self.client, &format!("{}{path}", self.base), body)
            .await
            .status();
        assert_eq!(status, 202, "{body}");
    }
}

/// Step 1, sales: every order at least once, some retried later, some duplicated inside a batch,
/// invalid ones mixed in; singles and batches in a shuffled order; the job killed meanwhile.
/// The ids accepted.
async fn post_sales(run: &Run<'_>, rng: &mut Rng, orders: &[Generated]) -> BTreeSet<String> {
    let mut bodies: Vec<Value> = Vec::new();
    for order in orders {
        bodies.push(order.body.clone());
        if rng.chance(15) {
            bodies.push(order.body.clone()); // a POS retry of the same payload
        }
        if rng.chance(5) {
            bodies.push(invalid(rng, order));
        }
    }
    let sales_plan = plan(rng, bodies);
    let accepted = Mutex::new(BTreeSet::new());
    let kills: Vec<u64> = (0..KILLS).map(|_| 300 + rng.below(1500)).collect();
    tokio::join!(
        send(
            &run.client,
            &run.base,
            ORDER_ROUTES,
            sales_plan,
            &accepted,
            &run.unavailable
        ),
        kill_and_restart(run.world, &run.job, kills),
    );
    let accepted = accepted.into_inner().unwrap();
    assert_eq!(
        accepted.len(),
        ORDERS,
        "every valid order was accepted at least once"
    );
    accepted
}

/// The refunds and voids of step 2: of accepted sales (so each follows its sale in the
/// partition), and of sales nobody posted.
fn refunds_and_voids(
    rng: &mut Rng,
    orders: &[Generated],
) -> (Vec<GeneratedRefund>, Vec<GeneratedVoid>) {
    let now = Utc::now();
    let mut refunds: Vec<GeneratedRefund> = Vec::new();
    let mut voids: Vec<GeneratedVoid> = Vec::new();
    for order in orders {
        if rng.chance(30) {
            for _ in 0..=rng.below(3) {
                let n = refunds.len();
                refunds.push(generate_refund(rng, n, Some(order), now));
            }
        }
        if rng.chance(5) {
            voids.push(generate_void(rng, &order.order_id, Some(order), now));
        }
    }
    for _ in 0..25 {
        let n = refunds.len();
        refunds.push(generate_refund(rng, n, None, now));
    }
    for n in 0..5 {
        voids.push(generate_void(
            rng,
            &format!("inv-ghost-void-{n}"),
            None,
            now,
        ));
    }
    (refunds, voids)
}

/// Step 2: posts the refunds and voids with retries, in-batch duplicates and invalid refunds,
/// while the job is killed again. The refund ids and voided order ids accepted.
async fn post_refunds_and_voids(
    run: &Run<'_>,
    rng: &mut Rng,
    refunds: &[GeneratedRefund],
    voids: &[GeneratedVoid],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut bodies: Vec<Value> = Vec::new();
    for refund in refunds {
        bodies.push(refund.body.clone());
        if rng.chance(15) {
            bodies.push(refund.body.clone());
        }
        if rng.chance(3) {
            let mut bad = refund.body.clone();
            bad["refund_id"] = json!(format!("{}-bad", refund.refund_id));
            bad["amount"] = json!("0");
            bad.as_object_mut().unwrap().remove("items");
            bodies.push(bad);
        }
    }
    let refund_plan = plan(rng, bodies);
    let mut void_plan: Vec<Request> = Vec::new();
    for void in voids {
        void_plan.push(Request::Void(void.order_id.clone(), void.body.clone()));
        if rng.chance(20) {
            void_plan.push(Request::Void(void.order_id.clone(), void.body.clone()));
        }
    }
    let accepted_refunds = Mutex::new(BTreeSet::new());
    let accepted_voids = Mutex::new(BTreeSet::new());
    let kills: Vec<u64> = (0..2).map(|_| 300 + rng.below(1000)).collect();
    tokio::join!(
        send(
            &run.client,
            &run.base,
            REFUND_ROUTES,
            refund_plan,
            &accepted_refunds,
            &run.unavailable
        ),
        send(
            &run.client,
            &run.base,
            ORDER_ROUTES,
            void_plan,
            &accepted_voids,
            &run.unavailable
        ),
        kill_and_restart(run.world, &run.job, kills),
    );
    assert_eq!(
        *run.unavailable.lock().unwrap(),
        0,
        "Kafka was up; nothing should have been refused as unavailable"
    );
    let accepted_refunds = accepted_refunds.into_inner().unwrap();
    let accepted_voids: BTreeSet<String> = accepted_voids
        .into_inner()
        .unwrap()
        .iter()
        .map(|id| id.trim_start_matches("void:").to_string())
        .collect();
    assert_eq!(
        accepted_refunds.len(),
        refunds.len(),
        "every valid refund accepted"
    );
    assert_eq!(accepted_voids.len(), voids.len(), "every void accepted");
    (accepted_refunds, accepted_voids)
}

/// The stream holds every case the rules speak of, so ignoring a rule shows in the totals. The
/// number of refunds on another business day than their sale.
fn assert_every_rule_is_exercised(
    orders: &[Generated],
    refunds: &[GeneratedRefund],
    voided: &BTreeSet<String>,
) -> usize {
    let refunded_sales: BTreeSet<&str> = refunds.iter().map(|r| r.order_id.as_str()).collect();
    let sale_total = |id: &str| orders.iter().find(|o| o.order_id == id).map(|o| o.total);
    let refunded_by_sale = |id: &str| -> i64 {
        refunds
            .iter()
            .filter(|r| r.order_id == id)
            .map(|r| r.amount)
            .sum()
    };
    assert!(voided.len() >= 60, "voids: {}", voided.len());
    assert!(
        voided
            .iter()
            .filter(|id| refunded_sales.contains(id.as_str()))
            .count()
            >= 5,
        "voided sales with refunds"
    );
    let other_day = refunds
        .iter()
        .filter(|r| r.sale_day.is_some_and(|d| d != r.key.3))
        .count();
    assert!(
        other_day >= 20,
        "refunds on another business day than their sale: {other_day}"
    );
    assert!(
        refunded_sales
            .iter()
            .filter(|id| sale_total(id).is_some_and(|t| refunded_by_sale(id) > t))
            .count()
            >= 20,
        "over-refunded sales"
    );
    assert!(
        refunded_sales
            .iter()
            .filter(|id| refunds.iter().filter(|r| r.order_id == **id).count() > 1)
            .count()
            >= 50,
        "sales with several refunds"
    );
    other_day
}

/// Step 3: later versions of accepted ids with other content — sales, refunds and voids — one of
/// them twice inside a batch, while the job is killed once more: ingest-api accepts each (it
/// keeps no state) and stream-job must make each a dead letter, never a row. The order ids the
/// dead letters must name, and how many dead letters were sent.
async fn post_conflicting_versions(
    run: &Run<'_>,
    rng: &mut Rng,
    orders: &[Generated],
    refunds: &[GeneratedRefund],
    voids: &[GeneratedVoid],
) -> (BTreeSet<String>, usize) {
    let mut variants: Vec<Value> = Vec::new();
    for order in orders {
        if rng.chance(4) {
            variants.push(conflicting(rng, order));
        }
    }
    let mut dead_expected: BTreeSet<String> = variants
        .iter()
        .map(|v| v["order_id"].as_str().unwrap().to_string())
        .collect();
    assert!(dead_expected.len() >= 50, "{}", dead_expected.len());
    let refund_variants: Vec<Value> = refunds
        .iter()
        .filter(|_| rng.chance(5))
        .map(|r| {
            let mut body = r.body.clone();
            body["reason"] = json!("changed my mind");
            body
        })
        .collect();
    let void_variants: Vec<(String, Value)> = voids
        .iter()
        .take(3)
        .map(|v| {
            let mut body = v.body.clone();
            body["reason"] = json!("another reason");
            (v.order_id.clone(), body)
        })
        .collect();
    dead_expected.extend(
        refund_variants
            .iter()
            .map(|b| b["order_id"].as_str().unwrap().to_string()),
    );
    dead_expected.extend(void_variants.iter().map(|(id, _)| id.clone()));
    let dead_letters = variants.len() + refund_variants.len() + void_variants.len() + 1;
    let (first_half, second_half) = variants.split_at(variants.len() / 2);
    let reply = post(
        &run.client,
        &format!("{}/v1/orders/batch", run.base),
        &vec![first_half[0].clone(), first_half[0].clone()],
    )
    .await;
    assert_eq!(reply.status(), 200);
    for body in first_half {
        run.accepted("/v1/orders", body).await;
    }
    run.restart_job().await;
    for body in second_half {
        run.accepted("/v1/orders", body).await;
    }
    for body in &refund_variants {
        run.accepted("/v1/refunds", body).await;
    }
    for (order_id, body) in &void_variants {
        run.accepted(&format!("/v1/orders/{order_id}/void"), body)
            .await;
    }
    (dead_expected, dead_letters)
}

/// Lets the last job drain everything and commit it.
async fn wait_until_drained(world: &World) {
    let produced = world.kafka.end_offsets_total(&world.topic);
    let deadline = Instant::now() + Duration::from_secs(120);
    while world.kafka.committed_total(&world.group, &world.topic) < produced {
        assert!(Instant::now() < deadline, "the job did not catch up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every conflicting duplicate is a dead letter (a kill may have sent one twice).
fn assert_dead_letters(world: &World, expected: &BTreeSet<String>, sent: usize) {
    let dlq = format!("{}.dlq", world.topic);
    let dead: BTreeSet<String> = world
        .kafka
        .read_topic(&dlq, 2 * sent, Duration::from_secs(5))
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
    assert_eq!(&dead, expected, "conflicting duplicates vs dead letters");
}

/// Cassandra holds exactly the accepted sales, voids and refunds, once each, first versions.
async fn assert_cassandra_holds_the_accepted(
    world: &World,
    sales: &BTreeSet<String>,
    voids: &BTreeSet<String>,
    refunds: &BTreeSet<String>,
) {
    let rows = world
        .scan::<(String, Option<String>, Option<String>)>(
            "SELECT order_id, store_id, void_store_id FROM sales.orders_by_id",
        )
        .await;
    let stored_sales: BTreeSet<String> = rows
        .iter()
        .filter(|(_, store, _)| store.is_some())
        .map(|(id, _, _)| id.clone())
        .collect();
    let stored_voids: BTreeSet<String> = rows
        .iter()
        .filter(|(_, _, void_store)| void_store.is_some())
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(&stored_sales, sales, "Cassandra lost or invented sales");
    assert_eq!(&stored_voids, voids, "Cassandra lost or invented voids");
    let stored_refunds: BTreeMap<String, Option<String>> = world
        .scan::<(String, Option<String>)>("SELECT refund_id, reason FROM sales.refunds_by_id")
        .await
        .into_iter()
        .collect();
    assert_eq!(
        &stored_refunds.keys().cloned().collect::<BTreeSet<_>>(),
        refunds,
        "Cassandra lost or invented refunds"
    );
    assert!(
        stored_refunds
            .values()
            .all(|reason| reason.as_deref() != Some("changed my mind")),
        "a refund's later version replaced its first"
    );
}

/// Per-product net, by (SKU, business day), without the zeros.
type Products = BTreeMap<(String, NaiveDate), i64>;

/// The generator's totals of the accepted events: the groups' and the products'.
fn expected_totals(
    orders: &[Generated],
    refunds: &[GeneratedRefund],
    voided: &BTreeSet<String>,
) -> (Totals, Products) {
    let mut expected = Totals::new();
    let mut products = Products::new();
    for order in orders.iter().filter(|o| !voided.contains(&o.order_id)) {
        add(
            &mut expected,
            order.key.clone(),
            1,
            order.items,
            order.total,
            0,
        );
        for (sku, amount) in &order.lines {
            *products.entry((sku.clone(), order.key.3)).or_default() += amount;
        }
    }
    for refund in refunds {
        add(&mut expected, refund.key.clone(), 0, 0, 0, refund.amount);
        for (sku, amount) in &refund.lines {
            *products.entry((sku.clone(), refund.key.3)).or_default() -= amount;
        }
    }
    products.retain(|_, net| *net != 0);
    (expected, products)
}

/// Totals from Cassandra: sales not voided, and refunds.
async fn cassandra_totals(world: &World) -> Totals {
    let mut totals = Totals::new();
    for (store, channel, currency, day, items, total, void) in world
        .scan::<(
            Option<String>,
            Option<String>,
            Option<String>,
            Option<NaiveDate>,
            Option<i32>,
            Option<i64>,
            Option<String>,
        )>(
            "SELECT store_id, channel, currency, day, item_count, total_minor, void_store_id FROM sales.orders_by_id",
        )
        .await
    {
        if let (Some(store), Some(channel), Some(currency), Some(day), Some(items), Some(total), None) =
            (store, channel, currency, day, items, total, void)
        {
            add(&mut totals, (store, channel, currency, day), 1, items as u64, total, 0);
        }
    }
    for (store, channel, currency, day, amount) in world
        .scan::<(String, String, String, NaiveDate, i64)>(
            "SELECT store_id, channel, currency, day, amount_minor FROM sales.refunds_by_id",
        )
        .await
    {
        add(
            &mut totals,
            (store, channel, currency, day),
            0,
            0,
            0,
            amount,
        );
    }
    totals
}

/// Totals from ClickHouse's views: the groups' and the products'.
async fn clickhouse_totals(world: &World) -> (Totals, Products) {
    let mut totals = Totals::new();
    for (store, channel, currency, day, orders, items, gross, refunds, net) in world
        .clickhouse
        .rows::<(String, String, String, String, u64, u64, i64, i64, i64)>(
            "SELECT store_id, channel, currency, toString(day), orders, items, gross_minor, refunds_minor, net_minor FROM sales.v_sales_daily",
        )
        .await
    {
        let day = day.parse().expect("a ClickHouse Date");
        totals.insert((store, channel, currency, day), (orders, items, gross, refunds, net));
    }
    let products: Products = world
        .clickhouse
        .rows::<(String, String, i64)>(
            "SELECT sku, toString(day), sum(net_minor) FROM sales.v_product_sales_by_window GROUP BY sku, day",
        )
        .await
        .into_iter()
        .map(|(sku, day, net)| ((sku, day.parse().expect("a ClickHouse Date")), net))
        .filter(|(_, net)| *net != 0)
        .collect();
    (totals, products)
}

/// The expected totals cover what the comparison must: many groups, several days, refunds of
/// unknown sales, every currency.
fn assert_the_totals_are_varied(expected: &Totals) {
    assert!(
        expected.len() > 20,
        "the generator should spread orders over many groups"
    );
    assert!(
        expected.keys().map(|k| k.3).collect::<BTreeSet<_>>().len() >= 3,
        "late orders should reach earlier days"
    );
    assert!(
        expected.keys().any(|k| k.1 == "unknown"),
        "refunds of unknown sales form their own channel"
    );
    assert_eq!(
        expected
            .keys()
            .map(|k| k.2.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["EUR", "JPY", "KWD", "USD"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_agree_across_stores_after_sales_refunds_voids_retries_duplicates_and_kills() {
    let mut world = World::new().await;
    world.settings.push(("BUSINESS_TIME_ZONE", ZONE));
    let (base, ingest) = world
        .start_ingest(&[("INGEST_API_KEYS", KEY), ("KAFKA_ADMIN_TIMEOUT_MS", "1000")])
        .await;
    let run = Run {
        world: &world,
        client: reqwest::Client::new(),
        base,
        job: Mutex::new(Some(world.start_job().await)),
        unavailable: Mutex::new(0),
    };
    let mut rng = Rng(SEED);
    let now = Utc::now();
    let orders: Vec<Generated> = (0..ORDERS).map(|n| generate(&mut rng, n, now)).collect();

    let accepted_sales = post_sales(&run, &mut rng, &orders).await;
    let (refunds, voids) = refunds_and_voids(&mut rng, &orders);
    let (accepted_refunds, accepted_voids) =
        post_refunds_and_voids(&run, &mut rng, &refunds, &voids).await;
    let voided: BTreeSet<String> = voids.iter().map(|v| v.order_id.clone()).collect();
    let other_day = assert_every_rule_is_exercised(&orders, &refunds, &voided);
    let (dead_expected, dead_letters) =
        post_conflicting_versions(&run, &mut rng, &orders, &refunds, &voids).await;
    wait_until_drained(&world).await;

    assert_dead_letters(&world, &dead_expected, dead_letters);
    assert_cassandra_holds_the_accepted(
        &world,
        &accepted_sales,
        &accepted_voids,
        &accepted_refunds,
    )
    .await;
    let (expected, expected_products) = expected_totals(&orders, &refunds, &voided);
    let from_cassandra = cassandra_totals(&world).await;
    let (from_clickhouse, from_clickhouse_products) = clickhouse_totals(&world).await;
    assert_the_totals_are_varied(&expected);
    let (expected, from_cassandra, from_clickhouse) = (
        nonzero(expected),
        nonzero(from_cassandra),
        nonzero(from_clickhouse),
    );
    assert_same(
        &from_cassandra,
        &expected,
        "Cassandra vs the accepted events",
    );
    assert_same(&from_clickhouse, &from_cassandra, "ClickHouse vs Cassandra");
    assert_same(
        &from_clickhouse_products,
        &expected_products,
        "ClickHouse products vs the accepted events",
    );
    let voided_sales = voided
        .iter()
        .filter(|id| accepted_sales.contains(*id))
        .count();
    eprintln!(
        "invariant: {} sales ({} voided), {} refunds ({} of unknown sales, {} on another day than their sale), {} voids of unknown sales, {} conflicting duplicates, {} groups, {} kills",
        accepted_sales.len(),
        voided_sales,
        refunds.len(),
        refunds.iter().filter(|r| r.sale_day.is_none()).count(),
        other_day,
        voids.len() - voided_sales,
        dead_letters,
        expected.len(),
        KILLS + 3,
    );

    if let Some(running) = run.job.lock().unwrap().take() {
        running.kill();
    }
    ingest.abort();
}
