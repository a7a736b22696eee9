from urllib.parse import urlencode

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models import Customer
from app.permissions import CLAIM, FEEDBACK, READ, TRANSFER, permission_name
from app.services import feedback as desk
from app.services import followups, pool, scope, timeline
from app.services.querying import CrmInterface, is_key, keys_in

from .base import PAGE_PERMISSIONS, CrmModelView, audit_fieldset
from .contact import ContactView
from .contract import ContractView
from .feedback import FeedbackView
from .fields import EnumSelectField
from .followup import FollowUpView
from .license import LicenseView
from .license_stats import CustomerLicenseStatsMixin
from .product import ProductView
from .quick_filters import toggle_links
from .reporter import ReporterView

FOLLOWUP_QUEUE = "followup_queue"
FOLLOWUP_QUEUE_ARG = f"_flt_0_{FOLLOWUP_QUEUE}"


class FollowUpQueueFilter(BaseFilter):
    """One of the follow-up quick filters (app.services.followups.FollowUpQueue)."""

    name = _l("Is")
    arg_name = "eq"

    def apply(self, query, value):
        if value is None or str(value).strip() == "":
            return query
        return query.filter(
            followups.queue_condition(followups.parse_queue(value), followups.now())
        )


class CustomerInterface(CrmInterface):
    """The modules' interface plus the follow-up quick filters (customer columns only)."""

    def get_filters(self, search_columns=None, search_filters=None):
        search_columns = list(search_columns or [])
        filters = super().get_filters(
            [col for col in search_columns if col != FOLLOWUP_QUEUE], search_filters
        )
        if FOLLOWUP_QUEUE in search_columns:
            queue_filters = [FollowUpQueueFilter(FOLLOWUP_QUEUE, self)]
            filters._search_filters = {**filters._search_filters, FOLLOWUP_QUEUE: queue_filters}
            filters._all_filters = {**filters._all_filters, FOLLOWUP_QUEUE: queue_filters}
        return filters


def followup_queue_links() -> list[dict]:
    """The list's quick filters: each toggles its queue, keeping the other filters."""
    return toggle_links("CustomerView.list", FOLLOWUP_QUEUE_ARG, followups.FollowUpQueue)


class OpenFeedbackCountsWidget(RenderTemplateWidget):
    template = "feedback/open_counts.html"


class TimelineWidget(RenderTemplateWidget):
    template = "crm/customer_timeline.html"


TIMELINE_PAGE_ARG = "timeline_page"


class OwnerWidget(RenderTemplateWidget):
    template = "crm/customer_owner.html"


