"""The support desk through HTTP: life cycle on page and API, assigning, queues, messages.

The desk's clock (``app.services.feedback.now``) is frozen where times matter;
mail goes to a real SMTP server on 127.0.0.1 started by the test.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    CrmUser,
    Feedback,
    FeedbackLevel,
    FeedbackNotification,
    FeedbackStatus,
    NotificationState,
)
from app.services import notifications
from factories import make_customer, make_feedback, make_reporter
from helpers import PASSWORD, Inbox, counting_statements, unescaped_html

S = FeedbackStatus
ALL_MOVES = [(a, b) for a in S for b in S if a != b]
ALLOWED = {
    (S.new, S.in_progress),
    (S.in_progress, S.resolved),
    (S.resolved, S.closed),
    (S.resolved, S.in_progress),
}
CAUSE = "门店网络驱动版本过旧，已升级"


# --------------------------------------------------------------------------- helpers


def user_id(db_session, username) -> int:
    return db_session.scalar(select(CrmUser.id).where(CrmUser.username == username))


def stored(db_session, item_id) -> Feedback:
    db_session.expire_all()
    return db_session.get(Feedback, item_id)


def notices_of(db_session, item_id) -> list[FeedbackNotification]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(FeedbackNotification)
            .where(FeedbackNotification.feedback_id == item_id)
            .order_by(FeedbackNotification.id)
        )
    )


def row_ids(response) -> set[int]:
    return {
        int(pk) for pk in re.findall(r'name="rowid" value="(\d+)"', response.get_data(as_text=True))
    }


def list_rows(response) -> dict[int, str]:
    """The list's rows by feedback id, as HTML."""
    page = response.get_data(as_text=True)
    return {
        int(pk): row
        for pk, row in re.findall(
            r'name="rowid" value="(\d+)"(.*?)(?=name="rowid"|</table>)', page, re.S
        )
    }


def feedback_in(before: S, **overrides) -> Feedback:
    done = before in (S.resolved, S.closed)
    values = dict(
        status=before,
        cause=CAUSE if done else None,
        resolved_at=datetime(2026, 3, 2, 10, 0) if done else None,
    )
    return make_feedback(**{**values, **overrides})


def edit_form(item: Feedback, **changes) -> dict:
    values = {
        "customer": item.customer_id,
        "reporter": item.reporter_id,
        "product": "",
        "problem": item.problem,
        "details": item.details or "",
        "level": item.level.name,
        "status": item.status.name,
        "engineer": item.engineer_id or "",
        "created_at": item.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "resolved_at": item.resolved_at.strftime("%Y-%m-%d %H:%M:%S") if item.resolved_at else "",
        "cause": item.cause or "",
        "city": item.city or "",
        "store": item.store or "",
    }
    values.update(changes)
    return values


def _check_move(db_session, item_id, before, after, refused, message_source):
    now_item = stored(db_session, item_id)
    if (before, after) in ALLOWED:
        assert not refused, message_source
        assert now_item.status == after
        if after == S.resolved:
            assert now_item.resolved_at is not None
        if after == S.in_progress:
            assert now_item.resolved_at is None  # reopening clears it
    else:
        assert refused
        assert "问题状态不能从" in message_source
        assert now_item.status == before  # nothing stored


# --------------------------------------------------------------------------- life cycle


@pytest.mark.parametrize("before,after", ALL_MOVES, ids=lambda s: s.name)
def test_every_move_on_the_page(db_session, signed_in, before, after):
    item = feedback_in(before)
    response = signed_in("support").post(
        f"/feedback/edit/{item.id}", data=edit_form(item, status=after.name, cause=CAUSE)
    )
    assert response.status_code in (200, 302)
    _check_move(
        db_session, item.id, before, after, response.status_code == 200, unescaped_html(response)
    )


@pytest.mark.parametrize("before,after", ALL_MOVES, ids=lambda s: s.name)
def test_every_move_through_the_api(app, db_session, jwt_headers, before, after):
    item = feedback_in(before)
    response = app.test_client().put(
        f"/api/v1/feedback/{item.id}",
        json={"status": after.name, "cause": CAUSE},
        headers=jwt_headers("support"),
    )
    assert response.status_code in (200, 422), response.json
    _check_move(db_session, item.id, before, after, response.status_code == 422, str(response.json))


