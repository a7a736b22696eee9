"""The role page's permission grid: modules down, actions across, menu entries
following 查看 by themselves; FAB's raw permission pages out of the menu and its
group pages gone."""

from __future__ import annotations

import re

import pytest

ROLE = "矩阵测试角色"


@pytest.fixture
def matrix_role(app, db_session):
    yield ROLE
    sm = app.appbuilder.sm
    role = sm.find_role(ROLE)
    if role is not None:
        db_session.delete(role)
        db_session.commit()


def _box(page: str, permission: str, resource: str) -> str:
    match = re.search(
        rf'<input type="checkbox" name="permissions" value="(\d+)"\s+'
        rf'data-permission="{permission}" data-resource="{resource}"',
        page,
    )
    assert match, f"no check box for {permission} on {resource}"
    return match.group(1)


def _granted(app, db_session) -> set[tuple[str, str]]:
    db_session.expire_all()
    role = app.appbuilder.sm.find_role(ROLE)
    return {(row.permission.name, row.view_menu.name) for row in role.permissions}


def test_the_role_form_is_one_grid_in_chinese(admin):
    page = admin.get("/roles/add").get_data(as_text=True)
    grid = page[page.index('class="table table-bordered table-condensed role-matrix-grid"') :]
    grid = grid[: grid.index("</table>")]
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', grid)
    assert headers[:6] == ["模块", "查看", "添加", "编辑", "删除", "导出"]
    assert re.findall(r'<th scope="row">([^<]+)</th>', grid)[:2] == ["客户信息", "客户联系人"]
    assert 'data-permission="menu_access"' not in page  # menu entries are not offered
    assert 'aria-label="客户信息：查看"' in grid
    assert "其他权限" in page


def test_granting_read_brings_the_menu_entry_and_revoking_it_takes_it_away(
    app, db_session, admin, matrix_role
):
    page = admin.get("/roles/add").get_data(as_text=True)
    read = _box(page, "can_read", "Customer")
    export = _box(page, "can_export", "Contact")
    response = admin.post(
        "/roles/add",
        data={"name": ROLE, "data_scope": "own", "permissions": [read, export]},
    )
    assert response.status_code == 302
    granted = _granted(app, db_session)
    assert {("can_read", "Customer"), ("can_export", "Contact")} <= granted
    assert ("menu_access", "Customers") in granted
    assert ("menu_access", "Customer management") in granted
    assert ("menu_access", "Contacts") not in granted  # export without read: no menu entry

    role = app.appbuilder.sm.find_role(ROLE)
    edit = admin.get(f"/roles/edit/{role.id}").get_data(as_text=True)
    assert re.search(rf'value="{read}"[^>]*checked', edit)
    response = admin.post(
        f"/roles/edit/{role.id}",
        data={"name": ROLE, "data_scope": "own", "permissions": [export]},
    )
    assert response.status_code == 302
    granted = _granted(app, db_session)
    assert ("can_read", "Customer") not in granted
    assert not {name for permission, name in granted if permission == "menu_access"}


def test_a_role_without_the_role_pages_cannot_open_the_grid(signed_in):
    response = signed_in("manager").get("/roles/add")
    assert response.status_code in (302, 403)
    assert "role-matrix-grid" not in response.get_data(as_text=True)


def test_raw_permission_pages_leave_the_menu_and_groups_are_gone(admin):
    home = admin.get("/").get_data(as_text=True)
    for address in ("/permissions/list/", "/viewmenus/list/", "/permissionviews/list/"):
        assert f'href="{address}"' not in home
        assert admin.get(address).status_code == 200  # still there by address
    assert 'href="/roles/list/"' in home
    assert admin.get("/groups/list/").status_code == 404
    assert admin.get("/groups/add").status_code == 404
