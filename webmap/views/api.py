"""``/ogc``: OGC API – Features (the adapter over :mod:`webmap.ogc`), and GeoJSON downloads per
province and layer, and of one submission's features."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request

from boundaries.export import export_layer
from webmap import ogc, openapi
from webmap.auth import PROVINCE_COLLECTIONS, authorize, current_user, province_scope, requires
from webmap.cache import per_province
from webmap.db import get_store
from webmap.errors import NotFound
from webmap.status import line_agreement

__all__ = ["bp"]

bp = Blueprint("api", __name__)
DOWNLOAD_LAYERS = ("lines", "markers", "issues")


def respond(result: tuple[dict, int, str]) -> Response:
    """The one adapter: core ``(headers, status, content)`` → a Flask response."""
    headers, status, content = result
    return Response(content, status=status, headers=headers)


def _base() -> str:
    """The API's root URL in links: ``BASE_URL`` when configured (never the client's ``Host`` header), else
    the request's own URL (fine behind a proxy that sets Host itself; see README "Security")."""
    root = current_app.config.get("BASE_URL") or request.url_root
    return root.rstrip("/") + "/ogc"


def _download_code(kwargs: dict) -> str | None:
    """The province code of a download URL, or None when it is none (the view answers 404)."""
    province = kwargs["province"]
    try:
        return ogc.parse_items_query({"province": province})["province"] if province.isdigit() else None
    except ogc.QueryError:
        return None


def _scoped_args(cid: str):
    """The items query as the user may send it: a surveyor's province data is their own province's (the
    lines with a side in it, whoever submitted them: the neighbour's version of a shared line too); asking
    for another province is 403, asking for none reads their own."""
    scope = province_scope(current_user()) if cid in PROVINCE_COLLECTIONS else None
    if scope is None:
        return request.args
    asked = request.args.get("province")
    if asked:
        try:
            authorize("province", ogc.parse_items_query({"province": asked})["province"])
        except ogc.QueryError:
            return request.args  # the API answers 400
        return request.args
    return dict(request.args.items()) | {"province": scope}


def _agreement(page, store) -> dict[str, list]:
    """Lines get ``agreement`` (with the neighbour's version of the same boundary) for the map's styling:
    the candidates are the current lines between the page's codes, asked of the store (not the layer)."""
    if "left_code" not in page.columns or "status" not in page.columns:
        return {}

    codes = sorted({str(c) for c in (*page["left_code"], *page["right_code"]) if c is not None})
    at = ogc.parse_datetime(request.args.get("datetime"))  # as of that date, the neighbour's version then

    def compute() -> list[str]:
        candidates = store.query("lines", properties={"left_code": codes, "right_code": codes}, count=False,
                                 **({"at": at} if at is not None else {})).features
        return line_agreement(page, candidates)

    # once per page of rows, date and state of the provinces of its codes (the candidates that can match are
    # lines between them): reading the candidates' whole geometry was half the time of a page of lines
    return {"agreement": per_province("agreement", store, [c[:2] for c in codes], compute,
                                      tuple(page["fid"].tolist()), at)}


@bp.route("/ogc", strict_slashes=False)
@requires("api")
def landing():
    """The API's landing page."""
    return respond(ogc.landing(_base()))


@bp.route("/ogc/api")
@requires("api")
def api_definition():
    """The OpenAPI 3.0 definition (the landing page's ``service-desc``)."""
    return respond(ogc.json_response(openapi.document(_base()), media_type=ogc.OPENAPI))


@bp.route("/ogc/api.html")
@requires("api")
def api_documentation():
    """The API definition as an HTML page (``service-doc``)."""
    doc = openapi.document(_base())
    params = {f"#/components/parameters/{name}": p for name, p in doc["components"]["parameters"].items()}
    return render_template("ogc_api.html", doc=doc, params=params)


@bp.route("/ogc/conformance")
@requires("api")
def conformance():
    """Conformance classes."""
    return respond(ogc.conformance())


@bp.route("/ogc/collections")
@requires("api")
def collections():
    """All collections."""
    return respond(ogc.collections(_base(), get_store()))


@bp.route("/ogc/collections/<cid>")
@requires("api")
def collection(cid: str):
    """One collection."""
    return respond(ogc.collection(_base(), cid, get_store()))


@bp.route("/ogc/collections/<cid>/queryables")
@requires("api")
def queryables(cid: str):
    """The properties a collection can be filtered on (JSON Schema)."""
    return respond(ogc.queryables(_base(), cid))


@bp.route("/ogc/collections/<cid>/items")
@requires("api")
def items(cid: str):
    """A page of features (``bbox``, ``limit``, ``offset``, ``province``, ``zoom``)."""
    extra = _agreement if cid == "lines" else None
    return respond(ogc.items(get_store(), _base(), cid, _scoped_args(cid), extra=extra))


@bp.route("/ogc/collections/<cid>/items/<fid>")
@requires("api")
def item(cid: str, fid: str):
    """One feature."""
    scope = province_scope(current_user()) if cid in PROVINCE_COLLECTIONS else None
    return respond(ogc.item(get_store(), _base(), cid, fid, request.args, province=scope))


@bp.route("/download/<province>/<layer>.geojson")
@requires("province", _download_code)
def download(province: str, layer: str):
    """A province's current lines, markers or issues as an RFC 7946 GeoJSON file (as ``quhua export``)."""
    if layer not in DOWNLOAD_LAYERS:
        raise NotFound(f"没有可下载的图层 {layer!r}；可选 {'、'.join(DOWNLOAD_LAYERS)}",
                       f"no layer {layer!r} to download; choose one of {', '.join(DOWNLOAD_LAYERS)}")
    code = _download_code({"province": province})
    if code is None:
        raise NotFound(f"{province!r} 不是省级行政区代码", f"{province!r} is not a province code")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{layer}.geojson"
        export_layer(get_store(), layer, path, fmt="geojson", province=code)
        body = path.read_bytes()
    return Response(body, mimetype="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="{code}_{layer}.geojson"'})


@bp.route("/download/submission/<int:sid>/<layer>.geojson")
@requires("api")
def download_submission(sid: int, layer: str):
    """The lines or markers of one submission (current or superseded), as GeoJSON."""
    if layer not in ("lines", "markers"):
        raise NotFound("一次提交只有界线（lines）和界桩（markers）", "a submission has lines and markers")
    frame = get_store().query(layer, properties={"submission_id": sid}, history=True, count=False).features
    if frame.empty:
        raise NotFound(f"提交 {sid} 没有 {layer}", f"submission {sid} has no {layer}")
    authorize("province", str(frame["province"].iloc[0]))
    body = ogc.feature_collection_json(frame)
    return Response(body, mimetype="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="submission_{sid}_{layer}.geojson"'})
