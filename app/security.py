"""The extended security manager: the seed's user fields and account rules on FAB's pages.

Rules live in ``app.services.accounts`` (delete, deactivate, signed in now)
and ``app.services.login_throttle`` (failed sign-ins); this module wires them
into Flask-AppBuilder's user pages, its login form and its JSON login.
"""

from __future__ import annotations

import re

from flask import abort, current_app, flash, g, has_app_context, redirect, request, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.api import safe
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
)
from flask_appbuilder.security.views import (
    AuthDBView,
    RoleModelView,
    UserDBModelView,
    UserGroupModelView,
    UserInfoEditView,
)
from flask_appbuilder.views import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import inspect, select
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, NumberRange, Optional, ValidationError

from app.extensions import db
from app.models import CrmUser, DataScope
from app.models.labels import labels_for
from app.services import accounts, audit, login_throttle
from app.services.display import format_bool, format_datetime
from app.services.memo import per_request
from app.services.querying import PlainInterface
from app.services.roles import with_menu_entries
from app.services.scope import set_scope
from app.services.validation import validate
from app.views.base import rule_checked
from app.views.fields import EnumSelectField
from app.views.role_matrix import permissions_field

PROFILE_COLUMNS = [
    "first_name",
    "phone",
    "email",
    "age",
    "position",
    "years_of_work",
    "home_address",
]
AUDIT_TIMES = ["last_login", "last_seen_at", "locked_until", "created_on", "changed_on"]


def _blank_if_none(value):
    return "" if value is None else value


def _a_role_is_chosen(form, field):
    """FAB's own check also reads a "groups" field, which these pages do not have."""
    if not field.data:
        raise ValidationError(_l("Choose at least one role."))


def _role_names(roles) -> str:
    return "、".join(str(role) for role in roles or ())


# What the user pages show instead of Python's None, True and [<Role>] lists.
USER_FORMATTERS = {
    **{
        column: _blank_if_none
        for column in ["username", *PROFILE_COLUMNS, "login_count", "fail_login_count"]
    },
    **{column: format_datetime for column in AUDIT_TIMES},
    "active": format_bool,
    "roles": _role_names,
}


