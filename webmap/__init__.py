"""quhua's map viewer and analysts' API (SPEC §9): a Flask app built by :func:`create_app`.

Blueprints, one per feature: ``overview`` (``/``), ``province`` (``/province/CODE``), ``upload``,
``names``, ``api`` (``/ogc`` and the GeoJSON downloads), ``tiles`` (vector tiles, :mod:`webmap.tiles`),
``auth`` (log in and out). Errors become
responses in :mod:`webmap.errors`, nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Flask is imported when an app is built, not by `quhua --help` loading webmap.cli
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the app: configuration (see :mod:`webmap.config`), resources, blueprints, error handlers."""
    from flask import Flask

    from webmap import auth, csp, db, i18n, jobs, tiles
    from webmap.config import load_config
    from webmap.errors import register_error_handlers
    from webmap.views import register_blueprints

    app = Flask(__name__)
    app.config.from_mapping(load_config(test_config))
    db.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    csp.init_app(app)
    jobs.init_app(app)
    register_blueprints(app)
    tiles.init_app(app)  # /tiles and OGC API – Tiles under /ogc
    register_error_handlers(app)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    """No sniffing of content types, no framing by other sites, no full referrers to other sites."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
