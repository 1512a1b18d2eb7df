"""The sales dashboard, seen: a browser test of the whole path from a till to a person's screen.

It starts the pipeline with Superset on Apache Kafka and Cassandra (`scripts/run-local` on free ports, a fresh
Superset home, RUN_LOCAL_PROFILE=debug unless set, BUSINESS_TIME_ZONE=Asia/Kolkata unless set),
posts orders in EUR, USD, JPY and KWD to ingest-api across four stores in four regions and every
channel — in the last few minutes, earlier today, either side of the business day's midnight, and
on the same weekday a week earlier — then refunds in every currency (of a recent sale, at another
store than the sale's, of a sale the pipeline never saw, just before today's business midnight,
and a week earlier before and after the same time of day) and a void per currency (of a sale with
a refund, which still counts), and drives Debian's Chromium (headless, through Playwright) as a
person would: logs in through Superset's login form, opens the dashboard, waits until every chart
has rendered, and saves a full-page screenshot to target/dashboard.png (and the chart-data requests
the dashboard sent to target/dashboard-requests.json).

Then it asks Superset's own chart-data API, as that logged-in user (the browser's session cookie
and the CSRF token the page fetches), the very queries the dashboard sent, and checks that every
chart returns data, the per-minute charts include the last minutes, no chart adds two currencies
together, today's orders, net revenue (gross - refunds, voided sales left out), average order
value (gross / orders), refunds and refund rate per currency (and a week earlier) equal what it
posted on the business day in BUSINESS_TIME_ZONE (the events either side of its midnight tell it
from the UTC day), net revenue, orders and refunds per minute (every minute up to the current one,
0 where nothing happened) and the top products equal it too, no text on the drawn ECharts charts
runs into another (a negative bar's value and its name; time labels), Orders per minute's ticks are
whole numbers, each chart's saved query context is the query the dashboard sends on opening and
`GET /api/v1/chart/{id}/data/` answers it with the dashboard's figures,
the 10-second auto-refresh reads through Superset's cache instead of forcing fresh queries, and no
chart shows a scroll bar. Last, it reads the page as a person does: every amount at its currency's
scale (JPY without decimals, KWD with three, EUR with two) in the Today by currency table, and on
the Net revenue today card with JPY and then KWD chosen in the Currency filter, and the Refund rate
today card's rate and amounts. Closes with `N passed, M failed`; exit status 0 when all pass.

usage: target/superset-venv/bin/python superset/check_dashboard.py
"""

import datetime as dt
import itertools
import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from playwright.sync_api import sync_playwright

