#!/usr/bin/env bash
# Superset's one-time set-up, safe to run again: metadata database, roles, then the admin account
# from configuration and the ClickHouse connection, datasets, charts and sales dashboard imported
# from /app/dashboard over the previous import (provision.py), so the dashboard in Git is the one
# users see.
set -euo pipefail
superset db upgrade
superset init
bundle=/tmp/sales_dashboard.zip
python /app/build_bundle.py /app/dashboard "$bundle"
python /app/provision.py "$bundle"
echo "Superset ready: dashboard imported"
