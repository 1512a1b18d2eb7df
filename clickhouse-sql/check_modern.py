"""Runs every file of clickhouse-sql/ on a current ClickHouse engine (chdb, in-process), loads the
store seed and sample facts (with re-inserted duplicates) in EUR, JPY and KWD: sales, refunds (with
and without lines, of a voided sale, at another store, of an unknown sale) and voids, with business
days in Asia/Kolkata (one order late on a UTC evening that is the next business day there, one on
the same weekday a week earlier); runs stream-job's own recompute queries, and checks the window
tables (gross, refunds, net and version per window and per product) and that every view returns
the expected totals at each currency's scale (JPY whole yen, KWD three decimals) and groups days by
the business `day` column; checks the version rule (DESIGN.md §6b): after a late void and a late
refund the newer recomputation wins over rows written before them, in FINAL and in a merge, and
recomputing with no new facts changes nothing; then runs every column (calculated ones by their
expression), metric and chart query of the Superset dashboard (superset/dashboard) over those
views, with the `{{ BUSINESS_TIME_ZONE }}` placeholder filled in as build_bundle.py does, the way
Superset writes them (calculated columns by their expression, metrics aliased by their names, the
chart's time grain, its adhoc filters, the native filters' defaults in their scope, the chart's
ordering and row limit), once at the real now() and once with now() pinned to an instant of the
sample day, where every chart must return rows; and checks that each native filter's column exists
in every dataset of the charts it applies to.

Proves that the DDL the compose image runs is valid on current ClickHouse, not only on the old
server CI can install. Exit status 0 when every check passes.
"""

import csv
import datetime as dt
import json
import pathlib
import re
import sys
import tempfile
import zoneinfo

import yaml

# The native filters' scopes and defaults as build_bundle.py reads them for the saved queries.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "superset"))
from build_bundle import chart_uuids, default_filters  # noqa: E402
from chdb import session as chdb_session

HERE = pathlib.Path(__file__).resolve().parent
WINDOW = 60
DAY_START = 1795305600  # 2026-11-22T00:00:00Z
WEEK = 7 * 86400
# The business time zone of the sample facts' `day` and of the dashboard's SQL (its placeholder):
# not UTC, so a zone that is ignored, or a UTC date taken for the business day, shows.
BUSINESS_TIME_ZONE = "Asia/Kolkata"
# What build_bundle.py fills in from the environment (the connection URI is in databases/, not read).
PLACEHOLDER_VALUES = {"BUSINESS_TIME_ZONE": BUSINESS_TIME_ZONE, "SUPERSET_DEFAULT_CURRENCY": "EUR", "SUPERSET_SILENT_STORE_MINUTES": "60"}
PLACEHOLDER = re.compile(r"\{\{ *[A-Z][A-Z0-9_]* *\}\}")  # build_bundle.py's rule
# ISO 4217 minor-unit exponents of the sample currencies.
EXPONENT = {"EUR": 2, "JPY": 0, "KWD": 3}
# "Now" for the pinned runs: 2026-11-22T00:30:00Z, 06:00 of 2026-11-22 in Asia/Kolkata (the first
# sample windows are in the last 60 minutes, today's business day is the 22nd) ...
PINNED_NOW = DAY_START + 1800
# ... and 2026-11-22T21:00:00Z, already 02:30 of 2026-11-23 in Asia/Kolkata.
PINNED_NEXT_DAY = DAY_START + 75600
# Superset's ClickHouse time grains (superset/db_engine_specs/clickhouse.py).
TIME_GRAIN = {
    None: "{col}",
    "PT1M": "toStartOfMinute(toDateTime({col}))",
    "PT5M": "toDateTime(intDiv(toUInt32(toDateTime({col})), 300)*300)",
    "PT1H": "toStartOfHour(toDateTime({col}))",
    "P1D": "toStartOfDay(toDateTime({col}))",
}


def statements(path):
    code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]


def metrics_of(datasets, table):
    spec = next(d for d in datasets.values() if d["table_name"] == table)
    return {m["metric_name"]: m["expression"] for m in spec["metrics"]}