from dashboard_browser import CHARTS, TEXT_BOXES, VALUE_TICKS, Browser, latest_bodies, overlap, slice_names
from dashboard_sample import (
    CURRENCIES,
    DEFAULT_CURRENCY,
    EXPONENT,
    SCALE_SHOWCASE,
    UTC,
    ZONE_NAME,
    Expected,
    Totals,
    business_midnight,
    make_orders,
    make_refunds,
    minor,
    wall_clock,
    window_start,
)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = ROOT / "target"
SCREENSHOT = TARGET / "dashboard.png"
# Per-minute chart: what it shows of a minute's totals (a Totals below).
PER_MINUTE = {
    "Net revenue per minute": lambda t: t.net,
    "Orders per minute": lambda t: t.orders,
    "Refunds per minute": lambda t: t.refunds,
}
# Charts without amounts: no currency to keep apart, and figures that change by the second.
NO_MONEY = {"Data freshness"}
# After how many minutes without an event the Data freshness strip lists a store: the refund at
# store-099, 40 minutes ago and its only event, is past it; every other store sold in the last
# minutes.
SILENT_MINUTES = 30
ACTIVE_STORE_NAMES = ["Alexanderplatz", "Altona", "Marienplatz", "Dom"]
# The horizontal bar charts, where a negative bar's value label could cover its category's name.
HORIZONTAL_BARS = ["Net revenue by store", "Net revenue by region", "Net revenue by channel"]
def log(message):
    print(f"==> {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Pipeline:
    """scripts/run-local in its own process group, on free ports, with a throw-away Superset home."""

    def __init__(self, workdir):
        self.ingest = f"127.0.0.1:{free_port()}"
        self.superset_port = free_port()
        self.api_key = f"check-dashboard-{secrets.token_hex(8)}"
        self.admin = ("admin", secrets.token_urlsafe(12))
        self.log_path = TARGET / "check-dashboard-run-local.log"
        env = dict(os.environ)
        env.update(
            RUN_LOCAL_PROFILE=os.environ.get("RUN_LOCAL_PROFILE", "debug"),
            INGEST_LISTEN_ADDR=self.ingest,
            INGEST_API_KEYS=self.api_key,
            # Orders of the same weekday a week earlier, and of the business day before it, are
            # older than the default 7-day limit (up to 8 days and some minutes).
            INGEST_MAX_AGE_SECS=str(9 * 86400),
            STREAM_JOB_ADMIN_ADDR=f"127.0.0.1:{free_port()}",
            # The run's Kafka and Cassandra (exported by the test command) with a topic and a
            # keyspace of this check's own; run-local starts both itself when they are not set.
            KAFKA_TOPIC=f"Order-dashboard-{secrets.token_hex(6)}",
            CASSANDRA_KEYSPACE=f"sales_dashboard_{secrets.token_hex(6)}",
            SERVING_LISTEN_ADDR=f"127.0.0.1:{free_port()}",
            SUPERSET_PORT=str(self.superset_port),
            SUPERSET_HOME=str(pathlib.Path(workdir) / "superset-home"),
            SUPERSET_ADMIN_USER=self.admin[0],
            SUPERSET_ADMIN_PASSWORD=self.admin[1],
            SUPERSET_SECRET_KEY=secrets.token_urlsafe(32),
            SUPERSET_DEFAULT_CURRENCY=DEFAULT_CURRENCY,
            BUSINESS_TIME_ZONE=ZONE_NAME,
            SUPERSET_SILENT_STORE_MINUTES=str(SILENT_MINUTES),
        )
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "run-local")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def superset_url(self):
        return f"http://127.0.0.1:{self.superset_port}"

    @property
    def ingest_url(self):
        return f"http://{self.ingest}"

    def wait_ready(self, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"scripts/run-local exited with {self.process.returncode}; see {self.log_path}")
            if http_ok(f"{self.superset_url}/health") and http_ok(f"{self.ingest_url}/ready"):
                return
            time.sleep(1)
        raise RuntimeError(f"the pipeline was not ready within {timeout} s; see {self.log_path}")

    def stop(self):
        """SIGTERM to the whole process group, then wait until every member has gone (SIGKILL
        after 30 s), so nothing of this run outlives the test."""
        group = self.process.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 30
        while True:
            self.process.poll()
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                os.killpg(group, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.2)
        self.process.wait()
        self.log_file.close()


def post_json(url, api_key, body):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.load(response)


def post_batch(ingest_url, api_key, path, elements):
    """POST a batch; (how many were accepted, the results of those that were not)."""
    _status, reply = post_json(f"{ingest_url}{path}", api_key, elements)
    return reply["accepted"], [r for r in reply["results"] if r["status"] != "accepted"]


class Checks:
    def __init__(self):
        self.results = []

    def check(self, name, ok, detail=""):
        self.results.append((name, bool(ok)))
        print(("ok     " if ok else "FAILED ") + name + ("" if ok or not detail else f"\n  {detail}"), flush=True)

    def equal(self, name, got, expected):
        self.check(name, got == expected, f"got {got!r}\n  expected {expected!r}")

    def summary(self):
        failed = sum(1 for _, ok in self.results if not ok)
        print(f"{len(self.results) - failed} passed, {failed} failed")
        return 1 if failed else 0


def money(value):
    """An amount from a chart-data answer (a float) as the exact decimal it stands for: every
    currency has at most three digits after the point."""
    return Decimal(str(value)).quantize(Decimal("0.001"))


def shown(amount, currency):
    """An amount as the dashboard must show it: thousands grouped, the currency's own decimals."""
    return f"{amount:,.{EXPONENT[currency]}f}"


def average_order_value(totals):
    """Gross / orders as ClickHouse divides a Decimal(38, 3) by a count: three digits, truncated."""
    return (totals.gross / totals.orders).quantize(Decimal("0.001"), rounding=ROUND_DOWN) if totals.orders else None


