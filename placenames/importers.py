"""Reading names (CSV, GeoJSON, GeoNames dumps) and division polygons into the gazetteer.

A name may carry an extent (范围): the polygon or line it covers, as a GeoJSON feature's geometry or as
WKT in a CSV column ``extent``/``范围``; without lon/lat its point is then taken on the extent (inside a
polygon, halfway along a line).

Every row is validated first; one bad row means nothing is stored and every bad row is reported with its
line number (:class:`~placenames.errors.ImportRowsError`). A name without a division code gets the
county-level division whose polygon holds its point.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import gc
import itertools
import multiprocessing
import operator
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.crs import CHINA_BOUNDS
from boundaries.safe_open import read_vector
from placenames.errors import ImportRowsError, PlacenamesError, RowProblem
from placenames.geonames import COLUMNS as GEONAMES_COLUMNS
from placenames.geonames import Skipped, alternate_names, standard_name
from placenames.model import CLASSES, NameRecord, division_level, valid_code
from placenames.romanize import has_chinese, romanize
from placenames.store import SEARCH_KEYS, NameStore, search_keys

__all__ = ["GEONAMES_CLASSES", "ImportResult", "import_divisions", "import_names", "open_names", "read_names"]

#: GeoNames feature class → census class.
GEONAMES_CLASSES = {"A": "行政区域", "P": "居民点", "H": "陆地水系", "T": "陆地地形", "V": "陆地地形",
                    "U": "海域", "R": "交通运输设施", "S": "建筑物", "L": "非行政区域"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FLOAT_CODE = re.compile(r"\d+\.0")  # a code a spreadsheet wrote as a number
_ALIAS_SPLIT = re.compile(r"[;；|、]")


def _text(value) -> str | None:
    if type(value) is str:  # every value of a CSV row: one test
        return value.strip() or None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _extent(value) -> shapely.Geometry | None:
    """A row's extent: a polygon or line (a geometry, or WKT text); raises :class:`RowProblem` with what is wrong."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = shapely.from_wkt(value)
        except shapely.errors.GEOSException as err:
            raise RowProblem(f"extent {value[:40]!r} is not WKT, e.g. POLYGON ((115.8 28.6, …))",
                             f"范围 {value[:40]!r} 不是 WKT，应如 POLYGON ((115.8 28.6, …))") from err
    if value is None or (isinstance(value, float) and np.isnan(value)) or value.is_empty:
        return None
    if value.geom_type not in _EXTENT_TYPES:
        raise RowProblem(f"extent is a {value.geom_type}; it must be a polygon or a line",
                         f"范围是 {value.geom_type}，应为面或线")
    if not value.is_valid:
        raise RowProblem(f"extent is not a valid geometry ({shapely.is_valid_reason(value)}); repair it, e.g. "
                         "with QGIS's Fix geometries",
                         f"范围几何无效（{shapely.is_valid_reason(value)}），请修复，如用 QGIS 的“修复几何”")
    w, s, e, n = CHINA_BOUNDS
    x0, y0, x1, y1 = value.bounds
    if not (w <= x0 and x1 <= e and s <= y0 and y1 <= n):
        raise RowProblem(f"extent ({x0:.4f}, {y0:.4f}, {x1:.4f}, {y1:.4f}) reaches outside China "
                         f"(lon {w}–{e}, lat {s}–{n}); not in EPSG:4490 degrees?",
                         f"范围 ({x0:.4f}, {y0:.4f}, {x1:.4f}, {y1:.4f}) 超出中国（经度 {w}–{e}，纬度 {s}–{n}）；"
                         "坐标不是 EPSG:4490 的度？")
    return value


_EXTENT_TYPES = ("Polygon", "MultiPolygon", "LineString", "MultiLineString")


def _anchor(extent: shapely.Geometry) -> shapely.Point:
    """A name's point on its extent: inside a polygon, halfway along a line."""
    if extent.geom_type.endswith("Polygon"):
        return extent.representative_point()
    return extent.interpolate(0.5, normalized=True)


