//! What loadgen sends at each step: step `n` is one POS sale, a pure function of the seed and `n`
//! (only its `created_at` follows the clock), so a run is reproducible and a stopped run resumes
//! with the same ids. A share of the sales is invalid, late, retried or duplicated in its batch;
//! a share is later refunded (in full or in part) or voided, a few hundred steps after it was
//! sold, by the step that the sale's own hash names. Each step therefore also carries the refunds
//! and voids that fall due then, regenerated from their sales.

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use rand::distr::weighted::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use sales_model::{format_minor, BusinessZone};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::catalog::Catalog;

/// Shares of the sales, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Sent again after they were accepted, as a POS retries after a lost answer.
    pub retry: f64,
    /// Sent twice in the same batch (batch mode only).
    pub duplicate: f64,
    /// Invalid: ingest-api must refuse them with 422.
    pub invalid: f64,
    /// Made minutes to six days before they are sent.
    pub late: f64,
    /// Refunded later (half in full, half in part).
    pub refund: f64,
    /// Voided later.
    pub void: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            retry: 2.0,
            duplicate: 1.0,
            invalid: 1.0,
            late: 2.0,
            refund: 3.0,
            void: 1.0,
        }
    }
}

/// A follow-up is sent this many steps after its sale, at the least and at the most.
const FOLLOW_UP_AFTER: (u64, u64) = (50, 500);

const CHANNELS: [(&str, u32); 4] = [
    ("in_store", 55),
    ("takeaway", 20),
    ("delivery", 15),
    ("online", 10),
];
const PAYMENTS: [(&str, u32); 3] = [("card", 60), ("mobile", 25), ("cash", 15)];
/// Lines per basket: 1 to 6, mostly small.
const BASKET: [u32; 6] = [40, 28, 15, 9, 5, 3];
const QUANTITY: [u32; 3] = [75, 18, 7];
const REASONS: [&str; 4] = ["damaged", "wrong item", "changed mind", "late delivery"];

/// What an accepted event was, as the record file keeps it: enough to find it in both stores
/// and to total it per store, currency and business day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// The step that made it.
    pub seq: u64,
    pub kind: Kind,
    /// `order_id` of a sale or void, `refund_id` of a refund.
    pub id: String,
    pub order_id: String,
    pub store_id: String,
    pub channel: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub business_day: NaiveDate,
    pub items: u32,
    /// A sale's total or a refund's amount, in the currency's minor units; 0 for a void.
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Order,
    Refund,
    Void,
}

/// One request body and what it is.
#[derive(Debug, Clone)]
pub struct Event {
    /// Where it is posted, single-event route: `/v1/orders`, `/v1/refunds` or
    /// `/v1/orders/{id}/void`.
    pub route: String,
    pub body: Value,
    /// What it records once accepted.
    pub fact: Fact,
}

/// A sale and what happens to it in this step.
#[derive(Debug, Clone)]
pub struct Step {
    pub seq: u64,
    pub sale: Event,
    /// Made invalid on purpose (then never recorded, retried, refunded or voided).
    pub invalid: bool,
    pub retry: bool,
    pub duplicate: bool,
    /// Refunds and voids of earlier sales that fall due in this step.
    pub follow_ups: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FollowUp {
    Refund { after: u64 },
    Void { after: u64 },
}

pub struct Traffic {
    seed: u64,
    catalog: Catalog,
    mix: Mix,
    zone: BusinessZone,
}

/// SplitMix64's finaliser: a well-mixed hash of a 64-bit value.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash as a percentage in [0, 100).
fn percent(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64 * 100.0
}

fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    WeightedIndex::new(weights)
        .map(|index| index.sample(rng))
        .unwrap_or(0)
}

impl Traffic {
    pub fn new(seed: u64, catalog: Catalog, mix: Mix, zone: BusinessZone) -> Traffic {
        Traffic {
            seed,
            catalog,
            mix,
            zone,
        }
    }

    pub fn zone(&self) -> BusinessZone {
        self.zone
    }

    /// The hash every decision about sale `seq` comes from.
    fn hash(&self, seq: u64) -> u64 {
        mix64(self.seed ^ mix64(seq ^ 0x5a1e_5a1e))
    }

