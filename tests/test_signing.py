"""Signed license files: sign → verify, every way a file can be wrong, downloads, the CLI."""

from __future__ import annotations

import base64
import json
import logging
import re
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.services.signing import (
    SigningKeyMissing,
    Verdict,
    key_id,
    key_path,
    license_file,
    license_payload,
    load_private_key,
    public_key_pem,
    sign_payload,
    verify_file,
)
from factories import make_customer, make_license, make_product

ON = date(2026, 6, 15)
ISSUED = datetime(2026, 6, 15, 2, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "licenses.md"
README = ROOT / "README.md"


@pytest.fixture
def license_row(db_session):
    product = make_product(
        customer=make_customer(code="C-SIGN"), name="门店管理系统", version="5.2"
    )
    return make_license(
        product=product,
        serial="SN-SIGN-0001",
        seats=10,
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
        machine_info="收银机 3 台",
    )


@pytest.fixture
def expired_row(db_session):
    return make_license(
        serial="SN-OLD-0001", valid_from=date(2025, 1, 1), valid_to=date(2025, 12, 31)
    )


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield


def change_one_byte(content: bytes) -> bytes:
    """The file with one byte of the signed payload changed (10 seats → 90)."""
    changed = content.replace(b'\\"seats\\":10', b'\\"seats\\":90', 1)
    assert changed != content and len(changed) == len(content)
    return changed


# ------------------------------------------------------------------ the service


def test_sign_then_verify_round_trip(license_row):
    name, content = license_file(license_row, issued_at=ISSUED)
    assert name == "SN-SIGN-0001.lic"
    result = verify_file(content, on=ON)
    assert result.verdict is Verdict.valid
    assert result.payload == {
        "customer_code": "C-SIGN",
        "product": "门店管理系统",
        "product_version": "5.2",
        "serial": "SN-SIGN-0001",
        "seats": 10,
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "trial": False,
        "machine_info": "收银机 3 台",
        "issued_at": "2026-06-15T02:30:00+00:00",
    }
    document = json.loads(content)
    assert document["algorithm"] == "Ed25519"
    assert document["key_id"] == key_id(load_private_key().public_key())


def test_one_changed_byte_is_tampered(license_row):
    _name, content = license_file(license_row, issued_at=ISSUED)
    result = verify_file(change_one_byte(content), on=ON)
    assert result.verdict is Verdict.tampered and result.payload is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"payload": "{}"}',
        b'{"payload": "{}", "signature": "%%%"}',
        "授权".encode("gbk"),
    ],
)
def test_damaged_files_are_tampered(app_context, content):
    assert verify_file(content, on=ON).verdict is Verdict.tampered


def test_expired_file_is_expired(expired_row):
    _name, content = license_file(expired_row, issued_at=ISSUED)
    result = verify_file(content, on=ON)
    assert result.verdict is Verdict.expired
    assert result.payload["valid_to"] == "2025-12-31"


def test_file_not_valid_yet(license_row):
    _name, content = license_file(license_row, issued_at=ISSUED)
    assert verify_file(content, on=date(2025, 12, 31)).verdict is Verdict.not_yet_valid
    assert verify_file(content, on=date(2026, 12, 31)).verdict is Verdict.valid
    assert verify_file(content, on=date(2027, 1, 1)).verdict is Verdict.expired


def test_file_signed_by_another_key_is_wrong_key(license_row):
    other = Ed25519PrivateKey.generate()
    content = sign_payload(license_payload(license_row, ISSUED), other)
    assert verify_file(content, on=ON).verdict is Verdict.wrong_key
    # and the other key's holder finds it valid
    assert verify_file(content, other.public_key(), on=ON).verdict is Verdict.valid


def test_verdict_messages_are_chinese(app):
    with app.test_request_context("/"):
        messages = {verdict.name: str(verdict) for verdict in Verdict}
    assert messages == {
        "valid": "授权文件有效。",
        "expired": "授权文件已过期。",
        "not_yet_valid": "授权文件尚未生效。",
        "tampered": "授权文件已被篡改或已损坏。",
        "wrong_key": "授权文件不是用本系统的密钥签发的（密钥不符）。",
    }


# ------------------------------------------------------------------ the key