def _row_record(row: dict, source: str) -> NameRecord:
    """One table row → a record; raises :class:`RowProblem` with what is wrong."""
    name = _text(row.get("name") or row.get("标准名称") or row.get("名称"))
    if not name or not has_chinese(name):
        raise RowProblem(f"name {name!r} is not a Chinese standard name", f"名称 {name!r} 不是汉字标准名称")
    klass = _text(row.get("class") or row.get("类别"))
    if klass not in CLASSES:
        raise RowProblem(f"class {klass!r} is none of the census classes ({'、'.join(CLASSES)})",
                         f"类别 {klass!r} 不属于普查的十二类（{'、'.join(CLASSES)}）")
    extent = _extent(row.get("extent") if row.get("extent") is not None else row.get("范围"))
    lon, lat = row.get("lon") or row.get("经度"), row.get("lat") or row.get("纬度")
    if extent is not None and _text(lon) is None and _text(lat) is None:
        lon, lat = _anchor(extent).coords[0]
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError) as err:
        raise RowProblem("lon/lat must be decimal degrees (or give an extent to take the point from)",
                         "经度、纬度应为十进制度（或给出范围，由其取点）") from err
    w, s, e, n = CHINA_BOUNDS
    if not (w <= lon <= e and s <= lat <= n):
        raise RowProblem(f"point ({lon}, {lat}) lies outside China (lon {w}–{e}, lat {s}–{n}); lon/lat swapped?",
                         f"点位 ({lon}, {lat}) 在中国以外（经度 {w}–{e}，纬度 {s}–{n}）；经纬度是否颠倒？")
    code = _text(row.get("code") or row.get("区划代码"))
    if code and _FLOAT_CODE.fullmatch(code):
        code = code[:-2]
    if code and not valid_code(code):
        raise RowProblem(f"division code {code!r} is not a 6-, 9- or 12-digit code with a province prefix",
                         f"区划代码 {code!r} 不是以省级代码开头的 6、9 或 12 位代码")
    valid_from, valid_to, approved_on = _text(row.get("valid_from")), _text(row.get("valid_to")), _text(
        row.get("approved_on"))
    for field, value in (("valid_from", valid_from), ("valid_to", valid_to), ("approved_on", approved_on)):
        if value and not _DATE.match(value):
            raise RowProblem(f"{field} {row.get(field)!r} is not a date YYYY-MM-DD",
                             f"{field} {row.get(field)!r} 不是 YYYY-MM-DD 格式的日期")
    aliases = [a.strip() for a in _ALIAS_SPLIT.split(_text(row.get("aliases") or row.get("别名")) or "") if a.strip()]
    population = _population(row.get("population") or row.get("人口"))
    status = _text(row.get("status")) or ("historical" if valid_to else "current")
    if status not in ("current", "historical"):
        raise RowProblem(f"status {status!r} must be current or historical",
                         f"状态 {status!r} 应为 current（现行）或 historical（历史）")
    return NameRecord(name=name, pinyin=romanize(name, _text(row.get("pinyin"))), klass=klass, lon=lon, lat=lat,
                      code=code, aliases=aliases, status=status, valid_from=valid_from,
                      valid_to=valid_to, source=_text(row.get("source")) or source,
                      source_id=_text(row.get("id")), subclass=_text(row.get("subclass")),
                      approved_by=_text(row.get("approved_by")), approved_on=approved_on,
                      extent=extent, population=population)


def _population(value) -> int | None:
    """A row's population (GeoNames' column, a CSV's ``population``/``人口``): a whole number ≥ 0, 0 and
    empty read as unknown; raises :class:`RowProblem` otherwise."""
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        number = -1
    if number < 0 or number != int(number):
        raise RowProblem(f"population {text!r} is not a whole number", f"人口 {text!r} 不是非负整数")
    return int(number) or None