def test_resolving_without_a_cause_is_refused_on_page_and_api(
    db_session, signed_in, app, jwt_headers
):
    item = feedback_in(S.in_progress)
    response = signed_in("support").post(
        f"/feedback/edit/{item.id}", data=edit_form(item, status="resolved", cause="  ")
    )
    assert response.status_code == 200 and "请填写原因分析" in unescaped_html(response)
    response = app.test_client().put(
        f"/api/v1/feedback/{item.id}",
        json={"status": "resolved", "cause": ""},
        headers=jwt_headers("support"),
    )
    assert response.status_code == 422 and "请填写原因分析" in str(response.json)
    assert stored(db_session, item.id).status == S.in_progress


def test_resolved_time_is_set_kept_when_corrected_and_never_before_creation(
    db_session, signed_in, frozen
):
    item = feedback_in(S.in_progress)
    visitor = signed_in("support")
    visitor.post(f"/feedback/edit/{item.id}", data=edit_form(item, status="resolved", cause=CAUSE))
    assert stored(db_session, item.id).resolved_at == frozen

    other = feedback_in(S.in_progress)
    corrected = "2026-03-04 18:00:00"
    visitor.post(
        f"/feedback/edit/{other.id}",
        data=edit_form(other, status="resolved", cause=CAUSE, resolved_at=corrected),
    )
    assert stored(db_session, other.id).resolved_at == datetime(2026, 3, 4, 18, 0)

    third = feedback_in(S.in_progress)
    response = visitor.post(
        f"/feedback/edit/{third.id}",
        data=edit_form(third, status="resolved", cause=CAUSE, resolved_at="2026-02-01 08:00:00"),
    )
    assert response.status_code == 200 and "不能早于" in unescaped_html(response)
    assert stored(db_session, third.id).status == S.in_progress


def test_a_new_problem_cannot_start_resolved(db_session, signed_in):
    reporter = make_reporter()
    data = {
        "customer": reporter.customer_id,
        "reporter": reporter.id,
        "problem": "新问题",
        "level": "medium",
        "status": "resolved",
        "cause": CAUSE,
        "created_at": "2026-03-01 09:00:00",
    }
    response = signed_in("support").post("/feedback/add", data=data)
    assert response.status_code == 200
    assert db_session.scalar(select(func.count(Feedback.id))) == 0


# --------------------------------------------------------------------------- assigning


def test_assign_from_the_list_with_the_edit_permission(db_session, signed_in):
    items = [make_feedback(), make_feedback()]
    engineer = user_id(db_session, "engineer")
    visitor = signed_in("support")
    page = unescaped_html(visitor.get("/feedback/list/"))
    assert "分配/更换跟踪工程师" in page and "为所选问题分配跟踪工程师？" in page

    response = visitor.post(
        "/feedback/action_post", data={"action": "assign", "rowid": [i.id for i in items]}
    )
    assert response.status_code == 302 and "/feedback/assign/" in response.location
    chooser = visitor.get(response.location)
    assert chooser.status_code == 200
    assert all(f'name="ids" value="{i.id}"' in chooser.get_data(as_text=True) for i in items)

    response = visitor.post(
        "/feedback/assign/", data={"ids": [i.id for i in items], "engineer": engineer}
    )
    assert response.status_code == 302
    assert {stored(db_session, i.id).engineer_id for i in items} == {engineer}
    assert "已将 2 个问题分配给" in unescaped_html(visitor.get("/feedback/list/"))


def test_assign_on_the_show_page_and_unassign(db_session, signed_in):
    item = make_feedback()
    engineer2 = user_id(db_session, "engineer2")
    visitor = signed_in("support")
    page = visitor.get(f"/feedback/show/{item.id}").get_data(as_text=True)
    assert 'id="assign-form"' in page and f'value="{engineer2}"' in page
    response = visitor.post(
        "/feedback/assign/", data={"ids": item.id, "engineer": engineer2, "back": "show"}
    )
    assert response.status_code == 302 and response.location.endswith(f"/feedback/show/{item.id}")
    assert stored(db_session, item.id).engineer_id == engineer2
    visitor.post("/feedback/assign/", data={"ids": item.id, "engineer": "", "back": "show"})
    assert stored(db_session, item.id).engineer_id is None


