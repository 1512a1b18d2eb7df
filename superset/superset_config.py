"""Superset configuration for the sales dashboard (mounted as SUPERSET_CONFIG_PATH).

Secrets come from the environment; the metadata database is SQLite in the superset-home volume,
which is enough for one dashboard and a handful of users.
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_METADATA_URI", "sqlite:////app/superset_home/superset.db?check_same_thread=false"
)
# The dashboard refreshes every 10 seconds; let it.
SUPERSET_DASHBOARD_PERIODICAL_REFRESH_LIMIT = 0
SUPERSET_DASHBOARD_PERIODICAL_REFRESH_WARNING_MESSAGE = None
# Live data: don't serve charts from a cache older than the refresh.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
ROW_LIMIT = 10000
WTF_CSRF_ENABLED = True
FEATURE_FLAGS = {"DASHBOARD_RBAC": False}
