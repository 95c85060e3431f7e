"""Figures the pages show, computed from the store's layers as plain data (no web framework).

* :func:`province_summaries` — per province: load status, lines, km, markers, open errors and warnings,
  last submission and by whom (the national overview: what each province itself submitted).
* :func:`province_figures` — a province page's figures: what its map, legend and downloads hold.
* :func:`load_counts` — how many provincial-level divisions are counted, loaded and in each status (the
  overview's header, legend and ``/overview.json``).
* :func:`line_agreement` — whether a boundary line submitted by both neighbours agrees within the
  ``line.neighbor_mismatch`` tolerance.
* :func:`line_diff` — what changed between two submissions of the same line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from boundaries.readers import PROVINCES
from boundaries.rules.lines import boundary_deviation_m
from boundaries.store import Store
from webmap.cache import per_row

__all__ = ["MAINLAND", "NOT_COUNTED", "STATUSES", "LoadCounts", "ProvinceFigures", "ProvinceSummary",
           "line_agreement", "line_diff", "load_counts", "max_deviation_m", "province_figures",
           "province_summaries"]

#: Taiwan, Hong Kong and Macao: drawn on every national map as part of China, but not counted in the
#: loading (their boundaries are not loaded into this system by a provincial civil-affairs department).
NOT_COUNTED = ("71", "81", "82")
#: The 31 provincial-level divisions of the mainland, whose loading the overview counts.
MAINLAND = [p for p in PROVINCES if p not in NOT_COUNTED]
#: Load statuses, in the order of the legend, with their map colours.
STATUSES = {"not_loaded": "#c8c8c8", "loaded": "#2e8b57", "loaded_issues": "#e08a00", "updated": "#3b6fd1"}
#: The default tolerance of ``line.neighbor_mismatch`` (SPEC §5), metres.
NEIGHBOUR_TOLERANCE_M = 5.0
_GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid (differs from GRS80 by 0.1 mm in the semi-minor axis)


@dataclass
class ProvinceSummary:
    """One province's row of the overview."""

    code: str
    status: str = "not_loaded"
    lines: int = 0
    km: float = 0.0
    markers: int = 0
    errors: int = 0
    warnings: int = 0
    last_submission: str | None = None
    last_user: str | None = None
    submissions: int = 0
    bounds: list[float] = field(default_factory=list)


def geodesic_km(geometry: np.ndarray) -> np.ndarray:
    """Lengths on the ellipsoid, in kilometres, of lon/lat (multi)lines: every segment in one call."""
    geometry = np.asarray(geometry, dtype=object)
    parts, owner = shapely.get_parts(geometry, return_index=True)
    xy, part = shapely.get_coordinates(parts, return_index=True)
    if len(xy) < 2:
        return np.zeros(len(geometry))
    same = part[1:] == part[:-1]  # segments within one part, not from one part's end to the next's start
    _az, _back, metres = _GEOD.inv(xy[:-1, 0][same], xy[:-1, 1][same], xy[1:, 0][same], xy[1:, 1][same])
    per_part = np.bincount(part[1:][same], weights=metres, minlength=len(parts))
    return np.bincount(owner, weights=per_part, minlength=len(geometry)) / 1000


def _status(row: ProvinceSummary, superseded: bool) -> str:
    if row.submissions == 0:
        return "not_loaded"
    if row.errors or row.warnings:
        return "loaded_issues"
    return "updated" if superseded else "loaded"