def refund_rate(totals, currency):
    """Refunds / gross as the dashboard computes it: a Float64 of the two sums in minor units
    (both correctly rounded divisions of the same integers, so equal to the last bit)."""
    gross = minor(totals.gross, currency)
    return minor(totals.refunds, currency) / gross if gross else None


def fixed(value, digits, sign=False):
    """A float as the Handlebars cards print it (sprintf-js, JavaScript's toFixed: the exact
    binary value, ties away from zero)."""
    text = str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))
    return "+" + text if sign and not text.startswith("-") else text


# The KPI cards: the metric's name, and what it must equal for a day's totals in a currency.
KPI = {
    "Net revenue today": ("revenue", lambda t, c: money(t.net)),
    "Orders today": ("orders", lambda t, c: t.orders),
    "Average order value today": ("average_order_value", lambda t, c: average_order_value(t)),
    "Refund rate today": ("refund_rate", refund_rate),
}


def with_currency(body, currency):
    """The same chart query with the dashboard's Currency filter set to another currency."""
    body = json.loads(json.dumps(body))
    body.pop("force", None)
    for query in body["queries"]:
        for flt in query.get("filters", []):
            if flt.get("col") == "currency":
                flt["val"] = [currency]
    return body


def currency_safe(query):
    """A query never adds currencies when it groups by currency or filters to exactly one."""
    names = [c if isinstance(c, str) else c.get("sqlExpression") or c.get("label") for c in query.get("columns", [])]
    if "currency" in names:
        return True
    return any(f.get("col") == "currency" and f.get("op") in ("IN", "==") and len(f.get("val") or []) == 1 for f in query.get("filters", []))


def timeseries_points(result, currency):
    """{window start: value} of one currency's series in a pivoted timeseries result; the x axis
    is the business clock (business_window_start), whose digits arrive as if UTC."""
    points = {}
    for row in result["data"]:
        stamp = dt.datetime.fromtimestamp(row["business_window_start"] / 1000, UTC).replace(tzinfo=None)
        for key, value in row.items():
            if key != "business_window_start" and currency in key and value is not None:
                points[stamp] = value
    return points


def main():
    checks = Checks()
    TARGET.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="check-dashboard-") as workdir:
        started = time.monotonic()
        log("starting the pipeline and Superset (scripts/run-local)")
        pipeline = Pipeline(workdir)
        try:
            pipeline.wait_ready()
            log(f"ready after {time.monotonic() - started:.0f} s; posting orders, refunds and voids")
            now = dt.datetime.now(UTC).replace(tzinfo=None, microsecond=0)
            run = uuid.uuid4().hex[:10]
            orders, sale = make_orders(now, run)
            refunds, voids = make_refunds(now, run, sale)
            # Sales first: a refund and a void are keyed by their sale's order_id, so they follow it
            # in its partition.
            accepted, refused = post_batch(pipeline.ingest_url, pipeline.api_key, "/v1/orders/batch", orders)
            checks.equal("ingest-api accepts every posted order", (accepted, refused), (len(orders), []))
            accepted, refused = post_batch(pipeline.ingest_url, pipeline.api_key, "/v1/refunds/batch", refunds)
            checks.equal("ingest-api accepts every posted refund", (accepted, refused), (len(refunds), []))
            answers = [post_json(f"{pipeline.ingest_url}/v1/orders/{order_id}/void", pipeline.api_key, body) for order_id, body in voids]
            checks.equal("ingest-api accepts every void (202)", [(s, r["status"]) for s, r in answers], [(202, "accepted")] * len(voids))
            expected = Expected(orders, refunds, {order_id for order_id, _ in voids})
            with sync_playwright() as playwright:
                browser = Browser(playwright, str(pathlib.Path(workdir) / "chromium-profile"), pipeline.superset_url)
                try:
                    run_browser_checks(checks, browser, pipeline, expected)
                finally:
                    browser.close()
        except Exception as error:  # a broken run is a failed check, with what broke
            checks.check("the run completes", False, f"{type(error).__name__}: {error}")
        finally:
            pipeline.stop()
        log(f"done in {time.monotonic() - started:.0f} s")
    return checks.summary()


