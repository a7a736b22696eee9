"""A list's quick filters: buttons above the list, each toggling one code of a filter."""

from __future__ import annotations

from enum import Enum
from urllib.parse import urlencode

from flask import request, url_for
from flask_babel import gettext as _


def toggle_links(endpoint: str, arg: str, codes: type[Enum]) -> list[dict]:
    """ "All" and one link per member of ``codes``, each toggling its member in the query
    argument ``arg`` of the list at ``endpoint`` and keeping the other filters."""
    active = {codes.__members__.get(str(value).strip()) for value in request.args.getlist(arg)}
    kept = [
        (key, value)
        for key, values in request.args.lists()
        for value in values
        if key != arg and not key.startswith("page_")
    ]

    def url(chosen) -> str:
        pairs = kept + [(arg, member.name) for member in codes if member in chosen]
        return url_for(endpoint) + ("?" + urlencode(pairs) if pairs else "")

    links = [{"code": "all", "label": _("All"), "url": url(set()), "active": not active}]
    for member in codes:
        on = member in active
        links.append(
            {
                "code": member.name,
                "label": str(member),
                "active": on,
                "url": url(active - {member} if on else active | {member}),
            }
        )
    return links
