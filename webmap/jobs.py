"""Checks and ingests of uploads, outside the request threads, each within a budget.

A browser upload is checked (and, on confirmation, checked again and stored) by a child process, never by
the thread serving the request: the request saves the files, starts a job and answers at once; the page then
polls the job's state (``/upload/<token>/status.json``) and shows the report when it is done. So however
large or hostile a file, the viewer's threads keep answering. Each child

- is forked from a fork server that has imported the core once (a start costs milliseconds, not the seconds
  of importing GDAL and geopandas), never from the threaded server itself;
- gets ``CHECK_CPU_SECONDS`` of CPU time (``RLIMIT_CPU``: the kernel ends it with SIGXCPU), an address space
  of ``CHECK_MEMORY_MB`` (``RLIMIT_AS``: a MemoryError) and ``CHECK_WALL_SECONDS`` of wall-clock time (its
  supervising thread kills it: e.g. waiting on a lock), and runs at nice 10, so requests come first;
- runs the core as the CLI does (:func:`boundaries.pipeline.check_paths` / ``ingest_paths``), telling its
  progress (:data:`boundaries.pipeline.Progress`) through the upload folder.

At most ``CHECK_WORKERS`` jobs of one server process run at once; the others wait their turn (``queued``).
A job's state lives in its upload folder (``job.json``, written atomically, and ``result.json``), so any
worker process sharing ``UPLOAD_DIR`` can answer the polling page. An ingest killed by its budget is rolled
back by the database like any ``kill -9`` (tests/boundaries/test_crash.py); if it had already committed,
the audit log row written in its transaction says so, and the job reports it stored.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Limits", "init_app", "read_result", "read_state", "start_job"]

log = logging.getLogger(__name__)
_STATE, _RESULT = "job.json", "result.json"
_PRELOAD = ["boundaries.pipeline", "webmap.jobs"]


@dataclass(frozen=True)
class Limits:
    """What one job may use: CPU seconds, MiB of address space, wall-clock seconds."""

    cpu_seconds: int
    memory_mb: int
    wall_seconds: float


# -- state in the upload folder -------------------------------------------------------------------------
def _write(folder: Path, name: str, data: dict) -> None:
    tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / name)  # a reader sees the old state or the new one, never half


def read_state(folder: str | Path) -> dict | None:
    """The job's state: ``kind`` (check/ingest), ``state`` (queued/running/done/failed), ``step``, ``done``,
    ``total``, ``what`` (the current file or rule), times; None when the folder holds no job. A job whose
    supervising server process has gone (restarted, killed) is ``failed``: it would never finish."""
    try:
        state = json.loads((Path(folder) / _STATE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if state.get("state") in ("queued", "running") and state.get("host") == socket.gethostname() \
            and not _alive(state.get("pid")):
        state.update(state="failed", step="failed")
    return state


def _alive(pid: int | None) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def read_result(folder: str | Path) -> dict | None:
    """What a finished job produced: ``report``, ``exit_code``, ``submission_id``, ``lines`` (GeoJSON of
    the submission's lines, for the report map), or ``failed`` (budget/memory/wall/killed/internal)."""
    try:
        return json.loads((Path(folder) / _RESULT).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


# -- the parent's side --------------------------------------------------------------------------------------
_CONTEXT = None
_CONTEXT_LOCK = threading.Lock()


def _context():
    """The fork-server context, its server importing the core once (made on first use)."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_PRELOAD)
            _CONTEXT = ctx
        return _CONTEXT


def start_job(app, folder: str | Path, kind: str, args: dict) -> None:
    """Queue a job (``kind`` check or ingest, ``args`` for the pipeline, JSON-able) on ``folder``; returns
    at once. Its supervising thread waits for a slot, runs the child and records how it ended."""
    folder = Path(folder)
    (folder / _RESULT).unlink(missing_ok=True)
    _write(folder, _STATE, {"kind": kind, "state": "queued", "step": "queued", "done": 0, "total": 0,
                            "what": "", "queued_at": time.time(), "user": args["user"],
                            "province": args["province"], "host": socket.gethostname(), "pid": os.getpid()})
    config = app.config
    limits = Limits(int(config["CHECK_CPU_SECONDS"]), int(config["CHECK_MEMORY_MB"]),
                    float(config["CHECK_WALL_SECONDS"]))
    threading.Thread(target=_supervise, args=(app.extensions["quhua.jobs"], folder, kind, args, limits),
                     name=f"quhua-job-{folder.name[:6]}", daemon=True).start()


def _supervise(slots: threading.Semaphore, folder: Path, kind: str, args: dict, limits: Limits) -> None:
    try:
        _run_in_child(slots, folder, kind, args, limits)
    except FileNotFoundError:  # the upload was discarded (or expired) meanwhile
        log.info("upload job %s (%s): its folder is gone", folder.name, kind)
    except Exception:
        log.exception("upload job %s (%s) could not be supervised", folder.name, kind)


def _run_in_child(slots: threading.Semaphore, folder: Path, kind: str, args: dict, limits: Limits) -> None:
    with slots:
        started = time.time()
        _write(folder, _STATE, {**(read_state(folder) or {}), "state": "running", "step": "start",
                                "started_at": started})
        process = _context().Process(target=_child, args=(str(folder), kind, args, asdict(limits)), daemon=True)
        process.start()
        process.join(limits.wall_seconds)
        killed = process.is_alive()
        if killed:
            process.kill()
            process.join()
        result = read_result(folder)
        if result is None:
            # SIGXCPU: its CPU budget; SIGKILL: the hard limit, the kernel's OOM killer or an operator
            reason = "wall" if killed else {-signal.SIGXCPU: "budget", -signal.SIGKILL: "killed"}.get(
                process.exitcode, "internal")
            if reason == "internal":
                log.error("upload job %s (%s) ended with exit code %s", folder.name, kind, process.exitcode)
            result = {"failed": reason, "cpu_seconds": limits.cpu_seconds, "memory_mb": limits.memory_mb,
                      "wall_seconds": limits.wall_seconds}
            if kind == "ingest":
                result["submission_id"] = _stored_anyway(args)
            _write(folder, _RESULT, result)
        state = "failed" if result.get("failed") and result.get("submission_id") is None else "done"
        if result.get("submission_id") is not None or result.get("exit_code") == 2 or result.get("failed"):
            _drop_upload(folder)  # stored, or unusable: nothing can be confirmed any more
        _write(folder, _STATE, {**(read_state(folder) or {}), "state": state, "step": state,
                                "finished_at": time.time(), "seconds": round(time.time() - started, 2)})


def _drop_upload(folder: Path) -> None:
    """Remove the uploaded files and ``upload.json``, keeping the job's state and result for its page."""
    for path in folder.iterdir():
        if path.name not in (_STATE, _RESULT):
            path.unlink(missing_ok=True)


def _stored_anyway(args: dict) -> int | None:
    """The submission an ingest killed after its commit stored (its audit row, written in the same
    transaction, names it and the upload's token), else None."""
    from boundaries.store import open_store

    try:
        with open_store(args["db"]) as store:
            page = store.read_audit(user=args["user"], action="confirm", limit=20)
    except Exception:
        log.exception("could not read the audit log after a failed ingest")
        return None
    for row in page.rows:
        if row["detail"].get("token") == args["token"]:
            return row["submission_id"]
    return None


# -- the child's side ---------------------------------------------------------------------------------------
def _limit(limits: dict) -> None:
    import resource

    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # SIGXCPU at the soft limit, SIGKILL at the hard
    memory = limits["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    os.nice(10)


def _child(folder: str, kind: str, args: dict, limits: dict) -> None:
    """Run the check or ingest of the upload in ``folder`` within ``limits``; write its result."""
    _limit(limits)
    path = Path(folder)

    def progress(step: str, done: int, total: int, what: str) -> None:  # a few dozen small writes a check
        _write(path, _STATE, {**(read_state(path) or {}), "step": step, "done": done, "total": total,
                              "what": what})

    try:
        _write(path, _RESULT, _run(kind, args, progress))
    except MemoryError:
        _write(path, _RESULT, {"failed": "memory", **limits})
    except Exception as err:
        log.exception("upload job %s (%s) failed", path.name, kind)
        _write(path, _RESULT, {"failed": "internal", "detail": type(err).__name__, **limits})


def _run(kind: str, args: dict, progress) -> dict:
    from boundaries.audit import AuditEntry
    from boundaries.pipeline import check_paths, ingest_paths

    paths = [Path(p) for p in args["paths"]]
    common = {"db": args["db"], "crs": args.get("crs"), "encoding": args.get("encoding"), "lang": args["lang"],
              "progress": progress}
    if kind == "check":
        result = check_paths(paths, args["province"], **common)
    else:
        audit = AuditEntry("confirm", args["user"], args["address"], detail={"token": args["token"]})
        result = ingest_paths(paths, args["province"], user=args["user"], audit=audit,
                              valid_from=args.get("valid_from"), **common)
    lines = result.submission.lines if result.submission is not None else None
    return {"report": result.report, "exit_code": result.exit_code, "submission_id": result.submission_id,
            "lines": json.loads(lines[["line_id", "geometry"]].to_json(drop_id=True))
            if lines is not None and len(lines) else None}


def init_app(app) -> None:
    """The app's job slots (``CHECK_WORKERS`` at once); the fork server is started now, so that its import
    of the core (a few CPU seconds) is done before the first upload rather than during it."""
    app.extensions["quhua.jobs"] = threading.BoundedSemaphore(int(app.config["CHECK_WORKERS"]))
    _context()
    from multiprocessing import forkserver

    forkserver.ensure_running()
