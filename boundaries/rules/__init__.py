"""The registry of QA rules (SPEC §5): one small function per rule, registered once.

A rule declares its id, severity, layer, what it finds and its tolerances (with defaults, in metres unless
named otherwise). The report, ``quhua config show`` and the docs read this registry, so adding a rule
touches one place: a decorated function in one of this package's modules.

Rules take a :class:`CheckContext` (the submission, what the database already holds near it, and the
rule's parameters) and yield :class:`~boundaries.model.Issue` objects. The ``dataset.*`` rules are found
while reading (:mod:`boundaries.readers`); they are registered here without a function so that every rule
id is listed in one place.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import geopandas as gpd

from boundaries.model import Issue, Submission

__all__ = ["REGISTRY", "CheckContext", "Rule", "fold_defects", "one_defect", "register", "rule", "rule_issues",
           "run_rules"]


@dataclass
class CheckContext:
    """What a rule sees: the submission and the stored current lines and markers around it."""

    submission: Submission
    stored_lines: gpd.GeoDataFrame
    stored_markers: gpd.GeoDataFrame
    settings: dict = field(default_factory=dict)  # global settings, e.g. the marker id pattern


@dataclass(frozen=True)
class Rule:
    """A registered rule: id, default severity, layer, description (zh, en) and default tolerances."""

    id: str
    severity: str
    layer: str
    description: str
    description_en: str
    params: dict[str, float | str]
    func: Callable[[CheckContext, dict], Iterable[Issue]] | None = None
    #: waits for work started in the background by earlier rules: run after the others
    late: bool = False


REGISTRY: dict[str, Rule] = {}


def register(rule_id: str, *, severity: str, layer: str, description: str, description_en: str,
             func: Callable | None = None, late: bool = False, **params) -> Rule:
    """Add a rule to the registry; ``params`` are its tolerances with their defaults."""
    if rule_id in REGISTRY:
        raise ValueError(f"rule {rule_id} registered twice")
    REGISTRY[rule_id] = Rule(rule_id, severity, layer, description, description_en, params, func, late)
    return REGISTRY[rule_id]


def rule(rule_id: str, **kw):
    """Decorator form of :func:`register` for a rule's function."""

    def decorate(function):
        register(rule_id, func=function, **kw)
        return function

    return decorate


def run_rules(context: CheckContext, config, progress: Callable[[str, int, int, str], None] | None = None
              ) -> list[Issue]:
    """Every enabled rule with a function, with the severities and tolerances of ``config`` (a
    :class:`boundaries.config.Config`); the issues in registry order, those of one defect folded into one
    (:func:`fold_defects`). The ``late`` rules run last, so that the background work they wait for overlaps
    with the other rules. ``progress("rules", done, total, rule id)`` is called before each rule (the web
    upload's progress bar)."""
    return fold_defects(rule_issues(context, config, progress))


def rule_issues(context: CheckContext, config, progress: Callable[[str, int, int, str], None] | None = None
                ) -> list[Issue]:
    """What :func:`run_rules` finds before one defect's findings are folded into one issue: every rule's
    own issues, in registry order. The distributed check (:mod:`boundaries.distributed`) runs this on each
    partition and folds once, over the merged issues of all of them."""
    found: dict[str, list[Issue]] = {}
    entries = [e for e in sorted(REGISTRY.values(), key=lambda entry: entry.late)
               if e.func is not None and config.enabled(e.id)]
    with _no_cyclic_gc():
        for done, entry in enumerate(entries):
            if progress is not None:
                progress("rules", done, len(entries), entry.id)
            severity = config.severity(entry.id)
            found[entry.id] = list(entry.func(context, config.params(entry.id)))
            for issue in found[entry.id]:
                issue.severity = severity
    return [issue for rule_id in REGISTRY for issue in found.get(rule_id, [])]


def fold_defects(issues: list[Issue]) -> list[Issue]:
    """The issues of one defect as one (:func:`one_defect`), and the neighbour mismatches another rule's
    finding on the same line explains as its details (SPEC §5: one defect, one error); order kept."""
    return _caused_mismatches(_one_per_defect(issues))


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector paused while the rules run, resumed (if it ran) afterwards.

    The rules make hundreds of thousands of small containers (a dict per marker id, the issues) and
    almost no reference cycles, so the collector's passes over them find nothing and cost about a tenth
    of the rules' time (measured: 3.5 s instead of 3.9 s on the 182 k-line grid, 0.70 s instead of 0.80 s on
    the county network). Memory is still freed by reference counting; what cycles there are wait for the
    collector's next pass once it is resumed."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def one_defect(issue: Issue, key, rank: int, also: tuple = ()) -> Issue:
    """Mark ``issue`` as a finding of the defect ``key`` (hashable, e.g. ``("marker.position", 17)``).

    Rules find what they find whatever else is enabled; where several enabled rules find one defect, the
    report keeps one issue (an error before a warning, then the lowest ``rank``: the clearest cause) and
    gives the others as its details (SPEC §5: one defect, one error). ``also``: other defects the finding
    may be a consequence of (a marker far from the stored marker of its id: moved, or its id wrong); where
    no other issue has ``key``, it joins the first of them that another issue has."""
    issue.defect = (key, rank)
    issue.defect_also = tuple(also)
    return issue


