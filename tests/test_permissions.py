"""The permission matrix: every role × module × action, pages and REST API.

The cases are generated from the role definitions, and what each case
expects comes from ``SPEC_GRANTS`` below: the spec's "Who uses it" table
typed in a second time, on purpose. The roles in the database are built
from ``app.permissions.ROLE_GRANTS`` (``crm init``), so a permission added
to or removed from ROLE_GRANTS by mistake makes the matrix cases of that
cell fail (and ``test_role_table_is_the_spec_table`` says which cell).
A refused write changes nothing: the row count and the row are compared.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import (
    Contact,
    Contract,
    CrmUser,
    Customer,
    Feedback,
    FollowUp,
    License,
    Payment,
    PaymentPlan,
    Product,
    Reporter,
)
from app.permissions import (
    ADD,
    ADMIN,
    BUSINESS_RESOURCES,
    CLAIM,
    CONTACT,
    CONTRACT,
    CUSTOMER,
    DELETE,
    EDIT,
    ENGINEER,
    EXPORT,
    FEEDBACK,
    FINANCE,
    FOLLOWUP,
    LICENSE,
    MANAGER,
    PAYMENT,
    PAYMENT_PLAN,
    PRODUCT,
    READ,
    RECEIVABLES_REPORT,
    REPORTER,
    REVEAL,
    ROLE_GRANTS,
    SALES,
    SERVICE_REPORT,
    SUPPORT,
    TRANSFER,
    permission_name,
)
from app.permissions import MENU_LINKS as LINKS_OF_PERMISSIONS
from app.services.roles import SELF_SERVICE
from factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_followup,
    make_license,
    make_payment,
    make_plan,
    make_product,
    make_reporter,
)
from helpers import ROLE_KEYS

ALL = (READ, ADD, EDIT, DELETE, EXPORT)
# The spec's "Who uses it" table, typed in again on purpose (see the module docstring).
SPEC_GRANTS = {
    # claim: the customer pool (see it, claim, release one's own); transfer: change owners;
    # reveal: personal data (身份证号, phones) in clear (查看敏感信息);
    # personal_data (个人信息请求: download a person's data, anonymise): the admin's alone,
    # so no role below has it (tests/test_personal_data.py)
    SALES: {
        CUSTOMER: (*ALL, CLAIM),
        CONTACT: (*ALL, REVEAL),
        CONTRACT: ALL,
        PRODUCT: (READ,),
        LICENSE: (READ,),
        FOLLOWUP: ALL,
        PAYMENT_PLAN: ALL,
        PAYMENT: (READ,),
    },
    SUPPORT: {
        FEEDBACK: ALL,
        REPORTER: (*ALL, REVEAL),
        CUSTOMER: (READ,),
        CONTACT: (READ,),
        PRODUCT: (READ,),
        LICENSE: (READ,),
        SERVICE_REPORT: (READ, EXPORT),
        FOLLOWUP: (READ, ADD),
    },
    ENGINEER: {FEEDBACK: (READ, EDIT), PRODUCT: ALL, LICENSE: ALL},
    MANAGER: {
        **{resource: (READ, EXPORT) for resource in BUSINESS_RESOURCES},
        CUSTOMER: (READ, EXPORT, TRANSFER),
        SERVICE_REPORT: (READ, EXPORT),
        RECEIVABLES_REPORT: (READ, EXPORT),
    },
    # 财务: records payments, reads customers, contracts and their plans
    FINANCE: {
        PAYMENT: ALL,
        PAYMENT_PLAN: (READ,),
        CONTRACT: (READ,),
        CUSTOMER: (READ,),
        RECEIVABLES_REPORT: (READ, EXPORT),
    },
}
ROLES = (ADMIN, SALES, SUPPORT, ENGINEER, MANAGER, FINANCE)

_unique = itertools.count(1)


def _n() -> int:
    return next(_unique)


@dataclass
class Module:
    resource: str
    model: type
    route: str
    api: str
    marker: str  # a column every edit payload changes, to see whether an edit landed
    make: Callable  # (ctx) -> a row with no dependents
    form: Callable  # (ctx) -> add/edit form data with a fresh marker value
    json: Callable  # (ctx) -> REST API payload with a fresh marker value


def _customer_form(ctx):
    n = _n()
    return {
        "code": f"M{n:06d}",
        "name": f"矩阵客户{n}",
        "category": "other",
        "status": "signed",
        "importance": "A",
        "phone": "021-62345678",
        "email": f"m{n}@example.com",
    }


def _contact_form(ctx):
    return {
        "customer": ctx["customer"].id,
        "name": f"联系人{_n()}",
        "phone": "13812345678",
        "status": "active",
    }


def _contract_form(ctx):
    return {
        "customer": ctx["customer"].id,
        "number": f"HT-M{_n():06d}",
        "sign_date": "2026-01-01",
        "end_date": "2026-12-31",
        "amount": "1000.00",
    }


def _product_form(ctx):
    return {"customer": ctx["customer"].id, "name": f"矩阵产品{_n()}", "version": "1.0"}


def _license_form(ctx):
    return {
        "customer": ctx["customer"].id,
        "product": ctx["product"].id,
        "serial": f"SN-M{_n():06d}",
        "seats": "5",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
    }


def _reporter_form(ctx):
    return {
        "customer": ctx["customer"].id,
        "name": f"店长{_n()}",
        "store": "南京路店",
        "phone": "13912345678",
    }


def _feedback_form(ctx):
    return {
        "customer": ctx["customer"].id,
        "reporter": ctx["reporter"].id,
        "problem": f"矩阵问题{_n()}",
        "level": "medium",
        "status": "new",
        "engineer": ctx["user_id"],
        "created_at": "2026-03-01 09:00:00",
    }


def _followup_form(ctx):
    return {
        "customer": ctx["customer"].id,
        "method": "phone",
        "content": f"矩阵跟进{_n()}",
        "followed_at": "2026-03-01 09:00:00",
        "next_at": "2026-03-08 09:00:00",
    }


def _plan_form(ctx):
    return {
        "contract": ctx["contract"].id,
        "instalment": str(_n()),
        "planned_date": "2026-06-30",
        "planned_amount": "1000.00",
    }


def _payment_form(ctx):
    return {
        "contract": ctx["contract"].id,
        "paid_on": "2026-06-30",
        "amount": "100.00",
        "method": "bank_transfer",
        "invoice_number": f"FP-M{_n():06d}",
    }


def _as_json(form: Callable, dates=(), datetimes=(), numbers=()):
    def build(ctx):
        data = form(ctx)
        for key in datetimes:
            data[key] = data[key].replace(" ", "T")
        for key in numbers:
            data[key] = float(data[key]) if "." in data[key] else int(data[key])
        return data

    return build


MODULES = [
    Module(
        CUSTOMER,
        Customer,
        "/customers",
        "/api/v1/customers/",
        "name",
        lambda ctx: make_customer(),
        _customer_form,
        _as_json(_customer_form),
    ),
    Module(
        CONTACT,
        Contact,
        "/contacts",
        "/api/v1/contacts/",
        "name",
        lambda ctx: make_contact(ctx["customer"]),
        _contact_form,
        _as_json(_contact_form),
    ),
    Module(
        CONTRACT,
        Contract,
        "/contracts",
        "/api/v1/contracts/",
        "number",
        lambda ctx: make_contract(ctx["customer"]),
        _contract_form,
        _as_json(_contract_form, numbers=("amount",)),
    ),
    Module(
        PRODUCT,
        Product,
        "/products",
        "/api/v1/products/",
        "name",
        lambda ctx: make_product(ctx["customer"]),
        _product_form,
        _as_json(_product_form),
    ),
    Module(
        LICENSE,
        License,
        "/licenses",
        "/api/v1/licenses/",
        "serial",
        lambda ctx: make_license(ctx["product"]),
        _license_form,
        _as_json(_license_form, numbers=("seats",)),
    ),
    Module(
        REPORTER,
        Reporter,
        "/reporters",
        "/api/v1/reporters/",
        "name",
        lambda ctx: make_reporter(ctx["customer"]),
        _reporter_form,
        _as_json(_reporter_form),
    ),
    Module(
        FOLLOWUP,
        FollowUp,
        "/followups",
        "/api/v1/followups/",
        "content",
        lambda ctx: make_followup(ctx["customer"]),
        _followup_form,
        _as_json(_followup_form, datetimes=("followed_at", "next_at")),
    ),
    Module(
        FEEDBACK,
        Feedback,
        "/feedback",
        "/api/v1/feedback/",
        "problem",
        # assigned to the signed-in user: the engineer's record rule is tested elsewhere
        lambda ctx: make_feedback(ctx["reporter"], engineer_id=ctx["user_id"]),
        _feedback_form,
        _as_json(_feedback_form, datetimes=("created_at",)),
    ),
    Module(
        PAYMENT_PLAN,
        PaymentPlan,
        "/payment-plans",
        "/api/v1/payment-plans/",
        "instalment",
        lambda ctx: make_plan(ctx["contract"]),
        _plan_form,
        _as_json(_plan_form, numbers=("instalment", "planned_amount")),
    ),
    Module(
        PAYMENT,
        Payment,
        "/payments",
        "/api/v1/payments/",
        "invoice_number",
        lambda ctx: make_payment(ctx["contract"]),
        _payment_form,
        _as_json(_payment_form, numbers=("amount",)),
    ),
]
assert {module.resource for module in MODULES} == set(BUSINESS_RESOURCES)
FEEDBACK_MODULE = next(module for module in MODULES if module.resource == FEEDBACK)

# action -> the permission it needs
PAGE_ACTIONS = {
    "list": READ,
    "show": READ,
    "add_form": ADD,
    "add_post": ADD,
    "edit_form": EDIT,
    "edit_post": EDIT,
    "delete_post": DELETE,
    "export": EXPORT,
}
API_ACTIONS = {
    "api_list": READ,
    "api_get": READ,
    "api_post": ADD,
    "api_put": EDIT,
    "api_delete": DELETE,
}
ACTIONS = {**PAGE_ACTIONS, **API_ACTIONS}
CASES = [(role, module, action) for role in ROLES for module in MODULES for action in ACTIONS]


def allowed(role: str, resource: str, action: str) -> bool:
    """What the spec lets ``role`` do; the database's roles come from ROLE_GRANTS."""
    if role == ADMIN:
        return True
    return ACTIONS[action] in SPEC_GRANTS[role].get(resource, ())


