"""The naming rules (地名管理条例, 2022) a gazetteer can check, reported like SPEC §6 with ``name.*`` ids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from placenames.model import division_level, valid_code
from placenames.romanize import pinyin_key
from placenames.store import NameStore

__all__ = ["LINE_RULES", "RULES", "check_codes", "check_names"]

#: rule id → (severity, what it finds; zh, en)
RULES = {
    "name.duplicate_county": ("error", "县级及以上行政区域名称全国重名",
                              "county-level or higher division names repeated nationwide"),
    "name.duplicate_township": ("error", "乡、镇、街道名称在省内重名", "township names repeated within a province"),
    "name.duplicate_village": ("error", "村（居）委会名称在县内重名",
                               "village committee names repeated within a county"),
    "name.homophone": ("warning", "同一范围内同音不同字的名称", "homophones within the same scope"),
    "name.rare_character": ("warning", "使用生僻字（GB 2312 以外）", "rare characters (outside GB 2312)"),
    "name.outside_division": ("error", "地名点位不在其区划代码所指的区划内",
                              "the point lies outside the division its code claims"),
    "name.code_format": ("error", "区划代码格式错误", "a malformed division code"),
    "name.point_outside_extent": ("warning", "地名点位不在其自身范围（面、线）上",
                                  "the point lies off the name's own extent (polygon or line)"),
    "name.abolished_code": ("error", "地名的区划代码已撤销、撤并或变更（给出现行的继任代码）",
                            "the name's division code is no longer in force (its successor given)"),
}
#: the rule of stored boundary lines (``quhua divisions check``)
LINE_RULES = {
    "line.abolished_code": ("warning", "界线左侧或右侧代码已撤销、撤并或变更（给出现行的继任代码）",
                            "a stored line's left or right code is no longer in force (its successor given)"),
}


def _issue(rule: str, row, message: str, message_en: str, lang: str) -> dict:
    return {"rule": rule, "severity": RULES[rule][0], "layer": "names", "feature": str(row.fid),
            "lon": round(float(row.lon), 7), "lat": round(float(row.lat), 7),
            "message": message_en if lang == "en" else message}


def _scope(code: str | None, level: str) -> str | None:
    if not code or not valid_code(code):
        return None
    return {"nation": "", "province": code[:2], "county": code[:6]}[level]


#: 直辖市: the province and its city-level units (310100 市辖区) carry the same name (上海市) and are one place
_MUNICIPALITIES = ("11", "12", "31", "50")


def _one_place(codes) -> bool:
    """Whether the codes of a same-named group all denote one division (a 直辖市 at province and city level)."""
    collapsed = {c[:2] + "0000" if c[:2] in _MUNICIPALITIES and c.endswith("00") else c for c in codes}
    return len(collapsed) == 1 and len(set(codes)) > 1


def _duplicates(names: pd.DataFrame, mask, level: str, rule: str, lang: str) -> list[dict]:
    chosen = names[mask].assign(scope=lambda f: f.code.map(lambda c: _scope(c, level))).dropna(subset=["scope"])
    issues = []
    for (_scope_value, name), group in chosen.groupby(["scope", "name"]):
        if len(group) > 1 and not _one_place(group.code):
            for row in group.itertuples():
                others = ", ".join(str(c) for c in group.code if c != row.code) or str(row.code)
                issues.append(_issue(rule, row, f"“{name}”（{row.code}）与 {others} 重名",
                                     f"{name} ({row.code}) repeats the name of {others}", lang))
    chosen = chosen.assign(key=chosen.pinyin.map(pinyin_key))
    for (_scope_value, _key), group in chosen.groupby(["scope", "key"]):
        if group.name.nunique() > 1:
            for row in group.itertuples():
                others = "、".join(sorted(set(group.name) - {row.name}))
                issues.append(_issue("name.homophone", row, f"“{row.name}”与“{others}”同音",
                                     f"{row.name} sounds like {others}", lang))
    return issues


def _rare(name: str) -> list[str]:
    out = []
    for char in name:
        try:
            char.encode("gb2312")
        except UnicodeEncodeError:
            out.append(char)
    return out


def check_names(store: NameStore, *, within: str | None = None, lang: str = "zh") -> dict:
    """Every naming rule over the current names (of ``within`` if given); the report of SPEC §6's shape."""
    names = store.all_names()
    names = names[names.status == "current"].astype({"code": object})
    names["code"] = names["code"].where(names["code"].notna(), None)
    if within:
        prefix = within.rstrip("0")
        names = names[names.code.fillna("").str.startswith(prefix + ("0" if len(prefix) % 2 else ""))]
    admin = names["class"] == "行政区域"
    levels = names.code.map(lambda c: division_level(c) if c and valid_code(c) else None)
    issues = _duplicates(names, admin & levels.isin(["province", "city", "county"]), "nation",
                         "name.duplicate_county", lang)
    issues += _duplicates(names, admin & (levels == "township") | names.name.str.endswith(("镇", "乡", "街道")) & admin,
                          "province", "name.duplicate_township", lang)
    issues += _duplicates(names, names["class"] == "群众自治组织", "county", "name.duplicate_village", lang)
    for row in names.itertuples():
        if row.code and not valid_code(row.code):
            issues.append(_issue("name.code_format", row, f"“{row.name}”的区划代码 {row.code} 格式错误",
                                 f"{row.name}: division code {row.code} is malformed", lang))
        rare = _rare(row.name)
        if rare:
            issues.append(_issue("name.rare_character", row, f"“{row.name}”含生僻字 {'、'.join(rare)}",
                                 f"{row.name} uses rare characters {' '.join(rare)}", lang))
    issues += _outside(store, names, lang)
    issues += _off_extent(store, names, lang)
    issues += _abolished_names(store, names, lang)
    errors = sum(i["severity"] == "error" for i in issues)
    return {"accepted": errors == 0, "summary": {"names": len(names), "errors": errors,
                                                 "warnings": len(issues) - errors}, "issues": issues}


