"""Linked records: a reference to another record is a link to its page when the
reader may open that module, and plain text when they may not."""

from __future__ import annotations

from markupsafe import escape

from factories import make_contract, make_customer, make_feedback, make_product, make_reporter


def _page(visitor, url: str) -> str:
    response = visitor.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_a_contract_links_its_customer_on_the_list_and_the_show_page(db_session, signed_in):
    customer = make_customer(name="链接测试<客户>")
    contract = make_contract(customer)
    name = escape(str(customer))
    assert "链接测试&lt;客户&gt;" in name
    link = f'<a href="/customers/show/{customer.id}" class="record-link">{name}</a>'
    assert link in _page(signed_in("sales"), "/contracts/list/")
    assert link in _page(signed_in("sales"), f"/contracts/show/{contract.id}")


def test_a_module_the_reader_may_not_open_is_plain_text(db_session, signed_in):
    """The engineer reads feedback and products, not customers or reporters."""
    product = make_product(name="收银系统定制版")
    feedback = make_feedback(product=product)
    engineer = signed_in("engineer")
    for url in ("/feedback/list/", f"/feedback/show/{feedback.id}"):
        page = _page(engineer, url)
        assert f"/customers/show/{feedback.customer_id}" not in page
        assert str(feedback.customer) in page
    show = _page(engineer, f"/feedback/show/{feedback.id}")
    assert f'href="/products/show/{product.id}"' in show
    assert f"/reporters/show/{feedback.reporter_id}" not in show
    support = _page(signed_in("support"), f"/feedback/show/{feedback.id}")
    assert f'href="/customers/show/{feedback.customer_id}"' in support
    assert f'href="/reporters/show/{feedback.reporter_id}"' in support


def test_a_linked_record_opens_for_the_reader(db_session, signed_in):
    reporter = make_reporter()
    feedback = make_feedback(reporter=reporter)
    support = signed_in("support")
    page = _page(support, f"/feedback/show/{feedback.id}")
    assert f'href="/reporters/show/{reporter.id}"' in page
    assert support.get(f"/reporters/show/{reporter.id}").status_code == 200


def test_three_clicks_from_a_feedback_to_its_customers_contracts(db_session, signed_in):
    """The feedback list links the customer; the customer's page opens its contracts
    as the contract list filtered to it."""
    feedback = make_feedback()
    customer = feedback.customer
    mine, other = make_contract(customer), make_contract()
    admin = signed_in("admin")
    assert f'href="/customers/show/{customer.id}"' in _page(admin, "/feedback/list/")
    show = _page(admin, f"/customers/show/{customer.id}")
    link = f"/contracts/list/?_flt_0_customer={customer.id}"
    assert f'href="{link}"' in show
    assert "在列表中打开" in show
    contracts = _page(admin, link)
    assert mine.number in contracts and other.number not in contracts
