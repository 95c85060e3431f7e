"""``quhua inspect …``: joint inspection rounds (联检) on the command line (:mod:`boundaries.inspection`).

The command line is trusted as ``quhua ingest`` is: ``--user`` (default the login name) is recorded with each
step and in the audit log; who may do which step over the web is :func:`webmap.auth.can`'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from boundaries.cli import CliContext, pass_context, who_option, zh

__all__ = ["inspect"]


def _json_default(value):
    return str(value)


def _echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=1, default=_json_default))


def _steps(record: dict, lang: str) -> list[str]:
    """Who did which step, when: one line each."""
    en = lang == "en"
    out = [f"{'planned' if en else '创建'}: {record['created_by']} {record['created_at']}"]
    if record["started_at"]:
        out.append(f"{'started' if en else '开始检查'}: {record['started_by']} {record['started_at']}")
    if record["submitted_at"]:
        out.append(f"{'submitted' if en else '提交'} ({record['submitted_side']}): {record['submitted_by']} "
                   f"{record['submitted_at']}")
    for side in ("a", "b"):
        code = record[f"province_{side}"]
        if record[f"confirmed_{side}_at"]:
            out.append(f"{'confirmed' if en else '确认'} ({code}): {record[f'confirmed_{side}_by']} "
                       f"{record[f'confirmed_{side}_at']}")
        elif record["status"] == "submitted":
            out.append(f"{'awaiting the confirmation of' if en else '待确认'}: {code}")
    if record["filed_at"]:
        out.append(f"{'filed' if en else '备案'}: {record['filed_by']} {record['filed_at']}")
    return out


def _summary(record: dict, lang: str) -> str:
    from boundaries.inspection import status_label

    return (f"{record['fid']}\t{record['name']}\t{'、'.join(record['line_ids'])}\t{record['province_a']}–"
            f"{record['province_b']}\t{status_label(record['status'], lang)}\t"
            f"{record['planned_from'] or '–'}…{record['planned_to'] or '–'}")


@zh("联检（界线联合检查）：计划轮次，录入界桩状况与照片，一方提交，双方确认，备案。\n\n退出码：0 完成；1 界桩状况有错误"
    "（什么也没保存）；2 轮次不存在、当前状态不允许该步骤、照片无效或表格无法使用。")
@click.group()
def inspect() -> None:
    """Joint inspection rounds (联检): plan a round, record marker findings and photos, submit (one side),
    confirm (both sides), file.

    Exit codes: 0 done; 1 findings with errors (nothing stored); 2 an unknown round, a step its state does
    not allow, a bad photo or an unusable table."""


@zh("为一条或几条省际界线（同两个省份之间）计划一轮联检；输出其编号。",
    lines="界线编号（可重复给出）。", name="轮次名称（默认：界线编号加“联检”）。", start="计划开始日期（YYYY-MM-DD）。",
    end="计划结束日期。", team_a="编号较小一方（省份代码较小）的检查组。", team_b="另一方的检查组。", remarks="备注。",
    as_json="以 JSON 输出该轮次。")
@inspect.command("new")
@click.option("--line", "lines", multiple=True, required=True, metavar="LINE_ID", help="A line id (repeatable).")
@click.option("--name", help="The round's name (default: its line ids and 联检).")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="Planned start date.")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Planned end date.")
@click.option("--team-a", default="", help="The team of the side with the smaller province code.")
@click.option("--team-b", default="", help="The other side's team.")
@click.option("--remarks", default="", help="Remarks.")
@click.option("--json", "as_json", is_flag=True, help="Print the round as JSON.")
@who_option
@pass_context
def new(obj: CliContext, lines, name, start, end, team_a, team_b, remarks, as_json, who) -> None:
    """Plan a round of one or more inter-provincial lines (between the same two provinces); prints its id."""
    from boundaries.inspection import create_round

    with obj.store() as store:
        record = create_round(store, lines, user=who, name=name, planned_from=start, planned_to=end, team_a=team_a,
                              team_b=team_b, remarks=remarks)
    if as_json:
        _echo_json(record)
    else:
        click.echo(_summary(record, obj.lang))


@zh("列出联检轮次：编号、名称、界线、双方、状态、计划日期。", province="只列出有一方在该省的轮次。",
    status="只列出该状态的轮次：planned、in_progress、submitted、confirmed、filed。", as_json="以 JSON 输出。")
@inspect.command("list")
@click.option("--province", metavar="CODE", help="Only rounds with a side in this province.")
@click.option("--status", type=click.Choice(["planned", "in_progress", "submitted", "confirmed", "filed"]),
              help="Only rounds in this status.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@pass_context
def list_(obj: CliContext, province, status, as_json) -> None:
    """List the rounds: id, name, lines, the two provinces, status, planned dates."""
    from boundaries.inspection import list_rounds
    from boundaries.readers import check_province

    with obj.store() as store:
        records = list_rounds(store, province=check_province(province) if province else None, status=status)
    if as_json:
        _echo_json(records)
        return
    for record in records:
        click.echo(_summary(record, obj.lang))
    click.echo(f"{len(records)} round(s)" if obj.lang == "en" else f"共 {len(records)} 轮", err=True)


@zh("一轮联检：状态、各步骤的执行人与时间、每个界桩的状况与位移、照片。", as_json="以 JSON 输出。")
@inspect.command("show")
@click.argument("round_id", metavar="ROUND")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@pass_context
def show(obj: CliContext, round_id, as_json) -> None:
    """One round: its status, who did each step when, each marker's condition and shift, its photos."""
    from boundaries.inspection import condition_label, get_round

    with obj.store() as store:
        record = get_round(store, round_id)
    if as_json:
        _echo_json(record)
        return
    click.echo(_summary(record, obj.lang))
    for line in _steps(record, obj.lang):
        click.echo("  " + line)
    for f in record["findings"]:
        position = f"{f['lon']:.7f}, {f['lat']:.7f}" if f["lon"] is not None else "–"
        shift = f"{f['shift_m']:.2f} m" if f["shift_m"] is not None else "–"
        click.echo("\t".join([f["marker_id"], condition_label(f["condition"], obj.lang), position, shift,
                              f["remarks"] or ""]))
    for p in record["photos"]:
        distance = f"{p['distance_m']} m" if p["distance_m"] is not None else "–"
        click.echo(f"photo {p['fid']}\t{p['name']}\t{p['marker_id'] or '–'}\t{distance}")


