"""The check on a Dask cluster (issue 16): the same rules, run per spatial partition, the same report.

    quhua check --scheduler local:2 …            # a dask.distributed LocalCluster of 2 worker processes
    quhua check --scheduler tcp://host:8786 …    # any dask.distributed scheduler

The client (the ``quhua check`` process) reads the submission and the stored features near it as the
single-process check does; this module then cuts space into tiles (a quadtree over longitude/latitude,
split until the features within a tile and its halo hold at most ``partition_vertices`` vertices) and
sends each tile's features to a worker, which runs every rule on them through
:func:`boundaries.rules.run_rules`, the single-process entry point, unchanged.

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
- **Order.** Each partition's features keep their order in the submission, so each rule reports them in
  the same relative order; the partitions' issues are merged in the order of the rule registry and, within
  a rule, by the place of their feature in the submission and the rule's own order (:func:`_order_key`).

Memory: a worker holds one partition at a time (one thread per worker); ``worker_memory`` caps a local
worker (dask pauses, then restarts a worker beyond it). The client holds what the single-process check
holds before its rules run: the submission and the stored features near it.
"""

from __future__ import annotations

import math
import re
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


def open_scheduler(address: str, *, worker_memory: str | None = None, timeout_s: float = 10.0) -> Scheduler:
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
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=worker_memory or "auto", silence_logs=50)
        return Scheduler(Client(cluster), cluster)
    if not re.fullmatch(r"(tcp|tls|ws|wss|inproc|ucx)://[^\s/]+(:\d+)?/?", address.strip()):
        raise _bad_scheduler(address, "不是调度器地址", "is not a scheduler address")
    try:
        return Scheduler(Client(address.strip(), timeout=timeout_s))
    except (OSError, TimeoutError, ValueError) as err:
        raise _bad_scheduler(address, f"无法连接（{timeout_s:g} 秒内无应答：{type(err).__name__}）",
                             f"cannot be reached (no answer within {timeout_s:g} s: {type(err).__name__})") from err


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


