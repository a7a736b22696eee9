"""``flask crm …``: set-up and maintenance commands."""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from app.cli_backup import backup_command, restore_command
from app.cli_license import alerts_command, license_group
from app.cli_search import search_group
from app.models import NotificationState
from app.services import demo, notifications
from app.services.roles import apply_roles

# What ``apply_roles`` did to a role, as printed by ``crm init``.
ROLE_STATES = {
    "created": lambda: _("created"),
    "kept": lambda: _("kept as edited"),
    "reset": lambda: _("reset to its definition"),
}


@click.group()
def crm():
    """Changyi CRM administration."""


crm.add_command(license_group)
crm.add_command(alerts_command)
crm.add_command(backup_command)
crm.add_command(restore_command)
crm.add_command(search_group)


@crm.command("init")
@click.option(
    "--reset-roles",
    is_flag=True,
    help="Put the seeded roles back to their defined permissions, undoing edits.",
)
@with_appcontext
def init_command(reset_roles: bool) -> None:
    """Create or update the roles and their permissions; create the first admin."""
    report = apply_roles(current_app.appbuilder, reset=reset_roles)
    for name, state in report.items():
        click.echo(_("Role %(name)s: %(state)s", name=name, state=ROLE_STATES[state]()))
    _create_first_admin()


def _create_first_admin() -> None:
    sm = current_app.appbuilder.sm
    if sm.count_users():
        return
    password = os.environ.get("CRM_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    admin_role = sm.find_role(current_app.config["AUTH_ROLE_ADMIN"])
    user = sm.add_user(
        username="admin",
        first_name=current_app.config["AUTH_ROLE_ADMIN"],
        last_name="",
        email="admin@localhost.localdomain",
        role=admin_role,
        password=password,
    )
    if not user:
        raise click.ClickException(_("Could not create the admin user."))
    if os.environ.get("CRM_ADMIN_PASSWORD"):
        click.echo(_("Administrator 'admin' created with the password from CRM_ADMIN_PASSWORD."))
    else:
        click.echo(
            _(
                "Administrator 'admin' created; password (shown only this once): %(password)s",
                password=password,
            )
        )


@crm.command("demo")
@click.option("--customers", type=click.IntRange(1, 1_000_000), default=200, show_default=True)
@click.option("--feedback", type=click.IntRange(0, 50_000_000), default=10_000, show_default=True)
@click.option("--seed", type=int, default=None, help="Same seed, same day: same data.")
@click.option("--force", is_flag=True, help="Delete every business record first.")
@with_appcontext
def demo_command(customers: int, feedback: int, seed: int | None, force: bool) -> None:
    """Fill an empty database with realistic demo records (app/services/demo.py)."""
    started = time.perf_counter()
    try:
        plan = demo.prepare(customers, feedback, seed=seed, force=force)
    except demo.DemoRefused as refusal:
        raise click.ClickException(str(refusal)) from None
    with click.progressbar(length=plan.total_rows, label=_("Writing demo data")) as bar:
        counts = demo.write(plan, advance=bar.update)
    for model, number in counts.items():
        click.echo(f"{model.__tablename__}: {number}")
    click.echo(
        _(
            "Done in %(seconds).1f s (seed %(seed)d).",
            seconds=time.perf_counter() - started,
            seed=plan.seed,
        )
    )


@crm.command("notify")
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
        click.echo(
            "  "
            + _(
                "Feedback %(feedback)s, to %(recipient)s: %(error)s",
                feedback=notice.feedback_id,
                recipient=notice.recipient,
                error=notice.error or "",
            )
        )
    if failed:
        click.get_current_context().exit(1)
