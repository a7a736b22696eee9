"""Faults and hardening: the database going away and coming back, saves that fail
half-way, server errors, and user text that looks like HTML.

The outage tests run a scratch app on a database of its own, so stopping it
does not disturb the other tests: on PostgreSQL (``DATABASE_URL``, as in CI)
a private server started here with ``initdb``/``pg_ctl`` and really stopped and
started; on SQLite the database file's folder is moved away and back (and the
pool emptied, as a lost connection would be).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import ProgrammingError

from app import create_app
from app.extensions import db
from app.models import ChangeRecord, Contact, Customer
from app.services import history
from factories import make_contact, make_customer
from helpers import PASSWORD, Visitor, visible_text

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
UNAVAILABLE = "暂时无法连接数据库"


# ------------------------------------------------------- a save that fails half-way


@pytest.fixture
def broken_history(monkeypatch):
    """The history row, the second statement of every save, cannot be written."""

    def refuse(session, rows):
        raise RuntimeError("history table on fire: INSERT INTO change_record ...")

    monkeypatch.setattr(history, "_write", refuse)


def _history_rows(db_session, model: str) -> int:
    return db_session.scalar(
        select(func.count()).select_from(ChangeRecord).where(ChangeRecord.model == model)
    )


CUSTOMER_FORM = {
    "code": "C880001",
    "name": "半途客户",
    "status": "signed",
    "phone": "021-62345678",
    "email": "half@example.com",
}


def test_a_page_add_that_fails_half_way_stores_nothing(admin, db_session, broken_history):
    before = _history_rows(db_session, "Customer")
    admin.get("/customers/list/")  # where the add page returns to
    response = admin.post("/customers/add", CUSTOMER_FORM)
    assert response.status_code == 302
    shown = visible_text(admin.get(response.headers["Location"]))
    assert "保存失败，没有保存任何内容" in shown
    assert "RuntimeError" not in shown and "INSERT" not in shown and "on fire" not in shown
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Customer)) == 0
    assert _history_rows(db_session, "Customer") == before


def test_a_page_edit_that_fails_half_way_changes_nothing(admin, db_session, monkeypatch):
    customer = make_customer(code="C880002", name="原名")
    monkeypatch.setattr(history, "_write", lambda session, rows: 1 / 0)
    admin.get("/customers/list/")
    response = admin.post(
        f"/customers/edit/{customer.id}",
        {"code": "C880002", "name": "新名", "status": "signed", "row_version": "1"},
    )
    assert response.status_code == 302
    assert "保存失败，没有保存任何内容" in visible_text(admin.get(response.headers["Location"]))
    db_session.expire_all()
    row = db_session.get(Customer, customer.id)
    assert (row.name, row.row_version) == ("原名", 1)


def test_a_page_delete_that_fails_half_way_deletes_nothing(admin, db_session, monkeypatch):
    contact = make_contact(name="留下的人")
    monkeypatch.setattr(history, "_write", lambda session, rows: 1 / 0)
    admin.get("/contacts/list/")
    response = admin.post(f"/contacts/delete/{contact.id}")
    assert response.status_code == 302
    assert "保存失败" in visible_text(admin.get(response.headers["Location"]))
    db_session.expire_all()
    assert db_session.get(Contact, contact.id) is not None


def test_an_api_save_that_fails_half_way_stores_nothing(
    app, db_session, broken_history, jwt_headers
):
    client = app.test_client()
    response = client.post("/api/v1/customers/", json=CUSTOMER_FORM, headers=jwt_headers("admin"))
    assert response.status_code == 500
    assert "没有保存任何内容" in response.json["message"]
    assert "INSERT" not in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_duplicate_the_rules_missed_is_refused_without_sql(
    app, db_session, monkeypatch, jwt_headers
):
    """Two users saving the same code at once: the unique index refuses the second."""
    from app.services import validation

    make_customer(code="C880003")
    monkeypatch.setitem(validation.RULES, Customer, ())  # as if the check ran before the other save
    client = app.test_client()
    response = client.post(
        "/api/v1/customers/",
        json={**CUSTOMER_FORM, "code": "C880003"},
        headers=jwt_headers("admin"),
    )
    assert response.status_code == 409
    assert "没有保存任何内容" in response.json["message"]
    assert "与其他记录冲突" in response.json["message"]
    body = response.get_data(as_text=True)
    for leak in ("UNIQUE constraint", "duplicate key", "INSERT INTO", "IntegrityError"):
        assert leak not in body
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Customer)) == 1


# ------------------------------------------------------------------ server errors


@pytest.fixture
def errors_shown(app, monkeypatch):
    """As in production: an unexpected exception becomes the 500 page, not a test failure."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)


SECRET_SQL = "SELECT password FROM ab_user WHERE secret_marker = 1"


def _fail_with_sql(*args, **kwargs):
    raise ProgrammingError(SECRET_SQL, {"p": "secret_param"}, Exception("secret_driver_text"))


def test_a_page_500_shows_no_trace_and_no_sql(app, admin, monkeypatch, errors_shown):
    from app.views.customer import CustomerView

    monkeypatch.setattr(CustomerView, "_list", _fail_with_sql)
    response = admin.get("/customers/list/")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "服务器出错" in page
    for leak in (
        "Traceback",
        "secret_marker",
        "secret_param",
        "secret_driver_text",
        "ProgrammingError",
        'File "',
    ):
        assert leak not in page


def test_an_api_500_shows_no_trace_and_no_sql(app, monkeypatch, jwt_headers):
    from app.api.customer import CustomerApi

    monkeypatch.setattr(CustomerApi, "get_list_headless", _fail_with_sql)
    client = app.test_client()
    response = client.get("/api/v1/customers/", headers=jwt_headers("admin"))
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "服务器出错" in response.json["message"]
    for leak in (
        "Traceback",
        "secret_marker",
        "secret_param",
        "secret_driver_text",
        "ProgrammingError",
    ):
        assert leak not in body


