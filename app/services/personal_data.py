"""Personal-data requests (PIPL arts. 45 and 47): a person's copy of their data, and erasure.

For one contact or reporter, ``gather`` collects everything stored about the
person (the record in clear, its change history, the feedback they reported
and the messages sent to them, or the follow-ups that name the contact);
app/reports/personal_data.py lays it out as a workbook. ``anonymise``
(删除个人信息) replaces the name with a placeholder, clears the other personal
fields, blanks those fields' values in the change history (the record's own
rows and the rows of follow-ups and feedback that name the person) and in the
messages sent to a reporter. The feedback rows stay, so every statistic is
unchanged. Both are written to the security log; the pages only call these
functions. Records out of the reader's data scope are treated as missing.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Contact, Feedback, FollowUp, Reporter
from app.models.history import ChangeRecord
from app.models.labels import labels_for
from app.models.notification import FeedbackNotification
from app.services import audit, history, scope
from app.services.querying import is_key

MAX_REASON_LENGTH = 200
# model name -> the fields that identify the person; ``name`` becomes a placeholder,
# the others are cleared. A reporter's store stays: it is the customer's, and the
# feedback statistics count by it.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "Contact": ("name", "position", "birth_date", "national_id", "phone", "email", "address"),
    "Reporter": ("name", "phone", "email", "address"),
}
MODELS = {"Contact": Contact, "Reporter": Reporter}
# model name -> (history model, field) of the records that name the person in their history
NAMED_IN = {"Contact": ("FollowUp", "contact"), "Reporter": ("Feedback", "reporter")}


class RequestRefused(ValueError):
    """The request cannot be carried out; the message says why, in the reader's language."""


@dataclass
class Section:
    """One table of the person's data: a title, column labels and rows of values."""

    title: str
    labels: list[str]
    rows: list[tuple] = field(default_factory=list)
    name: str = ""  # the title's msgid: the security log stores it, each reader sees it translated


@dataclass
class PersonData:
    """Everything stored about one person, ready to lay out."""

    model_name: str
    pk: int
    title: str
    record: list[tuple[str, Any]]
    sections: list[Section]


def find(model, pk):
    """The contact or reporter ``pk`` if it exists and is in the reader's scope, else None."""
    if not is_key(pk):
        return None
    return scope.get_visible(model, int(pk))


def target(item) -> str:
    """How the security log names the record: never by the person's name."""
    return f"{type(item).__name__} #{item.id}"


# --- the copy of the data ---------------------------------------------------


def _text(value: Any) -> Any:
    """A value for the workbook: labels for codes, names for records, numbers as numbers."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (int, float, Decimal, date, datetime, str)):
        return value
    return str(value)


def _record_fields(item) -> list[tuple[str, Any]]:
    """(label, value) of every stored column, in clear; foreign keys by the record's name."""
    model = type(item)
    labels = labels_for(model)
    mapper = model.__mapper__
    relations = {
        next(iter(relation.local_columns)).key: relation.key
        for relation in mapper.relationships
        if relation.direction.name == "MANYTOONE" and len(relation.local_columns) == 1
    }
    relations.update({"created_by_fk": "created_by", "changed_by_fk": "changed_by"})
    fields = []
    for attr in mapper.column_attrs:
        key = attr.key
        if key == "row_version" or key.endswith("_hash"):  # bookkeeping, a keyed hash
            continue
        if key in relations:
            relation = relations[key]
            related = getattr(item, relation, None)
            label = labels.get(relation, labels.get(key, relation))
            fields.append((str(label), None if related is None else str(related)))
        else:
            fields.append((str(labels.get(key, key)), _text(getattr(item, key))))
    return fields


def _history_value(model_name: str, name: str, value: str | None) -> str:
    """A history value as pages show it, the person's own fields in clear."""
    if name in PERSONAL_FIELDS.get(model_name, ()):
        return value or ""
    return history.display_value(model_name, name, value)


