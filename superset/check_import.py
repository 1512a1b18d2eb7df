"""Imports the dashboard bundle into a real Superset (apache-superset from PyPI, SQLite metadata in
a temporary directory) and checks what a user relies on: the ClickHouse database, both datasets,
every chart, and the dashboard with all of them and a 10-second auto-refresh.

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
    "Revenue per minute",
    "Orders per minute",
    "Revenue by store",
    "Revenue by region",
    "Revenue by channel",
    "Top products today",
    "Average order value today",
    "Revenue today",
    "Orders today",
}
EXPECTED_DATASETS = {"v_sales_by_window", "v_product_sales_by_window"}


def main():
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ)
        env.update(
            SUPERSET_HOME=home,
            SUPERSET_SECRET_KEY="check-only-secret-key",
            SUPERSET_METADATA_URI=f"sqlite:///{home}/superset.db",
            SUPERSET_CONFIG_PATH=str(HERE / "superset_config.py"),
            CLICKHOUSE_HOST="clickhouse",
            CLICKHOUSE_USER="pipeline",
            CLICKHOUSE_PASSWORD="check-password",
            FLASK_APP="superset",
        )
        # The console script of the same environment (`python -m superset.cli.main` does nothing).
        superset = [str(pathlib.Path(sys.executable).parent / "superset")]

        def run(*args):
            subprocess.run([*superset, *args], env=env, check=True, stdout=subprocess.DEVNULL)

        bundle = pathlib.Path(home) / "bundle.zip"
        subprocess.run([sys.executable, str(HERE / "build_bundle.py"), str(HERE / "dashboard"), str(bundle)], env=env, check=True)
        run("db", "upgrade")
        run("fab", "create-admin", "--username", "admin", "--password", "check", "--firstname", "a", "--lastname", "b", "--email", "a@b.c")
        run("init")
        run("import-dashboards", "--path", str(bundle), "--username", "admin")
        probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            print(probe.stderr[-3000:])
            print("0 passed, 1 failed")
            return 1
        found = json.loads(probe.stdout.strip().splitlines()[-1])

    checks = [
        ("the ClickHouse database is imported", found["databases"], ["ClickHouse sales"]),
        ("its URI comes from the environment", found["uri_ok"], True),
        ("both datasets are imported", set(found["datasets"]), EXPECTED_DATASETS),
        ("every chart is imported", set(found["charts"]), EXPECTED_CHARTS),
        ("the dashboard is imported", found["dashboards"], ["Sales"]),
        ("the dashboard holds every chart", set(found["dashboard_charts"]), EXPECTED_CHARTS),
        ("the dashboard refreshes every 10 seconds", found["refresh_frequency"], 10),
        ("every chart reads one of the datasets", set(found["chart_datasets"]) <= EXPECTED_DATASETS, True),
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
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset.extensions import db
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice
    from superset.connectors.sqla.models import SqlaTable
    databases = db.session.query(Database).all()
    dashboards = db.session.query(Dashboard).all()
    charts = db.session.query(Slice).all()
    datasets = db.session.query(SqlaTable).all()
    sales = [d for d in dashboards if d.dashboard_title == "Sales"]
    meta = json.loads(sales[0].json_metadata) if sales else {}
    print(json.dumps({
        "databases": [d.database_name for d in databases],
        "uri_ok": all(d.sqlalchemy_uri.startswith("clickhousedb://pipeline:") and d.sqlalchemy_uri.endswith("@clickhouse:8123/sales") for d in databases),
        "datasets": [d.table_name for d in datasets],
        "charts": [c.slice_name for c in charts],
        "chart_datasets": [c.datasource.table_name for c in charts if c.datasource],
        "dashboards": [d.dashboard_title for d in dashboards],
        "dashboard_charts": [c.slice_name for c in sales[0].slices] if sales else [],
        "refresh_frequency": meta.get("refresh_frequency"),
    }))
"""

if __name__ == "__main__":
    sys.exit(main())
