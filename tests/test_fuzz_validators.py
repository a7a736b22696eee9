"""Property tests of the record rules (app/services/validation.py) with hypothesis.

Each rule must never raise, whatever text arrives; accept every value a
generator builds by the rule's own definition (mainland phones, GB 11643
national IDs, codes, e-mail addresses, amounts, date ranges, texts that fit
their column); and refuse every value built to break it with a Chinese
message that names the field. Derandomized: the same examples on every run.
"""

from __future__ import annotations

import re
import string
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String

from app.models import Contact, Contract, Customer, Feedback, License, Product, Reporter
from app.models.labels import label_of
from app.services.validation import (
    is_valid_national_id,
    is_valid_phone,
    national_id_check_digit,
    validate,
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
DIGITS = "0123456789"


@pytest.fixture
def zh(app):
    """A request in the default language (Chinese), with the database at hand."""
    with app.test_request_context("/"):
        yield


def refused_in_chinese(errors: dict, model, field: str) -> None:
    assert field in errors, errors
    message = errors[field]
    assert CHINESE.search(message), message
    assert str(label_of(model, field)) in message, message


# ---------------------------------------------------------------- generators


def digits(n: int):
    return st.text(alphabet=DIGITS, min_size=n, max_size=n)


mobiles = st.builds(
    lambda prefix, second, rest: f"{prefix}1{second}{rest}",
    st.sampled_from(["", "+86", "86", "+86 ", "86-"]),
    st.sampled_from("3456789"),
    digits(9),
)
landlines = st.builds(
    lambda area, first, rest, ext: f"{area}{first}{rest}{ext}",
    st.sampled_from(["", "021", "010-", "0755 ", "0571-"]),
    st.sampled_from("123456789"),
    st.one_of(digits(6), digits(7)),
    st.one_of(st.just(""), st.builds(lambda d: "-" + d, digits(3))),
)
service_lines = st.builds(
    lambda first, a, b, sep: f"{first}00{sep}{a}{sep}{b}",
    st.sampled_from("48"),
    digits(3),
    digits(4),
    st.sampled_from(["", "-"]),
)
phones = st.one_of(mobiles, landlines, service_lines)

bad_phones = st.one_of(
    st.builds(lambda d: "1" + d, st.one_of(digits(9), digits(11))),  # 10 or 12 digits
    st.builds(lambda d: "12" + d, digits(9)),  # no mobile starts 12
    st.builds(lambda d: "１３８" + d, digits(8)),  # full-width digits
    st.builds(lambda d, c: d + c, digits(11), st.sampled_from("abcxyz#*")),
    st.text(alphabet=string.ascii_letters + "中文电话", min_size=1, max_size=20),
)


@st.composite
def national_ids(draw, valid: bool = True):
    region = draw(digits(6))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    first_17 = region + born.strftime("%Y%m%d") + draw(digits(3))
    check = national_id_check_digit(first_17)
    if valid:
        return first_17 + draw(st.sampled_from([check, check.lower()]))
    wrong = draw(st.sampled_from([d for d in "0123456789X" if d != check]))
    return first_17 + wrong


bad_dates_ids = st.builds(
    lambda region, month, rest: region + "1990" + month + "15" + rest,
    digits(6),
    st.sampled_from(["00", "13", "99"]),
    digits(4),
)
codes = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,19}\Z")
bad_codes = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.from_regex(r"\A[A-Za-z0-9]{1,5}\Z"),
    st.sampled_from([" ", "客", "'", ";", "<", "/", ".", "😀", "\u200f"]),
    st.from_regex(r"\A[A-Za-z0-9]{1,5}\Z"),  # inside: blanks around a code are stripped
)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"\A[a-z0-9][a-z0-9._+-]{0,15}\Z"),
    st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,15}\Z"),
    st.sampled_from(["cn", "com", "com.cn", "net"]),
)
bad_emails = st.one_of(
    st.from_regex(r"\A[a-z0-9.]{1,10}\Z"),  # no @ at all
    st.builds(
        lambda a, b: f"{a}@{b}", st.from_regex(r"\A[a-z]{1,5}\Z"), st.from_regex(r"\A[a-z]{1,5}\Z")
    ),
    st.builds(lambda a: f"{a} x@example.com", st.from_regex(r"\A[a-z]{1,5}\Z")),
    st.builds(lambda a: f"{a}@@example.com", st.from_regex(r"\A[a-z]{1,5}\Z")),
)
amounts = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2)
any_text = st.text(max_size=300)  # every code point hypothesis likes, NUL and surrogates aside


# ---------------------------------------------------------------- never raises


@FUZZ
@given(value=any_text)
def test_predicates_never_raise(value):
    assert isinstance(is_valid_phone(value), bool)
    assert isinstance(is_valid_national_id(value), bool)


@FUZZ
@given(
    model=st.sampled_from([Customer, Contact, Contract, Product, License, Reporter, Feedback]),
    values=st.dictionaries(
        st.sampled_from(
            [
                "code",
                "name",
                "phone",
                "email",
                "national_id",
                "number",
                "amount",
                "seats",
                "sign_date",
                "end_date",
                "valid_from",
                "valid_to",
                "problem",
                "store",
                "address",
            ]
        ),
        st.one_of(st.none(), any_text, st.integers(), st.floats(), st.dates(), st.decimals()),
    ),
)
def test_validate_never_raises_and_answers_in_chinese(zh, db_session, model, values):
    errors = validate(model, values)
    for field, message in errors.items():
        assert CHINESE.search(message), (field, message)


# ---------------------------------------------------------------- phones