class CrmUserView(UserDBModelView):
    """Users as the seed describes them: one name field, phone required."""

    list_title = _l("List Users")
    show_title = _l("View user")
    add_title = _l("Add user")
    edit_title = _l("Edit user")
    label_columns = {
        **UserDBModelView.label_columns,
        "first_name": _l("Person name"),
        "username": _l("Login name"),
        "age": _l("Age"),
        "position": _l("Position"),
        "phone": _l("Phone"),
        "home_address": _l("Home address"),
        "years_of_work": _l("Years of work"),
        "roles": _l("Roles"),
        "active": _l("Enabled"),
        "last_seen_at": _l("Last seen"),
        "locked_until": _l("Sign-in locked until"),
        "department": _l("Department"),
    }
    description_columns = {}
    validators_columns = {"roles": [_a_role_is_chosen]}
    formatters_columns = USER_FORMATTERS
    list_columns = [
        "username",
        "first_name",
        "department",
        "position",
        "phone",
        "email",
        "active",
        "roles",
    ]
    search_columns = [
        "username",
        "first_name",
        "phone",
        "email",
        "position",
        "active",
        "roles",
    ]
    add_columns = [
        "username",
        *PROFILE_COLUMNS,
        "department",
        "active",
        "roles",
        "password",
        "conf_password",
    ]
    edit_columns = ["username", *PROFILE_COLUMNS, "department", "active", "roles"]
    show_fieldsets = [
        (
            _l("User info"),
            {"fields": ["username", "department", "active", "roles", "login_count"]},
        ),
        (_l("Personal Info"), {"fields": PROFILE_COLUMNS, "expanded": True}),
        (
            _l("Audit Info"),
            {
                "fields": [
                    "last_login",
                    "last_seen_at",
                    "fail_login_count",
                    "locked_until",
                    "created_on",
                    "changed_on",
                ],
                "expanded": False,
            },
        ),
    ]
    user_show_fieldsets = show_fieldsets[:2]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_form = rule_checked(self.add_form, CrmUser)
        self.edit_form = rule_checked(self.edit_form, CrmUser)

    def pre_add(self, item):
        item.last_name = ""
        super().pre_add(item)  # hashes the password

    def post_add(self, item):
        super().post_add(item)
        audit.record(audit.USER_ADDED, item.username, **_account_details(item))

    def post_update(self, item):
        super().post_update(item)
        audit.record(audit.USER_CHANGED, item.username, **_account_details(item))

    def post_delete(self, item):
        super().post_delete(item)
        audit.record(audit.USER_DELETED, item.username)

    def pre_update(self, item):
        try:
            accounts.check_change(
                item, _acting_user_id(), active=bool(item.active), admin=accounts.is_admin(item)
            )
        except accounts.AccountRuleBroken:
            db.session.rollback()  # the form's values were already copied onto the row
            raise
        super().pre_update(item)
        if not item.active:
            item.last_seen_at = None

    def pre_delete(self, item):
        try:
            accounts.check_deletable(item, _acting_user_id())
        except accounts.AccountRuleBroken as refusal:
            if refusal.can_deactivate:
                g.crm_offer_deactivation = item.id
            raise

    def post_delete_redirect(self):
        """A refused delete that can be a deactivation lands on the page that offers it."""
        pk = g.pop("crm_offer_deactivation", None)
        if pk is not None:
            return redirect(url_for(f"{self.endpoint}.show", pk=pk))
        return super().post_delete_redirect()

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        actions = {"resetpasswords": self.actions.get("resetpasswords")}
        if item.active and item.id != _acting_user_id():
            actions["deactivate"] = self.actions.get("deactivate")
        widgets = self._get_show_widget(pk, item, actions=actions)
        self.update_redirect()
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=widgets,
            appbuilder=self.appbuilder,
            related_views=self._related_views,
        )

    @action(
        "deactivate",
        _l("Deactivate"),
        _l("Deactivate this account? It will no longer be able to sign in."),
        "fa-user-slash",
    )
    def deactivate(self, items):
        single = not isinstance(items, list)
        # FAB passes None for a row that does not exist (deleted meanwhile, or a made-up id).
        if single and items is None:
            abort(404)
        for item in [items] if single else [item for item in items if item is not None]:
            try:
                accounts.deactivate(item, _acting_user_id())
            except accounts.AccountRuleBroken as refusal:
                db.session.rollback()
                flash(str(refusal), "danger")
            else:
                audit.record(audit.USER_CHANGED, item.username, active=False)
                flash(
                    _("User %(name)s is deactivated: it can no longer sign in.", name=str(item)),
                    "success",
                )
        if single:
            return redirect(url_for(f"{self.endpoint}.show", pk=items.id))
        return redirect(url_for(f"{self.endpoint}.list"))


def _account_details(user) -> dict:
    """What the security log keeps of an account's save: its roles, whether enabled."""
    return {
        "roles": sorted(str(role) for role in user.roles or ()),
        "active": bool(user.active),
        "department": str(user.department) if getattr(user, "department", None) else None,
    }


def _acting_user_id():
    user = getattr(g, "user", None)
    return getattr(user, "id", None)


def _profile_field(field: str, kind=StringField, required: bool = False):
    validators = [DataRequired()] if required else [Optional()]
    if kind is IntegerField:
        validators.append(NumberRange(min=0))
    return kind(
        labels_for(CrmUser).get(field, field), validators=validators, widget=BS3TextFieldWidget()
    )


class ProfileForm(DynamicForm):
    """The signed-in user's own profile: the seed's fields, not roles or login name."""

    first_name = _profile_field("first_name", required=True)
    phone = _profile_field("phone", required=True)
    email = _profile_field("email", required=True)
    age = _profile_field("age", IntegerField)
    position = _profile_field("position")
    years_of_work = _profile_field("years_of_work", IntegerField)
    home_address = _profile_field("home_address")

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators=extra_validators)
        user = g.user
        values = {**self.data, "username": user.username}
        errors = validate(CrmUser, values, pk=user.id)
        for field, message in errors.items():
            if field in self:
                self[field].errors = [message]  # names the field, unlike WTForms' own
        return valid and not errors


class CrmUserInfoEditView(UserInfoEditView):
    form = ProfileForm
    form_title = _l("Edit my profile")
    message = _l("Your profile is saved.")
    # The permission rows `crm init` grants everyone are named after FAB's view.
    class_permission_name = "UserInfoEditView"
    route_base = "/userinfoeditview"


class CrmAuthDBView(AuthDBView):
    @property
    def invalid_login_message(self):
        return g.get("crm_login_refusal") or _("Invalid login. Please try again.")