def tiles(boxes: np.ndarray, weights: np.ndarray, halo: float, budget: int) -> np.ndarray:
    """Disjoint tiles (w, s, e, n; west and south edges inside, east and north outside) covering ``boxes``
    (features' extents in degrees, finite): a quadtree split while the weight of the features within a tile's
    halo exceeds ``budget`` and the tile is wider than its halo (a smaller one would hold the same
    features). Tiles whose halo meets no feature are left out."""
    if not len(boxes):
        return np.zeros((0, 4))
    tree = shapely.STRtree(shapely.box(*boxes.T))
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
    away from every tile)."""
    inside = ((points[:, None, 0] >= grid[None, :, 0]) & (points[:, None, 0] < grid[None, :, 2])
              & (points[:, None, 1] >= grid[None, :, 1]) & (points[:, None, 1] < grid[None, :, 3]))
    found = np.where(inside.any(axis=1), inside.argmax(axis=1), -1)
    for k in np.flatnonzero(found < 0):
        cx = np.clip(points[k, 0], grid[:, 0], grid[:, 2])
        cy = np.clip(points[k, 1], grid[:, 1], grid[:, 3])
        found[k] = int(np.argmin(np.hypot(cx - points[k, 0], cy - points[k, 1])))
    return found


@dataclass
class _Plan:
    """What each partition holds: row indices into the submission's and the stored layers."""

    tiles: np.ndarray
    parts: list[dict]  # lines, markers, stored_lines, stored_markers (index arrays), own_markers (or None)
    anchor: dict  # ("lines" | "markers", index) -> tile of an issue without a place


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
    from boundaries.rules._geometry import pair_keys

    lines, markers = sub.lines, sub.markers
    n_l, n_sl, n_m = len(lines), len(stored_lines), len(markers)
    boxes = np.concatenate([_extents(lines), _extents(stored_lines), _extents(markers), _extents(stored_markers)])
    weights = np.concatenate([
        shapely.get_num_coordinates(np.asarray(lines.geometry.values, dtype=object)) if n_l else [],
        shapely.get_num_coordinates(np.asarray(stored_lines.geometry.values, dtype=object)) if n_sl else [],
        np.ones(n_m + len(stored_markers))]).astype(np.int64)
    located = np.isfinite(boxes).all(axis=1)
    grid = tiles(boxes[located], weights[located], halo, budget)
    if not len(grid):
        grid = np.array([[0.0, 0.0, 1.0, 1.0]])
    tree = shapely.STRtree(shapely.box(*np.where(located[:, None], boxes, 0.0).T))
    offsets = np.cumsum([0, n_l, n_sl, n_m, len(stored_markers)])

    # references: versions of one boundary, a marker's lines, the markers of one number
    all_keys = pair_keys(np.r_[lines["left_code"].to_numpy(dtype=object), stored_lines["left_code"].to_numpy(dtype=object)]
                         if n_sl else lines["left_code"].to_numpy(dtype=object),
                         np.r_[lines["right_code"].to_numpy(dtype=object), stored_lines["right_code"].to_numpy(dtype=object)]
                         if n_sl else lines["right_code"].to_numpy(dtype=object))
    line_ids = np.r_[lines["line_id"].to_numpy(dtype=object),
                     stored_lines["line_id"].to_numpy(dtype=object) if n_sl else np.zeros(0, dtype=object)]
    by_key = pd.Series(np.arange(len(all_keys))).groupby(pd.Series(all_keys, dtype=object)).indices
    by_line_id: dict = {}
    for n, line_id in enumerate(line_ids):
        if isinstance(line_id, str):
            by_line_id.setdefault(line_id, []).append(n)
            prefix = re.match(r"\d*", line_id).group()
            if prefix != line_id:
                by_line_id.setdefault(prefix, []).append(n)
    pattern = settings.get("marker_id_pattern")
    groups = _marker_groups(pd.concat([markers["marker_id"], stored_markers["marker_id"]], ignore_index=True)
                            if len(stored_markers) else markers["marker_id"], pattern)
    by_group = pd.Series(np.arange(len(groups))).groupby(pd.Series(groups, dtype=object)).indices
    marker_line = markers["line_id"].to_numpy(dtype=object)
    codes = np.r_[lines["left_code"].to_numpy(dtype=object), lines["right_code"].to_numpy(dtype=object)]
    unsound = np.flatnonzero([not (isinstance(a, str) and isinstance(b, str) and a.isdigit() and b.isdigit()
                                   and len(a) in (6, 9, 12) and len(b) in (6, 9, 12) and a != b)
                              for a, b in zip(codes[:n_l], codes[n_l:], strict=True)])

    lonely = _lonely_markers(sub, boxes[offsets[2]:offsets[3]], located[offsets[2]:offsets[3]], halo)
    grown = _grown(grid, halo)
    parts = []
    for box in grown:
        hit = tree.query(shapely.box(*box))
        hit = hit[located[hit]]
        parts.append(_closed(hit, offsets, all_keys, by_key, by_line_id, marker_line, groups, by_group, unsound,
                             stored_codes=None))
    # features without a usable extent (no or non-finite geometry) go with the first tile
    unlocated = np.flatnonzero(~located)
    if len(unlocated):
        parts[0] = _closed(np.union1d(np.concatenate([parts[0][k] + offsets[n] for n, k in enumerate(
            ("lines", "stored_lines", "markers", "stored_markers"))]), unlocated), offsets, all_keys, by_key,
            by_line_id, marker_line, groups, by_group, unsound, stored_codes=None)
    anchor = {}
    centres = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
    owners = np.zeros(len(boxes), dtype=int)
    owners[located] = _tile_of(centres[located], grid)
    for layer, lo, hi in (("lines", 0, n_l), ("markers", offsets[2], offsets[3])):
        anchor[layer] = owners[lo:hi]
    for part in parts:
        part["own_markers"] = None
    # a marker far from every submitted line: its own partition, as wide as its nearest line needs
    for k, metres in lonely.items():
        box = _grown(np.where(np.isfinite(boxes[offsets[2] + k]), boxes[offsets[2] + k], 0.0)[None], metres)[0]
        hit = tree.query(shapely.box(*box))
        hit = np.union1d(hit[located[hit]], [offsets[2] + k])
        part = _closed(hit, offsets, all_keys, by_key, by_line_id, marker_line, groups, by_group, unsound,
                       stored_codes=None)
        part["own_markers"] = np.array([k])
        parts.append(part)
    return _Plan(grid, parts, {"anchor": anchor, "lonely": set(lonely)})


