"""Application factory: a readable list of ``init_*`` steps."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from app import health, localisation, models, security_headers  # noqa: F401  (every table on the metadata)
from app.extensions import csrf, db, migrate
from app.services import audit, followups, history, payments


def create_app(test_config: dict | None = None) -> Flask:
    import config

    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR))
    app.config.from_object(config)
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    init_proxy(app)
    init_database(app)
    history.init_app(app)
    followups.init_app(app)
    payments.init_app(app)
    audit.init_app(app)
    init_csrf(app)
    init_appbuilder(app)
    localisation.init_app(app)
    security_headers.init_app(app)
    health.init_app(app)
    init_errors(app)
    init_cli(app)
    return app


def init_proxy(app: Flask) -> None:
    """Behind ``CRM_PROXY_HOPS`` proxies, take the client's address, scheme and host
    from their X-Forwarded-* headers (history rows, sign-in limits, redirects)."""
    hops = int(app.config.get("CRM_PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def init_database(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite_connections(db.engine)


def _configure_sqlite_connections(engine) -> None:
    """SQLite ignores foreign keys unless each connection asks for them, and has no median
    (nor the search index's bigram function)."""
    from sqlalchemy import event

    from app.services.search import register_sqlite_functions
    from app.services.sqlfunctions import SqliteMedian

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
        SqliteMedian.register(dbapi_connection)
        register_sqlite_functions(dbapi_connection)  # the search index's triggers call it


def init_csrf(app: Flask) -> None:
    """Before AppBuilder, so FAB refuses token-less POSTs and GET deletes."""
    csrf.init_app(app)


def init_appbuilder(app: Flask) -> None:
    from flask_appbuilder import AppBuilder

    from app.security import CrmSecurityManager
    from app.views import IndexView, menu, register_views

    with app.app_context():
        appbuilder = AppBuilder(security_manager_class=CrmSecurityManager, indexview=IndexView)
        appbuilder.init_app(app, db.session)
        register_views(appbuilder)
    menu.init_app(app)
    # The REST API authenticates with JWT bearer tokens, not cookies.
    for blueprint in app.blueprints.values():
        if (blueprint.url_prefix or "").startswith("/api/"):
            csrf.exempt(blueprint)


def init_errors(app: Flask) -> None:
    """Chinese 403/404/500 pages (JSON under /api/)."""
    from app import errors

    errors.init_app(app)


def init_cli(app: Flask) -> None:
    from app.cli import crm

    app.cli.add_command(crm)
