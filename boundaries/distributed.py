"""The check on a Dask cluster (issue 16): the same rules, run per spatial partition, the same report.

    quhua check --scheduler local:2 …            # a dask.distributed LocalCluster of 2 worker processes
    quhua check --scheduler tcp://host:8786 …    # any dask.distributed scheduler

The client (the ``quhua check`` process) reads the submission and the stored features near it as the
single-process check does; this module then cuts space into tiles (a quadtree over longitude/latitude,
split until the features within a tile and its halo hold at most ``partition_vertices`` vertices) and
sends each tile's features to a worker, which runs every rule on them through
:func:`boundaries.rules.rule_issues`, the single-process rules' entry point, unchanged. The partitions are
our own quadtree, not dask-geopandas' ``spatial_shuffle``: those partitions have no halo and are sized by
rows, where a partition here must hold what every rule looks at and be bounded in vertices.

Why the results are the single-process check's, issue for issue and in the same order:

- **Halo.** A tile's partition holds every feature whose extent comes within the halo of the tile: the
  largest distance tolerance of the enabled rules (``line.dangle``'s 1000 m search, ``marker.out_of_region``'s
  5000 m …), converted to degrees conservatively (a Gauss-Krüger metre is never longer than a ground metre).
  Every issue is located (SPEC §6) on a feature in its tile, so everything its rule looked at is there.
- **Global context** is added by reference, not by distance: all the versions of a boundary (same two codes,
  ``line.neighbor_mismatch``), the lines a marker names by ``line_id``, all the markers of one id or one
  number (``marker.duplicate_id``, the posts of a 同号双立 pair, stored markers of the same id), and the
  lines with broken codes that may hold a stretch of a stored boundary. Stored versions superseded by the
  submission are dropped once, for the whole submission, before partitioning.
- **Ownership, no double counting.** Tiles do not overlap: an issue is kept only by the tile its place
  lies in (an issue without a place: the tile of its feature). Halo features produce issues too; other tiles
  own them. A marker with no submitted line within the halo (whose nearest line may be anywhere) gets a
  partition of its own, as wide as its nearest line needs.
- **Order.** The merged issues are sorted into the order the single-process rules emit them in (rule by
  rule, :class:`_Order`): by feature, then each rule's own order (a dangle's start before its end, a pair's
  other feature in the order the whole check's spatial index lists it, …). Where two lines are equally near
  a point, the rules name the one of lower index, whatever the partition (``_first_minimum``).
- **One defect, one error** is decided once, over the merged issues (:func:`boundaries.rules.fold_defects`):
  the workers run :func:`boundaries.rules.rule_issues`, every rule's findings before folding, so findings of
  one defect owned by different tiles are still folded, and ``line.neighbor_mismatch`` stretches another
  rule's finding explains are folded into it as in the single process.

What the workers need: Python with quhua and its dependencies (``pip install 'quhua[distributed]'``), the
same versions as the client. They need no file and no database: the client reads the submission and the
stored features near it, as the single-process check does, and sends each partition to a worker.

Memory: a worker holds one partition at a time (one thread per worker); ``worker_memory`` caps a local
worker (dask spills, pauses, then restarts a worker beyond it). The client holds what the single-process
check holds before its rules run, plus at most two partitions per worker in flight.
"""

from __future__ import annotations

import itertools
import math
import re
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import shapely

from boundaries.errors import ConfigError
from boundaries.model import Issue, Submission

__all__ = ["DEFAULT_PARTITION_VERTICES", "Scheduler", "halo_m", "open_scheduler", "run_rules_distributed", "tiles"]

#: Vertices (lines) plus markers a partition holds at most, halo included, unless one feature is larger.
DEFAULT_PARTITION_VERTICES = 400_000
#: Metres per degree that no distance on the ellipsoid, nor in a Gauss-Krüger zone, falls below: a degree of
#: latitude is 110,574 m at the equator and more elsewhere; of longitude 111,320·cos(latitude) m.
_M_PER_DEG = 110_000.0
#: Separates a feature's own source file from its index in the submission (in ``source_file``, inside a
#: partition only: the rules carry it into each issue's ``file``, which tells the issue's feature).
_SEP = "\x1f#"
_UNNAMED = re.compile(r"#(\d+)\b")


