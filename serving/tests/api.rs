//! serving over real HTTP, against stores loaded by the real stream-job (on the run's Kafka and
//! Cassandra, or the services the environment names).

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sales_model::Envelope;
use serde_json::{json, Value};
use service_runtime::settings::Settings;
use serving::configuration::ServingConfig;
use serving::jobs::Jobs;
use serving::startup::Application;
use std::sync::Arc;
use test_support::metrics::{metric, scrape};
use test_support::orders::SampleOrder;
use test_support::stores::TestStores;
use test_support::{status_and_json, texts};

const KEY: &str = "serving-test-key-0123";

struct Served {
    base: String,
    client: reqwest::Client,
    jobs: Arc<Jobs>,
    stores: TestStores,
}

/// An order of `store` at `created_at` with one line of `quantity` × `price` (minor units).
fn order(
    id: &str,
    store: &str,
    customer: Option<&str>,
    channel: &str,
    created_at: DateTime<Utc>,
    line: (&str, i64, i64),
) -> Envelope {
    let (sku, quantity, price) = line;
    SampleOrder::new(id, store, created_at)
        .customer(customer)
        .with("channel", channel)
        .line(sku, &format!("Product {sku}"), quantity, price)
        .envelope()
}

/// Loads `orders` through stream-job, then starts serving on them.
async fn serve(orders: &[Envelope], extra: &[(&str, &str)]) -> Served {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let stores = TestStores::start(3).await;
    let group = test_support::unique_name("serving-test");
    let mut settings = vec![
        ("STREAM_JOB_GROUP", group.as_str()),
        ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
        ("STREAM_JOB_FLUSH_INTERVAL_MS", "200"),
        ("SERVING_LISTEN_ADDR", "127.0.0.1:0"),
        ("SERVING_API_KEYS", KEY),
        ("SERVING_MAX_PAGE", "100"),
        ("RECONCILE_GRACE_SECS", "0"),
    ];
    settings.extend_from_slice(extra);
    let env = stores.env(&settings);
    let settings = Settings::new(&env);

    support::load(&stores, &settings, orders).await;
    let serving = support::serve(&settings).await;
    Served {
        base: serving.base,
        client: reqwest::Client::new(),
        jobs: serving.jobs,
        stores,
    }
}

