"""The statistics service over the whole bench database (SQL aggregates, not Python loops).

    .venv/bin/python bench/stats_bench.py                         # 200 000 feedback rows
    .venv/bin/python bench/stats_bench.py --feedback 1000000
    DATABASE_URL=postgresql://… .venv/bin/python bench/stats_bench.py --feedback 1000000
    .venv/bin/python bench/stats_bench.py --feedback 1000000 --repeat 1 --reference

Times ``service_statistics`` (totals, KPIs, every breakdown, the months),
median of ``--repeat`` calls (no warm-up: at 1 M rows each call reads the
whole table), with its SQL statement count, the rise of this process's peak
resident memory (MB, 0 once an earlier case reached higher) and its CPU time
(this process, plus the PostgreSQL backend's when the server runs on this
machine: on a busy shared machine CPU time is the steadier figure), for: the
whole three years, the last year, and the busiest customer's three years.
``--reference`` also times, once, the straightforward SQL used before issue 17
(``tests/statistics_reference.py``) and checks both give the same numbers.
Then the customer page's open feedback by level for the busiest customer,
and beside the first case the practical floor: one ``GROUP BY status, level``
over the same rows in raw SQL, and the "Python grouping" way stock
Flask-AppBuilder's chart views work (fetch every row, count in Python), to
show why aggregates.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reference", action="store_true", help="also time the SQL used before issue 17, once"
    )
    args = parser.parse_args(argv)

    url = common.database_url(args.customers, args.feedback, args.seed)
    common.ensure_database(url, args.customers, args.feedback, args.seed)
    app = common.make_app(url)

    from sqlalchemy import func, select, text

    from app.extensions import db
    from app.models import Feedback
    from app.services.feedback import open_counts_by_level
    from app.services.statistics import ReportQuery, backlog_ages, service_statistics
    from tests import statistics_reference as reference

    def cpu_seconds() -> float:
        """This process's CPU time plus, on PostgreSQL, the session backend's (if readable)."""
        spent = time.process_time()
        if db.engine.dialect.name == "postgresql":
            pid = db.session.scalar(text("SELECT pg_backend_pid()"))
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                spent += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                pass
        return spent

    def timed(action):
        """(wall ms, CPU ms, result) of one call."""
        started, cpu = time.perf_counter(), cpu_seconds()
        result = action()
        return (time.perf_counter() - started) * 1000, (cpu_seconds() - cpu) * 1000, result

    # An app context, not a request: outside a request the data scope sees everything
    # (in a request without a signed-in user it sees nothing: 0 rows counted).
    with app.app_context():
        engine = db.engine
        total = db.session.scalar(select(func.count()).select_from(Feedback))
        first, last = db.session.execute(
            select(func.min(Feedback.created_at), func.max(Feedback.created_at))
        ).one()
        busiest = db.session.execute(
            select(Feedback.customer_id, func.count())
            .group_by(Feedback.customer_id)
            .order_by(func.count().desc())
            .limit(1)
        ).first()
        end = last.date()
        cases = [
            ("whole period", ReportQuery(first.date(), end)),
            ("last year", ReportQuery(end - timedelta(days=364), end)),
            (
                f"customer #{busiest[0]} ({busiest[1]} rows)",
                ReportQuery(first.date(), end, busiest[0]),
            ),
        ]
        print(f"{engine.dialect.name}, {total} feedback rows; median of {args.repeat} calls")
        print(f"{'case':40} {'ms':>9} {'CPU ms':>9} {'SQL':>4} {'RSS+MB':>7}")
        for label, query in cases:
            as_of = datetime.now()
            runs = []
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            for _n in range(args.repeat):
                with common.counting_queries(engine) as statements:
                    runs.append(timed(lambda q=query, t=as_of: service_statistics(q, t)))
                db.session.remove()
            runs.sort(key=lambda run: run[0])
            ms, cpu, result = runs[len(runs) // 2]
            risen = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
            print(
                f"{label:40} {ms:9.0f} {cpu:9.0f} {_counted(statements):4d} {risen:7.0f}"
                f"   ({result.kpis.total} rows counted, load {os.getloadavg()[0]:.1f})"
            )
            if args.reference:

                def before(q=query, as_of=as_of):
                    figures = reference.service_figures(q, as_of)
                    backlog_ages(q, as_of)
                    return figures

                with common.counting_queries(engine) as statements:
                    ms, cpu, figures = timed(before)
                print(f"{'  before issue 17':40} {ms:9.0f} {cpu:9.0f} {_counted(statements):4d}")
                same = _same(
                    (result.kpis, result.breakdowns, result.monthly),
                    (figures["kpis"], figures["breakdowns"], figures["monthly"]),
                )
                print(f"{'  the same numbers':40} {'yes' if same else 'NO (see the test)':>9}")
                db.session.remove()

        now = datetime.now()
        ms = common.median_ms(lambda: open_counts_by_level(now, customer_id=busiest[0]), 20)
        print(f"{'customer page: open feedback by level':40} {ms:9.1f}    1")
        db.session.remove()

        def raw_group_by():
            with engine.connect() as conn:
                conn.exec_driver_sql(
                    "SELECT status, level, count(*) FROM feedback GROUP BY status, level"
                ).fetchall()

        def python_grouping():
            with engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT status, level FROM feedback")
                Counter((status, level) for status, level in rows)

        print(
            f"{'raw SQL: one GROUP BY status, level':40} "
            f"{common.median_ms(raw_group_by, args.repeat):9.0f}    1"
        )
        print(
            f"{'every row to Python, counted there':40} "
            f"{common.median_ms(python_grouping, args.repeat):9.0f}    1"
        )
    print("machine:", ", ".join(f"{k} {v}" for k, v in common.machine().items()))


def _counted(statements: list[str]) -> int:
    """The statistics' queries: not the CPU probe's ``pg_backend_pid()`` nor ``SET work_mem``."""
    return sum(
        statement.lstrip().upper().startswith("SELECT") and "pg_backend_pid" not in statement
        for statement in statements
    )


def _same(fast, slow) -> bool:
    """Equal, but averages and rates only to 12 digits (the two ways divide in another order)."""
    fast, slow = _plain(fast), _plain(slow)
    if isinstance(slow, float) and isinstance(fast, float):
        return math.isclose(fast, slow, rel_tol=1e-12)
    if isinstance(slow, (list, tuple)):
        return len(fast) == len(slow) and all(map(_same, fast, slow))
    if isinstance(slow, dict):
        return fast.keys() == slow.keys() and all(_same(fast[key], slow[key]) for key in slow)
    return fast == slow


def _plain(value):
    return asdict(value) if is_dataclass(value) else value


if __name__ == "__main__":
    main()