def quote(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def filled(path):
    """A dashboard YAML file with build_bundle.py's placeholders filled in, and the placeholders it
    would have refused (no value) that are left."""
    text = path.read_text()
    for name, value in PLACEHOLDER_VALUES.items():
        text = text.replace("{{ " + name + " }}", value)
    return yaml.safe_load(text), PLACEHOLDER.findall(text)


def in_order(rows):
    """Rows sorted (a chart's own order may leave ties in any order); an engine's refusal as it is."""
    return rows if isinstance(rows, str) else sorted(rows)


def now_views():
    """{view: its SELECT} of the views that read now() themselves (the per-minute grid), which
    pinning a query's own now() cannot reach: at_instant inlines them."""
    views = {}
    for path in sorted(HERE.glob("[0-9][0-9][0-9]_*.sql")):
        for statement in path.read_text().split(";"):
            found = re.search(r"CREATE VIEW IF NOT EXISTS (\S+) AS\s+(SELECT\b.*)", statement, re.S)
            if found and "now()" in found.group(2):
                views[found.group(1)] = found.group(2).strip()
    return views


NOW_VIEWS = now_views()


def at_instant(sql, at):
    """The query with ClickHouse's now() pinned to the epoch second `at`, in the views that read it
    too (inlined as subqueries under their own names)."""
    for view, select in NOW_VIEWS.items():
        sql = re.sub(rf"\b{re.escape(view)}\b(?!\.)", f"({select}) AS {view.split('.')[-1]}", sql)
    return sql.replace("now()", f"toDateTime({at})")


def column_expr(spec, name):
    """A dataset column as Superset refers to it: a calculated column by its expression."""
    for column in spec["columns"]:
        if column["column_name"] == name:
            return f"({column['expression']})" if column.get("expression") else name
    raise ValueError(f"{spec['table_name']} has no column {name!r}")


def column_select(spec, column):
    """A chart's column (a dataset column's name or an adhoc SQL column) as (select item, group
    expression)."""
    if isinstance(column, str):
        expr = column_expr(spec, column)
        return (f"{expr} AS `{column}`" if expr != column else column), expr
    if isinstance(column, dict) and column.get("sqlExpression"):
        return f"({column['sqlExpression']}) AS `{column['label']}`", f"({column['sqlExpression']})"
    raise ValueError(f"unknown column shape {column!r}")


def metric_select(spec, metric):
    """A chart's metric (a saved metric's name or an adhoc metric) as (label, expression)."""
    if isinstance(metric, str):
        saved = {m["metric_name"]: m["expression"] for m in spec["metrics"]}
        if metric not in saved:
            raise ValueError(f"{spec['table_name']} has no metric {metric!r}")
        return metric, saved[metric]
    if isinstance(metric, dict) and metric.get("expressionType") == "SQL":
        return metric["label"], metric["sqlExpression"]
    if isinstance(metric, dict) and metric.get("expressionType") == "SIMPLE":
        column = metric["column"]["column_name"]
        return metric["label"], f"{metric['aggregate']}({column_expr(spec, column)})"
    raise ValueError(f"unknown metric shape {metric!r}")


def time_bound(text):
    """One side of a Superset time range, as ClickHouse SQL on now()."""
    text = text.strip()
    if text == "now":
        return "now()"
    shifted = re.fullmatch(r'DATEADD\(DATETIME\("now"\), *(-?\d+), *(second|minute|hour|day|week)\)', text)
    if shifted:
        return f"now() + INTERVAL {int(shifted.group(1))} {shifted.group(2).upper()}"
    raise ValueError(f"time range bound {text!r} not understood")


def adhoc_filter(spec, adhoc):
    """A chart's adhoc filter as (clause, SQL condition), or None for a range with no filter."""
    clause = adhoc.get("clause", "WHERE")
    if adhoc["expressionType"] == "SQL":
        return clause, f"({adhoc['sqlExpression']})"
    subject = column_expr(spec, adhoc["subject"])
    operator = adhoc["operator"]
    if operator == "TEMPORAL_RANGE":
        if adhoc["comparator"] == "No filter":
            return None
        start, end = adhoc["comparator"].split(" : ")
        return clause, f"({subject} >= {time_bound(start)} AND {subject} < {time_bound(end)})"
    if operator in ("IN", "NOT IN"):
        return clause, f"{subject} {operator} ({', '.join(quote(v) for v in adhoc['comparator'])})"
    if operator in ("==", "!=", ">", "<", ">=", "<="):
        return clause, f"{subject} {'=' if operator == '==' else operator} {quote(adhoc['comparator'])}"
    raise ValueError(f"adhoc filter operator {operator!r} not understood")


def chart_query(chart, spec, extra_where):
    """The chart's query as Superset builds it for its viz type, with the native filters'
    conditions (extra_where) added."""
    params = chart["params"]
    table = f"{spec['schema']}.{spec['table_name']}"
    if params.get("viz_type") in ("table", "handlebars") and params.get("query_mode") == "raw":
        # Raw records: the columns as they are, no grouping, no metrics.
        keys = [column_select(spec, c) for c in params["all_columns"]]
        metrics = []
    else:
        keys = []
        x_axis = params.get("x_axis")
        if x_axis:
            item, expr = column_select(spec, x_axis)
            grain = TIME_GRAIN[params.get("time_grain_sqla")]
            if isinstance(x_axis, str) and params.get("time_grain_sqla"):
                expr = grain.format(col=expr)
                item = f"{expr} AS `{x_axis}`"
            keys.append((item, expr))
        groupby = params.get("groupby") or params.get("columns") or []
        keys += [column_select(spec, c) for c in groupby]
        # `metrics` (a list) in most charts, `metric` (one) in a big number.
        chosen = params.get("metrics") or ([params["metric"]] if params.get("metric") else [])
        metrics = [metric_select(spec, m) for m in chosen]
    if not keys and not metrics:
        raise ValueError("the chart selects nothing")
    where, having = list(extra_where), []
    for adhoc in params.get("adhoc_filters", []):
        condition = adhoc_filter(spec, adhoc)
        if condition:
            (having if condition[0] == "HAVING" else where).append(condition[1])
    select = ", ".join([k[0] for k in keys] + [f"{expr} AS `{label}`" for label, expr in metrics])
    sql = f"SELECT {select} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if metrics and keys:
        sql += " GROUP BY " + ", ".join(k[1] for k in keys)
    if having:
        sql += " HAVING " + " AND ".join(having)
    # Ordering: raw mode's `order_by_cols` (["column", ascending] as JSON text) by columns; an
    # aggregate's `orderby` ([metric, ascending]) or sort metric by metrics, a metric of the chart
    # by its alias.
    labels = {label for label, _ in metrics}
    terms = []
    for key, ascending in (json.loads(o) for o in params.get("order_by_cols") or []):
        terms.append(f"{column_expr(spec, key)} {'ASC' if ascending else 'DESC'}")
    orderby = list(params.get("orderby") or [])
    if params.get("timeseries_limit_metric"):
        orderby.append([params["timeseries_limit_metric"], not params.get("order_desc", True)])
    for key, ascending in orderby:
        label, expr = (key, None) if isinstance(key, str) and key in labels else metric_select(spec, key)
        terms.append(f"{'`' + label + '`' if label in labels else expr} {'ASC' if ascending else 'DESC'}")
    if terms:
        sql += " ORDER BY " + ", ".join(terms)
    if params.get("row_limit"):
        sql += f" LIMIT {int(params['row_limit'])}"
    return sql


ZONE = zoneinfo.ZoneInfo(BUSINESS_TIME_ZONE)
# Superset's datasets, charts and dashboard as code.
DASHBOARD = HERE.parent / "superset" / "dashboard"

# Sample orders: (seconds from 2026-11-22T00:00:00Z, order_id, store, channel, currency,
# items, total_minor, lines). Money in the currency's minor units: EUR cents, JPY whole yen,
# KWD fils. o-8 is 20:00 UTC on the 22nd, already the 23rd in Asia/Kolkata; o-9 is on the
# same weekday a week earlier; o-10 and o-11 are voided (`voids`).
ORDERS = [
    (10, "o-1", "store-001", "in_store", "EUR", 2, 650, [("sku-1", "Latte", 2, 325)]),
    (20, "o-2", "store-001", "in_store", "EUR", 3, 900, [("sku-1", "Latte", 1, 325), ("sku-2", "Bagel", 2, 275)]),
    (70, "o-3", "store-001", "online", "EUR", 1, 275, [("sku-2", "Bagel", 1, 275)]),
    (75, "o-4", "store-999", "delivery", "EUR", 4, 1300, [("sku-1", "Latte", 4, 325)]),
    (3600, "o-5", "store-003", "takeaway", "EUR", 1, 325, [("sku-1", "Latte", 1, 325)]),
    (130, "o-6", "store-002", "online", "JPY", 2, 1500, [("sku-1", "Latte", 2, 750)]),
    (190, "o-7", "store-005", "delivery", "KWD", 2, 1234, [("sku-2", "Bagel", 2, 617)]),
    (72000, "o-8", "store-001", "in_store", "EUR", 1, 500, [("sku-1", "Latte", 1, 500)]),
    (20 - WEEK, "o-9", "store-001", "in_store", "EUR", 1, 400, [("sku-2", "Bagel", 1, 400)]),
    (25, "o-10", "store-001", "in_store", "EUR", 1, 300, [("sku-3", "Muffin", 1, 300)]),
    (135, "o-11", "store-002", "online", "JPY", 1, 800, [("sku-2", "Bagel", 1, 800)]),
]
# Voids: (seconds, order_id, store). Both sales are in no window: o-10 shares its window and
# group with o-1 and o-2, o-11 with o-6 (whose refund r-3 still counts).
VOIDS = [(40, "o-10", "store-001"), (150, "o-11", "store-002")]
# Refunds: (seconds, refund_id, order_id, store, channel as stream-job recorded it, currency,
# amount_minor, lines (sku, quantity, amount_minor)). Each counts in the window of its own
# time at its own store: r-1 alone in store-001's in_store group of the second window (a
# window of refunds only), r-2 (of last week's o-9) today, r-3 of the voided o-11, r-4 of
# store-999's o-4 at store-003 (its own delivery group there, two lines), r-5 of a sale the
# pipeline never saw (channel 'unknown'), r-6 five fils, r-7 on the 23rd in Asia/Kolkata.
REFUNDS = [
    (65, "r-1", "o-1", "store-001", "in_store", "EUR", 650, [("sku-1", 2, 650)]),
    (30, "r-2", "o-9", "store-001", "in_store", "EUR", 150, []),
    (170, "r-3", "o-11", "store-002", "online", "JPY", 300, [("sku-2", 1, 300)]),
    (3610, "r-4", "o-4", "store-003", "delivery", "EUR", 325, [("sku-1", 1, 200), ("sku-2", 1, 125)]),
    (3620, "r-5", "o-404", "store-003", "unknown", "EUR", 200, []),
    (200, "r-6", "o-7", "store-005", "delivery", "KWD", 5, [("sku-2", 1, 5)]),
    (72030, "r-7", "o-8", "store-001", "in_store", "EUR", 100, []),
]


def business_day(at):
    """The business day of the epoch second `at`, as stream-job computes it, quoted."""
    return quote(dt.datetime.fromtimestamp(at, ZONE).date().isoformat())


def void_row(offset, order_id, store):
    at = DAY_START + offset
    return (
        f"({quote(order_id)}, toDateTime({at}), {business_day(at)}, {quote(store)}, 'mistaken ring-up', "
        f"toDateTime({at}))"
    )


FACT_COLUMNS = (
    "created_at, day, order_id, store_id, channel, currency, currency_exponent, customer_id, "
    "payment_method, item_count, discount_minor, tax_minor, total_minor, ingested_at"
)
LINE_COLUMNS = (
    "created_at, day, order_id, line_no, store_id, currency, currency_exponent, sku, name, quantity, "
    "unit_price_minor, amount_minor"
)
REFUND_COLUMNS = (
    "created_at, day, refund_id, order_id, store_id, channel, sale_known, currency, currency_exponent, "
    "amount_minor, ingested_at"
)
REFUND_LINE_COLUMNS = (
    "created_at, day, refund_id, line_no, store_id, currency, currency_exponent, sku, quantity, amount_minor"
)
VOID_COLUMNS = "order_id, voided_at, day, store_id, reason, ingested_at"


class Run:
    """One chdb session and the checks made on it so far."""

    def __init__(self, data):
        self.db = chdb_session.Session(data)
        self.checks = []

    def query(self, sql):
        return self.db.query(sql, "CSV").bytes().decode()

    def attempt(self, sql):
        """The query's rows, or the engine's refusal (its first line) as a string; `sql` may be a
        function making the query from the dashboard's files (a column or metric it names that is
        missing is the refusal then)."""
        try:
            return self.query(sql() if callable(sql) else sql).strip().splitlines()
        except Exception as error:  # the engine's refusal is the finding
            return str(error).splitlines()[0]

    def check(self, name, got, expected):
        self.checks.append((name, got == expected, got, expected))


def apply_schema(run):
    """Every schema file in order, and the store seed."""
    files = sorted(HERE.glob("[0-9][0-9][0-9]_*.sql"))
    for path in files:
        for statement in statements(path):
            run.query(statement)
    run.check("schema files applied", len(files) >= 6, True)

    with open(HERE / "seed" / "stores.csv", newline="") as seed:
        rows = list(csv.DictReader(seed))
    values = ",".join(
        "(" + ",".join(quote(r[c]) for c in ("store_id", "name", "city", "region")) + ")" for r in rows
    )
    run.query(f"INSERT INTO sales.stores VALUES {values}")



def moment(offset, currency):
    """A sample row's instant, its business day and its currency's exponent."""
    at = DAY_START + offset
    return at, business_day(at), EXPONENT[currency]


def values(*items):
    """A VALUES tuple of SQL literals."""
    return "(" + ", ".join(str(item) for item in items) + ")"


def sale_rows(offset, order_id, store, channel, currency, items, total, order_lines):
    """A sample sale's fact row and its line rows."""
    at, day, exponent = moment(offset, currency)
    created = f"toDateTime({at})"
    key = (created, day, quote(order_id))
    fact = values(*key, quote(store), quote(channel), quote(currency), exponent, "''", "'card'", items, 0, 0, total, created)
    lines = [
        values(*key, no, quote(store), quote(currency), exponent, quote(sku), quote(name), qty, price, qty * price)
        for no, (sku, name, qty, price) in enumerate(order_lines)
    ]
    return fact, lines


def refund_rows(offset, refund_id, order_id, store, channel, currency, amount, returned):
    """A sample refund's fact row and its line rows; a refund of an unknown sale has no channel."""
    at, day, exponent = moment(offset, currency)
    created = f"toDateTime({at})"
    known = int(channel != "unknown")
    fact = values(created, day, quote(refund_id), quote(order_id), quote(store), quote(channel), known, quote(currency), exponent, amount, created)
    lines = [
        values(created, day, quote(refund_id), no, quote(store), quote(currency), exponent, quote(sku), qty, line_amount)
        for no, (sku, qty, line_amount) in enumerate(returned)
    ]
    return fact, lines


def sample_rows():
    """The sample's fact rows as VALUES tuples: sales, sale lines, refunds, refund lines."""
    sales = [sale_rows(*order) for order in ORDERS]
    refunds = [refund_rows(*refund) for refund in REFUNDS]
    return (
        [fact for fact, _ in sales],
        [line for _, lines in sales for line in lines],
        [fact for fact, _ in refunds],
        [line for _, lines in refunds for line in lines],
    )


def insert_sample(run):
    """Every sale, refund and void, twice."""
    facts, lines, refund_facts, refund_lines = sample_rows()
    # Every sale, refund and void inserted twice, as a replay would: the facts must collapse.
    for _ in range(2):
        run.query(f"INSERT INTO sales.order_facts ({FACT_COLUMNS}) VALUES " + ",".join(facts))
        run.query(f"INSERT INTO sales.order_line_facts ({LINE_COLUMNS}) VALUES " + ",".join(lines))
        run.query(f"INSERT INTO sales.refund_facts ({REFUND_COLUMNS}) VALUES " + ",".join(refund_facts))
        run.query(f"INSERT INTO sales.refund_line_facts ({REFUND_LINE_COLUMNS}) VALUES " + ",".join(refund_lines))
        run.query(f"INSERT INTO sales.order_voids ({VOID_COLUMNS}) VALUES " + ",".join(void_row(*v) for v in VOIDS))


def recompute_statements():
    """stream-job's recompute queries with the values it binds."""
    stores = "[" + ",".join(quote(s) for s in sorted({o[2] for o in ORDERS} | {r[3] for r in REFUNDS})) + "]"
    # The values stream-job binds, in the templates' order, once for the sales and once for the
    # refunds: window size twice, the range (from the week-earlier day to the end of the sample
    # day), the stores.
    bound = [str(WINDOW), str(WINDOW), str(DAY_START - WEEK), str(DAY_START + 86400), stores] * 2
    recomputes = []
    for name in ("recompute_sales_by_window", "recompute_product_sales_by_window"):
        template = "\n".join(
            line for line in (HERE / "queries" / f"{name}.sql").read_text().splitlines() if not line.startswith("--")
        ).replace("{database}", "sales")
        pieces = template.split("?")
        assert len(pieces) == len(bound) + 1, f"{name}: {len(pieces) - 1} placeholders, {len(bound)} values"
        recomputes.append(pieces[0] + "".join(value + piece for value, piece in zip(bound, pieces[1:])))
    return recomputes


def recompute(run):
    for sql in RECOMPUTES:
        run.query(sql)


# The window tables as FINAL reads them, version included (offsets from DAY_START).
WINDOW_TABLE = (
    "SELECT toInt64(toUInt32(window_start)) - %d, day, store_id, channel, currency, currency_exponent, orders, "
    "items, gross_minor, refunds_minor, net_minor, version FROM sales.sales_by_window FINAL "
    "ORDER BY window_start, store_id, channel" % DAY_START
)
PRODUCT_TABLE = (
    "SELECT toInt64(toUInt32(window_start)) - %d, day, store_id, currency, currency_exponent, sku, name, orders, "
    "quantity, gross_minor, refunded_quantity, refunds_minor, net_minor, version "
    "FROM sales.product_sales_by_window FINAL ORDER BY window_start, store_id, sku" % DAY_START
)


def check_windows(run):
    """The facts collapse, the business day, and the window tables after a recompute; returns
    the window rows as first recomputed."""
    recompute(run)
    first = (run.attempt(WINDOW_TABLE), run.attempt(PRODUCT_TABLE))
    recompute(run)
    # A second recomputation over the same facts: the same rows, at the same versions.
    run.check("recompute is idempotent (same values, same versions)", (run.attempt(WINDOW_TABLE), run.attempt(PRODUCT_TABLE)), first)

    run.check(
        "order_facts collapse duplicates",
        run.attempt("SELECT count() FROM sales.order_facts FINAL"),
        [str(len(ORDERS))],
    )
    run.check(
        "refund_facts, refund_line_facts and order_voids collapse duplicates",
        run.attempt(
            "SELECT (SELECT count() FROM sales.refund_facts FINAL), (SELECT count() FROM sales.refund_line_facts FINAL), "
            "(SELECT count() FROM sales.order_voids FINAL)"
        ),
        [f"{len(REFUNDS)},{len(sample_rows()[3])},{len(VOIDS)}"],
    )
    run.check(
        "order_facts: day is the business day in Asia/Kolkata, not the UTC date",
        run.attempt(
            "SELECT order_id, toDate(created_at, 'UTC'), day, currency, currency_exponent FROM sales.order_facts FINAL "
            "WHERE order_id IN ('o-1', 'o-6', 'o-7', 'o-8') ORDER BY order_id"
        ),
        [
            '"o-1","2026-11-22","2026-11-22","EUR",2',
            '"o-6","2026-11-22","2026-11-22","JPY",0',
            '"o-7","2026-11-22","2026-11-22","KWD",3',
            '"o-8","2026-11-22","2026-11-23","EUR",2',
        ],
    )
    # The window rows after the recompute. The voided o-10 adds nothing to store-001's first
    # window but its two events (version 5: three sales, one void, r-2); the voided o-11 nothing to
    # store-002's JPY window, where its refund r-3 still counts (version 4); refunds alone make a
    # row with orders 0 and a negative net, r-5 in its own 'unknown' group.
    run.check(
        "sales_by_window: orders, items, gross, refunds, net and version per window",
        first[0],
        [
            '-604800,"2026-11-15","store-001","in_store","EUR",2,1,1,400,0,400,1',
            '0,"2026-11-22","store-001","in_store","EUR",2,2,5,1550,150,1400,5',
            '60,"2026-11-22","store-001","in_store","EUR",2,0,0,0,650,-650,1',
            '60,"2026-11-22","store-001","online","EUR",2,1,1,275,0,275,1',
            '60,"2026-11-22","store-999","delivery","EUR",2,1,4,1300,0,1300,1',
            '120,"2026-11-22","store-002","online","JPY",0,1,2,1500,300,1200,4',
            '180,"2026-11-22","store-005","delivery","KWD",3,1,2,1234,5,1229,2',
            '3600,"2026-11-22","store-003","delivery","EUR",2,0,0,0,325,-325,1',
            '3600,"2026-11-22","store-003","takeaway","EUR",2,1,1,325,0,325,1',
            '3600,"2026-11-22","store-003","unknown","EUR",2,0,0,0,200,-200,1',
            '72000,"2026-11-23","store-001","in_store","EUR",2,1,1,500,100,400,2',
        ],
    )
    # Per product: the voided o-10's Muffin and o-11's Bagel sold nothing (their rows stay, at
    # their events' version); refund lines count per sku (r-4's two lines in two rows); refunds
    # without lines (r-2, r-5, r-7) are in no product row. A product with refunds only has no
    # sale line to name it.
    run.check(
        "product_sales_by_window: quantity, gross, refunded quantity, refunds, net and version per sku",
        first[1],
        [
            '-604800,"2026-11-15","store-001","EUR",2,"sku-2","Bagel",1,1,400,0,0,400,1',
            '0,"2026-11-22","store-001","EUR",2,"sku-1","Latte",2,3,975,0,0,975,2',
            '0,"2026-11-22","store-001","EUR",2,"sku-2","Bagel",1,2,550,0,0,550,1',
            '0,"2026-11-22","store-001","EUR",2,"sku-3","Muffin",0,0,0,0,0,0,2',
            '60,"2026-11-22","store-001","EUR",2,"sku-1","",0,0,0,2,650,-650,1',
            '60,"2026-11-22","store-001","EUR",2,"sku-2","Bagel",1,1,275,0,0,275,1',
            '60,"2026-11-22","store-999","EUR",2,"sku-1","Latte",1,4,1300,0,0,1300,1',
            '120,"2026-11-22","store-002","JPY",0,"sku-1","Latte",1,2,1500,0,0,1500,1',
            '120,"2026-11-22","store-002","JPY",0,"sku-2","Bagel",0,0,0,1,300,-300,3',
            '180,"2026-11-22","store-005","KWD",3,"sku-2","Bagel",1,2,1234,1,5,1229,2',
            '3600,"2026-11-22","store-003","EUR",2,"sku-1","Latte",1,1,325,1,200,125,2',
            '3600,"2026-11-22","store-003","EUR",2,"sku-2","",0,0,0,1,125,-125,1',
            '72000,"2026-11-23","store-001","EUR",2,"sku-1","Latte",1,1,500,0,0,500,1',
        ],
    )
    return first


def check_window_views(run):
    # The views: money as minor units and as decimals at the currency's scale (JPY whole yen,
    # KWD three decimals); revenue (and revenue_minor) is net.
    run.check(
        "v_sales_by_window",
        run.attempt(
            "SELECT toInt64(toUInt32(window_start)) - %d, day, store_id, store_name, region, channel, currency, "
            "currency_exponent, orders, items, gross_minor, refunds_minor, net_minor, revenue_minor, gross, refunds, "
            "net, revenue FROM sales.v_sales_by_window ORDER BY window_start, store_id, channel" % DAY_START
        ),
        [
            '-604800,"2026-11-15","store-001","Alexanderplatz","East","in_store","EUR",2,1,1,400,0,400,400,4,0,4,4',
            '0,"2026-11-22","store-001","Alexanderplatz","East","in_store","EUR",2,2,5,1550,150,1400,1400,15.5,1.5,14,14',
            '60,"2026-11-22","store-001","Alexanderplatz","East","in_store","EUR",2,0,0,0,650,-650,-650,0,6.5,-6.5,-6.5',
            '60,"2026-11-22","store-001","Alexanderplatz","East","online","EUR",2,1,1,275,0,275,275,2.75,0,2.75,2.75',
            '60,"2026-11-22","store-999","store-999","unknown","delivery","EUR",2,1,4,1300,0,1300,1300,13,0,13,13',
            '120,"2026-11-22","store-002","Hackescher Markt","East","online","JPY",0,1,2,1500,300,1200,1200,1500,300,1200,1200',
            '180,"2026-11-22","store-005","Marienplatz","South","delivery","KWD",3,1,2,1234,5,1229,1229,1.234,0.005,1.229,1.229',
            '3600,"2026-11-22","store-003","Altona","North","delivery","EUR",2,0,0,0,325,-325,-325,0,3.25,-3.25,-3.25',
            '3600,"2026-11-22","store-003","Altona","North","takeaway","EUR",2,1,1,325,0,325,325,3.25,0,3.25,3.25',
            '3600,"2026-11-22","store-003","Altona","North","unknown","EUR",2,0,0,0,200,-200,-200,0,2,-2,-2',
            '72000,"2026-11-23","store-001","Alexanderplatz","East","in_store","EUR",2,1,1,500,100,400,400,5,1,4,4',
        ],
    )
    run.check(
        "v_product_sales_by_window",
        run.attempt(
            "SELECT toInt64(toUInt32(window_start)) - %d, day, store_id, region, currency, currency_exponent, sku, "
            "orders, quantity, refunded_quantity, gross_minor, refunds_minor, net_minor, revenue_minor, gross, refunds, "
            "net, revenue FROM sales.v_product_sales_by_window ORDER BY window_start, store_id, sku" % DAY_START
        ),
        [
            '-604800,"2026-11-15","store-001","East","EUR",2,"sku-2",1,1,0,400,0,400,400,4,0,4,4',
            '0,"2026-11-22","store-001","East","EUR",2,"sku-1",2,3,0,975,0,975,975,9.75,0,9.75,9.75',
            '0,"2026-11-22","store-001","East","EUR",2,"sku-2",1,2,0,550,0,550,550,5.5,0,5.5,5.5',
            '0,"2026-11-22","store-001","East","EUR",2,"sku-3",0,0,0,0,0,0,0,0,0,0,0',
            '60,"2026-11-22","store-001","East","EUR",2,"sku-1",0,0,2,0,650,-650,-650,0,6.5,-6.5,-6.5',
            '60,"2026-11-22","store-001","East","EUR",2,"sku-2",1,1,0,275,0,275,275,2.75,0,2.75,2.75',
            '60,"2026-11-22","store-999","unknown","EUR",2,"sku-1",1,4,0,1300,0,1300,1300,13,0,13,13',
            '120,"2026-11-22","store-002","East","JPY",0,"sku-1",1,2,0,1500,0,1500,1500,1500,0,1500,1500',
            '120,"2026-11-22","store-002","East","JPY",0,"sku-2",0,0,1,0,300,-300,-300,0,300,-300,-300',
            '180,"2026-11-22","store-005","South","KWD",3,"sku-2",1,2,1,1234,5,1229,1229,1.234,0.005,1.229,1.229',
            '3600,"2026-11-22","store-003","North","EUR",2,"sku-1",1,1,1,325,200,125,125,3.25,2,1.25,1.25',
            '3600,"2026-11-22","store-003","North","EUR",2,"sku-2",0,0,1,0,125,-125,-125,0,1.25,-1.25,-1.25',
            '72000,"2026-11-23","store-001","East","EUR",2,"sku-1",1,1,0,500,0,500,500,5,0,5,5',
        ],
    )
    run.check(
        "v_product_sales_with_store",
        run.attempt(
            "SELECT toInt64(toUInt32(window_start)) - %d, day, store_id, store_name, city, region, currency, sku, "
            "quantity, refunded_quantity, gross, refunds, net, revenue "
            "FROM sales.v_product_sales_with_store ORDER BY window_start, store_id, sku" % DAY_START
        ),
        [
            '-604800,"2026-11-15","store-001","Alexanderplatz","Berlin","East","EUR","sku-2",1,0,4,0,4,4',
            '0,"2026-11-22","store-001","Alexanderplatz","Berlin","East","EUR","sku-1",3,0,9.75,0,9.75,9.75',
            '0,"2026-11-22","store-001","Alexanderplatz","Berlin","East","EUR","sku-2",2,0,5.5,0,5.5,5.5',
            '0,"2026-11-22","store-001","Alexanderplatz","Berlin","East","EUR","sku-3",0,0,0,0,0,0',
            '60,"2026-11-22","store-001","Alexanderplatz","Berlin","East","EUR","sku-1",0,2,0,6.5,-6.5,-6.5',
            '60,"2026-11-22","store-001","Alexanderplatz","Berlin","East","EUR","sku-2",1,0,2.75,0,2.75,2.75',
            '60,"2026-11-22","store-999","store-999","unknown","unknown","EUR","sku-1",4,0,13,0,13,13',
            '120,"2026-11-22","store-002","Hackescher Markt","Berlin","East","JPY","sku-1",2,0,1500,0,1500,1500',
            '120,"2026-11-22","store-002","Hackescher Markt","Berlin","East","JPY","sku-2",0,1,0,300,-300,-300',
            '180,"2026-11-22","store-005","Marienplatz","Munich","South","KWD","sku-2",2,1,1.234,0.005,1.229,1.229',
            '3600,"2026-11-22","store-003","Altona","Hamburg","North","EUR","sku-1",1,1,3.25,2,1.25,1.25',
            '3600,"2026-11-22","store-003","Altona","Hamburg","North","EUR","sku-2",0,1,0,1.25,-1.25,-1.25',
            '72000,"2026-11-23","store-001","Alexanderplatz","Berlin","East","EUR","sku-1",1,0,5,0,5,5',
        ],
    )


def check_daily_views(run):
    # Days are business days (o-8 and r-7, created on the 22nd in UTC, count on the 23rd); a day
    # sums its windows (store-001's in_store refunds: r-2 in the first window, r-1 in the second).
    run.check(
        "v_sales_daily",
        run.attempt(
            "SELECT day, store_id, channel, currency, currency_exponent, orders, items, gross_minor, refunds_minor, "
            "net_minor, revenue_minor, gross, refunds, net, revenue FROM sales.v_sales_daily "
            "ORDER BY day, store_id, channel, currency"
        ),
        [
            '"2026-11-15","store-001","in_store","EUR",2,1,1,400,0,400,400,4,0,4,4',
            '"2026-11-22","store-001","in_store","EUR",2,2,5,1550,800,750,750,15.5,8,7.5,7.5',
            '"2026-11-22","store-001","online","EUR",2,1,1,275,0,275,275,2.75,0,2.75,2.75',
            '"2026-11-22","store-002","online","JPY",0,1,2,1500,300,1200,1200,1500,300,1200,1200',
            '"2026-11-22","store-003","delivery","EUR",2,0,0,0,325,-325,-325,0,3.25,-3.25,-3.25',
            '"2026-11-22","store-003","takeaway","EUR",2,1,1,325,0,325,325,3.25,0,3.25,3.25',
            '"2026-11-22","store-003","unknown","EUR",2,0,0,0,200,-200,-200,0,2,-2,-2',
            '"2026-11-22","store-005","delivery","KWD",3,1,2,1234,5,1229,1229,1.234,0.005,1.229,1.229',
            '"2026-11-22","store-999","delivery","EUR",2,1,4,1300,0,1300,1300,13,0,13,13',
            '"2026-11-23","store-001","in_store","EUR",2,1,1,500,100,400,400,5,1,4,4',
        ],
    )
    # One row per currency: amounts in different currencies are never added.
    run.check(
        "v_sales_daily per day and currency",
        run.attempt(
            "SELECT day, currency, any(currency_exponent), sum(orders), sum(items), sum(gross_minor), "
            "sum(refunds_minor), sum(net_minor), sum(gross), sum(refunds), sum(net), sum(revenue) "
            "FROM sales.v_sales_daily GROUP BY day, currency ORDER BY day, currency"
        ),
        [
            '"2026-11-15","EUR",2,1,1,400,0,400,4,0,4,4',
            '"2026-11-22","EUR",2,5,11,3450,1325,2125,34.5,13.25,21.25,21.25',
            '"2026-11-22","JPY",0,1,2,1500,300,1200,1500,300,1200,1200',
            '"2026-11-22","KWD",3,1,2,1234,5,1229,1.234,0.005,1.229,1.229',
            '"2026-11-23","EUR",2,1,1,500,100,400,5,1,4,4',
        ],
    )
    for view in ("v_sales_by_window", "v_product_sales_by_window", "v_product_sales_with_store", "v_sales_daily"):
        run.check(
            f"{view}: gross, refunds, net and revenue are Decimal(18, 3)",
            run.attempt(
                "SELECT DISTINCT toTypeName(gross), toTypeName(refunds), toTypeName(net), toTypeName(revenue) "
                f"FROM sales.{view}"
            ),
            [",".join(['"Decimal(18, 3)"'] * 4)],
        )
        # Exact at each currency's scale: JPY 1500 minor is 1500 yen, KWD 5 minor 0.005 dinar.
        run.check(
            f"{view}: JPY and KWD at their scale",
            run.attempt(
                f"SELECT currency, sum(gross_minor), toString(sum(gross)), toString(sum(refunds)), toString(sum(net)), "
                f"toString(sum(revenue)) FROM sales.{view} WHERE currency IN ('JPY', 'KWD') GROUP BY currency "
                "ORDER BY currency"
            ),
            ['"JPY",1500,"1500","300","1200","1200"', '"KWD",1234,"1.234","0.005","1.229","1.229"'],
        )


def check_datasets(run):
    """Every column and metric of every dataset; returns the datasets by uuid and the
    placeholders left unfilled."""
    # Superset's datasets and charts (superset/dashboard), placeholders filled in as
    # build_bundle.py does, must run on this engine too: every column (a calculated one by its
    # expression) and metric of each dataset, and each chart's query.
    left = []
    datasets = {}
    for path in sorted((DASHBOARD / "datasets").rglob("*.yaml")):
        spec, unfilled = filled(path)
        left += unfilled
        datasets[spec["uuid"]] = spec
        table = f"{spec['schema']}.{spec['table_name']}"
        columns = ", ".join(column_select(spec, c["column_name"])[0] for c in spec["columns"])
        rows = run.attempt(f"SELECT {columns} FROM {table}")
        if table in NOW_VIEWS and rows == []:
            # The last hour is empty at the real now(); the sample day is not.
            rows = run.attempt(at_instant(f"SELECT {columns} FROM {table}", PINNED_NOW))
        run.check(f"dataset {spec['table_name']}: every column reads", rows if isinstance(rows, str) else len(rows) > 0, True)
        for metric in spec["metrics"]:
            # At the real now() (today's metrics may be empty then) and at an instant of the
            # sample day, where every metric has a value.
            sql = f"SELECT {metric['expression']} FROM {table}"
            now_rows = run.attempt(sql)
            run.check(f"dataset {spec['table_name']}: metric {metric['metric_name']} runs", isinstance(now_rows, list), True)
            value = run.attempt(at_instant(sql, PINNED_NOW))
            run.check(
                f"dataset {spec['table_name']}: metric {metric['metric_name']} computes",
                value if isinstance(value, str) else value not in ([], [""], ["\\N"]),
                True,
            )
    sales_spec = next(d for d in datasets.values() if d["table_name"] == "v_sales_by_window")
    run.check(
        "dataset v_sales_by_window: amount_format is each currency's scale",
        run.attempt(
            lambda: f"SELECT DISTINCT currency, {column_expr(sales_spec, 'amount_format')} AS amount_format "
            "FROM sales.v_sales_by_window ORDER BY currency"
        ),
        ['"EUR","#,##0.00 !"', '"JPY","#,##0 !"', '"KWD","#,##0.000 !"'],
    )
    run.check(
        "dataset v_sales_by_window: business_window_start is the Asia/Kolkata wall clock",
        run.attempt(
            lambda: f"SELECT {column_expr(sales_spec, 'business_window_start')} AS business_window_start "
            "FROM sales.v_sales_by_window WHERE window_start IN (toDateTime(%d), toDateTime(%d)) ORDER BY window_start"
            % (DAY_START, DAY_START + 72000)
        ),
        ['"2026-11-22 05:30:00"', '"2026-11-23 01:30:00"'],
    )
    return datasets, left


def check_kpis(run, datasets):
    # The KPI cards' metrics (EUR, as the Currency filter's default; revenue is net, average
    # order value gross / orders): at 06:00 of the 22nd in Asia/Kolkata, today is the 22nd so far
    # (4 orders, 31.25 gross less the refunds r-2 and r-1: 23.25) and a week earlier is o-9
    # (05:30 there); at 02:30 of the 23rd, today is o-8 less r-7 (their UTC date is the 22nd)
    # and nothing a week earlier.
    sales_spec = next(d for d in datasets.values() if d["table_name"] == "v_sales_by_window")
    kpis = [f"{k}_{when}" for k in ("orders", "revenue", "average_order_value") for when in ("today", "week_earlier")]

    def kpi_sql(at):
        metrics = ", ".join(f"{metric_select(sales_spec, k)[1]} AS `{k}`" for k in kpis)
        return at_instant(f"SELECT {metrics} FROM sales.v_sales_by_window WHERE currency IN ('EUR')", at)

    run.check("KPI metrics at 2026-11-22 06:00 Asia/Kolkata", run.attempt(lambda: kpi_sql(PINNED_NOW)), ["4,1,23.25,4,7.812,4"])
    run.check("KPI metrics at 2026-11-23 02:30 Asia/Kolkata", run.attempt(lambda: kpi_sql(PINNED_NEXT_DAY)), ["1,0,4,0,5,\\N"])


def check_charts(run, datasets, left):
    """Each chart's query as Superset builds it; returns the charts by uuid, the dashboard's
    native filters and where each chart sits."""
    # Native filters: the charts each one applies to (not excluded from its scope), and the
    # condition of its default value (the Currency filter's SUPERSET_DEFAULT_CURRENCY).
    sales, unfilled = filled(DASHBOARD / "dashboards" / "Sales.yaml")
    left += unfilled
    position_uuid = chart_uuids(sales)
    natives = sales["metadata"]["native_filter_configuration"]
    defaults = default_filters(sales)

    # Each chart's query as Superset builds it: calculated columns by their expression, metrics
    # aliased by their names (so a metric that mentions another metric's name must not resolve
    # to that alias), the chart's time grain, its adhoc filters (SQL ones as written), the
    # native filters' defaults in their scope, the chart's ordering and row limit. At the real
    # now() it must run (today's charts may be empty: the sample day is 2026-11-22); with now()
    # pinned to 2026-11-22T00:30:00Z it must return rows.
    charts = {}
    chart_rows = {}
    for path in sorted((DASHBOARD / "charts").glob("*.yaml")):
        chart, unfilled = filled(path)
        left += unfilled
        charts[chart["uuid"]] = chart
        spec = datasets[chart["dataset_uuid"]]
        extra_where = []
        for default in defaults[chart["uuid"]]:
            assert default["op"] == "IN", f"{chart['slice_name']}: default operator {default['op']}"
            extra_where.append(f"{column_expr(spec, default['col'])} IN ({', '.join(quote(v) for v in default['val'])})")
        try:
            sql = chart_query(chart, spec, extra_where)
        except (KeyError, ValueError) as error:  # a chart shape this check does not know
            run.check(f"chart {chart['slice_name']}: its query is built", repr(error), "")
            continue
        rows = run.attempt(sql)
        if "now()" in sql:
            run.check(f"chart {chart['slice_name']}: its query runs", rows if isinstance(rows, str) else True, True)
            rows = run.attempt(at_instant(sql, PINNED_NOW))
            label = "its query returns rows at 2026-11-22T00:30:00Z"
        else:
            label = "its query runs and returns rows"
        run.check(f"chart {chart['slice_name']}: {label}", rows if isinstance(rows, str) else len(rows) > 0, True)
        chart_rows[chart["slice_name"]] = rows
    run.check("every placeholder filled in", sorted(set(left)), [])
    # What two charts show at that instant: every currency at its own scale (outside the
    # Currency filter), and the per-minute axis on Asia/Kolkata's wall clock.
    run.check(
        "chart Today by currency at 2026-11-22T00:30:00Z",
        in_order(chart_rows.get("Today by currency", [])),
        [
            '"EUR","#,##0.00 !",4,23.25,7.812',
            '"JPY","#,##0 !",1,1200,1500',
            '"KWD","#,##0.000 !",1,1.229,1.234',
        ],
    )
    # Every minute of the hour before it, 0 where no order was.
    run.check(
        "chart Orders per minute at 2026-11-22T00:30:00Z",
        in_order(chart_rows.get("Orders per minute", [])),
        [f'"2026-11-22 05:{m:02d}:00","EUR",{2 if m in (30, 31) else 0}' for m in range(60)],
    )
    return charts, natives, position_uuid


def check_filters(run, datasets, charts, natives, position_uuid):
    # Native filters: their values come from their column, and every chart in a filter's scope
    # reads a dataset with that column (Superset silently drops a filter on a missing column).
    for native in natives:
        target = native["targets"][0]
        spec = datasets[target["datasetUuid"]]
        column = target["column"]["name"]
        values = run.attempt(
            lambda: f"SELECT {column_select(spec, column)[0]} FROM {spec['schema']}.{spec['table_name']} "
            f"GROUP BY {column_expr(spec, column)}"
        )
        run.check(
            f"filter {native['name']}: its values come from {spec['table_name']}.{column}",
            values if isinstance(values, str) else len(values) > 0,
            True,
        )
        excluded = {position_uuid[i] for i in native["scope"]["excluded"]}
        lacking = sorted(
            c["slice_name"]
            for u, c in charts.items()
            if u not in excluded
            and column not in {col["column_name"] for col in datasets[c["dataset_uuid"]]["columns"]}
        )
        run.check(f"filter {native['name']}: every chart in its scope has the column {column}", lacking, [])
    # The average sale: 34.5 gross (not the 21.25 net: refunds are not orders) / 5 on the 22nd
    # in EUR.
    run.check(
        "average order value is gross / orders",
        run.attempt(
            f"SELECT {metrics_of(datasets, 'v_sales_by_window')['average_order_value']} FROM sales.v_sales_by_window "
            "WHERE currency = 'EUR' AND day = '2026-11-22'"
        ),
        ["6.9"],
    )


def check_late_events(run, first):
    # The version rule (003_windows.sql): the newest recomputation of a window wins, even when a
    # void lowers `orders`. Each late event below comes after a slower stream-job instance
    # computed the windows without it, and that instance writes its rows after the newer ones.
    # Both land in store-001's first window: o-2 is voided late, then o-1 partly refunded.
    first_window = "WHERE window_start = toDateTime(%d) AND store_id = 'store-001'" % DAY_START
    run.query("CREATE DATABASE scratch")

    def late(name, insert):
        """Inserts a late event, recomputes, then writes the windows as they were before it."""
        run.query(f"CREATE TABLE scratch.{name}_windows ENGINE = Memory AS SELECT * FROM sales.sales_by_window FINAL")
        run.query(f"CREATE TABLE scratch.{name}_products ENGINE = Memory AS SELECT * FROM sales.product_sales_by_window FINAL")
        for sql in insert:
            run.query(sql)
        recompute(run)
        run.query(f"INSERT INTO sales.sales_by_window SELECT * FROM scratch.{name}_windows")
        run.query(f"INSERT INTO sales.product_sales_by_window SELECT * FROM scratch.{name}_products")

    def first_window_rows():
        return (
            run.attempt(
                "SELECT channel, orders, items, gross_minor, refunds_minor, net_minor, version "
                f"FROM sales.sales_by_window FINAL {first_window}"
            ),
            run.attempt(
                "SELECT sku, orders, quantity, gross_minor, refunded_quantity, refunds_minor, net_minor, version "
                f"FROM sales.product_sales_by_window FINAL {first_window} ORDER BY sku"
            ),
        )

    def elsewhere(rows):
        return [row for row in rows if not row.startswith('0,"2026-11-22","store-001",')]

    late("void", [f"INSERT INTO sales.order_voids ({VOID_COLUMNS}) VALUES {void_row(900, 'o-2', 'store-001')}"])
    # o-2 (3 items, 900; Latte 1, Bagel 2) leaves, r-2 stays: the void is one more event, so the
    # window's version goes from 5 to 6, Latte's from 2 to 3 and Bagel's from 1 to 2.
    run.check(
        "late void: the newer rows win over the ones written before the void",
        first_window_rows(),
        (
            ['"in_store",1,2,650,150,500,6'],
            ['"sku-1",1,2,650,0,0,650,3', '"sku-2",0,0,0,0,0,0,2', '"sku-3",0,0,0,0,0,0,2'],
        ),
    )
    run.check(
        "late void: the window's version is higher than before the void",
        run.attempt(
            "SELECT new.version > old.version FROM (SELECT version FROM sales.sales_by_window FINAL "
            f"{first_window}) AS new CROSS JOIN (SELECT version FROM scratch.void_windows {first_window}) AS old"
        ),
        ["1"],
    )
    run.check(
        "late void: the other windows are unchanged",
        [elsewhere(run.attempt(table)) for table in (WINDOW_TABLE, PRODUCT_TABLE)],
        [elsewhere(rows) for rows in first],
    )
    at = DAY_START + 50
    late(
        "refund",
        [
            f"INSERT INTO sales.refund_facts ({REFUND_COLUMNS}) VALUES (toDateTime({at}), {business_day(at)}, 'r-8', "
            f"'o-1', 'store-001', 'in_store', 1, 'EUR', 2, 325, toDateTime({at}))",
            f"INSERT INTO sales.refund_line_facts ({REFUND_LINE_COLUMNS}) VALUES (toDateTime({at}), "
            f"{business_day(at)}, 'r-8', 0, 'store-001', 'EUR', 2, 'sku-1', 1, 325)",
        ],
    )
    run.check(
        "late refund: the newer rows win over the ones written before it",
        first_window_rows(),
        (
            ['"in_store",1,2,650,475,175,7'],
            ['"sku-1",1,2,650,1,325,325,4', '"sku-2",0,0,0,0,0,0,2', '"sku-3",0,0,0,0,0,0,2'],
        ),
    )
    newest = (run.attempt(WINDOW_TABLE), run.attempt(PRODUCT_TABLE))
    # A merge keeps the row FINAL reads (the highest version); recomputing with no new facts
    # writes the same rows at the same versions.
    run.query("OPTIMIZE TABLE sales.sales_by_window FINAL")
    run.query("OPTIMIZE TABLE sales.product_sales_by_window FINAL")
    run.check(
        "merged, the window tables hold the newest rows",
        (run.attempt(WINDOW_TABLE.replace(" FINAL", "")), run.attempt(PRODUCT_TABLE.replace(" FINAL", ""))),
        newest,
    )
    recompute(run)
    run.check("recomputing again after the late events changes nothing", (run.attempt(WINDOW_TABLE), run.attempt(PRODUCT_TABLE)), newest)


def main():
    with tempfile.TemporaryDirectory() as data:
        run = Run(data)
        apply_schema(run)
        insert_sample(run)
        first = check_windows(run)
        check_window_views(run)
        check_daily_views(run)
        datasets, left = check_datasets(run)
        check_kpis(run, datasets)
        charts, natives, position_uuid = check_charts(run, datasets, left)
        check_filters(run, datasets, charts, natives, position_uuid)
        check_late_events(run, first)
        run.check("engine is current ClickHouse", int(run.query("SELECT version()").strip().strip('"').split(".")[0]) >= 24, True)
    failed = 0
    for name, ok, got, expected in run.checks:
        print(("ok     " if ok else "FAILED ") + name)
        if not ok:
            failed += 1
            print(f"  got:      {got!r}\n  expected: {expected!r}")
    print(f"{len(run.checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


RECOMPUTES = recompute_statements()

if __name__ == "__main__":
    sys.exit(main())