def test_private_key_is_created_once_with_owner_only_permissions(app, app_context):
    first = load_private_key()
    path = key_path()
    assert path == Path(app.instance_path) / "license_signing_key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_private_key()
    assert key_id(first.public_key()) == key_id(second.public_key())


def test_configured_key_path_is_used_and_must_exist(app, tmp_path, monkeypatch, license_row):
    configured = tmp_path / "vendor.pem"
    monkeypatch.setitem(app.config, "CRM_LICENSE_KEY_PATH", str(configured))
    with pytest.raises(SigningKeyMissing):
        load_private_key()
    assert not configured.exists()

    own = Ed25519PrivateKey.generate()
    configured.write_bytes(
        own.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    _name, content = license_file(license_row, issued_at=ISSUED)
    assert json.loads(content)["key_id"] == key_id(own.public_key())
    assert verify_file(content, own.public_key(), on=ON).verdict is Verdict.valid


def test_missing_configured_key_is_a_message_not_a_500(
    app, tmp_path, monkeypatch, license_row, login_as
):
    monkeypatch.setitem(app.config, "CRM_LICENSE_KEY_PATH", str(tmp_path / "absent.pem"))
    sales = login_as("sales")
    response = sales.get(f"/licenses/license-file/{license_row.id}", follow_redirects=True)
    assert response.status_code == 200
    assert "缺少授权签名密钥" in response.get_data(as_text=True)
    assert sales.get("/licenses/public-key.pem").status_code == 503


# ------------------------------------------------------------------ downloads


def test_license_file_download_verifies(license_row, login_as, app):
    sales = login_as("sales")
    show = sales.get(f"/licenses/show/{license_row.id}").get_data(as_text=True)
    assert f"/licenses/license-file/{license_row.id}" in show
    assert "下载授权文件" in show and "下载公钥" in show

    response = sales.get(f"/licenses/license-file/{license_row.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="SN-SIGN-0001.lic"'
    with app.app_context():
        assert verify_file(response.data, on=ON).verdict is Verdict.valid


def test_public_key_download(license_row, login_as, app):
    response = login_as("support").get("/licenses/public-key.pem")
    assert response.status_code == 200
    assert response.data.startswith(b"-----BEGIN PUBLIC KEY-----")
    with app.app_context():
        assert response.data == public_key_pem()


def test_downloads_are_refused_without_license_read(license_row, login_as, reader_without_license):
    refused = login_as(reader_without_license)
    assert refused.get(f"/licenses/license-file/{license_row.id}").status_code == 403
    assert refused.get("/licenses/public-key.pem").status_code == 403
    assert refused.get(f"/licenses/show/{license_row.id}").status_code == 403


def test_downloads_send_anonymous_visitors_to_sign_in(license_row, visitor):
    for url in (f"/licenses/license-file/{license_row.id}", "/licenses/public-key.pem"):
        response = visitor.get(url)
        assert response.status_code == 302 and "/login/" in response.headers["Location"], url


@pytest.mark.parametrize("username", ["sales", "support", "engineer", "manager", "admin"])
def test_every_license_reader_downloads(license_row, login_as, username):
    reader = login_as(username)
    assert reader.get(f"/licenses/license-file/{license_row.id}").status_code == 200
    assert reader.get("/licenses/public-key.pem").status_code == 200


def test_unknown_license_file_is_404(app_context, login_as):
    assert login_as("sales").get("/licenses/license-file/999999").status_code == 404


def test_private_key_is_never_in_a_response_or_a_log(
    license_row, login_as, app, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(app, "instance_path", str(tmp_path))  # a key made during this test
    admin = login_as("admin")
    assert admin.get(f"/licenses/license-file/{license_row.id}").status_code == 200
    assert (tmp_path / "license_signing_key.pem").exists()
    with app.app_context():
        private = load_private_key(create=False)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    raw = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    secrets = [body, raw.hex(), base64.b64encode(raw).decode()]
    urls = [
        "/licenses/list/",
        f"/licenses/show/{license_row.id}",
        f"/licenses/license-file/{license_row.id}",
        "/licenses/public-key.pem",
        "/license-stats/",
        f"/customers/show/{license_row.customer_id}",
        "/api/v1/licenses/",
        "/health",
    ]
    for url in urls:
        response = admin.get(url)
        text = response.get_data(as_text=True)
        assert "PRIVATE KEY" not in text, url
        for secret in secrets:
            assert secret not in text, url
    assert "PRIVATE KEY" not in caplog.text
    for secret in secrets:
        assert secret not in caplog.text
    assert not any(
        "license_signing_key" in url for url in (rule.rule for rule in app.url_map.iter_rules())
    )


# ------------------------------------------------------------------ the command line


def run_verify(app, path, *extra):
    return app.test_cli_runner().invoke(
        args=["crm", "license", "verify", str(path), "--on", ON.isoformat(), *extra]
    )


def test_cli_verify_valid(license_row, app, tmp_path):
    _name, content = license_file(license_row, issued_at=ISSUED)
    path = tmp_path / "good.lic"
    path.write_bytes(content)
    result = run_verify(app, path)
    assert result.exit_code == 0, result.output
    assert "授权文件有效。" in result.output
    assert "SN-SIGN-0001" in result.output and "C-SIGN" in result.output


def test_cli_verify_tampered(license_row, app, tmp_path):
    _name, content = license_file(license_row, issued_at=ISSUED)
    path = tmp_path / "tampered.lic"
    path.write_bytes(change_one_byte(content))
    result = run_verify(app, path)
    assert result.exit_code == 3
    assert "授权文件已被篡改或已损坏。" in result.output
    assert "SN-SIGN" not in result.output  # nothing from an unverified payload


def test_cli_verify_expired(expired_row, app, tmp_path):
    _name, content = license_file(expired_row, issued_at=ISSUED)
    path = tmp_path / "old.lic"
    path.write_bytes(content)
    result = run_verify(app, path)
    assert result.exit_code == 1
    assert "授权文件已过期。" in result.output


def test_cli_verify_wrong_key(license_row, app, tmp_path):
    path = tmp_path / "foreign.lic"
    foreign_key = Ed25519PrivateKey.generate()
    path.write_bytes(sign_payload(license_payload(license_row, ISSUED), foreign_key))
    result = run_verify(app, path)
    assert result.exit_code == 4
    assert "授权文件不是用本系统的密钥签发的" in result.output


def test_cli_verify_with_a_given_public_key(license_row, app, tmp_path):
    other = Ed25519PrivateKey.generate()
    lic = tmp_path / "other.lic"
    lic.write_bytes(sign_payload(license_payload(license_row, ISSUED), other))
    pem = tmp_path / "other.pem"
    pem.write_bytes(public_key_pem(other.public_key()))
    assert run_verify(app, lic, "--public-key", str(pem)).exit_code == 0
    not_a_key = tmp_path / "junk.pem"
    not_a_key.write_text("junk")
    bad = run_verify(app, lic, "--public-key", str(not_a_key))
    assert bad.exit_code == 1 and "不是 Ed25519 公钥" in bad.output


def test_cli_verify_missing_file_is_a_usage_error(app, tmp_path):
    result = run_verify(app, tmp_path / "absent.lic")
    assert result.exit_code == 2


# ------------------------------------------------------------------ the documented snippet


def documented_verifier(document: Path):
    """The standalone function from ``document``, run as the vendor would embed it."""
    text = document.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?def verify_license.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(document), "exec"), namespace)
    return namespace["verify_license"]


@pytest.mark.parametrize("document", [DOCS, README], ids=["docs-licenses", "readme"])
def test_documented_standalone_verifier(license_row, expired_row, login_as, document):
    verify_license = documented_verifier(document)
    sales = login_as("sales")
    public_pem = sales.get("/licenses/public-key.pem").data
    good = sales.get(f"/licenses/license-file/{license_row.id}").data
    assert verify_license(good, public_pem, today=ON)["seats"] == 10
    with pytest.raises(InvalidSignature):
        verify_license(change_one_byte(good), public_pem, today=ON)
    with pytest.raises(ValueError):
        verify_license(
            sales.get(f"/licenses/license-file/{expired_row.id}").data, public_pem, today=ON
        )
    other_pem = public_key_pem(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(InvalidSignature):
        verify_license(good, other_pem, today=ON)