class CrmSecurityApi(SecurityApi):
    """FAB's JSON login, answering in the user's language and saying when to retry."""

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        """JSON sign-in; the spec below is this override's own (FAB reads it from here).
        ---
        post:
          description: >-
            Sign in with a login name and password. The access token it returns
            goes in the `Authorization: Bearer <token>` header of every other
            request. Repeated failed sign-ins lock the account, and the client's
            address, for a while (429, with the time to wait in the message).
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [username, password, provider]
                  properties:
                    username:
                      type: string
                      minLength: 1
                      description: Login name
                    password:
                      type: string
                      format: password
                      minLength: 1
                    provider:
                      type: string
                      enum: [db]
                      description: Accounts live in this application's database.
                    refresh:
                      type: boolean
                      description: Also return a refresh token (POST /api/v1/security/refresh).
          responses:
            200:
              description: Signed in
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
                      refresh_token:
                        type: string
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many failed sign-ins; the message says when to try again
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      message:
                        type: string
            500:
              $ref: '#/components/responses/500'
        """
        payload = request.get_json(silent=True)
        if isinstance(payload, dict) and "provider" not in payload:
            # FAB's schema lets the provider out, then fails on its absence (a 500).
            problems = login_post.validate(payload)
            problems["provider"] = ["Missing data for required field."]
            return self.response_400(message=problems)
        response = super().login()
        refusal = g.get("crm_login_refusal")
        if refusal:
            return self.response(429, message=refusal)
        if response.status_code == 401:
            return self.response(401, message=_("Invalid login. Please try again."))
        return response

    def response_400(self, message=None):
        """FAB's refusals of a malformed sign-in (marshmallow's, in English) in the user's language."""
        if isinstance(message, dict):
            return super().response_400(
                message={
                    field: [_login_field_problem(field, problems)]
                    for field, problems in message.items()
                }
            )
        return super().response_400(
            message=_('Send the sign-in as JSON: {"username": …, "password": …, "provider": "db"}.')
        )


LOGIN_FIELDS = {"username": _l("Login name"), "password": _l("Password")}


def _login_field_problem(field: str, problems) -> str:
    if field == "provider":
        return _('The provider must be "db".')
    if field not in LOGIN_FIELDS:
        return _("This record has no such field, or it cannot be set: leave it out.")
    label = LOGIN_FIELDS[field]
    if any("Missing data" in str(problem) for problem in problems or ()):
        return _("%(field)s is required.", field=label)
    return _("%(field)s must be text.", field=label)


class CrmRoleView(RoleModelView):
    """FAB's role pages plus the role's data scope (数据范围, app/services/scope.py)."""

    class_permission_name = "RoleModelView"  # FAB's own, so existing grants still apply

    label_columns = {**RoleModelView.label_columns, "data_scope_row": _l("Data scope")}
    list_columns = ["name", "data_scope_row", "permissions"]
    show_columns = ["name", "data_scope_row", "permissions"]
    add_columns = edit_columns = ["name", "data_scope", "permissions"]
    add_form_extra_fields = edit_form_extra_fields = {
        "data_scope": EnumSelectField(
            DataScope, _l("Data scope"), required=True, default=DataScope.own
        ),
        "permissions": permissions_field(),  # one grid (app/views/role_matrix.py)
    }
    description_columns = {
        "data_scope": _l(
            "Whose customers, and their records, users of this role see; a user with "
            "several roles gets the widest."
        ),
    }

    def prefill_form(self, form, pk):
        role = self.datamodel.get(pk)
        row = getattr(role, "data_scope_row", None)
        form.data_scope.data = row.scope if row is not None else DataScope.all

    def pre_add(self, item):
        set_scope(item, getattr(item, "data_scope", None))
        with db.session.no_autoflush:  # a new role is not in the session yet
            item.permissions = with_menu_entries(self.appbuilder, item.permissions)

    def pre_update(self, item):
        changes = inspect(item).attrs.permissions.history  # before a lazy load flushes it
        added = _permission_codes(changes.added)
        removed = _permission_codes(changes.deleted)
        row = getattr(item, "data_scope_row", None)
        g.crm_role_change = {
            "permissions_added": added,
            "permissions_removed": removed,
            "old_scope": _scope_code(item) if row is not None else None,
        }
        self.pre_add(item)

    def post_add(self, item):
        super().post_add(item)
        audit.record(
            audit.ROLE_ADDED,
            item.name,
            data_scope=_scope_code(item),
            permissions=_permission_codes(item.permissions),
        )

    def post_update(self, item):
        super().post_update(item)
        change = g.pop("crm_role_change", {})
        old_scope, new_scope = change.pop("old_scope", None), _scope_code(item)
        audit.record(audit.ROLE_CHANGED, item.name, **change)
        if old_scope != new_scope:
            audit.record(audit.DATA_SCOPE_CHANGED, item.name, old=old_scope, new=new_scope)

    def post_delete(self, item):
        super().post_delete(item)
        audit.record(audit.ROLE_DELETED, item.name)


