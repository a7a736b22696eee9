"""List indexes: every column a module list sorts by or filters on exactly.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:43:16.217290

Long free text (descriptions, machine info, problem text) stays unindexed: a
B-tree does not help a "contains" search. On a large PostgreSQL database these
CREATE INDEX statements lock each table for writes while they run.
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, column): each gets the index SQLAlchemy names ix_<table>_<column>.
INDEXED = (
    ("contact", "email"),
    ("contact", "national_id"),
    ("contact", "position"),
    ("contact", "status"),
    ("contract", "amount"),
    ("contract", "party_a"),
    ("contract", "party_b"),
    ("contract", "payment_date"),
    ("customer", "email"),
    ("license", "is_trial"),
    ("license", "seats"),
    ("product", "authorization_code"),
    ("product", "version"),
    ("reporter", "email"),
)


def upgrade():
    for table, column in INDEXED:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade():
    for table, column in reversed(INDEXED):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
