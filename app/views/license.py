"""License pages: the derived state as a column, filter and sort; signed files.

The state is not a database column: ``LicenseInterface`` teaches FAB's data
layer to show, filter and sort by ``app.services.licenses``' SQL expression.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, g, redirect, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import asc, desc
from wtforms import BooleanField

from app.models import License
from app.permissions import READ
from app.services.display import state_badge
from app.services.licenses import (
    LicenseState,
    end_or_trial_default,
    filter_by_state,
    license_state,
    state_rank_expression,
    today,
    trial_months,
)
from app.services.querying import CrmInterface
from app.services.signing import SigningKeyMissing, license_file, public_key_pem

from .base import PAGE_PERMISSIONS, CrmModelView, audit_fieldset
from .fields import EnumSelectField

STATE = "state"

STATE_STYLES = {
    LicenseState.expiring: "label label-warning",
    LicenseState.expired: "label label-danger",
    LicenseState.trial: "label label-info",
    LicenseState.valid: "label label-success",
    LicenseState.pending: "label label-default",
}


def format_state(state) -> Markup:
    """A coloured badge, so expiring and expired licenses stand out in lists."""
    return state_badge(state, STATE_STYLES, "license")


class LicenseStateFilter(BaseFilter):
    name = _l("Equal to")

    def apply(self, query, value):
        return filter_by_state(query, value, today())


class LicenseInterface(CrmInterface):
    """The modules' interface plus the computed ``state`` column.

    Subclassing ``CrmInterface`` puts these methods before the shared
    query guards, which let only real columns through ``apply_order_by``.
    """

    def _get_attr_value(self, item, col):
        if col == STATE:
            return license_state(item, today())
        return super()._get_attr_value(item, col)

    def get_filters(self, search_columns=None, search_filters=None):
        search_columns = list(search_columns or [])
        filters = super().get_filters(
            [col for col in search_columns if col != STATE], search_filters
        )
        if STATE in search_columns:
            state_filters = [LicenseStateFilter(STATE, self)]
            filters._search_filters = {**filters._search_filters, STATE: state_filters}
            filters._all_filters = {**filters._all_filters, STATE: state_filters}
        return filters

    def apply_order_by(self, query, order_column, order_direction, *args, **kwargs):
        if order_column != STATE:
            return super().apply_order_by(query, order_column, order_direction, *args, **kwargs)
        direction = asc if order_direction == "asc" else desc
        return query.order_by(
            direction(state_rank_expression(today())),
            direction(License.valid_to),
            direction(License.id),
        )


def _trial_hint() -> str:
    return gettext(
        "For a trial, leave blank: the trial then lasts %(months)d month(s) from its start date.",
        months=trial_months(),
    )


def trial_defaulted(form_class):
    """``form_class`` where a trial without an end date gets the default trial length."""

    class TrialDefaultedForm(form_class):
        def validate(self, extra_validators=None):
            start, end, trial = self["valid_from"], self["valid_to"], self["is_trial"]
            typed = bool(end.raw_data and str(end.raw_data[0]).strip())
            if not typed:
                end.data = end_or_trial_default(start.data, None, trial.data)
                if end.data is not None:
                    end.raw_data = [end.data.isoformat()]
                    end.process_errors = []
            return super().validate(extra_validators=extra_validators)

    TrialDefaultedForm.__name__ = form_class.__name__
    return TrialDefaultedForm


class LicenseView(CrmModelView):
    model = License
    interface = LicenseInterface
    noun = _l("License")
    route_base = "/licenses"
    show_template = "licenses/show.html"
    method_permission_name = {**PAGE_PERMISSIONS, "license_file": READ, "public_key": READ}

    list_columns = [
        "serial",
        "customer",
        "product",
        "seats",
        "valid_from",
        "valid_to",
        STATE,
        "is_trial",
    ]
    search_columns = [
        "serial",
        "customer",
        "product",
        "seats",
        "valid_from",
        "valid_to",
        STATE,
        "is_trial",
    ]
    order_columns = ["serial", "seats", "valid_from", "valid_to", STATE, "is_trial"]
    # The export writes model attributes; the state is not one (it filters and sorts, though).
    export_column_names = [column for column in list_columns if column != STATE]
    base_order = ("valid_to", "asc")
    add_columns = edit_columns = [
        "customer",
        "product",
        "serial",
        "seats",
        "valid_from",
        "valid_to",
        "is_trial",
        "machine_info",
    ]
    show_fieldsets = [
        (_l("License"), {"fields": [*add_columns[:6], STATE, *add_columns[6:]]}),
        audit_fieldset(),
    ]
    label_columns = {STATE: _l("License state")}
    formatters_columns = {STATE: format_state}
    search_form_extra_fields = {
        STATE: EnumSelectField(LicenseState, _l("License state"), required=False),
    }
    # FAB makes a NOT NULL boolean InputRequired: an unticked box could never be saved.
    add_form_extra_fields = edit_form_extra_fields = {
        "is_trial": BooleanField(_l("Trial"), default=False),
    }
    description_columns = {"valid_to": LazyString(_trial_hint)}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_form = trial_defaulted(self.add_form)
        self.edit_form = trial_defaulted(self.edit_form)

    @expose("/license-file/<int:pk>")
    @has_access
    def license_file(self, pk):
        """The license's signed file, as an attachment."""
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        try:
            name, content = license_file(item)
        except SigningKeyMissing:
            current_app.logger.error("license signing key missing")
            flash(
                gettext(
                    "The license signing key is missing: ask the administrator "
                    "to check CRM_LICENSE_KEY_PATH."
                ),
                "danger",
            )
            return redirect(url_for(".show", pk=pk))
        current_app.logger.info(
            "license file issued: serial %s, user %s", item.serial, getattr(g.user, "id", None)
        )
        return Response(
            content,
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @expose("/public-key.pem")
    @has_access
    def public_key(self):
        """The public half of the signing key, for the vendor's software to embed."""
        try:
            pem = public_key_pem()
        except SigningKeyMissing:
            current_app.logger.error("license signing key missing")
            return Response(
                gettext(
                    "The license signing key is missing: ask the "
                    "administrator to check CRM_LICENSE_KEY_PATH."
                ),
                status=503,
            )
        return Response(
            pem,
            mimetype="application/x-pem-file",
            headers={"Content-Disposition": 'attachment; filename="license-public-key.pem"'},
        )
