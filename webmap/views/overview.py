"""``/``: the national overview, public — which provinces have loaded, on a map and in a table; the same
table as JSON at ``/overview.json`` (for scripts and dashboards).
``/rules``: what each QA rule finds (the issues link here)."""

from __future__ import annotations

from dataclasses import asdict

import shapely
from flask import Blueprint, render_template, url_for

from boundaries.errors import QuhuaError, StoreError
from boundaries.export import read_any_layer
from boundaries.readers import PROVINCES
from boundaries.rules import REGISTRY
from webmap.cache import cached
from webmap.db import get_store
from webmap.i18n import current_lang, province_name, t
from webmap.maps import build_overview_map, map_parts
from webmap.status import MAINLAND, STATUSES, province_summaries
from webmap.tiles import overview_tiles
from webmap.views import basemap, static_root

__all__ = ["bp", "overview_data", "overview_lines", "summaries_data"]

bp = Blueprint("overview", __name__)


def _divisions(store):
    """Province polygons from the gazetteer, when it provides them and has them loaded."""
    try:
        frame = read_any_layer(store, "divisions")
    except StoreError:
        raise
    except QuhuaError:  # no gazetteer installed: fall back to the lines
        return None
    if frame is None or not len(frame) or "code" not in frame.columns:
        return None
    provinces = frame[frame["code"].astype(str).str.endswith("0000")]
    return provinces if len(provinces) else None


def summaries_data(store) -> tuple:
    """(province summaries, province polygons or None), cached per state of the database."""
    return cached("summaries", store, lambda: (province_summaries(store), _divisions(store)))


def overview_lines(store):
    """The current lines simplified to ~1 km (the national map), cached per state of the database."""

    def compute():
        lines = store.read_layer("lines")
        return lines[["line_id", "name"]].set_geometry(shapely.simplify(lines.geometry.values, 0.01), crs=lines.crs)

    return cached("overview-lines", store, compute)


def overview_data(store) -> tuple:
    """(summaries, simplified lines, province polygons or None)."""
    summaries, divisions = summaries_data(store)
    return summaries, overview_lines(store), divisions


@bp.route("/")
def index():
    """The overview page."""
    summaries, lines, divisions = overview_data(get_store())
    lang = current_lang()
    labels = {s: t(s) for s in STATUSES} | {"lines": t("lines"), "provinces": t("province"),
                                             "legend": t("status"), "divisions": t("province")}
    names = {p: province_name(p, lang) for p in PROVINCES}
    m = build_overview_map(summaries, lines, divisions, basemap=basemap(), static_url=static_root(), lang=lang,
                           labels=labels, names=names, province_url=url_for("province.show", code="CODE").replace(
                               "CODE", "{code}"), lines_tiles=overview_tiles(lines))
    rows, loaded = _table(summaries)
    return render_template("overview.html", map=map_parts(m), rows=rows, loaded=loaded, total=len(MAINLAND),
                           colours=STATUSES)


def _table(summaries) -> tuple[list, int]:
    """The overview's rows (the mainland provinces first) and how many mainland provinces have loaded."""
    rows = [summaries[p] for p in MAINLAND] + [summaries[p] for p in PROVINCES if p not in MAINLAND]
    return rows, sum(summaries[p].status != "not_loaded" for p in MAINLAND)


@bp.route("/overview.json")
def index_json():
    """The overview's table: every province's load status and figures, as on ``/``."""
    rows, loaded = _table(summaries_data(get_store())[0])
    return {"loaded": loaded, "total": len(MAINLAND), "provinces": [asdict(r) for r in rows]}


@bp.route("/rules")
def rules():
    """Every QA rule with its severity, what it finds and its tolerances."""
    return render_template("rules.html", rules=list(REGISTRY.values()))


@bp.route("/healthz")
def health():
    """For load balancers and the test server fixture."""
    return {"status": "ok"}
