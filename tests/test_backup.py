"""Backups taken while the app keeps writing restore to a working app with the same counts."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.cli.backup import libpq_arguments, postgres_tool
from app.extensions import db
from app.models import BUSINESS_MODELS, Contact, Customer, CustomerStatus
from helpers import PASSWORD, Visitor

TABLES = [model.__tablename__ for model in BUSINESS_MODELS] + ["ab_user", "change_record"]


class Writer(threading.Thread):
    """Keeps adding a customer with one contact, one transaction each, until stopped."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app = app
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None
        self.progress = threading.Condition()

    def run(self):
        try:
            with self.app.app_context():
                while not self.stop.is_set():
                    n = self.written
                    customer = Customer(
                        code=f"BK{n:06d}", name=f"备份客户{n}", status=CustomerStatus.signed
                    )
                    db.session.add_all([customer, Contact(customer=customer, name=f"联系人{n}")])
                    db.session.commit()
                    with self.progress:
                        self.written += 1
                        self.progress.notify_all()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error
            with self.progress:
                self.progress.notify_all()

    def wait_for(self, count: int) -> int:
        with self.progress:
            self.progress.wait_for(lambda: self.written >= count or self.error, timeout=120)
        assert self.error is None, self.error
        assert self.written >= count, "the writer made no progress"
        return self.written

    def finish(self):
        self.stop.set()
        self.join(timeout=120)
        assert self.error is None, self.error


def _backup_while_writing(app, target: Path) -> tuple[int, int]:
    """Run ``crm backup`` while the writer works; rows written before and after it."""
    writer = Writer(app)
    writer.start()
    try:
        before = writer.wait_for(5)
        result = app.test_cli_runner().invoke(args=["crm", "backup", str(target)])
        assert result.exit_code == 0, result.output + repr(result.exception)
        after = writer.written
        writer.wait_for(after + 3)  # still writing after the backup: it did not block
    finally:
        writer.finish()
    return before, after


def _check_snapshot(counts: dict, codes: list[str], before: int, after: int) -> None:
    """Whole transactions only: BK000000..BKk-1 with no gap, each customer with its contact."""
    assert before <= len(codes) <= after + 1
    assert codes == [f"BK{n:06d}" for n in range(len(codes))]
    assert counts["contact"] == counts["customer"]


def _sign_in_works(app) -> None:
    visitor = Visitor(app)
    response = visitor.login("admin", PASSWORD)
    assert response.status_code == 302, "the admin cannot sign in to the restored app"
    assert "/login" not in response.headers["Location"]
    assert visitor.get("/customers/list/").status_code == 200


def _migrated_to_head(app) -> None:
    from alembic.script import ScriptDirectory
    from flask_migrate import upgrade

    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        head = ScriptDirectory.from_config(config).get_current_head()
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == head
        upgrade()  # a no-op on a restored, migrated database
        db.session.remove()


def _app_counts(app) -> dict:
    with app.app_context():
        counts = {
            table: db.session.scalar(text(f"SELECT count(*) FROM {table}")) for table in TABLES
        }
        db.session.remove()
    return counts


def _is_sqlite(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


# ------------------------------------------------------------------ SQLite


def test_sqlite_backup_during_writes_restores_to_a_working_app(app, tmp_path):
    if not _is_sqlite(app):
        pytest.skip("SQLite backup; the PostgreSQL test covers pg_dump")
    backup = tmp_path / "crm-backup.sqlite3"
    before, after = _backup_while_writing(app, backup)

    with sqlite3.connect(backup) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES
        }
        codes = [
            row[0]
            for row in conn.execute("SELECT code FROM customer WHERE code LIKE 'BK%' ORDER BY code")
        ]
    _check_snapshot(counts, codes, before, after)

    # Restore into another app's database (which has other content) with the command.
    scratch = create_app(
        {
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'restored.sqlite3'}",
        }
    )
    (tmp_path / "restored.sqlite3").write_bytes(b"")
    refused = scratch.test_cli_runner().invoke(args=["crm", "restore", str(backup)], input="n\n")
    assert refused.exit_code != 0  # asked, and "no" leaves it alone
    assert (tmp_path / "restored.sqlite3").stat().st_size == 0
    result = scratch.test_cli_runner().invoke(args=["crm", "restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output + repr(result.exception)

    _migrated_to_head(scratch)
    assert _app_counts(scratch) == counts
    _sign_in_works(scratch)
    with scratch.app_context():
        db.engine.dispose()


def test_sqlite_restore_refuses_a_file_that_is_not_a_backup(app, tmp_path):
    if not _is_sqlite(app):
        pytest.skip("SQLite restore")
    bogus = tmp_path / "not-a-backup.sqlite3"
    bogus.write_bytes(b"hello, this is not SQLite" * 100)
    result = app.test_cli_runner().invoke(args=["crm", "restore", str(bogus), "--yes"])
    assert result.exit_code != 0 and "not a SQLite database" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) is not None


def test_backup_refuses_to_overwrite_without_force(app, tmp_path):
    existing = tmp_path / "old.backup"
    existing.write_bytes(b"keep me")
    result = app.test_cli_runner().invoke(args=["crm", "backup", str(existing)])
    assert result.exit_code != 0 and "--force" in result.output
    assert existing.read_bytes() == b"keep me"


# ------------------------------------------------------------------ PostgreSQL


def test_postgresql_pg_dump_during_writes_restores_to_a_working_app(app, tmp_path, worker_id):
    if _is_sqlite(app):
        pytest.skip("PostgreSQL backup (CI sets DATABASE_URL to a postgres URL)")
    import psycopg

    backup = tmp_path / "crm-backup.dump"
    before, after = _backup_while_writing(app, backup)
    assert backup.stat().st_size > 0

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    scratch_name = f"crm_restore_{worker_id}"
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{scratch_name}"')
    scratch_url = url.set(database=scratch_name)
    args, env = libpq_arguments(scratch_url)
    assert all(str(url.password or "\0") not in arg for arg in args)  # only in PGPASSWORD
    restore = subprocess.run(
        [
            postgres_tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            *args,
            "--dbname",
            scratch_name,
            str(backup),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert restore.returncode == 0, restore.stderr
    counted = subprocess.run(
        [
            postgres_tool("psql"),
            *args,
            "--dbname",
            scratch_name,
            "-At",
            "-c",
            "SELECT code FROM customer WHERE code LIKE 'BK%' ORDER BY code",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert counted.returncode == 0, counted.stderr
    codes = counted.stdout.split()

    scratch = create_app(
        {
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "SQLALCHEMY_DATABASE_URI": scratch_url.render_as_string(hide_password=False),
        }
    )
    try:
        counts = _app_counts(scratch)
        _check_snapshot(counts, codes, before, after)
        _migrated_to_head(scratch)
        _sign_in_works(scratch)
    finally:
        with scratch.app_context():
            db.session.remove()
            db.engine.dispose()
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch_name}" WITH (FORCE)')


def test_postgres_tools_are_found():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("PostgreSQL only")
    for tool in ("pg_dump", "pg_restore", "psql"):
        assert Path(postgres_tool(tool)).exists()
