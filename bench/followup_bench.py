"""Follow-ups at scale: the customer list and the customer page, without and with 500 000.

Not a test: it prints figures. On the 1 M feedback demo database (built
once by ``common.ensure_database``), it first removes every follow-up and
times the customer list and the busiest customer's page (what they cost
before follow-ups existed: the columns are empty, the timeline holds only
contracts, licenses, feedback and edits); then bulk-inserts ``--followups``
follow-ups over three years (some due today, some overdue), sets each
customer's last and next follow-up times as the app does, and times the
same pages again, plus the customer list's four quick filters and its sort
on 下次跟进时间. Each line: median ms, SQL statements, ratio to the first.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta

import common
from list_bench import measure_page

CONTENTS = (
    "电话回访，客户反馈门店系统运行稳定",
    "上门演示新版本报表功能，客户有采购意向",
    "微信沟通续费事宜，客户要求报价",
    "客户提出打印模板定制需求，约定下周详谈",
    "邮件发送合同草稿，等待法务审核",
)


def clear_followups(app) -> None:
    from sqlalchemy import delete, update

    from app.extensions import db
    from app.models import Customer, FollowUp

    with app.app_context():
        db.session.execute(delete(FollowUp))
        db.session.execute(update(Customer).values(last_followup_at=None, next_followup_at=None))
        db.session.commit()
        db.session.remove()


def insert_followups(app, count: int, seed: int) -> None:
    """``count`` follow-ups in batches of 10 000, then the customers' two columns."""
    from sqlalchemy import insert, select

    from app.extensions import db
    from app.models import Customer, FollowUp
    from app.services import followups

    rng = random.Random(seed)
    now = datetime.now().replace(microsecond=0)
    with app.app_context():
        owners = dict(db.session.execute(select(Customer.id, Customer.owner_id)).all())
        customers = list(owners)
        batch = []
        for number in range(count):
            customer = rng.choice(customers)
            followed = now - timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
            batch.append(
                {
                    "customer_id": customer,
                    "method": rng.choice(("phone", "visit", "wechat", "email")),
                    "content": rng.choice(CONTENTS),
                    "followed_at": followed,
                    "next_at": followed + timedelta(days=rng.randrange(1, 30))
                    if rng.random() < 0.7
                    else None,
                    "next_step": "回访" if rng.random() < 0.5 else None,
                    "user_id": owners[customer],
                    "created_on": followed,
                    "changed_on": followed,
                }
            )
            if len(batch) == 10_000 or number == count - 1:
                db.session.execute(insert(FollowUp), batch)
                batch = []
        followups.refresh_customers(db.session.connection(), customers)
        db.session.commit()
        db.session.remove()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=1_000_000)
    parser.add_argument("--followups", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10, help="requests per median")
    args = parser.parse_args(argv)

    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Feedback

    url = common.database_url(args.customers, args.feedback, args.seed)
    common.ensure_database(url, args.customers, args.feedback, args.seed)
    app = common.make_app(url)
    client = common.signed_in_client(app)
    with app.app_context():
        engine = db.engine
        busiest = db.session.execute(
            select(Feedback.customer_id)
            .group_by(Feedback.customer_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar()
        db.session.remove()
    lists = [("customer list", "/customers/list/")]
    show = ("busiest customer's page", f"/customers/show/{busiest}")

    def run(pages, baseline=None) -> dict[str, float]:
        figures = {}
        for label, url in pages:
            ms, queries, size, _sql = measure_page(app, client, engine, url, args.repeat)
            figures[label] = ms
            ratio = f"{ms / baseline[label]:5.2f}x" if baseline and label in baseline else ""
            print(f"  {label:44} {ms:7.1f} ms {queries:3d} q {size // 1024:5d} KB {ratio}")
        return figures

    print(f"{engine.dialect.name}, {args.feedback} feedback rows; median of {args.repeat}")
    clear_followups(app)
    print("without follow-ups:")
    before = run([*lists, show])
    print(f"inserting {args.followups} follow-ups …")
    insert_followups(app, args.followups, args.seed)
    with app.app_context():
        if engine.dialect.name == "sqlite":
            db.session.execute(db.text("ANALYZE"))
        else:
            db.session.execute(db.text("ANALYZE followup"))
            db.session.execute(db.text("ANALYZE customer"))
        db.session.commit()
        db.session.remove()
    print(f"with {args.followups} follow-ups:")
    queues = [
        (f"customer list, {code}", f"/customers/list/?_flt_0_followup_queue={code}")
        for code in ("due_today", "overdue", "this_week", "idle")
    ]
    sorted_list = [
        (
            "customer list sorted by next follow-up",
            "/customers/list/?_oc_CustomerView=next_followup_at&_od_CustomerView=asc",
        )
    ]
    after = run([*lists, *queues, *sorted_list, show], baseline=before)
    worst = max(after[label] for label, _url in [*lists, *queues, *sorted_list])
    print(
        f"customer list, slowest of its variants / without follow-ups: "
        f"{worst / before['customer list']:.2f}x (target ≤ 1.5x); "
        f"customer page: {after[show[0]] / before[show[0]]:.2f}x (target ≤ 2x)"
    )
    print("machine:", ", ".join(f"{k} {v}" for k, v in common.machine().items()))


if __name__ == "__main__":
    main()
