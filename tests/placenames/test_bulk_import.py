"""A large import stored batch after batch (issue 16): the same names found as by one upsert, and the key
tables' indexes all back after a first import into empty tables."""

from __future__ import annotations

import csv
import gc
import multiprocessing

import pytest

import placenames.importers as importers
from placenames.errors import ImportRowsError
from placenames.importers import import_names
from placenames.lookup import search
from placenames.store import open_name_store
from tests.conftest import empty_database


def _indexes(store) -> set[str]:
    if _on_postgis(store):
        rows = store._rows("SELECT indexname FROM pg_indexes WHERE tablename IN ('names', 'name_keys', 'name_grams')")
    else:
        rows = store._rows("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                           "('names', 'name_keys', 'name_grams') AND sql IS NOT NULL")
    return {row[0] for row in rows}


def _on_postgis(store) -> bool:
    return type(store).__name__ == "PostgisNameStore"


#: the answers of the first batch size, per backend, that the other must equal
_ANSWERS: dict[bool, str] = {}


def _csv(path, places):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "class", "lon", "lat", "population"])
        for i, r in enumerate(places):
            writer.writerow([f"g{i}", r.name, r.klass, r.lon, r.lat, r.population or ""])
    return path


@pytest.mark.parametrize("batch", [7, 100_000])
def test_batched_import_finds_what_one_batch_finds(db_url, jiangxi_divisions, jiangxi_places, tmp_path,
                                                   monkeypatch, batch):
    """江西's GeoNames places (with their county from the polygons) imported in batches of 7 and in one:
    every place found by its name, in its county, the same answers in the same order both ways;
    the indexes the import set aside are back."""
    assert len(jiangxi_places) > 3 * 7
    with open_name_store(db_url) as store:
        _check(store, jiangxi_divisions, jiangxi_places, tmp_path, monkeypatch, batch)


def _check(store, jiangxi_divisions, jiangxi_places, tmp_path, monkeypatch, batch) -> None:
    store.init()
    before = _indexes(store)
    with store.write():
        store.put_divisions(jiangxi_divisions)
    monkeypatch.setattr(importers, "IMPORT_BATCH", batch)
    result = import_names(store, _csv(tmp_path / "places.csv", jiangxi_places))
    assert result[:2] == (len(jiangxi_places), 0)
    assert _indexes(store) == before and before
    found, codes = {}, {}
    for place in jiangxi_places:
        hits = search(store, place.name)
        assert place.name in [h["name"] for h in hits]
        codes[place.name] = next(h["code"] for h in hits if h["name"] == place.name)
        found[place.name] = [(h["name"], h["code"]) for h in hits]
    # the box around 江西 reaches into its neighbours: the places inside its polygons get a county of 36
    assert sum(bool(c) and c.startswith("36") for c in codes.values()) > len(codes) / 2
    # the answers do not depend on the batch size: compared with those of the other parameter
    text = repr(sorted((found | {"codes": sorted(codes.items())}).items()))
    first = _ANSWERS.setdefault(_on_postgis(store), text)
    assert first == text


def _rows_csv(path, count, bad_line=None):
    """``count`` names of 南昌 (real county code 360102) as a CSV; the row on ``bad_line`` with a bad class."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "class", "lon", "lat", "code"])
        for i in range(count):
            line = i + 2
            writer.writerow([f"s{i}", f"流{chr(0x4E00 + i)}村", "城市" if line == bad_line else "群众自治组织",
                             115.88 + i / 1e4, 28.68, "360102"])
    return path


def test_the_file_is_read_batch_by_batch_as_it_is_stored(db_url, tmp_path, monkeypatch):
    """The import reads no further into the file than one batch beyond the one it stores (memory does not
    grow with the file; the file is read in a child process while the previous batch is stored): when
    the k-th batch reaches the store, at least its rows and at most the next batch's have been read."""
    monkeypatch.setattr(importers, "IMPORT_BATCH", 5)
    read, seen = multiprocessing.Value("i", 0), []  # counted in the reading process
    row_record = importers._row_record

    def counting(row, source):
        with read.get_lock():
            read.value += 1
        return row_record(row, source)

    monkeypatch.setattr(importers, "_row_record", counting)
    with open_name_store(db_url) as store:
        upsert = store.upsert

        def storing(records):
            seen.append((len(records), read.value))
            return upsert(records)

        store.upsert = storing
        assert import_names(store, _rows_csv(tmp_path / "n.csv", 23))[:2] == (23, 0)
        assert [size for size, _ in seen] == [5, 5, 5, 5, 3]
        for k, (_, rows_read) in enumerate(seen, start=1):
            assert min(23, 5 * k) <= rows_read <= min(23, 5 * (k + 1)), seen
        assert [h["name"] for h in search(store, "流丁村")] == ["流丁村"]