# ---------------------------------------------------------------- fixtures


def _count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def _marker(db_session, module, pk):
    db_session.expire_all()
    row = db_session.get(module.model, pk)
    return getattr(row, module.marker)


# ---------------------------------------------------------------- the matrix


def test_the_matrix_covers_every_role_module_and_permission():
    """The matrix walks every role the app seeds and every permission the app knows,
    and each case has a role refused, but reading products and licenses (every role may)."""
    from app import permissions

    assert set(ROLES) == set(ROLE_KEYS)
    assert set(PAGE_ACTIONS.values()) == set(permissions.ACTIONS)
    assert set(API_ACTIONS.values()) == set(permissions.ACTIONS) - {EXPORT}
    assert len({(role, module.resource, action) for role, module, action in CASES}) == len(CASES)
    nobody_refused = {
        (module.resource, ACTIONS[action])
        for module in MODULES
        for action in ACTIONS
        if all(allowed(role, module.resource, action) for role in ROLES)
    }
    assert nobody_refused == set()  # 财务 reads neither products nor licenses
    only_admin = {
        (module.resource, action)
        for module in MODULES
        for action in ACTIONS
        if not any(allowed(role, module.resource, action) for role in ROLES if role != ADMIN)
    }
    assert only_admin == set()
    print(
        f"\npermission matrix: {len(ROLES)} roles × {len(MODULES)} modules × "
        f"{len(ACTIONS)} actions = {len(CASES)} cases"
    )


