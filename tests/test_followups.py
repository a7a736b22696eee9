"""Follow-ups (跟进记录): the module, its rules on every channel, and the customer's
last and next follow-up times kept in step by every write."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.models import CrmUser, Customer, FollowUp
from factories import make_contact, make_customer, make_followup
from helpers import field_errors, flashes, visible_text

T1 = datetime(2026, 3, 1, 10, 0)
T2 = datetime(2026, 3, 5, 15, 30)


def _times(db_session, customer_id):
    db_session.expire_all()
    customer = db_session.get(Customer, customer_id)
    return customer.last_followup_at, customer.next_followup_at


def _count(db_session):
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(FollowUp))


def _form(customer_id, **overrides):
    data = {
        "customer": customer_id,
        "method": "visit",
        "content": "拜访店长，演示会员模块",
        "followed_at": "2026-03-05 15:30",
        "next_at": "2026-03-12 09:00",
        "next_step": "发报价单",
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------- the customer's times


def test_adding_on_the_page_sets_the_times_and_the_signed_in_user(db_session, login_as):
    customer = make_customer()
    make_followup(customer, followed_at=T1, next_at=T1 + timedelta(days=2))
    sales = login_as("sales")
    response = sales.post("/followups/add", data=_form(customer.id))
    assert response.status_code == 302, field_errors(response)
    assert _times(db_session, customer.id) == (T2, datetime(2026, 3, 12, 9, 0))
    added = db_session.scalar(select(FollowUp).order_by(FollowUp.id.desc()))
    assert added.user.username == "sales"
    assert db_session.get(Customer, customer.id).row_version == 1  # not an edit of the customer


def test_editing_the_latest_back_in_time_makes_the_other_the_latest(db_session, login_as):
    customer = make_customer()
    make_followup(customer, followed_at=T1, next_at=datetime(2026, 3, 3, 9, 0))
    latest = make_followup(customer, followed_at=T2, next_at=None)
    assert _times(db_session, customer.id) == (T2, None)
    sales = login_as("sales")
    response = sales.post(
        f"/followups/edit/{latest.id}",
        data=_form(
            customer.id,
            followed_at="2026-02-20 09:00",
            next_at="2026-02-21 09:00",
            row_version=latest.row_version,
        ),
    )
    assert response.status_code == 302, field_errors(response) or flashes(response)
    assert _times(db_session, customer.id) == (T1, datetime(2026, 3, 3, 9, 0))


def test_deleting_the_latest_falls_back_and_deleting_the_last_empties(db_session, login_as):
    customer = make_customer()
    first = make_followup(customer, followed_at=T1, next_at=datetime(2026, 3, 3, 9, 0))
    latest = make_followup(customer, followed_at=T2, next_at=datetime(2026, 3, 9, 9, 0))
    sales = login_as("sales")
    assert sales.post(f"/followups/delete/{latest.id}").status_code == 302
    assert _times(db_session, customer.id) == (T1, datetime(2026, 3, 3, 9, 0))
    assert sales.post(f"/followups/delete/{first.id}").status_code == 302
    assert _times(db_session, customer.id) == (None, None)


def test_moving_a_follow_up_to_another_customer_updates_both(db_session, login_as):
    old, new = make_customer(), make_customer()
    item = make_followup(old, followed_at=T1, next_at=None)
    sales = login_as("sales")
    response = sales.post(
        f"/followups/edit/{item.id}",
        data=_form(new.id, followed_at="2026-03-01 10:00", next_at="", row_version=1),
    )
    assert response.status_code == 302, field_errors(response)
    assert _times(db_session, old.id) == (None, None)
    assert _times(db_session, new.id) == (T1, None)


def test_api_writes_keep_the_times_in_step(db_session, api):
    customer = make_customer()
    api.as_("sales")
    response = api.post(
        "/api/v1/followups/",
        json={
            "customer": customer.id,
            "method": "wechat",
            "content": "微信沟通续费",
            "followed_at": "2026-03-05T15:30:00",
            "next_at": "2026-03-06T10:00:00",
        },
    )
    assert response.status_code == 201, response.json
    pk = response.json["id"]
    assert _times(db_session, customer.id) == (T2, datetime(2026, 3, 6, 10, 0))
    item = db_session.get(FollowUp, pk)
    assert item.user.username == "sales"
    response = api.put(
        f"/api/v1/followups/{pk}", json={"followed_at": "2026-03-01T10:00:00", "next_at": None}
    )
    assert response.status_code == 200, response.json
    assert _times(db_session, customer.id) == (T1, None)
    assert api.delete(f"/api/v1/followups/{pk}").status_code == 200
    assert _times(db_session, customer.id) == (None, None)


def test_import_keeps_the_times_in_step(db_session, login_as):
    customer = make_customer()
    contact = make_contact(customer)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["客户编码", "客户联系人", "跟进方式", "跟进内容", "跟进时间", "下次跟进时间"])
    sheet.append([customer.code, contact.name, "电话", "电话确认培训时间", T1, T2])
    sheet.append([customer.code, None, "拜访", "上门培训收银员", T2, None])
    data = io.BytesIO()
    workbook.save(data)
    sales = login_as("sales")
    response = sales.post(
        "/followups/import/",
        data={"file": (io.BytesIO(data.getvalue()), "followups.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, " ".join(visible_text(response).split())[-1500:]
    assert _times(db_session, customer.id) == (T2, None)
    rows = db_session.scalars(select(FollowUp).order_by(FollowUp.followed_at)).all()
    assert [(row.contact_id, row.user.username) for row in rows] == [
        (contact.id, "sales"),
        (None, "sales"),
    ]


# --------------------------------------------------------------- the rules, page and API


def _future():
    return (datetime.now() + timedelta(days=1)).replace(second=0, microsecond=0)


@pytest.mark.parametrize("case", ["future", "next_before", "other_contact", "no_content"])
def test_bad_follow_ups_are_refused_on_the_page_with_nothing_stored(db_session, login_as, case):
    customer = make_customer()
    stranger = make_contact(make_customer())
    overrides, field, message = {
        "future": (
            {"followed_at": f"{_future():%Y-%m-%d %H:%M}", "next_at": ""},
            "followed_at",
            "跟进时间不能是将来的时间。",
        ),
        "next_before": (
            {"next_at": "2026-03-05 15:30"},
            "next_at",
            "下次跟进时间必须晚于跟进时间。",
        ),
        "other_contact": (
            {"contact": stranger.id},
            "contact",
            "客户联系人属于其他客户，请选择本客户的记录。",
        ),
        "no_content": ({"content": "  "}, "content", "请填写跟进内容。"),
    }[case]
    before = _count(db_session)
    response = login_as("sales").post("/followups/add", data=_form(customer.id, **overrides))
    assert response.status_code == 200
    assert field_errors(response).get(field) == message, field_errors(response)
    assert _count(db_session) == before
    assert _times(db_session, customer.id) == (None, None)


def test_bad_follow_ups_are_refused_by_the_api_with_nothing_stored(db_session, api):
    customer = make_customer()
    stranger = make_contact(make_customer())
    api.as_("sales")
    base = {"customer": customer.id, "method": "phone", "content": "电话"}
    cases = [
        ({"followed_at": _future().isoformat()}, "followed_at", "跟进时间不能是将来的时间。"),
        (
            {"followed_at": "2026-03-05T15:30:00", "next_at": "2026-03-05T15:00:00"},
            "next_at",
            "下次跟进时间必须晚于跟进时间。",
        ),
        ({"contact": stranger.id}, "contact", "客户联系人属于其他客户，请选择本客户的记录。"),
    ]
    for extra, field, message in cases:
        response = api.post("/api/v1/followups/", json={**base, **extra})
        assert response.status_code == 422, response.json
        assert response.json["message"][field] == [message]
    assert _count(db_session) == 0
    assert _times(db_session, customer.id) == (None, None)


def test_the_user_cannot_be_chosen_on_the_page_or_in_the_api(db_session, login_as, api):
    customer = make_customer()
    manager_id = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "manager"))
    sales = login_as("sales")
    sales.post("/followups/add", data={**_form(customer.id), "user": manager_id})
    api.as_("sales")
    response = api.post(
        "/api/v1/followups/",
        json={"customer": customer.id, "method": "phone", "content": "电话", "user": manager_id},
    )
    assert response.status_code in (400, 422)  # not a field the client may send
    users = set(db_session.scalars(select(FollowUp.user_id)))
    assert manager_id not in users


def test_the_add_form_from_a_customer_or_contact_page_has_the_customer(db_session, login_as):
    customer = make_customer()
    contact = make_contact(customer)
    sales = login_as("sales")
    show = sales.get(f"/customers/show/{customer.id}").get_data(as_text=True)
    assert f"/followups/add?_flt_0_customer={customer.id}" in show
    for query in (f"customer={customer.id}", f"_flt_0_contact={contact.id}"):
        page = sales.get(f"/followups/add?{query}").get_data(as_text=True)
        assert f'<option selected value="{customer.id}">{customer}</option>' in page, query
    # the related list's add button: the customer is not shown, and taken from the address
    form = _form("")
    del form["customer"]
    response = sales.post(f"/followups/add?_flt_0_customer={customer.id}", data=form)
    assert response.status_code == 302, field_errors(response)
    assert _times(db_session, customer.id)[0] == T2


def test_a_customer_with_follow_ups_is_not_deleted(db_session, login_as):
    customer = make_customer()
    make_followup(customer)
    login_as("admin").post(f"/customers/delete/{customer.id}")
    assert db_session.get(Customer, customer.id) is not None


# --------------------------------------------------------------- the customer list


def test_customer_list_quick_filters_sort_and_show_the_times(db_session, login_as, monkeypatch):
    from app.services import followups

    now = datetime(2026, 3, 11, 14, 0)  # a Wednesday
    monkeypatch.setattr(followups, "now", lambda: now)
    due = make_customer(name="今天要跟")
    late = make_customer(name="逾期未跟")
    later = make_customer(name="周五再跟")
    idle = make_customer(name="很久没跟")
    never = make_customer(name="从未跟进")
    make_followup(due, followed_at=datetime(2026, 3, 4, 9, 0), next_at=datetime(2026, 3, 11, 9))
    make_followup(late, followed_at=datetime(2026, 3, 2, 9, 0), next_at=datetime(2026, 3, 6, 9))
    make_followup(later, followed_at=datetime(2026, 3, 10, 9), next_at=datetime(2026, 3, 13, 9))
    make_followup(idle, followed_at=datetime(2026, 1, 5, 9, 0), next_at=None)
    sales = login_as("sales")

    def names(query):
        page = visible_text(sales.get(f"/customers/list/?{query}"))
        found = {c.name for c in (due, late, later, idle, never) if c.name in page}
        return found

    assert names("_flt_0_followup_queue=due_today") == {due.name}
    assert names("_flt_0_followup_queue=overdue") == {late.name}
    assert names("_flt_0_followup_queue=this_week") == {due.name, later.name}
    assert names("_flt_0_followup_queue=idle") == {idle.name, never.name}
    page = visible_text(sales.get("/customers/list/"))
    assert "今日待跟进" in page and "超过 30 天未跟进" in page
    assert "最后跟进时间" in page and "2026-03-10 09:00" in page
    ordered = visible_text(
        sales.get("/customers/list/?_oc_CustomerView=last_followup_at&_od_CustomerView=desc")
    )
    assert ordered.index(later.name) < ordered.index(due.name) < ordered.index(idle.name)


def test_the_pool_sweep_counts_follow_ups_as_activity(db_session):
    from app.services import pool

    now = datetime(2026, 6, 1, 12, 0)
    followed = make_customer(name="最近跟进过")
    idle = make_customer(name="无人问津")
    db_session.execute(
        Customer.__table__.update()
        .where(Customer.id.in_([followed.id, idle.id]))
        .values(changed_on=now - timedelta(days=200))
    )
    db_session.commit()
    make_followup(followed, followed_at=now - timedelta(days=10), next_at=None)
    assert pool.sweep(days=90, at=now) == 1
    db_session.expire_all()
    assert db_session.get(Customer, followed.id).owner_id is not None
    assert db_session.get(Customer, idle.id).owner_id is None


def test_demo_follow_ups_match_their_customers_with_some_due_today_and_overdue(db_session):
    from app.services import demo, followups

    now = datetime(2026, 6, 1)
    demo.write(demo.prepare(customers=60, feedback=50, seed=5, now=now))
    customers = db_session.scalars(select(Customer)).all()
    for customer in customers:
        latest = db_session.scalars(
            select(FollowUp)
            .where(FollowUp.customer_id == customer.id)
            .order_by(FollowUp.followed_at.desc(), FollowUp.id.desc())
            .limit(1)
        ).first()
        expected = (latest.followed_at, latest.next_at) if latest else (None, None)
        assert (customer.last_followup_at, customer.next_followup_at) == expected
    first = db_session.scalar(select(func.min(FollowUp.followed_at)))
    assert first < now - timedelta(days=2 * 365)
    today, tomorrow = followups.day_bounds(now)
    due = [c for c in customers if c.next_followup_at and today <= c.next_followup_at < tomorrow]
    late = [c for c in customers if c.next_followup_at and c.next_followup_at < today]
    assert due and late


# --------------------------------------------------------------- the customer timeline


def _timeline(response) -> list[tuple[str, str]]:
    """(kind, link) of each timeline line, in page order."""
    import re

    block = response.get_data(as_text=True).split('id="customer-timeline"', 1)[1]
    return re.findall(
        r'data-kind="([a-z_]+)">\s*<div[^>]*>[^<]*</div>\s*<div[^>]*><a href="([^"]+)"', block
    )


def test_the_timeline_merges_the_records_newest_first_with_links(db_session, login_as):
    from factories import make_contract, make_feedback, make_license, make_product, make_reporter

    customer = make_customer()
    followup = make_followup(customer, followed_at=datetime(2026, 3, 5, 10), next_at=None)
    contract = make_contract(customer, sign_date=datetime(2026, 3, 3).date())
    feedback = make_feedback(
        make_reporter(customer),
        created_at=datetime(2026, 3, 4, 9),
    )
    license_ = make_license(make_product(customer))
    license_.created_on = datetime(2026, 3, 2, 9)
    db_session.commit()
    admin = login_as("admin")
    admin.post(
        f"/customers/edit/{customer.id}",
        data={"code": customer.code, "name": "改名客户", "status": "signed", "row_version": 1},
    )
    lines = _timeline(admin.get(f"/customers/show/{customer.id}"))
    assert [kind for kind, _url in lines] == [
        "change",
        "followup",
        "feedback_opened",
        "contract",
        "license",
    ]
    urls = dict(lines)
    assert urls["followup"] == f"/followups/show/{followup.id}"
    assert urls["contract"] == f"/contracts/show/{contract.id}"
    assert urls["feedback_opened"] == f"/feedback/show/{feedback.id}"
    assert urls["license"] == f"/licenses/show/{license_.id}"
    page = visible_text(admin.get(f"/customers/show/{customer.id}"))
    assert "客户动态" in page and "客户资料修改" in page


def test_the_timeline_is_paged_on_the_server(db_session, login_as):
    customer = make_customer()
    items = [
        make_followup(
            customer, followed_at=datetime(2026, 1, 1, 9) + timedelta(days=n), next_at=None
        )
        for n in range(25)
    ]
    sales = login_as("sales")
    first = _timeline(sales.get(f"/customers/show/{customer.id}"))
    second_page = sales.get(f"/customers/show/{customer.id}?timeline_page=2")
    second = _timeline(second_page)
    assert len(first) == 20 and len(second) == 5
    assert first[0][1] == f"/followups/show/{items[-1].id}"
    assert second[-1][1] == f"/followups/show/{items[0].id}"
    assert "第 2 页，共 2 页" in visible_text(second_page)
    assert sales.get(f"/customers/show/{customer.id}?timeline_page=abc").status_code == 200


def test_the_timeline_pages_merge_the_sources_in_time_order(db_session, login_as):
    """Each source's newest rows are merged: page 2 continues where page 1 stopped,
    whichever source its lines come from (the follow-ups alone fill more than a page),
    resolved feedback at its resolution time."""
    from app.models.choices import FeedbackStatus
    from factories import make_feedback, make_reporter

    customer = make_customer()
    reporter = make_reporter(customer)
    start = datetime(2026, 1, 1, 9)
    expected = []  # (time, kind, url), newest first once sorted
    for n in range(22):
        at = start + timedelta(days=n)
        item = make_followup(customer, followed_at=at, next_at=None)
        expected.append((at, "followup", f"/followups/show/{item.id}"))
    for n in range(6):
        opened = start + timedelta(days=4 * n, hours=5)
        resolved = opened + timedelta(hours=1) if n % 3 == 0 else None
        item = make_feedback(
            reporter,
            created_at=opened,
            resolved_at=resolved,
            cause="换纸" if resolved else None,
            status=FeedbackStatus.resolved if resolved else FeedbackStatus.new,
        )
        expected.append((opened, "feedback_opened", f"/feedback/show/{item.id}"))
        if resolved:
            expected.append((resolved, "feedback_resolved", f"/feedback/show/{item.id}"))
    expected = [(kind, url) for _at, kind, url in sorted(expected, reverse=True)]
    assert len(expected) == 30
    admin = login_as("admin")
    first = _timeline(admin.get(f"/customers/show/{customer.id}"))
    second = _timeline(admin.get(f"/customers/show/{customer.id}?timeline_page=2"))
    assert first + second == expected
    # an old link beyond the last page shows the last page
    beyond = admin.get(f"/customers/show/{customer.id}?timeline_page=9")
    assert _timeline(beyond) == second
    assert "第 2 页，共 2 页" in visible_text(beyond) and "(30)" in visible_text(beyond)


def test_the_timeline_leaves_out_what_the_reader_may_not_read(db_session, login_as):
    """Sales may not read feedback: the customer's feedback is not on their timeline."""
    from factories import make_feedback, make_reporter

    customer = make_customer()
    make_followup(customer, followed_at=datetime(2026, 3, 5, 10), next_at=None)
    make_feedback(make_reporter(customer), created_at=datetime(2026, 3, 6, 9))
    sales_kinds = [
        kind for kind, _url in _timeline(login_as("sales").get(f"/customers/show/{customer.id}"))
    ]
    support_kinds = [
        kind for kind, _url in _timeline(login_as("support").get(f"/customers/show/{customer.id}"))
    ]
    assert sales_kinds == ["followup"]
    assert support_kinds == ["feedback_opened", "followup"]