def _permission_codes(permission_views) -> list[str]:
    """``can_read Contract``: the log keeps codes, not the reader's language."""
    return sorted(f"{pv.permission.name} {pv.view_menu.name}" for pv in permission_views or ())


def _scope_code(role) -> str | None:
    row = getattr(role, "data_scope_row", None)
    return getattr(row.scope, "name", None) if row is not None else None


class CrmSecurityManager(SecurityManager):
    user_model = CrmUser
    userdbmodelview = CrmUserView
    rolemodelview = CrmRoleView
    userinfoeditview = CrmUserInfoEditView
    authdbview = CrmAuthDBView
    security_api = CrmSecurityApi
    userstatschartview = None  # its charts load from the internet

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        for view in (
            self.userdbmodelview,
            self.rolemodelview,
            self.permissionmodelview,
            self.viewmenumodelview,
            self.permissionviewmodelview,
        ):  # FAB's pages too ignore a filter index their column lacks (querying.CrmFilters)
            view.datamodel = PlainInterface(view.datamodel.obj)
        current_app.before_request(_touch_last_seen)
        current_app.before_request(_no_user_groups)
        current_app.before_request(_require_password_change)

    def auth_user_db(self, username, password):
        """Refuse throttled sign-ins before the password is looked at."""
        if "\x00" in f"{username}{password}":  # no account holds one; PostgreSQL cannot query it
            g.crm_login_refusal = None
            _record_failed_sign_in(username)
            return None
        refusal = login_throttle.refusal(username)
        g.crm_login_refusal = refusal
        if refusal:
            audit.record(audit.SIGN_IN_REFUSED, username)
            return None
        user = super().auth_user_db(username, password)
        if user is None:
            _record_failed_sign_in(username)
        else:
            audit.record(audit.SIGN_IN, user.username, username=user.username)
        return user

    def reset_password(self, userid, password):
        """Every password change (own, or the admin's reset of another's) is logged;
        one's own change lifts ``must_change_password``."""
        user = self.get_user_by_id(userid)
        if user is not None and user.id == _acting_user_id():
            user.must_change_password = False
        super().reset_password(userid, password)
        audit.record(audit.PASSWORD_CHANGED, getattr(user, "username", userid))

    def update_user_auth_stat(self, user, success=True):
        if success:
            login_throttle.reset_account(user)
            super().update_user_auth_stat(user, True)
        else:
            login_throttle.record_account_failure(user)
            self.on_user_login_failed(user)

    def on_user_login(self, user):
        accounts.mark_signed_in(user.id)

    def on_user_logout(self, user):
        accounts.mark_signed_out(user.id)

    # --- access checks: one query per request, not one per check -----------------
    # FAB asks the database once per check, and a page checks every menu entry
    # (the navbar's ``is_menu_visible``) besides the view itself. Here the
    # (permission, view) pairs of the user's roles, or of the public role, are
    # read once and kept in ``g``, which lives as long as the request: a role
    # the admin edits takes effect on the next request.

    def _has_view_access(self, user, permission_name, view_name) -> bool:
        """Session, JWT and API-key users alike (FAB's ``has_access`` ends here); a user
        who must change the printed password may do nothing else first."""
        if getattr(user, "must_change_password", False) and (
            view_name not in PASSWORD_CHANGE_BLUEPRINTS
        ):
            return False
        return self.roles_grant(self.get_user_roles(user), permission_name, view_name)

    def access_key(self) -> tuple:
        """Everything the signed-in user's (or the visitor's) answers depend on, hashable:
        two requests with equal keys get the same answer to every ``has_access``."""
        if not current_user.is_authenticated:
            return (self.auth_role_public, self._public_granted())
        roles = self.get_user_roles(current_user)
        return (
            tuple(sorted(_names(roles))),
            self._granted(roles),
            bool(current_user.is_active),
            bool(getattr(current_user, "must_change_password", False)),
        )

    def is_item_public(self, permission_name, view_name) -> bool:
        return self._builtin_access([self.auth_role_public], permission_name, view_name) or (
            (permission_name, view_name) in self._public_granted()
        )

    def _get_user_permission_view_menus(self, user, permission_name, view_menus_name):
        """The menu entries ``user`` (None: anonymous) may see, as FAB's, from the cache."""
        if user is None:
            roles, granted = [self.auth_role_public], self._public_granted()
        else:
            roles = self.get_user_roles(user)
            granted = self._granted(roles)
        views = {view for permission, view in granted if permission == permission_name}
        views.update(
            view
            for view in view_menus_name or ()
            if self._builtin_access(roles, permission_name, view)
        )
        return views

    def get_user_permissions(self, user):
        roles = self.get_user_roles(user)
        builtin = {
            (permission, view)
            for name in _names(roles)
            if name in self.builtin_roles
            for view, permission in self.builtin_roles[name]
        }
        return builtin | self._granted(roles)

    def add_permission_role(self, role, perm_view):
        super().add_permission_role(role, perm_view)
        _forget_grants()

    def del_permission_role(self, role, perm_view):
        super().del_permission_role(role, perm_view)
        _forget_grants()

    def roles_grant(self, roles, permission_name, view_name) -> bool:
        """Do ``roles`` (rows) grant the permission? From the per-request cache."""
        return self._builtin_access(roles, permission_name, view_name) or (
            (permission_name, view_name) in self._granted(roles)
        )

    def _builtin_access(self, roles, permission_name, view_name) -> bool:
        """``FAB_ROLES`` roles are regular expressions in the config, not rows."""
        return any(
            re.match(view, view_name) and re.match(permission, permission_name)
            for name in _names(roles)
            for view, permission in self.builtin_roles.get(name, ())
        )

    def _granted(self, roles) -> frozenset[tuple[str, str]]:
        """The (permission, view) pairs of ``roles``' rows in the database."""
        ids = frozenset(
            role.id for role in roles if role is not None and role.name not in self.builtin_roles
        )
        if not ids:
            return frozenset()
        return per_request(GRANTS_KEY, ("roles", ids), lambda: self._pairs(Role.id.in_(ids)))

    def _public_granted(self) -> frozenset[tuple[str, str]]:
        """The anonymous visitor's pairs: those of the ``AUTH_ROLE_PUBLIC`` row, if any."""
        return per_request(
            GRANTS_KEY, "public", lambda: self._pairs(Role.name == self.auth_role_public)
        )

    def _pairs(self, which_roles) -> frozenset[tuple[str, str]]:
        query = (
            select(Permission.name, ViewMenu.name)
            .select_from(PermissionView)
            .join(Permission, PermissionView.permission_id == Permission.id)
            .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
            .join(
                assoc_permissionview_role,
                assoc_permissionview_role.c.permission_view_id == PermissionView.id,
            )
            .join(Role, Role.id == assoc_permissionview_role.c.role_id)
            .where(which_roles)
        )
        return frozenset(tuple(row) for row in self.session.execute(query))


