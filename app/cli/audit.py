"""``flask --app run.py crm audit …``: the security log (app/services/audit.py)."""

import click
from flask_babel import gettext as _

from app.services import audit


@click.group("audit")
def audit_group():
    """The security log (安全日志)."""


@audit_group.command("prune")
@click.option("--days", type=int, required=True, help="Keep this many days (at least 180).")
def prune_command(days: int) -> None:
    """Drop security-log rows older than DAYS days (never fewer than 180: Cybersecurity Law)."""
    if days < audit.MIN_KEEP_DAYS:
        raise click.UsageError(
            _(
                "The security log is kept at least %(days)d days; choose --days %(days)d or more.",
                days=audit.MIN_KEEP_DAYS,
            )
        )
    count = audit.prune(days)
    click.echo(
        _("%(count)d security-log row(s) older than %(days)d days dropped.", count=count, days=days)
    )


COMMANDS = [audit_group]
