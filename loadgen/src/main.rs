//! loadgen: a stand-in for a chain of shops. Every second it posts a batch of orders (about
//! `LOADGEN_RATE` per second) from the stores of the seed file to ingest-api: several lines from a
//! small café menu, all four channels, now and then a POS retry of an order it already sent. A 503
//! makes it wait `Retry-After` seconds; nothing else stops it.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde_json::{json, Value};
use service_runtime::telemetry;

const MENU: [(&str, &str, i64); 8] = [
    ("sku-latte", "Latte", 350),
    ("sku-espresso", "Espresso", 220),
    ("sku-cappuccino", "Cappuccino", 330),
    ("sku-tea", "Tea", 280),
    ("sku-croissant", "Croissant", 220),
    ("sku-bagel", "Bagel", 260),
    ("sku-muffin", "Muffin", 290),
    ("sku-juice", "Orange juice", 390),
];
const CHANNELS: [&str; 6] = [
    "in_store", "in_store", "in_store", "takeaway", "delivery", "online",
];
const PAYMENTS: [&str; 4] = ["card", "card", "mobile", "cash"];

/// xorshift64*: enough randomness for demo traffic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn decimal(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn order(rng: &mut Rng, n: u64, stores: &[String]) -> Value {
    let mut subtotal = 0;
    let lines: Vec<Value> = (0..=rng.below(3))
        .map(|_| {
            let (sku, name, price) = MENU[rng.below(MENU.len() as u64) as usize];
            let quantity = 1 + rng.below(3) as i64;
            subtotal += quantity * price;
            json!({"sku": sku, "name": name, "quantity": quantity, "unit_price": decimal(price)})
        })
        .collect();
    let discount = if rng.below(10) == 0 { subtotal / 10 } else { 0 };
    let tax = (subtotal - discount) * 7 / 100;
    json!({
        "order_id": format!("demo-{}-{n}", Utc::now().timestamp()),
        "store_id": stores[rng.below(stores.len() as u64) as usize],
        "terminal_id": format!("t-{}", 1 + rng.below(4)),
        "customer_id": (rng.below(3) == 0).then(|| format!("c-{}", rng.below(500))),
        "channel": CHANNELS[rng.below(CHANNELS.len() as u64) as usize],
        "currency": "EUR",
        "created_at": (Utc::now() - chrono::Duration::milliseconds(rng.below(3_000) as i64)).to_rfc3339(),
        "items": lines,
        "discount": decimal(discount),
        "tax": decimal(tax),
        "total": decimal(subtotal - discount + tax),
        "payment_method": PAYMENTS[rng.below(PAYMENTS.len() as u64) as usize],
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = telemetry::start();
    let url = format!(
        "{}/v1/orders/batch",
        settings
            .string("INGEST_URL", "http://localhost:8080")
            .trim_end_matches('/')
    );
    let key = settings
        .raw("INGEST_API_KEY")
        .context("set INGEST_API_KEY to one of ingest-api's keys")?;
    let rate = settings.bounded("LOADGEN_RATE", 20, 1, 1_000)?;
    let stores = settings.list(
        "LOADGEN_STORES",
        "store-001,store-002,store-003,store-004,store-005,store-006,store-007,store-008,store-009,store-010,store-042",
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64);
    let mut previous: Vec<Value> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0u64;
    tracing::info!(%url, rate, stores = stores.len(), "posting orders");
    loop {
        ticker.tick().await;
        let mut batch: Vec<Value> = (0..rate)
            .map(|_| {
                n += 1;
                order(&mut rng, n, &stores)
            })
            .collect();
        // About one order in fifty is a POS retry of one already sent: it must count once.
        if let Some(retry) = previous.get(rng.below(50) as usize) {
            batch.push(retry.clone());
        }
        match client
            .post(&url)
            .bearer_auth(&key)
            .json(&batch)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                let reply: Value = response.json().await.unwrap_or_default();
                tracing::info!(accepted = %reply["accepted"], rejected = %reply["rejected"], "batch posted");
                previous = batch;
            }
            Ok(response) => {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(5);
                tracing::warn!(
                    status = response.status().as_u16(),
                    wait,
                    "ingest-api refused the batch; waiting"
                );
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            Err(error) => {
                tracing::warn!(%error, "ingest-api not reachable; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
