"""Load test: gunicorn with several workers, 50 signed-in users browsing for 60 s.

    .venv/bin/python bench/load_test.py                          # SQLite, 200 000 rows
    .venv/bin/python bench/load_test.py --feedback 1000000
    DATABASE_URL=postgresql://… .venv/bin/python bench/load_test.py --feedback 1000000

Starts ``gunicorn "app:create_app()"`` on 127.0.0.1 (``--workers``, default 4)
over the bench database (built once by ``crm demo``, see common.py), signs in
``--users`` bench users (support role: they read customers, feedback,
reporters, products and licenses), then each user, in a thread of its own
with its own cookies, loops for ``--seconds``: a list page (five modules,
first ten pages), a show page (a random feedback or customer), a search
(feedback by status, by customer, by a word of the problem; customers by
name). No think time: each user sends its next request when the previous
one is answered, so 50 users keep 50 requests in flight.

Prints requests/s, p50/p95/p99 latency and errors (anything but HTTP 200,
and connection failures). Two clients, both on the same machine as the
server, so they take some of its CPU:

- ``--client wrk`` (default when Debian's ``wrk`` is installed: ``apt-get
  install wrk``): wrk in C, ``--users`` connections, each request with the
  session cookie of one of the signed-in users and a path drawn from the
  same mix; overall figures only.
- ``--client python``: ``http.client`` in one thread per user, one
  keep-alive connection each; figures per kind (list, show, search). Python
  threads share one core's worth of interpreter, so this client saturates
  before the server does on a small machine.

Bounded: ``--seconds`` of traffic, at most ``--max-requests`` in all (python).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

USER_PASSWORD = "Load-Passw0rd!"
WORDS = ("打印", "会员", "支付", "库存", "报表")


def ensure_users(url: str, count: int) -> None:
    """``load1`` … ``loadN`` with the support role, created once."""
    from app.extensions import db

    app = common.make_app(url)
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role(app.config["CRM_ROLE_NAMES"]["support"])
        for number in range(1, count + 1):
            username = f"load{number}"
            if sm.find_user(username=username) is None:
                sm.add_user(
                    username=username,
                    first_name=f"压测用户{number}",
                    last_name="",
                    email=f"{username}@example.com",
                    role=role,
                    password=USER_PASSWORD,
                )
        db.session.remove()


def sample_ids(url: str) -> dict:
    """Ids for show pages and filters, and the filter indexes of the views."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Customer, Feedback

    app = common.make_app(url)
    with app.app_context():
        highest = db.session.scalar(select(func.max(Feedback.id))) or 1
        customers = list(db.session.scalars(select(Customer.id)))
        views = {type(v).__name__: v for v in app.appbuilder.baseviews}

        def index(view, column, kind):
            filters = views[view].datamodel.get_filters(views[view].search_columns)
            names = [type(f).__name__ for f in filters._search_filters[column]]
            return names.index(kind)

        found = {
            "feedback_max": highest,
            "customers": customers,
            "status_filter": index("FeedbackView", "status", "FilterEqual"),
            "customer_filter": index("FeedbackView", "customer", "FilterRelationOneToManyEqual"),
            "problem_filter": index("FeedbackView", "problem", "FilterContains"),
            "name_filter": index("CustomerView", "name", "FilterContains"),
        }
        db.session.remove()
    return found


def next_url(rng: random.Random, ids: dict) -> tuple[str, str]:
    """(kind, path) of a user's next request."""
    roll = rng.random()
    if roll < 0.35:
        view, path = rng.choice(
            [
                ("FeedbackView", "/feedback/list/"),
                ("CustomerView", "/customers/list/"),
                ("ReporterView", "/reporters/list/"),
                ("LicenseView", "/licenses/list/"),
                ("ProductView", "/products/list/"),
            ]
        )
        page = rng.randrange(10)
        return "list", f"{path}?page_{view}={page}" if page else path
    if roll < 0.65:
        if rng.random() < 0.7:
            return "show", f"/feedback/show/{rng.randint(1, ids['feedback_max'])}"
        return "show", f"/customers/show/{rng.choice(ids['customers'])}"
    choice = rng.randrange(4)
    if choice == 0:
        status = rng.choice(("new", "in_progress", "resolved", "closed"))
        return "search", f"/feedback/list/?_flt_{ids['status_filter']}_status={status}"
    if choice == 1:
        customer = rng.choice(ids["customers"])
        return "search", f"/feedback/list/?_flt_{ids['customer_filter']}_customer={customer}"
    if choice == 2:
        word = urllib.parse.quote(rng.choice(WORDS))
        return "search", f"/feedback/list/?_flt_{ids['problem_filter']}_problem={word}"
    word = urllib.parse.quote(rng.choice(("超市", "连锁", "药房", "餐饮", "服饰")))
    return "search", f"/customers/list/?_flt_{ids['name_filter']}_name={word}"