def run_browser_checks(checks, browser, pipeline, expected):
    names = log_in(checks, browser, pipeline)
    wait_for_the_posted_events(checks, browser, names, expected)
    loaded = look_as_a_person(checks, browser, names)
    check_drawn_text(checks, browser)
    check_auto_refresh(checks, browser, names)
    csrf = browser.csrf_token()
    now = dt.datetime.now(UTC).replace(tzinfo=None)
    replies = ask_every_chart(checks, browser, loaded, csrf)
    today = {c: expected.today(now, c) for c in CURRENCIES}
    week = {c: expected.week_earlier(now, c) for c in CURRENCIES}
    check_today_table(checks, replies, expected, today, now)
    check_kpi_cards(checks, browser, loaded, csrf, today, week)
    check_top_products(checks, replies, expected, now)
    check_per_minute(checks, browser, loaded, replies, csrf, expected)
    check_saved_queries(checks, browser, names, loaded, replies)
    check_freshness(checks, browser, expected)
    check_scales(checks, browser, today, week)


def log_in(checks, browser, pipeline):
    """Logs in through the form; the dashboard's chart names by chart id."""
    log("logging in through the login form")
    browser.log_in(*pipeline.admin)
    checks.check("the login form logs the user in", "/login" not in browser.page.url, browser.page.url)
    names = {k: v for k, v in slice_names(browser).items() if v in CHARTS}
    checks.equal("the dashboard's charts exist", sorted(names.values()), sorted(CHARTS))

    return names


def wait_for_the_posted_events(checks, browser, names, expected):
    log("opening the dashboard; waiting for the posted orders, refunds and voids to arrive")
    browser.open_dashboard()
    browser.wait_rendered()
    csrf = browser.csrf_token()
    deadline = time.monotonic() + 120
    arrived = False
    while time.monotonic() < deadline and not arrived:
        body = latest_bodies(browser.chart_requests, names).get("Today by currency")
        if body:
            status, reply = browser.chart_data(dict(body, force=True), csrf)
            if status == 200:
                rows = reply["result"][0]["data"]
                now = dt.datetime.now(UTC).replace(tzinfo=None)
                got = {r["currency"]: (r["orders"], money(r["revenue"])) for r in rows}
                want = {c: (t.orders, money(t.net)) for c, t in ((c, expected.today(now, c)) for c in CURRENCIES)}
                arrived = all(got.get(c) == want[c] for c in CURRENCIES)
        if not arrived:
            time.sleep(2)
    checks.check("the posted orders, refunds and voids reach the dashboard's data within 2 minutes", arrived)



def look_as_a_person(checks, browser, names):
    """The dashboard reloaded, rendered and photographed; the chart-data body each chart sent."""
    log("reloading the dashboard as a person would see it")
    browser.open_dashboard()
    states = browser.wait_rendered()
    checks.equal("every chart renders", {c: states.get(c) for c in CHARTS}, {c: "rendered" for c in CHARTS})
    browser.page.screenshot(path=str(SCREENSHOT), full_page=True)
    log(f"screenshot: {SCREENSHOT}")
    checks.equal("no chart shows a scroll bar", browser.scroll_bars(), [])
    loaded = latest_bodies(browser.chart_requests, names)
    checks.equal("every chart asked Superset for its data", sorted(loaded), sorted(CHARTS))
    (TARGET / "dashboard-requests.json").write_text(json.dumps(loaded, indent=1, sort_keys=True))

    return loaded


def check_drawn_text(checks, browser):
    # What a person reads on the drawn charts (the default currency).
    for name in [*PER_MINUTE, *HORIZONTAL_BARS]:
        boxes = browser.echart(name, TEXT_BOXES) or []
        if name in HORIZONTAL_BARS:
            negative = [b[0] for b in boxes if b[0].startswith(("-", "\u2212"))]
            checks.check(f"{name}: draws a negative bar's value", bool(negative), str([b[0] for b in boxes]))
        checks.check(f"{name}: draws its labels", len(boxes) > 3, str(boxes))
        checks.equal(
            f"{name}: no text runs into another (axis labels; a negative bar's value and its name)",
            [(a[0], b[0]) for a, b in itertools.combinations(boxes, 2) if overlap(a, b)],
            [],
        )
    ticks = browser.echart("Orders per minute", VALUE_TICKS)
    checks.check("Orders per minute: the count axis has whole-number ticks only", bool(ticks) and all(float(t).is_integer() for t in ticks), str(ticks))



