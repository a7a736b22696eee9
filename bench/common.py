"""What the benchmarks share: a demo database, the app signed in as admin, timing.

Not tests: nothing here asserts a speed. The database is built once per size
with ``crm demo`` and kept in ``CRM_BENCH_DIR`` (default /tmp/crm-bench), so
later runs start at once. ``DATABASE_URL`` (PostgreSQL) is used instead of
SQLite when set; that database is then filled when it has no business rows.
"""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DIR = Path(os.environ.get("CRM_BENCH_DIR", "/tmp/crm-bench"))
# Before config.py is imported: keep the bench's secret key out of the checkout.
os.environ.setdefault("CRM_INSTANCE_DIR", str(BENCH_DIR / "instance"))

ADMIN_PASSWORD = "Bench-Passw0rd!"


def database_url(customers: int, feedback: int, seed: int) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{BENCH_DIR / f'crm-c{customers}-f{feedback}-s{seed}.sqlite3'}"


def make_app(url: str, extra_views=None):
    """The real app on ``url``; ``extra_views(appbuilder)`` registers bench-only pages."""
    from app import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
        }
    )
    if extra_views is not None:
        with app.app_context():
            extra_views(app.appbuilder)
            # Bench-only pages need their permissions; the admin role gets them all.
            app.appbuilder.add_permissions(update_perms=True)
    return app


def ensure_database(url: str, customers: int, feedback: int, seed: int, log=print) -> None:
    """Migrate, create roles and the bench admin, and fill with demo data once."""
    from flask_migrate import upgrade

    from app.services import demo
    from app.services.roles import apply_roles

    app = make_app(url)
    with app.app_context():
        upgrade()
        apply_roles(app.appbuilder)
        sm = app.appbuilder.sm
        if sm.find_user(username="admin") is None:
            sm.add_user(
                username="admin",
                first_name="管理员",
                last_name="",
                email="admin@example.com",
                role=sm.find_role(app.config["AUTH_ROLE_ADMIN"]),
                password=ADMIN_PASSWORD,
            )
        if demo.business_counts():
            return
        log(f"filling {url} with {customers} customers and {feedback} feedback rows …")
        started = time.perf_counter()
        plan = demo.prepare(customers, feedback, seed=seed)
        demo.write(plan)
        log(f"  done in {time.perf_counter() - started:.0f} s")


def signed_in_client(app, username: str = "admin"):
    """A test client signed in as ``username`` (whose password is ``ADMIN_PASSWORD``)."""
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/login/", data={"username": username, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, f"bench user {username} could not sign in"
    return client


@contextmanager
def counting_queries(engine):
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@contextmanager
def timing_queries(engine):
    """Yield a list that collects the wall time (ms) of each SQL statement run meanwhile."""
    from sqlalchemy import event

    durations: list[float] = []
    started: list[float] = []

    def before(*_args):
        started.append(time.perf_counter())

    def after(*_args):
        durations.append((time.perf_counter() - started.pop()) * 1000)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield durations
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def median_ms(action, repeat: int) -> float:
    """Median wall time of ``action()`` over ``repeat`` runs, after one warm-up run."""
    action()
    times = []
    for _n in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def machine() -> dict[str, str]:
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": platform.platform(),
        "flask-appbuilder": _version("flask_appbuilder"),
        "sqlalchemy": _version("sqlalchemy"),
    }


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except (ImportError, AttributeError):
        return "?"


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "?"
