"""Feedback life cycle, service targets and overdue, on hand-built times."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.models import Feedback, FeedbackLevel, FeedbackStatus
from app.services import feedback as desk
from app.services.validation import rule_fields, validate, values_of
from factories import make_feedback

S = FeedbackStatus
ALL_MOVES = [(a, b) for a in S for b in S if a != b]
ALLOWED = {
    (S.new, S.in_progress),
    (S.in_progress, S.resolved),
    (S.resolved, S.closed),
    (S.resolved, S.in_progress),
}


def _errors_for_move(item, after, cause="网络驱动版本过旧"):
    values = values_of(item, rule_fields(Feedback))
    values.update(status=after, cause=cause)
    return validate(Feedback, values, pk=item.id)


@pytest.mark.parametrize("before,after", ALL_MOVES, ids=lambda s: s.name)
def test_only_the_life_cycle_moves_are_allowed(db_session, before, after):
    item = make_feedback(
        status=before,
        cause="原因",
        resolved_at=datetime(2026, 3, 2) if before in (S.resolved, S.closed) else None,
    )
    errors = _errors_for_move(item, after)
    if (before, after) in ALLOWED:
        assert "status" not in errors
    else:
        assert "status" in errors
        assert "不能从" in str(errors["status"]) or "cannot move" in str(errors["status"])


def test_a_new_problem_starts_as_new(db_session):
    values = values_of(Feedback(), rule_fields(Feedback))
    assert "status" in desk.status_errors({**values, "status": S.resolved}, None)
    assert "status" not in desk.status_errors({**values, "status": S.new}, None)


def test_resolving_needs_a_cause(db_session):
    item = make_feedback(status=S.in_progress)
    assert "cause" in _errors_for_move(item, S.resolved, cause="  ")
    assert "cause" not in _errors_for_move(item, S.resolved, cause="驱动过旧")


def test_resolving_sets_the_time_and_reopening_clears_it(db_session):
    item = make_feedback(status=S.in_progress)
    now = datetime(2026, 3, 5, 10, 30)
    item.status = S.resolved
    assert desk.apply_status_effects(item, S.in_progress, now) is True
    assert item.resolved_at == now

    corrected = datetime(2026, 3, 4, 18, 0)
    item.resolved_at = corrected  # the user's correction is kept
    assert desk.apply_status_effects(item, S.in_progress, now) is True
    assert item.resolved_at == corrected

    item.status = S.in_progress
    assert desk.apply_status_effects(item, S.resolved, now) is False
    assert item.resolved_at is None


@pytest.mark.parametrize(
    "level,hours",
    [
        (FeedbackLevel.urgent, 4),
        (FeedbackLevel.high, 24),
        (FeedbackLevel.medium, 72),
        (FeedbackLevel.low, 168),
    ],
)
def test_due_time_and_overdue_follow_the_level_target(db_session, level, hours):
    created = datetime(2026, 3, 1, 9, 0)
    item = make_feedback(level=level, created_at=created, status=S.in_progress)
    due = desk.due_at(created, level)
    assert due == created + timedelta(hours=hours)
    assert not desk.is_overdue(item, due)
    assert desk.is_overdue(item, due + timedelta(minutes=1))

    def overdue_ids(now):
        return set(db_session.scalars(select(Feedback.id).where(desk.overdue_condition(now))))

    assert item.id not in overdue_ids(due)
    assert item.id in overdue_ids(due + timedelta(minutes=1))


def test_resolved_problems_are_never_overdue(db_session):
    item = make_feedback(
        level=FeedbackLevel.urgent,
        created_at=datetime(2026, 1, 1),
        status=S.resolved,
        cause="x",
        resolved_at=datetime(2026, 1, 3),
    )
    late = datetime(2026, 6, 1)
    assert not desk.is_overdue(item, late)
    assert item.id not in set(
        db_session.scalars(select(Feedback.id).where(desk.overdue_condition(late)))
    )
