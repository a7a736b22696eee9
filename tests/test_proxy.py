"""Behind a load balancer: ``CRM_PROXY_HOPS`` decides whose address the app sees.

With 0 (the default) X-Forwarded-For is ignored, since a client could forge
it; with n the app trusts the n proxies in front of it, so the change history
and the per-address sign-in limit see the client rather than the balancer.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import ChangeRecord
from helpers import PASSWORD, Visitor

BALANCER, CLIENT, OTHER_CLIENT = "10.0.0.2", "203.0.113.7", "203.0.113.8"


@pytest.fixture(scope="module")
def proxied_app(app):
    """A second app on the suite's database, as a worker behind one balancer runs."""
    other = create_app(
        {
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "CRM_PROXY_HOPS": 1,
        }
    )
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _through_balancer(app, forwarded_for: str, username: str = "admin") -> Visitor:
    visitor = Visitor(app)
    visitor.client.environ_base.update(
        {
            "REMOTE_ADDR": BALANCER,
            "HTTP_X_FORWARDED_FOR": forwarded_for,
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "crm.example.com",
            # Over HTTPS the CSRF check also wants a same-origin Referer, as browsers send.
            "HTTP_REFERER": "https://crm.example.com/",
        }
    )
    if username:
        assert _signed_in(visitor.login(username))
    return visitor


def _signed_in(response) -> bool:
    return response.status_code == 302 and "/login/" not in response.headers["Location"]


def _address_of_new_customer(app, visitor, code: str) -> str:
    response = visitor.post(
        "/customers/add", {"code": code, "name": "代理测试客户", "status": "signed"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with app.app_context():
        address = db.session.scalar(
            select(ChangeRecord.remote_addr).where(ChangeRecord.record.like(f"{code} %"))
        )
        db.session.remove()
    return address


def test_with_one_hop_the_history_records_the_forwarded_address(proxied_app):
    visitor = _through_balancer(proxied_app, CLIENT)
    assert _address_of_new_customer(proxied_app, visitor, "P0001") == CLIENT


def test_only_the_hops_configured_are_trusted(proxied_app):
    """A client may send its own X-Forwarded-For: the balancer appends the real address."""
    visitor = _through_balancer(proxied_app, f"198.51.100.1, {CLIENT}")
    assert _address_of_new_customer(proxied_app, visitor, "P0002") == CLIENT


def test_with_one_hop_the_scheme_and_host_are_the_balancers(proxied_app):
    visitor = _through_balancer(proxied_app, CLIENT, username=None)
    response = visitor.get("/customers/list/")  # not signed in: to the sign-in page
    assert "next=https://crm.example.com/customers/list/" in response.headers["Location"]


def test_without_hops_the_header_is_not_trusted(app):
    assert app.config["CRM_PROXY_HOPS"] == 0
    visitor = _through_balancer(app, CLIENT)
    assert _address_of_new_customer(app, visitor, "P0003") == BALANCER


def test_the_sign_in_limit_counts_each_client_behind_the_balancer(proxied_app, monkeypatch):
    from app.services import login_throttle

    monkeypatch.setitem(proxied_app.config, "RATELIMIT_ENABLED", True)
    monkeypatch.setitem(proxied_app.config, "CRM_LOGIN_ADDRESS_LIMIT", "3 per 15 minute")
    proxied_app.extensions.pop(login_throttle.NAMESPACE, None)
    try:
        guesser = _through_balancer(proxied_app, CLIENT, username=None)
        for _ in range(3):
            guesser.login("nobody", "wrong-password")
        assert not _signed_in(guesser.login("admin", PASSWORD))
        # Another office behind the same balancer still signs in.
        colleague = _through_balancer(proxied_app, OTHER_CLIENT, username=None)
        assert _signed_in(colleague.login("admin", PASSWORD))
    finally:
        proxied_app.extensions.pop(login_throttle.NAMESPACE, None)
