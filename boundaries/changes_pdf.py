"""The change report (:mod:`boundaries.changes`) as a printable PDF a joint team can sign: A4 pages with the
title and dates, the counts, a map of what changed, the 界桩成果表 of the changed markers with their
condition, the changed stretches of lines, and a signature box for each province concerned (the province
and the neighbours on the other side of its changed lines).

Drawn with matplotlib as :mod:`webmap.printmap` draws the viewer's printed maps (vector PDF, the subset of
Noto Sans CJK SC it uses embedded, text searchable); it needs the ``print`` extra. Unchanged markers are not
listed (the XLSX workbook has the whole table): a signed page lists what the teams agree has changed.
"""

from __future__ import annotations

from pathlib import Path

from boundaries.changes import CONDITIONS
from boundaries.errors import InputError

__all__ = ["write_pdf"]

_A4 = (8.27, 11.69)
_FONT = "Noto Sans CJK SC"
_ROWS = 34  # table rows on a page


def _name(code: str, zh: bool) -> str:
    from boundaries.readers import PROVINCES

    return f"{PROVINCES.get(str(code)[:2], code)}（{code}）" if zh else f"province {code}"


def _sides(report: dict) -> list[str]:
    """The provinces that sign: the report's, then the other side of every changed, added or removed line."""
    codes = [report["province"]]
    for status in ("changed", "added", "removed"):
        for line in report["lines"][status]:
            for code in (line["left_code"], line["right_code"]):
                code = str(code or "")[:2] + "0000"
                if code[:2].isdigit() and code not in codes:
                    codes.append(code)
    return codes


def _figure():
    import matplotlib

    matplotlib.use("agg", force=False)
    from matplotlib.figure import Figure

    matplotlib.rcParams["pdf.fonttype"] = 42
    matplotlib.rcParams["font.family"] = [_FONT, "sans-serif"]
    return Figure(figsize=_A4)


