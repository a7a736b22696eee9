"""Demo data at scale for ``flask crm demo``.

Everything comes from one seeded ``random.Random``, so the same seed on the
same day gives the same rows. Rows are built as plain dicts and written with
SQLAlchemy Core ``executemany`` in batches inside one transaction: the ORM
would spend minutes on a million feedback rows. Every row satisfies the rules
in ``app.services.validation`` and the database's check constraints (the
tests check both).

Two steps, so that the command can size its progress bar: ``prepare`` checks
the database and plans the small tables; ``write`` writes them and streams the
feedback rows.
"""

from __future__ import annotations

import bisect
import math
import random
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select, text
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import (
    BUSINESS_MODELS,
    Contact,
    Contract,
    CrmUser,
    Customer,
    Department,
    Feedback,
    FollowUp,
    License,
    Payment,
    PaymentPlan,
    Product,
    Reporter,
)
from app.models.feedback import resolution_seconds
from app.services import demo_data as words
from app.services import encryption, search
from app.services.licenses import default_trial_end
from app.services.validation import national_id_check_digit

BATCH_SIZE = 10_000
HISTORY_DAYS = 3 * 365
DEMO_ENGINEERS = 6
DEMO_SALES_PER_REGION = 3
POOL_SHARE = 0.15  # customers nobody owns (the pool)

PARENT_FIRST = (
    Customer,
    Contact,
    Contract,
    PaymentPlan,
    Payment,
    Product,
    License,
    Reporter,
    FollowUp,
)
# how an instalment due by now was paid: (share, outcome)
PAYMENT_OUTCOMES = (("on_time", 70), ("late", 14), ("partial", 9), ("unpaid", 7))
METHOD_WEIGHTS = (("bank_transfer", 75), ("acceptance_bill", 12), ("cheque", 8), ("cash", 3))

# level code: (share of feedback, median hours to resolve)
LEVELS = (("urgent", 0.05, 3), ("high", 0.20, 12), ("medium", 0.50, 36), ("low", 0.25, 96))
CATEGORY_WEIGHTS = (
    ("retail_chain", 25),
    ("supermarket", 25),
    ("restaurant", 20),
    ("pharmacy", 12),
    ("apparel", 10),
    ("other", 8),
)
STATUS_WEIGHTS = (("signed", 65), ("prospect", 15), ("suspended", 10), ("lost", 10))


class DemoRefused(Exception):
    """The database already holds business records; ``str()`` is the user's message."""


@dataclass
class DemoPlan:
    """The small tables, ready to insert, and how the feedback rows will be drawn."""

    seed: int
    now: datetime
    feedback: int
    engineer_ids: list[int]
    force: bool
    owner_ids: list[int] = field(default_factory=list)
    rows: dict[type, list[dict]] = field(default_factory=dict)
    customer_weights: list[float] = field(default_factory=list)
    # customer index -> ids of its reporters (with their city and store) and products
    reporters_of: list[list[tuple[int, str, str]]] = field(default_factory=list)
    products_of: list[list[int]] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(len(rows) for rows in self.rows.values()) + self.feedback


def business_counts() -> dict[type, int]:
    """Rows per business table, only the non-empty ones."""
    counts = {}
    for model in BUSINESS_MODELS:
        number = db.session.scalar(select(func.count()).select_from(model))
        if number:
            counts[model] = number
    return counts


def prepare(
    customers: int,
    feedback: int,
    seed: int | None = None,
    force: bool = False,
    now: datetime | None = None,
    sales_password: str | None = None,
) -> DemoPlan:
    """Refuse a database with business records (unless ``force``) and plan the data."""
    if not force:
        existing = business_counts()
        if existing:
            from app.services.integrity import NOUNS

            parts = _("; ").join(
                _("%(count)d %(noun)s", count=number, noun=NOUNS[model])
                for model, number in existing.items()
            )
            raise DemoRefused(
                _(
                    "The database already has business records (%(parts)s). Demo data goes "
                    "into an empty database only; run again with --force to delete every "
                    "business record first.",
                    parts=parts,
                )
            )
    if seed is None:
        seed = secrets.randbelow(2**31)
    now = now or datetime.combine(date.today(), time(0))
    plan = DemoPlan(
        seed=seed,
        now=now,
        feedback=feedback,
        engineer_ids=engineer_ids(),
        force=force,
        owner_ids=sales_owner_ids(sales_password),
    )
    _plan_small_tables(plan, customers, random.Random(seed))
    return plan