def province_summaries(store: Store) -> dict[str, ProvinceSummary]:
    """Every province (mainland and the rest) with what it has loaded; the overview's table."""
    out = {p: ProvinceSummary(p + "0000") for p in PROVINCES}
    submissions = store.read_layer("submissions")
    if submissions.empty:
        return out
    lines = store.read_layer("lines", history=True)
    # the markers' province and submission only: their geometry (9,000 points in the demo) is not counted
    markers = pd.DataFrame(store.fetch("SELECT province, submission_id FROM markers WHERE status = 'current'"),
                           columns=["province", "submission_id"])
    issues = store.read_layer("issues")
    current = lines[lines["status"] == "current"]
    km = pd.Series(per_row("km", current, geodesic_km), index=current.index, dtype=float)
    live = set(current["submission_id"].dropna().astype(int)) | set(markers["submission_id"].dropna().astype(int))
    open_issues = issues[issues["submission_id"].isin(live)]
    # counted per province prefix with one groupby each (comparing every layer with each code took 60 ms)
    prefix = {name: frame["province"].astype(object).astype(str).str[:2].to_numpy() for name, frame in
              (("current", current), ("all", lines), ("markers", markers), ("issues", open_issues))}
    line_count = pd.Series(prefix["current"]).value_counts()
    all_count = pd.Series(prefix["all"]).value_counts()
    km_sum = km.groupby(prefix["current"]).sum() if len(current) else pd.Series(dtype=float)
    marker_count = pd.Series(prefix["markers"]).value_counts()
    severity = pd.crosstab(prefix["issues"], open_issues["severity"].to_numpy()) if len(open_issues) else None
    bounds = shapely.bounds(np.asarray(current.geometry.values, dtype=object))
    for code, group in submissions.groupby(submissions["province"].astype(str).str[:2]):
        row = out.setdefault(code, ProvinceSummary(code + "0000"))
        last = group.sort_values("created_at").iloc[-1]
        row.submissions, row.last_submission, row.last_user = len(group), last["created_at"], last["user"]
        row.lines, row.km = int(line_count.get(code, 0)), float(km_sum.get(code, 0.0))
        row.markers = int(marker_count.get(code, 0))
        if severity is not None and code in severity.index:
            row.errors = int(severity.loc[code].get("error", 0))
            row.warnings = int(severity.loc[code].get("warning", 0))
        if row.lines:
            mine = bounds[prefix["current"] == code]
            row.bounds = [round(float(v), 4) for v in (*np.nanmin(mine[:, :2], axis=0),
                                                       *np.nanmax(mine[:, 2:], axis=0))]
        row.status = _status(row, bool(all_count.get(code, 0) > row.lines))
    return out


@dataclass
class LoadCounts:
    """The overview's counts: of the :data:`MAINLAND` divisions only (34 provincial-level divisions minus
    :data:`NOT_COUNTED`), how many have loaded and how many are in each status."""

    counted: int
    loaded: int
    by_status: dict[str, int]
    not_counted: list[str]


def load_counts(summaries: dict[str, ProvinceSummary]) -> LoadCounts:
    """One count for the overview's header, its map legend and ``/overview.json``, so they cannot disagree:
    ``loaded + by_status["not_loaded"] == counted == 31``."""
    statuses = [(summaries.get(p) or ProvinceSummary(p + "0000")).status for p in MAINLAND]
    by_status = {s: statuses.count(s) for s in STATUSES}
    return LoadCounts(counted=len(MAINLAND), loaded=len(MAINLAND) - by_status["not_loaded"],
                      by_status=by_status, not_counted=list(NOT_COUNTED))


@dataclass
class ProvinceFigures:
    """A province page's figures, counted from exactly the rows its map layers and downloads serve (the
    store's ``province=`` selection): the current lines with either side in the province, whoever submitted
    them (a shared boundary submitted by both neighbours is two lines, as the map draws both), the current
    markers it submitted or standing on such lines, and the issues of its accepted submissions. ``own_*``:
    the part the province submitted itself (the overview's figures)."""

    code: str
    lines: int = 0
    km: float = 0.0
    markers: int = 0
    own_lines: int = 0
    own_markers: int = 0
    errors: int = 0
    warnings: int = 0


