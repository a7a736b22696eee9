"""The customer timeline (客户动态): what happened with one customer, newest first.

Follow-ups, contracts signed, licenses issued, feedback opened and resolved,
and the customer's own changes (owner changes and other edits, from the
change history), merged by time and paged in the database: one query picks
the page's (kind, id) pairs from a UNION of the sources, one count query,
then one query per kind on the page loads its records. A reader sees only
the kinds of records their role may read; data scope holds through
``scope.restrict`` on each source (the customer itself is already in scope
when its page opens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import DateTime, cast, func, literal, select, union_all

from app.extensions import db
from app.models import Contract, Customer, Feedback, FollowUp, License
from app.models.history import ChangeAction, ChangeRecord
from app.permissions import CONTRACT, CUSTOMER, FEEDBACK, FOLLOWUP, LICENSE, READ, permission_name
from app.services import history, scope
from app.services.display import format_datetime

PAGE_SIZE = 20
FOLLOWUP_KIND, CONTRACT_KIND, LICENSE_KIND = "followup", "contract", "license"
OPENED_KIND, RESOLVED_KIND, CHANGE_KIND = "feedback_opened", "feedback_resolved", "change"
# kind -> the resource whose read permission shows it
RESOURCES = {
    FOLLOWUP_KIND: FOLLOWUP,
    CONTRACT_KIND: CONTRACT,
    LICENSE_KIND: LICENSE,
    OPENED_KIND: FEEDBACK,
    RESOLVED_KIND: FEEDBACK,
    CHANGE_KIND: CUSTOMER,
}
MAX_TEXT = 80


@dataclass(frozen=True)
class Event:
    kind: str
    at: datetime | date | None
    title: str
    detail: str
    url: str | None

    @property
    def when(self) -> str:
        if isinstance(self.at, datetime):
            return format_datetime(self.at)
        return self.at.isoformat() if self.at else ""


@dataclass(frozen=True)
class TimelinePage:
    events: list[Event]
    total: int
    page: int  # from 1
    pages: int


def readable_kinds() -> set[str]:
    sm = current_app.appbuilder.sm
    return {
        kind
        for kind, resource in RESOURCES.items()
        if sm.has_access(permission_name(READ), resource)
    }


def _as_time(column):
    """Dates and times sort together: PostgreSQL needs one type, SQLite compares the text."""
    if db.engine.dialect.name == "postgresql":
        return cast(column, DateTime)
    return column


def _sources(customer_id: int, kinds: set[str]) -> list:
    def kind_of(name):
        return literal(name).label("kind")

    sources = []
    if FOLLOWUP_KIND in kinds:
        query = select(
            kind_of(FOLLOWUP_KIND), FollowUp.id.label("id"), FollowUp.followed_at.label("at")
        ).where(FollowUp.customer_id == customer_id)
        sources.append(scope.restrict(query, FollowUp))
    if CONTRACT_KIND in kinds:
        query = select(
            kind_of(CONTRACT_KIND),
            Contract.id.label("id"),
            _as_time(Contract.sign_date).label("at"),
        ).where(Contract.customer_id == customer_id, Contract.sign_date.is_not(None))
        sources.append(scope.restrict(query, Contract))
    if LICENSE_KIND in kinds:
        query = select(
            kind_of(LICENSE_KIND), License.id.label("id"), License.created_on.label("at")
        ).where(License.customer_id == customer_id)
        sources.append(scope.restrict(query, License))
    if OPENED_KIND in kinds:
        query = select(
            kind_of(OPENED_KIND), Feedback.id.label("id"), Feedback.created_at.label("at")
        ).where(Feedback.customer_id == customer_id)
        sources.append(scope.restrict(query, Feedback))
    if RESOLVED_KIND in kinds:
        query = select(
            kind_of(RESOLVED_KIND), Feedback.id.label("id"), Feedback.resolved_at.label("at")
        ).where(Feedback.customer_id == customer_id, Feedback.resolved_at.is_not(None))
        sources.append(scope.restrict(query, Feedback))
    if CHANGE_KIND in kinds:
        sources.append(
            select(
                kind_of(CHANGE_KIND),
                ChangeRecord.id.label("id"),
                ChangeRecord.changed_at.label("at"),
            ).where(
                ChangeRecord.model == history.tracked_models()[Customer],
                ChangeRecord.row_id == customer_id,
                ChangeRecord.action == ChangeAction.update,
            )
        )
    return sources


def timeline(customer: Customer, page: int = 1, page_size: int = PAGE_SIZE) -> TimelinePage:
    """One page of ``customer``'s events the reader may see, newest first."""
    kinds = readable_kinds()
    sources = _sources(customer.id, kinds)
    if not sources:
        return TimelinePage([], 0, 1, 1)
    merged = union_all(*sources).subquery("events")
    total = db.session.scalar(select(func.count()).select_from(merged)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = db.session.execute(
        select(merged.c.kind, merged.c.id)
        .order_by(merged.c.at.desc(), merged.c.kind, merged.c.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    records = _load(rows, kinds)
    events = [_event(kind, records[(kind, pk)], customer) for kind, pk in rows]
    return TimelinePage(events, total, page, pages)


def _load(rows, kinds: set[str]) -> dict:
    """The page's records: one query per readable model, whether the page has any of
    its rows or not, so that every customer's page costs the same number of queries."""
    models = {
        FOLLOWUP_KIND: FollowUp,
        CONTRACT_KIND: Contract,
        LICENSE_KIND: License,
        OPENED_KIND: Feedback,
        RESOLVED_KIND: Feedback,
        CHANGE_KIND: ChangeRecord,
    }
    wanted: dict[type, set[int]] = {models[kind]: set() for kind in sorted(kinds)}
    for kind, pk in rows:
        wanted.setdefault(models[kind], set()).add(pk)
    loaded = {}
    for model, ids in wanted.items():
        for item in db.session.scalars(select(model).where(model.id.in_(ids))):
            loaded[(model, item.id)] = item
    return {(kind, pk): loaded[(models[kind], pk)] for kind, pk in rows}


def _short(text) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _event(kind: str, item, customer: Customer) -> Event:
    if kind == FOLLOWUP_KIND:
        title = _("Follow-up (%(method)s)", method=str(item.method) if item.method else "")
        return Event(
            kind,
            item.followed_at,
            title,
            _short(item.content),
            url_for("FollowUpView.show", pk=item.id),
        )
    if kind == CONTRACT_KIND:
        return Event(
            kind,
            item.sign_date,
            _("Contract %(number)s signed", number=item.number),
            "",
            url_for("ContractView.show", pk=item.id),
        )
    if kind == LICENSE_KIND:
        return Event(
            kind,
            item.created_on,
            _("License %(serial)s issued", serial=item.serial),
            "",
            url_for("LicenseView.show", pk=item.id),
        )
    if kind in (OPENED_KIND, RESOLVED_KIND):
        opened = kind == OPENED_KIND
        return Event(
            kind,
            item.created_at if opened else item.resolved_at,
            _("Feedback #%(id)d opened", id=item.id)
            if opened
            else _("Feedback #%(id)d resolved", id=item.id),
            _short(item.problem),
            url_for("FeedbackView.show", pk=item.id),
        )
    owner_changed = any(field == "owner" for field, _old, _new in item.change_items())
    if owner_changed:
        title = _("Owner changed")
        detail = "; ".join(
            f"{old or '—'} → {new or '—'}"
            for (field, _o, _n), (_label, old, new) in zip(
                item.change_items(), history.describe(item), strict=True
            )
            if field == "owner"
        )
    else:
        title = _("Customer details changed")
        detail = _(", ").join(label for label, _old, _new in history.describe(item))
    return Event(
        kind,
        item.changed_at,
        title,
        _short(detail),
        url_for("CustomerView.show", pk=customer.id),
    )
