"""``/ogc``: OGC API – Features (the adapter over :mod:`webmap.ogc`), and GeoJSON downloads per
province and layer, and of one submission's features."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, request

from boundaries.export import export_layer
from webmap import ogc, openapi
from webmap.auth import login_required
from webmap.db import get_store
from webmap.status import line_agreement

__all__ = ["bp"]

bp = Blueprint("api", __name__)
DOWNLOAD_LAYERS = ("lines", "markers", "issues")


def respond(result: tuple[dict, int, str]) -> Response:
    """The one adapter: core ``(headers, status, content)`` → a Flask response."""
    headers, status, content = result
    return Response(content, status=status, headers=headers)


def _base() -> str:
    return request.url_root.rstrip("/") + "/ogc"


def _agreement(page, frame) -> dict[str, list]:
    """Lines get ``agreement`` (with the neighbour's version of the same boundary) for the map's styling."""
    if "left_code" not in page.columns or "status" not in page.columns:
        return {}
    return {"agreement": line_agreement(page, frame[frame["status"] == "current"])}


@bp.route("/ogc", strict_slashes=False)
@login_required
def landing():
    """The API's landing page."""
    return respond(ogc.landing(_base()))


@bp.route("/ogc/api")
@login_required
def api_definition():
    """The OpenAPI 3.0 definition (the landing page's ``service-desc``)."""
    return respond(ogc.json_response(openapi.document(_base()), media_type=ogc.OPENAPI))


@bp.route("/ogc/api.html")
@login_required
def api_documentation():
    """The API definition as an HTML page (``service-doc``)."""
    doc = openapi.document(_base())
    params = {f"#/components/parameters/{name}": p for name, p in doc["components"]["parameters"].items()}
    return render_template("ogc_api.html", doc=doc, params=params)


@bp.route("/ogc/conformance")
@login_required
def conformance():
    """Conformance classes."""
    return respond(ogc.conformance())


@bp.route("/ogc/collections")
@login_required
def collections():
    """All collections."""
    return respond(ogc.collections(_base()))


@bp.route("/ogc/collections/<cid>")
@login_required
def collection(cid: str):
    """One collection."""
    return respond(ogc.collection(_base(), cid))


@bp.route("/ogc/collections/<cid>/queryables")
@login_required
def queryables(cid: str):
    """The properties a collection can be filtered on (JSON Schema)."""
    return respond(ogc.queryables(_base(), cid))


@bp.route("/ogc/collections/<cid>/items")
@login_required
def items(cid: str):
    """A page of features (``bbox``, ``limit``, ``offset``, ``province``, ``zoom``)."""
    extra = _agreement if cid == "lines" else None
    return respond(ogc.items(get_store(), _base(), cid, request.args, extra=extra))


@bp.route("/ogc/collections/<cid>/items/<fid>")
@login_required
def item(cid: str, fid: str):
    """One feature."""
    return respond(ogc.item(get_store(), _base(), cid, fid, request.args))


@bp.route("/download/<province>/<layer>.geojson")
@login_required
def download(province: str, layer: str):
    """A province's current lines, markers or issues as an RFC 7946 GeoJSON file (as ``quhua export``)."""
    if layer not in DOWNLOAD_LAYERS:
        abort(404, f"no layer {layer!r} to download; choose one of {', '.join(DOWNLOAD_LAYERS)}")
    code = ogc.parse_items_query({"province": province})["province"] if province.isdigit() else None
    if code is None:
        abort(404, f"{province!r} is not a province code")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{layer}.geojson"
        export_layer(get_store(), layer, path, fmt="geojson", province=code)
        body = path.read_bytes()
    return Response(body, mimetype="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="{code}_{layer}.geojson"'})


@bp.route("/download/submission/<int:sid>/<layer>.geojson")
@login_required
def download_submission(sid: int, layer: str):
    """The lines or markers of one submission (current or superseded), as GeoJSON."""
    if layer not in ("lines", "markers"):
        abort(404, "a submission has lines and markers")
    frame = get_store().read_layer(layer, history=True)
    frame = frame[frame["submission_id"] == sid]
    if frame.empty:
        abort(404, f"submission {sid} has no {layer}")
    body = ogc.feature_collection_json(frame)
    return Response(body, mimetype="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="submission_{sid}_{layer}.geojson"'})
