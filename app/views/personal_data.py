"""The contact's and reporter's personal-data requests: download and anonymise.

Thin endpoints over ``app.services.personal_data``: a record missing or out of
the reader's data scope is a 404, a refused request is flashed on the show
page. Only roles holding the ``personal_data`` permission see the panel.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import gettext as _

from app.permissions import PERSONAL_DATA, permission_name
from app.reports.personal_data import filename, personal_data_workbook
from app.reports.xlsx import send_workbook
from app.services import personal_data

from .base import PAGE_PERMISSIONS

PERMISSIONS = {**PAGE_PERMISSIONS, "personal_data": PERSONAL_DATA, "anonymise": PERSONAL_DATA}


class PersonalDataWidget(RenderTemplateWidget):
    template = "crm/personal_data.html"


class PersonalDataMixin:
    """For a ``CrmModelView`` of a contact or reporter; its resource declares the permission."""

    method_permission_name = PERMISSIONS

    def _get_show_widget(self, pk, item, *args, **kwargs):
        widgets = super()._get_show_widget(pk, item, *args, **kwargs)
        if self.appbuilder.sm.has_access(
            permission_name(PERSONAL_DATA), self.class_permission_name
        ):
            widgets["personal_data"] = PersonalDataWidget(
                download_url=url_for(".personal_data", pk=item.id),
                anonymise_url=url_for(".anonymise", pk=item.id),
                max_reason=personal_data.MAX_REASON_LENGTH,
            )
        return widgets

    @expose("/personal-data/<pk>.xlsx")
    @has_access
    def personal_data(self, pk):
        """Everything stored about the person, as a workbook (logged)."""
        item = personal_data.find(self.datamodel.obj, pk)
        if item is None:
            abort(404)
        data = personal_data.download(item)
        workbook = personal_data_workbook(data, str(g.user), datetime.now())
        return send_workbook(workbook, *filename(data))

    @expose("/anonymise/<pk>", methods=["POST"])
    @has_access
    def anonymise(self, pk):
        """删除个人信息: the personal fields cleared, the statistics kept (logged)."""
        item = personal_data.find(self.datamodel.obj, pk)
        if item is None:
            abort(404)
        try:
            personal_data.anonymise(item, request.form.get("reason"))
        except personal_data.RequestRefused as refusal:
            flash(str(refusal), "danger")
        else:
            flash(_("The personal data was deleted; the record's other data is kept."), "success")
        return redirect(url_for(".show", pk=item.id))