def _geonames_records(path: Path, alternates: Path | None, skipped: list[Skipped]
                      ) -> Iterator[tuple[int, NameRecord | Exception]]:
    """The records of a GeoNames dump, line after line (the standard name chosen by
    :func:`placenames.geonames.standard_name`, with the Chinese-tagged names of ``alternates``, an
    ``alternateNamesV2.txt``); the rows that give no name are appended to ``skipped``. With ``alternates``
    the dump is read twice: once for its ids (the alternate names kept are those of its places), then
    for its rows."""
    tagged = {}
    if alternates:
        with path.open(encoding="utf-8") as f:
            ids = {line.split("\t", 1)[0] for line in f}
        tagged = alternate_names(alternates, ids)
        del ids
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != len(GEONAMES_COLUMNS):
                yield number, RowProblem(f"{len(parts)} columns, a GeoNames dump has 19",
                                         f"{len(parts)} 列，GeoNames 数据应有 19 列")
                continue
            row = dict(zip(GEONAMES_COLUMNS, parts, strict=True))
            forms = [a for a in row["alternatenames"].split(",") if a]
            name, reason = standard_name(forms, row["asciiname"], tagged.get(row["geonameid"], ()))
            if name is None:
                skipped.append(Skipped(number, row["geonameid"], row["name"], reason))
                continue
            others = [f for f, _, _ in tagged.get(row["geonameid"], ())] + forms
            record = {"name": name, "class": GEONAMES_CLASSES.get(row["feature_class"], "非行政区域"),
                      "lon": row["longitude"], "lat": row["latitude"], "id": row["geonameid"],
                      "aliases": "|".join(a for a in dict.fromkeys([row["name"], *others]) if a != name),
                      "subclass": row["feature_code"], "population": row["population"]}
            try:
                yield number, _row_record(record, "geonames")
            except ValueError as err:
                yield number, err


#: Bytes of a file decoded at a time while its encoding is checked (the file is never held whole).
_CHUNK = 1 << 20


