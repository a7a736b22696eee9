"""The customer timeline (客户动态): what happened with one customer, newest first.

Follow-ups, contracts signed, licenses issued, feedback opened and resolved,
and the customer's own changes (owner changes and other edits, from the
change history), merged by time and paged in the database. One statement
reads a page: each source's newest rows (its index walked backwards, never a
busy customer's thousands of rows sorted), merged, with the count of each
source added up and the page's records joined. A reader sees only the kinds
of records their role may read; data scope holds through ``scope.restrict``
on each source and each count (the customer itself is already in scope when
its page opens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import DateTime, and_, cast, func, literal, select, union_all

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


def _sources(customer_id: int, kinds: set[str]) -> list[tuple]:
    """(kind, model, at column, conditions) of each readable source of events."""
    sources = []
    if FOLLOWUP_KIND in kinds:
        sources.append(
            (FOLLOWUP_KIND, FollowUp, FollowUp.followed_at, [FollowUp.customer_id == customer_id])
        )
    if CONTRACT_KIND in kinds:
        sources.append(
            (
                CONTRACT_KIND,
                Contract,
                _as_time(Contract.sign_date),
                [Contract.customer_id == customer_id, Contract.sign_date.is_not(None)],
            )
        )
    if LICENSE_KIND in kinds:
        sources.append(
            (LICENSE_KIND, License, License.created_on, [License.customer_id == customer_id])
        )
    if OPENED_KIND in kinds:
        sources.append(
            (OPENED_KIND, Feedback, Feedback.created_at, [Feedback.customer_id == customer_id])
        )
    if RESOLVED_KIND in kinds:
        sources.append(
            (
                RESOLVED_KIND,
                Feedback,
                Feedback.resolved_at,
                [Feedback.customer_id == customer_id, Feedback.resolved_at.is_not(None)],
            )
        )
    if CHANGE_KIND in kinds:
        sources.append(
            (
                CHANGE_KIND,
                ChangeRecord,
                ChangeRecord.changed_at,
                [
                    ChangeRecord.model == history.tracked_models()[Customer],
                    ChangeRecord.row_id == customer_id,
                    ChangeRecord.action == ChangeAction.update,
                ],
            )
        )
    return sources


def _total(sources):
    """How many events there are: each source counted on its own (an index alone
    answers each count), added up in one scalar expression."""
    counts = [
        scope.restrict(select(func.count()).select_from(model).where(*where), model)
        for _kind, model, _at, where in sources
    ]
    # never correlated to the page's joins of the same tables: each counts on its own
    counts = [count.correlate(None) for count in counts]
    return sum((count.scalar_subquery() for count in counts[1:]), counts[0].scalar_subquery())


def _newest(sources, limit: int):
    """The UNION of each source's ``limit`` newest events: no more can reach the page,
    and each source walks its (customer, time) index backwards instead of sorting all
    of a busy customer's rows."""
    parts = []
    for kind, model, at, where in sources:
        newest = scope.restrict(
            select(literal(kind).label("kind"), model.id.label("id"), at.label("at")).where(*where),
            model,
        )
        newest = newest.order_by(at.desc(), model.id.desc()).limit(limit).subquery()
        parts.append(select(newest.c.kind, newest.c.id, newest.c.at))
    return union_all(*parts).subquery("events")


def _page_query(sources, page: int, page_size: int):
    """The page's (kind, id, total) rows, newest first, with their records joined."""
    merged = _newest(sources, page * page_size)
    page_rows = (
        select(merged.c.kind, merged.c.id, merged.c.at)
        .order_by(merged.c.at.desc(), merged.c.kind, merged.c.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
        .subquery("page")
    )
    # The count in the outer SELECT only: SQLite copies an inner one into each UNION arm.
    query = select(page_rows.c.kind, page_rows.c.id, _total(sources).label("total"))
    for model, kinds in _models(sources).items():
        query = query.add_columns(model).outerjoin(
            model, and_(page_rows.c.kind.in_(kinds), model.id == page_rows.c.id)
        )
    return query.order_by(page_rows.c.at.desc(), page_rows.c.kind, page_rows.c.id.desc())


def _models(sources) -> dict:
    """model -> the kinds of event it records, in the sources' order."""
    models: dict = {}
    for kind, model, _at, _where in sources:
        models.setdefault(model, []).append(kind)
    return models


def timeline(customer: Customer, page: int = 1, page_size: int = PAGE_SIZE) -> TimelinePage:
    """One page of ``customer``'s events the reader may see, newest first.

    One statement: the page's events, their count and their records. Only a page
    beyond the last (an old link) costs a second: the count, then the last page.
    """
    sources = _sources(customer.id, readable_kinds())
    if not sources:
        return TimelinePage([], 0, 1, 1)
    page = max(1, page)
    rows = db.session.execute(_page_query(sources, page, page_size)).all()
    if rows:
        total = rows[0].total
    else:
        total = db.session.scalar(select(_total(sources))) or 0
        if total and page > 1:
            page = -(-total // page_size)
            rows = db.session.execute(_page_query(sources, page, page_size)).all()
    pages = max(1, -(-total // page_size))
    page = min(page, pages)
    events = [
        _event(row.kind, next(item for item in row[3:] if item is not None), customer)
        for row in rows
    ]
    return TimelinePage(events, total, page, pages)


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
