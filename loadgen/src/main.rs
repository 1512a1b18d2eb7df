//! loadgen: a stand-in for a chain of shops. Every second it posts a batch of orders (about
//! `LOADGEN_RATE` per second) from the stores of the seed file to ingest-api: several lines from a
//! small café menu, all four channels, now and then a POS retry of an order it already sent.
//! It also gives money back: `LOADGEN_REFUND_PERCENT` refunds per hundred orders (full or partial,
//! of sales it made; one in ten of a sale it back-dates a few days, so the refund comes days after
//! the sale) and `LOADGEN_VOID_PERCENT` voids per hundred orders. A 503 or 429 makes it wait
//! `Retry-After` seconds; nothing else stops it.

use std::collections::VecDeque;
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

/// What loadgen remembers of an accepted sale, to refund or void it later.
#[derive(Clone)]
struct Sale {
    order_id: String,
    store_id: String,
    /// What is left to refund, in cents.
    total_minor: i64,
}

/// The most sales remembered for refunds.
const REMEMBERED: usize = 10_000;

fn sale_of(order: &Value) -> Sale {
    let minor = |text: &str| {
        let (units, cents) = text.split_once('.').unwrap_or((text, "0"));
        units.parse::<i64>().unwrap_or(0) * 100 + cents.parse::<i64>().unwrap_or(0)
    };
    Sale {
        order_id: order["order_id"].as_str().unwrap_or_default().to_string(),
        store_id: order["store_id"].as_str().unwrap_or_default().to_string(),
        total_minor: minor(order["total"].as_str().unwrap_or("0")),
    }
}

/// A refund of `sale`: half of them give back everything, the rest part of it.
fn refund(rng: &mut Rng, n: u64, sale: &Sale) -> Value {
    let amount = if rng.below(2) == 0 {
        sale.total_minor
    } else {
        1 + rng.below(sale.total_minor.max(1) as u64) as i64
    };
    let reason = ["damaged", "wrong item", "changed mind"][rng.below(3) as usize];
    json!({
        "refund_id": format!("demo-r-{}-{n}", Utc::now().timestamp()),
        "order_id": sale.order_id,
        "store_id": sale.store_id,
        "currency": "EUR",
        "created_at": Utc::now().to_rfc3339(),
        "amount": decimal(amount),
        "reason": reason,
    })
}

/// Accumulates a per-hundred rate into whole events per tick.
struct Share {
    percent: u64,
    carried: u64,
}

impl Share {
    fn take(&mut self, orders: u64) -> u64 {
        self.carried += orders * self.percent;
        let whole = self.carried / 100;
        self.carried %= 100;
        whole
    }
}

