"""Encryption at rest of the 身份证号 (PIPL; GB/T 35273 lists ID numbers as sensitive).

The database holds ciphertext only: ``EncryptedString`` encrypts on the way in
and decrypts on the way out, so ``Contact.national_id`` reads and writes clear
text for every caller (pages, API, import, demo, masking) while the column,
the history's values and therefore every backup hold Fernet tokens.

The keys live outside the database, newest first: ``CRM_DATA_KEY`` (Fernet keys
separated by commas), else the file ``instance/data_keys``, generated once
like the secret key. The newest key encrypts; all of them decrypt
(``MultiFernet``), so ``crm keys rotate`` can put a new key first and
re-encrypt row by row while the app keeps running. Every process notices a
changed key file by its modification time.

Ciphertext cannot be compared, so each encrypted column has a keyed hash
beside it (``<column>_hash``, HMAC-SHA256): searches for a full number match
it exactly. The hash key is derived once from the first data key and kept in
the key file (``hmac:`` line), so rotating the data key leaves every hash as
it was; with ``CRM_DATA_KEY`` it is that list's ``hmac:…`` entry if it has one
(copied from the file), else derived from its last (oldest) key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, has_app_context
from sqlalchemy import String, or_, text
from sqlalchemy.types import TypeDecorator

SEALED = "fernet:"  # prefix of an encrypted value inside the history's JSON
HASH_PREFIX = "hmac:"
HASH_LABEL = b"changyi-crm national id hash"
KEY_FILE_NOTE = (
    "# Changyi CRM data keys, newest first. Back this file up apart from the database:\n"
    "# without it the encrypted ID numbers cannot be read. `crm keys rotate` adds keys.\n"
)
STORED_LENGTH = 255  # an 18-character number is a 120-character token


class DataKeyError(RuntimeError):
    """The data key is missing or does not open the stored values; the text says why."""


@dataclass(frozen=True)
class Keyring:
    fernet_keys: tuple[bytes, ...]
    hash_key: bytes
    source: str  # "env" or the key file's path

    @cached_property
    def fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self.fernet_keys])


_lock = threading.Lock()
_cache: dict[tuple, Keyring] = {}


def _settings() -> tuple[str | None, Path]:
    if has_app_context():
        conf = current_app.config
    else:  # a script without the app: the same settings config.py reads
        import config as conf_module

        conf = vars(conf_module)
    env = conf.get("CRM_DATA_KEY") or None
    path = Path(conf.get("CRM_DATA_KEY_FILE") or Path(conf["INSTANCE_DIR"]) / "data_keys")
    return env, path


def derive_hash_key(fernet_key: bytes) -> bytes:
    return hmac.new(base64.urlsafe_b64decode(fernet_key), HASH_LABEL, hashlib.sha256).digest()


def _parse_env(value: str) -> Keyring:
    """Fernet keys, newest first, and optionally the key file's ``hmac:…`` entry."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    hashes = [part for part in parts if part.startswith(HASH_PREFIX)]
    keys = tuple(part.encode() for part in parts if not part.startswith(HASH_PREFIX))
    if not keys:
        raise DataKeyError("CRM_DATA_KEY is set but holds no key")
    _check_keys(keys, "CRM_DATA_KEY")
    if hashes:
        return Keyring(keys, base64.urlsafe_b64decode(hashes[0][len(HASH_PREFIX) :]), "env")
    return Keyring(keys, derive_hash_key(keys[-1]), "env")


def _check_keys(keys, where) -> None:
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError) as error:
            raise DataKeyError(f"{where} holds a value that is not a Fernet key") from error


def read_key_file(path: Path) -> Keyring:
    keys, hash_key = [], None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(HASH_PREFIX):
            hash_key = base64.urlsafe_b64decode(line[len(HASH_PREFIX) :])
        else:
            keys.append(line.encode())
    if not keys:
        raise DataKeyError(f"{path} holds no data key")
    _check_keys(keys, str(path))
    return Keyring(tuple(keys), hash_key or derive_hash_key(keys[-1]), str(path))


def key_file_text(keys, hash_key: bytes) -> str:
    lines = [KEY_FILE_NOTE, f"{HASH_PREFIX}{base64.urlsafe_b64encode(hash_key).decode()}\n"]
    lines += [f"{key.decode()}\n" for key in keys]
    return "".join(lines)


