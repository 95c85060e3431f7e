"""``/province/CODE/changes``: the change report between two legal dates (:mod:`boundaries.changes`) as a page
with a map and tables, and as JSON, XLSX (the 界桩成果表) and PDF (to sign) downloads; who may read the
province page may read it (the same access matrix entry, ``province``). Also :func:`legal_span`, the dates
the province page's date slider spans."""

from __future__ import annotations

import io
import json
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from flask import Blueprint, Response, render_template, request, url_for

from boundaries.errors import InputError
from webmap.auth import requires
from webmap.cache import cached, per_province
from webmap.db import get_store
from webmap.errors import NotFound, WebError
from webmap.i18n import current_lang, t
from webmap.maps import build_changes_map, map_parts
from webmap.views import basemap, static_root
from webmap.views.province import _code

__all__ = ["bp", "legal_span"]

bp = Blueprint("changes", __name__)
FORMATS = {"json": "application/json", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pdf": "application/pdf"}


def legal_span(store, code: str) -> dict | None:
    """What the province page's date slider spans: ``first``, the earliest legal date of the lines with a side
    in the province, ``today`` (UTC), both ``YYYY-MM-DD``, and ``days`` between them; None when it has no
    line. Kept while what concerns the province is unchanged (:func:`webmap.cache.per_province`)."""

    def compute():
        rows = store.fetch("SELECT min(valid_from) FROM lines WHERE province = ? OR substr(left_code, 1, 2) = ? "
                           "OR substr(right_code, 1, 2) = ?", [code, code[:2], code[:2]]) if store.exists() else []
        first = rows[0][0] if rows else None
        if first is None:
            return None
        first = date.fromisoformat((first.isoformat() if hasattr(first, "isoformat") else str(first))[:10])
        today = datetime.now(UTC).date()
        return {"first": first.isoformat(), "today": today.isoformat(), "days": max(0, (today - first).days)}

    return per_province("legal-span", store, [code], compute, datetime.now(UTC).date())


def _dates(store) -> tuple[date, date] | None:
    """``?from=…&to=…`` (or ``from_submission=ID``/``to_submission=ID``: a stored submission's legal date)
    checked; None when either end is not given; a bad one is a 400 in both languages."""
    from boundaries.changes import submission_date
    from boundaries.legaltime import legal_date

    ends = []
    try:
        for name in ("from", "to"):
            sid, day = request.args.get(f"{name}_submission"), request.args.get(name)
            if sid:
                if not sid.isdigit():
                    raise InputError(f"{name}_submission={sid!r} is not a submission number",
                                     message_zh=f"{name}_submission={sid!r} 不是提交编号")
                ends.append(submission_date(store, int(sid)))
            else:
                ends.append(legal_date(day, what=name) if day else None)
    except InputError as err:
        raise WebError(err.text("zh"), err.message) from None
    if None in ends:
        return None
    start, end = ends
    if end <= start:
        raise WebError(f"“至”日期 {end} 须晚于“自”日期 {start}", f"the date to ({end}) must be after from ({start})")
    return start, end


def _report(store, code: str, start: date, end: date) -> dict:
    from boundaries.changes import change_report

    return cached("changes", store, lambda: change_report(store, code, start, end), code, start, end)


@bp.route("/province/<code>/changes")
@requires("province", lambda kwargs: _code(kwargs["code"]))
def show(code: str):
    """The form (two dates) and, given them, the report: counts, map, markers, lines."""
    code, store, lang = _code(code), get_store(), current_lang()
    span = legal_span(store, code)
    dates = _dates(store)
    report = parts = None
    if dates is not None:
        from boundaries.changes import changed_lines

        report = _report(store, code, *dates)
        before, after = changed_lines(store, report)
        labels = {k: t(k) for k in ("stretch",)} | {
            "before": f"{t('line')} {report['from']}", "after": f"{t('line')} {report['to']}",
            "added": t("markers_added"), "removed": t("markers_removed"), "moved": t("markers_moved")}
        parts = map_parts(build_changes_map(report, before, after, basemap=basemap(), static_url=static_root(),
                                            lang=lang, labels=labels))
    return render_template("changes.html", code=code, span=span, report=report, map=parts,
                           start=report["from"] if report else (span["first"] if span else ""),
                           end=report["to"] if report else (span["today"] if span else ""),
                           downloads={f: url_for("changes.download", code=code, fmt=f, **{"from": report["from"],
                                                 "to": report["to"]}) for f in FORMATS} if report else {})


@bp.route("/province/<code>/changes.<fmt>")
@requires("province", lambda kwargs: _code(kwargs["code"]))
def download(code: str, fmt: str):
    """The report as JSON, XLSX or PDF (``?from=…&to=…``)."""
    code, store, lang = _code(code), get_store(), current_lang()
    if fmt not in FORMATS:
        raise NotFound(f"变化报告没有 {fmt!r} 格式：可用 json、xlsx、pdf",
                       f"no {fmt!r} change report: json, xlsx or pdf")
    dates = _dates(store)
    if dates is None:
        raise WebError("请给出 from=YYYY-MM-DD 和 to=YYYY-MM-DD", "give from=YYYY-MM-DD and to=YYYY-MM-DD")
    report = _report(store, code, *dates)
    name = f"quhua_{code}_changes_{report['from']}_{report['to']}.{fmt}"
    if fmt == "json":
        body = json.dumps(report, ensure_ascii=False, indent=1).encode()
    else:
        from boundaries.changes import changed_lines, write_xlsx

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            if fmt == "xlsx":
                write_xlsx(report, path, lang=lang)
            else:
                from boundaries.changes_pdf import write_pdf

                before, after = changed_lines(store, report)
                try:
                    write_pdf(report, path, lang=lang, lines_before=before, lines_after=after)
                except InputError:
                    raise WebError(t("export_missing"), t("export_missing", "en"), status=501) from None
            body = io.BytesIO(path.read_bytes()).getvalue()
    return Response(body, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
