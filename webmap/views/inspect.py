"""``/inspect``: joint inspection rounds (联检, :mod:`boundaries.inspection`) in the browser.

The list of rounds (each reader sees the rounds of what they may read), the form to plan one, and a round's
page: its steps (who, when), the findings table, the import form (the inspection's CSV/XLSX marker table),
a form for one finding, photo upload, the markers on a map coloured by condition (drawn by
``static/quhua-inspect.js`` from ``/inspect/ID/markers.json`` (GeoJSON): no inline script) and the step buttons,
each behind a confirmation dialog. Who may do what is :func:`webmap.auth.can`'s: ``inspection`` (read),
``inspection write`` (a surveyor of either province: plan, findings, photos, submit), ``inspection confirm``
(an official of the side confirmed), ``inspection file`` (officials).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup

from boundaries import inspection as core
from boundaries.errors import QuhuaError
from webmap.auth import authorize, can, current_user, requires
from webmap.db import get_store
from webmap.errors import NotFound, WebError
from webmap.i18n import MESSAGES, current_lang
from webmap.views import basemap

__all__ = ["bp"]

bp = Blueprint("inspect", __name__)

#: condition → map colour (the legend and quhua-inspect.js use the same)
COLOURS = {"intact": "#2e7d32", "damaged": "#f9a825", "lost": "#c62828", "moved": "#6a1b9a", "new": "#1565c0",
           "resurveyed": "#00838f", None: "#757575"}

MESSAGES.update({
    "inspections": ("联检", "Joint inspections"),
    "inspections_help": ("界线两侧省份每五年联合检查一次界线与界桩。移位、重测、"
                         "新设界桩的新位置在双方确认后才成为入库（法定）位置。",
                         "The two provinces of a line inspect it and its markers together every five years. A "
                         "moved, re-surveyed or newly set marker's new position becomes the stored (legal) one "
                         "only once both sides have confirmed the round."),
    "new_round": ("新建联检轮次", "Plan a round"), "round": ("轮次", "Round"), "sides": ("双方", "Sides"),
    "planned_dates": ("计划日期", "Planned"), "teams": ("检查组", "Teams"), "step_log": ("各步骤", "Steps"),
    "findings": ("界桩状况", "Marker findings"), "condition": ("状况", "Condition"), "remarks": ("备注", "Remarks"),
    "new_position": ("新位置（经度, 纬度）", "New position (lon, lat)"), "shift_m": ("位移（米）", "Shift (m)"),
    "import_table": ("导入界桩状况表（CSV/XLSX，中文表头；经纬度为度或度分秒，或纵/横坐标并填坐标系）",
                     "Import the marker table (CSV/XLSX, Chinese headers; degrees or 度分秒, or X/Y with a CRS)"),
    "import": ("导入", "Import"), "add_finding": ("录入一个界桩的状况", "Record one marker's finding"),
    "save": ("保存", "Save"), "photos": ("照片", "Photos"), "upload_photo": ("上传照片（JPEG/PNG，不超过 10 MiB）",
                                                                       "Add a photo (JPEG/PNG, at most 10 MiB)"),
    "marker_id": ("界桩编号", "Marker"), "exif_distance": ("EXIF 位置距界桩", "EXIF position from the marker"),
    "no_exif": ("无 EXIF 位置", "no EXIF position"),
    "submit_round": ("提交（代表{side}）", "Submit (for {side})"),
    "confirm_round": ("确认（代表{side}）", "Confirm (for {side})"), "file_round": ("备案", "File"),
    "confirm_submit": ("提交后界桩状况不能再修改。确定提交？", "Findings cannot change after submission. Submit?"),
    "confirm_confirm": ("确认本轮联检结果？双方都确认后，移位、重测、新设界桩的位置将写入数据库。",
                        "Confirm this round? Once both sides have confirmed, the moved, re-surveyed and newly set "
                        "positions are stored."),
    "confirm_file": ("备案本轮联检？", "File this round?"),
    "awaiting": ("待确认", "awaiting confirmation"), "confirmed_by": ("已确认", "confirmed"),
    "created": ("创建", "planned"), "started": ("开始检查", "started"), "submitted_by": ("提交", "submitted"),
    "filed_by": ("备案", "filed"), "legend_conditions": ("图例：界桩状况", "Legend: condition"),
    "not_inspected": ("未检查", "not inspected"), "not_set": ("未定", "not set"),
    "found_position": ("本轮测得的新位置", "new position found in this round"),
    "from_date": ("开始", "From"), "to_date": ("结束", "To"),
    "team_of": ("{side}检查组", "Team of {side}"), "create": ("创建", "Create"),
    "stored_position_note": ("地图上为入库（法定）位置；移位、重测、新设界桩的新位置以空心圆表示，双方确认后才入库。",
                             "The map shows the stored (legal) positions; a new position found in this round is a "
                             "hollow circle until both sides have confirmed."),
    "no_lines_to_inspect": ("本省没有可联检的省际界线", "No inter-provincial line of your province to inspect"),
    "bad_input": ("未保存", "Nothing stored"),
    "due_title": ("联检日程", "Joint inspection calendar"),
    "due_summary": ("省际界线 {n} 条：{confirmed} 条有双方确认的联检，{due} 条已到期（每五年一次）。",
                    "{n} inter-provincial lines: {confirmed} with a round confirmed by both, {due} due (every five "
                    "years)."),
    "last_confirmed": ("最近确认的联检", "Last confirmed round"), "next_due": ("下次到期", "Next due"),
    "is_due": ("已到期", "due"), "never": ("尚无", "none yet"),
})


def _record(round_id: int) -> dict:
    try:
        return core.get_round(get_store(), round_id)
    except core.StepError:
        raise NotFound(f"没有编号为 {round_id} 的联检轮次", f"there is no inspection round {round_id}") from None


def _readable(round_id: int) -> dict:
    """The round, if the reader may read it (a surveyor of another province: 403)."""
    record = _record(round_id)
    authorize("inspection", core.round_provinces(record))
    return record


def _address() -> str:
    return request.remote_addr or ""


def _user_name() -> str:
    return current_user().name


def _round_page(record: dict, errors: list[str] | None = None, status: int = 200):
    user, lang = current_user(), current_lang()
    provinces = core.round_provinces(record)
    steps = {
        "write": record["status"] in ("planned", "in_progress") and can(user, "inspection write", provinces),
        "submit": record["status"] == "in_progress" and can(user, "inspection write", provinces),
        "confirm": record["status"] == "submitted" and can(user, "inspection confirm", provinces)
                   and not record["confirmed_a_by" if user.province == record["province_a"] else "confirmed_b_by"],
        "file": record["status"] == "confirmed" and can(user, "inspection file", provinces),
        "photo": record["status"] != "filed" and can(user, "inspection write", provinces),
    }
    markers = core.round_markers(get_store(), record)
    return render_template("inspect_round.html", round=record, steps=steps, errors=errors or [],
                           conditions=[(code, core.condition_label(code, lang)) for code in core.CONDITIONS],
                           condition_label=lambda c: core.condition_label(c, lang), colours=COLOURS,
                           status_label=core.status_label(record["status"], lang),
                           marker_ids=sorted(markers["marker_id"].astype(str)), side=user.province,
                           basemap=basemap()), status


def _failed(record_id: int, err: QuhuaError):
    """The round's page with what went wrong (400: bad input; 409: a step the round's state does not allow)."""
    lang = current_lang()
    if isinstance(err, core.FindingsError):
        lines = [(en if lang == "en" else zh) for en, zh in err.problems]
    else:
        lines = [err.message if lang == "en" else err.text("zh")]
    return _round_page(_record(record_id), lines, 409 if isinstance(err, core.StepError) else 400)


@bp.route("/inspect")
@requires("inspection")
def index():
    """The rounds the reader may read (a surveyor: those of their province), newest first, with the due table."""
    user, lang, store = current_user(), current_lang(), get_store()
    scope = user.province if user.role == "surveyor" else None
    records = list(reversed(core.list_rounds(store, province=scope)))
    return render_template("inspect_list.html", rounds=records, can_plan=can(user, "inspection write"),
                           status_label=lambda s: core.status_label(s, lang))


@bp.route("/inspect/new", methods=["GET", "POST"])
@requires("inspection write")
def new():
    """The form to plan a round of inter-provincial lines of the surveyor's province; POST creates it."""
    user, store = current_user(), get_store()
    lines = store.query("lines", province=user.province, count=False).features
    choices = []
    for row in lines.drop_duplicates("line_id").sort_values("line_id").itertuples():
        pair = tuple(sorted({core.province_of(row.left_code), core.province_of(row.right_code)}))
        if len(pair) == 2 and user.province in pair:
            choices.append({"line_id": str(row.line_id), "name": row.name, "provinces": pair})
    error = None
    if request.method == "POST":
        try:
            ids, provinces = core.lines_provinces(store, request.form.getlist("line"))
            authorize("inspection write", provinces)
            record = core.create_round(store, ids, user=user.name, name=request.form.get("name") or None,
                                       planned_from=request.form.get("planned_from") or None,
                                       planned_to=request.form.get("planned_to") or None,
                                       team_a=request.form.get("team_a", ""), team_b=request.form.get("team_b", ""),
                                       remarks=request.form.get("remarks", ""), address=_address())
            return redirect(url_for("inspect.show", round_id=record["fid"]))
        except QuhuaError as err:
            error = err.message if current_lang() == "en" else err.text("zh")
    return render_template("inspect_new.html", choices=choices, error=error), 400 if error else 200


