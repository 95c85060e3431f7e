"""``/province/CODE``: a province's lines, markers and issues on an interactive map (loaded from the API),
its submission history with downloads, and the diff of two submissions of the same line."""

from __future__ import annotations

import json

from flask import Blueprint, render_template, request, url_for

from boundaries.errors import InputError
from boundaries.readers import check_province
from webmap.auth import requires
from webmap.cache import cached
from webmap.db import get_store
from webmap.errors import NotFound, WebError
from webmap.i18n import current_lang, t
from webmap.maps import PROVINCE_CENTRES, build_diff_map, build_province_map, map_parts
from webmap.status import STATUSES, line_diff
from webmap.views import basemap, static_root
from webmap.views.overview import summaries_data

__all__ = ["bp", "province_history"]

bp = Blueprint("province", __name__)


def _code(code: str) -> str:
    try:
        return check_province(code if len(code) == 6 else code + "0000")
    except InputError:
        raise NotFound(f"{code!r} 不是省级行政区代码（如 360000）",
                       f"{code!r} is not a province code (e.g. 360000)") from None


def province_history(store, code: str) -> tuple[list[dict], dict[str, list[int]], list[float]]:
    """The province's submissions (newest first), per line the submissions that carry it, and the bounds
    of the current lines with a side in the province (whoever submitted them)."""

    def compute():
        submissions = store.read_layer("submissions", province=code).sort_values("created_at", ascending=False)
        lines = store.read_layer("lines", province=code, history=True)
        own = lines[lines["province"] == code]
        versions = {k: sorted(int(v) for v in g.unique())
                    for k, g in own.groupby("line_id")["submission_id"]}
        rows = [dict(r, files=[f["name"] for f in json.loads(r["files"] or "[]")])
                for r in submissions.drop(columns=["report"]).to_dict("records")]
        current = lines[lines["status"] == "current"]
        bounds = [round(float(v), 4) for v in current.total_bounds] if len(current) else []
        return rows, versions, bounds

    return cached("history", store, compute, code)


def _bounds(code: str, bounds: list[float]) -> list[float]:
    if bounds:
        return bounds
    lon, lat = PROVINCE_CENTRES[code[:2]]
    return [lon - 3, lat - 3, lon + 3, lat + 3]


def _labels() -> dict[str, str]:
    keys = ("lines", "markers", "issues", "superseded", "agreed", "differs", "single", "submission")
    return {k: t(k) for k in keys} | {"legend": t("line"), "outline": t("province")}


@bp.route("/province/<code>")
@requires("province", lambda kwargs: _code(kwargs["code"]))
def show(code: str):
    """The province page."""
    code = _code(code)
    summaries, divisions = summaries_data(get_store())
    outline = divisions[divisions["code"].astype(str) == code] if divisions is not None else None
    history, versions, bounds = province_history(get_store(), code)
    m = build_province_map(code, _bounds(code, bounds), url_for("api.landing").rstrip("/"), basemap=basemap(),
                           static_url=static_root(), lang=current_lang(), labels=_labels(), outline=outline)
    return render_template("province.html", code=code, summary=summaries.get(code[:2]), map=map_parts(m),
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