# ----------------------------------------------------------------- escaping


HOSTILE = '<script>alert("x")</script>'
HOSTILE_IMG = "<img src=x onerror=alert(1)>"


def test_user_text_is_shown_as_text_on_list_show_and_messages(admin, db_session):
    customer = make_customer(name=HOSTILE, address=HOSTILE_IMG)
    make_contact(customer=customer, name=HOSTILE_IMG)
    pages = {
        "customer list": admin.get("/customers/list/"),
        "customer show": admin.get(f"/customers/show/{customer.id}"),
        "contact list": admin.get("/contacts/list/"),
        "customer edit": admin.get(f"/customers/edit/{customer.id}"),
    }
    # A refused delete names the record in its message.
    refused = admin.post(f"/customers/delete/{customer.id}")
    pages["delete message"] = admin.get(refused.headers["Location"])
    for name, response in pages.items():
        page = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert HOSTILE not in page and HOSTILE_IMG not in page, name
        assert "&lt;script&gt;" in page or "&lt;img" in page, name
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages["customer show"].get_data(
        as_text=True
    ) or "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in pages["customer show"].get_data(
        as_text=True
    )
    assert "还有" in visible_text(pages["delete message"]) or "无法删除" in visible_text(
        pages["delete message"]
    )


# ------------------------------------------------------ the database goes away


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scratch_app(url: str):
    """An app of its own on ``url``: migrated, roles applied, an admin to sign in as."""
    from flask_migrate import upgrade

    from app.services.roles import apply_roles

    scratch = create_app(
        {
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "SQLALCHEMY_DATABASE_URI": url,
        }
    )
    with scratch.app_context():
        upgrade()
        apply_roles(scratch.appbuilder)
        sm = scratch.appbuilder.sm
        sm.add_user(
            username="admin",
            first_name="admin",
            last_name="",
            email="a@example.com",
            role=sm.find_role(scratch.config["CRM_ROLE_NAMES"]["admin"]),
            password=PASSWORD,
        )
        db.session.add(Customer(code="C770001", name="停电前的客户", status="signed"))
        db.session.commit()
        db.session.remove()
    return scratch


def _working(scratch, visitor, token) -> None:
    assert scratch.test_client().get("/health").status_code == 200
    listing = visitor.get("/customers/list/")
    assert listing.status_code == 200 and "停电前的客户" in visible_text(listing)
    api = scratch.test_client().get(
        "/api/v1/customers/", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 200 and api.json["count"] == 1


def _unavailable(scratch, visitor, token) -> None:
    health = scratch.test_client().get("/health")
    assert health.status_code == 503 and health.json["database"] != "ok"
    page = visitor.get("/customers/list/")
    assert page.status_code == 503
    assert UNAVAILABLE in visible_text(page) and "503" in visible_text(page)
    assert "Traceback" not in page.get_data(as_text=True)
    show = visitor.get("/customers/show/1")
    assert show.status_code == 503
    saved = visitor.post("/customers/add", {**CUSTOMER_FORM})
    assert saved.status_code == 503
    api = scratch.test_client().get(
        "/api/v1/customers/", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 503 and UNAVAILABLE in api.json["message"]


def _signed_in(scratch):
    visitor = Visitor(scratch)
    assert visitor.login("admin").status_code == 302
    token = (
        scratch.test_client()
        .post(
            "/api/v1/security/login",
            json={"username": "admin", "password": PASSWORD, "provider": "db"},
        )
        .json["access_token"]
    )
    return visitor, token


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite outage; on PostgreSQL the server is stopped")
def test_sqlite_database_gone_and_back(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    scratch = _scratch_app(f"sqlite:///{folder / 'crm.sqlite3'}")
    visitor, token = _signed_in(scratch)
    _working(scratch, visitor, token)

    folder.rename(tmp_path / "moved-away")
    with scratch.app_context():
        db.engine.dispose()  # open connections would still reach the moved file
    _unavailable(scratch, visitor, token)

    (tmp_path / "moved-away").rename(folder)
    _working(scratch, visitor, token)  # the same app, no restart
    with scratch.app_context():
        db.engine.dispose()


def _pg_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)],
    )
    if not found:
        pytest.fail("DATABASE_URL is PostgreSQL but no pg_ctl under /usr/lib/postgresql")
    return found[-1].parent


def _as_postgres(command: list[str]) -> None:
    """Run a server command as the ``postgres`` user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        command = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)]
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120
    )


@pytest.fixture
def private_postgres():
    """A throwaway PostgreSQL server: (URL, stop, start)."""
    pg_bin = _pg_bin()
    data = Path(tempfile.mkdtemp(prefix="crm-fault-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = _free_port()
    _as_postgres(
        [str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
    )
    pg_ctl = [str(pg_bin / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "server.log")]
    options = f"'-h 127.0.0.1 -p {port} -k {data} -c fsync=off'"

    def start():
        _as_postgres([*pg_ctl, "-o", options, "start"])

    def stop():
        _as_postgres([*pg_ctl, "-m", "fast", "stop"])

    start()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop, start
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="PostgreSQL outage; runs when DATABASE_URL is "
    "PostgreSQL (CI); on SQLite the folder test runs",
)
def test_postgres_server_stopped_and_started(private_postgres):
    url, stop, start = private_postgres
    scratch = _scratch_app(url)
    visitor, token = _signed_in(scratch)
    _working(scratch, visitor, token)

    stop()
    _unavailable(scratch, visitor, token)

    start()
    _working(scratch, visitor, token)  # the same app and pool, no restart
    with scratch.app_context():
        db.engine.dispose()