def test_a_role_without_edit_cannot_assign(db_session, signed_in):
    item = make_feedback()
    visitor = signed_in("manager")  # reads feedback, may not edit it
    page = visitor.get(f"/feedback/show/{item.id}").get_data(as_text=True)
    assert 'id="assign-form"' not in page and 'id="write-form"' not in page
    assert "分配/更换跟踪工程师" not in unescaped_html(visitor.get("/feedback/list/"))
    engineer = user_id(db_session, "engineer")
    response = visitor.post("/feedback/action_post", data={"action": "assign", "rowid": item.id})
    assert response.status_code == 302 and "/assign/" not in response.location
    response = visitor.post("/feedback/assign/", data={"ids": item.id, "engineer": engineer})
    assert response.status_code == 403
    assert stored(db_session, item.id).engineer_id is None


def test_an_engineer_reassigns_only_their_own_problems(db_session, signed_in):
    mine = make_feedback(engineer_id=user_id(db_session, "engineer"))
    theirs = make_feedback(engineer_id=user_id(db_session, "engineer2"))
    engineer2 = user_id(db_session, "engineer2")
    visitor = signed_in("engineer")
    assert 'id="assign-form"' not in visitor.get(f"/feedback/show/{theirs.id}").get_data(
        as_text=True
    )
    response = visitor.post(
        "/feedback/assign/", data={"ids": [mine.id, theirs.id], "engineer": engineer2}
    )
    assert response.status_code == 302
    assert "只有其跟踪工程师可以重新分配" in unescaped_html(visitor.get("/feedback/list/"))
    assert stored(db_session, mine.id).engineer_id == user_id(
        db_session, "engineer"
    )  # all or nothing

    visitor.post("/feedback/assign/", data={"ids": mine.id, "engineer": engineer2})
    assert stored(db_session, mine.id).engineer_id == engineer2


def test_assigning_to_someone_who_cannot_work_on_feedback_is_refused(db_session, signed_in):
    item = make_feedback()
    for engineer in (user_id(db_session, "sales"), "abc", 99999999):
        response = signed_in("support").post(
            "/feedback/assign/", data={"ids": item.id, "engineer": engineer}
        )
        assert response.status_code == 302
        assert stored(db_session, item.id).engineer_id is None
    assert "请选择一位可处理客户反馈的在职用户" in unescaped_html(
        signed_in("support").get("/feedback/list/")
    )


# --------------------------------------------------------------------------- queues


@pytest.fixture
def desk_rows(db_session, frozen):
    support, engineer2 = user_id(db_session, "support"), user_id(db_session, "engineer2")
    reporter = make_reporter()

    def hours(n):
        return frozen - timedelta(hours=n)

    rows = {
        # urgent: 4 h target; low: 168 h; high: 24 h
        "mine_overdue": make_feedback(
            reporter,
            engineer_id=support,
            level=FeedbackLevel.urgent,
            created_at=hours(5),
            status=S.in_progress,
        ),
        "mine_in_time": make_feedback(
            reporter,
            engineer_id=support,
            level=FeedbackLevel.low,
            created_at=hours(1),
            status=S.new,
        ),
        "nobody_overdue": make_feedback(
            reporter, level=FeedbackLevel.high, created_at=hours(25), status=S.new
        ),
        "nobody_due_now": make_feedback(
            reporter, level=FeedbackLevel.high, created_at=hours(24), status=S.new
        ),
        "theirs_resolved": make_feedback(
            reporter,
            engineer_id=engineer2,
            level=FeedbackLevel.urgent,
            created_at=hours(100),
            status=S.resolved,
            cause=CAUSE,
            resolved_at=hours(90),
        ),
        "nobody_closed": make_feedback(
            reporter,
            level=FeedbackLevel.medium,
            created_at=hours(300),
            status=S.closed,
            cause=CAUSE,
            resolved_at=hours(299),
        ),
    }
    return {name: item.id for name, item in rows.items()}


