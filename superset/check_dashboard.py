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

import collections
import dataclasses
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
import zoneinfo
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from playwright.sync_api import sync_playwright

from check_import import EXPECTED_CHARTS

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = ROOT / "target"
SCREENSHOT = TARGET / "dashboard.png"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Tall enough that every chart is in view: Superset renders charts below the fold only when
# scrolled to (dashboard virtualization).
VIEWPORT = {"width": 1600, "height": 2200}
# Every chart of the dashboard, as the import check expects them.
CHARTS = sorted(EXPECTED_CHARTS)
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
# JavaScript: the dashboard's holder of the chart titled `title` (undefined when there is none).
CHART_HOLDER = """title => Array.from(document.querySelectorAll('.dashboard-component-chart-holder')).find(h =>
    ((h.querySelector('[data-test=editable-title]') || {}).innerText || '').trim() === title)"""
# The horizontal bar charts, where a negative bar's value label could cover its category's name.
HORIZONTAL_BARS = ["Net revenue by store", "Net revenue by region", "Net revenue by channel"]
# ECharts probes (JavaScript functions of the chart's instance) for Browser.echart: every text
# drawn outside the legend, as [text, x, y, width, height] on the canvas; the value axis' ticks.
TEXT_BOXES = """chart => {
    const box = e => { const r = e.getBoundingRect().clone(); r.applyTransform(e.getComputedTransform()); return r; };
    const legend = chart.getModel().getComponent('legend');
    const skip = legend ? box(chart.getViewOfComponentModel(legend).group) : null;
    return chart.getZr().storage.getDisplayList()
      .filter(e => e.style && typeof e.style.text === 'string' && e.style.text.trim())
      .map(e => [e.style.text, box(e)])
      .filter(([, r]) => !skip || !skip.contain(r.x + r.width / 2, r.y + r.height / 2))
      .map(([text, r]) => [text, r.x, r.y, r.width, r.height]); }"""
VALUE_TICKS = """chart => { const model = chart.getModel();
    const axis = ['yAxis', 'xAxis'].map(a => model.getComponent(a, 0)).find(c => c && c.get('type') === 'value');
    return axis ? axis.axis.scale.getTicks().map(t => t.value) : null; }"""