def _create_key_file(path: Path) -> None:
    """Write a first key, published whole by one ``link`` that fails if another worker
    got there first: every worker on the host then reads the same complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key_file_text([key], derive_hash_key(key)))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # the other worker's key stands
            os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_key_file(path: Path, keys, hash_key: bytes) -> None:
    """Replace the key file in one rename: a reader sees the old list or the new one."""
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key_file_text(keys, hash_key))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    forget_keys()


def keyring() -> Keyring:
    """The current keys; a key file changed by another process is read again."""
    env, path = _settings()
    if env:
        cache_key = ("env", env)
    else:
        try:
            stat = path.stat()
        except FileNotFoundError:
            _create_key_file(path)
            stat = path.stat()
        cache_key = ("file", str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    found = _cache.get(cache_key)
    if found is None:
        with _lock:
            found = _parse_env(env) if env else read_key_file(path)
            _cache.clear()
            _cache[cache_key] = found
    return found


def forget_keys() -> None:
    _cache.clear()


# --- values ----------------------------------------------------------------------


def encrypt(value: str) -> str:
    return keyring().fernet.encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return keyring().fernet.decrypt(token.encode()).decode()
    except InvalidToken:
        forget_keys()  # a key file replaced within the same clock tick: read it again
        try:
            return keyring().fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise DataKeyError(
                "a stored value cannot be decrypted with the configured data keys "
                "(CRM_DATA_KEY or instance/data_keys): restore the key file"
            ) from error


def normalised(value: str) -> str:
    """What two spellings of one ID number share: no blanks, upper-case X."""
    return "".join(str(value).split()).upper()


def digest(value) -> str | None:
    """The keyed hash (hex) of a value, for exact search; None for no value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return hmac.new(keyring().hash_key, normalised(value).encode(), hashlib.sha256).hexdigest()


def seal(value: str | None) -> str | None:
    """A history value encrypted, marked so readers know to decrypt it."""
    if value is None or value.startswith(SEALED):
        return value
    return SEALED + encrypt(value)


def unseal(value):
    if isinstance(value, str) and value.startswith(SEALED):
        return decrypt(value[len(SEALED) :])
    return value


class EncryptedString(TypeDecorator):
    """Text stored as a Fernet token; Python sees the clear text."""

    impl = String(STORED_LENGTH)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return decrypt(value)


def encrypted_columns(model) -> dict[str, str]:
    """{attribute: its hash attribute} of a model's encrypted columns."""
    table = getattr(model, "__table__", None)
    if table is None:
        return {}
    return {
        column.key: f"{column.key}_hash"
        for column in table.columns
        if isinstance(column.type, EncryptedString)
    }


# --- searching -------------------------------------------------------------------


def hashed_filter(flt):
    """A FAB filter on an encrypted column as an exact match on its hash.

    Such a column offers only "equal to" and "not equal to"
    (``querying.CrmFilterConverter``): the database holds no clear text in
    which to look for a part of a number.
    """
    base = type(flt)
    hash_name = encrypted_columns(flt.model)[flt.column_name]
    negative = getattr(base, "arg_name", "") == "neq"

    class HashedFilter(base):
        def apply(self, query, value):
            column = getattr(self.model, hash_name)
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            hashed = None if value is None else digest(str(value))
            if hashed is None:
                return query
            if negative:
                return query.filter(or_(column != hashed, column.is_(None)))
            return query.filter(column == hashed)

    HashedFilter.__name__ = f"Hashed{base.__name__}"
    return HashedFilter(flt.column_name, flt.datamodel)


def hashed_filters(filters: list) -> list:
    """Each filter on an encrypted column answered by the hash (``QueryGuards``)."""
    return [
        hashed_filter(flt)
        if getattr(flt, "column_name", None) in encrypted_columns(getattr(flt, "model", None))
        else flt
        for flt in filters
    ]


# --- rotation --------------------------------------------------------------------

BATCH_SIZE = 500
RETIRE_GRACE_SECONDS = 2  # saves under way when the key changed have committed by then


