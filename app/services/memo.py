"""Answers kept for the length of one request, in ``g``."""

from flask import g, has_app_context


def per_request(bucket: str, key, load):
    """``load()`` once per request (per app context), kept under ``bucket`` and ``key``;
    outside an app context it is asked every time. ``g.pop(bucket)`` forgets a bucket."""
    if not has_app_context():
        return load()
    kept = g.setdefault(bucket, {})
    if key not in kept:
        kept[key] = load()
    return kept[key]
