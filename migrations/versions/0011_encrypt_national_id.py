"""身份证号 encrypted at rest, with a keyed hash for exact search.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:00:00

``contact.national_id`` (clear, VARCHAR(18)) becomes
``contact.national_id_encrypted`` (a Fernet token, app/services/encryption.py)
and ``contact.national_id_hash`` (HMAC-SHA256, indexed). Every stored number
is encrypted with the app's data key (``CRM_DATA_KEY`` or
``instance/data_keys``, created now if missing), and so are the number's
values in the change history. The clear column and its index are then
dropped; on SQLite with ``secure_delete`` on, so the freed pages of the file
are zeroed rather than keeping the old numbers. A new column rather than a
wider one: SQLite would have to rebuild the table (and its search triggers).
"""

import json

import sqlalchemy as sa
from alembic import op

from app.services import encryption

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 1000


def _secure_delete(bind, on: bool) -> None:
    if bind.dialect.name == "sqlite":
        op.execute(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")


def _convert_contacts(bind, source: str, target: str, convert, with_hash: bool) -> None:
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, {source} FROM contact WHERE id > :last AND {source} IS NOT NULL "
                "ORDER BY id LIMIT :size"
            ),
            {"last": last, "size": BATCH},
        ).all()
        if not rows:
            return
        params = []
        for row_id, value in rows:
            clear = value if with_hash else None
            params.append(
                {
                    "id": row_id,
                    "value": convert(value),
                    "hash": encryption.digest(clear) if with_hash else None,
                }
            )
        assignment = f"{target} = :value" + (", national_id_hash = :hash" if with_hash else "")
        bind.execute(sa.text(f"UPDATE contact SET {assignment} WHERE id = :id"), params)
        last = rows[-1][0]


def _convert_history(bind, convert) -> None:
    """The number's values in the change history, in the same form as the column."""
    rows = bind.execute(
        sa.text(
            "SELECT id, changes FROM change_record WHERE model = 'Contact' "
            "AND changes LIKE '%\"national_id\"%'"
        )
    ).all()
    params = []
    for row_id, changes in rows:
        data = json.loads(changes)
        change = data.get("national_id")
        if not isinstance(change, dict):
            continue
        for side in ("old", "new"):
            if isinstance(change.get(side), str):
                change[side] = convert(change[side])
        params.append({"id": row_id, "changes": json.dumps(data, ensure_ascii=False, sort_keys=True)})
    if params:
        bind.execute(sa.text("UPDATE change_record SET changes = :changes WHERE id = :id"), params)


def upgrade():
    bind = op.get_bind()
    _secure_delete(bind, True)
    op.add_column(
        "contact",
        sa.Column("national_id_encrypted", sa.String(length=encryption.STORED_LENGTH)),
    )
    op.add_column("contact", sa.Column("national_id_hash", sa.String(length=64)))
    op.create_index("ix_contact_national_id_hash", "contact", ["national_id_hash"], unique=False)
    _convert_contacts(
        bind,
        "national_id",
        "national_id_encrypted",
        lambda value: encryption.encrypt(value.strip()),
        with_hash=True,
    )
    _convert_history(bind, encryption.seal)
    op.drop_index("ix_contact_national_id", table_name="contact")
    op.execute("ALTER TABLE contact DROP COLUMN national_id")
    _secure_delete(bind, False)


def downgrade():
    bind = op.get_bind()
    op.add_column("contact", sa.Column("national_id", sa.String(length=18)))
    op.create_index("ix_contact_national_id", "contact", ["national_id"], unique=False)
    _convert_contacts(
        bind, "national_id_encrypted", "national_id", encryption.decrypt, with_hash=False
    )
    _convert_history(bind, encryption.unseal)
    op.drop_index("ix_contact_national_id_hash", table_name="contact")
    op.execute("ALTER TABLE contact DROP COLUMN national_id_hash")
    op.execute("ALTER TABLE contact DROP COLUMN national_id_encrypted")
