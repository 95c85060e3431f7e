"""The server-side waiting area of uploads between "check" and "confirm".

Each upload gets a folder named by a random token under ``UPLOAD_DIR`` holding the files (names cleaned,
only the kinds SPEC §3 reads) and ``upload.json`` (who, which province, options, when). Files are never
served back: the folder is read only by the core's readers (which refuse zip-slip and zip bombs) and
removed on confirm, on discard, or after ``UPLOAD_TTL`` seconds. The folder also holds the state of the
upload's check or ingest job (:mod:`webmap.jobs`); :func:`job_status` words it for the page.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from werkzeug.datastructures import FileStorage

from webmap.errors import Forbidden, NotFound, WebError

__all__ = ["ACCEPTED_SUFFIXES", "Pending", "budget_report", "claim_confirmation", "clean_filename", "discard",
           "job_folder", "job_status", "load_pending", "purge_expired", "save_upload"]

ACCEPTED_SUFFIXES = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".zip", ".gpkg",
                     ".geojson", ".json", ".csv", ".xlsx"}
_META = "upload.json"


@dataclass
class Pending:
    """An upload waiting for confirmation."""

    token: str
    user: str
    province: str
    files: list[str]
    crs: str | None
    encoding: str | None
    created: float
    folder: str = ""
    #: the legal date the surveyor gave (the agreement's, 协议书), YYYY-MM-DD; None: the ingest's day
    valid_from: str | None = None

    @property
    def paths(self) -> list[Path]:
        """The files the core reads: every uploaded file but shapefile sidecars (found beside the .shp)."""
        sidecars = {".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml"}
        return [Path(self.folder) / f for f in self.files if Path(f).suffix.lower() not in sidecars]


def clean_filename(name: str) -> str:
    """The file's own name (Chinese kept), without folders or control characters; refuses other kinds."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    suffix = Path(base).suffix.lower()
    if base in ("", ".", "..") or base.startswith(".") or len(base.encode()) > 200:
        raise WebError(f"文件名无效：{name!r}", f"unusable file name {name!r}")
    if suffix not in ACCEPTED_SUFFIXES:
        raise WebError(f"不接受 {suffix or '无扩展名'} 文件：{base}",
                       f"{base}: {suffix or 'no suffix'} is not accepted; send "
                       f"{', '.join(sorted(ACCEPTED_SUFFIXES))}")
    return base


def save_upload(root: str | Path, user: str, province: str, files: list[FileStorage], *,
                crs: str | None = None, encoding: str | None = None, valid_from: str | None = None) -> Pending:
    """Store the request's files in a new waiting folder; the :class:`Pending` record. ``valid_from``: the
    legal date from which the submission will hold (checked here: a bad one is refused before any file is
    kept)."""
    if valid_from:
        from boundaries.errors import InputError
        from boundaries.legaltime import legal_date

        try:
            valid_from = legal_date(valid_from, what="valid_from").isoformat()
        except InputError as err:
            raise WebError(err.text("zh"), err.message) from None
    names = [clean_filename(f.filename or "") for f in files if f and f.filename]
    if not names:
        raise WebError("请选择要上传的文件", "choose the files to upload")
    if len({n.lower() for n in names}) != len(names):
        raise WebError("有重名文件", "two files have the same name")
    token = secrets.token_urlsafe(18)
    folder = Path(root) / token
    folder.mkdir(mode=0o700)
    for storage, name in zip([f for f in files if f and f.filename], names, strict=True):
        storage.save(folder / name)
    pending = Pending(token, user, province, names, crs or None, encoding or None, time.time(), str(folder),
                      valid_from or None)
    (folder / _META).write_text(json.dumps(asdict(pending), ensure_ascii=False), encoding="utf-8")
    return pending


def load_pending(root: str | Path, token: str, user: str, ttl: float) -> Pending:
    """The waiting upload ``token`` of ``user``; 404 if unknown or expired, 403 if someone else's."""
    if len(token) > 64:  # ours are 24 characters; a longer one would only make the OS refuse the path (500)
        raise WebError("上传令牌无效", f"the upload token is invalid ({len(token)} characters)")
    if not token.replace("-", "").replace("_", "").isalnum():
        raise NotFound("没有这个上传", f"no upload {token!r}")
    meta = Path(root) / token / _META
    if not meta.is_file():
        raise NotFound("没有这个上传（已确认、已放弃或已过期）", "no such upload (confirmed, discarded or expired)")
    pending = Pending(**json.loads(meta.read_text(encoding="utf-8")))
    if pending.user != user:
        raise Forbidden("这是别人的上传", "this upload belongs to another user")
    if time.time() - pending.created > ttl:
        discard(root, token)
        raise NotFound("上传已过期，请重新上传", "the upload has expired; upload again")
    return pending


def discard(root: str | Path, token: str) -> None:
    """Remove a waiting upload."""
    shutil.rmtree(Path(root) / token, ignore_errors=True)


def purge_expired(root: str | Path, ttl: float) -> int:
    """Remove uploads (and finished jobs' folders) older than ``ttl`` seconds; how many."""
    removed = 0
    for folder in Path(root).iterdir():
        try:
            if folder.is_dir() and time.time() - folder.stat().st_mtime > ttl:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:  # removed meanwhile by another request
            continue
    return removed


