"""The schema belongs to the migrations: they build it on an empty database and match the models.

Each test works on a scratch database of the same kind as the suite's (a fresh
SQLite file, or a scratch PostgreSQL database when ``DATABASE_URL`` names a
server), never on the session's database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.extensions import db
from app.permissions import ROLE_GRANTS
from app.services import search

ROOT = Path(__file__).resolve().parent.parent
HEAD = "0014"


def _postgres_base() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


@pytest.fixture
def scratch_url(tmp_path):
    """An empty database of the suite's kind, dropped afterwards."""
    base = _postgres_base()
    if base is None:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    import psycopg

    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"crm_scratch_{uuid.uuid4().hex[:12]}"
    server = url.set(drivername="postgresql", database=url.database or "postgres")
    dsn = server.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def scratch_app(scratch_url):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": scratch_url, "RATELIMIT_ENABLED": False}
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _tables(app) -> set[str]:
    """The tables of the models (the search index's FTS5 tables are not models)."""
    with app.app_context():
        names = inspect(db.engine).get_table_names()
    return {name for name in names if not search.is_search_structure(name)}


def _cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_upgrade_builds_every_table_on_an_empty_database(scratch_app):
    assert _tables(scratch_app) == set()
    _cli(scratch_app, "db", "upgrade")
    assert _tables(scratch_app) == set(Model.metadata.tables) | {"alembic_version"}
    with scratch_app.app_context():
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == HEAD
    # a second upgrade has nothing to do and changes nothing
    _cli(scratch_app, "db", "upgrade")
    assert _tables(scratch_app) == set(Model.metadata.tables) | {"alembic_version"}


def test_models_and_migration_agree(scratch_app):
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": search.include_object}
        )
        differences = compare_metadata(context, Model.metadata)
    assert differences == [], "run `make migration MESSAGE=...`: " + repr(differences)


