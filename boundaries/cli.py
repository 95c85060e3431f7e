"""The ``quhua`` command (SPEC §3).

The boundary commands live here; the gazetteer (``names``, ``divisions``) and the viewer (``serve``,
``users``) add theirs through the ``quhua.commands`` entry-point group, extra demo loaders through
``quhua.demo`` and the creation of their tables through ``quhua.init``, so that this core package never
imports the packages built on it.

Exit codes: 0 no error, 1 the data has errors, 2 the input cannot be used at all. Every
:class:`~boundaries.errors.QuhuaError` and usage error is turned into a message (or, with ``--json``, one
JSON document) and its exit code here, in one place.
"""

from __future__ import annotations

import gc
import getpass
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from boundaries.errors import ConfigError, QuhuaError


def _command_named(argv: list[str]) -> str | None:
    """The subcommand a command line runs, or None when the group itself answers (no command, ``--help`` or
    ``--version`` before it). Only the group's options are skipped: ``--db`` and ``--lang`` take a value."""
    args = iter(argv)
    for arg in args:
        if arg in ("--db", "--lang"):
            next(args, None)
        elif arg == "--":
            return next(args, None)
        elif arg in ("-h", "--help", "--version"):
            return None
        elif not arg.startswith("-"):
            return arg
    return None


__all__ = ["CliContext", "chinese_help", "cli", "localise", "main", "who_option", "zh"]

EXIT_OK, EXIT_DATA_ERRORS, EXIT_UNUSABLE = 0, 1, 2

#: The language of help pages, set by :func:`main` from ``--lang`` / ``QUHUA_LANG`` before click parses
#: (``--help`` is answered before any other option is read).
_help_lang = "zh"
#: click's own words on a help page (click ships no Chinese catalogue).
_CLICK_ZH = {"Usage: ": "用法：", "Options:": "选项：", "Commands:": "命令：", "[default: ": "[默认：",
             "[required]": "[必填]", "[env var: ": "[环境变量：", "Show this message and exit.": "显示本帮助并退出。",
             "Show the version and exit.": "显示版本并退出。"}


def zh(help: str, **params: str):
    """Decorator giving a command its Chinese help: ``help`` (its first sentence, to 。, is the line in the
    list of commands) and the help of its options by parameter name (``default_NAME`` for a shown default).
    The English stays in the code (docstrings, ``help=``) and is shown with ``--lang en``."""
    def attach(command: click.Command) -> click.Command:
        command.help_zh = (help, params)
        return command

    return attach


#: Chinese help of options that several commands share, by parameter name (a command's own wins).
_COMMON_ZH = {"who": "修改人（记入审计日志）。", "default_who": "登录名"}
def chinese_help(command: click.Command) -> tuple[str | None, dict[str, str]]:
    """A command's Chinese help and its options' (from :func:`zh`), the shared options' (:data:`_COMMON_ZH`)
    filled in."""
    chinese, params = getattr(command, "help_zh", None) or (None, {})
    return chinese, {**_COMMON_ZH, **params}


class _HelpFormatter(click.HelpFormatter):
    def getvalue(self) -> str:
        text = super().getvalue()
        if _help_lang == "zh":
            for english, chinese in _CLICK_ZH.items():
                text = text.replace(english, chinese)
        return text


class _Context(click.Context):
    formatter_class = _HelpFormatter


def localise(command: click.Command, lang: str) -> None:
    """Put every help text of ``command`` and of its subcommands in ``lang`` (zh: from :func:`zh`; a
    command without Chinese keeps its English). Reversible: the English is kept on first use."""
    global _help_lang
    _help_lang = lang
    command.context_class = _Context
    english = command.__dict__.setdefault("_help_en", (
        command.help, command.short_help,
        {p.name: (getattr(p, "help", None), getattr(p, "show_default", None)) for p in command.params}))
    chinese, params = chinese_help(command)
    use_zh = lang == "zh" and chinese is not None
    command.help = chinese if use_zh else english[0]
    command.short_help = chinese.split("。")[0] + "。" if use_zh else english[1]
    for param in command.params:
        help_en, default_en = english[2].get(param.name, (None, None))
        if isinstance(param, click.Option):
            param.help = params.get(param.name, help_en) if use_zh else help_en
            param.show_default = params.get(f"default_{param.name}", default_en) if use_zh else default_en
    for sub in getattr(command, "commands", {}).values():
        localise(sub, lang)


