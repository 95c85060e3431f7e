"""The change report between two dates of legal time (issue 15): what changed in a province's boundary
between the versions in force on one day and those in force on a later one — markers added, lost or
removed, moved (by how much, in metres in the marker's own Gauss-Krüger zone), lines added, removed and
changed (the stretches that deviate, found by ``line.neighbor_mismatch``'s own stretch finder,
:func:`boundaries.rules.lines.deviating_stretches`, with its tolerance in force for the province).

:func:`change_report` answers plain JSON-ready data (``quhua changes --json``, the viewer's page); the
writers :func:`write_xlsx` (the 界桩成果表 with each marker's condition, openpyxl) and :func:`write_json`
take that report. Between two stored submissions (or inspection rounds), give their legal dates
(:func:`submission_date`).

The selection is that of the province page (:meth:`Store.query` with ``province``): lines with a side in
the province, whoever submitted them, and the markers it submitted or standing on such lines. A version is
known by its submitter and id (``province``, ``line_id``/``marker_id``): a shared line submitted by both
neighbours is two lines, as the map draws both.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from boundaries._lazy import lazy_module
from boundaries.errors import InputError
from boundaries.legaltime import legal_date
from boundaries.store import Store

np = lazy_module("numpy")
pd = lazy_module("pandas")
shapely = lazy_module("shapely")

__all__ = ["CONDITIONS", "MOVED_MIN_M", "change_report", "changed_lines", "marker_table", "render_text",
           "submission_date", "table_headers", "write_json", "write_xlsx"]

#: A marker whose two positions are less than this far apart (metres) has not moved: declared coordinates
#: are given to the millimetre, and a re-projection round trip moves them by micrometres.
MOVED_MIN_M = 0.01
#: the condition (状况) of a marker in the 界桩成果表, by what the report found (Chinese, English); 完好 is
#: not claimed: unchanged in the record is not inspected intact (the inspection rounds record that)
CONDITIONS = {"added": ("新设", "newly set"), "removed": ("丢失或撤除", "lost or removed"),
              "moved": ("移位", "moved"), "unchanged": ("未变", "unchanged")}


def submission_date(store: Store, submission_id: int) -> date:
    """The legal date from which a stored submission's lines and markers hold (its ``--valid-from``)."""
    rows = store.fetch("SELECT min(valid_from) FROM (SELECT valid_from FROM lines WHERE submission_id = ? "
                       "UNION ALL SELECT valid_from FROM markers WHERE submission_id = ?) AS versions",
                       [int(submission_id), int(submission_id)])
    if not rows or rows[0][0] is None:
        raise InputError(f"no stored submission {submission_id} with lines or markers",
                         message_zh=f"没有含界线或界桩的已入库提交 {submission_id}")
    return legal_date(rows[0][0] if not hasattr(rows[0][0], "isoformat") else rows[0][0].isoformat())


def _tolerance(store: Store, province: str) -> float:
    from boundaries.pipeline import config_in_force

    return float(config_in_force(store, province).params("line.neighbor_mismatch").get("tolerance_m", 5.0))


def _key(frame, column: str) -> list[tuple[str, str]]:
    return list(zip(frame["province"].astype(str), frame[column].astype(str), strict=True))


