"""``marker.*`` rules: boundary markers (界桩) against their lines, each other, their ids and declared coordinates.

Distances are measured in the Gauss-Krüger zone of the marker (:mod:`boundaries.rules._geometry`). A
marker's line is the line with its ``line_id`` (submitted, else stored); without one, the nearest line.
同号双立/三立 posts stand off the line by design (e.g. on both banks of a boundary river) and have their
own limit. A 三面型 junction marker is one post standing where three lines meet: it lies on each of them.

Where declared coordinates disagree with the geometry, the rules say why when they can: X and Y swapped,
another Gauss-Krüger zone (wrong central meridian or zone prefix), or the GCJ-02 offset of web maps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import shapely

from boundaries.config import DEFAULT_MARKER_ID_PATTERN
from boundaries.crs import CHINA_BOUNDS, candidate_zones, gauss_kruger, implausible, transformer
from boundaries.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from boundaries.model import Issue
from boundaries.rules import CheckContext, rule
from boundaries.rules._geometry import (
    DEG_PER_M,
    Workspace,
    fmt_m,
    line_pieces,
    nearest_line_m,
    pair_in_metric,
    workspace,
)
from boundaries.rules.lines import invalid_lines, measurable_lines

__all__ = [
    "axis_swapped",
    "coordinate_mismatch",
    "duplicate_id",
    "duplicate_position",
    "id_format",
    "neighbor_mismatch",
    "off_line",
    "out_of_region",
]

#: The type letters each marker type allows (SPEC §4).
TYPE_LETTERS = {"单立": "Q", "同号双立": "AB", "同号三立": "CDE"}
_TYPE_EN = {"单立": "single post", "同号双立": "paired post (同号双立)", "同号三立": "triple post (同号三立)"}
_GK_CODES = tuple(range(4491, 4555))


def _issue(rule_id: str, ctx: CheckContext, k: int, zh: str, en: str) -> Issue:
    markers = ctx.submission.markers
    geometry = markers.geometry.iloc[k]
    lon = lat = None
    if geometry is not None and not geometry.is_empty:
        centre = shapely.get_coordinates(shapely.centroid(geometry))
        if len(centre) and np.isfinite(centre[0]).all():
            lon, lat = float(centre[0, 0]), float(centre[0, 1])
    source = markers["source_file"].iloc[k] if "source_file" in markers else None
    return Issue(rule_id, "error", "markers", _name(ctx, k), lon, lat, zh, en,
                 source if isinstance(source, str) else None)


def _name(ctx: CheckContext, k: int) -> str:
    value = ctx.submission.markers["marker_id"].iloc[k]
    return str(value) if isinstance(value, str) and value else f"#{k + 1}"


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
        codes = view.frame[["left_code", "right_code"]].astype(str)
        own_mask = (~view.frame["stored"].to_numpy() | codes["left_code"].str.startswith(prefix).to_numpy()
                    | codes["right_code"].str.startswith(prefix).to_numpy())
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
        on_broken = ws.markers.frame["line_id"].iloc[usable].isin(_broken_line_ids(ws)).to_numpy()
        far = np.isfinite(distance) & (distance > far_m) & ~on_broken
        return {"usable": usable, "outside": outside, "distance": distance, "out": outside | far}

    return ws.once(("marker.region", far_m), compute)


def _off_line_limits() -> tuple[float, float]:
    """The search radius and settling distance of marker.off_line's measurement (its default limits)."""
    from boundaries.rules import REGISTRY

    params = REGISTRY["marker.off_line"].params
    return max(params["single_m"], params["multi_m"]), params["single_m"]


def _out_of_region_default(ws: Workspace, ctx: CheckContext) -> np.ndarray:
    from boundaries.rules import REGISTRY

    far = REGISTRY["marker.out_of_region"].params["far_m"]
    far = ws.memo.get("marker.far_m", far)
    region = _region(ws, ctx, far)
    return region["usable"][region["out"]]


def _broken_line_ids(ws: Workspace) -> set:
    """Ids of submitted lines with invalid geometry: their markers cannot be measured against them."""
    ids = ws.lines.frame["line_id"].to_numpy()
    return {ids[i] for i in invalid_lines(ws) if isinstance(ids[i], str)}