def job_folder(root: str | Path, token: str) -> Path:
    """The folder of the upload ``token`` (checked as :func:`load_pending` checks it; it may hold only a
    finished job's state)."""
    if len(token) > 64 or not token.replace("-", "").replace("_", "").isalnum():
        raise NotFound("没有这个上传", "no such upload")
    return Path(root) / token


def claim_confirmation(folder: Path) -> bool:
    """Whether this is the first confirmation of the upload (one ingest per upload, also when two clicks,
    or two server processes, arrive at once)."""
    try:
        os.close(os.open(folder / ".confirmed", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        return False


#: The job's steps, worded for the page (the current file or rule is added).
_STEPS = {
    "queued": ("排队等候（同时最多检查 {workers} 个上传）", "waiting for a free worker"),
    "start": ("正在启动检查…", "starting…"),
    "read": ("正在读取文件 {n}/{total}：{what}", "reading file {n} of {total}: {what}"),
    "rules": ("正在检查规则 {n}/{total}：{what}", "checking rule {n} of {total}: {what}"),
    "store": ("正在写入数据库…", "writing to the database…"),
    "done": ("完成", "done"), "failed": ("已停止", "stopped"),
}


def job_status(state: dict, lang: str, workers: int | None = None) -> dict:
    """The job's state for the page: ``state``, ``step``, ``percent`` (reading 5–20, rules 20–95, storing
    97) and ``label``, the step in ``lang`` with the rule's description."""
    from boundaries.rules import REGISTRY

    step, done, total = state.get("step", "queued"), int(state.get("done", 0)), int(state.get("total", 0))
    what = state.get("what", "")
    if step == "rules" and what in REGISTRY:
        rule = REGISTRY[what]
        what = f"{rule.description}（{what}）" if lang == "zh" else f"{rule.description_en} ({what})"
    zh, en = _STEPS.get(step, (step, step))
    label = (zh if lang == "zh" else en).format(n=done + 1, total=total, what=what, workers=workers or 2)
    if state.get("kind") == "ingest" and step not in ("done", "failed"):
        label = ("入库：" if lang == "zh" else "storing: ") + label
    fraction = done / total if total else 0.0
    percent = {"queued": 0, "start": 2, "read": 5 + 15 * fraction, "rules": 20 + 75 * fraction, "store": 97,
               "done": 100, "failed": 100}.get(step, 0)
    return {"state": state.get("state"), "kind": state.get("kind"), "step": step, "percent": round(percent),
            "label": label, "finished": state.get("state") in ("done", "failed")}


def budget_report(state: dict, result: dict) -> dict:
    """The report of a job that its limits stopped (or that failed): one ``dataset.check_budget`` error
    saying which limit, that nothing was stored, and what to do."""
    from boundaries.model import Issue
    from boundaries.report import error_report
    from webmap.i18n import current_lang

    what, what_en = ("入库时的检查", "the check at storing") if state.get("kind") == "ingest" else ("检查", "the check")
    reason = result.get("failed")
    split_zh = "；未入库。请把报送拆成较小的几部分（如每条界线一个文件）分别上传"
    split_en = "; nothing was stored. Split the submission into smaller parts (e.g. one file per boundary line) and " \
               "upload them one by one"
    if reason == "budget":
        limit = result.get("cpu_seconds")
        zh = (f"{what}用完了每次检查 {limit} 秒 CPU 时间的上限，已被停止{split_zh}；如确需更大的上限，请管理员调高 "
              "QUHUA_CHECK_CPU_SECONDS")
        en = (f"{what_en.capitalize()} used up its limit of {limit} CPU seconds and was stopped{split_en}; an "
              "administrator can raise QUHUA_CHECK_CPU_SECONDS if larger checks are needed")
    elif reason == "memory":
        limit = result.get("memory_mb")
        zh = f"{what}超出了每次检查 {limit} MiB 内存的上限，已被停止{split_zh}；或请管理员调高 QUHUA_CHECK_MEMORY_MB"
        en = (f"{what_en.capitalize()} needed more than its limit of {limit} MiB of memory and was stopped{split_en}; "
              "or ask an administrator to raise QUHUA_CHECK_MEMORY_MB")
    elif reason == "wall":
        limit = result.get("wall_seconds")
        zh = f"{what}超过了每次检查 {limit:g} 秒的时长上限，已被停止{split_zh}；或稍后重试"
        en = f"{what_en.capitalize()} took longer than its limit of {limit:g} seconds and was stopped{split_en}; or " \
             "try again later"
    elif reason == "killed":
        zh = f"{what}的进程被终止（可能是服务器内存不足或被管理员停止）{split_zh}；或稍后重试"
        en = f"{what_en.capitalize()} was killed (the server may be short of memory, or an operator stopped it)" \
             f"{split_en}; or try again later"
    else:
        zh = f"{what}意外中止（服务器内部错误，已记入服务器日志）；未入库。请稍后重试，或联系管理员"
        en = f"{what_en.capitalize()} ended unexpectedly (a server error, logged); nothing was stored. Try again " \
             "later, or tell the administrator"
    issue = Issue("dataset.check_budget", "error", "dataset", None, None, None, zh, en)
    return error_report(state.get("province"), issue, current_lang())
