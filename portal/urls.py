"""Absolute links for mail, built from PORTAL_BASE_URL, with or without a request context."""
from flask import current_app


def external_url(endpoint: str, **values) -> str:
    path = current_app.url_map.bind("portal.invalid").build(endpoint, values)
    return current_app.config["BASE_URL"].rstrip("/") + path