def _outside(store: NameStore, names: pd.DataFrame, lang: str) -> list[dict]:
    divisions = store.divisions()
    if divisions.empty or names.empty:
        return []
    polygons = dict(zip(divisions.code, divisions.geometry, strict=True))
    rows = [r for r in names.itertuples() if r.code in polygons]
    if not rows:
        return []
    points = gpd.points_from_xy([r.lon for r in rows], [r.lat for r in rows])
    # 0.001° (~100 m) of slack: division outlines are simplified, a name on the line is not outside
    inside = shapely.covers(gpd.GeoSeries([polygons[r.code] for r in rows]).buffer(0.001).values, points)
    return [_issue("name.outside_division", row, f"“{row.name}”的点位不在其区划 {row.code} 内",
                   f"{row.name} lies outside its division {row.code}", lang)
            for row, ok in zip(rows, inside, strict=True) if not ok]


def _off_extent(store: NameStore, names: pd.DataFrame, lang: str) -> list[dict]:
    """Names whose point is more than about 100 m (0.001°) off their own polygon or line."""
    extents = store.extents().merge(names, on="fid")  # the current names of the scope that have an extent
    if extents.empty:
        return []
    points = gpd.points_from_xy(extents.lon, extents.lat)
    metres = gpd.GeoSeries(points, crs=4490).to_crs(3857).distance(extents.geometry.to_crs(3857)).values * np.cos(
        np.radians(extents.lat.values))  # Web Mercator's scale at the latitude
    off = ~shapely.dwithin(extents.geometry.values, points, 0.001)
    return [_issue("name.point_outside_extent", row, f"“{row.name}”的点位{_SHAPE_ZH[row.geometry.geom_type]}"
                   f"（相距 {distance:,.0f} 米）", f"{row.name} lies {distance:,.0f} m off its own "
                   f"{row.geometry.geom_type.removeprefix('Multi').lower()}", lang)
            for row, distance, bad in zip(extents.itertuples(), metres, off, strict=True) if bad]


_SHAPE_ZH = {"Polygon": "不在其范围面内", "MultiPolygon": "不在其范围面内", "LineString": "不在其线上",
             "MultiLineString": "不在其线上"}


_KIND_ZH = {"renamed": "更名", "recoded": "代码变更", "merged": "撤并", "split": "拆分", "abolished": "撤销",
            "boundary": "范围变更"}


def _ended(code: str, gone: dict, lang: str) -> str:
    """What became of a code no longer in force, for a message."""
    info = gone[code]
    en = lang == "en"
    now = (", " if en else "、").join(f"{n} ({c})" if en else f"{n}（{c}）" for c, n in info["replacements"])
    kind = info["kind"] or "abolished"
    if en:
        return (f"{code} ({info['name']}) ended on {info['date'] or '?'} ({kind}); "
                + (f"now {now}" if now else "no division replaced it"))
    return (f"{code}（{info['name']}）已于 {info['date'] or '?'} {_KIND_ZH.get(kind, kind)}，"
            + (f"现为{now}" if now else "无继任区划"))


def _abolished_names(store: NameStore, names: pd.DataFrame, lang: str) -> list[dict]:
    from placenames.history import abolished_codes

    gone = abolished_codes(store)
    if not gone or names.empty:
        return []
    return [_issue("name.abolished_code", row, f"“{row.name}”的区划代码 {_ended(row.code, gone, lang)}",
                   f"{row.name}: division code {_ended(row.code, gone, lang)}", lang)
            for row in names.itertuples() if row.code in gone]


def check_codes(db, *, lang: str = "zh") -> dict:
    """``name.abolished_code`` over the current names and ``line.abolished_code`` over the stored current
    boundary lines of database ``db`` (a path/URL or a boundaries Store): the names and lines that still
    refer to a code no longer in force, each with its successor; the report of SPEC §6's shape."""
    from boundaries.store import open_store
    from placenames.history import abolished_codes
    from placenames.store import open_name_store

    issues = []
    with open_name_store(db) as store:
        gone = abolished_codes(store)
        names = store.all_names()
        names = names[names.status == "current"]
        issues += _abolished_names(store, names, lang) if gone else []
    boundaries = open_store(db) if isinstance(db, str) else db
    try:
        lines = boundaries.read_layer("lines") if boundaries.exists() and boundaries.has_table("lines") else None
    finally:
        if isinstance(db, str):
            boundaries.close()
    count = 0 if lines is None else len(lines)
    for row in ([] if lines is None or not gone else lines.itertuples()):
        for side, code in (("left", row.left_code), ("right", row.right_code)):
            if code in gone:
                point = row.geometry.interpolate(0.5, normalized=True)
                side_zh = "左" if side == "left" else "右"
                issues.append({"rule": "line.abolished_code", "severity": LINE_RULES["line.abolished_code"][0],
                               "layer": "lines", "feature": str(row.line_id), "lon": round(point.x, 7),
                               "lat": round(point.y, 7),
                               "message": f"line {row.line_id}: {side} code {_ended(code, gone, lang)}" if lang == "en"
                               else f"界线 {row.line_id} 的{side_zh}侧代码 {_ended(code, gone, lang)}"})
    errors = sum(i["severity"] == "error" for i in issues)
    return {"accepted": errors == 0, "summary": {"names": len(names), "lines": count, "errors": errors,
                                                 "warnings": len(issues) - errors}, "issues": issues}
