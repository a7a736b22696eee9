"""The spec at /api/v1/_openapi is a valid OpenAPI document.

Clients generate code from it and schemathesis fuzzes from it, so an invalid
spec (an operation without ``responses``, a broken ``$ref``) breaks them
first. Checked with ``openapi-spec-validator`` against the spec as served.
"""

from __future__ import annotations

from openapi_spec_validator.shortcuts import get_validator_cls


def served_spec(app, jwt_headers) -> dict:
    response = app.test_client().get("/api/v1/_openapi", headers=jwt_headers("sales"))
    assert response.status_code == 200, response.json
    return response.json


def test_the_served_spec_is_valid_openapi(app, jwt_headers):
    spec = served_spec(app, jwt_headers)
    validator = get_validator_cls(spec)(spec)  # by the document's "openapi" version
    problems = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors()
    ]
    assert not problems, "\n".join(problems)


def test_the_sign_in_documents_its_answers(app, jwt_headers):
    """The app's own JSON login describes its body and its answers, the lock-out (429) too."""
    spec = served_spec(app, jwt_headers)
    login = spec["paths"]["/api/v1/security/login"]["post"]
    assert {"200", "400", "401", "429", "500"} <= set(login["responses"])
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"username", "password", "provider"}
    assert body["properties"]["provider"]["enum"] == ["db"]