class User:
    """One signed-in user on one keep-alive connection, with its session cookie."""

    def __init__(self, port: int, username: str):
        self.port = port
        self.username = username
        self.cookies: dict[str, str] = {}
        self.connection = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # a worker may close an idle keep-alive connection
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (TimeoutError, http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _sep, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, text

    def sign_in(self) -> None:
        _status, page = self.request("GET", "/login/")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        status, _page = self.request(
            "POST",
            "/login/",
            {
                "username": self.username,
                "password": USER_PASSWORD,
                "csrf_token": token,
            },
        )
        check, _page = self.request("GET", "/login/")
        if status != 302 or check != 302:
            raise RuntimeError(f"{self.username} could not sign in")


def wait_for(port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not start")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument(
        "--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python"
    )
    args = parser.parse_args(argv)

    url = common.database_url(args.customers, args.feedback, args.seed)
    common.ensure_database(url, args.customers, args.feedback, args.seed)
    ensure_users(url, args.users)
    ids = sample_ids(url)

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CRM_INSTANCE_DIR": os.environ["CRM_INSTANCE_DIR"]}
    env.pop("SECRET_KEY", None)  # the workers share instance/secret_key, as in production
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers",
        str(args.workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--log-level",
        "warning",
        "app:create_app()",
    ]
    print("server:", " ".join(command))
    server = subprocess.Popen(command, cwd=common.ROOT, env=env, start_new_session=True)
    try:
        wait_for(port)
        users = [User(port, f"load{number}") for number in range(1, args.users + 1)]
        for user in users:
            user.sign_in()
        print(f"{len(users)} users signed in; {args.seconds:.0f} s of traffic …")
        args.load_before = os.getloadavg()[0]
        if args.client == "wrk":
            figures = run_wrk(port, users, ids, args)
        else:
            results = run(users, ids, args.seconds, args.max_requests)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    if args.client == "wrk":
        report_wrk(figures, args, url)
    else:
        report(results, args, url)


# wrk's Lua: each request a path of the mix and the cookie of one signed-in user;
# anything but 200 is counted per thread and summed when wrk is done.
WRK_SCRIPT = """
local plan = %(plan)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; n = math.random(#plan.paths) end
function request()
  n = n %% #plan.paths + 1
  return wrk.format("GET", plan.paths[n], {Cookie = plan.cookies[n %% #plan.cookies + 1]})
end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("bad") end
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    bad, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def run_wrk(port: int, users: list[User], ids: dict, args) -> dict:
    """wrk with ``--users`` connections for ``--seconds``; its figures as a dict."""
    rng = random.Random(args.seed)
    plan = {
        "paths": [next_url(rng, ids)[1] for _ in range(20_000)],
        "cookies": ["; ".join(f"{k}={v}" for k, v in user.cookies.items()) for user in users],
    }
    lua = (
        "{"
        + ", ".join(
            f"{key} = {{{', '.join(json.dumps(v) for v in values)}}}"
            for key, values in plan.items()
        )
        + "}"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"plan": lua})
    command = [
        "wrk",
        "--threads",
        "2",
        "--connections",
        str(args.users),
        "--duration",
        f"{int(args.seconds)}s",
        "--timeout",
        "60s",
        "--script",
        script.name,
        f"http://127.0.0.1:{port}",
    ]
    print("client:", " ".join(command))
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    keys = (
        "requests",
        "duration_us",
        "p50_us",
        "p95_us",
        "p99_us",
        "not_200",
        "socket_errors",
        "http_errors",
    )
    return dict(zip(keys, map(int, line.split()[1:]), strict=False))


def report_wrk(figures: dict, args, url: str) -> None:
    seconds = figures["duration_us"] / 1e6
    print(
        f"{url.split('://')[0]}, {args.workers} gunicorn workers, {args.users} connections "
        f"(wrk, 2 threads), {seconds:.0f} s, 1-min load average before/after: "
        f"{args.load_before:.2f}/{os.getloadavg()[0]:.2f}"
    )
    print(
        f"requests {figures['requests']}, {figures['requests'] / seconds:.1f} req/s, "
        f"p50 {figures['p50_us'] / 1000:.0f} ms, p95 {figures['p95_us'] / 1000:.0f} ms, "
        f"p99 {figures['p99_us'] / 1000:.0f} ms"
    )
    print(
        f"errors: {figures['not_200']} answers other than 200, "
        f"{figures['socket_errors']} connection errors"
    )
    print("machine:", ", ".join(f"{k} {v}" for k, v in common.machine().items()))


def run(users: list[User], ids: dict, seconds: float, max_requests: int):
    lock = threading.Lock()
    results: list[tuple[str, float, int]] = []  # (kind, ms, status); status 0 = failed
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    def browse(user: User, seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            kind, path = next_url(rng, ids)
            begun = time.perf_counter()
            try:
                status, _text = user.request("GET", path)
            except Exception:  # noqa: BLE001 - counted as an error, the load goes on
                status = 0
            elapsed = (time.perf_counter() - begun) * 1000
            with lock:
                if len(results) >= max_requests:
                    return
                results.append((kind, elapsed, status))

    threads = [threading.Thread(target=browse, args=(user, n)) for n, user in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


def report(outcome, args, url: str) -> None:
    results, elapsed = outcome
    by_kind = defaultdict(list)
    for kind, ms, status in results:
        by_kind[kind].append((ms, status))
    print(
        f"{url.split('://')[0]}, {args.workers} gunicorn workers, {args.users} users, "
        f"{elapsed:.0f} s, 1-min load average before/after: {args.load_before:.2f}/"
        f"{os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'kind':8} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7}"
    )
    for kind in ("list", "show", "search", "all"):
        rows = [r for k, v in by_kind.items() if kind in (k, "all") for r in v]
        if not rows:
            continue
        times = [ms for ms, _status in rows]
        errors = sum(1 for _ms, status in rows if status != 200)
        print(
            f"{kind:8} {len(rows):9d} {len(rows) / elapsed:7.1f} "
            f"{percentile(times, 0.50):8.0f} {percentile(times, 0.95):8.0f} "
            f"{percentile(times, 0.99):8.0f} {errors:7d}"
        )
    statuses = defaultdict(int)
    for _kind, _ms, status in results:
        statuses[status] += 1
    print("statuses:", dict(statuses), "(0 = connection failed)")
    print("median of all:", f"{statistics.median(ms for _k, ms, _s in results):.0f} ms")
    print("machine:", ", ".join(f"{k} {v}" for k, v in common.machine().items()))


if __name__ == "__main__":
    main()
