"""The coordinate reference systems ``/ogc`` serves (OGC API – Features Part 2): CRS84 (lon/lat, the default),
EPSG:4490 (CGCS2000, the storage CRS) and CGCS2000's Gauss-Krüger zones EPSG:4491–4554 (6° and 3° zones,
numbered and by central meridian). Coordinates are written in each CRS's own axis order, as Part 2 requires:
EPSG:4490 is latitude first, the Gauss-Krüger zones northing (X) first. pyproj does the projecting.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj
import shapely

__all__ = ["CRS84", "STORAGE_CRS", "SUPPORTED", "bbox_to_lonlat", "project"]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
STORAGE_CRS = _EPSG.format(4490)
#: every CRS offered, CRS84 first (the default)
SUPPORTED = [CRS84, STORAGE_CRS, *(_EPSG.format(code) for code in range(4491, 4555))]


@lru_cache(maxsize=len(SUPPORTED))
def _transformer(uri: str) -> tuple[pyproj.Transformer, bool]:
    """lon/lat (CGCS2000) → ``uri`` easting/northing, and whether ``uri`` puts north first.

    Not :func:`boundaries.crs.transformer`: its pipeline form gives wrong ``transform_bounds`` in the inverse
    direction (bbox-crs in metres), which the API needs; PROJ's EPSG definition is the same exact TM."""
    target = pyproj.CRS.from_epsg(int(uri.rsplit("/", 1)[1]))
    return (pyproj.Transformer.from_crs(4490, target, always_xy=True),
            target.axis_info[0].direction.lower() == "north")


def project(geometry: np.ndarray, uri: str) -> np.ndarray:
    """Stored lon/lat geometries in ``uri``, in its axis order (CRS84: as they are)."""
    if uri == CRS84:
        return geometry
    transformer, north_first = _transformer(uri)

    def to_target(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([y, x] if north_first else [x, y])

    return shapely.transform(geometry, to_target)


def bbox_to_lonlat(box: tuple[float, float, float, float], uri: str) -> tuple[float, float, float, float]:
    """A ``bbox`` given in ``uri``'s axis order as W,S,E,N lon/lat (densified edges: a projected box's
    edges are curves in lon/lat)."""
    if uri == CRS84:
        return box
    transformer, north_first = _transformer(uri)
    a, b, c, d = box
    low_x, low_y, high_x, high_y = (b, a, d, c) if north_first else (a, b, c, d)
    return transformer.transform_bounds(low_x, low_y, high_x, high_y, direction=pyproj.enums.TransformDirection.INVERSE)
