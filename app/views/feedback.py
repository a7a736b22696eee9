"""The support desk's pages: the feedback list with its queues, and the feedback page.

Rules and queries live in ``app.services.feedback`` (life cycle, targets,
queues, assigning) and ``app.services.notifications`` (telling the reporter);
this module maps them onto Flask-AppBuilder's list, show and form pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.extensions import db
from app.models import (
    Feedback,
    FeedbackNotification,
    NotificationChannel,
    NotificationState,
    Reporter,
)
from app.permissions import EDIT
from app.services import feedback as desk
from app.services import masking, notifications
from app.services.display import format_datetime, state_badge
from app.services.querying import CrmInterface
from app.services.record_rules import RecordForbidden, check_feedback_editable, may_edit_feedback

from .base import PAGE_PERMISSIONS, CrmModelView, audit_fieldset
from .fields import EnumSelectField
from .quick_filters import toggle_links

DUE, QUEUE = "due", "queue"
QUEUE_ARG = f"_flt_0_{QUEUE}"

STATE_STYLES = {
    NotificationState.pending: "label label-info",
    NotificationState.sent: "label label-success",
    NotificationState.failed: "label label-danger",
    NotificationState.call_needed: "label label-warning",
}


@dataclass(frozen=True)
class DueState:
    due: datetime | None
    overdue: bool
    open: bool


def due_state(item: Feedback, at: datetime) -> DueState:
    return DueState(
        desk.due_at(item.created_at, item.level),
        desk.is_overdue(item, at),
        item.status in desk.OPEN_STATUSES,
    )


def format_due(state) -> Markup:
    """The due time, red with an "overdue" badge when an open problem is past it."""
    if not isinstance(state, DueState) or state.due is None:
        return Markup("")
    when = escape(format_datetime(state.due))
    if state.overdue:
        return Markup(
            '<span class="label label-danger feedback-overdue">{}</span> '
            '<span class="text-danger">{}</span>'
        ).format(_("Overdue"), when)
    if not state.open:
        return Markup('<span class="text-muted feedback-due">{}</span>').format(when)
    return Markup('<span class="feedback-due">{}</span>').format(when)


def format_engineer(user) -> Markup:
    if user is None or user == "":
        return Markup('<span class="label label-default feedback-unassigned">{}</span>').format(
            _("Unassigned")
        )
    return escape(str(user))


def format_notification_state(state) -> Markup:
    return state_badge(state, STATE_STYLES, "notification")


class QueueFilter(BaseFilter):
    """One of the desk's queues (mine, overdue, unassigned, open) as a list filter."""

    name = _l("Is")
    arg_name = "eq"

    def apply(self, query, value):
        if value is None or str(value).strip() == "":
            return query
        user_id = getattr(getattr(g, "user", None), "id", None)
        return query.filter(desk.queue_condition(desk.parse_queue(value), user_id, desk.now()))


class FeedbackInterface(CrmInterface):
    """The modules' interface plus the computed due time and the queue filter."""

    def _get_attr_value(self, item, col):
        if col == DUE:
            return due_state(item, desk.now())
        return super()._get_attr_value(item, col)

    def get_filters(self, search_columns=None, search_filters=None):
        search_columns = list(search_columns or [])
        filters = super().get_filters(
            [col for col in search_columns if col not in (QUEUE, DUE)], search_filters
        )
        if QUEUE in search_columns:
            queue_filters = [QueueFilter(QUEUE, self)]
            filters._search_filters = {**filters._search_filters, QUEUE: queue_filters}
            filters._all_filters = {**filters._all_filters, QUEUE: queue_filters}
        return filters


class DeskWidget(RenderTemplateWidget):
    template = "feedback/desk.html"


