"""``/upload`` (surveyors, own province only): check first — the report as a table and the issues on a map —
then store on confirmation, only when the check found no error. Checks and ingests run as jobs outside the
request threads (:mod:`webmap.jobs`); ``/upload/<token>`` shows a job's progress, then its outcome."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for

from boundaries.model import STORAGE_CRS
from webmap import jobs
from webmap.auth import authorize, current_user, requires
from webmap.db import get_store
from webmap.errors import Forbidden, NotFound, WebError
from webmap.i18n import MESSAGES, current_lang, t
from webmap.maps import build_issue_map, map_parts
from webmap.uploads import (
    budget_report,
    claim_confirmation,
    discard,
    job_folder,
    job_status,
    load_pending,
    purge_expired,
    save_upload,
)
from webmap.views import basemap, static_root
from webmap.views.province import province_outline

__all__ = ["bp"]

bp = Blueprint("upload", __name__)

#: This blueprint's interface strings (beside its views; :func:`webmap.i18n.t` reads them).
MESSAGES.update({
    "job_title_check": ("正在检查上传的成果", "Checking the upload"),
    "job_title_ingest": ("正在入库", "Storing the submission"),
    "job_hint": ("检查在服务器的后台进行，本页自动更新；可以离开本页，稍后再打开。",
                 "The check runs in the background on the server and this page follows it; you may leave "
                 "and come back later."),
    "job_reload": ("刷新", "Refresh"), "network_error": ("网络错误：上传未完成，请重试", "network error: the upload "
                                                                                 "did not complete; try again"),
})


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


def _report_page(report: dict, exit_code: int, lines, token: str | None, status: int = 200):
    """The report table and its issue map; the confirm button when ``token`` is given."""
    for issue in report.get("issues", []):
        for key in ("message", "message_en"):
            if isinstance(issue.get(key), str):
                issue[key] = web_wording(issue[key])
    m = build_issue_map(report.get("issues", []), lines, basemap=basemap(), static_url=static_root(),
                        lang=current_lang(),
                        labels={"lines": t("lines"), "issues": t("issues"), "outline": t("outline")},
                        outline=province_outline(get_store(), str(report.get("province") or "")))
    return render_template("report.html", report=report, exit_code=exit_code,
                           pending={"token": token} if token else None, map=map_parts(m)), status


def _job_args(pending, user: str) -> dict:
    return {"paths": [str(p) for p in pending.paths], "province": pending.province, "crs": pending.crs,
            "encoding": pending.encoding, "lang": current_lang(), "db": current_app.config["QUHUA_DB"],
            "user": user, "address": request.remote_addr or "", "token": pending.token,
            "valid_from": pending.valid_from}


def _started(token: str):
    """The answer to a started job: JSON with the job's page (the upload page's script), else a redirect."""
    url = url_for("upload.job", token=token)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"job": url, "status": url_for("upload.status", token=token)}), 202
    return redirect(url, 303)


@bp.route("/upload", methods=["GET"])
@requires("upload")
def form():
    """The upload form."""
    return render_template("upload.html", province=current_user().province)


@bp.route("/upload", methods=["POST"])
@requires("upload")
def check():
    """Keep the files in the waiting area and start their check in a worker (:mod:`webmap.jobs`); nothing
    is stored. Answers at once: the job's page shows its progress, then the report."""
    user = current_user()
    province = request.form.get("province") or user.province
    authorize("upload", province)
    purge_expired(_root(), current_app.config["UPLOAD_TTL"])
    pending = save_upload(_root(), user.name, province, request.files.getlist("files"),
                          crs=request.form.get("crs"), encoding=request.form.get("encoding"),
                          valid_from=request.form.get("valid_from"))
    jobs.start_job(current_app, pending.folder, "check", _job_args(pending, user.name))
    return _started(pending.token)


def _own_job(token: str) -> tuple[dict, Path]:
    """The job of ``token`` (its state) if it is the current user's; 404 / 403 otherwise."""
    folder = job_folder(_root(), token)
    state = jobs.read_state(folder)
    if state is None:
        raise NotFound("没有这个上传（已确认、已放弃或已过期）", "no such upload (confirmed, discarded or expired)")
    if state["user"] != current_user().name:
        raise Forbidden("这是别人的上传", "this upload belongs to another user")
    authorize("upload", state["province"])
    return state, folder


@bp.route("/upload/<token>/status.json")
@requires("upload")
def status(token: str):
    """Where the job is: state, step, percent and the step in the page's language (the page polls it)."""
    state, _folder = _own_job(token)
    workers = current_app.config["CHECK_WORKERS"]
    return jsonify(job_status(state, current_lang(), workers) | {"url": url_for("upload.job", token=token)})


@bp.route("/upload/<token>")
@requires("upload")
def job(token: str):
    """The job's page: its progress while it runs; then the check's report, or the stored submission."""
    state, folder = _own_job(token)
    if state["state"] in ("queued", "running"):
        return render_template("upload_job.html", token=token,
                               job=job_status(state, current_lang(), current_app.config["CHECK_WORKERS"]))
    result = jobs.read_result(folder) or {"failed": "internal"}
    if result.get("submission_id") is not None:  # an ingest that stored
        discard(_root(), token)
        flash(t("stored", sid=result["submission_id"]))
        return redirect(url_for("province.show", code=state["province"]))
    if result.get("failed"):
        return _report_page(budget_report(state, result), 2, None, None, 422)
    lines = gpd.GeoDataFrame.from_features(result["lines"]["features"], crs=STORAGE_CRS) \
        if result.get("lines") else None
    if state["kind"] == "ingest":  # checked again inside the store's transaction: errors meanwhile
        return _report_page(result["report"], result["exit_code"], lines, None, 409)
    exit_code = result["exit_code"]
    return _report_page(result["report"], exit_code, lines, token if exit_code == 0 else None,
                        422 if exit_code == 2 else 200)


@bp.route("/upload/<token>/confirm", methods=["POST"])
@requires("upload")
def confirm(token: str):
    """Store the checked upload: an ingest job (the check runs again inside the store's transaction).
    Only after a check without errors; a second click while it runs shows the running job."""
    user = current_user()
    pending = load_pending(_root(), token, user.name, current_app.config["UPLOAD_TTL"])
    authorize("upload", pending.province)
    state, folder = _own_job(token)
    if state["kind"] == "ingest":
        return _started(token)  # already being stored
    result = jobs.read_result(folder) or {}
    if state["state"] != "done" or result.get("exit_code") != 0:
        raise WebError("只有检查完毕且没有错误的上传才能入库", "only an upload checked without errors can be stored",
                       status=409)
    if not claim_confirmation(folder):
        return _started(token)  # a second click, meanwhile
    jobs.start_job(current_app, folder, "ingest", _job_args(pending, user.name))
    return _started(token)


@bp.route("/upload/<token>/discard", methods=["POST"])
@requires("upload")
def drop(token: str):
    """Throw a waiting upload away."""
    load_pending(_root(), token, current_user().name, current_app.config["UPLOAD_TTL"])
    discard(_root(), token)
    return redirect(url_for("upload.form"))
