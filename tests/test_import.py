"""Importing customers, contacts and reporters from .xlsx: checked, all-or-nothing, idempotent."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.models import Contact, Customer, CustomerStatus, Importance, Reporter
from app.permissions import ADMIN, ENGINEER, MANAGER, SALES, SUPPORT
from app.services import importing
from factories import VALID_NATIONAL_ID, make_customer

CUSTOMER_HEADER = [
    "客户编码 *",
    "公司名称 *",
    "公司类别",
    "客户状态",
    "重要级别",
    "地址",
    "电话",
    "电子邮箱",
]
CONTACT_HEADER = [
    "客户编码 *",
    "姓名 *",
    "职位",
    "出生年月",
    "身份证号",
    "电话",
    "电子邮箱",
    "地址",
    "状态",
]
REPORTER_HEADER = ["客户编码 *", "姓名 *", "门店", "电话", "电子邮箱", "地址"]


def workbook_bytes(header, rows, title="客户") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(visitor, url, data: bytes, filename="导入.xlsx"):
    return visitor.post(
        url, data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


GOOD_CUSTOMERS = [
    [
        "IMP001",
        "导入客户甲",
        "商超",
        "签约",
        "A",
        "上海市南京路1号",
        "021-62345678",
        "a@example.com",
    ],
    ["IMP002", "导入客户乙", "retail_chain", "prospect", "B", None, "13812345678", None],
]


@pytest.fixture
def sales(login_as):
    return login_as(SALES)


# ------------------------------------------------------------------ good files


def test_template_downloads_with_chinese_headers(sales):
    response = sales.get("/customers/import/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == CUSTOMER_HEADER
    assert sheet.max_row == 1  # no example row that could be imported by mistake
    assert "说明" in workbook.sheetnames


def test_the_filled_template_imports(sales, db_session):
    template = load_workbook(io.BytesIO(sales.get("/contacts/import/template.xlsx").data))
    customer = make_customer(code="TPL001")
    sheet = template.worksheets[0]
    sheet.append(
        [
            customer.code,
            "模板联系人",
            "经理",
            date(1990, 5, 1),
            VALID_NATIONAL_ID,
            "13812345678",
            "t@example.com",
            "地址",
            "在职",
        ]
    )
    buffer = io.BytesIO()
    template.save(buffer)
    response = upload(sales, "/contacts/import/", buffer.getvalue())
    assert response.status_code == 302, response.get_data(as_text=True)
    contact = db_session.scalar(select(Contact).where(Contact.name == "模板联系人"))
    assert contact.customer_id == customer.id and contact.birth_date == date(1990, 5, 1)


def test_good_customer_file_creates_rows(sales, db_session):
    response = upload(sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS))
    assert response.status_code == 302
    assert "/customers/list/" in response.headers["Location"]
    first = db_session.scalar(select(Customer).where(Customer.code == "IMP001"))
    assert first.name == "导入客户甲" and first.status == CustomerStatus.signed
    assert first.importance == Importance.A and first.category.name == "supermarket"
    second = db_session.scalar(select(Customer).where(Customer.code == "IMP002"))
    assert second.status == CustomerStatus.prospect and second.address is None
    body = sales.get(response.headers["Location"]).get_data(as_text=True)
    assert "2" in body and "导入客户甲" in body


def test_reimport_updates_instead_of_duplicating(sales, db_session):
    data = workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS)
    assert upload(sales, "/customers/import/", data).status_code == 302
    assert upload(sales, "/customers/import/", data).status_code == 302
    assert count(db_session, Customer) == 2

    changed = [list(GOOD_CUSTOMERS[0]), list(GOOD_CUSTOMERS[1])]
    changed[0][1] = "导入客户甲（新名）"
    changed[1][3] = None  # an empty status keeps the current one
    assert (
        upload(sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, changed)).status_code
        == 302
    )
    assert count(db_session, Customer) == 2
    first = db_session.scalar(select(Customer).where(Customer.code == "IMP001"))
    assert first.name == "导入客户甲（新名）"
    second = db_session.scalar(select(Customer).where(Customer.code == "IMP002"))
    assert second.status == CustomerStatus.prospect


def test_contacts_match_by_customer_code_and_name(login_as, db_session):
    customer = make_customer(code="CC001")
    rows = [["CC001", "王经理", "采购", "1985-03-04", None, "13812345678", None, None, "在职"]]
    sales = login_as(SALES)
    assert (
        upload(
            sales, "/contacts/import/", workbook_bytes(CONTACT_HEADER, rows, "联系人")
        ).status_code
        == 302
    )
    rows[0][2] = "总监"
    assert (
        upload(
            sales, "/contacts/import/", workbook_bytes(CONTACT_HEADER, rows, "联系人")
        ).status_code
        == 302
    )
    contacts = db_session.scalars(select(Contact).where(Contact.customer_id == customer.id)).all()
    assert [(c.name, c.position, c.birth_date) for c in contacts] == [
        ("王经理", "总监", date(1985, 3, 4))
    ]


def test_reporters_match_by_customer_code_and_name(login_as, db_session):
    customer = make_customer(code="CC001")
    support = login_as(SUPPORT)
    rows = [["CC001", "店长小李", "南京路店", "13912345678", "li@example.com", None]]
    for _ in range(2):
        response = upload(
            support, "/reporters/import/", workbook_bytes(REPORTER_HEADER, rows, "反馈人员")
        )
        assert response.status_code == 302
    reporters = db_session.scalars(
        select(Reporter).where(Reporter.customer_id == customer.id)
    ).all()
    assert [(r.name, r.store) for r in reporters] == [("店长小李", "南京路店")]


def test_imports_are_recorded_in_the_history(sales, db_session):
    from app.models.history import ChangeRecord

    start = db_session.scalar(select(func.max(ChangeRecord.id))) or 0
    assert (
        upload(
            sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS)
        ).status_code
        == 302
    )
    records = db_session.scalars(
        select(ChangeRecord).where(ChangeRecord.id > start, ChangeRecord.model == "Customer")
    ).all()
    assert len(records) == 2 and {r.username for r in records} == {SALES}


# ------------------------------------------------------------------ bad files


def test_bad_rows_are_reported_and_nothing_is_written(sales, db_session):
    make_customer(code="TAKEN1")
    rows = [
        ["BAD001", "好的一行", None, None, None, None, "021-62345678", None],
        ["BAD002", None, None, None, None, None, "12345", None],  # row 3: name, phone
        ["TAKEN1", "重复编码", None, None, None, None, None, None],  # row 4: would update: fine
        ["BAD 004", "编码有空格", None, "不存在的状态", None, None, None, "not-mail"],  # row 5
        ["BAD001", "同一文件重复", None, None, None, None, None, None],  # row 6: duplicate
    ]
    before = count(db_session, Customer)
    response = upload(sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, rows))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert count(db_session, Customer) == before
    assert db_session.scalar(select(Customer).where(Customer.code == "TAKEN1")).name != "重复编码"
    assert "没有导入任何记录" in body
    report = body[body.index('id="import-errors"') :]
    cells = [line.strip() for line in report.split("<tr>")[2:]]
    assert any("<td>3</td><td>公司名称</td>" in cell for cell in cells), cells
    assert any("<td>3</td><td>电话</td>" in cell for cell in cells)
    assert any("<td>5</td><td>客户编码</td>" in cell for cell in cells)
    assert any("<td>5</td><td>客户状态</td>" in cell and "潜在" in cell for cell in cells)
    assert any("<td>5</td><td>电子邮箱</td>" in cell for cell in cells)
    assert any("<td>6</td>" in cell and "第 2 行" in cell for cell in cells), cells
    assert not any("<td>2</td>" in cell or "<td>4</td>" in cell for cell in cells)


def test_contact_with_unknown_customer_or_bad_id_is_refused(sales, db_session):
    make_customer(code="CC100")
    rows = [
        ["NOPE", "谁", None, None, None, None, None, None, None],
        ["CC100", "错身份证", None, "1990-13-45", "110105194912310021", None, None, None, None],
        ["CC100", "x" * 51, None, None, None, None, None, None, None],
    ]
    response = upload(sales, "/contacts/import/", workbook_bytes(CONTACT_HEADER, rows, "联系人"))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "NOPE" in body and "出生年月" in body and "身份证号" in body and "50" in body
    assert count(db_session, Contact) == 0


def test_the_database_refusing_a_row_writes_nothing(sales, db_session, monkeypatch):
    """An error in the middle of the save rolls the whole import back."""
    from app.extensions import db

    real_commit = db.session.commit

    def failing_commit():
        db.session.flush()
        raise importing.SQLAlchemyError("disk full")

    monkeypatch.setattr(db.session, "commit", failing_commit)
    response = upload(sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS))
    monkeypatch.setattr(db.session, "commit", real_commit)
    assert response.status_code == 400
    assert "没有保存" in response.get_data(as_text=True)
    assert count(db_session, Customer) == 0


@pytest.mark.parametrize(
    "filename,data",
    [
        ("客户.csv", "编码,名称\nC1,甲\n".encode()),
        ("客户.xlsx", b"this is not a zip file at all"),
        ("客户.xlsx", b""),
        ("客户.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100),
    ],
)
def test_non_xlsx_uploads_are_refused_cleanly(sales, db_session, filename, data):
    response = upload(sales, "/customers/import/", data, filename)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'id="import-refusal"' in body and ".xlsx" in body
    assert count(db_session, Customer) == 0


def test_a_zip_that_is_not_a_workbook_is_refused(sales):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("hello.txt", "hi")
    response = upload(sales, "/customers/import/", buffer.getvalue())
    assert response.status_code == 400 and "Excel" in response.get_data(as_text=True)


def test_wrong_header_is_refused(sales, db_session):
    data = workbook_bytes(["编号", "名字"], [["X1", "甲"]])
    response = upload(sales, "/customers/import/", data)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "编号" in body and "表头" in body
    assert count(db_session, Customer) == 0


def test_missing_file_is_refused(sales):
    response = sales.post("/customers/import/", data={}, content_type="multipart/form-data")
    assert response.status_code == 400


def test_too_many_rows_are_refused(sales, db_session, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    rows = [[f"MANY{n}", f"客户{n}", None, None, None, None, None, None] for n in range(4)]
    response = upload(sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, rows))
    assert response.status_code == 400
    assert "3" in response.get_data(as_text=True)
    assert count(db_session, Customer) == 0


def test_too_large_uploads_are_refused(sales, db_session, monkeypatch):
    monkeypatch.setattr(importing, "MAX_UPLOAD_BYTES", 10_000)
    data = workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS) + b"\0" * 200_000
    response = upload(sales, "/customers/import/", data)
    assert response.status_code == 413
    assert 'id="import-refusal"' in response.get_data(as_text=True)
    assert count(db_session, Customer) == 0


def test_formula_like_and_markup_text_is_stored_as_typed(sales, db_session):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(CUSTOMER_HEADER)
    sheet.append(["FORM1", "text", None, None, None, "<script>alert(1)</script>", None, None])
    sheet["B2"].value = '=HYPERLINK("http://x")'
    sheet["B2"].data_type = "s"  # typed as text (quote prefix), not a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert upload(sales, "/customers/import/", buffer.getvalue()).status_code == 302
    customer = db_session.scalar(select(Customer).where(Customer.code == "FORM1"))
    assert customer.name == '=HYPERLINK("http://x")'
    assert customer.address == "<script>alert(1)</script>"


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize(
    "role,url,allowed",
    [
        (ADMIN, "/customers/import/", True),
        (SALES, "/customers/import/", True),
        (SALES, "/contacts/import/", True),
        (SALES, "/reporters/import/", False),
        (SUPPORT, "/customers/import/", False),
        (SUPPORT, "/contacts/import/", False),
        (SUPPORT, "/reporters/import/", True),
        (MANAGER, "/customers/import/", False),
        (MANAGER, "/reporters/import/", False),
        (ENGINEER, "/customers/import/", False),
    ],
)
def test_import_needs_the_modules_add_permission(login_as, db_session, role, url, allowed):
    visitor = login_as(role)
    form = visitor.get(url)
    template = visitor.get(f"{url}template.xlsx")
    response = upload(visitor, url, workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS))
    if allowed:
        assert form.status_code == 200 and template.status_code == 200
    else:
        assert (form.status_code, template.status_code, response.status_code) == (403, 403, 403)
        assert count(db_session, Customer) == 0


def test_list_pages_offer_import_only_to_who_may_add(login_as):
    assert 'id="import-xlsx"' in login_as(SALES).get("/customers/list/").get_data(as_text=True)
    assert 'id="import-xlsx"' not in login_as(MANAGER).get("/customers/list/").get_data(
        as_text=True
    )
    assert 'id="import-xlsx"' not in login_as(SUPPORT).get("/customers/list/").get_data(
        as_text=True
    )
    assert 'id="import-xlsx"' in login_as(SUPPORT).get("/reporters/list/").get_data(as_text=True)
    assert 'id="import-xlsx"' not in login_as(SALES).get("/contracts/list/").get_data(as_text=True)


def test_updating_needs_the_edit_permission(app, login_as, db_session):
    """A role that may add but not edit can import new rows, not change existing ones."""
    from flask_appbuilder.security.sqla.models import Role

    from app.extensions import db
    from app.services.roles import apply_roles

    make_customer(code="IMP001", name="原名")
    with app.app_context():
        role = db.session.scalar(
            select(Role).where(Role.name == app.config["CRM_ROLE_NAMES"][SALES])
        )
        role.permissions = [
            p
            for p in role.permissions
            if not (p.permission.name == "can_edit" and p.view_menu.name == "Customer")
        ]
        db.session.commit()
        db.session.remove()
    try:
        sales = login_as(SALES)
        response = upload(
            sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS)
        )
        assert response.status_code == 422
        assert "不能修改" in response.get_data(as_text=True) or "不可修改" in response.get_data(
            as_text=True
        )
        assert count(db_session, Customer) == 1
    finally:
        with app.app_context():
            apply_roles(app.appbuilder, reset=True)
            db.session.remove()


def test_control_characters_are_reported_not_stored(app):
    """Text that PostgreSQL or the pages cannot hold (NUL, other C0 controls) is a row error."""
    spec = importing.SPECS["customer"]
    with app.test_request_context():
        for text in ("a\x00b", "a\x01b", "a\x1fb"):
            value, message = importing._convert(spec, "name", text)
            assert value is None and "控制字符" in message
        assert importing._convert(spec, "name", "多行\n文本\t可以") == ("多行\n文本\t可以", None)
