"""``flask --app run.py crm pool …``: the customer pool (app/services/pool.py)."""

import click
from flask_babel import gettext as _

from app.services import pool


@click.group("pool")
def pool_group():
    """The customer pool (公海)."""


@pool_group.command("sweep")
@click.option("--days", type=click.IntRange(min=1), default=None, help="CRM_POOL_RETURN_DAYS")
def sweep_command(days: int | None) -> None:
    """Return owned customers with no activity for DAYS days to the pool (for cron)."""
    returned = pool.sweep(days)
    click.echo(_("%(count)d customer(s) returned to the pool.", count=returned))


COMMANDS = [pool_group]
