"""Pages of a record the app writes by itself (the change history, the security log):
read in the browser, never changed there."""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _

from app.services.querying import clamp_paging, refuse_bad_paging


class ReadOnlyPages:
    """For a ``ModelView``: only ``read_only_endpoints`` answer, and only to GET; the
    list keeps the modules' page-size cap and falls back to the default sort."""

    read_only_endpoints: tuple[str, ...] = ("list", "show")

    def create_blueprint(self, appbuilder, *args, **kwargs):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.before_request(self._only_reading)
        blueprint.before_request(refuse_bad_paging)
        return blueprint

    def _get_list_widget(
        self,
        filters,
        actions=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        **kwargs,
    ):
        """No page size above the modules' cap; an unknown sort falls back to the default."""
        page, page_size = clamp_paging(page, page_size, self.page_size)
        if order_column not in self.order_columns or order_direction not in ("asc", "desc"):
            order_column, order_direction = "", ""
        return super()._get_list_widget(
            filters,
            actions=actions,
            order_column=order_column,
            order_direction=order_direction,
            page=page,
            page_size=page_size,
            **kwargs,
        )

    def _only_reading(self):
        """No other address exists, whatever the role or method."""
        endpoint = (request.endpoint or "").rpartition(".")[2]
        if endpoint not in self.read_only_endpoints or request.method not in ("GET", "HEAD"):
            abort(404)
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:  # PostgreSQL refuses NUL in text
                abort(400, description=_("The search contains a character that is not allowed."))