def write(plan: DemoPlan, advance: Callable[[int], None] = lambda n: None) -> dict[type, int]:
    """Write the plan in one transaction; ``advance(n)`` is told of every batch."""
    engine = db.engine
    db.session.remove()
    with engine.connect() as conn:
        restore = _fast_load_pragmas(conn)
        try:
            with conn.begin():
                if plan.force:
                    for table in tables_to_clear():
                        conn.execute(delete(table))
                for model in PARENT_FIRST:
                    for batch in _chunks(plan.rows[model], BATCH_SIZE):
                        conn.execute(insert(model.__table__), batch)
                        advance(len(batch))
                rng = random.Random(plan.seed + 1)
                with (
                    _indexes_built_after(conn, Feedback.__table__),
                    search.built_after(conn, "feedback"),
                ):
                    for batch in _feedback_batches(plan, rng):
                        _bulk_insert(conn, Feedback.__table__, batch)
                        advance(len(batch))
                _reset_sequences(conn)
            # Fresh planner statistics, so the first pages use the right indexes.
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        finally:
            restore()
    counts = {model: len(rows) for model, rows in plan.rows.items()}
    counts[Feedback] = plan.feedback
    return counts


def _bulk_insert(conn, table, rows: list[dict]) -> None:
    """``executemany`` on SQLite; PostgreSQL's COPY, several times faster, on PostgreSQL."""
    if conn.dialect.name != "postgresql" or not rows:
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(tuple(row[name] for name in columns))


def tables_to_clear() -> list:
    """The business tables and every table that refers to them, children first.

    Other modules hang rows off business records (notifications of a
    feedback…); ``--force`` must clear those too or their foreign keys refuse.
    """
    metadata = Feedback.__table__.metadata
    clear = {model.__table__ for model in BUSINESS_MODELS}
    grown = True
    while grown:
        grown = False
        for table in metadata.sorted_tables:
            if table not in clear and any(fk.column.table in clear for fk in table.foreign_keys):
                clear.add(table)
                grown = True
    return [table for table in reversed(metadata.sorted_tables) if table in clear]


def engineer_ids() -> list[int]:
    """Active users with the engineer role; a few demo engineers when there are none.

    Demo engineers get no usable password (an admin sets one to let them in),
    so the demo never adds a sign-in nobody knows about. Without the engineer
    role (``crm init`` not run yet) feedback is left unassigned.
    """
    sm = current_app.appbuilder.sm
    role = sm.find_role(current_app.config["CRM_ROLE_NAMES"]["engineer"])
    if role is None:
        return []
    query = (
        select(CrmUser.id)
        .where(CrmUser.roles.any(id=role.id), CrmUser.active.is_(True))
        .order_by(CrmUser.id)
    )
    ids = list(db.session.scalars(query))
    if ids:
        return ids
    rng = random.Random(0)
    for number in range(1, DEMO_ENGINEERS + 1):
        username = f"demo_engineer{number}"
        user = db.session.scalar(select(CrmUser).where(CrmUser.username == username))
        if user is None:
            user = CrmUser(
                username=username,
                first_name=_person_name(rng),
                last_name="",
                email=f"{username}@example.com",
                active=True,
                password="!",
                phone=_mobile(rng),
                position=rng.choice(words.ENGINEER_POSITIONS),
                age=rng.randint(24, 50),
                years_of_work=rng.randint(1, 20),
            )
            db.session.add(user)
        if role not in user.roles:
            user.roles.append(role)
        db.session.flush()
        ids.append(user.id)
    db.session.commit()
    return ids