@bp.route("/inspect/<int:round_id>")
@requires("inspection")
def show(round_id: int):
    """A round's page."""
    return _round_page(_readable(round_id))[0]


@bp.route("/inspect/<int:round_id>/markers.json")
@requires("inspection")
def markers(round_id: int):
    """The round's markers for its map: the stored (legal) positions with this round's condition, and the
    new positions found (``kind`` stored / found)."""
    record = _readable(round_id)
    stored = core.round_markers(get_store(), record)
    findings = {f["marker_id"]: f for f in record["findings"]}
    lang = current_lang()
    features = []
    # the markers not inspected first, then the intact ones, the lost and moved last: where they overlap (the
    # whole line in view) what a team must act on is drawn over the rest
    def order(row) -> int:
        finding = findings.get(str(row.marker_id))
        return 0 if finding is None else _DRAW_ORDER.get(finding["condition"], 2)

    for row in sorted(stored.itertuples(), key=order):
        finding = findings.get(str(row.marker_id))
        condition = finding["condition"] if finding else None
        features.append(_feature(row.geometry.x, row.geometry.y, str(row.marker_id), condition, "stored", lang,
                                 finding))
    for finding in record["findings"]:
        if finding["condition"] in core.POSITIONED and finding["lon"] is not None:
            features.append(_feature(finding["lon"], finding["lat"], finding["marker_id"], finding["condition"],
                                     "found", lang, finding))
    lines = get_store().query("lines", properties={"line_id": list(record["line_ids"])}, count=False).features
    response = jsonify({"type": "FeatureCollection", "features": features,
                        "lines": json.loads(lines[["line_id", "province", "geometry"]].to_json(drop_id=True))})
    response.mimetype = "application/geo+json"
    response.headers["Cache-Control"] = "private, no-store"
    return response


