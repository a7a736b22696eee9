"""``crm alerts``: exactly the licenses and contracts whose last day is in the window."""

from __future__ import annotations

from datetime import date

import pytest

from app.services.licenses import contracts_ending, licenses_ending
from factories import make_contract, make_customer, make_license, make_product

TODAY = date(2026, 6, 15)
D = date


@pytest.fixture
def frozen_today(monkeypatch):
    for target in ("app.services.licenses.today", "app.cli.licenses.today"):
        monkeypatch.setattr(target, lambda: TODAY)
    return TODAY


@pytest.fixture
def endings(db_session):
    """Licenses and contracts ending around TODAY, named by where they fall."""
    product = make_product(
        customer=make_customer(code="C-ALERT", name="警报测试客户"),
        name="门店管理系统",
        version="5.2",
    )
    licenses = {
        "LIC-YESTERDAY": (D(2026, 1, 1), D(2026, 6, 14), False),
        "LIC-TODAY": (D(2026, 1, 1), D(2026, 6, 15), False),
        "LIC-DAY-30": (D(2026, 1, 1), D(2026, 7, 15), False),
        "LIC-DAY-31": (D(2026, 1, 1), D(2026, 7, 16), False),
        "LIC-TRIAL-DAY-5": (D(2026, 5, 21), D(2026, 6, 20), True),
        "LIC-NEXT-YEAR": (D(2026, 1, 1), D(2027, 6, 15), False),
    }
    for serial, (valid_from, valid_to, trial) in licenses.items():
        make_license(
            product=product, serial=serial, valid_from=valid_from, valid_to=valid_to, is_trial=trial
        )
    contracts = {
        "HT-YESTERDAY": D(2026, 6, 14),
        "HT-TODAY": D(2026, 6, 15),
        "HT-DAY-30": D(2026, 7, 15),
        "HT-DAY-31": D(2026, 7, 16),
        "HT-OPEN-ENDED": None,
    }
    for number, end_date in contracts.items():
        make_contract(
            customer=product.customer, number=number, sign_date=D(2025, 1, 1), end_date=end_date
        )
    return licenses, contracts


def mentioned(output: str, names) -> set[str]:
    return {name for name in names if name in output.split()}


def test_services_list_exactly_the_window(endings):
    assert [item.serial for item in licenses_ending(TODAY, 30)] == [
        "LIC-TODAY",
        "LIC-TRIAL-DAY-5",
        "LIC-DAY-30",
    ]
    assert [item.number for item in contracts_ending(TODAY, 30)] == ["HT-TODAY", "HT-DAY-30"]
    assert [item.serial for item in licenses_ending(TODAY, 0)] == ["LIC-TODAY"]
    assert [item.number for item in contracts_ending(TODAY, 31)] == [
        "HT-TODAY",
        "HT-DAY-30",
        "HT-DAY-31",
    ]


def test_alerts_command_lists_the_default_window(app, frozen_today, endings):
    licenses, contracts = endings
    result = app.test_cli_runner().invoke(args=["crm", "alerts"])
    assert result.exit_code == 0, result.output
    assert mentioned(result.output, licenses) == {"LIC-TODAY", "LIC-TRIAL-DAY-5", "LIC-DAY-30"}
    assert mentioned(result.output, contracts) == {"HT-TODAY", "HT-DAY-30"}
    assert "30 天内到期的授权：3 个" in result.output
    assert "30 天内到期的合同：2 份" in result.output
    assert "今天到期" in result.output and "还剩 30 天" in result.output
    assert "试用" in result.output and "警报测试客户" in result.output


def test_alerts_command_honours_days(app, frozen_today, endings):
    licenses, contracts = endings
    result = app.test_cli_runner().invoke(args=["crm", "alerts", "--days", "0"])
    assert result.exit_code == 0
    assert mentioned(result.output, licenses) == {"LIC-TODAY"}
    assert mentioned(result.output, contracts) == {"HT-TODAY"}

    result = app.test_cli_runner().invoke(args=["crm", "alerts", "--days", "400"])
    assert mentioned(result.output, licenses) == set(licenses) - {"LIC-YESTERDAY"}
    assert mentioned(result.output, contracts) == {"HT-TODAY", "HT-DAY-30", "HT-DAY-31"}


def test_alerts_command_says_when_nothing_ends(app, frozen_today, db_session):
    make_license(valid_from=D(2026, 1, 1), valid_to=D(2027, 1, 1))
    result = app.test_cli_runner().invoke(args=["crm", "alerts", "--days", "7"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "7 天内没有到期的授权或合同。"
    assert len(result.output.splitlines()) == 2  # and the mail server's absence (test_reminders)


@pytest.mark.parametrize("days", ["-1", "abc"])
def test_alerts_command_refuses_a_bad_window(app, days):
    result = app.test_cli_runner().invoke(args=["crm", "alerts", "--days", days])
    assert result.exit_code == 2


def test_alerts_command_lists_instalments_due_within_a_week_and_overdue(
    app, frozen_today, db_session, monkeypatch
):
    from decimal import Decimal

    from factories import make_payment, make_plan

    monkeypatch.setattr("app.services.payments.today", lambda: TODAY)
    contract = make_contract(number="HT-PAY", amount=Decimal("3000.00"))
    make_plan(contract, instalment=1, planned_date=D(2026, 5, 1), planned_amount=Decimal(1000))
    make_plan(contract, instalment=2, planned_date=D(2026, 6, 20), planned_amount=Decimal(1000))
    make_plan(contract, instalment=3, planned_date=D(2026, 7, 20), planned_amount=Decimal(1000))
    make_payment(contract, amount=Decimal("400.00"), paid_on=D(2026, 5, 2))
    paid = make_contract(number="HT-PAID", amount=Decimal("500.00"))
    make_plan(paid, instalment=1, planned_date=D(2026, 6, 1), planned_amount=Decimal(500))
    make_payment(paid, amount=Decimal("500.00"), paid_on=D(2026, 6, 1))
    result = app.test_cli_runner().invoke(args=["crm", "alerts", "--days", "0"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "7 天内到期的回款计划：1 期" in output
    assert "逾期的回款计划：1 期" in output
    assert "2026-06-20  还剩 5 天" in output and "第 2 期  ¥1,000.00" in output
    assert "2026-05-01  逾期 45 天" in output and "第 1 期  ¥600.00" in output
    assert "HT-PAID" not in output and "第 3 期" not in output