@pytest.mark.parametrize(
    "query,expected",
    [
        (
            "",
            {
                "mine_overdue",
                "mine_in_time",
                "nobody_overdue",
                "nobody_due_now",
                "theirs_resolved",
                "nobody_closed",
            },
        ),
        ("_flt_0_queue=mine", {"mine_overdue", "mine_in_time"}),
        ("_flt_0_queue=overdue", {"mine_overdue", "nobody_overdue"}),
        ("_flt_0_queue=unassigned", {"nobody_overdue", "nobody_due_now", "nobody_closed"}),
        ("_flt_0_queue=open", {"mine_overdue", "mine_in_time", "nobody_overdue", "nobody_due_now"}),
        ("_flt_0_queue=mine&_flt_0_queue=overdue", {"mine_overdue"}),
        ("_flt_0_queue=unassigned&_flt_0_queue=open", {"nobody_overdue", "nobody_due_now"}),
        ("_flt_0_queue=overdue&_flt_0_level=high", {"nobody_overdue"}),
        ("_flt_0_queue=nonsense", set()),
    ],
)
def test_the_queues_combine_with_the_other_filters(signed_in, desk_rows, query, expected):
    response = signed_in("support").get(f"/feedback/list/?{query}")
    assert response.status_code == 200
    assert row_ids(response) == {desk_rows[name] for name in expected}


def test_the_list_marks_overdue_rows_and_unassigned_ones(signed_in, desk_rows):
    rows = list_rows(signed_in("support").get("/feedback/list/"))
    overdue = {pk for pk, row in rows.items() if "feedback-overdue" in row}
    assert overdue == {desk_rows["mine_overdue"], desk_rows["nobody_overdue"]}
    # due = created + target: the high-level problem created 24 h ago is due now, not late
    assert "2026-03-10 12:00" in rows[desk_rows["nobody_due_now"]]
    assert "feedback-unassigned" in rows[desk_rows["nobody_closed"]]
    assert "feedback-unassigned" not in rows[desk_rows["mine_in_time"]]


def test_queue_links_toggle_and_keep_other_filters(signed_in, desk_rows):
    page = signed_in("support").get("/feedback/list/?_flt_0_level=high&_flt_0_queue=open")
    links = dict(
        re.findall(
            r'id="queue-(\w+)"[^>]*href="([^"]+)"', html.unescape(page.get_data(as_text=True))
        )
    )
    assert "_flt_0_level=high" in links["overdue"]
    assert "_flt_0_queue=overdue" in links["overdue"] and "_flt_0_queue=open" in links["overdue"]
    assert "_flt_0_queue" not in links["open"]  # clicking an active queue turns it off
    response = signed_in("support").get(links["overdue"])
    assert row_ids(response) == {desk_rows["nobody_overdue"]}


def test_the_export_honours_the_queue(signed_in, desk_rows):
    from io import BytesIO

    from openpyxl import load_workbook

    response = signed_in("support").get("/feedback/export.xlsx?_flt_0_queue=overdue")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    ids = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] is not None}
    assert {int(i) for i in ids} == {desk_rows["mine_overdue"], desk_rows["nobody_overdue"]}


def test_the_filtered_list_runs_a_constant_number_of_queries(app, signed_in, frozen):
    """Requests outside the test's app context, so each has its own session and ``g``."""
    visitor = signed_in("support")

    def add_rows(count):
        with app.app_context():
            support = user_id(db.session, "support")
            reporter = make_reporter()
            for _ in range(count):
                make_feedback(
                    reporter,
                    engineer_id=support,
                    level=FeedbackLevel.urgent,
                    created_at=frozen - timedelta(hours=9),
                    status=S.in_progress,
                )

    def queries_for(url):
        with counting_statements(app) as statements:
            response = visitor.get(url)
        assert response.status_code == 200
        return len(statements), len(row_ids(response))

    url = "/feedback/list/?_flt_0_queue=mine&_flt_0_queue=overdue&_flt_0_queue=open"
    add_rows(1)
    queries_for(url)  # warm caches (permissions, menu)
    few, shown = queries_for(url)
    add_rows(5)
    many, shown_now = queries_for(url)
    assert (shown, shown_now) == (1, 6)
    assert many == few


