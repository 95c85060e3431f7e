"""The audit log (审计日志): one row per write to the database — who, when (UTC), what, from where, with what
outcome — that officials read (``quhua audit``, the viewer's ``/audit``).

Rows live in the store's ``audit`` table (:data:`boundaries.store.SCHEMA`). A write records itself in its own
transaction where the store does the write: an ingest (:meth:`~boundaries.store.Store.ingest` with
``audit=``), a configuration (:meth:`~boundaries.store.Store.write_config`); the others (account changes,
gazetteer imports, failed logins) call :meth:`~boundaries.store.Store.write_audit` right after. The address
is the client's IP address for the viewer and ``cli`` for the command line. This module knows no web
framework: the viewer fills :class:`AuditEntry` from its request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["ACTIONS", "CLI_ADDRESS", "OUTCOMES", "AuditEntry", "AuditPage", "action_label", "outcome_label"]

CLI_ADDRESS = "cli"

#: action → (Chinese, English): every kind of write the log records.
ACTIONS: dict[str, tuple[str, str]] = {
    "ingest": ("命令行入库", "ingest (command line)"),
    "confirm": ("网页确认入库", "confirm upload (web)"),
    "config set": ("设置质检配置", "set QA configuration"),
    "revise": ("修订法定版本", "revise legal versions"),
    "names import": ("导入地名", "import names"),
    "divisions import": ("导入区划", "import divisions"),
    "user add": ("添加账户", "add account"),
    "user remove": ("删除账户", "remove account"),
    "login failure": ("登录失败", "failed login"),
    "login refused": ("登录被拒（失败次数过多）", "login refused (too many failures)"),
    # joint inspection rounds (boundaries.inspection)
    "inspect new": ("新建联检轮次", "plan inspection round"),
    "inspect findings": ("录入联检界桩状况", "record inspection findings"),
    "inspect submit": ("提交联检结果", "submit inspection round"),
    "inspect confirm": ("确认联检结果", "confirm inspection round"),
    "inspect file": ("联检备案", "file inspection round"),
    "inspect photo": ("上传联检照片", "add inspection photo"),
}
#: outcome → (Chinese, English)
OUTCOMES: dict[str, tuple[str, str]] = {
    "ok": ("成功", "done"), "stored": ("已入库", "stored"), "rejected": ("有错误，未入库", "errors, not stored"),
    "failed": ("失败", "failed"), "refused": ("拒绝", "refused"), "not found": ("不存在", "not found"),
}


def bilingual_label(table: dict[str, tuple[str, str]], code: str, lang: str = "zh") -> str:
    """``code``'s name in ``lang`` from a table of code → (Chinese, English); the code itself when unknown."""
    zh, en = table.get(code, (code, code))
    return zh if lang == "zh" else en


def action_label(action: str, lang: str = "zh") -> str:
    """An action's name in ``lang`` (the action itself when unknown)."""
    return bilingual_label(ACTIONS, action, lang)


def outcome_label(outcome: str, lang: str = "zh") -> str:
    """An outcome's name in ``lang``."""
    return bilingual_label(OUTCOMES, outcome, lang)


@dataclass
class AuditEntry:
    """One write: ``action`` (a key of :data:`ACTIONS`), by ``user`` from ``address``; ``province`` and
    ``submission_id`` when it concerns them; ``outcome`` (a key of :data:`OUTCOMES`); ``detail`` (a small
    JSON object: files, counts, the account changed …)."""

    action: str
    user: str
    address: str = CLI_ADDRESS
    province: str | None = None
    submission_id: int | None = None
    outcome: str = "ok"
    detail: dict = field(default_factory=dict)

    def row(self) -> dict:
        """The columns of the ``audit`` table but ``created_at``."""
        return {"user": self.user, "action": self.action, "province": self.province,
                "submission_id": self.submission_id, "address": self.address, "outcome": self.outcome,
                "detail": json.dumps(self.detail, ensure_ascii=False) if self.detail else None}


@dataclass
class AuditPage:
    """A page of the log, newest first: ``rows`` (dicts of the table's columns, ``fid`` and ``detail``
    parsed), how many rows match in all (``total``), and the page asked for."""

    rows: list[dict]
    total: int
    limit: int
    offset: int