def rotate_keys(connection_factory, batch_size: int = BATCH_SIZE, progress=None) -> dict:
    """A new key first in the key file, then every stored value re-encrypted with it.

    The old keys stay in the file (they still open values a worker wrote a
    moment ago, and older backups), so nothing stops working during the run.
    Each batch is its own transaction; a value changed meanwhile is left as
    its writer encrypted it (with the new key: the writer read the new file).
    ``connection_factory()`` returns a context manager giving a connection in
    a transaction (``engine.begin``).
    """
    env, path = _settings()
    if env:
        raise DataKeyError("CRM_DATA_KEY")
    current = keyring()
    new_key = Fernet.generate_key()
    write_key_file(path, (new_key, *current.fernet_keys), current.hash_key)
    counts = reencrypt(connection_factory, batch_size, progress)
    return {**counts, "keys": len(current.fernet_keys) + 1}


def retire_old_keys(connection_factory, batch_size: int = BATCH_SIZE) -> int:
    """Keep only the newest key in the file (after a rotation); how many were dropped.

    A save that encrypted with the old key just before the rotation reached its
    row may have committed after it: one more pass first, so none is left behind.
    """
    env, path = _settings()
    if env:
        raise DataKeyError("CRM_DATA_KEY")
    time.sleep(RETIRE_GRACE_SECONDS)
    reencrypt(connection_factory, batch_size)
    current = keyring()
    write_key_file(path, current.fernet_keys[:1], current.hash_key)
    return len(current.fernet_keys) - 1


def reencrypt(connection_factory, batch_size: int = BATCH_SIZE, progress=None) -> dict:
    """Every contact's ID number and history value re-encrypted with the newest key."""
    fernet = keyring().fernet
    rows = _rotate_column(connection_factory, fernet, batch_size, progress)
    history = _rotate_history(connection_factory, fernet, batch_size, progress)
    return {"rows": rows, "history_rows": history}


def _rotate_column(connection_factory, fernet, batch_size, progress) -> int:
    last, done = 0, 0
    select_batch = text(
        "SELECT id, national_id_encrypted FROM contact WHERE id > :last "
        "AND national_id_encrypted IS NOT NULL ORDER BY id LIMIT :size"
    )
    update_row = text(
        "UPDATE contact SET national_id_encrypted = :new "
        "WHERE id = :id AND national_id_encrypted = :old"
    )
    while True:
        with connection_factory() as connection:
            batch = connection.execute(select_batch, {"last": last, "size": batch_size}).all()
            if not batch:
                return done
            params = [
                {"id": row_id, "old": token, "new": _rotated(fernet, token)}
                for row_id, token in batch
            ]
            connection.execute(update_row, params)
        last = batch[-1][0]
        done += len(batch)
        if progress:
            progress(len(batch))


def _rotate_history(connection_factory, fernet, batch_size, progress) -> int:
    import json

    last, done = 0, 0
    select_batch = text(
        "SELECT id, changes FROM change_record WHERE id > :last AND changes LIKE :sealed "
        "ORDER BY id LIMIT :size"
    )
    update_row = text("UPDATE change_record SET changes = :new WHERE id = :id AND changes = :old")
    while True:
        with connection_factory() as connection:
            batch = connection.execute(
                select_batch, {"last": last, "size": batch_size, "sealed": f"%{SEALED}%"}
            ).all()
            if not batch:
                return done
            params = []
            for row_id, changes in batch:
                data = json.loads(changes)
                for change in data.values():
                    if not isinstance(change, dict):
                        continue
                    for side in ("old", "new"):
                        value = change.get(side)
                        if isinstance(value, str) and value.startswith(SEALED):
                            change[side] = SEALED + _rotated(fernet, value[len(SEALED) :])
                new = json.dumps(data, ensure_ascii=False, sort_keys=True)
                params.append({"id": row_id, "old": changes, "new": new})
            connection.execute(update_row, params)
        last = batch[-1][0]
        done += len(batch)
        if progress:
            progress(len(batch))


def _rotated(fernet: MultiFernet, token: str) -> str:
    try:
        return fernet.rotate(token.encode()).decode()
    except InvalidToken as error:
        raise DataKeyError(
            "a stored value cannot be decrypted with the configured data keys"
        ) from error
