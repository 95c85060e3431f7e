"""The coordinate reference systems a submission may arrive in (SPEC §4) and the metric CRS for checks.

Storage is CGCS2000 geographic (EPSG:4490). Accepted on input: EPSG:4490, EPSG:4326 (equal to CGCS2000 at
survey precision) and the CGCS2000 Gauss-Krüger zones EPSG:4491–4554 (3° and 6°, with and without the
zone prefix in the easting).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from boundaries.errors import InputError

__all__ = [
    "CHINA_BOUNDS",
    "GaussKruger",
    "accepted_epsg",
    "gauss_kruger",
    "identify_epsg",
    "metric_epsg",
    "parse_crs_option",
    "transformer",
]

#: Rough extent of China and its waters (W, S, E, N) in degrees: anything outside is not Chinese data.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)
GEOGRAPHIC = (4490, 4326)


@dataclass(frozen=True)
class GaussKruger:
    """A CGCS2000 Gauss-Krüger zone: EPSG code, zone width, central meridian and false easting."""

    epsg: int
    width: int  # 3 or 6 degrees
    central_meridian: int
    zone: int
    prefixed: bool

    @property
    def false_easting(self) -> float:
        return (self.zone * 1_000_000 if self.prefixed else 0) + 500_000.0


def gauss_kruger(epsg: int) -> GaussKruger | None:
    """The Gauss-Krüger zone of a CGCS2000 EPSG code (DOMAIN.md's table), or None for other codes.

    >>> gauss_kruger(4547)
    GaussKruger(epsg=4547, width=3, central_meridian=114, zone=38, prefixed=False)
    >>> gauss_kruger(4497).false_easting
    19500000.0
    """
    if 4491 <= epsg <= 4501:
        zone = epsg - 4491 + 13
        return GaussKruger(epsg, 6, 6 * zone - 3, zone, True)
    if 4502 <= epsg <= 4512:
        zone = epsg - 4502 + 13
        return GaussKruger(epsg, 6, 6 * zone - 3, zone, False)
    if 4513 <= epsg <= 4533:
        zone = epsg - 4513 + 25
        return GaussKruger(epsg, 3, 3 * zone, zone, True)
    if 4534 <= epsg <= 4554:
        zone = epsg - 4534 + 25
        return GaussKruger(epsg, 3, 3 * zone, zone, False)
    return None


def accepted_epsg(epsg: int | None) -> bool:
    return epsg is not None and (epsg in GEOGRAPHIC or gauss_kruger(epsg) is not None)


def _from_parameters(crs) -> int | None:
    """Recognise a CGCS2000 transverse Mercator from its parameters (ESRI .prj files often lack codes)."""
    if not crs.is_projected or crs.geodetic_crs is None:
        return None
    datum = (crs.geodetic_crs.datum.name or "").lower().replace(" ", "_")
    if "2000" not in datum or ("china" not in datum and "cgcs" not in datum):
        return None
    params = {p.name.lower(): p.value for p in crs.coordinate_operation.params}
    if "transverse mercator" not in crs.coordinate_operation.method_name.lower():
        return None
    cm = params.get("longitude of natural origin")
    fe = params.get("false easting")
    scale = params.get("scale factor at natural origin", 1.0)
    if cm is None or fe is None or abs(scale - 1.0) > 1e-9:
        return None
    for epsg in range(4491, 4555):
        zone = gauss_kruger(epsg)
        if abs(zone.central_meridian - cm) < 1e-6 and abs(zone.false_easting - fe) < 1e-3:
            return epsg
    return None


def identify_epsg(crs_like, *, source: str) -> int:
    """The accepted EPSG code of a CRS (pyproj CRS, WKT, ``EPSG:NNNN``), or InputError naming the file.

    Raises ``dataset.crs_unsupported`` for anything outside SPEC §4.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(crs_like)
    except CRSError as err:
        raise InputError(f"{source}: the coordinate system {str(crs_like)[:80]!r} cannot be read ({err}); "
                         "give it as --crs EPSG:NNNN", rule="dataset.crs_unsupported", file=source,
                         message_zh=f"{source}：无法识别坐标系 {str(crs_like)[:80]!r}（{err}）；"
                                    "请用 --crs EPSG:NNNN 指定") from err
    epsg = crs.to_epsg(min_confidence=70) or _from_parameters(crs)
    if not accepted_epsg(epsg):
        raise InputError(
            f"{source}: coordinate system {crs.name!r}{f' (EPSG:{epsg})' if epsg else ''} is not accepted; "
            "allowed are EPSG:4490 (CGCS2000), EPSG:4326 and the CGCS2000 Gauss-Krüger zones "
            "EPSG:4491–4554. Reproject the data to one of them, or give --crs if the .prj is wrong",
            rule="dataset.crs_unsupported", file=source,
            message_zh=f"{source}：不接受坐标系 {crs.name!r}{f'（EPSG:{epsg}）' if epsg else ''}；"
                       "只接受 EPSG:4490（CGCS2000）、EPSG:4326 和 CGCS2000 高斯-克吕格投影带 "
                       "EPSG:4491–4554。请将数据投影转换到其中之一；如 .prj 有误，请用 --crs 指定")
    return epsg


def parse_crs_option(value: str | None) -> int | None:
    """``--crs EPSG:4547`` (or ``4547``) → 4547, checked against SPEC §4."""
    if value is None:
        return None
    text = value.strip().upper().removeprefix("EPSG:")
    if not text.isdigit() or not accepted_epsg(int(text)):
        raise InputError(f"--crs {value!r} is not accepted; give EPSG:4490, EPSG:4326 or a CGCS2000 "
                         "Gauss-Krüger code EPSG:4491–4554", rule="dataset.crs_unsupported",
                         message_zh=f"不接受 --crs {value!r}；请给出 EPSG:4490、EPSG:4326 或 CGCS2000 "
                                    "高斯-克吕格投影带代码 EPSG:4491–4554")
    return int(text)


def metric_epsg(lon: float) -> int:
    """The 3° Gauss-Krüger zone (without prefix, EPSG:4534–4554) whose central meridian is nearest ``lon``.

    >>> metric_epsg(114.5), metric_epsg(76.0), metric_epsg(134.9)
    (4547, 4534, 4554)
    """
    zone = int(np.clip(np.round(lon / 3.0), 25, 45))
    return 4534 + zone - 25


@cache
def transformer(source: int, target: int):
    """A cached pyproj transformer working in (easting/longitude, northing/latitude) order.

    Between EPSG:4490 and a CGCS2000 Gauss-Krüger zone (same datum: a projection, no datum shift) it is
    PROJ's transverse Mercator with ``+algo=auto``: the faster Evenden/Snyder series where its error is below
    0.1 mm (near the central meridian), the exact Poder/Engsager algorithm elsewhere — the EPSG
    definition's figures to 0.1 mm at twice the speed on the millions of vertices a check projects.

    >>> [round(v, 3) for v in transformer(4490, 4547).transform(114.5, 29.3)]
    [548578.435, 3242624.53]
    """
    from pyproj import Transformer

    zone = gauss_kruger(target if source == 4490 else source if target == 4490 else 0)
    if zone is None:
        return Transformer.from_crs(source, target, always_xy=True)
    tmerc = (f"+proj=tmerc +algo=auto +lat_0=0 +lon_0={zone.central_meridian} +k=1 "
             f"+x_0={zone.false_easting} +y_0=0 +ellps=GRS80")
    if source == 4490:
        return Transformer.from_pipeline(f"+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
                                         f"+step {tmerc}")
    return Transformer.from_pipeline(f"+proj=pipeline +step +inv {tmerc} "
                                     "+step +proj=unitconvert +xy_in=rad +xy_out=deg")


def implausible(epsg: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where coordinates (easting/lon, northing/lat) cannot be Chinese data in ``epsg``.

    Catches projected metres labelled as degrees, eastings outside the zone's strip, and swapped axes.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if epsg in GEOGRAPHIC:
        w, s, e, n = CHINA_BOUNDS
        return bad | (x < w) | (x > e) | (y < s) | (y > n)
    zone = gauss_kruger(epsg)
    half_width = 400_000.0 if zone.width == 3 else 800_000.0  # generous: data spills over zone edges
    offset = x - zone.false_easting
    return bad | (np.abs(offset) > half_width) | (y < 300_000) | (y > 6_100_000)
