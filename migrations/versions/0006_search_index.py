"""Search index: character bigrams of the text lists search with "contains".

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:40:00

How the index answers and why it is kept by the database: app/services/search.py.
SQLite: a contentless FTS5 table per indexed table, filled here from the rows
already stored and kept in step by triggers that call ``crm_bigrams`` (a
function every connection of the app registers; registered here too). The
triggers' ``'delete'`` must repeat exactly the tokens inserted, which the
deterministic function guarantees. PostgreSQL: two SQL functions and a GIN
expression index per column; building them reads every row once (minutes at
a million feedback rows) and locks the table for writes meanwhile.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copy of app.services.search.INDEXED at this revision.
INDEXED = {
    "feedback": ("problem", "details", "cause"),
    "customer": ("name",),
    "contact": ("name",),
    "reporter": ("name",),
}

PG_FUNCTIONS = r"""
CREATE FUNCTION crm_bigram_list(value text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT pair FROM (
    SELECT c || lead(c) OVER (ORDER BY i) AS pair
    FROM unnest(string_to_array(lower(value), NULL)) WITH ORDINALITY AS chars(c, i)
  ) AS pairs
  WHERE pair IS NOT NULL
$$;
COMMENT ON FUNCTION crm_bigram_list(text) IS
  'The overlapping two-character strings of lower(value), in linear time (substr() is not).';
CREATE FUNCTION crm_bigrams(value text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_to_tsvector(array_agg(DISTINCT pair)), ''::tsvector)
  FROM crm_bigram_list(value) AS pair
$$;
COMMENT ON FUNCTION crm_bigrams(text) IS
  'The bigrams of lower(value) as lexemes: what the search indexes hold.';
CREATE FUNCTION crm_bigram_query(term text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT string_agg(DISTINCT
           '''' || replace(replace(pair, '\', '\\'), '''', '''''') || '''', ' & ')::tsquery
  FROM crm_bigram_list(term) AS pair
$$;
COMMENT ON FUNCTION crm_bigram_query(text) IS
  'Every bigram of lower(term), all required: the candidates for ILIKE ''%term%''.';
"""


def _register_sqlite_function(bind) -> None:
    from app.services.search import register_sqlite_functions

    register_sqlite_functions(bind.connection.driver_connection)


def _sqlite_upgrade(bind) -> None:
    _register_sqlite_function(bind)
    for table, columns in INDEXED.items():
        name = f"{table}_search"
        cols = ", ".join(columns)
        new = ", ".join(f"crm_bigrams(new.{c})" for c in columns)
        old = ", ".join(f"crm_bigrams(old.{c})" for c in columns)
        insert_new = f"INSERT INTO {name}(rowid, {cols}) VALUES (new.id, {new});"
        delete_old = f"INSERT INTO {name}({name}, rowid, {cols}) VALUES ('delete', old.id, {old});"
        op.execute(f"CREATE VIRTUAL TABLE {name} USING fts5({cols}, content='', tokenize='ascii')")
        op.execute(f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN {insert_new} END")
        op.execute(f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN {delete_old} END")
        op.execute(
            f"CREATE TRIGGER {name}_update AFTER UPDATE OF id, {cols} ON {table} "
            f"BEGIN {delete_old} {insert_new} END"
        )
        calls = ", ".join(f"crm_bigrams({c})" for c in columns)
        op.execute(f"INSERT INTO {name}(rowid, {cols}) SELECT id, {calls} FROM {table}")


def _sqlite_downgrade() -> None:
    for table in INDEXED:
        name = f"{table}_search"
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {name}")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_upgrade(bind)
        return
    # The outer functions name the inner one with its schema: pg_restore (and any
    # session with an empty search_path) inlines them while building the indexes.
    schema = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    op.execute(PG_FUNCTIONS.replace("FROM crm_bigram_list(", f"FROM {schema}.crm_bigram_list("))
    for table, columns in INDEXED.items():
        for column in columns:
            op.execute(
                f"CREATE INDEX ix_{table}_{column}_bigrams ON {table} "
                f"USING gin (crm_bigrams({column}))"
            )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
        return
    for table, columns in INDEXED.items():
        for column in columns:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_bigrams")
    op.execute("DROP FUNCTION IF EXISTS crm_bigram_query(text)")
    op.execute("DROP FUNCTION IF EXISTS crm_bigrams(text)")
    op.execute("DROP FUNCTION IF EXISTS crm_bigram_list(text)")
