"""The "contains" filters answered by the bigram search index: exactly ILIKE's rows, kept in step.

The property test compares the index with ``ILIKE '%term%'`` on random Chinese,
Latin and mixed text on the suite's database (SQLite, or PostgreSQL in CI).
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, func, insert, inspect, select, text, update

from app.extensions import db
from app.models import CrmUser, Customer, Feedback, Reporter
from app.services import search
from tests import test_migrations
from tests.factories import make_customer, make_feedback, make_reporter

scratch_url = test_migrations.scratch_url  # fixtures: a scratch database of the suite's kind
scratch_app = test_migrations.scratch_app

# Few distinct characters, so random substrings and random terms often match.
CHINESE = "打印小票收银机会员积分无法同步网络"
LATIN = "aAbBxXé É"
OTHER = "0 1,.-'\"\\%_·Σσς"
ALPHABET = CHINESE + LATIN + OTHER


def _ids_matching(condition) -> set[int]:
    return set(db.session.scalars(select(Feedback.id).where(condition)))


def _indexed(column_name: str, term: str):
    condition = search.contains_condition(Feedback, column_name, term)
    assert condition is not None, term
    return condition.for_dialect(db.engine.dialect.name, db.session)


texts = st.text(alphabet=ALPHABET, min_size=0, max_size=12)


@st.composite
def rows_and_term(draw):
    rows = draw(st.lists(st.tuples(texts, st.none() | texts), min_size=1, max_size=8))
    source = draw(st.sampled_from([problem for problem, _ in rows]))
    if len(source) >= 2 and draw(st.booleans()):
        start = draw(st.integers(0, len(source) - 2))
        end = draw(st.integers(start + 2, len(source)))
        term = source[start:end]
        if draw(st.booleans()):
            term = term.swapcase()  # Latin case must not matter
    else:
        term = draw(st.text(alphabet=ALPHABET, min_size=2, max_size=5))
    return rows, term


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=rows_and_term())
def test_the_index_finds_exactly_what_ilike_finds(db_session, case):
    rows, term = case
    reporter = db_session.scalar(select(Reporter)) or make_reporter()
    db_session.execute(delete(Feedback))
    db_session.execute(
        insert(Feedback),
        [
            {
                "customer_id": reporter.customer_id,
                "reporter_id": reporter.id,
                "problem": problem,
                "details": details,
                "created_at": datetime(2026, 1, 1),
                "created_on": datetime(2026, 1, 1),
                "changed_on": datetime(2026, 1, 1),
            }
            for problem, details in rows
        ],
    )
    db_session.commit()
    for column_name in ("problem", "details"):
        column = getattr(Feedback, column_name)
        expected = _ids_matching(column.ilike(f"%{term}%"))
        if search.searchable(term):
            assert _ids_matching(_indexed(column_name, term)) == expected, (term, rows)
            for common in (search.COMMON_MATCHES, 1):  # a page of a rare, then a common term
                saved, search.COMMON_MATCHES = search.COMMON_MATCHES, common
                try:
                    page = select(Feedback.id).where(_indexed(column_name, term))
                finally:
                    search.COMMON_MATCHES = saved
                page = page.order_by(Feedback.created_at.desc()).limit(50)
                assert set(db_session.scalars(page)) == expected, (term, rows, common)
        else:  # wildcards: the plain filter
            assert search.contains_condition(Feedback, column_name, term) is None


def test_tokens_are_bigrams_one_per_position():
    assert search.sqlite_tokens("打印Ab") == ["打印", "印a", "ab"]
    assert search.sqlite_tokens("a,b") == ["x61x2c", "x2cx62"]
    assert search.sqlite_document("打") == ""
    assert search.sqlite_document(None) is None


@pytest.mark.parametrize("term", ["", "打", "5%", "a_b", "a\\b"])
def test_short_terms_and_wildcards_are_left_to_the_scan(term):
    assert search.contains_condition(Feedback, "problem", term) is None


def test_unindexed_columns_are_left_to_the_scan():
    assert search.contains_condition(Feedback, "store", "万达") is None


def _statements(app):
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    return seen, record


@pytest.fixture
def sql_log(app):
    with app.app_context():
        engine = db.engine
    seen, record = _statements(app)
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _uses_index(statements) -> bool:
    return any("_search MATCH" in s or "crm_bigram_query" in s for s in statements)


def test_the_feedback_list_search_uses_the_index_and_counts_exactly(admin, db_session, sql_log):
    for problem in ("收银机无法打印小票", "价签打印错位", "会员积分未同步", "POS打印机"):
        make_feedback(problem=problem)
    response = admin.get("/feedback/list/?_flt_2_problem=打印")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "收银机无法打印小票" in page and "价签打印错位" in page and "会员积分未同步" not in page
    assert _uses_index(sql_log)
    count = db_session.scalar(
        select(func.count()).select_from(Feedback).where(Feedback.problem.ilike("%打印%"))
    )
    assert count == 3
    assert re.search(r"记录数目:</strong>\s*3\b", page)


def _counted_in_the_index_alone(statements) -> bool:
    """Did the list's count read the search index without looking the matches up?"""
    (count,) = [
        s for s in statements if s.startswith("SELECT count(*) AS count_1") and "LIMIT" not in s
    ]  # the other counts are how-common probes, which stop at a limit
    return "_search MATCH" in count and not re.search(r"FROM customer\b", count)