def _csv_encoding(path: Path) -> str:
    """The encoding a CSV file decodes in from start to end — strict UTF-8 (BOM allowed), else GB18030, as
    :func:`boundaries.encoding.decode_text` chooses for a whole text — checked chunk by chunk with an
    incremental decoder, so that a national file is not read into memory (decode_text takes the bytes
    whole)."""
    import codecs

    for codec in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(codec)()
        try:
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return codec
    raise PlacenamesError(  # the core's advice (--encoding) is not an option of this command
        f"{path.name}: the text is neither UTF-8 nor GB18030/GBK; save the file as UTF-8 and import again",
        message_zh=f"{path.name}：文本既不是 UTF-8 也不是 GB18030/GBK；请另存为 UTF-8 后重新导入",
        file=path.name, rule="dataset.encoding")


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, dict]]:
    """The rows of a CSV file with their line numbers (line 1 is the header), read as they come."""
    with path.open(encoding=encoding, newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            yield i + 2, row


def _layer_rows(frame: gpd.GeoDataFrame) -> Iterator[tuple[int, dict]]:
    """The features of a GDAL layer as rows (a point's lon/lat, another geometry as the extent), one at a
    time from the frame (GDAL has read the file whole: the GeoJSON driver needs the whole text)."""
    columns = list(frame.columns)
    for i, values in enumerate(frame.itertuples(index=False, name=None)):
        row = dict(zip(columns, values, strict=True))
        geometry = row.pop(frame.geometry.name)
        if geometry is not None and geometry.geom_type == "Point":
            row["lon"], row["lat"] = geometry.x, geometry.y
        elif geometry is not None:
            row["extent"] = geometry
        if isinstance(row.get("aliases"), list | np.ndarray):
            row["aliases"] = "|".join(row["aliases"])
        for key, value in row.items():  # GDAL reads a date property as a date: back to YYYY-MM-DD
            if isinstance(value, pd.Timestamp | datetime.date) or value is pd.NaT:
                row[key] = None if pd.isna(value) else value.strftime("%Y-%m-%d")
        yield i + 1, row


def _read_layer(path: Path) -> gpd.GeoDataFrame:
    """A GDAL vector file in EPSG:4490, or a PlacenamesError saying why it cannot be used."""
    try:
        frame = read_vector(path)  # only by the driver its extension allows (issue 12)
    except Exception as err:  # GDAL's errors (pyogrio's DataSourceError …): the file cannot be used
        raise PlacenamesError(f"{path.name}: GDAL cannot read it ({err})", file=path.name,
                              message_zh=f"{path.name}：GDAL 无法读取（{err}）") from err
    if frame.crs is None:
        raise PlacenamesError(f"{path.name}: no coordinate system; save it with EPSG:4490", file=path.name,
                              rule="dataset.crs_missing",
                              message_zh=f"{path.name}：没有坐标系；请以 EPSG:4490 另存")
    return frame.to_crs(4490)


class NameSource(NamedTuple):
    """A names file opened for reading: ``rows`` yields ``(line, record or the problem of that row)`` as
    the file is read, and ``skipped`` fills with the rows that give no name as they are passed."""

    name: str
    rows: Iterator[tuple[int, NameRecord | Exception]]
    skipped: list[Skipped]


def open_names(path: Path, fmt: str | None = None, alternates: Path | None = None) -> NameSource:
    """Open a names file (CSV, GeoJSON, GeoNames dump; ``alternates``: GeoNames' ``alternateNamesV2.txt``)
    for reading row after row. What makes the whole file unusable — a missing file, alternate names
    beside a CSV, an encoding that is neither UTF-8 nor GB18030, a file GDAL cannot read — is raised here,
    before any row is read; a bad row comes as its problem among the rows."""
    path = Path(path)
    for given in (path, alternates):
        if given is not None and not Path(given).exists():
            raise PlacenamesError(f"{given}: no such file", file=Path(given).name, message_zh=f"{given}：文件不存在")
    fmt = fmt or {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".txt": "geonames"}.get(
        path.suffix.lower(), "csv")
    if alternates is not None and fmt != "geonames":
        raise PlacenamesError(f"{Path(alternates).name}: alternate names go with a GeoNames dump (--format "
                              "geonames), not with a CSV or GeoJSON file", file=Path(alternates).name,
                              message_zh=f"{Path(alternates).name}：别名文件只用于 GeoNames 数据（--format geonames），"
                                         "不用于 CSV 或 GeoJSON")
    skipped: list[Skipped] = []
    if fmt == "geonames":
        return NameSource(path.name, _geonames_records(path, alternates and Path(alternates), skipped), skipped)
    rows = _csv_rows(path, _csv_encoding(path)) if fmt == "csv" else _layer_rows(_read_layer(path))

    def records() -> Iterator[tuple[int, NameRecord | Exception]]:
        for number, row in rows:
            try:
                yield number, _row_record(row, path.name)
            except ValueError as err:
                yield number, err

    return NameSource(path.name, records(), skipped)


def read_names(path: Path, fmt: str | None = None, alternates: Path | None = None
               ) -> tuple[list[NameRecord], list[Skipped]]:
    """Every record of a file and the rows that give no name (a GeoNames place without a Chinese form;
    ``alternates`` is GeoNames' ``alternateNamesV2.txt``), or ImportRowsError listing each bad row with its
    line number. The whole file in memory: :func:`import_names` reads it batch after batch instead
    (:func:`open_names`)."""
    source = open_names(path, fmt, alternates)
    records, problems = [], []
    for number, record in source.rows:
        if isinstance(record, Exception):
            problems.append(_problem(number, record))
        else:
            records.append(record)
    if problems:
        raise ImportRowsError(source.name, problems)
    return records, source.skipped


def _problem(number: int, error: Exception) -> tuple[int, str, str]:
    return number, str(error), getattr(error, "zh", str(error))


def _batches(source: NameSource, size: int, problems: list) -> Iterator[list[NameRecord]]:
    """The records of ``source`` in lists of ``size``, read as they are asked for. From the first bad row
    on, no more batches: the rest of the file is read for its problems only, appended to ``problems``
    (the caller then rolls back what it stored). Read inside :func:`import_names`' pause of the garbage
    collector (a reader child inherits it): a collection every :data:`_COLLECT_EVERY` batches of rows."""
    batch: list[NameRecord] = []
    for count, (number, record) in enumerate(source.rows, 1):
        if count % (size * _COLLECT_EVERY) == 0:
            _collect()
        if isinstance(record, Exception):
            problems.append(_problem(number, record))
            batch = []
        elif not problems:
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch and not problems:
        yield batch


_PAUSES = threading.Lock()
_paused = {"depth": 0, "enabled": True}


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off (and the objects from before frozen out of its reach) while an
    import makes and stores its batches, which run it themselves every :data:`_COLLECT_EVERY` batches
    (:func:`_collect`). A batch is hundreds of thousands of new records, tuples and lists with hardly a
    reference cycle among them (reference counting frees them), which the collector's automatic passes
    scanned again and again as they accumulated: 50,000 names, 0.22–0.28 → 0.03–0.05 s of CPU to rebuild a
    batch's records from the pipe, 0.86–1.08 → 0.72–0.87 s to prepare one (4 rounds each, interleaved).
    The import's own collections free what cycles there are, so that memory stays bounded. Nested or on
    several threads, the collector is back as it was when the last pause ends."""
    with _PAUSES:
        if not _paused["depth"]:
            _paused["enabled"] = gc.isenabled()
            gc.disable()
            gc.freeze()
        _paused["depth"] += 1
    try:
        yield
    finally:
        with _PAUSES:
            _paused["depth"] -= 1
            if not _paused["depth"]:
                gc.unfreeze()
                if _paused["enabled"]:
                    gc.enable()


#: Batches between two collections of an import (:func:`_collector_paused`).
_COLLECT_EVERY = 20


def _collect() -> None:
    """The collection an import runs every :data:`_COLLECT_EVERY` batches (:func:`_collector_paused`): the
    garbage collected, then what survives it frozen too — the caches and tables a batch has loaded (after
    the first, 220,000 lists, 191,000 of them pypinyin's phrase table), which each later collection would
    scan again — so that each collection scans only what is new since the last."""
    gc.collect()
    gc.freeze()


def _read_ahead(source: NameSource, size: int, problems: list) -> Iterator[list[NameRecord]]:
    """:func:`_batches` of ``source``, each with its search keys computed (:func:`~placenames.store.search_keys`),
    read in a child process one batch ahead of the caller: the file's parsing, romanisation and keys (half
    of an import's time in Python) run on another core while this process stores the previous batch. The
    child holds the batch it has ready until this process asks for it, so memory stays one batch per
    process. ``problems`` and ``source.skipped`` are filled when the last batch has been
    read, as :func:`_batches` fills them; an error of the child's is raised here. Where processes cannot
    be forked (the child inherits the open file), this process has one core or is itself a daemonic child
    (which may not start one), in this process instead."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if "fork" not in multiprocessing.get_all_start_methods() or cores < 2 or multiprocessing.current_process().daemon:
        yield from _batches(source, size, problems)
        return
    # hand-written over multiprocessing's Pipes rather than a Pool or a Queue: a Queue's feeder thread would
    # let the child read the whole file ahead (its buffer is unbounded), and a Pool's tasks cannot share the
    # one open file. A token back for each batch after the first bounds the child to one batch ahead
    # whatever the batches' size (a pipe's buffer would hold many small ones)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    asked, asking = context.Pipe(duplex=False)
    child = context.Process(target=_read_in_child, args=(source, size, sender, asked), daemon=True,
                            name="quhua names reader")
    child.start()
    sender.close()
    asked.close()
    try:
        for count in itertools.count():
            if count:
                try:
                    asking.send_bytes(b"")  # the next batch, please
                except OSError:  # the child has sent its last word and gone: it waits in the pipe
                    pass
            try:
                kind, *payload = receiver.recv()
            except EOFError:  # the child died without a word (killed)
                raise PlacenamesError(f"{source.name}: the process reading the file ended unexpectedly",
                                      file=source.name, message_zh=f"{source.name}：读取文件的进程意外终止") from None
            if kind == "batch":
                records = _records(*payload)
                del payload  # its tuples, while the batch is stored
                yield records
                del records
            elif kind == "end":
                problems.extend(payload[0])
                source.skipped.extend(payload[1])
                return
            else:
                raise payload[0]
    finally:
        if child.is_alive():  # the caller stopped early (a failure storing a batch): the rest is not needed
            child.terminate()
        child.join()
        receiver.close()
        asking.close()


def _read_in_child(source: NameSource, size: int, sender, asked) -> None:
    """The child of :func:`_read_ahead`: each batch once asked for (the first at once), then the problems
    and skipped rows, or the error."""
    problems: list = []
    try:
        for count, batch in enumerate(_batches(source, size, problems)):
            values = _values(batch)
            if count:
                asked.recv_bytes()
            sender.send(("batch", *values))
            del values  # (not held while the next batch is read)
        sender.send(("end", problems, source.skipped))
    except Exception as err:  # raised in the parent, as reading in the parent would have raised it
        try:
            sender.send(("error", err))
        except Exception:  # an error that does not pickle: its text
            sender.send(("error", PlacenamesError(f"{source.name}: {err!r}", file=source.name,
                                                  message_zh=f"{source.name}：{err!r}")))
    finally:
        sender.close()
        asked.close()


# A batch crosses the pipe as tuples (the records' fields in order, their keys and grams): unpickling 50,000
# records as objects, their keys as sets, took 1.2 s, as tuples 0.2 s — in the parent, whose time counts
_FIELDS = tuple(f.name for f in dataclasses.fields(NameRecord))


_FIELD_VALUES = operator.attrgetter(*_FIELDS)


def _values(batch: list[NameRecord]) -> tuple[list[tuple], list[tuple]]:
    return ([_FIELD_VALUES(r) for r in batch],
            [(tuple(keys), tuple(grams)) for keys, grams in map(search_keys, batch)])


def _records(values: list[tuple], keys: list[tuple]) -> list[NameRecord]:
    records = [NameRecord(*row) for row in values]
    for record, prepared in zip(records, keys, strict=True):
        setattr(record, SEARCH_KEYS, prepared)
    return records


def assign_counties(store: NameStore, records: list[NameRecord], counties: gpd.GeoDataFrame | None = None) -> None:
    """Give every record without a code the county-level division its point lies in (``counties``: the
    store's, read once by a caller that assigns batch after batch)."""
    missing = [r for r in records if not r.code]
    if not missing:
        return
    counties = store.divisions("county") if counties is None else counties
    if counties.empty:
        return
    points = gpd.GeoSeries([shapely.Point(r.lon, r.lat) for r in missing], crs=4490)
    hit = gpd.sjoin(gpd.GeoDataFrame(geometry=points), counties, predicate="within", how="left")
    hit = hit[~hit.index.duplicated()]
    for record, code in zip(missing, hit["code"], strict=True):
        record.code = None if pd.isna(code) else code


class ImportResult(NamedTuple):
    """What an import did: names inserted, names updated, and the rows skipped with their reasons."""

    inserted: int
    updated: int
    skipped: list[Skipped]


_IMPORT_STEPS = {"zh": ("导入地名", "读取", "归属县级区划", "存储", "完成"),
                 "en": ("names import", "reading", "counties of the names", "storing", "done")}


def import_names(store: NameStore, path: Path, fmt: str | None = None, alternates: Path | None = None, *,
                 progress: bool = False, lang: str = "zh") -> ImportResult:
    """Add or update the names of a file in one transaction (``alternates``: GeoNames' alternate names);
    ``progress`` draws a bar of the import's steps on stderr, in ``lang``.

    The file is read and stored batch after batch (:data:`IMPORT_BATCH` names), so that memory does not
    grow with the file. A bad row anywhere means nothing is stored: the rest of the file is read for its
    problems, then the transaction is rolled back and every bad row reported (:class:`ImportRowsError`).
    The first batch is read before the database is opened, so that a file of fewer names than a batch
    with a bad row leaves the database as it was, not even created."""
    from tqdm import tqdm

    desc, reading, counties, storing, done = _IMPORT_STEPS["en" if lang == "en" else "zh"]
    with tqdm(total=3, desc=desc, unit="step", disable=not progress) as bar, _collector_paused():
        bar.set_postfix_str(reading)
        source = open_names(path, fmt, alternates)
        problems: list[tuple[int, str, str]] = []
        batches = _read_ahead(source, IMPORT_BATCH, problems)
        first = next(batches, None)
        if problems:
            for _ in batches:  # the rest of the file, for its problems
                pass
            raise ImportRowsError(source.name, problems)
        bar.update()
        stored = [0]

        def counted():
            for count, batch in enumerate(_counted(store, itertools.chain([first] if first else [], batches)), 1):
                yield batch
                stored[0] += len(batch)
                bar.set_postfix_str(f"{storing} {stored[0]:,}")
                if count % _COLLECT_EVERY == 0:
                    _collect()

        with store.write():
            bar.set_postfix_str(counties)
            bar.update()
            bar.set_postfix_str(storing)
            inserted, updated = store.upsert_batches(counted())
            if problems:
                raise ImportRowsError(source.name, problems)  # rolls back what the batches stored
            bar.update()
        bar.set_postfix_str(done)
    return ImportResult(inserted, updated, source.skipped)


#: Names read and stored per batch: one batch's records and key rows (about 18 per name) are what an import
#: holds at once (the whole file's took 3.9 GB at 1 M names, 10.6 GB at 3 M).
IMPORT_BATCH = 50_000


def _counted(store: NameStore, batches):
    """Each batch with its county codes assigned (:func:`assign_counties`)."""
    counties = None
    for batch in batches:
        if counties is None and any(not r.code for r in batch):
            counties = store.divisions("county")
        assign_counties(store, batch, counties)
        yield batch


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def division_frame(frame: gpd.GeoDataFrame, level: str | None = None, dates: pd.Series | None = None
                   ) -> gpd.GeoDataFrame:
    """Normalise division polygons: ``code``, ``name``, ``level`` (from the code), ``parent`` (from it too),
    and ``date`` (each row's date of change, :func:`placenames.history.row_dates`) if ``dates`` are given."""
    code_col = _column(frame, ("code", "adcode", "区划代码", "行政区划代码", "DM", "XZQDM"))
    name_col = _column(frame, ("name", "名称", "行政区名称", "MC", "XZQMC"))
    if code_col is None or name_col is None:
        columns = ", ".join(map(str, frame.columns))
        raise PlacenamesError(f"the division layer needs a code column (code, adcode, 区划代码) and a name column "
                              f"(name, 名称); it has {columns}",
                              message_zh="区划图层须有代码列（code、adcode、区划代码）和名称列（name、名称）；"
                                         f"现有 {columns}")
    codes = frame[code_col].map(lambda c: str(int(c)) if isinstance(c, float) else str(c).strip())
    bad = [c for c in codes if not valid_code(c)]
    if bad:
        raise PlacenamesError(f"division codes {', '.join(bad[:5])} are not GB/T 2260 codes",
                              message_zh=f"区划代码 {'、'.join(bad[:5])} 不是 GB/T 2260 代码")
    levels = codes.map(division_level) if level is None else pd.Series(level, index=frame.index)
    parents = codes.map(
        lambda c: None if c.endswith("0000") else (c[:2] + "0000" if c.endswith("00") else c[:4] + "00"))
    geometry = frame.to_crs(4490).geometry.map(
        lambda g: g if g is None or g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]))
    out = gpd.GeoDataFrame({"code": codes, "name": frame[name_col].astype(str), "level": levels,
                            "parent": parents}, geometry=geometry.values, crs=4490)
    if dates is not None:
        out["date"] = list(dates)
    # a city without counties (东莞市 441900, 儋州市 460400) is listed at city and at county level: one division
    return out.drop_duplicates("code").reset_index(drop=True)


def import_divisions(store: NameStore, path: Path, level: str | None = None, *, valid_from: str | None = None,
                     complete: bool = False, progress: bool = False, lang: str = "zh"):
    """Load division polygons (and their names as 行政区域 names) in one transaction, recording what changed
    against the stored ones as dated history (:mod:`placenames.history`); returns its
    :class:`~placenames.history.DivisionImport`."""
    from placenames.history import import_division_file

    return import_division_file(store, path, level, valid_from=valid_from, complete=complete, progress=progress,
                                lang=lang)


def division_names(divisions: gpd.GeoDataFrame) -> list[NameRecord]:
    """The divisions' own names as 行政区域 records, each at a point inside its polygon."""
    points = divisions.geometry.representative_point()
    return [NameRecord(name=row.name, pinyin=romanize(row.name), klass="行政区域", lon=p.x, lat=p.y, code=row.code,
                       source="divisions", source_id=row.code) for row, p in zip(divisions.itertuples(), points,
                                                                                    strict=True)]