@pytest.mark.parametrize(
    "role,module,action",
    CASES,
    ids=[f"{role}-{module.resource}-{action}" for role, module, action in CASES],
)
def test_matrix(app, db_session, signed_in, jwt_headers, role, module, action):
    visitor, headers = signed_in(role), jwt_headers(role)
    user_id = db_session.scalar(select(CrmUser.id).where(CrmUser.username == role))
    customer = make_customer()
    ctx = {
        "customer": customer,
        "product": make_product(customer),
        "reporter": make_reporter(customer),
        "contract": make_contract(customer, amount=Decimal("100000.00")),
        "user_id": user_id,
    }
    row = module.make(ctx)
    pk = row.id
    before_count = _count(db_session, module.model)
    before_marker = getattr(row, module.marker)
    client = visitor.client
    may = allowed(role, module.resource, action)

    if action == "list":
        response = visitor.get(f"{module.route}/list/")
    elif action == "show":
        response = visitor.get(f"{module.route}/show/{pk}")
    elif action == "add_form":
        response = visitor.get(f"{module.route}/add")
    elif action == "edit_form":
        response = visitor.get(f"{module.route}/edit/{pk}")
    elif action == "export":
        response = visitor.get(f"{module.route}/export.xlsx")
    elif action == "add_post":
        response = visitor.post(f"{module.route}/add", data=module.form(ctx))
    elif action == "edit_post":
        response = visitor.post(f"{module.route}/edit/{pk}", data=module.form(ctx))
    elif action == "delete_post":
        response = visitor.post(f"{module.route}/delete/{pk}")
    elif action == "api_list":
        response = client.get(module.api, headers=headers)
    elif action == "api_get":
        response = client.get(f"{module.api}{pk}", headers=headers)
    elif action == "api_post":
        response = client.post(module.api, json=module.json(ctx), headers=headers)
    elif action == "api_put":
        response = client.put(f"{module.api}{pk}", json=module.json(ctx), headers=headers)
    elif action == "api_delete":
        response = client.delete(f"{module.api}{pk}", headers=headers)
    else:  # pragma: no cover
        raise AssertionError(action)

    status = response.status_code
    body = response.get_data().decode("utf-8", errors="replace")
    if not may:
        assert status == 403, f"{role} should be refused {action} on {module.resource}: {status}"
        if action.startswith("api_"):
            assert response.json["message"] == "您无权执行此操作。"
        else:  # the Chinese 403 page, not a sign-in page
            assert "无权访问（403）" in body and 'href="/login/' not in body
        assert _count(db_session, module.model) == before_count
        assert _marker(db_session, module, pk) == before_marker
        return

    writes = {
        "add_post": 302,
        "edit_post": 302,
        "delete_post": 302,
        "api_post": 201,
        "api_put": 200,
        "api_delete": 200,
    }
    assert status == writes.get(action, 200), (
        f"{role} {action} {module.resource}: {status} {body[:500]}"
    )
    if action in ("add_post", "api_post"):
        assert _count(db_session, module.model) == before_count + 1, body[:500]
    elif action in ("delete_post", "api_delete"):
        assert _count(db_session, module.model) == before_count - 1
    elif action in ("edit_post", "api_put"):
        assert _marker(db_session, module, pk) != before_marker, body[:500]
    else:
        if action == "export":
            assert response.get_data().startswith(b"PK")  # an .xlsx (zip) file
        assert _count(db_session, module.model) == before_count
        assert _marker(db_session, module, pk) == before_marker


