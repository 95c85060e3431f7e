"""``line.*`` rules: boundary lines (界线) on their own and against every other line in view.

Every rule measures in the Gauss-Krüger zone of the line (:mod:`boundaries.rules._geometry`) and locates
its issue on the ground: the bad vertex, the crossing point, the dangling end, the point of largest
deviation. Lines that fail ``line.invalid_geometry`` are left out of the other geometric rules.

Versions of one boundary (the same two division codes, or the same id from the same submitter) are
compared by ``line.neighbor_mismatch`` and never reported as overlapping or crossing each other. A finer
boundary lying on a coarser one (a county pair inside a province pair, e.g. 360102|430103 on
360000|430000) is the same boundary at another level, not an overlap. A line that ends on another line's
interior (a T-junction: a county line ending on a provincial line) meets it; only interiors that cross or
touch away from every end are a crossing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import shapely
import shapely.ops

try:  # pandas' internal grouped-sum kernel (see _part_cumsum); another pandas may not have the module
    from pandas._libs import groupby as _pandas_groupby
except ImportError:
    _pandas_groupby = None

from boundaries.model import Issue
from boundaries.rules import CheckContext, rule
from boundaries.rules._geometry import (
    BLOCK,
    BackgroundRanges,
    MetricCache,
    Pending,
    Workspace,
    background,
    division_prefix,
    fmt_m,
    index_mask,
    line_pieces,
    line_pieces_started,
    line_vertices,
    nearest_line_m,
    pair_in_metric,
    parallel_ranges,
    per_distinct,
    result_here,
    slots,
    to_lonlat,
    workspace,
    zone_epsg,
)

__all__ = [
    "attribute",
    "boundary_deviation_m",
    "crossing",
    "dangle",
    "deviating_stretches",
    "duplicate_vertex",
    "invalid_geometry",
    "invalid_lines",
    "measurable_lines",
    "neighbor_mismatch",
    "overlap",
    "self_intersection",
    "spike",
]

_CODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")
#: A part whose ends are closer than 1/_RING_GAP of its length is read as a ring left open.
_RING_GAP = 10.0
#: Deviating stretches of a line less than this far apart (metres of agreement between them) are one.
_AGREE_M = 1000.0


# -- shared geometry of the submitted lines ----------------------------------------------------------------
def _columns(ctx: CheckContext) -> tuple[np.ndarray, np.ndarray]:
    """The submitted lines' ids and source files as arrays (issues name them; pandas lookups are slow)."""
    def compute():
        lines = ctx.submission.lines
        n = len(lines)
        ids = lines["line_id"].to_numpy(dtype=object) if "line_id" in lines else np.full(n, None, dtype=object)
        files = lines["source_file"].to_numpy(dtype=object) if "source_file" in lines else np.full(n, None)
        return ids, files

    return workspace(ctx).once("line.columns", compute)


def _issue(rule_id: str, ctx: CheckContext, i: int, lonlat, zh: str, en: str) -> Issue:
    _ids, files = _columns(ctx)
    lon, lat = (float(lonlat[0]), float(lonlat[1])) if lonlat is not None else (None, None)
    source = files[i]
    return Issue(rule_id, "error", "lines", _name(ctx, i), lon, lat, zh, en,
                 source if isinstance(source, str) else None)


def _name(ctx: CheckContext, i: int) -> str:
    return _name_of(_columns(ctx)[0][i], i)


def _name_of(value, i: int) -> str:
    """How an issue names line ``i`` whose id is ``value``: the id, else its place in the submission."""
    return str(value) if isinstance(value, str) and value else f"#{i + 1}"


def _invalid_reasons(ws: Workspace) -> list[tuple[int, str, str]]:
    """(line, reason zh, reason en) of every submitted line that is not a usable line geometry."""
    def compute():
        geoms = ws.lines.geometries[: ws.lines.n_submitted]
        out = []
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        kind_ok = np.isin(shapely.get_type_id(geoms), [1, 5])
        v, n_parts, n = line_vertices(ws), *_submitted_prefix(ws)
        owner, coords, part = v.part_line[:n_parts], v.lonlat[:n], v.part[:n]
        x, y = coords[:, 0], coords[:, 1]  # column by column: numpy reduces a short axis slowly
        finite = np.isfinite(x) & np.isfinite(y)
        nonfinite = np.bincount(owner[part[~finite]], minlength=len(geoms)) > 0
        moves = ((x[1:] != x[:-1]) | (y[1:] != y[:-1])) & (part[1:] == part[:-1])
        distinct = np.bincount(part[1:][moves], minlength=n_parts) > 0
        degenerate = np.bincount(owner[~distinct], minlength=len(geoms)) > 0
        for i in np.flatnonzero(missing | ~kind_ok | nonfinite | degenerate).tolist():
            if missing[i]:
                out.append((i, "几何为空", "has no geometry"))
            elif not kind_ok[i]:
                out.append((i, f"几何类型 {shapely.get_type_id(geoms[i])} 不是线", "is not a line geometry"))
            elif nonfinite[i]:
                out.append((i, "含非有限坐标（NaN 或无穷）", "has non-finite coordinates (NaN or infinity)"))
            elif degenerate[i]:
                out.append((i, "有部分少于两个不同的点", "has a part with fewer than two distinct points"))
        return out

    return ws.once("line.invalid", compute)


def invalid_lines(ws: Workspace) -> np.ndarray:
    """Indices of the submitted lines that ``line.invalid_geometry`` reports (no measurable geometry)."""
    return np.array([i for i, _, _ in _invalid_reasons(ws)], dtype=int)


def measurable_lines(ws: Workspace) -> np.ndarray:
    """LineView indices of every line with measurable geometry: the valid submitted ones and the stored."""
    def compute():
        geoms = ws.lines.geometries
        ok = np.flatnonzero(~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
                            & np.isfinite(shapely.bounds(geoms)).all(axis=1))
        return ok[~index_mask(invalid_lines(ws), len(geoms))[ok]]

    return ws.once("line.measurable", compute)


def _valid(ws: Workspace) -> np.ndarray:
    """Indices of the submitted lines with usable geometry."""
    return ws.once("line.valid", lambda: np.flatnonzero(~index_mask(invalid_lines(ws), ws.lines.n_submitted)))


def _submitted_prefix(ws: Workspace) -> tuple[int, int]:
    """How many parts and vertices of the flat vertices (:func:`line_vertices`) are the submitted lines':
    they come first, the stored lines' after them."""
    v = line_vertices(ws)
    n_parts = int(np.searchsorted(v.part_line, ws.lines.n_submitted))
    return n_parts, int(v.part_first[n_parts]) if n_parts < len(v.part_line) else len(v.part)


def _vertices(ws: Workspace) -> dict:
    """Vertices of the submitted lines: metric and geographic coordinates, part and step (metres from the
    part's previous vertex) of each; per part its line, whether it is ``closed`` and where its vertices
    start (``offset``, then the number of vertices); ``valid_part``: whether a part's line is valid, the
    only ones the rules look at. Views of the flat vertices of every line (the submitted lines' come
    first), not copies: leaving the few invalid lines out by copying every other vertex cost more than the
    rules that read them; a vertex's line is looked up (``part_line[part]``) only where a rule needs it."""
    def compute():
        v, n_parts, n = line_vertices(ws), *_submitted_prefix(ws)
        part_line = v.part_line[:n_parts]
        return {"xy": v.xy[:n], "lonlat": v.lonlat[:n], "part": v.part[:n],
                "part_line": part_line, "closed": v.closed[:n_parts], "offset": v.offset[:n_parts + 1],
                "step": v.step[:n],
                "valid_part": index_mask(_valid(ws), ws.lines.n_submitted)[part_line]}

    return ws.once("line.vertices", compute)


def _ends(ws: Workspace, closed_m: float) -> dict[str, np.ndarray]:
    """Ends of the valid submitted parts that are not closed rings, starts then ends: line, part, end (0
    start, 1 end), x, y, lon, lat (plain arrays: a data frame's columns cost more to make and to read)."""
    v = _vertices(ws)
    first, last = v["offset"][:-1], v["offset"][1:] - 1
    valid = v["valid_part"] & (last >= first)  # a valid line's parts all have vertices
    first, last = first[valid], last[valid]
    gap = np.hypot(*(v["xy"][first] - v["xy"][last]).T)
    open_part = gap > closed_m
    index = np.r_[first[open_part], last[open_part]]
    return {"line": v["part_line"][v["part"][index]], "part": v["part"][index],
            "end": np.repeat(np.array([0, 1]), int(open_part.sum())),
            "x": v["xy"][index, 0], "y": v["xy"][index, 1], "lon": v["lonlat"][index, 0], "lat": v["lonlat"][index, 1]}


# -- rules on one line -------------------------------------------------------------------------------------
@rule("line.invalid_geometry", severity="error", layer="lines",
      description="几何无效：为空、少于两个不同的点、坐标非有限",
      description_en="empty, fewer than two distinct points, non-finite coordinates")
