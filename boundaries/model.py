"""Plain data passed between the readers, the rules, the store and the report.

A :class:`Submission` is what a province hands in: boundary lines (界线) and boundary markers (界桩) as
GeoDataFrames in CGCS2000 geographic coordinates (EPSG:4490) with the canonical field names of SPEC §4,
and the facts about the files it came from. An :class:`Issue` is one finding of a rule (SPEC §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from boundaries._lazy import lazy_module

gpd = lazy_module("geopandas")

__all__ = [
    "LINE_FIELDS",
    "MARKER_FIELDS",
    "STORAGE_CRS",
    "Issue",
    "SourceFile",
    "Submission",
    "empty_lines",
    "empty_markers",
]

STORAGE_CRS = "EPSG:4490"

#: Canonical attribute fields of each layer, in SPEC §4's order (geometry apart).
LINE_FIELDS = ("line_id", "left_code", "right_code", "name")
MARKER_FIELDS = ("marker_id", "marker_type", "line_id", "x", "y", "lon", "lat", "h")

#: Columns every read feature also carries, so that issues can name the file and the row.
SOURCE_FIELDS = ("source_file", "source_row")


@dataclass
class Issue:
    """One finding of one rule, located in EPSG:4490 (SPEC §6)."""

    rule: str
    severity: str
    layer: str
    feature: str | None
    lon: float | None
    lat: float | None
    message: str
    message_en: str | None = None
    file: str | None = None

    def to_json(self, lang: str = "zh") -> dict:
        """The SPEC §6 object; ``file`` is added when the issue concerns one file."""
        # built directly, not with dataclasses.asdict (a recursive deep copy: a quarter of a second for the
        # 8,000 issues of a national county check); the fields are flat, the keys in the same order
        lon, lat = self.lon, self.lat
        out = {"rule": self.rule, "severity": self.severity, "layer": self.layer, "feature": self.feature,
               "lon": None if lon is None else round(float(lon), 7),
               "lat": None if lat is None else round(float(lat), 7),
               "message": self.message_en if lang == "en" and self.message_en else self.message}
        if self.file is not None:
            out["file"] = self.file
        return out


@dataclass
class SourceFile:
    """A file of the submission as it arrived: its name, SHA-256 checksum and size in bytes."""

    name: str
    sha256: str
    size: int


def empty_lines() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {name: [] for name in (*LINE_FIELDS, *SOURCE_FIELDS)}, geometry=[], crs=STORAGE_CRS
    ).astype({"source_row": "int64"})


def empty_markers() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {name: [] for name in (*MARKER_FIELDS, *SOURCE_FIELDS)}, geometry=[], crs=STORAGE_CRS
    )
    return frame.astype({c: "float64" for c in ("x", "y", "lon", "lat", "h")} | {"source_row": "int64"})


@dataclass
class Submission:
    """One province's submission: lines and markers in EPSG:4490 plus where they came from.

    ``declared_crs`` is the EPSG code the coordinates arrived in (e.g. ``EPSG:4547``); ``x``/``y``
    of markers are the declared Gauss-Krüger northing/easting in that CRS, ``lon``/``lat`` the declared
    geographic coordinates, both as the surveyor wrote them (NaN when absent).
    """

    province: str
    lines: gpd.GeoDataFrame = field(default_factory=empty_lines)
    markers: gpd.GeoDataFrame = field(default_factory=empty_markers)
    files: list[SourceFile] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)  # source, layer, features, encoding, crs per layer
    encoding: str | None = None
    declared_crs: str | None = None
    issues: list[Issue] = field(default_factory=list)