def _own_line(ws: Workspace, radius_m: float, accept_m: float) -> dict:
    """Per usable submitted marker: metres to its line (by ``line_id``, else the nearest line) and that line.

    Markers whose line is reported invalid are not measured (NaN)."""
    def compute():
        usable = _usable(ws)
        measurable = measurable_lines(ws)
        line_ids = ws.lines.frame["line_id"].to_numpy()
        marker_line = ws.markers.frame["line_id"].to_numpy()[usable]
        known = set(line_ids[measurable].tolist())
        matched = np.array([x in known for x in marker_line], dtype=bool)
        broken = np.isin(marker_line, list(_broken_line_ids(ws))) & ~matched
        pieces = line_pieces(ws, measurable)

        def allowed(n, line):
            return ~matched[n] | (line_ids[line] == marker_line[n])

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
    ws.memo["marker.far_m"] = params["far_m"]
    region = _region(ws, ctx, params["far_m"])
    lonlat = _lonlat(ws)
    for n in np.flatnonzero(region["out"]):
        k = region["usable"][n]
        lon, lat = lonlat[k]
        if region["outside"][n]:
            yield _issue("marker.out_of_region", ctx, int(k),
                         f"界桩 {_name(ctx, k)} 位于 {lon:.4f}°E, {lat:.4f}°N，在中国范围（73–136°E，3–54°N）以外",
                         f"marker {_name(ctx, k)} lies at {lon:.4f}°E {lat:.4f}°N, outside China's extent "
                         "(73–136°E, 3–54°N)")
        elif region["out"][n]:
            d = region["distance"][n]
            yield _issue("marker.out_of_region", ctx, int(k),
                         f"界桩 {_name(ctx, k)} 距本省任一界线 {d / 1000:.2f} km（限值 {params['far_m']:g} m）",
                         f"marker {_name(ctx, k)} lies {d / 1000:.2f} km from every line of province "
                         f"{ctx.submission.province} (limit {params['far_m']:g} m)")


@rule("marker.off_line", severity="error", layer="markers",
      description="单立界桩距界线超过 5 m，同号双立/三立界桩超过 500 m",
      description_en="a 单立 marker farther than 5 m from its line; a 双立/三立 post farther than 500 m",
      single_m=5.0, multi_m=500.0)
