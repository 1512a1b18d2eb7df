"""Zips the dashboard-as-code directory into the bundle Superset imports, filling in what comes
from the environment: the ClickHouse connection (the committed files carry no password), the
default of the dashboard's Currency filter, and the business time zone whose day is "today".

usage: build_bundle.py DASHBOARD_DIR OUTPUT_ZIP

Environment: CLICKHOUSE_HOST (clickhouse), CLICKHOUSE_HTTP_PORT (8123), CLICKHOUSE_USER (default),
CLICKHOUSE_PASSWORD (empty), SUPERSET_DEFAULT_CURRENCY (EUR; an ISO 4217 code),
BUSINESS_TIME_ZONE (UTC; an IANA name such as Asia/Kolkata).

A placeholder is `{{ NAME }}` with an upper-case NAME; lower-case `{{name}}` is left alone (the
Handlebars charts' templates).
"""

import os
import pathlib
import re
import sys
import urllib.parse
import zipfile
import zoneinfo

PLACEHOLDER = re.compile(r"\{\{ *[A-Z][A-Z0-9_]* *\}\}")


def sqlalchemy_uri():
    user = urllib.parse.quote(os.environ.get("CLICKHOUSE_USER", "default"), safe="")
    password = urllib.parse.quote(os.environ.get("CLICKHOUSE_PASSWORD", ""), safe="")
    host = os.environ.get("CLICKHOUSE_HOST", "clickhouse")
    port = os.environ.get("CLICKHOUSE_HTTP_PORT", "8123")
    return f"clickhousedb://{user}:{password}@{host}:{port}/sales"


def default_currency():
    code = os.environ.get("SUPERSET_DEFAULT_CURRENCY", "EUR")
    if not re.fullmatch(r"[A-Z]{3}", code):
        sys.exit(f"SUPERSET_DEFAULT_CURRENCY must be a 3-letter upper-case ISO 4217 code such as EUR, not {code!r}")
    return code


def business_time_zone():
    """The zone ClickHouse evaluates "today" in; the name goes into SQL string literals, so only
    IANA names (letters, digits, '/', '_', '+', '-') that Python's zone database knows."""
    name = os.environ.get("BUSINESS_TIME_ZONE", "UTC")
    if not re.fullmatch(r"[A-Za-z0-9/_+-]+", name):
        sys.exit(f"BUSINESS_TIME_ZONE must be an IANA time zone name such as Europe/Berlin, not {name!r}")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        sys.exit(f"BUSINESS_TIME_ZONE {name!r} is not a known IANA time zone")
    return name


def build(source, output):
    source = pathlib.Path(source)
    values = {
        "CLICKHOUSE_SQLALCHEMY_URI": sqlalchemy_uri(),
        "SUPERSET_DEFAULT_CURRENCY": default_currency(),
        "BUSINESS_TIME_ZONE": business_time_zone(),
    }
    root = "sales_dashboard_export"
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*.yaml")):
            text = path.read_text()
            for name, value in values.items():
                text = text.replace("{{ " + name + " }}", value)
            left = PLACEHOLDER.search(text)
            if left:
                sys.exit(f"{path}: no value for the placeholder {left.group(0)}")
            bundle.writestr(f"{root}/{path.relative_to(source).as_posix()}", text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    build(sys.argv[1], sys.argv[2])