def test_on_one_core_the_file_is_read_in_the_importing_process(db_url, tmp_path, monkeypatch):
    """With one core there is no reading process: each batch is read as it is stored, the same names."""
    monkeypatch.setattr(importers, "IMPORT_BATCH", 5)
    monkeypatch.setattr(importers.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    read, seen = [0], []
    row_record = importers._row_record

    def counting(row, source):
        read[0] += 1
        return row_record(row, source)

    monkeypatch.setattr(importers, "_row_record", counting)
    with open_name_store(db_url) as store:
        upsert = store.upsert

        def storing(records):
            seen.append((len(records), read[0]))
            return upsert(records)

        store.upsert = storing
        assert import_names(store, _rows_csv(tmp_path / "n.csv", 23))[:2] == (23, 0)
        assert seen == [(5, 5), (5, 10), (5, 15), (5, 20), (3, 23)]
        assert [h["name"] for h in search(store, "流丁村")] == ["流丁村"]


def test_a_bad_row_after_stored_batches_stores_nothing(db_url, tmp_path, monkeypatch):
    """A bad row in the fourth batch: the batches already stored are rolled back, every bad row is reported
    with its line, and a good import of the same store works afterwards."""
    monkeypatch.setattr(importers, "IMPORT_BATCH", 5)
    with open_name_store(db_url) as store:
        store.init()
        with pytest.raises(ImportRowsError) as caught:
            import_names(store, _rows_csv(tmp_path / "bad.csv", 23, bad_line=19))
        assert [line for line, _ in caught.value.problems] == [19]
        assert "census classes" in caught.value.problems[0][1]
        assert search(store, "流一村") == [] and len(store.all_names()) == 0
        assert import_names(store, _rows_csv(tmp_path / "good.csv", 23))[:2] == (23, 0)
        assert [h["name"] for h in search(store, "流一村")] == ["流一村"]


def test_an_error_reading_the_file_after_stored_batches_stores_nothing(db_url, tmp_path, monkeypatch):
    """An error while reading the fourth batch (in the process that reads the file) is raised by the import
    as reading in the importing process would raise it, the batches already stored are rolled back, and
    a good import works afterwards; a failure storing a batch stops the reader (the import returns)."""
    monkeypatch.setattr(importers, "IMPORT_BATCH", 5)
    row_record = importers._row_record

    def failing(row, source):
        if row["id"] == "s17":
            raise OSError("the disk went away")
        return row_record(row, source)

    with open_name_store(db_url) as store:
        store.init()
        monkeypatch.setattr(importers, "_row_record", failing)
        with pytest.raises(OSError, match="the disk went away"):
            import_names(store, _rows_csv(tmp_path / "bad.csv", 23))
        assert search(store, "流一村") == [] and len(store.all_names()) == 0
        monkeypatch.setattr(importers, "_row_record", row_record)
        upsert, calls = store.upsert, []

        def failing_store(records):
            calls.append(len(records))
            if len(calls) == 2:
                raise RuntimeError("the store failed")
            return upsert(records)

        store.upsert = failing_store
        with pytest.raises(RuntimeError, match="the store failed"):
            import_names(store, _rows_csv(tmp_path / "good.csv", 23))
        assert calls == [5, 5] and len(store.all_names()) == 0
        store.upsert = upsert
        assert import_names(store, _rows_csv(tmp_path / "good.csv", 23))[:2] == (23, 0)
        assert [h["name"] for h in search(store, "流一村")] == ["流一村"]
        assert not multiprocessing.active_children()  # no reader left behind


def test_names_updated_and_renamed_by_later_batches_of_a_first_import(db_url, tmp_path, monkeypatch, request):
    """A file that gives a name twice (moved: the same id and name; renamed: the same id, a new name) in
    batches after the first: imported into an empty gazetteer (the bulk load) it answers as imported into
    one that already holds a name (row by row through the indexes)."""
    monkeypatch.setattr(importers, "IMPORT_BATCH", 5)
    path = _rows_csv(tmp_path / "n.csv", 18)
    with path.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["s2", "流丂村", "群众自治组织", 116.2, 28.9, "360102"],   # moved
                                 ["s3", "新名村", "群众自治组织", 115.9, 28.68, "360102"]])  # renamed (流七村)
    answers = []
    backend = "postgis" if db_url.startswith("postgresql") else "gpkg"
    (tmp_path / "other").mkdir()
    for first in (False, True):
        with empty_database(request, backend, tmp_path / "other") as other, \
                open_name_store(db_url if first else other) as store:
            store.init()
            if not first:  # not empty: no bulk load
                import_names(store, _rows_csv(tmp_path / "one.csv", 1))
            assert import_names(store, path)[:2] == (19, 1)
            found = {}
            for query, options in (("流丂村", {}), ("新名村", {}), ("流七村", {}), ("流七村", {"at": "2000-01-01"}),
                                   ("流", {"near": (116.2, 28.9)}), ("lzc", {}), ("xmc", {})):
                found[query + repr(options)] = [(h["name"], h["lon"], h["status"]) for h in search(store, query,
                                                                                                     **options)]
            answers.append(found)
    assert answers[0] == answers[1]
    assert answers[1]["流丂村{}"][0] == ("流丂村", 116.2, "current")
    assert "流七村" not in [name for name, _, _ in answers[1]["流七村{}"]]
    assert answers[1]["流七村{'at': '2000-01-01'}"][0] == ("流七村", pytest.approx(115.8803), "historical")
    assert answers[1]["新名村{}"][0][:2] == ("新名村", 115.9)


