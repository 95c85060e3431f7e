"""``/province/CODE``: a province's lines, markers and issues on an interactive map (loaded from the API),
its submission history with downloads, and the diff of two submissions of the same line."""

from __future__ import annotations

import json

import pandas as pd
from flask import Blueprint, render_template, request, url_for

from boundaries.errors import InputError
from boundaries.readers import check_province
from webmap.auth import requires
from webmap.cache import cached, per_province, remember
from webmap.db import get_store
from webmap.errors import NotFound, WebError
from webmap.i18n import current_lang, format_number, province_name, t
from webmap.maps import PROVINCE_CENTRES, build_diff_map, build_province_map, map_parts
from webmap.status import STATUSES, line_agreement, line_diff, province_figures
from webmap.views import basemap, static_root
from webmap.views.overview import divisions_digest, export_response, summaries_data, today

__all__ = ["bp", "figures", "province_history", "province_outline"]

bp = Blueprint("province", __name__)


def _code(code: str) -> str:
    try:
        return check_province(code if len(code) == 6 else code + "0000")
    except InputError:
        raise NotFound(f"{code!r} 不是省级行政区代码（如 360000）",
                       f"{code!r} is not a province code (e.g. 360000)") from None


def province_history(store, code: str) -> tuple[list[dict], dict[str, list[int]]]:
    """The province's submissions (newest first) and, per line it submitted, the submissions that carry it."""

    def compute():
        submissions = store.read_layer("submissions", province=code).sort_values("created_at", ascending=False)
        # the lines' ids, submissions and legal dates only (their geometry is not needed here), read once
        own = pd.DataFrame(store.fetch("SELECT line_id, submission_id, valid_from FROM lines WHERE province = ?",
                                       [code]), columns=["line_id", "submission_id", "valid_from"])
        versions = {k: sorted(int(v) for v in g.unique()) for k, g in own.groupby("line_id")["submission_id"]}
        # the day its lines and markers came into force (their valid_from: the agreement's or round's date)
        legal = {int(k): v for k, v in own.groupby("submission_id")["valid_from"].min().dropna().items()}
        for sid, day in store.fetch("SELECT submission_id, min(valid_from) FROM markers WHERE province = ? "
                                    "GROUP BY submission_id", [code]):
            if day is not None:
                legal[sid] = min(day, legal.get(sid, day))
        rows = [dict(r, files=[f["name"] for f in json.loads(r["files"] or "[]")],
                     legal_from=str(legal.get(r["fid"]) or "")[:10] or None)
                for r in submissions.drop(columns=["report"]).to_dict("records")]
        return rows, versions

    return per_province("history", store, [code], compute)


def province_outline(store, code: str):
    """The province's polygon from the gazetteer's divisions (None without them): context on its maps."""
    divisions = summaries_data(store)[1]
    if divisions is None or not code:
        return None
    outline = divisions[divisions["code"].astype(str) == code]
    return outline if len(outline) else None


def figures(store, code: str):
    """The page's figures (:func:`webmap.status.province_figures`), kept while what concerns the province is
    unchanged: the header, the map's layer names and the downloads all count these rows."""
    return per_province("figures", store, [code], lambda: province_figures(store, code))


def _bounds(code: str, bounds: list[float]) -> list[float]:
    if bounds:
        return bounds
    lon, lat = PROVINCE_CENTRES[code[:2]]
    return [lon - 3, lat - 3, lon + 3, lat + 3]


def _labels(numbers=None) -> dict[str, str]:
    """The map's labels; with the page's figures, the layer names carry their counts (as the header)."""
    keys = ("lines", "markers", "issues", "superseded", "agreed", "differs", "single", "submission")
    labels = {k: t(k) for k in keys} | {"legend": t("line"), "outline": t("province")}
    if numbers is not None:
        labels["lines"] += f" ({format_number(numbers.lines)})"
        labels["markers"] += f" ({format_number(numbers.markers)})"
        labels["issues"] += f" ({format_number(numbers.errors + numbers.warnings)})"
    return labels