@zh("从联检的界桩状况表（CSV/XLSX，中文表头，UTF-8 或 GBK；经纬度为度或度分秒，或纵/横坐标加 --crs）导入界桩状况；"
    "有任何一行出错则列出全部错误行，什么也不保存（退出码 1）。", crs="纵坐标/横坐标所在的高斯-克吕格投影带，"
                                          "如 EPSG:4547。",
    encoding="CSV 的编码，优先于自动识别。", as_json="以 JSON 输出该轮次。")
@inspect.command("import")
@click.argument("round_id", metavar="ROUND")
@click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", metavar="EPSG:NNNN", help="The Gauss-Krüger zone of X/Y (纵坐标/横坐标) columns.")
@click.option("--encoding", metavar="NAME", help="The CSV's encoding, overriding detection.")
@click.option("--json", "as_json", is_flag=True, help="Print the round as JSON.")
@who_option
@pass_context
def import_(obj: CliContext, round_id, table, crs, encoding, as_json, who) -> None:
    """Import marker findings from the inspection's table (CSV/XLSX, Chinese headers, UTF-8 or GBK; degrees
    or 度分秒, or X/Y with --crs); one bad row lists every bad row and stores nothing (exit 1)."""
    from boundaries.inspection import get_round, read_findings_table, record_findings

    findings = read_findings_table(table, crs=crs, encoding=encoding)
    with obj.store() as store:
        get_round(store, round_id)  # an unknown round is said before the rows are judged
        record = record_findings(store, round_id, findings, user=who, source=Path(table).name)
    if as_json:
        _echo_json(record)
    else:
        click.echo(f"{len(findings)} finding(s) stored in round {record['fid']}" if obj.lang == "en"
                   else f"已在第 {record['fid']} 轮联检中保存 {len(findings)} 条界桩状况")


def _side_option(func):
    return click.option("--side", required=True, metavar="CODE",
                        help="The province (six digits) for which this is done, one of the round's two.")(func)


@zh("一方提交本轮检查结果，等待双方确认（检查中 → 一方已提交）。", side="代表哪一方（省份代码），"
                                            "须为本轮的两个省份之一。")
@inspect.command("submit")
@click.argument("round_id", metavar="ROUND")
@_side_option
@who_option
@pass_context
def submit_(obj: CliContext, round_id, side, who) -> None:
    """One side submits the round's findings for confirmation (in progress → submitted)."""
    from boundaries.inspection import status_label, submit

    with obj.store() as store:
        record = submit(store, round_id, side=side, user=who)
    click.echo(f"{record['fid']}: {status_label(record['status'], obj.lang)}")