/// POSTs `body`; on 503 or 429 waits `Retry-After` (5 s when absent), on a network error 5 s.
/// The parsed answer of a 2xx, else `None`.
async fn post(client: &reqwest::Client, url: &str, key: &str, body: &Value) -> Option<Value> {
    match client.post(url).bearer_auth(key).json(body).send().await {
        Ok(response) if response.status().is_success() => response.json().await.ok(),
        Ok(response) => {
            let status = response.status().as_u16();
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(5);
            if status == 503 || status == 429 {
                tracing::warn!(status, wait, %url, "ingest-api asks to wait");
                tokio::time::sleep(Duration::from_secs(wait)).await;
            } else {
                let body = response.text().await.unwrap_or_default();
                tracing::warn!(status, %url, %body, "ingest-api refused the request");
            }
            None
        }
        Err(error) => {
            tracing::warn!(%error, "ingest-api not reachable; retrying");
            tokio::time::sleep(Duration::from_secs(5)).await;
            None
        }
    }
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
    let base = settings
        .string("INGEST_URL", "http://localhost:8080")
        .trim_end_matches('/')
        .to_string();
    let key = settings
        .raw("INGEST_API_KEY")
        .context("set INGEST_API_KEY to one of ingest-api's keys")?;
    let rate = settings.bounded("LOADGEN_RATE", 20, 1, 1_000)?;
    let mut refunds = Share {
        percent: settings.bounded("LOADGEN_REFUND_PERCENT", 3, 0, 100)?,
        carried: 0,
    };
    let mut voids = Share {
        percent: settings.bounded("LOADGEN_VOID_PERCENT", 1, 0, 100)?,
        carried: 0,
    };
    let stores = settings.list(
        "LOADGEN_STORES",
        "store-001,store-002,store-003,store-004,store-005,store-006,store-007,store-008,store-009,store-010,store-042",
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64);
    let mut previous: Vec<Value> = Vec::new();
    let mut sold: VecDeque<Sale> = VecDeque::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0u64;
    tracing::info!(%base, rate, refund_percent = refunds.percent, void_percent = voids.percent, stores = stores.len(), "posting orders");
    loop {
        ticker.tick().await;
        let mut batch: Vec<Value> = (0..rate)
            .map(|_| {
                n += 1;
                order(&mut rng, n, &stores)
            })
            .collect();
        // One refund in ten is of a sale made days ago: that sale goes in this batch, back-dated.
        let mut back_dated = None;
        if refunds.percent > 0 && rng.below(10) == 0 {
            n += 1;
            let mut old = order(&mut rng, n, &stores);
            let days = 1 + rng.below(5) as i64;
            old["created_at"] = json!((Utc::now() - chrono::Duration::days(days)).to_rfc3339());
            back_dated = Some(sale_of(&old));
            batch.push(old);
        }
        // About one order in fifty is a POS retry of one already sent: it must count once (and
        // is remembered once, so it is never voided twice).
        let fresh = batch.len();
        if let Some(retry) = previous.get(rng.below(50) as usize) {
            batch.push(retry.clone());
        }
        let Some(reply) = post(
            &client,
            &format!("{base}/v1/orders/batch"),
            &key,
            &json!(batch),
        )
        .await
        else {
            continue;
        };
        tracing::info!(accepted = %reply["accepted"], rejected = %reply["rejected"], "batch posted");
        for (order, result) in batch[..fresh]
            .iter()
            .zip(reply["results"].as_array().into_iter().flatten())
        {
            if result["status"] == "accepted" {
                sold.push_back(sale_of(order));
            }
        }
        while sold.len() > REMEMBERED {
            sold.pop_front();
        }
        batch.truncate(fresh);
        previous = batch;

        let mut given_back: Vec<Value> = Vec::new();
        if let Some(old) = back_dated {
            n += 1;
            given_back.push(refund(&mut rng, n, &old));
        }
        // Refunds take back at most what is left of a sale; a sale refunded in full is forgotten.
        for _ in 0..refunds.take(rate) {
            if sold.is_empty() {
                break;
            }
            let i = rng.below(sold.len() as u64) as usize;
            n += 1;
            let body = refund(&mut rng, n, &sold[i]);
            sold[i].total_minor -= sale_of(&json!({"total": body["amount"]})).total_minor;
            if sold[i].total_minor <= 0 {
                sold.remove(i);
            }
            given_back.push(body);
        }
        if !given_back.is_empty() {
            if let Some(reply) = post(
                &client,
                &format!("{base}/v1/refunds/batch"),
                &key,
                &json!(given_back),
            )
            .await
            {
                tracing::info!(accepted = %reply["accepted"], rejected = %reply["rejected"], "refunds posted");
            }
        }
        // Voids cancel a sale of this very batch, as a till does right after a mistaken ring-up.
        for _ in 0..voids.take(rate) {
            let Some(sale) = sold.back().cloned() else {
                break;
            };
            sold.pop_back();
            let body = json!({"store_id": sale.store_id, "created_at": Utc::now().to_rfc3339(), "reason": "rung up twice"});
            let url = format!("{base}/v1/orders/{}/void", sale.order_id);
            if post(&client, &url, &key, &body).await.is_some() {
                tracing::info!(order_id = %sale.order_id, "void posted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_turns_percentages_into_whole_events_over_ticks() {
        let mut share = Share {
            percent: 3,
            carried: 0,
        };
        let per_tick: Vec<u64> = (0..10).map(|_| share.take(20)).collect();
        // 3 per hundred of 200 orders: 6, spread over the ticks.
        assert_eq!(per_tick.iter().sum::<u64>(), 6);
        assert!(per_tick.iter().all(|n| *n <= 1));
    }

    #[test]
    fn refunds_never_exceed_their_sale_and_are_never_zero() {
        let sale = sale_of(&json!({"order_id": "o", "store_id": "s", "total": "12.34"}));
        assert_eq!(sale.total_minor, 1234);
        let mut rng = Rng(7);
        for n in 0..200 {
            let body = refund(&mut rng, n, &sale);
            let amount = sale_of(&json!({"total": body["amount"]})).total_minor;
            assert!((1..=1234).contains(&amount), "{body}");
            assert_eq!(body["order_id"], "o");
        }
    }
}