class FeedbackView(desk.LifeCycleHooks, CrmModelView):
    model = Feedback
    interface = FeedbackInterface
    noun = _l("Feedback")
    route_base = "/feedback"
    list_template = "feedback/list.html"
    show_template = "feedback/show.html"
    method_permission_name = {
        **PAGE_PERMISSIONS,
        "assign": EDIT,
        "assign_selected": EDIT,
        "resend": EDIT,
        "write": EDIT,
    }

    list_columns = [
        "id",
        "problem",
        "customer",
        "level",
        "status",
        "engineer",
        DUE,
        "created_at",
        "city",
        "store",
    ]
    search_columns = [
        QUEUE,
        "problem",
        "customer",
        "reporter",
        "product",
        "status",
        "level",
        "engineer",
        "city",
        "store",
        "created_at",
        "resolved_at",
    ]
    order_columns = ["id", "level", "status", "created_at", "city", "store"]
    # The export writes model attributes; the due time is computed.
    export_column_names = [column for column in list_columns if column != DUE]
    base_order = ("created_at", "desc")
    add_columns = edit_columns = [
        "customer",
        "reporter",
        "product",
        "problem",
        "details",
        "level",
        "status",
        "engineer",
        "created_at",
        "resolved_at",
        "cause",
        "city",
        "store",
    ]
    show_fieldsets = [
        (_l("Feedback"), {"fields": [*add_columns[:9], DUE, *add_columns[9:]]}),
        audit_fieldset(),
    ]
    label_columns = {DUE: _l("Due"), QUEUE: _l("Queue")}
    formatters_columns = {DUE: format_due, "engineer": format_engineer}
    search_form_extra_fields = {QUEUE: EnumSelectField(desk.FeedbackQueue, _l("Queue"))}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.extra_args = {**self.extra_args, "feedback_queue_links": queue_links}

    # --- the life cycle on add and edit (rules: app.services.feedback) ---------

    def _edit(self, pk):
        """An engineer edits only the feedback assigned to them (app.services.record_rules)."""
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None:
            try:
                check_feedback_editable(g.user, item)
            except RecordForbidden as refusal:
                abort(403, description=str(refusal))
        return super()._edit(pk)

    # --- the feedback page --------------------------------------------------------

    def _get_show_widget(self, pk, item, *args, **kwargs):
        widgets = super()._get_show_widget(pk, item, *args, **kwargs)
        may_edit = may_edit_feedback(g.user, item)
        draft = g.get("feedback_draft")
        subject, body = draft or notifications.followup_message(item)
        widgets["desk"] = DeskWidget(
            item=item,
            due=due_state(item, desk.now()),
            notices=notifications.notifications_of(item.id),
            engineers=desk.assignable_engineers() if may_edit else [],
            may_edit=may_edit,
            mail_configured=notifications.mail_configured(),
            subject=subject,
            body=body,
            format_datetime=format_datetime,
            format_state=format_notification_state,
            reporter_phone=masking.shown(Reporter, "phone", item.reporter.phone)
            if item.reporter
            else None,
            recipient_of=shown_recipient,
        )
        return widgets

    def _render_show(self, pk):
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=self._show(pk),
            related_views=self._related_views,
        )

    def _editable_or_refused(self, pk):
        """The feedback ``pk`` if this user may change it; else a redirect with the reason."""
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        try:
            check_feedback_editable(g.user, item)
        except RecordForbidden as refusal:
            flash(str(refusal), "danger")
            return None, redirect(url_for(".show", pk=pk))
        return item, None

    # --- assigning the tracking engineer -------------------------------------------

    @action(
        "assign",
        _l("Assign / change engineer"),
        _l("Assign the selected problems to a tracking engineer?"),
        "fa-user-check",
        multiple=True,
        single=False,
    )
    def assign_selected(self, items):
        """The list's action: choose the engineer for the selected rows."""
        if not isinstance(items, list):
            items = [items]
        ids = [item.id for item in items if item is not None][: desk.MAX_ASSIGN]
        return redirect(url_for(".assign", ids=ids))

    @expose("/assign/", methods=["GET", "POST"])
    @has_access
    def assign(self):
        """GET: choose an engineer for the problems ``ids``; POST: assign, all or nothing."""
        items = desk.feedback_to_assign(request.values.getlist("ids"))
        if not items:
            flash(_("Choose at least one problem to assign."), "danger")
            return redirect(url_for(".list"))
        back = (
            url_for(".show", pk=items[0].id)
            if (request.values.get("back") == "show" and len(items) == 1)
            else url_for(".list")
        )
        if request.method == "GET":
            return self._assign_page(items)
        try:
            engineer = desk.assign(items, request.form.get("engineer"), g.user)
        except (RecordForbidden, desk.AssignRefused) as refusal:
            flash(str(refusal), "danger")
            return redirect(back)
        if engineer is None:
            flash(
                _("%(count)d problem(s) now have no tracking engineer.", count=len(items)),
                "success",
            )
        else:
            flash(
                _(
                    "%(count)d problem(s) assigned to %(engineer)s.",
                    count=len(items),
                    engineer=str(engineer),
                ),
                "success",
            )
        return redirect(back)

    def _assign_page(self, items):
        refusals = desk.reassign_refusals(g.user, items)
        for refusal in refusals:
            flash(refusal, "danger")
        if refusals:
            return redirect(url_for(".list"))
        return self.render_template(
            "feedback/assign.html",
            title=_("Assign tracking engineer"),
            items=items,
            engineers=desk.assignable_engineers(),
        )

    # --- telling the reporter ------------------------------------------------------

    @expose("/notifications/<int:nid>/resend", methods=["POST"])
    @has_access
    def resend(self, nid):
        notice = db.session.get(FeedbackNotification, nid)
        if notice is None:
            abort(404)
        item, refusal = self._editable_or_refused(notice.feedback_id)
        if refusal:
            return refusal
        again = notifications.resend(notice)
        notifications.send_pending(item.id)
        flash(
            _message_for(again),
            "success" if again.state != NotificationState.call_needed else "warning",
        )
        return redirect(url_for(".show", pk=item.id))

    @expose("/write/<int:pk>", methods=["POST"])
    @has_access
    def write(self, pk):
        item, refusal = self._editable_or_refused(pk)
        if refusal:
            return refusal
        subject = request.form.get("subject") or ""
        body = request.form.get("body") or ""
        errors = notifications.message_errors(subject, body)
        if errors:
            for error in errors:
                flash(error, "danger")
            g.feedback_draft = (subject, body)  # shown again as typed
            return self._render_show(pk)
        notice = notifications.write_to_reporter(item, subject, body)
        notifications.send_pending(item.id)
        flash(
            _message_for(notice),
            "success" if notice.state != NotificationState.call_needed else "warning",
        )
        return redirect(url_for(".show", pk=pk))


def shown_recipient(notice) -> str:
    """A message's recipient as the reader may see it: a phone masked without 查看敏感信息."""
    if notice.channel == NotificationChannel.phone:
        return masking.shown(Reporter, "phone", notice.recipient)
    return notice.recipient


def _message_for(notice) -> str:
    if notice.state == NotificationState.call_needed:
        return _(
            "No e-mail can be sent: %(reason)s Phone: %(phone)s",
            reason=notice.error or "",
            phone=shown_recipient(notice),
        )
    return _(
        "The message to %(recipient)s is being sent; its result shows below.",
        recipient=shown_recipient(notice),
    )


def queue_links() -> list[dict]:
    """The list's quick filters: each toggles its queue, keeping the other filters."""
    return toggle_links("FeedbackView.list", QUEUE_ARG, desk.FeedbackQueue)
