"""The viewer's configuration: defaults in one place, overridden by ``QUHUA_*`` variables, checked on load.

==========================  ================================================================  ==========
key                         meaning                                                           default
==========================  ================================================================  ==========
``QUHUA_DB``                the database (GeoPackage path or ``postgresql://`` URL)           SPEC §2
``SECRET_KEY``              signs the session cookie (``QUHUA_SECRET_KEY``)                   random
``BASEMAP_URL``             an XYZ tile URL in CGCS2000/WGS 84 (Tianditu ``…_w``, OSM …)      none
``BASEMAP_ATTRIBUTION``     the tiles' attribution, required with ``BASEMAP_URL``             ""
``MAX_CONTENT_LENGTH``      the largest upload request, bytes                                 200 MiB
``UPLOAD_DIR``              server-side area where uploads wait between check and confirm     temp dir
``UPLOAD_TTL``              seconds an unconfirmed upload is kept                             3600
``BASIC_AUTH_TTL``          seconds a verified HTTP Basic credential is remembered (0: never)  300
``BASE_URL``                the site's public URL in OGC links (``QUHUA_BASE_URL``)           request's
``SESSION_COOKIE_SECURE``   the cookie only over HTTPS (``QUHUA_COOKIE_SECURE=1``)            off
``SESSION_IDLE``            seconds a session lives without a request (``QUHUA_SESSION_IDLE``)  8 h
``SESSION_MAX``             seconds a session lives at most (``QUHUA_SESSION_MAX``)           12 h
``LOGIN_WINDOW``            failed logins are counted over this many seconds                  900
``LOGIN_MAX_FAILURES``      failures of one account before it is refused for the window      5
``LOGIN_MAX_PER_ADDRESS``   failures from one address before it is refused for the window    20
``TILES_ABOVE_VERTICES``    the overview draws the lines from vector tiles (for accounts that   50,000
                            may read every province) when its simplified lines have more
                            vertices than this (``QUHUA_TILES_ABOVE_VERTICES``)
``CHECK_WORKERS``           upload checks/ingests run at once per server process (the rest wait)  2
``CHECK_CPU_SECONDS``       CPU seconds one upload's check (or ingest) may use                120
``CHECK_MEMORY_MB``         address space one upload's check may use, MiB                     4096
``CHECK_WALL_SECONDS``      wall-clock seconds one upload's check may take                    600
==========================  ================================================================  ==========

The ``CHECK_*`` settings are read from ``QUHUA_CHECK_WORKERS``, ``QUHUA_CHECK_CPU_SECONDS``,
``QUHUA_CHECK_MEMORY_MB``, ``QUHUA_CHECK_WALL_SECONDS`` (see :mod:`webmap.jobs`).

Without a basemap the maps draw the data on a plain background: boundaries, markers and issues need no
tiles. A basemap in GCJ-02 (AMap/Gaode, Tencent) would put CGCS2000 data 50–660 m off: refused.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["GCJ02_HOSTS", "WebConfigError", "load_config"]

#: Tile hosts that serve GCJ-02 (offset) maps; never under survey data.
GCJ02_HOSTS = ("autonavi.com", "amap.com", "gaode.com", "map.qq.com", "gtimg.com", "map.baidu.com",
               "bdimg.com")
_ENV = {"QUHUA_DB": "QUHUA_DB", "SECRET_KEY": "QUHUA_SECRET_KEY", "BASEMAP_URL": "QUHUA_BASEMAP_URL",
        "BASEMAP_ATTRIBUTION": "QUHUA_BASEMAP_ATTRIBUTION", "UPLOAD_DIR": "QUHUA_UPLOAD_DIR",
        "BASIC_AUTH_TTL": "QUHUA_BASIC_AUTH_TTL", "BASE_URL": "QUHUA_BASE_URL",
        "SESSION_COOKIE_SECURE": "QUHUA_COOKIE_SECURE", "SESSION_IDLE": "QUHUA_SESSION_IDLE",
        "SESSION_MAX": "QUHUA_SESSION_MAX", "TILES_ABOVE_VERTICES": "QUHUA_TILES_ABOVE_VERTICES",
        "CHECK_WORKERS": "QUHUA_CHECK_WORKERS",
        "CHECK_CPU_SECONDS": "QUHUA_CHECK_CPU_SECONDS", "CHECK_MEMORY_MB": "QUHUA_CHECK_MEMORY_MB",
        "CHECK_WALL_SECONDS": "QUHUA_CHECK_WALL_SECONDS"}


class WebConfigError(ValueError):
    """A configuration value that cannot work; the message says which and how to fix it."""


def _defaults() -> dict:
    from boundaries.store import default_url

    return {"QUHUA_DB": default_url(), "SECRET_KEY": None, "BASEMAP_URL": None, "BASEMAP_ATTRIBUTION": "",
            "MAX_CONTENT_LENGTH": 200 * 1024 * 1024, "UPLOAD_DIR": None, "UPLOAD_TTL": 3600,
            "BASIC_AUTH_TTL": 300, "BASE_URL": None, "SESSION_COOKIE_SECURE": False,
            "SESSION_IDLE": 8 * 3600, "SESSION_MAX": 12 * 3600, "LOGIN_WINDOW": 900, "LOGIN_MAX_FAILURES": 5,
            "LOGIN_MAX_PER_ADDRESS": 20, "TILES_ABOVE_VERTICES": 50_000, "CHECK_WORKERS": 2,
            "CHECK_CPU_SECONDS": 120, "CHECK_MEMORY_MB": 4096, "CHECK_WALL_SECONDS": 600,
            "SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax"}


def _check_basemap(url: str | None, attribution: str) -> None:
    if not url:
        return
    if not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise WebConfigError(f"BASEMAP_URL {url!r} is not an XYZ tile URL: it needs {{z}}, {{x}} and {{y}}")
    if any(host in url for host in GCJ02_HOSTS):
        raise WebConfigError(f"BASEMAP_URL {url!r} serves GCJ-02 (offset) tiles, 50–660 m off CGCS2000 "
                             "survey data; use Tianditu (vec_w/img_w), OpenStreetMap, or no basemap")
    if not attribution:
        raise WebConfigError("BASEMAP_ATTRIBUTION is required with BASEMAP_URL (the tiles' licence asks for it)")


def _check_base_url(url: str | None) -> None:
    if url and not url.startswith(("http://", "https://")):
        raise WebConfigError(f"BASE_URL {url!r} must be the site's public http:// or https:// URL")


def load_config(test_config: Mapping | None = None) -> dict:
    """Defaults, then ``QUHUA_*`` environment variables, then ``test_config``; validated."""
    config = _defaults()
    config |= {key: os.environ[var] for key, var in _ENV.items() if os.environ.get(var)}
    config |= dict(test_config or {})
    _check_basemap(config["BASEMAP_URL"], config["BASEMAP_ATTRIBUTION"])
    if int(config["MAX_CONTENT_LENGTH"]) <= 0:
        raise WebConfigError("MAX_CONTENT_LENGTH must be a positive number of bytes")
    config["SESSION_COOKIE_SECURE"] = str(config["SESSION_COOKIE_SECURE"]).lower() in ("1", "true", "yes")
    _check_base_url(config["BASE_URL"])
    for key in ("SESSION_IDLE", "SESSION_MAX", "LOGIN_WINDOW", "CHECK_WALL_SECONDS"):
        config[key] = float(config[key])
    try:
        config["TILES_ABOVE_VERTICES"] = int(config["TILES_ABOVE_VERTICES"])
    except ValueError:
        raise WebConfigError(f"TILES_ABOVE_VERTICES {config['TILES_ABOVE_VERTICES']!r} must be a whole number "
                             "of vertices") from None
    for key in ("CHECK_WORKERS", "CHECK_CPU_SECONDS", "CHECK_MEMORY_MB"):
        config[key] = int(config[key])
        if config[key] <= 0:
            raise WebConfigError(f"{key} must be a positive whole number (QUHUA_{key})")
    config["SECRET_KEY"] = config["SECRET_KEY"] or secrets.token_hex(32)  # sessions end with the process
    upload_dir = Path(config["UPLOAD_DIR"] or Path(tempfile.gettempdir()) / "quhua-uploads")
    upload_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config["UPLOAD_DIR"] = str(upload_dir)
    return config
