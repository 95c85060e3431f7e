"""A place-name record (SPEC §8) and the facts about names the gazetteer reasons with."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from functools import cache

from boundaries._lazy import lazy_module

shapely = lazy_module("shapely")

__all__ = ["CLASSES", "NameRecord", "division_level", "importance", "prominence", "valid_code"]

#: The twelve classes of the second national place-name census (GB/T 18521 based; DOMAIN.md).
CLASSES = ("海域", "陆地水系", "陆地地形", "行政区域", "群众自治组织", "非行政区域", "居民点", "交通运输设施",
           "水利电力通信设施", "纪念地旅游景点", "建筑物", "单位")
_CODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")


def valid_code(code: str | None) -> bool:
    """A GB/T 2260 code (6 digits) or a statistical code (9 or 12 digits) with a known province prefix."""
    return isinstance(code, str) and bool(_CODE.match(code)) and code[:2] in _provinces()


@cache
def _provinces() -> dict[str, str]:
    """The provinces by code prefix, imported at the first use (boundaries.readers imports geopandas) and
    then at hand: an import statement in :func:`valid_code`, which an import calls twice a name, cost 4 s of
    CPU in a million names (py-spy)."""
    from boundaries.readers import PROVINCES

    return PROVINCES


def division_level(code: str) -> str:
    """province / city / county / township / village, read from the code's shape.

    >>> division_level("360000"), division_level("360100"), division_level("360111"), division_level("360111100")
    ('province', 'city', 'county', 'township')
    """
    if len(code) == 12:
        return "village"
    if len(code) == 9:
        return "township"
    if code.endswith("0000"):
        return "province"
    return "city" if code.endswith("00") else "county"


#: Prominence of a GeoNames feature code: the capital (PPLC), a province (ADM1) and its seat (PPLA), a
#: prefecture-level city (ADM2, PPLA2), a county (ADM3, PPLA3), a township (ADM4, PPLA4), a section of a city
#: (PPLX); other populated places (PPL …) as any 居民点.
_FEATURE_PROMINENCE = {"PPLC": 11, "ADM1": 10, "PPLA": 9, "PPLG": 9, "ADM2": 8, "PPLA2": 8, "ADM3": 6, "PPLA3": 6,
                       "ADM4": 4, "PPLA4": 4, "PPLX": 3}
_DIVISION_PROMINENCE = {"province": 10, "city": 8, "county": 6, "township": 4, "village": 2}


def importance(klass: str, code: str | None, subclass: str | None = None, name: str = "") -> int:
    """How prominent a name is, for ranking equal matches: the capital over a province over a
    prefecture-level city over a county over a district (a county-level 区) over a township over a village,
    from the GeoNames feature code (``subclass``) where the source gives one, else from the division code of
    a 行政区域 name, else from the class.

    >>> importance("居民点", None, "PPLC"), importance("居民点", None, "PPLA"), importance("行政区域", "610100")
    (11, 9, 8)
    >>> importance("行政区域", "130929", "ADM3", "献县"), importance("行政区域", "220403", "ADM3", "西安区")
    (6, 5)
    """
    rank = _FEATURE_PROMINENCE.get(subclass or "")
    if rank is None and klass == "行政区域" and code and valid_code(code):
        rank = _DIVISION_PROMINENCE[division_level(code)]
    if rank is None:
        return {"居民点": 3, "群众自治组织": 2, "陆地水系": 3, "陆地地形": 3, "海域": 3}.get(klass, 1)
    return rank - 1 if rank == 6 and name.endswith("区") else rank  # a district ranks after a county


#: The ranking's constants, written once for :func:`prominence`, :func:`placenames.lookup.search` and the SQL
#: that computes the same ranking on PostGIS (:meth:`placenames.postgis.PostgisNameStore.best_near`): the
#: population adds log10(1 + population) / POPULATION_DIVISOR points, at most POPULATION_POINTS; with
#: ``near`` a name loses 1 point per KM_PER_POINT km of great-circle distance (on a sphere of EARTH_KM), at
#: most NEAR_POINTS
POPULATION_DIVISOR, POPULATION_POINTS = 8, 0.99
KM_PER_POINT, NEAR_POINTS, EARTH_KM = 10, 30, 6371.0


def prominence(importance: int, population: int | None) -> float:
    """Points a search adds for prominence: the importance, and within it the population where the source
    gives one (below one point: 10 million people add 0.88), so that the larger of two county seats comes
    first but never a county before a city.

    >>> round(prominence(9, 9_600_000), 2), prominence(9, None), prominence(6, 50_000_000_000) < 7
    (9.87, 9.0, True)
    """
    return importance + (min(POPULATION_POINTS, math.log10(1 + population) / POPULATION_DIVISOR) if population else 0.0)


@dataclass
class NameRecord:
    """One standard name with its romanisation, class, division, point, aliases and validity.

    ``extent`` is the optional area or line the name covers (a lake's polygon, a river's line; EPSG:4490),
    ``bbox`` its bounds (west, south, east, north): a search reads the bounds only, ``names show`` both.
    ``population`` is the source's (GeoNames gives it), None where unknown; it ranks search results.
    """

    name: str
    pinyin: str
    klass: str
    lon: float
    lat: float
    code: str | None = None
    aliases: list[str] = field(default_factory=list)
    status: str = "current"
    valid_from: str | None = None
    valid_to: str | None = None
    source: str | None = None
    source_id: str | None = None
    subclass: str | None = None
    approved_by: str | None = None
    approved_on: str | None = None
    superseded_by: int | None = None
    population: int | None = None
    extent: shapely.Geometry | None = None
    bbox: tuple[float, float, float, float] | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.extent is not None and self.bbox is None:
            self.bbox = tuple(float(v) for v in self.extent.bounds)

    def to_json(self, extent: bool = False) -> dict:
        """The SPEC §8 object (``class`` for ``klass``), with ``bbox`` (null without an extent) and, if
        ``extent``, the extent as a GeoJSON geometry (or null)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("id", "extent", "klass")}
        out["aliases"] = list(self.aliases)
        out["bbox"] = [round(v, 7) for v in self.bbox] if self.bbox else None
        if extent:
            out["extent"] = shapely.geometry.mapping(self.extent) if self.extent is not None else None
        return {"id": self.id, **out, "class": self.klass}