def test_visitors_who_are_not_signed_in_are_sent_to_sign_in_or_get_401(visitor, db_session):
    customer = make_customer()
    for module in MODULES:
        response = visitor.get(f"{module.route}/list/")
        assert response.status_code == 302 and "/login/" in response.headers["Location"]
        assert visitor.get(f"{module.api}").status_code == 401
    response = visitor.post(f"/customers/delete/{customer.id}", data={"csrf_token": "x"})
    assert response.status_code in (302, 400)
    assert _count(db_session, Customer) == 1


# ---------------------------------------------------------------- the table itself


def test_role_table_is_the_spec_table():
    assert set(ROLE_GRANTS) == set(SPEC_GRANTS)
    for role, grants in SPEC_GRANTS.items():
        table = ROLE_GRANTS[role]
        for resource in set(table) | set(grants):
            assert sorted(table.get(resource, ())) == sorted(grants.get(resource, ())), (
                f"ROLE_GRANTS[{role!r}][{resource!r}] differs from the spec"
            )


def _role_permissions(app, role_key):
    sm = app.appbuilder.sm
    role = sm.find_role(app.config["CRM_ROLE_NAMES"][role_key])
    return {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}


def _expected_menus(app, readable: set[str]) -> set[tuple[str, str]]:
    expected = set()
    for category in app.appbuilder.menu.get_list():
        names = [
            item.name
            for item in category.childs
            if item.baseview is not None and item.baseview.class_permission_name in readable
        ]
        if names:
            expected.add(("menu_access", category.name))
            expected.update(("menu_access", name) for name in names)
    return expected


