"""Full-text "contains" search over Chinese and Latin text, exact to ``ILIKE '%term%'``.

Chinese has no spaces between words, so the text is indexed as overlapping
character bigrams (as Lucene's CJK analyzer does): "打印小票" is 打印 印小 小票.
A term of two or more characters then needs only the rows holding all of its
bigrams, and the index answers which those are without reading the table.

- **SQLite**: one FTS5 table per indexed table, ``<table>_search``, contentless
  (only the index is stored), whose documents are the bigrams as
  space-separated tokens, ``crm_bigrams(text)`` below. The term is searched as
  a phrase of its bigrams at consecutive positions, which is exactly "the
  text contains the term", so no row is re-read.
- **PostgreSQL**: a GIN index on the expression ``crm_bigrams(column)`` (an
  SQL function of migration 0006 returning the bigrams as a ``tsvector``).
  GIN keeps no positions, so a term of three or more characters is checked
  again with the real ``ILIKE`` on the rows the index found.

Both sides fold case the way the database's own ``ILIKE`` does (SQLite's
``lower()``: ASCII only; PostgreSQL's ``lower()`` in the database's locale),
so the index never misses a row ``ILIKE`` finds. A term of one character, or
with a LIKE wildcard (``%``, ``_``, ``\\``), is left to the plain ``ILIKE``.

Keeping the index in step is the database's job, so every write path is
covered, the ORM's and the bulk ones alike (``crm demo``'s Core inserts,
bulk delete, migrations, SQL typed by hand): SQLite triggers on the indexed
tables, and on PostgreSQL an expression index, which needs no trigger at all.
``crm search reindex`` rebuilds it from the tables.
"""

from __future__ import annotations

import string
from contextlib import contextmanager
from dataclasses import dataclass

from flask_appbuilder.models.sqla.filters import FilterContains
from sqlalchemy import bindparam, column, func, literal_column, or_, select, table, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from app.services import encryption, scope
from app.services.memo import per_request

# table -> the columns whose "contains" filter uses the index (migration 0006 builds these).
INDEXED = {
    "feedback": ("problem", "details", "cause"),
    "customer": ("name",),
    "contact": ("name",),
    "reporter": ("name",),
}
SQLITE_FUNCTION = "crm_bigrams"
LIKE_SPECIALS = frozenset("%_\\")
MIN_TERM = 2

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_WORD = frozenset(string.ascii_lowercase + string.digits)


def search_table(table_name: str) -> str:
    """The SQLite FTS5 table indexing ``table_name``."""
    return f"{table_name}_search"


def pg_index(table_name: str, column_name: str) -> str:
    """The PostgreSQL GIN index on ``crm_bigrams(column)``."""
    return f"ix_{table_name}_{column_name}_bigrams"


def is_search_structure(name: str | None) -> bool:
    """An FTS5 table (or one of its shadow tables) or a bigram index: not part of the models."""
    if not name:
        return False
    return name.endswith("_bigrams") or any(
        name == search_table(t) or name.startswith(search_table(t) + "_") for t in INDEXED
    )


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: autogenerate leaves the search structures (made by 0006) alone."""
    return not is_search_structure(name)


# --- SQLite ----------------------------------------------------------------------


def _sqlite_token(first: str, second: str) -> str:
    """One bigram as one token of FTS5's ``ascii`` tokenizer.

    That tokenizer keeps ASCII letters, digits and every non-ASCII character
    inside tokens and splits on the rest; a bigram holding a space or ASCII
    punctuation is spelled as its code points (``x2cx61`` for ",a", never two
    characters long) so each bigram stays exactly one token at its position.
    """
    if _word_char(first) and _word_char(second):
        return first + second
    return f"x{ord(first):x}x{ord(second):x}"


def _word_char(char: str) -> bool:
    return char in _ASCII_WORD or not char.isascii()


def sqlite_tokens(value: str) -> list[str]:
    """The bigram tokens of ``value``, case folded as SQLite's ``lower()`` does (ASCII only)."""
    folded = value.translate(_ASCII_LOWER)
    return [_sqlite_token(a, b) for a, b in zip(folded, folded[1:], strict=False)]


def sqlite_document(value):
    """``crm_bigrams(text)`` on SQLite: what the FTS5 table indexes for ``value``."""
    if value is None:
        return None
    return " ".join(sqlite_tokens(str(value)))