@zh("一方确认本轮结果（记录确认人与时间）。双方都确认后，移位、重测、新设界桩的新位置才成为入库（法定）位置；"
    "只有一方确认时，界桩位置不变。", side="确认的一方（省份代码），须为本轮的两个省份之一。")
@inspect.command("confirm")
@click.argument("round_id", metavar="ROUND")
@_side_option
@who_option
@pass_context
def confirm_(obj: CliContext, round_id, side, who) -> None:
    """One side confirms the round (who and when recorded). Only when both sides have confirmed do the moved,
    re-surveyed and newly set positions become the stored (legal) ones; one side alone changes no position."""
    from boundaries.inspection import confirm, status_label

    with obj.store() as store:
        record = confirm(store, round_id, side=side, user=who)
    click.echo(f"{record['fid']}: {status_label(record['status'], obj.lang)}")
    for line in _steps(record, obj.lang):
        click.echo("  " + line)


@zh("备案一轮双方已确认的联检（双方已确认 → 已备案）。")
@inspect.command("file")
@click.argument("round_id", metavar="ROUND")
@who_option
@pass_context
def file_(obj: CliContext, round_id, who) -> None:
    """File a round confirmed by both sides (confirmed → filed)."""
    from boundaries.inspection import file_round, status_label

    with obj.store() as store:
        record = file_round(store, round_id, user=who)
    click.echo(f"{record['fid']}: {status_label(record['status'], obj.lang)}")


@zh("为一轮联检（可指明界桩）保存一张 JPEG/PNG 照片（不超过 10 MiB）；读取其 EXIF 中的 GPS 位置并给出与界桩的距离。",
    marker="照片所摄的界桩编号。", as_json="以 JSON 输出照片信息。")
@inspect.command("photo")
@click.argument("round_id", metavar="ROUND")
@click.argument("photo", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--marker", metavar="MARKER_ID", help="The marker the photo shows.")
@click.option("--json", "as_json", is_flag=True, help="Print the photo's record as JSON.")
@who_option
@pass_context
def photo_(obj: CliContext, round_id, photo, marker, as_json, who) -> None:
    """Store a JPEG/PNG photo (at most 10 MiB) with a round, of a marker if given; its EXIF GPS position is
    read and its distance to the marker printed."""
    from boundaries.errors import InputError
    from boundaries.inspection import PHOTO_MAX_BYTES, add_photo

    path = Path(photo)
    if not path.is_file():
        raise InputError(f"{path.name}: no such file", file=path.name, message_zh=f"{path.name}：文件不存在")
    with path.open("rb") as handle:
        data = handle.read(PHOTO_MAX_BYTES + 1)
    with obj.store() as store:
        record = add_photo(store, round_id, data, path.name, user=who, marker_id=marker)
    if as_json:
        _echo_json(record)
        return
    if record["distance_m"] is not None:
        where = (f"; EXIF position {record['distance_m']} m from marker {record['marker_id']}" if obj.lang == "en"
                 else f"；EXIF 位置距界桩 {record['marker_id']} {record['distance_m']} 米")
    elif record["exif_lon"] is None:
        where = "; no EXIF position" if obj.lang == "en" else "；照片没有 EXIF 位置"
    else:
        where = ""
    click.echo((f"photo {record['fid']} stored" if obj.lang == "en" else f"已保存照片 {record['fid']}") + where)


@zh("各条界线最近一次双方确认的联检，以及哪些已到期（每五年一次）。", province="只看与该省有关的界线。",
    today="以该日期判断（默认今天，UTC）。", as_json="以 JSON 输出。")
@inspect.command("due")
@click.option("--province", metavar="CODE", help="Only the lines concerning this province.")
@click.option("--today", metavar="YYYY-MM-DD", help="Judge as of this date (default: today, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def due(obj: CliContext, province, today, as_json) -> None:
    """Each line's last round confirmed by both sides, and which are due (every five years)."""
    from boundaries.inspection import _check_date, due_table
    from boundaries.readers import check_province

    with obj.store() as store:
        rows = due_table(store, today=_check_date(today, "--today"),
                         province=check_province(province) if province else None)
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        state = ("due" if obj.lang == "en" else "到期") if row["is_due"] else ""
        click.echo("\t".join([row["line_id"], str(row["name"] or ""), row["last_confirmed"] or "–", row["due"], state]))
    count = sum(r["is_due"] for r in rows)
    click.echo(f"{count} of {len(rows)} line(s) due" if obj.lang == "en" else f"{len(rows)} 条界线中 {count} 条到期",
               err=True)

