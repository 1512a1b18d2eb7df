//! What the shops sell and where: the stores of the ClickHouse store seed (the same ids the
//! dashboard names), each selling in one currency, and a price list of SKUs whose euro prices are
//! converted into each store's currency at a fixed rate and rounded to its minor unit (0, 2 or 3
//! decimals, from ISO 4217).

use std::collections::HashSet;

use anyhow::{bail, Context};
use sales_model::Currency;

/// The store seed the stack loads into ClickHouse; loadgen's default stores.
pub const SEED_STORES: &str = include_str!("../../../clickhouse-sql/seed/stores.csv");
/// The default price list (euro prices).
pub const PRICE_LIST: &str = include_str!("../prices.csv");

/// Euro → currency, fixed so that a seed always produces the same amounts. Only currencies in
/// this table can be chosen.
const RATES: [(&str, f64); 8] = [
    ("EUR", 1.0),
    ("USD", 1.08),
    ("GBP", 0.85),
    ("CHF", 0.95),
    ("SEK", 11.5),
    ("JPY", 160.0),
    ("KWD", 0.33),
    ("BHD", 0.41),
];

#[derive(Debug, Clone)]
pub struct Store {
    pub store_id: String,
    pub currency: Currency,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Price in euro cents.
    pub euro_cents: i64,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub stores: Vec<Store>,
    pub products: Vec<Product>,
}

impl Catalog {
    /// Stores from a CSV whose first column is `store_id` (a header row first), products from a
    /// CSV `sku,name,price_eur`; store `i` sells in `currencies[i % len]`.
    pub fn from_csv(stores: &str, prices: &str, currencies: &[String]) -> anyhow::Result<Catalog> {
        if currencies.is_empty() {
            bail!("name at least one currency");
        }
        let currencies = currencies
            .iter()
            .map(|code| {
                if !RATES.iter().any(|(c, _)| c == code) {
                    bail!(
                        "currency {code:?} has no rate here; choose from {}",
                        RATES.map(|(c, _)| c).join(", ")
                    );
                }
                Currency::parse(code).map_err(|e| anyhow::anyhow!("currency {code:?}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut seen = HashSet::new();
        let stores: Vec<Store> = rows(stores)
            .filter_map(|row| row.first().map(|id| id.to_string()))
            .filter(|id| seen.insert(id.clone()))
            .enumerate()
            .map(|(i, store_id)| Store {
                store_id,
                currency: currencies[i % currencies.len()],
            })
            .collect();
        if stores.is_empty() {
            bail!("the store list has no stores");
        }
        let products = rows(prices)
            .enumerate()
            .map(|(line, row)| {
                let [sku, name, price] = row.as_slice() else {
                    bail!("price list row {}: want sku,name,price_eur", line + 2);
                };
                let euro_cents = euro_cents(price)
                    .with_context(|| format!("price list row {}: price {price:?}", line + 2))?;
                Ok(Product {
                    sku: sku.to_string(),
                    name: name.to_string(),
                    euro_cents,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if products.is_empty() {
            bail!("the price list has no products");
        }
        Ok(Catalog { stores, products })
    }

    /// The price of `product` in `currency`'s minor units; never zero.
    pub fn price(&self, product: &Product, currency: Currency) -> i64 {
        let rate = RATES
            .iter()
            .find(|(code, _)| *code == currency.as_str())
            .map_or(1.0, |(_, rate)| *rate);
        let minor =
            product.euro_cents as f64 / 100.0 * rate * 10f64.powi(currency.exponent() as i32);
        (minor.round() as i64).max(1)
    }
}

/// Data rows of a small CSV (no quoting: the seed files have none), header skipped.
fn rows(csv: &str) -> impl Iterator<Item = Vec<&str>> {
    csv.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.split(',').map(str::trim).collect())
}

fn euro_cents(text: &str) -> anyhow::Result<i64> {
    let (units, cents) = text.split_once('.').unwrap_or((text, "0"));
    if cents.len() > 2 {
        bail!("at most two decimals");
    }
    let cents = format!("{cents:0<2}");
    let value = units.parse::<i64>()? * 100 + cents.parse::<i64>()?;
    if value <= 0 {
        bail!("must be positive");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(currencies: &[&str]) -> Catalog {
        let currencies: Vec<String> = currencies.iter().map(|c| c.to_string()).collect();
        Catalog::from_csv(SEED_STORES, PRICE_LIST, &currencies).expect("the bundled lists")
    }

    #[test]
    fn the_bundled_seed_and_price_list_load() {
        let catalog = catalog(&["EUR"]);
        assert_eq!(catalog.stores.len(), 11);
        assert_eq!(catalog.stores[0].store_id, "store-001");
        assert_eq!(catalog.products.len(), 20);
        assert_eq!(catalog.products[0].euro_cents, 350);
    }

    #[test]
    fn stores_take_the_currencies_in_turn_and_prices_follow_their_minor_unit() {
        let catalog = catalog(&["EUR", "JPY", "KWD"]);
        let codes: Vec<&str> = catalog
            .stores
            .iter()
            .take(4)
            .map(|s| s.currency.as_str())
            .collect();
        assert_eq!(codes, ["EUR", "JPY", "KWD", "EUR"]);
        let latte = &catalog.products[0];
        assert_eq!(catalog.price(latte, catalog.stores[0].currency), 350);
        // 3.50 EUR × 160 = 560 JPY (no decimals); × 0.33 = 1.155 KWD (three decimals).
        assert_eq!(catalog.price(latte, catalog.stores[1].currency), 560);
        assert_eq!(catalog.price(latte, catalog.stores[2].currency), 1155);
    }

    #[test]
    fn bad_lists_and_currencies_are_named() {
        let no_rate = Catalog::from_csv(SEED_STORES, PRICE_LIST, &["XAU".into()]).unwrap_err();
        assert!(no_rate.to_string().contains("XAU"), "{no_rate}");
        let bad_price =
            Catalog::from_csv(SEED_STORES, "sku,name,price\na,A,1.234\n", &["EUR".into()])
                .unwrap_err();
        assert!(format!("{bad_price:#}").contains("row 2"), "{bad_price:#}");
        let no_stores = Catalog::from_csv("store_id\n", PRICE_LIST, &["EUR".into()]).unwrap_err();
        assert!(no_stores.to_string().contains("no stores"));
    }
}