@pytest.mark.parametrize("role", list(ROLE_GRANTS))
def test_database_role_permissions_equal_the_table(app, db_session, role):
    actual = _role_permissions(app, role)
    grants = ROLE_GRANTS[role]
    wanted = {(permission_name(a), r) for r, actions in grants.items() for a in actions}
    readable = {r for r, actions in grants.items() if READ in actions}
    wanted |= _expected_menus(app, readable)
    wanted |= {
        ("menu_access", link)
        for link, (resource, action) in LINKS_OF_PERMISSIONS.items()
        if action in grants.get(resource, ())
    }
    wanted |= set(SELF_SERVICE)
    assert actual - wanted == set(), "permissions the table does not give"
    assert wanted - actual == set(), "permissions the table gives but the role lacks"
    reports = (SERVICE_REPORT, RECEIVABLES_REPORT)
    granted = {(p, v) for p, v in actual if v in (*BUSINESS_RESOURCES, *reports)}
    assert granted == {
        (permission_name(a), r) for r, acts in SPEC_GRANTS[role].items() for a in acts
    }


def test_admin_has_every_permission_and_visitors_none(app, db_session):
    sm = app.appbuilder.sm
    admin = sm.find_role(app.config["AUTH_ROLE_ADMIN"])
    every = {
        (pv.permission.name, pv.view_menu.name)
        for pv in db_session.scalars(select(sm.permissionview_model))
    }
    assert {(pv.permission.name, pv.view_menu.name) for pv in admin.permissions} == every
    assert sm.find_role(app.config["AUTH_ROLE_PUBLIC"]).permissions == []


# ---------------------------------------------------------------- menus

MENU_LINKS = {module.resource: f"{module.route}/list/" for module in MODULES}
MENU_LINKS[SERVICE_REPORT] = "/reports/service/"
MENU_LINKS[RECEIVABLES_REPORT] = "/reports/receivables/"
# Menu links that are not pages to open: signing out would end the shared session.
NOT_PAGES = ("/logout/", "/lang/")


def _menu_html(page: str) -> str:
    match = re.search(r'<div class="navbar.*?</ul>\s*</div>\s*</div>\s*</div>', page, re.S)
    assert match, "page has no navigation bar"
    return match.group(0)


def _menu_links(visitor) -> set[str]:
    return set(re.findall(r'href="(/[^"#]*)"', _menu_html(visitor.get("/").get_data(as_text=True))))


@pytest.mark.parametrize("role", ROLES)
def test_menu_shows_only_the_roles_modules(app, signed_in, role):
    """A newcomer signed in with each seeded role sees the spec's modules for it, no others."""
    visitor = signed_in(role)
    links = _menu_links(visitor)
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    for resource, link in MENU_LINKS.items():
        assert link in routes, f"{link} is in the menu table but no page answers it"
        readable = (
            allowed(role, resource, "list")
            if resource not in (SERVICE_REPORT, RECEIVABLES_REPORT)
            else (role == ADMIN or READ in SPEC_GRANTS[role].get(resource, ()))
        )
        assert (link in links) == readable, f"{role}: {link}"
    for admin_link in ("/users/list/", "/roles/list/"):
        assert (admin_link in links) == (role == ADMIN), f"{role}: {admin_link}"
    assert "/permissions/list/" not in links  # the role page's grid replaces it
    assert "/users/userinfo/" in links  # everyone reaches their own profile