    /// Decisions that other steps need cheaply (which step refunds or voids this sale): drawn
    /// from hashes, not from the sale's generator.
    fn invalid(&self, seq: u64) -> bool {
        percent(mix64(self.hash(seq) ^ 1)) < self.mix.invalid
    }

    fn follow_up(&self, seq: u64) -> Option<FollowUp> {
        if self.invalid(seq) {
            return None;
        }
        let hash = mix64(self.hash(seq) ^ 2);
        let share = percent(hash);
        let (least, most) = FOLLOW_UP_AFTER;
        let after = least + (hash & 0xffff) % (most - least + 1);
        if share < self.mix.refund {
            Some(FollowUp::Refund { after })
        } else if share < self.mix.refund + self.mix.void {
            Some(FollowUp::Void { after })
        } else {
            None
        }
    }

    /// Step `seq` at `now`.
    pub fn step(&self, seq: u64, now: DateTime<Utc>) -> Step {
        let invalid = self.invalid(seq);
        let mut rng = ChaCha8Rng::seed_from_u64(self.hash(seq));
        let late = rng.random_range(0.0..100.0) < self.mix.late;
        let retry = rng.random_range(0.0..100.0) < self.mix.retry;
        let duplicate = rng.random_range(0.0..100.0) < self.mix.duplicate;
        let created_at = if late {
            now - Duration::seconds(rng.random_range(60..6 * 86_400))
        } else {
            // A till's clock and the network: up to two seconds behind.
            now - Duration::milliseconds(rng.random_range(0..2_000))
        };
        let mut sale = self.sale(seq, created_at.trunc_subsecs(3));
        if invalid {
            spoil(&mut rng, &mut sale.body, now);
        }
        let (least, most) = FOLLOW_UP_AFTER;
        let follow_ups = (least..=most.min(seq))
            .filter_map(|after| {
                let of = seq - after;
                match self.follow_up(of)? {
                    FollowUp::Refund { after: due } if due == after => {
                        Some(self.refund(seq, of, now))
                    }
                    FollowUp::Void { after: due } if due == after => Some(self.void(seq, of, now)),
                    _ => None,
                }
            })
            .collect();
        Step {
            seq,
            sale,
            invalid,
            retry: retry && !invalid,
            duplicate: duplicate && !invalid,
            follow_ups,
        }
    }

    fn order_id(&self, seq: u64) -> String {
        format!("lg-{:x}-{seq}", self.seed)
    }

    /// Sale `seq` at `created_at`: its basket comes from a generator of its own, so a follow-up
    /// can make the same sale again.
    fn sale(&self, seq: u64, created_at: DateTime<Utc>) -> Event {
        let rng = &mut ChaCha8Rng::seed_from_u64(mix64(self.hash(seq) ^ 4));
        let store = &self.catalog.stores[rng.random_range(0..self.catalog.stores.len())];
        let currency = store.currency;
        let exponent = currency.exponent();
        let channel = CHANNELS[weighted(rng, &CHANNELS.map(|(_, w)| w))].0;
        let payment = PAYMENTS[weighted(rng, &PAYMENTS.map(|(_, w)| w))].0;
        let lines = 1 + weighted(rng, &BASKET);
        let mut subtotal = 0i64;
        let mut items = 0u32;
        let lines: Vec<Value> = (0..lines)
            .map(|_| {
                let product =
                    &self.catalog.products[rng.random_range(0..self.catalog.products.len())];
                let quantity = 1 + weighted(rng, &QUANTITY) as i64;
                let price = self.catalog.price(product, currency);
                subtotal += quantity * price;
                items += quantity as u32;
                json!({
                    "sku": product.sku,
                    "name": product.name,
                    "quantity": quantity,
                    "unit_price": format_minor(price, exponent),
                })
            })
            .collect();
        let discount = if rng.random_range(0..10) == 0 {
            subtotal / 10
        } else {
            0
        };
        let tax = (subtotal - discount) * 7 / 100;
        let total = subtotal - discount + tax;
        let customer =
            (rng.random_range(0..3) == 0).then(|| format!("c-{}", rng.random_range(0..5_000)));
        let order_id = self.order_id(seq);
        let body = json!({
            "order_id": order_id,
            "store_id": store.store_id,
            "terminal_id": format!("t-{}", rng.random_range(1..=4)),
            "customer_id": customer,
            "channel": channel,
            "currency": currency.as_str(),
            "created_at": created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "items": lines,
            "discount": format_minor(discount, exponent),
            "tax": format_minor(tax, exponent),
            "total": format_minor(total, exponent),
            "payment_method": payment,
        });
        Event {
            route: "/v1/orders".into(),
            body,
            fact: Fact {
                seq,
                kind: Kind::Order,
                id: order_id.clone(),
                order_id,
                store_id: store.store_id.clone(),
                channel: channel.into(),
                currency: currency.as_str().into(),
                created_at,
                business_day: self.zone.day_of(created_at),
                items,
                amount_minor: total,
            },
        }
    }

