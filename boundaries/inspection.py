"""Joint inspection rounds (联检, issue 15): the two provinces of a boundary line inspect it together, record
each marker's condition, and the stored (legal) marker positions change only when both provinces confirm.

A round belongs to one inter-provincial line or a set of lines with the same two provinces (``province_a`` <
``province_b``, six-digit codes) and moves through :data:`STATUSES`::

    planned ──(first findings)──▶ in_progress ──submit (a surveyor of either side)──▶ submitted
        ──confirm (an official of each side, once per side)──▶ confirmed ──file (an official)──▶ filed

Each step records who and when (UTC). Findings (:data:`CONDITIONS`: 完好 损坏 丢失 移位 新设 重测) are written
while the round is planned or in progress, from the inspection's marker table (:func:`read_findings_table`:
CSV/XLSX, Chinese headers, UTF-8 or GBK, degrees or 度分秒, or Gauss-Krüger X/Y with ``crs``) or one by one
from the browser; every row is checked before anything is written, and one bad row stores nothing
(:class:`FindingsError`, exit 1). Photos (JPEG/PNG, at most :data:`PHOTO_MAX_BYTES`, magic bytes checked,
decoded by Pillow) are stored in the database with the round; their EXIF GPS position is read with Pillow's
``getexif`` and its distance to the marker reported. A user's file name is kept as a label only, never used
as a path.

The rule (DOMAIN.md): a marker found moved has no legal effect until both sides agree. The markers layer is
untouched by findings, submission and a one-sided confirmation; the confirmation that completes both sides
applies the moved, re-surveyed and newly set positions (:func:`_apply_positions`) in the same transaction:
the old row is closed (``superseded``, ``valid_to`` = the round's date, ``superseded_by``), the new position
inserted with ``valid_from`` = the round's date, under a row of ``submissions`` that history and diff pages
show. Every write is one transaction with its audit row (:mod:`boundaries.audit`) inside.

Tables, versioned under ``quhua_meta.inspection_schema_version`` (:data:`MIGRATIONS`): ``inspection_rounds``,
``inspection_findings``, ``inspection_photos`` (attributes tables on both databases; the photo bytes in a
``BLOB``/``bytea`` column). Times are ISO 8601 UTC text, dates ``YYYY-MM-DD`` text, on both databases alike.

This module knows no web framework; who may do which step is :func:`webmap.auth.can`'s (the viewer), while
the command line is trusted as ``quhua ingest`` is (``--user`` recorded in the audit log).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from boundaries._lazy import lazy_module
from boundaries.audit import CLI_ADDRESS, AuditEntry, bilingual_label
from boundaries.errors import ConfigError, InputError, QuhuaError, StoreError
from boundaries.store._sql import kill_point, now_utc  # the stores' own DATETIME text and crash-test points
from boundaries.store.migrations import Migration

gpd = lazy_module("geopandas")
np = lazy_module("numpy")
pd = lazy_module("pandas")
shapely = lazy_module("shapely")

__all__ = [
    "CONDITIONS",
    "DUE_YEARS",
    "MIGRATIONS",
    "PHOTO_MAX_BYTES",
    "STATUSES",
    "FindingsError",
    "StepError",
    "add_photo",
    "condition_label",
    "confirm",
    "create_round",
    "due_table",
    "ensure_schema",
    "file_round",
    "get_round",
    "list_rounds",
    "photo_content",
    "read_findings_table",
    "record_findings",
    "round_provinces",
    "status_label",
    "submit",
]

VERSION_KEY = "inspection_schema_version"
#: years between two joint inspections of a line (DOMAIN.md: every five years)
DUE_YEARS = 5
#: the largest photo accepted, in bytes
PHOTO_MAX_BYTES = 10 * 1024 * 1024
#: the most pixels a photo may have (a decompression bomb is refused before it is decoded)
PHOTO_MAX_PIXELS = 80_000_000
_LOCK_NAMESPACE = 0x5148  # the store's advisory locks: (namespace, province prefix), as an ingest takes them

#: condition code → (Chinese, English), DOMAIN.md's words
CONDITIONS: dict[str, tuple[str, str]] = {
    "intact": ("完好", "intact"), "damaged": ("损坏", "damaged"), "lost": ("丢失", "lost"),
    "moved": ("移位", "moved"), "new": ("新设", "newly set"), "resurveyed": ("重测", "re-surveyed"),
}
#: the conditions that bring a new position (and need coordinates)
POSITIONED = ("moved", "new", "resurveyed")
_CONDITION_ALIASES = {**{zh: code for code, (zh, _en) in CONDITIONS.items()},
                      **{en: code for code, (_zh, en) in CONDITIONS.items()},
                      **{code: code for code in CONDITIONS},
                      "newly set": "new", "re-surveyed": "resurveyed", "resurvey": "resurveyed", "good": "intact",
                      "missing": "lost", "移动": "moved", "位移": "moved", "新埋": "new", "新增": "new",
                      "复测": "resurveyed", "破损": "damaged", "正常": "intact"}

#: status → (Chinese, English)
STATUSES: dict[str, tuple[str, str]] = {
    "planned": ("计划中", "planned"), "in_progress": ("检查中", "in progress"),
    "submitted": ("一方已提交", "submitted by one side"), "confirmed": ("双方已确认", "confirmed by both"),
    "filed": ("已备案", "filed"),
}

_ROUND_COLUMNS = {
    "name": "TEXT", "line_ids": "TEXT", "province_a": "TEXT", "province_b": "TEXT",
    "planned_from": "TEXT", "planned_to": "TEXT", "team_a": "TEXT", "team_b": "TEXT", "status": "TEXT",
    "remarks": "TEXT", "created_by": "TEXT", "created_at": "TEXT", "started_by": "TEXT", "started_at": "TEXT",
    "submitted_by": "TEXT", "submitted_side": "TEXT", "submitted_at": "TEXT",
    "confirmed_a_by": "TEXT", "confirmed_a_at": "TEXT", "confirmed_b_by": "TEXT", "confirmed_b_at": "TEXT",
    "filed_by": "TEXT", "filed_at": "TEXT", "round_date": "TEXT", "submission_id": "INTEGER",
}
_FINDING_COLUMNS = {
    "round_id": "INTEGER", "marker_id": "TEXT", "line_id": "TEXT", "marker_type": "TEXT", "condition": "TEXT",
    "remarks": "TEXT", "lon": "REAL", "lat": "REAL", "h": "REAL", "stored_lon": "REAL", "stored_lat": "REAL",
    "shift_m": "REAL", "source": "TEXT", "entered_by": "TEXT", "entered_at": "TEXT",
}
_PHOTO_COLUMNS = {
    "round_id": "INTEGER", "marker_id": "TEXT", "name": "TEXT", "media_type": "TEXT", "size": "INTEGER",
    "sha256": "TEXT", "width": "INTEGER", "height": "INTEGER", "exif_lon": "REAL", "exif_lat": "REAL",
    "distance_m": "REAL", "uploaded_by": "TEXT", "uploaded_at": "TEXT",
}
#: the inspection's schema versions (both databases) → the migration that reaches each
MIGRATIONS = {
    1: Migration("joint inspection rounds (boundaries.inspection)", layers={
        "inspection_rounds": (None, _ROUND_COLUMNS, "联检轮次 joint inspection rounds"),
        "inspection_findings": (None, _FINDING_COLUMNS, "联检界桩状况 marker findings of the rounds"),
        "inspection_photos": (None, _PHOTO_COLUMNS, "联检照片 photos of the rounds"),
    }, sql=('CREATE UNIQUE INDEX IF NOT EXISTS "inspection_findings_marker" ON inspection_findings '
            "(round_id, marker_id)",
            'CREATE INDEX IF NOT EXISTS "inspection_photos_round" ON inspection_photos (round_id)'),
        sqlite=("ALTER TABLE inspection_photos ADD COLUMN content BLOB",),
        postgresql=("ALTER TABLE inspection_photos ADD COLUMN IF NOT EXISTS content bytea",)),
}


class StepError(QuhuaError):
    """A step the round's state or the arguments do not allow (exit 2): nothing is written."""

    rule = "inspection.step"