@dataclass
class CliContext:
    """What every subcommand gets as ``ctx.obj``: the database URL and the language of messages."""

    db: str
    lang: str = "zh"

    def store(self):
        from boundaries.store import open_store

        return open_store(self.db)

    def audit(self, action: str, user: str, *, outcome: str = "ok", province: str | None = None, **detail) -> None:
        """Record a write made by this command in the audit log (address ``cli``), after the write: for the
        writes whose own transaction the store does not run (accounts, gazetteer imports)."""
        from boundaries.audit import CLI_ADDRESS, AuditEntry

        with self.store() as store:
            store.write_audit(AuditEntry(action, user, CLI_ADDRESS, province, outcome=outcome, detail=detail))


def who_option(func):
    """``--user``: who makes the change, for the audit log (default: the login name)."""
    return click.option("--user", "who", default=lambda: getpass.getuser(), show_default="login name",
                        help="Who makes the change (recorded in the audit log).")(func)


pass_context = click.make_pass_decorator(CliContext)


@zh("quhua 区划：检查并存储界线与界桩，维护地名库。",
    db="GeoPackage 文件路径（内嵌默认）或 postgresql:// 地址；也可用 $QUHUA_DB。",
    lang="消息与帮助的语言：中文（zh，默认）或英文（en）；也可用 $QUHUA_LANG。", version="显示版本并退出。")
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", envvar="QUHUA_DB", default="quhua.gpkg", show_default=True,
              help="GeoPackage path (embedded default) or postgresql:// URL; also $QUHUA_DB.")
@click.option("--lang", type=click.Choice(["zh", "en"]), envvar="QUHUA_LANG", default="zh",
              show_default=True, help="Language of messages and help: Chinese (default) or English; also $QUHUA_LANG.")
@click.version_option(package_name="quhua")
@click.pass_context
def cli(ctx: click.Context, db: str, lang: str) -> None:
    """quhua 区划: check and store boundary lines (界线) and markers (界桩), keep the gazetteer (地名)."""
    ctx.obj = CliContext(db=db, lang=lang)


@zh("创建数据库（可重复执行），连同基于 quhua 的已安装软件包的数据表。")
@cli.command()
@pass_context
def init(obj: CliContext) -> None:
    """Create the database (idempotent), with the tables of the installed packages built on quhua."""
    from importlib.metadata import entry_points

    with obj.store() as store:
        store.init()
    for entry in entry_points(group="quhua.init"):
        click.echo(entry.load()(obj.db))
    click.echo(f"database ready: {obj.db}")