impl Served {
    /// A GET of `path`, without a key.
    fn request(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    /// The status and JSON body (`null` if none) of a GET of `path` with the key.
    async fn get(&self, path: &str) -> (u16, Value) {
        status_and_json(self.request(path).bearer_auth(KEY)).await
    }

    async fn sql(&self, statement: &str) -> String {
        let statement =
            test_support::clickhouse::adapt(statement, self.stores.clickhouse.database());
        self.stores.clickhouse.query(&statement).await
    }
}

/// Orders without a customer, one line each: (id, store, channel, minutes before `base`'s
/// minute, second, sku, quantity, unit price in minor units).
type Sale<'a> = (&'a str, &'a str, &'a str, i64, i64, &'a str, i64, i64);

/// The sales the summary and top-product tests sum: two stores' in the last two minutes, one an
/// hour earlier.
const SUMMED: &[Sale<'static>] = &[
    ("a", "store-001", "in_store", 0, 5, "sku-1", 2, 350),
    ("b", "store-001", "online", 0, 50, "sku-2", 1, 225),
    ("c", "store-003", "in_store", 1, 0, "sku-1", 1, 350),
    ("d", "store-042", "delivery", 61, 0, "sku-3", 4, 100),
];

/// The sales the reconciliation test expects both stores to agree on.
const RECONCILED: &[Sale<'static>] = &[
    ("r-1", "store-001", "in_store", 0, 1, "sku-1", 1, 500),
    ("r-2", "store-001", "in_store", 2, 1, "sku-1", 2, 500),
    ("r-3", "store-005", "online", 3, 1, "sku-2", 1, 199),
];

fn sales(base: i64, rows: &[Sale<'_>]) -> Vec<Envelope> {
    rows.iter()
        .map(
            |&(id, store, channel, minutes, seconds, sku, quantity, price)| {
                order(
                    id,
                    store,
                    None,
                    channel,
                    minute(base, minutes, seconds),
                    (sku, quantity, price),
                )
            },
        )
        .collect()
}

fn minute(base: i64, minutes_ago: i64, seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(base - base % 60 - minutes_ago * 60 + seconds, 0).expect("time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_looked_up_and_paged_newest_first() {
    let base = Utc::now().timestamp() - 3_600;
    let mut orders = Vec::new();
    for i in 0..7 {
        // Two orders share each second: the page order breaks ties by order id.
        orders.push(order(
            &format!("s-{i}"),
            "store-001",
            Some("c-1"),
            "in_store",
            minute(base, 0, i / 2),
            ("sku-1", 1, 100 + i),
        ));
    }
    orders.push(order(
        "other-store",
        "store-002",
        Some("c-1"),
        "online",
        minute(base, 0, 30),
        ("sku-2", 2, 250),
    ));
    let served = serve(&orders, &[]).await;

    for path in ["/health", "/ready", "/metrics", "/openapi.json"] {
        let response = served.request(path).send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "{path} needs no key and answers 200 with both stores up"
        );
    }
    test_support::openapi::assert_document_matches_routes(
        &served.base,
        KEY,
        &[
            ("GET", "/v1/orders/{order_id}"),
            ("GET", "/v1/stores/{store_id}/orders"),
            ("GET", "/v1/customers/{customer_id}/orders"),
            ("GET", "/v1/sales/summary"),
            ("GET", "/v1/sales/top-products"),
            ("GET", "/v1/reconciliation"),
            ("GET", "/health"),
            ("GET", "/ready"),
            ("GET", "/metrics"),
            ("GET", "/openapi.json"),
        ],
    )
    .await;
    let (status, body) = served.get("/v1/orders/s-3").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["store_id"], "store-001");
    assert_eq!(body["total"], "1.03");
    assert_eq!(
        body["items"][0],
        json!({"sku": "sku-1", "name": "Product sku-1", "quantity": 1, "unit_price": "1.03", "amount": "1.03"})
    );
    assert_eq!(body["customer_id"], "c-1");
    assert_eq!(served.get("/v1/orders/nope").await.0, 404);
    assert_eq!(served.get("/v1/orders/bad%20id").await.0, 400);
    let unauthorized = served.request("/v1/orders/s-3").send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);