_DRAW_ORDER = {"intact": 1, "moved": 3, "lost": 4}


def _feature(lon, lat, marker_id, condition, kind, lang, finding) -> dict:
    shift = finding["shift_m"] if finding else None
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(float(lon), 8),
                                                                             round(float(lat), 8)]},
            "properties": {"marker_id": marker_id, "condition": condition, "kind": kind,
                           "label": core.condition_label(condition, lang) if condition else
                           MESSAGES["not_inspected"][0 if lang == "zh" else 1],
                           "colour": COLOURS[condition], "remarks": (finding or {}).get("remarks") or "",
                           "shift_m": None if shift is None or math.isnan(shift) else shift}}


def _writable(round_id: int) -> dict:
    record = _readable(round_id)
    authorize("inspection write", core.round_provinces(record))
    return record


@bp.route("/inspect/<int:round_id>/findings", methods=["POST"])
@requires("inspection")
def add_finding(round_id: int):
    """One marker's finding from the page's form."""
    _writable(round_id)
    form = request.form

    def number(name):
        text = (form.get(name) or "").strip()
        if not text:
            return None
        from boundaries.fields import parse_angle

        value = parse_angle(text)
        return None if math.isnan(value) else value

    finding = core.Finding(marker_id=(form.get("marker_id") or "").strip(),
                           condition=core.parse_condition(form.get("condition")) or (form.get("condition") or ""),
                           remarks=form.get("remarks", ""), lon=number("lon"), lat=number("lat"),
                           line_id=(form.get("line_id") or "").strip() or None)
    try:
        core.record_findings(get_store(), round_id, [finding], user=_user_name(), source="web", address=_address())
    except QuhuaError as err:
        return _failed(round_id, err)
    return redirect(url_for("inspect.show", round_id=round_id) + "#findings")