def test_a_partial_target_config_keeps_the_other_levels_defaults(
    app, db_session, signed_in, frozen, monkeypatch
):
    """Config naming only some levels: the list still works, the rest keep their default."""
    monkeypatch.setitem(app.config, "FEEDBACK_TARGET_HOURS", {"urgent": 1})
    reporter = make_reporter()
    urgent = make_feedback(
        reporter, level=FeedbackLevel.urgent, status=S.new, created_at=frozen - timedelta(hours=2)
    )  # late with 1 h, not with 4 h
    medium = make_feedback(
        reporter, level=FeedbackLevel.medium, status=S.new, created_at=frozen - timedelta(hours=1)
    )
    visitor = signed_in("support")
    response = visitor.get("/feedback/list/")
    assert response.status_code == 200
    rows = list_rows(response)
    assert "feedback-overdue" in rows[urgent.id] and "2026-03-10 11:00" in rows[urgent.id]
    assert "feedback-overdue" not in rows[medium.id]
    assert "2026-03-13 11:00" in rows[medium.id]  # the default 72 h
    assert row_ids(visitor.get("/feedback/list/?_flt_0_queue=overdue")) == {urgent.id}


def desk_panel(visitor, item_id) -> str:
    page = unescaped_html(visitor.get(f"/feedback/show/{item_id}"))
    return re.search(r'id="feedback-target".*?id="feedback-notifications"', page, re.S).group(0)


@pytest.mark.parametrize(
    "level,created,status,due,overdue",
    [
        # FROZEN_DESK_TIME is 2026-03-10 12:00; urgent 4 h, high 24 h
        (
            FeedbackLevel.urgent,
            datetime(2026, 3, 10, 8, 0),
            S.in_progress,
            "2026-03-10 12:00",
            False,
        ),
        (
            FeedbackLevel.urgent,
            datetime(2026, 3, 10, 7, 59),
            S.in_progress,
            "2026-03-10 11:59",
            True,
        ),
        (FeedbackLevel.high, datetime(2026, 3, 8, 9, 0), S.new, "2026-03-09 09:00", True),
        (FeedbackLevel.high, datetime(2026, 3, 8, 9, 0), S.resolved, "2026-03-09 09:00", False),
    ],
    ids=["due-now", "a-minute-late", "new-and-late", "resolved-late-is-not-overdue"],
)
def test_the_show_page_gives_the_due_time_and_marks_overdue(
    db_session, signed_in, frozen, level, created, status, due, overdue
):
    done = status == S.resolved
    item = make_feedback(
        level=level,
        created_at=created,
        status=status,
        cause=CAUSE if done else None,
        resolved_at=datetime(2026, 3, 10, 11, 0) if done else None,
    )
    panel = desk_panel(signed_in("support"), item.id)
    assert re.search(rf"到期时间\s*[:：]\s*<strong>{due}</strong>", panel), panel
    assert ("feedback-overdue" in panel) == overdue
    if overdue:
        assert "已超期" in panel


# --------------------------------------------------------------------------- telling the reporter


def _resolve_on_the_page(visitor, item):
    response = visitor.post(
        f"/feedback/edit/{item.id}", data=edit_form(item, status="resolved", cause=CAUSE)
    )
    assert response.status_code == 302
    notifications.wait_for_sending()


def test_resolution_mail_arrives_and_shows_on_the_page_then_resend(
    db_session, signed_in, smtp_server
):
    item = feedback_in(S.in_progress, problem="收银机无法打印小票")
    visitor = signed_in("support")
    _resolve_on_the_page(visitor, item)
    [message] = smtp_server.messages
    assert message["Subject"] == "您反馈的问题已解决：收银机无法打印小票"
    assert CAUSE in message.get_content() and message["To"] == item.reporter.email
    [notice] = notices_of(db_session, item.id)
    assert notice.state == NotificationState.sent

    page = unescaped_html(visitor.get(f"/feedback/show/{item.id}"))
    assert f'data-id="{notice.id}" data-state="sent"' in page and "已发送" in page

    response = visitor.post(f"/feedback/notifications/{notice.id}/resend")
    assert response.status_code == 302
    notifications.wait_for_sending()
    assert len(smtp_server.messages) == 2
    assert [n.state for n in notices_of(db_session, item.id)] == [NotificationState.sent] * 2