    fn refund(&self, seq: u64, of: u64, now: DateTime<Utc>) -> Event {
        let sale = self.sale(of, now).fact;
        let hash = mix64(self.hash(of) ^ 3);
        let amount = if hash.is_multiple_of(2) || sale.amount_minor < 2 {
            sale.amount_minor
        } else {
            1 + (hash >> 1) as i64 % (sale.amount_minor - 1)
        };
        let exponent = sales_model::exponent_of(&sale.currency).unwrap_or(2);
        let refund_id = format!("{}-r", sale.order_id);
        Event {
            route: "/v1/refunds".into(),
            body: json!({
                "refund_id": refund_id,
                "order_id": sale.order_id,
                "store_id": sale.store_id,
                "currency": sale.currency,
                "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "amount": format_minor(amount, exponent),
                "reason": REASONS[(hash >> 40) as usize % REASONS.len()],
            }),
            fact: Fact {
                seq,
                kind: Kind::Refund,
                id: refund_id,
                created_at: now,
                business_day: self.zone.day_of(now),
                items: 0,
                amount_minor: amount,
                ..sale
            },
        }
    }

    fn void(&self, seq: u64, of: u64, now: DateTime<Utc>) -> Event {
        let sale = self.sale(of, now).fact;
        Event {
            route: format!("/v1/orders/{}/void", sale.order_id),
            body: json!({
                "store_id": sale.store_id,
                "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "reason": "rung up twice",
            }),
            fact: Fact {
                seq,
                kind: Kind::Void,
                id: sale.order_id.clone(),
                created_at: now,
                business_day: self.zone.day_of(now),
                items: 0,
                amount_minor: 0,
                ..sale
            },
        }
    }
}

