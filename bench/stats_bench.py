"""The statistics service over the whole bench database (SQL aggregates, not Python loops).

    .venv/bin/python bench/stats_bench.py                         # 200 000 feedback rows
    .venv/bin/python bench/stats_bench.py --feedback 1000000
    DATABASE_URL=postgresql://… .venv/bin/python bench/stats_bench.py --feedback 1000000

Times ``service_statistics`` (totals, KPIs, every breakdown, the months),
median of ``--repeat`` calls, with its SQL statement count, for: the whole
three years, the last year, and the busiest customer's three years. Beside
the first, the practical floor: one ``GROUP BY status, level`` over the same
rows in raw SQL, and the "Python grouping" way stock Flask-AppBuilder's chart
views work (fetch every row, count in Python), to show why aggregates.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    url = common.database_url(args.customers, args.feedback, args.seed)
    common.ensure_database(url, args.customers, args.feedback, args.seed)
    app = common.make_app(url)

    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Feedback
    from app.services.statistics import ReportQuery, service_statistics

    with app.test_request_context():
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
        print(f"{'case':40} {'ms':>9} {'SQL':>4}")
        for label, query in cases:
            with common.counting_queries(engine) as statements:
                result = service_statistics(query)
            count = len(statements)
            ms = common.median_ms(lambda q=query: service_statistics(q), args.repeat)
            print(f"{label:40} {ms:9.0f} {count:4d}   ({result.kpis.total} rows counted)")
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


if __name__ == "__main__":
    main()