def test_with_the_mail_server_down_the_failure_is_recorded_and_the_page_works(
    db_session, signed_in, mail_config
):
    item = feedback_in(S.in_progress)
    visitor = signed_in("support")
    _resolve_on_the_page(visitor, item)
    assert stored(db_session, item.id).status == S.resolved
    [failed] = notices_of(db_session, item.id)
    assert failed.state == NotificationState.failed and failed.error

    response = visitor.get(f"/feedback/show/{item.id}")
    assert response.status_code == 200
    page = unescaped_html(response)
    assert 'data-state="failed"' in page and "发送失败" in page and failed.error in page

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=mail_config)
    controller.start()
    try:
        visitor.post(f"/feedback/notifications/{failed.id}/resend")
        notifications.wait_for_sending()
    finally:
        controller.stop()
    states = [n.state for n in notices_of(db_session, item.id)]
    assert states == [NotificationState.failed, NotificationState.sent]
    assert len(inbox.messages) == 1


def test_a_reporter_without_email_is_shown_as_a_call_with_the_phone(
    db_session, signed_in, smtp_server
):
    reporter = make_reporter(email=None, phone="13900001111")
    item = feedback_in(S.in_progress, reporter=reporter)
    visitor = signed_in("support")
    _resolve_on_the_page(visitor, item)
    page = unescaped_html(visitor.get(f"/feedback/show/{item.id}"))
    assert 'data-state="call_needed"' in page and "请致电 13900001111" in page
    assert smtp_server.messages == []


def test_write_to_the_reporter_from_the_template(db_session, signed_in, smtp_server):
    item = feedback_in(S.in_progress, problem="会员积分不同步")
    visitor = signed_in("support")
    page = unescaped_html(visitor.get(f"/feedback/show/{item.id}"))
    assert 'value="关于您反馈的问题：会员积分不同步"' in page
    assert f"{item.reporter.name} 您好" in page

    response = visitor.post(
        f"/feedback/write/{item.id}",
        data={"subject": "请提供收银机型号", "body": "您好：\n请回复收银机型号。"},
    )
    assert response.status_code == 302
    notifications.wait_for_sending()
    [message] = smtp_server.messages
    assert message["Subject"] == "请提供收银机型号" and "请回复收银机型号" in message.get_content()
    [notice] = notices_of(db_session, item.id)
    assert notice.state == NotificationState.sent


def test_a_message_without_subject_is_refused_and_keeps_the_text(db_session, signed_in):
    item = feedback_in(S.in_progress)
    response = signed_in("support").post(
        f"/feedback/write/{item.id}", data={"subject": " ", "body": "已为您远程升级驱动"}
    )
    assert response.status_code == 200
    page = unescaped_html(response)
    assert "请填写消息主题" in page and "已为您远程升级驱动" in page
    assert notices_of(db_session, item.id) == []


# One user per test: requests made inside the test's app context share its ``g``.
def test_a_role_without_edit_cannot_write_or_resend(db_session, signed_in):
    item = feedback_in(S.in_progress)
    notice = notifications.queue_message(item, "主题", "内容")
    db_session.commit()
    visitor = signed_in("manager")
    assert (
        visitor.post(f"/feedback/write/{item.id}", data={"subject": "x", "body": "y"}).status_code
        == 403
    )
    assert visitor.post(f"/feedback/notifications/{notice.id}/resend").status_code == 403
    assert len(notices_of(db_session, item.id)) == 1


def test_an_engineer_writes_only_about_their_own_problems(db_session, signed_in):
    theirs = feedback_in(S.in_progress, engineer_id=user_id(db_session, "engineer2"))
    notice = notifications.queue_message(theirs, "主题", "内容")
    db_session.commit()
    visitor = signed_in("engineer")
    response = visitor.post(f"/feedback/write/{theirs.id}", data={"subject": "x", "body": "y"})
    assert response.status_code == 302
    assert visitor.post(f"/feedback/notifications/{notice.id}/resend").status_code == 302
    assert len(notices_of(db_session, theirs.id)) == 1
    page = unescaped_html(visitor.get(f"/feedback/show/{theirs.id}"))
    assert "已分配给其他工程师" in page and 'id="write-form"' not in page