STORES = [("store-001", "East"), ("store-003", "North"), ("store-005", "South"), ("store-007", "West")]
CHANNELS = ["in_store", "online", "delivery", "takeaway"]
PRODUCTS = [("sku-latte", "Latte"), ("sku-bagel", "Bagel"), ("sku-tea", "Tea")]
# Unit prices per currency and product, at the currency's scale (ISO 4217: EUR and USD 2 digits,
# JPY 0, KWD 3). They differ per currency, so a chart showing the wrong currency shows a wrong sum;
# KWD's end in 0, which a format that drops trailing zeros would lose.
PRICES = {
    "EUR": ["3.50", "2.75", "2.20"],
    "USD": ["3.95", "3.20", "2.65"],
    "JPY": ["1200", "480", "350"],
    "KWD": ["1.250", "0.875", "0.650"],
}
CURRENCIES = list(PRICES)
EXPONENT = {"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3}
DEFAULT_CURRENCY = "EUR"
# Shown on the Net revenue today card with each chosen in the Currency filter.
SCALE_SHOWCASE = ["JPY", "KWD"]
WEEK = dt.timedelta(days=7)
# The shops' zone. Asia/Kolkata (UTC+05:30) unless set: its midnight is never UTC's, so orders
# either side of it show whether "today" is the business day.
ZONE_NAME = os.environ.get("BUSINESS_TIME_ZONE", "Asia/Kolkata")
ZONE = zoneinfo.ZoneInfo(ZONE_NAME)
UTC = dt.timezone.utc


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


def rfc3339(at):
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def window_start(at):
    return at.replace(second=0, microsecond=0)


def wall_clock(at, zone=ZONE):
    """A UTC time (naive, as everywhere here) on the zone's wall clock (naive)."""
    return at.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def business_day(at, zone=ZONE):
    return wall_clock(at, zone).date()


def business_midnight(at, days_back=0, zone=ZONE):
    """The UTC time at which the business day of `at`, or the one `days_back` before it, began."""
    day = business_day(at, zone) - dt.timedelta(days=days_back)
    return dt.datetime.combine(day, dt.time(), zone).astimezone(UTC).replace(tzinfo=None)


def make_orders(now, run):
    """Orders of this run: in the last few minutes, earlier in the hour and the day, either side of
    today's business midnight, and a week earlier (before and after the same time of day, and
    either side of that day's midnight), in every currency, across four stores (four regions) and
    every channel. Times before today's midnight are moved to just after it, so "today" holds what
    the test means by it. Returns the orders and, per (currency, moment), the first order of that
    moment (the refunds and voids pick their sales by it)."""
    midnight = business_midnight(now)
    week_midnight = business_midnight(now, days_back=7)
    just_after = dt.timedelta(seconds=5)
    moments = [(f"recent-{k}", now - dt.timedelta(seconds=20 + 60 * k)) for k in range(5)]  # the last few minutes
    moments += [(f"hour-{m}", now - dt.timedelta(minutes=m)) for m in (25, 45)]  # earlier in the last hour
    moments += [(f"today-{m}", now - dt.timedelta(minutes=m)) for m in (75, 150, 240)]  # earlier today
    moments = [(label, max(m, midnight + just_after)) for label, m in moments]
    # Yesterday's last minutes and today's first: the business day, not the UTC one, decides.
    moments += [("yesterday", midnight - dt.timedelta(minutes=10)), ("midnight", min(midnight + just_after, now))]
    last_week = [(f"week-{m}", max(now - WEEK - dt.timedelta(minutes=m), week_midnight + just_after)) for m in (30, 95)]
    # Later in the day a week earlier (not "up to the same time of day"), and the day before it.
    last_week += [("week-later", now - WEEK + dt.timedelta(minutes=20)), ("week-day-before", week_midnight - dt.timedelta(minutes=10))]
    twice = {label for label, _ in moments[:3]}
    orders = []
    sale = {}
    n = 0
    for currency in CURRENCIES:
        for label, when in moments + last_week:
            for copy in range(2 if label in twice else 1):
                store, _region = STORES[n % len(STORES)]
                sku, name = PRODUCTS[n % len(PRODUCTS)]
                price = Decimal(PRICES[currency][n % len(PRODUCTS)])
                quantity = 1 + n % 3
                total = price * quantity
                orders.append(
                    {
                        "order_id": f"dash-{run}-{n}",
                        "store_id": store,
                        "channel": CHANNELS[n % len(CHANNELS)],
                        "currency": currency,
                        "created_at": rfc3339(when),
                        "items": [{"sku": sku, "name": name, "quantity": quantity, "unit_price": str(price)}],
                        "total": str(total),
                        "payment_method": "card",
                    }
                )
                sale.setdefault((currency, label), orders[-1])
                n += 1
    return orders, sale


def make_refunds(now, run, sale):
    """Refunds and voids of this run, in every currency. Refunds: one item of a sale of the last
    minutes, at its store; part of a sale 25 minutes ago at the next store (then that sale is
    voided: the refund still counts, the sale not); a sale the pipeline never saw (the window has
    refunds only), once at a store that sold nothing and is not in the seed (negative bars); just before today's business midnight (yesterday); and a week earlier before
    and after the same time of day. Returns the refunds and the voids as (order_id, body)."""
    midnight = business_midnight(now)
    week_midnight = business_midnight(now, days_back=7)
    just_after = dt.timedelta(seconds=5)
    refunds = []
    voids = []
    stores = [s for s, _ in STORES]
    bagel_sku, _ = PRODUCTS[1]
    for currency in CURRENCIES:
        recent = sale[(currency, "recent-0")]
        item = recent["items"][0]
        voided = sale[(currency, "hour-25")]
        # (label, sale's order_id, store, time, amount, items)
        plan = [
            ("recent", recent["order_id"], recent["store_id"], max(now - dt.timedelta(seconds=10), midnight + just_after),
             item["unit_price"], [{"sku": item["sku"], "quantity": 1, "amount": item["unit_price"]}]),
            ("other-store", voided["order_id"], stores[(stores.index(voided["store_id"]) + 1) % len(stores)],
             max(now - dt.timedelta(minutes=15), midnight + just_after), PRICES[currency][2], None),
            ("unknown-sale", f"dash-{run}-never-posted-{currency}", stores[3], max(now - dt.timedelta(minutes=35), midnight + just_after),
             PRICES[currency][1], [{"sku": bagel_sku, "quantity": 1, "amount": PRICES[currency][1]}]),
            # At a store the seed does not know and that sold nothing: its store, its region
            # ("unknown") and its channel ("unknown") each draw a negative bar.
            ("unseeded-store", f"dash-{run}-never-posted-b-{currency}", "store-099", max(now - dt.timedelta(minutes=40), midnight + just_after),
             PRICES[currency][1], None),
            ("yesterday", sale[(currency, "yesterday")]["order_id"], sale[(currency, "yesterday")]["store_id"],
             midnight - dt.timedelta(minutes=5), PRICES[currency][0], None),
            ("week", sale[(currency, "week-30")]["order_id"], sale[(currency, "week-30")]["store_id"],
             max(now - WEEK - dt.timedelta(minutes=20), week_midnight + just_after), PRICES[currency][2], None),
            ("week-later", sale[(currency, "week-later")]["order_id"], sale[(currency, "week-later")]["store_id"],
             now - WEEK + dt.timedelta(minutes=25), PRICES[currency][2], None),
        ]
        for label, order_id, store, when, amount, items in plan:
            refund = {
                "refund_id": f"dash-{run}-r-{currency}-{label}",
                "order_id": order_id,
                "store_id": store,
                "currency": currency,
                "created_at": rfc3339(when),
                "amount": amount,
                "reason": "check_dashboard",
            }
            if items:
                refund["items"] = items
            refunds.append(refund)
        voids.append((voided["order_id"], {"store_id": voided["store_id"], "created_at": rfc3339(now), "reason": "rung up by mistake"}))
    return refunds, voids


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


@dataclasses.dataclass(frozen=True)
class Totals:
    """What the dashboard adds up: orders (sales not voided), their gross, and the refunds."""

    orders: int = 0
    gross: Decimal = Decimal(0)
    refunds: Decimal = Decimal(0)

    def __add__(self, other):
        return Totals(self.orders + other.orders, self.gross + other.gross, self.refunds + other.refunds)

    @property
    def net(self):
        return self.gross - self.refunds


@dataclasses.dataclass(frozen=True)
class Event:
    """A sale or a refund as the windows count it: at its own time and currency; a voided sale
    still makes its window's row, with nothing in it. Lines: (sku, name, sold, returned, net)."""

    at: dt.datetime
    currency: str
    totals: Totals
    lines: tuple


def parse_time(text):
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def minor(amount, currency):
    """An amount in the currency's minor units (cents, whole yen, fils)."""
    return int(amount.scaleb(EXPONENT[currency]))


class Expected:
    """What the dashboard must show for the posted sales, refunds and voids, computed from them
    alone (DESIGN.md §3b: a sale counts as gross in its window, a refund as refunds in its own
    window, net = gross - refunds, a voided sale in no total)."""

    def __init__(self, orders, refunds, voided):
        self.events = []
        for o in orders:
            void = o["order_id"] in voided
            lines = tuple(
                (i["sku"], i["name"], 0 if void else i["quantity"], 0, Decimal(0) if void else i["quantity"] * Decimal(i["unit_price"]))
                for i in o["items"]
            )
            totals = Totals() if void else Totals(1, Decimal(o["total"]))
            self.events.append(Event(parse_time(o["created_at"]), o["currency"], totals, lines))
        for r in refunds:
            lines = tuple((i["sku"], "", 0, i["quantity"], -Decimal(i["amount"])) for i in r.get("items", []))
            self.events.append(Event(parse_time(r["created_at"]), r["currency"], Totals(refunds=Decimal(r["amount"])), lines))

    def _today(self, now, currency, zone=ZONE):
        day = business_day(now, zone)
        return [e for e in self.events if e.currency == currency and business_day(e.at, zone) == day and window_start(e.at) <= now]

    def today(self, now, currency, zone=ZONE):
        """Totals of today's business day in `zone`, windows started by `now`."""
        return sum((e.totals for e in self._today(now, currency, zone)), Totals())

    def week_earlier(self, now, currency):
        """The same weekday a week earlier, up to the same time of day on the business clock."""
        day = business_day(now) - WEEK
        until = wall_clock(now).time()
        picked = [
            e.totals
            for e in self.events
            if e.currency == currency and business_day(e.at) == day and wall_clock(window_start(e.at)).time() <= until
        ]
        return sum(picked, Totals())

    def per_minute(self, currency):
        """{window start on the business clock: Totals} of every window that holds anything of
        `currency` (a window of a voided sale or of refunds only too)."""
        series = collections.defaultdict(Totals)
        for e in self.events:
            if e.currency == currency:
                series[wall_clock(window_start(e.at))] += e.totals
        return dict(series)

    def products_today(self, now, currency):
        """{sku: (name, sold, returned, net line revenue)} of today's business day."""
        products = {}
        for e in self._today(now, currency):
            for sku, name, sold, returned, net in e.lines:
                was = products.get(sku, ("", 0, 0, Decimal(0)))
                products[sku] = (was[0] or name, was[1] + sold, was[2] + returned, was[3] + net)
        return products

    def latest_window(self, currency):
        """The newest window's start on the business clock."""
        return wall_clock(max(window_start(e.at) for e in self.events if e.currency == currency))


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


class Browser:
    """A person at Chromium: the page, and every chart-data request the dashboard sends."""

    def __init__(self, playwright, profile, base_url):
        self.base = base_url
        self.context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, viewport=VIEWPORT
        )
        self.page = self.context.new_page()
        self.chart_requests = []
        self.page.on("request", self._record)

    def _record(self, request):
        if request.method == "POST" and "/api/v1/chart/data" in request.url and request.post_data:
            self.chart_requests.append((time.monotonic(), json.loads(request.post_data)))

    def log_in(self, user, password):
        self.page.goto(f"{self.base}/login/")
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.click("[data-test=login-button]")
        self.page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)

    def open_dashboard(self, currency=None):
        """The dashboard, with `currency` chosen in the Currency filter if given (the filter's
        state in the URL, as Superset's permalinks carry it)."""
        self.chart_requests.clear()
        chosen = ""
        if currency:
            chosen = (
                "?native_filters=(NATIVE_FILTER-currency:(id:NATIVE_FILTER-currency,"
                f"extraFormData:(filters:!((col:currency,op:IN,val:!({currency})))),filterState:(value:!({currency}))))"
            )
        self.page.goto(f"{self.base}/superset/dashboard/sales/{chosen}")

    def chart_text(self, title):
        """The text a person reads in a chart, as lines; table rows as lists of their cells."""
        return self.page.evaluate(
            "title => { const h = (" + CHART_HOLDER + ")(title);"
            """
                const body = h && h.querySelector('[data-test=slice-container]');
                if (!body) return null;
                const rows = Array.from(body.querySelectorAll('tbody tr')).map(tr => Array.from(tr.cells).map(td => td.innerText.trim()));
                return rows.length ? rows : body.innerText.split('\\n').map(l => l.trim()).filter(l => l); }""",
            title,
        )

    def echart(self, title, probe):
        """What `probe`, JavaScript source of a function of an ECharts instance, returns for the
        instance that draws the chart `title` (None when there is none). Superset keeps the
        instance in a React ref of the component that renders its element, so it is found by
        walking up that element's React fiber."""
        return self.page.evaluate(
            f"""title => {{
                const h = ({CHART_HOLDER})(title);
                const el = h && h.querySelector('[_echarts_instance_]');
                if (!el) return null;
                let fiber = el[Object.keys(el).find(k => k.startsWith('__reactFiber$'))];
                for (; fiber; fiber = fiber.return) {{
                  for (let hook = fiber.memoizedState; hook && typeof hook === 'object' && 'next' in hook; hook = hook.next) {{
                    const ref = hook.memoizedState;
                    if (ref && ref.current && typeof ref.current.getOption === 'function') return ({probe})(ref.current);
                  }}
                }}
                return null; }}""",
            title,
        )

    def chart_states(self):
        """Per chart title: rendered, failed or loading, from what the page shows."""
        return self.page.evaluate(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('.dashboard-component-chart-holder')).map(h => {
                const title = (h.querySelector('[data-test=editable-title]') || {}).innerText || '';
                const body = h.querySelector('[data-test=slice-container]');
                let state = 'loading';
                // A Handlebars chart shows a template's error in a <pre> instead of its output.
                if ((h.querySelector('.ant-alert-error, [role=alert]') && /error/i.test(h.innerText)) ||
                    (body && body.querySelector('.handlebars pre'))) state = 'failed';
                else if (body && !h.querySelector('[data-test=loading-indicator], .loading') &&
                         (body.querySelector('canvas, svg, table') || /\\d/.test(body.innerText))) state = 'rendered';
                return [title.trim(), state];
            }))"""
        )

    def wait_rendered(self, timeout=120):
        deadline = time.monotonic() + timeout
        states = {}
        while time.monotonic() < deadline:
            states = self.chart_states()
            if set(CHARTS) <= set(states) and all(states[c] == "rendered" for c in CHARTS):
                # Let the charts' animations finish before anyone looks.
                self.page.wait_for_timeout(1500)
                return states
            if any(s == "failed" for s in states.values()):
                return states
            self.page.wait_for_timeout(500)
        return states

    def scroll_bars(self):
        """Elements inside charts whose content overflows a scrollable box: a visible scroll bar."""
        return self.page.evaluate(
            """() => { const found = [];
                document.querySelectorAll('.dashboard-component-chart-holder').forEach(h => {
                  const title = ((h.querySelector('[data-test=editable-title]') || {}).innerText || '').trim();
                  [h, ...h.querySelectorAll('*')].forEach(e => {
                    const s = getComputedStyle(e);
                    const y = ['auto', 'scroll'].includes(s.overflowY) && e.scrollHeight > e.clientHeight + 1;
                    const x = ['auto', 'scroll'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
                    if (x || y) found.push(title);
                  });
                });
                return [...new Set(found)]; }"""
        )

    def csrf_token(self):
        return self.page.evaluate("() => fetch('/api/v1/security/csrf_token/').then(r => r.json()).then(j => j.result)")

    def chart_data(self, body, csrf):
        """POST a chart-data query as the logged-in user: the browser's cookies and CSRF token."""
        response = self.context.request.post(
            f"{self.base}/api/v1/chart/data",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf, "Referer": f"{self.base}/superset/dashboard/sales/"},
        )
        return response.status, (response.json() if response.ok else response.text())

    def close(self):
        self.context.close()