def _key_tables(store) -> list:
    """Both key tables' rows in the order they were written."""
    return [store._rows(f"SELECT {columns} FROM {table} ORDER BY ctid") for table, columns in (
        ("name_keys", "key, kind, name_id, klass, code, current, valid_from, valid_to, cell"),
        ("name_grams", "gram, klass, code, name_id, current, valid_from, valid_to, cell"))]


def test_postgis_writes_the_key_rows_as_copy_text_that_row_by_row_writes(request, jiangxi_divisions, jiangxi_places,
                                                                         tmp_path, monkeypatch):
    """On PostGIS the key rows go to COPY as text made per name: the key tables hold the same rows in the
    same order as when psycopg writes them row by row (江西's GeoNames places, in batches of 40, given the
    county their point lies in); a batch holding a name with a backslash (which the text format must escape) goes row
    by row, and that name is found (another's tab is stored as it is)."""
    places = _csv(tmp_path / "places.csv", jiangxi_places)
    with places.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["x1", "石\\门村", "群众自治组织", 115.9, 28.7, ""],
                                 ["x2", "新\t村", "群众自治组织", 115.8, 28.6, ""]])
    monkeypatch.setattr(importers, "IMPORT_BATCH", 40)
    written, calls = [], []
    import placenames.postgis as postgis

    copy_texts = postgis.key_copy_texts
    for by_text in (True, False):
        monkeypatch.setattr(postgis, "key_copy_texts",
                            (lambda stored: calls.append(copy_texts(stored)) or calls[-1]) if by_text else
                            (lambda stored: None))
        (tmp_path / str(by_text)).mkdir()
        with empty_database(request, "postgis", tmp_path / str(by_text)) as url, open_name_store(url) as store:
            store.init()
            with store.write():
                store.put_divisions(jiangxi_divisions)
            assert import_names(store, places)[:2] == (len(jiangxi_places) + 2, 0)
            written.append(_key_tables(store))
            assert [h["name"] for h in search(store, "石\\门村")][:1] == ["石\\门村"]
            assert store._rows("SELECT name FROM names WHERE source_id = 'x2'") == [("新\t村",)]
    assert written[0] == written[1]
    assert sum(len(table) for table in written[0]) > 10 * len(jiangxi_places)
    assert sum(row[4].startswith("36") for row in written[0][0]) > len(written[0][0]) / 2  # codes of 江西
    # every batch as text but the last (the backslash and the tab; the tab alone in a batch of its own if
    # the backslash ends the one before)
    assert [c is None for c in calls[:-2]] == [False] * (len(calls) - 2) and calls[-1] is None