def _submission_options(func):
    options = [
        click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option("--province", required=True, metavar="CODE",
                     help="The submitting province's six-digit GB/T 2260 code, e.g. 360000."),
        click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON report on stdout."),
        click.option("--crs", metavar="EPSG:NNNN", help="CRS of files without one (and of x/y tables)."),
        click.option("--encoding", metavar="NAME", help="Attribute encoding, overriding detection."),
        click.option("--field-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="JSON object mapping your field names to the canonical ones."),
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Tolerances and rule settings (TOML); see `quhua config show`."),
        click.option("--user", default=lambda: getpass.getuser(), show_default="login name",
                     help="Who submits (recorded with the submission)."),
        click.option("--issues-out", type=click.Path(dir_okay=False, path_type=Path),
                     help="Also write the issues as a layer (.geojson or .gpkg) to open beside the data."),
        click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
                     help="Language of messages (overrides the global --lang)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


#: Chinese help of the options of ``check`` and ``ingest``.
_SUBMISSION_ZH = {
    "province": "报送省份的六位 GB/T 2260 代码，如 360000。",
    "as_json": "在标准输出上只输出一份 JSON 报告。",
    "crs": "没有坐标系的文件（以及 X/Y 界桩成果表）所用的坐标系。",
    "encoding": "属性编码，优先于自动识别。",
    "field_map": "把你的字段名对应到规范字段名的 JSON 对象文件。",
    "config_file": "容差与规则设置（TOML）；参见 `quhua config show`。",
    "user": "报送人（随提交记录保存）。", "default_user": "登录名",
    "issues_out": "另将问题写成图层（.geojson 或 .gpkg），便于与数据一同打开。",
    "lang": "消息语言（优先于全局 --lang）。",
}


def _head_start() -> None:
    """For ``quhua check`` / ``quhua ingest`` run from the command line (:data:`_own_process`; not with
    ``--scheduler``: Dask starts processes), called by the command as soon as click has parsed it, before
    the heavy imports (pipeline: pandas, geopandas, pyogrio, pyproj): the check's compiled libraries are
    loaded in the background while those modules start up, and the heap grows in large steps
    (:mod:`boundaries._lazy`). Only click's parsing runs before it (this module imports nothing heavy)."""
    from boundaries._lazy import pad_heap, preload_extensions

    pad_heap()
    preload_extensions()


def _run_submission(obj: CliContext, *, store_it: bool, exit_at_once: bool = False, **kw) -> None:
    """Check (or ingest) and print the report. ``exit_at_once``: end the process as soon as it is printed
    (:func:`_exit_now`), with the submission and the rules' context still referenced here, so that nothing
    is freed object by object on the way out."""
    from boundaries import pipeline
    from boundaries.report import render_table, report_json, write_issues

    lang = kw.pop("lang") or obj.lang
    as_json, issues_out = kw.pop("as_json"), kw.pop("issues_out")
    if store_it:
        from boundaries.audit import CLI_ADDRESS, AuditEntry

        result = pipeline.ingest_paths(db=obj.db, lang=lang, audit=AuditEntry("ingest", kw["user"], CLI_ADDRESS),
                                       **kw)
    else:
        kept = [] if exit_at_once else None
        result = pipeline.check_paths(db=obj.db, lang=lang, keep=kept, **kw)
    if issues_out and result.submission is not None:
        write_issues(result.report, issues_out)
    if as_json:
        click.echo(report_json(result.report))
    elif result.submission is None:
        click.echo(f"quhua: {result.report['issues'][0]['message']}", err=True)
    else:
        click.echo(render_table(result.report, lang=lang, stored_as=result.submission_id))
        if result.submission_id is not None:  # the legal date, and where it came from
            legal, given = result.report.get("valid_from"), result.report.get("valid_from_given")
            click.echo((f"in force (legal time) from {legal}" + ("" if given else ", the ingest's day: no "
                                                                  "--valid-from given")) if lang == "en" else
                       f"法定生效日期：{legal}" + ("" if given else "（入库当天；未给出 --valid-from）"))
    if exit_at_once:
        _exit_now(result.exit_code)
    sys.exit(result.exit_code)


#: Chinese help of ``check``'s options for running the rules on a Dask cluster (issue 16).
_SCHEDULER_ZH = {
    "scheduler": "在 Dask 集群上按空间分区运行规则，结果与单进程相同：local 或 local:N（本机 N 个工作进程，默认 2），"
                 "或 dask 调度器地址 tcp://主机:8786。",
    "partition_vertices": "每个分区（含缓冲区）最多的节点数，默认 400000。",
    "worker_memory": "local:N 时每个工作进程的内存上限，如 4GB（默认：本机内存除以 N）。",
}


def _scheduler_options(func):
    options = [
        click.option("--scheduler", metavar="local[:N]|tcp://HOST:PORT",
                     help="Run the rules on a Dask cluster by spatial partitions, with the same report: local or "
                          "local:N (N worker processes here, default 2), or a dask scheduler's address "
                          "tcp://host:8786."),
        click.option("--partition-vertices", type=click.IntRange(min=1000), metavar="N",
                     help="Vertices a partition holds at most, its halo included (default 400000)."),
        click.option("--worker-memory", metavar="SIZE",
                     help="Memory limit of each local:N worker, e.g. 4GB (default: the machine's memory / N)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@zh("按数据库现有内容校验一份提交，不存储任何内容。\n\nPATHS：.shp（其附属文件在旁）、含 shapefile 的 .zip、"
    ".gpkg、.geojson，或界桩成果表 .csv/.xlsx。", **_SUBMISSION_ZH, **_SCHEDULER_ZH)
@cli.command()
@_submission_options
@_scheduler_options
@pass_context
def check(obj: CliContext, **kw) -> None:
    """Validate a submission against what the database holds; store nothing.

    PATHS: .shp (sidecars beside it), .zip of shapefiles, .gpkg, .geojson, or a marker table .csv/.xlsx.
    """
    kw.pop("user")
    # From the command line and without --scheduler (Dask has its own shutdown), the check writes nothing
    # but its output, and its process ends when the report is out (_exit_now). Python's cyclic garbage
    # collector is then off for the rest of the process: reading, the rules and the report allocate millions
    # of small objects (frames' values, per-feature dicts, issues) with hardly a reference cycle among them,
    # so every pass of the collector rescans them for nothing (the rules pause it themselves; this covers the
    # reading and the report too). Memory is still freed by reference counting. Not in a caller's process
    # (tests, main(argv)), whose collector is left as it is.
    exit_at_once = _own_process and kw.get("scheduler") is None
    if exit_at_once:
        _head_start()
        gc.disable()
    _run_submission(obj, store_it=False, exit_at_once=exit_at_once, **kw)


@zh("校验一份提交，无错误时存入数据库（一个事务）。\n\nPATHS：同 check。", **_SUBMISSION_ZH,
    valid_from="法定生效日期 YYYY-MM-DD（协议书或联检确认的日期）：其界线与界桩自该日起有效，被取代的版本至该日"
               "失效；默认为入库当天（UTC）。")
@cli.command()
@_submission_options
@click.option("--valid-from", metavar="YYYY-MM-DD",
              help="The legal date (the agreement's, 协议书, or the confirmed round's) from which its lines and "
                   "markers hold, and on which those they supersede cease to; default: the ingest's day (UTC).")
@pass_context
def ingest(obj: CliContext, **kw) -> None:
    """Validate a submission and store it if it has no error (one transaction)."""
    if _own_process:
        _head_start()
    _run_submission(obj, store_it=True, **kw)


class _LayerChoice(click.Choice):
    """The layers ``export`` writes: the store's LAYERS (not imported here: it loads geopandas) and those of the
    ``quhua.layers`` entry points, looked up when first needed (parsing or help of ``export``) rather than
    when this module is imported: every command paid for reading the installed packages' entry points."""

    def __init__(self):
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        if self._choices is None:
            from importlib.metadata import entry_points

            self._choices = ("lines", "markers", "issues", "submissions",
                             *dict.fromkeys(e.name for e in entry_points(group="quhua.layers")))
        return self._choices

    @choices.setter
    def choices(self, value) -> None:  # click.Choice.__init__ sets it: left to the lookup above
        self._choices = None


@zh("把一个图层导出为 GeoJSON（RFC 7946）、GeoPackage、CSV（WKT）或 shapefile（UTF-8）。",
    province="只导出与该省有关的要素。", bbox="只导出与该范围（度）相交的要素。",
    fmt="输出格式（默认按文件名判断，否则为 geojson）。", history="包括已被取代的界线与界桩。",
    at="按法定时间导出该日（YYYY-MM-DD）有效的界线与界桩版本，无论其后是否已被取代。",
    output="输出文件。")
@cli.command()
@click.argument("layer", type=_LayerChoice())
@click.option("--province", metavar="CODE", help="Only what concerns this province.")
@click.option("--bbox", metavar="W,S,E,N", help="Only features intersecting this box (degrees).")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "csv", "shp"]),
              help="Output format (default: from the file name, else geojson).")
