"""Divisions with dated history (issue 15): a re-import records the reorganisation it brings.

A division file is compared with the divisions stored as current, level by level and province by province
(the stored divisions of the levels and provinces the file holds; a file of 江西's counties never ends
another province's):

- a code in both with another name: **renamed** (更名);
- a code in both whose outline changed by more than 5 % (intersection over union below 0.95): **boundary**
  (范围变更, e.g. the county that absorbed a merged one); smaller differences are corrections of the
  outline, stored in place without history;
- a stored code the file no longer has, at least 90 % of whose area lies in one division of the file:
  **recoded** (代码变更, 撤县设区 for instance) when that division is new and at least 90 % of it lies in
  the old one (the same area under a new code), else **merged** (撤并) into it;
- a stored code whose area is shared among several divisions of the file (each at least 10 %, together at
  least 90 %): **split** (拆分);
- any other stored code the file no longer has: **abolished** (撤销) — but one whose area the file does not
  cover either (less than 10 % of it) is taken for a division the file leaves out (a file of part of a
  province) and kept as it is, unless the import says the file is complete (``--complete``);
- a code of the file not stored and not the successor of one of the above: **new** (新设).

The old record gets ``valid_to`` (the change's date), ``status = historical``, ``superseded_by`` (the
successor code or codes, comma-separated) and ``change``; the new record ``valid_from`` the same
date. The date is the row's own (a column ``变更日期``/``生效日期``/``effective_date``/``valid_from``/``date``
of the file; for a stored code the file no longer has, the row of its successor), else ``--valid-from``,
else today — the result says which. A first load (no current division stored for that level and province)
records no change: its divisions are in force from the row's date or ``--valid-from``, or since an unknown
date when neither is given.

The divisions' own names (行政区域 names, source ``divisions``) follow: a renamed division's old name
becomes history on that date, the name of a code that is gone is ended and superseded by its successor's.
Other names keep the code they carry; the rule ``name.abolished_code`` (:mod:`placenames.rules`) reports
those whose code is gone, with the code that replaced it.

The overlap tests are areas in degrees²: ratios of areas of neighbouring polygons, for which the
difference in scale across one division does not matter.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from placenames.dates import parse_date
from placenames.errors import DivisionDateError, ImportRowsError
from placenames.store import NameStore

__all__ = ["CHANGE_KINDS", "Change", "DivisionImport", "abolished_codes", "division_history", "division_json",
           "parse_date", "record_divisions"]

#: kind → (Chinese, English)
CHANGE_KINDS = {"renamed": ("更名", "renamed"), "recoded": ("代码变更", "recoded"), "merged": ("撤并", "merged"),
                "split": ("拆分", "split"), "abolished": ("撤销", "abolished"), "boundary": ("范围变更", "boundary"),
                "new": ("新设", "established")}
#: the share of an old division's area that makes a new division its successor (recode, merger)
SAME_AREA = 0.9
#: the least share of an old division's area a part of a split holds
SPLIT_PART = 0.1
#: intersection over union from which the same code's outline counts as unchanged (stored in place)
UNCHANGED = 0.95
#: the columns that give a row's date of change
DATE_COLUMNS = ("变更日期", "生效日期", "effective_date", "change_date", "valid_from", "date")


@dataclass
class Change:
    """One recorded change: the stored record(s) it ended (``old``) and the record(s) now in force
    (``new``), each a (code, name); ``share`` the part of the old area the new division(s) hold."""

    kind: str
    date: str
    old: list[tuple[str, str]] = field(default_factory=list)
    new: list[tuple[str, str]] = field(default_factory=list)
    share: float | None = None
    absorbed: list[tuple[str, str]] = field(default_factory=list)

    def message(self, lang: str = "zh") -> str:
        en = lang == "en"

        def named(pairs):
            return (", " if en else "、").join(f"{n} ({c})" if en else f"{n}（{c}）" for c, n in pairs)

        share = "" if self.share is None else (f" ({self.share:.1%} of its area)" if en else
                                               f"（面积 {self.share:.1%} 在其内）")
        old, new = named(self.old), named(self.new)
        if self.kind == "renamed":
            return f"{old} renamed {self.new[0][1]}" if en else f"{old}更名为{self.new[0][1]}"
        if self.kind == "recoded":
            return f"{old} recoded as {new}{share}" if en else f"{old}改设为{new}{share}"
        if self.kind == "merged":
            return f"{old} merged into {new}{share}" if en else f"{old}并入{new}{share}"
        if self.kind == "split":
            return f"{old} split into {new}{share}" if en else f"{old}拆分为{new}{share}"
        if self.kind == "abolished":
            return f"{old} abolished" if en else f"{old}撤销"
        if self.kind == "boundary":
            if self.absorbed:
                return (f"{new}: outline changed, {named(self.absorbed)} merged into it" if en else
                        f"{new}范围变更：{named(self.absorbed)}并入")
            kept = "" if self.share is None else (f" ({self.share:.1%} of the former area kept)" if en else
                                                  f"（保留原面积的 {self.share:.1%}）")
            return f"{new}: outline changed{kept}" if en else f"{new}范围变更{kept}"
        return f"{new} established" if en else f"新设{new}"

    def to_json(self, lang: str = "zh") -> dict:
        out = {"kind": self.kind, "kind_label": CHANGE_KINDS[self.kind][1 if lang == "en" else 0],
               "date": self.date, "old": [{"code": c, "name": n} for c, n in self.old],
               "new": [{"code": c, "name": n} for c, n in self.new],
               "share": None if self.share is None else round(self.share, 4), "message": self.message(lang)}
        if self.absorbed:
            out["absorbed"] = [{"code": c, "name": n} for c, n in self.absorbed]
        return out


@dataclass
class DivisionImport:
    """What an import of divisions did: ``date`` (the default date of its changes) and where it came from
    (``date_source``: option, or today), the divisions of the file, those loaded first (no stored ones to
    compare with), those unchanged (``corrected``: outline corrected in place), and the changes."""

    file: str
    date: str
    date_source: str
    divisions: int = 0
    loaded: int = 0
    unchanged: int = 0
    corrected: int = 0
    changes: list[Change] = field(default_factory=list)
    #: stored divisions neither in the file nor in its area, kept as they were (the import was not --complete)
    kept: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: sum(c.kind == kind for c in self.changes) for kind in CHANGE_KINDS}

    def to_json(self, lang: str = "zh") -> dict:
        return {"file": self.file, "date": self.date, "date_source": self.date_source,
                "summary": {"divisions": self.divisions, "loaded": self.loaded, "unchanged": self.unchanged,
                            "corrected": self.corrected, "kept": len(self.kept), **self.counts()},
                "changes": [c.to_json(lang) for c in self.changes],
                "kept": [{"code": c, "name": n} for c, n in self.kept]}

    def lines(self, lang: str = "zh") -> list[str]:
        """The readable report: a summary line, then one line per change."""
        en = lang == "en"
        source = {"option": ("given by --valid-from", "由 --valid-from 指定"),
                  "today": ("today; set it with --valid-from", "今天；可用 --valid-from 指定")}[self.date_source]
        head = (f"{self.file}: {self.divisions} divisions, {self.loaded} loaded, {self.unchanged} unchanged "
                f"({self.corrected} outlines corrected), {len(self.changes)} changes recorded"
                if en else f"{self.file}：{self.divisions} 个区划，首次载入 {self.loaded} 个，未变 {self.unchanged} 个"
                f"（其中 {self.corrected} 个轮廓修正），记录变更 {len(self.changes)} 项")
        if self.changes:
            head += (f" (date of change where the file gives none: {self.date}, {source[0]})" if en else
                     f"（文件未给日期的变更记于 {self.date}，{source[1]}）")
        lines = [head] + [f"  {c.date}  [{CHANGE_KINDS[c.kind][1 if en else 0]}] {c.message(lang)}"
                          for c in self.changes]
        if self.kept:
            shown = (", " if en else "、").join(f"{n} ({c})" if en else f"{n}（{c}）" for c, n in self.kept[:5])
            more = "…" if len(self.kept) > 5 else ""
            lines.append(f"{len(self.kept)} stored divisions are neither in the file nor in its area and were kept "
                         f"as they are ({shown}{more}); if the file holds every division of its provinces, import "
                         "it with --complete to record them abolished" if en else
                         f"库中 {len(self.kept)} 个区划既不在文件中、其范围也不在文件覆盖内，"
                         f"保持不变（{shown}{more}）；"
                         "若文件包含其省份的全部区划，请加 --complete 重新导入，将其记为撤销")
        return lines


def _date_column(frame: pd.DataFrame) -> str | None:
    lower = {str(c).lower(): c for c in frame.columns}
    return next((lower[c.lower()] for c in DATE_COLUMNS if c.lower() in lower), None)


def row_dates(frame: pd.DataFrame, file: str) -> pd.Series:
    """Each row's date of change (``YYYY-MM-DD`` or None), or ImportRowsError naming every bad row."""
    column = _date_column(frame)
    if column is None:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    dates, problems = [], []
    for number, value in enumerate(frame[column], start=1):
        try:
            dates.append(parse_date(value))
        except ValueError:
            dates.append(None)
            problems.append((number, f"{column} {value!r} is not a date YYYY-MM-DD (e.g. 2016-07-01)",
                             f"{column} {value!r} 不是 YYYY-MM-DD 格式的日期（如 2016-07-01）"))
    if problems:
        raise ImportRowsError(file, problems)
    return pd.Series(dates, index=frame.index, dtype=object)