def _history_section(model_name: str, pk: int) -> Section:
    rows = db.session.scalars(
        select(ChangeRecord)
        .where(ChangeRecord.model == model_name, ChangeRecord.row_id == pk)
        .order_by(ChangeRecord.changed_at, ChangeRecord.id)
    )
    section = Section(
        _("Change history"),
        [_("Time"), _("User"), _("Address"), _("Operation"), _("Field"), _("Old value")]
        + [_("New value")],
    )
    for record in rows:
        who = history.acting_label(record)
        for name, old, new in record.change_items():
            section.rows.append(
                (
                    record.changed_at,
                    who,
                    record.remote_addr,
                    str(record.action) if record.action else "",
                    history.field_label(model_name, name),
                    _history_value(model_name, name, old),
                    _history_value(model_name, name, new),
                )
            )
    return section


def _feedback_sections(reporter: Reporter) -> list[Section]:
    labels = labels_for(Feedback)
    columns = ("id", "created_at", "problem", "details", "status", "level", "product", "store")
    columns += ("city", "engineer", "resolved_at", "cause")
    feedback = Section(
        _("Feedback reported"), [str(labels.get(c, c)) for c in columns], name="Feedback reported"
    )
    items = db.session.scalars(
        select(Feedback).where(Feedback.reporter_id == reporter.id).order_by(Feedback.id)
    ).all()
    for item in items:
        feedback.rows.append(tuple(_text(getattr(item, column)) for column in columns))
    messages = Section(
        _("Messages to the reporter"),
        [_("Feedback"), _("Queued at"), _("Channel"), _("Recipient"), _("Subject"), _("Message")]
        + [_("State"), _("Sent at")],
        name="Messages to the reporter",
    )
    notices = db.session.scalars(
        select(FeedbackNotification)
        .join(Feedback, Feedback.id == FeedbackNotification.feedback_id)
        .where(Feedback.reporter_id == reporter.id)
        .order_by(FeedbackNotification.queued_at, FeedbackNotification.id)
    )
    for notice in notices:
        messages.rows.append(
            (
                notice.feedback_id,
                notice.queued_at,
                _text(notice.channel),
                notice.recipient,
                notice.subject,
                notice.body,
                _text(notice.state),
                notice.sent_at,
            )
        )
    return [feedback, messages]


def _followup_sections(contact: Contact) -> list[Section]:
    labels = labels_for(FollowUp)
    columns = ("id", "followed_at", "method", "content", "next_at", "next_step", "user")
    section = Section(_("Follow-ups"), [str(labels.get(c, c)) for c in columns], name="Follow-ups")
    items = db.session.scalars(
        select(FollowUp).where(FollowUp.contact_id == contact.id).order_by(FollowUp.followed_at)
    )
    for item in items:
        section.rows.append(tuple(_text(getattr(item, column)) for column in columns))
    return [section]


def gather(item) -> PersonData:
    """Everything stored about the person ``item`` (a contact or a reporter)."""
    model_name = type(item).__name__
    sections = [_history_section(model_name, item.id)]
    if isinstance(item, Reporter):
        sections += _feedback_sections(item)
    else:
        sections += _followup_sections(item)
    return PersonData(model_name, item.id, str(item), _record_fields(item), sections)


def download(item) -> PersonData:
    """``gather`` for a download, written to the security log (who, when, which record)."""
    data = gather(item)
    audit.record(
        audit.PERSONAL_DATA,
        target(item),
        history_rows=len(data.sections[0].rows),
        rows={section.name: len(section.rows) for section in data.sections[1:]},
    )
    return data


# --- erasure ------------------------------------------------------------------


def checked_reason(reason: Any) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise RequestRefused(_("Say why the personal data is deleted (the reason is required)."))
    if len(reason) > MAX_REASON_LENGTH:
        raise RequestRefused(
            _("The reason may have at most %(count)d characters.", count=MAX_REASON_LENGTH)
        )
    return reason


