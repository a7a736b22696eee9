"""Owners and data scope: departments, a department per user, a scope per role, a
customer's owner (负责人).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:40:00

Existing customers: one created by a user who holds the sales role gets that
user as owner; the others go to the pool (no owner). The seeded roles get their
scopes from ``crm init``, which ``make run`` runs after this migration.
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SALES_ROLE = "销售"  # CRM_ROLE_NAMES["sales"] when the migration runs outside the app


def upgrade():
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("changed_on", sa.DateTime(), nullable=False),
        sa.Column("created_by_fk", sa.Integer(), nullable=True),
        sa.Column("changed_by_fk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["created_by_fk"], ["ab_user.id"]),
        sa.ForeignKeyConstraint(["changed_by_fk"], ["ab_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("parent_id", "name", name="uq_department_parent_name"),
    )
    op.create_index("ix_department_parent_id", "department", ["parent_id"])
    op.create_index("ix_department_name", "department", ["name"])
    op.create_table(
        "role_scope",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "all",
                "department_tree",
                "department",
                "own",
                name="ck_role_scope_scope",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["role_id"], ["ab_role.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("role_id"),
    )
    _add_reference("ab_user", "department_id", "department")
    _add_reference("customer", "owner_id", "ab_user")
    _owners_from_creators()


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable foreign key column, and its index.

    SQLite adds a REFERENCES column in place; Alembic's batch mode would copy
    the table instead, and dropping the old copy of a table other rows refer
    to fails while foreign keys are enforced.
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(f"fk_{table}_{column}", table, target, [column], ["id"])
    op.create_index(f"ix_{table}_{column}", table, [column])


def _owners_from_creators():
    """A customer created by a salesperson is theirs; the rest start in the pool."""
    sales = SALES_ROLE
    if has_app_context():
        sales = current_app.config.get("CRM_ROLE_NAMES", {}).get("sales", SALES_ROLE)
    op.get_bind().execute(
        sa.text(
            "UPDATE customer SET owner_id = created_by_fk "
            "WHERE created_by_fk IN ("
            "  SELECT ur.user_id FROM ab_user_role ur JOIN ab_role r ON r.id = ur.role_id"
            "  WHERE r.name = :sales)"
        ),
        {"sales": sales},
    )


def downgrade():
    _drop_reference("customer", "owner_id")
    _drop_reference("ab_user", "department_id")
    op.drop_table("role_scope")
    op.drop_index("ix_department_name", table_name="department")
    op.drop_index("ix_department_parent_id", table_name="department")
    op.drop_table("department")


def _drop_reference(table: str, column: str) -> None:
    op.drop_index(f"ix_{table}_{column}", table_name=table)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(f"fk_{table}_{column}", table, type_="foreignkey")
    with op.batch_alter_table(table) as batch_op:  # SQLite: the copy leaves the key out
        batch_op.drop_column(column)
