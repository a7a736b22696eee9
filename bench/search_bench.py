"""The "contains" search with and without the bigram index, side by side in one run.

    .venv/bin/python bench/search_bench.py --feedback 1000000
    DATABASE_URL=postgresql://… .venv/bin/python bench/search_bench.py --feedback 1000000

For each term: the median of ``--repeat`` runs of what a list page asks the
data layer (the count and the first 25 rows, newest first), once through FAB's
plain ``ILIKE`` filter (before) and once through the index (after), with both
counts (they must be equal); then the whole feedback list page through the
real app, signed in as admin, before and after.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("CRM_BENCH_DIR", "/tmp/crm-search-bench")

from common import (  # sets up sys.path and the instance folder first
    ensure_database,
    git_revision,
    machine,
    make_app,
    median_ms,
    signed_in_client,
)

CASES = (  # (model, column, term, why)
    ("Feedback", "problem", "打印", "2 characters, in 4 of 26 demo problems"),
    ("Feedback", "problem", "无法打印小票", "6 characters, one demo problem"),
    ("Feedback", "problem", "pos", "Latin, any case (POS机…)"),
    ("Feedback", "details", "重启后仍然存在", "details, one demo sentence"),
    ("Feedback", "cause", "驱动", "cause, resolved rows only"),
    ("Feedback", "problem", "打印机漏单了吗", "no row has it"),
    ("Customer", "name", "华联", "customer names"),
    ("Reporter", "name", "王伟", "reporter names"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    from common import database_url

    url = database_url(args.customers, args.feedback, args.seed)
    ensure_database(url, args.customers, args.feedback, args.seed)
    app = make_app(url)

    from flask_appbuilder.models.sqla.filters import FilterContains
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    import app.models as models
    from app.extensions import db
    from app.services import search
    from app.services.querying import EagerInterface

    print(f"revision {git_revision()}, {url.split('@')[-1]}, {machine()}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| search | rows found | before (ILIKE scan) ms | after (index) ms | speed-up |")
    print("|---|---:|---:|---:|---:|")
    with app.app_context():
        for model_name, column_name, term, why in CASES:
            model = getattr(models, model_name)
            figures = []
            for datamodel in (SQLAInterface(model, db.session), EagerInterface(model, db.session)):
                filters = datamodel.get_filters([column_name])
                filters.add_filter(column_name, FilterContains, term)

                order = "created_at" if model_name == "Feedback" else "id"

                def page(datamodel=datamodel, filters=filters, order=order):
                    return datamodel.query(filters, order, "desc", page=0, page_size=25)

                count = page()[0]
                figures.append((count, median_ms(page, args.repeat)))
                db.session.rollback()
            (before_count, before), (after_count, after) = figures
            assert before_count == after_count, (term, before_count, after_count)
            label = f"{model_name.lower()}.{column_name} contains {term} ({why})"
            print(
                f"| {label} | {after_count} | {before:.1f} | {after:.1f} | {before / after:.0f}× |"
            )

    client = signed_in_client(app)
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "FeedbackView")
    search_filters = view._filters._search_filters["problem"]
    flt = next(i for i, f in enumerate(search_filters) if type(f) is FilterContains)
    url_path = f"/feedback/list/?_flt_{flt}_problem=打印"
    plain = search.indexed_filters
    try:
        search.indexed_filters = lambda filters: filters  # before: FAB's ILIKE
        before = median_ms(lambda: client.get(url_path), args.repeat)
    finally:
        search.indexed_filters = plain
    after = median_ms(lambda: client.get(url_path), args.repeat)
    print(f"\nfeedback list page {url_path}: before {before:.1f} ms, after {after:.1f} ms")
    print(f"load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    main()
