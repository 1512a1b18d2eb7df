"""Superset configuration for the sales dashboard (SUPERSET_CONFIG_PATH), shared by the compose
image and `scripts/run-local`.

Secrets come from the environment; the metadata database is SQLite in SUPERSET_HOME (the
superset-home volume under compose), which is enough for one dashboard and a handful of users.

Live data without a query storm: the dashboard refreshes every 10 seconds in every open browser.
Chart results are cached for 10 seconds in a file cache every web worker shares, and the periodic
refresh asks for cached data (DASHBOARD_AUTO_REFRESH_MODE = "fetch"; Superset's default "force"
makes every viewer's every tick bypass the cache). So however many people watch, ClickHouse
answers about one query per chart per 10 seconds, and no chart is more than 10 seconds stale.
The cache key of a chart's query is its text (a relative range such as "last 60 minutes", or
"today" as SQL ClickHouse evaluates), not the instants it resolves to, so the same entry serves
every viewer until it expires.

"Today" is the business day in BUSINESS_TIME_ZONE, and ClickHouse decides it (the dashboard's SQL
compares each row's business `day` with `toDate(now(), zone)`; build_bundle.py fills the zone in).
Superset's own relative times ("today", "now") come from this process's clock in its zone (UTC in
the image), so the server needs no zone setting and the only relative range left, the last 60
minutes, means instants.
"""

import copy
import os

# The defaults module, which is loading this file; only read here.
from superset import config as superset_defaults

SUPERSET_HOME = os.environ.get("SUPERSET_HOME", "/app/superset_home")

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_METADATA_URI", f"sqlite:///{SUPERSET_HOME}/superset.db?check_same_thread=false"
)

# The dashboard refreshes every 10 seconds; let it, without a warning banner.
SUPERSET_DASHBOARD_PERIODICAL_REFRESH_LIMIT = 0
SUPERSET_DASHBOARD_PERIODICAL_REFRESH_WARNING_MESSAGE = None
# The periodic refresh reads through the data cache instead of forcing a new query (the browser's
# refresh button still forces one).
DASHBOARD_AUTO_REFRESH_MODE = "fetch"

LIVE_DATA_SECONDS = 10
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": os.path.join(SUPERSET_HOME, "data-cache"),
    "CACHE_DEFAULT_TIMEOUT": LIVE_DATA_SECONDS,
    "CACHE_THRESHOLD": 2000,
    "CACHE_KEY_PREFIX": "sales_data_",
}

# The KPI cards and money tables are Handlebars charts, which compile their templates with
# `new Function`; Superset's default content security policy forbids that ("by design",
# apache/superset#25205), so the policy is Superset's own plus 'unsafe-eval' for scripts. Scripts
# still load only from this origin with the page's nonce. Their styles (a <style> block and class
# attributes) pass the HTML sanitizer.
TALISMAN_CONFIG = copy.deepcopy(superset_defaults.TALISMAN_CONFIG)
TALISMAN_CONFIG["content_security_policy"]["script-src"].append("'unsafe-eval'")
HTML_SANITIZATION_SCHEMA_EXTENSIONS = {"attributes": {"*": ["className"]}, "tagNames": ["style"]}

ROW_LIMIT = 10000
WTF_CSRF_ENABLED = True
FEATURE_FLAGS = {"DASHBOARD_RBAC": False}