@click.option("--history", is_flag=True, help="Include superseded lines and markers.")
@click.option("--at", metavar="YYYY-MM-DD",
              help="Lines and markers as of that day in legal time: the versions in force then, superseded "
                   "since or not.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The output file.")
@pass_context
def export(obj: CliContext, layer, province, bbox, fmt, history, at, output) -> None:
    """Export a layer as GeoJSON (RFC 7946), GeoPackage, CSV (WKT) or shapefile (UTF-8)."""
    from boundaries.export import export_layer, parse_bbox
    from boundaries.legaltime import legal_date

    day = legal_date(at, what="--at") if at else None  # a bad date before anything is read or written
    with obj.store() as store:
        count = export_layer(store, layer, output, fmt=fmt, province=province,
                             bbox=parse_bbox(bbox) if bbox else None, history=history, at=day)
    click.echo(f"{count} {layer} → {output}", err=True)


@zh("载入随附的全国演示数据（各省的提交，然后是行政区划与地名）。", user="记为报送人。")
@cli.command()
@click.option("--user", default="demo", show_default=True, help="Recorded as the submitter.")
@pass_context
def demo(obj: CliContext, user: str) -> None:
    """Load the bundled national demo (every province's submission, then divisions and names)."""
    from importlib.metadata import entry_points

    from boundaries.demo import load_demo

    _require_extra("demo")
    for line in load_demo(obj.db, user=user):
        click.echo(line)
    for entry in entry_points(group="quhua.demo"):
        click.echo(entry.load()(obj.db))