_SAFE_LABEL = re.compile(r"[^\w.\-（）()\u4e00-\u9fff]+")


def _label(filename: str | None, default: str) -> str:
    """A user's file name as a label only (its last part, harmless characters), never as a path."""
    name = re.split(r"[\\/]", filename or "")[-1]
    return (_SAFE_LABEL.sub("_", name).strip("._") or default)[:120]


@bp.route("/inspect/<int:round_id>/import", methods=["POST"])
@requires("inspection")
def import_table(round_id: int):
    """The inspection's marker table: saved under a name of ours in a temporary folder, read, checked, stored."""
    _writable(round_id)
    upload = request.files.get("table")
    if upload is None or not upload.filename:
        raise WebError("请选择界桩状况表（CSV 或 XLSX）", "choose the marker table (CSV or XLSX)")
    label = _label(upload.filename, "table.csv")
    suffix = Path(label).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        return _failed(round_id, core.StepError(f"{label}: a findings table is .csv or .xlsx",
                                                message_zh=f"{label}：界桩状况表应为 .csv 或 .xlsx 文件"))
    with tempfile.TemporaryDirectory(prefix="quhua-inspect-") as folder:
        path = Path(folder) / f"table{suffix}"  # our name: the user's name is only the label
        upload.save(path)
        try:
            findings = core.read_findings_table(path, crs=(request.form.get("crs") or "").strip() or None,
                                                encoding=(request.form.get("encoding") or "").strip() or None)
            core.record_findings(get_store(), round_id, findings, user=_user_name(), source=label,
                                 address=_address())
        except QuhuaError as err:
            if isinstance(err, core.FindingsError):
                return _failed(round_id, err)
            return _failed(round_id, _relabelled(err, path.name, label))
    return redirect(url_for("inspect.show", round_id=round_id) + "#findings")


def _relabelled(err: QuhuaError, ours: str, label: str) -> QuhuaError:
    """The error with the user's file name where our temporary one stands."""
    err.message = err.message.replace(ours, label)
    err.message_zh = (err.message_zh or "").replace(ours, label) or None
    return err


