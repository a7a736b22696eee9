"""``flask crm …``: set-up and maintenance commands."""

from __future__ import annotations

import os
import secrets

import click
from flask import current_app
from flask.cli import with_appcontext

from app.services.roles import apply_roles


@click.group()
def crm():
    """Changyi CRM administration."""


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
        click.echo(f"role {name}: {state}")
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
        raise click.ClickException("could not create the admin user")
    if os.environ.get("CRM_ADMIN_PASSWORD"):
        click.echo("admin user 'admin' created with the password from CRM_ADMIN_PASSWORD")
    else:
        click.echo(f"admin user 'admin' created; password (shown once): {password}")