def _valid(geometries) -> np.ndarray:
    geometries = np.asarray(geometries, dtype=object)
    bad = ~shapely.is_valid(geometries)
    if bad.any():
        geometries = geometries.copy()
        geometries[bad] = shapely.make_valid(geometries[bad])
    return geometries


def _group(code: str, level: str) -> tuple[str, str]:
    return level, code[:2]


def record_divisions(store: NameStore, divisions: gpd.GeoDataFrame, *, file: str, valid_from: str | None = None,
                     complete: bool = False, progress: bool = False, lang: str = "zh") -> DivisionImport:
    """Store ``divisions`` (:func:`~placenames.importers.division_frame`, with each row's ``date`` of
    change if the file gives one), recording against the stored current divisions what changed (module
    docstring), inside the caller's transaction (:meth:`NameStore.write`). ``complete``: the file holds every
    division of its levels and provinces, so that a stored one it lacks and whose area it does not cover is
    abolished (without it, such a division is kept: ``kept``). Raises DivisionDateError (exit 1), storing
    nothing, when a change would end a record before it began."""
    from tqdm import tqdm

    from placenames.importers import division_names

    default = valid_from or datetime.date.today().isoformat()
    result = DivisionImport(file, default, "option" if valid_from else "today", divisions=len(divisions))
    divisions = divisions.reset_index(drop=True)
    if "date" not in divisions.columns:
        divisions = divisions.assign(date=None)
    groups = {_group(c, lv) for c, lv in zip(divisions.code, divisions.level, strict=True)}
    stored_all = store.divisions()
    file_codes = set(divisions.code)
    in_scope = [c in file_codes or _group(c, lv) in groups
                for c, lv in zip(stored_all.code, stored_all.level, strict=True)]
    stored = stored_all.loc[np.array(in_scope, dtype=bool)].reset_index(drop=True)
    stored_groups = {_group(c, lv) for c, lv in zip(stored.code, stored.level, strict=True)}
    by_code = {c: i for i, c in enumerate(stored.code)}
    new_index = {c: i for i, c in enumerate(divisions.code)}
    # the same outline read back is identical coordinate for coordinate (both databases store the doubles):
    # compared so first, the expensive overlay only for outlines that differ
    pairs = [(by_code[c], j) for j, c in enumerate(divisions.code) if c in by_code]
    identical = dict(zip((j for _, j in pairs), shapely.equals_exact(
        np.asarray(stored.geometry.values[[i for i, _ in pairs]], dtype=object),
        np.asarray(divisions.geometry.values[[j for _, j in pairs]], dtype=object), tolerance=0), strict=True)) \
        if pairs else {}
    overlaid = set(range(len(stored))) - {i for i, j in pairs if identical[j]}
    stored_geoms = np.asarray(stored.geometry.values, dtype=object).copy()
    if overlaid:  # valid polygons for the overlays (make_valid where a ring crosses itself)
        chosen = sorted(overlaid)
        stored_geoms[chosen] = _valid(stored_geoms[chosen])
    file_geoms = _valid(divisions.geometry.values)
    file_areas, stored_areas = shapely.area(file_geoms), shapely.area(stored_geoms)
    name_of = dict(zip(divisions.code, divisions.name, strict=True))

    row_date = [d if isinstance(d, str) else None for d in divisions.date]

    def date_of(code: str) -> str:
        return row_date[new_index[code]] or default

    closes, inserts, corrections, problems = [], [], [], []
    starts: dict[str, str | None] = {}  # the valid_from of each file code's record in force after the import

    def close(row, when: str, successors: list[str], kind: str) -> None:
        since = row.valid_from if isinstance(row.valid_from, str) else None
        if since and when <= since:
            problems.append((row.code, row["name"], since, when))
        closes.append((int(row.fid), when, ",".join(successors) or None, kind))

    tree = shapely.STRtree(file_geoms)
    gone = [i for i, c in enumerate(stored.code) if c not in new_index]
    absorbed: dict[str, list[tuple[str, str]]] = {}
    successors_of: set[str] = set()
    with tqdm(total=len(gone) + len(divisions), desc="区划对比" if lang != "en" else "comparing divisions",
              unit="个" if lang != "en" else "div", disable=not progress or len(divisions) < 200) as bar:
        for i in gone:
            row = stored.iloc[i]
            hits = [j for j in tree.query(stored_geoms[i], predicate="intersects")
                    if divisions.level.iloc[j] == row.level]
            overlap = shapely.area(shapely.intersection(stored_geoms[i], file_geoms[hits])) if hits else np.array([])
            shares = overlap / stored_areas[i] if stored_areas[i] else overlap * 0
            order = np.argsort(-shares) if len(hits) else np.array([], dtype=int)
            best = hits[order[0]] if len(hits) else None
            old = [(row.code, row["name"])]
            if best is not None and shares[order[0]] >= SAME_AREA:
                target = divisions.code.iloc[best]
                back = overlap[order[0]] / file_areas[best] if file_areas[best] else 0
                fresh = target not in by_code
                kind = "recoded" if fresh and back >= SAME_AREA else "merged"
                when = date_of(target)
                result.changes.append(Change(kind, when, old, [(target, name_of[target])], float(shares[order[0]])))
                close(row, when, [target], kind)
                successors_of.add(target)
                if kind == "merged" and not fresh:
                    absorbed.setdefault(target, []).append((row.code, row["name"]))
            else:
                parts = [(hits[k], shares[k]) for k in order if shares[k] >= SPLIT_PART]
                if len(parts) >= 2 and sum(s for _, s in parts) >= SAME_AREA:
                    targets = [divisions.code.iloc[j] for j, _ in parts]
                    when = max(date_of(t) for t in targets)
                    result.changes.append(Change("split", when, old, [(t, name_of[t]) for t in targets],
                                                 float(sum(s for _, s in parts))))
                    close(row, when, targets, "split")
                    successors_of.update(targets)
                elif complete or sum(shares) >= SPLIT_PART:
                    result.changes.append(Change("abolished", default, old, []))
                    close(row, default, [], "abolished")
                else:  # neither in the file nor in its area: a file of part of the province, unless complete
                    result.kept.append((row.code, row["name"]))
            bar.update()
        for j, new in enumerate(divisions.itertuples()):
            bar.update()
            if new.code not in by_code:
                continue
            row = stored.iloc[by_code[new.code]]
            i = by_code[new.code]
            if identical[j]:
                inter = union = stored_areas[i]
            else:
                inter = shapely.area(shapely.intersection(stored_geoms[i], file_geoms[j]))
                union = stored_areas[i] + file_areas[j] - inter
            same_outline = union == 0 or inter / union >= UNCHANGED
            if row["name"] == new.name and same_outline:
                result.unchanged += 1
                starts[new.code] = row.valid_from if isinstance(row.valid_from, str) else None
                if (row.level, row.parent) != (new.level, new.parent) or not identical[j]:
                    corrections.append((int(row.fid), new.level, new.parent, divisions.geometry.iloc[j]))
                    result.corrected += 1
                continue
            kind = "renamed" if row["name"] != new.name else "boundary"
            when = date_of(new.code)
            result.changes.append(Change(kind, when, [(row.code, row["name"])], [(new.code, new.name)],
                                         None if kind == "renamed" else float(inter / stored_areas[i]),
                                         absorbed.get(new.code, [])))
            close(row, when, [new.code], kind)
            inserts.append((new.code, new.name, new.level, new.parent, when, divisions.geometry.iloc[j]))
            # the division's name is in force from the rename; an outline change leaves its name as it was
            starts[new.code] = when if kind == "renamed" else (row.valid_from if isinstance(row.valid_from, str)
                                                               else None)
    for new in divisions.itertuples():
        if new.code in by_code:
            continue
        first = _group(new.code, new.level) not in stored_groups
        when = (row_date[new_index[new.code]] or valid_from) if first else date_of(new.code)
        if first:
            result.loaded += 1
        elif new.code not in successors_of:
            result.changes.append(Change("new", when, [], [(new.code, new.name)]))
        inserts.append((new.code, new.name, new.level, new.parent, when, divisions.geometry.iloc[new_index[new.code]]))
        starts[new.code] = when
    result.changes.sort(key=lambda c: (c.date, (c.old or c.new)[0][0]))
    if problems:
        raise DivisionDateError(
            f"{file}: {len(problems)} change(s) would end a division before it began; nothing stored. Give the "
            "date of change in a column 变更日期 or with --valid-from: "
            + "; ".join(f"{name} ({code}) in force since {since}, change dated {when}"
                        for code, name, since, when in problems[:10]),
            message_zh=f"{file}：{len(problems)} 项变更早于区划的生效日期，未入库；请在“变更日期”列或用 "
                       "--valid-from 给出变更日期：" + "；".join(f"{name}（{code}）自 {since} 起生效，变更日期为 {when}"
                                                           for code, name, since, when in problems[:10]),
            file=file)
    store.close_divisions(closes)
    store.correct_divisions(corrections)
    store.insert_divisions(inserts)
    names = division_names(divisions.drop(columns="date"))
    for record in names:
        record.valid_from = starts.get(record.source_id)
    store.upsert(names)
    retired = []
    for change in result.changes:
        if change.kind in ("recoded", "merged", "split", "abolished"):
            retired.append((change.old[0][0], change.date, change.new[0][0] if change.new else None))
    store.retire_division_names(retired)
    return result