def _zone_metres(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For points ``a`` and ``b`` (lon/lat, n × 2): the 3° Gauss-Krüger zone of each ``a``
    (:func:`boundaries.crs.metric_epsg`) and the displacement a → b in it (east, north, metres), one
    projection per zone."""
    from boundaries.crs import metric_epsg, transformer

    epsg = np.array([metric_epsg(lon) for lon in a[:, 0]], dtype=int) if len(a) else np.zeros(0, dtype=int)
    east, north = np.zeros(len(a)), np.zeros(len(a))
    for zone in np.unique(epsg):
        rows = epsg == zone
        t = transformer(4490, int(zone))
        xa, ya = t.transform(a[rows, 0], a[rows, 1])
        xb, yb = t.transform(b[rows, 0], b[rows, 1])
        east[rows], north[rows] = np.asarray(xb) - xa, np.asarray(yb) - ya
    return epsg, east, north


def _marker(row, **more) -> dict:
    point = row.geometry
    return {"marker_id": str(row.marker_id), "marker_type": row.marker_type, "line_id": row.line_id,
            "province": str(row.province), "x": _number(row.x), "y": _number(row.y),
            "lon": round(float(point.x), 8), "lat": round(float(point.y), 8),
            "valid_from": str(row.valid_from)[:10], "submission_id": int(row.submission_id), **more}


def _number(value):
    return None if value is None or pd.isna(value) else float(value)


def change_report(store: Store, province: str, start, end, *, tolerance_m: float | None = None) -> dict:
    """What changed in ``province`` between the versions in force on ``start`` and on ``end`` (dates,
    ``start`` before ``end``), as plain data (see the module's docstring); one read snapshot of each layer
    per date. ``tolerance_m``: the deviation above which a stretch of a line has changed (default: the
    province's ``line.neighbor_mismatch`` tolerance, 5 m unless configured)."""
    from boundaries.readers import check_province
    from boundaries.rules.lines import boundary_deviation_m, deviating_stretches

    province = check_province(province)
    start, end = legal_date(start, what="--from"), legal_date(end, what="--to")
    if end <= start:
        raise InputError(f"--to {end} must be after --from {start}",
                         message_zh=f"--to {end} 须晚于 --from {start}")
    tolerance = float(tolerance_m) if tolerance_m is not None else _tolerance(store, province)
    lines = {d: store.query("lines", province=province, at=d, count=False).features for d in (start, end)}
    markers = {d: store.query("markers", province=province, at=d, count=False).features for d in (start, end)}

    before = dict(zip(_key(markers[start], "marker_id"), markers[start].itertuples(), strict=True))
    after = dict(zip(_key(markers[end], "marker_id"), markers[end].itertuples(), strict=True))
    added = [_marker(after[k]) for k in sorted(set(after) - set(before))]
    removed = [_marker(before[k]) for k in sorted(set(before) - set(after))]
    moved, unchanged = [], []
    both = sorted(set(before) & set(after))
    xy = {which: np.array([[p.geometry.x, p.geometry.y] for p in (side[k] for k in both)]).reshape(-1, 2)
          for which, side in (("old", before), ("new", after))}
    zones, easts, norths = _zone_metres(xy["old"], xy["new"])
    for k, epsg, dx, dy in zip(both, zones.tolist(), easts.tolist(), norths.tolist(), strict=True):
        old, new = before[k], after[k]
        distance = float(np.hypot(dx, dy))
        if distance >= MOVED_MIN_M:
            moved.append(_marker(new, moved_m=round(distance, 3), east_m=round(dx, 3), north_m=round(dy, 3),
                                 zone_epsg=int(epsg), from_lon=round(float(old.geometry.x), 8),
                                 from_lat=round(float(old.geometry.y), 8)))
        else:
            unchanged.append(_marker(new))

    old_lines = dict(zip(_key(lines[start], "line_id"), lines[start].itertuples(), strict=True))
    new_lines = dict(zip(_key(lines[end], "line_id"), lines[end].itertuples(), strict=True))
    changed = []
    for k in sorted(set(old_lines) & set(new_lines)):
        old, new = old_lines[k], new_lines[k]
        if int(old.fid) == int(new.fid):
            continue  # the same version in force on both days
        same_shape = shapely.equals_exact(old.geometry, new.geometry, 1e-9)
        epsg, stretches = (None, []) if same_shape else deviating_stretches(new.geometry, old.geometry, tolerance)
        deviation = 0.0 if same_shape else boundary_deviation_m(new.geometry, old.geometry, tolerance)
        attributes = [c for c in ("left_code", "right_code", "name") if getattr(old, c) != getattr(new, c)]
        if same_shape and not attributes:
            continue
        changed.append({**_line_summary(new), "zone_epsg": epsg, "km_before": _km(old.geometry),
                        "max_deviation_m": round(deviation, 3), "attributes": attributes,
                        "stretches": [{k2: round(v, 3) if k2 not in ("lon", "lat") else round(v, 8)
                                       for k2, v in s.items()} for s in stretches],
                        "from_submission": int(old.submission_id), "from_fid": int(old.fid)})
    report = {
        "province": province, "from": start.isoformat(), "to": end.isoformat(), "tolerance_m": tolerance,
        "moved_min_m": MOVED_MIN_M,
        "markers": {"added": added, "removed": removed, "moved": moved, "unchanged": unchanged},
        "lines": {"added": [_line_summary(new_lines[k]) for k in sorted(set(new_lines) - set(old_lines))],
                  "removed": [_line_summary(old_lines[k]) for k in sorted(set(old_lines) - set(new_lines))],
                  "changed": changed},
    }
    report["summary"] = {"markers_added": len(added), "markers_removed": len(removed), "markers_moved": len(moved),
                         "markers_unchanged": len(unchanged), "lines_added": len(report["lines"]["added"]),
                         "lines_removed": len(report["lines"]["removed"]), "lines_changed": len(changed)}
    return report


def changed_lines(store: Store, report: dict):
    """The versions of the report's changed, removed and added lines, for its maps: ``(before, after)``
    frames (EPSG:4490) — before the earlier date's versions of the changed and removed lines, after the later
    date's of the changed and added ones."""
    import geopandas as gpd

    from boundaries.store import empty_layer

    def versions(fids):
        frames = [store.get("lines", fid, history=True) for fid in fids]
        frames = [f for f in frames if len(f)]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4490) if frames else empty_layer("lines")

    lines = report["lines"]
    return (versions([c["from_fid"] for c in lines["changed"]] + [r["fid"] for r in lines["removed"]]),
            versions([c["fid"] for c in lines["changed"]] + [a["fid"] for a in lines["added"]]))


def _km(geometry) -> float:
    from boundaries.crs import metric_epsg, transformer

    lon = (geometry.bounds[0] + geometry.bounds[2]) / 2
    projected = shapely.transform(geometry, lambda xy: np.column_stack(
        transformer(4490, metric_epsg(lon)).transform(xy[:, 0], xy[:, 1])))
    return round(float(projected.length) / 1000, 3)


def _line_summary(row) -> dict:
    return {"line_id": str(row.line_id), "fid": int(row.fid), "province": str(row.province), "name": row.name,
            "left_code": row.left_code, "right_code": row.right_code, "valid_from": str(row.valid_from)[:10],
            "submission_id": int(row.submission_id), "km": _km(row.geometry)}


def table_headers(lang: str = "zh") -> tuple[str, ...]:
    """The columns of :func:`marker_table`: the 界桩成果表's (界桩编号, 类型, X, Y, 经度, 纬度, 状况 …)."""
    if lang != "en":
        return ("界桩编号", "类型", "所在界线", "X（纵坐标）", "Y（横坐标）", "经度", "纬度", "状况", "移动距离（米）",
                "报送省份", "法定生效日期", "说明")
    return ("Marker", "Type", "Line", "X (northing)", "Y (easting)", "Longitude", "Latitude", "Condition",
            "Moved (m)", "Submitted by", "In force from", "Remark")


def marker_table(report: dict, lang: str = "zh") -> list[dict]:
    """The 界桩成果表 of the report's later date: every marker then in force with its condition, then the
    markers lost or removed since the earlier date (their last position), ordered by marker number. Column
    names are the standard Chinese headers (English with ``lang="en"``)."""
    zh = lang != "en"
    headers = table_headers(lang)
    rows = []
    for status in ("added", "moved", "unchanged", "removed"):
        for m in report["markers"][status]:
            remark = ""
            if status == "moved":
                remark = (f"自 {m['from_lon']:.7f}, {m['from_lat']:.7f} 移动（EPSG:{m['zone_epsg']}："
                          f"东 {m['east_m']:+.3f} m，北 {m['north_m']:+.3f} m）" if zh else
                          f"from {m['from_lon']:.7f}, {m['from_lat']:.7f} (EPSG:{m['zone_epsg']}: east "
                          f"{m['east_m']:+.3f} m, north {m['north_m']:+.3f} m)")
            elif status == "removed":
                remark = (f"{report['to']} 已无此界桩；为其最后位置" if zh else
                          f"no longer in force on {report['to']}; its last position")
            values = (m["marker_id"], m["marker_type"], m["line_id"], m["x"], m["y"], m["lon"], m["lat"],
                      CONDITIONS[status][0 if zh else 1], m.get("moved_m"), m["province"], m["valid_from"], remark)
            rows.append(dict(zip(headers, values, strict=True)))
    return sorted(rows, key=lambda r: (str(r[headers[0]]), r[headers[9]]))


def render_text(report: dict, lang: str = "zh") -> str:
    """The report as the terminal shows it: the counts, then each change on a line."""
    zh = lang != "en"
    n = report["summary"]
    out = [(f"{report['province']}：{report['from']} → {report['to']}（法定时间）" if zh else
            f"{report['province']}: {report['from']} → {report['to']} (legal time)"),
           (f"界桩：新增 {n['markers_added']}，丢失或撤除 {n['markers_removed']}，移位 {n['markers_moved']}，"
            f"未变 {n['markers_unchanged']}；界线：新增 {n['lines_added']}，撤除 {n['lines_removed']}，"
            f"变化 {n['lines_changed']}" if zh else
            f"markers: {n['markers_added']} added, {n['markers_removed']} lost or removed, {n['markers_moved']} moved, "
            f"{n['markers_unchanged']} unchanged; lines: {n['lines_added']} added, {n['lines_removed']} removed, "
            f"{n['lines_changed']} changed")]
    for status in ("added", "removed", "moved"):
        label = CONDITIONS[status][0 if zh else 1]
        for m in report["markers"][status]:
            moved = (f"  {m['moved_m']:.3f} m（EPSG:{m['zone_epsg']}）" if zh else
                     f"  {m['moved_m']:.3f} m (EPSG:{m['zone_epsg']})") if status == "moved" else ""
            out.append(f"  {label}\t{m['marker_id']}\t{m['lon']:.7f}, {m['lat']:.7f}{moved}")
    for line in report["lines"]["changed"]:
        for s in line["stretches"]:
            out.append(f"  {'界线变化' if zh else 'line changed'}\t{line['line_id']} ({line['province']})\t"
                       f"{s['from_m'] / 1000:.3f}–{s['to_m'] / 1000:.3f} km, {s['length_m']:.1f} m, "
                       f"{'最大偏差' if zh else 'up to'} {s['deviation_m']:.2f} m")
        if not line["stretches"]:
            out.append(f"  {'界线变化' if zh else 'line changed'}\t{line['line_id']} ({line['province']})\t"
                       f"{'最大偏差' if zh else 'up to'} {line['max_deviation_m']:.2f} m "
                       f"{', '.join(line['attributes'])}")
    for status, labels in (("added", ("新增界线", "line added")), ("removed", ("撤除界线", "line removed"))):
        for line in report["lines"][status]:
            out.append(f"  {labels[0] if zh else labels[1]}\t{line['line_id']} ({line['province']})\t"
                       f"{line['km']:.3f} km")
    return "\n".join(out)


def write_json(report: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


def _cell(value):
    """A cell as a spreadsheet may hold it: text that a spreadsheet would evaluate is neutralised as the
    exports' CSV is (:func:`boundaries.export.neutralise_formulas`)."""
    from boundaries.export import _FORMULA_START

    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_xlsx(report: dict, path: Path, lang: str = "zh") -> None:
    """The report as a workbook (openpyxl): the 界桩成果表 with conditions, the changed lines and their
    stretches, and a summary sheet; every text cell neutralised against formula injection."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    zh = lang != "en"
    book = Workbook()
    summary = book.active
    summary.title = "汇总" if zh else "Summary"
    names = {"markers_added": ("新增界桩", "markers added"),
             "markers_removed": ("丢失或撤除的界桩", "markers lost or removed"),
             "markers_moved": ("移位界桩", "markers moved"), "markers_unchanged": ("未变界桩", "markers unchanged"),
             "lines_added": ("新增界线", "lines added"), "lines_removed": ("撤除的界线", "lines removed"),
             "lines_changed": ("变化的界线", "lines changed")}
    summary.append(["省份" if zh else "Province", report["province"]])
    summary.append(["自" if zh else "From", report["from"]])
    summary.append(["至" if zh else "To", report["to"]])
    summary.append(["界线偏差限值（米）" if zh else "Line tolerance (m)", report["tolerance_m"]])
    for key, (chinese, english) in names.items():
        summary.append([chinese if zh else english, report["summary"][key]])
    table = book.create_sheet("界桩成果表" if zh else "Markers")
    rows, headers = marker_table(report, lang), table_headers(lang)
    table.append(list(headers))
    for row in rows:
        table.append([_cell(row[h]) for h in headers])
    lines = book.create_sheet("界线变化" if zh else "Lines")
    lines.append(["界线编号", "名称", "报送省份", "投影带", "最大偏差（米）", "变化段起点（千米）",
                  "变化段终点（千米）", "变化段长度（米）", "变化段最大偏差（米）", "经度", "纬度"] if zh else
                 ["Line", "Name", "Submitted by", "Zone", "Largest deviation (m)", "Stretch from (km)",
                  "Stretch to (km)", "Stretch length (m)", "Stretch deviation (m)", "Longitude", "Latitude"])
    for line in report["lines"]["changed"]:
        zone = f"EPSG:{line['zone_epsg']}" if line["zone_epsg"] else ""
        for s in line["stretches"] or [None]:
            stretch = [round(s["from_m"] / 1000, 3), round(s["to_m"] / 1000, 3), s["length_m"], s["deviation_m"],
                       s["lon"], s["lat"]] if s else [None] * 6
            lines.append([_cell(v) for v in (line["line_id"], line["name"], line["province"], zone,
                                             line["max_deviation_m"], *stretch)])
    for status in ("added", "removed"):
        for line in report["lines"][status]:
            label = ("新增" if status == "added" else "撤除") if zh else status
            lines.append([_cell(v) for v in (line["line_id"], line["name"], line["province"], label)])
    for sheet in (summary, table, lines):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    book.save(path)