class FindingsError(QuhuaError):
    """Findings with errors (exit 1): every bad row is listed, nothing is stored."""

    exit_code = 1
    rule = "inspection.findings"

    def __init__(self, problems: list[tuple[str, str]], *, source: str | None = None):
        self.problems = problems  # (English, Chinese) per bad row
        head_en = f"{source}: " if source else ""
        super().__init__(head_en + f"{len(problems)} bad finding(s), nothing stored:\n  "
                         + "\n  ".join(en for en, _ in problems),
                         message_zh=(f"{source}：" if source else "") + f"{len(problems)} 条界桩状况有误，"
                                                                       f"均未保存：\n  "
                         + "\n  ".join(zh for _, zh in problems), file=source)


def condition_label(code: str, lang: str = "zh") -> str:
    return bilingual_label(CONDITIONS, code, lang)


def status_label(code: str, lang: str = "zh") -> str:
    return bilingual_label(STATUSES, code, lang)


def _require_status(record: dict, allowed: tuple[str, ...], en: str, zh: str) -> None:
    """The step's :class:`StepError` unless the round is in one of the ``allowed`` statuses; ``en`` / ``zh``
    say what the step needs, after the round's number and its status."""
    if record["status"] not in allowed:
        raise StepError(f"round {record['fid']} is {status_label(record['status'], 'en')}: {en}",
                        message_zh=f"第 {record['fid']} 轮联检{status_label(record['status'])}：{zh}")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def province_of(code) -> str | None:
    """The province (six digits, ``XX0000``) of a division code, None for a blank."""
    text = str(code or "").strip()
    return text[:2] + "0000" if len(text) >= 2 and text[:2].isdigit() else None


# -- the schema ---------------------------------------------------------------------------------------------
def ensure_schema(store) -> None:
    """Create or upgrade the inspection tables (idempotent; the boundaries' tables first if need be)."""
    if not store.exists():
        raise StoreError(f"the database {store.url} has not been created: run `quhua --db {store.url} init`",
                         message_zh=f"数据库 {store.url} 尚未创建：请运行 `quhua --db {store.url} init`")
    if store.version(VERSION_KEY) >= max(MIGRATIONS):
        return
    with store.transaction():
        store.migrate(VERSION_KEY, MIGRATIONS, f"the inspection tables of {store.url} have version",
                      what_zh=f"{store.url} 中联检表的版本为", lock=(_LOCK_NAMESPACE, -2))


def _has_tables(store) -> bool:
    return store.exists() and store.has_table("inspection_rounds")


# -- reading ------------------------------------------------------------------------------------------------
def _round_row(row: tuple) -> dict:
    record = dict(zip(["fid", *_ROUND_COLUMNS], row, strict=True))
    record["line_ids"] = json.loads(record["line_ids"] or "[]")
    return record


def _select_rounds(store, where: str = "", params=(), *, lock: bool = False) -> list[dict]:
    columns = ", ".join(['"fid"', *(f'"{c}"' for c in _ROUND_COLUMNS)])
    tail = " FOR UPDATE" if lock and store.dialect.name == "postgresql" else ""
    rows = store.fetch(f"SELECT {columns} FROM inspection_rounds{where} ORDER BY fid{tail}", list(params))
    return [_round_row(r) for r in rows]