@pytest.mark.parametrize("role", [r for r in ROLES if r != ADMIN])
def test_every_menu_entry_is_shown_exactly_to_those_who_may_open_it(signed_in, role):
    """Every entry of the admin's menu: in this role's menu if and only if its URL opens."""
    every = _menu_links(signed_in(ADMIN))
    assert {"/customers/list/", "/users/list/"} <= every, every
    visitor = signed_in(role)
    shown = _menu_links(visitor)
    assert shown <= every
    for link in sorted(every):
        if link == "/" or link.startswith(NOT_PAGES):
            continue
        status = visitor.get(link).status_code
        assert status in (200, 403), f"{role}: {link} answered {status}"
        assert (link in shown) == (status == 200), f"{role}: {link} answered {status}"


@pytest.mark.parametrize("role", [r for r in ROLES if r != ADMIN])
@pytest.mark.parametrize(
    "url",
    [
        "/users/list/",
        "/roles/list/",
        "/users/add",
        "/roles/add",
        "/permissions/list/",
        "/viewmenus/list/",
    ],
)
def test_user_admin_is_for_the_admin_only(signed_in, role, url):
    visitor = signed_in(role)
    response = visitor.get(url)
    assert response.status_code == 403
    assert "无权访问（403）" in response.get_data(as_text=True)


def _user_and_roles(db_session):
    db_session.expire_all()
    return sorted(
        (user.username, user.first_name, user.active, tuple(sorted(r.name for r in user.roles)))
        for user in db_session.scalars(select(CrmUser))
    ), sorted(
        (role.name, len(role.permissions))
        for role in db_session.scalars(select(CrmUser.roles.property.mapper.class_))
    )


@pytest.mark.parametrize("role", [r for r in ROLES if r != ADMIN])
def test_only_the_admin_changes_users_and_roles(app, db_session, signed_in, role):
    """Writes to the user and role pages by any other role are refused and change nothing."""
    visitor = signed_in(role)
    me = db_session.scalar(select(CrmUser).where(CrmUser.username == role))
    target = db_session.scalar(select(CrmUser).where(CrmUser.username == "engineer2"))
    admin_role = app.appbuilder.sm.find_role(app.config["AUTH_ROLE_ADMIN"])
    own_role = me.roles[0]
    before, password_before = _user_and_roles(db_session), target.password
    promote = {
        "username": role,
        "first_name": "x",
        "phone": "13812345678",
        "email": f"{role}@example.com",
        "active": "y",
        "roles": str(admin_role.id),
    }
    writes = [
        (
            "/users/add",
            {
                **promote,
                "username": "intruder",
                "email": "intruder@example.com",
                "password": "Strong-Pass99x",
                "conf_password": "Strong-Pass99x",
            },
        ),
        (f"/users/edit/{me.id}", promote),
        (f"/users/edit/{target.id}", {**promote, "username": "engineer2", "active": ""}),
        (f"/users/delete/{target.id}", {}),
        (f"/users/action/deactivate/{target.id}", {}),
        ("/users/action_post", {"action": "deactivate", "rowid": str(target.id)}),
        (
            f"/resetpassword/form?pk={target.id}",
            {"password": "Strong-Pass99x", "conf_password": "Strong-Pass99x"},
        ),
        ("/roles/add", {"name": "入侵者"}),
        (
            f"/roles/edit/{own_role.id}",
            {"name": own_role.name, "permissions": [str(pv.id) for pv in admin_role.permissions]},
        ),
        (f"/roles/delete/{own_role.id}", {}),
    ]
    for url, data in writes:
        response = visitor.post(url, data=data)
        assert response.status_code in (302, 403), f"{url}: {response.status_code}"
    assert _user_and_roles(db_session) == before
    assert db_session.scalar(select(CrmUser.password).where(CrmUser.id == target.id)) == (
        password_before
    )