def _lonely_markers(sub: Submission, boxes: np.ndarray, located: np.ndarray, halo: float) -> dict[int, float]:
    """Markers with no submitted line within ``halo``: the metres within which their nearest line (of any
    kind) certainly lies, from the nearest submitted line in degrees (a degree is at most 113 km here)."""
    lines = np.asarray(sub.lines.geometry.values, dtype=object)
    usable = ~shapely.is_empty(lines) & ~shapely.is_missing(lines) & np.isfinite(shapely.bounds(lines)).all(axis=1) \
        if len(lines) else np.zeros(0, dtype=bool)
    k = np.flatnonzero(located)
    if not len(k):
        return {}
    if not usable.any():
        return {}  # nothing to measure against in any partition: no halo matters
    tree = shapely.STRtree(shapely.box(*shapely.bounds(lines[usable]).T))
    points = shapely.box(*_grown(boxes[k], halo).T)
    near = np.unique(tree.query(points)[0])
    far = np.setdiff1d(np.arange(len(k)), near)
    if not len(far):
        return {}
    geometry_tree = shapely.STRtree(lines[usable])
    centres = shapely.points(boxes[k[far], 0], boxes[k[far], 1])
    (_, _), degrees = geometry_tree.query_nearest(centres, return_distance=True, all_matches=False)
    return {int(k[f]): max(halo, float(d) * 113_000.0 + halo) for f, d in zip(far, degrees, strict=True)}


def _closed(hit: np.ndarray, offsets, all_keys, by_key, by_line_id, marker_line, groups, by_group, unsound,
            stored_codes) -> dict:
    """The features ``hit`` (indices in the concatenation lines | stored lines | markers | stored markers)
    plus those they reference; as index arrays per layer."""
    n_l, n_sl, n_m = offsets[1], offsets[2] - offsets[1], offsets[3] - offsets[2]
    line_rows = hit[hit < offsets[2]]
    marker_rows = hit[(hit >= offsets[2])] - offsets[2]  # submitted then stored markers, one numbering
    extra_lines = []
    for k in marker_rows[marker_rows < n_m]:
        extra_lines.extend(by_line_id.get(marker_line[k], ()))
    marker_set = set(marker_rows.tolist())
    for group in {groups[k] for k in marker_rows} - {None}:
        marker_set.update(by_group[group].tolist())
    line_set = set(line_rows.tolist()) | set(extra_lines)
    for key in {all_keys[n] for n in line_set} - {None}:
        line_set.update(by_key[key].tolist())
    if any(n >= n_l for n in line_set) and len(unsound):  # broken-coded lines may hold a stored boundary's stretch
        line_set.update(unsound.tolist())
    lines_all = np.array(sorted(line_set), dtype=int)
    markers_all = np.array(sorted(marker_set), dtype=int)
    del n_sl
    return {"lines": lines_all[lines_all < n_l], "stored_lines": lines_all[lines_all >= n_l] - n_l,
            "markers": markers_all[markers_all < n_m], "stored_markers": markers_all[markers_all >= n_m] - n_m}


# -- one partition, on a worker ------------------------------------------------------------------------------
def _tagged(frame, rows: np.ndarray):
    """``frame``'s ``rows``, with each row's index in the submission appended to its ``source_file``."""
    part = frame.iloc[rows].copy()
    source = part["source_file"].to_numpy(dtype=object) if "source_file" in part else np.full(len(part), None)
    part["source_file"] = [f"{s if isinstance(s, str) else ''}{_SEP}{g}" for s, g in zip(source, rows, strict=True)]
    return part


def _partition(sub: Submission, stored_lines, stored_markers, part: dict) -> tuple[Submission, object, object]:
    lines, markers = _tagged(sub.lines, part["lines"]), _tagged(sub.markers, part["markers"])
    crs_of = {layer["source"]: layer for layer in sub.layers if layer.get("layer") == "markers"}
    original = sub.markers["source_file"].to_numpy(dtype=object)[part["markers"]] if "source_file" in sub.markers \
        else [None] * len(part["markers"])
    # the marker rules read a marker's declared CRS by its source file: the tagged names say the same
    layers = list(sub.layers) + [crs_of[s] | {"source": t} for s, t in zip(original, markers["source_file"], strict=True)
                                 if s in crs_of]
    piece = replace(sub, lines=lines, markers=markers, layers=layers)
    return piece, stored_lines.iloc[part["stored_lines"]], stored_markers.iloc[part["stored_markers"]]


