"""``/upload`` (surveyors, own province only): check first — the report as a table and the issues on a map —
then store on confirmation, only when the check found no error."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from boundaries.pipeline import check_paths, ingest_paths
from webmap.auth import authorize, current_user, requires
from webmap.db import get_store
from webmap.i18n import current_lang, t
from webmap.maps import build_issue_map, map_parts
from webmap.uploads import discard, load_pending, purge_expired, save_upload
from webmap.views import basemap, static_root
from webmap.views.province import province_outline

__all__ = ["bp"]

bp = Blueprint("upload", __name__)


def _root() -> str:
    return current_app.config["UPLOAD_DIR"]


#: The core's messages speak to the command line; on the web the upload form's 坐标系 choice is what --crs is
#: there. Per language, most specific first; the last catches any other mention.
_WEB_WORDING = {
    "zh": [(r"用 --crs (EPSG:[0-9N]+)((?:（[^）]*）)?) ?指定", r"在上传表单的“坐标系”中选择 \1\2"),
           (r"用 --crs 指定", "在上传表单的“坐标系”中选择"),
           (r"去掉 --crs 或改为", "在上传表单的“坐标系”中改选“按文件（.prj）”或"),
           (r"--crs ?", "上传表单的“坐标系”")],
    "en": [(r"\b(?:give|use) (?:it as |it with |the right )?--crs (EPSG:[0-9N]+)",
            r"choose \1 in the upload form's coordinate system"),
           (r"\bdrop --crs or give", "choose 'from the file (.prj)' or"),
           (r"\b(?:give|use) (?:the right )?--crs", "choose the right coordinate system on the upload form"),
           (r"--crs", "the upload form's coordinate system")],
}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def web_wording(text: str) -> str:
    """A core message as a browser user acts on it: the upload form's coordinate system instead of ``--crs``
    (tests/webmap/test_upload.py)."""
    for pattern, replacement in _WEB_WORDING["zh" if _CJK.search(text) else "en"]:
        text = re.sub(pattern, replacement, text)
    return text


def _report_page(result, pending, status: int = 200):
    for issue in result.report.get("issues", []):
        for key in ("message", "message_en"):
            if isinstance(issue.get(key), str):
                issue[key] = web_wording(issue[key])
    lines = result.submission.lines if result.submission is not None else None
    m = build_issue_map(result.report.get("issues", []), lines, basemap=basemap(), static_url=static_root(),
                        lang=current_lang(),
                        labels={"lines": t("lines"), "issues": t("issues"), "outline": t("outline")},
                        outline=province_outline(get_store(), str(result.report.get("province") or "")))
    return render_template("report.html", report=result.report, exit_code=result.exit_code, pending=pending,
                           map=map_parts(m)), status


@bp.route("/upload", methods=["GET"])
@requires("upload")
def form():
    """The upload form."""
    return render_template("upload.html", province=current_user().province)


@bp.route("/upload", methods=["POST"])
@requires("upload")
def check():
    """Keep the files in the waiting area and check them against the database; nothing is stored."""
    user = current_user()
    province = request.form.get("province") or user.province
    authorize("upload", province)
    purge_expired(_root(), current_app.config["UPLOAD_TTL"])
    pending = save_upload(_root(), user.name, province, request.files.getlist("files"),
                          crs=request.form.get("crs"), encoding=request.form.get("encoding"))
    result = check_paths(pending.paths, province, db=current_app.config["QUHUA_DB"], crs=pending.crs,
                         encoding=pending.encoding, lang=current_lang(), progress=False)
    if result.exit_code == 2:
        discard(_root(), pending.token)
    return _report_page(result, pending if result.exit_code == 0 else None, 422 if result.exit_code == 2 else 200)


@bp.route("/upload/<token>/confirm", methods=["POST"])
@requires("upload")
def confirm(token: str):
    """Store the checked upload (the check runs again inside the store's transaction)."""
    user = current_user()
    pending = load_pending(_root(), token, user.name, current_app.config["UPLOAD_TTL"])
    authorize("upload", pending.province)
    result = ingest_paths(pending.paths, pending.province, db=current_app.config["QUHUA_DB"], crs=pending.crs,
                          encoding=pending.encoding, user=user.name, lang=current_lang(), progress=False)
    if result.submission_id is None:
        return _report_page(result, None, 409)
    discard(_root(), token)
    flash(t("stored", sid=result.submission_id))
    return redirect(url_for("province.show", code=pending.province))


@bp.route("/upload/<token>/discard", methods=["POST"])
@requires("upload")
def drop(token: str):
    """Throw a waiting upload away."""
    load_pending(_root(), token, current_user().name, current_app.config["UPLOAD_TTL"])
    discard(_root(), token)
    return redirect(url_for("upload.form"))
