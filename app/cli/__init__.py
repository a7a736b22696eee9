"""``flask crm …``: the administration commands, one module per command group.

Every public module of this package lists its click commands in ``COMMANDS``
and is registered here by discovery, so a new group is one new file and no
edit elsewhere. A module without ``COMMANDS``, or two modules claiming one
command name, stops the app at start-up rather than hiding a command.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


@click.group()
def crm():
    """Changyi CRM administration."""


def _register_commands() -> None:
    for found in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
        if found.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{found.name}")
        commands = getattr(module, "COMMANDS", None)
        if commands is None:
            raise RuntimeError(f"{module.__name__} defines no COMMANDS")
        for command in commands:
            if command.name in crm.commands:
                raise RuntimeError(f"two modules define `crm {command.name}`")
            crm.add_command(command)


_register_commands()