def test_resend_of_an_unknown_notification_is_404(signed_in):
    assert signed_in("support").post("/feedback/notifications/99999999/resend").status_code == 404


# --------------------------------------------------------------------------- reporter and customer


def test_reporter_page_shows_history_and_open_problems(db_session, signed_in, frozen):
    reporter = make_reporter()
    late = make_feedback(
        reporter,
        level=FeedbackLevel.urgent,
        status=S.in_progress,
        created_at=frozen - timedelta(hours=6),
    )
    fresh = make_feedback(reporter, level=FeedbackLevel.low, created_at=frozen)
    done = make_feedback(
        reporter,
        status=S.closed,
        cause=CAUSE,
        created_at=datetime(2026, 2, 1),
        resolved_at=datetime(2026, 2, 2),
    )
    other = make_feedback()  # someone else's
    page = signed_in("support").get(f"/reporters/show/{reporter.id}").get_data(as_text=True)
    assert f"/feedback/show/{other.id}" not in page
    open_rows = set(map(int, re.findall(r'class="open-problem" data-id="(\d+)"', page)))
    assert open_rows == {late.id, fresh.id}
    history = page[page.index('id="FeedbackView"') :]  # the related list's tab
    for record in (late, fresh, done):
        assert f"/feedback/show/{record.id}" in history
    assert done.problem in history and f'data-id="{done.id}"' not in page
    assert re.search(r'data-level="urgent" data-stat="overdue"[^>]*>1<', page)


def test_customer_page_counts_open_feedback_by_level(db_session, signed_in, frozen):
    customer = make_customer()
    reporter = make_reporter(customer)
    for level in (FeedbackLevel.urgent, FeedbackLevel.urgent, FeedbackLevel.low):
        make_feedback(reporter, level=level, status=S.new, created_at=frozen)
    make_feedback(
        reporter,
        level=FeedbackLevel.urgent,
        status=S.closed,
        cause=CAUSE,
        created_at=datetime(2026, 2, 1),
        resolved_at=datetime(2026, 2, 2),
    )
    make_feedback(level=FeedbackLevel.urgent)  # another customer's
    page = signed_in("support").get(f"/customers/show/{customer.id}").get_data(as_text=True)

    def count(level):
        match = re.search(rf'data-level="{level}" data-stat="open">\s*(?:<a[^>]*>)?(\d+)', page)
        return int(match.group(1))

    assert (count("urgent"), count("high"), count("medium"), count("low")) == (2, 0, 0, 1)


def test_customer_page_has_no_feedback_counts_for_those_who_cannot_read_feedback(
    db_session, signed_in
):
    reporter = make_reporter()
    make_feedback(reporter)
    page = signed_in("sales").get(f"/customers/show/{reporter.customer_id}")
    assert page.status_code == 200
    assert "feedback-open-counts" not in page.get_data(as_text=True)


# --------------------------------------------------------------------------- in a real browser


def test_in_the_browser_the_list_action_confirms_then_assigns(app, live_server, page):
    """The FAB action with its confirmation dialog, the chooser, and the queue links."""
    from playwright.sync_api import expect

    from tests.test_browser import sign_in

    with app.app_context():
        item = make_feedback(problem="浏览器分配测试")
        item_id, engineer = item.id, user_id(db.session, "engineer")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server, "support", PASSWORD)
    page.goto(f"{live_server}/feedback/list/")
    page.click("#queue-unassigned")
    expect(page.locator("#queue-unassigned")).to_have_attribute("data-active", "yes")
    page.check(f'input.action_check[value="{item_id}"]')
    page.locator("button.dropdown-toggle", has_text="操作").click()
    page.locator(".assign_menu_item").click()
    expect(page.locator("#modal-confirm")).to_contain_text("为所选问题分配跟踪工程师？")
    page.locator("#modal-confirm .modal-footer a, #modal-confirm .modal-footer button").last.click()
    expect(page).to_have_url(re.compile(r"/feedback/assign/"))
    page.select_option("#assign-engineer", str(engineer))
    page.locator("#assign-form button[type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("已将 1 个问题分配给")
    page.goto(f"{live_server}/feedback/show/{item_id}")
    expect(page.locator("#current-engineer")).to_have_text("engineer user")
    assert errors == []