def check_auto_refresh(checks, browser, names):
    # The dashboard's 10-second auto-refresh: its requests must not bypass the cache.
    refresh_from = time.monotonic()
    browser.page.wait_for_timeout(13_000)
    refreshed = latest_bodies(browser.chart_requests, names, since=refresh_from)
    checks.check("the dashboard refreshes itself within 13 s", len(refreshed) >= len(CHARTS) - 1, f"refreshed {sorted(refreshed)}")
    checks.equal("the auto-refresh reads through Superset's cache (force=false)", sorted({b.get("force", False) for b in refreshed.values()}), [False])



def ask_every_chart(checks, browser, loaded, csrf):
    """Each chart's own query asked again as the user; its reply (None when it failed)."""
    replies = {}
    for name in CHARTS:
        status, reply = browser.chart_data(loaded[name], csrf)
        replies[name] = reply if status == 200 else None
        results = reply["result"] if status == 200 else []
        checks.check(f"{name}: returns data", status == 200 and results and all(r.get("data") for r in results), f"HTTP {status}: {str(reply)[:300]}")
    for name in sorted(set(CHARTS) - NO_MONEY):
        queries = loaded[name]["queries"]
        checks.check(f"{name}: never adds two currencies (grouped by or filtered to one)", all(currency_safe(q) for q in queries), json.dumps(queries)[:400])

    # A second viewer within 10 s gets the first one's result from the cache.
    status, again = browser.chart_data(loaded["Net revenue by store"], csrf)
    checks.check("a second viewer's identical query is served from Superset's cache", status == 200 and again["result"][0].get("is_cached"), str(again)[:200])

    return replies


def check_today_table(checks, replies, expected, today, now):
    log("today as posted: " + "; ".join(f"{c} {t.orders} orders, {t.gross} - {t.refunds} = {t.net}" for c, t in today.items()))
    if business_midnight(now) != business_midnight(now, zone=UTC):
        utc_day = {c: expected.today(now, c, zone=UTC) for c in CURRENCIES}
        checks.check(f"the posted events tell today's business day ({ZONE_NAME}) from the UTC day", today != utc_day, f"both {today}")
    table = replies["Today by currency"]
    if table:
        data = table["result"][0]["data"]
        rows = {r["currency"]: (r["orders"], money(r["revenue"]), money(r["average_order_value"])) for r in data}
        checks.equal(
            "Today by currency: orders, net revenue (gross - refunds, voided sales left out) and average order value "
            f"(gross / orders) per currency equal what was posted on today's business day ({ZONE_NAME})",
            rows,
            {c: (t.orders, money(t.net), average_order_value(t)) for c, t in today.items()},
        )
        formats = {r["currency"]: r["amount_format"] for r in data}
        checks.equal(
            "Today by currency: each currency's amounts are formatted at its ISO 4217 scale (amount_format)",
            formats,
            {c: "#,##0" + ("." + "0" * EXPONENT[c] if EXPONENT[c] else "") + " !" for c in CURRENCIES},
        )



def check_kpi_cards(checks, browser, loaded, csrf, today, week):
    for name, (metric, want_of) in KPI.items():
        for currency in CURRENCIES:
            body = loaded[name] if currency == DEFAULT_CURRENCY else with_currency(loaded[name], currency)
            status, reply = browser.chart_data(body, csrf)
            if status != 200:
                checks.check(f"{name} ({currency}): answers", False, str(reply)[:300])
                continue
            data = reply["result"][0]["data"]
            row = data[0] if data else {}
            got, got_prev = row.get(f"{metric}_today"), row.get(f"{metric}_week_earlier")
            if metric in ("revenue", "average_order_value"):
                got, got_prev = (None if v is None else money(v) for v in (got, got_prev))
            checks.equal(f"{name} ({currency}): today equals what was posted", got, want_of(today[currency], currency))
            checks.equal(
                f"{name} ({currency}): the same weekday a week earlier, up to the same time of day, equals what was posted",
                got_prev,
                want_of(week[currency], currency),
            )
            if metric == "refund_rate":
                checks.equal(
                    f"{name} ({currency}): today's refunds and gross sales equal what was posted",
                    (money(row.get("refunds_today") or 0), money(row.get("gross_today") or 0)),
                    (money(today[currency].refunds), money(today[currency].gross)),
                )



