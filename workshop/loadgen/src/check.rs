//! `loadgen check`: the record of accepted events held against both stores (DESIGN.md §6).
//! Every accepted sale and refund must be in Cassandra with the store, currency, business day and
//! amount it was sent with, and voided exactly when a void was accepted; every event must be among
//! ClickHouse's facts; and ClickHouse's daily windows must hold the record's orders, gross and
//! refunds per store, currency and business day. When the record is the only traffic the stores
//! saw (`exclusive`, as in the fault suite), those totals must be equal; otherwise at least the
//! record's.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use futures::stream::{self, StreamExt, TryStreamExt};
use sales_stores::cassandra::CassandraConfig;
use sales_stores::clickhouse::{within, ClickHouseConfig};
use serde::Deserialize;

use crate::traffic::{Fact, Kind};

/// Discrepancies listed per kind before the rest are only counted.
const SHOWN: usize = 5;

/// (store, currency, business day).
type Group = (String, String, NaiveDate);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub orders: u64,
    pub gross_minor: i64,
    pub refunds_minor: i64,
}

#[derive(Debug, Default)]
pub struct Report {
    pub sales: usize,
    pub voided: usize,
    pub refunds: usize,
    pub groups: usize,
    pub found_in_cassandra: usize,
    pub found_in_clickhouse: usize,
    /// Each discrepancy, in words.
    pub problems: Vec<String>,
    pub problem_count: usize,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < SHOWN * 4 {
            self.problems.push(text);
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "record: {} sales ({} voided), {} refunds, {} store/currency/day groups",
            self.sales, self.voided, self.refunds, self.groups
        )?;
        writeln!(
            f,
            "found: {} of {} events in Cassandra, {} in ClickHouse's facts",
            self.found_in_cassandra,
            self.sales + self.refunds,
            self.found_in_clickhouse
        )?;
        if self.ok() {
            write!(
                f,
                "every accepted event is in both stores, and the totals agree"
            )
        } else {
            writeln!(f, "{} discrepancies:", self.problem_count)?;
            for problem in &self.problems {
                writeln!(f, "  {problem}")?;
            }
            Ok(())
        }
    }
}

/// The record's totals per group: sales not voided, refunds on their own day.
pub fn expected_totals(facts: &[Fact]) -> BTreeMap<Group, Totals> {
    let voided: HashSet<&str> = facts
        .iter()
        .filter(|f| f.kind == Kind::Void)
        .map(|f| f.order_id.as_str())
        .collect();
    let mut totals: BTreeMap<Group, Totals> = BTreeMap::new();
    for fact in dedup(facts) {
        let group = (
            fact.store_id.clone(),
            fact.currency.clone(),
            fact.business_day,
        );
        match fact.kind {
            Kind::Order if !voided.contains(fact.order_id.as_str()) => {
                let entry = totals.entry(group).or_default();
                entry.orders += 1;
                entry.gross_minor += fact.amount_minor;
            }
            Kind::Refund => totals.entry(group).or_default().refunds_minor += fact.amount_minor,
            _ => {}
        }
    }
    totals
}

/// Each event once (a resumed run can record an event twice only if it was sent twice with the
/// same content; the stores keep it once).
fn dedup(facts: &[Fact]) -> Vec<&Fact> {
    let mut seen = HashSet::new();
    facts
        .iter()
        .filter(|f| seen.insert((f.kind, f.id.as_str())))
        .collect()
}

#[derive(clickhouse::Row, Deserialize)]
struct Id {
    id: String,
}

#[derive(clickhouse::Row, Deserialize)]
struct Daily {
    store_id: String,
    currency: String,
    business_day: String,
    orders: u64,
    gross_minor: i64,
    refunds_minor: i64,
}

