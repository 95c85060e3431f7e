"""Chinese first, English too: every fatal error of the core carries a Chinese message beside the English.

The behavioural tests (``test_cli``, ``tests/webmap/test_upload``) show it on real files; this guard finds
a ``raise InputError/ConfigError/StoreError/QuhuaError(...)`` (or the gazetteer's PlacenamesError,
UnknownNameError) written without ``message_zh``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from boundaries.errors import ConfigError, InputError, QuhuaError, StoreError

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {"InputError", "ConfigError", "StoreError", "QuhuaError", "PlacenamesError", "UnknownNameError"}


def _raise_sites() -> list[tuple[str, int, ast.Call]]:
    sites = []
    for folder in ("boundaries", "webmap", "placenames"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                        and isinstance(node.exc.func, ast.Name) and node.exc.func.id in ERRORS):
                    sites.append((str(path.relative_to(ROOT)), node.lineno, node.exc))
    return sites


SITES = _raise_sites()


def test_the_scan_finds_the_raise_sites():
    assert len(SITES) >= 55
    assert {site[0] for site in SITES} >= {"boundaries/readers.py", "boundaries/config.py", "webmap/users.py",
                                          "placenames/importers.py", "placenames/cli.py"}


@pytest.mark.parametrize("call", [s[2] for s in SITES], ids=[f"{s[0]}:{s[1]}" for s in SITES])
def test_every_fatal_error_has_a_chinese_message(call):
    keywords = {k.arg: k.value for k in call.keywords}
    assert "message_zh" in keywords, "add message_zh=… (the Chinese message) beside the English one"
    value = keywords["message_zh"]
    text = ast.unparse(value)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), f"message_zh has no Chinese: {text}"


@pytest.mark.parametrize("cls", [InputError, ConfigError, StoreError, QuhuaError])
def test_text_gives_the_requested_language(cls):
    err = cls("x.shp: no coordinate system", message_zh="x.shp：没有坐标系")
    assert (err.text("zh"), err.text("en"), err.text(), str(err)) == (
        "x.shp：没有坐标系", "x.shp: no coordinate system", "x.shp：没有坐标系", "x.shp: no coordinate system")
    assert cls("only English").text("zh") == "only English"