def register_sqlite_functions(dbapi_connection) -> None:
    """Every SQLite connection needs ``crm_bigrams``: the search triggers call it."""
    dbapi_connection.create_function(SQLITE_FUNCTION, 1, sqlite_document, deterministic=True)


# --- the filter ------------------------------------------------------------------


def searchable(term) -> bool:
    """Can the index answer ``contains term``? Else the plain ILIKE scan does."""
    return isinstance(term, str) and len(term) >= MIN_TERM and not (LIKE_SPECIALS & set(term))


def contains_condition(model, column_name: str, term):
    """The WHERE clause for "``column_name`` contains ``term``" through the index, or None.

    None when the column is not indexed or the term is not ``searchable``; the
    caller then applies the plain ``ILIKE``.
    """
    table_name = model.__table__.name
    if column_name not in INDEXED.get(table_name, ()) or not searchable(term):
        return None
    return _IndexedContains(model, getattr(model, column_name), table_name, column_name, term)


class _IndexedContains:
    """The index condition, spelled for the database the query goes to."""

    def __init__(self, model, column_, table_name, column_name, term):
        self.model, self.column, self.table_name = model, column_, table_name
        self.column_name, self.term = column_name, term

    def for_dialect(self, dialect_name: str, session=None):
        """The condition; ``session`` lets it look at how common the term is, which only
        chooses the plan of a sorted page (both plans find the same rows)."""
        key = self.model.__mapper__.primary_key[0]
        if dialect_name == "sqlite":
            name = search_table(self.table_name)
            phrase = f'{self.column_name} : "{" ".join(sqlite_tokens(self.term))}"'
            index = table(name, column("rowid"))
            match = literal_column(name).op("MATCH")(bindparam("search", phrase, unique=True))
            matches = select(index.c.rowid).where(match)
            common = _is_common(session, matches, self._key(dialect_name))
            return _SqliteMatch(key, matches.scalar_subquery(), common)
        hits = self.model.__table__.alias("search_hits")
        ids = select(hits.c[key.name]).where(self._pg_condition(hits.c[self.column_name]))
        common = _is_common(session, ids, self._key(dialect_name))
        scan = self.column.ilike(f"%{self.term}%") if common else None
        return _PostgresMatch(key, self._pg_condition(self.column), ids.scalar_subquery(), scan)

    def _key(self, dialect_name: str) -> tuple:
        return (dialect_name, self.table_name, self.column_name, self.term, COMMON_MATCHES)

    def _pg_condition(self, column_):
        condition = func.crm_bigrams(column_).op("@@")(
            func.crm_bigram_query(bindparam("search", self.term, unique=True))
        )
        if len(self.term) > MIN_TERM:  # GIN has no positions: all bigrams ≠ the term
            condition = condition & column_.ilike(f"%{self.term}%")
        return condition


# A term in more rows than this is "common": a page of 25 newest of its rows is found
# faster by walking the sort column's index than by sorting all of them (≈ √(25 N) at 1 M rows).
COMMON_MATCHES = 5000


def _is_common(session, matches, key) -> bool:
    """Does ``matches`` (a SELECT of the matching keys) find ``COMMON_MATCHES`` rows?
    Stops counting there, and asks once per request (a list page's count and its rows
    both search); False without a session to ask."""
    if session is None:
        return False
    probe = select(func.count()).select_from(matches.limit(COMMON_MATCHES).subquery())
    return per_request("crm_common_terms", key, lambda: session.scalar(probe) >= COMMON_MATCHES)


class _SqliteMatch(ColumnElement):
    """``key IN (rowids the FTS5 table matches)``, in the form SQLite plans well.

    A count, or a page of a rare term, wants the matches looked up by key. A
    page of a common term (sorted, limited) wants SQLite to walk the sort
    column's index instead and test each row against the matches: written
    ``+key IN (…)``, the unary plus stops SQLite from choosing the key lookup.
    """

    type = NullType()  # a condition as it stands: no "= 1" appended on SQLite
    inherit_cache = True
    _traverse_internals = [
        ("key", InternalTraversal.dp_clauseelement),
        ("matches", InternalTraversal.dp_clauseelement),
        ("common", InternalTraversal.dp_boolean),
    ]

    def __init__(self, key, matches, common: bool):
        self.key, self.matches, self.common = key, matches, common


