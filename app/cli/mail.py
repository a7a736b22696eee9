"""``flask crm notify``: e-mails to reporters that a stopped worker left unsent."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from app.models import NotificationState
from app.services import notifications


@click.command("notify")
@click.option(
    "--older-than",
    "minutes",
    type=click.IntRange(min=1, max=100_000),
    default=int(notifications.STALE_AFTER.total_seconds() // 60),
    show_default=True,
    help="Minutes an e-mail must have waited (younger ones are still being sent).",
)
@click.option("--quiet", is_flag=True, help="Print nothing when no e-mail was waiting.")
@with_appcontext
def notify_command(minutes: int, quiet: bool) -> None:
    """Send the e-mails to reporters left waiting by a worker that stopped.

    A message normally leaves seconds after the change that queued it; one
    still "sending" after --older-than minutes lost its worker (a restart, a
    crash) and is sent now. Exit code 1 when one of them failed (its reason is
    on the feedback's page). Run it from cron every few minutes, with the web
    service's environment (DATABASE_URL, MAIL_SERVER...):

    \b
        */5 * * * * cd /srv/crm && .venv/bin/flask --app run.py crm notify --quiet
    """
    if not notifications.mail_configured():
        raise click.ClickException(
            _("The mail server is not configured (MAIL_SERVER): no e-mail can be sent.")
        )
    results = notifications.send_stale(timedelta(minutes=minutes))
    if not results:
        if not quiet:
            click.echo(
                _(
                    "No e-mail to a reporter has waited more than %(minutes)d minutes.",
                    minutes=minutes,
                )
            )
        return
    failed = [notice for notice in results if notice.state == NotificationState.failed]
    click.echo(
        _(
            "E-mails waiting more than %(minutes)d minutes: %(count)d; sent %(sent)d, "
            "failed %(failed)d.",
            minutes=minutes,
            count=len(results),
            sent=sum(notice.state == NotificationState.sent for notice in results),
            failed=len(failed),
        )
    )
    for notice in failed:
        about = (
            _("Feedback %(feedback)s", feedback=notice.feedback_id)
            if notice.feedback_id
            else _("Follow-up reminder of %(day)s", day=notice.reminder_day)
        )
        click.echo(
            "  "
            + _(
                "%(about)s, to %(recipient)s: %(error)s",
                about=about,
                recipient=notice.recipient,
                error=notice.error or "",
            )
        )
    if failed:
        click.get_current_context().exit(1)


COMMANDS = [notify_command]