def sales_owner_ids(password: str | None = None) -> list[int]:
    """The demo sales organisation, made once: 销售部 with its regions, a manager in
    销售部 and salespeople in each region; the salespeople's ids, to own customers.

    Their password is ``password`` when given (to try the data scopes), else
    unusable until an admin sets one, as for the demo engineers.
    """
    sm = current_app.appbuilder.sm
    names = current_app.config["CRM_ROLE_NAMES"]
    sales_role, manager_role = sm.find_role(names["sales"]), sm.find_role(names["manager"])
    if sales_role is None or manager_role is None:
        return []  # `crm init` not run yet: customers start in the pool
    departments: dict[str, Department] = {}
    for name, parent in words.DEPARTMENTS:
        parent_row = departments.get(parent)
        same_parent = (
            Department.parent_id.is_(None)
            if parent_row is None
            else Department.parent_id == parent_row.id
        )
        found = db.session.scalar(select(Department).where(Department.name == name, same_parent))
        departments[name] = found or Department(name=name, parent=parent_row)
        db.session.add(departments[name])
        db.session.flush()
    rng = random.Random(1)
    people = [("demo_manager", manager_role, words.DEPARTMENTS[0][0], "销售总监")]
    for region_number, region in enumerate(words.SALES_REGIONS, start=1):
        for number in range(1, DEMO_SALES_PER_REGION + 1):
            people.append(
                (
                    f"demo_sales{region_number}{number}",
                    sales_role,
                    region,
                    rng.choice(words.SALES_POSITIONS),
                )
            )
    hashed = generate_password_hash(password) if password else "!"
    owners = []
    for username, role, department, position in people:
        user = db.session.scalar(select(CrmUser).where(CrmUser.username == username))
        if user is None:
            user = CrmUser(
                username=username,
                first_name=_person_name(rng),
                last_name="",
                email=f"{username}@example.com",
                active=True,
                password=hashed,
                phone=_mobile(rng),
                position=position,
                age=rng.randint(24, 50),
                years_of_work=rng.randint(1, 20),
            )
            db.session.add(user)
        elif password:
            user.password = hashed
        user.department = departments[department]
        if role not in user.roles:
            user.roles.append(role)
        db.session.flush()
        if role is sales_role:
            owners.append(user.id)
    db.session.commit()
    return owners


# --- the small tables -------------------------------------------------------