class CustomerView(CustomerLicenseStatsMixin, pool.OwnerOnCreate, CrmModelView):
    model = Customer
    interface = CustomerInterface
    noun = _l("Customer")
    route_base = "/customers"
    list_template = "crm/customer_list.html"
    method_permission_name = {
        **PAGE_PERMISSIONS,
        "pool": CLAIM,
        "claim": CLAIM,
        "release": CLAIM,
        "transfer": TRANSFER,
        "transfer_selected": TRANSFER,
    }

    list_columns = [
        "code",
        "name",
        "category",
        "status",
        "importance",
        "phone",
        "owner",
        "last_followup_at",
        "next_followup_at",
    ]
    search_columns = [
        FOLLOWUP_QUEUE,
        "code",
        "name",
        "status",
        "importance",
        "category",
        "phone",
        "email",
        "owner",
        "last_followup_at",
        "next_followup_at",
    ]
    order_columns = [
        "code",
        "name",
        "category",
        "status",
        "importance",
        "last_followup_at",
        "next_followup_at",
    ]
    label_columns = {FOLLOWUP_QUEUE: _l("Follow-up")}
    search_form_extra_fields = {
        FOLLOWUP_QUEUE: EnumSelectField(followups.FollowUpQueue, _l("Follow-up"))
    }

    base_order = ("code", "asc")
    edit_columns = [
        "code",
        "name",
        "category",
        "status",
        "importance",
        "address",
        "phone",
        "email",
    ]
    # The owner changes by claim, release and transfer, which record why.
    add_columns = [*edit_columns, "owner"]
    show_fieldsets = [
        (_l("Customer"), {"fields": add_columns}),
        audit_fieldset(),
    ]
    description_columns = {
        "owner": _l("Leave blank to own it yourself (the administrator: to put it in the pool).")
    }
    related_conditions = {"owner": scope.owner_condition}  # only whom the user may choose
    related_views = [
        FollowUpView,
        ContactView,
        ContractView,
        ProductView,
        LicenseView,
        FeedbackView,
        ReporterView,
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.extra_args = {**self.extra_args, "followup_queue_links": followup_queue_links}

    def _get_show_widget(self, pk, item, *args, **kwargs):
        """Plus the customer's open feedback by level, for those who read feedback,
        and the owner's buttons (release, transfer)."""
        widgets = super()._get_show_widget(pk, item, *args, **kwargs)
        sm = self.appbuilder.sm
        may_release = sm.has_access(permission_name(CLAIM), self.class_permission_name) and (
            item.owner_id is not None
            and (
                item.owner_id == g.user.id
                or sm.has_access(permission_name(TRANSFER), self.class_permission_name)
            )
        )
        may_transfer = sm.has_access(permission_name(TRANSFER), self.class_permission_name)
        if may_release or may_transfer:
            widgets["owner"] = OwnerWidget(
                item=item, may_release=may_release, may_transfer=may_transfer
            )
        page = request.args.get(TIMELINE_PAGE_ARG, "1")
        widgets["timeline"] = TimelineWidget(
            timeline=timeline.timeline(item, int(page) if is_key(page) else 1),
            page_url=lambda number: (
                url_for(".show", pk=item.id, **{TIMELINE_PAGE_ARG: number}) + "#customer-timeline"
            ),
        )
        if self.appbuilder.sm.has_access(permission_name(READ), FEEDBACK):
            widgets["feedback_counts"] = OpenFeedbackCountsWidget(
                counts=desk.open_counts_by_level(desk.now(), customer_id=item.id),
                list_url=url_for("FeedbackView.list")
                + "?"
                + urlencode(
                    [("_flt_0_customer", item.id), ("_flt_0_queue", desk.FeedbackQueue.open.name)]
                ),
            )
        return widgets

    # --- the pool (公海): app.services.pool ---------------------------------------------

    @expose("/pool/")
    @has_access
    def pool(self):
        """The customers nobody owns, to claim."""
        page = request.args.get("page", "1")
        page = int(page) if is_key(page) and int(page) > 0 else 1
        term = request.args.get("q", "")
        customers, total = pool.pool_page(term, page)
        return self.render_template(
            "crm/customer_pool.html",
            title=_("Customer pool"),
            customers=customers,
            total=total,
            page=page,
            pages=max(1, -(-total // pool.POOL_PAGE_SIZE)),
            term=term,
        )

    @expose("/claim/<pk>", methods=["POST"])
    @has_access
    def claim(self, pk):
        try:
            customer = pool.claim(int(pk) if is_key(pk) else None, g.user)
        except pool.PoolRefused as refusal:
            flash(str(refusal), "danger")
            return redirect(url_for(".pool"))
        flash(_("%(customer)s is now yours.", customer=str(customer)), "success")
        return redirect(url_for(".show", pk=customer.id))

    @expose("/release/<pk>", methods=["POST"])
    @has_access
    def release(self, pk):
        key = int(pk) if is_key(pk) else None
        try:
            customer = pool.release(key, g.user, request.form.get("reason"))
        except pool.PoolRefused as refusal:
            flash(str(refusal), "danger")
            return redirect(url_for(".show", pk=key) if key else url_for(".list"))
        flash(_("%(customer)s was returned to the pool.", customer=str(customer)), "success")
        return redirect(url_for(".list"))

    @action(
        "transfer_selected",
        _l("Transfer to another owner"),
        None,
        "fa-exchange-alt",
        multiple=True,
        single=False,
    )
    def transfer_selected(self, items):
        """The list's action: choose the new owner of the selected customers."""
        if not isinstance(items, list):
            items = [items]
        return redirect(url_for(".transfer", ids=[item.id for item in items if item is not None]))

    @expose("/transfer/", methods=["GET", "POST"])
    @has_access
    def transfer(self):
        """GET: choose the new owner of the customers ``ids``; POST: transfer, all or none."""
        ids = keys_in(request.values.getlist("ids"))[: pool.MAX_TRANSFER]
        if request.method == "POST":
            try:
                customers, owner = pool.transfer(
                    ids, request.form.get("owner"), request.form.get("reason")
                )
            except pool.PoolRefused as refusal:
                flash(str(refusal), "danger")
            else:
                flash(
                    _(
                        "%(count)d customer(s) transferred to %(owner)s.",
                        count=len(customers),
                        owner=str(owner),
                    ),
                    "success",
                )
                return redirect(url_for(".list"))
        customers = pool.visible_customers(ids)
        if not customers:
            flash(_("Choose at least one customer to transfer."), "danger")
            return redirect(url_for(".list"))
        return self.render_template(
            "crm/customer_transfer.html",
            title=_("Transfer customers"),
            customers=customers,
            owners=pool.possible_owners(),
            chosen_owner=request.form.get("owner", ""),
            reason=request.form.get("reason", ""),
        )