def _map(ax, report: dict, before, after, zh: bool) -> None:
    import numpy as np

    lat = []
    for frame, colour, style, label in ((before, "#d73027", "--", "变化前界线" if zh else "line before"),
                                        (after, "#4575b4", "-", "变化后界线" if zh else "line after")):
        if frame is None or not len(frame):
            continue
        for geometry in frame.geometry:
            for part in getattr(geometry, "geoms", [geometry]):
                x, y = part.xy
                ax.plot(x, y, style, color=colour, linewidth=1.2, label=label)
                label = None
                lat += list(y)
    colours = {"added": "#1a9850", "removed": "#d73027", "moved": "#762a83"}
    for status, colour in colours.items():
        points = report["markers"][status]
        if points:
            ax.scatter([p["lon"] for p in points], [p["lat"] for p in points], s=28, color=colour, zorder=3,
                       label=CONDITIONS[status][0 if zh else 1])
            lat += [p["lat"] for p in points]
    stretches = [s for line in report["lines"]["changed"] for s in line["stretches"]]
    if stretches:
        ax.scatter([s["lon"] for s in stretches], [s["lat"] for s in stretches], s=90, facecolors="none",
                   edgecolors="#f46d43", linewidths=2, zorder=4, label="变化段" if zh else "changed stretch")
    if lat:
        ax.set_aspect(1 / np.cos(np.radians(np.mean(lat))))  # degrees of longitude shorter by cos(latitude)
        ax.legend(loc="best", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_xlabel("经度" if zh else "longitude", fontsize=7)
    ax.set_ylabel("纬度" if zh else "latitude", fontsize=7)


def _table(fig, rect, header: list[str], rows: list[list], title: str) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    ax.set_title(title, fontsize=10, loc="left")
    if not rows:
        ax.text(0, 0.9, "无" if any("\u4e00" <= c <= "\u9fff" for c in title) else "none", fontsize=8)
        return
    table = ax.table(cellText=[[("" if v is None else str(v)) for v in r] for r in rows], colLabels=header,
                     loc="upper left", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    table.scale(1, 1.25)


def _signatures(fig, sides: list[str], zh: bool) -> None:
    """One box per province: representative's signature, seal and date."""
    from matplotlib.patches import Rectangle

    ax = fig.add_axes((0.07, 0.04, 0.86, 0.2))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0, 0.97, "会签" if zh else "Signatures", fontsize=10, va="top")
    width = 1 / len(sides)
    for i, code in enumerate(sides):
        x = i * width + 0.01
        ax.add_patch(Rectangle((x, 0.02), width - 0.02, 0.8, fill=False, linewidth=1))
        ax.text(x + 0.01, 0.76, _name(code, zh), fontsize=8, va="top")
        for j, label in enumerate(("代表（签字）：", "单位（盖章）：", "日期：") if zh else
                                  ("Representative (signature):", "Office (seal):", "Date:")):
            ax.text(x + 0.01, 0.6 - j * 0.2, label, fontsize=7.5, va="top")
            ax.plot([x + 0.01, x + width - 0.03], [0.45 - j * 0.2, 0.45 - j * 0.2], color="#999", linewidth=0.6)


def write_pdf(report: dict, path: Path, lang: str = "zh", lines_before=None, lines_after=None) -> None:
    """Write the report as a PDF to ``path`` (see the module's docstring); ``lines_before``/``lines_after``:
    the changed lines' two versions for the map (:func:`boundaries.changes.changed_lines`)."""
    try:
        from matplotlib.backends.backend_pdf import PdfPages
    except ImportError as err:
        raise InputError("the PDF report needs matplotlib: pip install 'quhua[print]'",
                         message_zh="PDF 报告需要 matplotlib：请运行 pip install 'quhua[print]'") from err
    zh = lang != "en"
    title = (f"{_name(report['province'], zh)}界线界桩变化报告" if zh else
             f"Changes of the boundary lines and markers of {_name(report['province'], zh)}")
    dates = (f"法定时间 {report['from']} → {report['to']}" if zh else f"legal time {report['from']} → {report['to']}")
    n = report["summary"]
    counts = (f"界桩：新设 {n['markers_added']}，丢失或撤除 {n['markers_removed']}，移位 {n['markers_moved']}，"
              f"未变 {n['markers_unchanged']}；界线：新增 {n['lines_added']}，撤除 {n['lines_removed']}，"
              f"变化 {n['lines_changed']}（偏差限值 {report['tolerance_m']:g} m）" if zh else
              f"markers: {n['markers_added']} newly set, {n['markers_removed']} lost or removed, "
              f"{n['markers_moved']} moved, {n['markers_unchanged']} unchanged; lines: {n['lines_added']} added, "
              f"{n['lines_removed']} removed, {n['lines_changed']} changed (tolerance {report['tolerance_m']:g} m)")
    markers = [[m["marker_id"], m["marker_type"], m["line_id"], m["x"], m["y"], f"{m['lon']:.7f}", f"{m['lat']:.7f}",
                CONDITIONS[status][0 if zh else 1], f"{m['moved_m']:.3f}" if status == "moved" else ""]
               for status in ("added", "removed", "moved") for m in report["markers"][status]]
    marker_header = (["界桩编号", "类型", "界线", "X", "Y", "经度", "纬度", "状况", "移动（米）"] if zh else
                     ["Marker", "Type", "Line", "X", "Y", "Lon", "Lat", "Condition", "Moved (m)"])
    stretches = [[line["line_id"], line["province"], f"EPSG:{line['zone_epsg']}" if line["zone_epsg"] else "",
                  f"{s['from_m'] / 1000:.3f}", f"{s['to_m'] / 1000:.3f}", f"{s['length_m']:.1f}",
                  f"{s['deviation_m']:.2f}"]
                 for line in report["lines"]["changed"] for s in line["stretches"]]
    stretch_header = (["界线", "报送省份", "投影带", "起点（千米）", "终点（千米）", "长度（米）", "最大偏差（米）"]
                      if zh else
                      ["Line", "Submitted by", "Zone", "From (km)", "To (km)", "Length (m)", "Deviation (m)"])
    with PdfPages(path, metadata={"Title": title}) as pdf:
        fig = _figure()
        fig.text(0.07, 0.96, title, fontsize=14, weight="bold", va="top")
        fig.text(0.07, 0.93, dates, fontsize=10, va="top")
        fig.text(0.07, 0.905, counts, fontsize=7.5, va="top", wrap=True)
        _map(fig.add_axes((0.1, 0.52, 0.8, 0.35)), report, lines_before, lines_after, zh)
        _table(fig, (0.07, 0.27, 0.86, 0.2), stretch_header, stretches[:8],
               "变化的界线段" if zh else "Changed stretches")
        _signatures(fig, _sides(report), zh)
        pdf.savefig(fig)
        for start in range(0, max(len(markers), 1), _ROWS):
            fig = _figure()
            fig.text(0.07, 0.96, f"{title} — {'界桩成果表（变化的界桩）' if zh else 'changed markers'}", fontsize=11,
                     va="top")
            fig.text(0.07, 0.935, dates, fontsize=8, va="top")
            _table(fig, (0.07, 0.3, 0.86, 0.6), marker_header, markers[start:start + _ROWS],
                   "界桩" if zh else "Markers")
            _signatures(fig, _sides(report), zh)
            pdf.savefig(fig)
