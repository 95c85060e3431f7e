"""``quhua names …`` and ``quhua divisions import`` (SPEC §8), added to the ``quhua`` command by entry point."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from boundaries.cli import CliContext, pass_context, who_option, zh

__all__ = ["divisions", "names"]


@zh("地名库：导入、查询、查看、检查。")
@click.group()
def names() -> None:
    """The place-name gazetteer (地名): import, search, show, check."""


@zh("从 FILE 新增或更新地名；有错误的行按行号列出，且不存储任何内容；GeoNames 中没有中文名称的地点跳过，"
    "跳过的行按原因计数。", fmt="文件格式，默认按后缀判断。",
    alternates="GeoNames 数据旁的 alternateNamesV2.txt：其中 zh-CN/zh-Hans/zh 名称作为标准名。",
    as_json="以 JSON 输出计数和每一条跳过的行。")
@names.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson", "geonames"]), help="Default: from the suffix.")
@click.option("--alternate-names", "alternates", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="GeoNames' alternateNamesV2.txt beside a GeoNames dump: its zh-CN/zh-Hans/zh names give "
                   "the standard names.")
@click.option("--json", "as_json", is_flag=True, help="The counts and every skipped row as JSON.")
@who_option
@pass_context
def import_(obj: CliContext, file: Path, fmt: str | None, alternates: Path | None, as_json: bool, who: str) -> None:
    """Add or update names from FILE; a bad row is reported by line number and nothing is stored; a GeoNames
    place without a Chinese form is skipped, and every skipped row is counted with its reason."""
    from placenames.importers import import_names
    from placenames.store import open_name_store

    with open_name_store(obj.db) as store:
        result = import_names(store, file, fmt, alternates, progress=True, lang=obj.lang)
    obj.audit("names import", who, file=file.name, inserted=result.inserted, updated=result.updated,
              skipped=len(result.skipped))
    if as_json:
        click.echo(json.dumps({"file": file.name, "inserted": result.inserted, "updated": result.updated,
                               "skipped": [s.to_json(obj.lang) for s in result.skipped]},
                              ensure_ascii=False, indent=1))
        return
    en = obj.lang == "en"
    click.echo(f"{result.inserted} names added, {result.updated} updated ({file.name})" if en else
               f"新增 {result.inserted} 个地名，更新 {result.updated} 个（{file.name}）")
    _echo_skipped(result.skipped, en)


def _echo_skipped(skipped, en: bool, examples: int = 5) -> None:
    """Skipped rows: a count per reason, with the first lines of each (--json lists them all)."""
    if not skipped:
        return
    click.echo(f"{len(skipped)} rows skipped (--json lists them all):" if en else
               f"跳过 {len(skipped)} 行（--json 列出全部）：")
    by_reason: dict[str, list] = {}
    for row in skipped:
        by_reason.setdefault(row.reason, []).append(row)
    for rows in by_reason.values():
        message = rows[0].to_json("en" if en else "zh")["message"]
        lines = ", ".join(f"{r.line} ({r.name})" for r in rows[:examples]) + (", …" if len(rows) > examples else "")
        click.echo(f"  {len(rows)}: {message}; lines {lines}" if en else f"  {len(rows)} 行：{message}；第 {lines} 行")


def _parse_near(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError as err:
        raise click.BadParameter("give LON,LAT in degrees, e.g. 116.39,39.91") from err
    return lon, lat


@zh("按中文（一个字起）、拼音（任意空格、声调）、首字母查询地名，容许小的拼写错误。",
    near="离该点（经度,纬度）近的地名排在前面。", within="只查该行政区划（GB/T 2260 代码）内的地名。",
    klass="只查该普查类别，如 行政区域。", at="查该日期有效的地名，而非现行地名。", limit="最多返回的条数。",
    as_json="以 JSON 输出结果。")
@names.command()
@click.argument("query")
@click.option("--near", metavar="LON,LAT", help="Nearer names first.")
@click.option("--within", metavar="CODE", help="Only names in this division (GB/T 2260 code).")
@click.option("--class", "klass", metavar="C", help="Only this census class, e.g. 行政区域.")
@click.option("--at", metavar="YYYY-MM-DD", help="Names valid on that date instead of the current ones.")
@click.option("--limit", default=10, show_default=True, help="At most this many results.")
@click.option("--json", "as_json", is_flag=True, help="The results as JSON.")
@pass_context
def search(obj: CliContext, query, near, within, klass, at, limit, as_json) -> None:
    """Search by Chinese (one character up), pinyin (any spacing, tones), initials, with small typos."""
    import placenames

    at = _date_option(at)
    results = placenames.search(obj.db, query, near=_parse_near(near), within=within, klass=klass, at=at,
                                limit=limit)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=1))
        return
    for r in results:
        county = f"  {r['county_at']['name']}（{r['county_at']['code']}）" if r.get("county_at") else ""
        click.echo(f"{r['id']:>8}  {r['name']:<12} {r['pinyin']:<24} {r['class']:<8} {r['code'] or '-':<12} "
                   f"{r['lon']:.4f},{r['lat']:.4f}  {r['score']}{county}")


@zh("查看一个地名：别名、范围（边界框；--json 时给出几何）与沿革。", as_json="以 JSON 输出，含范围的几何。",
    at="给出其沿革中该日期（YYYY-MM-DD）有效的记录，及当时所在的县级区划。")
@names.command()
@click.argument("name_id", type=int)
@click.option("--at", metavar="YYYY-MM-DD", help="The record of its history in force on that date, with the "
              "county it lay in then.")
@click.option("--json", "as_json", is_flag=True, help="As JSON, with the extent's geometry.")
@pass_context
def show(obj: CliContext, name_id: int, at: str | None, as_json: bool) -> None:
    """One name with its aliases, extent (bounds; the geometry with --json) and history."""
    import placenames
    from placenames.errors import UnknownNameError

    at = _date_option(at)
    record = placenames.show(obj.db, name_id, at=at)
    if record is None:
        raise UnknownNameError(f"no place name with id {name_id}; find ids with `quhua names search`",
                               message_zh=f"没有编号为 {name_id} 的地名；可用 `quhua names search` 查找编号")
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=1))
        return
    en = obj.lang == "en"
    if at and not record["in_force"]:
        click.echo(f"no record of this name was in force on {at}:" if en else f"{at} 时此地名没有有效记录：")
    click.echo(f"{record['name']} ({record['pinyin']}) {record['class']} {record['code'] or ''} "
               f"[{record['status']}]  aliases: {', '.join(record['aliases']) or '-'}")
    if at:
        county = record.get("county_at")
        where = f"{county['name']} ({county['code']})" if county else "-"
        click.echo(f"  county on {at}: {where}" if en else f"  {at} 时所在县级区划：{where}")
    if record["extent"]:
        click.echo(f"  extent: {record['extent']['type']} {', '.join(map(str, record['bbox']))} (W, S, E, N)")
    for old in record["history"]:
        click.echo(f"  {old['valid_from'] or '?'} – {old['valid_to'] or ''}  {old['name']}  [{old['status']}]")


@zh("地名规则（name.*）：重名、同音、生僻字、代码、点位落在区划之外。", within="只检查该行政区划（代码）内的地名。",
    as_json="以 JSON 输出报告（同 SPEC §6）。")
@names.command()
@click.option("--within", metavar="CODE", help="Only the names in this division (code).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (as SPEC §6).")
@pass_context
def check(obj: CliContext, within, as_json) -> None:
    """The naming rules (name.*): duplicates, homophones, rare characters, codes, points outside divisions."""
    from placenames.rules import check_names
    from placenames.store import open_name_store

    with open_name_store(obj.db) as store:
        report = check_names(store, within=within, lang=obj.lang)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        for issue in report["issues"]:
            click.echo(f"{issue['rule']:<24} {issue['severity']:<8} {issue['message']}")
        click.echo(f"{report['summary']['names']} names, {report['summary']['errors']} errors, "
                   f"{report['summary']['warnings']} warnings")
    sys.exit(0 if report["accepted"] else 1)


@zh("带 GB/T 2260 代码的行政区划面（判断地名所在区划的依据）。")
@click.group()
def divisions() -> None:
    """Division polygons with their GB/T 2260 codes (the reference for where a name lies)."""


def _date_option(value: str | None) -> str | None:
    """A ``--valid-from``/``--at`` value as ``YYYY-MM-DD``, or a usage error (exit 2) saying the form."""
    from placenames.dates import parse_date

    try:
        return parse_date(value)
    except ValueError as err:
        raise click.BadParameter(f"{value!r} is not a date; give YYYY-MM-DD, e.g. 2016-07-01") from err


def _check_date(_ctx, _param, value):
    return _date_option(value)


@zh("载入行政区划面（任何带代码与名称字段的 GDAL 矢量文件），与库中现行区划对比，把撤并、更名、代码变更、拆分、"
    "撤销、新设记为有日期的沿革：旧记录得到终止日期与继任代码，新记录得到生效日期。",
    level="区划级别，默认按各代码判断。",
    valid_from="变更日期（YYYY-MM-DD），用于文件未给日期（“变更日期”列）的变更；默认今天，并在输出中说明。",
    report="把记录的变更写入该 JSON 文件。", as_json="以 JSON 输出结果（同 --report 的内容）。",
    complete="文件包含其级别、省份的全部区划：库中有而文件中没有、其范围也不在文件内的区划记为撤销（否则保持不变并列出）。")
@divisions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--level", type=click.Choice(["province", "city", "county"]), help="Default: from each code.")
@click.option("--valid-from", "valid_from", metavar="YYYY-MM-DD", callback=_check_date,
              help="Date of the changes the file gives no date for (a column 变更日期); default today, said in "
                   "the output.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the changes recorded "
              "to this JSON file.")
@click.option("--complete", is_flag=True, help="The file holds every division of its levels and provinces: a "
              "stored division it lacks and whose area it does not cover is recorded abolished (else kept and "
              "listed).")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON (what --report writes).")
@who_option
@pass_context
def divisions_import(obj: CliContext, file: Path, level: str | None, valid_from: str | None, report: Path | None,
                     complete: bool, as_json: bool, who: str) -> None:
    """Load division polygons (any GDAL vector file with code and name columns), compared with the stored
    current divisions: mergers, renames, recodes, splits, abolitions and new divisions are recorded as dated
    history (the old record gets valid_to and the successor codes, the new one valid_from)."""
    from placenames.importers import import_divisions
    from placenames.store import open_name_store

    with open_name_store(obj.db) as store:
        result = import_divisions(store, file, level, valid_from=valid_from, complete=complete, progress=True,
                                  lang=obj.lang)
    obj.audit("divisions import", who, file=file.name, divisions=result.divisions, changes=len(result.changes))
    document = result.to_json(obj.lang)
    if report is not None:
        report.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=1))
        return
    for line in result.lines(obj.lang):
        click.echo(line)


def _division_line(d: dict, lang: str = "zh") -> str:
    """One division record (:func:`placenames.history.division_json`) as a line, in ``lang``."""
    from placenames.history import CHANGE_KINDS

    en = lang == "en"
    status = d["status"] if en else {"current": "现行", "historical": "历史"}.get(d["status"], d["status"])
    ended = ""
    if d["change"]:
        kind = d["change"] if en else CHANGE_KINDS.get(d["change"], (d["change"],))[0]
        ended = f" → {','.join(d['superseded_by']) or '-'} ({kind})"
    level = d["level"] if en else _LEVELS_ZH.get(d["level"], d["level"])
    return f"{d['code']}  {d['name']}  {level}  {d['valid_from'] or '…'} – {d['valid_to'] or ''}  [{status}]{ended}"


_LEVELS_ZH = {"province": "省级", "city": "地级", "county": "县级", "township": "乡级", "village": "村级"}


@zh("列出行政区划：现行的，或 --at 日期时有效的。", at="列出该日期（YYYY-MM-DD）有效的区划。",
    level="只列该级别。", within="只列该区划（代码）内的。", as_json="以 JSON 输出。")
@divisions.command("list")
@click.option("--at", metavar="YYYY-MM-DD", callback=_check_date, help="The divisions in force on that date.")
@click.option("--level", type=click.Choice(["province", "city", "county"]), help="Only this level.")
@click.option("--within", metavar="CODE", help="Only the divisions inside this one (code).")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_context
def divisions_list(obj: CliContext, at: str | None, level: str | None, within: str | None, as_json: bool) -> None:
    """List the divisions: the current ones, or those in force on --at."""
    from placenames.history import division_json
    from placenames.store import SearchFilter, open_name_store

    with open_name_store(obj.db) as store:
        frame = store.divisions(level, at=at)
    prefix = SearchFilter(within=within).code_prefix if within else None
    rows = [division_json(r) for _, r in frame.iterrows() if prefix is None or r.code.startswith(prefix)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for d in rows:
        click.echo(_division_line(d, obj.lang))
    en = obj.lang == "en"
    when = (f" in force on {at}" if en else f"（{at} 有效）") if at else ""
    click.echo(f"{len(rows)} divisions{when}" if en else f"共 {len(rows)} 个区划{when}")


@zh("查看一个区划代码：现行（或 --at 日期时有效）的记录及其沿革（前身与继任）。",
    at="该日期（YYYY-MM-DD）有效的记录。", as_json="以 JSON 输出。")
@divisions.command("show")
@click.argument("code")
@click.option("--at", metavar="YYYY-MM-DD", callback=_check_date, help="The record in force on that date.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_context
def divisions_show(obj: CliContext, code: str, at: str | None, as_json: bool) -> None:
    """One division code: its current record (or the one in force on --at) and its history (predecessors and
    successors)."""
    from placenames.errors import UnknownNameError
    from placenames.history import division_history
    from placenames.store import open_name_store

    with open_name_store(obj.db) as store:
        found = division_history(store, code, at)
    if found is None:
        raise UnknownNameError(f"no division with code {code}; list them with `quhua divisions list`",
                               message_zh=f"没有代码为 {code} 的区划；可用 `quhua divisions list` 列出",
                               rule="division.unknown")
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=1))
        return
    en = obj.lang == "en"
    if found["division"] is None:
        click.echo(f"{code}: no record in force on {at}" if en else f"{code}：{at} 时没有有效记录")
    else:
        click.echo(_division_line(found["division"], obj.lang))
    click.echo("history:" if en else "沿革：")
    for d in found["history"]:
        click.echo("  " + _division_line(d, obj.lang))


@zh("报告仍引用已撤销、撤并或变更代码的地名（name.abolished_code）与库中界线（line.abolished_code），并给出现行的"
    "继任代码；报告格式同 SPEC §6。", as_json="以 JSON 输出报告。")
@divisions.command("check")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (as SPEC §6).")
@pass_context
def divisions_check(obj: CliContext, as_json: bool) -> None:
    """Names (name.abolished_code) and stored boundary lines (line.abolished_code) that still refer to a code
    no longer in force, each with the current code that replaced it; reported like SPEC §6."""
    from placenames.rules import check_codes

    report = check_codes(obj.db, lang=obj.lang)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        for issue in report["issues"]:
            click.echo(f"{issue['rule']:<24} {issue['severity']:<8} {issue['feature']:<10} {issue['message']}")
        s = report["summary"]
        click.echo(f"{s['names']} names, {s['lines']} lines, {s['errors']} errors, {s['warnings']} warnings"
                   if obj.lang == "en" else
                   f"地名 {s['names']} 个，界线 {s['lines']} 条，错误 {s['errors']} 个，警告 {s['warnings']} 个")
    sys.exit(0 if report["accepted"] else 1)
