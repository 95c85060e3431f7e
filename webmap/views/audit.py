"""``/audit`` (officials only): the audit log — every write, who, when (UTC), what, from where, outcome —
filtered by province, user and action, 50 rows a page, newest first. The rows are written by the core
(:mod:`boundaries.audit`) and by :mod:`webmap.auth` (failed logins)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from boundaries.audit import ACTIONS, action_label, outcome_label
from boundaries.readers import PROVINCES
from webmap.auth import requires
from webmap.db import get_store
from webmap.errors import WebError
from webmap.i18n import MESSAGES, current_lang

__all__ = ["PAGE_SIZE", "bp"]

bp = Blueprint("audit", __name__)
PAGE_SIZE = 50

MESSAGES.update({
    "audit": ("审计日志", "Audit log"),
    "audit_help": ("数据库的每一次写入：谁、何时（UTC）、做了什么、从哪里（网页为客户端地址，命令行为 cli）、结果。",
                   "Every write to the database: who, when (UTC), what, from where (the client's address on the "
                   "web, cli for the command line), and its outcome."),
    "time_utc": ("时间（UTC）", "Time (UTC)"), "action": ("操作", "Action"), "address": ("来源地址", "From"),
    "outcome": ("结果", "Outcome"), "detail": ("详情", "Details"), "all": ("全部", "all"),
    "filter": ("筛选", "Filter"), "previous": ("上一页", "Previous"), "next": ("下一页", "Next"),
    "rows_of": ("第 {first}–{last} 条，共 {total} 条", "{first}–{last} of {total}"),
})


#: The keys of a row's details (boundaries.audit) → (Chinese, English).
_DETAIL = {"files": ("文件", "files"), "file": ("文件", "file"), "lines": ("界线", "lines"),
           "markers": ("界桩", "markers"), "errors": ("错误", "errors"), "warnings": ("警告", "warnings"),
           "account": ("账户", "account"), "role": ("角色", "role"), "inserted": ("新增", "added"),
           "updated": ("更新", "updated"), "skipped": ("跳过", "skipped"), "divisions": ("区划", "divisions"),
           # joint inspection rounds (boundaries.inspection)
           "round": ("联检轮次", "round"), "provinces": ("双方", "sides"), "side": ("代表", "for"),
           "source": ("来源", "source"), "findings": ("界桩状况", "findings"),
           "both": ("双方均已确认", "both confirmed"),
           "markers_moved": ("改动界桩位置", "positions changed"), "photo": ("照片", "photo"),
           "marker": ("界桩", "marker"), "bytes": ("字节", "bytes")}


def _filters() -> dict:
    """The filters of the query string, checked: an unknown province or action is a 400 that says so."""
    province = (request.args.get("province") or "").strip() or None
    if province and (not province.isdigit() or len(province) != 6 or province[:2] not in PROVINCES):
        raise WebError(f"省份代码 {province!r} 无效：请用六位代码，如 360000",
                       f"province {province!r} is not a six-digit province code such as 360000")
    action = (request.args.get("action") or "").strip() or None
    if action and action not in ACTIONS:
        raise WebError(f"未知的操作 {action!r}", f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    return {"province": province, "user": (request.args.get("user") or "").strip() or None, "action": action}


@bp.route("/audit")
@requires("audit")
def index():
    """A page of the log with the filters of the query string."""
    filters = _filters()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    log = get_store().read_audit(**filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    lang = current_lang()
    return render_template("audit.html", log=log, page=page, filters=filters, page_size=PAGE_SIZE,
                           actions=[(key, action_label(key, lang)) for key in ACTIONS],
                           action_label=lambda a: action_label(a, lang),
                           outcome_label=lambda o: outcome_label(o, lang),
                           detail_label=lambda k: _DETAIL.get(k, (k, k))[0 if lang == "zh" else 1])
