"""``/upload`` (surveyors, own province only): check first — the report as a table and the issues on a map —
then store on confirmation, only when the check found no error."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from boundaries.pipeline import check_paths, ingest_paths
from webmap.auth import authorize, current_user, requires
from webmap.i18n import current_lang, t
from webmap.maps import build_issue_map, map_parts
from webmap.uploads import discard, load_pending, purge_expired, save_upload
from webmap.views import basemap, static_root

__all__ = ["bp"]

bp = Blueprint("upload", __name__)


def _root() -> str:
    return current_app.config["UPLOAD_DIR"]


def _report_page(result, pending, status: int = 200):
    lines = result.submission.lines if result.submission is not None else None
    m = build_issue_map(result.report.get("issues", []), lines, basemap=basemap(), static_url=static_root(),
                        lang=current_lang(), labels={"lines": t("lines"), "issues": t("issues")})
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
