"""Fuzzing ``quhua ingest`` with mutated real submissions (issue 12), on both databases, in a fixed budget.

Each example is a real shapefile set, zip, GeoPackage, GeoJSON, CSV or XLSX (see tests/boundaries/fuzzing.py)
with one file mutated; whatever the bytes, the command exits 0, 1 or 2 with one JSON report, never a
traceback, and the database holds the submission whole or not at all. 50 examples per backend (about 20 s on
the 2-core CI machine); ``scripts/fuzz.py`` runs the same cases for longer.
"""

from __future__ import annotations

import itertools
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.boundaries.fuzzing import OPERATIONS, run_case, seeds

_mutation = st.tuples(st.sampled_from(OPERATIONS), st.floats(0, 1, allow_nan=False), st.integers(0, 255))
_counter = itertools.count()


@settings(max_examples=50, deadline=10_000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.sampled_from(sorted(seeds())), member=st.integers(0, 5),
       mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_submissions_exit_0_1_or_2_and_store_whole_or_nothing(tmp_path, db_url, seed, member, mutations):
    folder = tmp_path / f"case{next(_counter)}"
    outcome = run_case(folder, db_url, seed, member, mutations)
    shutil.rmtree(folder, ignore_errors=True)
    assert outcome.problem is None, (seed, member, mutations, outcome)
