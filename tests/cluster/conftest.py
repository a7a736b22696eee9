"""The cluster tests: one real cluster (bench/cluster.py) for the whole session.

Collected only when ``CRM_CLUSTER_TESTS=1`` (the third stage of .ci/run): they
start PostgreSQL, Redis, three gunicorn instances and HAProxy, which takes a
minute or two, so ``make test`` leaves them out. When they are collected,
anything missing (a Debian package, a port in use) is an error, never a skip.

    CRM_CLUSTER_TESTS=1 .venv/bin/pytest -n 0 -p no:randomly -rP tests/cluster
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from .relay import Relay

ROOT = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("CRM_CLUSTER_TESTS") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]

PASSWORD = "Test-Passw0rd!"
# Accounts the tests sign in with: login name -> role key.
ACCOUNTS = {
    "clerk": "sales",
    "clerk2": "admin",  # sees clerk's customers, whatever the data scope
    "lockme": "sales",
    "limited": "sales",
}


def _load_cluster_module():
    """bench/cluster.py, imported by path (this package is also called "cluster")."""
    name = "crm_bench_cluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "cluster.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it runs
        spec.loader.exec_module(module)
    return sys.modules[name]


bench_cluster = _load_cluster_module()


@pytest.fixture(autouse=True)
def _clean_database():
    """The suite's per-test cleanup works on its own database; the cluster has its own."""
    yield


# The third instance reaches PostgreSQL through a relay the tests can cut (relay.py).
RELAY_PORT = 56434  # the port reserved for the cluster's (optional) replica


@pytest.fixture(scope="session")
def db_relay():
    relay = Relay(RELAY_PORT, bench_cluster.Ports().postgres)
    relay.open()
    yield relay
    relay.cut()


@pytest.fixture(scope="session")
def cluster(db_relay):
    workers = int(os.environ.get("CRM_CLUSTER_WORKERS", "2"))
    running = bench_cluster.Cluster(instances=3, workers=workers)
    third = running.nodes[2]
    third.database_url = third.database_url.replace(
        f":{running.ports.postgres}/", f":{db_relay.port}/"
    )
    with running:
        yield running


@pytest.fixture(scope="session")
def cluster_app(cluster):
    """The app on the cluster's database, in this process, for arranging and checking rows."""
    from app import create_app
    from app.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": cluster.database_url,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
        }
    )
    with app.app_context():
        sm = app.appbuilder.sm
        for username, role_key in ACCOUNTS.items():
            if sm.find_user(username=username) is None:
                sm.add_user(
                    username=username,
                    first_name=f"{username} user",
                    last_name="",
                    email=f"{username}@example.com",
                    role=sm.find_role(app.config["CRM_ROLE_NAMES"][role_key]),
                    password=PASSWORD,
                )
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def cluster_db(cluster_app):
    from app.extensions import db

    with cluster_app.app_context():
        yield db.session
        db.session.remove()
