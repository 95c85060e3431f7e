"""``marker.*`` rules: boundary markers (界桩) against their lines, each other, their ids and declared coordinates.

Distances are measured in the Gauss-Krüger zone of the marker (:mod:`boundaries.rules._geometry`). A
marker's line is the line with its ``line_id`` (submitted, else stored); without one, the nearest line.
同号双立/三立 posts stand off the line by design (e.g. on both banks of a boundary river) and have their
own limit. A 三面型 junction marker is one post standing where three lines meet: it lies on each of them.

Where declared coordinates disagree with the geometry, the rules say why when they can: X and Y swapped,
another Gauss-Krüger zone (wrong central meridian or zone prefix), or the GCJ-02 offset of web maps.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from itertools import compress, repeat

import numpy as np
import pandas as pd
import shapely

from boundaries.config import DEFAULT_MARKER_ID_PATTERN
from boundaries.crs import CHINA_BOUNDS, candidate_zones, gauss_kruger, implausible, transformer
from boundaries.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from boundaries.model import Issue
from boundaries.rules import CheckContext, one_defect, rule
from boundaries.rules._geometry import (
    DEG_PER_M,
    Workspace,
    fmt_m,
    index_mask,
    line_pieces,
    nearest_line_m,
    pair_in_metric,
    per_distinct,
    workspace,
)
from boundaries.rules.lines import invalid_lines, measurable_lines

__all__ = [
    "axis_swapped",
    "coordinate_mismatch",
    "duplicate_id",
    "duplicate_position",
    "id_format",
    "lone_post",
    "neighbor_mismatch",
    "off_line",
    "out_of_region",
]

#: The type letters each marker type allows (SPEC §4).
TYPE_LETTERS = {"单立": "Q", "同号双立": "AB", "同号三立": "CDE"}
_TYPE_EN = {"单立": "single post", "同号双立": "paired post (同号双立)", "同号三立": "triple post (同号三立)"}
_GK_CODES = tuple(range(4491, 4555))
#: Which rule's issue the report keeps when several find one marker misplaced (:func:`one_defect`): the
#: clearest cause first.
_POSITION_RANK = {"marker.foreign_boundary": 0, "marker.out_of_region": 1, "marker.unknown_line": 2,
                  "marker.off_line": 3}


def _issue(rule_id: str, ctx: CheckContext, k: int, zh: str, en: str) -> Issue:
    lon, lat = _lonlat(workspace(ctx))[k]
    lon, lat = (float(lon), float(lat)) if np.isfinite(lon) and np.isfinite(lat) else (None, None)
    source = _columns(ctx)["source_file"][k]
    return Issue(rule_id, "error", "markers", _name(ctx, k), lon, lat, zh, en,
                 source if isinstance(source, str) else None)


def _columns(ctx: CheckContext) -> dict[str, np.ndarray]:
    """The submitted markers' ids and source files as arrays, taken once (an issue reads them by row)."""
    def compute():
        markers = ctx.submission.markers
        source = (markers["source_file"].to_numpy(dtype=object) if "source_file" in markers
                  else np.full(len(markers), None, dtype=object))
        return {"marker_id": markers["marker_id"].to_numpy(dtype=object), "source_file": source}

    return workspace(ctx).once("marker.columns", compute)


def _name(ctx: CheckContext, k: int) -> str:
    value = _columns(ctx)["marker_id"][k]
    return str(value) if isinstance(value, str) and value else f"#{k + 1}"


def _values(ws: Workspace, layer: str, column: str) -> np.ndarray:
    """A column of the view's ``lines`` or ``markers`` as an object array, taken once per check: the frames
    hold pyarrow strings, of which each ``to_numpy`` makes every value a Python object anew (20 of them
    took 0.08 s on the 182 k-line grid). Shared: read it, do not write into it."""
    frame = ws.lines.frame if layer == "lines" else ws.markers.frame
    return ws.once(("marker.values", layer, column), lambda: frame[column].to_numpy(dtype=object))


def _usable(ws: Workspace) -> np.ndarray:
    """Submitted markers with a finite point geometry."""
    def compute():
        xy = _lonlat(ws)[: ws.markers.n_submitted]
        return np.flatnonzero(np.isfinite(xy[:, 0]) & np.isfinite(xy[:, 1]))

    return ws.once("marker.usable", compute)


def _lonlat(ws: Workspace) -> np.ndarray:
    """(lon, lat) of every marker of the view: a point's coordinates, another geometry's centroid; NaN
    for a missing or empty one."""
    def compute():
        geoms = ws.markers.geometries
        out = np.full((len(geoms), 2), np.nan)
        ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        point = ok & (shapely.get_type_id(geoms) == 0)
        out[point] = shapely.get_coordinates(geoms[point])
        out[ok & ~point] = shapely.get_coordinates(shapely.centroid(geoms[ok & ~point]))
        return out

    return ws.once("marker.lonlat", compute)


def _to_zone(lonlat: np.ndarray, epsg: np.ndarray) -> np.ndarray:
    """(lon, lat) rows to (easting, northing) in each row's zone ``epsg``."""
    out = np.full((len(lonlat), 2), np.nan)
    for code in np.unique(epsg):
        m = epsg == code
        x, y = transformer(4490, int(code)).transform(lonlat[m, 0], lonlat[m, 1])
        out[m] = np.column_stack([x, y])
    return out


def _gap_m(lonlat_a: np.ndarray, lonlat_b: np.ndarray) -> np.ndarray:
    """Metres between two sets of (lon, lat) points, each pair measured in the zone of the first point."""
    lon = np.where(np.isfinite(lonlat_a[:, 0]), lonlat_a[:, 0], 105.0)
    zones = 4534 + np.clip(np.round(lon / 3.0), 25, 45).astype(int) - 25  # metric_epsg, vectorised
    a, b = _to_zone(lonlat_a, zones), _to_zone(lonlat_b, zones)
    with np.errstate(invalid="ignore"):
        gap = np.hypot(*(a - b).T)
    return np.where(np.isfinite(gap), gap, np.inf)


