"""Benchmark of the Excel downloads against a plain openpyxl loop and pandas.

    .venv/bin/python bench/report_bench.py                 # N = 200 000 feedback rows
    .venv/bin/python bench/report_bench.py --rows 20000,50000,100000

For each N it builds a scratch SQLite database (bulk inserts), then runs each
case in a subprocess of its own and prints rows/s and peak memory:

- ``report``: GET /reports/service/xlsx over the whole period, through the
  real app's test client (statistics + every sheet + N detail rows);
- ``export``: GET /feedback/export.xlsx, no filters (N rows);
- ``plain-list`` / ``plain-detail``: the practical limit, a bare openpyxl
  write-only loop appending the same rows (the list's 9 columns, the detail
  sheet's 16) fetched by one plain SQL query;
- ``pandas``: ``pandas.read_sql`` of the list's rows and ``DataFrame.to_excel``.

Speed is rows per CPU second of the case's process (user + system time, from
``resource.getrusage``): everything, SQLite included, runs in that process,
and CPU time hardly moves when other work shares the machine, where wall time
does (rows per wall second is printed too). Peak memory is the case's peak
resident set size: Linux's high-water mark (``VmHWM``) is reset once the app
is loaded, so the figure is the case's own peak, and "rise" is how far it went
above the resident size at that moment. Flat memory shows as the same rise at
every N. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))

PASSWORD = "Bench-Passw0rd!"
CASES = ("report", "export", "plain-list", "plain-detail", "pandas")
START, END = datetime(2025, 1, 1), datetime(2025, 12, 31, 23, 59)


def make_app(db_path: Path):
    from app import create_app

    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
        }
    )


# --- Building the scratch database -------------------------------------------------


def build_database(db_path: Path, rows: int, customers: int = 300) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import (
        Customer,
        CustomerStatus,
        Feedback,
        FeedbackLevel,
        FeedbackStatus,
        Product,
        Reporter,
    )
    from app.services.roles import apply_roles

    app = make_app(db_path)
    rng = random.Random(4)
    with app.app_context():
        upgrade()
        apply_roles(app.appbuilder)
        sm = app.appbuilder.sm
        admin_role = sm.find_role(app.config["AUTH_ROLE_ADMIN"])
        sm.add_user("admin", "管理员", "", "admin@example.com", admin_role, PASSWORD)
        engineer_role = sm.find_role(app.config["CRM_ROLE_NAMES"]["engineer"])
        engineers = [
            sm.add_user(
                f"eng{n}", f"工程师{n}", "", f"eng{n}@example.com", engineer_role, PASSWORD
            ).id
            for n in range(12)
        ]
        db.session.execute(
            insert(Customer),
            [
                {
                    "id": n,
                    "code": f"C{n:06d}",
                    "name": f"长益测试客户{n}",
                    "status": CustomerStatus.signed,
                }
                for n in range(1, customers + 1)
            ],
        )
        db.session.execute(
            insert(Reporter),
            [
                {
                    "id": n,
                    "customer_id": (n - 1) // 3 + 1,
                    "name": f"店长{n}",
                    "store": f"第{n}门店",
                }
                for n in range(1, customers * 3 + 1)
            ],
        )
        db.session.execute(
            insert(Product),
            [
                {"id": n, "customer_id": n, "name": f"门店管理系统{n}", "version": "5.2"}
                for n in range(1, customers + 1)
            ],
        )
        cities = ["上海", "北京", "广州", "深圳", "杭州", "南京", "成都", "武汉"]
        causes = [None, "打印机驱动过旧", "网络中断", "数据库锁等待", "操作失误", "配置错误"]
        levels, statuses = list(FeedbackLevel), list(FeedbackStatus)
        span = int((END - START).total_seconds())
        batch = []
        for n in range(1, rows + 1):
            reporter = rng.randrange(1, customers * 3 + 1)
            customer = (reporter - 1) // 3 + 1
            created = START + timedelta(seconds=rng.randrange(span))
            status = rng.choice(statuses)
            resolved = (
                created + timedelta(minutes=rng.randrange(10, 60 * 24 * 10))
                if status in (FeedbackStatus.resolved, FeedbackStatus.closed)
                else None
            )
            batch.append(
                {
                    "customer_id": customer,
                    "reporter_id": reporter,
                    "product_id": customer,
                    "problem": f"收银机无法打印小票 #{n}",
                    "cause": rng.choice(causes),
                    "engineer_id": rng.choice(engineers + [None]),
                    "created_at": created,
                    "resolved_at": resolved,
                    "level": rng.choice(levels),
                    "status": status,
                    "city": rng.choice(cities),
                    "store": f"第{reporter}门店",
                    "created_on": created,
                    "changed_on": created,
                }
            )
            if len(batch) == 20_000:
                db.session.execute(insert(Feedback), batch)
                batch = []
        if batch:
            db.session.execute(insert(Feedback), batch)
        db.session.commit()


# --- One case, in its own process ----------------------------------------------------


def _signed_in_client(app):
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/login/", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, "bench admin could not sign in"
    return client


def _download(client, url: str) -> int:
    """Read the streamed body chunk by chunk, as a browser would, without keeping it."""
    response = client.get(url, buffered=False)
    assert response.status_code == 200, (url, response.status_code)
    size = sum(len(chunk) for chunk in response.response)
    response.close()
    return size


LIST_SQL = """
SELECT f.id, f.problem, c.code || ' ' || c.name, f.level, f.status,
       COALESCE(u.first_name, u.username), f.created_at, f.city, f.store
