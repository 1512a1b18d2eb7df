"""Imports the dashboard bundle into a real Superset (apache-superset from PyPI, SQLite metadata in
a temporary directory) the way bootstrap.sh and scripts/run-local do (provision.py), twice, and
checks what a user relies on: the ClickHouse database, its three datasets, every chart, the dashboard
with all of them, its native filters (a required Currency filter defaulting to the configured
currency), a 10-second auto-refresh that reads through a 10-second data cache, "today" in the
configured business time zone, and that the second import replaced what the first left
(connection, filter default, business time zone, admin password).

The ClickHouse server is not contacted: importing needs no connection. Exit status 0 when every
check passes.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
EXPECTED_CHARTS = {
    "Net revenue per minute",
    "Orders per minute",
    "Refunds per minute",
    "Net revenue by store",
    "Net revenue by region",
    "Net revenue by channel",
    "Top products today",
    "Net revenue today",
    "Orders today",
    "Average order value today",
    "Refund rate today",
    "Today by currency",
    "Data freshness",
}
EXPECTED_DATASETS = {"v_sales_by_window", "v_sales_per_minute", "v_product_sales_with_store", "v_store_freshness"}
# Datasets without amounts (so without a currency column).
NO_MONEY = {"v_store_freshness"}
EXPECTED_FILTERS = ["Currency", "Store", "Region", "Channel"]


def main():
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ)
        env.update(
            SUPERSET_HOME=home,
            SUPERSET_SECRET_KEY="check-only-secret-key",
            SUPERSET_METADATA_URI=f"sqlite:///{home}/superset.db",
            SUPERSET_CONFIG_PATH=str(HERE / "superset_config.py"),
            SUPERSET_ADMIN_USER="admin",
            CLICKHOUSE_USER="pipeline",
            CLICKHOUSE_PASSWORD="check-password",
            FLASK_APP="superset",
        )
        # The console script of the same environment (`python -m superset.cli.main` does nothing).
        superset = [str(pathlib.Path(sys.executable).parent / "superset")]
        subprocess.run([*superset, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*superset, "init"], env=env, check=True, stdout=subprocess.DEVNULL)

        bundle = pathlib.Path(home) / "bundle.zip"
        # A first installation with other settings, then the one under test over it.
        for settings in (
            dict(
                CLICKHOUSE_HOST="old-clickhouse",
                SUPERSET_DEFAULT_CURRENCY="USD",
                BUSINESS_TIME_ZONE="Europe/Berlin",
                SUPERSET_ADMIN_PASSWORD="first-password",
            ),
            dict(CLICKHOUSE_HOST="clickhouse", BUSINESS_TIME_ZONE="Asia/Kolkata", SUPERSET_ADMIN_PASSWORD="check-password"),
        ):
            step = {k: v for k, v in env.items() if k not in ("SUPERSET_DEFAULT_CURRENCY", "BUSINESS_TIME_ZONE")}
            step.update(settings)
            subprocess.run([sys.executable, str(HERE / "build_bundle.py"), str(HERE / "dashboard"), str(bundle)], env=step, check=True)
            subprocess.run([sys.executable, str(HERE / "provision.py"), str(bundle)], env=step, check=True, stdout=subprocess.DEVNULL)
        probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            print(probe.stderr[-3000:])
            print("0 passed, 1 failed")
            return 1
        found = json.loads(probe.stdout.strip().splitlines()[-1])

    filters = {f["name"]: f for f in found["native_filters"]}
    currency = filters.get("Currency", {})
    checks = [
        ("the ClickHouse database is imported", found["databases"], ["ClickHouse sales"]),
        ("its URI comes from the environment of the latest import", found["uri_ok"], True),
        ("every dataset is imported", set(found["datasets"]), EXPECTED_DATASETS),
        ("every chart is imported, once", sorted(found["charts"]), sorted(EXPECTED_CHARTS)),
        ("the dashboard is imported", found["dashboards"], ["Sales"]),
        ("the dashboard holds every chart", set(found["dashboard_charts"]), EXPECTED_CHARTS),
        ("the dashboard refreshes every 10 seconds", found["refresh_frequency"], 10),
        ("every chart reads one of the datasets", set(found["chart_datasets"]) <= EXPECTED_DATASETS, True),
        ("native filters for currency, store, region and channel", [f["name"] for f in found["native_filters"]], EXPECTED_FILTERS),
        ("every native filter targets a dataset", all(t.get("datasetId") for f in found["native_filters"] for t in f["targets"]), True),
        ("the Currency filter requires exactly one value", (currency.get("controlValues", {}).get("enableEmptyFilter"), currency.get("controlValues", {}).get("multiSelect")), (True, False)),
        ("the Currency filter defaults to EUR (the latest import's default)", currency.get("defaultDataMask", {}).get("filterState", {}).get("value"), ["EUR"]),
        ("every money dataset knows its currency column", found["currency_columns"], {d: None if d in NO_MONEY else "currency" for d in EXPECTED_DATASETS}),
        ("\"today\" is the latest import's business time zone in every chart", found["zones"], ["Asia/Kolkata"]),
        ("filter scopes name the imported charts", found["excluded_ok"], True),
        ("the admin password is the latest configured one", found["admin_login"], [False, True]),
        ("the periodic refresh reads through the cache", found["auto_refresh_mode"], "fetch"),
        ("chart data is cached for 10 seconds", found["data_cache"], ["FileSystemCache", 10]),
        ("every chart is saved with a query context on its own dataset", found["query_contexts"], {c: True for c in EXPECTED_CHARTS}),
    ]
    failed = 0
    for name, got, expected in checks:
        ok = got == expected
        failed += not ok
        print(("ok     " if ok else "FAILED ") + name + ("" if ok else f"\n  got {got!r}\n  expected {expected!r}"))
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


PROBE = r"""
import json
import re
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import security_manager
    from superset.extensions import db
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice
    from superset.connectors.sqla.models import SqlaTable
    databases = db.session.query(Database).all()
    dashboards = db.session.query(Dashboard).all()
    charts = db.session.query(Slice).all()
    datasets = db.session.query(SqlaTable).all()
    # Every time zone named in a chart's filters and metrics or a dataset's columns and metrics.
    sql = [json.dumps(json.loads(c.params or "{}").get("adhoc_filters", [])) for c in charts]
    sql += [m.expression for d in datasets for m in d.metrics] + [c.expression or "" for d in datasets for c in d.columns]
    zones = sorted({z for text in sql for z in re.findall(r"'([A-Z][A-Za-z_]+/[A-Za-z_]+)'", text)})
    sales = [d for d in dashboards if d.dashboard_title == "Sales"]
    meta = json.loads(sales[0].json_metadata) if sales else {}
    chart_ids = {c.id for c in charts}
    native = meta.get("native_filter_configuration", [])
    print(json.dumps({
        "databases": [d.database_name for d in databases],
        "uri_ok": all(d.sqlalchemy_uri.startswith("clickhousedb://pipeline:") and d.sqlalchemy_uri.endswith("@clickhouse:8123/sales") for d in databases),
        "datasets": [d.table_name for d in datasets],
        "charts": [c.slice_name for c in charts],
        "chart_datasets": [c.datasource.table_name for c in charts if c.datasource],
        "dashboards": [d.dashboard_title for d in dashboards],
        "dashboard_charts": [c.slice_name for c in sales[0].slices] if sales else [],
        "refresh_frequency": meta.get("refresh_frequency"),
        "native_filters": native,
        "excluded_ok": all(i in chart_ids for f in native for i in f.get("scope", {}).get("excluded", [])),
        "admin_login": [security_manager.auth_user_db("admin", p) is not None for p in ("first-password", "check-password")],
        "auto_refresh_mode": app.config["DASHBOARD_AUTO_REFRESH_MODE"],
        "data_cache": [app.config["DATA_CACHE_CONFIG"]["CACHE_TYPE"], app.config["DATA_CACHE_CONFIG"]["CACHE_DEFAULT_TIMEOUT"]],
        "currency_columns": {d.table_name: d.currency_code_column for d in datasets},
        "zones": zones,
        "query_contexts": {c.slice_name: bool(c.query_context) and json.loads(c.query_context)["datasource"] == {"id": c.datasource_id, "type": "table"}
                           and json.loads(c.query_context)["form_data"]["datasource"] == f"{c.datasource_id}__table" for c in charts},
    }))
"""

if __name__ == "__main__":
    sys.exit(main())