def check_top_products(checks, replies, expected, now):
    products = replies["Top products today"]
    if products:
        got = {
            r["sku"]: (r["product_name"], r["quantity"], r["refunded_quantity"], money(r["revenue"]))
            for r in products["result"][0]["data"]
            if r["currency"] == DEFAULT_CURRENCY
        }
        want = {sku: (name, sold, returned, money(net)) for sku, (name, sold, returned, net) in expected.products_today(now, DEFAULT_CURRENCY).items()}
        checks.equal(
            f"Top products today ({DEFAULT_CURRENCY}): each product's name, quantity sold and returned, and net line revenue equal what was posted",
            got,
            want,
        )



def check_per_minute(checks, browser, loaded, replies, csrf, expected):
    for name, value in PER_MINUTE.items():
        counts = name == "Orders per minute"
        for currency in CURRENCIES:
            reply = replies[name]
            if currency != DEFAULT_CURRENCY:
                status, reply = browser.chart_data(with_currency(loaded[name], currency), csrf)
                reply = reply if status == 200 else None
            if not reply:
                checks.check(f"{name} ({currency}): answers", False)
                continue
            points = timeseries_points(reply["result"][0], currency)
            asked = dt.datetime.now(UTC).replace(tzinfo=None)
            minutes = sorted(points)
            # The axis runs to the current minute (the one the query ran in, or the one before it
            # when a minute began while it ran), an hour of minutes with none missing.
            current = {wall_clock(window_start(asked - dt.timedelta(seconds=s))) for s in (0, 20)}
            checks.check(
                f"{name} ({currency}): the time axis ends at the current minute",
                bool(minutes) and minutes[-1] in current,
                f"last point {minutes[-1] if minutes else None}, now {sorted(current)}",
            )
            steps = {b - a for a, b in zip(minutes, minutes[1:])}
            checks.check(
                f"{name} ({currency}): every minute of the last hour has a point (quiet minutes too)",
                len(minutes) >= 59 and steps == {dt.timedelta(minutes=1)},
                f"{len(minutes)} points, steps {sorted(steps)}",
            )
            series = expected.per_minute(currency)
            latest = expected.latest_window(currency)
            checks.check(
                f"{name} ({currency}): includes the last posted minute (the window of {latest:%H:%M})",
                latest in points,
                f"points from {minutes[0] if minutes else None} to {minutes[-1] if minutes else None}",
            )
            got = {k: (v if counts else money(v)) for k, v in points.items()}
            want = {k: (value(series.get(k, Totals())) if counts else money(value(series.get(k, Totals())))) for k in points}
            checks.equal(f"{name} ({currency}): every minute of the last hour equals what was posted, 0 where nothing was (on the {ZONE_NAME} clock)", got, want)
            checks.check(
                f"{name} ({currency}): shows a quiet minute as 0",
                any(v == 0 for v in got.values()),
                str(sorted(got.items())[:5]),
            )


def check_freshness(checks, browser, expected):
    """The Data freshness strip as a person reads it: the newest event posted, on the business
    clock, and the store that stopped sending listed as silent, the stores still selling not."""
    newest = wall_clock(max(e.at for e in expected.events)).strftime("%Y-%m-%d %H:%M:%S")
    browser.wait_rendered()
    lines = browser.chart_text("Data freshness") or []
    text = "\n".join(lines)
    checks.check(f"Data freshness shows the newest event posted ({newest}, {ZONE_NAME})", f"Data as of {newest} (" in text, text)
    silent = next((line for line in lines if line.startswith("Stores silent for")), "")
    checks.check(
        f"Data freshness lists store-099, silent for {SILENT_MINUTES}+ minutes, and no store that sold in the last minutes",
        "minutes: store-099 (unknown), last event " in silent and not any(n in silent for n in ACTIVE_STORE_NAMES),
        text,
    )