# ---------------------------------------------------------------- the engineer record rule


def _engineer_ids(db_session):
    return {
        name: db_session.scalar(select(CrmUser.id).where(CrmUser.username == name))
        for name in ("engineer", "engineer2")
    }


def test_engineer_edits_only_feedback_assigned_to_them_on_the_page(db_session, signed_in):
    ids = _engineer_ids(db_session)
    visitor = signed_in(ENGINEER)
    reporter = make_reporter()
    mine = make_feedback(reporter, engineer_id=ids["engineer"])
    theirs = make_feedback(reporter, engineer_id=ids["engineer2"])
    nobody = make_feedback(reporter)
    ctx = {"customer": reporter.customer, "reporter": reporter, "user_id": ids["engineer"]}

    for other in (theirs, nobody):
        before = other.problem
        form_page = visitor.get(f"/feedback/edit/{other.id}")
        assert form_page.status_code == 403
        assert "只有其跟踪工程师可以修改" in form_page.get_data(as_text=True)
        response = visitor.post(f"/feedback/edit/{other.id}", data=_feedback_form(ctx))
        assert response.status_code == 403
        assert _marker(db_session, FEEDBACK_MODULE, other.id) == before
        # still readable
        assert visitor.get(f"/feedback/show/{other.id}").status_code == 200

    assert visitor.get(f"/feedback/edit/{mine.id}").status_code == 200
    data = _feedback_form(ctx)
    assert visitor.post(f"/feedback/edit/{mine.id}", data=data).status_code == 302
    assert _marker(db_session, FEEDBACK_MODULE, mine.id) == data["problem"]


def test_engineer_edits_only_feedback_assigned_to_them_through_the_api(
    db_session, signed_in, jwt_headers
):
    ids = _engineer_ids(db_session)
    visitor, headers = signed_in(ENGINEER), jwt_headers(ENGINEER)
    reporter = make_reporter()
    mine = make_feedback(reporter, engineer_id=ids["engineer"])
    theirs = make_feedback(reporter, engineer_id=ids["engineer2"])
    ctx = {"customer": reporter.customer, "reporter": reporter, "user_id": ids["engineer"]}
    payload = _as_json(_feedback_form, datetimes=("created_at",))

    before = theirs.problem
    response = visitor.client.put(
        f"/api/v1/feedback/{theirs.id}", json=payload(ctx), headers=headers
    )
    assert response.status_code == 403
    assert "只有其跟踪工程师可以修改" in response.json["message"]
    assert _marker(db_session, FEEDBACK_MODULE, theirs.id) == before
    # taking it over by naming oneself in the payload is refused the same way
    assert (
        visitor.client.put(
            f"/api/v1/feedback/{theirs.id}", json={"engineer": ids["engineer"]}, headers=headers
        ).status_code
        == 403
    )
    assert visitor.client.get(f"/api/v1/feedback/{theirs.id}", headers=headers).status_code == 200

    data = payload(ctx)
    response = visitor.client.put(f"/api/v1/feedback/{mine.id}", json=data, headers=headers)
    assert response.status_code == 200, response.json
    assert _marker(db_session, FEEDBACK_MODULE, mine.id) == data["problem"]


@pytest.mark.parametrize("role", [ADMIN, SUPPORT])
def test_roles_that_edit_feedback_edit_all_of_it(db_session, signed_in, jwt_headers, role):
    ids = _engineer_ids(db_session)
    visitor, headers = signed_in(role), jwt_headers(role)
    reporter = make_reporter()
    theirs = make_feedback(reporter, engineer_id=ids["engineer2"])
    ctx = {"customer": reporter.customer, "reporter": reporter, "user_id": ids["engineer2"]}
    assert visitor.get(f"/feedback/edit/{theirs.id}").status_code == 200
    data = _feedback_form(ctx)
    assert visitor.post(f"/feedback/edit/{theirs.id}", data=data).status_code == 302
    assert _marker(db_session, FEEDBACK_MODULE, theirs.id) == data["problem"]
    data = _as_json(_feedback_form, datetimes=("created_at",))(ctx)
    response = visitor.client.put(f"/api/v1/feedback/{theirs.id}", json=data, headers=headers)
    assert response.status_code == 200, response.json


