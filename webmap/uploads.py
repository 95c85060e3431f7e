"""The server-side waiting area of uploads between "check" and "confirm".

Each upload gets a folder named by a random token under ``UPLOAD_DIR`` holding the files (names cleaned,
only the kinds SPEC §3 reads) and ``upload.json`` (who, which province, options, when). Files are never
served back: the folder is read only by the core's readers (which refuse zip-slip and zip bombs) and
removed on confirm, on discard, or after ``UPLOAD_TTL`` seconds.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from werkzeug.datastructures import FileStorage

from webmap.errors import Forbidden, NotFound, WebError

__all__ = ["ACCEPTED_SUFFIXES", "Pending", "clean_filename", "discard", "load_pending", "purge_expired",
           "save_upload"]

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
                crs: str | None = None, encoding: str | None = None) -> Pending:
    """Store the request's files in a new waiting folder; the :class:`Pending` record."""
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
    pending = Pending(token, user, province, names, crs or None, encoding or None, time.time(), str(folder))
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
    """Remove uploads older than ``ttl`` seconds; how many."""
    removed = 0
    for meta in Path(root).glob(f"*/{_META}"):
        if time.time() - meta.stat().st_mtime > ttl:
            shutil.rmtree(meta.parent, ignore_errors=True)
            removed += 1
    return removed
