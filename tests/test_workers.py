"""Several workers or hosts: nothing one app process keeps that another one needs.

Two separate app processes (as two gunicorn workers or two hosts would be)
serve the test database over HTTP. A user signs in through one and keeps
working through the other: the session is a signed cookie (same secret key,
read from the shared instance folder), the CSRF token lives in that session,
and the failed sign-in count that locks an account is in the database.
Runs on SQLite (a file both processes open) and on PostgreSQL (CI).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models import CrmUser, Customer
from helpers import PASSWORD

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import sys
from werkzeug.serving import make_server
from app import create_app

app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SERVER_NAME": None,
                  "RATELIMIT_ENABLED": False})
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture(scope="module")
def two_processes(app):
    """Base URLs of two app processes on this worker's database."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SERVER, url],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _n in range(2)
    ]
    try:
        bases = []
        for process in processes:
            line = process.stdout.readline().strip()
            assert line.isdigit(), f"app process did not start (exit {process.poll()})"
            bases.append(f"http://127.0.0.1:{line}")
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


class Browser:
    """One user's cookie jar, used against any of the processes."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def get(self, url):
        return self._open(urllib.request.Request(url))

    def post(self, url, data):
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(url, data=body, method="POST"))

    def _open(self, request):
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def sign_in(browser: Browser, base: str, username: str, password: str = PASSWORD) -> bool:
    """Whether the sign-in worked (a refused one redirects to the form too)."""
    _status, page = browser.get(f"{base}/login/")
    browser.post(
        f"{base}/login/",
        {
            "username": username,
            "password": password,
            "csrf_token": csrf_of(page),
        },
    )
    status, _page = browser.get(f"{base}/login/")  # FAB sends a signed-in user away
    return status == 302


def test_signed_in_through_one_process_keeps_working_through_the_other(
    app, two_processes, db_session
):
    first, second = two_processes
    user = Browser()
    assert sign_in(user, first, "sales")
    # The second process knows the session, and the CSRF token the first one issued.
    status, page = user.get(f"{second}/customers/add")
    assert status == 200 and 'name="code"' in page
    status, _page = user.post(
        f"{second}/customers/add",
        {
            "code": "W000001",
            "name": "跨进程客户",
            "status": "signed",
            "csrf_token": csrf_of(page),
        },
    )
    assert status == 302
    status, page = user.get(f"{first}/customers/list/")
    assert status == 200 and "跨进程客户" in page
    db_session.expire_all()
    assert db_session.scalar(select(Customer).where(Customer.code == "W000001")) is not None
    # Signing out through the first process signs out there and on the second.
    status, _page = user.get(f"{first}/logout/")
    assert status == 302
    status, _page = user.get(f"{second}/customers/list/")
    assert status == 302


def test_a_stranger_cookie_gets_nothing_from_either_process(two_processes):
    stranger = Browser()
    for base in two_processes:
        status, _page = stranger.get(f"{base}/customers/list/")
        assert status == 302  # to the sign-in page


def test_failed_sign_ins_count_across_processes(app, two_processes, db_session):
    """Failures spread over both processes lock the account (kept in the database)."""
    first, second = two_processes
    limit = app.config["CRM_LOGIN_MAX_FAILURES"]
    assert limit >= 2
    try:
        for attempt in range(limit):
            base = (first, second)[attempt % 2]
            assert not sign_in(Browser(), base, "support", "Wrong-Passw0rd!")
        # Now even the right password is refused, on either process.
        for base in (first, second):
            assert not sign_in(Browser(), base, "support")
    finally:
        user = db_session.scalar(select(CrmUser).where(CrmUser.username == "support"))
        user.locked_until = None
        user.fail_login_count = 0
        db_session.commit()
    assert sign_in(Browser(), second, "support")


def test_the_processes_share_the_secret_key_from_the_instance_folder(app):
    """Without SECRET_KEY, every process reads the one key generated under instance/."""
    if os.environ.get("SECRET_KEY"):
        pytest.skip("SECRET_KEY is set in the environment: every process reads it there")
    key_file = Path(os.environ["CRM_INSTANCE_DIR"]) / "secret_key"
    assert key_file.read_text().strip() == app.config["SECRET_KEY"]