    let day = minute(base, 0, 0).date_naive();
    let mut seen = Vec::new();
    let mut path = format!("/v1/stores/store-001/orders?date={day}&limit=3");
    loop {
        let (status, body) = served.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<String> = texts(&body["orders"], "order_id")
            .into_iter()
            .map(str::to_string)
            .collect();
        assert!(ids.len() <= 3);
        seen.extend(ids);
        match body["next_page"].as_str() {
            Some(token) => {
                path = format!("/v1/stores/store-001/orders?date={day}&limit=3&page={token}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ["s-6", "s-4", "s-5", "s-2", "s-3", "s-0", "s-1"]);

    let (_, body) = served.get("/v1/customers/c-1/orders?limit=2").await;
    let first: Vec<&str> = texts(&body["orders"], "order_id");
    assert_eq!(first, ["other-store", "s-6"]);
    assert!(body["next_page"].is_string());

    for (path, field) in [
        ("/v1/stores/store-001/orders", "date"),
        ("/v1/stores/store-001/orders?date=22-11-2026", "date"),
        (
            "/v1/stores/store-001/orders?date=2026-11-22&limit=0",
            "limit",
        ),
        (
            "/v1/stores/store-001/orders?date=2026-11-22&limit=101",
            "limit",
        ),
        (
            "/v1/stores/store-001/orders?date=2026-11-22&page=garbage",
            "page",
        ),
        (
            "/v1/stores/store-001/orders?date=2026-11-22&sort=asc",
            "sort",
        ),
        ("/v1/customers/c%201/orders", "customer_id"),
    ] {
        let (status, body) = served.get(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["errors"][0]["field"], field, "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_and_top_products_come_from_the_views() {
    let base = Utc::now().timestamp() - 7_200;
    let served = serve(&sales(base, SUMMED), &[]).await;
    let from = minute(base, 120, 0).to_rfc3339();
    let to = minute(base, -5, 0).to_rfc3339();
    let q = |group: &str| {
        format!(
            "/v1/sales/summary?from={}&to={}&group_by={group}",
            urlencode(&from),
            urlencode(&to)
        )
    };

    let (status, body) = served.get(&q("store")).await;
    assert_eq!(status, 200, "{body}");
    let rows = summary_rows(&body);
    assert_eq!(
        rows,
        [
            ("store-001".to_string(), 2, "9.25".to_string()),
            ("store-003".into(), 1, "3.50".into()),
            ("store-042".into(), 1, "4.00".into())
        ]
    );

    let (_, body) = served.get(&q("region")).await;
    let rows = &body["rows"];
    let regions: Vec<(&str, &str)> = texts(rows, "key")
        .into_iter()
        .zip(texts(rows, "revenue"))
        .collect();
    assert_eq!(regions, [("East", "13.25"), ("North", "3.50")]);

    let (_, body) = served.get(&q("channel")).await;
    assert_eq!(body["rows"].as_array().unwrap().len(), 3);
    let (_, body) = served.get(&q("minute")).await;
    assert_eq!(
        body["rows"][0]["key"],
        minute(base, 61, 0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(body["rows"].as_array().unwrap().len(), 3);
    let (_, body) = served.get(&q("hour")).await;
    let orders_total: u64 = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["orders"].as_u64().unwrap())
        .sum();
    assert_eq!(orders_total, 4);
    let (_, body) = served.get(&format!("{}&currency=USD", q("day"))).await;
    assert_eq!(body["rows"], json!([]));

    let (status, body) = served
        .get(&format!(
            "/v1/sales/top-products?from={}&to={}&limit=2",
            urlencode(&from),
            urlencode(&to)
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rows"],
        json!([
            {"sku": "sku-1", "name": "Product sku-1", "currency": "EUR", "quantity": 3, "refunded_quantity": 0, "orders": 2,
             "gross": "10.50", "refunds": "0.00", "net": "10.50", "revenue": "10.50"},
            {"sku": "sku-3", "name": "Product sku-3", "currency": "EUR", "quantity": 4, "refunded_quantity": 0, "orders": 1,
             "gross": "4.00", "refunds": "0.00", "net": "4.00", "revenue": "4.00"}
        ])
    );

    for (query, field) in [
        (format!("from={}", urlencode(&from)), "to"),
        (format!("from=yesterday&to={}", urlencode(&to)), "from"),
        (
            format!("from={}&to={}", urlencode(&to), urlencode(&from)),
            "to",
        ),
        (
            "from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z".to_string(),
            "to",
        ),
        (
            format!(
                "from={}&to={}&group_by=week",
                urlencode(&from),
                urlencode(&to)
            ),
            "group_by",
        ),
        (
            format!(
                "from={}&to={}&currency=eur",
                urlencode(&from),
                urlencode(&to)
            ),
            "currency",
        ),
    ] {
        let (status, body) = served.get(&format!("/v1/sales/summary?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
}

/// A summary's rows as (key, orders, revenue).
fn summary_rows(body: &Value) -> Vec<(String, u64, String)> {
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["orders"].as_u64().unwrap(),
                r["revenue"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The named `fields` of every element of `array`, one JSON array per element (`null` for a
/// field an element lacks).
fn picked(array: &Value, fields: &[&str]) -> Vec<Value> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|element| fields.iter().map(|f| element[*f].clone()).collect())
        .collect()
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_history_over_months_pages_newest_first_across_month_partitions() {
    // 25 orders four days apart: about a hundred days, over four or five monthly partitions.
    let now = Utc::now();
    let envelopes: Vec<Envelope> = (0..25)
        .map(|k| {
            let at = now - chrono::Duration::days(4 * k) - chrono::Duration::minutes(5);
            SampleOrder::new(&format!("h-{k:02}"), "store-001", at)
                .customer(Some("c-long"))
                .envelope_at(at + chrono::Duration::minutes(1))
        })
        .chain(std::iter::once(order(
            "other-customer",
            "store-001",
            Some("c-other"),
            "online",
            now - chrono::Duration::minutes(3),
            ("sku-1", 1, 100),
        )))
        .collect();
    let served = serve(&envelopes, &[]).await;
    let months: std::collections::BTreeSet<i32> = served
        .stores
        .scan::<(i32,)>("SELECT month FROM sales.customer_months WHERE customer_id = 'c-long'")
        .await
        .into_iter()
        .map(|(m,)| m)
        .collect();
    assert!(months.len() >= 4, "{months:?}");

    let mut seen = Vec::new();
    let mut path = "/v1/customers/c-long/orders?limit=10".to_string();
    for expected in [10, 10, 5] {
        let (status, body) = served.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<String> = body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), expected, "{body}");
        seen.extend(ids);
        match body["next_page"].as_str() {
            Some(token) => path = format!("/v1/customers/c-long/orders?limit=10&page={token}"),
            None => assert_eq!(expected, 5, "only the last page has no token"),
        }
    }
    let newest_first: Vec<String> = (0..25).map(|k| format!("h-{k:02}")).collect();
    assert_eq!(
        seen, newest_first,
        "every order once, newest first, across months"
    );
}

/// Every order id of a paged listing, page by page from `first` (a path with `limit`), with the
/// number of pages it took; each page at most `limit` long.
async fn walk(served: &Served, first: &str, limit: usize) -> (Vec<String>, usize) {
    let (mut seen, mut pages, mut path) = (Vec::new(), 0, first.to_string());
    loop {
        let (status, body) = served.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let ids = texts(&body["orders"], "order_id");
        assert!(ids.len() <= limit, "{path}: {} orders", ids.len());
        seen.extend(ids.into_iter().map(str::to_string));
        pages += 1;
        match body["next_page"].as_str() {
            Some(token) => path = format!("{first}&page={token}"),
            None => return (seen, pages),
        }
    }
}

/// A busy store-day and a long customer history, paged on Cassandra from the cursor: 100 pages
/// each, three orders in every millisecond, every order exactly once, newest first (ties by
/// order id), from the first page to the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_store_days_and_customer_histories_page_from_the_cursor_on_the_server() {
    // Yesterday noon (UTC, the tests' business zone), then back one millisecond every three
    // orders: 1,000 orders of one store-day, 1,000 of one customer over about 100 days.
    let day = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let noon = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let tie = |i: i64| chrono::Duration::milliseconds(i / 3);
    let (mut envelopes, mut busy_day, mut loyal) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..1_000i64 {
        let (id, at) = (format!("d-{i:04}"), noon - tie(i));
        envelopes.push(SampleOrder::new(&id, "store-busy", at).envelope_at(noon));
        busy_day.push((at, id));
        let (id, at) = (
            format!("c-{i:04}"),
            noon - chrono::Duration::days(i / 10) - tie(i),
        );
        // Ingested a minute after it was made (older than today's freshness limit allows).
        envelopes.push(
            SampleOrder::new(&id, "store-001", at)
                .customer(Some("c-loyal"))
                .envelope_at(at + chrono::Duration::minutes(1)),
        );
        loyal.push((at, id));
    }
    let newest_first = |mut orders: Vec<(chrono::DateTime<Utc>, String)>| {
        orders.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        orders.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    };
    let (busy_day, loyal) = (newest_first(busy_day), newest_first(loyal));
    let served = serve(&envelopes, &[]).await;

    let (seen, pages) = walk(
        &served,
        &format!("/v1/stores/store-busy/orders?date={day}&limit=10"),
        10,
    )
    .await;
    assert_eq!(pages, 100);
    assert_eq!(seen, busy_day, "every order of the day once, newest first");
    let (seen, pages) = walk(&served, "/v1/customers/c-loyal/orders?limit=10", 10).await;
    assert_eq!(pages, 100);
    assert_eq!(
        seen, loyal,
        "every order of the customer once, newest first"
    );
}

/// (key, orders, gross, refunds, net) of a summary's rows.
fn money_rows(body: &Value) -> Vec<(String, u64, String, String, String)> {
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            assert_eq!(r["revenue"], r["net"], "revenue is net: {r}");
            let text = |field: &str| r[field].as_str().unwrap().to_string();
            (
                text("key"),
                r["orders"].as_u64().unwrap(),
                text("gross"),
                text("refunds"),
                text("net"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_and_voids_show_in_orders_summaries_products_and_reconciliation() {
    use test_support::orders::{refund, void};
    let base = Utc::now().timestamp() - 1_800;
    let mut events = sales(
        base,
        &[
            ("full", "store-001", "in_store", 10, 0, "sku-1", 2, 500),
            ("voided", "store-001", "in_store", 10, 5, "sku-2", 1, 700),
            ("other", "store-002", "online", 5, 0, "sku-1", 1, 300),
        ],
    );
    events.extend([
        // Two refunds of one sale, in later windows, one at another store: more than its total.
        refund(
            "r-1",
            "full",
            "store-001",
            minute(base, 2, 0),
            300,
            Some("sku-1"),
        ),
        refund("r-2", "full", "store-002", minute(base, 1, 0), 900, None),
        void("voided", "store-001", minute(base, 9, 0)),
        // A refund of a sale nobody posted.
        refund(
            "r-ghost",
            "ghost",
            "store-003",
            minute(base, 1, 30),
            250,
            None,
        ),
    ]);
    let served = serve(&events, &[]).await;

    let (status, full) = served.get("/v1/orders/full").await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(
        picked(&full["refunds"], &["refund_id", "store_id", "amount"]),
        [
            json!(["r-1", "store-001", "3.00"]),
            json!(["r-2", "store-002", "9.00"])
        ],
        "refunds oldest first"
    );
    assert_eq!(
        (
            &full["total"],
            &full["refunded"],
            &full["net"],
            &full["over_refunded"],
            &full["voided"]
        ),
        (
            &json!("10.00"),
            &json!("12.00"),
            &json!("-2.00"),
            &json!(true),
            &json!(false)
        )
    );
    let (_, voided) = served.get("/v1/orders/voided").await;
    assert_eq!(
        (
            &voided["voided"],
            &voided["void"]["store_id"],
            &voided["net"],
            &voided["refunded"]
        ),
        (
            &json!(true),
            &json!("store-001"),
            &json!("0.00"),
            &json!("0.00")
        )
    );
    let (status, _) = served.get("/v1/orders/ghost").await;
    assert_eq!(status, 404, "a refund alone does not make a sale");

    let from = urlencode(&minute(base, 60, 0).to_rfc3339());
    let to = urlencode(&minute(base, -5, 0).to_rfc3339());
    let row = |key: &str, orders, gross: &str, refunds: &str, net: &str| {
        (
            key.to_string(),
            orders,
            gross.to_string(),
            refunds.to_string(),
            net.to_string(),
        )
    };
    let summaries = [
        // The voided sale counts nowhere; refunds count at the store that gave money back.
        (
            "store",
            [
                row("store-001", 1, "10.00", "3.00", "7.00"),
                row("store-002", 1, "3.00", "9.00", "-6.00"),
                row("store-003", 0, "0.00", "2.50", "-2.50"),
            ],
        ),
        // Refunds take their sale's channel; a refund of an unknown sale has none.
        (
            "channel",
            [
                row("in_store", 1, "10.00", "12.00", "-2.00"),
                row("online", 1, "3.00", "0.00", "3.00"),
                row("unknown", 0, "0.00", "2.50", "-2.50"),
            ],
        ),
    ];
    for (group_by, expected) in summaries {
        let (status, body) = served
            .get(&format!(
                "/v1/sales/summary?from={from}&to={to}&group_by={group_by}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(money_rows(&body), expected, "by {group_by}");
    }
    let (_, body) = served
        .get(&format!(
            "/v1/sales/top-products?from={from}&to={to}&limit=5"
        ))
        .await;
    let fields = [
        "sku",
        "quantity",
        "refunded_quantity",
        "gross",
        "refunds",
        "net",
    ];
    assert_eq!(
        picked(&body["rows"], &fields),
        [
            json!(["sku-1", 3, 1, "13.00", "3.00", "10.00"]),
            json!(["sku-2", 0, 0, "0.00", "0.00", "0.00"])
        ],
        "{body}"
    );

    let report = served.jobs.reconcile_now().await.expect("a run");
    assert_eq!(report.status, "ok", "{report:?}");
    assert_eq!(report.unknown_sale_refunds, 1);
    assert_eq!(
        report
            .unknown_sale_refund_list
            .iter()
            .map(|r| (r.refund_id.as_str(), r.order_id.as_str(), r.amount_minor))
            .collect::<Vec<_>>(),
        [("r-ghost", "ghost", 250)]
    );
    let (_, body) = served.get("/v1/reconciliation").await;
    assert_eq!(body["unknown_sale_refund_list"][0]["refund_id"], "r-ghost");
    let metrics = scrape(&format!("{}/metrics", served.base)).await;
    assert_eq!(
        metric(&metrics, "serving_reconciliation_unknown_sale_refunds"),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_reports_agreement_then_names_a_corrupted_store() {
    let base = Utc::now().timestamp() - 1_800;
    let served = serve(&sales(base, RECONCILED), &[]).await;
    let (_, before) = served.get("/v1/reconciliation").await;
    assert_eq!(before["status"], "not_run");

    let report = served.jobs.reconcile_now().await.expect("a run");
    assert_eq!(report.status, "ok", "{report:?}");
    assert_eq!(report.compared_groups, 2);
    assert!(report.mismatches.is_empty());
    let (_, body) = served.get("/v1/reconciliation").await;
    assert_eq!(body["status"], "ok");

    // Corrupt store-005's aggregate: a higher version with the wrong revenue wins in the view.
    let window = minute(base, 3, 0).timestamp();
    served
        .sql(&format!("INSERT INTO sales.sales_by_window (window_start, day, store_id, channel, currency, currency_exponent, orders, items, gross_minor, refunds_minor, net_minor, version) VALUES (toDateTime({window}), toDate({window}), 'store-005', 'online', 'EUR', 2, 1, 1, 999, 0, 999, 99)"))
        .await;
    let report = served.jobs.reconcile_now().await.expect("a run");
    assert_eq!(report.status, "mismatch");
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    let m = &report.mismatches[0];
    assert_eq!(
        (m.store_id.as_str(), m.channel.as_str(), m.day),
        ("store-005", "online", minute(base, 3, 0).date_naive())
    );
    assert_eq!((m.cassandra.net_minor, m.clickhouse.net_minor), (199, 999));
    let (_, body) = served.get("/v1/reconciliation").await;
    assert_eq!(body["mismatches"][0]["store_id"], "store-005");
    let metrics = scrape(&format!("{}/metrics", served.base)).await;
    assert_eq!(
        metric(&metrics, "serving_reconciliation_mismatches"),
        1.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_exactly_the_expired_partitions() {
    // Partitions are business days; "today" is the business zone's, here 14 hours ahead of UTC,
    // so for most of the UTC day it is already UTC's tomorrow.
    let zone = "Pacific/Kiritimati";
    let served = serve(
        &[],
        &[("RETENTION_DAYS", "30"), ("BUSINESS_TIME_ZONE", zone)],
    )
    .await;
    let today = zone
        .parse::<sales_model::BusinessZone>()
        .unwrap()
        .day_of(Utc::now());
    let days_ago = |n: i64| today - chrono::Duration::days(n);
    for n in [45, 31, 30, 29, 0] {
        let day = days_ago(n);
        served
            .sql(&format!("INSERT INTO sales.order_facts (created_at, day, order_id, store_id) VALUES (toDateTime('{day} 00:00:00'), toDate('{day}'), 'old-{n}', 'store-001')"))
            .await;
        served
            .sql(&format!("INSERT INTO sales.sales_by_window (window_start, day, store_id, orders, version) VALUES (toDateTime('{day} 00:00:00'), toDate('{day}'), 'store-001', 1, 1)"))
            .await;
    }
    let report = served.jobs.retention_now().await.expect("a run");
    let day = |n: i64| {
        (today - chrono::Duration::days(n))
            .format("%Y%m%d")
            .to_string()
    };
    let mut dropped = report.dropped.clone();
    dropped.sort();
    assert_eq!(
        dropped,
        vec![
            ("order_facts".to_string(), day(45)),
            ("order_facts".to_string(), day(31)),
            ("sales_by_window".to_string(), day(45)),
            ("sales_by_window".to_string(), day(31)),
        ]
    );
    let left: Vec<String> = served
        .stores
        .clickhouse
        .rows("SELECT order_id FROM sales.order_facts ORDER BY order_id")
        .await;
    assert_eq!(left, ["old-0", "old-29", "old-30"]);
    assert!(served
        .jobs
        .retention_now()
        .await
        .expect("a second run")
        .dropped
        .is_empty());
}

/// A ClickHouse that accepts connections and never answers cannot hold the scheduled jobs: each
/// query gives up after `CLICKHOUSE_REQUEST_TIMEOUT_MS`, the run is reported as failed, and the
/// next run is not skipped as an overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_clickhouse_cannot_hold_the_jobs() {
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", hole.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            held.push(socket);
        }
    });
    let served = serve(
        &[],
        &[
            ("CLICKHOUSE_URL", &url),
            ("CLICKHOUSE_REQUEST_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    for run in 1..=2 {
        let report = tokio::time::timeout(Duration::from_secs(10), served.jobs.reconcile_now())
            .await
            .expect("the reconciliation hung")
            .expect("the run was skipped as an overlap");
        assert_eq!(report.status, "failed", "run {run}");
        let error = report.error.unwrap_or_default();
        assert!(error.contains("did not answer within"), "{error}");
        tokio::time::timeout(Duration::from_secs(10), served.jobs.retention_now())
            .await
            .expect("retention hung");
    }
    let metrics = scrape(&format!("{}/metrics", served.base)).await;
    for job in ["reconciliation", "retention"] {
        assert_eq!(
            metric(
                &metrics,
                &format!("serving_job_runs_total{{job=\"{job}\",outcome=\"failed\"}}")
            ),
            2.0,
            "{metrics}"
        );
    }
}

/// serving started while Cassandra is unreachable answers at once: `/health` 200, `/ready` 503
/// naming Cassandra, reads 503 with `Retry-After`; once Cassandra comes up it connects by itself
/// and reads work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_answers_while_cassandra_is_down_and_recovers_when_it_is_up() {
    let stores = TestStores::start(1).await;
    // Cassandra behind a proxy that refuses every connection until it is restored.
    let proxy = test_support::proxy::TcpProxy::start(stores.cassandra.contact_point()).await;
    proxy.cut();
    let contact = proxy.addr();
    let env = stores.env(&[
        ("CASSANDRA_CONTACT_POINTS", &contact),
        ("SERVING_LISTEN_ADDR", "127.0.0.1:0"),
        ("SERVING_API_KEYS", KEY),
    ]);
    let app = Application::build(
        ServingConfig::from_settings(&Settings::new(&env)).expect("serving config"),
    )
    .await
    .expect("serving starts without Cassandra");
    let base = format!("http://{}", app.local_addr());
    let cassandra = app.cassandra();
    tokio::spawn(app.run(std::future::pending()));
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(KEY).send();

    assert_eq!(get("/health").await.unwrap().status(), 200);
    let ready = get("/ready").await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("cassandra"));
    let read = get("/v1/orders/o-1").await.unwrap();
    assert_eq!(read.status(), 503);
    assert_eq!(read.headers()["retry-after"], "5");

    // Cassandra becomes reachable.
    proxy.restore();
    assert!(
        cassandra.reached_within(Duration::from_secs(30)).await,
        "serving did not connect once Cassandra was up"
    );
    assert_eq!(get("/v1/orders/o-1").await.unwrap().status(), 404);
    assert_eq!(get("/ready").await.unwrap().status(), 200);
}

/// A key past its request rate gets 429 with `Retry-After`; other keys and later requests do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_rate_limit_gets_429() {
    let served = serve(&[], &[("SERVING_RATE_LIMIT_PER_KEY", "2")]).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(served.get("/v1/reconciliation").await.0);
    }
    assert_eq!(&statuses[..2], [200, 200]);
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    let limited = served
        .request("/v1/reconciliation")
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(served.get("/v1/reconciliation").await.0, 200);
}

/// Orders a minute either side of a business midnight land on different days in Cassandra, in
/// ClickHouse and in every serving answer: in a zone whose offset is not a whole hour, and across
/// the end of summer time (whose business day has 25 hours).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_either_side_of_local_midnight_land_on_different_business_days() {
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    // Asia/Kolkata is UTC+05:30: the last local midnight is (UTC) 18:30 on some day.
    let kolkata_midnight = {
        let now = Utc::now();
        let today_1830 = now.date_naive().and_hms_opt(18, 30, 0).unwrap().and_utc();
        if today_1830 <= now - chrono::Duration::minutes(2) {
            today_1830
        } else {
            today_1830 - chrono::Duration::days(1)
        }
    };
    let minute = chrono::Duration::minutes(1);
    let cases = [
        (
            "Asia/Kolkata",
            vec![
                ("k-before", kolkata_midnight - minute),
                ("k-after", kolkata_midnight + minute),
            ],
        ),
        (
            // Summer time ends at 01:00 UTC on Sunday 25 October 2026: that day starts at 22:00
            // UTC (+02:00) and ends at 23:00 UTC the next day (+01:00).
            "Europe/Berlin",
            vec![
                ("b-sat", at("2026-10-24T21:59:00Z")),
                ("b-sun-first", at("2026-10-24T22:01:00Z")),
                ("b-sun-last", at("2026-10-25T22:59:00Z")),
                ("b-mon", at("2026-10-25T23:01:00Z")),
            ],
        ),
    ];
    for (zone_name, orders) in cases {
        let zone: sales_model::BusinessZone = zone_name.parse().unwrap();
        let envelopes: Vec<Envelope> = orders
            .iter()
            .map(|(id, t)| SampleOrder::new(id, "store-001", *t).envelope_at(*t + minute))
            .collect();
        let served = serve(&envelopes, &[("BUSINESS_TIME_ZONE", zone_name)]).await;
        let mut days = std::collections::BTreeMap::<String, Vec<String>>::new();
        for (id, t) in &orders {
            let day = zone.day_of(*t).to_string();
            // The order's own view names its business day.
            let (status, order) = served.get(&format!("/v1/orders/{id}")).await;
            assert_eq!(status, 200, "{zone_name} {id}");
            assert_eq!(order["day"], day.as_str(), "{zone_name} {id}");
            days.entry(day).or_default().push(id.to_string());
        }
        assert_eq!(
            days.len(),
            orders.len() - usize::from(zone_name == "Europe/Berlin"),
            "{zone_name}: {days:?}"
        );
        let from = orders[0].1 - chrono::Duration::hours(2);
        let to = orders[orders.len() - 1].1 + chrono::Duration::hours(2);
        let (status, summary) = served
            .get(&format!(
                "/v1/sales/summary?from={}&to={}&group_by=day",
                from.format("%Y-%m-%dT%H:%M:%SZ"),
                to.format("%Y-%m-%dT%H:%M:%SZ")
            ))
            .await;
        assert_eq!(status, 200, "{summary}");
        let summary_days: Vec<(String, u64)> = summary_rows(&summary)
            .into_iter()
            .map(|(key, orders, _)| (key, orders))
            .collect();
        let expected: Vec<(String, u64)> = days
            .iter()
            .map(|(d, ids)| (d.clone(), ids.len() as u64))
            .collect();
        assert_eq!(summary_days, expected, "{zone_name}: serving's days");
        for (day, ids) in &days {
            // A store's day in Cassandra holds exactly that business day's orders.
            let (status, page) = served
                .get(&format!("/v1/stores/store-001/orders?date={day}"))
                .await;
            assert_eq!(status, 200);
            let mut listed: Vec<String> = page["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["order_id"].as_str().unwrap().to_string())
                .collect();
            listed.sort();
            let mut ids = ids.clone();
            ids.sort();
            assert_eq!(listed, ids, "{zone_name} {day}: Cassandra's store day");
        }
        // ClickHouse's daily view agrees day by day.
        let daily: Vec<(String, u64)> = served
            .stores
            .clickhouse
            .rows("SELECT toString(day), orders FROM sales.v_sales_daily ORDER BY day")
            .await;
        assert_eq!(daily, expected, "{zone_name}: ClickHouse's days");
        if zone_name == "Asia/Kolkata" {
            // Reconciliation compares the same business days and finds them equal.
            let report = served.jobs.reconcile_now().await.expect("a run");
            assert_eq!(report.status, "ok", "{report:?}");
            assert_eq!(report.compared_groups, 2, "{report:?}");
        }
    }
}
