"""The report of a check or ingest: SPEC §6 JSON, a readable table grouped by rule, an issues layer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from boundaries.model import Issue, Submission

__all__ = ["build_report", "error_report", "render_table", "write_issues"]

_NOTE_4326 = {"zh": "EPSG:4326 (WGS 84) 按 CGCS2000 (EPSG:4490) 处理：两者在测量精度内相差仅厘米级",
              "en": "EPSG:4326 (WGS 84) was treated as CGCS2000 (EPSG:4490): they differ by centimetres"}


def build_report(submission: Submission, issues: list[Issue], *, lang: str = "zh") -> dict:
    """The SPEC §6 document; ``files``, ``layers`` and ``notes`` extend it."""
    counts = Counter(i.severity for i in issues)
    notes = [_NOTE_4326[lang]] if "EPSG:4326" in (submission.declared_crs or "") else []
    return {
        "province": submission.province,
        "accepted": counts["error"] == 0,
        "encoding": submission.encoding,
        "crs": submission.declared_crs,
        "summary": {"lines": len(submission.lines), "markers": len(submission.markers),
                    "errors": counts["error"], "warnings": counts["warning"]},
        "issues": [i.to_json(lang) for i in issues],
        "files": [vars(f) for f in submission.files],
        "layers": submission.layers,
        "notes": notes,
    }


def error_report(province: str | None, issue: Issue, lang: str = "zh") -> dict:
    """The report of a submission that could not be used at all (exit 2)."""
    return {"province": province, "accepted": False, "encoding": None, "crs": None,
            "summary": {"lines": 0, "markers": 0, "errors": 1, "warnings": 0},
            "issues": [issue.to_json(lang)], "files": [], "layers": [], "notes": []}


_TEXT = {
    "zh": {"ok": "通过：没有错误", "fail": "未通过：{errors} 个错误，{warnings} 个警告",
           "stored": "已入库，提交编号 {sid}", "not_stored": "未入库", "summary":
           "省份 {province}  界线 {lines} 条  界桩 {markers} 个  编码 {encoding}  坐标系 {crs}"},
    "en": {"ok": "accepted: no error", "fail": "not accepted: {errors} errors, {warnings} warnings",
           "stored": "stored as submission {sid}", "not_stored": "nothing stored", "summary":
           "province {province}  lines {lines}  markers {markers}  encoding {encoding}  CRS {crs}"},
}


def render_table(report: dict, *, lang: str = "zh", stored_as: int | None = None) -> str:
    """A readable report: the summary, then the issues grouped by rule, errors first."""
    text = _TEXT[lang]
    summary = report["summary"]
    out = [text["summary"].format(province=report["province"], encoding=report["encoding"],
                                  crs=report["crs"], **summary)]
    out += [f"  · {note}" for note in report.get("notes", [])]
    by_rule: dict[str, list[dict]] = {}
    for issue in report["issues"]:
        by_rule.setdefault(issue["rule"], []).append(issue)
    for rule_id, issues in sorted(by_rule.items(), key=lambda kv: (kv[1][0]["severity"] != "error", kv[0])):
        out.append(f"\n{rule_id} ({issues[0]['severity']}, {len(issues)})")
        for issue in issues:
            where = f"{issue['lon']:.6f}, {issue['lat']:.6f}" if issue.get("lon") is not None else "-"
            out.append(f"  {issue.get('feature') or '-':<12} {where:<24} {issue['message']}")
    out.append("")
    out.append(text["ok"] if report["accepted"] else text["fail"].format(**summary))
    if stored_as is not None:
        out.append(text["stored"].format(sid=stored_as))
    return "\n".join(out)


def write_issues(report: dict, path: Path) -> None:
    """Write the report's issues as a point layer (GeoJSON or GeoPackage, by the file's suffix)."""
    import geopandas as gpd
    import pyogrio

    from boundaries.export import DATASET_OPTIONS

    issues = report["issues"]
    points = gpd.points_from_xy([i.get("lon") for i in issues], [i.get("lat") for i in issues], crs="EPSG:4490")
    columns = ("rule", "severity", "layer", "feature", "message")
    frame = gpd.GeoDataFrame({c: [i.get(c) for i in issues] for c in columns}, geometry=points)
    driver = "GPKG" if Path(path).suffix.lower() == ".gpkg" else "GeoJSON"
    pyogrio.write_dataframe(frame, path, driver=driver, layer="issues", dataset_options=DATASET_OPTIONS.get(driver))