# -- the scheduler -----------------------------------------------------------------------------------------
@dataclass
class Scheduler:
    """A connected ``distributed.Client`` and, for ``local[:N]``, the cluster this process started."""

    client: object
    cluster: object | None = None

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_scheduler(address: str, *, worker_memory: str | None = None, timeout_s: float = 5.0) -> Scheduler:
    """``local`` / ``local:N``: a LocalCluster of N worker processes (default 2), one thread each, each
    capped at ``worker_memory`` (default: the machine's memory over N); else the address of a running
    dask.distributed scheduler (``tcp://host:8786``). A bad address or an unreachable scheduler is an
    :class:`ConfigError` (exit 2) naming what arrived and the forms allowed."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise ConfigError("--scheduler needs Dask: pip install 'quhua[distributed]'",
                          message_zh="--scheduler 需要 Dask：pip install 'quhua[distributed]'") from err
    local = re.fullmatch(r"local(?::(\d+))?", address.strip())
    if local:
        workers = int(local.group(1) or 2)
        if not 1 <= workers <= 256:
            raise _bad_scheduler(address, "工作进程数须在 1 到 256 之间", "the number of workers must be 1 to 256")
        with warnings.catch_warnings():  # "port 8787 in use, another chosen": nothing for the user to act on
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   memory_limit=_memory(worker_memory), silence_logs=50)
        return Scheduler(Client(cluster), cluster)
    if worker_memory is not None:
        raise ConfigError("--worker-memory sets the memory of local:N workers only; on a cluster, start each "
                          "worker with `dask worker … --memory-limit SIZE`",
                          message_zh="--worker-memory 只用于 local:N 的工作进程；集群上请以 "
                          "`dask worker … --memory-limit 大小` 启动每个工作进程")
    found = re.fullmatch(r"(tcp|tls)://(\[[^\]]+\]|[^\s/:\[\]]+)(?::(\d+))?/?", address.strip())
    if not found:
        raise _bad_scheduler(address, "不是调度器地址", "is not a scheduler address")
    host, port = found.group(2).strip("[]"), int(found.group(3) or 8786)
    try:  # a refused or unresolvable address is told at once, not after the client's timeout
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        why_zh = ("主机名无法解析" if isinstance(err, socket.gaierror) else "超时" if isinstance(err, TimeoutError)
                  else "连接被拒绝" if isinstance(err, ConnectionRefusedError) else err.strerror or str(err))
        raise _bad_scheduler(address, f"无法连接（{why_zh}）：地址或端口有误，或调度器未启动",
                             f"cannot be reached ({err.strerror or err}): a wrong host or port, or no scheduler "
                             "running there") from err
    try:
        return Scheduler(Client(address.strip(), timeout=timeout_s))
    except (OSError, TimeoutError, ValueError) as err:
        raise _bad_scheduler(address, f"{timeout_s:g} 秒内没有 dask 调度器应答（该端口上是别的服务？）",
                             f"gives no dask scheduler's answer within {timeout_s:g} s (another service on that "
                             "port?)") from err


def _memory(size: str | None) -> int | str:
    """``--worker-memory`` in bytes (``4GB``, ``1.5 GiB``, ``800MB``); "auto" (the machine's memory over the
    workers) when not given."""
    if size is None:
        return "auto"
    from dask.utils import parse_bytes

    try:
        value = parse_bytes(size)
    except (ValueError, TypeError) as err:
        value = None
        cause = err
    else:
        cause = None
    if value is None or value < 2**27:
        raise ConfigError(f"--worker-memory {size!r} is not a memory size of at least 128MB; write e.g. 4GB "
                          "or 800MB", message_zh=f"--worker-memory {size!r} 不是不小于 128MB 的内存大小；请写如 4GB "
                          "或 800MB") from cause
    return value


def _bad_scheduler(address: str, zh: str, en: str) -> ConfigError:
    return ConfigError(f"--scheduler {address!r} {en}; use local, local:N (N worker processes here) or "
                       "tcp://host:8786 (a running dask scheduler)",
                       message_zh=f"--scheduler {address!r} {zh}；可用 local、local:N（本机 N 个工作进程）或 "
                       "tcp://主机:8786（已运行的 dask 调度器）")


# -- partitions --------------------------------------------------------------------------------------------
def halo_m(config) -> float:
    """The halo a tile needs: the largest distance tolerance (a parameter in metres) of the enabled rules,
    plus a metre."""
    from boundaries.rules import REGISTRY

    metres = [float(value) for entry in REGISTRY.values() if entry.func is not None and config.enabled(entry.id)
              for name, value in config.params(entry.id).items()
              if name.endswith("_m") and isinstance(value, int | float) and math.isfinite(value)]
    return max(metres, default=0.0) + 1.0


def _grown(boxes: np.ndarray, metres: float | np.ndarray) -> np.ndarray:
    """Boxes (w, s, e, n in degrees) grown by at least ``metres`` on the ground in every direction."""
    metres = np.broadcast_to(np.asarray(metres, dtype=float), (len(boxes),))
    dy = metres / _M_PER_DEG
    lat = np.minimum(np.maximum(np.abs(boxes[:, 1]), np.abs(boxes[:, 3])) + dy, 89.0)
    dx = metres / (_M_PER_DEG * np.cos(np.radians(lat)))
    return np.column_stack([boxes[:, 0] - dx, boxes[:, 1] - dy, boxes[:, 2] + dx, boxes[:, 3] + dy])


def tiles(boxes: np.ndarray, weights: np.ndarray, halo: float, budget: int,
          tree: shapely.STRtree | None = None) -> np.ndarray:
    """Disjoint tiles (w, s, e, n; west and south edges inside, east and north outside) covering ``boxes``
    (features' extents in degrees, finite): a quadtree split while the weight of the features within a tile's
    halo exceeds ``budget`` and the tile is wider than its halo (a smaller one would hold the same
    features). Tiles whose halo meets no feature are left out. ``tree``: an index of ``boxes``, if built."""
    if not len(boxes):
        return np.zeros((0, 4))
    tree = shapely.STRtree(shapely.box(*boxes.T)) if tree is None else tree
    w, s = boxes[:, 0].min(), boxes[:, 1].min()
    side = max(boxes[:, 2].max() - w, boxes[:, 3].max() - s) * (1 + 1e-9) + 1e-9
    todo, out = [np.array([w, s, w + side, s + side])], []
    while todo:
        tile = todo.pop()
        grown = _grown(tile[None], halo)[0]
        hits = tree.query(shapely.box(*grown))
        if not len(hits):
            continue
        width = tile[2] - tile[0]
        if weights[hits].sum() <= budget or width <= grown[2] - grown[0] - width or width < 1e-6:
            out.append(tile)
            continue
        half = width / 2
        x, y = tile[0], tile[1]
        todo.extend(np.array([x + dx, y + dy, x + dx + half, y + dy + half])
                    for dy in (half, 0.0) for dx in (half, 0.0))
    out = np.array(out)
    return out[np.lexsort((out[:, 0], out[:, 1]))]


def _tile_of(points: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The tile each point (lon, lat) lies in (half-open tiles), else the nearest tile (a place a rounding
    away from every tile). Through an index of the tiles: a points × tiles table would not fit for a
    national check."""
    found = np.full(len(points), -1)
    if not len(points):
        return found
    k, t = shapely.STRtree(shapely.box(*grid.T)).query(shapely.points(points))
    inside = ((points[k, 0] >= grid[t, 0]) & (points[k, 0] < grid[t, 2])
              & (points[k, 1] >= grid[t, 1]) & (points[k, 1] < grid[t, 3]))
    k, t = k[inside], t[inside]
    found[k[::-1]] = t[::-1]  # the first tile found for each point (tiles do not overlap: there is one)
    for n in np.flatnonzero(found < 0):
        cx = np.clip(points[n, 0], grid[:, 0], grid[:, 2])
        cy = np.clip(points[n, 1], grid[:, 1], grid[:, 3])
        found[n] = int(np.argmin(np.hypot(cx - points[n, 0], cy - points[n, 1])))
    return found


@dataclass
class _Plan:
    """What each partition holds: row indices into the submission's and the stored layers."""

    tiles: np.ndarray
    parts: list[dict]  # lines, markers, stored_lines, stored_markers (index arrays), own_markers (or None)
    lonely: set  # the markers in partitions of their own


def _extents(frame) -> np.ndarray:
    if not len(frame):
        return np.zeros((0, 4))
    return shapely.bounds(np.asarray(frame.geometry.values, dtype=object))


def _marker_groups(ids: pd.Series, pattern: str | None) -> np.ndarray:
    """A group per marker: its number (its id without the type letter, as :mod:`boundaries.rules.markers`
    reads it), else its id; the posts of one pair, and the repeats of one id, share a group."""
    from boundaries.config import DEFAULT_MARKER_ID_PATTERN

    regex = re.compile(pattern or DEFAULT_MARKER_ID_PATTERN)

    def number(value):
        if not isinstance(value, str):
            return None
        m = regex.fullmatch(value)
        if m and "letter" in regex.groupindex and m.group("letter"):
            return m.string[:m.start("letter")] + m.string[m.end("letter"):]
        return value

    return np.array([number(v) for v in ids.to_numpy(dtype=object)], dtype=object)


def _plan(sub: Submission, stored_lines, stored_markers, settings: dict, halo: float, budget: int) -> _Plan:
    """Tiles, and for each the features within its halo plus those it needs by reference."""
    lines, markers = sub.lines, sub.markers
    n_l, n_sl, n_m = len(lines), len(stored_lines), len(markers)
    boxes = np.concatenate([_extents(lines), _extents(stored_lines), _extents(markers), _extents(stored_markers)])
    weights = np.concatenate([
        shapely.get_num_coordinates(np.asarray(lines.geometry.values, dtype=object)) if n_l else [],
        shapely.get_num_coordinates(np.asarray(stored_lines.geometry.values, dtype=object)) if n_sl else [],
        np.ones(n_m + len(stored_markers))]).astype(np.int64)
    located = np.isfinite(boxes).all(axis=1)
    placed = np.flatnonzero(located)
    tree = shapely.STRtree(shapely.box(*boxes[placed].T))
    grid = tiles(boxes[placed], weights[placed], halo, budget, tree)
    if not len(grid):
        grid = np.array([[0.0, 0.0, 1.0, 1.0]])
    offsets = np.cumsum([0, n_l, n_sl, n_m, len(stored_markers)])
    refs = _References(sub, stored_lines, stored_markers, settings.get("marker_id_pattern"))
    lonely = _lonely_markers(sub, located[offsets[2]:offsets[3]], halo)
    parts = [refs.closed(placed[tree.query(shapely.box(*box))], offsets) for box in _grown(grid, halo)]
    # features without a usable extent (no or non-finite geometry) go with the first tile
    unlocated = np.flatnonzero(~located)
    if len(unlocated):
        parts[0] = refs.closed(np.union1d(np.concatenate([parts[0][k] + offsets[n] for n, k in enumerate(
            ("lines", "stored_lines", "markers", "stored_markers"))]), unlocated), offsets)
    for part in parts:
        part["own_markers"] = None
    # a marker far from every submitted line: its own partition, as wide as its nearest line needs
    for k, metres in lonely.items():
        box = _grown(np.where(np.isfinite(boxes[offsets[2] + k]), boxes[offsets[2] + k], 0.0)[None], metres)[0]
        part = refs.closed(np.union1d(placed[tree.query(shapely.box(*box))], [offsets[2] + k]), offsets)
        part["own_markers"] = np.array([k])
        parts.append(part)
    return _Plan(grid, parts, set(lonely))


class _Groups:
    """Indices grouped by a value (None and NaN in no group), as one sorted table: the members of any set
    of groups gathered in time proportional to them (a dict of a million small arrays, or a set per
    partition, cost minutes at 20 M vertices)."""

    def __init__(self, values: np.ndarray):
        self.code, distinct = pd.factorize(np.asarray(values, dtype=object))
        self.order = np.argsort(self.code, kind="stable")
        ordered = self.code[self.order]
        self.start = np.searchsorted(ordered, np.arange(len(distinct)))
        self.end = np.searchsorted(ordered, np.arange(len(distinct)), side="right")

    def members(self, of: np.ndarray) -> np.ndarray:
        """Every index in the groups of indices ``of``."""
        codes = np.unique(self.code[of])
        codes = codes[codes >= 0]
        return _ranges(self.order, self.start[codes], self.end[codes])


def _ranges(values: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``values[start[0]:end[0]]``, ``values[start[1]:end[1]]``, … concatenated."""
    count = end - start
    at = np.repeat(start - np.cumsum(np.r_[0, count[:-1]]), count) + np.arange(int(count.sum()))
    return values[at]


class _References:
    """What a partition needs by reference, not by distance: every version of a boundary (the same two
    codes, lines submitted or stored), the lines a marker names by ``line_id`` (or by its leading digits, as
    ``marker.unknown_line`` reads it), all the markers of one number (an id without its type letter), and
    the submitted lines with broken codes, which may hold a stretch of a stored boundary."""

    def __init__(self, sub: Submission, stored_lines, stored_markers, pattern: str | None):
        from boundaries.rules._geometry import pair_keys

        lines = pd.concat([sub.lines[["line_id", "left_code", "right_code"]],
                           stored_lines[["line_id", "left_code", "right_code"]]], ignore_index=True) \
            if len(stored_lines) else sub.lines[["line_id", "left_code", "right_code"]]
        self.n_lines, self.n_markers = len(sub.lines), len(sub.markers)
        self.versions = _Groups(pair_keys(lines["left_code"].to_numpy(dtype=object),
                                          lines["right_code"].to_numpy(dtype=object)))
        ids = lines["line_id"].reset_index(drop=True)
        ids = ids[ids.map(lambda v: isinstance(v, str))].astype(object)
        prefix = ids.str.extract(r"^(\d*)", expand=False) if len(ids) else ids
        prefix = prefix[prefix != ids]
        named = pd.DataFrame({"key": pd.concat([ids, prefix], ignore_index=True),
                              "line": np.r_[ids.index.to_numpy(), prefix.index.to_numpy()].astype(int)})
        wanted = sub.markers["line_id"]
        wanted = pd.DataFrame({"key": wanted.where(wanted.map(lambda v: isinstance(v, str))),
                               "marker": np.arange(len(wanted))})
        pairs = wanted.dropna().merge(named, on="key").sort_values(["marker", "line"], kind="stable")
        self.pair_marker, self.pair_line = pairs["marker"].to_numpy(), pairs["line"].to_numpy()
        all_ids = pd.concat([sub.markers["marker_id"], stored_markers["marker_id"]], ignore_index=True) \
            if len(stored_markers) else sub.markers["marker_id"]
        self.numbers = _Groups(_marker_groups(all_ids, pattern))
        self.unsound = np.flatnonzero(~_sound_codes(sub.lines["left_code"].to_numpy(dtype=object),
                                                    sub.lines["right_code"].to_numpy(dtype=object)))

    def closed(self, hit: np.ndarray, offsets: np.ndarray) -> dict:
        """The features ``hit`` (indices in the concatenation lines | stored lines | markers | stored
        markers) plus those they reference; as index arrays per layer, each in ascending order."""
        n_l, n_m = self.n_lines, self.n_markers
        line_rows = hit[hit < offsets[2]]
        marker_rows = hit[hit >= offsets[2]] - offsets[2]  # submitted then stored markers, one numbering
        mine = marker_rows[marker_rows < n_m]
        lo, hi = np.searchsorted(self.pair_marker, mine), np.searchsorted(self.pair_marker, mine, side="right")
        line_set = np.union1d(line_rows, _ranges(self.pair_line, lo, hi))
        markers_all = np.union1d(marker_rows, self.numbers.members(marker_rows))
        lines_all = np.union1d(line_set, self.versions.members(line_set))
        if (lines_all >= n_l).any() and len(self.unsound):  # broken-coded lines may hold a stored boundary's stretch
            lines_all = np.union1d(lines_all, self.unsound)
        lines_all, markers_all = lines_all.astype(int), markers_all.astype(int)
        return {"lines": lines_all[lines_all < n_l], "stored_lines": lines_all[lines_all >= n_l] - n_l,
                "markers": markers_all[markers_all < n_m], "stored_markers": markers_all[markers_all >= n_m] - n_m}


def _sound_codes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether each line's two codes are two different 6-, 9- or 12-digit codes, each distinct code judged
    once."""
    code, distinct = pd.factorize(np.concatenate([left, right]))
    good = np.fromiter((isinstance(c, str) and c.isdigit() and len(c) in (6, 9, 12) for c in distinct), dtype=bool,
                       count=len(distinct))
    ok = np.r_[good, False][code]
    n = len(left)
    return ok[:n] & ok[n:] & (code[:n] != code[n:])


def _lonely_markers(sub: Submission, located: np.ndarray, halo: float) -> dict[int, float]:
    """Markers with no submitted line within ``halo``: the metres within which their nearest line (of any
    kind) certainly lies, from the nearest submitted line in degrees.

    Measured on the lines themselves (their nearest point, not their boxes: a line's box may come near a
    marker its line does not): first every marker within 50 m of a line (nearly all: few pairs each), then
    the nearest line of the others; memory in the markers, not in the markers × the lines around them. A
    degree is taken as at most 115 km (a degree of latitude is 111.7 km at most, a Gauss-Krüger metre up to
    a few per mille shorter than the ground's)."""
    lines = np.asarray(sub.lines.geometry.values, dtype=object)
    usable = ~shapely.is_empty(lines) & ~shapely.is_missing(lines) & np.isfinite(shapely.bounds(lines)).all(axis=1) \
        if len(lines) else np.zeros(0, dtype=bool)
    k = np.flatnonzero(located)
    if not len(k) or not usable.any():
        return {}  # no marker, or nothing to measure against in any partition: no halo matters
    tree = shapely.STRtree(lines[usable])
    markers = np.asarray(sub.markers.geometry.values, dtype=object)[k]
    reach = halo / 115_000.0
    close = np.unique(tree.query(markers, predicate="dwithin", distance=min(reach, 50 / 115_000.0))[0])
    rest = np.setdiff1d(np.arange(len(k)), close)
    near = rest[tree.query_nearest(markers[rest], max_distance=reach, all_matches=False)[0]] if len(rest) else rest
    far = np.setdiff1d(rest, near)
    if not len(far):
        return {}
    (_, _), degrees = tree.query_nearest(markers[far], return_distance=True, all_matches=False)
    return {int(k[f]): max(halo, float(d) * 115_000.0 + halo) for f, d in zip(far, degrees, strict=True)}


# -- one partition, on a worker ------------------------------------------------------------------------------
def _tagged(frame, rows: np.ndarray):
    """``frame``'s ``rows``, with each row's index in the submission appended to its ``source_file``."""
    part = frame.iloc[rows].copy()
    source = part["source_file"].to_numpy(dtype=object) if "source_file" in part else np.full(len(part), None)
    part["source_file"] = [f"{s if isinstance(s, str) else ''}{_SEP}{g}" for s, g in zip(source, rows, strict=True)]
    return part


@dataclass
class _Piece:
    """One partition as a worker gets it: its features, where they are in the whole submission, and which
    of its issues it owns (:func:`_owns`)."""

    n: int
    submission: Submission
    stored_lines: object
    stored_markers: object
    lines: np.ndarray  # the submission's row of each line of the piece
    markers: np.ndarray
    stored_line_rows: np.ndarray  # the row, among the kept stored lines, of each stored line of the piece
    stored_marker_rows: np.ndarray
    n_lines: int  # the whole submission's lines and markers: view indices of stored features start there
    n_markers: int
    tiles: np.ndarray
    own_markers: np.ndarray | None  # a lonely marker's own partition: it owns that marker's issues only
    lonely: frozenset
    marker_pattern: str | None


def _partition(sub: Submission, stored_lines, stored_markers, part: dict) -> tuple[Submission, object, object]:
    lines, markers = _tagged(sub.lines, part["lines"]), _tagged(sub.markers, part["markers"])
    crs_of = {layer["source"]: layer for layer in sub.layers if layer.get("layer") == "markers"}
    original = sub.markers["source_file"].to_numpy(dtype=object)[part["markers"]] if "source_file" in sub.markers \
        else [None] * len(part["markers"])
    # the marker rules read a marker's declared CRS by its source file: the tagged names say the same
    layers = list(sub.layers) + [crs_of[s] | {"source": t}
                                 for s, t in zip(original, markers["source_file"], strict=True) if s in crs_of]
    piece = replace(sub, lines=lines, markers=markers, layers=layers)
    return piece, stored_lines.iloc[part["stored_lines"]], stored_markers.iloc[part["stored_markers"]]


def _owned(piece: _Piece, rows: list[tuple]) -> list[tuple]:
    """The rows (issue, feature, …) this partition reports: the tile an issue's place lies in does (an
    issue without a place: the tile of its feature); a lonely marker's issues, its own partition."""
    keep = np.zeros(len(rows), dtype=bool)
    placed = []
    for n, (issue, g, *_rest) in enumerate(rows):
        if issue.layer == "markers" and piece.own_markers is not None:
            keep[n] = g in piece.own_markers
        elif (issue.layer == "markers" and g in piece.lonely) or piece.own_markers is not None:
            keep[n] = False
        elif issue.lon is not None and issue.lat is not None:
            placed.append(n)
        else:  # the tile of the centre of its feature's extent (no usable extent: the first tile)
            features = piece.lines if issue.layer == "lines" else piece.markers
            frame = piece.submission.lines if issue.layer == "lines" else piece.submission.markers
            box = shapely.bounds(frame.geometry.values[int(np.searchsorted(features, g))])
            centre = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
            keep[n] = (int(_tile_of(centre, piece.tiles)[0]) if np.isfinite(box).all() else 0) == piece.n
    if placed:
        points = np.array([[rows[n][0].lon, rows[n][0].lat] for n in placed])
        keep[placed] = _tile_of(points, piece.tiles) == piece.n
    return [row for row, kept in zip(rows, keep, strict=True) if kept]


def _check_partition(piece: _Piece, config) -> list[tuple]:
    """Every rule on one partition (on a worker), through :func:`boundaries.rules.rule_issues`: the issues
    this partition owns, each as (issue, its feature's row in the submission, the other feature's view
    index in the whole check or -1, its rank among the partition's issues of that rule, feature and other
    feature, the issue's group's first feature or -1)."""
    from boundaries.rules import CheckContext, rule_issues

    context = CheckContext(piece.submission, piece.stored_lines, piece.stored_markers, config.settings())
    found = rule_issues(context, config)
    tables = {"lines": piece.lines, "markers": piece.markers}
    ranks: dict = {}
    numbers = pd.Series(piece.markers).groupby(pd.Series(
        _marker_groups(piece.submission.markers["marker_id"], piece.marker_pattern), dtype=object)).min()
    rows = []
    for issue in found:
        if issue.file is None or _SEP not in issue.file:
            continue  # not a feature's issue: found while reading, reported once by the client
        file, g = issue.file.rsplit(_SEP, 1)
        issue.file, g = file or None, int(g)
        other = _global_other(piece, issue)
        rank = ranks[issue.rule, g, other] = ranks.get((issue.rule, g, other), -1) + 1
        group = -1
        if issue.rule == "marker.pair_side" or _pair_defect(issue):  # the first post of the pair's number
            local = int(np.searchsorted(piece.markers, g))
            number = _marker_groups(piece.submission.markers["marker_id"].iloc[[local]], piece.marker_pattern)[0]
            group = int(numbers.get(number, g))
        _globalise(issue, tables, g)
        rows.append((issue, g, other, rank, group))
    return _owned(piece, rows)


def _pair_defect(issue: Issue) -> bool:
    """A 同号双立 pair swapped against the neighbour's stored pair (``marker.neighbor_mismatch``'s first
    findings, in the order of the pairs' first posts)."""
    defect = getattr(issue, "defect", None)
    return issue.rule == "marker.neighbor_mismatch" and defect is not None and defect == (
        ("marker.pair", defect[0][1]), 0)


def _global_other(piece: _Piece, issue: Issue) -> int:
    """The other line (``line.overlap``, ``line.crossing``) or marker (``marker.duplicate_position``) of an
    issue as a view index of the whole check (submitted features, then the kept stored ones), else -1."""
    other = getattr(issue, "other_line", None)
    submitted, stored, n_all = piece.lines, piece.stored_line_rows, piece.n_lines
    if other is None:
        other = getattr(issue, "other_marker", None)
        submitted, stored, n_all = piece.markers, piece.stored_marker_rows, piece.n_markers
    if other is None:
        return -1
    other = int(other)
    return int(submitted[other]) if other < len(submitted) else n_all + int(stored[other - len(submitted)])


def _globalise(issue: Issue, tables: dict, g: int) -> None:
    """Names and defect keys made of the partition's row numbers, made of the submission's: a feature
    without an id is named ``#n`` by its row, and a marker's defects are keyed by its row."""
    table = tables[issue.layer] if issue.layer in tables else None
    if table is not None and issue.feature and _UNNAMED.fullmatch(issue.feature):
        local = issue.feature
        issue.feature = f"#{g + 1}"
        pattern = re.compile(re.escape(local) + r"(?!\d)")
        issue.message = pattern.sub(issue.feature, issue.message)
        if issue.message_en:
            issue.message_en = pattern.sub(issue.feature, issue.message_en)
    markers = tables["markers"]

    def key(k):
        if isinstance(k, tuple) and len(k) == 2 and k[0] in ("marker.position", "marker.id") and isinstance(k[1], int):
            return (k[0], int(markers[k[1]]))
        return k

    if getattr(issue, "defect", None) is not None:
        issue.defect = (key(issue.defect[0]), issue.defect[1])
        issue.defect_also = tuple(key(k) for k in issue.defect_also)


# -- the order of the single-process check -----------------------------------------------------------------
def _part_ends(geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last vertex (lon, lat) of each part of a line, and whether the part is closed."""
    parts = shapely.get_parts(geometry)
    first = shapely.get_coordinates(shapely.get_point(parts, 0))
    last = shapely.get_coordinates(shapely.get_point(parts, -1))
    return first, last, shapely.is_closed(parts)


class _Order:
    """The place of each merged issue in the single-process report.

    Every rule reports its issues in an order of its features that does not depend on what else is in
    view, and, for one feature, in an order the feature alone decides (its vertices, its parts, the places
    along it) or, for findings against another feature, the order in which the spatial index of the whole
    check lists that other feature (``STRtree.query``: rebuilt here over the whole check's features, so the
    partitions' own indexes do not matter). Per rule:

    - ``line.dangle``: every start before every end, then by line and part (its ends are taken so);
    - ``line.spike``: the turns inside parts first, then those where a closed ring closes;
    - ``line.overlap``, ``line.crossing``, ``marker.duplicate_position``: by feature, then other feature;
    - ``marker.coordinate_mismatch``, ``marker.axis_swapped``: every lon/lat finding before any x/y one;
    - ``marker.pair_side`` and swapped pairs of ``marker.neighbor_mismatch``: by the pair's first post;
    - every other rule: by feature, then the feature's own order (its rank in any partition holding it).
    """

    def __init__(self, sub: Submission, stored_lines, stored_markers, config):
        self.sub, self.config = sub, config
        self.line_geometries = np.concatenate([np.asarray(sub.lines.geometry.values, dtype=object),
                                               np.asarray(stored_lines.geometry.values, dtype=object)])
        self.marker_geometries = np.concatenate([np.asarray(sub.markers.geometry.values, dtype=object),
                                                 np.asarray(stored_markers.geometry.values, dtype=object)])
        self._partner_rank: dict = {}

    def partners(self, rows: list[tuple]) -> None:
        """The position of each (feature, other feature) pair in the whole check's spatial index."""
        from boundaries.rules._geometry import DEG_PER_M

        wanted = {"lines": set(), "markers": set()}
        for issue, g, other, _rank, _group in rows:
            if other >= 0:
                wanted[issue.layer].add(g)
        if wanted["lines"]:
            g = np.array(sorted(wanted["lines"]))
            a, b = shapely.STRtree(self.line_geometries).query(self.line_geometries[g])
            self._rank_pairs("lines", g[a], b)
        if wanted["markers"]:
            geoms = self.marker_geometries
            valid_all = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
            g = np.array(sorted(wanted["markers"]))
            distance = self.config.params("marker.duplicate_position")["distance_m"] * DEG_PER_M
            a, b = shapely.STRtree(geoms[valid_all]).query(geoms[g], predicate="dwithin", distance=distance)
            self._rank_pairs("markers", g[a], valid_all[b])

    def _rank_pairs(self, layer: str, a: np.ndarray, b: np.ndarray) -> None:
        start = np.r_[0, np.flatnonzero(a[1:] != a[:-1]) + 1]
        position = np.arange(len(a)) - np.repeat(start, np.diff(np.r_[start, len(a)]))
        self._partner_rank.update(zip(zip([layer] * len(a), a.tolist(), b.tolist(), strict=True), position.tolist(),
                                      strict=True))

    def key(self, issue: Issue, g: int, other: int, rank: int, group: int) -> tuple:
        rule = issue.rule
        if rule == "line.dangle":
            first, last, _closed = _part_ends(self.line_geometries[g])
            here = np.array([issue.lon, issue.lat])
            starts = np.flatnonzero((first == here).all(axis=1))
            if len(starts):
                return (0, g, int(starts[0]), 0)
            ends = np.flatnonzero((last == here).all(axis=1))
            return (1, g, int(ends[0]) if len(ends) else rank, 0)
        if rule == "line.spike":
            first, _last, closed = _part_ends(self.line_geometries[g])
            closing = bool(((first == np.array([issue.lon, issue.lat])).all(axis=1) & closed).any())
            return (int(closing), g, rank, 0)
        if other >= 0:
            return (0, g, self._partner_rank.get((issue.layer, g, other), -1), rank)
        if rule in ("marker.coordinate_mismatch", "marker.axis_swapped"):
            return (int(getattr(issue, "declared", "lonlat") == "xy"), g, rank, 0)
        if rule == "marker.pair_side":
            return (0, group, g, rank)
        if rule == "marker.neighbor_mismatch":
            return (0, group, g, rank) if group >= 0 else (1, g, rank, 0)
        return (0, g, rank, 0)


# -- the whole check -----------------------------------------------------------------------------------------
def _superseded_dropped(sub: Submission, stored_lines, stored_markers):
    """The stored features the submission does not supersede, decided once for all of it (as the
    single-process check's views do), renumbered from 0."""
    from boundaries.rules._geometry import _keep_stored

    if len(stored_lines):
        stored_lines = stored_lines[_keep_stored(stored_lines, sub.province, sub.lines["line_id"].dropna().tolist(),
                                                 "line_id")]
    if len(stored_markers):
        stored_markers = stored_markers[_keep_stored(stored_markers, sub.province,
                                                     sub.markers["marker_id"].dropna().tolist(), "marker_id",
                                                     sub.lines["line_id"].dropna().tolist())]
    return stored_lines.reset_index(drop=True), stored_markers.reset_index(drop=True)


def _pieces(sub: Submission, stored_lines, stored_markers, plan: _Plan, pattern: str | None):
    """The partitions that hold a submitted feature, one :class:`_Piece` at a time (built when sent)."""
    for n, part in enumerate(plan.parts):
        if not len(part["lines"]) and not len(part["markers"]):
            continue
        submission, sl, sm = _partition(sub, stored_lines, stored_markers, part)
        yield _Piece(n, submission, sl, sm, part["lines"], part["markers"], part["stored_lines"],
                     part["stored_markers"], len(sub.lines), len(sub.markers), plan.tiles, part["own_markers"],
                     frozenset(plan.lonely), pattern)


def run_rules_distributed(context, config, scheduler: Scheduler, *,
                          partition_vertices: int = DEFAULT_PARTITION_VERTICES,
                          progress: Callable[[str, int, int, str], None] | None = None) -> list[Issue]:
    """:func:`boundaries.rules.run_rules` on ``scheduler``'s workers, partitioned spatially: the same issues
    in the same order (see the module's docstring). At most two partitions per worker are in flight, so
    the client never holds more than that many partitions' copies. ``progress("partitions", done, total,
    "")`` is called as partitions finish."""
    from distributed import as_completed

    from boundaries.rules import REGISTRY, fold_defects

    sub = context.submission
    stored_lines, stored_markers = _superseded_dropped(sub, context.stored_lines, context.stored_markers)
    plan = _plan(sub, stored_lines, stored_markers, context.settings, halo_m(config), partition_vertices)
    pieces = _pieces(sub, stored_lines, stored_markers, plan, context.settings.get("marker_id_pattern"))
    total = sum(1 for part in plan.parts if len(part["lines"]) or len(part["markers"]))
    client = scheduler.client
    in_flight = 2 * max(1, len(client.scheduler_info().get("workers", {})))
    pending = as_completed()
    for piece in itertools.islice(pieces, in_flight):
        pending.add(client.submit(_check_partition, piece, config, pure=False))
    rows, done = [], 0
    if progress is not None:
        progress("partitions", 0, total, "")
    for future in pending:
        rows.extend(future.result())
        future.release()
        done += 1
        if progress is not None:
            progress("partitions", done, total, f"{done}/{total}")
        piece = next(pieces, None)
        if piece is not None:
            pending.add(client.submit(_check_partition, piece, config, pure=False))
    order = _Order(sub, stored_lines, stored_markers, config)
    order.partners(rows)
    position = {rule_id: k for k, rule_id in enumerate(REGISTRY)}
    rows.sort(key=lambda row: (position.get(row[0].rule, len(position)), order.key(*row)))
    return fold_defects([row[0] for row in rows])
