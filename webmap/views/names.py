"""``/names``: search the gazetteer as you type, results on a map and in a list; a page per name."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from webmap.auth import login_required
from webmap.db import get_store
from webmap.gazetteer import search_names, show_name
from webmap.maps import build_names_map, map_parts
from webmap.views import basemap, static_root
from webmap.views.overview import overview_lines

__all__ = ["bp"]

bp = Blueprint("names", __name__)


@bp.route("/names")
@login_required
def index():
    """The search page (``?q=`` pre-fills the box)."""
    m = build_names_map(basemap=basemap(), static_url=static_root(), lines=overview_lines(get_store()))
    return render_template("names.html", map=map_parts(m), query=request.args.get("q", ""))


@bp.route("/names/search.json")
@login_required
def search():
    """Search results as JSON, for the page's search-as-you-type."""
    limit = min(max(request.args.get("limit", 20, type=int), 1), 100)
    results = search_names(get_store(), request.args.get("q", ""), limit=limit,
                           within=request.args.get("within") or None)
    return jsonify({"query": request.args.get("q", ""), "results": results})


@bp.route("/names/<name_id>")
@login_required
def show(name_id: str):
    """One name: standard form, pinyin, class, division, aliases and history, on a map with its extent."""
    record = show_name(get_store(), name_id)
    points = [record] if record.get("lon") is not None else []
    m = build_names_map(basemap=basemap(), static_url=static_root(), points=points,
                        lines=overview_lines(get_store()), extent=record.get("extent"))
    return render_template("name.html", record=record, map=map_parts(m))