def invalid_geometry(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Lines that are empty, not lines, hold non-finite coordinates, or have a part with fewer than two
    distinct points. No tolerance: such a line cannot be measured at all."""
    ws = workspace(ctx)
    # projected first, on every core (PROJ releases the GIL), and only then the background work started:
    # projecting while it ran took longer than the two apart (line.invalid_geometry 0.27 s instead of
    # 0.11 s on the county network, 2 cores, load 1.0–1.6), the projection's 1,240 calls (one per run of a
    # zone) each taking the GIL back from the background's Python
    _ = line_vertices(ws).xy
    _contacts_started(ws)
    _simple_started(ws)
    line_pieces_started(ws, measurable_lines(ws))  # line.dangle's and the markers' search index
    for i, zh, en in _invalid_reasons(ws):
        geometry = ws.lines.geometries[i]
        coords = shapely.get_coordinates(geometry) if geometry is not None else np.zeros((0, 2))
        coords = coords[np.isfinite(coords).all(axis=1)]
        where = coords[0] if len(coords) else None
        yield _issue("line.invalid_geometry", ctx, i, where, f"界线 {_name(ctx, i)} {zh}",
                     f"line {_name(ctx, i)} {en}")


def _segment_hits(xy: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Points where non-adjacent segments of one line meet (its self-crossings and self-touches), each once
    (to the millimetre). A repeated vertex is not a touch: vertices closer than a micrometre to their
    predecessor are dropped first (``line.duplicate_vertex`` reports them), so that no zero-length segment
    makes its two neighbours meet."""
    step = np.hypot(*np.diff(xy, axis=0).T)
    keep = np.r_[True, (step > 1e-6) | (part[1:] != part[:-1])]
    xy, part = xy[keep], part[keep]
    same = part[1:] == part[:-1]
    start, end = xy[:-1][same], xy[1:][same]
    seg_part = part[:-1][same]
    segments = shapely.linestrings(np.stack([start, end], axis=1))
    a, b = shapely.STRtree(segments).query(segments, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    # consecutive segments of a part share their vertex by construction; so do the first and last
    # segments of a closed ring
    adjacent = (b == a + 1) & (seg_part[a] == seg_part[b])
    first_of = np.r_[True, seg_part[1:] != seg_part[:-1]]
    last_of = np.r_[seg_part[1:] != seg_part[:-1], True]
    ring = (first_of[a] & last_of[b] & (seg_part[a] == seg_part[b])
            & np.all(start[a] == end[b], axis=1))
    a, b = a[~adjacent & ~ring], b[~adjacent & ~ring]
    if not len(a):
        return np.zeros((0, 2))
    hits = shapely.intersection(segments[a], segments[b])
    points = shapely.get_coordinates(shapely.get_parts(hits))
    _unique, first = np.unique(np.round(points, 3), axis=0, return_index=True)
    return points[np.sort(first)]


@rule("line.self_intersection", severity="error", layer="lines", late=True,
      description="界线自相交或自接触", description_en="a line crossing or touching itself")
def self_intersection(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Points where a line crosses or touches itself (not simple): one issue per point, located there. A
    closed ring (an enclave) meeting itself only where it closes is simple, and a repeated vertex is
    ``line.duplicate_vertex``'s finding, not a touch. No tolerance: exact, in metres."""
    ws = workspace(ctx)
    valid = _valid(ws)
    if not len(valid):
        return
    # simplicity is topology, the same in any projection: decided on the coordinates as given, and only
    # the lines that fail are projected to locate the points
    simple = _simple_started(ws).result()
    for k in np.flatnonzero(~simple):
        i = int(valid[k])
        epsg = int(ws.lines.metric.zone[i])
        parts = shapely.get_parts(ws.lines.metric.get(np.array([i]), epsg)[0])
        xy, part = shapely.get_coordinates(parts, return_index=True)
        hits = _segment_hits(xy, part)
        for n, where in enumerate(to_lonlat(hits, epsg) if len(hits) else [], start=1):
            yield _issue("line.self_intersection", ctx, i, where,
                         f"界线 {_name(ctx, i)} 自相交或自接触（第 {n}/{len(hits)} 处，容差 0 m）",
                         f"line {_name(ctx, i)} crosses or touches itself (place {n} of {len(hits)}, "
                         f"tolerance 0 m)")


@rule("line.duplicate_vertex", severity="warning", layer="lines",
      description="相邻节点距离小于 0.01 m", description_en="consecutive vertices closer than 0.01 m",
      distance_m=0.01)
def duplicate_vertex(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Consecutive vertices closer than ``distance_m`` (0.01 m): one issue per line, at the closest pair."""
    v = _vertices(workspace(ctx))
    if not len(v["xy"]):
        return
    step, part = v["step"][1:], v["part"]  # metres between consecutive vertices (0 where a part starts)
    close = (step < params["distance_m"]) & (part[1:] == part[:-1])
    where = np.flatnonzero(close)  # in vertex order, so each line's close pairs are consecutive
    where = where[v["valid_part"][part[1:][where]]]
    if not len(where):
        return
    owner = v["part_line"][part[1:][where]]
    groups = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    for first, last in zip(groups, np.r_[groups[1:], len(where)], strict=True):
        i, at = owner[first], where[first:last]
        worst = at[np.argmin(step[at])]
        yield _issue("line.duplicate_vertex", ctx, int(i), v["lonlat"][worst + 1],
                     f"界线 {_name(ctx, i)} 有 {len(at)} 处相邻节点距离小于 {params['distance_m']} m，"
                     f"最近 {step[worst]:.4f} m",
                     f"line {_name(ctx, i)} has {len(at)} pair(s) of consecutive vertices closer than "
                     f"{params['distance_m']} m, the closest {step[worst]:.4f} m apart")


def _turn_angles(xy: np.ndarray, part: np.ndarray, closed_part: np.ndarray, limit_deg: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Interior angles (degrees) below ``limit_deg`` at vertices with a neighbour on both sides, and the
    vertex indices (the interior vertices in order, then the closing vertices of rings in order).

    The first vertex of a closed ring has its last-but-one vertex before it. Vertices repeating their
    predecessor are skipped so that a duplicate does not read as a turn: the parts holding one are measured
    again with their repeats left out (a copy of those parts only; compacting every vertex cost more than
    the rest of the rule), and their turns measured with the repeats are dropped."""
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])  # 1-D columns: no axis reductions
    cos_limit = np.cos(np.radians(limit_deg))
    moves = (x[1:] != x[:-1]) | (y[1:] != y[:-1]) | (part[1:] != part[:-1])
    cosines, where, ring_cosines, ring_where = _sharp_turns(x, y, part, closed_part, cos_limit)
    if not moves.all():
        repeated = index_mask(part[1:][~moves], len(closed_part))
        kept = np.flatnonzero(repeated[part] & np.r_[True, moves])
        again = _sharp_turns(x[kept], y[kept], part[kept], closed_part, cos_limit, kept)

        def merged(c: np.ndarray, w: np.ndarray, c_again: np.ndarray, w_again: np.ndarray):
            ok = ~repeated[part[w]]
            c, w = np.r_[c[ok], c_again], np.r_[w[ok], w_again]
            order = np.argsort(w, kind="stable")
            return c[order], w[order]

        cosines, where = merged(cosines, where, again[0], again[1])
        ring_cosines, ring_where = merged(ring_cosines, ring_where, again[2], again[3])
    cos_sharp = np.r_[cosines, ring_cosines]
    return np.degrees(np.arccos(np.clip(cos_sharp, -1.0, 1.0))), np.r_[where, ring_where].astype(int)


def _sharp_turns(x: np.ndarray, y: np.ndarray, part: np.ndarray, closed_part: np.ndarray, cos_limit: float,
                 index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cosines above ``cos_limit`` of the turns at interior vertices (between each vertex's neighbours in
    ``x``, ``y``) and at the closing vertices of rings, with their vertex indices (``index`` maps positions
    to them; None: the positions are the indices)."""
    def sharp_in(lo: int, hi: int) -> np.ndarray:
        """(vertex, cosine) of the sharp turns at the interior vertices ``lo … hi - 1``, block by block:
        a block's eight temporaries stay in the processor's cache, where those of millions of vertices
        would go out to memory and back (the cost would grow faster than the data)."""
        blocks = range(lo, hi, BLOCK)
        return np.concatenate([sharp_block(a, min(a + BLOCK, hi)) for a in blocks] or [np.zeros((0, 2))])

    def sharp_block(lo: int, hi: int) -> np.ndarray:
        lo, hi = max(lo, 1), min(hi, len(x) - 1)
        # the slices before and after, no gathering
        ux, uy = x[lo - 1:hi - 1] - x[lo:hi], y[lo - 1:hi - 1] - y[lo:hi]
        wx, wy = x[lo + 1:hi + 1] - x[lo:hi], y[lo + 1:hi + 1] - y[lo:hi]
        dot = ux * wx + uy * wy
        norms = np.sqrt((ux * ux + uy * uy) * (wx * wx + wy * wy))
        # the angle is below the limit exactly where its cosine is above the limit's: no division, and the
        # arccos only for those
        sharp = np.flatnonzero((dot > cos_limit * norms) & (part[lo - 1:hi - 1] == part[lo + 1:hi + 1]))
        return np.column_stack([lo + sharp, dot[sharp] / norms[sharp]])

    found = parallel_ranges(sharp_in, len(x))
    sharp = found[:, 0].astype(int)
    ring_cosines, ring_where = np.zeros(0), np.zeros(0, dtype=int)
    rings = np.flatnonzero(closed_part)
    if len(rings):  # the closing vertex of a ring turns between its last-but-one and second vertices
        first = np.searchsorted(part, rings)
        last = np.searchsorted(part, rings, side="right") - 1
        ok = last - first >= 3
        first, last = first[ok], last[ok]
        ux, uy = x[last - 1] - x[first], y[last - 1] - y[first]
        wx, wy = x[first + 1] - x[first], y[first + 1] - y[first]
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (ux * wx + uy * wy) / np.sqrt((ux * ux + uy * uy) * (wx * wx + wy * wy))
        ring_cosines, ring_where = c[c > cos_limit], first[c > cos_limit]
    if index is not None:
        sharp, ring_where = index[sharp], index[ring_where]
    return found[:, 1], sharp, ring_cosines, ring_where


@rule("line.spike", severity="error", layer="lines",
      description="尖刺：界线在节点处折返（夹角小于 10°）",
      description_en="a vertex where the line turns back on itself (interior angle < 10°)", angle_deg=10.0)
def spike(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Vertices whose interior angle (between the segments before and after) is below ``angle_deg``
    (10°): the line runs out and straight back, a digitising slip. One issue per spike vertex."""
    v = _vertices(workspace(ctx))
    if not len(v["xy"]):
        return
    closed_part = v["closed"]
    with np.errstate(invalid="ignore"):  # an invalid line's infinite coordinates: left out below
        angle, index = _turn_angles(v["xy"], v["part"], closed_part, params["angle_deg"])
    for k in np.flatnonzero((angle < params["angle_deg"]) & v["valid_part"][v["part"][index]]):
        i = int(v["part_line"][v["part"][index[k]]])
        yield _issue("line.spike", ctx, i, v["lonlat"][index[k]],
                     f"界线 {_name(ctx, i)} 在节点处折返，夹角 {angle[k]:.2f}°（限值 {params['angle_deg']}°）",
                     f"line {_name(ctx, i)} turns back at a vertex: interior angle {angle[k]:.2f}° "
                     f"(limit {params['angle_deg']}°)")


@rule("line.attribute", severity="error", layer="lines",
      description="代码缺失、格式错误或相同，或两侧均不在提交省份",
      description_en="codes missing, malformed or equal, or neither side in the submitting province")
def attribute(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Lines whose ``line_id`` is missing, whose ``left_code``/``right_code`` are missing, not 6, 9 or 12
    digits (GB/T 2260 and statistical codes), equal, or both outside the submitting province."""
    lines = ctx.submission.lines
    prefix = ctx.submission.province[:2]
    ws = workspace(ctx)
    ids, files = _columns(ctx)
    left, right = (lines[c].to_numpy(dtype=object) for c in ("left_code", "right_code"))
    found, reasons = [], []
    fine, foreign = _attributes_fine(ids, left, right, prefix)
    rows = np.flatnonzero(~fine)
    # the rows' values as lists, read once (indexing an object array costs a conversion per value)
    row_left, row_right, row_ids = left[rows].tolist(), right[rows].tolist(), ids[rows].tolist()
    for i, foreign_only, a, b, line_id in zip(rows.tolist(), foreign[rows].tolist(), row_left, row_right, row_ids,
                                              strict=True):
        if foreign_only:  # the one finding (every line of a network submitted by another province): worded at once
            found.append(i)
            reasons.append(_foreign_reason(a, b, prefix))
            continue
        problems = _attribute_problems(line_id, a, b, prefix)
        if problems:
            found.append(i)
            reasons.append(("；".join(p[0] for p in problems), "; ".join(p[1] for p in problems)))
    middles, placed = _middles(ws, np.array(found, dtype=int))
    # the columns taken once, not per issue as _issue does
    names = [_name_of(value, i) for value, i in zip(ids[found].tolist(), found, strict=True)]
    sources = [source if isinstance(source, str) else None for source in files[found].tolist()]
    for name, source, (zh, en), (lon, lat), at in zip(names, sources, reasons, middles.tolist(), placed.tolist(),
                                                      strict=True):
        yield Issue("line.attribute", "error", "lines", name, lon if at else None, lat if at else None,
                    f"界线 {name}：{zh}", f"line {name}: {en}", source)


def _middles(ws: Workspace, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) rows of the point halfway along the longest part of each of the submitted ``lines``
    (distinct, ascending), measured in metres, and whether each line has one (a line without usable
    geometry has none: its row is NaN); from the flat vertices, no geometry built."""
    out = np.full((len(lines), 2), np.nan)
    valid = index_mask(_valid(ws), ws.lines.n_submitted)[lines]
    if not valid.any():
        return out, valid
    v = line_vertices(ws)
    candidates = np.flatnonzero(index_mask(lines[valid], len(ws.lines.frame))[v.part_line])  # their parts
    first = v.offset[candidates]
    counts = v.offset[candidates + 1] - first
    # metres along each part from its own first vertex, a sum restarting at every part: the same whatever
    # else is in view (a flat sum over all vertices would carry the rounding of every vertex before
    # it, and a check run on spatial partitions would place the middle 1e-13° elsewhere). The steps are the
    # ones every rule shares (v.step: 0 at a part's first vertex). Where the lines asked for hold most
    # vertices (a network submitted by the wrong province: every line a finding), the sums are made over
    # all parts at once and read where they are, with no gathering (each part's sum is its own: the same
    # values either way); otherwise over the candidates' vertices gathered. ``at``: where each
    # candidate's sums start in ``along``; ``group``: the group of each sum, ``slot`` each candidate's
    if 2 * int(counts.sum()) > len(v.part):
        along = _part_cumsum(v.step, v.part, len(v.part_line))
        at, group, slot, vertex = first, v.part, candidates, None
    else:
        vertex = slots(first, counts)
        group = np.repeat(np.arange(len(candidates)), counts)
        along = _part_cumsum(v.step[vertex], group, len(candidates))
        at, slot = np.cumsum(counts) - counts, np.arange(len(candidates))
    ends = at + counts - 1
    length = along[ends]
    order = np.lexsort((-length, v.part_line[candidates]))
    chosen = order[np.r_[True, v.part_line[candidates][order][1:] != v.part_line[candidates][order][:-1]]]
    longest = candidates[chosen]  # one part per line, the longest
    half = np.full(len(v.part_line) if vertex is None else len(candidates), np.nan)  # per group
    half[slot[chosen]] = length[chosen] / 2
    # the sums at most half the length, counted per chosen part: a running count over every sum (the groups
    # are consecutive runs of ``along``, their halves repeated along them) read at each part's two ends,
    # where a weighted bincount of every sum cost twice as much
    sizes = np.diff(v.offset) if vertex is None else counts
    with np.errstate(invalid="ignore"):
        running = np.r_[0, np.cumsum(along <= np.repeat(half, sizes))]
    below = running[ends[chosen] + 1] - running[at[chosen]]
    k = at[chosen] + np.clip(below - 1, 0, np.maximum(0, counts[chosen] - 2))
    k1 = np.minimum(k + 1, ends[chosen])
    span = along[k1] - along[k]
    t = np.divide(half[slot[chosen]] - along[k], span, out=np.zeros_like(span), where=span > 0)
    xy_k, xy_k1 = (v.xy[k], v.xy[k1]) if vertex is None else (v.xy[vertex[k]], v.xy[vertex[k1]])
    middle = xy_k + t[:, None] * (xy_k1 - xy_k)
    line = v.part_line[longest]
    zones = ws.lines.metric.zone[line]
    lonlat = np.empty_like(middle)
    for epsg in np.unique(zones):
        lonlat[zones == epsg] = to_lonlat(middle[zones == epsg], int(epsg))
    # ``line`` ascends (one longest part per line, in the order of their lines), as ``lines`` does
    slot = np.flatnonzero(valid)
    out[slot] = lonlat[np.searchsorted(line, lines[slot])]
    return out, valid


def _part_cumsum(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """``values`` summed up within each of their groups (``group``: codes ``0 … groups-1``), in order,
    each sum restarting at its group's first value: pandas' grouped cumulative sum (compensated, Kahan),
    so that a part's sums are the same whatever else is summed alongside.

    The groups are given as a Categorical of known codes: pandas then takes them as they are, where integer
    keys are factorized first (which cost twice the sum itself); sort=True, observed=False, so that it
    takes the categories as given (``recode_for_groupby`` returns them as they are), where either other
    choice first finds the codes present, a unique over every value (2.6 M values in 8,749 groups, fresh
    process: 0.085–0.25 s with sort=False, observed=True; 0.030–0.041 s with observed=False; 2 cores, load
    3.3). A transform's values are the same either way."""
    kernel = getattr(_pandas_groupby, "group_cumsum", None)  # None without the module
    if kernel is not None and values.dtype == np.float64 and group.dtype == np.intp:
        # the kernel of that grouped sum called directly, without its group-by around it (which cost as much
        # again: 2.0 M values, 0.013 s instead of 0.024–0.042 s): the same loop, so the same values; pandas'
        # internals, hence the test of its signature below and the public path otherwise
        # every row is written (a NaN value as NaN) when every group code is one: NaN first otherwise, as
        # pandas leaves a row of code -1
        out = np.empty((len(values), 1)) if not len(group) or group.min() >= 0 else np.full((len(values), 1), np.nan)
        try:
            kernel(out, np.ascontiguousarray(values).reshape(-1, 1), group, groups, False, True)
            return out[:, 0]
        except TypeError:  # another pandas whose kernel takes other arguments
            pass
    codes = pd.Categorical.from_codes(group, categories=pd.RangeIndex(groups), validate=False)
    return pd.Series(values, copy=False).groupby(codes, sort=True, observed=False).cumsum().to_numpy()


def _attributes_fine(line_id: np.ndarray, left: np.ndarray, right: np.ndarray, prefix: str
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Rows in which :func:`_attribute_problems` finds nothing, decided per distinct value (vectorised):
    an id, two different well-formed codes, one of them in the province; and the rows in which it finds
    only that neither code is in the province (:func:`_foreign_reason`). The others are looked at one by
    one."""
    # ids are nearly all distinct: tested directly, without first factorizing them
    has_id = np.fromiter((isinstance(v, str) and bool(v) for v in line_id), dtype=bool, count=len(line_id))
    code, distinct = pd.factorize(np.concatenate([left, right]))  # once for both tests of a code
    well_formed = per_distinct(lambda v: isinstance(v, str) and bool(v) and bool(_CODE.match(v)), distinct, code)
    ours = per_distinct(lambda v: isinstance(v, str) and v[:2] == prefix, distinct, code)
    n = len(left)
    sound = has_id & well_formed[:n] & well_formed[n:] & (code[:n] != code[n:])
    ours_either = ours[:n] | ours[n:]
    return sound & ours_either, sound & ~ours_either


def _foreign_reason(left: str, right: str, prefix: str) -> tuple[str, str]:
    """(zh, en): neither of two well-formed, different codes is in the submitting province ``prefix``."""
    return (f"两侧 {left}、{right} 均不在提交省份（{prefix}）",
            f"neither side ({left}, {right}) lies in the submitting province ({prefix})")


def _attribute_problems(line_id, left, right, prefix: str) -> list[tuple[str, str]]:
    problems = []
    if not isinstance(line_id, str) or not line_id:
        problems.append(("缺少界线编号", "line_id is missing"))
    codes_ok = True
    for field, value in (("left_code", left), ("right_code", right)):
        if not isinstance(value, str) or not value:
            problems.append((f"缺少 {field}", f"{field} is missing"))
            codes_ok = False
        elif not _CODE.match(value):
            problems.append((f"{field}={value} 不是 6、9 或 12 位区划代码",
                             f"{field}={value} is not a 6-, 9- or 12-digit division code"))
            codes_ok = False
    if codes_ok and left == right:
        problems.append((f"左右两侧代码相同（{left}）", f"left and right codes are equal ({left})"))
    elif codes_ok and left[:2] != prefix and right[:2] != prefix:
        problems.append(_foreign_reason(left, right, prefix))
    return problems


# -- rules between lines -----------------------------------------------------------------------------------
def _nested(codes_a: tuple, codes_b: tuple) -> bool:
    """True when one line's two sides are divisions inside the other's two sides (one boundary, two levels)."""
    pa = [division_prefix(c) for c in codes_a]
    pb = [division_prefix(c) for c in codes_b]
    if None in pa or None in pb or sorted(pa) == sorted(pb):
        return False

    def inside(fine, coarse):
        return ((fine[0].startswith(coarse[0]) and fine[1].startswith(coarse[1]))
                or (fine[0].startswith(coarse[1]) and fine[1].startswith(coarse[0])))

    return inside(pa, pb) or inside(pb, pa)


def _prefix_lengths(codes: np.ndarray) -> np.ndarray:
    """``len(division_prefix(code) or "")`` of every code, each distinct code computed once."""
    index, distinct = pd.factorize(codes)
    lengths = np.fromiter((len(division_prefix(c) or "") for c in distinct), dtype=int, count=len(distinct))
    # a missing code (-1) has no prefix: the appended 0
    return np.r_[lengths, len(division_prefix(None) or "")][index]


def _line_pairs(ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i submitted, j any other line) whose extents meet and that are not versions of one boundary
    nor one boundary at two levels; each pair of submitted lines once."""
    def compute():
        valid = _valid(ws)
        view = ws.lines
        if not len(valid):
            return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        a, b = view.tree.query(view.geometries[valid])
        a = valid[a]
        keep = (a != b) & ((b >= view.n_submitted) | (a < b))
        # tested once per line, not once per pair (three pairs a line in a network)
        usable = ~shapely.is_empty(view.geometries) & ~shapely.is_missing(view.geometries)
        usable[invalid_lines(ws)] = False
        keep &= usable[b]
        a, b = a[keep], b[keep]
        # features of one submission sharing a stretch overlap whatever their codes: only stored versions
        # of the same boundary are compared instead (line.neighbor_mismatch)
        version = b >= view.n_submitted
        version[version] = view.version_of(a[version], b[version])
        a, b = a[~version], b[~version]
        left, right = view.frame["left_code"].to_numpy(), view.frame["right_code"].to_numpy()
        # one boundary at two levels needs two levels: only pairs whose code levels differ are looked at
        sides = _prefix_lengths(np.concatenate([left, right]))
        level = np.sort(np.column_stack([sides[:len(left)], sides[len(left):]]), axis=1).reshape(-1, 2)
        maybe = np.flatnonzero((level[a] != level[b]).any(axis=1))
        nested = np.zeros(len(a), dtype=bool)
        nested[maybe] = [_nested((left[a[k]], right[a[k]]), (left[b[k]], right[b[k]])) for k in maybe]
        return a[~nested], b[~nested]

    return ws.once("line.pairs", compute)


def _interior_contacts(ws: Workspace) -> dict:
    """For line pairs whose interiors meet (DE-9IM II not empty): their intersection, measured in metres."""
    def compute():
        a, b = _contacts_started(ws).result()
        ga, gb, zones = pair_in_metric(ws.lines.metric, a, ws.lines.metric, b)
        hits = shapely.intersection(ga, gb) if len(a) else np.empty(0, dtype=object)
        return {"a": a, "b": b, "zones": zones, "hits": hits, "ga": ga, "gb": gb}

    return ws.once("line.contacts", compute)


def _degree_contacts(ws: Workspace) -> tuple[np.ndarray, np.ndarray, BackgroundRanges | None]:
    """Line pairs whose interiors may meet and whether they do (DE-9IM II not empty), the second in the
    background: topology, found on the coordinates as given. The pairs, and GEOS's ``relate_pattern`` over
    the pairs not settled by :func:`_meet_at_one_end_only` in :class:`BackgroundRanges` (None: no pair)."""
    a, b = _line_pairs(ws)
    if not len(a):
        return a, b, None
    geometries = ws.lines.geometries
    ask = np.flatnonzero(~_meet_at_one_end_only(ws, a, b))  # GEOS decides the others
    first, second = geometries[a[ask]], geometries[b[ask]]

    def relate(lo: int, hi: int) -> np.ndarray:
        return shapely.relate_pattern(first[lo:hi], second[lo:hi], "T********")

    return a[ask], b[ask], BackgroundRanges(relate, len(ask), _background_pieces(len(ask)))


def _background_pieces(n: int) -> int:
    """How many ranges a background GEOS pass over ``n`` items is queued in (:class:`BackgroundRanges`):
    8, fewer below 2,000 items (a range of 250 costs a few milliseconds)."""
    return max(1, min(8, n // 250))


def _meet_at_one_end_only(ws: Workspace, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairs of lines whose interiors certainly do not meet, decided on their vertices (degrees as given):
    two lines of one open part each that share exactly one end ``p`` (a junction, nearly every pair of a
    network whose extents meet), where each line's extent without ``p`` (the box of its other vertices)
    misses the other line's whole extent. ``relate_pattern`` then has nothing to find, and costs a pass
    over both lines per pair: 1.3–1.5 s of CPU for the 544 k pairs of the 182 k-line grid (99.6 % settled
    here; 48 % of the county network's 17.6 k).

    Why it is exact: let ``a'`` be ``a`` without its segment ``s_a`` at ``p``, ``b'`` likewise. ``a'`` lies
    in ``a``'s box without ``p``, which misses ``b``: ``a' ∩ b`` is empty, and so is ``a ∩ b'``. What is
    left of ``a ∩ b`` is ``s_a ∩ s_b``, two segments from ``p``: ``{p}``, or a common stretch up to the
    nearer far end, which would then be a vertex of one line lying on the other, inside the box it has
    been found to miss. So the lines meet at ``p`` only, an end of both (the boundary of a line of one
    open part): their interiors do not meet. Every comparison is exact (no arithmetic). Lines with a
    non-finite coordinate are left to GEOS, as are lines of several parts, closed ones, and pairs sharing
    both ends or none."""
    v = line_vertices(ws)  # computed in the foreground before the background started: its degrees only
    n = len(ws.lines.frame)
    lon, lat = v.lonlat[:, 0], v.lonlat[:, 1]
    first, last = np.full(n, -1), np.full(n, -1)
    first[v.part_line], last[v.part_line] = v.offset[:-1], v.offset[1:] - 1
    one_part = (np.bincount(v.part_line, minlength=n) == 1) & (last > first)
    lines = np.flatnonzero(one_part)

    def box(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per line of one part, the box (W, S, E, N) of its vertices lo … hi (NaN for the others): the
        reductions over [lo, hi) (the even slots of reduceat over the interleaved bounds), then hi."""
        out = np.full((n, 4), np.nan)
        bounds = np.column_stack([lo[lines], hi[lines]]).ravel()
        for column, (ufunc, values) in enumerate(((np.minimum, lon), (np.minimum, lat), (np.maximum, lon),
                                                   (np.maximum, lat))):
            if len(bounds):
                out[lines, column] = ufunc(ufunc.reduceat(values, bounds)[::2], values[hi[lines]])
        return out

    but_first, but_last = box(first + 1, last), box(first, last - 1)
    one_part &= np.isfinite(but_first).all(axis=1) & np.isfinite(but_last).all(axis=1)  # NaN, infinity: GEOS's
    whole = np.column_stack([np.minimum(but_first[:, :2], but_last[:, :2]),
                             np.maximum(but_first[:, 2:], but_last[:, 2:])])
    start_a, end_a, start_b, end_b = first[a], last[a], first[b], last[b]

    def same(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return (lon[i] == lon[j]) & (lat[i] == lat[j])

    a_start, b_start = same(start_a, start_b) | same(start_a, end_b), same(start_a, start_b) | same(end_a, start_b)
    shared = (same(start_a, start_b).astype(int) + same(start_a, end_b) + same(end_a, start_b) + same(end_a, end_b))
    ok = one_part[a] & one_part[b] & (shared == 1)
    # each line's box without its shared end
    trim_a = np.where(a_start[:, None], but_first[a], but_last[a])
    trim_b = np.where(b_start[:, None], but_first[b], but_last[b])

    def apart(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return (p[:, 0] > q[:, 2]) | (q[:, 0] > p[:, 2]) | (p[:, 1] > q[:, 3]) | (q[:, 1] > p[:, 3])

    return ok & apart(trim_a, whole[b]) & apart(whole[a], trim_b)


def _simple_started(ws: Workspace) -> Pending:
    """Whether each valid submitted line is simple, decided in the background (topology: the same in any
    projection, so on the coordinates as given): GEOS's ``is_simple`` (in :class:`BackgroundRanges`) for
    the lines that are not certainly simple by :func:`_monotone`."""
    valid = _valid(ws)  # memoised here, with the flat vertices' degrees, not raced for in the background

    def start() -> tuple[np.ndarray, np.ndarray, BackgroundRanges]:
        out = _monotone(ws, valid)
        rest = np.flatnonzero(~out)
        geometries = ws.lines.geometries[valid[rest]]
        return out, rest, BackgroundRanges(lambda lo, hi: shapely.is_simple(geometries[lo:hi]), len(rest),
                                           _background_pieces(len(rest)))

    def begin() -> Pending:
        started = background(start)

        def finish() -> np.ndarray:
            out, rest, simple = result_here(started, start)
            out[rest] = simple.result()
            return out

        return Pending(finish)

    return ws.once("line.simple_future", begin)


def _monotone(ws: Workspace, lines: np.ndarray) -> np.ndarray:
    """Which of ``lines`` are of one part whose vertices run strictly one way in x or in y (degrees as
    given): such a line is simple, known without GEOS (whose ``is_simple`` took 0.36–0.45 s of CPU for the
    182 k lines of the synthetic grid, 99.8 % of them so; 15 % of the county network's). Exact: its
    segments' ranges in that coordinate follow each other, overlapping only where two consecutive segments
    share their vertex, so no two segments meet elsewhere (and its ends differ: it is not closed). A NaN
    fails every test (left to GEOS)."""
    v = line_vertices(ws)
    n = len(ws.lines.frame)
    parts = np.bincount(v.part_line, minlength=n)
    first, size = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    first[v.part_line], size[v.part_line] = v.offset[:-1], np.diff(v.offset)
    out = np.zeros(len(lines), dtype=bool)
    ok = np.flatnonzero((parts[lines] == 1) & (size[lines] >= 2))
    if not len(ok):
        return out
    # the steps of each line, vertices first … first + size - 2 (a step to the next vertex each): the
    # reductions over those ranges, the even slots of reduceat over the interleaved bounds (the steps' array
    # one longer, so that the last line's bound is an index of it)
    start = first[lines[ok]]
    bounds = np.column_stack([start, start + size[lines[ok]] - 1]).ravel()
    monotone = np.zeros(len(ok), dtype=bool)
    for column in (0, 1):
        values = v.lonlat[:, column]
        steps = np.zeros(len(values))
        np.subtract(values[1:], values[:-1], out=steps[:-1])
        monotone |= np.minimum.reduceat(steps, bounds)[::2] > 0
        monotone |= np.maximum.reduceat(steps, bounds)[::2] < 0
    out[ok] = monotone
    return out


def _contacts_started(ws: Workspace):
    """The search for touching pairs, started in the background on first use (it overlaps with the rules
    on single lines that run meanwhile); what is still queued when a rule asks for it runs on that rule's
    thread (:func:`result_here`, :class:`BackgroundRanges`)."""
    _valid(ws)  # memoised here, with the flat vertices' degrees, not raced for in the background

    def start() -> Pending:
        started = background(_degree_contacts, ws)

        def finish() -> tuple[np.ndarray, np.ndarray]:
            a, b, meet = result_here(started, _degree_contacts, ws)
            if meet is None:
                return a, b
            kept = meet.result()
            return a[kept], b[kept]

        return Pending(finish)

    return ws.once("line.contacts_future", start)


def _frame_columns(ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The view's line ids, provinces and stored flags as arrays (a pandas row lookup per issue is slow)."""
    frame = ws.lines.frame
    return ws.once("line.frame_columns", lambda: (frame["line_id"].to_numpy(dtype=object),
                                                  frame["province"].to_numpy(dtype=object),
                                                  frame["stored"].to_numpy(dtype=bool)))


def _other_name(ws: Workspace, j: int) -> str:
    ids, province, is_stored = _frame_columns(ws)
    name = ids[j] if isinstance(ids[j], str) else f"#{j + 1}"
    return f"{name} ({province[j]})" if is_stored[j] else name


def _other_name_zh(ws: Workspace, j: int) -> str:
    ids, province, is_stored = _frame_columns(ws)
    name = ids[j] if isinstance(ids[j], str) else f"#{j + 1}"
    return f"{name}（已入库，{province[j]}）" if is_stored[j] else name


def _end_points(geometry) -> np.ndarray:
    parts = shapely.get_parts(geometry)
    return shapely.get_coordinates(np.r_[shapely.get_point(parts, 0), shapely.get_point(parts, -1)])


@rule("line.overlap", severity="error", layer="lines", late=True,
      description="两条不同界线共线重叠超过 1 m",
      description_en="two different features sharing a stretch longer than 1 m",
      length_m=1.0)
def overlap(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Stretches longer than ``length_m`` (1 m) that a submitted line shares with another line (submitted
    or stored) that is not a version of the same boundary; located at the middle of the stretch."""
    ws = workspace(ctx)
    c = _interior_contacts(ws)
    for k in range(len(c["a"])):
        parts = shapely.get_parts(c["hits"][k])
        pieces = parts[shapely.get_dimensions(parts) == 1]
        if not len(pieces):
            continue
        shared = shapely.line_merge(shapely.multilinestrings(pieces))
        for stretch in shapely.get_parts(shared):
            length = float(shapely.length(stretch))
            if length <= params["length_m"]:
                continue
            i, j = int(c["a"][k]), int(c["b"][k])
            middle = shapely.get_coordinates(shapely.line_interpolate_point(stretch, 0.5, normalized=True))
            where = to_lonlat(middle, int(c["zones"][k]))[0]
            issue = _issue("line.overlap", ctx, i, where,
                           f"界线 {_name(ctx, i)} 与界线 {_other_name_zh(ws, j)} 重叠 {fmt_m(length)} m"
                           f"（限值 {params['length_m']} m）",
                           f"line {_name(ctx, i)} shares a {fmt_m(length)} m stretch with line "
                           f"{_other_name(ws, j)} (limit {params['length_m']} m)")
            issue.other_line = j  # the LineView index of the other line: the distributed check orders by it
            yield issue


@rule("line.crossing", severity="error", layer="lines", late=True,
      description="两条界线在端点以外相交或接触",
      description_en="two lines that cross or touch anywhere but at their ends",
      end_m=1.0)
def crossing(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Points where a submitted line's interior crosses or touches another line's interior, farther than
    ``end_m`` (1 m) from every end of either line; one issue per crossing point. A line ending on another
    (a junction or T-junction) is not a crossing."""
    ws = workspace(ctx)
    c = _interior_contacts(ws)
    for k in range(len(c["a"])):
        parts = shapely.get_parts(c["hits"][k])
        points = shapely.get_coordinates(parts[shapely.get_dimensions(parts) == 0])
        if not len(points):
            continue
        ends = np.r_[_end_points(c["ga"][k]), _end_points(c["gb"][k])]
        gap = np.min(np.hypot(points[:, None, 0] - ends[None, :, 0], points[:, None, 1] - ends[None, :, 1]),
                     axis=1)
        shared = parts[shapely.get_dimensions(parts) == 1]
        if len(shared):
            # where a shared stretch wavers by rounding, its stray points belong to the overlap
            gap = np.minimum(gap, shapely.distance(shapely.points(points), shapely.multilinestrings(shared)))
        i, j = int(c["a"][k]), int(c["b"][k])
        for point in points[gap > params["end_m"]]:
            where = to_lonlat(point, int(c["zones"][k]))[0]
            issue = _issue("line.crossing", ctx, i, where,
                           f"界线 {_name(ctx, i)} 与界线 {_other_name_zh(ws, j)} 在端点以外相交"
                           f"（距任一端点超过 {params['end_m']} m）",
                           f"line {_name(ctx, i)} crosses or touches line {_other_name(ws, j)} away from their "
                           f"ends (more than {params['end_m']} m from any end)")
            issue.other_line = j  # as in line.overlap
            yield issue


def _own_targets(ws: Workspace, ends: dict[str, np.ndarray]) -> np.ndarray:
    """Distance from each end to the rest of its own line: its other parts and its own part's other end
    (an enclave ring left open is a dangle against itself). All ends at once: each end paired with the
    other parts of its line (a line's parts are consecutive), each part built once."""
    v = _vertices(ws)
    part_line = v["part_line"]
    if not len(ends["line"]):
        return np.zeros(0)
    first, last = v["offset"][:-1], v["offset"][1:]
    line, part, end = ends["line"], ends["part"], ends["end"]
    points = shapely.points(ends["x"], ends["y"])
    # the parts of each end's line: a range, since parts come in the order of their lines
    line_first = np.searchsorted(part_line, line)
    line_count = np.searchsorted(part_line, line, side="right") - line_first
    k = np.repeat(np.arange(len(line)), line_count)
    j = slots(line_first, line_count)
    other = j != part[k]
    k, j = k[other], j[other]
    needed = np.union1d(j, part)
    built = np.empty(len(part_line), dtype=object)
    counts = last[needed] - first[needed]
    vertex = slots(first[needed], counts)
    built[needed] = shapely.linestrings(v["xy"][vertex], indices=np.repeat(np.arange(len(needed)), counts))
    to_others = np.full(len(line), np.inf)
    if len(k):
        np.minimum.at(to_others, k, shapely.distance(points[k], built[j]))
    own = built[part]
    opposite = shapely.points(v["xy"][np.where(end == 0, last[part] - 1, first[part])])
    gap = shapely.distance(points, opposite)
    # only a ring left open (a gap far shorter than the ring) dangles against itself, not a short piece
    return np.minimum(to_others, np.where(gap * _RING_GAP < shapely.length(own), gap, np.inf))


def _on_other_end(ws: Workspace, lonlat: np.ndarray, usable: np.ndarray, allowed) -> np.ndarray:
    """Ends (lon, lat) that are exactly the first or last vertex of a part of an ``allowed`` line among
    ``usable``: a junction. Found by hashing coordinates (linear), no geometry measured; exact, since equal
    degrees project to equal metres, so such an end is 0 m from that line."""
    v = line_vertices(ws)
    parts = np.arange(len(v.part_line))
    parts = parts[index_mask(usable, len(ws.lines.frame))[v.part_line]]
    first, last = v.offset[parts], v.offset[parts + 1] - 1
    tips = np.r_[first, last]
    tip_line = np.r_[v.part_line[parts], v.part_line[parts]]
    keys, _ = pd.factorize(np.r_[lonlat[:, 0] + 1j * lonlat[:, 1], v.lonlat[tips, 0] + 1j * v.lonlat[tips, 1]])
    end_key, tip_key = keys[: len(lonlat)], keys[len(lonlat):]
    order = np.argsort(tip_key, kind="stable")
    sorted_keys = tip_key[order]
    lo, hi = np.searchsorted(sorted_keys, end_key), np.searchsorted(sorted_keys, end_key, side="right")
    # the tips at each end's place, the r-th of each in round r, and only for the ends not met yet: an end
    # needs one allowed tip, and at a junction the first other line's tip nearly always is one, so the
    # (costly) test of versions runs about once per end instead of once per tip
    met = np.zeros(len(lonlat), dtype=bool)
    count = hi - lo
    k = np.flatnonzero(count)
    for r in range(int(count.max(initial=0))):
        k = k[(count[k] > r) & ~met[k]]
        if not len(k):
            break
        met[k[allowed(k, tip_line[order[lo[k] + r]])]] = True
    return met


@rule("line.dangle", severity="error", layer="lines",
      description="悬挂端点：端点距其他界线 1000 m 以内但未在 1 m 内相接",
      description_en="an end that comes within 1000 m of another line but does not meet it within 1 m",
      search_m=1000.0, meet_m=1.0)
def dangle(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Ends of submitted lines that come within ``search_m`` (1000 m) of another line (submitted or
    stored, not a version of the same boundary) but meet none within ``meet_m`` (1 m): an undershoot or
    overshoot at a junction. Closed rings (enclaves) have no ends."""
    ws = workspace(ctx)
    ends = _ends(ws, params["meet_m"])
    if not len(ends["line"]):
        return
    view = ws.lines
    owner = ends["line"]
    lonlat = np.column_stack([ends["lon"], ends["lat"]])
    usable = measurable_lines(ws)
    pieces = line_pieces(ws, usable)

    def allowed(n, line):
        ok = owner[n] != line
        other = np.flatnonzero(ok)  # versions looked up only for pairs of two lines
        ok[other] = ~view.version_of(owner[n][other], line[other])
        return ok

    # an end that is exactly an end of another allowed line meets it (distance 0, whatever else is near);
    # the other ends meeting a line within meet_m are settled by the tight first search, the rest measured
    nearest, nearest_line = np.zeros(len(owner)), np.full(len(owner), -1)
    todo = np.flatnonzero(~_on_other_end(ws, lonlat, usable, allowed))
    points = MetricCache(shapely.points(lonlat[todo]))
    nearest[todo], nearest_line[todo] = nearest_line_m(
        ws, pieces, points, np.arange(len(todo)), lambda n, line: allowed(todo[n], line), params["search_m"],
        accept_m=params["meet_m"])
    own = np.full(len(owner), np.inf)
    unmet = np.flatnonzero(nearest > params["meet_m"])  # only an end meeting no other line may be open on itself
    own[unmet] = _own_targets(ws, {column: values[unmet] for column, values in ends.items()})
    closest = np.minimum(nearest, own)
    dangling = (closest <= params["search_m"]) & (closest > params["meet_m"])
    which = ends["end"]
    for k in np.flatnonzero(dangling):
        i = int(owner[k])
        if own[k] < nearest[k]:
            zh_target, en_target = "本线另一端或另一部分", "its own other end or part"
        else:
            zh_target = f"界线 {_other_name_zh(ws, nearest_line[k])}"
            en_target = f"line {_other_name(ws, nearest_line[k])}"
        which_zh, which_en = ("起点", "start") if which[k] == 0 else ("终点", "end")
        yield _issue("line.dangle", ctx, i, lonlat[k],
                     f"界线 {_name(ctx, i)} 的{which_zh}悬挂：距{zh_target} {fmt_m(closest[k])} m，"
                     f"未在 {params['meet_m']} m 内相接（搜索 {params['search_m']:.0f} m）",
                     f"line {_name(ctx, i)}: its {which_en} dangles {fmt_m(closest[k])} m from {en_target} "
                     f"and meets no line within {params['meet_m']} m (searched {params['search_m']:.0f} m)")


def _farthest(source, target, tolerance_m: float) -> tuple[float, np.ndarray]:
    """The largest distance from any point of ``source`` to ``target`` (metric lines), and that point.

    Vertices alone miss a stretch where ``target`` has a gap in the middle of one of ``source``'s segments,
    so each segment gets a certified upper bound: the distance to one fixed segment of ``target`` is
    convex along a straight segment, hence at most its larger value at the two ends; a segment is split at
    its middle (branch and bound, vectorised per level) until its bound is within the tolerance or below
    the largest distance found, or it is shorter than a centimetre.
    """
    tparts = shapely.get_parts(target)
    txy, tpart = shapely.get_coordinates(tparts, return_index=True)
    same = tpart[1:] == tpart[:-1]
    segments = shapely.linestrings(np.stack([txy[:-1][same], txy[1:][same]], axis=1))
    tree = shapely.STRtree(segments)

    def nearest(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (point, seg), d = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
        out_d, out_seg = np.empty(len(xy)), np.empty(len(xy), dtype=int)
        out_d[point], out_seg[point] = d, seg
        return out_d, out_seg

    def to_segment(xy: np.ndarray, seg: np.ndarray) -> np.ndarray:
        return shapely.distance(shapely.points(xy), segments[seg])

    xy, part = shapely.get_coordinates(shapely.get_parts(source), return_index=True)
    d, seg = nearest(xy)
    k = int(np.argmax(d))
    best, where = float(d[k]), xy[k]
    pair = part[1:] == part[:-1]
    a, b, da, db, sa, sb = xy[:-1][pair], xy[1:][pair], d[:-1][pair], d[1:][pair], seg[:-1][pair], seg[1:][pair]
    for _level in range(40):
        bound = np.minimum(np.maximum(da, to_segment(b, sa)), np.maximum(to_segment(a, sb), db))
        open_ = (bound > max(tolerance_m, best) + 0.001) & (np.hypot(*(b - a).T) > 0.01)
        if not open_.any():
            break
        a, b, da, db, sa, sb = a[open_], b[open_], da[open_], db[open_], sa[open_], sb[open_]
        m = (a + b) / 2
        dm, sm = nearest(m)
        k = int(np.argmax(dm))
        if dm[k] > best:
            best, where = float(dm[k]), m[k]
        a, b = np.concatenate([a, m]), np.concatenate([m, b])
        da, db = np.concatenate([da, dm]), np.concatenate([dm, db])
        sa, sb = np.concatenate([sa, sm]), np.concatenate([sm, sb])
    return best, where


def _deviation(ga, gb, tolerance_m: float) -> tuple[float, np.ndarray]:
    """The Hausdorff distance of two metric lines and the point where it is reached (metres, x/y)."""
    return max(_farthest(ga, gb, tolerance_m), _farthest(gb, ga, tolerance_m), key=lambda found: found[0])


def boundary_deviation_m(a, b, tolerance_m: float = 5.0) -> float:
    """The deviation ``line.neighbor_mismatch`` measures between two versions of one boundary (EPSG:4490
    geometries, or arrays of them for a boundary in several features): the largest distance from any
    point of either to the other (Hausdorff distance, gaps inside a segment included), in metres, in the
    Gauss-Krüger zone of ``a``. Exact where it matters: certified to within ``tolerance_m``'s decision."""
    a, b = np.atleast_1d(np.asarray(a, dtype=object)), np.atleast_1d(np.asarray(b, dtype=object))
    epsg = int(zone_epsg(a[:1])[0])
    ga, gb = MetricCache(a).get(np.arange(len(a)), epsg), MetricCache(b).get(np.arange(len(b)), epsg)
    return _deviation(ga, gb, tolerance_m)[0]


def _stretches(source, target, tolerance_m: float) -> list[tuple[float, float, float, np.ndarray]]:
    """Stretches of ``source`` (metric parts) farther than ``tolerance_m`` from ``target``: (start and end
    along ``source`` in metres, largest deviation, its point). Sampled every ``tolerance_m / 5`` (at least
    1 m) to find the stretches; each stretch's largest deviation is then certified by :func:`_farthest`."""
    step = max(1.0, tolerance_m / 5)
    txy, tpart = shapely.get_coordinates(shapely.get_parts(target), return_index=True)
    same = tpart[1:] == tpart[:-1]
    segments = shapely.linestrings(np.stack([txy[:-1][same], txy[1:][same]], axis=1))
    tree = shapely.STRtree(segments)
    out, offset = [], 0.0
    for part in shapely.get_parts(source):
        xy, d = _samples(shapely.get_coordinates(part), segments, tree, step, tolerance_m)
        along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
        far = np.r_[False, d > tolerance_m, False]
        starts, ends = np.flatnonzero(far[1:] & ~far[:-1]), np.flatnonzero(~far[1:] & far[:-1])
        for s, e in zip(starts, ends, strict=True):
            lo, hi = along[max(s - 1, 0)], along[min(e, len(xy) - 1)]
            piece = shapely.ops.substring(part, lo, hi)
            best, where = _farthest(piece, target, tolerance_m)
            if best > tolerance_m:
                out.append((offset + along[s], offset + along[e - 1], best, where))
        offset += float(shapely.length(part))
    return out


def _samples(xy: np.ndarray, segments: np.ndarray, tree: shapely.STRtree, step: float, tolerance_m: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` metres along the line ``xy`` where it may be farther than ``tolerance_m`` from
    the ``segments`` of the other version (indexed by ``tree``), its vertices elsewhere; each point's
    distance to them. A segment whose certified bound (:func:`_farthest`) is within the tolerance cannot
    hold a deviating stretch and is not sampled: the stretches are those of sampling every segment, but
    the work is that of the deviating segments (sampling all of a 500 km line every metre took seconds)."""
    def nearest(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (point, seg), dist = tree.query_nearest(shapely.points(points), return_distance=True, all_matches=False)
        out_d, out_seg = np.empty(len(points)), np.empty(len(points), dtype=int)
        out_d[point], out_seg[point] = dist, seg
        return out_d, out_seg

    d, seg = nearest(xy)
    a, b = xy[:-1], xy[1:]
    with np.errstate(invalid="ignore"):
        bound = np.minimum(np.maximum(d[:-1], shapely.distance(shapely.points(b), segments[seg[:-1]])),
                           np.maximum(shapely.distance(shapely.points(a), segments[seg[1:]]), d[1:]))
    open_ = np.flatnonzero(~(bound <= tolerance_m))
    if not len(open_):
        return xy, d
    # each segment's first vertex, and the open ones cut as shapely.segmentize would (equal pieces <= step)
    pieces = np.ones(len(a), dtype=int)
    pieces[open_] = np.maximum(1, np.ceil(np.hypot(*(b[open_] - a[open_]).T) / step).astype(int))
    seg_of = np.repeat(np.arange(len(a)), pieces)
    t = (np.arange(len(seg_of)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) / pieces[seg_of]
    points = np.r_[a[seg_of] + t[:, None] * (b[seg_of] - a[seg_of]), xy[-1:]]
    dist = np.r_[d[:-1][seg_of], d[-1:]]
    inner = np.flatnonzero(np.r_[t > 0, False])
    dist[inner] = nearest(points[inner])[0]
    return points, dist


def _merged(stretches: list) -> list:
    """Stretches (found from either version) that overlap or lie less than ``_AGREE_M`` apart as one (a
    bump wavering about the tolerance is one defect): the union of their extents, the larger deviation
    and its point, and the longest stretch of the stored version among them (metres; 0 for stretches
    found on the submitted line)."""
    out: list = []
    for a, b, best, where, stored_m in sorted(stretches, key=lambda s: s[0]):
        if out and a <= out[-1][1] + _AGREE_M:
            pa, pb, pbest, pwhere, pstored = out[-1]
            out[-1] = (pa, max(pb, b), max(pbest, best), pwhere if pbest >= best else where, max(pstored, stored_m))
        else:
            out.append((a, b, best, where, stored_m))
    return out


def _counterparts(view, mine: np.ndarray, theirs: np.ndarray, epsg: int, loose: np.ndarray | None = None
                  ) -> dict[int, list]:
    """The stored parts (metric) matched to each submitted feature of one boundary: a stored feature
    with the id of submitted ones goes to those, else to all; each of its parts to the nearest of them
    (Hausdorff distance). ``loose``: submitted features whose codes are broken (``line.attribute``'s
    finding) that share a code with the boundary; they take part in the matching, and the stored parts
    nearest to one of them are its counterparts, left out of the result (that part's fault is its
    attributes, reported once, not its geometry)."""
    loose = np.zeros(0, dtype=int) if loose is None else np.setdiff1d(loose, mine)
    candidates = np.r_[mine, loose].astype(int)
    ids = view.frame["line_id"].to_numpy()
    ours = view.metric.get(candidates, epsg)
    out: dict[int, list] = {int(i): [] for i in candidates}
    for j, geometry in zip(theirs, view.metric.get(theirs, epsg), strict=True):
        same = np.flatnonzero(ids[candidates] == ids[j])
        pool = same if len(same) else np.arange(len(candidates))
        for part in shapely.get_parts(geometry):
            k = pool[0] if len(pool) == 1 else pool[int(np.argmin([_hausdorff(part, ours[n]) for n in pool]))]
            out[int(candidates[k])].append(part)
    return {i: parts for i, parts in out.items() if i in set(mine.tolist())}


def _hausdorff(a, b) -> float:
    """The discrete Hausdorff distance of two metric lines: the largest distance from a vertex of either
    to the other line, as GEOS's ``hausdorff_distance`` computes it, but through an index of segments
    (:func:`_farthest` with no refinement): n log m instead of GEOS's n × m, which took seconds a pair on
    provincial lines of thousands of vertices."""
    return max(_farthest(a, b, np.inf)[0], _farthest(b, a, np.inf)[0])


def _deviating(view, i: int, mine: np.ndarray, theirs: np.ndarray, tolerance_m: float, loose: np.ndarray):
    """Deviating stretches of submitted line ``i`` against the stored versions ``theirs`` of its boundary
    (``mine``: the submission's features of it; ``loose``: its features with broken codes, see
    :func:`_counterparts`), in ``i``'s zone: ``i`` against all stored parts, and the stored parts matched
    to ``i`` against all submitted ones (a split boundary compares part with part)."""
    epsg = int(view.metric.zone[i])
    own = view.metric.get(np.array([i]), epsg)[0]
    stored_parts = view.metric.get(theirs, epsg)
    submitted = view.metric.get(np.r_[mine, loose].astype(int), epsg)
    if _farthest(own, stored_parts, tolerance_m)[0] <= tolerance_m:  # the common case: agreed at once
        matched = _counterparts(view, mine, theirs, epsg, loose)[i]
        if not matched or _farthest(np.array(matched), submitted, tolerance_m)[0] <= tolerance_m:
            return epsg, []
    found = [(*stretch, 0.0) for stretch in _stretches(own, stored_parts, tolerance_m)]
    for part in _counterparts(view, mine, theirs, epsg, loose)[i]:
        for a, b, best, where in _stretches(part, submitted, tolerance_m):
            ends = shapely.line_locate_point(own, shapely.points(shapely.get_coordinates(
                shapely.line_interpolate_point(part, [a, b]))))
            found.append((float(min(ends)), float(max(ends)), best, where, float(b - a)))
    return epsg, _merged(found)


def deviating_stretches(new, old, tolerance_m: float = 5.0) -> tuple[int, list[dict]]:
    """Where two versions of one line (EPSG:4490 geometries) differ by more than ``tolerance_m``, found as
    ``line.neighbor_mismatch`` finds them (:func:`_stretches` both ways, :func:`_merged`), in the
    Gauss-Krüger zone of ``new``: the zone's EPSG code and, per stretch, where it starts and ends along
    ``new`` (metres), its largest deviation (metres, certified as the rule's) and where (lon, lat), and the
    longest stretch of ``old`` in it (metres; where ``old`` runs on beyond ``new``). The change report's
    measure of a changed line (issue 15)."""
    new = np.atleast_1d(np.asarray(new, dtype=object))
    old = np.atleast_1d(np.asarray(old, dtype=object))
    epsg = int(zone_epsg(new[:1])[0])
    own = shapely.multilinestrings(shapely.get_parts(MetricCache(new).get(np.arange(len(new)), epsg)))
    theirs = MetricCache(old).get(np.arange(len(old)), epsg)
    found = [(*stretch, 0.0) for stretch in _stretches(own, theirs, tolerance_m)]
    for part in shapely.get_parts(theirs):
        for a, b, best, where in _stretches(part, own, tolerance_m):
            ends = shapely.line_locate_point(own, shapely.points(shapely.get_coordinates(
                shapely.line_interpolate_point(part, [a, b]))))
            found.append((float(min(ends)), float(max(ends)), best, where, float(b - a)))
    out = []
    for a, b, distance, xy, old_m in _merged(found):
        lon, lat = to_lonlat(xy, epsg)[0]
        out.append({"from_m": float(a), "to_m": float(b), "length_m": float(b - a), "deviation_m": float(distance),
                    "lon": float(lon), "lat": float(lat), "old_m": float(old_m)})
    return epsg, out


@rule("line.neighbor_mismatch", severity="error", layer="lines",
      description="同一界线（两侧代码相同）与邻省已入库版本偏差超过 5 m",
      description_en="the same boundary (same two codes) already stored from the neighbour, deviating by more than 5 m",
      tolerance_m=5.0)
def neighbor_mismatch(ctx: CheckContext, params: dict) -> Iterator[Issue]:
    """Stretches of submitted lines that deviate more than ``tolerance_m`` (5 m) from the neighbour's
    stored version of the same boundary (same two codes, either order, stored by another province): one
    issue per stretch, at its largest deviation, with where it starts and ends along the line. A boundary
    in several features (parts, enclave rings) is compared part with matched part (:func:`_deviating`); a
    feature of it whose codes are broken is matched too, and only ``line.attribute`` reports it."""
    ws = workspace(ctx)
    view = ws.lines
    valid = _valid(ws)
    keys = view.frame["key"].to_numpy()
    province = view.frame["province"].to_numpy()
    stored = np.arange(view.n_submitted, len(view.frame))
    stored = stored[~shapely.is_empty(view.geometries[stored])]
    tolerance = params["tolerance_m"]
    # only lines whose boundary another province has stored can deviate from it
    neighbours = stored[province[stored] != ctx.submission.province]
    candidates = valid[pd.Series(keys[valid]).isin(set(keys[neighbours]) - {None}).to_numpy()]
    for i in candidates:
        if keys[i] is None:
            continue
        theirs = stored[(keys[stored] == keys[i]) & (province[stored] != ctx.submission.province)]
        if not len(theirs):
            continue
        mine = valid[keys[valid] == keys[i]]
        # features of the boundary whose codes are broken (line.attribute) still hold their stretch of it
        broken = valid[~view.sound(valid)]
        loose = broken[view.version_of(broken, np.full(len(broken), theirs[0]))] if len(broken) else broken
        others = sorted(set(province[theirs]))
        epsg, found = _deviating(view, int(i), mine, theirs, tolerance, loose)
        own = view.metric.get(np.array([i]), epsg)[0] if found else None
        for a, b, distance, xy, stored_m in found:
            where = to_lonlat(xy, epsg)[0]
            name = _name(ctx, int(i))
            by_zh, by_en = "、".join(others), ", ".join(others)
            if b - a < 1.0 <= stored_m:  # the stored version runs on where this line has ended (or a gap)
                issue = _issue("line.neighbor_mismatch", ctx, int(i), where,
                               f"界线 {name} 在第 {a / 1000:.3f} km 处：邻省 {by_zh} 已入库的同一界线在此多出 "
                               f"{fmt_m(stored_m)} m（本线没有这一段），最大偏差 {fmt_m(distance)} m"
                               f"（限值 {tolerance} m）",
                               f"line {name} at km {a / 1000:.3f}: the version of the same boundary stored by "
                               f"{by_en} runs on {fmt_m(stored_m)} m where this line has no such stretch, deviating "
                               f"up to {fmt_m(distance)} m (limit {tolerance} m)")
            else:
                issue = _issue("line.neighbor_mismatch", ctx, int(i), where,
                               f"界线 {name} 第 {a / 1000:.3f}–{b / 1000:.3f} km 段（长 {fmt_m(b - a)} m）与邻省 "
                               f"{by_zh} 已入库的同一界线最大偏差 {fmt_m(distance)} m（限值 {tolerance} m）",
                               f"line {name} deviates up to {fmt_m(distance)} m from the version of the same "
                               f"boundary stored by {by_en} from km {a / 1000:.3f} to km {b / 1000:.3f} "
                               f"({fmt_m(b - a)} m long; limit {tolerance} m)")
            issue.reach_m = float(distance)  # how far the stretch reaches: a cause within it explains it
            issue.stretch = (epsg, own, float(a), float(b))  # a cause on the stretch explains it too
            yield issue
