"""Benchmark of the receivables report and the contract list's money columns.

    .venv/bin/python bench/receivables_bench.py                  # 200 000 payments
    .venv/bin/python bench/receivables_bench.py --payments 50000

Builds (once, in ``CRM_BENCH_DIR``, or in the PostgreSQL database that
``DATABASE_URL`` names) a database of 2 000 customers, one contract per 4
payments, two instalments per contract and the payments over 2025, by bulk
inserts. Then, signed in as the bench admin through the real
app's test client, the median of ``--repeat`` requests of:

- ``/reports/receivables/xlsx`` for the year 2025 (the issue's target: ≤ 2 s), then
  its numbers (``receivables.receivables``) and its workbook apart, in wall and CPU
  time (CPU: this process, SQLite included; fairer on a shared machine);
- the contract list with 已回款 / 未回款, and the same list without them
  (``payments.with_money`` made a no-op: today's list), with their SQL
  statement counts at page sizes 10 and 100 (they must be equal), each after a
  warm-up request; the two lists alternate, so that a change of load hits both.

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    BENCH_DIR,
    counting_queries,
    ensure_database,
    make_app,
    median_ms,
    signed_in_client,
)

CUSTOMERS = 2_000


def fill(app, payments: int, seed: int = 5) -> None:
    from sqlalchemy import func, insert, select

    from app.extensions import db
    from app.models import Contract, Customer, Payment, PaymentPlan

    with app.app_context():
        if db.session.scalar(select(Contract.id).where(Contract.number == "BENCH-0000001")):
            return
        rng = random.Random(seed)
        customers = db.session.scalars(select(Customer.id).limit(CUSTOMERS)).all()
        contracts = payments // 4
        now = datetime(2025, 1, 1)
        audit = {"created_on": now, "changed_on": now, "row_version": 1}
        first = (db.session.scalar(select(func.max(Contract.id))) or 0) + 1
        assert first < 1_000_000
        contract_rows, plan_rows, payment_rows = [], [], []
        for n in range(contracts):
            contract_id = first + n
            customer_id = rng.choice(customers)
            signed = date(2025, 1, 1) + timedelta(days=rng.randint(0, 300))
            contract_rows.append(
                {
                    "id": contract_id,
                    "customer_id": customer_id,
                    "number": f"BENCH-{n + 1:07d}",
                    "sign_date": signed,
                    "payment_date": signed,
                    "amount": Decimal("10000.00"),
                    **audit,
                }
            )
            for instalment, offset in ((1, 0), (2, 60)):
                plan_rows.append(
                    {
                        "contract_id": contract_id,
                        "customer_id": customer_id,
                        "instalment": instalment,
                        "planned_date": signed + timedelta(days=offset),
                        "planned_amount": Decimal("5000.00"),
                        **audit,
                    }
                )
            for k in range(4):
                payment_rows.append(
                    {
                        "contract_id": contract_id,
                        "customer_id": customer_id,
                        "paid_on": signed + timedelta(days=k * 20 + rng.randint(0, 10)),
                        "amount": Decimal("2000.00"),
                        "method": "bank_transfer",
                        "invoice_number": f"FP{contract_id:07d}{k}",
                        **audit,
                    }
                )
        with db.engine.begin() as conn:
            for model, rows in (
                (Contract, contract_rows),
                (PaymentPlan, plan_rows),
                (Payment, payment_rows),
            ):
                for start in range(0, len(rows), 10_000):
                    conn.execute(insert(model.__table__), rows[start : start + 10_000])
            conn.exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = f"sqlite:///{BENCH_DIR / f'crm-receivables-p{args.payments}.sqlite3'}"
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):  # filled when empty
        url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    ensure_database(url, customers=CUSTOMERS, feedback=0, seed=1)
    app = make_app(url)
    fill(app, args.payments)
    client = signed_in_client(app)
    from app.extensions import db
    from app.services import payments

    print(f"load average before: {os.getloadavg()}")
    report = "/reports/receivables/xlsx?from=2025-01-01&to=2025-12-31"
    assert client.get(report).status_code == 200
    print(f"receivables report, 2025: {median_ms(lambda: client.get(report), args.repeat):.0f} ms")
    report_parts(app, args.repeat)

    def list_page(size):
        return lambda: client.get(f"/contracts/list/?psize_ContractView={size}")

    with app.app_context():
        for size in (10, 100):
            list_page(size)()  # warm: the first request of a session reads more
            with counting_queries(db.engine) as statements:
                list_page(size)()
            print(f"contract list, page size {size}: {len(statements)} statements")
    real = payments.with_money
    with_money, without = [], []
    for _round in range(args.repeat):  # alternated, so that load changes hit both alike
        with_money.append(median_ms(list_page(25), 1))
        payments.with_money = lambda query: query
        try:
            without.append(median_ms(list_page(25), 1))
        finally:
            payments.with_money = real
    a, b = statistics.median(with_money), statistics.median(without)
    print(
        f"contract list (25 rows): {a:.0f} ms with 已回款/未回款, {b:.0f} ms without ({a / b:.2f}×)"
    )
    print(f"load average after: {os.getloadavg()}")


def report_parts(app, repeat: int) -> None:
    """The report's numbers and its workbook apart: wall and this process's CPU time."""
    from flask import g
    from flask_login import current_user, login_user

    from app.extensions import db
    from app.models import CrmUser
    from app.reports.receivables_report import receivables_workbook
    from app.reports.xlsx import save_to_tempfile
    from app.services import payments
    from app.services.receivables import receivables

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    with app.test_request_context():
        login_user(db.session.scalars(select_admin(CrmUser)).one())
        g.user = current_user
        parts = []
        for _n in range(repeat):
            wall, used = time.perf_counter(), cpu()
            data = receivables(date(2025, 1, 1), date(2025, 12, 31), payments.today())
            numbers = (time.perf_counter() - wall, cpu() - used)
            wall, used = time.perf_counter(), cpu()
            save_to_tempfile(receivables_workbook(data, "bench", datetime.now())).close()
            parts.append((*numbers, time.perf_counter() - wall, cpu() - used))
        n_wall, n_cpu, w_wall, w_cpu = (statistics.median(p[k] for p in parts) for k in range(4))
        print(
            f"  numbers: {n_wall:.2f} s wall, {n_cpu:.2f} s CPU; workbook: {w_wall:.2f} s wall, "
            f"{w_cpu:.2f} s CPU ({len(data.plans)} of {data.plan_count} instalments, "
            f"{len(data.payments)} of {data.payment_count} payments listed)"
        )


def select_admin(user_model):
    from sqlalchemy import select

    return select(user_model).where(user_model.username == "admin")


if __name__ == "__main__":
    main()
