"""What must hold across instances: sessions, sign-in limits, versions, addresses.

Every request goes to a real instance (directly, or through HAProxy's round
robin), and the checks are made in the one PostgreSQL all of them share.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy import select

from app.models import ChangeRecord, CrmUser, Customer, CustomerStatus
from app.services.history import tracked_models

from .conftest import PASSWORD
from .web import Client

WRONG = "Wrong-Passw0rd!"
TOO_MANY = "登录失败次数过多"


def _new_customer(db, code: str, name: str) -> Customer:
    """A customer of the salesperson ``clerk`` (data scope: only its owner's, and the admin's)."""
    owner = db.scalar(select(CrmUser.id).where(CrmUser.username == "clerk"))
    customer = Customer(
        code=code, name=name, status=CustomerStatus.signed, phone="021-62345678", owner_id=owner
    )
    db.add(customer)
    db.commit()
    return customer


def _customer_form(customer: Customer, **changes) -> dict:
    values = {
        "code": customer.code,
        "name": customer.name,
        "category": "",
        "status": "signed",
        "importance": "",
        "address": "",
        "phone": customer.phone or "",
        "email": "",
    }
    return {**values, **changes}


def _refused_sign_in(client: Client, username: str, password: str, base=None) -> str:
    """Sign in and return the message on the sign-in page; fails the test if it worked."""
    answer = client.sign_in(username, password, base=base)
    assert answer.status == 302 and "/login" in answer.location, f"{username} signed in"
    return client.get("/login/", base=base).words()


def test_a_session_signed_in_on_one_instance_works_on_the_others(cluster, cluster_db):
    first, second, third = cluster.nodes
    user = Client(first.url)
    assert user.sign_in("clerk", PASSWORD).status == 302
    for node in cluster.nodes:
        assert user.get("/customers/list/", base=node.url).status == 200, node.name
    # A form from the second instance (its CSRF token in the session) is saved by the third.
    _page, hidden = user.form("/customers/add", base=second.url)
    saved = user.post(
        "/customers/add",
        {"code": "K000001", "name": "跨实例客户", "status": "signed", **hidden},
        base=third.url,
    )
    assert saved.status == 302 and "/customers/add" not in saved.location
    assert "跨实例客户" in user.get("/customers/list/", base=first.url).text
    assert cluster_db.scalar(select(Customer).where(Customer.code == "K000001")) is not None
    # Signed out on the third, the cookie the browser now holds opens nothing anywhere.
    assert user.get("/logout/", base=third.url).status == 302
    for node in cluster.nodes:
        assert user.get("/customers/list/", base=node.url).status == 302, node.name
    # A stranger (no cookie) gets nothing from any instance.
    for node in cluster.nodes:
        assert Client(node.url).get("/customers/list/").status == 302


def test_the_per_address_limit_counts_failures_arriving_on_every_instance(
    cluster, cluster_app, cluster_db
):
    """Round robin spreads the failures; Redis adds them up (memory:// would allow 3×)."""
    from limits import parse

    limit = parse(cluster_app.config["CRM_LOGIN_ADDRESS_LIMIT"]).amount
    attacker = Client(cluster.url, source="127.0.0.31")
    landed = set()
    for attempt in range(limit):
        answer = attacker.sign_in(f"nobody{attempt}", WRONG)
        assert answer.status == 302 and "/login" in answer.location
        landed.add(answer.server)
    assert landed == {node.name for node in cluster.nodes}
    # The address is now refused, right password or not, through HAProxy and on each instance.
    assert TOO_MANY in _refused_sign_in(attacker, "limited", PASSWORD)
    for node in cluster.nodes:
        assert TOO_MANY in _refused_sign_in(attacker, "limited", PASSWORD, base=node.url)
    # Another address is not affected, and the account itself was never locked.
    other = Client(cluster.url, source="127.0.0.32")
    assert other.sign_in("limited", PASSWORD).status == 302 and other.signed_in()
    account = cluster_db.scalar(select(CrmUser).where(CrmUser.username == "limited"))
    assert account.locked_until is None


def test_the_account_lockout_counts_failures_arriving_on_every_instance(
    cluster, cluster_app, cluster_db
):
    limit = cluster_app.config["CRM_LOGIN_MAX_FAILURES"]
    assert limit >= 3
    guesser = Client(cluster.url, source="127.0.0.41")
    for attempt in range(limit):
        node = cluster.nodes[attempt % len(cluster.nodes)]
        assert TOO_MANY not in _refused_sign_in(guesser, "lockme", WRONG, base=node.url)
    # Locked: the right password is refused on every instance, from any address.
    for number, node in enumerate(cluster.nodes):
        owner = Client(node.url, source=f"127.0.0.4{number + 2}")
        assert TOO_MANY in _refused_sign_in(owner, "lockme", PASSWORD)
    account = cluster_db.scalar(select(CrmUser).where(CrmUser.username == "lockme"))
    cluster_db.refresh(account)
    assert account.fail_login_count >= limit
    assert account.locked_until is not None and account.locked_until > datetime.now()


def test_a_stale_edit_made_through_another_instance_is_refused(cluster, cluster_db):
    first, second, third = cluster.nodes
    customer = _new_customer(cluster_db, "K000002", "长益超市")
    url = f"/customers/edit/{customer.id}"
    alice, bob = Client(first.url), Client(second.url)
    assert alice.sign_in("clerk", PASSWORD).status == 302
    assert bob.sign_in("clerk2", PASSWORD).status == 302
    _page, alice_form = alice.form(url)  # on the first instance
    _page, bob_form = bob.form(url)  # on the second
    assert alice_form["row_version"] == bob_form["row_version"] == "1"

    saved = bob.post(url, {**_customer_form(customer, name="长益超市（总店）"), **bob_form})
    assert saved.status == 302
    stale = alice.post(
        url, {**_customer_form(customer, phone="13812345678"), **alice_form}, base=third.url
    )
    assert stale.status == 200  # the form again, not saved
    assert "clerk2 已修改并保存了它" in stale.words() and "您的修改没有保存" in stale.words()

    cluster_db.expire_all()
    row = cluster_db.get(Customer, customer.id)
    assert (row.name, row.phone, row.row_version) == ("长益超市（总店）", "021-62345678", 2)


def test_the_change_history_records_the_address_haproxy_gives(cluster, cluster_db):
    """The client's address, not HAProxy's (127.0.0.1), nor one the client made up."""
    user = Client(cluster.url, source="127.0.0.51")
    assert user.sign_in("clerk", PASSWORD).status == 302
    forged = {"X-Forwarded-For": "203.0.113.9"}
    codes = []
    for number in range(len(cluster.nodes)):  # one save per instance (round robin)
        code = f"K00010{number}"
        _page, hidden = user.form("/customers/add")
        saved = user.request(
            "POST",
            "/customers/add",
            data={"code": code, "name": f"地址客户{number}", "status": "signed", **hidden},
            headers=forged,
        )
        assert saved.status == 302, saved.words()[:300]
        codes.append(code)
    ids = cluster_db.scalars(select(Customer.id).where(Customer.code.in_(codes))).all()
    records = cluster_db.scalars(
        select(ChangeRecord).where(
            ChangeRecord.model == tracked_models()[Customer], ChangeRecord.row_id.in_(ids)
        )
    ).all()
    assert len(records) == len(codes)
    assert {record.remote_addr for record in records} == {"127.0.0.51"}
    assert {record.username for record in records} == {"clerk"}
    assert all("name" in json.loads(record.changes) for record in records)


def test_health_answers_on_every_instance_and_through_haproxy(cluster):
    for node in cluster.nodes:
        assert cluster.health(node) == 200
    answers = [Client(cluster.url).get("/health") for _ in range(6)]
    assert {answer.status for answer in answers} == {200}
    assert {answer.server for answer in answers} == {node.name for node in cluster.nodes}
    assert all(re.search(r'"database":\s*"ok"', answer.text) for answer in answers)