def _names(roles) -> list[str]:
    """Role rows or role names (the public role may be only a name); None skipped."""
    return [role if isinstance(role, str) else role.name for role in roles if role is not None]


GRANTS_KEY = "crm_granted"


def _record_failed_sign_in(username) -> None:
    """Counted against the address and logged; a NUL byte is logged as U+FFFD."""
    login_throttle.record_address_failure()
    if isinstance(username, str):
        username = username.replace("\x00", "\ufffd")
    audit.record(audit.SIGN_IN_FAILED, username)


def _forget_grants() -> None:
    if has_app_context():
        g.pop(GRANTS_KEY, None)


def _no_user_groups():
    """Accounts here get their permissions from roles only: FAB's user-group pages
    (registered by FAB whatever the config) answer as if they did not exist."""
    if request.blueprint == UserGroupModelView.__name__:
        abort(404)


# Where a user who must change their password may still go.
PASSWORD_CHANGE_BLUEPRINTS = {"ResetMyPasswordView", "CrmAuthDBView", "LocaleView"}


def _require_password_change():
    """The admin ``crm init`` created: the printed password is replaced first."""
    if request.endpoint in (None, "static", "appbuilder.static"):
        return None
    if not current_user.is_authenticated or not getattr(
        current_user, "must_change_password", False
    ):
        return None
    if request.blueprint in PASSWORD_CHANGE_BLUEPRINTS:
        return None
    message = _(
        "Choose your own password before going on: the printed one is for the first sign-in only."
    )
    if request.path.startswith("/api/"):
        return {"message": message}, 403
    flash(message, "warning")
    return redirect(url_for("ResetMyPasswordView.this_form_get"))


def _touch_last_seen():
    if request.endpoint in (None, "static", "appbuilder.static"):
        return
    if current_user.is_authenticated:
        accounts.touch_last_seen(current_user)
