"""Runs every file of clickhouse-sql/ on a current ClickHouse engine (chdb, in-process), loads the
store seed and sample facts (with re-inserted duplicates), runs stream-job's own recompute
queries, and checks that every view returns the expected totals; then runs every column, metric
and chart query of the Superset dashboard (superset/dashboard) over those views, the way Superset
writes them (metrics aliased by their names, the Currency filter, the chart's ordering), and checks
that each native filter's column exists in every dataset of the charts it applies to.

Proves that the DDL the compose image runs is valid on current ClickHouse, not only on the old
server CI can install. Exit status 0 when every check passes.
"""

import csv
import pathlib
import sys
import tempfile

import yaml
from chdb import session as chdb_session

HERE = pathlib.Path(__file__).resolve().parent
WINDOW = 60
DAY_START = 1795305600  # 2026-11-22T00:00:00Z


def statements(path):
    code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]


def metrics_of(datasets, table):
    spec = next(d for d in datasets.values() if d["table_name"] == table)
    return {m["metric_name"]: m["expression"] for m in spec["metrics"]}


def quote(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def main():
    checks = []

    def check(name, got, expected):
        checks.append((name, got == expected, got, expected))

    with tempfile.TemporaryDirectory() as data:
        db = chdb_session.Session(data)

        def query(sql):
            return db.query(sql, "CSV").bytes().decode()

        files = sorted(HERE.glob("[0-9][0-9][0-9]_*.sql"))
        for path in files:
            for statement in statements(path):
                query(statement)
        check("schema files applied", len(files) >= 6, True)

        with open(HERE / "seed" / "stores.csv", newline="") as seed:
            rows = list(csv.DictReader(seed))
        values = ",".join(
            "(" + ",".join(quote(r[c]) for c in ("store_id", "name", "city", "region")) + ")" for r in rows
        )
        query(f"INSERT INTO sales.stores VALUES {values}")

        # Sample orders: (seconds into the day, order_id, store, channel, items, total_minor, lines)
        orders = [
            (10, "o-1", "store-001", "in_store", 2, 650, [("sku-1", "Latte", 2, 325)]),
            (20, "o-2", "store-001", "in_store", 3, 900, [("sku-1", "Latte", 1, 325), ("sku-2", "Bagel", 2, 275)]),
            (70, "o-3", "store-001", "online", 1, 275, [("sku-2", "Bagel", 1, 275)]),
            (75, "o-4", "store-999", "delivery", 4, 1300, [("sku-1", "Latte", 4, 325)]),
            (3600, "o-5", "store-003", "takeaway", 1, 325, [("sku-1", "Latte", 1, 325)]),
        ]
        facts = []
        lines = []
        for offset, order_id, store, channel, items, total, order_lines in orders:
            at = DAY_START + offset
            facts.append(
                f"(toDateTime({at}), {quote(order_id)}, {quote(store)}, {quote(channel)}, 'EUR', '', 'card', "
                f"{items}, 0, 0, {total}, toDateTime({at}))"
            )
            for no, (sku, name, qty, price) in enumerate(order_lines):
                lines.append(
                    f"(toDateTime({at}), {quote(order_id)}, {no}, {quote(store)}, 'EUR', {quote(sku)}, {quote(name)}, "
                    f"{qty}, {price}, {qty * price})"
                )
        # Every order inserted twice, as a replay would: the facts must collapse.
        for _ in range(2):
            query("INSERT INTO sales.order_facts VALUES " + ",".join(facts))
            query("INSERT INTO sales.order_line_facts VALUES " + ",".join(lines))

        stores = "[" + ",".join(quote(s) for s in sorted({o[2] for o in orders})) + "]"
        # The values stream-job binds, in the templates' order: window size twice, the range, the stores.
        bound = [str(WINDOW), str(WINDOW), str(DAY_START), str(DAY_START + 86400), stores]
        for name in ("recompute_sales_by_window", "recompute_product_sales_by_window"):
            template = "\n".join(
                line for line in (HERE / "queries" / f"{name}.sql").read_text().splitlines() if not line.startswith("--")
            ).replace("{database}", "sales")
            pieces = template.split("?")
            assert len(pieces) == len(bound) + 1, f"{name}: {len(pieces) - 1} placeholders, {len(bound)} values"
            sql = pieces[0] + "".join(value + piece for value, piece in zip(bound, pieces[1:]))
            # Twice: a recomputation is idempotent.
            query(sql)
            query(sql)

        check(
            "order_facts collapse duplicates",
            query("SELECT count() FROM sales.order_facts FINAL").strip(),
            "5",
        )
        check(
            "v_sales_by_window",
            query(
                "SELECT toUInt32(window_start) - %d, store_id, store_name, region, channel, orders, items, revenue "
                "FROM sales.v_sales_by_window ORDER BY window_start, store_id, channel" % DAY_START
            ).strip().splitlines(),
            [
                '0,"store-001","Alexanderplatz","East","in_store",2,5,15.5',
                '60,"store-001","Alexanderplatz","East","online",1,1,2.75',
                '60,"store-999","store-999","unknown","delivery",1,4,13',
                '3600,"store-003","Altona","North","takeaway",1,1,3.25',
            ],
        )
        check(
            "v_product_sales_by_window",
            query(
                "SELECT toUInt32(window_start) - %d, store_id, sku, orders, quantity, revenue "
                "FROM sales.v_product_sales_by_window ORDER BY window_start, store_id, sku" % DAY_START
            ).strip().splitlines(),
            [
                '0,"store-001","sku-1",2,3,9.75',
                '0,"store-001","sku-2",1,2,5.5',
                '60,"store-001","sku-2",1,1,2.75',
                '60,"store-999","sku-1",1,4,13',
                '3600,"store-003","sku-1",1,1,3.25',
            ],
        )
        check(
            "v_product_sales_with_store",
            query(
                "SELECT toUInt32(window_start) - %d, store_id, store_name, city, region, sku, quantity, revenue "
                "FROM sales.v_product_sales_with_store ORDER BY window_start, store_id, sku" % DAY_START
            ).strip().splitlines(),
            [
                '0,"store-001","Alexanderplatz","Berlin","East","sku-1",3,9.75',
                '0,"store-001","Alexanderplatz","Berlin","East","sku-2",2,5.5',
                '60,"store-001","Alexanderplatz","Berlin","East","sku-2",1,2.75',
                '60,"store-999","store-999","unknown","unknown","sku-1",4,13',
                '3600,"store-003","Altona","Hamburg","North","sku-1",1,3.25',
            ],
        )
        check(
            "v_sales_daily",
            query(
                "SELECT day, sum(orders), sum(items), sum(revenue_minor), sum(revenue) FROM sales.v_sales_daily GROUP BY day"
            ).strip(),
            '"2026-11-22",5,11,3450,34.5',
        )
        check(
            "revenue is Decimal",
            query("SELECT toTypeName(revenue) FROM sales.v_sales_daily LIMIT 1").strip(),
            '"Decimal(18, 2)"',
        )
        # Superset's datasets and charts (superset/dashboard) must run on this engine too: every
        # column and metric of each dataset, and each chart's grouping with its metrics.
        dashboard = HERE.parent / "superset" / "dashboard"
        datasets = {}
        for path in sorted((dashboard / "datasets").rglob("*.yaml")):
            spec = yaml.safe_load(path.read_text())
            datasets[spec["uuid"]] = spec
            table = f"{spec['schema']}.{spec['table_name']}"
            columns = ", ".join(c["column_name"] for c in spec["columns"])
            rows = query(f"SELECT {columns} FROM {table}").strip().splitlines()
            check(f"dataset {spec['table_name']}: every column reads", len(rows) > 0, True)
            for metric in spec["metrics"]:
                value = query(f"SELECT {metric['expression']} FROM {table}").strip()
                check(f"dataset {spec['table_name']}: metric {metric['metric_name']} computes", value not in ("", "\\N"), True)
        # Each chart's query as Superset builds it: metrics aliased by their names (so a metric
        # that mentions another metric's name must not resolve to that alias), the dashboard's
        # Currency filter, and the chart's ordering.
        charts = {}
        for path in sorted((dashboard / "charts").glob("*.yaml")):
            chart = yaml.safe_load(path.read_text())
            charts[chart["uuid"]] = chart
            spec = datasets[chart["dataset_uuid"]]
            params = chart["params"]
            metrics = {m["metric_name"]: m["expression"] for m in spec["metrics"]}
            names = params.get("metrics") or [params["metric"]]
            keys = [k for k in [params.get("x_axis"), *params.get("groupby", [])] if k]
            select = ", ".join(keys + [f"{metrics[n]} AS `{n}`" for n in names])
            group = f" GROUP BY {', '.join(keys)}" if keys else ""
            order = "".join(f" ORDER BY `{o[0]}` {'ASC' if o[1] else 'DESC'}" for o in params.get("orderby", [])[:1])
            sql = (
                f"SELECT {select} FROM {spec['schema']}.{spec['table_name']} "
                f"WHERE currency IN ('EUR') AND window_start >= toDateTime({DAY_START}) "
                f"AND window_start < toDateTime({DAY_START + 86400}){group}{order}"
            )
            try:
                rows = len(query(sql).strip().splitlines())
            except Exception as error:  # the engine's refusal is the finding
                rows = str(error).splitlines()[0]
            check(f"chart {chart['slice_name']}: its query runs", rows if isinstance(rows, str) else rows > 0, True)

        # Native filters: their values come from their column, and every chart in a filter's scope
        # reads a dataset with that column (Superset silently drops a filter on a missing column).
        sales = yaml.safe_load((dashboard / "dashboards" / "Sales.yaml").read_text())
        position_uuid = {
            item["meta"]["chartId"]: item["meta"]["uuid"]
            for item in sales["position"].values()
            if isinstance(item, dict) and item.get("type") == "CHART"
        }
        for native in sales["metadata"]["native_filter_configuration"]:
            target = native["targets"][0]
            spec = datasets[target["datasetUuid"]]
            column = target["column"]["name"]
            values = query(f"SELECT {column} FROM {spec['schema']}.{spec['table_name']} GROUP BY {column}").strip()
            check(f"filter {native['name']}: its values come from {spec['table_name']}.{column}", values != "", True)
            excluded = {position_uuid[i] for i in native["scope"]["excluded"]}
            lacking = sorted(
                c["slice_name"]
                for u, c in charts.items()
                if u not in excluded
                and column not in {col["column_name"] for col in datasets[c["dataset_uuid"]]["columns"]}
            )
            check(f"filter {native['name']}: every chart in its scope has the column {column}", lacking, [])
        check(
            "average order value is revenue / orders",
            query(f"SELECT {metrics_of(datasets, 'v_sales_by_window')['average_order_value']} FROM sales.v_sales_by_window").strip(),
            "6.9",
        )
        check("engine is current ClickHouse", int(query("SELECT version()").strip().strip('"').split(".")[0]) >= 24, True)

    failed = 0
    for name, ok, got, expected in checks:
        print(("ok     " if ok else "FAILED ") + name)
        if not ok:
            failed += 1
            print(f"  got:      {got!r}\n  expected: {expected!r}")
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
