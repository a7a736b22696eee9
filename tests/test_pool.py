"""The customer pool (公海): claim, release, transfer, the sweep, and who may do which."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select, text

from app.extensions import db
from app.models import ChangeRecord, CrmUser, Customer
from app.services import pool
from factories import make_contract, make_customer, make_feedback, make_reporter


def _id(db_session, username: str) -> int:
    return db_session.scalar(select(CrmUser.id).where(CrmUser.username == username))


def _owner(db_session, customer_id: int):
    db_session.expire_all()
    return db_session.get(Customer, customer_id).owner_id


def _salesperson(app, username: str, first_name: str) -> CrmUser:
    """Another user with the sales role, outside any department."""
    sm = app.appbuilder.sm
    return sm.add_user(
        username=username,
        first_name=first_name,
        last_name="",
        email=f"{username}@example.com",
        role=sm.find_role(app.config["CRM_ROLE_NAMES"]["sales"]),
        password="Test-Passw0rd!",
    )


def _reasons(db_session, customer_id: int) -> list[str]:
    rows = db_session.scalars(
        select(ChangeRecord)
        .where(ChangeRecord.model == "Customer", ChangeRecord.row_id == customer_id)
        .order_by(ChangeRecord.id)
    )
    return [json.loads(row.changes).get("reason", {}).get("new") for row in rows]


def test_a_salesperson_sees_the_pool_and_claims_a_customer(login_as, db_session):
    free = make_customer(name="公海里的客户", owner_id=None)
    make_customer(name="别人的客户")
    sales = login_as("sales")
    page = sales.get("/customers/pool/").get_data(as_text=True)
    assert "公海里的客户" in page and "别人的客户" not in page
    assert "客户公海" in sales.get("/").get_data(as_text=True)  # the menu entry

    claimed = sales.post(f"/customers/claim/{free.id}")
    assert claimed.status_code == 302
    assert _owner(db_session, free.id) == _id(db_session, "sales")
    assert _reasons(db_session, free.id)[-1] == "从公海领取"
    assert f'data-customer="{free.id}"' not in sales.get("/customers/pool/").get_data(as_text=True)


def test_claiming_stops_at_the_limit_with_a_chinese_message(app, login_as, db_session):
    app.config["CRM_POOL_CLAIM_LIMIT"] = 1
    try:
        make_customer(name="已有客户")  # the salesperson owns one already
        free = make_customer(name="再领一个", owner_id=None)
        sales = login_as("sales")
        refused = sales.post(f"/customers/claim/{free.id}", follow_redirects=True)
        assert "已达个人上限" in refused.get_data(as_text=True)
        assert _owner(db_session, free.id) is None
    finally:
        app.config["CRM_POOL_CLAIM_LIMIT"] = 50


def test_two_people_claiming_one_customer_at_once_one_wins(app, db_session, login_as):
    """Two browsers press 领取 together: one owner, one Chinese refusal, no server error."""
    free = make_customer(name="抢手客户", owner_id=None)
    colleague = _salesperson(app, "colleague", "同事")
    people = [login_as("sales"), login_as("colleague")]
    start = threading.Barrier(len(people))
    answers = []
    url = f"/customers/claim/{free.id}"
    free_id, colleague_id = free.id, colleague.id

    def press(visitor):
        start.wait()
        response = visitor.post(url, follow_redirects=True)
        answers.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=press, args=(visitor,)) for visitor in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(status for status, _page in answers) == [200, 200]
    won = [page for _status, page in answers if "现在由您负责" in page]
    lost = [page for _status, page in answers if "已不在公海中" in page or "同时修改" in page]
    assert len(won) == 1 and len(lost) == 1
    assert _owner(db_session, free_id) in {_id(db_session, "sales"), colleague_id}


def test_a_claim_racing_a_save_of_the_same_customer_is_refused(app, db_session):
    """The record version decides when both read the customer before either wrote."""
    free = make_customer(name="同时被改的客户", owner_id=None)
    manager_id = _id(db_session, "manager")

    def someone_else_first(session, _context, _instances):
        with db.engine.begin() as other:
            other.execute(
                text(
                    "UPDATE customer SET owner_id = :o, row_version = row_version + 1 WHERE id = :i"
                ),
                {"o": manager_id, "i": free.id},
            )

    with app.test_request_context():
        from flask import g

        g.user = db.session.get(CrmUser, _id(db_session, "sales"))
        event.listen(db.session, "before_flush", someone_else_first, once=True)
        with pytest.raises(pool.PoolRefused, match="同时修改"):
            pool.claim(free.id, g.user)
    assert _owner(db_session, free.id) == manager_id


def test_the_owner_releases_with_a_reason_and_others_cannot(login_as, db_session):
    mine = make_customer(name="我的客户")
    sales = login_as("sales")
    blank = sales.post(
        f"/customers/release/{mine.id}", data={"reason": "  "}, follow_redirects=True
    )
    assert "请填写原因" in blank.get_data(as_text=True)
    assert _owner(db_session, mine.id) == _id(db_session, "sales")
    # the support desk reads customers but holds no pool permission
    assert login_as("support").post(
        f"/customers/release/{mine.id}", data={"reason": "x"}
    ).status_code in (302, 403)
    assert _owner(db_session, mine.id) == _id(db_session, "sales")

    released = sales.post(f"/customers/release/{mine.id}", data={"reason": "客户已转向竞品"})
    assert released.status_code == 302
    assert _owner(db_session, mine.id) is None
    assert _reasons(db_session, mine.id)[-1] == "客户已转向竞品"


def test_a_manager_transfers_several_customers_all_or_nothing(login_as, db_session):
    first, second = make_customer(name="转移一"), make_customer(name="转移二")
    manager = login_as("manager")
    sales_id = _id(db_session, "sales")
    manager_id = _id(db_session, "manager")
    form = manager.get(f"/customers/transfer/?ids={first.id}&ids={second.id}")
    assert form.status_code == 200 and "转移一" in form.get_data(as_text=True)

    # one of the ids does not exist: nothing moves
    manager.post(
        "/customers/transfer/",
        data={"ids": [first.id, second.id, 999999], "owner": manager_id, "reason": "调整区域"},
    )
    assert (_owner(db_session, first.id), _owner(db_session, second.id)) == (sales_id, sales_id)

    done = manager.post(
        "/customers/transfer/",
        data={"ids": [first.id, second.id], "owner": manager_id, "reason": "调整区域"},
    )
    assert done.status_code == 302
    assert {_owner(db_session, first.id), _owner(db_session, second.id)} == {manager_id}
    assert _reasons(db_session, first.id)[-1] == "调整区域"


def test_a_manager_may_transfer_only_to_users_in_their_scope(app, login_as, db_session):
    customer = make_customer(name="不能送出去的客户")
    outsider = _salesperson(app, "outsider", "外部门")
    refused = login_as("manager").post(
        "/customers/transfer/",
        data={"ids": [customer.id], "owner": outsider.id, "reason": "调整"},
    )
    assert "数据范围内的在用用户" in refused.get_data(as_text=True)
    assert _owner(db_session, customer.id) == _id(db_session, "sales")


@pytest.mark.parametrize("role", ["sales", "support", "engineer"])
def test_only_those_with_the_transfer_permission_transfer(login_as, db_session, role):
    customer = make_customer()
    response = login_as(role).post(
        "/customers/transfer/",
        data={"ids": [customer.id], "owner": _id(db_session, "manager"), "reason": "x"},
    )
    assert response.status_code in (302, 403)
    assert _owner(db_session, customer.id) == _id(db_session, "sales")


@pytest.mark.parametrize("role", ["support", "engineer", "manager"])
def test_only_those_with_the_claim_permission_see_the_pool(login_as, role):
    assert login_as(role).get("/customers/pool/").status_code in (302, 403)


def test_the_sweep_returns_only_idle_customers_and_twice_changes_nothing_more(
    app, db_session, monkeypatch
):
    now = datetime(2026, 6, 1, 12, 0)
    idle = make_customer(name="沉睡客户")
    recent_contract = make_customer(name="刚签合同")
    recent_feedback = make_customer(name="刚反馈")
    fresh = make_customer(name="刚改过")
    long_ago = now - timedelta(days=200)
    db_session.execute(
        Customer.__table__.update()
        .where(Customer.id.in_([idle.id, recent_contract.id, recent_feedback.id]))
        .values(changed_on=long_ago)
    )
    db_session.execute(
        Customer.__table__.update()
        .where(Customer.id == fresh.id)
        .values(changed_on=now - timedelta(days=10))
    )
    db_session.commit()
    contract = make_contract(recent_contract)
    db_session.execute(
        contract.__table__.update()
        .where(contract.__table__.c.id == contract.id)
        .values(created_on=now - timedelta(days=5))
    )
    make_feedback(make_reporter(recent_feedback), created_at=now - timedelta(days=3))
    db_session.execute(
        Customer.__table__.update()
        .where(Customer.id == recent_feedback.id)
        .values(changed_on=long_ago)
    )
    db_session.commit()

    monkeypatch.setattr(pool, "now", lambda: now)
    result = app.test_cli_runner().invoke(args=["crm", "pool", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 个客户已退回公海" in result.output or "1 customer(s)" in result.output
    db_session.expire_all()
    owners = {c.name: c.owner_id for c in db_session.scalars(select(Customer))}
    assert owners["沉睡客户"] is None
    assert all(owners[name] is not None for name in ("刚签合同", "刚反馈", "刚改过"))
    assert _reasons(db_session, idle.id)[-1] == "90 天无活动，自动退回公海"

    again = app.test_cli_runner().invoke(args=["crm", "pool", "sweep"])
    assert "0" in again.output
    db_session.expire_all()
    assert {c.name: c.owner_id for c in db_session.scalars(select(Customer))} == owners


def test_the_owner_drop_down_offers_only_the_users_one_may_make_owners(app, login_as, db_session):
    outsider = _salesperson(app, "outsider2", "外部门")

    def offered(username) -> set[int]:
        response = login_as(username).get("/customers/related/owner?q=")
        assert response.status_code == 200
        return {row["id"] for row in response.json["results"]}

    sales, manager = _id(db_session, "sales"), _id(db_session, "manager")
    assert offered("sales") == {sales}  # 仅本人: themselves only
    assert sales in offered("manager") and outsider.id not in offered("manager")
    assert {sales, manager, outsider.id} <= offered("admin")