def off_line(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers farther from their line than ``single_m`` (5 m, 单立) or ``multi_m`` (500 m, 同号双立/三立,
    which stand off the line by design). Markers reported by ``marker.out_of_region`` are left to it."""
    ws = workspace(ctx)
    # settled within the 单立 limit is within every limit; the rest are measured exactly
    own = _own_line(ws, max(params["single_m"], params["multi_m"]), params["single_m"])
    out = set(_out_of_region_default(ws, ctx).tolist())
    types = ws.markers.frame["marker_type"].to_numpy()
    limits = np.where(np.isin(types[own["usable"]], ["同号双立", "同号三立"]), params["multi_m"], params["single_m"])
    with np.errstate(invalid="ignore"):
        beyond = np.isfinite(own["distance"]) & (own["distance"] > limits)
    for n in np.flatnonzero(beyond):
        k, distance, limit = own["usable"][n], own["distance"][n], limits[n]
        if k in out:
            continue
        line_id = ws.lines.frame["line_id"].iloc[own["line"][n]]
        if own["matched"][n]:
            zh_line, en_line = f"其界线 {line_id}", f"its line {line_id}"
        else:
            declared = ws.markers.frame["line_id"].iloc[k]
            zh_line = f"最近的界线 {line_id}（未找到其界线 {declared}）"
            en_line = f"the nearest line {line_id} (its line {declared} is not found)"
        kind = types[k] if types[k] in TYPE_LETTERS else "单立"
        yield _issue("marker.off_line", ctx, int(k),
                     f"{kind}界桩 {_name(ctx, k)} 距{zh_line} {fmt_m(distance)} m（限值 {limit:g} m）",
                     f"{_TYPE_EN[kind]} marker {_name(ctx, k)} stands {fmt_m(distance)} m from {en_line} "
                     f"(limit {limit:g} m)")


# -- ids ------------------------------------------------------------------------------------------------------
@rule("marker.duplicate_id", severity="error", layer="markers",
      description="提交中两个界桩编号相同", description_en="two markers with the same id in the submission")
def duplicate_id(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Markers whose id an earlier marker of the submission already has; each repeat is reported at its
    own position. (The posts of a 同号双立 pair differ by their letter, A/B.)"""
    markers = ctx.submission.markers
    ids = markers["marker_id"]
    repeated = ids.duplicated(keep="first") & ids.notna()
    rows = markers["source_row"] if "source_row" in markers else pd.Series(np.arange(1, len(markers) + 1))
    for k in np.flatnonzero(repeated.to_numpy()):
        first = int(np.flatnonzero((ids == ids.iloc[k]).to_numpy())[0])
        count = int((ids == ids.iloc[k]).sum())
        yield _issue("marker.duplicate_id", ctx, int(k),
                     f"界桩编号 {ids.iloc[k]} 重复（共 {count} 个；首次见于第 {rows.iloc[first]} 行）",
                     f"marker id {ids.iloc[k]} is used {count} times (first at row {rows.iloc[first]})")


@rule("marker.id_format", severity="error", layer="markers",
      description="界桩编号不符合规定格式，或类型字母与界桩类型矛盾",
      description_en="an id that does not follow the configured pattern, or whose type letter contradicts its type")
def id_format(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Ids that do not match the configured pattern (line code + 3-digit sequence + type letter by default),
    unknown marker types, and type letters that contradict the type: Q 单立, A/B 同号双立, C/D/E 同号三立."""
    pattern = re.compile(ctx.settings.get("marker_id_pattern") or DEFAULT_MARKER_ID_PATTERN)
    markers = ctx.submission.markers
    for k, (marker_id, kind) in enumerate(zip(markers["marker_id"].to_numpy(dtype=object),
                                              markers["marker_type"].to_numpy(dtype=object), strict=True)):
        problem = _id_problem(pattern, marker_id, kind)
        if problem:
            yield _issue("marker.id_format", ctx, k, f"界桩 {_name(ctx, k)}：{problem[0]}",
                         f"marker {_name(ctx, k)}: {problem[1]}")


def _id_problem(pattern: re.Pattern, marker_id, kind) -> tuple[str, str] | None:
    if not isinstance(marker_id, str) or not marker_id:
        return "缺少界桩编号", "the marker id is missing"
    if kind not in TYPE_LETTERS:
        return ("界桩类型无法识别（应为 单立、同号双立 或 同号三立）",
                "the marker type is none of 单立, 同号双立, 同号三立")
    match = pattern.fullmatch(marker_id)
    if match is None:
        return (f"编号不符合格式 {pattern.pattern}（界线代码 + 三位序号 + 类型字母，如 3643017Q）",
                f"the id does not follow the pattern {pattern.pattern} (line code + 3-digit sequence + "
                "type letter, e.g. 3643017Q)")
    letter = match.groupdict().get("letter")
    allowed = TYPE_LETTERS[kind]
    if letter is not None and letter not in allowed:
        letters = "/".join(allowed)
        return (f"类型字母 {letter} 与界桩类型 {kind} 矛盾（应为 {letters}）",
                f"type letter {letter} contradicts its type {kind} ({_TYPE_EN[kind]}: {letters})")
    return None


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
    (by ``line_id``) is not found, lines without two different codes."""
    ws = workspace(ctx)
    pattern = re.compile(ctx.settings.get("marker_id_pattern") or DEFAULT_MARKER_ID_PATTERN)
    own = _own_line(ws, *_off_line_limits())
    types = ws.markers.frame["marker_type"].to_numpy()
    ids = ctx.submission.markers["marker_id"].to_numpy(dtype=object)
    lines = ws.lines.frame
    for n in np.flatnonzero(types[own["usable"]] == "同号双立"):
        k, j, distance = own["usable"][n], own["line"][n], own["distance"][n]
        if not isinstance(ids[k], str) or j < 0 or not own["matched"][n]:
            continue
        match = pattern.fullmatch(ids[k])
        letter = match.groupdict().get("letter") if match else None
        left, right = lines["left_code"].iloc[j], lines["right_code"].iloc[j]
        if (letter not in ("A", "B") or not (distance > params["on_line_m"]) or not isinstance(left, str)
                or not isinstance(right, str) or left == right):
            continue
        side = _side(ws.lines.geometries[j], ws.markers.geometries[k])
        smaller = min(left, right)
        wanted = (1 if left == smaller else -1) * (1 if letter == "A" else -1)
        if side == 0 or side == wanted:
            continue
        standing = left if side > 0 else right
        belongs = right if side > 0 else left
        line_id = lines["line_id"].iloc[j]
        which_zh, which_en = ("较小", "smaller") if letter == "A" else ("较大", "larger")
        side_zh, side_en = ("左", "left") if side > 0 else ("右", "right")
        yield _issue("marker.pair_side", ctx, int(k),
                     f"同号双立界桩 {_name(ctx, k)} 立于界线 {line_id} 的{side_zh}侧（{standing} 一侧），"
                     f"{letter} 桩应立于代码{which_zh}的 {belongs} 一侧：A、B 是否互换，或界线左右代码是否颠倒？",
                     f"同号双立 post {_name(ctx, k)} stands on the {side_en} of line "
                     f"{line_id} ({standing}'s side); post {letter} belongs on the side of the {which_en} code "
                     f"{belongs}: are A and B swapped, or the line's left and right codes?")


# -- positions ------------------------------------------------------------------------------------------------
@rule("marker.duplicate_position", severity="error", layer="markers",
      description="两个不同界桩相距不足 1 m", description_en="two different markers within 1 m of each other",
      distance_m=1.0)
def duplicate_position(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Pairs of different markers (different ids; submitted, or submitted and stored) closer than
    ``distance_m`` (1 m). The same id stored by the neighbour is a version (``marker.neighbor_mismatch``)."""
    ws = workspace(ctx)
    usable = _usable(ws)
    if not len(usable):
        return
    geoms = ws.markers.geometries
    valid_all = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
    tree = shapely.STRtree(geoms[valid_all])
    a, b = tree.query(geoms[usable], predicate="dwithin", distance=params["distance_m"] * DEG_PER_M)
    a, b = usable[a], valid_all[b]
    ids = ws.markers.frame["marker_id"].to_numpy()
    n_sub = ws.markers.n_submitted
    keep = (a != b) & ((b >= n_sub) | (a < b)) & (ids[a] != ids[b])
    a, b = a[keep], b[keep]
    if not len(a):
        return
    ga, gb, _ = pair_in_metric(ws.markers.metric, a, ws.markers.metric, b)
    d = shapely.distance(ga, gb)
    for k, m, dist in zip(a[d < params["distance_m"]], b[d < params["distance_m"]], d[d < params["distance_m"]],
                          strict=True):
        other = ids[m] if isinstance(ids[m], str) else f"#{m + 1}"
        stored = m >= n_sub
        province = ws.markers.frame["province"].iloc[m]
        yield _issue("marker.duplicate_position", ctx, int(k),
                     f"界桩 {_name(ctx, k)} 与{'已入库（' + province + '）' if stored else ''}界桩 {other} "
                     f"相距 {dist:.3f} m（限值 {params['distance_m']} m）",
                     f"marker {_name(ctx, k)} stands {dist:.3f} m from {'stored ' if stored else ''}marker "
                     f"{other}{f' ({province})' if stored else ''} (limit {params['distance_m']} m)")


@rule("marker.neighbor_mismatch", severity="error", layer="markers",
      description="同一界桩编号已由邻省入库，位置相差超过 1 m",
      description_en="the same marker id already stored from the neighbour, more than 1 m away",
      tolerance_m=1.0)
def neighbor_mismatch(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Submitted markers whose id the neighbour (another province) has stored more than ``tolerance_m``
    (1 m) away: both sides must agree on where a marker stands."""
    ws = workspace(ctx)
    frame = ws.markers.frame
    n_sub = ws.markers.n_submitted
    stored = frame.iloc[n_sub:]
    stored = stored[(stored["province"] != ctx.submission.province) & stored["marker_id"].notna()]
    if not len(stored):
        return
    by_id = {key: group.index.to_numpy() for key, group in stored.groupby("marker_id", sort=False)}
    usable = _usable(ws)
    pairs = [(k, m) for k in usable for m in by_id.get(frame["marker_id"].iloc[k], ())]
    if not pairs:
        return
    a, b = np.array(pairs).T
    ga, gb, _ = pair_in_metric(ws.markers.metric, a, ws.markers.metric, b)
    d = shapely.distance(ga, gb)
    for k, m, dist in zip(a, b, d, strict=True):
        if dist > params["tolerance_m"]:
            province = frame["province"].iloc[m]
            yield _issue("marker.neighbor_mismatch", ctx, int(k),
                         f"界桩 {_name(ctx, k)} 与邻省 {province} 已入库的同号界桩相距 {fmt_m(dist)} m"
                         f"（限值 {params['tolerance_m']} m）",
                         f"marker {_name(ctx, k)} stands {fmt_m(dist)} m from the marker of the same id stored by "
                         f"{province} (limit {params['tolerance_m']} m)")


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
    return sub.markers["source_file"].map(by_source).fillna(fallback).to_numpy(dtype=int)


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
        zones = candidate_zones(epsg[has_xy], lonlat[has_xy, 0], y[has_xy], ctx.submission.province)
        gap, swapped, zone = _xy_gaps(lonlat[has_xy], x[has_xy], y[has_xy], zones)
        for n in np.flatnonzero(gap > tolerance_m):
            k = int(has_xy[n])
            if _name(ctx, k) not in skip:
                out.append((k, "xy", float(gap[n]), bool(swapped[n] <= tolerance_m), int(zone[n])))
        return out

    return ws.once(("marker.declared", tolerance_m, explain_m), compute)


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
            yield _issue("marker.coordinate_mismatch", ctx, k,
                         f"界桩 {_name(ctx, k)} 申报经纬度 ({declared[0]:.7f}, {declared[1]:.7f}) 与几何相差 "
                         f"{fmt_m(gap)} m（限值 {params['tolerance_m']} m）：{why[0]}",
                         f"marker {_name(ctx, k)}: declared lon/lat ({declared[0]:.7f}, {declared[1]:.7f}) lie "
                         f"{fmt_m(gap)} m from the geometry (limit {params['tolerance_m']} m): {why[1]}")
            continue
        x, y = float(markers["x"].iloc[k]), float(markers["y"].iloc[k])
        why = _explain_xy(lonlat[k], x, y, zone, params["explain_m"])
        gap_zh = f"{fmt_m(gap)} m" if np.isfinite(gap) else "无法比较（东坐标的带号不存在）"
        gap_en = f"{fmt_m(gap)} m" if np.isfinite(gap) else "an unknown distance (no such zone prefix)"
        zone_zh, zone_en = _zone_words(zone) if zone else ("", "")
        yield _issue("marker.coordinate_mismatch", ctx, k,
                     f"界桩 {_name(ctx, k)} 申报 X={x:.3f}、Y={y:.3f} 与几何在 {zone_zh} 中相差 {gap_zh}"
                     f"（限值 {params['tolerance_m']} m）：{why[0]}",
                     f"marker {_name(ctx, k)}: declared X={x:.3f}, Y={y:.3f} lie {gap_en} from the geometry in "
                     f"{zone_en} (limit {params['tolerance_m']} m): {why[1]}")


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
            yield _issue("marker.axis_swapped", ctx, k,
                         f"界桩 {_name(ctx, k)} 申报经度 {lon} 与纬度 {lat} 互换了（相差 {fmt_m(gap)} m）；请对调",
                         f"marker {_name(ctx, k)}: declared longitude {lon} and latitude {lat} are swapped "
                         f"({fmt_m(gap)} m off as given); swap them")
            continue
        x, y = float(markers["x"].iloc[k]), float(markers["y"].iloc[k])
        zone_zh, zone_en = _zone_words(zone)
        yield _issue("marker.axis_swapped", ctx, k,
                     f"界桩 {_name(ctx, k)} 的 X={x:.3f} 与 Y={y:.3f} 互换了（按原样与几何在 {zone_zh} 中相差 "
                     f"{fmt_m(gap)} m，对调后在 {params['tolerance_m']} m 以内）：X 应为北坐标，Y 应为东坐标",
                     f"marker {_name(ctx, k)}: X={x:.3f} and Y={y:.3f} are swapped ({fmt_m(gap)} m from the "
                     f"geometry in {zone_en} as given, within {params['tolerance_m']} m once swapped): X must be "
                     "the northing and Y the easting")
