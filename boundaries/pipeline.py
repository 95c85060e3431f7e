"""Check and ingest, end to end: read the files, run the rules against the database, report, store."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from boundaries.audit import AuditEntry
from boundaries.config import Config, load_config, parse_config
from boundaries.errors import InputError
from boundaries.fields import load_field_map
from boundaries.model import Issue, Submission
from boundaries.readers import read_submission
from boundaries.report import build_report, error_report
from boundaries.rules import CheckContext, run_rules
from boundaries.store import ALL_PROVINCES, Store, empty_layer, open_store

__all__ = ["Progress", "Result", "check", "check_paths", "config_in_force", "ingest_paths"]

#: ``progress(step, done, total, what)`` is told where a check is: ``"read"`` before each file (``what`` its
#: name), ``"rules"`` before each rule (its id), ``"store"`` once the rules have run in an ingest.
Progress = Callable[[str, int, int, str], None]

#: How far around the submission stored features are read for the checks (degrees, ~10 km).
_MARGIN_DEG = 0.1

@dataclass
class Result:
    """What a check or ingest produced; ``exit_code`` follows SPEC §3."""

    report: dict
    submission: Submission | None
    submission_id: int | None = None

    @property
    def exit_code(self) -> int:
        if self.submission is None:
            return 2
        return 0 if self.report["accepted"] else 1


def check(submission: Submission, store: Store | None, config, *, lang: str = "zh",
          progress: Progress | None = None, scheduler=None, partition_vertices: int | None = None,
          keep: list | None = None) -> dict:
    """Run every rule on a submission together with what ``store`` holds near it; the SPEC §6 report.
    ``scheduler`` (a :class:`boundaries.distributed.Scheduler`): the rules run on its Dask workers, by
    spatial partitions of at most ``partition_vertices`` vertices; the report is the same. ``keep``: a list
    the rules' context (their indexes and caches) is appended to, for a caller that ends its process without
    freeing them (:func:`boundaries.cli._exit_now`: 0.1–0.2 s of CPU on the 182 k-line grid)."""
    lines, markers = _stored_near(submission, store)
    context = CheckContext(submission, lines, markers, config.settings())
    if scheduler is None:
        found = run_rules(context, config, progress)
    else:
        from boundaries.distributed import DEFAULT_PARTITION_VERTICES, run_rules_distributed

        found = run_rules_distributed(context, config, scheduler, progress=progress,
                                      partition_vertices=partition_vertices or DEFAULT_PARTITION_VERTICES)
    if keep is not None:
        keep.append(context)
    issues = list(submission.issues) + found
    report = build_report(submission, issues, lang=lang)
    report["config"] = config.source
    report["notes"].append(f"质检配置：{config.source}" if lang == "zh" else f"QA configuration: {config.source}")
    return report


def config_in_force(store: Store, province: str, config_file: Path | None = None) -> Config:
    """The QA configuration a check uses: ``config_file`` when given, else the one the database holds
    for the province (or for all provinces), else the defaults. ``source`` says which, for the report."""
    if config_file is not None:
        return load_config(config_file)
    stored = store.read_config(province) if store is not None else None
    if stored is None:
        return load_config()
    scope = "all provinces" if stored["province"] == ALL_PROVINCES else stored["province"]
    return parse_config(stored["toml"], source=f"database ({scope}, {stored['created_at']}, {stored['user']})",
                        where=f"the configuration stored in {store.url} for {scope}")


def _stored_near(submission: Submission, store: Store | None):
    if store is None or not store.exists() or (submission.lines.empty and submission.markers.empty):
        return empty_layer("lines"), empty_layer("markers")
    bounds = [f.total_bounds for f in (submission.lines, submission.markers) if len(f)]
    w = min(b[0] for b in bounds) - _MARGIN_DEG
    s = min(b[1] for b in bounds) - _MARGIN_DEG
    e = max(b[2] for b in bounds) + _MARGIN_DEG
    n = max(b[3] for b in bounds) + _MARGIN_DEG
    return store.read_layer("lines", bbox=(w, s, e, n)), store.read_layer("markers", bbox=(w, s, e, n))


def _read(paths, province, crs, encoding, field_map, lang, progress) -> Submission | Result:
    try:
        return read_submission(list(paths), province, crs=crs, encoding=encoding,
                               field_map=load_field_map(field_map), progress=progress)
    except InputError as err:
        issue = Issue(err.rule, "error", "dataset", err.feature, None, None, err.text("zh"), err.message,
                      file=err.file)
        return Result(error_report(province, issue, lang), None)


def check_paths(paths: list[Path], province: str, *, db: str | None = None, crs: str | None = None,
                encoding: str | None = None, field_map: Path | None = None, config_file: Path | None = None,
                lang: str = "zh", progress: bool | Progress = True, scheduler: str | None = None,
                partition_vertices: int | None = None, worker_memory: str | None = None,
                keep: list | None = None) -> Result:
    """``quhua check``: read and check with :func:`config_in_force`; the database is only read.
    ``progress``: True draws the reading and the rules as bars on stderr (in ``lang``); a :data:`Progress`
    callable is told of every step. ``scheduler``: ``local[:N]`` or a dask.distributed scheduler's address
    (:func:`boundaries.distributed.open_scheduler`, connected before anything is read); the rules run there
    by spatial partitions (:func:`boundaries.distributed.run_rules_distributed`), with the same report.
    ``keep``: as :func:`check`'s."""
    if config_file is not None:
        load_config(config_file)  # a bad file is reported before the submission is read
    with contextlib.ExitStack() as stack:
        connected = None
        if scheduler is not None:  # a bad address fails here, before any work
            from boundaries.distributed import open_scheduler

            connected = stack.enter_context(open_scheduler(scheduler, worker_memory=worker_memory))
        callback = stack.enter_context(_callback(progress, lang))
        submission = _read(paths, province, crs, encoding, field_map, lang, callback)
        if isinstance(submission, Result):
            return submission
        with open_store(db) as store:
            config = config_in_force(store, submission.province, config_file)
            return Result(check(submission, store, config, lang=lang, progress=callback, scheduler=connected,
                                partition_vertices=partition_vertices, keep=keep), submission)