# ---------------------------------------------------------------- crm init and the admin's edits


def test_the_admin_edits_a_role_in_the_role_pages_and_it_takes_effect(app, login_as):
    """Through /roles/edit as the admin does, not in the database: the next request obeys."""
    from app.extensions import db
    from app.models import ChangeRecord
    from app.services.roles import apply_roles

    with app.app_context():
        role = app.appbuilder.sm.find_role(app.config["CRM_ROLE_NAMES"][SALES])
        role_id, role_name = role.id, role.name
        kept = [
            pv.id
            for pv in role.permissions
            if (pv.permission.name, pv.view_menu.name) != ("can_read", CUSTOMER)
        ]
        db.session.remove()
    admin, sales = login_as(ADMIN), login_as(SALES)
    assert sales.get("/customers/list/").status_code == 200
    try:
        response = admin.post(f"/roles/edit/{role_id}", {"name": role_name, "permissions": kept})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert sales.get("/customers/list/").status_code == 403
        assert sales.get("/contacts/list/").status_code == 200  # the rest of the role stays
        with app.app_context():
            assert ("can_read", CUSTOMER) not in _role_permissions(app, SALES)
            recorded = db.session.scalar(
                select(func.count())
                .select_from(ChangeRecord)
                .where(ChangeRecord.model == "Role", ChangeRecord.row_id == role_id)
            )
            db.session.remove()
        assert recorded >= 1  # the change history has the role edit
    finally:
        with app.app_context():
            apply_roles(app.appbuilder, reset=True)
            db.session.remove()


def test_crm_init_keeps_the_admins_role_edits_unless_reset(app, db_session):
    from app.services.roles import apply_roles

    sm = app.appbuilder.sm
    name = app.config["CRM_ROLE_NAMES"][SALES]
    role = sm.find_role(name)
    dropped = next(
        pv
        for pv in role.permissions
        if (pv.permission.name, pv.view_menu.name) == ("can_delete", CONTRACT)
    )
    try:
        role.permissions.remove(dropped)  # what the admin does in the role pages
        db_session.commit()
        runner = app.test_cli_runner()
        result = runner.invoke(args=["crm", "init"])
        assert result.exit_code == 0, result.output
        assert f"角色 {name}：保留现有设置" in result.output  # crm init speaks the default zh
        db_session.expire_all()
        assert ("can_delete", CONTRACT) not in _role_permissions(app, SALES)

        result = runner.invoke(args=["crm", "init", "--reset-roles"])
        assert result.exit_code == 0 and f"角色 {name}：已恢复为预设权限" in result.output
        db_session.expire_all()
        assert ("can_delete", CONTRACT) in _role_permissions(app, SALES)
    finally:
        apply_roles(app.appbuilder, reset=True)


# ---------------------------------------------------------------- the service report


@pytest.mark.parametrize("role", ROLES)
def test_service_report_follows_the_table(signed_in, role):
    """Read opens the report's form, export downloads it (app.permissions.SERVICE_REPORT)."""
    grants = SPEC_GRANTS.get(role, {}).get(SERVICE_REPORT, ())
    visitor = signed_in(role)
    form = visitor.get("/reports/service/")
    assert form.status_code == (200 if role == ADMIN or READ in grants else 403)
    download = visitor.get("/reports/service/xlsx?from=2026-01-01&to=2026-12-31")
    if role == ADMIN or EXPORT in grants:
        assert download.status_code == 200 and download.get_data().startswith(b"PK")
    else:
        assert download.status_code == 403