def check_saved_queries(checks, browser, names, loaded, replies):
    """Each chart's saved query context (what the API's export, cache warm-up, and alerts and
    reports run): it is the query the dashboard sends on opening (the Currency filter at its
    default), and Superset's `GET /api/v1/chart/{id}/data/` answers it with the figures the
    dashboard shows."""
    ids = {name: chart_id for chart_id, name in names.items()}
    for name in CHARTS:
        response = browser.context.request.get(f"{browser.base}/api/v1/chart/{ids[name]}")
        saved = json.loads(response.json()["result"].get("query_context") or "null") if response.ok else None
        checks.equal(
            f"{name}: its saved query context is the query the dashboard sends on opening",
            (saved or {}).get("queries", [None])[0],
            loaded[name]["queries"][0],
        )
        response = browser.context.request.get(f"{browser.base}/api/v1/chart/{ids[name]}/data/")
        exported = response.json() if response.ok else None
        checks.check(f"{name}: GET /api/v1/chart/{{id}}/data/ answers with data", bool(exported and exported["result"][0]["data"]), f"HTTP {response.status}: {response.text()[:300]}")
        if not exported or not replies[name] or name in NO_MONEY:
            continue
        got = {c: figures(exported, c) for c in CURRENCIES}
        want = {c: figures(replies[name], c) for c in CURRENCIES}
        for c in CURRENCIES:
            if isinstance(want[c], dict):
                # A per-minute chart: the two queries ran moments apart, so compare the minutes both hold.
                common = set(got[c]) & set(want[c])
                got[c], want[c] = {k: got[c][k] for k in common}, {k: want[c][k] for k in common}
        checks.equal(f"{name}: the exported data holds the figures the dashboard shows", got, want)


def figures(reply, currency):
    """One currency's figures in a chart-data reply: its rows (cards and tables, grouped by
    currency) as sorted JSON, or its series as {x: value} (timeseries, pivoted by currency)."""
    data = reply["result"][0]["data"]
    if data and "currency" in data[0]:
        return sorted(json.dumps(r, sort_keys=True) for r in data if r["currency"] == currency)
    return {json.dumps(x): r[currency] for r in data for x in [next(v for k, v in r.items() if k not in CURRENCIES)] if r.get(currency) is not None}


def check_scales(checks, browser, today, week):
    """What a person reads: every amount at its currency's scale, in the table of all currencies
    and on the Net revenue today card with a zero- and a three-decimal currency chosen; and the
    Refund rate today card of the default currency."""
    want = {c: shown(today[c].net, c) for c in CURRENCIES}
    got = settled(browser, lambda: {r[0]: r[2] for r in browser.chart_text("Today by currency") or [] if len(r) >= 3}, want)
    checks.equal("Today by currency shows each net revenue at its currency's scale (JPY no decimals, KWD three, EUR two)", got, want)
    currency = DEFAULT_CURRENCY
    rate, rate_before = refund_rate(today[currency], currency), refund_rate(week[currency], currency)
    want = [
        f"{fixed(rate * 100, 1)}%",
        f"{shown(today[currency].refunds, currency)} {currency} refunded of {shown(today[currency].gross, currency)} {currency} sold",
        f"vs. same weekday last week: {fixed(rate_before * 100, 1)}% {fixed((rate - rate_before) * 100, 1, sign=True)} pp",
    ]
    got = settled(browser, lambda: browser.chart_text("Refund rate today"), want)
    checks.equal(f"Refund rate today ({currency}) reads the rate, the refunds and gross sales at the currency's scale, and last week's rate", got, want)
    for currency in SCALE_SHOWCASE:
        log(f"choosing {currency} in the Currency filter")
        browser.open_dashboard(currency)
        want = f"{shown(today[currency].net, currency)} {currency}"
        got = settled(browser, lambda: (browser.chart_text("Net revenue today") or [None])[0], want)
        checks.equal(f"Net revenue today with {currency} chosen shows {currency} at its scale", got, want)


def settled(browser, read, want, timeout=20):
    """What `read` finds on the page once it equals `want`, or at `timeout`: the page re-renders
    its charts as it loads and on every 10-second refresh."""
    deadline = time.monotonic() + timeout
    browser.wait_rendered()
    got = read()
    while got != want and time.monotonic() < deadline:
        browser.page.wait_for_timeout(500)
        got = read()
    return got


if __name__ == "__main__":
    sys.exit(main())
