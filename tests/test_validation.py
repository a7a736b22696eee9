"""The record rules: unit tests of ``app.services.validation``, then each rule on the pages.

On the pages every broken rule must come back as the add form again, with the
Chinese message beside the field, what was typed still in the form, and
nothing stored.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from test_modules import BY_BASE

from app.models import Contact, Contract, Customer, Feedback, License, Reporter
from app.services.validation import (
    is_valid_national_id,
    is_valid_phone,
    national_id_check_digit,
    validate,
)
from factories import (
    VALID_NATIONAL_ID,
    make_contract,
    make_customer,
    make_license,
    make_product,
    make_reporter,
)
from helpers import field_errors, flashes, unescaped_html

# A 1949-02-30 "birth date" with the check digit that would otherwise be right.
BAD_DATE_ID = "11010519490230002" + national_id_check_digit("11010519490230002")


# ---------------------------------------------------------------- unit: phone numbers


@pytest.mark.parametrize(
    "number",
    [
        "13812345678",
        "19912345678",
        "+8613812345678",
        "86 13812345678",
        "+86-13812345678",
        "021-62345678",
        "0755-2345678",
        "010 62345678",
        "02162345678",
        "62345678",
        "021-62345678-801",
        "400-123-4567",
        "8001234567",
        " 13812345678 ",
    ],
)
def test_phone_accepts_mainland_mobiles_and_landlines(number):
    assert is_valid_phone(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "abc",
        "12812345678",
        "1381234567",
        "138123456789",
        "23812345678",
        "+1 2025550123",
        "021-02345678",
        "021-623",
        "13812345678x",
        "1381234567８",
    ],
)
def test_phone_refuses_other_numbers(number):
    assert not is_valid_phone(number)


# ---------------------------------------------------------------- unit: national ID


def test_check_digit_follows_gb_11643():
    assert national_id_check_digit("11010519491231002") == "X"
    assert national_id_check_digit("44052418800101001") == "4"
    # every remainder maps onto one of the eleven check characters
    assert {national_id_check_digit(f"1101051949123100{d}") for d in range(10)} <= set(
        "10X98765432"
    )


@pytest.mark.parametrize(
    "number",
    [VALID_NATIONAL_ID, VALID_NATIONAL_ID.lower(), "440524188001010014", " 11010519491231002X "],
)
def test_valid_national_ids_pass(number):
    assert is_valid_national_id(number)


@pytest.mark.parametrize(
    "number, why",
    [
        ("110105194912310021", "wrong check digit"),
        ("11010519491231002Y", "check character not a digit or X"),
        (BAD_DATE_ID, "30 February"),
        ("110105194913010010", "month 13"),
        ("110105491231002", "old 15-digit number"),
        ("11010519491231002X1", "19 characters"),
        ("1101051949123100 X", "a space inside"),
        ("", "blank"),
    ],
)
def test_invalid_national_ids_fail(number, why):
    assert not is_valid_national_id(number), why


def test_bad_date_id_has_the_right_check_digit_so_only_the_date_is_wrong():
    total = sum(
        int(d) * w
        for d, w in zip(
            BAD_DATE_ID[:17], (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True
        )
    )
    assert "10X98765432"[total % 11] == BAD_DATE_ID[17]


# ---------------------------------------------------------------- unit: validate()


@pytest.fixture
def zh(app):
    """A request in the default language, so messages render in Chinese."""
    with app.test_request_context("/"):
        yield


def test_validate_returns_nothing_for_a_good_customer(zh, db_session):
    values = dict(code="C1", name="好客户", phone="13812345678", email="a@example.com")
    assert validate(Customer, values) == {}


def test_required_fields_are_named_in_chinese(zh, db_session):
    errors = validate(Customer, dict(code=" ", name=None))
    assert errors == {"code": "请填写客户编码。", "name": "请填写公司名称。"}


@pytest.mark.parametrize(
    "address", ["a@b", "a b@c.cn", "@example.com", "a@example", "a@@b.cn", "中文"]
)
def test_email_format(zh, db_session, address):
    assert "email" in validate(Reporter, dict(email=address))
    assert "email" not in validate(Reporter, dict(email="li.si+crm@store-1.example.com.cn"))


def test_customer_code_characters(zh, db_session):
    assert "code" in validate(Customer, dict(code="C 1", name="x"))
    assert "code" in validate(Customer, dict(code="客户1", name="x"))
    assert "code" not in validate(Customer, dict(code="SH-001_a", name="x"))


def test_end_date_before_start(zh, db_session):
    errors = validate(Contract, dict(sign_date=date(2026, 5, 2), end_date=date(2026, 5, 1)))
    assert errors["end_date"] == "截止日期不能早于签订日期。"
    assert "end_date" not in validate(
        Contract, dict(sign_date=date(2026, 5, 2), end_date=date(2026, 5, 2))
    )


def test_resolved_before_created_compares_date_and_datetime(zh, db_session):
    errors = validate(
        Feedback,
        dict(created_at=datetime(2026, 5, 2, 9, 0), resolved_at=datetime(2026, 5, 2, 8, 59)),
    )
    assert "resolved_at" in errors
    errors = validate(
        Feedback, dict(created_at=date(2026, 5, 2), resolved_at=datetime(2026, 5, 2, 0, 0))
    )
    assert "resolved_at" not in errors


@pytest.mark.parametrize(
    "amount, ok",
    [
        (Decimal("0"), True),
        (Decimal("0.01"), True),
        ("12.5", True),
        (Decimal("-0.01"), False),
        (-1, False),
        ("abc", False),
        (Decimal("NaN"), False),
        (Decimal("Infinity"), False),
    ],
)
def test_amount_is_a_number_not_below_zero(zh, db_session, amount, ok):
    assert ("amount" not in validate(Contract, dict(amount=amount))) is ok


@pytest.mark.parametrize("seats, ok", [(1, True), (500, True), (0, False), (-3, False)])
def test_seats_at_least_one(zh, db_session, seats, ok):
    errors = validate(License, dict(seats=seats))
    assert ("seats" not in errors) is ok
    if not ok:
        assert errors["seats"] == "授权个数不能小于 1。"


@pytest.mark.parametrize(
    "model, values, field, message",
    [
        (Contract, dict(amount=Decimal("1E+999999")), "amount", "合同金额数值过大。"),
        (Contract, dict(amount=Decimal("1000000000000")), "amount", "合同金额数值过大。"),
        (Contract, dict(amount=Decimal("-1000000000000")), "amount", "合同金额"),
        (Contract, dict(amount="0.001"), "amount", "合同金额最多保留 2 位小数。"),
        (License, dict(seats=2**31), "seats", "授权个数数值过大。"),
        (License, dict(seats=10**20), "seats", "授权个数数值过大。"),
    ],
)
def test_numbers_must_fit_their_columns(zh, db_session, model, values, field, message):
    assert message in validate(model, values).get(field, "")


@pytest.mark.parametrize(
    "model, values",
    [
        (Contract, dict(amount=Decimal("999999999999.99"))),
        (Contract, dict(amount=Decimal("12.50"))),
        (Contract, dict(amount=Decimal("1E+3"))),
        (License, dict(seats=2**31 - 1)),
        (License, dict(seats=1, is_trial=True)),
    ],
)
def test_numbers_that_fit_pass(zh, db_session, model, values):
    field = next(iter(values))
    assert field not in validate(model, values)


def test_unique_ignores_the_record_itself(zh, db_session):
    contract = make_contract(number="HT-UNIQ")
    assert "number" in validate(Contract, dict(number="HT-UNIQ"))
    assert "number" in validate(Contract, dict(number=" HT-UNIQ "))
    assert "number" not in validate(Contract, dict(number="HT-UNIQ"), pk=contract.id)


def test_related_record_of_another_customer(zh, db_session):
    own, other = make_customer(), make_customer()
    product = make_product(customer=other)
    errors = validate(License, dict(customer=own, product=product))
    assert errors["product"] == "产品属于其他客户，请选择本客户的记录。"
    assert "product" not in validate(License, dict(customer=other, product=product))


# ---------------------------------------------------------------- the rules on the pages


def _count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def refused(module_admin, db_session, related, base, overrides, field, message, kept=()):
    """Post the add form with ``overrides``; it must be refused as described."""
    module = BY_BASE[base]
    before = _count(db_session, module.model)
    data = {**module.form(related), **overrides}
    response = module_admin.post(f"/{base}/add", data)
    assert response.status_code == 200, (response.status_code, flashes(response))
    errors = field_errors(response)
    assert message in errors.get(field, ""), errors
    assert _count(db_session, module.model) == before
    page = unescaped_html(response)
    # what was typed is still in the form: the broken value and the rest
    key_field, key_value = module.key
    if key_field not in overrides:
        assert _input_value(page, key_field) == str(key_value)
    for name in kept:
        assert _input_value(page, name) == str(data[name]), name
    return response


def _input_value(page: str, name: str) -> str | None:
    tag = re.search(rf'<(input|textarea)[^>]*name="{name}"[^>]*>', page)
    if tag and tag.group(1) == "input":
        value = re.search(r'value="([^"]*)"', tag.group(0))
        return value.group(1) if value else ""
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S)
    if select:
        chosen = re.search(r'<option selected value="([^"]*)"', select.group(0))
        return chosen.group(1) if chosen else None
    return None


@pytest.mark.parametrize(
    "base, overrides, field, message, kept",
    [
        ("customers", {"code": ""}, "code", "请填写客户编码。", ["name", "phone", "email"]),
        ("customers", {"name": "  "}, "name", "请填写公司名称。", ["phone", "status"]),
        ("contacts", {"customer": ""}, "customer", "请填写客户。", ["phone", "national_id"]),
        ("contacts", {"name": ""}, "name", "请填写姓名。", ["customer", "email"]),
        ("contracts", {"number": ""}, "number", "请填写合同编号。", ["amount", "sign_date"]),
        ("products", {"name": ""}, "name", "请填写产品名称。", ["customer", "version"]),
        ("licenses", {"serial": ""}, "serial", "请填写授权序列号。", ["product", "seats"]),
        ("licenses", {"valid_from": ""}, "valid_from", "起始日期", ["serial", "valid_to"]),
        ("feedback", {"problem": ""}, "problem", "请填写问题描述。", ["reporter", "city"]),
        ("feedback", {"reporter": ""}, "reporter", "请填写反馈人员。", ["customer", "problem"]),
        ("reporters", {"name": ""}, "name", "请填写姓名。", ["store", "phone"]),
    ],
    ids=lambda v: v if isinstance(v, str) and "/" not in v and len(v) < 12 else "",
)
def test_required_field(module_admin, db_session, related, base, overrides, field, message, kept):
    refused(module_admin, db_session, related, base, overrides, field, message, kept)


@pytest.mark.parametrize("base", ["customers", "contacts", "reporters"])
@pytest.mark.parametrize("address", ["not-an-email", "a@b", "张三@公司"])
def test_email_format_on_the_form(module_admin, db_session, related, base, address):
    refused(
        module_admin,
        db_session,
        related,
        base,
        {"email": address},
        "email",
        "电子邮箱不是有效的电子邮箱地址。",
        ["email", "phone"],
    )


@pytest.mark.parametrize("base", ["customers", "contacts", "reporters"])
@pytest.mark.parametrize("number", ["12345", "1381234567", "12812345678", "电话号码"])
def test_phone_format_on_the_form(module_admin, db_session, related, base, number):
    refused(
        module_admin,
        db_session,
        related,
        base,
        {"phone": number},
        "phone",
        "电话须为大陆手机号（11 位）或固定电话",
        ["phone", "email"],
    )


@pytest.mark.parametrize(
    "number",
    ["110105194912310021", BAD_DATE_ID, "110105491231002", "ABCDEFGHIJKLMNOPQR"],
    ids=["check-digit", "birth-date", "15-digit", "letters"],
)
def test_national_id_on_the_form(module_admin, db_session, related, number):
    refused(
        module_admin,
        db_session,
        related,
        "contacts",
        {"national_id": number},
        "national_id",
        "身份证号须为有效的 18 位身份证号",
        ["national_id", "phone"],
    )


def test_valid_national_id_with_lower_case_x_is_stored(module_admin, db_session, related):
    data = {**BY_BASE["contacts"].form(related), "national_id": VALID_NATIONAL_ID.lower()}
    assert module_admin.post("/contacts/add", data).status_code == 302
    assert _count(db_session, Contact) == 1


def test_contract_end_before_sign(module_admin, db_session, related):
    refused(
        module_admin,
        db_session,
        related,
        "contracts",
        {"sign_date": "2026-07-01", "end_date": "2026-06-30"},
        "end_date",
        "截止日期不能早于签订日期。",
        ["sign_date", "end_date", "amount"],
    )


@pytest.mark.parametrize("amount", ["-0.01", "-100"])
def test_negative_amount(module_admin, db_session, related, amount):
    refused(
        module_admin,
        db_session,
        related,
        "contracts",
        {"amount": amount},
        "amount",
        "合同金额不能小于 0。",
        ["amount"],
    )


@pytest.mark.parametrize(
    "amount, message",
    [
        ("abc", "合同金额"),
        ("NaN", "合同金额"),
        ("1e999999", "合同金额数值过大。"),
        ("1000000000000", "合同金额数值过大。"),
        ("12.345", "合同金额最多保留 2 位小数。"),
    ],
)
def test_amount_that_does_not_fit(module_admin, db_session, related, amount, message):
    module = BY_BASE["contracts"]
    response = module_admin.post("/contracts/add", {**module.form(related), "amount": amount})
    assert response.status_code == 200
    assert message in field_errors(response).get("amount", ""), field_errors(response)
    assert _count(db_session, Contract) == 0


def test_largest_amount_that_fits_is_stored_exactly(module_admin, db_session, related):
    module = BY_BASE["contracts"]
    response = module_admin.post(
        "/contracts/add", {**module.form(related), "amount": "999999999999.99"}
    )
    assert response.status_code == 302, field_errors(response)
    assert db_session.scalar(select(Contract.amount)) == Decimal("999999999999.99")


@pytest.mark.parametrize("seats", ["0", "-1"])
def test_license_seats_at_least_one(module_admin, db_session, related, seats):
    refused(
        module_admin,
        db_session,
        related,
        "licenses",
        {"seats": seats},
        "seats",
        "授权个数不能小于 1。",
        ["seats", "serial"],
    )


def test_license_valid_to_before_valid_from(module_admin, db_session, related):
    refused(
        module_admin,
        db_session,
        related,
        "licenses",
        {"valid_from": "2026-07-01", "valid_to": "2026-06-30"},
        "valid_to",
        "终止日期不能早于起始日期。",
        ["valid_from", "valid_to"],
    )


def test_feedback_resolved_before_created(module_admin, db_session, related):
    refused(
        module_admin,
        db_session,
        related,
        "feedback",
        {
            "created_at": "2026-03-01 10:00:00",
            "resolved_at": "2026-03-01 09:00:00",
            "cause": "网络故障",
        },
        "resolved_at",
        "解决日期不能早于",
        ["created_at", "resolved_at"],
    )


def test_license_product_of_another_customer(module_admin, db_session, related):
    foreign = make_product(customer=make_customer()).id
    refused(
        module_admin,
        db_session,
        related,
        "licenses",
        {"product": foreign},
        "product",
        "产品属于其他客户，请选择本客户的记录。",
        ["product", "serial"],
    )


def test_feedback_reporter_of_another_customer(module_admin, db_session, related):
    foreign = make_reporter(customer=make_customer()).id
    refused(
        module_admin,
        db_session,
        related,
        "feedback",
        {"reporter": foreign},
        "reporter",
        "反馈人员属于其他客户",
        ["reporter", "problem"],
    )


@pytest.mark.parametrize(
    "base, field, make, label",
    [
        ("customers", "code", lambda: make_customer(code="DUP-1"), "客户编码"),
        ("contracts", "number", lambda: make_contract(number="DUP-1"), "合同编号"),
        ("licenses", "serial", lambda: make_license(serial="DUP-1"), "授权序列号"),
    ],
    ids=["customer-code", "contract-number", "license-serial"],
)
def test_duplicate_is_named_not_a_500(module_admin, db_session, related, base, field, make, label):
    make()
    refused(
        module_admin,
        db_session,
        related,
        base,
        {field: "DUP-1"},
        field,
        f"{label}“DUP-1”已被使用",
        [field],
    )


@pytest.mark.parametrize(
    "base, field, make",
    [
        ("customers", "code", lambda: make_customer(code="DUP-2")),
        ("contracts", "number", lambda: make_contract(number="DUP-2")),
        ("licenses", "serial", lambda: make_license(serial="DUP-2")),
    ],
    ids=["customer-code", "contract-number", "license-serial"],
)
def test_editing_into_a_duplicate_is_refused(module_admin, db_session, related, base, field, make):
    make()
    module = BY_BASE[base]
    assert module_admin.post(f"/{base}/add", module.form(related)).status_code == 302
    item = db_session.scalar(
        select(module.model).where(getattr(module.model, module.key[0]) == module.key[1])
    )
    response = module_admin.post(
        f"/{base}/edit/{item.id}", {**module.form(related), field: "DUP-2"}
    )
    assert response.status_code == 200
    assert "已被使用" in field_errors(response).get(field, "")
    db_session.expire_all()
    assert getattr(db_session.get(module.model, item.id), field) == module.key[1]
    # saving it unchanged is not a clash with itself
    response = module_admin.post(f"/{base}/edit/{item.id}", module.form(related))
    assert response.status_code == 302, field_errors(response)


@pytest.mark.parametrize(
    "base, field, value",
    [
        ("customers", "status", "bogus"),
        ("customers", "category", "Retail chain"),
        ("customers", "importance", "D"),
        ("contacts", "status", "'; drop table contact; --"),
        ("feedback", "level", "critical"),
        ("feedback", "status", "done"),
    ],
)
def test_unknown_enum_code_is_refused_not_a_500(
    module_admin, db_session, related, base, field, value
):
    module = BY_BASE[base]
    before = _count(db_session, module.model)
    response = module_admin.post(f"/{base}/add", {**module.form(related), field: value})
    assert response.status_code == 200
    assert field_errors(response).get(field), field_errors(response)
    assert _count(db_session, module.model) == before


@pytest.mark.parametrize(
    "base, overrides, message",
    [
        ("contacts", {"customer": "999999"}, "请从列表中选择客户。"),
        ("contacts", {"customer": "abc"}, "请从列表中选择客户。"),
        ("licenses", {"product": "999999"}, "请从列表中选择产品。"),
        ("feedback", {"engineer": "999999"}, "请从列表中选择跟踪工程师。"),
        ("customers", {"status": "weird"}, "请从列表中选择客户状态。"),
        ("contracts", {"sign_date": "2026-13-45"}, "签订日期必须是日期，例如 2026-01-31。"),
        ("contracts", {"sign_date": "昨天"}, "签订日期必须是日期，例如 2026-01-31。"),
        (
            "feedback",
            {"created_at": "2026-03-01 25:00:00"},
            "创建日期必须是日期和时间，例如 2026-01-31 09:30。",
        ),
        ("licenses", {"seats": "十"}, "授权个数必须是整数。"),
        ("licenses", {"seats": "99999999999999999999"}, "授权个数数值过大。"),
        ("customers", {"code": "C" * 21}, "客户编码最多只能有 20 个字符（您输入了 21 个）。"),
        ("customers", {"name": "名" * 201}, "公司名称最多只能有 200 个字符（您输入了 201 个）。"),
    ],
    ids=lambda v: "-".join(f"{k}" for k in v) if isinstance(v, dict) else None,
)
def test_malformed_input_is_refused_with_what_to_correct(
    module_admin, db_session, related, base, overrides, message
):
    """A value that cannot be read is told what it must be, naming the field; never a 500."""
    module = BY_BASE[base]
    before = _count(db_session, module.model)
    response = module_admin.post(f"/{base}/add", {**module.form(related), **overrides})
    assert response.status_code == 200
    field = next(iter(overrides))
    assert field_errors(response).get(field) == message, field_errors(response)
    assert _count(db_session, module.model) == before


def test_code_with_spaces_is_stored_stripped_and_counts_as_a_duplicate(
    module_admin, db_session, related
):
    module = BY_BASE["customers"]
    assert (
        module_admin.post("/customers/add", {**module.form(related), "code": " C777 "}).status_code
        == 302
    )
    assert db_session.scalar(select(Customer.code).where(Customer.code.like("%C777%"))) == "C777"
    response = module_admin.post("/customers/add", {**module.form(related), "code": "C777"})
    assert "已被使用" in field_errors(response).get("code", "")