def test_a_lone_contains_is_counted_in_the_index_and_the_scope_still_counts(
    app, db_session, jwt_headers, sql_log
):
    sales_id = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "sales"))
    make_customer(name="华联超市徐汇店", owner_id=sales_id)
    make_customer(name="华联超市浦东店", owner_id=None)  # in the pool: not the salesperson's
    make_customer(name="北京美佳便利店", owner_id=sales_id)
    client = app.test_client()

    def count(username: str) -> int:
        sql_log.clear()
        response = client.get(
            "/api/v1/customers/?q=(filters:!((col:name,opr:ct,value:华联超市)))",
            headers=jwt_headers(username),
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert _uses_index(sql_log)
        return response.get_json()["count"]

    assert count("admin") == 2
    # SQLite: the admin's lone filter is counted by the FTS5 table itself.
    assert _counted_in_the_index_alone(sql_log) == (db.engine.dialect.name == "sqlite")
    assert count("sales") == 1  # the data scope is a second condition: the rows are read
    assert not _counted_in_the_index_alone(sql_log)


def test_a_common_terms_page_walks_the_sort_order(admin, db_session, sql_log, monkeypatch):
    """A term in many rows: its page reads the newest rows and keeps those that match,
    instead of collecting every match first (SQLite: ``+id IN``; PostgreSQL: ILIKE)."""
    monkeypatch.setattr(search, "COMMON_MATCHES", 2)
    for problem in ("打印机无响应", "小票打印模糊", "会员积分未同步"):
        make_feedback(problem=problem)
    page = admin.get("/feedback/list/?_flt_2_problem=打印").get_data(as_text=True)
    assert "打印机无响应" in page and "小票打印模糊" in page and "会员积分未同步" not in page
    (rows,) = [s for s in sql_log if "ORDER BY feedback.created_at DESC" in s]
    if db.engine.dialect.name == "sqlite":
        assert "+feedback.id IN" in rows
    else:
        assert "ILIKE" in rows and "ANY(ARRAY" not in rows
    monkeypatch.setattr(search, "COMMON_MATCHES", 1000)  # now rare: the matches first
    sql_log.clear()
    admin.get("/feedback/list/?_flt_2_problem=打印")
    (rows,) = [s for s in sql_log if "ORDER BY feedback.created_at DESC" in s]
    assert "+feedback.id IN" not in rows and "ILIKE" not in rows


def test_latin_terms_ignore_case_on_the_list(admin, db_session):
    make_feedback(problem="POS机开机后无法登录")
    make_feedback(problem="扫码枪识别失败")
    page = admin.get("/feedback/list/?_flt_2_problem=pos机").get_data(as_text=True)
    assert "POS机开机后无法登录" in page and "扫码枪识别失败" not in page


def test_a_one_character_term_still_finds_by_scanning(admin, db_session, sql_log):
    make_feedback(problem="发票开具失败")
    page = admin.get("/feedback/list/?_flt_2_problem=票").get_data(as_text=True)
    assert "发票开具失败" in page
    assert not _uses_index(sql_log)


def test_customer_names_through_the_api(app, db_session, jwt_headers, sql_log):
    make_customer(name="上海华联超市有限公司")
    make_customer(name="北京美佳便利店")
    client = app.test_client()
    response = client.get(
        "/api/v1/customers/?q=(filters:!((col:name,opr:ct,value:华联超市)))",
        headers=jwt_headers("admin"),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["count"] == 1
    assert [row["name"] for row in body["result"]] == ["上海华联超市有限公司"]
    assert _uses_index(sql_log)


def test_orm_core_and_bulk_writes_keep_the_index_in_step(db_session):
    def found(term):
        return _ids_matching(_indexed("problem", term))

    item = make_feedback(problem="退货单无法审核")
    assert found("退货单") == {item.id}
    item.problem = "采购订单无法提交"
    db_session.commit()
    assert found("退货单") == set() and found("采购订单") == {item.id}
    db_session.execute(
        update(Feedback).where(Feedback.id == item.id).values(problem="盘点单导入报错")
    )
    db_session.commit()
    assert found("采购订单") == set() and found("导入报错") == {item.id}
    db_session.execute(delete(Feedback).where(Feedback.id == item.id))
    db_session.commit()
    assert found("导入报错") == set()


def test_a_bulk_delete_from_the_list_leaves_nothing_to_find(admin, db_session):
    items = [make_feedback(problem=f"厨房打印机漏单{n}") for n in range(3)]
    response = admin.post(
        "/feedback/action_post",
        {"action": "muldelete", "rowid": [str(item.id) for item in items]},
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert _ids_matching(_indexed("problem", "厨房打印")) == set()


def test_demo_data_is_searchable(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["crm", "demo", "--customers", "3", "--feedback", "200", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    for term in ("打印", "无法打印小票", "pos", "驱动"):
        for column_name in ("problem", "cause"):
            column = getattr(Feedback, column_name)
            assert _ids_matching(_indexed(column_name, term)) == _ids_matching(
                column.ilike(f"%{term}%")
            )
    assert _ids_matching(_indexed("problem", "打印"))


def test_reindex_rebuilds_a_lost_index(app, db_session):
    item = make_feedback(problem="会员卡无法充值")
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            lose = "INSERT INTO feedback_search(feedback_search) VALUES ('delete-all')"
        else:
            lose = "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %r::regclass"
            lose %= search.pg_index("feedback", "problem")
        connection.execute(text(lose))
    if db.engine.dialect.name == "sqlite":
        assert _ids_matching(_indexed("problem", "会员卡")) == set()
    result = app.test_cli_runner().invoke(args=["crm", "search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "feedback" in result.output
    db_session.expire_all()
    assert _ids_matching(_indexed("problem", "会员卡")) == {item.id}


def test_the_migration_indexes_the_rows_already_stored_and_downgrades(scratch_app):
    test_migrations._cli(scratch_app, "db", "upgrade", "0003")
    with scratch_app.app_context():
        db.session.execute(
            text(
                "INSERT INTO customer (code, name, status, created_on, changed_on, row_version) "
                "VALUES ('C-OLD', '上海华联超市', 'signed', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, 1)"
            )
        )
        db.session.commit()
    test_migrations._cli(scratch_app, "db", "upgrade")
    with scratch_app.app_context():
        condition = search.contains_condition(Customer, "name", "华联超")
        found = db.session.scalars(
            select(Customer.code).where(condition.for_dialect(db.engine.dialect.name))
        ).all()
        db.session.remove()
    assert found == ["C-OLD"]
    test_migrations._cli(scratch_app, "db", "downgrade", "0003")
    with scratch_app.app_context():
        names = set(inspect(db.engine).get_table_names())
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("customer")}
        db.session.remove()
    assert not any(search.is_search_structure(name) for name in names | indexes)
    test_migrations._cli(scratch_app, "db", "upgrade")


def test_a_long_term_is_cheap_to_search(db_session):
    """The bigrams are made in linear time: a 15 000-character term or text is no attack."""
    long_text = "打印机x'\"" * 3000
    item = make_feedback(problem="收银机", details=long_text)
    condition = _indexed("details", long_text)
    assert _ids_matching(condition) == {item.id}
