"""Zips the dashboard-as-code directory into the bundle `superset import-dashboards` reads, filling
the ClickHouse connection in from the environment (the committed files carry no password).

usage: build_bundle.py DASHBOARD_DIR OUTPUT_ZIP
"""

import os
import pathlib
import sys
import urllib.parse
import zipfile


def sqlalchemy_uri():
    user = urllib.parse.quote(os.environ.get("CLICKHOUSE_USER", "default"), safe="")
    password = urllib.parse.quote(os.environ.get("CLICKHOUSE_PASSWORD", ""), safe="")
    host = os.environ.get("CLICKHOUSE_HOST", "clickhouse")
    port = os.environ.get("CLICKHOUSE_HTTP_PORT", "8123")
    return f"clickhousedb://{user}:{password}@{host}:{port}/sales"


def build(source, output):
    source = pathlib.Path(source)
    root = "sales_dashboard_export"
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*.yaml")):
            text = path.read_text()
            text = text.replace("{{ CLICKHOUSE_SQLALCHEMY_URI }}", sqlalchemy_uri())
            bundle.writestr(f"{root}/{path.relative_to(source).as_posix()}", text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    build(sys.argv[1], sys.argv[2])