pub async fn check(
    facts: &[Fact],
    cassandra: &CassandraConfig,
    clickhouse: &ClickHouseConfig,
    exclusive: bool,
) -> anyhow::Result<Report> {
    let facts = dedup(facts);
    let voided: HashSet<&str> = facts
        .iter()
        .filter(|f| f.kind == Kind::Void)
        .map(|f| f.order_id.as_str())
        .collect();
    let sales: Vec<&Fact> = facts
        .iter()
        .copied()
        .filter(|f| f.kind == Kind::Order)
        .collect();
    let refunds: Vec<&Fact> = facts
        .iter()
        .copied()
        .filter(|f| f.kind == Kind::Refund)
        .collect();
    let mut report = Report {
        sales: sales.len(),
        voided: sales
            .iter()
            .filter(|s| voided.contains(s.order_id.as_str()))
            .count(),
        refunds: refunds.len(),
        ..Report::default()
    };

    let session = sales_stores::cassandra::connect(cassandra).await?;
    let keyspace = &cassandra.keyspace;
    let (sale_query, refund_query) = futures::try_join!(
        session.prepare(format!(
            "SELECT store_id, currency, day, total_minor, void_store_id FROM {keyspace}.orders_by_id WHERE order_id = ?"
        )),
        session.prepare(format!(
            "SELECT store_id, currency, day, amount_minor FROM {keyspace}.refunds_by_id WHERE refund_id = ?"
        )),
    )?;
    type SaleRow = (
        Option<String>,
        Option<String>,
        Option<NaiveDate>,
        Option<i64>,
        Option<String>,
    );
    let concurrency = cassandra.concurrency.max(1);
    let stored_sales: Vec<(&Fact, Option<SaleRow>)> =
        look_up(&session, &sale_query, &sales, |f| &f.order_id, concurrency).await?;
    for (fact, row) in stored_sales {
        match row {
            Some((Some(store), Some(currency), Some(day), Some(total), void)) => {
                report.found_in_cassandra += 1;
                let sent = (
                    &fact.store_id,
                    &fact.currency,
                    fact.business_day,
                    fact.amount_minor,
                );
                if (&store, &currency, day, total) != sent {
                    report.problem(format!(
                        "Cassandra holds sale {} as {store}/{currency}/{day}/{total}, sent as {}/{}/{}/{}",
                        fact.order_id, sent.0, sent.1, sent.2, sent.3
                    ));
                }
                let should_be_voided = voided.contains(fact.order_id.as_str());
                if void.is_some() != should_be_voided {
                    report.problem(format!(
                        "Cassandra has sale {} {}voided, but its void was {}accepted",
                        fact.order_id,
                        if void.is_some() { "" } else { "not " },
                        if should_be_voided { "" } else { "never " }
                    ));
                }
            }
            _ => report.problem(format!("sale {} is missing from Cassandra", fact.order_id)),
        }
    }
    type RefundRow = (String, String, NaiveDate, i64);
    let stored_refunds: Vec<(&Fact, Option<RefundRow>)> =
        look_up(&session, &refund_query, &refunds, |f| &f.id, concurrency).await?;
    for (fact, row) in stored_refunds {
        match row {
            Some(row) => {
                report.found_in_cassandra += 1;
                let sent = (
                    fact.store_id.clone(),
                    fact.currency.clone(),
                    fact.business_day,
                    fact.amount_minor,
                );
                if row != sent {
                    report.problem(format!(
                        "Cassandra holds refund {} as {row:?}, sent as {sent:?}",
                        fact.id
                    ));
                }
            }
            None => report.problem(format!("refund {} is missing from Cassandra", fact.id)),
        }
    }

    let client = sales_stores::clickhouse::client(clickhouse);
    let timeout = clickhouse.request_timeout;
    let present = |table: &'static str, column: &'static str, ids: Vec<String>| {
        let client = client.clone();
        async move {
            let mut found = HashSet::new();
            for chunk in ids.chunks(2_000) {
                let query = client
                    .query(&format!(
                        "SELECT DISTINCT {column} AS id FROM {table} WHERE {column} IN ?"
                    ))
                    .bind(chunk);
                for row in within(timeout, query.fetch_all::<Id>()).await? {
                    found.insert(row.id);
                }
            }
            anyhow::Ok(found)
        }
    };
    let in_clickhouse = [
        (
            "order_facts",
            "order_id",
            sales.iter().map(|f| f.order_id.clone()).collect::<Vec<_>>(),
        ),
        (
            "refund_facts",
            "refund_id",
            refunds.iter().map(|f| f.id.clone()).collect(),
        ),
        (
            "order_voids",
            "order_id",
            voided.iter().map(|id| id.to_string()).collect(),
        ),
    ];
    for (table, column, ids) in in_clickhouse {
        let found = present(table, column, ids.clone()).await?;
        let missing: Vec<&String> = ids.iter().filter(|id| !found.contains(*id)).collect();
        if table != "order_voids" {
            report.found_in_clickhouse += ids.len() - missing.len();
        }
        for id in missing {
            report.problem(format!("{id} is missing from ClickHouse's {table}"));
        }
    }

    let expected = expected_totals(&facts.iter().map(|f| (*f).clone()).collect::<Vec<_>>());
    report.groups = expected.len();
    let days: Vec<NaiveDate> = expected.keys().map(|g| g.2).collect();
    if let (Some(first), Some(last)) = (days.iter().min(), days.iter().max()) {
        let query = client
            .query(
                "SELECT store_id, currency, toString(day) AS business_day, sum(orders) AS orders, \
                 sum(gross_minor) AS gross_minor, sum(refunds_minor) AS refunds_minor \
                 FROM v_sales_daily WHERE day >= toDate(?) AND day <= toDate(?) \
                 GROUP BY store_id, currency, day",
            )
            .bind(first.to_string())
            .bind(last.to_string());
        let mut stored: HashMap<Group, Totals> = HashMap::new();
        for row in within(timeout, query.fetch_all::<Daily>()).await? {
            let day = row.business_day.parse()?;
            stored.insert(
                (row.store_id, row.currency, day),
                Totals {
                    orders: row.orders,
                    gross_minor: row.gross_minor,
                    refunds_minor: row.refunds_minor,
                },
            );
        }
        for (group, want) in &expected {
            let got = stored.remove(group).unwrap_or_default();
            let holds = if exclusive {
                got == *want
            } else {
                got.orders >= want.orders
                    && got.gross_minor >= want.gross_minor
                    && got.refunds_minor >= want.refunds_minor
            };
            if !holds {
                report.problem(format!(
                    "ClickHouse's {}/{}/{} holds {got:?}, the record {want:?}",
                    group.0, group.1, group.2
                ));
            }
        }
        if exclusive {
            for (group, got) in stored.into_iter().filter(|(_, t)| *t != Totals::default()) {
                report.problem(format!(
                    "ClickHouse's {}/{}/{} holds {got:?}, which the record never sent",
                    group.0, group.1, group.2
                ));
            }
        }
    }
    Ok(report)
}

