"""Zips the dashboard-as-code directory into the bundle Superset imports, filling in what comes
from the environment: the ClickHouse connection (the committed files carry no password), the
default of the dashboard's Currency filter, and the business time zone whose day is "today".

usage: build_bundle.py DASHBOARD_DIR OUTPUT_ZIP

Environment: CLICKHOUSE_HOST (clickhouse), CLICKHOUSE_HTTP_PORT (8123), CLICKHOUSE_USER (default),
CLICKHOUSE_PASSWORD (empty), SUPERSET_DEFAULT_CURRENCY (EUR; an ISO 4217 code),
BUSINESS_TIME_ZONE (UTC; an IANA name such as Asia/Kolkata), SUPERSET_SILENT_STORE_MINUTES (60;
after how many minutes without a sale or refund the Data freshness strip lists a store).

A placeholder is `{{ NAME }}` with an upper-case NAME; lower-case `{{name}}` is left alone (the
Handlebars charts' templates).

Each chart is saved with its query context, made here from its form data (`params`) and the
dashboard's filter defaults, so they never drift apart: it is the query the dashboard sends for
the chart when it opens (the Currency filter at its default). Superset answers
`GET /api/v1/chart/{id}/data/` (the API's export, cache warm-up, alerts and reports) from it, so
those get the figures a person sees on opening the dashboard, and a chart that ranks (Top products)
never ranks amounts of different currencies together. The import points its datasource at the
chart's dataset. superset/check_dashboard.py compares it with what the browser sends.
"""

import json
import os
import pathlib
import re
import sys
import urllib.parse
import zipfile
import zoneinfo

import yaml

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


def silent_store_minutes():
    """After how many minutes without an event a store counts as silent: a whole number."""
    text = os.environ.get("SUPERSET_SILENT_STORE_MINUTES", "60")
    if not re.fullmatch(r"[1-9][0-9]{0,5}", text):
        sys.exit(f"SUPERSET_SILENT_STORE_MINUTES must be a whole number of minutes (1 or more), not {text!r}")
    return text


def chart_uuids(dashboard):
    """{chartId: chart uuid} of a dashboard's YAML: its layout names both, and filter scopes name
    charts by chartId."""
    return {
        item["meta"]["chartId"]: item["meta"]["uuid"]
        for item in dashboard["position"].values()
        if isinstance(item, dict) and item.get("type") == "CHART"
    }


def default_filters(dashboard):
    """{chart uuid: the filters the dashboard's native filters apply to it by default}, from the
    dashboard's YAML."""
    uuids = chart_uuids(dashboard)
    applied = {uuid: [] for uuid in uuids.values()}
    for native in dashboard["metadata"].get("native_filter_configuration", []):
        excluded = {uuids[n] for n in native["scope"].get("excluded", [])}
        for uuid in applied:
            if uuid not in excluded:
                applied[uuid] += native["defaultDataMask"].get("extraFormData", {}).get("filters", [])
    return applied


def query_context(params, filters):
    """The query context of a chart with form data `params` under the dashboard's default
    `filters`: its query as Superset's frontend builds it (buildQuery of the ECharts timeseries and
    Handlebars plugins) for the viz types the dashboard uses."""
    viz = params["viz_type"]
    metrics = params["metrics"]
    groupby = params.get("groupby", [])
    order_desc = params.get("order_desc", True)
    sort_by = params.get("timeseries_limit_metric")
    where = [f["sqlExpression"] for f in params.get("adhoc_filters", []) if f["expressionType"] == "SQL"]
    extras = {"having": "", "where": " AND ".join(f"({w})" for w in where)}
    if params.get("time_grain_sqla"):
        extras["time_grain_sqla"] = params["time_grain_sqla"]
    query = {
        "annotation_layers": [],
        "applied_time_extras": {},
        "columns": list(groupby),
        "custom_form_data": {},
        "custom_params": {},
        "extras": extras,
        "filters": list(filters)
        + [
            {"col": f["subject"], "op": f["operator"], "val": f["comparator"]}
            for f in params.get("adhoc_filters", [])
            if f["expressionType"] == "SIMPLE"
        ],
        "group_others_when_limit_reached": False,
        "metrics": metrics,
        "order_desc": order_desc,
        "orderby": [[sort_by or metrics[0], not order_desc]],
        "row_limit": params["row_limit"],
        "series_limit": 0,
        "url_params": {},
    }
    if sort_by:
        query["series_limit_metric"] = sort_by
    if viz.startswith("echarts_timeseries"):
        axis = params["x_axis"]
        base_axis = {"columnType": "BASE_AXIS", "expressionType": "SQL", "isColumnReference": True, "label": axis, "sqlExpression": axis}
        if params.get("time_grain_sqla"):
            base_axis["timeGrain"] = params["time_grain_sqla"]
        query["columns"] = [base_axis, *groupby]
        query["series_columns"] = list(groupby)
        query["time_offsets"] = []
        pivot = {
            "aggregates": {m: {"operator": "mean"} for m in metrics},
            "columns": list(groupby),
            "drop_missing_columns": not params.get("show_empty_columns", True),
            "index": [axis],
        }
        query["post_processing"] = [{"operation": "pivot", "options": pivot}]
        # One metric split by a column: the series are named by the column's values alone.
        if groupby and len(metrics) == 1 and params.get("truncate_metric", True):
            rename = {"columns": {metrics[0]: None}, "inplace": True, "level": 0}
            query["post_processing"].append({"operation": "rename", "options": rename})
        query["post_processing"].append({"operation": "flatten"})
    elif viz != "handlebars":
        sys.exit(f"no query context is known for the viz type {viz}")
    return {
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "form_data": dict(params, datasource="0__table"),
        "queries": [query],
        "result_format": "json",
        "result_type": "full",
    }


def with_query_context(text, filters):
    """A chart's YAML text with `query_context: null` replaced by the context of its params under
    `filters` ({chart uuid: the dashboard's default filters})."""
    chart = yaml.safe_load(text)
    context = query_context(chart["params"], filters.get(chart["uuid"], []))
    line = yaml.safe_dump({"query_context": json.dumps(context, sort_keys=True)}, width=1 << 20)
    if text.count("\nquery_context: null\n") != 1:
        sys.exit("a chart's YAML must carry one 'query_context: null' line to fill in")
    return text.replace("\nquery_context: null\n", "\n" + line)


def build(source, output):
    source = pathlib.Path(source)
    values = {
        "CLICKHOUSE_SQLALCHEMY_URI": sqlalchemy_uri(),
        "SUPERSET_DEFAULT_CURRENCY": default_currency(),
        "BUSINESS_TIME_ZONE": business_time_zone(),
        "SUPERSET_SILENT_STORE_MINUTES": silent_store_minutes(),
    }
    root = "sales_dashboard_export"
    texts = {}
    for path in sorted(source.rglob("*.yaml")):
        text = path.read_text()
        for name, value in values.items():
            text = text.replace("{{ " + name + " }}", value)
        left = PLACEHOLDER.search(text)
        if left:
            sys.exit(f"{path}: no value for the placeholder {left.group(0)}")
        texts[path.relative_to(source).as_posix()] = text
    filters = {}
    for name, text in texts.items():
        if name.startswith("dashboards/"):
            filters.update(default_filters(yaml.safe_load(text)))
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in texts.items():
            if name.startswith("charts/"):
                text = with_query_context(text, filters)
            bundle.writestr(f"{root}/{name}", text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    build(sys.argv[1], sys.argv[2])
