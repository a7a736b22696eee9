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
            return "postgresql+psycopg://" + url[len(prefix):]
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
SQLALCHEMY_DATABASE_URI = _database_url()
SQLALCHEMY_TRACK_MODIFICATIONS = False
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
PORT = int(os.environ.get("PORT", "5000"))

APP_NAME = "长益 CRM"
APP_THEME = ""  # the default theme: every asset is served locally
APP_ICON = ""

# The schema belongs to the migrations, and permissions to `crm init`.
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = False
FAB_ADD_SECURITY_API = False
FAB_API_SWAGGER_UI = False  # Swagger UI loads from a CDN; the spec is at /api/v1/_openapi
FAB_API_MAX_PAGE_SIZE = 100
FAB_PASSWORD_COMPLEXITY_ENABLED = True

AUTH_TYPE = AUTH_DB
# Role names are data, stored and shown in Chinese; app/permissions.py uses the keys.
CRM_ROLE_NAMES = {
    "admin": "管理员",
    "sales": "销售",
    "support": "客服",
    "engineer": "工程师",
    "manager": "经理",
}
AUTH_ROLE_ADMIN = CRM_ROLE_NAMES["admin"]
AUTH_ROLE_PUBLIC = "访客"  # anonymous visitors: no permission at all
AUTH_USER_REGISTRATION = False

# Failed form logins: Flask-Limiter, shared across workers when RATELIMIT_STORAGE_URI
# names a shared store (e.g. redis://...); memory:// suits one process.
AUTH_RATE_LIMITED = True
RATELIMIT_ENABLED = True
AUTH_RATE_LIMIT = os.environ.get("CRM_LOGIN_RATE_LIMIT", "10 per 5 minute")
RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")

BABEL_DEFAULT_LOCALE = "zh"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
LANGUAGES = {
    "zh": {"flag": "cn", "name": "中文"},
    "en": {"flag": "gb", "name": "English"},
}

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
LICENSE_TRIAL_DAYS = 30
