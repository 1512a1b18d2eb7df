"""Zips the dashboard-as-code directory into the bundle Superset imports, filling in what comes
from the environment: the ClickHouse connection (the committed files carry no password) and the
default of the dashboard's Currency filter.

usage: build_bundle.py DASHBOARD_DIR OUTPUT_ZIP

Environment: CLICKHOUSE_HOST (clickhouse), CLICKHOUSE_HTTP_PORT (8123), CLICKHOUSE_USER (default),
CLICKHOUSE_PASSWORD (empty), SUPERSET_DEFAULT_CURRENCY (EUR; an ISO 4217 code).
"""

import os
import pathlib
import re
import sys
import urllib.parse
import zipfile


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


def build(source, output):
    source = pathlib.Path(source)
    values = {
        "CLICKHOUSE_SQLALCHEMY_URI": sqlalchemy_uri(),
        "SUPERSET_DEFAULT_CURRENCY": default_currency(),
    }
    root = "sales_dashboard_export"
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*.yaml")):
            text = path.read_text()
            for name, value in values.items():
                text = text.replace("{{ " + name + " }}", value)
            left = re.search(r"\{\{ *\w+ *\}\}", text)
            if left:
                sys.exit(f"{path}: no value for the placeholder {left.group(0)}")
            bundle.writestr(f"{root}/{path.relative_to(source).as_posix()}", text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    build(sys.argv[1], sys.argv[2])
