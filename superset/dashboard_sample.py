"""The events superset/check_dashboard.py posts, and what the dashboard must show for them,
computed from those events alone: sales, refunds and voids in four currencies across four stores
and every channel, placed around the business day's midnight and a week earlier."""

import collections
import dataclasses
import datetime as dt
import os
import zoneinfo
from decimal import Decimal

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