def _require_extra(extra: str) -> None:
    """Refuse (exit 2, before anything is written) when a package of quhua's ``extra`` cannot be imported."""
    import importlib
    import re
    from importlib.metadata import packages_distributions, requires

    from boundaries.errors import InputError

    def norm(name: str) -> str:
        return name.lower().replace("_", "-")

    wanted = {norm(re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0]) for r in requires("quhua") or ()
              if f'extra == "{extra}"' in r}
    provided = packages_distributions()
    for dist in sorted(wanted):
        # an uninstalled distribution provides no module: try its own name, which then fails
        name = next((m for m, d in provided.items() if dist in map(norm, d)), dist.replace("-", "_"))
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise InputError(
                f"quhua {extra} needs the package {name!r}, which is not installed: pip install 'quhua[{extra}]' "
                "(scripts/install.sh installs it)",
                message_zh=f"quhua {extra} 需要未安装的软件包 {name!r}：请执行 pip install 'quhua[{extra}]'"
                           "（scripts/install.sh 会安装它）") from err


@zh("容差与规则设置。")
@cli.group()
def config() -> None:
    """Tolerances and rule settings."""


@zh("以 TOML 打印生效的配置：数据库为该省（或全部省份）保存的配置，否则为默认值；给出 --config 时为该文件"
    "合并到默认值之上的结果。校验与浏览器上传使用同一配置。",
    config_file="显示 FILE 合并到默认值之上的结果，而不是数据库中保存的配置。",
    province="该省生效的配置（默认：适用于全部省份的配置）。")
@config.command("show")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Show FILE merged over the defaults instead of what the database holds.")
@click.option("--province", metavar="CODE", help="The configuration in force for this province (default: "
              "the one for all provinces).")
@pass_context
def config_show(obj: CliContext, config_file, province) -> None:
    """Print the configuration in force as TOML: the one the database holds for the province (or for all
    provinces), else the defaults; with --config, FILE merged over the defaults. Checks and browser
    uploads use the same."""
    from boundaries.pipeline import config_in_force
    from boundaries.readers import check_province
    from boundaries.store import ALL_PROVINCES

    code = check_province(province) if province else ALL_PROVINCES
    with obj.store() as store:
        click.echo(config_in_force(store, code, config_file).to_toml())


@zh("把 FILE（经校验；TOML 格式同 `quhua config show` 的输出）作为生效配置存入数据库，适用于一个省或全部"
    "省份；此后 `check`、`ingest` 与浏览器上传都使用它。",
    province="只适用于该省（默认：全部省份）。", user="记为设置人。", default_user="登录名")
@config.command("set")
@click.argument("config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--province", metavar="CODE", help="Only for this province (default: for all provinces).")
@click.option("--user", default=lambda: getpass.getuser(), show_default="login name", help="Recorded as who set it.")
@pass_context
def config_set(obj: CliContext, config_file, province, user) -> None:
    """Store FILE (validated; TOML as `quhua config show` prints it) in the database as the configuration
    in force, for one province or for all; `check`, `ingest` and browser uploads then use it."""
    from boundaries.config import load_config
    from boundaries.readers import check_province
    from boundaries.store import ALL_PROVINCES

    code = check_province(province) if province else ALL_PROVINCES
    text = load_config(config_file).to_toml()  # validated and complete: later defaults cannot shift it
    from boundaries.audit import CLI_ADDRESS, AuditEntry

    with obj.store() as store:
        store.write_config(code, text, user=user, audit=AuditEntry("config set", user, CLI_ADDRESS,
                                                                   detail={"file": Path(config_file).name}))
    everywhere = code == ALL_PROVINCES
    click.echo(f"{config_file} stored in {obj.db} for {'all provinces' if everywhere else code}" if obj.lang == "en"
               else f"已将 {config_file} 存入 {obj.db}，适用于{'全部省份' if everywhere else code}")