def _one_per_defect(issues: list[Issue]) -> list[Issue]:
    """The issues with those of one defect (:func:`one_defect`) merged into the one that says it best."""
    marked = [issue for issue in issues if getattr(issue, "defect", None) is not None]
    count: dict = {}
    for issue in marked:
        count[issue.defect[0]] = count.get(issue.defect[0], 0) + 1
    groups: dict = {}
    for issue in marked:
        key = issue.defect[0]
        if count[key] == 1:  # alone under its own key: with the first other defect it may follow from
            key = next((k for k in getattr(issue, "defect_also", ()) if count.get(k, 0)), key)
        groups.setdefault(key, []).append(issue)
    merged = set()
    for group in (g for g in groups.values() if len(g) > 1):
        keep = min(group, key=lambda i: (i.severity != "error", i.defect[1]))
        others = [i for i in group if i is not keep]
        keep.message += "（详情：" + "；".join(f"{i.rule}：{i.message}" for i in others) + "）"
        keep.message_en = (keep.message_en or keep.message) + " (details: " + "; ".join(
            f"{i.rule}: {i.message_en or i.message}" for i in others) + ")"
        merged.update(id(i) for i in others)
    return [issue for issue in issues if id(issue) not in merged]


#: Rules whose finding changes a line's course: a stretch of it that deviates from the neighbour's stored
#: version there is that change seen against the stored boundary, not a second defect.
_COURSE_RULES = ("line.spike", "line.dangle", "line.self_intersection")


def _caused_mismatches(issues: list[Issue]) -> list[Issue]:
    """Each ``line.neighbor_mismatch`` stretch caused by a defect another rule found on the same line (a
    spike, a dangling end, a loop: a finding of :data:`_COURSE_RULES` no farther from the stretch's point
    of largest deviation than that deviation, plus a metre, or on the deviating stretch itself) as a detail
    of that issue: one defect, one error (SPEC §5). The nearest such issue takes it; a stretch deviating
    where no other rule found anything stays its own error (a shifted stretch is the neighbour's
    disagreement itself).

    On the stretch: a long spike on a meandering line comes back near another bend of the stored line, so
    the stretch's largest deviation is on one of its flanks, hundreds of metres from its tip (a 3° spike on
    a 44 m segment, 848 m long, deviating at most 160 m at 486 m from the tip); the tip is still a vertex of
    the deviating stretch."""
    causes = [i for i in issues if i.rule in _COURSE_RULES and i.lon is not None]
    mismatches = [i for i in issues if i.rule == "line.neighbor_mismatch" and getattr(i, "reach_m", None)]
    if not causes or not mismatches:
        return issues
    from pyproj import Geod

    geod = Geod(ellps="GRS80")  # CGCS2000's ellipsoid
    folded = set()
    for mismatch in mismatches:
        mine = [c for c in causes if c.feature == mismatch.feature and c.file == mismatch.file]
        if not mine:
            continue
        _, _, metres = geod.inv([mismatch.lon] * len(mine), [mismatch.lat] * len(mine),
                                [c.lon for c in mine], [c.lat for c in mine])
        order = sorted(range(len(mine)), key=lambda n: metres[n])
        if metres[order[0]] > mismatch.reach_m + 1.0:
            order = [n for n in order if _on_stretch(mine[n], getattr(mismatch, "stretch", None))][:1]
        if not order:
            continue
        cause = mine[order[0]]
        if mismatch.severity == "error" and cause.severity != "error":  # an error kept inside a warning
            continue
        cause.message += f"（详情：{mismatch.rule}：{mismatch.message}）"
        cause.message_en = (cause.message_en or cause.message) + (
            f" (details: {mismatch.rule}: {mismatch.message_en or mismatch.message})")
        folded.add(id(mismatch))
    return [issue for issue in issues if id(issue) not in folded]


def _on_stretch(cause: Issue, stretch: tuple | None) -> bool:
    """Whether ``cause``'s point is on a deviating stretch of its line (within a metre of it): ``stretch``
    is (zone EPSG, the submitted line in that zone, where the stretch starts and ends along it in metres),
    as ``line.neighbor_mismatch`` measured it."""
    import shapely

    from boundaries.crs import transformer

    if stretch is None:
        return False
    epsg, line, start_m, end_m = stretch
    point = shapely.Point(transformer(4490, epsg).transform(cause.lon, cause.lat))
    along_m = shapely.line_locate_point(line, point)
    return shapely.distance(line, point) <= 1.0 and start_m - 1.0 <= along_m <= end_m + 1.0


from boundaries.rules import dataset, lines, markers  # noqa: E402,F401  (registers the rules of each module)