@bp.route("/province/<code>")
@requires("province", lambda kwargs: _code(kwargs["code"]))
def show(code: str):
    """The province page."""
    code, store = _code(code), get_store()
    summaries = summaries_data(store)[0]
    history, versions = province_history(store, code)
    numbers = figures(store, code)
    api, base, static, lang = url_for("api.landing").rstrip("/"), basemap(), static_root(), current_lang()
    labels = _labels(numbers)

    def render_map() -> dict[str, str]:
        m = build_province_map(code, _bounds(code, list(numbers.bounds)), api, basemap=base, static_url=static,
                               lang=lang, labels=labels, outline=province_outline(store, code))
        return map_parts(m)

    # the map holds no data (its layers are fetched from the API, by the reader's rights): rendered once per
    # content of what it shows (the layers' names with their counts, the lines' bounds, the divisions), so
    # that other provinces' ingests, or one that changes none of these, keep it; the page around it is made
    # per request
    parts = remember(("province-map", code, tuple(labels.items()), numbers.bounds, divisions_digest(store), lang,
                      api, base.url, base.attribution, static), render_map)
    from webmap.views.changes import legal_span  # the date slider's span (issue 15)

    return render_template("province.html", code=code, summary=summaries.get(code[:2]), map=parts,
                           figures=numbers, span=legal_span(store, code),
                           history=history, versions={k: v for k, v in versions.items() if len(v) > 1},
                           colours=STATUSES)


@bp.route("/province/<code>/diff")
@requires("province", lambda kwargs: _code(kwargs["code"]))
def diff(code: str):
    """Two submissions of the same line side by side (``?line=ID&a=SID&b=SID``)."""
    code = _code(code)
    try:
        line, a, b = request.args["line"], int(request.args["a"]), int(request.args["b"])
    except (KeyError, ValueError):
        raise WebError("请给出 line=界线编号、a=提交号 和 b=提交号（提交号是数字）",
                       "give line=ID, a=SUBMISSION and b=SUBMISSION (submission ids are numbers)") from None
    result = line_diff(get_store(), code, line, a, b)
    if not result:
        raise NotFound(f"界线 {line} 不同时在 {code} 的提交 {a} 和 {b} 中",
                       f"line {line} is not in both submissions {a} and {b} of {code}")
    m = build_diff_map(result, basemap=basemap(), static_url=static_root(), labels={"submission": t("submission")})
    return render_template("diff.html", code=code, diff=result, map=map_parts(m))


@bp.route("/province/<code>/map.<fmt>")
@requires("province", lambda kwargs: _code(kwargs["code"]))
def export(code: str, fmt: str):
    """The province's map as PNG or PDF (who may read the page may print it), by :mod:`webmap.printmap`:
    the same rows as the page's map and header (:func:`figures`)."""
    code, store, lang = _code(code), get_store(), current_lang()

    def render(printmap):
        numbers = figures(store, code)
        lines = store.read_layer("lines", province=code)
        markers = store.read_layer("markers", province=code)
        issues = store.read_layer("issues", province=code)
        agreement = line_agreement(lines, lines) if len(lines) else []
        name = province_name(code, lang)
        entries = {k: t(k) for k in ("agreed", "differs", "single")} | {
            "markers": t("markers_legend"), "issues": t("issues_legend")}
        own = t("own_submitted", n=format_number(numbers.own_lines)).strip(" （）()")
        text = printmap.PrintLabels(
            title=t("province_map_title", name=name), source=t("data_source"), north=t("north"),
            nanhai=t("nanhai"), legend=f"{t('lines')} ({numbers.lines:,})", entries=entries,
            subtitle=f"{code} · {t('as_of', date=today())} · {t('lines')} {numbers.lines:,} ({own}) · "
                     f"{numbers.km:,.1f} km · {t('markers')} {numbers.markers:,}",
            note=t("figures_scope").rstrip("：:"))
        divisions = summaries_data(store)[1]
        return cached(f"export-{fmt}-{lang}-{today()}", store, lambda: printmap.render_province(
            code, numbers, lines, agreement, markers, issues, province_outline(store, code), divisions, text, fmt,
            lang=lang), code)

    return export_response(render, fmt, f"quhua_{code}")
