"""Tolerances and rule settings in one place (``--config FILE``, ``quhua config show``).

The defaults come from the rule registry (:mod:`boundaries.rules`); a TOML file overrides them::

    [markers]
    id_pattern = '^(?P<line>\\d{4})(?P<seq>\\d{3})(?P<letter>[QABCDE])$'

    [rules."marker.off_line"]
    single_m = 5.0
    severity = "error"
    enabled = true

The file is validated on load: an unknown rule, parameter or severity is an error naming what is allowed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from boundaries.errors import ConfigError

__all__ = ["DEFAULT_MARKER_ID_PATTERN", "Config", "load_config", "parse_config"]

#: GB/T 17796 style: line code (4 digits) + sequence (3 digits) + type letter (SPEC §4).
DEFAULT_MARKER_ID_PATTERN = r"^(?P<line>\d{4})(?P<seq>\d{3})(?P<letter>[QABCDE])$"
_SEVERITIES = ("error", "warning")


@dataclass
class Config:
    """Effective settings: per-rule severity, enabled flag and parameters; global marker settings."""

    rules: dict[str, dict] = field(default_factory=dict)
    marker_id_pattern: str = DEFAULT_MARKER_ID_PATTERN
    source: str = "defaults"

    def severity(self, rule_id: str) -> str:
        return self.rules[rule_id]["severity"]

    def enabled(self, rule_id: str) -> bool:
        return self.rules[rule_id]["enabled"]

    def params(self, rule_id: str) -> dict:
        return {k: v for k, v in self.rules[rule_id].items() if k not in ("severity", "enabled")}

    def settings(self) -> dict:
        return {"marker_id_pattern": self.marker_id_pattern}

    def to_toml(self) -> str:
        """The effective configuration as a TOML file that ``--config`` reads back."""
        from boundaries.rules import REGISTRY

        lines = [f"# quhua configuration ({self.source}); distances in metres, angles in degrees", "",
                 "[markers]", f"id_pattern = '{self.marker_id_pattern}'", ""]
        for rule_id, values in self.rules.items():
            lines.append(f"# {REGISTRY[rule_id].description_en}")
            lines.append(f'[rules."{rule_id}"]')
            for key, value in values.items():
                text = str(value).lower() if isinstance(value, bool) else (
                    f'"{value}"' if isinstance(value, str) else repr(value))
                lines.append(f"{key} = {text}")
            lines.append("")
        return "\n".join(lines)


def _defaults() -> dict[str, dict]:
    from boundaries.rules import REGISTRY

    return {r.id: {"severity": r.severity, "enabled": True, **r.params} for r in REGISTRY.values()}


def load_config(path: Path | str | None = None) -> Config:
    """Defaults, with the TOML file at ``path`` merged over them and validated."""
    if path is None:
        return Config(rules=_defaults())
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"--config {path}: not a readable TOML file ({err}); "
                          "start from the output of `quhua config show`", file=path.name,
                          message_zh=f"--config {path}：无法读取的 TOML 文件（{err}）；请以 `quhua config show` "
                                     "的输出为底稿修改") from err
    return parse_config(text, source=str(path), where=f"--config {path}")


def parse_config(text: str, *, source: str, where: str) -> Config:
    """Defaults with the TOML ``text`` merged over them and validated; ``source`` names the configuration
    in reports, ``where`` begins every error message (e.g. ``--config FILE``)."""
    config = Config(rules=_defaults(), source=source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not a readable TOML file ({err}); "
                          "start from the output of `quhua config show`",
                          message_zh=f"{where}：无法读取的 TOML 文件（{err}）；请以 `quhua config show` "
                                     "的输出为底稿修改") from err
    unknown_sections = set(data) - {"markers", "rules"}
    if unknown_sections:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown_sections))}; "
                          "allowed: [markers], [rules.\"RULE\"]",
                          message_zh=f"{where}：未知的节 {'、'.join(sorted(unknown_sections))}；"
                                     "只允许 [markers] 和 [rules.\"规则\"]")
    pattern = data.get("markers", {}).get("id_pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigError(f"{where}: markers.id_pattern is not a regular expression ({err})",
                              message_zh=f"{where}：markers.id_pattern 不是有效的正则表达式（{err}）"
                              ) from err
        config.marker_id_pattern = pattern
    for rule_id, values in data.get("rules", {}).items():
        _merge_rule(config, where, rule_id, values)
    return config


def _merge_rule(config: Config, where: str, rule_id: str, values: dict) -> None:
    if rule_id not in config.rules:
        raise ConfigError(f"{where}: unknown rule {rule_id!r}; the rules are "
                          f"{', '.join(config.rules)}",
                          message_zh=f"{where}：未知规则 {rule_id!r}；现有规则为 {'、'.join(config.rules)}")
    current = config.rules[rule_id]
    for key, value in values.items():
        if key not in current:
            raise ConfigError(f"{where}: rule {rule_id} has no setting {key!r}; its settings are "
                              f"{', '.join(current)}",
                              message_zh=f"{where}：规则 {rule_id} 没有设置项 {key!r}；其设置项为 "
                                         f"{'、'.join(current)}")
        if key == "severity" and value not in _SEVERITIES:
            raise ConfigError(f"{where}: {rule_id}.severity must be error or warning, not {value!r}",
                              message_zh=f"{where}：{rule_id}.severity 只能是 error 或 warning，"
                                         f"不能是 {value!r}")
        expected = type(current[key])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise ConfigError(f"{where}: {rule_id}.{key} must be a {expected.__name__}, "
                              f"not {value!r}",
                              message_zh=f"{where}：{rule_id}.{key} 应为 {expected.__name__} 类型，"
                                         f"不能是 {value!r}")
        if expected is float and value < 0:
            raise ConfigError(f"{where}: {rule_id}.{key} must not be negative ({value})",
                              message_zh=f"{where}：{rule_id}.{key} 不能为负数（{value}）")
        current[key] = value
