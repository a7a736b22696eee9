"""Data scope (数据范围): whose customers, and so whose records, a user sees.

The one rule of the second release. A role's scope is 全部, 本部门及下级, 本部门
or 仅本人 (``RoleScope``); a user with several roles gets the widest. Anything
narrower than 全部 shows the customers whose owner (负责人) is the user, or a
user of the user's department (and its sub-departments), and the records of
those customers: contacts, contracts, products, licenses, feedback, reporters.

``condition(model)`` is that rule as a SQL condition. It is applied where rows
are read: by the data layer every page and API goes through
(``CrmInterface.apply_filters``: lists, counts, show, edit, delete, exports),
and by the queries written outside it (drop-downs, imports, the dashboard,
reports, statistics) through ``restrict``. A record outside the scope is
treated as if it did not exist (404), never as forbidden.

The decision is made once per request and kept in ``g``; the command line
(no request) sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, has_request_context
from sqlalchemy import false, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType

from app.extensions import db
from app.models import Customer, Department, RoleScope
from app.models.choices import DATA_SCOPE_ORDER, DataScope
from app.models.user import CrmUser

SCOPE_KEY = "crm_data_scope"
SHARE_KEY = "crm_data_scope_share"
# A scope holding at least this share of the customers is "wide": see ``_CustomerIn``.
WIDE_SHARE = 0.01


@dataclass(frozen=True)
class UserScope:
    """What one user sees: ``scope``, and for narrower scopes the owners' filter."""

    scope: DataScope
    user_id: int | None = None
    department_ids: tuple[int, ...] = ()

    @property
    def everything(self) -> bool:
        return self.scope is DataScope.all


EVERYTHING = UserScope(DataScope.all)
NOTHING = UserScope(DataScope.own, user_id=None)


def widest(scopes) -> DataScope:
    """The widest of ``scopes`` (a user with several roles); 仅本人 when there is none."""
    scopes = set(scopes)
    return next((scope for scope in DATA_SCOPE_ORDER if scope in scopes), DataScope.own)


def role_scopes(roles) -> list[DataScope]:
    """The scope of each role: the admin role always 全部, a role without a row 全部."""
    admin = current_app.config["AUTH_ROLE_ADMIN"]
    roles = [role for role in roles or () if role is not None and not isinstance(role, str)]
    if any(role.name == admin for role in roles):
        return [DataScope.all]
    ids = [role.id for role in roles]
    if not ids:
        return []
    stored = dict(
        db.session.execute(
            select(RoleScope.role_id, RoleScope.scope).where(RoleScope.role_id.in_(ids))
        ).all()
    )
    return [stored.get(role_id, DataScope.all) for role_id in ids]


def set_scope(role, scope: DataScope | str | None) -> None:
    """Give ``role`` the data scope ``scope`` (a member or its code); saved with the role."""
    if isinstance(scope, str):
        scope = DataScope[scope]
    if scope is None:
        return
    if role.data_scope_row is None:
        role.data_scope_row = RoleScope(scope=scope)
    else:
        role.data_scope_row.scope = scope
    forget()