def _plan_small_tables(plan: DemoPlan, customers: int, rng: random.Random) -> None:
    rows = {model: [] for model in PARENT_FIRST}
    money_rng = random.Random(plan.seed + 7)  # its own: the other tables stay as they were
    start = plan.now - timedelta(days=HISTORY_DAYS)
    today = plan.now.date()
    names_taken: set[str] = set()
    categories, category_weights = zip(*CATEGORY_WEIGHTS, strict=True)
    statuses, status_weights = zip(*STATUS_WEIGHTS, strict=True)

    for index in range(customers):
        customer_id = index + 1
        city, area, phone_area = rng.choice(words.CITIES)
        category = rng.choices(categories, category_weights)[0]
        status = rng.choices(statuses, status_weights)[0]
        name = _company_name(rng, city, category, names_taken)
        # Chain size: a few large chains, many small ones; it drives how much they report.
        size = min(80, max(1, round(rng.paretovariate(1.4) * 2 - 1)))
        created = start - timedelta(days=rng.randint(0, 365), hours=rng.randint(8, 18))
        audit = _audit(created)
        rows[Customer].append(
            {
                "id": customer_id,
                "code": f"KH{customer_id:06d}",
                "name": name,
                "category": category,
                "status": status,
                "importance": "A" if size >= 10 else rng.choice(("B", "B", "C")),
                "address": _address(rng, city),
                "phone": _landline(rng, phone_area),
                "email": f"service@kh{customer_id:06d}.com.cn",
                "owner_id": (
                    rng.choice(plan.owner_ids)
                    if plan.owner_ids and rng.random() >= POOL_SHARE
                    else None
                ),
                "last_followup_at": None,
                "next_followup_at": None,
                **audit,
            }
        )
        plan.customer_weights.append(size * (0.2 if status == "prospect" else 1.0))
        contacts_before = len(rows[Contact])

        for _n in range(rng.randint(1, 4)):
            birth = date(1965, 1, 1) + timedelta(days=rng.randrange(35 * 365))
            rows[Contact].append(
                {
                    "id": len(rows[Contact]) + 1,
                    "customer_id": customer_id,
                    "name": _person_name(rng),
                    "position": rng.choice(words.POSITIONS),
                    "birth_date": birth,
                    "national_id": _national_id(rng, area, birth),  # encrypted by its type
                    "phone": _mobile(rng),
                    "email": f"c{len(rows[Contact]) + 1}@kh{customer_id:06d}.com.cn",
                    "address": _address(rng, city),
                    "status": "active" if rng.random() < 0.85 else "left",
                    **audit,
                }
            )

        for contact in rows[Contact][contacts_before:]:  # Core inserts pass no ORM hook
            contact["national_id_hash"] = encryption.digest(contact["national_id"])
        _plan_followups(
            rows,
            rows[Customer][-1],
            range(contacts_before + 1, len(rows[Contact]) + 1),
            plan,
            created,
            rng,
        )

        if status != "prospect":
            for _n in range(rng.randint(1, 3)):
                contract_id = len(rows[Contract]) + 1
                signed = (created + timedelta(days=rng.randint(0, HISTORY_DAYS))).date()
                signed = min(signed, today)
                amount = Decimal(rng.randint(200, 20_000) * 100) + Decimal(rng.randint(0, 99)) / 100
                rows[Contract].append(
                    {
                        "id": contract_id,
                        "customer_id": customer_id,
                        "number": f"HT{signed.year}-{contract_id:06d}",
                        "sign_date": signed,
                        "end_date": signed + timedelta(days=365 * rng.randint(1, 3)),
                        "payment_date": signed + timedelta(days=rng.randint(0, 60)),
                        "amount": amount,
                        "party_a": name,
                        "party_b": words.VENDOR,
                        **_audit(datetime.combine(signed, time(10))),
                    }
                )
                _plan_payments(rows, rows[Contract][-1], today, money_rng)

        products = []
        for base in rng.sample(words.PRODUCTS, 1 if status == "prospect" else rng.randint(1, 3)):
            product_id = len(rows[Product]) + 1
            version = f"{rng.randint(3, 6)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
            built = (created + timedelta(days=rng.randint(0, 60))).date()
            code = f"KH{customer_id:06d}"
            rows[Product].append(
                {
                    "id": product_id,
                    "customer_id": customer_id,
                    "name": f"{base}（{name[len(city) : len(city) + 2]}定制版）",
                    "description": f"{base}，为{name}定制。",
                    "version": version,
                    "customization": "；".join(rng.sample(words.CUSTOMIZATIONS, 2)),
                    "backup_path": f"/srv/backup/{code}/build-{product_id}-{version}.tar.gz",
                    "manual_path": f"/srv/manuals/{code}/manual-{product_id}.pdf",
                    "created_date": built,
                    "authorization_code": "-".join(f"{rng.getrandbits(16):04X}" for _n in range(4)),
                    **_audit(datetime.combine(built, time(9))),
                }
            )
            products.append(product_id)
            for _n in range(1 if status == "prospect" else rng.randint(1, 2)):
                rows[License].append(
                    _license(
                        rng,
                        len(rows[License]) + 1,
                        customer_id,
                        product_id,
                        today,
                        status == "prospect",
                    )
                )
        plan.products_of.append(products)

        reporters = []
        for store_number in range(size):
            store_city = (
                city if store_number == 0 or rng.random() < 0.7 else rng.choice(words.CITIES)[0]
            )
            store = f"{store_city}{rng.choice(words.STORE_PLACES)}{store_number + 1}号店"
            reporter_id = len(rows[Reporter]) + 1
            rows[Reporter].append(
                {
                    "id": reporter_id,
                    "customer_id": customer_id,
                    "name": _person_name(rng),
                    "phone": _mobile(rng),
                    "email": f"store{reporter_id}@kh{customer_id:06d}.com.cn"
                    if rng.random() < 0.6
                    else None,
                    "store": store,
                    "address": _address(rng, store_city),
                    **audit,
                }
            )
            reporters.append((reporter_id, store_city, store))
        plan.reporters_of.append(reporters)
    plan.rows = rows