@FUZZ
@given(number=phones)
def test_generated_phones_are_accepted(zh, db_session, number):
    assert is_valid_phone(number), number
    assert "phone" not in validate(Reporter, dict(phone=number))


@FUZZ
@given(number=bad_phones)
def test_broken_phones_are_refused(zh, db_session, number):
    assert not is_valid_phone(number), number
    refused_in_chinese(validate(Reporter, dict(phone=number)), Reporter, "phone")


# ---------------------------------------------------------------- national IDs


@FUZZ
@given(number=national_ids())
def test_ids_with_their_check_digit_are_accepted(zh, db_session, number):
    assert is_valid_national_id(number), number
    assert "national_id" not in validate(Contact, dict(national_id=number))


@FUZZ
@given(number=st.one_of(national_ids(valid=False), bad_dates_ids, digits(17), digits(19)))
def test_ids_with_a_wrong_check_digit_date_or_length_are_refused(zh, db_session, number):
    assert not is_valid_national_id(number), number
    refused_in_chinese(validate(Contact, dict(national_id=number)), Contact, "national_id")


# ---------------------------------------------------------------- codes, e-mail


@FUZZ
@given(code=codes)
def test_codes_of_letters_digits_dash_underscore_are_accepted(zh, db_session, code):
    assert "code" not in validate(Customer, dict(code=code, name="客户"))


@FUZZ
@given(code=bad_codes)
def test_codes_with_other_characters_are_refused(zh, db_session, code):
    refused_in_chinese(validate(Customer, dict(code=code, name="客户")), Customer, "code")


@FUZZ
@given(address=emails)
def test_generated_emails_are_accepted(zh, db_session, address):
    assert "email" not in validate(Reporter, dict(email=address))


@FUZZ
@given(address=bad_emails)
def test_broken_emails_are_refused(zh, db_session, address):
    refused_in_chinese(validate(Reporter, dict(email=address)), Reporter, "email")


# ---------------------------------------------------------------- dates, amounts


@FUZZ
@given(
    start=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    days=st.integers(min_value=-4000, max_value=4000),
)
def test_end_dates_before_their_start_are_refused_and_others_accepted(zh, db_session, start, days):
    end = start + timedelta(days=days)
    errors = validate(Contract, dict(sign_date=start, end_date=end))
    if days < 0:
        refused_in_chinese(errors, Contract, "end_date")
    else:
        assert "end_date" not in errors
    errors = validate(License, dict(valid_from=start, valid_to=end))
    assert ("valid_to" in errors) == (days < 0)


@FUZZ
@given(amount=amounts)
def test_amounts_that_fit_the_column_are_accepted(zh, db_session, amount):
    assert "amount" not in validate(Contract, dict(amount=amount))
    assert "amount" not in validate(Contract, dict(amount=str(amount)))


@FUZZ
@given(
    amount=st.one_of(
        st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False),
        st.decimals(min_value=Decimal("1E12"), max_value=Decimal("1E30"), places=2),
        st.decimals(min_value=0, max_value=1000, places=3).filter(
            lambda d: d != d.quantize(Decimal("0.01"))
        ),
        st.sampled_from([Decimal("NaN"), Decimal("Infinity"), "abc", "1e999", "-Infinity"]),
    )
)
def test_negative_huge_over_precise_or_non_numbers_are_refused(zh, db_session, amount):
    refused_in_chinese(validate(Contract, dict(amount=amount)), Contract, "amount")


@FUZZ
@given(seats=st.one_of(st.integers(max_value=0), st.integers(min_value=2**31)))
def test_seats_below_one_or_beyond_the_column_are_refused(zh, db_session, seats):
    refused_in_chinese(validate(License, dict(seats=seats)), License, "seats")


# ---------------------------------------------------------------- texts and their columns

STRING_COLUMNS = [
    (model, column.key, column.type.length)
    for model in (Customer, Contact, Contract, Product, License, Reporter, Feedback)
    for column in model.__table__.columns
    if type(column.type) is String and column.type.length
]


@pytest.mark.parametrize(
    "model, field, length",
    STRING_COLUMNS,
    ids=[f"{model.__tablename__}.{field}" for model, field, _ in STRING_COLUMNS],
)
def test_every_string_column_refuses_one_character_too_many(zh, db_session, model, field, length):
    """PostgreSQL refuses a VARCHAR(n) value of n+1 characters: the rules say so first."""
    refused_in_chinese(validate(model, {field: "长" * (length + 1)}), model, field)
    too_long = _length_errors(model, field, "长" * (length + 1))
    refused_in_chinese(too_long, model, field)
    assert str(length) in too_long[field]
    assert field not in _length_errors(model, field, "长" * length)


def _length_errors(model, field, value):
    """Errors of the column rule only (a full-length code may break the format rule)."""
    from app.services.validation import fits_columns

    return dict(fits_columns({field: value}, model, None))


@FUZZ
@given(text=st.text(min_size=1, max_size=200).filter(lambda t: "\x00" not in t))
def test_any_text_that_fits_passes_the_column_rule(zh, db_session, text):
    assert _length_errors(Feedback, "problem", text) == {}  # VARCHAR(500)
    assert _length_errors(Feedback, "details", text * 60) == {}  # TEXT: no limit


@FUZZ
@given(head=st.text(max_size=20), tail=st.text(max_size=20))
def test_nul_characters_are_refused_in_every_text(zh, db_session, head, tail):
    value = head + "\x00" + tail
    for model, field in ((Reporter, "name"), (Feedback, "details"), (Customer, "code")):
        refused_in_chinese(validate(model, {field: value}), model, field)