# --------------------------------------------------------------- the home dashboard


def test_the_dashboard_shows_the_users_follow_ups_due_today_and_overdue(
    db_session, login_as, monkeypatch
):
    from app.services import followups

    monkeypatch.setattr(followups, "now", lambda: datetime(2026, 3, 11, 14, 0))
    due = make_customer(name="今天要跟")
    late = make_customer(name="逾期未跟")
    others = make_customer(name="别人的客户", owner_id=None)
    make_followup(due, followed_at=datetime(2026, 3, 4, 9, 0), next_at=datetime(2026, 3, 11, 9))
    make_followup(late, followed_at=datetime(2026, 3, 2, 9, 0), next_at=datetime(2026, 3, 6, 9))
    make_followup(others, followed_at=datetime(2026, 3, 2, 9), next_at=datetime(2026, 3, 6, 9))
    page = login_as("sales").get("/").get_data(as_text=True)
    panel = visible_text_of(page.split('id="followups-due"', 1)[1])
    assert "今天要跟" in panel and "逾期未跟" in panel and "别人的客户" not in panel
    assert 'href="/customers/list/?_flt_0_followup_queue=due_today"' in page
    assert 'href="/customers/list/?_flt_0_followup_queue=overdue"' in page
    admin_page = login_as("admin").get("/").get_data(as_text=True)
    assert "别人的客户" in admin_page  # the admin's scope is everything


def visible_text_of(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", html)
