"""Content-Security-Policy: no script runs in our pages unless it is ours.

Scripts must come from this site (``'self'``) or carry this response's nonce. folium writes its map as inline
scripts (and its header has one), so instead of ``'unsafe-inline'`` every script tag we emit — our templates'
and folium's rendered output, through the ``nonce_scripts`` filter — gets a fresh random nonce per response;
an injected ``<script>`` or ``onerror=`` has none and is refused by the browser. Styles stay inline-allowed:
folium and Leaflet set inline styles, and a style cannot run code. ``'unsafe-eval'`` is allowed because the
vendored leaflet-measure compiles its templates with lodash's ``_.template`` (``new Function``) as it loads; it
lets our own scripts evaluate strings, but no injected tag or ``on…=`` attribute runs without the nonce.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, g
from markupsafe import Markup

__all__ = ["csp_nonce", "init_app", "nonce_scripts"]

_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


def csp_nonce() -> str:
    """This response's nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def nonce_scripts(html: str) -> Markup:
    """Trusted HTML (folium's rendered map) with this response's nonce on every ``<script`` tag."""
    return Markup(_SCRIPT_TAG.sub(f'<script nonce="{csp_nonce()}"', str(html)))


def _policy(response):
    if response.mimetype == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            f"script-src 'self' 'nonce-{csp_nonce()}' 'unsafe-eval'; object-src 'none'; base-uri 'self'; "
            "frame-ancestors 'none'")
    return response


def init_app(app: Flask) -> None:
    """Register the filter, the ``csp_nonce()`` template global and the header."""
    app.add_template_filter(nonce_scripts, "nonce_scripts")
    app.add_template_global(csp_nonce, "csp_nonce")
    app.after_request(_policy)