def placeholder(pk: int) -> str:
    return _("Anonymised #%(id)d", id=pk)


def anonymise(item, reason: Any) -> None:
    """Replace the person's name, clear their other personal fields and blank those
    fields in the history and in the messages sent to them; everything else stays."""
    reason = checked_reason(reason)
    model_name = type(item).__name__
    fields = PERSONAL_FIELDS[model_name]
    session = db.session
    before = {name: getattr(item, name) for name in fields}
    old_title = str(item)
    for name in fields:
        setattr(item, name, placeholder(item.id) if name == "name" else None)
    history.note_reason(session, item, reason)
    session.flush()  # writes this change's history row, purged next with the older ones
    _purge_own_history(session, model_name, item.id, fields, str(item))
    _purge_mentions(session, model_name, item.id, old_title, str(item))
    if isinstance(item, Reporter):
        _scrub_messages(session, item, before)
    audit.record(
        audit.ANONYMISE,
        target(item),
        reason=reason,
        fields=[name for name in fields if before[name] not in (None, "")],
        commit=False,
    )
    session.commit()


def _purge_own_history(session: Session, model_name: str, pk: int, fields, title: str) -> None:
    """The record's history rows: its personal fields' values blanked, its name replaced."""
    table = ChangeRecord.__table__
    rows = session.execute(
        select(table.c.id, table.c.changes).where(table.c.model == model_name, table.c.row_id == pk)
    ).all()
    for row_id, text in rows:
        changes = _loads(text)
        for name in fields:
            change = changes.get(name)
            if not isinstance(change, dict):
                continue
            for side in ("old", "new"):
                if change.get(side) is not None:
                    change[side] = title if name == "name" else None
        session.execute(
            update(table)
            .where(table.c.id == row_id)
            .values(record=title[:300], changes=_dumps(changes))
        )
    session.info.get(history.WRITTEN, {}).pop((model_name, pk), None)


def _purge_mentions(session: Session, model_name: str, pk: int, old: str, new: str) -> None:
    """History rows of other records naming the person ("张三 [#5]") name the placeholder."""
    other_model, name = NAMED_IN[model_name]
    table = ChangeRecord.__table__
    suffix = f" [#{pk}]"
    rows = session.execute(
        select(table.c.id, table.c.changes).where(
            table.c.model == other_model, table.c.changes.contains(suffix)
        )
    ).all()
    for row_id, text in rows:
        changes = _loads(text)
        change = changes.get(name)
        if not isinstance(change, dict):
            continue
        touched = False
        for side in ("old", "new"):
            value = change.get(side)
            if isinstance(value, str) and value.endswith(suffix):
                change[side] = f"{new}{suffix}"[: history.MAX_TEXT]
                touched = True
        if touched:
            session.execute(
                update(table).where(table.c.id == row_id).values(changes=_dumps(changes))
            )
    session.info.get(history.WRITTEN, {}).clear()  # merged rows are re-read, not re-written


def _scrub_messages(session: Session, reporter: Reporter, before: dict[str, Any]) -> None:
    """Messages sent to the reporter keep their subject and state, not the person's details."""
    notices = session.scalars(
        select(FeedbackNotification)
        .join(Feedback, Feedback.id == FeedbackNotification.feedback_id)
        .where(Feedback.reporter_id == reporter.id)
    )
    secrets = [str(value) for value in before.values() if value not in (None, "")]
    secrets.sort(key=len, reverse=True)  # a longer value first, so a shorter one in it goes too
    for notice in notices:
        notice.recipient = "-"
        for secret in secrets:
            replacement = reporter.name if secret == before.get("name") else ""
            notice.subject = notice.subject.replace(secret, replacement)[:200]
            notice.body = notice.body.replace(secret, replacement)


def _loads(text: str | None) -> dict:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _dumps(changes: dict) -> str:
    return json.dumps(changes, ensure_ascii=False, sort_keys=True)
