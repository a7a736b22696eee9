"""``flask crm license verify FILE`` and ``flask crm alerts``.

Exit codes of ``verify`` let scripts act on the verdict: 0 valid, 1 expired,
3 tampered or damaged, 4 signed by another key, 5 not valid yet (2 is
click's own code for a bad command line).
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from app.models import NotificationState
from app.services import followups, notifications, payments, reminders
from app.services.display import format_money
from app.services.licenses import contracts_ending, licenses_ending, today, warning_days
from app.services.receivables import DUE_SOON_DAYS, instalment_alerts
from app.services.signing import (
    SigningKeyMissing,
    Verdict,
    load_private_key,
    load_public_key_pem,
    verify_file,
)

EXIT_CODES = {
    Verdict.valid: 0,
    Verdict.expired: 1,
    Verdict.tampered: 3,
    Verdict.wrong_key: 4,
    Verdict.not_yet_valid: 5,
}

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group("license")
def license_group():
    """Signed license files."""


@license_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check against this public key (PEM) instead of this server's signing key.",
)
@click.option("--on", "on", type=DATE, help="Check as of this date (YYYY-MM-DD), not today.")
@with_appcontext
def verify_command(file: Path, public_key_file: Path | None, on) -> None:
    """Check a license file offline: valid, expired, tampered or wrong key."""
    try:
        if public_key_file:
            key = load_public_key_pem(public_key_file.read_bytes())
        else:
            key = load_private_key(create=False).public_key()
    except SigningKeyMissing:
        raise click.ClickException(
            _("This server has no license signing key; pass --public-key.")
        ) from None
    except ValueError:
        raise click.ClickException(_("The public key file is not an Ed25519 public key.")) from None

    result = verify_file(file.read_bytes(), key, on.date() if on else today())
    click.echo(str(result.verdict))
    if result.payload:
        payload = result.payload
        click.echo(_("Customer: %(code)s", code=payload.get("customer_code", "")))
        click.echo(
            _(
                "Product: %(name)s %(version)s",
                name=payload.get("product", ""),
                version=payload.get("product_version", ""),
            )
        )
        click.echo(
            _(
                "Serial: %(serial)s; seats: %(seats)s",
                serial=payload.get("serial", ""),
                seats=payload.get("seats", ""),
            )
        )
        if payload.get("trial"):
            click.echo(_("Trial license"))
        click.echo(
            _(
                "Valid from %(start)s to %(end)s",
                start=payload.get("valid_from", ""),
                end=payload.get("valid_to", ""),
            )
        )
    click.get_current_context().exit(EXIT_CODES[result.verdict])


@click.command("alerts")
@click.option(
    "--days",
    type=click.IntRange(min=0, max=3660),
    default=None,
    help="Window in days (default: LICENSE_EXPIRY_WARNING_DAYS).",
)
@with_appcontext
def alerts_command(days: int | None) -> None:
    """List licenses, contracts and instalments ending or due; mail follow-up reminders.

    For a daily cron job. Each owner gets one e-mail a day with their customers
    due for a follow-up today or overdue, however often this runs.
    """
    days = warning_days() if days is None else days
    on = today()
    licenses = licenses_ending(on, days)
    contracts = contracts_ending(on, days)
    if not licenses and not contracts:
        click.echo(_("No license or contract ends within %(days)d days.", days=days))
    if licenses:
        click.echo(
            _("Licenses ending within %(days)d days: %(count)d", days=days, count=len(licenses))
        )
        for item in licenses:
            click.echo(
                "  "
                + "  ".join(
                    [
                        item.valid_to.isoformat(),
                        _days_left(item.valid_to, on),
                        item.customer.code,
                        item.customer.name,
                        f"{item.product.name} {item.product.version or ''}".strip(),
                        item.serial,
                        _("%(seats)d seats", seats=item.seats),
                        *([_("Trial")] if item.is_trial else []),
                    ]
                )
            )
    if contracts:
        click.echo(
            _("Contracts ending within %(days)d days: %(count)d", days=days, count=len(contracts))
        )
        for item in contracts:
            click.echo(
                "  "
                + "  ".join(
                    [
                        item.end_date.isoformat(),
                        _days_left(item.end_date, on),
                        item.customer.code,
                        item.customer.name,
                        item.number,
                        format_money(item.amount),
                    ]
                )
            )

    _instalment_alerts()
    _followup_reminders()


def _followup_reminders() -> None:
    """Queue and send today's follow-up reminders (app.services.reminders)."""
    if not notifications.mail_configured():
        click.echo(_("The mail server is not configured (MAIL_SERVER): no follow-up reminders."))
        return
    sent = reminders.send_reminders(followups.now())
    failed = [notice for notice in sent if notice.state == NotificationState.failed]
    click.echo(
        _(
            "Follow-up reminders sent: %(sent)d, failed: %(failed)d.",
            sent=len(sent) - len(failed),
            failed=len(failed),
        )
    )
    for notice in failed:
        click.echo(
            "  "
            + _("To %(recipient)s: %(error)s", recipient=notice.recipient, error=notice.error or "")
        )


def _instalment_alerts() -> None:
    """Instalments due within a week and overdue ones (app.services.receivables)."""
    on = payments.today()
    soon, overdue = instalment_alerts(on)
    for title, items in (
        (
            _(
                "Instalments due within %(days)d days: %(count)d",
                days=DUE_SOON_DAYS,
                count=len(soon),
            ),
            soon,
        ),
        (_("Overdue instalments: %(count)d", count=len(overdue)), overdue),
    ):
        if not items:
            continue
        click.echo(title)
        for item in items:
            late = (on - item.planned_date).days
            click.echo(
                "  "
                + "  ".join(
                    [
                        item.planned_date.isoformat(),
                        _("%(days)d days late", days=late)
                        if late > 0
                        else _days_left(item.planned_date, on),
                        item.customer_code,
                        item.customer_name,
                        item.contract,
                        _("instalment %(number)d", number=item.instalment),
                        format_money(item.open_amount),
                    ]
                )
            )


def _days_left(end, on) -> str:
    left = (end - on).days
    return _("ends today") if left == 0 else _("%(days)d days left", days=left)


COMMANDS = [license_group, alerts_command]