def _plan_payments(rows, contract: dict, today: date, rng: random.Random) -> None:
    """1–4 instalments adding up to the contract's amount, and what came in on them:
    mostly on time, some late, some partial, a few not at all (overdue)."""
    amount = contract["amount"]
    count = rng.choices((1, 2, 3, 4), (30, 35, 25, 10))[0]
    weights = [rng.randint(2, 6) for _ in range(count)]
    parts = [(amount * weight / sum(weights)).quantize(Decimal("0.01")) for weight in weights]
    parts[-1] = amount - sum(parts[:-1])
    due = contract["payment_date"]
    outcomes, outcome_weights = zip(*PAYMENT_OUTCOMES, strict=True)
    methods, method_weights = zip(*METHOD_WEIGHTS, strict=True)
    for number, part in enumerate(parts, 1):
        if part <= 0:
            continue
        plan_id = len(rows[PaymentPlan]) + 1
        rows[PaymentPlan].append(
            {
                "id": plan_id,
                "contract_id": contract["id"],
                "customer_id": contract["customer_id"],
                "instalment": number,
                "planned_date": due,
                "planned_amount": part,
                **_audit(datetime.combine(contract["sign_date"], time(10))),
            }
        )
        outcome = rng.choices(outcomes, outcome_weights)[0]
        paid, paid_on = part, due - timedelta(days=rng.randint(0, 7))
        if outcome == "late":
            paid_on = due + timedelta(days=rng.randint(5, 120))
        elif outcome == "partial":
            paid = (part * Decimal(rng.randint(30, 90)) / 100).quantize(Decimal("0.01"))
        paid_on = max(paid_on, contract["sign_date"])
        if outcome != "unpaid" and paid > 0 and paid_on <= today:
            payment_id = len(rows[Payment]) + 1
            rows[Payment].append(
                {
                    "id": payment_id,
                    "contract_id": contract["id"],
                    "customer_id": contract["customer_id"],
                    "plan_id": plan_id,
                    "paid_on": paid_on,
                    "amount": paid,
                    "method": rng.choices(methods, method_weights)[0],
                    "invoice_number": f"FP{paid_on.year}{payment_id:07d}",
                    "recorded_by_id": None,
                    **_audit(datetime.combine(paid_on, time(15))),
                }
            )
        due += timedelta(days=rng.choice((90, 120, 180, 365)))


def _license(rng, license_id, customer_id, product_id, today, trial) -> dict:
    """Trials last the default trial; others run a year or more: some expired, some soon."""
    warning_days = current_app.config.get("LICENSE_EXPIRY_WARNING_DAYS", 30)
    roll = rng.random()
    if trial or roll < 0.08:
        valid_from = today - timedelta(days=rng.randint(0, 60))
        valid_to = default_trial_end(valid_from)
        trial = True
    else:
        if roll < 0.25:  # expired
            valid_to = today - timedelta(days=rng.randint(1, 400))
        elif roll < 0.37:  # expiring within the warning period
            valid_to = today + timedelta(days=rng.randint(0, warning_days))
        else:
            valid_to = today + timedelta(days=rng.randint(warning_days + 1, 900))
        valid_from = valid_to - timedelta(days=365 * rng.randint(1, 3))
    return {
        "id": license_id,
        "customer_id": customer_id,
        "product_id": product_id,
        "serial": f"LIC-{license_id:07d}-{rng.getrandbits(16):04X}",
        "seats": rng.choice((1, 2, 5, 10, 20, 50, 100)),
        "valid_from": valid_from,
        "valid_to": valid_to,
        "machine_info": (
            f"CPU: {rng.choice(words.CPU_MODELS)}; "
            f"MAC: {':'.join(f'{rng.getrandbits(8):02X}' for _n in range(6))}"
        ),
        "is_trial": trial,
        **_audit(datetime.combine(valid_from, time(9))),
    }


# --- feedback -----------------------------------------------------------------


