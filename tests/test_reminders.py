"""``crm alerts`` mails each owner their follow-ups due today and overdue, once a day."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.models import FeedbackNotification, NotificationState
from app.services import followups, reminders
from factories import make_customer, make_followup
from helpers import make_user

NOW = datetime(2026, 6, 15, 8, 0)


@pytest.fixture
def clock(monkeypatch):
    """``followups.now``, moved by setting ``clock.now``."""

    class Clock:
        now = NOW

    monkeypatch.setattr(followups, "now", lambda: Clock.now)
    return Clock


@pytest.fixture
def due(app, db_session):
    """Customers of three salespeople and an engineer, named by when they are due."""
    from app.models import CrmUser

    sales = db_session.scalar(select(CrmUser).where(CrmUser.username == "sales"))
    other = make_user(app, "zhaolei")
    gone = make_user(app, "leftus", active=False)
    engineer = db_session.scalar(select(CrmUser).where(CrmUser.username == "engineer"))
    idle = make_user(app, "nothingdue")
    plan = {
        "C-TODAY": (sales, NOW.replace(hour=15)),
        "C-OVERDUE": (sales, NOW - timedelta(days=5)),
        "C-LATER": (sales, NOW + timedelta(days=5)),
        "C-NONE": (sales, None),
        "C-OTHER": (other, NOW - timedelta(days=1)),
        "C-GONE": (gone, NOW - timedelta(days=1)),
        "C-ENGINEER": (engineer, NOW - timedelta(days=1)),
        "C-IDLE": (idle, NOW + timedelta(days=1)),
    }
    for code, (owner, next_at) in plan.items():
        customer = make_customer(code=code, owner_id=owner.id)
        make_followup(customer, followed_at=NOW - timedelta(days=10), next_at=next_at)
    return plan


def _mails(messages) -> dict[str, str]:
    return {message["To"]: message.get_content() for message in messages}


def _codes(body: str, plan) -> set[str]:
    return {code for code in plan if code in body}


def test_each_owner_gets_their_due_and_overdue_customers_once_a_day(
    app, db_session, clock, due, smtp_server
):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "alerts"])
    assert result.exit_code == 0, result.output
    mails = _mails(smtp_server.messages)
    # Nobody with nothing due, no inactive user, no role that may not read follow-ups.
    assert set(mails) == {"sales@example.com", "zhaolei@example.com"}
    assert _codes(mails["sales@example.com"], due) == {"C-TODAY", "C-OVERDUE"}
    assert _codes(mails["zhaolei@example.com"], due) == {"C-OTHER"}
    subjects = {message["To"]: message["Subject"] for message in smtp_server.messages}
    assert "2026-06-15" in subjects["sales@example.com"]
    assert "今日待跟进 1" in subjects["sales@example.com"], subjects
    assert "已逾期 1" in subjects["sales@example.com"], subjects

    for _again in range(2):  # later the same day: nothing queued, nothing sent
        result = runner.invoke(args=["crm", "alerts"])
        assert result.exit_code == 0, result.output
    assert len(smtp_server.messages) == 2
    rows = db_session.scalars(
        select(FeedbackNotification).where(FeedbackNotification.user_id.is_not(None))
    ).all()
    assert len(rows) == 2 and {row.state for row in rows} == {NotificationState.sent}

    clock.now = NOW + timedelta(days=1)  # tomorrow: C-TODAY is overdue, C-IDLE due
    result = runner.invoke(args=["crm", "alerts"])
    assert result.exit_code == 0, result.output
    tomorrow = _mails(smtp_server.messages[2:])
    assert set(tomorrow) == {"sales@example.com", "zhaolei@example.com", "nothingdue@example.com"}
    assert _codes(tomorrow["sales@example.com"], due) == {"C-TODAY", "C-OVERDUE"}
    assert _codes(tomorrow["nothingdue@example.com"], due) == {"C-IDLE"}


def test_a_run_stopped_before_sending_leaves_the_reminder_for_the_next_run(
    app, db_session, clock, due, smtp_server
):
    queued = reminders.queue_reminders(NOW)  # the run stops here, before sending
    assert len(queued) == 2 and smtp_server.messages == []
    result = app.test_cli_runner().invoke(args=["crm", "alerts"])
    assert result.exit_code == 0, result.output
    assert sorted(message["To"] for message in smtp_server.messages) == [
        "sales@example.com",
        "zhaolei@example.com",
    ]
    count = select(func.count()).select_from(FeedbackNotification)
    assert db_session.scalar(count) == 2


def test_without_a_mail_server_nothing_is_queued(app, db_session, clock, due):
    app.config["MAIL_SERVER"] = None
    result = app.test_cli_runner().invoke(args=["crm", "alerts"])
    assert result.exit_code == 0, result.output
    assert "MAIL_SERVER" in result.output
    assert db_session.scalar(select(func.count()).select_from(FeedbackNotification)) == 0


def test_a_long_list_names_the_first_customers_and_counts_the_rest(
    app, db_session, clock, smtp_server, monkeypatch
):
    monkeypatch.setattr(reminders, "LISTED", 3)
    for number in range(5):
        customer = make_customer(code=f"C-MANY-{number}")
        make_followup(
            customer, followed_at=NOW - timedelta(days=10), next_at=NOW - timedelta(days=number)
        )
    result = app.test_cli_runner().invoke(args=["crm", "alerts"])
    assert result.exit_code == 0, result.output
    (body,) = _mails(smtp_server.messages).values()
    # Most overdue first: the three oldest are named, the other two counted.
    assert [code for code in ("C-MANY-4", "C-MANY-3", "C-MANY-2") if code in body] == [
        "C-MANY-4",
        "C-MANY-3",
        "C-MANY-2",
    ]
    assert "C-MANY-1" not in body and "C-MANY-0" not in body
    assert "另有 2 位" in body