@zh("一个省的界线与界桩在两个法定日期之间的变化：新增、丢失或撤除、移位（在界桩所在的高斯-克吕格投影带中以米计）"
    "的界桩，新增、撤除与变化的界线（按邻省比对规则 line.neighbor_mismatch 找出的变化段及其偏差）。"
    "两次已入库的提交之间：用 --from-submission/--to-submission（取其法定生效日期）。",
    province="省份的六位代码（与省页面的范围相同：两侧之一在该省的界线，及其上的界桩）。",
    date_from="较早的日期 YYYY-MM-DD：此日有效的版本。", date_to="较晚的日期 YYYY-MM-DD：此日有效的版本。",
    from_submission="以该已入库提交的法定生效日期作为 --from。",
    to_submission="以该已入库提交的法定生效日期作为 --to。",
    tolerance="界线偏差超过此值（米）的段视为变化（默认：该省 line.neighbor_mismatch 的限值，5 m）。",
    output="写入文件：.json、.xlsx（界桩成果表等）或 .pdf（可签字的打印件）。", as_json="在标准输出上输出 JSON 报告。")
@cli.command()
@click.option("--province", required=True, metavar="CODE",
              help="The province's six-digit code (the province page's selection: lines with a side in it and "
                   "their markers).")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="The earlier date: the versions in force then.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="The later date: the versions in force then.")
@click.option("--from-submission", type=int, metavar="ID", help="--from as the legal date of this stored submission.")
@click.option("--to-submission", type=int, metavar="ID", help="--to as the legal date of this stored submission.")
@click.option("--tolerance", type=click.FloatRange(0, min_open=True), metavar="METRES",
              help="Stretches of lines deviating more than this have changed (default: the province's "
                   "line.neighbor_mismatch tolerance, 5 m).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to a file: .json, .xlsx (the 界桩成果表 and the lines) or .pdf (to sign).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@pass_context
def changes(obj: CliContext, province, date_from, date_to, from_submission, to_submission, tolerance, output,
            as_json) -> None:
    """What changed in a province's boundary between two legal dates: markers added, lost or removed, moved
    (metres in the marker's Gauss-Krüger zone), lines added, removed and changed (the stretches and their
    deviation, as line.neighbor_mismatch finds them). Between two stored submissions: --from-submission and
    --to-submission (their legal dates)."""
    from boundaries import changes as report_of
    from boundaries.errors import InputError
    from boundaries.legaltime import legal_date
    from boundaries.readers import check_province

    code = check_province(province)
    if output is not None and output.suffix.lower() not in (".json", ".xlsx", ".pdf"):
        raise InputError(f"-o {output}: write the report as .json, .xlsx or .pdf",
                         message_zh=f"-o {output}：报告只能写成 .json、.xlsx 或 .pdf")
    days = [legal_date(d, what=w) if d else None for d, w in ((date_from, "--from"), (date_to, "--to"))]
    with obj.store() as store:
        for i, sid in enumerate((from_submission, to_submission)):
            if sid is not None:
                days[i] = report_of.submission_date(store, sid)
        if None in days:
            raise InputError("give --from and --to (dates) or --from-submission and --to-submission",
                             message_zh="请给出 --from 与 --to（日期），或 --from-submission 与 --to-submission")
        report = report_of.change_report(store, code, *days, tolerance_m=tolerance)
        maps = report_of.changed_lines(store, report) if output is not None and output.suffix.lower() == ".pdf" \
            else (None, None)
    if output is not None:
        suffix = output.suffix.lower()
        if suffix == ".json":
            report_of.write_json(report, output)
        elif suffix == ".xlsx":
            report_of.write_xlsx(report, output, lang=obj.lang)
        else:
            from boundaries.changes_pdf import write_pdf

            write_pdf(report, output, lang=obj.lang, lines_before=maps[0], lines_after=maps[1])
        click.echo(f"→ {output}", err=True)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        click.echo(report_of.render_text(report, obj.lang))


@zh("审计日志，最新的在前：每一次写入（入库、网页确认、配置、地名导入、账户、登录失败）及其执行人、时间（UTC）、"
    "内容、来源与结果。",
    province="只看与该省有关的写入。", who="只看该用户的写入。",
    action="只看这一类写入：ingest、confirm、config set、names import、divisions import、user add、user remove、"
           "login failure、login refused。",
    limit="每页行数。", offset="跳过的行数（最新的在前）。", as_json="以一份 JSON 文档输出该页。")
@cli.command()
@click.option("--province", metavar="CODE", help="Only writes concerning this province.")
@click.option("--user", "who", metavar="NAME", help="Only writes by this user.")
@click.option("--action", help="Only this kind of write: ingest, confirm, config set, names import, divisions import, "
              "user add, user remove, login failure, login refused.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Rows per page.")
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0), help="Rows to skip (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print the page as one JSON document.")
@pass_context
def audit(obj: CliContext, province, who, action, limit, offset, as_json) -> None:
    """The audit log, newest first: every write (ingest, web confirm, configuration, gazetteer import,
    accounts, failed logins) with who, when (UTC), what, from where and its outcome."""
    from boundaries.audit import action_label, outcome_label
    from boundaries.readers import check_province

    code = check_province(province) if province else None
    with obj.store() as store:
        page = store.read_audit(province=code, user=who, action=action, limit=limit, offset=offset)
    if as_json:
        click.echo(json.dumps({"total": page.total, "limit": limit, "offset": offset, "rows": page.rows},
                              ensure_ascii=False, indent=1))
        return
    for row in page.rows:
        detail = ", ".join(f"{k}={v}" for k, v in row["detail"].items())
        click.echo("\t".join(str(v) if v is not None else "–" for v in (
            row["created_at"], row["user"], action_label(row["action"], obj.lang), row["province"],
            row["submission_id"], row["address"], outcome_label(row["outcome"], obj.lang), detail)))
    shown = f"{offset + 1}–{offset + len(page.rows)}" if page.rows else "0"
    click.echo(f"{shown} of {page.total}" if obj.lang == "en" else f"第 {shown} 条，共 {page.total} 条", err=True)