def import_division_file(store: NameStore, path: Path, level: str | None = None, *, valid_from: str | None = None,
                         complete: bool = False, progress: bool = False, lang: str = "zh") -> DivisionImport:
    """Read a division file and record it (:func:`record_divisions`) in one transaction."""
    from placenames.importers import _read_layer, division_frame

    path = Path(path)
    frame = _read_layer(path)
    problems = [(number, f"the geometry is {'empty' if g is not None else 'missing'}; a division needs its polygon",
                 f"几何{'为空' if g is not None else '缺失'}；区划须有其面") if g is None or g.is_empty else
                (number, f"the geometry is a {g.geom_type}; a division is a polygon",
                 f"几何是 {g.geom_type}；区划应为面")
                for number, g in enumerate(frame.geometry, start=1)
                if g is None or g.is_empty or not g.geom_type.endswith("Polygon")]
    if problems:
        raise ImportRowsError(path.name, problems)
    divisions = division_frame(frame, level, dates=row_dates(frame, path.name))
    with store.write():
        return record_divisions(store, divisions, file=path.name, valid_from=valid_from, complete=complete,
                                progress=progress, lang=lang)


def division_history(store: NameStore, code: str, at: str | None = None) -> dict | None:
    """A code's record in force on ``at`` (the current one without it; None in ``division`` if none is) and
    its ``history``: every record of the code, of the codes it replaced and of those that replaced it, by
    date. None if the code was never stored."""
    links = store.division_links()
    if code not in {link[0] for link in links}:
        return None
    related, frontier = set(), [code]
    while frontier:  # predecessors (whose successors name a related code) and successors, transitively
        current = frontier.pop()
        if current in related:
            continue
        related.add(current)
        for row_code, superseded_by, *_ in links:
            successors = set((superseded_by or "").split(",")) - {""}
            if row_code == current:
                frontier += successors
            elif current in successors:
                frontier.append(row_code)
    records = store.divisions(history=True, codes=sorted(related))
    records = records.assign(_from=records.valid_from.fillna("")).sort_values(["_from", "code", "fid"])
    own = records[records.code == code]
    if at:
        own = own[own.valid_from.fillna("") <= at]
        own = own[own.valid_to.isna() | (own.valid_to.fillna("") > at)]
    else:
        own = own[own.status == "current"]
    division = division_json(own.iloc[0]) if len(own) else None
    return {"division": division, "history": [division_json(r) for _, r in records.iterrows()]}


