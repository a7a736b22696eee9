"""Signed license files: an Ed25519 signature over a JSON payload.

A license file is a JSON document::

    {"format": "changyi-license", "version": 1, "algorithm": "Ed25519",
     "key_id": "<16 hex>", "payload": "<JSON text>", "signature": "<base64>"}

``payload`` is the exact UTF-8 text that was signed (kept as a string so that
no re-serialisation is needed to check it); ``key_id`` names the signing key so
that a file signed by another key reads "wrong key" rather than "tampered".

The private key lives in ``CRM_LICENSE_KEY_PATH`` when configured, else in the
instance folder, created once with mode 0600. It is never served or logged:
only the public key and signed files leave this module.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.models import License
from app.models.base import LabeledEnum

FORMAT = "changyi-license"
VERSION = 1
ALGORITHM = "Ed25519"
KEY_FILE_NAME = "license_signing_key.pem"


class SigningKeyMissing(RuntimeError):
    """The configured key file does not exist; ``str()`` says which."""


class Verdict(LabeledEnum):
    valid = _l("The license file is valid.")
    expired = _l("The license file has expired.")
    not_yet_valid = _l("The license file is not valid yet.")
    tampered = _l("The license file has been tampered with or is damaged.")
    wrong_key = _l("The license file was signed with another key.")


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    payload: dict | None = None  # only when the signature checked out


# --- keys -------------------------------------------------------------------


def key_path() -> Path:
    configured = current_app.config.get("CRM_LICENSE_KEY_PATH")
    return Path(configured) if configured else Path(current_app.instance_path) / KEY_FILE_NAME


def load_private_key(create: bool = True) -> Ed25519PrivateKey:
    """The signing key; created on first use in the instance folder only.

    A configured path that does not exist is an error rather than a new key:
    a fresh key would silently invalidate every file issued before.
    """
    path = key_path()
    if not path.exists():
        if current_app.config.get("CRM_LICENSE_KEY_PATH") or not create:
            raise SigningKeyMissing(f"license signing key not found: {path}")
        _create_key_file(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyMissing(f"not an Ed25519 private key: {path}")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key atomically: concurrent workers end up sharing one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):  # another worker won the race
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def public_key(private_key: Ed25519PrivateKey | None = None) -> Ed25519PublicKey:
    return (private_key or load_private_key()).public_key()


def public_key_pem(key: Ed25519PublicKey | None = None) -> bytes:
    return (key or public_key()).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key_pem(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- signing ----------------------------------------------------------------


def license_payload(license: License, issued_at: datetime | None = None) -> dict:
    """What a license file asserts, in plain JSON types."""
    issued_at = issued_at or datetime.now(UTC)
    product = license.product
    return {
        "customer_code": license.customer.code,
        "product": product.name if product else "",
        "product_version": (product.version or "") if product else "",
        "serial": license.serial,
        "seats": int(license.seats),
        "valid_from": license.valid_from.isoformat(),
        "valid_to": license.valid_to.isoformat(),
        "trial": bool(license.is_trial),
        "machine_info": license.machine_info or "",
        "issued_at": issued_at.astimezone(UTC).replace(microsecond=0).isoformat(),
    }


def sign_payload(payload: dict, private_key: Ed25519PrivateKey | None = None) -> bytes:
    """The license file's bytes for ``payload``."""
    private_key = private_key or load_private_key()
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    signature = private_key.sign(text.encode("utf-8"))
    document = {
        "format": FORMAT,
        "version": VERSION,
        "algorithm": ALGORITHM,
        "key_id": key_id(private_key.public_key()),
        "payload": text,
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def license_file(license: License, issued_at: datetime | None = None) -> tuple[str, bytes]:
    """(download name, content) of ``license``'s signed file."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", license.serial or "").strip("._")
    name = f"{safe or f'license-{license.id}'}.lic"
    return name, sign_payload(license_payload(license, issued_at))


# --- verifying --------------------------------------------------------------


def verify_file(
    content: bytes, key: Ed25519PublicKey | None = None, on: date | None = None
) -> Verification:
    """Check a license file offline against ``key`` (default: this server's key)."""
    key = key or public_key()
    on = on or _today()
    try:
        document = json.loads(content.decode("utf-8"))
        text = document["payload"]
        signature = base64.b64decode(document["signature"], validate=True)
        if not isinstance(text, str):
            raise TypeError("payload is not text")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, binascii.Error):
        return Verification(Verdict.tampered)
    if document.get("key_id") not in (None, key_id(key)):
        return Verification(Verdict.wrong_key)
    try:
        key.verify(signature, text.encode("utf-8"))
    except InvalidSignature:
        return Verification(Verdict.tampered)
    try:
        payload = json.loads(text)
        valid_from = date.fromisoformat(payload["valid_from"])
        valid_to = date.fromisoformat(payload["valid_to"])
    except (ValueError, KeyError, TypeError):
        return Verification(Verdict.tampered)
    if on > valid_to:
        return Verification(Verdict.expired, payload)
    if on < valid_from:
        return Verification(Verdict.not_yet_valid, payload)
    return Verification(Verdict.valid, payload)


def _today() -> date:
    from app.services.licenses import today

    return today()