def department_tree(root_id: int) -> tuple[int, ...]:
    """``root_id`` and every department below it (the tree is small: one query)."""
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id in db.session.execute(select(Department.id, Department.parent_id)):
        children.setdefault(parent_id, []).append(dept_id)
    found, todo = [], [root_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.append(current)
            todo.extend(children.get(current, ()))
    return tuple(sorted(found))


def scope_of(user) -> UserScope:
    """``user``'s scope, computed from their roles and department."""
    if (
        user is None
        or not getattr(user, "is_authenticated", True)
        or getattr(user, "id", None) is None
    ):
        return NOTHING
    scope = widest(role_scopes(getattr(user, "roles", ())))
    if scope is DataScope.all:
        return EVERYTHING
    departments: tuple[int, ...] = ()
    if user.department_id is not None:
        if scope is DataScope.department_tree:
            departments = department_tree(user.department_id)
        elif scope is DataScope.department:
            departments = (user.department_id,)
    return UserScope(scope, user.id, departments)


def current() -> UserScope:
    """The signed-in user's scope, once per request; everything outside a request."""
    if not has_request_context():
        return EVERYTHING
    if SCOPE_KEY not in g:
        g.setdefault(SCOPE_KEY, scope_of(getattr(g, "user", None)))
    return g.get(SCOPE_KEY)


def forget() -> None:
    """After a change of roles, scopes or departments within the request."""
    if has_request_context():
        g.pop(SCOPE_KEY, None)
        g.pop(SHARE_KEY, None)


def owners_condition(user_scope: UserScope):
    """The customers ``user_scope`` sees, as a condition on ``Customer``; None: all."""
    if user_scope.everything:
        return None
    if user_scope.user_id is None:
        return false()
    if not user_scope.department_ids:  # 仅本人, or a user in no department
        return Customer.owner_id == user_scope.user_id
    colleagues = select(CrmUser.id).where(CrmUser.department_id.in_(user_scope.department_ids))
    return Customer.owner_id.in_(colleagues)


def may_own(owner) -> bool:
    """May the signed-in user make ``owner`` (a user) a customer's owner?

    Anyone active within their data scope: the admin anyone, a manager the
    users of their department tree, a salesperson only themselves.
    """
    user_scope = current()
    if owner is None or not getattr(owner, "active", False):
        return False
    if user_scope.everything or owner.id == user_scope.user_id:
        return True
    return owner.department_id is not None and owner.department_id in user_scope.department_ids


def owner_condition(user_scope: UserScope | None = None):
    """``may_own`` in SQL, on ``CrmUser`` (None: every user), for the owner drop-downs."""
    user_scope = user_scope or current()
    if user_scope.everything:
        return None
    return or_(
        CrmUser.id == user_scope.user_id,
        CrmUser.department_id.in_(user_scope.department_ids or (-1,)),
    )


def is_scoped(model) -> bool:
    """Does the rule apply to ``model``'s rows (the customer and what hangs off it)?"""
    return model is Customer or "customer_id" in getattr(model, "__table__", {}).columns


def condition(model, user_scope: UserScope | None = None):
    """The rows of ``model`` the user sees, as a SQL condition; None when not narrowed."""
    if not is_scoped(model):
        return None
    owners = owners_condition(user_scope or current())
    if owners is None:
        return None
    if model is Customer:
        return owners
    customers = select(Customer.id).where(owners)
    return _CustomerIn(model.customer_id, customers, wide=_is_wide(user_scope or current()))


class _CustomerIn(ColumnElement):
    """``customer_id IN (the customers in scope)``, in the form SQLite plans well.

    A count wants the rows looked up through the ``customer_id`` index. A
    sorted page for a wide scope (a salesperson with 14 % of the customers)
    wants SQLite to walk the sort column's index and test each row, stopping
    after a page, instead of reading and sorting all 140 000 of the
    salesperson's rows: written ``+customer_id IN (…)``, the unary plus keeps
    SQLite off the ``customer_id`` index. A narrow scope keeps the lookup.
    PostgreSQL's planner weighs both from its statistics by itself.
    """

    type = NullType()  # a condition as it stands: no "= 1" appended on SQLite
    inherit_cache = True
    _traverse_internals = [
        ("key", InternalTraversal.dp_clauseelement),
        ("customers", InternalTraversal.dp_clauseelement),
        ("wide", InternalTraversal.dp_boolean),
    ]

    def __init__(self, key, customers, wide: bool):
        self.key, self.customers, self.wide = key, customers, wide


@compiles(_CustomerIn)
def _compile_customer_in(element, compiler, **kw):
    return compiler.process(element.key.in_(element.customers), **kw)


@compiles(_CustomerIn, "sqlite")
def _compile_customer_in_sqlite(element, compiler, **kw):
    condition = compiler.process(element.key.in_(element.customers), **kw)
    sorted_page = getattr(compiler.statement, "_order_by_clauses", ())
    return f"+{condition}" if element.wide and sorted_page else condition


def _is_wide(user_scope: UserScope) -> bool:
    """Does ``user_scope`` hold at least ``WIDE_SHARE`` of the customers? SQLite only,
    asked once per request."""
    if db.session.get_bind().dialect.name != "sqlite":
        return False
    known = g.get(SHARE_KEY) if has_request_context() else None
    if known is not None and known[0] == user_scope:
        return known[1]
    in_scope, total = db.session.execute(
        select(
            func.count().filter(owners_condition(user_scope)),
            func.count(),
        ).select_from(Customer)
    ).one()
    wide = bool(total) and in_scope >= WIDE_SHARE * total
    if has_request_context():
        setattr(g, SHARE_KEY, (user_scope, wide))
    return wide


def conditions(model) -> list:
    """``condition(model)`` as a list, to spread into ``where(*…)`` beside others."""
    where = condition(model)
    return [] if where is None else [where]


def restrict(query, model, user_scope: UserScope | None = None):
    """``query`` (a ``select`` or an ORM ``Query``) narrowed to the rows the user sees."""
    where = condition(model, user_scope)
    if where is None:
        return query
    return query.where(where) if hasattr(query, "where") else query.filter(where)


def get_visible(model, pk):
    """``model``'s row ``pk`` if the user may see it, else None (as if it did not exist)."""
    item = db.session.get(model, pk)
    if item is None or condition(model) is None:
        return item
    return item if sees(item) else None


def sees(item) -> bool:
    """May the user see ``item`` (a loaded row)? Answered without a query when possible."""
    user_scope = current()
    model = type(item)
    if user_scope.everything or not is_scoped(model):
        return True
    customer = item if model is Customer else getattr(item, "customer", None)
    if customer is None:
        return False
    if customer.owner_id is None or user_scope.user_id is None:
        return False
    if not user_scope.department_ids:
        return customer.owner_id == user_scope.user_id
    owner_department = db.session.scalar(
        select(CrmUser.department_id).where(CrmUser.id == customer.owner_id)
    )
    return owner_department in user_scope.department_ids
