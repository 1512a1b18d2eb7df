#!/usr/bin/env bash
# Superset's one-time set-up, safe to run again: metadata database, admin user, roles, then the
# ClickHouse connection and the sales dashboard imported from /app/dashboard (overwriting the
# previous import, so the dashboard in Git is the one users see).
set -euo pipefail
superset db upgrade
superset fab create-admin \
  --username "${SUPERSET_ADMIN_USER}" --password "${SUPERSET_ADMIN_PASSWORD}" \
  --firstname Sales --lastname Admin --email "${SUPERSET_ADMIN_USER}@localhost" || true
superset init
bundle=/tmp/sales_dashboard.zip
python /app/build_bundle.py /app/dashboard "$bundle"
superset import-dashboards --path "$bundle" --username "${SUPERSET_ADMIN_USER}"
echo "Superset ready: dashboard imported"
