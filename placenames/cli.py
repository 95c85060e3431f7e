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

    results = placenames.search(obj.db, query, near=_parse_near(near), within=within, klass=klass, at=at,
                                limit=limit)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=1))
        return
    for r in results:
        click.echo(f"{r['id']:>8}  {r['name']:<12} {r['pinyin']:<24} {r['class']:<8} {r['code'] or '-':<12} "
                   f"{r['lon']:.4f},{r['lat']:.4f}  {r['score']}")


@zh("查看一个地名：别名、范围（边界框；--json 时给出几何）与沿革。", as_json="以 JSON 输出，含范围的几何。")
@names.command()
@click.argument("name_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="As JSON, with the extent's geometry.")
@pass_context
def show(obj: CliContext, name_id: int, as_json: bool) -> None:
    """One name with its aliases, extent (bounds; the geometry with --json) and history."""
    import placenames
    from placenames.errors import UnknownNameError

    record = placenames.show(obj.db, name_id)
    if record is None:
        raise UnknownNameError(f"no place name with id {name_id}; find ids with `quhua names search`",
                               message_zh=f"没有编号为 {name_id} 的地名；可用 `quhua names search` 查找编号")
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=1))
        return
    click.echo(f"{record['name']} ({record['pinyin']}) {record['class']} {record['code'] or ''} "
               f"[{record['status']}]  aliases: {', '.join(record['aliases']) or '-'}")
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


@zh("载入行政区划面（任何带代码与名称字段的 GDAL 矢量文件）。", level="区划级别，默认按各代码判断。")
@divisions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--level", type=click.Choice(["province", "city", "county"]), help="Default: from each code.")
@who_option
@pass_context
def divisions_import(obj: CliContext, file: Path, level: str | None, who: str) -> None:
    """Load division polygons (any GDAL vector file with code and name columns)."""
    from placenames.importers import import_divisions
    from placenames.store import open_name_store

    with open_name_store(obj.db) as store:
        count = import_divisions(store, file, level)
    obj.audit("divisions import", who, file=file.name, divisions=count)
    click.echo(f"{count} divisions loaded ({file.name})")