def overlap(a, b, gap=3.0):
    """Whether two [text, x, y, width, height] boxes run into each other: they share more than a
    pixel of height and stand less than `gap` px apart side by side (or cover each other)."""
    return (
        min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]) > -gap
        and min(a[2] + a[4], b[2] + b[4]) - max(a[2], b[2]) > 1.0
    )


def slice_names(browser):
    """chart id -> chart name, from Superset's chart list as the logged-in user sees it."""
    query = "(columns:!(id,slice_name),page_size:100)"
    response = browser.context.request.get(f"{browser.base}/api/v1/chart/?q={query}")
    return {c["id"]: c["slice_name"] for c in response.json()["result"]}


def latest_bodies(requests, names, since=0.0):
    """The last chart-data body each chart sent after `since` (filter-value queries have no chart)."""
    bodies = {}
    for at, body in requests:
        chart = body.get("form_data", {}).get("slice_id")
        if at >= since and chart in names:
            bodies[names[chart]] = body
    return bodies


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
    log("logging in through the login form")
    browser.log_in(*pipeline.admin)
    checks.check("the login form logs the user in", "/login" not in browser.page.url, browser.page.url)
    names = {k: v for k, v in slice_names(browser).items() if v in CHARTS}
    checks.equal("the dashboard's charts exist", sorted(names.values()), sorted(CHARTS))

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

    # The dashboard's 10-second auto-refresh: its requests must not bypass the cache.
    refresh_from = time.monotonic()
    browser.page.wait_for_timeout(13_000)
    refreshed = latest_bodies(browser.chart_requests, names, since=refresh_from)
    checks.check("the dashboard refreshes itself within 13 s", len(refreshed) >= len(CHARTS) - 1, f"refreshed {sorted(refreshed)}")
    checks.equal("the auto-refresh reads through Superset's cache (force=false)", sorted({b.get("force", False) for b in refreshed.values()}), [False])

    csrf = browser.csrf_token()
    now = dt.datetime.now(UTC).replace(tzinfo=None)
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

    today = {c: expected.today(now, c) for c in CURRENCIES}
    week = {c: expected.week_earlier(now, c) for c in CURRENCIES}
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

    check_saved_queries(checks, browser, names, loaded, replies)
    check_freshness(checks, browser, expected)
    check_scales(checks, browser, today, week)


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
        f"minutes: store-099 (unknown), last event " in silent and not any(n in silent for n in ACTIVE_STORE_NAMES),
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
