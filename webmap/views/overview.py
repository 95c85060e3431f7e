"""``/``: the national overview, public — which provinces have loaded, on a map and in a table; the same
table as JSON at ``/overview.json`` (for scripts and dashboards).
``/rules``: what each QA rule finds (the issues link here)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import shapely
from flask import Blueprint, Response, render_template, url_for

from boundaries.errors import QuhuaError, StoreError
from boundaries.export import read_any_layer
from boundaries.readers import PROVINCES
from boundaries.rules import REGISTRY
from webmap.cache import cached, per_row
from webmap.db import get_store
from webmap.errors import NotFound, WebError
from webmap.i18n import current_lang, format_date, province_name, t
from webmap.maps import NOT_COUNTED_COLOUR, build_overview_map, map_parts
from webmap.status import MAINLAND, NOT_COUNTED, STATUSES, load_counts, province_summaries
from webmap.tiles import overview_tiles
from webmap.views import basemap, static_root

__all__ = ["bp", "export_response", "overview_data", "overview_lines", "summaries_data", "today"]

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
        simple = per_row("simplified", lines, lambda geometry: shapely.simplify(geometry, 0.01))
        return lines[["line_id", "name"]].set_geometry(np.array(simple, dtype=object), crs=lines.crs)

    return cached("overview-lines", store, compute)


def overview_data(store) -> tuple:
    """(summaries, simplified lines, province polygons or None)."""
    summaries, divisions = summaries_data(store)
    return summaries, overview_lines(store), divisions


def today() -> str:
    """Today in Beijing time, in the reader's language (the date printed on a map)."""
    from datetime import UTC, datetime

    return format_date(datetime.now(UTC), current_lang()).rsplit(" ", 1)[0]


def _overview_labels(counts) -> dict[str, str]:
    lang = current_lang()
    places = ("、" if lang == "zh" else ", ").join(province_name(p, lang) for p in counts.not_counted)
    labels = {s: t(s) for s in STATUSES} | {"lines": t("lines"), "provinces": t("province"),
                                             "legend": t("status"), "divisions": t("province")}
    return labels | {"not_counted_entry": f"{places}（{t('not_counted')}）" if lang == "zh" else
                     f"{places} ({t('not_counted')})", "counted_note": t("counted_note"),
                     "title": t("overview_title"), "source": t("data_source"), "north": t("north"),
                     "nanhai": t("nanhai")}


@bp.route("/")
def index():
    """The overview page."""
    store = get_store()
    summaries, lines, divisions = overview_data(store)
    lang, base, static, as_of = current_lang(), basemap(), static_root(), t("as_of", date=today())
    counts = load_counts(summaries)
    province_url = url_for("province.show", code="CODE").replace("CODE", "{code}")
    tiles = overview_tiles(lines)  # depends on the reader: tiles only for those who may read every line

    def render_map() -> dict[str, str]:
        names = {p: province_name(p, lang) for p in PROVINCES}
        m = build_overview_map(summaries, lines, divisions, basemap=base, static_url=static, lang=lang,
                               labels=_overview_labels(counts), names=names, counts=counts, as_of=as_of,
                               province_url=province_url, lines_tiles=tiles)
        return map_parts(m)

    # rendered once per state of the database and of everything else the map shows (language, date, basemap,
    # whether the reader gets tiled lines); the page around it (the user's name, the CSP nonce the template
    # puts on its scripts) is made per request
    parts = cached("overview-map", store, render_map, lang, as_of, base.url, base.attribution, static,
                   province_url, tiles)
    return render_template("overview.html", map=parts, rows=_table(summaries), counts=counts,
                           colours=STATUSES | {"not_counted": NOT_COUNTED_COLOUR}, not_counted=NOT_COUNTED,
                           as_of=as_of)


def _table(summaries) -> list:
    """The overview's rows: the 31 counted provinces first, then Taiwan, Hong Kong and Macao."""
    return [summaries[p] for p in MAINLAND] + [summaries[p] for p in PROVINCES if p not in MAINLAND]


@bp.route("/overview.json")
def index_json():
    """The overview's table: every province's load status and figures, as on ``/``; ``loaded`` and
    ``total`` count the 31 provinces of ``counted`` (``not_counted``: Taiwan, Hong Kong, Macao)."""
    summaries = summaries_data(get_store())[0]
    counts = load_counts(summaries)
    return {"loaded": counts.loaded, "total": counts.counted, "by_status": counts.by_status,
            "counted": [p + "0000" for p in MAINLAND], "not_counted": [p + "0000" for p in counts.not_counted],
            "provinces": [asdict(r) for r in _table(summaries)]}


def export_response(render, fmt: str, filename: str) -> Response:
    """A rendered map as a download; 404 for an unknown format, 503 naming the extra without matplotlib."""
    from webmap import printmap

    if fmt not in printmap.FORMATS:
        raise NotFound(f"没有 {fmt!r} 格式的地图；可选 png、pdf", f"no map format {fmt!r}; choose png or pdf")
    if not printmap.available():
        raise WebError(t("export_missing", "zh"), t("export_missing", "en"), status=503)
    return Response(render(printmap), mimetype=printmap.FORMATS[fmt],
                    headers={"Content-Disposition": f'inline; filename="{filename}.{fmt}"'})


@bp.route("/export/overview.<fmt>")
def export_overview(fmt: str):
    """The national overview map as PNG or PDF (public, as ``/``), rendered by :mod:`webmap.printmap`."""
    store, lang = get_store(), current_lang()

    def render(printmap):
        summaries, lines, divisions = overview_data(store)
        counts = load_counts(summaries)
        labels = _overview_labels(counts)
        entries = {s: t(s) for s in STATUSES} | {"not_counted": labels["not_counted_entry"]}
        text = printmap.PrintLabels(
            title=t("overview_title"), subtitle=f"{t('as_of', date=today())} · "
            f"{t('loaded_count', n=counts.loaded, total=counts.counted)}", source=t("data_source"),
            north=t("north"), nanhai=t("nanhai"), legend=t("status"), entries=entries, note=t("counted_note"))
        return cached(f"export-overview-{fmt}-{lang}-{today()}", store,
                      lambda: printmap.render_overview(
            summaries, counts, divisions, lines, text, fmt, lang=lang,
            names={p: province_name(p, lang) for p in PROVINCES}))

    return export_response(render, fmt, "quhua_overview")


@bp.route("/rules")
def rules():
    """Every QA rule with its severity, what it finds and its tolerances."""
    return render_template("rules.html", rules=list(REGISTRY.values()))


@bp.route("/healthz")
def health():
    """For load balancers and the test server fixture."""
    return {"status": "ok"}
