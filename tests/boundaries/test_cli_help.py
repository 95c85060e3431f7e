"""``quhua --help`` and every subcommand's help: Chinese by default, English with ``--lang en`` or
``QUHUA_LANG=en``; and the commands that need no geometry start without the heavy libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest

from boundaries.cli import _add_plugins, chinese_help, cli, localise
from tests.conftest import run_cli


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _flat(text: str) -> str:
    """Without whitespace: click re-wraps help texts to the terminal's width."""
    return "".join(text.split())


_add_plugins()
COMMANDS = [((), cli), *_commands(cli)]


def _helps(command: click.Command, lang: str) -> list[str]:
    """The command's help and its options' help in ``lang``, as :func:`localise` sets them."""
    localise(command, lang)
    texts = [command.help] + [p.help for p in command.params if isinstance(p, click.Option) and p.help]
    localise(command, "zh")
    return texts


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "quhua" for p, _ in COMMANDS])
def test_every_help_text_has_its_chinese(path, command):
    chinese, params = chinese_help(command)
    assert chinese, f"quhua {' '.join(path)} has no Chinese help (boundaries.cli.zh)"
    options = {p.name for p in command.params if isinstance(p, click.Option) and p.help}
    assert options <= set(params), f"options without Chinese help: {sorted(options - set(params))}"


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "quhua" for p, _ in COMMANDS])
def test_help_is_chinese_by_default_and_english_with_lang_en(capsys, path, command):
    english, chinese = _helps(command, "en"), _helps(command, "zh")
    code, out = run_cli(capsys, *path, "--help")
    assert code == 0
    assert out.startswith(f"用法：quhua {' '.join(path)}".rstrip()) and "选项：" in out and "显示本帮助并退出" in out
    for text in chinese:
        assert _flat(text) in _flat(out)
    for text in english:
        assert _flat(text)[:40] not in _flat(out)
    code, out = run_cli(capsys, "--lang", "en", *path, "--help")
    assert code == 0 and out.startswith("Usage: quhua") and "Show this message and exit." in out
    for text in english:
        assert _flat(text) in _flat(out)
    assert "用法" not in out and _flat(chinese[0])[:20] not in _flat(out)


@pytest.mark.parametrize("lang,expected", [
    ("zh", ["用法：quhua check [OPTIONS] PATHS...", "请用 'quhua check --help' 查看帮助。",
            "错误：缺少参数 'PATHS...'。"]),
    ("en", ["Usage: quhua check [OPTIONS] PATHS...", "Try 'quhua check --help' for help.",
            "Error: Missing argument 'PATHS...'."]),
])
def test_usage_errors_in_the_language_asked_for(capsys, lang, expected):
    from boundaries.cli import main

    assert main(["--lang", lang, "check"]) == 2
    err = capsys.readouterr().err
    for line in expected:
        assert line in err


def test_quhua_alone_shows_the_help(capsys):
    from boundaries.cli import main

    main([])
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert text.startswith("用法：quhua") and "命令：" in text and "\n错误：" not in text


def test_quhua_lang_in_the_environment_gives_english_help(monkeypatch, capsys):
    monkeypatch.setenv("QUHUA_LANG", "en")
    code, out = run_cli(capsys, "check", "--help")
    assert code == 0 and out.startswith("Usage: quhua check") and "The submitting province's" in out


_PROBE = """
import json, sys
from boundaries.cli import main
code = main(sys.argv[1:])
heavy = ("geopandas.geodataframe", "pandas.core.frame", "flask.app", "pyogrio.raw", "folium")
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}), file=sys.stderr)
"""


def _loaded(*args: str, cwd) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, cwd=cwd,
                          env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}, timeout=120)
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


def test_help_and_name_search_start_without_geopandas_pandas_or_flask(tmp_path, capsys):
    found, out = _loaded("--help", cwd=tmp_path)
    assert found == {"code": 0, "loaded": []} and "用法：quhua" in out
    db = tmp_path / "names.gpkg"
    names = tmp_path / "names.csv"
    names.write_text("id,name,class,lon,lat,code\n1,赣州市,行政区域,114.93,25.83,360700\n", encoding="utf-8")
    assert run_cli(capsys, "--db", db, "names", "import", names)[0] == 0
    for query in ("赣州", "ganzhou", "gz"):
        found, out = _loaded("--db", str(db), "names", "search", query, cwd=tmp_path)
        assert found == {"code": 0, "loaded": []}, query
        assert "赣州市" in out and "Ganzhou Shi" in out