def count_alone(session, whereclause) -> int | None:
    """The count of a query whose only condition is one "contains" on SQLite, or None.

    Every row has exactly one document in its FTS5 table (the triggers keep it
    so), so the index's own count of the matches is the rows' count: 18 ms for
    a term in 150 000 of 1 M feedback, where looking each match up in the table
    takes 180 ms. Any other condition (a second filter, the data scope) needs
    the rows, and PostgreSQL's count reads only the GIN index and the rows it
    names already.
    """
    if not isinstance(whereclause, _SqliteMatch):
        return None
    return session.scalar(select(func.count()).select_from(whereclause.matches.element.subquery()))


class _PostgresMatch(ColumnElement):
    """The bigram condition; for a sorted page ``key = ANY(ARRAY(matching keys))``,
    or for a sorted page of a common term the plain ``ILIKE`` (``scan``).

    PostgreSQL's estimate for a lexeme it has no statistics on is 0.5 % of the
    rows, so for a sorted page it walks the sort column's index and computes
    ``crm_bigrams`` (about 0.1 ms) for each row until it has a page: a million
    rows when the term is rare. The ARRAY sub-select is planned on its own (the
    GIN index) and run once. But a common term's ARRAY holds its every row (0.8 s
    for 150 000 of 1 M); its ``ILIKE`` alone, which PostgreSQL estimates well,
    walks the sort column's index and stops at the page (1 ms). A count keeps
    the bigram condition.
    """

    type = NullType()
    inherit_cache = True
    _traverse_internals = [
        ("key", InternalTraversal.dp_clauseelement),
        ("condition", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
        ("scan", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, key, condition, ids, scan=None):
        self.key, self.condition, self.ids, self.scan = key, condition, ids, scan


@compiles(_PostgresMatch)
def _compile_postgres_match(element, compiler, **kw):
    if getattr(compiler.statement, "_order_by_clauses", ()):
        if element.scan is not None:
            return f"({compiler.process(element.scan, **kw)})"
        key = compiler.process(element.key, **kw)
        return f"{key} = ANY(ARRAY{compiler.process(element.ids, **kw)})"
    return f"({compiler.process(element.condition, **kw)})"


@compiles(_SqliteMatch)
def _compile_sqlite_match(element, compiler, **kw):
    sorted_page = getattr(compiler.statement, "_order_by_clauses", ())
    key = compiler.process(element.key, **kw)
    matches = compiler.process(element.matches, **kw)
    plus = "+" if element.common and sorted_page else ""
    return f"{plus}{key} IN {matches}"


class IndexedContains(FilterContains):
    """FAB's "contains" filter, answered by the search index where the column has one."""

    def apply(self, query, value):
        condition = contains_condition(self.model, self.column_name, value)
        if condition is None:
            return super().apply(query, value)
        dialect = query.session.get_bind(mapper=self.model.__mapper__).dialect.name
        return query.filter(condition.for_dialect(dialect, query.session))


def indexed_filters(filters: list) -> list:
    """A filter list with each plain "contains" on an indexed column answered by the index.

    Called by ``QueryGuards.apply_filters`` (app/services/querying.py), so the
    pages, exports and the REST API all search the same way, whatever filter
    converter their interface has.
    """
    return [
        IndexedContains(flt.column_name, flt.datamodel)
        if type(flt) is FilterContains
        and flt.column_name in INDEXED.get(flt.model.__table__.name, ())
        else flt
        for flt in filters
    ]


# --- rebuilding ------------------------------------------------------------------


@contextmanager
def built_after(connection, table_name: str):
    """For a bulk load: PostgreSQL's bigram indexes of ``table_name`` dropped, then built once.

    One index build is far cheaper than a GIN insert per row. Inside the
    load's transaction, so a failed load leaves the indexes as they were.
    SQLite's triggers stay: FTS5 buffers a transaction's tokens anyway.
    """
    columns = INDEXED.get(table_name, ()) if connection.dialect.name == "postgresql" else ()
    for column_name in columns:
        connection.execute(text(f"DROP INDEX {pg_index(table_name, column_name)}"))
    yield
    for column_name in columns:
        connection.execute(
            text(
                f"CREATE INDEX {pg_index(table_name, column_name)} ON {table_name} "
                f"USING gin (crm_bigrams({column_name}))"
            )
        )


def reindex(connection) -> dict[str, int]:
    """Rebuild every search index from its table; the number of rows indexed per table."""
    counts = {}
    sqlite = connection.dialect.name == "sqlite"
    for table_name, columns in INDEXED.items():
        if sqlite:
            name = search_table(table_name)
            calls = ", ".join(f"{SQLITE_FUNCTION}({c})" for c in columns)
            connection.execute(text(f"INSERT INTO {name}({name}) VALUES ('delete-all')"))
            connection.execute(
                text(
                    f"INSERT INTO {name}(rowid, {', '.join(columns)}) "
                    f"SELECT id, {calls} FROM {table_name}"
                )
            )
            connection.execute(text(f"INSERT INTO {name}({name}) VALUES ('optimize')"))
        else:
            for column_name in columns:
                connection.execute(text(f"REINDEX INDEX {pg_index(table_name, column_name)}"))
        counts[table_name] = connection.scalar(text(f"SELECT count(*) FROM {table_name}"))
    return counts


# --- the global search (the top bar's box, /search/) -----------------------------

GROUP_LIMIT = 10


def _contains(session, model, column_name: str, term: str, dialect_name: str):
    condition = contains_condition(model, column_name, term)
    if condition is not None:
        return condition.for_dialect(dialect_name, session)
    return getattr(model, column_name).ilike(f"%{term}%")


@dataclass(frozen=True)
class SearchGroup:
    """One group of the global search's results: a module, who may read it, what it matches."""

    key: str
    resource: str
    model_name: str
    endpoint: str  # the show page's endpoint
    text_columns: tuple[str, ...]  # "contains"
    prefix_columns: tuple[str, ...] = ()  # "starts with": codes and numbers
    by_id: bool = False  # a number (or #number) also finds the record with that id
    hashed_columns: tuple[str, ...] = ()  # encrypted: "is exactly", through the keyed hash
    newest_first: str = "id"

    def statement(self, session, term: str, dialect_name: str):
        from app import models

        model = getattr(models, self.model_name)
        conditions = [
            _contains(session, model, name, term, dialect_name) for name in self.text_columns
        ]
        conditions += [getattr(model, name).ilike(f"{term}%") for name in self.prefix_columns]
        hashed = encryption.digest(term) if self.hashed_columns else None
        if hashed is not None:
            conditions += [getattr(model, f"{name}_hash") == hashed for name in self.hashed_columns]
        number = term.lstrip("#")
        if self.by_id and number.isdigit() and len(number) <= 9:
            conditions.append(model.id == int(number))
        query = select(model).where(or_(*conditions))
        order = getattr(model, self.newest_first)
        return scope.restrict(query, model).order_by(order.desc()).limit(GROUP_LIMIT)


GROUPS = (
    SearchGroup(
        "customers", "Customer", "Customer", "CustomerView.show", ("name", "phone"), ("code",)
    ),
    SearchGroup(
        "contacts",
        "Contact",
        "Contact",
        "ContactView.show",
        ("name", "phone"),
        hashed_columns=("national_id",),
    ),
    SearchGroup("contracts", "Contract", "Contract", "ContractView.show", ("number",)),
    SearchGroup("licenses", "License", "License", "LicenseView.show", ("serial",)),
    SearchGroup(
        "feedback",
        "Feedback",
        "Feedback",
        "FeedbackView.show",
        ("problem",),
        by_id=True,
        newest_first="created_at",
    ),
    SearchGroup("reporters", "Reporter", "Reporter", "ReporterView.show", ("name", "phone")),
)
MAX_QUERY = 100


def global_search(session, term: str, may_read) -> list[tuple[SearchGroup, list]]:
    """Up to ``GROUP_LIMIT`` records per module ``may_read(resource)`` allows, newest first.

    Modules with no match are left out; so is every module the reader may not
    read, without a query.
    """
    term = (term or "").replace("\x00", "").strip()[:MAX_QUERY]
    if not term:
        return []
    dialect_name = session.get_bind().dialect.name
    results = []
    for group in GROUPS:
        if not may_read(group.resource):
            continue
        rows = session.scalars(group.statement(session, term, dialect_name)).unique().all()
        if rows:
            results.append((group, rows))
    return results