def test_the_key_rows_order_is_pythons_sorted_order_of_their_keys():
    """key_order (Arrow's stable sort of UTF-8 bytes) puts the keys and grams of GeoNames' Chinese places, and
    keys beyond the Basic Multilingual Plane, accented or with a lone surrogate (which UTF-8 cannot hold),
    where Python's stable ``sorted`` puts them: the rows of one key in name order."""
    from placenames.store import key_order, search_keys
    from tests.placenames.conftest import geonames_cities

    keys = []
    for record in geonames_cities():
        record_keys, grams = search_keys(record)
        keys += [key for key, _ in sorted(record_keys)] + sorted(grams)
    assert len(keys) > 20_000 and len(set(keys)) < len(keys)
    expected = sorted(range(len(keys)), key=keys.__getitem__)
    assert key_order(keys) == expected
    odd = ["𠀾村", "lǘ", "lü", "新村", "𠀾", "zz", "新"]
    assert [odd[i] for i in key_order(odd)] == ["lü", "lǘ", "zz", "新", "新村", "𠀾", "𠀾村"]
    surrogate = ["b", "a\ud800", "a", "a\ud800"]
    assert key_order(surrogate) == [2, 1, 3, 0]



@pytest.mark.parametrize("collector_on", [True, False])
def test_an_import_collects_every_few_batches_and_leaves_the_collector_as_it_was(
        db_url, tmp_path, monkeypatch, collector_on):
    """Python's cyclic garbage collector is paused during an import, which collects every few batches of
    rows instead — of bad rows too, which build no batch — so that whatever cycles the rows leave are freed
    as the file is read, not after it; afterwards the collector is on or off as it was before (`quhua
    check` turns it off) and nothing is left frozen."""
    monkeypatch.setattr(importers, "IMPORT_BATCH", 5)
    monkeypatch.setattr(importers, "_COLLECT_EVERY", 2)
    monkeypatch.setattr(importers.os, "sched_getaffinity", lambda pid: {0}, raising=False)  # read here
    path = _rows_csv(tmp_path / "bad.csv", 40)
    rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([rows[0], *[row.replace(",115.88", ",东经115.88") for row in rows[1:31]], *rows[31:]])
                    + "\n", encoding="utf-8")
    runs = []

    def count(phase, info):
        if phase == "stop" and info["generation"] == 2:
            runs.append(info["collected"])

    was = gc.isenabled()
    (gc.enable if collector_on else gc.disable)()
    try:
        with open_name_store(db_url) as store, pytest.raises(ImportRowsError) as caught:
            store.init()
            gc.callbacks.append(count)  # the import's collections alone
            try:
                import_names(store, path)
            finally:
                gc.callbacks.remove(count)
        during = len(runs)
        assert (gc.isenabled(), gc.get_freeze_count()) == (collector_on, 0)
    finally:
        (gc.enable if was else gc.disable)()
    assert [line for line, _ in caught.value.problems] == list(range(2, 32))
    assert "decimal degrees" in caught.value.problems[0][1]
    assert during >= 40 // 10  # a collection every 10 rows read
