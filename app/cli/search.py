"""``flask crm search …``: the full-text search index (app/services/search.py)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from app.extensions import db
from app.services import search


@click.group("search")
def search_group():
    """The search index of the "contains" filters."""


@search_group.command("reindex")
@with_appcontext
def reindex_command() -> None:
    """Rebuild the search index from the tables (after a restore or a manual repair)."""
    with db.engine.begin() as connection:
        counts = search.reindex(connection)
    for table_name, rows in counts.items():
        click.echo(_("%(table)s: %(rows)d rows indexed", table=table_name, rows=rows))


COMMANDS = [search_group]