def round_provinces(record: dict) -> tuple[str, str]:
    return record["province_a"], record["province_b"]


def list_rounds(store, *, province: str | None = None, status: str | None = None) -> list[dict]:
    """The rounds, oldest first; ``province``: only those with a side in it (six-digit code)."""
    if not _has_tables(store):
        return []
    where, params = [], []
    if province:
        where.append("(province_a = ? OR province_b = ?)")
        params += [province_of(province)] * 2
    if status:
        where.append("status = ?")
        params.append(status)
    return _select_rounds(store, f" WHERE {' AND '.join(where)}" if where else "", params)


def _find(store, round_id, *, lock: bool = False) -> dict:
    record = (_select_rounds(store, " WHERE fid = ?", [int(round_id)], lock=lock)
              if _has_tables(store) and str(round_id).isdigit() else [])
    if not record:
        raise StepError(f"there is no inspection round {round_id}; `quhua inspect list` shows them",
                        message_zh=f"没有编号为 {round_id} 的联检轮次；`quhua inspect list` 可列出全部轮次")
    return record[0]


def findings_of(store, round_id: int) -> list[dict]:
    columns = ", ".join(['"fid"', *(f'"{c}"' for c in _FINDING_COLUMNS)])
    rows = store.fetch(f"SELECT {columns} FROM inspection_findings WHERE round_id = ? ORDER BY marker_id",
                       [int(round_id)])
    return [dict(zip(["fid", *_FINDING_COLUMNS], r, strict=True)) for r in rows]


def photos_of(store, round_id: int) -> list[dict]:
    columns = ", ".join(['"fid"', *(f'"{c}"' for c in _PHOTO_COLUMNS)])
    rows = store.fetch(f"SELECT {columns} FROM inspection_photos WHERE round_id = ? ORDER BY fid", [int(round_id)])
    return [dict(zip(["fid", *_PHOTO_COLUMNS], r, strict=True)) for r in rows]


def get_round(store, round_id) -> dict:
    """A round with its ``findings`` and ``photos`` (without their bytes); StepError when unknown."""
    record = _find(store, round_id)
    record["findings"] = findings_of(store, record["fid"])
    record["photos"] = photos_of(store, record["fid"])
    return record


def round_markers(store, record: dict) -> gpd.GeoDataFrame:
    """The current (legal) markers of the round's lines."""
    return store.query("markers", properties={"line_id": list(record["line_ids"])}, count=False).features


def photo_content(store, photo_id) -> tuple[bytes, str, str, int]:
    """A photo's bytes, media type, label and round id; StepError when unknown."""
    rows = (store.fetch("SELECT content, media_type, name, round_id FROM inspection_photos WHERE fid = ?",
                        [int(photo_id)]) if _has_tables(store) and str(photo_id).isdigit() else [])
    if not rows:
        raise StepError(f"there is no photo {photo_id}", message_zh=f"没有编号为 {photo_id} 的照片")
    content, media_type, name, round_id = rows[0]
    return bytes(content), media_type, name, int(round_id)


# -- writing: one transaction per step, its audit row inside ----------------------------------------------
def _audit(store, action: str, user: str, address: str, record: dict, *, side: str | None = None,
           **detail) -> None:
    """The step's audit row, in its transaction: the province is the acting side when there is one (else the
    round's first province); the details name the round and both provinces."""
    entry = AuditEntry(action, user, address, side or record["province_a"], outcome="ok",
                       detail={"round": record["fid"], "provinces": [record["province_a"], record["province_b"]],
                               **({"side": side} if side else {}), **detail})
    store._insert_audit(entry)


def _lock_provinces(store, record: dict) -> None:
    """On PostGIS, the advisory locks an ingest of either province takes (so that positions applied by a
    confirmation and an ingest of the same boundary are serialised); the GeoPackage has one writer."""
    if store.dialect.name == "postgresql":
        for code in sorted({record["province_a"], record["province_b"]}):
            store.execute("SELECT pg_advisory_xact_lock(?, ?)", [_LOCK_NAMESPACE, int(code[:2])])


def _check_date(value, what: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as err:
        raise ConfigError(f"{what} {value!r} is not a date; write YYYY-MM-DD, e.g. 2026-05-10",
                          message_zh=f"{what} {value!r} 不是日期；请写成 YYYY-MM-DD，如 2026-05-10") from err


def lines_provinces(store, line_ids) -> tuple[list[str], tuple[str, str]]:
    """The sorted line ids and the two provinces they lie between (ConfigError unless every one is a stored
    current line and all lie between the same two provinces): whom a planned round concerns."""
    ids = sorted({str(i).strip() for i in line_ids if str(i).strip()})
    if not ids:
        raise ConfigError("name the line(s) of the round, e.g. --line 3643",
                          message_zh="请指定本轮联检的界线，如 --line 3643")
    lines = store.query("lines", properties={"line_id": ids}, count=False).features
    missing = sorted(set(ids) - set(lines["line_id"].astype(str)))
    if missing:
        raise ConfigError(f"no stored line {', '.join(missing)}: a round inspects lines the database holds",
                          message_zh=f"数据库中没有界线 {'、'.join(missing)}：联检只能针对已入库的界线")
    pairs = {tuple(sorted({province_of(r.left_code), province_of(r.right_code)})) for r in lines.itertuples()}
    if len(pairs) != 1 or len(next(iter(pairs))) != 2:
        found = "; ".join("–".join(p) for p in sorted(pairs))
        raise ConfigError(f"the lines of a round must lie between the same two provinces; these are {found}",
                          message_zh=f"同一轮联检的界线须位于同两个省份之间；这些界线为 {found}")
    return ids, next(iter(pairs))


def create_round(store, line_ids, *, user: str, name: str | None = None, planned_from=None, planned_to=None,
                 team_a: str = "", team_b: str = "", remarks: str = "", address: str = CLI_ADDRESS) -> dict:
    """Plan a round of ``line_ids`` (stored current lines, all between the same two provinces)."""
    ensure_schema(store)
    start, end = _check_date(planned_from, "--from"), _check_date(planned_to, "--to")
    if start and end and end < start:
        raise ConfigError(f"the round ends ({end}) before it starts ({start})",
                          message_zh=f"计划结束日期（{end}）早于开始日期（{start}）")
    ids, (province_a, province_b) = lines_provinces(store, line_ids)
    with store.transaction():
        now = now_utc()
        fid = store._insert_returning_fid(
            "INSERT INTO inspection_rounds (name, line_ids, province_a, province_b, planned_from, planned_to, "
            "team_a, team_b, status, remarks, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [name or f"{'、'.join(ids)} 联检", json.dumps(ids), province_a, province_b, start, end, team_a or "",
             team_b or "", "planned", remarks or "", user, now])
        record = _find(store, fid)
        _audit(store, "inspect new", user, address, record, lines=ids)
        store.touch(())  # the round's own tables: no province's lines or markers changed
    return record


