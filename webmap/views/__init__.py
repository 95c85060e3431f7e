"""The blueprints, one per feature; each view is thin: it parses the request, calls the core or
:mod:`webmap.status` / :mod:`webmap.maps`, and renders."""

from __future__ import annotations

from flask import Flask, current_app, url_for

from webmap.maps import Basemap

__all__ = ["basemap", "register_blueprints", "static_root"]


def basemap() -> Basemap:
    """The configured basemap (none by default)."""
    return Basemap(current_app.config["BASEMAP_URL"], current_app.config["BASEMAP_ATTRIBUTION"])


def static_root() -> str:
    """The URL of the static folder, without a trailing slash."""
    return url_for("static", filename="").rstrip("/")


def register_blueprints(app: Flask) -> None:
    """Every feature's blueprint."""
    from webmap.views import api, audit, changes, inspect, names, overview, province, upload

    for module in (overview, province, upload, names, api, audit, changes, inspect):
        app.register_blueprint(module.bp)