FROM feedback f JOIN customer c ON c.id = f.customer_id
LEFT JOIN ab_user u ON u.id = f.engineer_id
ORDER BY f.created_at DESC, f.id DESC
"""
DETAIL_SQL = """
SELECT f.id, f.created_at, f.resolved_at,
       (CAST(strftime('%s', f.resolved_at) AS INTEGER)
        - CAST(strftime('%s', f.created_at) AS INTEGER)) / 3600.0,
       f.level, c.code, c.name, r.name, f.store, f.city, p.name, f.level, f.status,
       COALESCE(u.first_name, u.username), f.problem, f.cause
FROM feedback f JOIN customer c ON c.id = f.customer_id
LEFT JOIN reporter r ON r.id = f.reporter_id
LEFT JOIN product p ON p.id = f.product_id
LEFT JOIN ab_user u ON u.id = f.engineer_id
ORDER BY f.created_at, f.id
"""


def _plain_loop(db_path: Path, sql: str) -> tuple[int, int]:
    """What a bare openpyxl write-only loop achieves on the same rows (timestamps parsed)."""
    import sqlite3

    from openpyxl import Workbook

    connection = sqlite3.connect(db_path)
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("rows")
    ws.append([f"column {n}" for n in range(16)])
    count = 0
    for row in connection.execute(sql):
        row = list(row)
        for index in (1, 2, 6):
            if index < len(row) and isinstance(row[index], str) and row[index][:2] == "20":
                row[index] = datetime.fromisoformat(row[index])
        ws.append(row)
        count += 1
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        size = handle.tell()
    connection.close()
    return count, size


def _pandas(db_path: Path) -> tuple[int, int]:
    import sqlite3

    import pandas

    connection = sqlite3.connect(db_path)
    frame = pandas.read_sql(LIST_SQL, connection, parse_dates=["created_at"])
    with tempfile.TemporaryFile() as handle:
        frame.to_excel(handle, index=False, engine="openpyxl")
        size = handle.tell()
    connection.close()
    return len(frame), size


def _status_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_peak() -> int:
    """Start a fresh peak-RSS count (Linux: clear_refs 5); returns the RSS now, in kB."""
    gc.collect()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_kb() -> int:
    return _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_case(case: str, db_path: Path, rows: int) -> dict:
    app = make_app(db_path)
    with app.app_context():
        pass
    client = _signed_in_client(app) if case in ("report", "export") else None
    if case == "pandas":
        import pandas  # noqa: F401  (loading the library is not writing the rows)
    if case.startswith("plain") or case == "pandas":
        import openpyxl  # noqa: F401  (loaded before the baseline, like the other cases)
    baseline = _reset_peak()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if case == "report":
        url = f"/reports/service/xlsx?from={START.date()}&to={END.date()}"
        written, size = rows, _download(client, url)
    elif case == "export":
        written, size = rows, _download(client, "/feedback/export.xlsx")
    elif case == "plain-list":
        written, size = _plain_loop(db_path, LIST_SQL)
    elif case == "plain-detail":
        written, size = _plain_loop(db_path, DETAIL_SQL)
    else:
        written, size = _pandas(db_path)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = _peak_kb()
    return {
        "case": case,
        "rows": written,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_cpu_s": round(written / cpu),
        "rows_per_s": round(written / seconds),
        "file_mb": round(size / 2**20, 1),
        "peak_rss_mb": round(peak / 1024),
        "rise_mb": round((peak - baseline) / 1024),
    }


# --- Driver ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="200000", help="N, or several: 20000,50000")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:  # a child process: one case, one JSON line
        print(json.dumps(run_case(args.case, Path(args.db), int(args.rows))))
        return

    cases = [case for case in args.cases.split(",") if case]
    from common import git_revision, machine  # bench/ is on sys.path when run as a script

    print(
        "# "
        + ", ".join(f"{key} {value}" for key, value in machine().items())
        + f", revision {git_revision()}"
    )
    print(f"# load average at start: {os.getloadavg()[0]:.1f} (1 min)")
    print(
        f"{'N':>8} {'case':<13} {'rows/cpu-s':>11} {'rows/s':>8} {'cpu s':>7} {'wall s':>7} "
        f"{'file MB':>8} {'peak RSS MB':>12} {'rise MB':>8}"
    )
    for rows in (int(value) for value in args.rows.split(",")):
        with tempfile.TemporaryDirectory(prefix="crm-bench-db-") as folder:
            db_path = Path(folder) / "bench.sqlite3"
            built = time.perf_counter()
            build_database(db_path, rows)
            print(f"# N={rows}: database built in {time.perf_counter() - built:.1f} s", flush=True)
            results = {}
            for case in cases:
                output = (
                    subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--case",
                            case,
                            "--db",
                            str(db_path),
                            "--rows",
                            str(rows),
                        ],
                        check=True,
                        capture_output=True,
                        text=True,
                        cwd=ROOT,
                    )
                    .stdout.strip()
                    .splitlines()[-1]
                )
                result = results[case] = json.loads(output)
                print(
                    f"{rows:>8} {case:<13} {result['rows_per_cpu_s']:>11} "
                    f"{result['rows_per_s']:>8} "
                    f"{result['cpu_s']:>7} {result['seconds']:>7} {result['file_mb']:>8} "
                    f"{result['peak_rss_mb']:>12} {result['rise_mb']:>8}",
                    flush=True,
                )
            for mine, plain in (("export", "plain-list"), ("report", "plain-detail")):
                if mine in results and plain in results:
                    ratio = results[mine]["rows_per_cpu_s"] / results[plain]["rows_per_cpu_s"]
                    print(f"# N={rows}: {mine} runs at {ratio:.2f}x the {plain} loop", flush=True)
    print(f"# load average at end: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