@dataclass
class Finding:
    """One marker's finding as entered: condition code, remarks, new position (degrees, EPSG:4490)."""

    marker_id: str
    condition: str
    remarks: str = ""
    lon: float | None = None
    lat: float | None = None
    h: float | None = None
    line_id: str | None = None
    marker_type: str | None = None
    row: int | None = None  # the line of the table (2 = the first row under the header)


def parse_condition(value) -> str | None:
    text = str(value or "").strip()
    return _CONDITION_ALIASES.get(text) or _CONDITION_ALIASES.get(text.casefold())


def _distance_m(lon1, lat1, lon2, lat2) -> float:
    from pyproj import Geod

    return float(Geod(ellps="GRS80").inv(lon1, lat1, lon2, lat2)[2])  # CGCS2000's ellipsoid is GRS80's to 0.1 mm


def _number(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def record_findings(store, round_id, findings: list[Finding], *, user: str, source: str = "web",
                    address: str = CLI_ADDRESS) -> dict:
    """Check every finding against the round's stored markers, then store them all (a marker's earlier
    finding in this round is replaced) in one transaction; :class:`FindingsError` lists every bad row and
    stores nothing. The first findings start the round (planned → in progress)."""
    ensure_schema(store)
    record = _find(store, round_id)
    _require_status(record, ("planned", "in_progress"), "findings can no longer be changed", "界桩状况不能再修改")
    markers = round_markers(store, record)
    stored = {str(r.marker_id): r for r in markers.itertuples()}
    problems: list[tuple[str, str]] = []
    seen: dict[str, int | None] = {}
    rows = []
    for f in findings:
        where_en = f"row {f.row}: " if f.row else ""
        where_zh = f"第 {f.row} 行：" if f.row else ""
        mid = str(f.marker_id or "").strip()
        if not mid:
            problems.append((f"{where_en}no marker id (界桩编号)", f"{where_zh}缺少界桩编号"))
            continue
        if mid in seen:
            problems.append((f"{where_en}marker {mid} is given twice (also row {seen[mid]})",
                             f"{where_zh}界桩 {mid} 重复出现（另见第 {seen[mid]} 行）"))
            continue
        seen[mid] = f.row
        if f.condition not in CONDITIONS:
            problems.append((f"{where_en}marker {mid}: unknown condition {f.condition!r}; write one of "
                             + ", ".join(f"{zh} ({en})" for zh, en in CONDITIONS.values()),
                             f"{where_zh}界桩 {mid}：未知的界桩状况 {f.condition!r}；应为 "
                             + "、".join(zh for zh, _ in CONDITIONS.values()) + " 之一"))
            continue
        old = stored.get(mid)
        line_id = f.line_id or (str(old.line_id) if old is not None else None)
        if old is None and f.condition != "new":
            problems.append((f"{where_en}marker {mid} is not a stored marker of line(s) "
                             f"{', '.join(record['line_ids'])}; check the id, or give the condition 新设 (newly "
                             "set) for a new marker",
                             f"{where_zh}界桩 {mid} 不是界线 {'、'.join(record['line_ids'])} 上已入库的界桩；"
                             f"请核对编号，"
                             "新埋设的界桩请填“新设”"))
            continue
        if old is not None and f.condition == "new":
            problems.append((f"{where_en}marker {mid} is already stored: a newly set (新设) marker needs a new id; "
                             "for a reset post at a new position write 移位 or 重测",
                             f"{where_zh}界桩 {mid} 已入库：“新设”界桩须用新编号；原界桩换位请填“移位”或“重测”"))
            continue
        if f.condition == "new":
            if line_id is None and len(record["line_ids"]) == 1:
                line_id = record["line_ids"][0]
            if line_id not in record["line_ids"]:
                problems.append((f"{where_en}new marker {mid}: give its line (界线编号), one of "
                                 f"{', '.join(record['line_ids'])}",
                                 f"{where_zh}新设界桩 {mid}：请填写其界线编号，应为 "
                                 f"{'、'.join(record['line_ids'])} 之一"))
                continue
        lon, lat = _number(f.lon), _number(f.lat)
        if f.condition in POSITIONED and (lon is None or lat is None):
            problems.append((f"{where_en}marker {mid} is {CONDITIONS[f.condition][1]}: give its new coordinates "
                             "(经度/纬度, or 纵坐标/横坐标 with --crs)",
                             f"{where_zh}界桩 {mid} 为“{CONDITIONS[f.condition][0]}”：请填写新坐标（经度/纬度，"
                             f"或纵坐标/"
                             "横坐标并指定 --crs）"))
            continue
        if lon is not None and lat is not None and not (73 <= lon <= 136 and 3 <= lat <= 54):
            problems.append((f"{where_en}marker {mid}: {lon}, {lat} is not a position in China (longitude 73–136°, "
                             "latitude 3–54°); check the columns and units",
                             f"{where_zh}界桩 {mid}：{lon}, {lat} 不在中国境内（经度 73–136°，纬度 3–54°）；"
                             f"请核对坐标列与单位"))
            continue
        shift = None
        if old is not None and lon is not None and lat is not None:
            shift = round(_distance_m(old.geometry.x, old.geometry.y, lon, lat), 3)
        rows.append([mid, line_id, f.marker_type or (old.marker_type if old is not None else "单立"), f.condition,
                     (f.remarks or "").strip(), lon, lat, _number(f.h),
                     float(old.geometry.x) if old is not None else None,
                     float(old.geometry.y) if old is not None else None, shift])
    if problems:
        raise FindingsError(problems, source=None if source == "web" else source)
    if not rows:
        raise FindingsError([("the table holds no finding", "表中没有任何界桩状况")],
                            source=None if source == "web" else source)
    with store.transaction():
        record = _find(store, round_id, lock=True)
        _require_status(record, ("planned", "in_progress"), "findings can no longer be changed", "界桩状况不能再修改")
        now = now_utc()
        clause, param = store.dialect.in_list("marker_id", [r[0] for r in rows])
        store.execute(f"DELETE FROM inspection_findings WHERE round_id = ? AND {clause}", [record["fid"], param])
        store.executemany(
            "INSERT INTO inspection_findings (round_id, marker_id, line_id, marker_type, condition, remarks, lon, "
            "lat, h, stored_lon, stored_lat, shift_m, source, entered_by, entered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[record["fid"], *r, source, user, now] for r in rows])
        if record["status"] == "planned":
            store.execute("UPDATE inspection_rounds SET status = 'in_progress', started_by = ?, started_at = ? "
                          "WHERE fid = ?", [user, now, record["fid"]])
        counts = {code: sum(r[3] == code for r in rows) for code in CONDITIONS if any(r[3] == code for r in rows)}
        _audit(store, "inspect findings", user, address, record, source=source, findings=len(rows), **counts)
        store.touch(())  # the round's own tables: no province's lines or markers changed
    return get_round(store, round_id)


def _check_side(record: dict, side) -> str:
    code = province_of(side)
    if code not in round_provinces(record):
        raise StepError(f"{side!r} is not a side of round {record['fid']} (its provinces are "
                        f"{record['province_a']} and {record['province_b']})",
                        message_zh=f"{side!r} 不是第 {record['fid']} 轮联检的一方（双方为 {record['province_a']} 与 "
                                   f"{record['province_b']}）")
    return code


def submit(store, round_id, *, side, user: str, address: str = CLI_ADDRESS) -> dict:
    """A surveyor of one side submits the round's findings for confirmation (in progress → submitted)."""
    ensure_schema(store)
    with store.transaction():
        record = _find(store, round_id, lock=True)
        code = _check_side(record, side)
        _require_status(record, ("in_progress",), "only a round in progress (with findings) can be submitted",
                        "只有检查中（已录入界桩状况）的轮次才能提交")
        store.execute("UPDATE inspection_rounds SET status = 'submitted', submitted_by = ?, submitted_side = ?, "
                      "submitted_at = ? WHERE fid = ?", [user, code, now_utc(), record["fid"]])
        _audit(store, "inspect submit", user, address, record, side=code)
        store.touch(())  # the round's own tables: no province's lines or markers changed
    return get_round(store, round_id)


def confirm(store, round_id, *, side, user: str, address: str = CLI_ADDRESS) -> dict:
    """One side's confirmation of a submitted round (who and when, per side). The confirmation that
    completes both sides makes the round ``confirmed`` and applies its new marker positions, in the same
    transaction (:func:`_apply_positions`); one side alone changes no stored position."""
    ensure_schema(store)
    with store.transaction():
        record = _find(store, round_id, lock=True)
        code = _check_side(record, side)
        which = "a" if code == record["province_a"] else "b"
        _require_status(record, ("submitted",), "only a submitted round can be confirmed", "只有已提交的轮次才能确认")
        if record[f"confirmed_{which}_by"]:
            raise StepError(f"{code} already confirmed round {record['fid']} ({record[f'confirmed_{which}_by']}, "
                            f"{record[f'confirmed_{which}_at']}); the other side's confirmation is awaited",
                            message_zh=f"{code} 已确认第 {record['fid']} 轮联检（{record[f'confirmed_{which}_by']}，"
                                       f"{record[f'confirmed_{which}_at']}）；等待另一方确认")
        now = now_utc()
        store.execute(f"UPDATE inspection_rounds SET confirmed_{which}_by = ?, confirmed_{which}_at = ? WHERE fid = ?",
                      [user, now, record["fid"]])
        other = "b" if which == "a" else "a"
        applied = None
        if record[f"confirmed_{other}_by"]:
            _lock_provinces(store, record)
            day = _today()
            record = {**record, f"confirmed_{which}_by": user, f"confirmed_{which}_at": now}
            sid, applied = _apply_positions(store, record, findings_of(store, record["fid"]), day, user)
            store.execute("UPDATE inspection_rounds SET status = 'confirmed', round_date = ?, submission_id = ? "
                          "WHERE fid = ?", [day, sid, record["fid"]])
        _audit(store, "inspect confirm", user, address, record, side=code,
               **({"both": True, "markers_moved": applied} if applied is not None else {"both": False}))
        kill_point("confirm.audit")
        # the two provinces' markers (and the submitting side's history) change only with both confirmations
        store.touch((record["province_a"][:2], record["province_b"][:2]) if applied is not None else ())
    return get_round(store, round_id)


def _apply_positions(store, record: dict, findings: list[dict], day: str, user: str) -> tuple[int, int]:
    """Make the round's moved, re-surveyed and newly set positions the stored (legal) ones, inside the
    caller's transaction: each such marker's current row — one per province that holds the marker — is
    closed (``status`` superseded, ``valid_to`` = ``day``, ``superseded_by``) and the new position inserted
    for that province with ``valid_from`` = ``day`` (a newly set marker: for the side that submitted the
    round), all under one new row of ``submissions`` (province: that side). Returns that submission's id
    and how many positions changed.

    The one place a round writes the markers layer. Not ``Store.revise``: a moved marker's declared
    Gauss-Krüger X/Y must be emptied (they were the old position's), which revise, keeping a column the
    change leaves empty, would carry over.
    """
    changed = [f for f in findings if f["condition"] in POSITIONED and f["lon"] is not None and f["lat"] is not None]
    province = record["submitted_side"] or record["province_a"]
    summary = {"lines": 0, "markers": len(changed), "errors": 0, "warnings": 0}
    report = {"accepted": True, "inspection_round": record["fid"], "summary": summary, "issues": [],
              "confirmed": {record["province_a"]: [record["confirmed_a_by"], record["confirmed_a_at"]],
                            record["province_b"]: [record["confirmed_b_by"], record["confirmed_b_at"]]}}
    files = [{"name": f"联检 {record['fid']}: {record['name']}", "sha256": "", "size": 0}]
    sid = store._insert_returning_fid(
        'INSERT INTO submissions (province, "user", created_at, accepted, encoding, crs, files, lines, markers, '
        "errors, warnings, report) VALUES (?, ?, ?, 1, NULL, ?, ?, 0, ?, 0, 0, ?)",
        [province, user, now_utc(), "EPSG:4490", json.dumps(files, ensure_ascii=False), len(changed),
         json.dumps(report, ensure_ascii=False)])
    if not changed:
        return sid, 0
    current = store.query("markers", properties={"marker_id": [f["marker_id"] for f in changed],
                                                 "line_id": list(record["line_ids"])}, count=False).features
    by_id: dict[str, list] = {}
    for row in current.itertuples():  # both provinces may hold a row of the same marker: each is revised
        by_id.setdefault(str(row.marker_id), []).append(row)
    rows, points, now = [], [], now_utc()  # valid_from/valid_to: the round's legal day; recorded/retired: now
    for f in changed:
        olds = by_id.get(f["marker_id"]) or [None]
        for old in olds:
            if old is not None:
                store.execute("UPDATE markers SET status = 'superseded', superseded_by = ?, valid_to = ?, "
                              "retired_at = ? WHERE fid = ?", [sid, day, now, int(old.fid)])
                kill_point("confirm.superseded")
            h = f["h"] if f["h"] is not None else (None if old is None or pd.isna(old.h) else float(old.h))
            rows.append([f["marker_id"], f["marker_type"] or "单立", f["line_id"], None, None, f["lon"], f["lat"], h,
                         str(old.province) if old is not None else province, sid, "current", day, now,
                         f"联检 {record['fid']}"])
            points.append(shapely.Point(f["lon"], f["lat"]))
    blobs = store._encode(np.array(points, dtype=object))
    store._insert_rows("markers", ["marker_id", "marker_type", "line_id", "x", "y", "lon", "lat", "h", "province",
                                   "submission_id", "status", "valid_from", "recorded_at", "source_file", "geom"],
                       [[*r, b] for r, b in zip(rows, blobs, strict=True)])
    kill_point("confirm.markers")
    return sid, len(changed)


def file_round(store, round_id, *, user: str, address: str = CLI_ADDRESS) -> dict:
    """File a round confirmed by both sides (confirmed → filed)."""
    ensure_schema(store)
    with store.transaction():
        record = _find(store, round_id, lock=True)
        _require_status(record, ("confirmed",), "only a round confirmed by both sides can be filed",
                        "只有双方已确认的轮次才能备案")
        store.execute("UPDATE inspection_rounds SET status = 'filed', filed_by = ?, filed_at = ? WHERE fid = ?",
                      [user, now_utc(), record["fid"]])
        _audit(store, "inspect file", user, address, record)
        store.touch(())  # the round's own tables: no province's lines or markers changed
    return get_round(store, round_id)


# -- the inspection's marker table --------------------------------------------------------------------------
#: column names of the findings table beyond the markers' (SPEC §4) aliases
_TABLE_ALIASES = {"condition": ("界桩状况", "状况", "现状", "界桩现状", "状态", "检查结果", "JZZK", "ZK", "condition",
                                "state"),
                  "remarks": ("备注", "说明", "BZ", "remarks", "remark", "note", "notes")}


def _key(name) -> str:
    return re.sub(r"[\s_\-（）()]", "", str(name)).casefold()


def read_findings_table(path: Path, *, crs: str | None = None, encoding: str | None = None) -> list[Finding]:
    """The findings of an inspection's marker table (CSV or XLSX, as ``boundaries.readers`` reads 界桩成果表:
    UTF-8 or GBK, the markers' Chinese and pinyin field names): 界桩编号, 界桩状况 (or 状况/现状 …), 备注,
    and the new position as 经度/纬度 (decimal degrees or 度分秒) or 纵坐标/横坐标 with ``crs``
    (a Gauss-Krüger zone). Unreadable tables and missing columns raise :class:`InputError` (exit 2)."""
    from boundaries import crs as crs_mod
    from boundaries.fields import parse_angle, rename_columns
    from boundaries.readers import _read_table

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise InputError(f"{path.name}: a findings table is .csv or .xlsx", file=path.name,
                         message_zh=f"{path.name}：界桩状况表应为 .csv 或 .xlsx 文件")
    if not path.is_file():
        raise InputError(f"{path.name}: no such file", file=path.name, message_zh=f"{path.name}：文件不存在")
    epsg = crs_mod.parse_crs_option(crs) if crs else None
    table = _read_table(path, epsg, encoding)[0].frame
    rename, _conflicts = rename_columns(list(table.columns), "markers", {})
    extra = {_key(a): c for c, aliases in _TABLE_ALIASES.items() for a in aliases}
    for column in table.columns:
        if column not in rename and _key(column) in extra:
            rename[column] = extra[_key(column)]
    table = table.rename(columns=rename)
    for needed, zh in (("marker_id", "界桩编号"), ("condition", "界桩状况")):
        if needed not in table.columns:
            raise InputError(f"{path.name}: no column {needed} ({zh}); the table's columns are "
                             f"{', '.join(map(str, table.columns))}", file=path.name,
                             rule="dataset.schema",
                             message_zh=f"{path.name}：缺少“{zh}”列；表中的列为 {'、'.join(map(str, table.columns))}")
    lon = table["lon"].map(parse_angle) if "lon" in table.columns else None
    lat = table["lat"].map(parse_angle) if "lat" in table.columns else None
    if (lon is None or lat is None) and "x" in table.columns and "y" in table.columns:
        if epsg is None or crs_mod.gauss_kruger(epsg) is None:
            raise InputError(f"{path.name}: the table gives X/Y (纵坐标/横坐标): name their Gauss-Krüger zone with "
                             "--crs EPSG:NNNN (e.g. EPSG:4547)", file=path.name, rule="dataset.crs_missing",
                             message_zh=f"{path.name}：表中给的是 X/Y（纵坐标/横坐标）：请用 --crs EPSG:NNNN 指定其"
                                        "高斯-克吕格投影带（如 EPSG:4547）")
        northing = pd.to_numeric(table["x"], errors="coerce").to_numpy(float)
        easting = pd.to_numeric(table["y"], errors="coerce").to_numpy(float)
        lon_v, lat_v = crs_mod.transformer(epsg, 4490).transform(easting, northing)
        lon, lat = pd.Series(lon_v, index=table.index), pd.Series(lat_v, index=table.index)
    out = []

    def text(row, column):
        value = row.get(column)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()

    for i, row in enumerate(table.to_dict("records")):
        raw_condition = text(row, "condition") or ""
        out.append(Finding(marker_id=text(row, "marker_id") or "",
                           condition=parse_condition(raw_condition) or raw_condition,
                           remarks=text(row, "remarks") or "",
                           lon=None if lon is None or math.isnan(lon.iloc[i]) else float(lon.iloc[i]),
                           lat=None if lat is None or math.isnan(lat.iloc[i]) else float(lat.iloc[i]),
                           h=_number(float(parse_angle(row.get("h")))) if "h" in row else None,
                           line_id=text(row, "line_id"), marker_type=text(row, "marker_type"), row=i + 2))
    return out


# -- photos -------------------------------------------------------------------------------------------------
_MAGIC = {b"\xff\xd8\xff": ("image/jpeg", "JPEG"), b"\x89PNG\r\n\x1a\n": ("image/png", "PNG")}


def _gps_of(image) -> tuple[float, float] | None:
    """The EXIF GPS position (degrees) of a Pillow image, or None."""
    try:
        gps = image.getexif().get_ifd(0x8825)  # GPSInfo
    except Exception:
        return None
    try:
        def degrees(value, ref):
            d, m, s = (float(v) for v in value)
            return (-1 if str(ref).upper() in ("S", "W") else 1) * (d + m / 60 + s / 3600)

        lat, lon = degrees(gps[2], gps.get(1, "N")), degrees(gps[4], gps.get(3, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return (lon, lat) if -180 <= lon <= 180 and -90 <= lat <= 90 and not (lon == 0 and lat == 0) else None


def add_photo(store, round_id, data: bytes, name: str, *, user: str, marker_id: str | None = None,
              address: str = CLI_ADDRESS) -> dict:
    """Store a JPEG or PNG photo with the round (optionally of one marker): at most :data:`PHOTO_MAX_BYTES`,
    its first bytes and its structure checked (Pillow), its EXIF GPS position read and, for a marker, the
    distance to the marker's new position in this round if any, else its stored one. ``name`` is a label
    (its last path part, shortened), never a path. Bad photos raise :class:`InputError` (exit 2)."""
    from PIL import Image

    label = re.split(r"[\\/]", str(name or "photo"))[-1][:120] or "photo"
    if len(data) > PHOTO_MAX_BYTES:
        raise InputError(f"{label}: {len(data) / 2**20:.1f} MiB, larger than the limit of "
                         f"{PHOTO_MAX_BYTES // 2**20} MiB; send a smaller copy", file=label, rule="inspection.photo",
                         message_zh=f"{label}：{len(data) / 2**20:.1f} MiB，超过 {PHOTO_MAX_BYTES // 2**20} "
                                    f"MiB 的上限；"
                                    "请压缩后再上传")
    kind = next((v for magic, v in _MAGIC.items() if data.startswith(magic)), None)
    if kind is None:
        raise InputError(f"{label}: not a JPEG or PNG photo (its first bytes say so, whatever its name); send the "
                         "photo as .jpg or .png", file=label, rule="inspection.photo",
                         message_zh=f"{label}：不是 JPEG 或 PNG 照片（按文件开头判断，与文件名无关）；请上传 "
                                    f".jpg 或 .png 照片")
    media_type, pil_format = kind
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            width, height = image.size
            if width * height > PHOTO_MAX_PIXELS:
                raise InputError(f"{label}: {width}×{height} pixels, more than {PHOTO_MAX_PIXELS:,}", file=label,
                                 rule="inspection.photo",
                                 message_zh=f"{label}：{width}×{height} 像素，超过 {PHOTO_MAX_PIXELS:,} 像素的上限")
            image.verify()  # the file's structure (checksums of PNG chunks), without decoding the pixels
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:  # verify() leaves an image unusable
            position = _gps_of(image)
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"{label}: the {pil_format} file is damaged ({err}); send the original photo", file=label,
                         rule="inspection.photo",
                         message_zh=f"{label}：{pil_format} 文件已损坏（{err}）；请上传原始照片") from err
    ensure_schema(store)
    record = _find(store, round_id)
    if record["status"] == "filed":
        raise StepError(f"round {record['fid']} is filed: no more photos",
                        message_zh=f"第 {record['fid']} 轮联检已备案，不能再添加照片")
    marker_id = (marker_id or "").strip() or None
    distance = None
    if marker_id:
        finding = next((f for f in findings_of(store, record["fid"]) if f["marker_id"] == marker_id), None)
        stored = round_markers(store, record)
        stored = stored[stored["marker_id"].astype(str) == marker_id]
        if finding is not None and finding["lon"] is not None:
            target = (finding["lon"], finding["lat"])
        elif len(stored):
            target = (float(stored.geometry.iloc[0].x), float(stored.geometry.iloc[0].y))
        else:
            raise StepError(f"marker {marker_id} is neither a stored marker of the round's lines nor one of its "
                            "findings", message_zh=f"界桩 {marker_id} 既不是本轮界线上已入库的界桩，"
                                                   f"也不在本轮的界桩状况中")
        if position is not None:
            distance = round(_distance_m(target[0], target[1], *position), 1)
    with store.transaction():
        record = _find(store, round_id, lock=True)
        values = [record["fid"], marker_id, label, media_type, len(data), hashlib.sha256(data).hexdigest(), width,
                  height, position[0] if position else None, position[1] if position else None, distance, user,
                  now_utc(), data]
        fid = store._insert_returning_fid(
            "INSERT INTO inspection_photos (round_id, marker_id, name, media_type, size, sha256, width, height, "
            "exif_lon, exif_lat, distance_m, uploaded_by, uploaded_at, content) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        _audit(store, "inspect photo", user, address, record, photo=fid, marker=marker_id, bytes=len(data))
        store.touch(())  # the round's own tables: no province's lines or markers changed
    return next(p for p in photos_of(store, record["fid"]) if p["fid"] == fid)


# -- the calendar -------------------------------------------------------------------------------------------
def due_table(store, *, today: str | None = None, province: str | None = None) -> list[dict]:
    """Per stored current inter-provincial line (the lines joint inspections are for): its last round
    confirmed by both (date and round id), when the next is due (:data:`DUE_YEARS` after it, or after the
    line's ``valid_from`` when it has never been confirmed), and whether it is due ``today``. Reads the
    lines' attributes only, never their geometry, so it stays cheap on the county network."""
    day = date.fromisoformat(today or _today())
    if not store.exists():
        return []
    where, params = ["status = 'current'", "substr(left_code, 1, 2) <> substr(right_code, 1, 2)"], []
    if province:
        where.append("(substr(left_code, 1, 2) = ? OR substr(right_code, 1, 2) = ?)")
        params += [str(province)[:2]] * 2
    found: dict[str, list] = {}  # line id → [name, provinces, earliest valid_from], over both sides' versions
    for line_id, name, left, right, valid_from in store.fetch(
            f"SELECT line_id, name, left_code, right_code, valid_from FROM lines WHERE {' AND '.join(where)}", params):
        entry = found.setdefault(str(line_id), [name, set(), str(valid_from or "")[:10]])
        entry[1].update({province_of(left), province_of(right)})
        entry[2] = min(entry[2], str(valid_from or "")[:10]) or entry[2]
    rows = [(line_id, name, sorted(codes), since) for line_id, (name, codes, since) in sorted(found.items())]
    last: dict[str, tuple[str, int]] = {}
    for record in list_rounds(store):
        if record["status"] in ("confirmed", "filed") and record["round_date"]:
            for line_id in record["line_ids"]:
                if line_id not in last or last[line_id][0] < record["round_date"]:
                    last[line_id] = (record["round_date"], record["fid"])
    out = []
    for line_id, name, provinces, valid_from in rows:
        confirmed = last.get(line_id)
        since = confirmed[0] if confirmed else valid_from
        try:
            base = date.fromisoformat(since)
        except ValueError:
            base = day
        try:
            next_due = base.replace(year=base.year + DUE_YEARS)
        except ValueError:  # 29 February
            next_due = base.replace(year=base.year + DUE_YEARS, day=28)
        out.append({"line_id": line_id, "name": name, "provinces": provinces,
                    "last_round": confirmed[1] if confirmed else None,
                    "last_confirmed": confirmed[0] if confirmed else None, "since": base.isoformat(),
                    "due": next_due.isoformat(), "is_due": next_due <= day})
    return out