def _feedback_batches(plan: DemoPlan, rng: random.Random) -> Iterator[list[dict]]:
    """Feedback over the last three years, denser lately, in ``BATCH_SIZE`` lists.

    Rows come out roughly in time order, as a real desk's ids do, which also keeps
    the created_at indexes appending.
    """
    total = plan.feedback
    if not total or not plan.customer_weights:
        return
    now = plan.now
    start = now - timedelta(days=HISTORY_DAYS)
    closed_before = now - timedelta(days=7)
    engineers = plan.engineer_ids
    reporters_of, products_of = plan.reporters_of, plan.products_of
    level_codes = [code for code, _share, _hours in LEVELS]
    level_cum = list(_cumulative(share for _code, share, _hours in LEVELS))
    level_mu = {code: math.log(hours) for code, _share, hours in LEVELS}
    problems, details, causes = words.PROBLEMS, words.DETAILS, words.CAUSES
    random_, choice, lognormvariate = rng.random, rng.choice, rng.lognormvariate

    customer_cum = list(_cumulative(plan.customer_weights))
    picks = rng.choices(range(len(customer_cum)), cum_weights=customer_cum, k=total)
    batch: list[dict] = []
    next_id = 1
    for number, customer in enumerate(picks):
        fraction = ((number + random_()) / total) ** 0.8
        created = start + timedelta(
            days=int(fraction * HISTORY_DAYS), seconds=int(28_800 + random_() * 50_400)
        )
        roll = random_()
        level = level_codes[min(bisect.bisect_right(level_cum, roll), len(level_codes) - 1)]
        resolved = created + timedelta(hours=lognormvariate(level_mu[level], 0.9))
        if resolved >= now or random_() < 0.005:  # still open (a small backlog is normal)
            resolved = None
            age_hours = (now - created).total_seconds() / 3600
            status = "new" if age_hours < 4 or random_() < 0.3 else "in_progress"
        elif resolved < closed_before and random_() < 0.85:
            status = "closed"
        else:
            status = "resolved"
        reporter_id, city, store = choice(reporters_of[customer])
        products = products_of[customer]
        engineer = None
        if engineers and (status != "new" or random_() < 0.2):
            engineer = choice(engineers)
        batch.append(
            {
                "id": next_id,
                "customer_id": customer + 1,
                "reporter_id": reporter_id,
                "product_id": choice(products) if products and random_() < 0.85 else None,
                "problem": choice(problems),
                "details": choice(details) if random_() < 0.7 else None,
                "cause": choice(causes) if resolved is not None else None,
                "engineer_id": engineer,
                "created_at": created,
                "resolved_at": resolved,
                "resolution_seconds": resolution_seconds(created, resolved),
                "level": level,
                "status": status,
                "city": city,
                "store": store,
                "created_on": created,
                "changed_on": resolved or created,
                "created_by_fk": None,
                "changed_by_fk": None,
            }
        )
        next_id += 1
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


# --- helpers ------------------------------------------------------------------


def _fast_load_pragmas(conn) -> Callable[[], None]:
    """On SQLite, skip fsyncs and keep the journal in memory for this load only."""
    if conn.dialect.name != "sqlite":
        return lambda: None
    synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    conn.exec_driver_sql("PRAGMA synchronous=OFF")
    conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MB while building indexes
    if journal != "wal":
        conn.exec_driver_sql("PRAGMA journal_mode=MEMORY")
    conn.commit()

    def restore():
        conn.exec_driver_sql(f"PRAGMA synchronous={int(synchronous)}")
        conn.exec_driver_sql("PRAGMA cache_size=-2000")
        if journal != "wal":
            conn.exec_driver_sql(f"PRAGMA journal_mode={journal}")
        conn.commit()

    return restore


@contextmanager
def _indexes_built_after(conn, table):
    """Drop ``table``'s indexes for the load and build them once at the end.

    Sorting a million keys once is far cheaper than a million random B-tree
    inserts into each of a dozen indexes. Inside the load's transaction, so a
    failed load leaves the indexes as they were.
    """
    indexes = [index for index in table.indexes if not index.unique]
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)


def _reset_sequences(conn) -> None:
    """Explicit ids leave PostgreSQL's sequences behind; move them past the new rows."""
    if conn.dialect.name != "postgresql":
        return
    for model in (*PARENT_FIRST, Feedback):
        table = model.__tablename__
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        )