def province_figures(store: Store, code: str) -> ProvinceFigures:
    """The figures of ``code``'s page (see :class:`ProvinceFigures`)."""
    lines = store.read_layer("lines", province=code)
    markers = store.read_layer("markers", province=code)
    issues = store.read_layer("issues", province=code)
    return ProvinceFigures(
        code=code, lines=len(lines), km=float(sum(per_row("km", lines, geodesic_km))),
        markers=len(markers), own_lines=int((lines["province"].astype(str) == code).sum()),
        own_markers=int((markers["province"].astype(str) == code).sum()),
        errors=int((issues["severity"] == "error").sum()), warnings=int((issues["severity"] == "warning").sum()))


def max_deviation_m(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """The largest distance (metres) between two versions of a line: the measure of
    ``line.neighbor_mismatch`` itself (:func:`boundaries.rules.lines.boundary_deviation_m`), so that the
    map's "agreed" is the rule's answer (gaps inside a segment included)."""
    return boundary_deviation_m(a, b, NEIGHBOUR_TOLERANCE_M)


def _metres(p: shapely.Point, q: shapely.Point) -> float:
    """Geodesic distance between two lon/lat points, metres."""
    return float(_GEOD.inv(p.x, p.y, q.x, q.y)[2])


_AGREEMENT_CACHE: dict[tuple, str] = {}


def _pair(left: str, right: str) -> tuple[str, str]:
    return tuple(sorted((str(left), str(right))))


def line_agreement(page: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
                   tolerance_m: float = NEIGHBOUR_TOLERANCE_M) -> list[str]:
    """For each line of ``page``: ``agreed``/``differs`` with the other side's version among ``candidates``
    (same two codes, submitted by the other province), or ``single`` when only one side has submitted."""
    keys = [_pair(a, b) for a, b in zip(candidates["left_code"], candidates["right_code"], strict=True)]
    by_pair: dict[tuple, list[int]] = {}
    for position, key in enumerate(keys):
        by_pair.setdefault(key, []).append(position)
    out = []
    for row in page.itertuples():
        others = [i for i in by_pair.get(_pair(row.left_code, row.right_code), [])
                  if str(candidates["province"].iloc[i])[:2] != str(row.province)[:2]]
        if not others:
            out.append("single")
            continue
        other = candidates.iloc[others[0]]
        key = (int(row.fid), int(other["fid"]))
        if key not in _AGREEMENT_CACHE:
            deviation = max_deviation_m(row.geometry, other.geometry)
            _AGREEMENT_CACHE[key] = "agreed" if deviation <= tolerance_m else "differs"
        out.append(_AGREEMENT_CACHE[key])
    return out


def line_diff(store: Store, province: str, line_id: str, sid_a: int, sid_b: int) -> dict:
    """Two submissions' versions of one line: the geometries, lengths, vertex counts, largest deviation,
    and the markers added, removed or moved (more than 0.5 m)."""
    lines = store.read_layer("lines", province=province, history=True)
    markers = store.read_layer("markers", province=province, history=True)
    versions = {}
    for sid in (sid_a, sid_b):
        rows = lines[(lines["line_id"] == line_id) & (lines["submission_id"] == sid)]
        if rows.empty:
            return {}
        versions[sid] = rows.iloc[0]
    a, b = versions[sid_a].geometry, versions[sid_b].geometry
    ma = markers[(markers["line_id"] == line_id) & (markers["submission_id"] == sid_a)].set_index("marker_id")
    mb = markers[(markers["line_id"] == line_id) & (markers["submission_id"] == sid_b)].set_index("marker_id")
    both = ma.index.intersection(mb.index)
    moved = [m for m in both if _metres(ma.geometry[m], mb.geometry[m]) > 0.5]
    return {"line_id": line_id, "a": versions[sid_a], "b": versions[sid_b],
            "km": [float(geodesic_km(np.array([g]))[0]) for g in (a, b)],
            "vertices": [int(shapely.get_num_coordinates(g)) for g in (a, b)],
            "max_deviation_m": max_deviation_m(a, b),
            "added": sorted(set(mb.index) - set(ma.index)), "removed": sorted(set(ma.index) - set(mb.index)),
            "moved": sorted(moved)}