def test_a_database_of_the_first_release_upgrades_and_keeps_its_rows(scratch_app):
    """0002 adds record versions to tables that already hold rows: each starts at 1."""
    _cli(scratch_app, "db", "upgrade", "0001")
    with scratch_app.app_context():
        db.session.execute(
            text(
                "INSERT INTO customer (code, name, status, created_on, changed_on) "
                "VALUES ('C-OLD', '老客户', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        row = db.session.execute(
            text("SELECT name, row_version FROM customer WHERE code = 'C-OLD'")
        ).one()
        db.session.remove()
    assert tuple(row) == ("老客户", 1)


def test_downgrade_removes_the_schema_and_upgrade_rebuilds_it(scratch_app):
    _cli(scratch_app, "db", "upgrade")
    _cli(scratch_app, "db", "downgrade", "base")
    assert _tables(scratch_app) <= {"alembic_version"}
    _cli(scratch_app, "db", "upgrade")
    assert set(Model.metadata.tables) <= _tables(scratch_app)


def test_migrated_schema_enforces_the_rules_too(scratch_app):
    """The database backs the page rules up: unique values, checks, foreign keys."""
    _cli(scratch_app, "db", "upgrade")
    statements = {
        "duplicate code": "INSERT INTO customer (code, name, status, created_on, changed_on) "
        "VALUES ('C1', 'again', 'signed', :now, :now)",
        "unknown status": "INSERT INTO customer (code, name, status, created_on, changed_on) "
        "VALUES ('C2', 'x', 'bogus', :now, :now)",
        "negative amount": "INSERT INTO contract (customer_id, number, amount, created_on, "
        "changed_on) VALUES (:customer, 'HT-1', -1, :now, :now)",
        "missing customer": "INSERT INTO contact (customer_id, name, status, created_on, "
        "changed_on) VALUES (999999, 'x', 'active', :now, :now)",
        "zero seats": "INSERT INTO license (customer_id, product_id, serial, seats, valid_from, "
        "valid_to, is_trial, created_on, changed_on) VALUES (:customer, :product, 'S1', 0, "
        ":now, :now, false, :now, :now)",
        "license dates": "INSERT INTO license (customer_id, product_id, serial, seats, "
        "valid_from, valid_to, is_trial, created_on, changed_on) VALUES (:customer, :product, "
        "'S2', 1, '2026-02-01', '2026-01-01', false, :now, :now)",
    }
    with scratch_app.app_context():
        with db.engine.begin() as connection:
            now = date(2026, 1, 1)
            connection.execute(
                text(
                    "INSERT INTO customer (code, name, status, created_on, changed_on) "
                    "VALUES ('C1', 'first', 'signed', :now, :now)"
                ),
                {"now": now},
            )
            customer = connection.scalar(text("SELECT id FROM customer"))
            connection.execute(
                text(
                    "INSERT INTO product (customer_id, name, created_on, changed_on) "
                    "VALUES (:customer, 'p', :now, :now)"
                ),
                {"customer": customer, "now": now},
            )
            product = connection.scalar(text("SELECT id FROM product"))
        params = {"customer": customer, "product": product, "now": now}
        for why, statement in statements.items():
            with pytest.raises(IntegrityError), db.engine.begin() as connection:
                connection.execute(text(statement), params)
                pytest.fail(f"the database accepted: {why}")  # pragma: no cover


@pytest.mark.skipif(_postgres_base() is not None, reason="the SQLite file case of the README")
def test_readme_commands_build_a_fresh_sqlite_database(tmp_path):
    """``db upgrade`` and ``crm init`` as `make run` types them, in a new instance folder,
    twice: the second start, like every later one, says nothing but the roles' state."""
    env = {
        **os.environ,
        "CRM_INSTANCE_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "SQLALCHEMY_DATABASE_URI": "",
    }
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run(
        [str(flask), "--app", "run.py", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    try:
        assert set(Model.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    for _run in (1, 2):
        init = subprocess.run(
            [str(flask), "--app", "run.py", "crm", "init"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert init.returncode == 0, init.stderr
    # e.g. FAB pruning a resource shared by two pages with different permission lists
    assert "Refused" not in init.stdout + init.stderr, init.stderr
    assert init.stdout.count("保留现有设置") == len(ROLE_GRANTS), init.stdout


def test_0004_gives_salespeoples_customers_their_owner_and_pools_the_rest(scratch_app):
    """A customer created by a user with the sales role is theirs; any other goes to the pool."""
    _cli(scratch_app, "db", "upgrade", "0003")
    with scratch_app.app_context():
        for statement in (
            "INSERT INTO ab_role (id, name) VALUES (1, '销售'), (2, '客服')",
            "INSERT INTO ab_user (id, first_name, last_name, username, email, active) VALUES "
            "(1, '张三', '', 'zhang', 'z@example.com', true), (2, '李四', '', 'li', 'l@example.com', true)",
            "INSERT INTO ab_user_role (id, user_id, role_id) VALUES (1, 1, 1), (2, 2, 2)",
            "INSERT INTO customer (code, name, status, created_on, changed_on, created_by_fk) VALUES "
            "('C-SALES', '销售建的', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1), "
            "('C-DESK', '客服建的', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 2), "
            "('C-CLI', '命令行建的', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, NULL)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        owners = dict(db.session.execute(text("SELECT code, owner_id FROM customer")).all())
        departments = db.session.scalar(text("SELECT count(*) FROM department"))
        db.session.remove()
    assert owners == {"C-SALES": 1, "C-DESK": None, "C-CLI": None}
    assert departments == 0


def test_0005_fills_in_the_resolution_time_of_the_rows_already_there(scratch_app):
    """Rows written before 0005 get the seconds the app would store; open ones stay NULL."""
    from datetime import datetime

    from app.models.feedback import resolution_seconds

    _cli(scratch_app, "db", "upgrade", "0003")
    spans = [
        (datetime(2026, 1, 1, 9, 0), datetime(2026, 1, 1, 13, 0)),
        (datetime(2026, 1, 1, 9, 0, 0, 999_999), datetime(2026, 1, 2, 9, 0, 0, 100)),
        (datetime(2026, 3, 28, 12, 0, 0, 1), datetime(2026, 11, 1, 12, 0)),
        (datetime(2026, 2, 1, 8, 0), None),
    ]
    with scratch_app.app_context():
        db.session.execute(
            text(
                "INSERT INTO customer (code, name, status, created_on, changed_on) "
                "VALUES ('C-OLD', '老客户', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        customer = db.session.scalar(text("SELECT id FROM customer"))
        db.session.execute(
            text(
                "INSERT INTO reporter (customer_id, name, created_on, changed_on) "
                "VALUES (:customer, '店长', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"customer": customer},
        )
        reporter = db.session.scalar(text("SELECT id FROM reporter"))
        for number, (created, resolved) in enumerate(spans):
            db.session.execute(
                text(
                    "INSERT INTO feedback (id, customer_id, reporter_id, problem, created_at, "
                    "resolved_at, level, status, created_on, changed_on) VALUES (:id, :customer, "
                    ":reporter, '无法打印', :created, :resolved, 'high', :status, :created, "
                    ":created)"
                ),
                {
                    "id": number + 1,
                    "customer": customer,
                    "reporter": reporter,
                    "created": created,
                    "resolved": resolved,
                    "status": "new" if resolved is None else "resolved",
                },
            )
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        stored = db.session.execute(
            text("SELECT id, resolution_seconds FROM feedback ORDER BY id")
        ).all()
        indexes = {index["name"] for index in inspect(db.engine).get_indexes("feedback")}
        db.session.remove()
    assert [seconds for _id, seconds in stored] == [
        resolution_seconds(created, resolved) for created, resolved in spans
    ]
    assert [seconds for _id, seconds in stored] == [14400, 86400, 18835200, None]
    assert "ix_feedback_customer_status" in indexes


def test_0007_adds_follow_ups_to_a_database_with_customers(scratch_app):
    """Customers stored before 0007 keep their rows, have no follow-up times yet, and
    get them from the first follow-up written by the app."""
    from datetime import datetime

    from app.models import Customer, FollowUp, FollowUpMethod

    _cli(scratch_app, "db", "upgrade", "0006")
    with scratch_app.app_context():
        db.session.execute(
            text(
                "INSERT INTO customer (code, name, status, created_on, changed_on) "
                "VALUES ('C-OLD', '老客户', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        customer = db.session.scalar(db.select(Customer).where(Customer.code == "C-OLD"))
        assert (customer.name, customer.last_followup_at, customer.next_followup_at) == (
            "老客户",
            None,
            None,
        )
        db.session.add(
            FollowUp(
                customer=customer,
                method=FollowUpMethod.phone,
                content="电话回访",
                followed_at=datetime(2026, 11, 2, 10, 0),
                next_at=datetime(2026, 11, 9, 10, 0),
            )
        )
        db.session.commit()
        assert customer.last_followup_at == datetime(2026, 11, 2, 10, 0)
        assert customer.next_followup_at == datetime(2026, 11, 9, 10, 0)
        db.session.remove()


def test_0008_turns_each_contracts_payment_date_and_amount_into_a_one_instalment_plan(
    scratch_app,
):
    """Contracts of schema 0006: an amount gets one instalment on its payment date (or,
    without one, its end date); a contract of amount 0 gets no plan."""
    _cli(scratch_app, "db", "upgrade", "0006")
    with scratch_app.app_context():
        db.session.execute(
            text(
                "INSERT INTO customer (id, code, name, status, created_on, changed_on) "
                "VALUES (7, 'C-OLD', '老客户', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO contract (id, customer_id, number, sign_date, end_date, "
                "payment_date, amount, created_on, changed_on) VALUES "
                "(1, 7, 'HT-1', '2025-01-01', '2025-12-31', '2025-03-15', 12345.67, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(2, 7, 'HT-2', '2025-01-01', '2025-06-30', NULL, 500.00, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(3, 7, 'HT-3', NULL, NULL, NULL, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        rows = db.session.execute(
            text(
                "SELECT contract_id, customer_id, instalment, planned_date, planned_amount, "
                "row_version FROM payment_plan ORDER BY contract_id"
            )
        ).all()
        db.session.remove()
    from decimal import Decimal

    assert [(*map(str, row[:4]), Decimal(str(row[4])), row[5]) for row in rows] == [
        ("1", "7", "1", "2025-03-15", Decimal("12345.67"), 1),
        ("2", "7", "1", "2025-06-30", Decimal("500.00"), 1),
    ]


def test_0009_adds_the_security_log_and_keeps_the_accounts(scratch_app):
    """Accounts of 0006 keep their rows and need no password change; the log starts empty."""
    _cli(scratch_app, "db", "upgrade", "0006")
    with scratch_app.app_context():
        db.session.execute(
            text(
                "INSERT INTO ab_user (id, first_name, last_name, username, email, active) "
                "VALUES (1, '张三', '', 'zhang', 'z@example.com', true)"
            )
        )
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        row = db.session.execute(
            text("SELECT username, must_change_password FROM ab_user WHERE id = 1")
        ).one()
        assert (row[0], bool(row[1])) == ("zhang", False)
        assert db.session.scalar(text("SELECT count(*) FROM audit_event")) == 0
    _cli(scratch_app, "db", "downgrade", "0006")
    with scratch_app.app_context():
        assert "audit_event" not in inspect(db.engine).get_table_names()
        columns = {column["name"] for column in inspect(db.engine).get_columns("ab_user")}
        assert "must_change_password" not in columns


def test_0010_keeps_the_reporter_notices_and_holds_one_reminder_per_user_and_day(scratch_app):
    """Notices of 0009 keep their feedback; a reminder needs none, and a second one
    for the same user and day is refused by the database itself."""
    from sqlalchemy.exc import IntegrityError

    _cli(scratch_app, "db", "upgrade", "0009")
    with scratch_app.app_context():
        for statement in (
            "INSERT INTO ab_user (id, first_name, last_name, username, email, active, "
            "must_change_password) VALUES (1, '张三', '', 'zhang', 'z@example.com', true, false)",
            "INSERT INTO customer (id, code, name, status, created_on, changed_on) "
            "VALUES (1, 'C-OLD', '老客户', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            "INSERT INTO reporter (id, customer_id, name, created_on, changed_on) "
            "VALUES (1, 1, '店长', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            "INSERT INTO feedback (id, customer_id, reporter_id, problem, created_at, level, "
            "status, created_on, changed_on) VALUES (1, 1, 1, '无法打印', CURRENT_TIMESTAMP, "
            "'high', 'new', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            "INSERT INTO feedback_notification (feedback_id, channel, recipient, subject, "
            "body, state, queued_at, created_on, changed_on) VALUES (1, 'email', "
            "'r@example.com', '已解决', '您好', 'sent', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    reminder = (
        "INSERT INTO feedback_notification (user_id, reminder_day, channel, recipient, subject, "
        "body, state, queued_at, created_on, changed_on) VALUES (1, '2026-06-15', 'email', "
        "'z@example.com', '今日跟进', '您好', 'pending', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
        "CURRENT_TIMESTAMP)"
    )
    with scratch_app.app_context():
        assert db.session.execute(
            text("SELECT feedback_id, recipient FROM feedback_notification")
        ).all() == [(1, "r@example.com")]
        db.session.execute(text(reminder))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text(reminder))
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(text("SELECT count(*) FROM feedback_notification")) == 2
        db.session.remove()
    _cli(scratch_app, "db", "downgrade", "0009")
    with scratch_app.app_context():
        assert db.session.execute(
            text("SELECT feedback_id, recipient FROM feedback_notification")
        ).all() == [(1, "r@example.com")]


def test_0011_encrypts_the_national_ids_already_stored(scratch_app):
    """Clear numbers of 0009 become ciphertext with a matching hash, history values too."""
    import json

    from app.models import ChangeRecord, Contact
    from app.services import encryption

    clear = "11010519491231002X"
    _cli(scratch_app, "db", "upgrade", "0009")
    with scratch_app.app_context():
        now = date(2026, 1, 1)
        db.session.execute(
            text(
                "INSERT INTO customer (id, code, name, status, row_version, created_on, "
                "changed_on) VALUES (1, 'C1', '客户', 'signed', 1, :now, :now)"
            ),
            {"now": now},
        )
        db.session.execute(
            text(
                "INSERT INTO contact (id, customer_id, name, national_id, status, row_version, "
                "created_on, changed_on) VALUES (1, 1, '张三', :clear, 'active', 1, :now, :now), "
                "(2, 1, '李四', NULL, 'active', 1, :now, :now)"
            ),
            {"now": now, "clear": clear},
        )
        changes = json.dumps({"national_id": {"old": None, "new": clear}, "name": {"new": "张三"}})
        db.session.execute(
            text(
                "INSERT INTO change_record (changed_at, model, row_id, action, changes) "
                "VALUES (:now, 'Contact', 1, 'create', :changes)"
            ),
            {"now": now, "changes": changes},
        )
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        raw, hashed = db.session.execute(
            text("SELECT national_id_encrypted, national_id_hash FROM contact WHERE id = 1")
        ).one()
        assert raw and clear not in raw
        assert hashed == encryption.digest(clear)
        assert db.session.get(Contact, 1).national_id == clear
        assert db.session.get(Contact, 2).national_id is None
        stored = db.session.scalar(text("SELECT changes FROM change_record"))
        assert clear not in stored
        record = db.session.scalar(select(ChangeRecord))
        assert ("national_id", None, clear) in record.change_items()
        db.session.remove()
        if db.engine.dialect.name == "sqlite":  # freed pages zeroed, not holding the numbers
            db.engine.dispose()
            assert clear.encode() not in Path(db.engine.url.database).read_bytes()
    _cli(scratch_app, "db", "downgrade", "0009")
    with scratch_app.app_context():
        assert db.session.scalar(text("SELECT national_id FROM contact WHERE id = 1")) == clear
        assert clear in db.session.scalar(text("SELECT changes FROM change_record"))
        db.session.remove()


# A customer with a contract and its first instalment, as the payment tables' tests
# store them under an older revision.
OLD_INSTALMENT = (
    "INSERT INTO customer (id, code, name, status, created_on, changed_on) "
    "VALUES (7, 'C-OLD', '老客户', 'signed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO contract (id, customer_id, number, amount, created_on, changed_on) "
    "VALUES (1, 7, 'HT-1', 1000.00, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO payment_plan (id, contract_id, customer_id, instalment, planned_date, "
    "planned_amount, created_on, changed_on) VALUES "
    "(1, 1, 7, 1, '2025-03-01', 600.00, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
)


def test_0012_indexes_the_payments_already_there(scratch_app):
    """Payments and instalments stored under 0009 keep their rows and get the report's
    covering indexes; downgrading drops only those."""
    _cli(scratch_app, "db", "upgrade", "0009")
    with scratch_app.app_context():
        for statement in (
            *OLD_INSTALMENT,
            "INSERT INTO payment (id, contract_id, customer_id, paid_on, amount, method, "
            "created_on, changed_on) VALUES "
            "(1, 1, 7, '2025-03-05', 250.50, 'bank_transfer', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
    _cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        inspector = inspect(db.engine)
        payment = {index["name"] for index in inspector.get_indexes("payment")}
        plan = {index["name"] for index in inspector.get_indexes("payment_plan")}
        assert {"ix_payment_paid_on_amount", "ix_payment_contract_paid_amount"} <= payment
        assert {"ix_payment_plan_date_amount", "ix_payment_plan_schedule"} <= plan
        from decimal import Decimal

        amount = db.session.scalar(text("SELECT amount FROM payment WHERE id = 1"))
        assert Decimal(str(amount)) == Decimal("250.50")
        db.session.remove()
    _cli(scratch_app, "db", "downgrade", "0009")
    with scratch_app.app_context():
        payment = {index["name"] for index in inspect(db.engine).get_indexes("payment")}
        assert "ix_payment_paid_on_amount" not in payment and "ix_payment_paid_on" in payment
        db.session.remove()


def _schedule_columns(app) -> list[str]:
    with app.app_context():
        indexes = inspect(db.engine).get_indexes("payment_plan")
        db.session.remove()
    return next(i["column_names"] for i in indexes if i["name"] == "ix_payment_plan_schedule")


def test_0013_puts_the_customer_in_the_schedule_index_of_the_instalments_there(scratch_app):
    """Instalments stored under 0012 keep their rows; the schedule index gains the
    customer (the receivables report reads it alone), and loses it on downgrade."""
    _cli(scratch_app, "db", "upgrade", "0012")
    with scratch_app.app_context():
        for statement in (
            *OLD_INSTALMENT,
            "INSERT INTO payment_plan (id, contract_id, customer_id, instalment, planned_date, "
            "planned_amount, created_on, changed_on) VALUES "
            "(2, 1, 7, 2, '2025-06-01', 400.00, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        db.session.remove()
    before = ["contract_id", "planned_date", "instalment", "planned_amount"]
    assert _schedule_columns(scratch_app) == before
    _cli(scratch_app, "db", "upgrade")
    assert _schedule_columns(scratch_app) == [*before, "customer_id"]
    with scratch_app.app_context():
        rows = db.session.execute(
            text("SELECT instalment, customer_id FROM payment_plan ORDER BY instalment")
        ).all()
        assert [tuple(row) for row in rows] == [(1, 7), (2, 7)]
        db.session.remove()
    _cli(scratch_app, "db", "downgrade", "0012")
    assert _schedule_columns(scratch_app) == before


def _feedback_indexes(app) -> set[str]:
    with app.app_context():
        names = {index["name"] for index in inspect(db.engine).get_indexes("feedback")}
        db.session.remove()
    return names


def test_0014_indexes_the_feedback_already_there_by_customer_and_resolution(scratch_app):
    """Feedback stored under 0013 keeps its rows and gains the timeline's
    (customer, resolved at) index; downgrading drops only that index."""
    _cli(scratch_app, "db", "upgrade", "0013")
    with scratch_app.app_context():
        for statement in (
            OLD_INSTALMENT[0],
            "INSERT INTO reporter (id, customer_id, name, created_on, changed_on) "
            "VALUES (3, 7, '报告人', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            "INSERT INTO feedback (id, customer_id, reporter_id, problem, created_at, "
            "resolved_at, level, status, created_on, changed_on) VALUES "
            "(5, 7, 3, '打印机不出纸', '2025-03-01 09:00:00', '2025-03-02 10:00:00', "
            "'medium', 'resolved', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        sqlite = db.engine.dialect.name == "sqlite"
        if sqlite:  # an analysed database (crm demo analyses): the new index is measured too
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        db.session.remove()
    assert "ix_feedback_customer_resolved" not in _feedback_indexes(scratch_app)
    _cli(scratch_app, "db", "upgrade")
    assert "ix_feedback_customer_resolved" in _feedback_indexes(scratch_app)
    if sqlite:
        with scratch_app.app_context():
            measured = db.session.scalar(
                text("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_feedback_customer_resolved'")
            )
            db.session.remove()
        assert measured
    with scratch_app.app_context():
        row = db.session.execute(
            text("SELECT customer_id, problem, resolved_at FROM feedback WHERE id = 5")
        ).one()
        db.session.remove()
    assert (row[0], row[1], str(row[2])[:19]) == (7, "打印机不出纸", "2025-03-02 10:00:00")
    _cli(scratch_app, "db", "downgrade", "0013")
    indexes = _feedback_indexes(scratch_app)
    assert "ix_feedback_customer_resolved" not in indexes
    assert {"ix_feedback_customer_created", "ix_feedback_resolved_at"} <= indexes
