"""Brings a Superset metadata database (after `superset db upgrade` and `superset init`) to what
users rely on: the admin account from configuration, and the dashboard bundle from build_bundle.py
imported over whatever an earlier import left.

usage: python provision.py BUNDLE_ZIP      (run with Superset's Python, SUPERSET_CONFIG_PATH set)

Environment: SUPERSET_ADMIN_USER, SUPERSET_ADMIN_PASSWORD.

Why not `superset import-dashboards`: it overwrites the dashboard but keeps existing charts,
datasets and the database connection as they were (Superset 6.1,
superset/commands/dashboard/importers/v1/__init__.py imports them with overwrite=False), so a
changed chart or a new ClickHouse address in Git would never reach an existing installation.
Superset's asset import (superset/commands/importers/v1/assets.py) overwrites every object of
the bundle, which is what dashboard-as-code means. An existing admin gets the configured password
again, so changing SUPERSET_ADMIN_PASSWORD takes effect on the next start.
"""

import os
import sys
import zipfile


def ensure_admin(security_manager, username, password):
    user = security_manager.find_user(username=username)
    if user is None:
        role = security_manager.find_role("Admin")
        created = security_manager.add_user(username, "Sales", "Admin", f"{username}@localhost", role, password=password)
        if not created:
            sys.exit(f"could not create the Superset user {username!r}")
        return created
    security_manager.reset_password(user.id, password)
    return user


def as_asset_bundle(bundle_path):
    """The bundle's files keyed by their path inside it; its header marks it as an asset bundle,
    the kind the overwriting import accepts (the zip itself stays a dashboard export, importable
    from Superset's UI)."""
    from superset.commands.importers.v1.utils import get_contents_from_bundle

    with zipfile.ZipFile(bundle_path) as bundle:
        contents = get_contents_from_bundle(bundle)
    contents["metadata.yaml"] = contents["metadata.yaml"].replace("type: Dashboard", "type: assets")
    return contents


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    username = os.environ["SUPERSET_ADMIN_USER"]
    password = os.environ["SUPERSET_ADMIN_PASSWORD"]

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.utils.core import override_user

        admin = ensure_admin(security_manager, username, password)
        with override_user(admin):
            ImportAssetsCommand(as_asset_bundle(sys.argv[1])).run()
    print(f"Superset provisioned: admin user {username!r}, dashboard bundle imported")


if __name__ == "__main__":
    main()