/// Makes a sale invalid in one of the ways tills get wrong.
fn spoil(rng: &mut ChaCha8Rng, body: &mut Value, now: DateTime<Utc>) {
    match rng.random_range(0..5) {
        0 => body["total"] = json!("0.01"),
        1 => body["currency"] = json!("EURO"),
        2 => body["items"][0]["quantity"] = json!(0),
        3 => {
            body["created_at"] = json!((now - Duration::days(30)).to_rfc3339());
        }
        _ => body["items"] = json!([]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{PRICE_LIST, SEED_STORES};

    fn traffic(mix: Mix) -> Traffic {
        let currencies = ["EUR", "USD", "JPY", "KWD"].map(String::from);
        let catalog = Catalog::from_csv(SEED_STORES, PRICE_LIST, &currencies).unwrap();
        Traffic::new(42, catalog, mix, "Asia/Kolkata".parse().unwrap())
    }

    fn minor(text: &str, exponent: u32) -> i64 {
        let digits: String = text.chars().filter(|c| *c != '.').collect();
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len() as u32);
        digits.parse::<i64>().unwrap() * 10i64.pow(exponent - decimals)
    }

    #[test]
    fn a_step_is_the_same_for_the_same_seed_and_differs_for_another() {
        let now = Utc::now();
        let (a, b) = (traffic(Mix::default()), traffic(Mix::default()));
        for seq in 0..200 {
            assert_eq!(a.step(seq, now).sale.body, b.step(seq, now).sale.body);
        }
        let other = Traffic::new(43, a.catalog.clone(), Mix::default(), a.zone);
        assert_ne!(a.step(7, now).sale.body, other.step(7, now).sale.body);
    }

    #[test]
    fn valid_sales_add_up_and_their_facts_match_their_bodies() {
        let traffic = traffic(Mix {
            invalid: 0.0,
            late: 50.0,
            ..Mix::default()
        });
        let now = Utc::now();
        let mut currencies = std::collections::BTreeSet::new();
        let mut late = 0;
        for seq in 0..2_000 {
            let step = traffic.step(seq, now);
            let (body, fact) = (&step.sale.body, &step.sale.fact);
            let exponent = sales_model::exponent_of(&fact.currency).unwrap();
            let lines: i64 = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    l["quantity"].as_i64().unwrap()
                        * minor(l["unit_price"].as_str().unwrap(), exponent)
                })
                .sum();
            let total = lines - minor(body["discount"].as_str().unwrap(), exponent)
                + minor(body["tax"].as_str().unwrap(), exponent);
            assert_eq!(total, fact.amount_minor, "{body}");
            assert_eq!(minor(body["total"].as_str().unwrap(), exponent), total);
            assert_eq!(fact.business_day, traffic.zone.day_of(fact.created_at));
            assert!(fact.created_at <= now && now - fact.created_at < Duration::days(6));
            late += usize::from(now - fact.created_at > Duration::seconds(59));
            currencies.insert(fact.currency.clone());
        }
        assert_eq!(currencies.len(), 4);
        assert!((800..1_200).contains(&late), "about half late, got {late}");
    }

    #[test]
    fn shares_of_the_mix_come_out_near_their_percentages() {
        let traffic = traffic(Mix {
            retry: 5.0,
            duplicate: 5.0,
            invalid: 10.0,
            late: 0.0,
            refund: 10.0,
            void: 5.0,
        });
        let now = Utc::now();
        let steps: Vec<Step> = (0..20_000).map(|seq| traffic.step(seq, now)).collect();
        let count = |f: &dyn Fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
        let invalid = count(&|s| s.invalid);
        assert!((1_700..2_300).contains(&invalid), "{invalid}");
        assert!((700..1_300).contains(&count(&|s| s.retry)));
        let refunds: Vec<&Event> = steps
            .iter()
            .flat_map(|s| &s.follow_ups)
            .filter(|e| e.fact.kind == Kind::Refund)
            .collect();
        let voids = steps
            .iter()
            .flat_map(|s| &s.follow_ups)
            .filter(|e| e.fact.kind == Kind::Void)
            .count();
        // 10 % and 5 % of the valid 90 %, less the sales whose follow-up falls past the end.
        assert!((1_500..1_900).contains(&refunds.len()), "{}", refunds.len());
        assert!((700..1_000).contains(&voids), "{voids}");
        // Each refunds a valid, earlier sale, at most its total and never nothing.
        for refund in refunds {
            let of: u64 = refund
                .fact
                .order_id
                .rsplit('-')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let sale = &steps[of as usize];
            assert!(!sale.invalid && of < refund.fact.seq);
            assert!(refund.fact.amount_minor >= 1);
            assert!(refund.fact.amount_minor <= sale.sale.fact.amount_minor);
            assert_eq!(refund.fact.store_id, sale.sale.fact.store_id);
        }
    }

    #[test]
    fn invalid_sales_are_refused_by_the_contract() {
        let traffic = traffic(Mix {
            invalid: 100.0,
            ..Mix::default()
        });
        let now = Utc::now();
        for seq in 0..50 {
            let body = traffic.step(seq, now).sale.body;
            let parsed = sales_model::parse_order_json(
                serde_json::to_vec(&body).unwrap().as_slice(),
                now,
                sales_model::Freshness::default(),
            );
            assert!(parsed.is_err(), "{body}");
        }
        let valid = traffic_valid_body(now);
        assert!(
            sales_model::parse_order_json(&valid, now, sales_model::Freshness::default()).is_ok()
        );
    }

    fn traffic_valid_body(now: DateTime<Utc>) -> Vec<u8> {
        let traffic = traffic(Mix {
            invalid: 0.0,
            ..Mix::default()
        });
        serde_json::to_vec(&traffic.step(1, now).sale.body).unwrap()
    }
}