@bp.route("/inspect/<int:round_id>/photos", methods=["POST"])
@requires("inspection")
def add_photo(round_id: int):
    """A photo (of a marker, if one is chosen), its bytes checked and stored in the database."""
    _writable(round_id)
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        raise WebError("请选择照片（JPEG 或 PNG）", "choose a photo (JPEG or PNG)")
    data = upload.stream.read(core.PHOTO_MAX_BYTES + 1)
    try:
        core.add_photo(get_store(), round_id, data, _label(upload.filename, "photo"), user=_user_name(),
                       marker_id=request.form.get("marker_id") or None, address=_address())
    except QuhuaError as err:
        return _failed(round_id, err)
    return redirect(url_for("inspect.show", round_id=round_id) + "#photos")


@bp.route("/inspect/photos/<int:photo_id>")
@requires("inspection")
def photo(photo_id: int):
    """A stored photo, to whoever may read its round."""
    try:
        content, media_type, _name, round_id = core.photo_content(get_store(), photo_id)
    except core.StepError:
        raise NotFound(f"没有编号为 {photo_id} 的照片", f"there is no photo {photo_id}") from None
    _readable(round_id)
    response = Response(content, mimetype=media_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = "inline"
    return response


def _step(round_id: int, action: str, run):
    """A step button: allowed by ``action`` on the round's two provinces (a surveyor or an official acts for
    their own province's side, which :func:`can` then requires to be one of the two)."""
    record = _readable(round_id)
    authorize(action, core.round_provinces(record))
    user = current_user()
    try:
        run(get_store(), round_id, user)
    except QuhuaError as err:
        return _failed(round_id, err)
    return redirect(url_for("inspect.show", round_id=round_id))


@bp.route("/inspect/<int:round_id>/submit", methods=["POST"])
@requires("inspection")
def submit(round_id: int):
    """A surveyor submits the round for their side."""
    return _step(round_id, "inspection write", lambda store, rid, user: core.submit(
        store, rid, side=user.province, user=user.name, address=_address()))


@bp.route("/inspect/<int:round_id>/confirm", methods=["POST"])
@requires("inspection")
def confirm(round_id: int):
    """An official of one of the round's provinces confirms it for that side."""
    return _step(round_id, "inspection confirm", lambda store, rid, user: core.confirm(
        store, rid, side=user.province, user=user.name, address=_address()))


@bp.route("/inspect/<int:round_id>/file", methods=["POST"])
@requires("inspection")
def file(round_id: int):
    """An official files a round confirmed by both sides."""
    return _step(round_id, "inspection file", lambda store, rid, user: core.file_round(
        store, rid, user=user.name, address=_address()))


#: the rendered calendars: (database, data version, language, day, logged in) → HTML
_CALENDARS: dict[tuple, Markup] = {}


@bp.app_context_processor
def _due_for_templates() -> dict:
    """``inspection_due_html()`` for the overview (``inspect_due.html``): the small calendar table of each
    inter-provincial line's last round confirmed by both and whether it is due (five years). Rendered once
    per state of the data (``quhua_meta.data_version``, which every write of quhua raises: one indexed row,
    where :func:`webmap.cache.cached`'s signature would summarise the divisions a second time per request:
    +12 ms on the demo GeoPackage), language, day and kind of reader (links to the rounds for those logged in)."""

    def inspection_due_html() -> Markup:
        from webmap.views.overview import today

        store, lang, logged_in = get_store(), current_lang(), current_user() is not None
        key = (store.url, store.data_token(), lang, today(), logged_in)
        html = _CALENDARS.get(key)
        if html is None:
            rows = core.due_table(store)
            calendar = {"rows": rows, "due": sum(r["is_due"] for r in rows),
                        "confirmed": sum(bool(r["last_round"]) for r in rows)}
            html = _CALENDARS[key] = Markup(render_template("inspect_due_table.html", calendar=calendar,
                                                            logged_in=logged_in))
            while len(_CALENDARS) > 16:  # the newest states only (dicts keep insertion order)
                _CALENDARS.pop(next(iter(_CALENDARS)), None)
        return html

    return {"inspection_due_html": inspection_due_html}