# -- where each marker stands relative to the lines ----------------------------------------------------------
def _exact_nearest(ws: Workspace, marker: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres from each marker to the nearest of ``lines`` (whole lines: for the few beyond a search)."""
    if not len(marker) or not len(lines):
        return np.full(len(marker), np.nan), np.full(len(marker), -1)
    tree = shapely.STRtree(ws.lines.geometries[lines])
    k, j = tree.query_nearest(ws.markers.geometries[marker], all_matches=False)
    ga, gb, _ = pair_in_metric(ws.markers.metric, marker[k], ws.lines.metric, lines[j])
    distance, line = np.full(len(marker), np.nan), np.full(len(marker), -1)
    distance[k], line[k] = shapely.distance(ga, gb), lines[j]
    return distance, line


def _region(ws: Workspace, ctx: CheckContext, far_m: float) -> dict:
    """Per usable submitted marker: outside China, and metres to the nearest line of the province."""
    def compute():
        usable = _usable(ws)
        lonlat = _lonlat(ws)[usable]
        w, s, e, n = CHINA_BOUNDS
        outside = (lonlat[:, 0] < w) | (lonlat[:, 0] > e) | (lonlat[:, 1] < s) | (lonlat[:, 1] > n)
        view = ws.lines
        prefix = ctx.submission.province[:2]
        # a side in the province, judged once per distinct code (a missing one: factorize's -1, the appended
        # False) and combined per line with numpy
        n_lines = len(view.frame)
        sides, distinct = pd.factorize(np.concatenate([_values(ws, "lines", "left_code"),
                                                       _values(ws, "lines", "right_code")]))
        inside = per_distinct(lambda c: isinstance(c, str) and c.startswith(prefix), distinct, sides)
        own_mask = ~view.frame["stored"].to_numpy(dtype=bool) | inside[:n_lines] | inside[n_lines:]
        measurable = measurable_lines(ws)
        own = measurable[own_mask[measurable]]
        distance = np.full(len(usable), np.nan)
        if len(own) and len(usable):
            # a marker within far_m of its own line, a line of the province, is settled by marker.off_line's
            # measurement (shared): only the others are searched for the nearest line of the province
            mine = _own_line(ws, *_off_line_limits())
            line = mine["line"]
            settled = (line >= 0) & (mine["distance"] <= far_m) & own_mask[np.maximum(line, 0)]
            distance[settled] = mine["distance"][settled]
            rest = np.flatnonzero(~settled)
            pieces = line_pieces(ws, measurable)
            distance[rest], _ = nearest_line_m(ws, pieces, ws.markers.metric, usable[rest],
                                               lambda _n, line: own_mask[line], far_m, accept_m=far_m)
            beyond = rest[~np.isfinite(distance[rest])]
            distance[beyond] = _exact_nearest(ws, usable[beyond], own)[0]
        on_broken = pd.Series(_values(ws, "markers", "line_id")[usable], dtype=object).isin(
            _broken_line_ids(ws)).to_numpy()
        far = np.isfinite(distance) & (distance > far_m) & ~on_broken
        return {"usable": usable, "outside": outside, "distance": distance, "out": outside | far}

    return ws.once(("marker.region", far_m), compute)


def _off_line_limits() -> tuple[float, float]:
    """The search radius and settling distance of marker.off_line's measurement (its default limits)."""
    from boundaries.rules import REGISTRY

    params = REGISTRY["marker.off_line"].params
    return max(params["single_m"], params["multi_m"]), params["single_m"]


def _broken_line_ids(ws: Workspace) -> set:
    """Ids of submitted lines with invalid geometry: their markers cannot be measured against them."""
    ids = _values(ws, "lines", "line_id")
    return {ids[i] for i in invalid_lines(ws) if isinstance(ids[i], str)}


def _own_line(ws: Workspace, radius_m: float, accept_m: float) -> dict:
    """Per usable submitted marker: metres to its line (by ``line_id``, else the nearest line) and that line.

    Markers whose line is reported invalid are not measured (NaN)."""
    def compute():
        usable = _usable(ws)
        measurable = measurable_lines(ws)
        line_ids = _values(ws, "lines", "line_id")
        marker_line = _values(ws, "markers", "line_id")[usable]
        known = set(line_ids[measurable].tolist())
        matched = np.array([x in known for x in marker_line], dtype=bool)
        broken = np.isin(marker_line, list(_broken_line_ids(ws))) & ~matched
        pieces = line_pieces(ws, measurable)

        # the marker's line id and the lines' as integers of one code space (comparing integers costs a
        # fraction of comparing strings); missing ids (-1) are compared as values, as ``==`` does them
        codes, _ = pd.factorize(np.concatenate([line_ids, marker_line]))
        line_code, marker_code = codes[: len(line_ids)], codes[len(line_ids):]

        def allowed(n, line):
            same = line_code[line] == marker_code[n]
            missing = np.flatnonzero((line_code[line] < 0) & (marker_code[n] < 0))
            same[missing] = line_ids[line[missing]] == marker_line[n[missing]]
            return ~matched[n] | same

        distance, line = nearest_line_m(ws, pieces, ws.markers.metric, usable, allowed, radius_m, accept_m)
        beyond = np.flatnonzero(~np.isfinite(distance) & ~broken)
        for n in beyond:  # farther than the search: measure against the whole line (few markers)
            candidates = measurable[line_ids[measurable] == marker_line[n]] if matched[n] else measurable
            d, j = _exact_nearest(ws, usable[[n]], candidates)
            distance[n], line[n] = d[0], j[0]
        distance[broken] = np.nan
        return {"usable": usable, "distance": distance, "line": line, "matched": matched | broken}

    return ws.once(("marker.own_line", radius_m, accept_m), compute)


@rule("marker.out_of_region", severity="error", layer="markers",
      description="界桩在中国范围以外，或远离提交省份的所有界线",
      description_en="a marker outside China's extent, or nowhere near the submitting province's lines",
      far_m=5000.0)
def out_of_region(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers outside China's extent (73–136°E, 3–54°N), or farther than ``far_m`` (5000 m) from every
    line of the submitting province (submitted, or stored with a side in it)."""
    ws = workspace(ctx)
    region = _region(ws, ctx, params["far_m"])
    lonlat = _lonlat(ws)
    for n in np.flatnonzero(region["out"]):
        k = region["usable"][n]
        lon, lat = lonlat[k]
        if region["outside"][n]:
            issue = _issue("marker.out_of_region", ctx, int(k),
                           f"界桩 {_name(ctx, k)} 位于 {lon:.4f}°E, {lat:.4f}°N，在中国范围（73–136°E，3–54°N）以外",
                           f"marker {_name(ctx, k)} lies at {lon:.4f}°E {lat:.4f}°N, outside China's extent "
                           "(73–136°E, 3–54°N)")
        else:
            d = region["distance"][n]
            issue = _issue("marker.out_of_region", ctx, int(k),
                           f"界桩 {_name(ctx, k)} 距本省任一界线 {d / 1000:.2f} km（限值 {params['far_m']:g} m）",
                           f"marker {_name(ctx, k)} lies {d / 1000:.2f} km from every line of province "
                           f"{ctx.submission.province} (limit {params['far_m']:g} m)")
        yield one_defect(issue, ("marker.position", int(k)), _POSITION_RANK["marker.out_of_region"])


@rule("marker.off_line", severity="error", layer="markers",
      description="单立界桩距界线超过 5 m，同号双立/三立界桩超过 500 m",
      description_en="a 单立 marker farther than 5 m from its line; a 双立/三立 post farther than 500 m",
      single_m=5.0, multi_m=500.0)
def off_line(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers farther from their line than ``single_m`` (5 m, 单立) or ``multi_m`` (500 m, 同号双立/三立,
    which stand off the line by design), however far. One defect with ``marker.out_of_region`` and
    ``marker.foreign_boundary``: where they find the marker too, the report keeps theirs."""
    ws = workspace(ctx)
    # settled within the 单立 limit is within every limit; the rest are measured exactly
    own = _own_line(ws, max(params["single_m"], params["multi_m"]), params["single_m"])
    types = _values(ws, "markers", "marker_type")
    limits = np.where(np.isin(types[own["usable"]], ["同号双立", "同号三立"]), params["multi_m"], params["single_m"])
    with np.errstate(invalid="ignore"):
        beyond = np.isfinite(own["distance"]) & (own["distance"] > limits)
    for n in np.flatnonzero(beyond):
        k, distance, limit = own["usable"][n], own["distance"][n], limits[n]
        line_id = ws.lines.frame["line_id"].iloc[own["line"][n]]
        if own["matched"][n]:
            zh_line, en_line = f"其界线 {line_id}", f"its line {line_id}"
        else:
            declared = ws.markers.frame["line_id"].iloc[k]
            zh_line = f"最近的界线 {line_id}（未找到其界线 {declared}）"
            en_line = f"the nearest line {line_id} (its line {declared} is not found)"
        kind = types[k] if types[k] in TYPE_LETTERS else "单立"
        yield one_defect(_issue("marker.off_line", ctx, int(k),
                                f"{kind}界桩 {_name(ctx, k)} 距{zh_line} {fmt_m(distance)} m（限值 {limit:g} m）",
                                f"{_TYPE_EN[kind]} marker {_name(ctx, k)} stands {fmt_m(distance)} m from {en_line} "
                                f"(limit {limit:g} m)"), ("marker.position", int(k)), _POSITION_RANK["marker.off_line"])


# -- whose boundary: a province writes only markers of its own boundaries (SPEC §4) -------------------------------
#: The two-digit GB/T 2260 prefixes of China's provinces, of which line codes are made (SPEC §4).
_PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
                       "61 62 63 64 65 71 81 82".split())


def code_sides(code) -> tuple[str, str] | None:
    """The two divisions a line code names, from its leading digits: a provincial code's two two-digit
    prefixes (``3643`` → 36, 43), a city-level code's two 4-digit and a county-level code's two 6-digit
    codes (scripts/cnmaps_network.py); None for any other numbering, which is not judged by its code.

    >>> code_sides("3643"), code_sides("4243-1"), code_sides("360102360103"), code_sides("JX-01")
    (('36', '43'), ('42', '43'), ('360102', '360103'), None)
    """
    digits = re.match(r"\d*", code.strip()).group() if isinstance(code, str) else ""
    if len(digits) not in (4, 8, 12):
        return None
    a, b = digits[: len(digits) // 2], digits[len(digits) // 2:]
    return (a, b) if a[:2] in _PROVINCES and b[:2] in _PROVINCES else None


def _division(prefix: str) -> str:
    """A code prefix as the six-digit division code it stands for (``42`` → ``420000``)."""
    return prefix.ljust(6, "0")


def _line_owner(ws: Workspace, province: str) -> np.ndarray:
    """Per line of the view: 1 where a side is in ``province``, -1 where both codes are known and neither
    is, 0 where a code is missing or malformed (``line.attribute``'s finding: not judged here)."""
    def compute():
        prefix = province[:2]
        frame = ws.lines.frame
        n = len(frame)
        # judged once per distinct code (a division's code recurs on every line of its boundary), then
        # combined per line with numpy: the per-line loop took 0.15 s for 182 k lines
        codes, uniques = pd.factorize(np.concatenate([_values(ws, "lines", "left_code"),
                                                      _values(ws, "lines", "right_code")]))
        known = np.array([isinstance(c, str) and c.isdigit() and len(c) in (6, 9, 12) for c in uniques] + [False])
        inside = np.array([isinstance(c, str) and c[:2] == prefix for c in uniques] + [False])
        left, right = codes[:n], codes[n:]  # -1 (a missing value) picks the appended False
        judged = known[left] & known[right] & (left != right)
        out = np.zeros(n, dtype=int)
        out[judged] = np.where(inside[left[judged]] | inside[right[judged]], 1, -1)
        return out

    return ws.once(("marker.line_owner", province), compute)


def _id_parts(ws: Workspace, ctx: CheckContext) -> dict[str, np.ndarray]:
    """Per marker of the view (submitted, then stored), as columns: ``id`` (its id), ``matched`` (the id
    matches the configured pattern in full), the ``line`` and ``letter`` groups of a match (None where the
    pattern has no such group, it took no part or the id does not match) and ``number``: the id without its
    letter, where the letter is not empty.

    Each id goes through Python's ``re`` (the configured pattern is a Python regular expression: pyarrow's
    RE2, which pandas' string methods use on these columns, reads some patterns otherwise), once; the
    groups are taken from the matches only, column by column."""
    def compute():
        pattern = re.compile(ctx.settings.get("marker_id_pattern") or DEFAULT_MARKER_ID_PATTERN)
        ids = _values(ws, "markers", "marker_id")
        # the per-id calls as ``map`` over C methods (re.Match.group …), not as comprehensions: a third of
        # the time (37 k ids of the county network: 0.02 s instead of 0.06 s); the same matches and groups
        text = np.flatnonzero(np.fromiter(map(isinstance, ids, repeat(str)), dtype=bool, count=len(ids)))
        matches = list(map(pattern.fullmatch, ids[text]))
        ok = np.fromiter(map(operator.is_not, matches, repeat(None)), dtype=bool, count=len(matches))
        hit, found = text[ok], list(compress(matches, ok))
        out = {"id": ids, "matched": index_mask(hit, len(ids))}
        for group in ("line", "letter", "number"):
            out[group] = np.full(len(ids), None, dtype=object)
        if "line" in pattern.groupindex and len(hit):
            out["line"][hit] = list(map(re.Match.group, found, repeat("line")))
        if "letter" in pattern.groupindex and len(hit):
            letters = list(map(re.Match.group, found, repeat("letter")))
            out["letter"][hit] = letters
            lettered = np.fromiter(map(bool, letters), dtype=bool, count=len(letters))
            out["number"][hit[lettered]] = [m.string[:m.start("letter")] + m.string[m.end("letter"):]
                                            for m in compress(found, lettered)]
        return out

    return ws.once("marker.id_parts", compute)


def _foreign_line_ids(ws: Workspace, province: str) -> dict:
    """Per line id a submitted marker names: (zh, en) when it is a boundary with neither side in
    ``province``: the lines of the view with that id all are (by their codes), or its code says so."""
    owner = _line_owner(ws, province)
    frame = ws.lines.frame
    ids = _values(ws, "lines", "line_id")
    named = pd.unique(ws.markers.frame["line_id"].iloc[: ws.markers.n_submitted]).astype(object)
    # per distinct id (one code space for the lines' and the markers' ids): the first line with it and
    # whether every line with it is foreign, counted with numpy (a Python pass over every line took 0.4 s
    # at 182 k lines); a missing id (factorize's -1) is looked up among the lines without one, as a dict would
    codes, distinct = pd.factorize(np.concatenate([ids, named]))
    line_code, named_code = codes[: len(ids)], codes[len(ids):]
    known = line_code >= 0
    n_lines = np.bincount(line_code[known], minlength=len(distinct))
    n_foreign = np.bincount(line_code[known & (owner < 0)], minlength=len(distinct))
    first_line = np.full(len(distinct), -1)
    present, first = np.unique(line_code, return_index=True)
    first_line[present[present >= 0]] = first[present >= 0]
    unnamed: dict = {}
    for i in np.flatnonzero(~known).tolist():
        unnamed.setdefault(ids[i], []).append(i)
    out = {}
    for line_id, code in zip(named.tolist(), named_code.tolist(), strict=True):
        if code >= 0:
            lines = [int(first_line[code])] if n_lines[code] else []
            all_foreign = bool(n_lines[code]) and n_foreign[code] == n_lines[code]
        else:
            lines = unnamed.get(line_id, [])
            all_foreign = bool(lines) and bool((owner[lines] < 0).all())
        sides = code_sides(line_id)
        if lines and all_foreign:
            left, right = frame["left_code"].iloc[lines[0]], frame["right_code"].iloc[lines[0]]
            out[line_id] = (f"其界线 {line_id}（{left}|{right}）两侧均不在本省 {province}",
                            f"its line {line_id} ({left}|{right}) has neither side in province {province}")
        elif sides and province[:2] not in (sides[0][:2], sides[1][:2]):
            a, b = _division(sides[0]), _division(sides[1])
            out[line_id] = (f"其界线编号 {line_id} 是 {a} 与 {b} 之间的界线，两侧均不在本省 {province}",
                            f"its line id {line_id} names the boundary of {a} and {b}, neither side in "
                            f"province {province}")
    return out


def _foreign_by_line(ws: Workspace, ctx: CheckContext) -> dict[int, list[tuple[str, str]]]:
    """Submitted markers whose line (``line_id``) or the line code in whose id is another boundary."""
    province = ctx.submission.province
    by_line = _foreign_line_ids(ws, province)
    out: dict[int, list[tuple[str, str]]] = {}
    line_ids = _values(ws, "markers", "line_id")
    parts = _id_parts(ws, ctx)
    n = ws.markers.n_submitted
    # a marker can have a reason only if its line id is one of ``by_line`` or the line code in its id names
    # another boundary: both decided once per distinct value (a line's id and code recur on each of its
    # markers), the loop below visits only those markers
    ids, distinct_ids = pd.factorize(line_ids[:n])
    codes, distinct_codes = pd.factorize(parts["line"][:n])
    named = per_distinct(lambda i: i in by_line, distinct_ids, ids)
    missing = np.flatnonzero(ids < 0)  # no line id (None, NaN: factorize's -1): each looked up as it is
    named[missing] = np.fromiter((line_ids[k] in by_line for k in missing), dtype=bool, count=len(missing))

    def names_other(code) -> bool:
        sides = code_sides(code)
        return bool(sides) and province[:2] not in (sides[0][:2], sides[1][:2])

    # an id without a line code (None: factorize's -1) names no boundary
    foreign = per_distinct(names_other, distinct_codes, codes)
    for k in np.flatnonzero(named | foreign).tolist():
        reasons = [by_line[line_ids[k]]] if line_ids[k] in by_line else []
        code = parts["line"][k]
        sides = code_sides(code)
        if sides and province[:2] not in (sides[0][:2], sides[1][:2]) and not (
                reasons and code_sides(line_ids[k]) == sides):
            a, b = _division(sides[0]), _division(sides[1])
            reasons.append((f"编号中的界线代码 {code} 指 {a} 与 {b} 之间的界线",
                            f"the line code {code} in its id names the boundary of {a} and {b}"))
        if reasons:
            out[k] = reasons
    return out


def _foreign_by_position(ws: Workspace, ctx: CheckContext, distance_m: float) -> dict[int, tuple[str, str]]:
    """Submitted markers within ``distance_m`` of another boundary's line and farther than that from every
    line of the province (submitted or stored; lines without codes count as the province's)."""
    usable = _usable(ws)
    owner = _line_owner(ws, ctx.submission.province)
    measurable = measurable_lines(ws)
    if not len(usable) or not (owner[measurable] < 0).any():
        return {}
    pieces = line_pieces(ws, measurable)
    # a marker that marker.off_line's measurement (shared) puts well within distance_m of a line of the
    # province is near one (the metre of margin covers its whole-line measure of the few beyond its
    # search); only the others are searched
    mine = _own_line(ws, *_off_line_limits())
    with np.errstate(invalid="ignore"):
        near = (mine["line"] >= 0) & (mine["distance"] <= distance_m - 1.0) & (owner[np.maximum(mine["line"], 0)] >= 0)
    rest = np.flatnonzero(~near)
    own = np.zeros(len(usable))
    own[rest], _ = nearest_line_m(ws, pieces, ws.markers.metric, usable[rest], lambda _n, line: owner[line] >= 0,
                                  distance_m, accept_m=distance_m)
    far = usable[~np.isfinite(own)]
    foreign, line = nearest_line_m(ws, pieces, ws.markers.metric, far, lambda _n, line: owner[line] < 0,
                                   distance_m, accept_m=distance_m)
    frame, province = ws.lines.frame, ctx.submission.province
    out = {}
    for n in np.flatnonzero(np.isfinite(foreign)):
        j = line[n]
        name = f"{frame['line_id'].iloc[j]}（{frame['left_code'].iloc[j]}|{frame['right_code'].iloc[j]}）"
        name_en = f"{frame['line_id'].iloc[j]} ({frame['left_code'].iloc[j]}|{frame['right_code'].iloc[j]})"
        out[int(far[n])] = (f"它立于界线 {name} 旁 {fmt_m(foreign[n])} m，距本省 {province} 任一界线超过 "
                            f"{distance_m:g} m",
                            f"it stands {fmt_m(foreign[n])} m from line {name_en}, more than {distance_m:g} m "
                            f"from every line of province {province}")
    return out


@rule("marker.foreign_boundary", severity="error", layer="markers",
      description="界桩属于两侧均不在提交省份的界线（按界线编号、界桩编号中的界线代码，或所在位置）",
      description_en="a marker of a boundary with neither side in the submitting province (by its line_id, "
                     "the line code in its id, or where it stands)",
      distance_m=500.0)
def foreign_boundary(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers the submitting province may not write: a submission writes only lines and markers of
    boundaries one of whose sides is in the province (SPEC §4). Found by the marker's line (``line_id``:
    the submitted or stored lines of that id by their codes, else the line code itself), by the line code
    in its id (:func:`code_sides`), and by where it stands: within ``distance_m`` (500 m, the 双立 limit)
    of another boundary's line and farther than that from every line of the province."""
    ws = workspace(ctx)
    reasons = _foreign_by_line(ws, ctx)
    for k, reason in _foreign_by_position(ws, ctx, params["distance_m"]).items():
        reasons.setdefault(k, []).append(reason)
    province = ctx.submission.province
    for k in sorted(reasons):
        zh, en = zip(*reasons[k], strict=True)
        yield one_defect(_issue("marker.foreign_boundary", ctx, int(k),
                                f"界桩 {_name(ctx, k)}：{'；'.join(zh)}。只能提交一侧在本省 {province} 的界线的界桩",
                                f"marker {_name(ctx, k)}: {'; '.join(en)}. Province {province} may only submit "
                                "markers of boundaries with one side in it"),
                         ("marker.position", int(k)), _POSITION_RANK["marker.foreign_boundary"])


@rule("marker.unknown_line", severity="error", layer="markers",
      description="界桩的界线编号在本次提交和数据库中都没有", description_en="a marker whose line_id names no "
      "line of the submission or the database")
def unknown_line(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers whose ``line_id`` names no line of the submission and none the database holds around it
    (a part id such as ``4243-1`` also counts for ``4243``): a marker's line comes with it or is stored
    before it. Markers without a ``line_id`` are measured against the nearest line (``marker.off_line``)."""
    ws = workspace(ctx)
    ids = [i for i in _values(ws, "lines", "line_id") if isinstance(i, str)]
    # an id of digits only is its own leading digits (``\d`` is what str.isdecimal accepts): only the others
    # are matched
    known = set(ids) | {re.match(r"\d*", i).group() for i in ids if not i.isdecimal()}
    line_ids = _values(ws, "markers", "line_id")[: ws.markers.n_submitted]
    for k in np.flatnonzero([isinstance(i, str) and i != "" and i not in known for i in line_ids]):
        yield one_defect(_issue("marker.unknown_line", ctx, int(k),
                                f"界桩 {_name(ctx, k)} 的界线 {line_ids[k]} 既不在本次提交中，也不在数据库中："
                                "请一并提交该界线，或更正界线编号",
                                f"marker {_name(ctx, k)}: its line {line_ids[k]} is neither in the submission nor "
                                "in the database: submit the line with it, or correct the line id"),
                         ("marker.position", int(k)), _POSITION_RANK["marker.unknown_line"])


# -- ids ------------------------------------------------------------------------------------------------------
@rule("marker.duplicate_id", severity="error", layer="markers",
      description="提交中两个界桩编号相同", description_en="two markers with the same id in the submission")
def duplicate_id(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers whose id an earlier marker of the submission already has; each repeat is reported at its
    own position. (The posts of a 同号双立 pair differ by their letter, A/B.)"""
    markers = ctx.submission.markers
    ids = markers["marker_id"]
    rows = (markers["source_row"] if "source_row" in markers else pd.Series(np.arange(1, len(markers) + 1))
            ).to_numpy()
    code, _ = pd.factorize(ids)  # missing ids get -1
    by_id = pd.Series(np.arange(len(code))).groupby(code)
    first, count = by_id.transform("min").to_numpy(), by_id.transform("size").to_numpy()
    for k in np.flatnonzero((code >= 0) & (first != np.arange(len(code)))):
        yield one_defect(_issue("marker.duplicate_id", ctx, int(k),
                                f"界桩编号 {ids.iloc[k]} 重复（共 {count[k]} 个；首次见于第 {rows[first[k]]} 行）",
                                f"marker id {ids.iloc[k]} is used {count[k]} times (first at row {rows[first[k]]})"),
                         ("marker.id", int(k)), 0)


@rule("marker.id_format", severity="error", layer="markers",
      description="界桩编号不符合规定格式，或类型字母与界桩类型矛盾",
      description_en="an id that does not follow the configured pattern, or whose type letter contradicts its type")
def id_format(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Ids that do not match the configured pattern (line code + 3-digit sequence + type letter by default),
    unknown marker types, type letters that contradict the type (Q 单立, A/B 同号双立, C/D/E 同号三立), and
    line codes that contradict the marker's line (``line_id``, or its leading digits as in ``4243-1``)."""
    pattern = re.compile(ctx.settings.get("marker_id_pattern") or DEFAULT_MARKER_ID_PATTERN)
    markers = ctx.submission.markers
    n = len(markers)
    parts = {column: values[:n] for column, values in _id_parts(workspace(ctx), ctx).items()}
    ws = workspace(ctx)
    kinds = _values(ws, "markers", "marker_type")[:n]  # the submitted markers' column, converted once
    problem = _id_problems(parts, kinds)
    # the line code against the leading digits of the marker's line id, where the id itself is sound: each
    # distinct line id's digits found once (a line's id recurs on each of its markers)
    line_ids = _values(ws, "markers", "line_id")[:n]
    codes, distinct = pd.factorize(line_ids)
    digits = np.array([_DIGITS.match(i.strip()).group() if isinstance(i, str) else "" for i in distinct]
                      + [""], dtype=object)[codes]  # a missing line id (-1) picks the appended ""
    code = parts["line"]
    sound = np.flatnonzero(problem < 0)
    # both non-empty and different, column by column (``!=`` of object arrays compares value by value)
    c, d = code[sound], digits[sound]
    contradicts = (np.fromiter(map(bool, c), dtype=bool, count=len(c))
                   & np.fromiter(map(bool, d), dtype=bool, count=len(d)) & (c != d))
    problem[sound[contradicts]] = _LINE_CODE
    for k in np.flatnonzero(problem >= 0).tolist():
        if problem[k] == _LINE_CODE:
            line_id = line_ids[k]
            zh = f"编号中的界线代码 {code[k]} 与其界线 {line_id} 矛盾：界桩编号或界线编号有误"
            en = (f"the line code {code[k]} in the id contradicts its line {line_id}: the marker id or the line "
                  "id is wrong")
        else:
            zh, en = _id_message(pattern, int(problem[k]), kinds[k], parts["letter"][k])
        yield one_defect(_issue("marker.id_format", ctx, k, f"界桩 {_name(ctx, k)}：{zh}",
                                f"marker {_name(ctx, k)}: {en}"), ("marker.id", k), 1)


#: The leading digits of a line id (``marker.id_format``'s test of the line code in a marker id).
_DIGITS = re.compile(r"\d*")
#: What :func:`_id_problems` finds wrong with an id, in the order it is judged (-1: nothing).
_MISSING, _UNKNOWN_TYPE, _NO_MATCH, _WRONG_LETTER, _LINE_CODE = range(5)


def _id_problems(parts: dict[str, np.ndarray], kinds: np.ndarray) -> np.ndarray:
    """Per marker (``parts``: :func:`_id_parts`' columns; ``kinds``: marker types), the first thing wrong
    with its id and type: missing id, unknown type, no match of the pattern, a type letter its type does
    not allow (the letter must be within the type's letters, ``TYPE_LETTERS``); -1 where none is."""
    ids = parts["id"]
    problem = np.full(len(ids), -1)
    present = np.fromiter(map(isinstance, ids, repeat(str)), dtype=bool, count=len(ids)) & (ids != "")
    known = pd.Series(kinds, dtype=object).isin(list(TYPE_LETTERS)).to_numpy()
    letter = parts["letter"]
    # judged per type and distinct letter (a handful): whether the type allows it; no letter (None:
    # factorize's -1) is no contradiction, the appended False
    judged = np.flatnonzero(present & known & parts["matched"])
    letter_code, letters = pd.factorize(letter[judged])
    for kind, allowed in TYPE_LETTERS.items():
        wrong = per_distinct(lambda lt, allowed=allowed: lt not in allowed, letters, letter_code)
        problem[judged[(kinds[judged] == kind) & wrong]] = _WRONG_LETTER
    problem[present & known & ~parts["matched"]] = _NO_MATCH
    problem[present & ~known] = _UNKNOWN_TYPE
    problem[~present] = _MISSING
    return problem


def _id_message(pattern: re.Pattern, problem: int, kind, letter) -> tuple[str, str]:
    """What :func:`_id_problems` found (zh, en)."""
    if problem == _MISSING:
        return "缺少界桩编号", "the marker id is missing"
    if problem == _UNKNOWN_TYPE:
        return ("界桩类型无法识别（应为 单立、同号双立 或 同号三立）",
                "the marker type is none of 单立, 同号双立, 同号三立")
    if problem == _NO_MATCH:
        return (f"编号不符合格式 {pattern.pattern}（界线代码 + 三位序号 + 类型字母，如 3643017Q）",
                f"the id does not follow the pattern {pattern.pattern} (line code + 3-digit sequence + "
                "type letter, e.g. 3643017Q)")
    letters = "/".join(TYPE_LETTERS[kind])
    return (f"类型字母 {letter} 与界桩类型 {kind} 矛盾（应为 {letters}）",
            f"type letter {letter} contradicts its type {kind} ({_TYPE_EN[kind]}: {letters})")


def _side(line, point) -> int:
    """+1 where ``point`` lies left of ``line`` looking along its direction, -1 right, 0 on it.

    Taken at the nearest point of the nearest part, from a chord a few centimetres long around it (at a
    vertex the chord cuts the corner, which keeps the side right on either face of the turn). Degrees
    serve here: the side of a line does not change under a conformal map.
    """
    parts = shapely.get_parts(line)
    part = parts[int(np.argmin(shapely.distance(parts, point)))]
    along, length = shapely.line_locate_point(part, point), shapely.length(part)
    step = min(3e-7, length / 4)  # about 3 cm
    a, b = shapely.get_coordinates(shapely.line_interpolate_point(part, [max(along - step, 0.0),
                                                                         min(along + step, length)]))
    p = shapely.get_coordinates(point)[0]
    cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    return int(np.sign(cross))


@rule("marker.pair_side", severity="error", layer="markers",
      description="同号双立界桩立错一侧：A 桩应立于代码较小的一侧，B 桩立于另一侧",
      description_en="a 同号双立 post on the wrong side: A on the side of the smaller code, B on the other",
      on_line_m=1.0)
def pair_side(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Posts A and B of 同号双立 pairs standing on the wrong side of their line: A belongs on the side of
    the smaller division code, B on the other (DOMAIN.md). The side comes from the line's direction, its
    ``left_code`` on the left. Not judged: posts within ``on_line_m`` (1 m) of the line, posts whose line
    (by ``line_id``) is not found, lines without two different codes. A pair with both posts on the wrong
    side is one issue, at post A: A and B swapped."""
    ws = workspace(ctx)
    own = _own_line(ws, *_off_line_limits())
    types = _values(ws, "markers", "marker_type")
    parts = _id_parts(ws, ctx)
    lines = ws.lines.frame
    wrong: dict[str, list] = {}
    for n in np.flatnonzero(types[own["usable"]] == "同号双立"):
        k, j, distance = own["usable"][n], own["line"][n], own["distance"][n]
        if not parts["matched"][k] or j < 0 or not own["matched"][n]:
            continue
        letter = parts["letter"][k]
        left, right = lines["left_code"].iloc[j], lines["right_code"].iloc[j]
        if (letter not in ("A", "B") or not (distance > params["on_line_m"]) or not isinstance(left, str)
                or not isinstance(right, str) or left == right):
            continue
        side = _side(ws.lines.geometries[j], ws.markers.geometries[k])
        smaller = min(left, right)
        wanted = (1 if left == smaller else -1) * (1 if letter == "A" else -1)
        if side == 0 or side == wanted:
            continue
        wrong.setdefault(parts["number"][k], []).append((int(k), letter, j, side))
    for number, posts in wrong.items():
        if sorted(letter for _, letter, _, _ in posts) == ["A", "B"]:
            yield _swapped_pair(ws, ctx, number, posts)
            continue
        for k, letter, j, side in posts:
            yield _wrong_side(ws, ctx, k, letter, j, side)


def _sides(ws: Workspace, j: int, side: int) -> tuple[str, str, str]:
    """The line's id, the code on ``side`` (+1 left) and the code on the other."""
    left, right = ws.lines.frame["left_code"].iloc[j], ws.lines.frame["right_code"].iloc[j]
    return ws.lines.frame["line_id"].iloc[j], (left if side > 0 else right), (right if side > 0 else left)


def _wrong_side(ws: Workspace, ctx: CheckContext, k: int, letter: str, j: int, side: int) -> Issue:
    line_id, standing, belongs = _sides(ws, j, side)
    which_zh, which_en = ("较小", "smaller") if letter == "A" else ("较大", "larger")
    side_zh, side_en = ("左", "left") if side > 0 else ("右", "right")
    return _issue("marker.pair_side", ctx, k,
                  f"同号双立界桩 {_name(ctx, k)} 立于界线 {line_id} 的{side_zh}侧（{standing} 一侧），"
                  f"{letter} 桩应立于代码{which_zh}的 {belongs} 一侧：A、B 是否互换，或界线左右代码是否颠倒？",
                  f"同号双立 post {_name(ctx, k)} stands on the {side_en} of line "
                  f"{line_id} ({standing}'s side); post {letter} belongs on the side of the {which_en} code "
                  f"{belongs}: are A and B swapped, or the line's left and right codes?")


def _swapped_pair(ws: Workspace, ctx: CheckContext, number: str, posts: list) -> Issue:
    """One issue, at post A, for a pair whose two posts both stand on the wrong side: A and B swapped."""
    (a, _, j, side), (b, _, _, _) = sorted(posts, key=lambda post: post[1])
    line_id, standing, belongs = _sides(ws, j, side)
    issue = _issue("marker.pair_side", ctx, a,
                   f"同号双立界桩 {number} 的 A、B 互换：A 桩 {_name(ctx, a)} 立于界线 {line_id} 的 {standing} 一侧，"
                   f"B 桩 {_name(ctx, b)} 立于 {belongs} 一侧；A 桩应立于代码较小的 {min(standing, belongs)} 一侧",
                   f"同号双立 pair {number}: A and B swapped: post A {_name(ctx, a)} stands on {standing}'s side of "
                   f"line {line_id}, post B {_name(ctx, b)} on {belongs}'s; A belongs on the side of the smaller "
                   f"code {min(standing, belongs)}")
    return one_defect(issue, ("marker.pair", number), 1)


# -- positions ------------------------------------------------------------------------------------------------
@rule("marker.duplicate_position", severity="error", layer="markers",
      description="两个不同界桩相距不足 1 m", description_en="two different markers within 1 m of each other",
      distance_m=1.0)
def duplicate_position(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Pairs of different markers (different ids; submitted, or submitted and stored) closer than
    ``distance_m`` (1 m). The same id stored by the neighbour is a version (``marker.neighbor_mismatch``).
    A 同号双立 pair whose posts stand on the neighbour's stored posts the other way round is one defect (A and
    B swapped against the stored pair, :func:`_swapped_against_stored`): its issues are that defect's. Two
    ids in one place are one defect however many copies of them are in view: a marker standing on a
    submitted marker and on the neighbour's stored copy of it (the same id) is reported once, against the
    submitted one, the stored finding as its detail."""
    ws = workspace(ctx)
    usable = _usable(ws)
    if not len(usable):
        return
    geoms = ws.markers.geometries
    valid_all = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
    tree = shapely.STRtree(geoms[valid_all])
    a, b = tree.query(geoms[usable], predicate="dwithin", distance=params["distance_m"] * DEG_PER_M)
    a, b = usable[a], valid_all[b]
    ids = _values(ws, "markers", "marker_id")
    n_sub = ws.markers.n_submitted
    keep = (a != b) & ((b >= n_sub) | (a < b)) & (ids[a] != ids[b])
    a, b = a[keep], b[keep]
    if not len(a):
        return
    ga, gb, _ = pair_in_metric(ws.markers.metric, a, ws.markers.metric, b)
    d = shapely.distance(ga, gb)
    swapped = _swapped_against_stored(ws, ctx, params["distance_m"])
    post_of = {k: number for number, found in swapped.items() for k in (found["A"], found["B"])}
    submitted = set(ids[:n_sub][pd.notna(ids[:n_sub])].tolist())
    for k, m, dist in zip(a[d < params["distance_m"]], b[d < params["distance_m"]], d[d < params["distance_m"]],
                          strict=True):
        other = ids[m] if isinstance(ids[m], str) else f"#{m + 1}"
        stored = m >= n_sub
        province = ws.markers.frame["province"].iloc[m]
        number = post_of.get(int(k)) if stored else None
        why_zh, why_en = ("：A、B 与邻省已入库的同号双立互换", ": A and B swapped against the neighbour's stored "
                          "pair") if number is not None and int(m) in swapped[number]["stored"] else ("", "")
        issue = _issue("marker.duplicate_position", ctx, int(k),
                       f"界桩 {_name(ctx, k)} 与{'已入库（' + province + '）' if stored else ''}界桩 {other} "
                       f"相距 {dist:.3f} m（限值 {params['distance_m']} m）{why_zh}",
                       f"marker {_name(ctx, k)} stands {dist:.3f} m from {'stored ' if stored else ''}marker "
                       f"{other}{f' ({province})' if stored else ''} (limit {params['distance_m']} m){why_en}")
        issue.other_marker = int(m)  # the MarkerView index of the other marker: the distributed check orders by it
        if why_zh:
            yield one_defect(issue, ("marker.pair", number), 3)
        elif isinstance(ids[k], str) and isinstance(ids[m], str) and (not stored or ids[m] in submitted):
            # a marker within the limit of a submitted marker and of the neighbour's stored copy of it (the
            # same id) is one defect: the two ids in one place, said once, against the submitted one
            yield one_defect(issue, ("marker.duplicate_position", frozenset((ids[k], ids[m]))), int(stored))
        elif stored:
            # on a stored marker whose id the submission does not have: where the marker's own id is wrong
            # (marker.id_format, marker.duplicate_id) or names an unknown line, that is the defect
            yield one_defect(issue, ("marker.id", int(k)), 5, also=(("marker.position", int(k)),))
        else:
            yield issue


def _stored_versions(ws: Workspace, ctx: CheckContext) -> tuple[np.ndarray, np.ndarray]:
    """(submitted k, stored m): each usable submitted marker with every marker of the same id stored by
    another province (a join on the id, not a loop over the markers)."""
    def compute():
        frame = ws.markers.frame
        n_sub = ws.markers.n_submitted
        stored = np.arange(n_sub, len(frame))
        ids = _values(ws, "markers", "marker_id")
        other = _values(ws, "markers", "province")[stored] != ctx.submission.province
        stored = stored[other & pd.notna(ids[stored])]
        usable = _usable(ws)
        if not len(stored) or not len(usable):
            return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        joined = pd.DataFrame({"k": usable, "id": ids[usable]}).merge(
            pd.DataFrame({"m": stored, "id": ids[stored]}), on="id", sort=False)
        return joined["k"].to_numpy(dtype=int), joined["m"].to_numpy(dtype=int)

    return ws.once("marker.stored_versions", compute)


def _swapped_against_stored(ws: Workspace, ctx: CheckContext, tolerance_m: float) -> dict[str, dict]:
    """同号双立 pairs submitted with A and B the other way round from the neighbour's stored pair: the
    submitted A within ``tolerance_m`` of the stored B and the submitted B of the stored A (and not both on
    their own versions). Per pair number: the submitted posts ``A``, ``B``, the stored ones (``stored``:
    letter by index) and the distances of each post to its own stored version."""
    def compute():
        parts = _id_parts(ws, ctx)
        types = _values(ws, "markers", "marker_type")

        def posts(rows):
            out: dict = {}
            for k in rows:
                if types[k] == "同号双立" and parts["letter"][k] in ("A", "B"):
                    out.setdefault(parts["number"][k], {}).setdefault(parts["letter"][k], int(k))
            return out

        k, m = _stored_versions(ws, ctx)
        mine, theirs = posts(np.unique(k)), posts(np.unique(m))
        numbers = [n for n in mine if len(mine[n]) == 2 and len(theirs.get(n, {})) == 2]
        if not numbers:
            return {}
        sub_a = np.array([mine[n]["A"] for n in numbers])
        sub_b = np.array([mine[n]["B"] for n in numbers])
        st_a = np.array([theirs[n]["A"] for n in numbers])
        st_b = np.array([theirs[n]["B"] for n in numbers])
        first, second = np.r_[sub_a, sub_b, sub_a, sub_b], np.r_[st_b, st_a, st_a, st_b]
        ga, gb, _ = pair_in_metric(ws.markers.metric, first, ws.markers.metric, second)
        ab, ba, aa, bb = np.split(shapely.distance(ga, gb), 4)
        with np.errstate(invalid="ignore"):
            swapped = (ab <= tolerance_m) & (ba <= tolerance_m) & ((aa > tolerance_m) | (bb > tolerance_m))
        return {numbers[i]: {"A": int(sub_a[i]), "B": int(sub_b[i]), "stored": {int(st_a[i]): "A", int(st_b[i]): "B"},
                             "moved": (float(aa[i]), float(bb[i]))} for i in np.flatnonzero(swapped)}

    return ws.once(("marker.swapped_against_stored", tolerance_m), compute)


@rule("marker.neighbor_mismatch", severity="error", layer="markers",
      description="同一界桩编号已由邻省入库，位置相差超过 1 m",
      description_en="the same marker id already stored from the neighbour, more than 1 m away",
      tolerance_m=1.0)
def neighbor_mismatch(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Submitted markers whose id the neighbour (another province) has stored more than ``tolerance_m``
    (1 m) away (the nearest, where it stored that id more than once): both sides must agree on where a
    marker stands. A 同号双立 pair standing on the stored
    posts the other way round is one issue, at post A: A and B swapped against the neighbour's stored pair
    (the posts' own mismatches, and the other rules' findings of it, are its details). A marker that
    ``marker.off_line``, ``marker.out_of_region`` (or another position rule) finds has moved: its distance
    from the stored copy is a detail of that issue (one defect, one error)."""
    ws = workspace(ctx)
    a, b = _stored_versions(ws, ctx)
    if not len(a):
        return
    frame = ws.markers.frame
    tolerance = params["tolerance_m"]
    swapped = _swapped_against_stored(ws, ctx, tolerance)
    post_of = {k: number for number, found in swapped.items() for k in (found["A"], found["B"])}
    for number, found in swapped.items():
        k, province = found["A"], frame["province"].iloc[next(iter(found["stored"]))]
        issue = _issue("marker.neighbor_mismatch", ctx, k,
                       f"同号双立界桩 {number} 的 A、B 与邻省 {province} 已入库的同号双立互换：A 桩 {_name(ctx, k)} "
                       f"立于其 B 桩处，B 桩 {_name(ctx, found['B'])} 立于其 A 桩处（各距同号桩 "
                       f"{fmt_m(found['moved'][0])} m、{fmt_m(found['moved'][1])} m）",
                       f"同号双立 pair {number}: A and B swapped against the neighbour's stored pair ({province}): "
                       f"post A {_name(ctx, k)} stands on its post B, post B {_name(ctx, found['B'])} on its post A "
                       f"({fmt_m(found['moved'][0])} m and {fmt_m(found['moved'][1])} m from the posts of the same "
                       "id)")
        yield one_defect(issue, ("marker.pair", number), 0)
    ga, gb, _ = pair_in_metric(ws.markers.metric, a, ws.markers.metric, b)
    d = shapely.distance(ga, gb)
    d = np.where(np.isnan(d), np.inf, d)  # a stored marker without a usable point is not compared
    # the nearest stored marker of its id per submitted marker: repeated ids (marker.duplicate_id's finding)
    # give one issue per marker, not one per combination
    order = np.lexsort((d, a))
    nearest = order[np.r_[True, a[order][1:] != a[order][:-1]]]
    for n in nearest[np.isfinite(d[nearest]) & (d[nearest] > tolerance)]:
        k, m, dist = int(a[n]), int(b[n]), d[n]
        province = frame["province"].iloc[m]
        issue = _issue("marker.neighbor_mismatch", ctx, k,
                       f"界桩 {_name(ctx, k)} 与邻省 {province} 已入库的同号界桩相距 {fmt_m(dist)} m"
                       f"（限值 {tolerance} m）",
                       f"marker {_name(ctx, k)} stands {fmt_m(dist)} m from the marker of the same id stored by "
                       f"{province} (limit {tolerance} m)")
        if k in post_of:
            yield one_defect(issue, ("marker.pair", post_of[k]), 2)
        else:  # moved off its line or out of the region, or its id wrong: that is the defect, this its detail
            yield one_defect(issue, ("marker.position", k), 9, also=(("marker.id", k),))


# -- declared coordinates ---------------------------------------------------------------------------------------
def _declared_epsg(ctx: CheckContext) -> np.ndarray:
    """The CRS each submitted marker's declared coordinates were written in (0 when unknown)."""
    sub = ctx.submission
    by_source = {layer["source"]: int(str(layer["crs"]).split(":")[-1]) for layer in sub.layers
                 if layer.get("layer") == "markers" and layer.get("crs")}
    fallback = 0
    declared = [c.strip() for c in (sub.declared_crs or "").split(",") if c.strip()]
    if len(declared) == 1:
        fallback = int(declared[0].split(":")[-1])
    if "source_file" not in sub.markers or not by_source:
        return np.full(len(sub.markers), fallback, dtype=int)
    # looked up once per distinct source (a file's name recurs on each of its markers; Series.map over the
    # pyarrow strings took 0.03–0.05 s for 91 k markers); no source (factorize's -1): the appended fallback
    codes, sources = pd.factorize(_columns(ctx)["source_file"])
    return np.array([by_source.get(source, fallback) for source in sources] + [fallback], dtype=int)[codes]


def _xy_gaps(lonlat: np.ndarray, northing: np.ndarray, easting: np.ndarray, zones: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Metres between each geometry and its declared (X northing, Y easting), as given and swapped, in the
    better of its candidate ``zones``: (gap, swapped gap, zone); one batched transform per zone."""
    gap = np.full(len(lonlat), np.inf)
    swapped = np.full(len(lonlat), np.inf)
    best = zones[:, 0].copy()
    for column in range(zones.shape[1]):
        for epsg in np.unique(zones[:, column]):
            if epsg == 0:
                continue
            m = zones[:, column] == epsg
            e, n = transformer(4490, int(epsg)).transform(lonlat[m, 0], lonlat[m, 1])
            g = np.hypot(northing[m] - n, easting[m] - e)
            sw = np.hypot(easting[m] - n, northing[m] - e)
            better = np.minimum(g, sw) < np.minimum(gap[m], swapped[m])
            idx = np.flatnonzero(m)[better]
            gap[idx], swapped[idx], best[idx] = g[better], sw[better], epsg
    return gap, swapped, best


def _zone_words(epsg: int) -> tuple[str, str]:
    zone = gauss_kruger(epsg)
    prefix_zh = "带号前缀" if zone.prefixed else "无带号前缀"
    prefix_en = "with zone prefix" if zone.prefixed else "without zone prefix"
    return (f"EPSG:{epsg}（{zone.width}° 带，中央经线 {zone.central_meridian}°E，{prefix_zh}）",
            f"EPSG:{epsg} ({zone.width}° zone, central meridian {zone.central_meridian}°E, {prefix_en})")


def _explain_xy(lonlat: np.ndarray, northing: float, easting: float, zone: int, explain_m: float
                ) -> tuple[str, str]:
    """Why declared X/Y miss the geometry: another zone, or the GCJ-02 offset (zh, en)."""
    here = lonlat[None, :]
    declared = gauss_kruger(zone) if zone else None
    # the same central meridian can be a 3° and a 6° zone: name the one of the declared family first
    codes = sorted(_GK_CODES, key=lambda c: (declared is not None and gauss_kruger(c).width != declared.width, c))
    for swap in (False, True):
        e, n = (northing, easting) if swap else (easting, northing)
        for epsg in codes:
            if epsg == zone or implausible(epsg, np.array([e]), np.array([n]))[0]:
                continue
            lon, lat = transformer(epsg, 4490).transform(e, n)
            if _gap_m(here, np.array([[lon, lat]]))[0] <= explain_m:
                zh, en = _zone_words(epsg)
                if swap:
                    return (f"对调 X/Y 后与 {zh} 的坐标一致：X/Y 互换且投影带错误",
                            f"they match the geometry swapped and read in {en}: X/Y swapped and wrong zone")
                return (f"按 {zh} 解读则与几何一致：投影带（中央经线或带号前缀）错误",
                        f"they match the geometry when read in {en}: wrong zone (central meridian or "
                        "zone prefix)")
    if zone:
        lon, lat = transformer(zone, 4490).transform(easting, northing)
        explained = _explain_gcj(lonlat, np.array([lon, lat]), explain_m)
        if explained:
            return explained
    return ("互换 X/Y、其他投影带或 GCJ-02 偏移均不能解释", "not explained by swapped X/Y, another zone or the "
            "GCJ-02 offset")


def _explain_gcj(lonlat: np.ndarray, declared: np.ndarray, explain_m: float) -> tuple[str, str] | None:
    """The GCJ-02 diagnosis: declared = GCJ-02 of the geometry, or the geometry = GCJ-02 of declared."""
    here = lonlat[None, :]
    shifted = np.column_stack(wgs84_to_gcj02(lonlat[0], lonlat[1]))
    offset = _gap_m(here, shifted)[0]
    if _gap_m(shifted, declared[None, :])[0] <= explain_m:
        return (f"与几何加 GCJ-02 偏移（{offset:.0f} m）后一致：申报坐标取自高德/腾讯等 GCJ-02 地图",
                f"they equal the geometry shifted by the GCJ-02 offset ({offset:.0f} m): the declared "
                "coordinates were read off a GCJ-02 web map (AMap/Tencent)")
    back = np.column_stack(gcj02_to_wgs84(lonlat[0], lonlat[1]))
    if _gap_m(back, declared[None, :])[0] <= explain_m:
        return (f"几何本身带有 GCJ-02 偏移（{offset:.0f} m）：几何是在 GCJ-02 底图上采集的",
                f"the geometry itself carries the GCJ-02 offset ({offset:.0f} m): it was digitised on a "
                "GCJ-02 basemap")
    return None


def _swapped_by_reader(ctx: CheckContext) -> set:
    return {i.feature for i in ctx.submission.issues if i.rule == "marker.axis_swapped"}


def _declared_findings(ctx: CheckContext, tolerance_m: float, explain_m: float) -> list[tuple]:
    """(marker, kind 'xy'/'lonlat', gap m, swapped?, zone) of markers whose declared coordinates differ
    from the geometry by more than ``tolerance_m``; ``swapped`` when they match once swapped."""
    ws = workspace(ctx)

    def compute():
        markers = ctx.submission.markers
        lonlat = _lonlat(ws)
        epsg = _declared_epsg(ctx)
        skip = _swapped_by_reader(ctx)
        x, y = markers["x"].to_numpy(dtype=float), markers["y"].to_numpy(dtype=float)
        lon, lat = markers["lon"].to_numpy(dtype=float), markers["lat"].to_numpy(dtype=float)
        out = []
        usable = _usable(ws)
        has_ll = usable[np.isfinite(lon[usable]) & np.isfinite(lat[usable])]
        gap = _gap_m(lonlat[has_ll], np.column_stack([lon[has_ll], lat[has_ll]]))
        swapped = _gap_m(lonlat[has_ll], np.column_stack([lat[has_ll], lon[has_ll]]))
        for k, g, s in zip(has_ll, gap, swapped, strict=True):
            if g > tolerance_m and _name(ctx, k) not in skip:
                out.append((int(k), "lonlat", float(g), bool(s <= tolerance_m), 0))
        has_xy = usable[np.isfinite(x[usable]) & np.isfinite(y[usable])]
        zones = candidate_zones(epsg[has_xy], lonlat[has_xy, 0], y[has_xy], ctx.submission.province,
                                northing=x[has_xy])
        gap, swapped, zone = _xy_gaps(lonlat[has_xy], x[has_xy], y[has_xy], zones)
        for n in np.flatnonzero(gap > tolerance_m):
            k = int(has_xy[n])
            if _name(ctx, k) not in skip:
                out.append((k, "xy", float(gap[n]), bool(swapped[n] <= tolerance_m), int(zone[n])))
        return out

    return ws.once(("marker.declared", tolerance_m, explain_m), compute)


def _declared(issue: Issue, kind: str) -> Issue:
    """``issue`` marked with the declared coordinates it is about (``lonlat`` or ``xy``): the rules report
    every marker's lon/lat findings before any x/y finding, and the distributed check orders by it."""
    issue.declared = kind
    return issue


@rule("marker.coordinate_mismatch", severity="error", layer="markers",
      description="申报的 X/Y 或经纬度与几何相差超过 0.5 m（并说明原因：其他投影带、GCJ-02 偏移）",
      description_en="declared x/y or lon/lat differing from the geometry by more than 0.5 m",
      tolerance_m=0.5, explain_m=5.0)
def coordinate_mismatch(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers whose declared X/Y (Gauss-Krüger northing/easting) or lon/lat lie more than ``tolerance_m``
    (0.5 m) from their geometry, with the diagnosis when one explains them within ``explain_m`` (5 m):
    another Gauss-Krüger zone (central meridian or zone prefix), or the GCJ-02 offset. Swapped axes are
    ``marker.axis_swapped``."""
    markers = ctx.submission.markers
    lonlat = _lonlat(workspace(ctx))
    for k, kind, gap, swapped, zone in _declared_findings(ctx, params["tolerance_m"], params["explain_m"]):
        if swapped:
            continue
        if kind == "lonlat":
            declared = markers[["lon", "lat"]].to_numpy(dtype=float)[k]
            why = _explain_gcj(lonlat[k], declared, params["explain_m"]) or (
                "互换经纬度或 GCJ-02 偏移均不能解释", "not explained by swapped lon/lat or the GCJ-02 offset")
            yield _declared(_issue("marker.coordinate_mismatch", ctx, k,
                         f"界桩 {_name(ctx, k)} 申报经纬度 ({declared[0]:.7f}, {declared[1]:.7f}) 与几何相差 "
                         f"{fmt_m(gap)} m（限值 {params['tolerance_m']} m）：{why[0]}",
                         f"marker {_name(ctx, k)}: declared lon/lat ({declared[0]:.7f}, {declared[1]:.7f}) lie "
                         f"{fmt_m(gap)} m from the geometry (limit {params['tolerance_m']} m): {why[1]}"), kind)
            continue
        x, y = float(markers["x"].iloc[k]), float(markers["y"].iloc[k])
        why = _explain_xy(lonlat[k], x, y, zone, params["explain_m"])
        gap_zh = f"{fmt_m(gap)} m" if np.isfinite(gap) else "无法比较（东坐标的带号不存在）"
        gap_en = f"{fmt_m(gap)} m" if np.isfinite(gap) else "an unknown distance (no such zone prefix)"
        zone_zh, zone_en = _zone_words(zone) if zone else ("", "")
        yield _declared(_issue("marker.coordinate_mismatch", ctx, k,
                     f"界桩 {_name(ctx, k)} 申报 X={x:.3f}、Y={y:.3f} 与几何在 {zone_zh} 中相差 {gap_zh}"
                     f"（限值 {params['tolerance_m']} m）：{why[0]}",
                     f"marker {_name(ctx, k)}: declared X={x:.3f}, Y={y:.3f} lie {gap_en} from the geometry in "
                     f"{zone_en} (limit {params['tolerance_m']} m): {why[1]}"), kind)


@rule("marker.axis_swapped", severity="error", layer="markers",
      description="申报的 X/Y（或经纬度）对调后与几何一致",
      description_en="declared x/y that match the geometry once swapped",
      tolerance_m=0.5)
def axis_swapped(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers whose declared X/Y (or lon/lat) miss the geometry but match it within ``tolerance_m`` (0.5 m)
    once swapped: X must be the northing and Y the easting. Marker tables with swapped columns are reported
    while reading (the geometry comes from the table itself)."""
    markers = ctx.submission.markers
    explain = 5.0
    for k, kind, gap, swapped, zone in _declared_findings(ctx, params["tolerance_m"], explain):
        if not swapped:
            continue
        if kind == "lonlat":
            lon, lat = float(markers["lon"].iloc[k]), float(markers["lat"].iloc[k])
            yield _declared(_issue("marker.axis_swapped", ctx, k,
                         f"界桩 {_name(ctx, k)} 申报经度 {lon} 与纬度 {lat} 互换了（相差 {fmt_m(gap)} m）；请对调",
                         f"marker {_name(ctx, k)}: declared longitude {lon} and latitude {lat} are swapped "
                         f"({fmt_m(gap)} m off as given); swap them"), kind)
            continue
        x, y = float(markers["x"].iloc[k]), float(markers["y"].iloc[k])
        zone_zh, zone_en = _zone_words(zone)
        yield _declared(_issue("marker.axis_swapped", ctx, k,
                     f"界桩 {_name(ctx, k)} 的 X={x:.3f} 与 Y={y:.3f} 互换了（按原样与几何在 {zone_zh} 中相差 "
                     f"{fmt_m(gap)} m，对调后在 {params['tolerance_m']} m 以内）：X 应为北坐标，Y 应为东坐标",
                     f"marker {_name(ctx, k)}: X={x:.3f} and Y={y:.3f} are swapped ({fmt_m(gap)} m from the "
                     f"geometry in {zone_en} as given, within {params['tolerance_m']} m once swapped): X must be "
                     "the northing and Y the easting"), kind)


@rule("marker.lone_post", severity="error", layer="markers",
      description="同号双立/三立界桩缺少同号的其他桩（如有 A 桩而无 B 桩）",
      description_en="a post of a 同号双立/三立 marker without its other posts (an A without its B)")
def lone_post(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Posts of a 同号双立 (A, B) or 同号三立 (C, D, E) marker whose other posts of the same number are
    neither in the submission nor stored by the submitting province (not superseded by this submission):
    a pair is surveyed and delivered whole. A post counts whatever its type (a 单立-typed B is
    ``marker.id_format``'s); the neighbour's stored posts are its version, not the submitter's."""
    ws = workspace(ctx)
    parts = _id_parts(ws, ctx)
    n_sub, province = ws.markers.n_submitted, ctx.submission.province
    types = _values(ws, "markers", "marker_type")
    letter, number = parts["letter"], parts["number"]
    # the submitted posts: a 双立/三立 type and one of its letters (a letter is never empty here: an empty
    # one is within every type's letters but has no number, and is no post)
    posts = []
    for kind in ("同号双立", "同号三立"):
        of_kind = np.flatnonzero(types[:n_sub] == kind)
        posts += [k for k in of_kind.tolist() if letter[k] and letter[k] in TYPE_LETTERS[kind]]
    if not posts:
        return
    own = np.r_[np.arange(n_sub), n_sub + np.flatnonzero(_values(ws, "markers", "province")[n_sub:] == province)]
    own = own[pd.Series(number[own], dtype=object).isin(list(set(number[posts].tolist()))).to_numpy()]
    letters: dict[str, set] = {}
    for k in own.tolist():  # the submission's and the province's stored posts of those numbers
        if letter[k]:
            letters.setdefault(number[k], set()).add(letter[k])
    for k in sorted(posts):
        kind = types[k]
        missing = [post for post in TYPE_LETTERS[kind] if post not in letters[number[k]]]
        if missing:
            names = "、".join(f"{number[k]}{post}" for post in missing)
            names_en = ", ".join(f"{number[k]}{post}" for post in missing)
            yield _issue("marker.lone_post", ctx, k,
                         f"{kind}界桩 {_name(ctx, k)} 缺少同号的 {'/'.join(missing)} 桩：{names} 既不在本次提交中，"
                         f"也未由本省 {province} 入库",
                         f"{_TYPE_EN[kind]} {_name(ctx, k)} has no post {'/'.join(missing)}: {names_en} is "
                         f"neither in the submission nor stored by province {province}")