/// Each fact's row, found by the id `id` picks, `concurrency` queries at a time.
async fn look_up<'f, R>(
    session: &scylla::client::session::Session,
    query: &scylla::statement::prepared::PreparedStatement,
    facts: &[&'f Fact],
    id: fn(&Fact) -> &String,
    concurrency: usize,
) -> anyhow::Result<Vec<(&'f Fact, Option<R>)>>
where
    R: for<'a, 'b> scylla::deserialize::row::DeserializeRow<'a, 'b>,
{
    stream::iter(facts)
        .map(|fact| async move {
            let row = session
                .execute_unpaged(query, (id(fact).as_str(),))
                .await?
                .into_rows_result()?
                .maybe_first_row::<R>()?;
            anyhow::Ok((*fact, row))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn fact(kind: Kind, id: &str, order: &str, day: u32, amount: i64) -> Fact {
        Fact {
            seq: 0,
            kind,
            id: id.into(),
            order_id: order.into(),
            store_id: "store-001".into(),
            channel: "in_store".into(),
            currency: "EUR".into(),
            created_at: Utc::now(),
            business_day: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            items: 1,
            amount_minor: amount,
        }
    }

    #[test]
    fn totals_leave_out_voided_sales_and_put_refunds_on_their_own_day() {
        let facts = [
            fact(Kind::Order, "a", "a", 20, 1_000),
            fact(Kind::Order, "b", "b", 20, 500),
            fact(Kind::Order, "b", "b", 20, 500),
            fact(Kind::Order, "c", "c", 20, 700),
            fact(Kind::Void, "c", "c", 21, 0),
            fact(Kind::Refund, "a-r", "a", 22, 300),
        ];
        let totals = expected_totals(&facts);
        let day = |d| {
            (
                "store-001".to_string(),
                "EUR".to_string(),
                NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
            )
        };
        assert_eq!(
            totals[&day(20)],
            Totals {
                orders: 2,
                gross_minor: 1_500,
                refunds_minor: 0
            }
        );
        assert_eq!(
            totals[&day(22)],
            Totals {
                orders: 0,
                gross_minor: 0,
                refunds_minor: 300
            }
        );
        assert!(!totals.contains_key(&day(21)));
    }
}
