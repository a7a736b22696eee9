"""Schemathesis against the app's own OpenAPI spec: no request to the REST API is a 500.

Every operation of ``/api/v1/_openapi`` (the seven modules' list, show, add,
edit, delete and info, and the JSON login) gets requests that schemathesis
builds from the spec, valid and invalid alike, as the admin (who may do
everything, so the requests reach the rules and the database rather than
stopping at a 403). Derandomized: the same requests on every run. A record of
each kind exists, so the id-taking operations also find something.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import make_contact, make_contract, make_feedback, make_license, make_product


@pytest.fixture(scope="module")
def bearer(jwt_headers):
    return jwt_headers("admin")


@pytest.fixture
def known_ids(db_session):
    """A record of each module, all of one customer: ``{"customers": id, ...}``."""
    feedback = make_feedback()
    product = make_product(customer=feedback.customer)
    return {
        "customers": feedback.customer_id,
        "reporters": feedback.reporter_id,
        "feedback": feedback.id,
        "products": product.id,
        "licenses": make_license(product=product).id,
        "contacts": make_contact(customer=feedback.customer).id,
        "contracts": make_contract(customer=feedback.customer).id,
    }


@pytest.fixture
def api_schema(app, bearer, known_ids):
    return schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=bearer)


def cases_for(operation, known_ids):
    """Schemathesis' cases, and for ``…/{pk}`` as many again aimed at an existing record."""
    cases = operation.as_strategy()
    module = operation.path.split("/")[3] if operation.path.count("/") > 3 else ""
    if "{pk}" not in operation.path or module not in known_ids:
        return cases

    def at_known_record(case):
        case.path_parameters = {**(case.path_parameters or {}), "pk": known_ids[module]}
        return case

    return st.one_of(cases, cases.map(at_known_record))


FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_no_request_is_a_server_error(api_schema, bearer, known_ids):
    """One hypothesis run per operation (schemathesis' own pytest plugin needs pytest < 9)."""
    operations = sorted(  # deletes last, so the other operations find the records
        (result.ok() for result in api_schema.get_all_operations()),
        key=lambda operation: (operation.method.upper() == "DELETE", operation.label),
    )
    assert len(operations) >= 7 * 5, [operation.label for operation in operations]
    server_errors = []

    for operation in operations:

        @FUZZ
        @given(case=cases_for(operation, known_ids))
        def requests_to(case):
            response = case.call(headers=bearer)
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code} "
                    f"query={case.query!r} body={case.body!r}: {response.text[:200]}"
                )

        requests_to()
    assert not server_errors, "\n".join(server_errors[:20])
