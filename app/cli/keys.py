"""``flask --app run.py crm keys …``: the data key that encrypts 身份证号 (app/services/encryption.py)."""

from __future__ import annotations

import click
from cryptography.fernet import Fernet
from flask.cli import with_appcontext
from flask_babel import gettext as _

from app.extensions import db
from app.services import audit, encryption


@click.group("keys")
def keys_group():
    """The data key of the encrypted personal data."""


@keys_group.command("rotate")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=encryption.BATCH_SIZE,
    show_default=True,
    help="Rows re-encrypted per transaction.",
)
@click.option(
    "--retire-old",
    is_flag=True,
    help="Afterwards keep only the new key (backups made before then need the old file).",
)
@click.option(
    "--reencrypt-only",
    is_flag=True,
    help="Make no new key: re-encrypt with the newest one (after CRM_DATA_KEY got a new key).",
)
@with_appcontext
def rotate_command(batch_size: int, retire_old: bool, reencrypt_only: bool) -> None:
    """Put a new data key first and re-encrypt every stored ID number with it, while the app runs.

    The old keys stay in the key file, so every worker still reads the values
    not yet re-encrypted; the hashes (exact search) keep their own key.
    """
    db.session.remove()
    from_env = encryption.keyring().source == "env"
    if from_env and not reencrypt_only:
        raise click.ClickException(
            _(
                "The data key comes from CRM_DATA_KEY. Put this new key at the front of it "
                "(comma-separated, keep the old ones after it) on every server, restart "
                "them, then run `crm keys rotate` again with CRM_DATA_KEY set that way "
                "and --reencrypt-only: %(key)s",
                key=Fernet.generate_key().decode(),
            )
        )
    if from_env and retire_old:
        raise click.UsageError(_("With CRM_DATA_KEY, retire old keys by removing them from it."))
    if reencrypt_only:
        counts = encryption.reencrypt(db.engine.begin, batch_size)
        counts["keys"] = len(encryption.keyring().fernet_keys)
    else:
        counts = encryption.rotate_keys(db.engine.begin, batch_size)
    retired = encryption.retire_old_keys(db.engine.begin, batch_size) if retire_old else 0
    counts["keys"] -= retired
    audit.record(audit.KEYS_ROTATED, new_key=not reencrypt_only, retired=retired, **counts)
    click.echo(
        _(
            "New data key in use; %(rows)d ID number(s) and %(history)d history row(s) "
            "re-encrypted; %(keys)d key(s) in the key file.",
            rows=counts["rows"],
            history=counts["history_rows"],
            keys=counts["keys"],
        )
    )


COMMANDS = [keys_group]