def ingest_paths(paths: list[Path], province: str, *, db: str | None = None, crs: str | None = None,
                 encoding: str | None = None, field_map: Path | None = None, config_file: Path | None = None,
                 user: str = "unknown", lang: str = "zh", progress: bool | Progress = True,
                 audit: AuditEntry | None = None, valid_from=None) -> Result:
    """``quhua ingest``: read, check (:func:`config_in_force`) inside the store's transaction, and store
    whole if no error; ``audit`` (action and address) is recorded in that transaction (the CLI's: action
    ``ingest``, address ``cli``). ``valid_from``: the legal date from which the submission holds (the
    agreement's, 协议书; :meth:`Store.ingest`), else the ingest's day; a bad date is refused before anything
    is read."""
    if valid_from is not None:
        from boundaries.legaltime import legal_date

        valid_from = legal_date(valid_from, what="--valid-from")
    if config_file is not None:
        load_config(config_file)
    with _callback(progress, lang) as callback:
        submission = _read(paths, province, crs, encoding, field_map, lang, callback)
        if isinstance(submission, Result):
            return submission
        with open_store(db) as store:
            if not store.exists():
                store.init()
            config = config_in_force(store, submission.province, config_file)

            def checker(s: Store) -> dict:
                report = check(submission, s, config, lang=lang, progress=callback)
                if callback is not None:
                    callback("store", 0, 1, "")
                return report

            try:
                report, submission_id = store.ingest(submission, checker, user=user, audit=audit,
                                                     valid_from=valid_from)
            except InputError as err:  # refused inside the transaction (a legal date before the stored one's)
                issue = Issue(err.rule, "error", "dataset", err.feature, None, None, err.text("zh"), err.message,
                              file=err.file)
                return Result(error_report(submission.province, issue, lang), None)
    return Result(report, submission, submission_id)


class _Bars:
    """``progress=True`` (the command line): the reading of the files and the rules as bars on stderr, in the
    user's language. Written around tqdm by hand because the core reports its steps as calls
    (:data:`Progress`), not as iterables tqdm could wrap; a bar is drawn once a step has two or more parts."""

    _WORDS: ClassVar[dict] = {"zh": {"read": ("读取", "个文件"), "rules": ("检查规则", "条"),
                                     "partitions": ("分区检查", "个分区")},
                              "en": {"read": ("reading", "file"), "rules": ("rules", "rule"),
                                     "partitions": ("partitions", "partition")}}

    def __init__(self, lang: str):
        self.words = self._WORDS["en" if lang == "en" else "zh"]
        self.bars: dict = {}

    def __call__(self, step: str, done: int, total: int, what: str) -> None:
        if step not in self.words or total < 2:
            return
        bar = self.bars.get(step)
        if bar is None:
            from tqdm import tqdm

            desc, unit = self.words[step]
            bar = self.bars[step] = tqdm(total=total, desc=desc, unit=unit, leave=False)
        bar.n = done
        bar.set_postfix_str(what)  # redraws

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc) -> None:
        for bar in self.bars.values():
            bar.close()


@contextlib.contextmanager
def _callback(progress: bool | Progress, lang: str):
    """The :data:`Progress` of a check: the caller's callable, bars on stderr for True, else None."""
    if progress is True:
        with _Bars(lang) as bars:
            yield bars
    else:
        yield progress if callable(progress) else None
