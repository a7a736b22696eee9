"""``flask crm backup PATH`` and ``flask crm restore PATH`` (docs/backup.md).

SQLite: SQLite's online backup API copies a consistent snapshot while the app
keeps running, into a temporary file that is checked and then renamed into
place. PostgreSQL: ``pg_dump`` in its custom format (one snapshot transaction),
with the password passed in ``PGPASSWORD``, never on the command line.
Restore is a command for SQLite (with a confirmation and a safety copy of the
current database); for PostgreSQL it is ``pg_restore``, as documented.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from app.extensions import db
from app.services import audit


class BackupFailed(click.ClickException):
    pass


def database_url():
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def sqlite_path(url) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _read_only(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro"


# --- backup ----------------------------------------------------------------


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@with_appcontext
def backup_command(path: str, force: bool) -> None:
    """Write a consistent copy of the database to PATH while the app keeps running."""
    target = Path(path)
    if target.exists() and not force:
        raise BackupFailed(f"{target} exists; choose another name or add --force")
    url = database_url()
    if url.get_backend_name() == "sqlite":
        size = backup_sqlite(sqlite_path(url), target)
    elif url.get_backend_name() == "postgresql":
        size = backup_postgresql(url, target)
    else:
        raise BackupFailed(f"no backup method for {url.get_backend_name()}")
    audit.record(audit.BACKUP, str(target), bytes=size, database=url.get_backend_name())
    click.echo(f"backup written to {target} ({size} bytes)")


def backup_sqlite(source: Path, target: Path) -> int:
    """SQLite's online backup into ``target``: a snapshot, checked, then renamed into place."""
    if not source.exists():
        raise BackupFailed(f"the database file {source} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source_conn = sqlite3.connect(_read_only(source), uri=True, timeout=30)
    try:
        target_conn = sqlite3.connect(partial)
        try:
            # One step (pages=-1): the copy is the database at one moment,
            # however many writers are busy meanwhile.
            source_conn.backup(target_conn)
            status = target_conn.execute("PRAGMA integrity_check").fetchone()[0]
            if status != "ok":
                raise BackupFailed(f"the copy failed its integrity check: {status}")
        finally:
            target_conn.close()
    finally:
        source_conn.close()
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return target.stat().st_size


def postgres_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``/``psql`` from PATH, else the newest server package's."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise BackupFailed(
        f"{name} is not installed (Debian/Ubuntu: apt-get install postgresql-client)"
    )


def libpq_arguments(url) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL tools, and the environment with the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = []
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    for key, value in (url.query or {}).items():
        variable = {
            "sslmode": "PGSSLMODE",
            "sslrootcert": "PGSSLROOTCERT",
            "sslcert": "PGSSLCERT",
            "sslkey": "PGSSLKEY",
            "application_name": "PGAPPNAME",
            "host": "PGHOST",
        }.get(key)
        if variable:
            env[variable] = value if isinstance(value, str) else value[0]
    return args, env


def backup_postgresql(url, target: Path) -> int:
    """``pg_dump --format=custom``: one consistent snapshot, restorable with pg_restore."""
    args, env = libpq_arguments(url)
    partial = target.with_name(f".{target.name}.partial")
    command = [
        postgres_tool("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--file",
        str(partial),
        *args,
        "--dbname",
        url.database,
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"pg_dump failed: {completed.stderr.strip()}")
    os.replace(partial, target)
    return target.stat().st_size


# --- restore ---------------------------------------------------------------


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(path: str, yes: bool) -> None:
    """Replace the SQLite database with the backup at PATH (PostgreSQL: see docs/backup.md)."""
    url = database_url()
    if url.get_backend_name() != "sqlite":
        raise BackupFailed(
            "restore a PostgreSQL backup with pg_restore into an empty database, as "
            "docs/backup.md shows, then point DATABASE_URL at it"
        )
    live = sqlite_path(url)
    check_sqlite_backup(Path(path))
    if not yes:
        click.confirm(
            f"Replace every record in {live} with the backup {path}? Stop the app first.",
            abort=True,
        )
    db.session.remove()
    db.engine.dispose()  # no pooled connection keeps the old content open
    safety = restore_sqlite(Path(path), live)
    if safety:
        click.echo(f"the previous database was saved as {safety}")
    click.echo(
        f"restored {live} from {path}; run `flask --app run.py db upgrade` "
        "if the backup is from an older version"
    )


def check_sqlite_backup(path: Path) -> None:
    """A readable SQLite file that has been migrated (alembic_version) and is intact."""
    try:
        conn = sqlite3.connect(_read_only(path), uri=True)
        try:
            status = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupFailed(f"{path} is not a SQLite database: {error}") from None
    if status != "ok":
        raise BackupFailed(f"{path} failed its integrity check: {status}")
    if "alembic_version" not in tables or "customer" not in tables:
        raise BackupFailed(f"{path} is not a backup of this application's database")


def restore_sqlite(backup: Path, live: Path) -> Path | None:
    """Copy ``backup`` over ``live`` page by page, after keeping a copy of ``live``."""
    safety = None
    if live.exists() and live.stat().st_size:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        safety = live.with_name(f"{live.name}.before-restore-{stamp}")
        backup_sqlite(live, safety)
    live.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(_read_only(backup), uri=True)
    try:
        target = sqlite3.connect(live, timeout=30)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    return safety


COMMANDS = [backup_command, restore_command]