def division_json(row) -> dict:
    """A division record (a row of :meth:`NameStore.divisions`) as JSON, ``superseded_by`` as a list."""
    def text(value):
        return None if value is None or (isinstance(value, float) and np.isnan(value)) else value

    return {"code": row.code, "name": row["name"], "level": row.level, "parent": text(row.parent),
            "status": row.status, "valid_from": text(row.valid_from), "valid_to": text(row.valid_to),
            "superseded_by": row.superseded_by.split(",") if isinstance(row.superseded_by, str) else [],
            "change": text(row.change)}


def abolished_codes(store: NameStore) -> dict[str, dict]:
    """The codes stored with no current record: code → ``name`` and ``date`` (of its last record's end),
    ``kind`` (the change that ended it) and ``replacements``, the current (code, name) it led to, through
    any later changes (none for an abolition)."""
    links = store.division_links()
    current = {code: name for code, _s, status, _t, _k, name in links if status == "current"}
    last: dict[str, tuple] = {}
    for code, superseded_by, _status, valid_to, kind, name in links:
        if code not in current and (code not in last or (valid_to or "") > (last[code][1] or "")):
            last[code] = (superseded_by, valid_to, kind, name)

    def resolve(code: str, seen: frozenset) -> list[tuple[str, str]]:
        if code in current:
            return [(code, current[code])]
        if code in seen or code not in last:
            return []
        return [r for nxt in (last[code][0] or "").split(",") if nxt for r in resolve(nxt, seen | {code})]

    return {code: {"name": name, "date": valid_to, "kind": kind,
                   "replacements": list(dict.fromkeys(resolve(code, frozenset())))}
            for code, (_s, valid_to, kind, name) in last.items()}