def _check_partition(piece: Submission, stored_lines, stored_markers, config, n: int, plan_info: dict) -> list:
    """Run every rule on one partition (on a worker); the issues this partition owns, each with its
    feature's index in the submission and its place in the partition's report."""
    from boundaries.rules import CheckContext, run_rules

    context = CheckContext(piece, stored_lines, stored_markers, config.settings())
    found = run_rules(context, config)
    grid, own_markers = plan_info["tiles"], plan_info["own_markers"]
    anchor, lonely = plan_info["anchor"], plan_info["lonely"]
    lines_of = piece.lines.index  # not used; kept positional below
    del lines_of
    local_lines = piece.lines["source_file"].map(lambda s: int(s.rsplit(_SEP, 1)[1])).to_numpy()
    local_markers = piece.markers["source_file"].map(lambda s: int(s.rsplit(_SEP, 1)[1])).to_numpy()
    out = []
    for seq, issue in enumerate(found):
        if issue.file is None or _SEP not in issue.file:
            continue  # not a feature's issue: found while reading, reported once by the client
        file, g = issue.file.rsplit(_SEP, 1)
        g = int(g)
        issue.file = file or None
        layer = issue.layer
        if layer == "markers" and own_markers is not None:
            if g not in own_markers:
                continue
        elif layer == "markers" and g in lonely:
            continue
        else:
            if issue.lon is not None and issue.lat is not None:
                tile = int(_tile_of(np.array([[issue.lon, issue.lat]]), grid)[0])
            else:
                tile = int(anchor[layer][g])
            if tile != n:
                continue
        _renumber(issue, local_lines, local_markers, plan_info["n_lines"], piece)
        out.append((g, seq, issue))
    return out


def _renumber(issue: Issue, local_lines: np.ndarray, local_markers: np.ndarray, n_lines: int, piece) -> None:
    """Features without an id are named ``#n`` by their row in the partition: name their row in the
    submission instead."""
    def global_name(match: re.Match) -> str:
        k = int(match.group(1)) - 1
        table = local_markers if issue.layer == "markers" else local_lines
        return f"#{table[k] + 1}" if 0 <= k < len(table) else match.group(0)

    if issue.feature and _UNNAMED.fullmatch(issue.feature):
        issue.feature = _UNNAMED.sub(global_name, issue.feature)
        issue.message = _UNNAMED.sub(global_name, issue.message)
        if issue.message_en:
            issue.message_en = _UNNAMED.sub(global_name, issue.message_en)


# -- the whole check -----------------------------------------------------------------------------------------
def _order_key(issue: Issue, g: int, seq: int, tile: int) -> tuple:
    """Where an issue goes among its rule's issues: by its feature's place in the submission, then in the
    order its partition reported it (partitions that share a feature report its issues in one order)."""
    return (g, tile, seq)


def run_rules_distributed(context, config, scheduler: Scheduler, *, partition_vertices: int = DEFAULT_PARTITION_VERTICES,
                          progress: Callable[[str, int, int, str], None] | None = None) -> list[Issue]:
    """:func:`boundaries.rules.run_rules` on ``scheduler``'s workers, partitioned spatially: the same issues
    in the same order (see the module's docstring)."""
    from distributed import as_completed

    from boundaries.rules import REGISTRY
    from boundaries.rules._geometry import _keep_stored

    sub = context.submission
    stored_lines, stored_markers = context.stored_lines, context.stored_markers
    if len(stored_lines):  # what the submission supersedes, decided once for all of it
        stored_lines = stored_lines[_keep_stored(stored_lines, sub.province, sub.lines["line_id"].dropna().tolist(),
                                                 "line_id")]
    if len(stored_markers):
        stored_markers = stored_markers[_keep_stored(stored_markers, sub.province,
                                                     sub.markers["marker_id"].dropna().tolist(), "marker_id",
                                                     sub.lines["line_id"].dropna().tolist())]
    stored_lines, stored_markers = stored_lines.reset_index(drop=True), stored_markers.reset_index(drop=True)
    plan = _plan(sub, stored_lines, stored_markers, context.settings, halo_m(config), partition_vertices)
    client = scheduler.client
    futures = {}
    for n, part in enumerate(plan.parts):
        if not len(part["lines"]) and not len(part["markers"]):
            continue
        piece, sl, sm = _partition(sub, stored_lines, stored_markers, part)
        info = {"tiles": plan.tiles, "own_markers": part["own_markers"], "anchor": plan.anchor["anchor"],
                "lonely": plan.anchor["lonely"], "n_lines": len(sub.lines)}
        futures[client.submit(_check_partition, piece, sl, sm, config, n, info, pure=False)] = n
    found = []
    done = 0
    if progress is not None:
        progress("partitions", 0, len(futures), "")
    for future in as_completed(list(futures)):
        n = futures[future]
        found.extend((issue, g, seq, n) for g, seq, issue in future.result())
        done += 1
        if progress is not None:
            progress("partitions", done, len(futures), f"{done}/{len(futures)}")
        future.release()
    order = {rule_id: k for k, rule_id in enumerate(REGISTRY)}
    found.sort(key=lambda t: (order.get(t[0].rule, len(order)), _order_key(*t)))
    return [issue for issue, *_ in found]
