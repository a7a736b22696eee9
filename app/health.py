"""``/health`` for load balancers: is the database answering?"""

from flask import Flask, jsonify
from sqlalchemy import text

from app.extensions import db


def init_app(app: Flask) -> None:
    @app.route("/health")
    def health():
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any database failure means "not ready"
            db.session.rollback()
            return jsonify(status="error", database="unavailable"), 503
        return jsonify(status="ok", database="ok")
