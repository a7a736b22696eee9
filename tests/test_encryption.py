"""身份证号 encrypted at rest: ciphertext in the database and its backups, exact search
through the keyed hash, ``crm keys rotate`` while the data stays readable."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import prison
import pytest
from cryptography.fernet import Fernet, InvalidToken
from openpyxl import Workbook
from sqlalchemy import select, text

from app.extensions import db
from app.models import ChangeRecord, Contact
from app.models.audit import AuditEvent
from app.permissions import ADMIN, SALES
from app.services import audit, encryption
from factories import make_contact, make_customer
from helpers import unescaped_html

# Used by no other test: the bytes of the database file are searched for it.
CLEAR = "440306198503171235"
OTHER = "11010519491231002X"


def _contacts_workbook(rows) -> bytes:
    """An import file of contacts (the template's Chinese header, as tests/test_import.py)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "联系人"
    sheet.append(
        ["客户编码 *", "姓名 *", "职位", "出生年月", "身份证号", "电话", "电子邮箱", "地址", "状态"]
    )
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _raw(db_session, contact_id: int) -> tuple[str | None, str | None]:
    row = db_session.execute(
        text("SELECT national_id_encrypted, national_id_hash FROM contact WHERE id = :id"),
        {"id": contact_id},
    ).one()
    return row[0], row[1]


def _contact_with_history(db_session) -> Contact:
    contact = make_contact(make_customer(), national_id=OTHER)
    contact.national_id = CLEAR  # an update: the history holds the old and the new number
    db_session.commit()
    return contact


def _is_sqlite(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def test_the_column_and_the_history_hold_ciphertext_and_the_model_clear_text(db_session):
    contact = _contact_with_history(db_session)
    raw, hashed = _raw(db_session, contact.id)
    assert raw and CLEAR not in raw and raw.startswith("gAAAAA")  # a Fernet token
    assert hashed == encryption.digest(CLEAR) == encryption.digest(CLEAR.lower())
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).national_id == CLEAR
    stored = db_session.scalars(
        text("SELECT changes FROM change_record WHERE model = 'Contact' AND row_id = :id"),
        {"id": contact.id},
    ).all()
    assert stored and not any(CLEAR in changes or OTHER in changes for changes in stored)
    items = [
        item
        for record in db_session.scalars(
            select(ChangeRecord).where(
                ChangeRecord.model == "Contact", ChangeRecord.row_id == contact.id
            )
        )
        for item in record.change_items()
        if item[0] == "national_id"
    ]
    assert ("national_id", None, OTHER) in items and ("national_id", OTHER, CLEAR) in items


def test_the_hash_follows_every_write(app, db_session, login_as, jwt_headers):
    customer = make_customer(code="ENC001")
    admin = login_as(ADMIN)
    response = admin.post(
        "/contacts/add",
        {"customer": customer.id, "name": "页面联系人", "national_id": CLEAR, "status": "active"},
    )
    assert response.status_code == 302
    response = app.test_client().post(
        "/api/v1/contacts/",
        headers=jwt_headers(ADMIN),
        json={
            "customer": customer.id,
            "name": "接口联系人",
            "national_id": OTHER.lower(),
            "status": "active",
        },
    )
    assert response.status_code == 201, response.json
    rows = [["ENC001", "导入联系人", None, None, CLEAR, None, None, None, "在职"]]
    response = admin.post(
        "/contacts/import/",
        data={"file": (io.BytesIO(_contacts_workbook(rows)), "导入.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db_session.expire_all()
    contacts = {c.name: c for c in db_session.scalars(select(Contact))}
    for name, number in (("页面联系人", CLEAR), ("接口联系人", OTHER), ("导入联系人", CLEAR)):
        assert contacts[name].national_id.upper() == number
        assert _raw(db_session, contacts[name].id)[1] == encryption.digest(number)
    contacts["页面联系人"].national_id = None  # as anonymising does
    db_session.commit()
    assert _raw(db_session, contacts["页面联系人"].id) == (None, None)


def test_search_by_the_full_number_finds_the_contact_on_page_api_and_global_search(
    app, db_session, signed_in, jwt_headers
):
    contact = make_contact(make_customer(), national_id=CLEAR)
    make_contact(make_customer(), national_id=OTHER)
    visitor = signed_in(SALES)
    link = f"/contacts/show/{contact.id}"
    page = unescaped_html(visitor.get(f"/contacts/list/?_flt_0_national_id={CLEAR}"))
    assert link in page  # "equal to"
    page = unescaped_html(visitor.get(f"/contacts/list/?_flt_0_national_id={CLEAR[:10]}"))
    assert link not in page  # a part of the number finds nothing: no clear text to look in
    page = unescaped_html(visitor.get(f"/contacts/list/?_flt_1_national_id={CLEAR}"))
    assert link not in page  # "not equal to"
    for index in (2, 7):  # "contains", "not equal to" before the number was encrypted
        response = visitor.get(f"/contacts/list/?_flt_{index}_national_id={CLEAR}")
        assert response.status_code == 200 and link in unescaped_html(response)  # no filter
    assert link in unescaped_html(visitor.get(f"/search/?q={CLEAR}"))

    client, headers = app.test_client(), jwt_headers(SALES)
    query = prison.dumps({"filters": [{"col": "national_id", "opr": "eq", "value": CLEAR.lower()}]})
    response = client.get(f"/api/v1/contacts/?q={query}", headers=headers)
    assert response.status_code == 200, response.json
    assert [row["national_id"] for row in response.json["result"]] == [CLEAR]
    query = prison.dumps({"filters": [{"col": "national_id", "opr": "ct", "value": CLEAR}]})
    response = client.get(f"/api/v1/contacts/?q={query}", headers=headers)
    assert response.status_code == 400  # only equal and not equal: a part cannot be found


def test_the_database_file_and_a_backup_hold_no_clear_number(app, db_session, tmp_path):
    contact_id = _contact_with_history(db_session).id
    db_session.remove()
    target = tmp_path / "encrypted-backup"
    result = app.test_cli_runner().invoke(args=["crm", "backup", str(target)])
    if not _is_sqlite(app):
        with app.app_context():
            raw = _raw(db.session, contact_id)[0]
            assert CLEAR not in raw
            db.session.remove()
        if result.exit_code != 0 and shutil.which("pg_restore") is None:
            pytest.skip("no pg_dump here to back the PostgreSQL database up")
        assert result.exit_code == 0, result.output
        from app.cli.backup import postgres_tool

        script = subprocess.run(
            [postgres_tool("pg_restore"), "-f", "-", str(target)],
            capture_output=True,
            check=True,
        ).stdout
        assert b"national_id_encrypted" in script and CLEAR.encode() not in script
        return
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()
        database = Path(db.engine.url.database).read_bytes()
    backup = target.read_bytes()
    assert b"national_id_encrypted" in backup
    for data in (database, backup):
        assert CLEAR.encode() not in data and CLEAR.encode("utf-16-le") not in data


def _key_file(app) -> Path:
    return Path(app.config["CRM_DATA_KEY_FILE"])


def test_rotation_reencrypts_while_old_values_read_and_the_old_key_can_go(app, db_session):
    contact = _contact_with_history(db_session)
    before, hashed = _raw(db_session, contact.id)
    old_keys = encryption.keyring().fernet_keys
    last_event = db_session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    db_session.remove()

    result = app.test_cli_runner().invoke(args=["crm", "keys", "rotate", "--batch-size", "1"])
    assert result.exit_code == 0, (result.output, result.exception)

    keys = encryption.read_key_file(_key_file(app))
    assert keys.fernet_keys[1:] == old_keys and keys.fernet_keys[0] not in old_keys
    after, hashed_after = _raw(db_session, contact.id)
    assert after != before and hashed_after == hashed  # the hash key stays
    assert Fernet(keys.fernet_keys[0]).decrypt(after.encode()).decode() == CLEAR
    assert db_session.get(Contact, contact.id).national_id == CLEAR
    sealed = db_session.scalars(
        text("SELECT changes FROM change_record WHERE model = 'Contact' AND row_id = :id"),
        {"id": contact.id},
    ).all()
    tokens = [
        value[len(encryption.SEALED) :]
        for changes in sealed
        for change in json.loads(changes).values()
        for value in (change.get("old"), change.get("new"))
        if isinstance(value, str) and value.startswith(encryption.SEALED)
    ]
    assert len(tokens) == 3  # created with OTHER, then OTHER -> CLEAR
    for token in tokens:
        Fernet(keys.fernet_keys[0]).decrypt(token.encode())  # the new key alone opens them
        with pytest.raises(InvalidToken):
            Fernet(old_keys[0]).decrypt(token.encode())

    event = db_session.scalar(
        select(AuditEvent).where(
            AuditEvent.kind == audit.KEYS_ROTATED, AuditEvent.id > (last_event or 0)
        )
    )
    assert event is not None and event.username is None
    assert json.loads(event.details)["rows"] >= 1
    with app.test_request_context():  # the page's language
        assert audit.kind_label(audit.KEYS_ROTATED) == "数据密钥轮换"

    # The old keys removed from the file: every value still reads, the search still finds.
    db_session.remove()
    result = app.test_cli_runner().invoke(args=["crm", "keys", "rotate", "--retire-old"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert len(encryption.read_key_file(_key_file(app)).fernet_keys) == 1
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).national_id == CLEAR
    assert (
        db_session.scalar(
            select(Contact.id).where(Contact.national_id_hash == encryption.digest(CLEAR))
        )
        == contact.id
    )
    record = db_session.scalar(
        select(ChangeRecord)
        .where(ChangeRecord.model == "Contact", ChangeRecord.row_id == contact.id)
        .order_by(ChangeRecord.id.desc())
    )
    assert ("national_id", OTHER, CLEAR) in record.change_items()


def test_with_the_key_in_the_environment_rotation_reencrypts_with_the_first_key(app, db_session):
    contact_id = make_contact(make_customer(), national_id=CLEAR).id
    current = encryption.keyring()
    new_key = Fernet.generate_key()
    db_session.remove()
    app.config["CRM_DATA_KEY"] = ",".join(k.decode() for k in (new_key, *current.fernet_keys))
    try:
        refused = app.test_cli_runner().invoke(args=["crm", "keys", "rotate"])
        assert refused.exit_code != 0 and "CRM_DATA_KEY" in refused.output
        result = app.test_cli_runner().invoke(args=["crm", "keys", "rotate", "--reencrypt-only"])
        assert result.exit_code == 0, (result.output, result.exception)
        with app.app_context():
            raw = _raw(db.session, contact_id)[0]
            db.session.remove()
        assert Fernet(new_key).decrypt(raw.encode()).decode() == CLEAR
    finally:
        app.config["CRM_DATA_KEY"] = None
        encryption.forget_keys()
    # back to the file's keys: put the environment's first key in it so the row reads
    keys = encryption.read_key_file(_key_file(app))
    encryption.write_key_file(_key_file(app), (new_key, *keys.fernet_keys), keys.hash_key)
    with app.app_context():
        assert db.session.get(Contact, contact_id).national_id == CLEAR
        db.session.remove()
