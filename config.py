"""Configuration read from the environment, with the defaults the spec gives.

Nothing secret is a constant here: the secret key comes from ``SECRET_KEY`` or
is generated once into ``instance/`` and shared by every worker on the host.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.security.manager import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("CRM_INSTANCE_DIR", BASE_DIR / "instance"))


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL") or os.environ.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'crm.sqlite3'}"
    # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key() -> str:
    """Read the instance's key, creating it atomically so workers agree on it."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_hex(32)
        handle.write(key)
    return key


SECRET_KEY = _secret_key()
# The key that encrypts 身份证号 in the database (app/services/encryption.py):
# CRM_DATA_KEY (Fernet keys, newest first, comma-separated), else the file
# instance/data_keys, generated on first use. Back it up apart from the database.
CRM_DATA_KEY = os.environ.get("CRM_DATA_KEY") or None
CRM_DATA_KEY_FILE = os.environ.get("CRM_DATA_KEY_FILE") or str(INSTANCE_DIR / "data_keys")
SQLALCHEMY_DATABASE_URI = _database_url()
SQLALCHEMY_TRACK_MODIFICATIONS = False
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
PORT = int(os.environ.get("PORT", "5000"))

APP_NAME = "长益 CRM"
APP_THEME = ""  # the default theme: every asset is served locally
APP_ICON = ""
# Every page's layout: FAB's baselayout.html with the app's top bar and style sheet.
FAB_BASE_TEMPLATE = "crm/base.html"

# The schema belongs to the migrations, and permissions to `crm init`.
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = False
FAB_ADD_SECURITY_API = False
FAB_API_SWAGGER_UI = False  # Swagger UI loads from a CDN; the spec is at /api/v1/_openapi
FAB_API_MAX_PAGE_SIZE = 100
FAB_PASSWORD_COMPLEXITY_ENABLED = True


def _password_policy(password: str) -> None:
    """The app's policy (app/services/passwords.py) on FAB's password forms."""
    from app.services.passwords import complexity_validator

    complexity_validator(password)


FAB_PASSWORD_COMPLEXITY_VALIDATOR = _password_policy
# Password policy: at least CRM_PASSWORD_MIN_LENGTH characters mixing at least
# CRM_PASSWORD_MIN_CLASSES of lower case, upper case, digits and other characters,
# not the login name, not a common password (user pages, reset password, crm init).
CRM_PASSWORD_MIN_LENGTH = int(os.environ.get("CRM_PASSWORD_MIN_LENGTH", "10"))
CRM_PASSWORD_MIN_CLASSES = int(os.environ.get("CRM_PASSWORD_MIN_CLASSES", "3"))

AUTH_TYPE = AUTH_DB
# Role names are data, stored and shown in Chinese; app/permissions.py uses the keys.
CRM_ROLE_NAMES = {
    "admin": "管理员",
    "sales": "销售",
    "support": "客服",
    "engineer": "工程师",
    "manager": "经理",
    "finance": "财务",
}
AUTH_ROLE_ADMIN = CRM_ROLE_NAMES["admin"]
AUTH_ROLE_PUBLIC = "访客"  # anonymous visitors: no permission at all
AUTH_USER_REGISTRATION = False

# Failed sign-ins (form and /api/v1/security/login), app/services/login_throttle.py.
# Per account, in the database (shared by every worker and host): after
# CRM_LOGIN_MAX_FAILURES failures in a row the account is locked for
# CRM_LOGIN_LOCK_MINUTES (0 turns it off).
CRM_LOGIN_MAX_FAILURES = int(os.environ.get("CRM_LOGIN_MAX_FAILURES", "5"))
CRM_LOGIN_LOCK_MINUTES = int(os.environ.get("CRM_LOGIN_LOCK_MINUTES", "15"))
# Per client address, failures only, counted by the `limits` library (Flask-Limiter's)
# in RATELIMIT_STORAGE_URI when RATELIMIT_ENABLED. memory:// is per process: with
# several gunicorn workers or hosts set a shared store (redis://..., memcached://...).
RATELIMIT_ENABLED = True
CRM_LOGIN_ADDRESS_LIMIT = os.environ.get("CRM_LOGIN_RATE_LIMIT", "20 per 15 minute")
RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
# FAB's own limit counts every login POST, successful ones too (a whole office
# behind one address would be locked out at 9 o'clock), and not the JSON login.
AUTH_RATE_LIMITED = False
# A user seen within this window counts as signed in (user delete is refused).
# The security log (安全日志) is kept in the database (table audit_event, page
# /audit/list/) and also emitted, one JSON line per event, on the standard
# logger "crm.audit". To keep a copy nobody using the app can alter, send it
# to syslog/journald: CRM_AUDIT_SYSLOG=/dev/log (the local syslog socket,
# which journald reads) or host:514 (a remote syslog over UDP), facility
# authpriv. Any other handler: configure the "crm.audit" logger with
# logging.config in the WSGI entry point.
CRM_AUDIT_SYSLOG = os.environ.get("CRM_AUDIT_SYSLOG") or None

CRM_SIGNED_IN_WINDOW = timedelta(minutes=30)

BABEL_DEFAULT_LOCALE = "zh"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
LANGUAGES = {
    "zh": {"flag": "cn", "name": "中文"},
    "en": {"flag": "gb", "name": "English"},
}

# Proxies (load balancers) in front of the app that set X-Forwarded-For, -Proto and
# -Host: with n > 0 the app trusts the last n hops, so the change history and the
# per-address sign-in limit see the client's address. 0: the headers are ignored
# (anyone could forge them when nothing in front of the app rewrites them).
CRM_PROXY_HOPS = int(os.environ.get("CRM_PROXY_HOPS") or 0)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = os.environ.get("CRM_SECURE_COOKIES", "") == "1"
REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
REMEMBER_COOKIE_HTTPONLY = True
PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock

# Business settings.
LICENSE_EXPIRY_WARNING_DAYS = 30
# A trial entered without an end date lasts this many calendar months (app/services/licenses.py).
LICENSE_TRIAL_MONTHS = 1
# Service targets for resolving feedback, in hours per level: the desk's due times and
# overdue marks, and the service report's KPI. A level left out keeps its default.
# The customer pool (公海): how many customers one person may own by claiming, and
# after how many days without activity `crm pool sweep` returns a customer to it.
CRM_POOL_CLAIM_LIMIT = int(os.environ.get("CRM_POOL_CLAIM_LIMIT", "50"))
CRM_POOL_RETURN_DAYS = int(os.environ.get("CRM_POOL_RETURN_DAYS", "90"))

FEEDBACK_TARGET_HOURS = {"urgent": 4, "high": 24, "medium": 72, "low": 168}
# The Ed25519 key that signs license files: this file if set (it must exist),
# else instance/license_signing_key.pem, generated on first use (mode 0600).
CRM_LICENSE_KEY_PATH = os.environ.get("CRM_LICENSE_KEY_PATH") or None

# Outgoing mail to reporters (SMTP); unset MAIL_SERVER means "call instead".
MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") == "1"
MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "") == "1"
MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "")
