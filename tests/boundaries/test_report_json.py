"""report_json writes exactly json.dumps(..., ensure_ascii=False, indent=1), which the CLI printed before."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from boundaries.model import Issue, SourceFile, Submission
from boundaries.report import build_report, report_json


def _same(value) -> None:
    assert report_json(value) == json.dumps(value, ensure_ascii=False, indent=1)


def test_a_report_with_issues_files_and_layers_is_json_indented_text():
    issues = [Issue("line.dangle", "error", "lines", "L1", 114.1234567891, 28.5, "悬挂点 \"甲\"\n乙", "dangle",
                    "a.shp"),
              Issue("marker.id_format", "warning", "markers", None, None, None, "},\n  {", None),
              Issue("dataset.schema", "error", "dataset", "x", float("nan"), 0.0, "\u2028 \\ \t", None, file="b")]
    submission = Submission("360000", files=[SourceFile("a.shp", "00", 3)], encoding="gb18030",
                            layers=[{"source": "a.shp", "layer": "lines", "features": 2, "encoding": "gb18030",
                                     "crs": "EPSG:4547"}], declared_crs="EPSG:4326")
    for lang in ("zh", "en"):
        report = build_report(submission, issues, lang=lang)
        report["config"] = "defaults"
        _same(report)
    _same(build_report(Submission("360000"), [], lang="zh"))  # no issue, no file, no layer: empty lists


def test_odd_values_and_nesting_as_json_writes_them():
    for value in ({}, [], [{}], [[]], {"a": {}}, [{"a": 1}, {}], [{"a": [1]}, {"b": 2}], {1: "x", None: [1, {2: 3}]},
                  [{1: 2, None: 3, False: 4}, {2.5: "x"}], {"t": (1, 2)}, ({"a": 1},), "x", 1, None, float("inf"),
                  {"a": np.float64(1.5), "b": [np.float64(2.0)]}, [{"a": np.float64(1.5)}, {"b": 1}],
                  {"x": {"y": {1: {"z": []}}}}, [True, False, None]):
        _same(value)


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=5) | st.integers(), inner, max_size=4), max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_any_json_value_is_written_as_json_writes_it(value):
    _same(value)