def _not_yet(name: str, issue: str, issue_zh: str) -> click.Command:
    @zh(f"本版本尚未提供（{issue_zh}）。")
    @click.command(name=name, context_settings={"ignore_unknown_options": True},
                   help=f"Not yet available ({issue}).")
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def placeholder(args):
        raise QuhuaError(f"`quhua {name}` is not yet available in this version ({issue})",
                         message_zh=f"本版本尚未提供 `quhua {name}`（{issue_zh}）")

    return placeholder


def _add_plugins() -> None:
    from importlib.metadata import entry_points

    from boundaries.inspection_cli import inspect  # joint inspection rounds (issue 15)

    cli.add_command(inspect, "inspect")
    for entry in entry_points(group="quhua.commands"):
        cli.add_command(entry.load(), entry.name)
    for name, issue, issue_zh in (("names", "the gazetteer", "地名库"), ("divisions", "the gazetteer", "地名库"),
                                  ("serve", "the map viewer", "地图浏览器")):
        if name not in cli.commands:
            cli.add_command(_not_yet(name, issue, issue_zh))


def _fail(message: str, code: int, rule: str, as_json: bool, message_en: str | None = None,
          lang: str = "zh") -> int:
    if as_json:
        from boundaries.model import Issue
        from boundaries.report import error_report

        issue = Issue(rule, "error", "dataset", None, None, None, message, message_en)
        click.echo(json.dumps(error_report(None, issue, lang), ensure_ascii=False, indent=1))
    else:
        click.echo(f"quhua: {message}", err=True)
    return code


#: click's usage errors in Chinese (its messages are English only): pattern → replacement.
_CLICK_ERRORS_ZH = ((r"^Missing argument (.+)\.$", r"缺少参数 \1。"), (r"^Missing option (.+)\.$", r"缺少选项 \1。"),
                    (r"^No such option:? (.+?)\.?$", r"没有选项 \1。"), (r"^No such command (.+)\.$", r"没有命令 \1。"),
                    (r"^Invalid value for (.+?): (.+)$", r"\1 的值无效：\2"),
                    (r"^Got unexpected extra arguments? \((.+)\)$", r"多余的参数（\1）"))