def _chunks(rows: list, size: int) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _cumulative(values) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _plan_followups(rows, customer: dict, contact_ids, plan: DemoPlan, created, rng) -> None:
    """A customer's follow-ups over its history, by its owner (or any salesperson), and
    its last and next follow-up times: some due today, some overdue, some ahead.

    The customer row is filled in here because bulk inserts pass no session event
    (app.services.followups keeps them in step for every other write).
    """
    methods, method_weights = zip(*words.FOLLOWUP_METHODS, strict=True)
    now = plan.now
    span = max(1, int((now - created).total_seconds() // 3600) - 24)
    hours = sorted(rng.sample(range(span), min(span, rng.randint(1, 8))))
    contact_ids = list(contact_ids)
    latest = None
    for hour in hours:
        followed = (created + timedelta(hours=hour)).replace(minute=rng.choice((0, 15, 30, 45)))
        followed = min(followed, now - timedelta(hours=1))
        if latest is not None and followed <= latest["followed_at"]:
            continue
        user_id = customer["owner_id"] or (rng.choice(plan.owner_ids) if plan.owner_ids else None)
        latest = {
            "id": len(rows[FollowUp]) + 1,
            "customer_id": customer["id"],
            "contact_id": rng.choice(contact_ids) if contact_ids and rng.random() < 0.7 else None,
            "method": rng.choices(methods, method_weights)[0],
            "content": rng.choice(words.FOLLOWUP_CONTENTS),
            "followed_at": followed,
            "next_at": followed + timedelta(days=rng.randint(3, 30)),
            "next_step": rng.choice(words.FOLLOWUP_NEXT_STEPS),
            "user_id": user_id,
            **_audit(followed),
        }
        rows[FollowUp].append(latest)
    if latest is None:
        return
    # The latest follow-up of an owned customer: due today, overdue, or ahead.
    if customer["owner_id"] is not None:
        draw = rng.random()
        if draw < 0.15:
            latest["followed_at"] = max(latest["followed_at"], now - timedelta(days=7))
            latest["next_at"] = now.replace(hour=rng.randint(9, 17), minute=0)
        elif draw < 0.35:
            followed = max(latest["followed_at"], now - timedelta(days=40))
            latest["followed_at"] = min(followed, now - timedelta(days=6))
            latest["next_at"] = latest["followed_at"] + timedelta(days=rng.randint(1, 5))
        latest["created_on"] = latest["changed_on"] = latest["followed_at"]
    mine = [row for row in rows[FollowUp][-len(hours) :] if row["customer_id"] == customer["id"]]
    last = max(mine, key=lambda row: (row["followed_at"], row["id"]))
    customer["last_followup_at"] = last["followed_at"]
    customer["next_followup_at"] = last["next_at"]


def _audit(created: datetime) -> dict:
    return {
        "created_on": created,
        "changed_on": created,
        "created_by_fk": None,
        "changed_by_fk": None,
    }


def _person_name(rng: random.Random) -> str:
    given = rng.choice(words.GIVEN_NAME_CHARS)
    if rng.random() < 0.7:
        given += rng.choice(words.GIVEN_NAME_CHARS)
    return rng.choice(words.SURNAMES) + given


def _company_name(rng, city: str, category: str, taken: set[str]) -> str:
    name = ""
    for _attempt in range(20):
        brand = "".join(rng.sample(words.BRAND_CHARS, 2))
        name = (
            f"{city}{brand}{rng.choice(words.INDUSTRY_WORDS[category])}"
            f"{rng.choice(words.COMPANY_SUFFIXES)}"
        )
        if name not in taken:
            break
    taken.add(name)
    return name


def _address(rng, city: str) -> str:
    return f"{city}市{rng.choice(words.STREETS)}{rng.randint(1, 999)}号"


def _mobile(rng) -> str:
    return f"{rng.choice(words.MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def _landline(rng, area: str) -> str:
    return f"{area}-{rng.randint(2, 9)}{rng.randrange(10**7):07d}"


def _national_id(rng, area: str, birth: date) -> str:
    first_17 = f"{area}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first_17 + national_id_check_digit(first_17)
