"""Shared metric helpers of the QA rules: Gauss-Krüger projection per feature, candidate pairs, parallel maps.

Rules measure in metres, never in degrees (SPEC §4). Each feature is measured in the 3° Gauss-Krüger
zone of its own longitude (:func:`boundaries.crs.metric_epsg`); a pair of features is measured in the zone
of the first one, so a line crossing a zone edge or a neighbour lying in the next zone is still measured
in one conformal plane whose scale error stays below 0.1 % that close to the central meridian.

Projections are computed once per feature and zone (:class:`MetricCache`), the lines' vertices once as
flat arrays (:class:`LineVertices`), and shared by every rule of a check through :func:`workspace`, which
also assembles the *whole picture* the rules see: the submission's lines and markers with the stored
current ones of the database that the submission does not supersede.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import shapely

from boundaries.crs import PARALLEL_POINTS, WORKERS, on_ranges, transformer, worker_transformer

#: A GB/T 2260 / statistical division code: 6, 9 or 12 digits (``line.attribute``'s test of a code).
_DIVISION_CODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")

__all__ = [
    "DEG_PER_M",
    "BackgroundRanges",
    "LinePieces",
    "LineVertices",
    "LineView",
    "MarkerView",
    "MetricCache",
    "Pending",
    "Workspace",
    "background",
    "division_prefix",
    "fmt_m",
    "index_mask",
    "line_pieces",
    "line_pieces_started",
    "line_vertices",
    "nearest_line_m",
    "pair_key",
    "pair_keys",
    "parallel",
    "parallel_ranges",
    "project_xy",
    "result_here",
    "slots",
    "to_lonlat",
    "unique_indices",
    "workspace",
    "zone_epsg",
]

#: Degrees per metre, conservative: a metre spans at most this many degrees of longitude up to 55°N, so a
#: search radius of ``d * DEG_PER_M`` degrees finds every feature within ``d`` metres.
DEG_PER_M = 1.0 / (111_320.0 * np.cos(np.radians(55.0)))

_POOLS: dict[str, ThreadPoolExecutor] = {}
#: Vertices per piece when lines are cut for distance queries (see :class:`LinePieces`).
PIECE_VERTICES = 64
#: Extra search radius for piece queries made in degrees: a chord's straight course in degrees and in a
#: Gauss-Krüger plane part by at most L²·tanφ/8R, under 2 km for any chord shorter than ~300 km. Each
#: piece's box is grown by its own bound instead (:class:`LinePieces`), at most this much.
PIECE_MARGIN_M = 2000.0
#: Earth radius (m), tan 55° (the northernmost latitude DEG_PER_M allows for) and an upper bound of the
#: metres in a degree of latitude or longitude: the terms of the bend bound above.
_EARTH_M, _TAN_MAX_LAT, _M_PER_DEG_MAX = 6_371_000.0, float(np.tan(np.radians(55.0))), 111_700.0
#: Margin of the first, tight search: near a point, chords bend by centimetres between projections.
_TIGHT_MARGIN_M = 50.0
#: Vertices per block of the vectorised passes over every vertex (a block's temporaries fit in the cache).
BLOCK = 1 << 15
#: Below this many items a thread hand-off costs more than it saves.
_PARALLEL_MIN = 2_000


def _pool() -> ThreadPoolExecutor:
    """The threads of :func:`background`: apart from those of :func:`boundaries.crs.on_ranges` (which
    :func:`parallel`, :func:`parallel_ranges` and :func:`project_xy` use), so that a map never queues behind
    long background work."""
    if "background" not in _POOLS:
        _POOLS["background"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quhua-background")
    return _POOLS["background"]


def background(func: Callable, *args):
    """Start ``func(*args)`` on another core now; the returned future's ``result()`` waits for it.

    For GEOS work (which releases the GIL) that can overlap with the rules running on this thread. The
    background is one thread: with the rules' own thread that is one per core, so neither starves the other
    (with two background threads the rules' thread ran at two thirds of a core while they ran: 0.17 s for
    line.attribute's 0.06 s of CPU on the county network)."""
    return _pool().submit(func, *args)


def result_here(future, func: Callable, *args):
    """``future.result()`` of ``background(func, *args)``, or ``func(*args)`` on this thread when the
    background has not started it yet (busy with other work): no wait behind a queue."""
    return func(*args) if future.cancel() else future.result()


class Pending:
    """``finish()``, computed when first asked for (``result()``, as a future's) and kept."""

    def __init__(self, finish: Callable[[], object]):
        self._finish, self._done, self._value = finish, False, None

    def result(self):
        if not self._done:
            self._value, self._done = self._finish(), True
        return self._value


class BackgroundRanges:
    """``func(lo, hi)`` over ``pieces`` equal ranges of ``0 … n``, queued one by one on the background thread;
    :meth:`result` runs the ranges not started by then on the asking thread (the last first, while the
    background goes on from the first) and waits for the others: the parts concatenated in order, the values
    of ``func(0, n)`` for work whose items are independent (a GEOS predicate over an array). A rule waiting
    for background work so shares it instead of idling while one core does it alone."""

    def __init__(self, func: Callable[[int, int], np.ndarray], n: int, pieces: int):
        cuts = np.linspace(0, n, max(1, pieces) + 1).astype(int).tolist()
        self._func, self._ranges = func, list(itertools.pairwise(cuts))
        self._futures = [_pool().submit(func, lo, hi) for lo, hi in self._ranges]
        self._value: np.ndarray | None = None

    def result(self) -> np.ndarray:
        if self._value is None:
            parts: list = [None] * len(self._ranges)
            for k in reversed(range(len(self._ranges))):
                if self._futures[k].cancel():  # not started: here and now
                    parts[k] = self._func(*self._ranges[k])
            for k, future in enumerate(self._futures):
                if parts[k] is None:
                    parts[k] = future.result()
            self._value = np.concatenate(parts)
        return self._value


def _pieces(n: int) -> int:
    """How many ranges :func:`parallel` and :func:`parallel_ranges` cut ``n`` items into: one per core, or
    one below :data:`_PARALLEL_MIN`."""
    return 1 if n < _PARALLEL_MIN else WORKERS


def parallel(func: Callable[..., np.ndarray], *arrays: np.ndarray, **kwargs) -> np.ndarray:
    """``func(*arrays, **kwargs)`` over equal chunks on every core, concatenated.

    Shapely 2 and numpy release the GIL inside their vectorised calls, so threads use both cores without
    copying geometries between processes.

    >>> parallel(np.add, np.arange(5), np.ones(5)).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    n = len(arrays[0])
    if _pieces(n) == 1:
        return func(*arrays, **kwargs)
    return np.concatenate(on_ranges(lambda _slot, lo, hi: func(*(a[lo:hi] for a in arrays), **kwargs), n,
                                    _pieces(n)))


def parallel_ranges(func: Callable[[int, int], np.ndarray], n: int) -> np.ndarray:
    """``func(lo, hi)`` over equal ranges of ``0 … n`` on every core, concatenated (for work on slices of
    arrays that ``func`` reaches itself).

    >>> parallel_ranges(lambda lo, hi: np.arange(lo, hi) * 2, 5).tolist()
    [0, 2, 4, 6, 8]
    """
    if _pieces(n) == 1:
        return func(0, n)
    return np.concatenate(on_ranges(lambda _slot, lo, hi: func(lo, hi), n, _pieces(n)))


def index_mask(index: np.ndarray, size: int) -> np.ndarray:
    """A mask of ``size`` that is True at ``index``: ``index_mask(members, n)[values]`` is
    ``np.isin(values, members)`` for indices into ``0 … n-1``, linear where ``np.isin`` sorts.

    >>> index_mask(np.array([3, 1]), 5).tolist()
    [False, True, False, True, False]
    """
    mask = np.zeros(size, dtype=bool)
    mask[index] = True
    return mask


def per_distinct(test: Callable[[object], bool], distinct, codes: np.ndarray) -> np.ndarray:
    """``test`` of each row, called once per distinct value: ``codes, distinct = pd.factorize(values)``
    (a column's codes, ids and letters recur row after row); a missing value (code -1) is False.

    >>> codes, distinct = pd.factorize(np.array(["360100", None, "110000", "360100"], dtype=object))
    >>> per_distinct(lambda code: code.startswith("36"), distinct, codes).tolist()
    [True, False, False, True]
    """
    return np.r_[np.fromiter(map(test, distinct), dtype=bool, count=len(distinct)), False][codes]


def unique_indices(index: np.ndarray, size: int) -> np.ndarray:
    """``np.unique(index)`` for indices into ``0 … size-1``: by marking a mask (linear) when ``index`` is
    long, by sorting when it is short next to ``size`` (a mask of ``size`` would cost more).

    >>> unique_indices(np.array([3, 1, 3, 0]), 5).tolist()
    [0, 1, 3]
    """
    if len(index) * 8 < size:
        return np.unique(index)
    mark = np.zeros(size, dtype=bool)
    mark[index] = True
    return np.flatnonzero(mark)


def zone_epsg(geometries: np.ndarray) -> np.ndarray:
    """The metric EPSG code (3° Gauss-Krüger zone) of each geometry, from the centre of its extent.

    Empty or non-finite geometries get the zone of 105°E so that they can still be carried along.
    """
    bounds = shapely.bounds(geometries)
    lon = (bounds[:, 0] + bounds[:, 2]) / 2.0
    lon = np.where(np.isfinite(lon), lon, 105.0)
    zones = np.clip(np.round(lon / 3.0), 25, 45).astype(int)
    return 4534 + zones - 25


def _project(geometries: np.ndarray, epsg: int, inverse: bool = False) -> np.ndarray:
    forward = transformer(epsg, 4490) if inverse else transformer(4490, epsg)

    def apply(xy: np.ndarray) -> np.ndarray:
        x, y = forward.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    with np.errstate(invalid="ignore"):
        # plain points (markers, line ends) are projected as coordinates and made anew: shapely.transform
        # copies each geometry and writes its coordinates back, several times the work; the same values
        point = (shapely.get_type_id(geometries) == 0) & ~shapely.is_empty(geometries) & ~shapely.has_z(geometries)
        if not point.any():
            return shapely.transform(geometries, apply)
        out = np.empty(len(geometries), dtype=object)
        out[point] = shapely.points(apply(shapely.get_coordinates(geometries[point])))
        out[~point] = shapely.transform(geometries[~point], apply)
        return out


def project_xy(lonlat: np.ndarray, runs: np.ndarray, epsg: np.ndarray, *, into: np.ndarray | None = None
               ) -> np.ndarray:
    """(lon, lat) rows into Gauss-Krüger zones: rows ``runs[k] … runs[k + 1] - 1`` into zone ``epsg[k]``.

    Made for vertices, whose rows of one zone come in runs (a line's vertices are consecutive): the result
    is a column-major copy of ``lonlat`` (each column contiguous, as the rules read it) that pyproj
    projects in place run by run, with no geometry built, nothing gathered or scattered. ``into``: a
    row-major float array of ``lonlat``'s shape that the caller gives up, whose memory then holds the
    result (a row-major (n, 2) array's memory holds a column-major one as well): an array of millions of
    rows is new memory otherwise, whose first writes cost several times the copy itself. PROJ releases
    the GIL: from :data:`boundaries.crs.PARALLEL_POINTS` rows on, the rows are cut into one range per
    core, each projected on a thread by a transformer of its own (as :func:`boundaries.crs.project` does;
    the same figures), this thread doing the first.

    >>> project_xy(np.array([[114.5, 29.3], [111.0, 29.3]]), np.array([0, 1, 2]), np.array([4547, 4546])
    ...            ).round(3).tolist()
    [[548578.435, 3242624.53], [500000.0, 3242520.797]]
    """
    if into is not None and into.shape == lonlat.shape and into.dtype == float and into.flags.c_contiguous:
        out = into.reshape(-1).reshape(2, -1).T  # the same memory, read as columns
        np.copyto(out, lonlat)
    else:
        out = np.array(lonlat, dtype=float, order="F")
    spans = list(zip(runs[:-1].tolist(), runs[1:].tolist(), epsg.tolist(), strict=True))

    def project(slot: int, lo: int, hi: int) -> None:
        with np.errstate(invalid="ignore"):
            for a, b, code in spans:
                a, b = max(a, lo), min(b, hi)
                if a < b:
                    project_with = transformer(4490, int(code)) if slot == 0 else \
                        worker_transformer(4490, int(code), slot)
                    project_with.transform(out[a:b, 0], out[a:b, 1], inplace=True)

    on_ranges(project, len(out), max(1, len(out) // PARALLEL_POINTS))
    return out


def to_lonlat(xy: np.ndarray, epsg: int) -> np.ndarray:
    """Coordinates (easting, northing) of zone ``epsg`` back to (lon, lat) in EPSG:4490."""
    xy = np.atleast_2d(np.asarray(xy, dtype=float))
    lon, lat = transformer(epsg, 4490).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


class MetricCache:
    """Geometries in EPSG:4490 and their Gauss-Krüger projections, each computed once per zone.

    ``zone[i]`` is feature ``i``'s own zone; :meth:`get` projects features into any zone on demand.
    """

    def __init__(self, geometries: np.ndarray):
        self.geometries = np.asarray(geometries, dtype=object)
        self.zone = zone_epsg(self.geometries) if len(self.geometries) else np.zeros(0, dtype=int)
        self._projected: dict[int, np.ndarray] = {}
        self._done: dict[int, np.ndarray] = {}

    def get(self, index: np.ndarray, epsg: int) -> np.ndarray:
        """Features ``index`` projected into zone ``epsg`` (computed for those not projected yet)."""
        index = np.asarray(index, dtype=int)
        if epsg not in self._projected:
            self._projected[epsg] = np.empty(len(self.geometries), dtype=object)
            self._done[epsg] = np.zeros(len(self.geometries), dtype=bool)
        todo = unique_indices(index[~self._done[epsg][index]], len(self.geometries))
        if len(todo):
            self._projected[epsg][todo] = _project(self.geometries[todo], epsg)  # pyproj holds the GIL
            self._done[epsg][todo] = True
        return self._projected[epsg][index]


def pair_in_metric(first: MetricCache, i: np.ndarray, second: MetricCache, j: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(first[i], second[j])`` projected together into the zone of ``first[i]``; also the zones."""
    i, j = np.asarray(i, dtype=int), np.asarray(j, dtype=int)
    a = np.empty(len(i), dtype=object)
    b = np.empty(len(i), dtype=object)
    zones = first.zone[i] if len(i) else np.zeros(0, dtype=int)
    for epsg in np.unique(zones):
        mask = zones == epsg
        a[mask] = first.get(i[mask], int(epsg))
        b[mask] = second.get(j[mask], int(epsg))
    return a, b, zones


def pair_key(code_a, code_b) -> str | None:
    """The unordered pair of division codes that identifies a boundary (``'360000|430000'``)."""
    if not isinstance(code_a, str) or not isinstance(code_b, str) or not code_a or not code_b:
        return None
    return "|".join(sorted((code_a, code_b)))


def pair_keys(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """:func:`pair_key` of every row of two object arrays (each distinct code tested once).

    >>> pair_keys(np.array(["430000", None], dtype=object), np.array(["360000", "360000"], dtype=object)).tolist()
    ['360000|430000', None]
    """
    codes, distinct = pd.factorize(np.concatenate([left, right]))
    usable = np.fromiter((isinstance(c, str) and c != "" for c in distinct), dtype=bool, count=len(distinct))
    ok = np.r_[usable, False][codes]  # a missing value's code -1 picks the appended False
    n = len(left)
    both = np.flatnonzero(ok[:n] & ok[n:])
    out = np.full(n, None, dtype=object)
    a, b = left[both], right[both]
    first = a <= b
    out[both] = np.where(first, a, b) + "|" + np.where(first, b, a)
    return out


def division_prefix(code: str | None) -> str | None:
    """The significant prefix of a GB/T 2260 code: ``360000`` → ``36``, ``360100`` → ``3601``."""
    if not isinstance(code, str) or not code.isdigit():
        return None
    if len(code) == 6:
        for width in (2, 4):
            if code[width:] == "0" * (6 - width):
                return code[:width]
    return code.rstrip("0") if len(code) > 6 and code[6:].strip("0") == "" else code


def fmt_m(metres: float) -> str:
    """A distance for a message: three significant decimals below 1 m, one above."""
    return f"{metres:.3f}" if metres < 1 else f"{metres:.1f}"


@dataclass
class LineView:
    """Submitted lines (``0 … n_submitted-1``) followed by the stored lines they do not supersede."""

    frame: pd.DataFrame  # line_id, left_code, right_code, province, stored, key, source_file, source_row
    metric: MetricCache
    n_submitted: int
    _tree: shapely.STRtree | None = field(default=None, repr=False)

    @property
    def geometries(self) -> np.ndarray:
        return self.metric.geometries

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.geometries)
        return self._tree

    @cached_property
    def _codes(self) -> dict[str, np.ndarray]:
        """The frame's key, id, province and both division codes as integers (-1 for a missing value), one
        code space for left and right: comparing integers costs a fraction of comparing strings; and
        ``sound``: whether a line's codes are two different well-formed division codes."""
        frame = self.frame
        sides, distinct = pd.factorize(np.concatenate([frame["left_code"].to_numpy(dtype=object),
                                                       frame["right_code"].to_numpy(dtype=object)]))
        n = len(frame)
        well_formed = np.fromiter((isinstance(c, str) and bool(_DIVISION_CODE.match(c)) for c in distinct),
                                  dtype=bool, count=len(distinct))
        formed = np.r_[well_formed, False][sides]  # a missing code (-1) picks the appended False
        return {"key": pd.factorize(frame["key"].to_numpy(dtype=object))[0],
                "sound": formed[:n] & formed[n:] & (sides[:n] != sides[n:]),
                "id": pd.factorize(frame["line_id"].to_numpy(dtype=object))[0],
                "province": pd.factorize(frame["province"].to_numpy(dtype=object))[0],
                "left": sides[:n], "right": sides[n:]}

    def sound(self, i: np.ndarray) -> np.ndarray:
        """Whether lines ``i`` have two different well-formed division codes (else ``line.attribute``'s)."""
        return self._codes["sound"][i]

    def version_of(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """True where lines ``i`` and ``j`` are versions of one boundary: the same two codes; or the same id
        from the same submitter, or with a code in common (a version whose other code is mistyped is
        ``line.attribute``'s finding, not an overlap along its whole length); or, where one of the two has
        codes that are no pair of two well-formed division codes (missing, malformed or equal: a
        ``line.attribute`` finding), a code in common, whatever its id (a split part that lost a code and
        got another id is the same boundary with wrong attributes, reported once, for its attributes)."""
        c = self._codes
        i, j = np.asarray(i), np.asarray(j)
        key_i = c["key"][i]
        same_key = (key_i == c["key"][j]) & (key_i >= 0)
        rest = np.flatnonzero(~same_key)
        if len(rest) < len(same_key):  # the other tests only for the pairs that are not one boundary's already
            same_key[rest] = self.version_of(i[rest], j[rest])
            return same_key
        left_i, right_i, left_j, right_j = c["left"][i], c["right"][i], c["left"][j], c["right"][j]
        shared_code = (((left_i >= 0) & ((left_i == left_j) | (left_i == right_j)))
                       | ((right_i >= 0) & ((right_i == left_j) | (right_i == right_j))))
        id_i = c["id"][i]
        same_id = (id_i == c["id"][j]) & (id_i >= 0) & ((c["province"][i] == c["province"][j]) | shared_code)
        unsound = ~c["sound"][i] | ~c["sound"][j]
        return same_key | same_id | (unsound & shared_code)


@dataclass
class MarkerView:
    """Submitted markers followed by the stored markers they do not supersede (as :class:`LineView`)."""

    frame: pd.DataFrame
    metric: MetricCache
    n_submitted: int

    @property
    def geometries(self) -> np.ndarray:
        return self.metric.geometries


@dataclass
class LineVertices:
    """Every vertex of the view's line geometries, flat: taken apart once, projected once, for every rule.

    The line parts are numbered in the order of their lines: ``part_line`` is the LineView index of each,
    ``offset`` where each one's vertices start (and, last, how many vertices there are); ``lonlat`` and
    ``xy`` each vertex in degrees and in its line's own Gauss-Krüger zone; ``part`` the part of each vertex.
    Lines that are missing or not lines have no parts here. ``xy`` is projected when first asked for
    (``projection``: the rows' zones as :func:`project_xy` takes them, and the memory to write into), so
    that what needs only the degrees (the geometry test, the background's pre-test of line pairs) does not
    wait for it.
    """

    part_line: np.ndarray
    offset: np.ndarray
    lonlat: np.ndarray
    part: np.ndarray
    projection: tuple | None = field(default=None, repr=False)

    @cached_property
    def xy(self) -> np.ndarray:
        """Each vertex in its line's own Gauss-Krüger zone (metres), column-major."""
        runs, zones, into = self.projection
        self.projection = None  # the memory written into is the result's now
        return project_xy(self.lonlat, runs, zones, into=into)

    @cached_property
    def line(self) -> np.ndarray:
        """The LineView index of each vertex."""
        return self.part_line[self.part]

    @cached_property
    def step(self) -> np.ndarray:
        """Metres from each vertex's predecessor in its part (0 at the first vertex of every part)."""
        x, y = self.xy[:, 0], self.xy[:, 1]
        step = np.empty(len(x))
        step[:1] = 0.0

        def fill(_slot: int, start: int, stop: int) -> None:
            # block by block, so that the differences stay in the processor's cache instead of making two
            # temporaries of every vertex; written into ``step`` in place (nothing to concatenate)
            for lo in range(max(start, 1), stop, BLOCK):
                hi = min(lo + BLOCK, stop)
                np.hypot(x[lo:hi] - x[lo - 1:hi - 1], y[lo:hi] - y[lo - 1:hi - 1], out=step[lo:hi])

        # on every core (numpy releases the GIL in hypot): the same values, each vertex computed as before
        on_ranges(fill, len(x), _pieces(len(x)))
        first = self.part_first
        step[first[first < len(x)]] = 0.0
        return step

    @property
    def part_first(self) -> np.ndarray:
        """The index of each part's first vertex (of the next vertex for a part without any)."""
        return self.offset[:-1]

    @cached_property
    def closed(self) -> np.ndarray:
        """Whether each part is closed, as ``shapely.is_closed`` decides it (GEOS: not empty, its first and
        last vertices equal in x and y), from the vertices: no part geometry is built."""
        first, last = self.offset[:-1], self.offset[1:] - 1
        ok = last >= first
        first, last = first[ok], last[ok]
        closed = np.zeros(len(self.part_line), dtype=bool)
        lon, lat = self.lonlat[:, 0], self.lonlat[:, 1]
        closed[ok] = (lon[first] == lon[last]) & (lat[first] == lat[last])
        return closed


@dataclass
class Workspace:
    """What every rule of one check shares: the line and marker views and memoised results."""

    lines: LineView
    markers: MarkerView
    memo: dict = field(default_factory=dict)

    def once(self, key, compute: Callable[[], object]):
        """``compute()`` the first time ``key`` is asked for, the memoised value afterwards."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


def _keep_stored(stored: pd.DataFrame, province: str, ids: Sequence[str], column: str,
                 line_ids: Sequence[str] = ()) -> np.ndarray:
    """Stored rows not superseded by this submission (the store supersedes the submitter's own rows of
    the same ids, and the markers of its resubmitted lines)."""
    if not len(stored):
        return np.zeros(0, dtype=bool)
    own = stored["province"].astype(str).to_numpy() == province
    replaced = stored[column].isin(set(ids)).to_numpy()
    if line_ids and column == "marker_id":
        replaced = replaced | stored["line_id"].isin(set(line_ids)).to_numpy()
    return ~(own & replaced)


def _line_view(ctx) -> LineView:
    sub = ctx.submission
    submitted = pd.DataFrame({
        "line_id": sub.lines["line_id"].to_numpy(dtype=object),
        "left_code": sub.lines["left_code"].to_numpy(dtype=object),
        "right_code": sub.lines["right_code"].to_numpy(dtype=object),
        "province": sub.province, "stored": False,
        "source_file": sub.lines.get("source_file", pd.Series([None] * len(sub.lines))).to_numpy(dtype=object),
    })
    stored = ctx.stored_lines
    keep = _keep_stored(stored, sub.province, submitted["line_id"].dropna().tolist(), "line_id")
    stored = stored[keep] if len(stored) else stored
    stored_part = pd.DataFrame({
        "line_id": stored["line_id"].to_numpy(dtype=object) if len(stored) else [],
        "left_code": stored["left_code"].to_numpy(dtype=object) if len(stored) else [],
        "right_code": stored["right_code"].to_numpy(dtype=object) if len(stored) else [],
        "province": stored["province"].astype(str).to_numpy(dtype=object) if len(stored) else [],
        "stored": True, "source_file": None,
    })
    frame = pd.concat([submitted, stored_part], ignore_index=True) if len(stored_part) else submitted
    frame["key"] = pair_keys(frame["left_code"].to_numpy(dtype=object), frame["right_code"].to_numpy(dtype=object))
    geometries = np.concatenate([np.asarray(sub.lines.geometry.values, dtype=object),
                                 np.asarray(stored.geometry.values, dtype=object) if len(stored) else
                                 np.empty(0, dtype=object)])
    return LineView(frame, MetricCache(geometries), len(submitted))


def _marker_view(ctx) -> MarkerView:
    sub = ctx.submission
    markers = sub.markers
    submitted = pd.DataFrame({
        "marker_id": markers["marker_id"].to_numpy(dtype=object),
        "marker_type": markers["marker_type"].to_numpy(dtype=object),
        "line_id": markers["line_id"].to_numpy(dtype=object),
        "province": sub.province, "stored": False,
    })
    stored = ctx.stored_markers
    keep = _keep_stored(stored, sub.province, submitted["marker_id"].dropna().tolist(), "marker_id",
                        sub.lines["line_id"].dropna().tolist())
    stored = stored[keep] if len(stored) else stored
    if len(stored):
        stored_part = pd.DataFrame({c: stored[c].to_numpy(dtype=object) for c in ("marker_id", "marker_type",
                                                                                 "line_id")})
        stored_part["province"] = stored["province"].astype(str).to_numpy(dtype=object)
        stored_part["stored"] = True
        frame = pd.concat([submitted, stored_part], ignore_index=True)
        geometries = np.concatenate([np.asarray(markers.geometry.values, dtype=object),
                                     np.asarray(stored.geometry.values, dtype=object)])
    else:
        frame, geometries = submitted, np.asarray(markers.geometry.values, dtype=object)
    return MarkerView(frame, MetricCache(geometries), len(submitted))


def workspace(ctx) -> Workspace:
    """The :class:`Workspace` of a check, built on first use and kept on the context for the other rules."""
    cached = vars(ctx).get("_quhua_workspace")
    if cached is None:
        cached = Workspace(_line_view(ctx), _marker_view(ctx))
        vars(ctx)["_quhua_workspace"] = cached
    return cached


class LinePieces:
    """The lines of a :class:`LineView` cut into pieces of at most :data:`PIECE_VERTICES` vertices.

    A point's distance to a line of thousands of vertices costs a pass over all of them; a spatial index of
    short pieces (their bounding boxes) finds the few that can be nearest, and only those are built and
    measured, in the Gauss-Krüger zone where the data's straight segments are straight (a 10 km chord
    straight in degrees bows about a metre away from the same chord straight in the zone). A piece is a
    range of its line's vertices: cutting copies nothing.
    """

    def __init__(self, ws: Workspace, usable: np.ndarray):
        view = ws.lines
        # pieces index the vertices of every line; those of lines not ``usable`` are left out (cutting
        # and copying the vertices instead would cost a pass over all of them)
        vertices = line_vertices(ws)
        self.xy, self.projected = vertices.lonlat, vertices.xy
        wanted = np.flatnonzero(index_mask(usable, len(view.frame))[vertices.part_line])
        first, last = vertices.offset[wanted], vertices.offset[wanted + 1] - 1
        step = PIECE_VERTICES - 1
        count = np.maximum(1, -(-(last - first) // step))
        piece_part = np.repeat(wanted, count)
        within = slots(np.zeros(len(count), dtype=int), count)  # 0 … count-1 per part
        self.start = np.repeat(first, count) + step * within
        self.end = np.minimum(self.start + step, np.repeat(last, count))
        self.line = vertices.part_line[piece_part]
        self.zone = view.metric.zone[self.line]
        # each piece's box over its vertices start … end: reductions over [start, end) (the even slots of
        # reduceat over the interleaved bounds) and the end vertex; column by column, since a reduction
        # along the long axis of an (n, 2) array is several times slower
        lon, lat = np.ascontiguousarray(self.xy[:, 0]), np.ascontiguousarray(self.xy[:, 1])
        bounds = np.column_stack([self.start, self.end]).ravel()

        def reduce(ufunc, values):
            return ufunc(ufunc.reduceat(values, bounds)[::2], values[self.end]) if len(bounds) else values[:0]

        west, south = reduce(np.minimum, lon), reduce(np.minimum, lat)
        east, north = reduce(np.maximum, lon), reduce(np.maximum, lat)
        # each box grown by how far its piece, straight in a Gauss-Krüger plane, can bow out of it: four
        # times L²·tan 55°/8R for L the box's diagonal (no segment of the piece is longer), at most
        # PIECE_MARGIN_M. A network digitised in short steps needs centimetres, not the 2 km a 300 km
        # chord needs: the searches then weigh ~9× fewer candidates for the same, exact minimum.
        diagonal_m = np.hypot(east - west, north - south) * _M_PER_DEG_MAX
        grow = np.minimum(PIECE_MARGIN_M, 4.0 * diagonal_m * diagonal_m * _TAN_MAX_LAT / (8.0 * _EARTH_M))
        grow *= DEG_PER_M
        self.tree = shapely.STRtree(shapely.box(west - grow, south - grow, east + grow, north + grow))
        self._built: dict[int, np.ndarray] = {}

    def _lines(self, coords: np.ndarray, pieces: np.ndarray) -> np.ndarray:
        lengths = self.end[pieces] - self.start[pieces] + 1
        return shapely.linestrings(coords[slots(self.start[pieces], lengths)],
                                   indices=np.repeat(np.arange(len(pieces)), lengths))

    def get(self, pieces: np.ndarray, epsg: int) -> np.ndarray:
        """Pieces as metric line strings in zone ``epsg``: cut from the projected lines where that is their
        line's zone, projected afresh otherwise; each built once."""
        built = self._built.setdefault(epsg, np.full(len(self.start), None, dtype=object))
        todo = unique_indices(pieces, len(self.start))
        todo = todo[shapely.is_missing(built[todo])]
        if len(todo):
            own = todo[self.zone[todo] == epsg]
            if len(own):
                built[own] = self._lines(self.projected, own)
            other = todo[self.zone[todo] != epsg]
            if len(other):
                built[other] = _project(self._lines(self.xy, other), epsg)
        return built[pieces]


def line_vertices(ws: Workspace) -> LineVertices:
    """The flat vertices of every line of the view (submitted and stored), computed once per check."""
    def compute():
        geoms = ws.lines.geometries
        types = shapely.get_type_id(geoms)
        ok = np.flatnonzero(~shapely.is_missing(geoms) & np.isin(types, [1, 5]))
        # the coordinates of all lines at once, their parts in order; where a part ends is counted without
        # taking the lines apart (get_parts builds a new geometry per part, a fifth of a second for the
        # 182 k one-part multi-line strings of a GeoPackage network): a line of one part (a line string, or
        # a multi-line string of one) has all its line's vertices, and only lines of several parts (or of
        # none) are taken apart to count theirs
        per_line = shapely.get_num_geometries(geoms[ok])  # 1 for a line string, even an empty one
        part_line = np.repeat(ok, per_line)
        counts = np.empty(len(part_line), dtype=np.int64)
        first = np.cumsum(per_line) - per_line
        whole = per_line == 1
        counts[first[whole]] = shapely.get_num_coordinates(geoms[ok[whole]])
        split = np.flatnonzero(~whole)
        if len(split):
            counts[slots(first[split], per_line[split])] = shapely.get_num_coordinates(
                shapely.get_parts(geoms[ok[split]]))
        lonlat = shapely.get_coordinates(geoms[ok])
        offset = np.r_[0, np.cumsum(counts)]
        part = np.repeat(np.arange(len(part_line)), counts)
        # the zone of each part's line, in runs of consecutive parts of one zone, as vertex offsets
        zone = ws.lines.metric.zone[part_line]
        change = np.flatnonzero(zone[1:] != zone[:-1]) + 1
        runs = np.r_[offset[np.r_[0, change]], len(lonlat)] if len(zone) else np.zeros(1, dtype=int)
        zones = zone[np.r_[0, change]] if len(zone) else np.zeros(0, dtype=int)
        # the degrees column by column; the row-major coordinates' memory is where the projection goes
        return LineVertices(part_line, offset, np.asfortranarray(lonlat), part, (runs, zones, lonlat))

    return ws.once("line.flat_vertices", compute)


def slots(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``first[k] + 0 … count[k] - 1`` for every k, concatenated: the positions of consecutive runs.

    >>> slots(np.array([0, 5]), np.array([2, 3])).tolist()
    [0, 1, 5, 6, 7]
    """
    return np.repeat(first - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))


def line_pieces(ws: Workspace, usable: np.ndarray) -> LinePieces:
    """The pieces of the lines ``usable`` (LineView indices with measurable geometry), built once (or
    started in the background by :func:`line_pieces_started`)."""
    built = ws.once(("pieces", tuple(usable.tolist())), lambda: LinePieces(ws, usable))
    return built.result() if isinstance(built, Pending) else built


def line_pieces_started(ws: Workspace, usable: np.ndarray) -> None:
    """:func:`line_pieces` of ``usable`` built in the background from now (numpy and GEOS, which release
    the GIL), for the rules that ask for it later; the flat vertices and their projection must be computed
    already (they are read there, not computed)."""
    def start() -> Pending:
        started = background(LinePieces, ws, usable)
        return Pending(lambda: result_here(started, LinePieces, ws, usable))

    ws.once(("pieces", tuple(usable.tolist())), start)


def nearest_line_m(ws: Workspace, pieces: LinePieces, points: MetricCache, index: np.ndarray,
                   allowed: Callable[[np.ndarray, np.ndarray], np.ndarray], radius_m: float,
                   accept_m: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Metres from points ``index`` to the nearest allowed line within ``radius_m`` (inf beyond), and it.

    ``allowed(point, line)`` filters candidate pairs (e.g. the marker's own line only). Each distance is
    measured in the point's zone. A first, tight search (the pieces within ``min(accept_m, 50 m)`` plus a
    50 m margin) settles every point with an allowed line within ``accept_m``: a caller asking "within the
    limit?" needs no more, and nearly every marker and junction end is settled so. The others get the exact
    minimum over every allowed piece within ``radius_m``.
    """
    distance = np.full(len(index), np.inf)
    nearest = np.full(len(index), -1)
    if not len(index) or not len(pieces.line):
        return distance, nearest
    accept = np.broadcast_to(np.asarray(accept_m, dtype=float), (len(index),))
    # first a tight search (few pieces per point): enough to settle every point within ``accept_m``
    tight = min(float(np.max(accept)), _TIGHT_MARGIN_M) + _TIGHT_MARGIN_M
    d_tight, line_tight = _search(pieces, points, index, allowed, tight, margin_m=_TIGHT_MARGIN_M)
    settled = d_tight <= accept
    distance[settled], nearest[settled] = d_tight[settled], line_tight[settled]
    rest = np.flatnonzero(~settled)
    if len(rest):
        d_rest, line_rest = _search(pieces, points, index[rest], lambda k, line: allowed(rest[k], line),
                                    radius_m)
        distance[rest], nearest[rest] = d_rest, line_rest
    return distance, nearest


def _first_minimum(group: np.ndarray, value: np.ndarray, tie: np.ndarray | None = None) -> np.ndarray:
    """Per group, the position of its smallest value (the first such, in order; with ``tie``, the one of
    smallest ``tie`` among equal smallest values), groups ascending: what ``order = np.lexsort((tie, value,
    group)); order[first of each group]`` gives, without the sort when the groups come in order (as an
    STRtree query returns its input's hits).

    ``tie`` makes the choice independent of the order the candidates come in (an STRtree's order depends
    on everything it holds): two lines equally near a point (their common vertex) give the one of lower
    index, whatever else is indexed, so a check run on spatial partitions names the same line.

    >>> _first_minimum(np.array([0, 0, 2, 2, 2]), np.array([3.0, 1.0, 5.0, 2.0, 2.0])).tolist()
    [1, 3]
    >>> group, value = np.array([0, 0, 2, 2, 2]), np.array([3.0, 1.0, 5.0, 2.0, 2.0])
    >>> _first_minimum(group, value, tie=np.array([0, 0, 0, 9, 4])).tolist()
    [1, 4]
    """
    if not len(group) or np.any(group[1:] < group[:-1]) or np.isnan(value).any():
        order = np.lexsort((value, group) if tie is None else (tie, value, group))
        return order[np.r_[True, group[order][1:] != group[order][:-1]]]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    smallest = np.minimum.reduceat(value, starts)
    at_min = np.flatnonzero(value == np.repeat(smallest, np.diff(np.r_[starts, len(group)])))
    first = np.r_[True, group[at_min][1:] != group[at_min][:-1]]
    if tie is not None and len(at_min) > first.sum():  # some group has equal smallest values: least tie
        lowest = np.minimum.reduceat(tie[at_min], np.flatnonzero(first))
        at_min = at_min[tie[at_min] == np.repeat(lowest, np.diff(np.r_[np.flatnonzero(first), len(at_min)]))]
        first = np.r_[True, group[at_min][1:] != group[at_min][:-1]]
    return at_min[first]


def _on_piece_end(pieces: LinePieces, lonlat: np.ndarray, piece: np.ndarray) -> np.ndarray:
    """Where a point (``lonlat``, NaN for anything but a point: never equal) is exactly the first or last
    vertex of its candidate piece: its distance is 0 in any zone (both are projected from the same degrees
    by the same transformer), known without measuring anything. Most line ends of a network are such
    junctions."""
    x, y = lonlat[:, 0], lonlat[:, 1]
    lon, lat = pieces.xy[:, 0], pieces.xy[:, 1]
    start, end = pieces.start[piece], pieces.end[piece]
    return ((x == lon[start]) & (y == lat[start])) | ((x == lon[end]) & (y == lat[end]))


def _search(pieces: LinePieces, points: MetricCache, index: np.ndarray,
            allowed: Callable[[np.ndarray, np.ndarray], np.ndarray], radius_m: float,
            margin_m: float = _TIGHT_MARGIN_M) -> tuple[np.ndarray, np.ndarray]:
    """The exact minimum over every allowed piece within ``radius_m`` of each point: the candidates are the
    pieces whose box (grown by the piece's own bend bound) is within ``radius_m`` plus ``margin_m``.

    For a point the candidates are the boxes meeting the square of that half-width around it (an envelope
    query, about twice as fast as ``dwithin``; the corners' few extra pieces are farther than ``radius_m``
    and change nothing); a point in the zone of its candidate piece's line (nearly every pair) is measured
    on the projected vertices themselves (:func:`_point_to_pieces_m`). Other geometries and pairs are
    queried and measured as shapely geometries."""
    distance = np.full(len(index), np.inf)
    nearest = np.full(len(index), -1)
    geoms = points.geometries[index]
    point = np.flatnonzero((shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms))
    lonlat = np.full((len(index), 2), np.nan)
    lonlat[point] = shapely.get_coordinates(geoms[point])
    half = (radius_m + margin_m) * DEG_PER_M
    x, y = lonlat[point, 0], lonlat[point, 1]
    n, piece = pieces.tree.query(shapely.box(x - half, y - half, x + half, y + half))
    n = point[n]
    other = np.flatnonzero(~index_mask(point, len(index)))
    if len(other):
        n_other, piece_other = pieces.tree.query(geoms[other], predicate="dwithin", distance=half)
        n, piece = np.r_[n, other[n_other]], np.r_[piece, piece_other]
    keep = allowed(n, pieces.line[piece])
    n, piece = n[keep], piece[keep]
    if not len(n):
        return distance, nearest
    d = np.zeros(len(n))
    measure = np.flatnonzero(~_on_piece_end(pieces, lonlat[n], piece))
    zones = points.zone[index[n[measure]]]
    plain = (np.isfinite(lonlat[n[measure], 0]) & (zones == pieces.zone[piece[measure]])
             & (pieces.end[piece[measure]] > pieces.start[piece[measure]]))
    # each point with plain pairs projected into its own zone once (as every rule has it: MetricCache)
    xy = np.full((len(index), 2), np.nan)
    wanted = unique_indices(n[measure[plain]], len(index))
    for epsg in np.unique(points.zone[index[wanted]]):
        m = wanted[points.zone[index[wanted]] == epsg]
        xy[m] = shapely.get_coordinates(points.get(index[m], int(epsg)))
    on_vertices, rest = measure[plain], measure[~plain]
    d[on_vertices] = _point_to_pieces_m(pieces, xy[n[on_vertices]], piece[on_vertices])
    zones = zones[~plain]
    a = np.empty(len(rest), dtype=object)
    b = np.empty(len(rest), dtype=object)
    for epsg in np.unique(zones):
        m = zones == epsg
        a[m] = points.get(index[n[rest[m]]], int(epsg))
        b[m] = pieces.get(piece[rest[m]], int(epsg))
    d[rest] = parallel(shapely.distance, a, b)
    first = _first_minimum(n, d, pieces.line[piece])
    within = d[first] <= radius_m
    distance[n[first][within]] = d[first][within]
    nearest[n[first][within]] = pieces.line[piece[first][within]]
    return distance, nearest


def _point_to_pieces_m(pieces: LinePieces, xy: np.ndarray, piece: np.ndarray) -> np.ndarray:
    """Metres from points ``xy`` (in the zone of each piece's line) to ``piece`` (each with a segment or
    more), taken on the pieces' projected vertices: what ``shapely.distance`` gives for the point and the
    piece's line string, bit for bit, without building the line strings (building them cost five times the
    measuring: 0.8 s for the 364 k pairs of the 182 k-line grid).

    By hand because no library measures a point against runs of a coordinate array. GEOS's value is the
    smallest of its point-to-segment formula (``Distance::pointToSegment``) over the segments; here that
    formula, operation for operation, is taken only on the segments that can give the smallest: a segment
    AB is no nearer than (|PA| + |PB| - |AB|) / 2 (triangle inequality), and the piece's nearest vertex is
    an upper bound, so a segment whose bound exceeds it by more than rounding (a micrometre) cannot be the
    minimum. Block by block (the temporaries stay in the cache), on every core."""
    x, y = pieces.projected[:, 0], pieces.projected[:, 1]
    start = pieces.start[piece]
    count = pieces.end[piece] - start + 1  # vertices per piece
    ends = np.cumsum(count)

    def measure(first: int, hi: int) -> np.ndarray:
        out = np.empty(hi - first)
        lo = first
        while lo < hi:
            # the pairs lo … stop - 1: about BLOCK vertices, at least one pair
            done = int(ends[lo - 1]) if lo else 0
            stop = max(lo + 1, min(hi, int(np.searchsorted(ends, done + BLOCK, side="right"))))
            c = count[lo:stop]
            vertex = slots(start[lo:stop], c)
            pair = np.repeat(np.arange(stop - lo), c)
            px, py = xy[lo:stop, 0][pair], xy[lo:stop, 1][pair]
            vx, vy = x[vertex], y[vertex]
            ex, ey = px - vx, py - vy
            to_vertex = np.sqrt(ex * ex + ey * ey)  # GEOS's distance from P to a vertex, as written there
            first_vertex = np.cumsum(c) - c
            bound = np.minimum.reduceat(to_vertex, first_vertex)[pair[:-1]] + 1e-6
            # segment k runs from vertex k to k + 1 of the same pair
            joins = np.ones(len(vertex) - 1, dtype=bool)
            joins[first_vertex[1:] - 1] = False
            sx, sy = vx[1:] - vx[:-1], vy[1:] - vy[:-1]
            length = np.sqrt(sx * sx + sy * sy)  # np.hypot takes five times as long
            k = np.flatnonzero(joins & ((to_vertex[:-1] + to_vertex[1:] - length) * 0.5 <= bound))
            px, py, ax, ay, bx, by = px[k], py[k], vx[k], vy[k], vx[k + 1], vy[k + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                length2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
                r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length2
                s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / length2
                d = np.abs(s) * np.sqrt(length2)
            d = np.where(r >= 1.0, to_vertex[k + 1], d)
            d = np.where((r <= 0.0) | ((ax == bx) & (ay == by)), to_vertex[k], d)
            # every pair keeps a segment (one at its nearest vertex): the kept ones grouped by pair, in order
            out[lo - first:stop - first] = np.fmin.reduceat(d, np.searchsorted(pair[k], np.arange(stop - lo)))
            lo = stop
        return out

    return parallel_ranges(measure, len(piece))
