"""SQL the two databases spell differently, kept here and nowhere else.

Each construct compiles to PostgreSQL's SQL by default and to SQLite's where
they differ; ``SqliteMedian`` is the aggregate SQLite lacks, registered on
every SQLite connection by ``app.init_database``. Only SQLAlchemy is imported
here, so the app factory can load it before anything else is set up.
"""

from __future__ import annotations

from array import array

from sqlalchemy import BigInteger, Date, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class seconds_between(FunctionElement):
    """Whole seconds from ``start`` to ``end`` (NULL if either is NULL).

    Both dialects drop fractional seconds first, so they agree to the second
    (and with ``app.models.feedback.resolution_seconds``). SQLite's date
    functions round to milliseconds, so its fraction is cut off the text
    first: ``strftime`` alone turns 09:00:00.9995 into 09:00:01.
    """

    type = BigInteger()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_postgresql(element, compiler, **kw):
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"CAST(EXTRACT(EPOCH FROM date_trunc('second', {end}))"
        f" - EXTRACT(EPOCH FROM date_trunc('second', {start})) AS BIGINT)"
    )


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"(CAST(strftime('%s', substr({end}, 1, 19)) AS INTEGER)"
        f" - CAST(strftime('%s', substr({start}, 1, 19)) AS INTEGER))"
    )


class year_month(FunctionElement):
    """``'YYYY-MM'`` of a timestamp."""

    type = String()
    name = "year_month"
    inherit_cache = True


@compiles(year_month)
def _year_month_postgresql(element, compiler, **kw):
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"to_char({value}, 'YYYY-MM')"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element, compiler, **kw):
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"strftime('%Y-%m', {value})"


class stored_date(FunctionElement):
    """A date column, for comparing with a date parameter.

    SQLite keeps dates as text in a column of NUMERIC affinity, so comparing one
    with a date parameter first tries to turn the parameter into a number, on
    every row (8 % of the receivables report's big statement). Written
    ``+column`` the column has no affinity and the text compares as text: the
    same answer, without the attempt. PostgreSQL gets the column as it is.
    """

    type = Date()
    name = "stored_date"
    inherit_cache = True


@compiles(stored_date)
def _stored_date_postgresql(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(stored_date, "sqlite")
def _stored_date_sqlite(element, compiler, **kw):
    return f"+{compiler.process(element.clauses, **kw)}"


class median(FunctionElement):
    """The median of a group's non-NULL values, an aggregate like ``avg``.

    PostgreSQL's ordered-set aggregate; SQLite has none, so ``crm_median``
    (``SqliteMedian``, registered on each connection) does the same inside
    SQLite's GROUP BY. Both average the middle two of an even count.
    """

    type = Float()
    name = "median"
    inherit_cache = True


@compiles(median)
def _median_postgresql(element, compiler, **kw):
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {value})"


@compiles(median, "sqlite")
def _median_sqlite(element, compiler, **kw):
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{SqliteMedian.name}({value})"


class sorted_values(FunctionElement):
    """A group's non-NULL values, an aggregate; ``as_sorted_list`` turns its result into a list.

    PostgreSQL sorts them into an array (NULL for none); SQLite's
    ``group_concat`` lists them in no promised order, so Python sorts those.
    """

    name = "sorted_values"
    inherit_cache = True


@compiles(sorted_values)
def _sorted_values_postgresql(element, compiler, **kw):
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"array_agg({value} ORDER BY {value}) FILTER (WHERE {value} IS NOT NULL)"


@compiles(sorted_values, "sqlite")
def _sorted_values_sqlite(element, compiler, **kw):
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"group_concat({value})"


def as_sorted_list(result) -> list[int]:
    """``sorted_values``' result on either database as a sorted list of integers."""
    if result is None:
        return []
    if isinstance(result, str):
        return sorted(map(int, result.split(",")))
    return list(result)


class SqliteMedian:
    """SQLite aggregate ``crm_median(x)``: keeps a group's values (8 bytes each), then the middle."""

    name = "crm_median"

    def __init__(self):
        self.values = array("d")

    def step(self, value):
        if value is not None:
            self.values.append(value)

    def finalize(self):
        values = sorted(self.values)
        if not values:
            return None
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    @classmethod
    def register(cls, dbapi_connection) -> None:
        dbapi_connection.create_aggregate(cls.name, 1, cls)
