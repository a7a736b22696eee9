"""``flask crm init`` and ``flask crm demo``: setting up a database."""

from __future__ import annotations

import os
import secrets
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from app.services import demo, passwords
from app.services.roles import apply_roles

# What ``apply_roles`` did to a role, as printed by ``crm init``.
ROLE_STATES = {
    "created": lambda: _("created"),
    "kept": lambda: _("kept as edited"),
    "reset": lambda: _("reset to its definition"),
}


@click.command("init")
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
    chosen = os.environ.get("CRM_ADMIN_PASSWORD")
    if chosen:
        refusal = passwords.problem(chosen, "admin")
        if refusal:
            raise click.ClickException(f"CRM_ADMIN_PASSWORD: {refusal}")
    password = chosen or _printable_password()
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
    if not chosen:  # printed on a terminal: the admin replaces it at first sign-in
        user.must_change_password = True
        sm.session.commit()
    if os.environ.get("CRM_ADMIN_PASSWORD"):
        click.echo(_("Administrator 'admin' created with the password from CRM_ADMIN_PASSWORD."))
    else:
        click.echo(
            _(
                "Administrator 'admin' created; password (shown only this once): %(password)s",
                password=password,
            )
        )


def _printable_password() -> str:
    """A random password the policy accepts (app/services/passwords.py)."""
    while True:
        password = secrets.token_urlsafe(12)
        if passwords.problem(password, "admin") is None:
            return password


@click.command("demo")
@click.option("--customers", type=click.IntRange(1, 1_000_000), default=200, show_default=True)
@click.option("--feedback", type=click.IntRange(0, 50_000_000), default=10_000, show_default=True)
@click.option("--seed", type=int, default=None, help="Same seed, same day: same data.")
@click.option("--force", is_flag=True, help="Delete every business record first.")
@click.option(
    "--sales-password",
    default=None,
    help="Let the demo salespeople and their manager sign in with this password.",
)
@with_appcontext
def demo_command(
    customers: int, feedback: int, seed: int | None, force: bool, sales_password: str | None
) -> None:
    """Fill an empty database with realistic demo records (app/services/demo.py)."""
    refusal = passwords.problem(sales_password) if sales_password else None
    if refusal:
        raise click.ClickException(f"--sales-password: {refusal}")
    started = time.perf_counter()
    try:
        plan = demo.prepare(
            customers, feedback, seed=seed, force=force, sales_password=sales_password
        )
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


COMMANDS = [init_command, demo_command]