def _show_error(err: click.ClickException, lang: str) -> None:
    """A usage error on stderr as click shows it, in Chinese unless ``lang`` is en: the usage line, the
    hint to the help, the message (click's own phrases translated; values and option names as typed)."""
    no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", ())  # `quhua` alone: the help page itself
    if lang == "en" or isinstance(err, no_args_help):
        err.show()
        return
    import re

    message = err.format_message()
    for pattern, chinese in _CLICK_ERRORS_ZH:
        message = re.sub(pattern, chinese, message)
    ctx = getattr(err, "ctx", None)
    if ctx is not None:
        click.echo(ctx.get_usage(), err=True)
        names = ctx.help_option_names
        click.echo(f"请用 '{ctx.command_path} {'--help' if '--help' in names else names[0]}' 查看帮助。\n", err=True)
    click.echo(f"错误：{message}", err=True)


def _lang(argv: list[str]) -> str:
    """The language of messages a command line asked for (``--lang``, else ``QUHUA_LANG``, else zh)."""
    import os

    lang = os.environ.get("QUHUA_LANG", "zh")
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            lang = argv[i + 1]
        elif arg.startswith("--lang="):
            lang = arg.split("=", 1)[1]
    return "en" if lang == "en" else "zh"


#: Set by :func:`main` run with the process's own command line (the console script), not by callers.
_own_process = False


def _exit_now(code: int) -> None:
    """End the process at once after a read-only ``quhua check`` run from the command line, when its report
    is out (:func:`_run_submission`'s ``exit_at_once``): its output flushed, nothing else to keep. Freeing
    the submission, the rules' indexes and the report one object at a time on the way out took 0.1–0.2 s of
    a county check (2 M vertices), for nothing. Safe there because every file and the database were closed
    by their ``with`` blocks when the check returned, the check wrote nothing but its output (and the
    --issues-out file, closed by its writer), and a zip's temporary folder is removed by the reader itself;
    not used for the other commands (they write) nor with --scheduler (Dask's own shutdown), nor when
    :func:`main` is called with arguments (tests, other programs: the caller's process goes on). A check
    that fails (a bad file, a bad option) ends the usual way. If the output cannot be flushed (a closed
    pipe), it returns and the normal exit reports it as Python does."""
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code. Run with the process's own command line
    (``argv`` None), a read-only check ends the process when its report is out (:func:`_exit_now`)."""
    global _own_process
    _own_process = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if _own_process and _command_named(argv) != "serve":
        _small_pages()
    return _main(argv)


def _small_pages() -> None:
    """Have numpy leave its arrays in ordinary 4 KB pages in a command that runs once and ends (set before
    numpy is imported; a value the user set is kept).

    numpy asks the kernel for transparent huge pages (``madvise``) for every array of 4 MB or more. Where the
    kernel gives them only on request (``/sys/kernel/mm/transparent_hugepage/enabled`` is ``madvise``, as on
    this machine), each first touch then zeroes 2 MB at once, and a process that makes its arrays once and
    ends pays for it in system time without living long enough to gain from fewer TLB misses: the county
    network's ``quhua check`` 1.725 → 1.573 s (12 interleaved rounds, system time 0.49 → 0.40 s); the 20 k-
    and 182 k-line grids unchanged (1.00× and 0.99×, 6 rounds). Where the kernel gives huge pages always or
    never, numpy's request changes nothing, and neither does this. Not for ``quhua serve``, which lives on
    (not measured)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


#: The commands defined in this module (before :func:`_add_plugins`).
_CORE_COMMANDS = frozenset(cli.commands)


def _main(argv: list[str]) -> int:
    as_json = "--json" in argv
    if _command_named(argv) not in _CORE_COMMANDS:
        # the other packages' commands only when one of them (or the list of all) may be asked for: loading
        # them and reading the installed packages' entry points cost `quhua check` 0.013 s of CPU
        _add_plugins()
    localise(cli, _lang(argv))
    try:
        cli.main(args=argv, prog_name="quhua", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        return _fail("aborted", EXIT_UNUSABLE, "dataset.aborted", as_json)
    except click.ClickException as err:
        if not as_json:
            _show_error(err, _lang(argv))
            return EXIT_UNUSABLE
        return _fail(err.format_message(), EXIT_UNUSABLE, "dataset.arguments", as_json)
    except QuhuaError as err:
        lang = _lang(argv)
        return _fail(err.text(lang), err.exit_code, err.rule, as_json, err.message, lang)
    except SystemExit as done:
        return int(done.code or 0)
    except (OSError, ValueError) as err:  # e.g. an unwritable output path
        return _fail(str(err), EXIT_UNUSABLE, ConfigError.rule, as_json)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
